/* Remoting commands and frames: framing.md worked examples byte for byte,
 * both header encodings, split and joined reads, malformed input, ACL
 * signatures (client-behaviour.md §15 worked examples). */
#include "client/acl.h"
#include "codec/cmd.h"
#include "codec/jstr.h"
#include "test.h"

#include <stdlib.h>

static const uint8_t route_req_json[] = {0x00, 0x00, 0x00, 0x88, 0x00, 0x00,
                                         0x00, 0x84, '{',  '"',  'c',  'o',
                                         'd',  'e',  '"',  ':'};
static const char route_req_json_hdr[] =
    "{\"code\":105,\"extFields\":{\"topic\":\"TopicTest\"},\"flag\":0,"
    "\"language\":\"OTHER\",\"opaque\":7,\"serializeTypeCurrentRPC\":\"JSON\","
    "\"version\":475}";

static const uint8_t route_req_rmq[] = {
    0x00, 0x00, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x00, 0x69,
    0x07, 0x01, 0xdb, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00,
    0x05, 't',  'o',  'p',  'i',  'c',  0x00, 0x00, 0x00, 0x09,
    'T',  'o',  'p',  'i',  'c',  'T',  'e',  's',  't'};

static void route_req(rmqi_cmd_t *c) {
  rmqi_cmd_init(c, 105);
  c->opaque = 7;
  rmqi_cmd_ext_ref(c, "topic", "TopicTest", 9);
}

TEST(json_request_matches_framing_md) {
  rmqi_cmd_t c;
  route_req(&c);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  CHECK_ERR(rmqi_cmd_encode(&b, &c, RMQI_SER_JSON), RMQ_OK);
  CHECK_UINT(b.len, 140);
  CHECK_MEM(b.data, 16, route_req_json, 16);
  CHECK_MEM(b.data + 8, b.len - 8, route_req_json_hdr,
            sizeof(route_req_json_hdr) - 1);
  rmqi_cmd_free(&c);
  rmqi_buf_free(&b);
}

TEST(rocketmq_request_matches_framing_md) {
  rmqi_cmd_t c;
  route_req(&c);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  CHECK_ERR(rmqi_cmd_encode(&b, &c, RMQI_SER_ROCKETMQ), RMQ_OK);
  CHECK_MEM(b.data, b.len, route_req_rmq, sizeof(route_req_rmq));
  rmqi_cmd_free(&c);
  rmqi_buf_free(&b);
}

static void check_route_req(const rmqi_cmd_t *d) {
  CHECK_INT(d->code, 105);
  CHECK_INT(d->opaque, 7);
  CHECK_INT(d->flag, 0);
  CHECK_INT(d->version, 475);
  CHECK_INT(d->lang, RMQI_LANG_OTHER);
  CHECK(d->remark.p == NULL);
  const rmqi_str_t *t = rmqi_cmd_ext_get(d, "topic");
  REQUIRE(t != NULL);
  CHECK_STR(t->p, "TopicTest");
  CHECK(d->body == NULL);
}

TEST(both_encodings_decode) {
  rmqi_cmd_t c, d;
  route_req(&c);
  for (int ser = 0; ser < 2; ser++) {
    rmqi_buf_t b;
    rmqi_buf_init(&b);
    REQUIRE(rmqi_cmd_encode(&b, &c, ser) == RMQ_OK);
    rmqi_errbuf_t e;
    CHECK_ERR(rmqi_cmd_decode(&d, b.data, b.len, &e), RMQ_OK);
    CHECK_INT(d.ser, ser);
    check_route_req(&d);
    rmqi_cmd_free(&d);
    rmqi_buf_free(&b);
  }
  rmqi_cmd_free(&c);
}

TEST(escapes_and_unicode_round_trip) {
  static const char remark[] = "quote\" back\\ ctl\x01\x7f nl\n tab\t "
                               "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80";
  static const char props[] = "TAGS\x01TagA\x02UNIQ_KEY\x01X\x02";
  static const uint8_t body[] = {0, 1, 2, 0xff};
  rmqi_cmd_t c, d;
  rmqi_cmd_init(&c, 17);
  c.flag = RMQI_FLAG_RESPONSE;
  c.opaque = -5;
  rmqi_cmd_set_remark(&c, remark, sizeof(remark) - 1);
  rmqi_cmd_ext_ref(&c, "i", props, sizeof(props) - 1);
  rmqi_cmd_ext_int(&c, "g", INT64_MIN);
  rmqi_cmd_ext_bool(&c, "k", true);
  c.body = body;
  c.body_len = sizeof(body);
  for (int ser = 0; ser < 2; ser++) {
    rmqi_buf_t b;
    rmqi_buf_init(&b);
    REQUIRE(rmqi_cmd_encode(&b, &c, ser) == RMQ_OK);
    if (ser == RMQI_SER_JSON) {
      /* fastjson's escapes: upper-case \u00XX for 0x01 and 0x7F. */
      CHECK(memmem(b.data, b.len, "ctl\\u0001\\u007F nl\\n tab\\t", 26));
      CHECK(memmem(b.data, b.len, "quote\\\" back\\\\", 14));
    }
    CHECK_ERR(rmqi_cmd_decode(&d, b.data, b.len, NULL), RMQ_OK);
    CHECK_MEM(d.remark.p, d.remark.n, remark, sizeof(remark) - 1);
    const rmqi_str_t *v = rmqi_cmd_ext_get(&d, "i");
    REQUIRE(v != NULL);
    CHECK_MEM(v->p, v->n, props, sizeof(props) - 1);
    int64_t g;
    CHECK_ERR(rmqi_cmd_ext_get_int(&d, "g", &g), RMQ_OK);
    CHECK(g == INT64_MIN);
    CHECK_STR(rmqi_cmd_ext_get(&d, "k")->p, "true");
    CHECK_ERR(rmqi_cmd_ext_get_int(&d, "k", &g), RMQ_ERR_BAD_HEADER);
    CHECK_ERR(rmqi_cmd_ext_get_int(&d, "zz", &g), RMQ_ERR_NOT_FOUND);
    CHECK_INT(d.opaque, -5);
    CHECK(rmqi_cmd_is_response(&d));
    CHECK_MEM(d.body, d.body_len, body, sizeof(body));
    rmqi_cmd_free(&d);
    rmqi_buf_free(&b);
  }
  rmqi_cmd_free(&c);
}

static size_t frame_of(uint8_t *out, const char *hdr) {
  size_t h = strlen(hdr);
  rmqi_store_be32(out, (uint32_t)(4 + h));
  rmqi_store_be32(out + 4, (uint32_t)h);
  memcpy(out + 8, hdr, h);
  return 8 + h;
}

TEST(json_header_tolerance_like_fastjson) {
  uint8_t f[512];
  rmqi_cmd_t d;
  /* Language as an ordinal, numbers as strings, unknown keys (nested),
   * whitespace, missing keys defaulting, unsorted order, null remark. */
  size_t n =
      frame_of(f, " { \"opaque\" : \"12\", \"language\":9, "
                  "\"weird\":{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\"},"
                  "\"e\":{},\"f\":[],\"g\":[[],{}],\"h\":-1.5e3,"
                  "\"code\":\"0\",\"remark\":null,\"flag\":1 } ");
  CHECK_ERR(rmqi_cmd_decode(&d, f, n, NULL), RMQ_OK);
  CHECK_INT(d.opaque, 12);
  CHECK_INT(d.lang, RMQI_LANG_GO);
  CHECK_INT(d.version, 0);
  CHECK_INT(d.flag, 1);
  CHECK(d.remark.p == NULL);
  rmqi_cmd_free(&d);
  /* Numeric ext values (Java maps them to strings). */
  n = frame_of(f, "{\"code\":0,\"extFields\":{\"queueId\":3,\"x\":true,"
                  "\"n\":null}}");
  CHECK_ERR(rmqi_cmd_decode(&d, f, n, NULL), RMQ_OK);
  CHECK_STR(rmqi_cmd_ext_get(&d, "queueId")->p, "3");
  CHECK(rmqi_cmd_ext_get(&d, "n") == NULL);
  rmqi_cmd_free(&d);
}

TEST(malformed_headers_fail_cleanly) {
  static const char *const bad[] = {
      "",
      "{",
      "{\"code\":1",
      "{\"code\":1,}",
      "{\"code\":x}",
      "{\"code\":99999999999}",
      "{\"code\":1} x",
      "{\"language\":\"KLINGON\"}",
      "{\"language\":99}",
      "{\"remark\":\"\\ud800\"}",
      "{\"remark\":\"\\udc00x\"}",
      "{\"remark\":\"\\u12\"}",
      "{\"remark\":\"\\q\"}",
      "{\"remark\":\"raw\x01\"}",
      "{\"remark\":\"unterminated}",
      "{\"extFields\":{\"a\":{\"b\":1}}}",
      "{\"extFields\":{1:\"a\"}}",
      "{\"extFields\":[]}",
      ("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]"
       "]]]"
       "]]]]]]]]]]]]]]]}"),
      "{\"x\":]}",
      /* Unknown fields are skipped, but still have to be JSON. */
      "{\"x\":[1 2]}",
      "{\"x\":[1,]}",
      "{\"x\":{1:2}}",
      "{\"x\":{\"a\" 1}}",
      "{\"x\":{\"a\":1,}}",
      "{\"x\":{\"a\"}}",
      "{\"x\":[}",
      "{\"x\":{]}",
      "{\"x\":[1]]}",
      "{\"x\":,}",
      "{\"x\":01x}",
      "[]",
  };
  uint8_t f[1024];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t n = frame_of(f, bad[i]);
    rmqi_cmd_t d;
    rmqi_errbuf_t e;
    rmqi_errbuf_clear(&e);
    rmq_err_t rc = rmqi_cmd_decode(&d, f, n, &e);
    if (rc == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted bad header #%zu: %s", i, bad[i]);
      rmqi_cmd_free(&d);
    } else if (e.msg[0] == '\0') {
      rmqt_fail(__FILE__, __LINE__, "no message for bad header #%zu", i);
    }
  }
}

TEST(malformed_rocketmq_headers_fail_cleanly) {
  /* Every truncation of a valid header, and inflated inner lengths. */
  rmqi_cmd_t c, d;
  route_req(&c);
  rmqi_cmd_set_remark(&c, "hi", 2);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  REQUIRE(rmqi_cmd_encode(&b, &c, RMQI_SER_ROCKETMQ) == RMQ_OK);
  size_t hlen = b.len - 8;
  uint8_t f[256];
  for (size_t cut = 0; cut < hlen; cut++) {
    memcpy(f, b.data, b.len);
    rmqi_store_be32(f, (uint32_t)(4 + cut));
    rmqi_store_be32(f + 4, 1u << 24 | (uint32_t)cut);
    if (rmqi_cmd_decode(&d, f, 8 + cut, NULL) == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted header cut at %zu", cut);
      rmqi_cmd_free(&d);
    }
  }
  static const size_t len_fields[] = {13, 19, 23}; /* remark, ext, key */
  for (size_t k = 0; k < 3; k++) {
    memcpy(f, b.data, b.len);
    size_t off = 8 + len_fields[k];
    if (k == 2)
      rmqi_store_be16(f + off, 0x7FFF);
    else
      rmqi_store_be32(f + off, 0x7FFFFFF0);
    if (rmqi_cmd_decode(&d, f, b.len, NULL) == RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "accepted inflated length %zu", k);
      rmqi_cmd_free(&d);
    }
  }
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
}

TEST(frame_check_limits_before_allocation) {
  uint8_t f[16] = {0};
  size_t fl;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_frame_check(f, 3, 1024, &fl, &e), RMQ_ERR_TRUNCATED);
  rmqi_store_be32(f, 0x7FFFFFFF);
  CHECK_ERR(rmqi_frame_check(f, 4, RMQI_DEFAULT_MAX_FRAME, &fl, &e),
            RMQ_ERR_FRAME_TOO_LARGE);
  CHECK_STR(e.msg, "frame length 2147483647 exceeds the maximum 16777216");
  rmqi_store_be32(f, 3);
  CHECK_ERR(rmqi_frame_check(f, 8, 1024, &fl, &e), RMQ_ERR_BAD_FRAME);
  rmqi_store_be32(f, 10);
  rmqi_store_be32(f + 4, 2u << 24);
  CHECK_ERR(rmqi_frame_check(f, 8, 1024, &fl, &e), RMQ_ERR_BAD_FRAME);
  rmqi_store_be32(f + 4, 7);
  CHECK_ERR(rmqi_frame_check(f, 8, 1024, &fl, &e), RMQ_ERR_BAD_FRAME);
  rmqi_store_be32(f + 4, 6);
  CHECK_ERR(rmqi_frame_check(f, 8, 1024, &fl, &e), RMQ_ERR_TRUNCATED);
  CHECK_UINT(fl, 14);
}

TEST(split_and_joined_frames_at_every_point) {
  rmqi_cmd_t c;
  route_req(&c);
  rmqi_buf_t two;
  rmqi_buf_init(&two);
  rmqi_cmd_encode(&two, &c, RMQI_SER_JSON);
  c.opaque = 8;
  rmqi_cmd_encode(&two, &c, RMQI_SER_ROCKETMQ);
  for (size_t split = 0; split <= two.len; split++) {
    /* Feed the first `split` bytes, then the rest, as a reader would. */
    rmqi_buf_t acc;
    rmqi_buf_init(&acc);
    int got = 0;
    for (int step = 0; step < 2; step++) {
      if (step == 0)
        rmqi_buf_put(&acc, two.data, split);
      else
        rmqi_buf_put(&acc, two.data + split, two.len - split);
      size_t fl;
      while (rmqi_frame_check(acc.data, acc.len, 1 << 20, &fl, NULL) ==
             RMQ_OK) {
        rmqi_cmd_t d;
        if (rmqi_cmd_decode(&d, acc.data, fl, NULL) == RMQ_OK) {
          CHECK_INT(d.opaque, 7 + got);
          got++;
          rmqi_cmd_free(&d);
        }
        rmqi_buf_consume(&acc, fl);
      }
    }
    if (got != 2)
      rmqt_fail(__FILE__, __LINE__, "split at %zu decoded %d frames", split,
                got);
    rmqi_buf_free(&acc);
  }
  rmqi_buf_free(&two);
  rmqi_cmd_free(&c);
}

static bool rmqi_parse_i64_for_test(const char *s, int64_t *out) {
  char *end;
  long long x = strtoll(s, &end, 10);
  *out = x;
  return *s && *end == '\0';
}

TEST(ext_fields_spill_and_limit) {
  rmqi_cmd_t c, moved;
  rmqi_cmd_init(&c, 1);
  for (int i = 0; i < 100; i++)
    CHECK_ERR(rmqi_cmd_ext_int(&c, "dup", i), RMQ_OK);
  CHECK_UINT(c.n_ext, 100);
  int64_t v;
  CHECK_ERR(rmqi_cmd_ext_get_int(&c, "dup", &v), RMQ_OK);
  CHECK_INT(v, 99); /* the last one wins */
  rmqi_cmd_t small;
  rmqi_cmd_init(&small, 2);
  rmqi_cmd_ext_ref(&small, "a", "b", 1);
  rmqi_cmd_ext_int(&small, "n", -42);
  rmqi_cmd_move(&moved, &small);
  CHECK_STR(rmqi_cmd_ext_get(&moved, "a")->p, "b");
  CHECK(moved.ext == moved.ext_inline);
  /* The number's text lives inside the command and moved with it. */
  memset(small.pool, 'x', sizeof(small.pool));
  CHECK_STR(rmqi_cmd_ext_get(&moved, "n")->p, "-42");
  rmqi_cmd_free(&moved);
  rmqi_cmd_free(&small);
  /* Numbers past the inline pool go to the arena; a spilled command
   * moves too. */
  for (int i = 0; i < 40; i++) {
    char k[8]; /* keys are borrowed, values copied */
    snprintf(k, sizeof(k), "k%d", i);
    CHECK_ERR(rmqi_cmd_ext_copy(&c, "k", k, strlen(k)), RMQ_OK);
    CHECK_ERR(rmqi_cmd_ext_int(&c, "big", INT64_MIN + i), RMQ_OK);
  }
  rmqi_cmd_move(&moved, &c);
  memset(c.pool, 'x', sizeof(c.pool));
  CHECK_ERR(rmqi_cmd_ext_get_int(&moved, "big", &v), RMQ_OK);
  CHECK(v == INT64_MIN + 39);
  int seen = 0;
  for (uint32_t i = 0; i < moved.n_ext; i++)
    if (strcmp(moved.ext[i].key.p, "big") == 0) {
      int64_t x;
      CHECK(rmqi_parse_i64_for_test(moved.ext[i].val.p, &x) &&
            x == INT64_MIN + seen);
      seen++;
    }
  CHECK_INT(seen, 40);
  rmqi_cmd_free(&moved);
  rmqi_cmd_free(&c);
  /* A ROCKETMQ code above 16 bits cannot be encoded. */
  rmqi_cmd_init(&c, 200050);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  CHECK_ERR(rmqi_cmd_encode(&b, &c, RMQI_SER_ROCKETMQ), RMQ_ERR_INVALID_ARG);
  CHECK_UINT(b.len, 0);
  CHECK_ERR(rmqi_cmd_encode(&b, &c, RMQI_SER_JSON), RMQ_OK);
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
}

TEST(acl_signatures_match_java) {
  rmqi_acl_t acl = {"rocketmq2", "12345678", NULL};
  rmqi_cmd_t c;
  route_req(&c);
  CHECK_ERR(rmqi_acl_sign(&c, &acl), RMQ_OK);
  CHECK_STR(rmqi_cmd_ext_get(&c, "Signature")->p,
            "GeeGoP9mRvDhoVp4PD5omX0prgE=");
  CHECK_STR(rmqi_cmd_ext_get(&c, "AccessKey")->p, "rocketmq2");
  rmqi_cmd_free(&c);

  static const char props[] = "TAGS\x01TagA\x02WAIT\x01true\x02UNIQ_KEY\x01"
                              "C0A800020D2A18B4AAC2000000000000\x02";
  rmqi_cmd_init(&c, 310);
  /* Insertion order differs from key order on purpose. */
  rmqi_cmd_ext_ref(&c, "n", "broker-a", 8);
  rmqi_cmd_ext_ref(&c, "a", "ProducerGroupA", 14);
  rmqi_cmd_ext_ref(&c, "b", "TopicTest", 9);
  rmqi_cmd_ext_ref(&c, "c", "TBW102", 6);
  rmqi_cmd_ext_ref(&c, "d", "4", 1);
  rmqi_cmd_ext_ref(&c, "e", "0", 1);
  rmqi_cmd_ext_ref(&c, "f", "0", 1);
  rmqi_cmd_ext_ref(&c, "g", "1700000000000", 13);
  rmqi_cmd_ext_ref(&c, "h", "0", 1);
  rmqi_cmd_ext_ref(&c, "i", props, sizeof(props) - 1);
  rmqi_cmd_ext_ref(&c, "j", "0", 1);
  rmqi_cmd_ext_ref(&c, "k", "false", 5);
  rmqi_cmd_ext_ref(&c, "m", "false", 5);
  c.body = (const uint8_t *)"Hello RocketMQ";
  c.body_len = 14;
  CHECK_ERR(rmqi_acl_sign(&c, &acl), RMQ_OK);
  CHECK_STR(rmqi_cmd_ext_get(&c, "Signature")->p,
            "jiCFtyMCiz+SU21jmBRrqskJvbI=");
  rmqi_cmd_free(&c);
}

/* fastjson's escaping, spelled out byte by byte as the reference. */
static size_t ref_escape(char *o, const unsigned char *s, size_t n) {
  size_t k = 0;
  o[k++] = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned c = s[i];
    const char *sh = c == '"'    ? "\\\""
                     : c == '\\' ? "\\\\"
                     : c == '\b' ? "\\b"
                     : c == '\f' ? "\\f"
                     : c == '\n' ? "\\n"
                     : c == '\r' ? "\\r"
                     : c == '\t' ? "\\t"
                                 : NULL;
    if (sh) {
      memcpy(o + k, sh, 2);
      k += 2;
    } else if (c < 0x20 || c == 0x7F) {
      k += (size_t)sprintf(o + k, "\\u%04X", c);
    } else {
      o[k++] = (char)c;
    }
  }
  o[k++] = '"';
  return k;
}

TEST(json_escaping_matches_fastjson_for_every_byte) {
  /* Every byte, alone between letters, then all 256 in one string repeated
   * past the size where the writer switches from direct to run mode. */
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  static unsigned char big[9000];
  static char want[9000 * 6 + 2];
  for (unsigned c = 0; c < 256; c++) {
    unsigned char in[3] = {'a', (unsigned char)c, 'b'};
    rmqi_buf_reset(&b);
    rmqi_json_put_str(&b, (const char *)in, 3);
    size_t wn = ref_escape(want, in, 3);
    CHECK_MEM(b.data, b.len, want, wn);
  }
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (unsigned char)(i * 7);
  const size_t sizes[] = {0, 1, 255, 4096, 4097, sizeof(big)};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    rmqi_buf_reset(&b);
    rmqi_buf_put_u8(&b, 'x'); /* not at offset 0 */
    rmqi_json_put_str(&b, (const char *)big, sizes[k]);
    size_t wn = ref_escape(want, big, sizes[k]);
    REQUIRE(rmqi_buf_ok(&b));
    CHECK_MEM(b.data + 1, b.len - 1, want, wn);
  }
  /* A limited buffer still takes a string whose escaped form fits even
   * though 6 bytes per input byte would not. */
  rmqi_buf_t l;
  rmqi_buf_init(&l);
  l.limit = 64;
  rmqi_json_put_str(&l, "0123456789012345678901234567890123456789", 40);
  CHECK(rmqi_buf_ok(&l));
  CHECK_INT(l.len, 42);
  rmqi_buf_free(&l);
  rmqi_buf_free(&b);
}

TEST(json_escaping_at_every_position_of_a_word) {
  /* The writer goes eight bytes at a time: put every byte at every
   * position of strings that span one to three words, with a second byte
   * to escape after it, and write into a block of exactly the worst-case
   * size so that ASan sees any store past it. */
  char want[24 * 6 + 2];
  unsigned char in[24];
  for (size_t n = 1; n <= sizeof(in); n++) {
    char *out = malloc(6 * n + 2);
    REQUIRE(out != NULL);
    for (size_t pos = 0; pos < n; pos++)
      for (unsigned c = 0; c < 256; c++) {
        memset(in, 'a', n);
        in[pos] = (unsigned char)c;
        if (pos + 3 < n)
          in[pos + 3] = 1; /* \u0001, as a property separator */
        char *end = rmqi_json_put_str_at(out, (const char *)in, n);
        size_t wn = ref_escape(want, in, n);
        CHECK_MEM(out, (size_t)(end - out), want, wn);
      }
    /* Every byte escaped to six: the worst case, exactly. */
    memset(in, 2, n);
    char *end = rmqi_json_put_str_at(out, (const char *)in, n);
    CHECK_INT(end - out, (long)(6 * n + 2));
    free(out);
  }
}

TEST(json_decoder_fast_paths_agree_with_the_general_one) {
  /* Strings of every length up to three words, with an escape at every
   * position or none, as ext keys and values, the remark and the
   * language; numbers in and out of the in-place parser's range. */
  uint8_t f[1024];
  char hdr[900], val[40], want[40];
  rmqi_cmd_t d;
  for (size_t len = 0; len <= 24; len++)
    for (size_t esc = 0; esc <= len; esc++) { /* esc == len: none */
      size_t k = 0, w = 0;
      for (size_t i = 0; i < len; i++) {
        if (i == esc) {
          memcpy(val + k, "\\n", 2);
          k += 2;
          want[w++] = '\n';
        } else {
          val[k++] = (char)('a' + i);
          want[w++] = (char)('a' + i);
        }
      }
      val[k] = want[w] = '\0';
      snprintf(hdr, sizeof(hdr),
               "{\"code\":-17,\"extFields\":{\"%s\":\"%s\",\"k\":\"%s\"},"
               "\"flag\":1,\"language\":\"GO\",\"opaque\":999999999,"
               "\"remark\":\"%s\",\"serializeTypeCurrentRPC\":\"%s\","
               "\"version\":493}",
               val, val, val, val, val);
      size_t n = frame_of(f, hdr);
      REQUIRE(rmqi_cmd_decode(&d, f, n, NULL) == RMQ_OK);
      CHECK_INT(d.code, -17);
      CHECK_INT(d.opaque, 999999999);
      CHECK_INT(d.lang, RMQI_LANG_GO);
      CHECK_INT(d.version, 493);
      REQUIRE(d.n_ext == 2);
      CHECK_MEM(d.ext[0].key.p, d.ext[0].key.n, want, w);
      CHECK_MEM(d.ext[0].val.p, d.ext[0].val.n, want, w);
      CHECK_MEM(d.ext[1].val.p, d.ext[1].val.n, want, w);
      CHECK_MEM(d.remark.p, d.remark.n, want, w);
      CHECK(d.remark.p[d.remark.n] == '\0');
      /* The strings live in the command's inline pool: they move. */
      rmqi_cmd_t m;
      rmqi_cmd_move(&m, &d);
      memset(d.pool, 'x', sizeof(d.pool));
      CHECK_MEM(m.ext[1].val.p, m.ext[1].val.n, want, w);
      CHECK_MEM(m.remark.p, m.remark.n, want, w);
      rmqi_cmd_free(&m);
      rmqi_cmd_free(&d);
    }
  /* Ten digits leave the in-place parser; the limits still hold. */
  static const struct {
    const char *num;
    rmq_err_t rc;
    int32_t v;
  } nums[] = {{"2147483647", RMQ_OK, INT32_MAX},
              {"-2147483648", RMQ_OK, INT32_MIN},
              {"2147483648", RMQ_ERR_BAD_HEADER, 0},
              {"0000000001", RMQ_OK, 1},
              {"-0", RMQ_OK, 0},
              {"7 ", RMQ_OK, 7},
              {"1.0", RMQ_ERR_BAD_HEADER, 0},
              {"1e3", RMQ_ERR_BAD_HEADER, 0},
              {"-", RMQ_ERR_BAD_HEADER, 0},
              {"12a", RMQ_ERR_BAD_HEADER, 0}};
  for (size_t i = 0; i < RMQI_ARRAY_LEN(nums); i++) {
    snprintf(hdr, sizeof(hdr), "{\"opaque\":%s}", nums[i].num);
    size_t n = frame_of(f, hdr);
    CHECK_ERR(rmqi_cmd_decode(&d, f, n, NULL), nums[i].rc);
    if (nums[i].rc == RMQ_OK) {
      CHECK_INT(d.opaque, nums[i].v);
      rmqi_cmd_free(&d);
    }
  }
  /* A header larger than the inline pool puts its strings in the arena,
   * and they stay put when the command moves. */
  char big[700];
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  snprintf(hdr, sizeof(hdr), "{\"code\":1,\"remark\":\"%s\"}", big);
  size_t n = frame_of(f, hdr);
  REQUIRE(rmqi_cmd_decode(&d, f, n, NULL) == RMQ_OK);
  CHECK(d.remark.p < d.pool || d.remark.p >= d.pool + sizeof(d.pool));
  rmqi_cmd_t m;
  rmqi_cmd_move(&m, &d);
  CHECK_STR(m.remark.p, big);
  rmqi_cmd_free(&m);
  rmqi_cmd_free(&d);
}

TEST(json_header_larger_than_one_reservation) {
  /* Worst cases over 256 KiB skip the reservation up front: strings go
   * through the buffer writer (runs for the 200 KB one). The header
   * decodes back to the same strings. */
  size_t big_n = 200000;
  char *big = malloc(big_n);
  REQUIRE(big != NULL);
  for (size_t i = 0; i < big_n; i++)
    big[i] = (char)(i % 3 == 0 ? 1 : 'a' + i % 26);
  rmqi_cmd_t c, d;
  rmqi_cmd_init(&c, 310);
  rmqi_cmd_ext_ref(&c, "small", "x\"y", 3);
  rmqi_cmd_ext_ref(&c, "big", big, big_n);
  REQUIRE(rmqi_cmd_set_remark(&c, big, 5000) == RMQ_OK);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  REQUIRE(rmqi_cmd_encode(&b, &c, RMQI_SER_JSON) == RMQ_OK);
  REQUIRE(rmqi_cmd_decode(&d, b.data, b.len, NULL) == RMQ_OK);
  CHECK_MEM(rmqi_cmd_ext_get(&d, "big")->p, rmqi_cmd_ext_get(&d, "big")->n, big,
            big_n);
  CHECK_STR(rmqi_cmd_ext_get(&d, "small")->p, "x\"y");
  CHECK_MEM(d.remark.p, d.remark.n, big, 5000);
  rmqi_cmd_free(&d);
  /* A buffer with a limit that the worst case passes but the header fits:
   * encoding still succeeds; one it does not fit fails cleanly. */
  rmqi_cmd_t s;
  rmqi_cmd_init(&s, 1);
  rmqi_cmd_ext_ref(&s, "k", "0123456789012345678901234567890123456789", 40);
  rmqi_buf_t l;
  rmqi_buf_init(&l);
  l.limit = 200;
  CHECK_ERR(rmqi_cmd_encode(&l, &s, RMQI_SER_JSON), RMQ_OK);
  REQUIRE(rmqi_cmd_decode(&d, l.data, l.len, NULL) == RMQ_OK);
  CHECK_INT(rmqi_cmd_ext_get(&d, "k")->n, 40);
  rmqi_cmd_free(&d);
  rmqi_buf_free(&l);
  rmqi_buf_init(&l);
  l.limit = 100;
  CHECK(rmqi_cmd_encode(&l, &s, RMQI_SER_JSON) != RMQ_OK);
  rmqi_buf_free(&l);
  rmqi_cmd_free(&s);
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
  free(big);
}

TEST(rocketmq_decoded_strings_move) {
  uint8_t f[128];
  rmqi_cmd_t d, m;
  memcpy(f, route_req_rmq, sizeof(route_req_rmq));
  REQUIRE(rmqi_cmd_decode(&d, f, sizeof(route_req_rmq), NULL) == RMQ_OK);
  rmqi_cmd_move(&m, &d);
  memset(d.pool, 'x', sizeof(d.pool));
  memset(f, 'y', sizeof(f));
  CHECK_STR(rmqi_cmd_ext_get(&m, "topic")->p, "TopicTest");
  rmqi_cmd_free(&m);
  rmqi_cmd_free(&d);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(json_request_matches_framing_md),
      TCASE(rocketmq_request_matches_framing_md),
      TCASE(both_encodings_decode),
      TCASE(escapes_and_unicode_round_trip),
      TCASE(json_header_tolerance_like_fastjson),
      TCASE(malformed_headers_fail_cleanly),
      TCASE(malformed_rocketmq_headers_fail_cleanly),
      TCASE(frame_check_limits_before_allocation),
      TCASE(split_and_joined_frames_at_every_point),
      TCASE(ext_fields_spill_and_limit),
      TCASE(acl_signatures_match_java),
      TCASE(json_escaping_matches_fastjson_for_every_byte),
      TCASE(json_escaping_at_every_position_of_a_word),
      TCASE(json_decoder_fast_paths_agree_with_the_general_one),
      TCASE(json_header_larger_than_one_reservation),
      TCASE(rocketmq_decoded_strings_move),
  };
  return RUN_TESTS(cases);
}

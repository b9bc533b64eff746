/* Batch bodies: message.md's two-entry example byte for byte, Java's
 * batch_* vectors decoded and re-encoded, every truncation, 5.x inner
 * batches unwrapped. */
#include "codec/batch.h"
#include "util/endian.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>

static const uint8_t example[] = {
    0x00, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 'A',  0x00, 0x0a, 'W',
    'A',  'I',  'T',  0x01, 't',  'r',  'u',  'e',  0x02, 0x00, 0x00, 0x00,
    0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 'B',  'C',  0x00, 0x07, 'T',  'A',  'G',
    'S',  0x01, 'T',  0x02};

TEST(worked_example_encodes_and_decodes) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_batch_put(&b, 0, (const uint8_t *)"A", 1, "WAIT\1true\2", 10);
  rmqi_batch_put(&b, 0, (const uint8_t *)"BC", 2, "TAGS\1T\2", 7);
  REQUIRE(rmqi_buf_ok(&b));
  CHECK_MEM(b.data, b.len, example, sizeof(example));
  rmqi_buf_free(&b);
  rmqi_batch_entry_t m;
  size_t next;
  rmqi_errbuf_t e;
  REQUIRE(rmqi_batch_decode(example, sizeof(example), &m, &next, &e) ==
          RMQ_OK);
  CHECK_UINT(next, 0x21);
  CHECK_MEM(m.body, m.body_len, "A", 1);
  CHECK_MEM(m.props, m.props_len, "WAIT\1true\2", 10);
  REQUIRE(rmqi_batch_decode(example + next, sizeof(example) - next, &m, &next,
                            &e) == RMQ_OK);
  CHECK_UINT(next, 0x1f);
  CHECK_MEM(m.body, m.body_len, "BC", 2);
  CHECK_MEM(m.props, m.props_len, "TAGS\1T\2", 7);
}

TEST(broken_entries_end_the_walk) {
  rmqi_batch_entry_t m;
  size_t next = 99;
  rmqi_errbuf_t e;
  for (size_t cut = 0; cut < 0x21; cut++) {
    if (rmqi_batch_decode(example, cut, &m, &next, &e) == RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "accepted %zu of 33 bytes", cut);
    CHECK_UINT(next, 0);
  }
  uint8_t buf[sizeof(example)];
  memcpy(buf, example, sizeof(buf));
  rmqi_store_be32(buf, 0x22); /* TOTALSIZE disagrees with the fields */
  CHECK_ERR(rmqi_batch_decode(buf, sizeof(buf), &m, &next, &e),
            RMQ_ERR_BAD_MESSAGE);
  CHECK(strstr(e.msg, "disagrees") != NULL);
  memcpy(buf, example, sizeof(buf));
  rmqi_store_be32(buf + 16, 0xFFFFFFF0u); /* body length past the end */
  CHECK_ERR(rmqi_batch_decode(buf, sizeof(buf), &m, &next, &e),
            RMQ_ERR_BAD_MESSAGE);
  memcpy(buf, example, sizeof(buf));
  rmqi_store_be16(buf + 21, 0x8000); /* negative properties length */
  CHECK_ERR(rmqi_batch_decode(buf, sizeof(buf), &m, &next, &e),
            RMQ_ERR_BAD_MESSAGE);
  CHECK(strstr(e.msg, "negative") != NULL);
  memcpy(buf, example, sizeof(buf));
  rmqi_store_be16(buf + 21, 0x0B); /* properties length past the end */
  CHECK_ERR(rmqi_batch_decode(buf, 0x21, &m, &next, &e), RMQ_ERR_BAD_MESSAGE);
  static const uint8_t zeros[22];
  CHECK_ERR(rmqi_batch_decode(zeros, sizeof(zeros), &m, &next, &e),
            RMQ_ERR_BAD_MESSAGE); /* TOTALSIZE 0: no endless loop */
  CHECK_UINT(next, 0);
}

static void check_vector(const char *ver, const rmqt_vec *v) {
  long long count = rmqt_vec_int(v, "count", -1);
  size_t pos = 0;
  rmqi_buf_t re;
  rmqi_buf_init(&re);
  for (long long i = 0; i < count; i++) {
    rmqi_batch_entry_t m;
    size_t next;
    rmqi_errbuf_t e;
    if (rmqi_batch_decode(v->bin + pos, v->bin_len - pos, &m, &next, &e) !=
        RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "%s/%s entry %lld: %s", ver, v->name, i,
                e.msg);
      break;
    }
    char key[64];
    snprintf(key, sizeof(key), "msg.%lld.flag", i);
    CHECK_INT(m.flag, rmqt_vec_int(v, key, -1));
    size_t bl, pl;
    snprintf(key, sizeof(key), "msg.%lld.body.hex", i);
    uint8_t *body = rmqt_vec_hex(v, key, &bl);
    snprintf(key, sizeof(key), "msg.%lld.props.hex", i);
    uint8_t *props = rmqt_vec_hex(v, key, &pl);
    REQUIRE(body != NULL && props != NULL);
    CHECK_MEM(m.body, m.body_len, body, bl);
    CHECK_MEM(m.props, m.props_len, props, pl);
    rmqi_batch_put(&re, m.flag, body, bl, (const char *)props, pl);
    free(body);
    free(props);
    pos += next;
  }
  CHECK_UINT(pos, v->bin_len);
  REQUIRE(rmqi_buf_ok(&re));
  CHECK_MEM(re.data, re.len, v->bin, v->bin_len); /* Java's bytes exactly */
  rmqi_buf_free(&re);
}

TEST(java_batches_decode_and_reencode_exactly) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "batch_");
    int n = 0;
    for (char **c = cases; c && *c; c++, n++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      REQUIRE(v != NULL && v->bin != NULL);
      check_vector(*ver, v);
      rmqt_vec_free(v);
    }
    if (n == 0)
      rmqt_fail(__FILE__, __LINE__, "%s has no batch_* vectors", *ver);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(vers);
}

/* An IPv4 stored record (message.md §6) around @p body. */
static size_t make_record(uint8_t *out, int32_t sysflag, const uint8_t *body,
                          size_t body_len) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_buf_put_be32(&b, 0);
  rmqi_buf_put_be32(&b, (uint32_t)RMQI_MAGIC_V1);
  rmqi_buf_put_be32(&b, 0);       /* CRC */
  rmqi_buf_put_be32(&b, 3);       /* queue id */
  rmqi_buf_put_be32(&b, 0);       /* flag */
  rmqi_buf_put_be64(&b, 100);     /* queue offset */
  rmqi_buf_put_be64(&b, 0x5000);  /* commit-log offset */
  rmqi_buf_put_be32(&b, (uint32_t)sysflag);
  rmqi_buf_put_be64(&b, 1700000000000ULL);
  rmqi_buf_put(&b, "\xc0\xa8\x00\x02\x00\x00\xd4\x31", 8);
  rmqi_buf_put_be64(&b, 1700000000005ULL);
  rmqi_buf_put(&b, "\xc0\xa8\x00\x0a\x00\x00\x2a\x9f", 8);
  rmqi_buf_put_be32(&b, 0);       /* reconsume times */
  rmqi_buf_put_be64(&b, 0);       /* prepared tx offset */
  rmqi_buf_put_be32(&b, (uint32_t)body_len);
  rmqi_buf_put(&b, body, body_len);
  rmqi_buf_put_u8(&b, 1);
  rmqi_buf_put(&b, "T", 1);
  rmqi_buf_put_be16(&b, 0);
  rmqi_store_be32(b.data, (uint32_t)b.len);
  size_t n = b.len;
  memcpy(out, b.data, n);
  rmqi_buf_free(&b);
  return n;
}

TEST(inner_batches_unwrap_like_java) {
  uint8_t rec[512];
  int32_t sf = RMQI_SYS_INNER_BATCH | RMQI_SYS_NEED_UNWRAP | 0x4;
  size_t n = make_record(rec, sf, example, sizeof(example));
  rmqi_msgrec_t outer, m;
  size_t next, pos = 0;
  uint32_t idx = 0;
  rmqi_errbuf_t e;
  REQUIRE(rmqi_msgrec_decode(rec, n, &outer, &next, &e) == RMQ_OK);
  REQUIRE(rmqi_msgrec_is_inner_batch(&outer));
  REQUIRE(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e) == RMQ_OK);
  CHECK_INT(m.queue_offset, 100);
  CHECK_INT(m.commitlog_offset, 0x5000);
  CHECK_INT(m.queue_id, 3);
  CHECK_INT(m.sys_flag, 0x4); /* batch bits gone, the rest kept */
  CHECK_MEM(m.topic, m.topic_len, "T", 1);
  CHECK_MEM(m.body, m.body_len, "A", 1);
  CHECK_MEM(m.props, m.props_len, "WAIT\1true\2", 10);
  CHECK(!rmqi_msgrec_is_inner_batch(&m));
  REQUIRE(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e) == RMQ_OK);
  CHECK_INT(m.queue_offset, 101);
  CHECK_MEM(m.body, m.body_len, "BC", 2);
  CHECK_ERR(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e),
            RMQ_ERR_NOT_FOUND);
  CHECK_UINT(idx, 2);
  /* Only both bits together mean "unwrap". */
  n = make_record(rec, RMQI_SYS_INNER_BATCH, example, sizeof(example));
  REQUIRE(rmqi_msgrec_decode(rec, n, &outer, &next, &e) == RMQ_OK);
  CHECK(!rmqi_msgrec_is_inner_batch(&outer));
  /* A broken second entry fails once and ends the record. */
  uint8_t bad[sizeof(example)];
  memcpy(bad, example, sizeof(bad));
  rmqi_store_be32(bad + 0x21, 0x30);
  n = make_record(rec, sf, bad, sizeof(bad));
  REQUIRE(rmqi_msgrec_decode(rec, n, &outer, &next, &e) == RMQ_OK);
  pos = 0;
  idx = 0;
  CHECK_ERR(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e), RMQ_OK);
  CHECK_ERR(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e),
            RMQ_ERR_BAD_MESSAGE);
  CHECK_UINT(e.pos, 0x21); /* where in the outer body */
  CHECK_ERR(rmqi_inner_batch_next(&outer, &pos, &idx, &m, &e),
            RMQ_ERR_NOT_FOUND);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(worked_example_encodes_and_decodes),
      TCASE(broken_entries_end_the_walk),
      TCASE(java_batches_decode_and_reencode_exactly),
      TCASE(inner_batches_unwrap_like_java),
  };
  return RUN_TESTS(cases);
}

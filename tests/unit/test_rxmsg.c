/* Received messages (lib/consumer/rxmsg.c) built from every stored record
 * the Java library wrote (tests/vectors/<version>/stored_*): what the
 * consumer hands the application equals what Java's MessageExt says —
 * body (inflated), topic, properties (Java's HashMap: last duplicate
 * wins), ids, queue, offsets, timestamps, hosts as Java prints them. */
#include "codec/props.h"
#include "consumer/rxmsg.h"
#include "test.h"
#include "util/endian.h"
#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_msg(const rmqt_vec *v, int i, const rmq_msg_t *m) {
  char key[128];
#define FIELD(name) (snprintf(key, sizeof(key), "msg.%d." name, i), key)
  const char *topic = rmqt_vec_get(v, FIELD("topic"));
  CHECK_STR(rmq_msg_topic(m), topic ? topic : "");
  size_t want_len = 0, len = 0;
  uint8_t *want = rmqt_vec_hex(v, FIELD("body.hex"), &want_len);
  const void *body = rmq_msg_body(m, &len);
  CHECK_MEM(body, len, want, want_len);
  free(want);
  CHECK_INT(rmq_msg_queue_id(m), rmqt_vec_int(v, FIELD("queueId"), -9));
  CHECK_INT(rmq_msg_queue_offset(m), rmqt_vec_int(v, FIELD("queueOffset"), -9));
  CHECK_INT(rmq_msg_commitlog_offset(m),
            rmqt_vec_int(v, FIELD("commitLogOffset"), -9));
  CHECK_INT(rmq_msg_born_timestamp(m),
            rmqt_vec_int(v, FIELD("bornTimestamp"), -9));
  CHECK_INT(rmq_msg_store_timestamp(m),
            rmqt_vec_int(v, FIELD("storeTimestamp"), -9));
  CHECK_INT(rmq_msg_reconsume_times(m),
            rmqt_vec_int(v, FIELD("reconsumeTimes"), -9));
  CHECK_INT(rmq_msg_sys_flag(m), rmqt_vec_int(v, FIELD("sysFlag"), -9));
  CHECK_INT(rmq_msg_flag(m), rmqt_vec_int(v, FIELD("flag"), -9));
  CHECK_INT(rmq_msg_body_crc(m),
            (uint32_t)rmqt_vec_int(v, FIELD("bodyCrc"), -9));
  CHECK_STR(rmq_msg_born_host(m), rmqt_vec_get(v, FIELD("bornHost")));
  CHECK_STR(rmq_msg_store_host(m), rmqt_vec_get(v, FIELD("storeHost")));
  CHECK_STR(rmq_msg_offset_id(m), rmqt_vec_get(v, FIELD("offsetMsgId")));
  CHECK_STR(rmq_msg_broker_name(m), "broker-x");
  const char *uniq = rmqt_vec_get(v, FIELD("prop.UNIQ_KEY"));
  CHECK_STR(rmq_msg_id(m), uniq ? uniq : rmqt_vec_get(v, FIELD("offsetMsgId")));
  /* every property Java saw, and no other */
  snprintf(key, sizeof(key), "msg.%d.prop.", i);
  size_t plen = strlen(key), n_java = 0;
  for (size_t k = 0; k < v->n_kv; k++) {
    if (strncmp(v->kv[k].key, key, plen) != 0)
      continue;
    n_java++;
    const char *got = rmq_msg_property(m, v->kv[k].key + plen);
    if (got == NULL || strlen(got) != v->kv[k].val_len ||
        memcmp(got, v->kv[k].val, v->kv[k].val_len) != 0)
      rmqt_fail(__FILE__, __LINE__, "%s/%s: property %s differs", v->version,
                v->name, v->kv[k].key);
  }
  CHECK_INT(rmq_msg_property_count(m), n_java);
#undef FIELD
}

TEST(java_written_records_become_messages_with_java_metadata) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "stored_");
    int built = 0;
    for (char **c = cases; c && *c; c++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      long long bad = v ? rmqt_vec_int(v, "error", -1) : -1;
      size_t off = 0;
      for (int i = 0; v && v->bin && off < v->bin_len && i != bad; i++) {
        rmqi_msgrec_t rec;
        size_t next;
        rmqi_errbuf_t e;
        if (rmqi_msgrec_decode(v->bin + off, v->bin_len - off, &rec, &next,
                               &e) != RMQ_OK)
          break;
        off += next;
        rmq_msg_t *m = NULL;
        rmq_err_t rc =
            rmqi_rxmsg_build(&rec, "broker-x", 1 << 20, true, &m, &e);
        if (rc != RMQ_OK) {
          rmqt_fail(__FILE__, __LINE__, "%s/%s msg %d: %s", *ver, *c, i, e.msg);
          continue;
        }
        check_msg(v, i, m);
        /* changing it copies it out of its block; the rest stays */
        CHECK_ERR(rmq_msg_set_property(m, "extra", "1"), RMQ_OK);
        CHECK_STR(rmq_msg_property(m, "extra"), "1");
        char tk[64];
        snprintf(tk, sizeof(tk), "msg.%d.topic", i);
        CHECK_STR(rmq_msg_topic(m), rmqt_vec_get(v, tk));
        CHECK_STR(rmq_msg_id(m), rmq_msg_property(m, "UNIQ_KEY")
                                     ? rmq_msg_property(m, "UNIQ_KEY")
                                     : rmq_msg_offset_id(m));
        rmq_msg_destroy(m);
        built++;
      }
      rmqt_vec_free(v);
    }
    if (built < 10)
      rmqt_fail(__FILE__, __LINE__, "%s: only %d messages built", *ver, built);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(vers);
}

TEST(a_bad_crc_fails_that_message_only) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  rmqt_vec *v = rmqt_vec_load(vers[0], "stored_ipv4");
  REQUIRE(v && v->bin);
  uint8_t *copy = malloc(v->bin_len);
  memcpy(copy, v->bin, v->bin_len);
  copy[v->bin_len - 30] ^= 0xFF; /* inside the body or properties */
  rmqi_msgrec_t rec;
  size_t next;
  rmqi_errbuf_t e;
  rmq_msg_t *m = NULL;
  if (rmqi_msgrec_decode(copy, v->bin_len, &rec, &next, &e) == RMQ_OK &&
      rec.body_len) {
    copy[(size_t)(rec.body - copy)] ^= 0x01; /* the body for sure */
    rmqi_msgrec_decode(copy, v->bin_len, &rec, &next, &e);
    CHECK_ERR(rmqi_rxmsg_build(&rec, "b", 1 << 20, true, &m, &e),
              RMQ_ERR_BAD_CRC);
    CHECK(m == NULL);
  }
  free(copy);
  rmqt_vec_free(v);
  rmqt_strv_free(vers);
}

/* A stored record (magic v1, IPv4 hosts, body "x", topic "T") around the
 * property string @p props; *len gets its size. */
static uint8_t *make_record(const char *props, size_t plen, size_t *len) {
  size_t n = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 1 +
             1 + 2 + plen;
  uint8_t *b = calloc(1, n), *p = b;
  rmqi_store_be32(p, (uint32_t)n);
  rmqi_store_be32(p + 4, (uint32_t)RMQI_MAGIC_V1);
  p += 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8;
  rmqi_store_be32(p, 1);
  p[4] = 'x';
  p[5] = 1;
  p[6] = 'T';
  rmqi_store_be16(p + 7, (uint16_t)plen);
  memcpy(p + 9, props, plen);
  *len = n;
  return b;
}

/* Java reads the properties length as a short: a string of 32768 bytes
 * or more (13,000 properties take 64 KiB) is refused, and the record is
 * skipped, not the rest. Below it, thousands of names and duplicates
 * dedupe like Java's HashMap (through a hash now: the old scan of the
 * earlier names per entry took ~0.5 s for 13,000). */
TEST(property_strings_past_int16_are_refused_and_many_names_dedupe) {
  char *s = malloc(80000);
  size_t n = 0;
  for (int i = 0; i < 13000; i++) { /* two-byte names: 5 bytes each */
    s[n++] = (char)(0x30 + i / 200);
    s[n++] = (char)(0x30 + i % 200);
    memcpy(s + n, "\001v\002", 3);
    n += 3;
  }
  CHECK_UINT(rmqi_props_count(s, n), 13000);
  REQUIRE(n > 32767 && n <= 65535);
  size_t len, next;
  uint8_t *rec = make_record(s, n, &len);
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_decode(rec, len, &r, &next, &e), RMQ_ERR_BAD_MESSAGE);
  CHECK_UINT(next, len); /* skip this record, go on with the next */
  CHECK(strstr(e.msg, "32767") != NULL);
  free(rec);
  /* Under the cap: 4,000 names, then every tenth again with another
   * value (the last one wins). */
  n = 0;
  for (int i = 0; i < 4000; i++)
    n += (size_t)sprintf(s + n, "%04x\001v\002", i);
  for (int i = 0; i < 4000; i += 10)
    n += (size_t)sprintf(s + n, "%04x\001w%d\002", i, i);
  REQUIRE(n <= 32767);
  rec = make_record(s, n, &len);
  CHECK_ERR(rmqi_msgrec_decode(rec, len, &r, &next, &e), RMQ_OK);
  rmq_msg_t *m = NULL;
  CHECK_ERR(rmqi_rxmsg_build(&r, "b", 1 << 20, false, &m, &e), RMQ_OK);
  REQUIRE(m != NULL);
  CHECK_UINT(rmq_msg_property_count(m), 4000);
  const char *k, *v;
  CHECK_ERR(rmq_msg_property_at(m, 3999, &k, &v), RMQ_OK);
  CHECK_STR(k, "0f9f");
  CHECK_STR(v, "v");
  CHECK_STR(rmq_msg_property(m, "0f8c"), "w3980");
  CHECK_STR(rmq_msg_property(m, "0f8d"), "v");
  rmq_msg_destroy(m);
  free(rec);
  free(s);
}

TEST(hosts_print_like_java) {
  char out[56];
  rmqi_host_t h4 = {{255, 255, 255, 255}, 4, 4294967295u};
  rmqi_host_format(&h4, out, sizeof(out));
  CHECK_STR(out, "255.255.255.255:4294967295");
  rmqi_host_t h0 = {{0, 0, 0, 0}, 4, 0};
  rmqi_host_format(&h0, out, sizeof(out));
  CHECK_STR(out, "0.0.0.0:0");
  rmqi_host_t h6 = {
      {0xff, 0xff, 0, 0, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0xab, 0xcd},
      16,
      65535};
  rmqi_host_format(&h6, out, sizeof(out));
  CHECK_STR(out, "[ffff:0:10:1:0:0:0:abcd]:65535");
  rmqi_host_format(&h6, out, 10); /* too small: empty, never cut */
  CHECK_STR(out, "");
}

/* The in-place split against the property iterator (the reference, as
 * Java's string2messageProperties): random strings over "ab", 0x01 and
 * 0x02, up to 40 bytes (a quarter up to 200); the message holds the iterator's names in first
 * appearance order, each with its last value. */
TEST(split_properties_match_the_iterator) {
  uint32_t x = 88172645u;
  size_t bad = 0;
  for (int round = 0; round < 100000; round++) {
    char s[208];
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    size_t n = round % 4 ? x % 41 : x % 201; /* some past FEW_PROPS */
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      s[i] = "ab\001\002"[x % 4];
    }
    /* the reference: names in order, the last value of each */
    const char *names[80], *values[80];
    size_t nls[80], vls[80], k = 0;
    rmqi_props_it_t it;
    rmqi_props_it_init(&it, s, n);
    const char *nm, *vl;
    size_t nl, vll;
    while (rmqi_props_next(&it, &nm, &nl, &vl, &vll)) {
      size_t j = 0;
      while (j < k && !(nls[j] == nl && memcmp(names[j], nm, nl) == 0))
        j++;
      if (j == k) {
        names[k] = nm;
        nls[k++] = nl;
      }
      values[j] = vl;
      vls[j] = vll;
    }
    size_t len, next;
    uint8_t *rec = make_record(s, n, &len);
    rmqi_msgrec_t r;
    rmqi_errbuf_t e;
    rmq_msg_t *m = NULL;
    if (rmqi_msgrec_decode(rec, len, &r, &next, &e) != RMQ_OK ||
        rmqi_rxmsg_build(&r, "b", 1 << 20, false, &m, &e) != RMQ_OK) {
      bad++;
      free(rec);
      continue;
    }
    bool same = rmq_msg_property_count(m) == k;
    for (size_t j = 0; same && j < k; j++) {
      const char *pk, *pv;
      same = rmq_msg_property_at(m, j, &pk, &pv) == RMQ_OK &&
             strlen(pk) == nls[j] && memcmp(pk, names[j], nls[j]) == 0 &&
             strlen(pv) == vls[j] && memcmp(pv, values[j], vls[j]) == 0;
    }
    bad += !same;
    rmq_msg_destroy(m);
    free(rec);
  }
  CHECK_UINT(bad, 0);
}

/* A cache of the last hosts gives each message its own hosts: a change of
 * either (address, port, family) is seen. */
TEST(cached_hosts_follow_each_message) {
  char s[] = "TAGS\001t\002";
  size_t len, next;
  uint8_t *rec = make_record(s, strlen(s), &len);
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_decode(rec, len, &r, &next, &e), RMQ_OK);
  static const rmqi_host_t hosts[] = {
      {{10, 0, 0, 1}, 4, 80},
      {{10, 0, 0, 1}, 4, 80},
      {{10, 0, 0, 1}, 4, 81},
      {{10, 0, 0, 2}, 4, 81},
      {{10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 16, 81},
      {{10, 0, 0, 2}, 4, 81},
  };
  static const char *text[] = {
      "10.0.0.1:80",         "10.0.0.1:80", "10.0.0.1:81", "10.0.0.2:81",
      "[a00:2:0:0:0:0:0:0]:81", "10.0.0.2:81",
  };
  rmqi_hostcache_t hc = {0};
  for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    r.born = hosts[i];
    r.store = hosts[(i + 3) % 6];
    rmq_msg_t *m = NULL;
    CHECK_ERR(rmqi_rxmsg_build_cached(&r, "b", 1 << 20, false, &hc, &m, &e),
              RMQ_OK);
    REQUIRE(m != NULL);
    CHECK_STR(rmq_msg_born_host(m), text[i]);
    CHECK_STR(rmq_msg_store_host(m), text[(i + 3) % 6]);
    rmq_msg_destroy(m);
  }
  free(rec);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(java_written_records_become_messages_with_java_metadata),
      TCASE(a_bad_crc_fails_that_message_only),
      TCASE(property_strings_past_int16_are_refused_and_many_names_dedupe),
      TCASE(hosts_print_like_java),
      TCASE(cached_hosts_follow_each_message),
      TCASE(split_properties_match_the_iterator),
  };
  return RUN_TESTS(cases);
}

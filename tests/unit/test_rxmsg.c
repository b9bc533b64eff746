/* Received messages (lib/consumer/rxmsg.c) built from every stored record
 * the Java library wrote (tests/vectors/<version>/stored_*): what the
 * consumer hands the application equals what Java's MessageExt says —
 * body (inflated), topic, properties (Java's HashMap: last duplicate
 * wins), ids, queue, offsets, timestamps, hosts as Java prints them. */
#include "consumer/rxmsg.h"
#include "test.h"
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

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(java_written_records_become_messages_with_java_metadata),
      TCASE(a_bad_crc_fails_that_message_only),
      TCASE(hosts_print_like_java),
  };
  return RUN_TESTS(cases);
}

/* Stored-message records: message.md's worked example byte for byte, the
 * Java-written vectors, every truncation, CRC, bounded zlib, properties. */
#include "codec/msgrec.h"
#include "util/endian.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>
#include <zlib.h>

static const uint8_t example[] = {
    0x00, 0x00, 0x00, 0xa7, 0xda, 0xa3, 0x20, 0xa7, 0x77, 0xd1, 0x89, 0x82,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
    0xc0, 0xa8, 0x00, 0x02, 0x00, 0x00, 0xd4, 0x31, 0x00, 0x00, 0x01, 0x8b,
    0xcf, 0xe5, 0x68, 0x05, 0xc0, 0xa8, 0x00, 0x0a, 0x00, 0x00, 0x2a, 0x9f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 'H',  'e',  'l',  'l',  'o',  0x09, 'T',  'o',
    'p',  'i',  'c',  'T',  'e',  's',  't',  0x00, 0x3e, 'T',  'A',  'G',
    'S',  0x01, 'T',  'a',  'g',  'A',  0x02, 'U',  'N',  'I',  'Q',  '_',
    'K',  'E',  'Y',  0x01, 'C',  '0',  'A',  '8',  '0',  '0',  '0',  '2',
    '0',  'D',  '2',  'A',  '1',  '8',  'B',  '4',  'A',  'A',  'C',  '2',
    '3',  'B',  '9',  'A',  'C',  'A',  '0',  '0',  '0',  '0',  '0',  '1',
    0x02, 'W',  'A',  'I',  'T',  0x01, 't',  'r',  'u',  'e',  0x02};

TEST(worked_example_decodes) {
  rmqi_msgrec_t m;
  size_t next;
  rmqi_errbuf_t e;
  REQUIRE(sizeof(example) == 167);
  REQUIRE(rmqi_msgrec_decode(example, sizeof(example), &m, &next, &e) ==
          RMQ_OK);
  CHECK_UINT(next, 167);
  CHECK_INT(m.queue_id, 1);
  CHECK_INT(m.queue_offset, 5);
  CHECK_INT(m.commitlog_offset, 0x1234);
  CHECK_INT(m.born_ts, 1700000000000LL);
  CHECK_INT(m.store_ts, 1700000000005LL);
  CHECK_UINT(m.born.port, 54321);
  CHECK_UINT(m.store.port, 10911);
  CHECK_MEM(m.body, m.body_len, "Hello", 5);
  CHECK_MEM(m.topic, m.topic_len, "TopicTest", 9);
  CHECK_ERR(rmqi_msgrec_check_crc(&m, &e), RMQ_OK);
  char id[57];
  rmqi_msgrec_offset_id(&m, id);
  CHECK_STR(id, "C0A8000A00002A9F0000000000001234");
  size_t vl;
  const char *v = rmqi_props_get(m.props, m.props_len, "TAGS", &vl);
  CHECK_MEM(v, vl, "TagA", 4);
  v = rmqi_props_get(m.props, m.props_len, "UNIQ_KEY", &vl);
  CHECK_MEM(v, vl, "C0A800020D2A18B4AAC23B9ACA000001", 32);
  CHECK(rmqi_props_get(m.props, m.props_len, "NOPE", &vl) == NULL);
}

TEST(every_truncation_and_corruption_is_an_error) {
  rmqi_msgrec_t m;
  size_t next;
  uint8_t buf[167];
  for (size_t cut = 0; cut < sizeof(example); cut++) {
    memcpy(buf, example, sizeof(example));
    rmqi_store_be32(buf, (uint32_t)cut); /* TOTALSIZE says cut */
    if (rmqi_msgrec_decode(buf, cut, &m, &next, NULL) == RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "accepted a record cut at %zu", cut);
    if (rmqi_msgrec_decode(example, cut, &m, &next, NULL) == RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "accepted %zu of 167 bytes", cut);
    CHECK_UINT(next, 0); /* TOTALSIZE past the end: stop */
  }
  memcpy(buf, example, sizeof(example));
  buf[7] ^= 1; /* magic */
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_decode(buf, sizeof(buf), &m, &next, &e),
            RMQ_ERR_BAD_MESSAGE);
  CHECK_UINT(next, 167); /* a sane size: the next record can be read */
  memcpy(buf, example, sizeof(example));
  buf[36 + 3] |= RMQI_SYS_BORNHOST_V6; /* v6 hosts need 24 more bytes */
  CHECK(rmqi_msgrec_decode(buf, sizeof(buf), &m, &next, &e) != RMQ_OK ||
        m.body_len != 5); /* shifted fields cannot decode to the same */
  memcpy(buf, example, sizeof(example));
  buf[90] ^= 0x20; /* a body byte: the CRC catches it */
  REQUIRE(rmqi_msgrec_decode(buf, sizeof(buf), &m, &next, &e) == RMQ_OK);
  CHECK_ERR(rmqi_msgrec_check_crc(&m, &e), RMQ_ERR_BAD_CRC);
}

TEST(zlib_bodies_inflate_within_a_bound) {
  static uint8_t plain[20000], z[30000];
  for (size_t i = 0; i < sizeof(plain); i++)
    plain[i] = (uint8_t)(i % 7);
  uLongf zl = sizeof(z);
  REQUIRE(compress2(z, &zl, plain, sizeof(plain), 5) == Z_OK);
  rmqi_msgrec_t m = {.sys_flag = RMQI_SYS_COMPRESSED | 0x300, .body = z,
                     .body_len = (uint32_t)zl};
  uint8_t *out;
  size_t ol;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_inflate(&m, 1 << 20, &out, &ol, &e), RMQ_OK);
  CHECK_MEM(out, ol, plain, sizeof(plain));
  free(out);
  m.sys_flag = RMQI_SYS_COMPRESSED; /* type 0 means zlib too */
  CHECK_ERR(rmqi_msgrec_inflate(&m, 1 << 20, &out, &ol, &e), RMQ_OK);
  free(out);
  CHECK_ERR(rmqi_msgrec_inflate(&m, 1000, &out, &ol, &e), RMQ_ERR_LIMIT);
  m.sys_flag = RMQI_SYS_COMPRESSED | 0x100;
  CHECK_ERR(rmqi_msgrec_inflate(&m, 1 << 20, &out, &ol, &e),
            RMQ_ERR_COMPRESSION);
  CHECK(strstr(e.msg, "LZ4") != NULL);
  m.sys_flag = RMQI_SYS_COMPRESSED;
  z[zl / 2] ^= 0xFF;
  CHECK(rmqi_msgrec_inflate(&m, 1 << 20, &out, &ol, &e) != RMQ_OK);
  m.body_len = (uint32_t)(zl / 2); /* truncated stream */
  z[zl / 2] ^= 0xFF;
  CHECK_ERR(rmqi_msgrec_inflate(&m, 1 << 20, &out, &ol, &e),
            RMQ_ERR_COMPRESSION);
}

static void check_vec_record(const rmqt_vec *v, int i, const rmqi_msgrec_t *m) {
  char k[64];
#define FIELD(fname, val)                                                       \
  do {                                                                         \
    snprintf(k, sizeof(k), "msg.%d." fname, i);                                 \
    if (rmqt_vec_get(v, k) && rmqt_vec_int(v, k, -99) != (long long)(val))     \
      rmqt_fail(__FILE__, __LINE__, "%s/%s %s: ours %lld, Java %lld",          \
                v->version, v->name, k, (long long)(val),                      \
                rmqt_vec_int(v, k, -99));                                      \
  } while (0)
  FIELD("totalSize", m->total_size);
  FIELD("queueId", m->queue_id);
  FIELD("queueOffset", m->queue_offset);
  FIELD("commitLogOffset", m->commitlog_offset);
  FIELD("sysFlag", m->sys_flag);
  FIELD("bornTimestamp", m->born_ts);
  FIELD("storeTimestamp", m->store_ts);
  FIELD("reconsumeTimes", m->reconsume_times);
#undef FIELD
  snprintf(k, sizeof(k), "msg.%d.topic", i);
  CHECK_MEM(m->topic, m->topic_len, rmqt_vec_get(v, k),
            strlen(rmqt_vec_get(v, k)));
  size_t bl;
  snprintf(k, sizeof(k), "msg.%d.storedBody.hex", i);
  uint8_t *stored = rmqt_vec_hex(v, k, &bl);
  snprintf(k, sizeof(k), "msg.%d.body.hex", i);
  size_t pl;
  uint8_t *plain = rmqt_vec_hex(v, k, &pl);
  if (stored)
    CHECK_MEM(m->body, m->body_len, stored, bl);
  uint8_t *inflated = NULL;
  size_t il = 0;
  CHECK_ERR(rmqi_msgrec_inflate(m, 64u << 20, &inflated, &il, NULL), RMQ_OK);
  if (inflated)
    CHECK_MEM(inflated, il, plain, pl);
  else
    CHECK_MEM(m->body, m->body_len, plain, pl);
  snprintf(k, sizeof(k), "msg.%d.bodyCrc", i);
  if (rmqt_vec_int(v, k, 0) != 0)
    CHECK_ERR(rmqi_msgrec_check_crc(m, NULL), RMQ_OK);
  free(stored);
  free(plain);
  free(inflated);
  char id[57];
  rmqi_msgrec_offset_id(m, id);
  snprintf(k, sizeof(k), "msg.%d.offsetMsgId", i);
  CHECK_STR(id, rmqt_vec_get(v, k));
  /* Every property Java saw, we see too. */
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "msg.%d.prop.", i);
  for (size_t kvi = 0; kvi < v->n_kv; kvi++) {
    if (strncmp(v->kv[kvi].key, prefix, strlen(prefix)) != 0)
      continue;
    size_t vl;
    const char *val = rmqi_props_get(m->props, m->props_len,
                                     v->kv[kvi].key + strlen(prefix), &vl);
    if (val == NULL || vl != v->kv[kvi].val_len ||
        memcmp(val, v->kv[kvi].val, vl) != 0)
      rmqt_fail(__FILE__, __LINE__, "%s: property %s differs", v->version,
                v->kv[kvi].key);
  }
}

static void check_stored_case(const rmqt_vec *v) {
  long long bad = rmqt_vec_int(v, "error", -1); /* a deliberately broken record */
  size_t off = 0;
  int n = 0;
  while (off < v->bin_len) {
    rmqi_msgrec_t m;
    size_t next;
    rmqi_errbuf_t e;
    rmq_err_t rc = rmqi_msgrec_decode(v->bin + off, v->bin_len - off, &m,
                                      &next, &e);
    if (n == bad) {
      CHECK(rc != RMQ_OK);
      return;
    }
    if (rc != RMQ_OK) {
      rmqt_fail(__FILE__, __LINE__, "%s/%s record %d: %s", v->version,
                v->name, n, e.msg);
      return;
    }
    check_vec_record(v, n, &m);
    off += next;
    n++;
  }
  if (bad >= 0)
    rmqt_fail(__FILE__, __LINE__, "%s/%s: broken record %lld decoded",
              v->version, v->name, bad);
  else
    CHECK_INT(n, rmqt_vec_int(v, "count", -1));
}

TEST(java_written_records_decode_field_by_field) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "stored_");
    int n = 0;
    for (char **c = cases; c && *c; c++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      if (v && v->bin) {
        check_stored_case(v);
        n++;
      }
      rmqt_vec_free(v);
    }
    if (n == 0)
      rmqt_fail(__FILE__, __LINE__, "%s has no stored_* vectors", *ver);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(vers);
}

TEST(property_parsing_matches_java_edge_cases) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "props_");
    int n = 0;
    for (char **c = cases; c && *c; c++, n++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      if (v == NULL)
        continue;
      const char *p = v->bin ? (const char *)v->bin : "";
      size_t pl = v->bin ? v->bin_len : 0;
      for (size_t i = 0; i < v->n_kv; i++) {
        if (strncmp(v->kv[i].key, "prop.", 5) != 0)
          continue;
        size_t vl;
        const char *got = rmqi_props_get(p, pl, v->kv[i].key + 5, &vl);
        if (got == NULL || vl != v->kv[i].val_len ||
            memcmp(got, v->kv[i].val, vl) != 0)
          rmqt_fail(__FILE__, __LINE__, "%s/%s: %s differs", *ver, *c,
                    v->kv[i].key);
      }
      rmqt_vec_free(v);
    }
    CHECK(n >= 5);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(vers);
}

TEST(offset_ids_decode_like_java) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **ids = rmqt_vec_cases(*ver, "msgid");
    rmqt_vec *v = ids && ids[0] ? rmqt_vec_load(*ver, ids[0]) : NULL;
    rmqt_strv_free(ids);
    if (v == NULL) {
      rmqt_fail(__FILE__, __LINE__, "%s has no msgid vectors", *ver);
      continue;
    }
    for (int i = 0; i < 16; i++) {
      char k[64];
      snprintf(k, sizeof(k), "offset.%d", i);
      const char *id = rmqt_vec_get(v, k);
      if (id == NULL)
        break;
      rmqi_host_t h;
      int64_t off;
      CHECK_ERR(rmqi_offset_id_decode(id, strlen(id), &h, &off, NULL), RMQ_OK);
      snprintf(k, sizeof(k), "offset.%d.commitLogOffset", i);
      CHECK_INT(off, rmqt_vec_int(v, k, -1));
      snprintf(k, sizeof(k), "offset.%d.addr", i);
      const char *addr = rmqt_vec_get(v, k);
      char port[16];
      snprintf(port, sizeof(port), ":%u", (unsigned)h.port);
      CHECK(addr && strstr(addr, port) != NULL);
      CHECK_UINT(h.len, strlen(id) == 32 ? 4 : 16);
      /* And back: the same id from the decoded parts. */
      rmqi_msgrec_t m = {.store = h, .commitlog_offset = off};
      char again[57];
      rmqi_msgrec_offset_id(&m, again);
      CHECK_STR(again, id);
    }
    rmqt_vec_free(v);
  }
  rmqt_strv_free(vers);
  rmqi_host_t h;
  int64_t off;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_offset_id_decode("C0A8", 4, &h, &off, &e), RMQ_ERR_BAD_MSGID);
  CHECK_ERR(rmqi_offset_id_decode("C0A8000A00002A9F000000000000123G", 32, &h,
                                  &off, &e),
            RMQ_ERR_BAD_MSGID);
  CHECK_ERR(rmqi_offset_id_decode("c0a8000a00002a9f0000000000001234", 32, &h,
                                  &off, &e),
            RMQ_OK);
  CHECK_INT(off, 0x1234);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(worked_example_decodes),
      TCASE(every_truncation_and_corruption_is_an_error),
      TCASE(zlib_bodies_inflate_within_a_bound),
      TCASE(java_written_records_decode_field_by_field),
      TCASE(property_parsing_matches_java_edge_cases),
      TCASE(offset_ids_decode_like_java),
  };
  return RUN_TESTS(cases);
}

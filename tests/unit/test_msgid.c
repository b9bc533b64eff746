/* Unique message ids (UNIQ_KEY): decoded as Java's MessageClientIDSetter
 * reads them, checked against the ids Java made (tests/vectors/NAME/
 * msgid_uniq.txt) and against the worked example of message.md §5.1. */
#include "codec/msgid.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every uniq.<i> of one msgid_uniq vector; returns how many were checked. */
static int check_java_ids(const char *ver, const rmqt_vec *v) {
  rmqi_uniq_id_t first = {0};
  int i = 0;
  for (;; i++) {
    char k[64];
    snprintf(k, sizeof(k), "uniq.%d", i);
    const char *id = rmqt_vec_get(v, k);
    if (id == NULL)
      break;
    rmqi_uniq_id_t u;
    rmqi_errbuf_t e;
    CHECK_ERR(rmqi_uniq_id_decode(id, strlen(id), &u, &e), RMQ_OK);
    char ip[40], again[57];
    rmqi_uniq_id_ip_str(&u, ip);
    snprintf(k, sizeof(k), "uniq.%d.ip", i);
    const char *want_ip = rmqt_vec_get(v, k);
    CHECK(want_ip != NULL);
    CHECK_STR(ip, want_ip ? want_ip : "");
    snprintf(k, sizeof(k), "uniq.%d.pid", i);
    CHECK_INT(u.pid, rmqt_vec_int(v, k, -1));
    CHECK_UINT(u.ip_len, strlen(id) == 32 ? 4 : 16);
    rmqi_uniq_id_encode(&u, again);
    CHECK_STR(again, id);
    /* One JVM made them in a row: same prefix, consecutive counters. */
    if (i == 0)
      first = u;
    CHECK_UINT(u.loader_hash, first.loader_hash);
    CHECK_UINT(u.counter, (uint16_t)(first.counter + i));
    CHECK(u.month_ms >= first.month_ms);
    (void)ver;
  }
  return i;
}

TEST(java_made_ids_decode) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    rmqt_vec *v = rmqt_vec_load(*ver, "msgid_uniq");
    if (v == NULL) {
      rmqt_fail(__FILE__, __LINE__, "%s has no msgid_uniq vector", *ver);
      continue;
    }
    CHECK_STR(rmqt_vec_get(v, "kind"), "msgid");
    CHECK(check_java_ids(*ver, v) >= 5);
    rmqt_vec_free(v);
  }
  rmqt_strv_free(vers);
}

TEST(worked_example_ipv4) {
  /* message.md §5.1 */
  const char *id = "C0A800020D2A18B4AAC23B9ACA000001";
  rmqi_uniq_id_t u;
  CHECK_ERR(rmqi_uniq_id_decode(id, 32, &u, NULL), RMQ_OK);
  char ip[40], again[57];
  rmqi_uniq_id_ip_str(&u, ip);
  CHECK_STR(ip, "192.168.0.2");
  CHECK_UINT(u.pid, 0x0D2A);
  CHECK_UINT(u.loader_hash, 0x18B4AAC2u);
  CHECK_UINT(u.month_ms, 1000000000u);
  CHECK_UINT(u.counter, 1);
  rmqi_uniq_id_encode(&u, again);
  CHECK_STR(again, id);
  /* Lower case is read too (Java upper-cases first); encoding is upper. */
  CHECK_ERR(rmqi_uniq_id_decode("c0a800020d2a18b4aac23b9aca000001", 32, &u,
                                NULL),
            RMQ_OK);
  rmqi_uniq_id_encode(&u, again);
  CHECK_STR(again, id);
}

static int64_t born(const char *id, int64_t now_ms) {
  rmqi_uniq_id_t u;
  if (rmqi_uniq_id_decode(id, strlen(id), &u, NULL) != RMQ_OK)
    return -1;
  return rmqi_uniq_id_born_ms(&u, now_ms);
}

TEST(born_time_like_get_nearly_time_from_id) {
  const char *id = "C0A800020D2A18B4AAC23B9ACA000001"; /* 1e9 ms in */
  const char *max = "C0A800020D2A18B4AAC2FFFFFFFF0001"; /* read unsigned */
  const int64_t nov1 = 1793491200000, oct1 = 1790812800000; /* 2026, UTC */
  const int64_t nov23_8h = nov1 + (22 * 24 + 8) * 3600000LL;
  setenv("TZ", "UTC0", 1);
  tzset();
  CHECK_INT(born(id, nov23_8h), nov1 + 1000000000);
  /* Not in the past this month: the month before (Java's >=). */
  CHECK_INT(born(id, nov1 + 4 * 86400000LL), oct1 + 1000000000);
  CHECK_INT(born(id, nov1 + 1000000000), oct1 + 1000000000);
  CHECK_INT(born(id, nov1 + 1000000001), nov1 + 1000000000);
  CHECK_INT(born(max, nov23_8h), oct1 + 4294967295LL);
  /* Local time: months start at local midnight (UTC+8, no DST). */
  setenv("TZ", "CST-8", 1);
  tzset();
  const int64_t nov1_local = 1793462400000; /* 2026-10-31T16:00Z */
  CHECK_INT(born(id, nov23_8h), nov1_local + 1000000000);
  CHECK_INT(born("C0A800020D2A18B4AAC2000000000001", nov1 + 7200000),
            nov1_local);
  unsetenv("TZ");
  tzset();
}

TEST(malformed_ids_are_refused_with_a_position) {
  static const struct {
    const char *id;
    size_t pos;
  } bad[] = {
      {"", 0},
      {"C0A800020D2A18B4AAC23B9ACA00000", 0},   /* 31 */
      {"C0A800020D2A18B4AAC23B9ACA0000011", 0}, /* 33 */
      {"C0A800020D2A18B4AAC23B9ACA00000G", 31},
      {"G0A800020D2A18B4AAC23B9ACA000001", 0},
      {"C0A80 020D2A18B4AAC23B9ACA000001", 5},
      {"C0A800020D2A18B4AAC23B9ACA00000\xC3", 31},
      {"-D00000000000000000000000000000262DD30946E0972CBB7410000", 0},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t n = strlen(bad[i].id);
    rmqi_uniq_id_t u;
    rmqi_errbuf_t e;
    rmqi_errbuf_clear(&e);
    CHECK_ERR(rmqi_uniq_id_decode(bad[i].id, n, &u, &e), RMQ_ERR_BAD_MSGID);
    CHECK_UINT(e.pos, bad[i].pos);
    CHECK(strstr(e.msg, "unique message id") != NULL);
  }
  char nul[] = "FD00000000000000000000000000000262DD30946E0972CBB7410000";
  nul[33] = '\0';
  rmqi_uniq_id_t u;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_uniq_id_decode(nul, 56, &u, &e), RMQ_ERR_BAD_MSGID);
  CHECK_UINT(e.pos, 33);
  /* Any length but 32 and 56, even an even one Java would half-read. */
  char buf[64];
  memset(buf, 'A', sizeof(buf));
  for (size_t n = 0; n <= sizeof(buf); n++) {
    CHECK_ERR(rmqi_uniq_id_decode(buf, n, &u, NULL),
              n == 32 || n == 56 ? RMQ_OK : RMQ_ERR_BAD_MSGID);
  }
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(java_made_ids_decode),
      TCASE(worked_example_ipv4),
      TCASE(born_time_like_get_nearly_time_from_id),
      TCASE(malformed_ids_are_refused_with_a_position),
  };
  return RUN_TESTS(cases);
}

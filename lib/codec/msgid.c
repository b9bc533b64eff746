#include "msgid.h"

#include "../util/buf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int hexv(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

size_t rmqi_unhex(const char *s, size_t n, uint8_t *out) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    int hi = hexv(s[i]), lo = hexv(s[i + 1]);
    if (hi < 0)
      return i;
    if (lo < 0)
      return i + 1;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  return n;
}

/* The two upper-case hex digits of every byte value. */
static const char hex_pairs[513] =
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
    "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
    "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F"
    "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F"
    "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F"
    "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
    "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";

void rmqi_hex_upper(char *out, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    memcpy(out + 2 * i, hex_pairs + 2 * b[i], 2);
  out[2 * n] = '\0';
}

rmq_err_t rmqi_uniq_id_decode(const char *id, size_t n, rmqi_uniq_id_t *u,
                              rmqi_errbuf_t *e) {
  /* Java reads any other length as IPv4 with garbage; we refuse it. */
  if (n != 32 && n != 56)
    return rmqi_err(e, RMQ_ERR_BAD_MSGID, 0,
                    "unique message id has %zu characters, not 32 or 56", n);
  uint8_t b[28];
  size_t bad = rmqi_unhex(id, n, b);
  if (bad != n)
    return rmqi_err(e, RMQ_ERR_BAD_MSGID, bad,
                    "unique message id has a non-hex character");
  memset(u, 0, sizeof(*u));
  u->ip_len = n == 32 ? 4 : 16;
  memcpy(u->ip, b, u->ip_len);
  const uint8_t *p = b + u->ip_len;
  u->pid = rmqi_load_be16(p);
  u->loader_hash = rmqi_load_be32(p + 2);
  u->month_ms = rmqi_load_be32(p + 6);
  u->counter = rmqi_load_be16(p + 10);
  return RMQ_OK;
}

void rmqi_uniq_id_encode(const rmqi_uniq_id_t *u, char out[57]) {
  uint8_t b[28];
  size_t n = u->ip_len == 16 ? 16 : 4;
  memcpy(b, u->ip, n);
  rmqi_store_be16(b + n, u->pid);
  rmqi_store_be32(b + n + 2, u->loader_hash);
  rmqi_store_be32(b + n + 6, u->month_ms);
  rmqi_store_be16(b + n + 10, u->counter);
  rmqi_hex_upper(out, b, n + 12);
}

void rmqi_uniq_id_ip_str(const rmqi_uniq_id_t *u, char out[40]) {
  const uint8_t *a = u->ip;
  if (u->ip_len != 16) {
    snprintf(out, 40, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return;
  }
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    out[o++] = hex[a[i] >> 4];
    out[o++] = hex[a[i] & 15];
    if (i % 2 == 1 && i < 15)
      out[o++] = ':';
  }
  out[o] = '\0';
}

/* Epoch ms of local midnight on the 1st of the month @p back months before
 * the one holding @p ms (Java's Calendar with DAY_OF_MONTH=1, 00:00:00.000). */
static int64_t month_start(int64_t ms, int back) {
  time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
  struct tm tm;
  if (localtime_r(&t, &tm) == NULL)
    return 0;
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_mon -= back;
  tm.tm_isdst = -1;
  return (int64_t)mktime(&tm) * 1000;
}

int64_t rmqi_uniq_id_born_ms(const rmqi_uniq_id_t *u, int64_t now_ms) {
  int64_t start = month_start(now_ms, 0);
  if (start + u->month_ms >= now_ms)
    start = month_start(now_ms, 1);
  return start + u->month_ms;
}

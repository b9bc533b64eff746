#include "buf.h"

#include <stdlib.h>

void rmqi_buf_init(rmqi_buf_t *b) {
  memset(b, 0, sizeof(*b));
}

void rmqi_buf_init_in(rmqi_buf_t *b, void *storage, size_t size) {
  memset(b, 0, sizeof(*b));
  b->data = storage;
  b->cap = size;
  b->lent = true;
}

void rmqi_buf_free(rmqi_buf_t *b) {
  if (!b->lent)
    free(b->data);
  memset(b, 0, sizeof(*b));
}

void rmqi_buf_reset(rmqi_buf_t *b) {
  b->len = 0;
  b->failed = false;
}

bool rmqi_buf_reserve(rmqi_buf_t *b, size_t n) {
  if (b->failed)
    return false;
  if (b->cap - b->len >= n)
    return true;
  if (n > SIZE_MAX / 2 - b->len || (b->limit && b->len + n > b->limit)) {
    b->failed = true;
    return false;
  }
  size_t want = b->len + n;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < want)
    cap *= 2;
  if (b->limit && cap > b->limit)
    cap = b->limit;
  uint8_t *p = b->lent ? malloc(cap) : realloc(b->data, cap);
  if (p == NULL) {
    b->failed = true;
    return false;
  }
  if (b->lent && b->len)
    memcpy(p, b->data, b->len);
  b->lent = false;
  b->data = p;
  b->cap = cap;
  return true;
}

void rmqi_buf_consume(rmqi_buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

size_t rmqi_fmt_i64_any(char *out, int64_t v) {
  char tmp[20];
  size_t n = sizeof(tmp);
  /* Work in unsigned so INT64_MIN does not overflow on negation; two
   * digits per division. */
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  while (u >= 100) {
    n -= 2;
    memcpy(tmp + n, digit_pairs + 2 * (u % 100), 2);
    u /= 100;
  }
  if (u >= 10) {
    n -= 2;
    memcpy(tmp + n, digit_pairs + 2 * u, 2);
  } else {
    tmp[--n] = (char)('0' + u);
  }
  size_t len = 0;
  if (v < 0)
    out[len++] = '-';
  memcpy(out + len, tmp + n, sizeof(tmp) - n);
  return len + sizeof(tmp) - n;
}

void rmqi_buf_put_i64(rmqi_buf_t *b, int64_t v) {
  char tmp[21];
  rmqi_buf_put(b, tmp, rmqi_fmt_i64(tmp, v));
}

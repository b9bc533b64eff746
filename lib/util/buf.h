/*
 * Growable byte buffer for encoders, and a bounds-checked read cursor for
 * decoders.
 *
 * rmqi_buf_t: appends never fail loudly; an allocation failure (or growth
 * past `limit`, when set) marks the buffer failed, later appends become
 * no-ops, and the encoder checks rmqi_buf_ok() once at the end. This keeps
 * encoders free of an error check per field.
 *
 * rmqi_rd_t: every read checks the remaining length first, so a decoder
 * written with it cannot read outside its input.
 */
#ifndef RMQI_BUF_H
#define RMQI_BUF_H

#include "common.h"
#include "endian.h"

#include <string.h>

typedef struct rmqi_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t limit; /* 0 = no limit other than memory */
  bool failed;
  bool lent; /* data is the caller's storage (rmqi_buf_init_in) */
} rmqi_buf_t;

void rmqi_buf_init(rmqi_buf_t *b);
/* Starts in the caller's @p storage of @p size bytes, which must stay put
 * while the buffer lives (so never copy the owner by value); growing past
 * it moves the content to the heap. Saves the allocation of small,
 * short-lived buffers. */
void rmqi_buf_init_in(rmqi_buf_t *b, void *storage, size_t size);
void rmqi_buf_free(rmqi_buf_t *b);
/* Empties the buffer but keeps its memory; clears the failed mark. */
void rmqi_buf_reset(rmqi_buf_t *b);
/* Ensures room for @p n more bytes. Returns false (and marks failed) if not. */
bool rmqi_buf_reserve(rmqi_buf_t *b, size_t n);
/* Removes the first @p n bytes (n <= len). */
void rmqi_buf_consume(rmqi_buf_t *b, size_t n);

static inline bool rmqi_buf_ok(const rmqi_buf_t *b) {
  return !b->failed;
}

static inline void rmqi_buf_put(rmqi_buf_t *b, const void *p, size_t n) {
  if (RMQI_UNLIKELY(b->cap - b->len < n) && !rmqi_buf_reserve(b, n))
    return;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
}
static inline void rmqi_buf_put_u8(rmqi_buf_t *b, uint8_t v) {
  rmqi_buf_put(b, &v, 1);
}
static inline void rmqi_buf_put_be16(rmqi_buf_t *b, uint16_t v) {
  uint8_t t[2];
  rmqi_store_be16(t, v);
  rmqi_buf_put(b, t, 2);
}
static inline void rmqi_buf_put_be32(rmqi_buf_t *b, uint32_t v) {
  uint8_t t[4];
  rmqi_store_be32(t, v);
  rmqi_buf_put(b, t, 4);
}
static inline void rmqi_buf_put_be64(rmqi_buf_t *b, uint64_t v) {
  uint8_t t[8];
  rmqi_store_be64(t, v);
  rmqi_buf_put(b, t, 8);
}
static inline void rmqi_buf_put_str(rmqi_buf_t *b, const char *s) {
  rmqi_buf_put(b, s, strlen(s));
}
/* Appends the decimal text of @p v (no allocation beyond the buffer). */
void rmqi_buf_put_i64(rmqi_buf_t *b, int64_t v);
/* Overwrites 4 bytes at @p off (which must be < len - 3): for length
 * prefixes written before their content is known. */
static inline void rmqi_buf_patch_be32(rmqi_buf_t *b, size_t off, uint32_t v) {
  if (!b->failed && off + 4 <= b->len)
    rmqi_store_be32(b->data + off, v);
}

/* Writes the decimal text of @p v into @p out (at least 21 bytes), returns
 * its length. Not NUL-terminated. */
size_t rmqi_fmt_i64_any(char *out, int64_t v);
static inline size_t rmqi_fmt_i64(char *out, int64_t v) {
  if (v >= 0 && v < 10) { /* queue ids, flags: most numbers in headers */
    out[0] = (char)('0' + v);
    return 1;
  }
  return rmqi_fmt_i64_any(out, v);
}

typedef struct rmqi_rd {
  const uint8_t *p;
  size_t len;
  size_t pos;
} rmqi_rd_t;

static inline void rmqi_rd_init(rmqi_rd_t *r, const void *p, size_t len) {
  r->p = (const uint8_t *)p;
  r->len = len;
  r->pos = 0;
}
static inline size_t rmqi_rd_left(const rmqi_rd_t *r) {
  return r->len - r->pos;
}
static inline bool rmqi_rd_u8(rmqi_rd_t *r, uint8_t *v) {
  if (rmqi_rd_left(r) < 1)
    return false;
  *v = r->p[r->pos++];
  return true;
}
static inline bool rmqi_rd_be16(rmqi_rd_t *r, uint16_t *v) {
  if (rmqi_rd_left(r) < 2)
    return false;
  *v = rmqi_load_be16(r->p + r->pos);
  r->pos += 2;
  return true;
}
static inline bool rmqi_rd_be32(rmqi_rd_t *r, uint32_t *v) {
  if (rmqi_rd_left(r) < 4)
    return false;
  *v = rmqi_load_be32(r->p + r->pos);
  r->pos += 4;
  return true;
}
static inline bool rmqi_rd_be64(rmqi_rd_t *r, uint64_t *v) {
  if (rmqi_rd_left(r) < 8)
    return false;
  *v = rmqi_load_be64(r->p + r->pos);
  r->pos += 8;
  return true;
}
/* Points *out at the next @p n bytes (no copy) and skips them. */
static inline bool rmqi_rd_bytes(rmqi_rd_t *r, size_t n, const uint8_t **out) {
  if (rmqi_rd_left(r) < n)
    return false;
  *out = r->p + r->pos;
  r->pos += n;
  return true;
}

#endif

/*
 * Message property strings (message.md §1): `name 0x01 value 0x02` per pair.
 *
 * Reading is zero-copy: an iterator hands out slices of the input with
 * exactly the entries Java's string2messageProperties keeps (at least 3
 * bytes, a non-empty name before the first 0x01, a non-empty value after
 * it, a missing final 0x02 tolerated). Duplicate names come out in input
 * order; Java keeps the last one, and so does rmqi_props_get (msgrec.h).
 * Writing appends pairs to an rmqi_buf_t after checking that neither side
 * holds a separator, since nothing escapes them.
 */
#ifndef RMQI_CODEC_PROPS_H
#define RMQI_CODEC_PROPS_H

#include "../util/buf.h"
#include "../util/err.h"

/* Stored records carry the string behind an int16 length. */
#define RMQI_PROPS_MAX_LEN 32767

typedef struct rmqi_props_it {
  const char *p;
  size_t n;
  size_t pos;
} rmqi_props_it_t;

static inline void rmqi_props_it_init(rmqi_props_it_t *it, const char *p,
                                      size_t n) {
  it->p = p;
  it->n = n;
  it->pos = 0;
}

/* The next entry Java would keep: true with name/value slices (not NUL-
 * terminated, pointing into the input), false at the end. Value bytes may
 * contain 0x01 (Java splits at the first one only). */
bool rmqi_props_next(rmqi_props_it_t *it, const char **name, size_t *nlen,
                     const char **value, size_t *vlen);

/* Number of entries Java keeps, duplicates counted once per occurrence. */
size_t rmqi_props_count(const char *p, size_t n);

/* Appends one pair with its trailing 0x02, as 5.x messageProperties2String
 * writes it (4.9.x drops the very last 0x02; readers accept both).
 * RMQ_ERR_INVALID_ARG (with the reason in @p e) when the name is empty or
 * either side holds 0x01/0x02. An empty value is written like Java writes
 * it (`name 0x01 0x02`), though every reader drops it. Allocation failure
 * shows in rmqi_buf_ok(b). */
rmq_err_t rmqi_props_put(rmqi_buf_t *b, const char *name, size_t nlen,
                         const char *value, size_t vlen, rmqi_errbuf_t *e);

/* RMQ_ERR_MSG_TOO_LARGE when an encoded string of @p len bytes cannot be
 * stored (over RMQI_PROPS_MAX_LEN; the broker would answer 13). */
rmq_err_t rmqi_props_check_len(size_t len, rmqi_errbuf_t *e);

#endif

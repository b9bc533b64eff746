#include "props.h"
#include "../util/swar.h"

#include <string.h>

bool rmqi_props_next(rmqi_props_it_t *it, const char **name, size_t *nlen,
                     const char **value, size_t *vlen) {
  while (it->pos < it->n) {
    const char *s = it->p + it->pos;
    size_t left = it->n - it->pos;
    const char *end = memchr(s, 2, left);
    size_t len = end ? (size_t)(end - s) : left;
    it->pos += end ? len + 1 : len;
    if (len < 3)
      continue;
    const char *sep = memchr(s, 1, len);
    if (sep == NULL || sep == s || sep == s + len - 1)
      continue; /* no separator, empty name or empty value: Java drops it */
    *name = s;
    *nlen = (size_t)(sep - s);
    *value = sep + 1;
    *vlen = len - *nlen - 1;
    return true;
  }
  return false;
}

size_t rmqi_props_count(const char *p, size_t n) {
  rmqi_props_it_t it;
  rmqi_props_it_init(&it, p, n);
  const char *k, *v;
  size_t kl, vl, count = 0;
  while (rmqi_props_next(&it, &k, &kl, &v, &vl))
    count++;
  return count;
}

static inline uint64_t sep_mask(uint64_t x) {
  return rmqi_swar_eq(x, 1) | rmqi_swar_eq(x, 2);
}

static inline uint64_t load32(const char *p) {
  const uint8_t *u = (const uint8_t *)p;
  return (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 |
         (uint64_t)u[3] << 24;
}

/* Whether s[0..n) holds a 0x01 or 0x02 separator byte, eight bytes per
 * test. The last word of a long string, and short strings, are read as
 * overlapping pieces (which may test a byte twice), so no byte loop and
 * no read outside the string. */
static bool has_sep(const char *s, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; n - i >= 8; i += 8)
      if (sep_mask(rmqi_load_le64(s + i)))
        return true;
    return sep_mask(rmqi_load_le64(s + n - 8)) != 0;
  }
  uint64_t x;
  if (n >= 4)
    x = load32(s) | load32(s + n - 4) << 32;
  else if (n > 0)
    x = (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n / 2] << 8 |
        (uint64_t)(uint8_t)s[n - 1] << 16;
  else
    return false;
  return sep_mask(x) != 0;
}

rmq_err_t rmqi_props_put(rmqi_buf_t *b, const char *name, size_t nlen,
                         const char *value, size_t vlen, rmqi_errbuf_t *e) {
  if (nlen == 0)
    return rmqi_err(e, RMQ_ERR_INVALID_ARG, 0, "property name is empty");
  if (has_sep(name, nlen))
    return rmqi_err(e, RMQ_ERR_INVALID_ARG, 0,
                    "property name holds a 0x01/0x02 separator byte");
  if (has_sep(value, vlen))
    return rmqi_err(e, RMQ_ERR_INVALID_ARG, 0,
                    "value of property %.*s holds a 0x01/0x02 separator byte",
                    (int)RMQI_MIN(nlen, 64), name);
  size_t need = nlen + vlen + 2;
  if (RMQI_UNLIKELY(b->cap - b->len < need) && !rmqi_buf_reserve(b, need))
    return RMQ_OK; /* the buffer is marked failed; callers check it */
  uint8_t *o = b->data + b->len;
  memcpy(o, name, nlen);
  o[nlen] = 1;
  memcpy(o + nlen + 1, value, vlen);
  o[nlen + 1 + vlen] = 2;
  b->len += need;
  return RMQ_OK;
}

rmq_err_t rmqi_props_check_len(size_t len, rmqi_errbuf_t *e) {
  if (len > RMQI_PROPS_MAX_LEN)
    return rmqi_err(e, RMQ_ERR_MSG_TOO_LARGE, 0,
                    "properties take %zu bytes, more than %d", len,
                    RMQI_PROPS_MAX_LEN);
  return RMQ_OK;
}

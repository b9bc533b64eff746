#include "props.h"

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

static bool has_sep(const char *s, size_t n) {
  return memchr(s, 1, n) != NULL || memchr(s, 2, n) != NULL;
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
  rmqi_buf_put(b, name, nlen);
  rmqi_buf_put_u8(b, 1);
  rmqi_buf_put(b, value, vlen);
  rmqi_buf_put_u8(b, 2);
  return RMQ_OK;
}

rmq_err_t rmqi_props_check_len(size_t len, rmqi_errbuf_t *e) {
  if (len > RMQI_PROPS_MAX_LEN)
    return rmqi_err(e, RMQ_ERR_MSG_TOO_LARGE, 0,
                    "properties take %zu bytes, more than %d", len,
                    RMQI_PROPS_MAX_LEN);
  return RMQ_OK;
}

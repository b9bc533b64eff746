/*
 * ROCKETMQ binary header (framing.md §5): code int16, language byte,
 * version int16, opaque int32, flag int32, remark (int32 length + UTF-8),
 * ext map (int32 total length, then int16 key length + key, int32 value
 * length + value per entry). A length of 0 means null, as in Java.
 */
#include "cmd_int.h"

#include <string.h>

rmq_err_t rmqi_cmd_encode_rocketmq(rmqi_buf_t *out, const rmqi_cmd_t *c) {
  /* Java writes (short) code: POP codes above 32767 cannot travel here. */
  if (c->code < INT16_MIN || c->code > INT16_MAX || c->version < INT16_MIN ||
      c->version > INT16_MAX)
    return RMQ_ERR_INVALID_ARG;
  rmqi_buf_put_be16(out, (uint16_t)(int16_t)c->code);
  rmqi_buf_put_u8(out, c->lang);
  rmqi_buf_put_be16(out, (uint16_t)(int16_t)c->version);
  rmqi_buf_put_be32(out, (uint32_t)c->opaque);
  rmqi_buf_put_be32(out, (uint32_t)c->flag);
  if (c->remark.p && c->remark.n) {
    rmqi_buf_put_be32(out, (uint32_t)c->remark.n);
    rmqi_buf_put(out, c->remark.p, c->remark.n);
  } else {
    rmqi_buf_put_be32(out, 0);
  }
  size_t len_at = out->len;
  rmqi_buf_put_be32(out, 0);
  size_t map_start = out->len;
  for (uint32_t i = 0; i < c->n_ext; i++) {
    const rmqi_ext_t *x = &c->ext[i];
    if (x->key.p == NULL || x->val.p == NULL) /* null entries are skipped */
      continue;
    if (x->key.n > INT16_MAX)
      return RMQ_ERR_LIMIT;
    rmqi_buf_put_be16(out, (uint16_t)x->key.n);
    rmqi_buf_put(out, x->key.p, x->key.n);
    rmqi_buf_put_be32(out, (uint32_t)x->val.n);
    rmqi_buf_put(out, x->val.p, x->val.n);
  }
  if (!rmqi_buf_ok(out))
    return RMQ_ERR_NOMEM;
  rmqi_buf_patch_be32(out, len_at, (uint32_t)(out->len - map_start));
  return RMQ_OK;
}

/* Reads a length-prefixed string; length 0 yields NULL as in Java. */
static rmq_err_t rd_str(rmqi_cmd_t *c, rmqi_rd_t *r, size_t len, size_t hlen,
                        rmqi_str_t *out, const char *what, rmqi_errbuf_t *e) {
  const uint8_t *p;
  if (len > hlen)
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r->pos,
                    "%s length %zu exceeds the header length %zu", what, len,
                    hlen);
  if (!rmqi_rd_bytes(r, len, &p))
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r->pos,
                    "%s of %zu bytes runs past the header", what, len);
  if (len == 0) {
    out->p = NULL;
    out->n = 0;
    return RMQ_OK;
  }
  char *s = rmqi_arena_strndup(&c->arena, (const char *)p, len);
  if (s == NULL)
    return rmqi_err(e, RMQ_ERR_NOMEM, r->pos, "out of memory");
  out->p = s;
  out->n = len;
  return RMQ_OK;
}

rmq_err_t rmqi_cmd_decode_rocketmq(rmqi_cmd_t *c, const uint8_t *h, size_t n,
                                   rmqi_errbuf_t *e) {
  rmqi_rd_t r;
  rmqi_rd_init(&r, h, n);
  uint16_t code, version;
  uint8_t lang;
  uint32_t opaque, flag, rlen, elen;
  if (!rmqi_rd_be16(&r, &code) || !rmqi_rd_u8(&r, &lang) ||
      !rmqi_rd_be16(&r, &version) || !rmqi_rd_be32(&r, &opaque) ||
      !rmqi_rd_be32(&r, &flag) || !rmqi_rd_be32(&r, &rlen))
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos,
                    "ROCKETMQ header shorter than its 17 fixed bytes");
  c->code = (int16_t)code; /* Java reads a signed short */
  c->lang = lang;
  c->version = (int16_t)version;
  c->opaque = (int32_t)opaque;
  c->flag = (int32_t)flag;
  rmq_err_t rc = rd_str(c, &r, rlen, n, &c->remark, "remark", e);
  if (rc != RMQ_OK)
    return rc;
  if (!rmqi_rd_be32(&r, &elen))
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos, "ext length missing");
  if (elen > rmqi_rd_left(&r))
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos,
                    "ext map length %u runs past the header", elen);
  size_t end = r.pos + elen;
  while (r.pos < end) {
    uint16_t kl;
    uint32_t vl;
    rmqi_str_t k, v;
    if (!rmqi_rd_be16(&r, &kl) || r.pos > end)
      return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos, "truncated ext key");
    if ((rc = rd_str(c, &r, kl, end - r.pos + 0, &k, "ext key", e)) != RMQ_OK)
      return rc;
    if (!rmqi_rd_be32(&r, &vl) || r.pos > end)
      return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos, "truncated ext value");
    if ((rc = rd_str(c, &r, vl, end - r.pos, &v, "ext value", e)) != RMQ_OK)
      return rc;
    if (k.p == NULL)
      continue; /* a null key names nothing */
    rmqi_ext_t *x = rmqi_cmd_ext_slot(c);
    if (x == NULL)
      return rmqi_err(e, RMQ_ERR_LIMIT, r.pos, "more than %d ext fields",
                      RMQI_MAX_EXT_FIELDS);
    x->key = k;
    x->val = v;
  }
  if (r.pos != n)
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos,
                    "%zu trailing bytes after the ext map", n - r.pos);
  return RMQ_OK;
}

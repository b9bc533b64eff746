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
  bool has_remark = c->remark.p && c->remark.n;
  size_t need = 21 + (has_remark ? c->remark.n : 0);
  for (uint32_t i = 0; i < c->n_ext; i++) {
    if (c->ext[i].key.n > INT16_MAX || c->ext[i].val.n > INT32_MAX)
      return RMQ_ERR_LIMIT;
    need += 6 + c->ext[i].key.n + c->ext[i].val.n;
  }
  if (need > INT32_MAX)
    return RMQ_ERR_LIMIT;
  /* One reservation, then plain stores: no bounds check per field. */
  if (!rmqi_buf_reserve(out, need))
    return RMQ_ERR_NOMEM;
  uint8_t *o = out->data + out->len;
  rmqi_store_be16(o, (uint16_t)(int16_t)c->code);
  o[2] = c->lang;
  rmqi_store_be16(o + 3, (uint16_t)(int16_t)c->version);
  rmqi_store_be32(o + 5, (uint32_t)c->opaque);
  rmqi_store_be32(o + 9, (uint32_t)c->flag);
  o += 13;
  rmqi_store_be32(o, has_remark ? (uint32_t)c->remark.n : 0);
  o += 4;
  if (has_remark) {
    memcpy(o, c->remark.p, c->remark.n);
    o += c->remark.n;
  }
  uint8_t *len_at = o;
  o += 4;
  for (uint32_t i = 0; i < c->n_ext; i++) {
    const rmqi_ext_t *x = &c->ext[i];
    if (x->key.p == NULL || x->val.p == NULL) /* null entries are skipped */
      continue;
    rmqi_store_be16(o, (uint16_t)x->key.n);
    memcpy(o + 2, x->key.p, x->key.n);
    o += 2 + x->key.n;
    rmqi_store_be32(o, (uint32_t)x->val.n);
    memcpy(o + 4, x->val.p, x->val.n);
    o += 4 + x->val.n;
  }
  rmqi_store_be32(len_at, (uint32_t)(o - len_at - 4));
  out->len = (size_t)(o - out->data);
  return RMQ_OK;
}

/* Where the strings of one header go: every string takes its length plus
 * a NUL, no more than the bytes it occupied with its length prefix, so a
 * block of the header's size holds them all (one block per decode). */
typedef struct strs {
  char *p;
  size_t left;
} strs_t;

/* Reads a length-prefixed string; length 0 yields NULL as in Java. */
static rmq_err_t rd_str(strs_t *st, rmqi_rd_t *r, size_t len, size_t hlen,
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
  if (len + 1 > st->left) /* cannot happen: see strs_t */
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, r->pos, "%s overflows", what);
  memcpy(st->p, p, len);
  st->p[len] = '\0';
  out->p = st->p;
  out->n = len;
  st->p += len + 1;
  st->left -= len + 1;
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
  strs_t st = {rmqi_cmd_str_block(c, n), n};
  if (st.p == NULL)
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
  rmq_err_t rc = rd_str(&st, &r, rlen, n, &c->remark, "remark", e);
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
    if ((rc = rd_str(&st, &r, kl, end - r.pos + 0, &k, "ext key", e)) != RMQ_OK)
      return rc;
    if (!rmqi_rd_be32(&r, &vl) || r.pos > end)
      return rmqi_err(e, RMQ_ERR_BAD_HEADER, r.pos, "truncated ext value");
    if ((rc = rd_str(&st, &r, vl, end - r.pos, &v, "ext value", e)) != RMQ_OK)
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

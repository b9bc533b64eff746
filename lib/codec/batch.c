#include "batch.h"

#include <string.h>

void rmqi_batch_put(rmqi_buf_t *b, int32_t flag, const uint8_t *body,
                    size_t body_len, const char *props, size_t props_len) {
  rmqi_buf_put_be32(b, (uint32_t)(RMQI_BATCH_ENTRY_FIXED + body_len +
                                  props_len));
  rmqi_buf_put_be32(b, 0); /* MAGICCODE: ignored by the broker */
  rmqi_buf_put_be32(b, 0); /* BODYCRC: the broker computes it */
  rmqi_buf_put_be32(b, (uint32_t)flag);
  rmqi_buf_put_be32(b, (uint32_t)body_len);
  rmqi_buf_put(b, body, body_len);
  rmqi_buf_put_be16(b, (uint16_t)props_len);
  rmqi_buf_put(b, props, props_len);
}

rmq_err_t rmqi_batch_decode(const uint8_t *p, size_t len,
                            rmqi_batch_entry_t *m, size_t *next,
                            rmqi_errbuf_t *e) {
  *next = 0;
  memset(m, 0, sizeof(*m)); /* defined fields even on failure */
  rmqi_rd_t r;
  rmqi_rd_init(&r, p, len);
  uint32_t magic, flag;
  if (!rmqi_rd_be32(&r, &m->total_size) || !rmqi_rd_be32(&r, &magic) ||
      !rmqi_rd_be32(&r, &m->body_crc) || !rmqi_rd_be32(&r, &flag) ||
      !rmqi_rd_be32(&r, &m->body_len))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "batch entry cut inside its fixed fields (%zu bytes)", len);
  m->flag = (int32_t)flag;
  if (m->total_size > len || !rmqi_rd_bytes(&r, m->body_len, &m->body))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, 0,
                    "batch entry of %u bytes (body %u) does not fit the %zu "
                    "bytes left",
                    m->total_size, m->body_len, len);
  const uint8_t *b;
  uint16_t pl;
  if (!rmqi_rd_be16(&r, &pl))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "batch entry cut before its properties length");
  if (pl > 0x7FFF) /* a negative int16: Java cannot read it either */
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos - 2,
                    "batch entry properties length %d is negative",
                    (int)(int16_t)pl);
  if (!rmqi_rd_bytes(&r, pl, &b))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "batch entry properties run past the input");
  m->props = (const char *)b;
  m->props_len = pl;
  if ((uint64_t)RMQI_BATCH_ENTRY_FIXED + m->body_len + pl != m->total_size)
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, 0,
                    "batch entry TOTALSIZE %u disagrees with its fields (%llu)",
                    m->total_size,
                    (unsigned long long)RMQI_BATCH_ENTRY_FIXED + m->body_len +
                        pl);
  *next = m->total_size;
  return RMQ_OK;
}

rmq_err_t rmqi_inner_batch_next(const rmqi_msgrec_t *outer, size_t *pos,
                                uint32_t *index, rmqi_msgrec_t *out,
                                rmqi_errbuf_t *e) {
  if (*pos >= outer->body_len)
    return RMQ_ERR_NOT_FOUND;
  rmqi_batch_entry_t ent;
  size_t next;
  rmq_err_t rc = rmqi_batch_decode(outer->body + *pos, outer->body_len - *pos,
                                   &ent, &next, e);
  if (rc != RMQ_OK) {
    if (e)
      e->pos += *pos;
    *pos = outer->body_len; /* no way to find the entry after a bad one */
    return rc;
  }
  *out = *outer;
  out->sys_flag &= ~(RMQI_SYS_INNER_BATCH | RMQI_SYS_NEED_UNWRAP);
  out->body_crc = ent.body_crc;
  out->flag = ent.flag;
  out->body = ent.body_len ? ent.body : NULL;
  out->body_len = ent.body_len;
  out->props = ent.props;
  out->props_len = ent.props_len;
  /* Wraps like Java's long arithmetic instead of overflowing. */
  out->queue_offset = (int64_t)((uint64_t)outer->queue_offset + *index);
  *pos += next;
  (*index)++;
  return RMQ_OK;
}

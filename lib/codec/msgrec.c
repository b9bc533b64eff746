#include "msgrec.h"
#include "msgid.h"

#include "../util/buf.h"
#include "../util/crc32.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static bool rd_host(rmqi_rd_t *r, bool v6, rmqi_host_t *h) {
  const uint8_t *a;
  uint32_t port;
  h->len = v6 ? 16 : 4;
  if (!rmqi_rd_bytes(r, h->len, &a) || !rmqi_rd_be32(r, &port))
    return false;
  memcpy(h->addr, a, h->len);
  h->port = port;
  return true;
}

rmq_err_t rmqi_msgrec_decode(const uint8_t *p, size_t len, rmqi_msgrec_t *m,
                             size_t *next, rmqi_errbuf_t *e) {
  *next = 0;
  if (len < 4)
    return rmqi_err(e, RMQ_ERR_TRUNCATED, 0, "%zu bytes left, no record", len);
  uint32_t total = rmqi_load_be32(p);
  /* The smallest record: fixed fields with IPv4 hosts and empty strings. */
  if (total <
          4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2 ||
      total > len)
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, 0,
                    "record size %u does not fit the %zu bytes left", total,
                    len);
  *next = total; /* from here on a bad record can be skipped */
  rmqi_rd_t r;
  rmqi_rd_init(&r, p, total);
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  memset(m, 0, sizeof(*m));
  m->total_size = total;
  r.pos = 4;
  rmqi_rd_be32(&r, &u32);
  m->magic = (int32_t)u32;
  if (m->magic != RMQI_MAGIC_V1 && m->magic != RMQI_MAGIC_V2)
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, 4, "unknown magic code 0x%08X",
                    u32);
  bool ok = rmqi_rd_be32(&r, &m->body_crc);
  ok = ok && rmqi_rd_be32(&r, &u32);
  m->queue_id = (int32_t)u32;
  ok = ok && rmqi_rd_be32(&r, &u32);
  m->flag = (int32_t)u32;
  ok = ok && rmqi_rd_be64(&r, &u64);
  m->queue_offset = (int64_t)u64;
  ok = ok && rmqi_rd_be64(&r, &u64);
  m->commitlog_offset = (int64_t)u64;
  ok = ok && rmqi_rd_be32(&r, &u32);
  m->sys_flag = (int32_t)u32;
  ok = ok && rmqi_rd_be64(&r, &u64);
  m->born_ts = (int64_t)u64;
  ok = ok && rd_host(&r, m->sys_flag & RMQI_SYS_BORNHOST_V6, &m->born);
  ok = ok && rmqi_rd_be64(&r, &u64);
  m->store_ts = (int64_t)u64;
  ok = ok && rd_host(&r, m->sys_flag & RMQI_SYS_STOREHOST_V6, &m->store);
  ok = ok && rmqi_rd_be32(&r, &u32);
  m->reconsume_times = (int32_t)u32;
  ok = ok && rmqi_rd_be64(&r, &u64);
  m->prepared_tx_offset = (int64_t)u64;
  if (!ok)
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "record of %u bytes ends inside its fixed fields", total);
  const uint8_t *b;
  if (!rmqi_rd_be32(&r, &m->body_len) || !rmqi_rd_bytes(&r, m->body_len, &b))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "body length runs past the record");
  m->body = m->body_len ? b : NULL;
  uint16_t tl = 0;
  if (m->magic == RMQI_MAGIC_V1) {
    uint8_t t8;
    ok = rmqi_rd_u8(&r, &t8);
    tl = t8;
  } else {
    ok = rmqi_rd_be16(&r, &tl);
  }
  if (!ok || !rmqi_rd_bytes(&r, tl, &b))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "topic length runs past the record");
  m->topic = (const char *)b;
  m->topic_len = tl;
  uint16_t pl;
  if (!rmqi_rd_be16(&r, &pl))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "properties length runs past the record");
  /* Java reads a short: past 32767 it is negative, Java's MessageDecoder
   * skips the properties and loses its place, and no broker stores one
   * (MessageExtEncoder refuses it). The record is refused, and with it
   * the up to 16384 entries such a string could hold. */
  if (pl > 0x7FFF)
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos - 2,
                    "properties length %u is over 32767 (a negative int16)",
                    (unsigned)pl);
  if (!rmqi_rd_bytes(&r, pl, &b))
    return rmqi_err(e, RMQ_ERR_BAD_MESSAGE, r.pos,
                    "properties length runs past the record");
  m->props = (const char *)b;
  m->props_len = pl;
  return RMQ_OK;
}

static void put_host(rmqi_buf_t *b, const rmqi_host_t *h) {
  rmqi_buf_put(b, h->addr, h->len == 16 ? 16 : 4);
  rmqi_buf_put_be32(b, h->port);
}

void rmqi_msgrec_encode(rmqi_buf_t *b, const rmqi_msgrec_t *r) {
  bool v2 = r->topic_len > 127;
  int32_t sys = r->sys_flag & ~(RMQI_SYS_BORNHOST_V6 | RMQI_SYS_STOREHOST_V6);
  if (r->born.len == 16)
    sys |= RMQI_SYS_BORNHOST_V6;
  if (r->store.len == 16)
    sys |= RMQI_SYS_STOREHOST_V6;
  uint32_t crc = rmqi_crc32(0, r->body, r->body_len) & 0x7FFFFFFF;
  size_t start = b->len;
  rmqi_buf_put_be32(b, 0); /* TOTALSIZE, patched below */
  rmqi_buf_put_be32(b, (uint32_t)(v2 ? RMQI_MAGIC_V2 : RMQI_MAGIC_V1));
  rmqi_buf_put_be32(b, crc);
  rmqi_buf_put_be32(b, (uint32_t)r->queue_id);
  rmqi_buf_put_be32(b, (uint32_t)r->flag);
  rmqi_buf_put_be64(b, (uint64_t)r->queue_offset);
  rmqi_buf_put_be64(b, (uint64_t)r->commitlog_offset);
  rmqi_buf_put_be32(b, (uint32_t)sys);
  rmqi_buf_put_be64(b, (uint64_t)r->born_ts);
  put_host(b, &r->born);
  rmqi_buf_put_be64(b, (uint64_t)r->store_ts);
  put_host(b, &r->store);
  rmqi_buf_put_be32(b, (uint32_t)r->reconsume_times);
  rmqi_buf_put_be64(b, (uint64_t)r->prepared_tx_offset);
  rmqi_buf_put_be32(b, r->body_len);
  rmqi_buf_put(b, r->body, r->body_len);
  if (v2)
    rmqi_buf_put_be16(b, r->topic_len);
  else
    rmqi_buf_put_u8(b, (uint8_t)r->topic_len);
  rmqi_buf_put(b, r->topic, r->topic_len);
  rmqi_buf_put_be16(b, r->props_len);
  rmqi_buf_put(b, r->props, r->props_len);
  rmqi_buf_patch_be32(b, start, (uint32_t)(b->len - start));
}

rmq_err_t rmqi_msgrec_check_crc(const rmqi_msgrec_t *m, rmqi_errbuf_t *e) {
  uint32_t crc = rmqi_crc32(0, m->body, m->body_len) & 0x7FFFFFFF;
  if (crc != m->body_crc)
    return rmqi_err(e, RMQ_ERR_BAD_CRC, 0,
                    "body CRC %u does not match the stored %u", crc,
                    m->body_crc);
  return RMQ_OK;
}

rmq_err_t rmqi_msgrec_inflate(const rmqi_msgrec_t *m, size_t max, uint8_t **out,
                              size_t *out_len, rmqi_errbuf_t *e) {
  *out = NULL;
  *out_len = 0;
  if (!(m->sys_flag & RMQI_SYS_COMPRESSED))
    return RMQ_OK;
  int type = (m->sys_flag & RMQI_SYS_COMPRESSION_MASK) >> 8;
  if (type != 0 && type != 3) /* 0 means zlib for compatibility */
    return rmqi_err(e, RMQ_ERR_COMPRESSION, 0,
                    "compression type %d (%s) is not supported", type,
                    type == 1   ? "LZ4"
                    : type == 2 ? "ZSTD"
                                : "unknown");
  z_stream z;
  memset(&z, 0, sizeof(z));
  if (inflateInit(&z) != Z_OK)
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "zlib init failed");
  size_t cap = (size_t)m->body_len * 4 + 64, len = 0;
  if (cap > max)
    cap = max;
  uint8_t *buf = malloc(cap ? cap : 1);
  z.next_in = (Bytef *)m->body;
  z.avail_in = m->body_len;
  int rc = Z_OK;
  while (buf && rc == Z_OK) {
    if (len == cap) {
      if (cap >= max) {
        rc = Z_BUF_ERROR;
        break;
      }
      size_t ncap = cap * 2 > max ? max : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (nb == NULL)
        break;
      buf = nb;
      cap = ncap;
    }
    z.next_out = buf + len;
    z.avail_out = (uInt)(cap - len);
    rc = inflate(&z, Z_NO_FLUSH);
    len = cap - z.avail_out;
    if (rc == Z_BUF_ERROR && z.avail_out != 0)
      break; /* no progress possible: the input ended early */
    if (rc == Z_BUF_ERROR)
      rc = Z_OK;
  }
  inflateEnd(&z);
  if (buf == NULL)
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory inflating a body");
  if (rc != Z_STREAM_END) {
    free(buf);
    if (len >= max)
      return rmqi_err(e, RMQ_ERR_LIMIT, 0,
                      "compressed body of %u bytes inflates past the "
                      "%zu-byte limit (maxInflatedBodySize)",
                      m->body_len, max);
    return rmqi_err(e, RMQ_ERR_COMPRESSION, 0, "corrupt zlib body");
  }
  *out = buf;
  *out_len = len;
  return RMQ_OK;
}

void rmqi_msgrec_offset_id(const rmqi_msgrec_t *m, char out[57]) {
  uint8_t b[28];
  size_t n = m->store.len == 16 ? 16 : 4;
  memcpy(b, m->store.addr, n);
  rmqi_store_be32(b + n, m->store.port);
  rmqi_store_be64(b + n + 4, (uint64_t)m->commitlog_offset);
  rmqi_hex_upper(out, b, n + 12);
}

rmq_err_t rmqi_offset_id_decode(const char *id, size_t n, rmqi_host_t *host,
                                int64_t *offset, rmqi_errbuf_t *e) {
  if (n != 32 && n != 56)
    return rmqi_err(e, RMQ_ERR_BAD_MSGID, 0,
                    "offset message id has %zu characters, not 32 or 56", n);
  uint8_t b[28];
  size_t bad = rmqi_unhex(id, n, b);
  if (bad != n)
    return rmqi_err(e, RMQ_ERR_BAD_MSGID, bad,
                    "offset message id has a non-hex character");
  host->len = n == 32 ? 4 : 16;
  memcpy(host->addr, b, host->len);
  host->port = rmqi_load_be32(b + host->len);
  *offset = (int64_t)rmqi_load_be64(b + host->len + 4);
  return RMQ_OK;
}

const char *rmqi_props_get(const char *p, size_t n, const char *name,
                           size_t *vlen) {
  size_t nl = strlen(name);
  if (p == NULL || n == 0) /* no table yet (NULL + 0 is undefined in C) */
    return NULL;
  const char *found = NULL, *end = p + n;
  /* A name holding 0x01 or 0x02 can never match an entry's name. */
  if (nl == 0 || memchr(name, 1, nl) || memchr(name, 2, nl))
    return NULL;
  for (const char *s = p; s < end;) {
    const char *e = memchr(s, 2, (size_t)(end - s));
    if (e == NULL)
      e = end;
    /* Java keeps an entry with a name and a value (so >= 3 bytes), split
     * at its first 0x01: here that is right after our name. */
    size_t el = (size_t)(e - s);
    if (el > nl + 1 && s[nl] == 1 && memcmp(s, name, nl) == 0) {
      found = s + nl + 1;
      *vlen = el - nl - 1;
    }
    s = e + 1;
  }
  return found;
}

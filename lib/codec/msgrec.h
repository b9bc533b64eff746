/*
 * Stored-message records, as pull, query and check-back bodies carry them
 * (message.md §6): both magic codes, IPv4/IPv6 born and store hosts, the
 * sysFlag compression bits, body CRC. Decoding is zero-copy: body, topic and
 * properties point into the input.
 */
#ifndef RMQI_CODEC_MSGREC_H
#define RMQI_CODEC_MSGREC_H

#include "../util/buf.h"
#include "../util/err.h"

enum {
  RMQI_MAGIC_V1 = (int32_t)0xDAA320A7,
  RMQI_MAGIC_V2 = (int32_t)0xDAA320AB,
  RMQI_SYS_COMPRESSED = 0x1,
  RMQI_SYS_BORNHOST_V6 = 0x10,
  RMQI_SYS_STOREHOST_V6 = 0x20,
  RMQI_SYS_COMPRESSION_MASK = 0x700,
};

typedef struct rmqi_host {
  uint8_t addr[16];
  uint8_t len; /* 4 or 16 */
  uint32_t port;
} rmqi_host_t;

typedef struct rmqi_msgrec {
  uint32_t total_size;
  int32_t magic;
  uint32_t body_crc;
  int32_t queue_id;
  int32_t flag;
  int64_t queue_offset;
  int64_t commitlog_offset;
  int32_t sys_flag;
  int64_t born_ts;
  rmqi_host_t born;
  int64_t store_ts;
  rmqi_host_t store;
  int32_t reconsume_times;
  int64_t prepared_tx_offset;
  const uint8_t *body; /* as stored: compressed when sys_flag says so */
  uint32_t body_len;
  const char *topic; /* not NUL-terminated */
  uint16_t topic_len;
  const char *props; /* the property string, not NUL-terminated */
  uint16_t props_len;
} rmqi_msgrec_t;

/*
 * Decodes the record at the start of @p p. On success *next is its size.
 * On failure *next says how to go on: the record's TOTALSIZE when that was
 * sane (skip this one message and continue), or 0 when the rest of the
 * buffer cannot be trusted (stop).
 */
rmq_err_t rmqi_msgrec_decode(const uint8_t *p, size_t len, rmqi_msgrec_t *r,
                             size_t *next, rmqi_errbuf_t *e);

/* Appends @p r as a stored record (the broker's encoder, message.md §6):
 * TOTALSIZE and BODYCRC are computed (r->total_size and r->body_crc are
 * ignored), MAGIC is V1 for topics up to 127 bytes and V2 above (as a 5.x
 * broker chooses), the host address lengths come from r->born.len and
 * r->store.len (16: the V6 sysFlag bits are set). Allocation failure shows
 * in rmqi_buf_ok(b). */
void rmqi_msgrec_encode(rmqi_buf_t *b, const rmqi_msgrec_t *r);

/* RMQ_OK when crc32(body) & 0x7FFFFFFF equals the stored BODYCRC. */
rmq_err_t rmqi_msgrec_check_crc(const rmqi_msgrec_t *r, rmqi_errbuf_t *e);

/* For a compressed record: inflates the body (zlib; LZ4 and ZSTD are
 * RMQ_ERR_COMPRESSION) into malloc'd *out, refusing more than @p max bytes.
 * For an uncompressed one, *out is NULL and nothing is done. */
rmq_err_t rmqi_msgrec_inflate(const rmqi_msgrec_t *r, size_t max, uint8_t **out,
                              size_t *out_len, rmqi_errbuf_t *e);

/* The offset message id (store host + commit-log offset), 32 or 56 upper-
 * case hex characters. */
void rmqi_msgrec_offset_id(const rmqi_msgrec_t *r, char out[57]);

/* Decodes an offset message id (32 hex characters for IPv4, 56 for IPv6;
 * either case) into the store host and commit-log offset. */
rmq_err_t rmqi_offset_id_decode(const char *id, size_t n, rmqi_host_t *host,
                                int64_t *offset, rmqi_errbuf_t *e);

/* Java string2messageProperties lookup: the value of the last well-formed
 * entry named @p name (entries need a non-empty name and value), or NULL. */
const char *rmqi_props_get(const char *p, size_t n, const char *name,
                           size_t *vlen);

#endif

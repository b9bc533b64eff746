/*
 * Deflate streams kept between messages (issue 16, doc/performance.md
 * "Compression"). zlib's compress2 runs deflateInit, deflate and deflateEnd
 * per call: at the default window and memLevel that allocates and frees
 * about 270 KiB per message, which costs more than deflating a
 * compressible 16 KiB body. A stream taken from the pool is only
 * deflateReset (a clear of its 64 KiB hash head) and gives the same bytes
 * as compress2 at the same level. Idle streams are capped: a burst of more
 * concurrent senders than that allocates, and frees the extra on return.
 * Thread-safe; nothing is allocated until the first compression.
 */
#ifndef RMQI_UTIL_ZPOOL_H
#define RMQI_UTIL_ZPOOL_H

#include "common.h"

#include <pthread.h>

enum { RMQI_ZPOOL_IDLE = 4 };

struct z_stream_s;

typedef struct rmqi_zpool {
  pthread_mutex_t lock;
  int level;
  size_t n_idle; /* under lock */
  struct z_stream_s *idle[RMQI_ZPOOL_IDLE];
} rmqi_zpool_t;

/* @p level: zlib's 0..9 (compressLevel). */
void rmqi_zpool_init(rmqi_zpool_t *zp, int level);
/* Frees the idle streams; no compression may be running. */
void rmqi_zpool_free(rmqi_zpool_t *zp);

/* Compresses @p len bytes at @p src into one zlib stream (RFC 1950, what
 * Java's Inflater reads) in a new malloc'd *out of *out_len bytes, owned by
 * the caller. RMQ_ERR_NOMEM, or RMQ_ERR_COMPRESSION when zlib fails. */
rmq_err_t rmqi_zpool_compress(rmqi_zpool_t *zp, const uint8_t *src,
                              size_t len, uint8_t **out, size_t *out_len);

#endif

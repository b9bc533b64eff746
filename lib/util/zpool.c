#include "zpool.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

void rmqi_zpool_init(rmqi_zpool_t *zp, int level) {
  pthread_mutex_init(&zp->lock, NULL);
  zp->level = level;
  zp->n_idle = 0;
}

void rmqi_zpool_free(rmqi_zpool_t *zp) {
  for (size_t i = 0; i < zp->n_idle; i++) {
    deflateEnd(zp->idle[i]);
    free(zp->idle[i]);
  }
  zp->n_idle = 0;
  pthread_mutex_destroy(&zp->lock);
}

/* An idle stream, reset, or a new one; NULL when out of memory. */
static z_stream *take(rmqi_zpool_t *zp) {
  z_stream *z = NULL;
  pthread_mutex_lock(&zp->lock);
  if (zp->n_idle > 0)
    z = zp->idle[--zp->n_idle];
  pthread_mutex_unlock(&zp->lock);
  if (z != NULL) {
    if (deflateReset(z) == Z_OK)
      return z;
    deflateEnd(z);
    free(z);
  }
  z = calloc(1, sizeof(*z));
  if (z != NULL && deflateInit(z, zp->level) != Z_OK) {
    free(z);
    z = NULL;
  }
  return z;
}

static void give_back(rmqi_zpool_t *zp, z_stream *z) {
  pthread_mutex_lock(&zp->lock);
  bool kept = zp->n_idle < RMQI_ZPOOL_IDLE;
  if (kept)
    zp->idle[zp->n_idle++] = z;
  pthread_mutex_unlock(&zp->lock);
  if (!kept) {
    deflateEnd(z);
    free(z);
  }
}

rmq_err_t rmqi_zpool_compress(rmqi_zpool_t *zp, const uint8_t *src,
                              size_t len, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (len > UINT_MAX / 2) /* avail_in is an unsigned int */
    return RMQ_ERR_COMPRESSION;
  z_stream *z = take(zp);
  if (z == NULL)
    return RMQ_ERR_NOMEM;
  uLong cap = deflateBound(z, (uLong)len);
  uint8_t *buf = malloc(cap);
  if (buf == NULL) {
    give_back(zp, z);
    return RMQ_ERR_NOMEM;
  }
  z->next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const */
  z->avail_in = (uInt)len;
  z->next_out = buf;
  z->avail_out = (uInt)cap;
  /* deflateBound's room lets one Z_FINISH call end the stream */
  int rc = deflate(z, Z_FINISH);
  size_t n = cap - z->avail_out;
  give_back(zp, z);
  if (rc != Z_STREAM_END) {
    free(buf);
    return RMQ_ERR_COMPRESSION;
  }
  *out = buf;
  *out_len = n;
  return RMQ_OK;
}

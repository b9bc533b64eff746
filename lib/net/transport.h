/*
 * The byte stream under a connection. The loop and the framing code only
 * call these operations, so a TLS transport (OpenSSL's non-blocking API)
 * slots in without touching them — curl's connection filters in miniature.
 * Loop thread only.
 */
#ifndef RMQI_NET_TRANSPORT_H
#define RMQI_NET_TRANSPORT_H

#include "../util/common.h"

#include <sys/types.h>

typedef struct rmqi_transport rmqi_transport_t;

typedef struct rmqi_transport_ops {
  /* Like recv/send on a non-blocking socket: > 0 bytes moved; read returns
   * 0 when the peer closed; -1 with errno set (EAGAIN: try again when the
   * socket is ready). */
  ssize_t (*read)(rmqi_transport_t *t, void *buf, size_t n);
  ssize_t (*write)(rmqi_transport_t *t, const void *buf, size_t n);
  /* Called once the TCP connection is up: 1 ready, 0 in progress (call
   * again on the next readiness event), -1 failed (errno or *why set). */
  int (*start)(rmqi_transport_t *t, const char **why);
  void (*destroy)(rmqi_transport_t *t);
} rmqi_transport_ops_t;

struct rmqi_transport {
  const rmqi_transport_ops_t *ops;
  int fd;
};

/* Plain TCP over @p fd (which the transport does not close). */
rmqi_transport_t *rmqi_transport_plain(int fd);

#endif

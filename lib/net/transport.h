/*
 * The byte stream under a connection. The loop and the framing code only
 * call these operations, so a TLS transport (OpenSSL's non-blocking API,
 * tls.c) slots in without touching them — curl's connection filters in
 * miniature. Loop thread only.
 */
#ifndef RMQI_NET_TRANSPORT_H
#define RMQI_NET_TRANSPORT_H

#include "../util/common.h"

#include <sys/types.h>
#include <sys/uio.h>

typedef struct rmqi_transport rmqi_transport_t;

typedef struct rmqi_transport_ops {
  /* Like recv/send on a non-blocking socket: > 0 bytes moved; read returns
   * 0 when the peer closed; -1 with errno set (EAGAIN: try again when the
   * socket is ready, see flags). On another failure t->why may name it. */
  ssize_t (*read)(rmqi_transport_t *t, void *buf, size_t n);
  ssize_t (*write)(rmqi_transport_t *t, const void *buf, size_t n);
  /* Called once the TCP connection is up, and again on every readiness
   * event until it is done: 1 ready, 0 in progress (EPOLLOUT is needed
   * when flags has RMQI_TR_READ_WANTS_OUT), or a negative rmq_err_t with
   * t->why (or errno) naming the failure. */
  int (*start)(rmqi_transport_t *t);
  void (*destroy)(rmqi_transport_t *t);
  /* Like writev, with write's results; NULL: the connection writes the
   * pieces one by one with write (TLS, whose records copy anyway). */
  ssize_t (*writev)(rmqi_transport_t *t, const struct iovec *iov, int n);
} rmqi_transport_ops_t;

/* flags: what a transport that returned EAGAIN waits for, when that is
 * not the obvious readiness (TLS: a record layer may need to write while
 * reading, or read while writing). A plain socket never sets them. */
enum {
  RMQI_TR_READ_WANTS_OUT = 1, /* read (or start) waits for writability */
  RMQI_TR_WRITE_WANTS_IN = 2, /* write waits for readability */
};

struct rmqi_transport {
  const rmqi_transport_ops_t *ops;
  int fd;
  unsigned flags;  /* RMQI_TR_* */
  const char *why; /* the last failure, NULL when errno says it all */
};

/* Plain TCP over @p fd (which the transport does not close). */
rmqi_transport_t *rmqi_transport_plain(int fd);

#endif

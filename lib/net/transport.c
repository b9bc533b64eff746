#include "transport.h"

#include <stdlib.h>
#include <sys/socket.h>

static ssize_t plain_read(rmqi_transport_t *t, void *buf, size_t n) {
  return recv(t->fd, buf, n, 0);
}

static ssize_t plain_write(rmqi_transport_t *t, const void *buf, size_t n) {
  return send(t->fd, buf, n, MSG_NOSIGNAL);
}

static ssize_t plain_writev(rmqi_transport_t *t, const struct iovec *iov,
                            int n) {
  struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
  return sendmsg(t->fd, &mh, MSG_NOSIGNAL);
}

static int plain_start(rmqi_transport_t *t) {
  (void)t;
  return 1;
}

static void plain_destroy(rmqi_transport_t *t) {
  free(t);
}

static const rmqi_transport_ops_t plain_ops = {
    plain_read, plain_write, plain_start, plain_destroy, plain_writev};

rmqi_transport_t *rmqi_transport_plain(int fd) {
  rmqi_transport_t *t = malloc(sizeof(*t));
  if (t)
    *t = (rmqi_transport_t){&plain_ops, fd, 0, NULL};
  return t;
}

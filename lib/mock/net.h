/* Sockets of the mock servers, shared with the tests' scriptable mock
 * (tests/mock): listening on 127.0.0.1 and accepting, non-blocking. */
#ifndef RMQI_MOCK_NET_H
#define RMQI_MOCK_NET_H

#include <stdint.h>

typedef struct rmqi_mock_addr {
  uint8_t ip[4];
  uint32_t port;
} rmqi_mock_addr_t;

/* A non-blocking listening socket on 127.0.0.1:*port (0: an ephemeral
 * port, written back to *port), SO_REUSEADDR, close-on-exec; -1 on
 * failure (errno set). */
int rmqi_mock_listen(int *port);
/* The next pending connection of @p lfd, non-blocking with TCP_NODELAY,
 * and its peer's address; -1 when none is pending. */
int rmqi_mock_accept(int lfd, rmqi_mock_addr_t *peer);
int rmqi_mock_nonblock(int fd);

#endif

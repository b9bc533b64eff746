/*
 * The name server list: `host:port;host:port`, shuffled once so that many
 * clients spread over the servers, then sticky: requests go to the current
 * server until a transport failure moves the index to the next one
 * (framing.md §8, Java NettyRemotingClient's name server selection).
 * Thread-safe.
 */
#ifndef RMQI_CLIENT_NSLIST_H
#define RMQI_CLIENT_NSLIST_H

#include "../util/common.h"

#include <stdatomic.h>

typedef struct rmqi_nslist {
  char **addrs;
  size_t n;
  _Atomic size_t cur;
} rmqi_nslist_t;

/* Parses @p list (validated by the conf table) and shuffles it with
 * @p seed. RMQ_ERR_NO_NAMESRV when the list is empty. */
rmq_err_t rmqi_nslist_init(rmqi_nslist_t *l, const char *list, uint64_t seed);
void rmqi_nslist_free(rmqi_nslist_t *l);

/* The address to use now. */
const char *rmqi_nslist_current(rmqi_nslist_t *l);
/* After a transport failure with @p addr: move on, unless another thread
 * already did. */
void rmqi_nslist_failed(rmqi_nslist_t *l, const char *addr);

#endif

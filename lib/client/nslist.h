/*
 * The name server list: `host:port;host:port`, shuffled once so that many
 * clients spread over the servers, then sticky: requests go to the current
 * server until a transport failure moves the index to the next one
 * (framing.md §8, Java NettyRemotingClient's name server selection).
 * The address server (namesrvDomain) may replace the whole list at any
 * time (Java's updateNameServerAddressList): readers therefore copy the
 * current address out under the list's lock. Thread-safe.
 */
#ifndef RMQI_CLIENT_NSLIST_H
#define RMQI_CLIENT_NSLIST_H

#include "../util/common.h"

#include <pthread.h>
#include <stdatomic.h>

/* Longest entry: a 253-character host name, brackets, colon and port. */
#define RMQI_NSLIST_ADDR_MAX 264

typedef struct rmqi_nslist {
  pthread_mutex_t lock;
  char **addrs;
  size_t n;
  _Atomic size_t cur;
  char *text; /* the list as last set (replace compares answers to it) */
  uint64_t seed;
} rmqi_nslist_t;

/* Parses @p list (validated by rmqi_nslist_check) and shuffles it with
 * @p seed. RMQ_ERR_NO_NAMESRV when the list is empty, unless
 * @p allow_empty (an address server will fill it). */
rmq_err_t rmqi_nslist_init(rmqi_nslist_t *l, const char *list, uint64_t seed);
rmq_err_t rmqi_nslist_init_empty(rmqi_nslist_t *l, uint64_t seed);
void rmqi_nslist_free(rmqi_nslist_t *l);

/* Copies the address to use now into @p buf and returns it; NULL when the
 * list is empty. */
const char *rmqi_nslist_current(rmqi_nslist_t *l,
                                char buf[RMQI_NSLIST_ADDR_MAX]);
size_t rmqi_nslist_count(rmqi_nslist_t *l);
/* The whole list as "a;b;c;" (shuffled order) into @p buf, truncated. */
void rmqi_nslist_format(rmqi_nslist_t *l, char *buf, size_t n);
/* After a transport failure with @p addr: move on, unless another thread
 * already did. */
void rmqi_nslist_failed(rmqi_nslist_t *l, const char *addr);
/* Replaces the list with @p list (checked first) when it differs from the
 * last one set; *changed says whether it did. */
rmq_err_t rmqi_nslist_replace(rmqi_nslist_t *l, const char *list,
                              bool *changed);

/* Whether @p v is a `host:port;...` list (an empty list passes); on
 * failure @p err names the entry, prefixed with @p what. */
bool rmqi_nslist_check(const char *v, const char *what, char *err, size_t n);

#endif

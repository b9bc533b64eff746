/*
 * Name server discovery through an address server (namesrvDomain; Java's
 * TopAddressing with MixAll.getWSAddr): a thread of its own fetches
 * `http://<domain>[:8080]/rocketmq/<subgroup>[-<unit>?nofix=1]` with an
 * HTTP/1.0 GET at start and every interval, and hands each good answer to
 * a callback. Every step has the timeout (connect, send, receive); the
 * answer is bounded (RMQI_NSADDR_MAX) and checked (codec/nsaddr.c). The
 * thread never runs on the client's loop and never blocks it.
 */
#ifndef RMQI_CLIENT_ADDRSRV_H
#define RMQI_CLIENT_ADDRSRV_H

#include "../util/log.h"

typedef struct rmqi_addrsrv rmqi_addrsrv_t;

/* An answer: @p list is the name server list as served (checked by
 * rmqi_nslist_check's rules). Runs on the fetcher thread; never after
 * rmqi_addrsrv_stop has returned. */
typedef void (*rmqi_addrsrv_fn)(void *arg, const char *list);

typedef struct rmqi_addrsrv_opts {
  const char *domain;   /* host, host:port or [v6]:port */
  const char *subgroup; /* "nsaddr" */
  const char *unit;     /* unitName, or "" */
  int64_t interval_ms;
  int64_t timeout_ms; /* one fetch in all */
  const rmqi_log_t *log;
  rmqi_addrsrv_fn fn;
  void *arg;
} rmqi_addrsrv_opts_t;

/* Starts the thread and waits for its first fetch (at most timeout_ms):
 * when this returns RMQ_OK, @p fn has run once if the server answered. */
rmq_err_t rmqi_addrsrv_start(rmqi_addrsrv_t **out,
                             const rmqi_addrsrv_opts_t *o);
/* Stops the thread: joined, or detached when it is inside getaddrinfo
 * (which cannot be interrupted; it then cleans up after itself). NULL is
 * allowed. */
void rmqi_addrsrv_stop(rmqi_addrsrv_t *a);

/* The URL's parts as Java builds them: "host:port" and the path. */
void rmqi_addrsrv_url(const char *domain, const char *subgroup,
                      const char *unit, char *host, size_t host_n, char *path,
                      size_t path_n);

/* One fetch (tests): the answer's list into @p out. */
rmq_err_t rmqi_addrsrv_fetch_once(const char *host, const char *path,
                                  int64_t timeout_ms, int wake_fd, char *out,
                                  size_t out_n, char *err, size_t err_n);

#endif

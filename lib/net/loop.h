/*
 * The I/O loop: one epoll thread per client instance. It owns the sockets
 * and the timers; other threads reach it only through rmqi_loop_post(),
 * which wakes it through an eventfd. It never blocks and never runs user
 * code (user callbacks go through lib/util/disp.h).
 */
#ifndef RMQI_NET_LOOP_H
#define RMQI_NET_LOOP_H

#include "../util/common.h"

typedef struct rmqi_loop rmqi_loop_t;
typedef struct rmqi_timer rmqi_timer_t;
typedef void (*rmqi_loop_fn)(void *arg);
typedef void (*rmqi_io_fn)(void *arg, uint32_t events);

rmq_err_t rmqi_loop_new(rmqi_loop_t **out);
/* Starts the thread. */
rmq_err_t rmqi_loop_start(rmqi_loop_t *l);
/* Stops and joins the thread (not from the loop thread); also valid on a
 * loop never started. Closures posted but not yet run are run by the
 * caller, so none is lost; from here rmqi_loop_post refuses. */
void rmqi_loop_stop(rmqi_loop_t *l);
void rmqi_loop_free(rmqi_loop_t *l);

/* Runs @p fn(arg) on the loop thread soon. Any thread. Once
 * rmqi_loop_stop has begun it returns RMQ_ERR_SHUTDOWN and @p fn never
 * runs; a closure accepted earlier always runs (on the loop, or in
 * rmqi_loop_stop on the stopping thread). */
rmq_err_t rmqi_loop_post(rmqi_loop_t *l, rmqi_loop_fn fn, void *arg);
/* A closure the caller stores (rmqi_loop_post_node): posting it needs no
 * memory, for the one thing that must reach the loop even when none is
 * left. */
typedef struct rmqi_loop_node {
  rmqi_loop_fn fn;
  void *arg;
  struct rmqi_loop_node *next; /* the loop's */
} rmqi_loop_node_t;
/* rmqi_loop_post with @p n's fn and arg; fails only once rmqi_loop_stop
 * has begun (RMQ_ERR_SHUTDOWN). @p n stays the caller's until it runs. */
rmq_err_t rmqi_loop_post_node(rmqi_loop_t *l, rmqi_loop_node_t *n);
/* True on the loop thread while it runs (any thread may ask). */
bool rmqi_loop_on_thread(const rmqi_loop_t *l);

/* Loop thread only: watch @p fd for EPOLLIN/EPOLLOUT (@p events). */
rmq_err_t rmqi_loop_add_fd(rmqi_loop_t *l, int fd, uint32_t events,
                           rmqi_io_fn fn, void *arg);
rmq_err_t rmqi_loop_mod_fd(rmqi_loop_t *l, int fd, uint32_t events,
                           rmqi_io_fn fn, void *arg);
void rmqi_loop_del_fd(rmqi_loop_t *l, int fd);

/* Loop thread only: a timer firing after @p first_ms, then every
 * @p period_ms (0: once). Cancel before its arg goes away. */
rmqi_timer_t *rmqi_loop_timer(rmqi_loop_t *l, int64_t first_ms,
                              int64_t period_ms, rmqi_loop_fn fn, void *arg);
void rmqi_loop_timer_cancel(rmqi_loop_t *l, rmqi_timer_t *t);

#endif

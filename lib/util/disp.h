/*
 * Dispatcher for closures that must not run on the I/O thread (user
 * callbacks): either a small thread pool, or a poll queue that the
 * application drains from its own thread with rmqi_disp_poll(), with an
 * eventfd that is readable while something is queued.
 *
 * Thread-safe. Closures run in submission order per thread.
 */
#ifndef RMQI_DISP_H
#define RMQI_DISP_H

#include "common.h"

#include <pthread.h>

typedef void (*rmqi_fn)(void *arg);

typedef struct rmqi_job {
  rmqi_fn fn;
  void *arg;
} rmqi_job_t;

typedef struct rmqi_disp {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  rmqi_job_t *ring;
  size_t cap, head, len;
  bool stopping;
  bool poll_mode;
  int efd; /* poll mode: readable while len > 0 */
  pthread_t *threads;
  size_t n_threads;
  size_t running; /* closures currently running (pool mode) */
  size_t waiting; /* pool threads asleep on cond */
  pthread_cond_t idle;
} rmqi_disp_t;

/* @p threads > 0: pool mode with that many threads; 0: poll mode. */
rmq_err_t rmqi_disp_init(rmqi_disp_t *d, size_t threads);
/* Runs everything still queued (on the pool threads, or on the caller in
 * poll mode), then joins the threads. */
void rmqi_disp_destroy(rmqi_disp_t *d);
/* Queues a closure; never blocks for long; RMQ_ERR_NOMEM or
 * RMQ_ERR_SHUTDOWN (after destroy began) on failure. */
rmq_err_t rmqi_disp_submit(rmqi_disp_t *d, rmqi_fn fn, void *arg);
/* Poll mode: runs queued closures on the caller, waiting up to
 * @p timeout_ms (-1 forever) for the first. Returns how many ran. */
int rmqi_disp_poll(rmqi_disp_t *d, int timeout_ms);

/* Number of threads of this process (/proc/self/task), for tests that
 * prove shutdown joined everything. -1 if unknown. */
int rmqi_thread_count(void);

#endif

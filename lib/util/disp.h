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
  bool closed;      /* rmqi_disp_close has run */
  bool polled;      /* poll mode: some thread has called rmqi_disp_poll */
  pthread_t poller; /* ... the last one (under lock) */
} rmqi_disp_t;

/* @p threads > 0: pool mode with that many threads; 0: poll mode. */
rmq_err_t rmqi_disp_init(rmqi_disp_t *d, size_t threads);
/* Refuses new closures (rmqi_disp_submit answers RMQ_ERR_SHUTDOWN from
 * now on), runs everything already queued (on the pool threads, or on the
 * caller in poll mode) and joins the threads. A closure that runs during
 * this may call rmqi_disp_submit and gets RMQ_ERR_SHUTDOWN. Idempotent.
 * Not from a pool thread (RMQ_ERR_STATE then, and nothing is done). */
rmq_err_t rmqi_disp_close(rmqi_disp_t *d);
/* Frees what is left (closes first if needed). After this the struct is
 * gone: nobody may call rmqi_disp_submit any more. */
void rmqi_disp_destroy(rmqi_disp_t *d);
/* Queues a closure; never blocks for long; RMQ_ERR_NOMEM or
 * RMQ_ERR_SHUTDOWN (after close began) on failure: the caller then still
 * owns the work. */
rmq_err_t rmqi_disp_submit(rmqi_disp_t *d, rmqi_fn fn, void *arg);
/* Poll mode: runs queued closures on the caller, waiting up to
 * @p timeout_ms (-1 forever) for the first. Returns how many ran. */
int rmqi_disp_poll(rmqi_disp_t *d, int timeout_ms);
/* Whether a wait on the calling thread must serve the queue itself, or it
 * would wait for ever: poll mode, and the caller is the thread that polls
 * (or nobody has polled yet). */
bool rmqi_disp_must_serve(rmqi_disp_t *d);
/* Whether the caller is one of the pool's threads (inside a callback). */
bool rmqi_disp_on_worker(rmqi_disp_t *d);

/* Number of threads of this process (/proc/self/task), for tests that
 * prove shutdown joined everything. -1 if unknown. */
int rmqi_thread_count(void);
/* rmqi_thread_count once it equals @p want, or after @p ms: a joined
 * thread can stay listed for a moment (pthread_join returns when the
 * kernel clears the thread id, before the task leaves /proc), so a test
 * that counts right after a join gives it that moment; a thread that was
 * not joined stays and the count stays wrong. */
int rmqi_thread_count_settled(int want, int ms);

#endif

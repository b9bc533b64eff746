/*
 * The push consumer's state beside the lite engine (push.c), and the
 * hooks lite.c and lite_svc.c call when an engine has one (l->push).
 */
#ifndef RMQI_CONSUMER_PUSH_H
#define RMQI_CONSUMER_PUSH_H

#include "lite_int.h"

struct push {
  rmq_push_consumer_t *handle; /* what the listener is given */
  rmq_consume_cb *cb;
  void *opaque;
  bool orderly;
  bool started;
  bool suspended;    /* rmq_push_consumer_suspend (l->lock) */
  int max_reconsume; /* maxReconsumeTimes resolved (16 / unlimited) */
  /* pool mode: our own consume threads; poll mode: jobs on the client's
   * dispatcher, one queued at a time */
  pthread_t *threads;
  size_t n_threads;
  pthread_cond_t work_cv; /* work arrived, or stopping (l->lock) */
  pthread_cond_t idle_cv; /* running dropped to 0 (l->lock) */
  atomic_bool stop;       /* no new work is taken (set under l->lock) */
  size_t waiting;         /* threads waiting on work_cv (l->lock) */
  size_t woken;           /* of them, signalled and not yet up (l->lock) */
  size_t running;         /* units being consumed now (l->lock) */
  size_t exited;          /* threads that left (l->lock) */
  bool job_queued;        /* poll mode (l->lock) */
  batch_t *later; /* batches waiting for a retry or a suspension to end */
  /* orderly: queues to unlock, noted when a rebalance dropped them */
  pending_commit_t *unlock;
  size_t n_unlock, cap_unlock;
  int64_t next_lock_ms;
  rmq_producer_t *inner; /* sends to %RETRY% when send-back fails */
  pthread_mutex_t inner_lock;
};

/* Hooks (l->lock held unless said otherwise). */
/* A batch was filed on the ready list. With consume threads it may set
 * l->push_wake: then the caller calls rmqi_push_wake after releasing
 * l->lock. */
void rmqi_push_on_ready(lite_t *l);
/* Wakes a consume thread (no lock held). */
void rmqi_push_wake(lite_t *l);
/* Whether @p q may be pulled (orderly: only while locked). */
bool rmqi_push_may_pull(lite_t *l, const lq_t *q);
/* A queue changes generation (seek, drop): its taken batches go. */
void rmqi_push_reset_queue(lite_t *l, lq_t *q);
/* Sets q->consumed from the states of its batches as they are now
 * (l->lock held): before a commit, so it has what finished since the
 * runs last published. */
void rmqi_push_sync_offset(lite_t *l, lq_t *q);
/* Whether @p q's offset may be sent to its broker (l->lock held): not an
 * orderly clustering queue whose lock has lapsed or gone, for another
 * member may hold it and have committed past this one's offset. */
bool rmqi_push_may_commit(const lite_t *l, const lq_t *q);
/* Whether queues are locked and unlocked (orderly, clustering). */
bool rmqi_push_unlocks(const lite_t *l);
/* A queue leaves (rebalance): orderly clustering notes it for unlocking. */
void rmqi_push_on_drop(lite_t *l, lq_t *q);
/* The service thread's pass (no lock): locks, unlocks. */
void rmqi_push_svc(lite_t *l);
/* When the service thread's next pass is due for the locks (l->lock
 * held): INT64_MAX when it has none to take or renew. */
int64_t rmqi_push_svc_due(const lite_t *l);
/* CONSUME_MESSAGE_DIRECTLY from @p conn (the loop thread, no lock held):
 * the listener runs on a consume thread, the answer goes back later. */
void rmqi_push_consume_directly(lite_t *l, rmqi_conn_t *conn,
                                const rmqi_cmd_t *req);
/* Frees a batch with its decoded messages. */
void rmqi_push_batch_free(batch_t *b);
/* The statistics snapshot (stats.c). */
rmq_err_t rmqi_push_stats(lite_t *l, rmq_consumer_stats_t *out);
/* With the engine's state (last reference). */
void rmqi_push_free(push_t *p);

#endif

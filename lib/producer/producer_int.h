/*
 * The producer's internals, shared by producer.c (sends, transactions,
 * lifecycle) and request.c (request/reply).
 */
#ifndef RMQI_PRODUCER_INT_H
#define RMQI_PRODUCER_INT_H

#include "../client/client.h"
#include "../client/msg.h"
#include "../util/spare.h"
#include "accum.h"
#include "fault.h"
#include "pstats.h"
#include "trace.h"
#include "wire.h"

#define RMQI_REQ_BUCKETS 256
/* Requests one producer may have waiting (RMQ_ERR_QUEUE_FULL past it). */
#define RMQI_REQ_MAX_PENDING 10000

/*
 * Lifetime: the memory lives while the application's handle or any
 * asynchronous send holds it. Every send counted in `inflight` keeps the
 * producer alive until its callback has returned, so a callback still
 * queued (or slow) when rmq_producer_destroy returns never meets freed
 * memory; the last one frees it. destroy: closing (new sends get
 * RMQ_ERR_SHUTDOWN) -> flush until the deadline -> cancel what is still in
 * flight (RMQ_ERR_SHUTDOWN, each callback once) -> unregister within what
 * is left of the deadline -> release the handle.
 *
 * Transactional check-backs are counted in `checks` (queued or running)
 * and keep the memory alive the same way. destroy first removes the
 * producer from the client's registry of check targets (no new check
 * reaches it), lets the queued checks run until the deadline (their
 * callbacks may call the library and get RMQ_ERR_SHUTDOWN), then sets
 * `checks_stop` and waits for a check callback still running: after
 * destroy returns no check callback runs, and checks still queued are
 * dropped unanswered (the broker asks again).
 */
struct rmq_producer {
  rmq_client_t *client; /* a reference (rmqi_client_keep) */
  bool own_client;
  rmqi_conf_t conf;
  rmqi_fault_t fault;
  _Atomic bool closing; /* destroy has begun */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool cancelled; /* retries give up (under lock) */
  bool released;  /* the handle is gone: the last send frees (under lock) */
  /* sends started and not ended, and their bytes: a start adds without
   * the lock (nobody waits for the count to grow); an end subtracts under
   * it, so waiters (flush, back-pressure, destroy) miss no decrease */
  _Atomic int64_t inflight;
  _Atomic int64_t inflight_bytes;
  bool batching; /* autoBatch: acc is running */
  rmqi_accum_t acc;
  /* transactions (under lock) */
  rmq_tx_execute_cb *tx_execute;
  rmq_tx_check_cb *tx_check;
  void *tx_opaque;
  bool tx_registered; /* in the client's check registry */
  bool checks_stop;   /* destroy: queued checks are dropped */
  int64_t checks;     /* checks queued or running */
  int64_t checks_queued;
  int64_t checks_running;
  uint64_t checks_dropped; /* over the bound */
  /* request/reply (request.c; under lock): requests waiting for a reply,
   * by correlation id; `requests` counts them, the completions queued for
   * a callback and the synchronous callers, and keeps the memory alive */
  struct rmqi_req *req_tab[RMQI_REQ_BUCKETS];
  int64_t requests;
  int64_t req_pending;   /* in req_tab */
  bool req_stopped;      /* destroy failed them: no new one waits */
  /* asynchronous sends' jobs that ended, kept for the next ones (under
   * lock; producer.c) */
  rmqi_spare_t spare_jobs;
  rmqi_tracer_t *tracer; /* enableMsgTrace; NULL when off */
  rmqi_pstats_t st;      /* statistics */
  rmqi_zpool_t zpool;    /* deflate streams at compressLevel */
};

/* New work after destroy began, or on a client that is shut down. */
bool rmqi_producer_refused(rmq_producer_t *p);

/* rmq_producer_send of @p msg within @p timeout_ms (not sendMsgTimeout). */
rmq_err_t rmqi_producer_send_within(rmq_producer_t *p, const rmq_msg_t *msg,
                                    int64_t timeout_ms, rmq_send_result_t *res);
/* rmq_producer_send_async of @p msg within @p timeout_ms, never through
 * the autoBatch accumulator. */
rmq_err_t rmqi_producer_send_async_within(rmq_producer_t *p, rmq_msg_t *msg,
                                          int64_t timeout_ms, rmq_send_cb *cb,
                                          void *opaque);

/* request.c: joins the client's repliers (rmq_producer_new); fails the
 * requests still waiting with RMQ_ERR_SHUTDOWN and leaves the registry
 * (rmq_producer_destroy, after the drain). */
rmq_err_t rmqi_requests_start(rmq_producer_t *p);
void rmqi_requests_stop(rmq_producer_t *p);
/* One of p->requests ends (any thread); may free the producer. */
void rmqi_producer_request_end(rmq_producer_t *p);

#endif

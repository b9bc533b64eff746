/*
 * Auto-batching of asynchronous sends (Java 5.x ProduceAccumulator, on with
 * `autoBatch`). Messages of one topic, tag and WAIT flag gather in one open
 * batch, encoded as they arrive; the batch leaves when its bodies exceed
 * batchMaxBytes (on the sending thread) or batchMaxDelayMs after it opened
 * (on the accumulator's own thread). Bodies held, from add until the
 * batch's answer, are bounded by totalBatchMaxBytes: beyond it a message is
 * not batched but sent on its own, as Java does.
 */
#ifndef RMQI_PRODUCER_ACCUM_H
#define RMQI_PRODUCER_ACCUM_H

#include "wire.h"

#include <pthread.h>

typedef struct rmqi_acc_member {
  rmq_msg_t *msg;
  rmq_send_cb *cb;
  void *opaque;
  char uniq[57];
} rmqi_acc_member_t;

typedef struct rmqi_acc_batch {
  struct rmqi_acc_batch *next;
  char *topic;
  char *tag; /* NULL: no tag */
  bool wait;
  rmqi_buf_t body;  /* the batch entries */
  rmqi_buf_t props; /* the wrapper's properties (WAIT only) */
  rmqi_acc_member_t *m;
  size_t n, cap;
  int64_t held;   /* body bytes counted against totalBatchMaxBytes */
  int64_t due_ms; /* opened + batchMaxDelayMs (monotonic) */
} rmqi_acc_batch_t;

/* Takes a full or due batch; it must end in rmqi_accum_deliver. Runs on
 * the thread that filled the batch, on the accumulator thread, or in
 * rmqi_accum_drain/close; never under the accumulator's lock. */
typedef void (*rmqi_acc_ship_fn)(void *arg, rmqi_acc_batch_t *b);

typedef struct rmqi_accum {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC */
  pthread_t thread;
  bool stopping;
  rmqi_acc_batch_t *open;
  int64_t held;
  int64_t hold_ms, hold_bytes, total_bytes, max_size;
  rmqi_acc_ship_fn ship;
  void *arg;
} rmqi_accum_t;

/* Starts the accumulator thread. */
rmq_err_t rmqi_accum_init(rmqi_accum_t *a, const rmqi_conf_vals_t *conf,
                          rmqi_acc_ship_fn ship, void *arg);
/* Java's canBatch rules other than capacity: no delay or timer property,
 * no retry topic, no PGROUP property. */
bool rmqi_accum_eligible(const rmq_msg_t *m);
/* Adds @p msg (prepared as @p pr, uncompressed). RMQ_OK: the accumulator
 * owns @p msg and @p cb fires once through rmqi_accum_deliver.
 * RMQ_ERR_QUEUE_FULL (totalBatchMaxBytes reached), RMQ_ERR_STATE (closed)
 * or RMQ_ERR_MSG_TOO_LARGE (the entry alone fills a batch): the caller
 * keeps @p msg and sends it on its own. */
rmq_err_t rmqi_accum_add(rmqi_accum_t *a, const rmqi_prep_t *pr,
                         rmq_msg_t *msg, rmq_send_cb *cb, void *opaque);
/* Ships every open batch now. */
void rmqi_accum_drain(rmqi_accum_t *a);
/* Stops the thread and ships what is open; later adds get RMQ_ERR_STATE. */
void rmqi_accum_close(rmqi_accum_t *a);
/* After close, once every shipped batch was delivered. */
void rmqi_accum_free(rmqi_accum_t *a);

/* The request a batch becomes: @p pr borrows the batch's buffers. */
void rmqi_accum_prep(const rmqi_acc_batch_t *b, rmqi_prep_t *pr);
/* Runs each member's callback once with its share of @p res (the batch's
 * result: one offset message id and queue offset per member, as Java's
 * splitSendResults), destroys the messages, releases the held bytes and
 * frees @p b. */
void rmqi_accum_deliver(rmqi_accum_t *a, rmqi_acc_batch_t *b,
                        rmq_producer_t *p, rmq_err_t rc,
                        const rmq_send_result_t *res);

#endif

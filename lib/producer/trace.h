/*
 * Message trace (Java's AsyncTraceDispatcher): producers and consumers with
 * enableMsgTrace append trace contexts; they are encoded at once (Java's
 * TraceDataEncoder, lib/codec/trace.h) into a bounded queue, and one
 * thread per tracer sends them in batches, off the send path, through an
 * internal producer on the same client instance to customizedTraceTopic.
 * A full queue drops the record and counts it; nothing ever blocks.
 */
#ifndef RMQI_PRODUCER_TRACE_H
#define RMQI_PRODUCER_TRACE_H

#include "../client/client.h"
#include "../codec/trace.h"

typedef struct rmqi_tracer rmqi_tracer_t;

enum {
  RMQI_TRACE_QUEUE_MAX = 1024,             /* Java's traceContextQueue */
  RMQI_TRACE_QUEUE_BYTES = 8 << 20,        /* ... and a bound in bytes */
  RMQI_TRACE_BATCH_BYTES = 128000 - 10000, /* Java: maxMsgSize - 10 000 */
  RMQI_TRACE_BATCH_KEYS = 16000,           /* the KEYS property of one batch */
  RMQI_TRACE_WAIT_MS = 500,                /* Java's waitTimeThresholdMil */
  RMQI_TRACE_SEND_TIMEOUT_MS = 5000,       /* Java's trace producer */
};

typedef struct rmqi_trace_counts {
  uint64_t appended; /* records queued */
  uint64_t sent;     /* records in trace messages the broker stored */
  uint64_t dropped;  /* records not queued: full, closed, no memory */
  uint64_t failed;   /* records in trace messages that failed */
} rmqi_trace_counts_t;

/* A tracer for the producer or consumer @p group (@p consumer says which:
 * the internal producer's group is Java's
 * _INNER_TRACE_PRODUCER-<group>-PRODUCE|CONSUME). NULL when @p conf has
 * enableMsgTrace off; on failure NULL with @p err set. */
rmq_err_t rmqi_tracer_new(rmq_client_t *c, const rmqi_conf_t *conf,
                          const char *group, bool consumer, rmqi_tracer_t **out,
                          char *err, size_t err_size);
/* The trace topic (a message to it is never traced). */
const char *rmqi_tracer_topic(const rmqi_tracer_t *t);
/* Encodes @p ctx and queues it (any thread; never blocks but on a mutex
 * held for a few pointer moves). Dropped and counted when the queue is
 * full or the tracer closed. */
void rmqi_tracer_append(rmqi_tracer_t *t, const rmqi_trace_ctx_t *ctx);
/* Sends what is queued, by @p deadline_ms (monotonic) at the latest, then
 * stops the thread and the internal producer; what is left is dropped and
 * counted. Later appends are dropped. Logs the counts when any record was
 * lost. Not from a tracer's own thread. */
void rmqi_tracer_close(rmqi_tracer_t *t, int64_t deadline_ms);
/* Frees a closed tracer (NULL is fine). */
void rmqi_tracer_free(rmqi_tracer_t *t);
void rmqi_tracer_counts(rmqi_tracer_t *t, rmqi_trace_counts_t *out);
/* The `trace` member of a producer's or consumer's statistics
 * (doc/statistics.md): @p t's counts, or enabled false and zeros when
 * NULL (trace off). */
void rmqi_tracer_json(rmqi_tracer_t *t, rmqi_jw_t *w);

/* rmq_producer_send with its own timeout (producer.c): how the tracer's
 * thread sends, bounded by the close deadline. */
rmq_err_t rmqi_producer_send_within(rmq_producer_t *p, const rmq_msg_t *msg,
                                    int64_t timeout_ms, rmq_send_result_t *res);

/* SubBefore and SubAfter of one consume of @p msgs (Java's
 * ConsumeMessageTraceHookImpl), for a listener call (push) or a poll
 * (lite pull: success, no context code): @p t0_wall the wall clock and
 * @p t0_mono the monotonic time before the call. Messages whose TRACE_ON
 * property is "false" are left out. */
void rmqi_trace_consume(rmqi_tracer_t *t, rmq_client_t *c, const char *group,
                        rmq_msg_t *const *msgs, size_t n, int64_t t0_wall,
                        int64_t t0_mono, bool success, int context_code);

#endif

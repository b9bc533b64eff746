/*
 * A producer's statistics (doc/statistics.md, "producers"): what its sends
 * came to, per message and per request, request latency, errors by code.
 * Recording is lock-free (relaxed atomic adds; a short lock only when an
 * error is counted), so it stays on.
 */
#ifndef RMQI_PRODUCER_PSTATS_H
#define RMQI_PRODUCER_PSTATS_H

#include "../codec/jw.h"
#include "../util/hist.h"
#include "rmq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define RMQI_PSTATS_CODES 32 /* distinct error codes kept; more: "other" */

/* Requests are recorded where their answers arrive (the I/O thread for
 * asynchronous sends), outcomes where the callbacks run (the pool): the
 * two groups sit on cache lines of their own, so those threads do not
 * take each other's lines on every message. */
typedef struct rmqi_pstats {
  /* outcomes */
  _Atomic uint64_t msgs_ok, msgs_failed, bytes_ok;
  _Atomic uint64_t sends_ok, sends_failed; /* calls (a batch is one) */
  _Atomic uint64_t retries;                /* attempts after the first */
  _Atomic uint64_t oneway_msgs;
  /* requests: every attempt sent */
  /* padding rather than _Alignas: the producer is calloc'ed (16-byte
   * aligned), and 64 bytes apart is all a cache line needs */
  char pad1_[64];
  _Atomic uint64_t requests, req_msgs, req_bytes;
  rmqi_hist_t latency_us; /* attempts that got an answer */
  char pad2_[64];
  pthread_mutex_t lock; /* what follows */
  struct {
    int code;
    uint64_t n;
  } errors[RMQI_PSTATS_CODES];
  size_t n_errors;
  uint64_t errors_other;
  char last_error[256];
  int64_t last_error_ms;
} rmqi_pstats_t;

void rmqi_pstats_init(rmqi_pstats_t *s);
void rmqi_pstats_free(rmqi_pstats_t *s);
/* One request went out with @p n_msgs messages of @p bytes: @p latency_us
 * when an answer came (else < 0), and how it ended (@p rc: RMQ_OK, a
 * broker code, or a local error; errors are counted by code). */
void rmqi_pstats_request(rmqi_pstats_t *s, size_t n_msgs, size_t bytes,
                         int64_t latency_us, rmq_err_t rc);
/* A send call ended after @p attempts requests: @p n_msgs messages of
 * @p bytes stored (rc RMQ_OK) or not (@p why says why). A failure before
 * any request (attempts 0: no route) is counted by its code here. */
void rmqi_pstats_outcome(rmqi_pstats_t *s, size_t n_msgs, size_t bytes,
                         int attempts, rmq_err_t rc, const char *why);
/* Writes the counters as members of the object open in @p w. */
void rmqi_pstats_json(rmqi_pstats_t *s, rmqi_jw_t *w);

#endif

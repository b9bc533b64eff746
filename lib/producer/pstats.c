#include "pstats.h"

#include "../client/client.h"
#include "../util/time.h"

#include <stdio.h>
#include <string.h>

#define ADD(f, n) atomic_fetch_add_explicit(&s->f, (n), memory_order_relaxed)

void rmqi_pstats_init(rmqi_pstats_t *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->lock, NULL);
}

void rmqi_pstats_free(rmqi_pstats_t *s) {
  pthread_mutex_destroy(&s->lock);
}

static void count_error(rmqi_pstats_t *s, rmq_err_t rc) {
  pthread_mutex_lock(&s->lock);
  size_t i = 0;
  while (i < s->n_errors && s->errors[i].code != (int)rc)
    i++;
  if (i < s->n_errors) {
    s->errors[i].n++;
  } else if (s->n_errors < RMQI_PSTATS_CODES) {
    s->errors[s->n_errors].code = (int)rc;
    s->errors[s->n_errors++].n = 1;
  } else {
    s->errors_other++;
  }
  pthread_mutex_unlock(&s->lock);
}

void rmqi_pstats_request(rmqi_pstats_t *s, size_t n_msgs, size_t bytes,
                         int64_t latency_us, rmq_err_t rc) {
  ADD(requests, 1);
  ADD(req_msgs, n_msgs);
  ADD(req_bytes, bytes);
  if (latency_us >= 0)
    rmqi_hist_add(&s->latency_us, (uint64_t)latency_us);
  if (rc != RMQ_OK)
    count_error(s, rc);
}

void rmqi_pstats_outcome(rmqi_pstats_t *s, size_t n_msgs, size_t bytes,
                         int attempts, rmq_err_t rc, const char *why) {
  if (attempts > 1)
    ADD(retries, (uint64_t)(attempts - 1));
  if (rc == RMQ_OK) {
    ADD(msgs_ok, n_msgs);
    ADD(bytes_ok, bytes);
    ADD(sends_ok, 1);
    return;
  }
  ADD(msgs_failed, n_msgs);
  ADD(sends_failed, 1);
  if (attempts == 0) /* no request went out (no route): counted here */
    count_error(s, rc);
  pthread_mutex_lock(&s->lock);
  snprintf(s->last_error, sizeof(s->last_error), "%s: %s", rmq_err_name(rc),
           why ? why : "");
  s->last_error_ms = rmqi_wall_ms();
  pthread_mutex_unlock(&s->lock);
}

#define LOAD(f) atomic_load_explicit(&s->f, memory_order_relaxed)

void rmqi_pstats_json(rmqi_pstats_t *s, rmqi_jw_t *w) {
  uint64_t ok = LOAD(msgs_ok), failed = LOAD(msgs_failed);
  uint64_t req = LOAD(requests), req_msgs = LOAD(req_msgs);
  rmqi_jw_u64(w, "msgs_ok", ok);
  rmqi_jw_u64(w, "msgs_failed", failed);
  rmqi_jw_u64(w, "bytes_ok", LOAD(bytes_ok));
  rmqi_jw_u64(w, "sends_ok", LOAD(sends_ok));
  rmqi_jw_u64(w, "sends_failed", LOAD(sends_failed));
  /* of the messages whose send ended; null before the first */
  if (ok + failed)
    rmqi_jw_dbl(w, "success_rate", (double)ok / (double)(ok + failed));
  else
    rmqi_jw_str(w, "success_rate", NULL);
  rmqi_jw_u64(w, "retries", LOAD(retries));
  rmqi_jw_u64(w, "oneway_msgs", LOAD(oneway_msgs));
  rmqi_jw_u64(w, "requests", req);
  rmqi_jw_u64(w, "request_msgs", req_msgs);
  rmqi_jw_u64(w, "request_bytes", LOAD(req_bytes));
  if (req) {
    rmqi_jw_dbl(w, "msgs_per_request", (double)req_msgs / (double)req);
    rmqi_jw_dbl(w, "bytes_per_request", (double)LOAD(req_bytes) / (double)req);
  } else {
    rmqi_jw_str(w, "msgs_per_request", NULL);
    rmqi_jw_str(w, "bytes_per_request", NULL);
  }
  rmqi_hist_sum_t h = rmqi_hist_summary(&s->latency_us);
  rmqi_hist_json(w, "latency_us", &h);
  pthread_mutex_lock(&s->lock);
  rmqi_jw_obj(w, "errors");
  for (size_t i = 0; i < s->n_errors; i++) {
    const char *name = rmq_err_name((rmq_err_t)s->errors[i].code);
    char code[32];
    if (strcmp(name, "UNKNOWN") == 0) { /* a code of no name: keep apart */
      snprintf(code, sizeof(code), "CODE_%d", s->errors[i].code);
      name = code;
    }
    rmqi_jw_u64(w, name, s->errors[i].n);
  }
  if (s->errors_other)
    rmqi_jw_u64(w, "other", s->errors_other);
  rmqi_jw_end_obj(w);
  rmqi_jw_str(w, "last_error", s->last_error);
  rmqi_jw_i64(w, "last_error_ts", s->last_error_ms);
  pthread_mutex_unlock(&s->lock);
}

/*
 * The trace dispatcher (Java's AsyncTraceDispatcher), bounded and with a
 * bounded close. Records are encoded by the appending thread and queued in
 * a FIFO bounded in count and bytes. The tracer's thread sends a batch
 * when the oldest record has waited RMQI_TRACE_WAIT_MS, when the queue
 * holds a full batch, or on close; a batch is one message of concatenated
 * records whose KEYS are the records' message ids and keys (Java's
 * TraceTransferBean), sent synchronously by an internal producer so that
 * no callback or dispatcher is involved (callbackMode=poll needs no
 * rmq_poll for traces to leave).
 */
#include "trace.h"

#include "../client/msg.h"
#include "../util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trec {
  struct trec *next;
  int64_t at; /* monotonic ms when queued */
  size_t dlen, klen;
  char buf[]; /* data, then keys (each followed by ' ') */
} trec_t;

struct rmqi_tracer {
  rmq_client_t *client;
  rmq_producer_t *producer; /* internal, on the same client */
  char *topic;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  trec_t *head, *tail;
  size_t n, bytes;
  bool closed, stop, sending, running;
  int64_t deadline; /* of close; INT64_MAX before */
  pthread_t thread;
  rmqi_trace_counts_t counts;
};

const char *rmqi_tracer_topic(const rmqi_tracer_t *t) {
  return t->topic;
}

static void tlog(rmqi_tracer_t *t, rmq_log_level_t lvl, const char *fmt, ...)
    RMQI_PRINTF(3, 4);
static void tlog(rmqi_tracer_t *t, rmq_log_level_t lvl, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  rmqi_log(&t->client->log, lvl, "trace", "%s", line);
}

/* Counts @p n drops (t->lock held); returns the new total when it is to
 * be logged (the first drop, then each time the total doubles), else 0:
 * the caller logs it after the unlock (a log callback may call us). */
static uint64_t dropped_locked(rmqi_tracer_t *t, uint64_t n) {
  uint64_t before = t->counts.dropped;
  t->counts.dropped += n;
  uint64_t d = t->counts.dropped;
  bool log = n && (before == 0 ||
                   (64 - __builtin_clzll(before)) != (64 - __builtin_clzll(d)));
  return log ? d : 0;
}

static void log_dropped(rmqi_tracer_t *t, uint64_t total, const char *why) {
  if (total)
    tlog(t, RMQ_LOG_WARN, "%llu trace record(s) dropped in all (%s)",
         (unsigned long long)total, why);
}

void rmqi_tracer_append(rmqi_tracer_t *t, const rmqi_trace_ctx_t *ctx) {
  if (t == NULL || ctx->n_beans == 0)
    return;
  rmqi_buf_t d, k;
  rmqi_buf_init(&d);
  rmqi_buf_init(&k);
  rmqi_trace_encode(ctx, &d, &k);
  trec_t *r = NULL;
  if (rmqi_buf_ok(&d) && rmqi_buf_ok(&k) &&
      (r = malloc(sizeof(*r) + d.len + k.len)) != NULL) {
    r->next = NULL;
    r->at = rmqi_now_ms();
    r->dlen = d.len;
    r->klen = k.len;
    memcpy(r->buf, d.data, d.len);
    if (k.len)
      memcpy(r->buf + d.len, k.data, k.len);
  }
  rmqi_buf_free(&d);
  rmqi_buf_free(&k);
  size_t size = r ? r->dlen + r->klen : 0;
  pthread_mutex_lock(&t->lock);
  const char *why =
      r == NULL                       ? "no memory"
      : t->closed                     ? "closed"
      : size > RMQI_TRACE_BATCH_BYTES ? "too large"
      : t->n >= RMQI_TRACE_QUEUE_MAX || t->bytes + size > RMQI_TRACE_QUEUE_BYTES
          ? "queue full"
          : NULL;
  if (why) {
    uint64_t total = dropped_locked(t, 1);
    pthread_mutex_unlock(&t->lock);
    log_dropped(t, total, why);
    free(r);
    return;
  }
  bool wake = t->head == NULL || (t->bytes < RMQI_TRACE_BATCH_BYTES &&
                                  t->bytes + r->dlen >= RMQI_TRACE_BATCH_BYTES);
  if (t->tail)
    t->tail->next = r;
  else
    t->head = r;
  t->tail = r;
  t->n++;
  t->bytes += size;
  t->counts.appended++;
  if (wake)
    pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->lock);
}

/* Takes the records of the next batch off the queue (t->lock held). */
static trec_t *take_batch(rmqi_tracer_t *t, size_t *count) {
  trec_t *first = t->head, *last = NULL;
  size_t data = 0, keys = 0, n = 0;
  for (trec_t *r = first; r; r = r->next) {
    if (n > 0 && (data + r->dlen > RMQI_TRACE_BATCH_BYTES ||
                  keys + r->klen > RMQI_TRACE_BATCH_KEYS))
      break;
    data += r->dlen;
    keys += r->klen;
    t->bytes -= r->dlen + r->klen;
    last = r;
    n++;
  }
  t->head = last->next;
  if (t->head == NULL)
    t->tail = NULL;
  last->next = NULL;
  t->n -= n;
  *count = n;
  return first;
}

/* Sends one batch (no lock held) and frees its records. */
static void send_batch(rmqi_tracer_t *t, trec_t *first, size_t n,
                       int64_t timeout_ms) {
  rmqi_buf_t body, keys;
  rmqi_buf_init(&body);
  rmqi_buf_init(&keys);
  for (trec_t *r = first; r; r = r->next) {
    rmqi_buf_put(&body, r->buf, r->dlen);
    rmqi_buf_put(&keys, r->buf + r->dlen, r->klen);
  }
  if (keys.len) /* the last separator goes, as Java trims */
    keys.data[keys.len - 1] = '\0';
  else
    rmqi_buf_put_u8(&keys, 0);
  rmq_err_t rc =
      rmqi_buf_ok(&body) && rmqi_buf_ok(&keys) ? RMQ_OK : RMQ_ERR_NOMEM;
  rmq_send_result_t res;
  memset(&res, 0, sizeof(res));
  rmq_msg_t *m = rc == RMQ_OK ? rmq_msg_new(t->topic) : NULL;
  if (rc == RMQ_OK && m == NULL)
    rc = RMQ_ERR_NOMEM;
  if (rc == RMQ_OK)
    rc = rmq_msg_set_body(m, body.data, body.len);
  if (rc == RMQ_OK && keys.data[0])
    rc = rmq_msg_set_keys(m, (const char *)keys.data);
  if (rc == RMQ_OK)
    rc = rmqi_producer_send_within(t->producer, m, timeout_ms, &res);
  pthread_mutex_lock(&t->lock);
  if (rc == RMQ_OK)
    t->counts.sent += n;
  else
    t->counts.failed += n;
  uint64_t failed = t->counts.failed;
  pthread_mutex_unlock(&t->lock);
  if (rc != RMQ_OK) /* Java logs every failed batch */
    tlog(t, RMQ_LOG_WARN,
         "%zu trace record(s) to %s not sent (%llu in all): "
         "%s %s",
         n, t->topic, (unsigned long long)failed, rmq_err_name(rc),
         res.error ? res.error : "");
  rmq_send_result_clear(&res);
  rmq_msg_destroy(m);
  rmqi_buf_free(&body);
  rmqi_buf_free(&keys);
  while (first) {
    trec_t *next = first->next;
    free(first);
    first = next;
  }
}

static void *run(void *arg) {
  rmqi_tracer_t *t = arg;
  pthread_mutex_lock(&t->lock);
  for (;;) {
    int64_t now = rmqi_now_ms();
    if (t->stop && (t->head == NULL || now >= t->deadline))
      break;
    if (t->head == NULL) {
      pthread_cond_wait(&t->cv, &t->lock);
      continue;
    }
    int64_t due = t->head->at + RMQI_TRACE_WAIT_MS;
    if (!t->stop && now < due && t->bytes < RMQI_TRACE_BATCH_BYTES) {
      rmqi_cond_wait_until(&t->cv, &t->lock, due);
      continue;
    }
    size_t n;
    trec_t *batch = take_batch(t, &n);
    int64_t timeout =
        RMQI_MIN((int64_t)RMQI_TRACE_SEND_TIMEOUT_MS, t->deadline - now);
    t->sending = true;
    pthread_mutex_unlock(&t->lock);
    send_batch(t, batch, n, RMQI_MAX(timeout, 1));
    pthread_mutex_lock(&t->lock);
    t->sending = false;
    pthread_cond_broadcast(&t->cv);
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

rmq_err_t rmqi_tracer_new(rmq_client_t *c, const rmqi_conf_t *conf,
                          const char *group, bool consumer, rmqi_tracer_t **out,
                          char *err, size_t err_size) {
  *out = NULL;
  if (!conf->v.enable_msg_trace)
    return RMQ_OK;
  rmqi_tracer_t *t = calloc(1, sizeof(*t));
  rmqi_conf_t pc;
  if (t == NULL || rmqi_conf_copy(&pc, conf) != RMQ_OK) {
    free(t);
    snprintf(err, err_size, "out of memory");
    return RMQ_ERR_NOMEM;
  }
  t->client = c;
  t->deadline = INT64_MAX;
  pthread_mutex_init(&t->lock, NULL);
  rmqi_cond_init_mono(&t->cv);
  const char *topic = conf->v.customized_trace_topic[0]
                          ? conf->v.customized_trace_topic
                          : "RMQ_SYS_TRACE_TOPIC";
  char name[128];
  snprintf(name, sizeof(name), "_INNER_TRACE_PRODUCER-%.90s-%s", group,
           consumer ? "CONSUME" : "PRODUCE");
  t->topic = strdup(topic);
  free(pc.v.producer_group);
  pc.v.producer_group = strdup(name);
  pc.v.enable_msg_trace = false; /* trace messages are never traced */
  pc.v.trace_internal = true;    /* and may go to RMQ_SYS_TRACE_TOPIC */
  pc.v.send_timeout_ms = RMQI_TRACE_SEND_TIMEOUT_MS;
  pc.v.max_message_size = 128000;
  pc.v.auto_batch = false;
  pc.v.backpressure_enable = false;
  /* the owner's keys passed its own scope check: none is ours to refuse */
  memset(pc.set_mask, 0, sizeof(pc.set_mask));
  rmq_err_t rc = t->topic && pc.v.producer_group ? RMQ_OK : RMQ_ERR_NOMEM;
  if (rc == RMQ_OK) {
    t->producer = rmq_producer_new(c, &pc, err, err_size);
    rc = t->producer ? RMQ_OK : RMQ_ERR_CONF_INVALID;
  }
  rmqi_conf_release(&pc);
  if (rc == RMQ_OK) {
    t->running = pthread_create(&t->thread, NULL, run, t) == 0;
    if (!t->running) {
      snprintf(err, err_size, "cannot start the trace thread");
      rc = RMQ_ERR_NOMEM;
    }
  }
  if (rc != RMQ_OK) {
    t->closed = true;
    rmqi_tracer_close(t, rmqi_now_ms());
    rmqi_tracer_free(t);
    return rc;
  }
  *out = t;
  return RMQ_OK;
}

void rmqi_tracer_close(rmqi_tracer_t *t, int64_t deadline_ms) {
  if (t == NULL)
    return;
  pthread_mutex_lock(&t->lock);
  t->closed = true;
  t->stop = true;
  t->deadline = deadline_ms;
  pthread_cond_broadcast(&t->cv);
  /* The thread sends what is queued until the deadline; a send that began
   * before close (with the full trace timeout) is cut at the deadline. */
  while (t->running && (t->head || t->sending) && rmqi_now_ms() < deadline_ms)
    rmqi_cond_wait_until(&t->cv, &t->lock, deadline_ms);
  while (t->running && t->sending) {
    pthread_mutex_unlock(&t->lock);
    rmqi_rpc_abort_sync(t->client->rpc, t->thread);
    pthread_mutex_lock(&t->lock);
    rmqi_cond_wait_until(&t->cv, &t->lock, rmqi_now_ms() + 5);
  }
  bool join = t->running;
  t->running = false;
  pthread_mutex_unlock(&t->lock);
  if (join)
    pthread_join(t->thread, NULL);
  pthread_mutex_lock(&t->lock);
  size_t left = t->n;
  while (t->head) {
    trec_t *next = t->head->next;
    free(t->head);
    t->head = next;
  }
  t->tail = NULL;
  t->n = t->bytes = 0;
  uint64_t total = dropped_locked(t, left);
  rmqi_trace_counts_t k = t->counts;
  pthread_mutex_unlock(&t->lock);
  log_dropped(t, total, "not sent by the close deadline");
  if (t->producer)
    rmq_producer_destroy(t->producer,
                         (int)RMQI_MAX(deadline_ms - rmqi_now_ms(), 0));
  t->producer = NULL;
  if (k.dropped || k.failed)
    tlog(t, RMQ_LOG_WARN,
         "trace to %s closed: %llu record(s) sent, %llu dropped, %llu in "
         "failed sends",
         t->topic ? t->topic : "", (unsigned long long)k.sent,
         (unsigned long long)k.dropped, (unsigned long long)k.failed);
}

void rmqi_tracer_free(rmqi_tracer_t *t) {
  if (t == NULL)
    return;
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->lock);
  free(t->topic);
  free(t);
}

void rmqi_tracer_counts(rmqi_tracer_t *t, rmqi_trace_counts_t *out) {
  pthread_mutex_lock(&t->lock);
  *out = t->counts;
  pthread_mutex_unlock(&t->lock);
}

void rmqi_trace_consume(rmqi_tracer_t *t, rmq_client_t *c, const char *group,
                        rmq_msg_t *const *msgs, size_t n, int64_t t0_wall,
                        int64_t t0_mono, bool success, int context_code) {
  if (t == NULL || n == 0)
    return;
  rmqi_trace_bean_t one, *beans = n == 1 ? &one : calloc(n, sizeof(*beans));
  if (beans == NULL) {
    pthread_mutex_lock(&t->lock);
    uint64_t total = dropped_locked(t, 2);
    pthread_mutex_unlock(&t->lock);
    log_dropped(t, total, "no memory");
    return;
  }
  size_t k = 0;
  const char *region = NULL;
  for (size_t i = 0; i < n; i++) {
    const rmq_msg_t *m = msgs[i];
    const char *on = rmq_msg_property(m, "TRACE_ON");
    if (on && strcmp(on, "false") == 0)
      continue;
    memset(&beans[k], 0, sizeof(beans[k]));
    beans[k].topic = m->topic;
    beans[k].msg_id = rmq_msg_id(m);
    beans[k].tags = rmq_msg_tags(m);
    beans[k].keys = rmq_msg_keys(m);
    beans[k].retry_times = rmq_msg_reconsume_times(m);
    region = rmq_msg_property(m, "MSG_REGION"); /* Java: the last one's */
    k++;
  }
  char req[57];
  rmqi_client_uniq_id(c, req);
  rmqi_trace_ctx_t ctx = {.type = RMQI_TRACE_SUB_BEFORE,
                          .timestamp = t0_wall,
                          .region_id = region,
                          .group = group,
                          .request_id = req,
                          .beans = beans,
                          .n_beans = k};
  rmqi_tracer_append(t, &ctx);
  /* Java divides by the whole list, skipped messages included. */
  ctx.type = RMQI_TRACE_SUB_AFTER;
  ctx.cost_time = (int32_t)((rmqi_now_ms() - t0_mono) / (int64_t)n);
  ctx.timestamp = rmqi_wall_ms();
  ctx.success = success;
  ctx.context_code = context_code;
  rmqi_tracer_append(t, &ctx);
  if (beans != &one)
    free(beans);
}

void rmqi_tracer_json(rmqi_tracer_t *t, rmqi_jw_t *w) {
  rmqi_trace_counts_t k = {0};
  if (t)
    rmqi_tracer_counts(t, &k);
  rmqi_jw_obj(w, "trace");
  rmqi_jw_bool(w, "enabled", t != NULL);
  rmqi_jw_str(w, "topic", t ? t->topic : "");
  rmqi_jw_u64(w, "appended", k.appended);
  rmqi_jw_u64(w, "sent", k.sent);
  rmqi_jw_u64(w, "dropped", k.dropped);
  rmqi_jw_u64(w, "failed", k.failed);
  rmqi_jw_end_obj(w);
}

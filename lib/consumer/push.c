/*
 * The push consumer (Java's DefaultMQPushConsumer) on the lite consumer's
 * engine: the same queues, pulls on the loop thread, rebalance, start
 * offsets and commits (lite_int.h). What it adds:
 *  - consume threads (or rmq_poll jobs) that take pulled batches, decode
 *    them and run the listener: concurrently (several batches of a queue
 *    at once) or orderly (one batch of a queue at a time, in order, while
 *    the queue's broker lock is ours);
 *  - the offset of each queue is the first message not finished yet: the
 *    queue's taken batches wait in its `pin` list in offset order, and
 *    only a finished head moves the offset;
 *  - retries: a failed message goes back to the broker
 *    (CONSUMER_SEND_MSG_BACK, or a send to %RETRY%<group> when that
 *    fails); when both fail it stays unfinished and is consumed again
 *    here after 5 s (Java), holding the offset;
 *  - orderly locks: LOCK_BATCH_MQ before a queue is pulled, renewed every
 *    20 s, UNLOCK_BATCH_MQ when it leaves or at shutdown.
 *
 * Locks: l->lock guards every queue, batch list and the push state below
 * it, as in lite. A batch taken by a thread is `running`: only that thread
 * touches its messages; the lists it is on stay under l->lock.
 */
#include "push.h"
#include "../client/ns.h"

#include "../codec/body_mq.h"
#include "../util/time.h"
#include "offsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  RC_SEND_BACK = 36,
  RC_LOCK = 41,
  RC_UNLOCK = 42,
  SEND_BACK_TIMEOUT_MS = 5000, /* Java */
  LOCAL_RETRY_MS = 5000,       /* a message neither broker path took */
  PUBLISH_MS = 50,             /* a concurrent run's progress (progress_t) */
  LOCK_TIMEOUT_MS = 1000,
  LOCK_RETRY_MS = 1000, /* a queue we could not lock (Java 5.x: 500) */
};

struct rmq_push_consumer {
  rmq_pull_consumer_t *pc; /* the engine; pc->l->push points at p */
  push_t *p;
};

/* ---- taking work (l->lock held) --------------------------------------- */

/* Orderly: whether @p q may be consumed now (clustering: our lock, fresh). */
static bool lock_valid(const lite_t *l, const lq_t *q, int64_t now) {
  return l->conf.v.message_model == RMQI_MODEL_BROADCASTING ||
         (q->locked && now - q->lock_ms < l->conf.v.lock_max_live_ms);
}

bool rmqi_push_may_pull(lite_t *l, const lq_t *q) {
  const push_t *p = l->push;
  if (p == NULL)
    return true;
  if (p->suspended)
    return false;
  return !p->orderly || lock_valid(l, q, rmqi_now_ms());
}

static void batch_drop_msgs(batch_t *b) {
  for (size_t i = 0; i < b->n_dec; i++)
    rmq_msg_destroy(b->msgs[i]);
  free(b->msgs);
  free(b->state);
  b->msgs = NULL;
  b->state = NULL;
  b->n_dec = 0;
}

void rmqi_push_batch_free(batch_t *b) {
  batch_drop_msgs(b);
  rmqi_lite_batch_free(b);
}

static void unlink_later(push_t *p, batch_t *b) {
  for (batch_t **pp = &p->later; *pp; pp = &(*pp)->lnext)
    if (*pp == b) {
      *pp = b->lnext;
      b->lnext = NULL;
      return;
    }
}

/* A queue's new generation (seek, drop): its taken batches no longer
 * count. Those a thread runs are freed by it; the others go now. */
void rmqi_push_reset_queue(lite_t *l, lq_t *q) {
  push_t *p = l->push;
  for (batch_t *b = q->pin_head, *next; b; b = next) {
    next = b->pnext;
    b->pnext = NULL;
    if (!b->running) {
      if (p)
        unlink_later(p, b);
      rmqi_push_batch_free(b);
    }
  }
  q->pin_head = q->pin_tail = NULL;
  q->busy = false;
}

/* The counts of a batch leaving the cache (as poll does when it has read
 * one). */
static void uncount(lite_t *l, lq_t *q, const batch_t *b) {
  q->cached_msgs -= RMQI_MIN(b->n_msgs, q->cached_msgs);
  l->cached_msgs -= RMQI_MIN(b->n_msgs, l->cached_msgs);
  q->cached_bytes -= RMQI_MIN(b->len, q->cached_bytes);
  if (q->cached_msgs == 0)
    q->cached_lo = q->cached_hi = -1;
}

static batch_t *run_it(lite_t *l, push_t *p, batch_t *b) {
  (void)l;
  b->running = true;
  b->q->holds++;
  if (p->orderly)
    b->q->busy = true;
  p->running++;
  return b;
}

/* The next unit of work, marked running (its queue held), or NULL; *wake
 * is lowered to the time a waiting unit becomes due. */
static batch_t *take_work(lite_t *l, push_t *p, int64_t *wake) {
  int64_t now = rmqi_now_ms();
  /* first what waits for a retry or for the end of a suspension */
  for (batch_t *b = p->later; b; b = b->lnext) {
    lq_t *q = b->q;
    if (b->not_before > now) {
      *wake = RMQI_MIN(*wake, b->not_before);
      continue;
    }
    if (p->orderly && (q->busy || !lock_valid(l, q, now)))
      continue;
    unlink_later(p, b);
    return run_it(l, p, b);
  }
  batch_t *prev = NULL;
  for (batch_t *b = l->ready, *next; b; b = next) {
    lq_t *q = b->q;
    next = b->next;
    bool stale = b->gen != q->gen;
    /* orderly: a queue's batches one at a time, in order, locked */
    if (!stale && p->orderly &&
        (q->busy || q->pin_head || !lock_valid(l, q, now))) {
      prev = b;
      continue;
    }
    if (prev)
      prev->next = next;
    else
      l->ready = next;
    if (l->ready_tail == b)
      l->ready_tail = prev;
    b->next = NULL;
    q->n_ready--;
    if (stale) { /* its queue's counts were reset with the generation */
      l->cached_msgs -= RMQI_MIN(b->n_msgs, l->cached_msgs);
      rmqi_push_batch_free(b);
      continue;
    }
    if (q->pin_tail)
      q->pin_tail->pnext = b;
    else
      q->pin_head = b;
    q->pin_tail = b;
    return run_it(l, p, b);
  }
  return NULL;
}

/* ---- decoding -------------------------------------------------------------
 */

/* A message redelivered through %RETRY%<group> shows its original topic,
 * then the application's name of it (Java resetRetryAndNamespace). */
static void restore_topic(const lite_t *l, rmq_msg_t *m) {
  const char *t = rmq_msg_topic(m);
  if (strncmp(t, "%RETRY%", 7) != 0 || strcmp(t + 7, l->group) != 0)
    return;
  const char *orig = rmq_msg_property(m, "RETRY_TOPIC");
  if (orig && *orig)
    rmqi_msg_set_topic(m, orig);
}

/* Decodes every record of @p b once (no lock held). */
static void decode_all(lite_t *l, batch_t *b) {
  if (b->msgs || b->pos >= b->len)
    return;
  size_t cap = b->n_msgs ? b->n_msgs : 8, n = 0;
  rmq_msg_t **v = malloc(cap * sizeof(*v));
  while (v && (b->inner.active || b->pos < b->len)) {
    if (n == cap) {
      rmq_msg_t **nv = realloc(v, 2 * cap * sizeof(*v));
      if (nv == NULL)
        break;
      v = nv;
      cap *= 2;
    }
    size_t records;
    int64_t last = -1;
    n += rmqi_lite_decode(l, b, b->q, v + n, cap - n, &records, &last);
  }
  _Atomic uint8_t *state = calloc(n ? n : 1, sizeof(*state));
  if (v == NULL || state == NULL) {
    /* out of memory: nothing of this batch can be delivered now; it is
     * tried again after LOCAL_RETRY_MS (finish) */
    for (size_t i = 0; v && i < n; i++)
      rmq_msg_destroy(v[i]);
    free(v);
    free(state);
    rmqi_log(&l->client->log, RMQ_LOG_ERROR, "consumer",
             "%s: out of memory decoding a batch", l->group);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    restore_topic(l, v[i]);
    rmqi_msg_unwrap_topic(v[i], l->conf.v.name_space);
  }
  /* published under the lock: another thread's advance() reads them to
   * find the queue's offset while this batch is its head */
  pthread_mutex_lock(&l->lock);
  b->msgs = v;
  b->n_dec = n;
  b->state = state;
  pthread_mutex_unlock(&l->lock);
}

/* ---- retries --------------------------------------------------------------
 */

static int64_t meta_reconsume(const rmq_msg_t *m) {
  return rmq_msg_reconsume_times(m);
}

/* The message's topic as the broker knows it (Java's sendMessageBack:
 * withNamespace(msg.getTopic())). */
static const char *wrap_topic(const lite_t *l, const rmq_msg_t *m,
                              char buf[RMQI_NS_NAME_MAX]) {
  const char *t = rmqi_ns_wrap(l->conf.v.name_space, rmq_msg_topic(m), buf,
                               RMQI_NS_NAME_MAX);
  return t ? t : rmq_msg_topic(m);
}

/* Java's fallback when CONSUMER_SEND_MSG_BACK fails
 * (DefaultMQPushConsumerImpl.sendMessageBackAsNormalMessage, and the
 * orderly service's sendMessageBack): a plain send of a copy to
 * %RETRY%<group> through the instance's inner producer, with the message's
 * properties (TRAN_MSG cleared), RETRY_TOPIC its topic, ORIGIN_MESSAGE_ID
 * the first id, RECONSUME_TIME its reconsume times + 1,
 * MAX_RECONSUME_TIMES and delay level 3 + reconsume times; as in Java, the
 * listener's delay level is not used here. */
static bool retry_send(lite_t *l, push_t *p, const rmq_msg_t *m) {
  pthread_mutex_lock(&p->inner_lock);
  if (p->inner == NULL) {
    rmq_conf_t *c = rmq_conf_new();
    if (c && rmq_conf_set(c, "producerGroup", "CLIENT_INNER_PRODUCER", NULL,
                          0) == RMQ_OK)
      p->inner = rmq_producer_new(l->client, c, NULL, 0);
    rmq_conf_destroy(c);
  }
  rmq_producer_t *inner = p->inner;
  pthread_mutex_unlock(&p->inner_lock);
  if (inner == NULL)
    return false;
  char topic[300];
  snprintf(topic, sizeof(topic), "%%RETRY%%%s", l->group);
  rmq_msg_t *x = rmq_msg_new(topic);
  size_t blen;
  const void *body = rmq_msg_body(m, &blen);
  bool ok = x && rmq_msg_set_body(x, body, blen) == RMQ_OK &&
            rmq_msg_set_flag(x, rmq_msg_flag(m)) == RMQ_OK;
  size_t np = rmq_msg_property_count(m);
  for (size_t i = 0; ok && i < np; i++) {
    const char *k, *v;
    if (rmq_msg_property_at(m, i, &k, &v) == RMQ_OK &&
        strcmp(k, "TRAN_MSG") != 0)
      ok = rmqi_msg_put_prop(x, k, v) == RMQ_OK;
  }
  int64_t times = meta_reconsume(m);
  char buf[32];
  const char *origin = rmq_msg_property(m, "ORIGIN_MESSAGE_ID");
  char wrapped[RMQI_NS_NAME_MAX];
  const char *origin_topic = wrap_topic(l, m, wrapped);
  ok = ok && rmqi_msg_put_prop(x, "RETRY_TOPIC", origin_topic) == RMQ_OK;
  ok = ok &&
       rmqi_msg_put_prop(x, "ORIGIN_MESSAGE_ID",
                         origin && *origin ? origin : rmq_msg_id(m)) == RMQ_OK;
  snprintf(buf, sizeof(buf), "%lld", (long long)(times + 1));
  ok = ok && rmqi_msg_put_prop(x, "RECONSUME_TIME", buf) == RMQ_OK;
  snprintf(buf, sizeof(buf), "%d", p->max_reconsume);
  ok = ok && rmqi_msg_put_prop(x, "MAX_RECONSUME_TIMES", buf) == RMQ_OK;
  /* the broker caps it at its highest level (CommitLog.putMessage) */
  int level = (int)RMQI_MIN(3 + times, 18);
  snprintf(buf, sizeof(buf), "%d", level);
  ok = ok && rmqi_msg_put_prop(x, "DELAY", buf) == RMQ_OK;
  rmq_send_result_t res;
  memset(&res, 0, sizeof(res));
  rmq_err_t rc = ok ? rmq_producer_send(inner, x, &res) : RMQ_ERR_NOMEM;
  if (rc != RMQ_OK)
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
             "%s: retry send of %s failed: %s", l->group, rmq_msg_id(m),
             res.error ? res.error : rmq_err_str(rc));
  rmq_send_result_clear(&res);
  rmq_msg_destroy(x);
  return rc == RMQ_OK;
}

/* CONSUMER_SEND_MSG_BACK (requests.md §3.11), then the fallback. */
static bool send_back(lite_t *l, push_t *p, const lq_t *q, const rmq_msg_t *m,
                      int delay_level) {
  char addr[128], detail[256] = "";
  if (rmqi_lite_addr(l, q->topic, q->broker, 0, addr, sizeof(addr), NULL)) {
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_SEND_BACK);
    char wrapped[RMQI_NS_NAME_MAX];
    const char *id = rmq_msg_id(m), *topic = wrap_topic(l, m, wrapped);
    rmq_err_t rc = RMQ_OK;
    rc |= rmqi_cmd_ext_int(&cmd, "offset", rmq_msg_commitlog_offset(m));
    rc |= rmqi_cmd_ext_ref(&cmd, "group", l->group, strlen(l->group));
    rc |= rmqi_cmd_ext_int(&cmd, "delayLevel", delay_level);
    rc |= rmqi_cmd_ext_ref(&cmd, "originMsgId", id, strlen(id));
    rc |= rmqi_cmd_ext_ref(&cmd, "originTopic", topic, strlen(topic));
    rc |= rmqi_cmd_ext_bool(&cmd, "unitMode", false);
    rc |= rmqi_cmd_ext_int(&cmd, "maxReconsumeTimes", p->max_reconsume);
    rc |= rmqi_cmd_ext_ref(&cmd, "bname", q->broker, strlen(q->broker));
    rmqi_resp_t resp;
    if (rc == RMQ_OK)
      rc =
          rmqi_rpc_invoke_sync(l->client->rpc, addr, &cmd, SEND_BACK_TIMEOUT_MS,
                               &resp, detail, sizeof(detail));
    rmqi_cmd_free(&cmd);
    if (rc == RMQ_OK) {
      int code = resp.cmd.code;
      if (code != 0)
        snprintf(detail, sizeof(detail), "broker answered %s (%d): %s",
                 rmq_err_name(rmqi_server_err(code)), code,
                 resp.cmd.remark.p ? resp.cmd.remark.p : "");
      rmqi_resp_free(&resp);
      if (code == 0)
        return true;
    }
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
             "%s: send-back of %s failed (%s), sending to the retry topic",
             l->group, rmq_msg_id(m), detail);
  }
  return retry_send(l, p, m);
}

/* ---- consuming (no lock held; the batch is ours) ---------------------------
 */

/* A message's state (batch_t.state): its running thread writes it after
 * each call; other threads read it under l->lock. */
static inline bool is_done(const batch_t *b, size_t i) {
  return atomic_load_explicit(&b->state[i], memory_order_acquire);
}

static inline void set_done(batch_t *b, size_t i, bool done) {
  atomic_store_explicit(&b->state[i], done, memory_order_release);
}

/* Up to consumeMessageBatchMaxSize messages still to consume, from *from
 * on; their indexes in @p idx. */
static size_t next_chunk(const lite_t *l, const batch_t *b, size_t *from,
                         size_t *idx, rmq_msg_t **out) {
  size_t max = (size_t)l->conf.v.consume_batch_max, n = 0;
  size_t i = *from;
  while (i < b->n_dec && is_done(b, i))
    i++;
  for (; i < b->n_dec && n < max; i++)
    if (!is_done(b, i)) {
      idx[n] = i;
      out[n++] = b->msgs[i];
    }
  *from = i;
  return n;
}

/* The queue's offset while @p b is its head: its first message not
 * finished (its end when all are). l->lock held. */
static int64_t batch_offset(const batch_t *b) {
  for (size_t i = 0; i < b->n_dec; i++)
    if (!is_done(b, i))
      return rmq_msg_queue_offset(b->msgs[i]);
  return b->next_begin;
}

/* The queue's first unfinished offset by the states as they are now, its
 * runs' unpublished progress (progress_t) included (l->lock held). */
static int64_t pin_offset(const lq_t *q) {
  int64_t off = -1;
  for (const batch_t *b = q->pin_head; b; b = b->pnext) {
    if (b->state == NULL) /* not decoded yet: nothing of it is finished */
      return b->first;
    if ((off = batch_offset(b)) != b->next_begin)
      return off;
  }
  return off;
}

void rmqi_push_sync_offset(lite_t *l, lq_t *q) {
  (void)l;
  int64_t off = pin_offset(q);
  if (off >= 0)
    q->consumed = off;
}

/* Moves the queue's offset to its first unfinished message (l->lock held):
 * finished batches at the head of the pin list leave it. */
static void advance(lite_t *l, lq_t *q) {
  while (q->pin_head && !q->pin_head->running && q->pin_head->state &&
         batch_offset(q->pin_head) == q->pin_head->next_begin) {
    batch_t *b = q->pin_head;
    q->pin_head = b->pnext;
    if (q->pin_head == NULL)
      q->pin_tail = NULL;
    q->consumed = b->next_begin;
    rmqi_push_batch_free(b);
  }
  if (q->pin_head && q->pin_head->state)
    q->consumed = batch_offset(q->pin_head);
  else if (q->pin_head) /* not decoded yet: nothing of it is finished */
    q->consumed = q->pin_head->first;
  if (q->consumed >= 0)
    q->commit_mem = q->consumed; /* Java updates the offset store at once */
  (void)l;
}

/* Runs the listener on @p v; returns how long it took, in ms (the
 * statistics' consume time, added by the caller). *now is the time before
 * the call on entry (the previous call's end, within a run) and after it
 * on return: one clock read per call, not three (with one message a call
 * the reads were a twentieth of the push consumer's CPU). */
static uint64_t call(lite_t *l, push_t *p, batch_t *b, rmq_msg_t **v,
                     size_t n, rmq_consume_ctx_t *ctx, rmq_consume_status_t *st,
                     int64_t *now) {
  const lq_t *q = b->q;
  memset(ctx, 0, sizeof(*ctx));
  ctx->queue = (rmq_queue_t){q->topic, q->broker, q->qid};
  ctx->ack_index = (int)n - 1;
  ctx->suspend_ms = l->conf.v.suspend_queue_ms;
  int64_t w0 = l->tracer ? rmqi_wall_ms() : 0, m0 = *now;
  *st = p->cb(p->handle, v, n, ctx, p->opaque);
  int64_t m1 = *now = rmqi_now_ms();
  if (l->tracer) { /* Java's success flag and ConsumeReturnType */
    bool ok =
        p->orderly ? *st != RMQ_CONSUME_SUSPEND : *st == RMQ_CONSUME_SUCCESS;
    rmqi_trace_consume(l->tracer, l->client, l->group, v, n, w0, m0, ok,
                       ok ? RMQI_TRACE_RETURN_SUCCESS
                          : RMQI_TRACE_RETURN_FAILED);
  }
  return (uint64_t)(m1 - m0);
}

/* A concurrent run's progress not yet published. The batch's states are
 * set after each listener call without a lock; the queue's offset and the
 * statistics move under their locks every PUBLISH_MS, after a failure and
 * at the end of the run, not after each call: with one message a call,
 * consume threads took l->lock and the statistics' lock per message and
 * queued on each other (on two cores, 0.55 futex calls per message). A
 * commit reads the states themselves (rmqi_push_sync_offset): what
 * finished counts even while a later call of the run blocks. */
typedef struct progress {
  size_t ok, calls;
  uint64_t consume_ms;
  int64_t published_ms;
  bool dirty;
} progress_t;

static void publish(lite_t *l, batch_t *b, progress_t *g, int64_t now) {
  if (g->ok)
    rmqi_cstats_ok(&l->st, b->q->ts, g->ok);
  rmqi_tstat_add(b->q->ts, TS_CALLS, g->calls);
  rmqi_tstat_add(b->q->ts, TS_CONSUME_MS, g->consume_ms);
  g->ok = g->calls = 0;
  g->consume_ms = 0;
  pthread_mutex_lock(&l->lock);
  b->q->last_consume_ms = rmqi_wall_ms();
  if (b->gen == b->q->gen && b->q->pin_head == b)
    b->q->consumed = b->q->commit_mem = batch_offset(b);
  pthread_mutex_unlock(&l->lock);
  g->dirty = false;
  g->published_ms = now;
}

/* Concurrent: every message still to consume, in chunks. What fails is
 * sent back; what cannot be sent back stays to be consumed again. */
static void run_concurrent(lite_t *l, push_t *p, batch_t *b) {
  size_t max = (size_t)l->conf.v.consume_batch_max;
  /* one block: the chunk's indexes, messages and outcomes */
  size_t *idx = malloc(max * (sizeof(size_t) + sizeof(rmq_msg_t *) + 1));
  if (idx == NULL)
    return; /* finish() finds it unfinished and retries it later */
  rmq_msg_t **v = (rmq_msg_t **)(idx + max);
  bool *done = (bool *)(v + max);
  int64_t now = rmqi_now_ms();
  progress_t g = {.published_ms = now};
  bool clustering = l->conf.v.message_model == RMQI_MODEL_CLUSTERING;
  size_t from = 0, n;
  while ((n = next_chunk(l, b, &from, idx, v)) > 0) {
    rmq_consume_ctx_t ctx;
    rmq_consume_status_t st;
    g.consume_ms += call(l, p, b, v, n, &ctx, &st, &now);
    g.calls++;
    int acked = st == RMQ_CONSUME_SUCCESS
                    ? (int)RMQI_MAX(RMQI_MIN(ctx.ack_index + 1, (int)n), 0)
                    : 0;
    size_t failed = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
      bool ok = (int)i < acked;
      if (!ok) {
        failed++;
        /* broadcasting: only logged, as Java */
        ok = !clustering || send_back(l, p, b->q, v[i], ctx.delay_level);
        if (!ok) { /* consumed again here: one more reconsume (Java) */
          ((rmqi_msg_meta_t *)v[i]->meta)->reconsume_times++;
          kept++;
        }
      }
      done[i] = ok;
    }
    g.ok += (size_t)RMQI_MAX(acked, 0);
    if (failed) {
      char why[300];
      snprintf(why, sizeof(why), "%s: listener returned %s for %s", b->q->topic,
               st == RMQ_CONSUME_SUCCESS ? "a partial ack" : "RETRY_LATER",
               rmq_msg_id(v[acked > 0 ? acked : 0]));
      rmqi_cstats_fail(&l->st, b->q->ts, failed, why);
      if (!clustering)
        rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
                 "%s: broadcasting: %s (not retried)", l->group, why);
    }
    if (kept)
      b->not_before = now + LOCAL_RETRY_MS;
    for (size_t i = 0; i < n; i++)
      set_done(b, idx[i], done[i]);
    g.dirty = true;
    bool stop = atomic_load(&p->stop);
    if (stop)
      break;
    if (failed || now - g.published_ms >= PUBLISH_MS)
      publish(l, b, &g, now);
  }
  if (g.dirty)
    publish(l, b, &g, now);
  free(idx);
}

/* Orderly: the messages in order, one call at a time; a suspension keeps
 * the rest for later. A message suspended again after maxReconsumeTimes
 * retries (its reconsume count has reached the maximum) goes to the retry
 * topic with a count past it (the broker diverts it to the DLQ) and counts
 * as consumed. */
static void run_orderly(lite_t *l, push_t *p, batch_t *b) {
  size_t max = (size_t)l->conf.v.consume_batch_max;
  size_t *idx = malloc(max * sizeof(*idx));
  rmq_msg_t **v = malloc(max * sizeof(*v));
  bool *done = malloc(max * sizeof(*done));
  size_t from = 0, n;
  while (idx && v && done) {
    pthread_mutex_lock(&l->lock);
    bool go =
        !p->stop && b->gen == b->q->gen && lock_valid(l, b->q, rmqi_now_ms());
    pthread_mutex_unlock(&l->lock);
    if (!go) { /* the lock was lost: no more of this queue here */
      if (b->not_before < rmqi_now_ms())
        b->not_before = rmqi_now_ms() + 100;
      break;
    }
    if ((n = next_chunk(l, b, &from, idx, v)) == 0)
      break;
    rmq_consume_ctx_t ctx;
    rmq_consume_status_t st;
    int64_t now = rmqi_now_ms();
    uint64_t took = call(l, p, b, v, n, &ctx, &st, &now);
    rmqi_tstat_add(b->q->ts, TS_CALLS, 1);
    rmqi_tstat_add(b->q->ts, TS_CONSUME_MS, took);
    bool all_gone = true, suspended = st == RMQ_CONSUME_SUSPEND;
    for (size_t i = 0; i < n; i++)
      done[i] = !suspended;
    if (!suspended) {
      rmqi_cstats_ok(&l->st, b->q->ts, n);
    } else {
      for (size_t i = 0; i < n; i++) {
        /* Java checkReconsumeTimes: the count before this failure decides,
         * so with max N the listener sees a message N + 1 times (counts
         * 0..N), as a concurrent listener does; the copy sent then
         * carries N + 1, which the broker puts in the DLQ */
        rmqi_msg_meta_t *meta = (rmqi_msg_meta_t *)v[i]->meta;
        done[i] =
            meta->reconsume_times >= p->max_reconsume && retry_send(l, p, v[i]);
        if (!done[i])
          meta->reconsume_times++;
        all_gone = all_gone && done[i];
      }
      char why[300];
      snprintf(why, sizeof(why), "%s: orderly listener suspended %s",
               b->q->topic, rmq_msg_id(v[0]));
      rmqi_cstats_fail(&l->st, b->q->ts, n, why);
    }
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < n; i++)
      set_done(b, idx[i], done[i]);
    b->q->last_consume_ms = rmqi_wall_ms();
    if (b->gen == b->q->gen)
      b->q->consumed = b->q->commit_mem = batch_offset(b);
    pthread_mutex_unlock(&l->lock);
    if (suspended && !all_gone) {
      int64_t ms = RMQI_MIN(RMQI_MAX(ctx.suspend_ms, 10), 30000);
      b->not_before = rmqi_now_ms() + ms;
      break;
    }
  }
  free(idx);
  free(v);
  free(done);
}

/* Ends a run (no lock held on entry). */
static void finish(lite_t *l, push_t *p, batch_t *b) {
  pthread_mutex_lock(&l->lock);
  lq_t *q = b->q;
  b->running = false;
  if (p->orderly)
    q->busy = false;
  if (b->gen != q->gen) { /* seeked or dropped meanwhile: not ours now */
    rmqi_push_batch_free(b);
  } else if (b->state == NULL || batch_offset(b) != b->next_begin) {
    /* something is left: a retry, a suspension, or the lock went */
    if (b->state == NULL) /* could not decode (memory): try again soon */
      b->not_before = rmqi_now_ms() + LOCAL_RETRY_MS;
    b->lnext = p->later;
    p->later = b;
  } else {
    uncount(l, q, b);
    advance(l, q);
    /* the span flow control measures from the first unfinished offset */
    q->cached_lo = q->cached_msgs ? q->consumed : -1;
  }
  if (q->dropped && q->pin_head == NULL)
    rmqi_push_on_drop(l, q); /* orderly: unlock now that it is idle */
  rmqi_lite_release(l, q);
  if (--p->running == 0)
    pthread_cond_broadcast(&p->idle_cv);
  /* no wake-up here: this thread takes the next unit itself (an orderly
   * queue freed now included) */
  pthread_mutex_unlock(&l->lock);
}

static void run(lite_t *l, push_t *p, batch_t *b) {
  decode_all(l, b);
  if (b->state) {
    if (p->orderly)
      run_orderly(l, p, b);
    else
      run_concurrent(l, p, b);
  }
  finish(l, p, b);
}

/* ---- threads and poll-mode jobs ------------------------------------------
 */

/* Whether to wake one idle consume thread (l->lock held): not when
 * enough are woken already. A woken thread that finds more work than it
 * takes wakes the next, so threads join in as work backs up, and one batch
 * at a time wakes one thread, not all of them. The caller signals work_cv
 * after releasing l->lock, which the woken thread takes first thing. */
static bool wake_one(push_t *p) {
  if (p->waiting <= p->woken)
    return false;
  p->woken++;
  return true;
}

static void *worker(void *arg) {
  lite_t *l = arg;
  push_t *p = l->push;
  pthread_mutex_lock(&l->lock);
  while (!p->stop) {
    int64_t wake = rmqi_now_ms() + 1000;
    batch_t *b = take_work(l, p, &wake);
    if (b == NULL) {
      p->waiting++;
      rmqi_cond_wait_until(&p->work_cv, &l->lock, wake);
      p->waiting--;
      if (p->woken) /* a timeout may take a wake-up's count: one more wake */
        p->woken--;
      continue;
    }
    bool more = l->ready && wake_one(p);
    pthread_mutex_unlock(&l->lock);
    if (more)
      pthread_cond_signal(&p->work_cv);
    run(l, p, b);
    pthread_mutex_lock(&l->lock);
  }
  p->exited++;
  pthread_cond_broadcast(&p->idle_cv);
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_unref(l); /* the thread's reference */
  return NULL;
}

static void poll_job(void *arg);

/* Poll mode: makes sure one job is queued while there is work (l->lock
 * held). */
static void queue_job(lite_t *l, push_t *p) {
  if (p->job_queued || p->stop)
    return;
  atomic_fetch_add(&l->refs, 1);
  p->job_queued = true;
  if (rmqi_client_dispatch(l->client, poll_job, l) != RMQ_OK) {
    p->job_queued = false;
    atomic_fetch_sub(&l->refs, 1); /* not the last: the caller holds one */
  }
}

/* Runs in rmq_poll: consumes what is ready now, a bounded amount, so that
 * rmq_poll returns; queues itself again while work remains. */
static void poll_job(void *arg) {
  lite_t *l = arg;
  push_t *p = l->push;
  pthread_mutex_lock(&l->lock);
  p->job_queued = false;
  for (int i = 0; i < 64 && !p->stop; i++) {
    int64_t wake = INT64_MAX;
    batch_t *b = take_work(l, p, &wake);
    if (b == NULL)
      break;
    pthread_mutex_unlock(&l->lock);
    run(l, p, b);
    pthread_mutex_lock(&l->lock);
  }
  bool more = l->ready != NULL;
  for (batch_t *b = p->later; b && !more; b = b->lnext)
    more = b->not_before <= rmqi_now_ms();
  if (more)
    queue_job(l, p);
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_unref(l);
}

void rmqi_push_on_ready(lite_t *l) {
  push_t *p = l->push;
  if (!p->started)
    return;
  if (p->n_threads)
    l->push_wake = l->push_wake || wake_one(p);
  else
    queue_job(l, p);
}

void rmqi_push_wake(lite_t *l) {
  pthread_cond_signal(&l->push->work_cv);
}

/* ---- CONSUME_MESSAGE_DIRECTLY (309) -----------------------------------------
 * An admin (`mqadmin queryMsgById -g <group> -d <clientId>`, the
 * dashboard's "resend") asks the consumer to run its listener on one
 * message read from the commit log. Java's consumeMessageDirectly: the
 * listener runs once, off the I/O thread; no offset moves, nothing is sent
 * back; the answer says what the listener returned. */

typedef struct direct {
  lite_t *l; /* a reference */
  rmqi_conn_t *conn;
  rmqi_cmd_t resp; /* opaque of the request */
  rmq_msg_t *msg;
} direct_t;

static void direct_answer(direct_t *d, int32_t code, const char *remark,
                          const rmqi_buf_t *body) {
  d->resp.code = code;
  if (remark)
    rmqi_cmd_set_remark(&d->resp, remark, strlen(remark));
  if (body && rmqi_buf_ok(body)) {
    d->resp.body = body->data;
    d->resp.body_len = body->len;
  }
  rmqi_rpc_reply(d->conn, &d->resp);
  rmqi_cmd_free(&d->resp);
  rmqi_conn_release(d->conn);
  rmq_msg_destroy(d->msg);
  rmqi_lite_unref(d->l);
  free(d);
}

/* A consume thread of the client's pool, or rmq_poll. */
static void direct_run(void *arg) {
  direct_t *d = arg;
  lite_t *l = d->l;
  push_t *p = l->push;
  pthread_mutex_lock(&l->lock);
  bool stop = p->stop;
  if (!stop)
    p->running++; /* destroy waits for this call as for any other */
  pthread_mutex_unlock(&l->lock);
  if (stop) {
    direct_answer(d, RMQ_SYSTEM_ERROR, "the consumer is shutting down", NULL);
    return;
  }
  rmq_consume_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.queue = (rmq_queue_t){rmq_msg_topic(d->msg), rmq_msg_broker_name(d->msg),
                            rmq_msg_queue_id(d->msg)};
  ctx.suspend_ms = l->conf.v.suspend_queue_ms;
  int64_t t0 = rmqi_now_ms();
  rmq_consume_status_t st = p->cb(p->handle, &d->msg, 1, &ctx, p->opaque);
  int64_t spent = rmqi_now_ms() - t0;
  /* Java's ConsumeMessageDirectlyResult; an orderly SUSPEND and a
   * concurrent RECONSUME_LATER are both CR_LATER */
  bool ok = st == RMQ_CONSUME_SUCCESS;
  char json[160];
  int jn = snprintf(json, sizeof(json),
                    "{\"autoCommit\":true,\"consumeResult\":\"%s\","
                    "\"order\":%s,\"spentTimeMills\":%lld}",
                    ok ? "CR_SUCCESS" : "CR_LATER",
                    p->orderly ? "true" : "false", (long long)spent);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_buf_put(&b, json, (size_t)jn);
  pthread_mutex_lock(&l->lock);
  if (--p->running == 0)
    pthread_cond_broadcast(&p->idle_cv);
  pthread_mutex_unlock(&l->lock);
  rmqi_log(&l->client->log, RMQ_LOG_INFO, "consumer",
           "%s: consumed %s directly for an admin: %s", l->group,
           rmq_msg_id(d->msg), ok ? "CR_SUCCESS" : "CR_LATER");
  direct_answer(d, rmqi_buf_ok(&b) ? RMQ_OK : RMQ_SYSTEM_ERROR,
                rmqi_buf_ok(&b) ? NULL : "out of memory", &b);
  rmqi_buf_free(&b);
}

void rmqi_push_consume_directly(lite_t *l, rmqi_conn_t *conn,
                                const rmqi_cmd_t *req) {
  direct_t *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return; /* the broker's call times out */
  rmqi_cmd_init_response(&d->resp, req, RMQ_OK);
  d->conn = rmqi_conn_keep(conn);
  atomic_fetch_add(&l->refs, 1);
  d->l = l;
  const rmqi_str_t *bn = rmqi_cmd_ext_get(req, "brokerName");
  char broker[256];
  snprintf(broker, sizeof(broker), "%.*s", bn ? (int)RMQI_MIN(bn->n, 255) : 0,
           bn ? bn->p : "");
  rmqi_errbuf_t e;
  rmqi_msgrec_t rec;
  size_t next;
  rmqi_errbuf_clear(&e);
  rmq_err_t rc = rmqi_msgrec_decode(req->body, req->body_len, &rec, &next, &e);
  if (rc == RMQ_OK)
    rc =
        rmqi_rxmsg_build(&rec, broker, (size_t)l->conf.v.max_inflated_body_size,
                         true, &d->msg, &e);
  if (rc != RMQ_OK) {
    char why[300];
    snprintf(why, sizeof(why), "undecodable message: %s",
             e.msg[0] ? e.msg : rmq_err_str(rc));
    direct_answer(d, RMQ_SYSTEM_ERROR, why, NULL);
    return;
  }
  restore_topic(l, d->msg);
  if (!l->push->started ||
      (rc = rmqi_client_dispatch(l->client, direct_run, d)) != RMQ_OK)
    direct_answer(d, RMQ_SYSTEM_ERROR,
                  rc == RMQ_OK ? "the consumer is not started"
                               : "the consumer is shutting down",
                  NULL);
}

/* ---- orderly locks ----------------------------------------------------------
 */

static bool orderly_locks(const lite_t *l) {
  return l->push && l->push->orderly &&
         l->conf.v.message_model == RMQI_MODEL_CLUSTERING;
}

bool rmqi_push_unlocks(const lite_t *l) {
  return orderly_locks(l);
}

bool rmqi_push_may_commit(const lite_t *l, const lq_t *q) {
  return !orderly_locks(l) || lock_valid(l, q, rmqi_now_ms());
}

void rmqi_push_on_drop(lite_t *l, lq_t *q) {
  push_t *p = l->push;
  if (!orderly_locks(l) || !q->locked)
    return;
  if (q->busy) /* its thread unlocks when it is done (finish) */
    return;
  q->locked = false;
  if (p->n_unlock == p->cap_unlock) {
    size_t cap = p->cap_unlock ? 2 * p->cap_unlock : 16;
    pending_commit_t *v = realloc(p->unlock, cap * sizeof(*v));
    if (v == NULL)
      return; /* the broker's lock expires on its own (60 s) */
    p->unlock = v;
    p->cap_unlock = cap;
  }
  pending_commit_t *u = &p->unlock[p->n_unlock];
  u->topic = strdup(q->topic);
  u->broker = strdup(q->broker);
  u->qid = q->qid;
  if (u->topic && u->broker)
    p->n_unlock++;
  else {
    free(u->topic);
    free(u->broker);
  }
}

/* One LOCK_BATCH_MQ or UNLOCK_BATCH_MQ for @p n queues of one broker. On
 * RMQ_OK with @p locked, *locked holds the queues the broker gave us. */
static rmq_err_t lock_call(lite_t *l, int32_t code, const char *addr,
                           const rmqi_mqo_t *mqs, size_t n, bool oneway,
                           int64_t timeout_ms, rmqi_mqlist_t *locked) {
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  rmqi_lock_req_t rq = {l->group, l->client->id, mqs, n, false};
  rmqi_lock_req_encode(&body, &rq);
  if (!rmqi_buf_ok(&body)) {
    rmqi_buf_free(&body);
    return RMQ_ERR_NOMEM;
  }
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, code);
  cmd.body = body.data;
  cmd.body_len = body.len;
  rmq_err_t rc;
  if (oneway) {
    rc = rmqi_rpc_oneway(l->client->rpc, addr, &cmd);
  } else {
    rmqi_resp_t resp;
    char detail[200];
    rc = rmqi_rpc_invoke_sync(l->client->rpc, addr, &cmd, timeout_ms, &resp,
                              detail, sizeof(detail));
    if (rc == RMQ_OK) {
      rc = rmqi_server_err(resp.cmd.code);
      if (rc == RMQ_OK && locked) {
        rmqi_errbuf_t e;
        rc = rmqi_lock_resp_decode(locked, (const char *)resp.cmd.body,
                                   resp.cmd.body_len, &e);
      }
      rmqi_resp_free(&resp);
    }
    if (rc != RMQ_OK)
      rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
               "%s: %s at %s failed: %s %s", l->group,
               code == RC_LOCK ? "lock" : "unlock", addr, rmq_err_name(rc),
               detail);
  }
  rmqi_cmd_free(&cmd);
  rmqi_buf_free(&body);
  return rc;
}

static bool in_list(const rmqi_mqlist_t *v, const rmqi_mqo_t *m) {
  for (size_t i = 0; i < v->n; i++)
    if (v->v[i].queue_id == m->queue_id &&
        strcmp(v->v[i].topic, m->topic) == 0 &&
        strcmp(v->v[i].broker, m->broker) == 0)
      return true;
  return false;
}

/* The queues to (re)lock, copied (l->lock held): all of them when
 * renewing, else those not locked yet. */
static size_t lock_candidates(lite_t *l, bool renew, rmqi_mqo_t **out) {
  size_t n = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    n += !q->dropped && (renew || !q->locked);
  rmqi_mqo_t *v = n ? calloc(n, sizeof(*v)) : NULL;
  size_t k = 0;
  for (lq_t *q = l->queues; v && q; q = q->next)
    if (!q->dropped && (renew || !q->locked)) {
      v[k].topic = strdup(q->topic);
      v[k].broker = strdup(q->broker);
      v[k].queue_id = q->qid;
      if (v[k].topic && v[k].broker)
        k++;
      else {
        free((char *)v[k].topic);
        free((char *)v[k].broker);
      }
    }
  *out = v;
  return k;
}

static void mqos_free(rmqi_mqo_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free((char *)v[i].topic);
    free((char *)v[i].broker);
  }
  free(v);
}

/* The master's address of @p broker, as Java's orderly locks use
 * (RebalanceImpl.lock/unlock: findBrokerAddressInSubscribe(name, MASTER_ID,
 * true)): with the master down an orderly queue stays unlocked and is not
 * consumed. A lock taken at a slave would not keep out a consumer that
 * locks the same queue at the master when it is back. */
static bool master_addr(lite_t *l, const char *topic, const char *broker,
                        char *out, size_t n) {
  bool master = false;
  return rmqi_lite_addr(l, topic, broker, 0, out, n, &master) && master;
}

/* A queue locked again after its lock lapsed or went to another member,
 * held back from consumption until the broker's offset is known. */
typedef struct regained {
  rmqi_mqo_t m;
  int64_t lock_ms;
} regained_t;

/* Where @p q's consumption stands (l->lock held): the offset of its first
 * unfinished message, else the next to pull; -1 when unknown. */
static int64_t position(lite_t *l, lq_t *q) {
  rmqi_push_sync_offset(l, q);
  return q->consumed >= 0 ? q->consumed : q->pull_offset;
}

/* Finishes the relock of @p r (no lock held): while the lock was not ours,
 * another member may have consumed the queue and committed past what this
 * one has pulled; its pulled messages would then be consumed a second
 * time, after their successors (Java consumes them). So the broker's
 * offset is read first, and a later one moves the queue there. Returns
 * false when the broker did not answer. */
static bool relock(lite_t *l, const regained_t *r) {
  char addr[128], err[256] = "";
  int64_t off = -1;
  rmq_err_t rc = RMQ_ERR_NO_ROUTE;
  if (master_addr(l, r->m.topic, r->m.broker, addr, sizeof(addr)))
    rc = rmqi_consumer_offset(l->client, addr, l->group, r->m.topic,
                              r->m.broker, r->m.queue_id, &off, err,
                              sizeof(err));
  if (rc == RMQ_ERR_NOT_FOUND) { /* nothing committed: nothing to move to */
    rc = RMQ_OK;
    off = -1;
  }
  pthread_mutex_lock(&l->lock);
  lq_t *q = rmqi_lite_find(l, r->m.topic, r->m.broker, r->m.queue_id);
  /* a commit of ours in flight may land after the read: next pass */
  if (q && !q->dropped && rc == RMQ_OK && !q->commit_busy) {
    int64_t pos = position(l, q);
    if (off > pos) {
      rmqi_log(&l->client->log, RMQ_LOG_INFO, "rebalance",
               "%s: %s %s:%d locked again; the group's offset %lld is past "
               "this member's %lld: its pulled messages are dropped",
               l->group, q->topic, q->broker, (int)q->qid, (long long)off,
               (long long)pos);
      rmqi_lite_reset_queue(l, q);
      q->pull_offset = q->consumed = q->done = off;
      q->commit_mem = q->committed = off;
      q->due_ms = 0;
    }
    q->locked = true;
    q->lock_ms = r->lock_ms;
  } else if (q && rc != RMQ_OK && rc != RMQ_ERR_SHUTDOWN)
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "rebalance",
             "%s: %s %s:%d locked again, its offset unknown (%s %s): not "
             "consumed until a later lock reads it",
             l->group, q->topic, q->broker, (int)q->qid, rmq_err_name(rc),
             err);
  pthread_mutex_unlock(&l->lock);
  return rc == RMQ_OK || rc == RMQ_ERR_NO_ROUTE;
}

/* Locks @p v (grouped by broker, one request each) and marks the queues
 * (Java RebalanceImpl.lockAll). */
static void lock_queues(lite_t *l, rmqi_mqo_t *v, size_t n) {
  bool *done = calloc(n ? n : 1, sizeof(*done));
  rmqi_mqo_t *grp = calloc(n ? n : 1, sizeof(*grp));
  regained_t *re = calloc(n ? n : 1, sizeof(*re));
  size_t n_re = 0;
  for (size_t i = 0; done && grp && re && i < n; i++) {
    if (done[i])
      continue;
    size_t g = 0;
    for (size_t k = i; k < n; k++)
      if (!done[k] && strcmp(v[k].broker, v[i].broker) == 0) {
        grp[g++] = v[k];
        done[k] = true;
      }
    char addr[128];
    rmqi_mqlist_t ok = {0};
    /* a lock's life counts from before the request: the broker's from
     * when it took it, which is later */
    int64_t t_req = rmqi_now_ms();
    bool got = master_addr(l, v[i].topic, v[i].broker, addr, sizeof(addr)) &&
               lock_call(l, RC_LOCK, addr, grp, g, false, LOCK_TIMEOUT_MS,
                         &ok) == RMQ_OK;
    pthread_mutex_lock(&l->lock);
    for (size_t k = 0; k < g; k++) {
      lq_t *q = rmqi_lite_find(l, grp[k].topic, grp[k].broker, grp[k].queue_id);
      if (q == NULL)
        continue;
      bool mine = got && in_list(&ok, &grp[k]);
      if (mine && !lock_valid(l, q, t_req) && q->pull_offset >= 0) {
        q->locked = false; /* until relock() has the broker's offset */
        re[n_re++] = (regained_t){grp[k], t_req};
        continue;
      }
      if (mine && !q->locked)
        rmqi_log(&l->client->log, RMQ_LOG_INFO, "rebalance",
                 "%s: %s %s:%d locked", l->group, q->topic, q->broker,
                 (int)q->qid);
      if (mine)
        q->lock_ms = t_req;
      else if (got) /* another consumer holds it */
        q->locked = false;
      q->locked = q->locked || mine;
    }
    pthread_mutex_unlock(&l->lock);
    if (got)
      rmqi_mqlist_free(&ok);
  }
  /* v owns the names. A broker that stops answering costs one timeout,
   * not one per queue: the rest stay unlocked and are tried again. */
  for (size_t i = 0; i < n_re && relock(l, &re[i]); i++)
    ;
  free(re);
  free(done);
  free(grp);
}

void rmqi_push_svc(lite_t *l) {
  push_t *p = l->push;
  pthread_mutex_lock(&l->lock);    /* n_threads: destroy zeroes it */
  if (!p->n_threads && p->started) /* poll mode: retries that came due */
    for (batch_t *b = p->later; b; b = b->lnext)
      if (b->not_before <= rmqi_now_ms()) {
        queue_job(l, p);
        break;
      }
  pthread_mutex_unlock(&l->lock);
  if (!orderly_locks(l))
    return;
  pthread_mutex_lock(&l->lock);
  pending_commit_t *un = p->unlock;
  size_t n_un = p->n_unlock;
  p->unlock = NULL;
  p->n_unlock = p->cap_unlock = 0;
  int64_t now = rmqi_now_ms();
  bool renew = now >= p->next_lock_ms;
  rmqi_mqo_t *v;
  size_t n = lock_candidates(l, renew, &v);
  pthread_mutex_unlock(&l->lock);
  for (size_t i = 0; i < n_un; i++) { /* one-way, as Java on removal */
    char addr[128];
    rmqi_mqo_t m = {un[i].topic, un[i].broker, un[i].qid, 0};
    if (master_addr(l, m.topic, m.broker, addr, sizeof(addr)))
      lock_call(l, RC_UNLOCK, addr, &m, 1, true, 0, NULL);
    free(un[i].topic);
    free(un[i].broker);
  }
  free(un);
  if (n)
    lock_queues(l, v, n);
  mqos_free(v, n);
  if (renew)
    p->next_lock_ms = now + l->conf.v.lock_interval_ms;
}

int64_t rmqi_push_svc_due(const lite_t *l) {
  if (!orderly_locks(l))
    return INT64_MAX;
  /* renewals on time, not at the next rebalance or persist: a lock not
   * renewed within rebalanceLockMaxLiveTime stops its queue */
  int64_t due = l->push->next_lock_ms;
  /* a queue another member holds is asked for again every second (the
   * last holder's broker lock may lapse, or it may unlock at any time) */
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped && !q->locked) {
      due = RMQI_MIN(due, rmqi_now_ms() + LOCK_RETRY_MS);
      break;
    }
  return due;
}

/* Shutdown: every queue we hold, synchronously, within @p deadline. */
static void unlock_all(lite_t *l, int64_t deadline) {
  pthread_mutex_lock(&l->lock);
  rmqi_mqo_t *v;
  /* every queue we have: the broker unlocks only what this client holds */
  size_t n = lock_candidates(l, true, &v);
  pthread_mutex_unlock(&l->lock);
  bool *done = calloc(n ? n : 1, sizeof(*done));
  rmqi_mqo_t *grp = calloc(n ? n : 1, sizeof(*grp));
  for (size_t i = 0; done && grp && i < n; i++) {
    if (done[i])
      continue;
    size_t g = 0;
    for (size_t k = i; k < n; k++)
      if (!done[k] && strcmp(v[k].broker, v[i].broker) == 0) {
        grp[g++] = v[k];
        done[k] = true;
      }
    int64_t left = deadline - rmqi_now_ms();
    char addr[128];
    if (left > 0 && master_addr(l, v[i].topic, v[i].broker, addr, sizeof(addr)))
      lock_call(l, RC_UNLOCK, addr, grp, g, false,
                RMQI_MIN(left, LOCK_TIMEOUT_MS), NULL);
  }
  free(done);
  free(grp);
  mqos_free(v, n);
}

/* ---- public calls
 * -------------------------------------------------------------
 */

void rmqi_push_free(push_t *p) {
  for (size_t i = 0; i < p->n_unlock; i++) {
    free(p->unlock[i].topic);
    free(p->unlock[i].broker);
  }
  free(p->unlock);
  free(p->threads);
  pthread_cond_destroy(&p->work_cv);
  pthread_cond_destroy(&p->idle_cv);
  pthread_mutex_destroy(&p->inner_lock);
  free(p);
}

rmq_push_consumer_t *rmq_push_consumer_new(rmq_client_t *client,
                                           const rmq_conf_t *conf, char *errstr,
                                           size_t errstr_size) {
  rmqi_errstr(errstr, errstr_size, "%s", "");
  if (conf == NULL) {
    rmqi_errstr(errstr, errstr_size, "consumerGroup is required");
    return NULL;
  }
  rmq_conf_t *c = rmq_conf_dup(conf);
  rmq_push_consumer_t *h = calloc(1, sizeof(*h));
  push_t *p = calloc(1, sizeof(*p));
  if (c == NULL || h == NULL || p == NULL) {
    rmq_conf_destroy(c);
    free(h);
    free(p);
    rmqi_errstr(errstr, errstr_size, "out of memory");
    return NULL;
  }
  /* a lock that lapses before its renewal is due stops every orderly queue
   * for part of each period */
  if (c->v.lock_max_live_ms <= c->v.lock_interval_ms) {
    rmqi_errstr(errstr, errstr_size,
                "rebalanceLockMaxLiveTime (%lld) must exceed "
                "rebalanceLockInterval (%lld)",
                (long long)c->v.lock_max_live_ms,
                (long long)c->v.lock_interval_ms);
    rmq_conf_destroy(c);
    free(h);
    free(p);
    return NULL;
  }
  /* Java's push default is 32 a pull (the lite consumer's is 10) */
  if (!rmqi_conf_is_set(c, "pullBatchSize"))
    rmq_conf_set(c, "pullBatchSize", "32", NULL, 0);
  h->pc = rmq_pull_consumer_new(client, c, errstr, errstr_size);
  rmq_conf_destroy(c);
  if (h->pc == NULL) {
    free(h);
    free(p);
    return NULL;
  }
  rmqi_cond_init_mono(&p->work_cv);
  rmqi_cond_init_mono(&p->idle_cv);
  pthread_mutex_init(&p->inner_lock, NULL);
  p->handle = h;
  h->p = p;
  lite_t *l = h->pc->l;
  pthread_mutex_lock(&l->lock);
  l->push = p; /* before anything announces the group: CONSUME_PASSIVELY */
  pthread_mutex_unlock(&l->lock);
  return h;
}

rmq_client_t *rmq_push_consumer_client(rmq_push_consumer_t *h) {
  return h ? rmq_pull_consumer_client(h->pc) : NULL;
}

static rmq_err_t set_listener(rmq_push_consumer_t *h, rmq_consume_cb *cb,
                              void *opaque, bool orderly) {
  if (h == NULL || cb == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = h->pc->l;
  push_t *p = h->p;
  pthread_mutex_lock(&l->lock);
  rmq_err_t rc = RMQ_OK;
  if (p->started) {
    rc = RMQ_ERR_STATE;
  } else {
    p->cb = cb;
    p->opaque = opaque;
    p->orderly = orderly;
    int64_t max = l->conf.v.max_reconsume_times;
    /* Java: -1 means 16 for a concurrent listener, unlimited for orderly */
    p->max_reconsume = max >= 0 ? (int)max : orderly ? INT32_MAX : 16;
  }
  pthread_mutex_unlock(&l->lock);
  return rc;
}

rmq_err_t rmq_push_consumer_set_listener(rmq_push_consumer_t *h,
                                         rmq_consume_cb *cb, void *opaque) {
  return set_listener(h, cb, opaque, false);
}

rmq_err_t rmq_push_consumer_set_listener_orderly(rmq_push_consumer_t *h,
                                                 rmq_consume_cb *cb,
                                                 void *opaque) {
  return set_listener(h, cb, opaque, true);
}

rmq_err_t rmq_push_consumer_subscribe(rmq_push_consumer_t *h, const char *topic,
                                      const char *expr) {
  return h ? rmq_pull_consumer_subscribe(h->pc, topic, expr)
           : RMQ_ERR_INVALID_ARG;
}

rmq_err_t rmq_push_consumer_subscribe_sql(rmq_push_consumer_t *h,
                                          const char *topic, const char *sql) {
  return h ? rmq_pull_consumer_subscribe_sql(h->pc, topic, sql)
           : RMQ_ERR_INVALID_ARG;
}

rmq_err_t rmq_push_consumer_unsubscribe(rmq_push_consumer_t *h,
                                        const char *topic) {
  return h ? rmq_pull_consumer_unsubscribe(h->pc, topic) : RMQ_ERR_INVALID_ARG;
}

rmq_err_t rmq_push_consumer_start(rmq_push_consumer_t *h) {
  if (h == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = h->pc->l;
  push_t *p = h->p;
  pthread_mutex_lock(&l->lock);
  bool ok = p->cb != NULL && !p->started && !l->started;
  pthread_mutex_unlock(&l->lock);
  if (!ok)
    return RMQ_ERR_STATE;
  if (l->conf.v.message_model == RMQI_MODEL_CLUSTERING) {
    /* redeliveries come through the group's retry topic (Java
     * copySubscription) */
    char retry[300];
    snprintf(retry, sizeof(retry), "%%RETRY%%%s", l->group);
    rmq_err_t rc = rmq_pull_consumer_subscribe(h->pc, retry, "*");
    if (rc != RMQ_OK)
      return rc;
  }
  size_t n =
      l->client->disp.poll_mode ? 0 : (size_t)l->conf.v.consume_thread_min;
  pthread_mutex_lock(&l->lock);
  p->started = true;
  if (n)
    p->threads = calloc(n, sizeof(*p->threads));
  pthread_mutex_unlock(&l->lock);
  if (n && p->threads == NULL)
    return RMQ_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_add(&l->refs, 1); /* the thread's */
    if (pthread_create(&p->threads[i], NULL, worker, l) != 0) {
      atomic_fetch_sub(&l->refs, 1);
      break;
    }
    p->n_threads++;
  }
  if (p->n_threads < n)
    return RMQ_ERR_NOMEM;
  return rmq_pull_consumer_start(h->pc);
}

rmq_err_t rmq_push_consumer_stats(rmq_push_consumer_t *h,
                                  rmq_consumer_stats_t *out) {
  if (h == NULL || out == NULL)
    return RMQ_ERR_INVALID_ARG;
  return rmqi_push_stats(h->pc->l, out);
}

rmq_err_t rmq_push_consumer_set_assignment_cb(rmq_push_consumer_t *h,
                                              rmq_assignment_cb *cb,
                                              void *opaque) {
  return h ? rmq_pull_consumer_set_assignment_cb(h->pc, cb, opaque)
           : RMQ_ERR_INVALID_ARG;
}

static rmq_err_t set_suspended(rmq_push_consumer_t *h, bool on) {
  if (h == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = h->pc->l;
  pthread_mutex_lock(&l->lock);
  h->p->suspended = on;
  pthread_mutex_unlock(&l->lock);
  return RMQ_OK;
}

rmq_err_t rmq_push_consumer_suspend(rmq_push_consumer_t *h) {
  return set_suspended(h, true);
}

rmq_err_t rmq_push_consumer_resume(rmq_push_consumer_t *h) {
  return set_suspended(h, false);
}

void rmq_push_consumer_destroy(rmq_push_consumer_t *h, int timeout_ms) {
  if (h == NULL)
    return;
  lite_t *l = h->pc->l;
  push_t *p = h->p;
  int64_t deadline = rmqi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  /* 1. no new work; what runs finishes its current call */
  pthread_mutex_lock(&l->lock);
  p->stop = true;
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&l->lock);
  for (size_t i = 0; i < p->n_threads; i++) /* send-backs in progress */
    rmqi_rpc_abort_sync(l->client->rpc, p->threads[i]);
  pthread_mutex_lock(&l->lock);
  while ((p->running > 0 || p->exited < p->n_threads) &&
         rmqi_now_ms() < deadline)
    rmqi_cond_wait_until(&p->idle_cv, &l->lock,
                         RMQI_MIN(deadline, rmqi_now_ms() + 10));
  size_t exited = p->exited;
  pthread_mutex_unlock(&l->lock);
  /* 2. threads still in a listener call are not waited for: each holds a
   * reference and leaves when its call returns */
  if (exited == p->n_threads) {
    for (size_t i = 0; i < p->n_threads; i++)
      pthread_join(p->threads[i], NULL);
  } else {
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
             "%s: %zu listener call(s) still running at the destroy timeout",
             l->group, p->n_threads - exited);
    for (size_t i = 0; i < p->n_threads; i++)
      pthread_detach(p->threads[i]);
  }
  /* under the lock: the I/O thread reads it (rmqi_push_on_ready); with
   * p->stop set, a zero makes it queue nothing */
  pthread_mutex_lock(&l->lock);
  p->n_threads = 0;
  pthread_mutex_unlock(&l->lock);
  /* 3. the service thread stops before the locks go, so none is renewed
   * after its unlock */
  rmqi_lite_svc_stop(l);
  /* 4. the offsets, answered, before the unlocks: an orderly queue's next
   * owner may lock it at once and must find where we stopped */
  rmqi_lite_persist_final(l, deadline);
  if (orderly_locks(l))
    unlock_all(l, deadline);
  pthread_mutex_lock(&p->inner_lock);
  rmq_producer_t *inner = p->inner;
  p->inner = NULL;
  pthread_mutex_unlock(&p->inner_lock);
  if (inner)
    rmq_producer_destroy(inner, (int)RMQI_MAX(deadline - rmqi_now_ms(), 0));
  /* 5. leave the group, free (the pull consumer's destroy) */
  rmq_pull_consumer_destroy(h->pc, (int)RMQI_MAX(deadline - rmqi_now_ms(), 0));
  free(h);
}

/*
 * The lite pull consumer: queues, pulls on the loop thread, poll() on the
 * application's thread. See lite_int.h for the threading model.
 */
#include "lite_int.h"

#include "../codec/batch.h"
#include "../util/endian.h"
#include "../util/time.h"
#include "pull.h"
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  TICK_MS = 20,
  FLOW_DELAY_MS = 50,    /* Java PULL_TIME_DELAY_MILLS_WHEN_FLOW_CONTROL */
  PAUSE_DELAY_MS = 1000, /* Java PULL_TIME_DELAY_MILLS_WHEN_PAUSE */
  MOVED_BACK_RECHECK_MS = 1000, /* see take_result */
};

/* ---- lifetime ------------------------------------------------------------ */

void rmqi_lite_batch_free(batch_t *b) {
  rmqi_rxmsg_inner_end(&b->inner);
  free(b->body);
  free(b);
}

static void lq_free(lq_t *q) {
  rmqi_sub_free(q->sub);
  free(q->sub);
  free(q->topic);
  free(q->broker);
  free(q);
}

void rmqi_lite_unref(lite_t *l) {
  if (atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  while (l->ready) {
    batch_t *b = l->ready;
    l->ready = b->next;
    rmqi_lite_batch_free(b);
  }
  while (l->queues) {
    lq_t *q = l->queues;
    l->queues = q->next;
    if (l->push)
      rmqi_push_reset_queue(l, q);
    lq_free(q);
  }
  if (l->push)
    rmqi_push_free(l->push);
  rmqi_tracer_free(l->tracer); /* closed by destroy */
  rmqi_mpool_release(l->pool); /* messages still held keep their chunks */
  while (l->subs) {
    lsub_t *s = l->subs;
    l->subs = s->next;
    free(s->topic);
    free(s->expr);
    free(s);
  }
  free(l->offset_path);
  rmqi_mqo_tab_free(&l->file_offsets);
  rmqi_conf_release(&l->conf);
  pthread_mutex_destroy(&l->lock);
  pthread_mutex_destroy(&l->announce);
  pthread_cond_destroy(&l->ready_cv);
  pthread_cond_destroy(&l->svc_cv);
  pthread_cond_destroy(&l->commit_cv);
  rmqi_cstats_free(&l->st);
  while (l->tstats) {
    tstat_t *t = l->tstats;
    l->tstats = t->next;
    free(t->topic);
    free(t);
  }
  rmq_client_t *c = l->client;
  free(l);
  rmqi_client_release(c); /* NULL when the client could not be made */
}

/* ---- queues -------------------------------------------------------------- */

lq_t *rmqi_lite_find(lite_t *l, const char *topic, const char *broker,
                     int32_t qid) {
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped && q->qid == qid && strcmp(q->topic, topic) == 0 &&
        strcmp(q->broker, broker) == 0)
      return q;
  return NULL;
}

lq_t *rmqi_lite_add_queue(lite_t *l, const char *topic, const char *broker,
                          int32_t qid, const char *expr, bool sql92) {
  lq_t *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return NULL;
  q->topic = strdup(topic);
  q->broker = strdup(broker);
  q->sub = calloc(1, sizeof(*q->sub));
  if (q->topic == NULL || q->broker == NULL || q->sub == NULL ||
      rmqi_sub_build(q->sub, topic, expr, sql92, rmqi_wall_ms()) != RMQ_OK) {
    free(q->sub);
    q->sub = NULL;
    free(q->topic);
    free(q->broker);
    free(q);
    return NULL;
  }
  q->qid = qid;
  q->ts = rmqi_tstat_get(l, topic);
  q->pull_offset = q->consumed = q->done = q->commit_mem = q->committed = -1;
  q->moved_back_at = -1;
  q->cached_lo = q->cached_hi = -1;
  q->next = l->queues;
  if (l->queues)
    l->queues->prev = q;
  l->queues = q;
  return q;
}

static void unlink_queue(lite_t *l, lq_t *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    l->queues = q->next;
  if (q->next)
    q->next->prev = q->prev;
  q->next = q->prev = NULL;
}

static int cmp_lq(const void *a, const void *b) {
  const lq_t *x = *(const lq_t *const *)a, *y = *(const lq_t *const *)b;
  int c = strcmp(x->topic, y->topic);
  if (c == 0)
    c = strcmp(x->broker, y->broker);
  if (c == 0)
    c = (x->qid > y->qid) - (x->qid < y->qid);
  return c;
}

lq_t **rmqi_lite_index(lite_t *l, size_t *n) {
  size_t k = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    k += !q->dropped;
  lq_t **v = malloc((k + 1) * sizeof(*v));
  if (v == NULL)
    return NULL;
  k = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped)
      v[k++] = q;
  qsort(v, k, sizeof(*v), cmp_lq);
  *n = k;
  return v;
}

lq_t *rmqi_lite_index_find(lq_t *const *idx, size_t n, const char *topic,
                           const char *broker, int32_t qid) {
  const lq_t key = {
      .topic = (char *)topic, .broker = (char *)broker, .qid = qid};
  const lq_t *kp = &key;
  lq_t *const *hit = bsearch(&kp, idx, n, sizeof(*idx), cmp_lq);
  return hit ? *hit : NULL;
}

/* Removes @p q's batches from the ready list (l->lock held). */
static void drop_batches(lite_t *l, lq_t *q) {
  batch_t **pp = &l->ready, *last = NULL;
  while (*pp && q->n_ready) { /* none on the list: no walk (a rebalance
                                 drops thousands of queues at once) */
    batch_t *b = *pp;
    if (b->q == q) {
      *pp = b->next;
      l->cached_msgs -= b->n_msgs;
      q->n_ready--;
      rmqi_lite_batch_free(b);
    } else {
      last = b;
      pp = &b->next;
    }
  }
  if (*pp == NULL) /* walked to the end */
    l->ready_tail = last;
  q->cached_msgs = q->cached_bytes = 0;
  q->cached_lo = q->cached_hi = -1;
}

void rmqi_lite_reset_queue(lite_t *l, lq_t *q) {
  drop_batches(l, q);
  if (l->push)
    rmqi_push_reset_queue(l, q);
  q->gen++;
  q->active = false;
  q->moved_back_at = -1;
}

void rmqi_lite_drop_queue(lite_t *l, lq_t *q) {
  rmqi_lite_reset_queue(l, q);
  q->dropped = true;
  if (q->holds == 0) {
    unlink_queue(l, q);
    lq_free(q);
  }
}

void rmqi_lite_release(lite_t *l, lq_t *q) {
  if (--q->holds == 0 && q->dropped) {
    unlink_queue(l, q);
    lq_free(q);
  }
}

bool rmqi_lite_addr(lite_t *l, const char *topic, const char *broker,
                    int64_t id, char *out, size_t n, bool *master) {
  rmqi_snap_t *s = rmqi_client_route_cached(l->client, topic);
  if (s == NULL)
    return false;
  const char *a = rmqi_route_addr(&s->route, broker, id);
  bool is_master = a != NULL && id == 0;
  if (a == NULL)
    is_master = (a = rmqi_route_addr(&s->route, broker, 0)) != NULL;
  if (a == NULL) { /* no master: any node (Java findBrokerAddressInSubscribe) */
    const rmqi_bdata_t *b = rmqi_route_broker(&s->route, broker);
    if (b && b->n_addrs) {
      a = b->addrs[0].addr;
      is_master = b->addrs[0].id == 0;
    }
  }
  if (a)
    snprintf(out, n, "%s", a);
  if (master)
    *master = a != NULL && is_master;
  rmqi_snap_release(s);
  return a != NULL;
}

/* ---- pulls (loop thread) ----------------------------------------------------
 */

typedef struct pull_ctx {
  lite_t *l;
  lq_t *q;
  uint64_t gen;
  int64_t offset;
  int64_t suggest;
  int64_t sent_ms;
  char addr[128];
} pull_ctx_t;

static void issue_due(lite_t *l);
enum { MAX_BATCH = 64 }; /* pulls picked in one pass */
static void pick(lite_t *l, lq_t *q, int64_t now, pull_ctx_t **go, size_t *n);
static void send_picked(lite_t *l, pull_ctx_t **go, size_t n);

/* Counts the records of a pull body by their TOTALSIZE fields. */
static size_t count_records(const uint8_t *p, size_t n) {
  size_t k = 0, pos = 0;
  while (n - pos >= 4) {
    uint32_t size = rmqi_load_be32(p + pos);
    if (size < 4 || size > n - pos)
      return k + 1; /* the rest decodes as one failure */
    pos += size;
    k++;
  }
  return k + (pos < n);
}

static void take_result(lite_t *l, lq_t *q, const pull_ctx_t *x,
                        rmqi_pull_res_t *res) {
  q->suggest_id = res->suggest_broker_id;
  if (res->max_offset > 0)
    q->max_offset = res->max_offset; /* for the lag in statistics */
  if (res->status == RMQ_PULL_OFFSET_MOVED && res->next_begin < x->offset &&
      x->offset > res->max_offset && q->moved_back_at != x->offset) {
    /* Told that our offset is past the queue's end, and to move back to
     * offsets already pulled: a master whose consume queue lags its commit
     * log says so about an offset its slave has just served (CI: a message
     * read from the slave was read again from the master a moment later).
     * The same offset is asked again once, after MOVED_BACK_RECHECK_MS;
     * only a second such answer moves the queue back (Java moves at once,
     * and repeats). A reset (the broker's OFFSET_RESET, answered once,
     * with its max offset at or past ours) moves at once. */
    rmqi_log(&l->client->log, RMQ_LOG_INFO, "consumer",
             "%s %s:%d: offset %lld is past the broker's max %lld: asking "
             "again before moving back",
             l->group, q->broker, (int)q->qid, (long long)x->offset,
             (long long)res->max_offset);
    q->moved_back_at = x->offset;
    q->due_ms = rmqi_now_ms() + MOVED_BACK_RECHECK_MS;
    return;
  }
  q->moved_back_at = -1;
  if (res->status == 0 && res->body_len) {
    batch_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
      q->due_ms = rmqi_now_ms() + l->conf.v.pull_delay_on_exception_ms;
      return; /* pull the same offset again later */
    }
    b->q = q;
    b->gen = q->gen;
    b->first = x->offset;
    b->dec_next = -1;
    b->body = res->body;
    b->len = res->body_len;
    res->body = NULL;
    b->n_msgs = count_records(b->body, b->len);
    b->next_begin = res->next_begin;
    if (l->ready_tail)
      l->ready_tail->next = b;
    else
      l->ready = b;
    l->ready_tail = b;
    q->n_ready++;
    l->cached_msgs += b->n_msgs;
    q->cached_msgs += b->n_msgs;
    rmqi_tstat_add(q->ts, TS_PULLED, b->n_msgs);
    q->cached_bytes += b->len;
    if (q->cached_lo < 0)
      q->cached_lo = x->offset;
    q->cached_hi = res->next_begin - 1;
    pthread_cond_broadcast(&l->ready_cv);
    if (l->push)
      rmqi_push_on_ready(l);
  } else if (l->push && res->status != RMQ_PULL_OFFSET_MOVED &&
             q->cached_msgs == 0 && q->pin_head == NULL) {
    /* push: nothing new (or nothing matched) and nothing unfinished: the
     * queue's offset moves on (Java's NO_NEW_MSG handling) */
    q->consumed = q->commit_mem = res->next_begin;
  } else if (res->status == RMQ_PULL_OFFSET_MOVED) {
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
             "%s %s:%d: offset %lld is illegal, moving to %lld", l->group,
             q->broker, (int)q->qid, (long long)x->offset,
             (long long)res->next_begin);
  }
  q->pull_offset = res->next_begin;
  q->due_ms = l->push && l->conf.v.pull_interval_ms > 0
                  ? rmqi_now_ms() + l->conf.v.pull_interval_ms
                  : 0;
}

static void pull_done(void *arg, const rmqi_rpc_result_t *r) {
  pull_ctx_t *x = arg;
  lite_t *l = x->l;
  rmqi_pull_res_t res = {0};
  char err[256] = "";
  rmq_err_t rc = r->err;
  if (rc == RMQ_OK)
    rc = rmqi_pull_parse(r->resp, x->addr, &res, err, sizeof(err));
  else
    snprintf(err, sizeof(err), "pull from %s: %s", x->addr, r->detail);
  pthread_mutex_lock(&l->lock);
  lq_t *q = x->q;
  rmqi_tstat_add(q->ts, TS_PULLS, 1);
  rmqi_tstat_add(q->ts, TS_PULL_MS, (uint64_t)(rmqi_now_ms() - x->sent_ms));
  q->last_pull_ms = rmqi_wall_ms();
  if (x->gen == q->gen && !q->dropped && !l->closed) {
    q->active = false;
    if (rc == RMQ_OK) {
      take_result(l, q, x, &res);
    } else {
      q->due_ms = rmqi_now_ms() + l->conf.v.pull_delay_on_exception_ms;
      if (rc != RMQ_ERR_SHUTDOWN)
        rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer", "%s: %s", l->group,
                 err);
    }
  }
  /* this queue only goes again at once (if due): the others are the
   * tick's (every TICK_MS), so a completion costs O(1), not a walk of
   * every queue */
  pull_ctx_t *go[1];
  size_t n = 0;
  if (!l->closed && rc != RMQ_ERR_SHUTDOWN)
    pick(l, q, rmqi_now_ms(), go, &n);
  rmqi_lite_release(l, q);
  bool wake = l->push_wake;
  l->push_wake = false;
  pthread_mutex_unlock(&l->lock);
  if (wake) /* a consume thread, after the lock it takes first */
    rmqi_push_wake(l);
  rmqi_pull_res_free(&res);
  send_picked(l, go, n);
  free(x);
  rmqi_lite_unref(l);
}

/* Java's flow control: pause a queue while too much is pulled but not
 * polled. Returns the delay, 0 when the queue may pull. */
static int64_t flow_delay(const lite_t *l, const lq_t *q) {
  const rmqi_conf_vals_t *v = &l->conf.v;
  if (q->paused)
    return PAUSE_DELAY_MS;
  if ((int64_t)l->cached_msgs > v->pull_threshold_all ||
      (int64_t)q->cached_msgs > (q->max_cached_msgs > 0
                                     ? q->max_cached_msgs
                                     : v->pull_threshold_queue) ||
      (int64_t)q->cached_bytes >
          (q->max_cached_bytes > 0 ? q->max_cached_bytes
                                   : v->pull_threshold_size_queue_mb << 20) ||
      (q->cached_lo >= 0 && q->cached_hi - q->cached_lo > v->consume_max_span))
    return FLOW_DELAY_MS;
  return 0;
}

/* A pull that could not be sent: the queue waits and retries. */
static void pull_not_sent(lite_t *l, pull_ctx_t *x, bool no_route) {
  pthread_mutex_lock(&l->lock);
  lq_t *q = x->q;
  if (x->gen == q->gen)
    q->active = false;
  q->due_ms = rmqi_now_ms() + l->conf.v.pull_delay_on_exception_ms;
  if (no_route) { /* the service thread fetches the route */
    l->rebalance_now = true;
    pthread_cond_signal(&l->svc_cv);
  }
  rmqi_lite_release(l, q);
  pthread_mutex_unlock(&l->lock);
  free(x);
  rmqi_lite_unref(l);
}

/* Starts a pull for every queue that is due. Any thread, no lock held: the
 * queues are picked under l->lock, the addresses looked up and the pulls
 * sent after it is released (the client's lock is never taken inside
 * ours). */
static void issue_due(lite_t *l) {
  pull_ctx_t *go[MAX_BATCH];
  size_t n = 0;
  int64_t now = rmqi_now_ms();
  pthread_mutex_lock(&l->lock);
  for (lq_t *q = l->queues; q && n < MAX_BATCH && !l->closed; q = q->next)
    pick(l, q, now, go, &n);
  pthread_mutex_unlock(&l->lock);
  send_picked(l, go, n);
}

/* Picks @p q for a pull if it is due and flow control lets it (l->lock
 * held): the queue is marked active and held, the context added to @p go
 * (room for one more is the caller's). */
static void pick(lite_t *l, lq_t *q, int64_t now, pull_ctx_t **go, size_t *n) {
  if (q->dropped || q->active || q->pull_offset < 0 || q->due_ms > now)
    return;
  if (l->push && !rmqi_push_may_pull(l, q)) {
    q->due_ms = now + FLOW_DELAY_MS;
    return;
  }
  int64_t d = flow_delay(l, q);
  if (d) {
    q->due_ms = now + d;
    return;
  }
  pull_ctx_t *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return; /* the tick tries again */
  x->l = l;
  x->q = q;
  x->gen = q->gen;
  x->offset = q->pull_offset;
  x->suggest = q->suggest_id;
  x->sent_ms = now;
  q->active = true;
  q->holds++;
  atomic_fetch_add(&l->refs, 1);
  go[(*n)++] = x;
}

/* Sends what pick chose, with no lock held (the client's lock is never
 * taken inside ours). */
static void send_picked(lite_t *l, pull_ctx_t **go, size_t n) {
  const rmqi_conf_vals_t *v = &l->conf.v;
  for (size_t i = 0; i < n; i++) {
    pull_ctx_t *x = go[i];
    lq_t *q = x->q; /* held: its strings and sub stay */
    if (!rmqi_lite_addr(l, q->topic, q->broker, x->suggest, x->addr,
                        sizeof(x->addr), NULL)) {
      pull_not_sent(l, x, true);
      continue;
    }
    rmqi_pull_req_t rq = {
        .group = l->group,
        .topic = q->topic,
        .broker = q->broker,
        .queue_id = q->qid,
        .offset = x->offset,
        .max_nums = (int32_t)v->pull_batch_size,
        /* Java lite pull: suspend, subscription in the request, lite */
        .sys_flag = RMQI_PULL_SUSPEND | RMQI_PULL_SUBSCRIPTION |
                    (l->push ? 0 : RMQI_PULL_LITE),
        .suspend_ms = v->broker_suspend_max_ms,
        .subscription = q->sub->expression,
        .expression_type = q->sub->sql92 ? "SQL92" : "TAG",
        .sub_version = q->sub->version,
    };
    if (rmqi_pull_async(l->client, x->addr, &rq,
                        v->consumer_timeout_when_suspend_ms, pull_done,
                        x) != RMQ_OK)
      pull_not_sent(l, x, false);
  }
}

static void tick(void *arg) {
  issue_due(arg);
}

static void tick_start(void *arg) {
  lite_t *l = arg;
  pthread_mutex_lock(&l->lock);
  bool closed = l->closed;
  pthread_mutex_unlock(&l->lock);
  if (!closed) {
    l->tick =
        rmqi_loop_timer(rmqi_rpc_loop(l->client->rpc), 0, TICK_MS, tick, l);
    if (l->tick)
      return; /* the timer keeps the reference */
  }
  rmqi_lite_unref(l);
}

static void tick_stop(void *arg) {
  lite_t *l = arg;
  if (l->tick) {
    rmqi_loop_timer_cancel(rmqi_rpc_loop(l->client->rpc), l->tick);
    rmqi_lite_unref(l);
  }
  rmqi_lite_unref(l); /* the closure's own reference */
}

rmq_err_t rmqi_lite_tick_start(lite_t *l) {
  atomic_fetch_add(&l->refs, 1);
  rmq_err_t rc = rmqi_loop_post(rmqi_rpc_loop(l->client->rpc), tick_start, l);
  if (rc != RMQ_OK)
    rmqi_lite_unref(l);
  return rc;
}

void rmqi_lite_tick_stop(lite_t *l) {
  atomic_fetch_add(&l->refs, 1);
  /* Refused once the client has stopped its loop (the client was
   * destroyed first): no loop thread touches the timer any more, so stop
   * it here, or its reference would keep the state for ever. */
  rmq_err_t rc = rmqi_loop_post(rmqi_rpc_loop(l->client->rpc), tick_stop, l);
  if (rc == RMQ_ERR_SHUTDOWN)
    tick_stop(l);
  else if (rc != RMQ_OK)
    rmqi_lite_unref(l);
}

/* ---- poll (application thread) ------------------------------------------ */

/* Java re-checks the tag string after the broker's hash filter. */
static bool tag_ok(const lq_t *q, const char *tags, size_t n) {
  return q->sub->sql92 || q->sub->n_tags == 0 ||
         rmqi_sub_matches(q->sub, tags, n);
}

/* An undecodable record: counted, and logged with its queue offset when
 * its header decoded (a bad CRC or compression), else with the offset it
 * follows (a record that does not parse: its own offset is unknown). */
static void skipped(lite_t *l, const lq_t *q, const batch_t *b, rmq_err_t rc,
                    const rmqi_errbuf_t *e, int64_t offset) {
  atomic_fetch_add(&l->undecodable, 1); /* the consumer's statistics */
  char where[96];
  if (offset >= 0)
    snprintf(where, sizeof(where), "at offset %lld", (long long)offset);
  else if (b->dec_next > 0)
    snprintf(where, sizeof(where), "after offset %lld",
             (long long)(b->dec_next - 1));
  else /* the first record of its pull */
    snprintf(where, sizeof(where), "at or after offset %lld",
             (long long)b->first);
  rmqi_log(&l->client->log, RMQ_LOG_ERROR, "consumer",
           "%s %s %s:%d: message %s skipped: %s (%s)", l->group, q->topic,
           q->broker, (int)q->qid, where, e->msg, rmq_err_name(rc));
}

/* Decodes up to @p max messages of @p b (not on the ready list; no lock
 * held). Sets *last to the offset after the last record read. A 5.x
 * inner-batch record becomes one message per entry; a full array stops
 * between two of them and the next poll goes on. */
size_t rmqi_lite_decode(lite_t *l, batch_t *b, const lq_t *q, rmq_msg_t **out,
                        size_t max, size_t *records, int64_t *last) {
  size_t n = 0, max_body = (size_t)l->conf.v.max_inflated_body_size;
  *records = 0;
  while (n < max && (b->inner.active || b->pos < b->len)) {
    rmqi_errbuf_t e;
    rmq_err_t rc;
    if (b->inner.active) {
      rmq_msg_t *m;
      /* an entry's offset: its batch record's plus its index */
      int64_t at = b->inner.outer.queue_offset + (int64_t)b->inner.index;
      rc = rmqi_rxmsg_inner_next(&b->inner, q->broker, max_body, &m, &e);
      if (rc == RMQ_OK) {
        const char *tags = rmq_msg_tags(m);
        *last = rmq_msg_queue_offset(m) + 1;
        if (tag_ok(q, tags, tags ? strlen(tags) : 0))
          out[n++] = m;
        else
          rmq_msg_destroy(m);
      } else if (rc != RMQ_ERR_NOT_FOUND) {
        skipped(l, q, b, rc, &e, at);
      }
      continue;
    }
    rmqi_msgrec_t rec;
    size_t next;
    rc = rmqi_msgrec_decode(b->body + b->pos, b->len - b->pos, &rec, &next, &e);
    b->pos = next ? b->pos + next : b->len;
    (*records)++;
    bool header = rc == RMQ_OK; /* its offset is known */
    if (header)
      b->dec_next = rec.queue_offset + 1;
    if (rc == RMQ_OK && rmqi_msgrec_is_inner_batch(&rec)) {
      *last = rec.queue_offset + 1;
      rc = rmqi_rxmsg_inner_start(&b->inner, &rec, max_body, &e);
      b->inner.pool = l->pool;
      if (rc != RMQ_OK)
        skipped(l, q, b, rc, &e, rec.queue_offset);
      continue;
    }
    if (rc == RMQ_OK) {
      *last = rec.queue_offset + 1;
      if (!q->sub->sql92 && q->sub->n_tags > 0) { /* "*" takes all */
        size_t tl = 0;
        const char *tags =
            rmqi_props_get(rec.props, rec.props_len, "TAGS", &tl);
        if (!tag_ok(q, tags, tl))
          continue;
      }
      rc = rmqi_rxmsg_build_cached(&rec, q->broker, max_body, true, &b->hosts,
                                   l->pool, &out[n], &e);
      if (rc == RMQ_OK) {
        n++;
        continue;
      }
    }
    skipped(l, q, b, rc, &e, header ? rec.queue_offset : -1);
  }
  return n;
}

int rmq_pull_consumer_poll(rmq_pull_consumer_t *pc, rmq_msg_t **msgs,
                           size_t max, int timeout_ms) {
  if (pc == NULL || msgs == NULL || max == 0)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  int64_t wait = timeout_ms < 0 ? l->conf.v.poll_timeout_ms : timeout_ms;
  int64_t deadline = rmqi_now_ms() + wait;
  size_t n = 0;
  pthread_mutex_lock(&l->lock);
  if (!l->started || l->closed) {
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_STATE;
  }
  /* Java maybeAutoCommit: what earlier polls returned is done with now that
   * the application asks for more */
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped && q->consumed >= 0)
      q->done = q->consumed;
  int64_t now = rmqi_now_ms();
  if (l->conf.v.auto_commit && now >= l->next_auto_commit) {
    rmqi_lite_commit_mem(l);
    l->next_auto_commit = now + l->conf.v.auto_commit_interval_ms;
  }
  while (n < max && !l->closed) {
    batch_t *b = l->ready;
    if (b == NULL) {
      if (n > 0 || rmqi_now_ms() >= deadline)
        break;
      rmqi_cond_wait_until(&l->ready_cv, &l->lock, deadline);
      continue;
    }
    l->ready = b->next;
    if (l->ready == NULL)
      l->ready_tail = NULL;
    lq_t *q = b->q;
    q->n_ready--;
    if (b->gen != q->gen) { /* seeked since: stale (counts already reset) */
      rmqi_lite_batch_free(b);
      continue;
    }
    q->holds++; /* decode without the lock */
    pthread_mutex_unlock(&l->lock);
    size_t records;
    int64_t last = -1;
    size_t k = rmqi_lite_decode(l, b, q, msgs + n, max - n, &records, &last);
    for (size_t i = n; i < n + k; i++) /* best effort: a copy failing on no
                                        * memory keeps the wrapped name */
      rmqi_msg_unwrap_topic(msgs[i], l->conf.v.name_space);
    pthread_mutex_lock(&l->lock);
    bool stale = b->gen != q->gen;
    if (!stale) {
      if (last >= 0)
        q->consumed = last;
      size_t r = RMQI_MIN(records, b->n_msgs);
      b->n_msgs -= r;
      q->cached_msgs -= RMQI_MIN(r, q->cached_msgs);
      l->cached_msgs -= RMQI_MIN(r, l->cached_msgs);
      if (last >= 0)
        q->cached_lo = last;
    }
    if (stale) /* reset counted q's batches on the list, not this one */
      l->cached_msgs -= RMQI_MIN(b->n_msgs, l->cached_msgs);
    if (stale || (b->pos >= b->len && !b->inner.active)) {
      if (!stale) {
        q->cached_bytes -= RMQI_MIN(b->len, q->cached_bytes);
        l->cached_msgs -= RMQI_MIN(b->n_msgs, l->cached_msgs);
        q->cached_msgs -= RMQI_MIN(b->n_msgs, q->cached_msgs);
        if (q->cached_msgs == 0)
          q->cached_lo = q->cached_hi = -1;
      }
      rmqi_lite_batch_free(b);
    } else { /* the caller's array is full: the rest waits at the head */
      b->next = l->ready;
      l->ready = b;
      q->n_ready++;
      if (l->ready_tail == NULL)
        l->ready_tail = b;
    }
    if (stale) {
      for (size_t i = 0; i < k; i++)
        rmq_msg_destroy(msgs[n + i]);
      k = 0;
    }
    if (k) {
      q->last_consume_ms = rmqi_wall_ms();
      rmqi_cstats_ok(&l->st, q->ts, k); /* l->lock, then its lock */
    }
    n += k;
    rmqi_lite_release(l, q);
  }
  pthread_mutex_unlock(&l->lock);
  /* Java's lite pull consumer runs the consume hooks as poll returns */
  if (n && l->tracer)
    rmqi_trace_consume(l->tracer, l->client, l->group, msgs, n, rmqi_wall_ms(),
                       rmqi_now_ms(), true, RMQI_TRACE_RETURN_SUCCESS);
  return (int)n;
}

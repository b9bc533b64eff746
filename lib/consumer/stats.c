/*
 * A consumer's statistics (the seed's getSubJobStat): what was consumed
 * and failed, when, the last error, the rate over the last minute, and the
 * lag of every assigned queue. Counters are cheap (one short lock per
 * listener call or poll); the snapshot is built on request.
 */
#include "../client/ns.h"
#include "../util/time.h"
#include "lite_int.h"
#include "push.h"
#include "queues.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rmqi_cstats_init(rmqi_cstats_t *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->lock, NULL);
}

void rmqi_cstats_free(rmqi_cstats_t *s) {
  pthread_mutex_destroy(&s->lock);
}

/* Moves the ring to the current second (s->lock held). */
static void ring_roll(rmqi_cstats_t *s, int64_t sec) {
  if (sec - s->ring_sec >= 60)
    memset(s->ring, 0, sizeof(s->ring));
  else
    for (int64_t k = s->ring_sec + 1; k <= sec; k++)
      s->ring[k % 60] = 0;
  if (sec > s->ring_sec)
    s->ring_sec = sec;
}

static void touch(rmqi_cstats_t *s, int64_t now) {
  if (s->first_ms == 0)
    s->first_ms = now;
  s->last_ms = now;
}

static void touch_topic(tstat_t *t, int64_t now) {
  if (t->first_ms == 0)
    t->first_ms = now;
  t->last_ms = now;
}

void rmqi_cstats_ok(rmqi_cstats_t *s, tstat_t *t, size_t n) {
  int64_t now = rmqi_wall_ms(), sec = rmqi_now_ms() / 1000;
  rmqi_tstat_add(t, TS_OK, n);
  pthread_mutex_lock(&s->lock);
  s->ok += n;
  touch(s, now);
  if (t)
    touch_topic(t, now);
  ring_roll(s, sec);
  s->ring[sec % 60] += (uint32_t)n;
  pthread_mutex_unlock(&s->lock);
}

void rmqi_cstats_fail(rmqi_cstats_t *s, tstat_t *t, size_t n, const char *why) {
  int64_t now = rmqi_wall_ms();
  rmqi_tstat_add(t, TS_FAILED, n);
  pthread_mutex_lock(&s->lock);
  s->failed += n;
  touch(s, now);
  s->last_error_ms = now;
  snprintf(s->last_error, sizeof(s->last_error), "%s", why);
  if (t) {
    touch_topic(t, now);
    t->last_error_ms = now;
    snprintf(t->last_error, sizeof(t->last_error), "%s", why);
  }
  pthread_mutex_unlock(&s->lock);
}

void rmq_consumer_stats_clear(rmq_consumer_stats_t *st) {
  if (st == NULL)
    return;
  free(st->queues); /* the strings live in the same block */
  memset(st, 0, sizeof(*st));
}

static rmq_err_t fill(lite_t *l, rmq_consumer_stats_t *st) {
  memset(st, 0, sizeof(*st));
  rmqi_cstats_t *s = &l->st;
  pthread_mutex_lock(&s->lock);
  ring_roll(s, rmqi_now_ms() / 1000);
  uint64_t last_min = 0;
  for (int i = 0; i < 60; i++)
    if (i != (int)(s->ring_sec % 60)) /* the current second is partial */
      last_min += s->ring[i];
  st->processed = s->ok;
  st->failed = s->failed;
  st->first_msg_ms = s->first_ms;
  st->last_msg_ms = s->last_ms;
  st->last_error_ms = s->last_error_ms;
  snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
  st->rate = (double)last_min / 59.0;
  pthread_mutex_unlock(&s->lock);
  st->undecodable = atomic_load(&l->undecodable);
  /* one block: the array, then the strings */
  const char *ns = l->conf.v.name_space; /* the application's names */
  char name[RMQI_NS_NAME_MAX];
  pthread_mutex_lock(&l->lock);
  size_t n = 0, size = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped) {
      n++;
      size += strlen(rmqi_ns_unwrap(ns, q->topic, name, sizeof(name))) +
              strlen(q->broker) + 2;
    }
  rmq_queue_lag_t *v = malloc(n * sizeof(*v) + size + 1);
  if (v == NULL) {
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_NOMEM;
  }
  char *p = (char *)(v + n);
  size_t k = 0;
  for (lq_t *q = l->queues; q; q = q->next) {
    if (q->dropped)
      continue;
    const char *t = rmqi_ns_unwrap(ns, q->topic, name, sizeof(name));
    size_t a = strlen(t) + 1, b = strlen(q->broker) + 1;
    memset(&v[k], 0, sizeof(v[k]));
    v[k].queue.topic = memcpy(p, t, a);
    v[k].queue.broker_name = memcpy(p + a, q->broker, b);
    v[k].queue.queue_id = q->qid;
    p += a + b;
    v[k].consumed = q->consumed;
    v[k].max_offset = q->max_offset > 0 ? q->max_offset : -1;
    v[k].cached_msgs = q->cached_msgs;
    v[k].cached_bytes = q->cached_bytes;
    v[k].lag = q->max_offset > 0 && q->consumed >= 0
                   ? RMQI_MAX(q->max_offset - q->consumed, 0)
                   : 0;
    st->total_lag += v[k].lag;
    k++;
  }
  pthread_mutex_unlock(&l->lock);
  st->queues = v;
  st->n_queues = k;
  return RMQ_OK;
}

rmq_err_t rmq_pull_consumer_stats(rmq_pull_consumer_t *pc,
                                  rmq_consumer_stats_t *out) {
  if (pc == NULL || out == NULL)
    return RMQ_ERR_INVALID_ARG;
  return fill(pc->l, out);
}

rmq_err_t rmqi_push_stats(lite_t *l, rmq_consumer_stats_t *out) {
  return fill(l, out);
}

/* The consumer's object in the client's statistics JSON (the client's
 * stats lock held; destroy leaves the registry before the state goes). */
static void stats_json(void *arg, rmqi_jw_t *w) {
  lite_t *l = arg;
  char plain[RMQI_NS_NAME_MAX];
  rmqi_jw_obj(w, NULL);
  rmqi_jw_str(
      w, "group",
      rmqi_ns_unwrap(l->conf.v.name_space, l->group, plain, sizeof(plain)));
  rmqi_jw_str(w, "type", l->push ? "push" : "pull");
  rmqi_jw_str(w, "model",
              l->conf.v.message_model == RMQI_MODEL_BROADCASTING
                  ? "BROADCASTING"
                  : "CLUSTERING");
  rmqi_jw_bool(w, "orderly", l->push && l->push->orderly);
  rmq_consumer_stats_t st;
  if (fill(l, &st) == RMQ_OK) {
    rmqi_jw_u64(w, "processed", st.processed);
    rmqi_jw_u64(w, "failed", st.failed);
    rmqi_jw_u64(w, "undecodable", st.undecodable);
    rmqi_jw_i64(w, "first_msg_ts", st.first_msg_ms);
    rmqi_jw_i64(w, "last_msg_ts", st.last_msg_ms);
    rmqi_jw_str(w, "last_error", st.last_error);
    rmqi_jw_i64(w, "last_error_ts", st.last_error_ms);
    rmqi_jw_dbl(w, "rate", st.rate);
    rmqi_jw_i64(w, "total_lag", st.total_lag);
    uint64_t cached = 0, cached_bytes = 0;
    for (size_t i = 0; i < st.n_queues; i++) {
      cached += st.queues[i].cached_msgs;
      cached_bytes += st.queues[i].cached_bytes;
    }
    rmqi_jw_u64(w, "cached_msgs", cached);
    rmqi_jw_u64(w, "cached_bytes", cached_bytes);
    rmqi_jw_arr(w, "queues");
    for (size_t i = 0; i < st.n_queues; i++) {
      const rmq_queue_lag_t *q = &st.queues[i];
      rmqi_jw_obj(w, NULL);
      rmqi_jw_str(w, "topic", q->queue.topic);
      rmqi_jw_str(w, "broker", q->queue.broker_name);
      rmqi_jw_i64(w, "queue_id", q->queue.queue_id);
      rmqi_jw_i64(w, "consumed", q->consumed);
      rmqi_jw_i64(w, "max_offset", q->max_offset);
      rmqi_jw_i64(w, "lag", q->lag);
      rmqi_jw_u64(w, "cached_msgs", q->cached_msgs);
      rmqi_jw_u64(w, "cached_bytes", q->cached_bytes);
      rmqi_jw_end_obj(w);
    }
    rmqi_jw_end_arr(w);
    rmq_consumer_stats_clear(&st);
  }
  rmqi_tracer_json(l->tracer, w);
  rmqi_jw_end_obj(w);
}

rmq_err_t rmqi_lite_stats_join(lite_t *l) {
  return rmqi_client_add_stats(l->client, RMQI_STATS_CONSUMER, stats_json, l);
}

void rmqi_lite_stats_leave(lite_t *l) {
  rmqi_client_remove_stats(l->client, l);
}

/* ---- assignment listener ------------------------------------------------ */

typedef struct assign_job {
  lite_t *l; /* a reference */
  char *topic;
  rmq_queue_t *all, *mine;
  size_t n_all, n_mine;
} assign_job_t;

static void assign_free(assign_job_t *j) {
  free(j->all);
  free(j->mine);
  free(j->topic);
  free(j);
}

static void assign_run(void *arg) {
  assign_job_t *j = arg;
  lite_t *l = j->l;
  pthread_mutex_lock(&l->lock);
  rmq_assignment_cb *cb = l->closed ? NULL : l->assign_cb;
  void *opaque = l->assign_opaque;
  pthread_mutex_unlock(&l->lock);
  if (cb)
    cb(j->topic, j->all, j->n_all, j->mine, j->n_mine, opaque);
  assign_free(j);
  rmqi_lite_unref(l);
}

void rmqi_lite_notify_assignment(lite_t *l, const char *topic,
                                 const rmqi_alloc_mq_t *all, size_t n_all,
                                 const rmqi_alloc_mq_t *mine, size_t n_mine) {
  pthread_mutex_lock(&l->lock);
  bool want = l->assign_cb != NULL && !l->closed;
  pthread_mutex_unlock(&l->lock);
  if (!want)
    return;
  assign_job_t *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return;
  /* the application's names (Java's rebalance listeners get
   * withoutNamespace topics) */
  const char *ns = l->conf.v.name_space;
  j->topic = rmqi_ns_unwrap_dup(ns, topic);
  j->all = rmqi_queues_public(all, n_all, ns);
  j->mine = rmqi_queues_public(mine, n_mine, ns);
  if (j->topic == NULL || j->all == NULL || j->mine == NULL) {
    assign_free(j);
    rmqi_log(&l->client->log, RMQ_LOG_ERROR, "rebalance",
             "%s: out of memory for the assignment listener", l->group);
    return;
  }
  j->n_all = n_all;
  j->n_mine = n_mine;
  j->l = l;
  atomic_fetch_add(&l->refs, 1);
  if (rmqi_client_dispatch(l->client, assign_run, j) != RMQ_OK) {
    assign_free(j); /* the client is shutting down: nobody to tell */
    rmqi_lite_unref(l);
  }
}

rmq_err_t rmq_pull_consumer_set_assignment_cb(rmq_pull_consumer_t *pc,
                                              rmq_assignment_cb *cb,
                                              void *opaque) {
  if (pc == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  l->assign_cb = cb;
  l->assign_opaque = opaque;
  pthread_mutex_unlock(&l->lock);
  return RMQ_OK;
}

/* ---- per topic (the running info's statusTable) ----------------------- */

tstat_t *rmqi_tstat_get(lite_t *l, const char *topic) {
  for (tstat_t *t = l->tstats; t; t = t->next)
    if (strcmp(t->topic, topic) == 0)
      return t;
  tstat_t *t = calloc(1, sizeof(*t));
  if (t == NULL || (t->topic = strdup(topic)) == NULL) {
    free(t);
    return NULL;
  }
  t->snap_ms[0] = rmqi_now_ms(); /* all zero: rates from its start */
  t->snap_next = 1;
  t->next = l->tstats;
  l->tstats = t;
  return t;
}

void rmqi_tstat_tick(lite_t *l, int64_t now) {
  if (now < l->next_snap_ms)
    return;
  l->next_snap_ms = now + TS_SNAP_MS;
  for (tstat_t *t = l->tstats; t; t = t->next) {
    unsigned i = t->snap_next++ % TS_SNAPS;
    for (int k = 0; k < TS_N; k++)
      t->snap[i][k] = atomic_load_explicit(&t->v[k], memory_order_relaxed);
    t->snap_ms[i] = now;
  }
}

tstat_rates_t rmqi_tstat_rates(lite_t *l, const char *topic) {
  tstat_rates_t r = {0};
  tstat_t *t = NULL;
  for (tstat_t *x = l->tstats; x && !t; x = x->next)
    if (strcmp(x->topic, topic) == 0)
      t = x;
  if (t == NULL)
    return r;
  /* the oldest snapshot kept (about a minute ago once the ring is full) */
  int64_t now = rmqi_now_ms(), since = 0;
  const uint64_t *base = NULL;
  for (unsigned i = 0; i < TS_SNAPS; i++)
    if (t->snap_ms[i] && (since == 0 || t->snap_ms[i] < since)) {
      since = t->snap_ms[i];
      base = t->snap[i];
    }
  if (base == NULL || now - since < 1000)
    return r;
  uint64_t d[TS_N];
  for (int k = 0; k < TS_N; k++)
    d[k] = atomic_load_explicit(&t->v[k], memory_order_relaxed) - base[k];
  double secs = (double)(now - since) / 1000.0;
  r.ok_tps = (double)d[TS_OK] / secs;
  r.failed_tps = (double)d[TS_FAILED] / secs;
  r.pull_tps = (double)d[TS_PULLED] / secs; /* Java: messages pulled */
  r.consume_rt_ms =
      d[TS_CALLS] ? (double)d[TS_CONSUME_MS] / (double)d[TS_CALLS] : 0;
  r.pull_rt_ms = d[TS_PULLS] ? (double)d[TS_PULL_MS] / (double)d[TS_PULLS] : 0;
  return r;
}

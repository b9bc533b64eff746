/*
 * The client's statistics as one JSON document (doc/statistics.md): the
 * instance, every address it talks to (lib/net/rpc.c keeps their
 * counters), and each producer and consumer made on it (they register a
 * writer). rmq_client_stats_json builds it on demand; with
 * statisticsIntervalMs the loop's timer queues a build on the callback
 * pool, which hands it to the application's rmq_stats_cb.
 */
#include "../util/time.h"
#include "client.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

rmq_err_t rmqi_client_add_stats(rmq_client_t *c, int kind, rmqi_stats_fn fn,
                                void *arg) {
  rmqi_stats_src_t *s = malloc(sizeof(*s));
  if (s == NULL)
    return RMQ_ERR_NOMEM;
  *s = (rmqi_stats_src_t){kind, fn, arg, NULL};
  pthread_mutex_lock(&c->stats_lock);
  rmqi_stats_src_t **pp = &c->stats_srcs; /* oldest first */
  while (*pp)
    pp = &(*pp)->next;
  *pp = s;
  pthread_mutex_unlock(&c->stats_lock);
  return RMQ_OK;
}

void rmqi_client_remove_stats(rmq_client_t *c, void *arg) {
  pthread_mutex_lock(&c->stats_lock);
  for (rmqi_stats_src_t **pp = &c->stats_srcs; *pp; pp = &(*pp)->next)
    if ((*pp)->arg == arg) {
      rmqi_stats_src_t *s = *pp;
      *pp = s->next;
      free(s);
      break;
    }
  pthread_mutex_unlock(&c->stats_lock);
}

void rmqi_hist_json(rmqi_jw_t *w, const char *key, const rmqi_hist_sum_t *h) {
  rmqi_jw_obj(w, key);
  rmqi_jw_u64(w, "count", h->count);
  rmqi_jw_u64(w, "min", h->min);
  rmqi_jw_u64(w, "max", h->max);
  rmqi_jw_dbl(w, "mean", h->mean);
  rmqi_jw_u64(w, "p50", h->p50);
  rmqi_jw_u64(w, "p90", h->p90);
  rmqi_jw_u64(w, "p99", h->p99);
  rmqi_jw_u64(w, "p999", h->p999);
  rmqi_jw_end_obj(w);
}

/* The broker name of @p addr in the cached routes, or NULL (c->lock). */
static const char *broker_name(rmq_client_t *c, const char *addr, int64_t *id) {
  for (rmqi_topic_t *t = c->topics; t; t = t->next) {
    if (t->snap == NULL)
      continue;
    const rmqi_route_t *r = &t->snap->route;
    for (size_t i = 0; i < r->n_brokers; i++)
      for (size_t j = 0; j < r->brokers[i].n_addrs; j++)
        if (strcmp(r->brokers[i].addrs[j].addr, addr) == 0) {
          *id = r->brokers[i].addrs[j].id;
          return r->brokers[i].broker;
        }
  }
  return NULL;
}

static bool is_namesrv(rmq_client_t *c, const char *addr) {
  bool yes = false;
  pthread_mutex_lock(&c->ns.lock);
  for (size_t i = 0; i < c->ns.n && !yes; i++)
    yes = strcmp(c->ns.addrs[i], addr) == 0;
  pthread_mutex_unlock(&c->ns.lock);
  return yes;
}

static void write_peers(rmq_client_t *c, rmqi_jw_t *w) {
  static const char *const states[] = {"down", "connecting", "up"};
  rmqi_peer_stats_t *v;
  size_t n;
  rmqi_jw_arr(w, "brokers");
  if (rmqi_rpc_peer_stats(c->rpc, &v, &n) != RMQ_OK) {
    rmqi_jw_end_arr(w);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const rmqi_peer_stats_t *p = &v[i];
    rmqi_jw_obj(w, NULL);
    rmqi_jw_str(w, "addr", p->addr);
    int64_t id = -1;
    char name[256] = "";
    pthread_mutex_lock(&c->lock);
    const char *b = broker_name(c, p->addr, &id);
    if (b)
      snprintf(name, sizeof(name), "%s", b);
    pthread_mutex_unlock(&c->lock);
    rmqi_jw_str(w, "role",
                b                        ? "broker"
                : is_namesrv(c, p->addr) ? "namesrv"
                                         : "other");
    rmqi_jw_str(w, "name", b ? name : NULL);
    if (b)
      rmqi_jw_i64(w, "broker_id", id);
    else
      rmqi_jw_str(w, "broker_id", NULL);
    rmqi_jw_str(w, "state", states[p->state]);
    rmqi_jw_u64(w, "inflight", p->inflight);
    rmqi_jw_u64(w, "requests", p->requests);
    rmqi_jw_u64(w, "responses", p->responses);
    rmqi_jw_u64(w, "timeouts", p->timeouts);
    rmqi_jw_u64(w, "failed", p->failed);
    rmqi_jw_u64(w, "oneways", p->oneways);
    rmqi_jw_u64(w, "connects", p->connects);
    rmqi_jw_u64(w, "disconnects", p->disconnects);
    rmqi_hist_json(w, "rtt_us", &p->rtt_us);
    rmqi_jw_str(w, "last_error", p->last_error);
    rmqi_jw_i64(w, "last_error_ts", p->last_error_ms);
    rmqi_jw_end_obj(w);
  }
  free(v);
  rmqi_jw_end_arr(w);
}

static rmq_err_t build(rmq_client_t *c, rmqi_buf_t *b) {
  rmqi_jw_t w;
  rmqi_jw_init(&w, b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_str(&w, "client_id", c->id);
  rmqi_jw_str(&w, "version", rmq_version());
  rmqi_jw_i64(&w, "ts", rmqi_wall_ms());
  rmqi_jw_i64(&w, "created_ts", c->created_wall_ms);
  rmqi_jw_i64(&w, "uptime_ms", rmqi_now_ms() - c->created_ms);
  write_peers(c, &w);
  static const char *const kinds[] = {"producers", "consumers"};
  pthread_mutex_lock(&c->stats_lock);
  for (int k = 0; k < 2; k++) {
    rmqi_jw_arr(&w, kinds[k]);
    for (rmqi_stats_src_t *s = c->stats_srcs; s; s = s->next)
      if (s->kind == k)
        s->fn(s->arg, &w);
    rmqi_jw_end_arr(&w);
  }
  pthread_mutex_unlock(&c->stats_lock);
  rmqi_jw_end_obj(&w);
  rmqi_buf_put_u8(b, 0);
  return rmqi_buf_ok(b) ? RMQ_OK : RMQ_ERR_NOMEM;
}

char *rmq_client_stats_json(rmq_client_t *c) {
  if (c == NULL)
    return NULL;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (build(c, &b) != RMQ_OK) {
    rmqi_buf_free(&b);
    return NULL;
  }
  return (char *)b.data; /* rmq_free */
}

void rmq_free(void *p) {
  free(p);
}

/* On the callback pool (or in rmq_poll): one report. */
static void report(void *arg) {
  rmq_client_t *c = arg;
  atomic_store(&c->stats_queued, false);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (build(c, &b) == RMQ_OK)
    c->conf.stats_cb(c, (const char *)b.data, b.len - 1, c->conf.stats_opaque);
  rmqi_buf_free(&b);
  rmqi_client_release(c);
}

/* The loop's timer: queue a report unless the last one still waits (a
 * slow callback gets fewer reports, not a growing queue). */
static void tick(void *arg) {
  rmq_client_t *c = arg;
  if (rmqi_client_closed(c) || atomic_exchange(&c->stats_queued, true))
    return;
  rmqi_client_keep(c);
  if (rmqi_client_dispatch(c, report, c) != RMQ_OK) {
    atomic_store(&c->stats_queued, false);
    rmqi_client_release(c); /* never the last: the application holds one */
  }
}

void rmqi_client_stats_start(rmq_client_t *c) {
  int64_t ms = c->conf.v.statistics_interval_ms;
  if (ms > 0 && c->conf.stats_cb)
    c->t_stats = rmqi_loop_timer(rmqi_rpc_loop(c->rpc), ms, ms, tick, c);
}

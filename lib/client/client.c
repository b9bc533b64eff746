#include "client.h"
#include "ns.h"

#include "../codec/msgid.h"
#include "../codec/body.h"
#include "../net/tls.h"
#include "../util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { RC_GET_ROUTEINFO_BY_TOPIC = 105, RC_HEART_BEAT = 34 };

/* ---- route snapshots --------------------------------------------------- */

void rmqi_snap_release(rmqi_snap_t *s) {
  if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
    rmqi_route_free(&s->route);
    free(s);
  }
}

/* Takes ownership of @p route. */
static rmqi_snap_t *snap_new(rmqi_route_t *route) {
  rmqi_snap_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    rmqi_route_free(route);
    return NULL;
  }
  s->route = *route;
  s->n_pub = rmqi_route_publish(&s->route, &s->pub);
  atomic_init(&s->refs, 1);
  return s;
}

/* FNV-1a, 64 bits. */
static uint64_t name_hash(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The slot of @p name in an index of @p n slots (a power of two): its
 * topic's, or the empty one where it would go. */
static size_t index_slot(rmqi_topic_t **ix, size_t n, const char *name) {
  size_t i = (size_t)name_hash(name) & (n - 1);
  while (ix[i] && strcmp(ix[i]->name, name) != 0)
    i = (i + 1) & (n - 1);
  return i;
}

/* Doubles the topic index (16 slots at first) and re-inserts every topic. */
static bool index_grow(rmq_client_t *c) {
  size_t n = c->topic_slots ? 2 * c->topic_slots : 16;
  rmqi_topic_t **ix = calloc(n, sizeof(*ix));
  if (ix == NULL)
    return false;
  for (rmqi_topic_t *t = c->topics; t; t = t->next)
    ix[index_slot(ix, n, t->name)] = t;
  free(c->topic_index);
  c->topic_index = ix;
  c->topic_slots = n;
  return true;
}

/* Under c->lock. */
static rmqi_topic_t *topic_find(rmq_client_t *c, const char *name,
                                bool create) {
  if (c->topic_slots > 0) {
    rmqi_topic_t *t =
        c->topic_index[index_slot(c->topic_index, c->topic_slots, name)];
    if (t != NULL)
      return t;
  }
  if (!create || (2 * (c->n_topics + 1) > c->topic_slots && !index_grow(c)))
    return NULL;
  rmqi_topic_t *t = calloc(1, sizeof(*t));
  if (t == NULL || (t->name = strdup(name)) == NULL) {
    free(t);
    return NULL;
  }
  /* Start each topic at its own queue so that many clients spread (Java
   * seeds its index randomly too); xorshift, not rand(): no global state. */
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  atomic_init(&t->counter, (uint32_t)(c->rng >> 32));
  t->next = c->topics;
  c->topics = t;
  c->topic_index[index_slot(c->topic_index, c->topic_slots, name)] = t;
  c->n_topics++;
  return t;
}

/* Installs @p s as the topic's route (under c->lock). Returns true when
 * the route changed. */
static bool install(rmq_client_t *c, rmqi_topic_t *t, rmqi_snap_t *s,
                    bool borrowed) {
  s->counter = &t->counter;
  s->borrowed_ = borrowed;
  bool changed = t->snap == NULL || t->borrowed != borrowed ||
                 !rmqi_route_equal(&t->snap->route, &s->route);
  rmqi_snap_release(t->snap);
  t->snap = s;
  t->borrowed = borrowed;
  (void)c;
  return changed;
}

rmqi_snap_t *rmqi_client_route_cached(rmq_client_t *c, const char *topic) {
  pthread_mutex_lock(&c->lock);
  rmqi_topic_t *t = topic_find(c, topic, false);
  rmqi_snap_t *s = t ? t->snap : NULL;
  if (s)
    atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&c->lock);
  return s;
}

/* One GET_ROUTEINFO_BY_TOPIC, trying each name server once (transport
 * failures move to the next, as Java's sticky selection does). */
static rmq_err_t fetch_route(rmq_client_t *c, const char *topic,
                             int64_t deadline_ms, rmqi_route_t *route,
                             char *err, size_t n) {
  rmq_err_t rc = RMQ_ERR_NO_NAMESRV;
  size_t n_ns = rmqi_nslist_count(&c->ns);
  for (size_t attempt = 0; attempt < n_ns; attempt++) {
    int64_t left = deadline_ms - rmqi_now_ms();
    if (left <= 0) {
      rmqi_errstr(err, n, "route of %s: timed out", topic);
      return RMQ_ERR_TIMEOUT;
    }
    char addr_buf[RMQI_NSLIST_ADDR_MAX];
    const char *addr = rmqi_nslist_current(&c->ns, addr_buf);
    if (addr == NULL)
      break; /* the address server emptied the list meanwhile */
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_GET_ROUTEINFO_BY_TOPIC);
    rmqi_cmd_ext_ref(&cmd, "topic", topic, strlen(topic));
    rmqi_resp_t resp;
    char detail[512];
    rc = rmqi_rpc_invoke_sync(c->rpc, addr, &cmd,
                              RMQI_MIN(left, c->conf.v.api_timeout_ms), &resp,
                              detail, sizeof(detail));
    rmqi_cmd_free(&cmd);
    /* This name server could not be asked (refused, unresolvable, lost,
     * silent, a malformed entry, or a connection that is not draining):
     * try the next one. */
    if (rc == RMQ_ERR_CONNECT || rc == RMQ_ERR_CONN_LOST ||
        rc == RMQ_ERR_TIMEOUT || rc == RMQ_ERR_INVALID_ARG ||
        rc == RMQ_ERR_QUEUE_FULL || rc == RMQ_ERR_TLS) {
      rmqi_log(&c->log, RMQ_LOG_WARN, "route", "name server %s: %s", addr,
               detail);
      rmqi_errstr(err, n, "name server %s: %s", addr, detail);
      rmqi_nslist_failed(&c->ns, addr);
      continue;
    }
    if (rc != RMQ_OK) {
      rmqi_errstr(err, n, "name server %s: %s", addr, detail);
      return rc;
    }
    rc = rmqi_server_err(resp.cmd.code);
    if (rc == RMQ_OK) {
      rmqi_errbuf_t e;
      rc = rmqi_route_decode(route, (const char *)resp.cmd.body,
                             resp.cmd.body_len, &e);
      if (rc != RMQ_OK)
        rmqi_errstr(err, n, "route of %s from %s: %s at byte %zu", topic, addr,
                    e.msg, e.pos);
    } else {
      rmqi_errstr(err, n, "route of %s: %s (%d) %s", topic, rmq_err_name(rc),
                  (int)rc, resp.cmd.remark.p ? resp.cmd.remark.p : "");
    }
    rmqi_resp_free(&resp);
    return rc;
  }
  return rc;
}

/* Caches @p route (taken) as the route of @p topic and returns a reference
 * in *out. */
static rmq_err_t publish_route(rmq_client_t *c, const char *topic,
                               rmqi_route_t *route, bool borrowed,
                               bool need_pub, rmqi_snap_t **out, char *err,
                               size_t n) {
  rmqi_snap_t *s = snap_new(route);
  if (s == NULL)
    return RMQ_ERR_NOMEM;
  if (need_pub && s->n_pub == 0) {
    rmqi_errstr(err, n,
                "topic %s has no writable queue on a broker with a master",
                topic);
    rmqi_snap_release(s);
    return RMQ_ERR_NO_ROUTE;
  }
  pthread_mutex_lock(&c->lock);
  rmqi_topic_t *t = topic_find(c, topic, true);
  bool changed = false;
  if (t) {
    changed = install(c, t, s, borrowed);
    atomic_fetch_add(&s->refs, 1);
  }
  pthread_mutex_unlock(&c->lock);
  if (t == NULL) {
    rmqi_snap_release(s);
    return RMQ_ERR_NOMEM;
  }
  if (changed)
    rmqi_client_heartbeat_now(c);
  *out = s;
  return RMQ_OK;
}

rmq_err_t rmqi_client_route(rmq_client_t *c, const char *topic,
                            int64_t deadline_ms, rmqi_snap_t **out, char *err,
                            size_t n) {
  if (rmqi_client_closed(c)) {
    rmqi_errstr(err, n, "the client is shut down");
    return RMQ_ERR_SHUTDOWN;
  }
  rmqi_snap_t *cached = rmqi_client_route_cached(c, topic);
  if (cached && cached->n_pub > 0) {
    *out = cached;
    return RMQ_OK;
  }
  /* A route a consumer cached may have no writable queue (a read-only
   * topic, or its master is gone): ask again, and fail clearly if it still
   * has none, never hand a sender an empty queue list. */
  rmqi_snap_release(cached);
  rmqi_route_t route;
  bool borrowed = false;
  rmq_err_t rc = fetch_route(c, topic, deadline_ms, &route, err, n);
  if (rc == RMQ_TOPIC_NOT_EXIST && c->conf.v.create_topic_key[0]) {
    /* Auto-creation (Java tryToFindTopicPublishInfo): send to the brokers
     * hosting the template topic with the default queue count; they create
     * the topic if autoCreateTopicEnable allows it. */
    char err2[256];
    rmq_err_t rc2 = fetch_route(c, c->conf.v.create_topic_key, deadline_ms,
                                &route, err2, sizeof(err2));
    if (rc2 == RMQ_OK) {
      int32_t q = (int32_t)c->conf.v.default_topic_queue_nums;
      for (size_t i = 0; i < route.n_queues; i++) {
        rmqi_qdata_t *d = &route.queues[i];
        d->read_nums = d->write_nums = RMQI_MIN(q, d->read_nums);
      }
      borrowed = true;
      rc = RMQ_OK;
    }
  }
  if (rc != RMQ_OK)
    return rc;
  return publish_route(c, topic, &route, borrowed, true, out, err, n);
}

rmq_err_t rmqi_client_route_sub(rmq_client_t *c, const char *topic,
                                int64_t deadline_ms, rmqi_snap_t **out,
                                char *err, size_t n) {
  rmqi_snap_t *s = rmqi_client_route_cached(c, topic);
  if (s && !s->borrowed_) {
    *out = s;
    return RMQ_OK;
  }
  rmqi_snap_release(s);
  rmqi_route_t route;
  rmq_err_t rc = fetch_route(c, topic, deadline_ms, &route, err, n);
  if (rc != RMQ_OK)
    return rc;
  return publish_route(c, topic, &route, false, false, out, err, n);
}

void rmqi_client_route_forget(rmq_client_t *c, const char *topic) {
  pthread_mutex_lock(&c->lock);
  rmqi_topic_t *t = topic_find(c, topic, false);
  if (t) {
    rmqi_snap_release(t->snap);
    t->snap = NULL;
  }
  pthread_mutex_unlock(&c->lock);
}

/* ---- periodic route refresh (loop thread, asynchronous) ---------------- */

typedef struct refresh {
  rmq_client_t *c;
  char topic[256];
} refresh_t;

static void refresh_done(void *arg, const rmqi_rpc_result_t *r) {
  refresh_t *rf = arg;
  rmq_client_t *c = rf->c;
  if (r->err != RMQ_OK) {
    rmqi_nslist_failed(&c->ns, r->addr);
  } else if (r->resp->code == RMQ_OK) {
    rmqi_route_t route;
    rmqi_errbuf_t e;
    if (rmqi_route_decode(&route, (const char *)r->resp->body,
                          r->resp->body_len, &e) == RMQ_OK) {
      /* installed even without a writable queue (a broker's master is
       * gone, its slave still serves reads): consumers must move to the
       * slave, and senders find no queue and ask the name server again
       * (rmqi_client_route), as Java's producers do */
      rmqi_snap_t *s = snap_new(&route);
      pthread_mutex_lock(&c->lock);
      rmqi_topic_t *t = topic_find(c, rf->topic, false);
      bool changed = t && s && install(c, t, s, false);
      if (t == NULL)
        rmqi_snap_release(s);
      pthread_mutex_unlock(&c->lock);
      if (changed) {
        rmqi_log(&c->log, RMQ_LOG_INFO, "route", "route of %s changed",
                 rf->topic);
        /* as publish_route: the brokers of the new route hear from us at
         * once, so a master that came back knows our consumer groups
         * (a 5.x broker refuses commits of a group it does not know)
         * without waiting for the next heartbeat period */
        rmqi_client_heartbeat_now(c);
      }
    } else {
      rmqi_log(&c->log, RMQ_LOG_WARN, "route", "bad route for %s: %s",
               rf->topic, e.msg);
    }
  }
  free(rf);
}

static void refresh_routes(void *arg) {
  rmq_client_t *c = arg;
  char addr[RMQI_NSLIST_ADDR_MAX];
  if (rmqi_nslist_current(&c->ns, addr) == NULL)
    return; /* no name server yet (an address server has not answered) */
  pthread_mutex_lock(&c->lock);
  for (rmqi_topic_t *t = c->topics; t; t = t->next) {
    refresh_t *rf = malloc(sizeof(*rf));
    if (rf == NULL)
      break;
    rf->c = c;
    snprintf(rf->topic, sizeof(rf->topic), "%s", t->name);
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_GET_ROUTEINFO_BY_TOPIC);
    rmqi_cmd_ext_ref(&cmd, "topic", rf->topic, strlen(rf->topic));
    if (rmqi_rpc_invoke(c->rpc, addr, &cmd, c->conf.v.api_timeout_ms,
                        refresh_done, rf) != RMQ_OK)
      free(rf);
    rmqi_cmd_free(&cmd);
  }
  pthread_mutex_unlock(&c->lock);
}

/* ---- heartbeats --------------------------------------------------------- */

static void heartbeat_done(void *arg, const rmqi_rpc_result_t *r) {
  rmq_client_t *c = arg;
  if (r->err != RMQ_OK)
    rmqi_log(&c->log, RMQ_LOG_WARN, "heartbeat", "%s", r->detail);
  else if (r->resp->code != 0)
    rmqi_log(&c->log, RMQ_LOG_WARN, "heartbeat", "%s answered %d %s", r->addr,
             (int)r->resp->code, r->resp->remark.p ? r->resp->remark.p : "");
}

static void addr_add(char ***v, size_t *n, size_t *cap, const char *a) {
  for (size_t k = 0; k < *n; k++)
    if (strcmp((*v)[k], a) == 0)
      return;
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    char **nv = realloc(*v, nc * sizeof(*nv));
    if (nv == NULL)
      return;
    *v = nv;
    *cap = nc;
  }
  if (((*v)[*n] = strdup(a)) != NULL)
    (*n)++;
}

/* Under c->lock. */
static size_t addrs_locked(rmq_client_t *c, bool masters_only, char ***out) {
  char **v = NULL;
  size_t n = 0, cap = 0;
  for (rmqi_topic_t *t = c->topics; t; t = t->next) {
    if (t->snap == NULL)
      continue;
    const rmqi_route_t *r = &t->snap->route;
    for (size_t i = 0; i < r->n_brokers; i++)
      for (size_t k = 0; k < r->brokers[i].n_addrs; k++)
        if (!masters_only || r->brokers[i].addrs[k].id == 0)
          addr_add(&v, &n, &cap, r->brokers[i].addrs[k].addr);
  }
  *out = v;
  return n;
}

size_t rmqi_client_broker_addrs(rmq_client_t *c, bool masters_only,
                                char ***out) {
  pthread_mutex_lock(&c->lock);
  size_t n = addrs_locked(c, masters_only, out);
  pthread_mutex_unlock(&c->lock);
  return n;
}

void rmqi_addrs_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The heartbeat body and its targets: every broker address when the
 * instance has consumers, else the masters (Java). False when there is
 * nothing to announce or nobody to tell. */
static bool hb_prepare(rmq_client_t *c, rmqi_buf_t *body, char ***addrs,
                       size_t *n_addrs) {
  const char **groups = NULL;
  rmqi_hb_consumer_t *cons = NULL;
  size_t n_groups = 0, n_cons = 0;
  bool ok = true;
  *addrs = NULL;
  *n_addrs = 0;
  pthread_mutex_lock(&c->lock);
  c->heartbeat_pending = false;
  for (rmqi_group_t *g = c->producer_groups; g; g = g->next)
    n_groups++;
  /* a consumer not started yet is no member: the broker would count it
   * in the group, and the others would leave it a share of the queues
   * (Java registers a consumer in start()) */
  for (rmqi_cgroup_t *g = c->consumer_groups; g; g = g->next)
    n_cons += g->announced;
  /* every group, however many: a group left out of heartbeats is dropped
   * by the broker (no check-backs, no rebalance) */
  if ((n_groups && (groups = malloc(n_groups * sizeof(*groups))) == NULL) ||
      (n_cons && (cons = malloc(n_cons * sizeof(*cons))) == NULL))
    ok = false;
  size_t k = 0;
  for (rmqi_group_t *g = c->producer_groups; ok && g; g = g->next)
    groups[k++] = g->name;
  k = 0;
  for (rmqi_cgroup_t *g = c->consumer_groups; ok && g; g = g->next)
    if (g->announced)
      cons[k++] = g->hb;
  bool any = false;
  if (ok) {
    *n_addrs = addrs_locked(c, n_cons == 0, addrs);
    any = (n_groups || n_cons) && *n_addrs;
  }
  if (any) {
    rmqi_heartbeat_t hb = {c->id, groups, n_groups, cons, n_cons};
    rmqi_heartbeat_encode(body, &hb);
  }
  pthread_mutex_unlock(&c->lock);
  free(groups);
  free(cons);
  if (!ok)
    rmqi_log(&c->log, RMQ_LOG_ERROR, "heartbeat", "out of memory");
  return any && rmqi_buf_ok(body);
}

static void heartbeat(void *arg) {
  rmq_client_t *c = arg;
  char **addrs;
  size_t n_addrs;
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  if (hb_prepare(c, &body, &addrs, &n_addrs))
    for (size_t i = 0; i < n_addrs; i++) {
      rmqi_cmd_t cmd;
      rmqi_cmd_init(&cmd, RC_HEART_BEAT);
      cmd.body = body.data;
      cmd.body_len = body.len;
      rmqi_rpc_invoke(c->rpc, addrs[i], &cmd, c->conf.v.api_timeout_ms,
                      heartbeat_done, c);
      rmqi_cmd_free(&cmd);
    }
  rmqi_addrs_free(addrs, n_addrs);
  rmqi_buf_free(&body);
}

void rmqi_client_heartbeat_sync(rmq_client_t *c, int64_t timeout_ms) {
  char **addrs;
  size_t n_addrs;
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  int64_t deadline = rmqi_now_ms() + timeout_ms;
  if (hb_prepare(c, &body, &addrs, &n_addrs))
    for (size_t i = 0; i < n_addrs; i++) {
      int64_t left = deadline - rmqi_now_ms();
      if (left <= 0)
        break;
      rmqi_cmd_t cmd;
      rmqi_cmd_init(&cmd, RC_HEART_BEAT);
      cmd.body = body.data;
      cmd.body_len = body.len;
      rmqi_resp_t resp;
      char detail[200];
      if (rmqi_rpc_invoke_sync(c->rpc, addrs[i], &cmd, left, &resp, detail,
                               sizeof(detail)) == RMQ_OK) {
        if (resp.cmd.code != 0)
          rmqi_log(&c->log, RMQ_LOG_WARN, "heartbeat", "%s answered %d",
                   addrs[i], (int)resp.cmd.code);
        rmqi_resp_free(&resp);
      } else {
        rmqi_log(&c->log, RMQ_LOG_WARN, "heartbeat", "%s", detail);
      }
      rmqi_cmd_free(&cmd);
    }
  rmqi_addrs_free(addrs, n_addrs);
  rmqi_buf_free(&body);
}

void rmqi_client_heartbeat_now(rmq_client_t *c) {
  pthread_mutex_lock(&c->lock);
  bool post = !c->heartbeat_pending;
  c->heartbeat_pending = true;
  pthread_mutex_unlock(&c->lock);
  if (post)
    rmqi_loop_post(rmqi_rpc_loop(c->rpc), heartbeat, c);
}

rmq_err_t rmqi_client_add_producer(rmq_client_t *c, const char *group) {
  pthread_mutex_lock(&c->lock);
  rmqi_group_t *g = c->producer_groups;
  while (g && strcmp(g->name, group) != 0)
    g = g->next;
  if (g == NULL) {
    g = calloc(1, sizeof(*g));
    if (g == NULL || (g->name = strdup(group)) == NULL) {
      free(g);
      pthread_mutex_unlock(&c->lock);
      return RMQ_ERR_NOMEM;
    }
    g->next = c->producer_groups;
    c->producer_groups = g;
  }
  g->refs++;
  pthread_mutex_unlock(&c->lock);
  rmqi_client_heartbeat_now(c);
  return RMQ_OK;
}

bool rmqi_client_remove_producer(rmq_client_t *c, const char *group) {
  bool last = false;
  pthread_mutex_lock(&c->lock);
  for (rmqi_group_t **pp = &c->producer_groups; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, group) == 0) {
      rmqi_group_t *g = *pp;
      if (--g->refs == 0) {
        *pp = g->next;
        free(g->name);
        free(g);
        last = true;
      }
      break;
    }
  pthread_mutex_unlock(&c->lock);
  return last;
}

/* ---- consumer groups ---------------------------------------------------- */

enum { RC_UNREGISTER_CLIENT = 35, RC_NOTIFY_CONSUMER_IDS_CHANGED = 40 };

static rmqi_cgroup_t *cgroup_find(rmq_client_t *c, const char *group) {
  for (rmqi_cgroup_t *g = c->consumer_groups; g; g = g->next)
    if (strcmp(g->name, group) == 0)
      return g;
  return NULL;
}

rmq_err_t rmqi_client_add_consumer(rmq_client_t *c, const char *group,
                                   rmqi_consumer_notify_fn notify, void *arg) {
  pthread_mutex_lock(&c->lock);
  rmq_err_t rc = RMQ_OK;
  rmqi_cgroup_t *g = NULL;
  if (cgroup_find(c, group))
    rc = RMQ_ERR_STATE;
  else if ((g = calloc(1, sizeof(*g))) == NULL ||
           (g->name = strdup(group)) == NULL)
    rc = RMQ_ERR_NOMEM;
  if (rc == RMQ_OK) {
    rmqi_arena_init(&g->arena, 0);
    g->hb.group = g->name;
    g->hb.consume_type = "CONSUME_ACTIVELY";
    g->hb.message_model = "CLUSTERING";
    g->hb.consume_from_where = "CONSUME_FROM_LAST_OFFSET";
    g->notify = notify;
    g->notify_arg = arg;
    g->next = c->consumer_groups;
    c->consumer_groups = g;
  } else if (g) {
    free(g);
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

static const char *adup(rmqi_arena_t *a, const char *s, bool *ok) {
  const char *d = s ? rmqi_arena_strndup(a, s, strlen(s)) : NULL;
  *ok = *ok && (s == NULL || d != NULL);
  return d;
}

rmq_err_t rmqi_client_set_consumer_data(rmq_client_t *c,
                                        const rmqi_hb_consumer_t *d) {
  rmqi_arena_t a;
  rmqi_arena_init(&a, 0);
  bool ok = true;
  rmqi_hb_consumer_t hb = {
      .group = adup(&a, d->group, &ok),
      .consume_type = adup(&a, d->consume_type, &ok),
      .message_model = adup(&a, d->message_model, &ok),
      .consume_from_where = adup(&a, d->consume_from_where, &ok),
      .unit_mode = d->unit_mode,
      .n_subs = d->n_subs,
  };
  rmqi_hb_sub_t *subs =
      d->n_subs ? rmqi_arena_alloc(&a, d->n_subs * sizeof(*subs)) : NULL;
  ok = ok && (d->n_subs == 0 || subs);
  for (size_t i = 0; ok && i < d->n_subs; i++) {
    const rmqi_hb_sub_t *x = &d->subs[i];
    const char **tags =
        x->n_tags ? rmqi_arena_alloc(&a, x->n_tags * sizeof(*tags)) : NULL;
    int32_t *codes =
        x->n_tags ? rmqi_arena_alloc(&a, x->n_tags * sizeof(*codes)) : NULL;
    ok = x->n_tags == 0 || (tags && codes);
    for (size_t k = 0; ok && k < x->n_tags; k++) {
      tags[k] = adup(&a, x->tags[k], &ok);
      codes[k] = x->codes[k];
    }
    subs[i] = (rmqi_hb_sub_t){adup(&a, x->topic, &ok),
                              adup(&a, x->sub_string, &ok),
                              adup(&a, x->expression_type, &ok),
                              tags,
                              codes,
                              x->n_tags,
                              x->sub_version};
  }
  hb.subs = subs;
  if (!ok) {
    rmqi_arena_free(&a);
    return RMQ_ERR_NOMEM;
  }
  pthread_mutex_lock(&c->lock);
  rmqi_cgroup_t *g = cgroup_find(c, d->group);
  if (g) {
    rmqi_arena_free(&g->arena);
    g->arena = a;
    g->hb = hb;
    g->hb.group = g->name;
    g->announced = true;
  }
  pthread_mutex_unlock(&c->lock);
  if (g == NULL) {
    rmqi_arena_free(&a);
    return RMQ_ERR_STATE;
  }
  return RMQ_OK;
}

/* UNREGISTER_CLIENT to many brokers at once: each answer (or failure)
 * counts down; the caller waits until all came or its deadline passed,
 * and the last of it and the callbacks frees the state. */
typedef struct unreg {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t pending;
  size_t refs; /* pending callbacks + the waiter */
} unreg_t;

static void unreg_put(unreg_t *u, bool answered) {
  pthread_mutex_lock(&u->lock);
  if (answered && --u->pending == 0)
    pthread_cond_broadcast(&u->cond);
  bool last = --u->refs == 0;
  pthread_mutex_unlock(&u->lock);
  if (last) {
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    free(u);
  }
}

static void unreg_done(void *arg, const rmqi_rpc_result_t *r) {
  (void)r;
  unreg_put(arg, true);
}

void rmqi_client_unregister(rmq_client_t *c, const char *producer_group,
                            const char *consumer_group, bool masters_only,
                            int64_t deadline) {
  char **addrs;
  size_t n = rmqi_client_broker_addrs(c, masters_only, &addrs);
  unreg_t *u = n ? calloc(1, sizeof(*u)) : NULL;
  if (u) {
    pthread_mutex_init(&u->lock, NULL);
    rmqi_cond_init_mono(&u->cond);
    u->refs = 1;
  }
  for (size_t i = 0; u && i < n; i++) {
    int64_t left = deadline - rmqi_now_ms();
    if (left <= 0)
      break;
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_UNREGISTER_CLIENT);
    rmqi_cmd_ext_ref(&cmd, "clientID", c->id, strlen(c->id));
    if (producer_group)
      rmqi_cmd_ext_ref(&cmd, "producerGroup", producer_group,
                       strlen(producer_group));
    if (consumer_group)
      rmqi_cmd_ext_ref(&cmd, "consumerGroup", consumer_group,
                       strlen(consumer_group));
    pthread_mutex_lock(&u->lock);
    u->pending++;
    u->refs++;
    pthread_mutex_unlock(&u->lock);
    if (rmqi_rpc_invoke(c->rpc, addrs[i], &cmd, left, unreg_done, u) != RMQ_OK)
      unreg_put(u, true); /* not sent: no callback comes */
    rmqi_cmd_free(&cmd);
  }
  if (u) {
    pthread_mutex_lock(&u->lock);
    while (u->pending > 0 && rmqi_now_ms() < deadline)
      rmqi_cond_wait_until(&u->cond, &u->lock, deadline);
    pthread_mutex_unlock(&u->lock);
    unreg_put(u, false);
  }
  rmqi_addrs_free(addrs, n);
}

void rmqi_client_remove_consumer(rmq_client_t *c, const char *group,
                                 int64_t timeout_ms) {
  pthread_mutex_lock(&c->lock);
  for (rmqi_cgroup_t **pp = &c->consumer_groups; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, group) == 0) {
      rmqi_cgroup_t *g = *pp;
      *pp = g->next;
      rmqi_arena_free(&g->arena);
      free(g->name);
      free(g);
      break;
    }
  pthread_mutex_unlock(&c->lock);
  /* so the group rebalances at once rather than after the broker's 120 s
   * expiry (Java unregisterClient) */
  rmqi_client_unregister(c, NULL, group, false, rmqi_now_ms() + timeout_ms);
}

void rmqi_client_set_consumer_admin(rmq_client_t *c, const char *group,
                                    rmqi_consumer_admin_fn fn) {
  pthread_mutex_lock(&c->lock);
  rmqi_cgroup_t *g = cgroup_find(c, group);
  if (g)
    g->admin = fn;
  pthread_mutex_unlock(&c->lock);
}

enum {
  RC_RESET_OFFSET = 220,
  RC_CONSUMER_STATUS = 221,
  RC_RUNNING_INFO = 307,
  RC_CONSUME_DIRECTLY = 309,
};

/* The admin requests about one of our consumer groups: to its consumer;
 * a group we do not have is answered SYSTEM_ERROR (unless one-way), with
 * Java's remark. */
static void on_consumer_admin(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  rmq_client_t *c = arg;
  const rmqi_str_t *gs = rmqi_cmd_ext_get(req, "consumerGroup");
  if (gs == NULL)
    gs = rmqi_cmd_ext_get(req, "group");
  rmqi_str_t g = gs ? *gs : (rmqi_str_t){"", 0};
  bool done = false;
  pthread_mutex_lock(&c->lock);
  for (rmqi_cgroup_t *x = c->consumer_groups; x && !done; x = x->next)
    if (strlen(x->name) == g.n && memcmp(x->name, g.p, g.n) == 0 && x->admin) {
      x->admin(x->notify_arg, conn, req, &x->hb);
      done = true;
    }
  pthread_mutex_unlock(&c->lock);
  if (done || rmqi_cmd_is_oneway(req))
    return;
  rmqi_cmd_t resp;
  rmqi_cmd_init_response(&resp, req, RMQ_SYSTEM_ERROR);
  char remark[320];
  int n = snprintf(remark, sizeof(remark),
                   "The Consumer Group <%.*s> not exist in this consumer",
                   (int)RMQI_MIN(g.n, 256), g.p ? g.p : "");
  rmqi_cmd_set_remark(&resp, remark, (size_t)n);
  rmqi_rpc_reply(conn, &resp);
  rmqi_cmd_free(&resp);
}

/* NOTIFY_CONSUMER_IDS_CHANGED (broker, one-way): wake that group's
 * rebalance. */
static void on_ids_changed(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  rmq_client_t *c = arg;
  (void)conn;
  const rmqi_str_t *gs = rmqi_cmd_ext_get(req, "consumerGroup");
  if (gs == NULL)
    return;
  rmqi_str_t g = *gs;
  pthread_mutex_lock(&c->lock);
  for (rmqi_cgroup_t *x = c->consumer_groups; x; x = x->next)
    if (strlen(x->name) == g.n && memcmp(x->name, g.p, g.n) == 0 && x->notify)
      x->notify(x->notify_arg);
  pthread_mutex_unlock(&c->lock);
  rmqi_log(&c->log, RMQ_LOG_INFO, "rebalance",
           "broker %s: consumers of %.*s changed", rmqi_conn_addr(conn),
           (int)g.n, g.p);
}

/* ---- transactional producers ------------------------------------------ */

enum { RC_CHECK_TRANSACTION_STATE = 39 };

rmq_err_t rmqi_client_add_tx_checker(rmq_client_t *c, const char *group,
                                     rmqi_tx_check_fn fn, void *arg) {
  rmqi_txchk_t *x = calloc(1, sizeof(*x));
  if (x == NULL || (x->group = strdup(group)) == NULL) {
    free(x);
    return RMQ_ERR_NOMEM;
  }
  x->fn = fn;
  x->arg = arg;
  pthread_mutex_lock(&c->lock);
  rmqi_txchk_t **pp = &c->tx_checkers; /* oldest first: Java keeps one */
  while (*pp)
    pp = &(*pp)->next;
  *pp = x;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

void rmqi_client_remove_tx_checker(rmq_client_t *c, void *arg) {
  pthread_mutex_lock(&c->lock);
  for (rmqi_txchk_t **pp = &c->tx_checkers; *pp; pp = &(*pp)->next)
    if ((*pp)->arg == arg) {
      rmqi_txchk_t *x = *pp;
      *pp = x->next;
      free(x->group);
      free(x);
      break;
    }
  pthread_mutex_unlock(&c->lock);
}

/* CHECK_TRANSACTION_STATE (broker, one-way; requests.md §4.1): the half
 * message in the body names its producer group (PGROUP); a transactional
 * producer of that group in this instance queues the check. Without one
 * the check is dropped, as Java does; the broker asks again later. */
static void on_check_tx(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  rmq_client_t *c = arg;
  if (rmqi_client_closed(c))
    return;
  rmqi_msgrec_t rec;
  size_t next;
  rmqi_errbuf_t e;
  if (req->body == NULL ||
      rmqi_msgrec_decode(req->body, req->body_len, &rec, &next, &e) != RMQ_OK) {
    rmqi_log(&c->log, RMQ_LOG_WARN, "transaction",
             "broker %s: check with an undecodable message dropped",
             rmqi_conn_addr(conn));
    return;
  }
  size_t glen = 0;
  const char *g = rmqi_props_get(rec.props, rec.props_len, "PGROUP", &glen);
  if (g == NULL) {
    rmqi_log(&c->log, RMQ_LOG_WARN, "transaction",
             "broker %s: check without a producer group dropped",
             rmqi_conn_addr(conn));
    return;
  }
  bool found = false;
  pthread_mutex_lock(&c->lock);
  for (rmqi_txchk_t *x = c->tx_checkers; x; x = x->next)
    if (strlen(x->group) == glen && memcmp(x->group, g, glen) == 0) {
      x->fn(x->arg, rmqi_conn_addr(conn), req, &rec);
      found = true;
      break;
    }
  pthread_mutex_unlock(&c->lock);
  if (!found)
    rmqi_log(&c->log, RMQ_LOG_DEBUG, "transaction",
             "broker %s: no transactional producer of group %.*s here",
             rmqi_conn_addr(conn), (int)glen, g);
}

/* ---- ids ---------------------------------------------------------------- */

/* The start of the current month in local time, as epoch ms (Java's
 * MessageClientIDSetter measures ids from it). mktime is slow, so the
 * bounds of the current month are cached and recomputed when it ends. */
static int64_t month_start_ms(rmq_client_t *c, int64_t now_ms) {
  if (now_ms >= atomic_load(&c->month_start) &&
      now_ms < atomic_load(&c->month_end))
    return atomic_load(&c->month_start);
  time_t now = (time_t)(now_ms / 1000);
  struct tm tm;
  localtime_r(&now, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  int64_t start = (int64_t)mktime(&tm) * 1000;
  tm.tm_mon += 1;
  tm.tm_isdst = -1;
  int64_t end = (int64_t)mktime(&tm) * 1000;
  atomic_store(&c->month_end, 0); /* readers fall back to computing */
  atomic_store(&c->month_start, start);
  atomic_store(&c->month_end, end);
  return start;
}

static int64_t month_ms(rmq_client_t *c) {
  int64_t now = rmqi_wall_ms();
  int64_t v = now - month_start_ms(c, now);
  return v < 0 ? 0 : v;
}

/* The constant head of the client's UNIQ_KEYs: its address, pid and
 * discriminator, formatted once. */
static void uniq_head(rmq_client_t *c) {
  uint8_t b[22];
  size_t n = c->ip.len;
  memcpy(b, c->ip.bytes, n);
  uint16_t pid = c->pid; /* cached: Java reads it once, too */
  b[n++] = (uint8_t)(pid >> 8);
  b[n++] = (uint8_t)pid;
  rmqi_store_be32(b + n, c->uniq_discriminator);
  n += 4;
  rmqi_hex_upper(c->uniq_head, b, n);
  c->uniq_head_len = 2 * n;
}

void rmqi_client_uniq_id(rmq_client_t *c, char out[57]) {
  uint8_t b[6];
  rmqi_store_be32(b, (uint32_t)month_ms(c));
  uint16_t cnt = (uint16_t)atomic_fetch_add(&c->uniq_counter, 1);
  b[4] = (uint8_t)(cnt >> 8);
  b[5] = (uint8_t)cnt;
  memcpy(out, c->uniq_head, c->uniq_head_len);
  rmqi_hex_upper(out + c->uniq_head_len, b, sizeof(b));
  out[c->uniq_head_len + 2 * sizeof(b)] = '\0';
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The rpc layer's signing hook (any thread, just before encoding). */
static rmq_err_t sign(void *arg, rmqi_cmd_t *cmd) {
  rmq_client_t *c = arg;
  rmqi_acl_t acl = {c->conf.v.access_key, c->conf.v.secret_key,
                    c->conf.v.security_token};
  return rmqi_acl_sign(cmd, &acl);
}

rmq_err_t rmqi_client_dispatch(rmq_client_t *c, rmqi_fn fn, void *arg) {
  return rmqi_disp_submit(&c->disp, fn, arg);
}

static void start_timers(void *arg) {
  rmq_client_t *c = arg;
  rmqi_loop_t *l = rmqi_rpc_loop(c->rpc);
  c->t_route =
      rmqi_loop_timer(l, c->conf.v.poll_namesrv_interval_ms,
                      c->conf.v.poll_namesrv_interval_ms, refresh_routes, c);
  c->t_heartbeat =
      rmqi_loop_timer(l, 1000, c->conf.v.heartbeat_interval_ms, heartbeat, c);
  rmqi_client_stats_start(c);
}

static uint64_t seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
               ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&ts;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

/* useTLS: the context every connection of the instance shares. */
static bool tls_context(rmq_client_t *c, rmqi_rpc_opts_t *o, char *errstr,
                        size_t errstr_size) {
  const rmqi_conf_vals_t *v = &c->conf.v;
  rmqi_tls_opts_t to = {.ca_path = v->tls_trust_cert_path,
                        .cert_path = v->tls_cert_path,
                        .key_path = v->tls_key_path,
                        .key_password = v->tls_key_password,
                        .verify_server = v->tls_verify_server,
                        .verify_host = v->tls_verify_hostname,
                        .tls13_only = v->tls_min_version == RMQI_TLS_MIN_13};
  char why[384];
  why[0] = '\0';
  if (rmqi_tls_new(&o->tls, &to, why, sizeof(why)) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "useTLS: %s",
                why[0] ? why : "out of memory");
    return false;
  }
  if (!v->tls_verify_server)
    rmqi_log(&c->log, RMQ_LOG_WARN, "client",
             "tlsVerifyServer is false: any server certificate is accepted");
  return true;
}

/* The address server answered (its thread): switch when the list changed,
 * as Java's updateNameServerAddressList. */
static void on_namesrv_list(void *arg, const char *list) {
  rmq_client_t *c = arg;
  bool changed = false;
  if (rmqi_nslist_replace(&c->ns, list, &changed) == RMQ_OK && changed)
    rmqi_log(&c->log, RMQ_LOG_INFO, "namesrv", "name servers now %s", list);
}

rmq_client_t *rmq_client_new(const rmq_conf_t *conf, char *errstr,
                             size_t errstr_size) {
  /* the producer and consumer keys of @p conf are not refused: they are
   * for the producers and consumers made on this client with the same
   * conf (those check them), the way applications and bindings use it */
  return rmqi_client_new(conf, errstr, errstr_size);
}

rmq_client_t *rmqi_client_new(const rmq_conf_t *conf, char *errstr,
                              size_t errstr_size) {
  rmqi_errstr(errstr, errstr_size, "%s", "");
  rmq_client_t *c = calloc(1, sizeof(*c));
  rmq_conf_t *dflt = conf ? NULL : rmq_conf_new();
  if (c == NULL || (conf == NULL && dflt == NULL) ||
      rmqi_conf_copy(&c->conf, conf ? conf : dflt) != RMQ_OK) {
    rmq_conf_destroy(dflt);
    free(c);
    rmqi_errstr(errstr, errstr_size, "out of memory");
    return NULL;
  }
  rmq_conf_destroy(dflt);
  c->log =
      (rmqi_log_t){c->conf.log_cb, c->conf.log_opaque, c->conf.v.log_level};
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->stats_lock, NULL);
  c->created_ms = rmqi_now_ms();
  c->created_wall_ms = rmqi_wall_ms();
  uint64_t s = seed();
  atomic_init(&c->refs, 1); /* the application's handle */
  atomic_init(&c->closed, false);
  c->rng = s | 1;
  c->uniq_discriminator = (uint32_t)(s >> 32);
  /* the month's bounds now, on the creating thread: the first sends of
   * several threads do not all call localtime_r/mktime (the C library's
   * time-zone state) at once */
  (void)month_start_ms(c, rmqi_wall_ms());
  c->pid = (uint16_t)getpid();
  atomic_init(&c->uniq_counter, (uint32_t)s);
  /* namesrvAddr (an endpoint "http://host:port" is host:port, as Java's
   * getNamesrvAddr), else NAMESRV_ADDR, else the address server */
  const char *ns = rmqi_ns_endpoint_addr(c->conf.v.namesrv_addr);
  if (ns == NULL || *ns == '\0')
    ns = getenv("NAMESRV_ADDR");
  bool ns_ok = ns && *ns;
  bool domain = !ns_ok && c->conf.v.namesrv_domain[0] != '\0';
  rmq_err_t ns_rc = domain  ? rmqi_nslist_init_empty(&c->ns, s)
                    : ns_ok ? rmqi_nslist_init(&c->ns, ns, s)
                            : RMQ_ERR_NO_NAMESRV;
  if (ns_rc != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size,
                ns_ok ? "NAMESRV_ADDR is not a host:port list"
                      : "no name server: set namesrvAddr (or NAMESRV_ADDR, "
                        "or namesrvDomain)");
    rmqi_conf_release(&c->conf);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return NULL;
  }
  if (rmqi_local_ip(c->conf.v.client_ip, &c->ip) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "clientIP \"%s\" is not an address",
                c->conf.v.client_ip);
    goto fail_ns;
  }
  rmqi_client_id(c->id, sizeof(c->id), c->ip.text, c->conf.v.instance_name,
                 c->conf.v.unit_name, s);
  uniq_head(c);
  rmqi_rpc_opts_t o = {
      .max_frame = (size_t)c->conf.v.max_frame_size,
      .connect_timeout_ms = c->conf.v.connect_timeout_ms,
      .max_conn_output = (size_t)c->conf.v.max_conn_output,
      .ser = c->conf.v.serialize_type == RMQI_SERIALIZE_ROCKETMQ
                 ? RMQI_SER_ROCKETMQ
                 : RMQI_SER_JSON,
      .log = &c->log,
  };
  if (c->conf.v.access_key[0]) {
    if (c->conf.v.secret_key[0] == '\0') {
      rmqi_errstr(errstr, errstr_size,
                  "accessKey is set but secretKey is empty");
      goto fail_ns;
    }
    o.sign = sign;
    o.sign_arg = c;
  }
  size_t threads = c->conf.v.callback_mode == RMQI_CALLBACK_POLL
                       ? 0
                       : (size_t)c->conf.v.callback_threads;
  if (c->conf.v.use_tls && !tls_context(c, &o, errstr, errstr_size))
    goto fail_ns;
  rmq_err_t rpc_rc = rmqi_rpc_new(&c->rpc, &o);
  rmqi_tls_unref(o.tls); /* the rpc instance holds its own reference */
  if (rpc_rc != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot create the I/O loop");
    goto fail_ns;
  }
  if (rmqi_disp_init(&c->disp, threads) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot start the callback threads");
    rmqi_rpc_free(c->rpc);
    goto fail_ns;
  }
  rmqi_rpc_handle(c->rpc, RC_NOTIFY_CONSUMER_IDS_CHANGED, on_ids_changed, c);
  rmqi_rpc_handle(c->rpc, RC_RUNNING_INFO, on_consumer_admin, c);
  rmqi_rpc_handle(c->rpc, RC_CONSUMER_STATUS, on_consumer_admin, c);
  rmqi_rpc_handle(c->rpc, RC_RESET_OFFSET, on_consumer_admin, c);
  rmqi_rpc_handle(c->rpc, RC_CONSUME_DIRECTLY, on_consumer_admin, c);
  rmqi_rpc_handle(c->rpc, RC_CHECK_TRANSACTION_STATE, on_check_tx, c);
  rmqi_rpc_handle(c->rpc, RMQI_RC_PUSH_REPLY_MESSAGE, rmqi_client_on_reply, c);
  if (rmqi_rpc_start(c->rpc) != RMQ_OK ||
      rmqi_loop_post(rmqi_rpc_loop(c->rpc), start_timers, c) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot start the I/O thread");
    rmqi_rpc_free(c->rpc);
    rmqi_disp_destroy(&c->disp);
    goto fail_ns;
  }
  if (domain) {
    rmqi_addrsrv_opts_t ao = {
        .domain = c->conf.v.namesrv_domain,
        .subgroup = c->conf.v.namesrv_domain_subgroup,
        .unit = c->conf.v.unit_name,
        .interval_ms = c->conf.v.namesrv_domain_refresh_ms,
        .timeout_ms = c->conf.v.api_timeout_ms,
        .log = &c->log,
        .fn = on_namesrv_list,
        .arg = c,
    };
    /* waits for the first answer, as Java's start() fetches at once; an
     * address server that does not answer leaves the list empty (routes
     * fail with RMQ_ERR_NO_NAMESRV) until a later fetch fills it */
    if (rmqi_addrsrv_start(&c->addrsrv, &ao) != RMQ_OK)
      rmqi_log(&c->log, RMQ_LOG_ERROR, "namesrv",
               "cannot start the address server thread");
  }
  rmqi_log(&c->log, RMQ_LOG_INFO, "client",
           "client %s started (name servers %s)", c->id,
           domain ? c->conf.v.namesrv_domain : ns);
  return c;
fail_ns:
  rmqi_nslist_free(&c->ns);
  rmqi_conf_release(&c->conf);
  pthread_mutex_destroy(&c->stats_lock);
  pthread_mutex_destroy(&c->lock);
  free(c);
  return NULL;
}

/* The last reference: everything is stopped already; free the memory. */
static void client_free(rmq_client_t *c) {
  rmqi_rpc_free(c->rpc);
  rmqi_disp_destroy(&c->disp);
  free(c->topic_index);
  while (c->topics) {
    rmqi_topic_t *t = c->topics;
    c->topics = t->next;
    rmqi_snap_release(t->snap);
    free(t->name);
    free(t);
  }
  while (c->producer_groups) {
    rmqi_group_t *g = c->producer_groups;
    c->producer_groups = g->next;
    free(g->name);
    free(g);
  }
  while (c->tx_checkers) { /* producers remove theirs; just in case */
    rmqi_txchk_t *x = c->tx_checkers;
    c->tx_checkers = x->next;
    free(x->group);
    free(x);
  }
  while (c->repliers) { /* producers remove theirs; just in case */
    rmqi_replier_t *x = c->repliers;
    c->repliers = x->next;
    free(x);
  }
  while (c->consumer_groups) {
    rmqi_cgroup_t *g = c->consumer_groups;
    c->consumer_groups = g->next;
    rmqi_arena_free(&g->arena);
    free(g->name);
    free(g);
  }
  while (c->stats_srcs) { /* producers and consumers remove theirs */
    rmqi_stats_src_t *x = c->stats_srcs;
    c->stats_srcs = x->next;
    free(x);
  }
  rmqi_nslist_free(&c->ns);
  rmqi_conf_release(&c->conf);
  pthread_mutex_destroy(&c->stats_lock);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

void rmqi_client_keep(rmq_client_t *c) {
  atomic_fetch_add(&c->refs, 1);
}

void rmqi_client_release(rmq_client_t *c) {
  if (c && atomic_fetch_sub(&c->refs, 1) == 1)
    client_free(c);
}

bool rmqi_client_closed(rmq_client_t *c) {
  return atomic_load(&c->closed);
}

void rmq_client_destroy(rmq_client_t *c, int timeout_ms) {
  if (c == NULL)
    return;
  /* From a callback it would join the thread it runs on. */
  if (rmqi_disp_on_worker(&c->disp) ||
      rmqi_loop_on_thread(rmqi_rpc_loop(c->rpc))) {
    rmqi_log(&c->log, RMQ_LOG_ERROR, "client",
             "rmq_client_destroy called from a library callback: ignored");
    return;
  }
  if (atomic_exchange(&c->closed, true)) {
    rmqi_log(&c->log, RMQ_LOG_ERROR, "client",
             "rmq_client_destroy called twice: ignored");
    return;
  }
  /* The teardown order (doc/architecture.md): refuse new work (closed is
   * set: sends and route lookups answer RMQ_ERR_SHUTDOWN), let what is in
   * flight finish until the deadline, fail the rest, drain the callbacks,
   * then free, once the producers and consumers still made on this
   * client are gone too. */
  int64_t deadline = rmqi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  while (rmqi_rpc_pending(c->rpc) > 0 && rmqi_now_ms() < deadline) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  rmqi_addrsrv_stop(c->addrsrv); /* no list change after this */
  c->addrsrv = NULL;
  rmqi_rpc_stop(c->rpc);     /* the rest: RMQ_ERR_SHUTDOWN, callbacks queued */
  rmqi_disp_close(&c->disp); /* they run; later submissions are refused */
  rmqi_log(&c->log, RMQ_LOG_INFO, "client", "client %s stopped", c->id);
  rmqi_client_release(c);
}

const char *rmq_client_id(const rmq_client_t *c) {
  return c ? c->id : NULL;
}

int rmq_poll_fd(rmq_client_t *c) {
  return c && c->disp.poll_mode ? c->disp.efd : -1;
}

int rmq_poll(rmq_client_t *c, int timeout_ms) {
  return c ? rmqi_disp_poll(&c->disp, timeout_ms) : 0;
}

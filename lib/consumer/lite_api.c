/*
 * The lite pull consumer's public calls other than poll: lifecycle,
 * subscribe/assign, seek, commit, pause/resume, queue listings, raw pull.
 */
#include "lite_int.h"

#include "../client/ns.h"
#include "../codec/batch.h"
#include "../util/time.h"
#include "admin.h"
#include "offsets.h"
#include "pull.h"
#include "queues.h"
#include "rxmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- queue lists ------------------------------------------------------------
 */

void rmq_queue_list_clear(rmq_queue_list_t *list) {
  if (list == NULL)
    return;
  free(list->queues); /* the strings live in the same block */
  list->queues = NULL;
  list->n = 0;
}

typedef rmqi_alloc_mq_t qitem_t;

static rmq_err_t make_list(const lite_t *l, const qitem_t *v, size_t n,
                           rmq_queue_list_t *out) {
  out->queues = rmqi_queues_public(v, n, l->conf.v.name_space);
  out->n = out->queues ? n : 0;
  return out->queues ? RMQ_OK : RMQ_ERR_NOMEM;
}

/* An application's queue in the consumer's namespace: the wrapped copy
 * lives in @p w. NULL when the wrapped name would not fit. */
typedef struct nsq {
  rmq_queue_t q;
  char buf[RMQI_NS_NAME_MAX];
} nsq_t;

static const rmq_queue_t *q_in(const lite_t *l, const rmq_queue_t *mq,
                               nsq_t *w) {
  if (mq == NULL || mq->topic == NULL)
    return mq;
  const char *t =
      rmqi_ns_wrap(l->conf.v.name_space, mq->topic, w->buf, sizeof(w->buf));
  if (t == NULL || t == mq->topic)
    return t ? mq : NULL;
  w->q = *mq;
  w->q.topic = t;
  return &w->q;
}

/* The same for an array, in one block (*owned, to free; NULL when the
 * names did not change). NULL: no memory, or a name that would not fit. */
static const rmq_queue_t *qs_in(const lite_t *l, const rmq_queue_t *v, size_t n,
                                rmq_queue_t **owned) {
  *owned = NULL;
  const char *ns = l->conf.v.name_space;
  if (ns[0] == '\0' || n == 0)
    return v;
  char buf[RMQI_NS_NAME_MAX];
  size_t size = n * sizeof(rmq_queue_t);
  for (size_t i = 0; i < n; i++) {
    const char *t =
        v[i].topic ? rmqi_ns_wrap(ns, v[i].topic, buf, sizeof(buf)) : "";
    if (t == NULL)
      return NULL;
    size += strlen(t) + 1;
  }
  rmq_queue_t *out = malloc(size);
  if (out == NULL)
    return NULL;
  char *p = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    out[i] = v[i];
    if (v[i].topic) {
      const char *t = rmqi_ns_wrap(ns, v[i].topic, buf, sizeof(buf));
      out[i].topic = memcpy(p, t, strlen(t) + 1);
      p += strlen(t) + 1;
    }
  }
  *owned = out;
  return out;
}

/* Makes sure the topic's route is cached (fetching it if needed). */
static rmq_err_t have_route(lite_t *l, const char *topic) {
  rmqi_snap_t *s;
  char err[256];
  rmq_err_t rc = rmqi_client_route_sub(
      l->client, topic, rmqi_now_ms() + l->client->conf.v.api_timeout_ms, &s,
      err, sizeof(err));
  if (rc != RMQ_OK) {
    /* a new group's retry topic exists only once a message was sent back:
     * normal, not worth a warning */
    bool new_retry =
        rc == RMQ_TOPIC_NOT_EXIST && strncmp(topic, "%RETRY%", 7) == 0;
    rmqi_log(&l->client->log, new_retry ? RMQ_LOG_INFO : RMQ_LOG_WARN,
             "consumer", "%s", err);
    return rc;
  }
  rmqi_snap_release(s);
  return RMQ_OK;
}

/* The master address of @p mq's broker, fetching the route if needed. */
static rmq_err_t queue_addr(lite_t *l, const rmq_queue_t *mq, char *addr,
                            size_t n) {
  rmq_err_t rc = have_route(l, mq->topic);
  if (rc == RMQ_OK &&
      !rmqi_lite_addr(l, mq->topic, mq->broker_name, 0, addr, n, NULL))
    rc = RMQ_ERR_NO_ROUTE;
  return rc;
}

/* ---- lifecycle ------------------------------------------------------------
 */

static bool group_valid(const char *g, char *err, size_t n) {
  size_t len = g ? strlen(g) : 0;
  if (len == 0 || len > 255) {
    snprintf(err, n, "consumerGroup must be 1..255 characters");
    return false;
  }
  for (const char *p = g; *p; p++)
    if (!(*p == '%' || *p == '|' || *p == '_' || *p == '-' ||
          (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
          (*p >= 'A' && *p <= 'Z'))) {
      snprintf(err, n,
               "consumerGroup \"%s\" has a character outside "
               "[%%|a-zA-Z0-9_-]",
               g);
      return false;
    }
  return true;
}

static void on_group_changed(void *arg) {
  rmqi_lite_kick(arg);
}

/* mkdir -p of the directories of @p path. */
static rmq_err_t make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    int r = mkdir(path, 0755);
    *p = '/';
    if (r != 0 && errno != EEXIST)
      return RMQ_ERR_IO;
  }
  return RMQ_OK;
}

static rmq_err_t load_offsets(lite_t *l, char *err, size_t n) {
  const char *dir = l->conf.v.local_offset_store_dir;
  char base[512];
  if (dir == NULL || *dir == '\0') {
    const char *home = getenv("HOME");
    snprintf(base, sizeof(base), "%s/.rocketmq_offsets", home ? home : ".");
    dir = base;
  }
  size_t len = strlen(dir) + strlen(l->client->id) + strlen(l->group) + 32;
  if ((l->offset_path = malloc(len)) == NULL)
    return RMQ_ERR_NOMEM;
  snprintf(l->offset_path, len, "%s/%s/%s/offsets.json", dir, l->client->id,
           l->group);
  if (make_dirs(l->offset_path) != RMQ_OK) {
    snprintf(err, n, "cannot create the directory of %s", l->offset_path);
    return RMQ_ERR_IO;
  }
  rmqi_mqo_t *v;
  size_t k;
  rmq_err_t rc = rmqi_offset_file_load(l->offset_path, &v, &k, err, n);
  if (rc == RMQ_ERR_NOT_FOUND)
    return RMQ_OK;
  if (rc != RMQ_OK)
    return rc;
  for (size_t i = 0; rc == RMQ_OK && i < k; i++)
    rc = rmqi_mqo_tab_put(&l->file_offsets, v[i].topic, v[i].broker,
                          v[i].queue_id, v[i].offset);
  free(v);
  return rc;
}

rmq_pull_consumer_t *rmq_pull_consumer_new(rmq_client_t *client,
                                           const rmq_conf_t *conf, char *errstr,
                                           size_t n) {
  rmqi_errstr(errstr, n, "%s", "");
  if (conf == NULL || !group_valid(conf->v.consumer_group, errstr, n))
    return conf ? NULL
                : (rmqi_errstr(errstr, n, "consumerGroup is required"), NULL);
  rmq_pull_consumer_t *pc = calloc(1, sizeof(*pc));
  lite_t *l = calloc(1, sizeof(*l));
  if (pc == NULL || l == NULL || rmqi_conf_copy(&l->conf, conf) != RMQ_OK) {
    free(pc);
    free(l);
    rmqi_errstr(errstr, n, "out of memory");
    return NULL;
  }
  if (rmqi_conf_check_scope(
          &l->conf, RMQI_SCOPE_CONSUMER | (client ? 0 : RMQI_SCOPE_CLIENT),
          "consumer", client ? &client->conf : NULL, errstr, n) != RMQ_OK) {
    rmqi_conf_release(&l->conf);
    free(pc);
    free(l);
    return NULL;
  }
  atomic_init(&l->refs, 1);
  l->pool = rmqi_mpool_new(); /* NULL: messages from malloc */
  pthread_mutex_init(&l->lock, NULL);
  pthread_mutex_init(&l->announce, NULL);
  rmqi_cond_init_mono(&l->ready_cv);
  rmqi_cond_init_mono(&l->svc_cv);
  rmqi_cond_init_mono(&l->commit_cv);
  rmqi_cstats_init(&l->st);
  /* Java's start(): the group joins the namespace */
  if (rmqi_conf_namespace(&l->conf, &l->conf.v.consumer_group) != RMQ_OK) {
    rmqi_errstr(errstr, n, "consumerGroup in namespace %s: too long",
                l->conf.v.name_space);
    rmqi_lite_unref(l);
    free(pc);
    return NULL;
  }
  l->group = l->conf.v.consumer_group;
  l->start_ms = rmqi_wall_ms();
  pc->l = l;
  l->client = client;
  if (client == NULL) {
    if ((l->client = rmqi_client_new(conf, errstr, n)) == NULL) {
      rmqi_lite_unref(l);
      free(pc);
      return NULL;
    }
    l->own_client = true;
  }
  rmqi_client_keep(l->client); /* released with the consumer's state */
  rmq_err_t rc =
      rmqi_client_add_consumer(l->client, l->group, on_group_changed, l);
  if (rc == RMQ_OK) /* consumerStatus, resetOffsetByTime, ... */
    rmqi_client_set_consumer_admin(l->client, l->group, rmqi_lite_admin);
  if (rc == RMQ_OK && l->conf.v.message_model == RMQI_MODEL_BROADCASTING)
    rc = load_offsets(l, errstr, n);
  if (rc == RMQ_OK)
    rc = rmqi_tracer_new(l->client, &l->conf, l->group, true, &l->tracer,
                         errstr, n);
  if (rc != RMQ_OK) {
    if (rc == RMQ_ERR_STATE)
      rmqi_errstr(errstr, n, "group %s already has a consumer in this client",
                  l->group);
    else if (errstr && *errstr == '\0')
      rmqi_errstr(errstr, n, "%s", rmq_err_str(rc));
    if (rc != RMQ_ERR_STATE)
      rmqi_client_remove_consumer(l->client, l->group, 0);
    if (l->own_client)
      rmq_client_destroy(l->client, 0);
    rmqi_lite_unref(l);
    free(pc);
    return NULL;
  }
  return pc;
}

rmq_client_t *rmq_pull_consumer_client(rmq_pull_consumer_t *pc) {
  return pc ? pc->l->client : NULL;
}

static const char *const model_names[] = {"CLUSTERING", "BROADCASTING"};
static const char *const where_names[] = {"CONSUME_FROM_LAST_OFFSET",
                                          "CONSUME_FROM_FIRST_OFFSET",
                                          "CONSUME_FROM_TIMESTAMP"};

/* Tells the client what heartbeats say about us. Called with no lock
 * held: the client's lock is never taken inside ours (the loop thread
 * takes them the other way round). l->announce serialises callers so
 * that the last change is the one announced. */
static rmq_err_t announce(lite_t *l) {
  pthread_mutex_lock(&l->announce);
  pthread_mutex_lock(&l->lock);
  size_t k = 0; /* every subscription, however many */
  for (lsub_t *s = l->subs; s; s = s->next)
    k++;
  rmqi_hb_sub_t *subs = calloc(k + 1, sizeof(*subs));
  rmqi_sub_t *built = calloc(k + 1, sizeof(*built));
  char **topics = calloc(k + 1, sizeof(*topics));
  size_t n = 0;
  rmq_err_t rc = RMQ_OK;
  for (lsub_t *s = l->subs; s && subs && built && topics; s = s->next) {
    if ((topics[n] = strdup(s->topic)) == NULL) {
      rc = RMQ_ERR_NOMEM;
      break;
    }
    if (rmqi_sub_build(&built[n], s->topic, s->expr, s->sql92, l->start_ms) !=
        RMQ_OK) { /* (checked when subscribing: only on no memory) */
      free(topics[n]);
      rc = RMQ_ERR_NOMEM;
      break;
    }
    subs[n] = (rmqi_hb_sub_t){topics[n],
                              built[n].expression,
                              s->sql92 ? "SQL92" : "TAG",
                              (const char *const *)built[n].tags,
                              built[n].codes,
                              built[n].n_tags,
                              built[n].version};
    n++;
  }
  if (subs == NULL || built == NULL || topics == NULL)
    rc = RMQ_ERR_NOMEM;
  pthread_mutex_unlock(&l->lock);
  if (rc == RMQ_OK) { /* never a heartbeat that leaves a subscription out */
    rmqi_hb_consumer_t hb = {
        .group = l->group,
        .consume_type = l->push ? "CONSUME_PASSIVELY" : "CONSUME_ACTIVELY",
        .message_model = model_names[l->conf.v.message_model],
        .consume_from_where = where_names[l->conf.v.consume_from_where],
        .subs = subs,
        .n_subs = n,
    };
    rc = rmqi_client_set_consumer_data(l->client, &hb);
  }
  pthread_mutex_unlock(&l->announce);
  for (size_t i = 0; i < n; i++) {
    rmqi_sub_free(&built[i]);
    free(topics[i]);
  }
  free(subs);
  free(built);
  free(topics);
  return rc;
}

static rmq_err_t subscribe(rmq_pull_consumer_t *pc, const char *topic,
                           const char *expr, bool sql92) {
  char err[200], wrapped[RMQI_NS_NAME_MAX];
  if (pc == NULL || !rmqi_topic_valid(topic, err, sizeof(err)))
    return RMQ_ERR_INVALID_ARG;
  topic =
      rmqi_ns_wrap(pc->l->conf.v.name_space, topic, wrapped, sizeof(wrapped));
  if (topic == NULL || !rmqi_topic_valid(topic, err, sizeof(err)))
    return RMQ_ERR_INVALID_ARG;
  if (expr == NULL || *expr == '\0')
    expr = sql92 ? NULL : "*";
  if (expr == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  if (l->assigned_mode || l->closed) {
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_STATE;
  }
  lsub_t *s = l->subs;
  while (s && strcmp(s->topic, topic) != 0)
    s = s->next;
  char *e = strdup(expr);
  if (e == NULL || (s == NULL && (s = calloc(1, sizeof(*s))) == NULL) ||
      (s->topic == NULL && (s->topic = strdup(topic)) == NULL)) {
    pthread_mutex_unlock(&l->lock);
    free(e);
    return RMQ_ERR_NOMEM; /* (a new, empty s leaks only on OOM) */
  }
  bool fresh = s->expr == NULL;
  free(s->expr);
  s->expr = e;
  s->sql92 = sql92;
  if (fresh) {
    s->next = l->subs;
    l->subs = s;
  }
  /* a changed expression: the topic's queues start over from their
   * committed offsets with the new filter */
  gone_list_t gone = {0};
  for (lq_t *q = l->queues, *next; q; q = next) {
    next = q->next;
    if (!q->dropped && strcmp(q->topic, topic) == 0)
      rmqi_lite_drop_keep(l, q, &gone);
  }
  /* before start, start() announces the group with what it has then */
  bool live = l->started;
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_commit_gone(l, &gone);
  rmq_err_t rc = live ? announce(l) : RMQ_OK;
  if (rc == RMQ_OK && live)
    rmqi_lite_kick(l);
  return rc;
}

rmq_err_t rmq_pull_consumer_subscribe(rmq_pull_consumer_t *pc,
                                      const char *topic, const char *expr) {
  return subscribe(pc, topic, expr, false);
}

rmq_err_t rmq_pull_consumer_subscribe_sql(rmq_pull_consumer_t *pc,
                                          const char *topic, const char *sql) {
  return subscribe(pc, topic, sql, true);
}

rmq_err_t rmq_pull_consumer_unsubscribe(rmq_pull_consumer_t *pc,
                                        const char *topic) {
  char wrapped[RMQI_NS_NAME_MAX];
  if (pc == NULL || topic == NULL ||
      (topic = rmqi_ns_wrap(pc->l->conf.v.name_space, topic, wrapped,
                            sizeof(wrapped))) == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  rmq_err_t rc = RMQ_ERR_NOT_FOUND;
  for (lsub_t **pp = &l->subs; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->topic, topic) == 0) {
      lsub_t *s = *pp;
      *pp = s->next;
      free(s->topic);
      free(s->expr);
      free(s);
      rc = RMQ_OK;
      break;
    }
  gone_list_t gone = {0};
  for (lq_t *q = l->queues, *next; q && rc == RMQ_OK; q = next) {
    next = q->next;
    if (!q->dropped && strcmp(q->topic, topic) == 0)
      rmqi_lite_drop_keep(l, q, &gone);
  }
  bool live = l->started;
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_commit_gone(l, &gone);
  if (rc == RMQ_OK && live)
    rc = announce(l);
  return rc;
}

static rmq_err_t assign(rmq_pull_consumer_t *pc, const rmq_queue_t *queues,
                        size_t n);

rmq_err_t rmq_pull_consumer_assign(rmq_pull_consumer_t *pc,
                                   const rmq_queue_t *queues, size_t n) {
  if (pc == NULL || (queues == NULL && n))
    return RMQ_ERR_INVALID_ARG;
  rmq_queue_t *owned;
  const rmq_queue_t *v = qs_in(pc->l, queues, n, &owned);
  rmq_err_t rc = v ? assign(pc, v, n) : RMQ_ERR_INVALID_ARG;
  free(owned);
  return rc;
}

static rmq_err_t assign(rmq_pull_consumer_t *pc, const rmq_queue_t *queues,
                        size_t n) {
  for (size_t i = 0; i < n; i++)
    if (queues[i].topic == NULL || queues[i].broker_name == NULL ||
        queues[i].queue_id < 0)
      return RMQ_ERR_INVALID_ARG;
  /* the queues asked for, as a sorted set: each queue held is looked up
   * in it and what no queue matched is added, O(n log n) */
  rmqi_alloc_mq_t *want = malloc((n + 1) * sizeof(*want));
  bool *have = calloc(n + 1, sizeof(*have));
  if (want == NULL || have == NULL) {
    free(want);
    free(have);
    return RMQ_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++)
    want[i] = (rmqi_alloc_mq_t){queues[i].topic, queues[i].broker_name,
                                queues[i].queue_id};
  size_t n_want = rmqi_mq_sort_unique(want, n);
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  if (l->subs || l->closed) {
    pthread_mutex_unlock(&l->lock);
    free(want);
    free(have);
    return RMQ_ERR_STATE;
  }
  l->assigned_mode = true;
  gone_list_t gone = {0};
  for (lq_t *q = l->queues, *next; q; q = next) {
    next = q->next;
    if (q->dropped)
      continue;
    ptrdiff_t k = rmqi_mq_find(want, n_want, q->topic, q->broker, q->qid);
    if (k >= 0 && !have[k])
      have[k] = true;
    else
      rmqi_lite_drop_keep(l, q, &gone);
  }
  rmq_err_t rc = RMQ_OK;
  for (size_t i = 0; i < n_want && rc == RMQ_OK; i++)
    if (!have[i] && rmqi_lite_add_queue(l, want[i].topic, want[i].broker,
                                        want[i].queue_id, "*", false) == NULL)
      rc = RMQ_ERR_NOMEM;
  pthread_cond_signal(&l->svc_cv); /* find their start offsets */
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_commit_gone(l, &gone);
  /* the routes of the assigned topics, for addresses (once per topic: the
   * set is sorted by topic) */
  for (size_t i = 0; i < n_want && rc == RMQ_OK; i++)
    if (i == 0 || strcmp(want[i].topic, want[i - 1].topic) != 0)
      have_route(l, want[i].topic);
  free(want);
  free(have);
  return rc;
}

rmq_err_t rmq_pull_consumer_start(rmq_pull_consumer_t *pc) {
  if (pc == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  if (l->started || l->closed) {
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_STATE;
  }
  l->started = true;
  size_t k = 0, n = 0;
  for (lsub_t *s = l->subs; s; s = s->next)
    k++;
  char **topics = calloc(k + 1, sizeof(*topics));
  for (lsub_t *s = l->subs; s && topics; s = s->next)
    if ((topics[n] = strdup(s->topic)) != NULL)
      n++;
  pthread_mutex_unlock(&l->lock);
  /* not under l->lock: a statistics report takes it under the client's */
  rmq_err_t rc = rmqi_lite_stats_join(l);
  if (rc == RMQ_OK)
    rc = announce(l);
  /* the routes first, so the heartbeat reaches the topics' brokers and the
   * first rebalance finds us in the group (Java start()) */
  for (size_t i = 0; i < n; i++) {
    have_route(l, topics[i]);
    free(topics[i]);
  }
  free(topics);
  rmqi_client_heartbeat_sync(l->client, l->client->conf.v.api_timeout_ms);
  if (rc == RMQ_OK)
    rc = rmqi_lite_tick_start(l);
  if (rc == RMQ_OK)
    rc = rmqi_lite_svc_start(l);
  return rc;
}

void rmq_pull_consumer_destroy(rmq_pull_consumer_t *pc, int timeout_ms) {
  if (pc == NULL)
    return;
  lite_t *l = pc->l;
  int64_t deadline = rmqi_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  rmqi_lite_stats_leave(l);
  rmqi_lite_svc_stop(l);
  /* Java's shutdown commit is one-way (RemoteBrokerOffsetStore.persistAll);
   * ours waits for the answers, all at once and bounded by the deadline,
   * so the queues' next owner starts where we stopped (a silent broker
   * costs the timeout, not apiTimeout per queue). The push consumer has
   * done it already, before unlocking its orderly queues. */
  rmqi_lite_persist_final(l, deadline);
  rmqi_client_remove_consumer(l->client, l->group,
                              RMQI_MAX(deadline - rmqi_now_ms(), 1));
  pthread_mutex_lock(&l->lock);
  l->closed = true;
  for (lq_t *q = l->queues, *next; q; q = next) {
    next = q->next;
    if (!q->dropped)
      rmqi_lite_drop_queue(l, q);
  }
  pthread_cond_broadcast(&l->ready_cv);
  bool started = l->started;
  pthread_mutex_unlock(&l->lock);
  if (started)
    rmqi_lite_tick_stop(l);
  /* what was consumed is traced by the deadline (a listener call still
   * running past it finds the tracer closed: its records are dropped) */
  rmqi_tracer_close(l->tracer, deadline);
  rmq_client_t *own = l->own_client ? l->client : NULL;
  rmqi_lite_unref(l); /* pulls in flight hold the rest */
  free(pc);
  if (own) /* fails pulls still in flight: their references go */
    rmq_client_destroy(own, RMQI_MAX(deadline - rmqi_now_ms(), 0));
}

/* ---- positions -------------------------------------------------------------
 */

static bool queue_ok(const rmq_queue_t *q) {
  return q && q->topic && q->broker_name && q->queue_id >= 0;
}

static rmq_err_t queue_offset(lite_t *l, const rmq_queue_t *mq,
                              rmqi_off_kind_t kind, int64_t ts, int64_t *out) {
  char addr[128], err[256];
  rmq_err_t rc = queue_addr(l, mq, addr, sizeof(addr));
  if (rc != RMQ_OK)
    return rc;
  return rmqi_queue_offset(l->client, addr, kind, mq->topic, mq->broker_name,
                           mq->queue_id, ts, out, err, sizeof(err));
}

rmq_err_t rmq_pull_consumer_seek(rmq_pull_consumer_t *pc, const rmq_queue_t *mq,
                                 int64_t offset) {
  nsq_t w;
  if (pc == NULL || !queue_ok(mq = q_in(pc->l, mq, &w)) || offset < 0)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  int64_t lo, hi;
  rmq_err_t rc = queue_offset(l, mq, RMQI_OFF_MIN, 0, &lo);
  if (rc == RMQ_OK)
    rc = queue_offset(l, mq, RMQI_OFF_MAX, 0, &hi);
  if (rc != RMQ_OK)
    return rc;
  if (offset < lo || offset > hi)
    return RMQ_ERR_INVALID_ARG; /* Java: "Seek offset illegal" */
  pthread_mutex_lock(&l->lock);
  lq_t *q = rmqi_lite_find(l, mq->topic, mq->broker_name, mq->queue_id);
  if (q) {
    /* pulled-ahead messages and a pull in flight belong to the old
     * position: a new generation discards them */
    rmqi_lite_reset_queue(l, q);
    q->pull_offset = q->consumed = q->done = offset;
    q->due_ms = 0;
  }
  pthread_mutex_unlock(&l->lock);
  return q ? RMQ_OK : RMQ_ERR_STATE; /* Java: the queue must be assigned */
}

static rmq_err_t seek_edge(rmq_pull_consumer_t *pc, const rmq_queue_t *mq,
                           rmqi_off_kind_t kind) {
  int64_t off;
  nsq_t w;
  if (pc)
    mq = q_in(pc->l, mq, &w);
  rmq_err_t rc = pc && queue_ok(mq) ? queue_offset(pc->l, mq, kind, 0, &off)
                                    : RMQ_ERR_INVALID_ARG;
  return rc == RMQ_OK ? rmq_pull_consumer_seek(pc, mq, off) : rc;
}

rmq_err_t rmq_pull_consumer_seek_to_begin(rmq_pull_consumer_t *pc,
                                          const rmq_queue_t *mq) {
  return seek_edge(pc, mq, RMQI_OFF_MIN);
}

rmq_err_t rmq_pull_consumer_seek_to_end(rmq_pull_consumer_t *pc,
                                        const rmq_queue_t *mq) {
  return seek_edge(pc, mq, RMQI_OFF_MAX);
}

rmq_err_t rmq_pull_consumer_offset_for_timestamp(rmq_pull_consumer_t *pc,
                                                 const rmq_queue_t *mq,
                                                 int64_t ts, int64_t *out) {
  nsq_t w;
  if (pc == NULL || !queue_ok(mq = q_in(pc->l, mq, &w)) || out == NULL)
    return RMQ_ERR_INVALID_ARG;
  return queue_offset(pc->l, mq, RMQI_OFF_BY_TIME, ts, out);
}

/* ---- commits ----------------------------------------------------------------
 */

rmq_err_t rmq_pull_consumer_commit(rmq_pull_consumer_t *pc) {
  if (pc == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&pc->l->lock);
  rmqi_lite_commit_mem(pc->l);
  pthread_mutex_unlock(&pc->l->lock);
  return rmqi_lite_persist(pc->l, true);
}

rmq_err_t rmq_pull_consumer_commit_queue(rmq_pull_consumer_t *pc,
                                         const rmq_queue_t *mq,
                                         int64_t offset) {
  nsq_t w;
  if (pc == NULL || !queue_ok(mq = q_in(pc->l, mq, &w)) || offset < 0)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  rmq_err_t rc = have_route(l, mq->topic);
  if (rc != RMQ_OK)
    return rc;
  pthread_mutex_lock(&l->lock);
  lq_t *q = rmqi_lite_find(l, mq->topic, mq->broker_name, mq->queue_id);
  if (q)
    q->commit_mem = offset; /* if this fails, persist sends it again */
  pthread_mutex_unlock(&l->lock);
  rc = rmqi_lite_commit_one(l, mq->topic, mq->broker_name, mq->queue_id, offset,
                            true);
  pthread_mutex_lock(&l->lock);
  q = rc == RMQ_OK ? rmqi_lite_find(l, mq->topic, mq->broker_name, mq->queue_id)
                   : NULL;
  if (q && q->commit_mem == offset)
    q->committed = offset;
  pthread_mutex_unlock(&l->lock);
  return rc;
}

rmq_err_t rmq_pull_consumer_committed(rmq_pull_consumer_t *pc,
                                      const rmq_queue_t *mq, int64_t *out) {
  nsq_t w;
  if (pc == NULL || !queue_ok(mq = q_in(pc->l, mq, &w)) || out == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    rmq_err_t rc = RMQ_ERR_NOT_FOUND;
    pthread_mutex_lock(&l->lock);
    const rmqi_mqo_t *m = rmqi_mqo_tab_find(&l->file_offsets, mq->topic,
                                            mq->broker_name, mq->queue_id);
    if (m) {
      *out = m->offset;
      rc = RMQ_OK;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
  }
  char addr[128], err[256];
  rmq_err_t rc = queue_addr(l, mq, addr, sizeof(addr));
  if (rc != RMQ_OK)
    return rc;
  return rmqi_consumer_offset(l->client, addr, l->group, mq->topic,
                              mq->broker_name, mq->queue_id, out, err,
                              sizeof(err));
}

/* ---- pause, listings
 * --------------------------------------------------------- */

static rmq_err_t set_paused(rmq_pull_consumer_t *pc, const rmq_queue_t *v,
                            size_t n, bool paused) {
  if (pc == NULL || (v == NULL && n))
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  rmq_queue_t *owned;
  if ((v = qs_in(l, v, n, &owned)) == NULL)
    return RMQ_ERR_INVALID_ARG;
  rmq_err_t rc = RMQ_OK;
  pthread_mutex_lock(&l->lock);
  size_t n_idx = 0; /* n lookups: O((n + queues) log queues), not n x queues */
  lq_t **idx = n > 1 ? rmqi_lite_index(l, &n_idx) : NULL;
  for (size_t i = 0; i < n; i++) {
    lq_t *q =
        !queue_ok(&v[i]) ? NULL
        : idx ? rmqi_lite_index_find(idx, n_idx, v[i].topic, v[i].broker_name,
                                     v[i].queue_id)
              : rmqi_lite_find(l, v[i].topic, v[i].broker_name, v[i].queue_id);
    if (q == NULL) {
      rc = RMQ_ERR_STATE; /* not assigned */
      continue;
    }
    q->paused = paused;
    if (!paused)
      q->due_ms = 0;
  }
  pthread_mutex_unlock(&l->lock);
  free(idx);
  free(owned);
  return rc;
}

rmq_err_t rmq_pull_consumer_pause(rmq_pull_consumer_t *pc, const rmq_queue_t *v,
                                  size_t n) {
  return set_paused(pc, v, n, true);
}

rmq_err_t rmq_pull_consumer_resume(rmq_pull_consumer_t *pc,
                                   const rmq_queue_t *v, size_t n) {
  return set_paused(pc, v, n, false);
}

rmq_err_t rmq_pull_consumer_assignment(rmq_pull_consumer_t *pc,
                                       rmq_queue_list_t *out) {
  if (pc == NULL || out == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  pthread_mutex_lock(&l->lock);
  size_t n = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    n += !q->dropped;
  qitem_t *v = calloc(n + 1, sizeof(*v));
  size_t k = 0;
  for (lq_t *q = l->queues; q && v; q = q->next)
    if (!q->dropped)
      v[k++] = (qitem_t){q->topic, q->broker, q->qid};
  rmq_err_t rc = v ? make_list(l, v, k, out) : RMQ_ERR_NOMEM;
  pthread_mutex_unlock(&l->lock);
  free(v);
  return rc;
}

rmq_err_t rmq_pull_consumer_fetch_queues(rmq_pull_consumer_t *pc,
                                         const char *topic,
                                         rmq_queue_list_t *out) {
  char wrapped[RMQI_NS_NAME_MAX];
  if (pc == NULL || topic == NULL || out == NULL ||
      (topic = rmqi_ns_wrap(pc->l->conf.v.name_space, topic, wrapped,
                            sizeof(wrapped))) == NULL)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  rmqi_snap_t *s;
  char err[200];
  rmq_err_t rc = rmqi_client_route_sub(
      l->client, topic, rmqi_now_ms() + l->client->conf.v.api_timeout_ms, &s,
      err, sizeof(err));
  if (rc != RMQ_OK)
    return rc;
  qitem_t *v;
  size_t k;
  rc = rmqi_read_queues(&s->route, topic, &v, &k);
  if (rc == RMQ_OK)
    rc = make_list(l, v, k, out);
  free(v);
  rmqi_snap_release(s);
  return rc;
}

/* ---- raw pull -------------------------------------------------------------
 */

void rmq_pull_result_clear(rmq_pull_result_t *res) {
  if (res == NULL)
    return;
  for (size_t i = 0; i < res->n_msgs; i++)
    rmq_msg_destroy(res->msgs[i]);
  free(res->msgs);
  memset(res, 0, sizeof(*res));
}

static rmq_err_t keep(const lite_t *l, rmq_pull_result_t *res, size_t *cap,
                      rmq_msg_t *m) {
  /* the application's topic (Java's pull: withoutNamespace) */
  if (rmqi_msg_unwrap_topic(m, l->conf.v.name_space) != RMQ_OK) {
    rmq_msg_destroy(m);
    return RMQ_ERR_NOMEM;
  }
  if (res->n_msgs == *cap) {
    rmq_msg_t **nv = realloc(res->msgs, 2 * *cap * sizeof(*nv));
    if (nv == NULL) {
      rmq_msg_destroy(m);
      return RMQ_ERR_NOMEM;
    }
    res->msgs = nv;
    *cap *= 2;
  }
  res->msgs[res->n_msgs++] = m;
  return RMQ_OK;
}

/* A skipped record of a raw pull, logged with its queue and offset (its
 * own when its header decoded, else the one it follows; -1: none). */
static void bad(lite_t *l, rmq_pull_result_t *res, rmq_err_t rc,
                const rmqi_errbuf_t *e, const rmq_queue_t *mq, int64_t at,
                int64_t after) {
  res->n_bad++;
  char where[96] = "";
  if (at >= 0)
    snprintf(where, sizeof(where), " at offset %lld", (long long)at);
  else if (after >= 0)
    snprintf(where, sizeof(where), " after offset %lld", (long long)after);
  rmqi_log(&l->client->log, RMQ_LOG_ERROR, "consumer",
           "pull %s %s:%d: message%s skipped: %s (%s)", mq->topic,
           mq->broker_name, (int)mq->queue_id, where, e->msg, rmq_err_name(rc));
}

static rmq_err_t decode_all(lite_t *l, const rmqi_pull_res_t *pr,
                            const rmqi_sub_t *sub, const rmq_queue_t *mq,
                            rmq_pull_result_t *res) {
  const char *broker = mq->broker_name;
  int64_t after = -1; /* the last record whose header decoded */
  const size_t max_body = (size_t)l->conf.v.max_inflated_body_size;
  size_t cap = 16, pos = 0;
  res->msgs = malloc(cap * sizeof(*res->msgs));
  if (res->msgs == NULL)
    return RMQ_ERR_NOMEM;
  for (;;) {
    rmqi_msgrec_t rec;
    rmqi_errbuf_t e;
    rmq_err_t rc = rmqi_pull_next(pr, &pos, &rec, &e);
    if (rc == RMQ_ERR_NOT_FOUND)
      return RMQ_OK;
    rmq_msg_t *m = NULL;
    int64_t at = rc == RMQ_OK ? rec.queue_offset : -1;
    if (rc == RMQ_OK)
      after = rec.queue_offset;
    if (rc == RMQ_OK && rmqi_msgrec_is_inner_batch(&rec)) {
      rmqi_inner_t in;
      rc = rmqi_rxmsg_inner_start(&in, &rec, max_body, &e);
      /* an entry's offset: the record's plus its index */
      while (rc == RMQ_OK && (at = rec.queue_offset + (int64_t)in.index,
                              rc = rmqi_rxmsg_inner_next(&in, broker, max_body,
                                                         &m, &e)) == RMQ_OK) {
        const char *t = rmq_msg_tags(m);
        if (!rmqi_sub_matches(sub, t, t ? strlen(t) : 0))
          rmq_msg_destroy(m);
        else if (keep(l, res, &cap, m) != RMQ_OK)
          rc = RMQ_ERR_NOMEM;
      }
      rmqi_rxmsg_inner_end(&in);
      if (rc == RMQ_ERR_NOMEM)
        return rc;
      if (rc != RMQ_ERR_NOT_FOUND)
        bad(l, res, rc, &e, mq, at, after);
      continue;
    }
    if (rc == RMQ_OK) {
      size_t tl = 0;
      const char *tags = rmqi_props_get(rec.props, rec.props_len, "TAGS", &tl);
      if (!rmqi_sub_matches(sub, tags, tl))
        continue;
      rc = rmqi_rxmsg_build(&rec, broker, max_body, true, &m, &e);
    }
    if (rc != RMQ_OK) {
      bad(l, res, rc, &e, mq, at, at >= 0 ? -1 : after);
      continue;
    }
    if (keep(l, res, &cap, m) != RMQ_OK)
      return RMQ_ERR_NOMEM;
  }
}

rmq_err_t rmq_pull_consumer_pull(rmq_pull_consumer_t *pc, const rmq_queue_t *mq,
                                 const char *expr, int64_t offset, int max_msgs,
                                 int timeout_ms, rmq_pull_result_t *res) {
  if (res)
    memset(res, 0, sizeof(*res));
  nsq_t w;
  if (pc == NULL || !queue_ok(mq = q_in(pc->l, mq, &w)) || res == NULL ||
      offset < 0 || max_msgs <= 0)
    return RMQ_ERR_INVALID_ARG;
  lite_t *l = pc->l;
  rmqi_sub_t sub;
  if (rmqi_sub_build(&sub, mq->topic, expr && *expr ? expr : "*", false,
                     rmqi_wall_ms()) != RMQ_OK)
    return RMQ_ERR_INVALID_ARG;
  char addr[128], err[256] = "";
  rmq_err_t rc = queue_addr(l, mq, addr, sizeof(addr));
  rmqi_pull_res_t pr = {0};
  if (rc == RMQ_OK) {
    rmqi_pull_req_t rq = {
        .group = l->group,
        .topic = mq->topic,
        .broker = mq->broker_name,
        .queue_id = mq->queue_id,
        .offset = offset,
        .max_nums = max_msgs,
        .sys_flag = RMQI_PULL_SUBSCRIPTION, /* DefaultMQPullConsumer.pull */
        .subscription = sub.expression,
        .expression_type = "TAG",
        .sub_version = sub.version,
    };
    rc = rmqi_pull_sync(l->client, addr, &rq,
                        timeout_ms < 0 ? l->conf.v.consumer_pull_timeout_ms
                                       : timeout_ms,
                        &pr, err, sizeof(err));
  }
  if (rc == RMQ_OK) {
    res->next_begin_offset = pr.next_begin;
    res->min_offset = pr.min_offset;
    res->max_offset = pr.max_offset;
    switch (pr.status) {
    case 0:
      rc = decode_all(l, &pr, &sub, mq, res);
      res->status = res->n_msgs ? RMQ_PULL_FOUND : RMQ_PULL_NO_MATCHED_MSG;
      break;
    case RMQ_PULL_NOT_FOUND:
      res->status = RMQ_PULL_NO_NEW_MSG;
      break;
    case RMQ_PULL_RETRY_IMMEDIATELY:
      res->status = RMQ_PULL_NO_MATCHED_MSG;
      break;
    default:
      res->status = RMQ_PULL_OFFSET_ILLEGAL;
    }
  } else {
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer", "%s", err);
  }
  rmqi_pull_res_free(&pr);
  rmqi_sub_free(&sub);
  if (rc != RMQ_OK)
    rmq_pull_result_clear(res);
  return rc;
}

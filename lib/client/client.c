#include "client.h"

#include "../codec/body.h"
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

static rmqi_topic_t *topic_find(rmq_client_t *c, const char *name,
                                bool create) {
  for (rmqi_topic_t *t = c->topics; t; t = t->next)
    if (strcmp(t->name, name) == 0)
      return t;
  if (!create)
    return NULL;
  rmqi_topic_t *t = calloc(1, sizeof(*t));
  if (t == NULL || (t->name = strdup(name)) == NULL) {
    free(t);
    return NULL;
  }
  atomic_init(&t->counter, (uint32_t)rand());
  t->next = c->topics;
  c->topics = t;
  return t;
}

/* Installs @p s as the topic's route (under c->lock). Returns true when
 * the route changed. */
static bool install(rmq_client_t *c, rmqi_topic_t *t, rmqi_snap_t *s,
                    bool borrowed) {
  s->counter = &t->counter;
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
  for (size_t attempt = 0; attempt < c->ns.n; attempt++) {
    int64_t left = deadline_ms - rmqi_now_ms();
    if (left <= 0) {
      rmqi_errstr(err, n, "route of %s: timed out", topic);
      return RMQ_ERR_TIMEOUT;
    }
    const char *addr = rmqi_nslist_current(&c->ns);
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_GET_ROUTEINFO_BY_TOPIC);
    rmqi_cmd_ext_ref(&cmd, "topic", topic, strlen(topic));
    rmqi_resp_t resp;
    char detail[256];
    rc = rmqi_rpc_invoke_sync(c->rpc, addr, &cmd,
                              RMQI_MIN(left, c->conf.v.api_timeout_ms), &resp,
                              detail, sizeof(detail));
    rmqi_cmd_free(&cmd);
    if (rc == RMQ_ERR_CONNECT || rc == RMQ_ERR_CONN_LOST ||
        rc == RMQ_ERR_TIMEOUT) {
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
    rc = (rmq_err_t)resp.cmd.code;
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

rmq_err_t rmqi_client_route(rmq_client_t *c, const char *topic,
                            int64_t deadline_ms, rmqi_snap_t **out, char *err,
                            size_t n) {
  if ((*out = rmqi_client_route_cached(c, topic)) != NULL)
    return RMQ_OK;
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
  rmqi_snap_t *s = snap_new(&route);
  if (s == NULL)
    return RMQ_ERR_NOMEM;
  if (s->n_pub == 0) {
    rmqi_errstr(err, n, "topic %s has no writable queue on a broker with a master",
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
      rmqi_snap_t *s = snap_new(&route);
      if (s && s->n_pub == 0) {
        rmqi_snap_release(s); /* keep the old route rather than none */
        s = NULL;
      }
      pthread_mutex_lock(&c->lock);
      rmqi_topic_t *t = topic_find(c, rf->topic, false);
      bool changed = t && s && install(c, t, s, false);
      if (t == NULL)
        rmqi_snap_release(s);
      pthread_mutex_unlock(&c->lock);
      if (changed)
        rmqi_log(&c->log, RMQ_LOG_INFO, "route", "route of %s changed",
                 rf->topic);
    } else {
      rmqi_log(&c->log, RMQ_LOG_WARN, "route", "bad route for %s: %s",
               rf->topic, e.msg);
    }
  }
  free(rf);
}

static void refresh_routes(void *arg) {
  rmq_client_t *c = arg;
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
    if (rmqi_rpc_invoke(c->rpc, rmqi_nslist_current(&c->ns), &cmd,
                        c->conf.v.api_timeout_ms, refresh_done,
                        rf) != RMQ_OK)
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
             (int)r->resp->code,
             r->resp->remark.p ? r->resp->remark.p : "");
}

static void heartbeat(void *arg) {
  rmq_client_t *c = arg;
  const char *groups[64];
  const char *addrs[256];
  size_t n_groups = 0, n_addrs = 0;
  pthread_mutex_lock(&c->lock);
  c->heartbeat_pending = false;
  for (rmqi_group_t *g = c->producer_groups; g && n_groups < 64; g = g->next)
    groups[n_groups++] = g->name;
  /* Masters of every broker we have a route to (no consumers yet, so
   * masters only, as Java). */
  for (rmqi_topic_t *t = c->topics; t; t = t->next) {
    if (t->snap == NULL)
      continue;
    const rmqi_route_t *r = &t->snap->route;
    for (size_t i = 0; i < r->n_brokers; i++) {
      const char *a = rmqi_route_addr(r, r->brokers[i].broker, 0);
      bool seen = a == NULL;
      for (size_t k = 0; !seen && k < n_addrs; k++)
        seen = strcmp(addrs[k], a) == 0;
      if (!seen && n_addrs < 256)
        addrs[n_addrs++] = a;
    }
  }
  if (n_groups == 0 || n_addrs == 0) {
    pthread_mutex_unlock(&c->lock);
    return;
  }
  rmqi_heartbeat_t hb = {c->id, groups, n_groups, NULL, 0};
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  rmqi_heartbeat_encode(&body, &hb);
  for (size_t i = 0; i < n_addrs && rmqi_buf_ok(&body); i++) {
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_HEART_BEAT);
    cmd.body = body.data;
    cmd.body_len = body.len;
    rmqi_rpc_invoke(c->rpc, addrs[i], &cmd, c->conf.v.api_timeout_ms,
                    heartbeat_done, c);
    rmqi_cmd_free(&cmd);
  }
  pthread_mutex_unlock(&c->lock);
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

void rmqi_client_remove_producer(rmq_client_t *c, const char *group) {
  pthread_mutex_lock(&c->lock);
  for (rmqi_group_t **pp = &c->producer_groups; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, group) == 0) {
      rmqi_group_t *g = *pp;
      if (--g->refs == 0) {
        *pp = g->next;
        free(g->name);
        free(g);
      }
      break;
    }
  pthread_mutex_unlock(&c->lock);
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

void rmqi_client_uniq_id(rmq_client_t *c, char out[57]) {
  static const char hex[] = "0123456789ABCDEF";
  uint8_t b[28];
  size_t n = 0;
  memcpy(b, c->ip.bytes, c->ip.len);
  n = c->ip.len;
  uint16_t pid = (uint16_t)getpid();
  b[n++] = (uint8_t)(pid >> 8);
  b[n++] = (uint8_t)pid;
  rmqi_store_be32(b + n, c->uniq_discriminator);
  n += 4;
  rmqi_store_be32(b + n, (uint32_t)month_ms(c));
  n += 4;
  uint16_t cnt = (uint16_t)atomic_fetch_add(&c->uniq_counter, 1);
  b[n++] = (uint8_t)(cnt >> 8);
  b[n++] = (uint8_t)cnt;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * n] = '\0';
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
  c->t_route = rmqi_loop_timer(l, c->conf.v.poll_namesrv_interval_ms,
                               c->conf.v.poll_namesrv_interval_ms,
                               refresh_routes, c);
  c->t_heartbeat = rmqi_loop_timer(l, 1000, c->conf.v.heartbeat_interval_ms,
                                   heartbeat, c);
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

rmq_client_t *rmq_client_new(const rmq_conf_t *conf, char *errstr,
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
  c->log = (rmqi_log_t){c->conf.log_cb, c->conf.log_opaque,
                        c->conf.v.log_level};
  pthread_mutex_init(&c->lock, NULL);
  uint64_t s = seed();
  c->uniq_discriminator = (uint32_t)(s >> 32);
  atomic_init(&c->uniq_counter, (uint32_t)s);
  const char *ns = c->conf.v.namesrv_addr;
  if (ns == NULL || *ns == '\0')
    ns = getenv("NAMESRV_ADDR");
  bool ns_ok = ns && *ns;
  if (!ns_ok || rmqi_nslist_init(&c->ns, ns, s) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size,
         "no name server: set namesrvAddr (or NAMESRV_ADDR)");
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
  rmqi_rpc_opts_t o = {
      .max_frame = (size_t)c->conf.v.max_frame_size,
      .connect_timeout_ms = c->conf.v.connect_timeout_ms,
      .ser = c->conf.v.serialize_type == RMQI_SERIALIZE_ROCKETMQ
                 ? RMQI_SER_ROCKETMQ
                 : RMQI_SER_JSON,
      .log = &c->log,
  };
  if (c->conf.v.access_key[0]) {
    if (c->conf.v.secret_key[0] == '\0') {
      rmqi_errstr(errstr, errstr_size, "accessKey is set but secretKey is empty");
      goto fail_ns;
    }
    o.sign = sign;
    o.sign_arg = c;
  }
  size_t threads = c->conf.v.callback_mode == RMQI_CALLBACK_POLL
                       ? 0
                       : (size_t)c->conf.v.callback_threads;
  if (rmqi_rpc_new(&c->rpc, &o) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot create the I/O loop");
    goto fail_ns;
  }
  if (rmqi_disp_init(&c->disp, threads) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot start the callback threads");
    rmqi_rpc_free(c->rpc);
    goto fail_ns;
  }
  if (rmqi_rpc_start(c->rpc) != RMQ_OK ||
      rmqi_loop_post(rmqi_rpc_loop(c->rpc), start_timers, c) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "cannot start the I/O thread");
    rmqi_rpc_free(c->rpc);
    rmqi_disp_destroy(&c->disp);
    goto fail_ns;
  }
  rmqi_log(&c->log, RMQ_LOG_INFO, "client", "client %s started (name servers %s)",
           c->id, ns);
  return c;
fail_ns:
  rmqi_nslist_free(&c->ns);
  rmqi_conf_release(&c->conf);
  pthread_mutex_destroy(&c->lock);
  free(c);
  return NULL;
}

void rmq_client_destroy(rmq_client_t *c, int timeout_ms) {
  (void)timeout_ms; /* producers drain before this; the rpc layer fails the
                       rest with RMQ_ERR_SHUTDOWN at once */
  if (c == NULL)
    return;
  rmqi_rpc_free(c->rpc); /* stops the loop and its timers */
  rmqi_disp_destroy(&c->disp);
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
  rmqi_nslist_free(&c->ns);
  rmqi_conf_release(&c->conf);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const char *rmq_client_id(const rmq_client_t *c) { return c ? c->id : NULL; }

int rmq_poll_fd(rmq_client_t *c) {
  return c && c->disp.poll_mode ? c->disp.efd : -1;
}

int rmq_poll(rmq_client_t *c, int timeout_ms) {
  return c ? rmqi_disp_poll(&c->disp, timeout_ms) : 0;
}

/*
 * Request/reply (Java's DefaultMQProducerImpl.request, RequestFutureHolder,
 * RequestResponseFuture, MessageUtil.createReplyMessage). A request is an
 * ordinary send carrying CORRELATION_ID, REPLY_TO_CLIENT and TTL; its entry
 * waits in the producer's table, keyed by correlation id, until the
 * broker pushes the reply (client/reply.c offers it to every producer of
 * the client), the timeout passes (the synchronous caller's own wait, or
 * the client's reply tick for asynchronous ones), the send fails, or
 * destroy fails it with RMQ_ERR_SHUTDOWN. Whoever takes the entry out of
 * the table under p->lock completes it; nobody else can, so each
 * completes exactly once.
 *
 * An entry counts in p->requests from the moment it enters the table
 * until its callback has returned (asynchronous) or its caller is done
 * (synchronous): that keeps the producer's memory alive, and destroy
 * waits for them (within its timeout) before failing the rest.
 *
 * The reply is copied on the loop thread (topic, properties, body, as
 * pushed) and turned into an rmq_msg_t, inflating a compressed body, on
 * the thread that delivers it: the synchronous caller, or the callback
 * thread (rmq_poll in poll mode).
 */
#include "../consumer/rxmsg.h"
#include "../util/time.h"
#include "producer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rmqi_req {
  struct rmqi_req *next; /* bucket chain */
  rmq_producer_t *p;
  char corr[57];
  int64_t deadline_ms;
  rmq_request_cb *cb; /* NULL: a synchronous caller waits */
  void *opaque;
  bool armed; /* sent off: the tick may time it out */
  bool done;  /* synchronous: completed (under p->lock) */
  rmq_err_t err;
  int64_t arrive_ms;
  uint8_t *raw;      /* the reply's topic, properties and body */
  rmqi_msgrec_t rec; /* ... pointing into raw */
} rmqi_req_t;

static size_t bucket(const char *corr, size_t n) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)corr[i]) * 16777619u;
  return h % RMQI_REQ_BUCKETS;
}

/* Under p->lock: the link that points at the entry of @p corr, or NULL. */
static rmqi_req_t **find(rmq_producer_t *p, const char *corr, size_t n) {
  if (n >= sizeof(((rmqi_req_t *)0)->corr))
    return NULL;
  for (rmqi_req_t **pp = &p->req_tab[bucket(corr, n)]; *pp; pp = &(*pp)->next)
    if (strlen((*pp)->corr) == n && memcmp((*pp)->corr, corr, n) == 0)
      return pp;
  return NULL;
}

/* Under p->lock: removes and returns the entry of @p corr, or NULL. */
static rmqi_req_t *take(rmq_producer_t *p, const char *corr, size_t n) {
  rmqi_req_t **pp = find(p, corr, n);
  if (pp == NULL)
    return NULL;
  rmqi_req_t *r = *pp;
  *pp = r->next;
  r->next = NULL;
  p->req_pending--;
  return r;
}

static rmqi_req_t *take_own(rmq_producer_t *p, rmqi_req_t *r) {
  return take(p, r->corr, strlen(r->corr));
}

/* Keeps a copy of the pushed reply in @p r. */
static rmq_err_t keep_reply(rmqi_req_t *r, const rmqi_msgrec_t *rec) {
  size_t n = (size_t)rec->topic_len + rec->props_len + rec->body_len;
  r->raw = malloc(n ? n : 1);
  if (r->raw == NULL)
    return RMQ_ERR_NOMEM;
  r->rec = *rec;
  uint8_t *at = r->raw;
  memcpy(at, rec->topic, rec->topic_len);
  r->rec.topic = (const char *)at;
  at += rec->topic_len;
  if (rec->props_len)
    memcpy(at, rec->props, rec->props_len);
  r->rec.props = (const char *)at;
  at += rec->props_len;
  if (rec->body_len)
    memcpy(at, rec->body, rec->body_len);
  r->rec.body = at;
  r->arrive_ms = rmqi_wall_ms();
  return RMQ_OK;
}

/* The reply of a completed entry as the application sees it. */
static rmq_err_t build_reply(rmq_producer_t *p, rmqi_req_t *r,
                             rmq_msg_t **out) {
  *out = NULL;
  rmqi_errbuf_t e = {0};
  rmq_err_t rc = rmqi_rxmsg_build(
      &r->rec, "", (size_t)p->conf.v.max_inflated_body_size, false, out, &e);
  if (rc == RMQ_OK) {
    char t[24]; /* Java adds the arrival time */
    snprintf(t, sizeof(t), "%lld", (long long)r->arrive_ms);
    rc = rmqi_msg_put_prop(*out, "ARRIVE_TIME", t);
  }
  if (rc != RMQ_OK) {
    rmq_msg_destroy(*out);
    *out = NULL;
    rmqi_log(&p->client->log, RMQ_LOG_WARN, "request",
             "reply to %s cannot be read: %s %s", r->corr, rmq_err_str(rc),
             e.msg);
  }
  return rc;
}

/* Callback thread (or rmq_poll): an asynchronous entry's one callback. */
static void deliver(void *arg) {
  rmqi_req_t *r = arg;
  rmq_producer_t *p = r->p;
  rmq_msg_t *reply = NULL;
  rmq_err_t rc = r->err;
  if (rc == RMQ_OK)
    rc = build_reply(p, r, &reply);
  r->cb(p, rc, reply, r->opaque);
  rmq_msg_destroy(reply);
  free(r->raw);
  free(r);
  rmqi_producer_request_end(p); /* may free p */
}

static void deliver_later(rmqi_req_t *r, rmq_err_t err) {
  r->err = err;
  if (rmqi_client_dispatch(r->p->client, deliver, r) != RMQ_OK)
    deliver(r); /* the dispatcher is gone: still exactly once */
}

/* Under p->lock: a synchronous entry completes; its caller wakes. */
static void finish_sync(rmq_producer_t *p, rmqi_req_t *r, rmq_err_t err) {
  r->err = err;
  r->done = true;
  pthread_cond_broadcast(&p->cond);
}

/* The client's reply hook (loop thread, c->lock held). */
static bool on_reply(void *arg, const char *corr, size_t n,
                     const rmqi_msgrec_t *rec) {
  rmq_producer_t *p = arg;
  pthread_mutex_lock(&p->lock);
  rmqi_req_t *r = take(p, corr, n);
  bool async = r && r->cb;
  if (r && !async) /* the caller's entry (on its stack): under lock only */
    finish_sync(p, r, keep_reply(r, rec));
  pthread_mutex_unlock(&p->lock);
  if (async) /* ours alone now */
    deliver_later(r, keep_reply(r, rec));
  return r != NULL;
}

/* The client's reply tick (loop thread, c->lock held): asynchronous
 * entries past their deadline time out. Synchronous callers time out on
 * their own. */
static void on_tick(void *arg, int64_t now_ms) {
  rmq_producer_t *p = arg;
  rmqi_req_t *expired = NULL;
  pthread_mutex_lock(&p->lock);
  if (p->req_pending > 0)
    for (size_t b = 0; b < RMQI_REQ_BUCKETS; b++)
      for (rmqi_req_t **pp = &p->req_tab[b]; *pp;) {
        rmqi_req_t *r = *pp;
        if (r->cb && r->armed && r->deadline_ms <= now_ms) {
          *pp = r->next;
          p->req_pending--;
          r->next = expired;
          expired = r;
        } else {
          pp = &r->next;
        }
      }
  pthread_mutex_unlock(&p->lock);
  while (expired) {
    rmqi_req_t *r = expired;
    expired = r->next;
    r->next = NULL;
    deliver_later(r, RMQ_ERR_TIMEOUT);
  }
}

rmq_err_t rmqi_requests_start(rmq_producer_t *p) {
  return rmqi_client_add_replier(p->client, on_reply, on_tick, p);
}

void rmqi_requests_stop(rmq_producer_t *p) {
  /* From here no reply or tick reaches p (the removal holds c->lock). */
  rmqi_client_remove_replier(p->client, p);
  rmqi_req_t *left = NULL;
  pthread_mutex_lock(&p->lock);
  p->req_stopped = true;
  for (size_t b = 0; b < RMQI_REQ_BUCKETS; b++)
    while (p->req_tab[b]) {
      rmqi_req_t *r = p->req_tab[b];
      p->req_tab[b] = r->next;
      p->req_pending--;
      r->next = NULL;
      if (r->cb == NULL) {
        finish_sync(p, r, RMQ_ERR_SHUTDOWN);
      } else {
        r->next = left;
        left = r;
      }
    }
  pthread_mutex_unlock(&p->lock);
  while (left) {
    rmqi_req_t *r = left;
    left = r->next;
    deliver_later(r, RMQ_ERR_SHUTDOWN);
  }
}

/* What both request calls do first: the properties Java's
 * prepareSendRequest sets, the route (and, the first time, a heartbeat so
 * that the broker can find this client for the reply), and the entry in
 * the table. */
static rmq_err_t prepare(rmq_producer_t *p, rmq_msg_t *msg, int timeout_ms,
                         rmqi_req_t *r) {
  rmq_client_t *c = p->client;
  bool async = r->cb != NULL;
  r->p = p;
  r->deadline_ms = rmqi_now_ms() + timeout_ms;
  rmqi_client_uniq_id(c, r->corr);
  char ttl[16];
  snprintf(ttl, sizeof(ttl), "%d", timeout_ms);
  rmq_err_t rc = rmqi_msg_put_prop(msg, "CORRELATION_ID", r->corr);
  if (rc == RMQ_OK)
    rc = rmqi_msg_put_prop(msg, "REPLY_TO_CLIENT", c->id);
  if (rc == RMQ_OK)
    rc = rmqi_msg_put_prop(msg, "TTL", ttl);
  if (rc != RMQ_OK)
    return rc;
  char why[256];
  rmqi_snap_t *s = rmqi_client_route_cached(c, msg->topic);
  if (s == NULL && rmqi_topic_valid(msg->topic, why, sizeof(why))) {
    rc = rmqi_client_route(c, msg->topic, r->deadline_ms, &s, why, sizeof(why));
    if (rc != RMQ_OK) {
      rmqi_log(&c->log, RMQ_LOG_WARN, "request", "request to %s: %s",
               msg->topic, why);
      return rc;
    }
    rmqi_client_heartbeat_sync(c, RMQI_MAX(r->deadline_ms - rmqi_now_ms(), 0));
  }
  rmqi_snap_release(s);
  pthread_mutex_lock(&p->lock);
  rc = p->req_stopped                           ? RMQ_ERR_SHUTDOWN
       : p->req_pending >= RMQI_REQ_MAX_PENDING ? RMQ_ERR_QUEUE_FULL
                                                : RMQ_OK;
  if (rc == RMQ_OK) {
    size_t b = bucket(r->corr, strlen(r->corr));
    r->next = p->req_tab[b];
    p->req_tab[b] = r;
    p->req_pending++;
    p->requests++;
  }
  pthread_mutex_unlock(&p->lock);
  if (rc == RMQ_OK && async) /* r itself may be gone already (destroy) */
    rmqi_client_reply_tick_start(c);
  return rc;
}

/* What is left of @p r's time for the send. */
static int64_t send_budget(const rmq_producer_t *p, const rmqi_req_t *r) {
  int64_t left = RMQI_MAX(r->deadline_ms - rmqi_now_ms(), 1);
  return RMQI_MIN(left, p->conf.v.send_timeout_ms);
}

rmq_err_t rmq_producer_request(rmq_producer_t *p, rmq_msg_t *msg,
                               int timeout_ms, rmq_msg_t **reply) {
  if (reply)
    *reply = NULL;
  if (p == NULL || msg == NULL || reply == NULL || timeout_ms <= 0)
    return RMQ_ERR_INVALID_ARG;
  if (rmqi_producer_refused(p))
    return RMQ_ERR_SHUTDOWN;
  rmqi_req_t r;
  memset(&r, 0, sizeof(r));
  rmq_err_t rc = prepare(p, msg, timeout_ms, &r);
  if (rc != RMQ_OK)
    return rc;
  rmq_send_result_t res;
  rc = rmqi_producer_send_within(p, msg, send_budget(p, &r), &res);
  if (rc != RMQ_OK)
    rmqi_log(&p->client->log, RMQ_LOG_WARN, "request",
             "request %s to %s not sent: %s", r.corr, msg->topic, res.error);
  rmq_send_result_clear(&res);
  pthread_mutex_lock(&p->lock);
  while (rc == RMQ_OK && !r.done) {
    int64_t left = r.deadline_ms - rmqi_now_ms();
    if (left <= 0)
      break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + RMQI_MIN(left, 1000) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&p->cond, &p->lock, &ts);
  }
  if (!r.done) { /* not sent, or no reply in time: still in the table */
    take_own(p, &r);
    r.err = rc != RMQ_OK ? rc : RMQ_ERR_TIMEOUT;
  }
  pthread_mutex_unlock(&p->lock);
  rc = r.err;
  if (rc == RMQ_OK)
    rc = build_reply(p, &r, reply);
  free(r.raw);
  rmqi_producer_request_end(p);
  return rc;
}

/* The request's send failed: the entry ends with the send's error (unless
 * the reply, a timeout or destroy took it first). On a callback thread. */
typedef struct sent {
  rmq_producer_t *p;
  char corr[57];
} sent_t;

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *msg,
                    void *opaque) {
  sent_t *s = opaque;
  if (err != RMQ_OK) {
    pthread_mutex_lock(&p->lock);
    rmqi_req_t *r = take(p, s->corr, strlen(s->corr));
    pthread_mutex_unlock(&p->lock);
    rmqi_log(&p->client->log, RMQ_LOG_WARN, "request",
             "request %s to %s not sent: %s", s->corr, msg->topic,
             res && res->error ? res->error : rmq_err_str(err));
    if (r) {
      r->err = err;
      deliver(r); /* already on the callback thread */
    }
  }
  free(s);
}

rmq_err_t rmq_producer_request_async(rmq_producer_t *p, rmq_msg_t *msg,
                                     int timeout_ms, rmq_request_cb *cb,
                                     void *opaque) {
  if (p == NULL || msg == NULL || cb == NULL || timeout_ms <= 0)
    return RMQ_ERR_INVALID_ARG;
  if (rmqi_producer_refused(p))
    return RMQ_ERR_SHUTDOWN;
  rmqi_req_t *r = calloc(1, sizeof(*r));
  sent_t *s = malloc(sizeof(*s));
  if (r == NULL || s == NULL) {
    free(r);
    free(s);
    return RMQ_ERR_NOMEM;
  }
  r->cb = cb;
  r->opaque = opaque;
  rmq_err_t rc = prepare(p, msg, timeout_ms, r);
  if (rc != RMQ_OK) {
    free(r);
    free(s);
    return rc;
  }
  s->p = p;
  memcpy(s->corr, r->corr, sizeof(s->corr));
  char corr[57];
  memcpy(corr, r->corr, sizeof(corr));
  rc = rmqi_producer_send_async_within(p, msg, send_budget(p, r), on_sent, s);
  /* From here r may be gone (a quick reply, or destroy): only by id. */
  pthread_mutex_lock(&p->lock);
  rmqi_req_t **pp = find(p, corr, strlen(corr));
  if (rc == RMQ_OK && pp)
    (*pp)->armed = true; /* the tick may time it out from now on */
  else if (rc != RMQ_OK)
    r = pp ? take(p, corr, strlen(corr)) : NULL;
  pthread_mutex_unlock(&p->lock);
  if (rc != RMQ_OK) {
    free(s);
    if (r == NULL) { /* destroy failed it first: its callback reports */
      rmq_msg_destroy(msg);
      return RMQ_OK;
    }
    free(r);
    rmqi_producer_request_end(p);
  }
  return rc;
}

rmq_err_t rmq_msg_new_reply(const rmq_msg_t *request, const void *body,
                            size_t len, rmq_msg_t **reply) {
  if (reply)
    *reply = NULL;
  if (request == NULL || reply == NULL || (body == NULL && len > 0))
    return RMQ_ERR_INVALID_ARG;
  const char *cluster = rmq_msg_property(request, "CLUSTER");
  if (cluster == NULL || cluster[0] == '\0')
    return RMQ_ERR_INVALID_ARG;
  char topic[256];
  int n = snprintf(topic, sizeof(topic), "%s_REPLY_TOPIC", cluster);
  if (n < 0 || (size_t)n >= sizeof(topic))
    return RMQ_ERR_INVALID_ARG;
  rmq_msg_t *m = rmq_msg_new(topic);
  if (m == NULL)
    return RMQ_ERR_NOMEM;
  rmq_err_t rc = len ? rmq_msg_set_body(m, body, len) : RMQ_OK;
  if (rc == RMQ_OK)
    rc = rmqi_msg_put_prop(m, "MSG_TYPE", "reply");
  static const char *const copied[] = {"CORRELATION_ID", "REPLY_TO_CLIENT",
                                       "TTL"};
  for (size_t i = 0; i < RMQI_ARRAY_LEN(copied) && rc == RMQ_OK; i++) {
    const char *v = rmq_msg_property(request, copied[i]);
    if (v) /* Java puts null, which is never encoded */
      rc = rmqi_msg_put_prop(m, copied[i], v);
  }
  if (rc != RMQ_OK) {
    rmq_msg_destroy(m);
    return rc;
  }
  *reply = m;
  return RMQ_OK;
}

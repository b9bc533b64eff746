/*
 * The producer: one deadline per send covering route lookup and every
 * retry, Java's retry rules, latency fault tolerance, async sends driven by
 * completions on the I/O thread with user callbacks bounced to the
 * dispatcher, in-flight accounting for flush, back pressure and a bounded
 * destroy.
 */
#include "../client/client.h"
#include "../client/msg.h"
#include "../consumer/rxmsg.h"
#include "../util/time.h"
#include "producer_int.h"
#include "select.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TX_CHECKS_MAX = 2000 }; /* Java's checkRequestHoldMax */

static void ship_batch(void *arg, rmqi_acc_batch_t *b);
struct job; /* an asynchronous send (below) */

/* ---- results ------------------------------------------------------------ */

static const char *res_str(rmq_send_result_t *res, const char *s, size_t n) {
  rmqi_arena_t *a = res->internal_;
  if (a == NULL) {
    a = calloc(1, sizeof(*a));
    if (a == NULL)
      return "";
    rmqi_arena_init(a, 0);
    res->internal_ = a;
  }
  const char *c = rmqi_arena_strndup(a, s ? s : "", s ? n : 0);
  return c ? c : "";
}

static const char *res_cstr(rmq_send_result_t *res, const char *s) {
  return res_str(res, s, s ? strlen(s) : 0);
}

void rmq_send_result_clear(rmq_send_result_t *res) {
  if (res == NULL)
    return;
  if (res->internal_) {
    rmqi_arena_free(res->internal_);
    free(res->internal_);
  }
  memset(res, 0, sizeof(*res));
}

static void res_fail(rmq_send_result_t *res, int code, const char *why) {
  if (res == NULL)
    return;
  res->broker_code = code;
  res->error = res_cstr(res, why);
}

/*
 * Where a result's strings live. A synchronous result outlives the send:
 * every string is copied into its arena (res_str). An asynchronous one
 * lives until its callback has returned, and so does its job: strings the
 * job holds (the id, the topic, the broker's name, the reason) are lent,
 * and the response's few strings go into the job's scratch while they fit
 * (the arena past that), so a send's result allocates nothing.
 */
enum { RES_SCRATCH = 256 };

typedef struct res_mem {
  char *p;     /* free scratch */
  size_t left; /* its bytes */
} res_mem_t;

/* @p s, which lives as long as the result when @p rm is set. */
static const char *res_lend(rmq_send_result_t *res, res_mem_t *rm,
                            const char *s) {
  return rm ? (s ? s : "") : res_cstr(res, s);
}

/* A copy of @p s (@p n bytes) that lives as long as the result. */
static const char *res_copy(rmq_send_result_t *res, res_mem_t *rm,
                            const char *s, size_t n) {
  if (rm == NULL || n >= rm->left)
    return res_str(res, s, n);
  char *c = memcpy(rm->p, s, n);
  c[n] = '\0';
  rm->p += n + 1;
  rm->left -= n + 1;
  return c;
}

/* Fills @p res from a successful send response; @p rm: see res_mem_t
 * (NULL: copy everything). */
static void res_ok(rmq_send_result_t *res, const rmqi_cmd_t *resp,
                   const rmqi_prep_t *pr, const rmqi_mq_t *mq, const char *ids,
                   res_mem_t *rm) {
  if (res == NULL)
    return;
  int code = resp->code;
  res->status = code == RMQ_FLUSH_DISK_TIMEOUT    ? RMQ_SEND_FLUSH_DISK_TIMEOUT
                : code == RMQ_FLUSH_SLAVE_TIMEOUT ? RMQ_SEND_FLUSH_SLAVE_TIMEOUT
                : code == RMQ_SLAVE_NOT_AVAILABLE ? RMQ_SEND_SLAVE_NOT_AVAILABLE
                                                  : RMQ_SEND_OK;
  res->msg_id = res_lend(res, rm, ids ? ids : pr->uniq);
  const rmqi_str_t *v = rmqi_cmd_ext_get(resp, "msgId");
  res->offset_msg_id = v ? res_copy(res, rm, v->p, v->n) : res_lend(res, rm, "");
  char plain[RMQI_NS_NAME_MAX]; /* the application's name (Java's
                                 * processSendResponse withoutNamespace) */
  const char *t = rmqi_ns_unwrap(pr->ns, pr->topic, plain, sizeof(plain));
  res->topic =
      t == plain ? res_copy(res, rm, t, strlen(t)) : res_lend(res, rm, t);
  res->broker_name = res_lend(res, rm, mq->broker);
  int64_t x;
  res->queue_id = rmqi_cmd_ext_get_int(resp, "queueId", &x) == RMQ_OK
                      ? (int32_t)x
                      : mq->queue_id;
  res->queue_offset =
      rmqi_cmd_ext_get_int(resp, "queueOffset", &x) == RMQ_OK ? x : -1;
  v = rmqi_cmd_ext_get(resp, "transactionId");
  res->transaction_id = v ? res_copy(res, rm, v->p, v->n) : NULL;
  v = rmqi_cmd_ext_get(resp, "MSG_REGION");
  res->region_id = v ? res_copy(res, rm, v->p, v->n) : res_lend(res, rm, "");
  res->broker_code = code;
  res->error = res_lend(res, rm, "");
}

/* Java's SendMessageTraceHookImpl, after a send the broker answered with
 * a stored status (SEND_OK or not: the success flag says): a Pub record,
 * unless the broker said TRACE_ON=false or the topic is the trace topic.
 * @p ids: the ids of a batch (comma-separated), else the UNIQ_KEY; @p tags
 * for an auto-batch (its messages share it). Any thread (the loop's for
 * asynchronous sends): it never blocks. */
/* The tracer, unless trace is off or @p topic is the trace topic (Java:
 * a topic starting with its name). */
static rmqi_tracer_t *tracer_for(rmq_producer_t *p, const char *topic) {
  rmqi_tracer_t *t = p->tracer;
  if (t == NULL)
    return NULL;
  const char *tt = rmqi_tracer_topic(t);
  return strncmp(topic, tt, strlen(tt)) == 0 ? NULL : t;
}

static void trace_pub(rmq_producer_t *p, const rmqi_prep_t *pr, const char *ids,
                      const char *tags, const char *addr,
                      const rmqi_cmd_t *resp, int64_t cost_ms) {
  rmqi_tracer_t *t = tracer_for(p, pr->topic);
  if (t == NULL)
    return;
  const rmqi_str_t *on = rmqi_cmd_ext_get(resp, "TRACE_ON");
  if (on && on->n == 5 && memcmp(on->p, "false", 5) == 0)
    return;
  /* Java's processSendResponse: DefaultRegion when the broker names none */
  char region[128] = "DefaultRegion", oid[128];
  const rmqi_str_t *v = rmqi_cmd_ext_get(resp, "MSG_REGION");
  if (v && v->n > 0)
    snprintf(region, sizeof(region), "%.*s", (int)v->n, v->p);
  v = rmqi_cmd_ext_get(resp, "msgId");
  if (v)
    snprintf(oid, sizeof(oid), "%.*s", (int)v->n, v->p);
  rmqi_trace_bean_t b = {.topic = pr->topic,
                         .msg_id = ids ? ids : pr->uniq,
                         .offset_msg_id = v ? oid : NULL,
                         .tags = tags ? tags : pr->tags,
                         .keys = pr->keys,
                         .store_host = addr,
                         .body_length = (int64_t)pr->body_len,
                         .msg_type = pr->trace_type};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_PUB,
                        .timestamp = rmqi_wall_ms() - cost_ms,
                        .region_id = region,
                        .group = p->conf.v.producer_group,
                        .cost_time = (int32_t)cost_ms,
                        .success = resp->code == 0,
                        .beans = &b,
                        .n_beans = 1};
  rmqi_tracer_append(t, &c);
}

/* Java's retry set (5.x): a broker answer worth another attempt. */
static bool retryable(int code) {
  switch (code) {
  case RMQ_TOPIC_NOT_EXIST:
  case RMQ_SERVICE_NOT_AVAILABLE:
  case RMQ_SYSTEM_ERROR:
  case RMQ_SYSTEM_BUSY:
  case RMQ_NO_PERMISSION:
  case RMQ_NO_BUYER_ID:
  case RMQ_NOT_IN_CURRENT_UNIT:
  case RMQ_GO_AWAY:
    return true;
  default:
    return false;
  }
}

static bool stored(int code) {
  return code == 0 || code == RMQ_FLUSH_DISK_TIMEOUT ||
         code == RMQ_FLUSH_SLAVE_TIMEOUT || code == RMQ_SLAVE_NOT_AVAILABLE;
}

static bool transport(rmq_err_t rc) {
  return rc == RMQ_ERR_CONNECT || rc == RMQ_ERR_CONN_LOST ||
         rc == RMQ_ERR_TIMEOUT || rc == RMQ_ERR_TLS;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The producer's object in the client's statistics (its stats lock held;
 * rmq_producer_destroy leaves the registry before the memory can go). */
static void stats_json(void *arg, rmqi_jw_t *w) {
  rmq_producer_t *p = arg;
  char plain[RMQI_NS_NAME_MAX];
  rmqi_jw_obj(w, NULL);
  rmqi_jw_str(w, "group",
              rmqi_ns_unwrap(p->conf.v.name_space, p->conf.v.producer_group,
                             plain, sizeof(plain)));
  pthread_mutex_lock(&p->lock);
  int64_t n = p->inflight, bytes = p->inflight_bytes;
  bool tx = p->tx_execute != NULL;
  pthread_mutex_unlock(&p->lock);
  rmqi_jw_i64(w, "inflight_msgs", n);
  rmqi_jw_i64(w, "inflight_bytes", bytes);
  rmqi_jw_bool(w, "auto_batch", p->batching);
  rmqi_jw_bool(w, "transactional", tx);
  rmqi_pstats_json(&p->st, w);
  rmqi_tracer_json(p->tracer, w);
  rmqi_jw_end_obj(w);
}

rmq_producer_t *rmq_producer_new(rmq_client_t *client, const rmq_conf_t *conf,
                                 char *errstr, size_t errstr_size) {
  rmqi_errstr(errstr, errstr_size, "%s", "");
  rmq_producer_t *p = calloc(1, sizeof(*p));
  rmq_conf_t *dflt = conf ? NULL : rmq_conf_new();
  if (p == NULL || (conf == NULL && dflt == NULL) ||
      rmqi_conf_copy(&p->conf, conf ? conf : dflt) != RMQ_OK) {
    rmq_conf_destroy(dflt);
    free(p);
    rmqi_errstr(errstr, errstr_size, "out of memory");
    return NULL;
  }
  if (rmqi_conf_check_scope(
          &p->conf, RMQI_SCOPE_PRODUCER | (client ? 0 : RMQI_SCOPE_CLIENT),
          "producer", client ? &client->conf : NULL, errstr,
          errstr_size) != RMQ_OK)
    goto fail;
  char why[256];
  if (!rmqi_topic_valid(p->conf.v.producer_group, why, sizeof(why))) {
    rmqi_errstr(errstr, errstr_size, "producerGroup: %s", why);
    goto fail;
  }
  if (rmqi_conf_namespace(&p->conf, &p->conf.v.producer_group) != RMQ_OK ||
      !rmqi_topic_valid(p->conf.v.producer_group, why, sizeof(why))) {
    rmqi_errstr(errstr, errstr_size,
                "producerGroup in namespace %s: too long or out of memory",
                p->conf.v.name_space);
    goto fail;
  }
  if (client == NULL) {
    client = rmqi_client_new(conf ? conf : dflt, errstr, errstr_size);
    if (client == NULL)
      goto fail;
    p->own_client = true;
  }
  rmqi_client_keep(client); /* released when the producer's memory goes */
  p->client = client;
  rmq_conf_destroy(dflt);
  dflt = NULL;
  rmqi_fault_init(&p->fault);
  rmqi_pstats_init(&p->st);
  rmqi_zpool_init(&p->zpool, (int)p->conf.v.compress_level);
  atomic_init(&p->closing, false);
  pthread_mutex_init(&p->lock, NULL);
  p->spare_jobs.max = 256;
  pthread_cond_init(&p->cond, NULL);
  if (p->conf.v.auto_batch)
    p->batching = rmqi_accum_init(&p->acc, &p->conf.v, ship_batch, p) == RMQ_OK;
  if (rmqi_client_add_producer(client, p->conf.v.producer_group) != RMQ_OK ||
      p->batching != p->conf.v.auto_batch || rmqi_requests_start(p) != RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "out of memory");
    rmq_producer_destroy(p, 0);
    return NULL;
  }
  if (rmqi_tracer_new(client, &p->conf, p->conf.v.producer_group, false,
                      &p->tracer, errstr, errstr_size) != RMQ_OK) {
    rmq_producer_destroy(p, 0);
    return NULL;
  }
  if (rmqi_client_add_stats(client, RMQI_STATS_PRODUCER, stats_json, p) !=
      RMQ_OK) {
    rmqi_errstr(errstr, errstr_size, "out of memory");
    rmq_producer_destroy(p, 0);
    return NULL;
  }
  return p;
fail:
  rmq_conf_destroy(dflt);
  rmqi_conf_release(&p->conf);
  free(p);
  return NULL;
}

rmq_client_t *rmq_producer_client(rmq_producer_t *p) {
  return p ? p->client : NULL;
}

static void producer_free(rmq_producer_t *p) {
  rmqi_spare_free(&p->spare_jobs);
  rmqi_tracer_free(p->tracer);
  rmqi_pstats_free(&p->st);
  if (p->batching)
    rmqi_accum_free(&p->acc);
  rmqi_fault_free(&p->fault);
  rmqi_zpool_free(&p->zpool);
  pthread_cond_destroy(&p->cond);
  pthread_mutex_destroy(&p->lock);
  rmqi_conf_release(&p->conf);
  rmq_client_t *c = p->client;
  free(p);
  rmqi_client_release(c);
}

/* Nothing keeps the memory alive but the handle (under lock). */
static bool unused_locked(const rmq_producer_t *p) {
  return p->released && p->inflight == 0 && p->checks == 0 && p->requests == 0;
}

/* @p n sends of @p bytes in all start (n > 0) or end (n < 0). The end of
 * the last send after destroy frees the producer: nothing may touch @p p
 * after an ending call. */
static void inflight_change(rmq_producer_t *p, int64_t bytes, int64_t n,
                            struct job *j) {
  if (n > 0 && j == NULL) {
    /* a start, on a thread that holds the handle or a send (a callback):
     * the producer cannot go meanwhile, and no waiter needs waking. The
     * lock was one of each send's thirteen, taken against the callback
     * thread's ends */
    atomic_fetch_add_explicit(&p->inflight_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->inflight, n, memory_order_relaxed);
    return;
  }
  pthread_mutex_lock(&p->lock);
  if (j)
    rmqi_spare_put(&p->spare_jobs, j);
  p->inflight += n;
  p->inflight_bytes += n < 0 ? -bytes : bytes;
  if (p->inflight == 0 || n < 0)
    pthread_cond_broadcast(&p->cond);
  bool last = unused_locked(p);
  pthread_mutex_unlock(&p->lock);
  if (last)
    producer_free(p);
}

static void inflight_add(rmq_producer_t *p, int64_t bytes, int64_t n) {
  inflight_change(p, bytes, n, NULL);
}

/* @p n sends of @p bytes that job @p j carried have ended (the job with
 * them, under the same lock). */
static void inflight_end(rmq_producer_t *p, int64_t bytes, int64_t n,
                         struct job *j) {
  inflight_change(p, bytes, -n, j);
}

/* Waits until the in-flight count drops to @p below; false on timeout. In
 * callbackMode=poll on the thread that polls, the callbacks that end the
 * sends can only run here: serve them while waiting (else the wait could
 * only time out). */
static bool wait_busy(rmq_producer_t *p, int64_t below, int64_t bytes,
                      bool checks, int64_t deadline_ms) {
  rmqi_disp_t *d = &p->client->disp;
  bool serve = rmqi_disp_must_serve(d) && !rmqi_client_closed(p->client);
  pthread_mutex_lock(&p->lock);
  bool ok = true;
  while (p->inflight > below ||
         (bytes >= 0 && p->inflight_bytes > bytes && p->inflight > 0) ||
         (checks && (p->checks > 0 || p->requests > 0))) {
    int64_t left = deadline_ms - rmqi_now_ms();
    if (left <= 0) {
      ok = false;
      break;
    }
    if (serve) {
      pthread_mutex_unlock(&p->lock);
      rmqi_disp_poll(d, (int)RMQI_MIN(left, 10));
      pthread_mutex_lock(&p->lock);
      continue;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (RMQI_MIN(left, 50)) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&p->cond, &p->lock, &ts);
  }
  pthread_mutex_unlock(&p->lock);
  return ok;
}

static bool wait_inflight(rmq_producer_t *p, int64_t below, int64_t bytes,
                          int64_t deadline_ms) {
  return wait_busy(p, below, bytes, false, deadline_ms);
}

bool rmqi_producer_refused(rmq_producer_t *p) {
  return atomic_load(&p->closing) || rmqi_client_closed(p->client);
}

static bool refused(rmq_producer_t *p) {
  return rmqi_producer_refused(p);
}

rmq_err_t rmq_producer_flush(rmq_producer_t *p, int timeout_ms) {
  if (p == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (p->batching)
    rmqi_accum_drain(&p->acc);
  return wait_inflight(p, 0, -1, rmqi_now_ms() + timeout_ms) ? RMQ_OK
                                                             : RMQ_ERR_TIMEOUT;
}

/* UNREGISTER_CLIENT to the masters we know, so check-backs and reply
 * pushes stop at once rather than after the broker's 120 s expiry; within
 * what is left of the destroy's deadline. */
static void unregister(rmq_producer_t *p, int64_t deadline) {
  rmqi_client_unregister(p->client, p->conf.v.producer_group, NULL, true,
                         deadline);
}

static void job_done(void *arg, const rmqi_rpc_result_t *r);

/* rmqi_rpc_cancel_if: this producer's asynchronous sends. */
static bool is_mine(rmqi_rpc_cb cb, void *cb_arg, void *ctx);

void rmq_producer_destroy(rmq_producer_t *p, int timeout_ms) {
  if (p == NULL)
    return;
  int64_t deadline = rmqi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  atomic_store(&p->closing, true);
  rmqi_client_remove_stats(p->client, p);
  pthread_mutex_lock(&p->lock);
  bool tx = p->tx_registered;
  p->tx_registered = false;
  pthread_mutex_unlock(&p->lock);
  if (tx) /* no new check reaches this producer from here on */
    rmqi_client_remove_tx_checker(p->client, p);
  if (p->batching)
    rmqi_accum_close(&p->acc);         /* what is open leaves now */
  wait_busy(p, 0, -1, true, deadline); /* sends and queued checks */
  /* What is still waiting for a broker ends now, with RMQ_ERR_SHUTDOWN;
   * its callback is queued like any other. Retries check `cancelled`
   * under the lock before they send, so none slips past the cancel. */
  pthread_mutex_lock(&p->lock);
  p->cancelled = true;
  /* A check callback still running finishes; the queued ones are dropped
   * (their memory and the producer's go when they come off the queue). */
  p->checks_stop = true;
  while (p->checks_running > 0)
    pthread_cond_wait(&p->cond, &p->lock);
  pthread_mutex_unlock(&p->lock);
  rmqi_requests_stop(p); /* requests still waiting: RMQ_ERR_SHUTDOWN */
  rmqi_rpc_cancel_if(p->client->rpc, is_mine, p, RMQ_ERR_SHUTDOWN,
                     "the producer is shutting down");
  /* Every send has ended (or been cancelled): its record is queued. What
   * is queued leaves within the deadline, or is dropped and counted. */
  rmqi_tracer_close(p->tracer, deadline);
  if (rmqi_client_remove_producer(p->client, p->conf.v.producer_group))
    unregister(p, deadline);
  if (p->own_client) /* fails what is left, runs the callbacks, joins */
    rmq_client_destroy(p->client, (int)RMQI_MAX(deadline - rmqi_now_ms(), 0));
  pthread_mutex_lock(&p->lock);
  p->released = true;
  bool last = unused_locked(p);
  pthread_mutex_unlock(&p->lock);
  if (last)
    producer_free(p);
}

/* ---- synchronous sends -------------------------------------------------- */

typedef struct attempt_out {
  rmq_err_t rc;
  int code;
  char why[384];
} attempt_out_t;

/* One request to one queue; fills @p res on success. */
static void attempt(rmq_producer_t *p, const rmqi_prep_t *pr,
                    const rmqi_snap_t *s, const rmqi_mq_t *mq,
                    int64_t timeout_ms, const char *ids, rmq_send_result_t *res,
                    attempt_out_t *out) {
  const char *addr = rmqi_route_addr(&s->route, mq->broker, 0);
  out->code = 0;
  if (addr == NULL) {
    out->rc = RMQ_ERR_NO_ROUTE;
    snprintf(out->why, sizeof(out->why), "broker %s has no master address",
             mq->broker);
    return;
  }
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, 0);
  rmqi_resp_t resp;
  int64_t t0 = rmqi_now_ns();
  out->rc = rmqi_send_cmd(&cmd, pr, p->conf.v.producer_group, mq, &p->conf.v);
  char detail[256] = "";
  bool sent = out->rc == RMQ_OK;
  if (out->rc == RMQ_OK)
    out->rc = rmqi_rpc_invoke_sync(p->client->rpc, addr, &cmd, timeout_ms,
                                   &resp, detail, sizeof(detail));
  rmqi_cmd_free(&cmd);
  int64_t latency_us = (rmqi_now_ns() - t0) / 1000;
  int64_t latency = latency_us / 1000;
  if (sent)
    rmqi_pstats_request(
        &p->st, pr->n_msgs, pr->body_len, out->rc == RMQ_OK ? latency_us : -1,
        out->rc == RMQ_OK ? rmqi_server_err(resp.cmd.code) : out->rc);
  bool fault = p->conf.v.send_latency_fault_enable;
  if (out->rc != RMQ_OK) {
    if (fault)
      rmqi_fault_update(&p->fault, mq->broker, latency, true,
                        !transport(out->rc), rmqi_now_ms());
    snprintf(out->why, sizeof(out->why), "%s: %s", rmq_err_name(out->rc),
             detail);
    return;
  }
  out->code = resp.cmd.code;
  if (stored(out->code)) {
    res_ok(res, &resp.cmd, pr, mq, ids, NULL);
    trace_pub(p, pr, ids, NULL, addr, &resp.cmd, latency);
    if (fault)
      rmqi_fault_update(&p->fault, mq->broker, latency, false, true,
                        rmqi_now_ms());
  } else {
    out->rc = rmqi_server_err(out->code);
    snprintf(out->why, sizeof(out->why), "broker %s answered %s (%d): %s",
             mq->broker, rmq_err_name(out->rc), out->code,
             resp.cmd.remark.p ? resp.cmd.remark.p : "");
    if (fault)
      rmqi_fault_update(&p->fault, mq->broker, latency, true, false,
                        rmqi_now_ms());
  }
  rmqi_resp_free(&resp);
}

/* The Java sendDefaultImpl loop: several attempts within one deadline,
 * each avoiding the broker of the previous one. @p fixed: ordered sends
 * (one attempt, given queue). */
static rmq_err_t send_sync_within(rmq_producer_t *p, const rmqi_prep_t *pr,
                                  const rmqi_mq_t *fixed, const char *ids,
                                  int64_t timeout_ms, rmq_send_result_t *res) {
  int64_t start = rmqi_now_ms();
  int64_t deadline = start + timeout_ms;
  rmqi_snap_t *s;
  char why[384];
  rmq_err_t rc =
      rmqi_client_route(p->client, pr->topic, deadline, &s, why, sizeof(why));
  if (rc != RMQ_OK) {
    res_fail(res, rc > 0 ? rc : 0, why);
    rmqi_pstats_outcome(&p->st, pr->n_msgs, pr->msg_bytes, 0, rc, why);
    return rc;
  }
  int max = fixed ? 1 : 1 + (int)p->conf.v.retry_times;
  const char *last = NULL;
  attempt_out_t out = {RMQ_ERR_TIMEOUT, 0, ""};
  int tries = 0;
  bool sent = false; /* an attempt went out */
  for (; tries < max; tries++) {
    int64_t left = deadline - rmqi_now_ms();
    if (left <= 0) {
      out.rc = RMQ_ERR_TIMEOUT;
      snprintf(out.why, sizeof(out.why),
               "send timed out after %lld ms (%d attempts)",
               (long long)(rmqi_now_ms() - start), tries);
      break;
    }
    if (p->conf.v.send_max_timeout_per_request_ms > 0 && tries + 1 < max)
      left = RMQI_MIN(left, p->conf.v.send_max_timeout_per_request_ms);
    rmqi_mq_t mq;
    if (fixed) {
      mq = *fixed;
    } else {
      size_t i = rmqi_select_queue(
          s->pub, s->n_pub, s->counter, last,
          p->conf.v.send_latency_fault_enable ? &p->fault : NULL,
          rmqi_now_ms());
      mq = s->pub[i];
    }
    last = mq.broker;
    sent = true;
    attempt(p, pr, s, &mq, left, ids, res, &out);
    if (out.rc == RMQ_OK) {
      if (out.code != 0 && p->conf.v.retry_another_broker_when_not_store_ok &&
          tries + 1 < max)
        continue;
      break;
    }
    if (!transport(out.rc) && out.rc != RMQ_ERR_NO_ROUTE &&
        !retryable(out.code))
      break;
  }
  if (res)
    res->attempts = RMQI_MIN(tries + 1, max);
  rmqi_snap_release(s);
  if (out.rc != RMQ_OK) {
    res_fail(res, out.code, out.why);
    if (sent && res) /* a timed-out attempt may still have been stored */
      res->msg_id = res_cstr(res, ids ? ids : pr->uniq);
  }
  rmqi_pstats_outcome(&p->st, pr->n_msgs, pr->msg_bytes,
                      RMQI_MIN(tries + 1, max), out.rc, out.why);
  return out.rc;
}

static rmq_err_t send_sync(rmq_producer_t *p, const rmqi_prep_t *pr,
                           const rmqi_mq_t *fixed, const char *ids,
                           rmq_send_result_t *res) {
  return send_sync_within(p, pr, fixed, ids, p->conf.v.send_timeout_ms, res);
}

/* The answer to a send after destroy began or on a stopped client. */
static rmq_err_t refuse(rmq_send_result_t *res) {
  res_fail(res, 0, "the producer or its client is shut down");
  return RMQ_ERR_SHUTDOWN;
}

/* rmq_producer_send with its own timeout (trace and request sends). */
rmq_err_t rmqi_producer_send_within(rmq_producer_t *p, const rmq_msg_t *msg,
                                    int64_t timeout_ms,
                                    rmq_send_result_t *res) {
  if (res)
    memset(res, 0, sizeof(*res));
  if (p == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return refuse(res);
  rmqi_prep_t pr;
  char why[256];
  rmq_err_t rc = rmqi_prep_msg(&pr, p->client, msg, &p->conf.v, &p->zpool,
                               why, sizeof(why));
  if (rc == RMQ_OK)
    rc = send_sync_within(p, &pr, NULL, NULL, timeout_ms, res);
  else
    res_fail(res, 0, why);
  rmqi_prep_free(&pr);
  return rc;
}

rmq_err_t rmq_producer_send(rmq_producer_t *p, const rmq_msg_t *msg,
                            rmq_send_result_t *res) {
  return rmqi_producer_send_within(p, msg, p ? p->conf.v.send_timeout_ms : 0,
                                   res);
}

rmq_err_t rmq_producer_send_batch(rmq_producer_t *p, rmq_msg_t *const *msgs,
                                  size_t n, rmq_send_result_t *res) {
  if (res)
    memset(res, 0, sizeof(*res));
  if (p == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return refuse(res);
  rmqi_prep_t pr;
  rmqi_buf_t ids;
  rmqi_buf_init(&ids);
  char why[256];
  rmq_err_t rc = rmqi_prep_batch(&pr, p->client, msgs, n, &p->conf.v, &ids, why,
                                 sizeof(why));
  if (rc == RMQ_OK) {
    rmqi_buf_put_u8(&ids, 0);
    rc = rmqi_buf_ok(&ids)
             ? send_sync(p, &pr, NULL, (const char *)ids.data, res)
             : RMQ_ERR_NOMEM;
  } else {
    res_fail(res, 0, why);
  }
  rmqi_buf_free(&ids);
  rmqi_prep_free(&pr);
  return rc;
}

/* Ordered sends: one attempt on the queue chosen from the publish list. */
typedef size_t (*pick_fn)(const rmqi_snap_t *s, const rmq_msg_t *msg, void *arg,
                          bool *ok);

static rmq_err_t send_picked(rmq_producer_t *p, const rmq_msg_t *msg,
                             pick_fn pick, void *arg, rmq_send_result_t *res) {
  if (res)
    memset(res, 0, sizeof(*res));
  if (p == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return refuse(res);
  rmqi_prep_t pr;
  char why[256];
  rmq_err_t rc = rmqi_prep_msg(&pr, p->client, msg, &p->conf.v, &p->zpool,
                               why, sizeof(why));
  rmqi_snap_t *s = NULL;
  if (rc == RMQ_OK)
    rc = rmqi_client_route(p->client, pr.topic,
                           rmqi_now_ms() + p->conf.v.send_timeout_ms, &s, why,
                           sizeof(why));
  if (rc == RMQ_OK) {
    bool ok = true;
    size_t i = pick(s, msg, arg, &ok);
    if (!ok || i >= s->n_pub) {
      snprintf(why, sizeof(why), "no such queue for topic %s", pr.topic);
      rc = RMQ_ERR_INVALID_ARG;
    } else {
      rmqi_mq_t mq = s->pub[i];
      rc = send_sync(p, &pr, &mq, NULL, res);
      why[0] = '\0';
    }
    rmqi_snap_release(s);
  }
  if (rc != RMQ_OK && why[0])
    res_fail(res, rc > 0 ? rc : 0, why);
  rmqi_prep_free(&pr);
  return rc;
}

static size_t pick_hash(const rmqi_snap_t *s, const rmq_msg_t *msg, void *arg,
                        bool *ok) {
  (void)arg;
  if (msg->sharding_key == NULL) {
    *ok = false;
    return 0;
  }
  return rmqi_select_by_hash(
      rmqi_java_hash(msg->sharding_key, strlen(msg->sharding_key)), s->n_pub);
}

rmq_err_t rmq_producer_send_orderly(rmq_producer_t *p, const rmq_msg_t *msg,
                                    rmq_send_result_t *res) {
  return send_picked(p, msg, pick_hash, NULL, res);
}

typedef struct user_sel {
  rmq_queue_selector_cb *cb;
  void *arg;
} user_sel_t;

static size_t pick_user(const rmqi_snap_t *s, const rmq_msg_t *msg, void *arg,
                        bool *ok) {
  user_sel_t *u = arg;
  const char **names = malloc(s->n_pub * sizeof(*names));
  int32_t *ids = malloc(s->n_pub * sizeof(*ids));
  int r = -1;
  if (names && ids) {
    for (size_t i = 0; i < s->n_pub; i++) {
      names[i] = s->pub[i].broker;
      ids[i] = s->pub[i].queue_id;
    }
    r = u->cb(s->n_pub, names, ids, msg, u->arg);
  }
  free(names);
  free(ids);
  *ok = r >= 0 && (size_t)r < s->n_pub;
  return *ok ? (size_t)r : 0;
}

rmq_err_t rmq_producer_send_select(rmq_producer_t *p, const rmq_msg_t *msg,
                                   rmq_queue_selector_cb *selector, void *arg,
                                   rmq_send_result_t *res) {
  if (selector == NULL)
    return RMQ_ERR_INVALID_ARG;
  user_sel_t u = {selector, arg};
  return send_picked(p, msg, pick_user, &u, res);
}

typedef struct fixed_q {
  const char *broker;
  int32_t qid;
} fixed_q_t;

static size_t pick_fixed(const rmqi_snap_t *s, const rmq_msg_t *msg, void *arg,
                         bool *ok) {
  (void)msg;
  fixed_q_t *f = arg;
  for (size_t i = 0; i < s->n_pub; i++)
    if (s->pub[i].queue_id == f->qid &&
        strcmp(s->pub[i].broker, f->broker) == 0)
      return i;
  *ok = false;
  return 0;
}

rmq_err_t rmq_producer_send_to_queue(rmq_producer_t *p, const rmq_msg_t *msg,
                                     const char *broker_name, int32_t queue_id,
                                     rmq_send_result_t *res) {
  if (broker_name == NULL)
    return RMQ_ERR_INVALID_ARG;
  fixed_q_t f = {broker_name, queue_id};
  return send_picked(p, msg, pick_fixed, &f, res);
}

rmq_err_t rmq_producer_send_oneway(rmq_producer_t *p, const rmq_msg_t *msg) {
  if (p == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return RMQ_ERR_SHUTDOWN;
  rmqi_prep_t pr;
  char why[256];
  rmq_err_t rc = rmqi_prep_msg(&pr, p->client, msg, &p->conf.v, &p->zpool,
                               why, sizeof(why));
  rmqi_snap_t *s = NULL;
  if (rc == RMQ_OK)
    rc = rmqi_client_route(p->client, pr.topic,
                           rmqi_now_ms() + p->conf.v.send_timeout_ms, &s, why,
                           sizeof(why));
  if (rc == RMQ_OK) {
    size_t i = rmqi_select_queue(s->pub, s->n_pub, s->counter, NULL, NULL, 0);
    const char *addr = rmqi_route_addr(&s->route, s->pub[i].broker, 0);
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, 0);
    rc = addr ? rmqi_send_cmd(&cmd, &pr, p->conf.v.producer_group, &s->pub[i],
                              &p->conf.v)
              : RMQ_ERR_NO_ROUTE;
    if (rc == RMQ_OK)
      rc = rmqi_rpc_oneway(p->client->rpc, addr, &cmd);
    if (rc == RMQ_OK)
      atomic_fetch_add_explicit(&p->st.oneway_msgs, 1, memory_order_relaxed);
    rmqi_cmd_free(&cmd);
    rmqi_snap_release(s);
  }
  rmqi_prep_free(&pr);
  return rc;
}

/* ---- asynchronous sends ------------------------------------------------- */

typedef struct job {
  rmq_producer_t *p;
  rmq_msg_t *msg;
  rmqi_acc_batch_t *batch; /* an auto-batch instead of msg; pr borrows it */
  rmqi_snap_t *snap;
  int64_t start_ms, deadline_ms, t0_ns;
  int tries, max;
  rmqi_mq_t mq;
  rmq_err_t rc;
  rmq_send_result_t res;
  rmq_send_cb *cb;
  void *opaque;
  /* job_new zeroes what is above; what follows is written before use */
  rmqi_prep_t pr;
  char why[384];
  char scratch[RES_SCRATCH]; /* see res_mem_t */
} job_t;

/* Jobs kept for reuse (at most 256, see rmq_producer_new): a job is made
 * on the sender's thread and ends on a callback thread. */
static job_t *job_new(rmq_producer_t *p) {
  pthread_mutex_lock(&p->lock);
  job_t *j = rmqi_spare_take(&p->spare_jobs);
  pthread_mutex_unlock(&p->lock);
  if (j == NULL && (j = malloc(sizeof(*j))) == NULL)
    return NULL;
  memset(j, 0, offsetof(job_t, pr));
  j->p = p;
  j->why[0] = '\0';
  return j;
}

/* A job that never started (its prep freed). */
static void job_drop(job_t *j) {
  rmq_producer_t *p = j->p;
  pthread_mutex_lock(&p->lock);
  rmqi_spare_put(&p->spare_jobs, j);
  pthread_mutex_unlock(&p->lock);
}

static void job_deliver(void *arg) {
  job_t *j = arg;
  rmq_producer_t *p = j->p;
  j->res.attempts = j->tries;
  if (j->rc != RMQ_OK && j->res.error == NULL) {
    j->res.broker_code = j->rc > 0 ? j->rc : 0;
    j->res.error = j->why; /* the job outlives the callback */
  }
  /* the id an attempt carried: a timed-out one may still have been stored */
  if (j->rc != RMQ_OK && j->batch == NULL && j->tries > 0)
    j->res.msg_id = j->pr.uniq;
  int64_t bytes, n = 1;
  rmqi_pstats_outcome(&p->st, j->pr.n_msgs ? j->pr.n_msgs : 1, j->pr.msg_bytes,
                      j->tries, j->rc, j->why);
  if (j->batch) {
    bytes = j->batch->held;
    n = (int64_t)j->batch->n;
    rmqi_accum_deliver(&p->acc, j->batch, p, j->rc, &j->res);
  } else {
    j->cb(p, j->rc, &j->res, j->msg, j->opaque);
    bytes = (int64_t)j->msg->body_len;
    rmq_msg_destroy(j->msg);
    rmqi_prep_free(&j->pr);
  }
  rmq_send_result_clear(&j->res);
  rmqi_snap_release(j->snap);
  inflight_end(p, bytes, n, j);
}

static void job_finish(job_t *j, rmq_err_t rc) {
  j->rc = rc;
  if (rmqi_client_dispatch(j->p->client, job_deliver, j) != RMQ_OK)
    job_deliver(j); /* the dispatcher is gone: still exactly once */
}

static void job_attempt(job_t *j);
static void job_trace(job_t *j, const rmqi_cmd_t *resp, int64_t latency);

static void job_done(void *arg, const rmqi_rpc_result_t *r) {
  job_t *j = arg;
  rmq_producer_t *p = j->p;
  int64_t latency_us = (rmqi_now_ns() - j->t0_ns) / 1000;
  int64_t latency = latency_us / 1000;
  bool fault = p->conf.v.send_latency_fault_enable;
  rmqi_pstats_request(
      &p->st, j->pr.n_msgs, j->pr.body_len, r->err == RMQ_OK ? latency_us : -1,
      r->err == RMQ_OK ? rmqi_server_err(r->resp->code) : r->err);
  if (r->err != RMQ_OK) {
    if (fault)
      rmqi_fault_update(&p->fault, j->mq.broker, latency, true, true,
                        rmqi_now_ms());
    snprintf(j->why, sizeof(j->why), "%s: %s", rmq_err_name(r->err),
             r->detail ? r->detail : "");
    /* Java retries async sends only after transport failures. */
    if (r->err != RMQ_ERR_SHUTDOWN && j->tries < j->max &&
        rmqi_now_ms() < j->deadline_ms) {
      job_attempt(j);
      return;
    }
    job_finish(j, r->err);
    return;
  }
  int code = r->resp->code;
  if (stored(code)) {
    res_mem_t rm = {j->scratch, sizeof(j->scratch)};
    res_ok(&j->res, r->resp, &j->pr, &j->mq, NULL, &rm);
    if (p->tracer)
      job_trace(j, r->resp, latency);
    if (fault)
      rmqi_fault_update(&p->fault, j->mq.broker, latency, false, true,
                        rmqi_now_ms());
    job_finish(j, RMQ_OK);
    return;
  }
  snprintf(j->why, sizeof(j->why), "broker %s answered %s (%d): %s",
           j->mq.broker, rmq_err_name((rmq_err_t)code), code,
           r->resp->remark.p ? r->resp->remark.p : "");
  if (fault)
    rmqi_fault_update(&p->fault, j->mq.broker, latency, true, false,
                      rmqi_now_ms());
  j->res.broker_code = code;
  j->res.error = j->why;
  job_finish(j, rmqi_server_err(code));
}

static void job_trace(job_t *j, const rmqi_cmd_t *resp, int64_t latency) {
  const char *addr = rmqi_route_addr(&j->snap->route, j->mq.broker, 0);
  if (j->batch == NULL) {
    trace_pub(j->p, &j->pr, NULL, NULL, addr, resp, latency);
    return;
  }
  rmqi_buf_t ids; /* an auto-batch: its messages' ids, as Java's batch */
  rmqi_buf_init(&ids);
  for (size_t i = 0; i < j->batch->n; i++) {
    if (i)
      rmqi_buf_put_u8(&ids, ',');
    rmqi_buf_put_str(&ids, j->batch->m[i].uniq);
  }
  rmqi_buf_put_u8(&ids, 0);
  if (rmqi_buf_ok(&ids))
    trace_pub(j->p, &j->pr, (const char *)ids.data, j->batch->tag, addr, resp,
              latency);
  rmqi_buf_free(&ids);
}

static bool is_mine(rmqi_rpc_cb cb, void *cb_arg, void *ctx) {
  return cb == job_done && ((job_t *)cb_arg)->p == ctx;
}

/* Any thread (the caller for the first attempt, the loop for retries). */
static void job_attempt(job_t *j) {
  rmq_producer_t *p = j->p;
  int64_t left = j->deadline_ms - rmqi_now_ms();
  if (left <= 0) {
    snprintf(j->why, sizeof(j->why), "send timed out after %lld ms",
             (long long)(rmqi_now_ms() - j->start_ms));
    job_finish(j, RMQ_ERR_TIMEOUT);
    return;
  }
  const char *last = j->tries ? j->mq.broker : NULL;
  size_t i = rmqi_select_queue(
      j->snap->pub, j->snap->n_pub, j->snap->counter, last,
      p->conf.v.send_latency_fault_enable ? &p->fault : NULL, rmqi_now_ms());
  j->mq = j->snap->pub[i];
  bool retry = j->tries > 0;
  j->tries++;
  const char *addr = rmqi_route_addr(&j->snap->route, j->mq.broker, 0);
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, 0);
  rmq_err_t rc = addr ? rmqi_send_cmd(&cmd, &j->pr, p->conf.v.producer_group,
                                      &j->mq, &p->conf.v)
                      : RMQ_ERR_NO_ROUTE;
  j->t0_ns = rmqi_now_ns();
  if (rc == RMQ_OK && retry) {
    /* A retry and destroy's cancel exclude each other: either the cancel
     * finds this request pending, or this sees `cancelled`. */
    pthread_mutex_lock(&p->lock);
    rc = p->cancelled
             ? RMQ_ERR_SHUTDOWN
             : rmqi_rpc_invoke_lend(p->client->rpc, addr, &cmd, left,
                                    job_done, j);
    pthread_mutex_unlock(&p->lock);
  } else if (rc == RMQ_OK) {
    /* The body (the message's, or the job's compressed or batch one)
     * lives until job_deliver, after job_done: lent, not copied. */
    rc = rmqi_rpc_invoke_lend(p->client->rpc, addr, &cmd, left, job_done, j);
  }
  rmqi_cmd_free(&cmd);
  if (rc != RMQ_OK) {
    snprintf(j->why, sizeof(j->why), "cannot send to %s: %s", j->mq.broker,
             rmq_err_str(rc));
    job_finish(j, rc);
  }
}

/* The accumulator's batch leaves as one async send with Java's retries. */
static void ship_batch(void *arg, rmqi_acc_batch_t *b) {
  rmq_producer_t *p = arg;
  job_t *j = job_new(p);
  if (j == NULL) {
    rmq_send_result_t r = {.error = "out of memory"};
    int64_t bytes = b->held, n = (int64_t)b->n;
    rmqi_accum_deliver(&p->acc, b, p, RMQ_ERR_NOMEM, &r);
    inflight_add(p, bytes, -n);
    return;
  }
  j->batch = b;
  rmqi_accum_prep(b, &j->pr);
  j->pr.ns = p->conf.v.name_space;
  j->start_ms = rmqi_now_ms();
  j->deadline_ms = j->start_ms + p->conf.v.send_timeout_ms;
  j->max = 1 + (int)p->conf.v.retry_times_async;
  rmq_err_t rc = rmqi_client_route(p->client, b->topic, j->deadline_ms,
                                   &j->snap, j->why, sizeof(j->why));
  if (rc != RMQ_OK)
    job_finish(j, rc);
  else
    job_attempt(j);
}

/* autoBatch: hands @p msg to the accumulator. *direct: it declined (full,
 * closed, too large), so the caller sends the message on its own. */
static rmq_err_t send_batched(rmq_producer_t *p, rmq_msg_t *msg,
                              rmq_send_cb *cb, void *opaque, bool *direct) {
  rmqi_prep_t pr;
  char why[256];
  rmq_err_t rc =
      rmqi_prep_msg(&pr, p->client, msg, &p->conf.v, NULL, why, sizeof(why));
  if (rc == RMQ_OK && p->conf.v.backpressure_enable &&
      !wait_inflight(p, p->conf.v.backpressure_num - 1,
                     p->conf.v.backpressure_size,
                     rmqi_now_ms() + p->conf.v.send_timeout_ms))
    rc = RMQ_ERR_QUEUE_FULL;
  else if (rc == RMQ_OK) {
    int64_t bytes = (int64_t)msg->body_len;
    inflight_add(p, bytes, 1); /* before the batch can complete */
    rc = rmqi_accum_add(&p->acc, &pr, msg, cb, opaque);
    if (rc != RMQ_OK) {
      inflight_add(p, bytes, -1);
      *direct = rc != RMQ_ERR_NOMEM;
    }
  }
  rmqi_prep_free(&pr);
  return rc;
}

static rmq_err_t send_async(rmq_producer_t *p, rmq_msg_t *msg,
                            int64_t timeout_ms, bool batch, rmq_send_cb *cb,
                            void *opaque);

rmq_err_t rmq_producer_send_async(rmq_producer_t *p, rmq_msg_t *msg,
                                  rmq_send_cb *cb, void *opaque) {
  return p ? send_async(p, msg, p->conf.v.send_timeout_ms, true, cb, opaque)
           : RMQ_ERR_INVALID_ARG;
}

rmq_err_t rmqi_producer_send_async_within(rmq_producer_t *p, rmq_msg_t *msg,
                                          int64_t timeout_ms, rmq_send_cb *cb,
                                          void *opaque) {
  return send_async(p, msg, timeout_ms, false, cb, opaque);
}

static rmq_err_t send_async(rmq_producer_t *p, rmq_msg_t *msg,
                            int64_t timeout_ms, bool batch, rmq_send_cb *cb,
                            void *opaque) {
  if (p == NULL || msg == NULL || cb == NULL)
    return RMQ_ERR_INVALID_ARG;
  /* At once, without a callback: a callback that sends again when it gets
   * RMQ_ERR_SHUTDOWN must not start a new round of callbacks. */
  if (refused(p))
    return RMQ_ERR_SHUTDOWN;
  if (batch && p->batching && rmqi_accum_eligible(msg)) {
    bool direct = false;
    rmq_err_t rc = send_batched(p, msg, cb, opaque, &direct);
    if (!direct)
      return rc;
  }
  job_t *j = job_new(p);
  if (j == NULL)
    return RMQ_ERR_NOMEM;
  j->start_ms = rmqi_now_ms();
  j->deadline_ms = j->start_ms + timeout_ms;
  rmq_err_t rc = rmqi_prep_msg(&j->pr, p->client, msg, &p->conf.v,
                               &p->zpool, j->why, sizeof(j->why));
  if (rc == RMQ_OK && p->conf.v.backpressure_enable &&
      !wait_inflight(p, p->conf.v.backpressure_num - 1,
                     p->conf.v.backpressure_size, j->deadline_ms))
    rc = RMQ_ERR_QUEUE_FULL;
  /* Route lookup may block this (user) thread the first time a topic is
   * used; retries on the I/O thread use the cached route only. */
  if (rc == RMQ_OK)
    rc = rmqi_client_route(p->client, j->pr.topic, j->deadline_ms, &j->snap,
                           j->why, sizeof(j->why));
  if (rc != RMQ_OK) {
    rmqi_prep_free(&j->pr);
    job_drop(j);
    return rc;
  }
  j->msg = msg; /* ours from here on */
  j->cb = cb;
  j->opaque = opaque;
  j->max = 1 + (int)p->conf.v.retry_times_async;
  inflight_add(p, (int64_t)msg->body_len, 1);
  job_attempt(j);
  return RMQ_OK;
}

/* ---- transactions ------------------------------------------------------- */

enum {
  RC_END_TRANSACTION = 37,
  TX_NOT_TYPE = 0,       /* MessageSysFlag.TRANSACTION_NOT_TYPE */
  TX_COMMIT_TYPE = 8,    /* TRANSACTION_COMMIT_TYPE */
  TX_ROLLBACK_TYPE = 12, /* TRANSACTION_ROLLBACK_TYPE */
};

static int tx_type(rmq_tx_state_t st) {
  return st == RMQ_TX_COMMIT     ? TX_COMMIT_TYPE
         : st == RMQ_TX_ROLLBACK ? TX_ROLLBACK_TYPE
                                 : TX_NOT_TYPE;
}

static rmq_tx_state_t tx_norm(rmq_tx_state_t st) {
  return st == RMQ_TX_COMMIT || st == RMQ_TX_ROLLBACK ? st : RMQ_TX_UNKNOWN;
}

static const char *tx_name(rmq_tx_state_t st) {
  return st == RMQ_TX_COMMIT     ? "commit"
         : st == RMQ_TX_ROLLBACK ? "rollback"
                                 : "unknown";
}

static void plog(rmq_producer_t *p, rmq_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plog(rmq_producer_t *p, rmq_log_level_t lvl, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  rmqi_log(&p->client->log, lvl, "transaction", "%s", line);
}

/* Java's EndTransactionTraceHookImpl: after END_TRANSACTION left (after
 * the local transaction, or answering a check). */
static void trace_end_tx(rmq_producer_t *p, const rmq_msg_t *msg,
                         const char *msg_id, const char *addr,
                         rmq_tx_state_t st, bool from_check) {
  rmqi_tracer_t *t = tracer_for(p, msg->topic);
  if (t == NULL)
    return;
  const char *region = rmq_msg_property(msg, "MSG_REGION");
  if (region == NULL || region[0] == '\0')
    region = "DefaultRegion";
  const char *uniq = rmq_msg_property(msg, "UNIQ_KEY");
  rmqi_trace_bean_t b = {
      .topic = msg->topic,
      .msg_id = msg_id,
      .tags = rmq_msg_tags(msg),
      .keys = rmq_msg_keys(msg),
      .store_host = addr,
      .msg_type = RMQI_TRACE_MSG_TRANS_COMMIT,
      .transaction_id = uniq ? uniq : msg_id, /* Java's msg.transactionId */
      .transaction_state = st == RMQ_TX_COMMIT     ? "COMMIT_MESSAGE"
                           : st == RMQ_TX_ROLLBACK ? "ROLLBACK_MESSAGE"
                                                   : "UNKNOW",
      .from_transaction_check = from_check};
  rmqi_trace_ctx_t c = {.type = RMQI_TRACE_END_TX,
                        .timestamp = rmqi_wall_ms(),
                        .region_id = region,
                        .group = p->conf.v.producer_group,
                        .beans = &b,
                        .n_beans = 1};
  rmqi_tracer_append(t, &c);
}

/* A broker's check, queued for the check callback. The half message is
 * decoded on the dispatcher, not on the I/O thread (as pulled messages are
 * decoded by poll): inflating a large body must not hold up the loop. */
typedef struct txcheck {
  rmq_producer_t *p;
  rmq_msg_t *msg; /* decoded from `rec` by check_run */
  char *addr, *topic, *tso, *clo, *txid, *bname; /* one allocation */
  uint8_t *rec;                                  /* ... with the record */
  size_t rec_len;
} txcheck_t;

/* The end of a queued check or request (any thread); may free the
 * producer: nothing may touch @p p afterwards. */
static void hold_end(rmq_producer_t *p, int64_t *count) {
  pthread_mutex_lock(&p->lock);
  (*count)--;
  pthread_cond_broadcast(&p->cond);
  bool last = unused_locked(p);
  pthread_mutex_unlock(&p->lock);
  if (last)
    producer_free(p);
}

static void check_end(rmq_producer_t *p) {
  hold_end(p, &p->checks);
}

void rmqi_producer_request_end(rmq_producer_t *p) {
  hold_end(p, &p->requests);
}

static void check_free(txcheck_t *k) {
  rmq_msg_destroy(k->msg);
  free(k->addr);
  free(k);
}

/* END_TRANSACTION for a check, one-way to the broker that asked, with the
 * fields Java's processTransactionState sets. */
static void check_answer(rmq_producer_t *p, const txcheck_t *k,
                         rmq_tx_state_t st) {
  const char *id = rmq_msg_property(k->msg, "UNIQ_KEY");
  if (id == NULL)
    id = rmq_msg_offset_id(k->msg);
  const char *group = p->conf.v.producer_group;
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, RC_END_TRANSACTION);
  rmq_err_t rc = RMQ_OK;
  if (k->topic)
    rc |= rmqi_cmd_ext_ref(&cmd, "topic", k->topic, strlen(k->topic));
  rc |= rmqi_cmd_ext_ref(&cmd, "commitLogOffset", k->clo, strlen(k->clo));
  rc |= rmqi_cmd_ext_ref(&cmd, "producerGroup", group, strlen(group));
  rc |= rmqi_cmd_ext_ref(&cmd, "tranStateTableOffset", k->tso, strlen(k->tso));
  rc |= rmqi_cmd_ext_bool(&cmd, "fromTransactionCheck", true);
  if (k->bname)
    rc |= rmqi_cmd_ext_ref(&cmd, "bname", k->bname, strlen(k->bname));
  rc |= rmqi_cmd_ext_ref(&cmd, "msgId", id, strlen(id));
  if (k->txid)
    rc |= rmqi_cmd_ext_ref(&cmd, "transactionId", k->txid, strlen(k->txid));
  rc |= rmqi_cmd_ext_int(&cmd, "commitOrRollback", tx_type(st));
  if (rc == RMQ_OK)
    rc = rmqi_rpc_oneway(p->client->rpc, k->addr, &cmd);
  rmqi_cmd_free(&cmd);
  if (rc == RMQ_OK)
    trace_end_tx(p, k->msg, id, k->addr, st, true);
  if (rc != RMQ_OK)
    plog(p, RMQ_LOG_WARN, "check of %s: cannot answer %s to %s: %s", id,
         tx_name(st), k->addr, rmq_err_str(rc));
  else if (st != RMQ_TX_COMMIT)
    plog(p, RMQ_LOG_INFO, "check of %s: answered %s", id, tx_name(st));
}

/* The dispatcher runs a queued check (callback thread, or rmq_poll). */
/* The half message of @p k as the check callback sees it. */
static rmq_err_t check_decode(txcheck_t *k, rmqi_errbuf_t *e) {
  rmqi_msgrec_t rec;
  size_t next;
  rmq_err_t rc = rmqi_msgrec_decode(k->rec, k->rec_len, &rec, &next, e);
  if (rc == RMQ_OK)
    rc = rmqi_rxmsg_build(&rec, k->bname ? k->bname : "", (size_t)128 << 20,
                          true, &k->msg, e);
  if (rc == RMQ_OK) /* Java's checkTransactionState: withoutNamespace */
    rc = rmqi_msg_unwrap_topic(k->msg, k->p->conf.v.name_space);
  if (rc != RMQ_OK)
    return rc;
  /* Java's MessageExt.transactionId: the UNIQ_KEY, as the header says. */
  const char *u = rmq_msg_property(k->msg, "UNIQ_KEY");
  char *tid = k->txid ? strdup(k->txid) : u ? strdup(u) : NULL;
  if (tid) /* a copy: the change below may move the properties */
    rc = rmqi_msg_put_prop(k->msg, "__transactionId__", tid);
  free(tid);
  return rc;
}

static void check_run(void *arg) {
  txcheck_t *k = arg;
  rmq_producer_t *p = k->p;
  pthread_mutex_lock(&p->lock);
  p->checks_queued--;
  bool run = !p->checks_stop && p->tx_check != NULL;
  if (run)
    p->checks_running++;
  rmq_tx_check_cb *cb = p->tx_check;
  void *opaque = p->tx_opaque;
  pthread_mutex_unlock(&p->lock);
  rmqi_errbuf_t e = {0};
  rmq_err_t rc = run ? check_decode(k, &e) : RMQ_OK;
  if (rc != RMQ_OK) { /* the broker asks again; this one cannot be read */
    plog(p, RMQ_LOG_WARN, "check from %s dropped: %s %s", k->addr,
         rmq_err_str(rc), e.msg);
    pthread_mutex_lock(&p->lock);
    p->checks_running--;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    run = false;
  }
  if (run) {
    rmq_tx_state_t st = tx_norm(cb(p, k->msg, opaque));
    check_answer(p, k, st);
    pthread_mutex_lock(&p->lock);
    p->checks_running--;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
  }
  check_free(k);
  check_end(p);
}

static char *take(char **at, const rmqi_str_t *v) {
  if (v == NULL)
    return NULL;
  char *d = *at;
  memcpy(d, v->p, v->n);
  d[v->n] = '\0';
  *at += v->n + 1;
  return d;
}

/* The client's registry hook (loop thread, client lock held): queue the
 * check for the callback, within the bound. */
static void tx_on_check(void *arg, const char *addr, const rmqi_cmd_t *req,
                        const rmqi_msgrec_t *rec) {
  (void)rec; /* decoded again, off the I/O thread, by check_run */
  rmq_producer_t *p = arg;
  const rmqi_str_t *topic = rmqi_cmd_ext_get(req, "topic"),
                   *tso = rmqi_cmd_ext_get(req, "tranStateTableOffset"),
                   *clo = rmqi_cmd_ext_get(req, "commitLogOffset"),
                   *txid = rmqi_cmd_ext_get(req, "transactionId"),
                   *bname = rmqi_cmd_ext_get(req, "bname");
  if (tso == NULL || clo == NULL) {
    plog(p, RMQ_LOG_WARN, "check from %s without offsets dropped", addr);
    return;
  }
  pthread_mutex_lock(&p->lock);
  bool full = p->checks_queued >= TX_CHECKS_MAX;
  uint64_t dropped = full ? ++p->checks_dropped : 0;
  if (!full) {
    p->checks++;
    p->checks_queued++;
  }
  pthread_mutex_unlock(&p->lock);
  if (full) {
    if ((dropped & (dropped - 1)) == 0) /* 1, 2, 4, ...: not every one */
      plog(p, RMQ_LOG_WARN,
           "%llu checks dropped: %d are waiting for the check callback",
           (unsigned long long)dropped, TX_CHECKS_MAX);
    return;
  }
  size_t n = strlen(addr) + 1 + tso->n + 1 + clo->n + 1 +
             (topic ? topic->n + 1 : 0) + (txid ? txid->n + 1 : 0) +
             (bname ? bname->n + 1 : 0) + req->body_len;
  txcheck_t *k = calloc(1, sizeof(*k));
  char *at = malloc(n);
  rmq_err_t rc = k && at ? RMQ_OK : RMQ_ERR_NOMEM;
  if (rc == RMQ_OK) {
    k->p = p;
    k->addr = at;
    memcpy(at, addr, strlen(addr) + 1);
    at += strlen(addr) + 1;
    k->tso = take(&at, tso);
    k->clo = take(&at, clo);
    k->topic = take(&at, topic);
    k->txid = take(&at, txid);
    k->bname = take(&at, bname);
    k->rec = (uint8_t *)at;
    k->rec_len = req->body_len;
    memcpy(k->rec, req->body, req->body_len);
    rc = rmqi_client_dispatch(p->client, check_run, k);
  }
  if (rc != RMQ_OK) {
    plog(p, RMQ_LOG_WARN, "check from %s dropped: %s", addr, rmq_err_str(rc));
    if (k)
      check_free(k); /* k->addr owns the strings when both were made */
    else
      free(at);
    pthread_mutex_lock(&p->lock);
    p->checks_queued--;
    pthread_mutex_unlock(&p->lock);
    check_end(p); /* never the last: the producer is still registered */
  }
}

rmq_err_t rmq_producer_set_transaction_listener(rmq_producer_t *p,
                                                rmq_tx_execute_cb *execute,
                                                rmq_tx_check_cb *check,
                                                void *opaque) {
  if (p == NULL || execute == NULL || check == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return RMQ_ERR_SHUTDOWN;
  pthread_mutex_lock(&p->lock);
  rmq_err_t rc = p->tx_execute ? RMQ_ERR_STATE : RMQ_OK;
  if (rc == RMQ_OK) {
    p->tx_execute = execute;
    p->tx_check = check;
    p->tx_opaque = opaque;
    p->tx_registered = true;
  }
  pthread_mutex_unlock(&p->lock);
  if (rc != RMQ_OK)
    return rc;
  rc = rmqi_client_add_tx_checker(p->client, p->conf.v.producer_group,
                                  tx_on_check, p);
  if (rc != RMQ_OK) {
    pthread_mutex_lock(&p->lock);
    p->tx_execute = NULL;
    p->tx_check = NULL;
    p->tx_registered = false;
    pthread_mutex_unlock(&p->lock);
  }
  return rc;
}

/* END_TRANSACTION after the local transaction, one-way to the master of
 * the broker that stored the half message (Java endTransaction). */
static void end_transaction(rmq_producer_t *p, const rmq_msg_t *msg,
                            const rmq_send_result_t *r, const char *txid,
                            rmq_tx_state_t st) {
  char wrapped[RMQI_NS_NAME_MAX];
  const char *topic =
      rmqi_ns_wrap(p->conf.v.name_space, msg->topic, wrapped, sizeof(wrapped));
  if (topic == NULL)
    topic = msg->topic;
  const char *oid =
      r->offset_msg_id && r->offset_msg_id[0] ? r->offset_msg_id : r->msg_id;
  rmqi_host_t host;
  int64_t clo;
  rmqi_errbuf_t e;
  if (rmqi_offset_id_decode(oid, strlen(oid), &host, &clo, &e) != RMQ_OK) {
    plog(p, RMQ_LOG_WARN, "%s: bad offset id %s (%s): no END_TRANSACTION",
         r->msg_id, oid, e.msg);
    return;
  }
  rmqi_snap_t *s = rmqi_client_route_cached(p->client, topic);
  const char *addr = s ? rmqi_route_addr(&s->route, r->broker_name, 0) : NULL;
  const char *group = p->conf.v.producer_group;
  rmq_err_t rc = RMQ_ERR_NO_ROUTE;
  if (addr) {
    rmqi_cmd_t cmd;
    rmqi_cmd_init(&cmd, RC_END_TRANSACTION);
    rc = rmqi_cmd_ext_ref(&cmd, "topic", topic, strlen(topic));
    if (txid)
      rc |= rmqi_cmd_ext_ref(&cmd, "transactionId", txid, strlen(txid));
    rc |= rmqi_cmd_ext_int(&cmd, "commitLogOffset", clo);
    rc |=
        rmqi_cmd_ext_ref(&cmd, "bname", r->broker_name, strlen(r->broker_name));
    rc |= rmqi_cmd_ext_int(&cmd, "commitOrRollback", tx_type(st));
    rc |= rmqi_cmd_ext_ref(&cmd, "producerGroup", group, strlen(group));
    rc |= rmqi_cmd_ext_int(&cmd, "tranStateTableOffset", r->queue_offset);
    rc |= rmqi_cmd_ext_ref(&cmd, "msgId", r->msg_id, strlen(r->msg_id));
    rc |= rmqi_cmd_ext_bool(&cmd, "fromTransactionCheck", false);
    if (rc == RMQ_OK)
      rc = rmqi_rpc_oneway(p->client->rpc, addr, &cmd);
    rmqi_cmd_free(&cmd);
    if (rc == RMQ_OK)
      trace_end_tx(p, msg, r->msg_id, addr, st, false);
  }
  rmqi_snap_release(s);
  if (rc != RMQ_OK) /* the broker's check will ask */
    plog(p, RMQ_LOG_WARN, "%s: END_TRANSACTION (%s) to %s not sent: %s",
         r->msg_id, tx_name(st), r->broker_name, rmq_err_str(rc));
}

rmq_err_t rmq_producer_send_in_transaction(rmq_producer_t *p, rmq_msg_t *msg,
                                           void *arg, rmq_send_result_t *res,
                                           rmq_tx_state_t *local_state) {
  if (res)
    memset(res, 0, sizeof(*res));
  if (local_state)
    *local_state = RMQ_TX_ROLLBACK;
  if (p == NULL || msg == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (refused(p))
    return refuse(res);
  pthread_mutex_lock(&p->lock);
  rmq_tx_execute_cb *exec = p->tx_execute;
  void *opaque = p->tx_opaque;
  pthread_mutex_unlock(&p->lock);
  if (exec == NULL) {
    res_fail(res, 0,
             "no transaction listener: call "
             "rmq_producer_set_transaction_listener first");
    return RMQ_ERR_STATE;
  }
  rmq_send_result_t mine;
  rmq_send_result_t *r = res ? res : &mine;
  if (res == NULL)
    memset(&mine, 0, sizeof(mine));
  /* Java ignores a delay level for transactional messages (and the broker
   * would not honour it on the half message). */
  rmqi_msg_del_prop(msg, "DELAY");
  rmqi_msg_del_prop(msg, "__transactionId__"); /* from an earlier send */
  rmq_err_t rc = rmqi_msg_put_prop(msg, "TRAN_MSG", "true");
  if (rc == RMQ_OK)
    rc = rmqi_msg_put_prop(msg, "PGROUP", p->conf.v.producer_group);
  rmqi_prep_t pr;
  char why[256];
  if (rc == RMQ_OK) {
    rc = rmqi_prep_msg(&pr, p->client, msg, &p->conf.v, &p->zpool, why,
                       sizeof(why));
    if (rc == RMQ_OK)
      rc = send_sync(p, &pr, NULL, NULL, r);
    else
      res_fail(r, 0, why);
    rmqi_prep_free(&pr);
  } else {
    res_fail(r, 0, "out of memory");
  }
  if (rc != RMQ_OK) { /* nothing stored: no local transaction ran */
    if (res == NULL)
      rmq_send_result_clear(&mine);
    return rc;
  }
  const char *txid = r->transaction_id; /* the broker's, if it sent one */
  if (r->transaction_id == NULL)
    r->transaction_id = r->msg_id; /* Java's msg.transactionId: UNIQ_KEY */
  rmq_tx_state_t st = RMQ_TX_ROLLBACK;
  if (r->status == RMQ_SEND_OK) {
    if (rmqi_msg_put_prop(msg, "__transactionId__", r->transaction_id) ==
        RMQ_OK)
      st = tx_norm(exec(p, msg, arg, opaque));
    else
      st = RMQ_TX_UNKNOWN; /* out of memory: let the check decide */
    if (st != RMQ_TX_COMMIT)
      plog(p, RMQ_LOG_INFO, "local transaction of %s: %s", r->msg_id,
           tx_name(st));
  }
  end_transaction(p, msg, r, txid, st);
  if (local_state)
    *local_state = st;
  if (res == NULL)
    rmq_send_result_clear(&mine);
  return RMQ_OK;
}

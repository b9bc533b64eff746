/*
 * What admin tools ask a consumer through its broker (requests.md §4):
 * GET_CONSUMER_RUNNING_INFO (mqadmin consumerStatus, the dashboard),
 * GET_CONSUMER_STATUS_FROM_CLIENT (old admin commands) and
 * RESET_CONSUMER_CLIENT_OFFSET (mqadmin resetOffsetByTime on brokers that
 * reset through their clients). For pull and push consumers alike.
 *
 * Runs on the loop thread under the client's lock (client.h,
 * rmqi_consumer_admin_fn): it takes l->lock briefly, never blocks.
 */
#include "admin.h"
#include "../codec/body.h"
#include "../codec/body_mq.h"
#include "../codec/jstr.h"
#include "../util/time.h"
#include "push.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum {
  RC_RESET_OFFSET = 220,
  RC_CONSUMER_STATUS = 221,
  RC_RUNNING_INFO = 307,
  RC_CONSUME_DIRECTLY = 309,
};

static void jkey(rmqi_buf_t *b, const char *k, bool *first) {
  if (!*first)
    rmqi_buf_put_u8(b, ',');
  *first = false;
  rmqi_json_put_str(b, k, strlen(k));
  rmqi_buf_put_u8(b, ':');
}

static void jstr(rmqi_buf_t *b, const char *s) {
  rmqi_json_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

static void prop(rmqi_buf_t *b, bool *first, const char *k, const char *v) {
  jkey(b, k, first);
  jstr(b, v);
}

static void prop_int(rmqi_buf_t *b, bool *first, const char *k, int64_t v) {
  char t[32];
  snprintf(t, sizeof(t), "%lld", (long long)v);
  prop(b, first, k, t);
}

/* A MessageQueue as fastjson writes it (also as an object key). */
/* "<key>12.3": a rate with one decimal, without printf's %f (the
 * application's LC_NUMERIC could make it "12,3", which is no JSON). */
static void tenths(rmqi_buf_t *b, const char *key, double v) {
  int64_t t = v > 0 && v < 1e15 ? (int64_t)(v * 10 + 0.5) : 0;
  rmqi_buf_put_str(b, key);
  rmqi_buf_put_i64(b, t / 10);
  rmqi_buf_put_u8(b, '.');
  rmqi_buf_put_u8(b, (uint8_t)('0' + t % 10));
}

static void mq(rmqi_buf_t *b, const lq_t *q) {
  rmqi_buf_put_str(b, "{\"brokerName\":");
  jstr(b, q->broker);
  rmqi_buf_put_str(b, ",\"queueId\":");
  rmqi_buf_put_i64(b, q->qid);
  rmqi_buf_put_str(b, ",\"topic\":");
  jstr(b, q->topic);
  rmqi_buf_put_u8(b, '}');
}

static void field(rmqi_buf_t *b, bool *first, const char *k, int64_t v) {
  jkey(b, k, first);
  rmqi_buf_put_i64(b, v);
}

static const tstat_t *find_tstat(const lite_t *l, const char *topic) {
  for (const tstat_t *t = l->tstats; t; t = t->next)
    if (strcmp(t->topic, topic) == 0)
      return t;
  return NULL;
}

/* The consumer's statistics (statistics.md) as free-form properties, the
 * place Java's ConsumerRunningInfo has for them (mqadmin consumerStatus
 * prints every one): per subscribed topic "stats.<topic>.<name>", per
 * queue "stats.<topic>.<broker>.<queueId>.<name>". l->lock held. */
static void stats_props(lite_t *l, const rmqi_hb_consumer_t *hb, rmqi_buf_t *b,
                        bool *f) {
  char k[600];
  for (size_t i = 0; i < hb->n_subs; i++) {
    const char *topic = hb->subs[i].topic;
    const tstat_t *t = find_tstat(l, topic);
    int64_t ok = 0, failed = 0, first = 0, last = 0, err_ms = 0;
    char err[256] = "";
    if (t) {
      ok = (int64_t)atomic_load(&t->v[TS_OK]);
      failed = (int64_t)atomic_load(&t->v[TS_FAILED]);
      pthread_mutex_lock(&l->st.lock);
      first = t->first_ms;
      last = t->last_ms;
      err_ms = t->last_error_ms;
      snprintf(err, sizeof(err), "%s", t->last_error);
      pthread_mutex_unlock(&l->st.lock);
    }
    tstat_rates_t r = rmqi_tstat_rates(l, topic);
    snprintf(k, sizeof(k), "stats.%s.processed", topic);
    prop_int(b, f, k, ok);
    snprintf(k, sizeof(k), "stats.%s.failed", topic);
    prop_int(b, f, k, failed);
    snprintf(k, sizeof(k), "stats.%s.firstMsgTimestamp", topic);
    prop_int(b, f, k, first);
    snprintf(k, sizeof(k), "stats.%s.lastMsgTimestamp", topic);
    prop_int(b, f, k, last);
    snprintf(k, sizeof(k), "stats.%s.lastError", topic);
    prop(b, f, k, err);
    snprintf(k, sizeof(k), "stats.%s.lastErrorTimestamp", topic);
    prop_int(b, f, k, err_ms);
    /* messages per second over about the last minute, one decimal */
    int64_t tt =
        r.ok_tps > 0 && r.ok_tps < 1e15 ? (int64_t)(r.ok_tps * 10 + 0.5) : 0;
    char rate[32];
    snprintf(rate, sizeof(rate), "%lld.%d", (long long)(tt / 10),
             (int)(tt % 10));
    snprintf(k, sizeof(k), "stats.%s.consumeRate", topic);
    prop(b, f, k, rate);
  }
  int64_t total_lag = 0;
  for (lq_t *q = l->queues; q; q = q->next) {
    if (q->dropped)
      continue;
    int64_t lag = q->max_offset > 0 && q->consumed >= 0
                      ? RMQI_MAX(q->max_offset - q->consumed, 0)
                      : 0;
    total_lag += lag;
    snprintf(k, sizeof(k), "stats.%s.%s.%d.maxOffset", q->topic, q->broker,
             (int)q->qid);
    prop_int(b, f, k, q->max_offset > 0 ? q->max_offset : -1);
    snprintf(k, sizeof(k), "stats.%s.%s.%d.lag", q->topic, q->broker,
             (int)q->qid);
    prop_int(b, f, k, lag);
  }
  prop_int(b, f, "stats.totalLag", total_lag);
}

/* ConsumerRunningInfo (json.md §7), l->lock held. */
static void running_info(lite_t *l, const rmqi_hb_consumer_t *hb,
                         rmqi_buf_t *b) {
  const push_t *p = l->push;
  int64_t wall = rmqi_wall_ms(), mono = rmqi_now_ms();
  rmqi_buf_put_str(b, "{\"mqPopTable\":{},\"mqTable\":{");
  bool first_q = true;
  for (lq_t *q = l->queues; q; q = q->next) {
    if (q->dropped)
      continue;
    if (!first_q)
      rmqi_buf_put_u8(b, ',');
    first_q = false;
    mq(b, q);
    rmqi_buf_put_u8(b, ':');
    rmqi_buf_put_u8(b, '{');
    bool f = true;
    field(b, &f, "cachedMsgCount", (int64_t)q->cached_msgs);
    field(b, &f, "cachedMsgMaxOffset", RMQI_MAX(q->cached_hi, 0));
    field(b, &f, "cachedMsgMinOffset", RMQI_MAX(q->cached_lo, 0));
    field(b, &f, "cachedMsgSizeInMiB", (int64_t)(q->cached_bytes >> 20));
    field(b, &f, "commitOffset",
          q->commit_mem >= 0 ? q->commit_mem : RMQI_MAX(q->consumed, 0));
    jkey(b, "droped", &f);
    rmqi_buf_put_str(b, "false");
    field(b, &f, "lastConsumeTimestamp", q->last_consume_ms);
    field(b, &f, "lastLockTimestamp",
          q->locked ? wall - (mono - q->lock_ms) : 0);
    field(b, &f, "lastPullTimestamp", q->last_pull_ms);
    jkey(b, "locked", &f);
    rmqi_buf_put_str(b, q->locked ? "true" : "false");
    field(b, &f, "transactionMsgCount", 0);
    field(b, &f, "transactionMsgMaxOffset", 0);
    field(b, &f, "transactionMsgMinOffset", 0);
    field(b, &f, "tryUnlockTimes", 0);
    rmqi_buf_put_u8(b, '}');
  }
  rmqi_buf_put_str(b, "},\"properties\":{");
  const rmqi_conf_vals_t *v = &l->conf.v;
  bool f = true;
  char ns[1024] = "";
  rmqi_nslist_format(&l->client->ns, ns, sizeof(ns));
  prop(b, &f, "PROP_CLIENT_VERSION", "V5_3_1");
  prop(b, &f, "PROP_CONSUMEORDERLY", p && p->orderly ? "true" : "false");
  prop_int(b, &f, "PROP_CONSUMER_START_TIMESTAMP", l->start_ms);
  prop(b, &f, "PROP_CONSUME_TYPE", hb->consume_type);
  prop(b, &f, "PROP_NAMESERVER_ADDR", ns);
  prop_int(b, &f, "PROP_THREADPOOL_CORE_SIZE", p ? (int64_t)p->n_threads : 0);
  prop(b, &f, "consumeFromWhere", hb->consume_from_where);
  prop_int(b, &f, "consumeMessageBatchMaxSize", v->consume_batch_max);
  prop_int(b, &f, "consumeThreadMin", v->consume_thread_min);
  prop(b, &f, "consumerGroup", l->group);
  prop(b, &f, "language", "C");
  prop_int(b, &f, "maxReconsumeTimes",
           p ? (int64_t)p->max_reconsume : v->max_reconsume_times);
  prop(b, &f, "messageModel", hb->message_model);
  prop_int(b, &f, "pullBatchSize", v->pull_batch_size);
  prop_int(b, &f, "pullThresholdForQueue", v->pull_threshold_queue);
  prop_int(b, &f, "pullThresholdForTopic", v->pull_threshold_topic);
  prop_int(b, &f, "pullThresholdSizeForQueue", v->pull_threshold_size_queue_mb);
  prop_int(b, &f, "pullThresholdSizeForTopic", v->pull_threshold_size_topic_mb);
  stats_props(l, hb, b, &f);
  rmqi_buf_put_str(b, "},\"statusTable\":{");
  for (size_t i = 0; i < hb->n_subs; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    jstr(b, hb->subs[i].topic);
    tstat_rates_t r = rmqi_tstat_rates(l, hb->subs[i].topic);
    const tstat_t *t = find_tstat(l, hb->subs[i].topic);
    rmqi_buf_put_str(b, ":{\"consumeFailedMsgs\":");
    rmqi_buf_put_i64(b, t ? (int64_t)atomic_load(&t->v[TS_FAILED]) : 0);
    tenths(b, ",\"consumeFailedTPS\":", r.failed_tps);
    tenths(b, ",\"consumeOKTPS\":", r.ok_tps);
    tenths(b, ",\"consumeRT\":", r.consume_rt_ms);
    tenths(b, ",\"pullRT\":", r.pull_rt_ms);
    tenths(b, ",\"pullTPS\":", r.pull_tps);
    rmqi_buf_put_u8(b, '}');
  }
  rmqi_buf_put_str(b, "},\"subscriptionSet\":[");
  for (size_t i = 0; i < hb->n_subs; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    rmqi_sub_data_encode(b, &hb->subs[i]);
  }
  rmqi_buf_put_str(b, "],\"userConsumerInfo\":{}}");
}

/* GetConsumerStatusBody: this client's offsets of @p topic. */
static void consumer_status(lite_t *l, const rmqi_str_t *topic, rmqi_buf_t *b) {
  rmqi_buf_put_str(b, "{\"consumerTable\":{},\"messageQueueTable\":{");
  bool first = true;
  for (lq_t *q = l->queues; q; q = q->next) {
    if (q->dropped || (topic && (strlen(q->topic) != topic->n ||
                                 memcmp(q->topic, topic->p, topic->n) != 0)))
      continue;
    if (!first)
      rmqi_buf_put_u8(b, ',');
    first = false;
    mq(b, q);
    rmqi_buf_put_u8(b, ':');
    rmqi_buf_put_i64(b, q->commit_mem >= 0 ? q->commit_mem : q->consumed);
  }
  rmqi_buf_put_str(b, "}}");
}

/* The offsets an admin tool set: each listed queue of ours starts over
 * there (Java MQClientInstance.resetOffset, without its 10 s nap: the
 * generation change already keeps stale pulls out). */
static void reset_offsets(lite_t *l, const rmqi_cmd_t *req) {
  rmqi_mqlist_t v;
  rmqi_errbuf_t e;
  if (rmqi_reset_offset_decode(&v, (const char *)req->body, req->body_len,
                               &e) != RMQ_OK) {
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer",
             "%s: bad reset-offset body: %s at byte %zu", l->group, e.msg,
             e.pos);
    return;
  }
  for (size_t i = 0; i < v.n; i++) {
    const rmqi_mqo_t *m = &v.v[i];
    lq_t *q = rmqi_lite_find(l, m->topic, m->broker, m->queue_id);
    if (q == NULL || m->offset < 0)
      continue;
    rmqi_lite_reset_queue(l, q);
    q->pull_offset = q->consumed = q->commit_mem = m->offset;
    q->committed = -1; /* sent at the next persist */
    q->due_ms = 0;
    rmqi_log(&l->client->log, RMQ_LOG_INFO, "consumer",
             "%s: %s %s:%d reset to offset %lld by an admin", l->group,
             q->topic, q->broker, (int)q->qid, (long long)m->offset);
  }
  rmqi_mqlist_free(&v);
}

void rmqi_lite_admin(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req,
                     const rmqi_hb_consumer_t *hb) {
  lite_t *l = arg;
  if (req->code == RC_CONSUME_DIRECTLY) {
    /* Java answers it for push consumers only */
    if (l->push)
      rmqi_push_consume_directly(l, conn, req);
    else if (!rmqi_cmd_is_oneway(req)) {
      static const char why[] = "not a push consumer";
      rmqi_cmd_t resp;
      rmqi_cmd_init_response(&resp, req, RMQ_SYSTEM_ERROR);
      rmqi_cmd_set_remark(&resp, why, sizeof(why) - 1);
      rmqi_rpc_reply(conn, &resp);
      rmqi_cmd_free(&resp);
    }
    return;
  }
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  pthread_mutex_lock(&l->lock);
  switch (req->code) {
  case RC_RUNNING_INFO:
    running_info(l, hb, &body);
    break;
  case RC_CONSUMER_STATUS:
    consumer_status(l, rmqi_cmd_ext_get(req, "topic"), &body);
    break;
  case RC_RESET_OFFSET:
    reset_offsets(l, req);
    break;
  }
  pthread_mutex_unlock(&l->lock);
  if (!rmqi_cmd_is_oneway(req)) {
    rmqi_cmd_t resp;
    bool ok = rmqi_buf_ok(&body);
    rmqi_cmd_init_response(&resp, req, ok ? RMQ_OK : RMQ_SYSTEM_ERROR);
    resp.body = ok ? body.data : NULL;
    resp.body_len = ok ? body.len : 0;
    if (!ok)
      rmqi_cmd_set_remark(&resp, "out of memory", 13);
    rmqi_rpc_reply(conn, &resp);
    rmqi_cmd_free(&resp);
  }
  rmqi_buf_free(&body);
}

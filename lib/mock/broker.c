/* What the mock name server and brokers answer (requests.md in the
 * protocol reference, section by section). Runs on the cluster's thread
 * under its lock; every field of a request is untrusted. */
#include "mock_int.h"

#include "../codec/batch.h"
#include "../codec/json.h"
#include "../codec/jw.h"
#include "../codec/msgid.h"
#include "../codec/msgrec.h"
#include "../codec/props.h"
#include "../util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  RC_SEND_MESSAGE = 10,
  RC_PULL_MESSAGE = 11,
  RC_QUERY_CONSUMER_OFFSET = 14,
  RC_UPDATE_CONSUMER_OFFSET = 15,
  RC_SEARCH_OFFSET_BY_TIMESTAMP = 29,
  RC_GET_MAX_OFFSET = 30,
  RC_GET_MIN_OFFSET = 31,
  RC_GET_EARLIEST_MSG_STORETIME = 32,
  RC_VIEW_MESSAGE_BY_ID = 33,
  RC_HEART_BEAT = 34,
  RC_UNREGISTER_CLIENT = 35,
  RC_CONSUMER_SEND_MSG_BACK = 36,
  RC_GET_CONSUMER_LIST_BY_GROUP = 38,
  RC_LOCK_BATCH_MQ = 41,
  RC_UNLOCK_BATCH_MQ = 42,
  RC_CHECK_CLIENT_CONFIG = 46,
  RC_GET_ROUTEINFO_BY_TOPIC = 105,
  RC_GET_BROKER_CLUSTER_INFO = 106,
  RC_SEND_MESSAGE_V2 = 310,
  RC_SEND_BATCH_MESSAGE = 320,
  RC_LITE_PULL_MESSAGE = 361,
};

enum { PULL_COMMIT = 1, PULL_SUSPEND = 2, PULL_SUB = 4 };

#define MAX_BODY (4u << 20) /* a broker's maxMessageSize */

/* ---- answers ------------------------------------------------------------- */

static void resp_init(rmqi_cmd_t *resp, const rmqi_cmd_t *req, int32_t code) {
  rmqi_cmd_init_response(resp, req, code);
  resp->lang = RMQI_LANG_JAVA;
}

static void send_resp(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                      const rmqi_cmd_t *req, rmqi_cmd_t *resp, int rtt) {
  if (!rmqi_cmd_is_oneway(req))
    rmqi_mock_reply(c, cn, resp, rtt);
  rmqi_cmd_free(resp);
}

/* A SUCCESS answer with @p body (NULL: none). */
static void ok_body(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                    const rmqi_cmd_t *req, const uint8_t *body, size_t len,
                    int rtt) {
  rmqi_cmd_t resp;
  resp_init(&resp, req, RMQ_OK);
  resp.body = body;
  resp.body_len = len;
  send_resp(c, cn, req, &resp, rtt);
}

static void failf(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                  const rmqi_cmd_t *req, int32_t code, int rtt, const char *fmt,
                  ...) __attribute__((format(printf, 6, 7)));
static void failf(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                  const rmqi_cmd_t *req, int32_t code, int rtt, const char *fmt,
                  ...) {
  rmqi_cmd_t resp;
  resp_init(&resp, req, code);
  char remark[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(remark, sizeof(remark), fmt, ap);
  va_end(ap);
  rmqi_cmd_set_remark(&resp, remark, strlen(remark));
  send_resp(c, cn, req, &resp, rtt);
}

#define S(x) ((x) ? (x) : "")

/* A SUCCESS answer with the JSON in @p b as its body (which it frees), or
 * SYSTEM_ERROR when writing it ran out of memory. */
static void ok_json(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                    const rmqi_cmd_t *req, rmqi_buf_t *b, int rtt) {
  if (rmqi_buf_ok(b))
    ok_body(c, cn, req, b->data, b->len, rtt);
  else
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "out of memory");
  rmqi_buf_free(b);
}

static const char *ext(const rmqi_cmd_t *req, const char *key) {
  const rmqi_str_t *v = rmqi_cmd_ext_get(req, key);
  return v ? v->p : NULL;
}

static bool ext_int(const rmqi_cmd_t *req, const char *key, int64_t *out) {
  return rmqi_cmd_ext_get_int(req, key, out) == RMQ_OK;
}

static void ext_i64(rmqi_cmd_t *resp, const char *key, int64_t v) {
  rmqi_cmd_ext_int(resp, key, v);
}

/* The queue a request names (topic, queueId) on this broker, or NULL with
 * the answer already sent. */
static rmqi_mock_queue_t *req_queue(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                                    const rmqi_cmd_t *req, int rtt,
                                    bool answer) {
  const char *topic = ext(req, "topic");
  int64_t qid;
  rmqi_mock_topic_t *t = topic ? rmqi_mock_topic_find(c, topic) : NULL;
  if (t == NULL) {
    if (answer)
      failf(c, cn, req, RMQ_TOPIC_NOT_EXIST, rtt,
            "topic[%s] not exist, apply first please!", S(topic));
    return NULL;
  }
  if (!ext_int(req, "queueId", &qid) || qid < 0 || qid >= t->nq) {
    if (answer)
      failf(c, cn, req, RMQ_INVALID_PARAMETER, rtt,
            "queueId out of range in %s", topic);
    return NULL;
  }
  return rmqi_mock_q(t, cn->srv - 1, (int)qid);
}

/* ---- the name server ----------------------------------------------------- */

static bool auto_create_ok(const char *topic) {
  return strncmp(topic, "%RETRY%", 7) != 0 && strncmp(topic, "%DLQ%", 5) != 0;
}

/* A BrokerData: the master (id 0) only. */
static void put_broker(rmqi_jw_t *w, const char *key,
                       const rmqi_mock_srv_t *s) {
  rmqi_jw_obj(w, key);
  rmqi_jw_obj(w, "brokerAddrs");
  rmqi_jw_str(w, "0", s->addr);
  rmqi_jw_end_obj(w);
  rmqi_jw_str(w, "brokerName", s->name);
  rmqi_jw_str(w, "cluster", RMQI_MOCK_CLUSTER);
  rmqi_jw_bool(w, "enableActingMaster", false);
  rmqi_jw_end_obj(w);
}

static void serve_route(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                        const rmqi_cmd_t *req, int rtt) {
  const char *topic = ext(req, "topic");
  rmqi_mock_topic_t *t = topic ? rmqi_mock_topic_find(c, topic) : NULL;
  if (t == NULL && topic && c->auto_queues > 0 && auto_create_ok(topic) &&
      rmqi_mock_name_ok(topic, 127))
    rmqi_mock_topic_add(c, topic, c->auto_queues, &t);
  if (t == NULL) {
    failf(c, cn, req, RMQ_TOPIC_NOT_EXIST, rtt,
          "No topic route info in name server for the topic: %s", S(topic));
    return;
  }
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_arr(&w, "brokerDatas");
  for (int i = 1; i <= c->n_brokers; i++)
    put_broker(&w, NULL, &c->srv[i]);
  rmqi_jw_end_arr(&w);
  rmqi_jw_obj(&w, "filterServerTable");
  rmqi_jw_end_obj(&w);
  rmqi_jw_arr(&w, "queueDatas");
  for (int i = 1; i <= c->n_brokers; i++) {
    rmqi_jw_obj(&w, NULL);
    rmqi_jw_str(&w, "brokerName", c->srv[i].name);
    rmqi_jw_i64(&w, "perm", 6);
    rmqi_jw_i64(&w, "readQueueNums", t->nq);
    rmqi_jw_i64(&w, "topicSysFlag", 0);
    rmqi_jw_i64(&w, "writeQueueNums", t->nq);
    rmqi_jw_end_obj(&w);
  }
  rmqi_jw_end_arr(&w);
  rmqi_jw_end_obj(&w);
  ok_json(c, cn, req, &b, rtt);
}

static void serve_cluster_info(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                               const rmqi_cmd_t *req, int rtt) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_obj(&w, "brokerAddrTable");
  for (int i = 1; i <= c->n_brokers; i++)
    put_broker(&w, c->srv[i].name, &c->srv[i]);
  rmqi_jw_end_obj(&w);
  rmqi_jw_obj(&w, "clusterAddrTable");
  rmqi_jw_arr(&w, RMQI_MOCK_CLUSTER);
  for (int i = 1; i <= c->n_brokers; i++)
    rmqi_jw_str(&w, NULL, c->srv[i].name);
  rmqi_jw_end_arr(&w);
  rmqi_jw_end_obj(&w);
  rmqi_jw_end_obj(&w);
  ok_json(c, cn, req, &b, rtt);
}

/* ---- storing ------------------------------------------------------------- */

/* Copies @p props and adds @p name = @p value unless present. */
static void props_add(rmqi_buf_t *out, const char *name, const char *value) {
  size_t vl;
  if (rmqi_props_get((const char *)out->data, out->len, name, &vl) == NULL)
    rmqi_props_put(out, name, strlen(name), value, strlen(value), NULL);
}

static void new_uniq(rmq_mock_cluster_t *c, char out[57]) {
  rmqi_uniq_id_t u = {.ip = {127, 0, 0, 1},
                      .ip_len = 4,
                      .pid = (uint16_t)getpid(),
                      .loader_hash = c->uniq_hash,
                      .month_ms = (uint32_t)(rmqi_wall_ms() % 2419200000LL),
                      .counter = c->uniq_counter++};
  rmqi_uniq_id_encode(&u, out);
}

typedef struct store_in {
  const char *topic;
  int32_t qid, flag, sys_flag, reconsume;
  int64_t born_ts;
  uint8_t born[4];
  uint32_t born_port;
  const uint8_t *body;
  size_t body_len;
  const char *props;
  size_t props_len;
} store_in_t;

/* Stores one message in @p q of broker @p b; its offset id in @p id. */
static rmq_err_t store(rmq_mock_cluster_t *c, int b, rmqi_mock_queue_t *q,
                       const store_in_t *in, char id[57], int64_t *qoff) {
  rmqi_mock_srv_t *s = &c->srv[1 + b];
  rmqi_msgrec_t r = {0};
  r.queue_id = in->qid;
  r.flag = in->flag;
  r.queue_offset = rmqi_mock_q_max(q);
  r.commitlog_offset = s->clog_off;
  r.sys_flag = in->sys_flag;
  r.born_ts = in->born_ts;
  memcpy(r.born.addr, in->born, 4);
  r.born.len = 4;
  r.born.port = in->born_port;
  r.store_ts = rmqi_wall_ms();
  memcpy(r.store.addr, (uint8_t[4]){127, 0, 0, 1}, 4);
  r.store.len = 4;
  r.store.port = (uint32_t)s->port;
  r.reconsume_times = in->reconsume;
  r.body = in->body;
  r.body_len = (uint32_t)in->body_len;
  r.topic = in->topic;
  r.topic_len = (uint16_t)strlen(in->topic);
  r.props = in->props;
  r.props_len = (uint16_t)in->props_len;
  rmqi_buf_t rec;
  rmqi_buf_init(&rec);
  rmqi_msgrec_encode(&rec, &r);
  if (!rmqi_buf_ok(&rec))
    return RMQ_ERR_NOMEM;
  if (c->stored_bytes + rec.len > c->max_bytes) {
    rmqi_buf_free(&rec);
    return RMQ_SERVICE_NOT_AVAILABLE;
  }
  rmq_err_t rc = rmqi_mock_q_append(c, q, rec.data, (uint32_t)rec.len,
                                    r.commitlog_offset, r.store_ts);
  if (rc != RMQ_OK) {
    rmqi_buf_free(&rec);
    return rc;
  }
  s->clog_off += (int64_t)rec.len;
  rmqi_msgrec_offset_id(&r, id);
  *qoff = r.queue_offset;
  return RMQ_OK;
}

/* Properties as stored: the sent ones plus UNIQ_KEY (when missing) and
 * CLUSTER, as a broker adds them; *uniq gets the UNIQ_KEY. */
static bool stored_props(rmq_mock_cluster_t *c, rmqi_buf_t *out, const char *p,
                         size_t n, char uniq[57], bool cluster) {
  rmqi_buf_put(out, p, n);
  size_t vl;
  const char *u = rmqi_props_get(p, n, "UNIQ_KEY", &vl);
  if (u && vl < 57)
    snprintf(uniq, 57, "%.*s", (int)vl, u);
  else {
    new_uniq(c, uniq);
    props_add(out, "UNIQ_KEY", uniq);
  }
  if (cluster)
    props_add(out, "CLUSTER", RMQI_MOCK_CLUSTER);
  return rmqi_buf_ok(out) && out->len <= RMQI_PROPS_MAX_LEN;
}

static bool forbidden_topic(const char *t) {
  static const char *const no[] = {"SCHEDULE_TOPIC_XXXX",
                                   "RMQ_SYS_TRANS_HALF_TOPIC",
                                   "RMQ_SYS_TRANS_OP_HALF_TOPIC",
                                   "TRANS_CHECK_MAX_TIME_TOPIC",
                                   "SELF_TEST_TOPIC",
                                   "OFFSET_MOVED_EVENT"};
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    if (strcmp(t, no[i]) == 0)
      return true;
  return false;
}

/* A topic for messages of @p group's retries or dead letters (1 queue). */
static rmqi_mock_topic_t *group_topic(rmq_mock_cluster_t *c, const char *prefix,
                                      const char *group) {
  char name[300];
  snprintf(name, sizeof(name), "%s%s", prefix, group);
  rmqi_mock_topic_t *t = rmqi_mock_topic_find(c, name);
  if (t == NULL)
    rmqi_mock_topic_add(c, name, 1, &t);
  return t;
}

static void serve_send(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                       const rmqi_cmd_t *req, int rtt) {
  bool v1 = req->code == RC_SEND_MESSAGE;
  const char *topic = ext(req, v1 ? "topic" : "b");
  const char *props = ext(req, v1 ? "properties" : "i");
  const rmqi_str_t *pv = rmqi_cmd_ext_get(req, v1 ? "properties" : "i");
  int64_t qid = -1, sys = 0, born = 0, flag = 0, recon = 0, maxre = -1;
  bool batch = req->code == RC_SEND_BATCH_MESSAGE;
  if (topic == NULL || !ext_int(req, v1 ? "queueId" : "e", &qid) ||
      !ext_int(req, v1 ? "sysFlag" : "f", &sys) ||
      !ext_int(req, v1 ? "bornTimestamp" : "g", &born) ||
      !ext_int(req, v1 ? "flag" : "h", &flag)) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt,
          "the send header lacks a required field");
    return;
  }
  ext_int(req, v1 ? "reconsumeTimes" : "j", &recon);
  ext_int(req, v1 ? "maxReconsumeTimes" : "l", &maxre);
  if (!rmqi_mock_name_ok(topic, 255)) {
    failf(c, cn, req, RMQ_INVALID_PARAMETER, rtt, "invalid topic name %s",
          topic);
    return;
  }
  if (forbidden_topic(topic)) {
    failf(c, cn, req, RMQ_NO_PERMISSION, rtt,
          "Sending message to topic[%s] is forbidden.", topic);
    return;
  }
  size_t vl;
  if ((sys & 0xC) == 0x4 ||
      (props && rmqi_props_get(props, pv->n, "TRAN_MSG", &vl))) {
    failf(c, cn, req, RMQ_NO_PERMISSION, rtt,
          "the mock cluster does not take transactional messages");
    return;
  }
  if (req->body_len == 0 || req->body_len > MAX_BODY) {
    failf(c, cn, req, RMQ_MESSAGE_ILLEGAL, rtt,
          "the message body is empty or larger than 4 MiB");
    return;
  }
  rmqi_mock_topic_t *t = rmqi_mock_topic_find(c, topic);
  if (strncmp(topic, "%RETRY%", 7) == 0 && maxre >= 0 && recon > maxre)
    t = group_topic(c, "%DLQ%", topic + 7); /* to the dead letters */
  if (t == NULL && c->auto_queues > 0 && auto_create_ok(topic))
    rmqi_mock_topic_add(c, topic, c->auto_queues, &t);
  if (t == NULL) {
    failf(c, cn, req, RMQ_TOPIC_NOT_EXIST, rtt,
          "topic[%s] not exist, apply first please!", topic);
    return;
  }
  int b = cn->srv - 1;
  if (qid < 0)
    qid = (int64_t)(c->srv[cn->srv].rr++ % (uint32_t)t->nq);
  if (qid >= t->nq) {
    failf(c, cn, req, RMQ_INVALID_PARAMETER, rtt,
          "request queueId is illegal, topic %s", topic);
    return;
  }
  rmqi_mock_queue_t *q = rmqi_mock_q(t, b, (int)qid);
  store_in_t in = {.topic = t->name,
                   .qid = (int32_t)qid,
                   .flag = (int32_t)flag,
                   .sys_flag = (int32_t)sys,
                   .reconsume = (int32_t)recon,
                   .born_ts = born,
                   .born_port = cn->born_port};
  memcpy(in.born, cn->born, 4);
  rmqi_buf_t ids, pb;
  rmqi_buf_init(&ids);
  rmqi_buf_init(&pb);
  char uniq[57] = "", id[57];
  int64_t first = -1, qoff;
  rmq_err_t rc = RMQ_OK;
  if (!batch) {
    if (!stored_props(c, &pb, props ? props : "", props ? pv->n : 0, uniq,
                      true))
      rc = RMQ_MESSAGE_ILLEGAL;
    in.body = req->body;
    in.body_len = req->body_len;
    in.props = (const char *)pb.data;
    in.props_len = pb.len;
    if (rc == RMQ_OK && (rc = store(c, b, q, &in, id, &first)) == RMQ_OK)
      rmqi_buf_put_str(&ids, id);
  } else {
    /* every entry is checked before any is stored: all or nothing */
    size_t pos = 0, next, n = 0;
    rmqi_batch_entry_t e;
    while (rc == RMQ_OK && pos < req->body_len)
      if (rmqi_batch_decode(req->body + pos, req->body_len - pos, &e, &next,
                            NULL) != RMQ_OK)
        rc = RMQ_MESSAGE_ILLEGAL;
      else if (e.props_len + 80 > RMQI_PROPS_MAX_LEN)
        rc = RMQ_MESSAGE_ILLEGAL;
      else
        pos += next, n++;
    if (rc == RMQ_OK &&
        c->stored_bytes + req->body_len + n * 200 > c->max_bytes)
      rc = RMQ_SERVICE_NOT_AVAILABLE;
    for (pos = 0; rc == RMQ_OK && pos < req->body_len; pos += next) {
      rmqi_batch_decode(req->body + pos, req->body_len - pos, &e, &next, NULL);
      pb.len = 0;
      char u[57];
      if (!stored_props(c, &pb, e.props, e.props_len, u, false)) {
        rc = RMQ_MESSAGE_ILLEGAL;
        break;
      }
      in.flag = e.flag;
      in.body = e.body;
      in.body_len = e.body_len;
      in.props = (const char *)pb.data;
      in.props_len = pb.len;
      if ((rc = store(c, b, q, &in, id, &qoff)) != RMQ_OK)
        break;
      if (first < 0)
        first = qoff;
      if (ids.len)
        rmqi_buf_put(&ids, ",", 1);
      rmqi_buf_put_str(&ids, id);
    }
  }
  if (rc == RMQ_OK && !rmqi_buf_ok(&ids))
    rc = RMQ_ERR_NOMEM;
  if (rc != RMQ_OK) {
    failf(c, cn, req, rc == RMQ_ERR_NOMEM ? RMQ_SYSTEM_ERROR : (int32_t)rc, rtt,
          "%s",
          rc == RMQ_SERVICE_NOT_AVAILABLE
              ? "service not available now: the mock cluster's storage "
                "limit is reached"
          : rc == RMQ_MESSAGE_ILLEGAL ? "the message is illegal"
                                      : "out of memory");
  } else {
    rmqi_cmd_t resp;
    resp_init(&resp, req, RMQ_OK);
    rmqi_cmd_ext_copy(&resp, "msgId", (const char *)ids.data, ids.len);
    ext_i64(&resp, "queueId", qid);
    ext_i64(&resp, "queueOffset", first);
    if (!batch)
      rmqi_cmd_ext_copy(&resp, "transactionId", uniq, strlen(uniq));
    rmqi_cmd_ext_ref(&resp, "MSG_REGION", "DefaultRegion", 13);
    rmqi_cmd_ext_ref(&resp, "TRACE_ON", "true", 4);
    send_resp(c, cn, req, &resp, rtt);
  }
  rmqi_buf_free(&ids);
  rmqi_buf_free(&pb);
}

/* CONSUMER_SEND_MSG_BACK: the message again in %RETRY%<group>, or in
 * %DLQ%<group> past its reconsume times (delays are not honoured). */
static void serve_send_back(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                            const rmqi_cmd_t *req, int rtt) {
  int64_t off, delay = 0, maxre = 16;
  const char *group = ext(req, "group"), *origin = ext(req, "originMsgId");
  if (!ext_int(req, "offset", &off) || group == NULL ||
      !rmqi_mock_name_ok(group, 255)) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "bad send-back header");
    return;
  }
  ext_int(req, "delayLevel", &delay);
  ext_int(req, "maxReconsumeTimes", &maxre);
  int b = cn->srv - 1;
  rmqi_mock_rec_t *found = rmqi_mock_find_clog(c, b, off);
  rmqi_msgrec_t r;
  size_t next;
  if (found == NULL ||
      rmqi_msgrec_decode(found->bytes, found->len, &r, &next, NULL) != RMQ_OK) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "look message by offset failed");
    return;
  }
  bool dlq = r.reconsume_times >= maxre || delay < 0;
  rmqi_mock_topic_t *t = group_topic(c, dlq ? "%DLQ%" : "%RETRY%", group);
  if (t == NULL) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "too many topics");
    return;
  }
  /* the record may move (the ring may grow): copy what is needed */
  uint8_t *copy = malloc(found->len);
  if (copy == NULL) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "out of memory");
    return;
  }
  memcpy(copy, found->bytes, found->len);
  rmqi_msgrec_decode(copy, found->len, &r, &next, NULL);
  rmqi_buf_t pb;
  rmqi_buf_init(&pb);
  rmqi_buf_put(&pb, r.props, r.props_len);
  char topic[300];
  snprintf(topic, sizeof(topic), "%.*s", (int)r.topic_len, r.topic);
  props_add(&pb, "RETRY_TOPIC", topic);
  if (origin && *origin)
    props_add(&pb, "ORIGIN_MESSAGE_ID", origin);
  store_in_t in = {.topic = t->name,
                   .qid = 0,
                   .flag = r.flag,
                   .sys_flag = r.sys_flag,
                   .reconsume = r.reconsume_times + 1,
                   .born_ts = r.born_ts,
                   .born_port = r.born.port,
                   .body = r.body,
                   .body_len = r.body_len,
                   .props = (const char *)pb.data,
                   .props_len = pb.len};
  memcpy(in.born, r.born.addr, 4);
  char id[57];
  int64_t qoff;
  rmq_err_t rc = rmqi_buf_ok(&pb) && pb.len <= RMQI_PROPS_MAX_LEN
                     ? store(c, b, rmqi_mock_q(t, b, 0), &in, id, &qoff)
                     : RMQ_MESSAGE_ILLEGAL;
  free(copy);
  rmqi_buf_free(&pb);
  if (rc != RMQ_OK) {
    failf(c, cn, req, rc > 0 ? (int32_t)rc : RMQ_SYSTEM_ERROR, rtt,
          "send back failed");
    return;
  }
  ok_body(c, cn, req, NULL, 0, rtt);
}

/* ---- pulling ------------------------------------------------------------- */

/* Whether the TAGS of record @p r match a TAG expression ("*", "A || B"). */
static bool tag_match(const char *expr, const rmqi_mock_rec_t *rec) {
  if (expr == NULL || *expr == '\0' || strcmp(expr, "*") == 0)
    return true;
  rmqi_msgrec_t r;
  size_t next, tl = 0;
  if (rmqi_msgrec_decode(rec->bytes, rec->len, &r, &next, NULL) != RMQ_OK)
    return false;
  const char *tag = rmqi_props_get(r.props, r.props_len, "TAGS", &tl);
  if (tag == NULL)
    return false;
  for (const char *p = expr; *p;) {
    while (*p == ' ' || *p == '|')
      p++;
    const char *e = p;
    while (*e && *e != '|')
      e++;
    const char *end = e;
    while (end > p && end[-1] == ' ')
      end--;
    if ((size_t)(end - p) == tl && memcmp(p, tag, tl) == 0)
      return true;
    p = e;
  }
  return false;
}

static void pull_resp(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                      const rmqi_cmd_t *req, int32_t code, int64_t next,
                      const rmqi_mock_queue_t *q, const rmqi_buf_t *body,
                      int rtt) {
  rmqi_cmd_t resp;
  resp_init(&resp, req, code);
  ext_i64(&resp, "suggestWhichBrokerId", 0);
  ext_i64(&resp, "nextBeginOffset", next);
  ext_i64(&resp, "minOffset", q ? q->min_off : 0);
  ext_i64(&resp, "maxOffset", q ? rmqi_mock_q_max(q) : 0);
  if (body) {
    resp.body = body->data;
    resp.body_len = body->len;
  }
  send_resp(c, cn, req, &resp, rtt);
}

/* Returns false when the pull is to be held (nothing answered). */
static bool serve_pull(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                       const rmqi_cmd_t *req, int rtt, bool may_hold) {
  const char *group = ext(req, "consumerGroup");
  int64_t off, max_nums = 32, sys = 0, commit = -1;
  if (group == NULL || !ext_int(req, "queueOffset", &off)) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "bad pull header");
    return true;
  }
  ext_int(req, "maxMsgNums", &max_nums);
  ext_int(req, "sysFlag", &sys);
  rmqi_mock_queue_t *q = req_queue(c, cn, req, rtt, true);
  if (q == NULL)
    return true;
  int g = rmqi_mock_group(c, group, true);
  if (may_hold && (sys & PULL_COMMIT) &&
      ext_int(req, "commitOffset", &commit) && commit >= 0 && g >= 0) {
    int64_t *o = rmqi_mock_q_offset(q, g, true);
    if (o)
      *o = commit;
  }
  const char *expr = NULL, *type = NULL;
  if (sys & PULL_SUB) {
    expr = ext(req, "subscription");
    type = ext(req, "expressionType");
  } else if (g >= 0) {
    const rmqi_mock_sub_t *s =
        rmqi_mock_member_sub(c, cn->srv, g, ext(req, "topic"));
    if (s) {
      expr = s->expr;
      type = s->type;
    }
  }
  if (type && strcmp(type, "SQL92") == 0) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt,
          "The broker does not support consumer to filter message by SQL92");
    return true;
  }
  int64_t max = rmqi_mock_q_max(q);
  if (off < q->min_off || off > max) {
    pull_resp(c, cn, req, RMQ_PULL_OFFSET_MOVED,
              off < q->min_off ? q->min_off : max, q, NULL, rtt);
    return true;
  }
  if (off == max) {
    if (may_hold && (sys & PULL_SUSPEND))
      return false;
    pull_resp(c, cn, req, RMQ_PULL_NOT_FOUND, off, q, NULL, rtt);
    return true;
  }
  if (max_nums < 1 || max_nums > RMQI_MOCK_PULL_MAX_MSGS)
    max_nums = RMQI_MOCK_PULL_MAX_MSGS;
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  int64_t o = off, found = 0;
  for (; o < max && found < max_nums && o - off < 16000; o++) {
    rmqi_mock_rec_t *r = rmqi_mock_q_at(q, o);
    if (found > 0 && body.len + r->len > RMQI_MOCK_PULL_MAX_BYTES)
      break;
    if (!tag_match(expr, r))
      continue;
    rmqi_buf_put(&body, r->bytes, r->len);
    found++;
  }
  if (!rmqi_buf_ok(&body))
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "out of memory");
  else if (found == 0)
    pull_resp(c, cn, req, RMQ_PULL_RETRY_IMMEDIATELY, o, q, NULL, rtt);
  else
    pull_resp(c, cn, req, RMQ_OK, o, q, &body, rtt);
  rmqi_buf_free(&body);
  return true;
}

static void hold(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                 const uint8_t *frame, size_t len, int rtt, int64_t suspend) {
  int64_t wait = suspend < c->pull_hold_ms ? suspend : c->pull_hold_ms;
  rmqi_mock_held_t h = {.due = rmqi_now_ms() + (wait > 0 ? wait : 0),
                        .conn = cn->id,
                        .srv = cn->srv,
                        .rtt_ms = rtt};
  if (c->n_held < RMQI_MOCK_MAX_HELD && c->n_held == c->cap_held) {
    size_t nc = c->cap_held ? c->cap_held * 2 : 16;
    rmqi_mock_held_t *v = realloc(c->held, nc * sizeof(*v));
    if (v) {
      c->held = v;
      c->cap_held = nc;
    }
  }
  if (c->n_held < RMQI_MOCK_MAX_HELD && c->n_held < c->cap_held &&
      (h.frame = malloc(len)) != NULL &&
      (h.req = malloc(sizeof(*h.req))) != NULL) {
    memcpy(h.frame, frame, len);
    if (rmqi_cmd_decode(h.req, h.frame, len, NULL) == RMQ_OK) {
      c->held[c->n_held++] = h;
      return;
    }
    free(h.req);
    h.req = NULL;
  }
  free(h.frame);
  /* no room to hold it: answer at once, as without long polling */
  rmqi_cmd_t req;
  if (rmqi_cmd_decode(&req, frame, len, NULL) == RMQ_OK) {
    serve_pull(c, cn, &req, rtt, false);
    rmqi_cmd_free(&req);
  }
}

void rmqi_mock_held_free(rmqi_mock_held_t *h) {
  if (h->req) {
    rmqi_cmd_free(h->req);
    free(h->req);
  }
  free(h->frame);
}

int64_t rmqi_mock_held_run(rmq_mock_cluster_t *c, int64_t now_ms) {
  int64_t next = INT64_MAX;
  for (size_t i = 0; i < c->n_held;) {
    rmqi_mock_held_t *h = &c->held[i];
    rmqi_mock_conn_t *cn = rmqi_mock_conn_find(c, h->conn);
    bool go = cn == NULL || h->due <= now_ms;
    if (!go) {
      rmqi_mock_queue_t *q = req_queue(c, cn, h->req, 0, false);
      int64_t off;
      go = q == NULL || !ext_int(h->req, "queueOffset", &off) ||
           off != rmqi_mock_q_max(q);
    }
    if (!go) {
      next = h->due < next ? h->due : next;
      i++;
      continue;
    }
    if (cn)
      serve_pull(c, cn, h->req, h->rtt_ms, false);
    rmqi_mock_held_free(h);
    c->held[i] = c->held[--c->n_held];
  }
  return next;
}

/* ---- offsets ------------------------------------------------------------- */

static void offset_resp(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                        const rmqi_cmd_t *req, const char *key, int64_t v,
                        int rtt) {
  rmqi_cmd_t resp;
  resp_init(&resp, req, RMQ_OK);
  ext_i64(&resp, key, v);
  send_resp(c, cn, req, &resp, rtt);
}

static void serve_offsets(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                          const rmqi_cmd_t *req, int rtt) {
  const char *group = ext(req, "consumerGroup");
  bool consumer = req->code == RC_QUERY_CONSUMER_OFFSET ||
                  req->code == RC_UPDATE_CONSUMER_OFFSET;
  if (consumer && group == NULL) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "no consumerGroup");
    return;
  }
  /* unknown topics: queries answer 0 as a broker does, others fail */
  bool lenient = req->code == RC_GET_MAX_OFFSET ||
                 req->code == RC_GET_MIN_OFFSET ||
                 req->code == RC_SEARCH_OFFSET_BY_TIMESTAMP;
  rmqi_mock_queue_t *q = req_queue(
      c, cn, req, rtt, !lenient && req->code != RC_QUERY_CONSUMER_OFFSET);
  if (q == NULL) {
    if (lenient)
      offset_resp(c, cn, req, "offset", 0, rtt);
    else if (req->code == RC_QUERY_CONSUMER_OFFSET)
      failf(c, cn, req, RMQ_QUERY_NOT_FOUND, rtt, "Not found");
    return;
  }
  int64_t v = 0, ts = 0;
  int g = consumer ? rmqi_mock_group(c, group, true) : -1;
  switch (req->code) {
  case RC_QUERY_CONSUMER_OFFSET: {
    int64_t *o = g >= 0 ? rmqi_mock_q_offset(q, g, false) : NULL;
    const char *zero = ext(req, "setZeroIfNotFound");
    /* a broker answers 0 for a new group while offset 0 is still stored */
    if (o)
      offset_resp(c, cn, req, "offset", *o, rtt);
    else if (q->min_off == 0 && !(zero && strcmp(zero, "false") == 0))
      offset_resp(c, cn, req, "offset", 0, rtt);
    else
      failf(c, cn, req, RMQ_QUERY_NOT_FOUND, rtt,
            "Not found, maybe this group consumer boot first");
    return;
  }
  case RC_UPDATE_CONSUMER_OFFSET: {
    int64_t *o = g >= 0 ? rmqi_mock_q_offset(q, g, true) : NULL;
    if (!ext_int(req, "commitOffset", &v) || o == NULL) {
      failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "bad commitOffset");
      return;
    }
    *o = v;
    ok_body(c, cn, req, NULL, 0, rtt);
    return;
  }
  case RC_GET_MAX_OFFSET:
    v = rmqi_mock_q_max(q);
    break;
  case RC_GET_MIN_OFFSET:
    v = q->min_off;
    break;
  case RC_SEARCH_OFFSET_BY_TIMESTAMP:
    if (!ext_int(req, "timestamp", &ts))
      ts = 0;
    for (v = q->min_off; v < rmqi_mock_q_max(q); v++)
      if (rmqi_mock_q_at(q, v)->store_ts >= ts)
        break;
    break;
  case RC_GET_EARLIEST_MSG_STORETIME:
    if (q->n == 0) {
      failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "the queue is empty");
      return;
    }
    offset_resp(c, cn, req, "timestamp",
                rmqi_mock_q_at(q, q->min_off)->store_ts, rtt);
    return;
  }
  offset_resp(c, cn, req, "offset", v, rtt);
}

/* ---- clients and groups -------------------------------------------------- */

static void serve_heartbeat(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                            const rmqi_cmd_t *req, int rtt) {
  rmqi_json_t doc;
  if (rmqi_json_parse(&doc, (const char *)req->body, req->body_len, NULL) !=
      RMQ_OK) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "heartbeat body is no JSON");
    return;
  }
  const char *client = rmqi_json_str(doc.root, "clientID");
  const rmqi_jval_t *cs = rmqi_json_get(doc.root, "consumerDataSet");
  for (size_t i = 0; client && cs && cs->type == RMQI_JARR && i < cs->n; i++) {
    const rmqi_jval_t *cd = cs->items[i];
    const char *gname = rmqi_json_str(cd, "groupName");
    int g = gname ? rmqi_mock_group(c, gname, true) : -1;
    if (g < 0)
      continue;
    rmqi_mock_sub_t subs[RMQI_MOCK_MAX_SUBS];
    size_t n = 0;
    const rmqi_jval_t *ss = rmqi_json_get(cd, "subscriptionDataSet");
    for (size_t k = 0;
         ss && ss->type == RMQI_JARR && k < ss->n && n < RMQI_MOCK_MAX_SUBS;
         k++) {
      const char *t = rmqi_json_str(ss->items[k], "topic");
      const char *e = rmqi_json_str(ss->items[k], "subString");
      const char *ty = rmqi_json_str(ss->items[k], "expressionType");
      if (t)
        subs[n++] = (rmqi_mock_sub_t){(char *)t, (char *)(e ? e : "*"),
                                      (char *)(ty ? ty : "TAG")};
    }
    group_topic(c, "%RETRY%", gname); /* as a broker creates it */
    rmqi_mock_member_put(c, cn->srv, cn->id, client, g, subs, n);
  }
  rmqi_json_free(&doc);
  ok_body(c, cn, req, NULL, 0, rtt);
}

static void serve_unregister(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                             const rmqi_cmd_t *req, int rtt) {
  const char *client = ext(req, "clientID"), *group = ext(req, "consumerGroup");
  int g = group ? rmqi_mock_group(c, group, false) : -1;
  if (client && g >= 0)
    rmqi_mock_members_drop(c, cn->srv, 0, client, g);
  ok_body(c, cn, req, NULL, 0, rtt);
}

static void serve_consumer_list(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                                const rmqi_cmd_t *req, int rtt) {
  const char *group = ext(req, "consumerGroup");
  int g = group ? rmqi_mock_group(c, group, false) : -1;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_arr(&w, "consumerIdList");
  size_t n = 0;
  for (size_t i = 0; g >= 0 && i < c->n_members; i++) {
    rmqi_mock_member_t *m = &c->members[i];
    if (m->srv != cn->srv || m->group != g)
      continue;
    rmqi_jw_str(&w, NULL, m->client);
    n++;
  }
  rmqi_jw_end_arr(&w);
  rmqi_jw_end_obj(&w);
  if (n == 0)
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "no consumer for this group, %s",
          S(group));
  else {
    ok_body(c, cn, req, b.data, b.len, rtt);
  }
  rmqi_buf_free(&b);
}

/* LOCK_BATCH_MQ / UNLOCK_BATCH_MQ: orderly consumers' queue locks. */
static void serve_lock(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                       const rmqi_cmd_t *req, int rtt) {
  rmqi_json_t doc;
  if (rmqi_json_parse(&doc, (const char *)req->body, req->body_len, NULL) !=
      RMQ_OK) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "lock body is no JSON");
    return;
  }
  bool lock = req->code == RC_LOCK_BATCH_MQ;
  const char *group = rmqi_json_str(doc.root, "consumerGroup");
  const char *client = rmqi_json_str(doc.root, "clientId");
  const rmqi_jval_t *set = rmqi_json_get(doc.root, "mqSet");
  int g = group ? rmqi_mock_group(c, group, lock) : -1;
  int64_t now = rmqi_now_ms();
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_jw_t w;
  rmqi_jw_init(&w, &b);
  rmqi_jw_obj(&w, NULL);
  rmqi_jw_arr(&w, "lockOKMQSet");
  for (size_t i = 0; g >= 0 && client && set && set->type == RMQI_JARR &&
                     i < set->n && i < 65536;
       i++) {
    const rmqi_jval_t *mq = set->items[i];
    const char *topic = rmqi_json_str(mq, "topic");
    const char *bname = rmqi_json_str(mq, "brokerName");
    int64_t qid;
    rmqi_mock_topic_t *t = topic ? rmqi_mock_topic_find(c, topic) : NULL;
    if (t == NULL || bname == NULL ||
        strcmp(bname, c->srv[cn->srv].name) != 0 ||
        !rmqi_json_int(mq, "queueId", &qid) || qid < 0 || qid >= t->nq)
      continue;
    rmqi_mock_queue_t *q = rmqi_mock_q(t, cn->srv - 1, (int)qid);
    rmqi_mock_lock_t *l = NULL;
    for (size_t k = 0; k < q->n_locks && l == NULL; k++)
      if (q->locks[k].group == g)
        l = &q->locks[k];
    if (!lock) {
      if (l && strcmp(l->client, client) == 0)
        *l = q->locks[--q->n_locks];
      continue;
    }
    if (l == NULL) {
      rmqi_mock_lock_t *v = realloc(q->locks, (q->n_locks + 1) * sizeof(*v));
      if (v == NULL)
        continue;
      q->locks = v;
      l = &v[q->n_locks++];
      l->expires = 0;
    }
    if (l->expires > now && strcmp(l->client, client) != 0)
      continue; /* another client holds it */
    l->group = g;
    snprintf(l->client, sizeof(l->client), "%s", client);
    l->expires = now + RMQI_MOCK_LOCK_EXPIRY_MS;
    rmqi_jw_obj(&w, NULL);
    rmqi_jw_str(&w, "brokerName", bname);
    rmqi_jw_i64(&w, "queueId", qid);
    rmqi_jw_str(&w, "topic", topic);
    rmqi_jw_end_obj(&w);
  }
  rmqi_jw_end_arr(&w);
  rmqi_jw_end_obj(&w);
  rmqi_json_free(&doc);
  ok_body(c, cn, req, lock ? b.data : NULL, lock ? b.len : 0, rtt);
  rmqi_buf_free(&b);
}

static void serve_view(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                       const rmqi_cmd_t *req, int rtt) {
  int64_t off;
  rmqi_mock_rec_t *r = ext_int(req, "offset", &off)
                           ? rmqi_mock_find_clog(c, cn->srv - 1, off)
                           : NULL;
  if (r == NULL) {
    failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt, "no message at this offset");
    return;
  }
  ok_body(c, cn, req, r->bytes, r->len, rtt);
}

/* ---- dispatch ------------------------------------------------------------ */

void rmqi_mock_serve_code(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                          const rmqi_cmd_t *req, int32_t code, int rtt) {
  bool pull = req->code == RC_PULL_MESSAGE || req->code == RC_LITE_PULL_MESSAGE;
  if (pull && cn->srv > 0 &&
      (code == RMQ_PULL_NOT_FOUND || code == RMQ_PULL_RETRY_IMMEDIATELY ||
       code == RMQ_PULL_OFFSET_MOVED)) {
    int64_t off = 0;
    ext_int(req, "queueOffset", &off);
    pull_resp(c, cn, req, code, off, req_queue(c, cn, req, 0, false), NULL,
              rtt);
    return;
  }
  char remark[64];
  snprintf(remark, sizeof(remark), "injected by rmq_mock (%d)", (int)code);
  failf(c, cn, req, code, rtt, "%s", remark);
}

void rmqi_mock_serve(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                     const rmqi_cmd_t *req, const uint8_t *frame,
                     size_t frame_len, int rtt) {
  if (cn->srv == 0) {
    if (req->code == RC_GET_ROUTEINFO_BY_TOPIC)
      serve_route(c, cn, req, rtt);
    else if (req->code == RC_GET_BROKER_CLUSTER_INFO)
      serve_cluster_info(c, cn, req, rtt);
    else
      failf(c, cn, req, RMQ_REQUEST_CODE_NOT_SUPPORTED, rtt,
            "the mock name server does not support this request code");
    return;
  }
  typedef void serve_fn(rmq_mock_cluster_t *, rmqi_mock_conn_t *,
                        const rmqi_cmd_t *, int);
  static const struct {
    int32_t code;
    serve_fn *fn;
  } table[] = {
      {RC_SEND_MESSAGE, serve_send},
      {RC_SEND_MESSAGE_V2, serve_send},
      {RC_SEND_BATCH_MESSAGE, serve_send},
      {RC_QUERY_CONSUMER_OFFSET, serve_offsets},
      {RC_UPDATE_CONSUMER_OFFSET, serve_offsets},
      {RC_SEARCH_OFFSET_BY_TIMESTAMP, serve_offsets},
      {RC_GET_MAX_OFFSET, serve_offsets},
      {RC_GET_MIN_OFFSET, serve_offsets},
      {RC_GET_EARLIEST_MSG_STORETIME, serve_offsets},
      {RC_VIEW_MESSAGE_BY_ID, serve_view},
      {RC_HEART_BEAT, serve_heartbeat},
      {RC_UNREGISTER_CLIENT, serve_unregister},
      {RC_CONSUMER_SEND_MSG_BACK, serve_send_back},
      {RC_GET_CONSUMER_LIST_BY_GROUP, serve_consumer_list},
      {RC_LOCK_BATCH_MQ, serve_lock},
      {RC_UNLOCK_BATCH_MQ, serve_lock},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (table[i].code == req->code) {
      table[i].fn(c, cn, req, rtt);
      return;
    }
  switch (req->code) {
  case RC_PULL_MESSAGE:
  case RC_LITE_PULL_MESSAGE:
    if (!serve_pull(c, cn, req, rtt, true)) {
      int64_t suspend = 0;
      ext_int(req, "suspendTimeoutMillis", &suspend);
      hold(c, cn, frame, frame_len, rtt, suspend);
    }
    break;
  case RC_CHECK_CLIENT_CONFIG:
    if (req->body_len && memmem(req->body, req->body_len, "SQL92", 5))
      failf(c, cn, req, RMQ_SYSTEM_ERROR, rtt,
            "The broker does not support consumer to filter message by "
            "SQL92");
    else {
      ok_body(c, cn, req, NULL, 0, rtt);
    }
    break;
  default: {
    char code[16];
    snprintf(code, sizeof(code), "%d", (int)req->code);
    failf(c, cn, req, RMQ_REQUEST_CODE_NOT_SUPPORTED, rtt,
          "the mock broker does not support request code %s", code);
  }
  }
}

#include "reply.h"
#include "cmd_int.h"

#include <arpa/inet.h>
#include <string.h>

bool rmqi_host_parse(const char *s, size_t n, rmqi_host_t *h) {
  memset(h, 0, sizeof(*h));
  const char *colon = NULL;
  for (size_t i = n; i > 0; i--)
    if (s[i - 1] == ':') {
      colon = s + i - 1;
      break;
    }
  if (colon == NULL)
    return false;
  size_t hl = (size_t)(colon - s);
  const char *host = s;
  if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
    host++;
    hl -= 2;
  }
  int64_t port;
  size_t pl = n - (size_t)(colon - s) - 1;
  if (!rmqi_parse_i64(colon + 1, pl, &port) || port < 0 || port > 65535)
    return false;
  char buf[64];
  if (hl == 0 || hl >= sizeof(buf))
    return false;
  memcpy(buf, host, hl);
  buf[hl] = '\0';
  if (inet_pton(AF_INET, buf, h->addr) == 1)
    h->len = 4;
  else if (inet_pton(AF_INET6, buf, h->addr) == 1)
    h->len = 16;
  else
    return false;
  h->port = (uint32_t)port;
  return true;
}

/* An optional number within [lo, hi]; absent: 0. */
static rmq_err_t num(const rmqi_cmd_t *req, const char *key, int64_t lo,
                     int64_t hi, int64_t *out, rmqi_errbuf_t *e) {
  *out = 0;
  const rmqi_str_t *v = rmqi_cmd_ext_get(req, key);
  if (v == NULL)
    return RMQ_OK;
  if (!rmqi_parse_i64(v->p, v->n, out) || *out < lo || *out > hi)
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, 0,
                    "reply header field %s is not a number in range: \"%.*s\"",
                    key, (int)(v->n > 40 ? 40 : v->n), v->p);
  return RMQ_OK;
}

static void host(const rmqi_cmd_t *req, const char *key, rmqi_host_t *h) {
  const rmqi_str_t *v = rmqi_cmd_ext_get(req, key);
  if (v == NULL || !rmqi_host_parse(v->p, v->n, h))
    memset(h, 0, sizeof(*h));
}

rmq_err_t rmqi_reply_decode(const rmqi_cmd_t *req, rmqi_msgrec_t *rec,
                            rmqi_errbuf_t *e) {
  memset(rec, 0, sizeof(*rec));
  const rmqi_str_t *topic = rmqi_cmd_ext_get(req, "topic");
  if (topic == NULL || topic->n == 0 || topic->n > 255)
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, 0,
                    "reply without a topic (or one of %zu bytes)",
                    topic ? topic->n : 0);
  const rmqi_str_t *props = rmqi_cmd_ext_get(req, "properties");
  if (props && props->n > UINT16_MAX)
    return rmqi_err(e, RMQ_ERR_LIMIT, 0,
                    "reply properties of %zu bytes, more than 65535", props->n);
  if (req->body_len > UINT32_MAX)
    return rmqi_err(e, RMQ_ERR_LIMIT, 0, "reply body of %zu bytes",
                    req->body_len);
  int64_t qid, sys, flag, born, store, rc_times;
  rmq_err_t rc = num(req, "queueId", INT32_MIN, INT32_MAX, &qid, e);
  if (rc == RMQ_OK)
    rc = num(req, "sysFlag", INT32_MIN, INT32_MAX, &sys, e);
  if (rc == RMQ_OK)
    rc = num(req, "flag", INT32_MIN, INT32_MAX, &flag, e);
  if (rc == RMQ_OK)
    rc = num(req, "reconsumeTimes", INT32_MIN, INT32_MAX, &rc_times, e);
  if (rc == RMQ_OK)
    rc = num(req, "bornTimestamp", INT64_MIN, INT64_MAX, &born, e);
  if (rc == RMQ_OK)
    rc = num(req, "storeTimestamp", INT64_MIN, INT64_MAX, &store, e);
  if (rc != RMQ_OK)
    return rc;
  rec->topic = topic->p;
  rec->topic_len = (uint16_t)topic->n;
  rec->props = props ? props->p : "";
  rec->props_len = props ? (uint16_t)props->n : 0;
  rec->body = req->body;
  rec->body_len = (uint32_t)req->body_len;
  rec->queue_id = (int32_t)qid;
  rec->sys_flag = (int32_t)sys;
  rec->flag = (int32_t)flag;
  rec->reconsume_times = (int32_t)rc_times;
  rec->born_ts = born;
  rec->store_ts = store;
  rec->queue_offset = -1;
  rec->commitlog_offset = -1;
  host(req, "bornHost", &rec->born);
  host(req, "storeHost", &rec->store);
  return RMQ_OK;
}

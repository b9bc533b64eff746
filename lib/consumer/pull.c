#include "pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RC_PULL_MESSAGE = 11 };

static rmq_err_t build(rmqi_cmd_t *cmd, const rmqi_pull_req_t *rq) {
  rmqi_cmd_init(cmd, RC_PULL_MESSAGE);
  rmq_err_t rc = RMQ_OK;
  rc |= rmqi_cmd_ext_ref(cmd, "consumerGroup", rq->group, strlen(rq->group));
  rc |= rmqi_cmd_ext_ref(cmd, "topic", rq->topic, strlen(rq->topic));
  rc |= rmqi_cmd_ext_int(cmd, "queueId", rq->queue_id);
  rc |= rmqi_cmd_ext_int(cmd, "queueOffset", rq->offset);
  rc |= rmqi_cmd_ext_int(cmd, "maxMsgNums", rq->max_nums);
  rc |= rmqi_cmd_ext_int(cmd, "sysFlag", rq->sys_flag);
  rc |= rmqi_cmd_ext_int(cmd, "commitOffset", rq->commit_offset);
  rc |= rmqi_cmd_ext_int(cmd, "suspendTimeoutMillis", rq->suspend_ms);
  rc |= rmqi_cmd_ext_int(cmd, "subVersion", rq->sub_version);
  if (rq->subscription)
    rc |= rmqi_cmd_ext_ref(cmd, "subscription", rq->subscription,
                           strlen(rq->subscription));
  if (rq->expression_type)
    rc |= rmqi_cmd_ext_ref(cmd, "expressionType", rq->expression_type,
                           strlen(rq->expression_type));
  if (rq->broker)
    rc |= rmqi_cmd_ext_ref(cmd, "bname", rq->broker, strlen(rq->broker));
  if (rc != RMQ_OK) {
    rmqi_cmd_free(cmd);
    return RMQ_ERR_NOMEM;
  }
  return RMQ_OK;
}

rmq_err_t rmqi_pull_parse(const rmqi_cmd_t *resp, const char *addr,
                          rmqi_pull_res_t *res, char *err, size_t n) {
  memset(res, 0, sizeof(*res));
  int code = resp->code;
  if (code != 0 && code != RMQ_PULL_NOT_FOUND &&
      code != RMQ_PULL_RETRY_IMMEDIATELY && code != RMQ_PULL_OFFSET_MOVED) {
    snprintf(err, n, "pull from %s: %s (%d) %s", addr,
             rmq_err_name(rmqi_server_err(code)), code,
             resp->remark.p ? resp->remark.p : "");
    return rmqi_server_err(code);
  }
  res->status = code;
  if (rmqi_cmd_ext_get_int(resp, "nextBeginOffset", &res->next_begin) !=
          RMQ_OK ||
      rmqi_cmd_ext_get_int(resp, "minOffset", &res->min_offset) != RMQ_OK ||
      rmqi_cmd_ext_get_int(resp, "maxOffset", &res->max_offset) != RMQ_OK) {
    snprintf(err, n, "pull from %s: response without its offsets", addr);
    return RMQ_ERR_BAD_RESPONSE;
  }
  int64_t v;
  if (rmqi_cmd_ext_get_int(resp, "suggestWhichBrokerId", &v) == RMQ_OK)
    res->suggest_broker_id = v;
  if (code == 0 && resp->body_len) {
    res->body = malloc(resp->body_len);
    if (res->body == NULL) {
      snprintf(err, n, "pull from %s: no memory for %zu bytes", addr,
               (size_t)resp->body_len);
      return RMQ_ERR_NOMEM;
    }
    memcpy(res->body, resp->body, resp->body_len);
    res->body_len = resp->body_len;
  }
  return RMQ_OK;
}

rmq_err_t rmqi_pull_sync(rmq_client_t *c, const char *addr,
                         const rmqi_pull_req_t *rq, int64_t timeout_ms,
                         rmqi_pull_res_t *res, char *err, size_t n) {
  memset(res, 0, sizeof(*res));
  rmqi_cmd_t cmd;
  if (build(&cmd, rq) != RMQ_OK)
    return RMQ_ERR_NOMEM;
  rmqi_resp_t resp;
  char detail[256];
  rmq_err_t rc = rmqi_rpc_invoke_sync(c->rpc, addr, &cmd, timeout_ms, &resp,
                                      detail, sizeof(detail));
  rmqi_cmd_free(&cmd);
  if (rc != RMQ_OK) {
    snprintf(err, n, "pull from %s: %s", addr, detail);
    return rc;
  }
  rc = rmqi_pull_parse(&resp.cmd, addr, res, err, n);
  rmqi_resp_free(&resp);
  return rc;
}

rmq_err_t rmqi_pull_async(rmq_client_t *c, const char *addr,
                          const rmqi_pull_req_t *rq, int64_t timeout_ms,
                          rmqi_rpc_cb cb, void *arg) {
  rmqi_cmd_t cmd;
  if (build(&cmd, rq) != RMQ_OK)
    return RMQ_ERR_NOMEM;
  /* a long poll: the broker holds it until messages come, so a client's
   * destroy fails it (RMQ_ERR_SHUTDOWN) instead of waiting for it until
   * its deadline, as Java's shutdown drops its pulls */
  rmq_err_t rc = rmqi_rpc_invoke_idle(c->rpc, addr, &cmd, timeout_ms, cb, arg);
  rmqi_cmd_free(&cmd);
  return rc;
}

void rmqi_pull_res_free(rmqi_pull_res_t *res) {
  free(res->body);
  res->body = NULL;
  res->body_len = 0;
}

rmq_err_t rmqi_pull_next(const rmqi_pull_res_t *res, size_t *pos,
                         rmqi_msgrec_t *rec, rmqi_errbuf_t *e) {
  if (*pos >= res->body_len)
    return RMQ_ERR_NOT_FOUND;
  size_t next;
  rmq_err_t rc =
      rmqi_msgrec_decode(res->body + *pos, res->body_len - *pos, rec, &next, e);
  *pos = next ? *pos + next : res->body_len;
  return rc;
}

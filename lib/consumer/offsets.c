#include "offsets.h"

#include <stdio.h>
#include <string.h>

enum { RC_QUERY_CONSUMER_OFFSET = 14, RC_UPDATE_CONSUMER_OFFSET = 15 };

static rmq_err_t base(rmqi_cmd_t *cmd, int32_t code, const char *group,
                      const char *topic, const char *broker, int32_t queue_id) {
  rmqi_cmd_init(cmd, code);
  rmq_err_t rc = RMQ_OK;
  if (group)
    rc |= rmqi_cmd_ext_ref(cmd, "consumerGroup", group, strlen(group));
  rc |= rmqi_cmd_ext_ref(cmd, "topic", topic, strlen(topic));
  rc |= rmqi_cmd_ext_int(cmd, "queueId", queue_id);
  if (broker)
    rc |= rmqi_cmd_ext_ref(cmd, "bname", broker, strlen(broker));
  return rc == RMQ_OK ? RMQ_OK : RMQ_ERR_NOMEM;
}

/* Sends @p cmd and reads the `offset` field of a SUCCESS answer. */
static rmq_err_t call(rmq_client_t *c, const char *addr, rmqi_cmd_t *cmd,
                      const char *field, int64_t *out, char *err, size_t n) {
  rmqi_resp_t resp;
  char detail[256];
  rmq_err_t rc =
      rmqi_rpc_invoke_sync(c->rpc, addr, cmd, c->conf.v.api_timeout_ms, &resp,
                           detail, sizeof(detail));
  rmqi_cmd_free(cmd);
  if (rc != RMQ_OK) {
    snprintf(err, n, "%s", detail);
    return rc;
  }
  rc = rmqi_server_err(resp.cmd.code);
  if (rc == RMQ_OK && field &&
      rmqi_cmd_ext_get_int(&resp.cmd, field, out) != RMQ_OK) {
    snprintf(err, n, "%s: answer without %s", addr, field);
    rc = RMQ_ERR_BAD_RESPONSE;
  } else if (rc != RMQ_OK) {
    snprintf(err, n, "%s: %s (%d) %s", addr, rmq_err_name(rc), (int)rc,
             resp.cmd.remark.p ? resp.cmd.remark.p : "");
  }
  rmqi_resp_free(&resp);
  return rc;
}

rmq_err_t rmqi_queue_offset(rmq_client_t *c, const char *addr,
                            rmqi_off_kind_t kind, const char *topic,
                            const char *broker, int32_t queue_id,
                            int64_t timestamp_ms, int64_t *out, char *err,
                            size_t n) {
  rmqi_cmd_t cmd;
  rmq_err_t rc = base(&cmd, (int32_t)kind, NULL, topic, broker, queue_id);
  if (rc == RMQ_OK && kind == RMQI_OFF_MAX)
    rc = rmqi_cmd_ext_bool(&cmd, "committed", true);
  if (rc == RMQ_OK && kind == RMQI_OFF_BY_TIME)
    rc = rmqi_cmd_ext_int(&cmd, "timestamp", timestamp_ms);
  if (rc != RMQ_OK) {
    rmqi_cmd_free(&cmd);
    return rc;
  }
  return call(c, addr, &cmd, "offset", out, err, n);
}

rmq_err_t rmqi_consumer_offset(rmq_client_t *c, const char *addr,
                               const char *group, const char *topic,
                               const char *broker, int32_t queue_id,
                               int64_t *out, char *err, size_t n) {
  rmqi_cmd_t cmd;
  rmq_err_t rc =
      base(&cmd, RC_QUERY_CONSUMER_OFFSET, group, topic, broker, queue_id);
  if (rc != RMQ_OK) {
    rmqi_cmd_free(&cmd);
    return rc;
  }
  rc = call(c, addr, &cmd, "offset", out, err, n);
  return rc == RMQ_QUERY_NOT_FOUND ? RMQ_ERR_NOT_FOUND : rc;
}

rmq_err_t rmqi_commit_offset(rmq_client_t *c, const char *addr,
                             const char *group, const char *topic,
                             const char *broker, int32_t queue_id,
                             int64_t offset, bool oneway, char *err, size_t n) {
  rmqi_cmd_t cmd;
  rmq_err_t rc =
      base(&cmd, RC_UPDATE_CONSUMER_OFFSET, group, topic, broker, queue_id);
  if (rc == RMQ_OK)
    rc = rmqi_cmd_ext_int(&cmd, "commitOffset", offset);
  if (rc != RMQ_OK) {
    rmqi_cmd_free(&cmd);
    return rc;
  }
  if (oneway) {
    rc = rmqi_rpc_oneway(c->rpc, addr, &cmd);
    rmqi_cmd_free(&cmd);
    if (rc != RMQ_OK)
      snprintf(err, n, "%s: %s", addr, rmq_err_str(rc));
    return rc;
  }
  return call(c, addr, &cmd, NULL, NULL, err, n);
}

rmq_err_t rmqi_commit_offset_async(rmq_client_t *c, const char *addr,
                                   const char *group, const char *topic,
                                   const char *broker, int32_t queue_id,
                                   int64_t offset, rmqi_rpc_cb cb, void *arg) {
  rmqi_cmd_t cmd;
  rmq_err_t rc =
      base(&cmd, RC_UPDATE_CONSUMER_OFFSET, group, topic, broker, queue_id);
  if (rc == RMQ_OK)
    rc = rmqi_cmd_ext_int(&cmd, "commitOffset", offset);
  if (rc == RMQ_OK)
    rc = rmqi_rpc_invoke(c->rpc, addr, &cmd, c->conf.v.api_timeout_ms, cb, arg);
  rmqi_cmd_free(&cmd);
  return rc;
}

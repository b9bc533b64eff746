/*
 * The pull layer (requests.md §3.7): one PULL_MESSAGE for one queue, the
 * four outcomes (found, no new message, retry immediately, offset moved),
 * the response's offsets and suggested broker, and the stored records
 * decoded one by one so that a bad record fails alone.
 */
#ifndef RMQI_CONSUMER_PULL_H
#define RMQI_CONSUMER_PULL_H

#include "../client/client.h"
#include "../codec/msgrec.h"

/* PullSysFlag bits. */
enum {
  RMQI_PULL_COMMIT = 1,
  RMQI_PULL_SUSPEND = 2,
  RMQI_PULL_SUBSCRIPTION = 4,
  RMQI_PULL_LITE = 16,
};

typedef struct rmqi_pull_req {
  const char *group;
  const char *topic;
  const char *broker; /* for the 5.x `bname` field */
  int32_t queue_id;
  int64_t offset;
  int32_t max_nums;
  int32_t sys_flag;
  int64_t commit_offset;
  int64_t suspend_ms;
  const char *subscription; /* with RMQI_PULL_SUBSCRIPTION */
  const char *expression_type; /* "TAG" or "SQL92" */
  int64_t sub_version;
} rmqi_pull_req_t;

typedef struct rmqi_pull_res {
  int status; /* 0 FOUND, 19 NO_NEW_MSG, 20 NO_MATCHED_MSG, 21 OFFSET_MOVED */
  int64_t next_begin;
  int64_t min_offset;
  int64_t max_offset;
  int64_t suggest_broker_id;
  uint8_t *body; /* owned: the concatenated records (FOUND only) */
  size_t body_len;
} rmqi_pull_res_t;

/* One synchronous pull (not from the loop thread). Returns RMQ_OK for the
 * four pull outcomes (see res->status), else the transport or broker error
 * with a message in @p err. */
rmq_err_t rmqi_pull_sync(rmq_client_t *c, const char *addr,
                         const rmqi_pull_req_t *rq, int64_t timeout_ms,
                         rmqi_pull_res_t *res, char *err, size_t n);
void rmqi_pull_res_free(rmqi_pull_res_t *res);

/* Sends the pull without waiting; @p cb fires exactly once (on the loop
 * thread) when RMQ_OK is returned. Parse its response with
 * rmqi_pull_parse. */
rmq_err_t rmqi_pull_async(rmq_client_t *c, const char *addr,
                          const rmqi_pull_req_t *rq, int64_t timeout_ms,
                          rmqi_rpc_cb cb, void *arg);

/* Reads a pull response: RMQ_OK for the four pull outcomes (res->status;
 * res->body is a copy of the records), else the broker's code or
 * RMQ_ERR_BAD_RESPONSE with a message in @p err. */
rmq_err_t rmqi_pull_parse(const rmqi_cmd_t *resp, const char *addr,
                          rmqi_pull_res_t *res, char *err, size_t n);

/* Decodes the next record of a FOUND body at *pos. RMQ_OK with *pos moved
 * on; RMQ_ERR_NOT_FOUND at the end; another error for a bad record, with
 * *pos moved past it when that is possible (the caller goes on) or set to
 * the end when the rest cannot be trusted. */
rmq_err_t rmqi_pull_next(const rmqi_pull_res_t *res, size_t *pos,
                         rmqi_msgrec_t *rec, rmqi_errbuf_t *e);

#endif

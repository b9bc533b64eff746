/*
 * Message trace records in the Java client's trace data format
 * (org.apache.rocketmq.client.trace.TraceDataEncoder.encoderFromContextBean):
 * fields joined by CONTENT_SPLITOR (char 1), each record ended by
 * FIELD_SPLITOR (char 2), in Java's field order. A NULL string is written
 * as Java's StringBuilder writes a null: "null". Pure: no I/O, no threads.
 */
#ifndef RMQI_CODEC_TRACE_H
#define RMQI_CODEC_TRACE_H

#include "../util/buf.h"

enum { RMQI_TRACE_CONTENT_SPLITOR = 1, RMQI_TRACE_FIELD_SPLITOR = 2 };

typedef enum rmqi_trace_type {
  RMQI_TRACE_PUB,
  RMQI_TRACE_SUB_BEFORE,
  RMQI_TRACE_SUB_AFTER,
  RMQI_TRACE_END_TX,
} rmqi_trace_type_t;

/* Java's MessageType ordinals. */
enum {
  RMQI_TRACE_MSG_NORMAL = 0,
  RMQI_TRACE_MSG_TRANS_HALF = 1,
  RMQI_TRACE_MSG_TRANS_COMMIT = 2,
  RMQI_TRACE_MSG_DELAY = 3,
};

/* Java's ConsumeReturnType ordinals (SubAfter's context code). */
enum {
  RMQI_TRACE_RETURN_SUCCESS = 0,
  RMQI_TRACE_RETURN_TIME_OUT = 1,
  RMQI_TRACE_RETURN_EXCEPTION = 2,
  RMQI_TRACE_RETURN_NULL = 3,
  RMQI_TRACE_RETURN_FAILED = 4,
};

/* TraceBean: what one message contributes (strings borrowed). */
typedef struct rmqi_trace_bean {
  const char *topic, *msg_id, *offset_msg_id, *tags, *keys, *store_host;
  const char *transaction_id;
  const char *transaction_state; /* COMMIT_MESSAGE, ROLLBACK_MESSAGE, UNKNOW */
  int64_t body_length;
  int32_t retry_times;
  int msg_type;
  bool from_transaction_check;
} rmqi_trace_bean_t;

/* TraceContext (strings borrowed). Pub and EndTransaction use the first
 * bean only, as Java; SubBefore and SubAfter write one record per bean. */
typedef struct rmqi_trace_ctx {
  rmqi_trace_type_t type;
  int64_t timestamp;
  const char *region_id, *group, *request_id;
  int32_t cost_time;
  int context_code;
  bool success;
  const rmqi_trace_bean_t *beans;
  size_t n_beans;
} rmqi_trace_ctx_t;

/* Appends the records of @p ctx to @p data, and to @p keys (may be NULL)
 * the trace message's keys Java derives from it (TraceTransferBean's
 * transKey: each bean's msgId and its keys split at ' '), each followed by
 * one ' ', skipping those already in @p keys. Failure (no memory) is
 * sticky in the buffers (rmqi_buf_ok). */
void rmqi_trace_encode(const rmqi_trace_ctx_t *ctx, rmqi_buf_t *data,
                       rmqi_buf_t *keys);

#endif

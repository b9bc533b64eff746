/*
 * The small JSON bodies about message queues and groups (json.md §2, §5,
 * §6, §9): what the client sends for LOCK_BATCH_MQ / UNLOCK_BATCH_MQ,
 * QUERY_ASSIGNMENT and CHECK_CLIENT_CONFIG, and what it reads back from
 * LOCK_BATCH_MQ, GET_CONSUMER_LIST_BY_GROUP and RESET_CONSUMER_CLIENT_OFFSET.
 *
 * Encoders take plain structs and write what fastjson writes (properties in
 * alphabetical order, MessageQueue as {"brokerName","queueId","topic"}).
 * Decoders parse untrusted input with the bounded JSON reader and own their
 * strings (one arena per result).
 */
#ifndef RMQI_CODEC_BODY_MQ_H
#define RMQI_CODEC_BODY_MQ_H

#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/err.h"

/* A MessageQueue, with the offset that goes with it in offset tables. */
typedef struct rmqi_mqo {
  const char *topic;
  const char *broker;
  int32_t queue_id;
  int64_t offset; /* offset tables only; 0 elsewhere */
} rmqi_mqo_t;

/* Java's MessageQueue.compareTo: topic, then brokerName, then queueId. */
int rmqi_mqo_cmp(const rmqi_mqo_t *a, const rmqi_mqo_t *b);

/* LockBatchRequestBody and UnlockBatchRequestBody (same fields). */
typedef struct rmqi_lock_req {
  const char *group;     /* consumerGroup */
  const char *client_id; /* clientId (lower-case d) */
  const rmqi_mqo_t *mqs; /* mqSet; offsets ignored */
  size_t n_mqs;
  bool only_this_broker;
} rmqi_lock_req_t;

void rmqi_lock_req_encode(rmqi_buf_t *out, const rmqi_lock_req_t *r);

/* QueryAssignmentRequestBody [5.x]. */
typedef struct rmqi_assign_req {
  const char *client_id, *group, *message_model, *strategy, *topic;
} rmqi_assign_req_t;

void rmqi_assign_req_encode(rmqi_buf_t *out, const rmqi_assign_req_t *r);

/* CheckClientRequestBody: a subscription checked by the broker (SQL92). */
typedef struct rmqi_check_req {
  const char *client_id, *group, *namespace_; /* namespace_ may be NULL */
  const char *topic, *sub_string, *expression_type;
  int64_t sub_version;
} rmqi_check_req_t;

void rmqi_check_req_encode(rmqi_buf_t *out, const rmqi_check_req_t *r);

/* Decoded queue lists, sorted in MessageQueue order, duplicates merged
 * (the last one wins, as in Java's maps). */
typedef struct rmqi_mqlist {
  rmqi_mqo_t *v;
  size_t n;
  rmqi_arena_t arena;
} rmqi_mqlist_t;

/* LockBatchResponseBody: {"lockOKMQSet":[MessageQueue...]}. */
rmq_err_t rmqi_lock_resp_decode(rmqi_mqlist_t *out, const char *json,
                                size_t len, rmqi_errbuf_t *e);
/*
 * ResetOffsetBody: {"offsetTable":{MessageQueue:offset,...}} with fastjson's
 * bare object keys (or keys that are strings holding the MessageQueue JSON,
 * which fastjson also accepts), and ResetOffsetBodyForC's array form
 * {"offsetTable":[{"brokerName","offset","queueId","topic"}...]}.
 */
rmq_err_t rmqi_reset_offset_decode(rmqi_mqlist_t *out, const char *json,
                                   size_t len, rmqi_errbuf_t *e);
void rmqi_mqlist_free(rmqi_mqlist_t *l);

/* GetConsumerListByGroupResponseBody: {"consumerIdList":[...]}, in order. */
typedef struct rmqi_strlist {
  const char **v;
  size_t n;
  rmqi_arena_t arena;
} rmqi_strlist_t;

rmq_err_t rmqi_consumer_list_decode(rmqi_strlist_t *out, const char *json,
                                    size_t len, rmqi_errbuf_t *e);
void rmqi_strlist_free(rmqi_strlist_t *l);

#endif

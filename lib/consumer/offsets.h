/*
 * Queue and consumer offsets on the broker (requests.md §3.8, §3.9):
 * max/min/by-timestamp offsets of a queue, a group's committed offset,
 * committing one (synchronously, or one-way as the Java offset store does).
 * Any thread but the loop thread.
 */
#ifndef RMQI_CONSUMER_OFFSETS_H
#define RMQI_CONSUMER_OFFSETS_H

#include "../client/client.h"

typedef enum {
  RMQI_OFF_MAX = 30,
  RMQI_OFF_MIN = 31,
  RMQI_OFF_BY_TIME = 29,
} rmqi_off_kind_t;

/* A queue's max, min, or first offset stored at or after @p timestamp_ms. */
rmq_err_t rmqi_queue_offset(rmq_client_t *c, const char *addr,
                            rmqi_off_kind_t kind, const char *topic,
                            const char *broker, int32_t queue_id,
                            int64_t timestamp_ms, int64_t *out, char *err,
                            size_t n);

/* The group's committed offset; RMQ_ERR_NOT_FOUND when it has none
 * (QUERY_NOT_FOUND). */
rmq_err_t rmqi_consumer_offset(rmq_client_t *c, const char *addr,
                               const char *group, const char *topic,
                               const char *broker, int32_t queue_id,
                               int64_t *out, char *err, size_t n);

/* Commits @p offset for the group; one-way when @p oneway. */
rmq_err_t rmqi_commit_offset(rmq_client_t *c, const char *addr,
                             const char *group, const char *topic,
                             const char *broker, int32_t queue_id,
                             int64_t offset, bool oneway, char *err, size_t n);

/* Commits @p offset for the group without waiting: @p cb (loop thread)
 * learns the outcome, exactly once when this returns RMQ_OK (the answer's
 * code is in r->resp->code; pass it through rmqi_server_err). */
rmq_err_t rmqi_commit_offset_async(rmq_client_t *c, const char *addr,
                                   const char *group, const char *topic,
                                   const char *broker, int32_t queue_id,
                                   int64_t offset, rmqi_rpc_cb cb, void *arg);

#endif

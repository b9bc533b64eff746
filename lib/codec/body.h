/*
 * JSON bodies the client sends (json.md §4-§6), written the way fastjson
 * writes them: fields in alphabetical order, strings escaped like fastjson.
 */
#ifndef RMQI_CODEC_BODY_H
#define RMQI_CODEC_BODY_H

#include "../util/buf.h"

typedef struct rmqi_hb_sub {
  const char *topic;
  const char *sub_string;      /* "*", "TagA || TagB" or the SQL text */
  const char *expression_type; /* "TAG" or "SQL92" */
  const char *const *tags;
  const int32_t *codes;
  size_t n_tags;
  int64_t sub_version;
} rmqi_hb_sub_t;

typedef struct rmqi_hb_consumer {
  const char *group;
  const char *consume_type;  /* CONSUME_ACTIVELY / CONSUME_PASSIVELY */
  const char *message_model; /* CLUSTERING / BROADCASTING */
  const char *consume_from_where;
  bool unit_mode;
  const rmqi_hb_sub_t *subs;
  size_t n_subs;
} rmqi_hb_consumer_t;

typedef struct rmqi_heartbeat {
  const char *client_id;
  const char *const *producer_groups;
  size_t n_producers;
  const rmqi_hb_consumer_t *consumers;
  size_t n_consumers;
} rmqi_heartbeat_t;

/* Appends one SubscriptionData object (heartbeats, running info). */
void rmqi_sub_data_encode(rmqi_buf_t *out, const rmqi_hb_sub_t *s);

/* Appends the HeartbeatData JSON to @p out. */
void rmqi_heartbeat_encode(rmqi_buf_t *out, const rmqi_heartbeat_t *hb);

#endif

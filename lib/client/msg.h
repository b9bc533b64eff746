/*
 * The message object behind the public rmq_msg_t: topic, body, flag and an
 * ordered property list (insertion order, as Java's HashMap-free encoders
 * see it: the order only matters for byte-exact tests). Tags, keys, delay
 * and timer settings are properties, as in Java.
 */
#ifndef RMQI_CLIENT_MSG_H
#define RMQI_CLIENT_MSG_H

#include "../codec/msgrec.h"
#include "../util/common.h"

#include <stdatomic.h>

typedef struct rmqi_prop {
  char *name;
  char *value;
} rmqi_prop_t;

struct rmq_msg {
  char *topic;
  const uint8_t *body;
  size_t body_len;
  void *body_owned; /* freed with body_free (or free) */
  void (*body_free)(void *);
  int32_t flag;
  rmqi_prop_t *props;
  size_t n_props;
  size_t cap_props;
  /* Past RMQI_MSG_INDEX_MIN properties: an open-addressing hash of their
   * names (slot = position + 1, 0 = empty; index_mask + 1 slots), so that
   * setting n properties is linear, not quadratic. NULL below the
   * threshold, for frozen messages and after a removal (rebuilt on the
   * next put). */
  uint32_t *index;
  size_t index_mask;
  char *sharding_key;
  /* The message and, at first, its topic, property list and strings live
   * in one allocation starting at the struct itself: a new message's
   * (rmq_msg_new: the topic and the WAIT property) and a received one's
   * (lib/consumer/rxmsg.c, with its metadata). `frozen` says the property
   * list still points into the block; the first change of a property
   * copies the list out (rmqi_msg_thaw). `topic_in_block` says the topic
   * does; a new topic is copied out (rmqi_msg_set_topic). The metadata
   * stays in the block until destroy. */
  const struct rmqi_msg_meta *meta;
  /* A received message's block may come from its consumer's chunks
   * (client/mpool.h): it ends with a reference, not free(). */
  struct rmqi_mchunk *chunk;
  bool frozen;
  bool topic_in_block;
};

typedef struct rmqi_msg_meta {
  const char *broker_name;
  /* The offset id is formatted when first asked for (rmq_msg_offset_id, or
   * rmq_msg_id without UNIQ_KEY): most messages carry a UNIQ_KEY and its
   * hex was a twentieth of a received message's instructions. 0: not yet,
   * 1: being written, 2: written. */
  _Atomic uint8_t offset_id_state;
  rmqi_host_t store;
  char offset_id[57];
  char born_host[56];
  char store_host[56];
  int32_t queue_id;
  int32_t sys_flag;
  int32_t reconsume_times;
  uint32_t body_crc;
  int64_t queue_offset;
  int64_t commitlog_offset;
  int64_t born_ts;
  int64_t store_ts;
  int64_t prepared_tx_offset;
} rmqi_msg_meta_t;

#define RMQI_MSG_INDEX_MIN 16

/* Copies a message's properties out of its block so that they can change;
 * RMQ_ERR_NOMEM leaves the message as it was. */
rmq_err_t rmqi_msg_thaw(rmq_msg_t *m);

/* Replaces the topic (a received message's is copied out first). */
rmq_err_t rmqi_msg_set_topic(rmq_msg_t *m, const char *topic);

/* Takes namespace @p ns off the topic (Java's withoutNamespace), for a
 * message handed to the application. */
rmq_err_t rmqi_msg_unwrap_topic(rmq_msg_t *m, const char *ns);

/* Property names Java reserves for itself (MessageConst.STRING_HASH_SET). */
bool rmqi_prop_is_reserved(const char *name);

/* Sets a property without the reserved-name check (library use). */
rmq_err_t rmqi_msg_put_prop(rmq_msg_t *m, const char *name, const char *value);
/* Removes a property; no-op when absent. */
void rmqi_msg_del_prop(rmq_msg_t *m, const char *name);

/* Java's Validators.checkTopic: 1..127 chars of [%|a-zA-Z0-9_-]. On failure
 * writes the reason to @p err. */
bool rmqi_topic_valid(const char *topic, char *err, size_t n);

#endif

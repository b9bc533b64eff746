#include "msg.h"
#include "mpool.h"
#include "ns.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MessageConst.STRING_HASH_SET (apache/rocketmq 5.3): names the Java client
 * refuses as user properties because the client or broker owns them. */
static const char *const reserved[] = {
    "TRACE_ON",
    "MSG_REGION",
    "KEYS",
    "TAGS",
    "WAIT",
    "DELAY",
    "RETRY_TOPIC",
    "REAL_TOPIC",
    "REAL_QID",
    "TRAN_MSG",
    "PGROUP",
    "MIN_OFFSET",
    "MAX_OFFSET",
    "BUYER_ID",
    "ORIGIN_MESSAGE_ID",
    "TRANSFER_FLAG",
    "CORRECTION_FLAG",
    "MQ2_FLAG",
    "RECONSUME_TIME",
    "UNIQ_KEY",
    "MAX_RECONSUME_TIMES",
    "CONSUME_START_TIME",
    "POP_CK",
    "POP_CK_OFFSET",
    "1ST_POP_TIME",
    "TRAN_PREPARED_QUEUE_OFFSET",
    "DUP_INFO",
    "EXTEND_UNIQ_INFO",
    "INSTANCE_ID",
    "CORRELATION_ID",
    "REPLY_TO_CLIENT",
    "TTL",
    "ARRIVE_TIME",
    "PUSH_REPLY_TIME",
    "CLUSTER",
    "MSG_TYPE",
    "INNER_MULTI_QUEUE_OFFSET",
    "TIMER_DELAY_MS",
    "TIMER_DELAY_SEC",
    "TIMER_DELIVER_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_DEQUEUE_MS",
    "TIMER_ROLL_TIMES",
    "TIMER_OUT_MS",
    "TIMER_DEL_UNIQKEY",
    "TIMER_DELAY_LEVEL",
    "__BORNHOST",
    "BORN_TIMESTAMP",
    "DLQ_ORIGIN_TOPIC",
    "DLQ_ORIGIN_MESSAGE_ID",
    "__CRC32#",
};

bool rmqi_prop_is_reserved(const char *name) {
  for (size_t i = 0; i < RMQI_ARRAY_LEN(reserved); i++)
    if (strcmp(name, reserved[i]) == 0)
      return true;
  return false;
}

bool rmqi_topic_valid(const char *topic, char *err, size_t n) {
  size_t len = topic ? strlen(topic) : 0;
  if (len == 0) {
    snprintf(err, n, "topic is empty");
    return false;
  }
  if (len > 127) {
    snprintf(err, n, "topic is longer than 127 characters");
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    char c = topic[i];
    if (!(c == '%' || c == '|' || c == '_' || c == '-' ||
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z'))) {
      snprintf(err, n, "topic \"%s\" has a character outside [%%|a-zA-Z0-9_-]",
               topic);
      return false;
    }
  }
  return true;
}

/* Java's Message constructor sets WAIT=true on every message. */
static const char wait_name[] = "WAIT", wait_value[] = "true";

/* One allocation: the struct, the WAIT property and the topic. Names and
 * values of a frozen list are never written, so the constant strings can
 * serve; the first property change copies the list out. */
rmq_msg_t *rmq_msg_new(const char *topic) {
  if (topic == NULL)
    return NULL;
  size_t tl = strlen(topic) + 1;
  rmq_msg_t *m = calloc(1, sizeof(*m) + sizeof(rmqi_prop_t) + tl);
  if (m == NULL)
    return NULL;
  m->props = (rmqi_prop_t *)(m + 1);
  m->props[0].name = (char *)wait_name;
  m->props[0].value = (char *)wait_value;
  m->n_props = m->cap_props = 1;
  m->topic = memcpy(m->props + 1, topic, tl);
  m->frozen = true;
  m->topic_in_block = true;
  return m;
}

static void drop_body(rmq_msg_t *m) {
  if (m->body_owned)
    (m->body_free ? m->body_free : free)(m->body_owned);
  m->body_owned = NULL;
  m->body_free = NULL;
  m->body = NULL;
  m->body_len = 0;
}

rmq_err_t rmqi_msg_thaw(rmq_msg_t *m) {
  if (!m->frozen)
    return RMQ_OK;
  size_t cap = m->n_props < 4 ? 8 : 2 * m->n_props; /* room to add a few */
  rmqi_prop_t *np = calloc(cap, sizeof(*np));
  bool ok = np != NULL;
  for (size_t i = 0; ok && i < m->n_props; i++) {
    np[i].name = strdup(m->props[i].name);
    np[i].value = strdup(m->props[i].value);
    ok = np[i].name && np[i].value;
  }
  if (!ok) {
    for (size_t i = 0; np && i < m->n_props; i++) {
      free(np[i].name);
      free(np[i].value);
    }
    free(np);
    return RMQ_ERR_NOMEM;
  }
  m->props = np;
  m->cap_props = cap;
  m->frozen = false;
  return RMQ_OK;
}

rmq_err_t rmqi_msg_set_topic(rmq_msg_t *m, const char *topic) {
  char *t = strdup(topic);
  if (t == NULL)
    return RMQ_ERR_NOMEM;
  if (!m->topic_in_block)
    free(m->topic);
  m->topic = t;
  m->topic_in_block = false;
  return RMQ_OK;
}

void rmq_msg_destroy(rmq_msg_t *m) {
  if (m == NULL)
    return;
  drop_body(m);
  free(m->index);
  if (!m->frozen) {
    for (size_t i = 0; i < m->n_props; i++) {
      free(m->props[i].name);
      free(m->props[i].value);
    }
    free(m->props);
  }
  if (!m->topic_in_block)
    free(m->topic);
  free(m->sharding_key);
  /* and whatever of the above is still in its block */
  if (m->chunk)
    rmqi_mchunk_unref(m->chunk);
  else
    free(m);
}

rmq_err_t rmq_msg_set_body(rmq_msg_t *m, const void *body, size_t len) {
  if (m == NULL || (body == NULL && len))
    return RMQ_ERR_INVALID_ARG;
  void *copy = malloc(len ? len : 1);
  if (copy == NULL)
    return RMQ_ERR_NOMEM;
  if (len)
    memcpy(copy, body, len);
  drop_body(m);
  m->body_owned = copy;
  m->body = copy;
  m->body_len = len;
  return RMQ_OK;
}

rmq_err_t rmq_msg_set_body_owned(rmq_msg_t *m, void *body, size_t len,
                                 void (*free_fn)(void *)) {
  if (m == NULL || (body == NULL && len))
    return RMQ_ERR_INVALID_ARG;
  drop_body(m);
  m->body = body;
  m->body_len = len;
  if (free_fn) {
    m->body_owned = body;
    m->body_free = free_fn;
  }
  return RMQ_OK;
}

static size_t name_hash(const char *s) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* The index slot holding @p name, or the empty slot where it would go. */
static uint32_t *index_slot(const rmq_msg_t *m, const char *name) {
  size_t h = name_hash(name) & m->index_mask;
  while (m->index[h] != 0 && strcmp(m->props[m->index[h] - 1].name, name) != 0)
    h = (h + 1) & m->index_mask;
  return &m->index[h];
}

static rmqi_prop_t *find_prop(const rmq_msg_t *m, const char *name) {
  if (m->index) {
    uint32_t s = *index_slot(m, name);
    return s ? &m->props[s - 1] : NULL;
  }
  for (size_t i = 0; i < m->n_props; i++)
    if (strcmp(m->props[i].name, name) == 0)
      return &m->props[i];
  return NULL;
}

/* Makes sure a message with many properties has an index with room for
 * one more name (at most half full). Failure only means no index: lookups
 * stay correct, just linear. */
static void index_reserve(rmq_msg_t *m) {
  size_t want = m->n_props + 1;
  if (want <= RMQI_MSG_INDEX_MIN || want > UINT32_MAX / 4 ||
      (m->index && 2 * want <= m->index_mask + 1))
    return;
  size_t slots = 64;
  while (slots < 2 * want)
    slots *= 2;
  uint32_t *ix = calloc(slots, sizeof(*ix));
  free(m->index);
  m->index = ix;
  m->index_mask = slots - 1;
  for (size_t i = 0; ix && i < m->n_props; i++)
    *index_slot(m, m->props[i].name) = (uint32_t)i + 1;
}

rmq_err_t rmqi_msg_put_prop(rmq_msg_t *m, const char *name, const char *value) {
  if (rmqi_msg_thaw(m) != RMQ_OK)
    return RMQ_ERR_NOMEM;
  char *v = strdup(value);
  if (v == NULL)
    return RMQ_ERR_NOMEM;
  index_reserve(m);
  rmqi_prop_t *p = find_prop(m, name);
  if (p) {
    free(p->value);
    p->value = v;
    return RMQ_OK;
  }
  if (m->n_props == m->cap_props) {
    size_t cap = m->cap_props ? m->cap_props * 2 : 8;
    rmqi_prop_t *np = realloc(m->props, cap * sizeof(*np));
    if (np == NULL) {
      free(v);
      return RMQ_ERR_NOMEM;
    }
    m->props = np;
    m->cap_props = cap;
  }
  char *n = strdup(name);
  if (n == NULL) {
    free(v);
    return RMQ_ERR_NOMEM;
  }
  m->props[m->n_props].name = n;
  m->props[m->n_props].value = v;
  m->n_props++;
  if (m->index)
    *index_slot(m, n) = (uint32_t)m->n_props;
  return RMQ_OK;
}

void rmqi_msg_del_prop(rmq_msg_t *m, const char *name) {
  rmqi_prop_t *p = find_prop(m, name);
  if (p == NULL || rmqi_msg_thaw(m) != RMQ_OK)
    return;
  p = find_prop(m, name);
  free(p->name);
  free(p->value);
  size_t i = (size_t)(p - m->props);
  memmove(p, p + 1, (m->n_props - i - 1) * sizeof(*p));
  m->n_props--;
  free(m->index); /* positions moved: rebuilt on the next put */
  m->index = NULL;
}

/* Property names and values may not hold the separators 0x01/0x02: nothing
 * escapes them on the wire. */
static bool clean_text(const char *s) {
  return *s && strchr(s, '\x01') == NULL && strchr(s, '\x02') == NULL;
}

static rmq_err_t put_checked(rmq_msg_t *m, const char *name, const char *v) {
  if (m == NULL || v == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (*v == '\0') {
    rmqi_msg_del_prop(m, name);
    return RMQ_OK;
  }
  if (!clean_text(v))
    return RMQ_ERR_INVALID_ARG;
  return rmqi_msg_put_prop(m, name, v);
}

rmq_err_t rmq_msg_set_tags(rmq_msg_t *m, const char *tags) {
  return put_checked(m, "TAGS", tags);
}

rmq_err_t rmq_msg_set_keys(rmq_msg_t *m, const char *keys) {
  return put_checked(m, "KEYS", keys);
}

/* Java's putUserProperty refuses `s.trim().isEmpty()`: trim() drops every
 * char up to U+0020 at both ends, and in UTF-8 those are the bytes up to
 * 0x20, so a string made only of them is blank. */
static bool blank(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s > 0x20)
      return false;
  return true;
}

rmq_err_t rmq_msg_set_property(rmq_msg_t *m, const char *name,
                               const char *value) {
  if (m == NULL || name == NULL || value == NULL || blank(name) ||
      blank(value) || !clean_text(name) || !clean_text(value) ||
      rmqi_prop_is_reserved(name))
    return RMQ_ERR_INVALID_ARG;
  return rmqi_msg_put_prop(m, name, value);
}

static rmq_err_t put_int(rmq_msg_t *m, const char *name, int64_t v) {
  if (v == 0) {
    rmqi_msg_del_prop(m, name);
    return RMQ_OK;
  }
  char t[24];
  snprintf(t, sizeof(t), "%lld", (long long)v);
  return rmqi_msg_put_prop(m, name, t);
}

rmq_err_t rmq_msg_set_delay_level(rmq_msg_t *m, int level) {
  if (m == NULL || level < 0 || level > 1000)
    return RMQ_ERR_INVALID_ARG;
  return put_int(m, "DELAY", level);
}

rmq_err_t rmq_msg_set_deliver_time(rmq_msg_t *m, int64_t epoch_ms) {
  if (m == NULL || epoch_ms < 0)
    return RMQ_ERR_INVALID_ARG;
  return put_int(m, "TIMER_DELIVER_MS", epoch_ms);
}

rmq_err_t rmq_msg_set_delay_ms(rmq_msg_t *m, int64_t delay_ms) {
  if (m == NULL || delay_ms < 0)
    return RMQ_ERR_INVALID_ARG;
  return put_int(m, "TIMER_DELAY_MS", delay_ms);
}

rmq_err_t rmq_msg_set_sharding_key(rmq_msg_t *m, const char *key) {
  if (m == NULL || key == NULL)
    return RMQ_ERR_INVALID_ARG;
  char *k = strdup(key);
  if (k == NULL)
    return RMQ_ERR_NOMEM;
  free(m->sharding_key);
  m->sharding_key = k;
  return RMQ_OK;
}

rmq_err_t rmq_msg_set_flag(rmq_msg_t *m, int32_t flag) {
  if (m == NULL)
    return RMQ_ERR_INVALID_ARG;
  m->flag = flag;
  return RMQ_OK;
}

const char *rmq_msg_topic(const rmq_msg_t *m) {
  return m ? m->topic : NULL;
}

const void *rmq_msg_body(const rmq_msg_t *m, size_t *len) {
  if (len)
    *len = m ? m->body_len : 0;
  return m ? m->body : NULL;
}

const char *rmq_msg_property(const rmq_msg_t *m, const char *name) {
  if (m == NULL || name == NULL)
    return NULL;
  const rmqi_prop_t *p = find_prop(m, name);
  return p ? p->value : NULL;
}

const char *rmq_msg_tags(const rmq_msg_t *m) {
  return rmq_msg_property(m, "TAGS");
}

const char *rmq_msg_keys(const rmq_msg_t *m) {
  return rmq_msg_property(m, "KEYS");
}

size_t rmq_msg_property_count(const rmq_msg_t *m) {
  return m ? m->n_props : 0;
}

rmq_err_t rmq_msg_property_at(const rmq_msg_t *m, size_t i, const char **name,
                              const char **value) {
  if (m == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (i >= m->n_props)
    return RMQ_ERR_NOT_FOUND;
  if (name)
    *name = m->props[i].name;
  if (value)
    *value = m->props[i].value;
  return RMQ_OK;
}

int rmq_msg_delay_level(const rmq_msg_t *m) {
  const char *v = rmq_msg_property(m, "DELAY");
  if (v == NULL)
    return 0;
  /* Received messages carry whatever the broker stored: parse defensively
   * (the broker writes -1 on messages moved to a DLQ). */
  char *end;
  long x = strtol(v, &end, 10);
  return *end == '\0' && x >= -1 && x <= 1000 ? (int)x : 0;
}

int32_t rmq_msg_flag(const rmq_msg_t *m) {
  return m ? m->flag : 0;
}

/* ---- metadata of received messages ----------------------------------- */

/* The offset id, formatted once on first use; a message read by several
 * threads at once formats it in one of them, the others wait for it. */
static const char *offset_id(const rmq_msg_t *m) {
  rmqi_msg_meta_t *meta = (rmqi_msg_meta_t *)m->meta; /* in m's own block */
  uint8_t st = atomic_load_explicit(&meta->offset_id_state,
                                    memory_order_acquire);
  if (st == 2)
    return meta->offset_id;
  if (st == 0 &&
      atomic_compare_exchange_strong_explicit(&meta->offset_id_state, &st, 1,
                                              memory_order_acquire,
                                              memory_order_acquire)) {
    rmqi_msgrec_t rec = {.store = meta->store,
                         .commitlog_offset = meta->commitlog_offset};
    rmqi_msgrec_offset_id(&rec, meta->offset_id);
    atomic_store_explicit(&meta->offset_id_state, 2, memory_order_release);
    return meta->offset_id;
  }
  while (atomic_load_explicit(&meta->offset_id_state, memory_order_acquire) !=
         2)
    sched_yield();
  return meta->offset_id;
}

const char *rmq_msg_id(const rmq_msg_t *m) {
  if (m == NULL || m->meta == NULL)
    return NULL;
  const char *u = rmq_msg_property(m, "UNIQ_KEY");
  return u ? u : offset_id(m);
}

const char *rmq_msg_offset_id(const rmq_msg_t *m) {
  return m && m->meta ? offset_id(m) : NULL;
}

#define META_GETTER(type, name, field, none)                                   \
  type rmq_msg_##name(const rmq_msg_t *m) {                                    \
    return m && m->meta ? m->meta->field : none;                               \
  }
META_GETTER(const char *, broker_name, broker_name, NULL)
META_GETTER(const char *, born_host, born_host, NULL)
META_GETTER(const char *, store_host, store_host, NULL)
META_GETTER(int32_t, queue_id, queue_id, -1)
META_GETTER(int64_t, queue_offset, queue_offset, -1)
META_GETTER(int64_t, commitlog_offset, commitlog_offset, -1)
META_GETTER(int64_t, born_timestamp, born_ts, 0)
META_GETTER(int64_t, store_timestamp, store_ts, 0)
META_GETTER(int32_t, reconsume_times, reconsume_times, 0)
META_GETTER(int32_t, sys_flag, sys_flag, 0)
META_GETTER(uint32_t, body_crc, body_crc, 0)
#undef META_GETTER

const char *rmq_msg_transaction_id(const rmq_msg_t *m) {
  return m ? rmq_msg_property(m, "__transactionId__") : NULL;
}

rmq_err_t rmqi_msg_unwrap_topic(rmq_msg_t *m, const char *ns) {
  char buf[RMQI_NS_NAME_MAX];
  const char *t = rmqi_ns_unwrap(ns, m->topic, buf, sizeof(buf));
  return t == m->topic ? RMQ_OK : rmqi_msg_set_topic(m, t);
}

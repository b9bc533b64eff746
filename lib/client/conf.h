/*
 * Configuration: one property table (conf.c) is the single source of the
 * key names, types, defaults, ranges, validation and doc/configuration.md.
 * Keys carry the Java client's names and defaults.
 *
 * rmq_conf_t (public, opaque) is rmqi_conf_t. Values live in typed fields
 * so the hot paths read a plain struct member, never a string.
 */
#ifndef RMQI_CLIENT_CONF_H
#define RMQI_CLIENT_CONF_H

#include "../util/buf.h"
#include "../util/common.h"

/* Which objects read a key (for the docs, and to reject keys that a given
 * object would ignore). */
enum {
  RMQI_SCOPE_CLIENT = 1,
  RMQI_SCOPE_PRODUCER = 2,
  RMQI_SCOPE_CONSUMER = 4,
};

enum { RMQI_CALLBACK_POOL = 0, RMQI_CALLBACK_POLL = 1 };
enum { RMQI_SERIALIZE_JSON = 0, RMQI_SERIALIZE_ROCKETMQ = 1 };
enum { RMQI_TLS_MIN_12 = 0, RMQI_TLS_MIN_13 = 1 };
enum { RMQI_CHANNEL_LOCAL = 0, RMQI_CHANNEL_CLOUD = 1 };
enum { RMQI_MODEL_CLUSTERING = 0, RMQI_MODEL_BROADCASTING = 1 };
/* allocateMessageQueueStrategy CONFIG (after the rmqi_alloc_strategy_t
 * values, which the other names map to). */
enum { RMQI_ALLOC_CONFIG = 3 };
enum {
  RMQI_FROM_LAST_OFFSET = 0,
  RMQI_FROM_FIRST_OFFSET = 1,
  RMQI_FROM_TIMESTAMP = 2,
};

typedef struct rmqi_conf_vals {
  /* client */
  char *namesrv_addr;
  char *instance_name;
  char *unit_name;
  char *client_ip;
  int64_t poll_namesrv_interval_ms;
  int64_t heartbeat_interval_ms;
  int64_t statistics_interval_ms; /* 0: no periodic report */
  int64_t api_timeout_ms;
  int64_t connect_timeout_ms;
  int64_t max_frame_size;
  int64_t max_conn_output;
  int64_t callback_threads;
  int callback_mode;
  int serialize_type;
  int log_level;
  char *access_key;
  char *secret_key;
  char *security_token;
  bool use_tls;
  char *tls_trust_cert_path;
  char *tls_cert_path;
  char *tls_key_path;
  char *tls_key_password;
  bool tls_verify_server;
  bool tls_verify_hostname;
  int tls_min_version; /* RMQI_TLS_MIN_* */
  int access_channel;  /* RMQI_CHANNEL_* */
  char *name_space;
  char *namesrv_domain;
  char *namesrv_domain_subgroup;
  int64_t namesrv_domain_refresh_ms;
  /* producer */
  char *producer_group;
  int64_t send_timeout_ms;
  int64_t send_max_timeout_per_request_ms;
  int64_t compress_over;
  int64_t compress_level;
  int64_t retry_times;
  int64_t retry_times_async;
  bool retry_another_broker_when_not_store_ok;
  int64_t max_message_size;
  char *create_topic_key;
  int64_t default_topic_queue_nums;
  bool send_latency_fault_enable;
  bool backpressure_enable;
  int64_t backpressure_num;
  int64_t backpressure_size;
  bool auto_batch;
  int64_t batch_max_delay_ms;
  int64_t batch_max_bytes;
  int64_t total_batch_max_bytes;
  /* consumer */
  char *consumer_group;
  int message_model;
  int consume_from_where;
  char *consume_timestamp;
  int allocate_strategy; /* rmqi_alloc_strategy_t, or RMQI_ALLOC_CONFIG */
  char *allocate_config;
  int64_t pull_batch_size;
  int64_t pull_threshold_all;
  int64_t pull_threshold_queue;
  int64_t pull_threshold_size_queue_mb;
  int64_t pull_threshold_topic;         /* -1: off */
  int64_t pull_threshold_size_topic_mb; /* -1: off */
  int64_t max_inflated_body_size;
  int64_t consume_max_span;
  bool auto_commit;
  int64_t auto_commit_interval_ms;
  int64_t poll_timeout_ms;
  int64_t broker_suspend_max_ms;
  int64_t consumer_timeout_when_suspend_ms;
  int64_t consumer_pull_timeout_ms;
  int64_t pull_delay_on_exception_ms;
  int64_t persist_offset_interval_ms;
  int64_t rebalance_interval_ms;
  int64_t lock_interval_ms;
  int64_t lock_max_live_ms;
  char *local_offset_store_dir;
  /* push consumer */
  int64_t consume_thread_min;
  int64_t consume_thread_max;
  int64_t pull_msg_thread_pool_count;
  int64_t consume_batch_max;
  int64_t max_reconsume_times;
  int64_t suspend_queue_ms;
  int64_t pull_interval_ms;
  /* producers and consumers */
  bool enable_msg_trace;
  char *customized_trace_topic;
  /* not a key: the trace's internal producer (lib/producer/trace.c) may
   * send to RMQ_SYS_TRACE_TOPIC */
  bool trace_internal;
} rmqi_conf_vals_t;

struct rmq_conf {
  rmqi_conf_vals_t v;
  uint64_t set_mask[2]; /* which keys were set explicitly */
  rmq_log_cb *log_cb;
  void *log_opaque;
  rmq_stats_cb *stats_cb;
  void *stats_opaque;
};
typedef struct rmq_conf rmqi_conf_t;

/* Renders the reference table as Markdown (doc/configuration.md). */
void rmqi_conf_doc(rmqi_buf_t *out);

/* Deep copy into @p dst (uninitialised). Returns RMQ_ERR_NOMEM on failure
 * (dst then holds nothing to free). */
rmq_err_t rmqi_conf_copy(rmqi_conf_t *dst, const rmqi_conf_t *src);
void rmqi_conf_release(rmqi_conf_t *c);

/* Whether @p key was set explicitly (not left at its default). */
bool rmqi_conf_is_set(const rmqi_conf_t *c, const char *key);

/* The constructors' scope check (rmq.h, "Configuration scopes"): the first
 * key set explicitly on @p c that an object reading only the keys of
 * @p scopes (RMQI_SCOPE_*) would ignore fails with RMQ_ERR_INVALID_ARG and a
 * message naming it and @p what ("producer", ...). With @p client_conf
 * (the conf of the shared client the object is made on), a client key set
 * explicitly is accepted when it equals the client's value. */
rmq_err_t rmqi_conf_check_scope(const rmqi_conf_t *c, unsigned scopes,
                                const char *what,
                                const rmqi_conf_t *client_conf, char *err,
                                size_t n);

/* Java's start(): settles the namespace (nameSpace, else the instance id
 * of an endpoint namesrvAddr) into name_space and wraps the group in
 * @p group (a field of @p c) in it. RMQ_ERR_NOMEM, or RMQ_ERR_CONF_INVALID
 * when the wrapped group is too long. */
rmq_err_t rmqi_conf_namespace(rmqi_conf_t *c, char **group);

/* consumeTimestamp's yyyyMMddHHmmss (local time) as epoch ms. */
rmq_err_t rmqi_conf_timestamp_ms(const char *v, int64_t *out);

#endif

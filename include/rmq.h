/*
 * librmq — a native C client for Apache RocketMQ.
 *
 * This is the only public header. Everything under lib/ is private.
 *
 * Conventions used throughout:
 *  - Every fallible call returns an rmq_err_t; RMQ_OK (0) is success.
 *    Negative codes are local failures; positive codes are the broker's or
 *    name server's own response codes, passed through unchanged.
 *  - Objects are opaque handles with _new/_destroy pairs; ownership and
 *    thread-safety are stated on every function.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef RMQ_H
#define RMQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMQ_VERSION_MAJOR 0
#define RMQ_VERSION_MINOR 1
#define RMQ_VERSION_PATCH 0
/** The version as one number: 0xMMmmpp. */
#define RMQ_VERSION_NUM                                                        \
  ((RMQ_VERSION_MAJOR << 16) | (RMQ_VERSION_MINOR << 8) | RMQ_VERSION_PATCH)

#if defined(RMQ_BUILDING_LIB) && defined(__GNUC__)
#define RMQ_API __attribute__((visibility("default")))
#else
#define RMQ_API
#endif

/**
 * The error table: X(NAME, value, description).
 * Local errors are negative. Positive values are RocketMQ response codes
 * (ResponseCode / RemotingSysResponseCode) exactly as the server sent them;
 * a server code missing from this table is still returned as its number.
 */
#define RMQ_ERR_MAP(X)                                                         \
  X(OK, 0, "success")                                                          \
  /* local errors */                                                           \
  X(ERR_INVALID_ARG, -1, "invalid argument")                                   \
  X(ERR_NOMEM, -2, "out of memory")                                            \
  X(ERR_TRUNCATED, -3, "input ends before the structure does")                 \
  X(ERR_FRAME_TOO_LARGE, -4, "frame length exceeds the configured maximum")    \
  X(ERR_BAD_FRAME, -5, "malformed frame")                                      \
  X(ERR_BAD_HEADER, -6, "malformed command header")                            \
  X(ERR_BAD_JSON, -7, "malformed JSON")                                        \
  X(ERR_TOO_DEEP, -8, "nesting deeper than the limit")                         \
  X(ERR_LIMIT, -9, "input exceeds a size or count limit")                      \
  X(ERR_BAD_MESSAGE, -10, "malformed message record")                          \
  X(ERR_BAD_CRC, -11, "message body CRC mismatch")                             \
  X(ERR_COMPRESSION, -12, "unsupported compression type or corrupt body")      \
  X(ERR_BAD_MSGID, -13, "malformed message id")                                \
  X(ERR_BAD_PROPERTIES, -14, "malformed message properties")                   \
  X(ERR_BAD_ROUTE, -15, "malformed route data")                                \
  X(ERR_TIMEOUT, -20, "timed out")                                             \
  X(ERR_SHUTDOWN, -21, "shut down before completion")                          \
  X(ERR_CONNECT, -22, "could not connect")                                     \
  X(ERR_CONN_LOST, -23, "connection lost")                                     \
  X(ERR_NO_ROUTE, -24, "no route for the topic")                               \
  X(ERR_NO_NAMESRV, -25, "no name server reachable")                           \
  X(ERR_CONF_UNKNOWN, -26, "unknown configuration key")                        \
  X(ERR_CONF_INVALID, -27, "invalid configuration value")                      \
  X(ERR_MSG_TOO_LARGE, -28, "message body larger than maxMessageSize")         \
  X(ERR_MSG_EMPTY, -29, "message body is empty")                               \
  X(ERR_STATE, -30, "object is in the wrong state for this call")              \
  X(ERR_QUEUE_FULL, -31, "too many requests in flight")                        \
  X(ERR_TLS, -32, "TLS failure")                                               \
  X(ERR_BAD_RESPONSE, -33, "unexpected response from the server")              \
  X(ERR_NOT_FOUND, -34, "not found")                                           \
  X(ERR_IO, -35, "I/O error")                                                  \
  /* server response codes */                                                  \
  X(SYSTEM_ERROR, 1, "broker: system error")                                   \
  X(SYSTEM_BUSY, 2, "broker: system busy")                                     \
  X(REQUEST_CODE_NOT_SUPPORTED, 3, "broker: request code not supported")       \
  X(TRANSACTION_FAILED, 4, "broker: transaction failed")                       \
  X(FLUSH_DISK_TIMEOUT, 10, "broker: flush disk timeout")                      \
  X(SLAVE_NOT_AVAILABLE, 11, "broker: slave not available")                    \
  X(FLUSH_SLAVE_TIMEOUT, 12, "broker: flush slave timeout")                    \
  X(MESSAGE_ILLEGAL, 13, "broker: message illegal")                            \
  X(SERVICE_NOT_AVAILABLE, 14, "broker: service not available")                \
  X(VERSION_NOT_SUPPORTED, 15, "broker: version not supported")                \
  X(NO_PERMISSION, 16, "broker: no permission")                                \
  X(TOPIC_NOT_EXIST, 17, "topic does not exist")                               \
  X(TOPIC_EXIST_ALREADY, 18, "topic exists already")                           \
  X(PULL_NOT_FOUND, 19, "pull: no new message")                                \
  X(PULL_RETRY_IMMEDIATELY, 20, "pull: retry immediately")                     \
  X(PULL_OFFSET_MOVED, 21, "pull: offset moved")                               \
  X(QUERY_NOT_FOUND, 22, "query: not found")                                   \
  X(SUBSCRIPTION_PARSE_FAILED, 23, "subscription expression invalid")          \
  X(SUBSCRIPTION_NOT_EXIST, 24, "subscription does not exist")                 \
  X(SUBSCRIPTION_NOT_LATEST, 25, "subscription not latest")                    \
  X(SUBSCRIPTION_GROUP_NOT_EXIST, 26, "subscription group does not exist")     \
  X(FILTER_DATA_NOT_EXIST, 27, "filter data does not exist")                   \
  X(FILTER_DATA_NOT_LATEST, 28, "filter data not latest")                      \
  X(INVALID_PARAMETER, 29, "broker: invalid parameter")                        \
  X(TRANSACTION_SHOULD_COMMIT, 200, "transaction should commit")               \
  X(TRANSACTION_SHOULD_ROLLBACK, 201, "transaction should roll back")          \
  X(TRANSACTION_STATE_UNKNOW, 202, "transaction state unknown")                \
  X(TRANSACTION_STATE_GROUP_WRONG, 203, "transaction state group wrong")       \
  X(NO_BUYER_ID, 204, "no buyer id")                                           \
  X(NOT_IN_CURRENT_UNIT, 205, "not in current unit")                           \
  X(CONSUMER_NOT_ONLINE, 206, "consumer not online")                           \
  X(CONSUME_MSG_TIMEOUT, 207, "consume message timeout")                       \
  X(NO_MESSAGE, 208, "no message")                                             \
  X(POLLING_FULL, 209, "polling full")                                         \
  X(POLLING_TIMEOUT, 210, "polling timeout")                                   \
  X(BROKER_NOT_EXIST, 211, "broker does not exist")                            \
  X(BROKER_DISPATCH_NOT_COMPLETE, 212, "broker dispatch not complete")         \
  X(BROADCAST_CONSUMPTION, 213, "broadcast consumption")                       \
  X(FLOW_CONTROL, 215, "broker: flow control")                                 \
  X(NOT_LEADER_FOR_QUEUE, 501, "not leader for queue")                         \
  X(ILLEGAL_OPERATION, 604, "illegal operation")                               \
  X(GO_AWAY, 1500, "server is going away")                                     \
  X(USER_NOT_EXIST, 3001, "user does not exist")                               \
  X(POLICY_NOT_EXIST, 3002, "policy does not exist")

typedef enum rmq_err {
#define RMQ_ERR_ENUM_(name, value, desc) RMQ_##name = value,
  RMQ_ERR_MAP(RMQ_ERR_ENUM_)
#undef RMQ_ERR_ENUM_
} rmq_err_t;

/**
 * @brief A human description of @p err, e.g. "topic does not exist".
 * @returns a static string, never NULL ("unknown error" for codes not in the
 *          table).
 * @remark Thread-safe.
 */
RMQ_API const char *rmq_err_str(rmq_err_t err);

/**
 * @brief The symbolic name of @p err without the prefix, e.g.
 *        "TOPIC_NOT_EXIST" or "ERR_TIMEOUT".
 * @returns a static string, never NULL ("UNKNOWN" for codes not in the table).
 * @remark Thread-safe.
 */
RMQ_API const char *rmq_err_name(rmq_err_t err);

/**
 * @brief The library version as "MAJOR.MINOR.PATCH".
 * @remark Thread-safe; the string is static.
 */
RMQ_API const char *rmq_version(void);

/** @brief The library version as RMQ_VERSION_NUM of the linked library. */
RMQ_API int rmq_version_num(void);

/* ------------------------------------------------------------------------ */
/** @name Logging */

/** Log levels (syslog numbering). */
typedef enum rmq_log_level {
  RMQ_LOG_ERROR = 3,
  RMQ_LOG_WARN = 4,
  RMQ_LOG_INFO = 6,
  RMQ_LOG_DEBUG = 7
} rmq_log_level_t;

/**
 * A log sink. @p component names the part of the library ("net", "route",
 * "producer", ...); @p msg is NUL-terminated and only valid during the call.
 * @remark Called from library threads (including the I/O thread): it must be
 *         thread-safe, must not block for long, and must not call back into
 *         the library.
 */
typedef void(rmq_log_cb)(void *opaque, rmq_log_level_t level,
                         const char *component, const char *msg);

/* ------------------------------------------------------------------------ */
/** @name Configuration
 *
 * String key/value configuration with the Java client's property names and
 * defaults (see doc/configuration.md for every key). Unknown keys and bad
 * values are errors, never ignored.
 *
 * Scopes: every key belongs to the client instance, the producer, the
 * consumer, or both producer and consumer (doc/configuration.md's
 * sections). A constructor given a key it would ignore fails (NULL, the
 * key named in errstr) rather than ignore it. A key counts when it was set
 * with rmq_conf_set (keys left at their defaults never do):
 *  - rmq_client_new reads the client keys and leaves the producer and
 *    consumer keys of its conf to the objects made on it with the same
 *    conf (which check them);
 *  - rmq_producer_new reads the producer keys, and the client keys too
 *    when it makes its own client (client NULL): a consumer key is an
 *    error; on a shared client, a client key is accepted only when it
 *    equals that client's value (so one conf may serve both calls), since
 *    the producer uses the client's;
 *  - rmq_pull_consumer_new and rmq_push_consumer_new likewise with the
 *    consumer keys: a producer key is an error.
 */

typedef struct rmq_conf rmq_conf_t;
/** A client instance (see "Client instance" below). */
typedef struct rmq_client rmq_client_t;

/**
 * @brief A configuration with every key at its default.
 * @returns a new object owned by the caller (rmq_conf_destroy), or NULL when
 *          out of memory.
 * @remark Thread-safe. A conf object itself is not synchronised: do not
 *         modify one from two threads at once.
 */
RMQ_API rmq_conf_t *rmq_conf_new(void);

/** @brief A deep copy of @p conf, owned by the caller; NULL on no memory. */
RMQ_API rmq_conf_t *rmq_conf_dup(const rmq_conf_t *conf);

/** @brief Frees @p conf. NULL is allowed. */
RMQ_API void rmq_conf_destroy(rmq_conf_t *conf);

/**
 * @brief Sets @p key to @p value (always text, e.g. "3000" or "true").
 * @param errstr receives a message naming the problem on failure (may be
 *        NULL); it is always NUL-terminated when @p errstr_size > 0.
 * @returns RMQ_OK; RMQ_ERR_CONF_UNKNOWN for a key that does not exist;
 *          RMQ_ERR_CONF_INVALID for a value of the wrong type or out of
 *          range (the old value is kept); RMQ_ERR_INVALID_ARG for NULL
 *          arguments; RMQ_ERR_NOMEM.
 */
RMQ_API rmq_err_t rmq_conf_set(rmq_conf_t *conf, const char *key,
                               const char *value, char *errstr,
                               size_t errstr_size);

/**
 * @brief Reads the current value of @p key as text.
 * @param out buffer for the value (NUL-terminated), may be NULL to ask for
 *        the size.
 * @param out_size in: size of @p out; out: bytes needed including the NUL.
 * @returns RMQ_OK (also when @p out was too small: compare *out_size),
 *          RMQ_ERR_CONF_UNKNOWN, RMQ_ERR_INVALID_ARG.
 */
RMQ_API rmq_err_t rmq_conf_get(const rmq_conf_t *conf, const char *key,
                               char *out, size_t *out_size);

/**
 * @brief Routes the library's log lines to @p cb (NULL restores the
 *        default: stderr, filtered by the `logLevel` key).
 */
RMQ_API void rmq_conf_set_log_cb(rmq_conf_t *conf, rmq_log_cb *cb,
                                 void *opaque);

/**
 * Receives the client's statistics every `statisticsIntervalMs`: one JSON
 * object (schema: doc/statistics.md) of @p len bytes, NUL-terminated,
 * valid only during the call. Runs on a callback thread (in rmq_poll in
 * poll mode), never after rmq_client_destroy returns; a report that would
 * start while the previous one is still queued is skipped.
 */
typedef void(rmq_stats_cb)(rmq_client_t *client, const char *json, size_t len,
                           void *opaque);

/** @brief Sets the statistics callback (needs `statisticsIntervalMs`). */
RMQ_API void rmq_conf_set_stats_cb(rmq_conf_t *conf, rmq_stats_cb *cb,
                                   void *opaque);

/**
 * Receives one key of rmq_conf_dump(): its name, current value and
 * default as text, its scope ("client", "producer", "consumer" or
 * "producer,consumer") and whether rmq_conf_set set it. The strings are
 * valid only during the call. Secret values (secretKey, securityToken,
 * tlsKeyPassword, the secret part of sessionCredentials) read "***" when
 * set.
 */
typedef void(rmq_conf_dump_cb)(void *opaque, const char *key, const char *value,
                               const char *dflt, const char *scope, int is_set);

/**
 * @brief Calls @p cb once for every configuration key, in the order of
 *        doc/configuration.md (like librdkafka's rd_kafka_conf_dump).
 * @returns RMQ_OK; RMQ_ERR_INVALID_ARG for NULL arguments; RMQ_ERR_NOMEM
 *          (then not every key was reported).
 * @remark Runs @p cb on the calling thread; @p conf must not change
 *         meanwhile.
 */
RMQ_API rmq_err_t rmq_conf_dump(const rmq_conf_t *conf, rmq_conf_dump_cb *cb,
                                void *opaque);

/* ------------------------------------------------------------------------ */
/** @name Messages
 *
 * A message is built by the application for sending, or handed to it by a
 * consumer. Setters copy their arguments. Getters return pointers owned by
 * the message, valid until it is destroyed or the same field is set again.
 * A message is not synchronised: use one from one thread at a time.
 */

typedef struct rmq_msg rmq_msg_t;

/**
 * @brief A new message for @p topic (1..127 characters of [%|a-zA-Z0-9_-],
 *        checked when it is sent).
 * @returns a message owned by the caller (rmq_msg_destroy), or NULL if
 *          @p topic is NULL or memory ran out.
 */
RMQ_API rmq_msg_t *rmq_msg_new(const char *topic);

/** @brief Frees @p msg. NULL is allowed. */
RMQ_API void rmq_msg_destroy(rmq_msg_t *msg);

/** @brief Copies @p len bytes of @p body into the message. */
RMQ_API rmq_err_t rmq_msg_set_body(rmq_msg_t *msg, const void *body,
                                   size_t len);

/**
 * @brief Hands @p body to the message without a copy. On RMQ_OK the message
 *        owns it and calls @p free_fn(body) when it no longer needs it (NULL
 *        @p free_fn: the memory is only borrowed and must outlive the
 *        message). On failure the caller keeps it.
 */
RMQ_API rmq_err_t rmq_msg_set_body_owned(rmq_msg_t *msg, void *body, size_t len,
                                         void (*free_fn)(void *));

/** @brief The tag (property TAGS), used by consumers' tag filters. */
RMQ_API rmq_err_t rmq_msg_set_tags(rmq_msg_t *msg, const char *tags);

/** @brief Business keys (property KEYS), several separated by spaces. */
RMQ_API rmq_err_t rmq_msg_set_keys(rmq_msg_t *msg, const char *keys);

/**
 * @brief Sets a user property. Names reserved by RocketMQ (TAGS, KEYS,
 *        UNIQ_KEY, DELAY, ...: Java's MessageConst) are refused with
 *        RMQ_ERR_INVALID_ARG, as in Java; so are names or values containing
 *        the bytes 0x01 or 0x02, and names or values that are blank:
 *        empty or made only of bytes up to 0x20 (space, tab, newline and
 *        the other control characters), which Java's putUserProperty
 *        refuses after String.trim().
 */
RMQ_API rmq_err_t rmq_msg_set_property(rmq_msg_t *msg, const char *name,
                                       const char *value);

/** @brief Delay level 1..18 (broker's messageDelayLevel); 0 clears it. */
RMQ_API rmq_err_t rmq_msg_set_delay_level(rmq_msg_t *msg, int level);

/**
 * @brief Deliver at @p epoch_ms (5.x brokers with the timer wheel; property
 *        TIMER_DELIVER_MS). 0 clears it.
 */
RMQ_API rmq_err_t rmq_msg_set_deliver_time(rmq_msg_t *msg, int64_t epoch_ms);

/** @brief Deliver after @p delay_ms (5.x; property TIMER_DELAY_MS). */
RMQ_API rmq_err_t rmq_msg_set_delay_ms(rmq_msg_t *msg, int64_t delay_ms);

/**
 * @brief The key rmq_producer_send_orderly() hashes to pick a queue, with
 *        Java's String.hashCode, so the same key picks the same queue as the
 *        Java client's SelectMessageQueueByHash. Not sent on the wire.
 */
RMQ_API rmq_err_t rmq_msg_set_sharding_key(rmq_msg_t *msg, const char *key);

/** @brief The user flag stored with the message (default 0). */
RMQ_API rmq_err_t rmq_msg_set_flag(rmq_msg_t *msg, int32_t flag);

RMQ_API const char *rmq_msg_topic(const rmq_msg_t *msg);
/** @brief The body (decompressed, for received messages) and its length. */
RMQ_API const void *rmq_msg_body(const rmq_msg_t *msg, size_t *len);
RMQ_API const char *rmq_msg_tags(const rmq_msg_t *msg);
RMQ_API const char *rmq_msg_keys(const rmq_msg_t *msg);
/** @brief Any property by name (user or system), or NULL. */
RMQ_API const char *rmq_msg_property(const rmq_msg_t *msg, const char *name);
/** @brief Number of properties, for iteration with rmq_msg_property_at. */
RMQ_API size_t rmq_msg_property_count(const rmq_msg_t *msg);
/** @brief The @p i-th property; RMQ_ERR_NOT_FOUND past the end. */
RMQ_API rmq_err_t rmq_msg_property_at(const rmq_msg_t *msg, size_t i,
                                      const char **name, const char **value);
RMQ_API int rmq_msg_delay_level(const rmq_msg_t *msg);
RMQ_API int32_t rmq_msg_flag(const rmq_msg_t *msg);

/**
 * @name Metadata of a received message
 *
 * What the broker stored with a message a consumer received (Java's
 * MessageExt). For a message built by the application these return NULL,
 * -1 or 0. Strings are owned by the message.
 */
/** @brief The message id: UNIQ_KEY when present, else the offset id. */
RMQ_API const char *rmq_msg_id(const rmq_msg_t *msg);
/** @brief The broker-assigned id: store host and commit-log offset. */
RMQ_API const char *rmq_msg_offset_id(const rmq_msg_t *msg);
/** @brief The name of the broker the message was read from. */
RMQ_API const char *rmq_msg_broker_name(const rmq_msg_t *msg);
RMQ_API int32_t rmq_msg_queue_id(const rmq_msg_t *msg);
RMQ_API int64_t rmq_msg_queue_offset(const rmq_msg_t *msg);
RMQ_API int64_t rmq_msg_commitlog_offset(const rmq_msg_t *msg);
/** @brief When the producer made it, in ms since the epoch. */
RMQ_API int64_t rmq_msg_born_timestamp(const rmq_msg_t *msg);
/** @brief When the broker stored it, in ms since the epoch. */
RMQ_API int64_t rmq_msg_store_timestamp(const rmq_msg_t *msg);
/** @brief The producer's address, "ip:port" or "[v6]:port". */
RMQ_API const char *rmq_msg_born_host(const rmq_msg_t *msg);
/** @brief The broker's store address, "ip:port" or "[v6]:port". */
RMQ_API const char *rmq_msg_store_host(const rmq_msg_t *msg);
RMQ_API int32_t rmq_msg_reconsume_times(const rmq_msg_t *msg);
RMQ_API int32_t rmq_msg_sys_flag(const rmq_msg_t *msg);
RMQ_API uint32_t rmq_msg_body_crc(const rmq_msg_t *msg);
/**
 * @brief The transaction id of a transactional message (property
 *        `__transactionId__`, the UNIQ_KEY of its half message), in the
 *        execute and check callbacks; NULL for other messages.
 */
RMQ_API const char *rmq_msg_transaction_id(const rmq_msg_t *msg);

/* ------------------------------------------------------------------------ */
/** @name Client instance
 *
 * A client instance owns the connections (one per broker address), the I/O
 * thread, the route cache, heartbeats and the callback threads. Every
 * producer and consumer created on it shares them. Several instances in one
 * process are independent.
 */

/**
 * @brief Creates and starts a client instance from the client-scope keys of
 *        @p conf (copied; the caller keeps @p conf).
 * @returns the client, owned by the caller (rmq_client_destroy), or NULL
 *          with a message in @p errstr.
 * @remark Thread-safe. Starts the I/O thread and, in callbackMode `pool`,
 *         the callback threads.
 */
RMQ_API rmq_client_t *rmq_client_new(const rmq_conf_t *conf, char *errstr,
                                     size_t errstr_size);

/**
 * @brief Stops the instance: refuses new work (sends and calls of its
 *        producers and consumers answer RMQ_ERR_SHUTDOWN from now on), lets
 *        requests in flight finish until @p timeout_ms (long-polling pulls,
 *        which the broker holds until messages come, are not waited for),
 *        fails the rest with
 *        RMQ_ERR_SHUTDOWN, runs the callbacks still queued (each fires
 *        once), joins the I/O and callback threads, and drops the handle.
 * @param timeout_ms bound on the wait for in-flight requests (then they
 *        fail); the call returns within about this time plus the queued
 *        callbacks' own run time.
 * @remark Producers and consumers made on the client may be destroyed
 *         before or after it: the client's memory lives until the last of
 *         them is gone, so destroying them afterwards is safe. Called from
 *         a library callback, or a second time, it logs an error and does
 *         nothing.
 */
RMQ_API void rmq_client_destroy(rmq_client_t *client, int timeout_ms);

/** @brief The client id `ip@instanceName[@unitName]`, owned by the client. */
RMQ_API const char *rmq_client_id(const rmq_client_t *client);

/**
 * @brief The statistics of @p client and of every producer and consumer
 *        made on it, as one JSON object (doc/statistics.md): send and
 *        request counts, latency percentiles, errors by code, per-broker
 *        connection state and round-trip times, consumer progress and lag.
 * @returns a NUL-terminated string to free with rmq_free(); NULL when
 *          @p client is NULL or memory ran out.
 * @remark Thread-safe; the counters are always kept (a few atomic adds per
 *         request), this call only reads them.
 */
RMQ_API char *rmq_client_stats_json(rmq_client_t *client);

/** @brief Frees memory the library handed over (rmq_client_stats_json). */
RMQ_API void rmq_free(void *ptr);

/**
 * @brief In callbackMode `poll`: a file descriptor that is readable while
 *        callbacks are queued. -1 in `pool` mode.
 * @remark Poll it from your own event loop, then call rmq_poll(); do not
 *         read from or close it.
 */
RMQ_API int rmq_poll_fd(rmq_client_t *client);

/**
 * @brief In callbackMode `poll`: runs queued callbacks on the calling
 *        thread, waiting up to @p timeout_ms (0: do not wait, -1: forever)
 *        for the first one.
 * @returns the number of callbacks run (0 on timeout).
 * @remark Call it from one thread at a time; callbacks may call the library
 *         (but not rmq_poll recursively or any destroy function).
 */
RMQ_API int rmq_poll(rmq_client_t *client, int timeout_ms);

/* ------------------------------------------------------------------------ */
/** @name Producer */

typedef struct rmq_producer rmq_producer_t;

/** Send status of a message the broker accepted (SendStatus in Java). */
typedef enum rmq_send_status {
  RMQ_SEND_OK = 0,
  RMQ_SEND_FLUSH_DISK_TIMEOUT = 1,
  RMQ_SEND_FLUSH_SLAVE_TIMEOUT = 2,
  RMQ_SEND_SLAVE_NOT_AVAILABLE = 3
} rmq_send_status_t;

/**
 * The outcome of a send. All strings are owned by the result: for a
 * synchronous send they stay valid until rmq_send_result_clear() (call it
 * once you are done; it is also safe on a zeroed result); for an
 * asynchronous send, until the callback returns.
 */
typedef struct rmq_send_result {
  rmq_send_status_t status;
  /** UNIQ_KEY (comma-separated for a batch). Also on a failure after a
   *  request went out (else NULL): a timed-out message may still have
   *  been stored under this id, and consumers see it with it. */
  const char *msg_id;
  const char *offset_msg_id; /**< broker-assigned id (store host + offset) */
  const char *topic;
  const char *broker_name;
  int32_t queue_id;
  int64_t queue_offset;
  const char *transaction_id;
  const char *region_id;
  /** On failure: the broker's response code (0 if the failure was local),
   *  and a message that names what failed (also set on success: ""). */
  int broker_code;
  const char *error;
  int attempts; /**< attempts made, retries included */
  void *internal_;
  void *reserved_[4]; /**< room to grow without an ABI break; zero */
} rmq_send_result_t;

/** @brief Frees the strings of @p res and zeroes it. */
RMQ_API void rmq_send_result_clear(rmq_send_result_t *res);

/**
 * @brief Called once per asynchronous send, with RMQ_OK or the error, on a
 *        callback thread (or from rmq_poll). @p msg is the message that was
 *        sent; the library destroys it after the callback returns. Once the
 *        client's callback pool is gone (rmq_client_destroy has drained
 *        it), a send that ends later is called back on the thread that
 *        ended it (the I/O thread, or the destroying one), still exactly
 *        once.
 */
typedef void(rmq_send_cb)(rmq_producer_t *producer, rmq_err_t err,
                          const rmq_send_result_t *res, rmq_msg_t *msg,
                          void *opaque);

/**
 * @brief Picks a queue for an ordered send: returns an index in
 *        [0, n_queues), or -1 to fail the send with RMQ_ERR_INVALID_ARG.
 *        @p queue_ids and @p broker_names describe the topic's writable
 *        queues in Java's order.
 */
typedef int(rmq_queue_selector_cb)(size_t n_queues,
                                   const char *const *broker_names,
                                   const int32_t *queue_ids,
                                   const rmq_msg_t *msg, void *arg);

/**
 * @brief Creates a producer on @p client, configured by the producer-scope
 *        keys of @p conf (copied; NULL: defaults).
 * @param client the instance to share; NULL makes a private instance from
 *        the client-scope keys of the same @p conf, owned by the producer.
 * @returns the producer (rmq_producer_destroy), or NULL with a message in
 *          @p errstr.
 * @remark Thread-safe. Every send function below may be called from any
 *         number of threads at once.
 */
RMQ_API rmq_producer_t *rmq_producer_new(rmq_client_t *client,
                                         const rmq_conf_t *conf, char *errstr,
                                         size_t errstr_size);

/** @brief The client instance the producer uses (for rmq_poll). */
RMQ_API rmq_client_t *rmq_producer_client(rmq_producer_t *producer);

/**
 * @brief Sends @p msg and waits for the broker's answer, retrying on another
 *        broker as the Java client does, all within sendMsgTimeout.
 * @param msg borrowed; the caller keeps it.
 * @param res filled on success and on failure (see rmq_send_result_t); may
 *        be NULL.
 * @returns RMQ_OK when the broker stored the message (see res->status);
 *          RMQ_ERR_TIMEOUT, RMQ_ERR_CONNECT, RMQ_ERR_NO_ROUTE,
 *          RMQ_TOPIC_NOT_EXIST, RMQ_ERR_MSG_TOO_LARGE, RMQ_ERR_MSG_EMPTY,
 *          RMQ_ERR_INVALID_ARG, RMQ_ERR_SHUTDOWN, or the broker's code.
 * @remark Blocks the calling thread; must not be called from a library
 *         callback in `pool` mode (it would block a callback thread).
 */
RMQ_API rmq_err_t rmq_producer_send(rmq_producer_t *producer,
                                    const rmq_msg_t *msg,
                                    rmq_send_result_t *res);

/**
 * @brief Sends @p msg without waiting; @p cb fires exactly once.
 * @param msg on RMQ_OK the library takes it (and destroys it after @p cb);
 *        on failure the caller keeps it and @p cb is not called.
 * @returns RMQ_OK when queued; RMQ_ERR_QUEUE_FULL when back pressure is on
 *          and the in-flight limits are still reached at sendMsgTimeout;
 *          validation errors as rmq_producer_send.
 * @remark With `autoBatch` (Java 5.x), messages of one topic, tag and WAIT
 *         flag gather into one batch request, sent when its bodies exceed
 *         `batchMaxBytes` or `batchMaxDelayMs` after it opened, or at once by
 *         rmq_producer_flush and rmq_producer_destroy. Each message's @p cb
 *         still fires once, with its own msg_id, offset_msg_id and
 *         queue_offset (the batch's first offset plus its position). A
 *         route error then comes through @p cb, not as a return value.
 */
RMQ_API rmq_err_t rmq_producer_send_async(rmq_producer_t *producer,
                                          rmq_msg_t *msg, rmq_send_cb *cb,
                                          void *opaque);

/** @brief Sends @p msg once, with no answer and no retry. */
RMQ_API rmq_err_t rmq_producer_send_oneway(rmq_producer_t *producer,
                                           const rmq_msg_t *msg);

/**
 * @brief Sends @p n messages of one topic as one batch (one request, one
 *        queue). Delay and retry-topic messages are refused, as in Java;
 *        the encoded batch must fit maxMessageSize.
 */
RMQ_API rmq_err_t rmq_producer_send_batch(rmq_producer_t *producer,
                                          rmq_msg_t *const *msgs, size_t n,
                                          rmq_send_result_t *res);

/**
 * @brief Ordered send to the queue that the message's sharding key selects
 *        (Java's SelectMessageQueueByHash over the topic's writable
 *        queues). One attempt, like Java selector sends.
 * @returns RMQ_ERR_INVALID_ARG if the message has no sharding key.
 */
RMQ_API rmq_err_t rmq_producer_send_orderly(rmq_producer_t *producer,
                                            const rmq_msg_t *msg,
                                            rmq_send_result_t *res);

/** @brief Ordered send to the queue @p selector picks. One attempt. */
RMQ_API rmq_err_t rmq_producer_send_select(rmq_producer_t *producer,
                                           const rmq_msg_t *msg,
                                           rmq_queue_selector_cb *selector,
                                           void *arg, rmq_send_result_t *res);

/** @brief Send to one given queue of one broker. One attempt. */
RMQ_API rmq_err_t rmq_producer_send_to_queue(rmq_producer_t *producer,
                                             const rmq_msg_t *msg,
                                             const char *broker_name,
                                             int32_t queue_id,
                                             rmq_send_result_t *res);

/**
 * @brief Waits until every asynchronous send has completed (its callback
 *        has returned), up to @p timeout_ms.
 * @returns RMQ_OK or RMQ_ERR_TIMEOUT (sends are still in flight).
 * @remark In callbackMode `poll`, called on the thread that calls
 *         rmq_poll() (or before any thread has polled), it runs the queued
 *         callbacks itself while it waits, as back pressure in
 *         rmq_producer_send_async() does: only that thread could run them.
 *         From another thread it waits for that thread to poll.
 */
RMQ_API rmq_err_t rmq_producer_flush(rmq_producer_t *producer, int timeout_ms);

/**
 * @brief Refuses new sends (RMQ_ERR_SHUTDOWN, at once and without a
 *        callback), flushes for up to @p timeout_ms, then fails what is
 *        still in flight with RMQ_ERR_SHUTDOWN (each callback still fires
 *        once), unregisters the group within what is left of the timeout,
 *        and releases the producer (and destroys its private client, if it
 *        has one).
 * @remark Returns within about @p timeout_ms. Send callbacks still queued
 *         then run afterwards (on a shared client's callback threads, or in
 *         its rmq_poll); the producer's memory lives until the last of them
 *         has returned, and any call they make on it gets
 *         RMQ_ERR_SHUTDOWN. Must not be called from a library callback. A
 *         transactional
 *         producer stops taking checks first, runs the queued ones within
 *         @p timeout_ms, waits for a check callback that is running, and
 *         drops the rest (the broker asks again): no check callback runs
 *         after this returns.
 */
RMQ_API void rmq_producer_destroy(rmq_producer_t *producer, int timeout_ms);

/* ------------------------------------------------------------------------ */
/**
 * @name Transactions
 *
 * Java's TransactionMQProducer, as a listener set on an ordinary producer
 * (so every other send function keeps working on it): the half message is
 * sent, the local transaction runs, and END_TRANSACTION commits or rolls
 * it back. When the state stays unknown, the broker asks again later
 * (CHECK_TRANSACTION_STATE) and the check callback answers; any producer of
 * the same group with a listener may be asked, including one made after
 * the one that sent the message is gone. See doc/transactions.md.
 */

/** The state of a local transaction (Java's LocalTransactionState). */
typedef enum rmq_tx_state {
  RMQ_TX_UNKNOWN = 0, /**< not known yet: the broker will check back */
  RMQ_TX_COMMIT = 1,  /**< commit: the message becomes visible */
  RMQ_TX_ROLLBACK = 2 /**< roll back: the message is dropped */
} rmq_tx_state_t;

/**
 * @brief Runs the local transaction of @p msg, once per
 *        rmq_producer_send_in_transaction() whose half message the broker
 *        stored (SEND_OK), on the thread that called it.
 * @param msg the message as sent, with the properties the library added
 *        (TRAN_MSG, PGROUP, and `__transactionId__`: the transaction id,
 *        which is the message's UNIQ_KEY, also returned by
 *        rmq_msg_transaction_id()); borrowed for the call.
 * @param arg the @p arg of that send; @p opaque the listener's.
 * @returns the state to send to the broker; any value other than
 *          RMQ_TX_COMMIT or RMQ_TX_ROLLBACK counts as RMQ_TX_UNKNOWN.
 */
typedef rmq_tx_state_t(rmq_tx_execute_cb)(rmq_producer_t *producer,
                                          rmq_msg_t *msg, void *arg,
                                          void *opaque);

/**
 * @brief Answers a broker's check of a half message whose state it does
 *        not know (Java's checkLocalTransaction), on a callback thread (or
 *        from rmq_poll() in callbackMode `poll`); with several callback
 *        threads, checks may run at the same time.
 * @param msg the half message as the broker stored it (rmq_msg_id,
 *        rmq_msg_transaction_id, rmq_msg_offset_id, properties, body,
 *        ...); borrowed for the call.
 * @returns the state; the library sends it to the broker that asked.
 * @remark A check that runs while the producer is being destroyed may
 *         still call the library: sends then fail with RMQ_ERR_SHUTDOWN.
 */
typedef rmq_tx_state_t(rmq_tx_check_cb)(rmq_producer_t *producer,
                                        const rmq_msg_t *msg, void *opaque);

/**
 * @brief Makes @p producer transactional: @p execute runs the local
 *        transactions of rmq_producer_send_in_transaction(), @p check
 *        answers the broker's checks for the producer's group.
 * @remark Call it once, right after rmq_producer_new() (checks for the
 *         group can arrive as soon as the producer is registered; until
 *         there is a listener they are dropped, as in Java). A setter on
 *         the ordinary producer rather than a separate constructor: one
 *         producer type, one configuration, every send function, and the
 *         listener is the only thing Java's TransactionMQProducer adds.
 *         Pending checks are bounded (2000 per producer, as Java's check
 *         queue): past that they are dropped and logged, and the broker
 *         asks again later.
 * @returns RMQ_OK; RMQ_ERR_INVALID_ARG when a callback is NULL;
 *          RMQ_ERR_STATE when a listener is already set; RMQ_ERR_SHUTDOWN
 *          after destroy began.
 */
RMQ_API rmq_err_t rmq_producer_set_transaction_listener(
    rmq_producer_t *producer, rmq_tx_execute_cb *execute,
    rmq_tx_check_cb *check, void *opaque);

/**
 * @brief Sends @p msg as a transactional half message, runs the local
 *        transaction and ends it (Java's sendMessageInTransaction).
 *
 * The half message (properties TRAN_MSG=true and PGROUP=the group) is sent
 * synchronously with rmq_producer_send()'s retries. When the broker stored
 * it with SEND_OK, the execute callback runs on this thread; for the other
 * stored statuses (flush or slave timeouts) the state is RMQ_TX_ROLLBACK
 * without the callback, as in Java. Then END_TRANSACTION (commit, rollback
 * or unknown) goes one-way to the master of the broker that stored the
 * half message; if it is lost, the broker's check asks again.
 *
 * @param msg borrowed, and changed as Java changes it: the library adds
 *        TRAN_MSG, PGROUP and `__transactionId__` and removes a delay
 *        level (transactional messages cannot be delayed; Java ignores the
 *        level the same way).
 * @param arg handed to the execute callback.
 * @param res as for rmq_producer_send(); res->transaction_id is the
 *        transaction id (the message's UNIQ_KEY, as the broker returns it).
 * @param local_state receives the state sent to the broker (may be NULL);
 *        RMQ_TX_ROLLBACK when the half message was not stored (the
 *        callback did not run). An out parameter rather than a new field of
 *        rmq_send_result_t: that struct is allocated by callers and zeroed
 *        whole by every send, so growing it would break programs built
 *        against an older header.
 * @returns RMQ_OK when the half message was stored (whatever the local
 *          state); the errors of rmq_producer_send() otherwise;
 *          RMQ_ERR_STATE when no listener is set.
 * @remark Blocks like rmq_producer_send(); the same thread rules apply.
 */
RMQ_API rmq_err_t rmq_producer_send_in_transaction(rmq_producer_t *producer,
                                                   rmq_msg_t *msg, void *arg,
                                                   rmq_send_result_t *res,
                                                   rmq_tx_state_t *local_state);

/* ------------------------------------------------------------------------ */
/**
 * @name Request/reply
 *
 * Java's DefaultMQProducer.request: a message sent to an ordinary topic
 * carries a correlation id (property CORRELATION_ID), the requester's
 * client id (REPLY_TO_CLIENT) and its timeout (TTL); a consumer of the
 * topic (push or lite pull, C or Java) builds the reply with
 * rmq_msg_new_reply() and sends it with any producer send; the broker
 * pushes the reply straight to the requester's connection
 * (PUSH_REPLY_MESSAGE_TO_CLIENT), where it completes the waiting request
 * exactly once. See doc/request_reply.md.
 *
 * The requests one producer may have waiting are bounded (10000, then
 * RMQ_ERR_QUEUE_FULL). A reply that matches no waiting request (it came
 * after the timeout, or for another client) is dropped and logged.
 */

/**
 * @brief Called once per rmq_producer_request_async(): with RMQ_OK and the
 *        reply, or with the error and @p reply NULL: RMQ_ERR_TIMEOUT when
 *        no reply came within the timeout, RMQ_ERR_SHUTDOWN when the
 *        producer was destroyed first, the send's error when the request
 *        could not be sent, RMQ_ERR_COMPRESSION / RMQ_ERR_LIMIT for a reply
 *        whose body cannot be inflated.
 * @param reply borrowed: the library destroys it after the callback.
 * @remark Runs on a callback thread (or inside rmq_poll() in callbackMode
 *         `poll`); it may call the library (not rmq_producer_destroy).
 */
typedef void(rmq_request_cb)(rmq_producer_t *producer, rmq_err_t err,
                             rmq_msg_t *reply, void *opaque);

/**
 * @brief Sends @p msg as a request and waits up to @p timeout_ms for the
 *        reply (Java's request(msg, timeout)).
 * @param msg borrowed, and changed as Java changes it: the library sets the
 *        properties CORRELATION_ID (a new id), REPLY_TO_CLIENT (this
 *        client's id) and TTL (@p timeout_ms). It is sent like
 *        rmq_producer_send(), with its retries, within @p timeout_ms.
 * @param timeout_ms the whole wait: send and reply; > 0.
 * @param reply receives the reply on RMQ_OK, owned by the caller
 *        (rmq_msg_destroy); NULL otherwise. Its metadata is what the
 *        broker pushed: topic (`<cluster>_REPLY_TOPIC`), properties,
 *        queue id, born and store hosts and timestamps; rmq_msg_id() is
 *        the replier's UNIQ_KEY.
 * @returns RMQ_OK; RMQ_ERR_TIMEOUT (sent, but no reply in time); the
 *          errors of rmq_producer_send() when the request could not be
 *          sent; RMQ_ERR_QUEUE_FULL; RMQ_ERR_SHUTDOWN (also when the
 *          producer is destroyed while this waits); RMQ_ERR_INVALID_ARG.
 * @remark Blocks the calling thread (never needs rmq_poll to complete, in
 *         either callbackMode). The first request to a topic fetches its
 *         route and sends a heartbeat to its brokers first, as Java does,
 *         so that the broker knows where to push the reply.
 */
RMQ_API rmq_err_t rmq_producer_request(rmq_producer_t *producer, rmq_msg_t *msg,
                                       int timeout_ms, rmq_msg_t **reply);

/**
 * @brief Sends @p msg as a request without waiting; @p cb fires exactly
 *        once with the reply, RMQ_ERR_TIMEOUT (within about 50 ms after
 *        @p timeout_ms), RMQ_ERR_SHUTDOWN, or the send's error.
 * @param msg on RMQ_OK the library takes it (properties set as for
 *        rmq_producer_request) and destroys it once sent; on failure the
 *        caller keeps it and @p cb is not called.
 * @returns RMQ_OK when sent off; RMQ_ERR_INVALID_ARG, RMQ_ERR_SHUTDOWN,
 *          RMQ_ERR_QUEUE_FULL, or a validation or route error.
 * @remark May block the caller for the topic's first route lookup, as
 *         rmq_producer_send_async() does.
 */
RMQ_API rmq_err_t rmq_producer_request_async(rmq_producer_t *producer,
                                             rmq_msg_t *msg, int timeout_ms,
                                             rmq_request_cb *cb, void *opaque);

/**
 * @brief Builds the reply to a received request message (Java's
 *        MessageUtil.createReplyMessage): topic `<CLUSTER>_REPLY_TOPIC`
 *        from the request's CLUSTER property (which the broker adds to
 *        every stored message), MSG_TYPE=reply, and the request's
 *        CORRELATION_ID, REPLY_TO_CLIENT and TTL; @p len bytes of @p body
 *        copied. Send it with rmq_producer_send() (or any send): a reply
 *        goes as SEND_REPLY_MESSAGE_V2, and the broker answers
 *        RMQ_SYSTEM_ERROR when the requester is no longer connected.
 * @param request a message a consumer received (borrowed).
 * @param reply receives a new message owned by the caller, which may add
 *        tags, keys and properties before sending it.
 * @returns RMQ_OK; RMQ_ERR_INVALID_ARG when an argument is NULL or the
 *          request has no CLUSTER property (it did not come from a
 *          broker); RMQ_ERR_NOMEM.
 */
RMQ_API rmq_err_t rmq_msg_new_reply(const rmq_msg_t *request, const void *body,
                                    size_t len, rmq_msg_t **reply);

/* ------------------------------------------------------------------------ */
/** @name Message queues */

/**
 * One queue of a topic on one broker. In lists the library returns, the
 * strings are owned by the list; in arguments they are borrowed for the
 * call.
 */
typedef struct rmq_queue {
  const char *topic;
  const char *broker_name;
  int32_t queue_id;
} rmq_queue_t;

/** A list of queues owned by the caller: free it with rmq_queue_list_clear. */
typedef struct rmq_queue_list {
  rmq_queue_t *queues;
  size_t n;
} rmq_queue_list_t;

/** @brief Frees what @p list holds and zeroes it (safe on a zeroed list). */
RMQ_API void rmq_queue_list_clear(rmq_queue_list_t *list);

/* ------------------------------------------------------------------------ */
/**
 * @name Pull consumer
 *
 * The lite pull consumer (Java's DefaultLitePullConsumer): the application
 * calls rmq_pull_consumer_poll() for messages; the library pulls ahead in
 * the background (long polling on the I/O thread), rebalances the group's
 * queues, and commits offsets. Either subscribe to topics (the group shares
 * their queues with every consumer of the group, Java or C) or assign
 * queues yourself. Configured by the consumer-scope keys of doc/
 * configuration.md (consumerGroup, messageModel, consumeFromWhere,
 * consumeTimestamp, allocateMessageQueueStrategy, pullBatchSize,
 * autoCommit, ...).
 *
 * Raw pulls (one PULL_MESSAGE for one queue at one offset, Java's
 * DefaultMQPullConsumer) are rmq_pull_consumer_pull(); they need no
 * subscription and no start.
 *
 * Thread-safety: every function may be called from any thread, except
 * that rmq_pull_consumer_poll() should be called from one thread at a
 * time (several pollers are safe but share one message stream), and
 * rmq_pull_consumer_destroy() only once, with no other call running.
 */

typedef struct rmq_pull_consumer rmq_pull_consumer_t;

/**
 * @brief Creates a pull consumer on @p client for the group named by the
 *        consumerGroup key of @p conf (copied; required).
 * @param client the instance to share; NULL makes a private instance from
 *        the client-scope keys of @p conf, owned by the consumer.
 * @returns the consumer (rmq_pull_consumer_destroy), or NULL with a message
 *          in @p errstr.
 */
RMQ_API rmq_pull_consumer_t *rmq_pull_consumer_new(rmq_client_t *client,
                                                   const rmq_conf_t *conf,
                                                   char *errstr,
                                                   size_t errstr_size);

/** @brief The client instance the consumer uses. */
RMQ_API rmq_client_t *rmq_pull_consumer_client(rmq_pull_consumer_t *consumer);

/**
 * @brief Subscribes to @p topic with a tag expression ("*", "TagA",
 *        "TagA || TagB"); replaces an earlier subscription to the topic.
 *        Not with rmq_pull_consumer_assign().
 * @returns RMQ_OK; RMQ_ERR_INVALID_ARG for a bad topic; RMQ_ERR_STATE after
 *          assign().
 */
RMQ_API rmq_err_t rmq_pull_consumer_subscribe(rmq_pull_consumer_t *consumer,
                                              const char *topic,
                                              const char *tag_expression);

/**
 * @brief Subscribes with an SQL92 expression over message properties (the
 *        broker needs enablePropertyFilter=true).
 */
RMQ_API rmq_err_t rmq_pull_consumer_subscribe_sql(rmq_pull_consumer_t *consumer,
                                                  const char *topic,
                                                  const char *sql);

/** @brief Drops the subscription to @p topic and its queues. */
RMQ_API rmq_err_t rmq_pull_consumer_unsubscribe(rmq_pull_consumer_t *consumer,
                                                const char *topic);

/**
 * @brief Consumes exactly @p queues (copied), replacing any earlier
 *        assignment; no rebalance. Not with subscribe().
 */
RMQ_API rmq_err_t rmq_pull_consumer_assign(rmq_pull_consumer_t *consumer,
                                           const rmq_queue_t *queues, size_t n);

/**
 * @brief Starts pulling: registers the group with the brokers (heartbeat),
 *        rebalances subscribed topics, and begins pulling ahead.
 * @returns RMQ_OK, RMQ_ERR_STATE when already started.
 */
RMQ_API rmq_err_t rmq_pull_consumer_start(rmq_pull_consumer_t *consumer);

/**
 * @brief Takes up to @p max received messages, waiting up to @p timeout_ms
 *        (-1: the pollTimeoutMillis key; 0: do not wait) for the first.
 * @param msgs receives messages owned by the caller (rmq_msg_destroy each).
 * @returns the number of messages (0 when none came in time), or a
 *          negative rmq_err_t (RMQ_ERR_STATE before start or after close).
 * @remark With autoCommit, the offsets of what polls returned are
 *         committed in the background every autoCommitIntervalMillis. A
 *         message whose record cannot be decoded (bad CRC, unknown
 *         compression) is skipped and logged, and the consumer goes on.
 */
RMQ_API int rmq_pull_consumer_poll(rmq_pull_consumer_t *consumer,
                                   rmq_msg_t **msgs, size_t max,
                                   int timeout_ms);

/**
 * @brief Moves @p queue (which must be assigned) to @p offset: the next
 *        messages polled from it start there; messages pulled ahead are
 *        dropped.
 */
RMQ_API rmq_err_t rmq_pull_consumer_seek(rmq_pull_consumer_t *consumer,
                                         const rmq_queue_t *queue,
                                         int64_t offset);
/** @brief seek() to the queue's first stored message. */
RMQ_API rmq_err_t rmq_pull_consumer_seek_to_begin(rmq_pull_consumer_t *consumer,
                                                  const rmq_queue_t *queue);
/** @brief seek() past the queue's last message (only new ones follow). */
RMQ_API rmq_err_t rmq_pull_consumer_seek_to_end(rmq_pull_consumer_t *consumer,
                                                const rmq_queue_t *queue);

/**
 * @brief The offset of the first message stored at or after
 *        @p timestamp_ms in @p queue (broker SEARCH_OFFSET_BY_TIMESTAMP).
 */
RMQ_API rmq_err_t rmq_pull_consumer_offset_for_timestamp(
    rmq_pull_consumer_t *consumer, const rmq_queue_t *queue,
    int64_t timestamp_ms, int64_t *offset);

/**
 * @brief Commits, synchronously, the offsets of everything polled so far
 *        on every assigned queue (Java commitSync).
 */
RMQ_API rmq_err_t rmq_pull_consumer_commit(rmq_pull_consumer_t *consumer);

/**
 * @brief Commits @p offset (the next offset to consume) for @p queue, to
 *        the broker at once (clustering) or to the local offset file
 *        (broadcasting).
 */
RMQ_API rmq_err_t rmq_pull_consumer_commit_queue(rmq_pull_consumer_t *consumer,
                                                 const rmq_queue_t *queue,
                                                 int64_t offset);

/**
 * @brief The group's committed offset of @p queue, as the broker (or the
 *        local offset file) has it.
 * @returns RMQ_ERR_NOT_FOUND when nothing was ever committed.
 */
RMQ_API rmq_err_t rmq_pull_consumer_committed(rmq_pull_consumer_t *consumer,
                                              const rmq_queue_t *queue,
                                              int64_t *offset);

/** @brief Stops pulling from @p queues until resumed (already pulled
 *         messages are still returned, as in Java). */
RMQ_API rmq_err_t rmq_pull_consumer_pause(rmq_pull_consumer_t *consumer,
                                          const rmq_queue_t *queues, size_t n);
RMQ_API rmq_err_t rmq_pull_consumer_resume(rmq_pull_consumer_t *consumer,
                                           const rmq_queue_t *queues, size_t n);

/**
 * Called when a rebalance changed the queues a consumer holds of @p topic
 * (Java's MessageQueueListener.messageQueueChanged): @p all is every
 * readable queue of the topic, @p assigned those this consumer holds now.
 * The lists and their strings are valid during the call only. Runs on a
 * callback thread (or in rmq_poll); never after the consumer's destroy has
 * begun.
 */
typedef void(rmq_assignment_cb)(const char *topic, const rmq_queue_t *all,
                                size_t n_all, const rmq_queue_t *assigned,
                                size_t n_assigned, void *opaque);

/** @brief Sets the assignment listener (NULL: none), for subscribed topics. */
RMQ_API rmq_err_t rmq_pull_consumer_set_assignment_cb(
    rmq_pull_consumer_t *consumer, rmq_assignment_cb *cb, void *opaque);

/** @brief The queues currently assigned to this consumer. */
RMQ_API rmq_err_t rmq_pull_consumer_assignment(rmq_pull_consumer_t *consumer,
                                               rmq_queue_list_t *out);

/** @brief Every readable queue of @p topic (from the name server). */
RMQ_API rmq_err_t rmq_pull_consumer_fetch_queues(rmq_pull_consumer_t *consumer,
                                                 const char *topic,
                                                 rmq_queue_list_t *out);

/** Outcome of a raw pull (PullStatus in Java). */
typedef enum rmq_pull_status {
  RMQ_PULL_FOUND = 0,
  RMQ_PULL_NO_NEW_MSG = 1,
  RMQ_PULL_NO_MATCHED_MSG = 2,
  RMQ_PULL_OFFSET_ILLEGAL = 3
} rmq_pull_status_t;

/** The result of a raw pull; free with rmq_pull_result_clear. */
typedef struct rmq_pull_result {
  rmq_pull_status_t status;
  int64_t next_begin_offset;
  int64_t min_offset;
  int64_t max_offset;
  rmq_msg_t **msgs; /**< owned by the result */
  size_t n_msgs;
  size_t n_bad;       /**< records skipped as undecodable */
  void *reserved_[4]; /**< room to grow without an ABI break; zero */
} rmq_pull_result_t;

RMQ_API void rmq_pull_result_clear(rmq_pull_result_t *res);

/**
 * @brief One pull from @p queue at @p offset of at most @p max_msgs
 *        messages matching @p tag_expression (NULL or "*": all), waiting
 *        for the broker's answer up to @p timeout_ms (-1: the
 *        consumerPullTimeoutMillis key). No long polling; the group's
 *        offsets are not touched.
 */
RMQ_API rmq_err_t rmq_pull_consumer_pull(rmq_pull_consumer_t *consumer,
                                         const rmq_queue_t *queue,
                                         const char *tag_expression,
                                         int64_t offset, int max_msgs,
                                         int timeout_ms,
                                         rmq_pull_result_t *res);

/**
 * @brief Commits the offsets (clustering: to the brokers, waiting for their
 *        answers; broadcasting: to the offset file), unregisters the group,
 *        stops pulling, joins the consumer's threads within about
 *        @p timeout_ms and frees it (and its private client). Messages not
 *        yet polled are dropped.
 */
RMQ_API void rmq_pull_consumer_destroy(rmq_pull_consumer_t *consumer,
                                       int timeout_ms);

/* ------------------------------------------------------------------------ */
/**
 * @name Push consumer
 *
 * Java's DefaultMQPushConsumer: the library pulls (long polling on the I/O
 * thread), rebalances the group's queues, and calls your listener with
 * the messages, on its own consume threads (`consumeThreadMin`, default
 * 20) or, in callbackMode `poll`, inside rmq_poll() on your thread. Offsets
 * are committed for you: the lowest offset of each queue whose message is
 * not finished yet, so nothing unfinished is ever committed past.
 *
 * Two kinds of listener:
 *  - concurrent (rmq_push_consumer_set_listener): messages of a queue may
 *    run on several threads at once. RMQ_CONSUME_RETRY_LATER (or an
 *    ack index that leaves messages out) sends the message back to the
 *    broker, which redelivers it through the group's retry topic
 *    `%RETRY%<group>` after a delay (clustering), with a growing
 *    rmq_msg_reconsume_times(); after `maxReconsumeTimes` (default 16) it
 *    goes to the dead-letter topic `%DLQ%<group>`. In broadcasting mode a
 *    failure is only logged, as in Java.
 *  - orderly (rmq_push_consumer_set_listener_orderly): one queue's
 *    messages run one call at a time, in queue order; in clustering mode
 *    the queue is locked on its broker first (LOCK_BATCH_MQ, renewed every
 *    20 s), so no other consumer of the group consumes it meanwhile.
 *    RMQ_CONSUME_SUSPEND retries the same messages after
 *    `suspendCurrentQueueTimeMillis`.
 *
 * Configured by the consumer-scope keys of doc/configuration.md
 * (consumerGroup, messageModel, consumeFromWhere, consumeThreadMin,
 * consumeMessageBatchMaxSize, maxReconsumeTimes, pullBatchSize (default
 * 32 here), pullThresholdForQueue, pullThresholdSizeForQueue,
 * consumeConcurrentlyMaxSpan, pullInterval, ...).
 *
 * Thread-safety: every function may be called from any thread;
 * rmq_push_consumer_destroy() only once, and not from the listener.
 */

typedef struct rmq_push_consumer rmq_push_consumer_t;

/** What a listener answers. */
typedef enum rmq_consume_status {
  /** Consumed (concurrent: up to the context's ack index, default all). */
  RMQ_CONSUME_SUCCESS = 0,
  /** Concurrent: deliver again later (Java RECONSUME_LATER). */
  RMQ_CONSUME_RETRY_LATER = 1,
  /** Orderly: retry these messages after a pause (Java
   *  SUSPEND_CURRENT_QUEUE_A_MOMENT). */
  RMQ_CONSUME_SUSPEND = 2
} rmq_consume_status_t;

/**
 * What the listener may read and set about one call (Java's
 * ConsumeConcurrentlyContext / ConsumeOrderlyContext). Valid only during
 * the call.
 */
typedef struct rmq_consume_ctx {
  /** The queue the messages came from (strings owned by the library). */
  rmq_queue_t queue;
  /** Concurrent: the messages after this index are failed (-1: all of
   *  them; default: the last index, all succeed). */
  int ack_index;
  /** Concurrent: delay level of the retry (0: the broker's choice, 3 +
   *  reconsume times; -1: straight to the dead-letter topic). */
  int delay_level;
  /** Orderly: pause before the retry, ms (default
   *  suspendCurrentQueueTimeMillis). */
  int64_t suspend_ms;
  void *reserved_[4];
} rmq_consume_ctx_t;

/**
 * The listener. @p msgs (1..consumeMessageBatchMaxSize of them) are
 * borrowed: the library destroys them after the call. Runs on a consume
 * thread (or inside rmq_poll); it may call the library, except
 * rmq_push_consumer_destroy.
 */
typedef rmq_consume_status_t(rmq_consume_cb)(rmq_push_consumer_t *consumer,
                                             rmq_msg_t *const *msgs, size_t n,
                                             rmq_consume_ctx_t *ctx,
                                             void *opaque);

/**
 * @brief Creates a push consumer on @p client for the group named by the
 *        consumerGroup key of @p conf (copied; required).
 * @param client the instance to share; NULL makes a private instance from
 *        the client-scope keys of @p conf, owned by the consumer.
 * @returns the consumer (rmq_push_consumer_destroy), or NULL with a message
 *          in @p errstr.
 */
RMQ_API rmq_push_consumer_t *rmq_push_consumer_new(rmq_client_t *client,
                                                   const rmq_conf_t *conf,
                                                   char *errstr,
                                                   size_t errstr_size);

/** @brief The client instance the consumer uses (for rmq_poll). */
RMQ_API rmq_client_t *rmq_push_consumer_client(rmq_push_consumer_t *consumer);

/**
 * @brief Sets a concurrent listener (before start).
 * @returns RMQ_OK; RMQ_ERR_STATE after start.
 */
RMQ_API rmq_err_t rmq_push_consumer_set_listener(rmq_push_consumer_t *consumer,
                                                 rmq_consume_cb *cb,
                                                 void *opaque);

/** @brief Sets an orderly listener (before start). */
RMQ_API rmq_err_t rmq_push_consumer_set_listener_orderly(
    rmq_push_consumer_t *consumer, rmq_consume_cb *cb, void *opaque);

/**
 * @brief Subscribes to @p topic with a tag expression ("*", "TagA || TagB")
 *        (before or after start).
 */
RMQ_API rmq_err_t rmq_push_consumer_subscribe(rmq_push_consumer_t *consumer,
                                              const char *topic,
                                              const char *tag_expression);

/** @brief Subscribes with an SQL92 expression (enablePropertyFilter). */
RMQ_API rmq_err_t rmq_push_consumer_subscribe_sql(rmq_push_consumer_t *consumer,
                                                  const char *topic,
                                                  const char *sql);

/** @brief Drops the subscription to @p topic and its queues. */
RMQ_API rmq_err_t rmq_push_consumer_unsubscribe(rmq_push_consumer_t *consumer,
                                                const char *topic);

/**
 * @brief Joins the group and starts consuming.
 * @returns RMQ_OK; RMQ_ERR_STATE when already started or no listener is
 *          set.
 */
RMQ_API rmq_err_t rmq_push_consumer_start(rmq_push_consumer_t *consumer);

/** @brief Sets the assignment listener (see rmq_assignment_cb). */
RMQ_API rmq_err_t rmq_push_consumer_set_assignment_cb(
    rmq_push_consumer_t *consumer, rmq_assignment_cb *cb, void *opaque);

/** @brief Stops pulling (messages already pulled are still delivered) until
 *         rmq_push_consumer_resume (Java suspend/resume). */
RMQ_API rmq_err_t rmq_push_consumer_suspend(rmq_push_consumer_t *consumer);
RMQ_API rmq_err_t rmq_push_consumer_resume(rmq_push_consumer_t *consumer);

/**
 * @brief Stops pulling, lets listener calls in progress finish within
 *        @p timeout_ms (messages not yet delivered are dropped and will be
 *        redelivered, since their offsets were never committed), commits
 *        the offsets (waiting for the brokers' answers), then unlocks
 *        orderly queues, leaves the group, joins the
 *        consume threads (all but those still in a call, see below) and
 *        frees the consumer (and its private client).
 * @remark A listener still running when the timeout ends is neither
 *         interrupted nor waited for: destroy logs a warning, detaches its
 *         consume thread and goes on (commit, unlock, leave the group), so
 *         it returns within about @p timeout_ms. That thread keeps what the
 *         call needs (its messages stay valid until it returns), ends when
 *         the call returns, without calling the listener again. The
 *         call's messages are not committed: they are delivered again, to
 *         the group's next consumer of their queue. Whatever the
 *         listener's opaque points to must therefore outlive the last such
 *         call, not just destroy.
 */
RMQ_API void rmq_push_consumer_destroy(rmq_push_consumer_t *consumer,
                                       int timeout_ms);

/* ------------------------------------------------------------------------ */
/**
 * @name Consumer statistics
 *
 * What an operator watches per consumer (the seed's getSubJobStat): what
 * was processed and failed, when, the last error, the rate, and the lag of
 * every assigned queue. For a push consumer "processed" counts messages
 * whose listener call succeeded; for a pull consumer, messages poll
 * returned.
 */

/** One assigned queue's position. */
typedef struct rmq_queue_lag {
  rmq_queue_t queue;     /**< strings owned by the stats */
  int64_t consumed;      /**< the offset the group would commit now; -1 */
  int64_t max_offset;    /**< the broker's, as of the last pull; -1 unknown */
  int64_t lag;           /**< max_offset - consumed, 0 when unknown */
  uint64_t cached_msgs;  /**< pulled, not yet consumed (flow control) */
  uint64_t cached_bytes; /**< ... their size */
  void *reserved_[2];    /**< room to grow without an ABI break; zero */
} rmq_queue_lag_t;

/** A snapshot; free with rmq_consumer_stats_clear. */
typedef struct rmq_consumer_stats {
  uint64_t processed;   /**< messages finished */
  uint64_t failed;      /**< listener failures (retried or suspended) */
  uint64_t undecodable; /**< records skipped: bad CRC, unknown compression,
                             past maxInflatedBodySize (each also logged) */
  int64_t first_msg_ms; /**< wall clock of the first message, 0 before */
  int64_t last_msg_ms;  /**< ... and of the last one */
  int64_t last_error_ms;
  char last_error[256]; /**< "" when none */
  double rate;          /**< processed per second over the last minute */
  int64_t total_lag;    /**< the sum of the queues' lags */
  rmq_queue_lag_t *queues;
  size_t n_queues;
  void *reserved_[4];
} rmq_consumer_stats_t;

/** @brief Fills @p out (owned by the caller: rmq_consumer_stats_clear). */
RMQ_API rmq_err_t rmq_push_consumer_stats(rmq_push_consumer_t *consumer,
                                          rmq_consumer_stats_t *out);
RMQ_API rmq_err_t rmq_pull_consumer_stats(rmq_pull_consumer_t *consumer,
                                          rmq_consumer_stats_t *out);
/** @brief Frees what @p stats holds and zeroes it. */
RMQ_API void rmq_consumer_stats_clear(rmq_consumer_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif /* RMQ_H */

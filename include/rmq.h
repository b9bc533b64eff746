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
 */

typedef struct rmq_conf rmq_conf_t;

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

#ifdef __cplusplus
}
#endif
#endif /* RMQ_H */

/*
 * librmq — an in-process mock RocketMQ cluster for testing applications.
 *
 * A name server and N master brokers (broker-a, broker-b, ...) listening
 * on 127.0.0.1 ephemeral ports, served by one thread of the cluster's own.
 * Point a producer or consumer's `namesrvAddr` at rmq_mock_cluster_namesrv()
 * and it works unchanged: topics are created on first use, messages are
 * stored in memory, pulls, offsets and rebalancing work. Faults are
 * injected per server and per request code: error answers, delays, a
 * server going down and coming back, dropped connections. What the mock
 * implements and what it does not: doc/mock.md.
 *
 * Servers are numbered: brokers 0 .. n_brokers - 1 (broker 0 is
 * "broker-a"), and RMQ_MOCK_NAMESRV for the name server. Request codes are
 * RocketMQ's (RequestCode: 310 SEND_MESSAGE_V2, 11 PULL_MESSAGE, 105
 * GET_ROUTEINFO_BY_TOPIC, ... doc/mock.md lists them); response codes are
 * rmq_err_t's positive values (RMQ_SYSTEM_BUSY, ...).
 *
 * Every function is thread-safe and may be called while clients use the
 * cluster, from any thread including library callbacks (except
 * rmq_mock_cluster_destroy, which must not race with other calls on the
 * same cluster).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef RMQ_MOCK_H
#define RMQ_MOCK_H

#include "rmq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rmq_mock_cluster rmq_mock_cluster_t;

/** The name server, where a broker index is expected. */
#define RMQ_MOCK_NAMESRV (-1)
/** Every server (request counts), or every request code. */
#define RMQ_MOCK_ANY (-2)

/** Injected "response codes" that are actions rather than answers. */
#define RMQ_MOCK_NO_RESPONSE (-1) /**< swallow the request: never answer */
#define RMQ_MOCK_CLOSE (-2) /**< close the connection instead of answering */

/** The most brokers a cluster may have. */
#define RMQ_MOCK_MAX_BROKERS 26

/**
 * @brief Starts a name server and @p n_brokers (1..RMQ_MOCK_MAX_BROKERS)
 *        master brokers on 127.0.0.1, each on an ephemeral port.
 * @returns the cluster, or NULL with the reason in @p errstr (when not NULL).
 */
RMQ_API rmq_mock_cluster_t *rmq_mock_cluster_new(int n_brokers, char *errstr,
                                                 size_t errstr_size);

/**
 * @brief Closes every connection and socket, joins the cluster's thread and
 *        frees everything. NULL is a no-op. Destroy the clients using the
 *        cluster first (or they see their connections lost).
 */
RMQ_API void rmq_mock_cluster_destroy(rmq_mock_cluster_t *c);

/** @brief The name server's "127.0.0.1:port": the value for `namesrvAddr`.
 *  Valid until the cluster is destroyed. */
RMQ_API const char *rmq_mock_cluster_namesrv(const rmq_mock_cluster_t *c);

/** @brief The number of brokers. */
RMQ_API int rmq_mock_cluster_broker_count(const rmq_mock_cluster_t *c);

/** @brief Broker @p broker's "127.0.0.1:port" (RMQ_MOCK_NAMESRV: the name
 *  server's), or NULL for a bad index. */
RMQ_API const char *rmq_mock_broker_addr(const rmq_mock_cluster_t *c,
                                         int broker);

/** @brief Broker @p broker's name ("broker-a", ...), or NULL. */
RMQ_API const char *rmq_mock_broker_name(const rmq_mock_cluster_t *c,
                                         int broker);

/* ------------------------------------------------------------------------ */
/** @name Topics and storage */

/**
 * @brief Creates @p topic with @p queues (1..1024) read and write queues on
 *        every broker. RMQ_ERR_INVALID_ARG for a bad name or count,
 *        RMQ_TOPIC_EXIST_ALREADY when it exists (its queues unchanged),
 *        RMQ_ERR_LIMIT past 4096 topics.
 */
RMQ_API rmq_err_t rmq_mock_topic_create(rmq_mock_cluster_t *c,
                                        const char *topic, int queues);

/**
 * @brief The queue count of topics created on first use (a route lookup or
 *        a send naming an unknown topic); default 4. 0 turns automatic
 *        creation off: unknown topics are then RMQ_TOPIC_NOT_EXIST, as on a
 *        broker with autoCreateTopicEnable=false.
 */
RMQ_API rmq_err_t rmq_mock_set_auto_create_queues(rmq_mock_cluster_t *c,
                                                  int queues);

/**
 * @brief Memory bounds: at most @p max_msgs_per_queue messages per queue
 *        (default 100000; the oldest are dropped past it, moving the
 *        queue's min offset, as a broker's retention does) and at most
 *        @p max_bytes stored in the whole cluster (default 256 MiB; a send
 *        past it is answered RMQ_SERVICE_NOT_AVAILABLE). 0 keeps a value.
 */
RMQ_API rmq_err_t rmq_mock_set_storage_limits(rmq_mock_cluster_t *c,
                                              size_t max_msgs_per_queue,
                                              size_t max_bytes);

/**
 * @brief How long a long-polling pull is held when there is nothing to
 *        return: at most this (default 1000 ms) or the pull's own
 *        suspendTimeoutMillis, whichever is shorter; a message arriving
 *        meanwhile answers it at once.
 */
RMQ_API rmq_err_t rmq_mock_set_pull_hold_ms(rmq_mock_cluster_t *c, int ms);

/**
 * @brief Messages stored in @p topic on broker @p broker (RMQ_MOCK_ANY:
 *        on every broker), counting every message ever stored, including
 *        those dropped since by the storage limit; -1 for an unknown topic
 *        or broker.
 */
RMQ_API int64_t rmq_mock_topic_message_count(rmq_mock_cluster_t *c, int broker,
                                             const char *topic);

/* ------------------------------------------------------------------------ */
/** @name Fault injection */

/**
 * @brief The next @p n requests with @p request_code that server @p broker
 *        receives (RMQ_MOCK_NAMESRV: the name server) are answered with the
 *        given response codes, one per request, in order, instead of being
 *        served. Pass @p n codes as int arguments: a positive code is the
 *        answer (its remark says it was injected; 19, 20 and 21 on a pull
 *        come with the queue's offsets), 0 serves the request normally,
 *        RMQ_MOCK_NO_RESPONSE swallows it, RMQ_MOCK_CLOSE closes the
 *        connection. Pushed codes queue behind the ones still pending (at
 *        most 65536 per server).
 *
 *        rmq_mock_push_request_errors(c, 0, 310, 2, RMQ_SYSTEM_BUSY,
 *                                     RMQ_SYSTEM_BUSY);
 */
RMQ_API rmq_err_t rmq_mock_push_request_errors(rmq_mock_cluster_t *c,
                                               int broker, int32_t request_code,
                                               size_t n, ...);

/** @brief rmq_mock_push_request_errors with an array. */
RMQ_API rmq_err_t rmq_mock_push_request_errors_array(rmq_mock_cluster_t *c,
                                                     int broker,
                                                     int32_t request_code,
                                                     size_t n,
                                                     const int32_t *codes);

/**
 * @brief As rmq_mock_push_request_errors, with @p n pairs of int arguments
 *        (response code, delay in ms): each answer (code 0: the normal one)
 *        goes out after its delay instead of the broker's round-trip time.
 */
RMQ_API rmq_err_t rmq_mock_push_request_error_rtts(rmq_mock_cluster_t *c,
                                                   int broker,
                                                   int32_t request_code,
                                                   size_t n, ...);

/** @brief Drops the pending injected codes of @p request_code
 *  (RMQ_MOCK_ANY: of every code) on server @p broker. */
RMQ_API rmq_err_t rmq_mock_clear_request_errors(rmq_mock_cluster_t *c,
                                                int broker,
                                                int32_t request_code);

/**
 * @brief Delays every answer of server @p broker by @p rtt_ms (0: none, the
 *        default), as a slow or distant broker would. Answers keep their
 *        order per connection only when they have the same delay.
 */
RMQ_API rmq_err_t rmq_mock_broker_set_rtt(rmq_mock_cluster_t *c, int broker,
                                          int rtt_ms);

/**
 * @brief Takes server @p broker down: its connections are closed, its
 *        answers not yet sent are dropped and its port refuses connections
 *        until rmq_mock_broker_set_up. Its messages, offsets and topics
 *        stay (a restart, not a wipe); the name server keeps it in routes,
 *        as it does until a dead broker's registration expires. The call
 *        returns once the server is down.
 */
RMQ_API rmq_err_t rmq_mock_broker_set_down(rmq_mock_cluster_t *c, int broker);

/** @brief Serves again on the same port; RMQ_ERR_IO when the port was
 *  taken meanwhile. */
RMQ_API rmq_err_t rmq_mock_broker_set_up(rmq_mock_cluster_t *c, int broker);

/** @brief Closes every connection to server @p broker now (clients
 *  reconnect); requests in flight on them get no answer. */
RMQ_API rmq_err_t rmq_mock_broker_close_connections(rmq_mock_cluster_t *c,
                                                    int broker);

/**
 * @brief Gives the orderly lock of queue @p queue_id of @p topic on broker
 *        @p broker, for consumer group @p group, to client @p client_id,
 *        as if that client had just locked it (LOCK_BATCH_MQ; it holds it
 *        60 s unless renewed). The client that held it finds the queue
 *        missing from the answer to its next LOCK_BATCH_MQ, as when
 *        another consumer took it over. RMQ_ERR_INVALID_ARG for a bad
 *        argument, RMQ_ERR_NOT_FOUND for an unknown topic or queue.
 */
RMQ_API rmq_err_t rmq_mock_queue_lock_give(rmq_mock_cluster_t *c, int broker,
                                           const char *topic, int queue_id,
                                           const char *group,
                                           const char *client_id);

/* ------------------------------------------------------------------------ */
/** @name Request tracking */

/**
 * @brief Requests server @p broker received with @p request_code since the
 *        cluster started or the last rmq_mock_clear_request_counts;
 *        RMQ_MOCK_ANY for every server (name server included) or every code.
 *        -1 for a bad index.
 */
RMQ_API int64_t rmq_mock_request_count(rmq_mock_cluster_t *c, int broker,
                                       int32_t request_code);

/**
 * @brief Waits until rmq_mock_request_count(c, broker, request_code)
 *        reaches @p n or @p timeout_ms passes; returns the count then.
 */
RMQ_API int64_t rmq_mock_wait_request_count(rmq_mock_cluster_t *c, int broker,
                                            int32_t request_code, int64_t n,
                                            int timeout_ms);

/** @brief Sets every request count to 0. */
RMQ_API void rmq_mock_clear_request_counts(rmq_mock_cluster_t *c);

#ifdef __cplusplus
}
#endif

#endif

/*
 * The property table. Every key the library accepts is one row here: the
 * setter, the validation, the defaults, rmq_conf_get and the generated
 * doc/configuration.md all read it (librdkafka's rdkafka_conf.c pattern).
 * A key is added only together with the code that honours it.
 */
#include "conf.h"
#include "../util/err.h"
#include "msg.h"
#include "ns.h"
#include "nslist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* T_CREDS: the sessionCredentials synonym, "accessKey,secretKey[,channel]"
 * spread over accessKey, secretKey and accessChannel (no field of its own). */
typedef enum { T_INT, T_BOOL, T_STR, T_ENUM, T_CREDS } prop_type_t;

typedef struct prop {
  const char *name;
  unsigned scope;
  prop_type_t type;
  size_t off;
  const char *dflt;
  int64_t min, max;           /* T_INT */
  const char *const *choices; /* T_ENUM, NULL-terminated; value = index */
  bool (*check)(const char *v, char *err, size_t n); /* T_STR, T_INT */
  const char *desc;
} prop_t;

static const char *const callback_modes[] = {"pool", "poll", NULL};
static const char *const access_channels[] = {"LOCAL", "CLOUD", NULL};
static const char *const serialize_types[] = {"JSON", "ROCKETMQ", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};
static const int log_level_values[] = {RMQ_LOG_ERROR, RMQ_LOG_WARN,
                                       RMQ_LOG_INFO, RMQ_LOG_DEBUG};

static const char *const tls_versions[] = {"TLSv1.2", "TLSv1.3", NULL};
static const char *const message_models[] = {"CLUSTERING", "BROADCASTING",
                                             NULL};
static const char *const from_wheres[] = {"CONSUME_FROM_LAST_OFFSET",
                                          "CONSUME_FROM_FIRST_OFFSET",
                                          "CONSUME_FROM_TIMESTAMP", NULL};
/* Order of rmqi_alloc_strategy_t; the names are Java's getName() values. */
static const char *const alloc_names[] = {"AVG", "AVG_BY_CIRCLE",
                                          "CONSISTENT_HASH", "CONFIG", NULL};

static bool check_addr_list(const char *v, char *err, size_t n);
static bool check_domain(const char *v, char *err, size_t n);
static bool check_timestamp(const char *v, char *err, size_t n);
static bool check_queue_list(const char *v, char *err, size_t n);
static bool check_trace_topic(const char *v, char *err, size_t n);

#define OFF(f) offsetof(rmqi_conf_vals_t, f)
#define C RMQI_SCOPE_CLIENT
#define P RMQI_SCOPE_PRODUCER
#define K RMQI_SCOPE_CONSUMER
#define MS_MAX (INT64_C(24) * 3600 * 1000)

/* statisticsIntervalMs: off, or a period a timer can keep (checked after
 * the range, so the value is an integer in [0, MS_MAX]). */
static bool stats_interval_ok(const char *v, char *err, size_t n) {
  long long x = strtoll(v, NULL, 10);
  if (x != 0 && x < 100) {
    rmqi_errstr(err, n, "statisticsIntervalMs: %lld is below 100 (0 is off)",
                x);
    return false;
  }
  return true;
}

static const prop_t props[] = {
    /* client instance */
    {"namesrvAddr", C, T_STR, OFF(namesrv_addr), "", 0, 0, NULL,
     check_addr_list,
     "Name server addresses, `host:port` separated by `;` (IPv6 as "
     "`[addr]:port`). Empty: the `NAMESRV_ADDR` environment variable."},
    {"instanceName", C, T_STR, OFF(instance_name), "DEFAULT", 0, 0, NULL, NULL,
     "Instance name, part of the client id `ip@instanceName[@unitName]`. "
     "`DEFAULT` is replaced by `<pid>#<random>` so that two processes never "
     "share an id."},
    {"unitName", C, T_STR, OFF(unit_name), "", 0, 0, NULL, NULL,
     "Unit name appended to the client id when set."},
    {"clientIP", C, T_STR, OFF(client_ip), "", 0, 0, NULL, NULL,
     "Local address used in the client id and message ids. Empty: the first "
     "non-loopback address of this host."},
    {"pollNameServerInterval", C, T_INT, OFF(poll_namesrv_interval_ms), "30000",
     10, MS_MAX, NULL, NULL, "Route refresh period, ms."},
    {"heartbeatBrokerInterval", C, T_INT, OFF(heartbeat_interval_ms), "30000",
     10, MS_MAX, NULL, NULL, "Heartbeat period, ms."},
    {"statisticsIntervalMs", C, T_INT, OFF(statistics_interval_ms), "0", 0,
     MS_MAX, NULL, stats_interval_ok,
     "Period of the statistics callback (rmq_conf_set_stats_cb), ms: the "
     "client's JSON (doc/statistics.md) every period. 0: off; else at least "
     "100."},
    {"mqClientApiTimeout", C, T_INT, OFF(api_timeout_ms), "3000", 1, MS_MAX,
     NULL, NULL, "Timeout of name server, heartbeat and admin calls, ms."},
    {"tcpTransportConnectTimeout", C, T_INT, OFF(connect_timeout_ms), "3000", 1,
     MS_MAX, NULL, NULL, "TCP connect timeout, ms."},
    {"frameMaxLength", C, T_INT, OFF(max_frame_size), "16777216", 1024,
     INT64_C(1) << 30, NULL, NULL,
     "Largest frame accepted from the network, bytes; a larger length prefix "
     "closes the connection before anything is allocated."},
    {"maxConnectionOutputBytes", C, T_INT, OFF(max_conn_output), "67108864",
     INT64_C(1) << 20, INT64_C(1) << 32, NULL, NULL,
     "Bytes one connection may hold queued for a peer that is not reading, "
     "in its own memory (request bodies of 16 KiB and more are written from "
     "the message and count only once a send that ended before they were "
     "written leaves the connection a copy). "
     "A request past it fails at once with `ERR_QUEUE_FULL`; replies to a "
     "peer's own requests may use a quarter of it and are dropped past "
     "that; a connection that stays over it while the peer reads nothing "
     "for `tcpTransportConnectTimeout` is closed (what waits on it fails "
     "with `ERR_CONN_LOST`). It must exceed the largest request sent."},
    {"clientCallbackExecutorThreads", C, T_INT, OFF(callback_threads), "2", 1,
     256, NULL, NULL,
     "Threads of the callback pool that runs user callbacks (callbackMode "
     "`pool`)."},
    {"callbackMode", C, T_ENUM, OFF(callback_mode), "pool", 0, 0,
     callback_modes, NULL,
     "`pool`: callbacks run on the library's callback threads. `poll`: they "
     "are queued and run by rmq_poll() on the application's thread; "
     "rmq_poll_fd() is readable while something is queued."},
    {"serializeType", C, T_ENUM, OFF(serialize_type), "JSON", 0, 0,
     serialize_types, NULL,
     "Header encoding of requests sent. Responses are decoded in either (a "
     "4.x broker answers in the request's encoding, a 5.x one in JSON). "
     "ROCKETMQ (binary) costs less to encode and, with 4.x, to decode."},
    {"accessKey", C, T_STR, OFF(access_key), "", 0, 0, NULL, NULL,
     "ACL access key. When set, every request is signed (HmacSHA1 over the "
     "sorted header values and the body), for 4.9 ACL 1.0 and 5.x ACL 2.0."},
    {"secretKey", C, T_STR, OFF(secret_key), "", 0, 0, NULL, NULL,
     "ACL secret key (never sent; it keys the signature)."},
    {"securityToken", C, T_STR, OFF(security_token), "", 0, 0, NULL, NULL,
     "ACL security token, sent with every request when set."},
    {"useTLS", C, T_BOOL, OFF(use_tls), "false", 0, 0, NULL, NULL,
     "TLS to the name servers and the brokers (Java's `useTLS`). Nothing "
     "falls back to plaintext: a failed handshake fails the request with "
     "`ERR_TLS`. See doc/security.md."},
    {"tlsTrustCertPath", C, T_STR, OFF(tls_trust_cert_path), "", 0, 0, NULL,
     NULL,
     "CA certificates (PEM) the server's chain is checked against: a file, "
     "or a folder prepared with `openssl rehash`. Empty: the system's store "
     "(Java's `tls.client.trustCertPath`)."},
    {"tlsVerifyServer", C, T_BOOL, OFF(tls_verify_server), "true", 0, 0, NULL,
     NULL,
     "Check the server's certificate chain (and its name, below). `false` "
     "accepts any certificate, like Java's default `tls.test.mode.enable` "
     "(tests only: it gives no protection against an active attacker)."},
    {"tlsVerifyHostname", C, T_BOOL, OFF(tls_verify_hostname), "true", 0, 0,
     NULL, NULL,
     "Check that the certificate is for the address connected to: its host "
     "name (DNS subject alternative name) or its IP address (IP SAN). "
     "Brokers are reached at the address they register (usually an IP)."},
    {"tlsCertPath", C, T_STR, OFF(tls_cert_path), "", 0, 0, NULL, NULL,
     "Client certificate chain (PEM) for mutual TLS, with `tlsKeyPath` "
     "(Java's `tls.client.certPath`)."},
    {"tlsKeyPath", C, T_STR, OFF(tls_key_path), "", 0, 0, NULL, NULL,
     "Private key (PEM, PKCS#1 or PKCS#8) of `tlsCertPath` (Java's "
     "`tls.client.keyPath`)."},
    {"tlsKeyPassword", C, T_STR, OFF(tls_key_password), "", 0, 0, NULL, NULL,
     "Password of an encrypted `tlsKeyPath` (Java's "
     "`tls.client.keyPassword`); used while loading, not kept."},
    {"tlsMinVersion", C, T_ENUM, OFF(tls_min_version), "TLSv1.2", 0, 0,
     tls_versions, NULL, "Lowest TLS version accepted."},
    {"accessChannel", C, T_ENUM, OFF(access_channel), "LOCAL", 0, 0,
     access_channels, NULL,
     "Java's AccessChannel: `LOCAL` (a self-run cluster) or `CLOUD` (a "
     "hosted one). Java reads it only for the message trace of cloud "
     "clusters (per-region trace topics), which this library does not "
     "implement: it is accepted, checked and kept, and changes nothing on "
     "the wire."},
    {"sessionCredentials", C, T_CREDS, 0, "", 0, 0, NULL, NULL,
     "The seed configuration's synonym: `accessKey,secretKey` or "
     "`accessKey,secretKey,accessChannel` sets those keys in one value. "
     "Reading it back shows the secret key as `***`."},
    {"nameSpace", C, T_STR, OFF(name_space), "", 0, 0, NULL, rmqi_ns_valid,
     "Namespace of the producer's or consumer's topics and groups (Java's "
     "namespace): topic `T` is `N%T` on the wire, group `G` is `N%G`, "
     "`%RETRY%G` is `%RETRY%N%G`; system topics and groups are left alone; "
     "what comes back (send results, messages, queues, callbacks) has `N%` "
     "taken off. Empty: the instance id of an endpoint `namesrvAddr` such "
     "as `http://MQ_INST_x_y.host:80`, else none. See doc/security.md."},
    {"namesrvDomain", C, T_STR, OFF(namesrv_domain), "", 0, 0, NULL,
     check_domain,
     "Address server (Java's rocketmq.namesrv.domain), used when namesrvAddr "
     "and `NAMESRV_ADDR` are empty: the name server list is fetched from "
     "`http://<domain>:8080/rocketmq/<subgroup>` (`<domain>` may carry its "
     "own `:port`) at start and every namesrvDomainRefreshInterval. No "
     "default host."},
    {"namesrvDomainSubgroup", C, T_STR, OFF(namesrv_domain_subgroup), "nsaddr",
     0, 0, NULL, check_domain,
     "Last path segment of the address-server URL (Java's "
     "rocketmq.namesrv.domain.subgroup)."},
    {"namesrvDomainRefreshInterval", C, T_INT, OFF(namesrv_domain_refresh_ms),
     "120000", 100, MS_MAX, NULL, NULL,
     "Period of the address-server lookup, ms (Java: 2 minutes)."},
    {"logLevel", C, T_ENUM, OFF(log_level), "warn", 0, 0, log_levels, NULL,
     "Lowest level passed to the log callback."},
    /* producer */
    {"producerGroup", P, T_STR, OFF(producer_group), "DEFAULT_PRODUCER", 0, 0,
     NULL, NULL, "Producer group name."},
    {"sendMsgTimeout", P, T_INT, OFF(send_timeout_ms), "3000", 1, MS_MAX, NULL,
     NULL, "One deadline per send, ms, covering route lookup and every retry."},
    {"sendMsgMaxTimeoutPerRequest", P, T_INT,
     OFF(send_max_timeout_per_request_ms), "-1", -1, MS_MAX, NULL, NULL,
     "Cap of one attempt's timeout while more attempts remain, ms; -1: off."},
    {"compressMsgBodyOverHowmuch", P, T_INT, OFF(compress_over), "4096", 0,
     INT32_MAX, NULL, NULL,
     "Bodies of at least this many bytes are zlib-compressed (not batches)."},
    {"compressLevel", P, T_INT, OFF(compress_level), "5", 0, 9, NULL, NULL,
     "zlib compression level (Java's and Go's default 5). Level 1 deflates "
     "text about twice as fast for a 17-19 % larger body; the producer keeps "
     "its deflate streams between messages. See doc/performance.md, "
     "Compression."},
    {"retryTimesWhenSendFailed", P, T_INT, OFF(retry_times), "2", 0, 100, NULL,
     NULL, "Extra attempts of a synchronous send."},
    {"retryTimesWhenSendAsyncFailed", P, T_INT, OFF(retry_times_async), "2", 0,
     100, NULL, NULL,
     "Extra attempts of an asynchronous send after a transport failure."},
    {"retryAnotherBrokerWhenNotStoreOK", P, T_BOOL,
     OFF(retry_another_broker_when_not_store_ok), "false", 0, 0, NULL, NULL,
     "Retry on another broker when the broker stored the message but "
     "answered FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or "
     "SLAVE_NOT_AVAILABLE."},
    {"maxMessageSize", P, T_INT, OFF(max_message_size), "4194304", 1, INT32_MAX,
     NULL, NULL, "Largest body (or batch) accepted, bytes."},
    {"maxInflatedBodySize", K, T_INT, OFF(max_inflated_body_size), "67108864",
     1024, INT64_C(1) << 30, NULL, NULL,
     "Largest body a received compressed message may inflate to, bytes "
     "(16 times maxMessageSize's default; Java clients inflate without a "
     "bound). A message past it is skipped with RMQ_ERR_LIMIT in the log; "
     "the consumer goes on."},
    {"createTopicKey", P, T_STR, OFF(create_topic_key), "TBW102", 0, 0, NULL,
     NULL, "Template topic used to auto-create a topic that has no route."},
    {"defaultTopicQueueNums", P, T_INT, OFF(default_topic_queue_nums), "4", 1,
     1024, NULL, NULL, "Queues of an auto-created topic."},
    {"sendLatencyFaultEnable", P, T_BOOL, OFF(send_latency_fault_enable),
     "false", 0, 0, NULL, NULL,
     "Avoid brokers that were slow or failing (latency fault tolerance)."},
    {"enableBackpressureForAsyncMode", P, T_BOOL, OFF(backpressure_enable),
     "false", 0, 0, NULL, NULL,
     "Block (until sendMsgTimeout) asynchronous sends beyond the in-flight "
     "limits below instead of queueing without bound."},
    {"backPressureForAsyncSendNum", P, T_INT, OFF(backpressure_num), "1024", 1,
     INT32_MAX, NULL, NULL, "In-flight asynchronous sends allowed."},
    {"backPressureForAsyncSendSize", P, T_INT, OFF(backpressure_size),
     "104857600", 1, INT64_C(1) << 40, NULL, NULL,
     "In-flight asynchronous body bytes allowed."},
    {"autoBatch", P, T_BOOL, OFF(auto_batch), "false", 0, 0, NULL, NULL,
     "Gather asynchronous sends of one topic, tag and WAIT flag into batch "
     "requests (Java 5.x autoBatch). Each message keeps its own callback "
     "and result. Delay, timer and retry-topic messages, and synchronous, "
     "oneway and ordered sends, are sent on their own."},
    {"batchMaxDelayMs", P, T_INT, OFF(batch_max_delay_ms), "10", 1, 30000, NULL,
     NULL,
     "autoBatch: longest time a batch stays open after its first message, "
     "ms."},
    {"batchMaxBytes", P, T_INT, OFF(batch_max_bytes), "32768", 1, 2097152, NULL,
     NULL,
     "autoBatch: a batch leaves as soon as its bodies exceed this many "
     "bytes."},
    {"totalBatchMaxBytes", P, T_INT, OFF(total_batch_max_bytes), "33554432", 1,
     INT64_C(1) << 40, NULL, NULL,
     "autoBatch: body bytes held in batches (open or awaiting their answer); "
     "beyond it messages are sent on their own, as Java does."},
    /* consumer */
    {"consumerGroup", K, T_STR, OFF(consumer_group), "", 0, 0, NULL, NULL,
     "Consumer group name (required)."},
    {"messageModel", K, T_ENUM, OFF(message_model), "CLUSTERING", 0, 0,
     message_models, NULL,
     "CLUSTERING: the group shares the queues, offsets on the brokers; "
     "BROADCASTING: every consumer reads every queue, offsets in a local "
     "file."},
    {"consumeFromWhere", K, T_ENUM, OFF(consume_from_where),
     "CONSUME_FROM_LAST_OFFSET", 0, 0, from_wheres, NULL,
     "Where a queue the group never committed starts."},
    {"consumeTimestamp", K, T_STR, OFF(consume_timestamp), "", 0, 0, NULL,
     check_timestamp,
     "Start time for CONSUME_FROM_TIMESTAMP, yyyyMMddHHmmss local time; "
     "empty: 30 minutes before the consumer started."},
    {"allocateMessageQueueStrategy", K, T_ENUM, OFF(allocate_strategy), "AVG",
     0, 0, alloc_names, NULL,
     "How the group's consumers split the queues (Java's strategies; CONFIG "
     "takes the queues of allocateMessageQueueConfig, whoever else is in the "
     "group, as Java's AllocateMessageQueueByConfig)."},
    {"allocateMessageQueueConfig", K, T_STR, OFF(allocate_config), "", 0, 0,
     NULL, check_queue_list,
     "Queues for the CONFIG strategy: brokerName:queueId entries separated "
     "by ';' (of every subscribed topic)."},
    {"pullBatchSize", K, T_INT, OFF(pull_batch_size), "10", 1, 1024, NULL, NULL,
     "Messages asked for per pull."},
    {"pullThresholdForAll", K, T_INT, OFF(pull_threshold_all), "10000", 1,
     INT32_MAX, NULL, NULL,
     "Pulled but not yet polled messages of the whole consumer above which "
     "pulling pauses."},
    {"pullThresholdForQueue", K, T_INT, OFF(pull_threshold_queue), "1000", 1,
     INT32_MAX, NULL, NULL,
     "Pulled but not yet polled messages of one queue above which its "
     "pulling pauses."},
    {"pullThresholdSizeForQueue", K, T_INT, OFF(pull_threshold_size_queue_mb),
     "100", 1, 1024 * 1024, NULL, NULL, "Same as a size, MiB of bodies."},
    {"pullThresholdForTopic", K, T_INT, OFF(pull_threshold_topic), "-1", -1,
     INT32_MAX, NULL, NULL,
     "Pulled but not yet consumed messages of one topic above which its "
     "pulling pauses: as Java, shared evenly by the topic's queues assigned "
     "to this consumer (at least 1 each), replacing pullThresholdForQueue "
     "for them. -1 (or 0): off."},
    {"pullThresholdSizeForTopic", K, T_INT, OFF(pull_threshold_size_topic_mb),
     "-1", -1, 1024 * 1024, NULL, NULL,
     "Same as a size, MiB of bodies, replacing pullThresholdSizeForQueue "
     "(at least 1 MiB per queue). -1 (or 0): off."},
    {"consumeMaxSpan", K, T_INT, OFF(consume_max_span), "2000", 1, INT32_MAX,
     NULL, NULL,
     "Largest offset span of one queue's pulled but not polled messages "
     "before its pulling pauses."},
    {"autoCommit", K, T_BOOL, OFF(auto_commit), "true", 0, 0, NULL, NULL,
     "Commit what earlier polls returned, in a poll at most every "
     "autoCommitIntervalMillis."},
    {"autoCommitIntervalMillis", K, T_INT, OFF(auto_commit_interval_ms), "5000",
     1000, MS_MAX, NULL, NULL, "Auto-commit period, ms."},
    {"pollTimeoutMillis", K, T_INT, OFF(poll_timeout_ms), "5000", 0, MS_MAX,
     NULL, NULL, "Wait of a poll called with timeout -1, ms."},
    {"brokerSuspendMaxTimeMillis", K, T_INT, OFF(broker_suspend_max_ms),
     "20000", 0, MS_MAX, NULL, NULL,
     "How long the broker holds a pull that finds nothing (long polling), "
     "ms."},
    {"consumerTimeoutMillisWhenSuspend", K, T_INT,
     OFF(consumer_timeout_when_suspend_ms), "30000", 1, MS_MAX, NULL, NULL,
     "Timeout of a long-polling pull, ms (above the previous key)."},
    {"consumerPullTimeoutMillis", K, T_INT, OFF(consumer_pull_timeout_ms),
     "10000", 1, MS_MAX, NULL, NULL,
     "Timeout of a pull without long polling, ms."},
    {"pullTimeDelayMillsWhenException", K, T_INT,
     OFF(pull_delay_on_exception_ms), "1000", 0, MS_MAX, NULL, NULL,
     "Pause of a queue's pulling after a failed pull, ms."},
    {"persistConsumerOffsetInterval", K, T_INT, OFF(persist_offset_interval_ms),
     "5000", 100, MS_MAX, NULL, NULL,
     "Period of sending committed offsets to the brokers, ms."},
    {"rebalanceInterval", K, T_INT, OFF(rebalance_interval_ms), "20000", 100,
     MS_MAX, NULL, NULL,
     "Period of the rebalance (Java's rocketmq.client.rebalance.waitInterval), "
     "ms; it also runs when the group changes."},
    {"rebalanceLockInterval", K, T_INT, OFF(lock_interval_ms), "20000", 100,
     MS_MAX, NULL, NULL,
     "Orderly push consumer (clustering): period of renewing its queues' "
     "locks at their brokers (Java's rocketmq.client.rebalance.lockInterval), "
     "ms."},
    {"rebalanceLockMaxLiveTime", K, T_INT, OFF(lock_max_live_ms), "30000", 100,
     MS_MAX, NULL, NULL,
     "Orderly push consumer (clustering): a queue whose lock was last renewed "
     "longer ago is not consumed until a renewal succeeds (Java's "
     "rocketmq.client.rebalance.lockMaxLiveTime), ms. It must exceed "
     "rebalanceLockInterval, and stay below the brokers' lock lifetime "
     "(rocketmq.broker.rebalance.lockMaxLiveTime, 60 s): that gap is what "
     "keeps a member cut off from its broker from consuming a queue that "
     "another member has locked since."},
    {"localOffsetStoreDir", K, T_STR, OFF(local_offset_store_dir), "", 0, 0,
     NULL, NULL,
     "Directory of BROADCASTING offset files; empty: $HOME/.rocketmq_offsets "
     "(Java's default). The file is <dir>/<clientId>/<group>/offsets.json."},
    /* push consumer */
    {"consumeThreadMin", K, T_INT, OFF(consume_thread_min), "20", 1, 1000, NULL,
     NULL, "Push consumer: threads that run the listener (callbackMode=pool)."},
    {"consumeThreadMax", K, T_INT, OFF(consume_thread_max), "20", 1, 1000, NULL,
     NULL,
     "Accepted for Java compatibility: Java's pool never grows past "
     "consumeThreadMin (its queue is unbounded), and neither does ours."},
    {"consumeThreadCount", K, T_INT, OFF(consume_thread_min), "20", 1, 1000,
     NULL, NULL, "The same as consumeThreadMin (the C++ client's name)."},
    {"pullMsgThreadPoolCount", K, T_INT, OFF(pull_msg_thread_pool_count), "1",
     1, 1000, NULL, NULL,
     "Accepted and not needed: pulls run on the client's I/O thread without "
     "blocking it, however many queues there are."},
    {"consumeMessageBatchMaxSize", K, T_INT, OFF(consume_batch_max), "1", 1,
     1024, NULL, NULL, "Push consumer: most messages per listener call."},
    {"maxReconsumeTimes", K, T_INT, OFF(max_reconsume_times), "-1", -1,
     INT32_MAX, NULL, NULL,
     "Push consumer: deliveries of a failing message before it goes to the "
     "group's dead-letter topic %DLQ%<group>; -1: 16 for a concurrent "
     "listener, unlimited for an orderly one (Java)."},
    {"suspendCurrentQueueTimeMillis", K, T_INT, OFF(suspend_queue_ms), "1000",
     10, 30000, NULL, NULL,
     "Orderly push consumer: pause of a queue whose listener asked to "
     "suspend, ms (the listener's context may set another)."},
    {"pullInterval", K, T_INT, OFF(pull_interval_ms), "0", 0, MS_MAX, NULL,
     NULL, "Push consumer: pause between two pulls of one queue, ms."},
    {"consumeConcurrentlyMaxSpan", K, T_INT, OFF(consume_max_span), "2000", 1,
     INT32_MAX, NULL, NULL, "The same as consumeMaxSpan (Java's push name)."},
    /* producers and consumers: message trace */
    {"enableMsgTrace", P | K, T_BOOL, OFF(enable_msg_trace), "false", 0, 0,
     NULL, NULL,
     "Message trace (Java's AsyncTraceDispatcher): sends (Pub), end of "
     "transactions (EndTransaction) and consumes (SubBefore, SubAfter) are "
     "recorded in Java's trace format and sent in batches, by a thread of "
     "their own and an internal producer of the same client, to "
     "customizedTraceTopic. Bounded: records past 1024 queued (or 8 MiB) "
     "are dropped and counted, never blocking a send. See doc/trace.md."},
    {"customizedTraceTopic", P | K, T_STR, OFF(customized_trace_topic),
     "RMQ_SYS_TRACE_TOPIC", 0, 0, NULL, check_trace_topic,
     "Topic the trace records go to (the broker makes RMQ_SYS_TRACE_TOPIC "
     "when traceTopicEnable=true; another topic must exist or be "
     "auto-created)."},
};

#undef C
#undef P
#undef K

_Static_assert(RMQI_ARRAY_LEN(props) <= 128, "set_mask holds 128 keys");

rmq_err_t rmqi_conf_timestamp_ms(const char *v, int64_t *out) {
  int f[6], w[6] = {4, 2, 2, 2, 2, 2};
  if (v == NULL || strlen(v) != 14)
    return RMQ_ERR_CONF_INVALID;
  for (int i = 0, k = 0; i < 6; i++) {
    f[i] = 0;
    for (int j = 0; j < w[i]; j++, k++) {
      if (v[k] < '0' || v[k] > '9')
        return RMQ_ERR_CONF_INVALID;
      f[i] = f[i] * 10 + (v[k] - '0');
    }
  }
  struct tm tm = {.tm_year = f[0] - 1900,
                  .tm_mon = f[1] - 1,
                  .tm_mday = f[2],
                  .tm_hour = f[3],
                  .tm_min = f[4],
                  .tm_sec = f[5],
                  .tm_isdst = -1};
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
      f[4] > 59 || f[5] > 59)
    return RMQ_ERR_CONF_INVALID;
  time_t t = mktime(&tm); /* local time, as Java's UtilAll.parseDate */
  if (t == (time_t)-1 || tm.tm_mday != f[2]) /* 31 February and such */
    return RMQ_ERR_CONF_INVALID;
  *out = (int64_t)t * 1000;
  return RMQ_OK;
}

static bool check_trace_topic(const char *v, char *err, size_t n) {
  return *v == '\0' || rmqi_topic_valid(v, err, n); /* empty: default */
}

static bool check_queue_list(const char *v, char *err, size_t n) {
  for (const char *p = v; *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = memchr(p, ':', len);
    bool ok = colon && colon > p && colon < p + len - 1;
    for (const char *d = colon ? colon + 1 : p; ok && d < p + len; d++)
      ok = *d >= '0' && *d <= '9';
    if (!ok || (colon && p + len - colon > 10)) {
      rmqi_errstr(err, n,
                  "allocateMessageQueueConfig entry \"%.*s\" is not "
                  "brokerName:queueId",
                  (int)len, p);
      return false;
    }
    p = end ? end + 1 : p + len;
  }
  return true;
}

static bool check_timestamp(const char *v, char *err, size_t n) {
  int64_t ms;
  if (*v == '\0' || rmqi_conf_timestamp_ms(v, &ms) == RMQ_OK)
    return true;
  rmqi_errstr(err, n, "consumeTimestamp \"%s\" is not yyyyMMddHHmmss", v);
  return false;
}

static bool check_addr_list(const char *v, char *err, size_t n) {
  return rmqi_nslist_check(rmqi_ns_endpoint_addr(v), "namesrvAddr", err, n);
}

/* A host name, address or host:port, or a path segment: no byte that
 * would change the request line. */
static bool check_domain(const char *v, char *err, size_t n) {
  for (const char *p = v; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == '/' || *p == '?' || *p == '#' ||
        *p == '%' || (unsigned char)*p >= 0x7f) {
      rmqi_errstr(err, n, "\"%s\" holds a character not allowed in a URL", v);
      return false;
    }
  if (strlen(v) > 253) {
    rmqi_errstr(err, n, "longer than 253 characters");
    return false;
  }
  return true;
}

static const prop_t *find(const char *name, size_t *idx) {
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++)
    if (strcmp(props[i].name, name) == 0) {
      if (idx)
        *idx = i;
      return &props[i];
    }
  return NULL;
}

static bool parse_int(const char *s, int64_t *out) {
  if (*s == '\0')
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end != '\0')
    return false;
  *out = v;
  return true;
}

static void replace_str(char **field, char *copy) {
  free(*field);
  *field = copy;
}

/* sessionCredentials: "accessKey,secretKey[,accessChannel]". The value
 * holds the secret: no error message quotes it. */
static rmq_err_t set_creds(rmqi_conf_vals_t *v, const char *value, char *err,
                           size_t n) {
  const char *c1 = strchr(value, ',');
  const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
  int channel = v->access_channel;
  if (*value != '\0' && (c1 == NULL || c1 == value || c1[1] == ',' ||
                         c1[1] == '\0' || (c2 && strchr(c2 + 1, ',')))) {
    rmqi_errstr(err, n,
                "sessionCredentials: expected accessKey,secretKey or "
                "accessKey,secretKey,accessChannel (value not shown)");
    return RMQ_ERR_CONF_INVALID;
  }
  if (c2) {
    if (strcasecmp(c2 + 1, "LOCAL") == 0)
      channel = RMQI_CHANNEL_LOCAL;
    else if (strcasecmp(c2 + 1, "CLOUD") == 0)
      channel = RMQI_CHANNEL_CLOUD;
    else {
      rmqi_errstr(err, n,
                  "sessionCredentials: the access channel is not LOCAL or "
                  "CLOUD");
      return RMQ_ERR_CONF_INVALID;
    }
  }
  char *ak = c1 ? strndup(value, (size_t)(c1 - value)) : strdup("");
  char *sk = c1 ? strndup(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1))
                : strdup("");
  if (ak == NULL || sk == NULL) {
    free(ak);
    free(sk);
    rmqi_errstr(err, n, "out of memory");
    return RMQ_ERR_NOMEM;
  }
  replace_str(&v->access_key, ak);
  replace_str(&v->secret_key, sk);
  v->access_channel = channel;
  return RMQ_OK;
}

/* Stores @p value into the typed field; the old value survives a failure. */
static rmq_err_t set_one(rmqi_conf_vals_t *v, const prop_t *pr,
                         const char *value, char *err, size_t n) {
  char *field = (char *)v + pr->off;
  switch (pr->type) {
  case T_INT: {
    int64_t x;
    if (!parse_int(value, &x)) {
      rmqi_errstr(err, n, "%s: \"%s\" is not an integer", pr->name, value);
      return RMQ_ERR_CONF_INVALID;
    }
    if (x < pr->min || x > pr->max) {
      rmqi_errstr(err, n, "%s: %lld is outside [%lld, %lld]", pr->name,
                  (long long)x, (long long)pr->min, (long long)pr->max);
      return RMQ_ERR_CONF_INVALID;
    }
    if (pr->check && !pr->check(value, err, n))
      return RMQ_ERR_CONF_INVALID;
    memcpy(field, &x, sizeof(x));
    return RMQ_OK;
  }
  case T_BOOL: {
    bool b;
    if (strcmp(value, "true") == 0)
      b = true;
    else if (strcmp(value, "false") == 0)
      b = false;
    else {
      rmqi_errstr(err, n, "%s: \"%s\" is not true or false", pr->name, value);
      return RMQ_ERR_CONF_INVALID;
    }
    memcpy(field, &b, sizeof(b));
    return RMQ_OK;
  }
  case T_ENUM:
    for (int i = 0; pr->choices[i]; i++)
      if (strcasecmp(value, pr->choices[i]) == 0) {
        int x = pr->choices == log_levels ? log_level_values[i] : i;
        memcpy(field, &x, sizeof(x));
        return RMQ_OK;
      }
    rmqi_errstr(err, n, "%s: \"%s\" is not one of the allowed values", pr->name,
                value);
    return RMQ_ERR_CONF_INVALID;
  case T_CREDS:
    return set_creds(v, value, err, n);
  case T_STR: {
    if (pr->check && !pr->check(value, err, n))
      return RMQ_ERR_CONF_INVALID;
    char *copy = strdup(value);
    if (copy == NULL) {
      rmqi_errstr(err, n, "out of memory");
      return RMQ_ERR_NOMEM;
    }
    char *old;
    memcpy(&old, field, sizeof(old));
    free(old);
    memcpy(field, &copy, sizeof(copy));
    return RMQ_OK;
  }
  }
  return RMQ_ERR_CONF_INVALID;
}

/* Writes the value of @p pr as text into @p out. */
static void format_one(const rmqi_conf_vals_t *v, const prop_t *pr,
                       rmqi_buf_t *out) {
  const char *field = (const char *)v + pr->off;
  switch (pr->type) {
  case T_INT: {
    int64_t x;
    memcpy(&x, field, sizeof(x));
    rmqi_buf_put_i64(out, x);
    break;
  }
  case T_BOOL: {
    bool b;
    memcpy(&b, field, sizeof(b));
    rmqi_buf_put_str(out, b ? "true" : "false");
    break;
  }
  case T_ENUM: {
    int x;
    memcpy(&x, field, sizeof(x));
    for (int i = 0; pr->choices[i]; i++) {
      int iv = pr->choices == log_levels ? log_level_values[i] : i;
      if (iv == x) {
        rmqi_buf_put_str(out, pr->choices[i]);
        break;
      }
    }
    break;
  }
  case T_STR: {
    const char *s;
    memcpy(&s, field, sizeof(s));
    rmqi_buf_put_str(out, s ? s : "");
    break;
  }
  case T_CREDS: /* never the secret itself */
    if (v->access_key && *v->access_key) {
      rmqi_buf_put_str(out, v->access_key);
      rmqi_buf_put_str(out, v->secret_key && *v->secret_key ? ",***," : ",,");
      rmqi_buf_put_str(out, v->access_channel ? "CLOUD" : "LOCAL");
    }
    break;
  }
}

rmq_err_t rmqi_conf_namespace(rmqi_conf_t *c, char **group) {
  char ns[RMQI_NS_MAX + 1];
  rmqi_ns_resolve(c->v.name_space, c->v.namesrv_addr, ns);
  if (strcmp(ns, c->v.name_space) != 0) {
    char *copy = strdup(ns);
    if (copy == NULL)
      return RMQ_ERR_NOMEM;
    replace_str(&c->v.name_space, copy);
  }
  if (group == NULL || *ns == '\0')
    return RMQ_OK;
  char *g = rmqi_ns_wrap_dup(ns, *group);
  if (g == NULL)
    return RMQ_ERR_NOMEM;
  if (strlen(g) > 255) {
    free(g);
    return RMQ_ERR_CONF_INVALID;
  }
  replace_str(group, g);
  return RMQ_OK;
}

rmq_conf_t *rmq_conf_new(void) {
  rmq_conf_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++)
    if (set_one(&c->v, &props[i], props[i].dflt, NULL, 0) != RMQ_OK) {
      rmq_conf_destroy(c);
      return NULL;
    }
  return c;
}

void rmqi_conf_release(rmqi_conf_t *c) {
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++)
    if (props[i].type == T_STR) {
      char *s;
      memcpy(&s, (char *)&c->v + props[i].off, sizeof(s));
      free(s);
    }
  memset(c, 0, sizeof(*c));
}

rmq_err_t rmqi_conf_copy(rmqi_conf_t *dst, const rmqi_conf_t *src) {
  *dst = *src;
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++)
    if (props[i].type == T_STR) {
      char **f = (char **)((char *)&dst->v + props[i].off);
      *f = strdup(*f ? *f : "");
      if (*f == NULL) {
        /* Null out the strings not yet copied so release frees only ours. */
        for (size_t j = i + 1; j < RMQI_ARRAY_LEN(props); j++)
          if (props[j].type == T_STR)
            *(char **)((char *)&dst->v + props[j].off) = NULL;
        rmqi_conf_release(dst);
        return RMQ_ERR_NOMEM;
      }
    }
  return RMQ_OK;
}

rmq_conf_t *rmq_conf_dup(const rmq_conf_t *conf) {
  if (conf == NULL)
    return NULL;
  rmq_conf_t *c = malloc(sizeof(*c));
  if (c == NULL)
    return NULL;
  if (rmqi_conf_copy(c, conf) != RMQ_OK) {
    free(c);
    return NULL;
  }
  return c;
}

void rmq_conf_destroy(rmq_conf_t *conf) {
  if (conf == NULL)
    return;
  rmqi_conf_release(conf);
  free(conf);
}

rmq_err_t rmq_conf_set(rmq_conf_t *conf, const char *key, const char *value,
                       char *errstr, size_t errstr_size) {
  if (errstr && errstr_size)
    errstr[0] = '\0';
  if (conf == NULL || key == NULL || value == NULL) {
    rmqi_errstr(errstr, errstr_size, "conf, key and value must not be NULL");
    return RMQ_ERR_INVALID_ARG;
  }
  size_t idx;
  const prop_t *pr = find(key, &idx);
  if (pr == NULL) {
    rmqi_errstr(errstr, errstr_size, "unknown configuration key \"%s\"", key);
    return RMQ_ERR_CONF_UNKNOWN;
  }
  rmq_err_t rc = set_one(&conf->v, pr, value, errstr, errstr_size);
  if (rc == RMQ_OK)
    conf->set_mask[idx / 64] |= UINT64_C(1) << (idx % 64);
  return rc;
}

bool rmqi_conf_is_set(const rmqi_conf_t *c, const char *key) {
  size_t idx;
  return find(key, &idx) != NULL &&
         (c->set_mask[idx / 64] >> (idx % 64) & 1) != 0;
}

rmq_err_t rmq_conf_get(const rmq_conf_t *conf, const char *key, char *out,
                       size_t *out_size) {
  if (conf == NULL || key == NULL || out_size == NULL)
    return RMQ_ERR_INVALID_ARG;
  const prop_t *pr = find(key, NULL);
  if (pr == NULL)
    return RMQ_ERR_CONF_UNKNOWN;
  char tmp[512];
  /* Format into the stack first; `limit` keeps the buffer from ever
   * reallocating stack memory. */
  rmqi_buf_t b = {
      .data = (uint8_t *)tmp, .cap = sizeof(tmp), .limit = sizeof(tmp)};
  rmqi_buf_t heap;
  rmqi_buf_init(&heap);
  format_one(&conf->v, pr, &b);
  rmqi_buf_t *use = &b;
  if (b.failed || b.len == b.cap) { /* long value: format again on the heap */
    format_one(&conf->v, pr, &heap);
    if (!rmqi_buf_ok(&heap)) {
      rmqi_buf_free(&heap);
      return RMQ_ERR_NOMEM;
    }
    use = &heap;
  }
  size_t need = use->len + 1;
  if (out && *out_size >= need) {
    memcpy(out, use->data, use->len);
    out[use->len] = '\0';
  } else if (out && *out_size > 0) {
    out[0] = '\0';
  }
  *out_size = need;
  rmqi_buf_free(&heap);
  return RMQ_OK;
}

static const char *scope_name(unsigned scope) {
  switch (scope) {
  case RMQI_SCOPE_CLIENT:
    return "client";
  case RMQI_SCOPE_PRODUCER:
    return "producer";
  case RMQI_SCOPE_CONSUMER:
    return "consumer";
  default:
    return "producer,consumer";
  }
}

/* Keys whose value rmq_conf_dump never shows (sessionCredentials masks its
 * own secret in format_one). */
static bool secret(const prop_t *pr) {
  return strcmp(pr->name, "secretKey") == 0 ||
         strcmp(pr->name, "securityToken") == 0 ||
         strcmp(pr->name, "tlsKeyPassword") == 0;
}

static bool is_set_idx(const rmqi_conf_t *c, size_t i) {
  return (c->set_mask[i / 64] >> (i % 64) & 1) != 0;
}

/* Whether @p pr holds the same value in @p a and @p b. */
static bool same_value(const rmqi_conf_vals_t *a, const rmqi_conf_vals_t *b,
                       const prop_t *pr) {
  if (pr->type == T_CREDS)
    return a->access_channel == b->access_channel &&
           strcmp(a->access_key, b->access_key) == 0 &&
           strcmp(a->secret_key, b->secret_key) == 0;
  rmqi_buf_t x, y;
  rmqi_buf_init(&x);
  rmqi_buf_init(&y);
  format_one(a, pr, &x);
  format_one(b, pr, &y);
  bool same = rmqi_buf_ok(&x) && rmqi_buf_ok(&y) && x.len == y.len &&
              (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
  rmqi_buf_free(&x);
  rmqi_buf_free(&y);
  return same;
}

rmq_err_t rmqi_conf_check_scope(const rmqi_conf_t *c, unsigned scopes,
                                const char *what,
                                const rmqi_conf_t *client_conf, char *err,
                                size_t n) {
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++) {
    const prop_t *pr = &props[i];
    if (!is_set_idx(c, i) || (pr->scope & scopes) != 0)
      continue;
    if (pr->scope == RMQI_SCOPE_CLIENT && client_conf != NULL) {
      if (same_value(&c->v, &client_conf->v, pr))
        continue; /* one conf for the client and the objects made on it */
      rmqi_errstr(err, n,
                  "%s: %s (a client key) differs from the value of the "
                  "client it is made on, which it would ignore: client keys "
                  "come from the conf given to rmq_client_new",
                  what, pr->name);
      return RMQ_ERR_INVALID_ARG;
    }
    rmqi_errstr(err, n,
                "%s: %s is a %s key, which a %s does not read (use a conf "
                "of its own for each kind of object)",
                what, pr->name, scope_name(pr->scope), what);
    return RMQ_ERR_INVALID_ARG;
  }
  return RMQ_OK;
}

rmq_err_t rmq_conf_dump(const rmq_conf_t *conf, rmq_conf_dump_cb *cb,
                        void *opaque) {
  if (conf == NULL || cb == NULL)
    return RMQ_ERR_INVALID_ARG;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++) {
    const prop_t *pr = &props[i];
    b.len = 0;
    format_one(&conf->v, pr, &b);
    rmqi_buf_put_u8(&b, 0);
    if (!rmqi_buf_ok(&b)) {
      rmqi_buf_free(&b);
      return RMQ_ERR_NOMEM;
    }
    const char *value = (const char *)b.data;
    if (secret(pr) && *value != '\0')
      value = "***";
    cb(opaque, pr->name, value, pr->dflt, scope_name(pr->scope),
       is_set_idx(conf, i));
  }
  rmqi_buf_free(&b);
  return RMQ_OK;
}

void rmq_conf_set_stats_cb(rmq_conf_t *conf, rmq_stats_cb *cb, void *opaque) {
  if (conf == NULL)
    return;
  conf->stats_cb = cb;
  conf->stats_opaque = opaque;
}

void rmq_conf_set_log_cb(rmq_conf_t *conf, rmq_log_cb *cb, void *opaque) {
  if (conf == NULL)
    return;
  conf->log_cb = cb;
  conf->log_opaque = opaque;
}

static void doc_section(rmqi_buf_t *out, unsigned scope, const char *title) {
  rmqi_buf_put_str(out, "\n## ");
  rmqi_buf_put_str(out, title);
  rmqi_buf_put_str(out, "\n\n| Key | Type | Default | Range / values | "
                        "Description |\n|---|---|---|---|---|\n");
  for (size_t i = 0; i < RMQI_ARRAY_LEN(props); i++) {
    const prop_t *pr = &props[i];
    if (pr->scope != scope)
      continue;
    static const char *const tn[] = {"integer", "boolean", "string", "enum",
                                     "string"};
    rmqi_buf_put_str(out, "| `");
    rmqi_buf_put_str(out, pr->name);
    rmqi_buf_put_str(out, "` | ");
    rmqi_buf_put_str(out, tn[pr->type]);
    if (*pr->dflt) {
      rmqi_buf_put_str(out, " | `");
      rmqi_buf_put_str(out, pr->dflt);
      rmqi_buf_put_str(out, "` | ");
    } else {
      rmqi_buf_put_str(out, " | *(empty)* | ");
    }
    if (pr->type == T_INT) {
      rmqi_buf_put_i64(out, pr->min);
      rmqi_buf_put_str(out, " .. ");
      rmqi_buf_put_i64(out, pr->max);
    } else if (pr->type == T_ENUM) {
      for (int k = 0; pr->choices[k]; k++) {
        rmqi_buf_put_str(out, k ? ", `" : "`");
        rmqi_buf_put_str(out, pr->choices[k]);
        rmqi_buf_put_str(out, "`");
      }
    }
    rmqi_buf_put_str(out, " | ");
    rmqi_buf_put_str(out, pr->desc);
    rmqi_buf_put_str(out, " |\n");
  }
}

void rmqi_conf_doc(rmqi_buf_t *out) {
  rmqi_buf_put_str(
      out, "# Configuration reference\n\n"
           "Generated from the property table in `lib/client/conf.c`; "
           "`tests/unit/test_conf.c` fails when this file and the table "
           "differ (regenerate with `build/tests/unit/test_conf "
           "--write-doc doc/configuration.md`).\n\n"
           "Every key is set as text with `rmq_conf_set(conf, key, value, "
           "errstr, size)`; unknown keys and bad values are errors. Names "
           "and defaults are the Java client's.\n\n"
           "Each key has a scope (the sections below). A producer or "
           "consumer constructor refuses a key set with `rmq_conf_set` that "
           "its object would ignore, naming it in errstr: `rmq_producer_new` "
           "reads producer keys, plus client keys when it makes its own "
           "client (client NULL); the consumers likewise with consumer keys. "
           "On a shared client a client key is accepted only when it equals "
           "that client's value. `rmq_client_new` reads the client keys and "
           "leaves the others to the producers and consumers made on it, so "
           "one conf may serve all the calls. Keys left at their defaults "
           "never count.\n\n"
           "`rmq_conf_dump(conf, cb, opaque)` lists every key with its "
           "current value, default, scope and whether it was set (like "
           "librdkafka's `rd_kafka_conf_dump`); `secretKey`, "
           "`securityToken`, `tlsKeyPassword` and the secret in "
           "`sessionCredentials` read `***`.\n");
  doc_section(out, RMQI_SCOPE_CLIENT,
              "Client instance (connections, routes, heartbeats, callbacks)");
  doc_section(out, RMQI_SCOPE_PRODUCER, "Producer");
  doc_section(out, RMQI_SCOPE_CONSUMER, "Consumer");
  doc_section(out, RMQI_SCOPE_PRODUCER | RMQI_SCOPE_CONSUMER,
              "Producer and consumer (message trace)");
}

/*
 * TopicRouteData and ClusterInfo (json.md §3, client-behaviour.md §2).
 * Decoded routes own their strings (one arena); broker addresses are keyed
 * by broker id, with string or bare-integer keys accepted.
 */
#ifndef RMQI_CODEC_ROUTE_H
#define RMQI_CODEC_ROUTE_H

#include "../util/arena.h"
#include "../util/err.h"

/* Permission bits of a QueueData. */
enum { RMQI_PERM_WRITE = 2, RMQI_PERM_READ = 4 };

typedef struct rmqi_mq {
  const char *broker;
  int32_t queue_id;
} rmqi_mq_t;

typedef struct rmqi_qdata {
  const char *broker;
  int32_t read_nums, write_nums, perm, sysflag;
} rmqi_qdata_t;

typedef struct rmqi_baddr {
  int64_t id; /* 0 = master */
  const char *addr;
} rmqi_baddr_t;

typedef struct rmqi_bdata {
  const char *cluster;
  const char *broker;
  rmqi_baddr_t *addrs; /* sorted by id */
  size_t n_addrs;
} rmqi_bdata_t;

typedef struct rmqi_route {
  const char *order_conf; /* NULL when absent */
  rmqi_qdata_t *queues;   /* sorted by broker name */
  size_t n_queues;
  rmqi_bdata_t *brokers; /* sorted by broker name */
  size_t n_brokers;
  rmqi_arena_t arena;
} rmqi_route_t;

/*
 * Caps on what a route may announce (RMQ_ERR_BAD_ROUTE naming the field
 * past them). A Java broker keeps one consume-queue directory and file
 * set per queue, and its defaults are 4 (auto-created topics) to 16
 * queues per topic; deployments stay in the tens to low hundreds, and
 * the biggest clusters have tens of brokers. 4096 queues per broker entry,
 * 1024 QueueData and BrokerData entries and 65536 queues per topic (the
 * orderTopicConf bound) leave room for every real topic while a hostile
 * 200-byte route can no longer announce a million queues.
 */
#define RMQI_ROUTE_MAX_QUEUE_NUMS 4096
#define RMQI_ROUTE_MAX_ENTRIES 1024
#define RMQI_ROUTE_MAX_QUEUES 65536

rmq_err_t rmqi_route_decode(rmqi_route_t *r, const char *json, size_t len,
                            rmqi_errbuf_t *e);
void rmqi_route_free(rmqi_route_t *r);
/* Same queues and brokers (both are kept sorted). */
bool rmqi_route_equal(const rmqi_route_t *a, const rmqi_route_t *b);

const rmqi_bdata_t *rmqi_route_broker(const rmqi_route_t *r, const char *name);
/* Address of broker id @p id of @p name, or NULL. */
const char *rmqi_route_addr(const rmqi_route_t *r, const char *name,
                            int64_t id);

/*
 * The queues a producer may send to (Java topicRouteData2TopicPublishInfo):
 * orderTopicConf's `broker:count;...` when set, else every writable queue of
 * brokers that have a master, by broker name. Returns the count; *out is
 * allocated in the route's arena (valid as long as the route).
 */
size_t rmqi_route_publish(rmqi_route_t *r, rmqi_mq_t **out);
/* The queues a consumer reads: every readable queue. */
size_t rmqi_route_subscribe(rmqi_route_t *r, rmqi_mq_t **out);

/* ClusterInfo: brokers with their cluster and addresses. */
typedef struct rmqi_cluster {
  rmqi_bdata_t *brokers; /* sorted by name */
  size_t n_brokers;
  rmqi_arena_t arena;
} rmqi_cluster_t;

rmq_err_t rmqi_cluster_decode(rmqi_cluster_t *c, const char *json, size_t len,
                              rmqi_errbuf_t *e);
void rmqi_cluster_free(rmqi_cluster_t *c);

#endif

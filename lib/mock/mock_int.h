/*
 * The mock cluster's insides (include/rmq_mock.h, doc/mock.md).
 *
 * One thread runs a poll() loop over every listening socket and
 * connection of the cluster; it handles requests under the cluster's lock,
 * which the public functions take too. Sockets are opened and closed only
 * by that thread: a public call that must touch them (down, up, closing
 * connections) leaves an order and waits until the loop has carried it
 * out (ctl_seq / ctl_done).
 *
 * cluster.c: the loop, connections, output, delays, faults and the API;
 * broker.c: the name server's and brokers' request handlers;
 * store.c: topics, queues, stored records, offsets, the consumer registry.
 * Everything a request carries is untrusted: every count and size here is
 * bounded (the RMQI_MOCK_MAX_* below), and a bad frame closes its
 * connection.
 */
#ifndef RMQI_MOCK_INT_H
#define RMQI_MOCK_INT_H

#include "../codec/cmd.h"
#include "../util/buf.h"
#include "rmq_mock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RMQI_MOCK_MAX_CONNS 256         /* per server */
#define RMQI_MOCK_MAX_FRAME (16u << 20) /* Java's NettyDecoder default */
#define RMQI_MOCK_MAX_OUT (64u << 20)   /* unsent bytes per connection */
#define RMQI_MOCK_MAX_FAULTS 65536      /* pending injected codes per server */
#define RMQI_MOCK_MAX_LATER 65536       /* delayed answers, whole cluster */
#define RMQI_MOCK_MAX_HELD 4096         /* held pulls, whole cluster */
#define RMQI_MOCK_MAX_TOPICS 4096
#define RMQI_MOCK_MAX_QUEUES 1024 /* per topic and broker */
#define RMQI_MOCK_MAX_GROUPS 4096
#define RMQI_MOCK_MAX_MEMBERS 4096 /* consumer registrations per broker */
#define RMQI_MOCK_MAX_SUBS 64      /* subscriptions per registration */
#define RMQI_MOCK_MAX_CODES 128    /* request codes counted apart per server */
#define RMQI_MOCK_PULL_MAX_MSGS 32 /* a broker's maxTransferCountOnMessage */
#define RMQI_MOCK_PULL_MAX_BYTES (256u << 10)
#define RMQI_MOCK_CLUSTER "MockCluster"

typedef struct rmqi_mock_fault {
  int32_t req_code, resp_code;
  int rtt_ms; /* -1: the server's */
} rmqi_mock_fault_t;

typedef struct rmqi_mock_count {
  int32_t code;
  int64_t n;
} rmqi_mock_count_t;

/* A server: the name server (index 0) or a broker (index 1 + broker). */
typedef struct rmqi_mock_srv {
  int lfd; /* -1 while down */
  int port;
  char addr[32];
  char name[16];
  bool down;
  int rtt_ms;
  rmqi_mock_fault_t *faults; /* FIFO: faults[0] first */
  size_t n_faults, cap_faults;
  rmqi_mock_count_t counts[RMQI_MOCK_MAX_CODES];
  size_t n_counts;
  int64_t total, other; /* every request; those of codes not in counts */
  int64_t clog_off;     /* the next commit-log offset */
  uint32_t rr;          /* queue choice for sends with a negative queue id */
  /* orders for the loop thread */
  bool want_down, want_up, want_close;
  int up_err;
} rmqi_mock_srv_t;

typedef struct rmqi_mock_conn {
  int fd;
  int srv;
  uint64_t id;
  uint8_t born[4];
  uint32_t born_port;
  rmqi_buf_t in, out;
  size_t out_off; /* bytes of out already written */
  bool dead;      /* closed on the loop's next pass */
} rmqi_mock_conn_t;

/* An answer waiting for its delay. */
typedef struct rmqi_mock_later {
  int64_t due;
  uint64_t conn;
  uint8_t *bytes; /* NULL: close the connection instead */
  size_t len;
} rmqi_mock_later_t;

/* A long-polling pull waiting for a message. */
typedef struct rmqi_mock_held {
  int64_t due;
  uint64_t conn;
  int srv;
  rmqi_cmd_t *req; /* the request, decoded from its own copy of the frame */
  uint8_t *frame;
  int rtt_ms;
} rmqi_mock_held_t;

/* One queue of one topic on one broker: a ring of encoded records. */
typedef struct rmqi_mock_rec {
  uint8_t *bytes;
  uint32_t len;
  int64_t clog_off, store_ts;
} rmqi_mock_rec_t;

typedef struct rmqi_mock_off {
  int group;
  int64_t offset;
} rmqi_mock_off_t;

/* An orderly lock lasts this long without renewal (a broker's 60 s). */
#define RMQI_MOCK_LOCK_EXPIRY_MS 60000

typedef struct rmqi_mock_lock {
  int group;
  char client[128];
  int64_t expires;
} rmqi_mock_lock_t;

typedef struct rmqi_mock_queue {
  rmqi_mock_rec_t *ring;
  size_t cap, head, n;
  int64_t min_off;       /* offset of ring[head] */
  rmqi_mock_off_t *offs; /* committed offsets by group */
  size_t n_offs;
  rmqi_mock_lock_t *locks; /* orderly locks by group */
  size_t n_locks;
} rmqi_mock_queue_t;

typedef struct rmqi_mock_topic {
  char *name;
  int nq;
  rmqi_mock_queue_t *q; /* [broker * nq + queue] */
} rmqi_mock_topic_t;

typedef struct rmqi_mock_sub {
  char *topic, *expr, *type;
} rmqi_mock_sub_t;

/* A consumer registered by a heartbeat on one broker. */
typedef struct rmqi_mock_member {
  int srv, group;
  uint64_t conn;
  char client[128];
  rmqi_mock_sub_t subs[RMQI_MOCK_MAX_SUBS];
  size_t n_subs;
} rmqi_mock_member_t;

struct rmq_mock_cluster {
  pthread_mutex_t lock;
  pthread_cond_t cv; /* loop → API: ctl_done moved, a request counted */
  pthread_t th;
  bool started, stop;
  int wake[2];
  int n_brokers;
  rmqi_mock_srv_t srv[1 + RMQ_MOCK_MAX_BROKERS];
  rmqi_mock_conn_t **conns;
  size_t n_conns, cap_conns;
  uint64_t next_conn;
  rmqi_mock_later_t *later;
  size_t n_later, cap_later;
  rmqi_mock_held_t *held;
  size_t n_held, cap_held;
  rmqi_mock_topic_t **topics;
  size_t n_topics;
  char **groups;
  size_t n_groups;
  rmqi_mock_member_t *members;
  size_t n_members, cap_members;
  int auto_queues;
  size_t max_queue_msgs, max_bytes, stored_bytes;
  int pull_hold_ms;
  uint64_t ctl_seq, ctl_done;
  uint16_t uniq_counter;
  uint32_t uniq_hash;
};

/* cluster.c: answers to a connection (after @p rtt_ms), and the pushes a
 * broker makes (NOTIFY_CONSUMER_IDS_CHANGED). */
void rmqi_mock_reply(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                     const rmqi_cmd_t *resp, int rtt_ms);
void rmqi_mock_notify(rmq_mock_cluster_t *c, uint64_t conn, const char *group);
rmqi_mock_conn_t *rmqi_mock_conn_find(rmq_mock_cluster_t *c, uint64_t id);

/* A cluster with no sockets and no thread, for the fuzz target: requests
 * reach it only through rmqi_mock_feed. Destroyed by
 * rmq_mock_cluster_destroy. */
rmq_mock_cluster_t *rmqi_mock_cluster_bare(int n_brokers);
/* Feeds @p n bytes to a connection of server @p srv (0: the name server,
 * 1 + broker) of a bare cluster, as if a client had sent them: whole
 * frames are served, answers are dropped, delayed answers and held pulls
 * are carried out at once. Returns false when the connection was closed
 * (a bad frame, a bound), true otherwise. */
bool rmqi_mock_feed(rmq_mock_cluster_t *c, int srv, const uint8_t *p, size_t n);

/* broker.c: serves one request (not a fault) of server @p cn->srv. */
void rmqi_mock_serve(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                     const rmqi_cmd_t *req, const uint8_t *frame,
                     size_t frame_len, int rtt_ms);
/* Answers @p req with @p code as an injected fault would. */
void rmqi_mock_serve_code(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                          const rmqi_cmd_t *req, int32_t code, int rtt_ms);
/* Answers the held pulls of @p topic / @p qid on @p srv that now have
 * messages (or all that are due, with @p now_ms); returns the next due
 * time, or INT64_MAX. */
int64_t rmqi_mock_held_run(rmq_mock_cluster_t *c, int64_t now_ms);
void rmqi_mock_held_free(rmqi_mock_held_t *h);

/* store.c */
rmqi_mock_topic_t *rmqi_mock_topic_find(rmq_mock_cluster_t *c,
                                        const char *name);
rmq_err_t rmqi_mock_topic_add(rmq_mock_cluster_t *c, const char *name, int nq,
                              rmqi_mock_topic_t **out);
bool rmqi_mock_name_ok(const char *name, size_t max);
void rmqi_mock_topics_free(rmq_mock_cluster_t *c);
static inline rmqi_mock_queue_t *rmqi_mock_q(rmqi_mock_topic_t *t, int broker,
                                             int qid) {
  return &t->q[(size_t)broker * (size_t)t->nq + (size_t)qid];
}
static inline int64_t rmqi_mock_q_max(const rmqi_mock_queue_t *q) {
  return q->min_off + (int64_t)q->n;
}
static inline rmqi_mock_rec_t *rmqi_mock_q_at(rmqi_mock_queue_t *q,
                                              int64_t off) {
  return &q->ring[(q->head + (size_t)(off - q->min_off)) % q->cap];
}
/* Appends a record (the bytes are taken over) at the queue's max offset. */
rmq_err_t rmqi_mock_q_append(rmq_mock_cluster_t *c, rmqi_mock_queue_t *q,
                             uint8_t *bytes, uint32_t len, int64_t clog_off,
                             int64_t store_ts);
/* The record at commit-log offset @p clog_off on broker @p broker. */
rmqi_mock_rec_t *rmqi_mock_find_clog(rmq_mock_cluster_t *c, int broker,
                                     int64_t clog_off);
int rmqi_mock_group(rmq_mock_cluster_t *c, const char *name, bool add);
int64_t *rmqi_mock_q_offset(rmqi_mock_queue_t *q, int group, bool add);
void rmqi_mock_members_drop(rmq_mock_cluster_t *c, int srv, uint64_t conn,
                            const char *client, int group);
rmq_err_t rmqi_mock_member_put(rmq_mock_cluster_t *c, int srv, uint64_t conn,
                               const char *client, int group,
                               const rmqi_mock_sub_t *subs, size_t n_subs);
const rmqi_mock_sub_t *rmqi_mock_member_sub(rmq_mock_cluster_t *c, int srv,
                                            int group, const char *topic);
void rmqi_mock_members_free(rmq_mock_cluster_t *c);

#endif

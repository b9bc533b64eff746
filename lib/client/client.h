/*
 * The client instance (Java's MQClientInstance): configuration, client id,
 * name servers, the I/O loop and connections, the route cache, heartbeats,
 * the callback dispatcher. Producers and consumers of one instance share
 * it. Internal API for lib/producer and lib/consumer.
 */
#ifndef RMQI_CLIENT_CLIENT_H
#define RMQI_CLIENT_CLIENT_H

#include "../codec/body.h"
#include "../codec/jw.h"
#include "../codec/msgrec.h"
#include "../codec/reply.h"
#include "../codec/route.h"
#include "../net/rpc.h"
#include "../util/disp.h"
#include "../util/log.h"
#include "acl.h"
#include "addrsrv.h"
#include "conf.h"
#include "local.h"
#include "nslist.h"

#include <pthread.h>
#include <stdatomic.h>

/* An immutable route snapshot with its derived publish queues; refcounted
 * so that a sender can keep using it while a refresh replaces it. */
typedef struct rmqi_snap {
  _Atomic int refs;
  rmqi_route_t route;
  rmqi_mq_t *pub;
  size_t n_pub;
  _Atomic uint32_t *counter; /* the topic's round-robin index */
  bool borrowed_; /* the createTopicKey route standing in (producers) */
} rmqi_snap_t;

typedef struct rmqi_topic {
  char *name;
  rmqi_snap_t *snap; /* NULL until the first route arrives */
  _Atomic uint32_t counter;
  bool borrowed; /* route of createTopicKey, for a topic not yet made */
  struct rmqi_topic *next;
} rmqi_topic_t;

typedef struct rmqi_group {
  char *name;
  int refs;
  struct rmqi_group *next;
} rmqi_group_t;

/* A consumer group of this instance: what its heartbeats announce, and
 * whom to tell when the broker says the group's members changed. */
typedef void (*rmqi_consumer_notify_fn)(void *arg);
/* A broker-initiated request about the group (GET_CONSUMER_RUNNING_INFO,
 * GET_CONSUMER_STATUS_FROM_CLIENT, RESET_CONSUMER_CLIENT_OFFSET), on the
 * loop thread under the client's lock: answer it (rmqi_rpc_reply) without
 * blocking. @p hb is what heartbeats say about the group. */
typedef void (*rmqi_consumer_admin_fn)(void *arg, rmqi_conn_t *conn,
                                       rmqi_cmd_t *req,
                                       const rmqi_hb_consumer_t *hb);
typedef struct rmqi_cgroup {
  char *name;
  rmqi_hb_consumer_t hb; /* strings and arrays in `arena` */
  bool announced;        /* hb set by its consumer's start: in heartbeats */
  rmqi_arena_t arena;
  rmqi_consumer_notify_fn notify;
  void *notify_arg;
  rmqi_consumer_admin_fn admin; /* NULL: the group answers nothing */
  struct rmqi_cgroup *next;
} rmqi_cgroup_t;

/* A transactional producer's hook for CHECK_TRANSACTION_STATE: called on
 * the loop thread with c->lock held, with the request, the address of the
 * broker that sent it and the half message's decoded record (both only
 * valid during the call). It must not block: it takes what it needs and
 * queues the check. */
typedef void (*rmqi_tx_check_fn)(void *arg, const char *addr,
                                 const rmqi_cmd_t *req,
                                 const rmqi_msgrec_t *rec);
typedef struct rmqi_txchk {
  char *group;
  rmqi_tx_check_fn fn;
  void *arg;
  struct rmqi_txchk *next;
} rmqi_txchk_t;

/* Request/reply (producer/request.c): a producer's table of requests that
 * wait for replies. @p match runs on the loop thread with c->lock held for
 * each reply a broker pushes (PUSH_REPLY_MESSAGE_TO_CLIENT): when the
 * producer waits for correlation id @p corr it takes that request, copies
 * what it needs of @p rec (valid only during the call) and returns true.
 * @p reap runs on the loop's reply tick (every RMQI_REPLY_TICK_MS once a
 * request was made on the client) to time out the expired ones. Neither
 * may block. */
typedef bool (*rmqi_reply_match_fn)(void *arg, const char *corr, size_t n,
                                    const rmqi_msgrec_t *rec);
typedef void (*rmqi_reply_reap_fn)(void *arg, int64_t now_ms);
typedef struct rmqi_replier {
  rmqi_reply_match_fn match;
  rmqi_reply_reap_fn reap;
  void *arg;
  struct rmqi_replier *next;
} rmqi_replier_t;

#define RMQI_REPLY_TICK_MS 50

/* A producer or consumer whose statistics the client's JSON includes:
 * @p fn writes one JSON object (rmqi_jw_obj ... rmqi_jw_end_obj). It runs
 * under the client's stats lock, so after rmqi_client_remove_stats returns
 * it no longer runs; it must not call back into the registry. */
typedef void (*rmqi_stats_fn)(void *arg, rmqi_jw_t *w);
enum { RMQI_STATS_PRODUCER, RMQI_STATS_CONSUMER };
typedef struct rmqi_stats_src {
  int kind;
  rmqi_stats_fn fn;
  void *arg;
  struct rmqi_stats_src *next;
} rmqi_stats_src_t;

/*
 * Lifetime: the application's handle holds one reference and every
 * producer or consumer made on the client one more. rmq_client_destroy
 * shuts the instance down (refuse new work, fail what is in flight with
 * RMQ_ERR_SHUTDOWN, drain the callbacks, join every thread) and drops the
 * handle's reference; the memory goes with the last reference, so a
 * producer destroyed after its client still finds the (stopped) instance
 * and gets RMQ_ERR_SHUTDOWN from it, never freed memory.
 */
struct rmq_client {
  _Atomic int refs;
  _Atomic bool closed; /* rmq_client_destroy has begun */
  rmqi_conf_t conf;
  rmqi_log_t log;
  rmqi_local_ip_t ip;
  char id[256];
  rmqi_nslist_t ns;
  rmqi_addrsrv_t *addrsrv; /* namesrvDomain's fetcher, or NULL */
  rmqi_rpc_t *rpc;
  rmqi_disp_t disp;
  pthread_mutex_t lock; /* topics, groups */
  rmqi_topic_t *topics;
  /* the topics again, by name: open addressing, at most half full, so that
   * a send's route look-up stays O(1) with thousands of topics */
  rmqi_topic_t **topic_index;
  size_t topic_slots, n_topics;
  rmqi_group_t *producer_groups;
  rmqi_cgroup_t *consumer_groups;
  rmqi_txchk_t *tx_checkers; /* transactional producers, oldest first */
  rmqi_replier_t *repliers;  /* producers that may wait for replies */
  _Atomic bool reply_tick;   /* the reply tick was started */
  _Atomic uint64_t replies_unmatched; /* late or unknown replies dropped */
  _Atomic uint64_t replies_bad;       /* undecodable replies refused */
  _Atomic uint32_t uniq_counter;
  _Atomic int64_t month_start, month_end; /* cached, for message ids */
  uint32_t uniq_discriminator;
  /* the constant head of every UNIQ_KEY (ip, pid, discriminator) in hex */
  char uniq_head[45];
  size_t uniq_head_len;
  uint16_t pid; /* for message ids */
  uint64_t rng; /* xorshift state for the topics' first queue (c->lock) */
  rmqi_timer_t *t_route, *t_heartbeat;
  bool heartbeat_pending;
  /* statistics (lib/client/stats.c) */
  pthread_mutex_t stats_lock; /* the sources; never held with c->lock */
  rmqi_stats_src_t *stats_srcs;
  int64_t created_ms, created_wall_ms;
  rmqi_timer_t *t_stats;
  _Atomic bool stats_queued; /* a periodic report waits for the pool */
};

/* A producer's or consumer's reference (taken when it is made on the
 * client, released when its memory goes). */
void rmqi_client_keep(rmq_client_t *c);

/* rmq_client_new without its scope check: for a producer's or consumer's
 * own client, made from a conf that also holds the object's keys. */
rmq_client_t *rmqi_client_new(const rmq_conf_t *conf, char *errstr,
                              size_t errstr_size);
void rmqi_client_release(rmq_client_t *c);
/* Whether rmq_client_destroy has begun: new work is refused with
 * RMQ_ERR_SHUTDOWN. */
bool rmqi_client_closed(rmq_client_t *c);

/* Takes a reference to the topic's current route, fetching it from the
 * name servers (on the calling thread, which must not be the loop thread)
 * when it is not cached. Falls back to the createTopicKey route when the
 * topic does not exist (auto-creation). @p deadline_ms bounds the wait.
 * On failure @p err (may be NULL) names the cause. */
rmq_err_t rmqi_client_route(rmq_client_t *c, const char *topic,
                            int64_t deadline_ms, rmqi_snap_t **out, char *err,
                            size_t err_size);
/* The cached route only (any thread, never blocks); NULL if none. */
rmqi_snap_t *rmqi_client_route_cached(rmq_client_t *c, const char *topic);
void rmqi_snap_release(rmqi_snap_t *s);

/* Producer groups announced in heartbeats. */
rmq_err_t rmqi_client_add_producer(rmq_client_t *c, const char *group);
/* True when that was the group's last producer in this instance. */
bool rmqi_client_remove_producer(rmq_client_t *c, const char *group);
/* Sends a heartbeat to every known broker now (asynchronously). */
void rmqi_client_heartbeat_now(rmq_client_t *c);
/* The same, waiting for the answers (not from the loop thread). */
void rmqi_client_heartbeat_sync(rmq_client_t *c, int64_t timeout_ms);

/* Transactional producers: a check for group @p group reaches @p fn
 * (the first registered for the group). After
 * rmqi_client_remove_tx_checker(@p arg) returns, @p fn is never called
 * with @p arg again (the removal waits for a call in progress: both hold
 * c->lock). */
rmq_err_t rmqi_client_add_tx_checker(rmq_client_t *c, const char *group,
                                     rmqi_tx_check_fn fn, void *arg);
void rmqi_client_remove_tx_checker(rmq_client_t *c, void *arg);

/* Request/reply: @p arg's requests are offered the replies that arrive
 * and reaped on the tick. After rmqi_client_remove_replier(@p arg) returns
 * neither function is called with @p arg again (both run under c->lock). */
rmq_err_t rmqi_client_add_replier(rmq_client_t *c, rmqi_reply_match_fn match,
                                  rmqi_reply_reap_fn reap, void *arg);
void rmqi_client_remove_replier(rmq_client_t *c, void *arg);

/* Statistics sources (see rmqi_stats_fn); add fails only for memory. */
rmq_err_t rmqi_client_add_stats(rmq_client_t *c, int kind, rmqi_stats_fn fn,
                                void *arg);
void rmqi_client_remove_stats(rmq_client_t *c, void *arg);
/* statisticsIntervalMs: starts the periodic report (loop thread). */
void rmqi_client_stats_start(rmq_client_t *c);
/* A histogram's summary as the JSON object @p key. */
void rmqi_hist_json(rmqi_jw_t *w, const char *key, const rmqi_hist_sum_t *h);
/* Starts the reply tick (any thread; idempotent): only clients that made a
 * request pay for its wake-ups. */
void rmqi_client_reply_tick_start(rmq_client_t *c);
/* The PUSH_REPLY_MESSAGE_TO_CLIENT handler (client/reply.c). */
void rmqi_client_on_reply(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req);

/* The route of a topic a consumer reads: cached, or fetched without the
 * producer's auto-creation fallback; it may have no writable queue. */
rmq_err_t rmqi_client_route_sub(rmq_client_t *c, const char *topic,
                                int64_t deadline_ms, rmqi_snap_t **out,
                                char *err, size_t err_size);
/* Fetches the route again now (for a rebalance that found no route). */
void rmqi_client_route_forget(rmq_client_t *c, const char *topic);

/* Consumer groups: one per consumer object (RMQ_ERR_STATE when the group
 * already has a consumer in this instance, as Java refuses). @p notify
 * runs on the loop thread when a broker sends NOTIFY_CONSUMER_IDS_CHANGED
 * for the group; it must not block. */
rmq_err_t rmqi_client_add_consumer(rmq_client_t *c, const char *group,
                                   rmqi_consumer_notify_fn notify, void *arg);
/* Who answers the group's admin requests (the notify arg is passed). */
void rmqi_client_set_consumer_admin(rmq_client_t *c, const char *group,
                                    rmqi_consumer_admin_fn fn);
/* Replaces what heartbeats say about the group (deep copy). */
rmq_err_t rmqi_client_set_consumer_data(rmq_client_t *c,
                                        const rmqi_hb_consumer_t *data);
/* UNREGISTER_CLIENT for a producer and/or consumer group to every broker
 * address of the cached routes (or the masters), all at once; returns
 * when every broker answered or at @p deadline (monotonic ms). */
void rmqi_client_unregister(rmq_client_t *c, const char *producer_group,
                            const char *consumer_group, bool masters_only,
                            int64_t deadline);
/* Forgets the group and sends UNREGISTER_CLIENT for it to every broker
 * (waiting up to @p timeout_ms in all). */
void rmqi_client_remove_consumer(rmq_client_t *c, const char *group,
                                 int64_t timeout_ms);

/* Every broker address of every cached route (masters and slaves), or the
 * masters only; strings malloc'd, free with rmqi_addrs_free. */
size_t rmqi_client_broker_addrs(rmq_client_t *c, bool masters_only,
                                char ***out);
void rmqi_addrs_free(char **v, size_t n);

/* A new UNIQ_KEY (message.md §5.1) as 32 (IPv4) or 56 (IPv6) upper-case
 * hex characters plus NUL. */
void rmqi_client_uniq_id(rmq_client_t *c, char out[57]);

/* Runs @p fn on a callback thread (or from rmq_poll). */
rmq_err_t rmqi_client_dispatch(rmq_client_t *c, rmqi_fn fn, void *arg);

#endif

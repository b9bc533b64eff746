/*
 * The lite pull consumer's internals (Java's DefaultLitePullConsumerImpl),
 * shared by lite.c (queues, pulls, poll, the public calls) and
 * lite_svc.c (the service thread: rebalance, start offsets, commits).
 *
 * Threads and ownership:
 *  - the loop thread issues pulls and takes their results: a result
 *    becomes a batch of raw records on the ready list; nothing is decoded
 *    there, so the I/O thread only moves bytes;
 *  - the application's thread decodes records into messages in poll();
 *  - the service thread rebalances, finds start offsets and commits (these
 *    need blocking calls, which neither of the others may make).
 * Everything below `lock` is guarded by it. The consumer's state is
 * reference-counted: every pull in flight and the loop's tick timer hold a
 * reference, so destroy() never waits for a long-polling pull (up to 30 s)
 * to come back; the last reference frees the state.
 *
 * A queue (lq_t) is freed when it was dropped and nothing holds it (no
 * pull in flight, no start-offset lookup running, no commit waiting for
 * its answer). Its `gen` changes on seek and drop: pull results and
 * batches of an older generation are discarded, so a replaced assignment
 * never delivers stale messages.
 */
#ifndef RMQI_CONSUMER_LITE_INT_H
#define RMQI_CONSUMER_LITE_INT_H

#include "../client/client.h"
#include "../producer/trace.h"
#include "allocate.h"
#include "offset_file.h"
#include "rxmsg.h"
#include "subscription.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct lite lite_t;
typedef struct push push_t; /* push.h: a push consumer on this engine */

/* What the running info reports per topic (Java's ConsumeStatus: TPS and
 * response times over about the last minute). Counters only grow; the
 * service thread keeps a snapshot every 10 s, and a rate is the change
 * since the snapshot about a minute old. One per topic the consumer has
 * seen, freed with the consumer: queues point at theirs. */
enum {
  TS_OK,
  TS_FAILED,
  TS_CALLS,
  TS_CONSUME_MS,
  TS_PULLS,
  TS_PULLED,
  TS_PULL_MS,
  TS_N
};
enum { TS_SNAPS = 7, TS_SNAP_MS = 10000 };
typedef struct tstat {
  char *topic;
  struct tstat *next;
  _Atomic uint64_t v[TS_N];
  uint64_t snap[TS_SNAPS][TS_N]; /* l->lock */
  int64_t snap_ms[TS_SNAPS];     /* monotonic; 0: none */
  unsigned snap_next;
  /* the topic's share of the consumer's statistics (l->st.lock) */
  int64_t first_ms, last_ms, last_error_ms; /* wall clock; 0: never */
  char last_error[256];
} tstat_t;

typedef struct lq {
  char *topic;
  char *broker;
  int32_t qid;
  rmqi_sub_t *sub; /* owned; "*" in assign mode */
  tstat_t *ts;     /* its topic's counters */
  uint64_t gen;
  int holds; /* pulls in flight + running offset lookups + commits */
  bool dropped, paused, active, seeding;
  bool commit_busy;    /* an asynchronous commit is waiting for its answer */
  int64_t pull_offset; /* next offset to pull; -1 until known */
  int64_t consumed;    /* offset after the last polled message; -1 */
  int64_t done;        /* pull consumer: `consumed` when the application
                        * last called poll() again, so finished with what
                        * it had; what autoCommit and a drop commit; -1 */
  int64_t commit_mem;  /* the in-memory offset store: what to send; -1 */
  int64_t committed;   /* last offset sent to the broker / file; -1 */
  int64_t due_ms;      /* earliest time of the next pull */
  int64_t suggest_id;  /* broker id the last pull suggested */
  int64_t moved_back_at; /* the pull offset a broker last told to move
                            back from (OFFSET_MOVED to a smaller one), -1 */
  size_t cached_msgs, cached_bytes;
  int64_t max_cached_msgs, max_cached_bytes; /* the topic's share; 0: none */
  int64_t cached_lo, cached_hi;              /* offsets pulled but not polled */
  int64_t max_offset;      /* the broker's, from the last pull answer; 0 */
  int64_t last_pull_ms;    /* wall clock of the last pull answer; 0 */
  int64_t last_consume_ms; /* wall clock of the last message finished; 0 */
  size_t n_ready;          /* its batches on the ready list */
  struct lq *next, *prev;  /* l->queues, doubly linked: O(1) unlink */
  /* push consumer (push.c) */
  struct batch *pin_head, *pin_tail; /* taken, unfinished, offset order */
  bool busy;                         /* orderly: a thread consumes it */
  bool locked;                       /* orderly: the broker lock is ours... */
  int64_t lock_ms;                   /* ...since this (re)lock (monotonic) */
} lq_t;

typedef struct batch {
  lq_t *q;
  uint64_t gen;
  uint8_t *body;
  size_t len, pos;
  size_t n_msgs; /* records left (counted by their size fields) */
  int64_t next_begin;
  rmqi_inner_t inner; /* a 5.x inner-batch record being unwrapped */
  rmqi_hostcache_t hosts; /* its messages' hosts, formatted once */
  int64_t dec_next;   /* the offset after the last record whose header
                         decoded (-1: none yet; for the log of one that
                         does not) */
  struct batch *next;
  /* push consumer (push.c) */
  int64_t first;    /* the offset its pull asked for */
  rmq_msg_t **msgs; /* decoded (tag-filtered) messages */
  /* per message: 0 to consume, 1 finished. Only the thread running the
   * batch writes them, at once after each listener call and without
   * l->lock; others read them under l->lock (the queue's offset) */
  _Atomic uint8_t *state;
  size_t n_dec;
  int64_t not_before;  /* a retry or suspension waits until (monotonic) */
  bool running;        /* a consume thread has it */
  struct batch *pnext; /* the queue's pin list */
  struct batch *lnext; /* the push state's later list */
} batch_t;

/* A consumer's statistics (stats.c): what the listener (push) or poll
 * (pull) finished, failures, and a per-second ring for the rate. */
typedef struct rmqi_cstats {
  pthread_mutex_t lock;
  uint64_t ok, failed;
  int64_t first_ms, last_ms, last_error_ms; /* wall clock */
  char last_error[256];
  uint32_t ring[60]; /* messages finished in each of the last 60 s */
  int64_t ring_sec;  /* the second ring[ring_sec % 60] counts */
} rmqi_cstats_t;

void rmqi_cstats_init(rmqi_cstats_t *s);
void rmqi_cstats_free(rmqi_cstats_t *s);
/* @p n messages of topic @p t (NULL: none known) finished or failed: the
 * consumer's counters, the topic's (TS_OK / TS_FAILED) and their times. */
void rmqi_cstats_ok(rmqi_cstats_t *s, tstat_t *t, size_t n);
void rmqi_cstats_fail(rmqi_cstats_t *s, tstat_t *t, size_t n, const char *why);
/* The consumer in its client's statistics JSON from start to destroy. */
rmq_err_t rmqi_lite_stats_join(lite_t *l);
void rmqi_lite_stats_leave(lite_t *l);
/* Per-topic counters (stats.c): the topic's, made on first use (l->lock
 * held; NULL on no memory); a snapshot of all when one is due (l->lock);
 * the rates of @p topic over about the last minute (l->lock). */
tstat_t *rmqi_tstat_get(lite_t *l, const char *topic);
void rmqi_tstat_tick(lite_t *l, int64_t now);
typedef struct tstat_rates {
  double ok_tps, failed_tps, consume_rt_ms, pull_tps, pull_rt_ms;
} tstat_rates_t;
tstat_rates_t rmqi_tstat_rates(lite_t *l, const char *topic);
static inline void rmqi_tstat_add(tstat_t *t, int k, uint64_t n) {
  if (t)
    atomic_fetch_add_explicit(&t->v[k], n, memory_order_relaxed);
}

typedef struct lsub {
  char *topic;
  char *expr;
  bool sql92;
  struct lsub *next;
} lsub_t;

struct lite {
  _Atomic int refs;
  rmq_client_t *client;
  bool own_client;
  rmqi_conf_t conf;
  const char *group;
  rmqi_mpool_t *pool; /* received messages' blocks (client/mpool.h) */
  pthread_mutex_t lock;
  pthread_mutex_t announce; /* taken before `lock`, see announce() */
  pthread_cond_t ready_cv;  /* a batch arrived, or closing */
  pthread_cond_t svc_cv;    /* the service thread has work */
  pthread_cond_t commit_cv; /* an asynchronous commit was answered */
  bool started, closed, assigned_mode, svc_stop, rebalance_now;
  bool final_persisted; /* rmqi_lite_persist_final ran (lock) */
  /* pull consumer, autoCommit: when poll() next copies what earlier polls
   * returned to the offset store (Java maybeAutoCommit) (lock) */
  int64_t next_auto_commit;
  lsub_t *subs;
  lq_t *queues;
  batch_t *ready, *ready_tail;
  size_t cached_msgs;
  rmqi_timer_t *tick;
  pthread_t svc;
  bool svc_running, svc_exited;
  int64_t start_ms;
  /* broadcasting: the offset file's table */
  char *offset_path;
  rmqi_mqo_tab_t file_offsets;  /* broadcasting: the offsets file's table */
  push_t *push;                 /* NULL for a pull consumer */
  bool push_wake; /* a consume thread to wake once l->lock is released */
  _Atomic uint64_t undecodable; /* records skipped (statistics) */
  rmq_assignment_cb *assign_cb; /* (lock) */
  void *assign_opaque;
  rmqi_cstats_t st;
  tstat_t *tstats; /* per topic, l->lock for the list */
  int64_t next_snap_ms;
  rmqi_tracer_t *tracer; /* enableMsgTrace; NULL when off */
};

struct rmq_pull_consumer {
  lite_t *l;
};

/* lite.c */
void rmqi_lite_unref(lite_t *l);
void rmqi_lite_batch_free(batch_t *b);
/* Decodes up to @p max messages of @p b (not on the ready list, no lock
 * held); *records: records read; *last: offset after the last one. */
size_t rmqi_lite_decode(lite_t *l, batch_t *b, const lq_t *q, rmq_msg_t **out,
                        size_t max, size_t *records, int64_t *last);
lq_t *rmqi_lite_find(lite_t *l, const char *topic, const char *broker,
                     int32_t qid);
/* The queues not dropped, sorted by (topic, broker, qid), for lookups by
 * rmqi_lite_index_find in O(log n) (l->lock held while both are used);
 * malloc'd, NULL on no memory. */
lq_t **rmqi_lite_index(lite_t *l, size_t *n);
lq_t *rmqi_lite_index_find(lq_t *const *idx, size_t n, const char *topic,
                           const char *broker, int32_t qid);
/* Adds a queue (pull offset unknown) under l->lock; NULL on no memory. */
lq_t *rmqi_lite_add_queue(lite_t *l, const char *topic, const char *broker,
                          int32_t qid, const char *expr, bool sql92);
/* Forgets what was pulled for @p q and starts a new generation (l->lock
 * held): batches go, pulls in flight will be ignored. */
void rmqi_lite_reset_queue(lite_t *l, lq_t *q);
/* Drops @p q under l->lock: its batches go, its pulls are ignored. */
void rmqi_lite_drop_queue(lite_t *l, lq_t *q);
/* Releases a hold on @p q under l->lock (frees a dropped queue). */
void rmqi_lite_release(lite_t *l, lq_t *q);
/* The address of @p broker's node @p id for @p topic, copied; failing
 * that its master's, failing that any node's (Java
 * findBrokerAddressInSubscribe: with the master gone, its slave). When
 * @p master is not NULL it says whether the address is the master's. */
bool rmqi_lite_addr(lite_t *l, const char *topic, const char *broker,
                    int64_t id, char *out, size_t n, bool *master);

/* lite_svc.c */

/* An offset to commit once l->lock is released. */
typedef struct pending_commit {
  char *topic, *broker;
  int32_t qid;
  int64_t offset;
  bool fresh; /* the queue's broker never acknowledged a commit of it */
} pending_commit_t;
/* The offsets of dropped queues, to commit after the lock (no bound: a
 * rebalance may drop thousands at once). Zero-initialise. */
typedef struct gone_list {
  pending_commit_t *v;
  size_t n, cap;
} gone_list_t;
/* Drops @p q (l->lock held), first noting its offset in @p g when it has
 * one to commit (Java persists a removed queue's offset). Out of memory,
 * the offset is not committed and an error is logged. */
void rmqi_lite_drop_keep(lite_t *l, lq_t *q, gone_list_t *g);
/* Commits (one-way) and frees what rmqi_lite_drop_keep noted; no lock. */
void rmqi_lite_commit_gone(lite_t *l, gone_list_t *g);

/* Tells the application's assignment listener, if any, that a rebalance
 * changed the queues of @p topic (on a callback thread or in rmq_poll;
 * no lock held). */
void rmqi_lite_notify_assignment(lite_t *l, const char *topic,
                                 const rmqi_alloc_mq_t *all, size_t n_all,
                                 const rmqi_alloc_mq_t *mine, size_t n_mine);

rmq_err_t rmqi_lite_svc_start(lite_t *l);
void rmqi_lite_svc_stop(lite_t *l);
void rmqi_lite_kick(lite_t *l); /* run a rebalance soon (any thread) */
/* Copies every queue's polled offset into the in-memory store (Java
 * commitAll; l->lock held). */
void rmqi_lite_commit_mem(lite_t *l);
/* Whether @p q's offset may be sent now (l->lock held): the push
 * consumer's orderly queues only while their lock holds. */
bool rmqi_lite_may_commit(const lite_t *l, const lq_t *q);
/* Sends every stored offset that moved (clustering: UPDATE_CONSUMER_OFFSET,
 * waiting for the answers when @p sync, else learning them in a
 * completion; broadcasting: the file). A queue's offset counts as
 * committed only once the broker (or the file) took it, so one that
 * failed is sent again by the next call. */
rmq_err_t rmqi_lite_persist(lite_t *l, bool sync);
/* Shutdown's commit: with autoCommit, what was consumed goes into the
 * store first (rmqi_lite_commit_mem); then every stored offset, moved or
 * not (the broker may have lost one, see the function), waiting for the
 * answers until @p deadline (monotonic ms). Once per consumer, and only
 * for one started (later calls return at once). Broadcasting: the file.
 * No lock held. */
void rmqi_lite_persist_final(lite_t *l, int64_t deadline);
/* Sends one offset (clustering: to the broker's master; broadcasting: into
 * the file table, saved when @p sync). */
rmq_err_t rmqi_lite_commit_one(lite_t *l, const char *topic, const char *broker,
                               int32_t qid, int64_t offset, bool sync);
/* The loop's tick timer, which starts due pulls (lite.c). */
rmq_err_t rmqi_lite_tick_start(lite_t *l);
void rmqi_lite_tick_stop(lite_t *l);
/* The start offset of a new queue (Java computePullFromWhere). */
rmq_err_t rmqi_lite_start_offset(lite_t *l, const char *topic,
                                 const char *broker, int32_t qid, int64_t *out);

#endif

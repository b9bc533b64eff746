/*
 * What the network-fault tests share (test_it_netfault.c against one
 * broker, test_it_netfault_two.c against two masters): the test's
 * environment, its link (netwire.h) and topic; sends tracked by index
 * (bodies are decimal indices), and a lite pull consumer reading them back.
 */
#ifndef RMQ_NFKIT_H
#define RMQ_NFKIT_H

#include "it.h"
#include "netwire.h"
#include "rmq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

extern it_env_t env;
extern netwire_t *wire;
extern char topic[128];

/* Slack of a timeout bound: a call given T ms returns within T + SLACK. It
 * is wide because a loaded two-core machine with JVMs on it may run the
 * client's threads late (1.4 s once, at a load average of 35); the
 * measured times are printed. */
enum { SLACK_MS = 1500 };

/*
 * After it_setup(): moves the process into its namespace (netwire_open,
 * before any thread: the namespace is the calling thread's). Returns 0,
 * or the exit status: 1 when the target registers 127.0.0.1, or the link
 * cannot be made under RMQ_REQUIRE_BROKER=1; 77 (skip) otherwise.
 */
int nfkit_open(void);

/* Makes the topic `topic` (4 queues on each broker of the target) and
 * @p second (@p second_queues each) from the host; returns 0, or 1 when
 * `topic` could not be made (@p second_rc: the second's harness status). */
int nfkit_make_topics(const char *second, int second_queues, int *second_rc);

/* A harness command, run in the host's namespace (it reaches 127.0.0.1). */
int host_harness(const char *verb, const char *args);
void sleep_ms(int64_t ms);
/* Sets key/value pairs (NULL-terminated), aborting on a refused one. */
void set_kv(rmq_conf_t *c, const char *const *kv);
/* A configuration with the name server, log level error, and @p kv. */
rmq_conf_t *conf_kv(const char *const *kv);
/* A producer of a new group; @p more: further keys (client scope too when
 * @p client is NULL). */
rmq_producer_t *producer_kv(rmq_client_t *client, const char *timeout_ms,
                            const char *const *more);
rmq_producer_t *producer(rmq_client_t *client, const char *timeout_ms);
rmq_msg_t *indexed_msg_to(const char *to, int i);
rmq_msg_t *indexed_msg(int i);
/* The index of a message's body, minus @p base; -1 when it is none. */
int body_index(const rmq_msg_t *m, int base);

/* ---- sends, each tracked by index ------------------------------------- */

typedef struct track track_t;
typedef struct slot {
  track_t *t;
  int i;
} slot_t;

struct track {
  int n, base;
  slot_t *slots;
  atomic_int *calls;      /* returns / callbacks per index */
  atomic_int *acked;      /* 1: RMQ_OK with RMQ_SEND_OK */
  atomic_int *err;        /* the error of a failure */
  atomic_int *broker;     /* the last letter of the acking broker's name */
  int64_t *t_call;        /* ns, when the call was made */
  _Atomic int64_t *t_end; /* ns, when it returned / called back */
};

void track_init(track_t *t, int n, int base);
void track_free(track_t *t);
/* Sends index i of @p t asynchronously; a refused call counts as its
 * completion (no callback comes). */
void send_async(rmq_producer_t *p, track_t *t, int i);
void send_sync(rmq_producer_t *p, track_t *t, int i);
/* After a fault lifted at @p t_lift_ns: sync sends of indices from @p from
 * (at most @p max) until one is acked; returns how many went out, and in
 * @p ms the time from the lift to the last one's completion. */
int probe_until_acked(rmq_producer_t *p, track_t *t, int from, int max,
                      int64_t t_lift_ns, double *ms);

typedef struct summary {
  int once, acked, failed, timeouts;
  double min_ms, max_ms; /* call to completion, of those completed */
} summary_t;

/* Indices [from, to) of @p t; prints them as @p what. */
summary_t summarize(track_t *t, int from, int to, const char *what);

/* ---- reading back --------------------------------------------------------
 * A lite pull consumer in the namespace, of a new group, from the first
 * offset; first_ns[i] is when index base + i was first read. */

typedef struct reader {
  rmq_pull_consumer_t *c;
  int base, n;
  _Atomic int64_t *first_ns;
  atomic_int *reads; /* per index: how many times it was read */
  atomic_int stop, seen;
  pthread_t th;
} reader_t;

int reader_start(reader_t *r, int base, int n);
/* Waits (up to @p max_ms) until every acked index of @p t was read; returns
 * how many are still missing. */
int reader_wait(reader_t *r, track_t *t, int64_t max_ms);
/* Stops the reader thread and destroys its consumer; returns how long the
 * destroy took, ms. */
int64_t reader_stop(reader_t *r, int timeout_ms);
/* The earliest and the latest of first_ns[from, to) (0: none read). */
void first_last(_Atomic int64_t *first_ns, int from, int to, int64_t *first,
                int64_t *last);
/* Read and stored, but the send reported failure (at least once: a timeout
 * cannot tell). */
int unacked_but_read(reader_t *r, track_t *t);
/* The link's packets since the last call. */
void print_wire(const char *when);
/* The port of a "host:port" address. */
int addr_port(const char *addr);

#endif

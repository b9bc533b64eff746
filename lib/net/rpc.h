/*
 * Request/response over remoting connections: one connection per broker
 * address, a pending table keyed by opaque, timeouts, broker-initiated
 * requests. One instance per client; all state is inside it.
 *
 * Threading: rmqi_rpc_invoke, _oneway, _invoke_sync and _reply may be
 * called from any thread (invoke_sync never from the loop thread). The
 * request is encoded on the caller's thread straight into the connection's
 * output buffer (a large body may be lent instead: rmqi_rpc_invoke_lend);
 * the loop writes it. Completions and handlers run on the
 * loop thread: they must be quick and must not block; the layers above
 * bounce user callbacks to the dispatcher.
 */
#ifndef RMQI_NET_RPC_H
#define RMQI_NET_RPC_H

#include "../codec/cmd.h"
#include "../util/hist.h"
#include "../util/log.h"
#include "loop.h"

#include <pthread.h>

struct addrinfo;
typedef struct rmqi_tls rmqi_tls_t;

/* A DNS name is at most 253 characters; an address adds brackets, a colon
 * and a port. */
#define RMQI_MAX_HOST 256
#define RMQI_MAX_ADDR (RMQI_MAX_HOST + 8)
typedef struct rmqi_rpc rmqi_rpc_t;
typedef struct rmqi_conn rmqi_conn_t;

/* What a completion receives. On success @p resp is the decoded response;
 * it and @p frame (the raw frame it was decoded from) are valid only during
 * the call. On failure err says why (RMQ_ERR_TIMEOUT, RMQ_ERR_CONNECT,
 * RMQ_ERR_CONN_LOST, RMQ_ERR_SHUTDOWN, ...) and detail names the cause. */
typedef struct rmqi_rpc_result {
  rmq_err_t err;
  const char *detail;
  const char *addr;
  rmqi_cmd_t *resp;
  const uint8_t *frame;
  size_t frame_len;
} rmqi_rpc_result_t;

typedef void (*rmqi_rpc_cb)(void *arg, const rmqi_rpc_result_t *r);

/* A broker-initiated request (loop thread). Reply with rmqi_rpc_reply. */
typedef void (*rmqi_rpc_handler)(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req);

typedef struct rmqi_rpc_opts {
  size_t max_frame;
  int64_t connect_timeout_ms;
  /* Bytes a connection may hold queued for writing in its own memory (0:
   * the default, RMQI_DEFAULT_MAX_CONN_OUTPUT; bodies still lent, see
   * rmqi_rpc_invoke_lend, are not counted). A request past it fails with
   * RMQ_ERR_QUEUE_FULL; replies to the peer's requests may use only a
   * quarter of it and are dropped past that; a connection that stays over
   * its bound without writing a byte for connect_timeout_ms is closed. */
  size_t max_conn_output;
  /* A connection keeps its output buffers (up to 8 MiB each) while it
   * sends large frames, and gives them back to 128 KiB once none has
   * passed for this long (0: 1000 ms). */
  int64_t idle_trim_ms;
  /* Bodies of this many bytes or more are written from the caller's
   * memory rather than copied into the connection's output, by
   * rmqi_rpc_invoke_lend and rmqi_rpc_invoke_sync (0: the default,
   * RMQI_DEFAULT_LEND_MIN; SIZE_MAX: never). */
  size_t lend_min;
  int ser; /* RMQI_SER_* for requests we send */
  const rmqi_log_t *log;
  /* Called on every outgoing request just before it is encoded (any
   * thread): ACL signing. */
  rmq_err_t (*sign)(void *arg, rmqi_cmd_t *c);
  void *sign_arg;
  /* TLS on every connection (name servers and brokers alike); NULL:
   * plain TCP. The instance takes its own reference. A failed handshake
   * (or one not done within connect_timeout_ms) fails what waits on the
   * connection with RMQ_ERR_TLS, naming the peer and OpenSSL's reason. */
  rmqi_tls_t *tls;
  /* Tests: replaces getaddrinfo on the resolver thread (NULL: the real
   * one). Its answer is released with freeaddrinfo. */
  int (*resolve)(const char *host, const char *port,
                 const struct addrinfo *hints, struct addrinfo **res);
  /* Tests: replaces the check that the kernel is retransmitting
   * unacknowledged data on a connection's socket @p fd (NULL: TCP_INFO's
   * tcpi_retransmits), which decides whether a timeout closes the
   * connection (rmqi_rpc_invoke). */
  bool (*retransmitting)(int fd);
  /* Tests: called in rmqi_rpc_invoke* on the sender's thread once the
   * frame is queued (or written), before the sender lets its request go:
   * the window in which a completion finds the sender still there. */
  void (*sent)(void *arg, int32_t opaque);
  void *sent_arg;
} rmqi_rpc_opts_t;

#define RMQI_DEFAULT_MAX_CONN_OUTPUT ((size_t)64 << 20)
#define RMQI_DEFAULT_LEND_MIN ((size_t)16 << 10)

rmq_err_t rmqi_rpc_new(rmqi_rpc_t **out, const rmqi_rpc_opts_t *o);
/* Registers a handler for a request code (before rmqi_rpc_start). */
void rmqi_rpc_handle(rmqi_rpc_t *r, int32_t code, rmqi_rpc_handler fn,
                     void *arg);
rmq_err_t rmqi_rpc_start(rmqi_rpc_t *r);
/* Teardown, step one (any thread but the loop's; idempotent, and a second
 * caller returns once the first is done): refuses new work (invoke,
 * oneway, invoke_sync and reply return RMQ_ERR_SHUTDOWN at once from
 * here), fails every pending request with RMQ_ERR_SHUTDOWN (each callback
 * exactly once, on this thread or on the loop's last round), closes every
 * connection, stops and joins the loop thread. It does not wait for the
 * network. The instance stays valid (answering RMQ_ERR_SHUTDOWN) until
 * rmqi_rpc_free. */
void rmqi_rpc_stop(rmqi_rpc_t *r);
/* True once rmqi_rpc_stop has begun (any thread). */
bool rmqi_rpc_closing(rmqi_rpc_t *r);
/* Teardown, step two: frees the memory (calls rmqi_rpc_stop first if it
 * was not called). Not from the loop thread. */
void rmqi_rpc_free(rmqi_rpc_t *r);
rmqi_loop_t *rmqi_rpc_loop(rmqi_rpc_t *r);
/* Requests waiting for an answer now, long polls not counted (any
 * thread): what a client's destroy waits for. */
size_t rmqi_rpc_pending(rmqi_rpc_t *r);

/* Sends @p c (its opaque is assigned here) to @p addr ("host:port",
 * "ip:port" or "[ipv6]:port"; a host name is resolved off the loop, anew
 * for every new connection, within the connect timeout; a name that does
 * not resolve fails the request with RMQ_ERR_CONNECT naming the host and
 * the resolver's error). On RMQ_OK @p cb fires exactly once; on failure
 * it does not fire.
 * A request not answered within @p timeout_ms fails with RMQ_ERR_TIMEOUT
 * and its connection stays, unless the peer sent nothing since the
 * request went out and the kernel is retransmitting unacknowledged data
 * on it (the path or the peer's host is down, not a slow peer): then the
 * connection is closed (the other requests on it fail with
 * RMQ_ERR_CONN_LOST) and the next request connects anew. */
rmq_err_t rmqi_rpc_invoke(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *c,
                          int64_t timeout_ms, rmqi_rpc_cb cb, void *arg);
/* rmqi_rpc_invoke for a long poll (a pull the broker may hold): not
 * counted by rmqi_rpc_pending. */
rmq_err_t rmqi_rpc_invoke_idle(rmqi_rpc_t *r, const char *addr,
                               rmqi_cmd_t *cmd, int64_t timeout_ms,
                               rmqi_rpc_cb cb, void *arg);
/* rmqi_rpc_invoke, but a body of lend_min bytes or more is not copied:
 * the connection writes it from @p c->body, which must stay valid and
 * unchanged until @p cb runs (on RMQ_OK), or until this returns (on
 * failure). Past that the connection no longer reads it: a body still
 * queued when the request ends first (a timeout, a cancel, stop) is
 * copied before @p cb runs, and one not queued yet is never sent. */
rmq_err_t rmqi_rpc_invoke_lend(rmqi_rpc_t *r, const char *addr,
                               rmqi_cmd_t *c, int64_t timeout_ms,
                               rmqi_rpc_cb cb, void *arg);
/* Sends with the oneway flag; nothing comes back. */
rmq_err_t rmqi_rpc_oneway(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *c);

/* A response owned by the caller: the command the loop decoded, with its
 * body in `frame` (a copy; NULL when there is no body). */
typedef struct rmqi_resp {
  rmqi_cmd_t cmd;
  uint8_t *frame;
} rmqi_resp_t;
void rmqi_resp_free(rmqi_resp_t *r);

/* Blocks the calling (non-loop) thread until the answer or the timeout.
 * On RMQ_OK *out holds the response (free with rmqi_resp_free). @p detail
 * (may be NULL) receives the failure's description. A body of lend_min
 * bytes or more is lent as by rmqi_rpc_invoke_lend: the connection reads
 * it only until this returns. */
rmq_err_t rmqi_rpc_invoke_sync(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *c,
                               int64_t timeout_ms, rmqi_resp_t *out,
                               char *detail, size_t detail_size);

/* Ends, with RMQ_ERR_SHUTDOWN, every rmqi_rpc_invoke_sync that thread
 * @p tid is waiting in (any thread): a component stopping its own worker
 * thread need not wait out that thread's request timeouts. A late answer
 * finds nothing and is dropped, as after a timeout. */
void rmqi_rpc_abort_sync(rmqi_rpc_t *r, pthread_t tid);

/* Completes, on the calling thread (any but the loop's own is fine; the
 * loop's too), every pending request for which @p match(cb, cb_arg, ctx)
 * is true, with @p err and @p detail. Each is removed from the pending
 * table, the deadline heap and its connection's list under the lock before
 * its callback runs, so it ends exactly once; a late answer is dropped.
 * @p match runs under the rpc lock: it must only look at its arguments. */
void rmqi_rpc_cancel_if(rmqi_rpc_t *r,
                        bool (*match)(rmqi_rpc_cb cb, void *cb_arg, void *ctx),
                        void *ctx, rmq_err_t err, const char *detail);

/* Answers a broker-initiated request on its connection (any thread). */
rmq_err_t rmqi_rpc_reply(rmqi_conn_t *conn, rmqi_cmd_t *resp);
/* Keeps @p conn, the connection a broker-initiated request came on, for
 * an answer given later from another thread (rmqi_rpc_reply): if the
 * connection closes meanwhile the answer is dropped. Every keep is
 * released once; the rpc instance must outlive the reference. */
rmqi_conn_t *rmqi_conn_keep(rmqi_conn_t *conn);
void rmqi_conn_release(rmqi_conn_t *conn);
/* The peer address of a connection. */
const char *rmqi_conn_addr(const rmqi_conn_t *conn);

/* Test and diagnostics: the state of the connection to @p addr (all zero
 * when there is none), read on the loop thread (the caller waits). */
typedef struct rmqi_conn_stats {
  bool exists;
  size_t queued;                    /* bytes encoded and not yet written */
  size_t lent; /* of queued: bodies written from their caller's memory */
  uint64_t replies_dropped;         /* replies refused for the reply bound */
  uint64_t responses_dropped;       /* answers nobody waits for (late ones) */
  size_t in_cap, wbuf_cap, out_cap; /* buffer capacities */
} rmqi_conn_stats_t;
rmqi_conn_stats_t rmqi_rpc_conn_stats(rmqi_rpc_t *r, const char *addr);

/* What each address this instance talked to has seen (statistics): the
 * connection's state now, and counters over the instance's life. */
enum { RMQI_PEER_DOWN, RMQI_PEER_CONNECTING, RMQI_PEER_UP };
typedef struct rmqi_peer_stats {
  char addr[RMQI_MAX_ADDR];
  int state;          /* RMQI_PEER_* */
  uint64_t requests;  /* sent expecting an answer */
  uint64_t responses; /* answered */
  uint64_t timeouts;  /* not answered in time */
  uint64_t failed;    /* failed by a closing connection */
  uint64_t oneways;   /* sent without an answer */
  uint64_t connects, disconnects;
  uint64_t inflight; /* waiting for an answer now */
  rmqi_hist_sum_t rtt_us;
  char last_error[200]; /* why the last connection closed; "" none */
  int64_t last_error_ms;
} rmqi_peer_stats_t;
/* A malloc'ed snapshot of every address (*n of them; free(*out)). */
rmq_err_t rmqi_rpc_peer_stats(rmqi_rpc_t *r, rmqi_peer_stats_t **out,
                              size_t *n);

/* Test hook (fuzz/fuzz_conn.c): plays @p data as what the peer at @p addr
 * sends, through the real read, reassembly and dispatch path, on the
 * calling thread, on an instance whose loop is not started. Each read
 * stops at the next of @p cuts (ascending offsets) and the next read then
 * says EAGAIN, as a readiness event ending; after the last byte the peer
 * closes. Requests to @p addr invoked before the call are pending on that
 * connection (the connection must still be new); replies are discarded.
 * RMQ_ERR_STATE when the connection already exists in another state. */
rmq_err_t rmqi_rpc_test_feed(rmqi_rpc_t *r, const char *addr,
                             const uint8_t *data, size_t len,
                             const size_t *cuts, size_t ncuts);

/* Splits "host:port" / "[v6]:port" (syntax only; the host may be a name)
 * into @p host and @p port. */
rmq_err_t rmqi_split_addr(const char *addr, char *host, size_t host_size,
                          unsigned *port);
/* Splits "host:port" / "[v6]:port" into a sockaddr; numeric hosts only
 * (host names are resolved by the connection, on the resolver thread). */
struct sockaddr_storage;
rmq_err_t rmqi_parse_addr(const char *addr, struct sockaddr_storage *ss,
                          unsigned *len);

#endif

#include "rpc.h"

#include "tls.h"
#include "transport.h"

#include "../util/err.h"
#include "../util/spare.h"
#include "../util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { C_NEW, C_RESOLVING, C_CONNECTING, C_STARTING, C_OPEN, C_CLOSED };

/* Addresses one connection tries in turn (a host name's getaddrinfo
 * answers, IPv6 and IPv4, or the one numeric address). */
#define MAX_ADDRS 8
typedef struct sockaddr_any {
  struct sockaddr_storage ss;
  socklen_t len;
} sockaddr_any_t;

/* What one address has seen over the instance's life, across reconnects
 * (statistics). Counters are atomics: the loop and senders add without
 * the lock; the list itself only grows, under rpc->lock. */
typedef struct peer {
  char addr[RMQI_MAX_ADDR];
  _Atomic uint64_t requests, responses, timeouts, failed, oneways;
  _Atomic uint64_t connects, disconnects;
  _Atomic int64_t inflight;
  rmqi_hist_t rtt;      /* microseconds, request to response */
  char last_error[200]; /* under rpc->lock */
  int64_t last_error_ms;
  struct peer *next;
} peer_t;

/* Addresses whose statistics are kept; beyond, new ones go uncounted (a
 * name server listing thousands of brokers cannot grow this further). */
#define MAX_PEERS 1024

/* A request body written from the caller's memory instead of a copy in
 * the connection's output (rmqi_rpc_invoke_lend, rmqi_rpc_invoke_sync).
 * The caller's bytes are valid until its completion runs; the frame may
 * still be queued then (a timeout, a cancel, a peer that answers early),
 * so the completion first ends the loan (lend_end): one still queued is
 * copied and the copy written in its place (a request never ends before
 * its frame is queued: pend_t.tag). Shared by the request and the output queue (refs);
 * state, p and poison change under out_lock and, while the loan sits in
 * wbuf, under wlock too: see oq_advance for the writers' share. */
enum { L_NEW, L_QUEUED, L_DONE, L_CANCELLED };
typedef struct lend {
  const uint8_t *p; /* the caller's bytes, or `copy` once the loan ended */
  size_t len;
  size_t written; /* by the queue's writer */
  uint8_t *copy;
  int state;   /* L_* */
  bool poison; /* ended, and no memory for the copy: never written */
  _Atomic int refs;
} lend_t;

static void lend_unref(lend_t *l) {
  if (l && atomic_fetch_sub(&l->refs, 1) == 1) {
    free(l->copy);
    free(l);
  }
}

/* Bytes queued for writing: frames encoded into b, with lent bodies
 * between them (x[i].l's bytes go just before b.data[x[i].at]), and a
 * cursor over what is written already. */
typedef struct oseg {
  size_t at;
  lend_t *l;
} oseg_t;
typedef struct oq {
  rmqi_buf_t b;
  size_t off; /* b.data[0, off) is written */
  oseg_t *x;
  size_t nx, capx;
  size_t xi, xoff; /* x[0, xi) is written, and xoff bytes of x[xi] */
} oq_t;

static bool oq_empty(const oq_t *q) {
  return q->off == q->b.len && q->xi == q->nx;
}

static void oq_reset(oq_t *q) {
  q->b.len = q->off = q->nx = q->xi = q->xoff = 0;
}

/* The loan of a written (or discarded) body is over for the queue. */
static void lend_done(lend_t *l) {
  l->state = L_DONE;
  lend_unref(l);
}

/* Drops what is not written yet (a closing or freed connection). */
static void oq_discard(oq_t *q) {
  for (size_t i = q->xi; i < q->nx; i++)
    lend_done(q->x[i].l);
  oq_reset(q);
}

static void oq_free(oq_t *q) {
  oq_discard(q);
  rmqi_buf_free(&q->b);
  free(q->x);
  q->x = NULL;
  q->capx = 0;
}

static bool oq_reserve_x(oq_t *q) {
  if (q->nx < q->capx)
    return true;
  size_t cap = q->capx ? q->capx * 2 : 16;
  oseg_t *x = realloc(q->x, cap * sizeof(*x));
  if (x == NULL)
    return false;
  q->x = x;
  q->capx = cap;
  return true;
}

/* Up to @p max pieces from the cursor on. Stops before a poisoned loan;
 * *poisoned says whether that is the very next byte. */
static int oq_iov(const oq_t *q, struct iovec *iov, int max, bool *poisoned) {
  int n = 0;
  size_t off = q->off, xi = q->xi, xoff = q->xoff;
  *poisoned = false;
  while (n < max) {
    size_t end = xi < q->nx ? q->x[xi].at : q->b.len;
    if (off < end) {
      iov[n++] = (struct iovec){q->b.data + off, end - off};
      off = end;
      continue;
    }
    if (xi == q->nx)
      break;
    const lend_t *l = q->x[xi].l;
    if (l->poison) {
      *poisoned = n == 0;
      break;
    }
    iov[n++] = (struct iovec){(void *)(l->p + xoff), l->len - xoff};
    xi++;
    xoff = 0;
  }
  return n;
}

/* Moves the cursor past @p n written bytes; a loan written whole ends
 * for the queue. Called by the one writer of the queue: the loop for
 * wbuf (under wlock), a direct writer for out (under out_lock). Returns
 * how many of the bytes were still lent (not copied). */
static size_t oq_advance(oq_t *q, size_t n) {
  size_t lent = 0;
  while (n) {
    size_t end = q->xi < q->nx ? q->x[q->xi].at : q->b.len;
    if (q->off < end) {
      size_t k = n < end - q->off ? n : end - q->off;
      q->off += k;
      n -= k;
      continue;
    }
    lend_t *l = q->x[q->xi].l;
    size_t k = n < l->len - q->xoff ? n : l->len - q->xoff;
    q->xoff += k;
    l->written += k;
    if (l->copy == NULL)
      lent += k;
    n -= k;
    if (q->xoff == l->len) {
      lend_done(l);
      q->xi++;
      q->xoff = 0;
    }
  }
  return lent;
}

/* Bytes from the cursor to the end. */
static size_t oq_left(const oq_t *q) {
  size_t n = q->b.len - q->off;
  for (size_t i = q->xi; i < q->nx; i++)
    n += q->x[i].l->len - (i == q->xi ? q->xoff : 0);
  return n;
}

typedef struct pend pend_t;
struct pend {
  int32_t opaque;
  rmqi_conn_t *conn;
  int64_t t0_ns; /* sent: the round-trip time's start */
  int64_t deadline_ms;
  rmqi_rpc_cb cb;
  void *arg;
  lend_t *lend;          /* its body, when lent */
  /* Whether its sender is still in invoke (tag_of: the opaque and a P_
   * state). While P_SENDING the sender encodes the frame from the
   * caller's command and body, which a completion may free. A completer
   * (close, timeout, cancel, response; each under r->lock, having
   * unlinked it) that finds it P_SENDING sets P_HELD and puts it on
   * r->held: the sender takes it there and posts the held completion to
   * the loop or, for a response that ran at once (held_done: a response
   * comes only once the frame is written), frees it. Otherwise the
   * sender sets P_SENT with one compare-and-swap and no lock, and the
   * entry is the completer's from then on. An entry is freed or reused
   * only after a completer's swap has seen P_SENT, so the sender's swap
   * never meets freed memory. */
  _Atomic uint64_t tag;
  bool held_done; /* answered while P_HELD: the sender only frees it */
  bool idle; /* a long poll: shutdown does not wait for it (idle_pend) */
  rmq_err_t held_err;
  char *held_detail;
  rmqi_loop_node_t post; /* how a held completion reaches the loop */
  pend_t *hnext;         /* hash chain; r->held's list */
  pend_t *cprev, *cnext; /* the connection's list */
  size_t heap;           /* index in the deadline heap */
};

struct rmqi_conn {
  rmqi_rpc_t *rpc;
  char addr[RMQI_MAX_ADDR];
  int fd;
  rmqi_transport_t *tr; /* the byte stream over fd (loop thread) */
  _Atomic int state;    /* written by the loop thread; statistics read it */
  peer_t *peer;         /* its statistics, or NULL past MAX_PEERS */
  _Atomic int refs;
  pthread_mutex_t out_lock;
  oq_t out;      /* frames appended by any thread */
  /* in rpc->dirty: written under rpc->dirty_lock; mark_dirty reads it
   * first without the lock */
  _Atomic bool in_dirty;
  oq_t wbuf;     /* loop-only: bytes being written */
  /* Held by the loop while it writes wbuf: a completion on another thread
   * (lend_end) takes it to end a loan the loop may be reading. */
  pthread_mutex_t wlock;
  rmqi_buf_t in;                   /* loop-only */
  int64_t connect_deadline_ms;     /* covers resolving, connect, handshake */
  sockaddr_any_t addrs[MAX_ADDRS]; /* loop-only */
  size_t n_addrs, i_addr;
  char why[RMQI_MAX_HOST + 64]; /* loop-only: the last connect failure */
  bool heard;       /* loop-only: the peer has sent bytes on this connection */
  int64_t heard_ns; /* loop-only: when it last did (0: never) */
  bool silent;      /* loop-only: in sweep's list of silent connections */
  rmqi_conn_t *silent_next;
  pend_t *pend;      /* under rpc->lock */
  rmqi_conn_t *next; /* table list (rpc->lock) */
  rmqi_conn_t *dirty_next;
  rmqi_conn_t *stuck_next; /* sweep's private list */
  rmqi_conn_t *work_next;  /* drain_dirty's private list */
  bool want_out;           /* EPOLLOUT registered */
  /* Direct writes: a synchronous caller writes its own frame to the
   * socket, under out_lock, when nothing would be overtaken (conn_send).
   * direct_fd is the socket it may use, -1 when none (not open yet, TLS,
   * closing): the loop sets it under out_lock when the connection opens
   * and clears it under out_lock before it closes the descriptor
   * (conn_drop_socket), so a caller holding out_lock never writes to a
   * closed descriptor, which may already belong to another socket. */
  int direct_fd; /* under out_lock */
  /* The loop holds bytes in wbuf it has not written yet: it writes them
   * outside out_lock, so a direct write now would overtake them. */
  bool wbusy; /* under out_lock */
  /* Output bound: bytes in out + wbuf (added under out_lock, removed by
   * the loop as the socket takes them). */
  _Atomic size_t queued;
  /* Of queued: bytes of bodies still lent (the callers' memory). The bound
   * is on the rest, the memory the connection holds itself: lent bodies
   * are held by their requests (the producer's own bounds), and become
   * the connection's only when a loan ends early and they are copied. */
  _Atomic size_t lent;
  _Atomic bool over; /* a request was refused for the bound */
  /* Last time the socket took bytes or the output was empty: the loop
   * sets it, and so does a direct write (the loop may not run at all
   * while callers write directly). */
  _Atomic int64_t progress_ms;
  /* loop-only: the largest wbuf since trim_ms; grown: a buffer may be
   * over BUF_KEEP (conn_trim_idle) */
  size_t wbuf_hw;
  int64_t trim_ms;
  bool grown;
  /* a direct write left out over BUF_KEEP (under out_lock; read by
   * conn_trim_idle) */
  bool out_big;
  _Atomic uint64_t replies_dropped;
  _Atomic uint64_t responses_dropped; /* late, or for another connection */
};

typedef struct handler {
  int32_t code;
  rmqi_rpc_handler fn;
  void *arg;
} handler_t;

/* A host name to resolve, and later its answer. */
typedef struct rjob {
  rmqi_conn_t *c; /* a reference */
  char host[RMQI_MAX_HOST], port[8];
  int gai, sys_errno;
  size_t n;
  sockaddr_any_t addrs[MAX_ADDRS];
  struct rjob *next;
} rjob_t;

/* The resolver thread: getaddrinfo blocks, so it never runs on the loop.
 * Shared by the rpc instance and the thread (refs), so that a thread
 * stuck in getaddrinfo past rmqi_rpc_stop can be detached and clean up
 * after itself: it touches nothing but this struct and its job then. */
typedef struct resolver {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  rjob_t *head, *tail;
  rmqi_loop_t *loop; /* used only under lock and while !stop */
  int (*resolve)(const char *, const char *, const struct addrinfo *,
                 struct addrinfo **);
  pthread_t th;
  bool started, stop, busy;
  int refs;
} resolver_t;

struct rmqi_rpc {
  rmqi_rpc_opts_t o;
  resolver_t *res;
  rmqi_loop_t *loop;
  pthread_mutex_t lock; /* conns, pending table, heap */
  rmqi_conn_t *conns;
  pend_t **buckets;
  size_t n_buckets, n_pend;
  size_t n_idle; /* of them, long polls (rmqi_rpc_invoke_idle) */
  pend_t **heap;
  pend_t *held; /* completions held for their senders (pend_t.tag) */
  size_t cap_heap;
  /* Entries of answered requests, kept for the next ones: an entry is
   * made on the sender's thread and ends on the loop's. */
  rmqi_spare_t spare;
  int32_t next_opaque;
  /* rmqi_rpc_stop has begun: new work is refused. Set under lock, read
   * without it where a check is only early (every send checked it twice,
   * each time taking the lock the loop takes for every response) */
  _Atomic bool closing;
  pthread_mutex_t stop_lock; /* serialises rmqi_rpc_stop */
  bool stopped;              /* under stop_lock */
  bool stopping;             /* under lock: stop is running ... */
  pthread_t stopper;         /* ... on this thread */
  pthread_mutex_t dirty_lock;
  rmqi_conn_t *dirty;
  bool dirty_posted;
  handler_t *handlers;
  size_t n_handlers;
  rmqi_timer_t *sweep;
  peer_t *peers; /* under lock; freed with the instance */
  size_t n_peers;
};

/* ---- pending table and deadline heap (rpc->lock held) ---------------- */

static size_t bucket_of(const rmqi_rpc_t *r, int32_t opaque) {
  return ((uint32_t)opaque * 2654435761u) & (r->n_buckets - 1);
}

static void heap_swap(rmqi_rpc_t *r, size_t a, size_t b) {
  pend_t *t = r->heap[a];
  r->heap[a] = r->heap[b];
  r->heap[b] = t;
  r->heap[a]->heap = a;
  r->heap[b]->heap = b;
}

static void heap_up(rmqi_rpc_t *r, size_t i) {
  while (i && r->heap[(i - 1) / 2]->deadline_ms > r->heap[i]->deadline_ms) {
    heap_swap(r, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(rmqi_rpc_t *r, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < r->n_pend && r->heap[l]->deadline_ms < r->heap[m]->deadline_ms)
      m = l;
    if (l + 1 < r->n_pend &&
        r->heap[l + 1]->deadline_ms < r->heap[m]->deadline_ms)
      m = l + 1;
    if (m == i)
      return;
    heap_swap(r, i, m);
    i = m;
  }
}

static bool pend_add(rmqi_rpc_t *r, pend_t *p) {
  if (r->n_pend == r->cap_heap) {
    size_t cap = r->cap_heap ? r->cap_heap * 2 : 1024;
    pend_t **h = realloc(r->heap, cap * sizeof(*h));
    if (h == NULL)
      return false;
    r->heap = h;
    r->cap_heap = cap;
  }
  if (r->n_pend >= r->n_buckets) { /* keep chains short: rehash */
    size_t nb = r->n_buckets * 2;
    pend_t **b = calloc(nb, sizeof(*b));
    if (b == NULL)
      return false;
    size_t old = r->n_buckets;
    pend_t **ob = r->buckets;
    r->buckets = b;
    r->n_buckets = nb;
    for (size_t i = 0; i < old; i++)
      for (pend_t *q = ob[i], *nx; q; q = nx) {
        nx = q->hnext;
        size_t k = bucket_of(r, q->opaque);
        q->hnext = b[k];
        b[k] = q;
      }
    free(ob);
  }
  size_t k = bucket_of(r, p->opaque);
  p->hnext = r->buckets[k];
  r->buckets[k] = p;
  p->heap = r->n_pend;
  r->heap[r->n_pend++] = p;
  r->n_idle += p->idle;
  heap_up(r, p->heap);
  p->cprev = NULL;
  p->cnext = p->conn->pend;
  if (p->cnext)
    p->cnext->cprev = p;
  p->conn->pend = p;
  if (p->conn->peer) {
    atomic_fetch_add_explicit(&p->conn->peer->requests, 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&p->conn->peer->inflight, 1,
                              memory_order_relaxed);
  }
  return true;
}

/* Under r->lock. */
enum { P_SENT = 0, P_SENDING = 1, P_HELD = 2 };

static inline uint64_t tag_of(int32_t opaque, unsigned state) {
  return (uint64_t)(uint32_t)opaque << 2 | state;
}

/* A completer (under r->lock) that unlinked @p p: true if its sender was
 * still in invoke, which now owns it (P_HELD); false if it was done
 * (P_SENT), and the completer ends it. The failed swap's acquire pairs
 * with the sender's release: its last touch of the entry happens before
 * the completer frees or reuses it. */
static bool pend_claim_held(pend_t *p) {
  uint64_t want = tag_of(p->opaque, P_SENDING);
  return atomic_compare_exchange_strong_explicit(
      &p->tag, &want, tag_of(p->opaque, P_HELD), memory_order_acq_rel,
      memory_order_acquire);
}

static pend_t *pend_new_locked(rmqi_rpc_t *r) {
  pend_t *p = rmqi_spare_take(&r->spare);
  return p ? p : malloc(sizeof(*p));
}

static void pend_unlink(rmqi_rpc_t *r, pend_t *p) {
  pend_t **pp = &r->buckets[bucket_of(r, p->opaque)];
  while (*pp != p)
    pp = &(*pp)->hnext;
  *pp = p->hnext;
  size_t i = p->heap;
  r->n_pend--;
  r->n_idle -= p->idle;
  if (i != r->n_pend) {
    heap_swap(r, i, r->n_pend);
    heap_down(r, i);
    heap_up(r, i);
  }
  if (p->cprev)
    p->cprev->cnext = p->cnext;
  else
    p->conn->pend = p->cnext;
  if (p->cnext)
    p->cnext->cprev = p->cprev;
  if (p->conn->peer)
    atomic_fetch_sub_explicit(&p->conn->peer->inflight, 1,
                              memory_order_relaxed);
}

/* After 2^32 requests opaques wrap: never reuse one still pending. */
static bool opaque_used(const rmqi_rpc_t *r, int32_t op) {
  for (pend_t *q = r->buckets[bucket_of(r, op)]; q; q = q->hnext)
    if (q->opaque == op)
      return true;
  return false;
}

/* Under r->lock: @p p, unlinked already, ends with @p err when its sender
 * is done with it (invoke takes it back by its opaque). */
static void pend_hold(rmqi_rpc_t *r, pend_t *p, rmq_err_t err,
                      const char *detail) {
  p->held_err = err;
  p->held_detail = strdup(detail); /* NULL: the completion says less */
  p->hnext = r->held;
  r->held = p;
}

static pend_t *held_take(rmqi_rpc_t *r, int32_t opaque) {
  for (pend_t **pp = &r->held; *pp; pp = &(*pp)->hnext)
    if ((*pp)->opaque == opaque) {
      pend_t *p = *pp;
      *pp = p->hnext;
      return p;
    }
  return NULL;
}

/* A response is taken only on the connection its request went out on:
 * opaques are ours, so any other peer could name one. */
static pend_t *pend_take_on(rmqi_rpc_t *r, int32_t opaque, const rmqi_conn_t *c,
                            bool *elsewhere) {
  *elsewhere = false;
  for (pend_t *p = r->buckets[bucket_of(r, opaque)]; p; p = p->hnext)
    if (p->opaque == opaque) {
      if (p->conn != c) {
        *elsewhere = true;
        return NULL;
      }
      pend_unlink(r, p);
      return p;
    }
  return NULL;
}

/* ---- connections ------------------------------------------------------- */

static void conn_unref(rmqi_conn_t *c) {
  if (atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  oq_free(&c->out);
  oq_free(&c->wbuf);
  rmqi_buf_free(&c->in);
  pthread_mutex_destroy(&c->wlock);
  pthread_mutex_destroy(&c->out_lock);
  free(c);
}

/* Any thread, before a request's completion runs (after which its caller
 * may free the body): a lent body not queued yet is never sent (no longer
 * reached: completions wait for the encode, pend_t.tag); one still
 * queued is copied, and the copy is written in its place. Without memory
 * for the copy the loan is poisoned: the loop closes the connection when
 * it gets there, so the peer never sees the frame whole. */
static void lend_end(rmqi_conn_t *c, lend_t *l) {
  if (l == NULL)
    return;
  pthread_mutex_lock(&c->out_lock);
  pthread_mutex_lock(&c->wlock);
  if (l->state == L_NEW) {
    l->state = L_CANCELLED;
  } else if (l->state == L_QUEUED && !l->copy && !l->poison) {
    atomic_fetch_sub(&c->lent, l->len - l->written);
    l->copy = malloc(l->len);
    if (l->copy)
      memcpy(l->copy, l->p, l->len);
    else
      l->poison = true;
    l->p = l->copy;
  }
  pthread_mutex_unlock(&c->wlock);
  pthread_mutex_unlock(&c->out_lock);
  lend_unref(l); /* the request's */
}

static void complete(pend_t *p, rmq_err_t err, const char *detail) {
  rmqi_rpc_result_t res = {err, detail, p->conn->addr, NULL, NULL, 0};
  lend_end(p->conn, p->lend);
  p->cb(p->arg, &res);
  conn_unref(p->conn);
  free(p);
}

/* Loop thread (or rmqi_loop_stop's caller): a completion held for its
 * sender (pend_t.tag), once the sender is done with the frame. */
static void held_run(void *arg) {
  pend_t *h = arg;
  char *detail = h->held_detail;
  complete(h, h->held_err, detail ? detail : "the request ended");
  free(detail);
}

static void conn_drop_socket(rmqi_conn_t *c);

/* Loop thread: closes @p c and fails everything waiting on it. */
static void conn_close(rmqi_conn_t *c, rmq_err_t err, const char *why) {
  rmqi_rpc_t *r = c->rpc;
  char detail[640];
  snprintf(detail, sizeof(detail), "%s: %s", c->addr, why);
  pthread_mutex_lock(&r->lock);
  if (c->state == C_CLOSED) {
    pthread_mutex_unlock(&r->lock);
    return;
  }
  bool was_open = c->state == C_OPEN;
  c->state = C_CLOSED;
  rmqi_conn_t **pp = &r->conns;
  while (*pp && *pp != c)
    pp = &(*pp)->next;
  if (*pp)
    *pp = c->next;
  pend_t *list = NULL;
  uint64_t n_failed = 0;
  while (c->pend) {
    pend_t *p = c->pend;
    pend_unlink(r, p);
    if (pend_claim_held(p)) {
      pend_hold(r, p, err, detail);
    } else {
      p->hnext = list;
      list = p;
    }
    n_failed++;
  }
  if (c->peer) {
    atomic_fetch_add_explicit(&c->peer->failed, n_failed, memory_order_relaxed);
    if (was_open)
      atomic_fetch_add_explicit(&c->peer->disconnects, 1, memory_order_relaxed);
    if (err != RMQ_ERR_SHUTDOWN) {
      snprintf(c->peer->last_error, sizeof(c->peer->last_error), "%s: %s",
               rmq_err_name(err), why);
      c->peer->last_error_ms = rmqi_wall_ms();
    }
  }
  pthread_mutex_unlock(&r->lock);
  conn_drop_socket(c);
  /* What is queued is never written now: lent bodies need no copy. */
  pthread_mutex_lock(&c->out_lock);
  pthread_mutex_lock(&c->wlock);
  oq_discard(&c->out);
  oq_discard(&c->wbuf);
  pthread_mutex_unlock(&c->wlock);
  pthread_mutex_unlock(&c->out_lock);
  if (err != RMQ_ERR_SHUTDOWN)
    rmqi_log(r->o.log, RMQ_LOG_WARN, "net", "connection to %s closed: %s",
             c->addr, why);
  while (list) {
    pend_t *p = list;
    list = p->hnext;
    complete(p, err, detail);
  }
  conn_unref(c); /* the table's reference */
}

rmq_err_t rmqi_split_addr(const char *addr, char *host, size_t host_size,
                          unsigned *port) {
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || colon == addr)
    return RMQ_ERR_INVALID_ARG;
  size_t hl = (size_t)(colon - addr);
  const char *h = addr;
  if (addr[0] == '[') {
    if (hl < 2 || addr[hl - 1] != ']')
      return RMQ_ERR_INVALID_ARG;
    h = addr + 1;
    hl -= 2;
  }
  if (hl == 0 || hl >= host_size)
    return RMQ_ERR_INVALID_ARG;
  memcpy(host, h, hl);
  host[hl] = '\0';
  char *end;
  long pv = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || pv <= 0 || pv > 65535)
    return RMQ_ERR_INVALID_ARG;
  *port = (unsigned)pv;
  return RMQ_OK;
}

rmq_err_t rmqi_parse_addr(const char *addr, struct sockaddr_storage *ss,
                          unsigned *len) {
  char host[RMQI_MAX_HOST];
  unsigned port;
  if (rmqi_split_addr(addr, host, sizeof(host), &port) != RMQ_OK)
    return RMQ_ERR_INVALID_ARG;
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
  } else {
    return RMQ_ERR_INVALID_ARG;
  }
  return RMQ_OK;
}

static void on_io(void *arg, uint32_t ev);

/* The least a connection's buffers go back to: twice the 64 KiB read
 * chunk, so ordinary traffic never reallocates. */
#define BUF_KEEP ((size_t)128 * 1024)

/* Brings a buffer holding at most @p keep / 2 bytes down to @p keep. */
static void buf_trim(rmqi_buf_t *b, size_t keep) {
  if (b->cap <= keep || b->len > keep / 2 || b->failed)
    return;
  if (b->len == 0 && keep == BUF_KEEP) {
    rmqi_buf_free(b); /* the next use allocates what it needs */
    return;
  }
  uint8_t *p = realloc(b->data, keep);
  if (p != NULL) { /* else keep the large one: still correct */
    b->data = p;
    b->cap = keep;
  }
}

static void update_events(rmqi_conn_t *c, bool want_out) {
  if (c->want_out == want_out || c->fd < 0)
    return;
  c->want_out = want_out;
  rmqi_loop_mod_fd(c->rpc->loop, c->fd, EPOLLIN | (want_out ? EPOLLOUT : 0),
                   on_io, c);
}

/* Loop thread, open connection: whether to watch for writability. Output
 * waits, unless the transport waits for input to write it (TLS), or the
 * transport needs to write to read (TLS). */
static bool want_out(const rmqi_conn_t *c) {
  unsigned f = c->tr->flags;
  return (!oq_empty(&c->wbuf) && !(f & RMQI_TR_WRITE_WANTS_IN)) ||
         (f & RMQI_TR_READ_WANTS_OUT);
}

/* Loop thread (sweep), under r->lock: every idle_trim_ms, the output
 * buffers go back to what the largest write of that period needed (at
 * least BUF_KEEP): one burst of large frames does not pin its memory for
 * the connection's life. Between these trims the buffers keep their size:
 * freeing them after every large frame made the next one regrow them by
 * doubling (a copy per step) into fresh pages (a page fault per 4 KiB). */
static void conn_trim_idle(rmqi_conn_t *c, int64_t now) {
  if (c->state != C_OPEN || now - c->trim_ms < c->rpc->o.idle_trim_ms)
    return;
  pthread_mutex_lock(&c->out_lock);
  bool out_big = c->out_big;
  pthread_mutex_unlock(&c->out_lock);
  if (!c->grown && !out_big)
    return;
  size_t keep = BUF_KEEP;
  while (keep < c->wbuf_hw && keep < SIZE_MAX / 2)
    keep *= 2;
  c->wbuf_hw = 0;
  c->trim_ms = now;
  buf_trim(&c->wbuf.b, keep); /* keeps what is still unwritten */
  pthread_mutex_lock(&c->out_lock);
  buf_trim(&c->out.b, keep);
  c->out_big = c->out.b.cap > BUF_KEEP;
  c->grown = c->wbuf.b.cap > BUF_KEEP || c->out_big;
  pthread_mutex_unlock(&c->out_lock);
}

/* Loop thread, under out_lock: moves the frames appended to out into an
 * empty wbuf by swapping the two (no copy); false if out is empty. */
static bool take_out(rmqi_conn_t *c) {
  if (c->out.b.len == 0)
    return false;
  oq_t t = c->wbuf;
  oq_reset(&t);
  c->wbuf = c->out; /* with its cursor: a direct write may have begun it */
  c->out = t;
  return true;
}

/* Pieces written per system call at most. */
#define WRITE_IOV 64

/* Writes the pieces through the transport: writev when it has one, else
 * one write per piece until one falls short. */
static ssize_t tr_writev(rmqi_transport_t *t, const struct iovec *iov, int n) {
  if (t->ops->writev)
    return t->ops->writev(t, iov, n);
  size_t done = 0;
  for (int i = 0; i < n; i++) {
    ssize_t k = t->ops->write(t, iov[i].iov_base, iov[i].iov_len);
    if (k < 0)
      return done ? (ssize_t)done : k;
    done += (size_t)k;
    if ((size_t)k < iov[i].iov_len)
      break;
  }
  return (ssize_t)done;
}

/* Any thread: the queued bytes in the connection's own memory (what the
 * output bound is on): all but the lent ones. The two counters are read
 * one after the other: a moment's skew is clamped. */
static size_t held_bytes(rmqi_conn_t *c) {
  size_t q = atomic_load(&c->queued), l = atomic_load(&c->lent);
  return q > l ? q - l : 0;
}

/* Any thread: a connection refused requests for its output bound takes
 * them again once the peer has read it down to half. */
static void over_recheck(rmqi_conn_t *c) {
  if (atomic_load(&c->over) && held_bytes(c) < c->rpc->o.max_conn_output / 2)
    atomic_store(&c->over, false);
}

/* Loop thread: write what is queued; false if the connection failed.
 * wbuf is written whole before the frames appended to out meanwhile take
 * its place: appending them to a partly written wbuf, and moving its
 * unwritten tail to the front, copied each large body twice more on a
 * busy connection. A partial write moves the cursor, not the bytes. */
static bool conn_flush(rmqi_conn_t *c) {
  if (c->state != C_OPEN)
    return true;
  for (;;) {
    if (oq_empty(&c->wbuf)) {
      pthread_mutex_lock(&c->out_lock);
      bool more = take_out(c);
      /* wbuf is written outside out_lock: no direct write (conn_send)
       * until it is all written and out is empty again */
      c->wbusy = more;
      pthread_mutex_unlock(&c->out_lock);
      if (!more)
        break;
      if (c->wbuf.b.len > c->wbuf_hw)
        c->wbuf_hw = c->wbuf.b.len;
      if (!c->grown && c->wbuf.b.cap > BUF_KEEP) {
        c->grown = true;
        c->trim_ms = rmqi_now_ms(); /* a full period before the first trim */
      }
    }
    struct iovec iov[WRITE_IOV];
    bool poisoned;
    pthread_mutex_lock(&c->wlock);
    int k = oq_iov(&c->wbuf, iov, WRITE_IOV, &poisoned);
    ssize_t n = k ? tr_writev(c->tr, iov, k) : 0;
    int e = errno;
    size_t lent = n > 0 ? oq_advance(&c->wbuf, (size_t)n) : 0;
    pthread_mutex_unlock(&c->wlock);
    errno = e;
    if (poisoned) {
      conn_close(c, RMQ_ERR_NOMEM,
                 "out of memory for a copy of the body of a request that "
                 "ended before it was written");
      return false;
    }
    if (n > 0) {
      atomic_fetch_sub(&c->lent, lent);
      atomic_fetch_sub(&c->queued, (size_t)n);
      c->progress_ms = rmqi_now_ms();
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    char why[512], eb[96];
    snprintf(why, sizeof(why), "write failed: %s",
             c->tr->why ? c->tr->why : rmqi_strerror(errno, eb, sizeof(eb)));
    /* why: a TLS failure (a record or alert), not a socket error */
    conn_close(c, c->tr->why ? RMQ_ERR_TLS : RMQ_ERR_CONN_LOST, why);
    return false;
  }
  if (oq_empty(&c->wbuf)) {
    oq_reset(&c->wbuf);
    c->progress_ms = rmqi_now_ms();
  }
  over_recheck(c);
  update_events(c, want_out(c));
  return true;
}

/* Loop thread: closes the socket (of a failed attempt, or of a closing
 * connection). Direct writers are shut out first: once out_lock is
 * released here none is inside a write, and none starts one (direct_fd
 * is -1), so the descriptor can be closed and reused. */
static void conn_drop_socket(rmqi_conn_t *c) {
  pthread_mutex_lock(&c->out_lock);
  c->direct_fd = -1;
  pthread_mutex_unlock(&c->out_lock);
  if (c->tr) {
    c->tr->ops->destroy(c->tr);
    c->tr = NULL;
  }
  if (c->fd >= 0) {
    rmqi_loop_del_fd(c->rpc->loop, c->fd);
    close(c->fd);
    c->fd = -1;
  }
  c->want_out = false;
}

/* Loop thread: TLS to the host part of the address (the name a
 * certificate is checked against and SNI names). */
static rmqi_transport_t *tls_transport(rmqi_conn_t *c) {
  char host[RMQI_MAX_HOST];
  unsigned port;
  if (rmqi_split_addr(c->addr, host, sizeof(host), &port) != RMQ_OK)
    return NULL; /* checked by invoke: not reached */
  return rmqi_transport_tls(c->rpc->o.tls, c->fd, host);
}

/* Loop thread: connects to the next address not yet tried; when none is
 * left, the connection fails with the last reason. */
static void conn_try_next(rmqi_conn_t *c) {
  char eb[96];
  while (c->i_addr < c->n_addrs) {
    const sockaddr_any_t *a = &c->addrs[c->i_addr++];
    c->fd =
        socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      snprintf(c->why, sizeof(c->why), "socket failed: %s",
               rmqi_strerror(errno, eb, sizeof(eb)));
      continue;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->tr = c->rpc->o.tls ? tls_transport(c) : rmqi_transport_plain(c->fd);
    if (c->tr == NULL) {
      conn_drop_socket(c);
      conn_close(c, RMQ_ERR_NOMEM, "out of memory for the transport");
      return;
    }
    c->state = C_CONNECTING;
    int rc = connect(c->fd, (const struct sockaddr *)&a->ss, a->len);
    if (rc != 0 && errno != EINPROGRESS) {
      snprintf(c->why, sizeof(c->why), "connect failed: %s",
               rmqi_strerror(errno, eb, sizeof(eb)));
      conn_drop_socket(c);
      continue;
    }
    c->want_out = true;
    if (rmqi_loop_add_fd(c->rpc->loop, c->fd, EPOLLIN | EPOLLOUT, on_io, c) !=
        RMQ_OK) {
      conn_drop_socket(c);
      conn_close(c, RMQ_ERR_CONNECT, "cannot watch the socket");
    }
    return;
  }
  conn_close(c, RMQ_ERR_CONNECT, c->why[0] ? c->why : "no address to try");
}

static rmq_err_t resolver_submit(rmqi_rpc_t *r, rmqi_conn_t *c,
                                 const char *host, unsigned port);

static void conn_connect(rmqi_conn_t *c) {
  /* One deadline for resolving, connecting and the transport handshake. */
  c->connect_deadline_ms = rmqi_now_ms() + c->rpc->o.connect_timeout_ms;
  c->why[0] = '\0';
  unsigned len;
  if (rmqi_parse_addr(c->addr, &c->addrs[0].ss, &len) == RMQ_OK) {
    c->addrs[0].len = (socklen_t)len;
    c->n_addrs = 1;
    c->i_addr = 0;
    conn_try_next(c);
    return;
  }
  /* A host name: resolved anew for every connection, so a reconnect finds
   * a service that moved. */
  char host[RMQI_MAX_HOST];
  unsigned port;
  if (rmqi_split_addr(c->addr, host, sizeof(host), &port) != RMQ_OK) {
    conn_close(c, RMQ_ERR_CONNECT, "not a host:port address");
    return;
  }
  c->state = C_RESOLVING;
  rmq_err_t rc = resolver_submit(c->rpc, c, host, port);
  if (rc == RMQ_ERR_SHUTDOWN)
    conn_close(c, rc, "client shut down");
  else if (rc != RMQ_OK)
    conn_close(c, RMQ_ERR_CONNECT, "cannot start the resolver thread");
}

/* ---- the resolver thread ----------------------------------------------- */

static void resolver_unref(resolver_t *res) {
  pthread_mutex_lock(&res->lock);
  bool last = --res->refs == 0;
  pthread_mutex_unlock(&res->lock);
  if (!last)
    return;
  pthread_cond_destroy(&res->cond);
  pthread_mutex_destroy(&res->lock);
  free(res);
}

/* Loop thread: a resolver answer. */
static void resolved(void *arg) {
  rjob_t *j = arg;
  rmqi_conn_t *c = j->c;
  if (c->state == C_RESOLVING) { /* else closed (timeout, stop) meanwhile */
    if (j->gai != 0) {
      char why[RMQI_MAX_HOST + 160], eb[96];
      snprintf(why, sizeof(why), "cannot resolve host \"%s\": %s", j->host,
               j->gai == EAI_SYSTEM
                   ? rmqi_strerror(j->sys_errno, eb, sizeof(eb))
                   : gai_strerror(j->gai));
      conn_close(c, RMQ_ERR_CONNECT, why);
    } else {
      memcpy(c->addrs, j->addrs, j->n * sizeof(j->addrs[0]));
      c->n_addrs = j->n;
      c->i_addr = 0;
      snprintf(c->why, sizeof(c->why), "host \"%s\" has no address", j->host);
      conn_try_next(c);
    }
  }
  conn_unref(c);
  free(j);
}

static void *resolver_main(void *arg) {
  resolver_t *res = arg;
  pthread_mutex_lock(&res->lock);
  for (;;) {
    while (!res->stop && res->head == NULL)
      pthread_cond_wait(&res->cond, &res->lock);
    if (res->stop)
      break;
    rjob_t *j = res->head;
    res->head = j->next;
    if (res->head == NULL)
      res->tail = NULL;
    res->busy = true;
    pthread_mutex_unlock(&res->lock);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *ai = NULL;
    j->gai = res->resolve(j->host, j->port, &hints, &ai);
    j->sys_errno = errno;
    j->n = 0;
    for (struct addrinfo *p = ai; j->gai == 0 && p && j->n < MAX_ADDRS;
         p = p->ai_next)
      if (p->ai_addrlen <= sizeof(j->addrs[0].ss)) {
        memcpy(&j->addrs[j->n].ss, p->ai_addr, p->ai_addrlen);
        j->addrs[j->n++].len = p->ai_addrlen;
      }
    if (ai)
      freeaddrinfo(ai);
    pthread_mutex_lock(&res->lock);
    res->busy = false;
    /* After stop the loop may be gone: post only before it. */
    if (res->stop || rmqi_loop_post(res->loop, resolved, j) != RMQ_OK) {
      conn_unref(j->c); /* the conn dies on its connect deadline or stop */
      free(j);
    }
  }
  while (res->head) { /* stopped: drop what was never resolved */
    rjob_t *j = res->head;
    res->head = j->next;
    conn_unref(j->c);
    free(j);
  }
  res->tail = NULL;
  pthread_mutex_unlock(&res->lock);
  resolver_unref(res); /* the thread's reference */
  return NULL;
}

/* Loop thread: queues a lookup for @p c. */
static rmq_err_t resolver_submit(rmqi_rpc_t *r, rmqi_conn_t *c,
                                 const char *host, unsigned port) {
  resolver_t *res = r->res;
  rjob_t *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return RMQ_ERR_NOMEM;
  snprintf(j->host, sizeof(j->host), "%s", host);
  snprintf(j->port, sizeof(j->port), "%u", port);
  j->c = c;
  pthread_mutex_lock(&res->lock);
  if (res->stop) {
    pthread_mutex_unlock(&res->lock);
    free(j);
    return RMQ_ERR_SHUTDOWN;
  }
  if (!res->started) { /* lazily: numeric-only clients never start it */
    res->refs++;
    if (pthread_create(&res->th, NULL, resolver_main, res) != 0) {
      res->refs--;
      pthread_mutex_unlock(&res->lock);
      free(j);
      return RMQ_ERR_NOMEM;
    }
    res->started = true;
  }
  atomic_fetch_add(&c->refs, 1); /* the job's */
  if (res->tail)
    res->tail->next = j;
  else
    res->head = j;
  res->tail = j;
  pthread_cond_signal(&res->cond);
  pthread_mutex_unlock(&res->lock);
  return RMQ_OK;
}

/* Stops the resolver thread: joined when idle; when it is inside
 * getaddrinfo (which cannot be interrupted and may take the system
 * resolver's full timeout), detached instead, so stop never hangs on DNS.
 * A detached thread discards its answer and frees its own state. */
static void resolver_stop(resolver_t *res) {
  pthread_mutex_lock(&res->lock);
  res->stop = true;
  pthread_cond_broadcast(&res->cond);
  bool started = res->started, busy = res->busy;
  res->started = false;
  pthread_mutex_unlock(&res->lock);
  if (!started)
    return;
  if (busy)
    pthread_detach(res->th);
  else
    pthread_join(res->th, NULL);
}

static void dispatch(rmqi_conn_t *c, rmqi_cmd_t *cmd, const uint8_t *frame,
                     size_t len) {
  rmqi_rpc_t *r = c->rpc;
  if (rmqi_cmd_is_response(cmd)) {
    bool elsewhere;
    pthread_mutex_lock(&r->lock);
    pend_t *p = pend_take_on(r, cmd->opaque, c, &elsewhere);
    /* the entry goes back at once, under the same lock: what the
     * completion needs is copied first (field by field: its sender may
     * still swap the tag) */
    struct {
      rmqi_rpc_cb cb;
      void *arg;
      rmqi_conn_t *conn;
      lend_t *lend;
      int64_t t0_ns;
    } done;
    if (p) {
      done.cb = p->cb;
      done.arg = p->arg;
      done.conn = p->conn;
      done.lend = p->lend;
      done.t0_ns = p->t0_ns;
      if (pend_claim_held(p)) { /* its sender frees it (invoke) */
        p->held_done = true;
        p->held_detail = NULL;
        p->hnext = r->held;
        r->held = p;
      } else {
        rmqi_spare_put(&r->spare, p);
      }
    }
    pthread_mutex_unlock(&r->lock);
    if (p == NULL) {
      atomic_fetch_add(&c->responses_dropped, 1);
      rmqi_log(r->o.log, RMQ_LOG_DEBUG, "net",
               elsewhere ? "response with opaque %d from %s dropped: its "
                           "request went to another connection"
                         : "response with unknown opaque %d from %s dropped",
               cmd->opaque, c->addr);
      return;
    }
    if (c->peer) {
      atomic_fetch_add_explicit(&c->peer->responses, 1, memory_order_relaxed);
      int64_t us = (rmqi_now_ns() - done.t0_ns) / 1000;
      rmqi_hist_add(&c->peer->rtt, us > 0 ? (uint64_t)us : 0);
    }
    rmqi_rpc_result_t res = {RMQ_OK, "", c->addr, cmd, frame, len};
    lend_end(c, done.lend); /* a peer may answer before it has read it all */
    done.cb(done.arg, &res);
    conn_unref(done.conn);
    return;
  }
  for (size_t i = 0; i < r->n_handlers; i++)
    if (r->handlers[i].code == cmd->code) {
      r->handlers[i].fn(r->handlers[i].arg, c, cmd);
      return;
    }
  if (rmqi_cmd_is_oneway(cmd))
    return;
  /* What Java answers for a code it has no processor for. */
  rmqi_cmd_t resp;
  rmqi_cmd_init_response(&resp, cmd, RMQ_REQUEST_CODE_NOT_SUPPORTED);
  char remark[64];
  int n = snprintf(remark, sizeof(remark), " request type %d not supported",
                   (int)cmd->code);
  rmqi_cmd_set_remark(&resp, remark, (size_t)n);
  rmqi_rpc_reply(c, &resp);
  rmqi_cmd_free(&resp);
}

static void conn_read(rmqi_conn_t *c) {
  for (;;) {
    if (!rmqi_buf_reserve(&c->in, 64 * 1024)) {
      conn_close(c, RMQ_ERR_NOMEM, "out of memory for the input buffer");
      return;
    }
    ssize_t n =
        c->tr->ops->read(c->tr, c->in.data + c->in.len, c->in.cap - c->in.len);
    /* A TLS-only server drops a plaintext client without a word. */
    const char *hint =
        c->heard || c->rpc->o.tls
            ? ""
            : " before answering (a TLS-only server? see useTLS)";
    if (n == 0) {
      char why[96];
      snprintf(why, sizeof(why), "closed by peer%s", hint);
      conn_close(c, RMQ_ERR_CONN_LOST, why);
      return;
    }
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (c->tr->flags & RMQI_TR_READ_WANTS_OUT) /* TLS */
          update_events(c, true);
        return;
      }
      char why[512], eb[96];
      snprintf(why, sizeof(why), "read failed: %s%s",
               c->tr->why ? c->tr->why : rmqi_strerror(errno, eb, sizeof(eb)),
               hint);
      conn_close(c, c->tr->why ? RMQ_ERR_TLS : RMQ_ERR_CONN_LOST, why);
      return;
    }
    c->heard = true;
    c->heard_ns = rmqi_now_ns();
    c->in.len += (size_t)n;
    size_t off = 0, fl;
    rmqi_errbuf_t e;
    rmq_err_t rc;
    atomic_fetch_add(&c->refs, 1); /* a callback may close us */
    while ((rc = rmqi_frame_check(c->in.data + off, c->in.len - off,
                                  c->rpc->o.max_frame, &fl, &e)) == RMQ_OK) {
      rmqi_cmd_t cmd;
      rc = rmqi_cmd_decode(&cmd, c->in.data + off, fl, &e);
      if (rc != RMQ_OK)
        break;
      dispatch(c, &cmd, c->in.data + off, fl);
      rmqi_cmd_free(&cmd);
      off += fl;
      if (c->state == C_CLOSED)
        break;
    }
    bool closed = c->state == C_CLOSED;
    if (!closed && rc != RMQ_OK && rc != RMQ_ERR_TRUNCATED) {
      char why[256];
      /* The connection is unusable: what waits on it is lost, as in Java,
       * and the reason names the bad frame. */
      snprintf(why, sizeof(why), "bad frame from peer (%s): %s",
               rmq_err_name(rc), e.msg);
      conn_close(c, RMQ_ERR_CONN_LOST, why);
      closed = true;
    }
    if (!closed) {
      rmqi_buf_consume(&c->in, off);
      /* not while a large frame is still coming */
      if (rc != RMQ_ERR_TRUNCATED || fl <= BUF_KEEP / 2)
        buf_trim(&c->in, BUF_KEEP);
    }
    conn_unref(c);
    if (closed)
      return;
    /* A full frame larger than the buffer: grow on the next round. */
    if (rc == RMQ_ERR_TRUNCATED && fl > c->in.cap &&
        !rmqi_buf_reserve(&c->in, fl - c->in.len)) {
      conn_close(c, RMQ_ERR_NOMEM, "out of memory for a large frame");
      return;
    }
  }
}

static void on_io_locked(rmqi_conn_t *c, uint32_t ev) {
  if (c->state == C_CONNECTING) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      return;
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      char eb[96];
      snprintf(c->why, sizeof(c->why), "connect failed: %s",
               rmqi_strerror(err, eb, sizeof(eb)));
      conn_drop_socket(c);
      conn_try_next(c); /* the host's next address, or fail */
      return;
    }
    c->state = C_STARTING;
  }
  if (c->state == C_STARTING) {
    /* The transport's own handshake (TLS), if any, before any frame,
     * within the connect deadline (the sweep ends it there). */
    int st = c->tr->ops->start(c->tr);
    if (st < 0) {
      char why[512], eb[96]; /* copied: the transport dies in conn_close */
      snprintf(why, sizeof(why), "%s",
               c->tr->why ? c->tr->why : rmqi_strerror(errno, eb, sizeof(eb)));
      conn_close(c, (rmq_err_t)st, why);
      return;
    }
    if (st == 0) {
      update_events(c, c->tr->flags & RMQI_TR_READ_WANTS_OUT);
      return;
    }
    c->state = C_OPEN;
    c->progress_ms = rmqi_now_ms();
    if (c->peer)
      atomic_fetch_add_explicit(&c->peer->connects, 1, memory_order_relaxed);
    /* Callers may write to a plain socket themselves from here. Never to
     * a TLS one: its SSL object is the loop's, and not for two threads. */
    pthread_mutex_lock(&c->out_lock);
    c->direct_fd = c->rpc->o.tls ? -1 : c->fd;
    pthread_mutex_unlock(&c->out_lock);
    if (!conn_flush(c))
      return;
    /* The handshake's last read may have brought more than the handshake
     * (TLS buffers it): read once now, the socket may stay quiet. */
    ev |= EPOLLIN;
  }
  /* TLS: a read may wait for writability and a write for readability. */
  unsigned f = c->tr->flags;
  if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
      ((f & RMQI_TR_READ_WANTS_OUT) && (ev & EPOLLOUT))) {
    conn_read(c);
    if (c->state == C_CLOSED)
      return;
  }
  if ((ev & EPOLLOUT) || ((f & RMQI_TR_WRITE_WANTS_IN) && (ev & EPOLLIN)))
    conn_flush(c);
}

static void on_io(void *arg, uint32_t ev) {
  rmqi_conn_t *c = arg;
  /* Closing drops the table's reference: hold our own until we are done. */
  atomic_fetch_add(&c->refs, 1);
  on_io_locked(c, ev);
  conn_unref(c);
}

/* Loop thread: connections with queued output (or new ones to connect). */
static void drain_dirty(void *arg) {
  rmqi_rpc_t *r = arg;
  pthread_mutex_lock(&r->dirty_lock);
  rmqi_conn_t *list = r->dirty;
  r->dirty = NULL;
  r->dirty_posted = false;
  /* Relink privately: once in_dirty is false another thread may push the
   * connection again, rewriting dirty_next. */
  for (rmqi_conn_t *c = list; c; c = c->dirty_next) {
    c->in_dirty = false;
    c->work_next = c->dirty_next;
  }
  pthread_mutex_unlock(&r->dirty_lock);
  while (list) {
    rmqi_conn_t *c = list;
    list = c->work_next;
    if (c->state == C_NEW)
      conn_connect(c);
    else
      conn_flush(c);
    conn_unref(c); /* the dirty list's reference */
  }
}

/* Puts @p c on the list the loop flushes next (once, however many threads
 * append at the same time). */
static void mark_dirty(rmqi_conn_t *c) {
  rmqi_rpc_t *r = c->rpc;
  /* Listed already (the usual case while a sender keeps a window in
   * flight): its drain flushes what the caller appended. drain_dirty
   * clears the flag before its flush takes out_lock, so a caller that
   * appended under out_lock and still reads true appended before that
   * flush took the output. Saves the lock the loop takes per drain. */
  if (atomic_load_explicit(&c->in_dirty, memory_order_acquire))
    return;
  pthread_mutex_lock(&r->dirty_lock);
  if (c->in_dirty) {
    pthread_mutex_unlock(&r->dirty_lock);
    return;
  }
  c->in_dirty = true;
  atomic_fetch_add(&c->refs, 1);
  c->dirty_next = r->dirty;
  r->dirty = c;
  bool post = !r->dirty_posted;
  r->dirty_posted = true;
  pthread_mutex_unlock(&r->dirty_lock);
  if (post && rmqi_loop_post(r->loop, drain_dirty, r) != RMQ_OK)
    rmqi_log(r->o.log, RMQ_LOG_ERROR, "net", "cannot wake the I/O loop");
}

/* Under out_lock, with out holding exactly one frame and the loop
 * holding nothing unwritten (so no byte is overtaken): the caller writes
 * the frame to the socket itself, sparing the loop a wake-up and a
 * thread hand-off. The socket is non-blocking: what it does not take
 * stays in out, in order, for the loop (the caller marks the connection
 * dirty). A failed write leaves the bytes too: the loop's own write then
 * fails and closes the connection, so failures are handled in one place.
 * Returns the bytes left queued. */
static size_t conn_write_direct(rmqi_conn_t *c) {
  for (;;) {
    struct iovec iov[WRITE_IOV];
    bool poisoned;
    int k = oq_iov(&c->out, iov, WRITE_IOV, &poisoned);
    if (k == 0)
      break;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
    ssize_t n = sendmsg(c->direct_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      oq_advance(&c->out, (size_t)n);
      c->progress_ms = rmqi_now_ms();
    } else if (!(n < 0 && errno == EINTR)) {
      break; /* EAGAIN or a failure: the loop takes over */
    }
  }
  if (oq_empty(&c->out))
    oq_reset(&c->out);
  /* a large frame keeps its room for the next one, until the sweep's
   * trim (conn_trim_idle) */
  if (c->out.b.cap > BUF_KEEP)
    c->out_big = true;
  return oq_left(&c->out);
}

/* Appends an encoded frame to the connection and wakes the loop. A frame
 * that would take the connection's queued output past @p limit is not
 * queued: RMQ_ERR_QUEUE_FULL. With @p direct the caller writes the frame
 * itself when the connection is idle (conn_write_direct); only what the
 * socket does not take wakes the loop. With @p l the body is not copied:
 * the loan follows the frame's header in the queue (and takes the
 * queue's reference on @p l; it is dropped here when the frame is not
 * queued). A loan its request has ended already (lend_end) is not sent:
 * RMQ_ERR_TIMEOUT, and the request's completion has run. */
static rmq_err_t conn_send(rmqi_conn_t *c, rmqi_cmd_t *cmd, size_t limit,
                           bool is_reply, bool direct, lend_t *l) {
  rmqi_rpc_t *r = c->rpc;
  rmq_err_t rc = rmqi_rpc_closing(r) ? RMQ_ERR_SHUTDOWN : RMQ_OK;
  if (rc == RMQ_OK && r->o.sign)
    rc = r->o.sign(r->o.sign_arg, cmd);
  if (rc != RMQ_OK) {
    lend_unref(l);
    return rc;
  }
  pthread_mutex_lock(&c->out_lock);
  size_t before = c->out.b.len;
  size_t queued = held_bytes(c); /* lent bodies are not the bound's */
  if (l && l->state == L_CANCELLED)
    rc = RMQ_ERR_TIMEOUT;
  else if (queued >= limit || (l && atomic_load(&c->over)))
    rc = RMQ_ERR_QUEUE_FULL; /* nor a lent body while the peer reads none */
  else if (l && !oq_reserve_x(&c->out))
    rc = RMQ_ERR_NOMEM;
  else if (l)
    rc = rmqi_cmd_encode_head(&c->out.b, cmd, r->o.ser);
  else
    rc = rmqi_cmd_encode(&c->out.b, cmd, r->o.ser);
  if (rc == RMQ_OK && rmqi_buf_ok(&c->out.b) &&
      queued + (c->out.b.len - before) > limit)
    rc = RMQ_ERR_QUEUE_FULL;
  if (rc != RMQ_OK || !rmqi_buf_ok(&c->out.b)) {
    c->out.b.len = before;
    c->out.b.failed = false;
    pthread_mutex_unlock(&c->out_lock);
    lend_unref(l);
    if (rc == RMQ_ERR_QUEUE_FULL) {
      if (is_reply) {
        if (atomic_fetch_add(&c->replies_dropped, 1) == 0)
          rmqi_log(r->o.log, RMQ_LOG_WARN, "net",
                   "%s: replies to the peer's requests dropped: more than "
                   "%zu bytes unread by the peer",
                   c->addr, limit);
      } else if (!atomic_exchange(&c->over, true)) {
        rmqi_log(r->o.log, RMQ_LOG_WARN, "net",
                 "%s: output queue over its bound of %zu bytes (the peer "
                 "is not reading); requests fail with QUEUE_FULL",
                 c->addr, limit);
      }
    }
    return rc != RMQ_OK ? rc : RMQ_ERR_NOMEM;
  }
  if (l) {
    c->out.x[c->out.nx++] = (oseg_t){c->out.b.len, l};
    l->state = L_QUEUED;
  }
  size_t lent = l ? l->len : 0;
  size_t added = c->out.b.len - before + lent;
  /* The request is in the pending table already (rmqi_rpc_invoke adds it
   * before sending), so its answer finds it however soon it comes. */
  if (direct && before == 0 && !c->wbusy && c->direct_fd >= 0) {
    added = conn_write_direct(c);
    lent = l && l->state == L_QUEUED ? l->len - l->written : 0;
  }
  if (added) {
    atomic_fetch_add(&c->queued, added);
    atomic_fetch_add(&c->lent, lent);
  } else
    over_recheck(c); /* the loop, which would, may not run */
  pthread_mutex_unlock(&c->out_lock);
  if (added)
    mark_dirty(c);
  return RMQ_OK;
}

/* Under r->lock: the open (or opening) connection for @p addr. */
/* The statistics of @p addr, made on first use (r->lock held). */
static peer_t *peer_get(rmqi_rpc_t *r, const char *addr) {
  for (peer_t *p = r->peers; p; p = p->next)
    if (strcmp(p->addr, addr) == 0)
      return p;
  if (r->n_peers >= MAX_PEERS)
    return NULL;
  peer_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  snprintf(p->addr, sizeof(p->addr), "%s", addr);
  p->next = r->peers;
  r->peers = p;
  r->n_peers++;
  return p;
}

static rmqi_conn_t *conn_get(rmqi_rpc_t *r, const char *addr) {
  for (rmqi_conn_t *c = r->conns; c; c = c->next)
    if (strcmp(c->addr, addr) == 0)
      return c;
  if (strlen(addr) >= sizeof(((rmqi_conn_t *)0)->addr))
    return NULL;
  rmqi_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->rpc = r;
  snprintf(c->addr, sizeof(c->addr), "%s", addr);
  c->peer = peer_get(r, addr);
  c->fd = c->direct_fd = -1;
  c->state = C_NEW;
  atomic_init(&c->refs, 1); /* the table's */
  pthread_mutex_init(&c->out_lock, NULL);
  pthread_mutex_init(&c->wlock, NULL);
  rmqi_buf_init(&c->in); /* out and wbuf: zeroed by calloc */
  c->next = r->conns;
  r->conns = c;
  return c;
}

/* rmqi_rpc_invoke; @p direct: the caller may write to the socket itself
 * (conn_send); @p lend: a body of lend_min bytes or more is written from
 * the caller's memory, which stays valid until @p cb runs. */
static rmq_err_t invoke(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *cmd,
                        int64_t timeout_ms, rmqi_rpc_cb cb, void *arg,
                        bool direct, bool lend, bool idle) {
  if (rmqi_rpc_closing(r))
    return RMQ_ERR_SHUTDOWN;
  char host[RMQI_MAX_HOST];
  unsigned port;
  if (rmqi_split_addr(addr, host, sizeof(host), &port) != RMQ_OK)
    return RMQ_ERR_INVALID_ARG;
  lend_t *l = NULL;
  if (lend && cmd->body_len >= r->o.lend_min) {
    l = calloc(1, sizeof(*l));
    if (l == NULL)
      return RMQ_ERR_NOMEM;
    l->p = cmd->body;
    l->len = cmd->body_len;
    l->state = L_NEW;
    atomic_init(&l->refs, 2); /* the request's and the queue's */
  }
  pthread_mutex_lock(&r->lock);
  if (r->closing) {
    pthread_mutex_unlock(&r->lock);
    free(l);
    return RMQ_ERR_SHUTDOWN;
  }
  rmqi_conn_t *c = conn_get(r, addr);
  pend_t *p = c ? pend_new_locked(r) : NULL;
  if (p == NULL) {
    pthread_mutex_unlock(&r->lock);
    free(l);
    return RMQ_ERR_NOMEM;
  }
  /* Opaques are per instance; skip values that might still be pending
   * after a wrap-around. */
  int32_t op;
  do {
    op = r->next_opaque = (int32_t)((uint32_t)r->next_opaque + 1u);
  } while (opaque_used(r, op));
  *p = (pend_t){.opaque = op,
                .conn = c,
                .cb = cb,
                .arg = arg,
                .lend = l,
                .idle = idle,
                .deadline_ms = rmqi_now_ms() + timeout_ms,
                .t0_ns = rmqi_now_ns()};
  atomic_store_explicit(&p->tag, tag_of(op, P_SENDING), memory_order_relaxed);
  atomic_fetch_add(&c->refs, 1); /* the pending entry's */
  if (!pend_add(r, p)) {
    pthread_mutex_unlock(&r->lock);
    conn_unref(c);
    free(l);
    free(p);
    return RMQ_ERR_NOMEM;
  }
  atomic_fetch_add(&c->refs, 1); /* ours, for the send below */
  pthread_mutex_unlock(&r->lock);
  cmd->opaque = op;
  cmd->flag &= ~RMQI_FLAG_ONEWAY;
  rmq_err_t rc = conn_send(c, cmd, r->o.max_conn_output, false, direct, l);
  if (RMQI_UNLIKELY(r->o.sent != NULL))
    r->o.sent(r->o.sent_arg, op);
  /* Done with the caller's command: the request may end now. Sent, and
   * no completer came first (the usual case): one swap, no lock; p may
   * be gone the moment it succeeds. */
  uint64_t want = tag_of(op, P_SENDING);
  if (rc == RMQ_OK &&
      atomic_compare_exchange_strong_explicit(&p->tag, &want,
                                              tag_of(op, P_SENT),
                                              memory_order_release,
                                              memory_order_relaxed)) {
    conn_unref(c);
    return RMQ_OK;
  }
  /* Not sent, or a completer holds it for us (P_HELD: on r->held, alive
   * until taken here). By its opaque, as the tag says. */
  pthread_mutex_lock(&r->lock);
  pend_t *q = NULL, *h = NULL;
  if (atomic_load_explicit(&p->tag, memory_order_acquire) ==
      tag_of(op, P_SENDING)) { /* not sent, and still in the table */
    q = p;
    pend_unlink(r, q);
  } else {
    h = held_take(r, op);
  }
  pthread_mutex_unlock(&r->lock);
  if (h && h->held_done) {
    /* answered already (its callback has run): only the memory is ours */
    free(h);
    h = NULL;
    rc = RMQ_OK;
  } else if (rc != RMQ_OK && (q || h)) {
    /* not sent: undo silently, the caller has the error */
    if (c->peer)
      atomic_fetch_sub_explicit(&c->peer->requests, 1, memory_order_relaxed);
    pend_t *u = q ? q : h;
    conn_unref(u->conn);
    lend_unref(u->lend);
    free(u->held_detail);
    free(u);
  } else if (h) {
    /* Not here: the caller may hold a lock around invoke that the
     * completion takes (a producer's retry does). On the loop, or in
     * rmqi_loop_stop, which runs what is still posted. A node of its own:
     * posting it needs no memory, so it never runs here for want of some.
     * Refused only once the loop is stopping: completions (and the
     * retries they send under a lock) then run on the stopping thread,
     * which is also the one ending requests, so none of those is held;
     * an application thread's first send holds no lock of ours. */
    h->post = (rmqi_loop_node_t){.fn = held_run, .arg = h};
    if (rmqi_loop_post_node(r->loop, &h->post) != RMQ_OK)
      held_run(h);
  } else if (rc != RMQ_OK) {
    rc = RMQ_OK; /* answered already, so its callback has run */
  }
  conn_unref(c);
  return rc;
}

rmq_err_t rmqi_rpc_invoke(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *cmd,
                          int64_t timeout_ms, rmqi_rpc_cb cb, void *arg) {
  /* Asynchronous senders keep a window of requests in flight: the loop
   * coalesces their frames into one write, which a write per frame on
   * each caller's thread would undo. */
  return invoke(r, addr, cmd, timeout_ms, cb, arg, false, false, false);
}

rmq_err_t rmqi_rpc_invoke_idle(rmqi_rpc_t *r, const char *addr,
                               rmqi_cmd_t *cmd, int64_t timeout_ms,
                               rmqi_rpc_cb cb, void *arg) {
  return invoke(r, addr, cmd, timeout_ms, cb, arg, false, false, true);
}

rmq_err_t rmqi_rpc_invoke_lend(rmqi_rpc_t *r, const char *addr,
                               rmqi_cmd_t *cmd, int64_t timeout_ms,
                               rmqi_rpc_cb cb, void *arg) {
  return invoke(r, addr, cmd, timeout_ms, cb, arg, false, true, false);
}

rmq_err_t rmqi_rpc_oneway(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *cmd) {
  if (rmqi_rpc_closing(r))
    return RMQ_ERR_SHUTDOWN;
  char host[RMQI_MAX_HOST];
  unsigned port;
  if (rmqi_split_addr(addr, host, sizeof(host), &port) != RMQ_OK)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&r->lock);
  rmqi_conn_t *c = r->closing ? NULL : conn_get(r, addr);
  if (c)
    atomic_fetch_add(&c->refs, 1);
  cmd->opaque = r->next_opaque = (int32_t)((uint32_t)r->next_opaque + 1u);
  bool closing = r->closing;
  pthread_mutex_unlock(&r->lock);
  if (c == NULL)
    return closing ? RMQ_ERR_SHUTDOWN : RMQ_ERR_NOMEM;
  cmd->flag |= RMQI_FLAG_ONEWAY;
  rmq_err_t rc = conn_send(c, cmd, r->o.max_conn_output, false, false, NULL);
  if (rc == RMQ_OK && c->peer)
    atomic_fetch_add_explicit(&c->peer->oneways, 1, memory_order_relaxed);
  conn_unref(c);
  return rc;
}

rmq_err_t rmqi_rpc_reply(rmqi_conn_t *c, rmqi_cmd_t *resp) {
  resp->flag |= RMQI_FLAG_RESPONSE;
  /* A peer that sends requests and never reads the answers must not make
   * us queue without end, nor crowd out our own requests: replies get a
   * quarter of the bound and are dropped past it. */
  return conn_send(c, resp, c->rpc->o.max_conn_output / 4, true, false, NULL);
}

rmqi_conn_t *rmqi_conn_keep(rmqi_conn_t *c) {
  atomic_fetch_add(&c->refs, 1);
  return c;
}

void rmqi_conn_release(rmqi_conn_t *c) {
  conn_unref(c);
}

typedef struct stats_req {
  rmqi_rpc_t *r;
  const char *addr;
  rmqi_conn_stats_t st;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
} stats_req_t;

/* Loop thread (or the stopping thread): buffers are the loop's. */
static void stats_fill(void *arg) {
  stats_req_t *q = arg;
  pthread_mutex_lock(&q->r->lock);
  for (rmqi_conn_t *c = q->r->conns; c; c = c->next)
    if (strcmp(c->addr, q->addr) == 0) {
      q->st.exists = true;
      q->st.queued = atomic_load(&c->queued);
      q->st.lent = atomic_load(&c->lent);
      q->st.replies_dropped = atomic_load(&c->replies_dropped);
      q->st.responses_dropped = atomic_load(&c->responses_dropped);
      q->st.in_cap = c->in.cap;
      q->st.wbuf_cap = c->wbuf.b.cap;
      pthread_mutex_lock(&c->out_lock);
      q->st.out_cap = c->out.b.cap;
      pthread_mutex_unlock(&c->out_lock);
      break;
    }
  pthread_mutex_unlock(&q->r->lock);
  pthread_mutex_lock(&q->lock);
  q->done = true;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

rmqi_conn_stats_t rmqi_rpc_conn_stats(rmqi_rpc_t *r, const char *addr) {
  stats_req_t q = {.r = r, .addr = addr};
  pthread_mutex_init(&q.lock, NULL);
  pthread_cond_init(&q.cond, NULL);
  if (rmqi_loop_on_thread(r->loop) ||
      rmqi_loop_post(r->loop, stats_fill, &q) != RMQ_OK)
    stats_fill(&q); /* the loop is ours, or gone */
  pthread_mutex_lock(&q.lock);
  while (!q.done)
    pthread_cond_wait(&q.cond, &q.lock);
  pthread_mutex_unlock(&q.lock);
  pthread_cond_destroy(&q.cond);
  pthread_mutex_destroy(&q.lock);
  return q.st;
}

const char *rmqi_conn_addr(const rmqi_conn_t *c) {
  return c->addr;
}

/* ---- test hook: a connection fed from memory (fuzzing) ----------------- */

rmq_err_t rmqi_rpc_peer_stats(rmqi_rpc_t *r, rmqi_peer_stats_t **out,
                              size_t *n) {
  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&r->lock);
  rmqi_peer_stats_t *v = r->n_peers ? calloc(r->n_peers, sizeof(*v)) : NULL;
  if (r->n_peers && v == NULL) {
    pthread_mutex_unlock(&r->lock);
    return RMQ_ERR_NOMEM;
  }
  size_t k = 0;
  for (peer_t *p = r->peers; p; p = p->next, k++) {
    rmqi_peer_stats_t *o = &v[k];
    snprintf(o->addr, sizeof(o->addr), "%s", p->addr);
    o->state = RMQI_PEER_DOWN;
    for (rmqi_conn_t *c = r->conns; c; c = c->next)
      if (c->peer == p) {
        int st = c->state;
        o->state = st == C_OPEN     ? RMQI_PEER_UP
                   : st == C_CLOSED ? RMQI_PEER_DOWN
                                    : RMQI_PEER_CONNECTING;
        break;
      }
    o->requests = atomic_load(&p->requests);
    o->responses = atomic_load(&p->responses);
    o->timeouts = atomic_load(&p->timeouts);
    o->failed = atomic_load(&p->failed);
    o->oneways = atomic_load(&p->oneways);
    o->connects = atomic_load(&p->connects);
    o->disconnects = atomic_load(&p->disconnects);
    int64_t inf = atomic_load(&p->inflight);
    o->inflight = inf > 0 ? (uint64_t)inf : 0;
    o->rtt_us = rmqi_hist_summary(&p->rtt);
    snprintf(o->last_error, sizeof(o->last_error), "%s", p->last_error);
    o->last_error_ms = p->last_error_ms;
  }
  pthread_mutex_unlock(&r->lock);
  *out = v;
  *n = k;
  return RMQ_OK;
}

typedef struct mem_tr {
  rmqi_transport_t base;
  const uint8_t *p;
  size_t len, off;
  const size_t *cuts; /* ascending offsets where a read stops */
  size_t ncuts, icut;
  bool paused; /* the last read stopped at a cut: EAGAIN once */
} mem_tr_t;

static ssize_t mem_read(rmqi_transport_t *t, void *buf, size_t n) {
  mem_tr_t *m = (mem_tr_t *)t;
  if (m->paused) { /* one readiness event ends here */
    m->paused = false;
    errno = EAGAIN;
    return -1;
  }
  if (m->off == m->len)
    return 0; /* the peer closed */
  size_t end = m->len;
  while (m->icut < m->ncuts && m->cuts[m->icut] <= m->off)
    m->icut++;
  if (m->icut < m->ncuts && m->cuts[m->icut] < end)
    end = m->cuts[m->icut];
  size_t k = end - m->off < n ? end - m->off : n;
  memcpy(buf, m->p + m->off, k);
  m->off += k;
  if (m->off == end && end != m->len)
    m->paused = true;
  return (ssize_t)k;
}

static ssize_t mem_write(rmqi_transport_t *t, const void *buf, size_t n) {
  (void)t;
  (void)buf;
  return (ssize_t)n; /* the peer takes everything */
}

static int mem_start(rmqi_transport_t *t) {
  (void)t;
  return 1;
}

static void mem_destroy(rmqi_transport_t *t) {
  free(t);
}

static const rmqi_transport_ops_t mem_ops = {mem_read, mem_write, mem_start,
                                             mem_destroy, NULL};

rmq_err_t rmqi_rpc_test_feed(rmqi_rpc_t *r, const char *addr,
                             const uint8_t *data, size_t len,
                             const size_t *cuts, size_t ncuts) {
  mem_tr_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return RMQ_ERR_NOMEM;
  *m = (mem_tr_t){{&mem_ops, -1}, data, len, 0, cuts, ncuts, 0, false};
  pthread_mutex_lock(&r->lock);
  rmqi_conn_t *c = r->closing ? NULL : conn_get(r, addr);
  if (c == NULL || c->state != C_NEW) {
    pthread_mutex_unlock(&r->lock);
    free(m);
    return RMQ_ERR_STATE;
  }
  c->tr = &m->base;
  c->state = C_OPEN;
  c->progress_ms = rmqi_now_ms();
  atomic_fetch_add(&c->refs, 1);
  pthread_mutex_unlock(&r->lock);
  /* One readiness event per piece, until the peer's close closes it. */
  while (c->state != C_CLOSED)
    on_io(c, EPOLLIN);
  conn_unref(c);
  return RMQ_OK;
}

/* ---- synchronous calls ------------------------------------------------- */

/* The completion wakes its caller through a futex on w->state rather
 * than a mutex and condition variable: one atomic exchange, and a wake-up
 * system call only when the caller sleeps already. */
enum { W_WAITING, W_SLEEPING, W_DONE };

typedef struct waiter {
  pthread_t tid;          /* the waiting thread, for rmqi_rpc_abort_sync */
  _Atomic uint32_t state; /* W_*: the futex word */
  rmq_err_t err;
  char detail[640];
  rmqi_cmd_t cmd; /* the response, moved out of the loop's decode */
  uint8_t *body;  /* a copy of its body (the frame is the loop's) */
} waiter_t;

static long futex(_Atomic uint32_t *word, int op, uint32_t val) {
  return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* The completion (exactly once: the pending table hands each request to
 * one completer). Everything is written before the release below; once
 * the caller sees W_DONE it returns and its waiter (on its stack) is
 * gone, so the wake may reach a word that now belongs to another wait of
 * the same process: a spurious wake-up, which every futex waiter (ours
 * re-checks its word) tolerates. */
static void sync_done(void *arg, const rmqi_rpc_result_t *res) {
  waiter_t *w = arg;
  w->err = res->err;
  snprintf(w->detail, sizeof(w->detail), "%s", res->detail ? res->detail : "");
  if (res->err == RMQ_OK) {
    /* The loop decoded it already: take the command (its strings live in
     * its arena) and copy only the body, rather than copying the frame
     * for the caller to decode again. */
    rmqi_cmd_move(&w->cmd, res->resp);
    if (w->cmd.body_len) {
      w->body = malloc(w->cmd.body_len);
      if (w->body == NULL) {
        rmqi_cmd_free(&w->cmd);
        w->err = RMQ_ERR_NOMEM;
      } else {
        memcpy(w->body, w->cmd.body, w->cmd.body_len);
        w->cmd.body = w->body;
      }
    }
  }
  if (atomic_exchange_explicit(&w->state, W_DONE, memory_order_acq_rel) ==
      W_SLEEPING)
    futex(&w->state, FUTEX_WAKE_PRIVATE, 1);
}

/* The caller, until sync_done has run. */
static void sync_wait(waiter_t *w) {
  uint32_t s = W_WAITING;
  if (!atomic_compare_exchange_strong_explicit(&w->state, &s, W_SLEEPING,
                                               memory_order_acquire,
                                               memory_order_acquire))
    return; /* W_DONE already */
  /* Returns at the wake, at once if the word is no longer W_SLEEPING, or
   * spuriously (a signal, a stale wake): the word decides. */
  while (atomic_load_explicit(&w->state, memory_order_acquire) != W_DONE)
    futex(&w->state, FUTEX_WAIT_PRIVATE, W_SLEEPING);
}

void rmqi_resp_free(rmqi_resp_t *r) {
  rmqi_cmd_free(&r->cmd);
  free(r->frame);
  r->frame = NULL;
}

rmq_err_t rmqi_rpc_invoke_sync(rmqi_rpc_t *r, const char *addr, rmqi_cmd_t *cmd,
                               int64_t timeout_ms, rmqi_resp_t *out,
                               char *detail, size_t detail_size) {
  if (rmqi_rpc_closing(r))
    return RMQ_ERR_SHUTDOWN;
  if (rmqi_loop_on_thread(r->loop))
    return RMQ_ERR_STATE;
  waiter_t w = {.tid = pthread_self()};
  atomic_init(&w.state, W_WAITING);
  /* The body is the caller's until this returns, which is after the
   * completion: always lent. */
  rmq_err_t rc = invoke(r, addr, cmd, timeout_ms, sync_done, &w, true, true, false);
  if (rc == RMQ_OK) {
    /* The loop fires the timeout; we only wait for the completion, which
     * is guaranteed to come (response, timeout, loss or shutdown). */
    sync_wait(&w);
    rc = w.err;
    if (rc == RMQ_OK) {
      rmqi_cmd_move(&out->cmd, &w.cmd);
      out->frame = w.body;
    }
  } else if (rc == RMQ_ERR_QUEUE_FULL) {
    snprintf(w.detail, sizeof(w.detail),
             "%s: connection output over its bound of %zu bytes (the peer "
             "is not reading)",
             addr, r->o.max_conn_output);
  } else {
    snprintf(w.detail, sizeof(w.detail), "%s: %s", addr, rmq_err_str(rc));
  }
  if (detail && detail_size)
    snprintf(detail, detail_size, "%s", w.detail);
  return rc;
}

void rmqi_rpc_cancel_if(rmqi_rpc_t *r,
                        bool (*match)(rmqi_rpc_cb cb, void *cb_arg, void *ctx),
                        void *ctx, rmq_err_t err, const char *detail) {
  pend_t *list = NULL;
  pthread_mutex_lock(&r->lock);
  for (size_t b = 0; b < r->n_buckets; b++)
    for (pend_t *p = r->buckets[b], *next; p; p = next) {
      next = p->hnext;
      if (match(p->cb, p->arg, ctx)) {
        pend_unlink(r, p); /* out of all three places: it ends here */
        if (pend_claim_held(p)) {
          pend_hold(r, p, err, detail);
        } else {
          p->hnext = list;
          list = p;
        }
      }
    }
  pthread_mutex_unlock(&r->lock);
  while (list) {
    pend_t *p = list;
    list = p->hnext;
    complete(p, err, detail);
  }
}

static bool match_sync_tid(rmqi_rpc_cb cb, void *cb_arg, void *ctx) {
  return cb == sync_done &&
         pthread_equal(((waiter_t *)cb_arg)->tid, *(pthread_t *)ctx);
}

void rmqi_rpc_abort_sync(rmqi_rpc_t *r, pthread_t tid) {
  rmqi_rpc_cancel_if(r, match_sync_tid, &tid, RMQ_ERR_SHUTDOWN,
                     "abandoned: its caller is shutting down");
}

/* ---- lifecycle and timeouts ------------------------------------------- */

/* The kernel is retransmitting data the peer has not acknowledged: it has
 * not heard from the peer's TCP for at least one retransmission timeout. */
static bool tcp_retransmitting(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof(ti);
  memset(&ti, 0, sizeof(ti));
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
         ti.tcpi_retransmits > 0;
}

/* Loop thread: of the connections of the @p expired requests, those to
 * close (a reference each): open, nothing received since the request went
 * out, and the kernel retransmitting. The path (or the peer's host) is
 * down: TCP alone would try again only at its next retransmission, which
 * backs off up to two minutes (an 8 s partition took 5 s to heal, a 30 s
 * one 23 s: tests/it/test_it_netfault.c); closed, the next request
 * connects anew and gets through as soon as the path is back. Java closes
 * the connection at any synchronous timeout (clientCloseSocketIfTimeout);
 * here a slow peer, whose kernel acknowledges, keeps its connection and
 * its late answers are dropped. */
static rmqi_conn_t *silent_conns(rmqi_rpc_t *r, pend_t *expired) {
  rmqi_conn_t *list = NULL;
  for (pend_t *p = expired; p; p = p->hnext) {
    rmqi_conn_t *c = p->conn;
    if (c->state != C_OPEN || c->silent || c->heard_ns >= p->t0_ns ||
        !(r->o.retransmitting ? r->o.retransmitting(c->fd)
                              : tcp_retransmitting(c->fd)))
      continue;
    c->silent = true;
    atomic_fetch_add(&c->refs, 1);
    c->silent_next = list;
    list = c;
  }
  return list;
}

static void sweep(void *arg) {
  rmqi_rpc_t *r = arg;
  int64_t now = rmqi_now_ms();
  pend_t *expired = NULL;
  rmqi_conn_t *stuck = NULL;
  pthread_mutex_lock(&r->lock);
  while (r->n_pend && r->heap[0]->deadline_ms <= now) {
    pend_t *p = r->heap[0];
    pend_unlink(r, p);
    if (p->conn->peer)
      atomic_fetch_add_explicit(&p->conn->peer->timeouts, 1,
                                memory_order_relaxed);
    if (pend_claim_held(p)) {
      char detail[RMQI_MAX_ADDR + 32];
      snprintf(detail, sizeof(detail), "%s: no response in time",
               p->conn->addr);
      pend_hold(r, p, RMQ_ERR_TIMEOUT, detail);
    } else {
      p->hnext = expired;
      expired = p;
    }
  }
  for (rmqi_conn_t *c = r->conns; c; c = c->next) {
    conn_trim_idle(c, now);
    if (((c->state == C_RESOLVING || c->state == C_CONNECTING ||
          c->state == C_STARTING) &&
         now >= c->connect_deadline_ms) ||
        (c->state == C_OPEN && atomic_load(&c->over) &&
         now - c->progress_ms >= r->o.connect_timeout_ms)) {
      atomic_fetch_add(&c->refs, 1);
      c->stuck_next = stuck;
      stuck = c;
    }
  }
  pthread_mutex_unlock(&r->lock);
  /* closed first: what a timed-out request's callback sends next goes to
   * a new connection, not to this one */
  rmqi_conn_t *silent = silent_conns(r, expired);
  while (silent) {
    rmqi_conn_t *c = silent;
    silent = c->silent_next;
    conn_close(c, RMQ_ERR_CONN_LOST,
               "a request timed out, nothing was received since it was "
               "sent and TCP is retransmitting: the path to the peer is down");
    conn_unref(c);
  }
  while (expired) {
    pend_t *p = expired;
    expired = p->hnext;
    char detail[RMQI_MAX_ADDR + 32];
    snprintf(detail, sizeof(detail), "%s: no response in time", p->conn->addr);
    complete(p, RMQ_ERR_TIMEOUT, detail);
  }
  while (stuck) {
    rmqi_conn_t *c = stuck;
    stuck = c->stuck_next;
    if (c->state == C_OPEN) {
      /* Over its bound and the peer took nothing for a connect timeout:
       * it is not coming back; free the memory, fail what waits. */
      char why[160];
      snprintf(why, sizeof(why),
               "output over its bound of %zu bytes and the peer read "
               "nothing for %lld ms",
               r->o.max_conn_output, (long long)r->o.connect_timeout_ms);
      conn_close(c, RMQ_ERR_CONN_LOST, why);
    } else if (c->state == C_RESOLVING) {
      conn_close(c, RMQ_ERR_CONNECT,
                 "connect timed out while resolving the host name");
    } else if (c->state == C_STARTING) { /* only TLS lingers here */
      char why[128];
      snprintf(why, sizeof(why),
               "TLS handshake not done within the connect timeout of %lld ms "
               "(is the peer speaking TLS?)",
               (long long)r->o.connect_timeout_ms);
      conn_close(c, RMQ_ERR_TLS, why);
    } else {
      conn_close(c, RMQ_ERR_CONNECT, "connect timed out");
    }
    conn_unref(c);
  }
}

rmq_err_t rmqi_rpc_new(rmqi_rpc_t **out, const rmqi_rpc_opts_t *o) {
  rmqi_rpc_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return RMQ_ERR_NOMEM;
  r->spare.max = 1024; /* pending entries kept for reuse */
  r->o = *o;
  if (r->o.max_frame == 0)
    r->o.max_frame = RMQI_DEFAULT_MAX_FRAME;
  if (r->o.connect_timeout_ms <= 0)
    r->o.connect_timeout_ms = 3000;
  if (r->o.max_conn_output == 0)
    r->o.max_conn_output = RMQI_DEFAULT_MAX_CONN_OUTPUT;
  if (r->o.idle_trim_ms <= 0)
    r->o.idle_trim_ms = 1000;
  if (r->o.lend_min == 0)
    r->o.lend_min = RMQI_DEFAULT_LEND_MIN;
  pthread_mutex_init(&r->lock, NULL);
  pthread_mutex_init(&r->stop_lock, NULL);
  pthread_mutex_init(&r->dirty_lock, NULL);
  r->n_buckets = 1024;
  r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
  r->res = calloc(1, sizeof(*r->res));
  rmq_err_t rc = r->buckets && r->res ? rmqi_loop_new(&r->loop) : RMQ_ERR_NOMEM;
  if (rc != RMQ_OK) {
    free(r->res);
    free(r->buckets);
    free(r);
    return rc;
  }
  pthread_mutex_init(&r->res->lock, NULL);
  pthread_cond_init(&r->res->cond, NULL);
  r->res->refs = 1; /* the rpc's */
  r->res->loop = r->loop;
  r->res->resolve = o->resolve ? o->resolve : getaddrinfo;
  if (r->o.tls)
    rmqi_tls_ref(r->o.tls);
  *out = r;
  return RMQ_OK;
}

void rmqi_rpc_handle(rmqi_rpc_t *r, int32_t code, rmqi_rpc_handler fn,
                     void *arg) {
  handler_t *h = realloc(r->handlers, (r->n_handlers + 1) * sizeof(*h));
  if (h == NULL)
    return;
  r->handlers = h;
  h[r->n_handlers++] = (handler_t){code, fn, arg};
}

static void start_sweep(void *arg) {
  rmqi_rpc_t *r = arg;
  r->sweep = rmqi_loop_timer(r->loop, 10, 10, sweep, r);
}

rmq_err_t rmqi_rpc_start(rmqi_rpc_t *r) {
  rmq_err_t rc = rmqi_loop_start(r->loop);
  if (rc == RMQ_OK)
    rc = rmqi_loop_post(r->loop, start_sweep, r);
  return rc;
}

rmqi_loop_t *rmqi_rpc_loop(rmqi_rpc_t *r) {
  return r->loop;
}

size_t rmqi_rpc_pending(rmqi_rpc_t *r) {
  pthread_mutex_lock(&r->lock);
  size_t n = r->n_pend - r->n_idle;
  pthread_mutex_unlock(&r->lock);
  return n;
}

static void close_all(void *arg) {
  rmqi_rpc_t *r = arg;
  for (;;) {
    pthread_mutex_lock(&r->lock);
    rmqi_conn_t *c = r->conns;
    if (c)
      atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&r->lock);
    if (c == NULL)
      break;
    conn_close(c, RMQ_ERR_SHUTDOWN, "client shut down");
    conn_unref(c);
  }
}

static bool match_all(rmqi_rpc_cb cb, void *cb_arg, void *ctx) {
  (void)cb;
  (void)cb_arg;
  (void)ctx;
  return true;
}

bool rmqi_rpc_closing(rmqi_rpc_t *r) {
  return atomic_load_explicit(&r->closing, memory_order_acquire);
}

void rmqi_rpc_stop(rmqi_rpc_t *r) {
  if (r == NULL)
    return;
  if (rmqi_loop_on_thread(r->loop)) { /* would join itself */
    rmqi_log(r->o.log, RMQ_LOG_ERROR, "net",
             "rmqi_rpc_stop called on the I/O thread: ignored");
    return;
  }
  /* A callback that stop itself runs (on this thread) may call stop
   * again: it returns at once instead of deadlocking on stop_lock. */
  pthread_mutex_lock(&r->lock);
  bool reentered = r->stopping && pthread_equal(r->stopper, pthread_self());
  pthread_mutex_unlock(&r->lock);
  if (reentered)
    return;
  /* A second caller waits for the first to finish, then returns. */
  pthread_mutex_lock(&r->stop_lock);
  if (r->stopped) {
    pthread_mutex_unlock(&r->stop_lock);
    return;
  }
  pthread_mutex_lock(&r->lock);
  r->closing = true; /* refuse new work from here */
  r->stopping = true;
  r->stopper = pthread_self();
  pthread_mutex_unlock(&r->lock);
  /* No resolver answer is posted after this (the loop goes next). */
  resolver_stop(r->res);
  /* Close on the loop thread (it owns the sockets), then stop it. Anything
   * still posted runs in rmqi_loop_stop, on this thread. */
  if (rmqi_loop_post(r->loop, close_all, r) != RMQ_OK)
    close_all(r);
  rmqi_loop_stop(r->loop);
  close_all(r); /* the loop never started, or a late connection */
  drain_dirty(r);
  /* Every pending entry sits on a connection in the table, so close_all
   * failed them all; this is the belt to those braces. */
  rmqi_rpc_cancel_if(r, match_all, NULL, RMQ_ERR_SHUTDOWN, "client shut down");
  r->stopped = true;
  pthread_mutex_lock(&r->lock);
  r->stopping = false;
  pthread_mutex_unlock(&r->lock);
  pthread_mutex_unlock(&r->stop_lock);
}

void rmqi_rpc_free(rmqi_rpc_t *r) {
  if (r == NULL)
    return;
  rmqi_rpc_stop(r);
  /* A reply that passed its closing check just before stop may have put
   * its connection on the dirty list since: release that reference. */
  drain_dirty(r);
  rmqi_loop_free(r->loop);
  resolver_unref(r->res);
  rmqi_tls_unref(r->o.tls);
  free(r->heap);
  free(r->buckets);
  rmqi_spare_free(&r->spare);
  free(r->handlers);
  for (peer_t *p = r->peers, *nx; p; p = nx) {
    nx = p->next;
    free(p);
  }
  pthread_mutex_destroy(&r->dirty_lock);
  pthread_mutex_destroy(&r->stop_lock);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* The mock cluster's thread, connections, delays, faults and public API
 * (include/rmq_mock.h; the design is in mock_int.h). */
#include "mock_int.h"
#include "net.h"

#include "../util/time.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static rmqi_mock_srv_t *srv_of(rmq_mock_cluster_t *c, int broker) {
  if (c == NULL)
    return NULL;
  if (broker == RMQ_MOCK_NAMESRV)
    return &c->srv[0];
  if (broker < 0 || broker >= c->n_brokers)
    return NULL;
  return &c->srv[1 + broker];
}

static void kick(rmq_mock_cluster_t *c) {
  ssize_t w = write(c->wake[1], "x", 1);
  (void)w;
}

/* ---- connections --------------------------------------------------------- */

rmqi_mock_conn_t *rmqi_mock_conn_find(rmq_mock_cluster_t *c, uint64_t id) {
  for (size_t i = 0; i < c->n_conns; i++)
    if (c->conns[i]->id == id && !c->conns[i]->dead)
      return c->conns[i];
  return NULL;
}

static void conn_flush(rmqi_mock_conn_t *cn) {
  if (cn->fd < 0) { /* a fed connection (rmqi_mock_feed): answers go nowhere */
    cn->out.len = cn->out_off = 0;
    return;
  }
  while (!cn->dead && cn->out_off < cn->out.len) {
    ssize_t w = send(cn->fd, cn->out.data + cn->out_off,
                     cn->out.len - cn->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (w <= 0) {
      cn->dead = true;
      return;
    }
    cn->out_off += (size_t)w;
  }
  if (cn->out_off == cn->out.len) {
    cn->out.len = 0;
    cn->out_off = 0;
  }
}

/* Queues @p len bytes on the connection; past RMQI_MOCK_MAX_OUT unsent
 * bytes (a peer that reads nothing) the connection is closed. */
static void conn_write(rmqi_mock_conn_t *cn, const uint8_t *p, size_t len) {
  if (cn->dead)
    return;
  if (cn->out.len - cn->out_off + len > RMQI_MOCK_MAX_OUT) {
    cn->dead = true;
    return;
  }
  if (cn->out_off > 0 && cn->out_off == cn->out.len)
    cn->out.len = cn->out_off = 0;
  rmqi_buf_put(&cn->out, p, len);
  if (!rmqi_buf_ok(&cn->out)) {
    cn->dead = true;
    return;
  }
  conn_flush(cn);
}

static void later_push(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn, int rtt_ms,
                       uint8_t *bytes, size_t len) {
  if (c->n_later == RMQI_MOCK_MAX_LATER) { /* too many delayed answers */
    free(bytes);
    cn->dead = true;
    return;
  }
  if (c->n_later == c->cap_later) {
    size_t nc = c->cap_later ? c->cap_later * 2 : 64;
    rmqi_mock_later_t *v = realloc(c->later, nc * sizeof(*v));
    if (v == NULL) {
      free(bytes);
      cn->dead = true;
      return;
    }
    c->later = v;
    c->cap_later = nc;
  }
  c->later[c->n_later++] =
      (rmqi_mock_later_t){rmqi_now_ms() + rtt_ms, cn->id, bytes, len};
}

void rmqi_mock_reply(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                     const rmqi_cmd_t *resp, int rtt_ms) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (rmqi_cmd_encode(&b, resp, RMQI_SER_JSON) != RMQ_OK) {
    rmqi_buf_free(&b);
    cn->dead = true;
    return;
  }
  if (rtt_ms > 0) {
    later_push(c, cn, rtt_ms, b.data, b.len); /* takes the bytes */
    return;
  }
  conn_write(cn, b.data, b.len);
  rmqi_buf_free(&b);
}

void rmqi_mock_notify(rmq_mock_cluster_t *c, uint64_t conn, const char *group) {
  rmqi_mock_conn_t *cn = rmqi_mock_conn_find(c, conn);
  if (cn == NULL)
    return;
  enum { RC_NOTIFY_CONSUMER_IDS_CHANGED = 40 };
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, RC_NOTIFY_CONSUMER_IDS_CHANGED);
  cmd.lang = RMQI_LANG_JAVA;
  cmd.flag = RMQI_FLAG_ONEWAY;
  rmqi_cmd_ext_ref(&cmd, "consumerGroup", group, strlen(group));
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (rmqi_cmd_encode(&b, &cmd, RMQI_SER_JSON) == RMQ_OK)
    conn_write(cn, b.data, b.len);
  rmqi_buf_free(&b);
  rmqi_cmd_free(&cmd);
}

static void conn_free(rmq_mock_cluster_t *c, size_t i) {
  rmqi_mock_conn_t *cn = c->conns[i];
  if (cn->srv > 0)
    rmqi_mock_members_drop(c, cn->srv, cn->id, NULL, -1);
  if (cn->fd >= 0)
    close(cn->fd);
  rmqi_buf_free(&cn->in);
  rmqi_buf_free(&cn->out);
  free(cn);
  c->conns[i] = c->conns[--c->n_conns];
}

/* A new connection of server @p s (fd -1: fed by rmqi_mock_feed), or NULL
 * past the server's bound or out of memory. */
static rmqi_mock_conn_t *conn_add(rmq_mock_cluster_t *c, int s, int fd,
                                  const rmqi_mock_addr_t *peer) {
  size_t mine = 0;
  for (size_t i = 0; i < c->n_conns; i++)
    mine += c->conns[i]->srv == s;
  if (mine >= RMQI_MOCK_MAX_CONNS)
    return NULL;
  if (c->n_conns == c->cap_conns) {
    size_t nc = c->cap_conns ? c->cap_conns * 2 : 16;
    rmqi_mock_conn_t **v = realloc(c->conns, nc * sizeof(*v));
    if (v == NULL)
      return NULL;
    c->conns = v;
    c->cap_conns = nc;
  }
  rmqi_mock_conn_t *cn = calloc(1, sizeof(*cn));
  if (cn == NULL)
    return NULL;
  cn->fd = fd;
  cn->srv = s;
  cn->id = ++c->next_conn;
  memcpy(cn->born, peer->ip, 4);
  cn->born_port = peer->port;
  rmqi_buf_init(&cn->in);
  rmqi_buf_init(&cn->out);
  c->conns[c->n_conns++] = cn;
  return cn;
}

static void accept_on(rmq_mock_cluster_t *c, int s) {
  for (;;) {
    rmqi_mock_addr_t peer;
    int fd = rmqi_mock_accept(c->srv[s].lfd, &peer);
    if (fd < 0)
      return;
    if (conn_add(c, s, fd, &peer) == NULL)
      close(fd); /* over the bound: refused */
  }
}

/* ---- requests ------------------------------------------------------------ */

static void count(rmqi_mock_srv_t *s, int32_t code) {
  s->total++;
  for (size_t i = 0; i < s->n_counts; i++)
    if (s->counts[i].code == code) {
      s->counts[i].n++;
      return;
    }
  if (s->n_counts < RMQI_MOCK_MAX_CODES)
    s->counts[s->n_counts++] = (rmqi_mock_count_t){code, 1};
  else
    s->other++;
}

static bool take_fault(rmqi_mock_srv_t *s, int32_t code, rmqi_mock_fault_t *f) {
  for (size_t i = 0; i < s->n_faults; i++)
    if (s->faults[i].req_code == code) {
      *f = s->faults[i];
      memmove(&s->faults[i], &s->faults[i + 1],
              (s->n_faults - i - 1) * sizeof(*s->faults));
      s->n_faults--;
      return true;
    }
  return false;
}

static void handle(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn,
                   const rmqi_cmd_t *req, const uint8_t *frame, size_t len) {
  if (rmqi_cmd_is_response(req))
    return; /* the answer to a push of ours: nothing to do */
  rmqi_mock_srv_t *s = &c->srv[cn->srv];
  count(s, req->code);
  pthread_cond_broadcast(&c->cv);
  rmqi_mock_fault_t f;
  int rtt = s->rtt_ms;
  if (take_fault(s, req->code, &f)) {
    if (f.rtt_ms >= 0)
      rtt = f.rtt_ms;
    if (f.resp_code == RMQ_MOCK_NO_RESPONSE)
      return;
    if (f.resp_code == RMQ_MOCK_CLOSE) {
      if (rtt > 0)
        later_push(c, cn, rtt, NULL, 0);
      else
        cn->dead = true;
      return;
    }
    if (f.resp_code != 0) {
      if (!rmqi_cmd_is_oneway(req))
        rmqi_mock_serve_code(c, cn, req, f.resp_code, rtt);
      return;
    }
  }
  rmqi_mock_serve(c, cn, req, frame, len, rtt);
}

/* Serves every whole frame in the connection's input. */
static void conn_parse(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn) {
  rmqi_buf_t *in = &cn->in;
  size_t off = 0, fl = 0;
  rmq_err_t rc;
  while (!cn->dead &&
         (rc = rmqi_frame_check(in->data + off, in->len - off,
                                RMQI_MOCK_MAX_FRAME, &fl, NULL)) == RMQ_OK) {
    rmqi_cmd_t req;
    if (rmqi_cmd_decode(&req, in->data + off, fl, NULL) != RMQ_OK) {
      cn->dead = true; /* not a command: the peer speaks something else */
      return;
    }
    handle(c, cn, &req, in->data + off, fl);
    rmqi_cmd_free(&req);
    off += fl;
  }
  if (!cn->dead && rc != RMQ_ERR_TRUNCATED)
    cn->dead = true; /* a frame too large or malformed */
  rmqi_buf_consume(in, off);
}

static void conn_read(rmq_mock_cluster_t *c, rmqi_mock_conn_t *cn) {
  rmqi_buf_t *in = &cn->in;
  if (!rmqi_buf_reserve(in, 65536)) {
    cn->dead = true;
    return;
  }
  ssize_t n = recv(cn->fd, in->data + in->len, in->cap - in->len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0) {
    cn->dead = true;
    return;
  }
  in->len += (size_t)n;
  conn_parse(c, cn);
}

/* ---- the loop ------------------------------------------------------------ */

static void srv_close_conns(rmq_mock_cluster_t *c, int s) {
  for (size_t i = 0; i < c->n_conns; i++)
    if (c->conns[i]->srv == s)
      c->conns[i]->dead = true;
}

static void orders(rmq_mock_cluster_t *c) {
  for (int s = 0; s <= c->n_brokers; s++) {
    rmqi_mock_srv_t *v = &c->srv[s];
    if (v->want_close) {
      srv_close_conns(c, s);
      v->want_close = false;
    }
    if (v->want_down) {
      srv_close_conns(c, s);
      if (v->lfd >= 0)
        close(v->lfd);
      v->lfd = -1;
      v->down = true;
      v->want_down = false;
    }
    if (v->want_up) {
      v->up_err = RMQ_OK;
      if (v->lfd < 0) {
        int port = v->port;
        v->lfd = rmqi_mock_listen(&port);
        v->up_err = v->lfd < 0 ? RMQ_ERR_IO : RMQ_OK;
      }
      v->down = v->lfd < 0;
      v->want_up = false;
    }
  }
  for (size_t i = 0; i < c->n_conns;) /* dead connections go now */
    if (c->conns[i]->dead)
      conn_free(c, i);
    else
      i++;
  c->ctl_done = c->ctl_seq;
  pthread_cond_broadcast(&c->cv);
}

/* Sends the delayed answers that are due, keeping the others in their
 * order (answers of one delay stay in order), in one pass; returns the
 * next due time. */
static int64_t run_later(rmq_mock_cluster_t *c, int64_t now) {
  int64_t next = INT64_MAX;
  size_t j = 0;
  for (size_t i = 0; i < c->n_later; i++) {
    rmqi_mock_later_t l = c->later[i];
    if (l.due > now) {
      next = l.due < next ? l.due : next;
      c->later[j++] = l;
      continue;
    }
    rmqi_mock_conn_t *cn = rmqi_mock_conn_find(c, l.conn);
    if (cn && l.bytes)
      conn_write(cn, l.bytes, l.len);
    else if (cn)
      cn->dead = true;
    free(l.bytes);
  }
  c->n_later = j;
  return next;
}

static void *loop_main(void *arg) {
  rmq_mock_cluster_t *c = arg;
  struct pollfd *pfd = NULL;
  rmqi_mock_conn_t **who = NULL;
  size_t cap = 0;
  pthread_mutex_lock(&c->lock);
  while (!c->stop) {
    orders(c);
    int64_t now = rmqi_now_ms();
    int64_t next = run_later(c, now);
    int64_t h = rmqi_mock_held_run(c, now);
    next = h < next ? h : next;
    size_t need = 1 + (size_t)c->n_brokers + 1 + c->n_conns;
    if (need > cap) {
      struct pollfd *np = realloc(pfd, need * sizeof(*np));
      if (np)
        pfd = np;
      rmqi_mock_conn_t **nw = realloc(who, need * sizeof(*nw));
      if (nw)
        who = nw;
      if (np && nw)
        cap = need;
    }
    size_t n = 0;
    if (cap > 0)
      pfd[n++] = (struct pollfd){c->wake[0], POLLIN, 0};
    for (int s = 0; s <= c->n_brokers && n < cap; s++)
      if (c->srv[s].lfd >= 0) {
        who[n] = NULL;
        pfd[n++] = (struct pollfd){c->srv[s].lfd, POLLIN, 0};
      }
    for (size_t i = 0; i < c->n_conns && n < cap; i++) {
      rmqi_mock_conn_t *cn = c->conns[i];
      who[n] = cn;
      pfd[n++] = (struct pollfd){
          cn->fd, (short)(POLLIN | (cn->out.len > cn->out_off ? POLLOUT : 0)),
          0};
    }
    int wait = 100;
    if (next != INT64_MAX)
      wait = next - now < 0 ? 0 : next - now < 100 ? (int)(next - now) : 100;
    pthread_mutex_unlock(&c->lock);
    int k = poll(pfd, (nfds_t)n, n ? wait : 10);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; k > 0 && i < n; i++) {
      short re = pfd[i].revents;
      if (re == 0)
        continue;
      if (i == 0) {
        char b[64];
        while (read(c->wake[0], b, sizeof(b)) > 0)
          ;
      } else if (who[i] == NULL) {
        for (int s = 0; s <= c->n_brokers; s++)
          if (c->srv[s].lfd == pfd[i].fd && !c->srv[s].want_down)
            accept_on(c, s);
      } else {
        rmqi_mock_conn_t *cn = who[i];
        if (re & POLLOUT)
          conn_flush(cn);
        if ((re & (POLLIN | POLLHUP | POLLERR)) && !cn->dead)
          conn_read(c, cn);
      }
    }
  }
  pthread_mutex_unlock(&c->lock);
  free(pfd);
  free(who);
  return NULL;
}

/* ---- the API ------------------------------------------------------------- */

/* The cluster's state without its sockets and thread; NULL with @p errstr
 * set on a bad count or no memory. */
static rmq_mock_cluster_t *cluster_alloc(int n_brokers, char *errstr,
                                         size_t errstr_size) {
  if (n_brokers < 1 || n_brokers > RMQ_MOCK_MAX_BROKERS) {
    if (errstr && errstr_size)
      snprintf(errstr, errstr_size, "n_brokers %d is not within 1..%d",
               n_brokers, RMQ_MOCK_MAX_BROKERS);
    return NULL;
  }
  rmq_mock_cluster_t *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    if (errstr && errstr_size)
      snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  c->n_brokers = n_brokers;
  c->auto_queues = 4;
  c->max_queue_msgs = 100000;
  c->max_bytes = (size_t)256 << 20;
  c->pull_hold_ms = 1000;
  c->wake[0] = c->wake[1] = -1;
  c->uniq_hash = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(uintptr_t)c ^
                 (uint32_t)rmqi_wall_ms();
  for (int s = 0; s <= n_brokers; s++) {
    rmqi_mock_srv_t *v = &c->srv[s];
    v->lfd = -1;
    if (s == 0)
      snprintf(v->name, sizeof(v->name), "namesrv");
    else
      snprintf(v->name, sizeof(v->name), "broker-%c", 'a' + s - 1);
  }
  pthread_mutex_init(&c->lock, NULL);
  rmqi_cond_init_mono(&c->cv);
  return c;
}

rmq_mock_cluster_t *rmq_mock_cluster_new(int n_brokers, char *errstr,
                                         size_t errstr_size) {
  rmq_mock_cluster_t *c = cluster_alloc(n_brokers, errstr, errstr_size);
  if (c == NULL)
    return NULL;
  const char *why = NULL;
  if (pipe(c->wake) != 0 || rmqi_mock_nonblock(c->wake[0]) != 0 ||
      rmqi_mock_nonblock(c->wake[1]) != 0)
    why = "pipe";
  for (int s = 0; why == NULL && s <= n_brokers; s++) {
    rmqi_mock_srv_t *v = &c->srv[s];
    v->port = 0;
    if ((v->lfd = rmqi_mock_listen(&v->port)) < 0)
      why = "listen on 127.0.0.1";
    snprintf(v->addr, sizeof(v->addr), "127.0.0.1:%d", v->port);
  }
  if (why == NULL && pthread_create(&c->th, NULL, loop_main, c) != 0)
    why = "thread";
  if (why) {
    if (errstr && errstr_size)
      snprintf(errstr, errstr_size, "mock cluster: %s failed (errno %d)", why,
               errno);
    rmq_mock_cluster_destroy(c);
    return NULL;
  }
  c->started = true;
  return c;
}

rmq_mock_cluster_t *rmqi_mock_cluster_bare(int n_brokers) {
  rmq_mock_cluster_t *c = cluster_alloc(n_brokers, NULL, 0);
  for (int s = 0; c && s <= n_brokers; s++) /* fixed, never listened on */
    snprintf(c->srv[s].addr, sizeof(c->srv[s].addr), "127.0.0.1:%d", 10000 + s);
  return c;
}

bool rmqi_mock_feed(rmq_mock_cluster_t *c, int srv, const uint8_t *p,
                    size_t n) {
  if (c == NULL || c->started || srv < 0 || srv > c->n_brokers)
    return false;
  static const rmqi_mock_addr_t peer = {{127, 0, 0, 1}, 40000};
  rmqi_mock_conn_t *cn = NULL;
  for (size_t i = 0; i < c->n_conns && cn == NULL; i++)
    if (c->conns[i]->srv == srv && !c->conns[i]->dead)
      cn = c->conns[i];
  if (cn == NULL && (cn = conn_add(c, srv, -1, &peer)) == NULL)
    return false;
  if (n) {
    rmqi_buf_put(&cn->in, p, n);
    if (!rmqi_buf_ok(&cn->in))
      cn->dead = true;
    else
      conn_parse(c, cn);
  }
  /* what the loop would do next: every delayed answer and held pull is
   * due at once, dead connections go */
  run_later(c, INT64_MAX);
  rmqi_mock_held_run(c, INT64_MAX);
  bool alive = !cn->dead;
  for (size_t i = 0; i < c->n_conns;)
    if (c->conns[i]->dead)
      conn_free(c, i);
    else
      i++;
  return alive;
}

void rmq_mock_cluster_destroy(rmq_mock_cluster_t *c) {
  if (c == NULL)
    return;
  if (c->started) {
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_mutex_unlock(&c->lock);
    kick(c);
    pthread_join(c->th, NULL);
  }
  while (c->n_conns)
    conn_free(c, 0);
  free(c->conns);
  for (size_t i = 0; i < c->n_later; i++)
    free(c->later[i].bytes);
  free(c->later);
  for (size_t i = 0; i < c->n_held; i++)
    rmqi_mock_held_free(&c->held[i]);
  free(c->held);
  rmqi_mock_members_free(c);
  rmqi_mock_topics_free(c);
  for (int s = 0; s <= c->n_brokers; s++) {
    if (c->srv[s].lfd >= 0)
      close(c->srv[s].lfd);
    free(c->srv[s].faults);
  }
  if (c->wake[0] >= 0)
    close(c->wake[0]);
  if (c->wake[1] >= 0)
    close(c->wake[1]);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const char *rmq_mock_cluster_namesrv(const rmq_mock_cluster_t *c) {
  return c ? c->srv[0].addr : NULL;
}

int rmq_mock_cluster_broker_count(const rmq_mock_cluster_t *c) {
  return c ? c->n_brokers : 0;
}

const char *rmq_mock_broker_addr(const rmq_mock_cluster_t *c, int broker) {
  const rmqi_mock_srv_t *s = srv_of((rmq_mock_cluster_t *)c, broker);
  return s ? s->addr : NULL;
}

const char *rmq_mock_broker_name(const rmq_mock_cluster_t *c, int broker) {
  if (c == NULL || broker < 0 || broker >= c->n_brokers)
    return NULL;
  return c->srv[1 + broker].name;
}

rmq_err_t rmq_mock_topic_create(rmq_mock_cluster_t *c, const char *topic,
                                int queues) {
  if (c == NULL || topic == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  rmqi_mock_topic_t *t;
  rmq_err_t rc = rmqi_mock_topic_add(c, topic, queues, &t);
  pthread_mutex_unlock(&c->lock);
  return rc;
}

rmq_err_t rmq_mock_set_auto_create_queues(rmq_mock_cluster_t *c, int queues) {
  if (c == NULL || queues < 0 || queues > RMQI_MOCK_MAX_QUEUES)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  c->auto_queues = queues;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

rmq_err_t rmq_mock_set_storage_limits(rmq_mock_cluster_t *c,
                                      size_t max_msgs_per_queue,
                                      size_t max_bytes) {
  if (c == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  if (max_msgs_per_queue)
    c->max_queue_msgs = max_msgs_per_queue;
  if (max_bytes)
    c->max_bytes = max_bytes;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

rmq_err_t rmq_mock_set_pull_hold_ms(rmq_mock_cluster_t *c, int ms) {
  if (c == NULL || ms < 0)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  c->pull_hold_ms = ms;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

int64_t rmq_mock_topic_message_count(rmq_mock_cluster_t *c, int broker,
                                     const char *topic) {
  if (c == NULL || topic == NULL ||
      (broker != RMQ_MOCK_ANY && (broker < 0 || broker >= c->n_brokers)))
    return -1;
  pthread_mutex_lock(&c->lock);
  int64_t n = -1;
  rmqi_mock_topic_t *t = rmqi_mock_topic_find(c, topic);
  for (int b = 0; t && b < c->n_brokers; b++) {
    if (broker != RMQ_MOCK_ANY && b != broker)
      continue;
    n = n < 0 ? 0 : n;
    for (int q = 0; q < t->nq; q++)
      n += rmqi_mock_q_max(rmqi_mock_q(t, b, q));
  }
  pthread_mutex_unlock(&c->lock);
  return n;
}

rmq_err_t rmq_mock_queue_lock_give(rmq_mock_cluster_t *c, int broker,
                                   const char *topic, int queue_id,
                                   const char *group, const char *client_id) {
  if (c == NULL || topic == NULL || group == NULL || client_id == NULL ||
      broker < 0 || broker >= c->n_brokers || queue_id < 0 ||
      strlen(client_id) >= sizeof(((rmqi_mock_lock_t *)0)->client))
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  rmq_err_t rc = RMQ_ERR_NOT_FOUND;
  rmqi_mock_topic_t *t = rmqi_mock_topic_find(c, topic);
  int g = t && queue_id < t->nq ? rmqi_mock_group(c, group, true) : -1;
  if (g >= 0) {
    rmqi_mock_queue_t *q = rmqi_mock_q(t, broker, queue_id);
    rmqi_mock_lock_t *l = NULL;
    for (size_t k = 0; k < q->n_locks && l == NULL; k++)
      if (q->locks[k].group == g)
        l = &q->locks[k];
    if (l == NULL) {
      rmqi_mock_lock_t *v = realloc(q->locks, (q->n_locks + 1) * sizeof(*v));
      if (v) {
        q->locks = v;
        l = &v[q->n_locks++];
      }
    }
    rc = l ? RMQ_OK : RMQ_ERR_NOMEM;
    if (l) {
      l->group = g;
      snprintf(l->client, sizeof(l->client), "%s", client_id);
      l->expires = rmqi_now_ms() + RMQI_MOCK_LOCK_EXPIRY_MS;
    }
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

static rmq_err_t push_faults(rmq_mock_cluster_t *c, int broker, int32_t code,
                             size_t n, const int32_t *codes, const int *rtts,
                             va_list *ap, bool pairs) {
  rmqi_mock_srv_t *s = srv_of(c, broker);
  if (s == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  rmq_err_t rc = RMQ_OK;
  if (s->n_faults + n > RMQI_MOCK_MAX_FAULTS)
    rc = RMQ_ERR_LIMIT;
  if (rc == RMQ_OK && s->n_faults + n > s->cap_faults) {
    size_t nc = s->n_faults + n < 64 ? 64 : (s->n_faults + n) * 2;
    rmqi_mock_fault_t *v = realloc(s->faults, nc * sizeof(*v));
    if (v == NULL)
      rc = RMQ_ERR_NOMEM;
    else {
      s->faults = v;
      s->cap_faults = nc;
    }
  }
  for (size_t i = 0; rc == RMQ_OK && i < n; i++) {
    rmqi_mock_fault_t f = {code, 0, -1};
    if (ap) {
      f.resp_code = va_arg(*ap, int);
      if (pairs)
        f.rtt_ms = va_arg(*ap, int);
    } else {
      f.resp_code = codes[i];
      f.rtt_ms = rtts ? rtts[i] : -1;
    }
    if (f.rtt_ms < -1)
      f.rtt_ms = 0;
    s->faults[s->n_faults++] = f;
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

rmq_err_t rmq_mock_push_request_errors(rmq_mock_cluster_t *c, int broker,
                                       int32_t request_code, size_t n, ...) {
  va_list ap;
  va_start(ap, n);
  rmq_err_t rc =
      push_faults(c, broker, request_code, n, NULL, NULL, &ap, false);
  va_end(ap);
  return rc;
}

rmq_err_t rmq_mock_push_request_errors_array(rmq_mock_cluster_t *c, int broker,
                                             int32_t request_code, size_t n,
                                             const int32_t *codes) {
  if (n && codes == NULL)
    return RMQ_ERR_INVALID_ARG;
  return push_faults(c, broker, request_code, n, codes, NULL, NULL, false);
}

rmq_err_t rmq_mock_push_request_error_rtts(rmq_mock_cluster_t *c, int broker,
                                           int32_t request_code, size_t n,
                                           ...) {
  va_list ap;
  va_start(ap, n);
  rmq_err_t rc = push_faults(c, broker, request_code, n, NULL, NULL, &ap, true);
  va_end(ap);
  return rc;
}

rmq_err_t rmq_mock_clear_request_errors(rmq_mock_cluster_t *c, int broker,
                                        int32_t request_code) {
  rmqi_mock_srv_t *s = srv_of(c, broker);
  if (s == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  size_t k = 0;
  for (size_t i = 0; i < s->n_faults; i++)
    if (request_code != RMQ_MOCK_ANY && s->faults[i].req_code != request_code)
      s->faults[k++] = s->faults[i];
  s->n_faults = k;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

rmq_err_t rmq_mock_broker_set_rtt(rmq_mock_cluster_t *c, int broker,
                                  int rtt_ms) {
  rmqi_mock_srv_t *s = srv_of(c, broker);
  if (s == NULL || rtt_ms < 0)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  s->rtt_ms = rtt_ms;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

/* Leaves an order for the loop and waits until it was carried out. */
static rmq_err_t order(rmq_mock_cluster_t *c, bool *flag) {
  uint64_t seq = ++c->ctl_seq;
  *flag = true;
  kick(c);
  while (c->ctl_done < seq && !c->stop)
    pthread_cond_wait(&c->cv, &c->lock);
  return RMQ_OK;
}

enum { ORDER_DOWN, ORDER_UP, ORDER_CLOSE };

static rmq_err_t srv_order(rmq_mock_cluster_t *c, int broker, int what) {
  rmqi_mock_srv_t *s = srv_of(c, broker);
  if (s == NULL)
    return RMQ_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  rmq_err_t rc = order(c, what == ORDER_DOWN ? &s->want_down
                          : what == ORDER_UP ? &s->want_up
                                             : &s->want_close);
  if (rc == RMQ_OK && what == ORDER_UP)
    rc = (rmq_err_t)s->up_err;
  pthread_mutex_unlock(&c->lock);
  return rc;
}

rmq_err_t rmq_mock_broker_set_down(rmq_mock_cluster_t *c, int broker) {
  return srv_order(c, broker, ORDER_DOWN);
}

rmq_err_t rmq_mock_broker_set_up(rmq_mock_cluster_t *c, int broker) {
  return srv_order(c, broker, ORDER_UP);
}

rmq_err_t rmq_mock_broker_close_connections(rmq_mock_cluster_t *c, int broker) {
  return srv_order(c, broker, ORDER_CLOSE);
}

static int64_t count_of(const rmqi_mock_srv_t *s, int32_t code) {
  if (code == RMQ_MOCK_ANY)
    return s->total;
  for (size_t i = 0; i < s->n_counts; i++)
    if (s->counts[i].code == code)
      return s->counts[i].n;
  return 0;
}

static int64_t count_locked(rmq_mock_cluster_t *c, int broker, int32_t code) {
  if (broker != RMQ_MOCK_ANY)
    return count_of(srv_of(c, broker), code);
  int64_t n = 0;
  for (int s = 0; s <= c->n_brokers; s++)
    n += count_of(&c->srv[s], code);
  return n;
}

int64_t rmq_mock_request_count(rmq_mock_cluster_t *c, int broker,
                               int32_t request_code) {
  if (c == NULL || (broker != RMQ_MOCK_ANY && srv_of(c, broker) == NULL))
    return -1;
  pthread_mutex_lock(&c->lock);
  int64_t n = count_locked(c, broker, request_code);
  pthread_mutex_unlock(&c->lock);
  return n;
}

int64_t rmq_mock_wait_request_count(rmq_mock_cluster_t *c, int broker,
                                    int32_t request_code, int64_t n,
                                    int timeout_ms) {
  if (c == NULL || (broker != RMQ_MOCK_ANY && srv_of(c, broker) == NULL))
    return -1;
  int64_t end = rmqi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&c->lock);
  int64_t got;
  while ((got = count_locked(c, broker, request_code)) < n &&
         rmqi_now_ms() < end)
    rmqi_cond_wait_until(&c->cv, &c->lock, end);
  pthread_mutex_unlock(&c->lock);
  return got;
}

void rmq_mock_clear_request_counts(rmq_mock_cluster_t *c) {
  if (c == NULL)
    return;
  pthread_mutex_lock(&c->lock);
  for (int s = 0; s <= c->n_brokers; s++) {
    c->srv[s].n_counts = 0;
    c->srv[s].total = c->srv[s].other = 0;
  }
  pthread_mutex_unlock(&c->lock);
}

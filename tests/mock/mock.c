#include "mock.h"

#include "mock/net.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_EXTRA 128 /* mock_listen_more */
#define MAX_RULES 64
#define MAX_LATER 4096

typedef struct later {
  int64_t due;
  int fd;
  uint8_t *bytes;
  size_t len;
} later_t;

typedef struct last_req {
  int32_t code;
  char keys[16][64];
  char vals[16][256];
  int n;
  uint8_t *body; /* a copy of its body, or NULL */
  size_t body_len;
} last_req_t;

struct mock {
  int lfd, port;
  int extra[MAX_EXTRA]; /* more listening sockets, same service */
  int n_extra;
  char addr[32];
  char route[1024]; /* the body of the mock_serve_route rule */
  pthread_t th;
  pthread_mutex_t lock;
  bool stop;
  bool paused; /* mock_pause_reads */
  int wake[2];
  int conns[MAX_CONNS];
  rmqi_buf_t in[MAX_CONNS];
  mock_rule_t rules[MAX_RULES];
  int used[MAX_RULES];
  int n_rules;
  later_t later[MAX_LATER];
  int n_later;
  int counts[4096];
  int oneway_counts[4096]; /* of counts: one-way requests */
  int total;
  int32_t pushed_opaque;
  int32_t reply_code;
  char reply_remark[256];
  bool have_reply;
  last_req_t last[8];
};

static void write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR)
        continue;
      return;
    }
    b += w;
    n -= (size_t)w;
  }
}

static void drop_conn(mock_t *m, int i) {
  close(m->conns[i]);
  for (int k = 0; k < m->n_later; k++)
    if (m->later[k].fd == m->conns[i])
      m->later[k].fd = -1;
  m->conns[i] = -1;
  m->in[i].len = 0;
}

static void remember(mock_t *m, const rmqi_cmd_t *c) {
  last_req_t *l = &m->last[c->code % 8];
  l->code = c->code;
  l->n = 0;
  for (uint32_t i = 0; i < c->n_ext && l->n < 16; i++) {
    if (!c->ext[i].key.p || !c->ext[i].val.p)
      continue;
    snprintf(l->keys[l->n], 64, "%s", c->ext[i].key.p);
    snprintf(l->vals[l->n], 256, "%s", c->ext[i].val.p);
    l->n++;
  }
  free(l->body);
  l->body = NULL;
  l->body_len = 0;
  if (c->body_len && (l->body = malloc(c->body_len)) != NULL) {
    memcpy(l->body, c->body, c->body_len);
    l->body_len = c->body_len;
  }
}

/* Returns false when the connection was closed. */
static bool handle(mock_t *m, int ci, rmqi_cmd_t *req) {
  int fd = m->conns[ci];
  if (rmqi_cmd_is_response(req)) {
    if (req->opaque == m->pushed_opaque) {
      m->reply_code = req->code;
      snprintf(m->reply_remark, sizeof(m->reply_remark), "%s",
               req->remark.p ? req->remark.p : "");
      m->have_reply = true;
    }
    return true;
  }
  m->counts[req->code & 4095]++;
  if (rmqi_cmd_is_oneway(req))
    m->oneway_counts[req->code & 4095]++;
  m->total++;
  remember(m, req);
  const mock_rule_t *r = NULL;
  for (int i = 0; i < m->n_rules; i++)
    if (m->rules[i].code == req->code &&
        (m->rules[i].times == 0 || m->used[i] < m->rules[i].times)) {
      m->used[i]++;
      r = &m->rules[i];
      break;
    }
  if (rmqi_cmd_is_oneway(req))
    return true;
  rmqi_cmd_t resp;
  rmqi_cmd_init_response(&resp, req, r ? r->resp_code : 0);
  resp.lang = RMQI_LANG_JAVA;
  if (r == NULL) {
    for (uint32_t i = 0; i < req->n_ext; i++)
      if (req->ext[i].key.p && req->ext[i].val.p)
        rmqi_cmd_ext_ref(&resp, req->ext[i].key.p, req->ext[i].val.p,
                         req->ext[i].val.n);
    resp.body = req->body;
    resp.body_len = req->body_len;
  } else {
    if (r->remark)
      rmqi_cmd_set_remark(&resp, r->remark, strlen(r->remark));
    for (int i = 0; i < 16 && r->ext[i][0]; i++)
      rmqi_cmd_ext_ref(&resp, r->ext[i][0], r->ext[i][1], strlen(r->ext[i][1]));
    resp.body = r->body;
    resp.body_len = r->body_len;
  }
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  /* in the request's serialization, as a 4.x broker answers */
  rmqi_cmd_encode(&b, &resp, req->ser);
  rmqi_cmd_free(&resp);
  bool alive = true;
  mock_action_t act = r ? r->action : MOCK_REPLY;
  switch (act) {
  case MOCK_REPLY:
    if (r && r->delay_ms > 0 && m->n_later < MAX_LATER) {
      m->later[m->n_later++] =
          (later_t){rmqi_now_ms() + r->delay_ms, fd, b.data, b.len};
      return true; /* buffer handed over */
    }
    write_all(fd, b.data, b.len);
    break;
  case MOCK_DROP:
    break;
  case MOCK_CLOSE:
    drop_conn(m, ci);
    alive = false;
    break;
  case MOCK_CLOSE_MIDFRAME:
    write_all(fd, b.data, b.len / 2);
    drop_conn(m, ci);
    alive = false;
    break;
  case MOCK_GARBAGE: {
    static const char junk[] = "\x00\x00\x00\x10\x05garbage-garbage!";
    write_all(fd, junk, sizeof(junk) - 1);
    break;
  }
  case MOCK_OVERSIZE: {
    static const uint8_t big[] = {0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 10};
    write_all(fd, big, sizeof(big));
    break;
  }
  }
  rmqi_buf_free(&b);
  return alive;
}

static void serve_input(mock_t *m, int ci) {
  rmqi_buf_t *in = &m->in[ci];
  rmqi_buf_reserve(in, 65536);
  ssize_t n = recv(m->conns[ci], in->data + in->len, in->cap - in->len, 0);
  if (n <= 0) {
    drop_conn(m, ci);
    return;
  }
  in->len += (size_t)n;
  size_t off = 0, fl;
  while (rmqi_frame_check(in->data + off, in->len - off, 64u << 20, &fl,
                          NULL) == RMQ_OK) {
    rmqi_cmd_t c;
    if (rmqi_cmd_decode(&c, in->data + off, fl, NULL) != RMQ_OK) {
      drop_conn(m, ci);
      return;
    }
    bool alive = handle(m, ci, &c);
    rmqi_cmd_free(&c);
    if (!alive)
      return;
    off += fl;
  }
  rmqi_buf_consume(in, off);
}

static void *mock_main(void *p) {
  mock_t *m = p;
  for (;;) {
    struct pollfd pfd[MAX_CONNS + MAX_EXTRA + 2];
    int map[MAX_CONNS + MAX_EXTRA + 2], n = 0;
    pthread_mutex_lock(&m->lock);
    if (m->stop) {
      pthread_mutex_unlock(&m->lock);
      break;
    }
    int64_t now = rmqi_now_ms(), wait = 100;
    for (int k = 0; k < m->n_later;) {
      later_t *l = &m->later[k];
      if (l->due <= now) {
        if (l->fd >= 0)
          write_all(l->fd, l->bytes, l->len);
        free(l->bytes);
        *l = m->later[--m->n_later];
      } else {
        if (l->due - now < wait)
          wait = l->due - now;
        k++;
      }
    }
    pfd[n] = (struct pollfd){m->lfd, POLLIN, 0};
    map[n++] = -1;
    pfd[n] = (struct pollfd){m->wake[0], POLLIN, 0};
    map[n++] = -2;
    for (int j = 0; j < m->n_extra; j++) {
      pfd[n] = (struct pollfd){m->extra[j], POLLIN, 0};
      map[n++] = -3 - j;
    }
    for (int i = 0; i < MAX_CONNS && !m->paused; i++)
      if (m->conns[i] >= 0) {
        pfd[n] = (struct pollfd){m->conns[i], POLLIN, 0};
        map[n++] = i;
      }
    pthread_mutex_unlock(&m->lock);
    poll(pfd, (nfds_t)n, (int)wait);
    pthread_mutex_lock(&m->lock);
    for (int k = 0; k < n; k++) {
      if (!pfd[k].revents)
        continue;
      if (map[k] == -1 || map[k] <= -3) {
        int fd =
            accept(map[k] == -1 ? m->lfd : m->extra[-3 - map[k]], NULL, NULL);
        for (int i = 0; fd >= 0 && i < MAX_CONNS; i++)
          if (m->conns[i] < 0) {
            m->conns[i] = fd;
            fd = -1;
          }
        if (fd >= 0)
          close(fd);
      } else if (map[k] == -2) {
        char b[64];
        ssize_t r = read(m->wake[0], b, sizeof(b));
        (void)r;
      } else if (m->conns[map[k]] >= 0) {
        serve_input(m, map[k]);
      }
    }
    pthread_mutex_unlock(&m->lock);
  }
  return NULL;
}

mock_t *mock_start(void) {
  mock_t *m = calloc(1, sizeof(*m));
  pthread_mutex_init(&m->lock, NULL);
  for (int i = 0; i < MAX_CONNS; i++) {
    m->conns[i] = -1;
    rmqi_buf_init(&m->in[i]);
  }
  m->port = 0;
  m->lfd = rmqi_mock_listen(&m->port);
  if (m->lfd < 0 || pipe(m->wake) != 0) {
    if (m->lfd >= 0)
      close(m->lfd);
    free(m);
    return NULL;
  }
  snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%d", m->port);
  pthread_create(&m->th, NULL, mock_main, m);
  return m;
}

static void kick(mock_t *m) {
  ssize_t w = write(m->wake[1], "x", 1);
  (void)w;
}

void mock_stop(mock_t *m) {
  if (m == NULL)
    return;
  pthread_mutex_lock(&m->lock);
  m->stop = true;
  pthread_mutex_unlock(&m->lock);
  kick(m);
  pthread_join(m->th, NULL);
  for (int i = 0; i < MAX_CONNS; i++) {
    if (m->conns[i] >= 0)
      close(m->conns[i]);
    rmqi_buf_free(&m->in[i]);
  }
  for (int k = 0; k < m->n_later; k++)
    free(m->later[k].bytes);
  for (int k = 0; k < 8; k++)
    free(m->last[k].body);
  close(m->lfd);
  for (int j = 0; j < m->n_extra; j++)
    close(m->extra[j]);
  close(m->wake[0]);
  close(m->wake[1]);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

int mock_listen_more(mock_t *m) {
  int port = 0, fd = rmqi_mock_listen(&port);
  if (fd < 0)
    return -1;
  pthread_mutex_lock(&m->lock);
  if (m->n_extra == MAX_EXTRA) {
    pthread_mutex_unlock(&m->lock);
    close(fd);
    return -1;
  }
  m->extra[m->n_extra++] = fd;
  pthread_mutex_unlock(&m->lock);
  ssize_t w = write(m->wake[1], "x", 1); /* poll the new socket too */
  (void)w;
  return port;
}

int mock_port(const mock_t *m) {
  return m->port;
}
const char *mock_addr(const mock_t *m) {
  return m->addr;
}

void mock_add_rule(mock_t *m, const mock_rule_t *rule) {
  pthread_mutex_lock(&m->lock);
  if (m->n_rules < MAX_RULES) {
    m->used[m->n_rules] = 0;
    m->rules[m->n_rules++] = *rule;
  }
  pthread_mutex_unlock(&m->lock);
}

void mock_pause_reads(mock_t *m, bool paused) {
  pthread_mutex_lock(&m->lock);
  m->paused = paused;
  pthread_mutex_unlock(&m->lock);
  kick(m); /* poll again with the new set */
}

void mock_clear_rules(mock_t *m) {
  pthread_mutex_lock(&m->lock);
  m->n_rules = 0;
  pthread_mutex_unlock(&m->lock);
}

int mock_count(mock_t *m, int32_t code) {
  pthread_mutex_lock(&m->lock);
  int n = code < 0 ? m->total : m->counts[code & 4095];
  pthread_mutex_unlock(&m->lock);
  return n;
}

int mock_count_oneway(mock_t *m, int32_t code) {
  pthread_mutex_lock(&m->lock);
  int n = m->oneway_counts[code & 4095];
  pthread_mutex_unlock(&m->lock);
  return n;
}

int mock_count_twoway(mock_t *m, int32_t code) {
  pthread_mutex_lock(&m->lock); /* both counts at one moment */
  int n = m->counts[code & 4095] - m->oneway_counts[code & 4095];
  pthread_mutex_unlock(&m->lock);
  return n;
}

int mock_wait_count(mock_t *m, int32_t code, int n, int timeout_ms) {
  int64_t end = rmqi_now_ms() + timeout_ms;
  int got;
  while ((got = mock_count(m, code)) < n && rmqi_now_ms() < end)
    usleep(10 * 1000);
  return got;
}

static void push_full(mock_t *m, int32_t code, bool oneway,
                      const char *const ext[][2], size_t n_ext,
                      const uint8_t *body, size_t body_len) {
  pthread_mutex_lock(&m->lock);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, code);
  for (size_t i = 0; i < n_ext && ext[i][0]; i++)
    rmqi_cmd_ext_ref(&c, ext[i][0], ext[i][1], strlen(ext[i][1]));
  c.body = body;
  c.body_len = body_len;
  c.lang = RMQI_LANG_JAVA;
  c.opaque = m->pushed_opaque = 424242;
  if (oneway)
    c.flag = RMQI_FLAG_ONEWAY;
  m->have_reply = false;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_cmd_encode(&b, &c, RMQI_SER_JSON);
  for (int i = 0; i < MAX_CONNS; i++)
    if (m->conns[i] >= 0)
      write_all(m->conns[i], b.data, b.len);
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
  pthread_mutex_unlock(&m->lock);
}

static void push(mock_t *m, int32_t code, bool oneway, const char *key,
                 const char *value) {
  const char *ext[1][2] = {{key, value}};
  push_full(m, code, oneway, ext, key ? 1 : 0, NULL, 0);
}

void mock_push_req(mock_t *m, int32_t code, bool oneway,
                   const char *const ext[][2], const uint8_t *body,
                   size_t body_len) {
  size_t n = 0;
  while (ext && ext[n][0])
    n++;
  push_full(m, code, oneway, ext, n, body, body_len);
}

void mock_push(mock_t *m, int32_t code, bool oneway) {
  push(m, code, oneway, NULL, NULL);
}

void mock_push_ext(mock_t *m, int32_t code, const char *key,
                   const char *value) {
  push(m, code, true, key, value);
}

int mock_last_reply(mock_t *m, int32_t *code, char *remark, size_t n) {
  pthread_mutex_lock(&m->lock);
  int have = m->have_reply;
  if (have) {
    *code = m->reply_code;
    snprintf(remark, n, "%s", m->reply_remark);
  }
  pthread_mutex_unlock(&m->lock);
  return have;
}

bool mock_last_ext(mock_t *m, int32_t code, const char *key, char *out,
                   size_t n) {
  pthread_mutex_lock(&m->lock);
  last_req_t *l = &m->last[code % 8];
  bool found = false;
  for (int i = 0; l->code == code && i < l->n; i++)
    if (strcmp(l->keys[i], key) == 0) {
      snprintf(out, n, "%s", l->vals[i]);
      found = true;
    }
  pthread_mutex_unlock(&m->lock);
  return found;
}

size_t mock_last_body(mock_t *m, int32_t code, char *out, size_t n) {
  pthread_mutex_lock(&m->lock);
  last_req_t *l = &m->last[code % 8];
  size_t k = 0;
  if (l->code == code && n) {
    k = l->body_len < n - 1 ? l->body_len : n - 1;
    if (k)
      memcpy(out, l->body, k);
  }
  if (n)
    out[k] = '\0';
  pthread_mutex_unlock(&m->lock);
  return k;
}

void mock_serve_route(mock_t *m, const char *broker, const char *master,
                      const char *slave, int queues) {
  char slave_entry[96] = "";
  if (slave)
    snprintf(slave_entry, sizeof(slave_entry), ",\"1\":\"%s\"", slave);
  int n = snprintf(m->route, sizeof(m->route),
                   "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"%s\"%s},"
                   "\"brokerName\":\"%s\",\"cluster\":\"C\"}],\"queueDatas\":[{"
                   "\"brokerName\":\"%s\",\"perm\":6,\"readQueueNums\":%d,"
                   "\"topicSysFlag\":0,\"writeQueueNums\":%d}]}",
                   master, slave_entry, broker, broker, queues, queues);
  mock_add_rule(m, &(mock_rule_t){.code = 105,
                                  .body = (const uint8_t *)m->route,
                                  .body_len = (size_t)n});
}

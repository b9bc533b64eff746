#include "addrsrv.h"
#include "../codec/nsaddr.h"
#include "../util/err.h"
#include "../util/time.h"
#include "nslist.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Shared by the client and the thread (refs), so that a thread stuck in
 * getaddrinfo past stop can be detached and free this alone. */
struct rmqi_addrsrv {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int refs;
  bool stop, first_done, in_gai;
  int wake[2]; /* a pipe: stop writes, the fetch's poll wakes */
  pthread_t th;
  char host[300], path[600];
  int64_t interval_ms, timeout_ms;
  rmqi_log_t log;
  rmqi_addrsrv_fn fn;
  void *arg;
};

void rmqi_addrsrv_url(const char *domain, const char *subgroup,
                      const char *unit, char *host, size_t host_n, char *path,
                      size_t path_n) {
  /* MixAll.getWSAddr: port 8080 unless the domain holds a ':' after its
   * first character (then it names its port: host:port, [v6]:port) */
  const char *colon = strchr(domain, ':');
  snprintf(host, host_n, colon && colon > domain ? "%s" : "%s:8080", domain);
  /* TopAddressing.fetchNSAddr: a unit name selects "<url>-<unit>?nofix=1" */
  if (unit && *unit)
    snprintf(path, path_n, "/rocketmq/%s-%s?nofix=1", subgroup, unit);
  else
    snprintf(path, path_n, "/rocketmq/%s", subgroup);
}

/* Waits for @p events on @p fd or the wake pipe until @p deadline. */
static int wait_fd(int fd, short events, int wake_fd, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - rmqi_now_ms();
    if (left <= 0)
      return RMQ_ERR_TIMEOUT;
    struct pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int k = poll(p, wake_fd >= 0 ? 2 : 1, (int)RMQI_MIN(left, 1000));
    if (k < 0 && errno != EINTR)
      return RMQ_ERR_IO;
    if (k > 0 && wake_fd >= 0 && p[1].revents)
      return RMQ_ERR_SHUTDOWN;
    if (k > 0 && p[0].revents)
      return RMQ_OK;
  }
}

/* Splits "host:port" / "[v6]:port" into its parts. */
static bool split_host(const char *hp, char *host, size_t hn, char *port,
                       size_t pn) {
  const char *colon = strrchr(hp, ':');
  if (colon == NULL || colon == hp)
    return false;
  const char *h = hp;
  size_t len = (size_t)(colon - hp);
  if (h[0] == '[' && len >= 2 && h[len - 1] == ']') {
    h++;
    len -= 2;
  }
  if (len >= hn || strlen(colon + 1) >= pn)
    return false;
  memcpy(host, h, len);
  host[len] = '\0';
  snprintf(port, pn, "%s", colon + 1);
  return true;
}

/* Connects to one address, sends @p req and reads until the peer closes;
 * the response goes into @p buf (at most @p cap bytes). */
static rmq_err_t exchange(const struct addrinfo *ai, const char *req,
                          size_t req_len, int wake_fd, int64_t deadline,
                          char *buf, size_t cap, size_t *got, char *err,
                          size_t err_n) {
  int fd =
      socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    rmqi_errstr(err, err_n, "socket failed (errno %d)", errno);
    return RMQ_ERR_CONNECT;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  rmq_err_t rc = RMQ_OK;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    rmqi_errstr(err, err_n, "connect failed (errno %d)", errno);
    rc = RMQ_ERR_CONNECT;
  }
  if (rc == RMQ_OK && (rc = wait_fd(fd, POLLOUT, wake_fd, deadline)) == 0) {
    int so = 0;
    socklen_t sl = sizeof(so);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
    if (so != 0) {
      rmqi_errstr(err, err_n, "connect failed (errno %d)", so);
      rc = RMQ_ERR_CONNECT;
    }
  } else if (rc == RMQ_ERR_TIMEOUT) {
    rmqi_errstr(err, err_n, "connect timed out");
  }
  for (size_t sent = 0; rc == RMQ_OK && sent < req_len;) {
    ssize_t k = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
    if (k > 0)
      sent += (size_t)k;
    else if (k < 0 && (errno == EAGAIN || errno == EINTR))
      rc = wait_fd(fd, POLLOUT, wake_fd, deadline);
    else {
      rmqi_errstr(err, err_n, "send failed (errno %d)", errno);
      rc = RMQ_ERR_CONN_LOST;
    }
  }
  *got = 0;
  while (rc == RMQ_OK) {
    if (*got == cap) {
      rmqi_errstr(err, err_n, "answer longer than %d bytes", RMQI_NSADDR_MAX);
      rc = RMQ_ERR_LIMIT;
      break;
    }
    ssize_t k = recv(fd, buf + *got, cap - *got, 0);
    if (k > 0)
      *got += (size_t)k;
    else if (k == 0)
      break; /* HTTP/1.0: the end of the answer */
    else if (errno == EAGAIN || errno == EINTR)
      rc = wait_fd(fd, POLLIN, wake_fd, deadline);
    else {
      rmqi_errstr(err, err_n, "receive failed (errno %d)", errno);
      rc = RMQ_ERR_CONN_LOST;
    }
  }
  if (rc == RMQ_ERR_TIMEOUT)
    rmqi_errstr(err, err_n, "timed out");
  close(fd);
  return rc;
}

/* Resolves with a->in_gai set (stop detaches rather than waiting). */
static int resolve(rmqi_addrsrv_t *a, const char *h, const char *p,
                   struct addrinfo **res) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_ADDRCONFIG};
  if (a) {
    pthread_mutex_lock(&a->lock);
    a->in_gai = true;
    pthread_mutex_unlock(&a->lock);
  }
  int g = getaddrinfo(h, p, &hints, res);
  if (a) {
    pthread_mutex_lock(&a->lock);
    a->in_gai = false;
    pthread_mutex_unlock(&a->lock);
  }
  return g;
}

static rmq_err_t fetch(rmqi_addrsrv_t *a, const char *hostport,
                       const char *path, int64_t timeout_ms, int wake_fd,
                       char *out, size_t out_n, char *err, size_t err_n) {
  int64_t deadline = rmqi_now_ms() + timeout_ms;
  char host[280], port[16], req[1024];
  size_t req_len = rmqi_nsaddr_request(hostport, path, req, sizeof(req));
  if (!split_host(hostport, host, sizeof(host), port, sizeof(port)) ||
      req_len == 0) {
    rmqi_errstr(err, err_n, "bad address server %s", hostport);
    return RMQ_ERR_INVALID_ARG;
  }
  struct addrinfo *res = NULL;
  int g = resolve(a, host, port, &res);
  if (g != 0) {
    rmqi_errstr(err, err_n, "cannot resolve %s: %s", host, gai_strerror(g));
    return RMQ_ERR_CONNECT;
  }
  char *buf = malloc(RMQI_NSADDR_MAX);
  rmq_err_t rc = buf ? RMQ_ERR_CONNECT : RMQ_ERR_NOMEM;
  size_t got = 0;
  for (struct addrinfo *ai = res;
       ai && buf && rc != RMQ_OK && rc != RMQ_ERR_SHUTDOWN &&
       rc != RMQ_ERR_TIMEOUT;
       ai = ai->ai_next)
    rc = exchange(ai, req, req_len, wake_fd, deadline, buf, RMQI_NSADDR_MAX,
                  &got, err, err_n);
  freeaddrinfo(res);
  if (rc == RMQ_OK) {
    const char *list;
    size_t n;
    rmqi_errbuf_t e;
    rc = rmqi_nsaddr_parse(buf, got, &list, &n, &e);
    if (rc != RMQ_OK)
      rmqi_errstr(err, err_n, "%s", e.msg);
    else if (n >= out_n) {
      rmqi_errstr(err, err_n, "name server list too long");
      rc = RMQ_ERR_LIMIT;
    } else {
      memcpy(out, list, n);
      out[n] = '\0';
      char why[160];
      if (n == 0 || !rmqi_nslist_check(out, "served", why, sizeof(why))) {
        rmqi_errstr(err, err_n, "%s", n ? why : "empty name server list");
        rc = RMQ_ERR_BAD_RESPONSE;
      }
    }
  }
  free(buf);
  return rc;
}

rmq_err_t rmqi_addrsrv_fetch_once(const char *host, const char *path,
                                  int64_t timeout_ms, int wake_fd, char *out,
                                  size_t out_n, char *err, size_t err_n) {
  return fetch(NULL, host, path, timeout_ms, wake_fd, out, out_n, err, err_n);
}

static void unref(rmqi_addrsrv_t *a) {
  pthread_mutex_lock(&a->lock);
  bool last = --a->refs == 0;
  pthread_mutex_unlock(&a->lock);
  if (!last)
    return;
  close(a->wake[0]);
  close(a->wake[1]);
  pthread_cond_destroy(&a->cond);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

static void *main_fn(void *arg) {
  rmqi_addrsrv_t *a = arg;
  char *list = malloc(RMQI_NSADDR_MAX);
  pthread_mutex_lock(&a->lock);
  while (!a->stop && list) {
    pthread_mutex_unlock(&a->lock);
    char err[256] = "";
    rmq_err_t rc = fetch(a, a->host, a->path, a->timeout_ms, a->wake[0], list,
                         RMQI_NSADDR_MAX, err, sizeof(err));
    pthread_mutex_lock(&a->lock);
    if (a->stop)
      break;
    if (rc == RMQ_OK)
      a->fn(a->arg, list); /* under lock: stop waits for it */
    else
      rmqi_log(&a->log, RMQ_LOG_WARN, "namesrv",
               "address server http://%s%s: %s (%s)", a->host, a->path, err,
               rmq_err_name(rc));
    a->first_done = true;
    pthread_cond_broadcast(&a->cond);
    int64_t next = rmqi_now_ms() + a->interval_ms;
    while (!a->stop && rmqi_now_ms() < next)
      rmqi_cond_wait_until(&a->cond, &a->lock, next);
  }
  a->first_done = true;
  pthread_cond_broadcast(&a->cond);
  pthread_mutex_unlock(&a->lock);
  free(list);
  unref(a);
  return NULL;
}

rmq_err_t rmqi_addrsrv_start(rmqi_addrsrv_t **out,
                             const rmqi_addrsrv_opts_t *o) {
  rmqi_addrsrv_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return RMQ_ERR_NOMEM;
  if (pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    free(a);
    return RMQ_ERR_IO;
  }
  pthread_mutex_init(&a->lock, NULL);
  rmqi_cond_init_mono(&a->cond);
  rmqi_addrsrv_url(o->domain, o->subgroup, o->unit, a->host, sizeof(a->host),
                   a->path, sizeof(a->path));
  a->interval_ms = o->interval_ms;
  a->timeout_ms = o->timeout_ms;
  a->log = *o->log;
  a->fn = o->fn;
  a->arg = o->arg;
  a->refs = 2; /* the client's and the thread's */
  if (pthread_create(&a->th, NULL, main_fn, a) != 0) {
    a->refs = 1;
    unref(a);
    return RMQ_ERR_NOMEM;
  }
  int64_t until = rmqi_now_ms() + o->timeout_ms + 100;
  pthread_mutex_lock(&a->lock);
  while (!a->first_done && rmqi_now_ms() < until)
    rmqi_cond_wait_until(&a->cond, &a->lock, until);
  pthread_mutex_unlock(&a->lock);
  *out = a;
  return RMQ_OK;
}

void rmqi_addrsrv_stop(rmqi_addrsrv_t *a) {
  if (a == NULL)
    return;
  pthread_mutex_lock(&a->lock);
  a->stop = true;
  bool detach = a->in_gai;
  pthread_cond_broadcast(&a->cond);
  pthread_mutex_unlock(&a->lock);
  ssize_t k = write(a->wake[1], "x", 1);
  (void)k;
  if (detach)
    pthread_detach(a->th);
  else
    pthread_join(a->th, NULL);
  unref(a);
}

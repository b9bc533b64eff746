#include "loop.h"

#include "../util/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct rmqi_timer {
  int64_t due_ms;
  int64_t period_ms;
  rmqi_loop_fn fn;
  void *arg;
  bool cancelled;
};

/* What epoll_event.data points at: one per watched fd. */
typedef struct watch {
  int fd;
  rmqi_io_fn fn;
  void *arg;
  struct watch *next;
} watch_t;

typedef struct post {
  rmqi_loop_fn fn;
  void *arg;
} post_t;

struct rmqi_loop {
  int ep, efd;
  pthread_t thread;
  bool started;
  /* The loop thread's own id: written by that thread before it publishes
   * tid_ok (release); read only after tid_ok is seen true (acquire). */
  pthread_t tid;
  _Atomic bool tid_ok;
  pthread_mutex_t lock; /* posts, stop */
  post_t *posts;
  size_t n_posts, cap_posts;
  rmqi_loop_node_t *nodes, **nodes_tail; /* rmqi_loop_post_node's, FIFO */
  bool stop; /* set once by rmqi_loop_stop: posts are refused after it */
  watch_t *watches;
  watch_t *graveyard;    /* removed during an epoll batch; freed after it */
  rmqi_timer_t **timers; /* small: periodic jobs and a few one-shots */
  size_t n_timers, cap_timers;
};

rmq_err_t rmqi_loop_new(rmqi_loop_t **out) {
  rmqi_loop_t *l = calloc(1, sizeof(*l));
  if (l == NULL)
    return RMQ_ERR_NOMEM;
  pthread_mutex_init(&l->lock, NULL);
  l->nodes_tail = &l->nodes;
  l->ep = epoll_create1(EPOLL_CLOEXEC);
  l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (l->ep < 0 || l->efd < 0 ||
      epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ev) != 0) {
    rmqi_loop_free(l);
    return RMQ_ERR_IO;
  }
  *out = l;
  return RMQ_OK;
}

void rmqi_loop_free(rmqi_loop_t *l) {
  if (l == NULL)
    return;
  if (l->ep >= 0)
    close(l->ep);
  if (l->efd >= 0)
    close(l->efd);
  watch_t *lists[2] = {l->watches, l->graveyard};
  for (int i = 0; i < 2; i++)
    while (lists[i]) {
      watch_t *w = lists[i];
      lists[i] = w->next;
      free(w);
    }
  for (size_t i = 0; i < l->n_timers; i++)
    free(l->timers[i]);
  free(l->timers);
  free(l->posts);
  pthread_mutex_destroy(&l->lock);
  free(l);
}

bool rmqi_loop_on_thread(const rmqi_loop_t *l) {
  return atomic_load_explicit(&l->tid_ok, memory_order_acquire) &&
         pthread_equal(pthread_self(), l->tid);
}

static void wake_up(rmqi_loop_t *l) {
  uint64_t one = 1;
  ssize_t w = write(l->efd, &one, sizeof(one));
  (void)w;
}

rmq_err_t rmqi_loop_post(rmqi_loop_t *l, rmqi_loop_fn fn, void *arg) {
  pthread_mutex_lock(&l->lock);
  if (l->stop) { /* nobody would run it */
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_SHUTDOWN;
  }
  if (l->n_posts == l->cap_posts) {
    size_t cap = l->cap_posts ? l->cap_posts * 2 : 64;
    post_t *p = realloc(l->posts, cap * sizeof(*p));
    if (p == NULL) {
      pthread_mutex_unlock(&l->lock);
      return RMQ_ERR_NOMEM;
    }
    l->posts = p;
    l->cap_posts = cap;
  }
  bool wake = l->n_posts == 0 && l->nodes == NULL;
  l->posts[l->n_posts++] = (post_t){fn, arg};
  pthread_mutex_unlock(&l->lock);
  if (wake)
    wake_up(l);
  return RMQ_OK;
}

rmq_err_t rmqi_loop_post_node(rmqi_loop_t *l, rmqi_loop_node_t *n) {
  pthread_mutex_lock(&l->lock);
  if (l->stop) {
    pthread_mutex_unlock(&l->lock);
    return RMQ_ERR_SHUTDOWN;
  }
  bool wake = l->n_posts == 0 && l->nodes == NULL;
  n->next = NULL;
  *l->nodes_tail = n;
  l->nodes_tail = &n->next;
  pthread_mutex_unlock(&l->lock);
  if (wake)
    wake_up(l);
  return RMQ_OK;
}

/* Runs the posted closures; returns false once stop was requested. */
static bool run_posts(rmqi_loop_t *l) {
  pthread_mutex_lock(&l->lock);
  post_t *batch = l->posts;
  size_t n = l->n_posts;
  rmqi_loop_node_t *nodes = l->nodes;
  bool stop = l->stop;
  l->posts = NULL;
  l->n_posts = l->cap_posts = 0;
  l->nodes = NULL;
  l->nodes_tail = &l->nodes;
  pthread_mutex_unlock(&l->lock);
  for (size_t i = 0; i < n; i++)
    batch[i].fn(batch[i].arg);
  free(batch);
  while (nodes) { /* the node is its owner's once its closure runs */
    rmqi_loop_node_t *x = nodes;
    nodes = x->next;
    x->fn(x->arg);
  }
  return !stop;
}

static int64_t run_timers(rmqi_loop_t *l) {
  int64_t now = rmqi_now_ms(), next = now + 1000;
  /* Fire due timers; a callback may add or cancel timers, so index. */
  for (size_t i = 0; i < l->n_timers; i++) {
    rmqi_timer_t *t = l->timers[i];
    if (t->cancelled || t->due_ms > now)
      continue;
    if (t->period_ms > 0)
      t->due_ms = now + t->period_ms;
    else
      t->cancelled = true;
    t->fn(t->arg);
  }
  size_t k = 0;
  for (size_t i = 0; i < l->n_timers; i++) {
    rmqi_timer_t *t = l->timers[i];
    if (t->cancelled) {
      free(t);
      continue;
    }
    if (t->due_ms < next)
      next = t->due_ms;
    l->timers[k++] = t;
  }
  l->n_timers = k;
  return next - rmqi_now_ms();
}

static void *loop_main(void *p) {
  rmqi_loop_t *l = p;
  struct epoll_event evs[64];
  l->tid = pthread_self();
  atomic_store_explicit(&l->tid_ok, true, memory_order_release);
  for (;;) {
    int64_t wait = run_timers(l);
    int n = epoll_wait(l->ep, evs, 64, wait < 0 ? 0 : (int)wait);
    for (int i = 0; i < n; i++) {
      watch_t *w = evs[i].data.ptr;
      if (w == NULL) {
        uint64_t v;
        ssize_t r = read(l->efd, &v, sizeof(v));
        (void)r;
        continue;
      }
      if (w->fn) /* NULL: removed earlier in this batch */
        w->fn(w->arg, evs[i].events);
    }
    while (l->graveyard) {
      watch_t *g = l->graveyard;
      l->graveyard = g->next;
      free(g);
    }
    if (!run_posts(l))
      break;
  }
  return NULL;
}

rmq_err_t rmqi_loop_start(rmqi_loop_t *l) {
  if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
    return RMQ_ERR_NOMEM;
  l->started = true;
  return RMQ_OK;
}

void rmqi_loop_stop(rmqi_loop_t *l) {
  pthread_mutex_lock(&l->lock);
  l->stop = true; /* from here rmqi_loop_post refuses */
  pthread_mutex_unlock(&l->lock);
  if (l->started) {
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof(one));
    (void)w;
    pthread_join(l->thread, NULL);
    l->started = false;
    atomic_store_explicit(&l->tid_ok, false, memory_order_release);
  }
  /* Whatever was accepted before stop and not yet run (the loop's last
   * round ran its batch; a loop never started ran nothing) runs here. */
  run_posts(l);
}

static watch_t *find_watch(rmqi_loop_t *l, int fd, watch_t ***link) {
  watch_t **pp = &l->watches;
  while (*pp && (*pp)->fd != fd)
    pp = &(*pp)->next;
  if (link)
    *link = pp;
  return *pp;
}

rmq_err_t rmqi_loop_add_fd(rmqi_loop_t *l, int fd, uint32_t events,
                           rmqi_io_fn fn, void *arg) {
  watch_t *w = malloc(sizeof(*w));
  if (w == NULL)
    return RMQ_ERR_NOMEM;
  *w = (watch_t){fd, fn, arg, l->watches};
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free(w);
    return RMQ_ERR_IO;
  }
  l->watches = w;
  return RMQ_OK;
}

rmq_err_t rmqi_loop_mod_fd(rmqi_loop_t *l, int fd, uint32_t events,
                           rmqi_io_fn fn, void *arg) {
  watch_t *w = find_watch(l, fd, NULL);
  if (w == NULL)
    return RMQ_ERR_NOT_FOUND;
  w->fn = fn;
  w->arg = arg;
  struct epoll_event ev = {.events = events, .data.ptr = w};
  return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) == 0 ? RMQ_OK : RMQ_ERR_IO;
}

void rmqi_loop_del_fd(rmqi_loop_t *l, int fd) {
  watch_t **link;
  watch_t *w = find_watch(l, fd, &link);
  if (w == NULL)
    return;
  epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
  *link = w->next;
  /* An event for it may still sit in the current epoll batch. */
  w->fn = NULL;
  w->next = l->graveyard;
  l->graveyard = w;
}

rmqi_timer_t *rmqi_loop_timer(rmqi_loop_t *l, int64_t first_ms,
                              int64_t period_ms, rmqi_loop_fn fn, void *arg) {
  if (l->n_timers == l->cap_timers) {
    size_t cap = l->cap_timers ? l->cap_timers * 2 : 16;
    rmqi_timer_t **t = realloc(l->timers, cap * sizeof(*t));
    if (t == NULL)
      return NULL;
    l->timers = t;
    l->cap_timers = cap;
  }
  rmqi_timer_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  *t = (rmqi_timer_t){rmqi_now_ms() + first_ms, period_ms, fn, arg, false};
  l->timers[l->n_timers++] = t;
  return t;
}

void rmqi_loop_timer_cancel(rmqi_loop_t *l, rmqi_timer_t *t) {
  (void)l;
  if (t)
    t->cancelled = true;
}

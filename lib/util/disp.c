#include "disp.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static bool push(rmqi_disp_t *d, rmqi_fn fn, void *arg) {
  if (d->len == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 256;
    rmqi_job_t *r = malloc(cap * sizeof(*r));
    if (r == NULL)
      return false;
    for (size_t i = 0; i < d->len; i++)
      r[i] = d->ring[(d->head + i) % d->cap];
    free(d->ring);
    d->ring = r;
    d->cap = cap;
    d->head = 0;
  }
  d->ring[(d->head + d->len) % d->cap] = (rmqi_job_t){fn, arg};
  d->len++;
  return true;
}

static rmqi_job_t pop(rmqi_disp_t *d) {
  rmqi_job_t j = d->ring[d->head];
  d->head = (d->head + 1) % d->cap;
  d->len--;
  return j;
}

static void *worker(void *p) {
  rmqi_disp_t *d = p;
  pthread_mutex_lock(&d->lock);
  for (;;) {
    while (d->len == 0 && !d->stopping) {
      d->waiting++;
      pthread_cond_wait(&d->cond, &d->lock);
      d->waiting--;
    }
    if (d->len == 0)
      break; /* stopping and drained */
    rmqi_job_t j = pop(d);
    d->running++;
    pthread_mutex_unlock(&d->lock);
    j.fn(j.arg);
    pthread_mutex_lock(&d->lock);
    d->running--;
    if (d->len == 0 && d->running == 0)
      pthread_cond_broadcast(&d->idle);
  }
  pthread_mutex_unlock(&d->lock);
  return NULL;
}

rmq_err_t rmqi_disp_init(rmqi_disp_t *d, size_t threads) {
  memset(d, 0, sizeof(*d));
  d->efd = -1;
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->cond, NULL);
  pthread_cond_init(&d->idle, NULL);
  d->poll_mode = threads == 0;
  if (d->poll_mode) {
    d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return d->efd < 0 ? RMQ_ERR_IO : RMQ_OK;
  }
  d->threads = calloc(threads, sizeof(pthread_t));
  if (d->threads == NULL)
    return RMQ_ERR_NOMEM;
  for (size_t i = 0; i < threads; i++) {
    if (pthread_create(&d->threads[i], NULL, worker, d) != 0) {
      rmqi_disp_destroy(d);
      return RMQ_ERR_NOMEM;
    }
    d->n_threads++;
  }
  return RMQ_OK;
}

static void efd_clear(int efd) {
  uint64_t v;
  while (read(efd, &v, sizeof(v)) == sizeof(v))
    ;
}

bool rmqi_disp_on_worker(rmqi_disp_t *d) {
  /* The thread array is written before any worker runs and only read
   * afterwards, until rmqi_disp_destroy. */
  for (size_t i = 0; i < d->n_threads; i++)
    if (pthread_equal(pthread_self(), d->threads[i]))
      return true;
  return false;
}

rmq_err_t rmqi_disp_close(rmqi_disp_t *d) {
  if (rmqi_disp_on_worker(d))
    return RMQ_ERR_STATE; /* joining ourselves would deadlock */
  pthread_mutex_lock(&d->lock);
  if (d->closed) {
    pthread_mutex_unlock(&d->lock);
    return RMQ_OK;
  }
  d->stopping = true;
  pthread_cond_broadcast(&d->cond);
  pthread_mutex_unlock(&d->lock);
  /* The workers leave once the queue is empty: what was queued before
   * stopping runs; nothing new gets in. */
  for (size_t i = 0; i < d->n_threads; i++)
    pthread_join(d->threads[i], NULL);
  /* Poll mode: nobody will poll again; run what is left so every callback
   * still fires exactly once. */
  pthread_mutex_lock(&d->lock);
  while (d->len) {
    rmqi_job_t j = pop(d);
    pthread_mutex_unlock(&d->lock);
    j.fn(j.arg);
    pthread_mutex_lock(&d->lock);
  }
  d->closed = true;
  pthread_mutex_unlock(&d->lock);
  return RMQ_OK;
}

void rmqi_disp_destroy(rmqi_disp_t *d) {
  if (rmqi_disp_close(d) != RMQ_OK)
    return;
  free(d->threads);
  free(d->ring);
  if (d->efd >= 0)
    close(d->efd);
  pthread_cond_destroy(&d->idle);
  pthread_cond_destroy(&d->cond);
  pthread_mutex_destroy(&d->lock);
  d->threads = NULL;
  d->n_threads = 0;
  d->ring = NULL;
  d->efd = -1;
}

rmq_err_t rmqi_disp_submit(rmqi_disp_t *d, rmqi_fn fn, void *arg) {
  pthread_mutex_lock(&d->lock);
  if (d->stopping) {
    pthread_mutex_unlock(&d->lock);
    return RMQ_ERR_SHUTDOWN;
  }
  bool was_empty = d->len == 0;
  if (!push(d, fn, arg)) {
    pthread_mutex_unlock(&d->lock);
    return RMQ_ERR_NOMEM;
  }
  if (d->poll_mode) {
    if (was_empty) {
      uint64_t one = 1;
      ssize_t w = write(d->efd, &one, sizeof(one));
      (void)w;
    }
    pthread_cond_signal(&d->cond);
  } else if (d->waiting > 0) {
    /* Busy workers pick the job up when they finish theirs: wake one only
     * when one sleeps, saving a futex call per callback under load. */
    pthread_cond_signal(&d->cond);
  }
  pthread_mutex_unlock(&d->lock);
  return RMQ_OK;
}

bool rmqi_disp_must_serve(rmqi_disp_t *d) {
  if (!d->poll_mode)
    return false;
  pthread_mutex_lock(&d->lock);
  bool serve = !d->polled || pthread_equal(d->poller, pthread_self());
  pthread_mutex_unlock(&d->lock);
  return serve;
}

int rmqi_disp_poll(rmqi_disp_t *d, int timeout_ms) {
  if (!d->poll_mode)
    return 0;
  int ran = 0;
  pthread_mutex_lock(&d->lock);
  d->polled = true;
  d->poller = pthread_self();
  if (d->len == 0 && timeout_ms != 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (timeout_ms > 0) {
      ts.tv_sec += timeout_ms / 1000;
      ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
    }
    while (d->len == 0 && !d->stopping) {
      int rc = timeout_ms < 0 ? pthread_cond_wait(&d->cond, &d->lock)
                              : pthread_cond_timedwait(&d->cond, &d->lock, &ts);
      if (rc == ETIMEDOUT)
        break;
    }
  }
  /* Run only what was queued when we started, so a callback that submits
   * again cannot keep us here forever. */
  size_t n = d->len;
  while (n-- > 0 && d->len) {
    rmqi_job_t j = pop(d);
    if (d->len == 0)
      efd_clear(d->efd);
    pthread_mutex_unlock(&d->lock);
    j.fn(j.arg);
    ran++;
    pthread_mutex_lock(&d->lock);
  }
  if (d->len == 0)
    efd_clear(d->efd);
  pthread_mutex_unlock(&d->lock);
  return ran;
}

int rmqi_thread_count(void) {
  DIR *dir = opendir("/proc/self/task");
  if (dir == NULL)
    return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(dir);
  return n;
}

int rmqi_thread_count_settled(int want, int ms) {
  int n = rmqi_thread_count();
  for (int t = 0; n != want && t < ms; t++) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
    n = rmqi_thread_count();
  }
  return n;
}

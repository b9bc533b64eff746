/* Clocks: monotonic for deadlines, wall clock for timestamps on the wire. */
#ifndef RMQI_TIME_H
#define RMQI_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t rmqi_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int64_t rmqi_now_ms(void) { return rmqi_now_ns() / 1000000; }
static inline int64_t rmqi_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Condition variables timed on CLOCK_MONOTONIC, so that wall-clock jumps
 * neither shorten nor stretch a wait. */
#include <pthread.h>
static inline void rmqi_cond_init_mono(pthread_cond_t *cv) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(cv, &a);
  pthread_condattr_destroy(&a);
}
/* Waits on @p cv (made by rmqi_cond_init_mono) until woken or until
 * rmqi_now_ms() reaches @p deadline_ms. */
static inline void rmqi_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *m,
                                        int64_t deadline_ms) {
  struct timespec ts = {(time_t)(deadline_ms / 1000),
                        (long)(deadline_ms % 1000) * 1000000};
  pthread_cond_timedwait(cv, m, &ts);
}

#endif

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

#endif

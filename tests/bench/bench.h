/* Measures shared by the benchmark programs: wall and CPU clocks, memory. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* user + system time of the whole process (every thread) */
static inline int64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* A "kB" line of /proc/self/status (VmRSS: now, VmHWM: peak), -1 if none. */
static inline long status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, key, n) == 0)
      v = strtol(line + n, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

static inline long rss_kib(void) {
  return status_kib("VmRSS:");
}

#endif

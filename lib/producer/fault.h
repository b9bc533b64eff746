/*
 * Latency fault tolerance (client-behaviour.md §3, Java MQFaultStrategy and
 * LatencyFaultToleranceImpl, 5.x tables): after each send attempt the
 * broker's latency (or an isolation mark for failures) maps to a period
 * during which the broker is avoided. Thread-safe; one per producer.
 */
#ifndef RMQI_PRODUCER_FAULT_H
#define RMQI_PRODUCER_FAULT_H

#include "../util/common.h"

#include <pthread.h>

typedef struct rmqi_fault_item {
  char *broker;
  int64_t available_at_ms; /* avoided until then */
  bool reachable;
} rmqi_fault_item_t;

typedef struct rmqi_fault {
  pthread_mutex_t lock;
  rmqi_fault_item_t *items;
  size_t n, cap;
} rmqi_fault_t;

void rmqi_fault_init(rmqi_fault_t *f);
void rmqi_fault_free(rmqi_fault_t *f);

/* The avoidance period Java computes for @p latency_ms, or for a failure
 * when @p isolation (5.x tables). */
int64_t rmqi_fault_duration(int64_t latency_ms, bool isolation);

/* Records the outcome of an attempt at @p now_ms. The avoidance period is
 * never shortened by a later, better outcome that ends sooner (as Java). */
void rmqi_fault_update(rmqi_fault_t *f, const char *broker, int64_t latency_ms,
                       bool isolation, bool reachable, int64_t now_ms);

/* True when @p broker is not being avoided at @p now_ms. */
bool rmqi_fault_available(rmqi_fault_t *f, const char *broker, int64_t now_ms);
/* False only after a transport failure marked it unreachable. */
bool rmqi_fault_reachable(rmqi_fault_t *f, const char *broker);

#endif

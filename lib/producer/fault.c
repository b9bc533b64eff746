#include "fault.h"

#include <stdlib.h>
#include <string.h>

/* MQFaultStrategy (5.x): latencyMax -> notAvailableDuration, in ms. */
static const int64_t latency_max[] = {50, 100, 550, 1800, 3000, 5000, 15000};
static const int64_t not_available[] = {0, 0, 2000, 5000, 6000, 10000, 30000};

void rmqi_fault_init(rmqi_fault_t *f) {
  memset(f, 0, sizeof(*f));
  pthread_mutex_init(&f->lock, NULL);
}

void rmqi_fault_free(rmqi_fault_t *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->items[i].broker);
  free(f->items);
  pthread_mutex_destroy(&f->lock);
}

int64_t rmqi_fault_duration(int64_t latency_ms, bool isolation) {
  int64_t l = isolation ? 10000 : latency_ms;
  for (size_t i = RMQI_ARRAY_LEN(latency_max); i-- > 0;)
    if (l >= latency_max[i])
      return not_available[i];
  return 0;
}

static rmqi_fault_item_t *find(rmqi_fault_t *f, const char *broker) {
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->items[i].broker, broker) == 0)
      return &f->items[i];
  return NULL;
}

void rmqi_fault_update(rmqi_fault_t *f, const char *broker, int64_t latency_ms,
                       bool isolation, bool reachable, int64_t now_ms) {
  int64_t until = now_ms + rmqi_fault_duration(latency_ms, isolation);
  pthread_mutex_lock(&f->lock);
  rmqi_fault_item_t *it = find(f, broker);
  if (it == NULL && f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 8;
    rmqi_fault_item_t *ni = realloc(f->items, cap * sizeof(*ni));
    if (ni) {
      f->items = ni;
      f->cap = cap;
    }
  }
  if (it == NULL && f->n < f->cap) {
    char *name = strdup(broker);
    if (name) {
      it = &f->items[f->n++];
      it->broker = name;
      it->available_at_ms = 0;
    }
  }
  /* Out of memory: the broker is simply not tracked, which only loses the
   * optimisation, never a send. */
  if (it) {
    if (until > it->available_at_ms)
      it->available_at_ms = until;
    it->reachable = reachable;
  }
  pthread_mutex_unlock(&f->lock);
}

bool rmqi_fault_available(rmqi_fault_t *f, const char *broker,
                          int64_t now_ms) {
  pthread_mutex_lock(&f->lock);
  rmqi_fault_item_t *it = find(f, broker);
  bool ok = it == NULL || now_ms >= it->available_at_ms;
  pthread_mutex_unlock(&f->lock);
  return ok;
}

bool rmqi_fault_reachable(rmqi_fault_t *f, const char *broker) {
  pthread_mutex_lock(&f->lock);
  rmqi_fault_item_t *it = find(f, broker);
  bool ok = it == NULL || it->reachable;
  pthread_mutex_unlock(&f->lock);
  return ok;
}

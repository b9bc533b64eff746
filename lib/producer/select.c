#include "select.h"

#include <string.h>

static size_t next(_Atomic uint32_t *counter, size_t n) {
  uint32_t v = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed) + 1;
  return (size_t)(v & 0x7FFFFFFFu) % n;
}

static bool same(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

size_t rmqi_select_queue(const rmqi_mq_t *qs, size_t n,
                         _Atomic uint32_t *counter, const char *last_broker,
                         rmqi_fault_t *fault, int64_t now_ms) {
  if (fault == NULL) {
    if (last_broker == NULL)
      return next(counter, n);
    /* Avoid the broker that just failed this send, if another exists. */
    for (size_t i = 0; i < n; i++) {
      size_t pos = next(counter, n);
      if (!same(qs[pos].broker, last_broker))
        return pos;
    }
    return next(counter, n);
  }
  /* Fault tolerance on (5.x): first an available broker other than the last
   * one, then a reachable one, then anything. */
  for (size_t i = 0; i < n; i++) {
    size_t pos = next(counter, n);
    if (!same(qs[pos].broker, last_broker) &&
        rmqi_fault_available(fault, qs[pos].broker, now_ms))
      return pos;
  }
  for (size_t i = 0; i < n; i++) {
    size_t pos = next(counter, n);
    if (!same(qs[pos].broker, last_broker) &&
        rmqi_fault_reachable(fault, qs[pos].broker))
      return pos;
  }
  return next(counter, n);
}

size_t rmqi_select_by_hash(int32_t hash, size_t n) {
  /* Java: int v = hash % size; if (v < 0) v = Math.abs(v). The remainder's
   * magnitude is below size, so abs cannot overflow here. */
  int64_t v = (int64_t)hash % (int64_t)n;
  return (size_t)(v < 0 ? -v : v);
}

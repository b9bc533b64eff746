/* The readable queues of a route (lib/consumer/queues.c), from a route
 * decoded from the input: their count is, per broker, the largest
 * readQueueNums of its readable QueueDatas (the sum of readable
 * readQueueNums when no broker is listed twice), they are sorted without
 * duplicates, each has a queue id its broker announces, and every one is
 * found by rmqi_mq_find; or the route is refused as having too many. */
#include "consumer/queues.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok) {
  if (!ok)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmqi_route_t r;
  if (rmqi_route_decode(&r, (const char *)data, size, NULL) != RMQ_OK)
    return 0;
  /* the expected count, the slow way */
  size_t want = 0;
  for (size_t i = 0; i < r.n_queues; i++) {
    const rmqi_qdata_t *d = &r.queues[i];
    if (!(d->perm & RMQI_PERM_READ) || d->read_nums <= 0)
      continue;
    bool first = true;
    int32_t max = d->read_nums;
    for (size_t j = 0; j < r.n_queues; j++) {
      const rmqi_qdata_t *e = &r.queues[j];
      if (!(e->perm & RMQI_PERM_READ) || e->read_nums <= 0 ||
          strcmp(e->broker, d->broker) != 0)
        continue;
      if (j < i)
        first = false;
      if (e->read_nums > max)
        max = e->read_nums;
    }
    if (first)
      want += (size_t)max;
  }
  rmqi_alloc_mq_t *v;
  size_t n;
  rmq_err_t rc = rmqi_read_queues(&r, "T", &v, &n);
  if (want > RMQI_MAX_TOPIC_QUEUES) {
    check(rc == RMQ_ERR_BAD_ROUTE);
  } else if (rc == RMQ_OK) {
    check(n == want);
    for (size_t i = 0; i < n; i++) {
      check(strcmp(v[i].topic, "T") == 0 && v[i].queue_id >= 0);
      if (i > 0)
        check(rmqi_mq_cmp(&v[i - 1], &v[i]) < 0);
      if (i == 0 || strcmp(v[i - 1].broker, v[i].broker) != 0)
        check(v[i].queue_id == 0); /* ids 0..n-1 per broker */
      else
        check(v[i].queue_id == v[i - 1].queue_id + 1);
    }
    for (size_t i = 0; i < n; i += 1 + n / 64)
      check(rmqi_mq_find(v, n, "T", v[i].broker, v[i].queue_id) ==
            (ptrdiff_t)i);
    if (n)
      check(rmqi_mq_find(v, n, "T", v[0].broker, -1) == -1);
    /* sorting a reversed copy with a duplicate gives the same set (on
     * the smaller ones: the expansion is what is fuzzed) */
    rmqi_alloc_mq_t *w = n <= 8192 ? malloc((n + 2) * sizeof(*w)) : NULL;
    if (w) {
      for (size_t i = 0; i < n; i++)
        w[i] = v[n - 1 - i];
      size_t k = n;
      if (n)
        w[k++] = v[n / 2];
      check(rmqi_mq_sort_unique(w, k) == n);
      for (size_t i = 0; i < n; i++)
        check(rmqi_mq_cmp(&w[i], &v[i]) == 0);
      free(w);
    }
    free(v);
  } else {
    check(rc == RMQ_ERR_NOMEM);
  }
  rmqi_route_free(&r);
  return 0;
}

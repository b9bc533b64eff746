#include "queues.h"
#include "../client/ns.h"

#include <stdlib.h>
#include <string.h>

int rmqi_mq_cmp(const rmqi_alloc_mq_t *a, const rmqi_alloc_mq_t *b) {
  int c = strcmp(a->topic, b->topic);
  if (c == 0)
    c = strcmp(a->broker, b->broker);
  if (c == 0)
    c = (a->queue_id > b->queue_id) - (a->queue_id < b->queue_id);
  return c;
}

static int cmp_mq(const void *a, const void *b) {
  return rmqi_mq_cmp(a, b);
}

size_t rmqi_mq_sort_unique(rmqi_alloc_mq_t *v, size_t n) {
  if (n < 2)
    return n;
  qsort(v, n, sizeof(*v), cmp_mq);
  size_t k = 1;
  for (size_t i = 1; i < n; i++)
    if (rmqi_mq_cmp(&v[k - 1], &v[i]) != 0)
      v[k++] = v[i];
  return k;
}

ptrdiff_t rmqi_mq_find(const rmqi_alloc_mq_t *v, size_t n, const char *topic,
                       const char *broker, int32_t qid) {
  const rmqi_alloc_mq_t key = {topic, broker, qid};
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = rmqi_mq_cmp(&v[mid], &key);
    if (c == 0)
      return (ptrdiff_t)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static int cmp_qdata(const void *a, const void *b) {
  const rmqi_qdata_t *x = *(const rmqi_qdata_t *const *)a,
                     *y = *(const rmqi_qdata_t *const *)b;
  return strcmp(x->broker, y->broker);
}

rmq_err_t rmqi_read_queues(const rmqi_route_t *r, const char *topic,
                           rmqi_alloc_mq_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  /* the readable QueueDatas by broker name, so that a broker listed twice
   * is one run */
  const rmqi_qdata_t **qd = malloc((r->n_queues + 1) * sizeof(*qd));
  if (qd == NULL)
    return RMQ_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < r->n_queues; i++)
    if ((r->queues[i].perm & RMQI_PERM_READ) && r->queues[i].read_nums > 0 &&
        r->queues[i].broker != NULL)
      qd[k++] = &r->queues[i];
  qsort(qd, k, sizeof(*qd), cmp_qdata);
  /* one pass: each broker's largest readQueueNums */
  size_t total = 0, w = 0;
  for (size_t i = 0; i < k; i++) {
    if (w > 0 && strcmp(qd[w - 1]->broker, qd[i]->broker) == 0) {
      if (qd[i]->read_nums > qd[w - 1]->read_nums) {
        total += (size_t)(qd[i]->read_nums - qd[w - 1]->read_nums);
        qd[w - 1] = qd[i];
      }
    } else {
      qd[w++] = qd[i];
      total += (size_t)qd[i]->read_nums;
    }
    if (total > RMQI_MAX_TOPIC_QUEUES) {
      free(qd);
      return RMQ_ERR_BAD_ROUTE;
    }
  }
  rmqi_alloc_mq_t *v = malloc((total + 1) * sizeof(*v));
  if (v == NULL) {
    free(qd);
    return RMQ_ERR_NOMEM;
  }
  size_t m = 0;
  for (size_t i = 0; i < w; i++)
    for (int32_t q = 0; q < qd[i]->read_nums; q++)
      v[m++] = (rmqi_alloc_mq_t){topic, qd[i]->broker, q};
  free(qd);
  *out = v;
  *n = m;
  return RMQ_OK;
}

rmq_queue_t *rmqi_queues_public(const rmqi_alloc_mq_t *v, size_t n,
                                const char *ns) {
  char buf[RMQI_NS_NAME_MAX];
  size_t size = n * sizeof(rmq_queue_t);
  for (size_t i = 0; i < n; i++)
    size += strlen(rmqi_ns_unwrap(ns, v[i].topic, buf, sizeof(buf))) +
            strlen(v[i].broker) + 2;
  rmq_queue_t *q = malloc(size ? size : 1);
  if (q == NULL)
    return NULL;
  char *p = (char *)(q + n);
  for (size_t i = 0; i < n; i++) {
    const char *t = rmqi_ns_unwrap(ns, v[i].topic, buf, sizeof(buf));
    size_t a = strlen(t) + 1, b = strlen(v[i].broker) + 1;
    q[i].topic = memcpy(p, t, a);
    q[i].broker_name = memcpy(p + a, v[i].broker, b);
    q[i].queue_id = v[i].queue_id;
    p += a + b;
  }
  return q;
}

#include "allocate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Java String.compareTo on ASCII names (topics, broker names and client ids
 * are restricted to ASCII), i.e. byte order. */
static int cmp_mq(const void *a, const void *b) {
  const rmqi_alloc_mq_t *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  if (c == 0)
    c = strcmp(x->broker, y->broker);
  if (c == 0)
    c = (x->queue_id > y->queue_id) - (x->queue_id < y->queue_id);
  return c;
}

static int cmp_cid(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rmqi_alloc_sort(rmqi_alloc_mq_t *mqs, size_t n_mqs, const char **cids,
                     size_t n_cids) {
  qsort(mqs, n_mqs, sizeof(*mqs), cmp_mq);
  qsort(cids, n_cids, sizeof(*cids), cmp_cid);
}

static size_t averagely(size_t index, size_t n_mqs, size_t n_cids,
                        size_t *out) {
  size_t mod = n_mqs % n_cids;
  size_t avg = n_mqs <= n_cids ? 1
               : (mod > 0 && index < mod) ? n_mqs / n_cids + 1
                                          : n_mqs / n_cids;
  size_t start = (mod > 0 && index < mod) ? index * avg : index * avg + mod;
  if (start >= n_mqs)
    return 0;
  size_t range = RMQI_MIN(avg, n_mqs - start);
  for (size_t i = 0; i < range; i++)
    out[i] = (start + i) % n_mqs;
  return range;
}

/* ConsistentHashRouter's MD5Hash: the first 4 digest bytes, big-endian. */
static uint32_t md5_hash(const char *s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(s, strlen(s), d, &len, EVP_md5(), NULL) || len < 4)
    return 0;
  return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 |
         d[3];
}

typedef struct vnode {
  uint32_t hash;
  size_t cid;
  size_t seq; /* insertion order: a later put with an equal hash wins */
} vnode_t;

static int cmp_vnode(const void *a, const void *b) {
  const vnode_t *x = a, *y = b;
  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

static size_t consistent_hash(const char *self, const rmqi_alloc_mq_t *mqs,
                              size_t n_mqs, const char *const *cids,
                              size_t n_cids, int vnodes, size_t *out) {
  size_t n = n_cids * (size_t)vnodes, k = 0;
  vnode_t *ring = malloc((n ? n : 1) * sizeof(*ring));
  if (ring == NULL)
    return 0;
  char key[512];
  for (size_t c = 0; c < n_cids; c++)
    for (int i = 0; i < vnodes; i++) {
      snprintf(key, sizeof(key), "%s-%d", cids[c], i);
      ring[k] = (vnode_t){md5_hash(key), c, k};
      k++;
    }
  qsort(ring, n, sizeof(*ring), cmp_vnode);
  /* TreeMap.put replaces on equal keys: keep the last of each run. */
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m && ring[m - 1].hash == ring[i].hash)
      ring[m - 1] = ring[i];
    else
      ring[m++] = ring[i];
  }
  size_t got = 0;
  for (size_t q = 0; q < n_mqs && m; q++) {
    snprintf(key, sizeof(key), "MessageQueue [topic=%s, brokerName=%s, "
                               "queueId=%d]",
             mqs[q].topic, mqs[q].broker, (int)mqs[q].queue_id);
    uint32_t h = md5_hash(key);
    size_t lo = 0, hi = m; /* first vnode with hash >= h (tailMap) */
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (ring[mid].hash < h)
        lo = mid + 1;
      else
        hi = mid;
    }
    const vnode_t *v = &ring[lo < m ? lo : 0];
    if (strcmp(cids[v->cid], self) == 0)
      out[got++] = q;
  }
  free(ring);
  return got;
}

size_t rmqi_allocate(rmqi_alloc_strategy_t s, const char *self,
                     const rmqi_alloc_mq_t *mqs, size_t n_mqs,
                     const char *const *cids, size_t n_cids, int vnodes,
                     size_t *out) {
  size_t index = n_cids;
  for (size_t i = 0; i < n_cids; i++)
    if (strcmp(cids[i], self) == 0) {
      index = i;
      break;
    }
  if (index == n_cids || n_mqs == 0)
    return 0;
  switch (s) {
  case RMQI_ALLOC_AVERAGELY:
    return averagely(index, n_mqs, n_cids, out);
  case RMQI_ALLOC_BY_CIRCLE: {
    size_t got = 0;
    for (size_t i = index; i < n_mqs; i += n_cids)
      out[got++] = i;
    return got;
  }
  case RMQI_ALLOC_CONSISTENT_HASH:
    return consistent_hash(self, mqs, n_mqs, cids, n_cids,
                           vnodes > 0 ? vnodes : 10, out);
  }
  return 0;
}

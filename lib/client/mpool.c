#include "mpool.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct rmqi_mchunk {
  rmqi_mpool_t *pool;
  /* blocks carved from it and not ended, plus one while it is the pool's
   * current chunk: whoever takes it to 0 owns it */
  atomic_size_t refs;
  rmqi_mchunk_t *next; /* the spare list */
  size_t used;         /* carved so far (the pool's lock) */
  alignas(max_align_t) unsigned char data[];
};

struct rmqi_mpool {
  pthread_mutex_t lock;
  rmqi_mchunk_t *cur; /* carved from; holds a reference */
  rmqi_mchunk_t *spare;
  size_t n_spare;
  size_t live; /* chunks that exist: current, spare or holding blocks */
  bool released;
};

#define CAP (RMQI_MPOOL_CHUNK - offsetof(rmqi_mchunk_t, data))

rmqi_mpool_t *rmqi_mpool_new(void) {
  rmqi_mpool_t *p = calloc(1, sizeof(*p));
  if (p && pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    p = NULL;
  }
  return p;
}

static void pool_free(rmqi_mpool_t *p) {
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* A chunk nobody references (p->lock held): kept, or freed. */
static void retire(rmqi_mpool_t *p, rmqi_mchunk_t *c) {
  if (!p->released && p->n_spare < RMQI_MPOOL_SPARE) {
    c->next = p->spare;
    p->spare = c;
    p->n_spare++;
  } else {
    free(c);
    p->live--;
  }
}

void *rmqi_mpool_alloc(rmqi_mpool_t *p, size_t n, rmqi_mchunk_t **chunk) {
  n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
  if (n == 0 || n > RMQI_MPOOL_MAX_BLOCK)
    return NULL;
  pthread_mutex_lock(&p->lock);
  rmqi_mchunk_t *c = p->cur;
  if (c == NULL || CAP - c->used < n) {
    rmqi_mchunk_t *fresh = p->spare;
    if (fresh) {
      p->spare = fresh->next;
      p->n_spare--;
    } else if ((fresh = malloc(RMQI_MPOOL_CHUNK)) != NULL) {
      fresh->pool = p;
      p->live++;
    } else {
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
    /* the pool's reference to the chunk it leaves: its blocks, if any,
     * keep it until they end */
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
      retire(p, c);
    atomic_init(&fresh->refs, 1);
    fresh->used = 0;
    p->cur = c = fresh;
  }
  void *b = c->data + c->used;
  c->used += n;
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&p->lock);
  *chunk = c;
  return b;
}

void rmqi_mchunk_unref(rmqi_mchunk_t *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  rmqi_mpool_t *p = c->pool;
  pthread_mutex_lock(&p->lock);
  retire(p, c);
  bool gone = p->released && p->live == 0;
  pthread_mutex_unlock(&p->lock);
  if (gone)
    pool_free(p);
}

void rmqi_mpool_release(rmqi_mpool_t *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->lock);
  p->released = true;
  for (rmqi_mchunk_t *c = p->spare, *next; c; c = next) {
    next = c->next;
    free(c);
    p->live--;
  }
  p->spare = NULL;
  p->n_spare = 0;
  rmqi_mchunk_t *c = p->cur;
  p->cur = NULL;
  if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
    retire(p, c); /* released: freed */
  bool gone = p->live == 0;
  pthread_mutex_unlock(&p->lock);
  if (gone)
    pool_free(p);
}

void rmqi_mpool_counts(rmqi_mpool_t *p, size_t *live, size_t *spare) {
  pthread_mutex_lock(&p->lock);
  *live = p->live;
  *spare = p->n_spare;
  pthread_mutex_unlock(&p->lock);
}

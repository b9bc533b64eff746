/*
 * A bounded list of spare objects of one kind, for objects made on one
 * thread and ended on another (which malloc serves slowly). Intrusive: a
 * spare object's first bytes hold the link, so objects must be at least a
 * pointer large. Not thread-safe: the owner's lock guards it.
 */
#ifndef RMQI_SPARE_H
#define RMQI_SPARE_H

#include <stddef.h>
#include <stdlib.h>

typedef struct rmqi_spare {
  void *head;
  size_t n, max;
} rmqi_spare_t;

/* A spare object (its content undefined), or NULL when there is none. */
static inline void *rmqi_spare_take(rmqi_spare_t *s) {
  void *o = s->head;
  if (o) {
    s->head = *(void **)o;
    s->n--;
  }
  return o;
}

/* Keeps @p o (a malloc'd object that has ended) for reuse, or frees it
 * when max are kept already. */
static inline void rmqi_spare_put(rmqi_spare_t *s, void *o) {
  if (s->n >= s->max) {
    free(o);
    return;
  }
  *(void **)o = s->head;
  s->head = o;
  s->n++;
}

/* Frees every spare object. */
static inline void rmqi_spare_free(rmqi_spare_t *s) {
  for (void *o = s->head, *nx; o; o = nx) {
    nx = *(void **)o;
    free(o);
  }
  s->head = NULL;
  s->n = 0;
}

#endif

#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct rmqi_arena_chunk {
  rmqi_arena_chunk_t *next;
  size_t size;
  size_t off;
  alignas(max_align_t) unsigned char mem[];
};

/* The first chunk stays small enough for malloc's per-thread cache (chunks
 * up to ~1 KiB), which matters because a command's arena is made and freed
 * per request; later chunks are larger. */
#define RMQI_ARENA_FIRST 960
#define RMQI_ARENA_CHUNK 4096

void rmqi_arena_init(rmqi_arena_t *a, size_t limit) {
  a->head = NULL;
  a->used = 0;
  a->limit = limit;
}

void rmqi_arena_free(rmqi_arena_t *a) {
  rmqi_arena_chunk_t *c = a->head;
  while (c) {
    rmqi_arena_chunk_t *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->used = 0;
}

void *rmqi_arena_alloc(rmqi_arena_t *a, size_t n) {
  const size_t align = alignof(max_align_t);
  if (n > SIZE_MAX / 2)
    return NULL;
  size_t need = (n + align - 1) & ~(align - 1);
  if (need == 0)
    need = align;
  if (a->limit && (need > a->limit || a->used > a->limit - need))
    return NULL;
  rmqi_arena_chunk_t *c = a->head;
  if (c == NULL || c->size - c->off < need) {
    size_t base = a->head ? RMQI_ARENA_CHUNK : RMQI_ARENA_FIRST;
    size_t size = need > base ? need : base;
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
      return NULL;
    c->size = size;
    c->off = 0;
    /* A chunk made for one big request goes behind the head, so the head's
     * free space stays in use for the small strings that follow. */
    if (a->head && size == need) {
      c->next = a->head->next;
      a->head->next = c;
    } else {
      c->next = a->head;
      a->head = c;
    }
  }
  void *p = c->mem + c->off;
  c->off += need;
  a->used += need;
  return p;
}

char *rmqi_arena_strndup(rmqi_arena_t *a, const char *s, size_t n) {
  char *p = rmqi_arena_alloc(a, n + 1);
  if (p == NULL)
    return NULL;
  if (n)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

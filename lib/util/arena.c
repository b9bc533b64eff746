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

void *rmqi_arena_alloc_aligned(rmqi_arena_t *a, size_t n, size_t align) {
  if (n > SIZE_MAX / 2)
    return NULL;
  size_t need = n ? n : 1;
  rmqi_arena_chunk_t *c = a->head;
  /* Padding to the alignment counts as used: the limit bounds memory. */
  size_t pad = c ? ((c->off + align - 1) & ~(align - 1)) - c->off : 0;
  if (c == NULL || c->size - c->off < pad + need) {
    pad = 0;
    if (a->limit && (need > a->limit || a->used > a->limit - need))
      return NULL;
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
  } else if (a->limit &&
             (pad + need > a->limit || a->used > a->limit - pad - need)) {
    return NULL;
  }
  void *p = c->mem + c->off + pad;
  c->off += pad + need;
  a->used += pad + need;
  return p;
}

void *rmqi_arena_alloc(rmqi_arena_t *a, size_t n) {
  return rmqi_arena_alloc_aligned(a, n, alignof(max_align_t));
}

char *rmqi_arena_strndup(rmqi_arena_t *a, const char *s, size_t n) {
  char *p = rmqi_arena_alloc_aligned(a, n + 1, 1);
  if (p == NULL)
    return NULL;
  if (n)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

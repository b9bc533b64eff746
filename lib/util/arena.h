/*
 * Bump allocator for the many small strings one decoded structure owns
 * (a command's ext fields, a route's broker names). Everything is freed at
 * once with rmqi_arena_free. `limit` bounds the total, so a hostile input
 * cannot make a decoder allocate without bound.
 */
#ifndef RMQI_ARENA_H
#define RMQI_ARENA_H

#include "common.h"

typedef struct rmqi_arena_chunk rmqi_arena_chunk_t;

typedef struct rmqi_arena {
  rmqi_arena_chunk_t *head;
  size_t used;  /* bytes handed out, for the limit */
  size_t limit; /* 0 = unlimited */
} rmqi_arena_t;

void rmqi_arena_init(rmqi_arena_t *a, size_t limit);
void rmqi_arena_free(rmqi_arena_t *a);
/* Returns NULL on allocation failure or when the limit would be passed.
 * Memory is aligned for any object. */
void *rmqi_arena_alloc(rmqi_arena_t *a, size_t n);
/* The same with only @p align (a power of two up to max_align_t) as the
 * alignment: strings and small arrays waste no padding. */
void *rmqi_arena_alloc_aligned(rmqi_arena_t *a, size_t n, size_t align);
/* Copies n bytes and a NUL terminator (byte-aligned). */
char *rmqi_arena_strndup(rmqi_arena_t *a, const char *s, size_t n);

#endif

/*
 * Blocks for received messages, carved from 64 KiB chunks that a consumer
 * keeps for reuse.
 *
 * A received message is one block (client/msg.h). With malloc per block, a
 * poll of 1,024 messages made ~1 MiB of blocks and the application freed it
 * all before the next poll: glibc gave the top of its heap back to the
 * kernel (its 128 KiB trim threshold) and the next poll faulted every page
 * in again, a quarter of the lite pull consumer's CPU. Chunks that come
 * back are kept (up to RMQI_MPOOL_SPARE of them) and carved again.
 *
 * A chunk counts its blocks; the last one destroyed returns it to its pool.
 * Blocks may outlive the consumer that made them: the pool lasts until its
 * owner has released it and its last chunk has come back. Any thread may
 * allocate or end blocks.
 */
#ifndef RMQI_CLIENT_MPOOL_H
#define RMQI_CLIENT_MPOOL_H

#include <stddef.h>

#define RMQI_MPOOL_CHUNK (64u << 10)
/* Larger blocks come from malloc: a big message would pin a chunk of its
 * own, and small ones would waste what is left of one. */
#define RMQI_MPOOL_MAX_BLOCK (RMQI_MPOOL_CHUNK / 8)
#define RMQI_MPOOL_SPARE 32 /* chunks kept for reuse: 2 MiB at most */

typedef struct rmqi_mpool rmqi_mpool_t;
typedef struct rmqi_mchunk rmqi_mchunk_t;

/* NULL when out of memory. */
rmqi_mpool_t *rmqi_mpool_new(void);

/* The owner is done with @p p: its spare chunks are freed, and the pool
 * itself once no chunk holds a block. NULL is a no-op. */
void rmqi_mpool_release(rmqi_mpool_t *p);

/* @p n bytes aligned for any type and, in *chunk, the chunk they lie in
 * (rmqi_mchunk_unref when the block ends). NULL when @p n is over
 * RMQI_MPOOL_MAX_BLOCK or memory is short: the caller mallocs instead. */
void *rmqi_mpool_alloc(rmqi_mpool_t *p, size_t n, rmqi_mchunk_t **chunk);

/* One block of @p c has ended; the last returns the chunk to its pool. */
void rmqi_mchunk_unref(rmqi_mchunk_t *c);

/* Chunks in existence and kept spare (tests). */
void rmqi_mpool_counts(rmqi_mpool_t *p, size_t *live, size_t *spare);

#endif

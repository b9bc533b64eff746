/*
 * Queue allocation strategies, identical to the Java client's so that C and
 * Java consumers in one group never share or drop a queue
 * (client-behaviour.md §7; Java consumer/rebalance/AllocateMessageQueue*).
 *
 * Inputs must already be in Java's order: queues sorted by (topic, broker
 * name, queue id) and client ids sorted as strings — rmqi_alloc_sort does
 * both. Output: indices into @p mqs, in the order Java would list them.
 */
#ifndef RMQI_CONSUMER_ALLOCATE_H
#define RMQI_CONSUMER_ALLOCATE_H

#include "../util/common.h"

typedef struct rmqi_alloc_mq {
  const char *topic;
  const char *broker;
  int32_t queue_id;
} rmqi_alloc_mq_t;

typedef enum {
  RMQI_ALLOC_AVERAGELY,
  RMQI_ALLOC_BY_CIRCLE,
  RMQI_ALLOC_CONSISTENT_HASH,
} rmqi_alloc_strategy_t;

/* Sorts queues and client ids into Java's order (in place). */
void rmqi_alloc_sort(rmqi_alloc_mq_t *mqs, size_t n_mqs, const char **cids,
                     size_t n_cids);

/*
 * Writes the indices of @p self's queues to @p out (capacity n_mqs) and
 * returns how many. 0 when @p self is not among @p cids (as Java, which logs
 * and returns nothing). @p vnodes: virtual nodes per client for the
 * consistent hash (Java's default 10).
 */
size_t rmqi_allocate(rmqi_alloc_strategy_t s, const char *self,
                     const rmqi_alloc_mq_t *mqs, size_t n_mqs,
                     const char *const *cids, size_t n_cids, int vnodes,
                     size_t *out);

#endif

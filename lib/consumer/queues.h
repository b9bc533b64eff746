/*
 * A topic's queues as sorted sets, so that work over them stays
 * O(n log n) however many queues a route announces (up to 65,536 per
 * broker): the readable queues of a route (Java
 * topicRouteData2TopicSubscribeInfo), sorting, and lookup by binary
 * search. Pure functions; no locks.
 */
#ifndef RMQI_CONSUMER_QUEUES_H
#define RMQI_CONSUMER_QUEUES_H

#include "../codec/route.h"
#include "allocate.h"

#include <stddef.h>

/* More readable queues than this in one topic's route is refused as a bad
 * route rather than allocated (the decoder caps each QueueData; nothing
 * caps how many a route lists). */
enum { RMQI_MAX_TOPIC_QUEUES = 1 << 20 };

/*
 * The readable queues of @p r for @p topic, sorted by (broker, queue id)
 * and without duplicates: a broker listed in several readable QueueDatas
 * counts once, with the largest readQueueNums (Java collects them in a
 * set). *out is malloc'd (free it; never NULL on RMQ_OK) and its entries
 * point at @p topic and into @p r. RMQ_ERR_BAD_ROUTE when there are more
 * than RMQI_MAX_TOPIC_QUEUES, RMQ_ERR_NOMEM.
 */
rmq_err_t rmqi_read_queues(const rmqi_route_t *r, const char *topic,
                           rmqi_alloc_mq_t **out, size_t *n);

/* The application's view of @p v in one malloc'd block (the array, then
 * its strings; free() it), topics taken out of namespace @p ns (Java's
 * withoutNamespace). NULL on no memory. */
rmq_queue_t *rmqi_queues_public(const rmqi_alloc_mq_t *v, size_t n,
                                const char *ns);

/* Orders by (topic, broker, queue id), bytewise (Java's order). */
int rmqi_mq_cmp(const rmqi_alloc_mq_t *a, const rmqi_alloc_mq_t *b);
/* Sorts @p v and removes duplicates; returns the new count. */
size_t rmqi_mq_sort_unique(rmqi_alloc_mq_t *v, size_t n);
/* The index of (topic, broker, qid) in the sorted @p v, or -1. */
ptrdiff_t rmqi_mq_find(const rmqi_alloc_mq_t *v, size_t n, const char *topic,
                       const char *broker, int32_t qid);

#endif

/*
 * Queue selection for sends (client-behaviour.md §3; Java
 * MQFaultStrategy.selectOneMessageQueue with TopicPublishInfo's
 * ThreadLocalIndex, which we keep as one atomic counter per topic).
 */
#ifndef RMQI_PRODUCER_SELECT_H
#define RMQI_PRODUCER_SELECT_H

#include "../codec/route.h"
#include "fault.h"

#include <stdatomic.h>

/*
 * Returns the index in @p qs (n > 0) of the queue for the next attempt.
 * @p last_broker: broker of the previous attempt of this send (NULL on the
 * first). @p fault: NULL when latency fault tolerance is off.
 */
size_t rmqi_select_queue(const rmqi_mq_t *qs, size_t n,
                         _Atomic uint32_t *counter, const char *last_broker,
                         rmqi_fault_t *fault, int64_t now_ms);

/* Java SelectMessageQueueByHash: abs(hash % n). */
size_t rmqi_select_by_hash(int32_t hash, size_t n);

#endif

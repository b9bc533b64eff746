/* Orderly push consumer for the ordered messages of producer_ordered (the
 * consumer half of the user's rocketmq_ordered.py): each queue's messages
 * arrive one call at a time, in the order they were sent, and the group
 * locks each queue on its broker so no other consumer reads it meanwhile.
 * Usage: consumer_push_orderly [namesrv] [topic] [count]
 * Stops after count messages (default: none), or after 10 s without one. */
#include "common.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long got;

static rmq_consume_status_t on_message(rmq_push_consumer_t *c,
                                       rmq_msg_t *const *msgs, size_t n,
                                       rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c, (void)opaque;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *body = rmq_msg_body(msgs[i], &len);
    pthread_mutex_lock(&mu);
    printf("Received: %.*s (queue %d, key %s)\n", (int)len, body,
           ctx->queue.queue_id, rmq_msg_keys(msgs[i]));
    got++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
  }
  return RMQ_CONSUME_SUCCESS; /* RMQ_CONSUME_SUSPEND: retry these, in place */
}

int main(int argc, char **argv) {
  const char *topic = example_topic(argc, argv, "OrderTopic");
  long want = argc > 3 ? atol(argv[3]) : 0;
  rmq_push_consumer_t *c = example_push_consumer(
      argc, argv, "OrderedConsumerGroup", topic, on_message, 1);
  long n = example_wait(&mu, &cv, &got, want);
  rmq_push_consumer_destroy(c, 5000); /* unlocks, commits, leaves */
  printf("%ld messages\n", n);
  return want == 0 || n >= want ? 0 : 1;
}

/* Push consumer: the library pulls, rebalances and commits; the listener
 * runs on the consumer's threads for each message (Java's
 * DefaultMQPushConsumer with MessageListenerConcurrently).
 * Usage: consumer_push [namesrv] [topic] [count]
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
  (void)c, (void)ctx, (void)opaque;
  for (size_t i = 0; i < n;
       i++) { /* n is 1 unless consumeMessageBatchMaxSize */
    size_t len;
    const char *body = rmq_msg_body(msgs[i], &len);
    pthread_mutex_lock(&mu);
    printf("received: %s queue %d offset %lld body '%.*s'\n",
           rmq_msg_id(msgs[i]), rmq_msg_queue_id(msgs[i]),
           (long long)rmq_msg_queue_offset(msgs[i]), (int)len, body);
    got++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
  }
  return RMQ_CONSUME_SUCCESS; /* RMQ_CONSUME_RETRY_LATER: redeliver later */
}

int main(int argc, char **argv) {
  const char *topic = example_topic(argc, argv, "TopicTest");
  long want = argc > 3 ? atol(argv[3]) : 0;
  rmq_push_consumer_t *c = example_push_consumer(
      argc, argv, "PushConsumerGroup", topic, on_message, 0);
  long n = example_wait(&mu, &cv, &got, want);
  rmq_push_consumer_destroy(c, 5000); /* commits, leaves the group */
  printf("%ld messages\n", n);
  return want == 0 || n >= want ? 0 : 1;
}

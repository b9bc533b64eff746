/* Raw pulls (Java's DefaultMQPullConsumer): list a topic's queues and read
 * each one from its first message up to its max offset, choosing offsets
 * yourself. No subscription, no rebalance, no start; the group's committed
 * offsets are not touched.
 * Usage: consumer_raw_pull [namesrv] [topic] */
#include "common.h"

/* Reads @p q from its first offset to the max offset the broker reports. */
static long read_queue(rmq_pull_consumer_t *c, const rmq_queue_t *q) {
  long got = 0;
  int64_t offset = 0, max = 1;
  while (offset < max) {
    rmq_pull_result_t res;
    rmq_err_t err = rmq_pull_consumer_pull(c, q, "*", offset, 32, 3000, &res);
    if (err != RMQ_OK) {
      printf("pull %s/%d at %lld failed: %s\n", q->broker_name, q->queue_id,
             (long long)offset, rmq_err_str(err));
      return got;
    }
    if (offset == 0)
      printf("queue %s/%d: offsets %lld..%lld\n", q->broker_name, q->queue_id,
             (long long)res.min_offset, (long long)res.max_offset);
    max = res.max_offset;
    for (size_t i = 0; i < res.n_msgs; i++) {
      size_t len;
      const char *body = rmq_msg_body(res.msgs[i], &len);
      printf("pulled: %s queue %d offset %lld body '%.*s'\n",
             rmq_msg_id(res.msgs[i]), q->queue_id,
             (long long)rmq_msg_queue_offset(res.msgs[i]), (int)len, body);
      got++;
    }
    /* OFFSET_ILLEGAL (e.g. 0 is below the first stored message) also moves
     * next_begin_offset to where reading can start */
    int stuck = res.next_begin_offset <= offset;
    offset = res.next_begin_offset;
    rmq_pull_result_clear(&res);
    if (stuck)
      break;
  }
  return got;
}

int main(int argc, char **argv) {
  rmq_pull_consumer_t *c = example_consumer(argc, argv, "RawPullGroup");
  const char *topic = example_topic(argc, argv, "TopicTest");
  rmq_queue_list_t qs = {0};
  rmq_err_t err = rmq_pull_consumer_fetch_queues(c, topic, &qs);
  if (err != RMQ_OK) {
    printf("no queues for %s: %s\n", topic, rmq_err_str(err));
    rmq_pull_consumer_destroy(c, 5000);
    return 1;
  }
  long got = 0;
  for (size_t i = 0; i < qs.n; i++)
    got += read_queue(c, &qs.queues[i]);
  printf("%ld messages in %zu queues\n", got, qs.n);
  rmq_queue_list_clear(&qs);
  rmq_pull_consumer_destroy(c, 5000);
  return 0;
}

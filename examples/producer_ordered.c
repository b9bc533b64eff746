/* Ordered messages: the same order id always goes to the same queue, picked
 * with Java's String.hashCode, so Java producers agree
 * (the user's rocketmq_ordered.py, in C).
 * Usage: producer_ordered [namesrv] [topic] */
#include "common.h"

#include <string.h>

int main(int argc, char **argv) {
  rmq_producer_t *p = example_producer(argc, argv, "OrderedProducerGroup");
  const char *topic = example_topic(argc, argv, "OrderTopic");
  int failed = 0;
  for (int i = 0; i < 10; i++) {
    char order_id[32], body[64];
    snprintf(order_id, sizeof(order_id), "ORDER_%d", i % 3);
    snprintf(body, sizeof(body), "Order %s - Step %d", order_id, i);
    rmq_msg_t *msg = rmq_msg_new(topic);
    rmq_msg_set_body(msg, body, strlen(body));
    rmq_msg_set_keys(msg, order_id);
    rmq_msg_set_sharding_key(msg, order_id);
    rmq_send_result_t res;
    rmq_err_t err = rmq_producer_send_orderly(p, msg, &res);
    if (err == RMQ_OK)
      printf("sent %s to queue %d (offset %lld)\n", body, res.queue_id,
             (long long)res.queue_offset);
    else
      printf("failed %s: %s\n", body, res.error), failed++;
    rmq_send_result_clear(&res);
    rmq_msg_destroy(msg);
  }
  rmq_producer_destroy(p, 5000);
  return failed ? 1 : 0;
}

/* Batch send: several messages of one topic in one request (at most
 * maxMessageSize, 4 MiB by default) (the user's batch example).
 * Usage: producer_batch [namesrv] [topic] */
#include "common.h"

#include <string.h>

int main(int argc, char **argv) {
  rmq_producer_t *p = example_producer(argc, argv, "BatchProducerGroup");
  const char *topic = example_topic(argc, argv, "BatchTopic");
  rmq_msg_t *msgs[3];
  for (int i = 0; i < 3; i++) {
    char body[32];
    snprintf(body, sizeof(body), "Batch message %d", i);
    msgs[i] = rmq_msg_new(topic);
    rmq_msg_set_body(msgs[i], body, strlen(body));
    rmq_msg_set_tags(msgs[i], "TagBatch");
  }
  rmq_send_result_t res;
  rmq_err_t err = rmq_producer_send_batch(p, msgs, 3, &res);
  if (err == RMQ_OK)
    printf("batch sent: msgIds %s, first offset %lld\n", res.msg_id,
           (long long)res.queue_offset);
  else
    printf("batch failed: %s (%s)\n", rmq_err_str(err), res.error);
  rmq_send_result_clear(&res);
  for (int i = 0; i < 3; i++)
    rmq_msg_destroy(msgs[i]);
  rmq_producer_destroy(p, 5000);
  return err == RMQ_OK ? 0 : 1;
}

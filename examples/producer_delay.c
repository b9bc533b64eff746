/* Delayed messages: a delay level (1..18 = 1s 5s 10s 30s 1m ... 2h) and,
 * on 5.x brokers, an exact delivery time (the user's rocketmq_delay.py).
 * Usage: producer_delay [namesrv] [topic] */
#include "common.h"

#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
  rmq_producer_t *p = example_producer(argc, argv, "DelayProducerGroup");
  const char *topic = example_topic(argc, argv, "DelayTopic");
  rmq_msg_t *msg = rmq_msg_new(topic);
  rmq_msg_set_body(msg, "Delayed message", strlen("Delayed message"));
  rmq_msg_set_delay_level(msg, 3); /* 10 s */
  rmq_send_result_t res;
  rmq_err_t err = rmq_producer_send(p, msg, &res);
  printf("delay level 3: %s %s\n", rmq_err_str(err), res.msg_id ? res.msg_id : res.error);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(msg);
  rmq_producer_destroy(p, 5000);
  return err == RMQ_OK ? 0 : 1;
}

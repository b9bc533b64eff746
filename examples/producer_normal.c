/* Normal messages: synchronous, asynchronous and one-way sends
 * (the user's rocketmq_normal.py, in C).
 * Usage: producer_normal [namesrv] [topic] */
#include "common.h"

#include <string.h>

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *msg,
                    void *opaque) {
  (void)p;
  (void)msg;
  (void)opaque;
  if (err == RMQ_OK)
    printf("async send ok: msgId %s, queue %d, offset %lld\n", res->msg_id,
           res->queue_id, (long long)res->queue_offset);
  else
    printf("async send failed: %s (%s)\n", rmq_err_str(err), res->error);
}

int main(int argc, char **argv) {
  rmq_producer_t *p = example_producer(argc, argv, "ProducerGroup");
  const char *topic = example_topic(argc, argv, "TopicTest");
  int failed = 0;

  rmq_msg_t *msg = rmq_msg_new(topic);
  rmq_msg_set_body(msg, "Hello RocketMQ", strlen("Hello RocketMQ"));
  rmq_msg_set_tags(msg, "TagA");
  rmq_msg_set_keys(msg, "order-1");
  rmq_send_result_t res;
  rmq_err_t err = rmq_producer_send(p, msg, &res);
  if (err == RMQ_OK)
    printf("sync send ok: status %d, msgId %s, offsetMsgId %s\n", res.status,
           res.msg_id, res.offset_msg_id);
  else
    printf("sync send failed: %s (%s)\n", rmq_err_str(err), res.error), failed++;
  rmq_send_result_clear(&res);
  rmq_msg_destroy(msg);

  /* Async: on success the library owns the message and frees it after the
   * callback. */
  msg = rmq_msg_new(topic);
  rmq_msg_set_body(msg, "Async message", strlen("Async message"));
  if ((err = rmq_producer_send_async(p, msg, on_sent, NULL)) != RMQ_OK) {
    printf("async send refused: %s\n", rmq_err_str(err));
    rmq_msg_destroy(msg);
    failed++;
  }

  msg = rmq_msg_new(topic);
  rmq_msg_set_body(msg, "Oneway message", strlen("Oneway message"));
  err = rmq_producer_send_oneway(p, msg);
  printf("oneway send: %s\n", rmq_err_str(err));
  failed += err != RMQ_OK;
  rmq_msg_destroy(msg);

  if (rmq_producer_flush(p, 5000) != RMQ_OK)
    printf("async sends still in flight after 5 s\n"), failed++;
  rmq_producer_destroy(p, 5000);
  return failed ? 1 : 0;
}

/* Request/reply (Java's DefaultMQProducer.request with a replier built on
 * MessageUtil.createReplyMessage): a requester sends requests to a topic
 * and gets each reply straight back from the broker; a replier (a push
 * consumer and a producer) answers every request it consumes. Both live
 * in this one program; either side may be Java.
 * Usage: request_reply [namesrv] [topic]
 * Sends three asynchronous requests, starts the replier, waits for their
 * replies, then makes one synchronous request. Exits 0 when all four were
 * answered. */
#include "common.h"

#include <string.h>

static rmq_producer_t *replier_producer;

/* The replier: answer each request with "reply to: <its body>". */
static rmq_consume_status_t on_request(rmq_push_consumer_t *c,
                                       rmq_msg_t *const *msgs, size_t n,
                                       rmq_consume_ctx_t *ctx, void *opaque) {
  (void)c, (void)ctx, (void)opaque;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *body = rmq_msg_body(msgs[i], &len);
    char answer[256];
    int alen =
        snprintf(answer, sizeof(answer), "reply to: %.*s", (int)len, body);
    rmq_msg_t *reply;
    /* topic <cluster>_REPLY_TOPIC, CORRELATION_ID, REPLY_TO_CLIENT, TTL */
    if (rmq_msg_new_reply(msgs[i], answer, (size_t)alen, &reply) != RMQ_OK)
      continue; /* not a request: no CLUSTER property */
    rmq_send_result_t res;
    rmq_err_t rc = rmq_producer_send(replier_producer, reply, &res);
    if (rc != RMQ_OK) /* the requester may be gone: SYSTEM_ERROR */
      fprintf(stderr, "reply not delivered: %s\n", res.error);
    rmq_send_result_clear(&res);
    rmq_msg_destroy(reply);
  }
  return RMQ_CONSUME_SUCCESS;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long answered;

/* The requester's callback: once per request, with the reply or why not. */
static void on_reply(rmq_producer_t *p, rmq_err_t err, rmq_msg_t *reply,
                     void *opaque) {
  (void)p;
  pthread_mutex_lock(&mu);
  if (err == RMQ_OK) {
    size_t len;
    const char *body = rmq_msg_body(reply, &len);
    printf("async request %ld: reply '%.*s'\n", (long)(intptr_t)opaque,
           (int)len, body);
    answered++;
  } else {
    printf("async request %ld: %s\n", (long)(intptr_t)opaque, rmq_err_str(err));
  }
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv) {
  const char *topic = example_topic(argc, argv, "RequestTopic");
  rmq_producer_t *requester = example_producer(argc, argv, "RequesterGroup");
  for (long i = 0; i < 3; i++) {
    char body[64];
    snprintf(body, sizeof(body), "request %ld", i);
    rmq_msg_t *m = rmq_msg_new(topic);
    rmq_msg_set_body(m, body, strlen(body));
    /* the library takes the message; on_reply fires exactly once */
    rmq_err_t rc =
        rmq_producer_request_async(requester, m, 30000, on_reply, (void *)i);
    if (rc != RMQ_OK) {
      fprintf(stderr, "request %ld: %s\n", i, rmq_err_str(rc));
      rmq_msg_destroy(m);
    }
  }
  /* The replier, started once the requests are stored (flush waits for
   * their sends, which also made the topic): it consumes the topic from
   * its first message. */
  rmq_producer_flush(requester, 10000);
  replier_producer = example_producer(argc, argv, "ReplierGroup");
  rmq_push_consumer_t *replier = example_push_consumer(
      argc, argv, "ReplierConsumerGroup", topic, on_request, 0);
  long n = example_wait(&mu, &cv, &answered, 3);

  rmq_msg_t *m = rmq_msg_new(topic), *reply = NULL;
  rmq_msg_set_body(m, "request 3", 9);
  rmq_err_t rc = rmq_producer_request(requester, m, 10000, &reply);
  if (rc == RMQ_OK) {
    size_t len;
    const char *body = rmq_msg_body(reply, &len);
    printf("sync request 3: reply '%.*s' from topic %s\n", (int)len, body,
           rmq_msg_topic(reply));
    n++;
    rmq_msg_destroy(reply);
  } else {
    printf("sync request 3: %s\n", rmq_err_str(rc));
  }
  rmq_msg_destroy(m);
  rmq_push_consumer_destroy(replier, 5000);
  rmq_producer_destroy(replier_producer, 5000);
  rmq_producer_destroy(requester, 5000);
  printf("%ld of 4 requests answered\n", n);
  return n == 4 ? 0 : 1;
}

/* Lite pull consumer: subscribe, poll, print; offsets are committed
 * automatically (autoCommit, every 5 s and at destroy), so a restarted
 * consumer of the group goes on where this one stopped.
 * Usage: consumer_lite_pull [namesrv] [topic] [count]
 * Stops after count messages (default: none), or after 10 s without one. */
#include "common.h"

int main(int argc, char **argv) {
  rmq_pull_consumer_t *c = example_consumer(argc, argv, "LitePullGroup");
  const char *topic = example_topic(argc, argv, "TopicTest");
  long want = argc > 3 ? atol(argv[3]) : 0, got = 0;

  rmq_err_t err = rmq_pull_consumer_subscribe(c, topic, "*");
  if (err == RMQ_OK)
    err = rmq_pull_consumer_start(c);
  if (err != RMQ_OK) {
    printf("subscribe/start failed: %s\n", rmq_err_str(err));
    rmq_pull_consumer_destroy(c, 5000);
    return 1;
  }
  rmq_msg_t *msgs[32];
  int idle_ms = 0;
  while (idle_ms < 10000 && (want == 0 || got < want)) {
    int n = rmq_pull_consumer_poll(c, msgs, 32, 1000);
    if (n < 0) {
      printf("poll failed: %s\n", rmq_err_str((rmq_err_t)n));
      break;
    }
    idle_ms = n == 0 ? idle_ms + 1000 : 0;
    for (int i = 0; i < n; i++) {
      size_t len;
      const char *body = rmq_msg_body(msgs[i], &len);
      const char *tags = rmq_msg_tags(msgs[i]);
      printf("received: %s queue %d offset %lld tags %s body '%.*s'\n",
             rmq_msg_id(msgs[i]), rmq_msg_queue_id(msgs[i]),
             (long long)rmq_msg_queue_offset(msgs[i]), tags ? tags : "-",
             (int)len, body);
      rmq_msg_destroy(msgs[i]);
      got++;
    }
  }
  printf("%ld messages\n", got);
  rmq_pull_consumer_destroy(c, 5000); /* commits, leaves the group */
  return want == 0 || got >= want ? 0 : 1;
}

/* Shared by the examples: a producer or a pull consumer for the name server
 * given on the command line (default 127.0.0.1:9876). */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H

#include <pthread.h>
#include <rmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline rmq_producer_t *example_producer(int argc, char **argv,
                                               const char *group) {
  const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
  char err[256];
  rmq_conf_t *conf = rmq_conf_new();
  if (rmq_conf_set(conf, "namesrvAddr", ns, err, sizeof(err)) != RMQ_OK ||
      rmq_conf_set(conf, "producerGroup", group, err, sizeof(err)) != RMQ_OK) {
    fprintf(stderr, "config: %s\n", err);
    exit(1);
  }
  rmq_producer_t *p = rmq_producer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (p == NULL) {
    fprintf(stderr, "producer: %s\n", err);
    exit(1);
  }
  return p;
}

/* A pull consumer of @p group, reading each queue the group never committed
 * from its first message (the default, as in Java, is the queue's end). */
static inline rmq_pull_consumer_t *example_consumer(int argc, char **argv,
                                                    const char *group) {
  const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
  char err[256];
  rmq_conf_t *conf = rmq_conf_new();
  if (rmq_conf_set(conf, "namesrvAddr", ns, err, sizeof(err)) != RMQ_OK ||
      rmq_conf_set(conf, "consumerGroup", group, err, sizeof(err)) != RMQ_OK ||
      rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", err,
                   sizeof(err)) != RMQ_OK) {
    fprintf(stderr, "config: %s\n", err);
    exit(1);
  }
  rmq_pull_consumer_t *c = rmq_pull_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (c == NULL) {
    fprintf(stderr, "consumer: %s\n", err);
    exit(1);
  }
  return c;
}

/* A push consumer of @p group on @p topic ("*"), from the first offset of
 * queues the group never committed, with @p cb as concurrent (or, when
 * @p orderly, orderly) listener; started. Exits on failure. */
static inline rmq_push_consumer_t *
example_push_consumer(int argc, char **argv, const char *group,
                      const char *topic, rmq_consume_cb *cb, int orderly) {
  const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
  char err[256];
  rmq_conf_t *conf = rmq_conf_new();
  rmq_conf_set(conf, "namesrvAddr", ns, NULL, 0);
  rmq_conf_set(conf, "consumerGroup", group, NULL, 0);
  rmq_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
  rmq_push_consumer_t *c = rmq_push_consumer_new(NULL, conf, err, sizeof(err));
  rmq_conf_destroy(conf);
  if (c == NULL) {
    fprintf(stderr, "consumer: %s\n", err);
    exit(1);
  }
  rmq_err_t rc = orderly ? rmq_push_consumer_set_listener_orderly(c, cb, NULL)
                         : rmq_push_consumer_set_listener(c, cb, NULL);
  if (rc == RMQ_OK)
    rc = rmq_push_consumer_subscribe(c, topic, "*");
  if (rc == RMQ_OK)
    rc = rmq_push_consumer_start(c);
  if (rc != RMQ_OK) {
    fprintf(stderr, "start failed: %s\n", rmq_err_str(rc));
    rmq_push_consumer_destroy(c, 5000);
    exit(1);
  }
  return c;
}

/* Waits until *@p got reaches @p want (0: no count) or 10 s pass without
 * a new message; @p cv is signalled under @p mu on each one. Returns it. */
static inline long example_wait(pthread_mutex_t *mu, pthread_cond_t *cv,
                                const long *got, long want) {
  pthread_mutex_lock(mu);
  long last = -1;
  while ((want == 0 || *got < want) && *got != last) {
    last = *got;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while ((want == 0 || *got < want) && *got == last &&
           pthread_cond_timedwait(cv, mu, &ts) == 0)
      ;
  }
  long n = *got;
  pthread_mutex_unlock(mu);
  return n;
}

static inline const char *example_topic(int argc, char **argv,
                                        const char *dflt) {
  return argc > 2 ? argv[2] : dflt;
}

#endif

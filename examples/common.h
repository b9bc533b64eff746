/* Shared by the examples: a producer for the name server given on the
 * command line (default 127.0.0.1:9876). */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H

#include <rmq.h>
#include <stdio.h>
#include <stdlib.h>

static rmq_producer_t *example_producer(int argc, char **argv,
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

static const char *example_topic(int argc, char **argv, const char *dflt) {
  return argc > 2 ? argv[2] : dflt;
}

#endif

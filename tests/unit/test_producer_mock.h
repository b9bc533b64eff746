/* What the producer tests share: a mock that routes TopicT (4 queues on
 * broker-a) to itself and answers heartbeats. */
#ifndef TEST_PRODUCER_MOCK_H
#define TEST_PRODUCER_MOCK_H

#include "mock.h"
#include "rmq.h"

#include <stdio.h>
#include <string.h>

static char route_json[512];

static void route_to(mock_t *m) {
  snprintf(route_json, sizeof(route_json),
           "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"%s\"},\"brokerName\":"
           "\"broker-a\",\"cluster\":\"C\"}],\"queueDatas\":[{\"brokerName\":"
           "\"broker-a\",\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4,"
           "\"topicSysFlag\":0}]}",
           mock_addr(m));
  mock_add_rule(m, &(mock_rule_t){.code = 105,
                                  .body = (const uint8_t *)route_json,
                                  .body_len = strlen(route_json)});
  mock_add_rule(m, &(mock_rule_t){.code = 34}); /* heartbeats: plain OK */
}

/* A producer (own client) of group PG against the mock, with one extra
 * key when @p k is not NULL; NULL (reason on stderr) when refused. */
static inline rmq_producer_t *mock_producer(mock_t *m, const char *k,
                                            const char *v) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "producerGroup", "PG", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  if (k)
    rmq_conf_set(c, k, v, NULL, 0);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

#endif

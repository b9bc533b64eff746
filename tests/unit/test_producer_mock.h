/* What the producer tests share: a mock that routes TopicT (4 queues on
 * broker-a) to itself and answers heartbeats. */
#ifndef TEST_PRODUCER_MOCK_H
#define TEST_PRODUCER_MOCK_H

#include "mock.h"

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

#endif

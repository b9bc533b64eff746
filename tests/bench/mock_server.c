/*
 * A mock name server + broker for benchmarking the client alone: answers
 * GET_ROUTEINFO_BY_TOPIC with a route to itself and every send with
 * SUCCESS. Usage: mock_server PORTFILE SECONDS (writes "127.0.0.1:<port>"
 * to PORTFILE, serves for SECONDS, then exits).
 */
#include "mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  mock_t *m = mock_start();
  if (m == NULL)
    return 1;
  static char route[512];
  snprintf(route, sizeof(route),
           "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"%s\"},\"brokerName\":"
           "\"broker-a\",\"cluster\":\"C\"}],\"queueDatas\":[{\"brokerName\":"
           "\"broker-a\",\"perm\":6,\"readQueueNums\":8,\"writeQueueNums\":8,"
           "\"topicSysFlag\":0}]}",
           mock_addr(m));
  mock_add_rule(m, &(mock_rule_t){.code = 105, .body = (const uint8_t *)route,
                                  .body_len = strlen(route)});
  mock_add_rule(m, &(mock_rule_t){
                       .code = 310,
                       .ext = {{"msgId", "7F00000100002A9F0000000000000042"},
                               {"queueId", "1"},
                               {"queueOffset", "1"}}});
  /* autoBatch requests: no offset ids (the members get ""), so that one
   * static answer fits batches of any size. */
  mock_add_rule(m, &(mock_rule_t){
                       .code = 320,
                       .ext = {{"queueId", "1"}, {"queueOffset", "1"}}});
  FILE *f = fopen(argv[1], "w");
  fprintf(f, "%s\n", mock_addr(m));
  fclose(f);
  sleep((unsigned)atoi(argv[2]));
  mock_stop(m);
  return 0;
}

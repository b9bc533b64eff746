/*
 * The public mock cluster (rmq_mock.h) in a process of its own, for
 * measuring a consumer alone: the client on one core, this on the other.
 * Usage: mock_cluster_server PORTFILE SECONDS [TOPIC [QUEUES [MAX_MIB]]]
 * creates TOPIC (default BenchQ) with QUEUES (8) queues, keeps up to
 * MAX_MIB (1024) MiB of messages, writes the name server's "127.0.0.1:port"
 * to PORTFILE and serves for SECONDS. Fill it with producer_bench, then
 * run consumer_bench against it (doc/performance.md, "Consumer").
 */
#include <rmq.h>
#include <rmq_mock.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: %s PORTFILE SECONDS [TOPIC [QUEUES [MAX_MIB]]]\n", argv[0]);
    return 2;
  }
  const char *topic = argc > 3 ? argv[3] : "BenchQ";
  int queues = argc > 4 ? atoi(argv[4]) : 8;
  size_t max_mib = argc > 5 ? (size_t)atoll(argv[5]) : 1024;
  char err[256] = "";
  rmq_mock_cluster_t *c = rmq_mock_cluster_new(1, err, sizeof(err));
  if (c == NULL) {
    fprintf(stderr, "mock cluster: %s\n", err);
    return 1;
  }
  if (rmq_mock_set_storage_limits(c, (size_t)1 << 30, max_mib << 20) !=
          RMQ_OK ||
      rmq_mock_topic_create(c, topic, queues) != RMQ_OK) {
    fprintf(stderr, "mock cluster: bad limits or topic\n");
    rmq_mock_cluster_destroy(c);
    return 1;
  }
  FILE *f = fopen(argv[1], "w");
  if (f == NULL) {
    perror(argv[1]);
    rmq_mock_cluster_destroy(c);
    return 1;
  }
  fprintf(f, "%s\n", rmq_mock_cluster_namesrv(c));
  fclose(f);
  sleep((unsigned)atoi(argv[2]));
  rmq_mock_cluster_destroy(c);
  return 0;
}

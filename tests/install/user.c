/* A program of a librmq user, built out of tree against the installed
 * files (check-install.sh) or with librmq as a meson subproject
 * (check-subproject.sh). Prints the library's version and proves that the
 * header it was compiled with and the library it runs with agree, and
 * that the mock cluster (rmq_mock.h) is installed and starts. */
#include <rmq.h>
#include <rmq_mock.h>
#include <stdio.h>
#include <string.h>

static void count(void *opaque, const char *key, const char *value,
                  const char *dflt, const char *scope, int is_set) {
  (void)key, (void)value, (void)dflt, (void)scope, (void)is_set;
  ++*(int *)opaque;
}

int main(void) {
  char want[32];
  snprintf(want, sizeof(want), "%d.%d.%d", RMQ_VERSION_MAJOR, RMQ_VERSION_MINOR,
           RMQ_VERSION_PATCH);
  if (strcmp(rmq_version(), want) != 0 ||
      rmq_version_num() != RMQ_VERSION_NUM) {
    fprintf(stderr, "library %s, header %s\n", rmq_version(), want);
    return 1;
  }
  rmq_conf_t *conf = rmq_conf_new();
  char err[128];
  int keys = 0;
  if (conf == NULL ||
      rmq_conf_set(conf, "namesrvAddr", "127.0.0.1:9876", err, sizeof(err)) !=
          RMQ_OK ||
      rmq_conf_dump(conf, count, &keys) != RMQ_OK || keys < 10) {
    fprintf(stderr, "conf: %s\n", conf ? err : "no memory");
    rmq_conf_destroy(conf);
    return 1;
  }
  rmq_conf_destroy(conf);
  rmq_mock_cluster_t *mock = rmq_mock_cluster_new(1, err, sizeof(err));
  if (mock == NULL || rmq_mock_cluster_namesrv(mock) == NULL) {
    fprintf(stderr, "mock cluster: %s\n", err);
    return 1;
  }
  rmq_mock_cluster_destroy(mock);
  printf("librmq %s (%d keys)\n", rmq_version(), keys);
  return 0;
}

/* TopicRouteData and ClusterInfo decoding, and the queue lists derived
 * from a route. */
#include "codec/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmqi_route_t r;
  if (rmqi_route_decode(&r, (const char *)data, size, NULL) == RMQ_OK) {
    rmqi_mq_t *q;
    size_t n = rmqi_route_publish(&r, &q);
    for (size_t i = 0; i < n; i++)
      (void)rmqi_route_addr(&r, q[i].broker, 0);
    (void)rmqi_route_subscribe(&r, &q);
    (void)rmqi_route_equal(&r, &r);
    rmqi_route_free(&r);
  }
  rmqi_cluster_t c;
  if (rmqi_cluster_decode(&c, (const char *)data, size, NULL) == RMQ_OK)
    rmqi_cluster_free(&c);
  return 0;
}

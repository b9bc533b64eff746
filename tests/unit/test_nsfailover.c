/* Name server failover over host names: with one dead entry (refused), one
 * that does not resolve and one live name server addressed by host name,
 * a route lookup succeeds in every order of the three. The list is
 * shuffled by the client, so each order is set on the client's list
 * directly (tests link the internals). */
#include "client/client.h"
#include "mock.h"
#include "test.h"
#include "util/time.h"

#include <stdio.h>
#include <string.h>

TEST(route_lookup_moves_past_dead_and_unresolvable_name_servers) {
  mock_t *m = mock_start();
  REQUIRE(m != NULL);
  mock_serve_route(m, "b0", mock_addr(m), NULL, 4);
  char live[64];
  snprintf(live, sizeof(live), "localhost:%d", mock_port(m));
  const char *ns[3] = {"127.0.0.1:1", "nohost.invalid:9876", live};
  static const int perm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                 {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int p = 0; p < 6; p++) {
    char list[256];
    snprintf(list, sizeof(list), "%s;%s;%s", ns[perm[p][0]], ns[perm[p][1]],
             ns[perm[p][2]]);
    rmq_conf_t *conf = rmq_conf_new();
    char err[256] = "";
    REQUIRE(rmq_conf_set(conf, "namesrvAddr", list, err, sizeof(err)) ==
            RMQ_OK);
    rmq_conf_set(conf, "logLevel", "error", NULL, 0);
    rmq_conf_set(conf, "tcpTransportConnectTimeout", "1000", NULL, 0);
    rmq_conf_set(conf, "mqClientApiTimeout", "2000", NULL, 0);
    rmq_client_t *c = rmq_client_new(conf, err, sizeof(err));
    REQUIRE(c != NULL);
    /* The order under test, whatever the shuffle chose. */
    for (int i = 0; i < 3; i++)
      for (size_t j = i; j < c->ns.n; j++)
        if (strcmp(c->ns.addrs[j], ns[perm[p][i]]) == 0) {
          char *t = c->ns.addrs[i];
          c->ns.addrs[i] = c->ns.addrs[j];
          c->ns.addrs[j] = t;
        }
    atomic_store(&c->ns.cur, 0);
    for (int i = 0; i < 3; i++)
      CHECK_STR(c->ns.addrs[i], ns[perm[p][i]]);
    rmqi_snap_t *snap = NULL;
    int64_t t0 = rmqi_now_ms();
    rmq_err_t rc =
        rmqi_client_route(c, "T", t0 + 5000, &snap, err, sizeof(err));
    int64_t took = rmqi_now_ms() - t0;
    CHECK_ERR(rc, RMQ_OK);
    CHECK(took < 2000); /* refused and unresolvable both fail at once */
    if (rc != RMQ_OK || took >= 2000)
      fprintf(stderr, "order %s: %lld ms: %s\n", list, (long long)took, err);
    if (snap)
      rmqi_snap_release(snap);
    rmq_client_destroy(c, 1000);
    rmq_conf_destroy(conf);
  }
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(route_lookup_moves_past_dead_and_unresolvable_name_servers),
  };
  return RUN_TESTS(cases);
}

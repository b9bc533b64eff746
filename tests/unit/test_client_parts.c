/* Client-core building blocks: name server list, client id, local address. */
#include "client/local.h"
#include "client/nslist.h"
#include "test.h"
#include <unistd.h>

TEST(nslist_parses_and_shuffles_all_entries) {
  rmqi_nslist_t l;
  CHECK_ERR(rmqi_nslist_init(&l, "a:1;b:2;;c:3", 42), RMQ_OK);
  CHECK_UINT(l.n, 3);
  int seen = 0;
  for (size_t i = 0; i < l.n; i++)
    seen |= 1 << (l.addrs[i][0] - 'a');
  CHECK_INT(seen, 7);
  rmqi_nslist_free(&l);
  CHECK_ERR(rmqi_nslist_init(&l, "", 1), RMQ_ERR_NO_NAMESRV);
  CHECK_ERR(rmqi_nslist_init(&l, ";;", 1), RMQ_ERR_NO_NAMESRV);
}

TEST(nslist_is_sticky_and_fails_over_once) {
  rmqi_nslist_t l;
  CHECK_ERR(rmqi_nslist_init(&l, "a:1;b:2;c:3", 7), RMQ_OK);
  char b1[RMQI_NSLIST_ADDR_MAX], b2[RMQI_NSLIST_ADDR_MAX],
      b3[RMQI_NSLIST_ADDR_MAX];
  const char *first = rmqi_nslist_current(&l, b1);
  CHECK_STR(rmqi_nslist_current(&l, b3), first);
  char failed[16];
  snprintf(failed, sizeof(failed), "%s", first);
  rmqi_nslist_failed(&l, failed);
  const char *second = rmqi_nslist_current(&l, b2);
  CHECK(strcmp(second, failed) != 0);
  /* A second report of the same stale failure does not skip a server. */
  rmqi_nslist_failed(&l, failed);
  CHECK_STR(rmqi_nslist_current(&l, b3), second);
  /* Failing every server wraps around. */
  rmqi_nslist_failed(&l, second);
  rmqi_nslist_failed(&l, rmqi_nslist_current(&l, b3));
  CHECK_STR(rmqi_nslist_current(&l, b3), failed);
  rmqi_nslist_free(&l);
}

TEST(client_id_forms) {
  char id[256];
  rmqi_client_id(id, sizeof(id), "10.0.0.1", "inst", NULL, 0);
  CHECK_STR(id, "10.0.0.1@inst");
  rmqi_client_id(id, sizeof(id), "10.0.0.1", "inst", "unitA", 0);
  CHECK_STR(id, "10.0.0.1@inst@unitA");
  rmqi_client_id(id, sizeof(id), "10.0.0.1", "DEFAULT", "", 12345);
  char want[64];
  snprintf(want, sizeof(want), "10.0.0.1@%ld#12345", (long)getpid());
  CHECK_STR(id, want);
}

TEST(local_ip_configured_and_detected) {
  rmqi_local_ip_t ip;
  CHECK_ERR(rmqi_local_ip("192.168.0.2", &ip), RMQ_OK);
  CHECK_UINT(ip.len, 4);
  CHECK_STR(ip.text, "192.168.0.2");
  CHECK_UINT(ip.bytes[0], 192);
  CHECK_ERR(rmqi_local_ip("::1", &ip), RMQ_OK);
  CHECK_UINT(ip.len, 16);
  CHECK_ERR(rmqi_local_ip("not-an-ip", &ip), RMQ_ERR_CONF_INVALID);
  CHECK_ERR(rmqi_local_ip("", &ip), RMQ_OK);
  CHECK(ip.len == 4 || ip.len == 16);
  CHECK(ip.text[0] != '\0');
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(nslist_parses_and_shuffles_all_entries),
      TCASE(nslist_is_sticky_and_fails_over_once),
      TCASE(client_id_forms),
      TCASE(local_ip_configured_and_detected),
  };
  return RUN_TESTS(cases);
}

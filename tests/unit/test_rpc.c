/* lib/net against the mock broker on 127.0.0.1: round trips, exactly-once
 * completions, timeouts, connection failures, bad frames, broker requests,
 * bounded shutdown, several instances. */
#include "mock.h"
#include "net/rpc.h"
#include "test.h"
#include "util/disp.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static rmqi_rpc_t *new_rpc_frames(size_t max_frame) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.max_frame = max_frame,
                       .connect_timeout_ms = 1000,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet};
  rmqi_rpc_t *r;
  if (rmqi_rpc_new(&r, &o) != RMQ_OK || rmqi_rpc_start(r) != RMQ_OK)
    return NULL;
  return r;
}

static rmqi_rpc_t *new_rpc(void) {
  return new_rpc_frames(1 << 20);
}

/* A synchronous request with @p code and nothing else; its result. */
static rmq_err_t sync_code(rmqi_rpc_t *r, const char *addr, int32_t code,
                           int64_t timeout_ms) {
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, code);
  rmqi_resp_t resp;
  rmq_err_t rc = rmqi_rpc_invoke_sync(r, addr, &c, timeout_ms, &resp, NULL, 0);
  if (rc == RMQ_OK)
    rmqi_resp_free(&resp);
  rmqi_cmd_free(&c);
  return rc;
}

TEST(sync_round_trip_echoes) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  rmqi_cmd_ext_ref(&c, "topic", "T", 1);
  c.body = (const uint8_t *)"xyz";
  c.body_len = 3;
  rmqi_resp_t resp;
  char detail[256];
  CHECK_ERR(rmqi_rpc_invoke_sync(r, mock_addr(m), &c, 2000, &resp, detail,
                                 sizeof(detail)),
            RMQ_OK);
  CHECK_INT(resp.cmd.code, 0);
  CHECK_STR(rmqi_cmd_ext_get(&resp.cmd, "topic")->p, "T");
  CHECK_MEM(resp.cmd.body, resp.cmd.body_len, "xyz", 3);
  rmqi_resp_free(&resp);
  rmqi_cmd_free(&c);
  rmqi_rpc_free(r);
  mock_stop(m);
}

typedef struct counter {
  _Atomic int ok, timeout, lost, shutdown, connect, other, calls;
} counter_t;

static void count_cb(void *arg, const rmqi_rpc_result_t *res) {
  counter_t *k = arg;
  atomic_fetch_add(&k->calls, 1);
  switch (res->err) {
  case RMQ_OK:
    atomic_fetch_add(&k->ok, 1);
    break;
  case RMQ_ERR_TIMEOUT:
    atomic_fetch_add(&k->timeout, 1);
    break;
  case RMQ_ERR_CONN_LOST:
    atomic_fetch_add(&k->lost, 1);
    break;
  case RMQ_ERR_SHUTDOWN:
    atomic_fetch_add(&k->shutdown, 1);
    break;
  case RMQ_ERR_CONNECT:
    atomic_fetch_add(&k->connect, 1);
    break;
  default:
    atomic_fetch_add(&k->other, 1);
    break;
  }
}

static void wait_calls(counter_t *k, int n, int ms) {
  int64_t until = rmqi_now_ms() + ms;
  while (atomic_load(&k->calls) < n && rmqi_now_ms() < until)
    usleep(1000);
}

typedef struct blast {
  rmqi_rpc_t *r;
  const char *addr;
  counter_t *k;
  int n;
} blast_t;

static void *blaster(void *p) {
  blast_t *b = p;
  for (int i = 0; i < b->n; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 11);
    if (rmqi_rpc_invoke(b->r, b->addr, &c, 5000, count_cb, b->k) != RMQ_OK)
      atomic_fetch_add(&b->k->other, 1000000);
    rmqi_cmd_free(&c);
  }
  return NULL;
}

TEST(many_threads_each_completion_exactly_once) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  counter_t k = {0};
  pthread_t th[4];
  blast_t b = {r, mock_addr(m), &k, 5000};
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, blaster, &b);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  wait_calls(&k, 20000, 10000);
  CHECK_INT(atomic_load(&k.ok), 20000);
  CHECK_INT(mock_count(m, 11), 20000);
  /* Freeing completes every outstanding callback before it returns: a
   * duplicate (or a missing completion, as SHUTDOWN) would be counted now,
   * and nothing can come later. */
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&k.calls), 20000);
  CHECK_INT(atomic_load(&k.ok), 20000);
  mock_stop(m);
}

TEST(out_of_order_and_timeouts) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  mock_add_rule(m, &(mock_rule_t){.code = 30, .delay_ms = 300});
  mock_add_rule(m, &(mock_rule_t){.code = 31, .action = MOCK_DROP});
  counter_t slow = {0}, fast = {0}, dropped = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 30);
  CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 2000, count_cb, &slow),
            RMQ_OK);
  rmqi_cmd_init(&c, 12);
  CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 2000, count_cb, &fast),
            RMQ_OK);
  rmqi_cmd_init(&c, 31);
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 200, count_cb, &dropped),
            RMQ_OK);
  wait_calls(&fast, 1, 2000);
  CHECK_INT(atomic_load(&fast.ok), 1);
  CHECK_INT(atomic_load(&slow.calls), 0); /* the later one answered first */
  wait_calls(&dropped, 1, 2000);
  CHECK_INT(atomic_load(&dropped.timeout), 1);
  CHECK(rmqi_now_ms() - t0 < 600);
  wait_calls(&slow, 1, 2000);
  CHECK_INT(atomic_load(&slow.ok), 1);
  /* A response after its timeout is dropped, not delivered twice. */
  mock_clear_rules(m);
  mock_add_rule(m, &(mock_rule_t){.code = 32, .delay_ms = 300});
  counter_t late = {0};
  rmqi_cmd_init(&c, 32);
  rmqi_rpc_invoke(r, mock_addr(m), &c, 100, count_cb, &late);
  wait_calls(&late, 1, 2000);
  CHECK_INT(atomic_load(&late.timeout), 1);
  /* the response comes 300 ms after the request: wait until the
   * connection has read and dropped it, then free, which completes every
   * callback: the count after it is final */
  for (int t = 0;
       t < 300 && rmqi_rpc_conn_stats(r, mock_addr(m)).responses_dropped == 0;
       t++)
    usleep(10 * 1000);
  CHECK_INT(rmqi_rpc_conn_stats(r, mock_addr(m)).responses_dropped, 1);
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&late.calls), 1);
  CHECK_INT(atomic_load(&late.timeout), 1);
  mock_stop(m);
}

TEST(connection_refused_fails_fast) {
  mock_t *m = mock_start();
  char addr[32];
  snprintf(addr, sizeof(addr), "%s", mock_addr(m));
  mock_stop(m); /* nothing listens there now */
  rmqi_rpc_t *r = new_rpc();
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  rmqi_resp_t resp;
  char detail[256];
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(
      rmqi_rpc_invoke_sync(r, addr, &c, 3000, &resp, detail, sizeof(detail)),
      RMQ_ERR_CONNECT);
  CHECK(rmqi_now_ms() - t0 < 500);
  CHECK(strstr(detail, "refused") != NULL);
  /* Not an address at all. */
  CHECK_ERR(rmqi_rpc_invoke_sync(r, "127.0.0.1", &c, 100, &resp, NULL, 0),
            RMQ_ERR_INVALID_ARG);
  rmqi_rpc_free(r);
}

/* A listener that never accepts, with its accept queue already full: the
 * kernel drops further SYNs, so a connect to it hangs until
 * tcpTransportConnectTimeout (1000 ms in new_rpc) ends it, well before the
 * request's own 5 s timeout. */
TEST(connect_timeout_ends_a_hanging_connect) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sa);
  REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
          listen(ls, 0) == 0 &&
          getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
  int fill[4];
  for (int i = 0; i < 4; i++) { /* more than the queue holds */
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
  }
  usleep(100 * 1000);
  char addr[32];
  snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(r != NULL);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  rmqi_resp_t resp;
  char detail[256] = "";
  int64_t t0 = rmqi_now_ms();
  rmq_err_t rc =
      rmqi_rpc_invoke_sync(r, addr, &c, 5000, &resp, detail, sizeof(detail));
  int64_t took = rmqi_now_ms() - t0;
  CHECK_ERR(rc, RMQ_ERR_CONNECT);
  CHECK(took >= 900 && took < 2500);
  if (rc != RMQ_ERR_CONNECT || took < 900 || took >= 2500)
    fprintf(stderr, "took %lld ms: %s\n", (long long)took, detail);
  rmqi_rpc_free(r);
  for (int i = 0; i < 4; i++)
    close(fill[i]);
  close(ls);
}

/* Each fault of the peer fails the request waiting on it at once, with the
 * exact error and detail naming the cause (the detail is the connection's
 * address, then the reason), and the next request reconnects. The bad
 * frames are the mock's: MOCK_GARBAGE is a length of 16 followed by
 * header-info 0x05676172 (serialization type 5), MOCK_OVERSIZE a length
 * prefix of 0x7FFFFFFF, over new_rpc's 1 MiB frameMaxLength. */
TEST(peer_faults_fail_pending_and_reconnect) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  static const struct {
    mock_action_t act;
    rmq_err_t err;
    const char *why;
  } faults[] = {
      {MOCK_CLOSE_MIDFRAME, RMQ_ERR_CONN_LOST, "closed by peer"},
      {MOCK_GARBAGE, RMQ_ERR_CONN_LOST,
       "bad frame from peer (ERR_BAD_FRAME): unknown header serialization "
       "type 5"},
      {MOCK_OVERSIZE, RMQ_ERR_CONN_LOST,
       "bad frame from peer (ERR_FRAME_TOO_LARGE): frame length 2147483647 "
       "exceeds the maximum 1048576"},
      {MOCK_CLOSE, RMQ_ERR_CONN_LOST, "closed by peer"},
  };
  for (size_t i = 0; i < 4; i++) {
    mock_clear_rules(m);
    mock_add_rule(
        m, &(mock_rule_t){.code = 40, .action = faults[i].act, .times = 1});
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 40);
    rmqi_resp_t resp;
    char detail[256] = "", want[256];
    rmq_err_t rc = rmqi_rpc_invoke_sync(r, mock_addr(m), &c, 2000, &resp,
                                        detail, sizeof(detail));
    if (rc == RMQ_OK)
      rmqi_resp_free(&resp);
    CHECK_ERR(rc, faults[i].err); /* at once: not a timeout */
    snprintf(want, sizeof(want), "%s: %s", mock_addr(m), faults[i].why);
    CHECK_STR(detail, want);
    /* The next request reconnects and works. */
    rmqi_cmd_init(&c, 41);
    CHECK_ERR(rmqi_rpc_invoke_sync(r, mock_addr(m), &c, 2000, &resp, NULL, 0),
              RMQ_OK);
    rmqi_resp_free(&resp);
  }
  rmqi_rpc_free(r);
  mock_stop(m);
}

/* The check that the kernel retransmits, as the test wants it. */
static _Atomic bool retransmits;
static bool fake_retransmitting(int fd) {
  (void)fd;
  return atomic_load(&retransmits);
}

static rmqi_peer_stats_t peer_of(rmqi_rpc_t *r, const char *addr) {
  rmqi_peer_stats_t st = {0}, *all = NULL;
  size_t n = 0;
  if (rmqi_rpc_peer_stats(r, &all, &n) == RMQ_OK)
    for (size_t i = 0; i < n; i++)
      if (strcmp(all[i].addr, addr) == 0)
        st = all[i];
  free(all);
  return st;
}

/* A timeout closes the connection only when the peer sent nothing since
 * the request went out and the kernel retransmits (the path is down: TCP
 * would resume only at its next, backed-off, retransmission); then what
 * else waits on it fails once with CONN_LOST and the next request
 * reconnects. A slow peer (no retransmission), or one heard from since,
 * keeps its connection. */
TEST(timeout_closes_a_connection_only_when_the_path_is_down) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.max_frame = 1 << 20,
                       .connect_timeout_ms = 1000,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet,
                       .retransmitting = fake_retransmitting};
  mock_t *m = mock_start();
  rmqi_rpc_t *r;
  REQUIRE(m && rmqi_rpc_new(&r, &o) == RMQ_OK && rmqi_rpc_start(r) == RMQ_OK);
  mock_add_rule(m, &(mock_rule_t){.code = 31, .action = MOCK_DROP});
  mock_add_rule(m, &(mock_rule_t){.code = 33, .delay_ms = 600});
  const char *addr = mock_addr(m);
  rmqi_cmd_t c;
  /* the kernel does not retransmit (a slow peer): the connection stays,
   * the slow answer arrives */
  atomic_store(&retransmits, false);
  counter_t slow = {0}, lost = {0};
  rmqi_cmd_init(&c, 33);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 5000, count_cb, &slow), RMQ_OK);
  rmqi_cmd_init(&c, 31);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 100, count_cb, &lost), RMQ_OK);
  wait_calls(&slow, 1, 3000);
  CHECK_INT(atomic_load(&lost.timeout), 1);
  CHECK_INT(atomic_load(&slow.ok), 1);
  CHECK_INT(peer_of(r, addr).connects, 1);
  CHECK_INT(peer_of(r, addr).disconnects, 0);
  /* it retransmits and nothing came since: closed at the timeout, the
   * slower request fails at once, the next one reconnects */
  atomic_store(&retransmits, true);
  counter_t slow2 = {0}, lost2 = {0};
  rmqi_cmd_init(&c, 33);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 5000, count_cb, &slow2), RMQ_OK);
  rmqi_cmd_init(&c, 31);
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 100, count_cb, &lost2), RMQ_OK);
  wait_calls(&slow2, 1, 3000);
  CHECK(rmqi_now_ms() - t0 < 500); /* not the 600 ms answer */
  CHECK_INT(atomic_load(&lost2.timeout), 1);
  CHECK_INT(atomic_load(&slow2.lost), 1);
  rmqi_peer_stats_t st = peer_of(r, addr);
  CHECK_INT(st.disconnects, 1);
  CHECK(strstr(st.last_error, "TCP is retransmitting") != NULL);
  rmqi_resp_t resp;
  rmqi_cmd_init(&c, 12);
  CHECK_ERR(rmqi_rpc_invoke_sync(r, addr, &c, 2000, &resp, NULL, 0), RMQ_OK);
  rmqi_resp_free(&resp);
  CHECK_INT(peer_of(r, addr).connects, 2);
  /* it retransmits, but an answer came after the request went out: the
   * peer is there, the connection stays */
  counter_t lost3 = {0}, quick = {0};
  rmqi_cmd_init(&c, 31);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 300, count_cb, &lost3), RMQ_OK);
  rmqi_cmd_init(&c, 12);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 2000, count_cb, &quick), RMQ_OK);
  wait_calls(&lost3, 1, 3000);
  CHECK_INT(atomic_load(&quick.ok), 1);
  CHECK_INT(atomic_load(&lost3.timeout), 1);
  rmqi_cmd_init(&c, 12);
  CHECK_ERR(rmqi_rpc_invoke_sync(r, addr, &c, 2000, &resp, NULL, 0), RMQ_OK);
  rmqi_resp_free(&resp);
  st = peer_of(r, addr);
  CHECK_INT(st.connects, 2);
  CHECK_INT(st.disconnects, 1);
  /* freeing completes whatever is left: each callback fired once */
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&slow.calls) + atomic_load(&lost.calls), 2);
  CHECK_INT(atomic_load(&slow2.calls) + atomic_load(&lost2.calls), 2);
  CHECK_INT(atomic_load(&lost3.calls) + atomic_load(&quick.calls), 2);
  mock_stop(m);
}

static _Atomic int handled;
static void on_check(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  (void)arg;
  (void)conn;
  (void)req;
  atomic_fetch_add(&handled, 1);
}

TEST(broker_requests_dispatched_and_unknown_answered) {
  mock_t *m = mock_start();
  static rmqi_log_t quiet = {NULL, NULL, 0};
  rmqi_rpc_opts_t o = {.ser = RMQI_SER_JSON, .log = &quiet};
  rmqi_rpc_t *r;
  REQUIRE(rmqi_rpc_new(&r, &o) == RMQ_OK);
  rmqi_rpc_handle(r, 39, on_check, NULL);
  rmqi_rpc_start(r);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 34);
  rmqi_resp_t resp;
  REQUIRE(rmqi_rpc_invoke_sync(r, mock_addr(m), &c, 2000, &resp, NULL, 0) ==
          RMQ_OK);
  rmqi_resp_free(&resp);
  mock_push(m, 39, true);
  mock_push(m, 777, false);
  int32_t code = -1;
  char remark[128] = "";
  for (int i = 0; i < 200 && !mock_last_reply(m, &code, remark, sizeof(remark));
       i++)
    usleep(5000);
  CHECK_INT(atomic_load(&handled), 1);
  CHECK_INT(code, 3);
  CHECK_STR(remark, " request type 777 not supported");
  rmqi_rpc_free(r);
  mock_stop(m);
}

TEST(shutdown_fails_in_flight_and_joins) {
  int threads_before = rmqi_thread_count();
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  mock_add_rule(m, &(mock_rule_t){.code = 50, .action = MOCK_DROP});
  counter_t k = {0};
  for (int i = 0; i < 100; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 50);
    rmqi_rpc_invoke(r, mock_addr(m), &c, 60000, count_cb, &k);
  }
  usleep(100000);
  int64_t t0 = rmqi_now_ms();
  rmqi_rpc_free(r);
  CHECK(rmqi_now_ms() - t0 < 1000);
  CHECK_INT(atomic_load(&k.calls), 100);
  CHECK_INT(atomic_load(&k.shutdown), 100);
  mock_stop(m);
  CHECK_INT(rmqi_thread_count_settled(threads_before, 1000), threads_before);
}

/* Long polls (rmqi_rpc_invoke_idle) are not what a client's destroy
 * waits for: rmqi_rpc_pending counts the others only, and a stop fails
 * both kinds once. */
TEST(long_polls_are_not_counted_pending) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  mock_add_rule(m, &(mock_rule_t){.code = 50, .action = MOCK_DROP});
  counter_t k = {0};
  for (int i = 0; i < 5; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 50);
    CHECK_ERR(rmqi_rpc_invoke_idle(r, mock_addr(m), &c, 60000, count_cb, &k),
              RMQ_OK);
    rmqi_cmd_free(&c);
  }
  CHECK_INT(mock_wait_count(m, 50, 5, 5000), 5);
  CHECK_UINT(rmqi_rpc_pending(r), 0);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50);
  CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 60000, count_cb, &k), RMQ_OK);
  rmqi_cmd_free(&c);
  CHECK_INT(mock_wait_count(m, 50, 6, 5000), 6);
  CHECK_UINT(rmqi_rpc_pending(r), 1);
  rmqi_rpc_stop(r);
  CHECK_INT(atomic_load(&k.calls), 6);
  CHECK_INT(atomic_load(&k.shutdown), 6);
  CHECK_UINT(rmqi_rpc_pending(r), 0);
  rmqi_rpc_free(r);
  mock_stop(m);
}

static void bump(void *arg) {
  atomic_fetch_add((_Atomic int *)arg, 1);
}

/* rmqi_rpc_stop: fails what is pending exactly once before it returns,
 * refuses new work at once (even for an address it would otherwise reject),
 * is idempotent, and leaves the instance valid until rmqi_rpc_free. */
TEST(stop_fails_pending_once_and_refuses_new_work) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  mock_add_rule(m, &(mock_rule_t){.code = 50, .action = MOCK_DROP});
  counter_t k = {0};
  for (int i = 0; i < 20; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 50);
    CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 60000, count_cb, &k),
              RMQ_OK);
    rmqi_cmd_free(&c);
  }
  CHECK_INT(mock_wait_count(m, 50, 20, 5000), 20);
  CHECK(!rmqi_rpc_closing(r));
  rmqi_rpc_stop(r);
  /* Synchronous: every callback has run by now, each once. */
  CHECK_INT(atomic_load(&k.calls), 20);
  CHECK_INT(atomic_load(&k.shutdown), 20);
  CHECK(rmqi_rpc_closing(r));
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 51);
  CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 1000, count_cb, &k),
            RMQ_ERR_SHUTDOWN);
  CHECK_ERR(rmqi_rpc_invoke(r, "host.example:5", &c, 1000, count_cb, &k),
            RMQ_ERR_SHUTDOWN);
  CHECK_ERR(rmqi_rpc_oneway(r, mock_addr(m), &c), RMQ_ERR_SHUTDOWN);
  rmqi_resp_t resp;
  char detail[64] = "";
  CHECK_ERR(rmqi_rpc_invoke_sync(r, mock_addr(m), &c, 1000, &resp, detail,
                                 sizeof(detail)),
            RMQ_ERR_SHUTDOWN);
  CHECK_ERR(rmqi_loop_post(rmqi_rpc_loop(r), bump, &k.other), RMQ_ERR_SHUTDOWN);
  rmqi_cmd_free(&c);
  rmqi_rpc_stop(r); /* idempotent */
  CHECK_INT(atomic_load(&k.calls), 20);
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&k.calls), 20);
  CHECK_INT(mock_count(m, 51), 0);
  mock_stop(m);
}

/* rmqi_loop_post after rmqi_loop_stop is refused (the closure would never
 * run); everything accepted before stop runs exactly once, including on a
 * loop that was never started. */

TEST(loop_post_after_stop_is_refused) {
  for (int started = 0; started < 2; started++) {
    rmqi_loop_t *l;
    REQUIRE(rmqi_loop_new(&l) == RMQ_OK);
    if (started)
      REQUIRE(rmqi_loop_start(l) == RMQ_OK);
    _Atomic int n = 0;
    for (int i = 0; i < 100; i++)
      CHECK_ERR(rmqi_loop_post(l, bump, &n), RMQ_OK);
    rmqi_loop_stop(l);
    CHECK_INT(atomic_load(&n), 100);
    CHECK_ERR(rmqi_loop_post(l, bump, &n), RMQ_ERR_SHUTDOWN);
    rmqi_loop_stop(l);
    CHECK_INT(atomic_load(&n), 100);
    rmqi_loop_free(l);
  }
}

/* rmqi_loop_post_node (how a held completion reaches the loop, needing no
 * memory): nodes run once each, in the order posted, beside ordinary
 * posts, before and after start; refused once stop has begun; stop runs
 * the ones still queued. */
typedef struct node_rec {
  rmqi_loop_node_t node;
  _Atomic int *seq; /* the next run's number */
  int ran_as;       /* its run's number, -1 before */
} node_rec_t;

static void node_ran(void *arg) {
  node_rec_t *x = arg;
  x->ran_as = atomic_fetch_add(x->seq, 1);
}

TEST(loop_post_node_runs_once_in_order) {
  for (int started = 0; started < 2; started++) {
    rmqi_loop_t *l;
    REQUIRE(rmqi_loop_new(&l) == RMQ_OK);
    if (started)
      REQUIRE(rmqi_loop_start(l) == RMQ_OK);
    enum { N = 50 };
    node_rec_t recs[N];
    _Atomic int seq = 0, plain = 0;
    for (int i = 0; i < N; i++) {
      recs[i] = (node_rec_t){.node = {.fn = node_ran, .arg = &recs[i]},
                             .seq = &seq,
                             .ran_as = -1};
      CHECK_ERR(rmqi_loop_post_node(l, &recs[i].node), RMQ_OK);
      CHECK_ERR(rmqi_loop_post(l, bump, &plain), RMQ_OK);
    }
    rmqi_loop_stop(l);
    CHECK_INT(atomic_load(&seq), N);
    CHECK_INT(atomic_load(&plain), N);
    for (int i = 0; i < N; i++)
      CHECK_INT(recs[i].ran_as, i);
    node_rec_t late = {.node = {.fn = node_ran, .arg = &late},
                       .seq = &seq,
                       .ran_as = -1};
    CHECK_ERR(rmqi_loop_post_node(l, &late.node), RMQ_ERR_SHUTDOWN);
    rmqi_loop_stop(l);
    CHECK_INT(late.ran_as, -1);
    rmqi_loop_free(l);
  }
}

/* rmqi_loop_on_thread: true on the loop thread from its very first closure
 * (posted before start, so it runs in the thread's first round), false
 * elsewhere and after stop. The old code wrote the id after pthread_create
 * returned, racing with the thread: the closure could read it unset (and
 * TSan reports the race). */
static void note_on_thread(void *arg) {
  void **a = arg;
  atomic_store((_Atomic int *)a[1], rmqi_loop_on_thread(a[0]) ? 1 : 2);
}

TEST(loop_on_thread_is_safe_from_the_start) {
  for (int i = 0; i < 50; i++) {
    rmqi_loop_t *l;
    REQUIRE(rmqi_loop_new(&l) == RMQ_OK);
    _Atomic int seen = 0;
    void *a[2] = {l, (void *)&seen};
    CHECK_ERR(rmqi_loop_post(l, note_on_thread, a), RMQ_OK);
    REQUIRE(rmqi_loop_start(l) == RMQ_OK);
    CHECK(!rmqi_loop_on_thread(l));
    while (atomic_load(&seen) == 0)
      usleep(100);
    CHECK_INT(atomic_load(&seen), 1);
    rmqi_loop_stop(l);
    CHECK(!rmqi_loop_on_thread(l));
    rmqi_loop_free(l);
  }
}

/* rmqi_rpc_cancel_if completes exactly the matching requests, on the
 * calling thread, with the given error and detail; the others stay
 * pending until stop. */
typedef struct cancel_rec {
  _Atomic int calls;
  rmq_err_t err;
  char detail[64];
  pthread_t tid;
} cancel_rec_t;

static void cancel_cb(void *arg, const rmqi_rpc_result_t *res) {
  cancel_rec_t *c = arg;
  c->err = res->err;
  snprintf(c->detail, sizeof(c->detail), "%s", res->detail);
  c->tid = pthread_self();
  atomic_fetch_add(&c->calls, 1);
}

static bool match_arg(rmqi_rpc_cb cb, void *cb_arg, void *ctx) {
  return cb == cancel_cb && ((cancel_rec_t *)cb_arg)->err == *(int *)ctx;
}

TEST(cancel_if_completes_only_the_matching) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  mock_add_rule(m, &(mock_rule_t){.code = 50, .action = MOCK_DROP});
  cancel_rec_t rec[6];
  memset(rec, 0, sizeof(rec));
  for (int i = 0; i < 6; i++) {
    rec[i].err = (rmq_err_t)(i % 2); /* the tag match_arg looks at */
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 50);
    CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 60000, cancel_cb, &rec[i]),
              RMQ_OK);
    rmqi_cmd_free(&c);
  }
  CHECK_INT(mock_wait_count(m, 50, 6, 5000), 6);
  int tag = 1;
  rmqi_rpc_cancel_if(r, match_arg, &tag, RMQ_ERR_TIMEOUT, "cancelled here");
  for (int i = 1; i < 6; i += 2) {
    CHECK_INT(atomic_load(&rec[i].calls), 1);
    CHECK_ERR(rec[i].err, RMQ_ERR_TIMEOUT);
    CHECK_STR(rec[i].detail, "cancelled here");
    CHECK(pthread_equal(rec[i].tid, pthread_self()));
  }
  for (int i = 0; i < 6; i += 2)
    CHECK_INT(atomic_load(&rec[i].calls), 0);
  /* Again: nothing left to match. */
  rmqi_rpc_cancel_if(r, match_arg, &tag, RMQ_ERR_TIMEOUT, "again");
  for (int i = 1; i < 6; i += 2)
    CHECK_INT(atomic_load(&rec[i].calls), 1);
  rmqi_rpc_stop(r);
  for (int i = 0; i < 6; i++)
    CHECK_INT(atomic_load(&rec[i].calls), 1);
  for (int i = 0; i < 6; i += 2)
    CHECK_ERR(rec[i].err, RMQ_ERR_SHUTDOWN);
  rmqi_rpc_free(r);
  mock_stop(m);
}

/* A raw peer on 127.0.0.1 that we drive by hand: a listener with a small
 * receive buffer (inherited by what it accepts), so that a peer that does
 * not read backs our output up quickly. */
static int raw_listen(char *addr, size_t n) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int small = 4096;
  setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sa);
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(ls, 8) != 0 || getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
    return -1;
  snprintf(addr, n, "127.0.0.1:%u", ntohs(sa.sin_port));
  return ls;
}

/* An instance with a bound on each connection's output (0: the default),
 * an idle trim period (0: the default), the least body it lends rather
 * than copies (0: the default; SIZE_MAX: none) and a handler for code 39. */
static rmqi_rpc_t *new_rpc_lend(size_t bound, int64_t idle_trim_ms,
                                size_t lend_min, rmqi_rpc_handler h) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.max_frame = 1 << 20,
                       .connect_timeout_ms = 1000,
                       .max_conn_output = bound,
                       .idle_trim_ms = idle_trim_ms,
                       .lend_min = lend_min,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet};
  rmqi_rpc_t *r;
  if (rmqi_rpc_new(&r, &o) != RMQ_OK)
    return NULL;
  if (h)
    rmqi_rpc_handle(r, 39, h, NULL);
  if (rmqi_rpc_start(r) != RMQ_OK)
    return NULL;
  return r;
}

static rmqi_rpc_t *new_rpc_with(size_t bound, int64_t idle_trim_ms,
                                rmqi_rpc_handler h) {
  return new_rpc_lend(bound, idle_trim_ms, 0, h);
}

static rmqi_rpc_t *new_rpc_bounded(size_t bound, rmqi_rpc_handler h) {
  return new_rpc_with(bound, 0, h);
}

static _Atomic int markers;
static void on_marker(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  (void)arg;
  (void)conn;
  (void)req;
  atomic_fetch_add(&markers, 1);
}

/* A peer that floods us with requests we answer (unknown code: answered
 * REQUEST_CODE_NOT_SUPPORTED) and never reads the answers. Unbounded, we
 * queued every answer (1.6 GB in 4 s was seen); now replies stop at a
 * quarter of maxConnectionOutputBytes and the rest are dropped. A marker
 * request at the end of the flood tells us every frame was dispatched. */
TEST(flooding_peer_that_never_reads_stays_bounded) {
  char addr[32];
  int ls = raw_listen(addr, sizeof(addr));
  REQUIRE(ls >= 0);
  const size_t bound = 1 << 20;
  rmqi_rpc_t *r = new_rpc_bounded(bound, on_marker);
  REQUIRE(r != NULL);
  counter_t k = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50); /* opens the connection; never answered */
  REQUIRE(rmqi_rpc_invoke(r, addr, &c, 60000, count_cb, &k) == RMQ_OK);
  int fd = accept(ls, NULL, NULL);
  REQUIRE(fd >= 0);
  rmqi_buf_t flood;
  rmqi_buf_init(&flood);
  for (int i = 0; i < 200000; i++) {
    rmqi_cmd_init(&c, 777);
    c.opaque = i + 1;
    rmqi_cmd_encode(&flood, &c, RMQI_SER_JSON);
    rmqi_cmd_free(&c);
  }
  rmqi_cmd_init(&c, 39);
  c.flag |= RMQI_FLAG_ONEWAY;
  rmqi_cmd_encode(&flood, &c, RMQI_SER_JSON);
  rmqi_cmd_free(&c);
  REQUIRE(rmqi_buf_ok(&flood));
  size_t off = 0; /* blocking: the client reads all of it */
  while (off < flood.len) {
    ssize_t n = write(fd, flood.data + off, flood.len - off);
    REQUIRE(n > 0);
    off += (size_t)n;
  }
  int64_t until = rmqi_now_ms() + 20000;
  while (atomic_load(&markers) == 0 && rmqi_now_ms() < until)
    usleep(1000);
  REQUIRE(atomic_load(&markers) == 1);
  rmqi_conn_stats_t st = rmqi_rpc_conn_stats(r, addr);
  CHECK(st.exists);
  CHECK(st.queued <= bound / 4);
  CHECK(st.replies_dropped > 0);
  if (st.queued > bound / 4)
    fprintf(stderr, "queued %zu bytes\n", st.queued);
  CHECK_INT(atomic_load(&k.calls), 0); /* the connection was kept */
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&k.shutdown), 1);
  rmqi_buf_free(&flood);
  close(fd);
  close(ls);
}

/* A broker that stopped reading: our requests back up to the bound, then
 * fail at once with QUEUE_FULL naming the connection and the bound; the
 * connection, over its bound with nothing read for the connect timeout, is
 * closed and everything queued on it fails with CONN_LOST, once. */
TEST(peer_not_reading_our_requests_fails_fast_then_closes) {
  char addr[32];
  int ls = raw_listen(addr, sizeof(addr));
  REQUIRE(ls >= 0);
  const size_t bound = 1 << 20;
  rmqi_rpc_t *r = new_rpc_bounded(bound, NULL);
  REQUIRE(r != NULL);
  static uint8_t body[64 * 1024];
  counter_t k = {0};
  int accepted = 0, fd = -1;
  size_t max_queued = 0;
  rmq_err_t rc = RMQ_OK;
  for (int i = 0; i < 200 && rc == RMQ_OK; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 50);
    c.body = body;
    c.body_len = sizeof(body);
    rc = rmqi_rpc_invoke(r, addr, &c, 60000, count_cb, &k);
    rmqi_cmd_free(&c);
    if (rc == RMQ_OK)
      accepted++;
    if (fd < 0)
      fd = accept(ls, NULL, NULL);
    rmqi_conn_stats_t st = rmqi_rpc_conn_stats(r, addr);
    if (st.queued > max_queued)
      max_queued = st.queued;
  }
  CHECK(max_queued <= bound);
  CHECK_ERR(rc, RMQ_ERR_QUEUE_FULL);
  CHECK(accepted > 0 && accepted < 200);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50);
  c.body = body;
  c.body_len = sizeof(body);
  rmqi_resp_t resp;
  char detail[256] = "", want[256];
  CHECK_ERR(
      rmqi_rpc_invoke_sync(r, addr, &c, 2000, &resp, detail, sizeof(detail)),
      RMQ_ERR_QUEUE_FULL);
  snprintf(want, sizeof(want),
           "%s: connection output over its bound of 1048576 bytes (the peer "
           "is not reading)",
           addr);
  CHECK_STR(detail, want);
  wait_calls(&k, accepted, 10000);
  CHECK_INT(atomic_load(&k.calls), accepted);
  CHECK_INT(atomic_load(&k.lost), accepted);
  rmqi_cmd_free(&c);
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&k.calls), accepted);
  close(fd);
  close(ls);
}

/* Reads one whole frame from a blocking socket and decodes it. */
static bool read_frame(int fd, rmqi_cmd_t *cmd, uint8_t *buf, size_t cap) {
  size_t have = 0, fl = 0;
  for (;;) {
    if (have >= 4 && rmqi_frame_check(buf, have, cap, &fl, NULL) == RMQ_OK)
      return rmqi_cmd_decode(cmd, buf, fl, NULL) == RMQ_OK;
    ssize_t n = read(fd, buf + have, cap - have);
    if (n <= 0)
      return false;
    have += (size_t)n;
  }
}

static void write_response(int fd, int32_t opaque) {
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 0);
  c.opaque = opaque;
  c.flag |= RMQI_FLAG_RESPONSE;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_cmd_encode(&b, &c, RMQI_SER_JSON);
  ssize_t n = write(fd, b.data, b.len);
  (void)n;
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
}

/* A response names its request only by opaque, which any peer can guess:
 * peer B answering the opaque of a request sent to broker A must not
 * complete it. B's answer to its own request (written after the forged
 * one) tells us the forged one was read and dropped. */
TEST(response_only_from_the_connection_of_its_request) {
  mock_t *a = mock_start();
  char addr_b[32];
  int ls = raw_listen(addr_b, sizeof(addr_b));
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(a && ls >= 0 && r);
  mock_add_rule(a, &(mock_rule_t){.code = 50, .action = MOCK_DROP});
  cancel_rec_t on_a = {0}, on_b = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50);
  REQUIRE(rmqi_rpc_invoke(r, mock_addr(a), &c, 60000, cancel_cb, &on_a) ==
          RMQ_OK);
  int32_t opaque_a = c.opaque;
  rmqi_cmd_free(&c);
  REQUIRE(mock_wait_count(a, 50, 1, 5000) == 1);
  rmqi_cmd_init(&c, 51);
  REQUIRE(rmqi_rpc_invoke(r, addr_b, &c, 60000, cancel_cb, &on_b) == RMQ_OK);
  rmqi_cmd_free(&c);
  int fd = accept(ls, NULL, NULL);
  REQUIRE(fd >= 0);
  static uint8_t buf[1 << 16];
  rmqi_cmd_t req;
  REQUIRE(read_frame(fd, &req, buf, sizeof(buf)));
  int32_t opaque_b = req.opaque;
  rmqi_cmd_free(&req);
  write_response(fd, opaque_a); /* forged: A's request */
  write_response(fd, opaque_b); /* B's own */
  int64_t until = rmqi_now_ms() + 5000;
  while (atomic_load(&on_b.calls) == 0 && rmqi_now_ms() < until)
    usleep(1000);
  CHECK_INT(atomic_load(&on_b.calls), 1);
  CHECK_ERR(on_b.err, RMQ_OK);
  CHECK_INT(atomic_load(&on_a.calls), 0);
  rmqi_rpc_stop(r); /* A's request was still pending: it ends now */
  CHECK_INT(atomic_load(&on_a.calls), 1);
  CHECK_ERR(on_a.err, RMQ_ERR_SHUTDOWN);
  rmqi_rpc_free(r);
  close(fd);
  close(ls);
  mock_stop(a);
}

/* Bodies always copied into the output buffers: the buffers' own
 * behaviour is what the callers test. */
static rmqi_rpc_t *new_rpc_trim(int64_t idle_trim_ms) {
  return new_rpc_lend(0, idle_trim_ms, SIZE_MAX, NULL);
}

/* One 900 KB body echoed through the mock: a sync round trip (on an idle
 * connection the caller writes it to the socket itself). */
static bool large_round_trip(rmqi_rpc_t *r, const char *addr) {
  static uint8_t body[900 * 1000];
  memset(body, 'x', sizeof(body));
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  c.body = body;
  c.body_len = sizeof(body);
  rmqi_resp_t resp;
  bool ok = rmqi_rpc_invoke_sync(r, addr, &c, 5000, &resp, NULL, 0) == RMQ_OK;
  if (ok) {
    ok = resp.cmd.body_len == sizeof(body);
    rmqi_resp_free(&resp);
  }
  rmqi_cmd_free(&c);
  return ok;
}

/* Waits (5 s at most) for the connection's buffers to be back at 128 KiB
 * or less, and checks that they are. */
static void check_buffers_shrink(rmqi_rpc_t *r, const char *addr) {
  rmqi_conn_stats_t st;
  int64_t until = rmqi_now_ms() + 5000;
  do {
    st = rmqi_rpc_conn_stats(r, addr);
    if (st.in_cap <= 128 * 1024 && st.wbuf_cap <= 128 * 1024 &&
        st.out_cap <= 128 * 1024)
      break;
    usleep(10 * 1000);
  } while (rmqi_now_ms() < until);
  CHECK(st.exists);
  CHECK(st.in_cap <= 128 * 1024);
  CHECK(st.wbuf_cap <= 128 * 1024);
  CHECK(st.out_cap <= 128 * 1024);
  if (st.in_cap > 128 * 1024 || st.wbuf_cap > 128 * 1024 ||
      st.out_cap > 128 * 1024)
    fprintf(stderr, "in %zu wbuf %zu out %zu\n", st.in_cap, st.wbuf_cap,
            st.out_cap);
}

/* One large frame each way grows the input, output and write buffers;
 * once the connection has carried no large frame for idle_trim_ms they go
 * back to at most 128 KiB instead of pinning twice the frame for the
 * connection's life: after a frame the loop wrote (the first, on a new
 * connection) and after one the caller wrote itself (the idle connection). */
TEST(buffers_shrink_once_idle_after_a_large_frame) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc_trim(50);
  REQUIRE(m && r);
  CHECK(large_round_trip(r, mock_addr(m)));
  check_buffers_shrink(r, mock_addr(m));
  CHECK(large_round_trip(r, mock_addr(m)));
  check_buffers_shrink(r, mock_addr(m));
  rmqi_rpc_free(r);
  mock_stop(m);
}

/* While large frames keep coming, the output buffers keep their size: once
 * both have held one (they swap roles), the next large frame is encoded
 * into memory already there, with no regrowth (copies, fresh pages). */
TEST(output_buffers_kept_between_large_frames) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc_trim(600000);
  REQUIRE(m && r);
  CHECK(large_round_trip(r, mock_addr(m)));
  CHECK(large_round_trip(r, mock_addr(m)));
  rmqi_conn_stats_t a = rmqi_rpc_conn_stats(r, mock_addr(m));
  CHECK(large_round_trip(r, mock_addr(m)));
  rmqi_conn_stats_t b = rmqi_rpc_conn_stats(r, mock_addr(m));
  CHECK(a.wbuf_cap >= 900 * 1000 && a.out_cap >= 900 * 1000);
  CHECK_INT(b.wbuf_cap + b.out_cap, a.wbuf_cap + a.out_cap);
  rmqi_rpc_free(r);
  mock_stop(m);
}

/* A body that names its sender (request @p i of thread @p t, @p len
 * bytes), differing by request and by position, so that a frame cut,
 * repeated or spliced at a partial write shows. */
static void fill_body(uint8_t *b, size_t len, int t, int i) {
  for (size_t k = 0; k < len; k++)
    b[k] = (uint8_t)(k * 31u + (unsigned)t * 7u + (unsigned)i * 13u +
                     (unsigned)(k >> 10));
}

typedef struct large_rec {
  _Atomic int calls;
  rmq_err_t err;
} large_rec_t;

static void large_cb(void *arg, const rmqi_rpc_result_t *res) {
  large_rec_t *l = arg;
  l->err = res->err;
  atomic_fetch_add(&l->calls, 1);
}

/* Reads the next whole frame of @p fd into @p in (which keeps what follows
 * it); its length in *fl. */
static bool next_frame(int fd, rmqi_buf_t *in, size_t *fl) {
  for (;;) {
    if (rmqi_frame_check(in->data, in->len, 64u << 20, fl, NULL) == RMQ_OK)
      return true;
    if (!rmqi_buf_reserve(in, 64 * 1024))
      return false;
    /* small reads: the client sees a full socket again and again */
    size_t want = in->cap - in->len < 9000 ? in->cap - in->len : 9000;
    ssize_t n = read(fd, in->data + in->len, want);
    if (n <= 0)
      return false;
    in->len += (size_t)n;
  }
}

/* Many large async requests to a peer that reads slowly through a small
 * receive buffer: the client's writes are partial and frames queue behind
 * a partly written one, more being queued while earlier ones are read.
 * Every frame arrives whole, in order, byte for byte what the codec
 * encodes for it, and every request completes once. With @p lend the
 * bodies are written from the caller's memory: the output buffers then
 * hold only headers and never grow past their least size (a copy of one
 * body would take them past it). */
static void large_frames_exact(bool lend) {
  enum { N = 48, BODY = 300 * 1000 };
  char addr[32];
  int ls = raw_listen(addr, sizeof(addr));
  rmqi_rpc_t *r = lend ? new_rpc_lend(0, 0, 0, NULL) : new_rpc_trim(0);
  REQUIRE(ls >= 0 && r);
  size_t max_cap = 0, max_queued = 0;
  uint8_t *bodies = malloc((size_t)N * (BODY + N));
  REQUIRE(bodies);
  static large_rec_t rec[N];
  memset(rec, 0, sizeof(rec)); /* static: both variants use it */
  int32_t opaque[N];
  int fd = -1, sent = 0, got = 0;
  rmqi_buf_t in, want;
  rmqi_buf_init(&in);
  rmqi_buf_init(&want);
  while (got < N) {
    /* a third up front, then more each time a few have been read */
    for (int k = 0; sent < N && (sent < N / 3 || k < 4); k++, sent++) {
      uint8_t *b = bodies + (size_t)sent * (BODY + N);
      fill_body(b, BODY + (size_t)sent, 0, sent);
      rmqi_cmd_t c;
      rmqi_cmd_init(&c, 310);
      rmqi_cmd_ext_ref(&c, "topic", "T", 1);
      c.body = b;
      c.body_len = BODY + (size_t)sent;
      REQUIRE((lend ? rmqi_rpc_invoke_lend
                    : rmqi_rpc_invoke)(r, addr, &c, 60000, large_cb,
                                       &rec[sent]) == RMQ_OK);
      opaque[sent] = c.opaque;
      rmqi_cmd_free(&c);
    }
    if (fd < 0) {
      fd = accept(ls, NULL, NULL);
      REQUIRE(fd >= 0);
    }
    rmqi_conn_stats_t cs = rmqi_rpc_conn_stats(r, addr);
    if (cs.out_cap > max_cap)
      max_cap = cs.out_cap;
    if (cs.wbuf_cap > max_cap)
      max_cap = cs.wbuf_cap;
    if (cs.queued > max_queued)
      max_queued = cs.queued;
    for (int k = 0; k < 3 && got < sent; k++, got++) {
      size_t fl;
      REQUIRE(next_frame(fd, &in, &fl));
      rmqi_cmd_t c;
      rmqi_cmd_init(&c, 310);
      rmqi_cmd_ext_ref(&c, "topic", "T", 1);
      c.opaque = opaque[got];
      c.body = bodies + (size_t)got * (BODY + N);
      c.body_len = BODY + (size_t)got;
      rmqi_buf_reset(&want);
      REQUIRE(rmqi_cmd_encode(&want, &c, RMQI_SER_JSON) == RMQ_OK);
      rmqi_cmd_free(&c);
      CHECK_INT(fl, want.len);
      CHECK(fl == want.len && memcmp(in.data, want.data, fl) == 0);
      rmqi_buf_consume(&in, fl);
      write_response(fd, opaque[got]);
    }
  }
  int64_t until = rmqi_now_ms() + 5000;
  for (int i = 0; i < N; i++)
    while (atomic_load(&rec[i].calls) == 0 && rmqi_now_ms() < until)
      usleep(1000);
  for (int i = 0; i < N; i++) {
    CHECK_INT(atomic_load(&rec[i].calls), 1);
    CHECK_ERR(rec[i].err, RMQ_OK);
  }
  rmqi_conn_stats_t st = rmqi_rpc_conn_stats(r, addr);
  CHECK_INT(st.queued, 0);
  CHECK(max_queued > 4 * BODY); /* frames did queue up */
  if (lend)
    CHECK_UINT(max_cap <= 128 * 1024, 1);
  else
    CHECK(max_cap >= BODY);
  rmqi_rpc_free(r);
  rmqi_buf_free(&in);
  rmqi_buf_free(&want);
  free(bodies);
  close(fd);
  close(ls);
}

TEST(large_frames_through_partial_writes_arrive_exact) {
  large_frames_exact(false);
}

TEST(lent_large_frames_through_partial_writes_arrive_exact) {
  large_frames_exact(true);
}

/* A lent body's request: the body is the caller's until the callback,
 * which scribbles over it and frees it, as an application destroying its
 * message would. */
typedef struct lent_req {
  _Atomic int calls;
  rmq_err_t err;
  uint8_t *body;
  size_t len;
} lent_req_t;

static void lent_cb(void *arg, const rmqi_rpc_result_t *res) {
  lent_req_t *q = arg;
  q->err = res->err;
  memset(q->body, 0xEE, q->len);
  free(q->body);
  q->body = NULL;
  atomic_fetch_add(&q->calls, 1);
}

/* Lends @p n bodies of @p len bytes (fill_body(t, i)), made first so that
 * all are queued before any can time out; a refused one completes here
 * (its body freed). *op gets the opaques (may be NULL). Returns how many
 * were accepted. */
static int lend_all(rmqi_rpc_t *r, const char *addr, lent_req_t *q, int n,
                    size_t len, int t, int64_t timeout_ms, int32_t *op) {
  for (int i = 0; i < n; i++) {
    q[i] = (lent_req_t){0, RMQ_OK, malloc(len), len};
    if (q[i].body == NULL)
      return 0; /* a test machine out of memory: the checks fail */
    fill_body(q[i].body, len, t, i);
  }
  int ok = 0;
  for (int i = 0; i < n; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 310);
    c.body = q[i].body;
    c.body_len = len;
    rmq_err_t rc =
        rmqi_rpc_invoke_lend(r, addr, &c, timeout_ms, lent_cb, &q[i]);
    if (op)
      op[i] = c.opaque;
    if (rc == RMQ_OK)
      ok++;
    else
      lent_cb(&q[i], &(rmqi_rpc_result_t){.err = rc});
    rmqi_cmd_free(&c);
  }
  return ok;
}

/* A raw peer with an open, idle connection to it (open_idle). */
typedef struct raw {
  char addr[32];
  int ls, fd;
  rmqi_rpc_t *r;
  rmqi_buf_t in;
} raw_t;

static bool raw_up(raw_t *x, size_t bound);

static void raw_down(raw_t *x) {
  rmqi_rpc_free(x->r);
  rmqi_buf_free(&x->in);
  if (x->fd >= 0)
    close(x->fd);
  if (x->ls >= 0)
    close(x->ls);
}

static void wait_lent(lent_req_t *q, int n, int ms) {
  int64_t until = rmqi_now_ms() + ms;
  for (int i = 0; i < n; i++)
    while (atomic_load(&q[i].calls) == 0 && rmqi_now_ms() < until)
      usleep(1000);
}

/* Reads the next frame from @p fd and checks it is, byte for byte, the
 * request @p code with @p opaque and @p len bytes of fill_body(t, i). */
static void check_next_frame(int fd, rmqi_buf_t *in, int32_t code,
                             int32_t opaque, size_t len, int t, int i) {
  size_t fl;
  if (!next_frame(fd, in, &fl)) {
    rmqt_fail(__FILE__, __LINE__, "no frame for request %d", i);
    return;
  }
  uint8_t *body = malloc(len ? len : 1);
  fill_body(body, len, t, i);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, code);
  c.opaque = opaque;
  c.body = body;
  c.body_len = len;
  rmqi_buf_t want;
  rmqi_buf_init(&want);
  rmqi_cmd_encode(&want, &c, RMQI_SER_JSON);
  CHECK_INT(fl, want.len);
  if (fl != want.len || memcmp(in->data, want.data, fl) != 0)
    rmqt_fail(__FILE__, __LINE__, "frame %d differs", i);
  rmqi_buf_consume(in, fl);
  rmqi_buf_free(&want);
  rmqi_cmd_free(&c);
  free(body);
}

/* Opens the connection to the raw peer on @p ls with one small request,
 * answered: the connection is then open and idle. Returns the peer's
 * socket, or -1. */
static int open_idle(rmqi_rpc_t *r, const char *addr, int ls, rmqi_buf_t *in) {
  large_rec_t rec = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50);
  if (rmqi_rpc_invoke(r, addr, &c, 60000, large_cb, &rec) != RMQ_OK)
    return -1;
  int32_t op = c.opaque;
  rmqi_cmd_free(&c);
  int fd = accept(ls, NULL, NULL);
  size_t fl;
  if (fd < 0 || !next_frame(fd, in, &fl))
    return -1;
  rmqi_buf_consume(in, fl);
  write_response(fd, op);
  int64_t until = rmqi_now_ms() + 5000;
  while (atomic_load(&rec.calls) == 0 && rmqi_now_ms() < until)
    usleep(1000);
  return rec.err == RMQ_OK ? fd : -1;
}

/* An instance lending from the default size, with @p bound on the output
 * (0: the default). */
static bool raw_up(raw_t *x, size_t bound) {
  x->ls = raw_listen(x->addr, sizeof(x->addr));
  x->r = new_rpc_lend(bound, 0, 0, NULL);
  rmqi_buf_init(&x->in);
  x->fd = x->ls >= 0 && x->r ? open_idle(x->r, x->addr, x->ls, &x->in) : -1;
  return x->fd >= 0;
}

/* A synchronous call on an idle connection writes its frame itself; the
 * peer reads nothing, so most of the 8 MiB body (more than both ends'
 * socket buffers) is still queued when the call times out and returns.
 * The caller then scribbles over its body and frees it: what the peer
 * reads afterwards is still the frame as it was sent, byte for byte (the
 * connection copied the rest of the body before the call returned). */
TEST(lent_body_freed_after_a_sync_timeout_is_still_written_whole) {
  raw_t x;
  REQUIRE(raw_up(&x, 0));
  rmqi_rpc_t *r = x.r;
  const char *addr = x.addr;
  size_t len = 8 << 20;
  uint8_t *body = malloc(len);
  REQUIRE(body);
  fill_body(body, len, 1, 1);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 310);
  c.body = body;
  c.body_len = len;
  rmqi_resp_t resp;
  CHECK_ERR(rmqi_rpc_invoke_sync(r, addr, &c, 300, &resp, NULL, 0),
            RMQ_ERR_TIMEOUT);
  int32_t op = c.opaque;
  rmqi_cmd_free(&c);
  size_t queued = rmqi_rpc_conn_stats(r, addr).queued;
  memset(body, 0xEE, len);
  free(body);
  REQUIRE(queued > len / 2); /* the case at hand: most still to write */
  check_next_frame(x.fd, &x.in, 310, op, len, 1, 1);
  int64_t until = rmqi_now_ms() + 5000;
  while (rmqi_rpc_conn_stats(r, addr).queued && rmqi_now_ms() < until)
    usleep(1000);
  CHECK_UINT(rmqi_rpc_conn_stats(r, addr).queued, 0);
  raw_down(&x);
}

/* Asynchronous lent requests time out while the peer reads nothing; each
 * callback destroys its body. Read afterwards, every frame is whole and
 * exact, and the connection stays usable. */
TEST(lent_bodies_freed_in_their_timeout_callbacks_are_still_written_whole) {
  enum { N = 4 };
  const size_t len = 3 << 20;
  raw_t x;
  REQUIRE(raw_up(&x, 0));
  rmqi_rpc_t *r = x.r;
  const char *addr = x.addr;
  lent_req_t q[N];
  int32_t op[N];
  CHECK_INT(lend_all(r, addr, q, N, len, 2, 200, op), N);
  wait_lent(q, N, 5000);
  for (int i = 0; i < N; i++) {
    CHECK_INT(atomic_load(&q[i].calls), 1);
    CHECK_ERR(q[i].err, RMQ_ERR_TIMEOUT);
  }
  CHECK(rmqi_rpc_conn_stats(r, addr).queued > len);
  for (int i = 0; i < N; i++)
    check_next_frame(x.fd, &x.in, 310, op[i], len, 2, i);
  /* and the connection goes on */
  large_rec_t after = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 51);
  REQUIRE(rmqi_rpc_invoke(r, addr, &c, 60000, large_cb, &after) == RMQ_OK);
  check_next_frame(x.fd, &x.in, 51, c.opaque, 0, 0, 0);
  write_response(x.fd, c.opaque);
  rmqi_cmd_free(&c);
  int64_t until = rmqi_now_ms() + 5000;
  while (atomic_load(&after.calls) == 0 && rmqi_now_ms() < until)
    usleep(1000);
  CHECK_ERR(after.err, RMQ_OK);
  raw_down(&x);
  for (int i = 0; i < N; i++)
    CHECK_INT(atomic_load(&q[i].calls), 1);
}

/* The output bound is on the memory a connection holds: bodies still lent
 * are the callers' and do not count (12 MiB of them go out through a
 * 1 MiB bound to a peer that reads nothing); once their requests time out
 * the connection holds copies of what is unwritten, which do count, and
 * the next request fails at once with QUEUE_FULL. */
TEST(lent_bodies_count_against_the_output_bound_only_once_copied) {
  enum { N = 3 };
  const size_t len = 4 << 20;
  raw_t x;
  REQUIRE(raw_up(&x, 1 << 20));
  rmqi_rpc_t *r = x.r;
  const char *addr = x.addr;
  lent_req_t q[N];
  CHECK_INT(lend_all(r, addr, q, N, len, 5, 1000, NULL), N);
  rmqi_conn_stats_t st = rmqi_rpc_conn_stats(r, addr);
  CHECK(st.queued > 4 << 20);
  CHECK(st.lent > 4 << 20 && st.lent <= st.queued);
  wait_lent(q, N, 10000);
  st = rmqi_rpc_conn_stats(r, addr);
  CHECK_UINT(st.lent, 0);             /* copied now */
  CHECK(st.queued > (size_t)2 << 20); /* over the bound */
  large_rec_t next = {0};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 51);
  CHECK_ERR(rmqi_rpc_invoke(r, addr, &c, 60000, large_cb, &next),
            RMQ_ERR_QUEUE_FULL);
  rmqi_cmd_free(&c);
  for (int i = 0; i < N; i++)
    CHECK_ERR(q[i].err, RMQ_ERR_TIMEOUT);
  raw_down(&x);
}

/* A request that ends between its entry in the pending table and its
 * frame's queueing (here: cancelled from the signing hook, which runs in
 * that window) is never sent: its callback may have freed the body. */
/* A request that ends (cancelled, timed out, its connection closed) while
 * its sender is still encoding it, from the caller's command and body:
 * its completion, which may free them, is held until the encode is done
 * and then runs once on the loop thread, never in the middle, and never
 * inside invoke on the sender's thread (a sender may hold a lock around
 * invoke that the completion takes: the producer's retries do). The sign
 * hook runs inside that window: it cancels the request (code 77) or
 * outwaits its 50 ms timeout (code 78). */
typedef struct sign_end {
  rmqi_rpc_t *r;
  _Atomic bool in_sign;
  _Atomic int ended_in_sign;
  _Atomic bool in_invoke; /* the test's thread is inside invoke */
  pthread_t invoker;
  _Atomic int ended_in_invoke;
} sign_end_t;

static sign_end_t *_Atomic ending; /* for ended_cb: one test at a time */

static void ended_cb(void *arg, const rmqi_rpc_result_t *res) {
  if (atomic_load(&ending->in_sign))
    atomic_fetch_add(&ending->ended_in_sign, 1);
  if (atomic_load(&ending->in_invoke) &&
      pthread_equal(pthread_self(), ending->invoker))
    atomic_fetch_add(&ending->ended_in_invoke, 1);
  lent_cb(arg, res); /* scribbles over the body and frees it */
}

static bool match_ended(rmqi_rpc_cb cb, void *cb_arg, void *ctx) {
  (void)cb_arg;
  (void)ctx;
  return cb == ended_cb;
}

static rmq_err_t end_in_sign(void *arg, rmqi_cmd_t *c) {
  sign_end_t *se = arg;
  atomic_store(&se->in_sign, true);
  if (c->code == 77) {
    rmqi_rpc_cancel_if(se->r, match_ended, NULL, RMQ_ERR_TIMEOUT,
                       "cancelled while being sent");
  } else if (c->code == 78) {
    int64_t until = rmqi_now_ms() + 400; /* the sweep runs every 10 ms */
    while (rmqi_now_ms() < until && atomic_load(&se->ended_in_sign) == 0)
      usleep(1000);
  }
  atomic_store(&se->in_sign, false);
  return RMQ_OK;
}

TEST(request_ended_while_being_encoded_completes_after_it_once) {
  char addr[32];
  int ls = raw_listen(addr, sizeof(addr));
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  sign_end_t se = {.r = NULL, .invoker = pthread_self()};
  atomic_store(&ending, &se);
  rmqi_rpc_opts_t o = {.max_frame = 4 << 20,
                       .connect_timeout_ms = 1000,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet,
                       .sign = end_in_sign,
                       .sign_arg = &se};
  REQUIRE(ls >= 0 && rmqi_rpc_new(&se.r, &o) == RMQ_OK);
  REQUIRE(rmqi_rpc_start(se.r) == RMQ_OK);
  /* small bodies are copied by the encode, large ones lent to the queue */
  const struct {
    int32_t code;
    size_t len;
  } cases[] = {{77, 100}, {77, 1 << 20}, {78, 100}, {78, 1 << 20}};
  enum { N = sizeof(cases) / sizeof(cases[0]) };
  int32_t op[N];
  int fd = -1;
  rmqi_buf_t in;
  rmqi_buf_init(&in);
  for (int i = 0; i < N; i++) {
    lent_req_t q = {0, RMQ_OK, malloc(cases[i].len), cases[i].len};
    REQUIRE(q.body);
    fill_body(q.body, q.len, 4, i);
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, cases[i].code);
    c.body = q.body;
    c.body_len = q.len;
    /* accepted, and ended: its callback runs once, after the encode and
     * outside invoke */
    atomic_store(&se.in_invoke, true);
    CHECK_ERR(rmqi_rpc_invoke_lend(se.r, addr, &c, 50, ended_cb, &q), RMQ_OK);
    atomic_store(&se.in_invoke, false);
    op[i] = c.opaque;
    rmqi_cmd_free(&c);
    int64_t end = rmqi_now_ms() + 5000;
    while (atomic_load(&q.calls) == 0 && rmqi_now_ms() < end)
      usleep(1000);
    CHECK_INT(atomic_load(&q.calls), 1);
    CHECK_ERR(q.err, RMQ_ERR_TIMEOUT);
    CHECK_INT(atomic_load(&se.ended_in_sign), 0);
    CHECK_INT(atomic_load(&se.ended_in_invoke), 0);
    if (i == 0) {
      fd = accept(ls, NULL, NULL);
      REQUIRE(fd >= 0);
    }
    /* the frame goes out whole, with the body as it was when sent */
    check_next_frame(fd, &in, cases[i].code, op[i], cases[i].len, 4, i);
  }
  rmqi_rpc_free(se.r);
  rmqi_buf_free(&in);
  close(fd);
  close(ls);
}

/* A response that comes while its sender is still inside invoke (the
 * frame queued, the sender not yet done with its request): the callback
 * runs once, at once, with the response; invoke returns RMQ_OK and frees
 * the entry the response left it (ASan: no leak). The sent hook holds
 * each sender in that window until its callback has run. */
typedef struct window {
  counter_t k;
  _Atomic int32_t last_answered; /* the opaque of the last response */
  _Atomic int answered_in_window;
} window_t;

static void window_cb(void *arg, const rmqi_rpc_result_t *res) {
  window_t *w = arg;
  if (res->err == RMQ_OK)
    atomic_store(&w->last_answered, res->resp->opaque);
  count_cb(&w->k, res);
}

static void hold_sender(void *arg, int32_t opaque) {
  window_t *w = arg;
  int64_t until = rmqi_now_ms() + 2000;
  while (atomic_load(&w->last_answered) != opaque && rmqi_now_ms() < until)
    usleep(200);
  if (atomic_load(&w->last_answered) == opaque)
    atomic_fetch_add(&w->answered_in_window, 1);
}

TEST(response_while_its_sender_is_in_invoke_ends_once) {
  mock_t *m = mock_start();
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  window_t w = {0};
  rmqi_rpc_opts_t o = {.max_frame = 1 << 20,
                       .connect_timeout_ms = 1000,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet,
                       .sent = hold_sender,
                       .sent_arg = &w};
  rmqi_rpc_t *r = NULL;
  REQUIRE(m && rmqi_rpc_new(&r, &o) == RMQ_OK && rmqi_rpc_start(r) == RMQ_OK);
  enum { N = 20 };
  for (int i = 0; i < N; i++) { /* one at a time: the hook waits for each */
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 11);
    CHECK_ERR(rmqi_rpc_invoke(r, mock_addr(m), &c, 5000, window_cb, &w),
              RMQ_OK);
    rmqi_cmd_free(&c);
  }
  wait_calls(&w.k, N, 2000);
  CHECK_INT(atomic_load(&w.k.ok), N);
  /* every sender saw its answer before it let its request go */
  CHECK_INT(atomic_load(&w.answered_in_window), N);
  rmqi_rpc_free(r);
  CHECK_INT(atomic_load(&w.k.calls), N); /* nothing ran again */
  mock_stop(m);
}

/* The peer reads part of the first large lent body and closes: every
 * request on the connection fails once with CONN_LOST, its callback frees
 * the body (nothing reads it after), and the next request connects
 * anew. */
TEST(connection_closed_mid_body_fails_lent_requests_once) {
  enum { N = 3 };
  const size_t len = 2 << 20;
  char addr[32];
  int ls = raw_listen(addr, sizeof(addr));
  rmqi_rpc_t *r = new_rpc_lend(0, 0, 0, NULL);
  REQUIRE(ls >= 0 && r);
  lent_req_t q[N];
  CHECK_INT(lend_all(r, addr, q, N, len, 4, 60000, NULL), N);
  int fd = accept(ls, NULL, NULL);
  REQUIRE(fd >= 0);
  static uint8_t part[100 * 1000];
  size_t got = 0;
  while (got < sizeof(part)) {
    ssize_t n = read(fd, part + got, sizeof(part) - got);
    REQUIRE(n > 0);
    got += (size_t)n;
  }
  close(fd); /* mid-body */
  wait_lent(q, N, 5000);
  for (int i = 0; i < N; i++) {
    CHECK_INT(atomic_load(&q[i].calls), 1);
    CHECK_ERR(q[i].err, RMQ_ERR_CONN_LOST);
  }
  rmqi_buf_t in;
  rmqi_buf_init(&in);
  fd = open_idle(r, addr, ls, &in); /* a new connection */
  CHECK(fd >= 0);
  rmqi_rpc_free(r);
  for (int i = 0; i < N; i++)
    CHECK_INT(atomic_load(&q[i].calls), 1);
  rmqi_buf_free(&in);
  if (fd >= 0)
    close(fd);
  close(ls);
}

/* Host names resolve (off the loop, on the resolver thread): "localhost"
 * reaches the mock; a reconnect resolves again; the resolver thread is
 * joined by stop. */
TEST(host_names_resolve_and_reconnect) {
  int threads_before = rmqi_thread_count();
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  char addr[64];
  snprintf(addr, sizeof(addr), "localhost:%d", mock_port(m));
  for (int round = 0; round < 2; round++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 105);
    rmqi_resp_t resp;
    char detail[256] = "";
    CHECK_ERR(
        rmqi_rpc_invoke_sync(r, addr, &c, 3000, &resp, detail, sizeof(detail)),
        RMQ_OK);
    if (detail[0])
      fprintf(stderr, "%s\n", detail);
    rmqi_resp_free(&resp);
    /* The mock closes the connection: the next round reconnects. */
    mock_add_rule(m,
                  &(mock_rule_t){.code = 40, .action = MOCK_CLOSE, .times = 1});
    rmqi_cmd_init(&c, 40);
    CHECK_ERR(rmqi_rpc_invoke_sync(r, addr, &c, 3000, &resp, NULL, 0),
              RMQ_ERR_CONN_LOST);
    rmqi_cmd_free(&c);
  }
  CHECK_INT(mock_count(m, 105), 2);
  rmqi_rpc_free(r);
  mock_stop(m);
  CHECK_INT(rmqi_thread_count_settled(threads_before, 1000), threads_before);
}

/* A name that does not resolve fails the request with RMQ_ERR_CONNECT and
 * a detail naming the host and the resolver's own error, at once. */
TEST(unresolvable_host_fails_with_connect_naming_it) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV},
                  *ai = NULL;
  int gai = getaddrinfo("nohost.invalid", "9876", &hints, &ai);
  REQUIRE(gai != 0);
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(r);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  rmqi_resp_t resp;
  char detail[256] = "", want[256];
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(rmqi_rpc_invoke_sync(r, "nohost.invalid:9876", &c, 5000, &resp,
                                 detail, sizeof(detail)),
            RMQ_ERR_CONNECT);
  CHECK(rmqi_now_ms() - t0 < 1500); /* within the 1 s connect timeout */
  snprintf(want, sizeof(want),
           "nohost.invalid:9876: cannot resolve host \"nohost.invalid\": %s",
           gai_strerror(gai));
  CHECK_STR(detail, want);
  /* A long name (240 characters, labels of 59) is a name like any other,
   * not an error of ours. */
  char longname[300], ldetail[640] = "";
  snprintf(longname, sizeof(longname), "%s.%s.%s.%s.invalid:9876",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
           "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
  CHECK_ERR(rmqi_rpc_invoke_sync(r, longname, &c, 5000, &resp, ldetail,
                                 sizeof(ldetail)),
            RMQ_ERR_CONNECT);
  CHECK(strstr(ldetail, "cannot resolve host \"aaaa") != NULL);
  rmqi_cmd_free(&c);
  rmqi_rpc_free(r);
}

/* A completion that stop runs on the stopping thread may call stop again
 * (the layer above tearing down from a callback): it returns at once
 * instead of deadlocking. A never-started instance runs its completions
 * on the stopping thread. */
static rmqi_rpc_t *_Atomic stop_target;
static _Atomic int stop_from_cb;
static void stop_again_cb(void *arg, const rmqi_rpc_result_t *res) {
  (void)arg;
  if (res->err == RMQ_ERR_SHUTDOWN) {
    rmqi_rpc_stop(atomic_load(&stop_target));
    atomic_fetch_add(&stop_from_cb, 1);
  }
}

TEST(stop_from_a_completion_during_stop_returns) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.ser = RMQI_SER_JSON, .log = &quiet};
  rmqi_rpc_t *r;
  REQUIRE(rmqi_rpc_new(&r, &o) == RMQ_OK);
  atomic_store(&stop_target, r);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 50);
  REQUIRE(rmqi_rpc_invoke(r, "127.0.0.1:9", &c, 60000, stop_again_cb, NULL) ==
          RMQ_OK);
  rmqi_cmd_free(&c);
  rmqi_rpc_stop(r);
  CHECK_INT(atomic_load(&stop_from_cb), 1);
  rmqi_rpc_free(r);
}

/* A resolver that waits for the test to open the gate, then resolves. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static _Atomic int gate_entered, gate_left;

static int slow_resolve(const char *host, const char *port,
                        const struct addrinfo *hints, struct addrinfo **res) {
  atomic_fetch_add(&gate_entered, 1);
  pthread_mutex_lock(&gate_lock);
  while (!gate_open)
    pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  int rc = getaddrinfo(host, port, hints, res);
  atomic_fetch_add(&gate_left, 1);
  return rc;
}

/* The connect timeout covers resolving: a resolver that hangs fails the
 * request with CONNECT when the connect timeout (300 ms) ends, well
 * before the request's own 5 s. Stop and free do not wait for the hung
 * resolver thread: it is detached, and once its lookup returns it cleans
 * up without touching the freed instance (ASan watches) and exits. */
TEST(hung_resolver_bounded_by_connect_timeout_and_not_waited_for) {
  mock_t *m = mock_start();
  REQUIRE(m != NULL);
  int threads_before = rmqi_thread_count();
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.connect_timeout_ms = 300,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet,
                       .resolve = slow_resolve};
  rmqi_rpc_t *r;
  REQUIRE(rmqi_rpc_new(&r, &o) == RMQ_OK && rmqi_rpc_start(r) == RMQ_OK);
  char addr[64], detail[256] = "", want[256];
  snprintf(addr, sizeof(addr), "localhost:%d", mock_port(m));
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  rmqi_resp_t resp;
  int64_t t0 = rmqi_now_ms();
  CHECK_ERR(
      rmqi_rpc_invoke_sync(r, addr, &c, 5000, &resp, detail, sizeof(detail)),
      RMQ_ERR_CONNECT);
  int64_t took = rmqi_now_ms() - t0;
  CHECK(took >= 250 && took < 2000);
  snprintf(want, sizeof(want),
           "%s: connect timed out while resolving the host name", addr);
  CHECK_STR(detail, want);
  rmqi_cmd_free(&c);
  CHECK_INT(atomic_load(&gate_entered), 1); /* still inside the lookup */
  rmqi_rpc_stop(r); /* returns although the resolver is stuck */
  rmqi_rpc_free(r);
  pthread_mutex_lock(&gate_lock);
  gate_open = true;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  int64_t until = rmqi_now_ms() + 5000;
  while (
      (atomic_load(&gate_left) < 1 || rmqi_thread_count() != threads_before) &&
      rmqi_now_ms() < until)
    usleep(1000);
  CHECK_INT(atomic_load(&gate_left), 1);
  CHECK_INT(rmqi_thread_count_settled(threads_before, 1000),
            threads_before); /* it exited */
  mock_stop(m);
}

TEST(two_instances_are_independent) {
  mock_t *m = mock_start();
  rmqi_rpc_t *a = new_rpc(), *b = new_rpc();
  counter_t ka = {0}, kb = {0};
  for (int i = 0; i < 50; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 60);
    rmqi_rpc_invoke(a, mock_addr(m), &c, 2000, count_cb, &ka);
    rmqi_cmd_init(&c, 60);
    rmqi_rpc_invoke(b, mock_addr(m), &c, 2000, count_cb, &kb);
  }
  wait_calls(&ka, 50, 3000);
  rmqi_rpc_free(a); /* b keeps working */
  wait_calls(&kb, 50, 3000);
  CHECK_ERR(sync_code(b, mock_addr(m), 61, 2000), RMQ_OK);
  CHECK_INT(atomic_load(&ka.ok), 50);
  CHECK_INT(atomic_load(&kb.ok), 50);
  rmqi_rpc_free(b);
  mock_stop(m);
}

TEST(addresses_v4_v6_bracketed) {
  struct sockaddr_storage ss;
  unsigned len;
  CHECK_ERR(rmqi_parse_addr("127.0.0.1:10911", &ss, &len), RMQ_OK);
  CHECK_ERR(rmqi_parse_addr("[::1]:10911", &ss, &len), RMQ_OK);
  CHECK_ERR(rmqi_parse_addr("[fe80::1]:1", &ss, &len), RMQ_OK);
  CHECK_ERR(rmqi_parse_addr("::1:10911", &ss, &len), RMQ_OK); /* bare v6 */
  CHECK_ERR(rmqi_parse_addr("127.0.0.1", &ss, &len), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmqi_parse_addr("127.0.0.1:0", &ss, &len), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmqi_parse_addr("127.0.0.1:99999", &ss, &len), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmqi_parse_addr("[::1:5", &ss, &len), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmqi_parse_addr("host.example:5", &ss, &len), RMQ_ERR_INVALID_ARG);
}

/* ---- direct writes: synchronous callers write to an idle socket -------- */

static bool body_is(const uint8_t *b, size_t len, size_t want, int t, int i) {
  if (len != want)
    return false;
  uint8_t *exp = malloc(want ? want : 1);
  fill_body(exp, want, t, i);
  bool same = memcmp(b, exp, want) == 0;
  free(exp);
  return same;
}

typedef struct sync_job {
  rmqi_rpc_t *r;
  const char *addr;
  int t, i;
  size_t len;
  rmq_err_t rc;
  bool echoed; /* the answer carried this request's own body back */
} sync_job_t;

static void *sync_echo(void *p) {
  sync_job_t *j = p;
  uint8_t *body = malloc(j->len ? j->len : 1);
  fill_body(body, j->len, j->t, j->i);
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 60);
  c.body = body;
  c.body_len = j->len;
  rmqi_resp_t resp;
  j->rc = rmqi_rpc_invoke_sync(j->r, j->addr, &c, 30000, &resp, NULL, 0);
  j->echoed = false;
  if (j->rc == RMQ_OK) {
    j->echoed = body_is(resp.cmd.body, resp.cmd.body_len, j->len, j->t, j->i);
    rmqi_resp_free(&resp);
  }
  rmqi_cmd_free(&c);
  free(body);
  return NULL;
}

/* On an idle connection a synchronous caller writes its frame itself. A
 * frame larger than the socket takes while the peer is not reading is
 * written in part; the rest stays queued, in order, and the loop finishes
 * it once the peer reads: the answer is whole, the output drains to
 * nothing, and the next calls go straight out again. */
TEST(direct_write_cut_short_is_finished_by_the_loop) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc_frames(32 << 20);
  REQUIRE(m && r);
  sync_job_t open = {r, mock_addr(m), 0, 0, 100, RMQ_OK, false};
  sync_echo(&open); /* connects: the next call finds the socket idle */
  CHECK_ERR(open.rc, RMQ_OK);
  CHECK(open.echoed);
  mock_pause_reads(m, true);
  /* 16 MiB: more than the socket buffers of both ends (tcp_wmem's 4 MiB
   * at most, and a receive buffer nobody reads does not grow) */
  sync_job_t big = {r, mock_addr(m), 0, 1, (size_t)16 << 20, RMQ_OK, false};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, sync_echo, &big) == 0);
  size_t queued = 0;
  for (int t = 0; t < 5000 && queued == 0; t++) {
    queued = rmqi_rpc_conn_stats(r, mock_addr(m)).queued;
    if (queued == 0)
      usleep(1000);
  }
  CHECK(queued > 0 && queued < big.len); /* part written, the rest waits */
  mock_pause_reads(m, false);
  pthread_join(th, NULL);
  CHECK_ERR(big.rc, RMQ_OK);
  CHECK(big.echoed);
  CHECK_UINT(rmqi_rpc_conn_stats(r, mock_addr(m)).queued, 0);
  for (int i = 2; i < 5; i++) {
    sync_job_t next = {r, mock_addr(m), 0, i, 1000, RMQ_OK, false};
    sync_echo(&next);
    CHECK_ERR(next.rc, RMQ_OK);
    CHECK(next.echoed);
  }
  CHECK_INT(mock_count(m, 60), 5);
  rmqi_rpc_free(r);
  mock_stop(m);
}

typedef struct mixed {
  rmqi_rpc_t *r;
  const char *addr;
  int t, n;
  _Atomic int *sync_ok, *async_ok, *bad, *async_calls;
} mixed_t;

typedef struct async_req {
  mixed_t *x;
  int i;
  size_t len;
  uint8_t *lent; /* the body, lent to the connection until the callback */
} async_req_t;

static void async_echo_cb(void *arg, const rmqi_rpc_result_t *res) {
  async_req_t *q = arg;
  bool ok = res->err == RMQ_OK && body_is(res->resp->body, res->resp->body_len,
                                          q->len, q->x->t, q->i);
  atomic_fetch_add(ok ? q->x->async_ok : q->x->bad, 1);
  atomic_fetch_add(q->x->async_calls, 1);
  if (q->lent) /* scribbled first: a write of it after this would show */
    memset(q->lent, 0xEE, q->len);
  free(q->lent);
  free(q);
}

/* Asynchronous senders (odd threads) send a large frame every fourth
 * time, which the loop writes in pieces; synchronous ones (even threads)
 * small frames, and now and then a large one, cut short by the socket.
 * Large bodies are lent (written from the sender's memory) by the
 * synchronous threads and by asynchronous thread 3 and up; thread 1's are
 * copied into the connection's output. */
static size_t mixed_len(int t, int i) {
  if (t % 2 ? i % 4 == 0 : i % 61 == 0)
    return 256 * 1024;
  return 16 + (size_t)((i * 37 + t * 11) % 400);
}

static void *mixed_sender(void *p) {
  mixed_t *x = p;
  for (int i = 0; i < x->n; i++) {
    size_t len = mixed_len(x->t, i);
    if (x->t % 2 == 0) {
      sync_job_t j = {x->r, x->addr, x->t, i, len, RMQ_OK, false};
      sync_echo(&j);
      atomic_fetch_add(j.rc == RMQ_OK && j.echoed ? x->sync_ok : x->bad, 1);
      continue;
    }
    bool lend = x->t >= 3;
    async_req_t *q = malloc(sizeof(*q));
    uint8_t *body = malloc(len);
    *q = (async_req_t){x, i, len, lend ? body : NULL};
    fill_body(body, len, x->t, i);
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 61);
    c.body = body;
    c.body_len = len;
    rmq_err_t rc =
        lend ? rmqi_rpc_invoke_lend(x->r, x->addr, &c, 30000, async_echo_cb, q)
             : rmqi_rpc_invoke(x->r, x->addr, &c, 30000, async_echo_cb, q);
    if (rc != RMQ_OK) {
      if (atomic_fetch_add(x->bad, 1) == 0)
        fprintf(stderr, "async invoke: %s\n", rmq_err_name(rc));
      atomic_fetch_add(x->async_calls, 1);
      free(q);
    }
    rmqi_cmd_free(&c);
    if (!lend || rc != RMQ_OK)
      free(body);
  }
  return NULL;
}

typedef struct pauser {
  mock_t *m;
  _Atomic bool stop;
} pauser_t;

/* Stops and resumes the mock's reading every few milliseconds: the
 * socket fills, the loop is left holding bytes it could not write yet,
 * and direct writers must not overtake them. */
static void *pause_toggler(void *p) {
  pauser_t *ps = p;
  while (!atomic_load(&ps->stop)) {
    mock_pause_reads(ps->m, true);
    usleep(3000);
    mock_pause_reads(ps->m, false);
    usleep(3000);
  }
  return NULL;
}

/* Threads making synchronous calls (written directly when the connection
 * is idle) and threads making asynchronous ones (queued for the loop) on
 * one connection,
 * whose peer keeps stopping to read: the mock decodes every frame (a torn
 * or interleaved one would end the connection), and every answer carries
 * back its own request's body. */
TEST(direct_and_queued_writes_from_many_threads_stay_whole) {
  mock_t *m = mock_start();
  /* the asynchronous threads do not wait: up to 3 x 400 frames of up to
   * 256 KB may be queued while the mock pauses, more than the default
   * 64 MiB output bound (QUEUE_FULL is not what this test is about) */
  rmqi_rpc_t *r = new_rpc_with((size_t)512 << 20, 0, NULL);
  REQUIRE(m && r);
  /* synchronous threads send many small frames, so that some find the
   * socket with room while the loop still holds the rest of a large one */
  enum { THREADS = 6, SYNC_EACH = 3000, ASYNC_EACH = 400 };
  _Atomic int sync_ok = 0, async_ok = 0, bad = 0, async_calls = 0;
  mixed_t x[THREADS];
  pthread_t th[THREADS], toggler;
  pauser_t pz = {m, false};
  REQUIRE(pthread_create(&toggler, NULL, pause_toggler, &pz) == 0);
  for (int t = 0; t < THREADS; t++) {
    x[t] =
        (mixed_t){r,        mock_addr(m), t,    t % 2 ? ASYNC_EACH : SYNC_EACH,
                  &sync_ok, &async_ok,    &bad, &async_calls};
    REQUIRE(pthread_create(&th[t], NULL, mixed_sender, &x[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  atomic_store(&pz.stop, true);
  pthread_join(toggler, NULL);
  mock_pause_reads(m, false);
  int64_t until = rmqi_now_ms() + 30000;
  while (atomic_load(&async_calls) < THREADS / 2 * ASYNC_EACH &&
         rmqi_now_ms() < until)
    usleep(1000);
  CHECK_INT(atomic_load(&bad), 0);
  CHECK_INT(atomic_load(&sync_ok), THREADS / 2 * SYNC_EACH);
  CHECK_INT(atomic_load(&async_ok), THREADS / 2 * ASYNC_EACH);
  CHECK_INT(mock_count(m, 60), THREADS / 2 * SYNC_EACH);
  CHECK_INT(mock_count(m, 61), THREADS / 2 * ASYNC_EACH);
  rmqi_peer_stats_t *ps;
  size_t np;
  REQUIRE(rmqi_rpc_peer_stats(r, &ps, &np) == RMQ_OK);
  CHECK_UINT(np, 1);
  if (np == 1)
    CHECK_UINT(ps[0].connects, 1); /* no frame ever broke the connection */
  free(ps);
  rmqi_rpc_free(r);
  mock_stop(m);
}

typedef struct churn {
  _Atomic bool stop;
  _Atomic long stray; /* bytes found on sockets that nobody wrote to */
  _Atomic long rounds;
} churn_t;

/* Takes the descriptors our connections' closes free (the lowest free
 * number is reused first) for local socket pairs nobody writes to: a
 * write through a stale descriptor would land on one of them. */
static void *fd_churn(void *p) {
  churn_t *ch = p;
  while (!atomic_load(&ch->stop)) {
    int sv[8][2];
    int n = 0;
    for (; n < 8; n++)
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[n]) != 0)
        break;
    usleep(200);
    for (int k = 0; k < n; k++) {
      char b[256];
      for (int e = 0; e < 2; e++) {
        ssize_t got = recv(sv[k][e], b, sizeof(b), 0);
        if (got > 0)
          atomic_fetch_add(&ch->stray, got);
        close(sv[k][e]);
      }
    }
    atomic_fetch_add(&ch->rounds, 1);
  }
  return NULL;
}

typedef struct closer_run {
  rmqi_rpc_t *r;
  const char *addr;
  _Atomic bool *stop;
  _Atomic int ok, lost, other;
} closer_run_t;

static void *sync_loop(void *p) {
  closer_run_t *c = p;
  while (!atomic_load(c->stop)) {
    rmq_err_t rc = sync_code(c->r, c->addr, 11, 5000);
    atomic_fetch_add(rc == RMQ_OK              ? &c->ok
                     : rc == RMQ_ERR_CONN_LOST ? &c->lost
                                               : &c->other,
                     1);
  }
  return NULL;
}

/* The peer closes the connection again and again while callers write to
 * it directly: each call ends once, with its answer or CONN_LOST, the
 * next ones go out on a new connection, and no byte reaches a descriptor
 * reused after a close. */
TEST(peer_closing_under_direct_writers_fails_cleanly) {
  mock_t *m = mock_start();
  rmqi_rpc_t *r = new_rpc();
  REQUIRE(m && r);
  mock_add_rule(m, &(mock_rule_t){.code = 41, .action = MOCK_CLOSE});
  _Atomic bool stop = false;
  closer_run_t run = {r, mock_addr(m), &stop, 0, 0, 0};
  churn_t ch = {false, 0, 0};
  pthread_t senders[3], churner;
  REQUIRE(pthread_create(&churner, NULL, fd_churn, &ch) == 0);
  for (int t = 0; t < 3; t++)
    REQUIRE(pthread_create(&senders[t], NULL, sync_loop, &run) == 0);
  int closes = 0;
  for (; closes < 40; closes++) {
    usleep(20 * 1000);
    CHECK_ERR(sync_code(r, mock_addr(m), 41, 5000), RMQ_ERR_CONN_LOST);
  }
  atomic_store(&stop, true);
  for (int t = 0; t < 3; t++)
    pthread_join(senders[t], NULL);
  atomic_store(&ch.stop, true);
  pthread_join(churner, NULL);
  CHECK_INT(atomic_load(&run.other), 0);
  CHECK(atomic_load(&run.ok) > 0);
  CHECK_INT(atomic_load(&ch.stray), 0);
  CHECK(atomic_load(&ch.rounds) > 0);
  /* every request the mock saw was answered or failed: none hangs */
  CHECK_INT(mock_count(m, 41), closes);
  rmqi_rpc_free(r);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(sync_round_trip_echoes),
      TCASE(many_threads_each_completion_exactly_once),
      TCASE(out_of_order_and_timeouts),
      TCASE(connection_refused_fails_fast),
      TCASE(connect_timeout_ends_a_hanging_connect),
      TCASE(peer_faults_fail_pending_and_reconnect),
      TCASE(timeout_closes_a_connection_only_when_the_path_is_down),
      TCASE(broker_requests_dispatched_and_unknown_answered),
      TCASE(shutdown_fails_in_flight_and_joins),
      TCASE(long_polls_are_not_counted_pending),
      TCASE(stop_fails_pending_once_and_refuses_new_work),
      TCASE(loop_post_after_stop_is_refused),
      TCASE(loop_post_node_runs_once_in_order),
      TCASE(loop_on_thread_is_safe_from_the_start),
      TCASE(cancel_if_completes_only_the_matching),
      TCASE(flooding_peer_that_never_reads_stays_bounded),
      TCASE(peer_not_reading_our_requests_fails_fast_then_closes),
      TCASE(response_only_from_the_connection_of_its_request),
      TCASE(buffers_shrink_once_idle_after_a_large_frame),
      TCASE(output_buffers_kept_between_large_frames),
      TCASE(large_frames_through_partial_writes_arrive_exact),
      TCASE(lent_large_frames_through_partial_writes_arrive_exact),
      TCASE(lent_body_freed_after_a_sync_timeout_is_still_written_whole),
      TCASE(
          lent_bodies_freed_in_their_timeout_callbacks_are_still_written_whole),
      TCASE(lent_bodies_count_against_the_output_bound_only_once_copied),
      TCASE(request_ended_while_being_encoded_completes_after_it_once),
      TCASE(response_while_its_sender_is_in_invoke_ends_once),
      TCASE(connection_closed_mid_body_fails_lent_requests_once),
      TCASE(host_names_resolve_and_reconnect),
      TCASE(unresolvable_host_fails_with_connect_naming_it),
      TCASE(stop_from_a_completion_during_stop_returns),
      TCASE(hung_resolver_bounded_by_connect_timeout_and_not_waited_for),
      TCASE(two_instances_are_independent),
      TCASE(addresses_v4_v6_bracketed),
      TCASE(direct_write_cut_short_is_finished_by_the_loop),
      TCASE(direct_and_queued_writes_from_many_threads_stay_whole),
      TCASE(peer_closing_under_direct_writers_fails_cleanly),
  };
  return RUN_TESTS(cases);
}

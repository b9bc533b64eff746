/* Round trips between the C client and the Java peer (tests/interop/peer)
 * for the security tests: C produces and Java consumes, then Java produces
 * and C consumes, with the test's own client configuration on the C side
 * (TLS, client certificate, ACL keys) and the matching peer options. */
#ifndef RMQ_IT_ROUND_TRIP_H
#define RMQ_IT_ROUND_TRIP_H

#include "it_peer_consume.h"
#include "rmq.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The C side's configuration (@p opaque is the test's), with the keys of
 * @p kv (name, value, ..., NULL) set on top. */
typedef rmq_conf_t *(*it_conf_fn)(const void *opaque, const char *const *kv);

#define IT_ROUND_TRIP_N 20

/* Body "<tag>-<side>-<i>" of message @p i of @p side ('c' or 'j'). */
static inline void it_rt_body(char *out, size_t n, const char *tag, char side,
                              int i) {
  snprintf(out, n, "%s-%c-%d", tag, side, i);
}

/* C sends IT_ROUND_TRIP_N messages to @p topic that the Java consumer
 * (@p peer_opts: "--tls", "--ak A --sk S", ...) reads back, each exactly
 * once with its body; then the Java producer sends IT_ROUND_TRIP_N that a
 * C pull consumer reads, each of them, and nothing but them and the C
 * side's own. Fails the case on any difference. */
static inline void it_round_trip(const it_env_t *env, it_conf_fn make,
                                 const void *opaque, const char *topic,
                                 const char *tag, const char *peer_opts) {
  enum { N = IT_ROUND_TRIP_N };
  char err[256];
  const char *pk[] = {"sendMsgTimeout", "8000", "retryTimesWhenSendFailed", "0",
                      NULL};
  rmq_conf_t *c = make(opaque, pk);
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (p == NULL) {
    rmqt_fail(__FILE__, __LINE__, "producer: %s", err);
    return;
  }
  char ids[N][64], bodies[N][64];
  const char *idp[N];
  for (int i = 0; i < N; i++) {
    it_rt_body(bodies[i], sizeof(bodies[i]), tag, 'c', i);
    rmq_msg_t *m = rmq_msg_new(topic);
    rmq_msg_set_body(m, bodies[i], strlen(bodies[i]));
    rmq_send_result_t r;
    rmq_err_t rc = rmq_producer_send(p, m, &r);
    if (rc != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "send %d: %s: %s", i, rmq_err_name(rc),
                r.error ? r.error : "");
    snprintf(ids[i], sizeof(ids[i]), "%s", r.msg_id ? r.msg_id : "");
    idp[i] = ids[i];
    rmq_send_result_clear(&r);
    rmq_msg_destroy(m);
  }
  rmq_producer_destroy(p, 3000);
  if (rmqt_failures)
    return;
  consumed_t got;
  consume(env, &got, topic, N, peer_opts);
  expect_ids(&got, idp, N);
  for (int i = 0; i < N; i++) {
    const rmqi_jval_t *d = by_id(&got, ids[i]);
    const char *b = d ? rmqi_json_str(d, "bodyText") : NULL;
    CHECK_STR(b ? b : "(missing)", bodies[i]);
  }
  consumed_free(&got);
  (void)sha256_hex; /* of it_peer_consume.h, not needed here */

  /* Java produces, C consumes. */
  char spec[N * 64] = "", group[128], args[600], body[64], *out = NULL;
  size_t len = 0;
  for (int i = 0; i < N; i++) {
    it_rt_body(body, sizeof(body), tag, 'j', i);
    len += (size_t)snprintf(spec + len, sizeof(spec) - len,
                            "{\"body\":\"%s\"}\n", body);
  }
  it_unique(group, sizeof(group), "it_rt_jp");
  /* a loaded machine may need more than Java's 3 s for a send */
  snprintf(args, sizeof(args),
           "produce %s --group %s --topic %s --send-timeout-ms 10000 --spec -",
           peer_opts, group, topic);
  int st = it_peer(env, args, spec, &out);
  int sent = 0;
  for (const char *s = out; s && (s = strstr(s, "\"SEND_OK\"")) != NULL; s++)
    sent++;
  if (st != 0 || sent != N)
    rmqt_fail(__FILE__, __LINE__,
              "peer produce exited %d, %d of %d SEND_OK:\n%s", st, sent, N,
              out ? out : "");
  free(out);
  if (rmqt_failures)
    return;
  it_unique(group, sizeof(group), "it_rt_c");
  const char *ck[] = {"consumerGroup",
                      group,
                      "consumeFromWhere",
                      "CONSUME_FROM_FIRST_OFFSET",
                      "rebalanceInterval",
                      "1000",
                      NULL};
  c = make(opaque, ck);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  if (pc == NULL) {
    rmqt_fail(__FILE__, __LINE__, "consumer: %s", err);
    return;
  }
  CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  bool seen[N] = {false};
  int java = 0, mine = 0, other = 0;
  int64_t end = rmqi_now_ms() + 30000;
  while (java < N && rmqi_now_ms() < end) {
    rmq_msg_t *ms[32];
    int k = rmq_pull_consumer_poll(pc, ms, 32, 200);
    for (int i = 0; i < k; i++) {
      size_t bl;
      const char *b = rmq_msg_body(ms[i], &bl);
      int idx = -1;
      for (int j = 0; j < N && idx < 0; j++) {
        it_rt_body(body, sizeof(body), tag, 'j', j);
        if (bl == strlen(body) && memcmp(b, body, bl) == 0)
          idx = j;
      }
      char own[64];
      it_rt_body(own, sizeof(own), tag, 'c', 0);
      if (idx >= 0) {
        java += !seen[idx]; /* a redelivery is allowed, counted once */
        seen[idx] = true;
      } else if (bl > strlen(own) - 1 && memcmp(b, own, strlen(own) - 1) == 0) {
        mine++;
      } else {
        other++;
      }
      rmq_msg_destroy(ms[i]);
    }
  }
  CHECK_INT(java, N);
  CHECK_INT(other, 0);
  fprintf(stderr, "# C consumed %d Java messages (and %d of its own)\n", java,
          mine);
  rmq_pull_consumer_destroy(pc, 3000);
}

#endif

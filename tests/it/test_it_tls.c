/* TLS against brokers that enforce it (profile `tls`: name server and
 * broker with a certificate from the harness's own CA, for 127.0.0.1 and
 * localhost): produce and consume round trips with the official Java
 * client on the other side, and every refusal that a real broker can
 * arrange (unknown CA, a name not in the certificate, a plaintext client,
 * a TLS client against a plaintext broker), each a clear error naming the
 * peer within the connect timeout. */
#include "it.h"
#include "it_round_trip.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_MS 2000

static it_env_t env;

/* A client configuration: TLS on (trusting @p ca) unless @p ca is NULL. */
static rmq_conf_t *conf(const char *namesrv, const char *ca,
                        const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256];
  rmq_conf_set(c, "namesrvAddr", namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "tcpTransportConnectTimeout", "2000", NULL, 0);
  if (ca) {
    rmq_conf_set(c, "useTLS", "true", NULL, 0);
    rmq_conf_set(c, "tlsTrustCertPath", ca, NULL, 0);
  }
  for (; kv && kv[0]; kv += 2)
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "conf %s: %s", kv[0], err);
  return c;
}

static rmq_producer_t *producer(const char *namesrv, const char *ca,
                                const char *const *kv) {
  rmq_conf_t *c = conf(namesrv, ca, kv);
  char err[256];
  rmq_conf_set(c, "sendMsgTimeout", "8000", NULL, 0);
  rmq_conf_set(c, "retryTimesWhenSendFailed", "0", NULL, 0);
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  if (p == NULL)
    rmqt_fail(__FILE__, __LINE__, "producer: %s", err);
  rmq_conf_destroy(c);
  return p;
}

/* One send: its error, the result's text in @p why, the time in @p ms. */
static rmq_err_t send_one(rmq_producer_t *p, const char *topic,
                          const char *body, char *id, size_t id_n, char *why,
                          size_t n, int64_t *ms) {
  rmq_msg_t *m = rmq_msg_new(topic);
  rmq_msg_set_body(m, body, strlen(body));
  rmq_send_result_t r;
  int64_t t0 = rmqi_now_ms();
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  if (ms)
    *ms = rmqi_now_ms() - t0;
  if (why)
    snprintf(why, n, "%s", r.error ? r.error : "");
  if (id)
    snprintf(id, id_n, "%s", r.msg_id ? r.msg_id : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  return rc;
}

/* The round trip's configuration: TLS trusting the run's CA. */
static rmq_conf_t *tls_conf(const void *opaque, const char *const *kv) {
  (void)opaque;
  return conf(env.namesrv, env.tls_ca, kv);
}

TEST(round_trips_with_the_java_peer_over_tls) {
  REQUIRE(env.tls_ca[0]);
  char topic[128], args[400];
  it_unique(topic, sizeof(topic), "it_tls");
  snprintf(args, sizeof(args), "%s --queues 2", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
  /* C produces over TLS and Java consumes over TLS, then the other way */
  it_round_trip(&env, tls_conf, NULL, topic, "tls", "--tls");
}

/* A send that must fail before any message is stored: @p rc, within the
 * connect timeout (plus the send's own bookkeeping), and the text names
 * the peer and contains @p reason. */
static void expect_refused(const char *namesrv, const char *ca,
                           const char *const *kv, const char *reason,
                           const char *peer, int line) {
  rmq_producer_t *p = producer(namesrv, ca, kv);
  if (p == NULL)
    return;
  char topic[128], why[1024];
  it_unique(topic, sizeof(topic), "it_tls_refused");
  int64_t ms;
  rmq_err_t rc = send_one(p, topic, "x", NULL, 0, why, sizeof(why), &ms);
  fprintf(stderr, "# %s in %lld ms: %s\n", rmq_err_name(rc), (long long)ms,
          why);
  if (rc == RMQ_OK)
    rmqt_fail(__FILE__, line, "the send succeeded");
  if (strstr(why, reason) == NULL || strstr(why, peer) == NULL)
    rmqt_fail(__FILE__, line, "\"%s\" lacks \"%s\" or \"%s\"", why, reason,
              peer);
  if (ms > CONNECT_MS + 1000)
    rmqt_fail(__FILE__, line, "took %lld ms (connect timeout %d ms)",
              (long long)ms, CONNECT_MS);
  rmq_producer_destroy(p, 2000);
}

/* The name server of a running plaintext harness target. */
static bool plain_namesrv(char *out, size_t n) {
  static const char *const targets[] = {"single-4", "acl-4", "single-5",
                                        "acl-5"};
  const char *root = getenv("RMQ_RUN_ROOT");
  for (size_t i = 0; i < 4; i++) {
    char path[600], line[256];
    snprintf(path, sizeof(path), "%s/%s/env", root ? root : "/tmp/librmq-run",
             targets[i]);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
      if (strncmp(line, "RMQ_NAMESRV=", 12) == 0) {
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(out, n, "%.*s", (int)(n - 1), line + 12);
        found = true;
      }
    fclose(f);
    if (found)
      return true;
  }
  return false;
}

/* "127.0.0.2:<port of addr>" */
static void other_ip(char *out, size_t n, const char *addr) {
  snprintf(out, n, "127.0.0.2:%s", strrchr(addr, ':') + 1);
}

TEST(refusals_are_clear_and_within_the_connect_timeout) {
  REQUIRE(env.tls_ca[0]);
  /* A CA that did not issue the server's certificate. */
  char dir[] = "/tmp/rmq-it-tls-XXXXXX", cmd[1024], ca[600];
  REQUIRE(mkdtemp(dir) != NULL);
  snprintf(ca, sizeof(ca), "%s/other-ca.pem", dir);
  REQUIRE(it_self_signed(dir, "other-ca", "other CA", NULL) == 0);
  expect_refused(env.namesrv, ca, NULL, "unable to get local issuer",
                 env.namesrv, __LINE__);
  /* The system store does not know the harness's CA either. */
  expect_refused(env.namesrv, "", NULL, "certificate verify failed",
                 env.namesrv, __LINE__);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  it_sh(cmd, NULL, NULL);

  /* The certificate is for 127.0.0.1 and localhost: 127.0.0.2 (the same
   * name server) is refused; without the name check it is accepted, so
   * the name is what refused it. */
  char addr2[160];
  other_ip(addr2, sizeof(addr2), env.namesrv);
  expect_refused(addr2, env.tls_ca, NULL,
                 "IP address mismatch (the certificate is not for 127.0.0.2)",
                 addr2, __LINE__);
  const char *no_name[] = {"tlsVerifyHostname", "false", NULL};
  rmq_producer_t *p = producer(addr2, env.tls_ca, no_name);
  REQUIRE(p != NULL);
  char topic[128], args[200], why[512];
  it_unique(topic, sizeof(topic), "it_tls_noname");
  snprintf(args, sizeof(args), "%s --queues 1", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);
  CHECK_ERR(send_one(p, topic, "x", NULL, 0, why, sizeof(why), NULL), RMQ_OK);
  rmq_producer_destroy(p, 2000);
  /* By host name: localhost is in the certificate. */
  char byname[160];
  snprintf(byname, sizeof(byname), "localhost:%s",
           strrchr(env.namesrv, ':') + 1);
  p = producer(byname, env.tls_ca, NULL);
  REQUIRE(p != NULL);
  CHECK_ERR(send_one(p, topic, "y", NULL, 0, why, sizeof(why), NULL), RMQ_OK);
  rmq_producer_destroy(p, 2000);

  /* A plaintext client against the enforcing name server (a permissive
   * one serves it: permissive_serves_plaintext_and_tls) */
  if (strcmp(env.tls_mode, "permissive") != 0)
    expect_refused(env.namesrv, NULL, NULL, "a TLS-only server?", env.namesrv,
                   __LINE__);

  /* A TLS client against a plaintext name server: the shared single-4
   * (or, in CI's TLS round, the ACL runs, which speak plaintext). */
  char plain[160];
  if (plain_namesrv(plain, sizeof(plain)))
    expect_refused(plain, env.tls_ca, NULL, "TLS handshake failed", plain,
                   __LINE__);
  else
    rmqt_fail(__FILE__, __LINE__,
              "no plaintext target (single-4, acl-4, single-5, acl-5) is "
              "running: TLS against plaintext not checked");
}

/* tls.server.mode=permissive (the broker's migration mode): the same name
 * server and broker serve a plaintext client and a TLS client; against an
 * enforcing target the plaintext one is refused (the case above). */
TEST(permissive_serves_plaintext_and_tls) {
  if (strcmp(env.tls_mode, "permissive") != 0) {
    fprintf(stderr, "# %s enforces TLS: plaintext refusal checked above\n",
            env.target);
    return;
  }
  char topic[128], why[300];
  it_unique(topic, sizeof(topic), "it_tls_perm");
  REQUIRE(it_harness(&env, "topic", topic, NULL) == 0);
  rmq_producer_t *plain = producer(env.namesrv, NULL, NULL);
  rmq_producer_t *tls = producer(env.namesrv, env.tls_ca, NULL);
  REQUIRE(plain && tls);
  CHECK_ERR(send_one(plain, topic, "plain", NULL, 0, why, sizeof(why), NULL),
            RMQ_OK);
  CHECK_ERR(send_one(tls, topic, "tls", NULL, 0, why, sizeof(why), NULL),
            RMQ_OK);
  rmq_producer_destroy(plain, 2000);
  rmq_producer_destroy(tls, 2000);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(round_trips_with_the_java_peer_over_tls),
      TCASE(refusals_are_clear_and_within_the_connect_timeout),
      TCASE(permissive_serves_plaintext_and_tls)};
  return RUN_TESTS(cases);
}

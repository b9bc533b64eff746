/* TLS and ACL on one broker (profile `tlsacl`: name server and broker
 * enforcing TLS with the harness's CA, ACL on with the `acl` profile's
 * accounts; in CI also RMQ_TLS_CLIENT_AUTH=require: mutual TLS, the
 * servers check client certificates against that CA).
 *
 * Round trips with the official Java client signed and over TLS; a wrong
 * secret or no credentials over TLS is the broker's ACL refusal, not a TLS
 * error; a plaintext client is refused within the connect timeout; with
 * mutual TLS, a client without a certificate, or with one from another CA,
 * is refused with ERR_TLS within the connect timeout, and the same client
 * with the harness's certificate is served. */
#include "it.h"
#include "it_round_trip.h"
#include "net/rpc.h"
#include "net/tls.h"
#include "rmq.h"
#include "test.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_MS 2000

static it_env_t env;
static bool mtls; /* the target requires client certificates */

/* How a client connects. */
typedef struct how {
  bool plain;             /* no TLS */
  const char *cert, *key; /* client certificate and key, or NULL */
  const char *ak, *sk;    /* ACL keys, or NULL (unsigned) */
} how_t;

/* The account of the profile over TLS, with the harness's client
 * certificate when the target asks for one. */
static how_t good(void) {
  how_t h = {false, NULL, NULL, env.acl_ak, env.acl_sk};
  if (mtls) {
    h.cert = env.tls_client_cert;
    h.key = env.tls_client_key;
  }
  return h;
}

static rmq_conf_t *make_conf(const void *opaque, const char *const *kv) {
  const how_t *h = opaque;
  rmq_conf_t *c = rmq_conf_new();
  char err[256], ms[16];
  snprintf(ms, sizeof(ms), "%d", CONNECT_MS);
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "tcpTransportConnectTimeout", ms, NULL, 0);
  /* route lookups on a loaded machine: more than the default 3 s */
  rmq_conf_set(c, "mqClientApiTimeout", "8000", NULL, 0);
  const char *set[] = {"useTLS",
                       h->plain ? "false" : "true",
                       "tlsTrustCertPath",
                       h->plain ? "" : env.tls_ca,
                       "tlsCertPath",
                       h->cert ? h->cert : "",
                       "tlsKeyPath",
                       h->key ? h->key : "",
                       "accessKey",
                       h->ak ? h->ak : "",
                       "secretKey",
                       h->sk ? h->sk : "",
                       NULL};
  for (const char *const *p = set; p[0]; p += 2)
    if (rmq_conf_set(c, p[0], p[1], err, sizeof(err)) != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "conf %s: %s", p[0], err);
  for (; kv && kv[0]; kv += 2)
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "conf %s: %s", kv[0], err);
  return c;
}

/* One send with a new producer configured by @p h: its error, the
 * result's text in @p why and the time it took in @p ms. */
static rmq_err_t send_as(const how_t *h, const char *to, char *why, size_t n,
                         int64_t *ms) {
  const char *kv[] = {"sendMsgTimeout", "8000", "retryTimesWhenSendFailed", "0",
                      NULL};
  rmq_conf_t *c = make_conf(h, kv);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(NULL, c, err, sizeof(err));
  rmq_conf_destroy(c);
  *ms = 0;
  if (p == NULL) {
    snprintf(why, n, "producer: %s", err);
    rmqt_fail(__FILE__, __LINE__, "%s", why);
    return RMQ_ERR_INVALID_ARG;
  }
  rmq_msg_t *m = rmq_msg_new(to);
  rmq_msg_set_body(m, "tlsacl", 6);
  rmq_send_result_t r;
  int64_t t0 = rmqi_now_ms();
  rmq_err_t rc = rmq_producer_send(p, m, &r);
  *ms = rmqi_now_ms() - t0;
  snprintf(why, n, "%s", r.error ? r.error : "");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(m);
  rmq_producer_destroy(p, 2000);
  fprintf(stderr, "# %s in %lld ms: %s\n", rmq_err_name(rc), (long long)ms[0],
          why);
  return rc;
}

/* The test's topic, made on first use (each mqadmin call is a JVM). */
static const char *topic(void) {
  static char t[128];
  if (t[0] == '\0') {
    char args[300];
    it_unique(t, sizeof(t), "it_tlsacl");
    snprintf(args, sizeof(args), "%s --queues 2", t);
    if (it_harness(&env, "topic", args, NULL) != 0)
      rmqt_fail(__FILE__, __LINE__, "could not create topic %s", t);
  }
  return t;
}

TEST(round_trips_with_the_java_peer_signed_over_tls) {
  REQUIRE(env.tls_ca[0] && env.acl_ak[0]);
  char peer[300];
  /* the peer presents the harness's client certificate when the target
   * asks for one: RMQ_PEER_JAVA_OPTS, set in main */
  snprintf(peer, sizeof(peer), "--tls --ak %s --sk %s", env.acl_ak, env.acl_sk);
  how_t h = good();
  it_round_trip(&env, make_conf, &h, topic(), "tlsacl", peer);
}

/* The ACL refusal of 4.9 (ACL 1.0: SYSTEM_ERROR) or 5.x (ACL 2.0:
 * NO_PERMISSION), not a TLS or connection failure: the TLS session was
 * made and the broker (or name server) answered. */
static void expect_acl_refusal(rmq_err_t rc, const char *why, int line) {
  rmq_err_t want = env.major == 4 ? RMQ_SYSTEM_ERROR : RMQ_NO_PERMISSION;
  if (rc != want)
    rmqt_fail(__FILE__, line, "%s, not the ACL refusal %s: %s",
              rmq_err_name(rc), rmq_err_name(want), why);
  if (why[0] == '\0' || strstr(why, "TLS") || strstr(why, "handshake"))
    rmqt_fail(__FILE__, line, "not an ACL refusal: \"%s\"", why);
}

TEST(acl_refusals_over_tls_are_acl_errors) {
  REQUIRE(env.tls_ca[0] && env.acl_ak[0]);
  char why[1024];
  int64_t ms;
  how_t h = good();
  CHECK_ERR(send_as(&h, topic(), why, sizeof(why), &ms), RMQ_OK);

  /* the same client (TLS, certificate) with a wrong secret */
  h.sk = "wrong-secret-123";
  rmq_err_t rc = send_as(&h, topic(), why, sizeof(why), &ms);
  expect_acl_refusal(rc, why, __LINE__);
  /* 4.9 says "Check signature failed", 5.x "check signature failed" */
  CHECK(strstr(why, "ignature") != NULL);

  /* unsigned */
  h.ak = h.sk = NULL;
  rc = send_as(&h, topic(), why, sizeof(why), &ms);
  expect_acl_refusal(rc, why, __LINE__);

  /* the right account on a topic it is denied */
  h = good();
  char args[200];
  snprintf(args, sizeof(args), "%s --queues 1", env.acl_deny_topic);
  CHECK(it_harness(&env, "topic", args, NULL) == 0);
  rc = send_as(&h, env.acl_deny_topic, why, sizeof(why), &ms);
  expect_acl_refusal(rc, why, __LINE__);
}

/* A send that must fail before anything is stored, with @p want, within
 * the connect timeout (and a second of the send's own work), the text
 * naming the name server and containing @p reason. */
static void expect_refused(const how_t *h, rmq_err_t want, const char *reason,
                           int line) {
  char never[128], why[1024]; /* a topic never made: nothing gets that far */
  int64_t ms;
  it_unique(never, sizeof(never), "it_tlsacl_no");
  rmq_err_t rc = send_as(h, never, why, sizeof(why), &ms);
  if (rc != want)
    rmqt_fail(__FILE__, line, "%s, not %s: %s", rmq_err_name(rc),
              rmq_err_name(want), why);
  if (strstr(why, reason) == NULL || strstr(why, env.namesrv) == NULL)
    rmqt_fail(__FILE__, line, "\"%s\" lacks \"%s\" or \"%s\"", why, reason,
              env.namesrv);
  if (ms > CONNECT_MS + 1000)
    rmqt_fail(__FILE__, line, "took %lld ms (connect timeout %d ms)",
              (long long)ms, CONNECT_MS);
}

TEST(plaintext_client_refused_within_the_connect_timeout) {
  if (strcmp(env.tls_mode, "enforcing") != 0) {
    fprintf(stderr, "# %s does not enforce TLS (%s): nothing to check\n",
            env.target, env.tls_mode);
    return;
  }
  how_t h = good();
  h.plain = true;
  h.cert = h.key = NULL;
  expect_refused(&h, RMQ_ERR_CONN_LOST, "a TLS-only server?", __LINE__);
}

/* One request straight to broker-a's port through the library's
 * connection layer (the producer's connections start at the name server):
 * the transport's error, the reason in @p why, the time in @p ms. An
 * answer of any code counts: the TLS session carried it. */
static rmq_err_t ask_broker(const char *cert, const char *key, char *why,
                            size_t n, int64_t *ms) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_tls_opts_t o = {.ca_path = env.tls_ca,
                       .cert_path = cert,
                       .key_path = key,
                       .verify_server = true,
                       .verify_host = true};
  rmqi_rpc_opts_t ro = {.max_frame = 8 << 20,
                        .connect_timeout_ms = CONNECT_MS,
                        .ser = RMQI_SER_JSON,
                        .log = &quiet};
  rmqi_rpc_t *r = NULL;
  rmq_err_t rc = rmqi_tls_new(&ro.tls, &o, why, n);
  if (rc == RMQ_OK)
    rc = rmqi_rpc_new(&r, &ro);
  if (rc == RMQ_OK)
    rc = rmqi_rpc_start(r);
  rmqi_tls_unref(ro.tls);
  if (rc != RMQ_OK) {
    rmqi_rpc_free(r);
    rmqt_fail(__FILE__, __LINE__, "rpc: %s %s", rmq_err_name(rc), why);
    return rc;
  }
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 28); /* GET_BROKER_RUNTIME_INFO */
  rmqi_resp_t resp;
  why[0] = '\0';
  int64_t t0 = rmqi_now_ms();
  rc = rmqi_rpc_invoke_sync(r, env.broker_a, &c, 5000, &resp, why, n);
  *ms = rmqi_now_ms() - t0;
  if (rc == RMQ_OK) {
    snprintf(why, n, "answered code %d", resp.cmd.code);
    rmqi_resp_free(&resp);
  }
  rmqi_cmd_free(&c);
  rmqi_rpc_free(r);
  fprintf(stderr, "# broker-a: %s in %lld ms: %s\n", rmq_err_name(rc),
          (long long)*ms, why);
  return rc;
}

TEST(mutual_tls_needs_a_certificate_from_the_servers_ca) {
  if (!mtls) {
    fprintf(stderr, "# %s does not require client certificates (%s)\n",
            env.target, env.tls_client_auth);
    return;
  }
  /* No certificate: the servers ask for one and end the session. Under
   * TLS 1.3 the client's handshake is over before the server checks, so
   * the refusal comes as an alert on the first read (Java's server sends
   * "bad certificate"). */
  how_t h = good();
  h.cert = h.key = NULL;
  expect_refused(&h, RMQ_ERR_TLS,
                 "(the server wants a client certificate: see tlsCertPath "
                 "and tlsKeyPath)",
                 __LINE__);

  /* A certificate of another CA: the servers check the chain
   * (tls.server.authClient=true) and refuse it. */
  char dir[] = "/tmp/rmq-it-mtls-XXXXXX", cmd[600], cert[600], key[600];
  REQUIRE(mkdtemp(dir) != NULL);
  snprintf(cert, sizeof(cert), "%s/client.pem", dir);
  snprintf(key, sizeof(key), "%s/client.key", dir);
  REQUIRE(it_self_signed(dir, "client", "stranger",
                         "extendedKeyUsage=clientAuth") == 0);
  h.cert = cert;
  h.key = key;
  expect_refused(&h, RMQ_ERR_TLS,
                 "(the server refused the client certificate of tlsCertPath",
                 __LINE__);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  it_sh(cmd, NULL, NULL);

  /* The same client with the harness's certificate is served. */
  char why[1024];
  int64_t ms;
  h = good();
  CHECK_ERR(send_as(&h, topic(), why, sizeof(why), &ms), RMQ_OK);

  /* The broker's port asks for the certificate too. */
  CHECK_ERR(ask_broker(NULL, NULL, why, sizeof(why), &ms), RMQ_ERR_TLS);
  CHECK(strstr(why, "(the server wants a client certificate") != NULL);
  CHECK(strstr(why, env.broker_a) != NULL);
  CHECK(ms <= CONNECT_MS + 1000);
  CHECK_ERR(ask_broker(env.tls_client_cert, env.tls_client_key, why,
                       sizeof(why), &ms),
            RMQ_OK);
}

int main(void) {
  it_setup(&env);
  mtls = strcmp(env.tls_client_auth, "require") == 0;
  if (mtls) {
    /* the Java peer's client side: present the harness's certificate
     * (tls.test.mode.enable=true would present none) and check the
     * servers' against the run's CA */
    static char opts[2048];
    snprintf(opts, sizeof(opts),
             "-Dtls.test.mode.enable=false -Dtls.client.authServer=true "
             "-Dtls.client.trustCertPath=%s -Dtls.client.certPath=%s "
             "-Dtls.client.keyPath=%s",
             env.tls_ca, env.tls_client_cert, env.tls_client_key);
    setenv("RMQ_PEER_JAVA_OPTS", opts, 1);
  }
  static const rmqt_case cases[] = {
      TCASE(round_trips_with_the_java_peer_signed_over_tls),
      TCASE(acl_refusals_over_tls_are_acl_errors),
      TCASE(plaintext_client_refused_within_the_connect_timeout),
      TCASE(mutual_tls_needs_a_certificate_from_the_servers_ca)};
  return RUN_TESTS(cases);
}

/* lib/net/tls.c: TLS connections against a tiny OpenSSL server in the test
 * that terminates TLS in front of the mock broker (so requests are
 * answered as the mock does), with certificates made at test time: round
 * trips with large and many frames, mutual TLS, and every refusal (expired,
 * unknown CA, name mismatch, garbage, silence, a plaintext peer either way)
 * as RMQ_ERR_TLS naming the peer and OpenSSL's reason within the connect
 * timeout. */
#include "mock.h"
#include "net/rpc.h"
#include "net/tls.h"
#include "test.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_MS (1000 * rmqt_slowdown())

/* ---- certificates -------------------------------------------------------- */

typedef struct pki {
  char dir[64];
  EVP_PKEY *ca_key, *other_ca_key, *key;
  X509 *ca, *other_ca;
  X509 *good;     /* for 127.0.0.1 and localhost, by ca */
  X509 *expired;  /* the same names, expired yesterday */
  X509 *stranger; /* by other_ca */
  X509 *misnamed; /* by ca, for other.example only */
  X509 *client;   /* client certificate by ca */
} pki_t;

static pki_t pki;

static EVP_PKEY *ec_key(void) {
  EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
  EVP_PKEY *p = NULL;
  if (k && EVP_PKEY_keygen_init(k) == 1 &&
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(k, NID_X9_62_prime256v1) == 1)
    EVP_PKEY_keygen(k, &p);
  EVP_PKEY_CTX_free(k);
  return p;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *v) {
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, v);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

/* A certificate for @p key, signed by @p issuer (NULL: self-signed CA),
 * valid from @p from_s to @p to_s seconds from now. */
static X509 *cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                  EVP_PKEY *issuer_key, long from_s, long to_s) {
  static long serial = 1;
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), to_s);
  X509_set_pubkey(x, key);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  if (issuer == NULL) {
    add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, &ctx, NID_basic_constraints, "CA:FALSE");
    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(x, &ctx, NID_subject_alt_name, san);
  }
  X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
  return x;
}

static void path(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", pki.dir, name);
}

static void write_cert(const char *name, X509 *x) {
  char p[128];
  path(p, sizeof(p), name);
  FILE *f = fopen(p, "w");
  PEM_write_X509(f, x);
  fclose(f);
}

static void write_key(const char *name, EVP_PKEY *k, const char *password) {
  char p[128];
  path(p, sizeof(p), name);
  FILE *f = fopen(p, "w");
  if (password)
    PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                              (void *)password);
  else
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
}

static bool pki_make(void) {
  snprintf(pki.dir, sizeof(pki.dir), "/tmp/rmq-tls-XXXXXX");
  if (mkdtemp(pki.dir) == NULL)
    return false;
  const long day = 86400;
  pki.ca_key = ec_key();
  pki.other_ca_key = ec_key();
  pki.key = ec_key();
  pki.ca = cert(pki.ca_key, "test CA", NULL, NULL, NULL, -day, day);
  pki.other_ca =
      cert(pki.other_ca_key, "other CA", NULL, NULL, NULL, -day, day);
  const char *names = "IP:127.0.0.1,DNS:localhost";
  pki.good = cert(pki.key, "server", names, pki.ca, pki.ca_key, -day, day);
  pki.expired =
      cert(pki.key, "server", names, pki.ca, pki.ca_key, -2 * day, -day);
  pki.stranger =
      cert(pki.key, "server", names, pki.other_ca, pki.other_ca_key, -day, day);
  pki.misnamed = cert(pki.key, "server", "DNS:other.example", pki.ca,
                      pki.ca_key, -day, day);
  pki.client =
      cert(pki.key, "client", "DNS:client", pki.ca, pki.ca_key, -day, day);
  write_cert("ca.pem", pki.ca);
  write_cert("client.pem", pki.client);
  write_key("client.key", pki.key, "s3cret");
  return pki.ca && pki.good && pki.expired && pki.stranger && pki.misnamed &&
         pki.client;
}

static void pki_free(void) {
  const char *files[] = {"ca.pem", "client.pem", "client.key"};
  for (size_t i = 0; i < 3; i++) {
    char p[128];
    path(p, sizeof(p), files[i]);
    unlink(p);
  }
  rmdir(pki.dir);
  X509 *xs[] = {pki.ca,       pki.other_ca, pki.good,  pki.expired,
                pki.stranger, pki.misnamed, pki.client};
  for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
    X509_free(xs[i]);
  EVP_PKEY_free(pki.ca_key);
  EVP_PKEY_free(pki.other_ca_key);
  EVP_PKEY_free(pki.key);
}

/* ---- the server: TLS in front of the mock -------------------------------- */

typedef enum {
  F_TLS,     /* terminate TLS, relay to the mock */
  F_GARBAGE, /* answer the ClientHello with bytes that are not TLS */
  F_SILENT,  /* accept and say nothing */
  F_CLOSE,   /* read the ClientHello and close (a plaintext server) */
} front_mode_t;

typedef struct front {
  front_mode_t mode;
  SSL_CTX *ctx;
  const char *backend; /* the mock's address */
  int lfd;
  char addr[64];
  pthread_t th, conns[16]; /* the acceptor, one thread per connection */
  int n_conns;
  _Atomic bool stop;
  _Atomic int handshakes_failed;
} front_t;

static int connect_backend(const char *addr) {
  struct sockaddr_storage ss;
  unsigned len;
  if (rmqi_parse_addr(addr, &ss, &len) != RMQ_OK)
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Waits until @p fd is readable or the front stops; false on stop. */
static bool wait_in(front_t *f, int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  while (!atomic_load(&f->stop))
    if (poll(&p, 1, 50) > 0)
      return true;
  return false;
}

static void relay(front_t *f, SSL *ssl, int cfd) {
  int mfd = connect_backend(f->backend);
  char buf[64 * 1024];
  while (mfd >= 0 && !atomic_load(&f->stop)) {
    struct pollfd p[2] = {{cfd, POLLIN, 0}, {mfd, POLLIN, 0}};
    if (SSL_pending(ssl) == 0 && poll(p, 2, 50) <= 0)
      continue;
    if (SSL_pending(ssl) > 0 || (p[0].revents & (POLLIN | POLLHUP))) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0 || write(mfd, buf, (size_t)n) != n)
        break;
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(mfd, buf, sizeof(buf));
      if (n <= 0 || SSL_write(ssl, buf, (int)n) != n)
        break;
    }
  }
  if (mfd >= 0)
    close(mfd);
}

static void serve(front_t *f, int cfd) {
  char buf[4096];
  switch (f->mode) {
  case F_TLS: {
    SSL *ssl = SSL_new(f->ctx);
    SSL_set_fd(ssl, cfd);
    if (SSL_accept(ssl) == 1)
      relay(f, ssl, cfd);
    else
      atomic_fetch_add(&f->handshakes_failed, 1);
    SSL_free(ssl);
    ERR_clear_error();
    break;
  }
  case F_GARBAGE:
    if (wait_in(f, cfd) && read(cfd, buf, sizeof(buf)) > 0) {
      const char g[] = "HTTP/1.1 400 Bad Request\r\n\r\nnot a TLS server\r\n";
      if (write(cfd, g, sizeof(g) - 1) < 0)
        break;
      wait_in(f, cfd); /* until the client hangs up */
    }
    break;
  case F_SILENT:
    while (wait_in(f, cfd) && read(cfd, buf, sizeof(buf)) > 0)
      ;
    break;
  case F_CLOSE:
    if (wait_in(f, cfd))
      (void)read(cfd, buf, sizeof(buf));
    break;
  }
  close(cfd);
}

typedef struct conn_arg {
  front_t *f;
  int cfd;
} conn_arg_t;

static void *conn_main(void *arg) {
  conn_arg_t *a = arg;
  serve(a->f, a->cfd);
  free(a);
  return NULL;
}

static void *front_main(void *arg) {
  front_t *f = arg;
  while (wait_in(f, f->lfd)) {
    int cfd = accept(f->lfd, NULL, NULL);
    if (cfd < 0)
      continue;
    conn_arg_t *a = malloc(sizeof(*a));
    *a = (conn_arg_t){f, cfd};
    if (f->n_conns == 16 ||
        pthread_create(&f->conns[f->n_conns], NULL, conn_main, a) != 0) {
      close(cfd);
      free(a);
      continue;
    }
    f->n_conns++;
  }
  for (int i = 0; i < f->n_conns; i++)
    pthread_join(f->conns[i], NULL);
  return NULL;
}

/* A server presenting @p x (NULL: none) in @p mode; with @p client_ca it
 * requires a client certificate issued by it. */
static front_t *front_start(front_mode_t mode, X509 *x, X509 *client_ca,
                            const char *backend) {
  front_t *f = calloc(1, sizeof(*f));
  f->mode = mode;
  f->backend = backend;
  if (x) {
    f->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(f->ctx, x);
    SSL_CTX_use_PrivateKey(f->ctx, pki.key);
    if (client_ca) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(f->ctx), client_ca);
      SSL_CTX_set_verify(
          f->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
  }
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(f->lfd, 8) != 0 ||
      getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0) {
    close(f->lfd);
    SSL_CTX_free(f->ctx);
    free(f);
    return NULL;
  }
  snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", ntohs(a.sin_port));
  pthread_create(&f->th, NULL, front_main, f);
  return f;
}

static void front_stop(front_t *f) {
  atomic_store(&f->stop, true);
  pthread_join(f->th, NULL);
  close(f->lfd);
  SSL_CTX_free(f->ctx);
  free(f);
}

/* ---- the client ---------------------------------------------------------- */

static rmqi_tls_opts_t verify_with_ca(void) {
  static char ca[128];
  path(ca, sizeof(ca), "ca.pem");
  return (rmqi_tls_opts_t){
      .ca_path = ca, .verify_server = true, .verify_host = true};
}

/* An rpc instance (TLS with @p o, plain when NULL). */
static rmqi_rpc_t *client(const rmqi_tls_opts_t *o) {
  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t ro = {.max_frame = 8 << 20,
                        .connect_timeout_ms = CONNECT_MS,
                        .ser = RMQI_SER_JSON,
                        .log = &quiet};
  char err[256] = "";
  if (o && rmqi_tls_new(&ro.tls, o, err, sizeof(err)) != RMQ_OK) {
    fprintf(stderr, "tls: %s\n", err);
    return NULL;
  }
  rmqi_rpc_t *r = NULL;
  if (rmqi_rpc_new(&r, &ro) != RMQ_OK || rmqi_rpc_start(r) != RMQ_OK) {
    rmqi_rpc_free(r);
    r = NULL;
  }
  rmqi_tls_unref(ro.tls);
  return r;
}

/* One echo request to @p addr: its error; @p detail gets the reason and
 * @p ms the time it took. */
static rmq_err_t echo(rmqi_rpc_t *r, const char *addr, const uint8_t *body,
                      size_t len, char *detail, size_t n, int64_t *ms) {
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 105);
  c.body = body;
  c.body_len = len;
  rmqi_resp_t resp;
  detail[0] = '\0';
  int64_t t0 = rmqi_now_ms();
  rmq_err_t rc = rmqi_rpc_invoke_sync(r, addr, &c, 5000 * rmqt_slowdown(),
                                      &resp, detail, n);
  if (ms)
    *ms = rmqi_now_ms() - t0;
  if (rc == RMQ_OK) {
    if (resp.cmd.body_len != len ||
        (len && memcmp(resp.cmd.body, body, len) != 0))
      rc = RMQ_ERR_BAD_RESPONSE;
    rmqi_resp_free(&resp);
  }
  rmqi_cmd_free(&c);
  return rc;
}

/* The mock, the TLS server in front of it presenting @p x (requiring a
 * client certificate by @p client_ca unless NULL), and a client with @p o
 * (plain when NULL). */
typedef struct fixture {
  mock_t *m;
  front_t *f;
  rmqi_rpc_t *r;
} fixture_t;

static bool up(fixture_t *x, X509 *cert_, X509 *client_ca,
               const rmqi_tls_opts_t *o) {
  x->m = mock_start();
  x->f = x->m ? front_start(F_TLS, cert_, client_ca, mock_addr(x->m)) : NULL;
  x->r = client(o);
  return x->m && x->f && x->r;
}

static void down(fixture_t *x) {
  rmqi_rpc_free(x->r);
  if (x->f)
    front_stop(x->f);
  if (x->m)
    mock_stop(x->m);
}

/* A refusal: @p rc within the connect timeout, the detail names the peer
 * and contains @p reason. */
#define CHECK_REFUSED(r, addr, rc, reason)                                     \
  do {                                                                         \
    char d_[640];                                                              \
    int64_t ms_;                                                               \
    CHECK_ERR(echo(r, addr, (const uint8_t *)"x", 1, d_, sizeof(d_), &ms_),    \
              rc);                                                             \
    CHECK(strstr(d_, addr) != NULL);                                           \
    if (strstr(d_, reason) == NULL)                                            \
      rmqt_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", d_, reason);        \
    CHECK(ms_ <= CONNECT_MS + 500);                                            \
    fprintf(stderr, "# %lld ms: %s\n", (long long)ms_, d_);                    \
  } while (0)

typedef struct counts {
  _Atomic int done, ok;
} counts_t;

static void cb(void *arg, const rmqi_rpc_result_t *res) {
  counts_t *cx = arg;
  if (res->err == RMQ_OK && res->resp->body_len == 9 &&
      memcmp(res->resp->body, "pipelined", 9) == 0)
    atomic_fetch_add(&cx->ok, 1);
  atomic_fetch_add(&cx->done, 1);
}

TEST(round_trips_carry_exact_bytes_large_and_pipelined) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.good, NULL, &o));
  front_t *f = x.f;
  rmqi_rpc_t *r = x.r;
  char d[640];
  CHECK_ERR(echo(r, f->addr, (const uint8_t *)"xyz", 3, d, sizeof(d), NULL),
            RMQ_OK);
  /* Larger than a TLS record and the socket buffers: partial writes,
   * many records per read. */
  size_t big = 3 << 20;
  uint8_t *b = malloc(big);
  for (size_t i = 0; i < big; i++)
    b[i] = (uint8_t)(i * 31 + (i >> 12));
  CHECK_ERR(echo(r, f->addr, b, big, d, sizeof(d), NULL), RMQ_OK);
  free(b);
  /* Many small frames at once: responses arrive back to back, several in
   * one TLS read; none may stay in OpenSSL's buffer. */
  enum { N = 300 };
  rmqi_cmd_t c[N];
  counts_t cx = {0, 0};
  for (int i = 0; i < N; i++) {
    rmqi_cmd_init(&c[i], 105);
    c[i].body = (const uint8_t *)"pipelined";
    c[i].body_len = 9;
    CHECK_ERR(
        rmqi_rpc_invoke(r, f->addr, &c[i], 5000 * rmqt_slowdown(), cb, &cx),
        RMQ_OK);
  }
  int64_t until = rmqi_now_ms() + 5000 * rmqt_slowdown();
  while (atomic_load(&cx.done) < N && rmqi_now_ms() < until)
    usleep(1000);
  CHECK_INT(atomic_load(&cx.ok), N);
  for (int i = 0; i < N; i++)
    rmqi_cmd_free(&c[i]);
  CHECK_INT(atomic_load(&f->handshakes_failed), 0);
  x.r = r;
  x.f = f;
  down(&x);
}

/* An async request whose body is lent (written from this memory, not
 * copied): the callback checks the echo and frees the body. */
typedef struct lent_echo {
  uint8_t *body;
  size_t len;
  counts_t *cx;
} lent_echo_t;

static void lent_echo_cb(void *arg, const rmqi_rpc_result_t *res) {
  lent_echo_t *q = arg;
  if (res->err == RMQ_OK && res->resp->body_len == q->len &&
      memcmp(res->resp->body, q->body, q->len) == 0)
    atomic_fetch_add(&q->cx->ok, 1);
  memset(q->body, 0xEE, q->len);
  free(q->body);
  atomic_fetch_add(&q->cx->done, 1);
}

/* Lent bodies through TLS: the transport has no writev, so the
 * connection writes header, body and the next frames one SSL_write at a
 * time; large lent bodies queued between small frames, written while
 * more are queued, all come back exact. */
TEST(lent_bodies_between_small_frames_cross_tls_exact) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.good, NULL, &o));
  enum { N = 24 };
  static lent_echo_t q[N];
  counts_t cx = {0, 0};
  for (int i = 0; i < N; i++) {
    size_t len = i % 3 == 0 ? 300 * 1000 + (size_t)i : 7 + (size_t)i;
    q[i] = (lent_echo_t){malloc(len), len, &cx};
    REQUIRE(q[i].body);
    for (size_t k = 0; k < len; k++)
      q[i].body[k] = (uint8_t)(k * 7 + (size_t)i * 13 + (k >> 11));
  }
  for (int i = 0; i < N; i++) {
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 105);
    c.body = q[i].body;
    c.body_len = q[i].len;
    CHECK_ERR(rmqi_rpc_invoke_lend(x.r, x.f->addr, &c, 10000 * rmqt_slowdown(),
                                   lent_echo_cb, &q[i]),
              RMQ_OK);
    rmqi_cmd_free(&c);
  }
  int64_t until = rmqi_now_ms() + 10000 * rmqt_slowdown();
  while (atomic_load(&cx.done) < N && rmqi_now_ms() < until)
    usleep(1000);
  CHECK_INT(atomic_load(&cx.ok), N);
  down(&x);
  CHECK_INT(atomic_load(&cx.done), N);
}

TEST(expired_certificate_is_refused) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.expired, NULL, &o));
  CHECK_REFUSED(x.r, x.f->addr, RMQ_ERR_TLS, "certificate has expired");
  CHECK_INT(mock_count(x.m, -1), 0); /* nothing reached the broker */
  down(&x);
}

/* tlsMinVersion=TLSv1.3 against a server that stops at TLS 1.2: refused
 * in the handshake, nothing falls back; TLS 1.2 allowed, it works. */
TEST(a_server_below_the_minimum_version_is_refused) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  o.tls13_only = true;
  REQUIRE(up(&x, pki.good, NULL, &o));
  SSL_CTX_set_max_proto_version(x.f->ctx, TLS1_2_VERSION); /* no client yet */
  CHECK_REFUSED(x.r, x.f->addr, RMQ_ERR_TLS, "protocol version");
  CHECK_INT(mock_count(x.m, -1), 0);
  rmqi_rpc_free(x.r);
  o.tls13_only = false;
  x.r = client(&o);
  REQUIRE(x.r);
  char d[640];
  CHECK_ERR(echo(x.r, x.f->addr, (const uint8_t *)"x", 1, d, sizeof(d), NULL),
            RMQ_OK);
  down(&x);
}

TEST(certificate_of_an_unknown_ca_is_refused) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.stranger, NULL, &o));
  front_t *f = x.f;
  rmqi_rpc_t *r = x.r;
  CHECK_REFUSED(r, f->addr, RMQ_ERR_TLS, "unable to get local issuer");
  rmqi_rpc_free(r);
  /* The system store does not know our CA either. */
  o.ca_path = NULL;
  r = client(&o);
  REQUIRE(r);
  CHECK_REFUSED(r, f->addr, RMQ_ERR_TLS, "certificate verify failed");
  rmqi_rpc_free(r);
  /* Verification off (tests only) accepts it. */
  o.verify_server = false;
  r = client(&o);
  REQUIRE(r);
  char d[640];
  CHECK_ERR(echo(r, f->addr, (const uint8_t *)"x", 1, d, sizeof(d), NULL),
            RMQ_OK);
  x.r = r;
  x.f = f;
  down(&x);
}

TEST(certificate_for_another_name_is_refused) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.misnamed, NULL, &o));
  front_t *f = x.f;
  rmqi_rpc_t *r = x.r;
  CHECK_REFUSED(r, f->addr, RMQ_ERR_TLS,
                "IP address mismatch (the certificate is not for 127.0.0.1)");
  /* By host name: the name is checked (and sent as SNI). */
  char byname[64];
  snprintf(byname, sizeof(byname), "localhost:%s", strchr(f->addr, ':') + 1);
  CHECK_REFUSED(r, byname, RMQ_ERR_TLS,
                "hostname mismatch (the certificate is not for localhost)");
  rmqi_rpc_free(r);
  /* Without the name check the chain alone is enough. */
  o.verify_host = false;
  r = client(&o);
  REQUIRE(r);
  char d[640];
  CHECK_ERR(echo(r, f->addr, (const uint8_t *)"x", 1, d, sizeof(d), NULL),
            RMQ_OK);
  rmqi_rpc_free(r);
  /* The right certificate passes by address and by name. */
  front_stop(f);
  f = front_start(F_TLS, pki.good, NULL, mock_addr(x.m));
  o.verify_host = true;
  r = client(&o);
  REQUIRE(f && r);
  snprintf(byname, sizeof(byname), "localhost:%s", strchr(f->addr, ':') + 1);
  CHECK_ERR(echo(r, f->addr, (const uint8_t *)"x", 1, d, sizeof(d), NULL),
            RMQ_OK);
  CHECK_ERR(echo(r, byname, (const uint8_t *)"x", 1, d, sizeof(d), NULL),
            RMQ_OK);
  x.r = r;
  x.f = f;
  down(&x);
}

TEST(mutual_tls_sends_the_client_certificate) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  REQUIRE(up(&x, pki.good, pki.ca, &o));
  front_t *f = x.f;
  rmqi_rpc_t *r = x.r;
  /* Without one: the server's alert (TLS 1.3 sends it after the client's
   * side of the handshake is done, so it arrives on the first read). */
  CHECK_REFUSED(r, f->addr, RMQ_ERR_TLS,
                "certificate required (the server wants a client certificate: "
                "see tlsCertPath and tlsKeyPath)");
  rmqi_rpc_free(r);
  char cp[128], kp[128];
  path(cp, sizeof(cp), "client.pem");
  path(kp, sizeof(kp), "client.key");
  o.cert_path = cp;
  o.key_path = kp;
  o.key_password = "s3cret"; /* the key is encrypted (PKCS#8) */
  r = client(&o);
  REQUIRE(r);
  char d[640];
  CHECK_ERR(echo(r, f->addr, (const uint8_t *)"mtls", 4, d, sizeof(d), NULL),
            RMQ_OK);
  x.r = r;
  x.f = f;
  down(&x);
}

/* A server that trusts another CA for client certificates refuses ours:
 * the error says it was the certificate that was refused. */
TEST(a_client_certificate_the_server_does_not_trust_is_named) {
  fixture_t x;
  rmqi_tls_opts_t o = verify_with_ca();
  char cp[128], kp[128];
  path(cp, sizeof(cp), "client.pem");
  path(kp, sizeof(kp), "client.key");
  o.cert_path = cp;
  o.key_path = kp;
  o.key_password = "s3cret";
  REQUIRE(up(&x, pki.good, pki.other_ca, &o));
  CHECK_REFUSED(x.r, x.f->addr, RMQ_ERR_TLS,
                "(the server refused the client certificate of tlsCertPath: "
                "is it issued by a CA the server trusts?)");
  down(&x);
}

TEST(a_peer_that_does_not_speak_tls_is_refused_in_time) {
  rmqi_tls_opts_t o = verify_with_ca();
  rmqi_rpc_t *r = client(&o);
  front_t *g = front_start(F_GARBAGE, NULL, NULL, NULL);
  front_t *s = front_start(F_SILENT, NULL, NULL, NULL);
  front_t *c = front_start(F_CLOSE, NULL, NULL, NULL);
  REQUIRE(r && g && s && c);
  CHECK_REFUSED(r, g->addr, RMQ_ERR_TLS, "TLS handshake failed");
  CHECK_REFUSED(r, s->addr, RMQ_ERR_TLS,
                "TLS handshake not done within the connect timeout");
  CHECK_REFUSED(r, c->addr, RMQ_ERR_TLS, "the peer closed the connection");
  rmqi_rpc_free(r);
  front_stop(g);
  front_stop(s);
  front_stop(c);
}

TEST(a_plaintext_client_learns_the_server_wants_tls) {
  fixture_t x;
  REQUIRE(up(&x, pki.good, NULL, NULL));
  CHECK_REFUSED(x.r, x.f->addr, RMQ_ERR_CONN_LOST, "a TLS-only server?");
  CHECK_INT(mock_count(x.m, -1), 0);
  down(&x);
}

TEST(bad_settings_are_named) {
  rmqi_tls_t *t = NULL;
  char err[256], cp[128], kp[128], ca[128];
  path(cp, sizeof(cp), "client.pem");
  path(kp, sizeof(kp), "client.key");
  path(ca, sizeof(ca), "ca.pem");
  rmqi_tls_opts_t o = {.ca_path = "/nonexistent/ca.pem", .verify_server = true};
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_ERR_TLS);
  CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
  /* A file that is no certificate. */
  o.ca_path = kp;
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_ERR_TLS);
  CHECK(strstr(err, kp) != NULL);
  o.ca_path = ca;
  o.cert_path = cp; /* without its key */
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_ERR_TLS);
  CHECK(strstr(err, "needs its key") != NULL);
  o.key_path = kp; /* encrypted, no password: refused, never a prompt */
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_ERR_TLS);
  CHECK(strstr(err, "client key") != NULL);
  o.key_password = "wrong";
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_ERR_TLS);
  CHECK(strstr(err, kp) != NULL);
  fprintf(stderr, "# wrong password: %s\n", err);
  o.key_password = "s3cret";
  CHECK_ERR(rmqi_tls_new(&t, &o, err, sizeof(err)), RMQ_OK);
  rmqi_tls_unref(t);
}

int main(void) {
  /* the test's own TLS server (OpenSSL's socket BIO) writes to clients
   * that may have gone: that must not kill the test; the library sends
   * with MSG_NOSIGNAL and needs no such setting */
  signal(SIGPIPE, SIG_IGN);
  if (!pki_make()) {
    fprintf(stderr, "cannot make the test certificates\n");
    return 1;
  }
  static const rmqt_case cases[] = {
      TCASE(round_trips_carry_exact_bytes_large_and_pipelined),
      TCASE(lent_bodies_between_small_frames_cross_tls_exact),
      TCASE(expired_certificate_is_refused),
      TCASE(a_server_below_the_minimum_version_is_refused),
      TCASE(certificate_of_an_unknown_ca_is_refused),
      TCASE(certificate_for_another_name_is_refused),
      TCASE(mutual_tls_sends_the_client_certificate),
      TCASE(a_client_certificate_the_server_does_not_trust_is_named),
      TCASE(a_peer_that_does_not_speak_tls_is_refused_in_time),
      TCASE(a_plaintext_client_learns_the_server_wants_tls),
      TCASE(bad_settings_are_named)};
  int rc = RUN_TESTS(cases);
  pki_free();
  return rc;
}

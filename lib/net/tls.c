#include "tls.h"

#include "../util/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

struct rmqi_tls {
  _Atomic int refs;
  SSL_CTX *ctx;
  BIO_METHOD *bio; /* our socket BIO (send with MSG_NOSIGNAL) */
  bool verify_host;
};

typedef struct tls_tr {
  rmqi_transport_t base;
  rmqi_tls_t *tls; /* a reference: the BIO method must outlive the BIO */
  SSL *ssl;
  bool fatal; /* no close_notify after a fatal error */
  char host[256];
  char why[640];
} tls_tr_t;

/* ---- the socket BIO ------------------------------------------------------
 * OpenSSL's own socket BIO writes with write(2): a peer that reset the
 * connection would raise SIGPIPE, and a library installs no signal
 * handler. This one sends with MSG_NOSIGNAL, as the plain transport. */

static int bio_write(BIO *b, const char *p, int n) {
  tls_tr_t *s = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t k = send(s->base.fd, p, (size_t)n, MSG_NOSIGNAL);
  if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    BIO_set_retry_write(b);
  return (int)k;
}

static int bio_read(BIO *b, char *p, int n) {
  tls_tr_t *s = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t k = recv(s->base.fd, p, (size_t)n, 0);
  if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    BIO_set_retry_read(b);
  if (k == 0)
    errno = 0; /* end of stream: SSL_ERROR_SYSCALL with errno 0 */
  return (int)k;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is buffered here */
}

/* ---- errors -------------------------------------------------------------- */

/* True when OpenSSL's reason says the peer does not speak TLS at all. */
static bool not_tls(int reason) {
  return reason == SSL_R_WRONG_VERSION_NUMBER ||
         reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
         reason == SSL_R_HTTP_REQUEST || reason == SSL_R_RECORD_LENGTH_MISMATCH;
}

static bool eof_reason(unsigned long e) {
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
  return ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
  (void)e;
  return false;
#endif
}

/* True when OpenSSL's reason is the peer's alert about our certificate: a
 * server that wants a client certificate and got none, or refused ours. */
static bool client_cert_alert(int reason) {
  switch (reason) {
  case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
  case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
  case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
#ifdef SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
#endif
    return true;
  default:
    return false;
  }
}

/* Fills s->why with @p what, OpenSSL's reason and the certificate check's
 * verdict, and empties OpenSSL's error queue (this thread's). */
static void describe(tls_tr_t *s, const char *what) {
  unsigned long e = ERR_peek_error();
  char reason[160];
  const char *rs = e ? ERR_reason_error_string(e) : NULL;
  if (rs)
    snprintf(reason, sizeof(reason), "%s", rs);
  else if (e)
    snprintf(reason, sizeof(reason), "OpenSSL error 0x%lx", e);
  else
    snprintf(reason, sizeof(reason), "protocol error");
  long v = SSL_get_verify_result(s->ssl);
  char verdict[400] = "";
  if (v != X509_V_OK && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    bool name = v == X509_V_ERR_HOSTNAME_MISMATCH ||
                v == X509_V_ERR_IP_ADDRESS_MISMATCH;
    snprintf(verdict, sizeof(verdict), ": %s%s%s%s",
             X509_verify_cert_error_string(v),
             name ? " (the certificate is not for " : "", name ? s->host : "",
             name ? ")" : "");
  }
  const char *hint = "";
  if (not_tls(ERR_GET_REASON(e)))
    hint = " (is the peer speaking TLS?)";
  else if (client_cert_alert(ERR_GET_REASON(e)))
    hint = SSL_get_certificate(s->ssl) == NULL
               ? " (the server wants a client certificate: see tlsCertPath "
                 "and tlsKeyPath)"
               : " (the server refused the client certificate of "
                 "tlsCertPath: is it issued by a CA the server trusts?)";
  snprintf(s->why, sizeof(s->why), "%s: %s%s%s", what, reason, verdict, hint);
  s->base.why = s->why;
  ERR_clear_error();
}

/* A write met a reset: the peer may have said why in an alert that sits
 * unread (TLS 1.3 servers refuse a client certificate after the client's
 * side of the handshake is done). True when a read finds one; OpenSSL's
 * error queue then holds it. */
static bool alert_before_reset(tls_tr_t *s) {
  char tmp[256];
  ERR_clear_error();
  int k = SSL_read(s->ssl, tmp, sizeof(tmp));
  return k <= 0 && SSL_get_error(s->ssl, k) == SSL_ERROR_SSL &&
         ERR_peek_error() != 0;
}

/* After SSL_read/SSL_write returned @p rc <= 0: -1 with errno EAGAIN when
 * the call waits for readiness (flags say which when it is not the
 * obvious one); 0 for a read that met the end of the stream; otherwise -1
 * with errno and s->why. */
static ssize_t io_fail(tls_tr_t *s, int rc, bool writing) {
  int e = SSL_get_error(s->ssl, rc);
  int saved = errno;
  switch (e) {
  case SSL_ERROR_WANT_READ:
    if (writing)
      s->base.flags |= RMQI_TR_WRITE_WANTS_IN;
    else
      s->base.flags &= ~(unsigned)RMQI_TR_READ_WANTS_OUT;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_WANT_WRITE:
    if (writing)
      s->base.flags &= ~(unsigned)RMQI_TR_WRITE_WANTS_IN;
    else
      s->base.flags |= RMQI_TR_READ_WANTS_OUT;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN: /* the peer's close_notify */
    if (!writing)
      return 0;
    errno = EPIPE;
    return -1;
  case SSL_ERROR_SYSCALL:
    s->fatal = true;
    if (writing && (saved == ECONNRESET || saved == EPIPE) &&
        alert_before_reset(s))
      break;
    if (ERR_peek_error() == 0) {
      if (saved == 0) { /* end of stream without close_notify */
        if (!writing)
          return 0;
        saved = EPIPE;
      }
      errno = saved;
      return -1;
    }
    break;
  default:
    s->fatal = true;
    if (!writing && eof_reason(ERR_peek_error())) {
      ERR_clear_error();
      return 0;
    }
    break;
  }
  describe(s, "TLS");
  errno = EPROTO;
  return -1;
}

/* ---- the transport ------------------------------------------------------- */

static ssize_t tls_read(rmqi_transport_t *t, void *buf, size_t n) {
  tls_tr_t *s = (tls_tr_t *)t;
  int k = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
  if (k > 0) {
    t->flags &= ~(unsigned)RMQI_TR_READ_WANTS_OUT;
    return k;
  }
  return io_fail(s, k, false);
}

/* The connection retries a write that said EAGAIN with the same bytes at
 * the front of a buffer that may have moved and grown: what
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER and _ENABLE_PARTIAL_WRITE allow. */
static ssize_t tls_write(rmqi_transport_t *t, const void *buf, size_t n) {
  tls_tr_t *s = (tls_tr_t *)t;
  int k = SSL_write(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
  if (k > 0) {
    t->flags &= ~(unsigned)RMQI_TR_WRITE_WANTS_IN;
    return k;
  }
  return io_fail(s, k, true);
}

static int tls_start(rmqi_transport_t *t) {
  tls_tr_t *s = (tls_tr_t *)t;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(s->ssl);
  if (rc == 1) {
    t->flags = 0;
    return 1;
  }
  int e = SSL_get_error(s->ssl, rc);
  int saved = errno;
  if (e == SSL_ERROR_WANT_READ) {
    t->flags &= ~(unsigned)RMQI_TR_READ_WANTS_OUT;
    return 0;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    t->flags |= RMQI_TR_READ_WANTS_OUT;
    return 0;
  }
  s->fatal = true;
  unsigned long q = ERR_peek_error();
  if ((e == SSL_ERROR_SYSCALL && q == 0 && saved == 0) || eof_reason(q)) {
    snprintf(s->why, sizeof(s->why),
             "TLS handshake failed: the peer closed the connection (is it "
             "speaking TLS? does it want a client certificate?)");
  } else if (e == SSL_ERROR_SYSCALL && q == 0) {
    char eb[96];
    snprintf(s->why, sizeof(s->why), "TLS handshake failed: %s",
             rmqi_strerror(saved, eb, sizeof(eb)));
  } else {
    describe(s, "TLS handshake failed");
  }
  ERR_clear_error();
  t->why = s->why;
  return RMQ_ERR_TLS;
}

static void tls_destroy(rmqi_transport_t *t) {
  tls_tr_t *s = (tls_tr_t *)t;
  /* close_notify, best effort: one non-blocking attempt, never a wait. */
  if (!s->fatal && SSL_is_init_finished(s->ssl))
    SSL_shutdown(s->ssl);
  SSL_free(s->ssl); /* and its BIO */
  ERR_clear_error();
  rmqi_tls_unref(s->tls);
  free(s);
}

static const rmqi_transport_ops_t tls_ops = {tls_read, tls_write, tls_start,
                                             tls_destroy, NULL};

rmqi_transport_t *rmqi_transport_tls(rmqi_tls_t *t, int fd, const char *host) {
  tls_tr_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->base = (rmqi_transport_t){&tls_ops, fd, 0, NULL};
  snprintf(s->host, sizeof(s->host), "%s", host);
  s->ssl = SSL_new(t->ctx);
  BIO *b = s->ssl ? BIO_new(t->bio) : NULL;
  if (b == NULL) {
    SSL_free(s->ssl);
    free(s);
    ERR_clear_error();
    return NULL;
  }
  s->tls = rmqi_tls_ref(t);
  BIO_set_data(b, s);
  BIO_set_init(b, 1);
  SSL_set_bio(s->ssl, b, b);
  SSL_set_connect_state(s->ssl);
  unsigned char ip[16];
  bool numeric =
      inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
  bool ok = numeric || SSL_set_tlsext_host_name(s->ssl, host) == 1;
  if (ok && t->verify_host) {
    X509_VERIFY_PARAM *p = SSL_get0_param(s->ssl);
    if (numeric) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(p, host) == 1;
    } else {
      X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = X509_VERIFY_PARAM_set1_host(p, host, 0) == 1;
    }
  }
  if (!ok) {
    /* Only allocation fails here: host is a valid address's host part. */
    tls_destroy(&s->base);
    return NULL;
  }
  return &s->base;
}

/* ---- the shared context -------------------------------------------------- */

/* The key's password, from the caller's string; never a terminal prompt
 * (OpenSSL's default callback would read one when no password is set). */
static int password_cb(char *buf, int size, int rwflag, void *u) {
  (void)rwflag;
  const char *pw = u;
  if (pw == NULL || size <= 0)
    return 0;
  size_t n = strlen(pw);
  if (n > (size_t)size)
    n = (size_t)size;
  memcpy(buf, pw, n);
  return (int)n;
}

static rmq_err_t fail(rmqi_tls_t *t, char *err, size_t n, const char *what,
                      const char *path) {
  unsigned long e = ERR_peek_error(); /* the first: the root cause */
  const char *rs = e ? ERR_reason_error_string(e) : NULL;
  rmqi_errstr(err, n, "%s \"%s\": %s", what, path ? path : "",
              rs ? rs : "cannot be loaded");
  ERR_clear_error();
  rmqi_tls_unref(t);
  return RMQ_ERR_TLS;
}

rmq_err_t rmqi_tls_new(rmqi_tls_t **out, const rmqi_tls_opts_t *o, char *err,
                       size_t err_size) {
  rmqi_tls_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return RMQ_ERR_NOMEM;
  atomic_init(&t->refs, 1);
  t->verify_host = o->verify_server && o->verify_host;
  t->ctx = SSL_CTX_new(TLS_client_method());
  int idx = BIO_get_new_index();
  t->bio =
      idx > 0 ? BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "rmq socket") : NULL;
  if (t->ctx == NULL || t->bio == NULL ||
      !BIO_meth_set_write(t->bio, bio_write) ||
      !BIO_meth_set_read(t->bio, bio_read) ||
      !BIO_meth_set_ctrl(t->bio, bio_ctrl)) {
    ERR_clear_error();
    rmqi_tls_unref(t);
    return RMQ_ERR_NOMEM;
  }
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_min_proto_version(t->ctx, o->tls13_only ? TLS1_3_VERSION
                                                      : TLS1_2_VERSION);
  /* Several records per recv: conn_read reads until EAGAIN, so what
   * OpenSSL buffers ahead is always drained (no SSL_pending stall). */
  SSL_CTX_set_read_ahead(t->ctx, 1);
  SSL_CTX_set_verify(
      t->ctx, o->verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  const char *ca = o->ca_path;
  if (ca && *ca) {
    struct stat st;
    if (stat(ca, &st) != 0) {
      char eb[96];
      rmqi_errstr(err, err_size, "CA file or folder \"%s\": %s", ca,
                  rmqi_strerror(errno, eb, sizeof(eb)));
      rmqi_tls_unref(t);
      return RMQ_ERR_TLS;
    }
    bool dir = S_ISDIR(st.st_mode);
    if (SSL_CTX_load_verify_locations(t->ctx, dir ? NULL : ca,
                                      dir ? ca : NULL) != 1)
      return fail(t, err, err_size, "CA file or folder", ca);
  } else if (o->verify_server &&
             SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
    return fail(t, err, err_size, "the system's CA store", "");
  }
  bool cert = o->cert_path && *o->cert_path, key = o->key_path && *o->key_path;
  if (cert != key) {
    rmqi_errstr(err, err_size,
                "a client certificate needs its key, and a key "
                "its certificate");
    rmqi_tls_unref(t);
    return RMQ_ERR_TLS;
  }
  if (cert) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_path) != 1)
      return fail(t, err, err_size, "client certificate", o->cert_path);
    SSL_CTX_set_default_passwd_cb(t->ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(
        t->ctx,
        o->key_password && *o->key_password ? (void *)o->key_password : NULL);
    int ok =
        SSL_CTX_use_PrivateKey_file(t->ctx, o->key_path, SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL); /* not kept */
    if (!ok)
      return fail(t, err, err_size, "client key", o->key_path);
    if (SSL_CTX_check_private_key(t->ctx) != 1)
      return fail(t, err, err_size, "client key does not match certificate",
                  o->key_path);
  }
  *out = t;
  return RMQ_OK;
}

rmqi_tls_t *rmqi_tls_ref(rmqi_tls_t *t) {
  atomic_fetch_add(&t->refs, 1);
  return t;
}

void rmqi_tls_unref(rmqi_tls_t *t) {
  if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
    return;
  SSL_CTX_free(t->ctx);
  if (t->bio)
    BIO_meth_free(t->bio);
  free(t);
}

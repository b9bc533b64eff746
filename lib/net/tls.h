/*
 * TLS over the transport interface (transport.h), on OpenSSL's
 * non-blocking API. One rmqi_tls_t (an SSL_CTX and the verification
 * settings) per client instance, shared by its connections; one SSL per
 * connection, driven by the loop thread through the transport operations.
 *
 * Verification is on by default: the chain against the CA file/folder (or
 * the system store), and the peer's host name or IP address against the
 * certificate (X509_VERIFY_PARAM_set1_host / _set1_ip_asc). SNI carries
 * host names only (RFC 6066 forbids literal addresses).
 */
#ifndef RMQI_NET_TLS_H
#define RMQI_NET_TLS_H

#include "transport.h"

typedef struct rmqi_tls rmqi_tls_t;

typedef struct rmqi_tls_opts {
  const char *ca_path;      /* PEM file or hashed folder; NULL/"": system */
  const char *cert_path;    /* client certificate chain (PEM), mutual TLS */
  const char *key_path;     /* its private key (PEM, PKCS#1 or PKCS#8) */
  const char *key_password; /* for an encrypted key; NULL/"": none */
  bool verify_server;       /* check the chain (and the name, below) */
  bool verify_host;         /* check the host name / IP of the address */
  bool tls13_only;          /* minimum version TLS 1.3 (else TLS 1.2) */
} rmqi_tls_opts_t;

/* A context from @p o (any thread). On failure returns RMQ_ERR_TLS (or
 * RMQ_ERR_NOMEM) and names the cause (file, OpenSSL's reason) in @p err.
 * The password is used while loading the key and not kept. */
rmq_err_t rmqi_tls_new(rmqi_tls_t **out, const rmqi_tls_opts_t *o, char *err,
                       size_t err_size);
/* Reference counting (any thread): each holder unrefs once. */
rmqi_tls_t *rmqi_tls_ref(rmqi_tls_t *t);
void rmqi_tls_unref(rmqi_tls_t *t);

/* A TLS client transport over the connected socket @p fd (not closed by
 * the transport) to @p host (a name or a numeric address, no brackets),
 * used for SNI and the name check. NULL when out of memory. */
rmqi_transport_t *rmqi_transport_tls(rmqi_tls_t *t, int fd, const char *host);

#endif

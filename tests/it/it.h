/*
 * Support for integration tests against the real brokers started by
 * tests/broker/harness. A test is registered once per broker target
 * (meson sets RMQ_IT_TARGET, e.g. "single-4"); it reads the harness's env
 * file at $RMQ_RUN_ROOT/<target>/env.
 *
 * When the target is not running the test is skipped (exit 77), unless
 * RMQ_REQUIRE_BROKER=1 (CI), where it fails: in CI every broker test runs.
 */
#ifndef RMQ_IT_H
#define RMQ_IT_H

#include <stddef.h>

typedef struct it_env {
  char target[64];  /* e.g. single-5 */
  char version[32]; /* full RocketMQ version, e.g. 5.3.3 */
  int major;        /* 4 or 5 */
  char namesrv[128];
  char cluster[64];
  char broker_a[128];
  char broker_b[128];
  char broker_a_slave[128]; /* profile ms: broker-a's slave (id 1) */
  char master_role[16];     /* profile ms: ASYNC_MASTER or SYNC_MASTER */
  int acting_master;        /* profile ms, 5.x: the slave acts for a dead
                               master (RMQ_ACTING_MASTER=1) */
  char run_dir[512];
  char acl_ak[64], acl_sk[64], acl_deny_topic[128]; /* profile acl */
  char tls_ca[512];  /* profile tls: the CA that issued the servers' certs */
  char tls_mode[32]; /* profile tls: enforcing or permissive */
  /* profiles tls, tlsacl: none, optional or require (mutual TLS), and the
   * client certificate and key the harness made with its CA */
  char tls_client_auth[16], tls_client_cert[512], tls_client_key[512];
  char source_root[512];
} it_env_t;

/* Loads the environment or exits (77 = skip, 1 = fail). */
void it_setup(it_env_t *env);

/* A name unique to this process and call, e.g. "it_send_4_12345_3". */
void it_unique(char *out, size_t n, const char *prefix);

/*
 * Runs a shell command with @p in (may be NULL) on stdin. Returns its exit
 * status (-1 if it could not run) and, if @p out is not NULL, its stdout in
 * a malloc'd NUL-terminated string. stderr goes to the test's stderr.
 */
int it_sh(const char *cmd, const char *in, char **out);

/* `tests/broker/harness <verb> <target> <args>` (e.g. "topic", "T -q 4"). */
/* The value of property @p key in `mqadmin consumerStatus` output, in
 * @p v (empty when absent); returns @p v. */
const char *it_status_prop(const char *out, const char *key, char *v,
                           size_t cap);
int it_harness(const it_env_t *env, const char *verb, const char *args,
               char **out);

/* `RMQ_NAMESRV=<ns> tests/interop/peer --version <major> <args>` with @p in on
 * stdin (the JSON-lines spec for `produce`). */
int it_peer(const it_env_t *env, const char *args, const char *in, char **out);

/* A self-signed P-256 certificate for CN @p cn, valid two days, made with
 * openssl: <dir>/<name>.pem and its key <dir>/<name>.key; @p ext is one
 * -addext value (e.g. "extendedKeyUsage=clientAuth") or NULL. Returns 0
 * when both files were written. */
int it_self_signed(const char *dir, const char *name, const char *cn,
                   const char *ext);

/* The first 64 KiB of the file at @p path, malloc'd and NUL-terminated;
 * NULL when it cannot be opened. */
char *it_slurp(const char *path);

#endif

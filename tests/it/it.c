#include "it.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void copy_val(char *dst, size_t n, const char *line, const char *key) {
  size_t kl = strlen(key);
  if (strncmp(line, key, kl) != 0 || line[kl] != '=')
    return;
  const char *v = line + kl + 1;
  size_t vl = strcspn(v, "\r\n");
  if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
    v++;
    vl -= 2;
  }
  snprintf(dst, n, "%.*s", (int)vl, v);
}

static void bail(const char *why) {
  const char *req = getenv("RMQ_REQUIRE_BROKER");
  if (req && strcmp(req, "1") == 0) {
    fprintf(stderr, "FAIL: %s (RMQ_REQUIRE_BROKER=1)\n", why);
    exit(1);
  }
  fprintf(stderr, "SKIP: %s\n", why);
  exit(77);
}

void it_setup(it_env_t *env) {
  memset(env, 0, sizeof(*env));
  const char *target = getenv("RMQ_IT_TARGET");
  const char *root = getenv("RMQ_RUN_ROOT");
  const char *src = getenv("RMQ_SOURCE_ROOT");
  snprintf(env->source_root, sizeof(env->source_root), "%s", src ? src : ".");
  if (target == NULL)
    bail("RMQ_IT_TARGET is not set");
  snprintf(env->target, sizeof(env->target), "%s", target);
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s/env", root ? root : "/tmp/librmq-run",
           target);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    char why[1200];
    snprintf(why, sizeof(why), "broker target %s is not running (no %s)",
             target, path);
    bail(why);
  }
  char line[1024];
  while (fgets(line, sizeof(line), f)) {
    copy_val(env->version, sizeof(env->version), line, "RMQ_VERSION");
    copy_val(env->namesrv, sizeof(env->namesrv), line, "RMQ_NAMESRV");
    copy_val(env->cluster, sizeof(env->cluster), line, "RMQ_CLUSTER");
    copy_val(env->broker_a, sizeof(env->broker_a), line, "RMQ_BROKER_A");
    copy_val(env->broker_b, sizeof(env->broker_b), line, "RMQ_BROKER_B");
    copy_val(env->broker_a_slave, sizeof(env->broker_a_slave), line,
             "RMQ_BROKER_A_SLAVE");
    copy_val(env->master_role, sizeof(env->master_role), line,
             "RMQ_MASTER_ROLE");
    if (strcmp(line, "RMQ_ACTING_MASTER=1\n") == 0)
      env->acting_master = 1;
    copy_val(env->run_dir, sizeof(env->run_dir), line, "RMQ_RUN_DIR");
    copy_val(env->acl_ak, sizeof(env->acl_ak), line, "RMQ_ACL_AK");
    copy_val(env->acl_sk, sizeof(env->acl_sk), line, "RMQ_ACL_SK");
    copy_val(env->acl_deny_topic, sizeof(env->acl_deny_topic), line,
             "RMQ_ACL_DENY_TOPIC");
    copy_val(env->tls_ca, sizeof(env->tls_ca), line, "RMQ_TLS_CA");
    copy_val(env->tls_mode, sizeof(env->tls_mode), line, "RMQ_TLS_MODE");
    copy_val(env->tls_client_auth, sizeof(env->tls_client_auth), line,
             "RMQ_TLS_CLIENT_AUTH");
    copy_val(env->tls_client_cert, sizeof(env->tls_client_cert), line,
             "RMQ_TLS_CLIENT_CERT");
    copy_val(env->tls_client_key, sizeof(env->tls_client_key), line,
             "RMQ_TLS_CLIENT_KEY");
  }
  fclose(f);
  if (env->namesrv[0] == '\0')
    bail("env file has no RMQ_NAMESRV");
  env->major = atoi(env->version);
  fprintf(stderr, "# target %s: RocketMQ %s, namesrv %s\n", env->target,
          env->version, env->namesrv);
}

void it_unique(char *out, size_t n, const char *prefix) {
  static int seq;
  const char *t = getenv("RMQ_IT_TARGET");
  snprintf(out, n, "%s_%s_%ld_%d_%d", prefix, t ? t : "x",
           (long)time(NULL) % 100000, (int)getpid(), ++seq);
  for (char *p = out; *p; p++)
    if (*p == '-')
      *p = '_';
}

int it_sh(const char *cmd, const char *in, char **out) {
  char inpath[] = "/tmp/rmq-it-in-XXXXXX";
  char outpath[] = "/tmp/rmq-it-out-XXXXXX";
  int infd = mkstemp(inpath), outfd = mkstemp(outpath);
  if (infd < 0 || outfd < 0)
    return -1;
  if (in && write(infd, in, strlen(in)) != (ssize_t)strlen(in)) {
    close(infd);
    close(outfd);
    return -1;
  }
  close(infd);
  close(outfd);
  size_t clen = strlen(cmd) + 128;
  char *full = malloc(clen);
  snprintf(full, clen, "(%s) <%s >%s", cmd, inpath, outpath);
  int st = system(full);
  free(full);
  if (out) {
    FILE *f = fopen(outpath, "rb");
    size_t cap = 4096, len = 0, r;
    char *buf = malloc(cap);
    while (f && buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
      len += r;
      if (cap - len < 2) {
        cap *= 2;
        buf = realloc(buf, cap);
      }
    }
    if (f)
      fclose(f);
    if (buf)
      buf[len] = '\0';
    *out = buf;
  }
  unlink(inpath);
  unlink(outpath);
  if (st == -1 || !WIFEXITED(st))
    return -1;
  return WEXITSTATUS(st);
}

int it_harness(const it_env_t *env, const char *verb, const char *args,
               char **out) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "'%s/tests/broker/harness' %s '%s' %s",
           env->source_root, verb, env->target, args ? args : "");
  return it_sh(cmd, NULL, out);
}

/* Whether the peer printed nothing but fatal errors (its start failed). */
static bool only_fatal(const char *o) {
  for (const char *line = o; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*s", (int)(n < 63 ? n : 63), line);
    if (n > 0 && strstr(buf, "{\"fatal\"") != buf)
      return false;
    line = end ? end + 1 : line + n;
  }
  return true;
}

int it_peer(const it_env_t *env, const char *args, const char *in, char **out) {
  char cmd[8192];
  snprintf(cmd, sizeof(cmd),
           "RMQ_NAMESRV='%s' '%s/tests/interop/peer' --version %d %s",
           env->namesrv, env->source_root, env->major, args);
  /* A Java consumer that died before printing anything but its fatal
   * error (its client's start failed: a name-server call timed out, or its
   * channel broke, under CI's load) read and committed nothing: it is
   * started again, three times at most. Anything else it printed, or any
   * other command, stands as it is. */
  bool reader = strncmp(args, "consume", 7) == 0;
  for (int attempt = 1;; attempt++) {
    char *o = NULL;
    int st = it_sh(cmd, in, &o);
    if (!reader || st != 2 || !only_fatal(o) || attempt == 3) {
      if (st != 0) { /* lines CI's summary shows if the case fails */
        size_t len = o ? strlen(o) : 0;
        fprintf(stderr, "FAIL detail: peer %.80s exited %d: %s\n", args, st,
                o ? o + (len > 800 ? len - 800 : 0) : "(no output)");
      }
      if (out)
        *out = o;
      else
        free(o);
      return st;
    }
    fprintf(stderr,
            "peer %.60s: exited 2 before any message (%.200s), attempt %d\n",
            args, o ? o : "", attempt + 1);
    free(o);
    sleep(2); /* a stalled name server (CI's load) gets a moment */
  }
}

int it_self_signed(const char *dir, const char *name, const char *cn,
                   const char *ext) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -keyout '%s/%s.key' -out '%s/%s.pem' -days 2 -subj '/CN=%s' "
           "%s%s >/dev/null 2>&1",
           dir, name, dir, name, cn, ext ? "-addext " : "", ext ? ext : "");
  return it_sh(cmd, NULL, NULL);
}

char *it_slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  char *b = calloc(1, 1 << 16);
  size_t n = b ? fread(b, 1, (1 << 16) - 1, f) : 0;
  (void)n;
  fclose(f);
  return b;
}

/* The value of property @p key in mqadmin consumerStatus output
 * ("<key padded to 40>: <value>" lines), or "" when absent. */
const char *it_status_prop(const char *out, const char *key, char *v,
                           size_t cap) {
  snprintf(v, cap, "%s", "");
  size_t n = strlen(key);
  for (const char *x = out; x && (x = strstr(x, key)) != NULL; x += n) {
    if (x > out && x[-1] != '\n')
      continue;
    const char *y = x + n;
    while (*y == ' ')
      y++;
    if (*y != ':')
      continue;
    y++;
    while (*y == ' ')
      y++;
    snprintf(v, cap, "%.*s", (int)strcspn(y, "\r\n"), y);
    break;
  }
  return v;
}

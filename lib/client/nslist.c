#include "nslist.h"
#include "../util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits and shuffles @p list into a new array (caller frees). */
static rmq_err_t parse(const char *list, uint64_t seed, char ***out,
                       size_t *n_out) {
  size_t cap = 1, n = 0;
  for (const char *p = list; *p; p++)
    cap += *p == ';';
  char **v = calloc(cap, sizeof(char *));
  if (v == NULL)
    return RMQ_ERR_NOMEM;
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ";");
    if (len && (v[n++] = strndup(p, len)) == NULL) {
      for (size_t i = 0; i + 1 < n; i++)
        free(v[i]);
      free(v);
      return RMQ_ERR_NOMEM;
    }
    p += len;
    if (*p == ';')
      p++;
  }
  /* Fisher-Yates with a small xorshift: spreading, not secrecy. */
  uint64_t x = seed | 1;
  for (size_t i = n; i > 1; i--) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t j = (size_t)(x % i);
    char *t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
  *out = v;
  *n_out = n;
  return RMQ_OK;
}

static bool check_list(const char *v, const char *what, bool skip_empty,
                       char *err, size_t n);

static void free_addrs(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

rmq_err_t rmqi_nslist_init_empty(rmqi_nslist_t *l, uint64_t seed) {
  memset(l, 0, sizeof(*l));
  l->seed = seed;
  l->text = strdup("");
  if (l->text == NULL)
    return RMQ_ERR_NOMEM;
  pthread_mutex_init(&l->lock, NULL);
  atomic_store(&l->cur, 0);
  return RMQ_OK;
}

rmq_err_t rmqi_nslist_init(rmqi_nslist_t *l, const char *list, uint64_t seed) {
  rmq_err_t rc = rmqi_nslist_init_empty(l, seed);
  bool changed;
  if (rc == RMQ_OK)
    rc = rmqi_nslist_replace(l, list, &changed);
  if (rc == RMQ_OK && l->n == 0)
    rc = RMQ_ERR_NO_NAMESRV;
  if (rc != RMQ_OK && l->text)
    rmqi_nslist_free(l);
  return rc;
}

void rmqi_nslist_free(rmqi_nslist_t *l) {
  if (l->text == NULL)
    return; /* never initialised, or freed already */
  free_addrs(l->addrs, l->n);
  free(l->text);
  pthread_mutex_destroy(&l->lock);
  memset(l, 0, sizeof(*l));
}

const char *rmqi_nslist_current(rmqi_nslist_t *l,
                                char buf[RMQI_NSLIST_ADDR_MAX]) {
  pthread_mutex_lock(&l->lock);
  const char *r = NULL;
  if (l->n) {
    snprintf(buf, RMQI_NSLIST_ADDR_MAX, "%s",
             l->addrs[atomic_load(&l->cur) % l->n]);
    r = buf;
  }
  pthread_mutex_unlock(&l->lock);
  return r;
}

size_t rmqi_nslist_count(rmqi_nslist_t *l) {
  pthread_mutex_lock(&l->lock);
  size_t n = l->n;
  pthread_mutex_unlock(&l->lock);
  return n;
}

void rmqi_nslist_format(rmqi_nslist_t *l, char *buf, size_t n) {
  size_t o = 0;
  if (n)
    buf[0] = '\0';
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < l->n && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s;", l->addrs[i]);
  pthread_mutex_unlock(&l->lock);
}

void rmqi_nslist_failed(rmqi_nslist_t *l, const char *addr) {
  pthread_mutex_lock(&l->lock);
  size_t cur = atomic_load(&l->cur);
  if (l->n && strcmp(l->addrs[cur % l->n], addr) == 0)
    atomic_store(&l->cur, cur + 1);
  pthread_mutex_unlock(&l->lock);
}

rmq_err_t rmqi_nslist_replace(rmqi_nslist_t *l, const char *list,
                              bool *changed) {
  *changed = false;
  if (!check_list(list, "name server list", true, NULL, 0))
    return RMQ_ERR_CONF_INVALID;
  pthread_mutex_lock(&l->lock);
  bool same = strcmp(l->text, list) == 0;
  pthread_mutex_unlock(&l->lock);
  if (same)
    return RMQ_OK;
  char **v;
  size_t n;
  char *text = strdup(list);
  rmq_err_t rc = text ? parse(list, l->seed, &v, &n) : RMQ_ERR_NOMEM;
  if (rc != RMQ_OK) {
    free(text);
    return rc;
  }
  pthread_mutex_lock(&l->lock);
  char **old = l->addrs;
  size_t old_n = l->n;
  free(l->text);
  l->text = text;
  l->addrs = v;
  l->n = n;
  atomic_store(&l->cur, 0);
  pthread_mutex_unlock(&l->lock);
  free_addrs(old, old_n);
  *changed = true;
  return RMQ_OK;
}

static bool check_list(const char *v, const char *what, bool skip_empty,
                       char *err, size_t n) {
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ";");
    if (len == 0 && skip_empty) {
      p++;
      continue;
    }
    const char *colon = NULL;
    for (size_t i = len; i-- > 0;)
      if (p[i] == ':') {
        colon = p + i;
        break;
      }
    bool clean = len < RMQI_NSLIST_ADDR_MAX;
    for (size_t i = 0; i < len && clean; i++)
      clean = (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f;
    if (len == 0 || !clean || colon == NULL || colon == p ||
        colon == p + len - 1) {
      rmqi_errstr(err, n, "%s entry \"%.*s\" is not host:port", what,
                  (int)RMQI_MIN(len, 80), p);
      return false;
    }
    long port = 0;
    for (const char *q = colon + 1; q < p + len; q++) {
      if (*q < '0' || *q > '9' || port > 65535) {
        port = -1;
        break;
      }
      port = port * 10 + (*q - '0');
    }
    if (port <= 0 || port > 65535) {
      rmqi_errstr(err, n, "%s entry \"%.*s\" has a bad port", what, (int)len,
                  p);
      return false;
    }
    p += len;
    if (*p == ';')
      p++;
  }
  return true;
}

bool rmqi_nslist_check(const char *v, const char *what, char *err, size_t n) {
  return check_list(v, what, false, err, n);
}

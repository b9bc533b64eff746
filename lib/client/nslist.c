#include "nslist.h"

#include <stdlib.h>
#include <string.h>

rmq_err_t rmqi_nslist_init(rmqi_nslist_t *l, const char *list,
                           uint64_t seed) {
  memset(l, 0, sizeof(*l));
  size_t cap = 1;
  for (const char *p = list; *p; p++)
    cap += *p == ';';
  l->addrs = calloc(cap, sizeof(char *));
  if (l->addrs == NULL)
    return RMQ_ERR_NOMEM;
  const char *p = list;
  while (*p) {
    size_t len = strcspn(p, ";");
    if (len) {
      l->addrs[l->n] = strndup(p, len);
      if (l->addrs[l->n] == NULL) {
        rmqi_nslist_free(l);
        return RMQ_ERR_NOMEM;
      }
      l->n++;
    }
    p += len;
    if (*p == ';')
      p++;
  }
  if (l->n == 0) {
    rmqi_nslist_free(l);
    return RMQ_ERR_NO_NAMESRV;
  }
  /* Fisher-Yates with a small xorshift: spreading, not secrecy. */
  uint64_t x = seed | 1;
  for (size_t i = l->n; i > 1; i--) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t j = (size_t)(x % i);
    char *t = l->addrs[i - 1];
    l->addrs[i - 1] = l->addrs[j];
    l->addrs[j] = t;
  }
  atomic_store(&l->cur, 0);
  return RMQ_OK;
}

void rmqi_nslist_free(rmqi_nslist_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->addrs[i]);
  free(l->addrs);
  l->addrs = NULL;
  l->n = 0;
}

const char *rmqi_nslist_current(rmqi_nslist_t *l) {
  return l->addrs[atomic_load(&l->cur) % l->n];
}

void rmqi_nslist_failed(rmqi_nslist_t *l, const char *addr) {
  size_t cur = atomic_load(&l->cur);
  if (strcmp(l->addrs[cur % l->n], addr) == 0)
    atomic_compare_exchange_strong(&l->cur, &cur, cur + 1);
}

#include "subscription.h"

#include "../codec/hash.h"

#include <stdlib.h>
#include <string.h>

void rmqi_sub_free(rmqi_sub_t *s) {
  for (size_t i = 0; i < s->n_tags; i++)
    free(s->tags[i]);
  free(s->tags);
  free(s->codes);
  free(s->topic);
  free(s->expression);
  memset(s, 0, sizeof(*s));
}

/* Java String.trim(): drop chars <= U+0020 at both ends. */
static void trim(const char **p, size_t *n) {
  while (*n && (unsigned char)(*p)[0] <= 0x20) {
    (*p)++;
    (*n)--;
  }
  while (*n && (unsigned char)(*p)[*n - 1] <= 0x20)
    (*n)--;
}

rmq_err_t rmqi_sub_build(rmqi_sub_t *s, const char *topic, const char *expr,
                         bool sql92, int64_t now_ms) {
  memset(s, 0, sizeof(*s));
  if (topic == NULL)
    return RMQ_ERR_INVALID_ARG;
  s->sql92 = sql92;
  s->version = now_ms;
  const char *e = expr ? expr : "";
  size_t el = strlen(e);
  const char *te = e;
  size_t tl = el;
  trim(&te, &tl);
  if (sql92 && tl == 0)
    return RMQ_ERR_INVALID_ARG;
  bool all = !sql92 && (tl == 0 || (tl == 1 && te[0] == '*'));
  s->topic = strdup(topic);
  s->expression = strdup(all ? "*" : e);
  if (s->topic == NULL || s->expression == NULL) {
    rmqi_sub_free(s);
    return RMQ_ERR_NOMEM;
  }
  if (sql92 || all)
    return RMQ_OK;
  size_t cap = 1;
  for (const char *q = e; (q = strstr(q, "||")) != NULL; q += 2)
    cap++;
  s->tags = calloc(cap, sizeof(char *));
  s->codes = calloc(cap, sizeof(int32_t));
  if (s->tags == NULL || s->codes == NULL) {
    rmqi_sub_free(s);
    return RMQ_ERR_NOMEM;
  }
  const char *p = e;
  for (;;) {
    const char *bar = strstr(p, "||");
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    const char *t = p;
    trim(&t, &n);
    bool dup = false;
    for (size_t i = 0; i < s->n_tags && !dup; i++)
      dup = strlen(s->tags[i]) == n && memcmp(s->tags[i], t, n) == 0;
    if (n && !dup) { /* tagsSet is a set */
      s->tags[s->n_tags] = strndup(t, n);
      if (s->tags[s->n_tags] == NULL) {
        rmqi_sub_free(s);
        return RMQ_ERR_NOMEM;
      }
      s->codes[s->n_tags] = rmqi_java_hash(t, n);
      s->n_tags++;
    }
    if (bar == NULL)
      break;
    p = bar + 2;
  }
  return RMQ_OK;
}

bool rmqi_sub_matches(const rmqi_sub_t *s, const char *tags, size_t n) {
  if (s->sql92 || s->n_tags == 0)
    return true; /* the broker evaluated SQL92; "*" takes all */
  if (tags == NULL)
    return false;
  for (size_t i = 0; i < s->n_tags; i++)
    if (strlen(s->tags[i]) == n && memcmp(s->tags[i], tags, n) == 0)
      return true;
  return false;
}

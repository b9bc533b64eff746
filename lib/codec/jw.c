#include "jw.h"

#include "jstr.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void rmqi_jw_init(rmqi_jw_t *w, rmqi_buf_t *b) {
  w->b = b;
  w->depth = 0;
  w->used = 0;
}

/* The comma and the key before a member. */
static void member(rmqi_jw_t *w, const char *key) {
  uint64_t bit = (uint64_t)1 << w->depth;
  if (w->used & bit)
    rmqi_buf_put(w->b, ",", 1);
  w->used |= bit;
  if (key) {
    rmqi_json_put_str(w->b, key, strlen(key));
    rmqi_buf_put(w->b, ":", 1);
  }
}

static void jopen(rmqi_jw_t *w, const char *key, char c) {
  if (w->depth >= 63)
    return;
  member(w, key);
  rmqi_buf_put(w->b, &c, 1);
  w->depth++;
  w->used &= ~((uint64_t)1 << w->depth);
}

static void close_(rmqi_jw_t *w, char c) {
  if (w->depth == 0)
    return;
  w->depth--;
  rmqi_buf_put(w->b, &c, 1);
}

void rmqi_jw_obj(rmqi_jw_t *w, const char *key) {
  jopen(w, key, '{');
}
void rmqi_jw_arr(rmqi_jw_t *w, const char *key) {
  jopen(w, key, '[');
}
void rmqi_jw_end_obj(rmqi_jw_t *w) {
  close_(w, '}');
}
void rmqi_jw_end_arr(rmqi_jw_t *w) {
  close_(w, ']');
}

void rmqi_jw_str(rmqi_jw_t *w, const char *key, const char *v) {
  member(w, key);
  if (v)
    rmqi_json_put_str(w->b, v, strlen(v));
  else
    rmqi_buf_put(w->b, "null", 4);
}

static void raw(rmqi_jw_t *w, const char *key, const char *s, int n) {
  member(w, key);
  if (n > 0)
    rmqi_buf_put(w->b, s, (size_t)n);
}

void rmqi_jw_i64(rmqi_jw_t *w, const char *key, int64_t v) {
  char s[24];
  raw(w, key, s, snprintf(s, sizeof(s), "%" PRId64, v));
}

void rmqi_jw_u64(rmqi_jw_t *w, const char *key, uint64_t v) {
  char s[24];
  raw(w, key, s, snprintf(s, sizeof(s), "%" PRIu64, v));
}

void rmqi_jw_dbl(rmqi_jw_t *w, const char *key, double v) {
  char s[48];
  if (!isfinite(v) || fabs(v) >= 1e18) {
    raw(w, key, "null", 4);
    return;
  }
  int n = snprintf(s, sizeof(s), "%.3f", v);
  while (n > 1 && s[n - 1] == '0') /* 2.500 -> 2.5, 3.000 -> 3 */
    n--;
  if (n > 1 && s[n - 1] == '.')
    n--;
  raw(w, key, s, n);
}

void rmqi_jw_bool(rmqi_jw_t *w, const char *key, bool v) {
  raw(w, key, v ? "true" : "false", v ? 4 : 5);
}

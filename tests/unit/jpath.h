/* Tests read JSON documents (statistics) by path: "a.b.0.c" walks object
 * members by name and array elements by index. */
#ifndef TEST_JPATH_H
#define TEST_JPATH_H

#include "codec/json.h"

#include <stdlib.h>
#include <string.h>

static inline const rmqi_jval_t *jpath(const rmqi_jval_t *v, const char *path) {
  char part[128];
  while (v && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof(part))
      return NULL;
    memcpy(part, path, n);
    part[n] = '\0';
    path += n + (path[n] == '.');
    if (v->type == RMQI_JARR) {
      char *end;
      unsigned long i = strtoul(part, &end, 10);
      v = *end == '\0' && i < v->n ? v->items[i] : NULL;
    } else if (v->type == RMQI_JOBJ) {
      v = rmqi_json_get(v, part);
    } else {
      return NULL;
    }
  }
  return v;
}

/* The integer at @p path, or -12345 when absent or not an integer. */
static inline int64_t jint(const rmqi_jval_t *v, const char *path) {
  v = jpath(v, path);
  return v && v->type == RMQI_JNUM && v->is_int ? v->i : -12345;
}

/* The number at @p path as a double, or -12345. */
static inline double jnum(const rmqi_jval_t *v, const char *path) {
  v = jpath(v, path);
  return v && v->type == RMQI_JNUM ? strtod(v->s, NULL) : -12345;
}

/* The string at @p path, or "(absent)". */
static inline const char *jstr(const rmqi_jval_t *v, const char *path) {
  v = jpath(v, path);
  return v && v->type == RMQI_JSTR ? v->s : "(absent)";
}

#endif

/*
 * A small JSON writer for documents we make (statistics): objects,
 * arrays, strings escaped as jstr.h does, integers and doubles. Commas are
 * its business; nesting is bounded at 63 levels (deeper opens are
 * ignored, which no caller of ours reaches). Out of memory shows as
 * !rmqi_buf_ok on the buffer.
 */
#ifndef RMQI_CODEC_JW_H
#define RMQI_CODEC_JW_H

#include "../util/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rmqi_jw {
  rmqi_buf_t *b;
  unsigned depth;
  uint64_t used; /* bit d: the container at depth d has a member */
} rmqi_jw_t;

void rmqi_jw_init(rmqi_jw_t *w, rmqi_buf_t *b);
/* @p key: the member's name inside an object; NULL in an array or at the
 * top. */
void rmqi_jw_obj(rmqi_jw_t *w, const char *key);
void rmqi_jw_arr(rmqi_jw_t *w, const char *key);
void rmqi_jw_end_obj(rmqi_jw_t *w);
void rmqi_jw_end_arr(rmqi_jw_t *w);
void rmqi_jw_str(rmqi_jw_t *w, const char *key, const char *v); /* NULL: null */
void rmqi_jw_i64(rmqi_jw_t *w, const char *key, int64_t v);
void rmqi_jw_u64(rmqi_jw_t *w, const char *key, uint64_t v);
/* Finite doubles with up to 3 decimals; NaN and infinities as null. */
void rmqi_jw_dbl(rmqi_jw_t *w, const char *key, double v);
void rmqi_jw_bool(rmqi_jw_t *w, const char *key, bool v);

#endif

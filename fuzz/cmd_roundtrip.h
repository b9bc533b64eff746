/*
 * Shared by the two header targets: a decoded command, moved (its strings
 * may live in its inline pool) and encoded again in the same serialization,
 * must decode to the same fields. This puts arbitrary bytes through the
 * encoders' word-at-a-time paths as well as the decoders'.
 */
#ifndef FUZZ_CMD_ROUNDTRIP_H
#define FUZZ_CMD_ROUNDTRIP_H

#include "codec/cmd.h"

#include <stdlib.h>
#include <string.h>

/* Equal as each serialization carries them: ROCKETMQ writes an empty
 * string as length 0, which reads back as null. */
static int same_str(const rmqi_str_t *a, const rmqi_str_t *b, int ser) {
  size_t an = a->p ? a->n : 0, bn = b->p ? b->n : 0;
  if (ser == RMQI_SER_ROCKETMQ)
    return an == bn && (an == 0 || memcmp(a->p, b->p, an) == 0);
  if ((a->p == NULL) != (b->p == NULL))
    return 0;
  return a->p == NULL || (a->n == b->n && memcmp(a->p, b->p, a->n) == 0);
}

/* Takes @p c (freed here) and aborts when the round trip differs. */
static void check_roundtrip(rmqi_cmd_t *c, int ser) {
  rmqi_cmd_t m, d;
  rmqi_cmd_move(&m, c);
  memset(c->pool, 0xA5, sizeof(c->pool)); /* m must not point here */
  rmqi_cmd_free(c);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (rmqi_cmd_encode(&b, &m, ser) == RMQ_OK) {
    size_t flen;
    if (rmqi_frame_check(b.data, b.len, SIZE_MAX, &flen, NULL) != RMQ_OK ||
        flen != b.len || rmqi_cmd_decode(&d, b.data, b.len, NULL) != RMQ_OK)
      abort();
    if (d.code != m.code || d.flag != m.flag || d.opaque != m.opaque ||
        d.version != m.version || d.lang != m.lang ||
        !same_str(&d.remark, &m.remark, ser))
      abort();
    /* The encoders leave out null entries (and ROCKETMQ empty keys). */
    uint32_t j = 0;
    for (uint32_t i = 0; i < m.n_ext; i++) {
      const rmqi_ext_t *x = &m.ext[i];
      if (x->key.p == NULL || x->val.p == NULL ||
          (ser == RMQI_SER_ROCKETMQ && x->key.n == 0))
        continue;
      if (j >= d.n_ext || !same_str(&d.ext[j].key, &x->key, ser) ||
          !same_str(&d.ext[j].val, &x->val, ser))
        abort();
      j++;
    }
    if (j != d.n_ext)
      abort();
    rmqi_cmd_free(&d);
  }
  rmqi_buf_free(&b);
  rmqi_cmd_free(&m);
}

#endif

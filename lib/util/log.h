/* Instance-owned logging: a callback and a level, copied from the conf. */
#ifndef RMQI_LOG_H
#define RMQI_LOG_H

#include "common.h"

typedef struct rmqi_log {
  rmq_log_cb *cb; /* NULL: stderr */
  void *opaque;
  int level;
} rmqi_log_t;

void rmqi_log(const rmqi_log_t *l, rmq_log_level_t level, const char *comp,
              const char *fmt, ...) RMQI_PRINTF(4, 5);

#define RMQI_LOG_ON(l, lvl) ((l) != NULL && (int)(lvl) <= (l)->level)

#endif

#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void rmqi_log(const rmqi_log_t *l, rmq_log_level_t level, const char *comp,
              const char *fmt, ...) {
  if (!RMQI_LOG_ON(l, level))
    return;
  /* Bounded formatting on the stack: logging never allocates. */
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (l->cb) {
    l->cb(l->opaque, level, comp, msg);
    return;
  }
  static const char *const names[] = {"", "", "", "ERROR", "WARN",
                                      "",  "INFO", "DEBUG"};
  fprintf(stderr, "librmq %s [%s] %s\n",
          (unsigned)level < 8 ? names[level] : "?", comp, msg);
}

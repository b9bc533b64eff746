#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

rmq_err_t rmqi_err(rmqi_errbuf_t *e, rmq_err_t code, size_t pos,
                   const char *fmt, ...) {
  if (e == NULL)
    return code;
  e->code = code;
  e->pos = pos;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  va_end(ap);
  return code;
}

void rmqi_errstr(char *buf, size_t n, const char *fmt, ...) {
  if (buf == NULL || n == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

const char *rmqi_strerror(int errnum, char *buf, size_t n) {
  if (n == 0)
    return "";
  /* The GNU strerror_r may return a static string instead of filling buf. */
  const char *s = strerror_r(errnum, buf, n);
  if (s != buf)
    snprintf(buf, n, "%s", s ? s : "unknown error");
  return buf;
}

void rmqi_errbuf_clear(rmqi_errbuf_t *e) {
  if (e == NULL)
    return;
  e->code = RMQ_OK;
  e->pos = 0;
  e->msg[0] = '\0';
}

RMQ_API const char *rmq_err_str(rmq_err_t err) {
  switch (err) {
#define RMQ_ERR_STR_(name, value, desc)                                        \
  case RMQ_##name:                                                             \
    return desc;
    RMQ_ERR_MAP(RMQ_ERR_STR_)
#undef RMQ_ERR_STR_
  }
  return "unknown error";
}

RMQ_API const char *rmq_err_name(rmq_err_t err) {
  switch (err) {
#define RMQ_ERR_NAME_(name, value, desc)                                       \
  case RMQ_##name:                                                             \
    return #name;
    RMQ_ERR_MAP(RMQ_ERR_NAME_)
#undef RMQ_ERR_NAME_
  }
  return "UNKNOWN";
}

RMQ_API const char *rmq_version(void) {
#define RMQI_STR2_(x) #x
#define RMQI_STR_(x) RMQI_STR2_(x)
  return RMQI_STR_(RMQ_VERSION_MAJOR) "." RMQI_STR_(
      RMQ_VERSION_MINOR) "." RMQI_STR_(RMQ_VERSION_PATCH);
}

RMQ_API int rmq_version_num(void) {
  return RMQ_VERSION_NUM;
}

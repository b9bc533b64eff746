#include "ns.h"
#include "../util/err.h"

#include <stdlib.h>
#include <string.h>

static const char RETRY[] = "%RETRY%", DLQ[] = "%DLQ%";

static bool starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

bool rmqi_topic_is_system(const char *res) {
  /* TopicValidator's SYSTEM_TOPIC_SET and its rmq_sys_ prefix; by length
   * first: every send asks */
#define SYS(s) {s, sizeof(s) - 1}
  static const struct {
    const char *s;
    size_t n;
  } sys[] = {
      SYS("TBW102"),
      SYS("SCHEDULE_TOPIC_XXXX"),
      SYS("BenchmarkTest"),
      SYS("RMQ_SYS_TRANS_HALF_TOPIC"),
      SYS("RMQ_SYS_TRACE_TOPIC"),
      SYS("RMQ_SYS_TRANS_OP_HALF_TOPIC"),
      SYS("TRANS_CHECK_MAX_TIME_TOPIC"),
      SYS("SELF_TEST_TOPIC"),
      SYS("OFFSET_MOVED_EVENT"),
      SYS("CHECKPOINT_TOPIC"),
  };
#undef SYS
  if (res == NULL || *res == '\0')
    return false;
  size_t n = strlen(res);
  for (size_t i = 0; i < RMQI_ARRAY_LEN(sys); i++)
    if (sys[i].n == n && memcmp(res, sys[i].s, n) == 0)
      return true;
  return n >= 8 && memcmp(res, "rmq_sys_", 8) == 0;
}

bool rmqi_ns_is_system(const char *res) {
  return rmqi_topic_is_system(res) ||
         (res && starts(res, "CID_RMQ_SYS_")); /* MixAll.isSysConsumerGroup */
}

/* The %RETRY% or %DLQ% prefix of @p res ("" when none). */
static const char *prefix_of(const char *res) {
  return starts(res, RETRY) ? RETRY : starts(res, DLQ) ? DLQ : "";
}

/* Whether @p bare (without the retry/DLQ prefix) starts with "ns%". */
static bool in_ns(const char *ns, const char *bare) {
  size_t k = strlen(ns);
  return strncmp(bare, ns, k) == 0 && bare[k] == '%';
}

const char *rmqi_ns_wrap(const char *ns, const char *res, char *buf, size_t n) {
  if (ns == NULL || *ns == '\0' || res == NULL || *res == '\0' ||
      rmqi_ns_is_system(res))
    return res;
  const char *pre = prefix_of(res);
  const char *bare = res + strlen(pre);
  if (in_ns(ns, bare))
    return res;
  size_t need = strlen(pre) + strlen(ns) + 1 + strlen(bare) + 1;
  if (need > n)
    return NULL;
  buf[0] = '\0';
  strcat(strcat(strcat(strcat(buf, pre), ns), "%"), bare);
  return buf;
}

const char *rmqi_ns_unwrap(const char *ns, const char *res, char *buf,
                           size_t n) {
  if (ns == NULL || *ns == '\0' || res == NULL || *res == '\0' ||
      rmqi_ns_is_system(res))
    return res;
  const char *pre = prefix_of(res);
  const char *bare = res + strlen(pre);
  if (!in_ns(ns, bare))
    return res;
  /* Java's withoutNamespace(res): after the first '%' of the bare name */
  const char *rest = strchr(bare, '%') + 1;
  size_t need = strlen(pre) + strlen(rest) + 1;
  if (need > n)
    return res;
  buf[0] = '\0';
  strcat(strcat(buf, pre), rest);
  return buf;
}

char *rmqi_ns_wrap_dup(const char *ns, const char *res) {
  char buf[RMQI_NS_NAME_MAX];
  const char *w = rmqi_ns_wrap(ns, res, buf, sizeof(buf));
  return w ? strdup(w) : NULL;
}

char *rmqi_ns_unwrap_dup(const char *ns, const char *res) {
  size_t n = strlen(res) + 1;
  char *buf = malloc(n);
  if (buf == NULL)
    return NULL;
  const char *u = rmqi_ns_unwrap(ns, res, buf, n);
  if (u != buf)
    memcpy(buf, res, n);
  return buf;
}

static bool word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* Java's INST_ENDPOINT_PATTERN ^(\w+://|)MQ_INST_\w+_\w+\..* : the
 * text before the first '.' after the scheme is MQ_INST_ then word
 * characters with an '_' neither first nor last among them. */
static bool instance_endpoint(const char *a, const char **id, size_t *id_len) {
  const char *p = a;
  while (word(*p))
    p++;
  if (p > a && strncmp(p, "://", 3) == 0)
    a = p + 3;
  if (!starts(a, "MQ_INST_"))
    return false;
  const char *s = a + 8, *e = s;
  while (word(*e))
    e++;
  if (*e != '.' || e - s < 3)
    return false;
  bool inner = false;
  for (const char *q = s + 1; q < e - 1; q++)
    inner |= *q == '_';
  *id = a;
  *id_len = (size_t)(e - a);
  return inner;
}

void rmqi_ns_resolve(const char *configured, const char *namesrv_addr,
                     char out[RMQI_NS_MAX + 1]) {
  out[0] = '\0';
  const char *id = NULL;
  size_t len = 0;
  if (configured && *configured) {
    id = configured;
    len = strlen(configured);
  } else if (namesrv_addr == NULL ||
             !instance_endpoint(namesrv_addr, &id, &len)) {
    return;
  }
  if (len <= RMQI_NS_MAX) {
    memcpy(out, id, len);
    out[len] = '\0';
  }
}

const char *rmqi_ns_endpoint_addr(const char *a) {
  if (a == NULL || strncmp(a, "http://", 7) != 0)
    return a;
  return strrchr(a, '/') + 1;
}

bool rmqi_ns_valid(const char *ns, char *err, size_t n) {
  size_t len = strlen(ns);
  if (len > RMQI_NS_MAX) {
    rmqi_errstr(err, n, "nameSpace is longer than %d characters", RMQI_NS_MAX);
    return false;
  }
  for (const char *p = ns; *p; p++)
    if (!word(*p) && *p != '-' && *p != '|') {
      rmqi_errstr(err, n,
                  "nameSpace \"%s\" may only hold letters, digits, '_', "
                  "'-' and '|'",
                  ns);
      return false;
    }
  return true;
}

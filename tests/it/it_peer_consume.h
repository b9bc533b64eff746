/* The Java peer as the consumer in integration tests: what it printed for
 * each message, parsed, and the helpers to compare it with what was sent. */
#ifndef RMQ_IT_PEER_CONSUME_H
#define RMQ_IT_PEER_CONSUME_H

#include "codec/json.h"
#include "it.h"
#include "test.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Runs the Java consumer for @p count messages; returns its output lines
 * parsed (the summary line excluded). */
typedef struct consumed {
  rmqi_json_t docs[64];
  size_t n;
  char *raw;
} consumed_t;

static void consume(const it_env_t *env, consumed_t *c, const char *topic,
                    int count, const char *extra) {
  memset(c, 0, sizeof(*c));
  char args[512], group[128];
  it_unique(group, sizeof(group), "it_g");
  snprintf(args, sizeof(args),
           "consume --mode pull --group %s --topic %s --count %d "
           "--timeout-ms 60000 --from first %s",
           group, topic, count, extra ? extra : "");
  int st = it_peer(env, args, NULL, &c->raw);
  if (st != 0)
    rmqt_fail(__FILE__, __LINE__, "peer consume exited %d", st);
  char *line = c->raw;
  while (line && *line && c->n < 64) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    rmqi_json_t d;
    if (len && rmqi_json_parse(&d, line, len, NULL) == RMQ_OK) {
      if (rmqi_json_get(d.root, "summary"))
        rmqi_json_free(&d);
      else
        c->docs[c->n++] = d;
    }
    line = nl ? nl + 1 : NULL;
  }
}

static void consumed_free(consumed_t *c) {
  for (size_t i = 0; i < c->n; i++)
    rmqi_json_free(&c->docs[i]);
  free(c->raw);
}

static const rmqi_jval_t *by_id(consumed_t *c, const char *msg_id) {
  for (size_t i = 0; i < c->n; i++) {
    const char *id = rmqi_json_str(c->docs[i].root, "msgId");
    if (id && strcmp(id, msg_id) == 0)
      return c->docs[i].root;
  }
  return NULL;
}

static void sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char d[32];
  unsigned int l;
  EVP_Digest(p, n, d, &l, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#endif

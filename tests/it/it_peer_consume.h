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

/* Consume until quiet: after the expected count the peer goes on for this
 * long without a new message, so duplicates and strays are printed too. */
#define IT_PEER_QUIET_MS 2000

/* Every message line the Java consumer printed (the summary apart). */
typedef struct consumed {
  rmqi_json_t *docs;
  size_t n, cap;
  char *raw;
} consumed_t;

/* Runs the Java consumer (a new group, from the first offset) until it has
 * @p count messages and then IT_PEER_QUIET_MS passed without another (or
 * 60 s in all); every message it printed is in @p c, so c->n may exceed
 * @p count. Fails the case when the peer fails, prints no summary or stops
 * for any reason but quiet. */
static inline void consume(const it_env_t *env, consumed_t *c,
                           const char *topic, int count, const char *extra) {
  memset(c, 0, sizeof(*c));
  char args[512], group[128];
  /* A new group from the first offset each time: a peer that failed
   * (under a sanitizer's load a Java client's name-server call timed out:
   * "invokeSync call the addr[null] timeout") is started again, and what
   * it read before counts no more. */
  int st = -1;
  for (int attempt = 1; attempt <= 3 && st != 0; attempt++) {
    if (attempt > 1) {
      fprintf(stderr, "peer consume exited %d: attempt %d\n", st, attempt);
      free(c->raw);
      c->raw = NULL;
    }
    it_unique(group, sizeof(group), "it_g");
    snprintf(args, sizeof(args),
             "consume --mode pull --group %s --topic %s --count %d "
             "--quiet-ms %d --timeout-ms 60000 --from first %s",
             group, topic, count, IT_PEER_QUIET_MS, extra ? extra : "");
    st = it_peer(env, args, NULL, &c->raw);
  }
  if (st != 0)
    rmqt_fail(__FILE__, __LINE__, "peer consume exited %d", st);
  const char *reason = NULL;
  rmqi_json_t summary = {0};
  char *line = c->raw;
  while (line && *line) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    rmqi_json_t d;
    if (len && rmqi_json_parse(&d, line, len, NULL) == RMQ_OK) {
      if (rmqi_json_get(d.root, "summary")) {
        rmqi_json_free(&summary);
        summary = d;
        reason = rmqi_json_str(d.root, "reason");
      } else {
        if (c->n == c->cap) {
          c->cap = c->cap ? 2 * c->cap : 64;
          c->docs = realloc(c->docs, c->cap * sizeof(*c->docs));
        }
        c->docs[c->n++] = d;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  if (reason == NULL || strcmp(reason, "quiet") != 0)
    rmqt_fail(__FILE__, __LINE__,
              "peer consume of %s stopped for \"%s\" with %zu of %d messages, "
              "not after a quiet period",
              topic, reason ? reason : "(no summary)", c->n, count);
  rmqi_json_free(&summary);
}

static inline void consumed_free(consumed_t *c) {
  for (size_t i = 0; i < c->n; i++)
    rmqi_json_free(&c->docs[i]);
  free(c->docs);
  free(c->raw);
}

static inline const rmqi_jval_t *by_id(consumed_t *c, const char *msg_id) {
  for (size_t i = 0; i < c->n; i++) {
    const char *id = rmqi_json_str(c->docs[i].root, "msgId");
    if (id && strcmp(id, msg_id) == 0)
      return c->docs[i].root;
  }
  return NULL;
}

/* How many of the consumed messages have the msgId @p id. */
static inline size_t consumed_count_id(const consumed_t *c, const char *id) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++) {
    const char *got = rmqi_json_str(c->docs[i].root, "msgId");
    k += got && strcmp(got, id) == 0;
  }
  return k;
}

/* The consumed messages are exactly the @p n distinct ids @p ids sent:
 * each one exactly once, no other, no duplicate. Fails the case (at the
 * caller's line) naming every missing, duplicated and unexpected id; returns
 * the number of duplicate deliveries. */
static inline size_t expect_ids_at(const consumed_t *c, const char *const *ids,
                                   size_t n, const char *file, int line) {
  size_t dups = 0, missing = 0, strays = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < i; j++)
      if (strcmp(ids[i], ids[j]) == 0)
        rmqt_fail(file, line, "sent id %s twice: the ids sent are not distinct",
                  ids[i]);
    size_t k = consumed_count_id(c, ids[i]);
    if (k == 0) {
      missing++;
      rmqt_fail(file, line, "id %s was sent but not consumed", ids[i]);
    } else if (k > 1) {
      dups += k - 1;
      rmqt_fail(file, line, "id %s consumed %zu times", ids[i], k);
    }
  }
  for (size_t i = 0; i < c->n; i++) {
    const char *got = rmqi_json_str(c->docs[i].root, "msgId");
    bool sent = false;
    for (size_t j = 0; got && j < n && !sent; j++)
      sent = strcmp(got, ids[j]) == 0;
    if (!sent) {
      strays++;
      rmqt_fail(file, line, "consumed id %s (line %zu) was not sent",
                got ? got : "(none)", i);
    }
  }
  if (missing || dups || strays || c->n != n)
    rmqt_fail(file, line,
              "consumed %zu messages for %zu sent ids: %zu missing, %zu "
              "duplicate deliveries, %zu not sent",
              c->n, n, missing, dups, strays);
  return dups;
}
#define expect_ids(c, ids, n) expect_ids_at((c), (ids), (n), __FILE__, __LINE__)

static inline void sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char d[32];
  unsigned int l;
  EVP_Digest(p, n, d, &l, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#endif

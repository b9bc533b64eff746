#include "offset_file.h"

#include "../codec/json.h"
#include "../codec/jstr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one offset file may hold at most: far above any real table. */
#define OFFSET_FILE_MAX (64u << 20)

rmq_err_t rmqi_offset_file_save(const char *path, const rmqi_mqo_t *mqs,
                                size_t n, char *err, size_t err_size) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_buf_put_str(&b, "{\"offsetTable\":{");
  for (size_t i = 0; i < n; i++) {
    if (i)
      rmqi_buf_put_u8(&b, ',');
    rmqi_buf_put_str(&b, "{\"brokerName\":");
    rmqi_json_put_str(&b, mqs[i].broker, strlen(mqs[i].broker));
    rmqi_buf_put_str(&b, ",\"queueId\":");
    rmqi_buf_put_i64(&b, mqs[i].queue_id);
    rmqi_buf_put_str(&b, ",\"topic\":");
    rmqi_json_put_str(&b, mqs[i].topic, strlen(mqs[i].topic));
    rmqi_buf_put_str(&b, "}:");
    rmqi_buf_put_i64(&b, mqs[i].offset);
  }
  rmqi_buf_put_str(&b, "}}");
  if (!rmqi_buf_ok(&b)) {
    rmqi_buf_free(&b);
    return RMQ_ERR_NOMEM;
  }
  char tmp[4096], bak[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  snprintf(bak, sizeof(bak), "%s.bak", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  size_t done = 0;
  while (ok && done < b.len) {
    ssize_t w = write(fd, b.data + done, b.len - done);
    if (w < 0 && errno == EINTR)
      continue;
    ok = w > 0;
    done += ok ? (size_t)w : 0;
  }
  ok = ok && fsync(fd) == 0;
  int werr = ok ? 0 : errno; /* before close() can change it */
  if (fd >= 0)
    close(fd);
  rmqi_buf_free(&b);
  char eb[128];
  if (!ok) {
    snprintf(err, err_size, "cannot write %s: %s", tmp,
             rmqi_strerror(werr, eb, sizeof(eb)));
    unlink(tmp);
    return RMQ_ERR_IO;
  }
  /* Keep the previous good copy, then move the new one into place. */
  if (access(path, F_OK) == 0 && rename(path, bak) != 0) {
    snprintf(err, err_size, "cannot keep %s as %s: %s", path, bak,
             rmqi_strerror(errno, eb, sizeof(eb)));
    return RMQ_ERR_IO;
  }
  if (rename(tmp, path) != 0) {
    snprintf(err, err_size, "cannot rename %s: %s", tmp,
             rmqi_strerror(errno, eb, sizeof(eb)));
    return RMQ_ERR_IO;
  }
  return RMQ_OK;
}

static rmq_err_t load_one(const char *path, rmqi_mqo_t **out, size_t *n,
                          char *err, size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return RMQ_ERR_NOT_FOUND;
  char *text = malloc(OFFSET_FILE_MAX);
  size_t len = text ? fread(text, 1, OFFSET_FILE_MAX, f) : 0;
  bool too_big = text && len == OFFSET_FILE_MAX;
  fclose(f);
  if (text == NULL)
    return RMQ_ERR_NOMEM;
  if (too_big) {
    free(text);
    snprintf(err, err_size, "%s is larger than %u bytes", path,
             OFFSET_FILE_MAX);
    return RMQ_ERR_LIMIT;
  }
  rmq_err_t rc = rmqi_offset_table_decode(text, len, out, n, err, err_size);
  free(text);
  if (rc != RMQ_OK) { /* name the file */
    char why[256];
    snprintf(why, sizeof(why), "%s", err);
    snprintf(err, err_size, "%s: %s", path, why);
  }
  return rc;
}

rmq_err_t rmqi_offset_table_decode(const char *text, size_t len,
                                   rmqi_mqo_t **out, size_t *n, char *err,
                                   size_t err_size) {
  *out = NULL;
  *n = 0;
  rmqi_json_t doc;
  rmqi_errbuf_t e;
  rmq_err_t rc = rmqi_json_parse(&doc, text, len, &e);
  if (rc != RMQ_OK) {
    snprintf(err, err_size, "%s at byte %zu", e.msg, e.pos);
    return rc;
  }
  const rmqi_jval_t *t = rmqi_json_get(doc.root, "offsetTable");
  if (t == NULL || t->type != RMQI_JOBJ) {
    rmqi_json_free(&doc);
    snprintf(err, err_size, "no offsetTable");
    return RMQ_ERR_BAD_JSON;
  }
  /* One block: the entries, then their strings. */
  size_t strings = 0;
  for (size_t i = 0; i < t->n; i++) {
    const char *tp = rmqi_json_str(t->members[i].key, "topic");
    const char *br = rmqi_json_str(t->members[i].key, "brokerName");
    strings += (tp ? strlen(tp) : 0) + (br ? strlen(br) : 0) + 2;
  }
  rmqi_mqo_t *m = malloc(t->n * sizeof(*m) + strings + 1);
  if (m == NULL) {
    rmqi_json_free(&doc);
    return RMQ_ERR_NOMEM;
  }
  char *s = (char *)(m + t->n);
  size_t k = 0;
  for (size_t i = 0; i < t->n; i++) {
    const rmqi_jval_t *key = t->members[i].key, *val = t->members[i].val;
    const char *tp = rmqi_json_str(key, "topic");
    const char *br = rmqi_json_str(key, "brokerName");
    int64_t q;
    if (key->type != RMQI_JOBJ || tp == NULL || br == NULL ||
        !rmqi_json_int(key, "queueId", &q) || val->type != RMQI_JNUM ||
        !val->is_int || q < 0 || q > INT32_MAX)
      continue; /* a malformed entry is dropped, as Java would fail it */
    m[k].topic = strcpy(s, tp);
    s += strlen(tp) + 1;
    m[k].broker = strcpy(s, br);
    s += strlen(br) + 1;
    m[k].queue_id = (int32_t)q;
    m[k].offset = val->i;
    k++;
  }
  rmqi_json_free(&doc);
  *out = m;
  *n = k;
  return RMQ_OK;
}

rmq_err_t rmqi_offset_file_load(const char *path, rmqi_mqo_t **out, size_t *n,
                                char *err, size_t err_size) {
  *out = NULL;
  *n = 0;
  rmq_err_t rc = load_one(path, out, n, err, err_size);
  if (rc == RMQ_OK)
    return rc;
  char bak[4096];
  snprintf(bak, sizeof(bak), "%s.bak", path);
  char err2[256];
  rmq_err_t rc2 = load_one(bak, out, n, err2, sizeof(err2));
  return rc2 == RMQ_OK ? RMQ_OK : rc;
}

/* ---- the in-memory table ------------------------------------------------ */

static uint32_t mqo_hash(const char *topic, const char *broker, int32_t qid) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = topic; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  h = (h ^ 0xff) * 16777619u;
  for (const char *p = broker; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return (h ^ (uint32_t)qid) * 16777619u;
}

static size_t mqo_slot(const rmqi_mqo_tab_t *t, const char *topic,
                       const char *broker, int32_t qid) {
  size_t mask = t->n_slot - 1, i = mqo_hash(topic, broker, qid) & mask;
  for (;; i = (i + 1) & mask) { /* the index is never full (load <= 1/2) */
    uint32_t s = t->slot[i];
    if (s == 0)
      return i;
    const rmqi_mqo_t *m = &t->v[s - 1];
    if (m->queue_id == qid && strcmp(m->topic, topic) == 0 &&
        strcmp(m->broker, broker) == 0)
      return i;
  }
}

rmqi_mqo_t *rmqi_mqo_tab_find(const rmqi_mqo_tab_t *t, const char *topic,
                              const char *broker, int32_t qid) {
  if (t->n_slot == 0)
    return NULL;
  uint32_t s = t->slot[mqo_slot(t, topic, broker, qid)];
  return s ? &t->v[s - 1] : NULL;
}

static bool mqo_grow(rmqi_mqo_tab_t *t) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    if (cap > UINT32_MAX / 2)
      return false;
    rmqi_mqo_t *v = realloc(t->v, cap * sizeof(*v));
    if (v == NULL)
      return false;
    t->v = v;
    t->cap = cap;
  }
  if (2 * (t->n + 1) <= t->n_slot)
    return true;
  size_t n_slot = t->n_slot ? 2 * t->n_slot : 32;
  uint32_t *slot = calloc(n_slot, sizeof(*slot));
  if (slot == NULL)
    return false;
  free(t->slot);
  t->slot = slot;
  t->n_slot = n_slot;
  for (size_t i = 0; i < t->n; i++) /* rehash */
    t->slot[mqo_slot(t, t->v[i].topic, t->v[i].broker, t->v[i].queue_id)] =
        (uint32_t)(i + 1);
  return true;
}

rmq_err_t rmqi_mqo_tab_put(rmqi_mqo_tab_t *t, const char *topic,
                           const char *broker, int32_t qid, int64_t offset) {
  rmqi_mqo_t *m = rmqi_mqo_tab_find(t, topic, broker, qid);
  if (m) {
    m->offset = offset;
    return RMQ_OK;
  }
  if (!mqo_grow(t))
    return RMQ_ERR_NOMEM;
  char *tp = strdup(topic), *bp = strdup(broker);
  if (tp == NULL || bp == NULL) {
    free(tp);
    free(bp);
    return RMQ_ERR_NOMEM;
  }
  t->v[t->n] = (rmqi_mqo_t){tp, bp, qid, offset};
  t->slot[mqo_slot(t, topic, broker, qid)] = (uint32_t)(t->n + 1);
  t->n++;
  return RMQ_OK;
}

void rmqi_mqo_tab_free(rmqi_mqo_tab_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    free((char *)t->v[i].topic);
    free((char *)t->v[i].broker);
  }
  free(t->v);
  free(t->slot);
  memset(t, 0, sizeof(*t));
}

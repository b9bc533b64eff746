/* The lite pull consumer with the official Java client on the other side
 * (tests/interop/peer): Java produces and C consumes byte-exact; a Java
 * DefaultLitePullConsumer and a C one share a group's queues as Java's
 * averagely strategy splits them; consume-from-where and SQL92 give what
 * Java gets; broadcasting keeps offsets in the local file. */
#include "codec/json.h"
#include "it.h"
#include "rmq.h"
#include "test.h"
#include "util/common.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static it_env_t env;

/* ---- JSON lines -----------------------------------------------------------
 */

typedef struct lines {
  rmqi_json_t *v;
  size_t n, cap;
} lines_t;

/* Parses every JSON line of @p text (NULL: none) into @p ls. */
static void lines_parse(lines_t *ls, const char *text) {
  memset(ls, 0, sizeof(*ls));
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    rmqi_json_t d;
    if (len && *p == '{' && rmqi_json_parse(&d, p, len, NULL) == RMQ_OK) {
      if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 64;
        ls->v = realloc(ls->v, ls->cap * sizeof(*ls->v));
      }
      ls->v[ls->n++] = d;
    }
    p = nl ? nl + 1 : NULL;
  }
}

static void lines_free(lines_t *ls) {
  for (size_t i = 0; i < ls->n; i++)
    rmqi_json_free(&ls->v[i]);
  free(ls->v);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t r = fread(s, 1, (size_t)n, f);
  s[r] = '\0';
  fclose(f);
  return s;
}

/* ---- the Java peer --------------------------------------------------------
 */

/* `peer produce` of the JSON-lines @p spec to @p topic; the result lines,
 * one per spec line, in spec order ("i"). */
static bool java_produce(const char *topic, const char *spec, lines_t *res,
                         size_t want) {
  char args[512], group[128];
  char *out = NULL;
  it_unique(group, sizeof(group), "it_jp");
  snprintf(args, sizeof(args), "produce --group %s --topic %s --spec -", group,
           topic);
  int st = it_peer(&env, args, spec, &out);
  lines_parse(res, out);
  free(out);
  if (st != 0 || res->n != want) {
    rmqt_fail(__FILE__, __LINE__, "peer produce exited %d with %zu lines", st,
              res->n);
    lines_free(res); /* the callers return at once: nothing leaks */
    memset(res, 0, sizeof(*res));
    return false;
  }
  for (size_t i = 0; i < res->n; i++) {
    int64_t k = -1;
    rmqi_json_int(res->v[i].root, "i", &k);
    const char *status = rmqi_json_str(res->v[i].root, "status");
    if (k != (int64_t)i || status == NULL || strcmp(status, "SEND_OK") != 0) {
      rmqt_fail(__FILE__, __LINE__, "produce line %zu: i=%lld status %s", i,
                (long long)k, status ? status : "(none)");
      lines_free(res);
      memset(res, 0, sizeof(*res));
      return false;
    }
  }
  return true;
}

/* @p n plain messages "m-<i>" with property i=<i> and tag TagA. */
static bool java_produce_n(const char *topic, int first, int n, lines_t *res) {
  size_t cap = (size_t)n * 96 + 1, len = 0;
  char *spec = malloc(cap);
  for (int i = first; i < first + n; i++)
    len += (size_t)snprintf(spec + len, cap - len,
                            "{\"body\":\"m-%d\",\"tags\":\"TagA\","
                            "\"props\":{\"i\":\"%d\"}}\n",
                            i, i);
  bool ok = java_produce(topic, spec, res, (size_t)n);
  free(spec);
  return ok;
}

typedef struct jlite {
  char out[1024], stop[1024];
} jlite_t;

/* Starts `peer consume-lite` in the background; its stdout goes to a file. */
static void jlite_start(jlite_t *j, const char *group, const char *topic,
                        const char *extra) {
  char args[4096];
  snprintf(j->out, sizeof(j->out), "%s/jlite-%s.out", env.run_dir, group);
  snprintf(j->stop, sizeof(j->stop), "%s/jlite-%s.stop", env.run_dir, group);
  unlink(j->stop);
  unlink(j->out);
  snprintf(args, sizeof(args),
           "consume-lite --group %s --topic %s --stop-file %s "
           "--timeout-ms 180000 %s >%s 2>%s.err &",
           group, topic, j->stop, extra ? extra : "", j->out, j->out);
  if (it_peer(&env, args, NULL, NULL) != 0)
    rmqt_fail(__FILE__, __LINE__, "cannot start peer consume-lite");
}

/* Its output so far. */
static void jlite_read(const jlite_t *j, lines_t *ls) {
  char *s = slurp(j->out);
  lines_parse(ls, s);
  free(s);
}

static bool has_summary(const lines_t *ls) {
  return ls->n && rmqi_json_get(ls->v[ls->n - 1].root, "summary") != NULL;
}

/* Stops it (stop file) and waits up to 60 s for its summary line. */
static void jlite_stop(const jlite_t *j, lines_t *ls) {
  FILE *f = fopen(j->stop, "w");
  if (f)
    fclose(f);
  for (int t = 0; t < 600; t++) {
    jlite_read(j, ls);
    if (has_summary(ls))
      break;
    lines_free(ls);
    memset(ls, 0, sizeof(*ls));
    usleep(100 * 1000);
  }
  if (!has_summary(ls))
    rmqt_fail(__FILE__, __LINE__, "peer consume-lite did not finish");
  unlink(j->stop);
}

/* The last {"assignment":[...]} line as a bit set of queue ids; -1 none. */
static int64_t jlite_assignment(const lines_t *ls) {
  for (size_t i = ls->n; i-- > 0;) {
    const rmqi_jval_t *a = rmqi_json_get(ls->v[i].root, "assignment");
    if (a == NULL || a->type != RMQI_JARR)
      continue;
    int64_t bits = 0, q;
    for (size_t k = 0; k < a->n; k++)
      if (rmqi_json_int(a->items[k], "queueId", &q) && q >= 0 && q < 62)
        bits |= (int64_t)1 << q;
    return bits;
  }
  return -1;
}

/* The msgIds of its message lines. */
static size_t jlite_ids(const lines_t *ls, const char **ids, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < ls->n && n < max; i++) {
    const char *id = rmqi_json_str(ls->v[i].root, "msgId");
    if (id && rmqi_json_get(ls->v[i].root, "assignment") == NULL)
      ids[n++] = id;
  }
  return n;
}

/* ---- the C consumer ---------------------------------------------------------
 */

static rmq_pull_consumer_t *consumer(const char *group, const char *const *kv) {
  rmq_conf_t *c = rmq_conf_new();
  char err[256] = "";
  rmq_conf_set(c, "namesrvAddr", env.namesrv, NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_conf_set(c, "consumerGroup", group, NULL, 0);
  rmq_conf_set(c, "rebalanceInterval", "1000", NULL, 0);
  for (; kv && kv[0]; kv += 2)
    if (rmq_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RMQ_OK)
      rmqt_fail(__FILE__, __LINE__, "conf %s: %s", kv[0], err);
  rmq_pull_consumer_t *pc = rmq_pull_consumer_new(NULL, c, err, sizeof(err));
  if (pc == NULL)
    rmqt_fail(__FILE__, __LINE__, "consumer: %s", err);
  rmq_conf_destroy(c);
  return pc;
}

static rmq_pull_consumer_t *subscribed(const char *group, const char *topic,
                                       const char *const *kv) {
  rmq_pull_consumer_t *pc = consumer(group, kv);
  if (pc && (rmq_pull_consumer_subscribe(pc, topic, "*") != RMQ_OK ||
             rmq_pull_consumer_start(pc) != RMQ_OK))
    rmqt_fail(__FILE__, __LINE__, "subscribe/start failed");
  return pc;
}

typedef struct got {
  rmq_msg_t **m;
  size_t n, cap;
} got_t;

/* Polls into @p g until @p want messages are there in all, or @p idle_ms
 * passed without one, or @p max_ms in all. */
static void poll_into(rmq_pull_consumer_t *pc, got_t *g, size_t want,
                      int idle_ms, int max_ms) {
  int64_t end = rmqi_now_ms() + max_ms, last = rmqi_now_ms();
  while (g->n < want && rmqi_now_ms() < end && rmqi_now_ms() - last < idle_ms) {
    if (g->cap - g->n < 64) {
      g->cap = g->cap ? 2 * g->cap : 256;
      g->m = realloc(g->m, g->cap * sizeof(*g->m));
    }
    int k = rmq_pull_consumer_poll(pc, g->m + g->n, 64, 200);
    if (k < 0)
      break;
    if (k > 0)
      last = rmqi_now_ms();
    g->n += (size_t)k;
  }
}

static void got_free(got_t *g) {
  for (size_t i = 0; i < g->n; i++)
    rmq_msg_destroy(g->m[i]);
  free(g->m);
  memset(g, 0, sizeof(*g));
}

static int64_t assignment_bits(rmq_pull_consumer_t *pc) {
  rmq_queue_list_t as = {0};
  if (rmq_pull_consumer_assignment(pc, &as) != RMQ_OK)
    return -1;
  int64_t bits = 0;
  for (size_t k = 0; k < as.n; k++)
    if (as.queues[k].queue_id >= 0 && as.queues[k].queue_id < 62)
      bits |= (int64_t)1 << as.queues[k].queue_id;
  rmq_queue_list_clear(&as);
  return bits;
}

static void make_topic(char *topic, size_t n, const char *prefix, int queues) {
  char args[300];
  it_unique(topic, n, prefix);
  snprintf(args, sizeof(args), "%s --queues %d", topic, queues);
  if (it_harness(&env, "topic", args, NULL) != 0)
    rmqt_fail(__FILE__, __LINE__, "cannot create topic %s", topic);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts @p v and tells whether it equals the sorted @p w, printing the
 * first difference. */
static bool same_set(const char **v, size_t n, const char **w, size_t m,
                     const char *what) {
  qsort(v, n, sizeof(*v), cmp_str);
  qsort(w, m, sizeof(*w), cmp_str);
  for (size_t i = 0; i < n || i < m; i++)
    if (i >= n || i >= m || strcmp(v[i], w[i]) != 0) {
      fprintf(stderr,
              "%s: C has %zu, Java %zu; first difference at %zu: "
              "%s / %s\n",
              what, n, m, i, i < n ? v[i] : "-", i < m ? w[i] : "-");
      return false;
    }
  return true;
}

/* ---- 1. exact bodies --------------------------------------------------------
 */

typedef struct want {
  uint8_t *body;
  size_t len;
  const char *tags, *keys;
  const char *props[4][2];
} want_t;

static char *hex(const uint8_t *p, size_t n) {
  static const char d[] = "0123456789abcdef";
  char *s = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  s[2 * n] = '\0';
  return s;
}

static uint8_t *noise(size_t n, uint32_t seed) {
  uint8_t *b = malloc(n);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245 + 12345;
    b[i] = (uint8_t)(seed >> 16);
  }
  return b;
}

/* Appends the spec line of @p w to @p spec (grown). */
static void spec_line(char **spec, size_t *len, const want_t *w) {
  char *h = hex(w->body, w->len);
  size_t need = strlen(h) + 1024;
  *spec = realloc(*spec, *len + need);
  char *p = *spec + *len;
  size_t k = (size_t)snprintf(p, need, "{\"bodyHex\":\"%s\"", h);
  if (w->tags)
    k += (size_t)snprintf(p + k, need - k, ",\"tags\":\"%s\"", w->tags);
  if (w->keys)
    k += (size_t)snprintf(p + k, need - k, ",\"keys\":\"%s\"", w->keys);
  k += (size_t)snprintf(p + k, need - k, ",\"props\":{");
  for (int i = 0; i < 4 && w->props[i][0]; i++)
    k += (size_t)snprintf(p + k, need - k, "%s\"%s\":\"%s\"", i ? "," : "",
                          w->props[i][0], w->props[i][1]);
  k += (size_t)snprintf(p + k, need - k, "}}\n");
  *len += k;
  free(h);
}

static bool is_system_prop(const char *k) {
  static const char *const sys[] = {"TAGS",
                                    "KEYS",
                                    "UNIQ_KEY",
                                    "WAIT",
                                    "MIN_OFFSET",
                                    "MAX_OFFSET",
                                    "CONSUME_START_TIME",
                                    "TRACE_ON",
                                    "MSG_REGION",
                                    "CLUSTER",
                                    "bname",
                                    "INNER_MULTI_DISPATCH",
                                    "INNER_MULTI_QUEUE_OFFSET",
                                    "__BORNHOST",
                                    "TIMER_OUT_MS"};
  for (size_t i = 0; i < sizeof(sys) / sizeof(*sys); i++)
    if (strcmp(k, sys[i]) == 0)
      return true;
  return false;
}

static void check_exact(const rmq_msg_t *m, const want_t *w,
                        const rmqi_jval_t *sent, const char *topic) {
  size_t len;
  const uint8_t *b = rmq_msg_body(m, &len);
  CHECK_UINT(len, w->len);
  CHECK(len == w->len && memcmp(b, w->body, len) == 0);
  CHECK_STR(rmq_msg_topic(m), topic);
  if (w->tags)
    CHECK_STR(rmq_msg_tags(m), w->tags);
  else
    CHECK(rmq_msg_tags(m) == NULL);
  if (w->keys)
    CHECK_STR(rmq_msg_keys(m), w->keys);
  size_t user = 0, want_user = 0;
  for (int i = 0; i < 4 && w->props[i][0]; i++) {
    want_user++;
    CHECK_STR(rmq_msg_property(m, w->props[i][0]), w->props[i][1]);
  }
  for (size_t i = 0; i < rmq_msg_property_count(m); i++) {
    const char *k, *v;
    rmq_msg_property_at(m, i, &k, &v);
    if (!is_system_prop(k))
      user++;
  }
  CHECK_UINT(user, want_user);
  CHECK_STR(rmq_msg_offset_id(m), rmqi_json_str(sent, "offsetMsgId"));
  CHECK_STR(rmq_msg_broker_name(m), rmqi_json_str(sent, "brokerName"));
  int64_t qid = -1, qoff = -1;
  rmqi_json_int(sent, "queueId", &qid);
  rmqi_json_int(sent, "queueOffset", &qoff);
  CHECK_INT(rmq_msg_queue_id(m), qid);
  CHECK_INT(rmq_msg_queue_offset(m), qoff);
  CHECK_INT(rmq_msg_reconsume_times(m), 0);
  /* Java compresses bodies above 4 KiB: they came deflated */
  CHECK_INT(rmq_msg_sys_flag(m) & 1, w->len > 4096 ? 1 : 0);
}

TEST(java_produced_messages_arrive_byte_exact) {
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), "it_jx", 4);
  it_unique(group, sizeof(group), "it_jx_g");
  enum { N = 8 };
  /* Java refuses bodies above maxMessageSize (4 MiB) before compressing;
   * the broker then refuses a stored record above 4 MiB, so the
   * incompressible one is 4 MiB - 8 KiB and the exact 4 MiB one is
   * compressible (it travels deflated and is inflated here). */
  size_t big = 4u << 20;
  want_t w[N] = {
      {.len = 1,
       .tags = "TagA",
       .keys = "k1 k2",
       .props = {{"color", "红色"}, {"emoji", "😀 ok"}}},
      {.len = 4097, .tags = "TagB", .props = {{"a", "1"}}},
      {.len = big, .tags = "Big"},
      {.len = big - 8192, .tags = "Noise"},
      {.len = 256,
       .tags = "标签✓",
       .keys = "ключ 鍵",
       .props = {{"名前", "値 ✓"}, {"ключ", "значение"}, {"x y", "p q"}}},
      {.len = 4097, .tags = "Bin"},
      {.len = 3, .keys = "only-key"},
      {.len = 100, .tags = "TagA", .props = {{"long", "v"}}},
  };
  w[0].body = (uint8_t *)strdup("x");
  w[1].body = malloc(4097);
  for (size_t i = 0; i < 4097; i++)
    w[1].body[i] = (uint8_t)('a' + i % 26);
  w[2].body = malloc(big);
  for (size_t i = 0; i < big; i++)
    w[2].body[i] = (uint8_t)(i % 251);
  w[3].body = noise(w[3].len, 7);
  w[4].body = malloc(256);
  for (size_t i = 0; i < 256; i++)
    w[4].body[i] = (uint8_t)i; /* NUL, 0x01, 0x02 and all the rest */
  w[5].body = noise(4097, 99);
  w[6].body = (uint8_t *)strdup("\x01\x02\x00");
  w[7].body = malloc(100);
  memset(w[7].body, 0, 100);
  char *spec = NULL;
  size_t slen = 0;
  for (int i = 0; i < N; i++)
    spec_line(&spec, &slen, &w[i]);
  lines_t sent;
  bool sent_ok = java_produce(topic, spec, &sent, N);
  free(spec);
  REQUIRE(sent_ok);

  rmq_pull_consumer_t *pc =
      subscribed(group, topic,
                 (const char *const[]){"consumeFromWhere",
                                       "CONSUME_FROM_FIRST_OFFSET", NULL});
  got_t g = {0};
  poll_into(pc, &g, N, 30000, 60000);
  poll_into(pc, &g, N + 1, 1500, 1500); /* nothing more */
  CHECK_UINT(g.n, N);
  bool seen[N] = {0};
  for (size_t k = 0; k < g.n; k++) {
    int i = -1;
    for (int s = 0; s < N && s < (int)sent.n; s++)
      if (strcmp(rmq_msg_id(g.m[k]), rmqi_json_str(sent.v[s].root, "msgId")) ==
          0)
        i = s;
    CHECK(i >= 0);
    if (i < 0)
      continue;
    CHECK(!seen[i]);
    seen[i] = true;
    check_exact(g.m[k], &w[i], sent.v[i].root, topic);
  }
  got_free(&g);
  lines_free(&sent);
  for (int i = 0; i < N; i++)
    free(w[i].body);
  rmq_pull_consumer_destroy(pc, 5000);
}

/* ---- 2. a mixed group -------------------------------------------------------
 */

/* The Java consumer's client id, as the broker lists the group: the first
 * column with an '@' (4.x numbers the rows, 5.x does not). */
static bool java_client_id(const char *group, const char *c_id, char *out,
                           size_t n) {
  char args[256], *txt = NULL;
  snprintf(args, sizeof(args), "consumerConnection -g %s", group);
  it_harness(&env, "mqadmin", args, &txt);
  bool ok = false;
  for (char *p = txt; p && *p && !ok;) {
    char *nl = strchr(p, '\n');
    if (nl)
      *nl = '\0';
    char a[256], b[256];
    int k = sscanf(p, "%255s %255s", a, b);
    const char *id = k >= 1 && strchr(a, '@')   ? a
                     : k == 2 && strchr(b, '@') ? b
                                                : NULL;
    if (id && strcmp(id, c_id) != 0) {
      snprintf(out, n, "%s", id);
      ok = true;
    }
    p = nl ? nl + 1 : NULL;
  }
  if (!ok)
    fprintf(stderr, "consumerConnection said: %s\n", txt ? txt : "");
  free(txt);
  return ok;
}

/* Java AllocateMessageQueueAveragely for consumer @p index of @p n over
 * @p queues queues (one broker), as a bit set. */
static int64_t averagely(int queues, int index, int n) {
  int mod = queues % n;
  int size =
      queues <= n ? 1 : (mod > 0 && index < mod ? queues / n + 1 : queues / n);
  int start = (mod > 0 && index < mod) ? index * size : index * size + mod;
  int64_t bits = 0;
  for (int i = 0; i < size && start + i < queues; i++)
    bits |= (int64_t)1 << (start + i);
  return bits;
}

/* @p instance: the C consumer's instanceName, which decides whether its
 * client id sorts before or after the Java one (ip@peer-<pid>...). */
static void mixed_group(int queues, int msgs, const char *instance) {
  char topic[128], group[128];
  make_topic(topic, sizeof(topic), "it_jmix", queues);
  it_unique(group, sizeof(group), "it_jmix_g");
  rmq_pull_consumer_t *pc = subscribed(
      group, topic,
      (const char *const[]){"consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET",
                            "rebalanceInterval", "500", "instanceName",
                            instance, NULL});
  jlite_t j;
  jlite_start(&j, group, topic, "--from first");
  int64_t all = ((int64_t)1 << queues) - 1, cb = -1, jb = -1;
  lines_t ls = {0};
  got_t g = {0};
  for (int t = 0; t < 240; t++) { /* both settled on a disjoint cover */
    poll_into(pc, &g, SIZE_MAX, 250, 250);
    lines_free(&ls);
    jlite_read(&j, &ls);
    cb = assignment_bits(pc);
    jb = jlite_assignment(&ls);
    if (cb > 0 && jb > 0 && (cb & jb) == 0 && (cb | jb) == all)
      break;
  }
  CHECK(cb > 0 && jb > 0);
  CHECK_INT(cb & jb, 0);
  CHECK_INT(cb | jb, all);
  const char *cid = rmq_client_id(rmq_pull_consumer_client(pc));
  char jid[256] = "";
  CHECK(java_client_id(group, cid, jid, sizeof(jid)));
  int c_index = strcmp(cid, jid) < 0 ? 0 : 1;
  CHECK_INT(c_index, strcmp(instance, "peer-") < 0 ? 0 : 1);
  CHECK_INT(cb, averagely(queues, c_index, 2));
  CHECK_INT(jb, averagely(queues, 1 - c_index, 2));
  fprintf(stderr, "client ids: C %s, Java %s; C has %#llx, Java %#llx\n", cid,
          jid, (unsigned long long)cb, (unsigned long long)jb);

  /* every message once, across the two */
  lines_t sent;
  REQUIRE(java_produce_n(topic, 0, msgs, &sent));
  size_t jn = 0;
  const char **jids = calloc((size_t)msgs * 2 + 1, sizeof(*jids));
  for (int t = 0; t < 120; t++) {
    poll_into(pc, &g, SIZE_MAX, 250, 250);
    lines_free(&ls);
    jlite_read(&j, &ls);
    jn = jlite_ids(&ls, jids, (size_t)msgs * 2);
    if (g.n + jn >= (size_t)msgs)
      break;
  }
  poll_into(pc, &g, SIZE_MAX, 1000, 1000);
  lines_free(&ls);
  jlite_stop(&j, &ls);
  jn = jlite_ids(&ls, jids, (size_t)msgs * 2);
  /* Java left: its queues come to C, from the offsets Java committed */
  poll_into(pc, &g, SIZE_MAX, 4000, 8000);
  CHECK_INT(assignment_bits(pc), all);
  const char **both = calloc(g.n + jn + 1, sizeof(*both));
  const char **want = calloc((size_t)msgs + 1, sizeof(*want));
  for (size_t i = 0; i < g.n; i++)
    both[i] = rmq_msg_id(g.m[i]);
  memcpy(both + g.n, jids, jn * sizeof(*jids));
  for (size_t i = 0; i < sent.n; i++)
    want[i] = rmqi_json_str(sent.v[i].root, "msgId");
  CHECK(same_set(both, g.n + jn, want, sent.n, "C+Java vs produced"));
  /* no message of a queue the other consumer had */
  for (size_t i = 0; i < g.n; i++) {
    int q = rmq_msg_queue_id(g.m[i]);
    if (!(cb >> q & 1))
      fprintf(stderr, "C got a message of queue %d (Java's before it left)\n",
              q);
  }
  free(both);
  free(want);
  free(jids);
  lines_free(&ls);
  lines_free(&sent);
  got_free(&g);
  rmq_pull_consumer_destroy(pc, 5000);
}

TEST(java_and_c_split_eight_queues_averagely) {
  mixed_group(8, 40, "zz-after-java");
}

TEST(java_and_c_split_three_queues_averagely) {
  mixed_group(3, 21, "aa-before-java");
}

/* ---- 3. consume from where, 4. SQL92 ------------------------------------- */

/* A C consumer and a Java consume-lite, each in a fresh group, read
 * @p topic with the same settings; both sets of msgIds go to @p cset /
 * @p jset (caller frees the lines). */
typedef struct both {
  got_t g;
  lines_t jl;
  const char **c, **j;
  size_t nc, nj;
} both_t;

static void both_read(both_t *b, const char *topic, const char *from,
                      const char *ts_conf, int64_t ts_ms, const char *sql,
                      int idle_ms) {
  char group[128], args[1024];
  memset(b, 0, sizeof(*b));
  it_unique(group, sizeof(group), "it_jfrom_c");
  rmq_pull_consumer_t *pc =
      consumer(group, (const char *const[]){"consumeFromWhere", from,
                                            ts_conf ? "consumeTimestamp" : NULL,
                                            ts_conf, NULL});
  if (sql)
    CHECK_ERR(rmq_pull_consumer_subscribe_sql(pc, topic, sql), RMQ_OK);
  else
    CHECK_ERR(rmq_pull_consumer_subscribe(pc, topic, "*"), RMQ_OK);
  CHECK_ERR(rmq_pull_consumer_start(pc), RMQ_OK);
  poll_into(pc, &b->g, SIZE_MAX, idle_ms, 60000);
  rmq_pull_consumer_destroy(pc, 5000);

  it_unique(group, sizeof(group), "it_jfrom_j");
  char jfrom[64];
  if (strcmp(from, "CONSUME_FROM_FIRST_OFFSET") == 0)
    snprintf(jfrom, sizeof(jfrom), "first");
  else if (strcmp(from, "CONSUME_FROM_LAST_OFFSET") == 0)
    snprintf(jfrom, sizeof(jfrom), "last");
  else
    snprintf(jfrom, sizeof(jfrom), "timestamp:%lld", (long long)ts_ms);
  snprintf(args, sizeof(args),
           "consume-lite --group %s --topic %s --from %s --idle-ms %d "
           "--timeout-ms 90000 %s%s%s",
           group, topic, jfrom, idle_ms + 4000, sql ? "--sql \"" : "",
           sql ? sql : "", sql ? "\"" : "");
  char *out = NULL;
  int st = it_peer(&env, args, NULL, &out);
  CHECK_INT(st, 0);
  lines_parse(&b->jl, out);
  free(out);
  b->j = calloc(b->jl.n + 1, sizeof(*b->j));
  b->nj = jlite_ids(&b->jl, b->j, b->jl.n);
  b->c = calloc(b->g.n + 1, sizeof(*b->c));
  for (size_t i = 0; i < b->g.n; i++)
    b->c[b->nc++] = rmq_msg_id(b->g.m[i]);
}

static void both_free(both_t *b) {
  free(b->c);
  free(b->j);
  lines_free(&b->jl);
  got_free(&b->g);
}

TEST(consume_from_where_matches_java) {
  char topic[128], cts[32];
  make_topic(topic, sizeof(topic), "it_jfrom", 2);
  lines_t s1, s2;
  REQUIRE(java_produce_n(topic, 0, 10, &s1));
  /* a whole second between the halves */
  time_t t = time(NULL) + 2;
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(cts, sizeof(cts), "%Y%m%d%H%M%S", &tm);
  while (time(NULL) < t + 1)
    usleep(100 * 1000);
  REQUIRE(java_produce_n(topic, 10, 10, &s2));
  static const char *const froms[] = {"CONSUME_FROM_FIRST_OFFSET",
                                      "CONSUME_FROM_LAST_OFFSET",
                                      "CONSUME_FROM_TIMESTAMP"};
  for (int f = 0; f < 3; f++) {
    both_t b;
    both_read(&b, topic, froms[f], f == 2 ? cts : NULL, (int64_t)t * 1000, NULL,
              4000);
    fprintf(stderr, "%s: C %zu, Java %zu messages\n", froms[f], b.nc, b.nj);
    CHECK(same_set(b.c, b.nc, b.j, b.nj, froms[f]));
    if (f == 0)
      CHECK_UINT(b.nc, 20);
    both_free(&b);
  }
  lines_free(&s1);
  lines_free(&s2);
}

TEST(sql92_filter_matches_java_and_the_expression) {
  char topic[128];
  make_topic(topic, sizeof(topic), "it_jsql", 2);
  size_t cap = 40 * 128, len = 0;
  char *spec = malloc(cap);
  for (int i = 0; i < 40; i++)
    len += (size_t)snprintf(spec + len, cap - len,
                            "{\"body\":\"s-%d\",\"tags\":\"T%d\",\"props\":"
                            "{\"a\":\"%d\",\"color\":\"%s\"}}\n",
                            i, i % 2, i % 10, i % 4 < 2 ? "red" : "blue");
  lines_t sent;
  bool sent_ok = java_produce(topic, spec, &sent, 40);
  free(spec);
  REQUIRE(sent_ok);
  const char *want[40];
  size_t nw = 0;
  for (int i = 0; i < 40; i++)
    if (i % 10 >= 3 && i % 10 <= 6 && i % 4 < 2)
      want[nw++] = rmqi_json_str(sent.v[i].root, "msgId");
  both_t b;
  both_read(&b, topic, "CONSUME_FROM_FIRST_OFFSET", NULL, 0,
            "a BETWEEN 3 AND 6 AND color = 'red'", 5000);
  CHECK(nw > 0);
  CHECK(same_set(b.c, b.nc, want, nw, "C vs the expression"));
  CHECK(same_set(b.j, b.nj, want, nw, "Java vs the expression"));
  both_free(&b);
  lines_free(&sent);
}

/* ---- 5. broadcasting --------------------------------------------------------
 */

TEST(broadcasting_consumers_each_get_everything_and_resume_from_the_file) {
  char topic[128], group[128], dir[1024], path[2048];
  make_topic(topic, sizeof(topic), "it_jbc", 4);
  it_unique(group, sizeof(group), "it_jbc_g");
  snprintf(dir, sizeof(dir), "%s/offsets-%s", env.run_dir, group);
  mkdir(dir, 0700);
  const char *kv[2][9] = {
      {"messageModel", "BROADCASTING", "localOffsetStoreDir", dir,
       "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", "instanceName", "bc-a",
       NULL},
      {"messageModel", "BROADCASTING", "localOffsetStoreDir", dir,
       "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", "instanceName", "bc-b",
       NULL}};
  lines_t sent;
  REQUIRE(java_produce_n(topic, 0, 20, &sent));
  rmq_pull_consumer_t *pc[2];
  got_t g[2] = {{0}, {0}};
  char cid[2][256];
  for (int i = 0; i < 2; i++) {
    pc[i] = subscribed(group, topic, kv[i]);
    snprintf(cid[i], sizeof(cid[i]), "%s",
             rmq_client_id(rmq_pull_consumer_client(pc[i])));
  }
  for (int i = 0; i < 2; i++) {
    poll_into(pc[i], &g[i], 20, 20000, 30000);
    poll_into(pc[i], &g[i], 21, 1500, 1500);
    CHECK_UINT(g[i].n, 20);
    CHECK_INT(assignment_bits(pc[i]), 15);
    const char *ids[32], *want[32];
    for (size_t k = 0; k < g[i].n && k < 32; k++)
      ids[k] = rmq_msg_id(g[i].m[k]);
    for (size_t k = 0; k < 20; k++)
      want[k] = rmqi_json_str(sent.v[k].root, "msgId");
    CHECK(same_set(ids, RMQI_MIN(g[i].n, 32), want, 20, "broadcast"));
    got_free(&g[i]);
  }
  CHECK(strcmp(cid[0], cid[1]) != 0);
  rmq_pull_consumer_destroy(pc[0], 5000);
  rmq_pull_consumer_destroy(pc[1], 5000);
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), "%s/%s/%s/offsets.json", dir, cid[i], group);
    char *txt = slurp(path);
    CHECK(txt != NULL);
    rmqi_json_t d;
    CHECK(txt && rmqi_json_parse(&d, txt, strlen(txt), NULL) == RMQ_OK);
    if (txt && d.root) {
      /* {"offsetTable":{{"brokerName":..,"queueId":..,"topic":..}:N,..}} */
      const rmqi_jval_t *tab = rmqi_json_get(d.root, "offsetTable");
      CHECK(tab && tab->type == RMQI_JOBJ && tab->n == 4);
      int64_t sum = 0;
      for (size_t k = 0; tab && k < tab->n; k++)
        if (tab->members[k].val->is_int)
          sum += tab->members[k].val->i;
      CHECK_INT(sum, 20);
      rmqi_json_free(&d);
    }
    free(txt);
  }
  /* restarted, consumer a goes on after the 20 */
  lines_t more;
  REQUIRE(java_produce_n(topic, 20, 5, &more));
  pc[0] = subscribed(group, topic, kv[0]);
  poll_into(pc[0], &g[0], 5, 20000, 30000);
  poll_into(pc[0], &g[0], 6, 2000, 2000);
  CHECK_UINT(g[0].n, 5);
  for (size_t k = 0; k < g[0].n; k++) {
    const char *iv = rmq_msg_property(g[0].m[k], "i");
    CHECK(iv != NULL && atoi(iv) >= 20);
  }
  got_free(&g[0]);
  rmq_pull_consumer_destroy(pc[0], 5000);
  lines_free(&more);
  lines_free(&sent);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {
      TCASE(java_produced_messages_arrive_byte_exact),
      TCASE(java_and_c_split_eight_queues_averagely),
      TCASE(java_and_c_split_three_queues_averagely),
      TCASE(consume_from_where_matches_java),
      TCASE(sql92_filter_matches_java_and_the_expression),
      TCASE(
          broadcasting_consumers_each_get_everything_and_resume_from_the_file),
  };
  return RUN_TESTS(cases);
}

/*
 * Golden vectors from the Java library (tests/vectors/FORMAT.md) for the
 * remoting codec: every cmd_* frame decodes to the fields in its .txt and
 * re-encodes to the same bytes; route_* and cluster_* bodies decode to
 * their .txt; heartbeat_* bodies built from the .txt encode to JSON that is
 * structurally the one Java wrote (arrays compared as sets).
 * Each version directory present must hold cases of every kind.
 */
#include "codec/body.h"
#include "codec/cmd.h"
#include "codec/json.h"
#include "codec/route.h"
#include "test.h"
#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cur; /* "version/case", for failure messages */

#define VFAIL(...)                                                             \
  do {                                                                         \
    fprintf(stderr, "  [%s] ", cur);                                           \
    rmqt_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
  } while (0)

static bool starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

/* ---- cmd ---------------------------------------------------------------- */

static void check_cmd_fields(const rmqt_vec *v, const rmqi_cmd_t *c) {
  const char *ser = rmqt_vec_get(v, "serialize");
  if (ser == NULL || strcmp(ser, c->ser ? "ROCKETMQ" : "JSON") != 0)
    VFAIL("serialize %s, decoded %d", ser ? ser : "(none)", c->ser);
  if (c->code != rmqt_vec_int(v, "code", -99999))
    VFAIL("code %d", c->code);
  const char *lang = rmqt_vec_get(v, "language");
  const char *got = rmqi_lang_name(c->lang);
  if (lang == NULL || got == NULL || strcmp(lang, got) != 0)
    VFAIL("language %s, decoded %s", lang, got ? got : "?");
  if (c->version != rmqt_vec_int(v, "version", -99999) ||
      c->opaque != rmqt_vec_int(v, "opaque", -99999) ||
      c->flag != rmqt_vec_int(v, "flag", -99999))
    VFAIL("version/opaque/flag %d/%d/%d", c->version, c->opaque, c->flag);
  const rmqt_kv *rm = rmqt_vec_find(v, "remark");
  if ((rm == NULL) != (c->remark.p == NULL) ||
      (rm && (rm->val_len != c->remark.n ||
              memcmp(rm->val, c->remark.p, c->remark.n) != 0)))
    VFAIL("remark differs");
  size_t n_ext = 0;
  for (size_t i = 0; i < v->n_kv; i++) {
    if (!starts(v->kv[i].key, "ext."))
      continue;
    n_ext++;
    const rmqi_str_t *x = rmqi_cmd_ext_get(c, v->kv[i].key + 4);
    if (x == NULL || x->n != v->kv[i].val_len ||
        memcmp(x->p, v->kv[i].val, x->n) != 0)
      VFAIL("ext %s differs", v->kv[i].key + 4);
  }
  size_t n_dec = 0;
  for (uint32_t i = 0; i < c->n_ext; i++)
    n_dec += c->ext[i].val.p != NULL;
  if (n_dec != n_ext)
    VFAIL("%zu ext fields decoded, %zu expected", n_dec, n_ext);
  size_t blen = 0;
  uint8_t *body = rmqt_vec_hex(v, "body.hex", &blen);
  if ((body == NULL) != (c->body == NULL) ||
      (body && (blen != c->body_len || memcmp(body, c->body, blen) != 0)))
    VFAIL("body differs");
  free(body);
}

/* Java writes "extFields":{} for a header object without fields; we write
 * nothing (both decode alike). Returns the frame without it, re-lengthed. */
static size_t strip_empty_ext(uint8_t *f, size_t n) {
  static const char pat[] = ",\"extFields\":{}";
  size_t pl = sizeof(pat) - 1, hlen = rmqi_load_be32(f + 4) & 0xFFFFFF;
  for (size_t i = 8; i + pl <= 8 + hlen; i++) {
    if (memcmp(f + i, pat, pl) != 0)
      continue;
    memmove(f + i, f + i + pl, n - i - pl);
    rmqi_store_be32(f, (uint32_t)(n - pl - 4));
    rmqi_store_be32(f + 4, (uint32_t)(hlen - pl));
    return n - pl;
  }
  return n;
}

static void run_cmd(const rmqt_vec *v) {
  rmqi_cmd_t c;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  size_t flen;
  if (rmqi_frame_check(v->bin, v->bin_len, RMQI_DEFAULT_MAX_FRAME, &flen, &e) !=
          RMQ_OK ||
      flen != v->bin_len) {
    VFAIL("frame check: %s (frame %zu of %zu bytes)", e.msg, flen, v->bin_len);
    return;
  }
  if (rmqi_cmd_decode(&c, v->bin, v->bin_len, &e) != RMQ_OK) {
    VFAIL("decode: %s at %zu", e.msg, e.pos);
    return;
  }
  check_cmd_fields(v, &c);
  /* Re-encode in the same serialization: the decoder keeps the ext order
   * it read, so Java's HashMap order comes back byte for byte. */
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (rmqi_cmd_encode(&b, &c, c.ser) != RMQ_OK) {
    VFAIL("re-encode failed");
  } else {
    uint8_t *want = malloc(v->bin_len);
    memcpy(want, v->bin, v->bin_len);
    size_t wn =
        c.ser == RMQI_SER_JSON ? strip_empty_ext(want, v->bin_len) : v->bin_len;
    if (b.len != wn || memcmp(b.data, want, wn) != 0) {
      VFAIL("re-encoded frame differs");
      rmqt_hexdiff(__FILE__, __LINE__, b.data, b.len, want, wn);
    }
    free(want);
    /* And the other serialization decodes to the same fields (when the
     * 16-bit ROCKETMQ fields can carry them). */
    rmqi_buf_reset(&b);
    int other = c.ser == RMQI_SER_JSON ? RMQI_SER_ROCKETMQ : RMQI_SER_JSON;
    if (rmqi_cmd_encode(&b, &c, other) == RMQ_OK) {
      rmqi_cmd_t d;
      if (rmqi_cmd_decode(&d, b.data, b.len, &e) != RMQ_OK) {
        VFAIL("cross decode: %s", e.msg);
      } else {
        if (d.code != c.code || d.opaque != c.opaque || d.flag != c.flag ||
            d.body_len != c.body_len)
          VFAIL("cross-encoded fields differ");
        for (uint32_t i = 0; i < c.n_ext; i++) {
          const rmqi_str_t *x = rmqi_cmd_ext_get(&d, c.ext[i].key.p);
          const rmqi_str_t *y = rmqi_cmd_ext_get(&c, c.ext[i].key.p);
          if (y && y->n &&
              (x == NULL || x->n != y->n || memcmp(x->p, y->p, x->n) != 0))
            VFAIL("cross-encoded ext %s differs", c.ext[i].key.p);
        }
        rmqi_cmd_free(&d);
      }
    }
  }
  rmqi_buf_free(&b);
  rmqi_cmd_free(&c);
}

/* ---- route and cluster -------------------------------------------------- */

static void check_addrs(const rmqt_vec *v, const char *prefix,
                        const rmqi_bdata_t *b) {
  size_t pl = strlen(prefix), n = 0;
  for (size_t i = 0; i < v->n_kv; i++) {
    if (!starts(v->kv[i].key, prefix))
      continue;
    n++;
    long long id = strtoll(v->kv[i].key + pl, NULL, 10);
    const char *a = NULL;
    for (size_t k = 0; k < b->n_addrs; k++)
      if (b->addrs[k].id == id)
        a = b->addrs[k].addr;
    if (a == NULL || strcmp(a, v->kv[i].val) != 0)
      VFAIL("%s%lld: %s", prefix, id, a ? a : "(missing)");
  }
  if (n != b->n_addrs)
    VFAIL("broker %s: %zu addresses, %zu expected", b->broker, b->n_addrs, n);
}

static void run_route(const rmqt_vec *v) {
  rmqi_route_t r;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  if (rmqi_route_decode(&r, (const char *)v->bin, v->bin_len, &e) != RMQ_OK) {
    VFAIL("route decode: %s at %zu", e.msg, e.pos);
    return;
  }
  const char *oc = rmqt_vec_get(v, "orderTopicConf");
  if ((oc == NULL) != (r.order_conf == NULL) ||
      (oc && strcmp(oc, r.order_conf) != 0))
    VFAIL("orderTopicConf differs");
  if ((long long)r.n_queues != rmqt_vec_int(v, "queues", -1) ||
      (long long)r.n_brokers != rmqt_vec_int(v, "brokers", -1))
    VFAIL("%zu queues, %zu brokers", r.n_queues, r.n_brokers);
  char k[128];
  for (size_t i = 0; i < r.n_queues; i++) {
    snprintf(k, sizeof(k), "queue.%zu.brokerName", i);
    const char *name = rmqt_vec_get(v, k);
    const rmqi_qdata_t *q = NULL;
    for (size_t j = 0; name && j < r.n_queues; j++)
      if (strcmp(r.queues[j].broker, name) == 0)
        q = &r.queues[j];
    if (q == NULL) {
      VFAIL("queue %zu (%s) missing", i, name ? name : "?");
      continue;
    }
    long long f[4];
    const char *fn[4] = {"readQueueNums", "writeQueueNums", "perm",
                         "topicSysFlag"};
    for (int m = 0; m < 4; m++) {
      snprintf(k, sizeof(k), "queue.%zu.%s", i, fn[m]);
      f[m] = rmqt_vec_int(v, k, m == 3 ? 0 : -1);
    }
    if (q->read_nums != f[0] || q->write_nums != f[1] || q->perm != f[2] ||
        q->sysflag != f[3])
      VFAIL("queue %s fields differ", name);
  }
  for (size_t i = 0; i < r.n_brokers; i++) {
    snprintf(k, sizeof(k), "broker.%zu.brokerName", i);
    const char *name = rmqt_vec_get(v, k);
    const rmqi_bdata_t *b = name ? rmqi_route_broker(&r, name) : NULL;
    if (b == NULL) {
      VFAIL("broker %zu (%s) missing", i, name ? name : "?");
      continue;
    }
    snprintf(k, sizeof(k), "broker.%zu.cluster", i);
    const char *cl = rmqt_vec_get(v, k);
    if ((cl == NULL) != (b->cluster == NULL) ||
        (cl && strcmp(cl, b->cluster) != 0))
      VFAIL("broker %s cluster differs", name);
    snprintf(k, sizeof(k), "broker.%zu.addr.", i);
    check_addrs(v, k, b);
  }
  rmqi_route_free(&r);
}

static void run_cluster(const rmqt_vec *v) {
  rmqi_cluster_t c;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  if (rmqi_cluster_decode(&c, (const char *)v->bin, v->bin_len, &e) != RMQ_OK) {
    VFAIL("cluster decode: %s at %zu", e.msg, e.pos);
    return;
  }
  if ((long long)c.n_brokers != rmqt_vec_int(v, "brokers", -1))
    VFAIL("%zu brokers", c.n_brokers);
  char k[512];
  for (size_t i = 0; i < c.n_brokers; i++) {
    const rmqi_bdata_t *b = &c.brokers[i];
    snprintf(k, sizeof(k), "broker.%s.cluster", b->broker);
    const char *cl = rmqt_vec_get(v, k);
    if (cl == NULL || b->cluster == NULL || strcmp(cl, b->cluster) != 0)
      VFAIL("broker %s cluster differs", b->broker);
    snprintf(k, sizeof(k), "broker.%s.addr.", b->broker);
    check_addrs(v, k, b);
    /* clusterAddrTable lists this broker under its cluster. */
    snprintf(k, sizeof(k), "cluster.%s", b->cluster ? b->cluster : "");
    const char *names = rmqt_vec_get(v, k);
    size_t bl = strlen(b->broker);
    bool listed = false;
    for (const char *p = names; p && *p && !listed;) {
      const char *sp = strchr(p, ' ');
      size_t l = sp ? (size_t)(sp - p) : strlen(p);
      listed = l == bl && memcmp(p, b->broker, bl) == 0;
      p = sp ? sp + 1 : p + l;
    }
    if (!listed)
      VFAIL("broker %s not listed in cluster %s", b->broker, b->cluster);
  }
  rmqi_cluster_free(&c);
}

/* ---- heartbeat ---------------------------------------------------------- */

/* Structural equality; arrays compare as multisets (Java writes HashSets). */
static bool jeq(const rmqi_jval_t *a, const rmqi_jval_t *b);

static bool jeq_set(const rmqi_jval_t *a, const rmqi_jval_t *b) {
  if (a->n != b->n)
    return false;
  bool *used = calloc(b->n + 1, 1);
  bool ok = true;
  for (size_t i = 0; i < a->n && ok; i++) {
    ok = false;
    for (size_t j = 0; j < b->n && !ok; j++)
      if (!used[j] && jeq(a->items[i], b->items[j]))
        ok = used[j] = true;
  }
  free(used);
  return ok;
}

/* Members of @p a all found equal in @p b, except @p skip ones. */
static bool jsub(const rmqi_jval_t *a, const rmqi_jval_t *b,
                 const char *const *skip) {
  for (size_t i = 0; i < a->n; i++) {
    const rmqi_jval_t *k = a->members[i].key;
    if (k->type != RMQI_JSTR)
      return false;
    bool skipped = false;
    for (const char *const *s = skip; s && *s; s++)
      skipped |= strcmp(*s, k->s) == 0 && rmqi_json_get(b, k->s) == NULL;
    if (skipped)
      continue;
    const rmqi_jval_t *bv = rmqi_json_get(b, k->s);
    if (bv == NULL || !jeq(a->members[i].val, bv))
      return false;
  }
  return true;
}

static bool jeq(const rmqi_jval_t *a, const rmqi_jval_t *b) {
  if (a->type != b->type)
    return false;
  switch (a->type) {
  case RMQI_JNULL:
    return true;
  case RMQI_JBOOL:
    return a->b == b->b;
  case RMQI_JNUM:
  case RMQI_JSTR:
    return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
  case RMQI_JARR:
    return jeq_set(a, b);
  case RMQI_JOBJ:
    return a->n == b->n && jsub(a, b, NULL) && jsub(b, a, NULL);
  }
  return false;
}

/* Splits @p s on @p sep into malloc'd copies; returns the count. */
static size_t split(const char *s, const char *sep, char ***out) {
  size_t n = 0, sl = strlen(sep);
  char **v = calloc(strlen(s ? s : "") + 2, sizeof(char *));
  for (const char *p = s; p && *p;) {
    const char *q = strstr(p, sep);
    size_t l = q ? (size_t)(q - p) : strlen(p);
    v[n++] = strndup(p, l);
    p = q ? q + sl : p + l;
  }
  *out = v;
  return n;
}

static void free_split(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* producer.<i>.<f>, consumer.<i>.<f> or consumer.<i>.sub.<j>.<f>. */
enum { KP, KC, KS };
static const char *kget(const rmqt_vec *v, int kind, size_t i, size_t j,
                        const char *field) {
  char k[256];
  if (kind == KP)
    snprintf(k, sizeof(k), "producer.%zu.%s", i, field);
  else if (kind == KC)
    snprintf(k, sizeof(k), "consumer.%zu.%s", i, field);
  else
    snprintf(k, sizeof(k), "consumer.%zu.sub.%zu.%s", i, j, field);
  return rmqt_vec_get(v, k);
}

static void run_heartbeat(const rmqt_vec *v) {
  rmqi_heartbeat_t hb = {rmqt_vec_get(v, "clientID"), NULL, 0, NULL, 0};
  size_t np = (size_t)rmqt_vec_int(v, "producers", 0);
  size_t nc = (size_t)rmqt_vec_int(v, "consumers", 0);
  const char **pg = calloc(np + 1, sizeof(char *));
  rmqi_hb_consumer_t *cs = calloc(nc + 1, sizeof(*cs));
  for (size_t i = 0; i < np; i++)
    pg[i] = kget(v, KP, i, 0, "groupName");
  /* Everything allocated for subscriptions, freed at the end. */
  char **tagv[64], **codev[64];
  int32_t *codes[64];
  size_t ntag[64], ncode[64], n_alloc = 0;
  for (size_t i = 0; i < nc; i++) {
    rmqi_hb_consumer_t *c = &cs[i];
    c->group = kget(v, KC, i, 0, "groupName");
    c->consume_type = kget(v, KC, i, 0, "consumeType");
    c->message_model = kget(v, KC, i, 0, "messageModel");
    c->consume_from_where = kget(v, KC, i, 0, "consumeFromWhere");
    const char *um = kget(v, KC, i, 0, "unitMode");
    c->unit_mode = um && strcmp(um, "true") == 0;
    const char *ns = kget(v, KC, i, 0, "subs");
    c->n_subs = ns ? (size_t)strtoul(ns, NULL, 10) : 0;
    rmqi_hb_sub_t *subs = calloc(c->n_subs + 1, sizeof(*subs));
    c->subs = subs;
    for (size_t j = 0; j < c->n_subs && n_alloc < 64; j++, n_alloc++) {
      rmqi_hb_sub_t *s = &subs[j];
      s->topic = kget(v, KS, i, j, "topic");
      s->sub_string = kget(v, KS, i, j, "subString");
      s->expression_type = kget(v, KS, i, j, "expressionType");
      const char *sv = kget(v, KS, i, j, "subVersion");
      s->sub_version = sv ? strtoll(sv, NULL, 10) : 0;
      const char *cf = kget(v, KS, i, j, "classFilterMode");
      if (cf && strcmp(cf, "false") != 0)
        VFAIL("classFilterMode %s is not supported", cf);
      ntag[n_alloc] = split(kget(v, KS, i, j, "tags"), "||", &tagv[n_alloc]);
      ncode[n_alloc] = split(kget(v, KS, i, j, "codes"), ",", &codev[n_alloc]);
      codes[n_alloc] = calloc(ncode[n_alloc] + 1, sizeof(int32_t));
      for (size_t t = 0; t < ncode[n_alloc]; t++)
        codes[n_alloc][t] = (int32_t)strtol(codev[n_alloc][t], NULL, 10);
      if (ntag[n_alloc] != ncode[n_alloc])
        VFAIL("%zu tags but %zu codes", ntag[n_alloc], ncode[n_alloc]);
      s->tags = (const char *const *)tagv[n_alloc];
      s->codes = codes[n_alloc];
      s->n_tags = RMQI_MIN(ntag[n_alloc], ncode[n_alloc]);
    }
  }
  hb.producer_groups = pg;
  hb.n_producers = np;
  hb.consumers = cs;
  hb.n_consumers = nc;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_heartbeat_encode(&b, &hb);
  rmqi_json_t mine, java;
  rmqi_errbuf_t e;
  rmqi_errbuf_clear(&e);
  if (rmqi_json_parse(&mine, (const char *)b.data, b.len, &e) != RMQ_OK) {
    VFAIL("our heartbeat is not JSON: %s", e.msg);
  } else {
    if (rmqi_json_parse(&java, (const char *)v->bin, v->bin_len, &e) !=
        RMQ_OK) {
      VFAIL("Java heartbeat does not parse: %s", e.msg);
    } else {
      /* 4.x HeartbeatData has no fingerprint / withoutSub: our 5.x
       * defaults are the only extras allowed. */
      static const char *const extras[] = {"heartbeatFingerprint", "withoutSub",
                                           NULL};
      if (!jsub(java.root, mine.root, NULL) ||
          !jsub(mine.root, java.root, extras))
        VFAIL("heartbeat differs:\n    ours %.*s\n    java %.*s", (int)b.len,
              (const char *)b.data, (int)v->bin_len, (const char *)v->bin);
      rmqi_json_free(&java);
    }
    rmqi_json_free(&mine);
  }
  rmqi_buf_free(&b);
  for (size_t a = 0; a < n_alloc; a++) {
    free_split(tagv[a], ntag[a]);
    free_split(codev[a], ncode[a]);
    free(codes[a]);
  }
  for (size_t i = 0; i < nc; i++)
    free((void *)cs[i].subs);
  free(cs);
  free(pg);
}

/* ---- driver ------------------------------------------------------------- */

static const struct {
  const char *prefix;
  void (*run)(const rmqt_vec *);
  bool needs_bin;
} kinds[] = {{"cmd_", run_cmd, true},
             {"route_", run_route, true},
             {"cluster_", run_cluster, true},
             {"heartbeat_", run_heartbeat, true}};

TEST(every_version_has_every_kind_and_all_match) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers != NULL);
  size_t n_ver = 0, n_cases = 0;
  for (char **ver = vers; *ver; ver++, n_ver++) {
    for (size_t k = 0; k < RMQI_ARRAY_LEN(kinds); k++) {
      char **cases = rmqt_vec_cases(*ver, kinds[k].prefix);
      if (cases == NULL || cases[0] == NULL)
        rmqt_fail(__FILE__, __LINE__, "version %s has no %s* vectors", *ver,
                  kinds[k].prefix);
      for (char **cs = cases; cs && *cs; cs++) {
        char name[512];
        snprintf(name, sizeof(name), "%s/%s", *ver, *cs);
        cur = name;
        rmqt_vec *v = rmqt_vec_load(*ver, *cs);
        if (v == NULL || (kinds[k].needs_bin && v->bin == NULL)) {
          VFAIL("cannot load");
        } else {
          kinds[k].run(v);
          n_cases++;
        }
        rmqt_vec_free(v);
      }
      rmqt_strv_free(cases);
    }
  }
  rmqt_strv_free(vers);
  fprintf(stderr, "  %zu versions, %zu remoting cases\n", n_ver, n_cases);
}

int main(void) {
  char **vers = rmqt_vec_versions();
  bool none = vers == NULL || vers[0] == NULL;
  rmqt_strv_free(vers);
  if (none) {
    fprintf(stderr, "no vector version directories: failed\n");
    return 1;
  }
  static const rmqt_case cases[] = {
      TCASE(every_version_has_every_kind_and_all_match),
  };
  return RUN_TESTS(cases);
}

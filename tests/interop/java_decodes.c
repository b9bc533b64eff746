/*
 * Writes bytes made by the C codec for Java to read back
 * (tests/interop/test_java_decodes.sh). For each case NAME in <dir>:
 * NAME.bin (the bytes), NAME.want (the tests/vectors/FORMAT.md lines Java
 * must print for them: exactly the fields put in here) and a line
 * "<kind> NAME" in <dir>/manifest.
 *
 *   java_decodes <dir> <java version>   (4.9.x writes no trailing 0x02 in
 *                                         property strings, which changes
 *                                         what its `props` decoder says)
 */
#include "codec/batch.h"
#include "codec/body.h"
#include "codec/cmd.h"
#include "codec/msgid.h"
#include "codec/props.h"
#include "producer/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
  const char *dir;
  FILE *manifest;
  FILE *want;
  bool v4; /* Java 4.9.x on the other side */
  int failed;
} out_t;

/* FORMAT.md escaping: \\ \t \n \r, \xHH below 0x20 and for 0x7F. */
static void esc(FILE *f, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\')
      fputs("\\\\", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\r')
      fputs("\\r", f);
    else if (c < 0x20 || c == 0x7F)
      fprintf(f, "\\x%02X", c);
    else
      fputc(c, f);
  }
}

static void kv(out_t *o, const char *key, const char *val, size_t n) {
  esc(o->want, key, strlen(key));
  fputc('\t', o->want);
  esc(o->want, val, n);
  fputc('\n', o->want);
}

static void kvs(out_t *o, const char *key, const char *val) {
  kv(o, key, val, strlen(val));
}

static void kvf(out_t *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kvf(out_t *o, const char *key, const char *fmt, ...) {
  char v[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v, sizeof(v), fmt, ap);
  va_end(ap);
  kvs(o, key, v);
}

static void kvhex(out_t *o, const char *key, const uint8_t *b, size_t n) {
  fprintf(o->want, "%s\t", key);
  for (size_t i = 0; i < n; i++)
    fprintf(o->want, "%02X", b[i]);
  fputc('\n', o->want);
}

static FILE *open_in(const out_t *o, const char *name, const char *ext) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.%s", o->dir, name, ext);
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    perror(path);
  return f;
}

/* Starts case @p name: its .want file gets the lines from here on. */
static bool begin(out_t *o, const char *kind, const char *name) {
  o->want = open_in(o, name, "want");
  if (o->want == NULL)
    return false;
  fprintf(o->manifest, "%s %s\n", kind, name);
  kvs(o, "kind", kind);
  return true;
}

static void end(out_t *o, const char *name, const uint8_t *b, size_t n) {
  FILE *f = open_in(o, name, "bin");
  if (f == NULL || fwrite(b, 1, n, f) != n)
    o->failed++;
  if (f)
    fclose(f);
  fclose(o->want);
  o->want = NULL;
}

/* One property, into both the string and (as Java parses it) the lines. */
typedef struct prop {
  const char *k, *v;
} prop_t;

static void put_props(out_t *o, rmqi_buf_t *b, const prop_t *p, size_t n,
                      const char *prefix) {
  for (size_t i = 0; i < n; i++) {
    if (rmqi_props_put(b, p[i].k, strlen(p[i].k), p[i].v, strlen(p[i].v),
                       NULL) != RMQ_OK)
      o->failed++;
    if (prefix) {
      char key[256];
      snprintf(key, sizeof(key), "%sprop.%s", prefix, p[i].k);
      kvs(o, key, p[i].v);
    }
  }
}


/* ---- commands ----------------------------------------------------------- */

/* The common fields Java's decoder prints for every command. */
static void cmd_lines(out_t *o, const rmqi_cmd_t *c, int ser) {
  kvs(o, "serialize", ser == RMQI_SER_JSON ? "JSON" : "ROCKETMQ");
  kvf(o, "code", "%d", c->code);
  kvs(o, "language", rmqi_lang_name(c->lang));
  kvf(o, "version", "%d", c->version);
  kvf(o, "opaque", "%d", c->opaque);
  kvf(o, "flag", "%d", c->flag);
  if (c->remark.p)
    kv(o, "remark", c->remark.p, c->remark.n);
  for (uint32_t i = 0; i < c->n_ext; i++) {
    /* RocketMQSerializable.readStr turns a length of 0 into null: an
     * empty value does not survive the ROCKETMQ serialization (4.9 and
     * 5.x alike), while JSON keeps "". */
    if (ser == RMQI_SER_ROCKETMQ && c->ext[i].val.n == 0)
      continue;
    char key[128];
    snprintf(key, sizeof(key), "ext.%s", c->ext[i].key.p);
    kv(o, key, c->ext[i].val.p, c->ext[i].val.n);
  }
  if (c->body)
    kvhex(o, "body.hex", c->body, c->body_len);
}

static void cmd_case(out_t *o, const char *name, const rmqi_cmd_t *c,
                     int ser) {
  if (!begin(o, "cmd", name))
    return;
  cmd_lines(o, c, ser);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  if (rmqi_cmd_encode(&b, c, ser) != RMQ_OK || !rmqi_buf_ok(&b))
    o->failed++;
  end(o, name, b.data, b.len);
  rmqi_buf_free(&b);
}

static const prop_t send_props[] = {
    {"TAGS", "TagA"},
    {"KEYS", "order-1 order-2"},
    {"UNIQ_KEY", ""}, /* filled in */
    {"WAIT", "true"},
    {"城市", "北京 😀"},
    {"quote", "say \"hi\" \\ / \t {\"json\": [1]}"},
    {"ctl", "a\x1F\x7F\x03z"},
};

/* SEND_MESSAGE_V2 as the producer builds it (lib/producer/wire.c). */
static void send_v2(out_t *o, int ser, const char *name) {
  rmqi_uniq_id_t u = {.ip = {10, 0, 0, 7}, .ip_len = 4, .pid = 4242,
                      .loader_hash = 0x18B4AAC2, .month_ms = 123456789,
                      .counter = 65535};
  char uniq[57];
  rmqi_uniq_id_encode(&u, uniq);
  prop_t p[sizeof(send_props) / sizeof(send_props[0])];
  memcpy(p, send_props, sizeof(p));
  p[2].v = uniq;
  static uint8_t body[256];
  for (size_t i = 0; i < sizeof(body); i++)
    body[i] = (uint8_t)(i * 7 + 1);
  rmqi_prep_t pr = {.topic = "TopicTest", .body = body,
                    .body_len = sizeof(body), .flag = 7,
                    .born_ms = 1700000000123};
  rmqi_buf_init(&pr.props);
  put_props(o, &pr.props, p, sizeof(p) / sizeof(p[0]), NULL);
  rmqi_conf_vals_t conf = {.create_topic_key = "TBW102",
                           .default_topic_queue_nums = 4};
  rmqi_mq_t mq = {"broker-a", 3};
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 0);
  c.opaque = 123456;
  if (rmqi_send_cmd(&c, &pr, "ProducerGroupA", &mq, &conf) != RMQ_OK)
    o->failed++;
  cmd_case(o, name, &c, ser);
  rmqi_cmd_free(&c);
  rmqi_buf_free(&pr.props);
}

/* A response with a remark that needs every kind of JSON escape. */
static void response(out_t *o, int ser, const char *name) {
  rmqi_cmd_t req, c;
  rmqi_cmd_init(&req, 310);
  req.opaque = -7;
  rmqi_cmd_init_response(&c, &req, 17);
  const char *remark = "no \"topic\" here: \\ / 中文 😀 \t\n\x01 end";
  if (rmqi_cmd_set_remark(&c, remark, strlen(remark)) != RMQ_OK ||
      rmqi_cmd_ext_ref(&c, "msgId", "0A00000700002A9F0000000000001234",
                       32) != RMQ_OK ||
      rmqi_cmd_ext_int(&c, "queueId", 3) != RMQ_OK ||
      rmqi_cmd_ext_int(&c, "queueOffset", -9223372036854775807LL - 1) !=
          RMQ_OK ||
      rmqi_cmd_ext_ref(&c, "transactionId", "", 0) != RMQ_OK)
    o->failed++;
  cmd_case(o, name, &c, ser);
  rmqi_cmd_free(&c);
  rmqi_cmd_free(&req);
}

/* ---- bodies ------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Java prints tags in UTF-8 order (given so here) and codes numerically. */
static void sub_lines(out_t *o, const char *p, const rmqi_hb_sub_t *s) {
  char k[160], tl[256] = "", cl[256] = "";
  int32_t codes[16];
  for (size_t t = 0; t < s->n_tags && t < 16; t++) {
    snprintf(tl + strlen(tl), sizeof(tl) - strlen(tl), "%s%s", t ? "||" : "",
             s->tags[t]);
    codes[t] = s->codes[t];
  }
  qsort(codes, s->n_tags, sizeof(codes[0]), cmp_i32);
  for (size_t t = 0; t < s->n_tags && t < 16; t++)
    snprintf(cl + strlen(cl), sizeof(cl) - strlen(cl), "%s%d", t ? "," : "",
             (int)codes[t]);
  const char *f[] = {"topic", "subString", "expressionType",
                     "classFilterMode", "tags", "codes"};
  const char *v[] = {s->topic, s->sub_string, s->expression_type, "false",
                     tl, cl};
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    snprintf(k, sizeof(k), "%s%s", p, f[i]);
    kvs(o, k, v[i]);
  }
  snprintf(k, sizeof(k), "%ssubVersion", p);
  kvf(o, k, "%lld", (long long)s->sub_version);
}

static void consumer_lines(out_t *o, size_t i, const rmqi_hb_consumer_t *c) {
  char p[64], k[160];
  snprintf(p, sizeof(p), "consumer.%zu.", i);
  const char *f[] = {"groupName", "consumeType", "messageModel",
                     "consumeFromWhere", "unitMode"};
  const char *v[] = {c->group, c->consume_type, c->message_model,
                     c->consume_from_where, c->unit_mode ? "true" : "false"};
  for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
    snprintf(k, sizeof(k), "%s%s", p, f[j]);
    kvs(o, k, v[j]);
  }
  snprintf(k, sizeof(k), "%ssubs", p);
  kvf(o, k, "%zu", c->n_subs);
  for (size_t j = 0; j < c->n_subs; j++) {
    char q[96];
    snprintf(q, sizeof(q), "%ssub.%zu.", p, j);
    sub_lines(o, q, &c->subs[j]);
  }
}

static void heartbeat(out_t *o, rmqi_buf_t *json) {
  static const char *const tags[] = {"TagA", "标签"};
  int32_t codes[2] = {rmqi_java_hash("TagA", 4),
                      rmqi_java_hash("标签", strlen("标签"))};
  const rmqi_hb_sub_t subs_a[] = {
      {"TopicTest", "TagA || 标签", "TAG", tags, codes, 2, 1700000000000},
      {"%RETRY%ConsumerGroupA", "*", "TAG", NULL, NULL, 0, 1700000000001},
  };
  const rmqi_hb_sub_t subs_b[] = {
      {"TopicSql", "a > 1 AND b = 'x\"\\'", "SQL92", NULL, NULL, 0, -1},
  };
  const rmqi_hb_consumer_t cons[] = {
      {"ConsumerGroupA", "CONSUME_PASSIVELY", "CLUSTERING",
       "CONSUME_FROM_LAST_OFFSET", false, subs_a, 2},
      {"ConsumerGroupB", "CONSUME_ACTIVELY", "BROADCASTING",
       "CONSUME_FROM_FIRST_OFFSET", true, subs_b, 1},
  };
  static const char *const prods[] = {"ProducerGroupA",
                                      "CLIENT_INNER_PRODUCER"};
  rmqi_heartbeat_t hb = {"10.0.0.7@4242#123456789", prods, 2, cons, 2};
  rmqi_heartbeat_encode(json, &hb);
  if (!begin(o, "heartbeat", "heartbeat"))
    return;
  kvs(o, "clientID", hb.client_id);
  kvf(o, "producers", "%zu", hb.n_producers);
  for (size_t i = 0; i < hb.n_producers; i++) {
    char k[64];
    snprintf(k, sizeof(k), "producer.%zu.groupName", i);
    kvs(o, k, prods[i]);
  }
  kvf(o, "consumers", "%zu", hb.n_consumers);
  for (size_t i = 0; i < hb.n_consumers; i++)
    consumer_lines(o, i, &cons[i]);
  end(o, "heartbeat", json->data, json->len);
}

/* Batch entries and the property strings in them. */
static void batch(out_t *o) {
  static uint8_t big[200];
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(255 - i);
  const prop_t p0[] = {{"TAGS", "TagA"}, {"KEYS", "k1"},
                       {"UNIQ_KEY", "0A0000071092000000000000FFFF0001"},
                       {"WAIT", "true"}};
  const prop_t p1[] = {{"UNIQ_KEY", "0A0000071092000000000000FFFF0002"},
                       {"城市", "北京"}, {"e", "\\\t"}};
  const prop_t p2[] = {{"UNIQ_KEY", "0A0000071092000000000000FFFF0003"}};
  const struct {
    int32_t flag;
    const uint8_t *body;
    size_t n;
    const prop_t *p;
    size_t np;
  } e[] = {{0, (const uint8_t *)"A", 1, p0, 4},
           {5, big, sizeof(big), p1, 3},
           {-1, (const uint8_t *)"\0", 1, p2, 1}};
  if (!begin(o, "batch", "batch"))
    return;
  size_t n = sizeof(e) / sizeof(e[0]);
  kvf(o, "count", "%zu", n);
  rmqi_buf_t b, props;
  rmqi_buf_init(&b);
  rmqi_buf_init(&props);
  for (size_t i = 0; i < n; i++) {
    char pre[32], k[64];
    snprintf(pre, sizeof(pre), "msg.%zu.", i);
    rmqi_buf_reset(&props);
    put_props(o, &props, e[i].p, e[i].np, pre);
    rmqi_batch_put(&b, e[i].flag, e[i].body, e[i].n,
                   (const char *)props.data, props.len);
    snprintf(k, sizeof(k), "%sflag", pre);
    kvf(o, k, "%d", (int)e[i].flag);
    snprintf(k, sizeof(k), "%sbody.hex", pre);
    kvhex(o, k, e[i].body, e[i].n);
    snprintf(k, sizeof(k), "%sprops.hex", pre);
    kvhex(o, k, props.data, props.len);
  }
  end(o, "batch", b.data, b.len);
  rmqi_buf_free(&b);
  rmqi_buf_free(&props);
}

/* A property string as we write it (a trailing 0x02, as 5.x does) and as
 * 4.9 writes it (none): each version says `encoded` only for its own. */
static void props(out_t *o, bool trailing, const char *name) {
  const prop_t p[] = {{"TAGS", "TagA"}, {"UNIQ_KEY", "0A00000710920000"},
                      {"城市", "北京 😀"}, {"k", "v=1;\\\"x\""},
                      {"ctl", "\x1F\x7F"}};
  if (!begin(o, "props", name))
    return;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  put_props(o, &b, p, sizeof(p) / sizeof(p[0]), "");
  if (!trailing)
    b.len--; /* the last 0x02 */
  if (trailing != o->v4) {
    kvs(o, "encoded", "true");
    kvs(o, "order", "TAGS,UNIQ_KEY,城市,k,ctl");
  }
  end(o, name, b.data, b.len);
  rmqi_buf_free(&b);
}

static int write_cases(out_t *o) {
  send_v2(o, RMQI_SER_JSON, "send_v2_json");
  send_v2(o, RMQI_SER_ROCKETMQ, "send_v2_rocketmq");
  response(o, RMQI_SER_JSON, "response_json");
  response(o, RMQI_SER_ROCKETMQ, "response_rocketmq");
  rmqi_buf_t hb;
  rmqi_buf_init(&hb);
  heartbeat(o, &hb);
  /* The heartbeat again, as the body of a HEART_BEAT request. */
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 34);
  c.opaque = 2147483647;
  c.body = hb.data;
  c.body_len = hb.len;
  cmd_case(o, "heartbeat_cmd_json", &c, RMQI_SER_JSON);
  cmd_case(o, "heartbeat_cmd_rocketmq", &c, RMQI_SER_ROCKETMQ);
  rmqi_cmd_free(&c);
  rmqi_buf_free(&hb);
  batch(o);
  props(o, true, "props_trailing_sep");
  props(o, false, "props_no_trailing_sep");
  return 10;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: java_decodes <dir> <java version>\n");
    return 2;
  }
  out_t o = {.dir = argv[1], .v4 = strncmp(argv[2], "4.", 2) == 0};
  char path[1024];
  snprintf(path, sizeof(path), "%s/manifest", o.dir);
  o.manifest = fopen(path, "w");
  if (o.manifest == NULL) {
    perror(path);
    return 1;
  }
  int n = write_cases(&o);
  fclose(o.manifest);
  fprintf(stderr, "java_decodes: %d cases in %s\n", n, o.dir);
  return o.failed ? 1 : 0;
}

/*
 * Codec microbenchmark (not a test): nanoseconds per operation for
 *   1. encoding a SEND_MESSAGE_V2 request frame (256 B body, 5 properties)
 *      into a reused buffer, property string included;
 *   2. decoding a send response frame as a 5.4.0 broker sends it (JSON
 *      header, the bytes of the cmd_send_resp_json vector) and reading
 *      msgId, queueId, queueOffset and transactionId;
 *   3. decoding 32 stored messages of 256 B from one pull body, per
 *      message: bare decode, then with what a consumer reads (UNIQ_KEY,
 *      TAGS, offset id), then with the body CRC check too.
 * Each figure is the median of 9 runs after a warm-up, on CLOCK_MONOTONIC.
 * Usage: codec_bench [iterations per run]
 *                    [encode-json|encode-rocketmq|decode|stored]
 * (the second argument runs one part alone, for a profiler or callgrind;
 * see doc/performance.md)
 */
#include "codec/cmd.h"
#include "codec/msgrec.h"
#include "codec/props.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { RUNS = 9, PULL_N = 32, BODY = 256 };

static volatile size_t sink; /* keeps results alive */

static uint8_t body[BODY];

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median ns per operation of @p fn over RUNS runs of @p iters calls, each
 * call doing @p per operations. */
static double measure(void (*fn)(void *), void *ctx, size_t iters, size_t per) {
  for (size_t i = 0; i < iters / 10 + 1; i++)
    fn(ctx);
  double r[RUNS];
  for (int k = 0; k < RUNS; k++) {
    int64_t t0 = rmqi_now_ns();
    for (size_t i = 0; i < iters; i++)
      fn(ctx);
    r[k] = (double)(rmqi_now_ns() - t0) / (double)(iters * per);
  }
  qsort(r, RUNS, sizeof(r[0]), cmp_d);
  return r[RUNS / 2];
}

/* ---- 1. SEND_MESSAGE_V2 request ---------------------------------------- */

typedef struct send_ctx {
  rmqi_buf_t out, props;
  int ser;
} send_ctx;

static void put(rmqi_buf_t *b, const char *k, const char *v) {
  (void)rmqi_props_put(b, k, strlen(k), v, strlen(v), NULL);
}

static void encode_send(void *arg) {
  send_ctx *s = arg;
  rmqi_buf_reset(&s->out);
  rmqi_buf_reset(&s->props);
  put(&s->props, "TAGS", "TagA");
  put(&s->props, "KEYS", "order-12345");
  put(&s->props, "city", "Hangzhou");
  put(&s->props, "UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA000001");
  put(&s->props, "WAIT", "true");
  rmqi_cmd_t c;
  rmqi_cmd_init(&c, 310);
  rmqi_cmd_ext_ref(&c, "a", "bench_producer_group", 20);
  rmqi_cmd_ext_ref(&c, "b", "BenchTopic", 10);
  rmqi_cmd_ext_ref(&c, "c", "TBW102", 6);
  rmqi_cmd_ext_int(&c, "d", 4);
  rmqi_cmd_ext_int(&c, "e", 3);
  rmqi_cmd_ext_int(&c, "f", 0);
  rmqi_cmd_ext_int(&c, "g", 1700000000000LL);
  rmqi_cmd_ext_int(&c, "h", 0);
  rmqi_cmd_ext_ref(&c, "i", (const char *)s->props.data, s->props.len);
  rmqi_cmd_ext_ref(&c, "j", "0", 1);
  rmqi_cmd_ext_bool(&c, "k", false);
  rmqi_cmd_ext_bool(&c, "m", false);
  rmqi_cmd_ext_ref(&c, "n", "broker-a", 8);
  c.body = body;
  c.body_len = BODY;
  if (rmqi_cmd_encode(&s->out, &c, s->ser) != RMQ_OK)
    abort();
  rmqi_cmd_free(&c);
  sink += s->out.len;
}

/* ---- 2. send response -------------------------------------------------- */

/* The JSON header of tests/vectors/5.4.0/cmd_send_resp_json.bin. */
static const char resp_json[] =
    "{\"code\":0,\"extFields\":{\"queueId\":\"2\",\"transactionId\":"
    "\"7F0000010D2A"
    "18B4AAC23B9ACA000001\",\"msgId\":\"C0A8000A00002A9F0000000000001234\",\""
    "TRACE_ON\":\"true\",\"MSG_REGION\":\"DefaultRegion\",\"queueOffset\":"
    "\"15\"},"
    "\"flag\":1,\"language\":\"JAVA\",\"opaque\":9,\"serializeTypeCurrentRPC\":"
    "\"J"
    "SON\",\"version\":493}";

typedef struct resp_ctx {
  uint8_t frame[512];
  size_t len;
} resp_ctx;

static void decode_resp(void *arg) {
  resp_ctx *r = arg;
  size_t flen;
  rmqi_cmd_t c;
  if (rmqi_frame_check(r->frame, r->len, RMQI_DEFAULT_MAX_FRAME, &flen, NULL) !=
          RMQ_OK ||
      rmqi_cmd_decode(&c, r->frame, flen, NULL) != RMQ_OK)
    abort();
  int64_t qid = 0, qoff = 0;
  const rmqi_str_t *id = rmqi_cmd_ext_get(&c, "msgId");
  const rmqi_str_t *tx = rmqi_cmd_ext_get(&c, "transactionId");
  if (id == NULL || tx == NULL ||
      rmqi_cmd_ext_get_int(&c, "queueId", &qid) != RMQ_OK ||
      rmqi_cmd_ext_get_int(&c, "queueOffset", &qoff) != RMQ_OK)
    abort();
  sink += id->n + tx->n + (size_t)qid + (size_t)qoff;
  rmqi_cmd_free(&c);
}

/* ---- 3. stored records ------------------------------------------------- */

typedef struct pull_ctx {
  rmqi_buf_t body;
  int level; /* 0 decode, 1 + properties and id, 2 + CRC */
} pull_ctx;

static void make_pull_body(rmqi_buf_t *b) {
  for (int i = 0; i < PULL_N; i++) {
    rmqi_buf_t p;
    rmqi_buf_init(&p);
    char uniq[33];
    snprintf(uniq, sizeof(uniq), "7F0000010D2A18B4AAC23B9ACA%06X", i);
    put(&p, "TAGS", "TagA");
    put(&p, "KEYS", "order-12345");
    put(&p, "city", "Hangzhou");
    put(&p, "UNIQ_KEY", uniq);
    put(&p, "WAIT", "true");
    put(&p, "CLUSTER", "DefaultCluster");
    size_t start = b->len;
    rmqi_buf_put_be32(b, 0);
    rmqi_buf_put_be32(b, (uint32_t)RMQI_MAGIC_V1);
    rmqi_buf_put_be32(b, 0); /* CRC, patched below */
    rmqi_buf_put_be32(b, 3);
    rmqi_buf_put_be32(b, 0);
    rmqi_buf_put_be64(b, (uint64_t)(1000 + i));
    rmqi_buf_put_be64(b, (uint64_t)(0x100000 + start));
    rmqi_buf_put_be32(b, 0);
    rmqi_buf_put_be64(b, 1700000000000ULL);
    rmqi_buf_put(b, "\x7f\x00\x00\x01\x00\x00\xd4\x31", 8);
    rmqi_buf_put_be64(b, 1700000000005ULL);
    rmqi_buf_put(b, "\x7f\x00\x00\x01\x00\x00\x2a\x9f", 8);
    rmqi_buf_put_be32(b, 0);
    rmqi_buf_put_be64(b, 0);
    rmqi_buf_put_be32(b, BODY);
    rmqi_buf_put(b, body, BODY);
    rmqi_buf_put_u8(b, 10);
    rmqi_buf_put(b, "BenchTopic", 10);
    rmqi_buf_put_be16(b, (uint16_t)p.len);
    rmqi_buf_put(b, p.data, p.len);
    rmqi_buf_free(&p);
    if (!rmqi_buf_ok(b))
      abort();
    rmqi_buf_patch_be32(b, start, (uint32_t)(b->len - start));
    /* The CRC field, as the broker sets it. */
    rmqi_buf_patch_be32(b, start + 8,
                        (uint32_t)crc32(0L, body, BODY) & 0x7FFFFFFF);
  }
}

static void decode_pull(void *arg) {
  pull_ctx *pc = arg;
  size_t pos = 0, acc = 0;
  while (pos < pc->body.len) {
    rmqi_msgrec_t m;
    size_t next;
    if (rmqi_msgrec_decode(pc->body.data + pos, pc->body.len - pos, &m, &next,
                           NULL) != RMQ_OK)
      abort();
    acc += m.body_len;
    if (pc->level >= 1) {
      size_t ul, tl;
      const char *u = rmqi_props_get(m.props, m.props_len, "UNIQ_KEY", &ul);
      const char *t = rmqi_props_get(m.props, m.props_len, "TAGS", &tl);
      char id[57];
      rmqi_msgrec_offset_id(&m, id);
      acc += (u ? ul : 0) + (t ? tl : 0) + (size_t)id[0];
    }
    if (pc->level >= 2)
      acc += rmqi_msgrec_check_crc(&m, NULL) == RMQ_OK;
    pos += next;
  }
  sink += acc;
}

static void bench_encode(size_t iters, int ser) {
  send_ctx s;
  rmqi_buf_init(&s.out);
  rmqi_buf_init(&s.props);
  s.ser = ser;
  double ns = measure(encode_send, &s, iters, 1);
  printf("send_v2 encode, %-8s header  %7.1f ns/op  (frame %zu B)\n",
         ser == RMQI_SER_JSON ? "JSON" : "ROCKETMQ", ns, s.out.len);
  rmqi_buf_free(&s.out);
  rmqi_buf_free(&s.props);
}

static void bench_decode(size_t iters) {
  resp_ctx r;
  size_t hl = sizeof(resp_json) - 1;
  r.len = 8 + hl;
  rmqi_store_be32(r.frame, (uint32_t)(4 + hl));
  rmqi_store_be32(r.frame + 4, (uint32_t)hl); /* type byte 0: JSON */
  memcpy(r.frame + 8, resp_json, hl);
  printf("send response decode, JSON       %7.1f ns/op  (frame %zu B)\n",
         measure(decode_resp, &r, iters, 1), r.len);
}

static void bench_stored(size_t iters) {
  pull_ctx pc;
  rmqi_buf_init(&pc.body);
  make_pull_body(&pc.body);
  static const char *const what[] = {
      "decode", "decode + UNIQ_KEY, TAGS, offset id", "... + body CRC"};
  for (pc.level = 0; pc.level < 3; pc.level++)
    printf("stored, 32 x 256 B: %-36s %7.1f ns/msg\n", what[pc.level],
           measure(decode_pull, &pc, iters / 8 + 1, PULL_N));
  rmqi_buf_free(&pc.body);
}

int main(int argc, char **argv) {
  size_t iters = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200000;
  const char *only = argc > 2 ? argv[2] : "";
  bool all = only[0] == '\0';
  for (size_t i = 0; i < BODY; i++)
    body[i] = (uint8_t)(i * 7);
  if (all || strcmp(only, "encode-json") == 0)
    bench_encode(iters, RMQI_SER_JSON);
  if (all || strcmp(only, "encode-rocketmq") == 0)
    bench_encode(iters, RMQI_SER_ROCKETMQ);
  if (all || strcmp(only, "decode") == 0)
    bench_decode(iters);
  if (all || strcmp(only, "stored") == 0)
    bench_stored(iters);
  return sink == 0;
}

/* Remoting commands: building, ext fields, frames. Header encodings live in
 * cmd_json.c and cmd_rocketmq.c. */
#include "cmd.h"
#include "cmd_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const lang_names[] = {
    "JAVA",  "CPP",  "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
    "OTHER", "HTTP", "GO",     "PHP",    "OMS",    "RUST",   "NODE_JS"};

const char *rmqi_lang_name(uint8_t lang) {
  return lang < RMQI_ARRAY_LEN(lang_names) ? lang_names[lang] : NULL;
}

int rmqi_lang_from_name(const char *name, size_t n) {
  for (size_t i = 0; i < RMQI_ARRAY_LEN(lang_names); i++)
    if (strlen(lang_names[i]) == n && memcmp(lang_names[i], name, n) == 0)
      return (int)i;
  return -1;
}

/* Arena bound for one decoded command: strings of a header can never exceed
 * the header itself (16 MiB at most), plus the ext array. */
#define CMD_ARENA_LIMIT (40u * 1024u * 1024u)

static void base_init(rmqi_cmd_t *c) {
  c->code = 0;
  c->lang = RMQI_LANG_OTHER;
  c->version = RMQI_ANNOUNCED_VERSION;
  c->opaque = 0;
  c->flag = 0;
  c->ser = RMQI_SER_JSON;
  c->remark.p = NULL;
  c->remark.n = 0;
  c->ext = c->ext_inline;
  c->n_ext = 0;
  c->cap_ext = RMQI_CMD_INLINE_EXT;
  c->pool_used = 0;
  c->body = NULL;
  c->body_len = 0;
  rmqi_arena_init(&c->arena, CMD_ARENA_LIMIT);
}

void rmqi_cmd_init(rmqi_cmd_t *c, int32_t code) {
  base_init(c);
  c->code = code;
}

void rmqi_cmd_init_response(rmqi_cmd_t *c, const rmqi_cmd_t *req,
                            int32_t code) {
  base_init(c);
  c->code = code;
  c->opaque = req->opaque;
  c->flag = RMQI_FLAG_RESPONSE;
}

void rmqi_cmd_free(rmqi_cmd_t *c) {
  rmqi_arena_free(&c->arena);
  c->ext = c->ext_inline;
  c->n_ext = 0;
  c->cap_ext = RMQI_CMD_INLINE_EXT;
  c->pool_used = 0;
}

/* Points @p s at dst's pool when it pointed into src's. */
static void relocate(rmqi_str_t *s, const rmqi_cmd_t *src, rmqi_cmd_t *dst) {
  uintptr_t p = (uintptr_t)s->p, lo = (uintptr_t)src->pool;
  if (s->p && p >= lo && p < lo + sizeof(src->pool))
    s->p = dst->pool + (p - lo);
}

void rmqi_cmd_move(rmqi_cmd_t *dst, rmqi_cmd_t *src) {
  memcpy(dst, src, sizeof(*dst));
  if (src->ext == src->ext_inline)
    dst->ext = dst->ext_inline;
  /* Strings held in the inline pool move with it. */
  for (uint32_t i = 0; i < dst->n_ext; i++) {
    relocate(&dst->ext[i].key, src, dst);
    relocate(&dst->ext[i].val, src, dst);
  }
  relocate(&dst->remark, src, dst);
  /* src no longer owns the arena */
  rmqi_arena_init(&src->arena, 0);
  src->ext = src->ext_inline;
  src->n_ext = 0;
  src->cap_ext = RMQI_CMD_INLINE_EXT;
}

rmq_err_t rmqi_cmd_set_remark(rmqi_cmd_t *c, const char *remark, size_t n) {
  char *r = rmqi_arena_strndup(&c->arena, remark, n);
  if (r == NULL)
    return RMQ_ERR_NOMEM;
  c->remark.p = r;
  c->remark.n = n;
  return RMQ_OK;
}

char *rmqi_cmd_str_block(rmqi_cmd_t *c, size_t n) {
  if (n <= sizeof(c->pool) - c->pool_used) {
    char *p = c->pool + c->pool_used;
    c->pool_used += (uint32_t)n;
    return p;
  }
  return rmqi_arena_alloc(&c->arena, n);
}

rmqi_ext_t *rmqi_cmd_ext_slot(rmqi_cmd_t *c) {
  if (c->n_ext == c->cap_ext) {
    if (c->n_ext >= RMQI_MAX_EXT_FIELDS)
      return NULL;
    uint32_t cap = c->cap_ext * 2;
    rmqi_ext_t *n = rmqi_arena_alloc(&c->arena, cap * sizeof(*n));
    if (n == NULL)
      return NULL;
    memcpy(n, c->ext, c->n_ext * sizeof(*n));
    c->ext = n; /* the old array stays in the arena or is the inline one */
    c->cap_ext = cap;
  }
  return &c->ext[c->n_ext++];
}

rmq_err_t rmqi_cmd_ext_copy(rmqi_cmd_t *c, const char *key, const char *val,
                            size_t vlen) {
  char *v = rmqi_arena_strndup(&c->arena, val, vlen);
  if (v == NULL)
    return RMQ_ERR_NOMEM;
  return rmqi_cmd_ext_ref(c, key, v, vlen);
}

rmq_err_t rmqi_cmd_ext_int_n(rmqi_cmd_t *c, const char *key, size_t klen,
                             int64_t v) {
  if (RMQI_LIKELY(sizeof(c->pool) - c->pool_used >= 21)) {
    char *p = c->pool + c->pool_used;
    size_t n = rmqi_fmt_i64(p, v);
    p[n] = '\0';
    rmq_err_t rc = rmqi_cmd_ext_ref_n(c, key, klen, p, n);
    if (rc == RMQ_OK)
      c->pool_used += (uint32_t)n + 1;
    return rc;
  }
  char tmp[24];
  size_t n = rmqi_fmt_i64(tmp, v);
  return rmqi_cmd_ext_copy(c, key, tmp, n);
}

const rmqi_str_t *rmqi_cmd_ext_get_n(const rmqi_cmd_t *c, const char *key,
                                     size_t kl) {
  for (uint32_t i = c->n_ext; i-- > 0;)
    if (c->ext[i].key.n == kl && (kl == 0 || c->ext[i].key.p[0] == key[0]) &&
        memcmp(c->ext[i].key.p, key, kl) == 0)
      return c->ext[i].val.p ? &c->ext[i].val : NULL;
  return NULL;
}

rmq_err_t rmqi_cmd_ext_get_int(const rmqi_cmd_t *c, const char *key,
                               int64_t *out) {
  const rmqi_str_t *v = rmqi_cmd_ext_get(c, key);
  if (v == NULL)
    return RMQ_ERR_NOT_FOUND;
  if (!rmqi_parse_i64(v->p, v->n, out))
    return RMQ_ERR_BAD_HEADER;
  return RMQ_OK;
}

bool rmqi_parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (n && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n || n - i > 19)
    return false;
  uint64_t v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
    return false;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* Appends the frame; the body's bytes only when @p with_body (its length
 * counts either way). */
static rmq_err_t encode(rmqi_buf_t *out, const rmqi_cmd_t *c, int ser,
                        bool with_body) {
  size_t start = out->len;
  /* Length and header-info are patched once the header is written. */
  rmqi_buf_put_be32(out, 0);
  rmqi_buf_put_be32(out, 0);
  size_t hstart = out->len;
  rmq_err_t rc = ser == RMQI_SER_ROCKETMQ ? rmqi_cmd_encode_rocketmq(out, c)
                                          : rmqi_cmd_encode_json(out, c);
  if (rc != RMQ_OK) {
    out->len = start < out->len ? start : out->len;
    return rc;
  }
  size_t hlen = out->len - hstart;
  if (with_body)
    rmqi_buf_put(out, c->body, c->body_len);
  if (!rmqi_buf_ok(out))
    return RMQ_ERR_NOMEM;
  size_t total = out->len - start - 4 + (with_body ? 0 : c->body_len);
  if (hlen > 0xFFFFFF || total > INT32_MAX) {
    out->len = start;
    return RMQ_ERR_LIMIT;
  }
  rmqi_buf_patch_be32(out, start, (uint32_t)total);
  rmqi_buf_patch_be32(out, start + 4,
                      (uint32_t)(ser == RMQI_SER_ROCKETMQ) << 24 |
                          (uint32_t)hlen);
  return RMQ_OK;
}

rmq_err_t rmqi_cmd_encode(rmqi_buf_t *out, const rmqi_cmd_t *c, int ser) {
  return encode(out, c, ser, true);
}

rmq_err_t rmqi_cmd_encode_head(rmqi_buf_t *out, const rmqi_cmd_t *c, int ser) {
  return encode(out, c, ser, false);
}

rmq_err_t rmqi_frame_check(const uint8_t *p, size_t len, size_t max_frame,
                           size_t *frame_len, rmqi_errbuf_t *e) {
  *frame_len = 0;
  if (len < 4)
    return RMQ_ERR_TRUNCATED;
  uint32_t flen = rmqi_load_be32(p);
  if (flen > max_frame)
    return rmqi_err(e, RMQ_ERR_FRAME_TOO_LARGE, 0,
                    "frame length %u exceeds the maximum %zu", flen, max_frame);
  if (flen < 4)
    return rmqi_err(e, RMQ_ERR_BAD_FRAME, 0,
                    "frame length %u is shorter than its header-info", flen);
  if (len >= 8) {
    uint32_t info = rmqi_load_be32(p + 4);
    uint32_t type = info >> 24, hlen = info & 0xFFFFFF;
    if (type > RMQI_SER_ROCKETMQ)
      return rmqi_err(e, RMQ_ERR_BAD_FRAME, 4,
                      "unknown header serialization type %u", type);
    if (hlen > flen - 4)
      return rmqi_err(e, RMQ_ERR_BAD_FRAME, 4,
                      "header length %u exceeds frame length %u", hlen, flen);
  }
  size_t need = (size_t)flen + 4;
  if (len < need) {
    *frame_len = need;
    return RMQ_ERR_TRUNCATED;
  }
  *frame_len = need;
  return RMQ_OK;
}

rmq_err_t rmqi_cmd_decode(rmqi_cmd_t *c, const uint8_t *frame, size_t frame_len,
                          rmqi_errbuf_t *e) {
  size_t flen;
  rmq_err_t rc = rmqi_frame_check(frame, frame_len, SIZE_MAX, &flen, e);
  if (rc == RMQ_ERR_TRUNCATED)
    return rmqi_err(e, RMQ_ERR_TRUNCATED, frame_len,
                    "frame needs %zu bytes, has %zu", flen, frame_len);
  if (rc != RMQ_OK)
    return rc;
  uint32_t info = rmqi_load_be32(frame + 4);
  size_t hlen = info & 0xFFFFFF;
  base_init(c);
  c->ser = (uint8_t)(info >> 24);
  const uint8_t *h = frame + 8;
  rc = c->ser == RMQI_SER_ROCKETMQ ? rmqi_cmd_decode_rocketmq(c, h, hlen, e)
                                   : rmqi_cmd_decode_json(c, h, hlen, e);
  if (rc != RMQ_OK) {
    if (e)
      e->pos += 8;
    rmqi_cmd_free(c);
    return rc;
  }
  c->body = frame + 8 + hlen;
  c->body_len = flen - 8 - hlen;
  if (c->body_len == 0)
    c->body = NULL;
  return RMQ_OK;
}

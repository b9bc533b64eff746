/*
 * Remoting commands and frames (framing.md in the protocol reference).
 *
 * A frame is: int32 length (excluding itself) | int32 header-info (type byte,
 * 24-bit header length) | header (JSON or ROCKETMQ binary) | body.
 *
 * Ownership: a decoded command borrows its body from the frame bytes it was
 * decoded from; every string it holds (remark, ext keys and values) lives in
 * the command's arena. For encoding, ext fields may borrow caller strings
 * (rmqi_cmd_ext_ref) that must stay alive until rmqi_cmd_encode returns.
 * Pure functions: no I/O, no threads, no global state.
 */
#ifndef RMQI_CODEC_CMD_H
#define RMQI_CODEC_CMD_H

#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/err.h"

/* Header serialization types (SerializeType). */
enum { RMQI_SER_JSON = 0, RMQI_SER_ROCKETMQ = 1 };

/* Flag bits. */
enum { RMQI_FLAG_RESPONSE = 1, RMQI_FLAG_ONEWAY = 2 };

/* LanguageCode values (the byte used in ROCKETMQ encoding). */
enum {
  RMQI_LANG_JAVA = 0,
  RMQI_LANG_CPP = 1,
  RMQI_LANG_OTHER = 7,
  RMQI_LANG_GO = 9,
  RMQI_LANG_MAX = 13
};

/* The version we announce: V5_3_1 (see framing.md §7). */
#define RMQI_ANNOUNCED_VERSION 475

/* Java's default frame limit (NettyDecoder): 16 MiB. */
#define RMQI_DEFAULT_MAX_FRAME (16u * 1024u * 1024u)

typedef struct rmqi_str {
  const char *p; /* NUL-terminated; NULL when absent */
  size_t n;
} rmqi_str_t;

typedef struct rmqi_ext {
  rmqi_str_t key;
  rmqi_str_t val;
} rmqi_ext_t;

/* Ext fields kept inside the command before spilling to the arena: enough
 * for every request header the client sends (SEND_MESSAGE_V2 has 14 plus
 * ACL's 2), so building a request never allocates. */
#define RMQI_CMD_INLINE_EXT 24
/* Inline bytes for the strings of a command: the decimal text of the
 * numbers a request adds (a request has up to ten), or every string a
 * decoded header holds when the header is smaller than this (responses
 * are a few hundred bytes). Either way, no allocation. */
#define RMQI_CMD_POOL 512

typedef struct rmqi_cmd {
  int32_t code;
  uint8_t lang; /* RMQI_LANG_* */
  int32_t version;
  int32_t opaque;
  int32_t flag;
  uint8_t ser; /* serialization the command was decoded from */
  rmqi_str_t remark;
  rmqi_ext_t *ext; /* points at ext_inline until it spills */
  uint32_t n_ext;
  uint32_t cap_ext;
  rmqi_ext_t ext_inline[RMQI_CMD_INLINE_EXT];
  char pool[RMQI_CMD_POOL]; /* see RMQI_CMD_POOL; rmqi_cmd_move moves it */
  uint32_t pool_used;
  const uint8_t *body; /* borrowed */
  size_t body_len;
  rmqi_arena_t arena;
} rmqi_cmd_t;

/* Language names in JSON headers; NULL for values that have none. */
const char *rmqi_lang_name(uint8_t lang);
/* Returns -1 for an unknown name. */
int rmqi_lang_from_name(const char *name, size_t n);

/* A request: lang OTHER, version RMQI_ANNOUNCED_VERSION, flag 0. Does not
 * allocate. */
void rmqi_cmd_init(rmqi_cmd_t *c, int32_t code);
/* A response to @p req: same opaque, flag RESPONSE, code @p code. */
void rmqi_cmd_init_response(rmqi_cmd_t *c, const rmqi_cmd_t *req, int32_t code);
/* Sets the remark, copying it into the arena. */
rmq_err_t rmqi_cmd_set_remark(rmqi_cmd_t *c, const char *remark, size_t n);
void rmqi_cmd_free(rmqi_cmd_t *c);

/* rmqi_cmd_t holds a pointer into itself (the inline ext array): never copy
 * one by value; move it with this (dst must be uninitialised or freed). */
void rmqi_cmd_move(rmqi_cmd_t *dst, rmqi_cmd_t *src);

/* Next free ext entry (grows into the arena), or NULL at the limit. */
rmqi_ext_t *rmqi_cmd_ext_slot(rmqi_cmd_t *c);
/* Adds an ext field borrowing both strings (they must outlive encoding).
 * The _n forms take the key's length; the others measure it inline, which
 * costs nothing for the literal keys requests use. */
static inline rmq_err_t rmqi_cmd_ext_ref_n(rmqi_cmd_t *c, const char *key,
                                           size_t klen, const char *val,
                                           size_t vlen) {
  rmqi_ext_t *e = RMQI_LIKELY(c->n_ext < c->cap_ext) ? &c->ext[c->n_ext++]
                                                     : rmqi_cmd_ext_slot(c);
  if (e == NULL)
    return RMQ_ERR_NOMEM;
  e->key.p = key;
  e->key.n = klen;
  e->val.p = val;
  e->val.n = vlen;
  return RMQ_OK;
}
static inline rmq_err_t rmqi_cmd_ext_ref(rmqi_cmd_t *c, const char *key,
                                         const char *val, size_t vlen) {
  return rmqi_cmd_ext_ref_n(c, key, strlen(key), val, vlen);
}
/* Adds an ext field, copying the value into the command's arena. */
rmq_err_t rmqi_cmd_ext_copy(rmqi_cmd_t *c, const char *key, const char *val,
                            size_t vlen);
/* Adds an integer ext field as its decimal text. */
rmq_err_t rmqi_cmd_ext_int_n(rmqi_cmd_t *c, const char *key, size_t klen,
                             int64_t v);
static inline rmq_err_t rmqi_cmd_ext_int(rmqi_cmd_t *c, const char *key,
                                         int64_t v) {
  return rmqi_cmd_ext_int_n(c, key, strlen(key), v);
}
/* Adds "true"/"false". */
static inline rmq_err_t rmqi_cmd_ext_bool(rmqi_cmd_t *c, const char *key,
                                          bool v) {
  return rmqi_cmd_ext_ref(c, key, v ? "true" : "false", v ? 4 : 5);
}
/* The value of ext field @p key (the last one wins), or NULL. */
const rmqi_str_t *rmqi_cmd_ext_get_n(const rmqi_cmd_t *c, const char *key,
                                     size_t klen);
static inline const rmqi_str_t *rmqi_cmd_ext_get(const rmqi_cmd_t *c,
                                                 const char *key) {
  return rmqi_cmd_ext_get_n(c, key, strlen(key));
}
/* Parses ext field @p key as a decimal int64. RMQ_ERR_NOT_FOUND when
 * absent, RMQ_ERR_BAD_HEADER when not a number. */
rmq_err_t rmqi_cmd_ext_get_int(const rmqi_cmd_t *c, const char *key,
                               int64_t *out);

/* Appends the whole frame (length prefix included) to @p out. Fails with
 * RMQ_ERR_INVALID_ARG for a code or version that ROCKETMQ's 16-bit fields
 * cannot carry, RMQ_ERR_NOMEM when @p out failed to grow. */
rmq_err_t rmqi_cmd_encode(rmqi_buf_t *out, const rmqi_cmd_t *c, int ser);
/* The same frame without the body's bytes: the length prefix counts
 * c->body_len, and the body's bytes must follow it on the wire (the
 * connection writes them from the caller's memory: rmqi_rpc_invoke_lend). */
rmq_err_t rmqi_cmd_encode_head(rmqi_buf_t *out, const rmqi_cmd_t *c, int ser);

/*
 * Looks for one whole frame at the start of @p p.
 * Returns RMQ_OK and sets *frame_len (bytes including the length prefix)
 * when a whole frame is there; RMQ_ERR_TRUNCATED when more bytes are needed
 * (*frame_len is then the total needed if known, else 0); or an error
 * (RMQ_ERR_FRAME_TOO_LARGE, RMQ_ERR_BAD_FRAME) before anything is allocated.
 */
rmq_err_t rmqi_frame_check(const uint8_t *p, size_t len, size_t max_frame,
                           size_t *frame_len, rmqi_errbuf_t *e);

/* Limits applied while decoding a header. */
#define RMQI_MAX_EXT_FIELDS 1024
#define RMQI_JSON_MAX_DEPTH 32

/* Decodes one whole frame (as delimited by rmqi_frame_check) into @p c,
 * which must be uninitialised or freed. On success the body points into
 * @p frame. On failure @p c holds nothing that needs freeing. */
rmq_err_t rmqi_cmd_decode(rmqi_cmd_t *c, const uint8_t *frame, size_t frame_len,
                          rmqi_errbuf_t *e);

static inline bool rmqi_cmd_is_response(const rmqi_cmd_t *c) {
  return (c->flag & RMQI_FLAG_RESPONSE) != 0;
}
static inline bool rmqi_cmd_is_oneway(const rmqi_cmd_t *c) {
  return (c->flag & RMQI_FLAG_ONEWAY) != 0;
}

#endif

/*
 * A small JSON reader for the bodies RocketMQ sends (routes, cluster info,
 * consumer lists...). It accepts strict JSON plus what fastjson writes:
 * object keys that are bare numbers (`{0:"host:port"}`) or whole objects
 * (`{{"topic":"T",...}:12}`). Everything else is rejected with a position
 * and a reason. The tree lives in an arena bounded by the input size (and
 * an absolute ceiling), and nesting is bounded (recursion never goes past
 * RMQI_JSON_DEPTH).
 */
#ifndef RMQI_CODEC_JSON_H
#define RMQI_CODEC_JSON_H

#include "../util/arena.h"
#include "../util/err.h"

#define RMQI_JSON_DEPTH 64

typedef enum {
  RMQI_JNULL,
  RMQI_JBOOL,
  RMQI_JNUM,
  RMQI_JSTR,
  RMQI_JARR,
  RMQI_JOBJ
} rmqi_jtype_t;

typedef struct rmqi_jval rmqi_jval_t;
typedef struct rmqi_jmember {
  rmqi_jval_t *key; /* a string, or (fastjson) a number or an object */
  rmqi_jval_t *val;
} rmqi_jmember_t;

/* 32 bytes: the tree of a document of tiny values ("[0,0,...]") is
 * dominated by its nodes. */
struct rmqi_jval {
  uint8_t type; /* rmqi_jtype_t */
  bool b;
  bool is_int; /* JNUM: integral and within int64 */
  int64_t i;   /* JNUM when is_int */
  size_t n;    /* JSTR/JNUM length; JARR/JOBJ element count */
  union {
    const char *s;           /* JSTR: unescaped, NUL-terminated; JNUM: text */
    rmqi_jval_t **items;     /* JARR */
    rmqi_jmember_t *members; /* JOBJ */
  };
};

typedef struct rmqi_json {
  rmqi_arena_t arena;
  rmqi_jval_t *root;
} rmqi_json_t;

/* The tree may take RMQI_JSON_MEM_PER_BYTE bytes per input byte plus
 * RMQI_JSON_MEM_BASE, and never more than RMQI_JSON_MEM_MAX, counting the
 * parser's scratch stack. Documents of strings and objects (every body
 * RocketMQ sends) take 2-6x their size; only dense runs of one-byte values
 * (`[0,0,...]`: a 32-byte node and an 8-byte slot per 2 bytes) go past
 * it, and fail with RMQ_ERR_LIMIT. */
#define RMQI_JSON_MEM_PER_BYTE 16
#define RMQI_JSON_MEM_BASE ((size_t)64 << 10)
#define RMQI_JSON_MEM_MAX ((size_t)64 << 20)

/* Parses @p len bytes. On failure @p doc holds nothing to free. */
rmq_err_t rmqi_json_parse(rmqi_json_t *doc, const char *p, size_t len,
                          rmqi_errbuf_t *e);
void rmqi_json_free(rmqi_json_t *doc);

/* Member of an object whose key is the string @p key, or NULL. */
const rmqi_jval_t *rmqi_json_get(const rmqi_jval_t *obj, const char *key);
/* Typed getters: false when absent or of another type. As fastjson binds
 * them, integers and booleans may also be given as strings ("4", "true"). */
bool rmqi_json_int(const rmqi_jval_t *obj, const char *key, int64_t *out);
bool rmqi_json_bool(const rmqi_jval_t *obj, const char *key, bool *out);
const char *rmqi_json_str(const rmqi_jval_t *obj, const char *key);

#endif

/*
 * JSON command header (framing.md §4). The encoder writes what Java's
 * fastjson writes (keys in alphabetical order, null fields omitted, ext
 * values always strings). The decoder is a one-pass scanner over the header
 * object, tolerant where fastjson is (language as name or ordinal, numbers
 * given as strings, unknown keys ignored) and strict about JSON syntax.
 */
#include "../util/swar.h"
#include "cmd_int.h"
#include "jstr.h"

#include <string.h>

/* Headers up to this size (worst case, every byte escaped) get one
 * reservation up front and are then written without checks; larger ones
 * check room piece by piece. */
#define DIRECT_MAX (256u * 1024u)

/* The worst-case size of the header, or 0 when over DIRECT_MAX. */
static size_t worst_case(const rmqi_cmd_t *c) {
  /* The fixed text (151 bytes with four int32 of 11 characters each and
   * the longest language name), then the strings escaped at worst. */
  size_t need = 192 + (c->remark.p ? 6 * c->remark.n + 16 : 0);
  for (uint32_t i = 0; i < c->n_ext; i++) {
    need += 6 * (c->ext[i].key.n + c->ext[i].val.n) + 6;
    if (need > DIRECT_MAX)
      return 0;
  }
  return need > DIRECT_MAX ? 0 : need;
}

/* Room for @p n more bytes at *o, which moves with the buffer. */
static inline bool room(rmqi_buf_t *b, char **o, size_t n) {
  size_t len = (size_t)(*o - (char *)b->data);
  if (RMQI_LIKELY(b->cap - len >= n))
    return true;
  b->len = len;
  if (!rmqi_buf_reserve(b, n))
    return false;
  *o = (char *)b->data + len;
  return true;
}

/* A JSON string at *o: straight in when there is room for its worst case
 * (always, after the reservation up front), else through the buffer
 * writer, which reserves or, for long strings, goes in runs. */
static bool put_str_slow(rmqi_buf_t *b, char **o, const char *s, size_t n) {
  b->len = (size_t)(*o - (char *)b->data);
  rmqi_json_put_str(b, s, n);
  *o = (char *)b->data + b->len;
  return rmqi_buf_ok(b);
}

/* Inline: a dozen short strings per header, and the call was a third of
 * the cost. */
RMQI_ALWAYS_INLINE bool put_str(rmqi_buf_t *b, char **o, const char *s,
                                size_t n) {
  size_t len = (size_t)(*o - (char *)b->data);
  if (RMQI_LIKELY(n <= DIRECT_MAX && b->cap - len >= 6 * n + 2)) {
    *o = rmqi_json_put_str_at(*o, s, n);
    return true;
  }
  return put_str_slow(b, o, s, n);
}

static char *lit(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}
#define LIT(o, s) lit((o), (s), sizeof(s) - 1)

static char *put_int(char *o, int64_t v) {
  return o + rmqi_fmt_i64(o, v);
}

/* Writes the header. @p checked is a constant at both call sites, so
 * this is compiled twice: without checks, after the reservation up front
 * (the checks reload the buffer's fields after every store through a char
 * pointer, ~8 % of a SEND_MESSAGE_V2 encode), and with them. */
#define ROOM(n)                                                                \
  do {                                                                         \
    if (checked && !room(out, &o, (n)))                                        \
      return RMQ_ERR_NOMEM;                                                    \
  } while (0)
#define STR(p, n)                                                              \
  do {                                                                         \
    if (!checked)                                                              \
      o = rmqi_json_put_str_at(o, (p), (n));                                   \
    else if (!put_str(out, &o, (p), (n)))                                      \
      return RMQ_ERR_NOMEM;                                                    \
  } while (0)

RMQI_ALWAYS_INLINE rmq_err_t write_header(rmqi_buf_t *out, const rmqi_cmd_t *c,
                                          const char *lang, bool checked) {
  char *o = (char *)out->data + out->len;
  /* Fixed text goes in pieces of at most 64 bytes (ints 11 at most). */
  ROOM(64);
  o = LIT(o, "{\"code\":");
  o = put_int(o, c->code);
  if (c->n_ext) {
    o = LIT(o, ",\"extFields\":{");
    bool first = true;
    for (uint32_t i = 0; i < c->n_ext; i++) {
      const rmqi_ext_t *x = &c->ext[i];
      if (x->key.p == NULL || x->val.p == NULL)
        continue;
      ROOM(1);
      if (!first)
        *o++ = ',';
      first = false;
      STR(x->key.p, x->key.n);
      ROOM(1);
      *o++ = ':';
      STR(x->val.p, x->val.n);
    }
    ROOM(1);
    *o++ = '}';
  }
  ROOM(64);
  o = LIT(o, ",\"flag\":");
  o = put_int(o, c->flag);
  o = LIT(o, ",\"language\":\"");
  o = lit(o, lang, strlen(lang));
  o = LIT(o, "\",\"opaque\":");
  o = put_int(o, c->opaque);
  if (c->remark.p) {
    ROOM(16);
    o = LIT(o, ",\"remark\":");
    STR(c->remark.p, c->remark.n);
  }
  ROOM(64);
  o = LIT(o, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
  o = put_int(o, c->version);
  *o++ = '}';
  out->len = (size_t)(o - (char *)out->data);
  return RMQ_OK;
}
#undef ROOM
#undef STR

rmq_err_t rmqi_cmd_encode_json(rmqi_buf_t *out, const rmqi_cmd_t *c) {
  const char *lang = rmqi_lang_name(c->lang);
  if (lang == NULL)
    return RMQ_ERR_INVALID_ARG;
  if (!rmqi_buf_ok(out))
    return RMQ_ERR_NOMEM;
  size_t need = worst_case(c);
  if (need && (out->limit == 0 || out->len + need <= out->limit) &&
      rmqi_buf_reserve(out, need))
    return write_header(out, c, lang, false);
  return write_header(out, c, lang, true);
}

typedef struct scan {
  const char *p;
  size_t n, i;
  rmqi_cmd_t *c;
  rmqi_errbuf_t *e;
  char *pool; /* one block for every string of the header */
  size_t left;
} scan_t;

/* Every string copied out of a header takes at most the bytes it occupied
 * (raw text + NUL <= raw text + 2 quotes; a bare token + NUL <= the token +
 * the delimiter after it), so one block of the header's size holds them
 * all: one allocation per decode instead of one per string. The arena
 * fallback only guards that reasoning. */
static char *str_alloc(scan_t *s, size_t n) {
  if (RMQI_LIKELY(n <= s->left)) {
    char *p = s->pool;
    s->pool += n;
    s->left -= n;
    return p;
  }
  return rmqi_arena_alloc(&s->c->arena, n);
}

static inline void ws(scan_t *s) {
  /* fastjson writes no whitespace: one test in the usual case. */
  while (s->i < s->n && (unsigned char)s->p[s->i] <= ' ' &&
         (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' ||
          s->p[s->i] == '\r'))
    s->i++;
}

static rmq_err_t expect_slow(scan_t *s, char ch) {
  ws(s);
  if (s->i >= s->n)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "header ends early");
  if (s->p[s->i] != ch)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "expected '%c', got '%c'",
                    ch, s->p[s->i]);
  s->i++;
  return RMQ_OK;
}

static inline rmq_err_t expect(scan_t *s, char ch) {
  if (RMQI_LIKELY(s->i < s->n && s->p[s->i] == ch)) {
    s->i++;
    return RMQ_OK;
  }
  return expect_slow(s, ch);
}

/* Index of the byte that ends the plain text of a string whose text
 * starts at @p j: '"', '\\', a control byte, or the end of the header.
 * When @p out is not NULL the text is copied there as it goes, a word at a
 * time: the caller guarantees room for the rest of the header. */
static inline size_t plain_text(const scan_t *s, size_t j, char *out) {
  /* Locals: stores through @p out may alias *s, which would make the
   * compiler reload it after each. */
  const char *p = s->p;
  size_t n = s->n;
  while (n - j >= 8) {
    uint64_t x = rmqi_load_le64(p + j);
    uint64_t m =
        rmqi_swar_lt(x, 0x20) | rmqi_swar_eq(x, '"') | rmqi_swar_eq(x, '\\');
    if (out) {
      memcpy(out, p + j, 8);
      out += 8;
    }
    if (m)
      return j + rmqi_swar_first(m);
    j += 8;
  }
  while (j < n && p[j] != '"' && p[j] != '\\' && (unsigned char)p[j] >= 0x20) {
    if (out)
      *out++ = p[j];
    j++;
  }
  return j;
}

/* Length of a JSON number or literal token at s->i (no validation beyond
 * the character set; callers parse what they need). */
static size_t token_len(const scan_t *s) {
  size_t j = s->i;
  while (j < s->n) {
    char ch = s->p[j];
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
        (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '+' || ch == '.')
      j++;
    else
      break;
  }
  return j - s->i;
}

static bool valid_literal(const char *t, size_t n) {
  if ((n == 4 && memcmp(t, "true", 4) == 0) ||
      (n == 5 && memcmp(t, "false", 5) == 0) ||
      (n == 4 && memcmp(t, "null", 4) == 0))
    return true;
  /* A JSON number: -?digits(.digits)?([eE][+-]?digits)? */
  size_t i = 0;
  if (i < n && t[i] == '-')
    i++;
  size_t d = i;
  while (i < n && t[i] >= '0' && t[i] <= '9')
    i++;
  if (i == d)
    return false;
  if (i < n && t[i] == '.') {
    size_t f = ++i;
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
    if (i == f)
      return false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      i++;
    size_t x = i;
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
    if (i == x)
      return false;
  }
  return i == n;
}

/* Skips one JSON value (an unknown header field) without recursion: a
 * small state machine with the open containers as a bit stack, so the
 * skipped text is still checked for JSON syntax and nesting is bounded. */
enum {
  SK_VALUE,
  SK_VALUE_OR_CLOSE,
  SK_KEY,
  SK_KEY_OR_CLOSE,
  SK_COLON,
  SK_NEXT
};

static rmq_err_t skip_value(scan_t *s) {
  if (s->i < s->n && s->p[s->i] == '"') { /* the usual unknown field */
    size_t end = plain_text(s, s->i + 1, NULL);
    if (end < s->n && s->p[end] == '"') {
      s->i = end + 1;
      return RMQ_OK;
    }
  }
  uint64_t objs = 0; /* bit d-1 set: container at depth d is an object */
  int depth = 0, st = SK_VALUE;
  for (;;) {
    ws(s);
    if (st == SK_NEXT && depth == 0)
      return RMQ_OK;
    if (s->i >= s->n)
      return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "header ends early");
    char ch = s->p[s->i];
    bool in_obj = depth > 0 && (objs >> (depth - 1) & 1);
    if ((st == SK_VALUE_OR_CLOSE && ch == ']') ||
        (st == SK_KEY_OR_CLOSE && ch == '}') ||
        (st == SK_NEXT && ch == (in_obj ? '}' : ']'))) {
      depth--;
      s->i++;
      st = SK_NEXT;
    } else if (st == SK_NEXT) {
      if (ch != ',')
        return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "unexpected '%c'", ch);
      s->i++;
      st = in_obj ? SK_KEY : SK_VALUE;
    } else if (st == SK_COLON) {
      if (ch != ':')
        return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "expected ':'");
      s->i++;
      st = SK_VALUE;
    } else if (st == SK_KEY || st == SK_KEY_OR_CLOSE || ch == '"') {
      if (ch != '"')
        return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i,
                        "expected a field name");
      rmq_err_t rc =
          rmqi_json_scan_str(s->p, s->n, &s->i, NULL, NULL, NULL, s->e);
      if (rc != RMQ_OK)
        return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_HEADER : rc;
      st = st == SK_KEY || st == SK_KEY_OR_CLOSE ? SK_COLON : SK_NEXT;
    } else if (ch == '{' || ch == '[') {
      if (depth >= RMQI_JSON_MAX_DEPTH)
        return rmqi_err(s->e, RMQ_ERR_TOO_DEEP, s->i,
                        "JSON nested deeper than %d", RMQI_JSON_MAX_DEPTH);
      objs = (objs & ~((uint64_t)1 << depth)) | (uint64_t)(ch == '{') << depth;
      depth++;
      s->i++;
      st = ch == '{' ? SK_KEY_OR_CLOSE : SK_VALUE_OR_CLOSE;
    } else {
      size_t tl = token_len(s);
      if (tl == 0 || !valid_literal(s->p + s->i, tl))
        return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "bad JSON value");
      s->i += tl;
      st = SK_NEXT;
    }
  }
}

/* A string value unescaped into the arena (NULL p for JSON null). Numbers
 * and booleans are kept as their text, as fastjson would map them. */
static rmq_err_t read_text(scan_t *s, rmqi_str_t *out) {
  ws(s);
  if (s->i >= s->n)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "header ends early");
  if (s->p[s->i] == '"' && RMQI_LIKELY(s->left >= s->n - s->i)) {
    /* The pool has room for the rest of the header (which bounds the
     * word-wide copies too). Plain text, the usual string, is copied as
     * it is scanned; a string with escapes is unescaped in a second
     * pass. */
    size_t end = plain_text(s, s->i + 1, s->pool);
    if (RMQI_LIKELY(end < s->n && s->p[end] == '"')) {
      size_t n = end - s->i - 1;
      out->p = s->pool;
      out->n = n;
      s->pool[n] = '\0';
      s->pool += n + 1;
      s->left -= n + 1;
      s->i = end + 1;
      return RMQ_OK;
    }
    size_t n;
    rmq_err_t rc =
        rmqi_json_scan_str(s->p, s->n, &s->i, s->pool, &n, NULL, s->e);
    if (rc != RMQ_OK)
      return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_HEADER : rc;
    out->p = s->pool;
    out->n = n;
    s->pool[n] = '\0';
    s->pool += n + 1;
    s->left -= n + 1;
    return RMQ_OK;
  }
  if (s->p[s->i] == '"') {
    size_t pos = s->i, raw, n;
    rmq_err_t rc = rmqi_json_scan_str(s->p, s->n, &pos, NULL, &n, &raw, s->e);
    if (rc != RMQ_OK)
      return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_HEADER : rc;
    char *buf = str_alloc(s, raw + 1);
    if (buf == NULL)
      return rmqi_err(s->e, RMQ_ERR_NOMEM, s->i, "out of memory");
    if (n == raw) { /* no escapes: the text is the raw bytes */
      memcpy(buf, s->p + s->i + 1, n);
      s->i = pos;
    } else {
      rmqi_json_scan_str(s->p, s->n, &s->i, buf, &n, NULL, NULL);
    }
    buf[n] = '\0';
    out->p = buf;
    out->n = n;
    return RMQ_OK;
  }
  size_t tl = token_len(s);
  if (tl == 0 || !valid_literal(s->p + s->i, tl))
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "bad JSON value");
  if (tl == 4 && memcmp(s->p + s->i, "null", 4) == 0) {
    out->p = NULL;
    out->n = 0;
  } else {
    char *t = str_alloc(s, tl + 1);
    if (t == NULL)
      return rmqi_err(s->e, RMQ_ERR_NOMEM, s->i, "out of memory");
    memcpy(t, s->p + s->i, tl);
    t[tl] = '\0';
    out->p = t;
    out->n = tl;
  }
  s->i += tl;
  return RMQ_OK;
}

static rmq_err_t read_int_slow(scan_t *s, const char *name, int32_t *out);

/* An int32 field: a number, or a numeric string (fastjson accepts both). */
static rmq_err_t read_int(scan_t *s, const char *name, int32_t *out) {
  /* The usual case: plain digits, parsed in place. Anything else (a
   * string, null, a fraction, 10 digits or more) takes the general
   * path below, which also gives the errors. */
  size_t j = s->i;
  bool neg = j < s->n && s->p[j] == '-';
  j += neg;
  size_t d = j;
  int64_t v = 0;
  while (j < s->n && j - d < 10 && s->p[j] >= '0' && s->p[j] <= '9')
    v = v * 10 + (s->p[j++] - '0');
  if (j > d && j - d < 10 && j < s->n && (s->p[j] == ',' || s->p[j] == '}')) {
    *out = (int32_t)(neg ? -v : v);
    s->i = j;
    return RMQ_OK;
  }
  return read_int_slow(s, name, out);
}

static rmq_err_t read_int_slow(scan_t *s, const char *name, int32_t *out) {
  size_t at = s->i;
  rmqi_str_t t;
  rmq_err_t rc = read_text(s, &t);
  if (rc != RMQ_OK)
    return rc;
  if (t.p == NULL)
    return RMQ_OK; /* null keeps the default */
  int64_t v;
  if (!rmqi_parse_i64(t.p, t.n, &v) || v < INT32_MIN || v > INT32_MAX)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, at,
                    "field %s is not a 32-bit integer", name);
  *out = (int32_t)v;
  return RMQ_OK;
}

static rmq_err_t read_ext(scan_t *s) {
  ws(s);
  if (s->i < s->n && s->p[s->i] == 'n')
    return skip_value(s); /* "extFields":null */
  rmq_err_t rc = expect(s, '{');
  if (rc != RMQ_OK)
    return rc;
  ws(s);
  if (s->i < s->n && s->p[s->i] == '}') {
    s->i++;
    return RMQ_OK;
  }
  for (;;) {
    ws(s);
    if (s->i >= s->n || s->p[s->i] != '"')
      return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i,
                      "ext field name is not a string");
    /* Read straight into the entry (a failed decode discards it). */
    rmqi_cmd_t *c = s->c;
    rmqi_ext_t *x = RMQI_LIKELY(c->n_ext < c->cap_ext) ? &c->ext[c->n_ext++]
                                                       : rmqi_cmd_ext_slot(c);
    if (x == NULL)
      return rmqi_err(s->e, RMQ_ERR_LIMIT, s->i, "more than %d ext fields",
                      RMQI_MAX_EXT_FIELDS);
    if ((rc = read_text(s, &x->key)) != RMQ_OK ||
        (rc = expect(s, ':')) != RMQ_OK)
      return rc;
    ws(s);
    if (s->i < s->n && (s->p[s->i] == '{' || s->p[s->i] == '['))
      return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i,
                      "ext field %s is not a scalar", x->key.p);
    if ((rc = read_text(s, &x->val)) != RMQ_OK)
      return rc;
    ws(s);
    if (s->i < s->n && s->p[s->i] == ',') {
      s->i++;
      continue;
    }
    return expect(s, '}');
  }
}

static rmq_err_t read_lang(scan_t *s) {
  size_t at = s->i;
  rmqi_str_t t;
  /* The name is only looked up: read it in place when it is plain. */
  size_t end =
      s->i < s->n && s->p[s->i] == '"' ? plain_text(s, s->i + 1, NULL) : s->n;
  if (end < s->n && s->p[end] == '"') {
    t.p = s->p + s->i + 1;
    t.n = end - s->i - 1;
    s->i = end + 1;
  } else {
    rmq_err_t rc = read_text(s, &t);
    if (rc != RMQ_OK || t.p == NULL)
      return rc;
  }
  int v = rmqi_lang_from_name(t.p, t.n);
  int64_t num;
  if (v < 0 && rmqi_parse_i64(t.p, t.n, &num) && num >= 0 &&
      num <= RMQI_LANG_MAX)
    v = (int)num;
  if (v < 0)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, at, "unknown language \"%.*s\"",
                    (int)RMQI_MIN(t.n, 64), t.p);
  s->c->lang = (uint8_t)v;
  return RMQ_OK;
}

enum {
  F_OTHER,
  F_CODE,
  F_FLAG,
  F_OPAQUE,
  F_VERSION,
  F_LANGUAGE,
  F_REMARK,
  F_EXT
};

/* Which header field a key names: by length and first letter, then one
 * comparison. */
static int field_of(const rmqi_str_t *k) {
#define FIELD(s, f)                                                            \
  { s, sizeof(s) - 1, f }
  static const struct {
    const char *name;
    size_t n;
    int f;
  } fields[] = {FIELD("code", F_CODE),         FIELD("flag", F_FLAG),
                FIELD("opaque", F_OPAQUE),     FIELD("version", F_VERSION),
                FIELD("language", F_LANGUAGE), FIELD("remark", F_REMARK),
                FIELD("extFields", F_EXT)};
#undef FIELD
  for (size_t i = 0; i < RMQI_ARRAY_LEN(fields); i++)
    if (fields[i].n == k->n && fields[i].name[0] == k->p[0] &&
        memcmp(fields[i].name, k->p, k->n) == 0)
      return fields[i].f;
  return F_OTHER;
}

/* A top-level field name: points into the input when it has no escapes
 * (the usual case: nothing to allocate), else unescaped into the arena. */
static rmq_err_t read_key(scan_t *s, rmqi_str_t *k) {
  size_t end = plain_text(s, s->i + 1, NULL);
  if (RMQI_LIKELY(end < s->n && s->p[end] == '"')) {
    k->p = s->p + s->i + 1;
    k->n = end - s->i - 1;
    s->i = end + 1;
    return RMQ_OK;
  }
  size_t pos = s->i, raw, n;
  rmq_err_t rc = rmqi_json_scan_str(s->p, s->n, &pos, NULL, &n, &raw, s->e);
  if (rc != RMQ_OK)
    return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_HEADER : rc;
  if (n != raw)
    return read_text(s, k);
  k->p = s->p + s->i + 1;
  k->n = n;
  s->i = pos;
  return RMQ_OK;
}

rmq_err_t rmqi_cmd_decode_json(rmqi_cmd_t *c, const uint8_t *h, size_t n,
                               rmqi_errbuf_t *e) {
  scan_t s = {(const char *)h, n, 0, c, e, NULL, 0};
  if ((s.pool = rmqi_cmd_str_block(c, n + 1)) != NULL)
    s.left = n + 1;
  /* Defaults for missing keys, as fastjson leaves the fields. */
  c->lang = RMQI_LANG_JAVA;
  c->version = 0;
  rmq_err_t rc = expect(&s, '{');
  if (rc != RMQ_OK)
    return rc;
  ws(&s);
  bool empty = s.i < n && s.p[s.i] == '}';
  if (empty)
    s.i++;
  while (!empty) {
    rmqi_str_t k;
    ws(&s);
    if (s.i >= n || s.p[s.i] != '"')
      return rmqi_err(e, RMQ_ERR_BAD_HEADER, s.i, "expected a field name");
    if ((rc = read_key(&s, &k)) != RMQ_OK || (rc = expect(&s, ':')) != RMQ_OK)
      return rc;
    switch (field_of(&k)) {
    case F_CODE:
      rc = read_int(&s, "code", &c->code);
      break;
    case F_FLAG:
      rc = read_int(&s, "flag", &c->flag);
      break;
    case F_OPAQUE:
      rc = read_int(&s, "opaque", &c->opaque);
      break;
    case F_VERSION:
      rc = read_int(&s, "version", &c->version);
      break;
    case F_LANGUAGE:
      rc = read_lang(&s);
      break;
    case F_REMARK:
      rc = read_text(&s, &c->remark);
      break;
    case F_EXT:
      rc = read_ext(&s);
      break;
    default:
      rc = skip_value(&s);
      break;
    }
    if (rc != RMQ_OK)
      return rc;
    ws(&s);
    if (s.i < n && s.p[s.i] == ',') {
      s.i++;
      continue;
    }
    if ((rc = expect(&s, '}')) != RMQ_OK)
      return rc;
    break;
  }
  ws(&s);
  if (s.i != n)
    return rmqi_err(e, RMQ_ERR_BAD_HEADER, s.i,
                    "trailing bytes after the header object");
  return RMQ_OK;
}

/*
 * JSON command header (framing.md §4). The encoder writes what Java's
 * fastjson writes (keys in alphabetical order, null fields omitted, ext
 * values always strings). The decoder is a one-pass scanner over the header
 * object, tolerant where fastjson is (language as name or ordinal, numbers
 * given as strings, unknown keys ignored) and strict about JSON syntax.
 */
#include "cmd_int.h"
#include "jstr.h"

#include <string.h>

/* Appends a string literal without measuring it at run time. */
#define PUT_LIT(b, lit) rmqi_buf_put((b), (lit), sizeof(lit) - 1)

/* Headers up to this size (worst case, every byte escaped) have their
 * extFields written after one reservation, without a bounds check per
 * string: a request has a dozen short fields, and the checks were most of
 * the cost. Larger ones go string by string. */
#define EXT_DIRECT_MAX (256u * 1024u)

static bool put_ext_direct(rmqi_buf_t *out, const rmqi_cmd_t *c) {
  size_t need = sizeof(",\"extFields\":{}");
  for (uint32_t i = 0; i < c->n_ext; i++) {
    need += 6 * (c->ext[i].key.n + c->ext[i].val.n) + 6;
    if (need > EXT_DIRECT_MAX)
      return false;
  }
  if (!rmqi_buf_ok(out) || (out->limit && out->len + need > out->limit) ||
      (out->cap - out->len < need && !rmqi_buf_reserve(out, need)))
    return false;
  char *o = (char *)out->data + out->len;
  memcpy(o, ",\"extFields\":{", 14);
  o += 14;
  bool first = true;
  for (uint32_t i = 0; i < c->n_ext; i++) {
    const rmqi_ext_t *x = &c->ext[i];
    if (x->key.p == NULL || x->val.p == NULL)
      continue;
    if (!first)
      *o++ = ',';
    first = false;
    o = rmqi_json_put_str_at(o, x->key.p, x->key.n);
    *o++ = ':';
    o = rmqi_json_put_str_at(o, x->val.p, x->val.n);
  }
  *o++ = '}';
  out->len = (size_t)(o - (char *)out->data);
  return true;
}

rmq_err_t rmqi_cmd_encode_json(rmqi_buf_t *out, const rmqi_cmd_t *c) {
  const char *lang = rmqi_lang_name(c->lang);
  if (lang == NULL)
    return RMQ_ERR_INVALID_ARG;
  PUT_LIT(out, "{\"code\":");
  rmqi_buf_put_i64(out, c->code);
  if (c->n_ext && put_ext_direct(out, c))
    ;
  else if (c->n_ext) {
    PUT_LIT(out, ",\"extFields\":{");
    bool first = true;
    for (uint32_t i = 0; i < c->n_ext; i++) {
      const rmqi_ext_t *x = &c->ext[i];
      if (x->key.p == NULL || x->val.p == NULL)
        continue;
      if (!first)
        rmqi_buf_put_u8(out, ',');
      first = false;
      rmqi_json_put_str(out, x->key.p, x->key.n);
      rmqi_buf_put_u8(out, ':');
      rmqi_json_put_str(out, x->val.p, x->val.n);
    }
    rmqi_buf_put_u8(out, '}');
  }
  PUT_LIT(out, ",\"flag\":");
  rmqi_buf_put_i64(out, c->flag);
  PUT_LIT(out, ",\"language\":\"");
  rmqi_buf_put_str(out, lang);
  PUT_LIT(out, "\",\"opaque\":");
  rmqi_buf_put_i64(out, c->opaque);
  if (c->remark.p) {
    PUT_LIT(out, ",\"remark\":");
    rmqi_json_put_str(out, c->remark.p, c->remark.n);
  }
  PUT_LIT(out, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
  rmqi_buf_put_i64(out, c->version);
  rmqi_buf_put_u8(out, '}');
  return rmqi_buf_ok(out) ? RMQ_OK : RMQ_ERR_NOMEM;
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

static void ws(scan_t *s) {
  while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
                         s->p[s->i] == '\n' || s->p[s->i] == '\r'))
    s->i++;
}

static rmq_err_t expect(scan_t *s, char ch) {
  ws(s);
  if (s->i >= s->n)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "header ends early");
  if (s->p[s->i] != ch)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i, "expected '%c', got '%c'",
                    ch, s->p[s->i]);
  s->i++;
  return RMQ_OK;
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
enum { SK_VALUE, SK_VALUE_OR_CLOSE, SK_KEY, SK_KEY_OR_CLOSE, SK_COLON, SK_NEXT };

static rmq_err_t skip_value(scan_t *s) {
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
      rmq_err_t rc = rmqi_json_scan_str(s->p, s->n, &s->i, NULL, NULL, NULL,
                                        s->e);
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
    /* The pool has room for the rest of the header: unescape straight
     * into it in one pass. */
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

/* An int32 field: a number, or a numeric string (fastjson accepts both). */
static rmq_err_t read_int(scan_t *s, const char *name, int32_t *out) {
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
    rmqi_str_t k, v;
    ws(s);
    if (s->i >= s->n || s->p[s->i] != '"')
      return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i,
                      "ext field name is not a string");
    if ((rc = read_text(s, &k)) != RMQ_OK || (rc = expect(s, ':')) != RMQ_OK)
      return rc;
    ws(s);
    if (s->i < s->n && (s->p[s->i] == '{' || s->p[s->i] == '['))
      return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, s->i,
                      "ext field %s is not a scalar", k.p);
    if ((rc = read_text(s, &v)) != RMQ_OK)
      return rc;
    rmqi_ext_t *x = rmqi_cmd_ext_slot(s->c);
    if (x == NULL)
      return rmqi_err(s->e, RMQ_ERR_LIMIT, s->i, "more than %d ext fields",
                      RMQI_MAX_EXT_FIELDS);
    x->key = k;
    x->val = v;
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
  rmq_err_t rc = read_text(s, &t);
  if (rc != RMQ_OK || t.p == NULL)
    return rc;
  int v = rmqi_lang_from_name(t.p, t.n);
  int64_t num;
  if (v < 0 && rmqi_parse_i64(t.p, t.n, &num) && num >= 0 &&
      num <= RMQI_LANG_MAX)
    v = (int)num;
  if (v < 0)
    return rmqi_err(s->e, RMQ_ERR_BAD_HEADER, at, "unknown language \"%s\"",
                    t.p);
  s->c->lang = (uint8_t)v;
  return RMQ_OK;
}

static bool key_is(const rmqi_str_t *k, const char *name) {
  return k->n == strlen(name) && memcmp(k->p, name, k->n) == 0;
}

/* A top-level field name: points into the input when it has no escapes
 * (the usual case: nothing to allocate), else unescaped into the arena. */
static rmq_err_t read_key(scan_t *s, rmqi_str_t *k) {
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
  if ((s.pool = rmqi_arena_alloc(&c->arena, n + 1)) != NULL)
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
    if (key_is(&k, "code"))
      rc = read_int(&s, "code", &c->code);
    else if (key_is(&k, "flag"))
      rc = read_int(&s, "flag", &c->flag);
    else if (key_is(&k, "opaque"))
      rc = read_int(&s, "opaque", &c->opaque);
    else if (key_is(&k, "version"))
      rc = read_int(&s, "version", &c->version);
    else if (key_is(&k, "language"))
      rc = read_lang(&s);
    else if (key_is(&k, "remark"))
      rc = read_text(&s, &c->remark);
    else if (key_is(&k, "extFields"))
      rc = read_ext(&s);
    else
      rc = skip_value(&s);
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

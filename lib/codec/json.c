#include "json.h"

#include "cmd_int.h" /* rmqi_parse_i64 */
#include "jstr.h"

#include <string.h>

typedef struct parser {
  const char *p;
  size_t n, i;
  rmqi_arena_t *a;
  rmqi_errbuf_t *e;
} parser_t;

static void ws(parser_t *ps) {
  while (ps->i < ps->n && (ps->p[ps->i] == ' ' || ps->p[ps->i] == '\t' ||
                           ps->p[ps->i] == '\n' || ps->p[ps->i] == '\r'))
    ps->i++;
}

static rmq_err_t fail(parser_t *ps, const char *why) {
  if (ps->i >= ps->n)
    return rmqi_err(ps->e, RMQ_ERR_BAD_JSON, ps->i, "%s (input ends)", why);
  return rmqi_err(ps->e, RMQ_ERR_BAD_JSON, ps->i, "%s", why);
}

static rmqi_jval_t *new_val(parser_t *ps, rmqi_jtype_t t) {
  rmqi_jval_t *v = rmqi_arena_alloc(ps->a, sizeof(*v));
  if (v) {
    memset(v, 0, sizeof(*v));
    v->type = t;
  }
  return v;
}

static rmq_err_t parse_value(parser_t *ps, int depth, rmqi_jval_t **out);

static rmq_err_t parse_string(parser_t *ps, rmqi_jval_t **out) {
  size_t pos = ps->i, raw, n;
  rmq_err_t rc = rmqi_json_scan_str(ps->p, ps->n, &pos, NULL, &n, &raw, ps->e);
  if (rc != RMQ_OK)
    return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_JSON : rc;
  rmqi_jval_t *v = new_val(ps, RMQI_JSTR);
  char *buf = v ? rmqi_arena_alloc(ps->a, raw + 1) : NULL;
  if (buf == NULL)
    return rmqi_err(ps->e, RMQ_ERR_NOMEM, ps->i, "out of memory");
  if (n == raw) { /* every escape shortens, so this means none */
    memcpy(buf, ps->p + ps->i + 1, n);
    v->n = n;
    ps->i = pos;
  } else {
    rmqi_json_scan_str(ps->p, ps->n, &ps->i, buf, &v->n, NULL, NULL);
  }
  buf[v->n] = '\0';
  v->s = buf;
  *out = v;
  return RMQ_OK;
}

static rmq_err_t parse_number(parser_t *ps, rmqi_jval_t **out) {
  size_t s = ps->i, i = s;
  const char *p = ps->p;
  if (i < ps->n && p[i] == '-')
    i++;
  size_t d = i;
  while (i < ps->n && p[i] >= '0' && p[i] <= '9')
    i++;
  if (i == d || (p[d] == '0' && i - d > 1))
    return fail(ps, "bad number");
  bool integral = true;
  if (i < ps->n && p[i] == '.') {
    integral = false;
    size_t f = ++i;
    while (i < ps->n && p[i] >= '0' && p[i] <= '9')
      i++;
    if (i == f)
      return fail(ps, "bad fraction");
  }
  if (i < ps->n && (p[i] == 'e' || p[i] == 'E')) {
    integral = false;
    i++;
    if (i < ps->n && (p[i] == '+' || p[i] == '-'))
      i++;
    size_t x = i;
    while (i < ps->n && p[i] >= '0' && p[i] <= '9')
      i++;
    if (i == x)
      return fail(ps, "bad exponent");
  }
  rmqi_jval_t *v = new_val(ps, RMQI_JNUM);
  char *t = v ? rmqi_arena_strndup(ps->a, p + s, i - s) : NULL;
  if (t == NULL)
    return rmqi_err(ps->e, RMQ_ERR_NOMEM, s, "out of memory");
  v->s = t;
  v->n = i - s;
  if (integral) {
    /* Exact int64 or not an integer to us (no silent wrap). */
    bool neg = p[s] == '-';
    uint64_t acc = 0;
    bool ok = i - d <= 19;
    for (size_t k = d; ok && k < i; k++)
      acc = acc * 10 + (uint64_t)(p[k] - '0');
    ok = ok && acc <= (uint64_t)INT64_MAX + (neg ? 1u : 0u);
    if (ok) {
      v->is_int = true;
      v->i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    }
  }
  ps->i = i;
  *out = v;
  return RMQ_OK;
}

static rmq_err_t parse_container(parser_t *ps, int depth, rmqi_jval_t **out) {
  bool obj = ps->p[ps->i] == '{';
  char close = obj ? '}' : ']';
  ps->i++;
  rmqi_jval_t *v = new_val(ps, obj ? RMQI_JOBJ : RMQI_JARR);
  if (v == NULL)
    return rmqi_err(ps->e, RMQ_ERR_NOMEM, ps->i, "out of memory");
  size_t cap = 0;
  ws(ps);
  if (ps->i < ps->n && ps->p[ps->i] == close) {
    ps->i++;
    *out = v;
    return RMQ_OK;
  }
  for (;;) {
    rmqi_jval_t *key = NULL, *item;
    rmq_err_t rc;
    if (obj) {
      ws(ps);
      /* fastjson: keys may be numbers or objects, not only strings. */
      if (ps->i < ps->n && ps->p[ps->i] != '"' && ps->p[ps->i] != '{' &&
          ps->p[ps->i] != '-' && (ps->p[ps->i] < '0' || ps->p[ps->i] > '9'))
        return fail(ps, "bad object key");
      if ((rc = parse_value(ps, depth + 1, &key)) != RMQ_OK)
        return rc;
      ws(ps);
      if (ps->i >= ps->n || ps->p[ps->i] != ':')
        return fail(ps, "expected ':'");
      ps->i++;
    }
    if ((rc = parse_value(ps, depth + 1, &item)) != RMQ_OK)
      return rc;
    if (v->n == cap) {
      cap = cap ? cap * 2 : 8;
      size_t sz = obj ? sizeof(rmqi_jmember_t) : sizeof(rmqi_jval_t *);
      void *nb = rmqi_arena_alloc(ps->a, cap * sz);
      if (nb == NULL)
        return rmqi_err(ps->e, RMQ_ERR_NOMEM, ps->i, "out of memory");
      if (v->n)
        memcpy(nb, obj ? (void *)v->members : (void *)v->items, v->n * sz);
      if (obj)
        v->members = nb;
      else
        v->items = nb;
    }
    if (obj)
      v->members[v->n] = (rmqi_jmember_t){key, item};
    else
      v->items[v->n] = item;
    v->n++;
    ws(ps);
    if (ps->i < ps->n && ps->p[ps->i] == ',') {
      ps->i++;
      continue;
    }
    if (ps->i < ps->n && ps->p[ps->i] == close) {
      ps->i++;
      *out = v;
      return RMQ_OK;
    }
    return fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static rmq_err_t parse_value(parser_t *ps, int depth, rmqi_jval_t **out) {
  if (depth > RMQI_JSON_DEPTH)
    return rmqi_err(ps->e, RMQ_ERR_TOO_DEEP, ps->i,
                    "JSON nested deeper than %d", RMQI_JSON_DEPTH);
  ws(ps);
  if (ps->i >= ps->n)
    return fail(ps, "expected a value");
  char c = ps->p[ps->i];
  if (c == '{' || c == '[')
    return parse_container(ps, depth, out);
  if (c == '"')
    return parse_string(ps, out);
  if (c == '-' || (c >= '0' && c <= '9'))
    return parse_number(ps, out);
  static const struct {
    const char *w;
    rmqi_jtype_t t;
    bool b;
  } lits[] = {{"true", RMQI_JBOOL, true},
              {"false", RMQI_JBOOL, false},
              {"null", RMQI_JNULL, false}};
  for (size_t k = 0; k < 3; k++) {
    size_t l = strlen(lits[k].w);
    if (ps->n - ps->i >= l && memcmp(ps->p + ps->i, lits[k].w, l) == 0) {
      rmqi_jval_t *v = new_val(ps, lits[k].t);
      if (v == NULL)
        return rmqi_err(ps->e, RMQ_ERR_NOMEM, ps->i, "out of memory");
      v->b = lits[k].b;
      ps->i += l;
      *out = v;
      return RMQ_OK;
    }
  }
  return fail(ps, "unexpected character");
}

rmq_err_t rmqi_json_parse(rmqi_json_t *doc, const char *p, size_t len,
                          rmqi_errbuf_t *e) {
  /* Bounded by the input: the worst case ("[0,0,0,...]") costs about one
   * 100-byte node per two input bytes. */
  rmqi_arena_init(&doc->arena, len * 64 + 65536);
  parser_t ps = {p, len, 0, &doc->arena, e};
  rmq_err_t rc = parse_value(&ps, 0, &doc->root);
  if (rc == RMQ_OK) {
    ws(&ps);
    if (ps.i != len)
      rc = fail(&ps, "trailing bytes after the document");
  }
  if (rc != RMQ_OK)
    rmqi_arena_free(&doc->arena);
  return rc;
}

void rmqi_json_free(rmqi_json_t *doc) { rmqi_arena_free(&doc->arena); }

const rmqi_jval_t *rmqi_json_get(const rmqi_jval_t *obj, const char *key) {
  if (obj == NULL || obj->type != RMQI_JOBJ)
    return NULL;
  size_t kl = strlen(key);
  const rmqi_jval_t *found = NULL; /* the last duplicate wins, as fastjson */
  for (size_t i = 0; i < obj->n; i++) {
    const rmqi_jval_t *k = obj->members[i].key;
    if (k->type == RMQI_JSTR && k->n == kl && memcmp(k->s, key, kl) == 0)
      found = obj->members[i].val;
  }
  return found;
}

bool rmqi_json_int(const rmqi_jval_t *obj, const char *key, int64_t *out) {
  const rmqi_jval_t *v = rmqi_json_get(obj, key);
  if (v && v->type == RMQI_JNUM && v->is_int) {
    *out = v->i;
    return true;
  }
  /* fastjson binds a numeric string to an int/long field too. */
  return v && v->type == RMQI_JSTR && rmqi_parse_i64(v->s, v->n, out);
}

bool rmqi_json_bool(const rmqi_jval_t *obj, const char *key, bool *out) {
  const rmqi_jval_t *v = rmqi_json_get(obj, key);
  if (v && v->type == RMQI_JBOOL) {
    *out = v->b;
    return true;
  }
  if (v && v->type == RMQI_JSTR && (strcmp(v->s, "true") == 0 ||
                                    strcmp(v->s, "false") == 0)) {
    *out = v->s[0] == 't';
    return true;
  }
  return false;
}

const char *rmqi_json_str(const rmqi_jval_t *obj, const char *key) {
  const rmqi_jval_t *v = rmqi_json_get(obj, key);
  return v && v->type == RMQI_JSTR ? v->s : NULL;
}

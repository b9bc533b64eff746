#include "json.h"

#include "cmd_int.h" /* rmqi_parse_i64 */
#include "jstr.h"

#include <string.h>

#include <stdalign.h>
#include <stdlib.h>

typedef struct parser {
  const char *p;
  size_t n, i;
  rmqi_arena_t *a;
  rmqi_errbuf_t *e;
  /* Members and items of the open containers, copied into the arena at
   * exact size when each closes (growing arrays in the arena left every
   * smaller copy behind). Its capacity counts against the limit. */
  rmqi_jmember_t *stk;
  size_t sp, scap;
  size_t limit; /* arena used + scratch capacity */
  bool over;    /* an allocation failed because of the limit */
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

static rmq_err_t no_mem(parser_t *ps) {
  if (ps->over)
    return rmqi_err(ps->e, RMQ_ERR_LIMIT, ps->i,
                    "JSON document of %zu bytes needs more than %zu bytes of "
                    "memory (%d per input byte + %zu KiB, at most %zu MiB)",
                    ps->n, ps->limit, RMQI_JSON_MEM_PER_BYTE,
                    RMQI_JSON_MEM_BASE >> 10, RMQI_JSON_MEM_MAX >> 20);
  return rmqi_err(ps->e, RMQ_ERR_NOMEM, ps->i, "out of memory");
}

static bool room(parser_t *ps, size_t n) {
  size_t used = ps->a->used + ps->scap * sizeof(*ps->stk);
  if (used > ps->limit || n + 16 > ps->limit - used) {
    ps->over = true;
    return false;
  }
  return true;
}

static void *alloc(parser_t *ps, size_t n, size_t align) {
  return room(ps, n) ? rmqi_arena_alloc_aligned(ps->a, n, align) : NULL;
}

static rmqi_jval_t *new_val(parser_t *ps, rmqi_jtype_t t) {
  rmqi_jval_t *v = alloc(ps, sizeof(*v), alignof(rmqi_jval_t));
  if (v) {
    memset(v, 0, sizeof(*v));
    v->type = (uint8_t)t;
  }
  return v;
}

static bool push(parser_t *ps, rmqi_jval_t *key, rmqi_jval_t *item) {
  if (ps->sp == ps->scap) {
    size_t cap = ps->scap ? ps->scap * 2 : 64;
    if (!room(ps, (cap - ps->scap) * sizeof(*ps->stk)))
      return false;
    rmqi_jmember_t *ns = realloc(ps->stk, cap * sizeof(*ns));
    if (ns == NULL)
      return false;
    ps->stk = ns;
    ps->scap = cap;
  }
  ps->stk[ps->sp++] = (rmqi_jmember_t){key, item};
  return true;
}

static rmq_err_t parse_value(parser_t *ps, int depth, rmqi_jval_t **out);

static rmq_err_t parse_string(parser_t *ps, rmqi_jval_t **out) {
  size_t pos = ps->i, raw, n;
  rmq_err_t rc = rmqi_json_scan_str(ps->p, ps->n, &pos, NULL, &n, &raw, ps->e);
  if (rc != RMQ_OK)
    return rc == RMQ_ERR_TRUNCATED ? RMQ_ERR_BAD_JSON : rc;
  rmqi_jval_t *v = new_val(ps, RMQI_JSTR);
  char *buf = v ? alloc(ps, raw + 1, 1) : NULL;
  if (buf == NULL)
    return no_mem(ps);
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
  char *t =
      v && room(ps, i - s + 1) ? rmqi_arena_strndup(ps->a, p + s, i - s) : NULL;
  if (t == NULL)
    return no_mem(ps);
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
    return no_mem(ps);
  ws(ps);
  if (ps->i < ps->n && ps->p[ps->i] == close) {
    ps->i++;
    *out = v;
    return RMQ_OK;
  }
  size_t base = ps->sp;
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
    if (!push(ps, key, item))
      return no_mem(ps);
    ws(ps);
    if (ps->i < ps->n && ps->p[ps->i] == ',') {
      ps->i++;
      continue;
    }
    if (ps->i < ps->n && ps->p[ps->i] == close) {
      ps->i++;
      break;
    }
    return fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  size_t n = ps->sp - base;
  if (obj) {
    v->members = alloc(ps, n * sizeof(*v->members), alignof(rmqi_jmember_t));
    if (v->members == NULL)
      return no_mem(ps);
    memcpy(v->members, ps->stk + base, n * sizeof(*v->members));
  } else {
    v->items = alloc(ps, n * sizeof(*v->items), alignof(rmqi_jval_t *));
    if (v->items == NULL)
      return no_mem(ps);
    for (size_t k = 0; k < n; k++)
      v->items[k] = ps->stk[base + k].val;
  }
  v->n = n;
  ps->sp = base;
  *out = v;
  return RMQ_OK;
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
        return no_mem(ps);
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
  size_t limit = RMQI_JSON_MEM_MAX;
  if (len < (RMQI_JSON_MEM_MAX - RMQI_JSON_MEM_BASE) / RMQI_JSON_MEM_PER_BYTE)
    limit = len * RMQI_JSON_MEM_PER_BYTE + RMQI_JSON_MEM_BASE;
  rmqi_arena_init(&doc->arena, limit);
  parser_t ps = {p, len, 0, &doc->arena, e, NULL, 0, 0, limit, false};
  rmq_err_t rc = parse_value(&ps, 0, &doc->root);
  if (rc == RMQ_OK) {
    ws(&ps);
    if (ps.i != len)
      rc = fail(&ps, "trailing bytes after the document");
  }
  free(ps.stk);
  if (rc != RMQ_OK)
    rmqi_arena_free(&doc->arena);
  return rc;
}

void rmqi_json_free(rmqi_json_t *doc) {
  rmqi_arena_free(&doc->arena);
}

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
  if (v && v->type == RMQI_JSTR &&
      (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0)) {
    *out = v->s[0] == 't';
    return true;
  }
  return false;
}

const char *rmqi_json_str(const rmqi_jval_t *obj, const char *key) {
  const rmqi_jval_t *v = rmqi_json_get(obj, key);
  return v && v->type == RMQI_JSTR ? v->s : NULL;
}

/* Queue and group bodies (see body_mq.h). */
#include "body_mq.h"

#include "cmd_int.h" /* rmqi_parse_i64 */
#include "json.h"
#include "jstr.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------ */

/* "name": — callers pass `first` so commas need no state. */
static void put_key(rmqi_buf_t *b, const char *k, bool first) {
  if (!first)
    rmqi_buf_put_u8(b, ',');
  rmqi_buf_put_u8(b, '"');
  rmqi_buf_put_str(b, k);
  rmqi_buf_put_str(b, "\":");
}

static void put_s(rmqi_buf_t *b, const char *s) {
  rmqi_json_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* A string property that fastjson would omit when null. */
static bool put_opt(rmqi_buf_t *b, const char *k, const char *v, bool first) {
  if (v == NULL)
    return first;
  put_key(b, k, first);
  put_s(b, v);
  return false;
}

static void put_mq(rmqi_buf_t *b, const rmqi_mqo_t *q) {
  rmqi_buf_put_str(b, "{\"brokerName\":");
  put_s(b, q->broker);
  rmqi_buf_put_str(b, ",\"queueId\":");
  rmqi_buf_put_i64(b, q->queue_id);
  rmqi_buf_put_str(b, ",\"topic\":");
  put_s(b, q->topic);
  rmqi_buf_put_u8(b, '}');
}

void rmqi_lock_req_encode(rmqi_buf_t *b, const rmqi_lock_req_t *r) {
  rmqi_buf_put_u8(b, '{');
  bool first = put_opt(b, "clientId", r->client_id, true);
  first = put_opt(b, "consumerGroup", r->group, first);
  put_key(b, "mqSet", first);
  rmqi_buf_put_u8(b, '[');
  for (size_t i = 0; i < r->n_mqs; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    put_mq(b, &r->mqs[i]);
  }
  rmqi_buf_put_str(b, "],\"onlyThisBroker\":");
  rmqi_buf_put_str(b, r->only_this_broker ? "true}" : "false}");
}

void rmqi_assign_req_encode(rmqi_buf_t *b, const rmqi_assign_req_t *r) {
  rmqi_buf_put_u8(b, '{');
  bool first = put_opt(b, "clientId", r->client_id, true);
  first = put_opt(b, "consumerGroup", r->group, first);
  first = put_opt(b, "messageModel", r->message_model, first);
  first = put_opt(b, "strategyName", r->strategy, first);
  put_opt(b, "topic", r->topic, first);
  rmqi_buf_put_u8(b, '}');
}

void rmqi_check_req_encode(rmqi_buf_t *b, const rmqi_check_req_t *r) {
  rmqi_buf_put_u8(b, '{');
  bool first = put_opt(b, "clientId", r->client_id, true);
  first = put_opt(b, "group", r->group, first);
  first = put_opt(b, "namespace", r->namespace_, first);
  /* SubscriptionData as in the heartbeat; an SQL92 check has no tags. */
  put_key(b, "subscriptionData", first);
  rmqi_buf_put_str(b, "{\"classFilterMode\":false,\"codeSet\":[]");
  put_opt(b, "expressionType", r->expression_type, false);
  put_opt(b, "subString", r->sub_string, false);
  rmqi_buf_put_str(b, ",\"subVersion\":");
  rmqi_buf_put_i64(b, r->sub_version);
  rmqi_buf_put_str(b, ",\"tagsSet\":[]");
  put_opt(b, "topic", r->topic, false);
  rmqi_buf_put_str(b, "}}");
}

/* ---- reading ------------------------------------------------------------ */

int rmqi_mqo_cmp(const rmqi_mqo_t *a, const rmqi_mqo_t *b) {
  int c = strcmp(a->topic, b->topic);
  if (c == 0)
    c = strcmp(a->broker, b->broker);
  if (c == 0)
    c = (a->queue_id > b->queue_id) - (a->queue_id < b->queue_id);
  return c;
}

/* Numbers, or numeric strings (fastjson binds both to int/long fields). */
static bool num_val(const rmqi_jval_t *v, int64_t *out) {
  if (v == NULL)
    return false;
  if (v->type == RMQI_JNUM && v->is_int) {
    *out = v->i;
    return true;
  }
  return v->type == RMQI_JSTR && rmqi_parse_i64(v->s, v->n, out);
}

static rmq_err_t bad(rmqi_errbuf_t *e, const char *what, size_t i) {
  return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0, "%s %zu is not a MessageQueue",
                  what, i);
}

/* Fills @p q from a MessageQueue object; strings copied into @p a. */
static rmq_err_t read_mq(rmqi_arena_t *a, const rmqi_jval_t *o, rmqi_mqo_t *q,
                         const char *what, size_t i, rmqi_errbuf_t *e) {
  const char *t = rmqi_json_str(o, "topic"),
             *b = rmqi_json_str(o, "brokerName");
  int64_t id = 0; /* an absent queueId is Java's default 0 */
  const rmqi_jval_t *qv = rmqi_json_get(o, "queueId");
  if (t == NULL || b == NULL || (qv && !num_val(qv, &id)) || id < INT32_MIN ||
      id > INT32_MAX)
    return bad(e, what, i);
  q->topic = rmqi_arena_strndup(a, t, strlen(t));
  q->broker = rmqi_arena_strndup(a, b, strlen(b));
  if (q->topic == NULL || q->broker == NULL)
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
  q->queue_id = (int32_t)id;
  return RMQ_OK;
}

/* Sort key: the queue, then the input position, so the last duplicate can
 * be kept (Java: the later put into the map wins). */
typedef struct ranked {
  rmqi_mqo_t q;
  size_t at;
} ranked_t;

static int cmp_ranked(const void *x, const void *y) {
  const ranked_t *a = x, *b = y;
  int c = rmqi_mqo_cmp(&a->q, &b->q);
  return c ? c : (a->at > b->at) - (a->at < b->at);
}

static void sort_unique(rmqi_mqlist_t *l, ranked_t *r, size_t n) {
  qsort(r, n, sizeof(*r), cmp_ranked);
  l->n = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && rmqi_mqo_cmp(&r[i].q, &r[i + 1].q) == 0)
      continue; /* a later duplicate follows */
    l->v[l->n++] = r[i].q;
  }
}

/* Parses @p json, checks the root is an object, and hands back @p member
 * (NULL when absent). The list's arena is set up here. */
static rmq_err_t open_body(rmqi_json_t *doc, rmqi_arena_t *a, const char *json,
                           size_t len, const char *member,
                           const rmqi_jval_t **out, rmqi_errbuf_t *e) {
  rmq_err_t rc = rmqi_json_parse(doc, json, len, e);
  if (rc != RMQ_OK)
    return rc;
  if (doc->root->type != RMQI_JOBJ) {
    rmqi_json_free(doc);
    return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0, "body is not a JSON object");
  }
  /* Strings are copies of input text: bounded by the input, plus arrays. */
  rmqi_arena_init(a, len * 8 + 4096);
  *out = rmqi_json_get(doc->root, member);
  return RMQ_OK;
}

rmq_err_t rmqi_lock_resp_decode(rmqi_mqlist_t *l, const char *json, size_t len,
                                rmqi_errbuf_t *e) {
  memset(l, 0, sizeof(*l));
  rmqi_json_t doc;
  const rmqi_jval_t *set = NULL; /* (gcc -O3 cannot see open_body set it) */
  rmq_err_t rc = open_body(&doc, &l->arena, json, len, "lockOKMQSet", &set, e);
  if (rc != RMQ_OK)
    return rc;
  size_t n = set && set->type == RMQI_JARR ? set->n : 0;
  if (set && set->type != RMQI_JARR && set->type != RMQI_JNULL) {
    rc = rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0, "lockOKMQSet is not an array");
    goto out;
  }
  ranked_t *r = rmqi_arena_alloc(&l->arena, (n + 1) * sizeof(*r));
  l->v = rmqi_arena_alloc(&l->arena, (n + 1) * sizeof(*l->v));
  if (r == NULL || l->v == NULL) {
    rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n && rc == RMQ_OK; i++) {
    r[i].at = i;
    r[i].q.offset = 0;
    rc = read_mq(&l->arena, set->items[i], &r[i].q, "lockOKMQSet entry", i, e);
  }
  if (rc == RMQ_OK)
    sort_unique(l, r, n);
out:
  rmqi_json_free(&doc);
  if (rc != RMQ_OK)
    rmqi_mqlist_free(l);
  return rc;
}

/* One offsetTable member: key is a MessageQueue object, or a string holding
 * one (parsed again, with the same bounds). */
static rmq_err_t read_offset_member(rmqi_arena_t *a, const rmqi_jmember_t *m,
                                    ranked_t *r, size_t i, rmqi_errbuf_t *e) {
  const char *what = "offsetTable key";
  if (!num_val(m->val, &r->q.offset))
    return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0,
                    "offsetTable value %zu is not an integer", i);
  if (m->key->type == RMQI_JOBJ)
    return read_mq(a, m->key, &r->q, what, i, e);
  if (m->key->type != RMQI_JSTR)
    return bad(e, what, i);
  rmqi_json_t kd;
  rmq_err_t rc = rmqi_json_parse(&kd, m->key->s, m->key->n, e);
  if (rc != RMQ_OK)
    return bad(e, what, i);
  rc = kd.root->type == RMQI_JOBJ ? read_mq(a, kd.root, &r->q, what, i, e)
                                  : bad(e, what, i);
  rmqi_json_free(&kd);
  return rc;
}

rmq_err_t rmqi_reset_offset_decode(rmqi_mqlist_t *l, const char *json,
                                   size_t len, rmqi_errbuf_t *e) {
  memset(l, 0, sizeof(*l));
  rmqi_json_t doc;
  const rmqi_jval_t *t = NULL;
  rmq_err_t rc = open_body(&doc, &l->arena, json, len, "offsetTable", &t, e);
  if (rc != RMQ_OK)
    return rc;
  if (t == NULL || (t->type != RMQI_JOBJ && t->type != RMQI_JARR)) {
    rc = rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0,
                  "offsetTable is missing or not an object or array");
    goto out;
  }
  ranked_t *r = rmqi_arena_alloc(&l->arena, (t->n + 1) * sizeof(*r));
  l->v = rmqi_arena_alloc(&l->arena, (t->n + 1) * sizeof(*l->v));
  if (r == NULL || l->v == NULL) {
    rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < t->n && rc == RMQ_OK; i++) {
    r[i].at = i;
    if (t->type == RMQI_JOBJ) {
      rc = read_offset_member(&l->arena, &t->members[i], &r[i], i, e);
    } else { /* ResetOffsetBodyForC */
      rc = read_mq(&l->arena, t->items[i], &r[i].q, "offsetTable entry", i, e);
      if (rc == RMQ_OK &&
          !num_val(rmqi_json_get(t->items[i], "offset"), &r[i].q.offset))
        rc = rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0,
                      "offsetTable entry %zu has no integer offset", i);
    }
  }
  if (rc == RMQ_OK)
    sort_unique(l, r, t->n);
out:
  rmqi_json_free(&doc);
  if (rc != RMQ_OK)
    rmqi_mqlist_free(l);
  return rc;
}

void rmqi_mqlist_free(rmqi_mqlist_t *l) {
  rmqi_arena_free(&l->arena);
  l->v = NULL;
  l->n = 0;
}

rmq_err_t rmqi_consumer_list_decode(rmqi_strlist_t *l, const char *json,
                                    size_t len, rmqi_errbuf_t *e) {
  memset(l, 0, sizeof(*l));
  rmqi_json_t doc;
  const rmqi_jval_t *ids = NULL;
  rmq_err_t rc =
      open_body(&doc, &l->arena, json, len, "consumerIdList", &ids, e);
  if (rc != RMQ_OK)
    return rc;
  size_t n = ids && ids->type == RMQI_JARR ? ids->n : 0;
  if (ids && ids->type != RMQI_JARR && ids->type != RMQI_JNULL) {
    rc = rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0, "consumerIdList is not an array");
    goto out;
  }
  l->v = rmqi_arena_alloc(&l->arena, (n + 1) * sizeof(*l->v));
  if (l->v == NULL) {
    rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const rmqi_jval_t *v = ids->items[i];
    if (v->type != RMQI_JSTR) {
      rc = rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0,
                    "consumerIdList entry %zu is not a string", i);
      goto out;
    }
    if ((l->v[i] = rmqi_arena_strndup(&l->arena, v->s, v->n)) == NULL) {
      rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
      goto out;
    }
    l->n++;
  }
out:
  rmqi_json_free(&doc);
  if (rc != RMQ_OK)
    rmqi_strlist_free(l);
  return rc;
}

void rmqi_strlist_free(rmqi_strlist_t *l) {
  rmqi_arena_free(&l->arena);
  l->v = NULL;
  l->n = 0;
}

#include "trace.h"

#include <string.h>

static void put_s(rmqi_buf_t *b, const char *s, char end) {
  rmqi_buf_put_str(b, s ? s : "null");
  rmqi_buf_put_u8(b, (uint8_t)end);
}

static void put_i(rmqi_buf_t *b, int64_t v, char end) {
  rmqi_buf_put_i64(b, v);
  rmqi_buf_put_u8(b, (uint8_t)end);
}

static void put_b(rmqi_buf_t *b, bool v, char end) {
  put_s(b, v ? "true" : "false", end);
}

static const char *const type_names[] = {"Pub", "SubBefore", "SubAfter",
                                         "EndTransaction"};

/* What Pub, SubBefore and EndTransaction begin with. */
static void put_context(rmqi_buf_t *d, const rmqi_trace_ctx_t *c, char sep) {
  put_s(d, type_names[c->type], sep);
  put_i(d, c->timestamp, sep);
  put_s(d, c->region_id, sep);
  put_s(d, c->group, sep);
}

/* What Pub and EndTransaction say of the message next. */
static void put_message(rmqi_buf_t *d, const rmqi_trace_bean_t *b, char sep) {
  put_s(d, b->topic, sep);
  put_s(d, b->msg_id, sep);
  put_s(d, b->tags, sep);
  put_s(d, b->keys, sep);
  put_s(d, b->store_host, sep);
}

/* Whether the ' '-terminated word @p w (n bytes) is already in @p keys. */
static bool has_key(const rmqi_buf_t *keys, const char *w, size_t n) {
  const char *p = (const char *)keys->data, *end = p + keys->len;
  while (p && p < end) {
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL)
      return false;
    if ((size_t)(sp - p) == n && memcmp(p, w, n) == 0)
      return true;
    p = sp + 1;
  }
  return false;
}

static void add_key(rmqi_buf_t *keys, const char *w, size_t n) {
  if (n == 0 || has_key(keys, w, n))
    return;
  rmqi_buf_put(keys, w, n);
  rmqi_buf_put_u8(keys, ' ');
}

/* TraceTransferBean.transKey: msgId, then the keys (KEY_SEPARATOR ' '). */
static void bean_keys(rmqi_buf_t *keys, const rmqi_trace_bean_t *b) {
  const char *id = b->msg_id ? b->msg_id : "null";
  add_key(keys, id, strlen(id));
  for (const char *p = b->keys; p && *p;) {
    const char *sp = strchr(p, ' ');
    size_t n = sp ? (size_t)(sp - p) : strlen(p);
    add_key(keys, p, n);
    p += n + (sp != NULL);
  }
}

void rmqi_trace_encode(const rmqi_trace_ctx_t *c, rmqi_buf_t *d,
                       rmqi_buf_t *keys) {
  const char C = RMQI_TRACE_CONTENT_SPLITOR, F = RMQI_TRACE_FIELD_SPLITOR;
  if (c->n_beans == 0)
    return;
  const rmqi_trace_bean_t *b = c->beans;
  size_t n = c->type == RMQI_TRACE_PUB || c->type == RMQI_TRACE_END_TX
                 ? 1
                 : c->n_beans;
  for (size_t i = 0; i < n; i++, b++) {
    switch (c->type) {
    case RMQI_TRACE_PUB:
      put_context(d, c, C);
      put_message(d, b, C);
      put_i(d, b->body_length, C);
      put_i(d, c->cost_time, C);
      put_i(d, b->msg_type, C);
      put_s(d, b->offset_msg_id, C);
      put_b(d, c->success, F);
      break;
    case RMQI_TRACE_SUB_BEFORE:
      put_context(d, c, C);
      put_s(d, c->request_id, C);
      put_s(d, b->msg_id, C);
      put_i(d, b->retry_times, C);
      put_s(d, b->keys, F);
      break;
    case RMQI_TRACE_SUB_AFTER: /* AccessChannel.LOCAL: with time and group */
      put_s(d, type_names[c->type], C);
      put_s(d, c->request_id, C);
      put_s(d, b->msg_id, C);
      put_i(d, c->cost_time, C);
      put_b(d, c->success, C);
      put_s(d, b->keys, C);
      put_i(d, c->context_code, C);
      put_i(d, c->timestamp, C);
      put_s(d, c->group, F);
      break;
    case RMQI_TRACE_END_TX:
      put_context(d, c, C);
      put_message(d, b, C);
      put_i(d, b->msg_type, C);
      put_s(d, b->transaction_id, C);
      put_s(d, b->transaction_state, C);
      put_b(d, b->from_transaction_check, F);
      break;
    }
  }
  for (size_t i = 0; keys && i < c->n_beans; i++)
    bean_keys(keys, &c->beans[i]);
}

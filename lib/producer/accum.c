#include "accum.h"

#include "../codec/batch.h"
#include "../util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ------------------------------------------------------------ */

static void batch_free(rmqi_acc_batch_t *b) {
  free(b->topic);
  free(b->tag);
  rmqi_buf_free(&b->body);
  rmqi_buf_free(&b->props);
  free(b->m);
  free(b);
}

static rmqi_acc_batch_t *batch_new(const char *topic, const char *tag,
                                   bool wait, int64_t due_ms, size_t room) {
  rmqi_acc_batch_t *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return NULL;
  rmqi_buf_init(&b->body);
  rmqi_buf_init(&b->props);
  b->topic = strdup(topic);
  b->tag = tag ? strdup(tag) : NULL;
  b->wait = wait;
  b->due_ms = due_ms;
  /* The wrapper carries WAIT only (see rmqi_prep_batch): a 4.9 broker
   * appends the wrapper's properties to every member's. */
  rmqi_buf_put_str(&b->props, "WAIT\001");
  rmqi_buf_put_str(&b->props, wait ? "true\002" : "false\002");
  rmqi_buf_reserve(&b->body, room); /* growing by realloc costs per send */
  if (b->topic == NULL || (tag && b->tag == NULL) || !rmqi_buf_ok(&b->props)) {
    batch_free(b);
    return NULL;
  }
  return b;
}

static bool batch_matches(const rmqi_acc_batch_t *b, const char *topic,
                          const char *tag, bool wait) {
  return b->wait == wait && strcmp(b->topic, topic) == 0 &&
         (b->tag == NULL ? tag == NULL : tag && strcmp(b->tag, tag) == 0);
}

static bool batch_append(rmqi_acc_batch_t *b, const rmqi_prep_t *pr,
                         rmq_msg_t *msg, rmq_send_cb *cb, void *opaque) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    rmqi_acc_member_t *m = realloc(b->m, cap * sizeof(*m));
    if (m == NULL)
      return false;
    b->m = m;
    b->cap = cap;
  }
  size_t len = b->body.len;
  rmqi_batch_put(&b->body, pr->flag, pr->body, pr->body_len,
                 (const char *)pr->props.data, pr->props.len);
  if (!rmqi_buf_ok(&b->body)) {
    b->body.len = len;
    return false;
  }
  rmqi_acc_member_t *m = &b->m[b->n++];
  m->msg = msg;
  m->cb = cb;
  m->opaque = opaque;
  memcpy(m->uniq, pr->uniq, sizeof(m->uniq));
  b->held += (int64_t)msg->body_len;
  return true;
}

/* Java's readyToSend, by size: the bodies exceed batchMaxBytes. */
static bool batch_full(const rmqi_accum_t *a, const rmqi_acc_batch_t *b) {
  return b->held > a->hold_bytes;
}

/* ---- the accumulator ---------------------------------------------------- */

/* Lock held: unlinks @p b from the open list. */
static void unlink_batch(rmqi_accum_t *a, rmqi_acc_batch_t *b) {
  for (rmqi_acc_batch_t **pp = &a->open; *pp; pp = &(*pp)->next)
    if (*pp == b) {
      *pp = b->next;
      b->next = NULL;
      return;
    }
}

/* Lock held: unlinks the batches due by @p now (all when @p now < 0). */
static rmqi_acc_batch_t *take_due(rmqi_accum_t *a, int64_t now) {
  rmqi_acc_batch_t *out = NULL, **tail = &out;
  for (rmqi_acc_batch_t **pp = &a->open; *pp;) {
    rmqi_acc_batch_t *b = *pp;
    if (now < 0 || b->due_ms <= now) {
      *pp = b->next;
      b->next = NULL;
      *tail = b;
      tail = &b->next;
    } else {
      pp = &b->next;
    }
  }
  return out;
}

static void ship_list(rmqi_accum_t *a, rmqi_acc_batch_t *b) {
  while (b) {
    rmqi_acc_batch_t *next = b->next;
    b->next = NULL;
    a->ship(a->arg, b);
    b = next;
  }
}

static void *run(void *arg) {
  rmqi_accum_t *a = arg;
  pthread_mutex_lock(&a->lock);
  while (!a->stopping) {
    int64_t now = rmqi_now_ms(), due = INT64_MAX;
    for (rmqi_acc_batch_t *b = a->open; b; b = b->next)
      due = RMQI_MIN(due, b->due_ms);
    if (due <= now) {
      rmqi_acc_batch_t *list = take_due(a, now);
      pthread_mutex_unlock(&a->lock);
      ship_list(a, list);
      pthread_mutex_lock(&a->lock);
      continue;
    }
    /* Batches open in due order, so an add only wakes us when it opens
     * the first one. */
    if (due == INT64_MAX)
      due = now + 60000;
    struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000};
    pthread_cond_timedwait(&a->cond, &a->lock, &ts);
  }
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

rmq_err_t rmqi_accum_init(rmqi_accum_t *a, const rmqi_conf_vals_t *conf,
                          rmqi_acc_ship_fn ship, void *arg) {
  memset(a, 0, sizeof(*a));
  a->hold_ms = conf->batch_max_delay_ms;
  a->hold_bytes = conf->batch_max_bytes;
  a->total_bytes = conf->total_batch_max_bytes;
  a->max_size = conf->max_message_size;
  a->ship = ship;
  a->arg = arg;
  pthread_mutex_init(&a->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&a->thread, NULL, run, a) != 0) {
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    return RMQ_ERR_NOMEM;
  }
  return RMQ_OK;
}

/* What batching needs from a message's properties, in one pass over
 * them (six lookups by name per message were a seventh of an autoBatch
 * send's instructions). */
typedef struct batch_props {
  const char *tags, *wait;
  bool blocked; /* a delay, a reply or a typed message: not batched */
} batch_props_t;

static void batch_props(const rmq_msg_t *m, batch_props_t *o) {
  *o = (batch_props_t){0};
  for (size_t i = 0; i < m->n_props; i++) {
    const char *k = m->props[i].name, *v = m->props[i].value;
    switch (k[0]) {
    case 'D':
    case 'T':
      if (strcmp(k, "TAGS") == 0) {
        if (o->tags == NULL)
          o->tags = v;
      } else if (strcmp(k, "DELAY") == 0 ||
                 strcmp(k, "TIMER_DELAY_MS") == 0 ||
                 strcmp(k, "TIMER_DELAY_SEC") == 0 ||
                 strcmp(k, "TIMER_DELIVER_MS") == 0) {
        /* Java: getDelayTimeLevel() > 0 ... */
        o->blocked = o->blocked || strtoll(v, NULL, 10) > 0;
      }
      break;
    case 'W':
      if (o->wait == NULL && strcmp(k, "WAIT") == 0)
        o->wait = v;
      break;
    case 'P':
    case 'M':
      /* A reply must go as SEND_REPLY_MESSAGE_V2 (Java batches only plain
       * messages). */
      o->blocked = o->blocked || strcmp(k, "PGROUP") == 0 ||
                   strcmp(k, "MSG_TYPE") == 0;
      break;
    default:
      break;
    }
  }
}

bool rmqi_accum_eligible(const rmq_msg_t *m) {
  batch_props_t bp;
  batch_props(m, &bp);
  return !bp.blocked && strncmp(m->topic, "%RETRY%", 7) != 0;
}

/* Lock held: a new empty batch at the end of the open list (which stays in
 * due order). */
static rmqi_acc_batch_t *open_batch(rmqi_accum_t *a, const char *topic,
                                    const char *tag, bool wait) {
  /* Bodies leave past hold_bytes; entry headers and properties add to
   * that, about half again for small bodies. */
  size_t room = (size_t)RMQI_MIN(
      a->max_size, RMQI_MIN(a->hold_bytes * 3 / 2 + 4096, INT64_C(1) << 20));
  rmqi_acc_batch_t *b =
      batch_new(topic, tag, wait, rmqi_now_ms() + a->hold_ms, room);
  if (b == NULL)
    return NULL;
  if (a->open == NULL)
    pthread_cond_signal(&a->cond); /* the thread may sleep without a due */
  rmqi_acc_batch_t **pp = &a->open;
  while (*pp)
    pp = &(*pp)->next;
  *pp = b;
  return b;
}

rmq_err_t rmqi_accum_add(rmqi_accum_t *a, const rmqi_prep_t *pr, rmq_msg_t *msg,
                         rmq_send_cb *cb, void *opaque) {
  batch_props_t bp;
  batch_props(msg, &bp);
  const char *tag = bp.tags;
  bool wait = bp.wait == NULL || strcmp(bp.wait, "true") == 0;
  size_t entry = 22 + pr->body_len + pr->props.len;
  if ((int64_t)entry > a->max_size)
    return RMQ_ERR_MSG_TOO_LARGE;
  pthread_mutex_lock(&a->lock);
  rmq_err_t rc = a->stopping                 ? RMQ_ERR_STATE
                 : a->held >= a->total_bytes ? RMQ_ERR_QUEUE_FULL
                                             : RMQ_OK;
  rmqi_acc_batch_t *b = NULL, *ship = NULL;
  for (b = a->open; rc == RMQ_OK && b; b = b->next)
    if (batch_matches(b, pr->topic, tag, wait))
      break;
  if (rc == RMQ_OK && b && (int64_t)(b->body.len + entry) > a->max_size) {
    /* Java would send it anyway, and its size check fail the whole
     * batch: the open batch leaves first, the message opens the next. */
    unlink_batch(a, b);
    ship = b;
    b = NULL;
  }
  if (rc == RMQ_OK && b == NULL)
    b = open_batch(a, pr->topic, tag, wait);
  if (rc == RMQ_OK && b == NULL)
    rc = RMQ_ERR_NOMEM;
  if (rc == RMQ_OK && !batch_append(b, pr, msg, cb, opaque)) {
    rc = RMQ_ERR_NOMEM;
    if (b->n == 0) {
      unlink_batch(a, b);
      batch_free(b);
    }
  }
  if (rc == RMQ_OK) {
    a->held += (int64_t)msg->body_len;
    if (batch_full(a, b)) {
      unlink_batch(a, b);
      if (ship)
        ship->next = b; /* after the older one */
      else
        ship = b;
    }
  }
  pthread_mutex_unlock(&a->lock);
  ship_list(a, ship);
  return rc;
}

void rmqi_accum_drain(rmqi_accum_t *a) {
  pthread_mutex_lock(&a->lock);
  rmqi_acc_batch_t *list = take_due(a, -1);
  pthread_mutex_unlock(&a->lock);
  ship_list(a, list);
}

void rmqi_accum_close(rmqi_accum_t *a) {
  pthread_mutex_lock(&a->lock);
  bool was = a->stopping;
  a->stopping = true;
  pthread_cond_signal(&a->cond);
  pthread_mutex_unlock(&a->lock);
  if (!was)
    pthread_join(a->thread, NULL);
  rmqi_accum_drain(a);
}

void rmqi_accum_free(rmqi_accum_t *a) {
  pthread_cond_destroy(&a->cond);
  pthread_mutex_destroy(&a->lock);
}

/* ---- results ------------------------------------------------------------ */

void rmqi_accum_prep(const rmqi_acc_batch_t *b, rmqi_prep_t *pr) {
  memset(pr, 0, sizeof(*pr));
  pr->topic = b->topic;
  pr->props = b->props; /* borrowed: never freed through @p pr */
  pr->body = b->body.data;
  pr->body_len = b->body.len;
  pr->born_ms = rmqi_wall_ms();
  pr->batch = true;
  pr->n_msgs = b->n;
  pr->msg_bytes = (size_t)b->held;
  pr->reconsume_times = pr->max_reconsume_times = -1;
}

/* The @p i-th comma-separated piece of @p s, copied into @p out. */
static const char *piece(const char *s, size_t i, char *out, size_t n) {
  for (; i > 0 && s; i--)
    if ((s = strchr(s, ',')) != NULL)
      s++;
  if (s == NULL)
    return "";
  size_t len = strcspn(s, ",");
  snprintf(out, n, "%.*s", (int)RMQI_MIN(len, n - 1), s);
  return out;
}

static size_t pieces(const char *s) {
  size_t k = 1;
  for (; *s; s++)
    k += *s == ',';
  return k;
}

void rmqi_accum_deliver(rmqi_accum_t *a, rmqi_acc_batch_t *b, rmq_producer_t *p,
                        rmq_err_t rc, const rmq_send_result_t *res) {
  rmq_send_result_t r = *res;
  r.internal_ = NULL;
  char why[160];
  const char *ids = res->offset_msg_id ? res->offset_msg_id : "";
  /* Java's splitSendResults: one offset id per member, or the batch
   * fails; a reply without ids leaves them empty. */
  if (rc == RMQ_OK && b->n > 1 && ids[0] && pieces(ids) != b->n) {
    rc = RMQ_ERR_BAD_RESPONSE;
    snprintf(why, sizeof(why),
             "the broker answered %zu offset message ids for a batch of %zu",
             pieces(ids), b->n);
    r.error = why;
  }
  for (size_t i = 0; i < b->n; i++) {
    char off[128];
    rmqi_acc_member_t *m = &b->m[i];
    r.msg_id = m->uniq;
    if (rc == RMQ_OK) {
      r.offset_msg_id = b->n > 1 ? piece(ids, i, off, sizeof(off)) : ids;
      r.queue_offset = res->queue_offset >= 0 ? res->queue_offset + (int64_t)i
                                              : res->queue_offset;
    }
    m->cb(p, rc, &r, m->msg, m->opaque);
    rmq_msg_destroy(m->msg);
  }
  pthread_mutex_lock(&a->lock);
  a->held -= b->held;
  pthread_mutex_unlock(&a->lock);
  batch_free(b);
}

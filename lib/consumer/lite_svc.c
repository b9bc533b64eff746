/*
 * The lite pull consumer's service thread: rebalance (Java RebalanceImpl,
 * client-behaviour.md §7), start offsets of new queues (§8
 * computePullFromWhere) and offset commits (§8 "Committing"). All of it
 * needs blocking calls, so it runs here, never on the loop thread.
 */
#include "lite_int.h"

#include "../codec/body_mq.h"
#include "../util/time.h"
#include "allocate.h"
#include "offsets.h"
#include "push.h"
#include "queues.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RC_GET_CONSUMER_LIST_BY_GROUP = 38 };

/* "<group>: <what> <a>: <b>" at WARN. */
static void lg(lite_t *l, const char *what, const char *a, const char *b) {
  rmqi_log(&l->client->log, RMQ_LOG_WARN, "consumer", "%s: %s %s: %s", l->group,
           what, a, b);
}

/* ---- start offsets ------------------------------------------------------ */

static bool file_offset(lite_t *l, const char *topic, const char *broker,
                        int32_t qid, int64_t *out) {
  const rmqi_mqo_t *m = rmqi_mqo_tab_find(&l->file_offsets, topic, broker, qid);
  if (m)
    *out = m->offset;
  return m != NULL;
}

rmq_err_t rmqi_lite_start_offset(lite_t *l, const char *topic,
                                 const char *broker, int32_t qid,
                                 int64_t *out) {
  char addr[128], err[256] = "";
  if (!rmqi_lite_addr(l, topic, broker, 0, addr, sizeof(addr), NULL))
    return RMQ_ERR_NO_ROUTE;
  rmq_client_t *c = l->client;
  rmq_err_t rc;
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    pthread_mutex_lock(&l->lock);
    bool found = file_offset(l, topic, broker, qid, out);
    pthread_mutex_unlock(&l->lock);
    if (found)
      return RMQ_OK;
    rc = RMQ_ERR_NOT_FOUND;
  } else {
    rc = rmqi_consumer_offset(c, addr, l->group, topic, broker, qid, out, err,
                              sizeof(err));
    if (rc == RMQ_OK && *out >= 0)
      return RMQ_OK;
  }
  if (rc != RMQ_ERR_NOT_FOUND && rc != RMQ_OK) {
    if (rc != RMQ_ERR_SHUTDOWN) /* a lookup cut short by destroy: normal */
      lg(l, "committed offset of", topic, err);
    return rc;
  }
  bool retry = strncmp(topic, "%RETRY%", 7) == 0;
  switch (l->conf.v.consume_from_where) {
  case RMQI_FROM_FIRST_OFFSET:
    *out = 0;
    return RMQ_OK;
  case RMQI_FROM_TIMESTAMP:
    if (!retry) {
      int64_t ts = l->start_ms - 30 * 60 * 1000;
      if (l->conf.v.consume_timestamp[0])
        rmqi_conf_timestamp_ms(l->conf.v.consume_timestamp, &ts);
      return rmqi_queue_offset(c, addr, RMQI_OFF_BY_TIME, topic, broker, qid,
                               ts, out, err, sizeof(err));
    }
    break;
  default:
    if (retry) {
      *out = 0;
      return RMQ_OK;
    }
  }
  return rmqi_queue_offset(c, addr, RMQI_OFF_MAX, topic, broker, qid, 0, out,
                           err, sizeof(err));
}

/* Finds the start offset of every queue that has none yet, in one pass: a
 * queue whose lookup failed waits for a later pass (else, with lookups
 * timing out, the pass never ends: no rebalance, no commit, and destroy()
 * waits for ever); stops when the thread is told to. The pass's queues are
 * picked in one walk of the list (held, so they stay), not one walk per
 * queue: a rebalance may bring tens of thousands. */
static void seed(lite_t *l) {
  int64_t pass = rmqi_now_ms();
  size_t n = 0, cap = 0;
  lq_t **v = NULL;
  pthread_mutex_lock(&l->lock);
  for (lq_t *q = l->queues; q && !l->closed && !l->svc_stop; q = q->next) {
    if (q->dropped || q->seeding || q->pull_offset >= 0 || q->due_ms > pass ||
        (l->push && !rmqi_push_may_pull(l, q)))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 64;
      lq_t **nv = realloc(v, nc * sizeof(*nv));
      if (nv == NULL)
        break; /* the rest waits for the next pass */
      v = nv;
      cap = nc;
    }
    q->seeding = true;
    q->holds++;
    v[n++] = q;
  }
  pthread_mutex_unlock(&l->lock);
  /* In chunks: the lock is taken twice per chunk, not per queue (the loop
   * thread walks the queues under it every tick). A chunk ends after
   * CHUNK queues, after 20 ms, or at a lookup that failed other than
   * locally, so results are applied promptly and a stop is seen at once. */
  enum { CHUNK = 64 };
  struct {
    bool go;
    uint64_t gen;
    rmq_err_t rc;
    int64_t off;
  } c[CHUNK];
  for (size_t i = 0; i < n;) {
    size_t end = RMQI_MIN(n, i + CHUNK), j = i;
    pthread_mutex_lock(&l->lock);
    bool stop = l->closed || l->svc_stop;
    for (size_t k = i; k < end; k++) {
      lq_t *q = v[k];
      c[k - i].go = !stop && !q->dropped && q->pull_offset < 0;
      c[k - i].gen = q->gen;
    }
    pthread_mutex_unlock(&l->lock);
    int64_t t0 = rmqi_now_ms();
    while (j < end) {
      lq_t *q = v[j];
      c[j - i].rc = RMQ_ERR_SHUTDOWN;
      c[j - i].off = -1;
      if (c[j - i].go)
        c[j - i].rc = rmqi_lite_start_offset(l, q->topic, q->broker, q->qid,
                                             &c[j - i].off);
      rmq_err_t rc = c[j - i].rc;
      j++;
      if ((c[j - 1 - i].go && rc != RMQ_OK && rc != RMQ_ERR_NO_ROUTE) ||
          rmqi_now_ms() - t0 >= 20)
        break;
    }
    pthread_mutex_lock(&l->lock);
    for (size_t k = i; k < j; k++) {
      lq_t *q = v[k];
      q->seeding = false;
      if (c[k - i].go && q->gen == c[k - i].gen && !q->dropped &&
          q->pull_offset < 0) {
        if (c[k - i].rc == RMQ_OK && c[k - i].off >= 0) {
          q->pull_offset = c[k - i].off;
          q->consumed = q->done = c[k - i].off; /* Java's first pull sets
                                                   the consume offset */
          q->due_ms = 0;
        } else {
          q->due_ms = rmqi_now_ms() + l->conf.v.pull_delay_on_exception_ms;
        }
      }
      rmqi_lite_release(l, q);
    }
    pthread_mutex_unlock(&l->lock);
    i = j;
  }
  free(v);
}

/* ---- commits --------------------------------------------------------------
 */

static rmq_err_t save_file(lite_t *l) {
  char err[256];
  rmq_err_t rc = rmqi_offset_file_save(l->offset_path, l->file_offsets.v,
                                       l->file_offsets.n, err, sizeof(err));
  if (rc != RMQ_OK)
    rmqi_log(&l->client->log, RMQ_LOG_ERROR, "offsets", "%s", err);
  return rc;
}

static rmq_err_t file_put(lite_t *l, const char *topic, const char *broker,
                          int32_t qid, int64_t offset) {
  return rmqi_mqo_tab_put(&l->file_offsets, topic, broker, qid, offset);
}

rmq_err_t rmqi_lite_commit_one(lite_t *l, const char *topic, const char *broker,
                               int32_t qid, int64_t offset, bool sync) {
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    pthread_mutex_lock(&l->lock);
    rmq_err_t rc = file_put(l, topic, broker, qid, offset);
    if (rc == RMQ_OK && sync)
      rc = save_file(l);
    pthread_mutex_unlock(&l->lock);
    return rc;
  }
  char addr[128], err[256];
  if (!rmqi_lite_addr(l, topic, broker, 0, addr, sizeof(addr), NULL))
    return RMQ_ERR_NO_ROUTE;
  rmq_err_t rc = rmqi_commit_offset(l->client, addr, l->group, topic, broker,
                                    qid, offset, !sync, err, sizeof(err));
  if (rc != RMQ_OK)
    lg(l, "commit failed at", addr, err);
  return rc;
}

bool rmqi_lite_may_commit(const lite_t *l, const lq_t *q) {
  return l->push == NULL || rmqi_push_may_commit(l, q);
}

void rmqi_lite_commit_mem(lite_t *l) {
  for (lq_t *q = l->queues; q; q = q->next) {
    if (l->push && !q->dropped)
      rmqi_push_sync_offset(l, q);
    if (!q->dropped && q->consumed >= 0)
      q->commit_mem = q->consumed;
  }
}

void rmqi_lite_drop_keep(lite_t *l, lq_t *q, gone_list_t *g) {
  bool may_commit = rmqi_lite_may_commit(l, q); /* before the unlock */
  if (l->push) {
    rmqi_push_sync_offset(l, q);
    rmqi_push_on_drop(l, q);
  }
  /* push: nothing unfinished before `consumed`; a pull consumer's
   * application may still be processing its last poll: only what it had
   * before (fewer repeats for the queue's next owner than Java's last
   * auto-commit point, and nothing it has not finished) */
  int64_t upto = l->push ? q->consumed : q->done;
  if (l->conf.v.auto_commit && upto >= 0)
    q->commit_mem = upto;
  if (may_commit && q->commit_mem >= 0 && q->commit_mem != q->committed) {
    bool ok = true;
    if (g->n == g->cap) {
      size_t nc = g->cap ? g->cap * 2 : 16;
      pending_commit_t *nv = realloc(g->v, nc * sizeof(*nv));
      if ((ok = nv != NULL)) {
        g->v = nv;
        g->cap = nc;
      }
    }
    pending_commit_t *p = ok ? &g->v[g->n] : NULL;
    if (p) {
      *p = (pending_commit_t){strdup(q->topic), strdup(q->broker), q->qid,
                              q->commit_mem, q->committed < 0};
      if ((ok = p->topic && p->broker))
        g->n++;
      else {
        free(p->topic);
        free(p->broker);
      }
    }
    if (!ok)
      rmqi_log(&l->client->log, RMQ_LOG_ERROR, "offsets",
               "%s: out of memory: offset %lld of dropped queue %s %s:%d not "
               "committed",
               l->group, (long long)q->commit_mem, q->topic, q->broker,
               (int)q->qid);
  }
  rmqi_lite_drop_queue(l, q);
}

static int gone_by_table(const void *a, const void *b) {
  const pending_commit_t *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : strcmp(x->broker, y->broker);
}

/* One-way, as Java's (RemoteBrokerOffsetStore.persist), except the first
 * commit of a table that may not exist on the broker yet: several first
 * commits at once may lose one there (see rmqi_lite_persist_final), so
 * that one waits for its answer. An orderly push consumer's commits all
 * wait for theirs: its unlock follows, and the broker runs commits and
 * unlocks on different threads, so the queue's next owner could lock it
 * and read its offset before a one-way commit was applied (seen in CI:
 * the next owner read no offset and consumed again what this one had).
 * After a commit that failed, the rest go one-way: a silent broker costs
 * one timeout, not one per queue. */
void rmqi_lite_commit_gone(lite_t *l, gone_list_t *g) {
  if (g->n > 1) /* qsort's array may not be NULL, even empty */
    qsort(g->v, g->n, sizeof(*g->v), gone_by_table);
  bool clustering = l->conf.v.message_model != RMQI_MODEL_BROADCASTING;
  bool unlocks = l->push && rmqi_push_unlocks(l), failed = false;
  for (size_t i = 0; i < g->n; i++) {
    pending_commit_t *c = &g->v[i];
    bool first = i == 0 || gone_by_table(&g->v[i - 1], c) != 0;
    bool sync = clustering && first && c->fresh && i + 1 < g->n &&
                gone_by_table(&g->v[i + 1], c) == 0;
    sync = sync || (unlocks && !failed);
    failed |= rmqi_lite_commit_one(l, c->topic, c->broker, c->qid, c->offset,
                                   sync) != RMQ_OK &&
              sync;
  }
  for (size_t i = 0; i < g->n; i++) {
    free(g->v[i].topic);
    free(g->v[i].broker);
  }
  free(g->v);
  *g = (gone_list_t){0};
}

/* What the broker's master (or the file) has acknowledged: @p q's store
 * holds @p offset as sent, unless the store has moved on since (l->lock
 * held). Only then: a commit that failed is sent again by the next
 * persist, and so is one a slave took while the master was down (Java
 * sends commits to any node then, as we do; the slave keeps them, but
 * the master never learns them from it, and the slave takes the master's
 * offsets over once it is back): the master must have it. */
static void mark_committed(lq_t *q, int64_t offset) {
  if (!q->dropped && q->commit_mem == offset)
    q->committed = offset;
}

/* One asynchronous commit: holds its queue (so the pointer stays valid
 * whatever happens to the queue meanwhile) and a reference on the state
 * (so the completion is safe after destroy()). */
typedef struct commit_ctx {
  lite_t *l;
  lq_t *q;
  int64_t offset;
  bool master; /* sent to the master, not to a slave standing in */
  char addr[128];
} commit_ctx_t;

static void commit_done(void *arg, const rmqi_rpc_result_t *r) {
  commit_ctx_t *x = arg;
  lite_t *l = x->l;
  rmq_err_t rc = r->err == RMQ_OK ? rmqi_server_err(r->resp->code) : r->err;
  pthread_mutex_lock(&l->lock);
  if (rc == RMQ_OK && x->master)
    mark_committed(x->q, x->offset);
  x->q->commit_busy = false;
  pthread_cond_broadcast(&l->commit_cv);
  bool quiet = l->closed || rc == RMQ_ERR_SHUTDOWN;
  rmqi_lite_release(l, x->q);
  pthread_mutex_unlock(&l->lock);
  if (rc != RMQ_OK && !quiet) {
    char what[300];
    snprintf(what, sizeof(what), "%s (%d)%s%s, sent again later",
             rmq_err_name(rc), (int)rc, r->err == RMQ_OK ? "" : ": ",
             r->err == RMQ_OK ? "" : r->detail);
    lg(l, "commit failed at", x->addr, what);
  }
  free(x);
  rmqi_lite_unref(l);
}

typedef struct to_commit {
  lq_t *q; /* held */
  int64_t offset;
  bool refresh; /* the master has it: sent again one-way */
} to_commit_t;

/* Sends @p t's offset to its broker's master (or, with the master gone,
 * to a slave: taken, but sent again until the master has it):
 * synchronously, or with commit_done learning the outcome; a refresh
 * one-way. Releases the hold (or hands it to the completion). */
static rmq_err_t send_commit(lite_t *l, const to_commit_t *t, bool sync) {
  lq_t *q = t->q;
  char addr[128], err[256];
  rmq_err_t rc = RMQ_ERR_NO_ROUTE;
  bool master = false;
  if (rmqi_lite_addr(l, q->topic, q->broker, 0, addr, sizeof(addr), &master)) {
    if (t->refresh) { /* nothing to learn: the next period sends it again */
      rc = rmqi_commit_offset(l->client, addr, l->group, q->topic, q->broker,
                              q->qid, t->offset, true, err, sizeof(err));
      master = false; /* marks nothing */
    } else if (sync) {
      rc = rmqi_commit_offset(l->client, addr, l->group, q->topic, q->broker,
                              q->qid, t->offset, false, err, sizeof(err));
      if (rc != RMQ_OK)
        lg(l, "commit failed at", addr, err);
    } else {
      commit_ctx_t *x = malloc(sizeof(*x));
      rc = RMQ_ERR_NOMEM;
      if (x) {
        *x = (commit_ctx_t){l, q, t->offset, master, ""};
        snprintf(x->addr, sizeof(x->addr), "%s", addr);
        atomic_fetch_add(&l->refs, 1);
        pthread_mutex_lock(&l->lock);
        q->commit_busy = true; /* the completion may run before we return */
        pthread_mutex_unlock(&l->lock);
        rc = rmqi_commit_offset_async(l->client, addr, l->group, q->topic,
                                      q->broker, q->qid, t->offset, commit_done,
                                      x);
        if (rc == RMQ_OK)
          return RMQ_OK; /* the completion releases */
        pthread_mutex_lock(&l->lock);
        q->commit_busy = false;
        pthread_mutex_unlock(&l->lock);
        free(x);
        atomic_fetch_sub(&l->refs, 1); /* ours still holds one */
      }
      lg(l, "commit not sent to", addr, rmq_err_str(rc));
    }
  }
  pthread_mutex_lock(&l->lock);
  if (rc == RMQ_OK && master)
    mark_committed(q, t->offset);
  rmqi_lite_release(l, q);
  pthread_mutex_unlock(&l->lock);
  return rc;
}

rmq_err_t rmqi_lite_persist(lite_t *l, bool sync) {
  to_commit_t *v = NULL;
  size_t n = 0, cap = 0;
  /* The periodic commit sends every offset, as Java's does: one that moved
   * as a request whose answer decides, one the master already took again,
   * one-way, for a broker may have lost it. A broker killed with kill -9
   * comes back without what it took since it last wrote its offsets out
   * (every 5 s, flushConsumerOffsetInterval); and two first commits of a
   * group arriving together may overwrite each other (4.9 and 5.x:
   * ConsumerOffsetManager.commitOffset makes the group's table without a
   * compare-and-set), each answered SUCCESS. */
  bool refresh = !sync && l->conf.v.message_model != RMQI_MODEL_BROADCASTING;
  pthread_mutex_lock(&l->lock);
  for (lq_t *q = l->queues; q; q = q->next) {
    if (q->dropped || q->commit_mem < 0 ||
        (!sync && q->commit_busy) || /* one in flight: its answer decides */
        !rmqi_lite_may_commit(l, q))
      continue;
    bool moved = q->commit_mem != q->committed;
    if (!moved && !refresh)
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      to_commit_t *nv = realloc(v, nc * sizeof(*nv));
      if (nv == NULL)
        break; /* the rest goes next time */
      v = nv;
      cap = nc;
    }
    q->holds++; /* not marked committed: that waits for the answer */
    v[n++] = (to_commit_t){q, q->commit_mem, !moved};
  }
  pthread_mutex_unlock(&l->lock);
  rmq_err_t rc = RMQ_OK;
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < n && rc == RMQ_OK; i++)
      rc = file_put(l, v[i].q->topic, v[i].q->broker, v[i].q->qid, v[i].offset);
    if (rc == RMQ_OK && n)
      rc = save_file(l);
    for (size_t i = 0; i < n; i++) {
      if (rc == RMQ_OK)
        mark_committed(v[i].q, v[i].offset);
      rmqi_lite_release(l, v[i].q);
    }
    pthread_mutex_unlock(&l->lock);
  } else {
    for (size_t i = 0; i < n; i++) {
      rmq_err_t r = send_commit(l, &v[i], sync);
      if (r != RMQ_OK)
        rc = r;
    }
  }
  free(v);
  return rc;
}

/* Waits (l->lock held) until none of @p v's queues has a commit in
 * flight, or @p deadline. */
static void wait_commits(lite_t *l, const to_commit_t *v, size_t n,
                         int64_t deadline) {
  for (;;) {
    bool busy = false;
    for (size_t i = 0; i < n && !busy; i++)
      busy = v[i].q->commit_busy;
    if (!busy || rmqi_now_ms() >= deadline)
      return;
    rmqi_cond_wait_until(&l->commit_cv, &l->lock, deadline);
  }
}

/* Whether @p a and @p b are the same topic of the same broker: one
 * offset table on the broker (its key topic@group). */
static bool same_table(const lq_t *a, const lq_t *b) {
  return strcmp(a->topic, b->topic) == 0 && strcmp(a->broker, b->broker) == 0;
}

static int by_table(const void *a, const void *b) {
  const lq_t *x = ((const to_commit_t *)a)->q, *y = ((const to_commit_t *)b)->q;
  int c = strcmp(x->topic, y->topic);
  return c ? c : strcmp(x->broker, y->broker);
}

/* The broker makes a group's table for a topic on its first commit
 * without a compare-and-set (ConsumerOffsetManager.commitOffset, 4.9 and
 * 5.x): two first commits handled at once each make one, and one
 * overwrites the other; both are answered SUCCESS. Measured on 4.9.7:
 * 2 of 600 lost in pairs, 7 of 2,400 in eights. The periodic commit sends
 * every offset again (persist), which repairs it within a period; a
 * consumer closed before then left its successor a queue to read again.
 * So shutdown sends one queue of each table first and waits for it, then
 * the rest together, and waits for those: the table exists by then. It
 * also waits for commits already in flight, which may carry an older
 * offset, before sending. */
void rmqi_lite_persist_final(lite_t *l, int64_t deadline) {
  pthread_mutex_lock(&l->lock);
  bool done = l->final_persisted || !l->started;
  l->final_persisted = true;
  if (!done && l->conf.v.auto_commit)
    rmqi_lite_commit_mem(l);
  pthread_mutex_unlock(&l->lock);
  if (done)
    return;
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    rmqi_lite_persist(l, false);
    return;
  }
  pthread_mutex_lock(&l->lock);
  size_t cap = 0, n = 0;
  for (lq_t *q = l->queues; q; q = q->next)
    cap += !q->dropped && q->commit_mem >= 0 && rmqi_lite_may_commit(l, q);
  to_commit_t *v = calloc(cap ? cap : 1, sizeof(*v));
  if (v == NULL) {
    pthread_mutex_unlock(&l->lock);
    rmqi_log(&l->client->log, RMQ_LOG_WARN, "offsets",
             "%s: out of memory: the last offsets sent without waiting",
             l->group);
    rmqi_lite_persist(l, false);
    return;
  }
  for (lq_t *q = l->queues; q && n < cap; q = q->next) {
    if (q->dropped || q->commit_mem < 0 || !rmqi_lite_may_commit(l, q))
      continue;
    q->holds += 2; /* one for send_commit, one for our waits */
    v[n++] = (to_commit_t){q, 0, false};
  }
  wait_commits(l, v, n, deadline); /* in flight: sent before ours */
  for (size_t i = 0; i < n; i++)
    v[i].offset = v[i].q->commit_mem; /* as of now: nothing runs any more */
  pthread_mutex_unlock(&l->lock);
  /* first: one queue of each table (sorted, so a table's queues are
   * together: no quadratic search over thousands of queues) */
  if (n > 1)
    qsort(v, n, sizeof(*v), by_table);
  bool *first = calloc(n ? n : 1, sizeof(*first));
  for (size_t i = 0; first && i < n; i++)
    first[i] = i == 0 || !same_table(v[i - 1].q, v[i].q);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++)
      if ((first == NULL || first[i]) == (pass == 0))
        send_commit(l, &v[i], false); /* releases one hold */
    pthread_mutex_lock(&l->lock);
    wait_commits(l, v, n, deadline);
    pthread_mutex_unlock(&l->lock);
  }
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < n; i++)
    rmqi_lite_release(l, v[i].q);
  pthread_mutex_unlock(&l->lock);
  free(first);
  free(v);
}

/* ---- rebalance -------------------------------------------------------------
 */

static rmq_err_t consumer_ids(lite_t *l, const rmqi_route_t *r,
                              rmqi_strlist_t *out) {
  const char *addr = NULL;
  for (size_t i = 0; i < r->n_brokers && addr == NULL; i++)
    addr = rmqi_route_addr(r, r->brokers[i].broker, 0);
  for (size_t i = 0; i < r->n_brokers && addr == NULL; i++)
    if (r->brokers[i].n_addrs)
      addr = r->brokers[i].addrs[0].addr;
  if (addr == NULL)
    return RMQ_ERR_NO_ROUTE;
  rmqi_cmd_t cmd;
  rmqi_cmd_init(&cmd, RC_GET_CONSUMER_LIST_BY_GROUP);
  rmqi_cmd_ext_ref(&cmd, "consumerGroup", l->group, strlen(l->group));
  rmqi_resp_t resp;
  char detail[256];
  rmq_err_t rc = rmqi_rpc_invoke_sync(l->client->rpc, addr, &cmd,
                                      l->client->conf.v.api_timeout_ms, &resp,
                                      detail, sizeof(detail));
  rmqi_cmd_free(&cmd);
  if (rc != RMQ_OK) {
    lg(l, "consumer list failed at", addr, detail);
    return rc;
  }
  rc = rmqi_server_err(resp.cmd.code);
  if (rc != RMQ_OK) {
    snprintf(detail, sizeof(detail), "%s (%d) %s", rmq_err_name(rc), (int)rc,
             resp.cmd.remark.p ? resp.cmd.remark.p : "");
    lg(l, "consumer list refused at", addr, detail);
  } else {
    rmqi_errbuf_t e;
    rc = rmqi_consumer_list_decode(out, (const char *)resp.cmd.body,
                                   resp.cmd.body_len, &e);
    if (rc != RMQ_OK) {
      snprintf(detail, sizeof(detail), "%s at byte %zu", e.msg, e.pos);
      lg(l, "bad consumer list from", addr, detail);
    }
  }
  rmqi_resp_free(&resp);
  return rc;
}

/* The "broker:qid;..." entries of @p list as queues of @p topic, sorted
 * and unique, for rmqi_mq_find (one parse per rebalance, not one scan of
 * the list per queue). The broker names point into *copy (free it).
 * Entries that do not parse are skipped. */
static rmq_err_t parse_config(const char *list, const char *topic, char **copy,
                              rmqi_alloc_mq_t **out, size_t *n) {
  *n = 0;
  *out = NULL;
  size_t cap = 1;
  for (const char *p = list; *p; p++)
    cap += *p == ';';
  *copy = strdup(list);
  rmqi_alloc_mq_t *v = malloc(cap * sizeof(*v));
  if (*copy == NULL || v == NULL) {
    free(*copy);
    *copy = NULL;
    free(v);
    return RMQ_ERR_NOMEM;
  }
  size_t k = 0;
  for (char *p = *copy, *next; p; p = next) {
    next = strchr(p, ';');
    if (next)
      *next++ = '\0';
    char *colon = strrchr(p, ':'), *end;
    if (colon == NULL || colon == p || colon[1] < '0' || colon[1] > '9')
      continue;
    *colon = '\0';
    long id = strtol(colon + 1, &end, 10);
    if (*end != '\0' || id < 0 || id > INT32_MAX)
      continue;
    v[k++] = (rmqi_alloc_mq_t){topic, p, (int32_t)id};
  }
  *out = v;
  *n = rmqi_mq_sort_unique(v, k);
  return RMQ_OK;
}

/* pullThresholdForTopic / pullThresholdSizeForTopic: as Java's
 * RebalancePushImpl.messageQueueChanged, each of the topic's @p n queues
 * here gets an even share (at least 1 message, 1 MiB), which replaces the
 * per-queue thresholds (l->lock held). */
static void share_topic_thresholds(lite_t *l, const char *topic, size_t n) {
  const rmqi_conf_vals_t *v = &l->conf.v;
  if (n == 0 ||
      (v->pull_threshold_topic <= 0 && v->pull_threshold_size_topic_mb <= 0))
    return;
  int64_t msgs = v->pull_threshold_topic > 0
                     ? RMQI_MAX(v->pull_threshold_topic / (int64_t)n, 1)
                     : 0;
  int64_t bytes =
      v->pull_threshold_size_topic_mb > 0
          ? RMQI_MAX(v->pull_threshold_size_topic_mb / (int64_t)n, 1) << 20
          : 0;
  for (lq_t *q = l->queues; q; q = q->next)
    if (!q->dropped && strcmp(q->topic, topic) == 0) {
      q->max_cached_msgs = msgs;
      q->max_cached_bytes = bytes;
    }
}

/* Rebalances one subscribed topic in O(n log n) of its queues: a route may
 * announce 65,536 queues per broker, and all of it runs under l->lock but
 * the allocation. */
static void rebalance_topic(lite_t *l, const char *topic, const char *expr,
                            bool sql92) {
  char err[256];
  rmqi_snap_t *s;
  rmq_err_t rc = rmqi_client_route_sub(
      l->client, topic, rmqi_now_ms() + l->client->conf.v.api_timeout_ms, &s,
      err, sizeof(err));
  if (rc != RMQ_OK) {
    /* a group's retry topic exists once a message was sent back: until
     * then its absence is normal, not worth a warning at each rebalance */
    if (rc == RMQ_TOPIC_NOT_EXIST && strncmp(topic, "%RETRY%", 7) == 0)
      rmqi_log(&l->client->log, RMQ_LOG_INFO, "consumer",
               "%s: no route for %s yet: %s", l->group, topic, err);
    else
      lg(l, "no route for", topic, err);
    return;
  }
  const rmqi_route_t *r = &s->route;
  rmqi_alloc_mq_t *mqs = NULL, *want = NULL, *conf = NULL;
  size_t *mine = NULL;
  bool *have = NULL;
  char *conf_copy = NULL;
  rmqi_strlist_t ids = {0};
  size_t n = 0, n_mine = 0, n_conf = 0;
  rc = rmqi_read_queues(r, topic, &mqs, &n);
  if (rc != RMQ_OK) {
    lg(l, "cannot take the queues of", topic, rmq_err_str(rc));
    goto out;
  }
  mine = malloc((n + 1) * sizeof(*mine));
  if (mine == NULL)
    goto out;
  if (l->conf.v.message_model == RMQI_MODEL_BROADCASTING) {
    for (size_t i = 0; i < n; i++)
      mine[n_mine++] = i;
  } else if (l->conf.v.allocate_strategy == RMQI_ALLOC_CONFIG) {
    /* Java AllocateMessageQueueByConfig: the configured queues, as they
     * are; the group's other members do not matter */
    if (parse_config(l->conf.v.allocate_config, topic, &conf_copy, &conf,
                     &n_conf) != RMQ_OK)
      goto out;
    for (size_t i = 0; i < n; i++)
      if (rmqi_mq_find(conf, n_conf, topic, mqs[i].broker, mqs[i].queue_id) >=
          0)
        mine[n_mine++] = i;
  } else {
    if (consumer_ids(l, r, &ids) != RMQ_OK || ids.n == 0)
      goto out; /* try again next round */
    rmqi_alloc_sort(mqs, n, ids.v, ids.n);
    n_mine = rmqi_allocate((rmqi_alloc_strategy_t)l->conf.v.allocate_strategy,
                           l->client->id, mqs, n, ids.v, ids.n, 10, mine);
  }
  /* ours, as a sorted set: each queue we hold is looked up in it, and
   * what no queue matched is added */
  want = malloc((n_mine + 1) * sizeof(*want));
  have = calloc(n_mine + 1, sizeof(*have));
  if (want == NULL || have == NULL)
    goto out;
  for (size_t i = 0; i < n_mine; i++)
    want[i] = mqs[mine[i]];
  n_mine = rmqi_mq_sort_unique(want, n_mine);
  gone_list_t gone = {0};
  bool changed = false;
  pthread_mutex_lock(&l->lock);
  /* queues no longer ours: remember their offsets, drop them */
  for (lq_t *q = l->queues, *next; q; q = next) {
    next = q->next;
    if (q->dropped || strcmp(q->topic, topic) != 0)
      continue;
    ptrdiff_t k = rmqi_mq_find(want, n_mine, topic, q->broker, q->qid);
    if (k >= 0 && !have[k]) {
      have[k] = true;
      continue;
    }
    rmqi_log(&l->client->log, RMQ_LOG_INFO, "rebalance",
             "%s: %s %s:%d no longer assigned", l->group, topic, q->broker,
             (int)q->qid);
    rmqi_lite_drop_keep(l, q, &gone);
    changed = true;
  }
  for (size_t i = 0; i < n_mine; i++) {
    const rmqi_alloc_mq_t *m = &want[i];
    if (!have[i] &&
        rmqi_lite_add_queue(l, topic, m->broker, m->queue_id, expr, sql92)) {
      rmqi_log(&l->client->log, RMQ_LOG_INFO, "rebalance",
               "%s: %s %s:%d assigned", l->group, topic, m->broker,
               (int)m->queue_id);
      changed = true;
    }
  }
  share_topic_thresholds(l, topic, n_mine);
  pthread_mutex_unlock(&l->lock);
  rmqi_lite_commit_gone(l, &gone);
  if (changed)
    rmqi_lite_notify_assignment(l, topic, mqs, n, want, n_mine);
out:
  rmqi_strlist_free(&ids);
  free(mqs);
  free(mine);
  free(want);
  free(have);
  free(conf);
  free(conf_copy);
  rmqi_snap_release(s);
}

static void rebalance(lite_t *l) {
  lsub_t *copy = NULL;
  pthread_mutex_lock(&l->lock);
  for (lsub_t *s = l->subs; s; s = s->next) {
    lsub_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
      break;
    c->topic = strdup(s->topic);
    c->expr = strdup(s->expr);
    c->sql92 = s->sql92;
    c->next = copy;
    copy = c;
  }
  bool assigned = l->assigned_mode;
  pthread_mutex_unlock(&l->lock);
  while (copy) {
    lsub_t *s = copy;
    copy = s->next;
    pthread_mutex_lock(&l->lock);
    bool stop = l->svc_stop;
    pthread_mutex_unlock(&l->lock);
    if (!assigned && !stop && s->topic && s->expr)
      rebalance_topic(l, s->topic, s->expr, s->sql92);
    free(s->topic);
    free(s->expr);
    free(s);
  }
}

/* ---- the thread -------------------------------------------------------------
 */

static void *svc_main(void *arg) {
  lite_t *l = arg;
  const rmqi_conf_vals_t *v = &l->conf.v;
  int64_t next_rb = 0,
          next_persist = rmqi_now_ms() + v->persist_offset_interval_ms,
          next_auto = rmqi_now_ms() + v->auto_commit_interval_ms;
  pthread_mutex_lock(&l->lock);
  while (!l->svc_stop) {
    int64_t now = rmqi_now_ms();
    bool rb = l->rebalance_now || now >= next_rb;
    bool persist = now >= next_persist;
    /* the push consumer's offsets (never past an unfinished message); a
     * pull consumer commits in poll(), once the application is back for
     * more (a timer here would commit a batch still being processed) */
    if (v->auto_commit && l->push && now >= next_auto) {
      rmqi_lite_commit_mem(l);
      next_auto = now + v->auto_commit_interval_ms;
    }
    l->rebalance_now = false;
    rmqi_tstat_tick(l, now);
    pthread_mutex_unlock(&l->lock);
    if (rb) {
      rebalance(l);
      next_rb = rmqi_now_ms() + v->rebalance_interval_ms;
    }
    if (l->push)
      rmqi_push_svc(l); /* orderly locks before the seeds need them */
    seed(l);
    if (persist) {
      rmqi_lite_persist(l, false);
      next_persist = rmqi_now_ms() + v->persist_offset_interval_ms;
    }
    pthread_mutex_lock(&l->lock);
    bool unseeded = false;
    for (lq_t *q = l->queues; q && !unseeded; q = q->next)
      unseeded = !q->dropped && q->pull_offset < 0;
    int64_t wake = RMQI_MIN(RMQI_MIN(next_rb, next_persist), l->next_snap_ms);
    if (v->auto_commit && l->push) /* a pull consumer's is poll()'s */
      wake = RMQI_MIN(wake, next_auto);
    if (l->push)
      wake = RMQI_MIN(wake, rmqi_push_svc_due(l));
    if (unseeded)
      wake = RMQI_MIN(wake, rmqi_now_ms() + 200);
    if (!l->svc_stop && !l->rebalance_now)
      rmqi_cond_wait_until(&l->svc_cv, &l->lock, wake);
  }
  l->svc_exited = true;
  pthread_cond_broadcast(&l->svc_cv);
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

rmq_err_t rmqi_lite_svc_start(lite_t *l) {
  if (pthread_create(&l->svc, NULL, svc_main, l) != 0)
    return RMQ_ERR_NOMEM;
  l->svc_running = true;
  return RMQ_OK;
}

void rmqi_lite_svc_stop(lite_t *l) {
  if (!l->svc_running)
    return;
  pthread_mutex_lock(&l->lock);
  l->svc_stop = true;
  pthread_cond_signal(&l->svc_cv);
  /* Its blocking calls (route, member list, offsets: up to apiTimeout
   * each) are abandoned until it has left, so stopping takes
   * milliseconds, not the broker's silence. */
  while (!l->svc_exited) {
    pthread_mutex_unlock(&l->lock);
    rmqi_rpc_abort_sync(l->client->rpc, l->svc);
    pthread_mutex_lock(&l->lock);
    if (!l->svc_exited)
      rmqi_cond_wait_until(&l->svc_cv, &l->lock, rmqi_now_ms() + 10);
  }
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->svc, NULL);
  l->svc_running = false;
}

void rmqi_lite_kick(lite_t *l) {
  pthread_mutex_lock(&l->lock);
  l->rebalance_now = true;
  pthread_cond_signal(&l->svc_cv);
  pthread_mutex_unlock(&l->lock);
}

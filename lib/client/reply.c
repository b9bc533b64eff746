/*
 * Replies pushed by brokers (PUSH_REPLY_MESSAGE_TO_CLIENT, Java's
 * ClientRemotingProcessor.receiveReplyMessage): decoded on the loop
 * thread as far as the correlation id, offered to the producers that wait
 * for replies, and answered as Java answers: SUCCESS once the reply was
 * read (matched or not: a late reply is only counted and logged),
 * SYSTEM_ERROR "process reply message fail" when it could not be read.
 * And the reply tick that times out asynchronous requests.
 */
#include "client.h"

#include "../util/time.h"

#include <stdlib.h>
#include <string.h>

rmq_err_t rmqi_client_add_replier(rmq_client_t *c, rmqi_reply_match_fn match,
                                  rmqi_reply_reap_fn reap, void *arg) {
  rmqi_replier_t *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return RMQ_ERR_NOMEM;
  x->match = match;
  x->reap = reap;
  x->arg = arg;
  pthread_mutex_lock(&c->lock);
  x->next = c->repliers;
  c->repliers = x;
  pthread_mutex_unlock(&c->lock);
  return RMQ_OK;
}

void rmqi_client_remove_replier(rmq_client_t *c, void *arg) {
  pthread_mutex_lock(&c->lock);
  for (rmqi_replier_t **pp = &c->repliers; *pp; pp = &(*pp)->next)
    if ((*pp)->arg == arg) {
      rmqi_replier_t *x = *pp;
      *pp = x->next;
      free(x);
      break;
    }
  pthread_mutex_unlock(&c->lock);
}

/* Loop thread: every RMQI_REPLY_TICK_MS. */
static void reply_tick(void *arg) {
  rmq_client_t *c = arg;
  int64_t now = rmqi_now_ms();
  pthread_mutex_lock(&c->lock);
  for (rmqi_replier_t *x = c->repliers; x; x = x->next)
    x->reap(x->arg, now);
  pthread_mutex_unlock(&c->lock);
}

/* Loop thread. The timer lives until the loop stops with the client. */
static void reply_tick_arm(void *arg) {
  rmq_client_t *c = arg;
  rmqi_loop_timer(rmqi_rpc_loop(c->rpc), RMQI_REPLY_TICK_MS, RMQI_REPLY_TICK_MS,
                  reply_tick, c);
}

void rmqi_client_reply_tick_start(rmq_client_t *c) {
  if (!atomic_load(&c->reply_tick) && !atomic_exchange(&c->reply_tick, true))
    if (rmqi_loop_post(rmqi_rpc_loop(c->rpc), reply_tick_arm, c) != RMQ_OK)
      atomic_store(&c->reply_tick, false); /* stopping: nothing to reap */
}

static void answer(rmqi_conn_t *conn, const rmqi_cmd_t *req, int32_t code,
                   const char *remark) {
  if (rmqi_cmd_is_oneway(req))
    return;
  rmqi_cmd_t resp;
  rmqi_cmd_init_response(&resp, req, code);
  if (remark)
    rmqi_cmd_set_remark(&resp, remark, strlen(remark));
  rmqi_rpc_reply(conn, &resp);
  rmqi_cmd_free(&resp);
}

/* 1, 2, 4, 8, ...: a flood of late replies is logged, not every one. */
static bool log_this(uint64_t n) {
  return (n & (n - 1)) == 0;
}

void rmqi_client_on_reply(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  rmq_client_t *c = arg;
  rmqi_msgrec_t rec;
  rmqi_errbuf_t e = {0};
  if (rmqi_reply_decode(req, &rec, &e) != RMQ_OK) {
    uint64_t n = atomic_fetch_add(&c->replies_bad, 1) + 1;
    if (log_this(n))
      rmqi_log(&c->log, RMQ_LOG_WARN, "request",
               "broker %s: reply refused (%llu so far): %s",
               rmqi_conn_addr(conn), (unsigned long long)n, e.msg);
    answer(conn, req, RMQ_SYSTEM_ERROR, "process reply message fail");
    return;
  }
  size_t clen = 0;
  const char *corr =
      rmqi_props_get(rec.props, rec.props_len, "CORRELATION_ID", &clen);
  bool matched = false;
  if (corr && !rmqi_client_closed(c)) {
    pthread_mutex_lock(&c->lock);
    for (rmqi_replier_t *x = c->repliers; x && !matched; x = x->next)
      matched = x->match(x->arg, corr, clen, &rec);
    pthread_mutex_unlock(&c->lock);
  }
  if (!matched) {
    uint64_t n = atomic_fetch_add(&c->replies_unmatched, 1) + 1;
    if (log_this(n))
      rmqi_log(&c->log, RMQ_LOG_WARN, "request",
               "broker %s: reply %.*s matches no waiting request (late or "
               "unknown; %llu dropped so far)",
               rmqi_conn_addr(conn), (int)(corr ? RMQI_MIN(clen, 64) : 6),
               corr ? corr : "(none)", (unsigned long long)n);
  }
  answer(conn, req, 0, NULL);
}

/* The transactional producer against the mock broker: the half message's
 * header and properties, END_TRANSACTION for each local state, failed half
 * sends, check-backs (pool and poll mode), their bound, and checks that
 * arrive during or after destroy. The real-broker tests are in
 * tests/it/test_it_transaction.c. */
#include "client/msg.h"
#include "test.h"
#include "test_producer_mock.h"
#include "util/buf.h"
#include "util/time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#define TXID "7F000001000042A0B1C2D3E4000000AA"

static const mock_rule_t half_ok = {
    .code = 310,
    .ext = {{"msgId", "7F00000100002A9F0000000000000042"},
            {"queueId", "2"},
            {"queueOffset", "17"},
            {"transactionId", TXID}}};

/* Sees the loop's debug line for a check of group DONE: every check
 * pushed before it has been handled. */
static _Atomic int done_seen;
static void on_log(void *opaque, rmq_log_level_t level, const char *comp,
                   const char *line) {
  (void)opaque;
  (void)comp;
  if (strstr(line, "group DONE"))
    atomic_store(&done_seen, 1);
  else if (level <= RMQ_LOG_ERROR)
    fprintf(stderr, "%s\n", line);
}

static rmq_producer_t *producer_on(rmq_client_t *client, mock_t *m,
                                   const char *k1, const char *v1,
                                   const char *k2, const char *v2) {
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "producerGroup", "PG", NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  if (k1)
    rmq_conf_set(c, k1, v1, NULL, 0);
  if (k2)
    rmq_conf_set(c, k2, v2, NULL, 0);
  rmq_conf_set_log_cb(c, on_log, NULL);
  char err[256];
  rmq_producer_t *p = rmq_producer_new(client, c, err, sizeof(err));
  if (p == NULL)
    fprintf(stderr, "producer: %s\n", err);
  rmq_conf_destroy(c);
  return p;
}

static rmq_msg_t *msg(const char *body) {
  rmq_msg_t *m = rmq_msg_new("TopicT");
  rmq_msg_set_body(m, body, strlen(body));
  rmq_msg_set_tags(m, "TagA");
  return m;
}

/* ---- the listener -------------------------------------------------------- */

static _Atomic int n_exec, n_check, check_entered, check_release;
static _Atomic int answer = RMQ_TX_COMMIT;
static _Atomic int check_send_rc; /* what a send inside a check returned */
static bool exec_saw_txid, exec_on_caller;
static pthread_t caller;
static void *exec_arg;
static char check_id[80], check_txid[80], check_body[64]; /* check_mu */
static pthread_mutex_t check_mu = PTHREAD_MUTEX_INITIALIZER;

static rmq_tx_state_t on_exec(rmq_producer_t *p, rmq_msg_t *m, void *arg,
                              void *opaque) {
  (void)p;
  (void)opaque;
  atomic_fetch_add(&n_exec, 1);
  const char *t = rmq_msg_transaction_id(m);
  exec_saw_txid = t && strcmp(t, TXID) == 0 &&
                  strcmp(rmq_msg_property(m, "TRAN_MSG"), "true") == 0;
  exec_on_caller = pthread_equal(pthread_self(), caller);
  exec_arg = arg;
  return (rmq_tx_state_t)atomic_load(&answer);
}

static rmq_tx_state_t on_check(rmq_producer_t *p, const rmq_msg_t *m,
                               void *opaque) {
  (void)opaque;
  atomic_store(&check_entered, 1);
  while (atomic_load(&check_release) == 0)
    usleep(1000);
  if (atomic_load(&check_release) == 2) { /* destroy is under way */
    usleep(100 * 1000);
    rmq_msg_t *x = msg("from a check");
    atomic_store(&check_send_rc, rmq_producer_send(p, x, NULL));
    rmq_msg_destroy(x);
  }
  pthread_mutex_lock(&check_mu); /* checks may run on several threads */
  snprintf(check_id, sizeof(check_id), "%s", rmq_msg_id(m));
  const char *t = rmq_msg_transaction_id(m);
  snprintf(check_txid, sizeof(check_txid), "%s", t ? t : "");
  size_t n;
  const void *b = rmq_msg_body(m, &n);
  snprintf(check_body, sizeof(check_body), "%.*s", (int)n, (const char *)b);
  pthread_mutex_unlock(&check_mu);
  atomic_fetch_add(&n_check, 1);
  return (rmq_tx_state_t)atomic_load(&answer);
}

static void reset(void) {
  atomic_store(&n_exec, 0);
  atomic_store(&n_check, 0);
  atomic_store(&check_entered, 0);
  atomic_store(&check_release, 1);
  atomic_store(&answer, RMQ_TX_COMMIT);
  atomic_store(&check_send_rc, 0);
  exec_saw_txid = exec_on_caller = false;
  exec_arg = NULL;
  pthread_mutex_lock(&check_mu);
  check_id[0] = check_txid[0] = check_body[0] = '\0';
  pthread_mutex_unlock(&check_mu);
  caller = pthread_self();
}

static void ext_is(mock_t *m, int code, const char *key, const char *want) {
  char v[256] = "";
  if (!mock_last_ext(m, code, key, v, sizeof(v)))
    rmqt_fail(__FILE__, __LINE__, "%d has no %s", code, key);
  else if (strcmp(v, want) != 0)
    rmqt_fail(__FILE__, __LINE__, "%d %s: \"%s\" != \"%s\"", code, key, v,
              want);
}

/* ---- sending ------------------------------------------------------------- */

TEST(half_message_header_and_commit) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &half_ok);
  rmq_producer_t *p = producer_on(NULL, m, NULL, NULL, NULL, NULL);
  REQUIRE(p != NULL);
  rmq_msg_t *x = msg("tx");
  rmq_msg_set_delay_level(x, 3);
  rmq_send_result_t r;
  rmq_tx_state_t st = RMQ_TX_UNKNOWN;
  CHECK_ERR(rmq_producer_send_in_transaction(p, x, NULL, &r, &st),
            RMQ_ERR_STATE); /* no listener yet */
  rmq_send_result_clear(&r);
  CHECK_ERR(rmq_producer_set_transaction_listener(p, on_exec, NULL, NULL),
            RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL),
            RMQ_OK);
  CHECK_ERR(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL),
            RMQ_ERR_STATE);
  int arg;
  CHECK_ERR(rmq_producer_send_in_transaction(p, x, &arg, &r, &st), RMQ_OK);
  CHECK_INT(st, RMQ_TX_COMMIT);
  CHECK_INT(atomic_load(&n_exec), 1);
  CHECK(exec_saw_txid);
  CHECK(exec_on_caller);
  CHECK(exec_arg == &arg);
  CHECK_STR(r.transaction_id, TXID);
  CHECK_INT(r.status, RMQ_SEND_OK);
  /* the half message */
  char v[256];
  CHECK(mock_last_ext(m, 310, "i", v, sizeof(v)));
  CHECK(strstr(v, "TRAN_MSG\x01true\x02") != NULL);
  CHECK(strstr(v, "PGROUP\x01PG\x02") != NULL);
  CHECK(strstr(v, "DELAY") == NULL);
  CHECK(strstr(v, "__transactionId__") == NULL); /* added after the send */
  ext_is(m, 310, "f", "4");                      /* TRANSACTION_PREPARED_TYPE */
  ext_is(m, 310, "a", "PG");
  /* END_TRANSACTION, one-way, every field Java's endTransaction sets */
  REQUIRE(mock_wait_count(m, 37, 1, 3000) == 1);
  ext_is(m, 37, "producerGroup", "PG");
  ext_is(m, 37, "tranStateTableOffset", "17");
  ext_is(m, 37, "commitLogOffset", "66"); /* 0x42 from the offset id */
  ext_is(m, 37, "commitOrRollback", "8");
  ext_is(m, 37, "fromTransactionCheck", "false");
  ext_is(m, 37, "msgId", r.msg_id);
  ext_is(m, 37, "transactionId", TXID);
  ext_is(m, 37, "topic", "TopicT");
  ext_is(m, 37, "bname", "broker-a");
  rmq_send_result_clear(&r);
  /* the same message again: the last send's transaction id stays home */
  CHECK_ERR(rmq_producer_send_in_transaction(p, x, &arg, &r, &st), RMQ_OK);
  CHECK(mock_last_ext(m, 310, "i", v, sizeof(v)));
  CHECK(strstr(v, "__transactionId__") == NULL);
  CHECK_INT(atomic_load(&n_exec), 2);
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(rollback_and_unknown_states) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &half_ok);
  rmq_producer_t *p = producer_on(NULL, m, NULL, NULL, NULL, NULL);
  REQUIRE(p != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL) ==
          RMQ_OK);
  static const struct {
    int answer, want;
    const char *code;
  } cases[] = {{RMQ_TX_ROLLBACK, RMQ_TX_ROLLBACK, "12"},
               {RMQ_TX_UNKNOWN, RMQ_TX_UNKNOWN, "0"},
               {77, RMQ_TX_UNKNOWN, "0"}, /* out of range: unknown */
               {RMQ_TX_COMMIT, RMQ_TX_COMMIT, "8"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    atomic_store(&answer, cases[i].answer);
    rmq_msg_t *x = msg("tx");
    rmq_tx_state_t st = RMQ_TX_COMMIT;
    CHECK_ERR(rmq_producer_send_in_transaction(p, x, NULL, NULL, &st), RMQ_OK);
    CHECK_INT(st, cases[i].want);
    REQUIRE(mock_wait_count(m, 37, (int)i + 1, 3000) == (int)i + 1);
    ext_is(m, 37, "commitOrRollback", cases[i].code);
    ext_is(m, 37, "fromTransactionCheck", "false");
    rmq_msg_destroy(x);
  }
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(failed_half_send_runs_no_local_transaction) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  mock_add_rule(m, &(mock_rule_t){.code = 310, .resp_code = 13, .times = 1});
  mock_add_rule(
      m, &(mock_rule_t){.code = 310,
                        .resp_code = 10, /* FLUSH_DISK_TIMEOUT: stored */
                        .ext = {{"msgId", "7F00000100002A9F0000000000000042"},
                                {"queueId", "2"},
                                {"queueOffset", "18"},
                                {"transactionId", TXID}}});
  rmq_producer_t *p = producer_on(NULL, m, NULL, NULL, NULL, NULL);
  REQUIRE(p != NULL);
  REQUIRE(rmq_producer_set_transaction_listener(p, on_exec, on_check, NULL) ==
          RMQ_OK);
  rmq_msg_t *x = msg("tx");
  rmq_send_result_t r;
  rmq_tx_state_t st = RMQ_TX_COMMIT;
  CHECK_ERR(rmq_producer_send_in_transaction(p, x, NULL, &r, &st),
            RMQ_MESSAGE_ILLEGAL);
  CHECK_INT(st, RMQ_TX_ROLLBACK);
  CHECK_INT(atomic_load(&n_exec), 0);
  CHECK(r.error && strstr(r.error, "MESSAGE_ILLEGAL") != NULL);
  rmq_send_result_clear(&r);
  usleep(100 * 1000);
  CHECK_INT(mock_count(m, 37), 0); /* nothing to end */
  /* Stored, but not SEND_OK: rolled back without the callback (Java). */
  st = RMQ_TX_COMMIT;
  CHECK_ERR(rmq_producer_send_in_transaction(p, x, NULL, &r, &st), RMQ_OK);
  CHECK_INT(r.status, RMQ_SEND_FLUSH_DISK_TIMEOUT);
  CHECK_INT(st, RMQ_TX_ROLLBACK);
  CHECK_INT(atomic_load(&n_exec), 0);
  REQUIRE(mock_wait_count(m, 37, 1, 3000) == 1);
  ext_is(m, 37, "commitOrRollback", "12");
  ext_is(m, 37, "tranStateTableOffset", "18");
  rmq_send_result_clear(&r);
  rmq_msg_destroy(x);
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

/* ---- check-backs --------------------------------------------------------- */

#define HALF_ID "7F000001000042A0B1C2D3E4000000BB"

static bool bad_crc; /* the next records are corrupt */

/* A stored half message (magic v1, IPv4 hosts) of group @p group, as the
 * broker puts it in CHECK_TRANSACTION_STATE's body. */
static void half_record(rmqi_buf_t *b, const char *group) {
  char props[256];
  int pl = snprintf(props, sizeof(props),
                    "TRAN_MSG\001true\002PGROUP\001%s\002UNIQ_KEY\001" HALF_ID
                    "\002REAL_TOPIC\001TopicT\002REAL_QID\0011\002",
                    group);
  const char *body = "half body";
  size_t len = strlen(body);
  uint32_t crc =
      (uint32_t)crc32(0L, (const Bytef *)body, (uInt)len) & 0x7FFFFFFF;
  rmqi_buf_put_be32(b, 0);
  rmqi_buf_put_be32(b, (uint32_t)0xDAA320A7);
  rmqi_buf_put_be32(b, bad_crc ? crc ^ 1 : crc);
  rmqi_buf_put_be32(b, 1);    /* queue id */
  rmqi_buf_put_be32(b, 0);    /* flag */
  rmqi_buf_put_be64(b, 5);    /* queue offset */
  rmqi_buf_put_be64(b, 1234); /* commit log offset */
  rmqi_buf_put_be32(b, 4);    /* TRANSACTION_PREPARED_TYPE */
  rmqi_buf_put_be64(b, 1700000000000ULL);
  rmqi_buf_put(b, "\x7f\x00\x00\x01\x00\x00\xd4\x31", 8);
  rmqi_buf_put_be64(b, 1700000000005ULL);
  rmqi_buf_put(b, "\x7f\x00\x00\x01\x00\x00\x2a\x9f", 8);
  rmqi_buf_put_be32(b, 0); /* reconsume times */
  rmqi_buf_put_be64(b, 0); /* prepared transaction offset */
  rmqi_buf_put_be32(b, (uint32_t)len);
  rmqi_buf_put(b, body, len);
  rmqi_buf_put_u8(b, 6);
  rmqi_buf_put(b, "TopicT", 6);
  rmqi_buf_put_be16(b, (uint16_t)pl);
  rmqi_buf_put(b, props, (size_t)pl);
  rmqi_buf_patch_be32(b, 0, (uint32_t)b->len);
}

static void push_check(mock_t *m, const char *group) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  half_record(&b, group);
  static const char *const ext[][2] = {
      {"topic", "RMQ_SYS_TRANS_HALF_TOPIC"},
      {"tranStateTableOffset", "5"},
      {"commitLogOffset", "1234"},
      {"msgId", HALF_ID},
      {"transactionId", HALF_ID},
      {"offsetMsgId", "7F00000100002A9F00000000000004D2"},
      {"bname", "broker-a"},
      {NULL, NULL}};
  mock_push_req(m, 39, true, ext, b.data, b.len);
  rmqi_buf_free(&b);
}

/* A producer with a listener and an open connection to the mock (checks
 * come on connections the client made). */
static rmq_producer_t *tx_producer2(rmq_client_t *client, mock_t *m,
                                    const char *k, const char *v,
                                    const char *k2, const char *v2) {
  rmq_producer_t *p = producer_on(client, m, k, v, k2, v2);
  if (p == NULL || rmq_producer_set_transaction_listener(p, on_exec, on_check,
                                                         NULL) != RMQ_OK)
    return p;
  rmq_msg_t *x = msg("hello");
  rmq_producer_send(p, x, NULL);
  rmq_msg_destroy(x);
  return p;
}

static rmq_producer_t *tx_producer(rmq_client_t *client, mock_t *m,
                                   const char *k, const char *v) {
  return tx_producer2(client, m, k, v, NULL, NULL);
}

TEST(check_is_answered_like_java) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = tx_producer(NULL, m, NULL, NULL);
  REQUIRE(p != NULL);
  push_check(m, "OTHER_GROUP"); /* nobody here: dropped */
  usleep(100 * 1000);
  CHECK_INT(mock_count(m, 37), 0);
  CHECK_INT(atomic_load(&n_check), 0);
  bad_crc = true; /* a record that cannot be read: dropped, no answer */
  push_check(m, "PG");
  bad_crc = false;
  usleep(100 * 1000);
  CHECK_INT(mock_count(m, 37), 0);
  CHECK_INT(atomic_load(&n_check), 0);
  push_check(m, "PG");
  REQUIRE(mock_wait_count(m, 37, 1, 3000) == 1);
  CHECK_INT(atomic_load(&n_check), 1);
  pthread_mutex_lock(&check_mu);
  CHECK_STR(check_id, HALF_ID);
  CHECK_STR(check_txid, HALF_ID);
  CHECK_STR(check_body, "half body");
  pthread_mutex_unlock(&check_mu);
  ext_is(m, 37, "fromTransactionCheck", "true");
  ext_is(m, 37, "commitOrRollback", "8");
  ext_is(m, 37, "producerGroup", "PG");
  ext_is(m, 37, "tranStateTableOffset", "5");
  ext_is(m, 37, "commitLogOffset", "1234");
  ext_is(m, 37, "msgId", HALF_ID);
  ext_is(m, 37, "transactionId", HALF_ID);
  ext_is(m, 37, "topic", "RMQ_SYS_TRANS_HALF_TOPIC");
  ext_is(m, 37, "bname", "broker-a");
  atomic_store(&answer, RMQ_TX_ROLLBACK);
  push_check(m, "PG");
  REQUIRE(mock_wait_count(m, 37, 2, 3000) == 2);
  ext_is(m, 37, "commitOrRollback", "12");
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

static _Atomic(void *) who; /* the opaque of the last check */
static rmq_tx_state_t on_check_who(rmq_producer_t *p, const rmq_msg_t *m,
                                   void *opaque) {
  (void)p;
  (void)m;
  atomic_store(&who, opaque);
  return RMQ_TX_ROLLBACK;
}

TEST(each_group_gets_its_own_checks) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_client_t *client = rmq_client_new(c, NULL, 0);
  REQUIRE(client != NULL);
  rmq_producer_t *plain = producer_on(client, m, NULL, NULL, NULL, NULL);
  rmq_conf_set(c, "producerGroup", "PG2", NULL, 0);
  rmq_producer_t *p2 = rmq_producer_new(client, c, NULL, 0);
  rmq_conf_destroy(c);
  rmq_producer_t *p1 = tx_producer(client, m, NULL, NULL); /* group PG */
  REQUIRE(plain && p1 && p2);
  static int tag2;
  REQUIRE(rmq_producer_set_transaction_listener(p2, on_exec, on_check_who,
                                                &tag2) == RMQ_OK);
  atomic_store(&who, NULL);
  push_check(m, "PG2");
  REQUIRE(mock_wait_count(m, 37, 1, 3000) == 1);
  CHECK(atomic_load(&who) == &tag2);
  CHECK_INT(atomic_load(&n_check), 0);
  ext_is(m, 37, "producerGroup", "PG2");
  ext_is(m, 37, "commitOrRollback", "12");
  /* PG: the transactional producer, not the plain one of the same group */
  push_check(m, "PG");
  REQUIRE(mock_wait_count(m, 37, 2, 3000) == 2);
  CHECK_INT(atomic_load(&n_check), 1);
  ext_is(m, 37, "producerGroup", "PG");
  ext_is(m, 37, "commitOrRollback", "8");
  rmq_producer_destroy(p1, 500);
  rmq_producer_destroy(p2, 500);
  rmq_producer_destroy(plain, 500);
  rmq_client_destroy(client, 500);
  mock_stop(m);
}

TEST(poll_mode_checks_run_in_rmq_poll) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = tx_producer(NULL, m, "callbackMode", "poll");
  REQUIRE(p != NULL);
  push_check(m, "PG");
  usleep(200 * 1000);
  CHECK_INT(atomic_load(&n_check), 0); /* waits for the application */
  int64_t until = rmqi_now_ms() + 3000;
  while (atomic_load(&n_check) == 0 && rmqi_now_ms() < until)
    rmq_poll(rmq_producer_client(p), 50);
  CHECK_INT(atomic_load(&n_check), 1);
  CHECK_INT(mock_wait_count(m, 37, 1, 3000), 1);
  ext_is(m, 37, "fromTransactionCheck", "true");
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(pending_checks_are_bounded) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  rmq_producer_t *p = tx_producer2(NULL, m, "clientCallbackExecutorThreads",
                                   "1", "logLevel", "debug");
  REQUIRE(p != NULL);
  atomic_store(&check_release, 0);
  push_check(m, "PG");
  int64_t until = rmqi_now_ms() + 3000;
  while (!atomic_load(&check_entered) && rmqi_now_ms() < until)
    usleep(1000);
  REQUIRE(atomic_load(&check_entered));
  for (int i = 0; i < 2100; i++) /* the one thread is busy: they queue */
    push_check(m, "PG");
  atomic_store(&done_seen, 0);
  push_check(m, "DONE");
  until = rmqi_now_ms() + 20000;
  while (!atomic_load(&done_seen) && rmqi_now_ms() < until)
    usleep(1000);
  REQUIRE(atomic_load(&done_seen)); /* the loop has handled them all */
  atomic_store(&check_release, 1);
  CHECK_INT(mock_wait_count(m, 37, 2001, 10000), 2001);
  usleep(200 * 1000);
  CHECK_INT(mock_count(m, 37), 2001); /* 1 running + 2000 queued */
  rmq_producer_destroy(p, 1000);
  mock_stop(m);
}

TEST(checks_during_and_after_destroy) {
  reset();
  mock_t *m = mock_start();
  route_to(m);
  rmq_conf_t *c = rmq_conf_new();
  rmq_conf_set(c, "namesrvAddr", mock_addr(m), NULL, 0);
  rmq_conf_set(c, "logLevel", "error", NULL, 0);
  rmq_client_t *client = rmq_client_new(c, NULL, 0);
  rmq_conf_destroy(c);
  REQUIRE(client != NULL);
  rmq_producer_t *p = tx_producer(client, m, NULL, NULL);
  REQUIRE(p != NULL);
  /* A check callback that runs while destroy waits for it, and calls the
   * library: a clear RMQ_ERR_SHUTDOWN, and destroy returns after it. */
  atomic_store(&check_release, 0);
  push_check(m, "PG");
  int64_t until = rmqi_now_ms() + 3000;
  while (!atomic_load(&check_entered) && rmqi_now_ms() < until)
    usleep(1000);
  REQUIRE(atomic_load(&check_entered));
  atomic_store(&check_release, 2);
  rmq_producer_destroy(p, 50);
  CHECK_INT(atomic_load(&n_check), 1); /* it finished before destroy returned */
  CHECK_ERR(atomic_load(&check_send_rc), RMQ_ERR_SHUTDOWN);
  /* After destroy: the group has no producer here; checks are dropped. */
  /* the check that ran during destroy was still answered */
  CHECK_INT(mock_wait_count(m, 37, 1, 3000), 1);
  int before = mock_count(m, 37);
  atomic_store(&check_release, 1);
  for (int i = 0; i < 20; i++)
    push_check(m, "PG");
  usleep(200 * 1000);
  CHECK_INT(atomic_load(&n_check), 1);
  CHECK_INT(mock_count(m, 37), before);
  /* A new producer of the group on the same client gets the next one. */
  rmq_producer_t *p2 = tx_producer(client, m, NULL, NULL);
  REQUIRE(p2 != NULL);
  push_check(m, "PG");
  CHECK_INT(mock_wait_count(m, 37, before + 1, 3000), before + 1);
  CHECK_INT(atomic_load(&n_check), 2);
  /* Queued checks when the client goes first: no crash, no callback after
   * the producer's destroy. */
  atomic_store(&check_release, 0);
  push_check(m, "PG");
  push_check(m, "PG");
  usleep(100 * 1000);
  atomic_store(&check_release, 1);
  rmq_client_destroy(client, 200);
  rmq_producer_destroy(p2, 200);
  int n = atomic_load(&n_check);
  usleep(100 * 1000);
  CHECK_INT(atomic_load(&n_check), n);
  mock_stop(m);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(half_message_header_and_commit),
      TCASE(rollback_and_unknown_states),
      TCASE(failed_half_send_runs_no_local_transaction),
      TCASE(check_is_answered_like_java),
      TCASE(each_group_gets_its_own_checks),
      TCASE(poll_mode_checks_run_in_rmq_poll),
      TCASE(pending_checks_are_bounded),
      TCASE(checks_during_and_after_destroy),
  };
  return RUN_TESTS(cases);
}

/* Transactional messages (the user's rocketmq_transaction.py): a listener
 * whose local transaction commits, and a check that the broker calls when
 * it does not know a transaction's state (it answers commit).
 * Usage: producer_transaction [namesrv] [topic] */
#include "common.h"

#include <string.h>

/* The local transaction: runs on the thread that sends, after the broker
 * stored the (still invisible) half message. */
static rmq_tx_state_t execute_local_transaction(rmq_producer_t *p,
                                                rmq_msg_t *msg, void *arg,
                                                void *opaque) {
  (void)p;
  (void)arg;
  (void)opaque;
  size_t len;
  const char *body = rmq_msg_body(msg, &len);
  printf("Executing local transaction for: %.*s\n", (int)len, body);
  /* your business logic; on failure return RMQ_TX_ROLLBACK */
  return RMQ_TX_COMMIT;
}

/* The broker's check-back: on a callback thread, for a half message whose
 * state stayed unknown (e.g. the process died before it answered). */
static rmq_tx_state_t
check_local_transaction(rmq_producer_t *p, const rmq_msg_t *msg, void *opaque) {
  (void)p;
  (void)opaque;
  size_t len;
  const char *body = rmq_msg_body(msg, &len);
  printf("Checking local transaction for: %.*s\n", (int)len, body);
  return RMQ_TX_COMMIT;
}

int main(int argc, char **argv) {
  rmq_producer_t *p = example_producer(argc, argv, "TransactionProducerGroup");
  const char *topic = example_topic(argc, argv, "TransactionTopic");
  rmq_err_t err = rmq_producer_set_transaction_listener(
      p, execute_local_transaction, check_local_transaction, NULL);
  if (err != RMQ_OK) {
    fprintf(stderr, "listener: %s\n", rmq_err_str(err));
    return 1;
  }
  rmq_msg_t *msg = rmq_msg_new(topic);
  rmq_msg_set_body(msg, "Transaction message", strlen("Transaction message"));
  rmq_send_result_t res;
  rmq_tx_state_t state = RMQ_TX_UNKNOWN;
  err = rmq_producer_send_in_transaction(p, msg, NULL, &res, &state);
  if (err == RMQ_OK)
    printf("Transaction send result: status %d, local state %s, "
           "transaction id %s\n",
           (int)res.status,
           state == RMQ_TX_COMMIT     ? "COMMIT"
           : state == RMQ_TX_ROLLBACK ? "ROLLBACK"
                                      : "UNKNOWN",
           res.transaction_id);
  else
    printf("Transaction send failed: %s (%s)\n", rmq_err_str(err), res.error);
  rmq_send_result_clear(&res);
  rmq_msg_destroy(msg);
  rmq_producer_destroy(p, 5000);
  return err == RMQ_OK && state == RMQ_TX_COMMIT ? 0 : 1;
}

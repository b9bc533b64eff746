/* Prints the layout of the rmq.h structs the Python binding declares with
 * ctypes (examples/python/rocketmq/ffi.py), for test_binding.py to compare:
 * one line per struct, "name size field=offset ...". */
#include <stddef.h>
#include <stdio.h>

#include <rmq.h>

#define F(T, f) printf(" %s=%zu", #f, offsetof(T, f))

int main(void) {
  printf("rmq_send_result_t %zu", sizeof(rmq_send_result_t));
  F(rmq_send_result_t, status);
  F(rmq_send_result_t, msg_id);
  F(rmq_send_result_t, offset_msg_id);
  F(rmq_send_result_t, topic);
  F(rmq_send_result_t, broker_name);
  F(rmq_send_result_t, queue_id);
  F(rmq_send_result_t, queue_offset);
  F(rmq_send_result_t, transaction_id);
  F(rmq_send_result_t, region_id);
  F(rmq_send_result_t, broker_code);
  F(rmq_send_result_t, error);
  F(rmq_send_result_t, attempts);
  F(rmq_send_result_t, internal_);
  F(rmq_send_result_t, reserved_);
  printf("\nrmq_queue_t %zu", sizeof(rmq_queue_t));
  F(rmq_queue_t, topic);
  F(rmq_queue_t, broker_name);
  F(rmq_queue_t, queue_id);
  printf("\nrmq_consume_ctx_t %zu", sizeof(rmq_consume_ctx_t));
  F(rmq_consume_ctx_t, queue);
  F(rmq_consume_ctx_t, ack_index);
  F(rmq_consume_ctx_t, delay_level);
  F(rmq_consume_ctx_t, suspend_ms);
  F(rmq_consume_ctx_t, reserved_);
  printf("\n");
  return 0;
}

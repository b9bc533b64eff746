/* The queue and group bodies the client reads from brokers: lock
 * responses, reset-offset tables (object keys) and consumer id lists. */
#include "codec/body_mq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *j = (const char *)data;
  rmqi_mqlist_t l;
  if (rmqi_lock_resp_decode(&l, j, size, NULL) == RMQ_OK)
    rmqi_mqlist_free(&l);
  if (rmqi_reset_offset_decode(&l, j, size, NULL) == RMQ_OK) {
    /* Sorted and unique: strictly increasing. */
    for (size_t i = 1; i < l.n; i++)
      if (rmqi_mqo_cmp(&l.v[i - 1], &l.v[i]) >= 0)
        __builtin_trap();
    rmqi_mqlist_free(&l);
  }
  rmqi_strlist_t s;
  if (rmqi_consumer_list_decode(&s, j, size, NULL) == RMQ_OK)
    rmqi_strlist_free(&s);
  return 0;
}

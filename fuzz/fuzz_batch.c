/* Batch bodies, as a broker (or the mock broker) reads SEND_BATCH_MESSAGE
 * and as a consumer unwraps a 5.x inner batch: every entry decoded must
 * lie inside the input and re-encode to exactly its own bytes. */
#include "codec/batch.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  while (off < size) {
    rmqi_batch_entry_t m;
    size_t next;
    if (rmqi_batch_decode(data + off, size - off, &m, &next, NULL) != RMQ_OK)
      break;
    if (next == 0 || next > size - off)
      abort();
    rmqi_buf_reset(&b);
    rmqi_batch_put(&b, m.flag, m.body, m.body_len, m.props, m.props_len);
    /* MAGIC and BODYCRC are written as 0; compare around them. */
    if (!rmqi_buf_ok(&b) || b.len != next ||
        memcmp(b.data, data + off, 4) != 0 ||
        memcmp(b.data + 12, data + off + 12, next - 12) != 0)
      abort();
    off += next;
  }
  rmqi_buf_free(&b);
  /* The same bytes as the body of an inner-batch record. */
  rmqi_msgrec_t outer, out;
  memset(&outer, 0, sizeof(outer));
  outer.sys_flag = RMQI_SYS_INNER_BATCH | RMQI_SYS_NEED_UNWRAP;
  outer.body = data;
  outer.body_len = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size);
  outer.queue_offset = INT64_MAX - 5; /* offsets must not overflow quietly */
  size_t pos = 0;
  uint32_t idx = 0;
  while (rmqi_inner_batch_next(&outer, &pos, &idx, &out, NULL) == RMQ_OK)
    if (out.body_len > size || pos > size)
      abort();
  return 0;
}

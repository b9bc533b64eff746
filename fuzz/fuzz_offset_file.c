/* The broadcasting consumer's offsets.json (Java's OffsetSerializeWrapper:
 * fastjson with MessageQueue objects as map keys), which the consumer
 * reads back at start: malformed entries are dropped, broken text is an
 * error, nothing is read outside the input. */
#include "consumer/offset_file.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmqi_mqo_t *v;
  size_t n;
  char err[256];
  if (rmqi_offset_table_decode((const char *)data, size, &v, &n, err,
                               sizeof(err)) == RMQ_OK) {
    volatile size_t sink = 0;
    for (size_t i = 0; i < n; i++)
      sink += strlen(v[i].topic) + strlen(v[i].broker) + (size_t)v[i].queue_id;
    (void)sink;
    free(v);
  }
  return 0;
}

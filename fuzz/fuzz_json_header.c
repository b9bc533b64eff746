/* The json command header alone: the input is wrapped in a valid frame
 * prefix so every execution reaches the header decoder; what decodes is
 * encoded again and must decode the same (cmd_roundtrip.h). */
#include "cmd_roundtrip.h"
#include "codec/cmd.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > RMQI_DEFAULT_MAX_FRAME - 4) /* the runtime frame limit */
    return 0;
  uint8_t *f = malloc(size + 8);
  if (f == NULL)
    return 0;
  rmqi_store_be32(f, (uint32_t)(size + 4));
  rmqi_store_be32(f + 4, (uint32_t)0 << 24 | (uint32_t)size);
  memcpy(f + 8, data, size);
  rmqi_cmd_t c;
  rmqi_errbuf_t e;
  if (rmqi_cmd_decode(&c, f, size + 8, &e) == RMQ_OK) {
    const rmqi_str_t *v = rmqi_cmd_ext_get(&c, "topic");
    (void)v;
    check_roundtrip(&c, RMQI_SER_JSON);
  }
  free(f);
  return 0;
}

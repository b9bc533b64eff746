/* The JSON reader on arbitrary bytes. */
#include "codec/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmqi_json_t d;
  if (rmqi_json_parse(&d, (const char *)data, size, NULL) == RMQ_OK) {
    int64_t v;
    (void)rmqi_json_int(d.root, "code", &v);
    rmqi_json_free(&d);
  }
  return 0;
}

/* Offset message ids from untrusted text (e.g. a user's or a broker's). */
#include "codec/msgrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmqi_host_t h;
  int64_t off;
  if (rmqi_offset_id_decode((const char *)data, size, &h, &off, NULL) ==
      RMQ_OK) {
    rmqi_msgrec_t m = {.store = h, .commitlog_offset = off};
    char id[57];
    rmqi_msgrec_offset_id(&m, id);
  }
  return 0;
}

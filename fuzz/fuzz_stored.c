/* Stored-message records as a pull response carries them: walk the buffer
 * the way a consumer will (skip a bad record when its size is sane, stop
 * otherwise), check CRCs, inflate within the consumer's default
 * maxInflatedBodySize, read properties. */
#include "codec/msgrec.h"
#include "fuzz_limits.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  while (off < size) {
    rmqi_msgrec_t m;
    size_t next;
    rmq_err_t rc = rmqi_msgrec_decode(data + off, size - off, &m, &next, NULL);
    if (next == 0)
      break;
    if (rc == RMQ_OK) {
      (void)rmqi_msgrec_check_crc(&m, NULL);
      uint8_t *body;
      size_t len;
      if (rmqi_msgrec_inflate(&m, fuzz_max_inflated(), &body, &len, NULL) ==
          RMQ_OK)
        free(body);
      size_t vl;
      (void)rmqi_props_get(m.props, m.props_len, "UNIQ_KEY", &vl);
      char id[57];
      rmqi_msgrec_offset_id(&m, id);
    }
    off += next;
  }
  return 0;
}

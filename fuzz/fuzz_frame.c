/* Frames: the input is a byte stream from a peer; cut it into frames and
 * decode each, as a connection does, at the runtime's frame limit. */
#include "codec/cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0, fl;
  while (rmqi_frame_check(data + off, size - off, RMQI_DEFAULT_MAX_FRAME, &fl,
                          NULL) == RMQ_OK) {
    rmqi_cmd_t c;
    rmqi_errbuf_t e;
    if (rmqi_cmd_decode(&c, data + off, fl, &e) == RMQ_OK) {
      /* Re-encode what was decoded: must not fail for lack of validity. */
      rmqi_buf_t b;
      rmqi_buf_init(&b);
      (void)rmqi_cmd_encode(&b, &c, RMQI_SER_JSON);
      rmqi_buf_free(&b);
      rmqi_cmd_free(&c);
    }
    off += fl;
  }
  return 0;
}

/* PUSH_REPLY_MESSAGE_TO_CLIENT as the requester reads it: one whole frame
 * (JSON or ROCKETMQ header) is decoded, its ReplyMessageRequestHeader
 * fields and raw body turned into a record (codec/reply.c), the
 * correlation id looked up, and the reply built into a received message
 * (inflating a compressed body up to the runtime's limit) as
 * lib/producer/request.c does; then read, changed and destroyed. */
#include "codec/reply.h"
#include "consumer/rxmsg.h"
#include "fuzz_limits.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t flen;
  rmqi_errbuf_t e;
  if (rmqi_frame_check(data, size, RMQI_DEFAULT_MAX_FRAME, &flen, &e) != RMQ_OK)
    return 0;
  rmqi_cmd_t cmd;
  if (rmqi_cmd_decode(&cmd, data, flen, &e) != RMQ_OK)
    return 0;
  rmqi_msgrec_t rec;
  if (rmqi_reply_decode(&cmd, &rec, &e) == RMQ_OK) {
    size_t clen;
    const char *corr =
        rmqi_props_get(rec.props, rec.props_len, "CORRELATION_ID", &clen);
    volatile size_t sink = corr ? clen + (uint8_t)corr[0] : 0;
    rmq_msg_t *m;
    if (rmqi_rxmsg_build(&rec, "", fuzz_max_inflated(), false, &m, &e) ==
        RMQ_OK) {
      sink += strlen(rmq_msg_id(m)) + strlen(rmq_msg_topic(m)) +
              strlen(rmq_msg_born_host(m)) + strlen(rmq_msg_store_host(m));
      size_t len;
      const unsigned char *b = rmq_msg_body(m, &len);
      if (len)
        sink += b[len - 1];
      rmqi_msg_put_prop(m, "ARRIVE_TIME", "1");
      rmq_msg_destroy(m);
    }
    (void)sink;
  }
  rmqi_cmd_free(&cmd);
  return 0;
}

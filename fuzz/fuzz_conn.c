/* A connection's stream reassembly and dispatch: the input is what a
 * broker sends, cut into reads at points the input chooses, fed through
 * the real read path (rmqi_rpc_test_feed: conn_read, frame checks against
 * the 16 MiB default frameMaxLength, decode, dispatch) of a connection with
 * two requests pending (opaques 1 and 2) and a handler that replies.
 *
 * Input: byte 0 = number of cuts (low 4 bits), then 2 bytes per cut
 * (big-endian offset into the stream, taken modulo its length), then the
 * stream itself. */
#include "net/rpc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_result(void *arg, const rmqi_rpc_result_t *res) {
  int *calls = arg;
  (*calls)++;
  if (res->err == RMQ_OK && res->resp) {
    /* Look at what a completion would read. */
    volatile size_t sink = res->resp->body_len + res->frame_len;
    (void)sink;
    (void)rmqi_cmd_ext_get(res->resp, "topic");
  }
}

static void on_request(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req) {
  (void)arg;
  rmqi_cmd_t resp;
  rmqi_cmd_init_response(&resp, req, 0);
  rmqi_cmd_ext_ref(&resp, "k", "v", 1);
  (void)rmqi_rpc_reply(conn, &resp);
  rmqi_cmd_free(&resp);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t ncuts = data[0] & 15, hdr = 1 + 2 * ncuts;
  if (size < hdr)
    return 0;
  const uint8_t *stream = data + hdr;
  size_t len = size - hdr;
  size_t cuts[16];
  for (size_t i = 0; i < ncuts; i++)
    cuts[i] = len ? ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % len : 0;
  qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

  static rmqi_log_t quiet = {NULL, NULL, RMQ_LOG_ERROR - 1};
  rmqi_rpc_opts_t o = {.max_frame = RMQI_DEFAULT_MAX_FRAME,
                       .connect_timeout_ms = 1000,
                       .ser = RMQI_SER_JSON,
                       .log = &quiet};
  rmqi_rpc_t *r;
  if (rmqi_rpc_new(&r, &o) != RMQ_OK)
    return 0;
  rmqi_rpc_handle(r, 40, on_request, NULL); /* CHECK_TRANSACTION_STATE */
  int calls = 0, accepted = 0;
  const char *addr = "127.0.0.1:9"; /* never connected: fed from memory */
  for (int i = 0; i < 2; i++) {     /* opaques 1 and 2 */
    rmqi_cmd_t c;
    rmqi_cmd_init(&c, 10);
    if (rmqi_rpc_invoke(r, addr, &c, 60000, on_result, &calls) == RMQ_OK)
      accepted++;
    rmqi_cmd_free(&c);
  }
  if (rmqi_rpc_test_feed(r, addr, stream, len, cuts, ncuts) != RMQ_OK)
    abort();
  /* The peer's close ended the connection: everything completed once. */
  if (calls != accepted)
    abort();
  rmqi_rpc_free(r);
  if (calls != accepted)
    abort();
  return 0;
}

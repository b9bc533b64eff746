/* Pull responses as the consumer reads them, with the runtime's limits:
 * a frame of at most 16 MiB (RMQI_DEFAULT_MAX_FRAME) cut from the stream,
 * decoded, read by rmqi_pull_parse, then every record walked as lite.c's
 * decode_batch does: body CRC checked, bodies inflated up to the default
 * maxInflatedBodySize, 5.x inner batches unwrapped one entry at a time.
 * Seeds (fuzz/corpus/pull/, from fuzz/gen_pull_seeds.py) are FOUND
 * responses in both serializations around the stored-message vectors. */
#include "codec/batch.h"
#include "codec/cmd.h"
#include "consumer/pull.h"
#include "consumer/rxmsg.h"
#include "fuzz_limits.h"

#include <stdlib.h>
#include <string.h>

static void use(rmq_msg_t *m) {
  volatile size_t sink = strlen(rmq_msg_id(m)) + strlen(rmq_msg_topic(m));
  const char *t = rmq_msg_tags(m);
  if (t)
    sink += strlen(t);
  size_t len;
  const unsigned char *b = rmq_msg_body(m, &len);
  if (len)
    sink += b[len - 1];
  (void)sink;
  rmq_msg_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t fl;
  if (rmqi_frame_check(data, size, RMQI_DEFAULT_MAX_FRAME, &fl, NULL) != RMQ_OK)
    return 0;
  rmqi_cmd_t c;
  if (rmqi_cmd_decode(&c, data, fl, NULL) != RMQ_OK)
    return 0;
  rmqi_pull_res_t pr;
  char err[256];
  if (rmqi_pull_parse(&c, "127.0.0.1:10911", &pr, err, sizeof(err)) == RMQ_OK) {
    const size_t max = fuzz_max_inflated();
    size_t pos = 0;
    rmqi_mpool_t *pool = rmqi_mpool_new(); /* the consumer's blocks */
    for (;;) {
      rmqi_msgrec_t rec;
      rmqi_errbuf_t e;
      size_t before = pos;
      rmq_err_t rc = rmqi_pull_next(&pr, &pos, &rec, &e);
      if (rc == RMQ_ERR_NOT_FOUND)
        break;
      if (pos <= before || pos > pr.body_len)
        abort(); /* every record moves on and stays inside the body */
      if (rc != RMQ_OK)
        continue;
      rmq_msg_t *m;
      if (rmqi_msgrec_is_inner_batch(&rec)) {
        rmqi_inner_t in;
        rc = rmqi_rxmsg_inner_start(&in, &rec, max, &e);
        in.pool = pool;
        while (rc == RMQ_OK && (rc = rmqi_rxmsg_inner_next(&in, "broker-a", max,
                                                           &m, &e)) == RMQ_OK)
          use(m);
        rmqi_rxmsg_inner_end(&in);
        continue;
      }
      size_t tl;
      (void)rmqi_props_get(rec.props, rec.props_len, "TAGS", &tl);
      if (rmqi_rxmsg_build_cached(&rec, "broker-a", max, true, NULL, pool, &m,
                                  &e) == RMQ_OK)
        use(m);
    }
    rmqi_mpool_release(pool);
    rmqi_pull_res_free(&pr);
  }
  rmqi_cmd_free(&c);
  return 0;
}

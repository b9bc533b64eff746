/* Pull bodies as the consumer turns them into messages: every record that
 * decodes becomes a received rmq_msg_t (properties, inflated body,
 * metadata, one allocation); its getters are read, it is changed (which
 * copies it out of its block) and destroyed. Limits are the runtime's:
 * the consumer's default maxInflatedBodySize and the CRC check on; a
 * record that fails only its CRC is built once more without the check, so
 * that the fuzzer (which cannot forge CRCs) still reaches what follows.
 * The blocks come from a pool of chunks (client/mpool.h), as the
 * consumer's do; the input's last message outlives the pool's release, as
 * an application's may outlive its consumer. */
#include "codec/batch.h"
#include "consumer/rxmsg.h"
#include "fuzz_limits.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const size_t max = fuzz_max_inflated();
  size_t off = 0;
  rmqi_mpool_t *pool = rmqi_mpool_new();
  rmq_msg_t *held = NULL;
  while (off < size) {
    rmqi_msgrec_t rec;
    size_t next;
    rmqi_errbuf_t e;
    rmq_err_t rc = rmqi_msgrec_decode(data + off, size - off, &rec, &next, &e);
    if (next == 0)
      break;
    off += next;
    rmq_msg_t *m;
    if (rc == RMQ_OK && rmqi_msgrec_is_inner_batch(&rec)) {
      /* 5.x inner batch: one message per entry, as the consumer does */
      rmqi_inner_t in;
      rmq_err_t r = rmqi_rxmsg_inner_start(&in, &rec, max, &e);
      in.pool = pool;
      while (r == RMQ_OK &&
             (r = rmqi_rxmsg_inner_next(&in, "b", max, &m, &e)) == RMQ_OK)
        rmq_msg_destroy(m);
      rmqi_rxmsg_inner_end(&in);
      continue;
    }
    if (rc != RMQ_OK)
      continue;
    rc = rmqi_rxmsg_build_cached(&rec, "broker-a", max, true, NULL, pool, &m,
                                 &e);
    if (rc == RMQ_ERR_BAD_CRC)
      rc = rmqi_rxmsg_build_cached(&rec, "broker-a", max, false, NULL, pool,
                                   &m, &e);
    if (rc != RMQ_OK)
      continue;
    volatile size_t sink = strlen(rmq_msg_id(m)) + strlen(rmq_msg_topic(m)) +
                           strlen(rmq_msg_born_host(m)) +
                           strlen(rmq_msg_store_host(m));
    for (size_t i = 0; i < rmq_msg_property_count(m); i++) {
      const char *k, *v;
      if (rmq_msg_property_at(m, i, &k, &v) == RMQ_OK)
        sink += strlen(k) + strlen(v);
    }
    size_t len;
    const unsigned char *b = rmq_msg_body(m, &len);
    if (len)
      sink += b[len - 1];
    (void)sink;
    rmq_msg_set_tags(m, "changed");
    rmq_msg_destroy(held);
    held = m;
  }
  rmqi_mpool_release(pool);
  rmq_msg_destroy(held);
  return 0;
}

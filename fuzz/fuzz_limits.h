/*
 * The runtime limits the targets decode under, so that a fuzzer finds
 * what a consumer would meet: frames up to RMQI_DEFAULT_MAX_FRAME (16 MiB,
 * codec/cmd.h), the body CRC checked, and received bodies inflated up to
 * the consumer's default maxInflatedBodySize, read from the property
 * table so that the two cannot drift apart. A long campaign
 * (tests/bench/fuzz_long.sh) may lower the inflate ceiling with
 * RMQ_FUZZ_MAX_INFLATED (bytes): mutants of the seed that inflates past
 * 64 MiB would otherwise take most of its time.
 */
#ifndef FUZZ_FUZZ_LIMITS_H
#define FUZZ_FUZZ_LIMITS_H

#include "client/conf.h"
#include "codec/cmd.h"

#include <stdlib.h>

static inline size_t fuzz_max_inflated(void) {
  static size_t v;
  if (v == 0) {
    rmq_conf_t *c = rmq_conf_new();
    v = c ? (size_t)c->v.max_inflated_body_size : (size_t)64 << 20;
    rmq_conf_destroy(c);
    const char *e = getenv("RMQ_FUZZ_MAX_INFLATED");
    if (e && strtoull(e, NULL, 10) > 0)
      v = (size_t)strtoull(e, NULL, 10);
  }
  return v;
}

#endif

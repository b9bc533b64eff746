/* Java String.hashCode, which RocketMQ uses for tag codes and the sharding
 * key queue selector: over UTF-16 code units, from UTF-8 input (invalid
 * UTF-8 counts as U+FFFD per bad byte, as Java's decoder does). */
#ifndef RMQI_CODEC_HASH_H
#define RMQI_CODEC_HASH_H

#include "../util/common.h"

int32_t rmqi_java_hash(const char *s, size_t n);

#endif

/*
 * CRC-32 (zlib's: polynomial 0xEDB88320, reflected), as the broker stores
 * it for each message body. zlib's crc32() semantics: pass 0 to start, or
 * a previous result to go on.
 */
#ifndef RMQI_UTIL_CRC32_H
#define RMQI_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t rmqi_crc32(uint32_t crc, const uint8_t *p, size_t n);
/* zlib's alone (the reference the tests compare with). */
uint32_t rmqi_crc32_zlib(uint32_t crc, const uint8_t *p, size_t n);

#endif

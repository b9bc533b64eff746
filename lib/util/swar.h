/*
 * Byte tests a word at a time ("SIMD within a register"), portable C.
 *
 * Each test takes 8 bytes loaded little-endian and returns a mask with the
 * top bit of every matching byte set. The subtraction in these tests can
 * borrow into the byte above a true match, so bits above the first match
 * may be false positives, but never bits below it: a zero mask means no
 * byte matches, and the lowest set bit is exactly the first match. The
 * string scanners in the codec use them to skip 8 plain bytes per step.
 */
#ifndef RMQI_SWAR_H
#define RMQI_SWAR_H

#include <stdint.h>
#include <string.h>

#define RMQI_SWAR_ONES 0x0101010101010101ULL
#define RMQI_SWAR_HIGHS 0x8080808080808080ULL

static inline uint64_t rmqi_load_le64(const void *src) {
  const uint8_t *p = src;
  /* Compilers turn this into one load on little-endian machines. */
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
         (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
         (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Bytes below @p n (n <= 128). */
static inline uint64_t rmqi_swar_lt(uint64_t x, uint8_t n) {
  return (x - RMQI_SWAR_ONES * n) & ~x & RMQI_SWAR_HIGHS;
}

/* Bytes equal to @p c. */
static inline uint64_t rmqi_swar_eq(uint64_t x, uint8_t c) {
  uint64_t y = x ^ (RMQI_SWAR_ONES * c);
  return (y - RMQI_SWAR_ONES) & ~y & RMQI_SWAR_HIGHS;
}

/* Index (0..7) of the first matching byte of a non-zero mask. */
static inline unsigned rmqi_swar_first(uint64_t m) {
#if defined(__GNUC__)
  return (unsigned)__builtin_ctzll(m) >> 3;
#else
  unsigned i = 0;
  while (!(m & 0x80))
    m >>= 8, i++;
  return i;
#endif
}

#endif

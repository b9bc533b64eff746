/*
 * CRC-32 of received bodies. zlib's table-driven crc32 took a sixth of a
 * consumed 256-byte message's instructions. On x86-64 with PCLMULQDQ the
 * body is folded 64 bytes at a time by carry-less multiplication (Gopal et
 * al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction", Intel, 2009), then reduced to 32 bits by Barrett's method;
 * the last len % 16 bytes, and bodies under 64 bytes, go through zlib.
 * The constants are x^k mod P(x) for the fold distances, bit-reflected
 * (the paper's section 4 and its reflected variant):
 *   k1 = x^(4*128+32) mod P << 1, k2 = x^(4*128-32) mod P << 1 (64-byte
 *   fold), k3 = x^(128+32), k4 = x^(128-32) (16-byte fold), k5 = x^64
 *   (64 to 32 bits), and for Barrett P itself and u = x^64 / P.
 * tests/unit/test_util.c compares it with zlib over every length up to
 * 1 KiB and every alignment.
 */
#include "crc32.h"

#include <zlib.h>

uint32_t rmqi_crc32_zlib(uint32_t crc, const uint8_t *p, size_t n) {
  while (n > 0) { /* zlib's length is 32 bits wide */
    uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
    crc = (uint32_t)crc32(crc, p ? p : (const uint8_t *)"", k);
    p += k;
    n -= k;
  }
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

CLMUL_TARGET static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

static inline __m128i load(const uint8_t *p) {
  return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The CRC register (not inverted) after @p n bytes: n >= 64, n % 16 == 0. */
CLMUL_TARGET static uint32_t fold_clmul(uint32_t reg, const uint8_t *p,
                                        size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
  const __m128i pu = _mm_set_epi64x(0x1f7011641, 0x1db710641);
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)reg));
  __m128i x2 = load(p + 16), x3 = load(p + 32), x4 = load(p + 48);
  p += 64;
  n -= 64;
  for (; n >= 64; p += 64, n -= 64) {
    x1 = fold(x1, k1k2, load(p));
    x2 = fold(x2, k1k2, load(p + 16));
    x3 = fold(x3, k1k2, load(p + 32));
    x4 = fold(x4, k1k2, load(p + 48));
  }
  x1 = fold(x1, k3k4, x2);
  x1 = fold(x1, k3k4, x3);
  x1 = fold(x1, k3k4, x4);
  for (; n >= 16; p += 16, n -= 16)
    x1 = fold(x1, k3k4, load(p));
  /* 128 to 64 bits (appending 32 zero bits), then 64 to 32 */
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8),
                     _mm_clmulepi64_si128(k3k4, x1, 0x01));
  __m128i t = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(
      _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), t);
  /* Barrett reduction */
  t = x1;
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), pu, 0x10);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), pu, 0x00);
  return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, t), 1);
}

uint32_t rmqi_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  if (n >= 64 && __builtin_cpu_supports("pclmul") &&
      __builtin_cpu_supports("sse4.1")) {
    size_t m = n & ~(size_t)15;
    crc = ~fold_clmul(~crc, p, m);
    p += m;
    n -= m;
  }
  return rmqi_crc32_zlib(crc, p, n);
}
#else
uint32_t rmqi_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  return rmqi_crc32_zlib(crc, p, n);
}
#endif

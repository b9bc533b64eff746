/* lib/util: buffers, cursors, arena, error table. */
#include "test.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/crc32.h"
#include "util/err.h"
#include "util/zpool.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

TEST(buf_appends_big_endian) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_buf_put_u8(&b, 0xAB);
  rmqi_buf_put_be16(&b, 0x0102);
  rmqi_buf_put_be32(&b, 0x03040506);
  rmqi_buf_put_be64(&b, 0x0708090A0B0C0D0EULL);
  static const uint8_t want[] = {0xAB, 1, 2,  3,  4,  5,  6, 7,
                                 8,    9, 10, 11, 12, 13, 14};
  CHECK(rmqi_buf_ok(&b));
  CHECK_MEM(b.data, b.len, want, sizeof(want));
  rmqi_buf_patch_be32(&b, 3, 0xFFFFFFFF);
  CHECK_UINT(rmqi_load_be32(b.data + 3), 0xFFFFFFFFu);
  rmqi_buf_free(&b);
}

TEST(buf_limit_marks_failed_and_stops) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  b.limit = 10;
  rmqi_buf_put(&b, "0123456789", 10);
  CHECK(rmqi_buf_ok(&b));
  rmqi_buf_put_u8(&b, 'x');
  CHECK(!rmqi_buf_ok(&b));
  CHECK_UINT(b.len, 10);
  rmqi_buf_put_be32(&b, 1); /* no-op after failure */
  CHECK_UINT(b.len, 10);
  rmqi_buf_reset(&b);
  CHECK(rmqi_buf_ok(&b));
  CHECK_UINT(b.len, 0);
  rmqi_buf_free(&b);
}

TEST(buf_consume_keeps_tail) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_buf_put_str(&b, "abcdef");
  rmqi_buf_consume(&b, 2);
  CHECK_MEM(b.data, b.len, "cdef", 4);
  rmqi_buf_consume(&b, 100);
  CHECK_UINT(b.len, 0);
  rmqi_buf_free(&b);
}

/* A buffer in the caller's storage stays there while it fits, then moves
 * its content to the heap; freeing never frees the storage (ASan). */
TEST(buf_in_storage_moves_to_heap_when_full) {
  uint8_t st[8];
  rmqi_buf_t b;
  rmqi_buf_init_in(&b, st, sizeof(st));
  rmqi_buf_put(&b, "abcdefgh", 8);
  CHECK(b.data == st);
  rmqi_buf_put(&b, "ij", 2);
  REQUIRE(rmqi_buf_ok(&b));
  CHECK(b.data != st);
  CHECK_UINT(b.len, 10);
  CHECK(memcmp(b.data, "abcdefghij", 10) == 0);
  rmqi_buf_free(&b);
  rmqi_buf_init_in(&b, st, sizeof(st));
  rmqi_buf_put(&b, "xy", 2);
  rmqi_buf_free(&b);
  CHECK(memcmp(st, "xy", 2) == 0);
}

TEST(fmt_i64_extremes) {
  char t[32];
  size_t n = rmqi_fmt_i64(t, INT64_MIN);
  t[n] = 0;
  CHECK_STR(t, "-9223372036854775808");
  n = rmqi_fmt_i64(t, INT64_MAX);
  t[n] = 0;
  CHECK_STR(t, "9223372036854775807");
  n = rmqi_fmt_i64(t, 0);
  t[n] = 0;
  CHECK_STR(t, "0");
  n = rmqi_fmt_i64(t, -7);
  t[n] = 0;
  CHECK_STR(t, "-7");
  /* Around every power of ten, both signs: digit pairs and odd lengths. */
  for (int k = 0; k <= 18; k++) {
    int64_t p = 1;
    for (int j = 0; j < k; j++)
      p *= 10;
    for (int64_t d = -2; d <= 2; d++)
      for (int sign = -1; sign <= 1; sign += 2) {
        int64_t v = sign * (p + d);
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)v);
        n = rmqi_fmt_i64(t, v);
        t[n] = 0;
        CHECK_STR(t, want);
      }
  }
}

TEST(reader_never_reads_past_end) {
  static const uint8_t in[] = {0, 0, 0, 5, 1, 2, 3};
  rmqi_rd_t r;
  rmqi_rd_init(&r, in, sizeof(in));
  uint32_t v32;
  uint64_t v64;
  const uint8_t *p;
  CHECK(rmqi_rd_be32(&r, &v32));
  CHECK_UINT(v32, 5);
  CHECK(!rmqi_rd_be64(&r, &v64));
  CHECK(!rmqi_rd_bytes(&r, v32, &p));
  CHECK(rmqi_rd_bytes(&r, 3, &p));
  CHECK_UINT(rmqi_rd_left(&r), 0);
  uint8_t b;
  CHECK(!rmqi_rd_u8(&r, &b));
}

TEST(arena_respects_limit) {
  rmqi_arena_t a;
  rmqi_arena_init(&a, 1000);
  CHECK(rmqi_arena_alloc(&a, 500) != NULL);
  CHECK(rmqi_arena_alloc(&a, 600) == NULL);
  char *s = rmqi_arena_strndup(&a, "hello", 3);
  REQUIRE(s != NULL);
  CHECK_STR(s, "hel");
  CHECK(rmqi_arena_alloc(&a, SIZE_MAX) == NULL);
  rmqi_arena_free(&a);
}

TEST(arena_big_and_small_mixed) {
  rmqi_arena_t a;
  rmqi_arena_init(&a, 0);
  char *small1 = rmqi_arena_strndup(&a, "a", 1);
  void *big = rmqi_arena_alloc(&a, 100000);
  char *small2 = rmqi_arena_strndup(&a, "b", 1);
  REQUIRE(small1 && big && small2);
  memset(big, 0x5A, 100000);
  CHECK_STR(small1, "a");
  CHECK_STR(small2, "b");
  rmqi_arena_free(&a);
}

TEST(err_table_names_and_strings) {
  CHECK_STR(rmq_err_name(RMQ_OK), "OK");
  CHECK_STR(rmq_err_name(RMQ_TOPIC_NOT_EXIST), "TOPIC_NOT_EXIST");
  CHECK_INT(RMQ_TOPIC_NOT_EXIST, 17);
  CHECK_STR(rmq_err_name(RMQ_ERR_TIMEOUT), "ERR_TIMEOUT");
  CHECK_STR(rmq_err_name((rmq_err_t)12345), "UNKNOWN");
  CHECK_STR(rmq_err_str((rmq_err_t)-999), "unknown error");
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_err(&e, RMQ_ERR_BAD_FRAME, 7, "bad %s %d", "thing", 3),
            RMQ_ERR_BAD_FRAME);
  CHECK_STR(e.msg, "bad thing 3");
  CHECK_UINT(e.pos, 7);
  CHECK_ERR(rmqi_err(NULL, RMQ_ERR_LIMIT, 0, "dropped"), RMQ_ERR_LIMIT);
}

TEST(version_matches_macros) {
  CHECK_STR(rmq_version(), "0.1.0");
  CHECK_INT(rmq_version_num(), RMQ_VERSION_NUM);
}

/* Bodies of differing size and content, one after the other through one
 * pool: a reset stream must not carry anything over from the last body. */
static uint8_t *zbody(int kind, size_t n) {
  uint8_t *b = malloc(n ? n : 1);
  uint32_t x = 2463534242u + (uint32_t)n;
  for (size_t i = 0; b && i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = kind == 0   ? (uint8_t)x                       /* random */
           : kind == 1 ? (uint8_t)"{\"k\":12,\"v\":\"ab\"}"[x % 18] /* text */
                       : 'x';
  }
  return b;
}

TEST(zpool_gives_compress2_bytes) {
  static const size_t sizes[] = {300000, 5000, 70000, 0, 4096, 1 << 20, 17};
  static const int levels[] = {0, 1, 5, 9}; /* compressLevel's range */
  for (size_t li = 0; li < 4; li++) {
    int level = levels[li];
    rmqi_zpool_t zp;
    rmqi_zpool_init(&zp, level);
    for (size_t i = 0; i < 3 * sizeof(sizes) / sizeof(sizes[0]); i++) {
      size_t n = sizes[i % 7];
      uint8_t *b = zbody((int)(i % 3), n), *z = NULL;
      REQUIRE(b);
      size_t zl = 0;
      CHECK_ERR(rmqi_zpool_compress(&zp, b, n, &z, &zl), RMQ_OK);
      uLongf wl = compressBound((uLong)n);
      uint8_t *want = malloc(wl);
      REQUIRE(want && z);
      REQUIRE(compress2(want, &wl, b, (uLong)n, level) == Z_OK);
      CHECK_MEM(z, zl, want, wl);
      uLongf back_len = n + 1;
      uint8_t *back = malloc(back_len);
      REQUIRE(back);
      CHECK_INT(uncompress(back, &back_len, z, (uLong)zl), Z_OK);
      CHECK_MEM(back, back_len, b, n);
      free(back);
      free(want);
      free(z);
      free(b);
    }
    CHECK_UINT(zp.n_idle, 1); /* one sender: one stream, reused */
    rmqi_zpool_free(&zp);
  }
}

typedef struct zp_arg {
  rmqi_zpool_t *zp;
  int id;
  int bad;
} zp_arg_t;

static void *zp_worker(void *v) {
  zp_arg_t *a = v;
  for (int i = 0; i < 40; i++) {
    size_t n = 4096 + (size_t)(a->id * 977 + i * 131);
    uint8_t *b = zbody((a->id + i) % 3, n), *z = NULL, *back = malloc(n);
    size_t zl = 0;
    uLongf bl = n;
    if (b == NULL || back == NULL ||
        rmqi_zpool_compress(a->zp, b, n, &z, &zl) != RMQ_OK ||
        uncompress(back, &bl, z, (uLong)zl) != Z_OK || bl != n ||
        memcmp(back, b, n) != 0)
      a->bad++;
    free(z);
    free(back);
    free(b);
  }
  return NULL;
}

TEST(zpool_concurrent_senders_stay_bounded) {
  rmqi_zpool_t zp;
  rmqi_zpool_init(&zp, 5);
  enum { T = 8 };
  pthread_t th[T];
  zp_arg_t a[T];
  for (int i = 0; i < T; i++) {
    a[i] = (zp_arg_t){&zp, i, 0};
    REQUIRE(pthread_create(&th[i], NULL, zp_worker, &a[i]) == 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    CHECK_INT(a[i].bad, 0);
  }
  CHECK(zp.n_idle >= 1 && zp.n_idle <= RMQI_ZPOOL_IDLE);
  rmqi_zpool_free(&zp);
}

/* The folded CRC against zlib's: every length to 1 KiB from every
 * alignment in a 16-byte window, chained from a non-zero start, plus
 * lengths around the folds' steps up to 64 KiB and the known check value. */
TEST(crc32_matches_zlib) {
  enum { MAX = 1024 + 16 };
  uint8_t *buf = malloc(65536 + 64);
  REQUIRE(buf != NULL);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < 65536 + 64; i++) { /* xorshift: any bytes */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
  size_t bad = 0;
  for (size_t off = 0; off < 16; off++)
    for (size_t n = 0; n + off <= MAX; n++) {
      uint32_t start = (uint32_t)(n * 2654435761u);
      if (rmqi_crc32(0, buf + off, n) != rmqi_crc32_zlib(0, buf + off, n) ||
          rmqi_crc32(start, buf + off, n) !=
              rmqi_crc32_zlib(start, buf + off, n))
        bad++;
    }
  CHECK_UINT(bad, 0);
  static const size_t big[] = {4095, 4096, 4097, 4111, 4112, 4160, 65535, 65536};
  for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
    CHECK_UINT(rmqi_crc32(0, buf + 3, big[i]),
               (uint32_t)crc32(0, buf + 3, (uInt)big[i]));
  CHECK_UINT(rmqi_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
  /* 64 bytes and more: the folded path itself */
  static const char *s64 =
      "The quick brown fox jumps over the lazy dog. The quick brown fox";
  CHECK_UINT(rmqi_crc32(0, (const uint8_t *)s64, 64),
             (uint32_t)crc32(0, (const uint8_t *)s64, 64));
  CHECK_UINT(rmqi_crc32(0, NULL, 0), 0);
  free(buf);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(buf_appends_big_endian),
      TCASE(buf_limit_marks_failed_and_stops),
      TCASE(buf_consume_keeps_tail),
      TCASE(buf_in_storage_moves_to_heap_when_full),
      TCASE(fmt_i64_extremes),
      TCASE(reader_never_reads_past_end),
      TCASE(arena_respects_limit),
      TCASE(arena_big_and_small_mixed),
      TCASE(err_table_names_and_strings),
      TCASE(version_matches_macros),
      TCASE(zpool_gives_compress2_bytes),
      TCASE(zpool_concurrent_senders_stay_bounded),
      TCASE(crc32_matches_zlib),
  };
  return RUN_TESTS(cases);
}

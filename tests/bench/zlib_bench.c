/*
 * Compression cost (issue 16; not a test): what a send pays for zlib on
 * bodies at or above compressMsgBodyOverHowmuch, with the producer's code
 * path (rmqi_zpool_compress: a pooled stream, deflateReset per message)
 * against what it did before (compress2: deflateInit, deflate, deflateEnd
 * per message). Bodies: "json" (generated records, about 4:1), "random"
 * (PRNG bytes, incompressible) and "x" (one repeated byte, what
 * producer_bench and the Go peer send). Figures are thread CPU time,
 * median of ROUNDS rounds with both ways interleaved, plus minor page
 * faults per message.
 *   zlib_bench                      the three tables of doc/performance.md
 *   zlib_bench one BODY SIZE LEVEL fresh|pool N
 *                                   N compressions only (for callgrind)
 *   zlib_bench dump BODY SIZE       the body on stdout (for other clients'
 *                                   compressors)
 */
#include "util/zpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

enum { ROUNDS = 5 };

static volatile size_t sink;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* @p n bytes of body kind @p kind ("json", "random", "x"). */
static uint8_t *make_body(const char *kind, size_t n) {
  uint8_t *b = malloc(n + 512);
  if (b == NULL)
    exit(1);
  rng = 0x9e3779b97f4a7c15ull;
  if (strcmp(kind, "x") == 0) {
    memset(b, 'x', n);
  } else if (strcmp(kind, "random") == 0) {
    for (size_t i = 0; i < n; i++)
      b[i] = (uint8_t)next();
  } else {
    static const char *ev[] = {"click", "view", "purchase", "login", "logout"};
    static const char *cur[] = {"EUR", "USD", "CNY", "JPY"};
    size_t len = 0;
    b[len++] = '[';
    while (len < n) {
      uint64_t r = next();
      len += (size_t)snprintf(
          (char *)b + len, 512,
          "{\"id\":%llu,\"user\":\"user_%05u\",\"event\":\"%s\","
          "\"ts\":%llu,\"amount\":%u.%02u,\"currency\":\"%s\","
          "\"session\":\"%016llx\",\"ok\":%s},",
          (unsigned long long)(r % 10000000), (unsigned)(r >> 20) % 50000,
          ev[(r >> 8) % 5], 1733520000000ull + (r >> 40) % 86400000,
          (unsigned)(r >> 12) % 1000, (unsigned)(r >> 30) % 100,
          cur[(r >> 4) % 4], (unsigned long long)next(),
          (r >> 3) & 1 ? "true" : "false");
    }
  }
  return b;
}

/* (noinline: callgrind --toggle-collect=fresh or =pooled counts one way.)
 * The old path: one compress2 per message, output sized by compressBound. */
__attribute__((noinline)) static size_t fresh(const uint8_t *b, size_t n,
                                              int level) {
  uLongf zl = compressBound((uLong)n);
  uint8_t *z = malloc(zl);
  if (z == NULL || compress2(z, &zl, b, (uLong)n, level) != Z_OK)
    exit(1);
  free(z);
  return zl;
}

__attribute__((noinline)) static size_t pooled(rmqi_zpool_t *zp,
                                               const uint8_t *b, size_t n) {
  uint8_t *z;
  size_t zl;
  if (rmqi_zpool_compress(zp, b, n, &z, &zl) != RMQ_OK)
    exit(1);
  free(z);
  return zl;
}

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long minflt(void) {
  struct rusage u;
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct res {
  double us[2];    /* µs per message: fresh, pool */
  double flt[2];   /* minor faults per message */
  double ratio;    /* body / compressed */
} res_t;

/* Both ways on the same body, interleaved, about 2 MiB of input a round. */
static res_t run(const uint8_t *b, size_t n, int level) {
  rmqi_zpool_t zp;
  rmqi_zpool_init(&zp, level);
  size_t iters = (2u << 20) / n + 1;
  double r[2][ROUNDS], f[2][ROUNDS];
  size_t zl = pooled(&zp, b, n) + fresh(b, n, level); /* warm-up */
  for (int k = 0; k < ROUNDS; k++) {
    for (int w0 = 0; w0 < 2; w0++) {
      int w = (w0 + k) & 1; /* alternate which goes first */
      long f0 = minflt();
      double t0 = cpu_ns();
      for (size_t i = 0; i < iters; i++)
        zl = w ? pooled(&zp, b, n) : fresh(b, n, level);
      r[w][k] = (cpu_ns() - t0) / 1e3 / (double)iters;
      f[w][k] = (double)(minflt() - f0) / (double)iters;
    }
  }
  sink += zl;
  rmqi_zpool_free(&zp);
  res_t o;
  for (int w = 0; w < 2; w++) {
    qsort(r[w], ROUNDS, sizeof(double), cmp_d);
    qsort(f[w], ROUNDS, sizeof(double), cmp_d);
    o.us[w] = r[w][ROUNDS / 2];
    o.flt[w] = f[w][ROUNDS / 2];
  }
  o.ratio = (double)n / (double)zl;
  return o;
}

/* Ratio and µs per message of one stream set up with deflateInit2. */
static void variant(const uint8_t *b, size_t n, int wbits, int mem) {
  z_stream z = {0};
  if (deflateInit2(&z, 5, Z_DEFLATED, wbits, mem, Z_DEFAULT_STRATEGY) != Z_OK)
    exit(1);
  uLong cap = deflateBound(&z, n);
  uint8_t *out = malloc(cap);
  size_t iters = (2u << 20) / n + 1, zl = 0;
  double r[ROUNDS];
  for (int k = 0; k < ROUNDS; k++) {
    double t0 = cpu_ns();
    for (size_t i = 0; i < iters; i++) {
      deflateReset(&z);
      z.next_in = (Bytef *)(uintptr_t)b;
      z.avail_in = (uInt)n;
      z.next_out = out;
      z.avail_out = (uInt)cap;
      if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        exit(1);
      zl = cap - z.avail_out;
    }
    r[k] = (cpu_ns() - t0) / 1e3 / (double)iters;
  }
  qsort(r, ROUNDS, sizeof(double), cmp_d);
  printf("| %d | %d | %.2f | %.1f |\n", wbits, mem, (double)n / (double)zl,
         r[ROUNDS / 2]);
  deflateEnd(&z);
  free(out);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "dump") == 0) {
    size_t n = strtoul(argv[3], NULL, 10);
    uint8_t *b = make_body(argv[2], n);
    fwrite(b, 1, n, stdout);
    free(b);
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "one") == 0) {
    size_t n = strtoul(argv[3], NULL, 10), iters = strtoul(argv[6], NULL, 10);
    int level = atoi(argv[4]);
    uint8_t *b = make_body(argv[2], n);
    rmqi_zpool_t zp;
    rmqi_zpool_init(&zp, level);
    bool pool = strcmp(argv[5], "pool") == 0;
    for (size_t i = 0; i < iters; i++)
      sink += pool ? pooled(&zp, b, n) : fresh(b, n, level);
    rmqi_zpool_free(&zp);
    free(b);
    return 0;
  }
  printf("zlib %s\n\n", zlibVersion());
  static const char *kinds[] = {"json", "random"};
  static const size_t lsizes[] = {16384, 262144};
  printf("Levels (pooled stream): ratio, µs per message\n\n"
         "| level | json 16 KiB | json 256 KiB | random 16 KiB | "
         "random 256 KiB |\n"
         "| --- | --- | --- | --- | --- |\n");
  for (int level = 1; level <= 9; level++) {
    printf("| %d |", level);
    for (int k = 0; k < 2; k++)
      for (int s = 0; s < 2; s++) {
        uint8_t *b = make_body(kinds[k], lsizes[s]);
        res_t o = run(b, lsizes[s], level);
        printf(" %.2f : %.1f µs |", o.ratio, o.us[1]);
        free(b);
      }
    printf("\n");
  }
  static const char *all[] = {"json", "random", "x"};
  static const size_t sizes[] = {4096, 16384, 65536, 262144, 1048576};
  printf("\nLevel 5: compress2 per message against the pooled stream\n\n"
         "| body | size | ratio | µs/msg compress2 | µs/msg pooled | "
         "faults/msg compress2 | faults/msg pooled |\n"
         "| --- | --- | --- | --- | --- | --- | --- |\n");
  for (int k = 0; k < 3; k++)
    for (int s = 0; s < 5; s++) {
      uint8_t *b = make_body(all[k], sizes[s]);
      res_t o = run(b, sizes[s], 5);
      printf("| %s | %zu | %.2f | %.1f | %.1f | %.2f | %.2f |\n", all[k],
             sizes[s], o.ratio, o.us[0], o.us[1], o.flt[0], o.flt[1]);
      free(b);
    }
  printf("\nWindow and memLevel, json 16 KiB, level 5, reused stream\n\n"
         "| windowBits | memLevel | ratio | µs/msg |\n"
         "| --- | --- | --- | --- |\n");
  uint8_t *b = make_body("json", 16384);
  static const int wm[][2] = {{15, 8}, {15, 9}, {15, 6}, {14, 8}, {14, 6},
                              {13, 8}, {12, 8}};
  for (size_t i = 0; i < sizeof(wm) / sizeof(wm[0]); i++)
    variant(b, 16384, wm[i][0], wm[i][1]);
  free(b);
  return 0;
}

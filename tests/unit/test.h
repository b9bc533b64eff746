/*
 * A tiny test harness: each test file is one executable with a table of
 * named cases. Assertions print both sides and the location, and the
 * process exits non-zero if any case failed (meson counts one test per
 * executable; the output names each failed case).
 *
 *   TEST(frame_split_across_reads) { ... CHECK_INT(got, 42); ... }
 *   int main(void) {
 *     static const rmqt_case cases[] = {TCASE(frame_split_across_reads)};
 *     return RUN_TESTS(cases);
 *   }
 */
#ifndef RMQ_TEST_H
#define RMQ_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int rmqt_failures;

/* How much slower than native the test runs: RMQ_TEST_SLOWDOWN, which
 * `meson test --setup=valgrind` sets (memcheck runs code 20-50x slower).
 * Time bounds that measure the library's speed, not its logic, scale by
 * it; 1 otherwise. */
static inline int rmqt_slowdown(void) {
  const char *e = getenv("RMQ_TEST_SLOWDOWN");
  int v = e ? atoi(e) : 1;
  return v > 1 ? v : 1;
} /* failures in the current case */

typedef void (*rmqt_fn)(void);
typedef struct {
  const char *name;
  rmqt_fn fn;
} rmqt_case;

int rmqt_run(const char *file, const rmqt_case *cases, size_t n);
void rmqt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rmqt_hexdiff(const char *file, int line, const void *a, size_t alen,
                  const void *b, size_t blen);

#define TEST(name) static void name(void)
/* One row of a file's case table: static const rmqt_case cases[] = {
 * TCASE(a), TCASE(b) }; return RUN_TESTS(cases); */
#define TCASE(n) {#n, n}
#define RUN_TESTS(cases)                                                       \
  rmqt_run(__FILE__, cases, sizeof(cases) / sizeof(cases[0]))

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      rmqt_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                       \
  } while (0)

/* Stops the current case when the condition does not hold. */
#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      rmqt_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                     \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_INT(a, b)                                                        \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_)                                                              \
      rmqt_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)

#define CHECK_UINT(a, b)                                                       \
  do {                                                                         \
    unsigned long long a_ = (unsigned long long)(a),                           \
                       b_ = (unsigned long long)(b);                           \
    if (a_ != b_)                                                              \
      rmqt_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, a_, b_); \
  } while (0)

/* An rmq_err_t compared by name, so failures read "ERR_TIMEOUT != OK". */
#define CHECK_ERR(a, b)                                                        \
  do {                                                                         \
    int a_ = (int)(a), b_ = (int)(b);                                          \
    if (a_ != b_)                                                              \
      rmqt_fail(__FILE__, __LINE__, "%s == %s: %s(%d) != %s(%d)", #a, #b,      \
                rmq_err_name((rmq_err_t)a_), a_, rmq_err_name((rmq_err_t)b_),  \
                b_);                                                           \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if ((a_ == NULL) != (b_ == NULL) || (a_ && strcmp(a_, b_) != 0))           \
      rmqt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,      \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                       \
  } while (0)

/* Byte equality; on mismatch prints the first differing offset and both
 * sides around it in hex. */
#define CHECK_MEM(a, alen, b, blen)                                            \
  do {                                                                         \
    size_t al_ = (size_t)(alen), bl_ = (size_t)(blen);                         \
    if (al_ != bl_ || (al_ && memcmp((a), (b), al_) != 0))                     \
      rmqt_hexdiff(__FILE__, __LINE__, (a), al_, (b), bl_);                    \
  } while (0)

#endif

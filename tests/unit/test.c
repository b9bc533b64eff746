#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

int rmqt_failures;
static const char *current_case;

void rmqt_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "FAIL %s: %s:%d: ", current_case ? current_case : "?", file,
          line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  rmqt_failures++;
}

static void dump(const char *label, const uint8_t *p, size_t len, size_t at) {
  size_t from = at > 16 ? at - 16 : 0;
  size_t to = at + 32 < len ? at + 32 : len;
  fprintf(stderr, "  %s (len %zu) @%zu:", label, len, from);
  for (size_t i = from; i < to; i++)
    fprintf(stderr, i == at ? " [%02X]" : " %02X", p[i]);
  fputc('\n', stderr);
}

void rmqt_hexdiff(const char *file, int line, const void *a, size_t alen,
                  const void *b, size_t blen) {
  const uint8_t *pa = a, *pb = b;
  size_t i = 0;
  while (i < alen && i < blen && pa[i] == pb[i])
    i++;
  rmqt_fail(file, line, "bytes differ at offset %zu (lengths %zu vs %zu)", i,
            alen, blen);
  dump("got     ", pa, alen, i);
  dump("expected", pb, blen, i);
}

int rmqt_run(const char *file, const rmqt_case *cases, size_t n) {
  const char *only = getenv("RMQ_TEST_CASE");
  int failed = 0, ran = 0;
  for (size_t i = 0; i < n; i++) {
    if (only && strcmp(only, cases[i].name) != 0)
      continue;
    current_case = cases[i].name;
    rmqt_failures = 0;
    cases[i].fn();
    ran++;
    if (rmqt_failures) {
      failed++;
      fprintf(stderr, "not ok %s\n", cases[i].name);
    } else {
      fprintf(stderr, "ok %s\n", cases[i].name);
    }
  }
  fprintf(stderr, "%s: %d cases, %d failed\n", file, ran, failed);
  if (ran == 0) {
    /* A misspelt RMQ_TEST_CASE (or an empty table) ran nothing: that must
     * not read as a pass. */
    fprintf(stderr, "%s: RMQ_TEST_CASE=%s selects no case\n", file,
            only ? only : "(unset)");
    return 1;
  }
  return failed ? 1 : 0;
}

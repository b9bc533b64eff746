/* Queue allocation against the Java strategies' own answers (alloc_*
 * vectors): averagely, by circle, consistent hash. */
#include "consumer/allocate.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>

static void run(const rmqt_vec *v) {
  const char *s = rmqt_vec_get(v, "strategy");
  rmqi_alloc_strategy_t st = strcmp(s, "averagely") == 0 ? RMQI_ALLOC_AVERAGELY
                             : strcmp(s, "circle") == 0
                                 ? RMQI_ALLOC_BY_CIRCLE
                                 : RMQI_ALLOC_CONSISTENT_HASH;
  size_t nq = (size_t)rmqt_vec_int(v, "queues", 0);
  size_t nc = (size_t)rmqt_vec_int(v, "cids", 0);
  rmqi_alloc_mq_t *mqs = calloc(nq, sizeof(*mqs));
  char **parts = calloc(nq, sizeof(char *));
  const char **cids = calloc(nc, sizeof(char *));
  char k[64];
  for (size_t i = 0; i < nq; i++) {
    snprintf(k, sizeof(k), "queue.%zu", i);
    parts[i] = strdup(rmqt_vec_get(v, k));
    char *bar1 = strchr(parts[i], '|'), *bar2 = strrchr(parts[i], '|');
    *bar1 = *bar2 = '\0';
    mqs[i] = (rmqi_alloc_mq_t){parts[i], bar1 + 1, atoi(bar2 + 1)};
  }
  for (size_t j = 0; j < nc; j++) {
    snprintf(k, sizeof(k), "cid.%zu", j);
    cids[j] = rmqt_vec_get(v, k);
  }
  for (size_t j = 0; j < nc; j++) {
    size_t out[256], got = rmqi_allocate(st, cids[j], mqs, nq, cids, nc, 10, out);
    char have[1024] = "";
    for (size_t i = 0; i < got; i++)
      snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%zu",
               i ? "," : "", out[i]);
    snprintf(k, sizeof(k), "alloc.%zu", j);
    const char *want = rmqt_vec_get(v, k);
    if (want == NULL || strcmp(have, want) != 0)
      rmqt_fail(__FILE__, __LINE__, "%s/%s client %zu: ours [%s], Java [%s]",
                v->version, v->name, j, have, want ? want : "?");
  }
  for (size_t i = 0; i < nq; i++)
    free(parts[i]);
  free(parts);
  free(mqs);
  free(cids);
}

TEST(allocations_equal_javas) {
  char **versions = rmqt_vec_versions();
  REQUIRE(versions && versions[0]);
  for (char **ver = versions; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "alloc_");
    if (cases == NULL || cases[0] == NULL)
      rmqt_fail(__FILE__, __LINE__, "%s has no alloc_* vectors", *ver);
    int n = 0;
    for (char **c = cases; c && *c; c++, n++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      if (v)
        run(v);
      rmqt_vec_free(v);
    }
    CHECK(n >= 15);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(versions);
}

int main(void) {
  static const rmqt_case cases[] = {TCASE(allocations_equal_javas)};
  return RUN_TESTS(cases);
}

/* Queue allocation strategies (Java-identical; vectors from the Java classes
 * are checked in test_vectors_alloc when present). */
#include "consumer/allocate.h"
#include "test.h"

#include <stdio.h>

static rmqi_alloc_mq_t mqs8[8];
static void make8(void) {
  for (int i = 0; i < 8; i++)
    mqs8[i] = (rmqi_alloc_mq_t){"T", i < 4 ? "broker-a" : "broker-b", i % 4};
}

static void expect(rmqi_alloc_strategy_t s, const char *self,
                   const char *const *cids, size_t n_cids, size_t n_mqs,
                   const size_t *want, size_t n_want) {
  size_t out[64];
  size_t got = rmqi_allocate(s, self, mqs8, n_mqs, cids, n_cids, 10, out);
  CHECK_UINT(got, n_want);
  for (size_t i = 0; i < got && i < n_want; i++)
    CHECK_UINT(out[i], want[i]);
}

TEST(averagely_splits_like_java) {
  make8();
  const char *cids[] = {"c1", "c2", "c3"};
  expect(RMQI_ALLOC_AVERAGELY, "c1", cids, 3, 8, (size_t[]){0, 1, 2}, 3);
  expect(RMQI_ALLOC_AVERAGELY, "c2", cids, 3, 8, (size_t[]){3, 4, 5}, 3);
  expect(RMQI_ALLOC_AVERAGELY, "c3", cids, 3, 8, (size_t[]){6, 7}, 2);
  /* More consumers than queues: the extra ones get nothing. */
  expect(RMQI_ALLOC_AVERAGELY, "c2", cids, 3, 2, (size_t[]){1}, 1);
  expect(RMQI_ALLOC_AVERAGELY, "c3", cids, 3, 2, NULL, 0);
  /* Not in the list: nothing. */
  expect(RMQI_ALLOC_AVERAGELY, "zz", cids, 3, 8, NULL, 0);
}

TEST(by_circle_deals_round_robin) {
  make8();
  const char *cids[] = {"c1", "c2", "c3"};
  expect(RMQI_ALLOC_BY_CIRCLE, "c1", cids, 3, 8, (size_t[]){0, 3, 6}, 3);
  expect(RMQI_ALLOC_BY_CIRCLE, "c3", cids, 3, 8, (size_t[]){2, 5}, 2);
}

TEST(every_queue_has_exactly_one_owner) {
  make8();
  const char *cids[] = {"a@1", "b@2", "c@3", "d@4", "e@5"};
  rmqi_alloc_strategy_t all[] = {RMQI_ALLOC_AVERAGELY, RMQI_ALLOC_BY_CIRCLE,
                                 RMQI_ALLOC_CONSISTENT_HASH};
  for (size_t s = 0; s < 3; s++)
    for (size_t nc = 1; nc <= 5; nc++) {
      int owners[8] = {0};
      for (size_t c = 0; c < nc; c++) {
        size_t out[8];
        size_t got =
            rmqi_allocate(all[s], cids[c], mqs8, 8, cids, nc, 10, out);
        for (size_t i = 0; i < got; i++)
          owners[out[i]]++;
      }
      for (int q = 0; q < 8; q++)
        if (owners[q] != 1)
          rmqt_fail(__FILE__, __LINE__, "strategy %zu, %zu clients: queue %d "
                    "has %d owners", s, nc, q, owners[q]);
    }
}

TEST(sort_orders_like_java) {
  rmqi_alloc_mq_t m[] = {{"T", "b", 1}, {"T", "a", 10}, {"S", "z", 0},
                         {"T", "a", 2}};
  const char *c[] = {"x", "B", "a"};
  rmqi_alloc_sort(m, 4, c, 3);
  CHECK_STR(m[0].topic, "S");
  CHECK_STR(m[1].broker, "a");
  CHECK_INT(m[1].queue_id, 2);
  CHECK_INT(m[2].queue_id, 10);
  CHECK_STR(m[3].broker, "b");
  CHECK_STR(c[0], "B");
  CHECK_STR(c[1], "a");
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(averagely_splits_like_java),
      TCASE(by_circle_deals_round_robin),
      TCASE(every_queue_has_exactly_one_owner),
      TCASE(sort_orders_like_java),
  };
  return RUN_TESTS(cases);
}

/* Producer queue selection and latency fault tolerance. */
#include "producer/select.h"
#include "test.h"

static const rmqi_mq_t qs[] = {
    {"broker-a", 0}, {"broker-a", 1}, {"broker-b", 0}, {"broker-b", 1}};

TEST(round_robin_from_counter) {
  _Atomic uint32_t c = 0;
  size_t seen[4] = {0};
  for (int i = 0; i < 400; i++)
    seen[rmqi_select_queue(qs, 4, &c, NULL, NULL, 0)]++;
  for (int i = 0; i < 4; i++)
    CHECK_UINT(seen[i], 100);
}

TEST(counter_wrap_stays_in_range) {
  _Atomic uint32_t c = 0xFFFFFFF0u;
  for (int i = 0; i < 64; i++)
    CHECK(rmqi_select_queue(qs, 3, &c, NULL, NULL, 0) < 3);
}

TEST(retry_avoids_last_broker) {
  _Atomic uint32_t c = 0;
  for (int i = 0; i < 50; i++) {
    size_t p = rmqi_select_queue(qs, 4, &c, "broker-a", NULL, 0);
    CHECK_STR(qs[p].broker, "broker-b");
  }
}

TEST(retry_with_one_broker_still_picks_a_queue) {
  _Atomic uint32_t c = 0;
  size_t p = rmqi_select_queue(qs, 2, &c, "broker-a", NULL, 0);
  CHECK(p < 2);
}

TEST(fault_durations_match_java_5x) {
  CHECK_INT(rmqi_fault_duration(10, false), 0);
  CHECK_INT(rmqi_fault_duration(100, false), 0);
  CHECK_INT(rmqi_fault_duration(549, false), 0);
  CHECK_INT(rmqi_fault_duration(550, false), 2000);
  CHECK_INT(rmqi_fault_duration(1800, false), 5000);
  CHECK_INT(rmqi_fault_duration(3000, false), 6000);
  CHECK_INT(rmqi_fault_duration(5000, false), 10000);
  CHECK_INT(rmqi_fault_duration(15000, false), 30000);
  CHECK_INT(rmqi_fault_duration(1, true), 10000);
}

TEST(isolated_broker_is_skipped_until_it_recovers) {
  rmqi_fault_t f;
  rmqi_fault_init(&f);
  _Atomic uint32_t c = 0;
  rmqi_fault_update(&f, "broker-a", 3, true, false, 1000);
  CHECK(!rmqi_fault_available(&f, "broker-a", 1000));
  CHECK(!rmqi_fault_reachable(&f, "broker-a"));
  for (int i = 0; i < 20; i++) {
    size_t p = rmqi_select_queue(qs, 4, &c, NULL, &f, 2000);
    CHECK_STR(qs[p].broker, "broker-b");
  }
  /* A fast success later does not shorten the period... */
  rmqi_fault_update(&f, "broker-a", 5, false, true, 1500);
  CHECK(!rmqi_fault_available(&f, "broker-a", 5000));
  /* ...but it ends: 10 s after the failure. */
  CHECK(rmqi_fault_available(&f, "broker-a", 11000));
  CHECK(rmqi_fault_reachable(&f, "broker-a"));
  /* All brokers avoided: selection still returns a queue. */
  rmqi_fault_update(&f, "broker-a", 1, true, false, 20000);
  rmqi_fault_update(&f, "broker-b", 1, true, false, 20000);
  CHECK(rmqi_select_queue(qs, 4, &c, NULL, &f, 20001) < 4);
  rmqi_fault_free(&f);
}

TEST(hash_selector_is_java_abs_mod) {
  CHECK_UINT(rmqi_select_by_hash(7, 4), 3);
  CHECK_UINT(rmqi_select_by_hash(-7, 4), 3);
  CHECK_UINT(rmqi_select_by_hash(INT32_MIN, 3), 2); /* -2147483648 % 3 = -2 */
  CHECK_UINT(rmqi_select_by_hash(INT32_MIN, 8), 0);
  CHECK_UINT(rmqi_select_by_hash(0, 5), 0);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(round_robin_from_counter),
      TCASE(counter_wrap_stays_in_range),
      TCASE(retry_avoids_last_broker),
      TCASE(retry_with_one_broker_still_picks_a_queue),
      TCASE(fault_durations_match_java_5x),
      TCASE(isolated_broker_is_skipped_until_it_recovers),
      TCASE(hash_selector_is_java_abs_mod),
  };
  return RUN_TESTS(cases);
}

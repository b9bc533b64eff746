/* Subscription expressions as Java's FilterAPI builds them. */
#include "consumer/subscription.h"
#include "test.h"

TEST(tag_expressions_split_trim_and_hash) {
  rmqi_sub_t s;
  CHECK_ERR(rmqi_sub_build(&s, "T", " TagA || TagB ||  || TagA", false, 7),
            RMQ_OK);
  CHECK_UINT(s.n_tags, 2);
  CHECK_STR(s.tags[0], "TagA");
  CHECK_INT(s.codes[0], 2598919);
  CHECK_STR(s.tags[1], "TagB");
  CHECK_INT(s.codes[1], 2598920);
  CHECK_STR(s.expression, " TagA || TagB ||  || TagA");
  CHECK_INT(s.version, 7);
  CHECK(rmqi_sub_matches(&s, "TagB", 4));
  CHECK(!rmqi_sub_matches(&s, "TagC", 4)); /* a hash collision is dropped */
  CHECK(!rmqi_sub_matches(&s, NULL, 0));
  rmqi_sub_free(&s);
  /* "TagA|TagB" is one tag; CJK and emoji hash over UTF-16 units. */
  CHECK_ERR(rmqi_sub_build(&s, "T", "TagA|TagB||中文||😀", false, 0), RMQ_OK);
  CHECK_UINT(s.n_tags, 3);
  CHECK_STR(s.tags[0], "TagA|TagB");
  CHECK_INT(s.codes[1], 646394);
  CHECK_INT(s.codes[2], 1772899);
  rmqi_sub_free(&s);
}

TEST(star_and_empty_take_everything_sql_passes_through) {
  rmqi_sub_t s;
  const char *all[] = {"*", "", " * ", NULL};
  for (int i = 0; i < 4; i++) {
    CHECK_ERR(rmqi_sub_build(&s, "T", all[i], false, 0), RMQ_OK);
    CHECK_STR(s.expression, "*");
    CHECK_UINT(s.n_tags, 0);
    CHECK(rmqi_sub_matches(&s, NULL, 0));
    rmqi_sub_free(&s);
  }
  CHECK_ERR(rmqi_sub_build(&s, "T", "a > 5 AND b = 'x'", true, 0), RMQ_OK);
  CHECK(s.sql92);
  CHECK_STR(s.expression, "a > 5 AND b = 'x'");
  CHECK_UINT(s.n_tags, 0);
  rmqi_sub_free(&s);
  CHECK_ERR(rmqi_sub_build(&s, "T", "  ", true, 0), RMQ_ERR_INVALID_ARG);
  CHECK_ERR(rmqi_sub_build(&s, NULL, "*", false, 0), RMQ_ERR_INVALID_ARG);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(tag_expressions_split_trim_and_hash),
      TCASE(star_and_empty_take_everything_sql_passes_through),
  };
  return RUN_TESTS(cases);
}

/* The producer's encoders against golden vectors from the Java library:
 * tag/sharding hash codes (String.hashCode) and batch bodies byte-exact
 * (MessageDecoder.encodeMessages). Every version directory must have them. */
#include "client/client.h"
#include "producer/wire.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>

static char **versions;

TEST(tag_hashes_equal_java_string_hashcode) {
  for (char **v = versions; *v; v++) {
    char **th = rmqt_vec_cases(*v, "taghash");
    rmqt_vec *t = th && th[0] ? rmqt_vec_load(*v, th[0]) : NULL;
    rmqt_strv_free(th);
    if (t == NULL) {
      rmqt_fail(__FILE__, __LINE__, "%s has no taghash vector", *v);
      continue;
    }
    int n = 0;
    for (int i = 0;; i++, n++) {
      char k[32];
      snprintf(k, sizeof(k), "tag.%d", i);
      const rmqt_kv *tag = rmqt_vec_find(t, k);
      if (tag == NULL)
        break;
      snprintf(k, sizeof(k), "hash.%d", i);
      long long want = rmqt_vec_int(t, k, 0);
      int32_t got = rmqi_java_hash(tag->val, tag->val_len);
      if (got != want)
        rmqt_fail(__FILE__, __LINE__, "%s: hash(\"%s\") = %d, Java %lld", *v,
                  tag->val, (int)got, want);
    }
    CHECK(n >= 5);
    rmqt_vec_free(t);
  }
}

/* Rebuilds message @p i of a batch vector with its properties in the order
 * Java wrote them (parsed from props.hex). */
static rmq_msg_t *rebuild(const rmqt_vec *v, int i) {
  char k[64];
  size_t blen, plen;
  snprintf(k, sizeof(k), "msg.%d.body.hex", i);
  uint8_t *body = rmqt_vec_hex(v, k, &blen);
  snprintf(k, sizeof(k), "msg.%d.props.hex", i);
  uint8_t *props = rmqt_vec_hex(v, k, &plen);
  if (body == NULL || props == NULL) {
    free(body);
    free(props);
    return NULL;
  }
  rmq_msg_t *m = rmq_msg_new("TopicB");
  rmq_msg_set_body(m, body, blen);
  rmqi_msg_del_prop(m, "WAIT"); /* re-added in Java's position below */
  size_t s = 0;
  while (s < plen) {
    size_t e = s;
    while (e < plen && props[e] != 2)
      e++;
    uint8_t *sep = memchr(props + s, 1, e - s);
    if (sep) {
      char *name = strndup((char *)props + s, (size_t)(sep - props - s));
      char *val = strndup((char *)sep + 1, (size_t)(props + e - sep - 1));
      rmqi_msg_put_prop(m, name, val);
      free(name);
      free(val);
    }
    s = e + 1;
  }
  free(body);
  free(props);
  return m;
}

TEST(batch_bodies_are_byte_exact) {
  rmq_conf_t *conf = rmq_conf_new();
  rmq_conf_set(conf, "namesrvAddr", "127.0.0.1:1", NULL, 0);
  rmq_client_t *c = rmq_client_new(conf, NULL, 0);
  REQUIRE(c != NULL);
  for (char **v = versions; *v; v++) {
    char **bc = rmqt_vec_cases(*v, "batch_");
    int compared = 0;
    for (char **bcase = bc; bcase && *bcase; bcase++) {
      rmqt_vec *t = rmqt_vec_load(*v, *bcase);
      const char *p0 = t ? rmqt_vec_get(t, "msg.0.props.hex") : NULL;
      /* Only entries Java wrote with a UNIQ_KEY can match ours (we add one
       * to every message); "UNIQ_KEY" in hex is 554E49515F4B4559. */
      if (t == NULL || t->bin == NULL || p0 == NULL ||
          strstr(p0, "554E49515F4B4559") == NULL) {
        rmqt_vec_free(t);
        continue;
      }
      rmq_msg_t *ms[2] = {rebuild(t, 0), rebuild(t, 0)};
      REQUIRE(ms[0] && ms[1]);
      rmqi_prep_t pr;
      rmqi_buf_t ids;
      rmqi_buf_init(&ids);
      char err[256];
      CHECK_ERR(rmqi_prep_batch(&pr, c, ms, 2, &c->conf.v, &ids, err,
                                sizeof(err)),
                RMQ_OK);
      /* Entry 0 byte for byte. 4.9's messageProperties2String drops the
       * last 0x02 (5.x keeps it; every parser accepts both): we always
       * write it, so against 4.9 the expected entry gains that one byte. */
      size_t first = rmqi_load_be32(t->bin);
      uint8_t want[4096];
      REQUIRE(first + 1 <= sizeof(want) && first <= t->bin_len);
      memcpy(want, t->bin, first);
      size_t wl = first;
      if (want[first - 1] != 2) {
        want[wl++] = 2;
        rmqi_store_be32(want, (uint32_t)wl);
        size_t body = rmqi_load_be32(want + 16);
        size_t poff = 20 + body;
        rmqi_store_be16(want + poff,
                        (uint16_t)(rmqi_load_be16(want + poff) + 1));
      }
      CHECK_MEM(pr.body, wl, want, wl);
      compared++;
      rmqi_prep_free(&pr);
      rmqi_buf_free(&ids);
      rmq_msg_destroy(ms[0]);
      rmq_msg_destroy(ms[1]);
      rmqt_vec_free(t);
    }
    if (compared == 0)
      rmqt_fail(__FILE__, __LINE__, "%s: no batch_* vector to compare", *v);
    rmqt_strv_free(bc);
  }
  rmq_client_destroy(c, 0);
  rmq_conf_destroy(conf);
}

int main(void) {
  versions = rmqt_vec_versions();
  if (versions == NULL || versions[0] == NULL) {
    fprintf(stderr, "no vector versions\n");
    return 1;
  }
  static const rmqt_case cases[] = {
      TCASE(tag_hashes_equal_java_string_hashcode),
      TCASE(batch_bodies_are_byte_exact),
  };
  int rc = RUN_TESTS(cases);
  rmqt_strv_free(versions);
  return rc;
}

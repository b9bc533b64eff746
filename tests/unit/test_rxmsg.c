/* Received messages (lib/consumer/rxmsg.c) built from every stored record
 * the Java library wrote (tests/vectors/<version>/stored_*): what the
 * consumer hands the application equals what Java's MessageExt says —
 * body (inflated), topic, properties (Java's HashMap: last duplicate
 * wins), ids, queue, offsets, timestamps, hosts as Java prints them. */
#include "codec/props.h"
#include "consumer/rxmsg.h"
#include "test.h"
#include "util/endian.h"
#include "vectors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_msg(const rmqt_vec *v, int i, const rmq_msg_t *m) {
  char key[128];
#define FIELD(name) (snprintf(key, sizeof(key), "msg.%d." name, i), key)
  const char *topic = rmqt_vec_get(v, FIELD("topic"));
  CHECK_STR(rmq_msg_topic(m), topic ? topic : "");
  size_t want_len = 0, len = 0;
  uint8_t *want = rmqt_vec_hex(v, FIELD("body.hex"), &want_len);
  const void *body = rmq_msg_body(m, &len);
  CHECK_MEM(body, len, want, want_len);
  free(want);
  CHECK_INT(rmq_msg_queue_id(m), rmqt_vec_int(v, FIELD("queueId"), -9));
  CHECK_INT(rmq_msg_queue_offset(m), rmqt_vec_int(v, FIELD("queueOffset"), -9));
  CHECK_INT(rmq_msg_commitlog_offset(m),
            rmqt_vec_int(v, FIELD("commitLogOffset"), -9));
  CHECK_INT(rmq_msg_born_timestamp(m),
            rmqt_vec_int(v, FIELD("bornTimestamp"), -9));
  CHECK_INT(rmq_msg_store_timestamp(m),
            rmqt_vec_int(v, FIELD("storeTimestamp"), -9));
  CHECK_INT(rmq_msg_reconsume_times(m),
            rmqt_vec_int(v, FIELD("reconsumeTimes"), -9));
  CHECK_INT(rmq_msg_sys_flag(m), rmqt_vec_int(v, FIELD("sysFlag"), -9));
  CHECK_INT(rmq_msg_flag(m), rmqt_vec_int(v, FIELD("flag"), -9));
  CHECK_INT(rmq_msg_body_crc(m),
            (uint32_t)rmqt_vec_int(v, FIELD("bodyCrc"), -9));
  CHECK_STR(rmq_msg_born_host(m), rmqt_vec_get(v, FIELD("bornHost")));
  CHECK_STR(rmq_msg_store_host(m), rmqt_vec_get(v, FIELD("storeHost")));
  CHECK_STR(rmq_msg_offset_id(m), rmqt_vec_get(v, FIELD("offsetMsgId")));
  CHECK_STR(rmq_msg_broker_name(m), "broker-x");
  const char *uniq = rmqt_vec_get(v, FIELD("prop.UNIQ_KEY"));
  CHECK_STR(rmq_msg_id(m), uniq ? uniq : rmqt_vec_get(v, FIELD("offsetMsgId")));
  /* every property Java saw, and no other */
  snprintf(key, sizeof(key), "msg.%d.prop.", i);
  size_t plen = strlen(key), n_java = 0;
  for (size_t k = 0; k < v->n_kv; k++) {
    if (strncmp(v->kv[k].key, key, plen) != 0)
      continue;
    n_java++;
    const char *got = rmq_msg_property(m, v->kv[k].key + plen);
    if (got == NULL || strlen(got) != v->kv[k].val_len ||
        memcmp(got, v->kv[k].val, v->kv[k].val_len) != 0)
      rmqt_fail(__FILE__, __LINE__, "%s/%s: property %s differs", v->version,
                v->name, v->kv[k].key);
  }
  CHECK_INT(rmq_msg_property_count(m), n_java);
#undef FIELD
}

TEST(java_written_records_become_messages_with_java_metadata) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  for (char **ver = vers; *ver; ver++) {
    char **cases = rmqt_vec_cases(*ver, "stored_");
    int built = 0;
    /* each message is built twice: from malloc, and from a consumer's
     * chunks (client/mpool.h); the latter are kept past the pool's
     * release, as an application may keep messages past its consumer */
    rmqi_mpool_t *pool = rmqi_mpool_new();
    REQUIRE(pool != NULL);
    enum { KEEP = 4096 };
    static rmq_msg_t *kept[KEEP];
    static int kept_i[KEEP];
    static rmqt_vec *kept_v[KEEP];
    rmqt_vec *vs[256];
    size_t n_kept = 0, n_vs = 0;
    for (char **c = cases; c && *c; c++) {
      rmqt_vec *v = rmqt_vec_load(*ver, *c);
      long long bad = v ? rmqt_vec_int(v, "error", -1) : -1;
      size_t off = 0;
      for (int i = 0; v && v->bin && off < v->bin_len && i != bad; i++) {
        rmqi_msgrec_t rec;
        size_t next;
        rmqi_errbuf_t e;
        if (rmqi_msgrec_decode(v->bin + off, v->bin_len - off, &rec, &next,
                               &e) != RMQ_OK)
          break;
        off += next;
        rmq_msg_t *m = NULL;
        rmq_err_t rc =
            rmqi_rxmsg_build(&rec, "broker-x", 1 << 20, true, &m, &e);
        if (rc != RMQ_OK) {
          rmqt_fail(__FILE__, __LINE__, "%s/%s msg %d: %s", *ver, *c, i, e.msg);
          continue;
        }
        check_msg(v, i, m);
        rmq_msg_t *pm = NULL;
        CHECK_ERR(rmqi_rxmsg_build_cached(&rec, "broker-x", 1 << 20, true, NULL,
                                          pool, &pm, &e),
                  RMQ_OK);
        if (pm) {
          check_msg(v, i, pm);
          if (n_kept < KEEP) {
            kept_i[n_kept] = i;
            kept_v[n_kept] = v;
            kept[n_kept++] = pm;
          } else {
            rmq_msg_destroy(pm);
          }
        }
        /* changing it copies it out of its block; the rest stays */
        CHECK_ERR(rmq_msg_set_property(m, "extra", "1"), RMQ_OK);
        CHECK_STR(rmq_msg_property(m, "extra"), "1");
        char tk[64];
        snprintf(tk, sizeof(tk), "msg.%d.topic", i);
        CHECK_STR(rmq_msg_topic(m), rmqt_vec_get(v, tk));
        CHECK_STR(rmq_msg_id(m), rmq_msg_property(m, "UNIQ_KEY")
                                     ? rmq_msg_property(m, "UNIQ_KEY")
                                     : rmq_msg_offset_id(m));
        rmq_msg_destroy(m);
        built++;
      }
      if (v && n_vs < sizeof(vs) / sizeof(vs[0]))
        vs[n_vs++] = v; /* the kept messages are checked against it */
      else
        rmqt_vec_free(v);
    }
    size_t live, spare;
    rmqi_mpool_counts(pool, &live, &spare);
    CHECK(live >= 1);
    rmqi_mpool_release(pool);
    for (size_t k = 0; k < n_kept; k++) { /* the owner is gone */
      bool checkable = false;
      for (size_t j = 0; j < n_vs; j++)
        checkable = checkable || vs[j] == kept_v[k];
      if (checkable)
        check_msg(kept_v[k], kept_i[k], kept[k]);
      CHECK_ERR(rmq_msg_set_property(kept[k], "extra", "1"), RMQ_OK);
      CHECK_ERR(rmqi_msg_set_topic(kept[k], "elsewhere"), RMQ_OK);
      CHECK_STR(rmq_msg_topic(kept[k]), "elsewhere");
      rmq_msg_destroy(kept[k]);
    }
    for (size_t j = 0; j < n_vs; j++)
      rmqt_vec_free(vs[j]);
    if (built < 10)
      rmqt_fail(__FILE__, __LINE__, "%s: only %d messages built", *ver, built);
    rmqt_strv_free(cases);
  }
  rmqt_strv_free(vers);
}

TEST(a_bad_crc_fails_that_message_only) {
  char **vers = rmqt_vec_versions();
  REQUIRE(vers && vers[0]);
  rmqt_vec *v = rmqt_vec_load(vers[0], "stored_ipv4");
  REQUIRE(v && v->bin);
  uint8_t *copy = malloc(v->bin_len);
  memcpy(copy, v->bin, v->bin_len);
  copy[v->bin_len - 30] ^= 0xFF; /* inside the body or properties */
  rmqi_msgrec_t rec;
  size_t next;
  rmqi_errbuf_t e;
  rmq_msg_t *m = NULL;
  if (rmqi_msgrec_decode(copy, v->bin_len, &rec, &next, &e) == RMQ_OK &&
      rec.body_len) {
    copy[(size_t)(rec.body - copy)] ^= 0x01; /* the body for sure */
    rmqi_msgrec_decode(copy, v->bin_len, &rec, &next, &e);
    CHECK_ERR(rmqi_rxmsg_build(&rec, "b", 1 << 20, true, &m, &e),
              RMQ_ERR_BAD_CRC);
    CHECK(m == NULL);
  }
  free(copy);
  rmqt_vec_free(v);
  rmqt_strv_free(vers);
}

/* A stored record (magic v1, IPv4 hosts, body "x", topic "T") around the
 * property string @p props; *len gets its size. */
static uint8_t *make_record(const char *props, size_t plen, size_t *len) {
  size_t n = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 1 +
             1 + 2 + plen;
  uint8_t *b = calloc(1, n), *p = b;
  rmqi_store_be32(p, (uint32_t)n);
  rmqi_store_be32(p + 4, (uint32_t)RMQI_MAGIC_V1);
  p += 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8;
  rmqi_store_be32(p, 1);
  p[4] = 'x';
  p[5] = 1;
  p[6] = 'T';
  rmqi_store_be16(p + 7, (uint16_t)plen);
  memcpy(p + 9, props, plen);
  *len = n;
  return b;
}

/* Java reads the properties length as a short: a string of 32768 bytes
 * or more (13,000 properties take 64 KiB) is refused, and the record is
 * skipped, not the rest. Below it, thousands of names and duplicates
 * dedupe like Java's HashMap (through a hash now: the old scan of the
 * earlier names per entry took ~0.5 s for 13,000). */
TEST(property_strings_past_int16_are_refused_and_many_names_dedupe) {
  char *s = malloc(80000);
  size_t n = 0;
  for (int i = 0; i < 13000; i++) { /* two-byte names: 5 bytes each */
    s[n++] = (char)(0x30 + i / 200);
    s[n++] = (char)(0x30 + i % 200);
    memcpy(s + n, "\001v\002", 3);
    n += 3;
  }
  CHECK_UINT(rmqi_props_count(s, n), 13000);
  REQUIRE(n > 32767 && n <= 65535);
  size_t len, next;
  uint8_t *rec = make_record(s, n, &len);
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_decode(rec, len, &r, &next, &e), RMQ_ERR_BAD_MESSAGE);
  CHECK_UINT(next, len); /* skip this record, go on with the next */
  CHECK(strstr(e.msg, "32767") != NULL);
  free(rec);
  /* Under the cap: 4,000 names, then every tenth again with another
   * value (the last one wins). */
  n = 0;
  for (int i = 0; i < 4000; i++)
    n += (size_t)sprintf(s + n, "%04x\001v\002", i);
  for (int i = 0; i < 4000; i += 10)
    n += (size_t)sprintf(s + n, "%04x\001w%d\002", i, i);
  REQUIRE(n <= 32767);
  rec = make_record(s, n, &len);
  CHECK_ERR(rmqi_msgrec_decode(rec, len, &r, &next, &e), RMQ_OK);
  rmq_msg_t *m = NULL;
  CHECK_ERR(rmqi_rxmsg_build(&r, "b", 1 << 20, false, &m, &e), RMQ_OK);
  REQUIRE(m != NULL);
  CHECK_UINT(rmq_msg_property_count(m), 4000);
  const char *k, *v;
  CHECK_ERR(rmq_msg_property_at(m, 3999, &k, &v), RMQ_OK);
  CHECK_STR(k, "0f9f");
  CHECK_STR(v, "v");
  CHECK_STR(rmq_msg_property(m, "0f8c"), "w3980");
  CHECK_STR(rmq_msg_property(m, "0f8d"), "v");
  rmq_msg_destroy(m);
  free(rec);
  free(s);
}

TEST(hosts_print_like_java) {
  char out[56];
  rmqi_host_t h4 = {{255, 255, 255, 255}, 4, 4294967295u};
  rmqi_host_format(&h4, out, sizeof(out));
  CHECK_STR(out, "255.255.255.255:4294967295");
  rmqi_host_t h0 = {{0, 0, 0, 0}, 4, 0};
  rmqi_host_format(&h0, out, sizeof(out));
  CHECK_STR(out, "0.0.0.0:0");
  rmqi_host_t h6 = {
      {0xff, 0xff, 0, 0, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0xab, 0xcd},
      16,
      65535};
  rmqi_host_format(&h6, out, sizeof(out));
  CHECK_STR(out, "[ffff:0:10:1:0:0:0:abcd]:65535");
  rmqi_host_format(&h6, out, 10); /* too small: empty, never cut */
  CHECK_STR(out, "");
}

/* The in-place split against the property iterator (the reference, as
 * Java's string2messageProperties): random strings over "ab", 0x01 and
 * 0x02, up to 40 bytes (a quarter up to 200); the message holds the iterator's names in first
 * appearance order, each with its last value. */
TEST(split_properties_match_the_iterator) {
  uint32_t x = 88172645u;
  size_t bad = 0;
  for (int round = 0; round < 100000; round++) {
    char s[208];
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    size_t n = round % 4 ? x % 41 : x % 201; /* some past FEW_PROPS */
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      s[i] = "ab\001\002"[x % 4];
    }
    /* the reference: names in order, the last value of each */
    const char *names[80], *values[80];
    size_t nls[80], vls[80], k = 0;
    rmqi_props_it_t it;
    rmqi_props_it_init(&it, s, n);
    const char *nm, *vl;
    size_t nl, vll;
    while (rmqi_props_next(&it, &nm, &nl, &vl, &vll)) {
      size_t j = 0;
      while (j < k && !(nls[j] == nl && memcmp(names[j], nm, nl) == 0))
        j++;
      if (j == k) {
        names[k] = nm;
        nls[k++] = nl;
      }
      values[j] = vl;
      vls[j] = vll;
    }
    size_t len, next;
    uint8_t *rec = make_record(s, n, &len);
    rmqi_msgrec_t r;
    rmqi_errbuf_t e;
    rmq_msg_t *m = NULL;
    if (rmqi_msgrec_decode(rec, len, &r, &next, &e) != RMQ_OK ||
        rmqi_rxmsg_build(&r, "b", 1 << 20, false, &m, &e) != RMQ_OK) {
      bad++;
      free(rec);
      continue;
    }
    bool same = rmq_msg_property_count(m) == k;
    for (size_t j = 0; same && j < k; j++) {
      const char *pk, *pv;
      same = rmq_msg_property_at(m, j, &pk, &pv) == RMQ_OK &&
             strlen(pk) == nls[j] && memcmp(pk, names[j], nls[j]) == 0 &&
             strlen(pv) == vls[j] && memcmp(pv, values[j], vls[j]) == 0;
    }
    bad += !same;
    rmq_msg_destroy(m);
    free(rec);
  }
  CHECK_UINT(bad, 0);
}

/* A record with the tag "t", decoded into @p r (which points into the
 * returned buffer: free it after). */
static uint8_t *tagged_record(rmqi_msgrec_t *r) {
  char s[] = "TAGS\001t\002";
  size_t len, next;
  uint8_t *rec = make_record(s, strlen(s), &len);
  rmqi_errbuf_t e;
  CHECK_ERR(rmqi_msgrec_decode(rec, len, r, &next, &e), RMQ_OK);
  return rec;
}

/* A cache of the last hosts gives each message its own hosts: a change of
 * either (address, port, family) is seen. */
TEST(cached_hosts_follow_each_message) {
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  uint8_t *rec = tagged_record(&r);
  static const rmqi_host_t hosts[] = {
      {{10, 0, 0, 1}, 4, 80},
      {{10, 0, 0, 1}, 4, 80},
      {{10, 0, 0, 1}, 4, 81},
      {{10, 0, 0, 2}, 4, 81},
      {{10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 16, 81},
      {{10, 0, 0, 2}, 4, 81},
  };
  static const char *text[] = {
      "10.0.0.1:80",         "10.0.0.1:80", "10.0.0.1:81", "10.0.0.2:81",
      "[a00:2:0:0:0:0:0:0]:81", "10.0.0.2:81",
  };
  rmqi_hostcache_t hc = {0};
  for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    r.born = hosts[i];
    r.store = hosts[(i + 3) % 6];
    rmq_msg_t *m = NULL;
    CHECK_ERR(rmqi_rxmsg_build_cached(&r, "b", 1 << 20, false, &hc, NULL, &m, &e),
              RMQ_OK);
    REQUIRE(m != NULL);
    CHECK_STR(rmq_msg_born_host(m), text[i]);
    CHECK_STR(rmq_msg_store_host(m), text[(i + 3) % 6]);
    rmq_msg_destroy(m);
  }
  free(rec);
}

/* Blocks of one size until @p n_chunks chunks hold some. */
static size_t carve(rmqi_mpool_t *p, void **blocks, rmqi_mchunk_t **chunks,
                    size_t max, size_t size, size_t n_chunks) {
  size_t n = 0, seen = 0;
  rmqi_mchunk_t *last = NULL;
  while (n < max) {
    blocks[n] = rmqi_mpool_alloc(p, size, &chunks[n]);
    CHECK(blocks[n] != NULL);
    if (blocks[n] == NULL)
      break;
    memset(blocks[n], 0xA5, size); /* ASan: the whole block is ours */
    if (chunks[n] != last && ++seen > n_chunks) {
      rmqi_mchunk_unref(chunks[n]);
      break;
    }
    last = chunks[n++];
  }
  return n;
}

TEST(pool_chunks_come_back_and_are_carved_again) {
  rmqi_mpool_t *p = rmqi_mpool_new();
  REQUIRE(p != NULL);
  rmqi_mchunk_t *c;
  CHECK(rmqi_mpool_alloc(p, RMQI_MPOOL_MAX_BLOCK + 1, &c) == NULL);
  CHECK(rmqi_mpool_alloc(p, 0, &c) == NULL);
  enum { MAX = 1000 };
  static void *blocks[MAX];
  static rmqi_mchunk_t *chunks[MAX];
  size_t live, spare;
  for (int round = 0; round < 3; round++) {
    size_t n = carve(p, blocks, chunks, MAX, 1000, 3);
    CHECK(n > 3 * 60 && n < 3 * 66); /* 65 blocks of 1,008 B a chunk */
    for (size_t i = 1; i < n; i++) /* aligned and apart */
      CHECK(chunks[i] != chunks[i - 1] ||
            (char *)blocks[i] - (char *)blocks[i - 1] == 1008);
    rmqi_mpool_counts(p, &live, &spare);
    CHECK_INT(live, 4); /* three full, and the one the last try opened */
    for (size_t i = 0; i < n; i++)
      rmqi_mchunk_unref(chunks[i]);
    rmqi_mpool_counts(p, &live, &spare);
    CHECK_INT(live, 4); /* no new chunk in rounds 2 and 3: reused */
    CHECK_INT(spare, 3);
  }
  /* more than RMQI_MPOOL_SPARE come back: the rest are freed */
  enum { BIG = RMQI_MPOOL_MAX_BLOCK };
  static void *many[(RMQI_MPOOL_SPARE + 8) * 8];
  static rmqi_mchunk_t *many_c[(RMQI_MPOOL_SPARE + 8) * 8];
  size_t n = carve(p, many, many_c, sizeof(many) / sizeof(many[0]), BIG,
                   RMQI_MPOOL_SPARE + 6);
  rmqi_mpool_counts(p, &live, &spare);
  CHECK_INT(live, RMQI_MPOOL_SPARE + 7);
  CHECK_INT(spare, 0);
  for (size_t i = 0; i < n; i++)
    rmqi_mchunk_unref(many_c[i]);
  rmqi_mpool_counts(p, &live, &spare);
  CHECK_INT(spare, RMQI_MPOOL_SPARE);
  CHECK_INT(live, RMQI_MPOOL_SPARE + 1);
  /* a block kept past the release keeps its chunk, then ends it */
  void *b = rmqi_mpool_alloc(p, 64, &c);
  REQUIRE(b != NULL);
  rmqi_mpool_release(p);
  memset(b, 0, 64);
  rmqi_mchunk_unref(c); /* frees the chunk and the pool (ASan: no leak) */
}

/* Blocks made on one thread, ended on others (TSan: the counts and the
 * reuse are ordered). */
typedef struct handoff {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  rmqi_mchunk_t *q[256];
  size_t head, tail;
  bool done;
} handoff_t;

static void *ender(void *arg) {
  handoff_t *h = arg;
  for (;;) {
    pthread_mutex_lock(&h->lock);
    while (h->head == h->tail && !h->done)
      pthread_cond_wait(&h->cv, &h->lock);
    if (h->head == h->tail) {
      pthread_mutex_unlock(&h->lock);
      return NULL;
    }
    rmqi_mchunk_t *c = h->q[h->head++ % 256];
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->lock);
    rmqi_mchunk_unref(c);
  }
}

TEST(blocks_end_on_other_threads_while_the_owner_carves) {
  rmqi_mpool_t *p = rmqi_mpool_new();
  REQUIRE(p != NULL);
  handoff_t h = {.lock = PTHREAD_MUTEX_INITIALIZER,
                 .cv = PTHREAD_COND_INITIALIZER};
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    REQUIRE(pthread_create(&t[i], NULL, ender, &h) == 0);
  for (int i = 0; i < 50000; i++) {
    rmqi_mchunk_t *c;
    size_t size = 64 + (size_t)(i * 37) % 2000;
    unsigned char *b = rmqi_mpool_alloc(p, size, &c);
    REQUIRE(b != NULL);
    memset(b, i & 0xFF, size); /* a reused chunk's old blocks are ended */
    pthread_mutex_lock(&h.lock);
    while (h.tail - h.head == 256)
      pthread_cond_wait(&h.cv, &h.lock);
    h.q[h.tail++ % 256] = c;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.lock);
  }
  pthread_mutex_lock(&h.lock);
  h.done = true;
  pthread_cond_broadcast(&h.cv);
  pthread_mutex_unlock(&h.lock);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  size_t live, spare;
  rmqi_mpool_counts(p, &live, &spare);
  CHECK(live <= RMQI_MPOOL_SPARE + 1); /* reused, not grown */
  CHECK_INT(spare + 1, live);          /* all back but the current one */
  rmqi_mpool_release(p);
}

static void *read_offset_id(void *arg) {
  return (void *)rmq_msg_offset_id(arg);
}

/* The offset id is formatted on first use: threads asking at once all get
 * the one text (TSan: one writes, the others wait for it). */
TEST(an_offset_id_asked_for_by_threads_at_once_is_formatted_once) {
  rmqi_msgrec_t r;
  rmqi_errbuf_t e;
  uint8_t *rec = tagged_record(&r);
  char want[57];
  rmqi_msgrec_offset_id(&r, want);
  for (int round = 0; round < 50; round++) {
    rmq_msg_t *m = NULL;
    CHECK_ERR(rmqi_rxmsg_build(&r, "b", 1 << 20, false, &m, &e), RMQ_OK);
    REQUIRE(m != NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
      REQUIRE(pthread_create(&t[i], NULL, read_offset_id, m) == 0);
    for (int i = 0; i < 4; i++) {
      void *got;
      pthread_join(t[i], &got);
      CHECK(got == (void *)rmq_msg_offset_id(m));
    }
    CHECK_STR(rmq_msg_offset_id(m), want);
    CHECK_STR(rmq_msg_id(m), want); /* no UNIQ_KEY */
    rmq_msg_destroy(m);
  }
  free(rec);
}

int main(void) {
  static const rmqt_case cases[] = {
      TCASE(an_offset_id_asked_for_by_threads_at_once_is_formatted_once),
      TCASE(pool_chunks_come_back_and_are_carved_again),
      TCASE(blocks_end_on_other_threads_while_the_owner_carves),
      TCASE(java_written_records_become_messages_with_java_metadata),
      TCASE(a_bad_crc_fails_that_message_only),
      TCASE(property_strings_past_int16_are_refused_and_many_names_dedupe),
      TCASE(hosts_print_like_java),
      TCASE(cached_hosts_follow_each_message),
      TCASE(split_properties_match_the_iterator),
  };
  return RUN_TESTS(cases);
}

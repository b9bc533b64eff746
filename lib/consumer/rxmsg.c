#include "rxmsg.h"

#include "../codec/batch.h"
#include "../codec/props.h"

#include <stdint.h>
#include <stdio.h>
#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

static char *put_uint(char *p, unsigned v) {
  char t[10];
  int k = 0;
  do
    t[k++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (k)
    *p++ = t[--k];
  return p;
}

void rmqi_host_format(const rmqi_host_t *h, char *out, size_t n) {
  /* By hand, as Java's getHostAddress prints them (IPv6: eight groups,
   * no zero compression), so that hosts compare equal with the Java
   * client's. Two per received message: snprintf cost a fifth of a
   * consumer's CPU. Longest: "[" + 8 x "ffff:" + "]:" + 10 digits. */
  static const char hex[] = "0123456789abcdef";
  if (n < 56 || (h->len != 4 && h->len != 16)) {
    if (n)
      out[0] = '\0';
    return;
  }
  char *p = out;
  if (h->len == 4) {
    for (int i = 0; i < 4; i++) {
      p = put_uint(p, h->addr[i]);
      *p++ = i < 3 ? '.' : ':';
    }
  } else {
    *p++ = '[';
    for (int i = 0; i < 8; i++) {
      unsigned g = (unsigned)h->addr[2 * i] << 8 | h->addr[2 * i + 1];
      bool lead = true;
      for (int s = 12; s >= 0; s -= 4) {
        unsigned d = (g >> s) & 15;
        if (d || !lead || s == 0) {
          *p++ = hex[d];
          lead = false;
        }
      }
      *p++ = i < 7 ? ':' : ']';
    }
    *p++ = ':';
  }
  *put_uint(p, h->port) = '\0';
}

/* Bump allocator over the block, sized exactly beforehand. */
typedef struct carve {
  char *p;
} carve_t;

static char *put_str(carve_t *c, const char *s, size_t n) {
  char *d = c->p;
  memcpy(d, s, n);
  d[n] = '\0';
  c->p += n + 1;
  return d;
}

static size_t align8(size_t n) {
  return (n + 7) & ~(size_t)7;
}

/* Up to this many properties (most messages have fewer than ten) the
 * duplicate check's table lives on the stack. */
#define SMALL_PROPS 32
/* Up to this many the duplicate check compares lengths with each earlier
 * name instead (cheaper than hashing every name). */
#define FEW_PROPS 16

static size_t name_hash(const char *s, size_t n) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

/* The property separators (0x01, 0x02) of s[0..n), sixteen bytes a step:
 * one bit per byte that is one (x86-64: SSE2, which every such CPU has).
 * The last piece is copied out, so nothing past s + n is read. */
typedef struct sepscan {
  const char *s;
  size_t n, base;
  uint32_t mask;
} sepscan_t;

static uint32_t sep_mask16(const char *s, size_t base, size_t n, int which) {
  char tail[16];
  const char *p = s + base;
  if (n - base < 16) {
    memset(tail, 0, sizeof(tail));
    memcpy(tail, p, n - base);
    p = tail;
  }
#if defined(__x86_64__) || defined(_M_X64)
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8(2));
  if (which != 2)
    m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(1)));
  return (uint32_t)_mm_movemask_epi8(m);
#else
  uint32_t m = 0;
  for (int i = 0; i < 16; i++)
    if (p[i] == 2 || (which != 2 && p[i] == 1))
      m |= 1u << i;
  return m;
#endif
}

static void sep_init(sepscan_t *it, const char *s, size_t n) {
  *it = (sepscan_t){s, n, 0, n ? sep_mask16(s, 0, n, 0) : 0};
}

/* The next separator's index, or n after the last. */
static size_t sep_next(sepscan_t *it) {
  while (it->mask == 0) {
    if (it->n - it->base <= 16)
      return it->n;
    it->base += 16;
    it->mask = sep_mask16(it->s, it->base, it->n, 0);
  }
  unsigned b = (unsigned)__builtin_ctz(it->mask);
  it->mask &= it->mask - 1;
  return it->base + b;
}

/* 0x02 bytes in s[0..n): each property but the last ends with one. */
static size_t count_ends(const char *s, size_t n) {
  size_t k = 0;
  for (size_t base = 0; base < n; base += 16)
    for (uint32_t m = sep_mask16(s, base, n, 2); m; m &= m - 1)
      k++; /* a few a string: no popcount instruction needed */
  return k;
}

static bool host_eq(const rmqi_host_t *a, const rmqi_host_t *b) {
  return a->len == b->len && a->port == b->port &&
         memcmp(a->addr, b->addr, a->len <= 16 ? a->len : 16) == 0;
}

static void host_text(rmqi_hostcache_t *hc, int k, const rmqi_host_t *h,
                      char *out, size_t n) {
  if (hc == NULL) {
    rmqi_host_format(h, out, n);
    return;
  }
  if (!hc->valid[k] || !host_eq(&hc->host[k], h)) {
    rmqi_host_format(h, hc->text[k], sizeof(hc->text[k]));
    hc->host[k] = *h;
    hc->valid[k] = true;
  }
  memcpy(out, hc->text[k], n < sizeof(hc->text[k]) ? n : sizeof(hc->text[k]));
}

rmq_err_t rmqi_rxmsg_build(const rmqi_msgrec_t *rec, const char *broker,
                           size_t max_body, bool check_crc, rmq_msg_t **out,
                           rmqi_errbuf_t *e) {
  return rmqi_rxmsg_build_cached(rec, broker, max_body, check_crc, NULL, NULL,
                                 out, e);
}

rmq_err_t rmqi_rxmsg_build_cached(const rmqi_msgrec_t *rec, const char *broker,
                                  size_t max_body, bool check_crc,
                                  rmqi_hostcache_t *hc, rmqi_mpool_t *pool,
                                  rmq_msg_t **out, rmqi_errbuf_t *e) {
  *out = NULL;
  rmq_err_t rc = check_crc ? rmqi_msgrec_check_crc(rec, e) : RMQ_OK;
  if (rc != RMQ_OK)
    return rc;
  uint8_t *inflated = NULL;
  size_t inflated_len = 0;
  rc = rmqi_msgrec_inflate(rec, max_body, &inflated, &inflated_len, e);
  if (rc != RMQ_OK)
    return rc;
  /* at most one property per 0x02, plus one without it */
  size_t n_props =
      rec->props_len ? count_ends(rec->props, rec->props_len) + 1 : 0;
  size_t blen = strlen(broker);
  size_t size = align8(sizeof(rmq_msg_t)) + align8(sizeof(rmqi_msg_meta_t)) +
                align8(n_props * sizeof(rmqi_prop_t)) + blen + 1 +
                rec->topic_len + 1 + rec->props_len + 1 +
                (inflated ? 0 : rec->body_len);
  rmqi_mchunk_t *chunk = NULL;
  char *block = pool ? rmqi_mpool_alloc(pool, size, &chunk) : NULL;
  if (block == NULL)
    block = malloc(size);
  if (block == NULL) {
    free(inflated);
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "no memory for a %zu-byte message",
                    size);
  }
  rmq_msg_t *m = (rmq_msg_t *)block;
  memset(m, 0, sizeof(*m));
  rmqi_msg_meta_t *meta =
      (rmqi_msg_meta_t *)(block + align8(sizeof(rmq_msg_t)));
  m->props = (rmqi_prop_t *)((char *)meta + align8(sizeof(*meta)));
  carve_t c = {(char *)m->props + align8(n_props * sizeof(rmqi_prop_t))};
  meta->broker_name = put_str(&c, broker, blen);
  m->topic = put_str(&c, rec->topic, rec->topic_len);
  /* The property string is copied once and split in place: each name's
   * 0x01 and each value's 0x02 become its terminating NUL. As Java's
   * string2messageProperties: entries split at 0x02, name and value at the
   * entry's first 0x01; an entry without one, or with an empty name or
   * value, is dropped. Duplicate names through a hash of the names seen so
   * far: a record's property string holds at most 8192 entries (32767
   * bytes), and a scan of the earlier ones per entry cost ~0.5 s for a
   * 64 KiB string. */
  char *ps = put_str(&c, rec->props, rec->props_len);
  size_t pn = rec->props_len;
  uint32_t small[2 * SMALL_PROPS], *slot = small;
  size_t mask = 2 * SMALL_PROPS - 1;
  if (n_props > SMALL_PROPS) {
    while (mask + 1 < 2 * n_props)
      mask = mask * 2 + 1;
    slot = malloc((mask + 1) * sizeof(*slot));
    if (slot == NULL) {
      free(inflated);
      if (chunk)
        rmqi_mchunk_unref(chunk);
      else
        free(block);
      return rmqi_err(e, RMQ_ERR_NOMEM, 0, "no memory for %zu properties",
                      n_props);
    }
  }
  size_t lens[FEW_PROPS];
  if (n_props > FEW_PROPS)
    memset(slot, 0, (mask + 1) * sizeof(*slot));
  sepscan_t it;
  sep_init(&it, ps, pn);
  size_t i = sep_next(&it);
  for (size_t start = 0; start < pn;) {
    size_t eq = SIZE_MAX;
    for (; i < pn && ps[i] == 1; i = sep_next(&it)) /* the first 0x01 */
      if (eq == SIZE_MAX)
        eq = i;
    size_t end = i; /* a 0x02, or the string's end (its NUL) */
    size_t next = end < pn ? end + 1 : pn;
    if (end < pn)
      i = sep_next(&it);
    if (eq == SIZE_MAX || eq == start || eq + 1 == end) {
      start = next; /* no separator, empty name or empty value */
      continue;
    }
    char *name = ps + start, *value = ps + eq + 1;
    size_t nl = eq - start;
    ps[eq] = '\0';
    ps[end] = '\0';
    start = next;
    rmqi_prop_t *dup = NULL;
    if (n_props <= FEW_PROPS) { /* a few: their lengths, then the bytes */
      for (size_t j = 0; j < m->n_props && dup == NULL; j++)
        if (lens[j] == nl && memcmp(m->props[j].name, name, nl) == 0)
          dup = &m->props[j];
      lens[m->n_props] = nl;
    } else {
      size_t h = name_hash(name, nl) & mask;
      for (; slot[h] != 0; h = (h + 1) & mask) {
        rmqi_prop_t *p = &m->props[slot[h] - 1];
        if (strlen(p->name) == nl && memcmp(p->name, name, nl) == 0) {
          dup = p;
          break;
        }
      }
      if (dup == NULL)
        slot[h] = (uint32_t)m->n_props + 1;
    }
    if (dup) { /* Java's HashMap keeps the last value */
      dup->value = value;
      continue;
    }
    m->props[m->n_props].name = name;
    m->props[m->n_props].value = value;
    m->n_props++;
  }
  if (slot != small)
    free(slot);
  m->cap_props = m->n_props;
  if (inflated) {
    m->body = inflated;
    m->body_owned = inflated;
    m->body_len = inflated_len;
  } else {
    if (rec->body_len)
      memcpy(c.p, rec->body, rec->body_len);
    m->body = (const uint8_t *)c.p;
    m->body_len = rec->body_len;
  }
  m->flag = rec->flag;
  m->frozen = true;
  m->topic_in_block = true;
  meta->queue_id = rec->queue_id;
  meta->sys_flag = rec->sys_flag;
  meta->reconsume_times = rec->reconsume_times;
  meta->body_crc = rec->body_crc;
  meta->queue_offset = rec->queue_offset;
  meta->commitlog_offset = rec->commitlog_offset;
  meta->born_ts = rec->born_ts;
  meta->store_ts = rec->store_ts;
  meta->prepared_tx_offset = rec->prepared_tx_offset;
  atomic_init(&meta->offset_id_state, 0); /* formatted on first use */
  meta->store = rec->store;
  host_text(hc, 0, &rec->born, meta->born_host, sizeof(meta->born_host));
  host_text(hc, 1, &rec->store, meta->store_host, sizeof(meta->store_host));
  m->meta = meta;
  m->chunk = chunk;
  *out = m;
  return RMQ_OK;
}

rmq_err_t rmqi_rxmsg_inner_start(rmqi_inner_t *st, const rmqi_msgrec_t *rec,
                                 size_t max_body, rmqi_errbuf_t *e) {
  memset(st, 0, sizeof(*st));
  rmq_err_t rc = rmqi_msgrec_check_crc(rec, e);
  size_t len = 0;
  if (rc == RMQ_OK)
    rc = rmqi_msgrec_inflate(rec, max_body, &st->inflated, &len, e);
  if (rc != RMQ_OK)
    return rc;
  st->outer = *rec;
  if (st->inflated) { /* unwrap the inflated entries */
    st->outer.body = st->inflated;
    st->outer.body_len = (uint32_t)len;
    st->outer.sys_flag &= ~(RMQI_SYS_COMPRESSED | RMQI_SYS_COMPRESSION_MASK);
  }
  st->active = true;
  return RMQ_OK;
}

rmq_err_t rmqi_rxmsg_inner_next(rmqi_inner_t *st, const char *broker,
                                size_t max_body, rmq_msg_t **out,
                                rmqi_errbuf_t *e) {
  *out = NULL;
  if (!st->active)
    return RMQ_ERR_NOT_FOUND;
  rmqi_msgrec_t m;
  rmq_err_t rc = rmqi_inner_batch_next(&st->outer, &st->pos, &st->index, &m, e);
  if (rc == RMQ_OK) /* the entry's CRC is not stored; the outer one held */
    rc = rmqi_rxmsg_build_cached(&m, broker, max_body, false, &st->hosts,
                                 st->pool, out, e);
  if (rc != RMQ_OK)
    rmqi_rxmsg_inner_end(st);
  return rc;
}

void rmqi_rxmsg_inner_end(rmqi_inner_t *st) {
  free(st->inflated);
  st->inflated = NULL;
  st->active = false;
}

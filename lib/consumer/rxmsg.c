#include "rxmsg.h"

#include "../codec/batch.h"
#include "../codec/props.h"

#include <stdio.h>
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

static size_t name_hash(const char *s, size_t n) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
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
  return rmqi_rxmsg_build_cached(rec, broker, max_body, check_crc, NULL, out,
                                 e);
}

rmq_err_t rmqi_rxmsg_build_cached(const rmqi_msgrec_t *rec, const char *broker,
                                  size_t max_body, bool check_crc,
                                  rmqi_hostcache_t *hc, rmq_msg_t **out,
                                  rmqi_errbuf_t *e) {
  *out = NULL;
  rmq_err_t rc = check_crc ? rmqi_msgrec_check_crc(rec, e) : RMQ_OK;
  if (rc != RMQ_OK)
    return rc;
  uint8_t *inflated = NULL;
  size_t inflated_len = 0;
  rc = rmqi_msgrec_inflate(rec, max_body, &inflated, &inflated_len, e);
  if (rc != RMQ_OK)
    return rc;
  size_t n_props = rmqi_props_count(rec->props, rec->props_len);
  size_t blen = strlen(broker);
  size_t size = align8(sizeof(rmq_msg_t)) + align8(sizeof(rmqi_msg_meta_t)) +
                align8(n_props * sizeof(rmqi_prop_t)) + blen + 1 +
                rec->topic_len + 1 + rec->props_len + 2 * n_props +
                (inflated ? 0 : rec->body_len);
  char *block = malloc(size);
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
  /* Duplicate names through a hash of the names seen so far: a record's
   * property string holds at most 8192 entries (32767 bytes), and a scan
   * of the earlier ones per entry cost ~0.5 s for a 64 KiB string. */
  uint32_t small[2 * SMALL_PROPS], *slot = small;
  size_t mask = 2 * SMALL_PROPS - 1;
  if (n_props > SMALL_PROPS) {
    while (mask + 1 < 2 * n_props)
      mask = mask * 2 + 1;
    slot = malloc((mask + 1) * sizeof(*slot));
    if (slot == NULL) {
      free(inflated);
      free(block);
      return rmqi_err(e, RMQ_ERR_NOMEM, 0, "no memory for %zu properties",
                      n_props);
    }
  }
  memset(slot, 0, (mask + 1) * sizeof(*slot));
  rmqi_props_it_t it;
  rmqi_props_it_init(&it, rec->props, rec->props_len);
  const char *name, *value;
  size_t nl, vl;
  while (rmqi_props_next(&it, &name, &nl, &value, &vl)) {
    size_t h = name_hash(name, nl) & mask;
    rmqi_prop_t *dup = NULL;
    for (; slot[h] != 0; h = (h + 1) & mask) {
      rmqi_prop_t *p = &m->props[slot[h] - 1];
      if (strlen(p->name) == nl && memcmp(p->name, name, nl) == 0) {
        dup = p;
        break;
      }
    }
    if (dup) { /* Java's HashMap keeps the last value */
      dup->value = put_str(&c, value, vl);
      continue;
    }
    slot[h] = (uint32_t)m->n_props + 1;
    m->props[m->n_props].name = put_str(&c, name, nl);
    m->props[m->n_props].value = put_str(&c, value, vl);
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
  rmqi_msgrec_offset_id(rec, meta->offset_id);
  host_text(hc, 0, &rec->born, meta->born_host, sizeof(meta->born_host));
  host_text(hc, 1, &rec->store, meta->store_host, sizeof(meta->store_host));
  m->meta = meta;
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
                                 out, e);
  if (rc != RMQ_OK)
    rmqi_rxmsg_inner_end(st);
  return rc;
}

void rmqi_rxmsg_inner_end(rmqi_inner_t *st) {
  free(st->inflated);
  st->inflated = NULL;
  st->active = false;
}

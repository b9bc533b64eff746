#include "route.h"

#include "json.h"

#include <stdlib.h>
#include <string.h>

static char *dup_str(rmqi_arena_t *a, const char *s) {
  return s ? rmqi_arena_strndup(a, s, strlen(s)) : NULL;
}

static int cmp_addr(const void *x, const void *y) {
  const rmqi_baddr_t *a = x, *b = y;
  return (a->id > b->id) - (a->id < b->id);
}

static int cmp_bdata(const void *x, const void *y) {
  return strcmp(((const rmqi_bdata_t *)x)->broker,
                ((const rmqi_bdata_t *)y)->broker);
}

static int cmp_qdata(const void *x, const void *y) {
  return strcmp(((const rmqi_qdata_t *)x)->broker,
                ((const rmqi_qdata_t *)y)->broker);
}

/* Reads one BrokerData object. */
static rmq_err_t read_bdata(rmqi_arena_t *a, const rmqi_jval_t *o,
                            rmqi_bdata_t *b, rmqi_errbuf_t *e) {
  const char *name = rmqi_json_str(o, "brokerName");
  const rmqi_jval_t *addrs = rmqi_json_get(o, "brokerAddrs");
  if (name == NULL || addrs == NULL || addrs->type != RMQI_JOBJ)
    return rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                    "BrokerData without brokerName or brokerAddrs");
  b->broker = dup_str(a, name);
  b->cluster = dup_str(a, rmqi_json_str(o, "cluster"));
  b->addrs = rmqi_arena_alloc(a, (addrs->n ? addrs->n : 1) * sizeof(*b->addrs));
  if (b->broker == NULL || b->addrs == NULL)
    return rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
  b->n_addrs = 0;
  for (size_t i = 0; i < addrs->n; i++) {
    const rmqi_jval_t *k = addrs->members[i].key, *v = addrs->members[i].val;
    int64_t id;
    /* Standard JSON writes "0"; fastjson's default writes 0. */
    if (k->type == RMQI_JNUM && k->is_int)
      id = k->i;
    else if (k->type == RMQI_JSTR) {
      char *end;
      long long x = strtoll(k->s, &end, 10);
      if (*k->s == '\0' || *end != '\0')
        return rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                        "broker %s: address key \"%s\" is not a broker id",
                        name, k->s);
      id = x;
    } else {
      return rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                      "broker %s: address key is not a broker id", name);
    }
    if (v->type != RMQI_JSTR)
      return rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                      "broker %s: address is not a string", name);
    b->addrs[b->n_addrs].id = id;
    b->addrs[b->n_addrs].addr = dup_str(a, v->s);
    if (b->addrs[b->n_addrs].addr == NULL)
      return rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    b->n_addrs++;
  }
  qsort(b->addrs, b->n_addrs, sizeof(*b->addrs), cmp_addr);
  return RMQ_OK;
}

static bool int32_field(const rmqi_jval_t *o, const char *k, int32_t *out) {
  int64_t v;
  if (!rmqi_json_int(o, k, &v) || v < INT32_MIN || v > INT32_MAX)
    return false;
  *out = (int32_t)v;
  return true;
}

rmq_err_t rmqi_route_decode(rmqi_route_t *r, const char *json, size_t len,
                            rmqi_errbuf_t *e) {
  memset(r, 0, sizeof(*r));
  rmqi_json_t doc;
  rmq_err_t rc = rmqi_json_parse(&doc, json, len, e);
  if (rc != RMQ_OK)
    return rc;
  rmqi_arena_init(&r->arena, len * 4 + (2u << 20)); /* + queue lists */
  const rmqi_jval_t *root = doc.root;
  const rmqi_jval_t *qs = rmqi_json_get(root, "queueDatas");
  const rmqi_jval_t *bs = rmqi_json_get(root, "brokerDatas");
  if (root->type != RMQI_JOBJ || qs == NULL || qs->type != RMQI_JARR ||
      bs == NULL || bs->type != RMQI_JARR) {
    rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                  "route without queueDatas and brokerDatas arrays");
    goto out;
  }
  if (qs->n > RMQI_ROUTE_MAX_ENTRIES || bs->n > RMQI_ROUTE_MAX_ENTRIES) {
    rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                  "route has %zu queueDatas and %zu brokerDatas, more than %d",
                  qs->n, bs->n, RMQI_ROUTE_MAX_ENTRIES);
    goto out;
  }
  r->order_conf = dup_str(&r->arena, rmqi_json_str(root, "orderTopicConf"));
  r->queues = rmqi_arena_alloc(&r->arena, (qs->n + 1) * sizeof(*r->queues));
  r->brokers = rmqi_arena_alloc(&r->arena, (bs->n + 1) * sizeof(*r->brokers));
  if (r->queues == NULL || r->brokers == NULL) {
    rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    goto out;
  }
  size_t total_read = 0, total_write = 0;
  for (size_t i = 0; i < qs->n; i++) {
    const rmqi_jval_t *q = qs->items[i];
    rmqi_qdata_t *d = &r->queues[r->n_queues];
    const char *b = rmqi_json_str(q, "brokerName");
    d->sysflag = 0;
    if (b == NULL || !int32_field(q, "readQueueNums", &d->read_nums) ||
        !int32_field(q, "writeQueueNums", &d->write_nums) ||
        !int32_field(q, "perm", &d->perm) || d->read_nums < 0 ||
        d->write_nums < 0) {
      rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0, "QueueData %zu is malformed", i);
      goto out;
    }
    const char *field =
        d->read_nums > RMQI_ROUTE_MAX_QUEUE_NUMS    ? "readQueueNums"
        : d->write_nums > RMQI_ROUTE_MAX_QUEUE_NUMS ? "writeQueueNums"
                                                    : NULL;
    if (field) {
      rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                    "QueueData %zu (broker %.64s): %s %d is over %d", i, b,
                    field, field[0] == 'r' ? d->read_nums : d->write_nums,
                    RMQI_ROUTE_MAX_QUEUE_NUMS);
      goto out;
    }
    total_read += (size_t)d->read_nums;
    total_write += (size_t)d->write_nums;
    if (total_read > RMQI_ROUTE_MAX_QUEUES ||
        total_write > RMQI_ROUTE_MAX_QUEUES) {
      rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                    "queueDatas announce more than %d %s queues in all",
                    RMQI_ROUTE_MAX_QUEUES,
                    total_read > RMQI_ROUTE_MAX_QUEUES ? "read" : "write");
      goto out;
    }
    int32_field(q, "topicSysFlag", &d->sysflag);
    if ((d->broker = dup_str(&r->arena, b)) == NULL) {
      rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
      goto out;
    }
    r->n_queues++;
  }
  for (size_t i = 0; i < bs->n; i++) {
    rc = read_bdata(&r->arena, bs->items[i], &r->brokers[i], e);
    if (rc != RMQ_OK)
      goto out;
    r->n_brokers++;
  }
  qsort(r->queues, r->n_queues, sizeof(*r->queues), cmp_qdata);
  qsort(r->brokers, r->n_brokers, sizeof(*r->brokers), cmp_bdata);
out:
  rmqi_json_free(&doc);
  if (rc != RMQ_OK)
    rmqi_arena_free(&r->arena);
  return rc;
}

void rmqi_route_free(rmqi_route_t *r) {
  rmqi_arena_free(&r->arena);
}

static bool str_eq(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

bool rmqi_route_equal(const rmqi_route_t *a, const rmqi_route_t *b) {
  if (a->n_queues != b->n_queues || a->n_brokers != b->n_brokers ||
      !str_eq(a->order_conf, b->order_conf))
    return false;
  for (size_t i = 0; i < a->n_queues; i++) {
    const rmqi_qdata_t *x = &a->queues[i], *y = &b->queues[i];
    if (!str_eq(x->broker, y->broker) || x->read_nums != y->read_nums ||
        x->write_nums != y->write_nums || x->perm != y->perm ||
        x->sysflag != y->sysflag)
      return false;
  }
  for (size_t i = 0; i < a->n_brokers; i++) {
    const rmqi_bdata_t *x = &a->brokers[i], *y = &b->brokers[i];
    if (!str_eq(x->broker, y->broker) || !str_eq(x->cluster, y->cluster) ||
        x->n_addrs != y->n_addrs)
      return false;
    for (size_t k = 0; k < x->n_addrs; k++)
      if (x->addrs[k].id != y->addrs[k].id ||
          !str_eq(x->addrs[k].addr, y->addrs[k].addr))
        return false;
  }
  return true;
}

const rmqi_bdata_t *rmqi_route_broker(const rmqi_route_t *r, const char *name) {
  for (size_t i = 0; i < r->n_brokers; i++)
    if (strcmp(r->brokers[i].broker, name) == 0)
      return &r->brokers[i];
  return NULL;
}

const char *rmqi_route_addr(const rmqi_route_t *r, const char *name,
                            int64_t id) {
  const rmqi_bdata_t *b = rmqi_route_broker(r, name);
  for (size_t i = 0; b && i < b->n_addrs; i++)
    if (b->addrs[i].id == id)
      return b->addrs[i].addr;
  return NULL;
}

static size_t add_queues(rmqi_mq_t *out, size_t n, const char *broker,
                         int32_t count) {
  for (int32_t q = 0; q < count; q++)
    out[n++] = (rmqi_mq_t){broker, q};
  return n;
}

size_t rmqi_route_publish(rmqi_route_t *r, rmqi_mq_t **out) {
  size_t total = 0;
  for (size_t i = 0; i < r->n_queues; i++)
    total += (size_t)r->queues[i].write_nums;
  /* orderTopicConf "brokerA:4;brokerB:4" decides on its own. */
  if (r->order_conf && *r->order_conf) {
    size_t len = strlen(r->order_conf), want = 0, got = 0;
    char *conf = rmqi_arena_strndup(&r->arena, r->order_conf, len);
    /* At most len/2 entries; each remembered as (name, count). */
    rmqi_mq_t *ent = rmqi_arena_alloc(&r->arena, (len / 2 + 1) * sizeof(*ent));
    if (conf == NULL || ent == NULL)
      return 0;
    size_t n_ent = 0;
    char *save = NULL;
    for (char *item = strtok_r(conf, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
      char *colon = strchr(item, ':');
      long n = colon ? strtol(colon + 1, NULL, 10) : 0;
      if (n <= 0 || want + (size_t)n > 65536)
        continue;
      *colon = '\0';
      ent[n_ent++] = (rmqi_mq_t){item, (int32_t)n};
      want += (size_t)n;
    }
    rmqi_mq_t *q = rmqi_arena_alloc(&r->arena, (want + 1) * sizeof(*q));
    if (q == NULL)
      return 0;
    for (size_t i = 0; i < n_ent; i++)
      got = add_queues(q, got, ent[i].broker, ent[i].queue_id);
    *out = q;
    return got;
  }
  rmqi_mq_t *q = rmqi_arena_alloc(&r->arena, (total + 1) * sizeof(*q));
  if (q == NULL)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < r->n_queues; i++) {
    const rmqi_qdata_t *d = &r->queues[i];
    if (!(d->perm & RMQI_PERM_WRITE) ||
        rmqi_route_addr(r, d->broker, 0) == NULL)
      continue;
    n = add_queues(q, n, d->broker, d->write_nums);
  }
  *out = q;
  return n;
}

size_t rmqi_route_subscribe(rmqi_route_t *r, rmqi_mq_t **out) {
  size_t total = 0;
  for (size_t i = 0; i < r->n_queues; i++)
    total += (size_t)r->queues[i].read_nums;
  rmqi_mq_t *q = rmqi_arena_alloc(&r->arena, (total + 1) * sizeof(*q));
  if (q == NULL)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < r->n_queues; i++)
    if (r->queues[i].perm & RMQI_PERM_READ)
      n = add_queues(q, n, r->queues[i].broker, r->queues[i].read_nums);
  *out = q;
  return n;
}

rmq_err_t rmqi_cluster_decode(rmqi_cluster_t *c, const char *json, size_t len,
                              rmqi_errbuf_t *e) {
  memset(c, 0, sizeof(*c));
  rmqi_json_t doc;
  rmq_err_t rc = rmqi_json_parse(&doc, json, len, e);
  if (rc != RMQ_OK)
    return rc;
  rmqi_arena_init(&c->arena, len * 4 + 4096);
  const rmqi_jval_t *t = rmqi_json_get(doc.root, "brokerAddrTable");
  if (t == NULL || t->type != RMQI_JOBJ) {
    rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                  "ClusterInfo without brokerAddrTable");
    goto out;
  }
  if (t->n > RMQI_ROUTE_MAX_ENTRIES) {
    rc = rmqi_err(e, RMQ_ERR_BAD_ROUTE, 0,
                  "ClusterInfo brokerAddrTable has %zu brokers, more than %d",
                  t->n, RMQI_ROUTE_MAX_ENTRIES);
    goto out;
  }
  c->brokers = rmqi_arena_alloc(&c->arena, (t->n + 1) * sizeof(*c->brokers));
  if (c->brokers == NULL) {
    rc = rmqi_err(e, RMQ_ERR_NOMEM, 0, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < t->n; i++) {
    rc = read_bdata(&c->arena, t->members[i].val, &c->brokers[i], e);
    if (rc != RMQ_OK)
      goto out;
    c->n_brokers++;
  }
  qsort(c->brokers, c->n_brokers, sizeof(*c->brokers), cmp_bdata);
out:
  rmqi_json_free(&doc);
  if (rc != RMQ_OK)
    rmqi_arena_free(&c->arena);
  return rc;
}

void rmqi_cluster_free(rmqi_cluster_t *c) {
  rmqi_arena_free(&c->arena);
}

/* The mock cluster's storage: topics, queues of encoded records, committed
 * offsets, orderly locks, and the consumers registered by heartbeats. All
 * under the cluster's lock. */
#include "mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rmqi_mock_name_ok(const char *name, size_t max) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '%' || ch == '|' || ch == '_' ||
          ch == '-'))
      return false;
  }
  return true;
}

rmqi_mock_topic_t *rmqi_mock_topic_find(rmq_mock_cluster_t *c,
                                        const char *name) {
  for (size_t i = 0; i < c->n_topics; i++)
    if (strcmp(c->topics[i]->name, name) == 0)
      return c->topics[i];
  return NULL;
}

rmq_err_t rmqi_mock_topic_add(rmq_mock_cluster_t *c, const char *name, int nq,
                              rmqi_mock_topic_t **out) {
  if (!rmqi_mock_name_ok(name, 255) || nq < 1 || nq > RMQI_MOCK_MAX_QUEUES)
    return RMQ_ERR_INVALID_ARG;
  if ((*out = rmqi_mock_topic_find(c, name)) != NULL)
    return RMQ_TOPIC_EXIST_ALREADY;
  if (c->n_topics == RMQI_MOCK_MAX_TOPICS)
    return RMQ_ERR_LIMIT;
  if (c->topics == NULL &&
      (c->topics = calloc(RMQI_MOCK_MAX_TOPICS, sizeof(*c->topics))) == NULL)
    return RMQ_ERR_NOMEM;
  rmqi_mock_topic_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return RMQ_ERR_NOMEM;
  t->name = strdup(name);
  t->nq = nq;
  t->q = calloc((size_t)c->n_brokers * (size_t)nq, sizeof(*t->q));
  if (t->name == NULL || t->q == NULL) {
    free(t->name);
    free(t->q);
    free(t);
    return RMQ_ERR_NOMEM;
  }
  c->topics[c->n_topics++] = t;
  *out = t;
  return RMQ_OK;
}

static void q_free(rmq_mock_cluster_t *c, rmqi_mock_queue_t *q) {
  for (size_t i = 0; i < q->n; i++) {
    rmqi_mock_rec_t *r = &q->ring[(q->head + i) % q->cap];
    c->stored_bytes -= r->len;
    free(r->bytes);
  }
  free(q->ring);
  free(q->offs);
  free(q->locks);
}

void rmqi_mock_topics_free(rmq_mock_cluster_t *c) {
  for (size_t i = 0; i < c->n_topics; i++) {
    rmqi_mock_topic_t *t = c->topics[i];
    for (size_t k = 0; k < (size_t)c->n_brokers * (size_t)t->nq; k++)
      q_free(c, &t->q[k]);
    free(t->q);
    free(t->name);
    free(t);
  }
  free(c->topics);
  c->topics = NULL;
  c->n_topics = 0;
  for (size_t i = 0; i < c->n_groups; i++)
    free(c->groups[i]);
  free(c->groups);
  c->groups = NULL;
  c->n_groups = 0;
}

rmq_err_t rmqi_mock_q_append(rmq_mock_cluster_t *c, rmqi_mock_queue_t *q,
                             uint8_t *bytes, uint32_t len, int64_t clog_off,
                             int64_t store_ts) {
  while (q->n > 0 && q->n >= c->max_queue_msgs) { /* retention: oldest go */
    rmqi_mock_rec_t *old = &q->ring[q->head];
    c->stored_bytes -= old->len;
    free(old->bytes);
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->min_off++;
  }
  if (q->n == q->cap) {
    size_t nc = q->cap ? q->cap * 2 : 16;
    if (nc > c->max_queue_msgs && c->max_queue_msgs > q->n)
      nc = c->max_queue_msgs;
    rmqi_mock_rec_t *v = malloc(nc * sizeof(*v));
    if (v == NULL)
      return RMQ_ERR_NOMEM;
    for (size_t i = 0; i < q->n; i++)
      v[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = v;
    q->cap = nc;
    q->head = 0;
  }
  q->ring[(q->head + q->n) % q->cap] =
      (rmqi_mock_rec_t){bytes, len, clog_off, store_ts};
  q->n++;
  c->stored_bytes += len;
  return RMQ_OK;
}

/* Records are appended in commit-log order, so each queue is sorted by
 * it: a binary search per queue of the broker. */
rmqi_mock_rec_t *rmqi_mock_find_clog(rmq_mock_cluster_t *c, int broker,
                                     int64_t clog_off) {
  for (size_t i = 0; i < c->n_topics; i++) {
    rmqi_mock_topic_t *t = c->topics[i];
    for (int k = 0; k < t->nq; k++) {
      rmqi_mock_queue_t *q = rmqi_mock_q(t, broker, k);
      size_t lo = 0, hi = q->n;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        rmqi_mock_rec_t *r = &q->ring[(q->head + mid) % q->cap];
        if (r->clog_off == clog_off)
          return r;
        if (r->clog_off < clog_off)
          lo = mid + 1;
        else
          hi = mid;
      }
    }
  }
  return NULL;
}

int rmqi_mock_group(rmq_mock_cluster_t *c, const char *name, bool add) {
  for (size_t i = 0; i < c->n_groups; i++)
    if (strcmp(c->groups[i], name) == 0)
      return (int)i;
  if (!add || c->n_groups == RMQI_MOCK_MAX_GROUPS ||
      !rmqi_mock_name_ok(name, 255))
    return -1;
  if (c->groups == NULL &&
      (c->groups = calloc(RMQI_MOCK_MAX_GROUPS, sizeof(*c->groups))) == NULL)
    return -1;
  if ((c->groups[c->n_groups] = strdup(name)) == NULL)
    return -1;
  return (int)c->n_groups++;
}

int64_t *rmqi_mock_q_offset(rmqi_mock_queue_t *q, int group, bool add) {
  for (size_t i = 0; i < q->n_offs; i++)
    if (q->offs[i].group == group)
      return &q->offs[i].offset;
  if (!add)
    return NULL;
  /* one entry per group at most: bounded by RMQI_MOCK_MAX_GROUPS */
  rmqi_mock_off_t *v = realloc(q->offs, (q->n_offs + 1) * sizeof(*v));
  if (v == NULL)
    return NULL;
  q->offs = v;
  v[q->n_offs] = (rmqi_mock_off_t){group, 0};
  return &v[q->n_offs++].offset;
}

/* ---- the consumers registered by heartbeats ------------------------------ */

static void subs_free(rmqi_mock_member_t *m) {
  for (size_t i = 0; i < m->n_subs; i++) {
    free(m->subs[i].topic);
    free(m->subs[i].expr);
    free(m->subs[i].type);
  }
  m->n_subs = 0;
}

/* Tells the members of @p group on @p srv that the group changed
 * (NOTIFY_CONSUMER_IDS_CHANGED), as a broker does, so they rebalance. */
static void notify_group(rmq_mock_cluster_t *c, int srv, int group) {
  for (size_t i = 0; i < c->n_members; i++)
    if (c->members[i].srv == srv && c->members[i].group == group)
      rmqi_mock_notify(c, c->members[i].conn, c->groups[group]);
}

void rmqi_mock_members_drop(rmq_mock_cluster_t *c, int srv, uint64_t conn,
                            const char *client, int group) {
  int changed[64];
  size_t n_changed = 0;
  bool overflow = false;
  for (size_t i = 0; i < c->n_members;) {
    rmqi_mock_member_t *m = &c->members[i];
    if (m->srv != srv || (conn && m->conn != conn) ||
        (client && strcmp(m->client, client) != 0) ||
        (group >= 0 && m->group != group)) {
      i++;
      continue;
    }
    bool seen = false;
    for (size_t k = 0; k < n_changed; k++)
      seen = seen || changed[k] == m->group;
    if (!seen && n_changed < 64)
      changed[n_changed++] = m->group;
    else if (!seen)
      overflow = true;
    subs_free(m);
    c->members[i] = c->members[--c->n_members];
  }
  for (size_t k = 0; k < n_changed; k++)
    notify_group(c, srv, changed[k]);
  for (size_t g = 0; overflow && g < c->n_groups; g++)
    notify_group(c, srv, (int)g);
}

rmq_err_t rmqi_mock_member_put(rmq_mock_cluster_t *c, int srv, uint64_t conn,
                               const char *client, int group,
                               const rmqi_mock_sub_t *subs, size_t n_subs) {
  rmqi_mock_member_t *m = NULL;
  for (size_t i = 0; i < c->n_members && m == NULL; i++)
    if (c->members[i].srv == srv && c->members[i].group == group &&
        strcmp(c->members[i].client, client) == 0)
      m = &c->members[i];
  bool fresh = m == NULL;
  if (fresh) {
    if (c->n_members == RMQI_MOCK_MAX_MEMBERS)
      return RMQ_ERR_LIMIT;
    if (c->n_members == c->cap_members) {
      size_t nc = c->cap_members ? c->cap_members * 2 : 16;
      rmqi_mock_member_t *v = realloc(c->members, nc * sizeof(*v));
      if (v == NULL)
        return RMQ_ERR_NOMEM;
      c->members = v;
      c->cap_members = nc;
    }
    m = &c->members[c->n_members++];
    memset(m, 0, sizeof(*m));
    m->srv = srv;
    m->group = group;
    snprintf(m->client, sizeof(m->client), "%s", client);
  }
  m->conn = conn;
  subs_free(m);
  for (size_t i = 0; i < n_subs && i < RMQI_MOCK_MAX_SUBS; i++) {
    rmqi_mock_sub_t s = {strdup(subs[i].topic), strdup(subs[i].expr),
                         strdup(subs[i].type)};
    if (s.topic == NULL || s.expr == NULL || s.type == NULL) {
      free(s.topic);
      free(s.expr);
      free(s.type);
      break;
    }
    m->subs[m->n_subs++] = s;
  }
  if (fresh)
    notify_group(c, srv, group);
  return RMQ_OK;
}

const rmqi_mock_sub_t *rmqi_mock_member_sub(rmq_mock_cluster_t *c, int srv,
                                            int group, const char *topic) {
  for (size_t i = 0; i < c->n_members; i++) {
    rmqi_mock_member_t *m = &c->members[i];
    if (m->srv != srv || m->group != group)
      continue;
    for (size_t k = 0; k < m->n_subs; k++)
      if (strcmp(m->subs[k].topic, topic) == 0)
        return &m->subs[k];
  }
  return NULL;
}

void rmqi_mock_members_free(rmq_mock_cluster_t *c) {
  for (size_t i = 0; i < c->n_members; i++)
    subs_free(&c->members[i]);
  free(c->members);
  c->members = NULL;
  c->n_members = c->cap_members = 0;
}

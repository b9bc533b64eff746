#include "wire.h"

#include "../codec/trace.h"
#include "../util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

static void put_prop(rmqi_buf_t *b, const char *k, const char *v) {
  rmqi_buf_put_str(b, k);
  rmqi_buf_put_u8(b, 1);
  rmqi_buf_put_str(b, v);
  rmqi_buf_put_u8(b, 2);
}

static rmq_err_t check_topic(const char *topic, bool internal, char *err,
                             size_t n) {
  if (!rmqi_topic_valid(topic, err, n))
    return RMQ_ERR_INVALID_ARG;
  /* Java 4.9 checkTopic; the trace's own producer writes
   * RMQ_SYS_TRACE_TOPIC (as Java's) */
  if (rmqi_topic_is_system(topic) &&
      !(internal && strcmp(topic, "RMQ_SYS_TRACE_TOPIC") == 0)) {
    snprintf(err, n, "sending to system topic %s is not allowed", topic);
    return RMQ_ERR_INVALID_ARG;
  }
  return RMQ_OK;
}

/* The topic as sent: wrapped in the namespace (Java's withNamespace before
 * Validators.checkTopic, so the wrapped name must be a valid topic). */
static rmq_err_t wrap_topic(rmqi_prep_t *pr, const char *topic,
                            const rmqi_conf_vals_t *conf, char *err, size_t n) {
  pr->ns = conf->name_space ? conf->name_space : "";
  pr->topic = rmqi_ns_wrap(pr->ns, topic, pr->topic_buf, sizeof(pr->topic_buf));
  /* the callers checked @p topic itself */
  if (pr->topic == NULL ||
      (pr->topic != topic && !rmqi_topic_valid(pr->topic, err, n))) {
    if (pr->topic == NULL)
      snprintf(err, n, "topic %s in namespace %s is too long", topic, pr->ns);
    return RMQ_ERR_INVALID_ARG;
  }
  return RMQ_OK;
}

/* The properties a send reads, found in one pass over the list (a lookup
 * by name each was seven passes). */
typedef struct known_props {
  const char *uniq, *tags, *keys, *tran, *deliver, *delay, *type;
} known_props_t;

static void find_known(const rmq_msg_t *m, known_props_t *k) {
  memset(k, 0, sizeof(*k));
  const struct {
    const char *name;
    const char **out;
  } want[] = {{"UNIQ_KEY", &k->uniq},       {"TAGS", &k->tags},
              {"KEYS", &k->keys},           {"TRAN_MSG", &k->tran},
              {"__STARTDELIVERTIME", &k->deliver}, {"DELAY", &k->delay},
              {"MSG_TYPE", &k->type}};
  for (size_t i = 0; i < m->n_props; i++) {
    const rmqi_prop_t *x = &m->props[i];
    for (size_t j = 0; j < RMQI_ARRAY_LEN(want); j++)
      if (x->name[0] == want[j].name[0] && strcmp(x->name, want[j].name) == 0)
        *want[j].out = x->value;
  }
}

static rmq_err_t encode_props(rmqi_prep_t *pr, rmq_client_t *c,
                              const rmq_msg_t *m, const char *uniq, char *err,
                              size_t n) {
  if (uniq) {
    snprintf(pr->uniq, sizeof(pr->uniq), "%s", uniq);
  } else {
    rmqi_client_uniq_id(c, pr->uniq);
  }
  bool retry = strncmp(m->topic, "%RETRY%", 7) == 0;
  for (size_t i = 0; i < m->n_props; i++) {
    const rmqi_prop_t *x = &m->props[i];
    if (retry && strcmp(x->name, "RECONSUME_TIME") == 0)
      pr->reconsume_times = strtoll(x->value, NULL, 10);
    else if (retry && strcmp(x->name, "MAX_RECONSUME_TIMES") == 0)
      pr->max_reconsume_times = strtoll(x->value, NULL, 10);
    else
      put_prop(&pr->props, x->name, x->value);
  }
  if (uniq == NULL)
    put_prop(&pr->props, "UNIQ_KEY", pr->uniq);
  if (!rmqi_buf_ok(&pr->props))
    return RMQ_ERR_NOMEM;
  if (pr->props.len > 32767) { /* stored with an int16 length */
    snprintf(err, n, "properties take %zu bytes, more than 32767",
             pr->props.len);
    return RMQ_ERR_INVALID_ARG;
  }
  return RMQ_OK;
}

rmq_err_t rmqi_prep_msg(rmqi_prep_t *pr, rmq_client_t *c, const rmq_msg_t *m,
                        const rmqi_conf_vals_t *conf, rmqi_zpool_t *zp,
                        char *err, size_t n) {
  memset(pr, 0, offsetof(rmqi_prep_t, uniq));
  pr->uniq[0] = '\0';
  rmqi_buf_init_in(&pr->props, pr->props_inline, sizeof(pr->props_inline));
  pr->reconsume_times = pr->max_reconsume_times = -1;
  if (m == NULL) {
    snprintf(err, n, "the message is NULL");
    return RMQ_ERR_INVALID_ARG;
  }
  rmq_err_t rc = check_topic(m->topic, conf->trace_internal, err, n);
  if (rc != RMQ_OK)
    return rc;
  if (m->body_len == 0) {
    snprintf(err, n, "the message body length is zero");
    return RMQ_ERR_MSG_EMPTY;
  }
  if (m->body_len > (size_t)conf->max_message_size) {
    snprintf(err, n, "the message body size %zu is over the maximum %lld",
             m->body_len, (long long)conf->max_message_size);
    return RMQ_ERR_MSG_TOO_LARGE;
  }
  rc = wrap_topic(pr, m->topic, conf, err, n);
  if (rc != RMQ_OK)
    return rc;
  pr->flag = m->flag;
  pr->born_ms = rmqi_wall_ms();
  pr->body = m->body;
  pr->body_len = m->body_len;
  pr->n_msgs = 1;
  pr->msg_bytes = m->body_len;
  known_props_t k;
  find_known(m, &k);
  pr->tags = k.tags;
  pr->keys = k.keys;
  if (k.tran && strcmp(k.tran, "true") == 0) {
    pr->sysflag |= 0x4; /* TRANSACTION_PREPARED_TYPE */
    pr->trace_type = RMQI_TRACE_MSG_TRANS_HALF;
  }
  if (k.deliver || k.delay) /* Java's order: delay wins */
    pr->trace_type = RMQI_TRACE_MSG_DELAY;
  pr->reply = k.type && strcmp(k.type, "reply") == 0;
  if (zp != NULL && m->body_len >= (size_t)conf->compress_over) {
    /* Java keeps the compressed body even when it is not smaller. */
    rc = rmqi_zpool_compress(zp, m->body, m->body_len, &pr->zbody,
                             &pr->body_len);
    if (rc != RMQ_OK) {
      snprintf(err, n, "zlib compression of the %zu-byte body failed: %s",
               m->body_len, rmq_err_str(rc));
      return rc;
    }
    pr->body = pr->zbody;
    pr->sysflag |= RMQI_SYSFLAG_COMPRESSED | RMQI_SYSFLAG_ZLIB;
  }
  return encode_props(pr, c, m, k.uniq, err, n);
}

rmq_err_t rmqi_prep_batch(rmqi_prep_t *pr, rmq_client_t *c,
                          rmq_msg_t *const *msgs, size_t n_msgs,
                          const rmqi_conf_vals_t *conf, rmqi_buf_t *ids,
                          char *err, size_t n) {
  memset(pr, 0, sizeof(*pr));
  rmqi_buf_init(&pr->props);
  pr->reconsume_times = pr->max_reconsume_times = -1;
  if (msgs == NULL || n_msgs == 0) {
    snprintf(err, n, "a batch needs at least one message");
    return RMQ_ERR_INVALID_ARG;
  }
  rmqi_buf_t body;
  rmqi_buf_init(&body);
  rmq_err_t rc = RMQ_OK;
  for (size_t i = 0; i < n_msgs && rc == RMQ_OK; i++) {
    const rmq_msg_t *m = msgs[i];
    rmqi_prep_t one;
    rc = rmqi_prep_msg(&one, c, m, conf, NULL, err, n);
    if (rc == RMQ_OK && strcmp(m->topic, msgs[0]->topic) != 0) {
      snprintf(err, n,
               "the topic of the messages in one batch should be the "
               "same");
      rc = RMQ_ERR_INVALID_ARG;
    }
    if (rc == RMQ_OK && rmq_msg_delay_level(m) > 0) {
      snprintf(err, n, "TimeDelayLevel is not supported for batching");
      rc = RMQ_ERR_INVALID_ARG;
    }
    if (rc == RMQ_OK && strncmp(m->topic, "%RETRY%", 7) == 0) {
      snprintf(err, n, "retry group topic is not supported for batching");
      rc = RMQ_ERR_INVALID_ARG;
    }
    if (rc == RMQ_OK) {
      /* TOTALSIZE MAGIC BODYCRC FLAG BODYLEN BODY PROPLEN PROPS */
      rmqi_buf_put_be32(&body, (uint32_t)(22 + one.body_len + one.props.len));
      rmqi_buf_put_be32(&body, 0);
      rmqi_buf_put_be32(&body, 0);
      rmqi_buf_put_be32(&body, (uint32_t)one.flag);
      rmqi_buf_put_be32(&body, (uint32_t)one.body_len);
      rmqi_buf_put(&body, one.body, one.body_len);
      rmqi_buf_put_be16(&body, (uint16_t)one.props.len);
      rmqi_buf_put(&body, one.props.data, one.props.len);
      if (ids->len)
        rmqi_buf_put_u8(ids, ',');
      rmqi_buf_put_str(ids, one.uniq);
    }
    rmqi_prep_free(&one);
  }
  if (rc == RMQ_OK && body.len > (size_t)conf->max_message_size) {
    snprintf(err, n, "the batch is %zu bytes, over maxMessageSize %lld",
             body.len, (long long)conf->max_message_size);
    rc = RMQ_ERR_MSG_TOO_LARGE;
  }
  if (rc == RMQ_OK && (!rmqi_buf_ok(&body) || !rmqi_buf_ok(ids)))
    rc = RMQ_ERR_NOMEM;
  if (rc != RMQ_OK) {
    rmqi_buf_free(&body);
    return rc;
  }
  /* The wrapper carries WAIT only: a 4.9 broker copies the wrapper's
   * properties into every message, so a wrapper UNIQ_KEY (which the 5.x
   * Java client adds) would give all of them the same id. */
  put_prop(&pr->props, "WAIT", "true");
  rc = wrap_topic(pr, msgs[0]->topic, conf, err, n);
  if (rc != RMQ_OK) {
    rmqi_buf_free(&body);
    return rc;
  }
  pr->zbody = body.data; /* owned */
  pr->body = body.data;
  pr->body_len = body.len;
  pr->born_ms = rmqi_wall_ms();
  pr->batch = true;
  pr->n_msgs = n_msgs;
  for (size_t i = 0; i < n_msgs; i++)
    pr->msg_bytes += msgs[i]->body_len;
  snprintf(pr->uniq, sizeof(pr->uniq), "%s", "");
  return rmqi_buf_ok(&pr->props) ? RMQ_OK : RMQ_ERR_NOMEM;
}

void rmqi_prep_free(rmqi_prep_t *pr) {
  rmqi_buf_free(&pr->props);
  free(pr->zbody);
  pr->zbody = NULL;
}

rmq_err_t rmqi_send_cmd(rmqi_cmd_t *cmd, const rmqi_prep_t *pr,
                        const char *group, const rmqi_mq_t *mq,
                        const rmqi_conf_vals_t *conf) {
  cmd->code = pr->batch   ? RMQI_RC_SEND_BATCH_MESSAGE
              : pr->reply ? RMQI_RC_SEND_REPLY_MESSAGE_V2
                          : RMQI_RC_SEND_MESSAGE_V2;
  rmq_err_t rc = RMQ_OK;
  /* SendMessageRequestHeaderV2's one-letter fields (requests.md). */
  rc |= rmqi_cmd_ext_ref(cmd, "a", group, strlen(group));
  rc |= rmqi_cmd_ext_ref(cmd, "b", pr->topic, strlen(pr->topic));
  rc |= rmqi_cmd_ext_ref(cmd, "c", conf->create_topic_key,
                         strlen(conf->create_topic_key));
  rc |= rmqi_cmd_ext_int(cmd, "d", conf->default_topic_queue_nums);
  rc |= rmqi_cmd_ext_int(cmd, "e", mq->queue_id);
  rc |= rmqi_cmd_ext_int(cmd, "f", pr->sysflag);
  rc |= rmqi_cmd_ext_int(cmd, "g", pr->born_ms);
  rc |= rmqi_cmd_ext_int(cmd, "h", pr->flag);
  rc |= rmqi_cmd_ext_ref(cmd, "i", (const char *)pr->props.data, pr->props.len);
  if (pr->reconsume_times >= 0)
    rc |= rmqi_cmd_ext_int(cmd, "j", pr->reconsume_times);
  else
    rc |= rmqi_cmd_ext_ref(cmd, "j", "0", 1);
  rc |= rmqi_cmd_ext_bool(cmd, "k", false);
  if (pr->max_reconsume_times >= 0)
    rc |= rmqi_cmd_ext_int(cmd, "l", pr->max_reconsume_times);
  rc |= rmqi_cmd_ext_bool(cmd, "m", pr->batch);
  rc |= rmqi_cmd_ext_ref(cmd, "n", mq->broker, strlen(mq->broker));
  cmd->body = pr->body;
  cmd->body_len = pr->body_len;
  return rc == RMQ_OK ? RMQ_OK : RMQ_ERR_NOMEM;
}

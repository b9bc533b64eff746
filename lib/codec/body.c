#include "body.h"

#include "jstr.h"

#include <string.h>

static void key(rmqi_buf_t *b, const char *k, bool first) {
  if (!first)
    rmqi_buf_put_u8(b, ',');
  rmqi_buf_put_u8(b, '"');
  rmqi_buf_put_str(b, k);
  rmqi_buf_put_str(b, "\":");
}

static void str(rmqi_buf_t *b, const char *s) {
  rmqi_json_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

void rmqi_sub_data_encode(rmqi_buf_t *b, const rmqi_hb_sub_t *s) {
  rmqi_buf_put_u8(b, '{');
  key(b, "classFilterMode", true);
  rmqi_buf_put_str(b, "false");
  key(b, "codeSet", false);
  rmqi_buf_put_u8(b, '[');
  for (size_t i = 0; i < s->n_tags; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    rmqi_buf_put_i64(b, s->codes[i]);
  }
  rmqi_buf_put_u8(b, ']');
  key(b, "expressionType", false);
  str(b, s->expression_type);
  key(b, "subString", false);
  str(b, s->sub_string);
  key(b, "subVersion", false);
  rmqi_buf_put_i64(b, s->sub_version);
  key(b, "tagsSet", false);
  rmqi_buf_put_u8(b, '[');
  for (size_t i = 0; i < s->n_tags; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    str(b, s->tags[i]);
  }
  rmqi_buf_put_u8(b, ']');
  key(b, "topic", false);
  str(b, s->topic);
  rmqi_buf_put_u8(b, '}');
}

void rmqi_heartbeat_encode(rmqi_buf_t *b, const rmqi_heartbeat_t *hb) {
  rmqi_buf_put_u8(b, '{');
  key(b, "clientID", true);
  str(b, hb->client_id);
  key(b, "consumerDataSet", false);
  rmqi_buf_put_u8(b, '[');
  for (size_t i = 0; i < hb->n_consumers; i++) {
    const rmqi_hb_consumer_t *c = &hb->consumers[i];
    if (i)
      rmqi_buf_put_u8(b, ',');
    rmqi_buf_put_u8(b, '{');
    key(b, "consumeFromWhere", true);
    str(b, c->consume_from_where);
    key(b, "consumeType", false);
    str(b, c->consume_type);
    key(b, "groupName", false);
    str(b, c->group);
    key(b, "messageModel", false);
    str(b, c->message_model);
    key(b, "subscriptionDataSet", false);
    rmqi_buf_put_u8(b, '[');
    for (size_t k = 0; k < c->n_subs; k++) {
      if (k)
        rmqi_buf_put_u8(b, ',');
      rmqi_sub_data_encode(b, &c->subs[k]);
    }
    rmqi_buf_put_u8(b, ']');
    key(b, "unitMode", false);
    rmqi_buf_put_str(b, c->unit_mode ? "true" : "false");
    rmqi_buf_put_u8(b, '}');
  }
  rmqi_buf_put_u8(b, ']');
  key(b, "heartbeatFingerprint", false);
  rmqi_buf_put_u8(b, '0');
  key(b, "producerDataSet", false);
  rmqi_buf_put_u8(b, '[');
  for (size_t i = 0; i < hb->n_producers; i++) {
    if (i)
      rmqi_buf_put_u8(b, ',');
    rmqi_buf_put_str(b, "{\"groupName\":");
    str(b, hb->producer_groups[i]);
    rmqi_buf_put_u8(b, '}');
  }
  rmqi_buf_put_u8(b, ']');
  key(b, "withoutSub", false);
  rmqi_buf_put_str(b, "false}");
}

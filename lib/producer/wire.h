/*
 * What a send puts on the wire: the property string with its UNIQ_KEY, the
 * (maybe compressed) body and sysFlag, the SEND_MESSAGE_V2 header and the
 * batch body; and what comes back (SendMessageResponseHeader).
 */
#ifndef RMQI_PRODUCER_WIRE_H
#define RMQI_PRODUCER_WIRE_H

#include "../client/client.h"
#include "../client/msg.h"
#include "../client/ns.h"
#include "../codec/hash.h"
#include "../util/zpool.h"

enum {
  RMQI_RC_SEND_MESSAGE_V2 = 310,
  RMQI_RC_SEND_BATCH_MESSAGE = 320,
  RMQI_RC_SEND_REPLY_MESSAGE_V2 = 325,
  RMQI_SYSFLAG_COMPRESSED = 0x1,
  RMQI_SYSFLAG_ZLIB = 0x300,
};

/* Room for the properties of most messages (WAIT, UNIQ_KEY, TAGS, KEYS)
 * inside the prep, so encoding them allocates nothing. */
#define RMQI_PREP_PROPS_INLINE 192

/* Never copied by value: `props` may point into it (props_inline). */
typedef struct rmqi_prep {
  const char *topic; /* as sent: in the producer's namespace */
  const char *ns;    /* the namespace ("" none), to unwrap results */
  rmqi_buf_t props;
  const uint8_t *body;
  size_t body_len;
  uint8_t *zbody; /* owned compressed body, or NULL */
  int32_t sysflag;
  int32_t flag;
  int64_t born_ms;
  bool batch;
  size_t n_msgs;    /* messages in the request (statistics) */
  size_t msg_bytes; /* their bodies as the application gave them */
  bool reply;       /* MSG_TYPE=reply: SEND_REPLY_MESSAGE_V2, as Java */
  /* %RETRY% topics: RECONSUME_TIME and MAX_RECONSUME_TIMES travel as the
   * header's j and l fields instead of properties (Java); -1: none. */
  int64_t reconsume_times, max_reconsume_times;
  /* for the trace (borrowed from the message; NULL for batches) */
  const char *tags, *keys;
  int trace_type; /* RMQI_TRACE_MSG_* (Java's MessageType ordinal) */
  /* Storage last: rmqi_prep_msg zeroes the fields above only (zeroing
   * these ~600 bytes per message too cost 100 instructions a send). */
  char uniq[57];
  char topic_buf[RMQI_NS_NAME_MAX];
  uint8_t props_inline[RMQI_PREP_PROPS_INLINE];
} rmqi_prep_t;

/* Validates and encodes one message (Java Validators.checkMessage rules).
 * @p zp: the producer's deflate streams, bodies of compressMsgBodyOverHowmuch
 * bytes or more are compressed with one; NULL: no compression (batches). */
rmq_err_t rmqi_prep_msg(rmqi_prep_t *pr, rmq_client_t *c, const rmq_msg_t *m,
                        const rmqi_conf_vals_t *conf, rmqi_zpool_t *zp,
                        char *err, size_t n);
/* A batch: one request body holding every message (message.md §7). */
rmq_err_t rmqi_prep_batch(rmqi_prep_t *pr, rmq_client_t *c,
                          rmq_msg_t *const *msgs, size_t n_msgs,
                          const rmqi_conf_vals_t *conf, rmqi_buf_t *ids,
                          char *err, size_t n);
void rmqi_prep_free(rmqi_prep_t *pr);

/* Fills @p cmd (initialised by the caller) with the SEND_MESSAGE_V2,
 * SEND_REPLY_MESSAGE_V2 or SEND_BATCH_MESSAGE request for queue @p mq. Strings
 * are borrowed from
 * @p pr, @p group and @p mq. */
rmq_err_t rmqi_send_cmd(rmqi_cmd_t *cmd, const rmqi_prep_t *pr,
                        const char *group, const rmqi_mq_t *mq,
                        const rmqi_conf_vals_t *conf);

#endif

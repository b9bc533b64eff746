/*
 * Batch bodies (message.md §7): SEND_BATCH_MESSAGE's request body, and the
 * same layout inside a 5.x broker's inner-batch records (§6), which a
 * consumer unwraps into one message per entry.
 *
 * Entry: TOTALSIZE(4) MAGIC(4) BODYCRC(4) FLAG(4) BODYLEN(4) BODY
 *        PROPLEN(2) PROPS, TOTALSIZE = 22 + BODYLEN + PROPLEN.
 * Java's readers walk entries by the field lengths and ignore TOTALSIZE;
 * ours requires both to agree, so an entry that would be read differently
 * by the two is refused rather than guessed at.
 */
#ifndef RMQI_CODEC_BATCH_H
#define RMQI_CODEC_BATCH_H

#include "../util/buf.h"
#include "../util/err.h"
#include "msgrec.h"

#define RMQI_BATCH_ENTRY_FIXED 22

enum {
  RMQI_SYS_NEED_UNWRAP = 0x40, /* [5.x] the record body is an inner batch */
  RMQI_SYS_INNER_BATCH = 0x80,
};

typedef struct rmqi_batch_entry {
  uint32_t total_size;
  uint32_t body_crc; /* 0 from producers; the broker computes its own */
  int32_t flag;
  const uint8_t *body; /* points into the input */
  uint32_t body_len;
  const char *props; /* not NUL-terminated */
  uint16_t props_len;
} rmqi_batch_entry_t;

/* Appends one entry with MAGIC and BODYCRC 0, as Java's encodeMessage
 * does. The caller keeps @p props_len within RMQI_PROPS_MAX_LEN. */
void rmqi_batch_put(rmqi_buf_t *b, int32_t flag, const uint8_t *body,
                    size_t body_len, const char *props, size_t props_len);

/* Decodes the entry at the start of @p p; *next is its size on success.
 * Any failure ends the walk: without a trustworthy size the next entry
 * cannot be found (the broker refuses the whole batch the same way). */
rmq_err_t rmqi_batch_decode(const uint8_t *p, size_t len,
                            rmqi_batch_entry_t *m, size_t *next,
                            rmqi_errbuf_t *e);

static inline bool rmqi_msgrec_is_inner_batch(const rmqi_msgrec_t *r) {
  return (r->sys_flag & (RMQI_SYS_INNER_BATCH | RMQI_SYS_NEED_UNWRAP)) ==
         (RMQI_SYS_INNER_BATCH | RMQI_SYS_NEED_UNWRAP);
}

/*
 * The next message of an inner-batch record (Java
 * MessageDecoder.decodeMessage(MessageExt, List)): topic, queue id, hosts,
 * timestamps, sysFlag, commit-log offset and reconsume times from @p outer;
 * flag, body and properties from entry *index; queue offset = the outer
 * one + *index. The output's sysFlag loses the two batch bits so it is
 * never unwrapped twice, and its body_crc is the entry's (check the outer
 * record's CRC before unwrapping). A compressed outer body must be
 * inflated first: pass a copy of the record pointing at the inflated bytes
 * with RMQI_SYS_COMPRESSED cleared. Start with *pos = *index = 0; returns
 * RMQ_ERR_NOT_FOUND after the last entry, another error (and no further
 * entries) for a broken one.
 */
rmq_err_t rmqi_inner_batch_next(const rmqi_msgrec_t *outer, size_t *pos,
                                uint32_t *index, rmqi_msgrec_t *out,
                                rmqi_errbuf_t *e);

#endif

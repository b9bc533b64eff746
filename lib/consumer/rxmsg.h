/*
 * Received messages: a stored record (codec/msgrec.h) turned into the
 * public rmq_msg_t with its metadata, in one block (client/msg.h), from
 * malloc or the consumer's pool of chunks (client/mpool.h).
 */
#ifndef RMQI_CONSUMER_RXMSG_H
#define RMQI_CONSUMER_RXMSG_H

#include "../client/mpool.h"
#include "../client/msg.h"
#include "../codec/msgrec.h"

/*
 * Builds the message of @p rec read from broker @p broker: the properties
 * as Java's string2messageProperties keeps them (the last of duplicate
 * names wins), the body CRC checked (when @p check_crc; the fuzz target
 * turns it off to reach the rest), a compressed body inflated (at most
 * @p max_body bytes). Errors (RMQ_ERR_BAD_CRC, RMQ_ERR_COMPRESSION,
 * RMQ_ERR_NOMEM) concern this message only.
 */
rmq_err_t rmqi_rxmsg_build(const rmqi_msgrec_t *rec, const char *broker,
                           size_t max_body, bool check_crc, rmq_msg_t **out,
                           rmqi_errbuf_t *e);

/* The born and store hosts last formatted: the messages of one pull share
 * their store host and mostly their born host, and formatting two hosts
 * cost a tenth of a received message's instructions. All zero before the
 * first use; one thread at a time. */
typedef struct rmqi_hostcache {
  rmqi_host_t host[2]; /* born, store */
  char text[2][56];
  bool valid[2];
} rmqi_hostcache_t;

/* rmqi_rxmsg_build with the hosts through @p hc (NULL: none) and the
 * message's block from @p pool (NULL, or a block too large for it:
 * malloc). */
rmq_err_t rmqi_rxmsg_build_cached(const rmqi_msgrec_t *rec, const char *broker,
                                  size_t max_body, bool check_crc,
                                  rmqi_hostcache_t *hc, rmqi_mpool_t *pool,
                                  rmq_msg_t **out, rmqi_errbuf_t *e);

/* Unwrapping a 5.x inner-batch record (codec/batch.h) into its messages,
 * one call at a time, so that a caller with a full array can stop between
 * two of them and go on later. */
typedef struct rmqi_inner {
  rmqi_msgrec_t outer; /* body inflated into `inflated` when compressed */
  size_t pos;
  uint32_t index;
  uint8_t *inflated;
  bool active;
  rmqi_hostcache_t hosts;
  rmqi_mpool_t *pool; /* the messages' blocks (NULL: malloc); the caller
                         sets it after rmqi_rxmsg_inner_start */
} rmqi_inner_t;

/* Checks @p rec's CRC, inflates it when compressed (at most @p max_body
 * bytes) and makes @p st ready for rmqi_rxmsg_inner_next. */
rmq_err_t rmqi_rxmsg_inner_start(rmqi_inner_t *st, const rmqi_msgrec_t *rec,
                                 size_t max_body, rmqi_errbuf_t *e);
/* The next message of the batch. RMQ_ERR_NOT_FOUND after the last one;
 * after that or any other error @p st is released (no longer active). */
rmq_err_t rmqi_rxmsg_inner_next(rmqi_inner_t *st, const char *broker,
                                size_t max_body, rmq_msg_t **out,
                                rmqi_errbuf_t *e);
void rmqi_rxmsg_inner_end(rmqi_inner_t *st);

/* "ip:port" or "[v6]:port". */
void rmqi_host_format(const rmqi_host_t *h, char *out, size_t n);

#endif

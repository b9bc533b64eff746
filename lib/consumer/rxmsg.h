/*
 * Received messages: a stored record (codec/msgrec.h) turned into the
 * public rmq_msg_t with its metadata, in one allocation (client/msg.h).
 */
#ifndef RMQI_CONSUMER_RXMSG_H
#define RMQI_CONSUMER_RXMSG_H

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

/* "ip:port" or "[v6]:port". */
void rmqi_host_format(const rmqi_host_t *h, char *out, size_t n);

#endif

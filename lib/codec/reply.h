/*
 * PUSH_REPLY_MESSAGE_TO_CLIENT (request code 326): the broker pushes a
 * reply to the client that sent the request (Java's ReplyMessageProcessor,
 * read by ClientRemotingProcessor.receiveReplyMessage). The message comes
 * as ReplyMessageRequestHeader fields plus the raw body (compressed when
 * sysFlag says so), not as a stored record; this turns it into the same
 * rmqi_msgrec_t a pulled message decodes to, so the received-message
 * builder (consumer/rxmsg.h) serves both. Every field is untrusted.
 */
#ifndef RMQI_CODEC_REPLY_H
#define RMQI_CODEC_REPLY_H

#include "cmd.h"
#include "msgrec.h"

enum { RMQI_RC_PUSH_REPLY_MESSAGE = 326 };

/*
 * Reads the reply in @p req into @p rec (zero copy: topic, properties and
 * body point into @p req). Required: topic (1..255 bytes); numbers that
 * are present must be decimal and fit their Java type (RMQ_ERR_BAD_HEADER
 * otherwise); absent numbers read 0. properties may be absent, at most
 * 65535 bytes (RMQ_ERR_LIMIT). bornHost and storeHost ("ip:port", "[v6]:port"
 * or Java's unbracketed "v6:port") are optional; one that is not a numeric
 * address reads as no host (len 0), as it is not needed to match a reply.
 */
rmq_err_t rmqi_reply_decode(const rmqi_cmd_t *req, rmqi_msgrec_t *rec,
                            rmqi_errbuf_t *e);

/* Parses "ip:port", "[v6]:port" or "v6:port" into @p h; false when it is
 * none of them. */
bool rmqi_host_parse(const char *s, size_t n, rmqi_host_t *h);

#endif

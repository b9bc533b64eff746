/*
 * The address server's answer (Java's TopAddressing over HttpTinyClient):
 * an HTTP/1.x response whose body is the name server list. The response
 * is untrusted: it must be complete (the server closed the connection),
 * have status 200, at most RMQI_NSADDR_MAX bytes, no chunked encoding;
 * the body is trimmed and cut at the first line break (Java's
 * clearNewLine). Pure function, no I/O.
 */
#ifndef RMQI_CODEC_NSADDR_H
#define RMQI_CODEC_NSADDR_H

#include "../util/err.h"

/* Largest response read from an address server. */
#define RMQI_NSADDR_MAX 65536

/* Finds the list in @p resp (@p len bytes, not NUL-terminated): on RMQ_OK
 * *list / *list_len point into @p resp. RMQ_ERR_BAD_RESPONSE (status not
 * 200, malformed status line or headers, chunked), RMQ_ERR_TRUNCATED (no
 * end of headers), RMQ_ERR_LIMIT (too long); @p e says which. */
rmq_err_t rmqi_nsaddr_parse(const char *resp, size_t len, const char **list,
                            size_t *list_len, rmqi_errbuf_t *e);

/* The request for @p host (may carry ":port") and @p path into @p out;
 * returns the length, or 0 when it does not fit. */
size_t rmqi_nsaddr_request(const char *host, const char *path, char *out,
                           size_t n);

#endif

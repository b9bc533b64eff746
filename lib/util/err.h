/*
 * Decoder/operation error detail. A decoder that fails fills one of these
 * with the code, the byte position where it stopped, and a bounded message
 * naming the problem ("frame length 99999999 exceeds 16777216"), in the
 * manner of hiredis' reader errors. The struct lives with the caller; there
 * is no thread-local error state anywhere in the library.
 */
#ifndef RMQI_ERR_H
#define RMQI_ERR_H

#include "common.h"

typedef struct rmqi_errbuf {
  rmq_err_t code;
  size_t pos;    /* byte offset in the input where decoding stopped */
  char msg[200]; /* NUL-terminated; "" when no detail */
} rmqi_errbuf_t;

/* Records an error and returns @p code, so callers can write
 * `return rmqi_err(e, RMQ_ERR_BAD_FRAME, pos, "...", ...);`.
 * @p e may be NULL (the detail is then dropped). */
rmq_err_t rmqi_err(rmqi_errbuf_t *e, rmq_err_t code, size_t pos,
                   const char *fmt, ...) RMQI_PRINTF(4, 5);

void rmqi_errbuf_clear(rmqi_errbuf_t *e);

/* Formats into a caller's error string (the errstr/errstr_size pair of the
 * public API); a NULL or empty buffer is ignored. */
void rmqi_errstr(char *buf, size_t n, const char *fmt, ...) RMQI_PRINTF(3, 4);

/* A response code read from the network, as an rmq_err_t: the server's
 * own codes are positive and pass through; 0 is success; a negative code
 * (which no RocketMQ server sends) would otherwise pose as one of our
 * local errors (-20 would read as ERR_TIMEOUT and be retried), so it
 * becomes RMQ_ERR_BAD_RESPONSE. Every `(rmq_err_t)resp.code` goes through
 * this. */
static inline rmq_err_t rmqi_server_err(int32_t code) {
  return code >= 0 ? (rmq_err_t)code : RMQ_ERR_BAD_RESPONSE;
}

/* strerror without its static buffer (thread-safe; library threads must
 * not use strerror). Returns @p buf. */
const char *rmqi_strerror(int errnum, char *buf, size_t n);

#endif

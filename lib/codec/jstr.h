/*
 * JSON string escaping and unescaping, shared by the command header codec
 * and the JSON reader/writer.
 *
 * Escaping follows fastjson: \" \\ \b \f \n \r \t, \u00XX with upper-case
 * hex for the other bytes below 0x20 and for 0x7F, everything else raw
 * (UTF-8 passes through).
 */
#ifndef RMQI_CODEC_JSTR_H
#define RMQI_CODEC_JSTR_H

#include "../util/buf.h"
#include "../util/err.h"

/* Appends "..." with the escaped text of s[0..n). */
void rmqi_json_put_str(rmqi_buf_t *b, const char *s, size_t n);

/* The same written at @p o, where the caller has room for the worst case
 * (6 * n + 2 bytes); returns the end. For writers that reserve once for
 * many strings. */
char *rmqi_json_put_str_at(char *o, const char *s, size_t n);

/*
 * Scans a JSON string starting at p[*pos] (which must be '"'), unescaping
 * into @p out (at least as large as the raw string; unescaped text is never
 * longer). On success *pos is past the closing quote, *out_len the length.
 * \uXXXX accepts either case; surrogate pairs become 4-byte UTF-8; a lone
 * surrogate is an error (RMQ_ERR_BAD_JSON). Raw control bytes are errors.
 * Set @p out to NULL to only validate and skip; *raw_len then gives the
 * number of raw bytes between the quotes, an upper bound for the output.
 */
rmq_err_t rmqi_json_scan_str(const char *p, size_t len, size_t *pos,
                             char *out, size_t *out_len, size_t *raw_len,
                             rmqi_errbuf_t *e);

#endif

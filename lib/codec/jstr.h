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
#include "../util/swar.h"

/* Appends "..." with the escaped text of s[0..n). */
void rmqi_json_put_str(rmqi_buf_t *b, const char *s, size_t n);

/* For rmqi_json_put_str_at: per byte, 0 when it is written as is, the
 * letter of its two-byte escape (\" \\ \b \f \n \r \t), or 'u' for
 * \u00XX. */
extern const char rmqi_json_esc[256];

/* The same written at @p o, where the caller has room for the worst case
 * (6 * n + 2 bytes); returns the end. For writers that reserve once for
 * many strings; inline because a request header is a dozen short strings
 * and the call was a good part of each. */
RMQI_ALWAYS_INLINE char *rmqi_json_put_str_at(char *o, const char *s,
                                              size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  *o++ = '"';
  size_t i = 0;
  while (i < n) {
    /* Eight plain bytes per step. The whole word is stored even when it
     * holds a byte to escape (only the bytes before it count): with 8 or
     * more input bytes left, the caller's 6 * n + 2 bytes leave room. */
    if (n - i >= 8) {
      uint64_t x = rmqi_load_le64(s + i);
      uint64_t m = rmqi_swar_lt(x, 0x20) | rmqi_swar_eq(x, '"') |
                   rmqi_swar_eq(x, '\\') | rmqi_swar_eq(x, 0x7F);
      memcpy(o, s + i, 8);
      if (RMQI_LIKELY(m == 0)) {
        o += 8;
        i += 8;
        continue;
      }
      unsigned k = rmqi_swar_first(m);
      o += k;
      i += k;
    }
    unsigned char c = (unsigned char)s[i++];
    char e = rmqi_json_esc[c];
    if (RMQI_LIKELY(e == 0)) {
      *o++ = (char)c;
    } else if (e != 'u') {
      o[0] = '\\';
      o[1] = e;
      o += 2;
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = hex[c >> 4];
      o[5] = hex[c & 15];
      o += 6;
    }
  }
  *o++ = '"';
  return o;
}

/*
 * Scans a JSON string starting at p[*pos] (which must be '"'), unescaping
 * into @p out (at least as large as the raw string; unescaped text is never
 * longer). On success *pos is past the closing quote, *out_len the length.
 * \uXXXX accepts either case; surrogate pairs become 4-byte UTF-8; a lone
 * surrogate is an error (RMQ_ERR_BAD_JSON). Raw control bytes are errors.
 * Set @p out to NULL to only validate and skip; *raw_len then gives the
 * number of raw bytes between the quotes, an upper bound for the output.
 */
rmq_err_t rmqi_json_scan_str(const char *p, size_t len, size_t *pos, char *out,
                             size_t *out_len, size_t *raw_len,
                             rmqi_errbuf_t *e);

#endif

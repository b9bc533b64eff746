#include "jstr.h"

#include <string.h>

/* Bytes that end a plain run when reading a string: '"', '\\' and the
 * control bytes (which are errors there). */
// clang-format off
static const bool stops[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [0x22] = 1, [0x5C] = 1,
};

/* How each byte is written in a JSON string (see jstr.h). */
const char rmqi_json_esc[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    [0x22] = '"', [0x5C] = '\\', [0x7F] = 'u',
    /* 0x80..0xFF: raw UTF-8, never escaped */
};
// clang-format on

/* Writes the escape for byte @p c (one rmqi_json_esc marks) at @p o;
 * returns its length. */
static size_t put_esc(char *o, unsigned char c) {
  char t[8];
  char *end = rmqi_json_put_str_at(t, (const char *)&c, 1);
  size_t n = (size_t)(end - t) - 2; /* without the quotes */
  memcpy(o, t + 1, n);
  return n;
}

/* Strings up to this size are escaped straight into the buffer after one
 * worst-case reservation (6 bytes per input byte); longer ones go in runs
 * so a big value never needs 6x its size. */
#define DIRECT_MAX 4096

void rmqi_json_put_str(rmqi_buf_t *b, const char *s, size_t n) {
  if (n <= DIRECT_MAX && (b->limit == 0 || b->len + 6 * n + 2 <= b->limit)) {
    if (RMQI_UNLIKELY(b->cap - b->len < 6 * n + 2) &&
        !rmqi_buf_reserve(b, 6 * n + 2))
      return;
    char *o = rmqi_json_put_str_at((char *)b->data + b->len, s, n);
    b->len = (size_t)(o - (char *)b->data);
    return;
  }
  rmqi_buf_put_u8(b, '"');
  size_t run = 0; /* bytes since the last escape, written in one go */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (RMQI_LIKELY(rmqi_json_esc[c] == 0))
      continue;
    rmqi_buf_put(b, s + run, i - run);
    run = i + 1;
    char esc[6];
    rmqi_buf_put(b, esc, put_esc(esc, c));
  }
  rmqi_buf_put(b, s + run, n - run);
  rmqi_buf_put_u8(b, '"');
}

static int hexv(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static bool read_u4(const char *p, size_t len, size_t at, uint32_t *v) {
  if (at + 4 > len)
    return false;
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexv(p[at + i]);
    if (h < 0)
      return false;
    x = x << 4 | (uint32_t)h;
  }
  *v = x;
  return true;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Index of the first byte at or after @p i that ends a plain run of a
 * string being read ('"', '\\' or a control byte), or @p len. */
static size_t plain_end(const char *p, size_t i, size_t len) {
  while (len - i >= 8) {
    uint64_t x = rmqi_load_le64(p + i);
    uint64_t m =
        rmqi_swar_lt(x, 0x20) | rmqi_swar_eq(x, '"') | rmqi_swar_eq(x, '\\');
    if (m)
      return i + rmqi_swar_first(m);
    i += 8;
  }
  while (i < len && !stops[(unsigned char)p[i]])
    i++;
  return i;
}

rmq_err_t rmqi_json_scan_str(const char *p, size_t len, size_t *pos, char *out,
                             size_t *out_len, size_t *raw_len,
                             rmqi_errbuf_t *e) {
  size_t i = *pos;
  if (i >= len || p[i] != '"')
    return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "expected a string");
  size_t start = ++i, o = 0;
  while (i < len) {
    /* Plain bytes in one run (the usual string has no escape at all). */
    size_t run = i;
    i = plain_end(p, i, len);
    if (out && i > run)
      memcpy(out + o, p + run, i - run);
    o += i - run;
    if (i >= len)
      break;
    unsigned char c = (unsigned char)p[i];
    if (c == '"') {
      if (raw_len)
        *raw_len = i - start;
      if (out_len)
        *out_len = o;
      *pos = i + 1;
      return RMQ_OK;
    }
    if (c < 0x20)
      return rmqi_err(e, RMQ_ERR_BAD_JSON, i,
                      "raw control byte 0x%02X in a string", c);
    if (c != '\\') {
      if (out)
        out[o] = (char)c;
      o++;
      i++;
      continue;
    }
    if (i + 1 >= len)
      break;
    char x = p[i + 1];
    char lit = 0;
    switch (x) {
    case '"':
      lit = '"';
      break;
    case '\\':
      lit = '\\';
      break;
    case '/':
      lit = '/';
      break;
    case 'b':
      lit = '\b';
      break;
    case 'f':
      lit = '\f';
      break;
    case 'n':
      lit = '\n';
      break;
    case 'r':
      lit = '\r';
      break;
    case 't':
      lit = '\t';
      break;
    case 'u': {
      uint32_t cp;
      if (!read_u4(p, len, i + 2, &cp))
        return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "bad \\u escape");
      size_t used = 6;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "lone low surrogate");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (i + 7 >= len || p[i + 6] != '\\' || p[i + 7] != 'u' ||
            !read_u4(p, len, i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "lone high surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
      }
      char tmp[4];
      size_t n = put_utf8(tmp, cp);
      if (out)
        for (size_t k = 0; k < n; k++)
          out[o + k] = tmp[k];
      o += n;
      i += used;
      continue;
    }
    default:
      return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "bad escape \\%c", x);
    }
    if (out)
      out[o] = lit;
    o++;
    i += 2;
  }
  return rmqi_err(e, RMQ_ERR_TRUNCATED, i, "unterminated string");
}

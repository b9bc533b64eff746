#include "jstr.h"

static const char hexu[] = "0123456789ABCDEF";

void rmqi_json_put_str(rmqi_buf_t *b, const char *s, size_t n) {
  rmqi_buf_put_u8(b, '"');
  size_t run = 0; /* bytes since the last escape, written in one go */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F)
      continue;
    rmqi_buf_put(b, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0};
    size_t el = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hexu[c >> 4];
      esc[5] = hexu[c & 15];
      el = 6;
    }
    rmqi_buf_put(b, esc, el);
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

rmq_err_t rmqi_json_scan_str(const char *p, size_t len, size_t *pos,
                             char *out, size_t *out_len, size_t *raw_len,
                             rmqi_errbuf_t *e) {
  size_t i = *pos;
  if (i >= len || p[i] != '"')
    return rmqi_err(e, RMQ_ERR_BAD_JSON, i, "expected a string");
  size_t start = ++i, o = 0;
  while (i < len) {
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
    case '"': lit = '"'; break;
    case '\\': lit = '\\'; break;
    case '/': lit = '/'; break;
    case 'b': lit = '\b'; break;
    case 'f': lit = '\f'; break;
    case 'n': lit = '\n'; break;
    case 'r': lit = '\r'; break;
    case 't': lit = '\t'; break;
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

#include "hash.h"

int32_t rmqi_java_hash(const char *s, size_t n) {
  uint32_t h = 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    unsigned char c = p[i];
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80 &&
               c >= 0xC2) {
      cp = (uint32_t)(c & 0x1F) << 6 | (p[i + 1] & 0x3F);
      len = 2;
    } else if ((c & 0xF0) == 0xE0 && i + 2 < n && (p[i + 1] & 0xC0) == 0x80 &&
               (p[i + 2] & 0xC0) == 0x80) {
      cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(p[i + 1] & 0x3F) << 6 |
           (p[i + 2] & 0x3F);
      len = 3;
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD, len = 1;
    } else if ((c & 0xF8) == 0xF0 && i + 3 < n && (p[i + 1] & 0xC0) == 0x80 &&
               (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80) {
      cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(p[i + 1] & 0x3F) << 12 |
           (uint32_t)(p[i + 2] & 0x3F) << 6 | (p[i + 3] & 0x3F);
      len = 4;
      if (cp < 0x10000 || cp > 0x10FFFF)
        cp = 0xFFFD, len = 1;
    }
    if (cp >= 0x10000) { /* a surrogate pair: two UTF-16 code units */
      cp -= 0x10000;
      h = h * 31 + (0xD800 + (cp >> 10));
      h = h * 31 + (0xDC00 + (cp & 0x3FF));
    } else {
      h = h * 31 + cp;
    }
    i += len;
  }
  return (int32_t)h;
}

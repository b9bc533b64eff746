/* Message ids from untrusted text (a user's, a broker's, another producer's):
 * offset ids and unique ids (UNIQ_KEY). What decodes must encode back to the
 * same id (upper-cased). */
#include "codec/msgid.h"
#include "codec/msgrec.h"

#include <string.h>

static void same_upper(const char *a, const uint8_t *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = (char)in[i];
    if (c >= 'a' && c <= 'f')
      c = (char)(c - 'a' + 'A');
    if (a[i] != c)
      __builtin_trap();
  }
  if (a[n] != '\0')
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  rmqi_host_t h;
  int64_t off;
  char id[57];
  if (rmqi_offset_id_decode(s, size, &h, &off, NULL) == RMQ_OK) {
    rmqi_msgrec_t m = {.store = h, .commitlog_offset = off};
    rmqi_msgrec_offset_id(&m, id);
    same_upper(id, data, size);
  }
  rmqi_uniq_id_t u;
  rmqi_errbuf_t e;
  if (rmqi_uniq_id_decode(s, size, &u, &e) == RMQ_OK) {
    char ip[40];
    rmqi_uniq_id_encode(&u, id);
    same_upper(id, data, size);
    rmqi_uniq_id_ip_str(&u, ip);
    if (strlen(ip) >= sizeof(ip))
      __builtin_trap();
    /* Born time at a fixed "now": at most one month and 2^32 ms before. */
    int64_t now = 1795420800000, b = rmqi_uniq_id_born_ms(&u, now);
    if (b < now - 32 * 86400000LL - 4294967296LL || b > now + 4294967296LL)
      __builtin_trap();
  } else if (e.code != RMQ_ERR_BAD_MSGID || e.pos > size) {
    __builtin_trap();
  }
  return 0;
}

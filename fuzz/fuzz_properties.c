/* Property strings: the iterator and the last-wins lookup must agree on
 * every input, and every entry they keep must survive re-encoding. */
#include "codec/msgrec.h"
#include "codec/props.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  rmqi_props_it_t it;
  rmqi_props_it_init(&it, p, size);
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  const char *k, *v;
  size_t kl, vl, n = 0;
  while (rmqi_props_next(&it, &k, &kl, &v, &vl)) {
    n++;
    if (kl == 0 || vl == 0 || k < p || v + vl > p + size ||
        memchr(k, 1, kl) || memchr(k, 2, kl) || memchr(v, 2, vl))
      abort();
    char name[64];
    if (kl < sizeof(name)) { /* the lookup finds a value for this name */
      memcpy(name, k, kl);
      name[kl] = '\0';
      size_t gl;
      if (memchr(name, 0, kl) == NULL &&
          rmqi_props_get(p, size, name, &gl) == NULL)
        abort();
    }
    if (!memchr(v, 1, vl) && rmqi_props_put(&b, k, kl, v, vl, NULL) != RMQ_OK)
      abort();
  }
  if (n != rmqi_props_count(p, size))
    abort();
  /* Re-encoded entries parse back to exactly themselves. */
  size_t m = rmqi_props_count((const char *)b.data, b.len);
  rmqi_props_it_init(&it, (const char *)b.data, b.len);
  size_t seen = 0;
  while (rmqi_props_next(&it, &k, &kl, &v, &vl))
    seen++;
  if (m != seen || m > n)
    abort();
  rmqi_buf_free(&b);
  return 0;
}

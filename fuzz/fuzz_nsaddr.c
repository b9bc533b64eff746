/* The address server's HTTP answer (namesrvDomain): untrusted bytes from
 * the network. What parses lies inside the input, holds no line break,
 * and the name server list built from it is either rejected or usable. */
#include "client/nslist.h"
#include "codec/nsaddr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data, *list;
  size_t n;
  rmqi_errbuf_t e;
  if (rmqi_nsaddr_parse(in, size, &list, &n, &e) != RMQ_OK)
    return 0;
  if (list < in || list + n > in + size || memchr(list, '\n', n) ||
      memchr(list, '\r', n))
    __builtin_trap();
  char *text = strndup(list, n);
  if (text == NULL)
    return 0;
  rmqi_nslist_t l;
  if (rmqi_nslist_init_empty(&l, 1) == RMQ_OK) {
    bool changed;
    if (rmqi_nslist_replace(&l, text, &changed) == RMQ_OK && l.n) {
      char buf[RMQI_NSLIST_ADDR_MAX];
      if (rmqi_nslist_current(&l, buf) == NULL || strlen(buf) == 0)
        __builtin_trap();
    }
    rmqi_nslist_free(&l);
  }
  free(text);
  return 0;
}

/* The mock cluster's request handling (lib/mock): a bare two-broker
 * cluster is fed the input as the requests of clients on its name server
 * and brokers. The input is a series of chunks, each a server byte (0:
 * the name server, 1 and 2: the brokers), a 16-bit big-endian length and
 * that many bytes of stream; chunks for one server continue one
 * connection's stream until the server closes it (a bad frame, a bound).
 * State carries over between chunks: a send, then a pull of it, then
 * offsets, heartbeats, locks. */
#include "mock/mock_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmq_mock_cluster_t *c = rmqi_mock_cluster_bare(2);
  if (c == NULL)
    return 0;
  while (size >= 3) {
    int srv = data[0] % 3;
    size_t n = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (n > size)
      n = size;
    rmqi_mock_feed(c, srv, data, n);
    data += n;
    size -= n;
  }
  rmq_mock_cluster_destroy(c);
  return 0;
}

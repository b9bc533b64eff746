/* This host's identity: the address used in client ids and message ids. */
#ifndef RMQI_CLIENT_LOCAL_H
#define RMQI_CLIENT_LOCAL_H

#include "../util/common.h"

typedef struct rmqi_local_ip {
  uint8_t bytes[16];
  size_t len;    /* 4 or 16 */
  char text[64]; /* dotted IPv4, or IPv6 text */
} rmqi_local_ip_t;

/*
 * Picks the local address the way Java's UtilAll.getIP does: the first
 * non-loopback, non-link-local IPv4 address that is public, else the first
 * private one, else such an IPv6 address, else 127.0.0.1.
 * @p configured: the clientIP setting (empty = detect); it must parse as an
 * IPv4 or IPv6 address.
 */
rmq_err_t rmqi_local_ip(const char *configured, rmqi_local_ip_t *out);

/* The client id ip@instance[@unit]; instance "DEFAULT" becomes
 * "<pid>#<random>" (Java uses pid#nanoTime) so two processes, or two
 * instances in one process, never share an id. */
void rmqi_client_id(char *out, size_t n, const char *ip, const char *instance,
                    const char *unit, uint64_t random);

#endif

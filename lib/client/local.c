#include "local.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool private_v4(const uint8_t *a) {
  return a[0] == 10 || (a[0] == 172 && (a[1] & 0xF0) == 16) ||
         (a[0] == 192 && a[1] == 168);
}

static void set_v4(rmqi_local_ip_t *out, const uint8_t *a) {
  memcpy(out->bytes, a, 4);
  out->len = 4;
  inet_ntop(AF_INET, a, out->text, sizeof(out->text));
}

static void set_v6(rmqi_local_ip_t *out, const uint8_t *a) {
  memcpy(out->bytes, a, 16);
  out->len = 16;
  inet_ntop(AF_INET6, a, out->text, sizeof(out->text));
}

rmq_err_t rmqi_local_ip(const char *configured, rmqi_local_ip_t *out) {
  memset(out, 0, sizeof(*out));
  if (configured && *configured) {
    uint8_t a[16];
    if (inet_pton(AF_INET, configured, a) == 1)
      set_v4(out, a);
    else if (inet_pton(AF_INET6, configured, a) == 1)
      set_v6(out, a);
    else
      return RMQ_ERR_CONF_INVALID;
    return RMQ_OK;
  }
  struct ifaddrs *ifs = NULL;
  bool have_private = false, have_v6 = false;
  uint8_t priv[4], v6[16];
  if (getifaddrs(&ifs) == 0) {
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
      if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) ||
          !(i->ifa_flags & IFF_UP))
        continue;
      if (i->ifa_addr->sa_family == AF_INET) {
        const uint8_t *a =
            (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        if (a[0] == 127 || (a[0] == 169 && a[1] == 254) || a[0] == 0)
          continue;
        if (!private_v4(a)) {
          set_v4(out, a);
          freeifaddrs(ifs);
          return RMQ_OK;
        }
        if (!have_private) {
          memcpy(priv, a, 4);
          have_private = true;
        }
      } else if (i->ifa_addr->sa_family == AF_INET6 && !have_v6) {
        const struct in6_addr *a6 =
            &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_LINKLOCAL(a6))
          continue;
        memcpy(v6, a6, 16);
        have_v6 = true;
      }
    }
    freeifaddrs(ifs);
  }
  static const uint8_t loop[4] = {127, 0, 0, 1};
  if (have_private)
    set_v4(out, priv);
  else if (have_v6)
    set_v6(out, v6);
  else
    set_v4(out, loop);
  return RMQ_OK;
}

void rmqi_client_id(char *out, size_t n, const char *ip, const char *instance,
                    const char *unit, uint64_t random) {
  char inst[128];
  if (instance == NULL || *instance == '\0' || strcmp(instance, "DEFAULT") == 0)
    snprintf(inst, sizeof(inst), "%ld#%llu", (long)getpid(),
             (unsigned long long)(random % 100000000000ULL));
  else
    snprintf(inst, sizeof(inst), "%s", instance);
  if (unit && *unit)
    snprintf(out, n, "%s@%s@%s", ip, inst, unit);
  else
    snprintf(out, n, "%s@%s", ip, inst);
}

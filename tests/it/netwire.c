#include "netwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Packets held for a delay, per direction, at most this many (more are
 * dropped and counted, like netem's limit). */
enum { QUEUE_MAX = 8192, PKT_MAX = 65536 };

typedef struct pkt {
  struct pkt *next;
  int64_t due_ms;
  size_t len;
  unsigned char data[];
} pkt_t;

typedef struct dir {
  int from, to; /* device fds: read from, write to */
  struct tcpst *tcp; /* netwire's table, noted on delivery when note_out */
  int note_out;
  pkt_t *head, *tail;
  int queued;
  _Atomic int delay_ms, loss_pct, partition; /* this direction's faults */
  _Atomic uint64_t passed, dropped;
} dir_t;

/* What netwire_reset() needs of a TCP connection, by its port on the
 * namespace's side: the host's end, the sequence number that follows the
 * last segment delivered to the host, and the last acknowledgement the
 * host sent (one of the two is what the host expects next). */
typedef struct tcpst {
  uint32_t host_ip; /* network order */
  uint16_t host_port;
  uint8_t have_end, have_ack;
  uint32_t end_out, ack_in;
} tcpst_t;

/* A bit per TCP port of the namespace's side. */
typedef struct ports {
  uint8_t bit[65536 / 8];
} ports_t;

struct netwire {
  int host_ns, own_ns;    /* namespace fds */
  int efd;                /* wakes the thread to stop */
  dir_t dir[2];           /* NETWIRE_OUT, NETWIRE_IN */
  _Atomic int scope_port; /* 0, or the host's port the faults hit */
  /* netwire_sever() asks, the forwarding thread applies: connections are
   * known by their port on the namespace's side, used (seen) and severed
   * (dead); a new connection gets a new port from the kernel */
  _Atomic int sever_asked;
  int sever_done;
  ports_t seen, dead;
  tcpst_t *tcp; /* 65536 entries, the forwarding thread's */
  _Atomic int reset_asked, reset_done;
  _Atomic int stop;
  uint64_t rng;
  pthread_t th;
  int started;
  char addr[INET_ADDRSTRLEN];
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t n,
                                                    const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  size_t k = (size_t)vsnprintf(err, n, fmt, ap);
  va_end(ap);
  if (k < n)
    snprintf(err + k, n - k, ": %s", strerror(e));
}

static int tun_open(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void set_in(struct sockaddr *sa, in_addr_t a) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = a;
  memcpy(sa, &sin, sizeof(sin));
}

/* Brings device @p name up; with @p addr != 0 gives it that address (/32). */
static int dev_up(int sock, const char *name, in_addr_t addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (addr) {
    set_in(&ifr.ifr_addr, addr);
    if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
      return -1;
    set_in(&ifr.ifr_netmask, htonl(0xffffffffu));
    if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
      return -1;
  }
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    return -1;
  ifr.ifr_flags |= IFF_UP;
  return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* A route to @p dst (a host, or everything when 0) through device @p name. */
static int route_add(int sock, const char *name, in_addr_t dst) {
  struct rtentry rt;
  memset(&rt, 0, sizeof(rt));
  set_in(&rt.rt_dst, dst);
  set_in(&rt.rt_genmask, dst ? htonl(0xffffffffu) : 0);
  rt.rt_flags = RTF_UP | (dst ? RTF_HOST : 0);
  char dev[IFNAMSIZ];
  snprintf(dev, sizeof(dev), "%s", name);
  rt.rt_dev = dev;
  return ioctl(sock, SIOCADDRT, &rt);
}

static void dir_push(dir_t *d, const unsigned char *b, size_t len,
                     int64_t due) {
  pkt_t *p = d->queued < QUEUE_MAX ? malloc(sizeof(*p) + len) : NULL;
  if (p == NULL) {
    atomic_fetch_add(&d->dropped, 1);
    return;
  }
  p->next = NULL;
  p->due_ms = due;
  p->len = len;
  memcpy(p->data, b, len);
  if (d->tail)
    d->tail->next = p;
  else
    d->head = p;
  d->tail = p;
  d->queued++;
}

static uint32_t get32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
         b[3];
}

static void put16(unsigned char *b, unsigned v) {
  b[0] = (unsigned char)(v >> 8);
  b[1] = (unsigned char)v;
}

static void put32(unsigned char *b, uint32_t v) {
  put16(b, v >> 16);
  put16(b + 2, v & 0xffff);
}

/* Notes a TCP segment of an IPv4 packet for netwire_reset(): @p out, one
 * the host is given (its end); else one the host sent (its ack). */
static void tcp_note(tcpst_t *tab, const unsigned char *b, size_t len,
                     int out) {
  size_t ihl = (size_t)(b[0] & 0x0f) * 4;
  if (tab == NULL || len < 20 || b[0] >> 4 != 4 || b[9] != 6 ||
      len < ihl + 20)
    return;
  const unsigned char *t = b + ihl;
  size_t doff = (size_t)(t[12] >> 4) * 4, total = (size_t)b[2] << 8 | b[3];
  int flags = t[13];
  if (total > len || total < ihl + doff || (flags & 0x04 /* RST */))
    return;
  tcpst_t *c = &tab[out ? t[0] << 8 | t[1] : t[2] << 8 | t[3]];
  if (out) {
    uint32_t end = get32(t + 4) + (uint32_t)(total - ihl - doff) +
                   ((flags & 0x02) != 0) + ((flags & 0x01) != 0);
    memcpy(&c->host_ip, b + 16, 4);
    c->host_port = (uint16_t)(t[2] << 8 | t[3]);
    if (flags & 0x02 /* SYN: a new connection on this port */)
      c->have_ack = 0;
    if (!c->have_end || flags & 0x02 || (int32_t)(end - c->end_out) > 0)
      c->end_out = end;
    c->have_end = 1;
  } else if (flags & 0x10 /* ACK */) {
    c->ack_in = get32(t + 8);
    c->have_ack = 1;
  }
}

static void deliver(dir_t *d, const unsigned char *b, size_t len) {
  /* a TUN write hands the packet to the stack at once (it never blocks) */
  if (write(d->to, b, len) == (ssize_t)len) {
    atomic_fetch_add(&d->passed, 1);
    if (d->note_out)
      tcp_note(d->tcp, b, len, 1);
  } else
    atomic_fetch_add(&d->dropped, 1);
}

static unsigned csum_add(unsigned sum, const unsigned char *b, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (unsigned)b[i] << 8 | b[i + 1];
  return sum;
}

static unsigned csum_end(unsigned sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/* Writes to the host's side a RST of the connection from @p own_ip:@p port
 * (as the namespace's stack would send on an abort) with sequence number
 * @p seq. */
static void send_rst(netwire_t *w, in_addr_t own_ip, int port,
                     const tcpst_t *c, uint32_t seq) {
  unsigned char p[40];
  memset(p, 0, sizeof(p));
  p[0] = 0x45;
  put16(p + 2, sizeof(p));
  p[6] = 0x40; /* don't fragment */
  p[8] = 64;
  p[9] = 6;
  memcpy(p + 12, &own_ip, 4);
  memcpy(p + 16, &c->host_ip, 4);
  put16(p + 10, csum_end(csum_add(0, p, 20)));
  unsigned char *t = p + 20;
  put16(t, (unsigned)port);
  put16(t + 2, c->host_port);
  put32(t + 4, seq);
  t[12] = 5 << 4;
  t[13] = 0x04; /* RST */
  unsigned char pseudo[12];
  memcpy(pseudo, p + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = 6;
  put16(pseudo + 10, 20);
  put16(t + 16, csum_end(csum_add(csum_add(0, pseudo, 12), t, 20)));
  if (write(w->dir[NETWIRE_OUT].to, p, sizeof(p)) != (ssize_t)sizeof(p))
    atomic_fetch_add(&w->dir[NETWIRE_OUT].dropped, 1);
}

/* netwire_reset()'s work, on the forwarding thread. */
static void reset_all(netwire_t *w) {
  in_addr_t own;
  if (w->tcp == NULL || inet_pton(AF_INET, w->addr, &own) != 1)
    return;
  for (int port = 1; port < 65536; port++) {
    tcpst_t *c = &w->tcp[port];
    if (c->have_end)
      send_rst(w, own, port, c, c->end_out);
    /* the host's ack, when it differs: the last segment delivered may be
     * one the host had already (a retransmission) */
    if (c->have_ack && (!c->have_end || c->ack_in != c->end_out))
      send_rst(w, own, port, c, c->ack_in);
  }
}

/* Delivers what is due; returns the ms until the next packet is (-1: none). */
static int dir_release(dir_t *d, int64_t now) {
  while (d->head && d->head->due_ms <= now) {
    pkt_t *p = d->head;
    d->head = p->next;
    if (d->head == NULL)
      d->tail = NULL;
    d->queued--;
    deliver(d, p->data, p->len);
    free(p);
  }
  return d->head ? (int)(d->head->due_ms - now) : -1;
}

static uint64_t next_rand(netwire_t *w) { /* xorshift64 */
  uint64_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return w->rng = x;
}

static int port_has(const ports_t *s, int port) {
  return s->bit[port / 8] >> (port % 8) & 1;
}

/* The TCP ports of an IPv4 packet: the namespace's side and the host's, as
 * seen crossing the link in direction @p dir; 0 when it is not TCP. */
static int tcp_ports(const unsigned char *b, size_t len, int dir, int *own,
                     int *host) {
  size_t ihl = (size_t)(b[0] & 0x0f) * 4;
  if (len < 20 || b[0] >> 4 != 4 || b[9] != 6 /* TCP */ || len < ihl + 4)
    return 0;
  int src = b[ihl] << 8 | b[ihl + 1], dst = b[ihl + 2] << 8 | b[ihl + 3];
  *own = dir == NETWIRE_OUT ? src : dst;
  *host = dir == NETWIRE_OUT ? dst : src;
  return 1;
}

/* Whether the faults spare this packet (another port than the scope's);
 * drops it (returning -1) when its connection was severed. */
static int spared(netwire_t *w, int dir, const unsigned char *b, size_t len) {
  int asked = atomic_load(&w->sever_asked);
  if (asked != w->sever_done) {
    for (size_t i = 0; i < sizeof(w->dead.bit); i++)
      w->dead.bit[i] |= w->seen.bit[i];
    w->sever_done = asked;
  }
  int own, host, scope = atomic_load(&w->scope_port);
  if (!tcp_ports(b, len, dir, &own, &host))
    return scope != 0;
  if (port_has(&w->dead, own))
    return -1;
  w->seen.bit[own / 8] |= (uint8_t)(1u << (own % 8));
  return scope != 0 && host != scope;
}

static void dir_read(netwire_t *w, dir_t *d, unsigned char *buf) {
  for (int i = 0; i < 256; i++) {
    ssize_t k = read(d->from, buf, PKT_MAX);
    if (k <= 0)
      return;
    if (d == &w->dir[NETWIRE_IN]) /* what the host sent, dropped or not */
      tcp_note(w->tcp, buf, (size_t)k, 0);
    int spare = spared(w, (int)(d - w->dir), buf, (size_t)k);
    if (spare > 0) {
      deliver(d, buf, (size_t)k); /* other flows: their order is their own */
      continue;
    }
    int loss = atomic_load(&d->loss_pct);
    if (spare < 0 || atomic_load(&d->partition) ||
        (loss > 0 && (int)(next_rand(w) % 100) < loss)) {
      atomic_fetch_add(&d->dropped, 1);
      continue;
    }
    int delay = atomic_load(&d->delay_ms);
    if (delay <= 0 && d->head == NULL)
      deliver(d, buf, (size_t)k);
    else
      dir_push(d, buf, (size_t)k, now_ms() + (delay > 0 ? delay : 0));
  }
}

static void *forward(void *arg) {
  netwire_t *w = arg;
  unsigned char *buf = malloc(PKT_MAX);
  while (buf && !atomic_load(&w->stop)) {
    int64_t now = now_ms();
    int wait = -1;
    for (int i = 0; i < 2; i++) {
      int t = dir_release(&w->dir[i], now);
      if (t >= 0 && (wait < 0 || t < wait))
        wait = t;
    }
    struct pollfd pf[3] = {{w->dir[NETWIRE_OUT].from, POLLIN, 0},
                           {w->dir[NETWIRE_IN].from, POLLIN, 0},
                           {w->efd, POLLIN, 0}};
    if (poll(pf, 3, wait) < 0 && errno != EINTR)
      break;
    if (pf[2].revents & POLLIN) {
      uint64_t v;
      if (read(w->efd, &v, sizeof(v)) < 0) {
        /* drained by an earlier read */
      }
    }
    int asked = atomic_load(&w->reset_asked);
    if (asked != atomic_load(&w->reset_done)) {
      reset_all(w);
      atomic_store(&w->reset_done, asked);
    }
    for (int i = 0; i < 2; i++)
      if (pf[i].revents & POLLIN)
        dir_read(w, &w->dir[i], buf);
  }
  free(buf);
  for (int i = 0; i < 2; i++)
    while (w->dir[i].head) {
      pkt_t *p = w->dir[i].head;
      w->dir[i].head = p->next;
      free(p);
    }
  return NULL;
}

netwire_t *netwire_open(char *err, size_t errlen) {
  netwire_t *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return NULL;
  w->host_ns = w->own_ns = w->efd = -1;
  w->dir[0].from = w->dir[0].to = w->dir[1].from = w->dir[1].to = -1;
  w->rng = 0x9e3779b97f4a7c15ull; /* a fixed seed: the same drops each run */
  w->tcp = calloc(65536, sizeof(*w->tcp));
  w->dir[NETWIRE_OUT].tcp = w->tcp;
  w->dir[NETWIRE_OUT].note_out = 1;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  /* The host's end, named after this process (names are per namespace). */
  char host_dev[IFNAMSIZ];
  snprintf(host_dev, sizeof(host_dev), "rmqnf%u",
           (unsigned)getpid() % 10000000u);
  int host_fd = tun_open(host_dev);
  if (sock < 0 || host_fd < 0) {
    fail(err, errlen, "cannot create TUN device %s", host_dev);
    goto out;
  }
  w->host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (w->host_ns < 0 || dev_up(sock, host_dev, 0) < 0) {
    fail(err, errlen, "cannot bring %s up", host_dev);
    goto out;
  }
  /* The namespace's address: 10.231.x.y from the pid, the next one when a
   * concurrent test holds it (the host's route to it is the lock). */
  in_addr_t addr = 0;
  for (unsigned i = 0; i < 64 && addr == 0; i++) {
    unsigned v = ((unsigned)getpid() + i * 7919u) % 65024u + 256u;
    in_addr_t a = htonl((10u << 24) | (231u << 16) | v);
    if (route_add(sock, host_dev, a) == 0)
      addr = a;
    else if (errno != EEXIST)
      break;
  }
  if (addr == 0) {
    fail(err, errlen, "cannot route 10.231.0.0/16 addresses to %s", host_dev);
    goto out;
  }
  inet_ntop(AF_INET, &addr, w->addr, sizeof(w->addr));
  if (unshare(CLONE_NEWNET) < 0) {
    fail(err, errlen, "cannot make a network namespace");
    goto out;
  }
  close(sock);
  sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* the new one's */
  w->own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int own_fd = tun_open("rmqnf0");
  if (sock < 0 || w->own_ns < 0 || own_fd < 0) {
    fail(err, errlen, "cannot create the namespace's TUN device");
    goto out;
  }
  w->dir[NETWIRE_OUT].from = w->dir[NETWIRE_IN].to = own_fd;
  w->dir[NETWIRE_OUT].to = w->dir[NETWIRE_IN].from = host_fd;
  host_fd = -1;
  if (dev_up(sock, "lo", 0) < 0 || dev_up(sock, "rmqnf0", addr) < 0 ||
      route_add(sock, "rmqnf0", 0) < 0) {
    fail(err, errlen, "cannot configure the namespace's link");
    goto out;
  }
  w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->efd < 0 || pthread_create(&w->th, NULL, forward, w) != 0) {
    fail(err, errlen, "cannot start the forwarding thread");
    goto out;
  }
  w->started = 1;
  close(sock);
  return w;
out:
  if (sock >= 0)
    close(sock);
  if (host_fd >= 0)
    close(host_fd);
  netwire_close(w);
  return NULL;
}

const char *netwire_addr(const netwire_t *w) {
  return w->addr;
}

void netwire_set_dir(netwire_t *w, int dir, int delay_ms, int loss_pct,
                     int partition) {
  atomic_store(&w->dir[dir].delay_ms, delay_ms);
  atomic_store(&w->dir[dir].loss_pct, loss_pct);
  atomic_store(&w->dir[dir].partition, partition);
}

void netwire_set(netwire_t *w, int delay_ms, int loss_pct, int partition) {
  for (int i = 0; i < 2; i++)
    netwire_set_dir(w, i, delay_ms, loss_pct, partition);
}

void netwire_scope_port(netwire_t *w, int port) {
  atomic_store(&w->scope_port, port);
}

void netwire_sever(netwire_t *w) {
  atomic_fetch_add(&w->sever_asked, 1);
}

int netwire_reset(netwire_t *w) {
  int want = atomic_fetch_add(&w->reset_asked, 1) + 1;
  uint64_t one = 1;
  if (write(w->efd, &one, sizeof(one)) < 0)
    return -1;
  for (int i = 0; i < 2000 && atomic_load(&w->reset_done) - want < 0; i++)
    usleep(1000);
  return atomic_load(&w->reset_done) - want < 0 ? -1 : 0;
}

void netwire_stats(netwire_t *w, netwire_stats_t *out) {
  for (int i = 0; i < 2; i++) {
    out->passed[i] = atomic_load(&w->dir[i].passed);
    out->dropped[i] = atomic_load(&w->dir[i].dropped);
  }
}

int netwire_in_host(netwire_t *w, int (*fn)(void *), void *arg) {
  if (setns(w->host_ns, CLONE_NEWNET) < 0)
    return -1;
  int rc = fn(arg);
  if (setns(w->own_ns, CLONE_NEWNET) < 0)
    abort(); /* the test would go on outside its namespace */
  return rc;
}

void netwire_close(netwire_t *w) {
  if (w == NULL)
    return;
  if (w->started) {
    atomic_store(&w->stop, 1);
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof(one)) < 0) {
      /* the thread also sees stop at its next packet */
    }
    pthread_join(w->th, NULL);
  }
  int fds[] = {w->dir[NETWIRE_OUT].from, w->dir[NETWIRE_IN].from, w->efd,
               w->host_ns, w->own_ns};
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
    if (fds[i] >= 0)
      close(fds[i]);
  free(w->tcp);
  free(w);
}

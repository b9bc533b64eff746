/*
 * A network link with faults, for tests (tests/it/test_it_netfault.c).
 *
 * netwire_open() moves the calling process into a network namespace of its
 * own whose only way out is a point-to-point link to the host's namespace:
 * two TUN devices, one on each side, between which a thread of this module
 * copies packets. The kernels' TCP stacks on both sides are real; the
 * thread adds latency, drops packets at random, or drops them all (a
 * partition), like tc netem on a veth pair, which needs a kernel with
 * CONFIG_NET_SCH_NETEM (not every kernel has it; CI's has not). Only the
 * namespace's own traffic crosses the link: nothing else on the host is
 * touched. The namespace, both devices and the host's route to the
 * namespace vanish with the process, however it ends.
 *
 * Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_ADMIN for the
 * devices) and /dev/net/tun; Linux only.
 */
#ifndef RMQ_NETWIRE_H
#define RMQ_NETWIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct netwire netwire_t;

/* Directions of the link: out of the namespace, into it. */
enum { NETWIRE_OUT = 0, NETWIRE_IN = 1 };

typedef struct netwire_stats {
  uint64_t passed[2];  /* packets delivered, per direction */
  uint64_t dropped[2]; /* packets dropped by a fault, per direction */
} netwire_stats_t;

/*
 * Creates the namespace and the link and moves the calling thread into the
 * namespace. Call it before the process has other threads (they would stay
 * outside); threads made afterwards start inside. Returns NULL with the
 * reason in @p err when it is not possible (not root, no TUN device).
 */
netwire_t *netwire_open(char *err, size_t errlen);

/* The namespace's own IPv4 address (the source of its connections). */
const char *netwire_addr(const netwire_t *w);

/*
 * Faults from now on, both directions alike: every packet is held
 * @p delay_ms before it is delivered (queued packets keep their time), a
 * packet is dropped with probability @p loss_pct percent, and with
 * @p partition every packet is dropped. netwire_set(w, 0, 0, 0) heals the
 * link (in both directions; a port scope stays as it was).
 */
void netwire_set(netwire_t *w, int delay_ms, int loss_pct, int partition);

/* The faults of one direction only (NETWIRE_OUT or NETWIRE_IN), the other
 * keeping its own: one-way loss or a one-way cut. */
void netwire_set_dir(netwire_t *w, int dir, int delay_ms, int loss_pct,
                     int partition);

/*
 * From now on the faults hit only the TCP packets to or from the host's
 * port @p port (e.g. the name server's, the brokers staying reachable);
 * every other packet passes untouched. 0: every packet (the default).
 */
void netwire_scope_port(netwire_t *w, int port);

/*
 * Drops, from now on and in both directions, every packet of the TCP
 * connections that have crossed the link so far, as a firewall or NAT
 * that lost its state would: their peers never hear from them again, even
 * after the faults are lifted, while new connections pass. Data still
 * unsent in those connections is lost (TCP cannot retransmit it through).
 * Connections are known by their port on the namespace's side: a later
 * connection the kernel gives one of those ports again is dropped too (it
 * times out connecting and the client tries again: rare, ports are
 * spread over about 28,000).
 */
void netwire_sever(netwire_t *w);

/*
 * Resets, at the host's side, every TCP connection that has crossed the
 * link so far: RSTs are written to the host as if the namespace's stack had
 * aborted them, so the servers close those connections at once (a broker
 * forgets the clients that used them). The namespace's side hears nothing
 * of it; with a partition set first it stays unaware until the partition
 * lifts and the host answers its next segment with a RST. Returns 0 once
 * the RSTs are written, -1 when the forwarding thread did not get to it
 * within 2 s.
 */
int netwire_reset(netwire_t *w);

void netwire_stats(netwire_t *w, netwire_stats_t *out);

/* Runs @p fn on the calling thread in the host's namespace (e.g. a harness
 * command that must reach 127.0.0.1), then moves it back. */
int netwire_in_host(netwire_t *w, int (*fn)(void *), void *arg);

/* Stops the forwarding thread and closes both devices (the namespace stays
 * until the process ends: its threads are in it). */
void netwire_close(netwire_t *w);

#endif

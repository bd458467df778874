/* SPDX-License-Identifier: MIT */
/* What the listeners' connection limits share: client address keys and the descriptor budget. */
#ifndef BL_CONN_LIMIT_H
#define BL_CONN_LIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A client address as a comparable key: IPv4 (also when it arrives
 * IPv4-mapped on a dual-stack socket) or IPv6; af 0 when unknown. */
typedef struct {
    uint8_t af; /* 4, 6 or 0 */
    uint8_t a[16];
} bl_peer_t;

void bl_peer_from_sockaddr(bl_peer_t *p, const struct sockaddr *sa);
int bl_peer_eq(const bl_peer_t *x, const bl_peer_t *y);
/* The address as text ("192.0.2.1", "2001:db8::1", "?"); needs 46 bytes. */
const char *bl_peer_format(const bl_peer_t *p, char *buf, size_t n);

/* Open connections per client address: a hash map that holds at most the
 * max entries given at init (one per distinct address with a count). */
typedef struct {
    bl_peer_t *keys;
    uint32_t *counts; /* 0: free slot */
    size_t cap;       /* a power of two, at least twice max */
    size_t n, max;
} bl_peer_counts_t;

int bl_peer_counts_init(bl_peer_counts_t *m, size_t max);
void bl_peer_counts_free(bl_peer_counts_t *m);
/* Connections counted for p. */
unsigned bl_peer_counts_get(const bl_peer_counts_t *m, const bl_peer_t *p);
/* Counts one more connection from p: 0, or BL_ENOSPC when max distinct
 * addresses are counted already (nothing changes). */
int bl_peer_counts_inc(bl_peer_counts_t *m, const bl_peer_t *p);
/* Counts one connection fewer (an address at 0 leaves the map). */
void bl_peer_counts_dec(bl_peer_counts_t *m, const bl_peer_t *p);

/* A connection limit that leaves descriptors for the rest of the process:
 * want (def when 0), but at most RLIMIT_NOFILE / share and at least 8. */
unsigned bl_fd_budget(unsigned want, unsigned def, unsigned share);

#endif

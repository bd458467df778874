/* SPDX-License-Identifier: MIT */
/* Open DNS TCP connections per client: an open-addressing table keyed by the
 * client's address (IPv4) or /64 prefix (IPv6). Pure, no I/O, one thread. */
#ifndef MIRROR_TCP_CLIENTS_H
#define MIRROR_TCP_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* A client: the IPv4 address as ::ffff:a.b.c.d (IPv4-mapped IPv6 addresses
 * map to the same key), or an IPv6 address's /64 with the rest zero. One
 * host or site normally holds a whole /64, so counting per address would let
 * it open 2^64 times the limit. */
typedef struct {
    uint8_t b[16];
} mirror_client_key_t;

typedef struct {
    mirror_client_key_t key;
    uint32_t n; /* open connections; 0: free slot */
} mirror_client_slot_t;

typedef struct {
    mirror_client_slot_t *slot;
    size_t mask; /* capacity - 1 (a power of two) */
    size_t used;
    uint64_t seed; /* per table: which keys collide is not known outside */
} mirror_clients_t;

/* A table for up to max_clients clients at once (capacity at least twice
 * that, so probes stay short). Returns 0, or -1 when out of memory. */
int mirror_clients_init(mirror_clients_t *t, size_t max_clients, uint64_t seed);
void mirror_clients_free(mirror_clients_t *t);

/* The key of a client address (AF_INET or AF_INET6); -1 for another family. */
int mirror_client_key(const struct sockaddr *sa, mirror_client_key_t *k);

/* Open connections of client k. */
unsigned mirror_clients_count(const mirror_clients_t *t, const mirror_client_key_t *k);
/* Counts one more connection of k; returns the new count, or 0 when the
 * table already holds max_clients clients (cannot happen while every
 * client has a connection and connections are bounded by max_clients). */
unsigned mirror_clients_add(mirror_clients_t *t, const mirror_client_key_t *k);
/* Counts one connection of k less (the slot is freed at 0). */
void mirror_clients_del(mirror_clients_t *t, const mirror_client_key_t *k);

#endif

/* SPDX-License-Identifier: MIT */
/* Open DNS TCP connections per client: an open-addressing table keyed by the
 * client's address (IPv4) or /64 prefix (IPv6). Pure, no I/O, one thread. */
#include "tcp_clients.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Linear probing with backward-shift deletion (no tombstones), so a
 * lookup's probe ends at the first free slot however many clients came and
 * went. The table is at most half full.
 */

int mirror_clients_init(mirror_clients_t *t, size_t max_clients, uint64_t seed)
{
    size_t cap = 16;
    while (cap < 2 * max_clients)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    t->used = 0;
    t->seed = seed;
    return t->slot ? 0 : -1;
}

void mirror_clients_free(mirror_clients_t *t)
{
    free(t->slot);
    t->slot = NULL;
}

int mirror_client_key(const struct sockaddr *sa, mirror_client_key_t *k)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(k, 0, sizeof *k);
    if (sa->sa_family == AF_INET) {
        memcpy(k->b, mapped, 12);
        memcpy(k->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (!memcmp(a, mapped, 12))
        memcpy(k->b, a, 16);
    else
        memcpy(k->b, a, 8);
    return 0;
}

static size_t home(const mirror_clients_t *t, const mirror_client_key_t *k)
{
    uint64_t w[2];
    memcpy(w, k->b, 16);
    uint64_t h = t->seed;
    for (int i = 0; i < 2; i++) {
        h ^= w[i];
        h *= 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (size_t)h & t->mask;
}

/* The slot holding k, or the free slot where k would go. */
static size_t find(const mirror_clients_t *t, const mirror_client_key_t *k)
{
    size_t i = home(t, k);
    while (t->slot[i].n && memcmp(&t->slot[i].key, k, sizeof *k))
        i = (i + 1) & t->mask;
    return i;
}

unsigned mirror_clients_count(const mirror_clients_t *t, const mirror_client_key_t *k)
{
    return t->slot[find(t, k)].n;
}

unsigned mirror_clients_add(mirror_clients_t *t, const mirror_client_key_t *k)
{
    size_t i = find(t, k);
    if (!t->slot[i].n) {
        if (2 * (t->used + 1) > t->mask + 1)
            return 0;
        t->slot[i].key = *k;
        t->used++;
    }
    return ++t->slot[i].n;
}

void mirror_clients_del(mirror_clients_t *t, const mirror_client_key_t *k)
{
    size_t i = find(t, k);
    if (!t->slot[i].n || --t->slot[i].n)
        return;
    t->used--;
    /* backward shift: move later members of the probe run into the hole
     * when the hole lies between their home slot and where they are */
    for (size_t j = (i + 1) & t->mask; t->slot[j].n; j = (j + 1) & t->mask) {
        size_t h = home(t, &t->slot[j].key);
        if (((j - h) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i].n = 0;
}

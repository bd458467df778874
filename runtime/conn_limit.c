/* SPDX-License-Identifier: MIT */
/* Client address keys and the descriptor budget of the listeners' connection limits. */
#include "conn_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "err.h"

void bl_peer_from_sockaddr(bl_peer_t *p, const struct sockaddr *sa)
{
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    memset(p, 0, sizeof *p);
    if (sa && sa->sa_family == AF_INET) {
        p->af = 4;
        memcpy(p->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (!memcmp(a, mapped, 12)) {
            p->af = 4;
            memcpy(p->a, a + 12, 4);
        } else {
            p->af = 6;
            memcpy(p->a, a, 16);
        }
    }
}

int bl_peer_eq(const bl_peer_t *x, const bl_peer_t *y)
{
    return x->af == y->af && !memcmp(x->a, y->a, sizeof x->a);
}

const char *bl_peer_format(const bl_peer_t *p, char *buf, size_t n)
{
    if (!p->af || !inet_ntop(p->af == 4 ? AF_INET : AF_INET6, p->a, buf, (socklen_t)n))
        snprintf(buf, n, "?");
    return buf;
}

static size_t peer_hash(const bl_peer_t *p)
{
    uint32_t h = 2166136261u ^ p->af;
    for (size_t i = 0; i < sizeof p->a; i++)
        h = (h ^ p->a[i]) * 16777619u;
    return h;
}

int bl_peer_counts_init(bl_peer_counts_t *m, size_t max)
{
    memset(m, 0, sizeof *m);
    m->max = max ? max : 1;
    m->cap = 4;
    while (m->cap < 2 * m->max)
        m->cap *= 2;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->counts = calloc(m->cap, sizeof *m->counts);
    if (!m->keys || !m->counts) {
        bl_peer_counts_free(m);
        return BL_ENOMEM;
    }
    return 0;
}

void bl_peer_counts_free(bl_peer_counts_t *m)
{
    free(m->keys);
    free(m->counts);
    memset(m, 0, sizeof *m);
}

/* The slot holding p, or the free slot where it would go (linear probing). */
static size_t peer_slot(const bl_peer_counts_t *m, const bl_peer_t *p)
{
    size_t i = peer_hash(p) & (m->cap - 1);
    while (m->counts[i] && !bl_peer_eq(&m->keys[i], p))
        i = (i + 1) & (m->cap - 1);
    return i;
}

unsigned bl_peer_counts_get(const bl_peer_counts_t *m, const bl_peer_t *p)
{
    return m->cap ? m->counts[peer_slot(m, p)] : 0;
}

int bl_peer_counts_inc(bl_peer_counts_t *m, const bl_peer_t *p)
{
    if (!m->cap)
        return BL_ENOSPC;
    size_t i = peer_slot(m, p);
    if (!m->counts[i]) {
        if (m->n == m->max)
            return BL_ENOSPC;
        m->keys[i] = *p;
        m->n++;
    }
    m->counts[i]++;
    return 0;
}

void bl_peer_counts_dec(bl_peer_counts_t *m, const bl_peer_t *p)
{
    if (!m->cap)
        return;
    size_t i = peer_slot(m, p);
    if (!m->counts[i] || --m->counts[i])
        return;
    m->n--;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->counts[j])
            break;
        size_t home = peer_hash(&m->keys[j]) & (m->cap - 1);
        /* j's entry may move to i when i lies cyclically in [home, j). */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->keys[i] = m->keys[j];
            m->counts[i] = m->counts[j];
            m->counts[j] = 0;
            i = j;
        }
    }
}

unsigned bl_fd_budget(unsigned want, unsigned def, unsigned share)
{
    if (!want)
        want = def;
    struct rlimit rl;
    if (share && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t cap = rl.rlim_cur / share;
        if (cap < 8)
            cap = 8;
        if (want > cap)
            want = (unsigned)cap;
    }
    return want;
}

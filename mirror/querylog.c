/* SPDX-License-Identifier: MIT */
/* The optional query log (see querylog.h). */
#include "querylog.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void mirror_ip_format(const mirror_ip_t *ip, char *out)
{
    if (ip->hi == 0 && (ip->lo >> 32) == 0xffff) {
        uint32_t a = (uint32_t)ip->lo;
        snprintf(out, 48, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
        return;
    }
    uint8_t b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(ip->hi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(ip->lo >> (56 - 8 * i));
    }
    if (!inet_ntop(AF_INET6, b, out, 48))
        snprintf(out, 48, "?");
}

/* The question's name as text (bytes outside [-.0-9A-Za-z_] as \DDD), or
 * "-" when the query has none that can be read. */
static void qname_text(const uint8_t *q, size_t qlen, char *out, size_t cap, unsigned *qtype)
{
    size_t off = 12, n = 0;
    *qtype = 0;
    if (qlen < 12 || (q[4] << 8 | q[5]) != 1)
        goto bad;
    for (;;) {
        if (off >= qlen)
            goto bad;
        uint8_t l = q[off++];
        if (!l)
            break;
        if ((l & 0xc0) || off + l > qlen)
            goto bad;
        for (unsigned i = 0; i < l; i++) {
            uint8_t c = q[off + i];
            int plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
            if (n + 6 >= cap)
                goto bad;
            n += plain ? (size_t)snprintf(out + n, cap - n, "%c", c)
                       : (size_t)snprintf(out + n, cap - n, "\\%03u", c);
        }
        out[n++] = '.';
        off += l;
    }
    if (!n)
        out[n++] = '.';
    out[n] = 0;
    if (off + 2 <= qlen)
        *qtype = (unsigned)(q[off] << 8 | q[off + 1]);
    return;
bad:
    snprintf(out, cap, "-");
}

static const char *rcode_name(int rc)
{
    static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP",  "REFUSED"};
    return rc >= 0 && rc < 6 ? names[rc] : rc == MIRROR_RC_BADVERS ? "BADVERS" : "OTHER";
}

void mirror_qlog_write(mirror_qlog_t *l, const mirror_ip_t *client, int tcp, const uint8_t *q,
                       size_t qlen, const mirror_dns_info_t *info, const char *action,
                       uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000, old = atomic_load_explicit(&l->window, memory_order_relaxed);
    uint64_t nw;
    int new_second;
    do {
        new_second = (old >> 32) != (sec & 0xffffffffu);
        uint64_t lines = new_second ? 0 : (uint32_t)old;
        if (lines >= l->max_per_s) {
            atomic_fetch_add_explicit(&l->suppressed, 1, memory_order_relaxed);
            return;
        }
        nw = (sec & 0xffffffffu) << 32 | (lines + 1);
    } while (!atomic_compare_exchange_weak_explicit(&l->window, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
    if (new_second) {
        uint64_t s = atomic_exchange_explicit(&l->suppressed, 0, memory_order_relaxed);
        if (s)
            BL_INFO("query_log_suppressed", "lines=%" PRIu64 " max_per_s=%u", s, l->max_per_s);
    }
    char addr[48], name[1100];
    unsigned qtype;
    mirror_ip_format(client, addr);
    qname_text(q, qlen, name, sizeof name, &qtype);
    if (info->denied == MIRROR_ACL_DROP)
        action = "acl_dropped";
    BL_INFO("query", "client=%s proto=%s qname=%s qtype=%u rcode=%s%s%s", addr, tcp ? "tcp" : "udp",
            bl_log_q(name), qtype, rcode_name(info->rcode), action ? " action=" : "",
            action ? action : "");
}

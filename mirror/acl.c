/* SPDX-License-Identifier: MIT */
/* Access control lists (see acl.h). */
#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

static const mirror_ip_t v4_mapped = {0, 0x0000ffff00000000ULL};

int mirror_ip_from_sockaddr(const struct sockaddr *sa, mirror_ip_t *ip)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        ip->hi = 0;
        ip->lo = v4_mapped.lo | ntohl(a->sin_addr.s_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        ip->hi = ip->lo = 0;
        for (int i = 0; i < 8; i++) {
            ip->hi = ip->hi << 8 | b[i];
            ip->lo = ip->lo << 8 | b[8 + i];
        }
        return 0;
    }
    return -1;
}

mirror_ip_t mirror_ip_mask(mirror_ip_t ip, unsigned len)
{
    if (len == 0)
        return (mirror_ip_t){0, 0};
    if (len < 64)
        return (mirror_ip_t){ip.hi & ~(~0ULL >> len), 0};
    if (len == 64)
        return (mirror_ip_t){ip.hi, 0};
    if (len < 128)
        return (mirror_ip_t){ip.hi, ip.lo & ~(~0ULL >> (len - 64))};
    return ip;
}

static int ip_cmp(const mirror_ip_t *a, const mirror_ip_t *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return 0;
}

/* An IPv4 address as rbldnsd writes them: 1 to 4 decimal octets; *octets
 * gets how many. */
static int parse_v4(const char *s, uint32_t *a, unsigned *octets)
{
    uint32_t v = 0;
    unsigned n = 0;
    for (;;) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned o = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            o = o * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || o > 255)
                return -1;
        }
        v = v << 8 | o;
        n++;
        if (!*s)
            break;
        if (*s != '.' || n == 4)
            return -1;
        s++;
    }
    *a = v << (8 * (4 - n));
    *octets = n;
    return 0;
}

int mirror_acl_parse_prefix(const char *s, mirror_ip_t *net, unsigned *len, const char **why)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= sizeof buf) {
        *why = "not an address";
        return -1;
    }
    memcpy(buf, s, al);
    buf[al] = 0;
    long l = -1;
    if (slash) {
        char *end;
        errno = 0;
        l = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || errno || l < 0) {
            *why = "the prefix length is not a number";
            return -1;
        }
    }
    struct in6_addr a6;
    uint32_t a4;
    unsigned octets;
    mirror_ip_t ip;
    unsigned max;
    if (strchr(buf, ':')) {
        if (inet_pton(AF_INET6, buf, &a6) != 1) {
            *why = "not an IPv6 address";
            return -1;
        }
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = a6};
        mirror_ip_from_sockaddr((struct sockaddr *)&sa, &ip);
        max = 128;
        if (l < 0)
            l = 128;
    } else {
        if (parse_v4(buf, &a4, &octets)) {
            *why = "not an IPv4 address";
            return -1;
        }
        ip.hi = 0;
        ip.lo = v4_mapped.lo | a4;
        max = 32;
        if (l < 0)
            l = 8 * octets;
    }
    if (l > (long)max) {
        *why = "the prefix length is too long for the address";
        return -1;
    }
    unsigned full = (unsigned)l + (max == 32 ? 96 : 0);
    mirror_ip_t m = mirror_ip_mask(ip, full);
    if (ip_cmp(&m, &ip)) {
        *why = "invalid range (non-zero host part)";
        return -1;
    }
    *net = m;
    *len = full;
    return 0;
}

int mirror_acl_add(mirror_acl_t *a, mirror_ip_t net, unsigned len, int action)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        mirror_acl_rule_t *r = realloc(a->rules, cap * sizeof *r);
        if (!r)
            return -1;
        a->rules = r;
        a->cap = cap;
    }
    a->rules[a->n++] = (mirror_acl_rule_t){mirror_ip_mask(net, len), (uint8_t)len, (uint8_t)action};
    return 0;
}

int mirror_acl_add_line(mirror_acl_t *a, const char *line, int deny_action, const char **why)
{
    char word[16], pfx[80];
    int used = 0;
    if (sscanf(line, " %15s %79s %n", word, pfx, &used) != 2 || line[used]) {
        *why = "expected ACTION PREFIX, such as deny 192.0.2.0/24";
        return -1;
    }
    int action;
    if (!strcmp(word, "allow"))
        action = MIRROR_ACL_ALLOW;
    else if (!strcmp(word, "deny"))
        action = deny_action;
    else if (!strcmp(word, "refuse"))
        action = MIRROR_ACL_REFUSE;
    else if (!strcmp(word, "drop"))
        action = MIRROR_ACL_DROP;
    else {
        *why = "the action is not allow, deny, refuse or drop";
        return -1;
    }
    if (!strcmp(pfx, "any")) {
        mirror_ip_t zero = {0, 0};
        if (mirror_acl_add(a, v4_mapped, 96, action) || mirror_acl_add(a, zero, 0, action)) {
            *why = "out of memory";
            return -1;
        }
        return 0;
    }
    mirror_ip_t net;
    unsigned len;
    if (mirror_acl_parse_prefix(pfx, &net, &len, why))
        return -1;
    if (mirror_acl_add(a, net, len, action)) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

/* An rbldnsd acl keyword (after ':' or '='): the action, or -1 (not one
 * the mirror does: empty, or an A:TXT template). */
static int rbldnsd_action(const char *s)
{
    static const struct {
        const char *w;
        int action;
    } kw[] = {{"ignore", MIRROR_ACL_DROP},
              {"blackhole", MIRROR_ACL_DROP},
              {"refuse", MIRROR_ACL_REFUSE},
              {"pass", MIRROR_ACL_ALLOW}};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        size_t l = strlen(kw[i].w);
        if (!strncasecmp(s, kw[i].w, l) &&
            (!s[l] || s[l] == ' ' || s[l] == '\t' || s[l] == '#' || s[l] == ';'))
            return kw[i].action;
    }
    return -1;
}

int mirror_acl_load_rbldnsd(mirror_acl_t *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    unsigned no = 0;
    int def = MIRROR_ACL_DROP;
    while (fgets(line, sizeof line, f)) {
        no++;
        line[strcspn(line, "\r\n")] = 0;
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#' || *s == ';' || *s == '$')
            continue;
        const char *why = NULL;
        if (*s == ':' || *s == '=') {
            int act = rbldnsd_action(s + 1);
            if (act < 0)
                why = "only ignore, blackhole, refuse and pass are imported";
            else
                def = act;
        } else {
            /* the address ends at a blank; an IPv4 one may also end at
             * the ':' or '=' of its action (IPv6 addresses hold ':') */
            char *sp = s + strcspn(s, " \t#;");
            char rest = *sp;
            *sp = 0;
            mirror_ip_t net;
            unsigned len;
            int act = def;
            int rc = mirror_acl_parse_prefix(s, &net, &len, &why);
            char *v4end = s + strcspn(s, ":=");
            if (rc && *v4end && !memchr(s, ':', (size_t)(v4end - s)) && v4end < sp) {
                *sp = rest;
                rest = *v4end;
                sp = v4end;
                *sp = 0;
                why = NULL;
                rc = mirror_acl_parse_prefix(s, &net, &len, &why);
            }
            if (rc == 0) {
                *sp = rest;
                sp += strspn(sp, " \t");
                if (*sp == ':' || *sp == '=') {
                    act = rbldnsd_action(sp + 1);
                    if (act < 0)
                        why = "only ignore, blackhole, refuse and pass are imported";
                } else if (*sp && *sp != '#' && *sp != ';') {
                    why = "unexpected text after the address";
                }
                if (!why && mirror_acl_add(a, net, len, act))
                    why = "out of memory";
            }
        }
        if (why) {
            a->skipped++;
            BL_WARN("acl_line_skipped", "file=%s line=%u msg=%s", bl_log_q(path), no,
                    bl_log_q(why));
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    return 0;
}

/* Longest first, then by address; equal prefixes keep their order. */
static int rule_cmp(const void *x, const void *y)
{
    const mirror_acl_rule_t *a = x, *b = y;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    int c = ip_cmp(&a->net, &b->net);
    if (c)
        return c;
    return a < b ? -1 : a > b;
}

int mirror_acl_finish(mirror_acl_t *a)
{
    /* qsort is not stable: the position breaks ties, so a later rule for
     * the same prefix sorts after the earlier one and replaces it below */
    qsort(a->rules, a->n, sizeof *a->rules, rule_cmp);
    size_t out = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (out && a->rules[out - 1].len == a->rules[i].len &&
            !ip_cmp(&a->rules[out - 1].net, &a->rules[i].net)) {
            a->rules[out - 1] = a->rules[i];
            continue;
        }
        a->rules[out++] = a->rules[i];
    }
    a->n = out;
    a->nlens = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!a->nlens || a->lens[a->nlens - 1] != a->rules[i].len) {
            a->seg[a->nlens] = i;
            a->lens[a->nlens++] = a->rules[i].len;
        }
    a->seg[a->nlens] = a->n;
    return 0;
}

int mirror_acl_check(const mirror_acl_t *a, const mirror_ip_t *ip)
{
    int m = mirror_acl_match(a, ip);
    return m < 0 ? MIRROR_ACL_ALLOW : m;
}

int mirror_acl_match(const mirror_acl_t *a, const mirror_ip_t *ip)
{
    if (!a)
        return -1;
    for (unsigned i = 0; i < a->nlens; i++) {
        mirror_ip_t k = mirror_ip_mask(*ip, a->lens[i]);
        size_t lo = a->seg[i], hi = a->seg[i + 1];
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = ip_cmp(&a->rules[mid].net, &k);
            if (!c)
                return a->rules[mid].action;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return -1;
}

void mirror_acl_free(mirror_acl_t *a)
{
    if (!a)
        return;
    free(a->rules);
    free(a);
}

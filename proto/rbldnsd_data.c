/* SPDX-License-Identifier: MIT */
/* Parser for rbldnsd data files (ip4set, ip4tset, ip6tset, ip4trie, ip6trie). */
#include "rbldnsd_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

/*
 * The syntax follows rbldnsd(8): one entry per line, '#' and ';' comments,
 * ':A:TXT' default lines, per-entry ':A:TXT' or 'TXT' values, '!'
 * exclusions, '$n' substitution variables and the '$=' base template
 * (expanded here), '$$' and '$' kept for the server to expand per query.
 * ip4set ranges (a.b.c.d-e.f.g.h, prefix forms, suffix ranges) become their
 * minimal CIDR cover. The input is untrusted: every line is bounded.
 */

#define LINE_MAX_LEN 4096
#define TXT_MAX      BL_RBLDNSD_TXT_MAX

typedef struct {
    int kind;
    uint8_t def_a;
    int have_def;
    char def_txt[TXT_MAX];
    int def_has_txt;
    char vars[10][TXT_MAX];
    int var_set[10];
    char base[TXT_MAX];
    int has_base;
    char out[TXT_MAX];
    const char *msg;
    bl_rbldnsd_meta_t *meta;
} pstate_t;

#define HOST_BITS (-1) /* a CIDR with host bits set */

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}
static int is_comment(char c)
{
    return c == '#' || c == ';';
}

int bl_rbldnsd_kind_parse(const char *name)
{
    static const char *names[] = {"ip4set", "ip4tset", "ip6tset", "ip4trie", "ip6trie"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* Parses up to 4 dotted decimal octets; returns the count (0 on error). */
static int ip4_octets(const char **sp, uint32_t *addr)
{
    const char *s = *sp;
    uint32_t a = 0;
    int n = 0;
    for (;;) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || v > 255)
                return 0;
        }
        a |= v << (24 - 8 * n);
        n++;
        if (n == 4 || *s != '.' || s[1] < '0' || s[1] > '9')
            break;
        s++;
    }
    *sp = s;
    *addr = a;
    return n;
}

static int parse_bits(const char **sp, unsigned max, unsigned *bits)
{
    const char *s = *sp;
    unsigned v = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s++ - '0');
        if (++digits > 3 || v > max)
            return 0;
    }
    if (!digits)
        return 0;
    *sp = s;
    *bits = v;
    return 1;
}

/* Parses an IPv4 entry into the range [*lo, *hi]. */
static int ip4_range(const char **sp, int allow_range, uint32_t *lo, uint32_t *hi)
{
    const char *s = *sp;
    uint32_t a;
    int n = ip4_octets(&s, &a);
    if (!n)
        return 0;
    if (*s == '/') {
        s++;
        unsigned bits;
        if (!parse_bits(&s, 32, &bits))
            return 0;
        uint32_t m = bits ? ~0u << (32 - bits) : 0;
        if (a & ~m)
            return HOST_BITS;
        *lo = a & m;
        *hi = *lo | ~m;
    } else if (*s == '-' && allow_range) {
        s++;
        uint32_t b;
        int nb = ip4_octets(&s, &b);
        if (!nb)
            return 0;
        if (nb == 1 && n > 1) {
            /* suffix: replaces the last specified octet of the first boundary */
            unsigned sh = 32 - 8 * (unsigned)n;
            uint32_t v = b >> 24;
            b = (a & ~(0xffu << sh)) | v << sh;
            nb = n;
        }
        *lo = a;
        *hi = nb == 4 ? b : b | (0xffffffffu >> (8 * nb));
        if (*hi < *lo)
            return 0;
    } else {
        *lo = a;
        *hi = n == 4 ? a : a | (0xffffffffu >> (8 * n));
    }
    *sp = s;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses an IPv6 address or prefix ("2001:db8:1:2", "2001:db8::/32"):
 * without '/', the length is 16 bits per group, or 128 with "::". */
static int ip6_prefix(const char **sp, uint8_t addr[16], unsigned *bits)
{
    const char *s = *sp;
    uint16_t head[8], tail[8];
    int nh = 0, nt = 0, comp = 0;
    memset(addr, 0, 16);
    if (s[0] == ':' && s[1] == ':') {
        comp = 1;
        s += 2;
    }
    for (;;) {
        int d = hexval(*s);
        if (d < 0)
            break;
        unsigned v = 0, digits = 0;
        while ((d = hexval(*s)) >= 0) {
            v = v << 4 | (unsigned)d;
            if (++digits > 4)
                return 0;
            s++;
        }
        if (nh + nt >= 8)
            return 0;
        if (comp)
            tail[nt++] = (uint16_t)v;
        else
            head[nh++] = (uint16_t)v;
        if (*s != ':')
            break;
        if (s[1] == ':') {
            if (comp)
                return 0;
            comp = 1;
            s += 2;
            continue;
        }
        if (hexval(s[1]) < 0)
            break;
        s++;
    }
    if (!nh && !nt && !comp)
        return 0;
    if (comp && nh + nt > 7)
        return 0;
    for (int i = 0; i < nh; i++) {
        addr[2 * i] = (uint8_t)(head[i] >> 8);
        addr[2 * i + 1] = (uint8_t)head[i];
    }
    for (int i = 0; i < nt; i++) {
        int g = 8 - nt + i;
        addr[2 * g] = (uint8_t)(tail[i] >> 8);
        addr[2 * g + 1] = (uint8_t)tail[i];
    }
    unsigned b = comp ? 128 : 16 * (unsigned)nh;
    if (*s == '/') {
        s++;
        if (!parse_bits(&s, 128, &b))
            return 0;
    }
    for (unsigned i = b; i < 128; i++)
        if (addr[i / 8] & (0x80 >> (i % 8)))
            return HOST_BITS;
    *bits = b;
    *sp = s;
    return 1;
}

/* Expands $n variables and the $= base template into st->out; keeps "$$" and "$". */
static const char *expand(pstate_t *st, const char *txt)
{
    char tmp[TXT_MAX];
    const char *src = txt;
    if (st->has_base) {
        if (txt[0] == '=') {
            src = txt + 1;
        } else {
            size_t n = 0;
            for (const char *b = st->base; *b && n < sizeof tmp - 1; b++) {
                if (b[0] == '$' && b[1] == '=') {
                    for (const char *t = txt; *t && n < sizeof tmp - 1; t++)
                        tmp[n++] = *t;
                    b++;
                } else if (b[0] == '$' && b[1] == '$') {
                    tmp[n++] = *b++;
                    if (n < sizeof tmp - 1)
                        tmp[n++] = *b;
                } else {
                    tmp[n++] = *b;
                }
            }
            tmp[n] = 0;
            src = tmp;
        }
    }
    size_t n = 0;
    for (const char *t = src; *t && n < TXT_MAX - 1; t++) {
        if (t[0] == '$' && t[1] == '$') {
            st->out[n++] = *t++;
            if (n < TXT_MAX - 1)
                st->out[n++] = *t;
        } else if (t[0] == '$' && t[1] >= '0' && t[1] <= '9' && st->var_set[t[1] - '0']) {
            for (const char *v = st->vars[t[1] - '0']; *v && n < TXT_MAX - 1; v++)
                st->out[n++] = *v;
            t++;
        } else {
            st->out[n++] = *t;
        }
    }
    st->out[n] = 0;
    return st->out;
}

/* Parses ":A:TXT" or "TXT" (s non-empty) against defaults. */
static int parse_value(pstate_t *st, const char *s, uint8_t *a, const char **txt, char *buf)
{
    *a = st->def_a;
    *txt = st->def_has_txt ? st->def_txt : NULL;
    if (*s != ':') {
        snprintf(buf, TXT_MAX, "%s", s);
        *txt = buf;
        return 0;
    }
    s++;
    const char *e = strchr(s, ':');
    size_t al = e ? (size_t)(e - s) : strlen(s);
    while (al && is_space(s[al - 1]))
        al--;
    while (al && is_space(*s)) {
        s++;
        al--;
    }
    if (al) {
        char ab[32];
        if (al >= sizeof ab) {
            st->msg = "A value must be 127.0.0.x or x";
            return BL_EFIELD;
        }
        memcpy(ab, s, al);
        ab[al] = 0;
        const char *p = ab;
        uint32_t v;
        int n = ip4_octets(&p, &v);
        if (*p || (n != 1 && n != 4) || (n == 4 && (v >> 8) != 0x7f0000)) {
            st->msg = "A value must be 127.0.0.x or x";
            return BL_EFIELD;
        }
        *a = (uint8_t)(n == 1 ? v >> 24 : v & 0xff);
        if (!*a) {
            st->msg = "A value 127.0.0.0 is not a listing";
            return BL_EFIELD;
        }
    }
    if (e) {
        e++;
        while (is_space(*e))
            e++;
        if (*e) {
            snprintf(buf, TXT_MAX, "%s", e);
            *txt = buf;
        } else {
            *txt = NULL;
        }
    }
    return 0;
}

/* Delivers [lo, hi] as its minimal CIDR cover. */
static int emit4(const bl_rbldnsd_sink_t *sink, bl_rbldnsd_rec_t *r, uint32_t lo, uint32_t hi)
{
    uint64_t cur = lo, end = (uint64_t)hi + 1;
    while (cur < end) {
        unsigned len = 32;
        while (len > 0) {
            uint64_t size = 1ull << (32 - (len - 1));
            if ((cur & (size - 1)) || cur + size > end)
                break;
            len--;
        }
        bl_prefix_v4(&r->key, (uint32_t)cur, (uint8_t)len);
        int rc = sink->rec(sink->ctx, r);
        if (rc)
            return rc;
        cur += 1ull << (32 - len);
    }
    return 0;
}

/* A time field: digits with an optional unit (s, m, h, d, w), as rbldnsd's. */
static int parse_time(const char **sp, uint32_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s++ - '0');
        if (++digits > 10)
            return 0;
    }
    if (!digits)
        return 0;
    static const char units[] = "smhdw";
    static const uint32_t mult[] = {1, 60, 3600, 86400, 604800};
    const char *u = *s ? strchr(units, *s | 0x20) : NULL;
    if (u) {
        v *= mult[u - units];
        s++;
    }
    if (v > 0xffffffffu || (*s && !is_space(*s)))
        return 0;
    *out = (uint32_t)v;
    *sp = s;
    return 1;
}

/* Copies the next blank-separated word into out (cap bytes); 0 if none or too long. */
static int word(const char **sp, char *out, size_t cap)
{
    const char *s = *sp;
    while (is_space(*s))
        s++;
    size_t n = 0;
    while (s[n] && !is_space(s[n]))
        n++;
    if (!n || n >= cap)
        return 0;
    memcpy(out, s, n);
    out[n] = 0;
    *sp = s + n;
    return 1;
}

static int next_time(const char **sp, uint32_t *out)
{
    while (is_space(**sp))
        (*sp)++;
    return parse_time(sp, out);
}

/* A $TIMESTAMP value: yyyy[:-]mm[:-]dd[[:-]hh[[:-]mi[[:-]ss]]] in UTC, or
 * "0" / "-" for none (*t = 0). */
static int parse_stamp(const char *w, int64_t *t)
{
    if (!strcmp(w, "0") || !strcmp(w, "-")) {
        *t = 0;
        return 1;
    }
    int f[6] = {0, 0, 0, 0, 0, 0};
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    int nf = 0;
    const char *p = w;
    while (*p && nf < 6) {
        if (nf && (*p == ':' || *p == '-'))
            p++;
        for (int i = 0; i < width[nf]; i++, p++) {
            if (*p < '0' || *p > '9')
                return 0;
            f[nf] = f[nf] * 10 + (*p - '0');
        }
        nf++;
    }
    if (*p || nf < 3 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 ||
        f[5] > 59)
        return 0;
    struct tm tm = {.tm_year = f[0] - 1900,
                    .tm_mon = f[1] - 1,
                    .tm_mday = f[2],
                    .tm_hour = f[3],
                    .tm_min = f[4],
                    .tm_sec = f[5]};
    *t = (int64_t)timegm(&tm);
    return 1;
}

static int directive(pstate_t *st, const char *s)
{
    bl_rbldnsd_meta_t *m = st->meta;
    bl_rbldnsd_meta_t tmp;
    if (!m)
        m = &tmp; /* still checked, so that a bad line is reported either way */
    if (!strncmp(s, "SOA", 3) && is_space(s[3])) {
        s += 3;
        uint32_t ttl, v[5];
        char mn[256], rn[256];
        if (!next_time(&s, &ttl) || !word(&s, mn, sizeof mn) || !word(&s, rn, sizeof rn))
            goto bad;
        for (int i = 0; i < 5; i++)
            if (!next_time(&s, &v[i]))
                goto bad;
        if (m->has_soa)
            return 0; /* only the first $SOA counts */
        m->has_soa = 1;
        m->soa_ttl = ttl;
        snprintf(m->mname, sizeof m->mname, "%s", mn);
        snprintf(m->rname, sizeof m->rname, "%s", rn);
        m->serial = v[0];
        m->refresh = v[1];
        m->retry = v[2];
        m->expire = v[3];
        m->minttl = v[4];
        return 0;
    }
    if (!strncmp(s, "NS", 2) && is_space(s[2])) {
        s += 2;
        uint32_t ttl;
        char n[256];
        if (!next_time(&s, &ttl))
            goto bad;
        int first = !m->has_ns;
        if (first) {
            m->has_ns = 1;
            m->ns_ttl = ttl;
            m->nns = 0;
        }
        while (word(&s, n, sizeof n))
            if (first && n[0] != '-' && m->nns < BL_RBLDNSD_NS_MAX)
                snprintf(m->ns[m->nns++], sizeof m->ns[0], "%s", n);
        while (is_space(*s))
            s++;
        if (*s)
            goto bad; /* a name too long */
        return 0;
    }
    if (!strncmp(s, "TTL", 3) && is_space(s[3])) {
        s += 3;
        if (!next_time(&s, &m->ttl))
            goto bad;
        m->has_ttl = 1;
        return 0;
    }
    if (!strncmp(s, "TIMESTAMP", 9) && is_space(s[9])) {
        s += 9;
        char a[64], b[64];
        int64_t stamp, exp = 0;
        if (!word(&s, a, sizeof a) || !parse_stamp(a, &stamp))
            goto bad;
        if (word(&s, b, sizeof b)) {
            if (b[0] == '+') {
                const char *r = b + 1;
                uint32_t rel;
                if (!parse_time(&r, &rel) || *r || !stamp)
                    goto bad;
                exp = stamp + rel;
            } else if (!parse_stamp(b, &exp)) {
                goto bad;
            }
        }
        m->stamp = stamp;
        m->expires = exp;
        return 0;
    }
    /* $MAXRANGE4, $DATASET and others: not applied */
    return 0;
bad:
    st->msg = "invalid directive";
    return BL_EFIELD;
}

static int special(pstate_t *st, const char *s)
{
    /* s points after '$' */
    if (*s >= '0' && *s <= '9') {
        int d = *s - '0';
        s++;
        while (is_space(*s))
            s++;
        snprintf(st->vars[d], TXT_MAX, "%s", s);
        st->var_set[d] = 1;
    } else if (*s == '=') {
        s++;
        while (is_space(*s))
            s++;
        snprintf(st->base, TXT_MAX, "%s", s);
        st->has_base = 1;
    } else {
        return directive(st, s);
    }
    return 0;
}

static int parse_line(pstate_t *st, char *s, unsigned lineno, const bl_rbldnsd_sink_t *sink)
{
    char vbuf[TXT_MAX];
    while (is_space(*s))
        s++;
    if (!*s)
        return 0;
    if (*s == '$')
        return special(st, s + 1);
    if ((is_comment(*s) || *s == ':') && s[1] == '$')
        return special(st, s + 2);
    if (is_comment(*s))
        return 0;
    int v6 = st->kind == BL_RBLDNSD_IP6TSET || st->kind == BL_RBLDNSD_IP6TRIE;
    if (*s == ':' && !(v6 && s[1] == ':')) { /* "::1" is an IPv6 address */
        if (st->kind == BL_RBLDNSD_IP6TSET && st->have_def)
            return 0; /* rbldnsd: only the first default line counts in ip6tset */
        uint8_t a;
        const char *txt;
        st->def_a = 2;
        st->def_has_txt = 0;
        int rc = parse_value(st, s, &a, &txt, vbuf);
        if (rc)
            return rc;
        st->def_a = a;
        st->def_has_txt = txt != NULL;
        if (txt)
            snprintf(st->def_txt, TXT_MAX, "%s", txt);
        if (txt && st->meta && !st->meta->has_def_txt) {
            st->meta->has_def_txt = 1;
            snprintf(st->meta->def_txt, TXT_MAX, "%s", expand(st, txt));
        }
        st->have_def = 1;
        return 0;
    }
    bl_rbldnsd_rec_t r;
    memset(&r, 0, sizeof r);
    r.line = lineno;
    if (*s == '!') {
        r.excluded = 1;
        s++;
        while (is_space(*s))
            s++;
    }
    const char *p = s;
    uint32_t lo = 0, hi = 0;
    uint8_t a6[16];
    unsigned bits = 0;
    int ok = v6 ? ip6_prefix(&p, a6, &bits)
                : ip4_range(&p, st->kind == BL_RBLDNSD_IP4SET || st->kind == BL_RBLDNSD_IP4TSET,
                            &lo, &hi);
    if (ok == HOST_BITS) {
        st->msg = "invalid range (non-zero host part)";
        return BL_EPREFIX;
    }
    if (!ok || (*p && !is_space(*p) && !is_comment(*p) && *p != ':')) {
        st->msg = "invalid address";
        return BL_EPREFIX;
    }
    if (st->kind == BL_RBLDNSD_IP6TSET && bits != (r.excluded ? 128u : 64u)) {
        st->msg = "ip6tset wants /64 entries and /128 exclusions";
        return BL_EPREFIX;
    }
    while (is_space(*p))
        p++;
    const char *txt = st->def_has_txt ? st->def_txt : NULL;
    r.a = st->def_a;
    int per_entry = st->kind != BL_RBLDNSD_IP4TSET && st->kind != BL_RBLDNSD_IP6TSET;
    if (!r.excluded && per_entry && *p && !is_comment(*p)) {
        int rc = parse_value(st, p, &r.a, &txt, vbuf);
        if (rc)
            return rc;
    }
    r.txt = txt ? expand(st, txt) : NULL;
    if (!v6)
        return emit4(sink, &r, lo, hi);
    r.key.af = BL_AF6;
    r.key.len = (uint8_t)bits;
    memcpy(r.key.addr, a6, 16);
    return sink->rec(sink->ctx, &r);
}

int bl_rbldnsd_parse(const char *text, size_t len, int kind, const bl_rbldnsd_sink_t *sink,
                     unsigned *err_line, const char **err_msg)
{
    static pstate_t zero;
    pstate_t *st = malloc(sizeof *st);
    if (!st)
        return BL_ENOMEM;
    *st = zero;
    st->kind = kind;
    st->def_a = 2;
    st->meta = sink->meta;
    int rc = 0;
    unsigned lineno = 0;
    if (kind < BL_RBLDNSD_IP4SET || kind > BL_RBLDNSD_IP6TRIE) {
        rc = BL_EINVAL;
        goto done;
    }
    char line[LINE_MAX_LEN];
    size_t i = 0;
    while (i < len) {
        lineno++;
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        size_t l = j - i;
        st->msg = NULL;
        if (l >= sizeof line) {
            st->msg = "line too long";
            rc = BL_EFIELD;
        } else {
            memcpy(line, text + i, l);
            line[l] = 0;
            if (memchr(line, 0, l)) {
                st->msg = "NUL byte in line";
                rc = BL_EFIELD;
            }
        }
        i = j + 1;
        int is_bad = rc != 0;
        if (!rc) {
            while (l && (line[l - 1] == '\r' || is_space(line[l - 1])))
                line[--l] = 0;
            rc = parse_line(st, line, lineno, sink);
            is_bad = rc && st->msg; /* the sink's own errors carry no message */
        }
        if (is_bad && sink->bad) {
            if (st->meta)
                st->meta->bad++;
            rc = sink->bad(sink->ctx, lineno, st->msg);
            if (rc)
                goto done;
            continue;
        }
        if (rc) {
            if (!st->msg)
                st->msg = "stopped by the sink";
            goto done;
        }
    }
done:
    if (rc) {
        if (err_line)
            *err_line = lineno;
        if (err_msg)
            *err_msg = st->msg ? st->msg : "invalid argument";
    }
    free(st);
    return rc;
}

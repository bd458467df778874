/* SPDX-License-Identifier: MIT */
/* Parser for rbldnsd data files (ip4set, ip4tset, ip6tset, ip4trie, ip6trie). */
#include "rbldnsd_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"

/*
 * The syntax follows rbldnsd(8) and what rbldnsd 1.0 accepts: one entry per
 * line, '#' and ';' comments, ':A:TXT' default lines, per-entry ':A:TXT' or
 * 'TXT' values, '!' exclusions, '$n' substitution variables and the '$='
 * base template. rbldnsd substitutes those per query from the dataset's
 * first assignment wherever it stands in the file; here every template is
 * built from them after a first pass over the file, with the address left
 * as '$' and every literal dollar as '$$' for the server to expand. ip4set
 * ranges (a.b.c.d-e.f.g.h, prefix forms, suffix ranges) become their
 * minimal CIDR cover. Only blanks and tabs are white space (a CR is data,
 * as in rbldnsd). The input is untrusted: every line is bounded.
 */

#define LINE_MAX_LEN 4096
#define TXT_MAX      BL_RBLDNSD_TXT_MAX
#define RAW_TXT_MAX  255 /* rbldnsd keeps this much of an entry's text */

typedef struct {
    int kind;
    uint32_t def_a;
    int have_def;
    char def_txt[TXT_MAX];
    int def_has_txt;
    char vars[10][TXT_MAX];
    int var_set[10];
    char base[TXT_MAX];
    int has_base;
    uint32_t maxrange; /* $MAXRANGE4: the most addresses an IPv4 entry may cover; 0: any */
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

/* Parses an IPv4 entry into the range [*lo, *hi]. As in rbldnsd, a bare
 * number is not an entry ("10/8" is), and the two ends of a range have as
 * many octets, unless the second is one octet (a suffix). */
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
        if (!nb || (nb != n && nb != 1))
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
        if (n == 1)
            return 0;
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

/* Parses an IPv6 address or prefix ("2001:db8:1:2", "2001:db8::/32";
 * "/len" only with allow_len, as ip6tset has none): without '/', the
 * length is 16 bits per group, or 128 with "::". */
static int ip6_prefix(const char **sp, int allow_len, uint8_t addr[16], unsigned *bits)
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
    if (*s == '/' && allow_len) {
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

/* Appends s to st->out at *n with every '$' doubled (a literal dollar for
 * the server), or the address ('$') when s is NULL. */
static void put_lit(pstate_t *st, size_t *n, const char *s)
{
    if (!s) {
        if (*n < TXT_MAX - 1)
            st->out[(*n)++] = '$';
        return;
    }
    for (; *s && *n < TXT_MAX - 2; s++) {
        st->out[(*n)++] = *s;
        if (*s == '$')
            st->out[(*n)++] = '$';
    }
}

/* The TXT template of an entry whose own (or default) text is txt (NULL:
 * none) as rbldnsd substitutes it per query: '$$' a dollar, '$n' variable n
 * as written (or "$n" when not set), '$=' the entry's text as written (in
 * the base template; the address when the entry has no text; the template
 * itself without one), a leading '=' the entry's own template instead of
 * the base, any other '$' the address. Written into st->out for the server
 * ('$' the address, '$$' a dollar); NULL when the answer has no TXT. */
static const char *expand(pstate_t *st, const char *txt)
{
    const char *tmpl, *sx;
    if (txt && txt[0] == '=') {
        tmpl = sx = txt + 1;
    } else if (st->has_base) {
        tmpl = st->base;
        sx = txt && *txt ? txt : NULL;
    } else if (txt) {
        tmpl = sx = txt;
    } else {
        return NULL;
    }
    size_t n = 0;
    for (const char *t = tmpl; *t && n < TXT_MAX - 2; t++) {
        if (*t != '$') {
            st->out[n++] = *t;
            continue;
        }
        if (t[1] == '$') {
            put_lit(st, &n, "$");
            t++;
        } else if (t[1] >= '0' && t[1] <= '9') {
            int d = t[1] - '0';
            if (st->var_set[d]) {
                put_lit(st, &n, st->vars[d]);
            } else {
                char lit[3] = {'$', t[1], 0};
                put_lit(st, &n, lit);
            }
            t++;
        } else if (t[1] == '=') {
            put_lit(st, &n, sx);
            t++;
        } else {
            put_lit(st, &n, NULL);
        }
    }
    st->out[n] = 0;
    return n ? st->out : NULL;
}

/* Copies an entry's text as rbldnsd keeps it: its first 255 bytes. */
static void raw_txt(char *buf, const char *s)
{
    size_t l = strlen(s);
    if (l > RAW_TXT_MAX)
        l = RAW_TXT_MAX;
    memcpy(buf, s, l);
    buf[l] = 0;
}

/* Parses ":A:TXT", ":A" or "TXT" (s non-empty) against the defaults, as
 * rbldnsd does: the A value follows the colon at once, any IPv4 address in
 * any inet_aton form ("5" and "127.5" are 127.0.0.5, "1.2.3.4" is itself),
 * then blanks and either ':' and the text (none when empty) or the end (the
 * default text). *txt is the raw text (in buf) or NULL. */
static int parse_value(pstate_t *st, const char *s, uint32_t *a, const char **txt, char *buf)
{
    *a = st->def_a;
    *txt = st->def_has_txt ? st->def_txt : NULL;
    if (*s != ':') {
        raw_txt(buf, s);
        *txt = buf;
        return 0;
    }
    s++;
    uint32_t v;
    int n = ip4_octets(&s, &v);
    if (n == 1)
        v >>= 24;
    else if (n == 2)
        v = (v & 0xff000000u) | (v >> 16 & 0xff);
    else if (n == 3)
        v = (v & 0xffff0000u) | (v >> 8 & 0xff);
    if (!n || !v) {
        st->msg = "invalid A RR";
        return BL_EFIELD;
    }
    if (n == 1)
        v |= 0x7f000000u;
    while (is_space(*s))
        s++;
    if (*s && *s != ':') {
        st->msg = "unrecognized value for an entry";
        return BL_EFIELD;
    }
    *a = v;
    if (*s == ':') {
        s++;
        while (is_space(*s))
            s++;
        if (*s) {
            raw_txt(buf, s);
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
    if (!strncasecmp(s, "SOA", 3) && is_space(s[3])) {
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
        m->soa_ttl = ttl ? ttl : m->has_ttl ? m->ttl : 0; /* 0: the $TTL in effect */
        snprintf(m->mname, sizeof m->mname, "%s", mn);
        snprintf(m->rname, sizeof m->rname, "%s", rn);
        m->serial = v[0];
        m->refresh = v[1];
        m->retry = v[2];
        m->expire = v[3];
        m->minttl = v[4];
        return 0;
    }
    if (!strncasecmp(s, "NS", 2) && is_space(s[2])) {
        s += 2;
        uint32_t ttl;
        char n[256];
        if (!next_time(&s, &ttl))
            goto bad;
        int first = !m->has_ns;
        if (first) {
            m->has_ns = 1;
            m->ns_ttl = ttl ? ttl : m->has_ttl ? m->ttl : 0;
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
    if (!strncasecmp(s, "TTL", 3) && is_space(s[3])) {
        s += 3;
        if (!next_time(&s, &m->ttl))
            goto bad;
        m->has_ttl = 1;
        return 0;
    }
    if (!strncasecmp(s, "TIMESTAMP", 9) && is_space(s[9])) {
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
    if (!strncasecmp(s, "MAXRANGE4", 9) && is_space(s[9])) {
        /* "$MAXRANGE4 256" or "/24": IPv4 entries covering more addresses
         * are skipped from here on; it may shrink, never grow */
        s += 9;
        while (is_space(*s))
            s++;
        int cidr = *s == '/';
        uint64_t v = 0;
        unsigned digits = 0;
        for (s += cidr; *s >= '0' && *s <= '9'; s++)
            if (++digits > 10 || (v = v * 10 + (uint64_t)(*s - '0')) > (cidr ? 32u : 0xffffffffu))
                goto bad;
        if (!digits || *s || !v)
            goto bad;
        uint32_t r = cidr ? (v == 32 ? 1u : 1u << (32 - v)) : (uint32_t)v;
        if (!st->maxrange || r < st->maxrange)
            st->maxrange = r;
        return 0;
    }
    /* $DATASET (only for rbldnsd's combined type) and others: not applied */
    return 0;
bad:
    st->msg = "invalid directive";
    return BL_EFIELD;
}

/* A "$n text" or "$= text" line (s after '$'): the first assignment of
 * each counts, wherever it stands (rbldnsd substitutes per query); the text
 * must not be empty. Returns 1 when s is such a line. */
static int subst_var(pstate_t *st, const char *s)
{
    if (!((*s >= '0' && *s <= '9') || *s == '=') || !is_space(s[1]))
        return 0;
    char *dst = *s == '=' ? st->base : st->vars[*s - '0'];
    int *set = *s == '=' ? &st->has_base : &st->var_set[*s - '0'];
    const char *v = s + 2;
    while (is_space(*v))
        v++;
    if (!*set && *v) {
        snprintf(dst, TXT_MAX, "%s", v);
        *set = 1;
    }
    return 1;
}

static int special(pstate_t *st, const char *s)
{
    /* s points after '$'; substitution variables were read by the first pass */
    if (((*s >= '0' && *s <= '9') || *s == '=') && is_space(s[1]))
        return 0;
    return directive(st, s);
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
    int tset = st->kind == BL_RBLDNSD_IP4TSET || st->kind == BL_RBLDNSD_IP6TSET;
    if (*s == ':' && !(v6 && s[1] == ':')) { /* "::1" is an IPv6 address */
        if (tset && st->have_def)
            return 0; /* rbldnsd: only the first default line counts in a tset */
        uint32_t a, old_a = st->def_a;
        int old_has = st->def_has_txt;
        const char *txt;
        /* ":A" alone takes the built-in default's text: none */
        st->def_a = BL_RBLDNSD_DEF_A;
        st->def_has_txt = 0;
        int rc = parse_value(st, s, &a, &txt, vbuf);
        if (rc) {
            st->def_a = old_a; /* a bad default line changes nothing */
            st->def_has_txt = old_has;
            return rc;
        }
        st->def_a = a;
        st->def_has_txt = txt != NULL;
        if (txt)
            snprintf(st->def_txt, TXT_MAX, "%s", txt);
        const char *t = expand(st, txt);
        if (t && st->meta && !st->meta->has_def_txt) {
            st->meta->has_def_txt = 1;
            snprintf(st->meta->def_txt, TXT_MAX, "%s", t);
        }
        st->have_def = 1;
        return 0;
    }
    bl_rbldnsd_rec_t r;
    memset(&r, 0, sizeof r);
    r.line = lineno;
    if (*s == '!' && st->kind != BL_RBLDNSD_IP4TSET) { /* ip4tset has no exclusions */
        r.excluded = 1;
        s++;
        while (is_space(*s))
            s++;
    }
    const char *p = s;
    uint32_t lo = 0, hi = 0;
    uint8_t a6[16];
    unsigned bits = 0;
    int ok;
    if (st->kind == BL_RBLDNSD_IP4TSET) /* whole addresses only */
        ok = ip4_octets(&p, &lo) == 4 && (hi = lo, 1);
    else if (v6)
        ok = ip6_prefix(&p, st->kind == BL_RBLDNSD_IP6TRIE, a6, &bits);
    else
        ok = ip4_range(&p, st->kind == BL_RBLDNSD_IP4SET, &lo, &hi);
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
    if (!v6 && st->maxrange && hi - lo >= st->maxrange) {
        st->msg = "too large range ($MAXRANGE4)";
        return BL_EPREFIX;
    }
    while (is_space(*p))
        p++;
    const char *txt = st->def_has_txt ? st->def_txt : NULL;
    r.a4 = st->def_a;
    if (!r.excluded && !tset && *p && !is_comment(*p)) {
        int rc = parse_value(st, p, &r.a4, &txt, vbuf);
        if (rc)
            return rc;
    }
    r.txt = expand(st, txt);
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
    st->def_a = BL_RBLDNSD_DEF_A;
    st->meta = sink->meta;
    int rc = 0;
    unsigned lineno = 0;
    if (kind < BL_RBLDNSD_IP4SET || kind > BL_RBLDNSD_IP6TRIE) {
        rc = BL_EINVAL;
        goto done;
    }
    char line[LINE_MAX_LEN];
    /* first pass: the substitution variables, which apply to the whole file */
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        size_t l = j - i;
        if (l < sizeof line) {
            memcpy(line, text + i, l);
            line[l] = 0;
            while (l && is_space(line[l - 1]))
                line[--l] = 0;
            const char *s = line;
            while (is_space(*s))
                s++;
            if (*s == '$')
                subst_var(st, s + 1);
            else if ((is_comment(*s) || *s == ':') && s[1] == '$')
                subst_var(st, s + 2);
        }
        i = j + 1;
    }
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
            while (l && is_space(line[l - 1]))
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

/* SPDX-License-Identifier: MIT */
/* DNSBL query parsing and answer building (RFC 1034/1035/5782/6891): pure functions, no I/O. */
#include "dns.h"

#include <stdio.h>
#include <string.h>

#include "rd.h"

/*
 * Every byte of a query is untrusted: it is read through bl_rd_t, names are
 * bounded to 255 bytes and 127 labels, compression pointers are refused in
 * the question (no legitimate client compresses a lone QNAME), and the
 * answer is built in the caller's buffer with explicit bounds. The answer
 * owner names point back at the question (offset 12), so the query's case
 * is preserved without copying it.
 */

#define T_A    1
#define T_NS   2
#define T_SOA  6
#define T_TXT  16
#define T_OPT  41
#define T_IXFR 251
#define T_AXFR 252
#define T_ANY  255
#define C_IN   1
#define C_CH   3
#define C_ANY  255

#define F_QR 0x8000
#define F_AA 0x0400
#define F_TC 0x0200
#define F_RD 0x0100
#define F_CD 0x0010

#define OPT_LEN  11
#define OPT_NSID 3 /* RFC 5001 */

typedef struct {
    uint16_t id, flags, qtype, qclass;
    const uint8_t *qname; /* points into the query */
    unsigned qname_len;
    uint8_t lab_off[128]; /* label offsets inside qname */
    unsigned nlab;
    int has_opt;
    uint16_t opt_payload;
    uint8_t opt_version;
    uint16_t opt_flags; /* DO bit */
    int nsid;           /* the OPT record asks for the NSID */
    int zone_known;     /* zone and zi already found (a batch's first pass) */
    mirror_zone_t *zone;
    int zi;
} query_t;

/* A bounded writer over the answer buffer. */
typedef struct {
    uint8_t *b;
    size_t n, lim;
    int over;
} w_t;

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint8_t lc(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

unsigned mirror_dns_name_to_wire(const char *name, uint8_t wire[256], unsigned *nlabels)
{
    unsigned n = 0, labs = 0;
    const char *p = name;
    if (!strcmp(p, ".") || !*p) {
        wire[0] = 0;
        if (nlabels)
            *nlabels = 0;
        return 1;
    }
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || n + 1 + l + 1 > 255)
            return 0;
        wire[n++] = (uint8_t)l;
        for (size_t i = 0; i < l; i++)
            wire[n++] = lc((uint8_t)p[i]);
        labs++;
        if (!dot)
            break;
        p = dot + 1;
    }
    wire[n++] = 0;
    if (nlabels)
        *nlabels = labs;
    return n;
}

size_t mirror_dns_txt_expand(const char *t, const char *addr, char *out)
{
    size_t n = 0, al = strlen(addr);
    const size_t max = 254;
    for (; *t && n < max; t++) {
        if (*t != '$') {
            out[n++] = *t;
            continue;
        }
        if (t[1] == '$') {
            out[n++] = '$';
            t++;
            continue;
        }
        size_t l = al < max - n ? al : max - n;
        memcpy(out + n, addr, l);
        n += l;
    }
    return n;
}

/* A query parse() cannot read: FORMERR, or NOTIMP for an opcode other than
 * QUERY, header only (no question, no OPT). */
static int unreadable(query_t *x, int notimp)
{
    x->has_opt = 0;
    x->qname_len = 0;
    return notimp ? MIRROR_RC_NOTIMP : MIRROR_RC_FORMERR;
}

/* One resource record of a query's authority or additional section. */
typedef struct {
    uint16_t type, cls, rdlen;
    uint32_t ttl;
    const uint8_t *rdata;
    int root; /* the owner is the root */
} rr_t;

/* Reads one resource record at rd into *rr (its owner name is skipped:
 * labels, a pointer ends it); returns -1 when it does not read. */
static int read_rr(bl_rd_t *rd, rr_t *rr)
{
    rr->root = 1;
    for (unsigned hops = 0;; hops++) {
        uint8_t l = bl_rd_u8(rd);
        if (bl_rd_err(rd) || hops > 127)
            return -1;
        if (l == 0)
            break;
        rr->root = 0;
        if ((l & 0xc0) == 0xc0) {
            bl_rd_u8(rd);
            break;
        }
        if (l & 0xc0)
            return -1;
        bl_rd_ptr(rd, l);
    }
    rr->type = bl_rd_u16be(rd);
    rr->cls = bl_rd_u16be(rd);
    rr->ttl = bl_rd_u32be(rd);
    rr->rdlen = bl_rd_u16be(rd);
    rr->rdata = bl_rd_ptr(rd, rr->rdlen);
    return bl_rd_err(rd) ? -1 : 0;
}

/* Parses the question, an IXFR's authority section and the additional
 * section; returns an rcode, or -1 to drop. An opcode other than QUERY is
 * NOTIMP; when the rest reads as a query, its question and OPT record are
 * kept for the answer (RFC 6891 7: an OPT in the request, an OPT in the
 * response). */
static int parse(const uint8_t *q, size_t qlen, query_t *x)
{
    bl_rd_t rd;
    bl_rd_init(&rd, q, qlen);
    x->id = bl_rd_u16be(&rd);
    x->flags = bl_rd_u16be(&rd);
    uint16_t qd = bl_rd_u16be(&rd), an = bl_rd_u16be(&rd), ns = bl_rd_u16be(&rd),
             ar = bl_rd_u16be(&rd);
    if (bl_rd_err(&rd))
        return -1;
    if (x->flags & F_QR)
        return -1;
    int notimp = ((x->flags >> 11) & 0xf) != 0;
    if (qd != 1 || an != 0)
        return unreadable(x, notimp);
    x->qname = rd.p;
    x->nlab = 0;
    for (;;) {
        size_t off = bl_rd_off(&rd) - 12;
        uint8_t l = bl_rd_u8(&rd);
        if (bl_rd_err(&rd) || (l & 0xc0))
            return unreadable(x, notimp); /* truncated, pointer or extended label */
        if (l == 0)
            break;
        if (x->nlab >= 127 || !bl_rd_ptr(&rd, l))
            return unreadable(x, notimp);
        x->lab_off[x->nlab++] = (uint8_t)off;
        if (bl_rd_off(&rd) - 12 > 254)
            return unreadable(x, notimp);
    }
    x->qname_len = (unsigned)(bl_rd_off(&rd) - 12);
    x->qtype = bl_rd_u16be(&rd);
    x->qclass = bl_rd_u16be(&rd);
    if (bl_rd_err(&rd))
        return unreadable(x, notimp);
    x->has_opt = 0;
    rr_t rr;
    /* only an IXFR query has an authority section: the client's SOA (RFC
     * 1995 3), skipped (transfers are refused) */
    if (ns && x->qtype != T_IXFR)
        return unreadable(x, notimp);
    for (unsigned i = 0; i < ns; i++)
        if (read_rr(&rd, &rr) || rr.type == T_OPT)
            return unreadable(x, notimp);
    for (unsigned i = 0; i < ar; i++) {
        if (read_rr(&rd, &rr))
            return unreadable(x, notimp);
        if (rr.type != T_OPT)
            continue; /* TSIG and friends: not supported, ignored */
        if (!rr.root || x->has_opt)
            return unreadable(x, notimp); /* RFC 6891 6.1.1 */
        bl_rd_t o;
        bl_rd_init(&o, rr.rdata, rr.rdlen);
        while (bl_rd_left(&o) > 0) {
            uint16_t code = bl_rd_u16be(&o);
            bl_rd_ptr(&o, bl_rd_u16be(&o));
            if (code == OPT_NSID && !bl_rd_err(&o))
                x->nsid = 1;
        }
        if (bl_rd_err(&o))
            return unreadable(x, notimp);
        x->has_opt = 1;
        x->opt_payload = rr.cls < 512 ? 512 : rr.cls;
        x->opt_version = (uint8_t)(rr.ttl >> 16);
        x->opt_flags = (uint16_t)rr.ttl & 0x8000;
    }
    return notimp ? MIRROR_RC_NOTIMP : 0;
}

/* Finds the zone the qname lies in (longest match), and its index in the
 * context's zones in *zi (-1: none). */
static mirror_zone_t *find_zone(const mirror_dns_ctx_t *c, const query_t *x, int *zi)
{
    mirror_zone_t *best = NULL;
    *zi = -1;
    for (size_t i = 0; i < c->nzones; i++) {
        mirror_zone_t *z = c->zones[i];
        if (z->nlabels > x->nlab || (best && z->nlabels <= best->nlabels))
            continue;
        unsigned off = z->nlabels == x->nlab ? 0 : x->lab_off[x->nlab - z->nlabels];
        unsigned len = x->qname_len - off;
        if (len != z->wire_len)
            continue;
        const uint8_t *p = x->qname + off;
        unsigned j = 0;
        while (j < len && lc(p[j]) == z->wire[j])
            j++;
        if (j == len) {
            best = z;
            *zi = (int)i;
        }
    }
    return best;
}

static int label_num(const uint8_t *l, unsigned *v)
{
    unsigned n = l[0];
    if (n == 0 || n > 3 || (n > 1 && l[1] == '0'))
        return 0;
    unsigned r = 0;
    for (unsigned i = 1; i <= n; i++) {
        if (l[i] < '0' || l[i] > '9')
            return 0;
        r = r * 10 + (unsigned)(l[i] - '0');
    }
    if (r > 255)
        return 0;
    *v = r;
    return 1;
}

static int label_nibble(const uint8_t *l, unsigned *v)
{
    if (l[0] != 1)
        return 0;
    uint8_t ch = lc(l[1]);
    if (ch >= '0' && ch <= '9')
        *v = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f')
        *v = (unsigned)(ch - 'a' + 10);
    else
        return 0;
    return 1;
}

typedef enum { N_APEX, N_V4, N_V6, N_ENT, N_NONE } nkind_t;

/* Classifies the labels below the zone: a full address, an empty
 * non-terminal on the way to one, or nothing. */
static nkind_t classify(const query_t *x, unsigned sub, uint32_t *a4, uint8_t a6[16])
{
    if (sub == 0)
        return N_APEX;
    int v4 = sub <= 4, v6 = sub <= 32;
    uint32_t addr = 0;
    memset(a6, 0, 16);
    for (unsigned i = 0; i < sub && (v4 || v6); i++) {
        const uint8_t *l = x->qname + x->lab_off[i];
        unsigned v;
        if (v4) {
            if (label_num(l, &v))
                addr |= v << (8 * i);
            else
                v4 = 0;
        }
        if (v6) {
            if (label_nibble(l, &v)) {
                unsigned k = 31 - i; /* nibble index from the most significant */
                a6[k / 2] |= (uint8_t)(k % 2 ? v : v << 4);
            } else {
                v6 = 0;
            }
        }
    }
    *a4 = addr;
    if (v4 && sub == 4)
        return N_V4;
    if (v6 && sub == 32)
        return N_V6;
    if (v4 || v6)
        return N_ENT;
    return N_NONE;
}

/* The address text for '$' (only built for TXT answers). */
static void fmt_addr4(uint32_t a, char *out)
{
    snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* RFC 5952, as rbldnsd writes it: lower-case hex without leading zeros, the
 * longest run of two or more zero groups (the first on a tie) as "::", and
 * no dotted IPv4 tail (::ffff:7f00:2). */
void mirror_dns_fmt_addr6(const uint8_t a[16], char *out)
{
    unsigned g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)(a[2 * i] << 8 | a[2 * i + 1]);
    int best = -1, blen = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && !g[j])
            j++;
        if (j - i > blen) {
            best = i;
            blen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    char *p = out;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += blen - 1;
            continue;
        }
        if (i > 0 && !(best >= 0 && i == best + blen))
            *p++ = ':';
        p += sprintf(p, "%x", g[i]);
    }
    *p = 0;
}

static int qtype_idx(uint16_t t)
{
    switch (t) {
    case T_A:
        return MIRROR_QT_A;
    case 28:
        return MIRROR_QT_AAAA;
    case T_TXT:
        return MIRROR_QT_TXT;
    case T_SOA:
        return MIRROR_QT_SOA;
    case T_NS:
        return MIRROR_QT_NS;
    case T_ANY:
        return MIRROR_QT_ANY;
    default:
        return MIRROR_QT_OTHER;
    }
}

size_t mirror_dns_answer(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen, uint8_t *out,
                         size_t cap, int tcp, int *rcode_out)
{
    mirror_dns_info_t info;
    size_t n = mirror_dns_answer_ex(c, q, qlen, out, cap, tcp, &info);
    if (rcode_out)
        *rcode_out = info.rcode;
    return n;
}

/* Issues a prefetch stage for addr in every index of d (a zone of several
 * feeds or files asks each one). */
static void prefetch_all(const mirror_zdata_t *d, uint32_t addr, int stage)
{
    for (size_t i = 0; i <= d->nmore; i++)
        mirror_index_prefetch4(i ? d->more[i - 1] : d->ix, addr, stage);
}

/* A batch's first pass over a parsed query: finds its zone (kept for the
 * answer) and, for an IPv4 address in it, issues stage 0 and returns the
 * data version to issue stage 1 in (NULL for any other query). */
static const mirror_zdata_t *prefetch_data(const mirror_dns_ctx_t *c, query_t *x, uint32_t *addr)
{
    x->zone = find_zone(c, x, &x->zi);
    x->zone_known = 1;
    mirror_zone_t *z = x->zone;
    if (!z || x->nlab != z->nlabels + 4)
        return NULL;
    mirror_zdata_t *d = atomic_load_explicit(&z->data, memory_order_acquire);
    uint8_t a6[16];
    if (!d || classify(x, 4, addr, a6) != N_V4)
        return NULL;
    prefetch_all(d, *addr, 0);
    return d;
}

static int prefetch_hint(const mirror_dns_ctx_t *c, query_t *x, const mirror_index_t **ix,
                         uint32_t *addr)
{
    const mirror_zdata_t *d = prefetch_data(c, x, addr);
    if (d)
        *ix = d->ix;
    return d != NULL;
}

int mirror_dns_prefetch(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen,
                        const mirror_index_t **ix, uint32_t *addr)
{
    query_t x;
    memset(&x, 0, sizeof x);
    if (parse(q, qlen, &x) != 0)
        return 0;
    return prefetch_hint(c, &x, ix, addr);
}

static size_t answer(const mirror_dns_ctx_t *c, const query_t *x, int rc, uint8_t *out, size_t cap,
                     int tcp, const mirror_ip_t *peer, mirror_dns_info_t *info);

size_t mirror_dns_answer_ex(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen, uint8_t *out,
                            size_t cap, int tcp, mirror_dns_info_t *info)
{
    query_t x;
    memset(&x, 0, sizeof x);
    int rc = parse(q, qlen, &x);
    return answer(c, &x, rc, out, cap, tcp, c->peer, info);
}

void mirror_dns_answer_batch(const mirror_dns_ctx_t *c, mirror_dns_job_t *jobs, size_t n,
                             size_t cap)
{
    enum { CHUNK = 64, AHEAD = MIRROR_DNS_PREFETCH_AHEAD };
    for (size_t b = 0; b < n; b += CHUNK) {
        size_t m = n - b < CHUNK ? n - b : CHUNK;
        mirror_dns_job_t *j = jobs + b;
        query_t x[CHUNK];
        int rc[CHUNK];
        const mirror_zdata_t *pd[CHUNK];
        uint32_t pa[CHUNK];
        for (size_t i = 0; i < m; i++) {
            memset(&x[i], 0, sizeof x[i]);
            rc[i] = parse(j[i].q, j[i].qlen, &x[i]);
            pd[i] = m == 1 || rc[i] != 0 ? NULL : prefetch_data(c, &x[i], &pa[i]);
        }
        for (size_t i = 0; i < AHEAD && i < m; i++)
            if (pd[i])
                prefetch_all(pd[i], pa[i], 1);
        for (size_t i = 0; i < m; i++) {
            if (i + AHEAD < m && pd[i + AHEAD])
                prefetch_all(pd[i + AHEAD], pa[i + AHEAD], 1);
            j[i].len = answer(c, &x[i], rc[i], j[i].out, cap, 0, &j[i].peer, &j[i].info);
        }
    }
}

/* ---- Building the answer ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Reserves n bytes at the writer's end: returns where they go, or NULL
 * (and marks the writer over) when they do not fit. */
static uint8_t *w_take(w_t *w, size_t n)
{
    if (w->over || w->n + n > w->lim) {
        w->over = 1;
        return NULL;
    }
    uint8_t *p = w->b + w->n;
    w->n += n;
    return p;
}

/* Writes one resource record of class IN, all or nothing: its owner (a
 * compression pointer), type, class, TTL and data length, and reserves rdlen
 * bytes for the data. Returns where the data goes, or NULL when the record
 * does not fit. */
static uint8_t *w_rr(w_t *w, uint16_t owner, uint16_t type, uint32_t ttl, size_t rdlen)
{
    uint8_t *p = w_take(w, 12 + rdlen);
    if (!p)
        return NULL;
    put_u16(p, owner);
    put_u16(p + 2, type);
    put_u16(p + 4, C_IN);
    put_u32(p + 6, ttl);
    put_u16(p + 10, (uint16_t)rdlen);
    return p + 12;
}

/* The zone's SOA record, owned by the zone's name at offset zoff, from the
 * data's settings (ap, rbldnsd files) or else the zone's; returns 0 when it
 * does not fit. */
static int w_soa(w_t *w, const mirror_zone_t *z, const mirror_apex_t *ap, uint16_t zoff,
                 uint64_t serial, uint32_t ttl)
{
    const uint8_t *mn = ap ? ap->mname : z->mname, *rn = ap ? ap->rname : z->rname;
    unsigned ml = ap ? ap->mname_len : z->mname_len, rl = ap ? ap->rname_len : z->rname_len;
    uint8_t *p = w_rr(w, (uint16_t)(0xc000 | zoff), T_SOA, ttl, ml + rl + 20);
    if (!p)
        return 0;
    memcpy(p, mn, ml);
    p += ml;
    memcpy(p, rn, rl);
    p += rl;
    put_u32(p, (uint32_t)serial);
    put_u32(p + 4, ap ? ap->refresh : z->refresh);
    put_u32(p + 8, ap ? ap->retry : z->retry);
    put_u32(p + 12, ap ? ap->expire : z->expire);
    put_u32(p + 16, ap ? ap->neg_ttl : z->neg_ttl);
    return 1;
}

/* TTLs of answers, SOA/NS records and negative answers: the data's
 * (rbldnsd files) or else the zone's. */
static uint32_t ttl_of(const mirror_zone_t *z, const mirror_zdata_t *d)
{
    return d->apex ? d->apex->ttl : z->ttl;
}
static uint32_t soa_ttl_of(const mirror_zone_t *z, const mirror_zdata_t *d)
{
    return d->apex ? d->apex->soa_ttl : z->soa_ttl;
}
static uint32_t neg_ttl_of(const mirror_zone_t *z, const mirror_zdata_t *d)
{
    return d->apex ? d->apex->neg_ttl : z->neg_ttl;
}

static void w_question(w_t *w, const query_t *x)
{
    uint8_t *p = w_take(w, x->qname_len + 4);
    if (!p)
        return;
    memcpy(p, x->qname, x->qname_len);
    put_u16(p + x->qname_len, x->qtype);
    put_u16(p + x->qname_len + 2, x->qclass);
}

/* The size of the OPT record that answers x: with the NSID option when x
 * asks for it and one is configured (RFC 5001). */
static size_t opt_size(const mirror_dns_ctx_t *c, const query_t *x)
{
    return OPT_LEN + (x->nsid && c->nsid ? 4u + c->nsid_len : 0u);
}

/* The OPT record (RFC 6891): our payload size, the upper rcode bits, the
 * query's DO bit and the NSID when asked for. */
static void w_opt(w_t *w, const mirror_dns_ctx_t *c, const query_t *x, unsigned ext_rc)
{
    uint16_t payload = c->udp_max, do_bit = x->opt_flags;
    size_t n = opt_size(c, x);
    uint8_t *p = w_take(w, n);
    if (!p)
        return;
    if (n > OPT_LEN) {
        put_u16(p + OPT_LEN, OPT_NSID);
        put_u16(p + OPT_LEN + 2, c->nsid_len);
        memcpy(p + OPT_LEN + 4, c->nsid, c->nsid_len);
    }
    p[0] = 0; /* root owner */
    put_u16(p + 1, T_OPT);
    put_u16(p + 3, payload);
    p[5] = (uint8_t)ext_rc;
    p[6] = 0;
    put_u16(p + 7, do_bit);
    put_u16(p + 9, (uint16_t)(n - OPT_LEN));
}

static uint32_t min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* A response being built: the writer over the caller's buffer and what
 * goes into the header. */
typedef struct {
    w_t w;
    uint16_t flags;
    int rc;          /* header rcode */
    unsigned ext_rc; /* upper rcode bits, in OPT (BADVERS) */
    unsigned qd, an, ns;
    int opt;                 /* an OPT record ends the response */
    int listed;              /* an answer record says "listed" */
    int zi;                  /* the query's zone in the context's zones, -1 if none */
    const mirror_ip_t *peer; /* the client, for the ACLs (NULL: none apply) */
    int denied;              /* an ACL's verdict (MIRROR_ACL_REFUSE, _DROP) or 0 */
} resp_t;

/* Starts the response to a query parse() returned rc for: how much it may
 * take (TCP: cap and 65535; UDP: 512, or the EDNS payload up to udp_max). */
static void resp_init(resp_t *r, const mirror_dns_ctx_t *c, const query_t *x, int rc, uint8_t *out,
                      size_t cap, int tcp)
{
    if (cap > 65535)
        cap = 65535;
    size_t lim = cap;
    if (!tcp) {
        size_t udp = 512;
        if (rc == 0 && x->has_opt)
            udp = x->opt_payload < c->udp_max ? x->opt_payload : c->udp_max;
        if (udp < 512)
            udp = 512;
        if (udp < lim)
            lim = udp;
    }
    r->w = (w_t){out, 12, lim, 0};
    /* RD and CD are defined for QUERY only: other opcodes get them clear */
    r->flags = F_QR | (x->flags & ((x->flags & 0x7800) ? 0x7800 : (0x7800 | F_RD | F_CD)));
    r->rc = rc;
    r->ext_rc = 0;
    /* FORMERR from parse(): header only, the question may be what was
     * malformed; NOTIMP: the question and OPT when they read */
    r->qd = rc == 0 || (rc == MIRROR_RC_NOTIMP && x->qname_len);
    r->an = r->ns = 0;
    r->opt = r->qd && x->has_opt;
    r->listed = 0;
    r->zi = -1;
    r->peer = NULL;
    r->denied = 0;
}

/* Whether a well-formed query of any class asks for something it may: 0,
 * or 1 with the rcode of a header and question response set in r (BADVERS
 * for an EDNS version other than 0, RFC 6891 6.1.3; FORMERR for QTYPE OPT). */
static int edns_or_qtype_error(const query_t *x, resp_t *r)
{
    if (x->has_opt && x->opt_version != 0) {
        r->ext_rc = 1; /* BADVERS = 16: upper bits in OPT, header rcode 0 */
        return 1;
    }
    if (x->qtype == T_OPT) {
        r->rc = MIRROR_RC_FORMERR;
        return 1;
    }
    return 0;
}

/* Whether a well-formed query can be answered from a zone: returns the
 * zone's data (*zp the zone), or NULL with the rcode of a header and
 * question response set in r. */
static const mirror_zdata_t *admit(const mirror_dns_ctx_t *c, const query_t *x, resp_t *r,
                                   const mirror_zone_t **zp)
{
    if (edns_or_qtype_error(x, r))
        return NULL;
    if (x->qclass != C_IN && x->qclass != C_ANY) {
        r->rc = MIRROR_RC_REFUSED;
        return NULL;
    }
    const mirror_zone_t *z = x->zone_known ? x->zone : find_zone(c, x, &r->zi);
    if (x->zone_known)
        r->zi = x->zi;
    if (!z || x->qtype == T_AXFR || x->qtype == T_IXFR) {
        r->rc = MIRROR_RC_REFUSED;
        return NULL;
    }
    if (r->peer) {
        int v = mirror_acl_check(atomic_load_explicit(&z->acl, memory_order_acquire), r->peer);
        if (v != MIRROR_ACL_ALLOW) {
            r->denied = v;
            r->rc = MIRROR_RC_REFUSED;
            return NULL;
        }
    }
    *zp = z;
    const mirror_zdata_t *d = atomic_load_explicit(&z->data, memory_order_acquire);
    if (!d)
        r->rc = MIRROR_RC_SERVFAIL;
    return d;
}

/* The zone's apex: its SOA (SOA, ANY) or NS records. Returns 1 when there
 * is no such record (NODATA: the SOA goes into the authority section). */
static int answer_apex(resp_t *r, const query_t *x, const mirror_zone_t *z, const mirror_zdata_t *d,
                       uint16_t zoff)
{
    if (x->qtype == T_SOA || x->qtype == T_ANY) {
        w_soa(&r->w, z, d->apex, zoff, d->serial, soa_ttl_of(z, d));
        r->an++;
        return 0;
    }
    const mirror_apex_t *ap = d->apex;
    unsigned nns = ap ? ap->nns : z->nns;
    if (x->qtype != T_NS || !nns)
        return 1;
    for (unsigned i = 0; i < nns; i++) {
        unsigned l = ap ? ap->ns_len[i] : z->ns_len[i];
        uint8_t *p = w_rr(&r->w, (uint16_t)(0xc000 | zoff), T_NS, soa_ttl_of(z, d), l);
        if (p)
            memcpy(p, ap ? ap->ns[i] : z->ns[i], l);
        r->an++;
    }
    return 0;
}

/* RFC 5782's test addresses, answered whatever the data holds: 2 for
 * 127.0.0.2 and ::ffff:127.0.0.2 (listed), 1 for ...1 (not listed), else 0. */
static int test_addr(nkind_t k, uint32_t a4, const uint8_t a6[16])
{
    if (k == N_V4)
        return a4 == 0x7f000002u ? 2 : a4 == 0x7f000001u ? 1 : 0;
    static const uint8_t t6[15] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0, 0};
    if (!memcmp(a6, t6, 15) && (a6[15] == 2 || a6[15] == 1))
        return a6[15];
    return 0;
}

/* 127.0.0.2's TXT when the data gives it none (RFC 5782 wants one). */
#define TEST_TXT "Test entry (RFC 5782): $ is always listed"

/* The TXT template of a listed address (NULL: no TXT record); test: the
 * address is 127.0.0.2, which always gets one. */
static const char *txt_template(const mirror_zone_t *z, const mirror_zdata_t *d,
                                const mirror_hit_t *hit, int test)
{
    const char *t;
    if (d->txt_exact)
        t = hit->reason < d->ntxt ? d->txt[hit->reason] : NULL;
    else if (hit->reason < z->nreason && z->reason_txt[hit->reason])
        t = z->reason_txt[hit->reason];
    else
        t = z->default_txt;
    if (t || !test)
        return t;
    t = d->test_txt ? d->test_txt : z->default_txt;
    return t ? t : TEST_TXT;
}

/* The sub labels below the zone are all one hex digit. */
static int all_nibbles(const query_t *x, unsigned sub)
{
    int all = 1;
    for (unsigned i = 0; i < sub; i++) {
        unsigned v;
        all &= label_nibble(x->qname + x->lab_off[i], &v);
    }
    return all;
}

/* Whether the sub labels below the zone are the reverse name of an IPv4
 * prefix (up to 3 labels) or an IPv6 nibble prefix (up to 31) that covers
 * or holds a listed entry of the data: an empty non-terminal (resolvers
 * minimising QNAMEs walk through them) rather than a name that does not
 * exist. Only on negative answers. */
static int is_ent(const mirror_zdata_t *d, const query_t *x, unsigned sub)
{
    bl_prefix_t p4, p6;
    memset(&p6, 0, sizeof p6);
    int v4 = sub < 4, v6 = sub < 32;
    uint32_t a = 0;
    for (unsigned i = 0; i < sub && (v4 || v6); i++) {
        const uint8_t *l = x->qname + x->lab_off[i];
        unsigned v, k = sub - 1 - i; /* place from the most significant */
        if (v4 && label_num(l, &v))
            a |= v << (8 * (3 - k));
        else
            v4 = 0;
        if (v6 && label_nibble(l, &v))
            p6.addr[k / 2] |= (uint8_t)(k % 2 ? v : v << 4);
        else
            v6 = 0;
    }
    bl_prefix_v4(&p4, a, (uint8_t)(8 * sub));
    p6.af = BL_AF6;
    p6.len = (uint8_t)(4 * sub);
    /* the RFC 5782 test entries are always there */
    static const bl_prefix_t t4 = {.af = BL_AF4, .len = 32, .addr = {127, 0, 0, 2}};
    static const bl_prefix_t t6 = {
        .af = BL_AF6, .len = 128, .addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}};
    if ((v4 && bl_prefix_contains(&p4, &t4)) || (v6 && bl_prefix_contains(&p6, &t6)))
        return 1;
    for (size_t i = 0; i <= d->nmore; i++) {
        const mirror_index_t *ix = i ? d->more[i - 1] : d->ix;
        if ((v4 && mirror_index_overlaps(ix, &p4)) || (v6 && mirror_index_overlaps(ix, &p6)))
            return 1;
    }
    return 0;
}

/* Looks an address up in every index of the data but the frozen ones (bit
 * i of frozen): fills hits[] with the ones that list it, each with its
 * source's A value where it has one, and returns how many. */
static int lookup_all(const mirror_dns_ctx_t *c, const mirror_zdata_t *d, nkind_t k, uint32_t a4,
                      const uint8_t a6[16], mirror_hit_t *hits, unsigned frozen)
{
    int n = 0, len = -1; /* len: the prefix length the last file's first index matched */
    for (size_t i = 0; i <= d->nmore; i++) {
        const mirror_index_t *ix = i ? d->more[i - 1] : d->ix;
        int dup = i && d->more_dup[i - 1];
        if ((dup && len < 0) || (frozen >> i & 1))
            continue;
        int h = k == N_V4 ? mirror_index_lookup4(ix, a4, c->now, &hits[n])
                          : mirror_index_lookup6(ix, a6, c->now, &hits[n]);
        if (!dup)
            len = h ? hits[n].len : -1;
        if (h && d->src_a[i])
            hits[n].a = d->src_a[i];
        n += h && (!dup || hits[n].len == len);
    }
    return n;
}

/* An address in the zone (k: N_V4 or N_V6): an A or TXT record from every
 * source that lists it (the same record once), NXDOMAIN when none does (or
 * NODATA for an empty non-terminal). Returns 1 when the SOA goes into the
 * authority section. */
static int answer_addr(const mirror_dns_ctx_t *c, resp_t *r, const query_t *x,
                       const mirror_zone_t *z, const mirror_zdata_t *d, nkind_t k, uint32_t a4,
                       const uint8_t a6[16], unsigned sub)
{
    mirror_hit_t hits[MIRROR_SOURCES_MAX];
    int n = 0, test = test_addr(k, a4, a6);
    /* frozen sources (a combined zone's feeds one by one) answer nothing */
    unsigned fz = (unsigned)atomic_load_explicit(&z->no_positive, memory_order_relaxed);
    unsigned all = (2u << d->nmore) - 1;
    int frozen =
        (d->nmore ? (fz & all) == all : fz != 0) || (d->expires_at && c->now > d->expires_at);
    if (test == 1 || (frozen && !test)) {
        n = 0; /* 127.0.0.1 is never listed (RFC 5782) */
    } else if (!d->nmore) {
        n = k == N_V4 ? mirror_index_lookup4(d->ix, a4, c->now, &hits[0])
                      : mirror_index_lookup6(d->ix, a6, c->now, &hits[0]);
        if (n && d->src_a[0])
            hits[0].a = d->src_a[0];
    } else {
        n = lookup_all(c, d, k, a4, a6, hits, fz);
    }
    if (!n && test == 2) {
        memset(&hits[0], 0, sizeof hits[0]);
        hits[0].a = d->avals ? 0 : 2; /* 127.0.0.2 */
        hits[0].reason = UINT16_MAX;  /* no template of its own: the test entry's */
        n = 1;
    }
    if (!n) {
        if (k != N_V4 || !all_nibbles(x, sub) || !is_ent(d, x, sub))
            r->rc = MIRROR_RC_NXDOMAIN;
        return 1;
    }
    uint32_t ttl = ttl_of(z, d);
    if (x->qtype == T_A || x->qtype == T_ANY) {
        uint32_t av[MIRROR_SOURCES_MAX];
        for (int i = 0; i < n; i++) {
            uint32_t a = av[i] = mirror_zone_a_value(z, d, hits[i].a);
            int dup = 0;
            for (int j = 0; j < i; j++)
                dup |= av[j] == a;
            if (dup)
                continue;
            uint8_t *p = w_rr(&r->w, 0xc00c, T_A, ttl, 4);
            if (p) {
                p[0] = (uint8_t)(a >> 24);
                p[1] = (uint8_t)(a >> 16);
                p[2] = (uint8_t)(a >> 8);
                p[3] = (uint8_t)a;
            }
            r->an++;
        }
        r->listed = 1;
        return 0;
    }
    if (x->qtype != T_TXT)
        return 1;
    char addr[48], txt[256];
    if (k == N_V4)
        fmt_addr4(a4, addr);
    else
        mirror_dns_fmt_addr6(a6, addr);
    const char *done[MIRROR_SOURCES_MAX];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        const char *tmpl = txt_template(z, d, &hits[i], test);
        int dup = !tmpl;
        for (int j = 0; j < nd && !dup; j++)
            dup = !strcmp(done[j], tmpl);
        if (dup)
            continue;
        done[nd++] = tmpl;
        size_t tl = mirror_dns_txt_expand(tmpl, addr, txt);
        uint8_t *p = w_rr(&r->w, 0xc00c, T_TXT, ttl, tl + 1);
        if (p) {
            p[0] = (uint8_t)tl;
            memcpy(p + 1, txt, tl);
        }
        r->an++;
    }
    if (!nd)
        return 1;
    r->listed = 1;
    return 0;
}

/* The question, answer and authority sections of an answer from zone z's
 * data d; returns -1 when not even the question fits. */
static int answer_sections(const mirror_dns_ctx_t *c, resp_t *r, const query_t *x,
                           const mirror_zone_t *z, const mirror_zdata_t *d)
{
    size_t reserve = r->opt ? opt_size(c, x) : 0;
    if (r->w.lim < 12 + x->qname_len + 4 + reserve)
        return -1; /* cannot happen with lim >= 512 */
    /* class ANY is answered from the IN data but never with authority: no
     * server can know it holds every class (RFC 1034 3.7.1, RFC 1035 6.2) */
    if (x->qclass != C_ANY)
        r->flags |= F_AA;
    r->w.lim -= reserve;
    w_question(&r->w, x);
    size_t qend = r->w.n;
    unsigned sub = x->nlab - z->nlabels;
    uint16_t zoff = (uint16_t)(12 + (sub < x->nlab ? x->lab_off[sub] : x->qname_len - 1));
    uint32_t a4 = 0;
    uint8_t a6[16];
    int soa_auth; /* the zone's SOA goes into the authority section */
    nkind_t k = classify(x, sub, &a4, a6);
    switch (k) {
    case N_APEX:
        soa_auth = answer_apex(r, x, z, d, zoff);
        break;
    case N_V4:
    case N_V6:
        soa_auth = answer_addr(c, r, x, z, d, k, a4, a6, sub);
        break;
    case N_ENT:
        if (!is_ent(d, x, sub))
            r->rc = MIRROR_RC_NXDOMAIN;
        soa_auth = 1;
        break;
    default:
        r->rc = MIRROR_RC_NXDOMAIN;
        soa_auth = 1;
        break;
    }
    if (r->w.over) {
        /* the answer does not fit: truncate to the question */
        r->w.over = 0;
        r->w.n = qend;
        r->an = 0;
        r->flags |= F_TC;
        soa_auth = 0;
    }
    if (soa_auth) {
        if (w_soa(&r->w, z, d->apex, zoff, d->serial, min32(soa_ttl_of(z, d), neg_ttl_of(z, d))))
            r->ns = 1;
        else
            r->w.over = 0; /* it is optional: left out when it does not fit */
    }
    r->w.lim += reserve;
    return 0;
}

/* x is a class CH query and an identity is configured: the identity as
 * the TXT record of id.server and hostname.bind (RFC 4892), NODATA for
 * their other types, REFUSED for any other name and for a zone transfer
 * (an empty NOERROR is no AXFR response, RFC 5936 2.2). */
static void answer_chaos(const mirror_dns_ctx_t *c, resp_t *r, const query_t *x)
{
    static const uint8_t id_server[] = "\2id\6server", hostname_bind[] = "\10hostname\4bind";
    int known = 0;
    const uint8_t *names[] = {id_server, hostname_bind};
    for (int i = 0; i < 2 && !known; i++) {
        unsigned n = (unsigned)strlen((const char *)names[i]) + 1;
        unsigned j = 0;
        while (j < n && j < x->qname_len && lc(x->qname[j]) == names[i][j])
            j++;
        known = j == n && x->qname_len == n;
    }
    w_question(&r->w, x);
    if (!known || x->qtype == T_AXFR || x->qtype == T_IXFR) {
        r->rc = MIRROR_RC_REFUSED;
        return;
    }
    r->flags |= F_AA;
    if (x->qtype != T_TXT && x->qtype != T_ANY)
        return;
    size_t reserve = r->opt ? opt_size(c, x) : 0;
    uint8_t *p = r->w.n + 12 + 1u + c->identity_len + reserve <= r->w.lim
                     ? w_take(&r->w, 12 + 1u + c->identity_len)
                     : NULL;
    if (!p)
        return;
    put_u16(p, 0xc00c);
    put_u16(p + 2, T_TXT);
    put_u16(p + 4, C_CH);
    put_u32(p + 6, 0);
    put_u16(p + 10, (uint16_t)(1 + c->identity_len));
    p[12] = c->identity_len;
    memcpy(p + 13, c->identity, c->identity_len);
    r->an = 1;
}

/* Answers a parsed query (rc: what parse() returned): the header, then
 * either the question alone (an error) or the sections from the zone's
 * data, then OPT when the query had one. */
static size_t answer(const mirror_dns_ctx_t *c, const query_t *x, int rc, uint8_t *out, size_t cap,
                     int tcp, const mirror_ip_t *peer, mirror_dns_info_t *info)
{
    info->rcode = 0;
    info->qtype = MIRROR_QT_OTHER;
    info->zone = -1;
    info->listed = 0;
    info->denied = 0;
    if (rc < 0)
        return 0;
    resp_t r;
    resp_init(&r, c, x, rc, out, cap, tcp);
    r.peer = peer;
    /* the server's ACL first: a dropped client costs no zone lookup */
    if (peer && c->acl) {
        int v = mirror_acl_check(atomic_load_explicit(c->acl, memory_order_acquire), peer);
        if (v != MIRROR_ACL_ALLOW) {
            r.denied = v;
            if (rc == 0)
                r.rc = MIRROR_RC_REFUSED;
            rc = -2; /* no zone is consulted */
        }
    }
    const mirror_zone_t *z = NULL;
    const mirror_zdata_t *d = NULL;
    int chaos = rc == 0 && x->qclass == C_CH && c->identity && !edns_or_qtype_error(x, &r);
    if (chaos)
        answer_chaos(c, &r, x);
    else if (rc == 0)
        d = admit(c, x, &r, &z);
    info->denied = r.denied;
    if (r.denied == MIRROR_ACL_DROP)
        return 0;
    if (d) {
        if (answer_sections(c, &r, x, z, d))
            return 0;
    } else if (r.qd && !chaos) {
        w_question(&r.w, x);
    }
    put_u16(out, x->id);
    put_u16(out + 2, (uint16_t)(r.flags | (r.rc & 0xf)));
    put_u16(out + 4, (uint16_t)r.qd);
    put_u16(out + 6, (uint16_t)r.an);
    put_u16(out + 8, (uint16_t)r.ns);
    put_u16(out + 10, r.opt ? 1 : 0);
    if (r.opt)
        w_opt(&r.w, c, x, r.ext_rc);
    info->rcode = r.rc | (int)(r.ext_rc << 4);
    info->qtype = qtype_idx(x->qtype);
    info->zone = r.zi;
    info->listed = r.an && r.listed;
    return r.w.over ? 0 : r.w.n;
}

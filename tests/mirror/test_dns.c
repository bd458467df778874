/* SPDX-License-Identifier: MIT */
/* Unit tests of the DNS answer builder: sections, EDNS, truncation, zones, freeze, templates. */
#include <arpa/inet.h>
#include <unistd.h>

#include "test.h"

#include "config.h"
#include "dns.h"
#include "err.h"
#include "feed.h"
#include "index.h"

static mirror_zone_t za, zb;
static mirror_zdata_t da, db;

static size_t mkq(uint8_t *q, const char *name, uint16_t qtype, int edns, uint16_t payload,
                  uint8_t version)
{
    size_t n = 12;
    memset(q, 0, 12);
    q[0] = 0xab;
    q[1] = 0xcd;
    q[2] = 0x01; /* RD */
    q[5] = 1;
    uint8_t w[256];
    unsigned wl = mirror_dns_name_to_wire(name, w, NULL);
    ASSERT(wl > 0);
    /* keep the caller's case: copy the labels from name */
    memcpy(q + n, w, wl);
    size_t off = n;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        memcpy(q + off + 1, p, l);
        off += 1 + l;
        p += l + (dot ? 1 : 0);
    }
    n += wl;
    q[n++] = (uint8_t)(qtype >> 8);
    q[n++] = (uint8_t)qtype;
    q[n++] = 0;
    q[n++] = 1;
    if (edns) {
        q[11] = 1;
        q[n++] = 0;
        q[n++] = 0;
        q[n++] = 41;
        q[n++] = (uint8_t)(payload >> 8);
        q[n++] = (uint8_t)payload;
        q[n++] = 0;
        q[n++] = version;
        q[n++] = 0;
        q[n++] = 0;
        q[n++] = 0;
        q[n++] = 0;
    }
    return n;
}

static unsigned u16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static mirror_zone_conf_t zc_a, zc_b;

static void setup(void)
{
    char err[256];
    memset(&zc_a, 0, sizeof zc_a);
    snprintf(zc_a.name, sizeof zc_a.name, "bl.example.org");
    zc_a.ttl = 300;
    zc_a.soa_ttl = 3600;
    zc_a.neg_ttl = 60;
    zc_a.a = 2;
    zc_a.txt = "Listed $";
    static char *ns[8];
    static char nsbuf[8][80];
    for (int i = 0; i < 8; i++) {
        snprintf(nsbuf[i], sizeof nsbuf[i], "name-server-number-%d-with-a-long-label.example.org",
                 i);
        ns[i] = nsbuf[i];
    }
    memcpy(zc_a.ns, ns, sizeof ns);
    zc_a.nns = 8;
    static char *reasons[2] = {NULL, "Reason one: $ $$"};
    zc_a.reason_txt = reasons;
    zc_a.nreason = 2;
    ASSERT_EQ(mirror_zone_init(&za, &zc_a, err, sizeof err), 0);
    zc_b = zc_a;
    snprintf(zc_b.name, sizeof zc_b.name, "sub.bl.example.org");
    zc_b.nns = 1;
    zc_b.txt = NULL;
    zc_b.nreason = 0;
    ASSERT_EQ(mirror_zone_init(&zb, &zc_b, err, sizeof err), 0);

    mirror_builder_t *b = mirror_builder_new();
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    bl_prefix_parse("192.0.2.0/24", &e.key);
    e.a = 4;
    e.reason = 1;
    e.expires_at = 2000;
    mirror_builder_add(b, &e, 0);
    bl_prefix_parse("2001:db8::/32", &e.key);
    e.a = 6;
    e.reason = 0;
    mirror_builder_add(b, &e, 0);
    ASSERT_EQ(mirror_builder_finish(b, &da.ix, NULL), 0);
    da.serial = 77;
    atomic_store(&za.data, &da);
    db.ix = mirror_index_new();
    db.serial = 5;
    atomic_store(&zb.data, &db);
}

static mirror_zone_t *zones[2] = {&za, &zb};
static mirror_dns_ctx_t ctx = {.zones = zones, .nzones = 2, .now = 1000, .udp_max = 1232};

static size_t ask(const char *name, uint16_t qtype, int edns, uint16_t payload, uint8_t *out,
                  size_t cap, int tcp, int *rc)
{
    uint8_t q[600];
    size_t ql = mkq(q, name, qtype, edns, payload, 0);
    return mirror_dns_answer(&ctx, q, ql, out, cap, tcp, rc);
}

static void test_listed_and_templates(void)
{
    uint8_t out[4096];
    int rc;
    size_t n = ask("5.2.0.192.bl.example.org", 16, 0, 0, out, sizeof out, 0, &rc);
    ASSERT(n > 0);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(memmem(out, n, "Reason one: 192.0.2.5 $", 23) != NULL);
    n = ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(out[n - 1], 4);
    ASSERT_EQ(out[n - 4], 127);
    /* expired: ctx.now past 2000 */
    mirror_dns_ctx_t late = ctx;
    late.now = 2000;
    uint8_t q[600];
    size_t ql = mkq(q, "5.2.0.192.bl.example.org", 1, 0, 0, 0);
    n = mirror_dns_answer(&late, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    /* freeze: nothing listed except the RFC 5782 test entry */
    atomic_store(&za.no_positive, 1);
    n = ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    n = ask("2.0.0.127.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(u16(out + 6), 1);
    atomic_store(&za.no_positive, 0);
    /* IPv6 with the zone default template */
    char v6[200] = "";
    const char *nib = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2";
    snprintf(v6, sizeof v6, "%s.bl.example.org", nib);
    n = ask(v6, 16, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT(memmem(out, n, "\x12Listed 2001:db8::1", 19) != NULL); /* RFC 5952, as rbldnsd */
}

/* An A record 127.0.0.a in the answer out[0, n). */
static int has_a(const uint8_t *out, size_t n, uint8_t a)
{
    const uint8_t rr[] = {0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 127, 0, 0, a}; /* A IN ttl 300 */
    return memmem(out, n, rr, sizeof rr) != NULL;
}

/* A zone that combines feeds: one index per feed, the second feed's A value
 * replacing its listings' own; one A record and one TXT string per feed
 * that lists the address; a frozen feed (its bit) answers nothing. */
static void test_combined_feeds(void)
{
    mirror_builder_t *b = mirror_builder_new();
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    bl_prefix_parse("192.0.2.5/32", &e.key);
    e.a = 2;
    e.reason = 3; /* no template of its own: the zone's txt */
    e.expires_at = 2000;
    mirror_builder_add(b, &e, 0);
    bl_prefix_parse("198.51.100.0/24", &e.key);
    mirror_builder_add(b, &e, 0);
    mirror_zdata_t dc = {.ix = da.ix, .nmore = 1, .src_a = {0, 9}, .serial = 80, .borrowed = 1};
    ASSERT_EQ(mirror_builder_finish(b, &dc.more[0], NULL), 0);
    atomic_store(&za.data, &dc);
    uint8_t out[4096];
    int rc;
    size_t n = ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(u16(out + 6), 2);
    ASSERT(has_a(out, n, 4) && has_a(out, n, 9)); /* the first feed's own, the second's */
    n = ask("5.2.0.192.bl.example.org", 16, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 2);
    ASSERT(memmem(out, n, "\x17Reason one: 192.0.2.5 $", 24) != NULL);
    ASSERT(memmem(out, n, "\x10Listed 192.0.2.5", 17) != NULL);
    n = ask("7.100.51.198.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a(out, n, 9));
    /* the second feed frozen: the first still answers, the second's only
     * listing is gone; both frozen: only the test entry */
    atomic_store(&za.no_positive, 2);
    n = ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a(out, n, 4));
    ask("7.100.51.198.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    atomic_store(&za.no_positive, 1);
    n = ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a(out, n, 9));
    atomic_store(&za.no_positive, 3);
    ask("5.2.0.192.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    n = ask("2.0.0.127.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT(has_a(out, n, 2));
    atomic_store(&za.no_positive, 0);
    atomic_store(&za.data, &da);
    mirror_index_free(dc.more[0]);
}

/* The batch prefetch hint names the zone's index and the address for IPv4
 * questions in a zone, and nothing for anything else. */
static void test_prefetch_hint(void)
{
    uint8_t q[600];
    const mirror_index_t *ix = NULL;
    uint32_t a = 0;
    size_t ql = mkq(q, "5.2.0.192.BL.example.org", 1, 1, 1232, 0);
    ASSERT_EQ(mirror_dns_prefetch(&ctx, q, ql, &ix, &a), 1);
    ASSERT(ix == da.ix);
    ASSERT_EQ(a, 0xc0000205u);
    ql = mkq(q, "9.8.7.6.sub.bl.example.org", 16, 0, 0, 0);
    ASSERT_EQ(mirror_dns_prefetch(&ctx, q, ql, &ix, &a), 1);
    ASSERT(ix == db.ix);
    ASSERT_EQ(a, 0x06070809u);
    static const char *const none[] = {
        "bl.example.org",            /* apex */
        "2.0.192.bl.example.org",    /* empty non-terminal */
        "5.2.0.192.example.net",     /* not ours */
        "256.2.0.192.bl.example.org" /* not an address */
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        ql = mkq(q, none[i], 1, 0, 0, 0);
        ASSERT_EQ(mirror_dns_prefetch(&ctx, q, ql, &ix, &a), 0);
    }
    ql = mkq(q, "5.2.0.192.bl.example.org", 1, 0, 0, 0);
    ASSERT_EQ(mirror_dns_prefetch(&ctx, q, ql - 3, &ix, &a), 0); /* truncated */
    q[2] |= 0x80;                                                /* a response */
    ASSERT_EQ(mirror_dns_prefetch(&ctx, q, ql, &ix, &a), 0);
}

/* A batch answers every query exactly as one-by-one answers would: the
 * same bytes, the same description, nothing for what gets no answer; with
 * more queries than one pass takes, and with a single query. */
static void test_batch(void)
{
    static const struct {
        const char *name;
        uint16_t type;
        int edns;
        uint16_t payload;
        uint8_t version;
    } qs[] = {
        {"5.2.0.192.BL.example.org", 1, 1, 1232, 0}, /* listed */
        {"5.2.0.192.bl.example.org", 16, 0, 0, 0},   /* TXT */
        {"9.8.7.6.sub.bl.example.org", 1, 0, 0, 0},  /* the other zone */
        {"2.0.0.127.bl.example.org", 255, 0, 0, 0},  /* RFC 5782 test entry, ANY */
        {"1.0.0.127.bl.example.org", 1, 0, 0, 0},    /* never listed */
        {"7.7.7.7.bl.example.org", 1, 1, 512, 0},    /* unlisted */
        {"2.0.192.bl.example.org", 1, 0, 0, 0},      /* empty non-terminal */
        {"bl.example.org", 6, 0, 0, 0},              /* apex SOA */
        {"bl.example.org", 2, 1, 4096, 0},           /* apex NS */
        {"5.2.0.192.example.net", 1, 0, 0, 0},       /* REFUSED */
        {"5.2.0.192.bl.example.org", 1, 1, 1232, 1}, /* BADVERS */
        {"256.2.0.192.bl.example.org", 1, 0, 0, 0},  /* not an address */
        {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.org", 16, 0, 0,
         0}, /* IPv6 */
    };
    enum { NQ = sizeof qs / sizeof qs[0], N = 150 };
    static uint8_t q[N][600], out[N][4096], one[4096];
    mirror_dns_job_t jobs[N];
    for (size_t i = 0; i < N; i++) {
        size_t k = (i * 7) % NQ;
        size_t ql = mkq(q[i], qs[k].name, qs[k].type, qs[k].edns, qs[k].payload, qs[k].version);
        q[i][1] = (uint8_t)i; /* the id */
        if (i % 31 == 5)
            ql -= 3; /* truncated: FORMERR */
        if (i % 37 == 6)
            q[i][2] |= 0x80; /* a response: no answer */
        if (i % 41 == 7)
            q[i][2] |= 0x28; /* opcode 5: NOTIMP */
        jobs[i] = (mirror_dns_job_t){.q = q[i], .qlen = ql, .out = out[i]};
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? 1 : N;
        memset(out, 0, sizeof out);
        mirror_dns_answer_batch(&ctx, jobs, n, sizeof out[0]);
        size_t listed = 0, silent = 0;
        for (size_t i = 0; i < n; i++) {
            mirror_dns_info_t info;
            size_t len =
                mirror_dns_answer_ex(&ctx, jobs[i].q, jobs[i].qlen, one, sizeof one, 0, &info);
            if (jobs[i].len != len || memcmp(jobs[i].out, one, len))
                BL_FAIL("query %zu: the batch answered %zu bytes, one by one %zu (or other bytes)",
                        i, jobs[i].len, len);
            ASSERT_EQ(jobs[i].info.rcode, info.rcode);
            ASSERT_EQ(jobs[i].info.qtype, info.qtype);
            ASSERT_EQ(jobs[i].info.zone, info.zone);
            ASSERT_EQ(jobs[i].info.listed, info.listed);
            listed += (size_t)info.listed;
            silent += !len;
        }
        if (!pass) { /* the mix covers what it claims */
            ASSERT(listed >= 20);
            ASSERT(silent >= 3);
        }
    }
}

static void test_zones(void)
{
    uint8_t out[4096];
    int rc;
    /* the longest zone wins: sub.bl.example.org has no data for this name */
    size_t n = ask("5.2.0.192.sub.bl.example.org", 1, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    /* its SOA carries its own serial */
    ASSERT_EQ(u16(out + 8), 1);
    ASSERT_EQ(out[n - 20 + 3], 5);
    n = ask("example.org", 6, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_REFUSED);
    ASSERT_EQ(out[2] & 0x04, 0); /* not authoritative */
    /* a zone with no data yet: SERVFAIL */
    atomic_store(&zb.data, NULL);
    ask("sub.bl.example.org", 6, 0, 0, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_SERVFAIL);
    atomic_store(&zb.data, &db);
}

static void test_edns_and_truncation(void)
{
    uint8_t out[65536];
    int rc;
    /* 8 long NS names: ~600 bytes, over 512 without EDNS */
    size_t n = ask("bl.example.org", 2, 0, 0, out, sizeof out, 0, &rc);
    ASSERT(n <= 512);
    ASSERT(out[2] & 0x02); /* TC */
    ASSERT_EQ(u16(out + 6), 0);
    /* EDNS 4096 is capped at our 1232, which fits */
    n = ask("bl.example.org", 2, 1, 4096, out, sizeof out, 0, &rc);
    ASSERT(n > 512 && n <= 1232);
    ASSERT(!(out[2] & 0x02));
    ASSERT_EQ(u16(out + 6), 8);
    ASSERT_EQ(u16(out + 10), 1);
    ASSERT_EQ(u16(out + n - 11 + 3), 1232); /* OPT payload */
    /* EDNS 520 honoured: TC again */
    mirror_dns_ctx_t big = ctx;
    big.udp_max = 4096;
    uint8_t q[600];
    size_t ql = mkq(q, "bl.example.org", 2, 1, 520, 0);
    n = mirror_dns_answer(&big, q, ql, out, sizeof out, 0, &rc);
    ASSERT(out[2] & 0x02);
    ASSERT(n <= 520);
    /* TCP: no limit but the message size */
    n = ask("bl.example.org", 2, 0, 0, out, sizeof out, 1, &rc);
    ASSERT(!(out[2] & 0x02));
    ASSERT_EQ(u16(out + 6), 8);
    /* BADVERS */
    ql = mkq(q, "bl.example.org", 6, 1, 1232, 1);
    n = mirror_dns_answer(&ctx, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_BADVERS);
    ASSERT_EQ(out[3] & 15, 0);
    ASSERT_EQ(u16(out + 10), 1);
    ASSERT_EQ(out[n - 6], 1); /* extended rcode 1 -> 16 */
    /* a response is never answered; a short packet neither */
    ql = mkq(q, "bl.example.org", 6, 0, 0, 0);
    q[2] |= 0x80;
    ASSERT_EQ(mirror_dns_answer(&ctx, q, ql, out, sizeof out, 0, &rc), 0);
    ASSERT_EQ(mirror_dns_answer(&ctx, q, 11, out, sizeof out, 0, &rc), 0);
}

/* The SOA of a negative answer is optional: when it does not fit, the
 * answer goes without it (and without TC); over TCP it is there. */
static void test_soa_left_out(void)
{
    static mirror_zone_t zl;
    static mirror_zdata_t dl;
    mirror_zone_conf_t zc = zc_b;
    char label[64], qname[300];
    memset(label, 'm', 60);
    label[60] = 0;
    snprintf(zc.name, sizeof zc.name, "%s.%s.example.org", label, label);
    snprintf(qname, sizeof qname, "40.3.2.1.%s", zc.name);
    snprintf(zc.mname, sizeof zc.mname, "%s.%s.%s.example.org", label, label, label);
    snprintf(zc.rname, sizeof zc.rname, "%s.%s.%s.example.net", label, label, label);
    char err[256];
    ASSERT_EQ(mirror_zone_init(&zl, &zc, err, sizeof err), 0);
    dl.ix = mirror_index_new();
    dl.serial = 9;
    atomic_store(&zl.data, &dl);
    mirror_zone_t *zs[1] = {&zl};
    mirror_dns_ctx_t c = {.zones = zs, .nzones = 1, .now = 1000, .udp_max = 1232};
    uint8_t q[600], out[4096];
    int rc;
    size_t ql = mkq(q, qname, 1, 0, 0, 0);
    size_t n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    ASSERT_EQ(n, ql); /* header and question */
    ASSERT_EQ(out[2] & 0x02, 0);
    ASSERT_EQ(u16(out + 8), 0);
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 1, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    ASSERT_EQ(u16(out + 8), 1);
    ASSERT(n > 512);
    atomic_store(&zl.data, NULL);
    mirror_index_free(dl.ix);
    mirror_zone_close(&zl);
}

static void test_txt_expand(void)
{
    char out[300];
    size_t n = mirror_dns_txt_expand("a $ b $$ c", "1.2.3.4", out);
    ASSERT_EQ(n, 15);
    ASSERT_MEMEQ(out, "a 1.2.3.4 b $ c", 15);
    char big[600];
    memset(big, '$', 599);
    big[599] = 0;
    n = mirror_dns_txt_expand(big + 1, "255.255.255.255", out); /* odd count: '$$'s and one '$' */
    ASSERT(n <= 254);
    memset(big, 'x', 599);
    n = mirror_dns_txt_expand(big, "1.2.3.4", out);
    ASSERT_EQ(n, 254);
}

static void test_fmt_addr6(void)
{
    /* each the way rbldnsd 1.0pre's ip6trie writes it (checked by hand) */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, /* one zero group stays */
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},          /* the longest run */
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    /* the first on a tie */
        {"::ffff:127.0.0.5", "::ffff:7f00:5"},            /* no dotted tail */
        {"::1", "::1"},
        {"1::", "1::"},
        {"::", "::"},
        {"0:0:1::", "0:0:1::"},
        {"fe80::abcd:0:0:1", "fe80::abcd:0:0:1"},
        {"2001:DB8:00AB:CDEF:0123:4567:89AB:CDEF", "2001:db8:ab:cdef:123:4567:89ab:cdef"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t a[16];
        char out[48];
        ASSERT_EQ(inet_pton(AF_INET6, cases[i].in, a), 1);
        mirror_dns_fmt_addr6(a, out);
        if (strcmp(out, cases[i].want))
            fprintf(stderr, "%s: got %s, want %s\n", cases[i].in, out, cases[i].want);
        ASSERT(strcmp(out, cases[i].want) == 0);
    }
}

/* QCLASS ANY: answered from the IN data, never authoritative (RFC 1034
 * 3.7.1, RFC 1035 6.2: a server cannot know it holds every class). */
static void test_qclass_any(void)
{
    uint8_t q[600], out[4096];
    int rc;
    const char *names[] = {"5.2.0.192.bl.example.org", "9.9.9.9.bl.example.org", "bl.example.org"};
    const int want_rc[] = {MIRROR_RC_NOERROR, MIRROR_RC_NXDOMAIN, MIRROR_RC_NOERROR};
    const unsigned want_an[] = {1, 0, 0};
    for (int i = 0; i < 3; i++) {
        size_t ql = mkq(q, names[i], 1, 0, 0, 0);
        q[ql - 1] = 255; /* QCLASS ANY */
        size_t n = mirror_dns_answer(&ctx, q, ql, out, sizeof out, 0, &rc);
        ASSERT(n > 12);
        ASSERT_EQ(out[2] & 0x04, 0); /* AA clear */
        ASSERT_EQ(rc, want_rc[i]);
        ASSERT_EQ(u16(out + 6), want_an[i]);
        q[ql - 1] = 1; /* the same query in class IN is authoritative */
        n = mirror_dns_answer(&ctx, q, ql, out, sizeof out, 0, &rc);
        ASSERT(out[2] & 0x04);
    }
}

/* An IXFR query carries the client's SOA in its authority section (RFC 1995
 * 3): refused like AXFR, not taken for a malformed query; any other query
 * with an authority section, or an OPT there, is FORMERR. */
static void test_ixfr_authority(void)
{
    uint8_t q[600], out[4096];
    int rc;
    size_t ql = mkq(q, "bl.example.org", 251, 0, 0, 0);
    q[9] = 1; /* NSCOUNT */
    /* owner (a pointer to the question), SOA IN, TTL 0, 22 bytes of data:
     * root MNAME and RNAME, serial 1, four zero timers */
    uint8_t soa[12 + 22] = {0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22};
    soa[12 + 5] = 1;
    memcpy(q + ql, soa, sizeof soa);
    size_t n = mirror_dns_answer(&ctx, q, ql + sizeof soa, out, sizeof out, 1, &rc);
    ASSERT_EQ(rc, MIRROR_RC_REFUSED);
    ASSERT_EQ(u16(out + 4), 1); /* the question is echoed */
    ASSERT_EQ(n, ql);
    /* the same record in an A query's authority section: FORMERR */
    q[ql - 3] = 1;
    mirror_dns_answer(&ctx, q, ql + sizeof soa, out, sizeof out, 1, &rc);
    ASSERT_EQ(rc, MIRROR_RC_FORMERR);
    /* an OPT in an IXFR's authority section: FORMERR (RFC 6891 6.1.1) */
    q[ql - 3] = 251;
    static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(q + ql, opt, sizeof opt);
    mirror_dns_answer(&ctx, q, ql + sizeof opt, out, sizeof out, 1, &rc);
    ASSERT_EQ(rc, MIRROR_RC_FORMERR);
    /* an authority record cut short: FORMERR */
    memcpy(q + ql, soa, sizeof soa);
    mirror_dns_answer(&ctx, q, ql + sizeof soa - 1, out, sizeof out, 1, &rc);
    ASSERT_EQ(rc, MIRROR_RC_FORMERR);
}

/* Class CH (id.server) gets the checks of every class: BADVERS for EDNS
 * version 1 (RFC 6891 6.1.3), FORMERR for QTYPE OPT, REFUSED for AXFR. */
static void test_chaos_edns(void)
{
    mirror_dns_ctx_t ch = ctx;
    ch.identity = "m1";
    ch.identity_len = 2;
    uint8_t q[600], out[4096];
    int rc;
    const char *name = "id.server";
    size_t cls = 12 + strlen(name) + 2 + 3; /* the low byte of QCLASS */
    size_t ql = mkq(q, name, 16, 1, 1232, 0);
    q[cls] = 3;
    size_t n = mirror_dns_answer(&ch, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NOERROR);
    ASSERT_EQ(u16(out + 6), 1);
    ql = mkq(q, name, 16, 1, 1232, 1);
    q[cls] = 3;
    n = mirror_dns_answer(&ch, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_BADVERS);
    ASSERT_EQ(u16(out + 6), 0);
    ASSERT_EQ(u16(out + 10), 1);
    ASSERT_EQ(out[n - 6], 1); /* extended rcode 1 -> 16 */
    ql = mkq(q, name, 41, 0, 0, 0);
    q[cls] = 3;
    mirror_dns_answer(&ch, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_FORMERR);
    ASSERT_EQ(u16(out + 6), 0); /* a zone transfer of it: REFUSED, as in class IN (an empty NOERROR
                                 * is no AXFR response); other types: NODATA */
    for (uint16_t t = 251; t <= 252; t++) {
        ql = mkq(q, name, t, 0, 0, 0);
        q[cls] = 3;
        mirror_dns_answer(&ch, q, ql, out, sizeof out, 1, &rc);
        ASSERT_EQ(rc, MIRROR_RC_REFUSED);
        ASSERT_EQ(out[2] & 0x04, 0);
    }
    ql = mkq(q, name, 1, 0, 0, 0);
    q[cls] = 3;
    mirror_dns_answer(&ch, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NOERROR);
    ASSERT_EQ(u16(out + 6), 0);
}

/* An A record with this address (host byte order) in the answer out[0, n). */
static int has_a4(const uint8_t *out, size_t n, uint32_t a)
{
    const uint8_t rr[] = {0,
                          1,
                          0,
                          1,
                          0,
                          0,
                          0x08,
                          0x34,
                          0,
                          4, /* A IN ttl 2100 */
                          (uint8_t)(a >> 24),
                          (uint8_t)(a >> 16),
                          (uint8_t)(a >> 8),
                          (uint8_t)a};
    return memmem(out, n, rr, sizeof rr) != NULL;
}

/* A zone of rbldnsd files answers every A value they give, any IPv4
 * address (a code into the zone's table in the index), each once, from
 * every file that lists the address; past MIRROR_AVALS_MAX distinct
 * values a line is skipped, the values already seen still answer. */
static void test_rbldnsd_avals(void)
{
    char dir[] = "/tmp/test_dns_XXXXXX", f1[64], f2[64], spec1[80], spec2[80];
    ASSERT(mkdtemp(dir));
    snprintf(f1, sizeof f1, "%s/one", dir);
    snprintf(f2, sizeof f2, "%s/two", dir);
    FILE *f = fopen(f1, "w");
    ASSERT(f);
    fprintf(f, ":127.0.1.2:One $\n10.0.0.1\n10.0.0.2 :1.2.3.4\n!10.0.0.3\n10.0.0.0/24 :5.6.7.8\n");
    for (int i = 1; i <= MIRROR_AVALS_MAX - 3; i++)
        fprintf(f, "10.1.0.%d :10.9.8.%d:v%d\n", i, i, i);
    fclose(f);
    f = fopen(f2, "w");
    ASSERT(f);
    /* 10.0.0.1 again with 1.2.3.4 and 127.0.1.2 (once each in the answer);
     * 198.51.100.1 is the 256th distinct value: skipped */
    fprintf(f, "10.0.0.1 :1.2.3.4:Two $\n10.0.0.1 :127.0.1.2:Two $\n10.0.0.9 :198.51.100.1\n"
               "10.0.0.10 :10.9.8.7\n");
    fclose(f);
    snprintf(spec1, sizeof spec1, "ip4set:%s", f1);
    snprintf(spec2, sizeof spec2, "ip4set:%s", f2);
    static mirror_zone_t zr;
    mirror_zone_conf_t zc;
    memset(&zc, 0, sizeof zc);
    snprintf(zc.name, sizeof zc.name, "files.example.org");
    zc.ttl = zc.soa_ttl = zc.neg_ttl = 300;
    zc.a = 2;
    zc.rbldnsd[0] = spec1;
    zc.rbldnsd[1] = spec2;
    zc.nrbldnsd = 2;
    char err[256];
    ASSERT_EQ(mirror_zone_init(&zr, &zc, err, sizeof err), 0);
    static mirror_qsbr_t qs;
    mirror_qsbr_init(&qs);
    ASSERT_EQ(mirror_import_rbldnsd(&zr, &qs, &zc, err, sizeof err), 0);
    const mirror_zdata_t *d = atomic_load(&zr.data);
    ASSERT(d && d->avals);
    ASSERT_EQ(d->avals->n, MIRROR_AVALS_MAX);
    mirror_zone_t *zl[1] = {&zr};
    mirror_dns_ctx_t c = {.zones = zl, .nzones = 1, .now = 1000, .udp_max = 1232};
    uint8_t q[600], out[4096];
    int rc;
    size_t ql = mkq(q, "1.0.0.10.files.example.org", 1, 0, 0, 0);
    size_t n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(u16(out + 6), 2); /* 127.0.1.2 (both files) and 1.2.3.4 (the second) */
    ASSERT(has_a4(out, n, 0x7f000102u) && has_a4(out, n, 0x01020304u));
    ql = mkq(q, "1.0.0.10.files.example.org", 16, 0, 0, 0);
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 2);
    ASSERT(memmem(out, n, "\x0cOne 10.0.0.1", 13) && memmem(out, n, "\x0cTwo 10.0.0.1", 13));
    ql = mkq(q, "2.0.0.10.files.example.org", 1, 0, 0, 0);
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a4(out, n, 0x01020304u));
    ql = mkq(q, "3.0.0.10.files.example.org", 1, 0, 0, 0); /* excluded */
    mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(rc, MIRROR_RC_NXDOMAIN);
    ql = mkq(q, "4.0.0.10.files.example.org", 1, 0, 0, 0); /* the /24 */
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT(has_a4(out, n, 0x05060708u));
    ql = mkq(q, "252.0.1.10.files.example.org", 1, 0, 0, 0);
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT(has_a4(out, n, 0x0a0908fcu));
    ql = mkq(q, "9.0.0.10.files.example.org", 1, 0, 0, 0); /* skipped: the /24 of file one */
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a4(out, n, 0x05060708u) && !has_a4(out, n, 0xc6336401u));
    ql = mkq(q, "10.0.0.10.files.example.org", 1, 0, 0, 0); /* a value seen before */
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 2);
    ASSERT(has_a4(out, n, 0x0a090807u) && has_a4(out, n, 0x05060708u));
    /* the RFC 5782 test entry is 127.0.0.2 whatever code 2 is */
    ql = mkq(q, "2.0.0.127.files.example.org", 1, 0, 0, 0);
    n = mirror_dns_answer(&c, q, ql, out, sizeof out, 0, &rc);
    ASSERT_EQ(u16(out + 6), 1);
    ASSERT(has_a4(out, n, 0x7f000002u));
    mirror_zone_close(&zr);
    unlink(f1);
    unlink(f2);
    rmdir(dir);
}

int main(void)
{
    setup();
    RUN(test_rbldnsd_avals);
    RUN(test_listed_and_templates);
    RUN(test_combined_feeds);
    RUN(test_prefetch_hint);
    RUN(test_batch);
    RUN(test_zones);
    RUN(test_edns_and_truncation);
    RUN(test_qclass_any);
    RUN(test_ixfr_authority);
    RUN(test_chaos_edns);
    RUN(test_soa_left_out);
    RUN(test_txt_expand);
    RUN(test_fmt_addr6);
    mirror_index_free(da.ix);
    mirror_index_free(db.ix);
    atomic_store(&za.data, NULL);
    atomic_store(&zb.data, NULL);
    return 0;
}

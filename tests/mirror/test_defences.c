/* SPDX-License-Identifier: MIT */
/* Unit tests of the defences' decisions: ACL parsing and longest-prefix
 * matching, the rbldnsd acl import, RRL token buckets on a made-up clock
 * (rate, burst, refill, prefixes, slip, whitelist, a clock read out of
 * order), the truncated answer, the query log's bound per second, and the
 * query entry of dns.c (ACL verdicts, CH identity, NSID). */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "acl.h"
#include "dns.h"
#include "log.h"
#include "querylog.h"
#include "rrl.h"

static mirror_ip_t ip(const char *s)
{
    mirror_ip_t net;
    unsigned len;
    const char *why = NULL;
    if (mirror_acl_parse_prefix(s, &net, &len, &why))
        BL_FAIL("%s: %s", s, why);
    return net;
}

static mirror_acl_t *acl_of(const char *const *lines, int deny)
{
    mirror_acl_t *a = calloc(1, sizeof *a);
    ASSERT(a);
    for (const char *const *l = lines; *l; l++) {
        const char *why = NULL;
        if (mirror_acl_add_line(a, *l, deny, &why))
            BL_FAIL("'%s': %s", *l, why);
    }
    mirror_acl_finish(a);
    return a;
}

static void test_parse(void)
{
    mirror_ip_t n;
    unsigned len;
    const char *why;
    ASSERT_EQ(mirror_acl_parse_prefix("192.0.2.0/24", &n, &len, &why), 0);
    ASSERT_EQ(len, 96 + 24);
    ASSERT_EQ(n.lo, 0x0000ffffc0000200ULL);
    ASSERT_EQ(mirror_acl_parse_prefix("10", &n, &len, &why), 0); /* rbldnsd's short form */
    ASSERT_EQ(len, 96 + 8);
    ASSERT_EQ(mirror_acl_parse_prefix("127.0.0", &n, &len, &why), 0);
    ASSERT_EQ(len, 96 + 24);
    ASSERT_EQ(mirror_acl_parse_prefix("0/0", &n, &len, &why), 0);
    ASSERT_EQ(len, 96);
    ASSERT_EQ(mirror_acl_parse_prefix("2001:db8::/32", &n, &len, &why), 0);
    ASSERT_EQ(len, 32);
    ASSERT_EQ(n.hi, 0x20010db800000000ULL);
    ASSERT_EQ(mirror_acl_parse_prefix("::1", &n, &len, &why), 0);
    ASSERT_EQ(len, 128);
    /* refused: host bits, lengths, junk */
    ASSERT_EQ(mirror_acl_parse_prefix("203.0.113.129/25", &n, &len, &why), -1);
    ASSERT_STREQ(why, "invalid range (non-zero host part)");
    ASSERT_EQ(mirror_acl_parse_prefix("10.0.0.0/33", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("2001:db8::/129", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("256.1.1.1", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("1.2.3.4.5", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("1.2.3.4/", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("example.com", &n, &len, &why), -1);
    ASSERT_EQ(mirror_acl_parse_prefix("", &n, &len, &why), -1);
    mirror_acl_t a = {0};
    ASSERT_EQ(mirror_acl_add_line(&a, "permit 10.0.0.0/8", MIRROR_ACL_REFUSE, &why), -1);
    ASSERT_EQ(mirror_acl_add_line(&a, "deny", MIRROR_ACL_REFUSE, &why), -1);
    ASSERT_EQ(mirror_acl_add_line(&a, "deny 10.0.0.0/8 extra", MIRROR_ACL_REFUSE, &why), -1);
    free(a.rules);
}

static void test_match(void)
{
    const char *lines[] = {"deny any",
                           "allow 192.0.2.0/24",
                           "drop 192.0.2.128/25",
                           "allow 192.0.2.200",
                           "refuse 2001:db8::/32",
                           "allow 2001:db8:1::/48",
                           NULL};
    mirror_acl_t *a = acl_of(lines, MIRROR_ACL_DROP);
    mirror_ip_t x;
    x = ip("192.0.2.1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    x = ip("192.0.2.130");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_DROP);
    x = ip("192.0.2.200"); /* the longest prefix wins */
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    x = ip("198.51.100.1"); /* deny any, with deny = drop */
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_DROP);
    x = ip("2001:db8:2::1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_REFUSE);
    x = ip("2001:db8:1:ffff::1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    x = ip("2001:db9::1"); /* any covers IPv6 too */
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_DROP);
    mirror_acl_free(a);

    /* without rules or without a covering rule: allowed; match says -1 */
    const char *deny_only[] = {"deny 10.0.0.0/8", NULL};
    a = acl_of(deny_only, MIRROR_ACL_REFUSE);
    x = ip("11.0.0.1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    ASSERT_EQ(mirror_acl_match(a, &x), -1);
    x = ip("10.255.0.1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_REFUSE);
    /* an IPv4 rule never matches an IPv6 client outside ::ffff:0:0/96 */
    x = ip("::a00:1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    ASSERT_EQ(mirror_acl_check(NULL, &x), MIRROR_ACL_ALLOW);
    mirror_acl_free(a);

    /* the same prefix twice: the later line wins */
    const char *twice[] = {"deny 10.0.0.0/8", "allow 10.0.0.0/8", NULL};
    a = acl_of(twice, MIRROR_ACL_REFUSE);
    x = ip("10.1.1.1");
    ASSERT_EQ(mirror_acl_check(a, &x), MIRROR_ACL_ALLOW);
    ASSERT_EQ(a->n, 1);
    mirror_acl_free(a);

    /* a sockaddr converts to the same key as the text */
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.9", &sa.sin_addr);
    mirror_ip_t k, t = ip("192.0.2.9");
    ASSERT_EQ(mirror_ip_from_sockaddr((struct sockaddr *)&sa, &k), 0);
    ASSERT(k.hi == t.hi && k.lo == t.lo);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::9", &s6.sin6_addr);
    t = ip("2001:db8::9");
    ASSERT_EQ(mirror_ip_from_sockaddr((struct sockaddr *)&s6, &k), 0);
    ASSERT(k.hi == t.hi && k.lo == t.lo);
}

/* Many random rules: the binary searches agree with a linear scan. */
static void test_match_many(void)
{
    uint64_t seed = 7;
    mirror_acl_t *a = calloc(1, sizeof *a);
    enum { N = 3000 };
    static mirror_acl_rule_t raw[N];
    for (int i = 0; i < N; i++) {
        unsigned len = 96 + 8 + (unsigned)(bl_test_rand(&seed) % 25);
        mirror_ip_t net = {0, 0x0000ffff00000000ULL | (uint32_t)bl_test_rand(&seed)};
        raw[i] = (mirror_acl_rule_t){mirror_ip_mask(net, len), (uint8_t)len,
                                     (uint8_t)(bl_test_rand(&seed) % 3)};
        mirror_acl_add(a, raw[i].net, len, raw[i].action);
    }
    mirror_acl_finish(a);
    for (int q = 0; q < 20000; q++) {
        /* half the probes inside a rule, half anywhere */
        mirror_ip_t x = {0, 0x0000ffff00000000ULL | (uint32_t)bl_test_rand(&seed)};
        if (q % 2)
            x.lo = raw[q % N].net.lo | (bl_test_rand(&seed) & ~(~0ULL << (128 - raw[q % N].len)));
        int best = -1, want = MIRROR_ACL_ALLOW;
        for (int i = 0; i < N; i++) {
            mirror_ip_t m = mirror_ip_mask(x, raw[i].len);
            if (m.lo == raw[i].net.lo && m.hi == raw[i].net.hi && raw[i].len >= best) {
                best = raw[i].len; /* equal: the later rule */
                want = raw[i].action;
            }
        }
        ASSERT_EQ(mirror_acl_check(a, &x), want);
    }
    mirror_acl_free(a);
}

static void test_rbldnsd_import(void)
{
    char path[] = "/tmp/test_acl.XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# rbldnsd acl\n"
          "$TTL 300\n"
          "192.0.2.1\n"                     /* default: ignore (drop) */
          ":refuse\n"                       /* from here on: refuse */
          "192.0.2.2\n"                     /* refuse */
          "192.0.2.3:pass\n"                /* allow, written without a blank */
          "198.51.100.0/24 :ignore\n"       /* drop */
          "198.51.100.7 :pass\n"            /* allow */
          "203.0.113.0/24 :blackhole\n"     /* drop */
          "10.0.0.0/8 :empty\n"             /* not imported: skipped */
          "10.1.0.0/16 :127.0.0.2:Listed\n" /* a template: skipped */
          "203.0.113.129/25 :refuse\n"      /* host bits: skipped */
          "not-an-address\n"                /* skipped */
          "2001:db8::/32 ; v6, refuse by the default\n"
          "  ; a comment\n",
          f);
    fclose(f);
    mirror_acl_t *a = calloc(1, sizeof *a);
    char err[256];
    ASSERT_EQ(mirror_acl_load_rbldnsd(a, path, err, sizeof err), 0);
    mirror_acl_finish(a);
    ASSERT_EQ(a->skipped, 4);
    ASSERT_EQ(a->n, 7);
    mirror_ip_t x;
    struct {
        const char *addr;
        int want;
    } cases[] = {{"192.0.2.1", MIRROR_ACL_DROP},     {"192.0.2.2", MIRROR_ACL_REFUSE},
                 {"198.51.100.9", MIRROR_ACL_DROP},  {"198.51.100.7", MIRROR_ACL_ALLOW},
                 {"203.0.113.200", MIRROR_ACL_DROP}, {"10.1.2.3", MIRROR_ACL_ALLOW},
                 {"2001:db8::5", MIRROR_ACL_REFUSE}, {"192.0.2.3", MIRROR_ACL_ALLOW},
                 {"192.0.2.4", MIRROR_ACL_ALLOW}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        x = ip(cases[i].addr);
        if (mirror_acl_check(a, &x) != cases[i].want)
            BL_FAIL("%s: %d, want %d", cases[i].addr, mirror_acl_check(a, &x), cases[i].want);
    }
    mirror_acl_free(a);
    unlink(path);
    a = calloc(1, sizeof *a);
    ASSERT_EQ(mirror_acl_load_rbldnsd(a, "/nonexistent/acl", err, sizeof err), -1);
    ASSERT(strstr(err, "/nonexistent/acl"));
    mirror_acl_free(a);
}

static mirror_rrl_t *rrl(unsigned rate, unsigned slip, const mirror_acl_t *wl)
{
    mirror_rrl_conf_t c = {.rate = rate,
                           .slip = slip,
                           .ipv4_prefix = 24,
                           .ipv6_prefix = 56,
                           .table_size = 4096,
                           .whitelist = wl,
                           .seed = 42};
    mirror_rrl_t *r = mirror_rrl_new(&c);
    ASSERT(r);
    return r;
}

/* How many of n answers to x at now pass. */
static int passes(mirror_rrl_t *r, const char *addr, int n, uint64_t now)
{
    mirror_ip_t x = ip(addr);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += mirror_rrl_check(r, &x, now) == MIRROR_RRL_PASS;
    return ok;
}

static void test_rrl_bucket(void)
{
    mirror_rrl_t *r = rrl(10, 0, NULL);
    uint64_t t = 5000000;
    /* a full bucket: one second's worth at once, then nothing */
    ASSERT_EQ(passes(r, "192.0.2.1", 25, t), 10);
    /* the whole /24 shares it; another /24 has its own */
    ASSERT_EQ(passes(r, "192.0.2.99", 1, t), 0);
    ASSERT_EQ(passes(r, "192.0.3.1", 25, t), 10);
    /* refill: 10 per second, one every 100 ms */
    ASSERT_EQ(passes(r, "192.0.2.1", 5, t + 99), 0);
    ASSERT_EQ(passes(r, "192.0.2.1", 5, t + 100), 1);
    ASSERT_EQ(passes(r, "192.0.2.1", 5, t + 350), 2);
    /* a long quiet time refills to one second's worth, no more */
    ASSERT_EQ(passes(r, "192.0.2.1", 100, t + 60000), 10);
    /* at a steady 10 per second every answer passes, at 20 half of them */
    int ok = 0;
    for (int i = 1; i <= 100; i++)
        ok += passes(r, "198.51.100.1", 1, t + (uint64_t)i * 100);
    ASSERT_EQ(ok, 100);
    ok = 0;
    for (int i = 1; i <= 200; i++)
        ok += passes(r, "198.51.100.1", 1, t + 10000 + (uint64_t)i * 50);
    ASSERT(ok >= 100 && ok <= 111);
    /* IPv6: per /56 */
    ASSERT_EQ(passes(r, "2001:db8:0:1::1", 12, t), 10);
    ASSERT_EQ(passes(r, "2001:db8:0:ff::2", 1, t), 0);
    ASSERT_EQ(passes(r, "2001:db8:0:100::1", 1, t), 1);
    /* a thread whose clock read is older than the bucket's stamp gets no
     * extra tokens, and does not move the stamp back */
    ASSERT_EQ(passes(r, "203.0.113.1", 10, t + 1000), 10);
    ASSERT_EQ(passes(r, "203.0.113.1", 1, t + 900), 0);
    ASSERT_EQ(passes(r, "203.0.113.1", 1, t + 1100), 1);
    /* the 32-bit clock wraps: time still moves forward */
    uint64_t w = 0xffffff00ULL;
    ASSERT_EQ(passes(r, "203.0.114.77", 20, w), 10);
    ASSERT_EQ(passes(r, "203.0.114.77", 1, w + 0x100 + 100), 1);
    /* a bucket emptied, then idle for 30 days: full again */
    ASSERT_EQ(passes(r, "203.0.113.1", 20, t + 1100 + 30ULL * 86400000), 10);
    mirror_rrl_free(r);
}

static void test_rrl_slip_whitelist(void)
{
    const char *wl_lines[] = {"allow 192.0.2.0/28", NULL};
    mirror_acl_t *wl = acl_of(wl_lines, MIRROR_ACL_REFUSE);
    mirror_rrl_t *r = rrl(5, 3, wl);
    mirror_ip_t x = ip("198.51.100.3");
    int pass = 0, drop = 0, slip = 0;
    for (int i = 0; i < 65; i++) {
        int v = mirror_rrl_check(r, &x, 1000);
        pass += v == MIRROR_RRL_PASS;
        drop += v == MIRROR_RRL_DROP;
        slip += v == MIRROR_RRL_SLIP;
    }
    ASSERT_EQ(pass, 5);
    ASSERT_EQ(slip, 20); /* every third of the 60 limited */
    ASSERT_EQ(drop, 40);
    /* whitelisted: never limited, and spends no tokens of its /24 */
    ASSERT_EQ(passes(r, "192.0.2.5", 1000, 1000), 1000);
    ASSERT_EQ(passes(r, "192.0.2.100", 10, 1000), 5);
    mirror_rrl_free(r);
    /* slip 1: every limited answer goes out truncated; 0: none does */
    r = rrl(1, 1, NULL);
    ASSERT_EQ(mirror_rrl_check(r, &x, 1), MIRROR_RRL_PASS);
    ASSERT_EQ(mirror_rrl_check(r, &x, 1), MIRROR_RRL_SLIP);
    ASSERT_EQ(mirror_rrl_check(r, &x, 1), MIRROR_RRL_SLIP);
    mirror_rrl_free(r);
    r = rrl(1, 0, NULL);
    ASSERT_EQ(mirror_rrl_check(r, &x, 1), MIRROR_RRL_PASS);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(mirror_rrl_check(r, &x, 1), MIRROR_RRL_DROP);
    mirror_rrl_free(r);
    mirror_acl_free(wl);
}

static void test_truncate(void)
{
    /* id 1, QR AA, 1 question, 1 answer, 0 ns, 1 additional; q 2.0.0.127.bl A IN */
    uint8_t p[128] = {0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 1};
    size_t n = 12;
    const char *labels[] = {"2", "0", "0", "127", "bl"};
    for (int i = 0; i < 5; i++) {
        p[n++] = (uint8_t)strlen(labels[i]);
        memcpy(p + n, labels[i], strlen(labels[i]));
        n += strlen(labels[i]);
    }
    p[n++] = 0;
    size_t qend = n + 4;
    memcpy(p + n, "\0\1\0\1", 4);
    n += 4;
    memset(p + n, 0xab, 27); /* answer and OPT, whatever they are */
    n += 27;
    ASSERT_EQ(mirror_rrl_truncate(p, n), qend);
    ASSERT(p[2] & 0x02);
    ASSERT_EQ(p[4] << 8 | p[5], 1);
    for (int i = 6; i < 12; i++)
        ASSERT_EQ(p[i], 0);
    /* no question, a cut name: nothing to send */
    uint8_t h[12] = {0, 1, 0x84, 0};
    ASSERT_EQ(mirror_rrl_truncate(h, 12), 0);
    p[5] = 1;
    ASSERT_EQ(mirror_rrl_truncate(p, 16), 0);
}

static void test_query_log_bound(void)
{
    /* the log goes to a file: count the lines */
    char path[] = "/tmp/test_qlog.XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    bl_log_init("test", BL_LOG_INFO, 0);
    mirror_qlog_t l = {.sample = 3, .max_per_s = 4};
    unsigned ctr = 0;
    uint8_t q[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, '1', 2, 'b', 'l', 0, 0, 16, 0, 1};
    mirror_dns_info_t info = {.rcode = MIRROR_RC_NXDOMAIN};
    mirror_ip_t c = ip("192.0.2.44");
    int sampled = 0;
    for (int i = 0; i < 60; i++) /* 60 queries in second 7: 20 sampled, 4 written */
        if (mirror_qlog_sampled(&l, &ctr)) {
            sampled++;
            mirror_qlog_write(&l, &c, 0, q, sizeof q, &info, NULL, 7000 + (uint64_t)i);
        }
    ASSERT_EQ(sampled, 20);
    mirror_qlog_write(&l, &c, 1, q, sizeof q, &info, NULL, 8000); /* the next second */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    char line[512];
    int queries = 0, summaries = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "event=query ")) {
            queries++;
            ASSERT(strstr(line, "client=192.0.2.44"));
            ASSERT(strstr(line, "qname=1.bl."));
            ASSERT(strstr(line, "qtype=16"));
            ASSERT(strstr(line, "rcode=NXDOMAIN"));
        }
        if (strstr(line, "event=query_log_suppressed lines=16 "))
            summaries++;
    }
    fclose(f);
    unlink(path);
    ASSERT_EQ(queries, 5);
    ASSERT_EQ(summaries, 1);
}

/* A query for name (dotted) of type and class; nsid: with an OPT record
 * asking for the NSID (and a cookie option before it). Returns its length. */
static size_t mkq(uint8_t *q, const char *name, uint16_t type, uint16_t cls, int opt, int nsid)
{
    uint8_t h[12] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, opt ? 1 : 0};
    memcpy(q, h, 12);
    size_t n = 12;
    n += mirror_dns_name_to_wire(name, q + n, NULL);
    q[n++] = (uint8_t)(type >> 8);
    q[n++] = (uint8_t)type;
    q[n++] = (uint8_t)(cls >> 8);
    q[n++] = (uint8_t)cls;
    if (opt) {
        uint8_t o[] = {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0};
        memcpy(q + n, o, sizeof o);
        n += sizeof o;
        size_t rdl = n - 2, len = 0;
        uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
        memcpy(q + n, cookie, sizeof cookie);
        n += sizeof cookie;
        len += sizeof cookie;
        if (nsid) {
            uint8_t ns[] = {0, 3, 0, 0};
            memcpy(q + n, ns, sizeof ns);
            n += sizeof ns;
            len += sizeof ns;
        }
        q[rdl] = (uint8_t)(len >> 8);
        q[rdl + 1] = (uint8_t)len;
    }
    return n;
}

/* The query entry of dns.c: the server's ACL, the CH identity, NSID. */
static void test_dns_entry(void)
{
    const char *lines[] = {"refuse 192.0.2.0/24", "drop 198.51.100.0/24", NULL};
    _Atomic(mirror_acl_t *) acl = acl_of(lines, MIRROR_ACL_REFUSE);
    static const uint8_t nsid[] = "mirror-7";
    mirror_ip_t peer = ip("203.0.113.9");
    mirror_dns_ctx_t c = {.udp_max = 1232,
                          .peer = &peer,
                          .acl = &acl,
                          .identity = "m7.example",
                          .identity_len = 10,
                          .nsid = nsid,
                          .nsid_len = 8};
    uint8_t q[512], out[1232];
    mirror_dns_info_t info;
    /* CH TXT id.server, any case: the identity, class CH, authoritative */
    size_t ql = mkq(q, "ID.Server", 16, 3, 0, 0);
    size_t n = mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.rcode, MIRROR_RC_NOERROR);
    ASSERT_EQ(out[7], 1);           /* one answer */
    ASSERT(out[2] & 0x04);          /* AA */
    ASSERT_EQ(n, ql + 12 + 1 + 10); /* the question, then the TXT record */
    ASSERT_EQ(out[ql + 4] << 8 | out[ql + 5], 3);
    ASSERT_MEMEQ(out + ql + 13, "m7.example", 10);
    ql = mkq(q, "hostname.bind", 255, 3, 0, 0);
    mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(out[7], 1);
    ql = mkq(q, "hostname.bind", 1, 3, 0, 0); /* another type: NODATA */
    mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.rcode, MIRROR_RC_NOERROR);
    ASSERT_EQ(out[7], 0);
    ql = mkq(q, "version.bind", 16, 3, 0, 0);
    mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.rcode, MIRROR_RC_REFUSED);
    ql = mkq(q, "id.server.x", 16, 3, 0, 0);
    mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.rcode, MIRROR_RC_REFUSED);
    /* NSID: only when the OPT record asks, after other options */
    ql = mkq(q, "id.server", 16, 3, 1, 1);
    n = mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(out[11], 1);
    ASSERT_EQ(out[n - 14] << 8 | out[n - 13], 12); /* OPT rdlength: one option */
    ASSERT_EQ(out[n - 12] << 8 | out[n - 11], 3);
    ASSERT_EQ(out[n - 10] << 8 | out[n - 9], 8);
    ASSERT_MEMEQ(out + n - 8, "mirror-7", 8);
    ql = mkq(q, "id.server", 16, 3, 1, 0);
    n = mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(out[n - 2] << 8 | out[n - 1], 0); /* OPT without options */
    /* the server's ACL: refused with the question, or nothing at all */
    peer = ip("192.0.2.77");
    ql = mkq(q, "id.server", 16, 3, 1, 1);
    n = mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.rcode, MIRROR_RC_REFUSED);
    ASSERT_EQ(info.denied, MIRROR_ACL_REFUSE);
    ASSERT_EQ(out[7], 0);
    ASSERT(n > 12);
    peer = ip("198.51.100.1");
    ASSERT_EQ(mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info), 0);
    ASSERT_EQ(info.denied, MIRROR_ACL_DROP);
    /* no peer (not known): no ACL applies; no identity: CH is REFUSED */
    c.peer = NULL;
    c.identity = NULL;
    mirror_dns_answer_ex(&c, q, ql, out, sizeof out, 0, &info);
    ASSERT_EQ(info.denied, 0);
    ASSERT_EQ(info.rcode, MIRROR_RC_REFUSED);
    mirror_acl_free(acl);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_match);
    RUN(test_match_many);
    RUN(test_rbldnsd_import);
    RUN(test_rrl_bucket);
    RUN(test_rrl_slip_whitelist);
    RUN(test_truncate);
    RUN(test_query_log_bound);
    RUN(test_dns_entry);
    return 0;
}

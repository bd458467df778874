/* SPDX-License-Identifier: MIT */
/* Unit tests of the rbldnsd data file parser (proto/rbldnsd_data.c). */
#include "test.h"

#include "err.h"
#include "rbldnsd_data.h"

typedef struct {
    char out[8192];
    size_t n;
} acc_t;

static int rec(void *ctx, const bl_rbldnsd_rec_t *r)
{
    acc_t *a = ctx;
    char p[BL_PREFIX_STRLEN], av[16];
    /* the A value: its last octet when in 127.0.0.0/24, else the address */
    if (r->a4 >> 8 == 0x7f0000)
        snprintf(av, sizeof av, "%u", r->a4 & 0xff);
    else
        snprintf(av, sizeof av, "%u.%u.%u.%u", r->a4 >> 24, r->a4 >> 16 & 0xff, r->a4 >> 8 & 0xff,
                 r->a4 & 0xff);
    a->n += (size_t)snprintf(a->out + a->n, sizeof a->out - a->n, "%s%s a=%s txt=%s|",
                             r->excluded ? "!" : "", bl_prefix_format(&r->key, p, sizeof p), av,
                             r->txt ? r->txt : "(none)");
    return 0;
}

static const char *parse(int kind, const char *text)
{
    static acc_t a;
    memset(&a, 0, sizeof a);
    bl_rbldnsd_sink_t s = {&a, rec, NULL, NULL};
    unsigned line = 0;
    const char *msg = NULL;
    int rc = bl_rbldnsd_parse(text, strlen(text), kind, &s, &line, &msg);
    if (rc)
        snprintf(a.out, sizeof a.out, "ERR %d line %u %s", rc, line, msg);
    return a.out;
}

static int skip(void *ctx, unsigned line, const char *msg);

/* Like parse(), with every bad line skipped and named ("bad LINE MSG|"). */
static const char *parse_all(int kind, const char *text)
{
    static acc_t a;
    memset(&a, 0, sizeof a);
    bl_rbldnsd_sink_t s = {&a, rec, skip, NULL};
    unsigned line = 0;
    int rc = bl_rbldnsd_parse(text, strlen(text), kind, &s, &line, NULL);
    if (rc)
        snprintf(a.out, sizeof a.out, "ERR %d line %u", rc, line);
    return a.out;
}

static void test_ip4set_forms(void)
{
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "127.0.0.0/24\n127.0.0\n127/24\n"),
                 "127.0.0.0/24 a=2 txt=(none)|127.0.0.0/24 a=2 txt=(none)|"
                 "127.0.0.0/24 a=2 txt=(none)|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "127.0.0.1-255\n"),
                 "127.0.0.1 a=2 txt=(none)|127.0.0.2/31 a=2 txt=(none)|127.0.0.4/30 a=2 "
                 "txt=(none)|127.0.0.8/29 a=2 txt=(none)|127.0.0.16/28 a=2 txt=(none)|"
                 "127.0.0.32/27 a=2 txt=(none)|127.0.0.64/26 a=2 txt=(none)|127.0.0.128/25 a=2 "
                 "txt=(none)|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "127.16-31\n127.16.0.0-127.31.255.255\n"),
                 "127.16.0.0/12 a=2 txt=(none)|127.16.0.0/12 a=2 txt=(none)|");
    /* as rbldnsd 1.0: a bare number is no entry ("10/8" is), and both ends of
     * a range have as many octets unless the second is one (a suffix) */
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4SET, "10\n10/8\n10.5-6\n10.7.0.0-10.7.1\n"
                                              "10.8-10.8.1.1\n10.9.1-3\n"),
                 "bad 1 invalid address|10.0.0.0/8 a=2 txt=(none)|10.5.0.0/16 a=2 txt=(none)|"
                 "10.6.0.0/16 a=2 txt=(none)|bad 4 invalid address|bad 5 invalid address|"
                 "10.9.1.0/24 a=2 txt=(none)|10.9.2.0/23 a=2 txt=(none)|");
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4TRIE, "61\n62/8\n"),
                 "bad 1 invalid address|62.0.0.0/8 a=2 txt=(none)|");
    /* $MAXRANGE4 skips wider entries from its line on, and never grows */
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4SET, "10.0.0.0/16\n$MAXRANGE4 /24\n10.1.0.0/16\n"
                                              "10.2.0.0/24\n10.3.0.0-10.3.1.0\n$MAXRANGE4 /16\n"
                                              "10.4.0.0/20\n$maxrange4 16\n10.5.0.0/27\n"
                                              "10.6.0.0/28\n"),
                 "10.0.0.0/16 a=2 txt=(none)|bad 3 too large range ($MAXRANGE4)|"
                 "10.2.0.0/24 a=2 txt=(none)|bad 5 too large range ($MAXRANGE4)|"
                 "bad 7 too large range ($MAXRANGE4)|bad 9 too large range ($MAXRANGE4)|"
                 "10.6.0.0/28 a=2 txt=(none)|");
    /* a CR is no white space in rbldnsd: CRLF lines are entries with junk */
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4SET, "1.2.3.4\r\n1.2.3.5 :3:t\r\n"),
                 "bad 1 invalid address|1.2.3.5 a=3 txt=t\r|");
    /* ip4tset: whole addresses, no exclusions, the first default line */
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4TSET, ":3:T\n1.2.3.4\n1.2.4.0/24\n1.2.5\n"
                                               "1.2.6.1-1.2.6.2\n!1.2.3.4\n:4:U\n1.2.3.5\n"),
                 "1.2.3.4 a=3 txt=T|bad 3 invalid address|bad 4 invalid address|"
                 "bad 5 invalid address|bad 6 invalid address|1.2.3.5 a=3 txt=T|");
    /* host bits are refused, like rbldnsd: "invalid range (non-zero host part)" */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "10.1.2.3/16\n"),
                 "ERR -25 line 1 invalid range (non-zero host part)");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP6TRIE, "2001:db8::1/32\n"),
                 "ERR -25 line 1 invalid range (non-zero host part)");
}

static void test_values(void)
{
    const char *data = "# comment\n"
                       "; another\n"
                       ":127.0.0.2:IP address $ is listed\n"
                       "1.0.0.4\n"
                       "1.0.0.5 :5\n"
                       "1.0.0.6 :6:\n"
                       "1.0.0.7 IP address $ running an open relay\n"
                       "1.0.0.8 :127.0.0.8:Eight $$ $\n"
                       "!1.0.0.9 :9:ignored\n"
                       "1.0.0.10 # default values\n";
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, data),
                 "1.0.0.4 a=2 txt=IP address $ is listed|1.0.0.5 a=5 txt=IP address $ is listed|"
                 "1.0.0.6 a=6 txt=(none)|1.0.0.7 a=2 txt=IP address $ running an open relay|"
                 "1.0.0.8 a=8 txt=Eight $$ $|!1.0.0.9 a=2 txt=IP address $ is listed|"
                 "1.0.0.10 a=2 txt=IP address $ is listed|");
    /* substitution variables (rbldnsd(8)'s example) */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "$1 See http://x/bl\n$2 for details\n"
                                          "1.0.0.2 $1/spammer/$ $2\n"
                                          "1.0.0.4 This spammer wants some $$$$.  $1/$\n"),
                 "1.0.0.2 a=2 txt=See http://x/bl/spammer/$ for details|"
                 "1.0.0.4 a=2 txt=This spammer wants some $$$$.  See http://x/bl/$|");
    /* as rbldnsd substitutes per query: the first assignment counts wherever
     * it stands, a variable's text is literal, an unset one stays "$n" */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "$1 first $\n$1 second\n1.0.0.1 $1|$2|$9\n$2 later\n"),
                 "1.0.0.1 a=2 txt=first $$|later|$$9|");
    /* a leading '=' is dropped; "$=" without a base is the whole template */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "1.0.0.1 =x $\n1.0.0.2 a $= b\n"),
                 "1.0.0.1 a=2 txt=x $|1.0.0.2 a=2 txt=a a $$= b b|");
    /* the base template: "$=" the entry's text as written, else the address;
     * an entry without a text has one too; "=" escapes it */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, ":2:d $\n1.0.0.1\n1.0.0.2 :3:\n1.0.0.3 =own $\n"
                                          "1.0.0.4 r123\n$= Base [$=] ($)\n$= ignored\n"),
                 "1.0.0.1 a=2 txt=Base [d $$] ($)|1.0.0.2 a=3 txt=Base [$] ($)|"
                 "1.0.0.3 a=2 txt=own $|1.0.0.4 a=2 txt=Base [r123] ($)|");
    /* the A value: any inet_aton form right after the colon, then ':' or the
     * end; any IPv4 address but 0.0.0.0 (rbldnsd answers it as it is); a bad
     * default line changes nothing */
    ASSERT_STREQ(parse_all(BL_RBLDNSD_IP4SET, ":3:x\n:0:y\n1.0.0.1\n1.0.0.2 :127.5:five\n"
                                              "1.0.0.3 : 5:x\n1.0.0.4 :\n1.0.0.5 ::t\n"
                                              "1.0.0.6 :5 junk\n1.0.0.7 :127.0.1.2:t\n"
                                              "1.0.0.8 :127.0.0.9 : t\n1.0.0.9 :10.1.2\n"
                                              "1.0.0.10 :0.0.0.0:zero\n"),
                 "bad 2 invalid A RR|1.0.0.1 a=3 txt=x|1.0.0.2 a=5 txt=five|bad 5 invalid A RR|"
                 "bad 6 invalid A RR|bad 7 invalid A RR|bad 8 unrecognized value for an entry|"
                 "1.0.0.7 a=127.0.1.2 txt=t|1.0.0.8 a=9 txt=t|1.0.0.9 a=10.1.0.2 txt=x|"
                 "bad 12 invalid A RR|");
    /* a default line with an A value outside 127.0.0.0/24 (rbldnsd(8)'s
     * example :127.0.1.2:) is every following entry's, in every dataset */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, ":127.0.1.2:Listed $\n1.0.0.1\n1.0.0.2 :1.2.3.4\n"
                                          "1.0.0.3 :4:own\n:5.6.7.8\n1.0.0.4\n"),
                 "1.0.0.1 a=127.0.1.2 txt=Listed $|1.0.0.2 a=1.2.3.4 txt=Listed $|"
                 "1.0.0.3 a=4 txt=own|1.0.0.4 a=5.6.7.8 txt=(none)|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4TSET, ":10.0.0.1:t\n1.2.3.4\n"), "1.2.3.4 a=10.0.0.1 txt=t|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4TRIE, ":10.0.0.1\n1.2.3.0/24\n1.2.3.4 :255.255.255.255:b\n"),
                 "1.2.3.0/24 a=10.0.0.1 txt=(none)|1.2.3.4 a=255.255.255.255 txt=b|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP6TRIE, ":127.0.1.2:six\n2001:db8::/32\n"),
                 "2001:db8::/32 a=127.0.1.2 txt=six|");
    /* $SOA/$NS/$TTL are accepted and ignored */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "$SOA 0 ns.x. h.x. 0 1 1 1 1\n$NS 0 ns.x.\n$TTL 60\n"
                                          "1.2.3.4\n"),
                 "1.2.3.4 a=2 txt=(none)|");
    /* ip4tset ignores per-entry values */
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4TSET, ":3:T $\n1.2.3.4 :9:x\n"), "1.2.3.4 a=3 txt=T $|");
}

static void test_ip6(void)
{
    ASSERT_STREQ(parse(BL_RBLDNSD_IP6TSET, ":127.0.0.3:six $\n2001:db8:1:2\n"
                                           "!2001:db8:1:2::5\n!2001:db8:1:2:0:0:0:6\n"),
                 "2001:db8:1:2::/64 a=3 txt=six $|!2001:db8:1:2::5 a=3 txt=six $|"
                 "!2001:db8:1:2::6 a=3 txt=six $|");
    ASSERT(strncmp(parse(BL_RBLDNSD_IP6TSET, "2001:db8::/32\n"), "ERR", 3) == 0);
    /* ip6tset takes no "/len", even /64 */
    ASSERT(strncmp(parse(BL_RBLDNSD_IP6TSET, "2001:db8:1:2::/64\n"), "ERR", 3) == 0);
    ASSERT_STREQ(parse(BL_RBLDNSD_IP6TRIE, "2001:21ab:c000/36\n2001:21ab:def7:4242 :3:Funny\n"
                                           "::1\n!2605:6001:42::bead\n"),
                 "2001:21ab:c000::/36 a=2 txt=(none)|2001:21ab:def7:4242::/64 a=3 txt=Funny|"
                 "::1 a=2 txt=(none)|!2605:6001:42::bead a=2 txt=(none)|");
}

static void test_errors(void)
{
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "1.2.3.4\n1.2.3.400\n"),
                 "ERR -25 line 2 invalid address");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "1.2.3.4x\n"), "ERR -25 line 1 invalid address");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "1.2.3.4 :1.2.3.4:x\n"), "1.2.3.4 a=1.2.3.4 txt=x|");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4SET, "1.2.3.9-1.2.3.1\n"), "ERR -25 line 1 invalid address");
    ASSERT_STREQ(parse(BL_RBLDNSD_IP4TRIE, "1.2.3.0-1.2.3.9\n"), "ERR -25 line 1 invalid address");
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ASSERT(strncmp(parse(BL_RBLDNSD_IP4SET, big), "ERR -30 line 1 line too long", 28) == 0);
    ASSERT_EQ(bl_rbldnsd_kind_parse("ip4set"), BL_RBLDNSD_IP4SET);
    ASSERT_EQ(bl_rbldnsd_kind_parse("ip6trie"), BL_RBLDNSD_IP6TRIE);
    ASSERT_EQ(bl_rbldnsd_kind_parse("dnset"), -1);
}

static int skip(void *ctx, unsigned line, const char *msg)
{
    acc_t *a = ctx;
    a->n += (size_t)snprintf(a->out + a->n, sizeof a->out - a->n, "bad %u %s|", line, msg);
    return 0;
}

/* $SOA, $NS, $TTL, $TIMESTAMP and the default line's text go into the meta;
 * bad lines are skipped and counted when the sink says so. */
static void test_directives_and_skips(void)
{
    static acc_t a;
    memset(&a, 0, sizeof a);
    bl_rbldnsd_meta_t m;
    memset(&m, 0, sizeof m);
    bl_rbldnsd_sink_t s = {&a, rec, skip, &m};
    const char *text = "$SOA 1h ns1.example.org. admin.example.org. 0 600 300 1d 5m\n"
                       "$SOA 9 ignored. ignored. 9 9 9 9 9\n"
                       "$NS 3600 ns1.example.org. -off.example.org ns2.example.org.\n"
                       "$TTL 20m\n"
                       "$TIMESTAMP 2020:01:01:00:00 2021-01-01\n"
                       ":127.0.0.3:Listed: $\n"
                       "203.0.113.129/25\n"
                       "1.2.3.4\n"
                       "10.300.0.0/16\n"
                       "$SOA broken\n"
                       "5.6.7.8 :4:four\n";
    unsigned line = 0;
    ASSERT_EQ(bl_rbldnsd_parse(text, strlen(text), BL_RBLDNSD_IP4SET, &s, &line, NULL), 0);
    ASSERT_STREQ(a.out, "bad 7 invalid range (non-zero host part)|1.2.3.4 a=3 txt=Listed: $|"
                        "bad 9 invalid address|bad 10 invalid directive|5.6.7.8 a=4 txt=four|");
    ASSERT_EQ(m.bad, 3);
    ASSERT(m.has_soa);
    ASSERT_EQ(m.soa_ttl, 3600);
    ASSERT_STREQ(m.mname, "ns1.example.org.");
    ASSERT_STREQ(m.rname, "admin.example.org.");
    ASSERT_EQ(m.serial, 0);
    ASSERT_EQ(m.refresh, 600);
    ASSERT_EQ(m.expire, 86400);
    ASSERT_EQ(m.minttl, 300);
    ASSERT_EQ(m.nns, 2);
    ASSERT_STREQ(m.ns[1], "ns2.example.org.");
    ASSERT(m.has_ttl);
    ASSERT_EQ(m.ttl, 1200);
    ASSERT_EQ(m.stamp, 1577836800);
    ASSERT_EQ(m.expires, 1609459200);
    ASSERT(m.has_def_txt);
    ASSERT_STREQ(m.def_txt, "Listed: $");
    /* keywords in any case; a $SOA or $NS TTL of 0 is the $TTL above it */
    memset(&m, 0, sizeof m);
    const char *t1 = "$ttl 2h\n$Soa 0 a. b. 1 2 3 4 5\n$ns 0 c.\n$TTL 900\n";
    ASSERT_EQ(bl_rbldnsd_parse(t1, strlen(t1), BL_RBLDNSD_IP4SET, &s, &line, NULL), 0);
    ASSERT_EQ(m.soa_ttl, 7200);
    ASSERT_EQ(m.ns_ttl, 7200);
    ASSERT_EQ(m.ttl, 900);
    memset(&m, 0, sizeof m);
    const char *t3 = "$SOA 0 a. b. 1 2 3 4 5\n$TTL 900\n";
    ASSERT_EQ(bl_rbldnsd_parse(t3, strlen(t3), BL_RBLDNSD_IP4SET, &s, &line, NULL), 0);
    ASSERT_EQ(m.soa_ttl, 0);
    /* "+rel" expiry */
    memset(&m, 0, sizeof m);
    const char *t2 = "$TIMESTAMP 20200101 +2d\n";
    ASSERT_EQ(bl_rbldnsd_parse(t2, strlen(t2), BL_RBLDNSD_IP4SET, &s, &line, NULL), 0);
    ASSERT_EQ(m.expires, 1577836800 + 2 * 86400);
}

int main(void)
{
    RUN(test_directives_and_skips);
    RUN(test_ip4set_forms);
    RUN(test_values);
    RUN(test_ip6);
    RUN(test_errors);
    return 0;
}

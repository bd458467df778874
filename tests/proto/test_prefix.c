/* SPDX-License-Identifier: MIT */
/* Prefix parsing, formatting, ordering and containment. */
#include "entry.h"
#include "err.h"
#include "test.h"

static void parse_ok(const char *in, const char *out)
{
    bl_prefix_t p;
    char buf[BL_PREFIX_STRLEN];
    int rc = bl_prefix_parse(in, &p);
    if (rc)
        BL_FAIL("parse %s: %s", in, bl_strerror(rc));
    ASSERT_STREQ(bl_prefix_format(&p, buf, sizeof buf), out);
}

static void test_parse(void)
{
    parse_ok("1.2.3.4", "1.2.3.4");
    parse_ok("1.2.3.4/32", "1.2.3.4");
    parse_ok("10.0.0.0/8", "10.0.0.0/8");
    parse_ok("0.0.0.0/0", "0.0.0.0/0");
    parse_ok("2001:db8::/32", "2001:db8::/32");
    parse_ok("2001:DB8::1", "2001:db8::1");
    parse_ok("::ffff:127.0.0.2", "::ffff:127.0.0.2");
    bl_prefix_t p;
    ASSERT_EQ(bl_prefix_parse("10.0.0.1/8", &p), BL_EHOSTBITS);
    ASSERT_EQ(bl_prefix_parse("2001:db8::1/32", &p), BL_EHOSTBITS);
    const char *bad[] = {"",           "1.2.3",       "1.2.3.4/33",       "1.2.3.4/",
                         "1.2.3.4/a",  "example.com", "user@example.com", "::1/129",
                         "1.2.3.4/-1", "1.2.3.256",   "1.2.3.4 ",         "1.2.3.4/0032"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bl_prefix_parse(bad[i], &p) != BL_EPREFIX)
            BL_FAIL("'%s' should be refused as malformed", bad[i]);
    ASSERT_EQ(bl_prefix_parse_loose("10.1.2.3/8", &p), 0);
    char buf[BL_PREFIX_STRLEN];
    ASSERT_STREQ(bl_prefix_format(&p, buf, sizeof buf), "10.0.0.0/8");
}

static void test_order_contains(void)
{
    bl_prefix_t a, b, c, d;
    bl_prefix_parse("10.0.0.0/8", &a);
    bl_prefix_parse("10.0.0.0/16", &b);
    bl_prefix_parse("10.1.0.0/16", &c);
    bl_prefix_parse("::/0", &d);
    ASSERT(bl_prefix_cmp(&a, &b) < 0); /* same address: shorter first */
    ASSERT(bl_prefix_cmp(&b, &c) < 0);
    ASSERT(bl_prefix_cmp(&c, &d) < 0); /* IPv4 before IPv6 */
    bl_prefix_t h;
    bl_prefix_parse("10.1.2.3", &h);
    ASSERT(bl_prefix_contains(&a, &h));
    ASSERT(!bl_prefix_contains(&b, &h));
    ASSERT(bl_prefix_contains(&c, &h));
    ASSERT(!bl_prefix_contains(&d, &h));
    bl_prefix_parse("2001:db8:8000::/33", &a);
    bl_prefix_parse("2001:db8:ffff::1", &h);
    ASSERT(bl_prefix_contains(&a, &h));
    bl_prefix_parse("2001:db8:7fff::1", &h);
    ASSERT(!bl_prefix_contains(&a, &h));
}

int main(void)
{
    RUN(test_parse);
    RUN(test_order_contains);
    return 0;
}

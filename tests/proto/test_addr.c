/* SPDX-License-Identifier: MIT */
/* The address rules (proto/addr.c): every refusal with its own message, mapping, test entries. */
#include "addr.h"
#include "err.h"
#include "test.h"

#define ANY    BL_ADDR_PREFIX
#define ONE    0
#define MIN4   8
#define MIN6   32
#define LOOP4  "127.0.0.0/8 is loopback"
#define LOOP6  "loopback address: only the RFC 5782 test entry ::ffff:127.0.0.2"
#define WIDER  "prefix is wider than the configured limit"
#define NOTPFX "expected one IP address, not a prefix"

/* s is accepted as the key printed as want. */
static void ok(const char *s, int flags, const char *want)
{
    bl_prefix_t k;
    const char *why;
    int rc = bl_addr_check(s, flags, MIN4, MIN6, &k, &why);
    if (rc)
        BL_FAIL("'%s' refused: %s", s, why);
    ASSERT(why == NULL);
    char buf[BL_PREFIX_STRLEN];
    ASSERT_STREQ(bl_prefix_format(&k, buf, sizeof buf), want);
}

/* s is refused with code rc and a message that starts with msg. */
static void refused(const char *s, int flags, int rc, const char *msg)
{
    bl_prefix_t k;
    const char *why = NULL;
    int got = bl_addr_check(s, flags, MIN4, MIN6, &k, &why);
    if (got != rc)
        BL_FAIL("'%s': got %s (%s), want %s", s, bl_strerror(got), why ? why : "-",
                bl_strerror(rc));
    if (!why || strncmp(why, msg, strlen(msg)))
        BL_FAIL("'%s': message \"%s\", want \"%s...\"", s, why ? why : "(null)", msg);
}

static void test_listable(void)
{
    ok("192.0.2.1", ONE, "192.0.2.1");
    ok("2001:db8::1", ONE, "2001:db8::1");
    ok("198.51.100.0/24", ANY, "198.51.100.0/24");
    ok("192.0.2.1/32", ANY, "192.0.2.1");
    ok("10.0.0.0/8", ANY, "10.0.0.0/8");
    ok("2001:db8::/32", ANY, "2001:db8::/32");
    ok("1.0.0.0", ONE, "1.0.0.0");
    ok("223.255.255.255", ONE, "223.255.255.255");
    ok("126.255.255.255", ONE, "126.255.255.255");
    ok("128.0.0.0", ONE, "128.0.0.0");
    ok("fe80::1", ONE, "fe80::1");
    ok("feff::/32", ANY, "feff::/32");
}

static void test_test_entries(void)
{
    ok("127.0.0.2", ONE, "127.0.0.2");
    ok("127.0.0.2/32", ANY, "127.0.0.2");
    ok("::ffff:127.0.0.2", ONE, "::ffff:127.0.0.2"); /* stays IPv6: RFC 5782 section 5 */
    refused("127.0.0.1", ONE, BL_EINVAL, LOOP4);
    refused("127.0.0.3", ONE, BL_EINVAL, LOOP4);
    refused("127.0.0.0/30", ANY, BL_EINVAL, LOOP4);
    refused("::ffff:127.0.0.1", ONE, BL_EINVAL, LOOP4); /* mapped, then judged as IPv4 */
}

/* Point 6 of issue 14: addresses nobody should list, each with its own message. */
static void test_special(void)
{
    refused("0.0.0.0", ONE, BL_EINVAL, "unspecified address (0.0.0.0)");
    refused("0.0.0.0", ANY, BL_EINVAL, "unspecified address (0.0.0.0)");
    refused("0.1.2.3", ONE, BL_EINVAL, "\"this network\" (0.0.0.0/8");
    refused("0.0.0.0/8", ANY, BL_EINVAL, "\"this network\" (0.0.0.0/8");
    refused("255.255.255.255", ONE, BL_EINVAL, "limited broadcast address");
    refused("224.0.0.1", ONE, BL_EINVAL, "multicast (224.0.0.0/4)");
    refused("239.255.255.250", ONE, BL_EINVAL, "multicast (224.0.0.0/4)");
    refused("224.0.0.0/8", ANY, BL_EINVAL, "multicast (224.0.0.0/4)");
    refused("240.0.0.1", ONE, BL_EINVAL, "reserved (240.0.0.0/4");
    refused("::", ONE, BL_EINVAL, "unspecified address (::)");
    refused("::1", ONE, BL_EINVAL, LOOP6);
    refused("ff02::1", ONE, BL_EINVAL, "multicast (ff00::/8)");
    refused("ff02::/32", ANY, BL_EINVAL, "multicast (ff00::/8)");
    refused("::5.6.7.80", ONE, BL_EINVAL, "IPv4-compatible address");
    refused("::ffff:0.0.0.0", ONE, BL_EINVAL, "unspecified address (0.0.0.0)");
    refused("::ffff:224.0.0.1", ONE, BL_EINVAL, "multicast (224.0.0.0/4)");
}

/* Prefixes that overlap a special range are refused, even when wide enough. */
static void test_overlap(void)
{
    bl_prefix_t k;
    const char *why;
    ASSERT_EQ(bl_addr_check("192.0.0.0/2", ANY, 0, 0, &k, &why), BL_EINVAL);
    ASSERT(!strncmp(why, "multicast", 9));
    ASSERT_EQ(bl_addr_check("0.0.0.0/7", ANY, 0, 0, &k, &why), BL_EINVAL);
    ASSERT(!strncmp(why, "\"this network\"", 14));
    ASSERT_EQ(bl_addr_check("::/64", ANY, 0, 0, &k, &why), BL_EINVAL);
    ASSERT(!strncmp(why, "unspecified address (::)", 24));
    ASSERT_EQ(bl_addr_check("::fffe:0:0/95", ANY, 0, 0, &k, &why), BL_EINVAL);
    ASSERT(strstr(why, "loopback"));
    ASSERT_EQ(bl_addr_check("fe00::/7", ANY, 0, 0, &k, &why), BL_EINVAL);
    ASSERT(!strncmp(why, "multicast (ff00::/8)", 20));
    ASSERT_EQ(bl_addr_check("128.0.0.0/2", ANY, 0, 0, &k, &why), 0); /* 128/2 stops at 191 */
}

static void test_whole_and_wide(void)
{
    /* /0 has its own message, not the loopback one. */
    refused("0.0.0.0/0", ANY, BL_EINVAL, "0.0.0.0/0 is the whole IPv4 address space");
    refused("::/0", ANY, BL_EINVAL, "::/0 is the whole IPv6 address space");
    refused("::ffff:0:0/96", ANY, BL_EINVAL, "0.0.0.0/0 is the whole IPv4 address space");
    refused("10.0.0.0/7", ANY, BL_EINVAL, WIDER);
    refused("2001::/16", ANY, BL_EINVAL, WIDER);
    bl_prefix_t k;
    const char *why;
    ASSERT_EQ(bl_addr_check("0.0.0.0/0", ANY, 0, 0, &k, &why), BL_EINVAL); /* whatever the limit */
    ASSERT_EQ(bl_addr_check("10.0.0.0/7", ANY, 0, 0, &k, &why), 0);
}

static void test_mapped(void)
{
    ok("::ffff:5.6.7.80", ONE, "5.6.7.80");
    ok("::FFFF:5.6.7.80", ONE, "5.6.7.80");
    ok("::ffff:506:750", ONE, "5.6.7.80");
    ok("::ffff:5.6.7.0/120", ANY, "5.6.7.0/24");
    ok("::ffff:10.0.0.0/104", ANY, "10.0.0.0/8");
    refused("::ffff:0.0.0.0/100", ANY, BL_EINVAL, WIDER); /* 0.0.0.0/4 < min_prefix4 */
    bl_prefix_t k;
    const char *why;
    ASSERT_EQ(bl_addr_check("::ffff:5.6.7.80", ONE, MIN4, MIN6, &k, &why), 0);
    ASSERT_EQ(k.af, BL_AF4);
    ASSERT_EQ(k.len, 32);
    ASSERT_EQ(k.addr[4], 0); /* IPv4 keys hold nothing past addr[3] */
}

static void test_reports_take_one_address(void)
{
    refused("192.0.2.1/32", ONE, BL_EINVAL, NOTPFX);
    refused("2001:db8::1/128", ONE, BL_EINVAL, NOTPFX);
    refused("198.51.100.0/24", ONE, BL_EINVAL, NOTPFX);
    refused("0.0.0.0/0", ONE, BL_EINVAL, NOTPFX);
}

static void test_not_addresses(void)
{
    refused("", ONE, BL_EINVAL, "empty address");
    refused("spam@example.com", ONE, BL_EINVAL, "looks like an e-mail address");
    refused("mail.example.com", ONE, BL_EINVAL, "looks like a domain name");
    refused("1.2.3", ONE, BL_EPREFIX, "malformed IP address or CIDR prefix");
    refused("1.2.3.4 ", ONE, BL_EPREFIX, "malformed IP address or CIDR prefix");
    refused("1.2.3.256", ONE, BL_EPREFIX, "malformed IP address or CIDR prefix");
    refused("10.0.0.1/8", ANY, BL_EHOSTBITS, "prefix has host bits set");
    refused("1.2.3.4/33", ANY, BL_EPREFIX, "malformed IP address or CIDR prefix");
    bl_prefix_t k;
    const char *why;
    ASSERT_EQ(bl_addr_check(NULL, ONE, 0, 0, &k, &why), BL_EINVAL);
    ASSERT_STREQ(why, "empty address");
}

/* Every IPv4 /8 once: the rules agree with a plain description of the ranges. */
static void test_every_slash8(void)
{
    for (int a = 0; a < 256; a++) {
        char s[32];
        snprintf(s, sizeof s, "%d.1.2.3", a);
        bl_prefix_t k;
        const char *why;
        int rc = bl_addr_check(s, ONE, MIN4, MIN6, &k, &why);
        int want_refused = a == 0 || a == 127 || a >= 224;
        if (!!rc != want_refused)
            BL_FAIL("%s: %s", s, rc ? why : "accepted");
    }
}

int main(void)
{
    RUN(test_listable);
    RUN(test_test_entries);
    RUN(test_special);
    RUN(test_overlap);
    RUN(test_whole_and_wide);
    RUN(test_mapped);
    RUN(test_reports_take_one_address);
    RUN(test_not_addresses);
    RUN(test_every_slash8);
    return 0;
}

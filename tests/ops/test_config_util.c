/* SPDX-License-Identifier: MIT */
/* Unit tests of the configuration value parsers and their file:line messages. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config_util.h"
#include "err.h"
#include "test.h"

static void test_duration(void)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"0", 0},           {"30", 30000},    {"30s", 30000},    {"4h", 14400000},
        {"1h30m", 5400000}, {"250ms", 250},   {"2d", 172800000}, {"1w", 604800000},
        {"1m1s1ms", 61001}, {"90m", 5400000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        const char *why = NULL;
        if (bl_cfg_duration(ok[i].s, &ms, &why) != 0)
            BL_FAIL("duration '%s' refused: %s", ok[i].s, why);
        ASSERT_EQ(ms, ok[i].ms);
    }
    static const char *const bad[] = {"",
                                      "h",
                                      "4x",
                                      "-1s",
                                      "1h30",
                                      "1.5h",
                                      " 4h",
                                      "4h ",
                                      "4H",
                                      "s4",
                                      "99999999999999999999s",
                                      "106751991167301d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        const char *why = NULL;
        if (bl_cfg_duration(bad[i], &ms, &why) != BL_ECONFIG)
            BL_FAIL("duration '%s' accepted as %lld", bad[i], (long long)ms);
        ASSERT(why && *why);
    }
}

static void test_size_bool_uint(void)
{
    uint64_t b;
    const char *why;
    ASSERT_EQ(bl_cfg_size("4096", &b, &why), 0);
    ASSERT_EQ(b, 4096);
    ASSERT_EQ(bl_cfg_size("64k", &b, &why), 0);
    ASSERT_EQ(b, 65536);
    ASSERT_EQ(bl_cfg_size("64KiB", &b, &why), 0);
    ASSERT_EQ(b, 65536);
    ASSERT_EQ(bl_cfg_size("2MB", &b, &why), 0);
    ASSERT_EQ(b, 2000000);
    ASSERT_EQ(bl_cfg_size("1G", &b, &why), 0);
    ASSERT_EQ(b, 1ULL << 30);
    ASSERT_EQ(bl_cfg_size("16Q", &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_size("k", &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_size("99999999999T", &b, &why), BL_ECONFIG);
    int v = -1;
    ASSERT_EQ(bl_cfg_bool("Yes", &v, &why), 0);
    ASSERT_EQ(v, 1);
    ASSERT_EQ(bl_cfg_bool("off", &v, &why), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(bl_cfg_bool("maybe", &v, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("53", 1, 65535, &b, &why), 0);
    ASSERT_EQ(b, 53);
    ASSERT_EQ(bl_cfg_uint("0", 1, 65535, &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("5x", 0, 9, &b, &why), BL_ECONFIG);
}

/* One grammar per type (issue 15): the forms blsync.conf(5) documents, and
 * what each type refuses with a reason. */
static void test_grammar(void)
{
    uint64_t b;
    int64_t ms;
    int v;
    const char *why;
    /* Sizes: k/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, kB/MB/... of 1000, any case. */
    static const struct {
        const char *s;
        uint64_t v;
    } sizes[] = {{"4MiB", 4u << 20}, {"4mib", 4u << 20},       {"4M", 4u << 20},
                 {"4m", 4u << 20},   {"1GiB", 1u << 30},       {"3KiB", 3072},
                 {"3kb", 3000},      {"2TiB", 2ULL << 40},     {"0", 0},
                 {"17b", 17},        {"1tb", 1000000000000ULL}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (bl_cfg_size(sizes[i].s, &b, &why))
            BL_FAIL("size '%s' refused: %s", sizes[i].s, why);
        ASSERT_EQ(b, sizes[i].v);
    }
    static const char *const badsize[] = {"4 M", "-4M", "4.5M", "M4", "4MiBs", " 4M", "4Mi"};
    for (size_t i = 0; i < sizeof badsize / sizeof badsize[0]; i++)
        if (bl_cfg_size(badsize[i], &b, &why) != BL_ECONFIG)
            BL_FAIL("size '%s' accepted", badsize[i]);
    /* Booleans in any case. */
    static const char *const yes[] = {"Yes", "YES", "true", "True", "on", "ON", "1"};
    static const char *const no[] = {"No", "NO", "false", "FALSE", "off", "Off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        ASSERT_EQ(bl_cfg_bool(yes[i], &v, &why), 0);
        ASSERT_EQ(v, 1);
        ASSERT_EQ(bl_cfg_bool(no[i], &v, &why), 0);
        ASSERT_EQ(v, 0);
    }
    static const char *const badbool[] = {"y", "n", "yes ", "2", "", "enable"};
    for (size_t i = 0; i < sizeof badbool / sizeof badbool[0]; i++) {
        why = NULL;
        ASSERT_EQ(bl_cfg_bool(badbool[i], &v, &why), BL_ECONFIG);
        ASSERT_STREQ(why, "not a boolean");
    }
    /* Whole numbers take no unit: "2s" is not 2 (the mirror's a = 2s). */
    why = NULL;
    ASSERT_EQ(bl_cfg_uint("2s", 0, 255, &b, &why), BL_ECONFIG);
    ASSERT_STREQ(why, "trailing characters after the number");
    ASSERT_EQ(bl_cfg_uint("5m", 0, 1000, &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("+5", 0, 9, &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("18446744073709551616", 0, UINT64_MAX, &b, &why), BL_ECONFIG);
    ASSERT_STREQ(why, "too large");
    ASSERT_EQ(bl_cfg_uint("18446744073709551615", 0, UINT64_MAX, &b, &why), 0);
    ASSERT(b == UINT64_MAX);
    /* Durations: compound forms everywhere; the reasons name the problem. */
    ASSERT_EQ(bl_cfg_duration("1h30m", &ms, &why), 0);
    ASSERT_EQ(ms, 5400000);
    ASSERT_EQ(bl_cfg_duration("1w", &ms, &why), 0);
    ASSERT_EQ(ms, 604800000);
    ASSERT_EQ(bl_cfg_duration("1w2d3h4m5s6ms", &ms, &why), 0);
    ASSERT_EQ(ms, 604800000 + 2 * 86400000LL + 3 * 3600000 + 4 * 60000 + 5006);
    static const struct {
        const char *s, *why;
    } baddur[] = {{"1x", "unknown unit"},
                  {"1 week", "unknown unit"},
                  {"4H", "unknown unit"},
                  {"1h30", "a number without a unit is only allowed alone"},
                  {"h", "not a number"},
                  {"", "empty"},
                  {"99999999999999999999s", "too large"}};
    for (size_t i = 0; i < sizeof baddur / sizeof baddur[0]; i++) {
        why = NULL;
        if (bl_cfg_duration(baddur[i].s, &ms, &why) != BL_ECONFIG)
            BL_FAIL("duration '%s' accepted", baddur[i].s);
        ASSERT_STREQ(why, baddur[i].why);
    }
}

static void test_number_and_formats(void)
{
    double d;
    const char *why;
    static const struct {
        const char *s;
        double v;
    } ok[] = {{"2", 2}, {"0.5", 0.5},     {"12.25", 12.25},
              {"0", 0}, {"007.100", 7.1}, {"1000000000", 1e9}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (bl_cfg_number(ok[i].s, &d, &why))
            BL_FAIL("number '%s' refused: %s", ok[i].s, why);
        ASSERT(d == ok[i].v);
    }
    static const char *const bad[] = {"",     "-1",  "+1",           ".5",
                                      "5.",   "1e3", "nan",          "inf",
                                      "0x10", "1,5", "1.0000000001", "1234567890123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        if (bl_cfg_number(bad[i], &d, &why) != BL_ECONFIG)
            BL_FAIL("number '%s' accepted as %g", bad[i], d);
        ASSERT(why && *why);
    }
    /* Written the way it is read: shortest form, no exponent. */
    char buf[BL_CFG_NUMSTRLEN];
    ASSERT_STREQ(bl_cfg_number_format(2, buf, sizeof buf), "2");
    ASSERT_STREQ(bl_cfg_number_format(0.125, buf, sizeof buf), "0.125");
    ASSERT_STREQ(bl_cfg_number_format(1e9, buf, sizeof buf), "1000000000");
    ASSERT_EQ(bl_cfg_number("0.1", &d, &why), 0);
    ASSERT_STREQ(bl_cfg_number_format(d, buf, sizeof buf), "0.1");
    ASSERT_EQ(bl_cfg_number("123456789012345.123456789", &d, &why), 0);
    double back;
    ASSERT_EQ(bl_cfg_number(bl_cfg_number_format(d, buf, sizeof buf), &back, &why), 0);
    ASSERT(back == d);

    char sb[BL_CFG_SIZESTRLEN];
    ASSERT_STREQ(bl_cfg_size_format(4u << 20, sb, sizeof sb), "4M");
    ASSERT_STREQ(bl_cfg_size_format(1ULL << 30, sb, sizeof sb), "1G");
    ASSERT_STREQ(bl_cfg_size_format(3ULL << 40, sb, sizeof sb), "3T");
    ASSERT_STREQ(bl_cfg_size_format(65536, sb, sizeof sb), "64K");
    ASSERT_STREQ(bl_cfg_size_format(100000000, sb, sizeof sb), "100000000");
    ASSERT_STREQ(bl_cfg_size_format(0, sb, sizeof sb), "0");
    ASSERT_STREQ(bl_cfg_size_format(UINT64_MAX, sb, sizeof sb), "18446744073709551615");
}

static void listen_ok(const char *s, int def, const char *want)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why = NULL;
    char buf[BL_CFG_ADDRSTRLEN];
    if (bl_cfg_listen(s, def, &ss, &len, &why) != 0)
        BL_FAIL("listen '%s' refused: %s", s, why);
    ASSERT_STREQ(bl_cfg_addr_format((struct sockaddr *)&ss, buf, sizeof buf), want);
    ASSERT_EQ(len,
              ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static void test_listen(void)
{
    listen_ok("127.0.0.1:5353", -1, "127.0.0.1:5353");
    listen_ok("[::1]:53", -1, "[::1]:53");
    listen_ok("[::]:0", -1, "[::]:0");
    listen_ok("0.0.0.0:53", -1, "0.0.0.0:53");
    listen_ok("127.0.0.1", 9153, "127.0.0.1:9153");
    listen_ok("::1", 53, "[::1]:53");
    listen_ok("[2001:db8::1]", 53, "[2001:db8::1]:53");
    static const char *const bad[] = {
        "",           "127.0.0.1", "localhost:53", "127.0.0.1:65536", "127.0.0.1:-1",
        "[::1]53",    "[::1",      "[::1]:",       "1.2.3:53",        "127.0.0.1:53x",
        "[1.2.3.4]x", ":53",       "[]:53",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = NULL;
        if (bl_cfg_listen(bad[i], -1, &ss, &len, &why) != BL_ECONFIG)
            BL_FAIL("listen '%s' accepted", bad[i]);
        ASSERT(why && *why);
    }
}

static void test_duration_format_and_window(void)
{
    static const struct {
        int64_t ms;
        const char *s;
    } f[] = {{0, "0s"},           {250, "250ms"},
             {30000, "30s"},      {14400000, "4h"},
             {5400000, "1h30m"},  {691200000, "1w1d"},
             {-1500, "-1s500ms"}, {INT64_MAX, "15250284452w3d7h12m55s807ms"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char buf[BL_CFG_DURSTRLEN];
        ASSERT_STREQ(bl_cfg_duration_format(f[i].ms, buf, sizeof buf), f[i].s);
        int64_t back;
        const char *why;
        if (f[i].ms >= 0) { /* what is written reads back */
            ASSERT_EQ(bl_cfg_duration(buf, &back, &why), 0);
            ASSERT_EQ(back, f[i].ms);
        }
    }
    char small[4];
    bl_cfg_duration_format(5400000, small, sizeof small); /* truncated, terminated */
    ASSERT(strlen(small) < sizeof small);

    char msg[200] = "";
    ASSERT_EQ(bl_cfg_window_check(14400000, 300000, 3600000, msg, sizeof msg), 0);
    ASSERT_EQ(bl_cfg_window_check(14400000, 10800000, 3600000, msg, sizeof msg), 0); /* exact */
    ASSERT_EQ(bl_cfg_window_check(14400000, 10800000, 7200000, msg, sizeof msg), 1);
    ASSERT_STREQ(msg,
                 "ttl 3h plus expected propagation 2h is 5h, more than the 4h propagation window");
    ASSERT_EQ(bl_cfg_window_check(600000, INT64_MAX, 1, msg, sizeof msg), 1); /* no overflow */
}

static void test_errorf(void)
{
    bl_cfg_err_t e;
    ASSERT_EQ(bl_cfg_errorf(&e, "/etc/blsync/mirror.conf", 12, "%s: %s", "ttl", "bad"), BL_ECONFIG);
    ASSERT_STREQ(e.msg, "/etc/blsync/mirror.conf:12: ttl: bad");
    bl_cfg_errorf(&e, "m.conf", 0, "missing [sync] section");
    ASSERT_STREQ(e.msg, "m.conf: missing [sync] section");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bl_cfg_errorf(&e, "f", 1, "%s", big); /* truncated, never overflows */
    ASSERT_EQ(strlen(e.msg), sizeof e.msg - 1);
}

int main(void)
{
    RUN(test_duration);
    RUN(test_size_bool_uint);
    RUN(test_grammar);
    RUN(test_number_and_formats);
    RUN(test_listen);
    RUN(test_duration_format_and_window);
    RUN(test_errorf);
    return 0;
}

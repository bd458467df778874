/* SPDX-License-Identifier: MIT */
/* The option tables of both daemons: their own check, defaults, values, errors, repeats, print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_schema.h"
#include "err.h"
#include "log.h"
#include "master/config.h"
#include "mirror/config.h"
#include "mirror/dns.h"
#include "test.h"

#define FEEDS_EXPECT "NAME, or NAME NAME:127.0.0.N ... (one A value per feed after the first)"

static master_config_t mc, mc2;
static mirror_config_t yc, yc2;

/* Loads text over conf as file "t.conf"; returns the error message or NULL. */
static const char *load(const bl_conf_schema_t *s, void *conf, const char *text)
{
    static bl_cfg_err_t e;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ASSERT(f);
    int rc = bl_conf_load_file(s, conf, f, "t.conf", &e);
    fclose(f);
    return rc ? e.msg : NULL;
}

static const char *master_load(const char *text)
{
    master_config_defaults(&mc);
    return load(&master_conf_schema, &mc, text);
}

static const char *mirror_load(const char *text)
{
    mirror_config_close(&yc);
    mirror_config_init(&yc);
    return load(&mirror_conf_schema, &yc, text);
}

static void expect_err(const char *got, const char *want)
{
    if (!got || strcmp(got, want))
        BL_FAIL("error\n  got:  %s\n  want: %s", got ? got : "(accepted)", want);
}

/* Prints conf into a malloc'd string. */
static char *print(const bl_conf_schema_t *s, const void *conf, unsigned how)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ASSERT(f);
    ASSERT_EQ(bl_conf_print(s, conf, f, how), 0);
    fclose(f);
    return buf;
}

static void test_tables(void)
{
    char err[256];
    if (bl_conf_schema_check(&master_conf_schema, err, sizeof err))
        BL_FAIL("master table: %s", err);
    if (bl_conf_schema_check(&mirror_conf_schema, err, sizeof err))
        BL_FAIL("mirror table: %s", err);
}

/* The table's defaults are the ones the modules had before it. */
static void test_defaults(void)
{
    master_config_defaults(&mc);
    memset(&mc2, 0, sizeof mc2);
    master_pub_conf_defaults(&mc2.pub);
    master_policy_defaults(&mc2.policy);
    ASSERT_MEMEQ(&mc.pub, &mc2.pub, sizeof mc.pub);
    ASSERT_MEMEQ(&mc.policy, &mc2.policy, sizeof mc.policy);
    ASSERT_STREQ(mc.feed, "main");
    ASSERT_EQ(mc.verify_digest, 1);
    ASSERT_EQ(mc.max_body, 4u << 20);
    ASSERT_EQ(mc.report_retention_ms, 30LL * 86400 * 1000);
    ASSERT_EQ(mc.log_level, BL_LOG_INFO);
    ASSERT_EQ(mc.sync.heartbeat_interval_ms, 5000);
    ASSERT_EQ(mc.mirror_ttl_ms, 300000);

    ASSERT(!mirror_load("[zone x.example]\nfeed = main\n"));
    ASSERT_EQ(yc.udp_max, MIRROR_UDP_MAX_DEFAULT);
    ASSERT_EQ(yc.tcp_idle_ms, 10000);
    ASSERT_EQ(yc.udp_gso, 1);
    ASSERT_EQ(yc.sync.freeze_after_ms, 0); /* unset: the window's budget */
    const mirror_zone_conf_t *z = &yc.zones[0];
    ASSERT_EQ(z->ttl, 300);
    ASSERT_EQ(z->neg_ttl, 300);
    ASSERT_EQ(z->soa_ttl, 3600);
    ASSERT_EQ(z->refresh, 3600);
    ASSERT_EQ(z->retry, 600);
    ASSERT_EQ(z->expire, 604800);
    ASSERT_EQ(z->a, 2);
    ASSERT_EQ(z->line, 2);
    ASSERT_EQ(yc.sync.enabled, 0);
}

/* The values issue 15 names, and one parser per type in both daemons. */
static void test_values(void)
{
    ASSERT(!master_load("[policy]\nreport_retention = 1w\nthreshold = 2.5\n"
                        "[http]\nmax_body = 4MiB\n"
                        "[master]\nverify_digest_on_start = Yes\nsync = FULL\nlog_level = warning\n"
                        "[kind.manual]\nduration = 1d12h\n"));
    ASSERT_EQ(mc.report_retention_ms, 604800000);
    ASSERT(mc.policy.threshold == 2.5);
    ASSERT_EQ(mc.max_body, 4u << 20);
    ASSERT_EQ(mc.verify_digest, 1);
    ASSERT_EQ(mc.sync_full, 1);
    ASSERT_EQ(mc.log_level, BL_LOG_WARN);
    ASSERT_EQ(mc.policy.kind[MASTER_KIND_MANUAL].duration_ms, 36LL * 3600 * 1000);
    ASSERT(!master_load("[master]\nverify_digest_on_start = OFF\n"));
    ASSERT_EQ(mc.verify_digest, 0);

    ASSERT(!mirror_load("[server]\ntcp_idle_timeout = 2m\nudp_gso = On\nlog_syslog = TRUE\n"
                        "[zone x.example]\nttl = 1h30m\nsoa_expire = 1w\na = 127.0.0.5\n"));
    ASSERT_EQ(yc.tcp_idle_ms, 120000);
    ASSERT_EQ(yc.udp_gso, 1);
    ASSERT_EQ(yc.log_syslog, 1);
    ASSERT_EQ(yc.zones[0].ttl, 5400);
    ASSERT_EQ(yc.zones[0].expire, 604800);
    ASSERT_EQ(yc.zones[0].a, 5);
    ASSERT(!mirror_load("[server]\ntcp_idle_timeout_ms = 1500\n[zone x]\na = 7\nttl = 90m\n"));
    ASSERT_EQ(yc.tcp_idle_ms, 1500);
    ASSERT_EQ(yc.zones[0].a, 7);
    ASSERT_EQ(yc.zones[0].ttl, 5400);
    /* The mirror's [sync] durations take the same compound forms. */
    ASSERT(!mirror_load("[sync]\nfreeze_after = 1h30m\n"));
    ASSERT_EQ(yc.sync.freeze_after_ms, 5400000);
    ASSERT_EQ(yc.sync.enabled, 1);
    ASSERT_EQ(yc.sync.line, 2);
}

static void test_errors(void)
{
    expect_err(mirror_load("[zone x]\nttl = 1x\n"),
               "t.conf:2: ttl = 1x: unknown unit; expected a duration such as 90s, 15m, 1h30m "
               "(whole seconds)");
    expect_err(mirror_load("[zone x]\n\na = 2s\n"),
               "t.conf:3: a = 2s: trailing characters after the number; expected 127.0.0.N or "
               "N, with N from 1 to 255");
    expect_err(mirror_load("[zone x]\nttl = 1500ms\n"),
               "t.conf:2: ttl = 1500ms: not a whole number of seconds; expected a duration such "
               "as 90s, 15m, 1h30m (whole seconds)");
    expect_err(mirror_load("[server]\nudp_coalesce_us = 5s\n"),
               "t.conf:2: udp_coalesce_us = 5s: trailing characters after the number; expected "
               "a whole number from 0 to 10000");
    expect_err(mirror_load("[server]\nthreads = 65\n"),
               "t.conf:2: threads = 65: out of range; expected a whole number from 1 to 64");
    expect_err(mirror_load("[server]\nwindow = 500ms\n"),
               "t.conf:2: window = 500ms: out of range; expected a duration of at least 1s, such "
               "as 90s, 15m, 1h30m");
    expect_err(mirror_load("[server]\nudp_gso = maybe\n"),
               "t.conf:2: udp_gso = maybe: not a boolean; expected yes or no (or true/false, "
               "on/off, 1/0)");
    expect_err(mirror_load("[server]\nlog_level = loud\n"),
               "t.conf:2: log_level = loud: unknown word; expected err, warn, info or debug");
    expect_err(mirror_load("[server]\nlisten = localhost:53\n"),
               "t.conf:2: listen = localhost:53: not an IP address (host names are not "
               "resolved); expected a numeric IP address and an optional port (default 53), "
               "such as 127.0.0.1 or [::1]:53");
    expect_err(mirror_load("[sync]\nmaster = [::1]:0\n"),
               "t.conf:2: master = [::1]:0: port 0; expected a numeric IP address and an "
               "optional port (default 7353), such as 127.0.0.1 or [::1]:7353");
    expect_err(mirror_load("[sync]\nserver_name = a b\n"),
               "t.conf:2: server_name = a b: not a host name; expected a non-empty value");
    expect_err(mirror_load("[sync]\ncert =\n"),
               "t.conf:2: cert = : empty; expected a non-empty value");
    expect_err(mirror_load("[zone x]\nrbldnsd = /no/kind\n"),
               "t.conf:2: rbldnsd = /no/kind: no KIND:; expected KIND:FILE such as "
               "ip4set:/var/lib/rbldnsd/list");
    expect_err(mirror_load("[zone x]\nfeed = 123456789012345678901234567890123\n"),
               "t.conf:2: feed = 123456789012345678901234567890123: a feed name is empty or "
               "longer than 32 bytes; expected " FEEDS_EXPECT);
    expect_err(master_load("[http]\nmax_body = 5G\n"),
               "t.conf:2: max_body = 5G: out of range; expected a size from 1K to 1G, such as "
               "4096, 64K, 4MiB");
    expect_err(master_load("[policy]\nthreshold = -1\n"),
               "t.conf:2: threshold = -1: not a decimal number; expected a number from 0 to "
               "1000000000, such as 2 or 0.5");
    expect_err(master_load("[policy]\nthreshold = nan\n"),
               "t.conf:2: threshold = nan: not a decimal number; expected a number from 0 to "
               "1000000000, such as 2 or 0.5");
    /* Keys, sections, syntax; the first problem is the one reported. */
    expect_err(mirror_load("[server]\ncolour = blue\nthreads = x\n"),
               "t.conf:2: unknown key 'colour' in [server]");
    expect_err(mirror_load("[server]\nttl = 5\n"),
               "t.conf:2: unknown key 'ttl' in [server] (it belongs in [zone name])");
    expect_err(master_load("[http]\nwindow = 4h\n"),
               "t.conf:2: unknown key 'window' in [http] (it belongs in [policy] or [metrics])");
    expect_err(mirror_load("[server]\nthreads = 2\n[mystery]\nx = 1\n"),
               "t.conf:4: unknown section [mystery]");
    expect_err(master_load("[kind.other]\na = 2\n"), "t.conf:2: unknown section [kind.other]");
    expect_err(mirror_load("[server]\nnot ini\nthreads = x\n"),
               "t.conf:2: syntax error (expected [section] or key = value)");
    expect_err(mirror_load("[zone]\nttl = 5\n"),
               "t.conf:2: [zone] needs a name: no [zone name] section yet");
    /* lines up to 4094 characters load (a 300-byte value is fine); a longer one is refused on
     * its own line */
    static char longline[5200];
    snprintf(longline, sizeof longline, "[zone x]\ntxt = %0300d\nttl = 5\n", 0);
    const char *lerr = mirror_load(longline);
    if (lerr)
        BL_FAIL("a 300-byte value refused: %s", lerr);
    ASSERT_EQ(strlen(yc.zones[0].txt), 300);
    snprintf(longline, sizeof longline, "[zone x]\nttl = 5\ntxt = %05000d\n", 0);
    expect_err(mirror_load(longline), "t.conf:3: line longer than 4094 characters");
    expect_err(mirror_load("[zone x]\nreason.70000 = x\n"),
               "t.conf:2: reason.70000 = x: the reason id is not a number from 0 to 65535; "
               "expected reason.N = TEMPLATE with N from 0 to 65535");
    /* A value --print-config could not write back: inih keeps " ;" only on a continuation line. */
    expect_err(mirror_load("[zone x]\ntxt = a\n  b ; c\n"),
               "t.conf:3: txt = b ; c: a ';' after a blank starts a comment; expected text");
    ASSERT(!mirror_load("[zone x]\ntxt = a;b ; comment\n"));
    ASSERT_STREQ(yc.zones[0].txt, "a;b");
    /* --set: no file prefix; main.c adds "--set ARG: ". */
    char err[512];
    mirror_config_close(&yc);
    mirror_config_init(&yc);
    ASSERT_EQ(mirror_config_set(&yc, "server", "threads", "0", err, sizeof err), BL_ECONFIG);
    ASSERT_STREQ(err, "threads = 0: out of range; expected a whole number from 1 to 64");
    /* A missing file. */
    bl_cfg_err_t e;
    ASSERT_EQ(bl_conf_load(&mirror_conf_schema, &yc, "/nonexistent/m.conf", &e), BL_EIO);
    ASSERT_STREQ(e.msg, "/nonexistent/m.conf: No such file or directory");
}

static void test_repeats(void)
{
    /* Lists: split at spaces and commas, repeated keys append, at most their capacity. */
    ASSERT(!mirror_load("[server]\nlisten = 127.0.0.1:53 [::1]:53,127.0.0.2\nlisten = ::1\n"
                        "[zone x]\nns = a.example b.example\nns = c.example\n"
                        "rbldnsd = ip4set:/a b\nrbldnsd = ip4trie:/c\n"));
    ASSERT_EQ(yc.nlisten, 4);
    ASSERT_STREQ(yc.listen[1], "[::1]:53");
    ASSERT_STREQ(yc.listen[3], "::1");
    ASSERT_EQ(yc.zones[0].nns, 3);
    ASSERT_EQ(yc.zones[0].nrbldnsd, 2);
    ASSERT_STREQ(yc.zones[0].rbldnsd[0], "ip4set:/a b");
    expect_err(mirror_load("[zone x]\nns = a b c d e f g h i\n"),
               "t.conf:2: ns = a b c d e f g h i: too many values; expected text");
    /* A bad address in a list adds none of them. */
    expect_err(mirror_load("[server]\nlisten = 127.0.0.1 nope\n"),
               "t.conf:2: listen = 127.0.0.1 nope: not an IP address (host names are not "
               "resolved); expected a numeric IP address and an optional port (default 53), "
               "such as 127.0.0.1 or [::1]:53");
    ASSERT_EQ(yc.nlisten, 0);

    /* Zones: names compare in lower case without the trailing dot; [zone] is the first. */
    ASSERT(!mirror_load("[zone Bl.Example.]\nttl = 10\n[zone other.example]\nttl = 20\n"
                        "[zone bl.example]\nneg_ttl = 30\nreason.7 = seven $\n"));
    ASSERT_EQ(yc.nzones, 2);
    ASSERT_STREQ(yc.zones[0].name, "bl.example");
    ASSERT_EQ(yc.zones[0].ttl, 10);
    ASSERT_EQ(yc.zones[0].neg_ttl, 30);
    ASSERT_EQ(yc.zones[0].line, 2);
    ASSERT_EQ(yc.zones[1].line, 4);
    ASSERT_EQ(yc.zones[0].nreason, 8);
    ASSERT_STREQ(yc.zones[0].reason_txt[7], "seven $");
    char err[512];
    ASSERT_EQ(mirror_config_set(&yc, "zone", "txt", "first $", err, sizeof err), 0);
    ASSERT_STREQ(yc.zones[0].txt, "first $");
    ASSERT_EQ(mirror_config_set(&yc, "zone OTHER.example", "ttl", "77", err, sizeof err), 0);
    ASSERT_EQ(yc.zones[1].ttl, 77);
    ASSERT_EQ(mirror_config_set(&yc, "zone third.example", "ttl", "5", err, sizeof err), 0);
    ASSERT_EQ(yc.nzones, 3);
    ASSERT_EQ(yc.zones[2].soa_ttl, 3600); /* a new zone starts from the defaults */
    char many[4096] = "";
    for (int i = 0; i <= MIRROR_CONF_MAX_ZONES; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "[zone z%d.example]\nttl = 1\n",
                 i);
    expect_err(mirror_load(many), "t.conf:34: [zone z16.example]: more than 16 [zone] sections");
}

/* The zone's mirror_config_check error for text, which must load. */
static const char *mirror_check(const char *text)
{
    static char err[512];
    ASSERT(!mirror_load(text));
    return mirror_config_check(&yc, err, sizeof err) ? err : NULL;
}

/* feed = NAME [NAME:A]...: a zone that combines feeds, one A value each. */
static void test_mirror_feeds(void)
{
    ASSERT(!mirror_load("[zone x]\nfeed = main\n"));
    ASSERT_EQ(yc.zones[0].nfeeds, 1);
    ASSERT_STREQ(yc.zones[0].feed, "main");
    ASSERT_EQ(yc.zones[0].feed_a[0], 0);
    ASSERT(!mirror_load("[zone x]\nfeed = main spamtrap:127.0.0.4 , trap2:5\n"));
    const mirror_zone_conf_t *z = &yc.zones[0];
    ASSERT_EQ(z->nfeeds, 3);
    ASSERT_STREQ(z->feed, "main");
    ASSERT_STREQ(z->feeds[1], "spamtrap");
    ASSERT_STREQ(z->feeds[2], "trap2");
    ASSERT_EQ(z->feed_a[0], 0);
    ASSERT_EQ(z->feed_a[1], 4);
    ASSERT_EQ(z->feed_a[2], 5);
    ASSERT_EQ(z->feed_line, 2);
    char *p = print(&mirror_conf_schema, &yc, 0);
    ASSERT(strstr(p, "\nfeed = main spamtrap:127.0.0.4 trap2:127.0.0.5\n"));
    free(p);
    ASSERT(!mirror_load("[zone x]\nfeed = main:127.0.0.3\n"));
    ASSERT_EQ(yc.zones[0].feed_a[0], 3);
    expect_err(mirror_load("[zone x]\nttl = 5\nfeed = main spamtrap\n"),
               "t.conf:3: feed = main spamtrap: every feed after the first needs its own A value "
               "(NAME:127.0.0.N); expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = main spamtrap:127.1.0.4\n"),
               "t.conf:2: feed = main spamtrap:127.1.0.4: an A value is not 127.0.0.N with N from "
               "1 to 255; expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = main spamtrap:256\n"),
               "t.conf:2: feed = main spamtrap:256: an A value is not 127.0.0.N with N from 1 to "
               "255; expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = main spamtrap:\n"),
               "t.conf:2: feed = main spamtrap:: an A value is not 127.0.0.N with N from 1 to "
               "255; expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = main a:4 b:127.0.0.4\n"),
               "t.conf:2: feed = main a:4 b:127.0.0.4: two feeds have the same A value; "
               "expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = main main:4\n"),
               "t.conf:2: feed = main main:4: a feed is listed twice; expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = :4\n"),
               "t.conf:2: feed = :4: a feed name is empty or longer than 32 bytes; "
               "expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = , \n"),
               "t.conf:2: feed = ,: no feed; expected " FEEDS_EXPECT);
    expect_err(mirror_load("[zone x]\nfeed = a b:2 c:3 d:4 e:5 f:6 g:7 h:8 i:9 j:10 k:11 l:12 m:13 "
                           "n:14 o:15 p:16 q:17\n"),
               "t.conf:2: feed = a b:2 c:3 d:4 e:5 f:6 g:7 h:8 i:9 j:10 k:11 l:12 m:13 n:14 o:15 "
               "p:16 q:17: more than 16 feeds; expected " FEEDS_EXPECT);

    /* What spans options: the zone's a, the source, the export. */
#define SYNCED_ZONE                                                                                \
    "[server]\nlisten = 127.0.0.1:53\n[sync]\nupstream = http://127.0.0.1:1\n"                     \
    "state_dir = /s\n[zone bl.example]\ntrusted_key = /k\n"
    ASSERT(!mirror_check(SYNCED_ZONE "feed = main spamtrap:127.0.0.4\n"));
    ASSERT(!mirror_check(SYNCED_ZONE "feed = main\n[zone all.example]\ntrusted_key = /k\n"
                                     "feed = main spamtrap:4\n[zone trap.example]\n"
                                     "trusted_key = /k\nfeed = spamtrap\n"));
    const char *e = mirror_check(SYNCED_ZONE "feed = main spamtrap:127.0.0.2\n");
    ASSERT(e && strstr(e, ":8: zone bl.example: feed spamtrap answers 127.0.0.2, the A value of "
                          "feed main (the zone's a)"));
    e = mirror_check(SYNCED_ZONE "a = 4\nfeed = main spamtrap:127.0.0.4\n");
    ASSERT(e && strstr(e, ":9: zone bl.example: feed spamtrap answers 127.0.0.4"));
    ASSERT(!mirror_check(SYNCED_ZONE "feed = main:3 spamtrap:127.0.0.2\n"));
    e = mirror_check(SYNCED_ZONE "feed = main spamtrap:4\nexport_rbldnsd = /e\n");
    ASSERT(e && strstr(e, ":8: zone bl.example combines feeds: export_rbldnsd writes one feed's"));
    e = mirror_check("[server]\nlisten = 127.0.0.1:53\n[zone bl.example]\ntrusted_key = /k\n"
                     "spool_dir = /s\nfeed = main spamtrap:4\n");
    ASSERT(e && strstr(e, ":6: zone bl.example combines feeds: they come over [sync] only"));
#undef SYNCED_ZONE
}

/* --print-config: loads back to the same configuration; defaults commented out. */
static void test_print(void)
{
    ASSERT(!mirror_load("[server]\nlisten = 127.0.0.1:5353 [::1]:5353\nthreads = 3\n"
                        "tcp_idle_timeout_ms = 1500\nudp_gso = no\nmetrics_listen = 127.0.0.1\n"
                        "window = 1d\n"
                        "[sync]\nmaster = 10.0.0.1\nserver_name = m.example\nstale_after = 45s\n"
                        "[zone b.example]\nfeed = other\nspool_dir = /s\ntrusted_key = /k1 /k2\n"
                        "ttl = 1h30m\nneg_ttl = 300\na = 9\ntxt = Listed; see $\nreason.0 = zero\n"
                        "reason.65535 = last\nns = n1.example n2.example\nsoa_rname = h.example\n"
                        "[zone a.example]\nrbldnsd = ip4set:/x y\nexport_rbldnsd = /e\n"));
    char *p1 = print(&mirror_conf_schema, &yc, 0);
    memset(&yc2, 0, sizeof yc2);
    mirror_config_init(&yc2);
    const char *why = load(&mirror_conf_schema, &yc2, p1);
    if (why)
        BL_FAIL("printed configuration refused: %s\n%s", why, p1);
    char *p2 = print(&mirror_conf_schema, &yc2, 0);
    ASSERT_STREQ(p2, p1);
    ASSERT_EQ(yc2.nzones, 2);
    ASSERT_EQ(yc2.zones[0].ttl, 5400);
    ASSERT_EQ(yc2.zones[0].nreason, 65536);
    ASSERT_EQ(yc2.tcp_idle_ms, 1500);
    ASSERT_EQ(yc2.sync.stale_after_ms, 45000);
    ASSERT(strstr(p1, "\nttl = 1h30m\n"));
    ASSERT(strstr(p1, "\ntcp_idle_timeout = 1s500ms\n"));
    ASSERT(strstr(p1, "\n#neg_ttl = 300\n"));  /* set to its default */
    ASSERT(strstr(p1, "\n#soa_ttl = 3600\n")); /* not set */
    ASSERT(strstr(p1, "\n#soa_mname =\n"));    /* unset, no default */
    ASSERT(strstr(p1, "\nreason.65535 = last\n"));
    ASSERT(strstr(p1, "\nlisten = [::1]:5353\n"));
    ASSERT(strstr(p1, "\n[sync]\n"));
    ASSERT(!strstr(p1, "tcp_idle_timeout_ms")); /* an alias prints as its option */
    mirror_config_close(&yc2);
    free(p1);
    free(p2);

    /* A zone and a [sync] section that hold only defaults still exist when read back. */
    ASSERT(!mirror_load("[sync]\nstale_after = 30s\n[zone x]\nttl = 300\n"));
    p1 = print(&mirror_conf_schema, &yc, 0);
    ASSERT(strstr(p1, "\n[sync]\n#master =\n"));
    ASSERT(strstr(p1, "\n#freeze_after =\n")); /* derived from the window when unset */
    ASSERT(strstr(p1, "\nstale_after = 30s\n"));
    ASSERT(strstr(p1, "\n[zone x]\nfeed = main\n"));
    memset(&yc2, 0, sizeof yc2);
    mirror_config_init(&yc2);
    ASSERT(!load(&mirror_conf_schema, &yc2, p1));
    ASSERT_EQ(yc2.sync.enabled, 1);
    ASSERT_EQ(yc2.nzones, 1);
    mirror_config_close(&yc2);
    free(p1);

    ASSERT(!master_load("[master]\nfeed = f1\nsync = full\n[http]\ntoken = s3cret-token\n"
                        "max_body = 65536\n[policy]\nthreshold = 0.125\nweight_user = 3\n"
                        "report_retention = 1w\n[kind.import]\nduration = 36h\nreason = 9\n"
                        "[sync]\nlisten = [::1]:7353\nmax_queue = 10000\n"));
    p1 = print(&master_conf_schema, &mc, 0);
    ASSERT(!strstr(p1, "s3cret"));
    ASSERT(strstr(p1, "\n#token = (set; --print-config does not show it)\n"));
    ASSERT(strstr(p1, "\nmax_body = 64K\n"));
    ASSERT(strstr(p1, "\nthreshold = 0.125\n"));
    ASSERT(strstr(p1, "\nduration = 1d12h\n"));
    ASSERT(strstr(p1, "\nmax_queue = 10000\n"));
    /* The token does not come back (use token_file); the rest does. */
    free(p1);
    mc.token[0] = 0;
    p1 = print(&master_conf_schema, &mc, 0);
    ASSERT(strstr(p1, "\n#token =\n"));
    master_config_defaults(&mc2);
    ASSERT(!load(&master_conf_schema, &mc2, p1));
    p2 = print(&master_conf_schema, &mc2, 0);
    ASSERT_STREQ(p2, p1);
    ASSERT(mc2.policy.threshold == 0.125);
    ASSERT_EQ(mc2.policy.kind[MASTER_KIND_IMPORT].reason, 9);
    free(p1);
    free(p2);
}

static void test_restart_changes(void)
{
    char buf[256];
    ASSERT(!mirror_load("[server]\nlisten = 127.0.0.1\n[zone x]\nttl = 5\n"));
    memset(&yc2, 0, sizeof yc2);
    mirror_config_init(&yc2);
    ASSERT(!load(&mirror_conf_schema, &yc2,
                 "[server]\nlisten = 127.0.0.2\nlog_level = debug\n[zone x]\nttl = 7\n"));
    ASSERT_EQ(bl_conf_restart_changes(&mirror_conf_schema, &yc, &yc2, buf, sizeof buf), 1);
    ASSERT_STREQ(buf, "[server] listen");
    ASSERT(!load(&mirror_conf_schema, &yc2, "[zone y]\nttl = 7\n"));
    ASSERT_EQ(bl_conf_restart_changes(&mirror_conf_schema, &yc, &yc2, buf, sizeof buf), 2);
    ASSERT_STREQ(buf, "[server] listen, [zone y] feed");
    mirror_config_close(&yc2);
}

/* The manual names every option with its placeholder, default and reload. */
static void test_man(void)
{
    static const bl_conf_schema_t *const s[] = {&master_conf_schema, &mirror_conf_schema};
    for (size_t k = 0; k < 2; k++) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);
        ASSERT_EQ(bl_conf_print_man(s[k], f), 0);
        fclose(f);
        for (size_t i = 0; i < s[k]->nopts; i++) {
            char want[160];
            snprintf(want, sizeof want, ".TP\n\\fB%s", s[k]->opts[i].key);
            if (!strstr(buf, want))
                BL_FAIL("%s: %s missing from the manual", s[k]->daemon, s[k]->opts[i].key);
        }
        free(buf);
    }
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    bl_conf_print_man(&mirror_conf_schema, f);
    fclose(f);
    ASSERT(strstr(buf, ".TP\n\\fBttl\\fR = \\fIduration\\fR\nTTL of positive answers; it counts "
                       "against the propagation window.\nA zone serving rbldnsd files without it "
                       "answers as rbldnsd does: the first $TTL of the files, else 35m (2100 s, "
                       "rbldnsd's default).\nDefault \\fB\\%300\\fR; whole seconds; "
                       "reloaded on \\fBSIGHUP\\fR.\n"));
    ASSERT(strstr(buf, ".TP\n\\fBthreads\\fR = \\fIn\\fR\nUDP threads per listen address.\n"
                       "Default \\fB\\%2\\fR; from 1 to 64.\n"));
    ASSERT(strstr(buf, ".SS [zone \\fIname\\fP]\n"));
    free(buf);
}

int main(void)
{
    RUN(test_tables);
    RUN(test_defaults);
    RUN(test_values);
    RUN(test_errors);
    RUN(test_repeats);
    RUN(test_mirror_feeds);
    RUN(test_print);
    RUN(test_restart_changes);
    RUN(test_man);
    mirror_config_close(&yc);
    return 0;
}

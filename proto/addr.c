/* SPDX-License-Identifier: MIT */
/* The address rules: what a DNSBL may list, and why everything else is refused. */
#include "addr.h"

#include <ctype.h>
#include <string.h>

#include "err.h"

/* A special range: refused when the key equals it (exact) or overlaps it. */
typedef struct {
    uint8_t len;
    uint8_t exact;
    uint8_t addr[16];
    const char *why;
} rule_t;

static const rule_t rules4[] = {
    {32, 1, {0, 0, 0, 0}, "unspecified address (0.0.0.0): no host sends mail from it"},
    {8, 0, {0, 0, 0, 0}, "\"this network\" (0.0.0.0/8, RFC 1122): no host sends mail from there"},
    {8,
     0,
     {127, 0, 0, 0},
     "127.0.0.0/8 is loopback: only the RFC 5782 test entry 127.0.0.2 may be "
     "listed"},
    {32,
     1,
     {255, 255, 255, 255},
     "limited broadcast address (255.255.255.255): no host sends mail from it"},
    {4, 0, {224, 0, 0, 0}, "multicast (224.0.0.0/4): no host sends mail from there"},
    {4, 0, {240, 0, 0, 0}, "reserved (240.0.0.0/4, RFC 1112): no host sends mail from there"},
};

static const rule_t rules6[] = {
    {128, 0, {0}, "unspecified address (::): no host sends mail from it"},
    {128,
     0,
     {[15] = 1},
     "loopback address: only the RFC 5782 test entry ::ffff:127.0.0.2 may be "
     "listed"},
    {104,
     0,
     {[10] = 0xff, [11] = 0xff, [12] = 127},
     "loopback address: only the RFC 5782 test entry ::ffff:127.0.0.2 may be listed"},
    {96,
     0,
     {[10] = 0xff, [11] = 0xff},
     "prefix covers the IPv4-mapped range ::ffff:0:0/96: list IPv4 addresses as IPv4"},
    {96, 0, {0}, "IPv4-compatible address (::/96, deprecated by RFC 4291): write the IPv4 address"},
    {8, 0, {0xff}, "multicast (ff00::/8): no host sends mail from there"},
};

/* The RFC 5782 test entries. */
static const uint8_t test4[16] = {127, 0, 0, 2};
static const uint8_t test6[16] = {[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 2};
static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff};

/* Whether the first n bits of a and b agree. */
static int same_bits(const uint8_t *a, const uint8_t *b, int n)
{
    if (memcmp(a, b, (size_t)(n / 8)))
        return 0;
    if (n % 8) {
        uint8_t m = (uint8_t)(0xff << (8 - n % 8));
        if ((a[n / 8] & m) != (b[n / 8] & m))
            return 0;
    }
    return 1;
}

static const char *match_rules(const bl_prefix_t *k, const rule_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].exact ? k->len == r[i].len && !memcmp(k->addr, r[i].addr, sizeof k->addr)
                       : same_bits(k->addr, r[i].addr, k->len < r[i].len ? k->len : r[i].len))
            return r[i].why;
    }
    return NULL;
}

/* Refuses what is obviously not an address, with a message that says what it looks like. */
static const char *not_an_address(const char *s)
{
    if (!*s)
        return "empty address";
    if (strchr(s, '@'))
        return "looks like an e-mail address: only IP addresses and CIDR prefixes are listed";
    int letters = 0, colon = 0, dot = 0, bad = 0;
    for (const char *c = s; *c; c++) {
        if (*c == ':')
            colon = 1;
        else if (*c == '.')
            dot = 1;
        else if (isalpha((unsigned char)*c))
            letters |= isxdigit((unsigned char)*c) ? 1 : 2;
        else if (!isdigit((unsigned char)*c) && *c != '/')
            bad = 1;
    }
    if (!colon && !bad && (letters & 2 || (letters && dot)))
        return "looks like a domain name: only IP addresses and CIDR prefixes are listed";
    return NULL;
}

static const char *check4(const bl_prefix_t *k, int min_len4)
{
    if (k->len == 0)
        return "0.0.0.0/0 is the whole IPv4 address space";
    if (k->len < min_len4)
        return "prefix is wider than the configured limit (min_prefix4/min_prefix6)";
    if (k->len == 32 && !memcmp(k->addr, test4, 16))
        return NULL;
    return match_rules(k, rules4, sizeof rules4 / sizeof rules4[0]);
}

static const char *check6(bl_prefix_t *k, int min_len4, int min_len6)
{
    if (k->len == 0)
        return "::/0 is the whole IPv6 address space";
    if (k->len == 128 && !memcmp(k->addr, test6, 16))
        return NULL;
    if (k->len >= 96 && same_bits(k->addr, mapped, 96)) {
        bl_prefix_t v4 = {.af = BL_AF4, .len = (uint8_t)(k->len - 96)};
        memcpy(v4.addr, k->addr + 12, 4);
        *k = v4;
        return check4(k, min_len4);
    }
    if (k->len < min_len6)
        return "prefix is wider than the configured limit (min_prefix4/min_prefix6)";
    return match_rules(k, rules6, sizeof rules6 / sizeof rules6[0]);
}

int bl_addr_check(const char *s, int flags, int min_len4, int min_len6, bl_prefix_t *out,
                  const char **why)
{
    memset(out, 0, sizeof *out);
    *why = s ? not_an_address(s) : "empty address";
    if (*why)
        return BL_EINVAL;
    if (!(flags & BL_ADDR_PREFIX) && strchr(s, '/')) {
        *why = "expected one IP address, not a prefix (192.0.2.1, not 192.0.2.1/32)";
        return BL_EINVAL;
    }
    int rc = bl_prefix_parse(s, out);
    if (rc == BL_EHOSTBITS) {
        *why = "prefix has host bits set beyond its length (use the network address)";
        return rc;
    }
    if (rc) {
        *why = "malformed IP address or CIDR prefix";
        return BL_EPREFIX;
    }
    *why = out->af == BL_AF4 ? check4(out, min_len4) : check6(out, min_len4, min_len6);
    return *why ? BL_EINVAL : 0;
}

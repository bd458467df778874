/* SPDX-License-Identifier: MIT */
/* Configuration value parsers: untrusted strings to durations, sizes, booleans and addresses. */
#include "config_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return BL_ECONFIG;
}

/* Reads decimal digits at *p into *v; no digits ("not a number") or
 * overflow ("too large") fail. */
static int digits(const char **p, uint64_t *v, const char **why)
{
    const char *s = *p;
    uint64_t x = 0;
    if (*s < '0' || *s > '9')
        return fail(why, "not a number");
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return fail(why, "too large");
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *v = x;
    return 0;
}

int bl_cfg_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v, const char **why)
{
    uint64_t x;
    const char *p = s;
    if (!s)
        return fail(why, "missing value");
    if (digits(&p, &x, why))
        return BL_ECONFIG;
    if (*p)
        return fail(why, "trailing characters after the number");
    if (x < min || x > max)
        return fail(why, "out of range");
    *v = x;
    return 0;
}

int bl_cfg_duration(const char *s, int64_t *ms, const char **why)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
    };
    const uint64_t limit = (uint64_t)INT64_MAX;
    if (!s || !*s)
        return fail(why, "empty");
    const char *p = s;
    uint64_t total = 0;
    int parts = 0;
    while (*p) {
        uint64_t n;
        if (digits(&p, &n, why))
            return BL_ECONFIG;
        size_t ulen = 0;
        while (p[ulen] >= 'a' && p[ulen] <= 'z')
            ulen++;
        uint64_t mul = 0;
        if (ulen == 0) {
            if (*p)
                return fail(why, "unknown unit");
            if (parts > 0)
                return fail(why, "a number without a unit is only allowed alone");
            mul = 1000;
        }
        for (size_t i = 0; i < sizeof units / sizeof units[0] && ulen; i++)
            if (strlen(units[i].unit) == ulen && !strncmp(p, units[i].unit, ulen))
                mul = units[i].ms;
        if (!mul)
            return fail(why, "unknown unit");
        if (n > limit / mul || total > limit - n * mul)
            return fail(why, "too large");
        total += n * mul;
        p += ulen;
        parts++;
    }
    *ms = (int64_t)total;
    return 0;
}

int bl_cfg_size(const char *s, uint64_t *bytes, const char **why)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ULL << 10},
        {"kib", 1ULL << 10},
        {"kb", 1000},
        {"m", 1ULL << 20},
        {"mib", 1ULL << 20},
        {"mb", 1000000},
        {"g", 1ULL << 30},
        {"gib", 1ULL << 30},
        {"gb", 1000000000},
        {"t", 1ULL << 40},
        {"tib", 1ULL << 40},
        {"tb", 1000000000000ULL},
    };
    if (!s || !*s)
        return fail(why, "empty");
    const char *p = s;
    uint64_t n;
    if (digits(&p, &n, why))
        return BL_ECONFIG;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(p, units[i].unit) != 0)
            continue;
        if (n > UINT64_MAX / units[i].mul)
            return fail(why, "too large");
        *bytes = n * units[i].mul;
        return 0;
    }
    return fail(why, "unknown unit");
}

int bl_cfg_bool(const char *s, int *v, const char **why)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    if (!s)
        return fail(why, "missing value");
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *v = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *v = 0;
            return 0;
        }
    }
    return fail(why, "not a boolean");
}

int bl_cfg_number(const char *s, double *v, const char **why)
{
    /* DIGITS[.DIGITS], at most BL_CFG_NUMBER_DECIMALS after the point, so
     * that bl_cfg_number_format always finds a text that reads back. */
    const char *p = s;
    size_t ip = 0, fp = 0;
    if (!s || !*s)
        return fail(why, "empty");
    while (*p >= '0' && *p <= '9')
        p++, ip++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            fp++;
    if (!ip || *p || (p[-1] == '.'))
        return fail(why, "not a decimal number");
    if (ip > 15)
        return fail(why, "too large");
    if (fp > BL_CFG_NUMBER_DECIMALS)
        return fail(why, "too many decimals");
    *v = strtod(s, NULL);
    return 0;
}

char *bl_cfg_number_format(double v, char *buf, size_t n)
{
    for (int d = 0; d <= BL_CFG_NUMBER_DECIMALS; d++) {
        snprintf(buf, n, "%.*f", d, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

char *bl_cfg_size_format(uint64_t bytes, char *buf, size_t n)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4 && bytes; i++) {
        uint64_t mul = 1ULL << (10 * (4 - i));
        if (bytes % mul == 0) {
            snprintf(buf, n, "%llu%c", (unsigned long long)(bytes / mul), units[i]);
            return buf;
        }
    }
    snprintf(buf, n, "%llu", (unsigned long long)bytes);
    return buf;
}

int bl_cfg_listen(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len,
                  const char **why)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL;
    size_t hlen;
    if (!s || !*s)
        return fail(why, "missing listen address");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return fail(why, "missing ']' after an IPv6 address");
        hlen = (size_t)(close - s - 1);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return fail(why, "expected ':PORT' after ']'");
        s++;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            hlen = strlen(s); /* a bare IPv6 address */
        } else if (colon) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        } else {
            hlen = strlen(s);
        }
    }
    if (hlen == 0 || hlen >= sizeof host)
        return fail(why, "bad address (use 127.0.0.1:PORT or [::1]:PORT)");
    memcpy(host, s, hlen);
    host[hlen] = 0;

    uint64_t p;
    if (port) {
        if (bl_cfg_uint(port, 0, 65535, &p, NULL) < 0)
            return fail(why, "bad port (0 to 65535)");
    } else if (default_port >= 0 && default_port <= 65535) {
        p = (uint64_t)default_port;
    } else {
        return fail(why, "missing port (as in 127.0.0.1:53)");
    }

    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof *v6;
        return 0;
    }
    return fail(why, "not an IP address (host names are not resolved)");
}

char *bl_cfg_addr_format(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(buf, n, "%s:%u", host, ntohs(v4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(buf, n, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        snprintf(buf, n, "(family %d)", sa->sa_family);
    }
    return buf;
}

char *bl_cfg_duration_format(int64_t ms, char *buf, size_t n)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"w", 604800000}, {"d", 86400000}, {"h", 3600000},
                 {"m", 60000},     {"s", 1000},     {"ms", 1}};
    size_t off = 0;
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (n == 0)
        return buf;
    buf[0] = 0;
    if (ms < 0)
        off += (size_t)snprintf(buf, n, "-");
    if (v == 0)
        snprintf(buf + off, n - off, "0s");
    for (size_t i = 0; i < sizeof units / sizeof units[0] && v && off < n; i++) {
        if (v < units[i].ms)
            continue;
        int w = snprintf(buf + off, n - off, "%llu%s", (unsigned long long)(v / units[i].ms),
                         units[i].unit);
        if (w < 0)
            break;
        off += (size_t)w;
        v %= units[i].ms;
    }
    return buf;
}

int bl_cfg_window_check(int64_t window_ms, int64_t ttl_ms, int64_t expected_ms, char *msg, size_t n)
{
    int64_t need = ttl_ms > INT64_MAX - expected_ms ? INT64_MAX : ttl_ms + expected_ms;
    if (need <= window_ms)
        return 0;
    char a[BL_CFG_DURSTRLEN], b[BL_CFG_DURSTRLEN], c[BL_CFG_DURSTRLEN], d[BL_CFG_DURSTRLEN];
    snprintf(
        msg, n, "ttl %s plus expected propagation %s is %s, more than the %s propagation window",
        bl_cfg_duration_format(ttl_ms, a, sizeof a),
        bl_cfg_duration_format(expected_ms, b, sizeof b), bl_cfg_duration_format(need, c, sizeof c),
        bl_cfg_duration_format(window_ms, d, sizeof d));
    return 1;
}

int64_t bl_cfg_freeze_budget(int64_t window_ms, int64_t ttl_ms, int64_t expected_ms)
{
    if (ttl_ms < 0 || expected_ms < 0 || ttl_ms > INT64_MAX - expected_ms)
        return 0;
    return window_ms - ttl_ms - expected_ms;
}

int bl_cfg_errorf(bl_cfg_err_t *e, const char *file, int line, const char *fmt, ...)
{
    int off = !file      ? 0
              : line > 0 ? snprintf(e->msg, sizeof e->msg, "%s:%d: ", file, line)
                         : snprintf(e->msg, sizeof e->msg, "%s: ", file);
    if (off < 0 || (size_t)off >= sizeof e->msg)
        off = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + off, sizeof e->msg - (size_t)off, fmt, ap);
    va_end(ap);
    return BL_ECONFIG;
}

/* SPDX-License-Identifier: MIT */
/* The public listener's parsers of untrusted input, apart from the server so a fuzz target reaches
 * them. */
#include "public_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

size_t master_form_parse(char *buf, size_t len, master_kv_t *kv, size_t max)
{
    if (memchr(buf, 0, len))
        return MASTER_FORM_NUL;
    size_t n = 0;
    char *p = buf;
    while (p && *p && n < max) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = 0;
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = 0;
            char *o = eq + 1;
            for (char *i = eq + 1; *i; i++) {
                if (*i == '+')
                    *o++ = ' ';
                else if (*i == '%' && hexval(i[1]) >= 0 && hexval(i[2]) >= 0) {
                    if (!(*o++ = (char)(hexval(i[1]) * 16 + hexval(i[2]))))
                        return MASTER_FORM_NUL;
                    i += 2;
                } else
                    *o++ = *i;
            }
            *o = 0;
            kv[n].k = p;
            kv[n].v = eq + 1;
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

const char *master_form_get(const master_kv_t *kv, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].k, k))
            return kv[i].v;
    return NULL;
}

void master_addr_v6(const uint8_t a[16], bl_prefix_t *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof *out);
    if (!memcmp(a, mapped, 12)) {
        out->af = BL_AF4;
        out->len = 32;
        memcpy(out->addr, a + 12, 4);
    } else {
        out->af = BL_AF6;
        out->len = 128;
        memcpy(out->addr, a, 16);
    }
}

/* 1 when s is a port: 1 to 5 decimal digits. */
static int port_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n >= 1 && n <= 5 && !s[n];
}

int master_hop_parse(const char *s, size_t n, bl_prefix_t *out)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char buf[INET6_ADDRSTRLEN + 8];
    if (n >= sizeof buf || memchr(s, 0, n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *a = buf;
    if (*a == '[') {
        /* "[IPv6]" or "[IPv6]:PORT", nothing else after the bracket */
        char *rb = strchr(a, ']');
        if (!rb || (rb[1] && (rb[1] != ':' || !port_ok(rb + 2))))
            return -1;
        *rb = 0;
        a++;
    } else if (strchr(a, ':') == strrchr(a, ':') && strchr(a, ':')) {
        char *colon = strchr(a, ':'); /* IPv4 with a port */
        if (!port_ok(colon + 1))
            return -1;
        *colon = 0;
    }
    uint8_t b[16];
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, a, b) == 1) {
        out->af = BL_AF4;
        out->len = 32;
        memcpy(out->addr, b, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, a, b) == 1) {
        master_addr_v6(b, out);
        return 0;
    }
    return -1;
}

int master_hex_token(const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        return 0;
    for (const char *q = s; *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')))
            return 0;
    return 1;
}

int master_id_parse(const char *s, int64_t *id)
{
    uint64_t v;
    if (bl_cfg_uint(s, 1, INT64_MAX, &v, NULL))
        return -1;
    *id = (int64_t)v;
    return 0;
}

int master_report_id_num(double num, char out[24])
{
    if (!(num > 0 && num < 1e15) || num != (double)(int64_t)num)
        return -1;
    snprintf(out, 24, "%.0f", num);
    return 0;
}

int master_path_has_nul(const char *uri)
{
    for (const char *p = uri; p && *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            return 1;
    return 0;
}

void master_html_esc(bl_buf_t *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        const char *e = *p == '&'    ? "&amp;"
                        : *p == '<'  ? "&lt;"
                        : *p == '>'  ? "&gt;"
                        : *p == '"'  ? "&quot;"
                        : *p == '\'' ? "&#39;"
                                     : NULL;
        if (e)
            bl_buf_put(b, e, strlen(e));
        else
            bl_buf_u8(b, (uint8_t)*p);
    }
}

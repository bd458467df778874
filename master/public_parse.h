/* SPDX-License-Identifier: MIT */
/* The public listener's parsers of untrusted input: form bodies, forwarded hops, ids, HTML text. */
#ifndef MASTER_PUBLIC_PARSE_H
#define MASTER_PUBLIC_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "rd.h"

/* One name=value pair of a form; both point into the decoded buffer. */
typedef struct {
    const char *k, *v;
} master_kv_t;

#define MASTER_FORM_NUL ((size_t)-1)

/* Decodes an application/x-www-form-urlencoded body of len bytes in place
 * (buf holds len + 1 bytes, buf[len] = 0): names and values point into
 * buf, values percent- and '+'-decoded. Returns the number of pairs (at
 * most max), or MASTER_FORM_NUL when the body holds a NUL byte, raw or as
 * %00, which a C string would silently cut at. */
size_t master_form_parse(char *buf, size_t len, master_kv_t *kv, size_t max);

/* The first value named k, or NULL. */
const char *master_form_get(const master_kv_t *kv, size_t n, const char *k);

/* An address as a full-length prefix; an IPv4-mapped IPv6 address as IPv4. */
void master_addr_v6(const uint8_t a[16], bl_prefix_t *out);

/* One hop of X-Forwarded-For (n bytes at s): an address, with spaces
 * around it, perhaps in brackets or with a port ("[2001:db8::1]:443",
 * "192.0.2.1:443"; a port is 1 to 5 digits). Returns 0 with the address
 * in *out, else -1 (also for anything else after the address). */
int master_hop_parse(const char *s, size_t n, bl_prefix_t *out);

/* 1 when s is exactly len lowercase hex digits. */
int master_hex_token(const char *s, size_t len);

/* A request or report id: decimal digits only, 1 or more, no sign or
 * space, at most INT64_MAX. Returns 0 with *id, else -1. */
int master_id_parse(const char *s, int64_t *id);

/* A report id sent as a JSON number: the decimal text of num in out (24
 * bytes). Returns 0, or -1 when num is no report id (not a whole number
 * from 1 to 10^15 - 1). */
int master_report_id_num(double num, char out[24]);

/* 1 when the path of a raw request URI (up to its '?') holds %00: decoded,
 * the path would end at that NUL byte. */
int master_path_has_nul(const char *uri);

/* HTML text and attribute values: every markup character escaped. */
void master_html_esc(bl_buf_t *b, const char *s);

#endif

/* SPDX-License-Identifier: MIT */
/* Parser for rbldnsd data files (ip4set, ip4tset, ip6tset, ip4trie, ip6trie). */
#ifndef BL_RBLDNSD_DATA_H
#define BL_RBLDNSD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

enum bl_rbldnsd_kind {
    BL_RBLDNSD_IP4SET,
    BL_RBLDNSD_IP4TSET,
    BL_RBLDNSD_IP6TSET,
    BL_RBLDNSD_IP4TRIE,
    BL_RBLDNSD_IP6TRIE,
};

/* One parsed line. A range line (a.b.c.d-e.f.g.h) is delivered as the
 * minimal set of CIDR prefixes covering it, one callback each. txt is the
 * TXT template (may contain '$'), NULL for none; a is the A value's last
 * octet. excluded is 1 for '!' lines. */
typedef struct {
    bl_prefix_t key;
    uint8_t a;
    const char *txt;
    int excluded;
    unsigned line;
} bl_rbldnsd_rec_t;

typedef struct {
    void *ctx;
    int (*rec)(void *ctx, const bl_rbldnsd_rec_t *r); /* non-zero stops parsing */
} bl_rbldnsd_sink_t;

/* Parses a whole data file held in memory (untrusted). Honors the `:A:TXT`
 * default line, per-entry `:A:TXT` values, comments, and `$SOA`/`$NS`/`$TTL`
 * directives (ignored). kind is from bl_rbldnsd_kind_parse(). On a syntax
 * error returns BL_EPREFIX or BL_EFIELD and sets *err_line; err_msg (may be
 * NULL) receives a static description. */
int bl_rbldnsd_parse(const char *text, size_t len, int kind, const bl_rbldnsd_sink_t *sink,
                     unsigned *err_line, const char **err_msg);
/* "ip4set" -> BL_RBLDNSD_IP4SET, ...; -1 if unknown. */
int bl_rbldnsd_kind_parse(const char *name);

#endif

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
 * TXT template (may contain '$'), NULL for none; a4 is the A value, any
 * IPv4 address as rbldnsd answers it, in host byte order (127.0.0.2 is
 * 0x7f000002; never 0). excluded is 1 for '!' lines. */
typedef struct {
    bl_prefix_t key;
    uint32_t a4;
    const char *txt;
    int excluded;
    unsigned line;
} bl_rbldnsd_rec_t;

#define BL_RBLDNSD_DEF_A   0x7f000002u /* the A value without a default line: 127.0.0.2 */
#define BL_RBLDNSD_NS_MAX  8
#define BL_RBLDNSD_DEF_TTL 2100 /* rbldnsd's TTL without $TTL (its -t default, 35m) */
#define BL_RBLDNSD_TXT_MAX 1024

/* What a file's directives say (rbldnsd(8) "Special Entries"): the first
 * $SOA and $NS lines, the last $TTL, $TIMESTAMP, and the text of the first
 * default (`:A:TXT`) line. Times are seconds; names as written (a trailing
 * dot allowed). A $SOA or $NS TTL of 0 is the $TTL above it, or 0 when
 * there is none (the server's default, BL_RBLDNSD_DEF_TTL in rbldnsd). */
typedef struct {
    int has_soa;
    uint32_t soa_ttl, serial, refresh, retry, expire, minttl;
    char mname[256], rname[256];
    int has_ns;
    uint32_t ns_ttl;
    unsigned nns;
    char ns[BL_RBLDNSD_NS_MAX][256];
    int has_ttl;
    uint32_t ttl;
    int64_t stamp, expires; /* $TIMESTAMP, Unix seconds; 0: not given */
    int has_def_txt;
    char def_txt[BL_RBLDNSD_TXT_MAX];
    unsigned bad; /* lines skipped as bad */
} bl_rbldnsd_meta_t;

typedef struct {
    void *ctx;
    int (*rec)(void *ctx, const bl_rbldnsd_rec_t *r); /* non-zero stops parsing */
    /* A line that is not valid (msg says why, as rbldnsd words it where it
     * has words for it): returns 0 to skip the line and go on, non-zero to
     * stop (the parse returns that value). NULL: the first bad line stops
     * the parse with its error. */
    int (*bad)(void *ctx, unsigned line, const char *msg);
    bl_rbldnsd_meta_t *meta; /* may be NULL; filled from the directives */
} bl_rbldnsd_sink_t;

/* Parses a whole data file held in memory (untrusted). Honors the `:A:TXT`
 * default line, per-entry `:A:TXT` values, comments, and the `$SOA`, `$NS`,
 * `$TTL` and `$TIMESTAMP` directives (into sink->meta). A CIDR with host
 * bits set is a bad line, as in rbldnsd ("invalid range (non-zero host
 * part)"). kind is from bl_rbldnsd_kind_parse(). On an error that stops the
 * parse returns BL_EPREFIX or BL_EFIELD (or the sink's code) and sets
 * *err_line; err_msg (may be NULL) receives a static description. */
int bl_rbldnsd_parse(const char *text, size_t len, int kind, const bl_rbldnsd_sink_t *sink,
                     unsigned *err_line, const char **err_msg);
/* "ip4set" -> BL_RBLDNSD_IP4SET, ...; -1 if unknown. */
int bl_rbldnsd_kind_parse(const char *name);

#endif

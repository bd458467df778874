/* SPDX-License-Identifier: MIT */
/* A served zone: its fixed DNS settings and its current data version, swapped whole. */
#ifndef MIRROR_ZONE_H
#define MIRROR_ZONE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "qsbr.h"

#define MIRROR_NS_MAX 8

/* The SOA and NS settings and answer TTL of a zone served from rbldnsd
 * files: the zone's configuration where it sets them, else the files'
 * $SOA, $NS and $TTL (mirror_import_rbldnsd). Names in wire format. */
typedef struct {
    uint32_t ttl, soa_ttl, neg_ttl, refresh, retry, expire;
    uint8_t mname[256], rname[256];
    unsigned mname_len, rname_len;
    uint8_t ns[MIRROR_NS_MAX][256];
    unsigned ns_len[MIRROR_NS_MAX];
    unsigned nns;
} mirror_apex_t;

#define MIRROR_SOURCES_MAX 16

/* One published data version of a zone: swapped whole with one atomic store
 * and freed when no DNS thread can hold it (mirror_zone_publish). */
typedef struct mirror_zdata {
    mirror_index_t *ix;
    /* A zone served from several rbldnsd files has one index per file, as
     * rbldnsd has one dataset per file: ix is the first, more[] the others.
     * An address gets an answer record from every index that lists it. */
    mirror_index_t *more[MIRROR_SOURCES_MAX - 1];
    /* 1: more[i] holds the second (third, ...) listings of keys listed
     * twice in one ip4set file, which rbldnsd answers all: they count only
     * where the index before them matched at the same prefix length */
    uint8_t more_dup[MIRROR_SOURCES_MAX - 1];
    size_t nmore;
    /* Feed zones: the A value of each index's listings (ix first), 0: their
     * own, else the zone's default_a. The indexes are the feeds' (borrowed):
     * each feed frees its own once no data version holds it. */
    uint8_t src_a[MIRROR_SOURCES_MAX];
    /* rbldnsd imports: the zone's A values, the listings' a a code into it
     * (owned); NULL: a is the last octet of 127.0.0.a (feeds) */
    mirror_avals_t *avals;
    unsigned unloaded; /* bit k: feed k has no state yet (its index is empty) */
    int borrowed;
    mirror_apex_t *apex; /* NULL: the zone's own settings (feeds) */
    int64_t expires_at;  /* $TIMESTAMP expiry (Unix s): no positive answer after it; 0: none */
    char *test_txt;      /* 127.0.0.2's TXT when the data does not list it; NULL: the zone's */
    uint64_t serial;
    /* reason id -> TXT template. With txt_exact (rbldnsd imports) a NULL or
     * missing template means no TXT; otherwise the zone's default applies. */
    char **txt;
    size_t ntxt;
    int txt_exact;
    int own_txt; /* txt (and its strings) freed with this version */
} mirror_zdata_t;

/* A served zone: its fixed settings (from the configuration) and its
 * current data. A feed zone serves one feed or combines several (src[],
 * one index each in its data); a feed may serve several zones. */
struct mirror_feed;
typedef struct mirror_zone {
    char name[256];    /* lower case, no trailing dot */
    uint8_t wire[256]; /* lower-case wire format */
    unsigned wire_len;
    unsigned nlabels;
    /* TTLs and templates may change on SIGHUP while DNS threads read them:
     * atomic. A reload stores a new reason_txt array (never shorter) before
     * the new nreason and frees old templates after a grace period (qsbr, mirror_zone_reload). */
    _Atomic uint32_t ttl;     /* A and TXT answers */
    _Atomic uint32_t soa_ttl; /* SOA and NS records */
    _Atomic uint32_t neg_ttl; /* SOA minimum: negative caching */
    uint32_t refresh, retry, expire;
    uint8_t mname[256], rname[256];
    unsigned mname_len, rname_len;
    uint8_t ns[MIRROR_NS_MAX][256];
    unsigned ns_len[MIRROR_NS_MAX];
    unsigned nns;
    uint8_t default_a;
    char *_Atomic default_txt; /* may be NULL: no TXT */
    char **_Atomic reason_txt; /* config templates per reason id (feed zones) */
    _Atomic size_t nreason;
    _Atomic(mirror_zdata_t *) data;
    /* freeze: bit k set, source k's listings answer nothing (a zone of one
     * source: none do; the test entries always answer) */
    atomic_int no_positive;
    /* feed zones: the feeds combined, in the order of feed =, and the A
     * value of each (0: the listings' own, else default_a); writer thread */
    struct mirror_feed *src[MIRROR_SOURCES_MAX];
    uint8_t src_a[MIRROR_SOURCES_MAX];
    unsigned nsrc;
    /* rbldnsd files (writer thread only): a digest of the stat() of the
     * files the data was read from, the new one waiting to settle, when to
     * look next, and whether the expiry was logged */
    struct {
        uint64_t loaded, pending;
        int64_t next_ms;
        int expired_logged;
    } files;
    _Atomic(struct mirror_acl *) acl; /* who may query the zone (acl.h), swapped on SIGHUP */
} mirror_zone_t;

/* The A value (host byte order) a listing's a field stands for: a code into
 * the data's A values (rbldnsd imports), else the last octet of 127.0.0.a,
 * 0 for the zone's default. */
static inline uint32_t mirror_zone_a_value(const mirror_zone_t *z, const mirror_zdata_t *d,
                                           uint8_t a)
{
    return d->avals ? d->avals->v[a] : 0x7f000000u | (a ? a : z->default_a);
}

struct mirror_zone_conf; /* config.h */

/* Fills a zone's fixed DNS settings from its configuration. */
int mirror_zone_init(mirror_zone_t *z, const struct mirror_zone_conf *zc, char *err, size_t errlen);
/* Re-applies what a SIGHUP may change (TTLs, TXT templates) from zc to the
 * running zone z: integers are stored atomically-enough for readers (aligned
 * 32-bit), templates are swapped and the old ones returned in *old_txt /
 * *old_reason (*old_nreason) for the caller to free once no reader holds them. */
int mirror_zone_reload(mirror_zone_t *z, const struct mirror_zone_conf *zc, char **old_txt,
                       char ***old_reason, size_t *old_nreason);
/* Frees what mirror_zone_init allocated and the zone's current data. */
void mirror_zone_close(mirror_zone_t *z);

/* Publishes d as z's data with one atomic store, waits until no DNS thread
 * can hold the previous version and frees it. Takes ownership of d. Writer
 * thread only. */
void mirror_zone_publish(mirror_zone_t *z, mirror_qsbr_t *q, mirror_zdata_t *d);
/* Frees a data version (its indexes unless borrowed, an owned TXT table).
 * NULL is a no-op. */
void mirror_zdata_free(mirror_zdata_t *d);

#endif

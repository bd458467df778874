/* SPDX-License-Identifier: MIT */
/* DNSBL query parsing and answer building (RFC 1034/1035/5782/6891): pure functions, no I/O. */
#ifndef MIRROR_DNS_H
#define MIRROR_DNS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "index.h"
#include "zone.h"

#define MIRROR_UDP_MAX_DEFAULT 1232 /* EDNS payload we advertise and honour at most */

enum {
    MIRROR_RC_NOERROR = 0,
    MIRROR_RC_FORMERR = 1,
    MIRROR_RC_SERVFAIL = 2,
    MIRROR_RC_NXDOMAIN = 3,
    MIRROR_RC_NOTIMP = 4,
    MIRROR_RC_REFUSED = 5,
    MIRROR_RC_BADVERS = 16,
};

/* What the server passes for one packet. zones are read-only here; the
 * caller is inside its read-side critical section (qsbr.h). */
typedef struct {
    mirror_zone_t *const *zones;
    size_t nzones;
    int64_t now;      /* Unix seconds, cached per loop tick */
    uint16_t udp_max; /* largest UDP answer we send (>= 512) */
    /* The defences at the query entry. peer is the client of
     * mirror_dns_answer(_ex) (a batch's jobs carry their own); NULL: not
     * known, no ACL applies. acl points at the server's list, swapped on
     * SIGHUP (NULL: none); each zone has its own (mirror_zone_t.acl). */
    const mirror_ip_t *peer;
    _Atomic(mirror_acl_t *) const *acl;
    const char *identity; /* CH TXT of id.server and hostname.bind (NULL: REFUSED) */
    const uint8_t *nsid;  /* EDNS NSID sent to queries asking for it (NULL: none) */
    uint8_t nsid_len, identity_len;
} mirror_dns_ctx_t;

/* Answers one query held in q (untrusted). Writes the response into out
 * (cap >= 512; TCP answers are bounded by cap and 65535) and returns its
 * length, or 0 when nothing must be sent (a response, or fewer than 12
 * bytes). *rcode (may be NULL) receives the answer's rcode. Allocates nothing. */
size_t mirror_dns_answer(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen, uint8_t *out,
                         size_t cap, int tcp, int *rcode);

/* What one answer was, for metrics. */
enum {
    MIRROR_QT_A,
    MIRROR_QT_AAAA,
    MIRROR_QT_TXT,
    MIRROR_QT_SOA,
    MIRROR_QT_NS,
    MIRROR_QT_ANY,
    MIRROR_QT_OTHER,
    MIRROR_QT_N
};
typedef struct {
    int rcode;  /* MIRROR_RC_* (BADVERS is 16) */
    int qtype;  /* MIRROR_QT_* */
    int zone;   /* index in the context's zones, -1 if none */
    int listed; /* the answer said "listed" (A or TXT data) */
    int denied; /* an ACL refused (MIRROR_ACL_REFUSE) or dropped (MIRROR_ACL_DROP) it, else 0 */
} mirror_dns_info_t;

/* Like mirror_dns_answer, and describes the answer in *info (not NULL). */
size_t mirror_dns_answer_ex(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen, uint8_t *out,
                            size_t cap, int tcp, mirror_dns_info_t *info);

/* One query of a batch: q and qlen in, its answer in out (cap bytes), len
 * (0: send nothing) and info out. */
typedef struct {
    const uint8_t *q;
    size_t qlen;
    uint8_t *out;
    size_t len;
    mirror_dns_info_t info;
    mirror_ip_t peer; /* the client (ACLs) */
} mirror_dns_job_t;

/* Answers n UDP queries, each exactly as mirror_dns_answer_ex would, but
 * parses each once for two passes: the first finds every query's zone and
 * asks for its entries in each of the zone's indexes (one per feed or
 * file; mirror_index_prefetch4 stage 0), the second answers, asking for
 * the elements (stage 1) of the query MIRROR_DNS_PREFETCH_AHEAD places on,
 * so that the cache misses of a batch's lookups overlap instead of coming
 * one after another. */
void mirror_dns_answer_batch(const mirror_dns_ctx_t *c, mirror_dns_job_t *jobs, size_t n,
                             size_t cap);

/* Prefetch hint for a batch (see mirror_index_prefetch4): for a query that
 * asks for an IPv4 address in a zone, issues stage 0 in each of the zone's
 * indexes and fills *ix (the first) and *addr for stage 1, returning 1; 0
 * for any other packet. Answers do not depend on it. */
int mirror_dns_prefetch(const mirror_dns_ctx_t *c, const uint8_t *q, size_t qlen,
                        const mirror_index_t **ix, uint32_t *addr);
/* How many queries ahead of the one being answered stage 1 is issued
 * (mirror_dns_answer_batch). */
#define MIRROR_DNS_PREFETCH_AHEAD 4

/* Converts "bl.example.org" (case-insensitive, optional trailing dot) to
 * lower-case wire format; returns its length or 0 if invalid. */
unsigned mirror_dns_name_to_wire(const char *name, uint8_t wire[256], unsigned *nlabels);

/* Expands a TXT template for addr ('$' -> address text, "$$" -> '$') into
 * out (at most 254 bytes, truncated like rbldnsd); returns the length. */
size_t mirror_dns_txt_expand(const char *tmpl, const char *addr, char *out);

/* Writes an IPv6 address the way rbldnsd writes it in TXT '$' (RFC 5952:
 * lower case, no leading zeros, the longest run of two or more zero groups
 * as "::", the first on a tie, no dotted IPv4 tail); out holds 40 bytes. */
void mirror_dns_fmt_addr6(const uint8_t a[16], char *out);

#endif

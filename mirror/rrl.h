/* SPDX-License-Identifier: MIT */
/* Response-rate limiting in the style of Knot's and NSD's RRL: token buckets per client prefix. */
#ifndef MIRROR_RRL_H
#define MIRROR_RRL_H

#include <stdatomic.h>
#include <stdint.h>

#include "acl.h"

/*
 * A UDP answer costs its source address nothing, so a spoofed flood turns a
 * name server into an amplifier aimed at the spoofed victim. Every client
 * prefix (an IPv4 /ipv4_prefix, an IPv6 /ipv6_prefix: the unit an attacker
 * or a victim network holds) gets a token bucket of `rate` answers per
 * second that holds at most one second's worth. An answer that finds the
 * bucket empty is not sent; every `slip`-th such answer goes out truncated
 * instead (TC=1, the question only, smaller than the query's answer), so a
 * real client behind a limited prefix retries over TCP and is answered
 * there: TCP is never limited, its handshake proves the source. Clients in
 * the whitelist (an ACL whose allow rules are the exempt prefixes) are
 * never limited.
 *
 * The buckets are a fixed table indexed by a keyed hash of the prefix: no
 * allocation on the query path, bounded memory however many sources a
 * flood uses, and prefixes that collide share a bucket (rarely; a
 * legitimate client sharing with a flooding one is then limited too, as in
 * Knot). Each bucket is one 64-bit word updated with compare-and-swap: the
 * milliseconds clock of its last refill (32 bits, wrapping after 49 days)
 * and its tokens in thousandths of an answer.
 */

enum { MIRROR_RRL_PASS, MIRROR_RRL_DROP, MIRROR_RRL_SLIP };

typedef struct {
    unsigned rate;                 /* answers per second per prefix (1..1000000) */
    unsigned slip;                 /* every slip-th limited answer is sent truncated (0: none) */
    unsigned ipv4_prefix;          /* 8..32 */
    unsigned ipv6_prefix;          /* 32..128 */
    unsigned table_size;           /* buckets (rounded up to a power of two) */
    const mirror_acl_t *whitelist; /* allowed prefixes are never limited; may be NULL */
    uint64_t seed;                 /* hash key, unknown outside the process */
} mirror_rrl_conf_t;

typedef struct mirror_rrl {
    mirror_rrl_conf_t conf;
    uint64_t mask;
    _Atomic uint64_t limited; /* answers over the rate (dropped + slipped), for slip */
    _Atomic uint64_t *buckets;
} mirror_rrl_t;

/* NULL when out of memory. */
mirror_rrl_t *mirror_rrl_new(const mirror_rrl_conf_t *conf);
void mirror_rrl_free(mirror_rrl_t *r);

/* Whether an answer to client ip may go out at now_ms (any monotonic
 * milliseconds): MIRROR_RRL_PASS (send it, a token taken), MIRROR_RRL_DROP
 * (send nothing) or MIRROR_RRL_SLIP (send it truncated). */
int mirror_rrl_check(mirror_rrl_t *r, const mirror_ip_t *ip, uint64_t now_ms);

/* Turns the answer in p (len bytes) into its truncated form: the header
 * with TC set and no records, and the question. Returns the new length (0
 * when the answer has no readable question). */
size_t mirror_rrl_truncate(uint8_t *p, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* What may be listed: the address rules shared by the master's API, blsyncctl and the importers. */
#ifndef BL_ADDR_H
#define BL_ADDR_H

#include "entry.h"

/* Flags of bl_addr_check. */
enum {
    BL_ADDR_PREFIX = 1, /* a CIDR prefix is allowed (operator listings, imports); without
                           it the input is one address (reports, lookups) and any '/' is
                           refused, even /32 */
};

/*
 * Parses s (an IPv4 or IPv6 address, or with BL_ADDR_PREFIX a CIDR prefix)
 * and checks it against the rules of what a DNSBL may list:
 *  - the whole address space (/0) and prefixes wider than min_len4 /
 *    min_len6 (0: no limit) are refused;
 *  - no host sends mail from 0.0.0.0 (unspecified), 0.0.0.0/8 ("this
 *    network"), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast),
 *    255.255.255.255 (broadcast) or 240.0.0.0/4 (reserved), nor from ::,
 *    ::1, ::/96 (IPv4-compatible, deprecated) or ff00::/8 (multicast):
 *    an address in, or a prefix overlapping, any of them is refused;
 *  - the RFC 5782 test entries 127.0.0.2 and ::ffff:127.0.0.2 are allowed;
 *  - any other IPv4-mapped IPv6 address (::ffff:a.b.c.d, or a prefix of /96
 *    or longer inside ::ffff:0:0/96) is mapped to its IPv4 address, which
 *    the IPv4 rules then judge: a mapped key could only ever match IPv6
 *    queries, which no mail from that IPv4 host makes.
 * Returns 0 with the (possibly mapped) key in *out, or BL_EPREFIX
 * (malformed), BL_EHOSTBITS (bits set beyond the length) or BL_EINVAL
 * (refused by a rule), with *why a static sentence for the user.
 */
int bl_addr_check(const char *s, int flags, int min_len4, int min_len6, bl_prefix_t *out,
                  const char **why);

#endif

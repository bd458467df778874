/* SPDX-License-Identifier: MIT */
/* The optional query log: a sample of the queries, bounded in lines per second, to the log system.
 */
#ifndef MIRROR_QUERYLOG_H
#define MIRROR_QUERYLOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "dns.h"

/*
 * One query in `sample` is logged (each server thread counts its own
 * queries, so the hot path touches no shared line), as one info line
 *   event=query client=ADDR proto=udp|tcp qname=NAME qtype=N rcode=NAME
 * with action=acl_dropped, rrl_dropped or rrl_slipped when no full answer
 * went out (acl_dropped and rrl_dropped: none at all)
 * through the daemon's log (standard error for journald, or syslog, which
 * rotate it). However many queries arrive, at most max_per_s lines are
 * written in any second; the lines left out are counted and reported by
 * one query_log_suppressed line when the next second's first line is
 * written. Off (no query looked at) when sample is 0, the default.
 */
typedef struct mirror_qlog {
    unsigned sample;
    unsigned max_per_s;
    _Atomic uint64_t window; /* the current second (high 32 bits) and its lines so far */
    _Atomic uint64_t suppressed;
} mirror_qlog_t;

/* Whether the query this thread counts now is in the sample; *ctr is the
 * thread's own counter. */
static inline int mirror_qlog_sampled(const mirror_qlog_t *l, unsigned *ctr)
{
    if (++*ctr < l->sample)
        return 0;
    *ctr = 0;
    return 1;
}

/* Logs one sampled query q (qlen bytes, untrusted) from client, answered as
 * info says (action: NULL, or what a defence did instead), unless this
 * second's lines are used up (now_ms: the wall clock, whose seconds the
 * log's timestamps show). */
void mirror_qlog_write(mirror_qlog_t *l, const mirror_ip_t *client, int tcp, const uint8_t *q,
                       size_t qlen, const mirror_dns_info_t *info, const char *action,
                       uint64_t now_ms);

/* The text of a client address (IPv4-mapped ones as IPv4), into out[48]. */
void mirror_ip_format(const mirror_ip_t *ip, char *out);

#endif

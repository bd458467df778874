/* SPDX-License-Identifier: MIT */
/* Access control lists: which clients a server or a zone answers (prefix rules, longest match). */
#ifndef MIRROR_ACL_H
#define MIRROR_ACL_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* A client address as 128 bits: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
typedef struct {
    uint64_t hi, lo;
} mirror_ip_t;

/* What a rule does with the clients it covers, mildest first (a stricter
 * verdict wins when a server's and a zone's list both decide). */
enum { MIRROR_ACL_ALLOW, MIRROR_ACL_REFUSE, MIRROR_ACL_DROP };

typedef struct {
    mirror_ip_t net; /* host bits zero */
    uint8_t len;     /* 0..128 (IPv4 rules: 96 + their length) */
    uint8_t action;  /* MIRROR_ACL_* */
} mirror_acl_rule_t;

/*
 * A list of prefix rules; the longest prefix that covers a client decides
 * its action, and a client no rule covers is allowed (an allow list is
 * `deny any` plus `allow PREFIX` rules). Built with mirror_acl_add*, made
 * searchable with mirror_acl_finish, then read-only: any number of threads
 * may check it at once. Rules are kept sorted by length, longest first, so
 * that a check is one binary search per distinct prefix length.
 */
typedef struct mirror_acl {
    mirror_acl_rule_t *rules;
    size_t n, cap;
    unsigned nlens;
    uint8_t lens[129]; /* the distinct lengths, longest first */
    size_t seg[130];   /* rules of lens[i]: seg[i] .. seg[i + 1] - 1 */
    unsigned skipped;  /* rbldnsd lines not imported (mirror_acl_load_rbldnsd) */
} mirror_acl_t;

/* The client address of a socket address (AF_INET, AF_INET6); 0 or -1. */
int mirror_ip_from_sockaddr(const struct sockaddr *sa, mirror_ip_t *ip);
/* The address with every bit past len cleared. */
mirror_ip_t mirror_ip_mask(mirror_ip_t ip, unsigned len);

/* Parses a prefix: an IPv6 address, an IPv4 address (a.b.c.d, or shortened
 * a.b.c / a.b / a as rbldnsd allows, meaning /24, /16, /8), with an
 * optional /LEN. Host bits past LEN are refused. IPv4 prefixes come out as
 * ::ffff:0:0/96 + LEN. Returns 0, or -1 with *why. */
int mirror_acl_parse_prefix(const char *s, mirror_ip_t *net, unsigned *len, const char **why);

/* Adds one rule (later rules replace earlier ones for the same prefix). */
int mirror_acl_add(mirror_acl_t *a, mirror_ip_t net, unsigned len, int action);
/* Adds the rules of one configuration line "ACTION PREFIX...": ACTION is
 * allow, deny (deny_action: REFUSE or DROP), refuse or drop; PREFIX as
 * mirror_acl_parse_prefix or "any" (0.0.0.0/0 and ::/0). 0, or -1 with
 * *why. */
int mirror_acl_add_line(mirror_acl_t *a, const char *line, int deny_action, const char **why);
/* Imports an rbldnsd acl dataset file: "PREFIX [:ACTION]" lines with ACTION
 * ignore or blackhole (drop), refuse, pass (allow); a line ":ACTION" sets
 * the action of the lines after it (at first: ignore, as in rbldnsd).
 * Lines rbldnsd would answer specially (:empty, an A:TXT template) and bad
 * lines are skipped and counted in a->skipped, each logged with file and
 * line; # and ; comments and $ specials are ignored. 0, or -1 with err set
 * when the file cannot be read. */
int mirror_acl_load_rbldnsd(mirror_acl_t *a, const char *path, char *err, size_t errlen);
/* Sorts the rules for checking; after it, no rule may be added. */
int mirror_acl_finish(mirror_acl_t *a);
/* The action for a client (MIRROR_ACL_ALLOW when a is NULL or empty). */
int mirror_acl_check(const mirror_acl_t *a, const mirror_ip_t *ip);
/* The action of the longest rule that covers ip, or -1 when none does (or
 * a is NULL). */
int mirror_acl_match(const mirror_acl_t *a, const mirror_ip_t *ip);
void mirror_acl_free(mirror_acl_t *a);

#endif

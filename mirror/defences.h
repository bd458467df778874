/* SPDX-License-Identifier: MIT */
/* The defences of a public name server, wired from the configuration: the server's and each
 * zone's ACL, response-rate limiting, NSID and identity, the query log. */
#ifndef MIRROR_DEFENCES_H
#define MIRROR_DEFENCES_H

#include "acl.h"
#include "config.h"
#include "qsbr.h"
#include "querylog.h"
#include "rrl.h"
#include "zone.h"

/* What the server threads read. The ACLs are swapped whole on SIGHUP and
 * the old ones freed after a grace period (qsbr); the rest is fixed until
 * a restart. */
typedef struct mirror_defences {
    _Atomic(mirror_acl_t *) acl; /* the server's; NULL: none */
    mirror_acl_t *whitelist;     /* rrl_whitelist */
    mirror_rrl_t *rrl;           /* NULL: off */
    mirror_qlog_t qlog;          /* qlog.sample 0: off */
    uint8_t nsid[128];
    uint8_t nsid_len; /* 0: none */
    char identity[129];
    uint8_t identity_len;
    int has_identity;
} mirror_defences_t;

/* Builds everything from c and installs each zone's ACL (zones[i] is
 * c->zones[i]). Returns 0, or BL_ECONFIG with err (an unreadable acl_file). */
int mirror_defences_init(mirror_defences_t *d, const mirror_config_t *c, mirror_zone_t *zones,
                         unsigned nzones, char *err, size_t errlen);
/* SIGHUP: rebuilds the server's and every zone's ACL from nc; when any
 * fails nothing changes (BL_ECONFIG with err). Otherwise swaps them in,
 * waits until no DNS thread can hold an old one and frees the old ones. */
int mirror_defences_reload(mirror_defences_t *d, const mirror_config_t *nc, mirror_zone_t *zones,
                           unsigned nzones, mirror_qsbr_t *q, char *err, size_t errlen);
/* Frees everything (DNS threads stopped), the zones' ACLs too. */
void mirror_defences_close(mirror_defences_t *d, mirror_zone_t *zones, unsigned nzones);

#endif

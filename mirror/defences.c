/* SPDX-License-Identifier: MIT */
/* The defences, wired from the configuration (see defences.h). */
#include "defences.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "err.h"
#include "log.h"

/* One scope's ACL (NULL when it has no rule and no file). */
static int build_acl(const mirror_acl_conf_t *ac, const char *scope, mirror_acl_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (!ac->nacl && !ac->acl_file)
        return 0;
    mirror_acl_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "%s acl: out of memory", scope);
        return BL_ECONFIG;
    }
    if (ac->acl_file && mirror_acl_load_rbldnsd(a, ac->acl_file, err, errlen)) {
        mirror_acl_free(a);
        return BL_ECONFIG;
    }
    for (unsigned i = 0; i < ac->nacl; i++) {
        const char *why;
        if (mirror_acl_add_line(a, ac->acl[i], ac->acl_action, &why)) {
            snprintf(err, errlen, "%s acl '%s': %s", scope, ac->acl[i], why);
            mirror_acl_free(a);
            return BL_ECONFIG;
        }
    }
    mirror_acl_finish(a);
    BL_INFO("acl_loaded", "scope=%s rules=%zu skipped=%u file=%s", bl_log_q(scope), a->n,
            a->skipped, ac->acl_file ? bl_log_q(ac->acl_file) : "-");
    *out = a;
    return 0;
}

/* Every ACL of c: [0] the server's, [1 + i] zone i's. */
static int build_all(const mirror_config_t *c, unsigned nzones, mirror_acl_t **acls, char *err,
                     size_t errlen)
{
    memset(acls, 0, (nzones + 1) * sizeof *acls);
    int rc = build_acl(&c->acl, "server", &acls[0], err, errlen);
    for (unsigned i = 0; !rc && i < nzones; i++) {
        char scope[300];
        snprintf(scope, sizeof scope, "zone %s", c->zones[i].name);
        rc = build_acl(&c->zones[i].acl, scope, &acls[1 + i], err, errlen);
    }
    if (rc)
        for (unsigned i = 0; i <= nzones; i++)
            mirror_acl_free(acls[i]);
    return rc;
}

int mirror_defences_init(mirror_defences_t *d, const mirror_config_t *c, mirror_zone_t *zones,
                         unsigned nzones, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    mirror_acl_t *acls[MIRROR_CONF_MAX_ZONES + 1];
    int rc = build_all(c, nzones, acls, err, errlen);
    if (rc)
        return rc;
    atomic_store(&d->acl, acls[0]);
    for (unsigned i = 0; i < nzones; i++)
        atomic_store(&zones[i].acl, acls[1 + i]);
    if (c->rrl_rate) {
        if (c->nrrl_whitelist) {
            d->whitelist = calloc(1, sizeof *d->whitelist);
            for (unsigned i = 0; d->whitelist && i < c->nrrl_whitelist; i++) {
                mirror_ip_t net;
                unsigned len;
                const char *why;
                if (!mirror_acl_parse_prefix(c->rrl_whitelist[i], &net, &len, &why))
                    mirror_acl_add(d->whitelist, net, len, MIRROR_ACL_ALLOW);
            }
            if (d->whitelist)
                mirror_acl_finish(d->whitelist);
        }
        uint64_t seed;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
            seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
        mirror_rrl_conf_t rc_ = {.rate = c->rrl_rate,
                                 .slip = c->rrl_slip,
                                 .ipv4_prefix = c->rrl_ipv4_prefix,
                                 .ipv6_prefix = c->rrl_ipv6_prefix,
                                 .table_size = c->rrl_table_size,
                                 .whitelist = d->whitelist,
                                 .seed = seed};
        d->rrl = mirror_rrl_new(&rc_);
        if (!d->rrl) {
            snprintf(err, errlen, "rrl: out of memory for %u buckets", c->rrl_table_size);
            mirror_defences_close(d, zones, nzones);
            return BL_ECONFIG;
        }
        BL_INFO("rrl", "rate=%u slip=%u ipv4_prefix=%u ipv6_prefix=%u buckets=%llu whitelist=%u",
                c->rrl_rate, c->rrl_slip, c->rrl_ipv4_prefix, c->rrl_ipv6_prefix,
                (unsigned long long)d->rrl->mask + 1, c->nrrl_whitelist);
    }
    d->qlog.sample = c->query_log_sample;
    d->qlog.max_per_s = c->query_log_max_per_s ? c->query_log_max_per_s : 1;
    if (c->nsid) {
        d->nsid_len = (uint8_t)strlen(c->nsid);
        memcpy(d->nsid, c->nsid, d->nsid_len);
    }
    if (c->identity) {
        d->has_identity = 1;
        d->identity_len = (uint8_t)strlen(c->identity);
        memcpy(d->identity, c->identity, d->identity_len);
    }
    return 0;
}

int mirror_defences_reload(mirror_defences_t *d, const mirror_config_t *nc, mirror_zone_t *zones,
                           unsigned nzones, mirror_qsbr_t *q, char *err, size_t errlen)
{
    mirror_acl_t *acls[MIRROR_CONF_MAX_ZONES + 1], *old[MIRROR_CONF_MAX_ZONES + 1];
    int rc = build_all(nc, nzones, acls, err, errlen);
    if (rc)
        return rc;
    old[0] = atomic_exchange(&d->acl, acls[0]);
    for (unsigned i = 0; i < nzones; i++)
        old[1 + i] = atomic_exchange(&zones[i].acl, acls[1 + i]);
    mirror_qsbr_synchronize(q);
    for (unsigned i = 0; i <= nzones; i++)
        mirror_acl_free(old[i]);
    return 0;
}

void mirror_defences_close(mirror_defences_t *d, mirror_zone_t *zones, unsigned nzones)
{
    mirror_acl_free(atomic_exchange(&d->acl, NULL));
    for (unsigned i = 0; i < nzones; i++)
        mirror_acl_free(atomic_exchange(&zones[i].acl, NULL));
    mirror_rrl_free(d->rrl);
    mirror_acl_free(d->whitelist);
    d->rrl = NULL;
    d->whitelist = NULL;
}

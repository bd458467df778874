/* SPDX-License-Identifier: MIT */
/* A served zone: its fixed DNS settings and its current data version, swapped whole. */
#include "zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns.h"
#include "err.h"

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return BL_ECONFIG;                                                                         \
    } while (0)

int mirror_zone_init(mirror_zone_t *z, const mirror_zone_conf_t *zc, char *err, size_t errlen)
{
    memset(z, 0, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", zc->name);
    z->wire_len = mirror_dns_name_to_wire(zc->name, z->wire, &z->nlabels);
    if (!z->wire_len)
        BAD("zone '%s': not a valid domain name", zc->name);
    z->ttl = zc->ttl;
    z->soa_ttl = zc->soa_ttl;
    z->neg_ttl = zc->neg_ttl;
    z->refresh = zc->refresh;
    z->retry = zc->retry;
    z->expire = zc->expire;
    char buf[300];
    const char *mname = zc->mname;
    if (!*mname) {
        snprintf(buf, sizeof buf, "%s", zc->nns ? zc->ns[0] : zc->name);
        mname = buf;
    }
    z->mname_len = mirror_dns_name_to_wire(mname, z->mname, NULL);
    if (!z->mname_len)
        BAD("zone %s: soa_mname '%s' is not a valid name", zc->name, mname);
    char rb[300];
    const char *rname = zc->rname;
    if (!*rname) {
        snprintf(rb, sizeof rb, "hostmaster.%s", zc->name);
        rname = rb;
    }
    z->rname_len = mirror_dns_name_to_wire(rname, z->rname, NULL);
    if (!z->rname_len)
        BAD("zone %s: soa_rname '%s' is not a valid name", zc->name, rname);
    for (unsigned i = 0; i < zc->nns; i++) {
        z->ns_len[i] = mirror_dns_name_to_wire(zc->ns[i], z->ns[i], NULL);
        if (!z->ns_len[i])
            BAD("zone %s: ns '%s' is not a valid name", zc->name, zc->ns[i]);
    }
    z->nns = zc->nns;
    z->default_a = (uint8_t)zc->a;
    z->default_txt = zc->txt ? strdup(zc->txt) : NULL;
    if (zc->nreason) {
        z->reason_txt = calloc(zc->nreason, sizeof *z->reason_txt);
        if (!z->reason_txt)
            BAD("out of memory");
        for (size_t i = 0; i < zc->nreason; i++)
            z->reason_txt[i] = zc->reason_txt[i] ? strdup(zc->reason_txt[i]) : NULL;
        z->nreason = zc->nreason;
    }
    atomic_store(&z->data, NULL);
    atomic_store(&z->no_positive, 0);
    return 0;
}

void mirror_zone_close(mirror_zone_t *z)
{
    free(z->default_txt);
    for (size_t i = 0; i < z->nreason; i++)
        free(z->reason_txt[i]);
    free(z->reason_txt);
    mirror_zdata_free(atomic_exchange(&z->data, NULL));
    memset(z, 0, sizeof *z);
}

int mirror_zone_reload(mirror_zone_t *z, const mirror_zone_conf_t *zc, char **old_txt,
                       char ***old_reason, size_t *old_nreason)
{
    size_t on = atomic_load(&z->nreason);
    size_t nn = zc->nreason > on ? zc->nreason : on; /* never shorter: see zone.h */
    char **nr = NULL;
    char *nt = zc->txt ? strdup(zc->txt) : NULL;
    if (zc->txt && !nt)
        return BL_ENOMEM;
    if (nn) {
        nr = calloc(nn, sizeof *nr);
        if (!nr) {
            free(nt);
            return BL_ENOMEM;
        }
        for (size_t i = 0; i < zc->nreason; i++)
            if (zc->reason_txt[i] && !(nr[i] = strdup(zc->reason_txt[i]))) {
                for (size_t j = 0; j < i; j++)
                    free(nr[j]);
                free(nr);
                free(nt);
                return BL_ENOMEM;
            }
    }
    atomic_store(&z->ttl, zc->ttl);
    atomic_store(&z->soa_ttl, zc->soa_ttl);
    atomic_store(&z->neg_ttl, zc->neg_ttl);
    *old_txt = atomic_exchange(&z->default_txt, nt);
    *old_reason = atomic_exchange(&z->reason_txt, nr);
    atomic_store(&z->nreason, nn);
    *old_nreason = on;
    return 0;
}

void mirror_zdata_free(mirror_zdata_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; !d->borrowed && i <= d->nmore; i++)
        mirror_index_free(i ? d->more[i - 1] : d->ix);
    free(d->apex);
    free(d->avals);
    free(d->test_txt);
    if (d->own_txt) {
        for (size_t i = 0; i < d->ntxt; i++)
            free(d->txt[i]);
        free(d->txt);
    }
    free(d);
}

void mirror_zone_publish(mirror_zone_t *z, mirror_qsbr_t *q, mirror_zdata_t *d)
{
    mirror_zdata_t *old = atomic_exchange(&z->data, d);
    if (old) {
        mirror_qsbr_synchronize(q);
        mirror_zdata_free(old);
    }
}

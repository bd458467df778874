/* SPDX-License-Identifier: MIT */
/* The served state of a zone written as rbldnsd data files, for an rbldnsd kept in front. */
#include "export.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

typedef struct {
    FILE *f;
    const mirror_zone_t *z;
    const mirror_zdata_t *d;
    unsigned a; /* the feed's A value (feed = NAME:A), 0: each entry's own */
    int af;
    int64_t now;
} export_t;

static int export_entry(void *ctx, const bl_entry_t *e, uint8_t flags)
{
    export_t *x = ctx;
    if (e->key.af != x->af || (e->expires_at && e->expires_at <= x->now))
        return 0;
    char pfx[64];
    bl_prefix_format(&e->key, pfx, sizeof pfx);
    if (flags & MIRROR_EXCLUDED) {
        fprintf(x->f, "!%s\n", pfx);
        return 0;
    }
    const mirror_zdata_t *d = x->d;
    const char *t = NULL;
    if (d->txt_exact)
        t = e->reason < d->ntxt ? d->txt[e->reason] : NULL;
    else if (e->reason < x->z->nreason && x->z->reason_txt[e->reason])
        t = x->z->reason_txt[e->reason];
    else
        t = x->z->default_txt;
    /* the A value as the mirror answers it (a feed's own A value first) */
    uint32_t a = mirror_zone_a_value(x->z, d, x->a ? (uint8_t)x->a : e->a);
    fprintf(x->f, "%s :%u.%u.%u.%u:%s\n", pfx, a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff,
            t ? t : "");
    return 0;
}

/* A wire-format name as text with a trailing dot. */
static void name_text(const uint8_t *w, char *out, size_t cap)
{
    size_t n = 0;
    while (*w && n + *w + 2 < cap) {
        memcpy(out + n, w + 1, *w);
        n += *w;
        out[n++] = '.';
        w += 1 + *w;
    }
    if (!n)
        out[n++] = '.';
    out[n] = 0;
}

/* $SOA, $NS and $TTL as the mirror answers them (rbldnsd(8) "Special Entries"). */
static void write_apex(FILE *f, const mirror_zone_t *z, const mirror_zdata_t *d)
{
    const mirror_apex_t *ap = d->apex;
    char mn[300], rn[300], ns[300];
    name_text(ap ? ap->mname : z->mname, mn, sizeof mn);
    name_text(ap ? ap->rname : z->rname, rn, sizeof rn);
    uint32_t soa_ttl = ap ? ap->soa_ttl : atomic_load(&z->soa_ttl);
    fprintf(f, "$SOA %u %s %s %" PRIu64 " %u %u %u %u\n", soa_ttl, mn, rn,
            d->serial ? d->serial : 1, ap ? ap->refresh : z->refresh, ap ? ap->retry : z->retry,
            ap ? ap->expire : z->expire, ap ? ap->neg_ttl : atomic_load(&z->neg_ttl));
    unsigned nns = ap ? ap->nns : z->nns;
    if (nns) {
        fprintf(f, "$NS %u", soa_ttl);
        for (unsigned i = 0; i < nns; i++) {
            name_text(ap ? ap->ns[i] : z->ns[i], ns, sizeof ns);
            fprintf(f, " %s", ns);
        }
        fputc('\n', f);
    }
    fprintf(f, "$TTL %u\n", ap ? ap->ttl : atomic_load(&z->ttl));
}

static int export_file(const mirror_zone_t *z, const mirror_zdata_t *d, const char *path, int af,
                       unsigned mode, gid_t gid)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    /* the mode and group rbldnsd needs to read it, whatever the umask */
    if (fchmod(fileno(f), (mode_t)mode) ||
        (gid != (gid_t)-1 && fchown(fileno(f), (uid_t)-1, gid))) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        errno = e;
        return -1;
    }
    fprintf(f, "# blsync-mirror: zone %s serial %" PRIu64 " (%s)\n", z->name, d->serial,
            af == BL_AF4 ? "ip4trie" : "ip6trie");
    write_apex(f, z, d);
    export_t x = {f, z, d, d->src_a[0], af, bl_now_ms() / 1000};
    mirror_index_foreach(d->ix, export_entry, &x);
    int bad = fflush(f) || fsync(fileno(f)) || ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int mirror_export_rbldnsd(const mirror_zone_t *z, const char *path, unsigned mode,
                          const char *group)
{
    mirror_zdata_t *d = atomic_load(&z->data);
    if (!path || !d)
        return 0;
    gid_t gid = (gid_t)-1;
    if (group && *group) {
        struct group gr, *res = NULL;
        char buf[4096];
        if (getgrnam_r(group, &gr, buf, sizeof buf, &res) || !res) {
            BL_ERR("rbldnsd_export_failed", "zone=%s file=%s msg=%s", z->name, bl_log_q(path),
                   bl_log_q("export_rbldnsd_group: no such group"));
            return BL_EIO;
        }
        gid = res->gr_gid;
    }
    char p6[PATH_MAX];
    snprintf(p6, sizeof p6, "%s.ip6", path);
    if (export_file(z, d, path, BL_AF4, mode, gid) || export_file(z, d, p6, BL_AF6, mode, gid)) {
        BL_ERR("rbldnsd_export_failed", "zone=%s file=%s errno=%d msg=%s", z->name, bl_log_q(path),
               errno, bl_log_q(strerror(errno)));
        return BL_EIO;
    }
    BL_DEBUG("rbldnsd_exported", "zone=%s file=%s serial=%" PRIu64, z->name, bl_log_q(path),
             d->serial);
    return 0;
}

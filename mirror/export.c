/* SPDX-License-Identifier: MIT */
/* The served state of a zone written as rbldnsd data files, for an rbldnsd kept in front. */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

typedef struct {
    FILE *f;
    const mirror_zone_t *z;
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
    const char *t = NULL;
    if (e->reason < x->z->nreason && x->z->reason_txt[e->reason])
        t = x->z->reason_txt[e->reason];
    else
        t = x->z->default_txt;
    fprintf(x->f, "%s :127.0.0.%u:%s\n", pfx, e->a ? e->a : x->z->default_a, t ? t : "");
    return 0;
}

static int export_file(const mirror_zone_t *z, const mirror_zdata_t *d, const char *path, int af)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "# blsync-mirror: zone %s serial %" PRIu64 " (%s)\n", z->name, d->serial,
            af == BL_AF4 ? "ip4trie" : "ip6trie");
    export_t x = {f, z, af, bl_now_ms() / 1000};
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

int mirror_export_rbldnsd(const mirror_zone_t *z, const char *path)
{
    mirror_zdata_t *d = atomic_load(&z->data);
    if (!path || !d)
        return 0;
    char p6[PATH_MAX];
    snprintf(p6, sizeof p6, "%s.ip6", path);
    if (export_file(z, d, path, BL_AF4) || export_file(z, d, p6, BL_AF6)) {
        BL_ERR("rbldnsd_export_failed", "zone=%s file=%s errno=%d msg=%s", z->name, bl_log_q(path),
               errno, bl_log_q(strerror(errno)));
        return BL_EIO;
    }
    BL_DEBUG("rbldnsd_exported", "zone=%s file=%s serial=%" PRIu64, z->name, bl_log_q(path),
             d->serial);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* blsyncctl import-reports, import-rbldnsd: offline bulk loads straight into the master's store. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_util.h"
#include "ctl.h"
#include "err.h"
#include "http.h"
#include "json.h"
#include "policy.h"
#include "rbldnsd_data.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "grow.h"

#define MAX_IMPORT (4ull << 30)
#define BATCH      20000

typedef struct {
    master_config_t c;
    master_store_t *s;
} offline_t;

/* Closes the store. Run as root (MIGRATING step 1 before the master ever
 * ran), the store and its WAL files would stay root's and the master (its
 * own user) could not write them ("attempt to write a readonly database"):
 * a store file root owns in a directory another user owns is given to that
 * user, the one the master runs as, and said so. */
static void offline_close(offline_t *o)
{
    master_store_close(o->s);
    o->s = NULL;
    if (geteuid() != 0)
        return;
    char dir[sizeof o->c.db];
    snprintf(dir, sizeof dir, "%s", o->c.db);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    struct stat ds;
    if (stat(dir, &ds) || ds.st_uid == 0)
        return;
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        char f[sizeof o->c.db + 16];
        snprintf(f, sizeof f, "%s%s", o->c.db, sfx[i]);
        struct stat fs;
        if (lstat(f, &fs) || !S_ISREG(fs.st_mode) || fs.st_uid != 0)
            continue;
        if (chown(f, ds.st_uid, ds.st_gid))
            fprintf(stderr, "blsyncctl: %s: cannot give it to uid %u, the owner of %s: %s\n", f,
                    (unsigned)ds.st_uid, dir, strerror(errno));
        else
            fprintf(stderr, "blsyncctl: %s: owner set to uid %u gid %u, the owner of %s\n", f,
                    (unsigned)ds.st_uid, (unsigned)ds.st_gid, dir);
    }
}

/* -c CONF or --db DB [--feed F] [--json] (sets *json); other arguments go to rest. The store
 * is not opened yet (offline_store). */
static int offline_open(int argc, char **argv, offline_t *o, char **rest, int *nrest, int *json)
{
    const char *conf = NULL, *db = NULL, *feed = NULL;
    const ctl_opt_t opts[] = {{"-c", &conf, NULL},    {"--config", &conf, NULL},
                              {"--db", &db, NULL},    {"--feed", &feed, NULL},
                              {"--json", NULL, json}, {NULL}};
    o->s = NULL;
    *nrest = 0;
    for (int i = 1; i < argc; i++)
        if (!ctl_opt(opts, argv, argc, &i))
            rest[(*nrest)++] = argv[i];
    master_config_defaults(&o->c);
    char err[512];
    if (conf && master_config_load(conf, &o->c, err, sizeof err)) {
        fprintf(stderr, "blsyncctl: %s\n", err);
        return 2;
    }
    if (!conf && !db) {
        fprintf(stderr, "blsyncctl: give the master's configuration (-c FILE) or --db FILE\n");
        return 2;
    }
    if (db)
        snprintf(o->c.db, sizeof o->c.db, "%s", db);
    if (feed)
        snprintf(o->c.feed, sizeof o->c.feed, "%s", feed);
    return 0;
}

/* Opens the store once the command's own arguments and input are good: a
 * usage error or an unreadable file creates nothing. 0, or 1 with the reason
 * on stderr. */
static int offline_store(offline_t *o)
{
    int rc = master_store_open(o->c.db, o->c.feed, o->c.sync_full, &o->s);
    if (rc) {
        fprintf(stderr, "blsyncctl: store %s: %s\n", o->c.db, bl_strerror(rc));
        return 1;
    }
    return 0;
}

int ctl_import_reports(int argc, char **argv)
{
    offline_t o;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest, rc, json = 0;
    if (!rest || (rc = offline_open(argc, argv, &o, rest, &nrest, &json))) {
        free(rest);
        return 2;
    }
    if (nrest != 1) {
        fprintf(stderr,
                "usage: blsyncctl import-reports FILE (-c CONF | --db DB) [--json]\n"
                "  FILE holds one JSON report per line: "
                "{\"ip\":..,\"source\":\"user\"|\"spamtrap\",\"time\":..,\"evidence\":..}\n");
        offline_close(&o);
        free(rest);
        return 2;
    }
    const char *file = rest[0];
    free(rest);
    uint8_t *data;
    size_t len;
    if ((rc = bl_file_read(file, MAX_IMPORT, &data, &len))) {
        fprintf(stderr, "import-reports: %s: %s\n", file, bl_strerror(rc));
        offline_close(&o);
        return 1;
    }
    if (offline_store(&o)) {
        free(data);
        offline_close(&o);
        return 1;
    }
    int64_t now = bl_now_ms();
    size_t lineno = 0, ok = 0, refused = 0, listed = 0, in_tx = 0;
    const char *p = (const char *)data, *end = p + len;
    rc = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < le && *q != '#') {
            master_reports_t rs;
            bl_buf_t errs;
            bl_buf_init(&errs);
            size_t nerr;
            char why[160];
            if (master_reports_parse(&o.c.policy, (const uint8_t *)p, (size_t)(le - p), now, &rs,
                                     &errs, &nerr, why, sizeof why)) {
                fprintf(stderr, "%s:%zu: %s\n", file, lineno, why);
                refused++;
            } else if (nerr) {
                bl_buf_u8(&errs, 0);
                fprintf(stderr, "%s:%zu: %s\n", file, lineno, (const char *)errs.data);
                refused += nerr;
            }
            for (size_t i = 0; i < rs.n && !rc; i++) {
                if (!in_tx && (rc = master_store_begin(o.s)))
                    break;
                in_tx++;
                int oc;
                rc = master_policy_report(o.s, &o.c.policy, &rs.r[i], now, &oc);
                ok += !rc;
                listed += oc == MASTER_R_LISTED;
                if (!rc && in_tx >= BATCH) {
                    rc = master_store_commit(o.s);
                    in_tx = 0;
                }
            }
            master_reports_free(&rs);
            bl_buf_close(&errs);
        }
        p = nl ? nl + 1 : end;
    }
    if (!rc && in_tx)
        rc = master_store_commit(o.s);
    else if (rc && in_tx)
        master_store_rollback(o.s);
    free(data);
    offline_close(&o);
    if (rc) {
        fprintf(stderr,
                "import-reports: store error: %s (reports after the last %d-report "
                "batch were not stored)\n",
                bl_strerror(rc), BATCH);
        return 1;
    }
    if (json) {
        bl_buf_t b;
        ctl_json_begin(&b);
        ctl_json_str(&b, "file", file);
        ctl_json_int(&b, "imported", (long long)ok);
        ctl_json_int(&b, "listed", (long long)listed);
        ctl_json_int(&b, "refused", (long long)refused);
        ctl_json_end(&b);
    } else {
        printf("imported %zu reports (%zu new listings), refused %zu\n", ok, listed, refused);
    }
    return refused ? 1 : 0;
}

typedef struct {
    offline_t *o;
    const char *file;
    bl_entry_t *e;
    size_t n, cap;
    size_t refused, excluded, bad;
    int a_override, strict;
} rb_ctx_t;

/* A line rbldnsd would skip: named and counted, or (--strict) the end. */
static int rb_bad(void *arg, unsigned line, const char *msg)
{
    rb_ctx_t *c = arg;
    fprintf(stderr, "%s:%u: %s%s\n", c->file, line, msg, c->strict ? "" : " (line skipped)");
    c->bad++;
    return c->strict ? BL_EFIELD : 0;
}

static int rb_rec(void *arg, const bl_rbldnsd_rec_t *r)
{
    rb_ctx_t *c = arg;
    char pfx[BL_PREFIX_STRLEN];
    bl_prefix_format(&r->key, pfx, sizeof pfx);
    if (r->excluded) {
        fprintf(stderr, "%s:%u: %s: exclusion ('!') lines are not imported\n", c->file, r->line,
                pfx);
        c->excluded++;
        return 0;
    }
    if (!c->a_override && r->a4 >> 8 != 0x7f0000) {
        /* rbldnsd answers it, but a listing's A value is 127.0.0.N */
        fprintf(stderr,
                "%s:%u: %s: A value %u.%u.%u.%u is outside 127.0.0.0/24, which the master's "
                "listings cannot carry (not imported; --a N imports every line as 127.0.0.N)\n",
                c->file, r->line, pfx, r->a4 >> 24, r->a4 >> 16 & 0xff, r->a4 >> 8 & 0xff,
                r->a4 & 0xff);
        c->refused++;
        return 0;
    }
    bl_prefix_t k;
    const char *why;
    if (master_policy_target(&c->o->c.policy, pfx, 1, &k, &why)) {
        fprintf(stderr, "%s:%u: %s: %s\n", c->file, r->line, pfx, why);
        c->refused++;
        return 0;
    }
    bl_entry_t *grown = bl_grow_from(c->e, &c->cap, c->n + 1, sizeof *c->e, 4096);
    if (!grown)
        return BL_ENOMEM;
    c->e = grown;
    bl_entry_t *e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    e->key = k;
    e->listed_at = (int64_t)c->n++; /* the line order, until the entries are sorted */
    int a = (int)(r->a4 & 0xff);    /* in 127.0.0.0/24 (above) */
    e->a = (uint8_t)(c->a_override ? c->a_override
                     : a >= 2      ? a
                                   : c->o->c.policy.kind[MASTER_KIND_IMPORT].a);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_entry_t *)a)->key, &((const bl_entry_t *)b)->key);
}

/* By key, then in the order of the file. */
static int cmp_entry_seq(const void *a, const void *b)
{
    const bl_entry_t *x = a, *y = b;
    int c = bl_prefix_cmp(&x->key, &y->key);
    return c ? c : (x->listed_at > y->listed_at) - (x->listed_at < y->listed_at);
}

typedef struct {
    const bl_entry_t *e;
    size_t n;
    bl_prefix_t *gone;
    size_t ngone, cap;
} stale_t;

static int find_stale(void *arg, const master_listing_t *l)
{
    stale_t *s = arg;
    if (l->kind != MASTER_KIND_IMPORT)
        return 0;
    bl_entry_t key = {.key = l->e.key};
    if (bsearch(&key, s->e, s->n, sizeof *s->e, cmp_entry))
        return 0;
    bl_prefix_t *g = bl_grow_from(s->gone, &s->cap, s->ngone + 1, sizeof *g, 1024);
    if (!g)
        return BL_ENOMEM;
    s->gone = g;
    s->gone[s->ngone++] = l->e.key;
    return 0;
}

int ctl_import_rbldnsd(int argc, char **argv)
{
    offline_t o;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest, rc, json = 0;
    if (!rest || (rc = offline_open(argc, argv, &o, rest, &nrest, &json))) {
        free(rest);
        return 2;
    }
    const char *file = NULL, *type = "ip4set";
    int replace = 0, a_override = 0, strict = 0;
    for (int i = 0; i < nrest; i++) {
        if (!strcmp(rest[i], "--type") && i + 1 < nrest)
            type = rest[++i];
        else if (!strcmp(rest[i], "--replace"))
            replace = 1;
        else if (!strcmp(rest[i], "--strict"))
            strict = 1;
        else if (!strcmp(rest[i], "--a") && i + 1 < nrest) {
            uint64_t v;
            /* -1: not a number from 2 to 255, refused with the usage below */
            a_override = bl_cfg_uint(rest[++i], 2, 255, &v, NULL) ? -1 : (int)v;
        } else if (!file)
            file = rest[i];
        else
            file = NULL, i = nrest;
    }
    free(rest);
    int kind = bl_rbldnsd_kind_parse(type);
    if (!file || kind < 0 || a_override < 0) {
        fprintf(stderr,
                "usage: blsyncctl import-rbldnsd FILE (-c CONF | --db DB) [--type ip4set|ip4tset|"
                "ip6tset|ip4trie|ip6trie] [--a N] [--replace] [--strict] [--json]\n"
                "  --replace also removes earlier imported listings that FILE no longer holds\n"
                "  --strict  imports nothing when a line is bad (by default bad lines are\n"
                "            skipped, named and counted, as rbldnsd skips them)\n");
        offline_close(&o);
        return 2;
    }
    uint8_t *data;
    size_t len;
    if ((rc = bl_file_read(file, MAX_IMPORT, &data, &len))) {
        fprintf(stderr, "import-rbldnsd: %s: %s\n", file, bl_strerror(rc));
        offline_close(&o);
        return 1;
    }
    if (offline_store(&o)) {
        free(data);
        offline_close(&o);
        return 1;
    }
    rb_ctx_t c = {.o = &o, .file = file, .a_override = a_override, .strict = strict};
    bl_rbldnsd_sink_t sink = {.ctx = &c, .rec = rb_rec, .bad = rb_bad};
    unsigned eline = 0;
    const char *emsg = NULL;
    rc = bl_rbldnsd_parse((const char *)data, len, kind, &sink, &eline, &emsg);
    free(data);
    if (rc) {
        if (!c.bad) /* a bad line was named already */
            fprintf(stderr, "%s:%u: %s\n", file, eline, emsg ? emsg : bl_strerror(rc));
        fprintf(stderr, "import-rbldnsd: nothing imported%s\n",
                c.bad ? " (--strict: a bad line)" : "");
        free(c.e);
        offline_close(&o);
        return 1;
    }
    /* a key listed again keeps its first listing, as rbldnsd's ip4trie and
     * ip6trie answer it (its ip4set answers them all; one A value is kept) */
    qsort(c.e, c.n, sizeof *c.e, cmp_entry_seq);
    size_t uniq = 0;
    for (size_t i = 0; i < c.n; i++)
        if (!uniq || bl_prefix_cmp(&c.e[uniq - 1].key, &c.e[i].key))
            c.e[uniq++] = c.e[i];
    c.n = uniq;
    int64_t now = bl_now_ms();
    const master_kind_conf_t *kc = &o.c.policy.kind[MASTER_KIND_IMPORT];
    size_t added = 0, removed = 0;
    stale_t st = {.e = c.e, .n = c.n};
    if ((rc = master_store_begin(o.s)))
        goto out;
    for (size_t i = 0; i < c.n && !rc; i++) {
        master_listing_t l, old;
        memset(&l, 0, sizeof l);
        l.e = c.e[i];
        l.e.reason = (uint16_t)kc->reason;
        l.e.listed_at = now / 1000;
        l.kind = MASTER_KIND_IMPORT;
        l.decided_ms = now;
        int g = master_store_listing_get(o.s, &l.e.key, &old);
        if (g == 0) {
            l.e.listed_at = old.e.listed_at;
            l.last_report_ms = old.last_report_ms;
        }
        l.e.expires_at = kc->duration_ms ? (now + kc->duration_ms) / 1000 : MASTER_NEVER;
        if (l.e.expires_at < l.e.listed_at)
            l.e.expires_at = l.e.listed_at;
        rc = master_store_listing_put(o.s, &l);
        added += !rc && g != 0;
    }
    if (!rc && replace) {
        rc = master_store_listing_each(o.s, NULL, find_stale, &st);
        for (size_t i = 0; i < st.ngone && !rc; i++) {
            rc = master_store_listing_del(o.s, &st.gone[i], now, "import:removed", NULL);
            removed += !rc;
        }
    }
    char detail[160];
    snprintf(detail, sizeof detail, "file=%s entries=%zu new=%zu removed=%zu", file, c.n, added,
             removed);
    if (!rc)
        rc = master_store_audit(o.s, now, getenv("USER") ? getenv("USER") : "blsyncctl",
                                "import-rbldnsd", type, NULL, detail);
    rc = rc ? (master_store_rollback(o.s), rc) : master_store_commit(o.s);
out:
    free(st.gone);
    free(c.e);
    offline_close(&o);
    if (rc) {
        fprintf(stderr, "import-rbldnsd: store error: %s: nothing imported\n", bl_strerror(rc));
        return 1;
    }
    if (json) {
        bl_buf_t b;
        ctl_json_begin(&b);
        ctl_json_str(&b, "file", file);
        ctl_json_str(&b, "type", type);
        ctl_json_int(&b, "imported", (long long)c.n);
        ctl_json_int(&b, "new", (long long)added);
        ctl_json_int(&b, "removed", (long long)removed);
        ctl_json_int(&b, "refused", (long long)c.refused);
        ctl_json_int(&b, "exclusions_skipped", (long long)c.excluded);
        ctl_json_int(&b, "bad_lines_skipped", (long long)c.bad);
        ctl_json_end(&b);
    } else {
        printf("imported %zu entries (%zu new, %zu removed), refused %zu, exclusions skipped %zu, "
               "bad lines skipped %zu\n",
               c.n, added, removed, c.refused, c.excluded, c.bad);
    }
    return c.refused || c.bad ? 1 : 0;
}

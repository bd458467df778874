/* SPDX-License-Identifier: MIT */
/* blsyncctl keygen, verify, dump, mkdelta: signing keys and signed objects offline. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "codec.h"
#include "config_util.h"
#include "ctl.h"
#include "err.h"
#include "json.h"
#include "key.h"
#include "obj.h"
#include "state.h"
#include "util.h"

#define MAX_FILE (4ull << 30)

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static const char keygen_usage[] =
    "usage: blsyncctl keygen [--out DIR] [--name NAME] [--group GROUP] [--json]\n"
    "  writes DIR/NAME.key (private: root:blsync 0640 in a directory of group\n"
    "  blsync such as /etc/blsync, or with --group; else 0600) and DIR/NAME.pub;\n"
    "  DIR defaults to ., NAME to master (the sample master.conf's [publisher] key)\n";

int ctl_keygen(int argc, char **argv)
{
    const char *dir = ".", *name = "master", *group = NULL;
    int json = 0;
    const ctl_opt_t opts[] = {{"--out", &dir, NULL},
                              {"--name", &name, NULL},
                              {"--group", &group, NULL},
                              {"--json", NULL, &json},
                              {NULL}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(keygen_usage, stdout);
            return 0;
        } else if (!ctl_opt(opts, argv, argc, &i)) {
            fprintf(stderr, "blsyncctl keygen: unknown argument '%s'\n%s", argv[i], keygen_usage);
            return 2;
        }
    }
    char priv[4096], pub[4096];
    snprintf(priv, sizeof priv, "%s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%s/%s.pub", dir, name);
    bl_key_t *k;
    int rc = bl_mkdir_p(dir, 0755);
    if (!rc)
        rc = bl_key_generate(&k);
    if (rc) {
        fprintf(stderr, "blsyncctl keygen: %s: %s\n", dir, bl_strerror(rc));
        return 1;
    }
    rc = bl_key_save(k, priv, pub);
    char id[17];
    bl_key_id_hex(k, id);
    bl_key_free(k);
    if (rc) {
        fprintf(stderr, "blsyncctl keygen: cannot write %s or %s: %s\n", priv, pub,
                strerror(errno));
        return 1;
    }
    int shared = ctl_daemon_file(priv, group);
    if (shared < 0)
        return 1;
    if (json) {
        bl_buf_t b;
        ctl_json_begin(&b);
        ctl_json_str(&b, "private_key", priv);
        ctl_json_str(&b, "private_key_mode", shared ? "0640" : "0600");
        ctl_json_str(&b, "public_key", pub);
        ctl_json_str(&b, "key_id", id);
        ctl_json_end(&b);
    } else {
        printf("private key: %s (%s)\npublic key: %s\nkey id: %s\n", priv,
               shared ? "group-readable: 0640" : "0600", pub, id);
    }
    return 0;
}

/* A random API token for [http] token_file, readable by the master's user. */
int ctl_token(int argc, char **argv)
{
    static const char usage[] =
        "usage: blsyncctl token --out FILE [--group GROUP] [--force] [--json]\n"
        "  writes a random API token (64 hex digits) to FILE (root:blsync 0640 in a\n"
        "  directory of group blsync such as /etc/blsync, or with --group; else 0600);\n"
        "  name FILE in [http] token_file (the sample: /etc/blsync/api.token)\n";
    const char *out = NULL, *group = NULL;
    int force = 0, json = 0;
    const ctl_opt_t opts[] = {{"--out", &out, NULL},
                              {"--group", &group, NULL},
                              {"--force", NULL, &force},
                              {"--json", NULL, &json},
                              {NULL}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!ctl_opt(opts, argv, argc, &i)) {
            fprintf(stderr, "blsyncctl token: unknown argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "blsyncctl token: --out FILE is missing\n%s", usage);
        return 2;
    }
    if (!force && access(out, F_OK) == 0) {
        fprintf(stderr, "blsyncctl token: %s exists (--force replaces it)\n", out);
        return 1;
    }
    uint8_t r[32];
    char text[2 * sizeof r + 2];
    if (RAND_bytes(r, sizeof r) != 1) {
        fprintf(stderr, "blsyncctl token: no random bytes\n");
        return 1;
    }
    hex(r, sizeof r, text);
    strcat(text, "\n");
    int rc = bl_file_write_atomic(out, text, strlen(text), 0600);
    OPENSSL_cleanse(text, sizeof text);
    if (rc) {
        fprintf(stderr, "blsyncctl token: cannot write %s: %s\n", out, strerror(errno));
        return 1;
    }
    int shared = ctl_daemon_file(out, group);
    if (shared < 0)
        return 1;
    if (json) {
        bl_buf_t b;
        ctl_json_begin(&b);
        ctl_json_str(&b, "token_file", out);
        ctl_json_str(&b, "mode", shared ? "0640" : "0600");
        ctl_json_end(&b);
    } else {
        printf("token: %s\n", out);
    }
    return 0;
}

static void fmt_ms(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + l, n - l, ".%03dZ", (int)(ms % 1000 + 1000) % 1000);
}

/* An object's header: as text on stdout, or (json not NULL) as members of
 * the object open in json, times also as Unix milliseconds. */
static void print_header(const bl_hdr_t *h, bl_buf_t *json)
{
    char d1[65], d2[65], kid[17], t1[40], t2[40];
    hex(h->base_digest, 32, d1);
    hex(h->digest, 32, d2);
    hex(h->key_id, 8, kid);
    fmt_ms(h->created_ms, t1, sizeof t1);
    fmt_ms(h->expires_ms, t2, sizeof t2);
    if (!json) {
        printf("type: %s\nversion: %u\nfeed: %s\nkey_id: %s\n", bl_obj_type_name(h->type),
               h->version, h->feed, kid);
        printf("base_serial: %" PRIu64 "\nserial: %" PRIu64 "\nbase_digest: %s\ndigest: %s\n",
               h->base_serial, h->serial, d1, d2);
        printf("created: %s\nexpires: %s\n", t1, t2);
        printf("removed: %" PRIu64 "\nadded: %" PRIu64 "\nentries: %" PRIu64 "\n", h->n_removed,
               h->n_added, h->n_entries);
        printf("payload_bytes: %" PRIu64 "\nraw_bytes: %" PRIu64 "\n", h->payload_len, h->raw_len);
        return;
    }
    bl_buf_t *b = json;
    ctl_json_str(b, "type", bl_obj_type_name(h->type));
    ctl_json_int(b, "version", h->version);
    ctl_json_str(b, "feed", h->feed);
    ctl_json_str(b, "key_id", kid);
    ctl_json_int(b, "base_serial", (long long)h->base_serial);
    ctl_json_int(b, "serial", (long long)h->serial);
    ctl_json_str(b, "base_digest", d1);
    ctl_json_str(b, "digest", d2);
    ctl_json_str(b, "created_at", t1);
    ctl_json_int(b, "created_at_ms", h->created_ms);
    ctl_json_str(b, "expires_at", t2);
    ctl_json_int(b, "expires_at_ms", h->expires_ms);
    ctl_json_int(b, "removed", (long long)h->n_removed);
    ctl_json_int(b, "added", (long long)h->n_added);
    ctl_json_int(b, "entries", (long long)h->n_entries);
    ctl_json_int(b, "payload_bytes", (long long)h->payload_len);
    ctl_json_int(b, "raw_bytes", (long long)h->raw_len);
}

/* FILE arguments and --key PUB options of verify and dump. */
typedef struct {
    const char **files; /* as many slots as arguments: never too few */
    int nfiles, nkeys;
    int json; /* --json */
    bl_keyring_t *ring;
} obj_args_t;

static void obj_args_free(obj_args_t *a)
{
    free(a->files);
    bl_keyring_free(a->ring);
}

/* Parses "--key PUB" options into a ring; other arguments are files.
 * Returns 0, or the exit status after printing why. */
static int obj_args_parse(int argc, char **argv, const char *cmd, obj_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->files = calloc((size_t)argc, sizeof *a->files);
    a->ring = bl_keyring_new();
    if (!a->files || !a->ring) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            const char *path = argv[++i];
            int rc = bl_keyring_add_file(a->ring, path);
            if (rc) {
                fprintf(stderr, "%s: %s\n", path,
                        rc == BL_EIO ? strerror(errno) : "not an Ed25519 key (PEM)");
                return 2;
            }
            a->nkeys++;
        } else if (!strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            a->files[a->nfiles++] = argv[i];
        }
    }
    return 0;
}

/* Opens path: read, verify; prints a precise error and returns non-zero on failure. */
static int open_obj(const char *path, const bl_keyring_t *ring, uint8_t **buf, bl_obj_t *obj)
{
    size_t len, off = 0;
    int rc = bl_file_read(path, MAX_FILE, buf, &len);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
        return 1;
    }
    if (ring) {
        rc = bl_obj_open(*buf, len, ring, NULL, obj, &off);
    } else {
        /* dump without --key: structure only, the signature is not checked */
        bl_rd_t rd;
        bl_rd_init(&rd, *buf, len);
        rc = bl_hdr_decode(&rd, &obj->hdr);
        off = rd.err_off;
        if (!rc && len - BL_OBJ_PREFIX < obj->hdr.payload_len)
            rc = BL_ETRUNC, off = len;
        else if (!rc && len - BL_OBJ_PREFIX > obj->hdr.payload_len)
            rc = BL_ETRAILING, off = BL_OBJ_PREFIX + (size_t)obj->hdr.payload_len;
        if (rc == BL_ETRUNC && len < BL_HDR_SIZE)
            off = len;
        obj->payload = *buf + BL_OBJ_PREFIX;
        obj->payload_len = (size_t)obj->hdr.payload_len;
        if (!rc)
            fprintf(stderr, "%s: warning: signature not verified (no --key)\n", path);
    }
    if (rc) {
        if (rc == BL_ETRUNC)
            fprintf(stderr, "%s: truncated at byte %zu\n", path, off);
        else
            fprintf(stderr, "%s: %s (at byte %zu)\n", path, bl_strerror(rc), off);
        free(*buf);
        *buf = NULL;
        return 1;
    }
    return 0;
}

/* Applies one verified object to st: a snapshot replaces it, a delta must
 * follow it (the first object of a chain names the feed). */
static int apply_obj(bl_state_t *st, const bl_obj_t *obj, int first)
{
    if (obj->hdr.type == BL_OBJ_SNAPSHOT) {
        st->feed[0] = 0;
        return bl_state_load_snapshot(st, obj, NULL);
    }
    if (first)
        snprintf(st->feed, sizeof st->feed, "%s", obj->hdr.feed);
    return bl_state_apply_delta(st, obj, NULL);
}

static int count_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                       size_t nadd)
{
    (void)ctx, (void)rem, (void)add, (void)nrem, (void)nadd;
    return 0;
}

/* The id of the key a verified key certificate certifies, in id[17]; 0 or an error code. */
static int keycert_id(const bl_obj_t *obj, char id[17])
{
    bl_key_t *nk;
    int rc = bl_keycert_read(obj, &nk);
    if (rc)
        return rc;
    bl_key_id_hex(nk, id);
    bl_key_free(nk);
    return 0;
}

/* Verifies one object or a chain: SNAPSHOT|DELTA [DELTA...] applied in order
 * with every mirror rule, digests included. A key certificate also names the
 * key it certifies. --json: {"objects":[header + "file", "digest_checked",
 * "new_key_id"...], "ok", "failed"}. */
int ctl_verify(int argc, char **argv)
{
    obj_args_t a;
    int status = obj_args_parse(argc, argv, "verify", &a);
    if (!status && (!a.nfiles || !a.nkeys)) {
        fprintf(stderr,
                "usage: blsyncctl verify FILE [FILE...] --key PUB [--key PUB...] [--json]\n");
        status = 2;
    }
    if (status) {
        obj_args_free(&a);
        return status;
    }
    const char **files = a.files;
    int nfiles = a.nfiles;
    bl_keyring_t *ring = a.ring;
    bl_buf_t j;
    bl_buf_init(&j);
    master_json_printf(&j, "{\"objects\":[");
    bl_state_t st;
    bl_state_init(&st, NULL);
    const char *failed = NULL;
    for (int f = 0; f < nfiles && !status; f++) {
        uint8_t *buf;
        bl_obj_t obj;
        if (open_obj(files[f], ring, &buf, &obj)) {
            failed = files[f];
            status = 1;
            break;
        }
        if (nfiles > 1 && !a.json)
            printf("== %s\n", files[f]);
        if (a.json) {
            master_json_printf(&j, "%s{", f ? "," : "");
            ctl_json_str(&j, "file", files[f]);
            print_header(&obj.hdr, &j);
        } else {
            print_header(&obj.hdr, NULL);
        }
        size_t off = 0;
        int rc = 0, checked = 0;
        const char *what = "payload";
        char nid[17];
        if (f == 0 && obj.hdr.type == BL_OBJ_DELTA && obj.hdr.base_serial != 0) {
            rc = bl_obj_decode(&obj, NULL, &(bl_sink_t){NULL, count_block}, &off);
            if (!rc && !a.json)
                printf("digest: not checked (needs the base state: pass a snapshot first)\n");
        } else if (obj.hdr.type == BL_OBJ_SNAPSHOT || obj.hdr.type == BL_OBJ_DELTA) {
            what = bl_obj_type_name(obj.hdr.type);
            rc = apply_obj(&st, &obj, f == 0);
            checked = !rc;
        } else if (obj.hdr.type == BL_OBJ_KEYCERT) {
            what = "certified key";
            if (!(rc = keycert_id(&obj, nid))) {
                if (a.json)
                    ctl_json_str(&j, "new_key_id", nid);
                else
                    printf("new_key_id: %s\n", nid);
            }
        }
        if (a.json) {
            ctl_json_bool(&j, "digest_checked", checked);
            master_json_printf(&j, "}");
        }
        if (rc) {
            fprintf(stderr, "%s: %s: %s\n", files[f], what, bl_strerror(rc));
            failed = files[f];
            status = 1;
        }
        free(buf);
    }
    if (a.json) {
        master_json_printf(&j, "]");
        ctl_json_bool(&j, "ok", !status);
        ctl_json_str(&j, "failed", failed);
        master_json_printf(&j, "}\n");
        ctl_json_flush(&j);
    } else if (!status) {
        printf("ok: %s verified\n", nfiles > 1 ? "chain" : files[0]);
    }
    bl_buf_close(&j);
    bl_state_close(&st);
    obj_args_free(&a);
    return status;
}

static void print_entry(char sign, const bl_entry_t *e, int64_t decided_ms, int with_decided)
{
    char p[BL_PREFIX_STRLEN];
    bl_prefix_format(&e->key, p, sizeof p);
    if (sign == '-') {
        printf("-%s decided_ms=%" PRId64 "\n", p, decided_ms);
        return;
    }
    printf("%s%s a=127.0.0.%u reason=%u listed=%" PRId64 " expires=%" PRId64, sign ? "+" : "", p,
           e->a, e->reason, e->listed_at, e->expires_at);
    if (with_decided)
        printf(" decided_ms=%" PRId64, decided_ms);
    printf("\n");
}

/* One entry as a JSON object in an array (first: the array's first): op
 * "add"/"remove" in a delta (NULL: a state's entry), decided_at_ms with op. */
static void entry_json(bl_buf_t *b, int first, const char *op, const bl_entry_t *e,
                       int64_t decided_ms)
{
    char p[BL_PREFIX_STRLEN];
    bl_prefix_format(&e->key, p, sizeof p);
    master_json_printf(b, "%s{", first ? "" : ",");
    if (op)
        ctl_json_str(b, "op", op);
    ctl_json_str(b, "prefix", p);
    if (!op || strcmp(op, "remove")) {
        ctl_json_int(b, "a", e->a);
        ctl_json_int(b, "reason", e->reason);
        ctl_json_int(b, "listed_at_unix", e->listed_at);
        ctl_json_int(b, "expires_at_unix", e->expires_at);
    }
    if (op)
        ctl_json_int(b, "decided_at_ms", decided_ms);
    master_json_printf(b, "}");
    if (b->len >= 65536)
        ctl_json_flush(b);
}

typedef struct {
    int delta;
    bl_buf_t *json; /* --json: entries go here, else to stdout as text */
    size_t n;       /* entries written to json */
} dump_ctx_t;

static int dump_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    dump_ctx_t *d = ctx;
    for (size_t i = 0; i < nrem; i++) {
        if (d->json)
            entry_json(d->json, !d->n++, "remove", &rem[i].e, rem[i].decided_ms);
        else
            print_entry('-', &rem[i].e, rem[i].decided_ms, 1);
    }
    for (size_t i = 0; i < nadd; i++) {
        if (d->json)
            entry_json(d->json, !d->n++, d->delta ? "add" : NULL, &add[i].e, add[i].decided_ms);
        else
            print_entry(d->delta ? '+' : 0, &add[i].e, add[i].decided_ms, d->delta);
    }
    return 0;
}

/* dump's work on files[0..nfiles), once they are parsed. --json: one file is
 * {"file", header, "signature_verified", "changes" (a delta) or "entries"};
 * a chain is {"feed", "serial", "digest", "entries"}. */
static int dump_files(const char **files, int nfiles, int nkeys, bl_keyring_t *ring, int json)
{
    int status = 0;
    bl_buf_t j;
    bl_buf_init(&j);
    if (nfiles == 1) {
        uint8_t *buf;
        bl_obj_t obj;
        if (open_obj(files[0], nkeys ? ring : NULL, &buf, &obj)) {
            return 1;
        }
        dump_ctx_t d = {obj.hdr.type == BL_OBJ_DELTA, json ? &j : NULL, 0};
        if (json) {
            master_json_printf(&j, "{");
            ctl_json_str(&j, "file", files[0]);
            print_header(&obj.hdr, &j);
            ctl_json_bool(&j, "signature_verified", nkeys > 0);
            ctl_json_key(&j, d.delta ? "changes" : "entries");
            master_json_printf(&j, "[");
        }
        size_t off = 0;
        int rc = bl_obj_decode(&obj, NULL, &(bl_sink_t){&d, dump_block}, &off);
        if (rc) {
            fprintf(stderr, "%s: %s (payload block at byte %zu)\n", files[0], bl_strerror(rc),
                    off + BL_OBJ_PREFIX);
            status = 1;
        }
        if (json && !status) {
            master_json_printf(&j, "]}\n");
            ctl_json_flush(&j);
        }
        bl_buf_close(&j);
        free(buf);
        return status;
    }
    if (!nkeys) {
        fprintf(stderr, "dump: a chain of objects needs --key\n");
        return 2;
    }
    bl_state_t st;
    bl_state_init(&st, NULL);
    for (int f = 0; f < nfiles && !status; f++) {
        uint8_t *buf;
        bl_obj_t obj;
        if (open_obj(files[f], ring, &buf, &obj)) {
            status = 1;
            break;
        }
        int rc = apply_obj(&st, &obj, f == 0);
        if (rc) {
            fprintf(stderr, "%s: %s\n", files[f], bl_strerror(rc));
            status = 1;
        }
        free(buf);
    }
    if (!status) {
        char d[65];
        bl_digest_hex(&st.digest, d);
        if (json) {
            master_json_printf(&j, "{");
            ctl_json_str(&j, "feed", st.feed);
            ctl_json_int(&j, "serial", (long long)st.serial);
            ctl_json_str(&j, "digest", d);
            ctl_json_key(&j, "entries");
            master_json_printf(&j, "[");
        } else {
            printf("# feed=%s serial=%" PRIu64 " entries=%zu digest=%s\n", st.feed, st.serial, st.n,
                   d);
        }
        for (size_t i = 0; i < st.n; i++) {
            if (json)
                entry_json(&j, i == 0, NULL, &st.e[i], 0);
            else
                print_entry(0, &st.e[i], 0, 0);
        }
        if (json) {
            master_json_printf(&j, "]}\n");
            ctl_json_flush(&j);
        }
    }
    bl_buf_close(&j);
    bl_state_close(&st);
    return status;
}

/* dump FILE: the object's records; dump --key PUB A B C...: the state after the chain. */
int ctl_dump(int argc, char **argv)
{
    obj_args_t a;
    int status = obj_args_parse(argc, argv, "dump", &a);
    if (!status && !a.nfiles) {
        fprintf(stderr, "usage: blsyncctl dump FILE [FILE...] [--key PUB] [--json]\n");
        status = 2;
    }
    if (!status)
        status = dump_files(a.files, a.nfiles, a.nkeys, a.ring, a.json);
    obj_args_free(&a);
    return status;
}

static int cmp_change(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_change_t *)a)->e.key, &((const bl_change_t *)b)->e.key);
}

/* mkdelta: builds a signed delta (or snapshot) from +PREFIX[=A[,REASON]] and
 * -PREFIX arguments, on top of the state given by --from FILE... */
int ctl_mkdelta(int argc, char **argv)
{
    const char *keypath = NULL, *out = NULL, *feed = "main";
    const char **from = calloc((size_t)argc, sizeof *from);
    int nfrom = 0, snapshot = 0, json = 0, status = 1;
    int64_t now_ms = bl_now_ms(), life_s = 86400, valid_s = 7 * 86400;
    uint64_t serial = 0;
    bl_change_t *rem = calloc((size_t)argc, sizeof *rem), *add = calloc((size_t)argc, sizeof *add);
    size_t nrem = 0, nadd = 0;
    bl_key_t *key = NULL;
    bl_keyring_t *ring = bl_keyring_new();
    bl_state_t st;
    bl_state_init(&st, feed);
    bl_buf_t buf;
    bl_buf_init(&buf);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--key") && i + 1 < argc)
            keypath = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(a, "--feed") && i + 1 < argc)
            feed = argv[++i];
        else if (!strcmp(a, "--from") && i + 1 < argc && from)
            from[nfrom++] = argv[++i];
        else if ((!strcmp(a, "--serial") || !strcmp(a, "--now") || !strcmp(a, "--lifetime") ||
                  !strcmp(a, "--valid")) &&
                 i + 1 < argc) {
            /* --serial N, --now MS, --lifetime S, --valid S: whole numbers */
            uint64_t v;
            if (bl_cfg_uint(argv[++i], 0, INT64_MAX / 1000, &v, NULL)) {
                fprintf(stderr, "mkdelta: %s '%s' is not a whole number\n", a, argv[i]);
                status = 2;
                goto done;
            }
            if (!strcmp(a, "--serial"))
                serial = v;
            else if (!strcmp(a, "--now"))
                now_ms = (int64_t)v;
            else if (!strcmp(a, "--lifetime"))
                life_s = (int64_t)v;
            else
                valid_s = (int64_t)v;
        } else if (!strcmp(a, "--snapshot"))
            snapshot = 1;
        else if (!strcmp(a, "--json"))
            json = 1;
        else if ((a[0] == '+' || a[0] == '-') && a[1] != '-') {
            char tmp[128];
            snprintf(tmp, sizeof tmp, "%s", a + 1);
            char *colon = strchr(tmp, '=');
            unsigned av = 2, reason = 0;
            if (colon) {
                *colon = 0;
                /* A or A,REASON and nothing after: "=3x" is refused, not read as 3 */
                int used = 0, n = sscanf(colon + 1, "%u%n,%u%n", &av, &used, &reason, &used);
                if (n < 1 || colon[1 + used] || !isdigit((unsigned char)colon[1]) ||
                    strspn(colon + 1, "0123456789,") != strlen(colon + 1) || av < 1 || av > 255 ||
                    reason > 65535) {
                    fprintf(stderr, "mkdelta: bad A/reason in '%s'\n", a);
                    goto done;
                }
            }
            bl_change_t *c = a[0] == '+' ? &add[nadd++] : &rem[nrem++];
            int rc = bl_prefix_parse(tmp, &c->e.key);
            if (rc) {
                fprintf(stderr, "mkdelta: '%s': %s\n", tmp, bl_strerror(rc));
                goto done;
            }
            c->e.a = (uint8_t)av;
            c->e.reason = (uint16_t)reason;
            c->e.listed_at = now_ms / 1000;
            c->e.expires_at = now_ms / 1000 + life_s;
            c->decided_ms = now_ms;
        } else {
            fprintf(stderr, "mkdelta: unknown argument '%s'\n", a);
            goto done;
        }
    }
    if (!keypath || !out) {
        fprintf(stderr, "usage: blsyncctl mkdelta --key PRIV --out FILE [--from OBJ...] "
                        "[--snapshot] [+PREFIX[=A[,REASON]]] [-PREFIX] [--json]\n");
        status = 2;
        goto done;
    }
    int rc = bl_key_load(keypath, &key);
    if (rc || !bl_key_is_private(key)) {
        fprintf(stderr, "mkdelta: %s: %s\n", keypath,
                rc == BL_EIO ? strerror(errno) : "not an Ed25519 private key");
        goto done;
    }
    bl_key_t *pub;
    bl_key_from_raw(bl_key_raw(key), &pub);
    bl_keyring_add(ring, pub);
    snprintf(st.feed, sizeof st.feed, "%s", feed);
    for (int f = 0; f < nfrom; f++) {
        uint8_t *data;
        bl_obj_t obj;
        if (open_obj(from[f], ring, &data, &obj))
            goto done;
        rc = apply_obj(&st, &obj, 0);
        free(data);
        if (rc) {
            fprintf(stderr, "mkdelta: %s: %s\n", from[f], bl_strerror(rc));
            goto done;
        }
    }
    qsort(rem, nrem, sizeof *rem, cmp_change);
    qsort(add, nadd, sizeof *add, cmp_change);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "%s", st.feed);
    h.base_serial = st.serial;
    bl_digest_to_bytes(&st.digest, h.base_digest);
    /* A snapshot of an existing chain with no changes keeps its serial. */
    int unchanged = snapshot && nfrom && !nrem && !nadd;
    h.serial = serial ? serial : st.serial + !unchanged;
    h.created_ms = now_ms;
    h.expires_ms = now_ms + valid_s * 1000;
    if ((rc = bl_state_apply_changes(&st, rem, nrem, add, nadd))) {
        fprintf(stderr, "mkdelta: %s\n", bl_strerror(rc));
        goto done;
    }
    bl_digest_to_bytes(&st.digest, h.digest);
    h.n_entries = st.n;
    if (snapshot)
        rc = bl_snapshot_write(&h, st.e, st.n, key, &buf);
    else
        rc = bl_delta_write(&h, rem, nrem, add, nadd, key, &buf);
    if (!rc)
        rc = bl_file_write_atomic(out, buf.data, buf.len, 0644);
    if (rc) {
        fprintf(stderr, "mkdelta: %s: %s\n", out, bl_strerror(rc));
        goto done;
    }
    if (json) {
        bl_buf_t b;
        ctl_json_begin(&b);
        ctl_json_str(&b, "file", out);
        ctl_json_str(&b, "type", snapshot ? "snapshot" : "delta");
        ctl_json_int(&b, "serial", (long long)h.serial);
        ctl_json_int(&b, "entries", (long long)st.n);
        ctl_json_int(&b, "bytes", (long long)buf.len);
        ctl_json_end(&b);
    } else {
        printf("%s serial=%" PRIu64 " entries=%zu bytes=%zu\n", snapshot ? "snapshot" : "delta",
               h.serial, st.n, buf.len);
    }
    status = 0;
done:
    bl_buf_close(&buf);
    bl_state_close(&st);
    bl_keyring_free(ring);
    bl_key_free(key);
    free(rem);
    free(add);
    free(from);
    return status;
}

/* keycert: the new signing key's public half signed by the current key, for
 * rotating keys without reconfiguring every mirror at once. */
int ctl_keycert(int argc, char **argv)
{
    const char *old_path = NULL, *new_path = NULL, *out = NULL, *feed = "main", *valid = NULL;
    int json = 0;
    const ctl_opt_t opts[] = {{"--old-key", &old_path, NULL},
                              {"--new-key", &new_path, NULL},
                              {"--out", &out, NULL},
                              {"--feed", &feed, NULL},
                              {"--valid", &valid, NULL},
                              {"--json", NULL, &json},
                              {NULL}};
    for (int i = 1; i < argc; i++) {
        if (!ctl_opt(opts, argv, argc, &i)) {
            fprintf(stderr, "keycert: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    /* --valid: seconds, or a duration with its unit (30d, 12h) */
    int64_t valid_ms = 30LL * 86400 * 1000;
    if (valid && bl_cfg_duration(valid, &valid_ms, NULL))
        valid_ms = 0;
    int64_t valid_s = valid_ms / 1000;
    if (!old_path || !new_path || !out || valid_s <= 0) {
        fprintf(stderr, "usage: blsyncctl keycert --old-key OLD.key --new-key NEW.pub|NEW.key "
                        "--out FILE [--feed FEED] [--valid SECONDS|DURATION] [--json]\n");
        return 2;
    }
    bl_key_t *old = NULL, *nk = NULL;
    int rc = bl_key_load(old_path, &old);
    if (rc || !bl_key_is_private(old)) {
        fprintf(stderr, "keycert: %s: %s\n", old_path,
                rc == BL_EIO ? strerror(errno) : "not an Ed25519 private key");
        bl_key_free(old);
        return 1;
    }
    if ((rc = bl_key_load(new_path, &nk))) {
        fprintf(stderr, "keycert: %s: %s\n", new_path,
                rc == BL_EIO ? strerror(errno) : "not an Ed25519 key");
        bl_key_free(old);
        return 1;
    }
    bl_buf_t b;
    bl_buf_init(&b);
    int64_t now_ms = bl_now_ms();
    rc = bl_keycert_write(feed, nk, now_ms, valid_s * 1000, old, &b);
    if (!rc)
        rc = bl_file_write_atomic(out, b.data, b.len, 0644);
    char oid[17], nid[17];
    bl_key_id_hex(old, oid);
    bl_key_id_hex(nk, nid);
    bl_buf_close(&b);
    bl_key_free(old);
    bl_key_free(nk);
    if (rc) {
        fprintf(stderr, "keycert: %s: %s\n", out, bl_strerror(rc));
        return 1;
    }
    if (json) {
        char t[40];
        fmt_ms(now_ms + valid_s * 1000, t, sizeof t);
        ctl_json_begin(&b);
        ctl_json_str(&b, "file", out);
        ctl_json_str(&b, "feed", feed);
        ctl_json_str(&b, "new_key_id", nid);
        ctl_json_str(&b, "signed_by_key_id", oid);
        ctl_json_int(&b, "valid_s", (long long)valid_s);
        ctl_json_str(&b, "expires_at", t);
        ctl_json_int(&b, "expires_at_ms", now_ms + valid_s * 1000);
        ctl_json_end(&b);
    } else {
        printf("key certificate %s: key %s signed by key %s, valid %lld s\n", out, nid, oid,
               (long long)valid_s);
    }
    return 0;
}

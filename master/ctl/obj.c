/* SPDX-License-Identifier: MIT */
/* blsyncctl keygen, verify, dump, mkdelta: signing keys and signed objects offline. */
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
#include "ctl.h"
#include "err.h"
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
    "usage: blsyncctl keygen [--out DIR] [--name NAME] [--group GROUP]\n"
    "  writes DIR/NAME.key (private: root:blsync 0640 in a directory of group\n"
    "  blsync such as /etc/blsync, or with --group; else 0600) and DIR/NAME.pub;\n"
    "  DIR defaults to ., NAME to master (the sample master.conf's [publisher] key)\n";

int ctl_keygen(int argc, char **argv)
{
    const char *dir = ".", *name = "master", *group = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(keygen_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = argv[++i];
        else {
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
    printf("private key: %s (%s)\npublic key: %s\nkey id: %s\n", priv,
           shared ? "group-readable: 0640" : "0600", pub, id);
    return 0;
}

/* A random API token for [http] token_file, readable by the master's user. */
int ctl_token(int argc, char **argv)
{
    static const char usage[] =
        "usage: blsyncctl token --out FILE [--group GROUP] [--force]\n"
        "  writes a random API token (64 hex digits) to FILE (root:blsync 0640 in a\n"
        "  directory of group blsync such as /etc/blsync, or with --group; else 0600);\n"
        "  name FILE in [http] token_file (the sample: /etc/blsync/api.token)\n";
    const char *out = NULL, *group = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = argv[++i];
        else if (!strcmp(argv[i], "--force"))
            force = 1;
        else {
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
    if (ctl_daemon_file(out, group) < 0)
        return 1;
    printf("token: %s\n", out);
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

static void print_header(const bl_hdr_t *h)
{
    char d1[65], d2[65], kid[17], t1[40], t2[40];
    hex(h->base_digest, 32, d1);
    hex(h->digest, 32, d2);
    hex(h->key_id, 8, kid);
    fmt_ms(h->created_ms, t1, sizeof t1);
    fmt_ms(h->expires_ms, t2, sizeof t2);
    printf("type: %s\nversion: %u\nfeed: %s\nkey_id: %s\n", bl_obj_type_name(h->type), h->version,
           h->feed, kid);
    printf("base_serial: %" PRIu64 "\nserial: %" PRIu64 "\nbase_digest: %s\ndigest: %s\n",
           h->base_serial, h->serial, d1, d2);
    printf("created: %s\nexpires: %s\n", t1, t2);
    printf("removed: %" PRIu64 "\nadded: %" PRIu64 "\nentries: %" PRIu64 "\n", h->n_removed,
           h->n_added, h->n_entries);
    printf("payload_bytes: %" PRIu64 "\nraw_bytes: %" PRIu64 "\n", h->payload_len, h->raw_len);
}

/* FILE arguments and --key PUB options of verify and dump. */
typedef struct {
    const char **files; /* as many slots as arguments: never too few */
    int nfiles, nkeys;
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

/* Verifies one object or a chain: SNAPSHOT|DELTA [DELTA...] applied in order
 * with every mirror rule, digests included. */
int ctl_verify(int argc, char **argv)
{
    obj_args_t a;
    int status = obj_args_parse(argc, argv, "verify", &a);
    if (!status && (!a.nfiles || !a.nkeys)) {
        fprintf(stderr, "usage: blsyncctl verify FILE [FILE...] --key PUB [--key PUB...]\n");
        status = 2;
    }
    if (status) {
        obj_args_free(&a);
        return status;
    }
    const char **files = a.files;
    int nfiles = a.nfiles;
    bl_keyring_t *ring = a.ring;
    bl_state_t st;
    bl_state_init(&st, NULL);
    for (int f = 0; f < nfiles && !status; f++) {
        uint8_t *buf;
        bl_obj_t obj;
        if (open_obj(files[f], ring, &buf, &obj)) {
            status = 1;
            break;
        }
        if (nfiles > 1)
            printf("== %s\n", files[f]);
        print_header(&obj.hdr);
        size_t off = 0;
        int rc = 0;
        const char *what = "payload";
        if (f == 0 && obj.hdr.type == BL_OBJ_DELTA && obj.hdr.base_serial != 0) {
            rc = bl_obj_decode(&obj, NULL, &(bl_sink_t){NULL, count_block}, &off);
            if (!rc)
                printf("digest: not checked (needs the base state: pass a snapshot first)\n");
        } else if (obj.hdr.type == BL_OBJ_SNAPSHOT || obj.hdr.type == BL_OBJ_DELTA) {
            what = bl_obj_type_name(obj.hdr.type);
            rc = apply_obj(&st, &obj, f == 0);
        }
        if (rc) {
            fprintf(stderr, "%s: %s: %s\n", files[f], what, bl_strerror(rc));
            status = 1;
        }
        free(buf);
    }
    if (!status)
        printf("ok: %s verified\n", nfiles > 1 ? "chain" : files[0]);
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

static int dump_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    int delta = *(int *)ctx;
    for (size_t i = 0; i < nrem; i++)
        print_entry('-', &rem[i].e, rem[i].decided_ms, 1);
    for (size_t i = 0; i < nadd; i++)
        print_entry(delta ? '+' : 0, &add[i].e, add[i].decided_ms, delta);
    return 0;
}

/* dump's work on files[0..nfiles), once they are parsed. */
static int dump_files(const char **files, int nfiles, int nkeys, bl_keyring_t *ring)
{
    int status = 0;
    if (nfiles == 1) {
        uint8_t *buf;
        bl_obj_t obj;
        if (open_obj(files[0], nkeys ? ring : NULL, &buf, &obj)) {
            return 1;
        }
        int delta = obj.hdr.type == BL_OBJ_DELTA;
        size_t off = 0;
        int rc = bl_obj_decode(&obj, NULL, &(bl_sink_t){&delta, dump_block}, &off);
        if (rc) {
            fprintf(stderr, "%s: %s (payload block at byte %zu)\n", files[0], bl_strerror(rc),
                    off + BL_OBJ_PREFIX);
            status = 1;
        }
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
        printf("# feed=%s serial=%" PRIu64 " entries=%zu digest=%s\n", st.feed, st.serial, st.n,
               bl_digest_hex(&st.digest, d));
        for (size_t i = 0; i < st.n; i++)
            print_entry(0, &st.e[i], 0, 0);
    }
    bl_state_close(&st);
    return status;
}

/* dump FILE: the object's records; dump --key PUB A B C...: the state after the chain. */
int ctl_dump(int argc, char **argv)
{
    obj_args_t a;
    int status = obj_args_parse(argc, argv, "dump", &a);
    if (!status && !a.nfiles) {
        fprintf(stderr, "usage: blsyncctl dump FILE [FILE...] [--key PUB]\n");
        status = 2;
    }
    if (!status)
        status = dump_files(a.files, a.nfiles, a.nkeys, a.ring);
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
    int nfrom = 0, snapshot = 0, status = 1;
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
        else if (!strcmp(a, "--serial") && i + 1 < argc)
            serial = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--from") && i + 1 < argc && from)
            from[nfrom++] = argv[++i];
        else if (!strcmp(a, "--now") && i + 1 < argc)
            now_ms = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--lifetime") && i + 1 < argc)
            life_s = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--valid") && i + 1 < argc)
            valid_s = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--snapshot"))
            snapshot = 1;
        else if ((a[0] == '+' || a[0] == '-') && a[1] != '-') {
            char tmp[128];
            snprintf(tmp, sizeof tmp, "%s", a + 1);
            char *colon = strchr(tmp, '=');
            unsigned av = 2, reason = 0;
            if (colon) {
                *colon = 0;
                if (sscanf(colon + 1, "%u,%u", &av, &reason) < 1 || av < 1 || av > 255 ||
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
                        "[--snapshot] [+PREFIX[=A[,REASON]]] [-PREFIX]\n");
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
    printf("%s serial=%" PRIu64 " entries=%zu bytes=%zu\n", snapshot ? "snapshot" : "delta",
           h.serial, st.n, buf.len);
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
    const char *old_path = NULL, *new_path = NULL, *out = NULL, *feed = "main";
    int64_t valid_s = 30 * 86400;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--old-key") && i + 1 < argc)
            old_path = argv[++i];
        else if (!strcmp(argv[i], "--new-key") && i + 1 < argc)
            new_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--feed") && i + 1 < argc)
            feed = argv[++i];
        else if (!strcmp(argv[i], "--valid") && i + 1 < argc)
            valid_s = strtoll(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "keycert: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!old_path || !new_path || !out || valid_s <= 0) {
        fprintf(stderr, "usage: blsyncctl keycert --old-key OLD.key --new-key NEW.pub|NEW.key "
                        "--out FILE [--feed FEED] [--valid SECONDS]\n");
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
    rc = bl_keycert_write(feed, nk, bl_now_ms(), valid_s * 1000, old, &b);
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
    printf("key certificate %s: key %s signed by key %s, valid %lld s\n", out, nid, oid,
           (long long)valid_s);
    return 0;
}

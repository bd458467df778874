/* SPDX-License-Identifier: MIT */
/* `blsyncctl certs`: a small CA, the master's server certificate and per-mirror client
 * certificates. */

/*
 * For operators without a PKI. The CA is created once (ca.pem, ca.key) and
 * reused by later runs, so adding a mirror later is one more run with
 * --mirror NAME. Leaf certificates carry the name as CN and as a dNSName SAN
 * (plus an iPAddress SAN when the name is a numeric address); the master's is
 * for serverAuth, the mirrors' for clientAuth. Private keys are written with
 * mode 0600 through an atomic rename; the leaf keys a daemon reads then
 * become root:blsync 0640 (ctl_daemon_file); ca.key stays 0600. Nothing
 * secret is printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "err.h"
#include "json.h"
#include "util.h"

#define CA_DAYS     3650
#define LEAF_DAYS   825
#define MAX_MIRRORS 4096

typedef struct {
    const char *dir;
    const char *master;
    const char **mirrors;
    size_t nmirrors;
    int ed25519;
    int days;
    int force;
    const char *group;
    bl_buf_t *json; /* --json: what was written goes here, not to stdout as text */
    size_t nissued;
} certs_opts_t;

/* The group of path's directory in gid; 0 or -1. */
static int dir_gid(const char *path, gid_t *gid)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (slash)
        *slash = 0;
    struct stat st;
    if (stat(slash ? (d[0] ? d : "/") : ".", &st) != 0)
        return -1;
    *gid = st.st_gid;
    return 0;
}

int ctl_daemon_file(const char *path, const char *group)
{
    const char *name = group ? group : CTL_DAEMON_GROUP;
    struct group *g = getgrnam(name);
    gid_t dg;
    if (!group && (!g || dir_gid(path, &dg) || dg != g->gr_gid))
        return 0; /* not in the daemons' directory: the caller's own file */
    if (!g) {
        fprintf(stderr, "blsyncctl: group '%s' does not exist; create the daemons' user first\n",
                name);
        return -1;
    }
    if (chown(path, geteuid() == 0 ? 0 : (uid_t)-1, g->gr_gid) || chmod(path, 0640)) {
        fprintf(stderr, "blsyncctl: cannot make %s group %s 0640: %s (run as root)\n", path, name,
                strerror(errno));
        return -1;
    }
    return 1;
}

/* A new --dir inside the daemons' directory joins their group (0750), so that
 * they reach the files in it. */
static int make_dir(const char *dir)
{
    struct stat st;
    int existed = stat(dir, &st) == 0;
    if (bl_mkdir_p(dir, 0755))
        return -1;
    struct group *g = getgrnam(CTL_DAEMON_GROUP);
    gid_t pg;
    if (existed || !g || dir_gid(dir, &pg) || pg != g->gr_gid)
        return 0;
    return chown(dir, (uid_t)-1, g->gr_gid) || chmod(dir, 0750) ? -1 : 0;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '_'))
            return 0;
    }
    return 1;
}

static void path_of(char *out, size_t n, const char *dir, const char *base, const char *ext)
{
    snprintf(out, n, "%s/%s%s", dir, base, ext);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static EVP_PKEY *gen_key(int ed25519)
{
    return ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                   : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* Writes a PEM blob held in a memory BIO to path atomically; wipes the BIO. */
static int write_bio(BIO *b, const char *path, int mode)
{
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    int rc = len > 0 ? bl_file_write_atomic(path, data, (size_t)len, mode) : BL_EIO;
    if (len > 0)
        OPENSSL_cleanse(data, (size_t)len);
    if (rc)
        fprintf(stderr, "blsyncctl certs: cannot write %s: %s\n", path, strerror(errno));
    return rc;
}

static int save_key(EVP_PKEY *k, const char *path)
{
    BIO *b = BIO_new(BIO_s_secmem());
    if (!b)
        b = BIO_new(BIO_s_mem());
    if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(b);
        return BL_ENOMEM;
    }
    int rc = write_bio(b, path, 0600);
    BIO_free(b);
    return rc;
}

static int save_cert(X509 *x, const char *path)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || !PEM_write_bio_X509(b, x)) {
        BIO_free(b);
        return BL_ENOMEM;
    }
    int rc = write_bio(b, path, 0644);
    BIO_free(b);
    return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return BL_EINVAL;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : BL_ENOMEM;
}

/* Builds a certificate for key with subject CN=cn, signed by ca_key (self-signed if ca is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key, int days,
                       int kind /* 0 CA, 1 server, 2 client */)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x01; /* and no leading zero octet */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (!sn || !X509_set_version(x, 2) || !X509_set_serialNumber(x, sn))
        goto fail;
    /* Backdate an hour so that small clock differences do not reject a fresh certificate. */
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0))
        goto fail;
    if (kind != 0 && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                                 (const unsigned char *)"blsync", -1, -1, 0))
        goto fail;
    if (!X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name) || !X509_set_pubkey(x, key))
        goto fail;
    X509 *issuer = ca ? ca : x;
    if (kind == 0) {
        if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
            add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
            add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
            goto fail;
    } else {
        char san[200];
        unsigned char tmp[16];
        int is_ip = inet_pton(AF_INET, cn, tmp) == 1 || inet_pton(AF_INET6, cn, tmp) == 1;
        if (is_ip)
            snprintf(san, sizeof san, "IP:%s", cn);
        else
            snprintf(san, sizeof san, "DNS:%s", cn);
        if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
            add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
            add_ext(x, issuer, NID_ext_key_usage, kind == 1 ? "serverAuth" : "clientAuth") ||
            add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
            add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ||
            add_ext(x, issuer, NID_subject_alt_name, san))
            goto fail;
    }
    /* Ed25519 signs the message itself: no digest. */
    const EVP_MD *md = EVP_PKEY_get_id(ca_key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    if (!X509_sign(x, ca_key, md))
        goto fail;
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return x;
fail:
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* x's SHA-256 fingerprint in hex ("" when it cannot be computed). */
static char *fingerprint(X509 *x, char out[2 * EVP_MAX_MD_SIZE + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = 0;
    if (X509_digest(x, EVP_sha256(), md, &n))
        for (unsigned int i = 0; i < n; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    return out;
}

static void print_fingerprint(const char *path, X509 *x)
{
    char fp[2 * EVP_MAX_MD_SIZE + 1];
    if (*fingerprint(x, fp))
        printf("%s sha256=%s\n", path, fp);
}

/* The members of a certificate written or used, in the object open in b. */
static void cert_json(bl_buf_t *b, const char *cert_path, const char *key_path, X509 *x)
{
    char fp[2 * EVP_MAX_MD_SIZE + 1];
    ctl_json_str(b, "cert", cert_path);
    ctl_json_str(b, "key", key_path);
    ctl_json_str(b, "sha256", fingerprint(x, fp));
}

static int load_ca(const char *cert_path, const char *key_path, X509 **ca, EVP_PKEY **ca_key)
{
    FILE *f = fopen(cert_path, "r");
    if (!f)
        return BL_EIO;
    *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!(f = fopen(key_path, "r"))) {
        X509_free(*ca);
        *ca = NULL;
        return BL_EIO;
    }
    *ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*ca || !*ca_key || X509_check_private_key(*ca, *ca_key) != 1) {
        X509_free(*ca);
        EVP_PKEY_free(*ca_key);
        *ca = NULL;
        *ca_key = NULL;
        return BL_EKEY;
    }
    return 0;
}

/* Creates NAME.pem/NAME.key (base) signed by the CA. */
static int issue(certs_opts_t *o, const char *base, const char *cn, int kind, X509 *ca,
                 EVP_PKEY *ca_key)
{
    char cert_path[4096], key_path[4096];
    path_of(cert_path, sizeof cert_path, o->dir, base, ".pem");
    path_of(key_path, sizeof key_path, o->dir, base, ".key");
    if (!o->force && (exists(cert_path) || exists(key_path))) {
        fprintf(stderr, "blsyncctl certs: %s exists (use --force to replace it)\n", cert_path);
        return BL_EEXIST;
    }
    EVP_PKEY *k = gen_key(o->ed25519);
    if (!k)
        return BL_ENOMEM;
    X509 *x = make_cert(k, cn, ca, ca_key, o->days, kind);
    int rc = x ? 0 : BL_EINVAL;
    if (!rc)
        rc = save_key(k, key_path);
    if (!rc && ctl_daemon_file(key_path, o->group) < 0)
        rc = BL_EIO;
    if (!rc)
        rc = save_cert(x, cert_path);
    if (!rc && o->json) {
        master_json_printf(o->json, "%s{", o->nissued++ ? "," : "");
        ctl_json_str(o->json, "role", kind == 1 ? "master" : "mirror");
        ctl_json_str(o->json, "name", cn);
        cert_json(o->json, cert_path, key_path, x);
        master_json_printf(o->json, "}");
    } else if (!rc) {
        print_fingerprint(cert_path, x);
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

static void certs_usage(FILE *f)
{
    fprintf(f, "usage: blsyncctl certs --dir DIR [--master-name NAME] [--mirror NAME ...]\n"
               "                       [--key-type p256|ed25519] [--days N] [--force]\n"
               "                       [--group GROUP] [--json]\n");
}

int ctl_certs(int argc, char **argv)
{
    certs_opts_t o = {.days = LEAF_DAYS};
    const char *mirrors[MAX_MIRRORS];
    o.mirrors = mirrors;
    int json = 0;
    const ctl_opt_t flags[] = {{"--force", NULL, &o.force}, {"--json", NULL, &json}, {NULL}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ctl_opt(flags, argv, argc, &i))
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            certs_usage(stdout);
            return 0;
        }
        if (!v) {
            certs_usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--dir"))
            o.dir = v;
        else if (!strcmp(a, "--master-name"))
            o.master = v;
        else if (!strcmp(a, "--group"))
            o.group = v;
        else if (!strcmp(a, "--mirror")) {
            if (o.nmirrors == MAX_MIRRORS) {
                fprintf(stderr, "blsyncctl certs: at most %d mirrors per run\n", MAX_MIRRORS);
                return 2;
            }
            mirrors[o.nmirrors++] = v;
        } else if (!strcmp(a, "--key-type")) {
            if (!strcmp(v, "ed25519"))
                o.ed25519 = 1;
            else if (strcmp(v, "p256") && strcmp(v, "P-256")) {
                fprintf(stderr, "blsyncctl certs: --key-type is p256 or ed25519\n");
                return 2;
            }
        } else if (!strcmp(a, "--days")) {
            char *end;
            long d = strtol(v, &end, 10);
            if (*end || d < 1 || d > 36500) {
                fprintf(stderr, "blsyncctl certs: --days must be 1..36500\n");
                return 2;
            }
            o.days = (int)d;
        } else {
            certs_usage(stderr);
            return 2;
        }
    }
    if (!o.dir || (!o.master && !o.nmirrors)) {
        certs_usage(stderr);
        return 2;
    }
    if (o.master && !name_ok(o.master)) {
        fprintf(stderr, "blsyncctl certs: bad master name '%s'\n", o.master);
        return 2;
    }
    for (size_t i = 0; i < o.nmirrors; i++) {
        /* The name becomes a file name: no '/' and no leading dot or dash. */
        if (!name_ok(mirrors[i])) {
            fprintf(stderr, "blsyncctl certs: bad mirror name '%s'\n", mirrors[i]);
            return 2;
        }
    }
    if (make_dir(o.dir)) {
        fprintf(stderr, "blsyncctl certs: cannot create %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    char ca_cert[4096], ca_keyp[4096];
    path_of(ca_cert, sizeof ca_cert, o.dir, "ca", ".pem");
    path_of(ca_keyp, sizeof ca_keyp, o.dir, "ca", ".key");
    X509 *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    int rc = 0, ca_created = 0;
    bl_buf_t jb;
    bl_buf_init(&jb);
    if (json) {
        o.json = &jb;
        master_json_printf(&jb, "{");
        ctl_json_str(&jb, "dir", o.dir);
    }
    if (exists(ca_cert) || exists(ca_keyp)) {
        if ((rc = load_ca(ca_cert, ca_keyp, &ca, &ca_key)) != 0) {
            fprintf(stderr, "blsyncctl certs: cannot use the existing CA in %s: %s\n", o.dir,
                    bl_strerror(rc));
            goto out;
        }
    } else {
        ca_key = gen_key(o.ed25519);
        ca = ca_key ? make_cert(ca_key, "blsync CA", NULL, ca_key, CA_DAYS, 0) : NULL;
        if (!ca) {
            fprintf(stderr, "blsyncctl certs: cannot create the CA\n");
            rc = BL_EINVAL;
            goto out;
        }
        if ((rc = save_key(ca_key, ca_keyp)) != 0 || (rc = save_cert(ca, ca_cert)) != 0)
            goto out;
        ca_created = 1;
        if (!json)
            print_fingerprint(ca_cert, ca);
    }
    if (json) {
        ctl_json_key(&jb, "ca");
        master_json_printf(&jb, "{");
        cert_json(&jb, ca_cert, ca_keyp, ca);
        ctl_json_bool(&jb, "created", ca_created);
        master_json_printf(&jb, "}");
        ctl_json_key(&jb, "certificates");
        master_json_printf(&jb, "[");
    }
    if (o.master && (rc = issue(&o, "master", o.master, 1, ca, ca_key)) != 0)
        goto out;
    for (size_t i = 0; i < o.nmirrors; i++) {
        char base[128];
        snprintf(base, sizeof base, "mirror-%s", mirrors[i]);
        if ((rc = issue(&o, base, mirrors[i], 2, ca, ca_key)) != 0)
            goto out;
    }
out:
    if (json && !rc) {
        master_json_printf(&jb, "]}\n");
        ctl_json_flush(&jb);
    }
    bl_buf_close(&jb);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc ? 1 : 0;
}

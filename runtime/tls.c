/* SPDX-License-Identifier: MIT */
/* TLS 1.3 with mutual authentication over libuv TCP streams, through OpenSSL memory BIOs. */

/*
 * Each connection owns one uv_tcp_t, one uv_timer_t (handshake timeout, then
 * the grace period of a closing connection) and one SSL whose two memory BIOs
 * stand between OpenSSL and the socket: ciphertext read from the socket is
 * written into rbio, and whatever OpenSSL writes into wbio is handed to
 * uv_write. Nothing here blocks. A connection's memory is freed only after
 * libuv has closed both handles, so callbacks may close the connection they
 * are called for and return safely.
 */
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conn_limit.h"
#include "err.h"
#include "log.h"
#include "grow.h"

#define TLS_DEFAULT_QUEUE    (8u << 20)
#define TLS_DEFAULT_HS_MS    10000
#define TLS_CLOSE_GRACE_MS   2000
#define TLS_READ_BUF         65536
#define TLS_NAME_MAX         256
#define TLS_DEFAULT_MAX_HS   256
#define TLS_MIN_HS_ADDR      8
#define TLS_DEFAULT_HS_BYTES (64u << 10)
#define TLS_ACCEPT_BATCH     64 /* accepts per wake-up, so one listener cannot starve the loop */
#define TLS_BACKLOG          1024
#define TLS_PAUSE_MIN_MS     100
#define TLS_PAUSE_MAX_MS     2000
#define TLS_KNOWN            1024 /* mirror addresses remembered for admission under a flood */

struct bl_tls_ctx {
    SSL_CTX *ssl; /* replaced by bl_tls_ctx_reload_certs; live SSLs hold a reference to theirs */
    int server;
    int has_ca;
    char *cert_file, *key_file, *ca_file; /* read again by bl_tls_ctx_reload_certs */
    char *revoked_file;
    char **revoked;
    size_t nrevoked;
    uint8_t (*pins)[32];
    size_t npins;
    size_t max_queue;
    uint64_t hs_timeout_ms;
    int sndbuf;
    size_t max_hs, max_hs_addr, max_hs_bytes;
};

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING };

struct bl_tls_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int handles;    /* handles not yet closed */
    int uv_closing; /* uv_close called on both handles */
    int shutting;   /* uv_shutdown in progress */
    int state;
    bl_tls_ctx_t *ctx;
    bl_tls_server_t *server; /* NULL for client connections */
    bl_tls_conn_t *prev, *next;
    SSL *ssl;
    BIO *rbio; /* socket -> OpenSSL */
    BIO *wbio; /* OpenSSL -> socket */
    bl_tls_cb_t cb;
    void *data;
    uint8_t *pending; /* plaintext written before the handshake completed */
    size_t npending, cpending;
    int want_drain;
    int paused; /* reading stopped by bl_tls_set_reading */
    /* Server side, until the handshake completes. */
    bl_tls_conn_t *hs_prev, *hs_next; /* the server's handshakes, oldest first */
    int in_hs, hs_counted;
    bl_peer_t peer;
    size_t hs_bytes; /* read so far */
    int refusal;     /* BL_TLS_REFUSED_* when closed for a counted reason, else -1 */
    char peer_name[TLS_NAME_MAX];
    int64_t peer_not_after; /* the peer certificate's notAfter (Unix seconds), once connected */
    char peer_addr[64];
    char server_name[TLS_NAME_MAX];
    uint8_t rdbuf[TLS_READ_BUF];
};

struct bl_tls_server {
    uv_poll_t poll;    /* the listening socket is readable */
    uv_timer_t resume; /* accepting paused for want of descriptors */
    int handles;       /* not yet closed */
    int fd;            /* listening socket */
    int reserve_fd;    /* spare descriptor, given up to accept and close when out of them */
    unsigned pause_ms; /* the current pause; doubles while descriptors stay short */
    uv_loop_t *loop;
    bl_tls_ctx_t *ctx;
    bl_tls_cb_t cb;
    void *data;
    bl_tls_conn_t *conns;
    size_t nconn;
    bl_tls_conn_t *hs_head, *hs_tail; /* connections in their handshake, oldest first */
    size_t nhs, max_hs, max_hs_addr;
    bl_peer_counts_t hs_per_addr;
    bl_peer_counts_t known; /* addresses that completed a handshake (the first TLS_KNOWN) */
    uint64_t refused[BL_TLS_REFUSED_N];
    int port;
};

typedef struct {
    uv_write_t req;
    bl_tls_conn_t *c;
    uv_buf_t buf;
    uint8_t bytes[];
} tls_wreq_t;

/* ---- context ---------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Reads non-empty, non-comment lines of path. A missing file is an empty list. */
static int read_lines(const char *path, char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        BL_ERR("tls_list_open", "path=%s errno=%d", bl_log_q(path), errno);
        return BL_ECONFIG;
    }
    char line[1024];
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char **nv = bl_grow(v, &cap, n + 1, sizeof *nv);
        if (!nv) {
            rc = BL_ENOMEM;
            break;
        }
        v = nv;
        if (!(v[n] = strdup(s))) {
            rc = BL_ENOMEM;
            break;
        }
        n++;
    }
    fclose(f);
    if (rc) {
        free_names(v, n);
        return rc;
    }
    *out = v;
    *nout = n;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static int load_pins(bl_tls_ctx_t *ctx, const char *path)
{
    char **lines;
    size_t n;
    int rc = read_lines(path, &lines, &n);
    if (rc)
        return rc;
    ctx->pins = calloc(n ? n : 1, sizeof *ctx->pins);
    if (!ctx->pins) {
        free_names(lines, n);
        return BL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        int bad = 0;
        for (const char *s = lines[i]; *s && !bad; s++) {
            if (*s == ':')
                continue;
            int hi = hexval((unsigned char)s[0]), lo = s[1] ? hexval((unsigned char)s[1]) : -1;
            if (hi < 0 || lo < 0 || k == 32) {
                bad = 1;
                break;
            }
            ctx->pins[ctx->npins][k++] = (uint8_t)(hi << 4 | lo);
            s++;
        }
        if (bad || k != 32) {
            BL_ERR("tls_pin_parse", "path=%s line=%zu", bl_log_q(path), i + 1);
            free_names(lines, n);
            return BL_ECONFIG;
        }
        ctx->npins++;
    }
    free_names(lines, n);
    return 0;
}

static void cert_names(X509 *x, char *cn, size_t cnlen)
{
    cn[0] = 0;
    X509_NAME *subj = X509_get_subject_name(x);
    if (subj && X509_NAME_get_text_by_NID(subj, NID_commonName, cn, (int)cnlen) < 0)
        cn[0] = 0;
}

int bl_tls_cert_file_name(const char *path, char *cn, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return BL_EIO;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        return BL_EKEY;
    cert_names(x, cn, n);
    X509_free(x);
    return cn[0] ? 0 : BL_EKEY;
}

/* 1 if the certificate's CN or any dNSName SAN is on the revoked list. */
static int cert_revoked(const bl_tls_ctx_t *ctx, X509 *x)
{
    if (!ctx->nrevoked)
        return 0;
    char cn[TLS_NAME_MAX];
    cert_names(x, cn, sizeof cn);
    if (cn[0] && bl_tls_ctx_is_revoked(ctx, cn))
        return 1;
    int hit = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !hit; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        if (len <= 0 || len >= TLS_NAME_MAX || memchr(d, 0, (size_t)len))
            continue;
        char name[TLS_NAME_MAX];
        memcpy(name, d, (size_t)len);
        name[len] = 0;
        hit = bl_tls_ctx_is_revoked(ctx, name);
    }
    GENERAL_NAMES_free(gens);
    return hit;
}

static int cert_pinned(const bl_tls_ctx_t *ctx, X509 *x)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!ctx->npins || !X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32)
        return 0;
    for (size_t i = 0; i < ctx->npins; i++)
        if (!memcmp(ctx->pins[i], md, 32))
            return 1;
    return 0;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl)
        return ok;
    const bl_tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!ctx || !ctx->server)
        return ok;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    if (!ok && leaf && cert_pinned(ctx, leaf)) {
        /* A pinned certificate needs no chain; accept whatever the chain says. */
        X509_STORE_CTX_set_error(xs, X509_V_OK);
        ok = 1;
    }
    if (ok && X509_STORE_CTX_get_error_depth(xs) == 0 && leaf && cert_revoked(ctx, leaf)) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REVOKED);
        return 0;
    }
    return ok;
}

static void log_ssl_errors(const char *event, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    BL_ERR(event, "what=%s ssl=%s", bl_log_q(what), bl_log_q(e ? buf : "none"));
    ERR_clear_error();
}

/* A new OpenSSL context from ctx's files and settings: TLS 1.3 only, no
 * session resumption, the certificate chain and its key, the trust anchors,
 * peer verification. NULL on any error (logged, naming the file). */
static SSL_CTX *ssl_build(bl_tls_ctx_t *ctx)
{
    ERR_clear_error();
    SSL_CTX *ssl = SSL_CTX_new(ctx->server ? TLS_server_method() : TLS_client_method());
    if (!ssl) {
        log_ssl_errors("tls_ctx", "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_app_data(ssl, ctx);
    if (!SSL_CTX_set_min_proto_version(ssl, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ssl, TLS1_3_VERSION)) {
        log_ssl_errors("tls_ctx", "TLS 1.3 only");
        goto fail;
    }
    SSL_CTX_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ssl, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ssl, 0);
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ssl, ctx->cert_file) != 1) {
        log_ssl_errors("tls_cert", ctx->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl, ctx->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl) != 1) {
        /* The path is logged, never the key. */
        log_ssl_errors("tls_key", ctx->key_file);
        goto fail;
    }
    if (ctx->ca_file) {
        if (SSL_CTX_load_verify_locations(ssl, ctx->ca_file, NULL) != 1) {
            log_ssl_errors("tls_ca", ctx->ca_file);
            goto fail;
        }
        if (ctx->server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ctx->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(ssl, names);
        }
    }
    SSL_CTX_set_verify_depth(ssl, 4);
    if (ctx->server)
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    else
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    return ssl;
fail:
    SSL_CTX_free(ssl);
    return NULL;
}

/* notAfter of a certificate in Unix seconds; 0 if it cannot be read. */
static int64_t not_after(const X509 *x)
{
    struct tm tm;
    const ASN1_TIME *t = x ? X509_get0_notAfter(x) : NULL;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* Logs a certificate (of the file path): its names, notAfter and the days
 * left, as a warning within BL_TLS_EXPIRY_WARN_DAYS of expiry and an error past it. */
static void log_x509(const char *event, const char *path, X509 *x)
{
    char names[TLS_NAME_MAX] = "";
    if (x)
        cert_names(x, names, sizeof names);
    int64_t na = not_after(x);
    int64_t left = na - (int64_t)time(NULL);
    char when[32] = "unknown";
    time_t tt = (time_t)na;
    struct tm tm;
    if (na && gmtime_r(&tt, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    long days = (long)(left / 86400);
    if (left <= 0)
        BL_ERR(event, "path=%s name=%s not_after=%s expired=yes", bl_log_q(path), bl_log_q(names),
               when);
    else if (days < BL_TLS_EXPIRY_WARN_DAYS)
        BL_WARN(event, "path=%s name=%s not_after=%s days_left=%ld", bl_log_q(path),
                bl_log_q(names), when, days);
    else
        BL_INFO(event, "path=%s name=%s not_after=%s days_left=%ld", bl_log_q(path),
                bl_log_q(names), when, days);
}

static void log_cert(const bl_tls_ctx_t *ctx, const char *event)
{
    log_x509(event, ctx->cert_file, SSL_CTX_get0_certificate(ctx->ssl));
}

int64_t bl_tls_pem_log_cert(const char *path, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    log_x509("tls_certificate", path, x);
    int64_t na = not_after(x);
    X509_free(x);
    return na;
}

static int ctx_new(const bl_tls_config_t *cfg, int server, bl_tls_ctx_t **out)
{
    *out = NULL;
    static int sigpipe_ignored;
    if (!sigpipe_ignored) {
        /* libuv writes with write(2): a peer reset must be an error, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        sigpipe_ignored = 1;
    }
    if (!cfg->cert_file || !cfg->key_file || (!cfg->ca_file && !(server && cfg->pinned_file))) {
        BL_ERR("tls_config", "error=%s", "cert_file, key_file and ca_file (or pinned_file) needed");
        return BL_ECONFIG;
    }
    bl_tls_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return BL_ENOMEM;
    ctx->server = server;
    ctx->max_queue = cfg->max_queue ? cfg->max_queue : TLS_DEFAULT_QUEUE;
    ctx->hs_timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : TLS_DEFAULT_HS_MS;
    ctx->sndbuf = cfg->sndbuf;
    ctx->max_hs = cfg->max_handshakes;
    ctx->max_hs_addr = cfg->max_handshakes_per_addr;
    ctx->max_hs_bytes = cfg->max_handshake_bytes ? cfg->max_handshake_bytes : TLS_DEFAULT_HS_BYTES;
    int rc = BL_ECONFIG;
    if (!(ctx->cert_file = strdup(cfg->cert_file)) || !(ctx->key_file = strdup(cfg->key_file)) ||
        (cfg->ca_file && !(ctx->ca_file = strdup(cfg->ca_file)))) {
        rc = BL_ENOMEM;
        goto fail;
    }
    if (!(ctx->ssl = ssl_build(ctx)))
        goto fail;
    ctx->has_ca = ctx->ca_file != NULL;
    if (server) {
        if (cfg->pinned_file && (rc = load_pins(ctx, cfg->pinned_file)) != 0)
            goto fail;
        if (cfg->revoked_file) {
            if (!(ctx->revoked_file = strdup(cfg->revoked_file))) {
                rc = BL_ENOMEM;
                goto fail;
            }
            if ((rc = bl_tls_ctx_reload_revoked(ctx)) != 0)
                goto fail;
        }
    }
    *out = ctx;
    return 0;
fail:
    bl_tls_ctx_free(ctx);
    return rc;
}

int bl_tls_ctx_new_server(const bl_tls_config_t *cfg, bl_tls_ctx_t **out)
{
    return ctx_new(cfg, 1, out);
}

int bl_tls_ctx_new_client(const bl_tls_config_t *cfg, bl_tls_ctx_t **out)
{
    return ctx_new(cfg, 0, out);
}

void bl_tls_ctx_free(bl_tls_ctx_t *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free_names(ctx->revoked, ctx->nrevoked);
    free(ctx->revoked_file);
    free(ctx->cert_file);
    free(ctx->key_file);
    free(ctx->ca_file);
    free(ctx->pins);
    free(ctx);
}

int bl_tls_ctx_reload_revoked(bl_tls_ctx_t *ctx)
{
    if (!ctx->revoked_file)
        return 0;
    char **v;
    size_t n;
    int rc = read_lines(ctx->revoked_file, &v, &n);
    if (rc)
        return rc;
    free_names(ctx->revoked, ctx->nrevoked);
    ctx->revoked = v;
    ctx->nrevoked = n;
    BL_INFO("tls_revoked_loaded", "path=%s names=%zu", bl_log_q(ctx->revoked_file), n);
    return 0;
}

int bl_tls_ctx_reload_certs(bl_tls_ctx_t *ctx, int *changed)
{
    if (changed)
        *changed = 0;
    SSL_CTX *ssl = ssl_build(ctx);
    if (!ssl) {
        BL_ERR("tls_reload_failed", "cert=%s key=%s ca=%s (the certificate in use stays)",
               bl_log_q(ctx->cert_file), bl_log_q(ctx->key_file),
               bl_log_q(ctx->ca_file ? ctx->ca_file : ""));
        return BL_ECONFIG;
    }
    const X509 *was = SSL_CTX_get0_certificate(ctx->ssl);
    const X509 *now = SSL_CTX_get0_certificate(ssl);
    int differs = !was || !now || X509_cmp(was, now) != 0;
    /* Connections made before keep the old context: SSL_new took a reference. */
    SSL_CTX_free(ctx->ssl);
    ctx->ssl = ssl;
    if (changed)
        *changed = differs;
    log_cert(ctx, "tls_reloaded");
    return 0;
}

void bl_tls_ctx_log_cert(const bl_tls_ctx_t *ctx)
{
    log_cert(ctx, "tls_certificate");
}

int64_t bl_tls_ctx_not_after(const bl_tls_ctx_t *ctx)
{
    return not_after(SSL_CTX_get0_certificate(ctx->ssl));
}

int bl_tls_ctx_set_revoked(bl_tls_ctx_t *ctx, const char *const *names, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return BL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] = strdup(names[i]))) {
            free_names(v, i);
            return BL_ENOMEM;
        }
    }
    free_names(ctx->revoked, ctx->nrevoked);
    ctx->revoked = v;
    ctx->nrevoked = n;
    return 0;
}

int bl_tls_ctx_is_revoked(const bl_tls_ctx_t *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nrevoked; i++)
        if (!strcasecmp(ctx->revoked[i], name))
            return 1;
    return 0;
}

/* ---- connections ------------------------------------------------------ */

static void hs_list_del(bl_tls_server_t *s, bl_tls_conn_t *c);

static void conn_free(bl_tls_conn_t *c)
{
    SSL_free(c->ssl); /* frees both BIOs */
    free(c->pending);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    bl_tls_conn_t *c = h->data;
    if (--c->handles == 0)
        conn_free(c);
}

static void force_close(bl_tls_conn_t *c)
{
    if (c->uv_closing)
        return;
    c->uv_closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    force_close(req->data);
}

static void on_grace_timer(uv_timer_t *t)
{
    force_close(t->data);
}

size_t bl_tls_queued(const bl_tls_conn_t *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) +
           (c->wbio ? BIO_ctrl_pending(c->wbio) : 0) + c->npending;
}

size_t bl_tls_max_queue(const bl_tls_conn_t *c)
{
    return c->ctx->max_queue;
}

static void ssl_reason(bl_tls_conn_t *c, const char *what, char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (vr != X509_V_OK)
        snprintf(buf, n, "%s: %s (verify: %s)", what, r ? r : "error",
                 X509_verify_cert_error_string(vr));
    else
        snprintf(buf, n, "%s: %s", what, r ? r : (errno ? strerror(errno) : "error"));
    ERR_clear_error();
}

static void on_write(uv_write_t *req, int status)
{
    tls_wreq_t *w = (tls_wreq_t *)req;
    bl_tls_conn_t *c = w->c;
    free(w);
    if (status < 0) {
        if (c->state != ST_CLOSING) {
            char reason[128];
            snprintf(reason, sizeof reason, "write: %s", uv_strerror(status));
            bl_tls_close(c, reason);
        }
        return;
    }
    if (c->want_drain && c->state == ST_OPEN && bl_tls_queued(c) <= c->ctx->max_queue / 2) {
        c->want_drain = 0;
        if (c->cb.on_drain)
            c->cb.on_drain(c);
    }
}

/* Hands everything OpenSSL has written to the socket. */
static int flush(bl_tls_conn_t *c)
{
    size_t n;
    while ((n = BIO_ctrl_pending(c->wbio)) > 0) {
        tls_wreq_t *w = malloc(sizeof *w + n);
        if (!w)
            return BL_ENOMEM;
        int got = BIO_read(c->wbio, w->bytes, (int)n);
        if (got <= 0) {
            free(w);
            return BL_EIO;
        }
        w->c = c;
        w->buf = uv_buf_init((char *)w->bytes, (unsigned)got);
        int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write);
        if (r < 0) {
            free(w);
            return BL_EIO;
        }
    }
    return 0;
}

static int ssl_write_all(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int chunk = n > 16384 ? 16384 : (int)n;
        ERR_clear_error();
        int r = SSL_write(c->ssl, p, chunk);
        if (r <= 0)
            return BL_EIO;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Encrypts and sends p now; on failure closes c with the TLS layer's reason. */
static int write_now(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    int rc = ssl_write_all(c, p, n);
    if (!rc)
        rc = flush(c);
    if (rc) {
        char reason[160];
        ssl_reason(c, "write", reason, sizeof reason);
        bl_tls_close(c, reason);
    }
    return rc;
}

int bl_tls_write(bl_tls_conn_t *c, const void *p, size_t n)
{
    if (c->state == ST_CLOSING)
        return BL_ESTATE;
    if (bl_tls_queued(c) + n > c->ctx->max_queue) {
        c->want_drain = 1;
        return BL_ETOOBIG;
    }
    if (c->state != ST_OPEN) {
        uint8_t *np = bl_grow_from(c->pending, &c->cpending, c->npending + n, 1, 4096);
        if (!np)
            return BL_ENOMEM;
        c->pending = np;
        memcpy(c->pending + c->npending, p, n);
        c->npending += n;
        return 0;
    }
    int rc = write_now(c, p, n);
    if (rc)
        return rc;
    if (bl_tls_queued(c) > c->ctx->max_queue / 2)
        c->want_drain = 1;
    return 0;
}

void bl_tls_close(bl_tls_conn_t *c, const char *reason)
{
    if (!c || c->state == ST_CLOSING)
        return;
    int was = c->state;
    c->state = ST_CLOSING;
    if (c->server) {
        hs_list_del(c->server, c);
        if (was == ST_HANDSHAKE && c->refusal >= 0)
            c->server->refused[c->refusal]++;
        if (c->prev)
            c->prev->next = c->next;
        else
            c->server->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->server->nconn--;
        c->server = NULL;
    }
    BL_DEBUG("tls_close", "peer=%s addr=%s reason=%s", bl_log_q(c->peer_name),
             bl_log_q(c->peer_addr), bl_log_q(reason));
    if (c->cb.on_close)
        c->cb.on_close(c, reason);
    uv_timer_stop(&c->timer);
    if (was == ST_CONNECTING) {
        force_close(c);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (was == ST_OPEN) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    /* Let queued bytes (and close_notify) drain, but never wait long. */
    if (flush(c) == 0 && uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) == 0) {
        c->shutdown_req.data = c;
        uv_timer_start(&c->timer, on_grace_timer, TLS_CLOSE_GRACE_MS, 0);
        return;
    }
    force_close(c);
}

static void handshake_done(bl_tls_conn_t *c)
{
    /* What is left unread in rbio came after the client's Finished. */
    if (c->server && c->hs_bytes - BIO_ctrl_pending(c->rbio) > c->ctx->max_hs_bytes) {
        c->refusal = BL_TLS_REFUSED_TOO_LARGE;
        bl_tls_close(c, "tls handshake: more bytes than a handshake needs");
        return;
    }
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (!peer) {
        c->refusal = BL_TLS_REFUSED_NO_CERT;
        bl_tls_close(c, "tls: peer presented no certificate");
        return;
    }
    cert_names(peer, c->peer_name, sizeof c->peer_name);
    c->peer_not_after = not_after(peer);
    int revoked = c->ctx->server && cert_revoked(c->ctx, peer);
    X509_free(peer);
    if (revoked) {
        c->refusal = BL_TLS_REFUSED_REVOKED;
        bl_tls_close(c, "tls: certificate revoked");
        return;
    }
    if (c->server) {
        hs_list_del(c->server, c);
        if (!bl_peer_counts_get(&c->server->known, &c->peer))
            bl_peer_counts_inc(&c->server->known, &c->peer);
    }
    c->state = ST_OPEN;
    uv_timer_stop(&c->timer);
    BL_DEBUG("tls_connected", "peer=%s addr=%s", bl_log_q(c->peer_name), bl_log_q(c->peer_addr));
    if (c->cb.on_connect)
        c->cb.on_connect(c, c->peer_name);
    if (c->state != ST_OPEN || !c->npending)
        return;
    size_t n = c->npending;
    c->npending = 0;
    write_now(c, c->pending, n);
}

/* Why a handshake failed, from the verify result and OpenSSL's error
 * (read before ssl_reason clears it). */
static int hs_refusal(bl_tls_conn_t *c)
{
    long vr = SSL_get_verify_result(c->ssl);
    if (vr == X509_V_ERR_CERT_REVOKED)
        return BL_TLS_REFUSED_REVOKED;
    if (vr != X509_V_OK)
        return BL_TLS_REFUSED_BAD_CERT;
    int r = ERR_GET_REASON(ERR_peek_last_error());
    if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        return BL_TLS_REFUSED_NO_CERT;
    if (r == SSL_R_CERTIFICATE_VERIFY_FAILED)
        return BL_TLS_REFUSED_BAD_CERT;
    return BL_TLS_REFUSED_NOT_TLS;
}

/* Runs OpenSSL over whatever ciphertext rbio holds. */
static void process(bl_tls_conn_t *c)
{
    char reason[256];
    if (c->state == ST_HANDSHAKE) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(c->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
        if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            c->refusal = hs_refusal(c);
            ssl_reason(c, "tls handshake", reason, sizeof reason);
            flush(c); /* the alert, so the peer learns why */
            bl_tls_close(c, reason);
            return;
        }
        if (flush(c)) {
            bl_tls_close(c, "write: out of memory or socket error");
            return;
        }
        if (r != 1)
            return;
        handshake_done(c);
        if (c->state != ST_OPEN)
            return;
    }
    if (c->state != ST_OPEN)
        return;
    uint8_t buf[16384];
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r > 0) {
            if (c->cb.on_data)
                c->cb.on_data(c, buf, (size_t)r);
            if (c->state != ST_OPEN)
                return;
            continue;
        }
        int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        if (err == SSL_ERROR_ZERO_RETURN)
            snprintf(reason, sizeof reason, "peer closed");
        else
            ssl_reason(c, "tls", reason, sizeof reason);
        bl_tls_close(c, reason);
        return;
    }
    if (flush(c))
        bl_tls_close(c, "write: out of memory or socket error");
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    bl_tls_conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->rdbuf, sizeof c->rdbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bl_tls_conn_t *c = s->data;
    if (c->state == ST_CLOSING)
        return;
    if (nread < 0) {
        char reason[128];
        c->refusal = BL_TLS_REFUSED_PEER;
        if (nread == UV_EOF)
            snprintf(reason, sizeof reason, "%s",
                     c->state == ST_OPEN ? "eof" : "eof during tls handshake");
        else
            snprintf(reason, sizeof reason, "read: %s", uv_strerror((int)nread));
        bl_tls_close(c, reason);
        return;
    }
    if (nread == 0)
        return;
    if (c->state == ST_HANDSHAKE)
        c->hs_bytes += (size_t)nread;
    if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
        bl_tls_close(c, "read: out of memory");
        return;
    }
    process(c);
    /* Judged after the read was processed: the read that completes a
     * handshake may carry the peer's first data behind its Finished (the
     * handshake's own bytes are judged in handshake_done). */
    if (c->state == ST_HANDSHAKE && c->server && c->hs_bytes > c->ctx->max_hs_bytes) {
        c->refusal = BL_TLS_REFUSED_TOO_LARGE;
        bl_tls_close(c, "tls handshake: more bytes than a handshake needs");
    }
}

static void on_hs_timer(uv_timer_t *t)
{
    bl_tls_conn_t *c = t->data;
    c->refusal = BL_TLS_REFUSED_TIMEOUT;
    if (c->state != ST_OPEN)
        bl_tls_close(c, c->state == ST_CONNECTING ? "connect timeout" : "tls handshake timeout");
}

static bl_tls_conn_t *conn_new(uv_loop_t *loop, bl_tls_ctx_t *ctx, const bl_tls_cb_t *cb,
                               void *data)
{
    bl_tls_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ctx = ctx;
    c->cb = *cb;
    c->data = data;
    c->refusal = -1;
    c->ssl = SSL_new(ctx->ssl);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        SSL_free(c->ssl);
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        free(c);
        return NULL;
    }
    BIO_set_mem_eof_return(c->rbio, -1);
    BIO_set_mem_eof_return(c->wbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->handles = 2;
    c->tcp.data = c;
    c->timer.data = c;
    return c;
}

static void note_peer_addr(bl_tls_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(c->peer_addr, sizeof c->peer_addr, "%s:%d", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(c->peer_addr, sizeof c->peer_addr, "[%s]:%d", ip, ntohs(a->sin6_port));
    }
}

static int make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) ? BL_EINVAL : 0;
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) ? BL_EINVAL : 0;
}

/* ---- server ----------------------------------------------------------- */

static const char *const refusal_names[BL_TLS_REFUSED_N] = {
    "handshake_timeout", "no_certificate",      "bad_certificate",     "revoked",
    "not_tls",           "handshake_too_large", "too_many_handshakes", "evicted",
    "per_address_limit", "fd_exhausted",        "closed_by_peer",
};

const char *bl_tls_refusal_name(int r)
{
    return r >= 0 && r < BL_TLS_REFUSED_N ? refusal_names[r] : "other";
}

/* Counts and logs a connection closed at accept, before it had a bl_tls_conn_t. */
static void refuse_at_accept(bl_tls_server_t *s, int why, const bl_peer_t *p)
{
    s->refused[why]++;
    char a[64];
    BL_WARN("tls_refused", "reason=%s addr=%s handshakes=%zu", refusal_names[why],
            p ? bl_peer_format(p, a, sizeof a) : "-", s->nhs);
}

static void hs_list_add(bl_tls_server_t *s, bl_tls_conn_t *c)
{
    c->hs_prev = s->hs_tail;
    c->hs_next = NULL;
    if (s->hs_tail)
        s->hs_tail->hs_next = c;
    else
        s->hs_head = c;
    s->hs_tail = c;
    s->nhs++;
    c->in_hs = 1;
    c->hs_counted = bl_peer_counts_inc(&s->hs_per_addr, &c->peer) == 0;
}

static void hs_list_del(bl_tls_server_t *s, bl_tls_conn_t *c)
{
    if (!c->in_hs)
        return;
    if (c->hs_prev)
        c->hs_prev->hs_next = c->hs_next;
    else
        s->hs_head = c->hs_next;
    if (c->hs_next)
        c->hs_next->hs_prev = c->hs_prev;
    else
        s->hs_tail = c->hs_prev;
    s->nhs--;
    c->in_hs = 0;
    if (c->hs_counted)
        bl_peer_counts_dec(&s->hs_per_addr, &c->peer);
}

/* Room for one more handshake from peer, whose address holds mine of
 * them: 1 if there is, 0 if the newcomer must go. At the bound, the
 * newcomer takes the place of the oldest handshake of an address that
 * holds more than mine + 1 (a fair share), or, coming from an address
 * that completed a handshake before (a mirror), of the oldest handshake
 * from an address that never did: a flood from many addresses fills the
 * bound but cannot keep the mirrors out. */
static int make_room(bl_tls_server_t *s, const bl_peer_t *peer, unsigned mine)
{
    if (s->nhs < s->max_hs)
        return 1;
    bl_tls_conn_t *victim = NULL;
    for (bl_tls_conn_t *c = s->hs_head; c && !victim; c = c->hs_next)
        if (bl_peer_counts_get(&s->hs_per_addr, &c->peer) > mine + 1)
            victim = c;
    if (!victim && bl_peer_counts_get(&s->known, peer))
        for (bl_tls_conn_t *c = s->hs_head; c && !victim; c = c->hs_next)
            if (!bl_peer_counts_get(&s->known, &c->peer))
                victim = c;
    if (!victim)
        return 0;
    victim->refusal = BL_TLS_REFUSED_EVICTED;
    bl_tls_close(victim, "evicted: too many handshakes");
    return 1;
}

static void admit(bl_tls_server_t *s, int fd, const struct sockaddr *sa)
{
    bl_peer_t peer;
    bl_peer_from_sockaddr(&peer, sa);
    unsigned mine = bl_peer_counts_get(&s->hs_per_addr, &peer);
    int why = -1;
    if (mine >= s->max_hs_addr)
        why = BL_TLS_REFUSED_PER_ADDR;
    else if (!make_room(s, &peer, mine))
        why = BL_TLS_REFUSED_FULL;
    bl_tls_conn_t *c = why < 0 ? conn_new(s->loop, s->ctx, &s->cb, s->data) : NULL;
    if (!c) {
        close(fd);
        refuse_at_accept(s, why < 0 ? BL_TLS_REFUSED_FULL : why, &peer);
        return;
    }
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        force_close(c);
        refuse_at_accept(s, BL_TLS_REFUSED_FD, &peer);
        return;
    }
    c->state = ST_HANDSHAKE;
    c->server = s;
    c->peer = peer;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconn++;
    hs_list_add(s, c);
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->ctx->sndbuf > 0) {
        int v = c->ctx->sndbuf;
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &v);
    }
    char ip[64];
    int port = sa->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                                         : ntohs(((const struct sockaddr_in *)sa)->sin_port);
    snprintf(c->peer_addr, sizeof c->peer_addr, peer.af == 6 ? "[%s]:%d" : "%s:%d",
             bl_peer_format(&peer, ip, sizeof ip), port);
    SSL_set_accept_state(c->ssl);
    uv_timer_start(&c->timer, on_hs_timer, c->ctx->hs_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        bl_tls_close(c, "read start failed");
}

static void on_listen_ready(uv_poll_t *p, int status, int events);

static void on_resume(uv_timer_t *t)
{
    bl_tls_server_t *s = t->data;
    if (s->reserve_fd < 0)
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    uv_poll_start(&s->poll, UV_READABLE, on_listen_ready);
}

/* Out of descriptors: give up the spare one to accept and close what
 * waits (so those clients learn at once instead of timing out), then stop
 * accepting for a while. The loop runs on meanwhile: handshake deadlines
 * close connections, signals are handled, other listeners are served. */
static void out_of_fds(bl_tls_server_t *s, int err)
{
    if (s->reserve_fd >= 0) {
        close(s->reserve_fd);
        s->reserve_fd = -1;
        for (int i = 0; i < TLS_ACCEPT_BATCH; i++) {
            int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            close(fd);
            s->refused[BL_TLS_REFUSED_FD]++;
        }
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    s->refused[BL_TLS_REFUSED_FD]++;
    s->pause_ms = s->pause_ms ? s->pause_ms * 2 : TLS_PAUSE_MIN_MS;
    if (s->pause_ms > TLS_PAUSE_MAX_MS)
        s->pause_ms = TLS_PAUSE_MAX_MS;
    BL_WARN("tls_accept_paused", "error=%s pause_ms=%u handshakes=%zu connections=%zu",
            bl_log_q(strerror(err)), s->pause_ms, s->nhs, s->nconn);
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->resume, on_resume, s->pause_ms, 0);
}

/* The listening socket is readable: accept a batch (then let the loop run). */
static void on_listen_ready(uv_poll_t *p, int status, int events)
{
    bl_tls_server_t *s = p->data;
    (void)events;
    if (status < 0) {
        BL_WARN("tls_accept", "error=%s", bl_log_q(uv_strerror(status)));
        return;
    }
    for (int i = 0; i < TLS_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->pause_ms = 0;
            admit(s, fd, (struct sockaddr *)&ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            out_of_fds(s, errno);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            BL_WARN("tls_accept", "error=%s", bl_log_q(strerror(errno)));
        return;
    }
}

static void on_server_handle_closed(uv_handle_t *h)
{
    bl_tls_server_t *s = h->data;
    if (--s->handles)
        return;
    close(s->fd);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    bl_peer_counts_free(&s->hs_per_addr);
    bl_peer_counts_free(&s->known);
    free(s);
}

/* A bound, non-blocking, close-on-exec listening socket for host:port. */
static int listen_socket(const char *host, int port, int *out)
{
    struct sockaddr_storage ss;
    if (make_addr(host, port, &ss))
        return BL_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t len =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, TLS_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

int bl_tls_listen(uv_loop_t *loop, bl_tls_ctx_t *ctx, const char *host, int port,
                  const bl_tls_cb_t *cb, void *data, bl_tls_server_t **out)
{
    *out = NULL;
    if (!ctx->server)
        return BL_EINVAL;
    int fd = -1;
    int r = listen_socket(host, port, &fd);
    if (r == BL_EINVAL)
        return BL_EINVAL;
    if (r) {
        BL_ERR("tls_listen", "host=%s port=%d error=%s", bl_log_q(host), port,
               bl_log_q(strerror(-r)));
        return BL_EIO;
    }
    bl_tls_server_t *s = calloc(1, sizeof *s);
    /* The descriptors the sync listener may hold before any certificate. */
    size_t max_hs = bl_fd_budget((unsigned)ctx->max_hs, TLS_DEFAULT_MAX_HS, 4);
    if (!s || bl_peer_counts_init(&s->hs_per_addr, max_hs) ||
        bl_peer_counts_init(&s->known, TLS_KNOWN)) {
        if (s) {
            bl_peer_counts_free(&s->hs_per_addr);
            free(s);
        }
        close(fd);
        return BL_ENOMEM;
    }
    s->loop = loop;
    s->ctx = ctx;
    s->cb = *cb;
    s->data = data;
    s->fd = fd;
    s->max_hs = max_hs;
    /* A quarter by default: mirrors behind one address (or a test's
     * loopback) reconnecting together get in; one address alone cannot
     * take the rest. */
    s->max_hs_addr = ctx->max_hs_addr               ? ctx->max_hs_addr
                     : max_hs / 4 > TLS_MIN_HS_ADDR ? max_hs / 4
                                                    : TLS_MIN_HS_ADDR;
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    uv_poll_init_socket(loop, &s->poll, fd);
    uv_timer_init(loop, &s->resume);
    s->poll.data = s;
    s->resume.data = s;
    s->handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, on_listen_ready);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    s->port = port;
    if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0)
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    *out = s;
    return 0;
}

int bl_tls_server_port(const bl_tls_server_t *s)
{
    return s->port;
}

size_t bl_tls_server_nconn(const bl_tls_server_t *s)
{
    return s->nconn;
}

size_t bl_tls_server_nhandshakes(const bl_tls_server_t *s)
{
    return s->nhs;
}

size_t bl_tls_server_max_handshakes(const bl_tls_server_t *s)
{
    return s->max_hs;
}

void bl_tls_server_refusals(const bl_tls_server_t *s, uint64_t *out)
{
    memcpy(out, s->refused, sizeof s->refused);
}

void bl_tls_server_kick_revoked(bl_tls_server_t *s)
{
    bl_tls_conn_t *c = s->conns;
    while (c) {
        bl_tls_conn_t *next = c->next;
        if (c->state == ST_OPEN) {
            X509 *peer = SSL_get1_peer_certificate(c->ssl);
            int revoked = peer && cert_revoked(s->ctx, peer);
            X509_free(peer);
            if (revoked)
                bl_tls_close(c, "certificate revoked");
        }
        c = next;
    }
}

void bl_tls_server_close(bl_tls_server_t *s)
{
    if (!s)
        return;
    while (s->conns)
        bl_tls_close(s->conns, "server shutting down");
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->resume);
    uv_close((uv_handle_t *)&s->poll, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->resume, on_server_handle_closed);
}

/* ---- client ----------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
    bl_tls_conn_t *c = req->data;
    if (c->state == ST_CLOSING)
        return;
    if (status < 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "connect: %s", uv_strerror(status));
        bl_tls_close(c, reason);
        return;
    }
    c->state = ST_HANDSHAKE;
    uv_tcp_nodelay(&c->tcp, 1);
    note_peer_addr(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        bl_tls_close(c, "read start failed");
        return;
    }
    process(c); /* sends the ClientHello */
}

int bl_tls_connect(uv_loop_t *loop, bl_tls_ctx_t *ctx, const char *host, int port,
                   const char *server_name, const bl_tls_cb_t *cb, void *data, bl_tls_conn_t **out)
{
    *out = NULL;
    if (ctx->server || !server_name || strlen(server_name) >= TLS_NAME_MAX)
        return BL_EINVAL;
    struct sockaddr_storage ss;
    if (make_addr(host, port, &ss))
        return BL_EINVAL;
    bl_tls_conn_t *c = conn_new(loop, ctx, cb, data);
    if (!c)
        return BL_ENOMEM;
    snprintf(c->server_name, sizeof c->server_name, "%s", server_name);
    c->state = ST_CONNECTING;
    SSL_set_connect_state(c->ssl);
    if (SSL_set1_host(c->ssl, server_name) != 1 ||
        SSL_set_tlsext_host_name(c->ssl, server_name) != 1) {
        force_close(c);
        return BL_EINVAL;
    }
    SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    c->connect_req.data = c;
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, on_connected);
    if (r) {
        BL_WARN("tls_connect", "host=%s port=%d error=%s", bl_log_q(host), port,
                bl_log_q(uv_strerror(r)));
        force_close(c);
        return BL_EIO;
    }
    uv_timer_start(&c->timer, on_hs_timer, ctx->hs_timeout_ms, 0);
    *out = c;
    return 0;
}

void bl_tls_set_reading(bl_tls_conn_t *c, int on)
{
    if (c->state != ST_HANDSHAKE && c->state != ST_OPEN)
        return;
    if (on) {
        if (!c->paused)
            return;
        c->paused = 0;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
            bl_tls_close(c, "read start failed");
    } else if (!c->paused) {
        c->paused = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

/* ---- accessors -------------------------------------------------------- */

void *bl_tls_conn_data(const bl_tls_conn_t *c)
{
    return c->data;
}

void bl_tls_conn_set_data(bl_tls_conn_t *c, void *data)
{
    c->data = data;
}

const char *bl_tls_peer_name(const bl_tls_conn_t *c)
{
    return c->peer_name;
}

int64_t bl_tls_peer_not_after(const bl_tls_conn_t *c)
{
    return c->peer_not_after;
}

const char *bl_tls_peer_addr(const bl_tls_conn_t *c)
{
    return c->peer_addr;
}

int bl_tls_is_connected(const bl_tls_conn_t *c)
{
    return c->state == ST_OPEN;
}

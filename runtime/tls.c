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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "log.h"

#define TLS_DEFAULT_QUEUE  (8u << 20)
#define TLS_DEFAULT_HS_MS  10000
#define TLS_CLOSE_GRACE_MS 2000
#define TLS_READ_BUF       65536
#define TLS_NAME_MAX       256

struct bl_tls_ctx {
    SSL_CTX *ssl;
    int server;
    int has_ca;
    char *revoked_file;
    char **revoked;
    size_t nrevoked;
    uint8_t (*pins)[32];
    size_t npins;
    size_t max_queue;
    uint64_t hs_timeout_ms;
    int sndbuf;
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
    char peer_name[TLS_NAME_MAX];
    char peer_addr[64];
    char server_name[TLS_NAME_MAX];
    uint8_t rdbuf[TLS_READ_BUF];
};

struct bl_tls_server {
    uv_tcp_t tcp;
    uv_loop_t *loop;
    bl_tls_ctx_t *ctx;
    bl_tls_cb_t cb;
    void *data;
    bl_tls_conn_t *conns;
    size_t nconn;
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
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = BL_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
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
    int rc = BL_ECONFIG;
    ERR_clear_error();
    ctx->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx->ssl) {
        log_ssl_errors("tls_ctx", "SSL_CTX_new");
        rc = BL_ENOMEM;
        goto fail;
    }
    SSL_CTX_set_app_data(ctx->ssl, ctx);
    if (!SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx->ssl, TLS1_3_VERSION)) {
        log_ssl_errors("tls_ctx", "TLS 1.3 only");
        goto fail;
    }
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx->ssl, 0);
    SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cfg->cert_file) != 1) {
        log_ssl_errors("tls_cert", cfg->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl) != 1) {
        /* The path is logged, never the key. */
        log_ssl_errors("tls_key", cfg->key_file);
        goto fail;
    }
    if (cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx->ssl, cfg->ca_file, NULL) != 1) {
            log_ssl_errors("tls_ca", cfg->ca_file);
            goto fail;
        }
        ctx->has_ca = 1;
        if (server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(ctx->ssl, names);
        }
    }
    SSL_CTX_set_verify_depth(ctx->ssl, 4);
    if (server) {
        SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
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
    } else {
        SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
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

int bl_tls_write(bl_tls_conn_t *c, const void *p, size_t n)
{
    if (c->state == ST_CLOSING)
        return BL_ESTATE;
    if (bl_tls_queued(c) + n > c->ctx->max_queue) {
        c->want_drain = 1;
        return BL_ETOOBIG;
    }
    if (c->state != ST_OPEN) {
        if (c->npending + n > c->cpending) {
            size_t nc = c->cpending ? c->cpending : 4096;
            while (nc < c->npending + n)
                nc *= 2;
            uint8_t *np = realloc(c->pending, nc);
            if (!np)
                return BL_ENOMEM;
            c->pending = np;
            c->cpending = nc;
        }
        memcpy(c->pending + c->npending, p, n);
        c->npending += n;
        return 0;
    }
    int rc = ssl_write_all(c, p, n);
    if (!rc)
        rc = flush(c);
    if (rc) {
        char reason[160];
        ssl_reason(c, "write", reason, sizeof reason);
        bl_tls_close(c, reason);
        return rc;
    }
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
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (!peer) {
        bl_tls_close(c, "tls: peer presented no certificate");
        return;
    }
    cert_names(peer, c->peer_name, sizeof c->peer_name);
    int revoked = c->ctx->server && cert_revoked(c->ctx, peer);
    X509_free(peer);
    if (revoked) {
        bl_tls_close(c, "tls: certificate revoked");
        return;
    }
    c->state = ST_OPEN;
    uv_timer_stop(&c->timer);
    BL_DEBUG("tls_connected", "peer=%s addr=%s", bl_log_q(c->peer_name), bl_log_q(c->peer_addr));
    if (c->cb.on_connect)
        c->cb.on_connect(c, c->peer_name);
    if (c->state != ST_OPEN || !c->npending)
        return;
    int rc = ssl_write_all(c, c->pending, c->npending);
    c->npending = 0;
    if (!rc)
        rc = flush(c);
    if (rc) {
        char reason[160];
        ssl_reason(c, "write", reason, sizeof reason);
        bl_tls_close(c, reason);
    }
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
    if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
        bl_tls_close(c, "read: out of memory");
        return;
    }
    process(c);
}

static void on_hs_timer(uv_timer_t *t)
{
    bl_tls_conn_t *c = t->data;
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

static void on_server_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_connection(uv_stream_t *ls, int status)
{
    bl_tls_server_t *s = ls->data;
    if (status < 0) {
        BL_WARN("tls_accept", "error=%s", bl_log_q(uv_strerror(status)));
        return;
    }
    bl_tls_conn_t *c = conn_new(s->loop, s->ctx, &s->cb, s->data);
    if (!c) {
        /* Accept and drop, so the backlog does not fill with a connection we cannot serve. */
        uv_tcp_t *tmp = malloc(sizeof *tmp);
        if (tmp) {
            uv_tcp_init(s->loop, tmp);
            uv_accept(ls, (uv_stream_t *)tmp);
            uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
        }
        return;
    }
    c->state = ST_HANDSHAKE;
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconn++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        bl_tls_close(c, "accept failed");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->ctx->sndbuf > 0) {
        int v = c->ctx->sndbuf;
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &v);
    }
    note_peer_addr(c);
    SSL_set_accept_state(c->ssl);
    uv_timer_start(&c->timer, on_hs_timer, c->ctx->hs_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        bl_tls_close(c, "read start failed");
}

int bl_tls_listen(uv_loop_t *loop, bl_tls_ctx_t *ctx, const char *host, int port,
                  const bl_tls_cb_t *cb, void *data, bl_tls_server_t **out)
{
    *out = NULL;
    if (!ctx->server)
        return BL_EINVAL;
    struct sockaddr_storage ss;
    if (make_addr(host, port, &ss))
        return BL_EINVAL;
    bl_tls_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    s->loop = loop;
    s->ctx = ctx;
    s->cb = *cb;
    s->data = data;
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    int r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    if (!r)
        r = uv_listen((uv_stream_t *)&s->tcp, 1024, on_connection);
    if (r) {
        BL_ERR("tls_listen", "host=%s port=%d error=%s", bl_log_q(host), port,
               bl_log_q(uv_strerror(r)));
        uv_close((uv_handle_t *)&s->tcp, on_server_closed);
        return BL_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    s->port = port;
    if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len) == 0)
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
    uv_close((uv_handle_t *)&s->tcp, on_server_closed);
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

const char *bl_tls_peer_addr(const bl_tls_conn_t *c)
{
    return c->peer_addr;
}

int bl_tls_is_connected(const bl_tls_conn_t *c)
{
    return c->state == ST_OPEN;
}

/* SPDX-License-Identifier: MIT */
/* TLS 1.3 with mutual authentication over libuv TCP streams, through OpenSSL memory BIOs. */
#ifndef BL_TLS_H
#define BL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* A TLS context: certificates, trust anchors and the revoked-name list shared
 * by every connection of one side. Server contexts require a client
 * certificate that chains to ca_file or whose SHA-256 fingerprint is pinned,
 * and refuse certificates whose CN or dNSName SAN is revoked. Client contexts
 * verify the server's chain against ca_file and its name (SSL_set1_host).
 * Only TLS 1.3 is offered or accepted. */
typedef struct bl_tls_ctx bl_tls_ctx_t;
typedef struct bl_tls_conn bl_tls_conn_t;
typedef struct bl_tls_server bl_tls_server_t;

typedef struct {
    const char *cert_file;    /* PEM certificate (chain) presented to the peer */
    const char *key_file;     /* PEM private key of cert_file */
    const char *ca_file;      /* PEM trust anchors for the peer (may be NULL if pinned_file) */
    const char *pinned_file;  /* server only, optional: lines of hex SHA-256 of client certs */
    const char *revoked_file; /* server only, optional: one revoked certificate name per line */
    size_t max_queue;         /* per-connection write queue limit in bytes (0: 8 MiB) */
    uint64_t handshake_timeout_ms; /* 0: 10 s */
    int sndbuf; /* server only, optional: SO_SNDBUF of accepted sockets, bounding what
                   the kernel holds for a peer that does not read (0: kernel default) */
    /* Server only: bounds on connections that have not completed the
     * handshake, i.e. on what a client without a certificate can hold. */
    size_t max_handshakes;          /* at once (0: 256, at most a quarter of RLIMIT_NOFILE) */
    size_t max_handshakes_per_addr; /* at once from one address (0: 8) */
    size_t max_handshake_bytes;     /* a client's side of the handshake (0: 64 KiB) */
} bl_tls_config_t;

/* Creates a server or client context from cfg (paths are read now; cfg is not
 * kept). Errors: BL_ECONFIG (unreadable or inconsistent files, logged once). */
int bl_tls_ctx_new_server(const bl_tls_config_t *cfg, bl_tls_ctx_t **out);
int bl_tls_ctx_new_client(const bl_tls_config_t *cfg, bl_tls_ctx_t **out);
/* Frees ctx; every connection and server using it must be closed first. NULL is a no-op. */
void bl_tls_ctx_free(bl_tls_ctx_t *ctx);
/* Re-reads the revoked-name file (e.g. on SIGHUP). New handshakes use the new
 * list; live connections of newly revoked names are closed by the server. */
int bl_tls_ctx_reload_revoked(bl_tls_ctx_t *ctx);
/* Reads the certificate, key and trust anchors again from the files ctx was
 * made from (e.g. on SIGHUP, after a renewal). New handshakes use them; live
 * connections keep what they were made with. On error (logged as
 * tls_reload_failed) ctx keeps the files in use and BL_ECONFIG is returned.
 * *changed (may be NULL) is 1 when the certificate presented differs. Call
 * on the thread that makes ctx's connections. Logs tls_reloaded like
 * bl_tls_ctx_log_cert. */
int bl_tls_ctx_reload_certs(bl_tls_ctx_t *ctx, int *changed);
/* Days left before a certificate expires under which its log line is a warning. */
#define BL_TLS_EXPIRY_WARN_DAYS 21
/* Logs the certificate ctx presents (tls_certificate): its names, its notAfter
 * and the days left; a warning within BL_TLS_EXPIRY_WARN_DAYS of expiry, an
 * error once expired. */
void bl_tls_ctx_log_cert(const bl_tls_ctx_t *ctx);
/* Logs the first certificate of pem (read from path) as bl_tls_ctx_log_cert
 * does, and returns its notAfter in Unix seconds (0: none readable). */
int64_t bl_tls_pem_log_cert(const char *path, const char *pem);
/* notAfter of the certificate ctx presents, in Unix seconds (0: unreadable). */
int64_t bl_tls_ctx_not_after(const bl_tls_ctx_t *ctx);
/* Replaces the revoked-name list with names[0..n). */
int bl_tls_ctx_set_revoked(bl_tls_ctx_t *ctx, const char *const *names, size_t n);
/* 1 if name is on the revoked list. */
int bl_tls_ctx_is_revoked(const bl_tls_ctx_t *ctx, const char *name);

/* Connection callbacks. Every connection gets at most one on_connect (after
 * the handshake and all peer checks) and exactly one on_close; after on_close
 * returns the connection must not be used (its memory is freed later by the
 * loop). on_data receives decrypted bytes, valid during the call. on_drain
 * (optional) runs when the write queue falls back under half the limit after
 * a write was refused or the queue passed half the limit. */
typedef struct {
    void (*on_connect)(bl_tls_conn_t *c, const char *peer_name);
    void (*on_data)(bl_tls_conn_t *c, const uint8_t *p, size_t n);
    void (*on_close)(bl_tls_conn_t *c, const char *reason);
    void (*on_drain)(bl_tls_conn_t *c);
} bl_tls_cb_t;

/* Listens on host:port (numeric IPv4 or IPv6). Each accepted connection gets
 * cb and data as its user data. Errors: BL_EIO (bind/listen, logged).
 *
 * Before the handshake completes a connection is bounded: the whole
 * handshake must end within handshake_timeout_ms of the accept and within
 * max_handshake_bytes; at most max_handshakes_per_addr are in their
 * handshake from one client address (more are closed at once); when
 * max_handshakes are, a newcomer takes the place of the oldest handshake
 * of an address holding more of them than the newcomer's would, or, when
 * its address completed a handshake before (a mirror's), of the oldest
 * handshake from an address that never did; otherwise it is closed at
 * once. When the process runs out of descriptors
 * (EMFILE, ENFILE) the listener gives up a spare descriptor to accept and
 * close the waiting connections, then pauses accepting (100 ms, doubling
 * to 2 s) while the loop runs on, and resumes by itself. Every connection
 * closed before its handshake completes is counted by reason
 * (bl_tls_server_refusals); refusals at accept are logged as tls_refused. */
int bl_tls_listen(uv_loop_t *loop, bl_tls_ctx_t *ctx, const char *host, int port,
                  const bl_tls_cb_t *cb, void *data, bl_tls_server_t **out);
/* Port actually bound (useful with port 0). */
int bl_tls_server_port(const bl_tls_server_t *s);
/* Number of live connections. */
size_t bl_tls_server_nconn(const bl_tls_server_t *s);
/* Why connections were closed before their handshake completed. */
typedef enum {
    BL_TLS_REFUSED_TIMEOUT,   /* "handshake_timeout" */
    BL_TLS_REFUSED_NO_CERT,   /* "no_certificate" */
    BL_TLS_REFUSED_BAD_CERT,  /* "bad_certificate": unknown CA, expired, not pinned */
    BL_TLS_REFUSED_REVOKED,   /* "revoked" */
    BL_TLS_REFUSED_NOT_TLS,   /* "not_tls": not TLS, TLS below 1.3, nothing in common */
    BL_TLS_REFUSED_TOO_LARGE, /* "handshake_too_large" */
    BL_TLS_REFUSED_FULL,      /* "too_many_handshakes": closed at accept */
    BL_TLS_REFUSED_EVICTED,   /* "evicted": made room for a newcomer from another address */
    BL_TLS_REFUSED_PER_ADDR,  /* "per_address_limit" */
    BL_TLS_REFUSED_FD,        /* "fd_exhausted": out of descriptors, accepted and closed */
    BL_TLS_REFUSED_PEER,      /* "closed_by_peer": EOF or reset during the handshake */
    BL_TLS_REFUSED_N
} bl_tls_refusal_t;
const char *bl_tls_refusal_name(int r);
/* Copies the counts since the listener started into out[0..BL_TLS_REFUSED_N). */
void bl_tls_server_refusals(const bl_tls_server_t *s, uint64_t *out);
/* Connections in their handshake now. */
size_t bl_tls_server_nhandshakes(const bl_tls_server_t *s);
/* The bound on handshakes in force (after the descriptor budget). */
size_t bl_tls_server_max_handshakes(const bl_tls_server_t *s);

/* Closes every live connection whose peer name is revoked in the context. */
void bl_tls_server_kick_revoked(bl_tls_server_t *s);
/* Stops listening and closes every connection (their on_close runs); frees the
 * server once libuv has closed its handles. NULL is a no-op. */
void bl_tls_server_close(bl_tls_server_t *s);

/* Connects to host:port (numeric) and verifies that the server certificate
 * names server_name. *out is valid until on_close; connect failures are
 * reported through on_close, never synchronously after *out is set. */
int bl_tls_connect(uv_loop_t *loop, bl_tls_ctx_t *ctx, const char *host, int port,
                   const char *server_name, const bl_tls_cb_t *cb, void *data, bl_tls_conn_t **out);

/* Queues n plaintext bytes. Before the handshake completes they wait in the
 * connection. Refuses with BL_ETOOBIG (nothing queued) when the queue would
 * pass the limit, BL_ESTATE when the connection is closing. */
int bl_tls_write(bl_tls_conn_t *c, const void *p, size_t n);
/* Bytes accepted but not yet handed to the kernel (ciphertext + pending plaintext). */
size_t bl_tls_queued(const bl_tls_conn_t *c);
size_t bl_tls_max_queue(const bl_tls_conn_t *c);
/* Starts closing: sends close_notify, flushes briefly, then closes. on_close
 * runs once, from this call, with reason. Safe to call repeatedly and from
 * inside callbacks. */
void bl_tls_close(bl_tls_conn_t *c, const char *reason);

/* Stops (on = 0) or resumes reading from the peer: a receiver that cannot keep
 * up lets TCP push back on the sender instead of buffering. */
void bl_tls_set_reading(bl_tls_conn_t *c, int on);

/* notAfter of the peer's certificate in Unix seconds, once connected (0 before). */
int64_t bl_tls_peer_not_after(const bl_tls_conn_t *c);

void *bl_tls_conn_data(const bl_tls_conn_t *c);
void bl_tls_conn_set_data(bl_tls_conn_t *c, void *data);
/* Verified peer name (certificate CN), "" before on_connect. */
const char *bl_tls_peer_name(const bl_tls_conn_t *c);

/* The common name of the first certificate in the PEM file at path, the name a peer knows
 * this side by: 0, or BL_EIO / BL_EKEY when the file cannot be read or holds no certificate. */
int bl_tls_cert_file_name(const char *path, char *cn, size_t n);
/* Numeric peer address "ip:port", "" if unknown. */
const char *bl_tls_peer_addr(const bl_tls_conn_t *c);
int bl_tls_is_connected(const bl_tls_conn_t *c);

#endif

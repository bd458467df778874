/* SPDX-License-Identifier: MIT */
/* libmicrohttpd under bounds: connection limits with eviction, a whole-request deadline,
 * logged and counted refusals. */
#include "http_guard.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "conn_limit.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define SWEEP_MS       100
#define MAX_OPTS       24
#define ENTRY(o, v, p) ((struct MHD_OptionItem){(o), (intptr_t)(v), (p)})

/* One open connection (its socket context). */
typedef struct track {
    struct track *prev, *next; /* oldest first */
    struct bl_http_guard *g;   /* the guard it belongs to */
    int fd;
    bl_peer_t peer;
    uint64_t deadline_ms; /* monotonic */
    int busy;             /* a request reached the handler and is not answered yet */
    int cut;              /* shut down (deadline, eviction): no longer counted */
    int refused;          /* its request was refused before the handler saw it */
    int query_cut;        /* its query was refused before libmicrohttpd parsed it */
    const char *uri;      /* its request's target as it arrived (on_uri), and its length */
    size_t uri_len;
    /* An answer is going out and libmicrohttpd's idle timeout is off for it:
     * the sweeper closes the connection when the peer acknowledges nothing
     * of it (TCP bytes acked) for idle_timeout_s instead. */
    int sending;
    uint64_t acked;    /* the peer's acknowledged bytes when last seen moving */
    uint64_t acked_ms; /* when they last moved (monotonic) */
} track_t;

struct bl_http_guard {
    bl_http_guard_conf_t c;
    struct MHD_Daemon *d;
    MHD_AccessHandlerCallback h;
    void *h_cls;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t sweeper;
    int sweeping, stop;
    track_t *head, *tail;
    unsigned live;             /* tracked and not cut */
    bl_peer_counts_t per_addr; /* of the live ones */
    _Atomic uint64_t refused[BL_HTTP_REFUSED_N];
    bl_metrics_series_t *refused_s[BL_HTTP_REFUSED_N];
    bl_metrics_series_t *open_s;
    struct MHD_OptionItem opts[MAX_OPTS];
    int tls;
    unsigned max_args; /* query arguments a request may have */
    /* The server's own URI callback (MHD_OPTION_URI_LOG_CALLBACK in extra), called from ours. */
    void *(*uri_cb)(void *cls, const char *uri, struct MHD_Connection *conn);
    void *uri_cls;
};

static const char *const refusal_names[BL_HTTP_REFUSED_N] = {
    "address_limit", "too_many", "evicted", "deadline", "too_large", "unauthorized"};

const char *bl_http_refusal_name(bl_http_refusal_t r)
{
    return r < BL_HTTP_REFUSED_N ? refusal_names[r] : "other";
}

static uint64_t mono_ms(void)
{
    return bl_mono_ns() / 1000000;
}

static void count(bl_http_guard_t *g, bl_http_refusal_t why)
{
    atomic_fetch_add(&g->refused[why], 1);
    bl_metrics_inc(g->refused_s[why]);
}

void bl_http_guard_refused(bl_http_guard_t *g, bl_http_refusal_t why, const char *detail)
{
    if (!g || why >= BL_HTTP_REFUSED_N)
        return;
    count(g, why);
    BL_WARN("http_refused", "listener=%s reason=%s%s%s", g->c.listener, refusal_names[why],
            detail && *detail ? " " : "", detail ? detail : "");
}

uint64_t bl_http_guard_count(const bl_http_guard_t *g, bl_http_refusal_t why)
{
    return g && why < BL_HTTP_REFUSED_N ? atomic_load(&g->refused[why]) : 0;
}

/* Shuts t down (lock held): libmicrohttpd sees the end of the stream and
 * closes the connection. It no longer counts against any limit. */
static void drop(bl_http_guard_t *g, track_t *t)
{
    t->cut = 1;
    g->live--;
    bl_peer_counts_dec(&g->per_addr, &t->peer);
    shutdown(t->fd, SHUT_RDWR);
}

/* drop(), counted and logged as a refusal for why. */
static void cut(bl_http_guard_t *g, track_t *t, bl_http_refusal_t why)
{
    drop(g, t);
    count(g, why);
    char a[64];
    BL_WARN("http_refused", "listener=%s reason=%s addr=%s", g->c.listener, refusal_names[why],
            bl_peer_format(&t->peer, a, sizeof a));
}

/* At the limit: the oldest connection from the address that holds the
 * most connections, among those without a request in their handler (idle,
 * or still sending the header) if there are any, else among all (a body
 * still arriving, or an answer going out). Lock held; NULL if none. */
static track_t *victim(bl_http_guard_t *g)
{
    track_t *v = NULL;
    unsigned most = 0;
    for (int busy = 0; busy < 2 && !v; busy++) {
        for (track_t *t = g->head; t; t = t->next) {
            if (t->cut || t->busy > busy || t->fd < 0)
                continue;
            unsigned n = bl_peer_counts_get(&g->per_addr, &t->peer);
            if (n > most) {
                most = n;
                v = t;
            }
        }
    }
    return v;
}

/* Accept policy: at most max_per_addr connections from one address (but an
 * exempt one); at max_conns a newcomer takes the place of the connection
 * victim() picks.
 * Counts are of connections already started, so two threads accepting at
 * the same moment can overshoot by one each; the bound stays a bound. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    bl_http_guard_t *g = cls;
    (void)addrlen;
    bl_peer_t p;
    bl_peer_from_sockaddr(&p, addr);
    int why = -1;
    int exempt = g->c.exempt && g->c.exempt(g->c.exempt_cls, addr);
    pthread_mutex_lock(&g->mu);
    unsigned n = bl_peer_counts_get(&g->per_addr, &p);
    if (n >= g->c.max_per_addr && !exempt) {
        why = BL_HTTP_REFUSED_ADDR;
    } else if (g->live >= g->c.max_conns) {
        track_t *v = victim(g);
        if (v)
            cut(g, v, BL_HTTP_REFUSED_EVICTED);
        else
            why = BL_HTTP_REFUSED_FULL;
    }
    pthread_mutex_unlock(&g->mu);
    if (why < 0)
        return MHD_YES;
    char a[64], detail[128];
    snprintf(detail, sizeof detail, "addr=%s open=%u", bl_peer_format(&p, a, sizeof a), n);
    bl_http_guard_refused(g, why, detail);
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    bl_http_guard_t *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        track_t *t = calloc(1, sizeof *t);
        if (!t)
            return; /* untracked: no deadline, and it does not count for its address */
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        t->g = g;
        t->fd = fd ? fd->connect_fd : -1;
        bl_peer_from_sockaddr(&t->peer, ad ? ad->client_addr : NULL);
        t->deadline_ms = mono_ms() + g->c.request_timeout_ms;
        pthread_mutex_lock(&g->mu);
        t->prev = g->tail;
        if (g->tail)
            g->tail->next = t;
        else
            g->head = t;
        g->tail = t;
        g->live++;
        if (bl_peer_counts_inc(&g->per_addr, &t->peer))
            t->fd = -1; /* no room to count it (cannot happen within the slack): never cut */
        pthread_mutex_unlock(&g->mu);
        *socket_context = t;
        bl_metrics_gauge_add(g->open_s, 1);
        return;
    }
    track_t *t = *socket_context;
    if (!t)
        return;
    /* libmicrohttpd closes the socket after this returns: the sweeper and
     * the eviction, which shut sockets down under the same lock, never
     * touch a descriptor number that was reused. */
    pthread_mutex_lock(&g->mu);
    if (t->prev)
        t->prev->next = t->next;
    else
        g->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        g->tail = t->prev;
    if (!t->cut) {
        g->live--;
        if (t->fd >= 0)
            bl_peer_counts_dec(&g->per_addr, &t->peer);
    }
    pthread_mutex_unlock(&g->mu);
    *socket_context = NULL;
    free(t);
    bl_metrics_gauge_add(g->open_s, -1);
}

static track_t *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

typedef struct {
    const char *first; /* the first Content-Length value */
    int differ;        /* another one differs from it */
    unsigned hosts;    /* Host fields */
    const char *host;  /* the first one's value */
    int coded;         /* a Transfer-Encoding field */
    int chunked;       /* the last coding named so far is chunked */
    int unknown;       /* a coding other than chunked */
    int twice;         /* chunked before another coding */
    int plain;         /* one Transfer-Encoding field, and its value is "chunked" */
    int bad_name;      /* a field name that is not a token (RFC 9110 5.1) */
    int bad_value;     /* a field value with a control character other than HTAB */
    int folded;        /* a field continued on the next line (obs-fold) */
    size_t limit;      /* the connection's memory limit: no header is longer */
} fields_t;

/* libmicrohttpd before 0.9.76 parses a request in place in its buffer: the
 * target, a NUL where the space after it was, the version; each field's
 * name, a NUL where its colon was, whitespace, the value. Two of its flaws
 * show only as breaks in that layout, and the guard looks for them there
 * (later versions have neither):
 *  - it joins an obs-fold line (one that starts with whitespace) to the
 *    previous field's name, not its value: "X-A: 1" then " B" reads as the
 *    field "X-AB: 1", which a proxy in front reads as "X-A: 1 B" (RFC 9112
 *    5.2). The joined name is a copy elsewhere in memory;
 *  - a NUL byte in the target ends the path the handler sees:
 *    "/v1/listings/192.0.2.50<NUL>x" names 192.0.2.50 (as "%00" would,
 *    which the master refuses). The target then ends before the version. */
static int in_place;

/* Whether the field at key, value is laid out as libmicrohttpd parses a
 * line in place: the name, its colon (now its end), whitespace, the value. */
static int parsed_in_place(const char *key, const char *value, size_t limit)
{
    const char *p = key + strlen(key) + 1;
    if ((uintptr_t)value < (uintptr_t)p || (uintptr_t)value - (uintptr_t)p > limit)
        return 0;
    while (p < value && (*p == ' ' || *p == '\t'))
        p++;
    return p == value;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_tchar(int c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

const char *bl_http_list_next(const char **s, size_t *len)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    const char *e = p;
    while (*e && *e != ',')
        e++;
    size_t n = (size_t)(e - p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    *s = e;
    *len = n;
    return n ? p : NULL;
}

/* Adds the codings of one Transfer-Encoding field value to what f knows. */
static void codings_seen(fields_t *f, const char *v)
{
    f->coded = 1;
    const char *c;
    size_t n;
    while ((c = bl_http_list_next(&v, &n))) {
        if (f->chunked)
            f->twice = 1;
        f->chunked = n == 7 && !strncasecmp(c, "chunked", 7);
        if (!f->chunked)
            f->unknown = 1;
    }
}

static enum MHD_Result field_seen(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    fields_t *f = cls;
    (void)kind;
    if (!value)
        value = "";
    const char *k = key;
    while (is_tchar(*k))
        k++;
    if (k == key || *k)
        f->bad_name = 1;
    for (const unsigned char *v = (const unsigned char *)value; *v; v++)
        if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
            f->bad_value = 1;
    if (in_place && !parsed_in_place(key, value, f->limit))
        f->folded = 1;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->plain = !f->coded && !strcasecmp(value, "chunked");
        codings_seen(f, value);
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) {
        if (!f->hosts++)
            f->host = value;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (!f->first)
            f->first = value;
        else if (strcmp(f->first, value))
            f->differ = 1;
    }
    return MHD_YES;
}

static int is_hex(int c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

/* RFC 3986 unreserved and sub-delims: what a reg-name holds besides pct-encoded. */
static int is_host_char(int c)
{
    return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=", c));
}

/* Whether v is a valid Host field value (RFC 9110 7.2): uri-host [ ":" port ],
 * uri-host an IP-literal in brackets or a reg-name (empty allowed: a target
 * without authority). */
static int host_valid(const char *v)
{
    const char *p = v;
    if (*p == '[') {
        for (p++; is_host_char(*p) || *p == ':'; p++)
            ;
        if (*p != ']' || p == v + 1)
            return 0;
        p++;
    } else {
        while (*p && *p != ':') {
            if (*p == '%' && is_hex(p[1]) && is_hex(p[2]))
                p += 3;
            else if (is_host_char(*p))
                p++;
            else
                return 0;
        }
    }
    if (*p == ':')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    return *p == 0;
}

/* Why the request's header is refused before the handler sees it: 0, or
 * the status, with *why its text. Each leaves the end of the request
 * unknown or its meaning ambiguous (a proxy in front may read it another
 * way), so the connection closes after the answer, its body unread:
 *  - RFC 9112 3.2: a NUL byte in the target (not a URI's): 400;
 *  - RFC 9110 5.1, RFC 9112 5.1: a field name that is not a token
 *    (whitespace before the colon, or at the start of the first field);
 *    RFC 9112 5.2: a folded line; RFC 9110 5.5, RFC 9112 2.2: a field
 *    value holding a bare CR or another control character: 400;
 *  - RFC 9112 3.2: more than one Host field, an invalid one, or an
 *    HTTP/1.1 request without one: 400;
 *  - RFC 9112 6.3: Content-Length fields that disagree (libmicrohttpd
 *    reads the first one): 400;
 *  - RFC 9112 6.1, 6.3: a Transfer-Encoding whose last coding is not
 *    chunked, or that names chunked before another: 400; one in an
 *    HTTP/1.0 request, or next to a Content-Length: 400 (faulty framing,
 *    or an attempt to smuggle a request past a proxy that reads the
 *    other); one with a coding other than chunked, which no listener
 *    decodes, or with chunked in another form than the one field
 *    "chunked" (libmicrohttpd reads no other): 501. libmicrohttpd would
 *    read such a body until the client closes (the request then held
 *    until its deadline), and keep the connection open after a chunked
 *    body that had a Content-Length too. */
static unsigned header_refusal(const bl_http_guard_t *g, struct MHD_Connection *conn,
                               const track_t *t, const char *url, const char *version,
                               const char **why)
{
    fields_t f = {.limit = g->c.memory_limit};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, field_seen, &f);
    int v10 = !strcmp(version, MHD_HTTP_VERSION_1_0);
    if (in_place && t->uri == url && url + t->uri_len + 1 != version)
        *why = "NUL byte in the request target\n";
    else if (f.bad_name)
        *why = "malformed field name\n";
    else if (f.folded)
        *why = "folded field line (obs-fold)\n";
    else if (f.bad_value)
        *why = "control character in a field value\n";
    else if (f.hosts > 1)
        *why = "more than one Host field\n";
    else if (f.hosts == 1 && !host_valid(f.host))
        *why = "invalid Host field\n";
    else if (!f.hosts && !v10)
        *why = "no Host field\n";
    else if (f.differ)
        *why = "conflicting Content-Length fields\n";
    else if (f.coded && (!f.chunked || f.twice))
        *why = "chunked is not the last transfer coding, or not the only chunked\n";
    else if (f.coded && v10)
        *why = "Transfer-Encoding in an HTTP/1.0 request\n";
    else if (f.coded && f.first)
        *why = "both Transfer-Encoding and Content-Length\n";
    else if (f.coded && (f.unknown || !f.plain)) {
        *why = "transfer coding not implemented\n";
        return MHD_HTTP_NOT_IMPLEMENTED;
    } else
        return 0;
    return MHD_HTTP_BAD_REQUEST;
}

/* A refusal before the handler: the connection closes after it, its body unread. */
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* libmicrohttpd 0.9.75 keeps each query argument in a record of the
 * connection's memory (memory_limit): one with more arguments than fit
 * leaves it with no memory to send its 431, and with epoll the connection
 * hangs without an answer until idle_timeout (without, it closes without
 * one). A query of a few kB is enough. The arguments are counted when the
 * URI arrives, before libmicrohttpd parses them: over max_args (a quarter
 * of what the memory holds), the request is answered 414 on the socket
 * itself, where nothing else is being written (a TLS listener's is only
 * shut down: its stream cannot take bytes from outside the session), and
 * closed. */
#define ARG_RECORD 256 /* bytes of memory_limit per query argument allowed */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    bl_http_guard_t *g = cls;
    const char *q = strchr(uri, '?');
    unsigned args = 0;
    for (; q && *q && args <= g->max_args; q++)
        args += *q == '?' || *q == '&';
    track_t *t = track_of(conn);
    if (t) {
        t->uri = uri;
        t->uri_len = strlen(uri);
    }
    if (args > g->max_args && t && t->fd >= 0) {
        static const char answer[] = "HTTP/1.1 414 URI Too Long\r\n"
                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                     "Cache-Control: no-store\r\n"
                                     "Connection: close\r\n"
                                     "Content-Length: 25\r\n\r\n"
                                     "too many query arguments\n";
        pthread_mutex_lock(&g->mu);
        t->query_cut = 1;
        if (!t->cut) {
            if (!g->tls)
                (void)!send(t->fd, answer, sizeof answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(t->fd, g->tls ? SHUT_RDWR : SHUT_WR);
        }
        pthread_mutex_unlock(&g->mu);
        char detail[48];
        snprintf(detail, sizeof detail, "query_args>%u", g->max_args);
        bl_http_guard_refused(g, BL_HTTP_REFUSED_TOO_LARGE, detail);
    }
    return g->uri_cb ? g->uri_cb(g->uri_cls, uri, conn) : NULL;
}

/* The path of an absolute-form target ("http://host/v1/health": "/v1/health",
 * "/" when it has none), else url. RFC 9112 3.2.2: a server must accept the
 * absolute-form, which a client sends to a proxy (and a proxy may pass on);
 * libmicrohttpd hands it to the handler whole, which knows no such path. */
static const char *origin_path(const char *url)
{
    size_t n = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!n)
        return url;
    const char *path = strchr(url + n, '/');
    return path ? path : "/";
}

/* The server's handler, behind a note that the connection has a request in hand. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    bl_http_guard_t *g = cls;
    track_t *t = track_of(conn);
    if (t && t->query_cut) /* answered by on_uri */
        return MHD_NO;
    if (t && !t->busy) { /* the request's first call: its headers */
        const char *why = NULL;
        unsigned status = header_refusal(g, conn, t, url, version, &why);
        pthread_mutex_lock(&g->mu);
        t->busy = 1;
        t->refused = status != 0;
        pthread_mutex_unlock(&g->mu);
        if (status)
            return refuse(conn, status, why);
    }
    if (t && t->refused) { /* what follows of its body is not read */
        *upload_size = 0;
        return MHD_YES;
    }
    return g->h(g->h_cls, conn, origin_path(url), method, version, upload, upload_size, con_cls);
}

void bl_http_guard_extend(struct MHD_Connection *conn, uint64_t ms)
{
    track_t *t = track_of(conn);
    if (!t)
        return;
    pthread_mutex_lock(&t->g->mu);
    t->deadline_ms = mono_ms() + ms + t->g->c.request_timeout_ms;
    pthread_mutex_unlock(&t->g->mu);
}

/* The bytes of fd's stream the peer has acknowledged; 0 and -1 when fd is
 * not a TCP socket. */
static int bytes_acked(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked) {
        *out = 0;
        return -1;
    }
    *out = ti.tcpi_bytes_acked;
    return 0;
}

/* libmicrohttpd's idle timeout counts only its own writes: with a large
 * send buffer that a steady but slow reader drains, the socket may not
 * become writable again within idle_timeout_s, and the answer would be cut
 * however steadily it was read. While the answer goes out, the timeout is
 * the peer's progress instead (the sweeper's check). Called from
 * libmicrohttpd's thread of conn (the handler), as the option requires. */
void bl_http_guard_answering(struct MHD_Connection *conn)
{
    track_t *t = track_of(conn);
    if (!t)
        return;
    uint64_t acked;
    int tcp = bytes_acked(t->fd, &acked) == 0;
    pthread_mutex_lock(&t->g->mu);
    t->deadline_ms = UINT64_MAX;
    int untimed = tcp && !t->cut && !t->sending;
    if (untimed) {
        t->sending = 1;
        t->acked = acked;
        t->acked_ms = mono_ms();
    }
    pthread_mutex_unlock(&t->g->mu);
    if (untimed)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
}

/* An answer went out: the next request on this connection gets a fresh deadline. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    bl_http_guard_t *g = cls;
    track_t *t = track_of(conn);
    if (t) {
        pthread_mutex_lock(&g->mu);
        t->deadline_ms = mono_ms() + g->c.request_timeout_ms;
        t->busy = 0;
        int sending = t->sending;
        t->sending = 0;
        pthread_mutex_unlock(&g->mu);
        /* The answer is out: idle again, under libmicrohttpd's timeout (a
         * connection being closed needs none). */
        if (sending && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                      (unsigned)g->c.idle_timeout_s);
    }
    if (g->c.completed)
        g->c.completed(g->c.completed_cls, conn, con_cls, toe);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    bl_http_guard_t *g = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = 0;
    BL_WARN("http_server", "listener=%s msg=%s", g->c.listener, bl_log_q(msg));
}

/* Shuts down every connection past its deadline, ten times a second. */
static void *sweeper(void *arg)
{
    bl_http_guard_t *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        uint64_t now = mono_ms();
        for (track_t *t = g->head; t; t = t->next) {
            if (t->cut || t->fd < 0)
                continue;
            if (now >= t->deadline_ms) {
                cut(g, t, BL_HTTP_REFUSED_DEADLINE);
                continue;
            }
            uint64_t acked;
            if (!t->sending || bytes_acked(t->fd, &acked))
                continue;
            if (acked != t->acked) {
                t->acked = acked;
                t->acked_ms = now;
            } else if (now - t->acked_ms >= (uint64_t)g->c.idle_timeout_s * 1000) {
                drop(g, t); /* as libmicrohttpd's idle timeout would: not a refusal */
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void guard_free(bl_http_guard_t *g)
{
    bl_peer_counts_free(&g->per_addr);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

int bl_http_guard_start(const bl_http_guard_conf_t *c, unsigned flags, const struct sockaddr *sa,
                        MHD_AccessHandlerCallback h, void *cls, const struct MHD_OptionItem *extra,
                        bl_http_guard_t **out)
{
    *out = NULL;
    bl_http_guard_t *g = calloc(1, sizeof *g);
    if (!g)
        return BL_ENOMEM;
    g->c = *c;
    g->h = h;
    g->h_cls = cls;
    if (!g->c.listener)
        g->c.listener = "http";
    /* Three listeners share the process's descriptors: none may take more than a quarter. */
    g->c.max_conns = bl_fd_budget(c->max_conns, BL_HTTP_MAX_CONNS, 4);
    if (!g->c.max_per_addr)
        g->c.max_per_addr = BL_HTTP_MAX_PER_ADDR;
    if (!g->c.idle_timeout_s)
        g->c.idle_timeout_s = BL_HTTP_IDLE_TIMEOUT_S;
    if (!g->c.request_timeout_ms)
        g->c.request_timeout_ms = BL_HTTP_REQUEST_TIMEOUT;
    if (!g->c.memory_limit)
        g->c.memory_limit = BL_HTTP_MEMORY_LIMIT;
    g->max_args = (unsigned)(g->c.memory_limit / ARG_RECORD);
    g->tls = (flags & MHD_USE_TLS) != 0;
    const char *v = MHD_get_version();
    in_place = v && !strncmp(v, "0.9.", 4) && atoi(v + 4) < 76;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    /* Room in libmicrohttpd's own limit for connections shut down and not yet closed. */
    unsigned slack = g->c.max_conns / 8 > 2 ? g->c.max_conns / 8 : 2;
    /* Each worker thread may overshoot by one accept; cut ones are not counted. */
    if (bl_peer_counts_init(&g->per_addr, g->c.max_conns + slack + 64)) {
        guard_free(g);
        return BL_ENOMEM;
    }
    for (int i = 0; i < BL_HTTP_REFUSED_N; i++)
        g->refused_s[i] = bl_metrics_with(c->refused, g->c.listener, refusal_names[i]);
    g->open_s = bl_metrics_with(c->connections, g->c.listener);
    size_t n = 0;
    /* libmicrohttpd wants its logger first, or it logs the options before it to stderr. */
    g->opts[n++] = ENTRY(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, g);
    g->opts[n++] = ENTRY(MHD_OPTION_SOCK_ADDR, 0, (void *)sa);
    /* Ours is max_conns (on_accept); libmicrohttpd's leaves room for
     * connections shut down and not yet closed. */
    g->opts[n++] = ENTRY(MHD_OPTION_CONNECTION_LIMIT, g->c.max_conns + slack, NULL);
    g->opts[n++] = ENTRY(MHD_OPTION_CONNECTION_TIMEOUT, g->c.idle_timeout_s, NULL);
    g->opts[n++] = ENTRY(MHD_OPTION_CONNECTION_MEMORY_LIMIT, g->c.memory_limit, NULL);
    g->opts[n++] = ENTRY(MHD_OPTION_NOTIFY_CONNECTION, on_connection, g);
    g->opts[n++] = ENTRY(MHD_OPTION_NOTIFY_COMPLETED, on_completed, g);
    g->opts[n++] = ENTRY(MHD_OPTION_URI_LOG_CALLBACK, on_uri, g);
    for (size_t i = 0; extra && extra[i].option != MHD_OPTION_END && n < MAX_OPTS - 1; i++) {
        if (extra[i].option == MHD_OPTION_URI_LOG_CALLBACK) {
            g->uri_cb = (void *(*)(void *, const char *, struct MHD_Connection *))extra[i].value;
            g->uri_cls = extra[i].ptr_value;
        } else {
            g->opts[n++] = extra[i];
        }
    }
    g->opts[n] = ENTRY(MHD_OPTION_END, 0, NULL);
    errno = 0;
    g->d = MHD_start_daemon(flags | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0, on_accept, g, on_request, g,
                            MHD_OPTION_ARRAY, g->opts, MHD_OPTION_END);
    if (!g->d) {
        int e = errno;
        guard_free(g);
        errno = e;
        return BL_EIO;
    }
    if (pthread_create(&g->sweeper, NULL, sweeper, g) == 0)
        g->sweeping = 1;
    else
        BL_ERR("http_guard", "listener=%s error=%s", g->c.listener,
               bl_log_q("cannot start the deadline thread: requests have no deadline"));
    *out = g;
    return 0;
}

struct MHD_Daemon *bl_http_guard_daemon(const bl_http_guard_t *g)
{
    return g->d;
}

unsigned bl_http_guard_max_conns(const bl_http_guard_t *g)
{
    return g->c.max_conns;
}

void bl_http_guard_stop(bl_http_guard_t *g)
{
    if (!g)
        return;
    if (g->sweeping) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->sweeper, NULL);
    }
    MHD_stop_daemon(g->d);
    guard_free(g);
}

int bl_http_content_length(struct MHD_Connection *c, uint64_t *len)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return -1;
    uint64_t v = 0;
    for (const char *p = cl; *p >= '0' && *p <= '9'; p++)
        v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (uint64_t)(*p - '0');
    *len = v;
    return 0;
}

void bl_http_req_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    bl_http_req_t *rq = *con_cls;
    if (rq) {
        if (rq->done)
            rq->done(rq->done_arg);
        bl_buf_close(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

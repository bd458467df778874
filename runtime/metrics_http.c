/* SPDX-License-Identifier: MIT */
/* /metrics endpoint: libmicrohttpd in its own polling thread renders the registry per request. */
#include "metrics_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"
#include "err.h"
#include "http_guard.h"
#include "log.h"

struct bl_metrics_http {
    bl_http_guard_t *g;
    bl_metrics_t *reg;
    bl_metrics_health_fn health;
    void *arg;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) /* every page is read with GET or HEAD */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return reply(c, code, "text/plain; charset=utf-8", (char *)text, strlen(text),
                 MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    bl_metrics_http_t *h = cls;
    (void)version;
    (void)upload;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!*state) { /* first call: headers only; answer on the second */
        *state = h;
        if (!get) /* before a byte of any body is read */
            return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        uint64_t declared;
        if ((bl_http_content_length(c, &declared) == 0 && declared > 0) ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
            /* No endpoint here takes a body, declared or chunked: refused before a byte
             * of it is read. */
            bl_http_guard_refused(h->g, BL_HTTP_REFUSED_TOO_LARGE, "");
            return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "no request body is accepted\n");
        }
        return MHD_YES;
    }
    if (*upload_size) /* refused at the first call: not read */
        return MHD_NO;
    if (!strcmp(url, "/metrics")) {
        char *text;
        size_t len;
        if (bl_metrics_render(h->reg, &text, &len) < 0)
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, BL_METRICS_CONTENT_TYPE, text, len, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/healthz")) {
        char msg[256] = "unhealthy";
        if (h->health && h->health(h->arg, msg, sizeof msg - 1) != 0) {
            msg[sizeof msg - 1] = 0;
            size_t n = strlen(msg);
            char *body = malloc(n + 2);
            if (!body)
                return MHD_NO;
            memcpy(body, msg, n);
            memcpy(body + n, "\n", 2);
            return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body, n + 1,
                         MHD_RESPMEM_MUST_FREE);
        }
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    }
    if (!strcmp(url, "/"))
        return reply_text(c, MHD_HTTP_OK, "blsync: see /metrics and /healthz\n");
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

int bl_metrics_http_start(bl_metrics_t *r, const char *listen, bl_metrics_health_fn health,
                          void *arg, bl_metrics_http_t **out)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    const char *why;
    if (bl_cfg_listen(listen, -1, &ss, &slen, &why) < 0) {
        BL_ERR("metrics_listen", "addr=%s problem=%s", bl_log_q(listen ? listen : ""),
               bl_log_q(why));
        return BL_ECONFIG;
    }
    bl_metrics_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return BL_ENOMEM;
    h->reg = r;
    h->health = health;
    h->arg = arg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* A scraper or two and an operator's curl: small bounds, short deadlines. */
    bl_http_guard_conf_t gc = {
        .listener = "metrics",
        .max_conns = 32,
        .max_per_addr = 8,
        .idle_timeout_s = 10,
        .request_timeout_ms = 10000,
        .refused = bl_metrics_find(r, "blsync_http_refused_total"),
        .connections = bl_metrics_find(r, "blsync_http_connections"),
    };
    errno = 0;
    if (bl_http_guard_start(&gc, flags, (struct sockaddr *)&ss, handle, h, NULL, &h->g)) {
        int e = errno;
        char a[BL_CFG_ADDRSTRLEN];
        BL_ERR("metrics_listen", "addr=%s problem=%s",
               bl_cfg_addr_format((struct sockaddr *)&ss, a, sizeof a),
               bl_log_q(e ? strerror(e) : "cannot start HTTP server"));
        free(h);
        errno = e;
        return BL_EIO;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(bl_http_guard_daemon(h->g), MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
}

int bl_metrics_http_port(const bl_metrics_http_t *h)
{
    return h ? h->port : 0;
}

void bl_metrics_http_stop(bl_metrics_http_t *h)
{
    if (!h)
        return;
    bl_http_guard_stop(h->g);
    free(h);
}

/* SPDX-License-Identifier: MIT */
/* The /metrics and /healthz HTTP endpoint (libmicrohttpd, its own thread and listen address). */
#ifndef BL_METRICS_HTTP_H
#define BL_METRICS_HTTP_H

#include <stddef.h>

#include "metrics.h"

typedef struct bl_metrics_http bl_metrics_http_t;

/* Health check for /healthz: returns 0 when healthy, otherwise non-zero
 * and a short reason in msg (n bytes). Called from the HTTP thread. */
typedef int (*bl_metrics_health_fn)(void *arg, char *msg, size_t n);

/* Serves GET/HEAD /metrics (the exposition of r) and /healthz (200 "ok", or
 * 503 and the reason health gives; always 200 if health is NULL) on listen
 * ("127.0.0.1:9154", "[::1]:9154"; port 0 picks a free port). Everything
 * else is 404, other methods 405. r must outlive the server. Returns 0 and
 * the server in *out, BL_ECONFIG for a bad address, or BL_EIO if it cannot
 * listen (errno kept). */
int bl_metrics_http_start(bl_metrics_t *r, const char *listen, bl_metrics_health_fn health,
                          void *arg, bl_metrics_http_t **out);
/* The port actually bound (useful with port 0). */
int bl_metrics_http_port(const bl_metrics_http_t *h);
/* Stops the thread, closes the socket and frees h (NULL is a no-op). */
void bl_metrics_http_stop(bl_metrics_http_t *h);

#endif

/* SPDX-License-Identifier: MIT */
/* Serves a mirror catalog registry on /metrics until stdin closes (for metrics_http.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_http.h"

static int health(void *arg, char *msg, size_t n)
{
    const char *unhealthy = getenv("BL_TEST_UNHEALTHY");
    (void)arg;
    if (!unhealthy)
        return 0;
    snprintf(msg, n, "%s", unhealthy);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LISTEN\n", argv[0]);
        return 2;
    }
    bl_metrics_t *r = bl_metrics_new();
    bl_metrics_mirror_t m;
    if (!r || bl_metrics_mirror_register(r, &m) < 0)
        return 1;
    bl_metrics_set(bl_metrics_series(m.window, NULL), 14400);
    bl_metrics_set(bl_metrics_with(m.build_info, "test"), 1);
    bl_metrics_series_t *q = bl_metrics_with(m.dns_queries, "udp", "A", "NOERROR");
    bl_metrics_series_t *p = bl_metrics_with(m.delisting_prop, "main");
    bl_metrics_add(q, 3);
    bl_metrics_observe(p, 12.5);
    bl_metrics_http_t *h;
    if (bl_metrics_http_start(r, argv[1], health, NULL, &h) < 0) {
        fprintf(stderr, "cannot serve on %s\n", argv[1]);
        return 1;
    }
    printf("port %d\n", bl_metrics_http_port(h));
    fflush(stdout);
    /* Each line on stdin counts one more query, so the test sees live updates. */
    char line[64];
    while (fgets(line, sizeof line, stdin))
        bl_metrics_inc(q);
    bl_metrics_http_stop(h);
    bl_metrics_free(r);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Prints the exposition of a mirror's or master's catalog with a sample series in every family. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Gives a family one series with sample label values and touches it with
 * every update its type accepts (the others are ignored by type). */
static void touch(bl_metric_t *m, int k)
{
    static const char *const vals[] = {"main", "mirror-1.example.net", "A", "NOERROR", NULL};
    bl_metrics_series_t *s = NULL;
    for (int n = 0; n <= 4 && !s; n++) {
        const char *v[5] = {NULL};
        memcpy(v, vals, (size_t)n * sizeof v[0]);
        s = bl_metrics_series(m, v);
    }
    if (!s) {
        fprintf(stderr, "metrics_dump: family %d has no usable series\n", k);
        exit(1);
    }
    bl_metrics_add(s, (uint64_t)k + 1);
    bl_metrics_set(s, k * 1.5);
    bl_metrics_observe(s, 0.05);
    bl_metrics_observe(s, 3600 + k);
}

int main(int argc, char **argv)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metrics_mirror_t mi;
    bl_metrics_master_t ma;
    bl_metric_t **f;
    size_t n;
    int err;
    if (argc == 2 && !strcmp(argv[1], "mirror")) {
        err = bl_metrics_mirror_register(r, &mi);
        f = (bl_metric_t **)&mi;
        n = sizeof mi / sizeof *f;
    } else if (argc == 2 && !strcmp(argv[1], "master")) {
        err = bl_metrics_master_register(r, &ma);
        f = (bl_metric_t **)&ma;
        n = sizeof ma / sizeof *f;
    } else {
        fprintf(stderr, "usage: %s mirror|master\n", argv[0]);
        return 2;
    }
    if (err < 0) {
        fprintf(stderr, "metrics_dump: register failed: %d\n", err);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        touch(f[i], (int)i);
    char *text;
    if (bl_metrics_render(r, &text, NULL) < 0)
        return 1;
    fputs(text, stdout);
    free(text);
    bl_metrics_free(r);
    return 0;
}

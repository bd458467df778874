/* SPDX-License-Identifier: MIT */
/* Writes a key certificate (the new signing key signed by the old one) for the rotation test. */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "key.h"
#include "obj.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: mkkeycert OLD.key NEW.key FEED OUT\n");
        return 2;
    }
    bl_key_t *old = NULL, *nk = NULL;
    if (bl_key_load(argv[1], &old) || bl_key_load(argv[2], &nk) || !bl_key_is_private(old)) {
        fprintf(stderr, "mkkeycert: unusable key\n");
        return 1;
    }
    bl_buf_t b;
    bl_buf_init(&b);
    int rc = bl_keycert_write(argv[3], nk, bl_now_ms(), 30LL * 86400 * 1000, old, &b);
    if (!rc)
        rc = bl_file_write_atomic(argv[4], b.data, b.len, 0644);
    bl_buf_close(&b);
    bl_key_free(old);
    bl_key_free(nk);
    if (rc)
        fprintf(stderr, "mkkeycert: %s\n", bl_strerror(rc));
    return rc ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/* Writes the seed corpora of the proto fuzz targets (run by hand, output committed):
 * gen_seeds SRC/tests/fuzz/corpus */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "fuzz_key.h"
#include "proto/codec.h"
#include "proto/head.h"
#include "proto/obj.h"
#include "proto/state.h"

static bl_key_t *priv_key(void)
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, bl_fuzz_seed, 32);
    FILE *f = tmpfile();
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    EVP_PKEY_free(pk);
    char path[] = "/tmp/bl_fuzzkey_XXXXXX";
    int fd = mkstemp(path);
    rewind(f);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf, f);
    write(fd, buf, n);
    close(fd);
    fclose(f);
    bl_key_t *k;
    bl_key_load(path, &k);
    unlink(path);
    return k;
}

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char obj_dir[4096], blk_dir[4096];
    snprintf(obj_dir, sizeof obj_dir, "%s/obj", argv[1]);
    snprintf(blk_dir, sizeof blk_dir, "%s/block", argv[1]);
    bl_key_t *k = priv_key();
    const char *keys[] = {"10.0.0.0/8",    "192.0.2.1",     "192.0.2.2",  "203.0.113.0/24",
                          "::ffff:7f00:2", "2001:db8::/32", "2001:db8::1"};
    bl_change_t c[7];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 7; i++) {
        bl_prefix_parse(keys[i], &c[i].e.key);
        c[i].e.a = (uint8_t)(2 + i);
        c[i].e.reason = (uint16_t)i;
        c[i].e.listed_at = 1795000000 + i;
        c[i].e.expires_at = c[i].e.listed_at + 86400;
        c[i].decided_ms = 1795000000000LL + i;
    }
    bl_state_t st;
    bl_state_init(&st, "main");
    bl_state_apply_changes(&st, NULL, 0, c, 7);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.serial = 1;
    h.created_ms = 1795000000000LL;
    h.expires_ms = h.created_ms + 86400000;
    bl_digest_to_bytes(&st.digest, h.digest);
    h.n_entries = 7;
    bl_buf_t b;
    bl_buf_init(&b);
    bl_delta_write(&h, NULL, 0, c, 7, k, &b);
    put(obj_dir, "delta1", b.data, b.len);
    b.len = 0;
    bl_snapshot_write(&h, st.e, st.n, k, &b);
    put(obj_dir, "snapshot1", b.data, b.len);
    bl_hdr_t h2 = h;
    h2.base_serial = 1;
    h2.serial = 2;
    memcpy(h2.base_digest, h.digest, 32);
    bl_state_apply_changes(&st, c + 1, 2, c + 5, 1);
    bl_digest_to_bytes(&st.digest, h2.digest);
    h2.n_entries = st.n;
    b.len = 0;
    bl_delta_write(&h2, c + 1, 2, c + 5, 1, k, &b);
    put(obj_dir, "delta2", b.data, b.len);
    b.len = 0;
    bl_delta_write(&h2, NULL, 0, NULL, 0, k, &b);
    put(obj_dir, "delta_empty", b.data, b.len);
    uint8_t hb[BL_OBJ_PREFIX];
    bl_heartbeat_write("main", 2, h2.digest, h.created_ms, 15000, k, hb);
    put(obj_dir, "heartbeat", hb, sizeof hb);
    b.len = 0;
    bl_keycert_write("main", k, h.created_ms, 1000, k, &b);
    put(obj_dir, "keycert", b.data, b.len);
    /* Heads: one with every kind of record, one with none. */
    char head_dir[4096];
    snprintf(head_dir, sizeof head_dir, "%s/head", argv[1]);
    bl_head_rec_t r[4];
    memset(r, 0, sizeof r);
    r[0].type = BL_OBJ_SNAPSHOT, r[0].serial = 1, r[0].sha256[0] = 1;
    r[1].type = BL_OBJ_DELTA, r[1].base_serial = 1, r[1].serial = 2, r[1].sha256[0] = 2;
    r[2].type = BL_OBJ_DELTA, r[2].base_serial = 2, r[2].serial = 3, r[2].sha256[0] = 3;
    r[3].type = BL_OBJ_KEYCERT, r[3].sha256[0] = 4;
    uint8_t d[BL_DIGEST_SIZE] = {7};
    b.len = 0;
    bl_head_write("main", 3, d, 5, 1, d, r, 4, h.created_ms, 1000, k, &b);
    put(head_dir, "head4", b.data, b.len);
    b.len = 0;
    bl_head_write("main", 3, d, 5, 0, d, NULL, 0, h.created_ms, 1000, k, &b);
    put(head_dir, "head0", b.data, b.len);
    b.len = 0;
    bl_block_encode(c + 1, 2, c, 7, 1795000000000LL, &b);
    put(blk_dir, "mixed", b.data, b.len);
    b.len = 0;
    bl_block_encode(NULL, 0, NULL, 0, 0, &b);
    put(blk_dir, "empty", b.data, b.len);
    b.len = 0;
    bl_block_encode(NULL, 0, c + 4, 3, 0, &b);
    put(blk_dir, "v6", b.data, b.len);
    bl_buf_close(&b);
    bl_state_close(&st);
    bl_key_free(k);
    return 0;
}

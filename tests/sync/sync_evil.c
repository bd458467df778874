/* SPDX-License-Identifier: MIT */
/* A hostile sync server for the refusal tests: answers every HELLO with the objects it is given. */

/*
 * Speaks the real protocol over real mutual TLS, but sends whatever it was
 * told to, in order: FILE as an OBJECT frame, hb:KEYFILE:FEED:SERIAL as a
 * heartbeat signed by KEYFILE (a forged one when the key is not trusted),
 * tamper:FILE with its last payload byte flipped, and
 * reseal:KEYFILE:FILE:BASE:SERIAL with the header's base serial and serial
 * replaced (or kept, for "=") and signed again by KEYFILE, and
 * baddigest:KEYFILE:FILE: the delta re-based on its own result (serial + 1)
 * with a wrong digest after apply, signed by KEYFILE.
 * Prints "sent N" after each HELLO and "ack FEED SERIAL" / "error CODE TEXT"
 * for what the mirror answers.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "frame.h"
#include "key.h"
#include "log.h"
#include "obj.h"
#include "state.h"
#include "tls.h"
#include "util.h"

static char **g_items;
static int g_nitems;
static bl_frame_reader_t g_rd;

static void send_item(bl_tls_conn_t *c, const char *item)
{
    bl_buf_t b;
    bl_buf_init(&b);
    if (!strncmp(item, "hb:", 3)) {
        char key[1024], feed[64];
        unsigned long long serial = 0;
        if (sscanf(item + 3, "%1023[^:]:%63[^:]:%llu", key, feed, &serial) != 3) {
            fprintf(stderr, "bad item %s\n", item);
            exit(2);
        }
        bl_key_t *k;
        if (bl_key_load(key, &k)) {
            fprintf(stderr, "bad key %s\n", key);
            exit(2);
        }
        uint8_t digest[BL_DIGEST_SIZE] = {0}, hb[BL_OBJ_PREFIX];
        bl_heartbeat_write(feed, serial, digest, bl_now_ms(), 60000, k, hb);
        bl_key_free(k);
        bl_frame_put_object(&b, BL_FRAME_HEARTBEAT, hb, sizeof hb);
    } else {
        char key[1024] = "", file[1024], base[32] = "=", serial[32] = "=";
        const char *path = item;
        int tamper = !strncmp(item, "tamper:", 7), reseal = !strncmp(item, "reseal:", 7);
        int baddigest = !strncmp(item, "baddigest:", 10);
        if (tamper)
            path = item + 7;
        if (baddigest) {
            if (sscanf(item + 10, "%1023[^:]:%1023s", key, file) != 2) {
                fprintf(stderr, "bad item %s\n", item);
                exit(2);
            }
            path = file;
            reseal = 2;
        }
        if (reseal == 1) {
            if (sscanf(item + 7, "%1023[^:]:%1023[^:]:%31[^:]:%31s", key, file, base, serial) !=
                4) {
                fprintf(stderr, "bad item %s\n", item);
                exit(2);
            }
            path = file;
        }
        uint8_t *data;
        size_t len;
        if (bl_file_read(path, 1u << 30, &data, &len) || len <= BL_OBJ_PREFIX) {
            fprintf(stderr, "cannot read %s\n", path);
            exit(2);
        }
        if (tamper)
            data[len - 1] ^= 0x01;
        if (reseal) {
            bl_rd_t rd;
            bl_hdr_t h;
            bl_key_t *k;
            bl_rd_init(&rd, data, len);
            if (bl_hdr_decode(&rd, &h) || bl_key_load(key, &k)) {
                fprintf(stderr, "cannot reseal %s\n", path);
                exit(2);
            }
            if (reseal == 2) {
                h.base_serial = h.serial;
                memcpy(h.base_digest, h.digest, BL_DIGEST_SIZE);
                h.serial++;
                memset(h.digest, 0x5a, BL_DIGEST_SIZE);
            }
            if (strcmp(base, "="))
                h.base_serial = strtoull(base, NULL, 10);
            if (strcmp(serial, "="))
                h.serial = strtoull(serial, NULL, 10);
            bl_obj_seal(&h, k, data);
            bl_key_free(k);
        }
        bl_frame_put_object(&b, BL_FRAME_OBJECT, data, len);
        free(data);
    }
    bl_tls_write(c, b.data, b.len);
    bl_buf_close(&b);
}

static void on_data(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    bl_frame_reader_feed(&g_rd, p, n);
    bl_frame_t f;
    while (bl_frame_next(&g_rd, &f) == 1) {
        if (f.type == BL_FRAME_HELLO) {
            for (int i = 0; i < g_nitems; i++)
                send_item(c, g_items[i]);
            printf("sent %d\n", g_nitems);
        } else if (f.type == BL_FRAME_ACK) {
            bl_frame_ack_t a;
            if (!bl_frame_decode_ack(f.payload, f.len, &a))
                printf("ack %s %llu\n", a.feed, (unsigned long long)a.serial);
        } else if (f.type == BL_FRAME_ERROR) {
            bl_frame_error_t e;
            if (!bl_frame_decode_error(f.payload, f.len, &e))
                printf("error %u %s\n", e.code, e.text);
        }
        fflush(stdout);
    }
}

static void on_close(bl_tls_conn_t *c, const char *reason)
{
    (void)c;
    printf("close %s\n", reason);
    fflush(stdout);
    bl_frame_reader_close(&g_rd);
    bl_frame_reader_init(&g_rd, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: sync_evil CERT KEY CA PORT ITEM...\n");
        return 2;
    }
    bl_log_init("sync_evil", BL_LOG_WARN, 0);
    bl_tls_config_t cfg = {.cert_file = argv[1], .key_file = argv[2], .ca_file = argv[3]};
    bl_tls_ctx_t *ctx;
    if (bl_tls_ctx_new_server(&cfg, &ctx))
        return 1;
    g_items = argv + 5;
    g_nitems = argc - 5;
    bl_frame_reader_init(&g_rd, 0);
    uv_loop_t *loop = uv_default_loop();
    bl_tls_cb_t cb = {.on_data = on_data, .on_close = on_close};
    bl_tls_server_t *srv;
    if (bl_tls_listen(loop, ctx, "127.0.0.1", atoi(argv[4]), &cb, NULL, &srv))
        return 1;
    printf("listening %d\n", bl_tls_server_port(srv));
    fflush(stdout);
    uv_signal_t st;
    uv_signal_init(loop, &st);
    uv_signal_start(&st, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    bl_tls_server_close(srv);
    uv_close((uv_handle_t *)&st, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    bl_tls_ctx_free(ctx);
    bl_frame_reader_close(&g_rd);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: the master's strict JSON parser, with a re-serialisation check of what it accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rd.h"

static void emit(bl_buf_t *b, const master_json_t *v)
{
    switch (v->type) {
    case MASTER_JSON_NULL:
        master_json_printf(b, "null");
        break;
    case MASTER_JSON_TRUE:
        master_json_printf(b, "true");
        break;
    case MASTER_JSON_FALSE:
        master_json_printf(b, "false");
        break;
    case MASTER_JSON_NUM:
        master_json_printf(b, "%.17g", v->num);
        break;
    case MASTER_JSON_STR:
        master_json_put_str(b, v->str);
        break;
    default: {
        int obj = v->type == MASTER_JSON_OBJ;
        bl_buf_u8(b, obj ? '{' : '[');
        for (const master_json_t *m = v->child; m; m = m->next) {
            if (m != v->child)
                bl_buf_u8(b, ',');
            if (obj) {
                master_json_put_str(b, m->key);
                bl_buf_u8(b, ':');
            }
            emit(b, m);
        }
        bl_buf_u8(b, obj ? '}' : ']');
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    master_json_doc_t doc;
    char err[128];
    if (master_json_parse(data, size, NULL, &doc, err, sizeof err) != 0) {
        if (!memchr(err, 0, sizeof err) || !strstr(err, "at byte"))
            abort(); /* every refusal carries a reason with its offset */
        return 0;
    }
    /* What was accepted re-serialises into JSON the parser accepts again. */
    bl_buf_t b;
    bl_buf_init(&b);
    emit(&b, doc.root);
    master_json_doc_t again;
    if (!b.err && master_json_parse(b.data, b.len, NULL, &again, err, sizeof err) != 0)
        abort();
    if (!b.err)
        master_json_free(&again);
    bl_buf_close(&b);
    master_json_free(&doc);
    return 0;
}

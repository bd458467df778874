/* SPDX-License-Identifier: MIT */
/* A small strict JSON parser (RFC 8259) over untrusted bytes, and JSON output helpers. */
#ifndef MASTER_JSON_H
#define MASTER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rd.h"

enum master_json_type {
    MASTER_JSON_NULL,
    MASTER_JSON_FALSE,
    MASTER_JSON_TRUE,
    MASTER_JSON_NUM,
    MASTER_JSON_STR,
    MASTER_JSON_ARR,
    MASTER_JSON_OBJ,
};

/* One value. Arrays and objects chain their members through child/next;
 * object members carry their name in key. Strings are NUL-terminated UTF-8
 * (a \u0000 escape is refused, so str never holds an inner NUL). */
typedef struct master_json master_json_t;
struct master_json {
    int type;
    double num;
    const char *str;
    size_t len;
    const char *key;
    master_json_t *child;
    master_json_t *next;
    size_t n; /* members of an array or object */
};

/* A parsed document: every value lives in the document's arena. */
typedef struct master_json_block master_json_block_t;
typedef struct {
    master_json_t *root;
    master_json_block_t *blocks;
} master_json_doc_t;

typedef struct {
    unsigned max_depth; /* nesting of arrays/objects */
    size_t max_members; /* members of one object */
    size_t max_values;  /* values in the whole document */
    size_t max_str;     /* bytes of one string */
} master_json_limits_t;
extern const master_json_limits_t master_json_limits_default;

/* Parses buf (untrusted) as one JSON text. On error returns BL_EPROTO (or
 * BL_ENOMEM / BL_ETOOBIG) and writes a reason with its byte offset to err
 * (errlen bytes). On success the caller frees doc with master_json_free. */
int master_json_parse(const void *buf, size_t len, const master_json_limits_t *lim,
                      master_json_doc_t *doc, char *err, size_t errlen);
void master_json_free(master_json_doc_t *doc);

/* Member of an object by name, or NULL (also when o is not an object). */
const master_json_t *master_json_get(const master_json_t *o, const char *key);
const char *master_json_type_name(int type);

/* Output helpers appending to a bl_buf_t: a quoted, escaped string (NULL
 * writes ""; control characters as \u00XX); the same with flags; a
 * formatted fragment (printf-style, no escaping). */
void master_json_put_str(bl_buf_t *b, const char *s);
/* A flag of master_json_put_strf: '<', '>' and '&' also as \u003c, \u003e,
 * \u0026, so that the string stays inert if a browser sniffs it as HTML. */
#define MASTER_JSON_HTML_SAFE 1u
void master_json_put_strf(bl_buf_t *b, const char *s, unsigned flags);
void master_json_printf(bl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

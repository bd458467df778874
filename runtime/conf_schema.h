/* SPDX-License-Identifier: MIT */
/* A declared configuration schema: each option once (type, default, range, reload, help); one
 * loader, printer and manual writer for every daemon. */
#ifndef BL_CONF_SCHEMA_H
#define BL_CONF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_util.h"

/*
 * A daemon declares its options in a table of bl_conf_opt_t (master/config.c,
 * mirror/config.c). Each entry names its [section] and key, its type, the
 * field of the daemon's configuration struct it fills (BL_CONF_AT), its
 * default as text (parsed by the same code as a value from the file), its
 * range, whether SIGHUP applies it, and one line of help. Everything else
 * comes from the table: loading an INI file with FILE:LINE errors, --set
 * overrides, --print-config, the option lists of blsync.conf(5) and the
 * sample configurations.
 *
 * Every value of a type goes through one parser of config_util.h:
 *   BL_CONF_STR, _PATH  text (char[N], or char * with BL_CONF_HEAP)
 *   BL_CONF_ADDR        numeric address[:port], bl_cfg_listen; stored as text
 *   BL_CONF_DURATION    bl_cfg_duration; stored as an integer count of .unit
 *                       milliseconds (1 by default, 1000 for seconds)
 *   BL_CONF_SIZE        bl_cfg_size, bytes
 *   BL_CONF_UINT        bl_cfg_uint: a whole number, no suffix
 *   BL_CONF_NUMBER      bl_cfg_number, a double
 *   BL_CONF_BOOL        bl_cfg_bool, an int 0 or 1
 *   BL_CONF_ENUM        one of .names (any case), an int
 *   BL_CONF_CUSTOM      the entry's .set and .get callbacks
 * Integers are stored in whatever width the field has (1, 2, 4 or 8 bytes).
 */
typedef enum {
    BL_CONF_STR = 1,
    BL_CONF_PATH,
    BL_CONF_ADDR,
    BL_CONF_DURATION,
    BL_CONF_SIZE,
    BL_CONF_UINT,
    BL_CONF_NUMBER,
    BL_CONF_BOOL,
    BL_CONF_ENUM,
    BL_CONF_CUSTOM,
} bl_conf_type_t;

enum {
    BL_CONF_HOT = 1 << 0,      /* SIGHUP applies it (otherwise a restart does) */
    BL_CONF_NONEMPTY = 1 << 1, /* an empty value is refused */
    BL_CONF_MULTI = 1 << 2,    /* repeatable: values split at spaces and commas are appended
                                  to a char *[] (BL_CONF_LIST); text types only */
    BL_CONF_WHOLE = 1 << 3,    /* with MULTI: each line is one value, not split */
    BL_CONF_SECRET = 1 << 4,   /* --print-config does not show the value */
    BL_CONF_ALIAS = 1 << 5,    /* another spelling of an option: not printed, documented */
    BL_CONF_HEAP = 1 << 6,     /* a char * owned by the configuration ("" stores NULL) */
    BL_CONF_PREFIX = 1 << 7,   /* CUSTOM: the key is a prefix ("reason." for reason.N) */
    BL_CONF_REQUIRED = 1 << 8, /* documented as required (a daemon's check enforces it) */
};

typedef struct {
    const char *name;
    int value;
} bl_conf_name_t;

typedef struct bl_conf_opt {
    const char *section; /* "server"; a repeatable section's name ("zone") */
    const char *key;
    bl_conf_type_t type;
    unsigned flags;
    size_t off, size;            /* the field in the section's struct (BL_CONF_AT) */
    size_t count_off;            /* MULTI: offset + 1 of its unsigned count (BL_CONF_LIST) */
    size_t line_off;             /* offset + 1 of an unsigned that gets the line it was set on */
    const char *def;             /* the default, as text; NULL: empty or zero (a number 0
                                    below .min prints as unset: the daemon derives it) */
    int64_t min, max;            /* DURATION (ms), SIZE, UINT, NUMBER; max 0: the field's limit */
    int port;                    /* ADDR: the port when none is given; 0: a port is required */
    unsigned unit;               /* DURATION: milliseconds per stored unit (0 or 1: ms) */
    const bl_conf_name_t *names; /* ENUM: {name, value}..., {NULL, 0}; first name prints */
    /* STR, PATH, ADDR: an extra check of each value (why as in config_util.h). */
    int (*check)(const char *v, const char **why);
    /* CUSTOM: set parses v for key; get writes the i-th "key = value" pair
     * of base into key and val and returns 0, or -1 after the last one;
     * release frees what set allocated. */
    int (*set)(void *base, const char *key, const char *v, const char **why);
    int (*get)(const void *base, size_t i, char *key, size_t keyn, char *val, size_t valn);
    void (*release)(void *base);
    const char *arg;     /* manual placeholder ("name"); by default from the type */
    const char *expect;  /* what a value looks like, for errors; by default from the type */
    const char *example; /* a value shown in the manual and the sample config */
    const char *help;    /* one line */
    const char *doc;     /* more for the manual and the sample config (optional) */
} bl_conf_opt_t;

/* Field of a struct: BL_CONF_AT(master_config_t, pub.spool). */
#define BL_CONF_AT(T, m) .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
/* A repeatable option's char *arr[] and its unsigned count n. */
#define BL_CONF_LIST(T, arr, n) BL_CONF_AT(T, arr), .count_off = offsetof(T, n) + 1
/* An unsigned field that records the line an option was set on. */
#define BL_CONF_LINE(T, m) .line_off = offsetof(T, m) + 1

typedef struct {
    const char *name;             /* "server"; with .cap, [name INSTANCE] sections ("zone") */
    const char *doc;              /* a paragraph for the manual and the sample config */
    size_t present_off, line_off; /* offset + 1 of an int set to 1 and an unsigned set to the
                                     line when the section's first key is read (optional) */
    /* Repeatable sections: an array of cap structs of elem_size bytes at
     * arr_off in the configuration, the unsigned count at count_off + 1, the
     * instance name in a char[name_size] at name_off and the line of its
     * first key at line_off + 1 in each. normalize rewrites a name in place
     * (lower case, ...). "[name]" alone means the first instance. */
    size_t arr_off, elem_size, count_off, cap, name_off, name_size;
    void (*normalize)(char *name);
    const char *inst_arg; /* manual placeholder of the instance name */
} bl_conf_section_t;

typedef struct {
    const char *daemon; /* "blsync-mirror" */
    const bl_conf_section_t *sections;
    size_t nsections;
    const bl_conf_opt_t *opts;
    size_t nopts;
    size_t conf_size; /* sizeof the configuration struct */
} bl_conf_schema_t;

/* A schema of the configuration struct T from arrays of sections and options. */
#define BL_CONF_SCHEMA(name, T, secs, options)                                                     \
    {                                                                                              \
        .daemon = name, .sections = secs, .nsections = sizeof secs / sizeof secs[0],               \
        .opts = options, .nopts = sizeof options / sizeof options[0], .conf_size = sizeof(T),      \
    }

/* log_level's names (log.h levels; "error" and "warning" are accepted too). */
extern const bl_conf_name_t bl_conf_log_levels[];

/* Applies every default to conf (a zeroed struct), instances excepted. */
void bl_conf_defaults(const bl_conf_schema_t *s, void *conf);
/* Reads an INI file over conf. Errors (BL_ECONFIG, or BL_EIO when the file
 * does not open) name "FILE:LINE:" and, for a bad value, the option, the
 * value and what is expected. Stops at the first error. */
int bl_conf_load(const bl_conf_schema_t *s, void *conf, const char *path, bl_cfg_err_t *e);
int bl_conf_load_file(const bl_conf_schema_t *s, void *conf, FILE *f, const char *name,
                      bl_cfg_err_t *e);
/* Applies one value as if read from file:line (file NULL: a command-line
 * override, no prefix). section is as written between brackets. */
int bl_conf_set(const bl_conf_schema_t *s, void *conf, const char *section, const char *key,
                const char *val, const char *file, unsigned line, bl_cfg_err_t *e);
/* Frees what the configuration owns (BL_CONF_HEAP, MULTI, CUSTOM). */
void bl_conf_free(const bl_conf_schema_t *s, void *conf);

/* Prints conf as an INI file that loads back to the same configuration:
 * every option, "key = value" where it differs from the default and
 * "#key = value" (commented out) where it is the default or unset.
 * BL_CONF_PRINT_SAMPLE adds each section's and option's help as comments and
 * shows examples for unset options (the sample configuration files). */
enum { BL_CONF_PRINT_SAMPLE = 1 };
/* What a BL_CONF_SECRET option that is set prints after "#key =". */
#define BL_CONF_HIDDEN " (set; --print-config does not show it)"
int bl_conf_print(const bl_conf_schema_t *s, const void *conf, FILE *f, unsigned how);
/* Writes the schema's option list as man(7) source: a paragraph on SIGHUP,
 * then one .SS per section and one .TP per option. */
int bl_conf_print_man(const bl_conf_schema_t *s, FILE *f);
/* Names the options whose value differs between a and b and that SIGHUP
 * does not apply ("listen, threads"); returns how many. */
size_t bl_conf_restart_changes(const bl_conf_schema_t *s, const void *a, const void *b, char *buf,
                               size_t n);
/* Names the options of the sections listed in sections (NULL-terminated)
 * whose value differs between a and b ("[http] listen, [sync] cert");
 * returns how many. */
size_t bl_conf_section_changes(const bl_conf_schema_t *s, const void *a, const void *b,
                               const char *const *sections, char *buf, size_t n);
/* Checks the table itself (sections exist, keys unique, defaults parse,
 * ranges fit their fields, help is one line). 0 or BL_ECONFIG and why. */
int bl_conf_schema_check(const bl_conf_schema_t *s, char *err, size_t n);

#endif

/* SPDX-License-Identifier: MIT */
/* The mirror's query index: immutable versions of a prefix set with longest-prefix lookup. */
#ifndef MIRROR_INDEX_H
#define MIRROR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

/*
 * An index version is immutable once built: readers (DNS threads) use it
 * without locks while the writer builds the next one and publishes it with
 * one atomic pointer store (see zone.h). A version is a large sorted "base"
 * (shared between versions, ~16 bytes per IPv4 entry) plus a small sorted
 * "overlay" of replacements and deletion markers; applying a delta copies
 * only the overlay, and the overlay is folded into a fresh base when it
 * grows past a fraction of the base. Only the writer thread creates and
 * frees versions.
 */
typedef struct mirror_index mirror_index_t;

/* Entry flags. */
#define MIRROR_EXCLUDED 0x01 /* rbldnsd '!' entry: the prefix is not listed */

/* What a lookup found. */
typedef struct {
    uint8_t a;          /* last octet of 127.0.0.a, or a code into the zone's mirror_avals_t */
    uint8_t flags;      /* MIRROR_EXCLUDED */
    uint16_t reason;    /* TXT template id */
    uint8_t len;        /* prefix length that matched */
    int64_t expires_at; /* Unix seconds (clamped to 32 bits) */
} mirror_hit_t;

/* An empty index (NULL on allocation failure). */
mirror_index_t *mirror_index_new(void);
/* Frees a version (and its base when no other version shares it). NULL is a no-op. */
void mirror_index_free(mirror_index_t *ix);

/* Number of entries (including exclusions). */
size_t mirror_index_count(const mirror_index_t *ix);
/* Number of entries of one family (BL_AF4 or BL_AF6). */
size_t mirror_index_count_af(const mirror_index_t *ix, int af);
/* Bytes held by this version's arrays (base counted whole). */
size_t mirror_index_bytes(const mirror_index_t *ix);
/* Entries in the overlay (for metrics and tests). */
size_t mirror_index_overlay_count(const mirror_index_t *ix);

/* Longest-prefix lookup of a full address. Returns 1 and fills *hit when the
 * most specific covering prefix is listed, not excluded and expires after
 * now (Unix seconds); 0 otherwise. hit may be NULL. Lock-free, no allocation. */
int mirror_index_lookup4(const mirror_index_t *ix, uint32_t addr, int64_t now, mirror_hit_t *hit);
int mirror_index_lookup6(const mirror_index_t *ix, const uint8_t addr[16], int64_t now,
                         mirror_hit_t *hit);

/* Whether a listed (not excluded) entry covers prefix p or lies inside it:
 * the names below p's reverse name then exist (an empty non-terminal).
 * Deleted and replaced entries count as the overlay says; times are not
 * checked. For the rare negative paths only: a few binary searches per
 * prefix length present. */
int mirror_index_overlaps(const mirror_index_t *ix, const bl_prefix_t *p);

/* Optional cache hint for a batch of IPv4 lookups: call with stage 0 for
 * every address of the batch, then stage 1 for every address, then look
 * them up. Changes nothing; same rules as a lookup. */
void mirror_index_prefetch4(const mirror_index_t *ix, uint32_t addr, int stage);

/* Exact lookup of a key: fills *e (and *flags if not NULL) with the record
 * as it was added (times exact). Returns 0 or BL_ENOTFOUND. */
int mirror_index_get(const mirror_index_t *ix, const bl_prefix_t *key, bl_entry_t *e,
                     uint8_t *flags);

/* Applies sorted changes (removal keys, then additions/replacements, each
 * strictly sorted by bl_prefix_cmp) and returns a new version in *out; ix
 * is unchanged and stays valid. Removing an absent key fails with
 * BL_EABSENT. The overlay is folded into a new base when it grows past
 * max(compact_min, base/8) entries (compact_min 0 picks the default). */
int mirror_index_apply(const mirror_index_t *ix, const bl_change_t *rem, size_t nrem,
                       const bl_change_t *add, size_t nadd, mirror_index_t **out);
/* Like mirror_index_apply with an explicit compaction threshold (tests). */
int mirror_index_apply_ex(const mirror_index_t *ix, const bl_change_t *rem, size_t nrem,
                          const bl_change_t *add, size_t nadd, size_t compact_min,
                          mirror_index_t **out);

/* A version's image, for a state file that a restart maps instead of
 * decoding, sorting and hashing every entry: the arrays as they are in
 * memory, each aligned (readable only by a build with the same element
 * layout). Only a version without an overlay has one (a snapshot's, as
 * built): BL_ESTATE otherwise. mirror_index_image_write hands the bytes to
 * io (0 or an error, which ends the call). */
typedef int (*mirror_image_io_t)(void *ctx, const void *p, size_t n);
int mirror_index_image_write(const mirror_index_t *ix, mirror_image_io_t io, void *ctx);
/* A version whose arrays are the image at map + off (off a multiple of 64)
 * up to map + maplen: on success it owns the mapping (munmap when its base
 * is freed). The reader checks sizes, counts and jump tables only: the
 * caller must have checked the bytes (a hash) before. */
int mirror_index_image_load(void *map, size_t maplen, size_t off, mirror_index_t **out);

/* Calls cb for every entry in bl_prefix_cmp order; a non-zero return stops
 * and is returned. */
typedef int (*mirror_index_cb)(void *ctx, const bl_entry_t *e, uint8_t flags);
int mirror_index_foreach(const mirror_index_t *ix, mirror_index_cb cb, void *ctx);

/* Builds a whole index from entries in any order. Duplicate keys: an
 * exclusion wins, otherwise the first one added is kept (dups counts the
 * dropped ones). */
typedef struct mirror_builder mirror_builder_t;
mirror_builder_t *mirror_builder_new(void);
void mirror_builder_free(mirror_builder_t *b);
/* A key added more than once keeps its first listing even when a later one
 * is an exclusion (rbldnsd's ip4trie and ip6trie); by default an exclusion
 * wins (rbldnsd's ip4set). */
void mirror_builder_first_wins(mirror_builder_t *b);
int mirror_builder_add(mirror_builder_t *b, const bl_entry_t *e, uint8_t flags);
/* Entries added so far. */
size_t mirror_builder_count(const mirror_builder_t *b);
/* Consumes the builder (freed in every case) and returns the index in *out. */
int mirror_builder_finish(mirror_builder_t *b, mirror_index_t **out, size_t *dups);
/* Like mirror_builder_finish, and hands every dropped duplicate listing of a
 * key whose first listing is kept (not an exclusion) to cb, in the order
 * added, with its times as the index holds them (32-bit); a non-zero return
 * stops and fails the build. */
typedef int (*mirror_dup_cb)(void *ctx, const bl_entry_t *e, uint8_t flags);
int mirror_builder_finish_dups(mirror_builder_t *b, mirror_index_t **out, size_t *dups,
                               mirror_dup_cb cb, void *ctx);

/* The A values of a zone served from rbldnsd files, which may be any IPv4
 * address (":127.0.1.2:", ":1.2.3.4:"): the a field of the zone's listings
 * is a code into this table instead of the last octet of 127.0.0.a, so an
 * answer takes its A value with one array index. Code 0 is 127.0.0.2 (the
 * RFC 5782 test entry's); codes 1..n are the zone's distinct values in the
 * order first seen, at most MIRROR_AVALS_MAX. */
#define MIRROR_AVALS_MAX 255
typedef struct {
    uint32_t v[MIRROR_AVALS_MAX + 1]; /* code -> A value, host byte order */
    unsigned n;                       /* codes in use: 1..n */
    uint8_t slot[512];                /* open addressing over v[1..n]: code, 0 = empty */
} mirror_avals_t;

/* An empty table (only code 0). */
void mirror_avals_init(mirror_avals_t *t);
/* The code of A value v (host byte order), added when new: 1..255, or 0
 * when v is new and the table already holds MIRROR_AVALS_MAX values. */
uint8_t mirror_avals_code(mirror_avals_t *t, uint32_t v);

#endif

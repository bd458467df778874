/* SPDX-License-Identifier: MIT */
/* Names and descriptions of the BL_E* error codes. */
#include "err.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} errs[] = {
    {BL_OK, "ok", "success"},
    {BL_ENOMEM, "nomem", "out of memory"},
    {BL_EIO, "io", "I/O error"},
    {BL_EINVAL, "invalid", "invalid argument"},
    {BL_ETRUNC, "truncated", "truncated"},
    {BL_EMAGIC, "bad_magic", "not a blsync object (bad magic)"},
    {BL_EVERSION, "bad_version", "unsupported format version"},
    {BL_EDOMAIN, "bad_domain", "domain separation string does not match the object type"},
    {BL_ETYPE, "bad_type", "unexpected object type"},
    {BL_ETOOBIG, "too_big", "declared length over the limit"},
    {BL_ESIG, "bad_signature", "bad signature"},
    {BL_EUNKNOWNKEY, "unknown_key", "signed by an unknown key"},
    {BL_EPAYLOAD, "payload_hash", "payload does not match its signed hash"},
    {BL_EZSTD, "bad_compression", "payload does not decompress"},
    {BL_EBOMB, "decompression_bomb", "payload inflates past its declared size"},
    {BL_EORDER, "order", "records out of order"},
    {BL_EDUP, "duplicate", "duplicate key"},
    {BL_EBASESERIAL, "base_serial", "delta base serial is not the current serial"},
    {BL_EBASEDIGEST, "base_digest", "delta base digest is not the current digest"},
    {BL_EDIGEST, "digest_mismatch", "digest mismatch after apply"},
    {BL_EABSENT, "absent_key", "removal of a key that is not in the state"},
    {BL_EFEED, "wrong_feed", "object belongs to another feed"},
    {BL_EROLLBACK, "rollback", "serial older than the current state (rollback)"},
    {BL_EFORK, "fork", "same serial with another digest (fork)"},
    {BL_EEXPIRED, "expired", "object expired"},
    {BL_EPREFIX, "bad_prefix", "malformed IP prefix"},
    {BL_EHOSTBITS, "host_bits", "prefix has bits set beyond its length"},
    {BL_EKEY, "bad_key", "not a usable Ed25519 key"},
    {BL_ETRAILING, "trailing", "trailing bytes after the declared data"},
    {BL_ECOUNT, "count", "record count differs from the declared count"},
    {BL_EFIELD, "bad_field", "field value out of range"},
    {BL_ENOSPC, "no_space", "no space left on device"},
    {BL_ECONFIG, "config", "configuration error"},
    {BL_ENOTFOUND, "not_found", "not found"},
    {BL_EEXIST, "exists", "already exists"},
    {BL_ESTATE, "state", "not allowed in the current state"},
    {BL_EPROTO, "protocol", "protocol violation"},
    {BL_EREADONLY, "read_only",
     "read-only: the daemon's user cannot write the file or its directory"},
    {BL_EBUSY, "busy", "busy: another process holds its lock"},
};

static int find(int err)
{
    for (unsigned i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (errs[i].code == err)
            return (int)i;
    return -1;
}

const char *bl_strerror(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : errs[i].text;
}

const char *bl_errname(int err)
{
    int i = find(err);
    return i < 0 ? "unknown" : errs[i].name;
}

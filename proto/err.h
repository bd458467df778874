/* SPDX-License-Identifier: MIT */
/* Error codes shared by every blsync module: 0 is success, negatives name what went wrong. */
#ifndef BL_ERR_H
#define BL_ERR_H

enum {
    BL_OK = 0,
    BL_ENOMEM = -1,       /* out of memory */
    BL_EIO = -2,          /* I/O error (errno is kept by the caller's log line) */
    BL_EINVAL = -3,       /* invalid argument */
    BL_ETRUNC = -4,       /* input truncated */
    BL_EMAGIC = -5,       /* not a blsync object */
    BL_EVERSION = -6,     /* unsupported format version */
    BL_EDOMAIN = -7,      /* domain separation string does not match the object type */
    BL_ETYPE = -8,        /* unexpected object type */
    BL_ETOOBIG = -9,      /* declared length over the limit */
    BL_ESIG = -10,        /* bad signature */
    BL_EUNKNOWNKEY = -11, /* signed by a key that is not trusted */
    BL_EPAYLOAD = -12,    /* payload does not match the signed hash */
    BL_EZSTD = -13,       /* payload does not decompress */
    BL_EBOMB = -14,       /* payload inflates past its declared size */
    BL_EORDER = -15,      /* records (or snapshot blocks) out of order */
    BL_EDUP = -16,        /* duplicate key */
    BL_EBASESERIAL = -17, /* delta base serial is not the current serial */
    BL_EBASEDIGEST = -18, /* delta base digest is not the current digest */
    BL_EDIGEST = -19,     /* state digest after apply differs from the signed one */
    BL_EABSENT = -20,     /* removal of a key that is not in the state */
    BL_EFEED = -21,       /* object for another feed */
    BL_EROLLBACK = -22,   /* serial older than the current one */
    BL_EFORK = -23,       /* same serial, different digest */
    BL_EEXPIRED = -24,    /* object past its signed expiry time */
    BL_EPREFIX = -25,     /* malformed IP prefix */
    BL_EHOSTBITS = -26,   /* prefix has bits set beyond its length */
    BL_EKEY = -27,        /* unusable key file */
    BL_ETRAILING = -28,   /* bytes after the end of the declared data */
    BL_ECOUNT = -29,      /* record count differs from the declared count */
    BL_EFIELD = -30,      /* field value out of range */
    BL_ENOSPC = -31,      /* no space left on device */
    BL_ECONFIG = -32,     /* configuration error */
    BL_ENOTFOUND = -33,   /* no such item */
    BL_EEXIST = -34,      /* already exists */
    BL_ESTATE = -35,      /* operation not allowed in the current state */
    BL_EPROTO = -36,      /* protocol violation */
    BL_EREADONLY = -37,   /* a file or store that must be written is read-only */
    BL_EBUSY = -38,       /* another process holds a lock for longer than allowed */
};

/* Returns a static, human-readable description of err. */
const char *bl_strerror(int err);

/* Returns the short machine name of err (for metrics labels and key=value logs). */
const char *bl_errname(int err);

#endif

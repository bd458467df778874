/* SPDX-License-Identifier: MIT */
/* One-block SHA-256 with the x86 SHA extensions, for the per-entry state digest. */
#ifndef BL_SHA256NI_H
#define BL_SHA256NI_H

#include <stdint.h>

/* Returns 1 if this CPU has the SHA extensions (checked once). */
int bl_sha256ni_available(void);
/* SHA-256 of a message of at most 55 bytes (one padded block) into out[32]. */
void bl_sha256ni_short(const uint8_t *msg, unsigned len, uint8_t out[32]);

#endif

/* SPDX-License-Identifier: MIT */
/* Small runtime helpers: clocks (controllable in tests) and atomic file writes. */
#ifndef BL_UTIL_H
#define BL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock in Unix milliseconds. If the environment variable
 * BLSYNC_TEST_CLOCK names a file, the time is read from it instead (decimal
 * milliseconds; re-read when the file changes), so tests can move time. */
int64_t bl_now_ms(void);
/* Monotonic clock in nanoseconds (never affected by the test clock). */
uint64_t bl_mono_ns(void);

/* Reads a whole file into memory (at most max bytes: BL_ETOOBIG beyond). */
int bl_file_read(const char *path, size_t max, uint8_t **data, size_t *len);

/* Writes data to path atomically: temp file in the same directory, write,
 * fsync, rename, fsync of the directory. Returns 0, BL_ENOSPC or BL_EIO
 * (errno preserved); on error path is untouched and the temp file removed. */
int bl_file_write_atomic(const char *path, const void *data, size_t len, int mode);
/* The same without fsync: readers never see a partial file, a crash may
 * lose it (for files rebuilt from others, such as the HTTP layout's). */
int bl_file_replace(const char *path, const void *data, size_t len, int mode);
/* Creates a directory and its parents (like mkdir -p). */
int bl_mkdir_p(const char *path, int mode);

#endif

/* SPDX-License-Identifier: MIT */
/* Scratch stores of the unit tests that run on a real SQLite store: one
 * directory per test binary, fresh stores in it, all removed at the end. */
#ifndef BL_STORE_FIXTURE_H
#define BL_STORE_FIXTURE_H

#include "store.h"

/* The directory (set by store_fixture_init); a test's other scratch files
 * go there too. */
extern char store_dir[256];

/* Makes the directory /tmp/TAG-PID. */
void store_fixture_init(const char *tag);
/* NAME.db in the directory, removed first, then opened (feed "main"); the
 * test aborts when it cannot be opened. */
master_store_t *fresh_store(const char *name);
/* Removes the directory; 0 when that worked (a test's exit status). */
int store_fixture_done(void);

#endif

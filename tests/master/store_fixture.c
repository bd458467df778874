/* SPDX-License-Identifier: MIT */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

char store_dir[256];

void store_fixture_init(const char *tag)
{
    snprintf(store_dir, sizeof store_dir, "/tmp/%s-%d", tag, (int)getpid());
    mkdir(store_dir, 0755);
}

master_store_t *fresh_store(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.db", store_dir, name);
    unlink(path);
    master_store_t *s;
    ASSERT_EQ(master_store_open(path, "main", 0, &s), 0);
    return s;
}

int store_fixture_done(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", store_dir);
    return system(cmd) == 0 ? 0 : 1;
}

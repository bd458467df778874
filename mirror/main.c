/* SPDX-License-Identifier: MIT */
/* blsync-mirror: entry point (skeleton until its issue lands). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("blsync-mirror 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "blsync-mirror: not implemented yet\n");
    return 1;
}

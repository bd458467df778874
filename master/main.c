/* SPDX-License-Identifier: MIT */
/* blsync-master: entry point (skeleton until its issue lands). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("blsync-master 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "blsync-master: not implemented yet\n");
    return 1;
}

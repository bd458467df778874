/* SPDX-License-Identifier: MIT */
/* The daemon user's view of the configured files, checked in a child that becomes that user. */
#include "runas.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The directory part of path ("." without a slash) in buf. */
static const char *dir_of(const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash)
        return ".";
    if (slash == buf)
        slash[1] = 0;
    else
        *slash = 0;
    return buf;
}

/* In the child, as the user: one line per problem, the count as exit status. */
static int check_all(const char *user, const bl_access_t *a, size_t n, const char *prefix)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = a[i].path;
        if (!p || !*p)
            continue;
        char buf[4096];
        const char *d = a[i].dir == 2 ? dir_of(p, buf, sizeof buf) : p;
        if (a[i].dir) {
            struct stat st;
            if (stat(d, &st) != 0 && errno == ENOENT)
                continue; /* created at start (StateDirectory) */
            if (access(d, W_OK | X_OK) != 0) {
                fprintf(stderr,
                        "%s: %s %s: the daemons' user %s cannot write in %s (%s): "
                        "chown %s:%s %s\n",
                        prefix, a[i].what, p, user, d, strerror(errno), user, user, d);
                bad++;
            }
            continue;
        }
        FILE *f = fopen(p, "r");
        if (!f) {
            fprintf(stderr,
                    "%s: %s %s: the daemons' user %s cannot read it (%s): "
                    "chgrp %s %s; chmod 0640 %s (and its directories g+x)\n",
                    prefix, a[i].what, p, user, strerror(errno), user, p, p);
            bad++;
        } else {
            fclose(f);
        }
    }
    return bad > 100 ? 100 : bad;
}

const char *bl_access_user(const char *conf, const char *user)
{
    if (user)
        return user;
    struct passwd *pw = geteuid() == 0 ? getpwnam(BL_DAEMON_USER) : NULL;
    char buf[4096];
    struct stat st;
    if (!pw || stat(dir_of(conf, buf, sizeof buf), &st) != 0 || st.st_gid != pw->pw_gid)
        return NULL;
    return BL_DAEMON_USER;
}

int bl_access_check_as(const char *user, const bl_access_t *a, size_t n, const char *prefix)
{
    if (!user || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "%s: no user %s to check its access as\n", prefix, user);
        return 1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot check files as %s: fork: %s\n", prefix, user, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        if (initgroups(user, gid) || setgid(gid) || setuid(uid)) {
            fprintf(stderr, "%s: cannot become %s to check its access: %s\n", prefix, user,
                    strerror(errno));
            _exit(1);
        }
        _exit(check_all(user, a, n, prefix));
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* SPDX-License-Identifier: MIT */
/* Times for people in blsyncctl's text output: durations and points in time. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "ctl.h"
#include "http.h"
#include "util.h"

char *ctl_human_duration(double s, char *buf, size_t n)
{
    long long t = (long long)llround(fabs(s));
    /* Two units at most, the second left out when 0: "12 min", "1 h". */
    long long big, small;
    const char *bu, *su;
    if (t < 60) {
        snprintf(buf, n, "%lld s", t);
        return buf;
    } else if (t < 3600) {
        big = t / 60, small = t % 60, bu = "min", su = "s";
    } else if (t < 172800) {
        big = t / 3600, small = t / 60 % 60, bu = "h", su = "min";
    } else {
        big = t / 86400, small = t / 3600 % 24, bu = "d", su = "h";
    }
    if (small)
        snprintf(buf, n, "%lld %s %lld %s", big, bu, small, su);
    else
        snprintf(buf, n, "%lld %s", big, bu);
    return buf;
}

char *ctl_human_time(long long unix_s, char *buf, size_t n)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

char *ctl_human_when(double delta_s, long long unix_s, char *buf, size_t n)
{
    char d[48], a[40];
    ctl_human_duration(delta_s, d, sizeof d);
    ctl_human_time(unix_s, a, sizeof a);
    if (llround(delta_s) == 0)
        snprintf(buf, n, "now (%s)", a);
    else if (delta_s > 0)
        snprintf(buf, n, "in %s (%s)", d, a);
    else
        snprintf(buf, n, "%s ago (%s)", d, a);
    return buf;
}

char *ctl_human_at(const char *rfc3339, char *buf, size_t n)
{
    int64_t ms;
    if (!rfc3339 || master_parse_time(rfc3339, &ms)) {
        snprintf(buf, n, "%s", rfc3339 ? rfc3339 : "?");
        return buf;
    }
    return ctl_human_when((ms - bl_now_ms()) / 1000.0, (long long)(ms / 1000), buf, n);
}

/* SPDX-License-Identifier: MIT */
/* The served state of a zone written as rbldnsd data files, for an rbldnsd kept in front. */
#ifndef MIRROR_EXPORT_H
#define MIRROR_EXPORT_H

#include "zone.h"

/* Writes z's current data as rbldnsd data: IPv4 entries in an ip4trie file
 * at path and IPv6 entries in an ip6trie file at path.ip6, each written
 * whole under a temporary name, fsynced and renamed over the old one, so
 * rbldnsd never reads half a file. Each file starts with the zone's $SOA,
 * $NS and $TTL, so that rbldnsd answers the SOA and puts it into negative
 * answers. Expired entries are left out; exclusions are written as '!'
 * lines. The files get mode (whatever the umask) and, when group is not
 * NULL or empty, that group. 0 when path is NULL or the zone has no data
 * yet; BL_EIO (logged) on failure. */
int mirror_export_rbldnsd(const mirror_zone_t *z, const char *path, unsigned mode,
                          const char *group);

#endif

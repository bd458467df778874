/* SPDX-License-Identifier: MIT */
/* Metrics registry (counters, gauges, histograms with bounded labels) and its Prometheus text. */
#ifndef BL_METRICS_H
#define BL_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A registry holds metric families; a family holds series, one per set of
 * label values. Registering families and looking up series take the
 * registry's mutex and may allocate: do it at start-up (or when a new label
 * value appears, such as a new mirror) and keep the series handle. Updating a
 * series through its handle never locks or allocates: counters and
 * histograms are sharded per thread (relaxed atomics on a cache line of
 * their own) and summed when scraped, so the DNS hot path may count every
 * query on every thread.
 *
 * Every update function accepts a NULL series and does nothing, so a series
 * refused by the cardinality bound (see bl_metrics_series) costs nothing.
 * docs/METRICS.md is the contract for the names registered by
 * bl_metrics_mirror_register and bl_metrics_master_register.
 */

#define BL_METRICS_MAX_LABELS  4
#define BL_METRICS_MAX_BUCKETS 32
#define BL_METRICS_LABEL_MAX   128 /* label values are truncated to this many bytes */

typedef enum {
    BL_METRICS_COUNTER = 1, /* monotonic uint64; name must end in _total */
    BL_METRICS_GAUGE,       /* double, set or added to, or computed at scrape */
    BL_METRICS_HISTOGRAM,   /* fixed ascending buckets (+Inf implied), sum and count */
} bl_metrics_type_t;

/* What a family is. labels are NULL-terminated (or all NULL for none);
 * max_series bounds the number of label-value sets (0: 1 without labels, 64
 * with). buckets/nbuckets only for histograms. */
typedef struct {
    const char *name;
    const char *help;
    bl_metrics_type_t type;
    const char *labels[BL_METRICS_MAX_LABELS + 1];
    unsigned max_series;
    const double *buckets;
    size_t nbuckets;
} bl_metrics_desc_t;

typedef struct bl_metrics bl_metrics_t;
typedef struct bl_metric bl_metric_t;
typedef struct bl_metrics_series bl_metrics_series_t;

/* Bucket sets. Propagation: 0.1 s to 8 h, with 4 h (the default window) and
 * its half and quarter as edges. Duration: 0.5 ms to 60 s. Bytes: 256 B to 1 GiB. */
extern const double bl_metrics_buckets_propagation[];
extern const size_t bl_metrics_buckets_propagation_n;
extern const double bl_metrics_buckets_duration[];
extern const size_t bl_metrics_buckets_duration_n;
extern const double bl_metrics_buckets_bytes[];
extern const size_t bl_metrics_buckets_bytes_n;

/* Creates an empty registry (it already holds blsync_metrics_series_dropped_total).
 * Returns NULL when out of memory. */
bl_metrics_t *bl_metrics_new(void);
/* Frees the registry, its families and series (NULL is a no-op). No other
 * thread may use any of its handles any more. */
void bl_metrics_free(bl_metrics_t *r);

/* Registers a family described by d (the strings are copied). Returns 0 and
 * the family in *out, BL_EINVAL for a bad name, label or bucket list,
 * BL_EEXIST for a name already registered, or BL_ENOMEM. A family without
 * labels gets its one series at once (so it is exported as 0). */
int bl_metrics_register(bl_metrics_t *r, const bl_metrics_desc_t *d, bl_metric_t **out);

/* Returns the series of family m for the label values (as many as the
 * family has labels; NULL for none), creating it. Returns NULL when m is
 * NULL, the values are the wrong count, out of memory, or max_series is
 * reached (counted in blsync_metrics_series_dropped_total). The handle stays
 * valid until bl_metrics_free. Control bytes and non-ASCII bytes in values
 * are replaced by '_'. Locks: look up once, keep the handle. */
bl_metrics_series_t *bl_metrics_series(bl_metric_t *m, const char *const *values);
/* bl_metrics_with(m, "udp", "A", "NOERROR"): bl_metrics_series with literal values. */
#define bl_metrics_with(m, ...) bl_metrics_series((m), (const char *const[]){__VA_ARGS__, NULL})

/* Counters. */
void bl_metrics_inc(bl_metrics_series_t *s);
void bl_metrics_add(bl_metrics_series_t *s, uint64_t n);
/* Gauges: set, add (negative to subtract), or compute at each scrape with
 * fn(arg) (called from the scraping thread with the registry locked: it must
 * be thread-safe and must not call into the registry; NULL fn clears it). */
void bl_metrics_set(bl_metrics_series_t *s, double v);
void bl_metrics_gauge_add(bl_metrics_series_t *s, double d);
void bl_metrics_set_fn(bl_metrics_series_t *s, double (*fn)(void *arg), void *arg);
/* Gauges that are ages: at each scrape, (bl_now_ms() - *since_ms) / 1000
 * seconds, never negative, and 0 while *since_ms is 0 (nothing to age, e.g.
 * no delisting propagating). The daemon stores Unix milliseconds into
 * *since_ms from any thread; the clock is the test-controllable bl_now_ms(). */
void bl_metrics_set_age(bl_metrics_series_t *s, const _Atomic int64_t *since_ms);
/* Histograms: counts v in the first bucket whose bound is >= v. NaN is ignored. */
void bl_metrics_observe(bl_metrics_series_t *s, double v);

/* Stops exporting the series (a mirror removed from the configuration) and
 * resets it; looking it up again brings it back from zero. The handle stays
 * valid and updates to it are kept but not exported until then. */
void bl_metrics_remove(bl_metrics_series_t *s);

/* Reads a series: the counter total, the gauge value or the histogram count
 * (0 for NULL). For tests and for status output. */
double bl_metrics_get(bl_metrics_series_t *s);
/* Reads a histogram: cumulative counts per bucket into cum[0..n-1] (the
 * last is +Inf; n is at most nbuckets + 1) and the sum. Returns the number of
 * buckets written, or BL_EINVAL if s is not a histogram. */
int bl_metrics_hist_read(bl_metrics_series_t *s, uint64_t *cum, size_t n, double *sum);

/* The family registered under name, or NULL. Locks: look up once, keep the handle. */
bl_metric_t *bl_metrics_find(bl_metrics_t *r, const char *name);

/* Renders every exported series in the Prometheus text format 0.0.4 into a
 * new NUL-terminated string (*out, its length in *len; the caller frees it
 * with free()). Returns 0 or BL_ENOMEM. */
int bl_metrics_render(bl_metrics_t *r, char **out, size_t *len);
#define BL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The daemons' metric families (docs/METRICS.md). Label values used by the
 * daemons: feed and zone names from the configuration; mirror = the
 * certificate name; family = "ipv4" | "ipv6"; reason = bl_errname() or a
 * policy word; transport = "udp" | "tcp"; qtype = "A" "AAAA" "TXT" "SOA" "NS"
 * "ANY" "other"; rcode = "NOERROR" "NXDOMAIN" "REFUSED" "FORMERR" "NOTIMP"
 * "SERVFAIL"; kind = "delta" | "snapshot"; result = "ok" | "error"; DNS TCP
 * reasons in mirror/mirror_metrics.c; event = a log event name; listener =
 * "api" | "metrics". */
typedef struct {
    bl_metric_t *build_info;         /* gauge {version} = 1 */
    bl_metric_t *mirror_info;        /* gauge {name} = 1: the name the master knows it by */
    bl_metric_t *window;             /* gauge, configured propagation window */
    bl_metric_t *config_reloads;     /* counter {result} */
    bl_metric_t *serial;             /* gauge {feed} */
    bl_metric_t *master_serial;      /* gauge {feed}, from the last valid heartbeat */
    bl_metric_t *behind;             /* gauge {feed}, seconds behind the master */
    bl_metric_t *heartbeat_age;      /* gauge {feed}, seconds since the last valid heartbeat */
    bl_metric_t *stale;              /* gauge {feed}: 0 fresh, 1 stale, 2 frozen */
    bl_metric_t *connected;          /* gauge {feed}: 1 while the sync session is up */
    bl_metric_t *trusted_key;        /* gauge {feed, key_id} = 1 per key trusted */
    bl_metric_t *signing_key;        /* gauge {feed, key_id} = 1: signed the last object verified */
    bl_metric_t *reconnects;         /* counter {feed} */
    bl_metric_t *delisting_prop;     /* histogram {feed}, decided at master -> applied here */
    bl_metric_t *listing_prop;       /* histogram {feed} */
    bl_metric_t *deltas_applied;     /* counter {feed} */
    bl_metric_t *snapshots_applied;  /* counter {feed} */
    bl_metric_t *deltas_refused;     /* counter {feed, reason} */
    bl_metric_t *snapshots_refused;  /* counter {feed, reason} */
    bl_metric_t *apply_duration;     /* histogram {feed, kind} */
    bl_metric_t *entries;            /* gauge {feed, family} */
    bl_metric_t *dns_queries;        /* counter {transport, qtype, rcode} */
    bl_metric_t *dns_listed;         /* counter {zone}: answers that said "listed" */
    bl_metric_t *dns_ttl;            /* gauge {zone}, TTL of positive answers */
    bl_metric_t *tcp_open;           /* gauge, open DNS TCP connections */
    bl_metric_t *tcp_accepted;       /* counter, accepted DNS TCP connections */
    bl_metric_t *tcp_refused;        /* counter {reason}, connections closed at accept */
    bl_metric_t *tcp_closed;         /* counter {reason}, connections the server ended */
    bl_metric_t *tcp_accept_pauses;  /* counter {reason}, accept paused: out of descriptors */
    bl_metric_t *udp_batches;        /* counter, receive calls that returned queries */
    bl_metric_t *udp_pauses;         /* counter, coalescing pauses (udp_coalesce_us) */
    bl_metric_t *acl_denied;         /* counter {action}, queries an ACL refused or dropped */
    bl_metric_t *rrl_limited;        /* counter {action}, UDP answers over the rate limit */
    bl_metric_t *current_age;        /* gauge {feed}, seconds since last known current */
    bl_metric_t *freeze_after;       /* gauge {feed}, the freeze limit in effect */
    bl_metric_t *state_writable;     /* gauge {feed}: 0 while writes to state_dir fail */
    bl_metric_t *state_write_errors; /* counter {feed, error} */
    bl_metric_t *state_refused;      /* counter {feed, reason}: persisted files refused at start */
    bl_metric_t *pull_requests;      /* counter {upstream, kind, result}: HTTP transfers */
    bl_metric_t *pull_refused;       /* counter {feed, upstream, what, reason} */
    bl_metric_t *pull_bytes;         /* counter {upstream} */
    bl_metric_t *log_events;         /* counter {event}: log lines at or above the level */
    bl_metric_t *log_suppressed;     /* counter {event}: lines the flood limit did not write */
    bl_metric_t *http_refused;       /* counter {listener, reason} */
    bl_metric_t *http_connections;   /* gauge {listener} */
    bl_metric_t *cert_expiry;        /* gauge: notAfter of the [sync] client certificate */
} bl_metrics_mirror_t;

typedef struct {
    bl_metric_t *build_info;         /* gauge {version} = 1 */
    bl_metric_t *window;             /* gauge, configured propagation window */
    bl_metric_t *active_after;       /* gauge, absence after which a mirror is gone */
    bl_metric_t *config_reloads;     /* counter {result} */
    bl_metric_t *serial;             /* gauge {feed}, last published serial */
    bl_metric_t *pending_changes;    /* gauge {feed}, decided but not yet published */
    bl_metric_t *last_publish_age;   /* gauge {feed}, seconds since the last publish */
    bl_metric_t *publishes;          /* counter {feed, result} */
    bl_metric_t *publish_duration;   /* histogram {feed} */
    bl_metric_t *publish_bytes;      /* histogram {feed, kind}, signed object size */
    bl_metric_t *heartbeats;         /* counter {feed}, heartbeats sent */
    bl_metric_t *mirrors_connected;  /* gauge {feed} */
    bl_metric_t *mirrors_active;     /* gauge {feed} */
    bl_metric_t *mirrors_gone;       /* gauge {feed} */
    bl_metric_t *mirrors_revoked;    /* gauge {feed}: known, on [sync] revoked, not forgotten */
    bl_metric_t *mirror_connected;   /* gauge {feed, mirror} */
    bl_metric_t *mirror_active;      /* gauge {feed, mirror}: 1 counts for the SLO, 0 gone */
    bl_metric_t *mirror_acked;       /* gauge {feed, mirror} */
    bl_metric_t *mirror_lag_serials; /* gauge {feed, mirror} */
    bl_metric_t *mirror_lag;         /* gauge {feed, mirror}, seconds */
    bl_metric_t *mirror_contact_age; /* gauge {feed, mirror}, seconds since last contact */
    bl_metric_t *mirror_key;         /* gauge {feed, mirror, key_id} = 1: key of what it holds */
    bl_metric_t *delisting_prop;     /* histogram {feed}: decided -> acked by last active mirror */
    bl_metric_t *oldest_delisting;   /* gauge {feed}, age of the oldest propagating delisting */
    bl_metric_t *oldest_delisting_serial; /* gauge {feed}, the serial that carries it */
    bl_metric_t *delistings_pending;      /* gauge {feed}, delistings still propagating */
    bl_metric_t *delistings_decided;      /* counter {feed, reason} */
    bl_metric_t *window_broken;           /* counter {feed} */
    bl_metric_t *reports_ingested;        /* counter {source} */
    bl_metric_t *reports_refused;         /* counter {reason} */
    bl_metric_t *listings;                /* gauge {feed, family} */
    bl_metric_t *mirror_sessions;         /* gauge {feed, mirror}, live sync sessions */
    bl_metric_t *sync_refused;            /* counter {stage, reason} */
    bl_metric_t *sync_disconnects;        /* counter {reason}: slow, silent */
    bl_metric_t *spool_quarantined;       /* counter {feed, reason} */
    bl_metric_t *log_events;              /* counter {event}: log lines at or above the level */
    bl_metric_t *log_suppressed;          /* counter {event}: lines the flood limit did not write */
    bl_metric_t *http_refused;            /* counter {listener, reason} */
    bl_metric_t *http_connections;        /* gauge {listener} */
    bl_metric_t *sync_handshakes;         /* gauge, sync connections in their TLS handshake */
    bl_metric_t *spool_requests;          /* counter {kind, status}: the spool's HTTP layout */
    bl_metric_t *spool_long_polls;        /* gauge: long polls held now */
    bl_metric_t *public_lookups;          /* counter {result}: lookups on the public listener */
    bl_metric_t *public_refused;          /* counter {reason}: public requests refused */
    bl_metric_t *public_proxied;          /* gauge: requests through trusted proxies in flight */
    bl_metric_t *reviews_filed;           /* counter {category} */
    bl_metric_t *reviews;                 /* gauge {state} */
    bl_metric_t *review_oldest;           /* gauge: age of the oldest unanswered request */
    bl_metric_t *review_limit;            /* gauge: the configured response limit */
    bl_metric_t *cert_expiry;             /* gauge: notAfter of the sync server's certificate */
    bl_metric_t *mirror_cert_expiry;      /* gauge {mirror}: notAfter of its client certificate */
    bl_metric_t *public_cert_expiry;      /* gauge: notAfter of the public listener's certificate */
} bl_metrics_master_t;

/* Registers the mirror's (or master's) families in r and fills *m. Call
 * once per registry. Returns 0 or the first bl_metrics_register error.
 * From then on every render also copies the logger's per-event counts
 * (bl_log_each_kind) into the log families. */
int bl_metrics_mirror_register(bl_metrics_t *r, bl_metrics_mirror_t *m);
int bl_metrics_master_register(bl_metrics_t *r, bl_metrics_master_t *m);

#endif

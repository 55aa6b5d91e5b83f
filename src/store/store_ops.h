/* store_ops.h - the domain SQL of operations: what /metrics and
 * `keeptrack users list` read about the whole instance (sync durations,
 * each user's last sync and token expiry).
 *
 * Read-only and portable (store.h's rules). Every figure is computed by the
 * database in one statement, so a scrape costs one round trip per family
 * however many rows the tables hold.
 *
 * Threads: like all store functions, one `store *` per thread at a time.
 */
#ifndef KT_STORE_STORE_OPS_H
#define KT_STORE_STORE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Upper bounds (ms) of the sync-duration histogram's buckets. */
#define STORE_OPS_SYNC_BUCKETS(X) \
    X(1000) X(5000) X(15000) X(30000) X(60000) X(120000) X(300000) X(600000) X(1800000) X(3600000)
#define STORE_OPS_SYNC_NBUCKETS 10

/* Distinct run statuses reported (done, failed, deferred, and room to spare). */
#define STORE_OPS_SYNC_MAX_STATUS 8

extern const int64_t store_ops_sync_bucket_ms[STORE_OPS_SYNC_NBUCKETS];

/* Finished sync runs of one status: how many, their total duration, and
 * per bucket how many took at most store_ops_sync_bucket_ms[i]
 * (cumulative, as Prometheus wants them). */
typedef struct store_ops_sync_hist {
    char status[16];
    int64_t count;
    int64_t sum_ms;
    int64_t le[STORE_OPS_SYNC_NBUCKETS];
} store_ops_sync_hist;

/* Durations of every finished run in sync_runs (all users), grouped by
 * status, sorted by status. Fills out[0..*n) (*n <= STORE_OPS_SYNC_MAX_STATUS;
 * statuses past that are left out). Store errors as store.h. */
kt_status store_ops_sync_durations(store *s, store_ops_sync_hist out[STORE_OPS_SYNC_MAX_STATUS],
                                   size_t *n, kt_err *err);

/* Columns of store_ops_user_overview's rows. */
enum {
    STORE_OPS_USER_ID,            /* int */
    STORE_OPS_USER_ACCOUNT,       /* text */
    STORE_OPS_USER_NAME,          /* text or NULL */
    STORE_OPS_USER_STATUS,        /* text */
    STORE_OPS_USER_AUTHORIZED_AT, /* int unix ms or NULL */
    STORE_OPS_USER_TOKEN_EXPIRES, /* access token expiry, unix ms; NULL: no tokens */
    STORE_OPS_USER_LAST_SYNC_AT,  /* start of the latest sync run, unix ms; NULL: never */
    STORE_OPS_USER_LAST_SYNC,     /* that run's status (running|done|failed|deferred) or NULL */
    STORE_OPS_USER_NCOLS
};

/* One row per user, ordered by id, with the columns above. *out is owned by
 * the caller (store_rows_free). Store errors as store.h. */
kt_status store_ops_user_overview(store *s, store_rows **out, kt_err *err);

#endif

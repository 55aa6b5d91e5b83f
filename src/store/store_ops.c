/* store_ops.c - operations' read-only SQL (see store_ops.h): the sync
 * duration histogram for /metrics and the per-user overview of
 * `keeptrack users list`.
 *
 * The histogram is computed by the database in one GROUP BY with one
 * SUM(CASE ...) per bucket; the bucket bounds are literals generated from
 * the same list as store_ops_sync_bucket_ms, so the two cannot disagree.
 */
#include "store/store_ops.h"

#include <stdio.h>
#include <string.h>

#define MS_VALUE(ms) (ms),
const int64_t store_ops_sync_bucket_ms[STORE_OPS_SYNC_NBUCKETS] = {
    STORE_OPS_SYNC_BUCKETS(MS_VALUE)};

#define LE_COLUMN(ms) ", SUM(CASE WHEN finished_at - started_at <= " #ms " THEN 1 ELSE 0 END)"
static const char sync_hist_sql[] =
    "SELECT status, COUNT(*), COALESCE(SUM(finished_at - started_at), 0)" STORE_OPS_SYNC_BUCKETS(
        LE_COLUMN) " FROM sync_runs WHERE finished_at IS NOT NULL GROUP BY status ORDER BY status";

kt_status store_ops_sync_durations(store *s, store_ops_sync_hist out[STORE_OPS_SYNC_MAX_STATUS],
                                   size_t *n, kt_err *err)
{
    store_rows *r = NULL;
    size_t rows, kept = 0;
    kt_status st = store_query(s, sync_hist_sql, NULL, 0, &r, err);
    if (st != KT_OK)
        return st;
    rows = store_rows_count(r);
    for (size_t i = 0; i < rows && kept < STORE_OPS_SYNC_MAX_STATUS; i++) {
        store_ops_sync_hist *h = &out[kept++];
        const char *status = store_rows_text(r, i, 0);
        memset(h, 0, sizeof *h);
        snprintf(h->status, sizeof h->status, "%s", status ? status : "");
        h->count = store_rows_int(r, i, 1);
        h->sum_ms = store_rows_int(r, i, 2);
        for (size_t b = 0; b < STORE_OPS_SYNC_NBUCKETS; b++)
            h->le[b] = store_rows_int(r, i, 3 + b);
    }
    store_rows_free(r);
    *n = kept;
    return KT_OK;
}

kt_status store_ops_user_overview(store *s, store_rows **out, kt_err *err)
{
    /* The latest run per user by (started_at, id): correlated subqueries on
     * the sync_runs_user (user_id, started_at) index. */
    return store_query(
        s,
        "SELECT u.id, u.account_id, u.display_name, u.status, u.authorized_at, t.expires_at,"
        " (SELECT r.started_at FROM sync_runs r WHERE r.user_id = u.id"
        "  ORDER BY r.started_at DESC, r.id DESC LIMIT 1),"
        " (SELECT r.status FROM sync_runs r WHERE r.user_id = u.id"
        "  ORDER BY r.started_at DESC, r.id DESC LIMIT 1)"
        " FROM users u LEFT JOIN user_tokens t ON t.user_id = u.id ORDER BY u.id",
        NULL, 0, out, err);
}

/* routes_admin.c - what the web UI's admin page shows (issue 10):
 *
 *   GET /api/admin/overview   {users: [{id, account_id, display_name, status,
 *                             authorized_at, access_token_expires_at,
 *                             last_sync_at, last_sync_status}],
 *                             jobs: {queued, running, deferred, done, failed},
 *                             recent_jobs: [...], failures: [...]}
 *
 * recent_jobs are the newest ADMIN_RECENT jobs of every user; failures the
 * failed ones among the newest ADMIN_SCAN. A job here: {id, kind, user_id,
 * state, attempts, message, error, created_at, finished_at} (no params:
 * the admin needs what happened, not what a user asked for).
 *
 * Protected by the admin token (routes_require_admin: Bearer
 * KEEPTRACK_ADMIN_TOKEN; 404 when none is configured), not by a session:
 * the same person who reads /metrics. Read-only, so no cross-site check is
 * involved; the reads are the ones `keeptrack users list` and /metrics
 * make (store_ops, store_jobs), so no service of its own is needed.
 */
#include <string.h>

#include "http/routes.h"
#include "services/app_priv.h"
#include "store/store_jobs.h"
#include "store/store_ops.h"

#define ADMIN_RECENT 50
#define ADMIN_SCAN 500

static json_t *text_or_null(const store_rows *r, size_t row, int col)
{
    const char *s = store_rows_text(r, row, col);
    return s ? json_string(s) : json_null();
}

static json_t *users_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        json_t *u = json_pack(
            "{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
            (json_int_t)store_rows_int(r, i, STORE_OPS_USER_ID), "account_id",
            text_or_null(r, i, STORE_OPS_USER_ACCOUNT), "display_name",
            text_or_null(r, i, STORE_OPS_USER_NAME), "status",
            text_or_null(r, i, STORE_OPS_USER_STATUS), "authorized_at",
            routes_time_json(store_rows_int(r, i, STORE_OPS_USER_AUTHORIZED_AT)),
            "access_token_expires_at",
            routes_time_json(store_rows_int(r, i, STORE_OPS_USER_TOKEN_EXPIRES)), "last_sync_at",
            routes_time_json(store_rows_int(r, i, STORE_OPS_USER_LAST_SYNC_AT)),
            "last_sync_status", text_or_null(r, i, STORE_OPS_USER_LAST_SYNC));
        if (u == NULL || json_array_append_new(arr, u) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *job_summary(const store_job *j)
{
    return json_pack("{s:I,s:s,s:o,s:s,s:i,s:o,s:o,s:o,s:o}", "id", (json_int_t)j->id, "kind",
                     j->kind, "user_id", j->user_id ? json_integer(j->user_id) : json_null(),
                     "state", j->state, "attempts", j->attempts, "message",
                     j->message ? json_string(j->message) : json_null(), "error",
                     j->error ? json_string(j->error) : json_null(), "created_at",
                     routes_time_json(j->created_at), "finished_at",
                     routes_time_json(j->finished_at));
}

/* recent: the first ADMIN_RECENT of jobs; failures: every failed one. */
static int jobs_json(const store_job *jobs, size_t n, json_t *recent, json_t *failures)
{
    for (size_t i = 0; i < n; i++) {
        int failed = strcmp(jobs[i].state, STORE_JOB_FAILED) == 0;
        if (i >= ADMIN_RECENT && !failed)
            continue;
        json_t *j = job_summary(&jobs[i]);
        if (j == NULL)
            return 0;
        if ((i < ADMIN_RECENT && json_array_append(recent, j) != 0) ||
            (failed && json_array_append(failures, j) != 0)) {
            json_decref(j);
            return 0;
        }
        json_decref(j);
    }
    return 1;
}

static void overview_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    store *s = NULL;
    store_rows *users = NULL;
    store_job *jobs = NULL;
    size_t njobs = 0;
    int64_t counts[STORE_JOB_N_STATES] = {0};
    json_t *body = NULL, *recent = NULL, *failures = NULL;
    kt_status st;

    if (!routes_require_admin(r, app))
        return;
    if ((st = app_db_get(app, &s, &err)) != KT_OK)
        goto out;
    if ((st = store_ops_user_overview(s, &users, &err)) == KT_OK &&
        (st = store_job_counts(s, counts, &err)) == KT_OK)
        st = store_job_list(s, 0, ADMIN_SCAN, &jobs, &njobs, &err);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    recent = json_array();
    failures = json_array();
    if (recent == NULL || failures == NULL || !jobs_json(jobs, njobs, recent, failures))
        goto nomem;
    body = json_pack("{s:o,s:{s:I,s:I,s:I,s:I,s:I},s:O,s:O}", "users", users_json(users), "jobs",
                     "queued", (json_int_t)counts[STORE_JOB_N_QUEUED], "running",
                     (json_int_t)counts[STORE_JOB_N_RUNNING], "deferred",
                     (json_int_t)counts[STORE_JOB_N_DEFERRED], "done",
                     (json_int_t)counts[STORE_JOB_N_DONE], "failed",
                     (json_int_t)counts[STORE_JOB_N_FAILED], "recent_jobs", recent, "failures",
                     failures);
    if (body == NULL)
        goto nomem;
    http_reply_json(r, 200, body);
    goto out;
nomem:
    st = err_set(&err, KT_ERR_NOMEM, NULL, "out of memory");
out:
    if (st != KT_OK)
        http_reply_error(r, &err);
    json_decref(recent);
    json_decref(failures);
    store_job_list_free(jobs, njobs);
    store_rows_free(users);
}

const http_route routes_admin[] = {
    {"GET", "/api/admin/overview", overview_handler, 0},
};
const size_t routes_admin_count = sizeof routes_admin / sizeof routes_admin[0];

/* admin.c - the admin page's overview (see admin.h): the reads `keeptrack
 * users list` and /metrics make (store_ops, store_jobs), shaped as JSON. */
#include "services/admin.h"

#include <string.h>

#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/rowjson.h"
#include "store/store_jobs.h"
#include "store/store_ops.h"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

/* unix ms -> ISO 8601 string; 0 (never) -> null. */
static json_t *time_json(int64_t ms)
{
    char iso[32];
    if (ms == 0)
        return json_null();
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *users_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        json_t *u =
            json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                      (json_int_t)store_rows_int(r, i, STORE_OPS_USER_ID), "account_id",
                      rowjson_text(r, i, STORE_OPS_USER_ACCOUNT), "display_name",
                      rowjson_text(r, i, STORE_OPS_USER_NAME), "status",
                      rowjson_text(r, i, STORE_OPS_USER_STATUS), "authorized_at",
                      time_json(store_rows_int(r, i, STORE_OPS_USER_AUTHORIZED_AT)),
                      "access_token_expires_at",
                      time_json(store_rows_int(r, i, STORE_OPS_USER_TOKEN_EXPIRES)), "last_sync_at",
                      time_json(store_rows_int(r, i, STORE_OPS_USER_LAST_SYNC_AT)),
                      "last_sync_status", rowjson_text(r, i, STORE_OPS_USER_LAST_SYNC));
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
                     time_json(j->created_at), "finished_at", time_json(j->finished_at));
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

kt_status admin_overview(kt_app *app, json_t **out, kt_err *err)
{
    store *s = NULL;
    store_rows *users = NULL;
    store_job *jobs = NULL;
    size_t njobs = 0;
    int64_t counts[STORE_JOB_N_STATES] = {0};
    json_t *body = NULL, *recent = NULL, *failures = NULL;
    kt_status st;

    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    if ((st = store_ops_user_overview(s, &users, err)) == KT_OK &&
        (st = store_job_counts(s, counts, err)) == KT_OK)
        st = store_job_list(s, 0, ADMIN_SCAN, &jobs, &njobs, err);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    recent = json_array();
    failures = json_array();
    if (recent == NULL || failures == NULL || !jobs_json(jobs, njobs, recent, failures)) {
        st = nomem(err);
        goto out;
    }
    body = json_pack(
        "{s:o,s:{s:I,s:I,s:I,s:I,s:I},s:O,s:O}", "users", users_json(users), "jobs", "queued",
        (json_int_t)counts[STORE_JOB_N_QUEUED], "running", (json_int_t)counts[STORE_JOB_N_RUNNING],
        "deferred", (json_int_t)counts[STORE_JOB_N_DEFERRED], "done",
        (json_int_t)counts[STORE_JOB_N_DONE], "failed", (json_int_t)counts[STORE_JOB_N_FAILED],
        "recent_jobs", recent, "failures", failures);
    if (body == NULL) {
        st = nomem(err);
        goto out;
    }
    *out = body;
out:
    json_decref(recent);
    json_decref(failures);
    store_job_list_free(jobs, njobs);
    store_rows_free(users);
    return st;
}

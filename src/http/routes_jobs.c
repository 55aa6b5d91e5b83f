/* routes_jobs.c - starting a sync and following jobs over HTTP.
 *
 *   POST /api/sync        {"what":["liked","playlists"]} or {"what":"liked,playlists"}
 *                         (default: everything) -> 202 with the job and
 *                         Location: /api/jobs/{id}. When the user already has a
 *                         sync queued or running, that job is returned (202).
 *   GET  /api/sync/estimate  ?what=liked,playlists (default: everything) -> the
 *                         Spotify requests that sync would spend, from the
 *                         stored copy (sync_estimate; nothing is sent)
 *   GET  /api/jobs/{id}   the job (state, progress, message, error, run_after,
 *                         timestamps); another user's job is 404 like a missing one
 *   GET  /api/jobs        the user's recent jobs, newest first (?limit=1..100, 20)
 *
 * Session-authenticated and user-scoped; bad parameters are 400 naming them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "http/routes.h"
#include "services/jobs.h"
#include "services/sync.h"

#define WHAT_MAX_WORDS 16
#define WHAT_CSV_MAX 256
#define LIST_DEFAULT 20
#define LIST_MAX 100

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The job as API clients see it. New reference, NULL when memory runs out. */
static json_t *job_json(const store_job *j)
{
    json_t *params = NULL;
    if (j->params == NULL ||
        json_parse_bounded(j->params, strlen(j->params), 8, &params, NULL) != KT_OK)
        params = json_object();
    return json_pack("{s:I,s:s,s:s,s:o,s:{s:I,s:I},s:o,s:o,s:i,s:i,s:o,s:o,s:o,s:o}", "id",
                     (json_int_t)j->id, "kind", j->kind, "state", j->state, "params", params,
                     "progress", "done", (json_int_t)j->progress_done, "total",
                     (json_int_t)j->progress_total, "message", text_or_null(j->message), "error",
                     text_or_null(j->error), "attempts", j->attempts, "max_attempts",
                     j->max_attempts, "run_after", routes_time_json(j->run_after), "created_at",
                     routes_time_json(j->created_at), "started_at",
                     routes_time_json(j->started_at), "finished_at",
                     routes_time_json(j->finished_at));
}

/* body.what as sync_parse_what's comma-separated text: a string, an array
 * of strings, or absent ("" = everything). 400 naming `what` otherwise. */
static kt_status what_csv(const json_t *body, char out[WHAT_CSV_MAX], kt_err *err)
{
    const json_t *what = json_object_get(body, "what");
    size_t at = 0, i;
    json_t *word;
    out[0] = '\0';
    if (what == NULL || json_is_null(what))
        return KT_OK;
    if (json_is_string(what)) {
        if (json_string_length(what) >= WHAT_CSV_MAX)
            return err_set(err, KT_ERR_INVALID, "bad_what", "what: too long");
        snprintf(out, WHAT_CSV_MAX, "%s", json_string_value(what));
        return KT_OK;
    }
    if (!json_is_array(what) || json_array_size(what) == 0 ||
        json_array_size(what) > WHAT_MAX_WORDS)
        return err_set(err, KT_ERR_INVALID, "bad_what",
                       "what: expected a list of 1..%d collection names or a comma-separated "
                       "string",
                       WHAT_MAX_WORDS);
    json_array_foreach(what, i, word) {
        const char *w = json_string_value(word);
        size_t n = w ? strlen(w) : 0;
        if (w == NULL || n == 0 || strchr(w, ',') || at + n + 2 > WHAT_CSV_MAX)
            return err_set(err, KT_ERR_INVALID, "bad_what",
                           "what[%zu]: expected a collection name", i);
        at += (size_t)snprintf(out + at, WHAT_CSV_MAX - at, "%s%s", at ? "," : "", w);
    }
    return KT_OK;
}

/* Replies `status` with job `id` of user uid (and Location when asked). */
static void reply_job(http_req *r, kt_app *app, int64_t uid, int64_t id, int status,
                      int with_location)
{
    kt_err err = {0};
    store_job job = {0};
    if (jobs_get(app, uid, id, &job, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    json_t *body = job_json(&job);
    store_job_clear(&job);
    if (body == NULL) {
        http_reply_error_msg(r, 500, "internal", "could not build the answer");
        return;
    }
    if (with_location) {
        char loc[64];
        snprintf(loc, sizeof loc, "/api/jobs/%lld", (long long)id);
        http_reply_header(r, "Location", loc);
    }
    http_reply_json(r, status, body);
}

static void sync_post_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    json_t *body = NULL;
    char csv[WHAT_CSV_MAX], canonical[WHAT_CSV_MAX];
    unsigned what = 0;
    int64_t uid = 0, id = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    kt_status st = what_csv(body, csv, &err);
    json_decref(body);
    if (st == KT_OK && (st = sync_parse_what(csv, &what, &err)) != KT_OK)
        err_prefix(&err, "what");
    if (st != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    sync_format_what(what, canonical, sizeof canonical);
    if (jobs_enqueue_sync(app, uid, canonical, NULL, &id, NULL, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    reply_job(r, app, uid, id, 202, 1);
}

static void sync_estimate_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    unsigned what = 0;
    int64_t uid = 0;
    json_t *body = NULL;
    const char *q = http_req_query(r, "what");
    if (!routes_require_user(r, app, &uid))
        return;
    if (q && strlen(q) >= WHAT_CSV_MAX) {
        http_reply_error_msg(r, 400, "bad_what", "what: too long");
        return;
    }
    if (sync_parse_what(q, &what, &err) != KT_OK) {
        err_prefix(&err, "what");
        http_reply_error(r, &err);
        return;
    }
    if (sync_estimate(app, uid, what, &body, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        http_reply_json(r, 200, body);
}

/* A positive decimal id of at most 18 digits; 0 when not one. */
static int64_t parse_id(const char *s)
{
    int64_t v = 0;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void job_get_handler(http_req *r, void *ctx)
{
    int64_t uid = 0, id;
    if (!routes_require_user(r, ctx, &uid))
        return;
    if ((id = parse_id(http_req_param(r, "id"))) <= 0) {
        http_reply_error_msg(r, 400, "bad_id", "id: expected a job id (a positive number)");
        return;
    }
    reply_job(r, ctx, uid, id, 200, 0);
}

static void jobs_list_handler(http_req *r, void *ctx)
{
    kt_err err = {0};
    store_job *jobs = NULL;
    size_t n = 0;
    int64_t uid = 0, limit = LIST_DEFAULT;
    const char *q = http_req_query(r, "limit");
    if (!routes_require_user(r, ctx, &uid))
        return;
    if (q && ((limit = parse_id(q)) < 1 || limit > LIST_MAX)) {
        http_reply_error_msg(r, 400, "bad_limit", "limit: expected 1..%d", LIST_MAX);
        return;
    }
    if (jobs_list(ctx, uid, (int)limit, &jobs, &n, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, job_json(&jobs[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    store_job_list_free(jobs, n);
    json_t *body = arr ? json_pack("{s:o}", "jobs", arr) : NULL;
    if (body == NULL)
        http_reply_error_msg(r, 500, "internal", "could not build the answer");
    else
        http_reply_json(r, 200, body);
}

const http_route routes_jobs[] = {
    {"POST", "/api/sync", sync_post_handler, 0},
    {"GET", "/api/sync/estimate", sync_estimate_handler, 0},
    {"GET", "/api/jobs", jobs_list_handler, 0},
    {"GET", "/api/jobs/{id}", job_get_handler, 0},
};
const size_t routes_jobs_count = sizeof routes_jobs / sizeof routes_jobs[0];

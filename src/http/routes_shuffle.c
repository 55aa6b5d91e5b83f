/* routes_shuffle.c - shuffles, shared Liked Songs and shuffle statistics
 * over HTTP (services/shuffle.h does the work).
 *
 *   POST   /api/shuffle        {"source": "liked" | playlist id,
 *                               "mode": "uniform" | "spread" (default uniform),
 *                               "name"?: string, "new"?: bool}
 *                              -> 202 with the job (kind "shuffle") and
 *                              Location: /api/jobs/{id}
 *                              (routes_reply_job_accepted)
 *   POST   /api/share/liked    {"name"?: string, "public"?: bool} -> 202 with
 *                              the job (kind "share")
 *   DELETE /api/shuffle        unfollows every shuffled playlist keeptrack
 *                              made -> 200 {"deleted": N}
 *   GET    /api/stats/shuffles overall and the user's own statistics
 *
 * A user's shuffles and shares run one at a time (job lane
 * "shuffle:<user>"): the same request while one is queued or running
 * returns that job (202); a different one is 409 naming the running job.
 * Session-authenticated; bad parameters are 400 naming the parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "http/routes.h"
#include "services/jobs.h"
#include "services/shuffle.h"

/* Enqueues kind with params in the user's shuffle lane and answers 202
 * with the job (or 409 when another job holds the lane). Takes params. */
static void enqueue_reply(http_req *r, kt_app *app, int64_t uid, const char *kind,
                          json_t *params)
{
    kt_err err = {0};
    char lane[48];
    char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    int64_t id = 0;
    int created = 0;
    store_job job = {0};
    json_decref(params);
    if (text == NULL) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        return;
    }
    snprintf(lane, sizeof lane, "shuffle:%lld", (long long)uid);
    store_job_spec spec = {.kind = kind, .user_id = uid, .params = text, .lane = lane};
    if (jobs_enqueue(app, &spec, &id, &created, &err) != KT_OK ||
        jobs_get(app, uid, id, &job, &err) != KT_OK) {
        free(text);
        http_reply_error(r, &err);
        return;
    }
    if (!created && (strcmp(job.kind, kind) != 0 || !job.params ||
                     strcmp(job.params, text) != 0)) {
        http_reply_error_msg(r, 409, "shuffle_busy",
                             "another shuffle or share (job %lld) is %s; try again when it ends",
                             (long long)id, job.state);
    } else {
        routes_reply_job_accepted(r, app, id, created);
    }
    store_job_clear(&job);
    free(text);
}

/* body[key] must be absent, null or a boolean; 400 naming it otherwise. */
static int bool_field(http_req *r, const json_t *body, const char *key, int *out)
{
    const json_t *v = json_object_get(body, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_boolean(v)) {
        http_reply_error_msg(r, 400, "bad_parameter", "%s: expected true or false", key);
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

/* body.name: absent or 1..SHUFFLE_NAME_MAX bytes; 400 otherwise. */
static int name_field(http_req *r, const json_t *body, const char **out)
{
    const json_t *v = json_object_get(body, "name");
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > SHUFFLE_NAME_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error_msg(r, 400, "bad_name", "name: expected 1..%d bytes of text",
                             SHUFFLE_NAME_MAX);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

static void shuffle_post_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    json_t *body = NULL;
    int64_t uid = 0;
    int force_new = 0;
    shuffle_mode mode;
    const char *name = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    const json_t *src = json_object_get(body, "source"), *m = json_object_get(body, "mode");
    if ((m && !json_is_null(m) && !json_is_string(m)) ||
        shuffle_parse_mode(json_string_value(m), &mode, &err) != KT_OK) {
        http_reply_error_msg(r, 400, "bad_mode", "mode: expected \"uniform\" or \"spread\"");
    } else if (shuffle_check_source(json_string_value(src), &err) != KT_OK) {
        http_reply_error(r, &err);
    } else if (name_field(r, body, &name) && bool_field(r, body, "new", &force_new)) {
        json_t *params = json_pack("{s:s,s:s}", "source", json_string_value(src), "mode",
                                   shuffle_mode_name(mode));
        if (params && name)
            json_object_set_new(params, "name", json_string(name));
        if (params && force_new)
            json_object_set_new(params, "new", json_true());
        if (params)
            enqueue_reply(r, app, uid, SHUFFLE_JOB_KIND, params);
        else
            http_reply_error_msg(r, 500, "internal", "out of memory");
    }
    json_decref(body);
}

static void share_post_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    json_t *body = NULL, *params = NULL;
    int64_t uid = 0;
    int public_ = 0;
    const char *name = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if (name_field(r, body, &name) && bool_field(r, body, "public", &public_)) {
        params = json_pack("{s:b}", "public", public_);
        if (params && name)
            json_object_set_new(params, "name", json_string(name));
        if (params)
            enqueue_reply(r, app, uid, SHUFFLE_SHARE_JOB_KIND, params);
        else
            http_reply_error_msg(r, 500, "internal", "out of memory");
    }
    json_decref(body);
}

static void shuffle_delete_handler(http_req *r, void *ctx)
{
    kt_err err = {0};
    int64_t uid = 0, deleted = 0;
    if (!routes_require_user(r, ctx, &uid))
        return;
    if (shuffle_delete_all(ctx, uid, &deleted, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    json_t *body = json_pack("{s:I}", "deleted", (json_int_t)deleted);
    if (body)
        http_reply_json(r, 200, body);
    else
        http_reply_error_msg(r, 500, "internal", "out of memory");
}

static void stats_handler(http_req *r, void *ctx)
{
    kt_err err = {0};
    int64_t uid = 0;
    json_t *body = NULL;
    if (!routes_require_user(r, ctx, &uid))
        return;
    if (shuffle_stats(ctx, uid, &body, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        http_reply_json(r, 200, body);
}

const http_route routes_shuffle[] = {
    {"POST", "/api/shuffle", shuffle_post_handler, 0},
    {"DELETE", "/api/shuffle", shuffle_delete_handler, 0},
    {"POST", "/api/share/liked", share_post_handler, 0},
    {"GET", "/api/stats/shuffles", stats_handler, 0},
};
const size_t routes_shuffle_count = sizeof routes_shuffle / sizeof routes_shuffle[0];

/* routes_trending.c - trending tracks over HTTP (issue 18; services/trending.h
 * does the work, store/store_trending.c holds the SQL).
 *
 *   GET    /api/trending           the list -> 200 {tracks, total, audio_features}
 *   POST   /api/trending           {"track": URI or URL, "source": "library" |
 *                                  "top" | "movement" | "uri" (default "uri")}
 *                                  -> 201 {added: true, track} (200 with added
 *                                  false when it was already listed)
 *   PUT    /api/trending           {"uris": [every listed URI, in the new order]}
 *                                  -> 200 the list
 *   DELETE /api/trending/{id}      removes spotify:track:{id} -> 200 the list
 *   GET    /api/trending/export    text/csv (trending.csv)
 *   POST   /api/trending/import    a CSV file (text/csv body, or one file of a
 *                                  multipart/form-data upload) replacing the list
 *                                  -> 200 {imported, fetched}
 *   POST   /api/trending/playlist  {"name"?: string} -> 202 with the job (kind
 *                                  "trending_playlist"); while one is queued or
 *                                  running for the user, that job is returned
 *
 * Session-authenticated; bad input is 400 naming the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "http/routes.h"
#include "services/jobs.h"
#include "services/trending.h"

/* The largest CSV export kept in memory (500 rows fit many times over). */
#define EXPORT_MAX ((size_t)4 << 20)

static void reply_list(http_req *r, kt_app *app, int64_t uid)
{
    kt_err err = {0};
    json_t *body = NULL;
    routes_reply_result(r, trending_list(app, uid, &body, &err), &body, &err);
}

static void list_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    if (routes_require_user(r, app, &uid))
        reply_list(r, app, uid);
}

/* body[key] must be absent or a string; 400 naming it otherwise. */
static int string_field(http_req *r, const json_t *body, const char *key, const char **out)
{
    const json_t *v = json_object_get(body, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error_msg(r, 400, "bad_parameter", "%s: expected a string", key);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

static void add_handler(http_req *r, void *app)
{
    kt_err err = {0};
    json_t *body = NULL, *out = NULL;
    int64_t uid = 0;
    const char *track = NULL, *source = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if (string_field(r, body, "track", &track) && string_field(r, body, "source", &source)) {
        if (!track)
            http_reply_error_msg(r, 400, "bad_parameter",
                                 "track: required (a Spotify track URI or URL)");
        else if (trending_add(app, uid, track, source ? source : "uri", &out, &err) != KT_OK)
            http_reply_error(r, &err);
        else
            http_reply_json(r, json_is_true(json_object_get(out, "added")) ? 201 : 200, out);
    }
    json_decref(body);
}

static void reorder_handler(http_req *r, void *app)
{
    kt_err err = {0};
    json_t *body = NULL;
    int64_t uid = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if (trending_reorder(app, uid, json_object_get(body, "uris"), &err) != KT_OK)
        http_reply_error(r, &err);
    else
        reply_list(r, app, uid);
    json_decref(body);
}

static void remove_handler(http_req *r, void *app)
{
    kt_err err = {0};
    int64_t uid = 0;
    char ref[96], uri[96];
    const char *id = http_req_param(r, "id");
    if (!routes_require_user(r, app, &uid))
        return;
    if (!id || strlen(id) > 64) {
        http_reply_error_msg(r, 400, "bad_parameter", "id: expected a Spotify track id");
        return;
    }
    snprintf(ref, sizeof ref, "spotify:track:%s", id);
    if (trending_parse_ref(ref, "id", uri, &err) != KT_OK ||
        trending_remove(app, uid, uri, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        reply_list(r, app, uid);
}

static void export_handler(http_req *r, void *app)
{
    kt_err err = {0};
    int64_t uid = 0;
    buf b;
    if (!routes_require_user(r, app, &uid))
        return;
    buf_init(&b, EXPORT_MAX);
    if (trending_export_csv(app, uid, &b, &err) != KT_OK) {
        http_reply_error(r, &err);
    } else {
        http_reply_header(r, "Content-Disposition", "attachment; filename=\"trending.csv\"");
        http_reply_bytes(r, 200, "text/csv; charset=utf-8", b.data, b.len);
    }
    buf_free(&b);
}

static void import_handler(http_req *r, void *app)
{
    kt_err err = {0};
    int64_t uid = 0;
    json_t *out = NULL;
    size_t len = 0;
    const char *data = http_req_body(r, &len);
    if (!routes_require_user(r, app, &uid))
        return;
    http_parts *parts = calloc(1, sizeof *parts); /* large: not on the stack */
    if (!parts) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        return;
    }
    int multipart = routes_multipart_files(r, parts);
    if (multipart == 1 && parts->n != 1) {
        http_reply_error_msg(r, 400, "bad_parameter", "file: expected exactly one CSV file");
    } else if (multipart != 0) {
        if (multipart == 1) {
            data = parts->part[0].data;
            len = parts->part[0].len;
        }
        routes_reply_result(r, trending_import_csv(app, uid, data, len, &out, &err), &out, &err);
    }
    free(parts);
}

static void playlist_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    json_t *body = NULL, *params = NULL;
    int64_t uid = 0, id = 0;
    int created = 0;
    const char *name = NULL;
    char lane[48], *text = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if (!string_field(r, body, "name", &name))
        goto out;
    if (name && (name[0] == '\0' || strlen(name) > SHUFFLE_NAME_MAX)) {
        http_reply_error_msg(r, 400, "bad_name", "name: expected 1..%d bytes of text",
                             SHUFFLE_NAME_MAX);
        goto out;
    }
    params = name ? json_pack("{s:s}", "name", name) : json_object();
    if (!params || !(text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS))) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        goto out;
    }
    /* One run per user at a time: writing the same playlist twice at once
     * would interleave the two writes. */
    snprintf(lane, sizeof lane, "trending:%lld", (long long)uid);
    store_job_spec spec = {.kind = TRENDING_JOB_PLAYLIST, .user_id = uid, .params = text,
                           .lane = lane};
    if (jobs_enqueue(app, &spec, &id, &created, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        routes_reply_job_accepted(r, app, id, created);
out:
    free(text);
    json_decref(params);
    json_decref(body);
}

const http_route routes_trending[] = {
    {"GET", "/api/trending", list_handler, 0},
    {"POST", "/api/trending", add_handler, 0},
    {"PUT", "/api/trending", reorder_handler, 0},
    {"DELETE", "/api/trending/{id}", remove_handler, 0},
    {"GET", "/api/trending/export", export_handler, 0},
    {"POST", "/api/trending/import", import_handler, 0},
    {"POST", "/api/trending/playlist", playlist_handler, 0},
};
const size_t routes_trending_count = sizeof routes_trending / sizeof routes_trending[0];

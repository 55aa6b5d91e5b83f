/* routes_export.c - export and restore over HTTP (issue 9):
 *
 *   GET  /api/export?format=json|csv   the user's data, streamed: JSON
 *        (export.h: each chunk read from the store as the client takes it)
 *        or a zip of Exportify-style CSV files (built in a temporary file,
 *        then streamed from it). Content-Disposition names the file.
 *   POST /api/restore                  the upload as the raw body: a
 *        keeptrack JSON export, one CSV file (?name= gives its file name,
 *        which names the playlist; liked_songs.csv is Liked Songs) or a zip
 *        of CSV/JSON files; or multipart/form-data with one or more such
 *        files (each part's filename names it), restored together as one
 *        request. Options in the query: playlists=ID|NAME,... ,
 *        mode=new|refill, liked=true|false (default false),
 *        dry_run=true|false. Everything is parsed and checked here: 400
 *        naming the file and line for a bad upload, 413 over
 *        RESTORE_UPLOAD_MAX; then 202 {restore_id, job_id, playlists,
 *        liked} and a job (kind "restore") does the work.
 *   GET  /api/restore/{id}             the request: status, options, report.
 *   POST /api/playlists/{id}/versions/restore {snapshot, mode, dry_run}
 *   POST /api/playlists/{id}/versions/{snapshot}/restore (ids without '/')
 *        {"mode": "new"|"in_place", "dry_run": bool}: restore a stored
 *        version of the playlist; 202 as above.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/routes.h"
#include "services/export.h"
#include "services/restore.h"

/* The largest restore upload (the server's own cap for uploads is larger). */
#define RESTORE_UPLOAD_MAX RESTORE_MAX_FILE_BYTES

/* ---- export ---- */

static long json_stream(void *ctx, uint64_t pos, char *dst, size_t max)
{
    (void)pos;
    return export_stream_read(ctx, dst, max);
}

static void json_stream_free(void *ctx)
{
    export_stream *es = ctx;
    if (es && export_stream_error(es)->status != KT_OK)
        LOG_WARN("export_failed", "error=%s", export_stream_error(es)->msg);
    export_stream_free(es);
}

typedef struct file_stream {
    int fd;
} file_stream;

static long file_read(void *ctx, uint64_t pos, char *dst, size_t max)
{
    file_stream *fs = ctx;
    ssize_t n;
    do
        n = pread(fs->fd, dst, max, (off_t)pos);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : (long)n;
}

static void file_free(void *ctx)
{
    file_stream *fs = ctx;
    if (fs) {
        close(fs->fd);
        free(fs);
    }
}

static void attachment(http_req *r, const char *ext)
{
    char day[32], header[128];
    time_format_iso8601(time_now_ms(), day);
    day[10] = '\0';
    snprintf(header, sizeof header, "attachment; filename=\"keeptrack-export-%s.%s\"", day, ext);
    http_reply_header(r, "Content-Disposition", header);
}

static void export_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    const char *format = http_req_query(r, "format");
    if (!routes_require_user(r, app, &uid))
        return;
    if (!format || strcmp(format, "json") == 0) {
        export_stream *es = NULL;
        if (export_stream_open(app, uid, &es, &err) != KT_OK) {
            http_reply_error(r, &err);
            return;
        }
        attachment(r, "json");
        http_reply_stream(r, 200, "application/json", json_stream, es, json_stream_free);
        return;
    }
    if (strcmp(format, "csv") != 0) {
        http_reply_error_msg(r, 400, "bad_parameter", "format must be json or csv");
        return;
    }
    int fd = -1;
    int64_t size = 0;
    file_stream *fs = NULL;
    if (export_csv_zip(app, uid, NULL, &fd, &size, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if ((fs = malloc(sizeof *fs)) == NULL) {
        close(fd);
        http_reply_error_msg(r, 500, "internal", "out of memory");
        return;
    }
    fs->fd = fd;
    attachment(r, "zip");
    http_reply_stream(r, 200, "application/zip", file_read, fs, file_free);
}

/* ---- restore ---- */

/* A boolean query parameter; 0 after replying 400 naming it. */
static int query_bool(http_req *r, const char *name, int *out)
{
    const char *v = http_req_query(r, name);
    if (!v) {
        *out = 0;
        return 1;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
        *out = 0;
    else {
        http_reply_error_msg(r, 400, "bad_parameter", "%s must be true or false", name);
        return 0;
    }
    return 1;
}

/* The options of the query string into *o; 0 after replying 400. */
static int restore_query(http_req *r, restore_options *o)
{
    kt_err err = {0};
    const char *sel = http_req_query(r, "playlists");
    if (!query_bool(r, "liked", &o->liked) || !query_bool(r, "dry_run", &o->dry_run))
        return 0;
    if (restore_parse_mode(http_req_query(r, "mode"), &o->mode, &err) != KT_OK) {
        http_reply_error(r, &err);
        return 0;
    }
    while (sel && *sel) {
        size_t n = strcspn(sel, ",");
        char one[RESTORE_NAME_MAX + 1];
        if (n > RESTORE_NAME_MAX) {
            http_reply_error_msg(r, 400, "bad_parameter", "playlists: a name is too long");
            return 0;
        }
        memcpy(one, sel, n);
        one[n] = '\0';
        if (n > 0 && restore_options_add_playlist(o, one, &err) != KT_OK) {
            http_reply_error(r, &err);
            return 0;
        }
        sel += n + (sel[n] == ',');
    }
    return 1;
}

/* The upload's file name: ?name=, else from the content type. */
static const char *upload_name(http_req *r)
{
    const char *name = http_req_query(r, "name"), *ct = http_req_header(r, "Content-Type");
    if (name && *name)
        return name;
    if (ct && strncasecmp(ct, "text/csv", 8) == 0)
        return "upload.csv";
    if (ct && (strncasecmp(ct, "application/zip", 15) == 0 ||
               strncasecmp(ct, "application/x-zip", 17) == 0))
        return "upload.zip";
    return "upload.json";
}

static void reply_submitted(http_req *r, int64_t restore_id, int64_t job_id, json_t *extra)
{
    char loc[64];
    snprintf(loc, sizeof loc, "/api/restore/%lld", (long long)restore_id);
    http_reply_header(r, "Location", loc);
    json_t *body = json_pack("{s:I,s:I,s:s}", "restore_id", (json_int_t)restore_id, "job_id",
                             (json_int_t)job_id, "status_url", loc);
    if (body && extra)
        json_object_update(body, extra);
    json_decref(extra);
    http_reply_json(r, 202, body);
}

/* Parses the upload into in: each file part of a multipart body, or the
 * raw body as one file. Names what it read into source ("upload NAME",
 * "+N more" for several files). 0 after replying. */
static int restore_read_upload(http_req *r, restore_input *in, char *source, size_t cap)
{
    kt_err err = {0};
    size_t len = 0;
    const char *body = http_req_body(r, &len);
    http_parts *parts = calloc(1, sizeof *parts);
    kt_status st = KT_OK;
    if (!parts) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        return 0;
    }
    int multipart = routes_multipart_files(r, parts);
    if (multipart == 0) {
        free(parts);
        return 0;
    }
    if (multipart == 1) {
        for (size_t i = 0; i < parts->n && st == KT_OK; i++)
            st = restore_parse_file(parts->part[i].name, parts->part[i].data, parts->part[i].len,
                                    in, &err);
        if (parts->n > 1)
            snprintf(source, cap, "upload %.200s +%zu more", parts->part[0].name, parts->n - 1);
        else
            snprintf(source, cap, "upload %.200s", parts->part[0].name);
    } else {
        const char *name = upload_name(r);
        st = restore_parse_file(name, body, len, in, &err);
        snprintf(source, cap, "upload %.200s", name);
    }
    free(parts);
    if (st != KT_OK) {
        http_reply_error(r, &err);
        return 0;
    }
    return 1;
}

static void restore_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0, rid = 0, jid = 0;
    size_t len = 0;
    restore_options o = {0};
    restore_input *in = NULL;
    char source[256];
    if (!routes_require_user(r, app, &uid))
        return;
    (void)http_req_body(r, &len);
    if (len > RESTORE_UPLOAD_MAX) {
        http_reply_error_msg(r, 413, "too_large", "restore uploads are limited to %zu bytes",
                             (size_t)RESTORE_UPLOAD_MAX);
        return;
    }
    if (len == 0) {
        http_reply_error_msg(r, 400, "empty_body",
                             "upload a keeptrack JSON export, a CSV file or a zip as the body");
        return;
    }
    if (!restore_query(r, &o))
        goto out;
    if ((in = restore_input_new()) == NULL) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        goto out;
    }
    if (!restore_read_upload(r, in, source, sizeof source))
        goto out;
    if (restore_check(in, &o, &err) != KT_OK) {
        http_reply_error(r, &err);
        goto out;
    }
    if (restore_submit(app, uid, in, &o, source, &rid, &jid, &err) != KT_OK) {
        http_reply_error(r, &err);
        goto out;
    }
    reply_submitted(r, rid, jid,
                    json_pack("{s:I,s:I}", "playlists", (json_int_t)in->n_playlists, "liked",
                              (json_int_t)in->n_liked));
out:
    restore_input_free(in);
    restore_options_clear(&o);
}

static void restore_get_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    json_t *out = NULL;
    const char *id = http_req_param(r, "id");
    char *end = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    long long v = id ? strtoll(id, &end, 10) : 0;
    if (!id || !*id || *end || v <= 0) {
        http_reply_error_msg(r, 400, "bad_parameter", "id must be a positive integer");
        return;
    }
    if (restore_get(app, uid, v, &out, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    http_reply_json(r, 200, out);
}

static void version_restore_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0, rid = 0, jid = 0;
    json_t *body = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    const char *mode = json_str(body, "mode");
    const json_t *dry = json_object_get(body, "dry_run");
    if (mode && strcmp(mode, "new") != 0 && strcmp(mode, "in_place") != 0) {
        http_reply_error_msg(r, 400, "bad_parameter", "mode must be new or in_place");
        goto out;
    }
    if (dry && !json_is_boolean(dry)) {
        http_reply_error_msg(r, 400, "bad_parameter", "dry_run must be true or false");
        goto out;
    }
    /* Spotify's snapshot ids are base64 and often hold '/', which no path
     * segment can carry (the router refuses %2F): the body form takes it. */
    const char *snapshot = http_req_param(r, "snapshot");
    if (!snapshot)
        snapshot = json_str(body, "snapshot"); /* NULL: the service answers 400 after the 404 check */
    if (restore_version_submit(app, uid, http_req_param(r, "id"), snapshot,
                               mode && strcmp(mode, "in_place") == 0, json_is_true(dry), &rid,
                               &jid, &err) != KT_OK) {
        http_reply_error(r, &err);
        goto out;
    }
    reply_submitted(r, rid, jid, NULL);
out:
    json_decref(body);
}

const http_route routes_export[] = {
    {"GET", "/api/export", export_handler, 0},
    {"POST", "/api/restore", restore_handler, HTTP_ROUTE_UPLOAD},
    {"GET", "/api/restore/{id}", restore_get_handler, 0},
    {"POST", "/api/playlists/{id}/versions/restore", version_restore_handler, 0},
    {"POST", "/api/playlists/{id}/versions/{snapshot}/restore", version_restore_handler, 0},
};
const size_t routes_export_count = sizeof routes_export / sizeof routes_export[0];

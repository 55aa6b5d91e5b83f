/* routes_history.c - listening-history import over HTTP (issue 7):
 *
 *   POST /api/history/import   the export as uploaded: a raw body
 *        (Content-Type application/json for one .json file, application/zip
 *        for my_spotify_data.zip; ?name= names it) or multipart/form-data
 *        with one or more files. Runs the import synchronously (a 100,000-
 *        play export takes a few seconds) and answers 200 with the report,
 *        or 422 {"error":{...},"report":{...}} when a file could not be
 *        imported (the report says what was committed), 413 over
 *        KEEPTRACK's upload limit (the server), 415 for other body types.
 *   GET  /api/history/imports  the user's imports, newest first.
 *
 * multipart/form-data bodies are split by routes_multipart_files (http/multipart.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/multipart.h"
#include "http/routes.h"
#include "services/app_priv.h"
#include "services/history_import.h"
#include "store/store_history.h"

typedef struct upload {
    history_input in[HTTP_MULTIPART_MAX_PARTS];
    http_parts parts;
    char raw_name[HTTP_MULTIPART_MAX_NAME + 1];
    size_t n;
} upload;

/* The inputs of the request, from its Content-Type. */
static int read_upload(http_req *r, upload *u)
{
    size_t len = 0;
    const char *body = http_req_body(r, &len), *ctype = http_req_header(r, "Content-Type");
    const char *name = http_req_query(r, "name");
    size_t tl = ctype ? strcspn(ctype, "; ") : 0;
    if (len == 0) {
        http_reply_error_msg(r, 400, "empty_body", "upload the history files as the request body");
        return 0;
    }
    int multipart = routes_multipart_files(r, &u->parts);
    if (multipart == 0)
        return 0;
    if (multipart == 1) {
        for (size_t i = 0; i < u->parts.n; i++)
            u->in[i] = (history_input){.name = u->parts.part[i].name,
                                       .data = u->parts.part[i].data,
                                       .len = u->parts.part[i].len};
        u->n = u->parts.n;
        return 1;
    }
    static const char *const raw[] = {"application/json", "application/zip",
                                      "application/x-zip-compressed", "application/octet-stream"};
    for (size_t i = 0; ctype && i < sizeof raw / sizeof raw[0]; i++)
        if (tl == strlen(raw[i]) && strncasecmp(ctype, raw[i], tl) == 0) {
            const char *n = name ? name : i == 0 ? "upload.json" : "upload.zip";
            http_clean_filename(n, strlen(n), u->raw_name);
            u->in[0] = (history_input){.name = u->raw_name, .data = body, .len = len};
            u->n = 1;
            return 1;
        }
    http_reply_error_msg(r, 415, "unsupported_media_type",
                         "send application/json, application/zip or multipart/form-data");
    return 0;
}

static void import_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    store *s = NULL;
    history_report *rep = NULL;
    upload *u = NULL;
    history_options o = {.min_ms = app->cfg->history_min_ms};
    if (!routes_require_user(r, app, &uid))
        return;
    if ((u = calloc(1, sizeof *u)) == NULL) {
        http_reply_error_msg(r, 500, "internal", "out of memory");
        return;
    }
    if (!read_upload(r, u))
        goto out;
    if (app_db_get(app, &s, &err) != KT_OK) {
        http_reply_error(r, &err);
        goto out;
    }
    kt_status st = history_import(s, uid, u->in, u->n, &o, &rep, &err);
    app_db_put(app, s);
    if (st != KT_OK) {
        http_reply_error(r, &err);
        goto out;
    }
    json_t *report = history_report_json(rep);
    if (!report) {
        http_reply_error_msg(r, 500, "internal", "could not build the report");
        goto out;
    }
    if (rep->failed_files == 0) {
        http_reply_json(r, 200, report);
        goto out;
    }
    const char *first = "a file could not be imported";
    for (size_t i = 0; i < rep->n_files; i++)
        if (rep->files[i].error) {
            first = rep->files[i].error;
            break;
        }
    http_reply_json(r, 422, json_pack("{s:{s:i,s:s,s:s},s:o}", "error", "status", 422, "code",
                                      "import_failed", "message", first, "report", report));
out:
    history_report_free(rep);
    free(u);
}

static json_t *imports_json(const store_rows *rows)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(rows); i++) {
        const char *report = store_rows_text(rows, i, 11), *error = store_rows_text(rows, i, 8);
        json_t *rep = report ? json_loads(report, 0, NULL) : NULL;
        if (json_array_append_new(
                arr, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "id",
                               (json_int_t)store_rows_int(rows, i, 0), "file_name",
                               store_rows_text(rows, i, 1), "status", store_rows_text(rows, i, 2),
                               "records", (json_int_t)store_rows_int(rows, i, 3), "imported",
                               (json_int_t)store_rows_int(rows, i, 4), "duplicates",
                               (json_int_t)store_rows_int(rows, i, 5), "skipped",
                               (json_int_t)store_rows_int(rows, i, 6), "rejected",
                               (json_int_t)store_rows_int(rows, i, 7), "error",
                               error ? json_string(error) : json_null(), "started_at",
                               routes_time_json(store_rows_int(rows, i, 9)), "finished_at",
                               routes_time_json(store_rows_int(rows, i, 10)), "report",
                               rep ? rep : json_null())) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static void imports_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0, total = 0;
    store *s = NULL;
    store_rows *rows = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (app_db_get(app, &s, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    kt_status st = store_history_imports_list(s, uid, 100, 0, &rows, &total, &err);
    app_db_put(app, s);
    if (st != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    json_t *items = imports_json(rows);
    store_rows_free(rows);
    if (!items) {
        http_reply_error_msg(r, 500, "internal", "could not build the answer");
        return;
    }
    http_reply_json(r, 200, json_pack("{s:o,s:I}", "items", items, "total", (json_int_t)total));
}

const http_route routes_history[] = {
    {"POST", "/api/history/import", import_handler, HTTP_ROUTE_UPLOAD},
    {"GET", "/api/history/imports", imports_handler, 0},
};
const size_t routes_history_count = sizeof routes_history / sizeof routes_history[0];

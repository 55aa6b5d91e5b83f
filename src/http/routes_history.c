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
 * The multipart body is split here by hand: the server hands handlers the
 * whole (size-capped) body, and libmicrohttpd's post processor works only
 * on the live connection while the body arrives, which the server edge
 * does not expose. The splitter only finds the parts and their
 * Content-Disposition filename; bounded counts and sizes throughout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/routes.h"
#include "services/app_priv.h"
#include "services/history_import.h"
#include "store/store_history.h"

#define MAX_PARTS 64
#define MAX_PART_HEADERS 8192
#define MAX_NAME 200

typedef struct upload {
    history_input in[MAX_PARTS];
    char names[MAX_PARTS][MAX_NAME + 1];
    size_t n;
} upload;

/* Copies a file name for reports and resume keys: base name only,
 * printable ASCII kept, anything else '_' (names end up in JSON). */
static void clean_name(const char *s, size_t len, char out[MAX_NAME + 1])
{
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '/' || s[i - 1] == '\\') {
            len -= i;
            s += i;
            break;
        }
    size_t n = 0;
    for (size_t i = 0; i < len && n < MAX_NAME; i++)
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '_';
    out[n] = '\0';
    if (n == 0)
        snprintf(out, MAX_NAME + 1, "upload");
}

/* The value of parameter `name` in a header value such as
 * `form-data; name="f"; filename="a.json"`, quotes removed; 0 when absent. */
static int header_param(const char *v, size_t vlen, const char *name, const char **out,
                        size_t *out_len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 < vlen; i++) {
        if ((i > 0 && v[i - 1] != ';' && v[i - 1] != ' ') || strncasecmp(v + i, name, nl) != 0 ||
            v[i + nl] != '=')
            continue;
        const char *p = v + i + nl + 1, *end = v + vlen;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q)
                return 0;
            *out = p + 1;
            *out_len = (size_t)(q - p - 1);
        } else {
            const char *q = p;
            while (q < end && *q != ';' && *q != ' ')
                q++;
            *out = p;
            *out_len = (size_t)(q - p);
        }
        return 1;
    }
    return 0;
}

/* Finds the file parts of a multipart/form-data body. */
static kt_status split_multipart(const char *body, size_t len, const char *ctype, upload *u,
                                 kt_err *err)
{
    const char *b = NULL;
    size_t bl = 0;
    char delim[80];
    if (!header_param(ctype, strlen(ctype), "boundary", &b, &bl) || bl == 0 || bl > 70)
        return err_set(err, KT_ERR_INVALID, "bad_multipart", "multipart body without a boundary");
    int dl = snprintf(delim, sizeof delim, "\r\n--%.*s", (int)bl, b);
    const char *p, *end = body + len;
    /* The first delimiter may start the body (no preceding CRLF). */
    if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0)
        p = body + dl - 2;
    else if ((p = memmem(body, len, delim, (size_t)dl)) != NULL)
        p += dl;
    while (p && end - p >= 2 && memcmp(p, "--", 2) != 0) {
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
            break;
        p += 2;
        size_t room = (size_t)(end - p) < MAX_PART_HEADERS ? (size_t)(end - p) : MAX_PART_HEADERS;
        const char *hend = memmem(p, room, "\r\n\r\n", 4);
        if (!hend)
            return err_set(err, KT_ERR_INVALID, "bad_multipart", "a part's headers do not end");
        const char *data = hend + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
        if (!next)
            return err_set(err, KT_ERR_INVALID, "bad_multipart", "the multipart body is truncated");
        const char *fn = NULL, *disp = NULL;
        size_t fnl = 0;
        for (const char *h = p; h < hend;) {
            const char *eol = memmem(h, (size_t)(hend - h) + 2, "\r\n", 2);
            if (!eol)
                break;
            if ((size_t)(eol - h) > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0)
                disp = h + 20;
            if (disp && disp > h && disp < eol)
                header_param(disp, (size_t)(eol - disp), "filename", &fn, &fnl);
            h = eol + 2;
        }
        if (fn) { /* parts without a filename are ordinary form fields: ignored */
            if (u->n == MAX_PARTS)
                return err_set(err, KT_ERR_INVALID, "too_many_files",
                               "at most %d files per upload", MAX_PARTS);
            clean_name(fn, fnl, u->names[u->n]);
            u->in[u->n] = (history_input){.name = u->names[u->n], .data = data,
                                          .len = (size_t)(next - data)};
            u->n++;
        }
        p = next + dl;
    }
    if (!p || end - p < 2 || memcmp(p, "--", 2) != 0)
        return err_set(err, KT_ERR_INVALID, "bad_multipart", "the multipart body is truncated");
    if (u->n == 0)
        return err_set(err, KT_ERR_INVALID, "no_file", "the form holds no file");
    return KT_OK;
}

/* The inputs of the request, from its Content-Type. */
static int read_upload(http_req *r, upload *u)
{
    size_t len = 0;
    const char *body = http_req_body(r, &len), *ctype = http_req_header(r, "Content-Type");
    const char *name = http_req_query(r, "name");
    kt_err err = {0};
    size_t tl = ctype ? strcspn(ctype, "; ") : 0;
    if (len == 0) {
        http_reply_error_msg(r, 400, "empty_body", "upload the history files as the request body");
        return 0;
    }
    if (ctype && tl == 19 && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        if (split_multipart(body, len, ctype, u, &err) != KT_OK) {
            http_reply_error(r, &err);
            return 0;
        }
        return 1;
    }
    static const char *const raw[] = {"application/json", "application/zip",
                                      "application/x-zip-compressed", "application/octet-stream"};
    for (size_t i = 0; ctype && i < sizeof raw / sizeof raw[0]; i++)
        if (tl == strlen(raw[i]) && strncasecmp(ctype, raw[i], tl) == 0) {
            clean_name(name ? name : i == 0 ? "upload.json" : "upload.zip",
                       strlen(name ? name : i == 0 ? "upload.json" : "upload.zip"), u->names[0]);
            u->in[0] = (history_input){.name = u->names[0], .data = body, .len = len};
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

/* routes.c - the list of route tables and the helpers every handler shares
 * (see routes.h): cookies, the session check, and error pages that are HTML
 * for browsers and JSON for API clients.
 */
#include "http/routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"
#include "services/auth.h"
#include "services/jobs.h"

typedef struct route_table {
    const http_route *routes;
    const size_t *count;
} route_table;

/* Adding a table: one line here (and its extern in routes.h). */
static const route_table tables[] = {
    {routes_auth, &routes_auth_count},
    {routes_me, &routes_me_count},
    {routes_history, &routes_history_count},
    {routes_library, &routes_library_count},
    {routes_jobs, &routes_jobs_count},
    {routes_shuffle, &routes_shuffle_count},
    {routes_trending, &routes_trending_count},
    {routes_fromtops, &routes_fromtops_count},
    {routes_shares, &routes_shares_count},
    {routes_alerts, &routes_alerts_count},
    {routes_releases, &routes_releases_count},
    {routes_stats, &routes_stats_count},
    {routes_recap, &routes_recap_count},
    {routes_ops, &routes_ops_count},
    {routes_export, &routes_export_count},
    {routes_admin, &routes_admin_count},
    {routes_ui, &routes_ui_count},
};

http_route *routes_all(size_t *n)
{
    size_t total = 0, at = 0;
    http_route *all;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        total += *tables[i].count;
    if ((all = calloc(total ? total : 1, sizeof *all)) == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        memcpy(all + at, tables[i].routes, *tables[i].count * sizeof *all);
        at += *tables[i].count;
    }
    *n = total;
    return all;
}

static int public_https(const kt_app *app)
{
    const char *u = app->cfg->public_url;
    return u && strncmp(u, "https://", 8) == 0;
}

const char *routes_session_cookie(const kt_app *app)
{
    return public_https(app) ? "__Host-kt_session" : "kt_session";
}

const char *routes_binding_cookie(const kt_app *app)
{
    return public_https(app) ? "__Host-kt_login" : "kt_login";
}

void routes_set_cookie(http_req *r, const kt_app *app, const char *name, const char *value,
                       long max_age_s)
{
    char header[512];
    snprintf(header, sizeof header, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%ld%s", name,
             max_age_s > 0 ? value : "", max_age_s > 0 ? max_age_s : 0L,
             public_https(app) ? "; Secure" : "");
    http_reply_header(r, "Set-Cookie", header);
}

int routes_require_user(http_req *r, kt_app *app, int64_t *user_id)
{
    kt_err err = {0};
    int64_t uid = 0;
    if (auth_session_user(app, http_req_cookie(r, routes_session_cookie(app)), &uid, &err) !=
        KT_OK) {
        http_reply_error(r, &err);
        return 0;
    }
    http_req_set_user(r, uid);
    *user_id = uid;
    return 1;
}

void routes_reply_result(http_req *r, kt_status st, json_t **body, const kt_err *err)
{
    if (st == KT_OK)
        http_reply_json(r, 200, *body);
    else
        http_reply_error(r, err);
}

void routes_reply_job_accepted(http_req *r, kt_app *app, int64_t id, int created)
{
    routes_reply_job_accepted_with(r, app, id, created, NULL, NULL);
}

void routes_reply_job_accepted_with(http_req *r, kt_app *app, int64_t id, int created,
                                    const char *key, json_t *value)
{
    kt_err err = {0};
    store_job job = {0};
    char loc[64];
    if (jobs_get(app, 0, id, &job, &err) != KT_OK) {
        json_decref(value);
        http_reply_error(r, &err);
        return;
    }
    json_t *body = json_pack("{s:I,s:s,s:s,s:b,s:{s:I,s:I},s:o}", "id", (json_int_t)job.id,
                             "kind", job.kind, "state", job.state, "created", created, "progress",
                             "done", (json_int_t)job.progress_done, "total",
                             (json_int_t)job.progress_total, "created_at",
                             routes_time_json(job.created_at));
    store_job_clear(&job);
    if (body == NULL || key == NULL)
        json_decref(value); /* json_object_set_new takes it in every other case */
    else if (json_object_set_new(body, key, value) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL) {
        http_reply_error_msg(r, 500, "internal", "could not build the answer");
        return;
    }
    snprintf(loc, sizeof loc, "/api/jobs/%lld", (long long)id);
    http_reply_header(r, "Location", loc);
    http_reply_json(r, 202, body);
}

int routes_multipart_files(http_req *r, http_parts *out)
{
    kt_err err = {0};
    size_t len = 0;
    const char *body = http_req_body(r, &len), *ctype = http_req_header(r, "Content-Type");
    /* The media type ends at its parameters ("; boundary=..."). */
    size_t tl = ctype ? strcspn(ctype, "; ") : 0;
    if (!ctype || tl != 19 || strncasecmp(ctype, "multipart/form-data", 19) != 0)
        return -1;
    if (http_multipart_split(body, len, ctype, out, &err) != KT_OK) {
        http_reply_error(r, &err);
        return 0;
    }
    return 1;
}

int routes_query_int(http_req *r, const char *name, int64_t dflt, int64_t min, int64_t max,
                     int64_t *out)
{
    const char *v = http_req_query(r, name);
    char *end = NULL;
    if (!v) {
        *out = dflt;
        return 1;
    }
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        http_reply_error_msg(r, 400, "bad_parameter", "%s: must be an integer from %lld to %lld",
                             name, (long long)min, (long long)max);
        return 0;
    }
    *out = n;
    return 1;
}

int routes_query_time(http_req *r, const char *name, int64_t dflt, int64_t *out)
{
    const char *v = http_req_query(r, name);
    if (!v) {
        *out = dflt;
        return 1;
    }
    if (*v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 16) {
        *out = strtoll(v, NULL, 10);
        return 1;
    }
    if (time_parse_iso8601(v, out) != KT_OK) {
        http_reply_error_msg(r, 400, "bad_parameter",
                             "%s: must be an ISO 8601 time or unix milliseconds", name);
        return 0;
    }
    return 1;
}

int routes_param_id(http_req *r, const char *what, int64_t *out)
{
    const char *id = http_req_param(r, "id");
    char *end = NULL;
    errno = 0;
    long long v = id ? strtoll(id, &end, 10) : 0;
    if (!id || !*id || *end != '\0' || errno != 0 || v <= 0) {
        http_reply_error_msg(r, 400, "bad_parameter", "id: expected %s id", what);
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

void routes_reply_deleted(http_req *r, int64_t id)
{
    http_reply_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
}

json_t *routes_time_json(int64_t ms)
{
    char iso[32];
    if (ms == 0)
        return json_null();
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

kt_status routes_html_append(buf *b, const char *s)
{
    kt_status st = KT_OK;
    for (const char *p = s; p && *p && st == KT_OK; p++) {
        switch (*p) {
        case '&': st = buf_puts(b, "&amp;"); break;
        case '<': st = buf_puts(b, "&lt;"); break;
        case '>': st = buf_puts(b, "&gt;"); break;
        case '"': st = buf_puts(b, "&quot;"); break;
        case '\'': st = buf_puts(b, "&#39;"); break;
        default: st = buf_append(b, p, 1); break;
        }
    }
    return st;
}

void routes_reply_page(http_req *r, int status, const char *title, const char *body_html)
{
    buf b;
    buf_init(&b, 1 << 20);
    if (buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<title>") != KT_OK ||
        routes_html_append(&b, title) != KT_OK ||
        buf_puts(&b, strcmp(title, "keeptrack") == 0 ? "" : " - keeptrack") != KT_OK ||
        buf_puts(&b, "</title><style>body{font-family:system-ui,sans-serif;"
                     "max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
                     "a.button,button{display:inline-block;padding:.5rem 1rem;border-radius:2rem;"
                     "background:#1db954;color:#000;text-decoration:none;border:0;"
                     "font:inherit;cursor:pointer}</style></head><body><h1>") != KT_OK ||
        routes_html_append(&b, title) != KT_OK || buf_puts(&b, "</h1>\n") != KT_OK ||
        buf_puts(&b, body_html ? body_html : "") != KT_OK ||
        buf_puts(&b, "\n</body></html>\n") != KT_OK) {
        buf_free(&b);
        http_reply_error_msg(r, 500, "internal", "could not build the page");
        return;
    }
    /* The server's HTML policy plus the one inline <style> of these pages
     * (everything interpolated into them is escaped). */
    http_reply_header(r, "Content-Security-Policy",
                      "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; "
                      "frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
    http_reply_bytes(r, status, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

void routes_reply_error_page(http_req *r, const kt_err *e)
{
    buf body;
    if (http_req_wants_json(r)) {
        http_reply_error(r, e);
        return;
    }
    buf_init(&body, 1 << 16);
    if (buf_puts(&body, "<p>") != KT_OK || routes_html_append(&body, e->msg) != KT_OK ||
        buf_puts(&body, "</p>\n<p><small>error code: ") != KT_OK ||
        routes_html_append(&body, e->code) != KT_OK ||
        buf_puts(&body, "</small></p>\n<p><a class=\"button\" href=\"/api/auth/login\">"
                        "Log in with Spotify</a> <a href=\"/\">Home</a></p>") != KT_OK) {
        buf_free(&body);
        http_reply_error(r, e);
        return;
    }
    routes_reply_page(r, err_http_status(e->status),
                      strcmp(e->code, "access_denied") == 0 ? "Spotify access was declined"
                                                            : "Login did not complete",
                      body.data);
    buf_free(&body);
}

/* routes.h - every route table of the keeptrack server, and the helpers
 * handlers share (session lookup, cookies, HTML pages for browsers).
 *
 * Each concept has its own table in its own file (routes_auth.c,
 * routes_me.c, ...; later issues add theirs). routes_all() concatenates them
 * for `keeptrack serve`: adding a table is one extern here plus one line in
 * routes.c. Handlers follow one shape: parse the request, call one service
 * (src/services/), serialize the answer. The `app` argument of every
 * handler is the kt_app of the process.
 */
#ifndef KT_HTTP_ROUTES_H
#define KT_HTTP_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/http.h"
#include "http/multipart.h"
#include "services/app.h"

extern const http_route routes_auth[];
extern const size_t routes_auth_count;
extern const http_route routes_me[];
extern const size_t routes_me_count;
extern const http_route routes_history[];
extern const size_t routes_history_count;
extern const http_route routes_library[];
extern const size_t routes_library_count;
extern const http_route routes_jobs[];
extern const size_t routes_jobs_count;
extern const http_route routes_shuffle[];
extern const size_t routes_shuffle_count;
extern const http_route routes_trending[];
extern const size_t routes_trending_count;
extern const http_route routes_fromtops[];
extern const size_t routes_fromtops_count;
extern const http_route routes_shares[];
extern const size_t routes_shares_count;
extern const http_route routes_alerts[];
extern const size_t routes_alerts_count;
extern const http_route routes_releases[];
extern const size_t routes_releases_count;
extern const http_route routes_stats[];
extern const size_t routes_stats_count;
extern const http_route routes_recap[];
extern const size_t routes_recap_count;
extern const http_route routes_ops[];
extern const size_t routes_ops_count;
extern const http_route routes_export[];
extern const size_t routes_export_count;
extern const http_route routes_admin[];
extern const size_t routes_admin_count;
extern const http_route routes_ui[];
extern const size_t routes_ui_count;

/* Every route of every table, concatenated into a malloc'd array the
 * caller frees (after http_server_stop). *n receives the count. NULL when
 * memory runs out. */
http_route *routes_all(size_t *n);

/* Cookie names. "__Host-" prefixed when the public URL is https; over plain
 * http browsers refuse __Host- cookies (the prefix requires Secure, and a
 * Secure cookie is not stored from an http origin), so the plain names are
 * used there. */
const char *routes_session_cookie(const kt_app *app);
const char *routes_binding_cookie(const kt_app *app);

/* Adds a Set-Cookie header: HttpOnly, SameSite=Lax, Path=/, Secure when the
 * public URL is https. max_age_s 0 deletes the cookie. */
void routes_set_cookie(http_req *r, const kt_app *app, const char *name, const char *value,
                       long max_age_s);

/* The logged-in user of the request. Returns 1 with *user_id set, or 0
 * after replying 401 (or the store's error) as JSON. Also records the user
 * on the request (http_req_set_user). */
int routes_require_user(http_req *r, kt_app *app, int64_t *user_id);

/* Admin/cron endpoints: returns 1 when the request carries
 * `Authorization: Bearer <KEEPTRACK_ADMIN_TOKEN>` (compared in constant
 * time). Otherwise replies and returns 0: 404 when no admin token is
 * configured (the admin endpoints do not exist then), 401 with
 * WWW-Authenticate when the token is missing or wrong. (routes_ops.c) */
int routes_require_admin(http_req *r, kt_app *app);

/* Replies 202 Accepted for a job just enqueued (or found: created 0):
 * {"id","kind","state","created","progress":{"done","total"},"created_at"}
 * and Location:
 * /api/jobs/{id}. The job is read whoever owns it (a lane may have pointed
 * at another user's or the scheduler's job). */
void routes_reply_job_accepted(http_req *r, kt_app *app, int64_t id, int created);

/* routes_reply_job_accepted with one more member, key: value (taken, also
 * on failure), in the answer. */
void routes_reply_job_accepted_with(http_req *r, kt_app *app, int64_t id, int created,
                                    const char *key, json_t *value);

/* The file parts of a multipart/form-data request body, for the upload
 * routes (history import, restore). Returns 1 with *out filled (parts
 * borrowed from the request body, see http/multipart.h), 0 after replying
 * 400 naming what is wrong with the body, or -1 with nothing replied when
 * the request is not multipart/form-data (the route reads the raw body).
 * *out is large (HTTP_MULTIPART_MAX_PARTS parts): callers allocate it. */
int routes_multipart_files(http_req *r, http_parts *out);

/* Query parameters shared by the route tables. Each returns 1 with *out
 * set (dflt when the parameter is absent), or 0 after replying 400
 * "bad_parameter" with a message naming the parameter. routes_query_int:
 * a decimal integer in [min, max]; routes_query_time: an ISO 8601 time or
 * unix milliseconds. */
int routes_query_int(http_req *r, const char *name, int64_t dflt, int64_t min, int64_t max,
                     int64_t *out);
int routes_query_time(http_req *r, const char *name, int64_t dflt, int64_t *out);

/* The path parameter {id} as a positive row id (a saved definition, a share
 * link, ...). Returns 1 with *out set, or 0 after replying 400
 * "bad_parameter" "id: expected <what> id". */
int routes_param_id(http_req *r, const char *what, int64_t *out);

/* Replies 200 {id, deleted: true}: the answer of the DELETE routes. */
void routes_reply_deleted(http_req *r, int64_t id);

/* Replies 200 with *body (taken) when st is KT_OK, else the error as JSON.
 * Takes a pointer, not the value: callers write
 * routes_reply_result(r, service(..., &out, &err), &out, &err), and the
 * service must have run before *body is read (argument evaluation order is
 * unspecified). */
void routes_reply_result(http_req *r, kt_status st, json_t **body, const kt_err *err);

/* Replies 200 with the /api/me body of the user (see routes_me.c). */
void routes_reply_me(http_req *r, kt_app *app, int64_t user_id);

/* Replies with the error as JSON for API clients, or as a small HTML page
 * (same status) for browsers (when the client does not ask for JSON). */
void routes_reply_error_page(http_req *r, const kt_err *e);

/* A unix-ms time as an ISO 8601 JSON string ("2026-11-22T10:00:00.000Z"
 * as time_format_iso8601 writes it), or JSON null for 0. New reference. */
json_t *routes_time_json(int64_t ms);

/* Appends s to b with & < > " ' HTML-escaped. s may be NULL (nothing). */
kt_status routes_html_append(buf *b, const char *s);

/* Replies 200 text/html with a minimal page: <title> and <h1> are `title`
 * (escaped), the body is `body_html` (already HTML). */
void routes_reply_page(http_req *r, int status, const char *title, const char *body_html);

#endif

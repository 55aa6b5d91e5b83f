/* routes_me.c - who am I (/api/me, /api/session) and the health check
 * (/healthz). The page at / is the web UI (routes_ui.c), which asks
 * /api/session who is logged in: a logged-out visit is then no failed
 * request (a browser logs every 401 as a console error).
 */
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/app_priv.h"
#include "services/auth.h"

/* "a b c" -> ["a","b","c"] */
static json_t *scopes_json(const char *scopes)
{
    json_t *arr = json_array();
    const char *p = scopes;
    while (arr && p && *p) {
        size_t n = strcspn(p, " ");
        if (n > 0)
            json_array_append_new(arr, json_stringn(p, n));
        p += n;
        p += strspn(p, " ");
    }
    return arr;
}

static json_t *me_json(const auth_me *me)
{
    return json_pack("{s:I,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)me->user_id,
                     "account_id", me->account_id, "spotify_id", me->spotify_id, "display_name",
                     me->has_display_name ? json_string(me->display_name) : json_null(),
                     "status", me->status, "scopes", scopes_json(me->scopes), "authorized_at",
                     routes_time_json(me->authorized_at), "access_token_expires_at",
                     routes_time_json(me->access_expires_at), "refresh_token_expires_at",
                     routes_time_json(me->refresh_expires_at), "refresh_token_days_left",
                     me->refresh_days_left >= 0 ? json_integer(me->refresh_days_left)
                                                : json_null());
}

/* The /api/me object of user uid, or NULL with err set. */
static json_t *me_body(kt_app *app, int64_t uid, kt_err *err)
{
    auth_me me;
    if (auth_me_get(app, uid, time_now_ms(), &me, err) != KT_OK)
        return NULL;
    json_t *body = me_json(&me);
    if (body == NULL)
        err_set(err, KT_ERR_NOMEM, "internal", "could not build the answer");
    return body;
}

void routes_reply_me(http_req *r, kt_app *app, int64_t uid)
{
    kt_err err = {0};
    json_t *body = me_body(app, uid, &err);
    if (body == NULL)
        http_reply_error(r, &err);
    else
        http_reply_json(r, 200, body);
}

static void me_handler(http_req *r, void *ctx)
{
    int64_t uid = 0;
    if (routes_require_user(r, ctx, &uid))
        routes_reply_me(r, ctx, uid);
}

/* GET /api/session: {"user": the /api/me object, or null when the request
 * carries no valid session}. Never 401: asking is not an error. */
static void session_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    json_t *user = NULL;
    kt_status st =
        auth_session_user(app, http_req_cookie(r, routes_session_cookie(app)), &uid, &err);
    if (st == KT_ERR_UNAUTHORIZED) {
        user = json_null();
    } else if (st == KT_OK) {
        http_req_set_user(r, uid);
        user = me_body(app, uid, &err);
    }
    if (user == NULL) {
        http_reply_error(r, &err);
        return;
    }
    json_t *body = json_pack("{s:o}", "user", user);
    if (body == NULL)
        http_reply_error_msg(r, 500, "internal", "could not build the answer");
    else
        http_reply_json(r, 200, body);
}

static void healthz_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    store *s = NULL;
    int current = 0;
    kt_status st = app_db_get(app, &s, &err);
    if (st == KT_OK) {
        st = store_schema_version(s, &current, &err);
        app_db_put(app, s);
    }
    if (st != KT_OK) {
        http_reply_json(r, 503, json_pack("{s:b,s:s,s:s}", "ok", 0, "db", "unreachable",
                                          "message", err.msg));
        return;
    }
    int latest = store_schema_latest();
    http_reply_json(r, current == latest ? 200 : 503,
                    json_pack("{s:b,s:s,s:i,s:i}", "ok", current == latest, "db", "ok",
                              "schema_version", current, "schema_latest", latest));
}

const http_route routes_me[] = {
    {"GET", "/api/me", me_handler, 0},
    {"GET", "/api/session", session_handler, 0},
    {"GET", "/healthz", healthz_handler, HTTP_ROUTE_INLINE},
};
const size_t routes_me_count = sizeof routes_me / sizeof routes_me[0];

/* routes_auth.c - the login routes: /api/auth/{login,callback,logout,
 * refresh,disconnect}. Each parses the request, calls one function of the
 * auth service (src/services/auth.h) and serializes the answer.
 *
 * login and callback are browser navigations: failures become a small HTML
 * page unless the client asks for JSON. The POST routes are API calls
 * (JSON only); the server's cross-site check guards them.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http/routes.h"
#include "services/auth.h"

static void login_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    char *url = NULL;
    char binding[44];
    const char *have = http_req_cookie(r, routes_binding_cookie(app));

    if (auth_login_start(app, have, http_req_query(r, "return_to"), &url, binding, &err) !=
        KT_OK) {
        routes_reply_error_page(r, &err);
        return;
    }
    /* Same lifetime as the state: the binding only matters during login. */
    routes_set_cookie(r, app, routes_binding_cookie(app), binding, AUTH_STATE_TTL_MS / 1000);
    sodium_memzero(binding, sizeof binding);
    if (http_req_wants_json(r))
        http_reply_json(r, 200, json_pack("{s:s}", "url", url));
    else
        http_reply_redirect(r, 302, url);
    free(url);
}

static void callback_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    auth_login_result res;
    /* The server's sliding expiry (KEEPTRACK_SESSION_DAYS since the last
     * visit) decides; the cookie only has to outlive it. 400 days is the
     * longest lifetime browsers keep a cookie. */
    long days = app->cfg->session_days > 400 ? app->cfg->session_days : 400;
    long max_age = days * 86400L;

    memset(&res, 0, sizeof res);
    if (auth_login_callback(app, http_req_query(r, "code"), http_req_query(r, "state"),
                            http_req_query(r, "error"),
                            http_req_cookie(r, routes_binding_cookie(app)), &res, &err) != KT_OK) {
        routes_reply_error_page(r, &err);
        return;
    }
    routes_set_cookie(r, app, routes_session_cookie(app), res.session_id, max_age);
    routes_set_cookie(r, app, routes_binding_cookie(app), "", 0);
    sodium_memzero(res.session_id, sizeof res.session_id);
    if (http_req_wants_json(r))
        http_reply_json(r, 200, json_pack("{s:b,s:I,s:s}", "ok", 1, "user_id",
                                          (json_int_t)res.user_id, "redirect", res.return_to));
    else
        http_reply_redirect(r, 302, res.return_to);
}

static void logout_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    if (auth_logout(app, http_req_cookie(r, routes_session_cookie(app)), &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    routes_set_cookie(r, app, routes_session_cookie(app), "", 0);
    http_reply_json(r, 200, json_pack("{s:b}", "logged_out", 1));
}

static void refresh_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (auth_refresh(app, uid, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    routes_reply_me(r, app, uid); /* with the new access-token expiry */
}

static void disconnect_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0;
    const char *q = http_req_query(r, "delete_data");
    int delete_data = q && (strcmp(q, "true") == 0 || strcmp(q, "1") == 0);
    if (!routes_require_user(r, app, &uid))
        return;
    if (auth_disconnect(app, uid, delete_data, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    if (delete_data) /* the sessions are gone with the user */
        routes_set_cookie(r, app, routes_session_cookie(app), "", 0);
    http_reply_json(r, 200, json_pack("{s:b,s:b}", "disconnected", 1, "data_deleted",
                                      delete_data));
}

const http_route routes_auth[] = {
    {"GET", "/api/auth/login", login_handler, 0},
    {"GET", "/api/auth/callback", callback_handler, 0},
    {"POST", "/api/auth/logout", logout_handler, 0},
    {"POST", "/api/auth/refresh", refresh_handler, 0},
    {"POST", "/api/auth/disconnect", disconnect_handler, 0},
};
const size_t routes_auth_count = sizeof routes_auth / sizeof routes_auth[0];

/* routes_alerts.c - alerts over HTTP (issue 18, item 5; services/alerts.h
 * does the work, store/store_alerts.c holds the SQL).
 *
 *   GET  /api/alerts                 -> 200 {alerts}: the open alerts the user
 *                                    sees (theirs and the instance's), newest
 *                                    first, each with its delivery attempts
 *   POST /api/alerts/{id}/dismiss    -> 200 {id, dismissed: true}
 *   GET  /api/alerts/settings        -> 200 {webhook, email, email_to, channels}
 *   PUT  /api/alerts/settings        {"webhook"?: bool, "email"?: bool,
 *                                    "email_to"?: address|null} -> 200 as GET
 *
 * Session-authenticated; the state-changing ones refuse cross-site requests
 * like every other route. Another user's alert is a 404.
 */
#include <stdint.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/alerts.h"

static void list_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (routes_require_user(r, app, &uid))
        routes_reply_result(r, alerts_list(app, uid, &out, &err), &out, &err);
}

static void dismiss_handler(http_req *r, void *app)
{
    int64_t uid = 0, id = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !routes_param_id(r, "an alert", &id))
        return;
    routes_reply_result(r, alerts_dismiss(app, uid, id, time_now_ms(), &out, &err), &out, &err);
}

static void settings_get_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (routes_require_user(r, app, &uid))
        routes_reply_result(r, alerts_settings_get(app, uid, &out, &err), &out, &err);
}

static void settings_put_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *body = NULL, *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        routes_reply_result(r, alerts_settings_put(app, uid, body, time_now_ms(), &out, &err),
                            &out, &err);
    json_decref(body);
}

const http_route routes_alerts[] = {
    {"GET", "/api/alerts", list_handler, 0},
    {"GET", "/api/alerts/settings", settings_get_handler, 0},
    {"PUT", "/api/alerts/settings", settings_put_handler, 0},
    {"POST", "/api/alerts/{id}/dismiss", dismiss_handler, 0},
};
const size_t routes_alerts_count = sizeof routes_alerts / sizeof routes_alerts[0];

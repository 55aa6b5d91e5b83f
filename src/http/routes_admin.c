/* routes_admin.c - what the web UI's admin page shows (issue 10):
 *
 *   GET /api/admin/overview   the JSON admin_overview builds (services/admin.h:
 *                             users, job counts, recent jobs, failures)
 *
 * Protected by the admin token (routes_require_admin: Bearer
 * KEEPTRACK_ADMIN_TOKEN; 404 when none is configured), not by a session:
 * the same person who reads /metrics. Read-only, so no cross-site check is
 * involved. The handler checks the token, calls the service, serializes.
 */
#include "http/routes.h"
#include "services/admin.h"

static void overview_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    json_t *body = NULL;

    if (!routes_require_admin(r, app))
        return;
    if (admin_overview(app, &body, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    http_reply_json(r, 200, body);
}

const http_route routes_admin[] = {
    {"GET", "/api/admin/overview", overview_handler, 0},
};
const size_t routes_admin_count = sizeof routes_admin / sizeof routes_admin[0];

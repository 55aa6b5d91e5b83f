/* routes_shares.c - read-only share links over HTTP (issue 18, item 3;
 * services/shares.h does the work, store/store_shares.c holds the SQL).
 *
 *   POST   /api/shares                 {"pages": ["stats" | "tops" |
 *                                      "playlist:<id>", ...], "expires_in_days"?:
 *                                      1..365, "label"?} -> 201 {id, token, url,
 *                                      pages, label, created_at, expires_at}
 *                                      (the only answer that carries the token)
 *   GET    /api/shares                 -> 200 {shares} (no tokens)
 *   DELETE /api/shares/{id}            -> 200 {id, deleted: true} (revoked)
 *   GET    /api/public/{token}         -> 200 {pages}: what the link shows
 *   GET    /api/public/{token}/{page}  -> 200 the owner's answer for that page:
 *                                      "stats" = GET /api/stats/library, "tops" =
 *                                      GET /api/stats/tops (same query
 *                                      parameters), "playlist:<id>" =
 *                                      GET /api/playlists/{id}/versions
 *
 * The /api/shares routes are session-authenticated (and, being
 * state-changing, refuse cross-site requests). The public routes take no
 * cookie and are GET-only: the token in the path is the capability. An
 * unknown, expired or revoked token and a page the link does not show all
 * answer the same 404; too many reads from one address or through one link
 * answer 429 with Retry-After. Referrer-Policy no-referrer keeps the token
 * out of Referer headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/library.h"
#include "services/shares.h"
#include "services/stats.h"

static void list_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (routes_require_user(r, app, &uid))
        routes_reply_result(r, shares_list(app, uid, time_now_ms(), &out, &err), &out, &err);
}

static void create_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *body = NULL, *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK ||
        shares_create(app, uid, body, time_now_ms(), &out, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        http_reply_json(r, 201, out);
    json_decref(body);
}

static void delete_handler(http_req *r, void *app)
{
    int64_t uid = 0, id = 0;
    kt_err err = {0};
    if (!routes_require_user(r, app, &uid) || !routes_param_id(r, "a share link", &id))
        return;
    if (shares_delete(app, uid, id, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        routes_reply_deleted(r, id);
}

/* Resolves the link for a public read. Returns 1 with *owner set, or 0
 * after replying (404, or 429 with Retry-After). */
static int open_link(http_req *r, kt_app *app, const char *page, int64_t *owner, json_t **index)
{
    char client[64], retry[32];
    kt_err err = {0};
    int64_t now = time_now_ms();
    http_reply_header(r, "Referrer-Policy", "no-referrer");
    http_req_client(r, client, sizeof client);
    kt_status st = shares_open(app, http_req_param(r, "token"), client, page, now, owner, index,
                               &err);
    if (st == KT_OK)
        return 1;
    if (st == KT_ERR_DEFERRED) {
        int64_t s = (err.retry_at_ms - now + 999) / 1000;
        snprintf(retry, sizeof retry, "%lld", (long long)(s > 0 ? s : 1));
        http_reply_header(r, "Retry-After", retry);
        http_reply_error_msg(r, 429, "rate_limited", "%s", err.msg);
    } else {
        http_reply_error(r, &err);
    }
    return 0;
}

static void public_index_handler(http_req *r, void *app)
{
    int64_t owner = 0;
    json_t *index = NULL;
    if (open_link(r, app, NULL, &owner, &index))
        http_reply_json(r, 200, index);
}

static void public_page_handler(http_req *r, void *app)
{
    int64_t owner = 0, limit = 0;
    kt_err err = {0};
    json_t *out = NULL;
    const char *page = http_req_param(r, "page"), *pl = shares_playlist_id(page);
    stats_range_args range;
    if (!open_link(r, app, page, &owner, NULL))
        return;
    if (pl != NULL) {
        routes_reply_result(r, library_playlist_versions(app, owner, pl, &out, &err), &out, &err);
    } else if (strcmp(page, "stats") == 0) {
        routes_reply_result(r, stats_library(app, owner, &out, &err), &out, &err);
    } else {
        /* "tops": the parameters of GET /api/stats/tops. */
        range.period = http_req_query(r, "period");
        range.bucket = http_req_query(r, "bucket");
        if (!routes_query_time(r, "from", STATS_NO_TIME, &range.from_ms) ||
            !routes_query_time(r, "to", STATS_NO_TIME, &range.to_ms) ||
            !routes_query_int(r, "limit", 10, 1, 100, &limit))
            return;
        routes_reply_result(r,
                            stats_tops(app, owner, http_req_query(r, "kind"),
                                       http_req_query(r, "by"), &range, (int)limit,
                                       time_now_ms(), &out, &err),
                            &out, &err);
    }
}

const http_route routes_shares[] = {
    {"GET", "/api/shares", list_handler, 0},
    {"POST", "/api/shares", create_handler, 0},
    {"DELETE", "/api/shares/{id}", delete_handler, 0},
    {"GET", "/api/public/{token}", public_index_handler, 0},
    {"GET", "/api/public/{token}/{page}", public_page_handler, 0},
};
const size_t routes_shares_count = sizeof routes_shares / sizeof routes_shares[0];

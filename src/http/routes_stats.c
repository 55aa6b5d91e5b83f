/* routes_stats.c - the statistics API (issue 7):
 *
 *   GET  /api/stats/library                   Liked Songs analysis (cached genres/features)
 *   GET  /api/stats/listening                 ?from&to (ISO 8601 or unix ms)&limit=1..100 (10)
 *   GET  /api/stats/listening/series          ?period=day|week|month|year|all|custom&from&to&bucket=hour|day|week|month|year
 *   GET  /api/stats/tops                      ?kind=tracks|artists|albums&by=plays|time&period&from&to&limit=1..100 (10)
 *   GET  /api/stats/{track,artist,album}/{id} one item: plays over time, first/last play, ranks, playlists, Liked Songs
 *   GET  /api/stats/library/growth            Liked Songs per day, rebuilt from added_at
 *   GET  /api/stats/tracker                   ?name=liked|playlists|followed|plays&from&to (YYYY-MM-DD)
 *   GET  /api/top/movement                    ?range=short_term|medium_term|long_term&kind=tracks|artists&from&to (YYYY-MM-DD)
 *   GET  /api/stats/aggregate                 everything a dashboard shows, in one call
 *   POST /api/stats/refresh                   enqueues the "stats" job -> 202 with the job
 *   POST /api/admin/trackers/update           admin token (Bearer): today's tracker point of
 *                                             every user (?user=ID: one user) -> 200 {points}
 *
 * The user routes are session-authenticated and scoped to the session's
 * user; the admin route takes KEEPTRACK_ADMIN_TOKEN as a Bearer token
 * (for an external cron) instead, so it skips the cross-site check. Bad
 * parameters are 400 naming them. Days and the hour x weekday grid are UTC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/jobs.h"
#include "services/stats.h"

static void library_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, stats_library(app, uid, &out, &err), &out, &err);
}

static void listening_handler(http_req *r, void *app)
{
    int64_t uid = 0, from = 0, to = 0, limit = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !routes_query_time(r, "from", 0, &from) ||
        !routes_query_time(r, "to", INT64_MAX, &to) ||
        !routes_query_int(r, "limit", 10, 1, 100, &limit))
        return;
    routes_reply_result(r, stats_listening(app, uid, from, to, (int)limit, &out, &err), &out, &err);
}

/* The range parameters the listening routes share (stats_range_args). */
static int query_range(http_req *r, stats_range_args *range)
{
    range->period = http_req_query(r, "period");
    range->bucket = http_req_query(r, "bucket");
    return routes_query_time(r, "from", STATS_NO_TIME, &range->from_ms) &&
           routes_query_time(r, "to", STATS_NO_TIME, &range->to_ms);
}

static void series_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    stats_range_args range;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_range(r, &range))
        return;
    routes_reply_result(r, stats_listening_series(app, uid, &range, time_now_ms(), &out, &err),
                        &out, &err);
}

static void tops_handler(http_req *r, void *app)
{
    int64_t uid = 0, limit = 0;
    stats_range_args range;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_range(r, &range) ||
        !routes_query_int(r, "limit", 10, 1, 100, &limit))
        return;
    routes_reply_result(r,
                        stats_tops(app, uid, http_req_query(r, "kind"), http_req_query(r, "by"),
                                   &range, (int)limit, time_now_ms(), &out, &err),
                        &out, &err);
}

static void item_reply(http_req *r, kt_app *app, const char *kind)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, stats_item(app, uid, kind, http_req_param(r, "id"), &out, &err), &out,
                        &err);
}

static void track_handler(http_req *r, void *app)
{
    item_reply(r, app, "track");
}

static void artist_handler(http_req *r, void *app)
{
    item_reply(r, app, "artist");
}

static void album_handler(http_req *r, void *app)
{
    item_reply(r, app, "album");
}

static void growth_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, stats_library_growth(app, uid, &out, &err), &out, &err);
}

static void tracker_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r,
                        stats_tracker(app, uid, http_req_query(r, "name"),
                                      http_req_query(r, "from"), http_req_query(r, "to"),
                                      time_now_ms(), &out, &err),
                        &out, &err);
}

static void movement_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    const char *range = http_req_query(r, "range");
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r,
                        stats_top_movement(app, uid, range ? range : "medium_term",
                                           http_req_query(r, "kind"), http_req_query(r, "from"),
                                           http_req_query(r, "to"), &out, &err),
                        &out, &err);
}

static void aggregate_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, stats_aggregate(app, uid, time_now_ms(), &out, &err), &out, &err);
}

static void refresh_handler(http_req *r, void *app)
{
    kt_err err = {0};
    int64_t uid = 0, id = 0;
    int created = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (stats_enqueue_refresh(app, uid, NULL, &id, &created, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        routes_reply_job_accepted(r, app, id, created);
}

static void trackers_update_handler(http_req *r, void *app)
{
    int64_t user = 0, points = 0, now = time_now_ms();
    kt_err err = {0};
    char day[32];
    if (!routes_require_admin(r, app) || !routes_query_int(r, "user", 0, 1, INT64_MAX, &user))
        return;
    if (stats_trackers_update(app, user, now, &points, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    time_format_iso8601(now, day);
    day[10] = '\0';
    http_reply_json(r, 200, json_pack("{s:s,s:I}", "day", day, "points", (json_int_t)points));
}

const http_route routes_stats[] = {
    {"GET", "/api/stats/library", library_handler, 0},
    {"GET", "/api/stats/listening", listening_handler, 0},
    {"GET", "/api/stats/listening/series", series_handler, 0},
    {"GET", "/api/stats/tops", tops_handler, 0},
    {"GET", "/api/stats/track/{id}", track_handler, 0},
    {"GET", "/api/stats/artist/{id}", artist_handler, 0},
    {"GET", "/api/stats/album/{id}", album_handler, 0},
    {"GET", "/api/stats/library/growth", growth_handler, 0},
    {"GET", "/api/stats/tracker", tracker_handler, 0},
    {"GET", "/api/stats/aggregate", aggregate_handler, 0},
    {"GET", "/api/top/movement", movement_handler, 0},
    {"POST", "/api/stats/refresh", refresh_handler, 0},
    {"POST", "/api/admin/trackers/update", trackers_update_handler, HTTP_ROUTE_NO_CSRF},
};
const size_t routes_stats_count = sizeof routes_stats / sizeof routes_stats[0];

/* routes_releases.c - new releases over HTTP (issue 8).
 *
 *   GET  /api/artists/        artists with recent releases, newest release
 *                             first: {"artists":[{id,name,url,image,releases:
 *                             [{id,name,type,release_date,url,image}]}],
 *                             "paging":{limit,offset,total,next,previous}}
 *                             ?release_limit=1..50 (5) latest releases per artist,
 *                             ?since=YYYY-MM-DD, ?limit=1..100 (20), ?offset=,
 *                             ?scope=global (default, no session needed) | me
 *                             (the user's followed artists; needs a session)
 *   GET  /api/releases        the album-centric view: {"releases":[{id,name,
 *                             type,release_date,release_date_precision,
 *                             total_tracks,url,image,artists,found_via,
 *                             first_seen_at}],"paging":{...}}; same since,
 *                             limit, offset and scope
 *   POST /api/releases/refresh  enqueues the releases job -> 202 with the job
 *                             and Location: /api/jobs/{id} (an already queued
 *                             or running refresh is returned instead)
 *
 * The GETs are served from keeptrack's own copy and never call Spotify.
 * They carry a strong ETag (a hash of the body) and answer If-None-Match
 * with 304; Cache-Control is public with a short max-age for global
 * answers and private for scope=me. Global answers come from the service's
 * cache without touching the database when it is warm (the benchmarked
 * path: parse, look up, copy the bytes out). Bad parameters are 400 naming
 * the parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/routes.h"
#include "services/releases.h"
#include "store/store_releases.h"

#define CACHE_GLOBAL "public, max-age=30"
#define CACHE_ME "private, max-age=30"

/* A decimal in [min, max] with at most 9 digits into *out; -1 otherwise. */
static int parse_bounded(const char *s, long min, long max, size_t *out)
{
    long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Reads the query parameters shared by both views into q. Replies 400 (or
 * 401 for scope=me without a session) and returns 0 on a bad one. */
static int parse_query(http_req *r, kt_app *app, releases_query *q)
{
    const char *v;
    memset(q, 0, sizeof *q);
    q->limit = RELEASES_LIMIT_DEFAULT;
    q->release_limit = RELEASES_RELEASE_LIMIT_DEFAULT;
    if ((v = http_req_query(r, "limit")) && parse_bounded(v, 1, RELEASES_LIMIT_MAX, &q->limit)) {
        http_reply_error_msg(r, 400, "bad_limit", "limit: expected 1..%d", RELEASES_LIMIT_MAX);
        return 0;
    }
    if ((v = http_req_query(r, "offset")) &&
        parse_bounded(v, 0, RELEASES_OFFSET_MAX, &q->offset)) {
        http_reply_error_msg(r, 400, "bad_offset", "offset: expected 0..%d", RELEASES_OFFSET_MAX);
        return 0;
    }
    if ((v = http_req_query(r, "since"))) {
        char day[11];
        if (strlen(v) != 10 || store_release_day(v, day) != 0) {
            http_reply_error_msg(r, 400, "bad_since", "since: expected a date YYYY-MM-DD");
            return 0;
        }
        memcpy(q->since, v, 11);
    }
    if ((v = http_req_query(r, "scope")) && strcmp(v, "global") != 0) {
        int64_t uid = 0;
        if (strcmp(v, "me") != 0) {
            http_reply_error_msg(r, 400, "bad_scope", "scope: expected global or me");
            return 0;
        }
        if (!routes_require_user(r, app, &uid))
            return 0;
        q->user_id = uid;
    }
    return 1;
}

/* Sends the payload, or 304 when the client's copy is current. */
static void reply_payload(http_req *r, const releases_query *q, releases_payload *p)
{
    size_t len = 0;
    const char *body = releases_payload_body(p, &len);
    const char *etag = releases_payload_etag(p);
    http_reply_header(r, "ETag", etag);
    http_reply_header(r, "Cache-Control", q->user_id ? CACHE_ME : CACHE_GLOBAL);
    if (q->user_id)
        http_reply_header(r, "Vary", "Cookie");
    if (releases_etag_matches(http_req_header(r, "If-None-Match"), etag))
        http_reply_bytes(r, 304, "application/json", "", 0);
    else
        http_reply_bytes(r, 200, "application/json", body, len);
}

static void serve_view(http_req *r, kt_app *app, releases_query *q)
{
    kt_err err = {0};
    releases_payload *p = NULL;
    if (releases_get(app, q, &p, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    reply_payload(r, q, p);
    releases_payload_unref(p);
}

static void artists_handler(http_req *r, void *ctx)
{
    releases_query q;
    const char *v;
    if (!parse_query(r, ctx, &q))
        return;
    if ((v = http_req_query(r, "release_limit")) &&
        parse_bounded(v, 1, RELEASES_RELEASE_LIMIT_MAX, &q.release_limit)) {
        http_reply_error_msg(r, 400, "bad_release_limit", "release_limit: expected 1..%d",
                             RELEASES_RELEASE_LIMIT_MAX);
        return;
    }
    q.view = RELEASES_VIEW_ARTISTS;
    q.base_path = "/api/artists/";
    serve_view(r, ctx, &q);
}

static void releases_handler(http_req *r, void *ctx)
{
    releases_query q;
    if (!parse_query(r, ctx, &q))
        return;
    q.view = RELEASES_VIEW_ALBUMS;
    q.base_path = "/api/releases";
    serve_view(r, ctx, &q);
}

static void refresh_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    int64_t uid = 0, id = 0;
    int created = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (releases_enqueue(app, uid, NULL, &id, &created, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    routes_reply_job_accepted(r, app, id, created);
}

const http_route routes_releases[] = {
    {"GET", "/api/artists/", artists_handler, HTTP_ROUTE_INLINE},
    {"GET", "/api/artists", artists_handler, HTTP_ROUTE_INLINE},
    {"GET", "/api/releases", releases_handler, 0},
    {"POST", "/api/releases/refresh", refresh_handler, 0},
};
const size_t routes_releases_count = sizeof routes_releases / sizeof routes_releases[0];

/* routes_library.c - the read API over the library copy (issue 5):
 *
 *   GET /api/sync/runs                       ?limit&offset
 *   GET /api/library/tracks                  ?limit&offset&q&sort=added_at|name|artist|release_date&order=asc|desc
 *   GET /api/library/{albums|shows|episodes} ?limit&offset
 *   GET /api/playlists                       ?limit&offset
 *   GET /api/playlists/{id}                  ?limit&offset (its items)
 *   GET /api/playlists/{id}/versions
 *   GET /api/playlists/{id}/diff             ?from=SNAPSHOT&to=SNAPSHOT
 *   GET /api/following                       ?limit&offset
 *   GET /api/top/{tracks|artists}            ?range=short_term|medium_term|long_term&day=YYYY-MM-DD
 *   GET /api/plays                           ?from&to (ISO 8601 or unix ms)&limit&offset
 *
 * Session-authenticated and scoped to the session's user; a bad parameter is
 * 400 with a message naming it (code "bad_parameter"). Each handler parses,
 * calls one library_* service, and replies with its JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/library.h"

#define DEFAULT_LIMIT 50

static int bad_param(http_req *r, const char *name, const char *what)
{
    http_reply_error_msg(r, 400, "bad_parameter", "%s: %s", name, what);
    return 0;
}

/* limit and offset of a page. */
static int query_page(http_req *r, size_t *limit, size_t *offset)
{
    int64_t l = 0, o = 0;
    if (!routes_query_int(r, "limit", DEFAULT_LIMIT, 1, STORE_LIB_MAX_LIMIT, &l) ||
        !routes_query_int(r, "offset", 0, 0, INT32_MAX, &o))
        return 0;
    *limit = (size_t)l;
    *offset = (size_t)o;
    return 1;
}

static void runs_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    routes_reply_result(r, library_sync_runs(app, uid, limit, offset, &out, &err), &out, &err);
}

static void tracks_handler(http_req *r, void *app)
{
    static const char *const sorts[] = {"added_at", "name", "artist", "release_date"};
    int64_t uid = 0;
    size_t limit = 0, offset = 0, k;
    kt_err err = {0};
    json_t *out = NULL;
    const char *sort = http_req_query(r, "sort"), *order = http_req_query(r, "order"),
               *q = http_req_query(r, "q");
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    for (k = 0; sort && k < sizeof sorts / sizeof sorts[0]; k++)
        if (strcmp(sort, sorts[k]) == 0)
            break;
    if (sort && k == sizeof sorts / sizeof sorts[0]) {
        bad_param(r, "sort", "must be added_at, name, artist or release_date");
        return;
    }
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        bad_param(r, "order", "must be asc or desc");
        return;
    }
    if (q && strlen(q) > 200) {
        bad_param(r, "q", "must be at most 200 bytes");
        return;
    }
    store_sort s = sort ? (store_sort)k : STORE_SORT_ADDED_AT;
    /* Newest first by default for added_at, A-Z for the names. */
    int desc = order ? strcmp(order, "desc") == 0 : s == STORE_SORT_ADDED_AT;
    routes_reply_result(r, library_tracks(app, uid, q, s, desc, limit, offset, &out, &err), &out,
                        &err);
}

static void saved_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    routes_reply_result(
        r, library_saved(app, uid, http_req_param(r, "kind"), limit, offset, &out, &err), &out,
        &err);
}

static void playlists_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    routes_reply_result(r, library_playlists(app, uid, limit, offset, &out, &err), &out, &err);
}

static void playlist_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    routes_reply_result(
        r, library_playlist(app, uid, http_req_param(r, "id"), limit, offset, &out, &err), &out,
        &err);
}

static void versions_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, library_playlist_versions(app, uid, http_req_param(r, "id"), &out, &err),
                        &out, &err);
}

/* GET /api/covers/{sha256}: a stored custom cover of the user's playlist
 * versions (the bytes Spotify served), for the versions view's thumbnails
 * of covers Spotify may no longer serve. Immutable by its hash. */
static void cover_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (!routes_require_user(r, app, &uid))
        return;
    if (library_cover(app, uid, http_req_param(r, "sha256"), &bytes, &len, &err) != KT_OK) {
        http_reply_error(r, &err);
        return;
    }
    http_reply_header(r, "Cache-Control", "private, max-age=31536000, immutable");
    http_reply_bytes(r, 200, "image/jpeg", bytes, len);
    free(bytes);
}

static void diff_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r,
                        library_playlist_diff(app, uid, http_req_param(r, "id"),
                                              http_req_query(r, "from"), http_req_query(r, "to"),
                                              &out, &err),
                        &out, &err);
}

static void following_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset))
        return;
    routes_reply_result(r, library_following(app, uid, limit, offset, &out, &err), &out, &err);
}

static void top_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    const char *range = http_req_query(r, "range");
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r,
                        library_top(app, uid, http_req_param(r, "kind"),
                                    range ? range : "medium_term", http_req_query(r, "day"), &out,
                                    &err),
                        &out, &err);
}

static void plays_handler(http_req *r, void *app)
{
    int64_t uid = 0, from = 0, to = 0;
    size_t limit = 0, offset = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid) || !query_page(r, &limit, &offset) ||
        !routes_query_time(r, "from", 0, &from) || !routes_query_time(r, "to", INT64_MAX, &to))
        return;
    routes_reply_result(r, library_plays(app, uid, from, to, limit, offset, &out, &err), &out,
                        &err);
}

const http_route routes_library[] = {
    {"GET", "/api/sync/runs", runs_handler, 0},
    {"GET", "/api/library/tracks", tracks_handler, 0},
    {"GET", "/api/library/{kind}", saved_handler, 0},
    {"GET", "/api/playlists", playlists_handler, 0},
    {"GET", "/api/playlists/{id}", playlist_handler, 0},
    {"GET", "/api/playlists/{id}/versions", versions_handler, 0},
    {"GET", "/api/playlists/{id}/diff", diff_handler, 0},
    {"GET", "/api/covers/{sha256}", cover_handler, 0},
    {"GET", "/api/following", following_handler, 0},
    {"GET", "/api/top/{kind}", top_handler, 0},
    {"GET", "/api/plays", plays_handler, 0},
};
const size_t routes_library_count = sizeof routes_library / sizeof routes_library[0];

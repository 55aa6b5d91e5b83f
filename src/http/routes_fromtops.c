/* routes_fromtops.c - playlists from top tracks over HTTP (issue 18, item 2;
 * services/fromtops.h does the work, store/store_fromtops.c holds the SQL).
 *
 *   POST   /api/playlists/from-tops       {"source": "spotify" | "history",
 *                                         "range" (spotify), "period", "from",
 *                                         "to", "by" (history), "limit" 1..100,
 *                                         "name"?, "refresh": "none" | "weekly"
 *                                         | "monthly"} -> 202 with the job (kind
 *                                         "fromtops") and "definition": the saved
 *                                         definition (the same one, and so the
 *                                         same playlist, for the same ranking)
 *   GET    /api/playlists/from-tops       -> 200 {definitions}
 *   DELETE /api/playlists/from-tops/{id}  -> 200 {id, deleted: true} (the playlist
 *                                         stays in Spotify)
 *
 * Session-authenticated; bad input is 400 naming the field.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/timeutil.h"
#include "http/routes.h"
#include "services/fromtops.h"

static void list_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (routes_require_user(r, app, &uid))
        routes_reply_result(r, fromtops_list(app, uid, &out, &err), &out, &err);
}

static void create_handler(http_req *r, void *app)
{
    int64_t uid = 0, def_id = 0, job_id = 0;
    int created = 0;
    kt_err err = {0};
    json_t *body = NULL, *def = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    if (http_req_json(r, &body, &err) != KT_OK ||
        fromtops_save(app, uid, body, time_now_ms(), &def_id, &def, &err) != KT_OK ||
        fromtops_enqueue(app, uid, def_id, &job_id, &created, &err) != KT_OK) {
        json_decref(def);
        http_reply_error(r, &err);
    } else {
        routes_reply_job_accepted_with(r, app, job_id, created, "definition", def);
    }
    json_decref(body);
}

static void delete_handler(http_req *r, void *app)
{
    int64_t uid = 0, id = 0;
    kt_err err = {0};
    if (!routes_require_user(r, app, &uid) || !routes_param_id(r, "a definition", &id))
        return;
    if (fromtops_delete(app, uid, id, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        routes_reply_deleted(r, id);
}

const http_route routes_fromtops[] = {
    {"GET", "/api/playlists/from-tops", list_handler, 0},
    {"POST", "/api/playlists/from-tops", create_handler, 0},
    {"DELETE", "/api/playlists/from-tops/{id}", delete_handler, 0},
};
const size_t routes_fromtops_count = sizeof routes_fromtops / sizeof routes_fromtops[0];

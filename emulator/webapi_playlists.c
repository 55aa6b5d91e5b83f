/* webapi_playlists.c - playlists: the user's list, create (201), get, items
 * (read, add <= 100 with position, replace, reorder, remove by uri), the
 * extended-only /tracks, /users/{id}/playlists and /followers endpoints,
 * the cover (GET/PUT /playlists/{id}/images).
 * Every edit bumps the playlist version and so its snapshot_id. A playlist
 * holds at most 11,000 items. */
#include "webapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD(app) pthread_rwlock_rdlock(&(app)->lib->lock)
#define WR(app) pthread_rwlock_wrlock(&(app)->lib->lock)
#define UN(app) pthread_rwlock_unlock(&(app)->lib->lock)
#define ADD_MAX 100

/* The caller's own playlist list; `path` is the one asked for (/me/playlists
 * or /users/{me}/playlists), so href/next/previous lead back to it. */
static void own_playlists(em_app *app, em_req *r, em_resp *out, const char *path)
{
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    em_out o = wa_out(app);
    RD(app);
    const em_user *u = r->user;
    long n = (long)u->playlists.n;
    resp_json(out, 200);
    out_paging_begin(&o, &out->body, path, NULL, offset, limit, n);
    for (long i = offset; i < n && i < offset + limit; i++) out_playlist_simple(&o, &out->body, u->playlists.v[i]);
    out_paging_end(&out->body);
    UN(app);
}

void wa_me_playlists(em_app *app, em_req *r, em_resp *out) { own_playlists(app, r, out, "/me/playlists"); }

/* GET /users/{id}/playlists: the user's own list for "me", else the public
 * playlists that owner has (emulator users and synthetic owners alike). */
void wa_user_playlists(em_app *app, em_req *r, em_resp *out)
{
    if (strcmp(r->params[0], r->user->id) == 0) {
        char path[96];
        snprintf(path, sizeof(path), "/users/%s/playlists", r->user->id);
        own_playlists(app, r, out, path);
        return;
    }
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    em_out o = wa_out(app);
    RD(app);
    const em_library *lib = app->lib;
    uint32_t owner = NONE;
    for (size_t i = 0; i < lib->owners.n && owner == NONE; i++)
        if (strcmp(lib->owners.v[i].id, r->params[0]) == 0) owner = (uint32_t)i;
    if (owner == NONE) {
        resp_error(out, 404, "Resource not found");
    } else {
        VEC(uint32_t) v = {0};
        for (size_t i = 0; i < lib->playlists.n; i++)
            if (lib->playlists.v[i].owner == owner && lib->playlists.v[i].public_) VEC_PUSH(&v, (uint32_t)i);
        char path[96];
        snprintf(path, sizeof(path), "/users/%s/playlists", lib->owners.v[owner].id);
        resp_json(out, 200);
        out_paging_begin(&o, &out->body, path, NULL, offset, limit, (long)v.n);
        for (long i = offset; i < (long)v.n && i < offset + limit; i++) out_playlist_simple(&o, &out->body, v.v[i]);
        out_paging_end(&out->body);
        free(v.v);
    }
    UN(app);
}

static void create(em_app *app, em_req *r, em_resp *out)
{
    json_t *body = wa_json_body(r, out);
    if (!body) return;
    json_t *name = json_object_get(body, "name"), *pub = json_object_get(body, "public");
    json_t *collab = json_object_get(body, "collaborative"), *desc = json_object_get(body, "description");
    if (!json_is_string(name) || !*json_string_value(name)) {
        resp_error(out, 400, "Missing required field: name");
    } else if ((pub && !json_is_boolean(pub)) || (collab && !json_is_boolean(collab)) ||
               (desc && !json_is_string(desc))) {
        resp_error(out, 400, "Invalid request body");
    } else if (json_is_true(collab) && (!pub || json_is_true(pub))) {
        resp_error(out, 400, "Collaborative playlists can only be private.");
    } else if (strlen(json_string_value(name)) > 1000 || (desc && strlen(json_string_value(desc)) > 4000)) {
        resp_error(out, 400, "Name or description too long");
    } else {
        em_out o = wa_out(app);
        WR(app);
        if (r->user->playlists.n >= 11000) {
            resp_error(out, 400, "Playlist limit reached");
        } else {
            uint32_t pi = library_create_playlist(app->lib, r->user, json_string_value(name),
                                                  desc ? json_string_value(desc) : NULL,
                                                  pub ? json_is_true(pub) : true, json_is_true(collab));
            resp_json(out, 201);
            out_playlist_full(&o, &out->body, pi, r->user);
        }
        UN(app);
    }
    json_decref(body);
}

void wa_create_playlist(em_app *app, em_req *r, em_resp *out) { create(app, r, out); }

void wa_user_create_playlist(em_app *app, em_req *r, em_resp *out)
{
    if (strcmp(r->params[0], r->user->id) != 0) {
        resp_error(out, 403, "You cannot create a playlist for another user");
        return;
    }
    create(app, r, out);
}

void wa_playlist_get(em_app *app, em_req *r, em_resp *out)
{
    em_out o = wa_out(app);
    RD(app);
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi != NONE) {
        resp_json(out, 200);
        out_playlist_full(&o, &out->body, pi, r->user);
    }
    UN(app);
}

void wa_items_get(em_app *app, em_req *r, em_resp *out)
{
    em_out o = wa_out(app);
    long offset, limit;
    if (!wa_paging(r, out, 20, o.ext ? 100 : 50, &offset, &limit)) return;
    RD(app);
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi != NONE) {
        const em_playlist *p = &app->lib->playlists.v[pi];
        if (!o.ext && !library_can_edit(app->lib, r->user, p)) {
            resp_error(out, 403, "Forbidden");
        } else {
            char path[64];
            bool tracks = strstr(r->path, "/tracks") != NULL;
            snprintf(path, sizeof(path), "/playlists/%s/%s", p->id, tracks ? "tracks" : "items");
            long n = (long)p->items.n;
            resp_json(out, 200);
            out_paging_begin(&o, &out->body, path, NULL, offset, limit, n);
            for (long i = offset; i < n && i < offset + limit; i++) out_playlist_item(&o, &out->body, &p->items.v[i]);
            out_paging_end(&out->body);
        }
    }
    UN(app);
}

/* Looks up the playlist of an edit and checks the user may edit it. Caller
 * holds the write lock. */
static em_playlist *editable(em_app *app, em_req *r, em_resp *out)
{
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi == NONE) return NULL;
    em_playlist *p = &app->lib->playlists.v[pi];
    if (!library_can_edit(app->lib, r->user, p)) {
        resp_error(out, 403, "You cannot modify a playlist you don't own.");
        return NULL;
    }
    return p;
}

/* Parses track/episode URIs into items; on error writes 400 and returns -1. */
static int parse_items(em_app *app, em_req *r, json_t *body, em_resp *out, em_item *items)
{
    char *uris[ADD_MAX], *storage = NULL;
    int n = wa_uris(r, body, uris, ADD_MAX, &storage);
    int ret = -1;
    if (n < 0) { resp_error(out, 400, "You can add a maximum of 100 tracks per request."); goto out; }
    if (n == 0) { resp_error(out, 400, "No uris provided"); goto out; }
    int64_t now = now_ms() / 1000;
    for (int i = 0; i < n; i++) {
        em_uri_type t;
        uint32_t ix;
        bool bad = false;
        if (!library_parse_uri(app->lib, uris[i], &t, &ix, &bad) || (t != URI_TRACK && t != URI_EPISODE)) {
            resp_error(out, 400, bad || (t != URI_TRACK && t != URI_EPISODE) ? "Invalid track uri"
                                                                             : "Payload contains a non-existing ID");
            goto out;
        }
        items[i].kind = t == URI_TRACK ? ITEM_TRACK : ITEM_EPISODE;
        items[i].ref = ix;
        items[i].added_by = r->user->owner;
        items[i].added_at = now;
    }
    ret = n;
out:
    free(storage);
    return ret;
}

static void snapshot_resp(em_resp *out, int status, const em_playlist *p)
{
    char snap[33];
    library_snapshot_id(p, snap);
    resp_json(out, status);
    jw_obj(&out->body);
    jw_kstr(&out->body, "snapshot_id", snap);
    jw_obj_end(&out->body);
}

/* Optional JSON body: empty is fine, anything else must be an object. */
static bool optional_body(em_req *r, em_resp *out, json_t **body)
{
    *body = NULL;
    size_t i = 0;
    while (i < r->body_len && (r->body[i] == ' ' || r->body[i] == '\n' || r->body[i] == '\r' || r->body[i] == '\t')) i++;
    if (i == r->body_len) return true;
    *body = wa_json_body(r, out);
    return *body != NULL;
}

void wa_items_add(em_app *app, em_req *r, em_resp *out)
{
    json_t *body;
    if (!optional_body(r, out, &body)) return;
    em_item items[ADD_MAX];
    long pos = -1;
    const char *qpos = req_arg(r, "position");
    json_t *bpos = body ? json_object_get(body, "position") : NULL;
    WR(app);
    em_playlist *p = editable(app, r, out);
    int n = p ? parse_items(app, r, body, out, items) : -1;
    if (n > 0) {
        if (qpos && !parse_long(qpos, 0, EM_PLAYLIST_MAX_ITEMS, &pos)) n = -2;
        else if (!qpos && bpos && (!json_is_integer(bpos) || json_integer_value(bpos) < 0)) n = -2;
        else if (!qpos && bpos) pos = (long)json_integer_value(bpos);
        if (n == -2 || pos > (long)p->items.n) resp_error(out, 400, "Index out of bounds");
        else if (p->items.n + (size_t)n > EM_PLAYLIST_MAX_ITEMS) resp_error(out, 400, "Playlist size limit reached");
        else {
            library_playlist_insert(app->lib, p, items, (size_t)n, pos);
            snapshot_resp(out, 201, p);
        }
    }
    UN(app);
    json_decref(body);
}

static bool get_long(json_t *body, const char *key, long lo, long hi, long *out, bool *present)
{
    json_t *v = json_object_get(body, key);
    *present = v != NULL;
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return false;
    *out = (long)json_integer_value(v);
    return true;
}

static void reorder(em_playlist *p, json_t *body, em_resp *out)
{
    long start = 0, before = 0, len = 1;
    bool has_start, has_before, has_len;
    if (!get_long(body, "range_start", 0, EM_PLAYLIST_MAX_ITEMS, &start, &has_start) ||
        !get_long(body, "insert_before", 0, EM_PLAYLIST_MAX_ITEMS, &before, &has_before) ||
        !get_long(body, "range_length", 1, EM_PLAYLIST_MAX_ITEMS, &len, &has_len) || !has_before ||
        !library_playlist_reorder(p, start, before, len)) {
        resp_error(out, 400, "Index out of bounds");
        return;
    }
    snapshot_resp(out, 200, p);
}

void wa_items_put(em_app *app, em_req *r, em_resp *out)
{
    json_t *body;
    if (!optional_body(r, out, &body)) return;
    WR(app);
    em_playlist *p = editable(app, r, out);
    if (p && body && json_object_get(body, "range_start")) {
        reorder(p, body, out);
    } else if (p && (req_arg(r, "uris") || (body && json_object_get(body, "uris")))) {
        em_item items[ADD_MAX];
        char *probe[1], *storage = NULL;
        /* An explicitly empty list clears the playlist. */
        bool empty = wa_uris(r, body, probe, 1, &storage) == 0;
        free(storage);
        int n = empty ? 0 : parse_items(app, r, body, out, items);
        if (n >= 0) {
            p->items.n = 0;
            library_playlist_insert(app->lib, p, items, (size_t)n, 0);
            snapshot_resp(out, 200, p);
        }
    } else if (p) {
        resp_error(out, 400, "Either uris or range_start must be given");
    }
    UN(app);
    json_decref(body);
}

void wa_items_delete(em_app *app, em_req *r, em_resp *out)
{
    json_t *body = wa_json_body(r, out);
    if (!body) return;
    json_t *list = json_object_get(body, "items");
    if (!list) list = json_object_get(body, "tracks");
    WR(app);
    em_playlist *p = editable(app, r, out);
    if (!p) goto out;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        resp_error(out, 400, "Missing items to remove");
        goto out;
    }
    if (json_array_size(list) > ADD_MAX) {
        resp_error(out, 400, "You can remove a maximum of 100 tracks per request.");
        goto out;
    }
    em_item want[ADD_MAX];
    size_t nw = json_array_size(list);
    for (size_t i = 0; i < nw; i++) {
        const char *u = json_string_value(json_object_get(json_array_get(list, i), "uri"));
        em_uri_type t;
        uint32_t ix;
        bool bad = false;
        if (!u || !library_parse_uri(app->lib, u, &t, &ix, &bad) || (t != URI_TRACK && t != URI_EPISODE)) {
            resp_error(out, 400, "Invalid track uri");
            goto out;
        }
        want[i].kind = t == URI_TRACK ? ITEM_TRACK : ITEM_EPISODE;
        want[i].ref = ix;
    }
    library_playlist_remove(p, want, nw);
    snapshot_resp(out, 200, p);
out:
    UN(app);
    json_decref(body);
}

void wa_playlist_unfollow(em_app *app, em_req *r, em_resp *out)
{
    WR(app);
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi != NONE) {
        em_user *u = r->user;
        for (size_t k = 0; k < u->playlists.n; k++)
            if (u->playlists.v[k] == pi) { VEC_REMOVE(&u->playlists, k); break; }
        resp_empty(out, 200);
    }
    UN(app);
}

/* GET /playlists/{id}/images: any playlist the id names (as Spotify). */
void wa_playlist_images_get(em_app *app, em_req *r, em_resp *out)
{
    em_out o = wa_out(app);
    RD(app);
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi != NONE) {
        resp_json(out, 200);
        out_playlist_images(&o, &out->body, &app->lib->playlists.v[pi]);
    }
    UN(app);
}

/* PUT /playlists/{id}/images: the body is the base64 text of a JPEG
 * (Content-Type image/jpeg), at most 256 KB of it (413 beyond, 400 when it
 * is not base64 of a JPEG); only the owner may change the cover (403, even
 * for collaborators). 202 with an empty body, as Spotify. The body is
 * decoded before the lock is taken. */
void wa_playlist_images_put(em_app *app, em_req *r, em_resp *out)
{
    const char *ct = req_header(r, "Content-Type");
    unsigned char *jpeg = NULL;
    size_t n = 0;
    if (!ct || strncmp(ct, "image/jpeg", 10) != 0 || (ct[10] != '\0' && ct[10] != ';' && ct[10] != ' ')) {
        resp_error(out, 400, "Content-Type must be image/jpeg");
        return;
    }
    int st = library_cover_decode(r->body, r->body_len, &jpeg, &n);
    if (st == 413) {
        resp_error(out, 413, "Request entity too large");
        return;
    }
    if (st != 0) {
        resp_error(out, 400, "Invalid image data: expected base64 encoded JPEG");
        return;
    }
    WR(app);
    uint32_t pi = wa_lookup(out, app->lib, r->params[0], library_playlist);
    if (pi != NONE) {
        em_playlist *p = &app->lib->playlists.v[pi];
        if (p->owner != r->user->owner) {
            resp_error(out, 403, "You cannot change the image of a playlist you don't own.");
        } else {
            library_playlist_set_cover(p, jpeg, n);
            resp_empty(out, 202);
        }
    }
    UN(app);
    free(jpeg);
}

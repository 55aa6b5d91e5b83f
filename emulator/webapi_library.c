/* webapi_library.c - the current user's library: /me, saved tracks, albums,
 * shows and episodes (offset paging), followed artists (cursor paging), top
 * items, recently played (the last 50 plays, before/after cursors) and the
 * 2026 /me/library save/remove/contains endpoints (<= 40 URIs). */
#include "webapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD(app) pthread_rwlock_rdlock(&(app)->lib->lock)
#define WR(app) pthread_rwlock_wrlock(&(app)->lib->lock)
#define UN(app) pthread_rwlock_unlock(&(app)->lib->lock)

void wa_me(em_app *app, em_req *r, em_resp *out)
{
    em_out o = wa_out(app);
    RD(app);
    resp_json(out, 200);
    out_private_user(&o, &out->body, r->user);
    UN(app);
}

typedef void (*saved_writer)(const em_out *o, jw *w, const em_saved *s);

/* Offset-paged list of saved objects; which list is picked under the lock. */
static void saved_page(em_app *app, em_req *r, em_resp *out, const char *path, int which, saved_writer fn)
{
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    em_out o = wa_out(app);
    RD(app);
    const em_user *u = r->user;
    const em_saved *v = which == 0 ? u->liked.v : which == 1 ? u->albums.v : which == 2 ? u->shows.v : u->episodes.v;
    long n = (long)(which == 0 ? u->liked.n : which == 1 ? u->albums.n : which == 2 ? u->shows.n : u->episodes.n);
    resp_json(out, 200);
    out_paging_begin(&o, &out->body, path, NULL, offset, limit, n);
    for (long i = offset; i < n && i < offset + limit; i++) fn(&o, &out->body, &v[i]);
    out_paging_end(&out->body);
    UN(app);
}

void wa_me_tracks(em_app *app, em_req *r, em_resp *out) { saved_page(app, r, out, "/me/tracks", 0, out_saved_track); }
void wa_me_albums(em_app *app, em_req *r, em_resp *out) { saved_page(app, r, out, "/me/albums", 1, out_saved_album); }
void wa_me_shows(em_app *app, em_req *r, em_resp *out) { saved_page(app, r, out, "/me/shows", 2, out_saved_show); }
void wa_me_episodes(em_app *app, em_req *r, em_resp *out) { saved_page(app, r, out, "/me/episodes", 3, out_saved_episode); }

static const em_library *sort_lib;
static int by_artist_id(const void *a, const void *b)
{
    return strcmp(sort_lib->artists.v[*(const uint32_t *)a].id, sort_lib->artists.v[*(const uint32_t *)b].id);
}

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

uint32_t *wa_followed_sorted(const em_library *lib, const em_user *u)
{
    uint32_t *v = xmalloc((u->followed.n + 1) * sizeof(*v));
    if (u->followed.n) memcpy(v, u->followed.v, u->followed.n * sizeof(*v));
    pthread_mutex_lock(&sort_mu);   /* qsort has no context argument */
    sort_lib = lib;
    qsort(v, u->followed.n, sizeof(*v), by_artist_id);
    pthread_mutex_unlock(&sort_mu);
    return v;
}

void wa_me_following(em_app *app, em_req *r, em_resp *out)
{
    const char *type = req_arg(r, "type"), *after = req_arg(r, "after");
    if (!type) { resp_error(out, 400, "Missing parameter type"); return; }
    if (strcmp(type, "artist") != 0) { resp_error(out, 400, "Bad search type field type"); return; }
    long limit = 20;
    const char *l = req_arg(r, "limit");
    if (l && !parse_long(l, 1, 50, &limit)) { resp_error(out, 400, "Invalid limit"); return; }
    if (after && !is_base62_id(after)) { resp_error(out, 400, "Invalid base62 id"); return; }
    em_out o = wa_out(app);
    RD(app);
    const em_user *u = r->user;
    uint32_t *v = wa_followed_sorted(app->lib, u);
    size_t n = u->followed.n, start = 0;
    if (after)
        while (start < n && strcmp(app->lib->artists.v[v[start]].id, after) <= 0) start++;
    size_t end = start + (size_t)limit < n ? start + (size_t)limit : n;
    jw *w = &out->body;
    resp_json(out, 200);
    jw_obj(w);
    jw_key(w, "artists");
    jw_obj(w);
    jw_key(w, "href");
    jw_begin_value(w);
    jw_printf(w, "\"%s/me/following?type=artist%s%s&limit=%ld\"", o.api, after ? "&after=" : "",
              after ? after : "", limit);
    jw_kint(w, "limit", limit);
    jw_key(w, "next");
    if (end < n) {
        jw_begin_value(w);
        jw_printf(w, "\"%s/me/following?type=artist&after=%s&limit=%ld\"", o.api,
                  app->lib->artists.v[v[end - 1]].id, limit);
    } else {
        jw_null(w);
    }
    jw_key(w, "cursors");
    jw_obj(w);
    jw_kstr(w, "after", end < n ? app->lib->artists.v[v[end - 1]].id : NULL);
    jw_obj_end(w);
    jw_kint(w, "total", (int64_t)n);
    jw_key(w, "items");
    jw_arr(w);
    for (size_t i = start; i < end; i++) out_artist(&o, w, v[i]);
    jw_arr_end(w);
    jw_obj_end(w);
    jw_obj_end(w);
    free(v);
    UN(app);
}

static int time_range(const char *s)
{
    if (!s || strcmp(s, "medium_term") == 0) return TR_MEDIUM;
    if (strcmp(s, "short_term") == 0) return TR_SHORT;
    if (strcmp(s, "long_term") == 0) return TR_LONG;
    return -1;
}

void wa_me_top(em_app *app, em_req *r, em_resp *out)
{
    const char *type = r->params[0];
    bool tracks = strcmp(type, "tracks") == 0;
    if (!tracks && strcmp(type, "artists") != 0) { resp_error(out, 404, "Service not found"); return; }
    const char *tr_arg = req_arg(r, "time_range");
    int tr = time_range(tr_arg);
    if (tr < 0) { resp_error(out, 400, "Invalid time range"); return; }
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    static const char *const names[] = {"short_term", "medium_term", "long_term"};
    char path[32], extra[40] = "";
    snprintf(path, sizeof(path), "/me/top/%s", tracks ? "tracks" : "artists");
    /* Links repeat the request: time_range only when it was asked for. */
    if (tr_arg) snprintf(extra, sizeof(extra), "&time_range=%s", names[tr]);
    em_out o = wa_out(app);
    RD(app);
    const em_user *u = r->user;
    const uint32_t *v = tracks ? u->top_tracks[tr].v : u->top_artists[tr].v;
    long n = (long)(tracks ? u->top_tracks[tr].n : u->top_artists[tr].n);
    resp_json(out, 200);
    out_paging_begin(&o, &out->body, path, extra, offset, limit, n);
    for (long i = offset; i < n && i < offset + limit; i++) {
        if (tracks) out_track(&o, &out->body, v[i]);
        else out_artist(&o, &out->body, v[i]);
    }
    out_paging_end(&out->body);
    UN(app);
}

#define RECENT_WINDOW 50

void wa_recently_played(em_app *app, em_req *r, em_resp *out)
{
    const char *after_s = req_arg(r, "after"), *before_s = req_arg(r, "before");
    long limit = 20, after = -1, before = -1;
    const char *l = req_arg(r, "limit");
    if (l && !parse_long(l, 1, 50, &limit)) { resp_error(out, 400, "Invalid limit"); return; }
    if (after_s && before_s) { resp_error(out, 400, "Only one of after and before may be given"); return; }
    if (after_s && !parse_long(after_s, 0, 9000000000000L, &after)) { resp_error(out, 400, "Invalid after"); return; }
    if (before_s && !parse_long(before_s, 0, 9000000000000L, &before)) { resp_error(out, 400, "Invalid before"); return; }
    em_out o = wa_out(app);
    RD(app);
    const em_user *u = r->user;
    size_t n = u->plays.n < RECENT_WINDOW ? u->plays.n : RECENT_WINDOW;
    const em_play *p = u->plays.v;
    /* Indices [lo, hi) of the selected plays, newest first. */
    size_t lo = 0, hi = 0;
    bool more = false;
    if (after >= 0) {
        size_t k = 0;
        while (k < n && p[k].at_ms > after) k++;          /* plays newer than after: [0, k) */
        hi = k;
        lo = k > (size_t)limit ? k - (size_t)limit : 0;   /* the oldest ones just after the cursor */
        more = lo > 0;
    } else {
        size_t k = 0;
        if (before >= 0) while (k < n && p[k].at_ms >= before) k++;
        lo = k;
        hi = k + (size_t)limit < n ? k + (size_t)limit : n;
        more = hi < n;
    }
    jw *w = &out->body;
    resp_json(out, 200);
    jw_obj(w);
    jw_key(w, "href");
    jw_begin_value(w);
    if (after >= 0) jw_printf(w, "\"%s/me/player/recently-played?after=%ld&limit=%ld\"", o.api, after, limit);
    else if (before >= 0) jw_printf(w, "\"%s/me/player/recently-played?before=%ld&limit=%ld\"", o.api, before, limit);
    else jw_printf(w, "\"%s/me/player/recently-played?limit=%ld\"", o.api, limit);
    jw_kint(w, "limit", limit);
    jw_key(w, "next");
    if (more && after >= 0) {
        jw_begin_value(w);
        jw_printf(w, "\"%s/me/player/recently-played?after=%lld&limit=%ld\"", o.api, (long long)p[lo].at_ms, limit);
    } else if (more && hi > lo) {
        jw_begin_value(w);
        jw_printf(w, "\"%s/me/player/recently-played?before=%lld&limit=%ld\"", o.api, (long long)p[hi - 1].at_ms, limit);
    } else {
        jw_null(w);
    }
    jw_key(w, "cursors");
    if (hi > lo) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%lld", (long long)p[lo].at_ms);
        snprintf(b, sizeof(b), "%lld", (long long)p[hi - 1].at_ms);
        jw_obj(w);
        jw_kstr(w, "after", a);
        jw_kstr(w, "before", b);
        jw_obj_end(w);
    } else {
        jw_null(w);
    }
    jw_key(w, "items");
    jw_arr(w);
    for (size_t i = lo; i < hi; i++) out_play(&o, w, &p[i]);
    jw_arr_end(w);
    jw_obj_end(w);
    UN(app);
}

/* ---- /me/library ---- */

#define LIB_MAX_URIS 40

typedef struct parsed_uri { em_uri_type type; uint32_t idx; } parsed_uri;

/* Parses up to 40 URIs; on error writes the response and returns -1.
 * unknown_ok: unknown (well-formed) ids are kept with idx NONE. */
static int parse_lib_uris(em_app *app, em_req *r, em_resp *out, parsed_uri *pu, bool unknown_ok)
{
    char *items[LIB_MAX_URIS], *storage = NULL;
    int n = wa_uris(r, NULL, items, LIB_MAX_URIS, &storage);
    int ret = -1;
    if (n < 0) { resp_error(out, 400, "Too many URIs requested. Maximum is 40."); goto out; }
    if (n == 0) { resp_error(out, 400, "Missing required parameter: uris"); goto out; }
    for (int i = 0; i < n; i++) {
        bool bad = false;
        if (!library_parse_uri(app->lib, items[i], &pu[i].type, &pu[i].idx, &bad)) {
            if (bad || pu[i].type == URI_LOCAL) { resp_error(out, 400, "Invalid URI"); goto out; }
            if (!unknown_ok) { resp_error(out, 404, "Resource not found"); goto out; }
            pu[i].idx = NONE;
        }
    }
    ret = n;
out:
    free(storage);
    return ret;
}

static bool saved_has(const em_saved *v, size_t n, uint32_t ref)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].ref == ref) return true;
    return false;
}

static bool u32_has(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return true;
    return false;
}

#define SAVED_ADD(vec, r_, at) do { if (!saved_has((vec)->v, (vec)->n, r_)) { \
        em_saved s_ = {r_, at}; VEC_INSERT(vec, 0, s_); } } while (0)
#define SAVED_DEL(vec, r_) do { for (size_t k_ = 0; k_ < (vec)->n; k_++) \
        if ((vec)->v[k_].ref == (r_)) { VEC_REMOVE(vec, k_); break; } } while (0)

static void library_change(em_app *app, em_req *r, em_resp *out, bool add)
{
    parsed_uri pu[LIB_MAX_URIS];
    WR(app);
    int n = parse_lib_uris(app, r, out, pu, false);
    em_user *u = r->user;
    int64_t now = now_ms() / 1000;
    for (int i = 0; i < n; i++) {
        uint32_t x = pu[i].idx;
        switch (pu[i].type) {
        case URI_TRACK:
            if (add) library_like(app->lib, u, x, now); else library_unlike(app->lib, u, x);
            break;
        case URI_ALBUM: if (add) SAVED_ADD(&u->albums, x, now); else SAVED_DEL(&u->albums, x); break;
        case URI_SHOW: if (add) SAVED_ADD(&u->shows, x, now); else SAVED_DEL(&u->shows, x); break;
        case URI_EPISODE: if (add) SAVED_ADD(&u->episodes, x, now); else SAVED_DEL(&u->episodes, x); break;
        case URI_ARTIST: if (add) library_follow(u, x); else library_unfollow(u, x); break;
        case URI_PLAYLIST:
            if (add && !u32_has(u->playlists.v, u->playlists.n, x)) VEC_INSERT(&u->playlists, 0, x);
            if (!add)
                for (size_t k = 0; k < u->playlists.n; k++)
                    if (u->playlists.v[k] == x) { VEC_REMOVE(&u->playlists, k); break; }
            break;
        default: break;     /* users: accepted, nothing to keep */
        }
    }
    UN(app);
    if (n > 0) resp_empty(out, 200);
}

void wa_library_put(em_app *app, em_req *r, em_resp *out) { library_change(app, r, out, true); }
void wa_library_delete(em_app *app, em_req *r, em_resp *out) { library_change(app, r, out, false); }

void wa_library_contains(em_app *app, em_req *r, em_resp *out)
{
    parsed_uri pu[LIB_MAX_URIS];
    RD(app);
    int n = parse_lib_uris(app, r, out, pu, true);
    const em_user *u = r->user;
    if (n > 0) {
        resp_json(out, 200);
        jw_arr(&out->body);
        for (int i = 0; i < n; i++) {
            uint32_t x = pu[i].idx;
            bool has = false;
            if (x != NONE) {
                switch (pu[i].type) {
                case URI_TRACK: has = saved_has(u->liked.v, u->liked.n, x); break;
                case URI_ALBUM: has = saved_has(u->albums.v, u->albums.n, x); break;
                case URI_SHOW: has = saved_has(u->shows.v, u->shows.n, x); break;
                case URI_EPISODE: has = saved_has(u->episodes.v, u->episodes.n, x); break;
                case URI_ARTIST: has = u32_has(u->followed.v, u->followed.n, x); break;
                case URI_PLAYLIST: has = u32_has(u->playlists.v, u->playlists.n, x); break;
                default: break;
                }
            }
            jw_bool(&out->body, has);
        }
        jw_arr_end(&out->body);
    }
    UN(app);
}

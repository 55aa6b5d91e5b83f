/* webapi_catalog.c - catalog lookups: artists (one, several*, their albums
 * with include_groups; development mode caps the page at 10), tracks (one,
 * several*), albums, new releases*, audio features*, recommendations (404 in
 * development mode). (*) extended quota only; server.c answers 403 before. */
#include "webapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD(app) pthread_rwlock_rdlock(&(app)->lib->lock)
#define UN(app) pthread_rwlock_unlock(&(app)->lib->lock)
#define RECENT_DAYS 14

/* GET /<kind>/{id}: one catalog object or 404. */
static void get_one(em_app *app, em_req *r, em_resp *out, uint32_t (*lookup)(const em_library *, const char *),
                    void (*write)(const em_out *, jw *, uint32_t))
{
    em_out o = wa_out(app);
    RD(app);
    uint32_t x = wa_lookup(out, app->lib, r->params[0], lookup);
    if (x != NONE) {
        resp_json(out, 200);
        write(&o, &out->body, x);
    }
    UN(app);
}

void wa_artist(em_app *app, em_req *r, em_resp *out) { get_one(app, r, out, library_artist, out_artist); }
void wa_track(em_app *app, em_req *r, em_resp *out) { get_one(app, r, out, library_track, out_track); }
void wa_album(em_app *app, em_req *r, em_resp *out) { get_one(app, r, out, library_album, out_album); }

/* GET /albums/{id}/tracks: where the `next` of an album's embedded tracks
 * leads (albums of more than 50 tracks: POST /__emulator mutate new_release). */
void wa_album_tracks(em_app *app, em_req *r, em_resp *out)
{
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    em_out o = wa_out(app);
    RD(app);
    uint32_t a = wa_lookup(out, app->lib, r->params[0], library_album);
    if (a != NONE) {
        resp_json(out, 200);
        out_album_tracks(&o, &out->body, a, offset, limit);
    }
    UN(app);
}

enum { G_ALBUM = 1, G_SINGLE = 2, G_COMPILATION = 4, G_APPEARS = 8 };

static int parse_groups(const char *s)
{
    if (!s) return G_ALBUM | G_SINGLE | G_COMPILATION | G_APPEARS;
    char *items[8], *storage = NULL;
    int n = wa_split(s, items, 8, &storage), mask = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(items[i], "album") == 0) mask |= G_ALBUM;
        else if (strcmp(items[i], "single") == 0) mask |= G_SINGLE;
        else if (strcmp(items[i], "compilation") == 0) mask |= G_COMPILATION;
        else if (strcmp(items[i], "appears_on") == 0) mask |= G_APPEARS;
        else { mask = -1; break; }
    }
    free(storage);
    return n <= 0 ? -1 : mask;
}

typedef struct disc_item { uint32_t album; const char *group; } disc_item;
static const em_library *disc_lib;
static pthread_mutex_t disc_mu = PTHREAD_MUTEX_INITIALIZER;

static int by_release_desc(const void *a, const void *b)
{
    const em_album *x = &disc_lib->albums.v[((const disc_item *)a)->album];
    const em_album *y = &disc_lib->albums.v[((const disc_item *)b)->album];
    if (x->released != y->released) return x->released > y->released ? -1 : 1;
    return strcmp(x->id, y->id);
}

void wa_artist_albums(em_app *app, em_req *r, em_resp *out)
{
    em_out o = wa_out(app);
    long max = o.ext ? 50 : 10, offset, limit;
    if (!wa_paging(r, out, o.ext ? 20 : 10, max, &offset, &limit)) return;
    const char *groups_arg = req_arg(r, "include_groups");
    int mask = parse_groups(groups_arg);
    if (mask < 0) { resp_error(out, 400, "Invalid include_groups"); return; }
    RD(app);
    uint32_t a = wa_lookup(out, app->lib, r->params[0], library_artist);
    if (a != NONE) {
        const em_artist *ar = &app->lib->artists.v[a];
        disc_item *v = xmalloc((ar->albums.n + ar->appears_on.n + 1) * sizeof(*v));
        size_t n = 0;
        for (size_t i = 0; i < ar->albums.n; i++) {
            int t = app->lib->albums.v[ar->albums.v[i]].type;
            int g = t == ALBUM_SINGLE ? G_SINGLE : t == ALBUM_COMPILATION ? G_COMPILATION : G_ALBUM;
            if (mask & g) {
                disc_item d = {ar->albums.v[i], t == ALBUM_SINGLE ? "single" : t == ALBUM_COMPILATION ? "compilation" : "album"};
                v[n++] = d;
            }
        }
        for (size_t i = 0; (mask & G_APPEARS) && i < ar->appears_on.n; i++) {
            disc_item d = {ar->appears_on.v[i], "appears_on"};
            v[n++] = d;
        }
        pthread_mutex_lock(&disc_mu);   /* qsort has no context argument */
        disc_lib = app->lib;
        qsort(v, n, sizeof(*v), by_release_desc);
        pthread_mutex_unlock(&disc_mu);
        char path[64];
        snprintf(path, sizeof(path), "/artists/%s/albums", ar->id);
        jw extra;
        jw_init(&extra);
        if (groups_arg) {
            jw_rawz(&extra, "&include_groups=");
            url_encode_to(&extra, groups_arg);
        }
        resp_json(out, 200);
        out_paging_begin(&o, &out->body, path, extra.p, offset, limit, (long)n);
        for (long i = offset; i < (long)n && i < offset + limit; i++)
            out_simple_album(&o, &out->body, v[i].album, v[i].group);
        out_paging_end(&out->body);
        jw_free(&extra);
        free(v);
    }
    UN(app);
}

/* GET /artists?ids=, /tracks?ids=, /audio-features?ids=: {"<key>":[obj|null]} */
static void several(em_app *app, em_req *r, em_resp *out, const char *key, int max,
                    uint32_t (*lookup)(const em_library *, const char *),
                    void (*write)(const em_out *, jw *, uint32_t))
{
    const char *ids = req_arg(r, "ids");
    if (!ids) { resp_error(out, 400, "Missing required parameter: ids"); return; }
    char *items[100], *storage = NULL;
    int n = wa_split(ids, items, max, &storage);
    if (n < 0) { resp_error(out, 400, "Too many ids requested"); free(storage); return; }
    if (n == 0) { resp_error(out, 400, "Missing required parameter: ids"); free(storage); return; }
    for (int i = 0; i < n; i++)
        if (!is_base62_id(items[i])) { resp_error(out, 400, "Invalid base62 id"); free(storage); return; }
    em_out o = wa_out(app);
    RD(app);
    resp_json(out, 200);
    jw_obj(&out->body);
    jw_key(&out->body, key);
    jw_arr(&out->body);
    for (int i = 0; i < n; i++) {
        uint32_t x = lookup(app->lib, items[i]);
        if (x == NONE) jw_null(&out->body);
        else write(&o, &out->body, x);
    }
    jw_arr_end(&out->body);
    jw_obj_end(&out->body);
    UN(app);
    free(storage);
}

void wa_artists_several(em_app *app, em_req *r, em_resp *out)
{
    several(app, r, out, "artists", 50, library_artist, out_artist);
}

void wa_tracks_several(em_app *app, em_req *r, em_resp *out)
{
    several(app, r, out, "tracks", 50, library_track, out_track);
}

void wa_audio_features(em_app *app, em_req *r, em_resp *out)
{
    several(app, r, out, "audio_features", 100, library_track, out_audio_features);
}

void wa_new_releases(em_app *app, em_req *r, em_resp *out)
{
    long offset, limit;
    if (!wa_paging(r, out, 20, 50, &offset, &limit)) return;
    em_out o = wa_out(app);
    RD(app);
    const em_library *lib = app->lib;
    int64_t since = lib->day0 - RECENT_DAYS * 86400;
    disc_item *v = xmalloc((lib->albums.n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < lib->albums.n; i++) {
        if (lib->albums.v[i].released < since) continue;
        disc_item d = {(uint32_t)i, NULL};
        v[n++] = d;
    }
    pthread_mutex_lock(&disc_mu);
    disc_lib = lib;
    qsort(v, n, sizeof(*v), by_release_desc);
    pthread_mutex_unlock(&disc_mu);
    resp_json(out, 200);
    jw_obj(&out->body);
    jw_key(&out->body, "albums");
    out_paging_begin(&o, &out->body, "/browse/new-releases", NULL, offset, limit, (long)n);
    for (long i = offset; i < (long)n && i < offset + limit; i++) out_simple_album(&o, &out->body, v[i].album, NULL);
    out_paging_end(&out->body);
    jw_obj_end(&out->body);
    free(v);
    UN(app);
}

void wa_recommendations(em_app *app, em_req *r, em_resp *out)
{
    (void)r;
    if (!atomic_load(&app->mode_ext)) {
        resp_error(out, 404, "Service not found");
        return;
    }
    resp_json(out, 200);
    jw_rawz(&out->body, "{\"seeds\":[],\"tracks\":[]}");
}

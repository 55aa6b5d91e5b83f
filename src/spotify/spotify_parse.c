/* spotify_parse.c - tolerant parsers for Spotify's JSON objects.
 *
 * Every getter goes through core/jsonutil.h, so a wrong type reads like a
 * missing field. Allocation failures are collected in a small context
 * (oom flag) instead of being checked after every strdup: each parser
 * builds its struct, then returns KT_ERR_NOMEM (and frees it) if any
 * allocation failed.
 */
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/timeutil.h"
#include "spotify/spotify_parse.h"

typedef struct pctx {
    int oom;
} pctx;

static char *sdup(pctx *p, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        p->oom = 1;
    return d;
}

static char *get_str(pctx *p, const json_t *o, const char *key)
{
    return sdup(p, json_str(o, key));
}

static void *zalloc(pctx *p, size_t n, size_t size)
{
    void *v = n ? calloc(n, size) : NULL;
    if (n && !v)
        p->oom = 1;
    return v;
}

static int64_t get_time(const char *s)
{
    int64_t ms;
    return s && time_parse_iso8601(s, &ms) == KT_OK ? ms : -1;
}

static kt_status not_object(kt_err *err, const char *what)
{
    return err_set(err, KT_ERR_INVALID, "bad_spotify_object", "Spotify %s is not a JSON object",
                   what);
}

static kt_status finish(pctx *p, kt_err *err)
{
    return p->oom ? err_set(err, KT_ERR_NOMEM, NULL, "out of memory parsing a Spotify object")
                  : KT_OK;
}

/* ---- artists (embedded) ---- */

static void artist_refs_free(spotify_artist_ref *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].id);
        free(a[i].uri);
        free(a[i].name);
    }
    free(a);
}

/* Reads o.artists; non-object entries are skipped. */
static void get_artist_refs(pctx *p, const json_t *o, spotify_artist_ref **out, size_t *n_out)
{
    const json_t *arr = json_arr(o, "artists");
    size_t n = arr ? json_array_size(arr) : 0, k = 0;
    spotify_artist_ref *a = zalloc(p, n, sizeof *a);
    for (size_t i = 0; a && i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            continue;
        a[k].id = get_str(p, e, "id");
        a[k].uri = get_str(p, e, "uri");
        a[k].name = get_str(p, e, "name");
        k++;
    }
    *out = a;
    *n_out = a ? k : 0;
}

/* ---- album ---- */

void spotify_album_free(spotify_album *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->uri);
    free(a->name);
    free(a->album_type);
    free(a->release_date);
    free(a->release_date_precision);
    free(a->image_url);
    artist_refs_free(a->artists, a->n_artists);
    free(a);
}

static spotify_album *album_from(pctx *p, const json_t *j)
{
    spotify_album *a = zalloc(p, 1, sizeof *a);
    if (!a)
        return NULL;
    a->id = get_str(p, j, "id");
    a->uri = get_str(p, j, "uri");
    a->name = get_str(p, j, "name");
    a->album_type = get_str(p, j, "album_type");
    a->release_date = get_str(p, j, "release_date");
    a->release_date_precision = get_str(p, j, "release_date_precision");
    a->total_tracks = json_int(j, "total_tracks", -1);
    a->image_url = sdup(p, json_path_str(j, "images.0.url"));
    get_artist_refs(p, j, &a->artists, &a->n_artists);
    return a;
}

kt_status spotify_parse_album(const json_t *j, spotify_album **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "album");
    spotify_album *a = album_from(&p, j);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_album_free(a);
        return st;
    }
    *out = a;
    return KT_OK;
}

/* ---- track / episode ---- */

void spotify_track_free(spotify_track *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->uri);
    free(t->name);
    free(t->isrc);
    spotify_album_free(t->album);
    artist_refs_free(t->artists, t->n_artists);
    free(t->show_id);
    free(t->show_uri);
    free(t->show_name);
    free(t->show_publisher);
    free(t->release_date);
    free(t);
}

static spotify_track *track_from(pctx *p, const json_t *j)
{
    spotify_track *t = zalloc(p, 1, sizeof *t);
    if (!t)
        return NULL;
    const char *type = json_str(j, "type");
    t->type = type && strcmp(type, "episode") == 0 ? SPOTIFY_ITEM_EPISODE : SPOTIFY_ITEM_TRACK;
    t->id = get_str(p, j, "id");
    t->uri = get_str(p, j, "uri");
    t->name = get_str(p, j, "name");
    t->duration_ms = json_int(j, "duration_ms", -1);
    t->explicit_ = json_bool(j, "explicit", 0) == 1;
    t->is_local = json_bool(j, "is_local", 0) == 1;
    t->disc_number = json_int(j, "disc_number", -1);
    t->track_number = json_int(j, "track_number", -1);
    t->isrc = sdup(p, json_path_str(j, "external_ids.isrc"));
    if (t->type == SPOTIFY_ITEM_EPISODE) {
        const json_t *show = json_obj(j, "show");
        t->show_id = get_str(p, show, "id");
        t->show_uri = get_str(p, show, "uri");
        t->show_name = get_str(p, show, "name");
        t->show_publisher = get_str(p, show, "publisher");
        t->release_date = get_str(p, j, "release_date");
    } else {
        const json_t *album = json_obj(j, "album");
        if (album)
            t->album = album_from(p, album);
        get_artist_refs(p, j, &t->artists, &t->n_artists);
    }
    return t;
}

kt_status spotify_parse_track(const json_t *j, spotify_track **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "track");
    spotify_track *t = track_from(&p, j);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_track_free(t);
        return st;
    }
    *out = t;
    return KT_OK;
}

/* ---- playlist ---- */

void spotify_playlist_free(spotify_playlist *pl)
{
    if (!pl)
        return;
    free(pl->id);
    free(pl->uri);
    free(pl->name);
    free(pl->description);
    free(pl->owner_id);
    free(pl->owner_name);
    free(pl->snapshot_id);
    free(pl->image_url);
    free(pl);
}

kt_status spotify_parse_playlist(const json_t *j, spotify_playlist **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "playlist");
    spotify_playlist *pl = zalloc(&p, 1, sizeof *pl);
    if (!pl)
        return finish(&p, err);
    pl->id = get_str(&p, j, "id");
    pl->uri = get_str(&p, j, "uri");
    pl->name = get_str(&p, j, "name");
    pl->description = get_str(&p, j, "description");
    const json_t *owner = json_obj(j, "owner");
    pl->owner_id = get_str(&p, owner, "id");
    pl->owner_name = get_str(&p, owner, "display_name");
    pl->public_ = json_bool(j, "public", -1);
    pl->collaborative = json_bool(j, "collaborative", 0) == 1;
    pl->snapshot_id = get_str(&p, j, "snapshot_id");
    /* 2026: the item count moved from "tracks" to "items"; read either. */
    const json_t *items = json_obj(j, "items");
    if (!items)
        items = json_obj(j, "tracks");
    pl->items_total = json_int(items, "total", -1);
    pl->image_url = sdup(&p, json_path_str(j, "images.0.url"));
    /* Spotify's generated mosaic comes in three sizes; an uploaded cover is
     * one image whose size Spotify does not say. */
    const json_t *imgs = json_object_get(j, "images");
    const json_t *img0 = json_array_get(imgs, 0);
    pl->cover_custom = json_array_size(imgs) == 1 && json_is_object(img0) &&
                       json_is_null(json_object_get(img0, "width")) &&
                       json_is_null(json_object_get(img0, "height")) && pl->image_url;
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_playlist_free(pl);
        return st;
    }
    *out = pl;
    return KT_OK;
}

/* ---- playlist item ---- */

void spotify_playlist_item_free(spotify_playlist_item *it)
{
    if (!it)
        return;
    free(it->added_at);
    free(it->added_by_id);
    spotify_track_free(it->item);
    free(it);
}

kt_status spotify_parse_playlist_item(const json_t *j, spotify_playlist_item **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "playlist item");
    spotify_playlist_item *it = zalloc(&p, 1, sizeof *it);
    if (!it)
        return finish(&p, err);
    it->added_at = get_str(&p, j, "added_at");
    it->added_at_ms = get_time(it->added_at);
    it->added_by_id = get_str(&p, json_obj(j, "added_by"), "id");
    /* "item" is the 2026 name; "track" the deprecated one. A present but
     * null "item" is a null entry: do not fall back to "track" then. */
    const json_t *obj = json_object_get(j, "item");
    if (!obj)
        obj = json_object_get(j, "track");
    if (json_is_object(obj))
        it->item = track_from(&p, obj);
    it->is_local = json_bool(j, "is_local", 0) == 1 || (it->item && it->item->is_local);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_playlist_item_free(it);
        return st;
    }
    *out = it;
    return KT_OK;
}

/* ---- show ---- */

void spotify_show_free(spotify_show *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->uri);
    free(s->name);
    free(s->publisher);
    free(s->image_url);
    free(s);
}

static spotify_show *show_from(pctx *p, const json_t *j)
{
    spotify_show *s = zalloc(p, 1, sizeof *s);
    if (!s)
        return NULL;
    s->id = get_str(p, j, "id");
    s->uri = get_str(p, j, "uri");
    s->name = get_str(p, j, "name");
    s->publisher = get_str(p, j, "publisher");
    s->total_episodes = json_int(j, "total_episodes", -1);
    s->image_url = sdup(p, json_path_str(j, "images.0.url"));
    return s;
}

kt_status spotify_parse_show(const json_t *j, spotify_show **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "show");
    spotify_show *s = show_from(&p, j);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_show_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

/* ---- saved wrappers ---- */

void spotify_saved_free(spotify_saved *s)
{
    if (!s)
        return;
    free(s->added_at);
    spotify_track_free(s->track);
    spotify_album_free(s->album);
    spotify_show_free(s->show);
    free(s);
}

static const char *saved_key(spotify_saved_kind kind)
{
    switch (kind) {
    case SPOTIFY_SAVED_TRACK: return "track";
    case SPOTIFY_SAVED_ALBUM: return "album";
    case SPOTIFY_SAVED_SHOW: return "show";
    case SPOTIFY_SAVED_EPISODE: return "episode";
    }
    return NULL;
}

kt_status spotify_parse_saved(const json_t *j, spotify_saved_kind kind, spotify_saved **out,
                              kt_err *err)
{
    pctx p = {0};
    const char *key = saved_key(kind);
    if (!key)
        return err_set(err, KT_ERR_INVALID, NULL, "unknown saved-item kind %d", (int)kind);
    if (!json_is_object(j))
        return not_object(err, "saved item");
    const json_t *obj = json_obj(j, key);
    if (!obj)
        return err_set(err, KT_ERR_INVALID, "bad_spotify_object",
                       "Spotify saved item has no %s object", key);
    spotify_saved *s = zalloc(&p, 1, sizeof *s);
    if (!s)
        return finish(&p, err);
    s->kind = kind;
    s->added_at = get_str(&p, j, "added_at");
    s->added_at_ms = get_time(s->added_at);
    if (kind == SPOTIFY_SAVED_ALBUM)
        s->album = album_from(&p, obj);
    else if (kind == SPOTIFY_SAVED_SHOW)
        s->show = show_from(&p, obj);
    else
        s->track = track_from(&p, obj);
    if (s->track && kind == SPOTIFY_SAVED_EPISODE)
        s->track->type = SPOTIFY_ITEM_EPISODE;
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_saved_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

/* ---- artist (full) ---- */

void spotify_artist_free(spotify_artist *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->uri);
    free(a->name);
    for (size_t i = 0; i < a->n_genres; i++)
        free(a->genres[i]);
    free(a->genres);
    free(a->image_url);
    free(a);
}

kt_status spotify_parse_artist(const json_t *j, spotify_artist **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "artist");
    spotify_artist *a = zalloc(&p, 1, sizeof *a);
    if (!a)
        return finish(&p, err);
    a->id = get_str(&p, j, "id");
    a->uri = get_str(&p, j, "uri");
    a->name = get_str(&p, j, "name");
    const json_t *genres = json_arr(j, "genres");
    size_t n = genres ? json_array_size(genres) : 0;
    a->genres = zalloc(&p, n, sizeof *a->genres);
    for (size_t i = 0; a->genres && i < n; i++) {
        const char *g = json_string_value(json_array_get(genres, i));
        if (g)
            a->genres[a->n_genres++] = sdup(&p, g);
    }
    a->image_url = sdup(&p, json_path_str(j, "images.0.url"));
    a->followers = json_int(json_obj(j, "followers"), "total", -1);
    a->popularity = json_int(j, "popularity", -1);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_artist_free(a);
        return st;
    }
    *out = a;
    return KT_OK;
}

/* ---- play history ---- */

void spotify_play_free(spotify_play *pl)
{
    if (!pl)
        return;
    free(pl->played_at);
    free(pl->context_uri);
    spotify_track_free(pl->track);
    free(pl);
}

kt_status spotify_parse_play(const json_t *j, spotify_play **out, kt_err *err)
{
    pctx p = {0};
    if (!json_is_object(j))
        return not_object(err, "play history entry");
    const json_t *track = json_obj(j, "track");
    if (!track)
        return err_set(err, KT_ERR_INVALID, "bad_spotify_object",
                       "Spotify play history entry has no track object");
    spotify_play *pl = zalloc(&p, 1, sizeof *pl);
    if (!pl)
        return finish(&p, err);
    pl->played_at = get_str(&p, j, "played_at");
    pl->played_at_ms = get_time(pl->played_at);
    pl->context_uri = get_str(&p, json_obj(j, "context"), "uri");
    pl->track = track_from(&p, track);
    kt_status st = finish(&p, err);
    if (st != KT_OK) {
        spotify_play_free(pl);
        return st;
    }
    *out = pl;
    return KT_OK;
}

/* json_out.c - Spotify object shapes (see json_out.h). Field sets follow the
 * schemas of ../shared/spotify/openapi-fixed-2026-05-31.yml; deliberate
 * departures, as the real service sends them, are: local files carry null ids,
 * hrefs and uris parts; null playlist entries have item/track null; in
 * development mode the dropped fields are absent (even where the 2025 schema
 * lists them as required, e.g. album available_markets). */
#include "json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"

static const char *const MARKETS[] = {"BR", "DE", "GB", "JP", "SE", "US"};

static void markets(jw *w)
{
    jw_key(w, "available_markets");
    jw_arr(w);
    for (size_t i = 0; i < sizeof(MARKETS) / sizeof(MARKETS[0]); i++) jw_str(w, MARKETS[i]);
    jw_arr_end(w);
}

static void ext_urls(jw *w, const char *kind, const char *id)
{
    jw_key(w, "external_urls");
    jw_obj(w);
    if (id) {
        jw_key(w, "spotify");
        jw_begin_value(w);
        jw_printf(w, "\"https://open.spotify.com/%s/%s\"", kind, id);
    }
    jw_obj_end(w);
}

static void href(const em_out *o, jw *w, const char *kind, const char *id)
{
    jw_key(w, "href");
    jw_begin_value(w);
    jw_printf(w, "\"%s/%s/%s\"", o->api, kind, id);
}

static void uri(jw *w, const char *kind, const char *id)
{
    jw_key(w, "uri");
    jw_begin_value(w);
    jw_printf(w, "\"spotify:%s:%s\"", kind, id);
}

/* Images: three sizes, widest first, with urls derived from the id, served
 * by the emulator itself (images.h) so covers show without Spotify's CDN. */
static void images(const em_out *o, jw *w, const char *id, bool present)
{
    static const int sizes[] = {640, 300, 64};
    jw_key(w, "images");
    jw_arr(w);
    for (int i = 0; present && i < 3; i++) {
        jw_obj(w);
        jw_key(w, "url");
        images_url(w, o->api, sizes[i], id);
        jw_kint(w, "height", sizes[i]);
        jw_kint(w, "width", sizes[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* A playlist's images: a custom cover is one image of unknown size (as
 * Spotify answers for an uploaded cover: height and width null) at
 * <base>/image/ugc/<key>; otherwise the generated picture in three sizes
 * (Spotify's mosaic), none while the playlist is empty. */
static void playlist_images(const em_out *o, jw *w, const em_playlist *p)
{
    if (!p->cover) {
        images(o, w, p->id, p->items.n > 0);
        return;
    }
    jw_key(w, "images");
    out_playlist_images(o, w, p);
}

void out_playlist_images(const em_out *o, jw *w, const em_playlist *p)
{
    jw_arr(w);
    if (p->cover) {
        jw_obj(w);
        jw_key(w, "url");
        images_cover_url(w, o->api, p->cover_sha256);
        jw_knull(w, "height");
        jw_knull(w, "width");
        jw_obj_end(w);
    } else {
        static const int sizes[] = {640, 300, 64};
        for (int i = 0; p->items.n > 0 && i < 3; i++) {
            jw_obj(w);
            jw_key(w, "url");
            images_url(w, o->api, sizes[i], p->id);
            jw_kint(w, "height", sizes[i]);
            jw_kint(w, "width", sizes[i]);
            jw_obj_end(w);
        }
    }
    jw_arr_end(w);
}

static const char *album_type_name(int t)
{
    return t == ALBUM_SINGLE ? "single" : t == ALBUM_COMPILATION ? "compilation" : "album";
}

static const char *prec_name(int p)
{
    return p == PREC_YEAR ? "year" : p == PREC_MONTH ? "month" : "day";
}

void out_simple_artist(const em_out *o, jw *w, uint32_t artist)
{
    const em_artist *a = &o->lib->artists.v[artist];
    jw_obj(w);
    ext_urls(w, "artist", a->id);
    href(o, w, "artists", a->id);
    jw_kstr(w, "id", a->id);
    jw_kstr(w, "name", a->name);
    jw_kstr(w, "type", "artist");
    uri(w, "artist", a->id);
    jw_obj_end(w);
}

void out_artist(const em_out *o, jw *w, uint32_t artist)
{
    const em_artist *a = &o->lib->artists.v[artist];
    jw_obj(w);
    ext_urls(w, "artist", a->id);
    if (o->ext) {
        jw_key(w, "followers");
        jw_obj(w);
        jw_knull(w, "href");
        jw_kint(w, "total", a->followers);
        jw_obj_end(w);
    }
    jw_key(w, "genres");
    jw_arr(w);
    for (int i = 0; o->ext && i < a->ngenres; i++) jw_str(w, library_genres[a->genres[i]]);
    jw_arr_end(w);
    href(o, w, "artists", a->id);
    jw_kstr(w, "id", a->id);
    images(o, w, a->id, true);
    jw_kstr(w, "name", a->name);
    if (o->ext) jw_kint(w, "popularity", a->popularity);
    jw_kstr(w, "type", "artist");
    uri(w, "artist", a->id);
    jw_obj_end(w);
}

static void album_base(const em_out *o, jw *w, const em_album *al)
{
    jw_kstr(w, "album_type", album_type_name(al->type));
    jw_kint(w, "total_tracks", al->ntracks);
    if (o->ext) markets(w);
    ext_urls(w, "album", al->id);
    href(o, w, "albums", al->id);
    jw_kstr(w, "id", al->id);
    images(o, w, al->id, true);
    jw_kstr(w, "name", al->name);
    jw_kstr(w, "release_date", al->date);
    jw_kstr(w, "release_date_precision", prec_name(al->prec));
    jw_kstr(w, "type", "album");
    uri(w, "album", al->id);
    jw_key(w, "artists");
    jw_arr(w);
    out_simple_artist(o, w, al->artists[0]);
    if (al->artists[1] != NONE) out_simple_artist(o, w, al->artists[1]);
    jw_arr_end(w);
}

void out_simple_album(const em_out *o, jw *w, uint32_t album, const char *group)
{
    const em_album *al = &o->lib->albums.v[album];
    jw_obj(w);
    album_base(o, w, al);
    if (group) jw_kstr(w, "album_group", group);
    jw_obj_end(w);
}

static void simple_track_fields(const em_out *o, jw *w, const em_track *t)
{
    jw_key(w, "artists");
    jw_arr(w);
    out_simple_artist(o, w, t->artists[0]);
    if (t->artists[1] != NONE) out_simple_artist(o, w, t->artists[1]);
    jw_arr_end(w);
    if (o->ext) markets(w);
    jw_kint(w, "disc_number", t->disc);
    jw_kint(w, "duration_ms", t->duration_ms);
    jw_kbool(w, "explicit", t->explicit_);
    ext_urls(w, "track", t->id);
    href(o, w, "tracks", t->id);
    jw_kstr(w, "id", t->id);
    jw_kbool(w, "is_local", false);
    jw_kstr(w, "name", t->name);
    jw_knull(w, "preview_url");
    jw_kint(w, "track_number", t->number);
    jw_kstr(w, "type", "track");
    uri(w, "track", t->id);
}

void out_album(const em_out *o, jw *w, uint32_t album)
{
    const em_album *al = &o->lib->albums.v[album];
    jw_obj(w);
    album_base(o, w, al);
    jw_key(w, "tracks");
    out_album_tracks(o, w, album, 0, 50);
    jw_key(w, "copyrights");
    jw_arr(w);
    jw_obj(w);
    jw_key(w, "text");
    jw_begin_value(w);
    jw_printf(w, "\"(C) %.4s %s\"", al->date, library_labels[al->label]);
    jw_kstr(w, "type", "C");
    jw_obj_end(w);
    jw_arr_end(w);
    jw_key(w, "external_ids");
    jw_obj(w);
    jw_kstr(w, "upc", al->upc);
    jw_obj_end(w);
    jw_key(w, "genres");
    jw_arr(w);
    jw_arr_end(w);
    jw_kstr(w, "label", library_labels[al->label]);
    if (o->ext) jw_kint(w, "popularity", al->popularity);
    jw_obj_end(w);
}

void out_album_tracks(const em_out *o, jw *w, uint32_t album, long offset, long limit)
{
    const em_album *al = &o->lib->albums.v[album];
    char path[64];
    snprintf(path, sizeof(path), "/albums/%s/tracks", al->id);
    out_paging_begin(o, w, path, NULL, offset, limit, al->ntracks);
    for (long i = offset; i < (long)al->ntracks && i < offset + limit; i++) {
        jw_obj(w);
        simple_track_fields(o, w, &o->lib->tracks.v[al->first_track + (uint32_t)i]);
        jw_obj_end(w);
    }
    out_paging_end(w);
}

void out_track(const em_out *o, jw *w, uint32_t track)
{
    const em_track *t = &o->lib->tracks.v[track];
    jw_obj(w);
    jw_key(w, "album");
    out_simple_album(o, w, t->album, NULL);
    simple_track_fields(o, w, t);
    jw_key(w, "external_ids");
    jw_obj(w);
    jw_kstr(w, "isrc", t->isrc);
    jw_obj_end(w);
    if (o->ext) jw_kint(w, "popularity", t->popularity);
    jw_obj_end(w);
}

/* Local-file URIs: spotify:local:artist:album:title:seconds, '+' for spaces. */
static void local_part(jw *w, const char *s)
{
    jw b;
    jw_init(&b);
    url_encode_to(&b, s);
    /* url_encode_to writes %20 for spaces; Spotify writes '+'. */
    for (size_t i = 0; i < b.len; i++) {
        if (i + 2 < b.len && b.p[i] == '%' && b.p[i + 1] == '2' && b.p[i + 2] == '0') {
            jw_raw(w, "+", 1);
            i += 2;
        } else {
            jw_raw(w, &b.p[i], 1);
        }
    }
    jw_free(&b);
}

void out_local_track(const em_out *o, jw *w, uint32_t local)
{
    const em_local *l = &o->lib->locals.v[local];
    jw_obj(w);
    jw_key(w, "album");
    jw_obj(w);
    jw_knull(w, "album_type");
    jw_kint(w, "total_tracks", 0);
    jw_key(w, "artists");
    jw_arr(w);
    jw_arr_end(w);
    if (o->ext) { jw_key(w, "available_markets"); jw_arr(w); jw_arr_end(w); }
    jw_key(w, "external_urls");
    jw_obj(w);
    jw_obj_end(w);
    jw_knull(w, "href");
    jw_knull(w, "id");
    jw_key(w, "images");
    jw_arr(w);
    jw_arr_end(w);
    jw_kstr(w, "name", l->album);
    jw_knull(w, "release_date");
    jw_knull(w, "release_date_precision");
    jw_kstr(w, "type", "album");
    jw_knull(w, "uri");
    jw_obj_end(w);
    jw_key(w, "artists");
    jw_arr(w);
    jw_obj(w);
    jw_key(w, "external_urls");
    jw_obj(w);
    jw_obj_end(w);
    jw_knull(w, "href");
    jw_knull(w, "id");
    jw_kstr(w, "name", l->artist);
    jw_kstr(w, "type", "artist");
    jw_knull(w, "uri");
    jw_obj_end(w);
    jw_arr_end(w);
    if (o->ext) { jw_key(w, "available_markets"); jw_arr(w); jw_arr_end(w); }
    jw_kint(w, "disc_number", 0);
    jw_kint(w, "duration_ms", l->duration_ms);
    jw_kbool(w, "explicit", false);
    jw_key(w, "external_ids");
    jw_obj(w);
    jw_obj_end(w);
    jw_key(w, "external_urls");
    jw_obj(w);
    jw_obj_end(w);
    jw_knull(w, "href");
    jw_knull(w, "id");
    jw_kbool(w, "is_local", true);
    jw_kstr(w, "name", l->name);
    if (o->ext) jw_kint(w, "popularity", 0);
    jw_knull(w, "preview_url");
    jw_kint(w, "track_number", 0);
    jw_kstr(w, "type", "track");
    jw_key(w, "uri");
    jw_begin_value(w);
    jw_raw(w, "\"spotify:local:", 15);
    local_part(w, l->artist);
    jw_raw(w, ":", 1);
    local_part(w, l->album);
    jw_raw(w, ":", 1);
    local_part(w, l->name);
    jw_printf(w, ":%u\"", l->duration_ms / 1000);
    jw_obj_end(w);
}

void out_simple_show(const em_out *o, jw *w, uint32_t show)
{
    const em_show *s = &o->lib->shows.v[show];
    jw_obj(w);
    if (o->ext) markets(w);
    jw_key(w, "copyrights");
    jw_arr(w);
    jw_arr_end(w);
    jw_key(w, "description");
    jw_begin_value(w);
    jw_printf(w, "\"Conversations about %s.\"", s->name);
    jw_key(w, "html_description");
    jw_begin_value(w);
    jw_printf(w, "\"<p>Conversations about %s.</p>\"", s->name);
    jw_kbool(w, "explicit", s->explicit_);
    ext_urls(w, "show", s->id);
    href(o, w, "shows", s->id);
    jw_kstr(w, "id", s->id);
    images(o, w, s->id, true);
    jw_kbool(w, "is_externally_hosted", false);
    jw_key(w, "languages");
    jw_arr(w);
    jw_str(w, "en");
    jw_arr_end(w);
    jw_kstr(w, "media_type", "audio");
    jw_kstr(w, "name", s->name);
    jw_kstr(w, "publisher", s->publisher);
    jw_kstr(w, "type", "show");
    uri(w, "show", s->id);
    jw_kint(w, "total_episodes", s->nepisodes);
    jw_obj_end(w);
}

void out_episode(const em_out *o, jw *w, uint32_t episode, bool with_show)
{
    const em_episode *e = &o->lib->episodes.v[episode];
    jw_obj(w);
    jw_knull(w, "audio_preview_url");
    jw_key(w, "description");
    jw_begin_value(w);
    jw_printf(w, "\"In this episode: %s.\"", e->name);
    jw_key(w, "html_description");
    jw_begin_value(w);
    jw_printf(w, "\"<p>In this episode: %s.</p>\"", e->name);
    jw_kint(w, "duration_ms", e->duration_ms);
    jw_kbool(w, "explicit", e->explicit_);
    ext_urls(w, "episode", e->id);
    href(o, w, "episodes", e->id);
    jw_kstr(w, "id", e->id);
    images(o, w, e->id, true);
    jw_kbool(w, "is_externally_hosted", false);
    jw_kbool(w, "is_playable", true);
    jw_kstr(w, "language", "en");
    jw_key(w, "languages");
    jw_arr(w);
    jw_str(w, "en");
    jw_arr_end(w);
    jw_kstr(w, "name", e->name);
    jw_kstr(w, "release_date", e->date);
    jw_kstr(w, "release_date_precision", "day");
    jw_kstr(w, "type", "episode");
    uri(w, "episode", e->id);
    if (with_show) {
        jw_key(w, "show");
        out_simple_show(o, w, e->show);
    }
    jw_obj_end(w);
}

void out_owner(const em_out *o, jw *w, uint32_t owner, bool with_name)
{
    const em_owner *ow = &o->lib->owners.v[owner];
    jw_obj(w);
    if (with_name) jw_kstr(w, "display_name", ow->display_name);
    ext_urls(w, "user", ow->id);
    href(o, w, "users", ow->id);
    jw_kstr(w, "id", ow->id);
    jw_kstr(w, "type", "user");
    uri(w, "user", ow->id);
    jw_obj_end(w);
}

void out_private_user(const em_out *o, jw *w, const em_user *u)
{
    jw_obj(w);
    jw_kstr(w, "account_id", u->account_id);
    if (o->ext) jw_kstr(w, "country", "SE");
    jw_kstr(w, "display_name", u->display_name);
    if (o->ext) {
        jw_kstr(w, "email", u->email);
        jw_key(w, "explicit_content");
        jw_obj(w);
        jw_kbool(w, "filter_enabled", false);
        jw_kbool(w, "filter_locked", false);
        jw_obj_end(w);
    }
    ext_urls(w, "user", u->id);
    if (o->ext) {
        jw_key(w, "followers");
        jw_obj(w);
        jw_knull(w, "href");
        jw_kint(w, "total", 3);
        jw_obj_end(w);
    }
    href(o, w, "users", u->id);
    jw_kstr(w, "id", u->id);
    images(o, w, u->account_id, false);
    if (o->ext) jw_kstr(w, "product", "premium");
    jw_kstr(w, "type", "user");
    uri(w, "user", u->id);
    jw_obj_end(w);
}

void out_public_user(const em_out *o, jw *w, const em_user *u)
{
    jw_obj(w);
    jw_kstr(w, "display_name", u->display_name);
    ext_urls(w, "user", u->id);
    href(o, w, "users", u->id);
    jw_kstr(w, "id", u->id);
    images(o, w, u->account_id, false);
    jw_kstr(w, "type", "user");
    uri(w, "user", u->id);
    jw_obj_end(w);
}

static void items_ref(const em_out *o, jw *w, const char *key, const em_playlist *p)
{
    jw_key(w, key);
    jw_obj(w);
    jw_key(w, "href");
    jw_begin_value(w);
    jw_printf(w, "\"%s/playlists/%s/%s\"", o->api, p->id, strcmp(key, "items") == 0 ? "items" : "tracks");
    jw_kint(w, "total", (int64_t)p->items.n);
    jw_obj_end(w);
}

static void playlist_head(const em_out *o, jw *w, const em_playlist *p)
{
    char snap[33];
    library_snapshot_id(p, snap);
    jw_kbool(w, "collaborative", p->collaborative);
    jw_kstr(w, "description", p->description);
    ext_urls(w, "playlist", p->id);
    href(o, w, "playlists", p->id);
    jw_kstr(w, "id", p->id);
    playlist_images(o, w, p);
    jw_kstr(w, "name", p->name);
    jw_key(w, "owner");
    out_owner(o, w, p->owner, true);
    jw_kbool(w, "public", p->public_);
    jw_kstr(w, "snapshot_id", snap);
    jw_kstr(w, "type", "playlist");
    uri(w, "playlist", p->id);
}

void out_playlist_simple(const em_out *o, jw *w, uint32_t playlist)
{
    const em_playlist *p = &o->lib->playlists.v[playlist];
    jw_obj(w);
    playlist_head(o, w, p);
    items_ref(o, w, "items", p);
    items_ref(o, w, "tracks", p);
    jw_obj_end(w);
}

void out_playlist_truth(const em_out *o, jw *w, uint32_t playlist, const em_user *viewer)
{
    const em_playlist *p = &o->lib->playlists.v[playlist];
    jw_obj(w);
    playlist_head(o, w, p);
    items_ref(o, w, "tracks", p);
    jw_key(w, "items");
    if (viewer && library_can_edit(o->lib, viewer, p)) {
        jw_arr(w);
        for (size_t i = 0; i < p->items.n; i++) out_playlist_item(o, w, &p->items.v[i]);
        jw_arr_end(w);
    } else {
        jw_null(w);
    }
    jw_kint(w, "items_total", (int64_t)p->items.n);
    if (p->cover) jw_kstr(w, "cover_sha256", p->cover_sha256);
    else jw_knull(w, "cover_sha256");
    jw_obj_end(w);
}

void out_playlist_full(const em_out *o, jw *w, uint32_t playlist, const em_user *viewer)
{
    const em_playlist *p = &o->lib->playlists.v[playlist];
    jw_obj(w);
    playlist_head(o, w, p);
    if (o->ext) {
        jw_key(w, "followers");
        jw_obj(w);
        jw_knull(w, "href");
        jw_kint(w, "total", p->followers);
        jw_obj_end(w);
    }
    if (o->ext || (viewer && library_can_edit(o->lib, viewer, p))) {
        char path[64];
        snprintf(path, sizeof(path), "/playlists/%s/items", p->id);
        for (int k = 0; k < 2; k++) {
            jw_key(w, k == 0 ? "items" : "tracks");
            out_paging_begin_embedded(o, w, path, 100, o->ext ? 100 : 50, (long)p->items.n);
            for (size_t i = 0; i < p->items.n && i < 100; i++) out_playlist_item(o, w, &p->items.v[i]);
            out_paging_end(w);
        }
    }
    jw_obj_end(w);
}

void out_playlist_item(const em_out *o, jw *w, const em_item *it)
{
    jw_obj(w);
    if (it->added_at) {
        char iso[32];
        fmt_iso(it->added_at, iso, sizeof(iso));
        jw_kstr(w, "added_at", iso);
    } else {
        jw_knull(w, "added_at");
    }
    jw_key(w, "added_by");
    out_owner(o, w, it->added_by, false);
    jw_kbool(w, "is_local", it->kind == ITEM_LOCAL);
    jw_key(w, "item");
    size_t start = w->len;
    switch (it->kind) {
    case ITEM_TRACK: out_track(o, w, it->ref); break;
    case ITEM_EPISODE: out_episode(o, w, it->ref, true); break;
    case ITEM_LOCAL: out_local_track(o, w, it->ref); break;
    default: jw_null(w); break;
    }
    /* The deprecated "track" field holds the same object. */
    size_t n = w->len - start;
    char *copy = xmalloc(n);
    memcpy(copy, w->p + start, n);
    jw_key(w, "track");
    jw_json(w, copy, n);
    free(copy);
    jw_obj_end(w);
}

enum { SAVED_TRACK, SAVED_ALBUM, SAVED_SHOW, SAVED_EPISODE };

static void saved(const em_out *o, jw *w, const em_saved *s, int kind)
{
    static const char *const keys[] = {"track", "album", "show", "episode"};
    char iso[32];
    fmt_iso(s->at, iso, sizeof(iso));
    jw_obj(w);
    jw_kstr(w, "added_at", iso);
    jw_key(w, keys[kind]);
    switch (kind) {
    case SAVED_TRACK: out_track(o, w, s->ref); break;
    case SAVED_ALBUM: out_album(o, w, s->ref); break;
    case SAVED_SHOW: out_simple_show(o, w, s->ref); break;
    default: out_episode(o, w, s->ref, true); break;
    }
    jw_obj_end(w);
}

void out_saved_track(const em_out *o, jw *w, const em_saved *s) { saved(o, w, s, SAVED_TRACK); }
void out_saved_album(const em_out *o, jw *w, const em_saved *s) { saved(o, w, s, SAVED_ALBUM); }
void out_saved_show(const em_out *o, jw *w, const em_saved *s) { saved(o, w, s, SAVED_SHOW); }
void out_saved_episode(const em_out *o, jw *w, const em_saved *s) { saved(o, w, s, SAVED_EPISODE); }

void out_play(const em_out *o, jw *w, const em_play *p)
{
    char iso[40];
    fmt_iso(p->at_ms / 1000, iso, sizeof(iso));
    /* Spotify sends milliseconds: 2026-11-01T10:00:00.123Z */
    char ms[48];
    snprintf(ms, sizeof(ms), "%.19s.%03dZ", iso, (int)(p->at_ms % 1000));
    jw_obj(w);
    jw_key(w, "track");
    out_track(o, w, p->track);
    jw_kstr(w, "played_at", ms);
    /* Plays are generated as if played from the track's album. */
    const em_album *al = &o->lib->albums.v[o->lib->tracks.v[p->track].album];
    jw_key(w, "context");
    jw_obj(w);
    jw_kstr(w, "type", "album");
    href(o, w, "albums", al->id);
    ext_urls(w, "album", al->id);
    uri(w, "album", al->id);
    jw_obj_end(w);
    jw_obj_end(w);
}

void out_audio_features(const em_out *o, jw *w, uint32_t track)
{
    const em_track *t = &o->lib->tracks.v[track];
    rng r;
    rng_seed(&r, hash_str(t->id, 0xaf));
    jw_obj(w);
    jw_key(w, "acousticness");
    jw_double(w, rng_unit(&r));
    jw_key(w, "analysis_url");
    jw_begin_value(w);
    jw_printf(w, "\"%s/audio-analysis/%s\"", o->api, t->id);
    jw_key(w, "danceability");
    jw_double(w, rng_unit(&r));
    jw_kint(w, "duration_ms", t->duration_ms);
    jw_key(w, "energy");
    jw_double(w, rng_unit(&r));
    jw_kstr(w, "id", t->id);
    jw_key(w, "instrumentalness");
    jw_double(w, rng_unit(&r));
    jw_kint(w, "key", rng_below(&r, 12));
    jw_key(w, "liveness");
    jw_double(w, rng_unit(&r));
    jw_key(w, "loudness");
    jw_double(w, -30.0 * rng_unit(&r));
    jw_kint(w, "mode", rng_below(&r, 2));
    jw_key(w, "speechiness");
    jw_double(w, rng_unit(&r));
    jw_key(w, "tempo");
    jw_double(w, 60.0 + 120.0 * rng_unit(&r));
    jw_kint(w, "time_signature", 3 + rng_below(&r, 3));
    jw_key(w, "track_href");
    jw_begin_value(w);
    jw_printf(w, "\"%s/tracks/%s\"", o->api, t->id);
    jw_kstr(w, "type", "audio_features");
    uri(w, "track", t->id);
    jw_key(w, "valence");
    jw_double(w, rng_unit(&r));
    jw_obj_end(w);
}

void out_page_url(const em_out *o, jw *w, const char *path, const char *extra, long offset, long limit)
{
    jw_begin_value(w);
    jw_printf(w, "\"%s%s?offset=%ld&limit=%ld%s\"", o->api, path, offset, limit, extra ? extra : "");
}

static void paging_begin(const em_out *o, jw *w, const char *path, const char *extra,
                         long offset, long limit, long link_limit, long total)
{
    jw_obj(w);
    jw_key(w, "href");
    out_page_url(o, w, path, extra, offset, limit);
    jw_kint(w, "limit", limit);
    jw_key(w, "next");
    if (offset + limit < total) out_page_url(o, w, path, extra, offset + limit, link_limit);
    else jw_null(w);
    jw_kint(w, "offset", offset);
    jw_key(w, "previous");
    if (offset > 0) out_page_url(o, w, path, extra, offset - limit > 0 ? offset - limit : 0, limit);
    else jw_null(w);
    jw_kint(w, "total", total);
    jw_key(w, "items");
    jw_arr(w);
}

void out_paging_begin(const em_out *o, jw *w, const char *path, const char *extra,
                      long offset, long limit, long total)
{
    paging_begin(o, w, path, extra, offset, limit, limit, total);
}

void out_paging_begin_embedded(const em_out *o, jw *w, const char *path, long limit,
                               long link_limit, long total)
{
    paging_begin(o, w, path, NULL, 0, limit, link_limit, total);
}

void out_paging_end(jw *w)
{
    jw_arr_end(w);
    jw_obj_end(w);
}

/* json_out.h - Spotify object serializers shared by the Web API endpoints and
 * the control API's ground truth, so both always agree byte for byte.
 *
 * Each function appends one JSON value to w. `o->ext` selects extended-quota
 * shapes; in development mode the fields Spotify dropped in 2026 are absent
 * (popularity, followers, available_markets, user email/country/product/
 * explicit_content; artist genres empty). Callers hold the library read lock.
 */
#ifndef EM_JSON_OUT_H
#define EM_JSON_OUT_H

#include "library.h"

typedef struct em_out {
    const em_library *lib;
    bool ext;                  /* extended-quota mode */
    const char *api;           /* "http://127.0.0.1:PORT/v1", no trailing slash */
} em_out;

void out_simple_artist(const em_out *o, jw *w, uint32_t artist);
void out_artist(const em_out *o, jw *w, uint32_t artist);
/* group: album_group for discography items ("album", "appears_on", ...) or NULL. */
void out_simple_album(const em_out *o, jw *w, uint32_t album, const char *group);
void out_album(const em_out *o, jw *w, uint32_t album);
void out_track(const em_out *o, jw *w, uint32_t track);
void out_local_track(const em_out *o, jw *w, uint32_t local);
void out_episode(const em_out *o, jw *w, uint32_t episode, bool with_show);
void out_simple_show(const em_out *o, jw *w, uint32_t show);
void out_owner(const em_out *o, jw *w, uint32_t owner, bool with_name);
void out_private_user(const em_out *o, jw *w, const em_user *u);
void out_public_user(const em_out *o, jw *w, const em_user *u);
void out_playlist_simple(const em_out *o, jw *w, uint32_t playlist);
/* Full playlist; the first page of items (limit 100) is included only when
 * viewer may read them (owner/collaborator) or in extended mode. */
void out_playlist_full(const em_out *o, jw *w, uint32_t playlist, const em_user *viewer);
/* Ground-truth form: the simplified playlist, but "items" is the whole item
 * list when viewer may read it (else null); "tracks" keeps the reference;
 * "cover_sha256" is the hex SHA-256 of its custom cover's JPEG bytes, or null. */
void out_playlist_truth(const em_out *o, jw *w, uint32_t playlist, const em_user *viewer);
/* The images array of playlist p (GET /playlists/{id}/images): its custom
 * cover as one image with null height and width, else the generated three
 * sizes (none while it is empty). */
void out_playlist_images(const em_out *o, jw *w, const em_playlist *p);
void out_playlist_item(const em_out *o, jw *w, const em_item *it);
void out_saved_track(const em_out *o, jw *w, const em_saved *s);
/* Saved album (full album), show (simplified) or episode (with its show):
 * {"added_at":..., "<album|show|episode>":{...}} */
void out_saved_album(const em_out *o, jw *w, const em_saved *s);
void out_saved_show(const em_out *o, jw *w, const em_saved *s);
void out_saved_episode(const em_out *o, jw *w, const em_saved *s);
void out_play(const em_out *o, jw *w, const em_play *p);
void out_audio_features(const em_out *o, jw *w, uint32_t track);

/* Paging object: writes everything up to and including `"items":[`; the caller
 * writes the items and then calls out_paging_end. path is relative to o->api
 * ("/me/tracks"); extra is appended to the query (e.g. "&time_range=long_term")
 * and must already be URL-encoded, or NULL. */
void out_paging_begin(const em_out *o, jw *w, const char *path, const char *extra,
                      long offset, long limit, long total);
/* The same for a page embedded in another object (a playlist's first 100
 * items): `next` asks for `link_limit` items, the most the endpoint at
 * `path` accepts in the current mode, so a client that follows it gets
 * the rest instead of a 400 for a limit it never chose. */
void out_paging_begin_embedded(const em_out *o, jw *w, const char *path, long limit,
                               long link_limit, long total);
void out_paging_end(jw *w);

/* Writes o->api + path + "?offset=..&limit=.." + extra as a JSON string. */
void out_page_url(const em_out *o, jw *w, const char *path, const char *extra, long offset, long limit);

/* The tracks of an album from `offset`, at most `limit`, as a paging object
 * whose links lead to /albums/{id}/tracks (GET /albums/{id} embeds the first
 * 50; GET /albums/{id}/tracks pages the rest). */
void out_album_tracks(const em_out *o, jw *w, uint32_t album, long offset, long limit);

#endif

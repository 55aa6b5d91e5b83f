/* webapi.h - handlers of the emulated Spotify Web API (/v1) and the helpers
 * they share. Handlers are called by server.c after authentication and mode
 * checks, with r->user set (NULL only on routes that accept app tokens) and
 * {id} captures in r->params. Each takes the library lock it needs.
 *
 *   webapi_library.c   - /me, saved tracks/albums/shows/episodes, following,
 *                        top items, recently played, /me/library
 *   webapi_playlists.c - /me/playlists, /playlists/{id}[/items|/tracks|/followers|/images],
 *                        /users/{id}/playlists
 *   webapi_catalog.c   - /artists, /albums, /tracks, /browse/new-releases,
 *                        /audio-features, /recommendations
 */
#ifndef EM_WEBAPI_H
#define EM_WEBAPI_H

#include <jansson.h>

#include "json_out.h"
#include "server.h"

typedef void (*em_handler)(em_app *app, em_req *r, em_resp *out);

/* Output context for the current mode. */
em_out wa_out(em_app *app);
/* Parses limit (default deflimit, 1..maxlimit) and offset (>= 0). On bad
 * input writes the 400 error and returns false. */
bool wa_paging(em_req *r, em_resp *out, long deflimit, long maxlimit, long *offset, long *limit);
/* Parses the JSON body; on failure writes 400 and returns NULL. Caller decrefs. */
json_t *wa_json_body(em_req *r, em_resp *out);
/* Splits a comma-separated list into at most max entries (pointers into
 * *storage, which the caller frees). Returns the count, or -1 when there are
 * more than max entries. Empty entries are skipped. */
int wa_split(const char *csv, char *items[], int max, char **storage);
/* Collects "uris" from the query (comma-separated) or else from a JSON body
 * {"uris":[...]} (body may be NULL). Returns the count, 0 when absent, -1 when
 * over max. Same storage rule as wa_split. */
int wa_uris(em_req *r, json_t *body, char *items[], int max, char **storage);
/* Looks up a path id with lookup(); when unknown (or malformed) writes 404
 * "Resource not found" and returns NONE. */
uint32_t wa_lookup(em_resp *out, const em_library *lib, const char *id,
                   uint32_t (*lookup)(const em_library *, const char *));

/* Followed artists in /me/following order (sorted by id, so "after" cursors
 * survive follows and unfollows). Caller holds the read lock, frees result. */
uint32_t *wa_followed_sorted(const em_library *lib, const em_user *u);

void wa_me(em_app *, em_req *, em_resp *);
void wa_me_tracks(em_app *, em_req *, em_resp *);
void wa_me_albums(em_app *, em_req *, em_resp *);
void wa_me_shows(em_app *, em_req *, em_resp *);
void wa_me_episodes(em_app *, em_req *, em_resp *);
void wa_me_following(em_app *, em_req *, em_resp *);
void wa_me_top(em_app *, em_req *, em_resp *);
void wa_recently_played(em_app *, em_req *, em_resp *);
void wa_library_put(em_app *, em_req *, em_resp *);
void wa_library_delete(em_app *, em_req *, em_resp *);
void wa_library_contains(em_app *, em_req *, em_resp *);

void wa_me_playlists(em_app *, em_req *, em_resp *);
void wa_create_playlist(em_app *, em_req *, em_resp *);
void wa_user_create_playlist(em_app *, em_req *, em_resp *);
void wa_user_playlists(em_app *, em_req *, em_resp *);
void wa_playlist_get(em_app *, em_req *, em_resp *);
void wa_items_get(em_app *, em_req *, em_resp *);
void wa_items_add(em_app *, em_req *, em_resp *);
void wa_items_put(em_app *, em_req *, em_resp *);
void wa_items_delete(em_app *, em_req *, em_resp *);
void wa_playlist_unfollow(em_app *, em_req *, em_resp *);
void wa_playlist_images_get(em_app *, em_req *, em_resp *);
void wa_playlist_images_put(em_app *, em_req *, em_resp *);

void wa_artist(em_app *, em_req *, em_resp *);
void wa_artist_albums(em_app *, em_req *, em_resp *);
void wa_artists_several(em_app *, em_req *, em_resp *);
void wa_track(em_app *, em_req *, em_resp *);
void wa_tracks_several(em_app *, em_req *, em_resp *);
void wa_album(em_app *, em_req *, em_resp *);
void wa_album_tracks(em_app *, em_req *, em_resp *);
void wa_new_releases(em_app *, em_req *, em_resp *);
void wa_audio_features(em_app *, em_req *, em_resp *);
void wa_recommendations(em_app *, em_req *, em_resp *);

/* Control API (/__emulator/...), control.c. */
void control_handle(em_app *app, em_req *r, em_resp *out);

#endif

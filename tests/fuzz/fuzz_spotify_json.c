/* fuzz_spotify_json.c - fuzz harness: keeptrack's parsers of Spotify answers.
 *
 * The input is a Spotify answer body. It goes through what the client does
 * with one: json_parse_bounded (depth-limited), the error classification of
 * a non-2xx answer, and every object parser (track, album, playlist,
 * playlist item, show, saved wrappers, artist, play) on the top-level value
 * and on each element of a paging object's `items` (also under a wrapper
 * key such as "artists" or "albums"). Properties: nothing crashes or leaks,
 * a successful parse always yields an object, and a string field read back
 * is a copy (never longer than the input).
 */
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "fuzz.h"
#include "spotify/spotify_internal.h"
#include "spotify/spotify_parse.h"

#define FUZZ_MAX_INPUT (256u * 1024u)

static void check_str(const char *s, size_t size)
{
    if (s && strlen(s) > size)
        abort();
}

static void parse_all(const json_t *v, size_t size)
{
    spotify_track *t = NULL;
    if (spotify_parse_track(v, &t, NULL) == KT_OK) {
        if (!t)
            abort();
        check_str(t->name, size);
        spotify_track_free(t);
    }
    spotify_album *al = NULL;
    if (spotify_parse_album(v, &al, NULL) == KT_OK)
        spotify_album_free(al);
    spotify_playlist *pl = NULL;
    if (spotify_parse_playlist(v, &pl, NULL) == KT_OK)
        spotify_playlist_free(pl);
    spotify_playlist_item *it = NULL;
    if (spotify_parse_playlist_item(v, &it, NULL) == KT_OK)
        spotify_playlist_item_free(it);
    spotify_show *sh = NULL;
    if (spotify_parse_show(v, &sh, NULL) == KT_OK)
        spotify_show_free(sh);
    for (int k = SPOTIFY_SAVED_TRACK; k <= SPOTIFY_SAVED_EPISODE; k++) {
        spotify_saved *s = NULL;
        if (spotify_parse_saved(v, (spotify_saved_kind)k, &s, NULL) == KT_OK)
            spotify_saved_free(s);
    }
    spotify_artist *ar = NULL;
    if (spotify_parse_artist(v, &ar, NULL) == KT_OK) {
        for (size_t i = 0; i < ar->n_genres; i++)
            check_str(ar->genres[i], size);
        spotify_artist_free(ar);
    }
    spotify_play *p = NULL;
    if (spotify_parse_play(v, &p, NULL) == KT_OK)
        spotify_play_free(p);
}

static void parse_page(const json_t *page, size_t size)
{
    const json_t *items = json_arr(page, "items");
    for (size_t i = 0; items && i < json_array_size(items) && i < 200; i++)
        parse_all(json_array_get(items, i), size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    json_t *j = NULL;
    kt_err err;
    if (json_parse_bounded((const char *)data, size, SPOTIFY_JSON_MAX_DEPTH, &j, &err) != KT_OK)
        return 0;
    static const long statuses[] = {400, 401, 403, 404, 429, 500, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        spotify_mode m;
        (void)spotify_classify_error(statuses[i], j, "GET /playlists/{id}/items", &err, &m);
        if (strlen(err.msg) >= sizeof err.msg)
            abort();
    }
    parse_all(j, size);
    parse_page(j, size);
    static const char *const wraps[] = {"artists", "albums", "tracks", "playlists", NULL};
    for (size_t i = 0; wraps[i]; i++)
        parse_page(json_obj(j, wraps[i]), size);
    json_decref(j);
    return 0;
}

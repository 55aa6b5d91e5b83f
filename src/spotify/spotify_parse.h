/* spotify_parse.h - Spotify's JSON objects as C structs.
 *
 * The sync engine reads pages through spotify_get_all_* and turns each item
 * into these structs to fill its normalized tables. Parsers are tolerant:
 * a null, missing or wrongly-typed field reads as NULL (strings), -1
 * (counts, numbers, tri-state booleans) or 0 (plain booleans); extra fields
 * are ignored. Only a value that is not an object at all (or, for
 * wrappers, lacks what makes them meaningful) is refused with
 * KT_ERR_INVALID, so one odd item never hides the rest of a page.
 *
 * Ownership: every struct comes from its parse function on the heap and
 * owns all its strings and children; free it with its one free function
 * (which accepts NULL). Out-parameters are written only on success.
 * Thread use: pure functions, safe from any thread.
 */
#ifndef KT_SPOTIFY_PARSE_H
#define KT_SPOTIFY_PARSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* {id, uri, name} of an artist as embedded in tracks and albums. */
typedef struct spotify_artist_ref {
    char *id;   /* NULL for local files */
    char *uri;
    char *name;
} spotify_artist_ref;

typedef struct spotify_album {
    char *id;
    char *uri;
    char *name;
    char *album_type;             /* "album" | "single" | "compilation" | NULL */
    char *release_date;           /* "2024", "2024-05" or "2024-05-01" as Spotify sends it */
    char *release_date_precision; /* "year" | "month" | "day" | NULL */
    int64_t total_tracks;         /* -1 when absent */
    char *image_url;              /* first image, NULL when none */
    spotify_artist_ref *artists;
    size_t n_artists;
} spotify_album;

typedef enum spotify_item_type {
    SPOTIFY_ITEM_TRACK = 1,
    SPOTIFY_ITEM_EPISODE = 2
} spotify_item_type;

/* A playable item: a track (local or not) or a podcast episode. */
typedef struct spotify_track {
    spotify_item_type type;
    char *id;            /* NULL for local files */
    char *uri;           /* "spotify:local:..." for local files */
    char *name;
    int64_t duration_ms; /* -1 when absent */
    int explicit_;       /* 0/1 */
    int is_local;        /* 0/1 */
    int64_t disc_number; /* -1 when absent */
    int64_t track_number;
    char *isrc;          /* external_ids.isrc, NULL when absent */
    spotify_album *album;        /* tracks: the album (NULL when absent) */
    spotify_artist_ref *artists; /* tracks: the artists */
    size_t n_artists;
    /* episodes */
    char *show_id;
    char *show_uri;
    char *show_name;
    char *show_publisher;
    char *release_date;  /* episodes: release_date */
} spotify_track;

typedef struct spotify_playlist {
    char *id;
    char *uri;
    char *name;
    char *description;
    char *owner_id;
    char *owner_name;    /* owner.display_name */
    int public_;         /* 1, 0, or -1 when null/absent */
    int collaborative;   /* 0/1 */
    char *snapshot_id;
    int64_t items_total; /* items.total (or the deprecated tracks.total); -1 when absent */
    char *image_url;
    int cover_custom;    /* 1: images is one image of null size, an uploaded cover (spotify.h) */
} spotify_playlist;

/* One entry of /playlists/{id}/items. item is NULL for a null entry (a
 * track Spotify removed); it holds a track, a local file or an episode. */
typedef struct spotify_playlist_item {
    char *added_at;      /* as sent, e.g. "2024-05-01T12:34:56Z"; NULL when absent */
    int64_t added_at_ms; /* -1 when absent or unparsable */
    char *added_by_id;   /* added_by.id; NULL when absent */
    int is_local;        /* 0/1 */
    spotify_track *item; /* under "item", or the deprecated "track" */
} spotify_playlist_item;

typedef struct spotify_show {
    char *id;
    char *uri;
    char *name;
    char *publisher;
    int64_t total_episodes; /* -1 when absent */
    char *image_url;
} spotify_show;

typedef enum spotify_saved_kind {
    SPOTIFY_SAVED_TRACK = 1, /* /me/tracks: {added_at, track} */
    SPOTIFY_SAVED_ALBUM,     /* /me/albums: {added_at, album} */
    SPOTIFY_SAVED_SHOW,      /* /me/shows: {added_at, show} */
    SPOTIFY_SAVED_EPISODE    /* /me/episodes: {added_at, episode} */
} spotify_saved_kind;

/* An entry of a saved-items page: exactly one of track/album/show is set
 * (track holds the episode for SPOTIFY_SAVED_EPISODE). */
typedef struct spotify_saved {
    spotify_saved_kind kind;
    char *added_at;
    int64_t added_at_ms;
    spotify_track *track;
    spotify_album *album;
    spotify_show *show;
} spotify_saved;

typedef struct spotify_artist {
    char *id;
    char *uri;
    char *name;
    char **genres;       /* may be empty (deprecated in 2026) */
    size_t n_genres;
    char *image_url;
    int64_t followers;   /* followers.total; -1 when absent (development mode) */
    int64_t popularity;  /* -1 when absent (development mode) */
} spotify_artist;

/* An entry of /me/player/recently-played. */
typedef struct spotify_play {
    char *played_at;
    int64_t played_at_ms; /* -1 when absent or unparsable */
    char *context_uri;    /* context.uri; NULL when absent */
    spotify_track *track;
} spotify_play;

/* Parses a track or an episode object (by its "type"; a missing type reads
 * as a track). KT_ERR_INVALID when j is not an object. */
kt_status spotify_parse_track(const json_t *j, spotify_track **out, kt_err *err);
void spotify_track_free(spotify_track *t);

kt_status spotify_parse_album(const json_t *j, spotify_album **out, kt_err *err);
void spotify_album_free(spotify_album *a);

kt_status spotify_parse_playlist(const json_t *j, spotify_playlist **out, kt_err *err);
void spotify_playlist_free(spotify_playlist *p);

/* Parses a playlist item; a null "item"/"track" gives item == NULL. */
kt_status spotify_parse_playlist_item(const json_t *j, spotify_playlist_item **out, kt_err *err);
void spotify_playlist_item_free(spotify_playlist_item *it);

kt_status spotify_parse_show(const json_t *j, spotify_show **out, kt_err *err);
void spotify_show_free(spotify_show *s);

/* Parses a saved-items wrapper of the given kind. KT_ERR_INVALID when j is
 * not an object or the wrapped object is missing or null. */
kt_status spotify_parse_saved(const json_t *j, spotify_saved_kind kind, spotify_saved **out,
                              kt_err *err);
void spotify_saved_free(spotify_saved *s);

kt_status spotify_parse_artist(const json_t *j, spotify_artist **out, kt_err *err);
void spotify_artist_free(spotify_artist *a);

/* KT_ERR_INVALID when j is not an object or has no track object. */
kt_status spotify_parse_play(const json_t *j, spotify_play **out, kt_err *err);
void spotify_play_free(spotify_play *p);

#endif

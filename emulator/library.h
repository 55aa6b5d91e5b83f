/* library.h - the emulator's in-memory model of Spotify: a shared catalog
 * (artists, albums, tracks, shows, episodes, local files, playlists) and the
 * users with their libraries (liked songs, playlists in sidebar order, saved
 * albums/shows/episodes, followed artists, top items, plays).
 *
 * Everything is generated deterministically from the global seed and each
 * user's spec (library_add_user): the same seed and specs give the same ids,
 * names and dates. "Recent" dates are relative to lib->day0 (today's UTC
 * midnight, or --today), so runs on the same day are byte-identical.
 *
 * Objects refer to each other by uint32 index into the catalog arrays (arrays
 * grow, so pointers would dangle). NONE marks "no object".
 *
 * Threading: the model is guarded by lib->lock (a rwlock): request handlers
 * take it for reading, mutations and user creation for writing. Functions
 * here do not lock; callers do.
 */
#ifndef EM_LIBRARY_H
#define EM_LIBRARY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define NONE UINT32_MAX
#define EM_PLAYLIST_MAX_ITEMS 11000

enum { ALBUM_ALBUM, ALBUM_SINGLE, ALBUM_COMPILATION };
enum { PREC_DAY, PREC_MONTH, PREC_YEAR };

typedef struct em_artist {
    char id[23];
    char *name;
    uint8_t genres[3], ngenres;
    uint8_t popularity;
    uint32_t followers;
    VEC(uint32_t) albums;       /* album indices, in creation order */
    VEC(uint32_t) appears_on;   /* albums where it is the second artist */
} em_artist;

typedef struct em_album {
    char id[23];
    char *name;
    uint8_t type, prec, popularity, label;
    char date[11];              /* as sent: "YYYY-MM-DD" | "YYYY-MM" | "YYYY" */
    int64_t released;           /* unix seconds of the date, for sorting */
    uint32_t artists[2];        /* artists[1] may be NONE */
    uint32_t first_track, ntracks;
    char upc[13];
} em_album;

typedef struct em_track {
    char id[23];
    char *name;
    uint32_t album;
    uint32_t artists[2];        /* artists[1] may be NONE */
    uint32_t duration_ms;
    uint8_t disc, number, popularity;
    bool explicit_;
    char isrc[13];
} em_track;

/* A local file: present only in playlists, has no Spotify id. */
typedef struct em_local {
    char *name, *artist, *album;
    uint32_t duration_ms;
} em_local;

typedef struct em_show {
    char id[23];
    char *name, *publisher;
    uint32_t first_episode, nepisodes;
    bool explicit_;
} em_show;

typedef struct em_episode {
    char id[23];
    char *name;
    uint32_t show;
    uint32_t duration_ms;
    char date[11];
    bool explicit_;
} em_episode;

enum { ITEM_TRACK, ITEM_EPISODE, ITEM_LOCAL, ITEM_NULL };

typedef struct em_item {
    uint8_t kind;
    uint32_t ref;               /* track / episode / local index; NONE for ITEM_NULL */
    uint32_t added_by;          /* owner index (lib->owners) */
    int64_t added_at;           /* unix seconds; 0 => null (very old playlists) */
} em_item;

/* A playlist owner: an emulator user or a synthetic other account. */
typedef struct em_owner {
    char *id, *display_name;
} em_owner;

typedef struct em_playlist {
    char id[23];
    char *name, *description;
    uint32_t owner;             /* owners index */
    bool collaborative, public_;
    uint32_t version;           /* bumps on every edit: snapshot_id derives from it */
    uint32_t followers;
    VEC(em_item) items;
    /* A custom cover (PUT /playlists/{id}/images): the JPEG bytes, or NULL
     * for the generated picture; cover_sha256 is their hex SHA-256 (the
     * truth's cover_sha256, its first 32 digits the image URL's key). */
    unsigned char *cover;
    size_t cover_len;
    char cover_sha256[65];
} em_playlist;

typedef struct em_saved { uint32_t ref; int64_t at; } em_saved;    /* at: unix s */
typedef struct em_play { uint32_t track; int64_t at_ms; } em_play;

enum { TR_SHORT, TR_MEDIUM, TR_LONG, TR_COUNT };

/* Library sizes asked for by --user / POST /__emulator/users. */
typedef struct em_user_spec {
    char id[65];
    long liked, playlists, items_min, items_max, followed_playlists;
    long albums, shows, episodes, followed, plays;
    long play_days; /* 0: plays back to back (a few hours); N: spread over N days */
    long big_playlists;      /* the first N owned playlists get big_playlist_items instead */
    long big_playlist_items; /* default EM_PLAYLIST_MAX_ITEMS (11,000) */
    uint64_t seed;
} em_user_spec;

typedef struct em_user {
    char *id;
    char account_id[23];
    char *display_name, *email;
    uint32_t owner;             /* this user as a playlist owner */
    VEC(em_saved) liked;        /* newest first */
    VEC(uint32_t) playlists;    /* /me/playlists order */
    VEC(em_saved) albums, shows, episodes; /* newest first */
    VEC(uint32_t) followed;     /* artists, /me/following order */
    VEC(uint32_t) top_tracks[TR_COUNT], top_artists[TR_COUNT];
    VEC(em_play) plays;         /* newest first */
    uint32_t playlists_created; /* counter for default names */
} em_user;

typedef struct em_library {
    pthread_rwlock_t lock;
    uint64_t seed;
    int64_t day0;               /* today 00:00 UTC (unix s) */
    VEC(em_artist) artists;
    VEC(em_album) albums;
    VEC(em_track) tracks;
    VEC(em_local) locals;
    VEC(em_show) shows;
    VEC(em_episode) episodes;
    VEC(em_playlist) playlists;
    VEC(em_owner) owners;
    VEC(em_user *) users;
    emmap artist_ids, album_ids, track_ids, show_ids, episode_ids, playlist_ids, user_ids;
    rng mut_rng;                /* ids for objects created at run time */
    uint32_t gen_artist0, gen_artist1; /* artists of the user being generated */
} em_library;

/* Creates an empty library. day0 < 0 means "today". Never NULL. */
em_library *library_new(uint64_t seed, int64_t day0);
void library_free(em_library *lib);     /* accepts NULL */

/* Fills *spec with the medium defaults for user id (300 liked, 12 playlists...). */
void library_spec_defaults(em_user_spec *spec, const char *id);
/* Parses "ID[:key=value,...]" into *spec (defaults first). Returns false and a
 * message in err on bad input. */
bool library_spec_parse(const char *text, em_user_spec *spec, char *err, size_t errsz);
/* Sets one key of a spec ("liked", "playlist_items" may be "min-max", ...). */
bool library_spec_set(em_user_spec *spec, const char *key, const char *val, char *err, size_t errsz);

/* Generates a user and its library. Returns the user index, or -1 when the id
 * is taken or invalid (message in err). Caller holds the write lock. */
int library_add_user(em_library *lib, const em_user_spec *spec, char *err, size_t errsz);

em_user *library_user(em_library *lib, const char *id);   /* NULL when unknown */

/* Lookups by base62 id; NONE when unknown. */
uint32_t library_track(const em_library *lib, const char *id);
uint32_t library_album(const em_library *lib, const char *id);
uint32_t library_artist(const em_library *lib, const char *id);
uint32_t library_show(const em_library *lib, const char *id);
uint32_t library_episode(const em_library *lib, const char *id);
uint32_t library_playlist(const em_library *lib, const char *id);

/* Writes the playlist's current snapshot_id (derived from id and version). */
void library_snapshot_id(const em_playlist *p, char out[33]);

/* True when user u may read/edit the items of playlist p (owner or collaborative). */
bool library_can_edit(const em_library *lib, const em_user *u, const em_playlist *p);

/* Mutations (caller holds the write lock). Return false with message on error. */
bool library_like(em_library *lib, em_user *u, uint32_t track, int64_t at);
bool library_unlike(em_library *lib, em_user *u, uint32_t track);
bool library_follow(em_user *u, uint32_t artist);
bool library_unfollow(em_user *u, uint32_t artist);
/* Creates a playlist owned by u, puts it first in u's list, returns its index. */
uint32_t library_create_playlist(em_library *lib, em_user *u, const char *name,
                                 const char *description, bool public_, bool collaborative);
/* Adds a parsed item list at pos (pos > n or < 0 => append). Bumps version. */
void library_playlist_insert(em_library *lib, em_playlist *p, const em_item *items, size_t n, long pos);
void library_playlist_bump(em_playlist *p);
/* Maximum size of an uploaded cover as base64 text (Spotify's 256 KB). */
#define EM_COVER_B64_MAX (256 * 1024)
/* Decodes a base64 JPEG (standard alphabet, padding, CR/LF ignored) into
 * *jpeg (caller frees) and *n. Returns 0, or 400 when it is not base64 or
 * not a JPEG (no FF D8 FF start), or 413 when the text is over
 * EM_COVER_B64_MAX; *jpeg is NULL then. */
int library_cover_decode(const char *b64, size_t len, unsigned char **jpeg, size_t *n);
/* Gives p the custom cover jpeg[0..n) (copied) and bumps its version, as
 * Spotify gives the playlist a new snapshot_id when its image changes. */
void library_playlist_set_cover(em_playlist *p, const unsigned char *jpeg, size_t n);
/* The index of a playlist whose cover URL key is key (32 hex digits), or
 * NONE. Caller holds the read lock. */
uint32_t library_cover_by_key(const em_library *lib, const char *key);
/* Moves items [start, start+len) before index `before` (indices of the list
 * before the move), as Spotify's reorder. False (nothing changed) when the
 * range is out of bounds. Bumps version on success. */
bool library_playlist_reorder(em_playlist *p, long start, long before, long len);
/* Removes every item equal (kind and ref) to one of want[0..n). Bumps version. */
void library_playlist_remove(em_playlist *p, const em_item *want, size_t n);
/* Adds a new album for artist: returns album index. */
uint32_t library_new_release(em_library *lib, uint32_t artist, const char *name, int type,
                             int64_t released, uint32_t ntracks);
/* Records a play (keeps newest first). */
void library_play(em_user *u, uint32_t track, int64_t at_ms);
/* A user's top tracks of range `tr` as of the UTC midnight day_s (unix s)
 * rebuilt from the plays before it: the tracks played most in the range's
 * window (short 28 days, medium 182, long every play), ties by catalog
 * order; at most max written to out, the count returned. Users with
 * play_days get their top lists this way (today's, and the days before
 * through the truth's "top_history" section), so Spotify's top lists follow
 * their listening and move from day to day. */
size_t library_top_from_plays(const em_library *lib, const em_user *u, int tr, int64_t day_s,
                              uint32_t *out, size_t max);
/* The first artists of tracks[0..n), each once, in order (a top artists list). */
size_t library_top_artists_of(const em_library *lib, const uint32_t *tracks, size_t n,
                              uint32_t *out, size_t max);

/* Parses "spotify:TYPE:ID" into type name (static) and index; false when the
 * uri is malformed (*bad_format = true) or unknown (*bad_format = false). */
typedef enum { URI_TRACK, URI_EPISODE, URI_ALBUM, URI_ARTIST, URI_PLAYLIST, URI_SHOW, URI_USER, URI_LOCAL } em_uri_type;
bool library_parse_uri(const em_library *lib, const char *uri, em_uri_type *type, uint32_t *idx,
                       bool *bad_format);

extern const char *const library_genres[];
extern const char *const library_labels[];

#endif

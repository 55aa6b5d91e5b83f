/* store_releases.h - the domain SQL of new releases (issue 8): albums
 * released recently, their artists, how they were found, which artists'
 * albums were checked when, and the data version the read API's caches key
 * on. Tables: migration 6 (see migrations.c for the layout and why).
 *
 * Writes come from the releases job (src/services/releases.c) as plain rows
 * whose strings are borrowed for the call; reads serve GET /api/artists/ and
 * GET /api/releases. Dates: `release_day` is YYYY-MM-DD (store_release_day
 * derives it from what Spotify sends), so windows and `since` compare text.
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success.
 * Functions marked "(tx)" open their own transaction and must not be called
 * inside one; the others work either way.
 */
#ifndef KT_STORE_STORE_RELEASES_H
#define KT_STORE_STORE_RELEASES_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Largest page / id list the read functions accept. */
#define STORE_REL_MAX_LIMIT 500
/* Most artists stored per release (Spotify lists a handful). */
#define STORE_REL_MAX_ARTISTS 32

/* Where a release was found (release_sources.source). */
#define STORE_REL_SRC_NEW_RELEASES "new_releases"
#define STORE_REL_SRC_ARTIST_ALBUMS "artist_albums"

typedef struct store_release_artist {
    const char *id; /* required */
    const char *name;
    const char *url;
} store_release_artist;

typedef struct store_release_row {
    const char *id;   /* required: the album id */
    const char *name;
    const char *album_type;
    const char *release_date;           /* as Spotify sends it: YYYY, YYYY-MM or YYYY-MM-DD */
    const char *release_date_precision; /* year | month | day | NULL */
    int64_t total_tracks;               /* -1 unknown */
    const char *image_url;
    const char *url;
    const store_release_artist *artists; /* in order; at most STORE_REL_MAX_ARTISTS kept */
    size_t n_artists;
} store_release_row;

/* Pads a Spotify release date to YYYY-MM-DD ("2026" -> "2026-01-01",
 * "2026-05" -> "2026-05-01") into day[11]. 0 on success, -1 when `date` is
 * NULL or not one of the three forms (digits and dashes, month 01..12,
 * day 01..31). Pure. */
int store_release_day(const char *date, char day[11]);

/* Upserts releases found through `source` (tx): a new release gets
 * first_seen_at = now; a known one is rewritten only when a field changed;
 * its artists are replaced when they changed; (release, source) is recorded
 * with first/last seen times. Rows whose date is unusable or whose day is
 * before min_day ("YYYY-MM-DD"; NULL = no limit) are skipped: they would
 * age out at once. Repeated ids within the call are written once. When
 * anything visible changed the data version is bumped in the same
 * transaction. *added / *skipped (may be NULL) count new and skipped
 * releases. KT_ERR_INVALID for a row without id or a bad source. */
kt_status store_releases_put(store *s, const char *source, const store_release_row *rows,
                             size_t n, const char *min_day, int64_t now_ms, int64_t *added,
                             int64_t *skipped, kt_err *err);

/* Deletes the releases whose day is before min_day (their artists and
 * sources go with them) and bumps the data version when any went (tx).
 * *removed (may be NULL) counts them. */
kt_status store_releases_age_out(store *s, const char *min_day, int64_t *removed, kt_err *err);

/* The data version: changes whenever what the read functions return
 * changes through the functions above. */
kt_status store_releases_version(store *s, int64_t *version, kt_err *err);

/* The artists the development-mode walk should check: every artist
 * followed by, or in the newest top-artists snapshot of, an active user,
 * whose albums were never checked or last checked before checked_before_ms;
 * never-checked first, then the longest unchecked, then by id. At most
 * `limit` (1..STORE_REL_MAX_LIMIT) ids, column (artist_id); *due (may be
 * NULL) receives how many are due in all. Caller owns *out. */
kt_status store_releases_artists_due(store *s, int64_t checked_before_ms, size_t limit,
                                     store_rows **out, int64_t *due, kt_err *err);

/* Records that ids[0..n) were checked at now_ms. Works inside or outside
 * a transaction. */
kt_status store_releases_mark_checked(store *s, const char *const *ids, size_t n, int64_t now_ms,
                                      kt_err *err);

/* store_releases_put and store_releases_mark_checked(checked, n_checked)
 * in one transaction (tx), so one batch of the artist walk lands whole: a
 * deferral keeps every batch already committed and loses none half-way. */
kt_status store_releases_put_checked(store *s, const char *source, const store_release_row *rows,
                                     size_t n, const char *const *checked, size_t n_checked,
                                     const char *min_day, int64_t now_ms, int64_t *added,
                                     int64_t *skipped, kt_err *err);

/* ---- reads ---- */

/* What a read selects: user_id 0 = every artist (global); otherwise only
 * the user's followed artists. since_day "YYYY-MM-DD" (NULL = no limit)
 * keeps releases of that day or later. limit 1..STORE_REL_MAX_LIMIT. */
typedef struct store_rel_filter {
    int64_t user_id;
    const char *since_day;
    size_t limit;
    size_t offset;
} store_rel_filter;

/* A page of artists that have releases, newest release first (ties: artist
 * id): columns (artist_id, name, url, image_url, latest_day). The name and
 * image come from the catalog (artists table) when it has them, else from
 * the releases. *total receives how many artists match. */
kt_status store_release_artists_page(store *s, const store_rel_filter *f, store_rows **out,
                                     int64_t *total, kt_err *err);

/* The releases of artists ids[0..n) (n <= STORE_REL_MAX_LIMIT) on or after
 * since_day (NULL = all), ordered by artist id, then newest first (ties:
 * release id): columns (artist_id, id, name, album_type, release_date,
 * release_date_precision, release_day, total_tracks, image_url, url). */
kt_status store_release_artists_releases(store *s, const char *const *ids, size_t n,
                                         const char *since_day, store_rows **out, kt_err *err);

/* A page of releases, newest first (ties: id): columns (id, name,
 * album_type, release_date, release_date_precision, release_day,
 * total_tracks, image_url, url, first_seen_at, via_new_releases,
 * via_artist_albums) where the last two are 0/1. With a user_id, only
 * releases by an artist the user follows. *total receives the count. */
kt_status store_releases_page(store *s, const store_rel_filter *f, store_rows **out,
                              int64_t *total, kt_err *err);

/* The artists of releases ids[0..n) (n <= STORE_REL_MAX_LIMIT): columns
 * (release_id, position, artist_id, name, url) ordered by release id then
 * position. */
kt_status store_release_artists_of(store *s, const char *const *ids, size_t n, store_rows **out,
                                   kt_err *err);

#endif

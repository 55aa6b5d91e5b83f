/* store_trending.h - the domain SQL of trending tracks (issue 18): each
 * user's curated, ordered list of tracks. Table: migration 12
 * (trending_tracks; see migrations.c).
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; reads
 * return store_rows (caller frees) whose columns are listed at each
 * function; times are unix ms. "(tx)" functions open their own transaction
 * and must not be called inside one. Positions are dense (0..n-1) after
 * every write.
 */
#ifndef KT_STORE_STORE_TRENDING_H
#define KT_STORE_STORE_TRENDING_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The longest list a user may keep. */
#define STORE_TRENDING_MAX 500

/* The user's list in order, with what a row shows: columns (position,
 * uri, id, name, album, release_date, artist_id (first artist), artist
 * name, genres (JSON text or NULL), audio features (JSON text or NULL when
 * none is stored), source, added_at). */
kt_status store_trending_list(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* Whether uri is a track ("track" kind) in the shared catalog. */
kt_status store_trending_in_catalog(store *s, const char *uri, int *known, kt_err *err);

/* The id of the first artist of track uri when the catalog does not know
 * that artist's genres yet (only seen as a reference); *artist_id
 * (malloc'd, caller frees) is NULL when there is nothing to fetch. */
kt_status store_trending_artist_due(store *s, const char *uri, char **artist_id, kt_err *err);

/* Appends uri (which must be in the catalog) to the end of the list (tx).
 * *added (may be NULL) receives 0 when it was already listed (nothing
 * changes then). KT_ERR_INVALID "list_full" at STORE_TRENDING_MAX. */
kt_status store_trending_add(store *s, int64_t user_id, const char *uri, const char *source,
                             int64_t now_ms, int *added, kt_err *err);

/* Removes uri from the list and closes the gap (tx). KT_ERR_NOT_FOUND
 * "not_listed" when it is not listed. */
kt_status store_trending_remove(store *s, int64_t user_id, const char *uri, kt_err *err);

/* Puts the list in the order of uris[0..n) (tx), which must hold every
 * listed track exactly once; KT_ERR_INVALID naming `uris` otherwise. */
kt_status store_trending_reorder(store *s, int64_t user_id, const char *const *uris, size_t n,
                                 kt_err *err);

/* Replaces the whole list with uris[0..n) (all in the catalog, no
 * repeats, n <= STORE_TRENDING_MAX), each added from `source` (tx): the
 * list is either the old one or the new one, never a mix. */
kt_status store_trending_replace(store *s, int64_t user_id, const char *const *uris, size_t n,
                                 const char *source, int64_t now_ms, kt_err *err);

#endif

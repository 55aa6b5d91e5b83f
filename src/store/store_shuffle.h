/* store_shuffle.h - the domain SQL of shuffles and shared Liked Songs
 * (issue 6): reading a shuffle's source from the library copy, the
 * playlists keeptrack made in users' accounts, and shuffle statistics.
 * Tables: migration 5 (shuffled_playlists, shuffle_events,
 * shuffle_track_counts; see migrations.c).
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; reads
 * return store_rows (caller frees) whose columns are listed at each
 * function; times are unix ms. "(tx)" functions open their own transaction
 * and must not be called inside one.
 */
#ifndef KT_STORE_STORE_SHUFFLE_H
#define KT_STORE_STORE_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The source name of Liked Songs. */
#define STORE_SHUFFLE_LIKED "liked"

/* Kinds of the playlists keeptrack makes. */
#define STORE_SHUFFLE_KIND_SHUFFLE "shuffle"
#define STORE_SHUFFLE_KIND_SHARE "share"

/* Statuses of a made playlist. */
#define STORE_SHUFFLED_BUILDING "building"
#define STORE_SHUFFLED_DONE "done"
#define STORE_SHUFFLED_DELETED "deleted"

/* What a source is: *name (malloc'd, caller frees; "Liked Songs" for
 * liked) and *readable (1 when its entries are in the library copy: liked
 * always; a playlist whose items were synced, i.e. one the user owns or
 * collaborates on). KT_ERR_NOT_FOUND when the user has no such playlist (or
 * it was removed from their list). */
kt_status store_shuffle_source_info(store *s, int64_t user_id, const char *source, char **name,
                                    int *readable, kt_err *err);

/* Every entry of a source in its order (duplicates, episodes, local files
 * and null entries included): columns (uri (NULL for a null entry), kind
 * ("track" | "episode" | "local", NULL for a null entry), artist_key,
 * album_key), where the keys label the first artist (or the show, or a
 * local file's artist name) and the album (or show) for the spread
 * shuffle; NULL when unknown. */
kt_status store_shuffle_source_items(store *s, int64_t user_id, const char *source,
                                     store_rows **out, kt_err *err);

/* The newest made playlist of (kind, source) that is not deleted: columns
 * (id, spotify_id, name, status, mode, track_count). KT_ERR_NOT_FOUND when
 * there is none. */
kt_status store_shuffled_find(store *s, int64_t user_id, const char *kind, const char *source,
                              store_rows **out, kt_err *err);

/* Records that keeptrack is (re)filling playlist spotify_id: inserts it, or
 * updates the existing row of (user, spotify_id), with status "building".
 * *id receives the row id. */
kt_status store_shuffled_begin(store *s, int64_t user_id, const char *kind, const char *source,
                               const char *mode, const char *spotify_id, const char *name,
                               int64_t now_ms, int64_t *id, kt_err *err);

/* Sets a made playlist's status ("done" | "building" | "deleted") and, for
 * "done", its track and skipped-local-file counts (ignored otherwise). */
kt_status store_shuffled_finish(store *s, int64_t id, const char *status, int64_t track_count,
                                int64_t local_skipped, int64_t now_ms, kt_err *err);

/* Marks the user's made playlist spotify_id deleted (unfollowed). *changes
 * (may be NULL) receives 0 or 1. */
kt_status store_shuffled_mark_deleted(store *s, int64_t user_id, const char *spotify_id,
                                      int64_t now_ms, int64_t *changes, kt_err *err);

/* The user's made playlists of `kind` (NULL = every kind), newest first,
 * deleted ones only when include_deleted: columns (spotify_id, kind,
 * source, mode, name, status, track_count, local_skipped, created_at,
 * updated_at). */
kt_status store_shuffled_list(store *s, int64_t user_id, const char *kind, int include_deleted,
                              store_rows **out, kt_err *err);

/* Records a finished shuffle (tx): an event (source, its name, mode, the
 * output playlist, tracks placed, local files skipped) and one more count
 * for every uri of uris[0..n) (repeats count as often as they appear). */
kt_status store_shuffle_record(store *s, int64_t user_id, const char *source,
                               const char *source_name, const char *mode,
                               const char *spotify_id, int64_t tracks, int64_t local_skipped,
                               const char *const *uris, size_t n, int64_t now_ms, kt_err *err);

/* Totals over every user (user_id 0) or one user: columns (shuffles,
 * tracks, users, local_skipped, sources) in one row. */
kt_status store_shuffle_totals(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* The most shuffled tracks, over every user (user_id 0) or one: columns
 * (uri, name, times), most first (ties by uri). limit 1..100. */
kt_status store_shuffle_top_tracks(store *s, int64_t user_id, size_t limit, store_rows **out,
                                   kt_err *err);

/* The most shuffled artists (every credited artist of a shuffled track
 * counts), over every user (user_id 0) or one: columns (artist_id, name,
 * times), most first (ties by id). limit 1..100. */
kt_status store_shuffle_top_artists(store *s, int64_t user_id, size_t limit, store_rows **out,
                                    kt_err *err);

/* The user's shuffles, newest first: columns (source, source_name, mode,
 * spotify_id, tracks, local_skipped, created_at). limit 1..500. */
kt_status store_shuffle_history(store *s, int64_t user_id, size_t limit, size_t offset,
                                store_rows **out, int64_t *total, kt_err *err);

#endif

/* store_fromtops.h - the domain SQL of playlists made from top tracks
 * (issue 18, item 2): each user's saved definitions. Table: migration 13
 * (fromtops_defs; see migrations.c).
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; reads
 * return store_rows (caller frees) whose columns are listed at each
 * function; times are unix ms.
 */
#ifndef KT_STORE_STORE_FROMTOPS_H
#define KT_STORE_STORE_FROMTOPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The most definitions a user may keep. */
#define STORE_FROMTOPS_MAX 50

/* One definition as written. Strings are borrowed; NULL binds SQL NULL,
 * and from_ms/to_ms < 0 bind NULL. */
typedef struct store_fromtops_def {
    const char *spec;       /* canonical text of the ranking, unique per user */
    const char *source;     /* "spotify" | "history" */
    const char *time_range; /* spotify: short_term | medium_term | long_term */
    const char *period;     /* history: day .. all | custom */
    int64_t from_ms, to_ms; /* history, custom period */
    const char *by;         /* history: plays | time */
    int64_t limit;          /* 1..100 */
    const char *name;
    const char *refresh; /* none | weekly | monthly */
} store_fromtops_def;

/* The columns every read below returns, in this order: (id, source,
 * time_range, period, from_ms, to_ms, by_what, limit_n, name, refresh,
 * playlist_id, last_run_at, created_at). */

/* Saves d for user_id: a new row, or the user's row with the same spec
 * with its name and refresh updated (so asking again for the same tops
 * finds the same definition and playlist). *id receives the row's id and
 * *created (may be NULL) 1 for a new row. KT_ERR_INVALID "too_many" when
 * the user already has STORE_FROMTOPS_MAX other definitions. */
kt_status store_fromtops_save(store *s, int64_t user_id, const store_fromtops_def *d,
                              int64_t now_ms, int64_t *id, int *created, kt_err *err);

/* The user's definitions, oldest first. */
kt_status store_fromtops_list(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* One definition of the user; KT_ERR_NOT_FOUND "no_definition" when the
 * user has none with that id. */
kt_status store_fromtops_get(store *s, int64_t user_id, int64_t id, store_rows **out,
                             kt_err *err);

/* Deletes one definition of the user (its playlist stays in Spotify);
 * KT_ERR_NOT_FOUND "no_definition" when there is none. */
kt_status store_fromtops_delete(store *s, int64_t user_id, int64_t id, kt_err *err);

/* Records a successful run: the playlist written and when. A definition
 * deleted meanwhile is not an error (nothing changes). */
kt_status store_fromtops_ran(store *s, int64_t user_id, int64_t id, const char *playlist_id,
                             int64_t now_ms, kt_err *err);

/* Definitions of active users due for their scheduled refresh at now_ms:
 * refresh 'weekly' not run for 7 days, 'monthly' for 30 (or never run).
 * Columns (id, user_id, last_run_at|NULL), by id. */
kt_status store_fromtops_due(store *s, int64_t now_ms, store_rows **out, kt_err *err);

#endif

/* store_history.h - the domain SQL of listening-history imports (issue 7):
 * reading the plays around a batch (to find duplicates), writing a batch of
 * imported plays together with its resume point, and the history_imports
 * rows (one per imported file: resume point, counts, status, report).
 * Tables: plays (migration 3, columns added by 4) and history_imports (4).
 *
 * On PostgreSQL a batch is one INSERT ... SELECT FROM unnest(...) per
 * table, each column one array parameter (store_array.h): one statement
 * and one round trip per batch whatever its size, and plays' references
 * are checked once per statement (migration 11). SQLite runs one cached
 * single-row statement per row, in process. That is the one place this
 * file's SQL differs per back-end.
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success;
 * functions marked (tx) open their own transaction and must not be called
 * inside one.
 */
#ifndef KT_STORE_STORE_HISTORY_H
#define KT_STORE_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The user's plays with from_ms <= played_at <= to_ms in played_at order:
 * columns (played_at, track_uri, source, source_ts|NULL, ms_played|NULL).
 * Caller owns *out. */
kt_status store_history_window(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                               store_rows **out, kt_err *err);

/* One imported play. Strings borrowed for the call; NULL allowed except
 * uri and kind. */
typedef struct store_hist_row {
    int64_t played_at; /* unix ms; unique per user (the caller ensures it) */
    int64_t source_ts; /* the time as the file gave it */
    int64_t ms_played;
    const char *uri;   /* tracks(uri): a stub row is added when the catalog lacks it */
    const char *id;    /* the Spotify id (NULL for synthetic uris) */
    const char *kind;  /* tracks.kind of the stub: "track" | "episode" | "unresolved" */
    const char *track_name, *artist_name, *album_name;
} store_hist_row;

/* Where a file's import stands after a batch. */
typedef struct store_hist_progress {
    int64_t records;         /* number of the last record handled */
    int64_t committed_bytes; /* bytes of the file up to the end of that record */
    const char *prefix_hash; /* hex BLAKE2b of those bytes */
    int64_t imported, duplicates, skipped, rejected;
} store_hist_progress;

/* In one transaction (tx): adds stub tracks for uris the catalog lacks
 * (kind, name; unresolved ones also keep artist/album in local_artist /
 * local_album; updated_at 0 marks a stub that a sync will overwrite), the
 * plays (source 'import'; a play whose played_at is taken meanwhile is
 * dropped), and the import's progress. progress holds the counts before
 * this batch's plays: the row written adds the plays inserted to imported
 * and the dropped ones to rejected, so a resumed import starts from exact
 * counts. *added (may be NULL) receives the plays actually inserted. */
kt_status store_history_commit(store *s, int64_t user_id, int64_t import_id,
                               const store_hist_row *rows, size_t n,
                               const store_hist_progress *progress, int64_t now_ms,
                               int64_t *added, kt_err *err);

/* Records a new import of `file_name` as running; *id receives its id. */
kt_status store_history_import_start(store *s, int64_t user_id, const char *file_name,
                                     int64_t now_ms, int64_t *id, kt_err *err);

/* An unfinished import that a new import of the same file may continue. */
typedef struct store_hist_import {
    int64_t id;
    int64_t records, committed_bytes;
    char prefix_hash[129];
    int64_t imported, duplicates, skipped, rejected;
} store_hist_import;

/* The newest import of file_name by the user that did not finish (status
 * running or failed) and committed at least one record. KT_ERR_NOT_FOUND
 * when there is none. */
kt_status store_history_resumable(store *s, int64_t user_id, const char *file_name,
                                  store_hist_import *out, kt_err *err);

/* Marks an import running again (a resume), keeping its counts. */
kt_status store_history_import_resume(store *s, int64_t import_id, int64_t now_ms, kt_err *err);

/* Ends an import: status "done" | "failed"; content_hash (done), error and
 * report_json (a JSON text) may be NULL. The counts in *p are written; its
 * resume point too unless p->prefix_hash is NULL. */
kt_status store_history_import_finish(store *s, int64_t import_id, const char *status,
                                      const store_hist_progress *p, const char *content_hash,
                                      const char *error, const char *report_json,
                                      int64_t now_ms, kt_err *err);

/* The user's imports, newest first: columns (id, file_name, status,
 * records, imported, duplicates, skipped, rejected, error, started_at,
 * finished_at, report). limit 1..500. */
kt_status store_history_imports_list(store *s, int64_t user_id, size_t limit, size_t offset,
                                     store_rows **out, int64_t *total, kt_err *err);

#endif

/* history_import.h - importing Spotify's data-export listening history into
 * a user's plays (issue 7): `keeptrack import-history FILE...` and
 * POST /api/history/import both end here.
 *
 * Inputs are .json history files (formats in history_parse.h) or zip
 * archives of them (Spotify's my_spotify_data.zip), as files on disk or as
 * bytes in memory (an upload). Files are read as streams, one record at a
 * time, never whole; zip members are inflated as streams too (libzip).
 * Inside a zip only history members are read: Streaming_History_Audio_*,
 * endsong_*, StreamingHistory*.json (by base name); others are listed as
 * ignored.
 *
 * Rules, per record (numbered from 1 in its file):
 *  - skipped: played less than options.min_ms (KEEPTRACK_HISTORY_MIN_MS,
 *    default 30 s); nothing identifies what played; audiobooks;
 *  - duplicate: a polled play (source 'poll') of the same uri within
 *    +/-30 s (each polled play absorbs one record), or an imported play of
 *    the same uri with the same file time and ms_played (an earlier import,
 *    or the same record twice), so re-importing adds nothing;
 *  - rejected: a record that is well-formed JSON but unusable (not an
 *    object, bad time, wrong field types, ...), with the reason;
 *  - imported: everything else, as a play with source 'import' at the
 *    file's time (moved forward by whole ms when another play already has
 *    that instant: played_at is unique per user). Records without a uri get
 *    a synthetic key (history_synthetic_uri); Spotify is never called.
 * Records are committed in batches of HISTORY_BATCH, each batch in one
 * transaction with the file's resume point (history_imports: last record,
 * byte offset, BLAKE2b of the bytes up to it). A file that fails half-way
 * (truncated, malformed JSON) keeps its committed batches and its resume
 * point; importing a file of the same name whose first bytes hash the same
 * continues after the last committed record (a file that differs starts
 * over, and the duplicate rules keep that exact).
 *
 * Thread use: one call per thread. The store is borrowed for the call; while
 * a file is read it is used by the call's own writer thread (the next batch
 * is parsed meanwhile), never by two threads at once, and it is back with
 * the caller when the call returns.
 */
#ifndef KT_SERVICES_HISTORY_IMPORT_H
#define KT_SERVICES_HISTORY_IMPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Records per committed batch. */
#define HISTORY_BATCH 1000
/* Examples kept in a report (the counts are always complete). */
#define HISTORY_MAX_EXAMPLES 50
/* Polled plays within this many ms of a record (same uri) are the same play. */
#define HISTORY_DUP_WINDOW_MS 30000
/* Limits for zip archives: entries looked at, bytes inflated per member. */
#define HISTORY_ZIP_MAX_ENTRIES 10000
#define HISTORY_MAX_MEMBER_BYTES ((int64_t)1 << 30)

typedef struct history_options {
    int64_t min_ms; /* shorter plays are skipped (0 keeps all) */
} history_options;

/* Why a record was not imported. */
typedef enum history_reason {
    HR_SKIP_SHORT,
    HR_SKIP_NO_ITEM,
    HR_SKIP_AUDIOBOOK,
    HR_DUP_POLLED,
    HR_DUP_IMPORTED,
    HR_REJ_NOT_OBJECT,
    HR_REJ_UNKNOWN_FORMAT,
    HR_REJ_BAD_TS,
    HR_REJ_BAD_MS_PLAYED,
    HR_REJ_BAD_URI,
    HR_REJ_BAD_FIELD,
    HR_REJ_NAME_TOO_LONG,
    HR_REJ_SAME_INSTANT,
    HR_COUNT
} history_reason;

/* "skipped.short", "duplicate.polled", "rejected.bad_ts", ... (static). */
const char *history_reason_name(history_reason r);

typedef struct history_example {
    char file[160];
    int64_t record;
    history_reason reason;
    char detail[200];
} history_example;

typedef struct history_file_report {
    char *name;         /* as given, or "archive.zip:member" */
    const char *status; /* "done" | "failed" | "ignored" (static) */
    int64_t import_id;  /* history_imports row; 0 for ignored */
    int64_t resumed_after; /* records skipped because an earlier import committed them */
    int64_t records;    /* records read, resumed ones included */
    int64_t imported, duplicates, skipped, rejected; /* this run only */
    char *error;        /* failed: "record N (byte B): ..." */
} history_file_report;

typedef struct history_report {
    int64_t imported, duplicates, skipped, rejected;
    int64_t reasons[HR_COUNT];
    history_file_report *files;
    size_t n_files;
    size_t failed_files;
    history_example examples[HISTORY_MAX_EXAMPLES];
    size_t n_examples;
    int64_t examples_dropped;
} history_report;

/* One input: a file on disk (path) or bytes in memory (data/len, e.g. an
 * upload; borrowed for the call). name labels it in reports and keys its
 * resume point (default: the path's base name). Zip or JSON is decided by
 * content. */
typedef struct history_input {
    const char *name;
    const char *path;
    const void *data;
    size_t len;
} history_input;

/* Imports inputs[0..n) into user_id's plays. Returns KT_OK with *out (the
 * caller frees it with history_report_free) when every input was attempted:
 * inputs that could not be read or were damaged are in the report with
 * status "failed" and an error naming the file and the record
 * (failed_files > 0), and the others are still imported. Returns an error
 * (no report) for bad arguments (KT_ERR_INVALID) or when the database fails
 * (KT_ERR_STORE...; batches committed so far stay, with their resume
 * point). */
kt_status history_import(store *s, int64_t user_id, const history_input *inputs, size_t n,
                         const history_options *o, history_report **out, kt_err *err);

void history_report_free(history_report *r);

/* The report as JSON (new reference; NULL when memory runs out):
 * {"imported","duplicates","skipped","rejected","reasons":{name:count},
 *  "files":[{name,status,import_id,records,resumed_after,imported,...,error}],
 *  "examples":[{file,record,reason,detail}],"examples_dropped"}. */
json_t *history_report_json(const history_report *r);

#endif

/* restore_parse.h - reading what a user uploads to restore into Spotify:
 * keeptrack's own JSON export (export.h) and Exportify-style CSV files
 * (one playlist per file; liked_songs.csv is Liked Songs), alone or in a
 * zip archive. Pure: no I/O besides the bytes given, no globals, so the
 * parsers are fuzzed directly (tests/fuzz/fuzz_restore_csv.c).
 *
 * Everything is validated before anything is returned: a bad file is an
 * error naming the file and the line (CSV) or the JSON position, never a
 * partial input. CSV is RFC 4180 (quoted fields with "" escapes, quoted
 * newlines, CRLF or LF, an optional UTF-8 BOM); the header row names the
 * columns and only "Track URI" is required ("Added At" is read when
 * present), so files of other tools with the same column names work too.
 *
 * The parsed input is a restore_input: Liked Songs (newest first, as
 * Spotify lists them) and playlists with their item URIs in order (NULL
 * for an entry that no longer exists on Spotify; spotify:local: URIs for
 * local files, which the Web API cannot add: restore reports them).
 * restore_input_to_json writes it back in the export's own shape (the
 * subset restore reads), so a validated upload is stored as that text and
 * parsed again by the job that runs it.
 *
 * Thread use: none shared; every function works on its arguments only.
 */
#ifndef KT_SERVICES_RESTORE_PARSE_H
#define KT_SERVICES_RESTORE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Bounds on uploads (beyond these an upload is refused, not cut). */
#define RESTORE_MAX_FILE_BYTES ((size_t)64 << 20) /* one file or one zip member */
#define RESTORE_MAX_TOTAL_BYTES ((size_t)256 << 20) /* every file (inflated) of one upload */
#define RESTORE_MAX_ZIP_ENTRIES 5000
#define RESTORE_MAX_PLAYLISTS 5000
#define RESTORE_MAX_ITEMS 11000      /* Spotify's playlist size limit */
#define RESTORE_MAX_LIKED 200000
#define RESTORE_MAX_CSV_FIELDS 64
#define RESTORE_MAX_FIELD_BYTES 65536
#define RESTORE_NAME_MAX 300         /* playlist name/description bytes kept */

/* The keeptrack export format version this build writes and reads. */
#define RESTORE_FORMAT_VERSION 1

typedef struct restore_item {
    char *uri;        /* NULL: an entry that no longer exists on Spotify */
    int64_t added_at; /* unix ms, -1 unknown */
} restore_item;

typedef struct restore_playlist {
    char *id;          /* the playlist's Spotify id in a keeptrack export; NULL for CSV */
    char *name;        /* never NULL */
    char *description; /* may be NULL */
    char *file;        /* the file it came from (for messages) */
    int items_known;   /* 0: the export had no items (a followed playlist of someone else) */
    char *cover_sha256; /* a stored custom cover (hex SHA-256) to upload after filling, or NULL */
    restore_item *items;
    size_t n, cap;
} restore_playlist;

typedef struct restore_input {
    restore_playlist *playlists;
    size_t n_playlists, cap_playlists;
    int has_liked;      /* Liked Songs were in the upload */
    restore_item *liked; /* newest first */
    size_t n_liked, cap_liked;
    /* Bytes read into this input so far (plain files and inflated zip
     * members): restore_parse_file keeps it under RESTORE_MAX_TOTAL_BYTES
     * across every file of one upload, not per file. */
    size_t parsed_bytes;
} restore_input;

/* A new empty input (calloc'd); NULL when memory runs out. */
restore_input *restore_input_new(void);
/* Frees the input and everything in it. NULL is a no-op. */
void restore_input_free(restore_input *in);

/* 1 when uri is one restore can write: spotify:track:ID or
 * spotify:episode:ID (ID 1..64 characters of [A-Za-z0-9]). */
int restore_uri_addable(const char *uri);
/* 1 for a local file URI (spotify:local:...). */
int restore_uri_local(const char *uri);

/* Parses one CSV file (name: its file name, used for the playlist name
 * and in messages) into `in`: liked_songs.csv (any case; also "Liked
 * Songs.csv") fills Liked Songs, any other name adds a playlist named
 * after the file (without ".csv"). KT_ERR_INVALID with "NAME line N: ..."
 * for malformed CSV, a missing Track URI column, a bad URI or a limit
 * exceeded; `in` is unchanged then. */
kt_status restore_parse_csv(const char *name, const char *data, size_t len, restore_input *in,
                            kt_err *err);

/* Parses a keeptrack JSON export (format "keeptrack-export", format_version
 * RESTORE_FORMAT_VERSION) into `in`: liked_songs and playlists.
 * KT_ERR_INVALID naming the file and what is wrong; `in` unchanged then. */
kt_status restore_parse_json(const char *name, const char *data, size_t len, restore_input *in,
                             kt_err *err);

/* Parses one uploaded file of any supported kind, decided by content: a
 * zip archive (its .csv and .json members; other members are ignored), a
 * JSON export, or a CSV file. KT_ERR_TOO_LARGE over the RESTORE_MAX_*
 * sizes; KT_ERR_INVALID naming the file (and the member and line) else. */
kt_status restore_parse_file(const char *name, const char *data, size_t len, restore_input *in,
                             kt_err *err);

/* The input in the export's shape ({"format":"keeptrack-export",
 * "format_version":1,"liked_songs":[...],"playlists":[...]}), malloc'd
 * text; NULL when memory runs out. restore_parse_json reads it back to an
 * equal input. */
char *restore_input_to_json(const restore_input *in);

#endif

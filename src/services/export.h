/* export.h - a user's data out of keeptrack: the JSON export (everything
 * held) and the CSV zip (Exportify-compatible columns), issue 9.
 *
 * JSON ("format": "keeptrack-export", "format_version": 1) holds the
 * profile, liked_songs, saved_albums, saved_shows, saved_episodes,
 * playlists (with their items and every stored version), followed_artists,
 * top (snapshots) and plays. It is produced by an export_stream: each read
 * makes the next piece from one keyset page of the store, on a pooled
 * connection taken and given back within the read, so an export of any
 * size is streamed with bounded memory and no connection is held while
 * the client is slow. The route streams it (http_reply_stream), the CLI
 * writes it to a file.
 *
 * The CSV zip holds liked_songs.csv, one CSV per playlist whose items
 * are stored (file names from the playlist names, made safe and unique:
 * export_csv_file_name) and playlist_versions.csv, every stored version of
 * every playlist with its custom cover's SHA-256 and URL (columns Playlist
 * ID, Playlist Name, Snapshot ID, Seen At, Tracks, Cover SHA-256, Cover
 * URL; empty cover fields for Spotify's mosaic). The JSON gives each
 * version "cover": {sha256, url} or null. Cover bytes are in neither (they
 * are kept in the database and its backups). The zip's central directory comes last and libzip
 * writes only to seekable files, so the zip is built in a temporary file
 * (each CSV streamed from the store into its own temporary file first) and
 * handed out as an open, already unlinked descriptor.
 *
 * Thread use: an export_stream is used by one thread at a time (it may
 * move between threads between reads); the rest is thread-safe.
 */
#ifndef KT_SERVICES_EXPORT_H
#define KT_SERVICES_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/strset.h"
#include "services/app.h"

/* The CSV zip's index of playlist versions and their covers. */
#define EXPORT_CSV_VERSIONS "playlist_versions.csv"

/* Exportify's column names, in its order (export_csv_header writes them). */
#define EXPORT_CSV_NCOLS 19
extern const char *const export_csv_columns[EXPORT_CSV_NCOLS];

/* ---- JSON ---- */

typedef struct export_stream export_stream;

/* Starts a JSON export of user_id (nothing is read yet). KT_ERR_NOMEM
 * only. *out owned by the caller (export_stream_free). */
kt_status export_stream_open(kt_app *app, int64_t user_id, export_stream **out, kt_err *err);

/* Copies up to max bytes of the export into dst: the count, 0 at the end,
 * -1 on failure (export_stream_error says why; the output is then
 * incomplete and must be discarded). */
long export_stream_read(export_stream *es, char *dst, size_t max);

/* Why the last read failed (valid until the stream is freed). */
const kt_err *export_stream_error(const export_stream *es);

/* NULL is a no-op. */
void export_stream_free(export_stream *es);

/* ---- CSV ---- */

/* Appends one RFC 4180 field: quoted (with "" for each ") when it holds a
 * comma, quote, CR or LF, or starts or ends with a space; NULL writes an
 * empty field. No separator is written. */
kt_status export_csv_field(buf *b, const char *s);

/* Appends the header row (CRLF-terminated). */
kt_status export_csv_header(buf *b);

/* One row of a CSV file: strings may be NULL (empty cells); numbers < 0
 * are empty cells. */
typedef struct export_csv_track {
    const char *uri, *name, *artist_uris, *artist_names, *album_uri, *album_name;
    const char *album_artist_uris, *album_artist_names, *release_date, *image_url;
    int64_t disc_number, track_number, duration_ms;
    int explicit_; /* -1 unknown */
    const char *isrc;
    const char *added_by; /* a Spotify user id; written as spotify:user:ID */
    int64_t added_at;     /* unix ms; < 0 empty */
} export_csv_track;

/* Appends the row (CRLF-terminated) in export_csv_columns order. */
kt_status export_csv_row(buf *b, const export_csv_track *t);

/* A file name for a playlist's CSV: the name with / \ : * ? " < > | and
 * control characters replaced by '_', leading dots and surrounding spaces
 * removed, cut to 100 bytes on a UTF-8 boundary, ".csv" appended; names
 * already in `used` (case-insensitively) get " (2)", " (3)"... ; empty
 * names become "playlist.csv"; liked_songs.csv and EXPORT_CSV_VERSIONS are
 * reserved. The result is
 * added to `used`. out must hold 128 bytes. */
kt_status export_csv_file_name(const char *playlist_name, strset *used, char out[128],
                               kt_err *err);

/* Builds the CSV zip of user_id in a temporary file under tmpdir (NULL:
 * $TMPDIR or /tmp) and returns it as a read-only descriptor at offset 0,
 * already unlinked (close it when done); *size receives its length. */
kt_status export_csv_zip(kt_app *app, int64_t user_id, const char *tmpdir, int *fd, int64_t *size,
                         kt_err *err);

#endif

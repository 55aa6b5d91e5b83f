/* history_parse.h - reading Spotify's data-export listening history, one
 * record at a time, without ever holding a whole file (issue 7). Pure: no
 * store, no network, no globals; fuzzed by tests/fuzz/fuzz_history.c.
 *
 * The formats (each file is one JSON array of flat objects):
 *
 *  - Extended streaming history, `Streaming_History_Audio_<years>_<n>.json`
 *    (and the older name `endsong_<n>.json`, same fields):
 *      ts                                 "2020-04-11T00:27:53Z", when the stream ENDED (UTC)
 *      ms_played                          integer
 *      spotify_track_uri                  "spotify:track:<id>" or null
 *      master_metadata_track_name         string or null
 *      master_metadata_album_artist_name  string or null
 *      master_metadata_album_album_name   string or null
 *      spotify_episode_uri, episode_name, episode_show_name    podcasts
 *      audiobook_uri, audiobook_title, audiobook_chapter_uri,
 *      audiobook_chapter_title            audiobooks (newer exports)
 *      reason_start, reason_end           "trackdone", "fwdbtn", ... or null
 *      shuffle, skipped, offline, incognito_mode   booleans or null
 *      platform, conn_country, ip_addr, user_agent_decrypted,
 *      username, offline_timestamp        read past (never stored)
 *  - Account data, `StreamingHistory<n>.json` / `StreamingHistory_music_<n>.json`:
 *      endTime "2023-01-31 22:07" (UTC, minute precision), artistName,
 *      trackName, msPlayed - no uri.
 *    and `StreamingHistory_podcast_<n>.json`: endTime, podcastName,
 *      episodeName, msPlayed.
 *
 * Unknown fields are ignored; a record is recognised by `ts` (extended) or
 * `endTime` (account data), so the format is decided per record and a file
 * may not be named as Spotify names it.
 *
 * Streaming: history_split walks the top-level array byte by byte, tracking
 * only strings, escapes and bracket depth, and hands out each element's
 * bytes (at most HISTORY_MAX_RECORD); each element is then parsed and fully
 * validated by yajl's callback parser (libyajl, Debian), so a syntax error
 * anywhere is still reported. Why a splitter in front of yajl rather than
 * yajl over the whole stream: it bounds each record's size before any
 * parsing (yajl buffers a token of any length), it gives the exact byte
 * offset where each record ends (the resume point is a hash of the file up
 * to there), and a damaged record is named by its number. Why yajl and not
 * jansson (used everywhere else): see history_parse.c, it is 5-10x faster
 * on these records and the import must reach 50,000 plays/s.
 *
 * Records without a uri (account data, or extended records whose uri is
 * null) get a synthetic key, history_synthetic_uri(): never a Spotify call.
 */
#ifndef KT_SERVICES_HISTORY_PARSE_H
#define KT_SERVICES_HISTORY_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Largest element of the array, in bytes. Real records are under 2 KiB. */
#define HISTORY_MAX_RECORD (64 * 1024)

/* Longest name kept from a record (track, artist, album); longer ones are
 * rejected (a real name is far shorter). */
#define HISTORY_MAX_NAME 1024

/* Synthetic uris: "keeptrack:unresolved:<kind>:" + 32 hex digits. */
#define HISTORY_SYNTH_PREFIX "keeptrack:unresolved:"
#define HISTORY_URI_MAX 96

/* ---- the splitter ---- */

typedef struct history_split history_split;

/* Reads up to max bytes into buf: returns the count, 0 at end of input, -1
 * on a read error (the splitter reports KT_ERR_IO). */
typedef long (*history_read_fn)(void *ctx, char *buf, size_t max);

/* Called with every byte the splitter has consumed, in order, exactly once;
 * before history_split_next returns element N, every byte up to and
 * including its last byte has been passed (so a hash of the tapped bytes at
 * that moment covers exactly the file up to the end of record N). */
typedef void (*history_tap_fn)(void *ctx, const char *bytes, size_t n);

/* A splitter reading through `read`. tap may be NULL. NULL when memory runs
 * out. Not thread-safe; one per input. */
history_split *history_split_new(history_read_fn read, void *read_ctx, history_tap_fn tap,
                                 void *tap_ctx);
void history_split_free(history_split *h);

/* The next element of the top-level array: *elem points at its bytes
 * (*len of them, NUL-terminated; owned by h, valid until the next call).
 * Returns KT_OK with *elem set, KT_OK with *elem NULL at the end of the
 * array (after which only whitespace may follow), or an error whose message
 * names the record number (1-based) and the byte offset:
 *   KT_ERR_INVALID "not_array"  - the input is not a JSON array
 *   KT_ERR_INVALID "truncated"  - input ended inside the array
 *   KT_ERR_INVALID "malformed"  - a structural error (stray bracket, missing comma, trailing data)
 *   KT_ERR_TOO_LARGE "record_too_large" - an element over HISTORY_MAX_RECORD
 *   KT_ERR_IO     "read_failed" - the read callback failed
 * After an error every later call returns the same error. */
kt_status history_split_next(history_split *h, const char **elem, size_t *len, kt_err *err);

/* Elements returned so far (= the number of the last one). */
int64_t history_split_count(const history_split *h);
/* Bytes consumed so far (= tapped). */
int64_t history_split_offset(const history_split *h);

/* ---- one record ---- */

typedef enum history_kind {
    HISTORY_TRACK,     /* music (uri spotify:track:... or synthetic) */
    HISTORY_EPISODE,   /* podcast episode */
    HISTORY_AUDIOBOOK, /* audiobook chapter: not stored as a play (skipped) */
    HISTORY_NONE       /* nothing identifies what was played (skipped) */
} history_kind;

typedef enum history_format { HISTORY_FMT_EXTENDED, HISTORY_FMT_ACCOUNT } history_format;

/* One play as the export describes it. Strings point into `arena` or into
 * uri_buf (so a copied record must re-point uri when synthetic); NULL when
 * absent, null or "". */
typedef struct history_record {
    history_format format;
    history_kind kind;
    int64_t ts_ms;     /* when the stream ended, unix ms UTC */
    int64_t ms_played; /* >= 0 */
    const char *uri;   /* spotify:track:ID / spotify:episode:ID / synthetic; NULL for NONE/AUDIOBOOK */
    int synthetic;     /* 1 when uri is a synthetic key */
    const char *track_name;  /* track or episode name */
    const char *artist_name; /* artist, or the show for episodes */
    const char *album_name;
    const char *reason_start, *reason_end, *platform;
    int shuffle, skipped; /* 1, 0, or -1 unknown */
    char uri_buf[HISTORY_URI_MAX];
    char *arena; /* owned: the strings above; history_record_clear frees it */
} history_record;

/* Parses one element (bytes from history_split_next) into *out. Returns:
 *  - KT_OK: *out filled (caller calls history_record_clear);
 *  - KT_ERR_INVALID code "malformed": the bytes are not valid JSON (the file
 *    is damaged); message from jansson with the column;
 *  - KT_ERR_INVALID with another code: a well-formed element that is not a
 *    usable record (the caller rejects it and moves on). Codes (stable, used
 *    in reports): not_object, unknown_format, bad_ts, bad_ms_played,
 *    bad_uri, bad_field (a field of the wrong type), name_too_long.
 * The message says what is wrong (no record number: the caller adds it).
 * *out is written only on success. */
kt_status history_record_parse(const char *elem, size_t len, history_record *out, kt_err *err);

/* Frees what the record owns; safe on a zeroed or cleared record. */
void history_record_clear(history_record *r);

/* The synthetic key of a play with no uri: HISTORY_SYNTH_PREFIX +
 * "track:" or "episode:" + the first 16 bytes of BLAKE2b over
 * "<artist>\x1f<name>" as hex, so the same song always gets the same key
 * (exact names; NULL names count as ""). out must hold HISTORY_URI_MAX. */
void history_synthetic_uri(history_kind kind, const char *artist, const char *name,
                           char out[HISTORY_URI_MAX]);

#endif

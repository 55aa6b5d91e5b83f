/* export.c - the JSON export stream and the CSV zip (see export.h).
 *
 * The stream is a small state machine over the sections of the export;
 * each step reads one keyset page (store_export.h) on a pooled connection
 * and appends its JSON text to a buffer the reads drain. Objects are made
 * with jansson one row at a time, so escaping is jansson's.
 */
#include "services/export.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/jsonutil.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/restore_parse.h"
#include "services/rowjson.h"
#include "store/store_auth.h"
#include "store/store_export.h"
#include "store/store_library.h"

/* Rows per page: tracks are looked up in IN-lists of 50 artists' keys. */
#define TRACK_PAGE 50
#define ROW_PAGE 500
#define VERSION_PAGE 4
/* The stream's buffer bound: one page of versions of the largest playlists. */
#define STREAM_BUF_MAX ((size_t)256 << 20)

const char *const export_csv_columns[EXPORT_CSV_NCOLS] = {
    "Track URI",        "Track Name",           "Artist URI(s)",       "Artist Name(s)",
    "Album URI",        "Album Name",           "Album Artist URI(s)", "Album Artist Name(s)",
    "Album Release Date", "Album Image URL",    "Disc Number",         "Track Number",
    "Track Duration (ms)", "Track Preview URL", "Explicit",            "Popularity",
    "ISRC",             "Added By",             "Added At"};

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* A track/episode/local file of a STORE_EXT_* row (NULL uri: JSON null). */
static json_t *track_json(const store_rows *r, size_t i, const json_t *artists)
{
    const char *uri = store_rows_text(r, i, STORE_EXT_URI),
               *kind = store_rows_text(r, i, STORE_EXT_KIND);
    if (!uri)
        return json_null();
    json_t *t = json_pack(
        "{s:s,s:o,s:s,s:o,s:o,s:b,s:o,s:o,s:o}", "uri", uri, "id", rowjson_text(r, i, STORE_EXT_ID),
        "type", kind ? kind : "track", "name", rowjson_text(r, i, STORE_EXT_NAME), "duration_ms",
        rowjson_int(r, i, STORE_EXT_DURATION_MS), "explicit",
        (int)store_rows_int(r, i, STORE_EXT_EXPLICIT), "disc_number",
        rowjson_int(r, i, STORE_EXT_DISC), "track_number",
        rowjson_int(r, i, STORE_EXT_TRACK_NUMBER), "isrc", rowjson_text(r, i, STORE_EXT_ISRC));
    if (!t)
        return NULL;
    int local = kind && strcmp(kind, "local") == 0;
    if (kind && strcmp(kind, "episode") == 0) {
        json_object_set_new(t, "show",
                            json_pack("{s:o,s:o}", "id", rowjson_text(r, i, STORE_EXT_SHOW_ID),
                                      "name", rowjson_text(r, i, STORE_EXT_SHOW_NAME)));
        json_object_set_new(t, "release_date", rowjson_text(r, i, STORE_EXT_EPISODE_RELEASE_DATE));
        return t;
    }
    json_object_set_new(t, "album",
                        json_pack("{s:o,s:o,s:o,s:o}", "id", rowjson_text(r, i, STORE_EXT_ALBUM_ID),
                                  "name",
                                  local ? rowjson_text(r, i, STORE_EXT_LOCAL_ALBUM)
                                        : rowjson_text(r, i, STORE_EXT_ALBUM_NAME),
                                  "release_date", rowjson_text(r, i, STORE_EXT_ALBUM_RELEASE_DATE),
                                  "image_url", rowjson_text(r, i, STORE_EXT_ALBUM_IMAGE)));
    if (local) {
        const char *a = store_rows_text(r, i, STORE_EXT_LOCAL_ARTIST);
        json_object_set_new(t, "artists",
                            a ? json_pack("[{s:n,s:s}]", "id", "name", a) : json_array());
    } else {
        const json_t *arr = json_object_get(artists, uri);
        json_object_set_new(t, "artists", arr ? json_deep_copy(arr) : json_array());
    }
    return t;
}

/* ---- the JSON stream ---- */

typedef enum phase {
    P_HEAD,
    P_LIKED,
    P_ALBUMS,
    P_SHOWS,
    P_EPISODES,
    P_FOLLOWED,
    P_PLAYLISTS,
    P_TOP,
    P_PLAYS,
    P_TAIL,
    P_DONE
} phase;

typedef enum pl_sub { PL_NEXT, PL_ITEMS, PL_VERSIONS } pl_sub;

struct export_stream {
    kt_app *app;
    int64_t user_id;
    phase ph;
    int opened;   /* the current section's array has been opened */
    int first;    /* no element written yet in the current array */
    int64_t after;
    pl_sub sub;
    int64_t pl_after, pl_row;
    store_top_key top;
    int top_started;
    buf out;
    size_t pos;
    int failed;
    kt_err err;
};

kt_status export_stream_open(kt_app *app, int64_t user_id, export_stream **out, kt_err *err)
{
    export_stream *es = calloc(1, sizeof *es);
    if (!es)
        return nomem(err);
    es->app = app;
    es->user_id = user_id;
    buf_init(&es->out, STREAM_BUF_MAX);
    *out = es;
    return KT_OK;
}

void export_stream_free(export_stream *es)
{
    if (!es)
        return;
    buf_free(&es->out);
    free(es);
}

const kt_err *export_stream_error(const export_stream *es)
{
    return &es->err;
}

/* Appends an element of the open array (a comma before all but the first). */
static kt_status put_elem(export_stream *es, json_t *v, kt_err *err)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    kt_status st = text ? KT_OK : nomem(err);
    json_decref(v);
    if (st == KT_OK && !es->first)
        st = buf_puts(&es->out, ",");
    if (st == KT_OK)
        st = buf_puts(&es->out, text);
    es->first = 0;
    free(text);
    if (st != KT_OK && err->status == KT_OK)
        err_set(err, st, NULL, "the export does not fit in memory");
    return st;
}

/* Appends an object's members without its closing brace ({"a":1 ), so
 * more members can follow. */
static kt_status put_open_object(export_stream *es, json_t *obj, kt_err *err)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return nomem(err);
    size_t n = strlen(text);
    kt_status st = buf_append(&es->out, text, n - 1); /* without '}' */
    free(text);
    return st == KT_OK ? KT_OK : nomem(err);
}

static kt_status head(export_stream *es, store *s, kt_err *err)
{
    store_user u;
    char iso[32];
    memset(&u, 0, sizeof u);
    kt_status st = store_user_get(s, es->user_id, &u, err);
    if (st != KT_OK)
        return st;
    time_format_iso8601(time_now_ms(), iso);
    json_t *o = json_pack("{s:s,s:i,s:s,s:{s:I,s:s?,s:s?,s:s?}}", "format", "keeptrack-export",
                          "format_version", RESTORE_FORMAT_VERSION, "exported_at", iso, "user",
                          "id", (json_int_t)u.id, "account_id", u.account_id, "spotify_id",
                          u.spotify_id, "display_name", u.display_name);
    store_user_clear(&u);
    return put_open_object(es, o, err);
}

/* Rows of a page as JSON elements. */
static json_t *row_json(store *s, store_export_section sec, const store_rows *r, size_t i,
                        const json_t *artists)
{
    (void)s;
    switch (sec) {
    case STORE_EXPORT_LIKED:
    case STORE_EXPORT_EPISODES:
        return json_pack("{s:o,s:o}", "added_at", rowjson_time(r, i, STORE_EXT_ADDED_AT),
                         sec == STORE_EXPORT_LIKED ? "track" : "episode",
                         track_json(r, i, artists));
    case STORE_EXPORT_ITEMS:
        return json_pack("{s:o,s:o,s:o}", "added_at", rowjson_time(r, i, STORE_EXT_ADDED_AT),
                         "added_by", rowjson_text(r, i, STORE_EXT_ADDED_BY), "track",
                         track_json(r, i, artists));
    case STORE_EXPORT_ALBUMS:
        return json_pack("{s:o,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "added_at", rowjson_time(r, i, 1),
                         "album", "id", rowjson_text(r, i, 2), "name", rowjson_text(r, i, 3),
                         "album_type", rowjson_text(r, i, 4), "release_date", rowjson_text(r, i, 5),
                         "total_tracks", rowjson_int(r, i, 6), "image_url", rowjson_text(r, i, 7),
                         "artists",
                         json_deep_copy(json_object_get(artists, store_rows_text(r, i, 2))));
    case STORE_EXPORT_SHOWS:
        return json_pack("{s:o,s:{s:o,s:o,s:o,s:o,s:o}}", "added_at", rowjson_time(r, i, 1), "show",
                         "id", rowjson_text(r, i, 2), "name", rowjson_text(r, i, 3), "publisher",
                         rowjson_text(r, i, 4), "total_episodes", rowjson_int(r, i, 5), "image_url",
                         rowjson_text(r, i, 6));
    case STORE_EXPORT_FOLLOWED: {
        const char *g = store_rows_text(r, i, 3);
        json_t *genres = g ? json_loads(g, 0, NULL) : NULL;
        return json_pack("{s:o,s:o,s:o,s:o}", "id", rowjson_text(r, i, 1), "name",
                         rowjson_text(r, i, 2), "genres", genres ? genres : json_null(),
                         "image_url", rowjson_text(r, i, 4));
    }
    case STORE_EXPORT_PLAYS:
        return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "played_at", rowjson_time(r, i, 0),
                         "track_uri", rowjson_text(r, i, 1), "context_uri", rowjson_text(r, i, 2),
                         "source", rowjson_text(r, i, 3), "ms_played", rowjson_int(r, i, 4),
                         "track_name", rowjson_text(r, i, 5), "artist_name", rowjson_text(r, i, 6),
                         "album_name", rowjson_text(r, i, 7));
    case STORE_EXPORT_VERSIONS: {
        const char *items = store_rows_text(r, i, 4);
        json_t *parsed = items ? json_loads(items, 0, NULL) : NULL;
        /* The custom cover by hash and URL, not its bytes (those are in the
         * database backups and go back with a restore). */
        json_t *cover = store_rows_is_null(r, i, 5)
                            ? json_null()
                            : json_pack("{s:o,s:o}", "sha256", rowjson_text(r, i, 5), "url",
                                        rowjson_text(r, i, 6));
        return json_pack("{s:o,s:o,s:o,s:o,s:o}", "snapshot_id", rowjson_text(r, i, 1), "seen_at",
                         rowjson_time(r, i, 2), "items_total", rowjson_int(r, i, 3), "items",
                         parsed ? parsed : json_null(), "cover", cover);
    }
    default:
        return NULL;
    }
}

/* One page of a keyset section into the open array. *done = 1 when the
 * section had no more rows. */
static kt_status section_page(export_stream *es, store *s, store_export_section sec,
                              int64_t scope, size_t limit, int *done, kt_err *err)
{
    store_rows *r = NULL;
    json_t *artists = NULL;
    kt_status st = store_export_page(s, sec, scope, es->after, limit, &r, err);
    if (st != KT_OK)
        return st;
    size_t n = store_rows_count(r);
    if (sec == STORE_EXPORT_LIKED || sec == STORE_EXPORT_EPISODES || sec == STORE_EXPORT_ITEMS)
        st = rowjson_artists_map(s, r, STORE_EXT_URI, 0, &artists, err);
    else if (sec == STORE_EXPORT_ALBUMS)
        st = rowjson_artists_map(s, r, 2, 1, &artists, err);
    for (size_t i = 0; st == KT_OK && i < n; i++)
        st = put_elem(es, row_json(s, sec, r, i, artists), err);
    if (st == KT_OK && n > 0)
        es->after = store_rows_int(r, n - 1, 0);
    json_decref(artists);
    store_rows_free(r);
    *done = n == 0;
    return st;
}

static kt_status top_page(export_stream *es, store *s, int *done, kt_err *err)
{
    store_rows *r = NULL;
    kt_status st = store_export_top(s, es->user_id, es->top_started ? &es->top : NULL, ROW_PAGE,
                                    &r, err);
    if (st != KT_OK)
        return st;
    size_t n = store_rows_count(r);
    for (size_t i = 0; st == KT_OK && i < n; i++)
        st = put_elem(es,
                      json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "day", rowjson_text(r, i, 0), "kind",
                                rowjson_text(r, i, 1), "time_range", rowjson_text(r, i, 2), "rank",
                                rowjson_int(r, i, 3), "item", rowjson_text(r, i, 4), "name",
                                rowjson_text(r, i, 5)),
                      err);
    if (st == KT_OK && n > 0) {
        snprintf(es->top.day, sizeof es->top.day, "%s", store_rows_text(r, n - 1, 0));
        snprintf(es->top.kind, sizeof es->top.kind, "%s", store_rows_text(r, n - 1, 1));
        snprintf(es->top.time_range, sizeof es->top.time_range, "%s",
                 store_rows_text(r, n - 1, 2));
        es->top.rank = store_rows_int(r, n - 1, 3);
        es->top_started = 1;
    }
    store_rows_free(r);
    *done = n == 0;
    return st;
}

/* The playlists section: one playlist header, one page of its items or
 * one page of its versions per step. */
static kt_status playlists_step(export_stream *es, store *s, int *done, kt_err *err)
{
    int end = 0;
    kt_status st = KT_OK;
    *done = 0;
    if (es->sub == PL_NEXT) {
        store_rows *r = NULL;
        if ((st = store_export_page(s, STORE_EXPORT_PLAYLISTS, es->user_id, es->pl_after, 1, &r,
                                    err)) != KT_OK)
            return st;
        if (store_rows_count(r) == 0) {
            store_rows_free(r);
            *done = 1;
            return KT_OK;
        }
        int synced = !store_rows_is_null(r, 0, 11);
        es->pl_after = es->pl_row = store_rows_int(r, 0, 0);
        json_t *o = json_pack(
            "{s:o,s:o,s:o,s:{s:o,s:o},s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "id", rowjson_text(r, 0, 1),
            "name", rowjson_text(r, 0, 2), "description", rowjson_text(r, 0, 3), "owner", "id",
            rowjson_text(r, 0, 4), "display_name", rowjson_text(r, 0, 5), "collaborative",
            (int)store_rows_int(r, 0, 6), "public",
            store_rows_is_null(r, 0, 7) ? json_null() : json_boolean(store_rows_int(r, 0, 7)),
            "snapshot_id", rowjson_text(r, 0, 8), "items_total", rowjson_int(r, 0, 9), "image_url",
            rowjson_text(r, 0, 10), "removed_at", rowjson_time(r, 0, 12), "synced_snapshot_id",
            rowjson_text(r, 0, 11));
        store_rows_free(r);
        if (!es->first && (st = buf_puts(&es->out, ",")) != KT_OK)
            return nomem(err);
        es->first = 0;
        if ((st = put_open_object(es, o, err)) != KT_OK)
            return st;
        if ((st = buf_puts(&es->out, synced ? ",\"items\":[" : ",\"items\":null,\"versions\":[")) !=
            KT_OK)
            return nomem(err);
        es->sub = synced ? PL_ITEMS : PL_VERSIONS;
        es->after = INT64_MIN;
        /* put_elem's comma logic is per array: track the playlist list's
         * own "first" separately by restoring it after the nested arrays. */
        es->first = 1;
        return KT_OK;
    }
    if (es->sub == PL_ITEMS) {
        if ((st = section_page(es, s, STORE_EXPORT_ITEMS, es->pl_row, TRACK_PAGE, &end, err)) ==
                KT_OK &&
            end) {
            if (buf_puts(&es->out, "],\"versions\":[") != KT_OK)
                return nomem(err);
            es->sub = PL_VERSIONS;
            es->after = INT64_MIN;
            es->first = 1;
        }
        return st;
    }
    if ((st = section_page(es, s, STORE_EXPORT_VERSIONS, es->pl_row, VERSION_PAGE, &end, err)) ==
            KT_OK &&
        end) {
        if (buf_puts(&es->out, "]}") != KT_OK)
            return nomem(err);
        es->sub = PL_NEXT;
        es->first = 0; /* at least this playlist is in the list */
    }
    return st;
}

typedef struct section_def {
    phase ph;
    const char *key;
    store_export_section sec;
    size_t limit;
} section_def;

static const section_def sections[] = {
    {P_LIKED, "liked_songs", STORE_EXPORT_LIKED, TRACK_PAGE},
    {P_ALBUMS, "saved_albums", STORE_EXPORT_ALBUMS, TRACK_PAGE},
    {P_SHOWS, "saved_shows", STORE_EXPORT_SHOWS, ROW_PAGE},
    {P_EPISODES, "saved_episodes", STORE_EXPORT_EPISODES, TRACK_PAGE},
    {P_FOLLOWED, "followed_artists", STORE_EXPORT_FOLLOWED, ROW_PAGE},
    {P_PLAYLISTS, "playlists", STORE_EXPORT_PLAYLISTS, 1},
    {P_TOP, "top", STORE_EXPORT_LIKED /* unused */, ROW_PAGE},
    {P_PLAYS, "plays", STORE_EXPORT_PLAYS, ROW_PAGE},
};

/* One step of the state machine on a connection. */
static kt_status step(export_stream *es, store *s, kt_err *err)
{
    int done = 0;
    kt_status st = KT_OK;
    if (es->ph == P_HEAD) {
        if ((st = head(es, s, err)) == KT_OK)
            es->ph = P_LIKED;
        return st;
    }
    if (es->ph == P_TAIL) {
        es->ph = P_DONE;
        return buf_puts(&es->out, "}\n") == KT_OK ? KT_OK : nomem(err);
    }
    const section_def *d = &sections[es->ph - P_LIKED];
    if (!es->opened) {
        if (buf_printf(&es->out, ",\"%s\":[", d->key) != KT_OK)
            return nomem(err);
        es->opened = 1;
        es->first = 1;
        es->after = INT64_MIN;
        es->pl_after = INT64_MIN;
        es->sub = PL_NEXT;
        es->top_started = 0;
        return KT_OK;
    }
    if (es->ph == P_PLAYLISTS)
        st = playlists_step(es, s, &done, err);
    else if (es->ph == P_TOP)
        st = top_page(es, s, &done, err);
    else
        st = section_page(es, s, d->sec, es->user_id, d->limit, &done, err);
    if (st == KT_OK && done) {
        if (buf_puts(&es->out, "]") != KT_OK)
            return nomem(err);
        es->opened = 0;
        es->ph++;
    }
    return st;
}

long export_stream_read(export_stream *es, char *dst, size_t max)
{
    if (es->failed)
        return -1;
    while (es->pos == es->out.len && es->ph != P_DONE) {
        store *s = NULL;
        buf_reset(&es->out);
        es->pos = 0;
        if (app_db_get(es->app, &s, &es->err) != KT_OK) {
            es->failed = 1;
            return -1;
        }
        kt_status st = step(es, s, &es->err);
        app_db_put(es->app, s);
        if (st != KT_OK) {
            err_prefix(&es->err, "export");
            es->failed = 1;
            return -1;
        }
    }
    size_t n = es->out.len - es->pos;
    if (n > max)
        n = max;
    memcpy(dst, es->out.data + es->pos, n);
    es->pos += n;
    return (long)n;
}

/* ---- CSV ---- */

kt_status export_csv_field(buf *b, const char *s)
{
    if (!s || !*s)
        return KT_OK;
    size_t n = strlen(s);
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && s[n - 1] != ' ')
        return buf_append(b, s, n);
    kt_status st = buf_puts(b, "\"");
    for (const char *p = s; st == KT_OK && *p; p++)
        st = *p == '"' ? buf_puts(b, "\"\"") : buf_append(b, p, 1);
    return st == KT_OK ? buf_puts(b, "\"") : st;
}

kt_status export_csv_header(buf *b)
{
    kt_status st = KT_OK;
    for (size_t i = 0; st == KT_OK && i < EXPORT_CSV_NCOLS; i++)
        if ((i == 0 || (st = buf_puts(b, ",")) == KT_OK))
            st = export_csv_field(b, export_csv_columns[i]);
    return st == KT_OK ? buf_puts(b, "\r\n") : st;
}

static kt_status csv_int(buf *b, int64_t v)
{
    return v < 0 ? KT_OK : buf_printf(b, "%lld", (long long)v);
}

kt_status export_csv_row(buf *b, const export_csv_track *t)
{
    char iso[32], user[160];
    const char *text[] = {t->uri, t->name, t->artist_uris, t->artist_names, t->album_uri,
                          t->album_name, t->album_artist_uris, t->album_artist_names,
                          t->release_date, t->image_url};
    kt_status st = KT_OK;
    for (size_t i = 0; st == KT_OK && i < sizeof text / sizeof text[0]; i++)
        if (i == 0 || (st = buf_puts(b, ",")) == KT_OK)
            st = export_csv_field(b, text[i]);
    int64_t nums[] = {t->disc_number, t->track_number, t->duration_ms};
    for (size_t i = 0; st == KT_OK && i < 3; i++)
        if ((st = buf_puts(b, ",")) == KT_OK)
            st = csv_int(b, nums[i]);
    /* Track Preview URL and Popularity: gone from the 2026 Web API. */
    if (st == KT_OK)
        st = buf_printf(b, ",,%s,,", t->explicit_ < 0 ? "" : t->explicit_ ? "true" : "false");
    if (st == KT_OK)
        st = export_csv_field(b, t->isrc);
    user[0] = '\0';
    if (t->added_by && t->added_by[0])
        snprintf(user, sizeof user, "spotify:user:%.140s", t->added_by);
    if (st == KT_OK && (st = buf_puts(b, ",")) == KT_OK)
        st = export_csv_field(b, user);
    iso[0] = '\0';
    if (t->added_at >= 0)
        time_format_iso8601(t->added_at, iso);
    if (st == KT_OK && (st = buf_puts(b, ",")) == KT_OK)
        st = export_csv_field(b, iso);
    return st == KT_OK ? buf_puts(b, "\r\n") : st;
}

kt_status export_csv_file_name(const char *playlist_name, strset *used, char out[128],
                               kt_err *err)
{
    char base[104];
    const char *start = playlist_name ? playlist_name : "";
    while (*start == ' ' || *start == '.')
        start++;
    size_t len = strlen(start), n = len > 100 ? 100 : len;
    while (n < len && n > 0 && ((unsigned char)start[n] & 0xC0) == 0x80)
        n--; /* cut on a UTF-8 character boundary */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)start[i];
        base[i] = (c < 0x20 || c == 0x7f || strchr("/\\:*?\"<>|", c)) ? '_' : (char)c;
    }
    while (n > 0 && base[n - 1] == ' ')
        n--;
    base[n] = '\0';
    if (n == 0)
        snprintf(base, sizeof base, "playlist");
    for (int k = 1; k < 100000; k++) {
        char lower[128];
        if (k == 1)
            snprintf(out, 128, "%s.csv", base);
        else
            snprintf(out, 128, "%s (%d).csv", base, k);
        size_t i = 0;
        for (; out[i] && i < sizeof lower - 1; i++)
            lower[i] = (char)((out[i] >= 'A' && out[i] <= 'Z') ? out[i] + 32 : out[i]);
        lower[i] = '\0';
        if (strcmp(lower, "liked_songs.csv") == 0 || strcmp(lower, EXPORT_CSV_VERSIONS) == 0 ||
            strset_has(used, lower))
            continue;
        return strset_add(used, lower) < 0 ? nomem(err) : KT_OK;
    }
    return err_set(err, KT_ERR_INTERNAL, NULL, "no free file name for a playlist");
}

/* "spotify:artist:ID,..." and "name,..." of an artists array. */
static kt_status join_artists(const json_t *arr, buf *uris, buf *names)
{
    size_t i;
    const json_t *a;
    kt_status st = KT_OK;
    json_array_foreach(arr, i, a)
    {
        const char *id = json_str(a, "id"), *name = json_str(a, "name");
        if (i > 0 && ((st = buf_puts(uris, ",")) != KT_OK || (st = buf_puts(names, ",")) != KT_OK))
            return st;
        if ((id && (st = buf_printf(uris, "spotify:artist:%s", id)) != KT_OK) ||
            (name && (st = buf_puts(names, name)) != KT_OK))
            return st;
    }
    return st;
}

/* One page of tracks (STORE_EXT_* rows) as CSV rows. */
static kt_status csv_rows(store *s, const store_rows *r, buf *b, kt_err *err)
{
    json_t *artists = NULL, *album_artists = NULL;
    buf au, an, bu, bn;
    kt_status st = rowjson_artists_map(s, r, STORE_EXT_URI, 0, &artists, err);
    if (st == KT_OK)
        st = rowjson_artists_map(s, r, STORE_EXT_ALBUM_ID, 1, &album_artists, err);
    buf_init(&au, 1 << 20);
    buf_init(&an, 1 << 20);
    buf_init(&bu, 1 << 20);
    buf_init(&bn, 1 << 20);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        const char *uri = store_rows_text(r, i, STORE_EXT_URI),
                   *kind = store_rows_text(r, i, STORE_EXT_KIND),
                   *album = store_rows_text(r, i, STORE_EXT_ALBUM_ID);
        int local = kind && strcmp(kind, "local") == 0;
        char album_uri[128] = "";
        buf_reset(&au), buf_reset(&an), buf_reset(&bu), buf_reset(&bn);
        if ((st = join_artists(json_object_get(artists, uri ? uri : ""), &au, &an)) != KT_OK ||
            (st = join_artists(json_object_get(album_artists, album ? album : ""), &bu, &bn)) !=
                KT_OK)
            break;
        if (album)
            snprintf(album_uri, sizeof album_uri, "spotify:album:%.100s", album);
        export_csv_track t = {
            .uri = uri,
            .name = store_rows_text(r, i, STORE_EXT_NAME),
            .artist_uris = au.data,
            .artist_names = local ? store_rows_text(r, i, STORE_EXT_LOCAL_ARTIST) : an.data,
            .album_uri = album_uri,
            .album_name = store_rows_text(r, i, local ? STORE_EXT_LOCAL_ALBUM
                                                      : STORE_EXT_ALBUM_NAME),
            .album_artist_uris = bu.data,
            .album_artist_names = bn.data,
            .release_date = store_rows_text(r, i, STORE_EXT_ALBUM_RELEASE_DATE),
            .image_url = store_rows_text(r, i, STORE_EXT_ALBUM_IMAGE),
            .disc_number = store_rows_is_null(r, i, STORE_EXT_DISC)
                               ? -1 : store_rows_int(r, i, STORE_EXT_DISC),
            .track_number = store_rows_is_null(r, i, STORE_EXT_TRACK_NUMBER)
                                ? -1 : store_rows_int(r, i, STORE_EXT_TRACK_NUMBER),
            .duration_ms = store_rows_is_null(r, i, STORE_EXT_DURATION_MS)
                               ? -1 : store_rows_int(r, i, STORE_EXT_DURATION_MS),
            .explicit_ = uri ? (int)store_rows_int(r, i, STORE_EXT_EXPLICIT) : -1,
            .isrc = store_rows_text(r, i, STORE_EXT_ISRC),
            .added_by = store_rows_text(r, i, STORE_EXT_ADDED_BY),
            .added_at = store_rows_is_null(r, i, STORE_EXT_ADDED_AT)
                            ? -1 : store_rows_int(r, i, STORE_EXT_ADDED_AT),
        };
        if ((st = export_csv_row(b, &t)) != KT_OK)
            err_set(err, st, NULL, "a CSV row is too large");
    }
    buf_free(&au), buf_free(&an), buf_free(&bu), buf_free(&bn);
    json_decref(artists);
    json_decref(album_artists);
    return st;
}

/* The playlist versions' index (EXPORT_CSV_VERSIONS): one row per stored
 * version with its custom cover's hash and URL (the bytes are not in the
 * export). Rows of STORE_EXPORT_USER_VERSIONS. */
static kt_status versions_header(buf *b)
{
    return buf_puts(b, "Playlist ID,Playlist Name,Snapshot ID,Seen At,Tracks,Cover SHA-256,"
                       "Cover URL\r\n");
}

static kt_status versions_rows(store *s, const store_rows *r, buf *b, kt_err *err)
{
    char iso[32];
    kt_status st = KT_OK;
    (void)s;
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        time_format_iso8601(store_rows_int(r, i, 4), iso);
        const char *text[] = {store_rows_text(r, i, 1), store_rows_text(r, i, 2),
                              store_rows_text(r, i, 3), iso, store_rows_text(r, i, 5),
                              store_rows_text(r, i, 6), store_rows_text(r, i, 7)};
        for (size_t k = 0; st == KT_OK && k < sizeof text / sizeof text[0]; k++) {
            if (k > 0)
                st = buf_puts(b, ",");
            if (st == KT_OK)
                st = export_csv_field(b, text[k] ? text[k] : "");
        }
        if (st == KT_OK)
            st = buf_puts(b, "\r\n");
    }
    if (st != KT_OK)
        err_set(err, st, NULL, "a CSV row is too large");
    return st;
}

/* What one CSV file holds: its header, its rows from a page of its
 * section, and the page size. */
typedef struct csv_kind {
    kt_status (*header)(buf *b);
    kt_status (*rows)(store *s, const store_rows *r, buf *b, kt_err *err);
    size_t page;
} csv_kind;

static const csv_kind CSV_TRACKS = {export_csv_header, csv_rows, TRACK_PAGE};
static const csv_kind CSV_VERSIONS = {versions_header, versions_rows, ROW_PAGE};

/* Writes one CSV file at path from a section (key in column 0), page by
 * page. */
static kt_status csv_file(kt_app *app, const csv_kind *kind, store_export_section sec,
                          int64_t scope, const char *path, kt_err *err)
{
    FILE *f = fopen(path, "wx");
    buf b;
    int64_t after = INT64_MIN;
    kt_status st = KT_OK;
    if (!f)
        return err_set(err, KT_ERR_IO, "export_io", "cannot create %s: %s", path, strerror(errno));
    buf_init(&b, (size_t)64 << 20);
    st = kind->header(&b);
    for (;;) {
        store *s = NULL;
        store_rows *r = NULL;
        if (st != KT_OK || fwrite(b.data, 1, b.len, f) != b.len) {
            if (st == KT_OK)
                st = err_set(err, KT_ERR_IO, "export_io", "writing %s: %s", path, strerror(errno));
            break;
        }
        buf_reset(&b);
        if ((st = app_db_get(app, &s, err)) != KT_OK)
            break;
        st = store_export_page(s, sec, scope, after, kind->page, &r, err);
        if (st == KT_OK)
            st = kind->rows(s, r, &b, err);
        app_db_put(app, s);
        size_t n = store_rows_count(r);
        if (st == KT_OK && n > 0)
            after = store_rows_int(r, n - 1, STORE_EXT_KEY);
        store_rows_free(r);
        if (st == KT_OK && n == 0)
            break;
    }
    buf_free(&b);
    if (fclose(f) != 0 && st == KT_OK)
        st = err_set(err, KT_ERR_IO, "export_io", "writing %s: %s", path, strerror(errno));
    return st;
}

/* Adds the file at path to the zip as `name` (read when the zip closes). */
static kt_status zip_add_file(zip_t *za, const char *path, const char *name, kt_err *err)
{
    zip_source_t *src = zip_source_file(za, path, 0, -1);
    if (!src || zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        return err_set(err, KT_ERR_IO, "export_io", "adding %s to the zip: %s", name,
                       zip_strerror(za));
    }
    return KT_OK;
}

/* The playlists whose items are stored, as CSV files in dir/N.csv added to
 * the zip; *n_files counts the files made (for cleanup). */
static kt_status csv_playlists(kt_app *app, int64_t user_id, const char *dir, zip_t *za,
                               size_t *n_files, kt_err *err)
{
    strset *used = strset_new();
    int64_t after = INT64_MIN;
    kt_status st = used ? KT_OK : nomem(err);
    while (st == KT_OK) {
        store *s = NULL;
        store_rows *r = NULL;
        if ((st = app_db_get(app, &s, err)) != KT_OK)
            break;
        st = store_export_page(s, STORE_EXPORT_PLAYLISTS, user_id, after, ROW_PAGE, &r, err);
        app_db_put(app, s);
        size_t n = st == KT_OK ? store_rows_count(r) : 0;
        for (size_t i = 0; st == KT_OK && i < n; i++) {
            char name[128], path[4200];
            after = store_rows_int(r, i, 0);
            if (!store_rows_is_null(r, i, 12) || store_rows_is_null(r, i, 11))
                continue; /* removed, or items not stored (someone else's playlist) */
            snprintf(path, sizeof path, "%s/%zu.csv", dir, *n_files + 1);
            if ((st = export_csv_file_name(store_rows_text(r, i, 2), used, name, err)) == KT_OK &&
                (st = csv_file(app, &CSV_TRACKS, STORE_EXPORT_ITEMS, after, path, err)) == KT_OK) {
                (*n_files)++;
                st = zip_add_file(za, path, name, err);
            }
        }
        store_rows_free(r);
        if (n == 0)
            break;
    }
    strset_free(used);
    return st;
}

kt_status export_csv_zip(kt_app *app, int64_t user_id, const char *tmpdir, int *fd, int64_t *size,
                         kt_err *err)
{
    char dir[4096], path[4200], zpath[4200];
    const char *t = tmpdir ? tmpdir : getenv("TMPDIR");
    zip_t *za = NULL;
    size_t n_files = 0;
    int zfd = -1, zerr = 0;
    struct stat sb;
    kt_status st = KT_OK;
    snprintf(dir, sizeof dir, "%s/keeptrack-export-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir))
        return err_set(err, KT_ERR_IO, "export_io", "cannot make a temporary folder in %s: %s",
                       t && *t ? t : "/tmp", strerror(errno));
    snprintf(zpath, sizeof zpath, "%s/export.zip", dir);
    if ((za = zip_open(zpath, ZIP_CREATE | ZIP_EXCL, &zerr)) == NULL) {
        st = err_set(err, KT_ERR_IO, "export_io", "cannot create the zip (libzip error %d)", zerr);
        goto out;
    }
    snprintf(path, sizeof path, "%s/0.csv", dir);
    if ((st = csv_file(app, &CSV_TRACKS, STORE_EXPORT_LIKED, user_id, path, err)) != KT_OK ||
        (st = zip_add_file(za, path, "liked_songs.csv", err)) != KT_OK ||
        (st = csv_playlists(app, user_id, dir, za, &n_files, err)) != KT_OK)
        goto out;
    snprintf(path, sizeof path, "%s/versions.csv", dir);
    if ((st = csv_file(app, &CSV_VERSIONS, STORE_EXPORT_USER_VERSIONS, user_id, path, err)) !=
            KT_OK ||
        (st = zip_add_file(za, path, EXPORT_CSV_VERSIONS, err)) != KT_OK)
        goto out;
    if (zip_close(za) != 0) {
        st = err_set(err, KT_ERR_IO, "export_io", "writing the zip: %s", zip_strerror(za));
        goto out;
    }
    za = NULL;
    if ((zfd = open(zpath, O_RDONLY | O_CLOEXEC)) < 0 || fstat(zfd, &sb) != 0)
        st = err_set(err, KT_ERR_IO, "export_io", "reopening the zip: %s", strerror(errno));
out:
    if (za)
        zip_discard(za);
    for (size_t i = 0; i <= n_files; i++) {
        snprintf(path, sizeof path, "%s/%zu.csv", dir, i);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/versions.csv", dir);
    unlink(path);
    unlink(zpath);
    rmdir(dir);
    if (st != KT_OK) {
        if (zfd >= 0)
            close(zfd);
        return st;
    }
    *fd = zfd;
    *size = (int64_t)sb.st_size;
    return KT_OK;
}

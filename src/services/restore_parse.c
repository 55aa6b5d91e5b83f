/* restore_parse.c - the upload parsers of restore (see restore_parse.h):
 * an RFC 4180 CSV reader, the keeptrack JSON export reader (jansson), zip
 * archives of either (libzip, from memory), and the normalized JSON form.
 *
 * The CSV reader is hand-written: Debian has no small C CSV library worth
 * a dependency (libcsv is unmaintained), and RFC 4180 is a short state
 * machine; it keeps physical line numbers so errors can name the line.
 */
#include "services/restore_parse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/timeutil.h"

#define JSON_MAX_DEPTH 32

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* ---- the input ---- */

restore_input *restore_input_new(void)
{
    return calloc(1, sizeof(restore_input));
}

static void playlist_clear(restore_playlist *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].uri);
    free(p->items);
    free(p->id);
    free(p->name);
    free(p->description);
    free(p->file);
    free(p->cover_sha256);
    memset(p, 0, sizeof *p);
}

void restore_input_free(restore_input *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_playlists; i++)
        playlist_clear(&in->playlists[i]);
    free(in->playlists);
    for (size_t i = 0; i < in->n_liked; i++)
        free(in->liked[i].uri);
    free(in->liked);
    free(in);
}

/* Appends an item (uri copied; NULL kept) to a growable array. */
static int items_push(restore_item **v, size_t *n, size_t *cap, const char *uri,
                      int64_t added_at)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        restore_item *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    char *copy = uri ? strdup(uri) : NULL;
    if (uri && !copy)
        return -1;
    (*v)[(*n)++] = (restore_item){.uri = copy, .added_at = added_at};
    return 0;
}

/* An added_at time: 1 with *ms set for ISO 8601 from 1970 on. Earlier
 * times are refused: -1 means "unknown" in a restore_item, and no Spotify
 * library predates 2008, so such a time is a damaged file, not data. */
static int added_at_parse(const char *s, int64_t *ms)
{
    int64_t t = 0;
    if (time_parse_iso8601(s, &t) != KT_OK || t < 0)
        return 0;
    *ms = t;
    return 1;
}

/* Moves the parsed pieces of `from` into `into` (a validated file is
 * merged whole, so a failure never leaves half a file behind). */
static kt_status input_merge(restore_input *into, restore_input *from, const char *name,
                             kt_err *err)
{
    if (from->has_liked && into->has_liked)
        return err_set(err, KT_ERR_INVALID, "bad_upload",
                       "%s: Liked Songs appear in more than one file of the upload", name);
    if (into->n_playlists + from->n_playlists > RESTORE_MAX_PLAYLISTS)
        return err_set(err, KT_ERR_INVALID, "bad_upload", "%s: more than %d playlists in the upload",
                       name, RESTORE_MAX_PLAYLISTS);
    if (from->n_playlists) {
        size_t need = into->n_playlists + from->n_playlists;
        if (need > into->cap_playlists) {
            restore_playlist *nv = realloc(into->playlists, need * sizeof *nv);
            if (!nv)
                return nomem(err);
            into->playlists = nv;
            into->cap_playlists = need;
        }
        memcpy(into->playlists + into->n_playlists, from->playlists,
               from->n_playlists * sizeof *from->playlists);
        into->n_playlists = need;
        from->n_playlists = 0;
    }
    if (from->has_liked) {
        free(into->liked);
        into->liked = from->liked;
        into->n_liked = from->n_liked;
        into->cap_liked = from->cap_liked;
        into->has_liked = 1;
        from->liked = NULL;
        from->n_liked = from->cap_liked = 0;
    }
    return KT_OK;
}

static int playlist_add(restore_input *in, restore_playlist **out)
{
    if (in->n_playlists == in->cap_playlists) {
        size_t nc = in->cap_playlists ? in->cap_playlists * 2 : 8;
        restore_playlist *nv = realloc(in->playlists, nc * sizeof *nv);
        if (!nv)
            return -1;
        in->playlists = nv;
        in->cap_playlists = nc;
    }
    *out = &in->playlists[in->n_playlists++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* ---- URIs ---- */

static int is_id(const char *s, size_t n)
{
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

int restore_uri_addable(const char *uri)
{
    if (!uri)
        return 0;
    if (strncmp(uri, "spotify:track:", 14) == 0)
        return is_id(uri + 14, strlen(uri + 14));
    if (strncmp(uri, "spotify:episode:", 16) == 0)
        return is_id(uri + 16, strlen(uri + 16));
    return 0;
}

int restore_uri_local(const char *uri)
{
    return uri && strncmp(uri, "spotify:local:", 14) == 0 && strlen(uri) < 2048;
}

/* A user-supplied value for an error message: printable ASCII, cut. */
static void shown(const char *s, char out[64])
{
    size_t n = 0;
    for (; s && *s && n < 60; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

/* The base name of a path-like name (zip members, uploaded names). */
static const char *base_name(const char *name)
{
    const char *b = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    return b;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* Copies at most max bytes of s, cut on a UTF-8 character boundary. */
static char *strdup_cut(const char *s, size_t len, size_t max)
{
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    return strndup(s, len);
}

/* ---- CSV (RFC 4180) ---- */

typedef struct csv_reader {
    const char *p, *end;
    int64_t line; /* physical line of p, from 1 */
    buf rec;      /* the current record's fields, each NUL-terminated */
    size_t off[RESTORE_MAX_CSV_FIELDS];
    size_t nf;
} csv_reader;

static const char *csv_field(const csv_reader *r, size_t i)
{
    return i < r->nf ? r->rec.data + r->off[i] : "";
}

/* Reads one record. 1: a record (*line = its first line), 0: end of data,
 * -1: error (err names the file and line). */
static int csv_next(csv_reader *r, const char *file, int64_t *line, kt_err *err)
{
    if (r->p >= r->end)
        return 0;
    buf_reset(&r->rec);
    r->nf = 0;
    *line = r->line;
    for (;;) {
        size_t start = r->rec.len;
        if (r->nf == RESTORE_MAX_CSV_FIELDS) {
            err_set(err, KT_ERR_INVALID, "bad_csv", "%s line %lld: more than %d columns", file,
                    (long long)r->line, RESTORE_MAX_CSV_FIELDS);
            return -1;
        }
        if (r->p < r->end && *r->p == '"') {
            int64_t opened = r->line;
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    err_set(err, KT_ERR_INVALID, "bad_csv",
                            "%s line %lld: a quoted field never closes (truncated file?)", file,
                            (long long)opened);
                    return -1;
                }
                char c = *r->p++;
                if (c == '"') {
                    if (r->p < r->end && *r->p == '"')
                        r->p++;
                    else
                        break;
                } else if (c == '\n') {
                    r->line++;
                }
                if (buf_append(&r->rec, &c, 1) != KT_OK)
                    goto too_long;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
                err_set(err, KT_ERR_INVALID, "bad_csv",
                        "%s line %lld: text after a closing quote (a quote inside a quoted field "
                        "must be doubled)",
                        file, (long long)r->line);
                return -1;
            }
        } else {
            const char *q = r->p;
            while (q < r->end && *q != ',' && *q != '\n' && *q != '\r') {
                if (*q == '"') {
                    err_set(err, KT_ERR_INVALID, "bad_csv",
                            "%s line %lld: a quote inside an unquoted field (quote the field and "
                            "double the quote)",
                            file, (long long)r->line);
                    return -1;
                }
                q++;
            }
            if (buf_append(&r->rec, r->p, (size_t)(q - r->p)) != KT_OK)
                goto too_long;
            r->p = q;
        }
        if (buf_append(&r->rec, "", 1) != KT_OK)
            goto too_long;
        r->off[r->nf++] = start;
        if (r->p >= r->end)
            return 1;
        char c = *r->p++;
        if (c == ',')
            continue;
        if (c == '\r' && r->p < r->end && *r->p == '\n')
            r->p++;
        r->line++;
        return 1;
    }
too_long:
    err_set(err, KT_ERR_INVALID, "bad_csv", "%s line %lld: a record is longer than %d bytes", file,
            (long long)*line, RESTORE_MAX_FIELD_BYTES);
    return -1;
}

static int is_liked_file(const char *base)
{
    static const char *const names[] = {"liked_songs.csv", "liked songs.csv", "liked-songs.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(base, names[i]) == 0)
            return 1;
    return 0;
}

/* Index of the column called one of names[] (case-insensitive, spaces
 * around ignored), or -1. */
static int csv_column(const csv_reader *r, const char *const *names, size_t n)
{
    for (size_t i = 0; i < r->nf; i++) {
        const char *f = csv_field(r, i);
        while (*f == ' ')
            f++;
        size_t len = strlen(f);
        while (len > 0 && f[len - 1] == ' ')
            len--;
        for (size_t k = 0; k < n; k++)
            if (strlen(names[k]) == len && strncasecmp(f, names[k], len) == 0)
                return (int)i;
    }
    return -1;
}

/* Validates a URI cell: "" -> NULL (a removed entry), else addable or local. */
static kt_status check_uri_cell(const char *file, int64_t line, const char *cell,
                                const char **uri, kt_err *err)
{
    char v[64];
    if (cell[0] == '\0') {
        *uri = NULL;
        return KT_OK;
    }
    if (!restore_uri_addable(cell) && !restore_uri_local(cell)) {
        shown(cell, v);
        return err_set(err, KT_ERR_INVALID, "bad_csv",
                       "%s line %lld: Track URI '%s' is not a Spotify track, episode or local "
                       "file URI",
                       file, (long long)line, v);
    }
    *uri = cell;
    return KT_OK;
}

static kt_status csv_records(csv_reader *r, const char *file, restore_item **items, size_t *n,
                             size_t *cap, size_t max, kt_err *err)
{
    static const char *const uri_names[] = {"Track URI", "track_uri", "Spotify URI", "URI"};
    static const char *const at_names[] = {"Added At", "added_at"};
    int64_t line = 0;
    int rc = csv_next(r, file, &line, err);
    if (rc < 0)
        return err->status;
    if (rc == 0)
        return err_set(err, KT_ERR_INVALID, "bad_csv", "%s: the file is empty (no header row)",
                       file);
    size_t ncols = r->nf;
    int uri_col = csv_column(r, uri_names, 4), at_col = csv_column(r, at_names, 2);
    if (uri_col < 0)
        return err_set(err, KT_ERR_INVALID, "bad_csv",
                       "%s line %lld: no \"Track URI\" column in the header row", file,
                       (long long)line);
    while ((rc = csv_next(r, file, &line, err)) == 1) {
        const char *uri = NULL;
        int64_t at = -1;
        if (r->nf == 1 && csv_field(r, 0)[0] == '\0')
            continue; /* a blank line */
        if (r->nf != ncols)
            return err_set(err, KT_ERR_INVALID, "bad_csv",
                           "%s line %lld: %zu fields where the header has %zu", file,
                           (long long)line, r->nf, ncols);
        if (check_uri_cell(file, line, csv_field(r, (size_t)uri_col), &uri, err) != KT_OK)
            return KT_ERR_INVALID;
        const char *at_cell = at_col >= 0 ? csv_field(r, (size_t)at_col) : "";
        if (at_cell[0] && !added_at_parse(at_cell, &at)) {
            char v[64];
            shown(at_cell, v);
            return err_set(err, KT_ERR_INVALID, "bad_csv",
                           "%s line %lld: Added At '%s' is not an ISO 8601 time from 1970 on", file,
                           (long long)line, v);
        }
        if (*n >= max)
            return err_set(err, KT_ERR_INVALID, "too_many_items",
                           "%s line %lld: more than %zu entries", file, (long long)line, max);
        if (items_push(items, n, cap, uri, at) != 0)
            return nomem(err);
    }
    return rc < 0 ? err->status : KT_OK;
}

/* A CSV file: `name` labels it in messages, `base` names the playlist.
 * keeptrack's own index of playlist versions and their covers
 * (playlist_versions.csv, EXPORT_CSV_VERSIONS in export.h) is not a
 * playlist and is skipped, so an export's files restore as they were made,
 * zipped or one by one. */
static kt_status parse_csv(const char *name, const char *base, const char *data, size_t len,
                           restore_input *in, kt_err *err)
{
    csv_reader r = {.p = data, .end = data + len, .line = 1};
    restore_input *tmp = NULL;
    restore_playlist *pl = NULL;
    kt_status st = KT_OK;
    if (strcasecmp(base, "playlist_versions.csv") == 0)
        return KT_OK;
    if (!(tmp = restore_input_new()))
        return nomem(err);
    buf_init(&r.rec, RESTORE_MAX_FIELD_BYTES);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3;
    if (is_liked_file(base)) {
        tmp->has_liked = 1;
        st = csv_records(&r, name, &tmp->liked, &tmp->n_liked, &tmp->cap_liked, RESTORE_MAX_LIKED,
                         err);
    } else {
        size_t bl = strlen(base);
        if (ends_with_ci(base, ".csv"))
            bl -= 4;
        if (playlist_add(tmp, &pl) != 0 ||
            (pl->name = bl ? strdup_cut(base, bl, RESTORE_NAME_MAX) : strdup("Restored playlist")) ==
                NULL ||
            (pl->file = strdup(name)) == NULL) {
            st = nomem(err);
            goto out;
        }
        pl->items_known = 1;
        st = csv_records(&r, name, &pl->items, &pl->n, &pl->cap, RESTORE_MAX_ITEMS, err);
    }
    if (st == KT_OK)
        st = input_merge(in, tmp, name, err);
out:
    buf_free(&r.rec);
    restore_input_free(tmp);
    return st;
}

kt_status restore_parse_csv(const char *name, const char *data, size_t len, restore_input *in,
                            kt_err *err)
{
    const char *label = name && name[0] ? name : "upload.csv";
    return parse_csv(label, base_name(label), data, len, in, err);
}

/* ---- JSON export ---- */

/* One entry {"added_at": ISO|null, "track": {"uri": ...}|null}. */
static kt_status json_entry(const char *file, const char *where, size_t idx, const json_t *e,
                            restore_item **items, size_t *n, size_t *cap, size_t max,
                            kt_err *err)
{
    const json_t *track = json_object_get(e, "track");
    const char *uri = NULL, *at_s = json_str(e, "added_at");
    int64_t at = -1;
    char v[64];
    if (!json_is_object(e) || (track && !json_is_null(track) && !json_is_object(track)))
        return err_set(err, KT_ERR_INVALID, "bad_json", "%s: %s[%zu] is not an entry object", file,
                       where, idx);
    if (json_is_object(track)) {
        uri = json_str(track, "uri");
        if (!uri || (!restore_uri_addable(uri) && !restore_uri_local(uri))) {
            shown(uri, v);
            return err_set(err, KT_ERR_INVALID, "bad_json",
                           "%s: %s[%zu].track.uri '%s' is not a Spotify track, episode or local "
                           "file URI",
                           file, where, idx, v);
        }
    }
    if (at_s && !added_at_parse(at_s, &at)) {
        shown(at_s, v);
        return err_set(err, KT_ERR_INVALID, "bad_json",
                       "%s: %s[%zu].added_at '%s' is not an ISO 8601 time from 1970 on", file,
                       where, idx, v);
    }
    if (*n >= max)
        return err_set(err, KT_ERR_INVALID, "too_many_items", "%s: %s has more than %zu entries",
                       file, where, max);
    return items_push(items, n, cap, uri, at) == 0 ? KT_OK : nomem(err);
}

static kt_status json_entries(const char *file, const char *where, const json_t *arr,
                              restore_item **items, size_t *n, size_t *cap, size_t max,
                              kt_err *err)
{
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        kt_status st = json_entry(file, where, i, e, items, n, cap, max, err);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

static kt_status json_playlist(const char *file, size_t idx, const json_t *p, restore_input *tmp,
                               kt_err *err)
{
    restore_playlist *pl = NULL;
    const char *name = json_str(p, "name"), *id = json_str(p, "id"),
               *desc = json_str(p, "description");
    const json_t *items = json_object_get(p, "items");
    char where[48];
    if (!json_is_object(p) || !name)
        return err_set(err, KT_ERR_INVALID, "bad_json", "%s: playlists[%zu] has no name", file,
                       idx);
    if (id && !is_id(id, strlen(id)))
        return err_set(err, KT_ERR_INVALID, "bad_json", "%s: playlists[%zu].id is not a Spotify id",
                       file, idx);
    if (items && !json_is_null(items) && !json_is_array(items))
        return err_set(err, KT_ERR_INVALID, "bad_json", "%s: playlists[%zu].items is not a list",
                       file, idx);
    if (tmp->n_playlists >= RESTORE_MAX_PLAYLISTS)
        return err_set(err, KT_ERR_INVALID, "bad_json", "%s: more than %d playlists", file,
                       RESTORE_MAX_PLAYLISTS);
    if (playlist_add(tmp, &pl) != 0 ||
        (pl->name = strdup_cut(name, strlen(name), RESTORE_NAME_MAX)) == NULL ||
        (id && (pl->id = strdup(id)) == NULL) ||
        (desc && (pl->description = strdup_cut(desc, strlen(desc), RESTORE_NAME_MAX)) == NULL) ||
        (pl->file = strdup(file)) == NULL)
        return nomem(err);
    pl->items_known = json_is_array(items);
    /* Only a version restore's stored input names a cover (by hash, read
     * from the user's own stored covers); anything else is ignored. */
    const char *cover = json_str(p, "cover_sha256");
    if (cover && strlen(cover) == 64 && strspn(cover, "0123456789abcdef") == 64 &&
        (pl->cover_sha256 = strdup(cover)) == NULL)
        return nomem(err);
    snprintf(where, sizeof where, "playlists[%zu].items", idx);
    return json_entries(file, where, items, &pl->items, &pl->n, &pl->cap, RESTORE_MAX_ITEMS, err);
}

kt_status restore_parse_json(const char *name, const char *data, size_t len, restore_input *in,
                             kt_err *err)
{
    json_t *root = NULL;
    restore_input *tmp = NULL;
    const char *file = name ? name : "upload.json";
    kt_status st = json_parse_bounded(data, len, JSON_MAX_DEPTH, &root, err);
    if (st != KT_OK) {
        err_prefix(err, "%s", file);
        return KT_ERR_INVALID;
    }
    const char *format = json_str(root, "format");
    const json_t *liked = json_object_get(root, "liked_songs"),
                 *pls = json_object_get(root, "playlists");
    if (!json_is_object(root) || !format || strcmp(format, "keeptrack-export") != 0) {
        st = err_set(err, KT_ERR_INVALID, "bad_format",
                     "%s: not a keeptrack export (no \"format\": \"keeptrack-export\")", file);
        goto out;
    }
    if (json_int(root, "format_version", -1) != RESTORE_FORMAT_VERSION) {
        st = err_set(err, KT_ERR_INVALID, "bad_format",
                     "%s: format_version %lld is not supported (this keeptrack reads %d)", file,
                     (long long)json_int(root, "format_version", -1), RESTORE_FORMAT_VERSION);
        goto out;
    }
    if ((liked && !json_is_array(liked)) || (pls && !json_is_array(pls))) {
        st = err_set(err, KT_ERR_INVALID, "bad_json",
                     "%s: liked_songs and playlists must be lists", file);
        goto out;
    }
    if ((tmp = restore_input_new()) == NULL) {
        st = nomem(err);
        goto out;
    }
    if (liked) {
        tmp->has_liked = 1;
        if ((st = json_entries(file, "liked_songs", liked, &tmp->liked, &tmp->n_liked,
                               &tmp->cap_liked, RESTORE_MAX_LIKED, err)) != KT_OK)
            goto out;
    }
    size_t i;
    const json_t *p;
    json_array_foreach(pls, i, p)
    {
        if ((st = json_playlist(file, i, p, tmp, err)) != KT_OK)
            goto out;
    }
    st = input_merge(in, tmp, file, err);
out:
    restore_input_free(tmp);
    json_decref(root);
    return st;
}

/* ---- zip archives and content sniffing ---- */

static kt_status parse_one(const char *name, const char *base, const char *data, size_t len,
                           restore_input *in, kt_err *err);

/* Reads member idx whole (bounded by its declared size and the caps). */
static kt_status zip_member(zip_t *za, zip_uint64_t idx, const char *label, zip_uint64_t size,
                            char **out, kt_err *err)
{
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    char *data = NULL;
    kt_status st = KT_OK;
    if (!zf)
        return err_set(err, KT_ERR_INVALID, "bad_zip", "%s: cannot be opened (%s)", label,
                       zip_strerror(za));
    if ((data = malloc(size + 1)) == NULL) {
        st = nomem(err);
        goto out;
    }
    zip_int64_t got = zip_fread(zf, data, size);
    char extra;
    if (got < 0 || (zip_uint64_t)got != size || zip_fread(zf, &extra, 1) != 0)
        st = err_set(err, KT_ERR_INVALID, "bad_zip", "%s: damaged or truncated (%s)", label,
                     zip_file_strerror(zf));
    else
        data[size] = '\0';
out:
    zip_fclose(zf);
    if (st == KT_OK)
        *out = data;
    else
        free(data);
    return st;
}

static kt_status parse_zip(const char *name, const char *data, size_t len, restore_input *in,
                           kt_err *err)
{
    zip_error_t ze;
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    restore_input *all = restore_input_new(); /* merged into in only when every member parsed */
    kt_status st = KT_OK;
    size_t total = 0, used = 0;
    if (!all)
        return nomem(err);
    zip_error_init(&ze);
    if ((src = zip_source_buffer_create(data, len, 0, &ze)) == NULL) {
        st = nomem(err);
        goto out;
    }
    if ((za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze)) == NULL) {
        st = err_set(err, KT_ERR_INVALID, "bad_zip",
                     "%s: not a readable zip archive (truncated or damaged: %s)", name,
                     zip_error_strerror(&ze));
        zip_source_free(src);
        goto out;
    }
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > RESTORE_MAX_ZIP_ENTRIES) {
        st = err_set(err, KT_ERR_INVALID, "bad_zip", "%s: more than %d entries", name,
                     RESTORE_MAX_ZIP_ENTRIES);
        goto out;
    }
    for (zip_int64_t i = 0; i < n && st == KT_OK; i++) {
        zip_stat_t zs;
        char label[400], *member = NULL;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_NAME) ||
            !(zs.valid & ZIP_STAT_SIZE)) {
            st = err_set(err, KT_ERR_INVALID, "bad_zip", "%s: entry %lld is unreadable", name,
                         (long long)i);
            break;
        }
        const char *b = base_name(zs.name);
        if (strncmp(zs.name, "__MACOSX/", 9) == 0 || b[0] == '.' ||
            (!ends_with_ci(b, ".csv") && !ends_with_ci(b, ".json")))
            continue; /* directories, resource forks and other files */
        snprintf(label, sizeof label, "%.150s:%.200s", name, zs.name);
        if (zs.size > RESTORE_MAX_FILE_BYTES ||
            in->parsed_bytes + total + zs.size > RESTORE_MAX_TOTAL_BYTES) {
            st = err_set(err, KT_ERR_TOO_LARGE, "too_large",
                         "%s: larger than the limit of %zu bytes (per file) / %zu (all files)",
                         label, RESTORE_MAX_FILE_BYTES, RESTORE_MAX_TOTAL_BYTES);
            break;
        }
        total += zs.size;
        if ((st = zip_member(za, (zip_uint64_t)i, label, zs.size, &member, err)) == KT_OK)
            st = parse_one(label, b, member, zs.size, all, err);
        free(member);
        used++;
    }
    if (st == KT_OK && used == 0)
        st = err_set(err, KT_ERR_INVALID, "bad_upload", "%s: the archive holds no .csv or .json file",
                     name);
    if (st == KT_OK && (st = input_merge(in, all, name, err)) == KT_OK)
        in->parsed_bytes += total;
out:
    if (za)
        zip_discard(za);
    zip_error_fini(&ze);
    restore_input_free(all);
    return st;
}

/* A CSV or JSON file (zip members are never zips themselves here). */
static kt_status parse_one(const char *name, const char *base, const char *data, size_t len,
                           restore_input *in, kt_err *err)
{
    size_t i = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i < len && data[i] == '{')
        return restore_parse_json(name, data, len, in, err);
    if (ends_with_ci(name, ".json"))
        return err_set(err, KT_ERR_INVALID, "bad_format", "%s: not a keeptrack JSON export", name);
    return parse_csv(name, base, data, len, in, err);
}

kt_status restore_parse_file(const char *name, const char *data, size_t len, restore_input *in,
                             kt_err *err)
{
    const char *label = name && name[0] ? name : "upload";
    if (len > RESTORE_MAX_FILE_BYTES)
        return err_set(err, KT_ERR_TOO_LARGE, "too_large", "%s: larger than the limit of %zu bytes",
                       label, RESTORE_MAX_FILE_BYTES);
    if (len == 0)
        return err_set(err, KT_ERR_INVALID, "bad_upload", "%s: the file is empty", label);
    if (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0)
        return parse_zip(label, data, len, in, err);
    if (in->parsed_bytes + len > RESTORE_MAX_TOTAL_BYTES)
        return err_set(err, KT_ERR_TOO_LARGE, "too_large",
                       "%s: the files of this upload are larger than the limit of %zu bytes "
                       "together", label, RESTORE_MAX_TOTAL_BYTES);
    if (len >= 2 && memcmp(data, "PK", 2) == 0)
        return err_set(err, KT_ERR_INVALID, "bad_zip", "%s: not a readable zip archive", label);
    if (memchr(data, '\0', len))
        return err_set(err, KT_ERR_INVALID, "bad_format",
                       "%s: not a keeptrack JSON export, an Exportify CSV file or a zip of them",
                       label);
    kt_status st = parse_one(label, base_name(label), data, len, in, err);
    if (st == KT_OK)
        in->parsed_bytes += len;
    return st;
}

/* ---- the normalized form ---- */

static json_t *entries_json(const restore_item *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        char iso[32];
        json_t *at = json_null(), *track = json_null();
        if (items[i].added_at >= 0) {
            time_format_iso8601(items[i].added_at, iso);
            at = json_string(iso);
        }
        if (items[i].uri)
            track = json_pack("{s:s}", "uri", items[i].uri);
        if (json_array_append_new(arr, json_pack("{s:o*,s:o*}", "added_at", at, "track", track)) !=
            0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

char *restore_input_to_json(const restore_input *in)
{
    json_t *root = json_pack("{s:s,s:i}", "format", "keeptrack-export", "format_version",
                             RESTORE_FORMAT_VERSION),
           *pls = json_array();
    char *text = NULL;
    if (!root || !pls)
        goto out;
    if (in->has_liked && json_object_set_new(root, "liked_songs",
                                             entries_json(in->liked, in->n_liked)) != 0)
        goto out;
    for (size_t i = 0; i < in->n_playlists; i++) {
        const restore_playlist *p = &in->playlists[i];
        json_t *o = json_pack("{s:s?,s:s,s:s?,s:o*}", "id", p->id, "name", p->name, "description",
                              p->description, "items",
                              p->items_known ? entries_json(p->items, p->n) : json_null());
        if (o && p->cover_sha256 &&
            json_object_set_new(o, "cover_sha256", json_string(p->cover_sha256)) != 0) {
            json_decref(o);
            goto out;
        }
        if (json_array_append_new(pls, o) != 0)
            goto out;
    }
    if (json_object_set(root, "playlists", pls) != 0)
        goto out;
    text = json_dumps(root, JSON_COMPACT);
out:
    json_decref(pls);
    json_decref(root);
    return text;
}

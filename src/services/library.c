/* library.c - read services over the library copy (see library.h).
 *
 * Rows come from store_library.h with documented column layouts; this file
 * turns them into the JSON the API serves. A track's artists are a second
 * lookup per page (rowjson_artists_map: 50 uris per statement) collected
 * into a uri -> [artists] object, so a page costs a fixed handful of
 * queries whatever its length.
 */
#include "services/library.h"

#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/rowjson.h"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* ---- a list being built ----
 * Every append and field set below can fail for lack of memory; a list
 * remembers the first failure, so a page comes out whole or as
 * KT_ERR_NOMEM, never silently short or with null holes. */

typedef struct list {
    json_t *arr;
    int failed;
} list;

static list list_new(void)
{
    list l = {json_array(), 0};
    l.failed = l.arr == NULL;
    return l;
}

/* Appends e (the reference is taken); a NULL e marks the list failed. */
static void list_add(list *l, json_t *e)
{
    if (json_array_append_new(l->arr, e) != 0)
        l->failed = 1;
}

/* Sets e[key] = v (v's reference is taken); a failure marks the list. */
static void list_field(list *l, json_t *e, const char *key, json_t *v)
{
    if (json_object_set_new(e, key, v) != 0)
        l->failed = 1;
}

/* The array (a new reference), or NULL when anything failed; l is spent. */
static json_t *list_take(list *l)
{
    if (!l->failed)
        return l->arr;
    json_decref(l->arr);
    return NULL;
}

/* {total, limit, offset, items}; NULL when items is NULL or memory runs out. */
static json_t *page_json(int64_t total, size_t limit, size_t offset, json_t *items)
{
    return items ? json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)total, "limit",
                             (json_int_t)limit, "offset", (json_int_t)offset, "items", items)
                 : NULL;
}

/* The page of l as *out: KT_ERR_NOMEM when l or the page failed. */
static kt_status page_out(list *l, int64_t total, size_t limit, size_t offset, json_t **out,
                          kt_err *err)
{
    json_t *p = page_json(total, limit, offset, list_take(l));
    if (!p)
        return nomem(err);
    *out = p;
    return KT_OK;
}

/* o, or NULL (o released) when building it failed somewhere (bad != 0). */
static json_t *complete(json_t *o, int bad)
{
    if (!bad)
        return o;
    json_decref(o);
    return NULL;
}

/* A track at columns c.. (STORE_TRACK_NCOLS wide), or null for a null entry;
 * NULL when memory runs out. */
static json_t *track_json(const store_rows *r, size_t row, size_t c, const json_t *artists)
{
    const char *uri = store_rows_text(r, row, c);
    const char *kind = store_rows_text(r, row, c + 2);
    if (!uri)
        return json_null();
    int local = kind && strcmp(kind, "local") == 0, episode = kind && strcmp(kind, "episode") == 0;
    json_t *t = json_pack("{s:s,s:o,s:s,s:o,s:o,s:b,s:o,s:o,s:o}", "uri", uri, "id",
                          rowjson_text(r, row, c + 1), "type", kind ? kind : "track", "name",
                          rowjson_text(r, row, c + 3), "duration_ms", rowjson_int(r, row, c + 4),
                          "explicit", (int)store_rows_int(r, row, c + 5), "disc_number",
                          rowjson_int(r, row, c + 6), "track_number", rowjson_int(r, row, c + 7),
                          "isrc", rowjson_text(r, row, c + 8));
    if (!t)
        return NULL;
    int bad = 0;
    if (episode) {
        bad |= json_object_set_new(t, "show",
                            json_pack("{s:o,s:o,s:o}", "id", rowjson_text(r, row, c + 14), "name",
                                      rowjson_text(r, row, c + 15), "publisher",
                                      rowjson_text(r, row, c + 16)));
        bad |= json_object_set_new(t, "release_date", rowjson_text(r, row, c + 17));
        bad |= json_object_set_new(t, "artists", json_array());
        return complete(t, bad);
    }
    if (local) {
        bad |= json_object_set_new(t, "album",
                            json_pack("{s:n,s:o}", "id", "name", rowjson_text(r, row, c + 19)));
        json_t *arr = json_array();
        if (!store_rows_is_null(r, row, c + 18))
            bad |= json_array_append_new(
                arr, json_pack("{s:n,s:o}", "id", "name", rowjson_text(r, row, c + 18)));
        bad |= json_object_set_new(t, "artists", arr);
        return complete(t, bad);
    }
    bad |= json_object_set_new(t, "album",
                        store_rows_is_null(r, row, c + 9)
                            ? json_null()
                            : json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", rowjson_text(r, row, c + 9),
                                        "name", rowjson_text(r, row, c + 10), "album_type",
                                        rowjson_text(r, row, c + 11), "release_date",
                                        rowjson_text(r, row, c + 12), "release_date_precision",
                                        rowjson_text(r, row, c + 13)));
    json_t *a = json_object_get(artists, uri);
    bad |= json_object_set_new(t, "artists", a ? json_deep_copy(a) : json_array());
    return complete(t, bad);
}

static json_t *artist_json(const store_rows *r, size_t row, size_t c)
{
    const char *genres = store_rows_text(r, row, c + 2);
    json_t *g = genres ? json_loads(genres, 0, NULL) : NULL;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "id", rowjson_text(r, row, c), "name",
                     rowjson_text(r, row, c + 1), "genres", g ? g : json_array(), "image_url",
                     rowjson_text(r, row, c + 3), "followers", rowjson_int(r, row, c + 4),
                     "popularity", rowjson_int(r, row, c + 5));
}

typedef struct args {
    int64_t user_id;
    const char *q, *id, *kind, *range, *day, *from, *to;
    store_sort sort;
    int desc;
    size_t limit, offset;
    int64_t from_ms, to_ms;
} args;

/* Rows whose track columns start at c -> array of {prefix fields..., key: track}. */
static kt_status tracks_items(store *s, const store_rows *r, size_t c, json_t **items, kt_err *err)
{
    json_t *artists = NULL;
    kt_status st = rowjson_artists_map(s, r, c, 0, &artists, err);
    if (st != KT_OK)
        return st;
    list l = list_new();
    for (size_t i = 0; i < store_rows_count(r); i++)
        list_add(&l, track_json(r, i, c, artists));
    json_decref(artists);
    json_t *arr = list_take(&l);
    if (!arr)
        return nomem(err);
    *items = arr;
    return KT_OK;
}

/* {key: elem} (elem's reference is taken), for the fields added around it;
 * NULL when elem is NULL (it ran out of memory) or memory runs out. */
static json_t *wrap(json_t *elem, const char *key)
{
    return elem ? json_pack("{s:o}", key, elem) : NULL;
}

static kt_status read_tracks(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    json_t *tracks = NULL;
    int64_t total = 0;
    kt_status st = store_liked_page(s, a->user_id, a->q, a->sort, a->desc, a->limit, a->offset,
                                    &r, &total, err);
    if (st == KT_OK)
        st = tracks_items(s, r, 2, &tracks, err);
    if (st == KT_OK) {
        list items = list_new();
        for (size_t i = 0; i < store_rows_count(r); i++) {
            json_t *e = wrap(json_incref(json_array_get(tracks, i)), "track");
            list_field(&items, e, "added_at", rowjson_time(r, i, 1));
            list_field(&items, e, "position", json_integer(store_rows_int(r, i, 0)));
            list_add(&items, e);
        }
        st = page_out(&items, total, a->limit, a->offset, out, err);
    }
    json_decref(tracks);
    store_rows_free(r);
    return st;
}

kt_status library_tracks(kt_app *app, int64_t user_id, const char *q, store_sort sort, int desc,
                         size_t limit, size_t offset, json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .q = q, .sort = sort, .desc = desc, .limit = limit,
              .offset = offset};
    return app_db_read_json(app, read_tracks, &a, out, err);
}

static json_t *album_json(const store_rows *r, size_t i, size_t c, const json_t *artists)
{
    const char *id = store_rows_text(r, i, c);
    json_t *al = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", rowjson_text(r, i, c), "name",
                           rowjson_text(r, i, c + 1), "album_type", rowjson_text(r, i, c + 2),
                           "release_date", rowjson_text(r, i, c + 3), "release_date_precision",
                           rowjson_text(r, i, c + 4), "total_tracks", rowjson_int(r, i, c + 5),
                           "image_url", rowjson_text(r, i, c + 6));
    json_t *a = id ? json_object_get(artists, id) : NULL;
    if (al && json_object_set_new(al, "artists", a ? json_deep_copy(a) : json_array()) != 0)
        return complete(al, 1);
    return al;
}

static kt_status read_saved(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    json_t *objs = NULL, *artists = NULL;
    int64_t total = 0;
    int albums = strcmp(a->kind, "albums") == 0, shows = strcmp(a->kind, "shows") == 0;
    const char *key = albums ? "album" : shows ? "show" : "episode";
    kt_status st = albums  ? store_saved_albums_page(s, a->user_id, a->limit, a->offset, &r,
                                                     &total, err)
                   : shows ? store_saved_shows_page(s, a->user_id, a->limit, a->offset, &r,
                                                    &total, err)
                           : store_saved_episodes_page(s, a->user_id, a->limit, a->offset, &r,
                                                       &total, err);
    if (st == KT_OK && !albums && !shows)
        st = tracks_items(s, r, 2, &objs, err);
    if (st == KT_OK && albums)
        st = rowjson_artists_map(s, r, 2, 1, &artists, err);
    if (st == KT_OK) {
        list items = list_new();
        for (size_t i = 0; i < store_rows_count(r); i++) {
            json_t *o = albums ? album_json(r, i, 2, artists)
                        : shows
                            ? json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", rowjson_text(r, i, 2),
                                        "name", rowjson_text(r, i, 3), "publisher",
                                        rowjson_text(r, i, 4), "total_episodes",
                                        rowjson_int(r, i, 5), "image_url", rowjson_text(r, i, 6))
                            : json_incref(json_array_get(objs, i));
            json_t *e = wrap(o, key);
            list_field(&items, e, "added_at", rowjson_time(r, i, 1));
            list_field(&items, e, "position", json_integer(store_rows_int(r, i, 0)));
            list_add(&items, e);
        }
        st = page_out(&items, total, a->limit, a->offset, out, err);
    }
    json_decref(objs);
    json_decref(artists);
    store_rows_free(r);
    return st;
}

kt_status library_saved(kt_app *app, int64_t user_id, const char *kind, size_t limit,
                        size_t offset, json_t **out, kt_err *err)
{
    if (!kind || (strcmp(kind, "albums") != 0 && strcmp(kind, "shows") != 0 &&
                  strcmp(kind, "episodes") != 0))
        return err_set(err, KT_ERR_NOT_FOUND, "not_found", "no such collection");
    args a = {.user_id = user_id, .kind = kind, .limit = limit, .offset = offset};
    return app_db_read_json(app, read_saved, &a, out, err);
}

/* A playlist from columns of store_playlists_list (+ removed_at at 13). */
static json_t *playlist_json(const store_rows *r, size_t i, int with_removed)
{
    json_t *p =
        json_pack("{s:o,s:o,s:o,s:{s:o,s:o},s:b,s:o,s:o,s:o,s:o,s:b,s:o}", "id",
                  rowjson_text(r, i, 0), "name", rowjson_text(r, i, 1), "description",
                  rowjson_text(r, i, 2), "owner", "id", rowjson_text(r, i, 3), "display_name",
                  rowjson_text(r, i, 4), "collaborative", (int)store_rows_int(r, i, 5), "public",
                  store_rows_is_null(r, i, 6) ? json_null() : json_boolean(store_rows_int(r, i, 6)),
                  "snapshot_id", rowjson_text(r, i, 7), "items_total", rowjson_int(r, i, 8),
                  "image_url", rowjson_text(r, i, 9), "items_synced", !store_rows_is_null(r, i, 10),
                  "synced_snapshot_id", rowjson_text(r, i, 10));
    if (p) {
        const char *id = store_rows_text(r, i, 0);
        int bad = json_object_set_new(p, "uri", id ? json_sprintf("spotify:playlist:%s", id)
                                                   : json_null());
        if (with_removed)
            bad |= json_object_set_new(p, "removed_at", rowjson_time(r, i, 13));
        p = complete(p, bad);
    }
    return p;
}

static kt_status read_playlists(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    int64_t total = 0;
    kt_status st = store_playlists_list(s, a->user_id, a->limit, a->offset, &r, &total, err);
    if (st != KT_OK)
        return st;
    list items = list_new();
    for (size_t i = 0; i < store_rows_count(r); i++)
        list_add(&items, playlist_json(r, i, 0));
    st = page_out(&items, total, a->limit, a->offset, out, err);
    store_rows_free(r);
    return st;
}

kt_status library_playlists(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .limit = limit, .offset = offset};
    return app_db_read_json(app, read_playlists, &a, out, err);
}

static kt_status read_playlist(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *p = NULL, *r = NULL;
    json_t *tracks = NULL;
    int64_t total = 0;
    kt_status st = store_playlist_get(s, a->user_id, a->id, &p, err);
    if (st == KT_OK)
        st = store_playlist_items_page(s, a->user_id, a->id, a->limit, a->offset, &r, &total,
                                       err);
    if (st == KT_OK)
        st = tracks_items(s, r, 3, &tracks, err);
    if (st == KT_OK) {
        list items = list_new();
        for (size_t i = 0; i < store_rows_count(r); i++) {
            const char *kind = store_rows_text(r, i, 3 + 2);
            json_t *e = wrap(json_incref(json_array_get(tracks, i)), "item");
            list_field(&items, e, "position", json_integer(store_rows_int(r, i, 0)));
            list_field(&items, e, "added_at", rowjson_time(r, i, 1));
            list_field(&items, e, "added_by", rowjson_text(r, i, 2));
            list_field(&items, e, "is_local", json_boolean(kind && strcmp(kind, "local") == 0));
            list_add(&items, e);
        }
        json_t *pl = playlist_json(p, 0, 1);
        list_field(&items, pl, "items", page_json(total, a->limit, a->offset, list_take(&items)));
        if (!pl || items.failed)
            st = nomem(err);
        else
            *out = pl;
        if (st != KT_OK)
            json_decref(pl);
    }
    json_decref(tracks);
    store_rows_free(p);
    store_rows_free(r);
    return st;
}

kt_status library_playlist(kt_app *app, int64_t user_id, const char *spotify_id, size_t limit,
                           size_t offset, json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .id = spotify_id, .limit = limit, .offset = offset};
    return app_db_read_json(app, read_playlist, &a, out, err);
}

/* A version's custom cover as {sha256, url}, or null (Spotify's mosaic, or
 * not known): columns sha (hex SHA-256) and url of row i. */
static json_t *cover_json(const store_rows *r, size_t i, size_t sha, size_t url)
{
    if (store_rows_is_null(r, i, sha))
        return json_null();
    return json_pack("{s:o,s:o}", "sha256", rowjson_text(r, i, sha), "url", rowjson_text(r, i, url));
}

static kt_status read_versions(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    kt_status st = store_playlist_versions(s, a->user_id, a->id, &r, err);
    if (st != KT_OK)
        return st;
    list items = list_new();
    for (size_t i = 0; i < store_rows_count(r); i++)
        list_add(
            &items, json_pack("{s:o,s:o,s:o,s:o}", "snapshot_id", rowjson_text(r, i, 0), "seen_at",
                             rowjson_time(r, i, 1), "items_total", rowjson_int(r, i, 2), "cover",
                             cover_json(r, i, 3, 4)));
    json_t *arr = list_take(&items);
    json_t *v = arr ? json_pack("{s:s,s:o}", "id", a->id, "items", arr) : NULL;
    store_rows_free(r);
    if (!v)
        return nomem(err);
    *out = v;
    return KT_OK;
}

kt_status library_playlist_versions(kt_app *app, int64_t user_id, const char *spotify_id,
                                    json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .id = spotify_id};
    return app_db_read_json(app, read_versions, &a, out, err);
}

kt_status library_cover(kt_app *app, int64_t user_id, const char *sha256, unsigned char **bytes,
                        size_t *len, kt_err *err)
{
    store *s = NULL;
    size_t n = sha256 ? strlen(sha256) : 0;
    int hex = n == 64;
    for (size_t i = 0; hex && i < n; i++)
        hex = (sha256[i] >= '0' && sha256[i] <= '9') || (sha256[i] >= 'a' && sha256[i] <= 'f');
    if (!hex)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "sha256 must be 64 lower-case hex digits");
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_playlist_cover_bytes(s, user_id, sha256, bytes, len, err);
    app_db_put(app, s);
    if (st == KT_ERR_NOT_FOUND)
        st = err_set(err, KT_ERR_NOT_FOUND, "no_cover", "no such cover");
    return st;
}

/* Key of a version entry [uri|null, added_at, added_by] for matching. */
static const char *entry_key(const json_t *e)
{
    const char *u = json_string_value(json_array_get(e, 0));
    return u ? u : "";
}

/* Marks in `mark` the entries of a that find a partner in b (multiset
 * matching, first occurrences first). */
static kt_status match(const json_t *a, const json_t *b, unsigned char *mark, kt_err *err)
{
    json_t *count = json_object();
    size_t i;
    json_t *e;
    if (!count)
        return nomem(err);
    json_array_foreach(b, i, e)
    {
        const char *k = entry_key(e);
        json_object_set_new(count, k, json_integer(json_integer_value(json_object_get(count, k)) + 1));
    }
    json_array_foreach(a, i, e)
    {
        json_t *c = json_object_get(count, entry_key(e));
        mark[i] = c && json_integer_value(c) > 0;
        if (mark[i])
            json_integer_set(c, json_integer_value(c) - 1);
    }
    json_decref(count);
    return KT_OK;
}

static json_t *changes(const json_t *v, const unsigned char *kept)
{
    list l = list_new();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!kept[i])
            list_add(&l, json_pack("{s:I,s:O}", "position", (json_int_t)i, "uri",
                                   json_array_get(e, 0)));
    }
    return list_take(&l);
}

static kt_status read_diff(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    char *from_text = NULL, *to_text = NULL;
    json_t *from = NULL, *to = NULL;
    unsigned char *kf = NULL, *kt = NULL;
    kt_status st = store_playlist_version_items(s, a->user_id, a->id, a->from, &from_text, err);
    if (st == KT_ERR_NOT_FOUND && strcmp(err->code, "version_not_found") == 0)
        err_set(err, KT_ERR_NOT_FOUND, "version_not_found", "from: no version %.64s of this "
                                                            "playlist", a->from);
    if (st == KT_OK &&
        (st = store_playlist_version_items(s, a->user_id, a->id, a->to, &to_text, err)) ==
            KT_ERR_NOT_FOUND)
        err_set(err, KT_ERR_NOT_FOUND, "version_not_found", "to: no version %.64s of this "
                                                            "playlist", a->to);
    if (st != KT_OK)
        goto out;
    from = json_loads(from_text, 0, NULL);
    to = json_loads(to_text, 0, NULL);
    if (!json_is_array(from) || !json_is_array(to)) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "a stored playlist version is not readable");
        goto out;
    }
    kf = calloc(json_array_size(from) + 1, 1);
    kt = calloc(json_array_size(to) + 1, 1);
    if (!kf || !kt) {
        st = nomem(err);
        goto out;
    }
    if ((st = match(from, to, kf, err)) != KT_OK || (st = match(to, from, kt, err)) != KT_OK)
        goto out;
    /* Reordered: the kept entries do not appear in the same order. */
    int reordered = 0;
    for (size_t i = 0, j = 0; !reordered; i++, j++) {
        while (i < json_array_size(from) && !kf[i])
            i++;
        while (j < json_array_size(to) && !kt[j])
            j++;
        if (i >= json_array_size(from) || j >= json_array_size(to))
            break;
        reordered = strcmp(entry_key(json_array_get(from, i)), entry_key(json_array_get(to, j))) != 0;
    }
    *out = json_pack("{s:s,s:s,s:s,s:o,s:o,s:b}", "id", a->id, "from", a->from, "to", a->to,
                     "added", changes(to, kt), "removed", changes(from, kf), "reordered",
                     reordered);
out:
    free(kf);
    free(kt);
    json_decref(from);
    json_decref(to);
    free(from_text);
    free(to_text);
    return st;
}

kt_status library_playlist_diff(kt_app *app, int64_t user_id, const char *spotify_id,
                                const char *from, const char *to, json_t **out, kt_err *err)
{
    if (!from || !*from)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: a snapshot_id is required");
    if (!to || !*to)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "to: a snapshot_id is required");
    args a = {.user_id = user_id, .id = spotify_id, .from = from, .to = to};
    return app_db_read_json(app, read_diff, &a, out, err);
}

static kt_status read_following(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    int64_t total = 0;
    kt_status st = store_following_page(s, a->user_id, a->limit, a->offset, &r, &total, err);
    if (st != KT_OK)
        return st;
    list items = list_new();
    for (size_t i = 0; i < store_rows_count(r); i++)
        list_add(&items, artist_json(r, i, 1));
    st = page_out(&items, total, a->limit, a->offset, out, err);
    store_rows_free(r);
    return st;
}

kt_status library_following(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .limit = limit, .offset = offset};
    return app_db_read_json(app, read_following, &a, out, err);
}

static kt_status read_top(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    json_t *tracks = NULL;
    char day[11];
    int is_tracks = strcmp(a->kind, "tracks") == 0;
    kt_status st = KT_OK;
    if (a->day)
        snprintf(day, sizeof day, "%s", a->day);
    else
        st = store_top_latest_day(s, a->user_id, a->kind, a->range, day, err);
    if (st == KT_OK)
        st = store_top_get(s, a->user_id, a->kind, a->range, day, &r, err);
    if (st == KT_OK && is_tracks)
        st = tracks_items(s, r, 1, &tracks, err);
    if (st == KT_OK) {
        list items = list_new();
        for (size_t i = 0; i < store_rows_count(r); i++) {
            json_t *e = wrap(is_tracks ? json_incref(json_array_get(tracks, i))
                                       : artist_json(r, i, 1),
                             is_tracks ? "track" : "artist");
            list_field(&items, e, "rank", json_integer(store_rows_int(r, i, 0)));
            list_add(&items, e);
        }
        json_t *arr = list_take(&items);
        json_t *top = arr ? json_pack("{s:s,s:s,s:s,s:o}", "kind", a->kind, "range", a->range,
                                      "day", day, "items", arr)
                          : NULL;
        if (top)
            *out = top;
        else
            st = nomem(err);
    }
    json_decref(tracks);
    store_rows_free(r);
    return st;
}

kt_status library_top(kt_app *app, int64_t user_id, const char *kind, const char *range,
                      const char *day, json_t **out, kt_err *err)
{
    int64_t ms = 0;
    if (!kind || (strcmp(kind, "tracks") != 0 && strcmp(kind, "artists") != 0))
        return err_set(err, KT_ERR_NOT_FOUND, "not_found", "top items are tracks or artists");
    if (!range || (strcmp(range, "short_term") != 0 && strcmp(range, "medium_term") != 0 &&
                   strcmp(range, "long_term") != 0))
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "range: must be short_term, medium_term or long_term");
    if (day && (strlen(day) != 10 || time_parse_iso8601(day, &ms) != KT_OK))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "day: must be a date YYYY-MM-DD");
    args a = {.user_id = user_id, .kind = kind, .range = range, .day = day};
    return app_db_read_json(app, read_top, &a, out, err);
}

static kt_status read_plays(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    json_t *tracks = NULL;
    int64_t total = 0;
    kt_status st = store_plays_page(s, a->user_id, a->from_ms, a->to_ms, a->limit, a->offset, &r,
                                    &total, err);
    if (st == KT_OK)
        st = tracks_items(s, r, 2, &tracks, err);
    if (st == KT_OK) {
        list items = list_new();
        for (size_t i = 0; i < store_rows_count(r); i++) {
            json_t *e = wrap(json_incref(json_array_get(tracks, i)), "track");
            list_field(&items, e, "played_at", rowjson_time(r, i, 0));
            list_field(&items, e, "context_uri", rowjson_text(r, i, 1));
            list_add(&items, e);
        }
        st = page_out(&items, total, a->limit, a->offset, out, err);
    }
    json_decref(tracks);
    store_rows_free(r);
    return st;
}

kt_status library_plays(kt_app *app, int64_t user_id, int64_t from_ms, int64_t to_ms,
                        size_t limit, size_t offset, json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .from_ms = from_ms, .to_ms = to_ms, .limit = limit,
              .offset = offset};
    return app_db_read_json(app, read_plays, &a, out, err);
}

static kt_status read_runs(store *s, void *ctx, json_t **out, kt_err *err)
{
    args *a = ctx;
    store_rows *r = NULL;
    int64_t total = 0;
    kt_status st = store_sync_runs_page(s, a->user_id, a->limit, a->offset, &r, &total, err);
    if (st != KT_OK)
        return st;
    list items = list_new();
    for (size_t i = 0; i < store_rows_count(r); i++)
        list_add(
            &items, json_pack("{s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:o}", "id",
                             (json_int_t)store_rows_int(r, i, 0), "what", rowjson_text(r, i, 1),
                             "started_at", rowjson_time(r, i, 2), "finished_at",
                             rowjson_time(r, i, 3), "status", rowjson_text(r, i, 4), "requests",
                             (json_int_t)store_rows_int(r, i, 5), "added",
                             (json_int_t)store_rows_int(r, i, 6), "removed",
                             (json_int_t)store_rows_int(r, i, 7), "error", rowjson_text(r, i, 8)));
    st = page_out(&items, total, a->limit, a->offset, out, err);
    store_rows_free(r);
    return st;
}

kt_status library_sync_runs(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err)
{
    args a = {.user_id = user_id, .limit = limit, .offset = offset};
    return app_db_read_json(app, read_runs, &a, out, err);
}

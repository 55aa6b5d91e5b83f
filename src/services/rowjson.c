/* rowjson.c - store rows as jansson values (see rowjson.h). */
#include "services/rowjson.h"

#include "core/timeutil.h"
#include "store/store_library.h"

/* Keys per store_track_artists/store_album_artists statement (IN-list). */
#define KEYS_PER_QUERY 50

json_t *rowjson_text(const store_rows *r, size_t row, size_t col)
{
    const char *s = store_rows_text(r, row, col);
    return s ? json_string(s) : json_null();
}

json_t *rowjson_int(const store_rows *r, size_t row, size_t col)
{
    return store_rows_is_null(r, row, col) ? json_null()
                                           : json_integer(store_rows_int(r, row, col));
}

json_t *rowjson_time(const store_rows *r, size_t row, size_t col)
{
    char iso[32];
    if (store_rows_is_null(r, row, col))
        return json_null();
    time_format_iso8601(store_rows_int(r, row, col), iso);
    return json_string(iso);
}

/* Appends the artists rows (key, ?, id, name) to their keys' arrays in map. */
static kt_status add_artists(json_t *map, const store_rows *ar, kt_err *err)
{
    for (size_t j = 0; j < store_rows_count(ar); j++) {
        json_t *arr = json_object_get(map, store_rows_text(ar, j, 0));
        if (arr && json_array_append_new(arr, json_pack("{s:o,s:o}", "id", rowjson_text(ar, j, 2),
                                                        "name", rowjson_text(ar, j, 3))) != 0)
            return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
    }
    return KT_OK;
}

kt_status rowjson_artists_map(store *s, const store_rows *rows, size_t col, int albums,
                              json_t **out, kt_err *err)
{
    json_t *map = json_object();
    const char *keys[KEYS_PER_QUERY];
    size_t nk = 0, n = store_rows_count(rows);
    kt_status st = KT_OK;
    if (!map)
        return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
    for (size_t i = 0; i <= n && st == KT_OK; i++) {
        /* The map doubles as the set of keys asked: a track may be on a page twice. */
        const char *k = i < n ? store_rows_text(rows, i, col) : NULL;
        if (k && !json_object_get(map, k)) {
            if (json_object_set_new(map, k, json_array()) != 0) {
                st = err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
                break;
            }
            keys[nk++] = k;
        }
        if (nk == KEYS_PER_QUERY || (i == n && nk > 0)) {
            store_rows *ar = NULL;
            st = albums ? store_album_artists(s, keys, nk, &ar, err)
                        : store_track_artists(s, keys, nk, &ar, err);
            if (st == KT_OK)
                st = add_artists(map, ar, err);
            store_rows_free(ar);
            nk = 0;
        }
    }
    if (st != KT_OK) {
        json_decref(map);
        return st;
    }
    *out = map;
    return KT_OK;
}

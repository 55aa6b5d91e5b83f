/* rowjson.h - store rows (store.h) as jansson values: the small
 * conversions the read services (library.c, export.c) share, so a cell and
 * a page of artists mean the same JSON in the API and in an export.
 *
 * Every function returns a new reference (json_decref), or NULL when
 * memory runs out; a NULL cell becomes JSON null. Thread-safe for
 * distinct or read-only rows.
 */
#ifndef KT_SERVICES_ROWJSON_H
#define KT_SERVICES_ROWJSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

/* The text cell as a JSON string, or null. */
json_t *rowjson_text(const store_rows *r, size_t row, size_t col);

/* The integer cell as a JSON integer, or null. */
json_t *rowjson_int(const store_rows *r, size_t row, size_t col);

/* The unix-milliseconds cell as an ISO 8601 string ("2026-11-22T10:00:00Z"),
 * or null. */
json_t *rowjson_time(const store_rows *r, size_t row, size_t col);

/* {key: [{"id","name"}, ...]} for the distinct non-NULL keys (track uris,
 * or album ids when albums) in column `col` of rows: every key present,
 * [] when it has no artists, artists in the store's order. Looked up 50
 * keys per statement (store_track_artists / store_album_artists on s), so
 * a page costs a fixed handful of queries. On KT_OK *out is a new
 * reference; store errors and KT_ERR_NOMEM leave *out untouched. */
kt_status rowjson_artists_map(store *s, const store_rows *rows, size_t col, int albums,
                              json_t **out, kt_err *err);

#endif

/* store_array.h - PostgreSQL array literals for set-based batch writes.
 *
 * A batch of rows travels to PostgreSQL as one text parameter per column,
 * an array literal ('{"a",NULL,"b"}', '{1,2,NULL}'), unpacked by
 *
 *   INSERT INTO t (a, b) SELECT ... FROM unnest(CAST(? AS text[]),
 *                                               CAST(? AS bigint[])) AS u(a, b)
 *
 * so a batch costs one statement and one round trip whatever its size, and
 * the server parses typed arrays (one pass per column) instead of a JSON
 * document per row (json_array_elements re-parses an element per ->>).
 *
 * Every text element is double-quoted with '"' and '\' backslash-escaped,
 * so any text (braces, commas, spaces, "NULL") round-trips; SQL NULL is the
 * bare word NULL. Text elements are C strings (no NUL bytes), as every text
 * parameter is. Internal to src/store/ (SQLite writes row by row in process
 * and needs none of this).
 *
 * Errors are sticky: the first failed append (out of memory) is remembered,
 * later appends do nothing, and store_array_end reports it, so a caller
 * appends a whole batch and checks once. A store_array is owned by its
 * caller; not thread-safe.
 */
#ifndef KT_STORE_STORE_ARRAY_H
#define KT_STORE_STORE_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct store_array {
    buf b;        /* the literal so far: '{' then elements */
    size_t n;     /* elements appended */
    kt_status st; /* first failure, KT_OK until then */
} store_array;

/* Starts an empty array (allocates nothing yet). */
void store_array_init(store_array *a);

/* Appends one text element; v NULL appends SQL NULL. */
void store_array_text(store_array *a, const char *v);

/* Appends one integer element. */
void store_array_int(store_array *a, int64_t v);

/* Appends SQL NULL. */
void store_array_null(store_array *a);

/* Closes the literal and returns it (owned by a, valid until the next
 * store_array_reset / store_array_free), or NULL with err set (KT_ERR_NOMEM)
 * when an append failed. */
const char *store_array_end(store_array *a, kt_err *err);

/* Empties a for the next batch, keeping its allocation. */
void store_array_reset(store_array *a);

/* Frees the literal; a may be NULL. */
void store_array_free(store_array *a);

#endif

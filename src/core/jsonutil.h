/* jsonutil.h - tolerant jansson helpers for JSON that comes from outside.
 *
 * Spotify objects have null, missing and extra fields; import files are
 * user-supplied. These getters never crash on a wrong type: they return NULL
 * or the caller's default. json_parse_bounded adds the limits jansson lacks
 * (input size is the caller's, nesting depth is checked here). All functions
 * are thread-safe for distinct or read-only values.
 */
#ifndef KT_CORE_JSONUTIL_H
#define KT_CORE_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JSON_DEFAULT_MAX_DEPTH 64

/* obj[key] when obj is an object and the member is a string, else NULL.
 * Borrowed from obj. NULL obj or key -> NULL. */
const char *json_str(const json_t *obj, const char *key);

/* obj[key] as an integer: a JSON integer, or a real with an integral value
 * that fits in int64; dflt otherwise (missing, null, wrong type, NULL obj). */
int64_t json_int(const json_t *obj, const char *key, int64_t dflt);

/* obj[key] as a number (integer or real), else dflt. */
double json_dbl(const json_t *obj, const char *key, double dflt);

/* obj[key]: 1 for true, 0 for false, dflt otherwise. */
int json_bool(const json_t *obj, const char *key, int dflt);

/* obj[key] when it is an array (json_arr) / an object (json_obj), else NULL. Borrowed. */
const json_t *json_arr(const json_t *obj, const char *key);
const json_t *json_obj(const json_t *obj, const char *key);

/* Follows a dotted path: object members by name, array elements by decimal
 * index ("album.images.0.url"). NULL when any step is missing or of the wrong
 * type, or for NULL arguments. "" returns root. Borrowed from root. Segments
 * longer than 255 bytes never match. */
const json_t *json_path(const json_t *root, const char *dotted);

/* json_path + string check: the string at the path or NULL. */
const char *json_path_str(const json_t *root, const char *dotted);

/* Parses n bytes at p (any JSON value at top level). KT_ERR_INVALID when the
 * arrays/objects nest deeper than max_depth (0 = JSON_DEFAULT_MAX_DEPTH) or
 * the text is not valid JSON (message with line/column), or it contains
 * \u0000. On success *out is a new reference (json_decref). */
kt_status json_parse_bounded(const char *p, size_t n, size_t max_depth, json_t **out, kt_err *err);

/* What json_parse_bounded_opts may leave out of the tree. */
typedef struct json_parse_opts {
    /* A member named `drop` is not built into an object that already holds
     * a member named `if_present` (both NULL: nothing dropped). For
     * documents that carry the same data twice under an old and a new name
     * when every reader prefers the new one (Spotify's playlist items send
     * the track as "item" and again as the deprecated "track"): the
     * duplicate's syntax is still checked (not its UTF-8: it is never
     * built). Only a member that comes after `if_present` is dropped. */
    const char *drop;
    const char *if_present;
    /* A member named `never` is not built into any object (NULL: none),
     * for data no reader uses that would dominate the tree (Spotify's
     * available_markets: ~180 country codes per track and per album in
     * extended mode). Its value is checked as a dropped one is. */
    const char *never;
} json_parse_opts;

/* json_parse_bounded with opts (NULL = none); same contract otherwise. */
kt_status json_parse_bounded_opts(const char *p, size_t n, size_t max_depth,
                                  const json_parse_opts *opts, json_t **out, kt_err *err);

#endif

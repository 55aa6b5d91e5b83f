/* router.h - matching a request path against the route table (private to src/http).
 *
 * The server calls http_router_match once per request, before the body is
 * read, to pick the handler, the path parameters and the status for paths
 * that do not match (404, 405 with Allow). It works on the raw
 * (still percent-encoded) path: every segment is decoded on its own, so an
 * encoded slash can never turn one segment into two, and "." / ".." segments
 * (raw or encoded) are refused as path traversal. Pure functions with no
 * I/O, also driven directly by the unit tests and the query fuzzer.
 *
 * Patterns: "/api/jobs/{id}" ({name} matches one non-empty segment, captured
 * percent-decoded), "/assets/" + "*" (a trailing "*" segment matches the rest, zero or
 * more segments, captured under the name "*" as the decoded segments joined
 * by '/'). Literal segments compare with the decoded request segment. When
 * several routes match, the most specific wins: at the first segment where
 * they differ, a literal beats a parameter and a parameter beats "*"; ties go
 * to the earlier route in the table.
 */
#ifndef KT_HTTP_ROUTER_H
#define KT_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "http/http.h"

#define HTTP_ROUTER_MAX_PARAMS 8     /* {name} segments per pattern (plus "*") */
#define HTTP_ROUTER_MAX_SEGMENTS 64  /* path segments accepted in a request */
#define HTTP_ROUTER_MAX_PATH 4096    /* bytes of raw path accepted */

typedef enum http_match_outcome {
    HTTP_MATCH_OK = 0,      /* route set, params filled */
    HTTP_MATCH_NO_ROUTE,    /* 404: no pattern matches the path */
    HTTP_MATCH_BAD_METHOD,  /* 405: a pattern matches, not with this method; see allow */
} http_match_outcome;

typedef struct http_param {
    char *name;   /* owned; "*" for the rest of a wildcard route */
    char *value;  /* owned, percent-decoded */
} http_param;

typedef struct http_match {
    http_match_outcome outcome;
    const http_route *route;    /* HTTP_MATCH_OK: the matched row (borrowed from the table) */
    size_t nparams;
    http_param params[HTTP_ROUTER_MAX_PARAMS + 1];
    char allow[160];            /* HTTP_MATCH_BAD_METHOD: "GET, HEAD, POST" */
} http_match;

/* Checks a route table once, at server start: method an upper-case token,
 * pattern starting with '/', well-formed {name} segments (at most
 * HTTP_ROUTER_MAX_PARAMS, names of [A-Za-z0-9_]), "*" only as the last
 * segment, a handler. KT_ERR_INVALID naming the bad row otherwise. */
kt_status http_router_validate(const http_route *routes, size_t n, kt_err *err);

/* Matches method + raw_path (percent-encoded, no query string) against a
 * validated table. On KT_OK *out holds the outcome (free it with
 * http_match_free). KT_ERR_INVALID (code "bad_path", answered as 400) for a
 * path that is not "/..." or is too long, has too many segments, a bad
 * percent-escape, an encoded NUL or '/', or a "." / ".." segment;
 * KT_ERR_NOMEM. HEAD is answered by GET routes. *out is written only on
 * success. Thread-safe. */
kt_status http_router_match(const http_route *routes, size_t n, const char *method,
                            const char *raw_path, http_match *out, kt_err *err);

/* The value of a captured parameter, or NULL. Borrowed from m. */
const char *http_match_param(const http_match *m, const char *name);

/* 1 when s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF). Used for path segments and query strings, so
 * handlers only ever see text they can store and put into JSON. */
int http_utf8_valid(const char *s);

/* The length (1..4) of the well-formed UTF-8 character at s, which has
 * `avail` bytes, with its code point into *cp (when cp is not NULL); 0 for
 * a byte that does not start one (bad lead or continuation, truncated,
 * overlong, surrogate, past U+10FFFF). Thread-safe. */
size_t http_utf8_char(const char *s, size_t avail, uint32_t *cp);

/* Frees the captured parameters; m itself is the caller's. NULL is a no-op. */
void http_match_free(http_match *m);

#endif

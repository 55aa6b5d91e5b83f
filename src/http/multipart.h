/* multipart.h - splitting a multipart/form-data body (RFC 7578) into its
 * file parts, for upload routes (routes_history.c).
 *
 * Hand-written because the server hands handlers the whole (size-capped)
 * body, and libmicrohttpd's post processor works only on the live
 * connection while the body arrives, which the server edge does not
 * expose. The splitter only finds the parts and their Content-Disposition
 * filename; bounded counts and sizes throughout. Pure (no I/O, no globals):
 * fuzzed by tests/fuzz/fuzz_multipart.c.
 */
#ifndef KT_HTTP_MULTIPART_H
#define KT_HTTP_MULTIPART_H

#include <stddef.h>

#include "core/err.h"

#define HTTP_MULTIPART_MAX_PARTS 64     /* file parts per body */
#define HTTP_MULTIPART_MAX_HEADERS 8192 /* bytes of one part's header block */
#define HTTP_MULTIPART_MAX_NAME 200     /* bytes of a cleaned file name */
#define HTTP_MULTIPART_MAX_BOUNDARY 70  /* RFC 2046 */

typedef struct http_part {
    char name[HTTP_MULTIPART_MAX_NAME + 1]; /* see http_clean_filename */
    const char *data;                       /* borrowed from the body */
    size_t len;
} http_part;

typedef struct http_parts {
    http_part part[HTTP_MULTIPART_MAX_PARTS];
    size_t n;
} http_parts;

/* Copies a file name for reports, keys and (restore) playlist names: base
 * name only (after the last '/' or '\\'), printable ASCII and well-formed
 * UTF-8 characters (not C1 controls) kept, '"' and any other byte as '_',
 * at most HTTP_MULTIPART_MAX_NAME bytes (never cutting a character);
 * "upload" when nothing is left. The result is valid UTF-8. */
void http_clean_filename(const char *s, size_t len, char out[HTTP_MULTIPART_MAX_NAME + 1]);

/* The value of parameter `name` in a header value such as
 * `form-data; name="f"; filename="a.json"` (quotes removed, borrowed from
 * v); 0 when absent or its quoted string does not end. */
int http_header_param(const char *v, size_t vlen, const char *name, const char **out,
                      size_t *out_len);

/* Finds the parts with a filename of body[0..len) (content_type is the
 * request's Content-Type, which carries the boundary; NUL-terminated).
 * Parts without a filename (ordinary form fields) are skipped. On KT_OK
 * out->part[0..n) point into body, n >= 1. KT_ERR_INVALID with code
 * "bad_multipart" (no boundary, headers that do not end within
 * HTTP_MULTIPART_MAX_HEADERS, a truncated body), "too_many_files" or
 * "no_file". *out is written on every call (its parts are meaningful only
 * on KT_OK). Thread-safe. */
kt_status http_multipart_split(const char *body, size_t len, const char *content_type,
                               http_parts *out, kt_err *err);

#endif

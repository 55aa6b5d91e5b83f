/* request.h - the pure parts of the emulator's request handling, kept apart
 * from libmicrohttpd so they can be fuzzed (tests/fuzz/fuzz_emulator_request.c):
 *
 *  - application/x-www-form-urlencoded bodies (POST /api/token): hand-written
 *    because the body is already buffered (with a cap) by the server, and
 *    MHD's post processor wants the upload stream;
 *  - splitting a decoded request path into segments and matching them against
 *    a route template such as "/v1/playlists/{id}/items".
 *
 * Allocation failures abort (util.h's policy). No globals; thread-safe.
 */
#ifndef EM_REQUEST_H
#define EM_REQUEST_H

#include <stddef.h>

#define EM_FORM_MAX_FIELDS 24 /* fields kept from one form body; the rest ignored */
#define EM_PATH_MAX_SEGS 12   /* path segments of the longest route, with room */
#define EM_ROUTE_MAX_CAPS 4   /* {name} captures per template */

typedef struct em_form {
    char *keys[EM_FORM_MAX_FIELDS], *vals[EM_FORM_MAX_FIELDS]; /* owned, decoded */
    int n;
} em_form;

/* Parses a NUL-terminated form body ('&'-separated key=value, '+' = space,
 * %XX escapes; a malformed escape is kept as is; empty fields skipped; a
 * key without '=' gets ""). Overwrites *f; free with em_form_free. */
void em_form_parse(const char *body, em_form *f);
/* The value of the first field named k, or NULL. Borrowed from f. */
const char *em_form_get(const em_form *f, const char *k);
/* Wipes the values (they hold secrets: codes, verifiers, refresh tokens)
 * and frees the fields. */
void em_form_free(em_form *f);

/* Splits path (modified: '/' become NULs) into at most EM_PATH_MAX_SEGS
 * non-empty segments pointing into it. Returns the count, or -1 when the
 * path has more segments (no route is that long). */
int em_path_split(char *path, const char *segs[EM_PATH_MAX_SEGS]);

/* 1 when the segments match template tmpl segment by segment ({name}
 * matches any one segment), filling caps[0..] with the captured segments
 * (at most EM_ROUTE_MAX_CAPS; the rest of caps untouched); 0 otherwise. */
int em_route_matches(const char *tmpl, const char *const *segs, int nseg,
                     const char *caps[EM_ROUTE_MAX_CAPS]);

#endif

/* fuzz_emulator_request.c - fuzz harness: the emulator's request handling
 * that does not need a socket (emulator/request.h): the form body parser of
 * POST /api/token and the path router.
 *
 * Input: a path up to the first '\n', then a form body. Properties:
 * - the form keeps at most EM_FORM_MAX_FIELDS fields; em_form_get finds the
 *   first of each key; a body re-encoded from the parsed fields (every byte
 *   %XX-escaped) parses back to the same fields (round trip);
 * - em_path_split gives non-empty segments without '/', or -1 past
 *   EM_PATH_MAX_SEGS; every emulator route template is matched without
 *   crashing, a capture is always one of the segments, and a path built
 *   from a template (each {name} replaced by a segment) matches it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

#define MAX_INPUT 65536

static const char *const templates[] = {
    "/authorize", "/api/token", "/v1/me", "/v1/me/tracks", "/v1/me/top/{type}",
    "/v1/me/player/recently-played", "/v1/users/{id}/playlists", "/v1/playlists/{id}",
    "/v1/playlists/{id}/items", "/v1/playlists/{id}/followers", "/v1/artists/{id}/albums",
    "/v1/browse/new-releases", "/", "/{a}/{b}/{c}/{d}/{e}",
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_emulator_request: property broken: %s\n", what);
        abort();
    }
}

static void check_form(const char *body)
{
    em_form f, g;
    em_form_parse(body, &f);
    check(f.n >= 0 && f.n <= EM_FORM_MAX_FIELDS, "field count");
    size_t need = 1;
    for (int i = 0; i < f.n; i++) {
        check(f.keys[i] && f.vals[i], "fields set");
        need += 3 * (strlen(f.keys[i]) + strlen(f.vals[i])) + 2;
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= strcmp(f.keys[j], f.keys[i]) != 0;
        if (first)
            check(em_form_get(&f, f.keys[i]) == f.vals[i], "get returns the first field");
    }
    /* Round trip: every field re-encoded as %XX=%XX (never empty: it has
     * the '='), so each one comes back, in order. */
    char *enc = malloc(need), *o = enc;
    check(enc != NULL, "memory");
    for (int i = 0; i < f.n; i++) {
        if (i)
            *o++ = '&';
        for (const char *p = f.keys[i]; *p; p++)
            o += sprintf(o, "%%%02X", (unsigned char)*p);
        *o++ = '=';
        for (const char *p = f.vals[i]; *p; p++)
            o += sprintf(o, "%%%02X", (unsigned char)*p);
    }
    *o = '\0';
    em_form_parse(enc, &g);
    check(g.n == f.n, "round trip keeps the field count");
    for (int i = 0; i < f.n; i++)
        check(strcmp(f.keys[i], g.keys[i]) == 0 && strcmp(f.vals[i], g.vals[i]) == 0,
              "round trip keeps the fields");
    em_form_free(&g);
    em_form_free(&f);
    free(enc);
}

static void check_routes(const char *path, size_t len)
{
    char *buf = malloc(len + 1);
    check(buf != NULL, "memory");
    memcpy(buf, path, len);
    buf[len] = '\0';
    const char *segs[EM_PATH_MAX_SEGS];
    int nseg = em_path_split(buf, segs);
    check(nseg >= -1 && nseg <= EM_PATH_MAX_SEGS, "segment count");
    for (int i = 0; i < nseg; i++)
        check(segs[i][0] && !strchr(segs[i], '/') && segs[i] >= buf && segs[i] < buf + len,
              "segments non-empty, inside the path");
    for (size_t t = 0; t < NTEMPLATES && nseg >= 0; t++) {
        const char *caps[EM_ROUTE_MAX_CAPS] = {0};
        if (!em_route_matches(templates[t], segs, nseg, caps))
            continue;
        for (int c = 0; c < EM_ROUTE_MAX_CAPS && caps[c]; c++) {
            int found = 0;
            for (int i = 0; i < nseg; i++)
                found |= caps[c] == segs[i];
            check(found, "capture is a segment");
        }
    }
    /* A path made from the template "/v1/playlists/{id}/items" and the
     * first segment (when it has one) matches it, capturing that segment. */
    if (nseg >= 1) {
        const char *mine[] = {"v1", "playlists", segs[0], "items"};
        const char *caps[EM_ROUTE_MAX_CAPS] = {0};
        check(em_route_matches("/v1/playlists/{id}/items", mine, 4, caps) && caps[0] == segs[0],
              "built path matches its template");
        check(!em_route_matches("/v1/playlists/{id}", mine, 4, caps), "longer path does not match");
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - (const char *)data) : size;
    check_routes((const char *)data, plen);
    size_t blen = nl ? size - plen - 1 : 0;
    char *body = malloc(blen + 1);
    check(body != NULL, "memory");
    if (blen)
        memcpy(body, nl + 1, blen);
    body[blen] = '\0';
    check_form(body);
    free(body);
    return 0;
}

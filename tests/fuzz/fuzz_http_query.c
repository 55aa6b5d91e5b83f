/* fuzz_http_query.c - fuzz harness: a request target as the HTTP edge sees it.
 *
 * The input is a request target ("/path?query"). It goes through what
 * src/http/server.c does before a handler runs: split at '?', route the raw
 * path against a fixed table (router.h), parse the query (url.h), and run the
 * cross-site check with the input as the Origin header. Checked properties:
 * - the router either refuses the path with KT_ERR_INVALID / "bad_path"
 *   leaving *out untouched, or decides an outcome; a matched route's {param}
 *   values are non-empty and never contain '/' or '\\' nor equal "." or "..";
 *   the "*" rest never has a "." or ".." segment; 405 lists an Allow set;
 * - the query parser keeps at most URL_QUERY_MAX_PARAMS pairs and each key
 *   is found by url_query_get;
 * - an Origin other than ours never passes the check for POST.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/url.h"
#include "fuzz.h"
#include "http/csrf.h"
#include "http/router.h"

static void h_noop(http_req *r, void *app)
{
    (void)r;
    (void)app;
}

static const http_route table[] = {
    {"GET", "/", h_noop, 0},
    {"GET", "/api/jobs/{id}", h_noop, 0},
    {"DELETE", "/api/jobs/{id}", h_noop, 0},
    {"GET", "/api/jobs/stats", h_noop, 0},
    {"GET", "/api/users/{uid}/playlists/{pid}", h_noop, 0},
    {"POST", "/api/playlists/{id}/shuffle", h_noop, 0},
    {"GET", "/assets/*", h_noop, 0},
    {"GET", "/*", h_noop, 0},
};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_query: property broken: %s\n", what);
        abort();
    }
}

static void check_rest(const char *rest)
{
    const char *p = rest;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        check(!(len == 1 && p[0] == '.') && !(len == 2 && p[0] == '.' && p[1] == '.'), "no dot segment in *");
        if (!end)
            break;
        p = end + 1;
    }
}

static void route(const char *method, const char *path)
{
    http_match m;
    kt_err e;
    kt_status st;

    memset(&m, 0xa5, sizeof m);
    st = http_router_match(table, sizeof table / sizeof table[0], method, path, &m, &e);
    if (st != KT_OK) {
        check(st == KT_ERR_INVALID || st == KT_ERR_NOMEM, "router error status");
        if (st == KT_ERR_INVALID)
            check(!strcmp(e.code, "bad_path") && e.msg[0], "bad_path with a message");
        check(((unsigned char *)&m)[0] == 0xa5, "out untouched on error");
        return;
    }
    if (m.outcome == HTTP_MATCH_OK) {
        check(m.route != NULL, "matched route set");
        for (size_t i = 0; i < m.nparams; i++) {
            const char *v = m.params[i].value;
            if (!strcmp(m.params[i].name, "*")) {
                check_rest(v);
                continue;
            }
            check(v[0] != '\0', "param non-empty");
            check(!strchr(v, '/') && !strchr(v, '\\'), "no slash in a param");
            check(strcmp(v, ".") != 0 && strcmp(v, "..") != 0, "no dot param");
        }
    } else if (m.outcome == HTTP_MATCH_BAD_METHOD) {
        check(m.allow[0] != '\0', "405 has an Allow list");
    } else {
        check(m.outcome == HTTP_MATCH_NO_ROUTE, "known outcome");
    }
    http_match_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target, *q;
    url_kv *kv = NULL;
    size_t n = 0;
    kt_err e;

    if (size > URL_QUERY_MAX_LEN + 4096)
        return 0;
    target = malloc(size + 1);
    if (!target)
        return 0;
    memcpy(target, data, size);
    target[size] = '\0';

    check(http_csrf_allowed("POST", target, NULL, "http://127.0.0.1:8080") == 0 ||
              strncasecmp(target, "http://127.0.0.1:", 17) == 0,
          "a foreign Origin is refused");

    q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    route("GET", target);
    route("DELETE", target);
    route("HEAD", target);
    if (q && url_query_parse(q, &kv, &n, &e) == KT_OK) {
        check(n <= URL_QUERY_MAX_PARAMS, "query pairs bounded");
        for (size_t i = 0; i < n; i++)
            check(url_query_get(kv, n, kv[i].key) != NULL, "every key found");
        url_query_free(kv, n);
    }
    free(target);
    return 0;
}

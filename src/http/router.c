/* router.c - route table validation and path matching (see router.h).
 *
 * The request path is split into raw segments and each is percent-decoded
 * on its own, which is what makes "%2F" inside a parameter harmless (it is
 * refused rather than becoming a separator) and lets "." / ".." be refused
 * in both spellings. Patterns are re-split on every match: tables are small
 * (tens of rows) and this keeps the table a plain const array.
 */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/url.h"

enum { SEG_WILD = 0, SEG_PARAM = 1, SEG_LIT = 2 };

typedef struct seg {
    const char *p;
    size_t len;
    int kind;
} seg;

/* Splits a pattern into segments. Returns the count, or -1 when there are
 * more than max. A pattern always starts with '/', so "/" is one empty
 * literal segment. */
static int pattern_split(const char *pattern, seg *out, size_t max)
{
    size_t n = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == max)
            return -1;
        out[n].p = p;
        out[n].len = len;
        if (len == 1 && p[0] == '*')
            out[n].kind = SEG_WILD;
        else if (len >= 2 && p[0] == '{' && p[len - 1] == '}')
            out[n].kind = SEG_PARAM;
        else
            out[n].kind = SEG_LIT;
        n++;
        if (!end)
            break;
        p = end + 1;
    }
    return (int)n;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static kt_status validate_route(const http_route *r, size_t i, kt_err *err)
{
    seg segs[HTTP_ROUTER_MAX_SEGMENTS];
    size_t mlen;
    int n, nparams = 0;

    if (!r->method || !r->pattern || !r->fn)
        return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu: method, pattern and handler are required", i);
    mlen = strlen(r->method);
    if (mlen == 0 || mlen > 15)
        return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu: method must be 1..15 letters", i);
    for (size_t k = 0; k < mlen; k++)
        if (r->method[k] < 'A' || r->method[k] > 'Z')
            return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu: method must be upper-case letters", i);
    if (r->pattern[0] != '/' || strlen(r->pattern) > HTTP_ROUTER_MAX_PATH)
        return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): pattern must start with '/'", i,
                       r->pattern);
    n = pattern_split(r->pattern, segs, HTTP_ROUTER_MAX_SEGMENTS);
    if (n < 0)
        return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): too many segments", i, r->pattern);
    for (int k = 0; k < n; k++) {
        const seg *s = &segs[k];
        if (s->kind == SEG_WILD && k != n - 1)
            return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): '*' must be the last segment", i,
                           r->pattern);
        if (s->kind == SEG_PARAM) {
            if (++nparams > HTTP_ROUTER_MAX_PARAMS)
                return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): more than %d parameters", i,
                               r->pattern, HTTP_ROUTER_MAX_PARAMS);
            for (size_t c = 1; c + 1 < s->len; c++)
                if (!is_name_char(s->p[c]))
                    return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): bad parameter name", i,
                                   r->pattern);
            if (s->len == 2)
                return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): empty parameter name", i,
                               r->pattern);
        }
        if (s->kind == SEG_LIT && (memchr(s->p, '{', s->len) || memchr(s->p, '}', s->len) ||
                                   memchr(s->p, '*', s->len) || memchr(s->p, '%', s->len)))
            return err_set(err, KT_ERR_INVALID, "bad_route", "route %zu (%s): malformed segment", i,
                           r->pattern);
    }
    return KT_OK;
}

kt_status http_router_validate(const http_route *routes, size_t n, kt_err *err)
{
    if (!routes && n > 0)
        return err_set(err, KT_ERR_INVALID, "bad_route", "route table is NULL");
    for (size_t i = 0; i < n; i++) {
        kt_status st = validate_route(&routes[i], i, err);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

/* Splits and decodes the request path into dec[] (each malloc'd). On error
 * the already decoded segments are left in dec[0..*n) for the caller to free. */
static kt_status path_decode(const char *raw, char **dec, size_t *n, kt_err *err)
{
    const char *p;
    size_t len = strnlen(raw, HTTP_ROUTER_MAX_PATH + 1);

    *n = 0;
    if (raw[0] != '/')
        return err_set(err, KT_ERR_INVALID, "bad_path", "the request path must start with '/'");
    if (len > HTTP_ROUTER_MAX_PATH)
        return err_set(err, KT_ERR_INVALID, "bad_path", "the request path is longer than %d bytes",
                       HTTP_ROUTER_MAX_PATH);
    p = raw + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t slen = end ? (size_t)(end - p) : strlen(p);
        kt_status st;
        if (*n == HTTP_ROUTER_MAX_SEGMENTS)
            return err_set(err, KT_ERR_INVALID, "bad_path", "the request path has more than %d segments",
                           HTTP_ROUTER_MAX_SEGMENTS);
        st = url_decode(p, slen, &dec[*n]);
        if (st == KT_ERR_NOMEM)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory decoding the path");
        if (st != KT_OK)
            return err_set(err, KT_ERR_INVALID, "bad_path", "the request path has a bad percent-escape");
        (*n)++;
        if (strchr(dec[*n - 1], '/') || strchr(dec[*n - 1], '\\'))
            return err_set(err, KT_ERR_INVALID, "bad_path", "encoded slashes are not allowed in the path");
        if (!http_utf8_valid(dec[*n - 1]))
            return err_set(err, KT_ERR_INVALID, "bad_path", "the request path is not valid UTF-8");
        if (!strcmp(dec[*n - 1], ".") || !strcmp(dec[*n - 1], ".."))
            return err_set(err, KT_ERR_INVALID, "bad_path", "'.' and '..' segments are not allowed in the path");
        if (!end)
            break;
        p = end + 1;
    }
    return KT_OK;
}

/* Matches one pattern against the decoded segments; fills kinds[] (one per
 * pattern segment) for the specificity comparison. */
static int path_matches(const char *pattern, char *const *dec, size_t ndec, int *kinds, size_t *nkinds)
{
    seg segs[HTTP_ROUTER_MAX_SEGMENTS];
    int n = pattern_split(pattern, segs, HTTP_ROUTER_MAX_SEGMENTS);
    if (n < 0)
        return 0;
    for (int k = 0; k < n; k++) {
        kinds[k] = segs[k].kind;
        if (segs[k].kind == SEG_WILD) {
            *nkinds = (size_t)k + 1;
            return 1;
        }
        if ((size_t)k >= ndec)
            return 0;
        if (segs[k].kind == SEG_PARAM && dec[k][0] == '\0')
            return 0;
        if (segs[k].kind == SEG_LIT &&
            (strlen(dec[k]) != segs[k].len || memcmp(dec[k], segs[k].p, segs[k].len) != 0))
            return 0;
    }
    *nkinds = (size_t)n;
    return (size_t)n == ndec;
}

/* >0 when a is more specific than b. */
static int specificity_cmp(const int *a, size_t na, const int *b, size_t nb)
{
    for (size_t i = 0; i < na && i < nb; i++)
        if (a[i] != b[i])
            return a[i] - b[i];
    return 0;
}

static int method_serves(const char *route_method, const char *method)
{
    return !strcmp(route_method, method) || (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"));
}

static void allow_add(char *allow, size_t size, const char *method)
{
    size_t len = strlen(allow), mlen = strlen(method);
    const char *p = allow;
    while ((p = strstr(p, method)) != NULL) { /* already listed? */
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
        p += mlen;
    }
    if (len + mlen + 3 > size)
        return;
    if (len)
        strcat(allow, ", ");
    strcat(allow, method);
}

static kt_status capture_params(const char *pattern, char *const *dec, size_t ndec, http_match *m, kt_err *err)
{
    seg segs[HTTP_ROUTER_MAX_SEGMENTS];
    int n = pattern_split(pattern, segs, HTTP_ROUTER_MAX_SEGMENTS);

    for (int k = 0; k < n; k++) {
        http_param *prm;
        if (segs[k].kind == SEG_LIT)
            continue;
        prm = &m->params[m->nparams];
        if (segs[k].kind == SEG_PARAM) {
            prm->name = strndup(segs[k].p + 1, segs[k].len - 2);
            prm->value = strdup(dec[k]);
        } else {
            size_t total = 1;
            for (size_t i = (size_t)k; i < ndec; i++)
                total += strlen(dec[i]) + 1;
            prm->name = strdup("*");
            prm->value = calloc(1, total);
            if (prm->value)
                for (size_t i = (size_t)k; i < ndec; i++) {
                    if (i > (size_t)k)
                        strcat(prm->value, "/");
                    strcat(prm->value, dec[i]);
                }
        }
        m->nparams++;
        if (!prm->name || !prm->value)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory capturing path parameters");
    }
    return KT_OK;
}

kt_status http_router_match(const http_route *routes, size_t n, const char *method, const char *raw_path,
                            http_match *out, kt_err *err)
{
    char *dec[HTTP_ROUTER_MAX_SEGMENTS];
    size_t ndec = 0;
    int best_kinds[HTTP_ROUTER_MAX_SEGMENTS], kinds[HTTP_ROUTER_MAX_SEGMENTS];
    size_t best_n = 0, nk = 0;
    const http_route *best = NULL;
    http_match m;
    kt_status st;

    memset(&m, 0, sizeof m);
    if (!method || !raw_path) {
        st = err_set(err, KT_ERR_INVALID, "bad_path", "no method or path");
        goto out;
    }
    st = path_decode(raw_path, dec, &ndec, err);
    if (st != KT_OK)
        goto out;

    for (size_t i = 0; i < n; i++) {
        if (!path_matches(routes[i].pattern, dec, ndec, kinds, &nk))
            continue;
        if (!method_serves(routes[i].method, method)) {
            allow_add(m.allow, sizeof m.allow, routes[i].method);
            if (!strcmp(routes[i].method, "GET"))
                allow_add(m.allow, sizeof m.allow, "HEAD");
            continue;
        }
        if (!best || specificity_cmp(kinds, nk, best_kinds, best_n) > 0) {
            best = &routes[i];
            memcpy(best_kinds, kinds, nk * sizeof kinds[0]);
            best_n = nk;
        }
    }
    if (best) {
        m.outcome = HTTP_MATCH_OK;
        m.route = best;
        m.allow[0] = '\0';
        st = capture_params(best->pattern, dec, ndec, &m, err);
        if (st != KT_OK)
            goto out;
    } else {
        m.outcome = m.allow[0] ? HTTP_MATCH_BAD_METHOD : HTTP_MATCH_NO_ROUTE;
    }
    *out = m;
    memset(&m, 0, sizeof m);
    st = KT_OK;
out:
    http_match_free(&m);
    for (size_t i = 0; i < ndec; i++)
        free(dec[i]);
    return st;
}

size_t http_utf8_char(const char *s, size_t avail, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned need, min;
    uint32_t v;
    if (avail == 0)
        return 0;
    if (p[0] < 0x80) {
        v = p[0], need = 0, min = 0;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        need = 1, min = 0x80, v = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 2, min = 0x800, v = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 3, min = 0x10000, v = p[0] & 0x07;
    } else {
        return 0;
    }
    if (need >= avail)
        return 0;
    for (unsigned i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    if (cp)
        *cp = v;
    return need + 1;
}

int http_utf8_valid(const char *s)
{
    size_t left = strlen(s);
    while (left > 0) {
        size_t n = http_utf8_char(s, left, NULL);
        if (n == 0)
            return 0;
        s += n;
        left -= n;
    }
    return 1;
}

const char *http_match_param(const http_match *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name))
            return m->params[i].value;
    return NULL;
}

void http_match_free(http_match *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nparams; i++) {
        free(m->params[i].name);
        free(m->params[i].value);
    }
    m->nparams = 0;
}

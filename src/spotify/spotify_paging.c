/* spotify_paging.c - the calls callers make: one request, several in
 * parallel, and the two paging walks, all on top of spotify_batch_run.
 *
 * Offset paging reads `total` from the first page and fetches the rest in
 * parallel; pages are handed to the caller strictly in order. Pages that
 * arrive early wait in memory, and the engine starts page i only while i is
 * within a window of the first undelivered page, so memory stays bounded
 * (window x page size) however long the collection. Cursor paging follows
 * `next` one page at a time (the cursor is only known from the page before).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "spotify/spotify_internal.h"

/* A walk never fetches more pages than this (10 M items at 50 a page). */
#define MAX_PAGES 200000
/* Pages fetched ahead of the first undelivered one, per unit of concurrency. */
#define WINDOW_PER_SLOT 4

static const char *known_method(const char *m)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", NULL};
    for (size_t i = 0; m && methods[i]; i++)
        if (strcmp(m, methods[i]) == 0)
            return methods[i];
    return NULL;
}

static kt_status check_path(const char *path, kt_err *err)
{
    if (!path || path[0] != '/')
        return err_set(err, KT_ERR_INVALID, NULL, "Spotify API path must start with '/'");
    if (strlen(path) > 3000)
        return err_set(err, KT_ERR_INVALID, NULL, "Spotify API path too long");
    return KT_OK;
}

kt_status spotify_request(spotify_client *c, int64_t user_id, const char *method,
                          const char *path, const json_t *body, long *status_out, json_t **out,
                          kt_err *err)
{
    const char *m = known_method(method);
    kt_status st;
    if (!c || !m)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_request: bad method");
    if ((st = check_path(path, err)) != KT_OK)
        return st;
    spotify_req r;
    memset(&r, 0, sizeof r);
    r.method = m;
    r.path = strdup(path);
    if (body)
        r.body = json_dumps(body, JSON_COMPACT);
    if (!r.path || (body && !r.body)) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    spotify_batch b = {.c = c, .user_id = user_id, .reqs = &r, .n = 1};
    if ((st = spotify_batch_run(&b, err)) != KT_OK)
        goto out;
    if (status_out)
        *status_out = r.status;
    if (out) {
        *out = r.json;
        r.json = NULL;
    }
out:
    spotify_reqs_clear(&r, 1);
    return st;
}

kt_status spotify_get(spotify_client *c, int64_t user_id, const char *path, json_t **out,
                      kt_err *err)
{
    return spotify_request(c, user_id, "GET", path, NULL, NULL, out, err);
}

/* Allocates n GET requests for paths (checked). Caller frees with
 * spotify_reqs_clear + free, also on error (*out is set either way). */
static kt_status new_get_reqs(const char *const *paths, size_t n, spotify_req **out, kt_err *err)
{
    spotify_req *reqs = calloc(n, sizeof *reqs);
    *out = reqs;
    if (!reqs)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        kt_status st = check_path(paths[i], err);
        if (st != KT_OK)
            return st;
        reqs[i].method = "GET";
        if (!(reqs[i].path = strdup(paths[i])))
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    }
    return KT_OK;
}

kt_status spotify_get_many(spotify_client *c, int64_t user_id, const char *const *paths, size_t n,
                           json_t **outs, kt_err *err)
{
    kt_status st = KT_OK;
    if (!c || (n && (!paths || !outs)))
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_get_many: missing argument");
    if (n == 0)
        return KT_OK;
    if (n > MAX_PAGES)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_get_many: too many requests (%zu)", n);
    spotify_req *reqs = NULL;
    if ((st = new_get_reqs(paths, n, &reqs, err)) != KT_OK)
        goto out;
    spotify_batch b = {.c = c, .user_id = user_id, .reqs = reqs, .n = n};
    if ((st = spotify_batch_run(&b, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        outs[i] = reqs[i].json;
        reqs[i].json = NULL;
    }
out:
    spotify_reqs_clear(reqs, n);
    free(reqs);
    return st;
}

/* The paging object of a page: the page itself or page[wrap_key]. */
static const json_t *unwrap(const json_t *j, const char *wrap_key)
{
    const json_t *p = wrap_key ? json_object_get(j, wrap_key) : j;
    return json_is_object(p) ? p : NULL;
}

static kt_status deliver(const json_t *page_json, const char *wrap_key, const char *what,
                         spotify_page_fn fn, void *ctx, kt_err *err)
{
    const json_t *page = unwrap(page_json, wrap_key);
    if (!page)
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                       "Spotify's answer to %s holds no paging object%s%s", what,
                       wrap_key ? " under " : "", wrap_key ? wrap_key : "");
    return fn(ctx, page, err);
}

typedef struct offset_walk {
    spotify_req *reqs;
    size_t n;
    size_t next;        /* next page index to deliver */
    const char *wrap_key;
    const char *path;
    spotify_page_fn fn;
    void *ctx;
} offset_walk;

/* Delivers every page that is now next in line, freeing each after use. */
static kt_status offset_on_done(void *ctx, size_t idx, kt_err *err)
{
    offset_walk *w = ctx;
    (void)idx;
    while (w->next < w->n && w->reqs[w->next].ready) {
        spotify_req *r = &w->reqs[w->next];
        kt_status st = deliver(r->json, w->wrap_key, w->path, w->fn, w->ctx, err);
        json_decref(r->json);
        r->json = NULL;
        w->next++;
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

typedef struct each_walk {
    spotify_req *reqs;
    size_t n;
    size_t next; /* next body to deliver */
    spotify_each_fn fn;
    void *ctx;
} each_walk;

static kt_status each_on_done(void *ctx, size_t idx, kt_err *err)
{
    each_walk *w = ctx;
    (void)idx;
    while (w->next < w->n && w->reqs[w->next].ready) {
        spotify_req *r = &w->reqs[w->next];
        kt_status st = w->fn(w->ctx, w->next, r->json, err);
        json_decref(r->json);
        r->json = NULL;
        w->next++;
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

kt_status spotify_get_each(spotify_client *c, int64_t user_id, const char *const *paths, size_t n,
                           spotify_each_fn fn, void *ctx, kt_err *err)
{
    kt_status st = KT_OK;
    if (!c || !fn || (n && !paths))
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_get_each: missing argument");
    if (n == 0)
        return KT_OK;
    if (n > MAX_PAGES)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_get_each: too many requests (%zu)", n);
    spotify_req *reqs = NULL;
    if ((st = new_get_reqs(paths, n, &reqs, err)) != KT_OK)
        goto out;
    each_walk w = {.reqs = reqs, .n = n, .fn = fn, .ctx = ctx};
    spotify_batch b = {.c = c, .user_id = user_id, .reqs = reqs, .n = n,
                       .max_ahead = (size_t)c->concurrency * WINDOW_PER_SLOT,
                       .on_done = each_on_done, .ctx = &w};
    if ((st = spotify_batch_run(&b, err)) == KT_OK && w.next != n)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "spotify_get_each ended with undelivered bodies");
out:
    spotify_reqs_clear(reqs, n);
    free(reqs);
    return st;
}

static char *page_path(const char *path, int limit, int64_t offset)
{
    char *p = NULL;
    if (asprintf(&p, "%s%climit=%d&offset=%lld", path, strchr(path, '?') ? '&' : '?', limit,
                 (long long)offset) < 0)
        return NULL;
    return p;
}

/* Checks what both offset walks share; the caller's first page is offset 0. */
static kt_status check_offset_args(spotify_client *c, const char *path, int page_size,
                                   spotify_page_fn fn, kt_err *err)
{
    kt_status st;
    if (!c || !fn)
        return err_set(err, KT_ERR_INVALID, NULL, "offset walk: missing argument");
    if ((st = check_path(path, err)) != KT_OK)
        return st;
    if (strstr(path, "offset=") || strstr(path, "limit="))
        return err_set(err, KT_ERR_INVALID, NULL,
                       "offset walk: the path must not carry limit= or offset=");
    if (page_size < 1 || page_size > SPOTIFY_PAGE_MAX)
        return err_set(err, KT_ERR_INVALID, NULL, "page size must be 1..%d, got %d",
                       SPOTIFY_PAGE_MAX, page_size);
    return KT_OK;
}

kt_status spotify_get_offset_rest(spotify_client *c, int64_t user_id, const char *path,
                                  int page_size, int64_t total, const char *wrap_key,
                                  spotify_page_fn fn, void *ctx, kt_err *err)
{
    spotify_req *reqs = NULL;
    size_t n = 0;
    kt_status st = check_offset_args(c, path, page_size, fn, err);
    if (st != KT_OK || total <= page_size)
        return st;
    int64_t pages = (total - page_size + page_size - 1) / page_size;
    if (pages > MAX_PAGES)
        return err_set(err, KT_ERR_TOO_LARGE, "too_many_pages",
                       "%s reports %lld items, more than keeptrack walks (%d pages)", path,
                       (long long)total, MAX_PAGES);
    n = (size_t)pages;
    if (!(reqs = calloc(n, sizeof *reqs))) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i].method = "GET";
        if (!(reqs[i].path = page_path(path, page_size, (int64_t)(i + 1) * page_size))) {
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
    }
    offset_walk w = {.reqs = reqs, .n = n, .wrap_key = wrap_key, .path = path, .fn = fn,
                     .ctx = ctx};
    spotify_batch b = {.c = c, .user_id = user_id, .reqs = reqs, .n = n,
                       .max_ahead = (size_t)c->concurrency * WINDOW_PER_SLOT,
                       .on_done = offset_on_done, .ctx = &w};
    if ((st = spotify_batch_run(&b, err)) != KT_OK)
        goto out;
    if (w.next != n)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "offset walk ended with undelivered pages");
out:
    spotify_reqs_clear(reqs, n);
    free(reqs);
    return st;
}

kt_status spotify_get_all_offset(spotify_client *c, int64_t user_id, const char *path,
                                 int page_size, const char *wrap_key, spotify_page_fn fn,
                                 void *ctx, kt_err *err)
{
    json_t *first = NULL;
    char *first_path = NULL;
    kt_status st = check_offset_args(c, path, page_size, fn, err);
    if (st != KT_OK)
        return st;
    if (!(first_path = page_path(path, page_size, 0))) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if ((st = spotify_get(c, user_id, first_path, &first, err)) != KT_OK)
        goto out;
    const json_t *page = unwrap(first, wrap_key);
    int64_t total = page ? json_int(page, "total", -1) : -1;
    if (total < 0) {
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify's first page of %s has no total", path);
        goto out;
    }
    if ((st = deliver(first, wrap_key, path, fn, ctx, err)) == KT_OK)
        st = spotify_get_offset_rest(c, user_id, path, page_size, total, wrap_key, fn, ctx, err);
out:
    free(first_path);
    json_decref(first);
    return st;
}

/* The API-relative path of `page`'s next link in *np (NULL at the end).
 * `next` is a full URL: it is followed only under our api_url, so a hostile
 * answer can never send the user's token elsewhere. */
static kt_status next_path(spotify_client *c, const json_t *page, const char *path, char **np,
                           kt_err *err)
{
    size_t base = strlen(c->api_url);
    const char *next = page ? json_str(page, "next") : NULL;
    *np = NULL;
    if (!next)
        return KT_OK;
    if (strncmp(next, c->api_url, base) != 0 || next[base] != '/')
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                       "Spotify's next link for %s leaves the API", path);
    if (!(*np = strdup(next + base)))
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    return KT_OK;
}

/* Follows `next` from `cur` (owned, freed) one page at a time; `pages` were
 * already fetched by the caller (they count towards MAX_PAGES). */
static kt_status cursor_walk(spotify_client *c, int64_t user_id, const char *path, char *cur,
                             int pages, const char *wrap_key, spotify_page_fn fn, void *ctx,
                             kt_err *err)
{
    kt_status st = KT_OK;
    for (; cur; pages++) {
        json_t *j = NULL;
        char *np = NULL;
        if (pages >= MAX_PAGES) {
            st = err_set(err, KT_ERR_TOO_LARGE, "too_many_pages",
                         "%s goes on for more than %d pages", path, MAX_PAGES);
            break;
        }
        if ((st = spotify_get(c, user_id, cur, &j, err)) != KT_OK)
            break;
        st = deliver(j, wrap_key, path, fn, ctx, err);
        if (st == KT_OK)
            st = next_path(c, unwrap(j, wrap_key), path, &np, err);
        json_decref(j);
        free(cur);
        cur = np;
        if (st != KT_OK)
            break;
    }
    free(cur);
    return st;
}

kt_status spotify_get_all_cursor(spotify_client *c, int64_t user_id, const char *path,
                                 const char *wrap_key, spotify_page_fn fn, void *ctx,
                                 kt_err *err)
{
    return spotify_get_cursor_guessed(c, user_id, path, wrap_key, -1, NULL, 0, fn, ctx, err);
}

/* The guessed pages of spotify_get_cursor_guessed, delivered while the page
 * before each ended on the cursor it was fetched with. */
typedef struct guess_walk {
    spotify_client *c;
    const char *path, *wrap_key;
    const char *const *after;
    spotify_page_fn fn;
    void *ctx;
    char *last_after;   /* cursors.after of the last page delivered (NULL: none) */
    char *next;         /* its next path (NULL: the walk is complete) */
    int delivered;      /* pages delivered so far, the first included */
} guess_walk;

/* Remembers a delivered page's cursor and next path. */
static kt_status guess_took(guess_walk *w, const json_t *page, kt_err *err)
{
    const char *after = json_str(json_object_get(page, "cursors"), "after");
    free(w->last_after);
    free(w->next);
    w->last_after = NULL;
    w->next = NULL;
    w->delivered++;
    if (after && !(w->last_after = strdup(after)))
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    return next_path(w->c, page, w->path, &w->next, err);
}

static kt_status guess_each(void *ctx, size_t idx, const json_t *body, kt_err *err)
{
    guess_walk *w = ctx;
    kt_status st;
    if (!w->next || !w->last_after || strcmp(w->last_after, w->after[idx]) != 0) {
        /* The list changed (or ended early): stop the batch, whose pages
         * still in flight are not needed; the caller walks on serially. */
        return err_set(err, KT_ERR_CONFLICT, "cursor_guess_missed", "guessed cursor missed");
    }
    const json_t *page = unwrap(body, w->wrap_key);
    if ((st = deliver(body, w->wrap_key, w->path, w->fn, w->ctx, err)) != KT_OK)
        return st;
    return guess_took(w, page, err);
}

/* 1 when a cursor can go into a query string as it is. */
static int plain_cursor(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

kt_status spotify_get_cursor_guessed(spotify_client *c, int64_t user_id, const char *path,
                                     const char *wrap_key, int64_t expect_total,
                                     const char *const *after, size_t n_after,
                                     spotify_page_fn fn, void *ctx, kt_err *err)
{
    kt_status st;
    json_t *j = NULL;
    char **paths = NULL;
    size_t n = 0;
    guess_walk w = {.c = c, .path = path, .wrap_key = wrap_key, .after = after, .fn = fn,
                    .ctx = ctx};
    if (!c || !fn || (n_after && !after))
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_get_all_cursor: missing argument");
    if ((st = check_path(path, err)) != KT_OK)
        return st;
    if ((st = spotify_get(c, user_id, path, &j, err)) != KT_OK)
        return st;
    const json_t *first = unwrap(j, wrap_key);
    if ((st = deliver(j, wrap_key, path, fn, ctx, err)) != KT_OK ||
        (st = guess_took(&w, first, err)) != KT_OK)
        goto out;
    /* Guess only when the list is as long as the guesses say: then, if
     * nothing changed, every page starts where the stored copy's did. */
    int64_t total = json_int(first, "total", -1);
    if (w.next && n_after && total == expect_total && n_after < MAX_PAGES &&
        strlen(path) < 2800) {
        if (!(paths = calloc(n_after, sizeof *paths))) {
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        for (n = 0; n < n_after && plain_cursor(after[n]); n++) {
            size_t len = strlen(path) + strlen(after[n]) + 16;
            if (!(paths[n] = malloc(len))) {
                st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
                goto out;
            }
            snprintf(paths[n], len, "%s%cafter=%s", path, strchr(path, '?') ? '&' : '?',
                     after[n]);
        }
        kt_err e;
        err_clear(&e);
        st = spotify_get_each(c, user_id, (const char *const *)paths, n, guess_each, &w, &e);
        if (st != KT_OK && strcmp(e.code, "cursor_guess_missed") == 0)
            st = KT_OK;
        else if (st != KT_OK) {
            if (err)
                *err = e;
            goto out;
        }
    }
    /* A wrong guess or more pages than guessed: on from the last page taken. */
    char *rest = w.next;
    w.next = NULL;
    st = cursor_walk(c, user_id, path, rest, w.delivered, wrap_key, fn, ctx, err);
out:
    json_decref(j);
    for (size_t i = 0; paths && i < n_after; i++)
        free(paths[i]);
    free(paths);
    free(w.last_after);
    free(w.next);
    return st;
}

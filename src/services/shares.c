/* shares.c - read-only share links (see shares.h; SQL in
 * store/store_shares.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/library.h"
#include "services/shares.h"
#include "store/store_shares.h"

#define DAY_MS 86400000LL
#define PLAYLIST_PREFIX "playlist:"
#define PLAYLIST_ID_MAX 64

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

static kt_status bad(kt_err *err, const char *msg)
{
    return err_set(err, KT_ERR_INVALID, "bad_parameter", "%s", msg);
}

/* The single answer of every failed public read (no oracle: a page the
 * link does not show looks like a link that does not exist). */
static kt_status not_found(kt_err *err)
{
    return err_set(err, KT_ERR_NOT_FOUND, "not_found", "no such shared page");
}

const char *shares_playlist_id(const char *page)
{
    size_t n = strlen(PLAYLIST_PREFIX);
    if (page == NULL || strncmp(page, PLAYLIST_PREFIX, n) != 0)
        return NULL;
    return page + n;
}

/* A Spotify id: 1..PLAYLIST_ID_MAX ASCII letters and digits. */
static int spotify_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > PLAYLIST_ID_MAX)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* ---- rate limiting ----
 *
 * Token buckets, one per client address and one per link, in a fixed table
 * shared by the process (several apps in one process, as in unit tests,
 * share it too: it guards the process's own work). A full table reuses the
 * bucket idle the longest: after burst/rate minutes a bucket is full again,
 * the same as a new one, and a busy bucket is never the idlest. */
#define BUCKETS 1024

typedef struct bucket {
    char key[72]; /* "c:<address>" or "t:<token hash>"; "" = free */
    double tokens;
    int64_t at_ms;
} bucket;

static bucket buckets[BUCKETS];
static pthread_mutex_t buckets_lock = PTHREAD_MUTEX_INITIALIZER;

/* Takes one request from key's bucket. Returns 0 when allowed, else the ms
 * until one is available again. */
static int64_t bucket_take(const char *key, double burst, double per_min, int64_t now_ms)
{
    bucket *b = NULL, *idlest = &buckets[0];
    int64_t wait = 0;
    if (pthread_mutex_lock(&buckets_lock) != 0)
        return 1000; /* cannot happen with a default mutex; refuse rather than let through */
    for (size_t i = 0; i < BUCKETS && b == NULL; i++) {
        if (strcmp(buckets[i].key, key) == 0)
            b = &buckets[i];
        else if (buckets[i].at_ms < idlest->at_ms)
            idlest = &buckets[i];
    }
    if (b == NULL) {
        b = idlest;
        snprintf(b->key, sizeof b->key, "%s", key);
        b->tokens = burst;
        b->at_ms = now_ms;
    }
    if (now_ms > b->at_ms) {
        b->tokens = fmin(burst, b->tokens + (double)(now_ms - b->at_ms) * per_min / 60000.0);
        b->at_ms = now_ms;
    }
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (int64_t)ceil((1.0 - b->tokens) * 60000.0 / per_min);
    pthread_mutex_unlock(&buckets_lock);
    return wait;
}

static kt_status limited(kt_err *err, int64_t now_ms, int64_t wait_ms)
{
    kt_status st = err_set(err, KT_ERR_DEFERRED, "rate_limited",
                           "too many requests for shared pages: try again later");
    err->retry_at_ms = now_ms + wait_ms;
    return st;
}

static kt_status charge(kt_app *app, const char *prefix, const char *what, int64_t now_ms,
                        kt_err *err)
{
    char key[72];
    int burst = app->cfg->share_burst > 0 ? app->cfg->share_burst : 30;
    int rate = app->cfg->share_rate_per_min > 0 ? app->cfg->share_rate_per_min : 60;
    snprintf(key, sizeof key, "%s%s", prefix, what ? what : "");
    int64_t wait = bucket_take(key, burst, rate, now_ms);
    return wait > 0 ? limited(err, now_ms, wait) : KT_OK;
}

/* ---- making and listing links ---- */

/* Checks body["pages"] into a new array of distinct page names. */
static kt_status parse_pages(kt_app *app, int64_t user_id, const json_t *body, json_t **out,
                             kt_err *err)
{
    const json_t *pages = json_object_get(body, "pages"), *v = NULL;
    size_t i = 0;
    json_t *arr = NULL, *versions = NULL;
    kt_status st = KT_OK;
    if (!json_is_array(pages) || json_array_size(pages) == 0 ||
        json_array_size(pages) > SHARES_PAGES_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "pages: expected an array of 1 to %d pages (\"stats\", \"tops\", "
                       "\"playlist:<id>\")",
                       SHARES_PAGES_MAX);
    if ((arr = json_array()) == NULL)
        return nomem(err);
    json_array_foreach(pages, i, v) {
        const char *page = json_string_value(v), *pl = shares_playlist_id(page);
        int seen = 0;
        if (page == NULL || (strcmp(page, "stats") != 0 && strcmp(page, "tops") != 0 &&
                             (pl == NULL || !spotify_id_ok(pl)))) {
            st = bad(err, "pages: each page is \"stats\", \"tops\" or \"playlist:<id>\"");
            goto out;
        }
        if (pl != NULL) {
            /* Only the user's own playlists: the service answers not found
             * for anyone else's. */
            st = library_playlist_versions(app, user_id, pl, &versions, err);
            json_decref(versions);
            versions = NULL;
            if (st == KT_ERR_NOT_FOUND) {
                st = err_set(err, KT_ERR_INVALID, "bad_parameter",
                             "pages: no playlist %s in your library", pl);
                goto out;
            }
            if (st != KT_OK)
                goto out;
        }
        for (size_t j = 0; j < json_array_size(arr) && !seen; j++)
            seen = strcmp(json_string_value(json_array_get(arr, j)), page) == 0;
        if (!seen && json_array_append_new(arr, json_string(page)) != 0) {
            st = nomem(err);
            goto out;
        }
    }
out:
    if (st == KT_OK)
        *out = arr;
    else
        json_decref(arr);
    return st;
}

static json_t *time_or_null(const store_rows *r, size_t row, size_t col)
{
    char iso[32];
    if (store_rows_is_null(r, row, col))
        return json_null();
    time_format_iso8601(store_rows_int(r, row, col), iso);
    return json_string(iso);
}

static json_t *ms_or_null(int64_t ms)
{
    char iso[32];
    if (ms < 0)
        return json_null();
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

kt_status shares_create(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                        json_t **out, kt_err *err)
{
    const json_t *days = json_object_get(body, "expires_in_days"),
                 *label = json_object_get(body, "label");
    json_t *pages = NULL;
    char token[44], hash[65], *pages_text = NULL, *url = NULL;
    int64_t expires_at = -1, id = 0;
    store *s = NULL;
    kt_status st = KT_OK;
    if (!json_is_object(body))
        return bad(err, "body: expected a JSON object");
    if (days != NULL && !json_is_null(days)) {
        if (!json_is_integer(days) || json_integer_value(days) < 1 ||
            json_integer_value(days) > 365)
            return bad(err, "expires_in_days: expected an integer from 1 to 365");
        expires_at = now_ms + (int64_t)json_integer_value(days) * DAY_MS;
    }
    if (label != NULL && !json_is_null(label) &&
        (!json_is_string(label) || json_string_length(label) == 0 ||
         json_string_length(label) > SHARES_LABEL_MAX ||
         strlen(json_string_value(label)) != json_string_length(label)))
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "label: expected text of 1 to %d bytes", SHARES_LABEL_MAX);
    const char *label_text = json_is_string(label) ? json_string_value(label) : NULL;
    if ((st = parse_pages(app, user_id, body, &pages, err)) != KT_OK)
        return st;
    if ((pages_text = json_dumps(pages, JSON_COMPACT)) == NULL) {
        st = nomem(err);
        goto out;
    }
    crypto_random_token(token);
    crypto_sha256_hex(token, strlen(token), hash);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    st = store_share_create(s, user_id, hash, pages_text, label_text, now_ms, expires_at, &id,
                            err);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    const char *base = app->cfg->public_url ? app->cfg->public_url : "";
    size_t n = strlen(base) + sizeof "/#/shared/" + sizeof token;
    if ((url = malloc(n)) == NULL) {
        st = nomem(err);
        goto out;
    }
    snprintf(url, n, "%s/#/shared/%s", base, token);
    *out = json_pack("{s:I,s:s,s:s,s:O,s:o,s:o,s:o}", "id", (json_int_t)id, "token", token,
                     "url", url, "pages", pages,
                     "label", label_text ? json_string(label_text) : json_null(), "created_at",
                     ms_or_null(now_ms), "expires_at", ms_or_null(expires_at));
    if (*out == NULL)
        st = nomem(err);
out:
    free(url);
    free(pages_text);
    json_decref(pages);
    return st;
}

kt_status shares_list(kt_app *app, int64_t user_id, int64_t now_ms, json_t **out, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    json_t *arr = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_share_list(s, user_id, &r, err)) != KT_OK)
        goto out;
    if ((arr = json_array()) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(r); i++) {
        json_t *pages = json_loads(store_rows_text(r, i, 1), 0, NULL);
        const char *label = store_rows_text(r, i, 2);
        int expired = !store_rows_is_null(r, i, 4) && store_rows_int(r, i, 4) <= now_ms;
        json_t *one = json_pack("{s:I,s:o,s:o,s:o,s:o,s:b}", "id",
                                (json_int_t)store_rows_int(r, i, 0), "pages",
                                pages ? pages : json_array(), "label",
                                label ? json_string(label) : json_null(), "created_at",
                                time_or_null(r, i, 3), "expires_at", time_or_null(r, i, 4),
                                "expired", expired);
        if (json_array_append_new(arr, one) != 0) {
            st = nomem(err);
            goto out;
        }
    }
    if ((*out = json_pack("{s:O}", "shares", arr)) == NULL)
        st = nomem(err);
out:
    json_decref(arr);
    store_rows_free(r);
    app_db_put(app, s);
    return st;
}

kt_status shares_delete(kt_app *app, int64_t user_id, int64_t id, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_share_delete(s, user_id, id, err);
    app_db_put(app, s);
    return st;
}

/* ---- public reads ---- */

/* A token as crypto_random_token makes them: 43 base64url characters. */
static int token_ok(const char *t)
{
    size_t n = 0;
    for (; t && t[n]; n++) {
        char c = t[n];
        if (n >= CRYPTO_TOKEN_LEN || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                       (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return n == CRYPTO_TOKEN_LEN;
}

kt_status shares_open(kt_app *app, const char *token, const char *client, const char *page,
                      int64_t now_ms, int64_t *owner, json_t **index, kt_err *err)
{
    char hash[65];
    store *s = NULL;
    store_rows *r = NULL;
    json_t *pages = NULL;
    int shown = 0;
    /* The client's bucket first, for every request: it is what slows down
     * anyone guessing tokens. */
    kt_status st = charge(app, "c:", client, now_ms, err);
    if (st != KT_OK)
        return st;
    if (!token_ok(token))
        return not_found(err);
    crypto_sha256_hex(token, strlen(token), hash);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_share_lookup(s, hash, now_ms, &r, err);
    app_db_put(app, s);
    if (st == KT_ERR_NOT_FOUND)
        return not_found(err);
    if (st != KT_OK)
        return st;
    /* Only live links get a bucket of their own, so unknown tokens cannot
     * crowd the table. */
    if ((st = charge(app, "t:", hash, now_ms, err)) != KT_OK)
        goto out;
    if ((pages = json_loads(store_rows_text(r, 0, 1), 0, NULL)) == NULL ||
        !json_is_array(pages)) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "a share link's pages are not a JSON array");
        goto out;
    }
    for (size_t i = 0; page && i < json_array_size(pages) && !shown; i++) {
        const char *p = json_string_value(json_array_get(pages, i));
        shown = p != NULL && strcmp(p, page) == 0;
    }
    if (page != NULL && !shown) {
        st = not_found(err);
        goto out;
    }
    if (index != NULL && (*index = json_pack("{s:O}", "pages", pages)) == NULL) {
        st = nomem(err);
        goto out;
    }
    *owner = store_rows_int(r, 0, 0);
out:
    json_decref(pages);
    store_rows_free(r);
    return st;
}

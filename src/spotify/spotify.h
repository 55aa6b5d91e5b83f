/* spotify.h - the Spotify Web API and accounts-service client.
 *
 * One request engine on libcurl multi: keep-alive connections (HTTP/2 over
 * TLS where offered) held by a pool of multi handles that calls borrow, DNS
 * and TLS sessions shared by all threads (curl share interface), at most
 * `concurrency` requests in flight per user (shared by all of that user's
 * calls running at once), a per-app request budget (token bucket or a
 * hook), response size caps and timeouts. Every call runs its transfers in
 * the calling thread (a call of several requests parses and delivers the
 * answers on a second thread of its own); no thread is ever put to sleep
 * for a long Retry-After: a long 429 or QUOTA_EXCEEDED
 * returns KT_ERR_DEFERRED with err->retry_at_ms so the caller (the job
 * queue) resumes later.
 *
 * The client never touches the store: it asks its owner for a user's tokens
 * and hands refreshed tokens back through spotify_token_hooks. A user's
 * access token is refreshed only when it expires within a minute, by one
 * caller at a time per user (the others wait and reuse the result); a
 * rotated refresh token is always saved; `invalid_grant` calls hooks.revoked
 * and returns KT_ERR_REAUTH, and is never retried.
 *
 * Errors (kt_err.code), all KT_ERR_FORBIDDEN for 403s: "premium_required",
 * "user_not_allowlisted", "endpoint_unavailable" (not available to this
 * app, e.g. development mode), "not_playlist_owner", "forbidden" (any other
 * 403, e.g. a missing scope); "not_found" (KT_ERR_NOT_FOUND), "bad_request"
 * (KT_ERR_INVALID), "rate_limited" / "quota_exceeded" (KT_ERR_DEFERRED,
 * err->retry_at_ms set), "upstream_failed" (KT_ERR_UPSTREAM: 5xx, timeouts,
 * resets, truncated or malformed bodies after bounded retries; the message
 * names the endpoint and the last failure), "unauthorized" (KT_ERR_UPSTREAM:
 * 401 again after a refresh), "response_too_large" / "too_many_pages"
 * (KT_ERR_TOO_LARGE), "reauth_required" (KT_ERR_REAUTH), "invalid_client"
 * and "bad_config" (KT_ERR_INVALID: the app's credentials or settings).
 * kt_err.upstream_status holds Spotify's HTTP status.
 *
 * Non-idempotent POSTs are retried only when Spotify surely did not act
 * (connect failures, 502/503), so a retry never adds items twice.
 *
 * Thread use: a spotify_client is shared by all threads; every function here
 * is thread-safe.
 */
#ifndef KT_SPOTIFY_SPOTIFY_H
#define KT_SPOTIFY_SPOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct spotify_client spotify_client;

/* user_id value that selects the app's client-credentials token (no user). */
#define SPOTIFY_APP_USER ((int64_t)0)

typedef struct spotify_config {
    const char *accounts_url;   /* e.g. "https://accounts.spotify.com" (no trailing slash) */
    const char *api_url;        /* e.g. "https://api.spotify.com/v1" (no trailing slash) */
    const char *client_id;      /* required */
    const char *client_secret;  /* NULL: public client, PKCE only */
    int concurrency;            /* requests in flight per user, across threads; 0 = 8 */
    double budget_per_sec;      /* app-wide request budget; 0 = unlimited */
    int budget_burst;           /* bucket size; 0 = max(1, budget_per_sec) */
    size_t max_response_bytes;  /* 0 = 16 MiB */
    long timeout_ms;            /* per request; 0 = 30000 */
    int max_retries;            /* 5xx/timeouts/resets/bad bodies; 0 = 4; < 0 = none */
    long max_wait_ms;           /* longest Retry-After waited in-thread; 0 = 5000 */
    long backoff_base_ms;       /* first retry delay bound (full jitter); 0 = 250 */
    long backoff_max_ms;        /* largest retry delay bound; 0 = 8000 */
} spotify_config;

/* One user's tokens. Holds secrets: wipe with spotify_tokens_wipe. */
typedef struct spotify_tokens {
    char access_token[1024];
    char refresh_token[1024];
    char scope[1024];
    int64_t expires_at_ms; /* unix ms */
} spotify_tokens;

void spotify_tokens_wipe(spotify_tokens *t);

typedef struct spotify_token_hooks {
    void *ctx;
    /* Loads the user's current tokens. KT_ERR_REAUTH when the user has none. */
    kt_status (*load)(void *ctx, int64_t user_id, spotify_tokens *out, kt_err *err);
    /* Persists tokens after a refresh; refresh_token may be a rotated one
     * (or the old one when Spotify returned none). */
    kt_status (*save)(void *ctx, int64_t user_id, const spotify_tokens *t, kt_err *err);
    /* The refresh token was refused (invalid_grant): mark the user
     * reauth_required and wipe the tokens. */
    void (*revoked)(void *ctx, int64_t user_id, const char *reason);
    /* Optional (both or neither): serialise a user's refreshes across
     * processes. Before a refresh the client calls refresh_lock, then
     * re-reads the tokens (load) and decides again whether to refresh (so a
     * token another process just refreshed is used, not refreshed again),
     * calls save/revoked as usual, and always ends with refresh_unlock(ctx,
     * *lock) - all on the same thread. Without them only the in-process
     * single flight applies. */
    kt_status (*refresh_lock)(void *ctx, int64_t user_id, void **lock, kt_err *err);
    void (*refresh_unlock)(void *ctx, void *lock);
} spotify_token_hooks;

/* Creates a client. cfg strings are copied. hooks may be NULL for a client
 * that only talks to the accounts service and the app token. libcurl is not
 * initialised here but on the client's first request. */
kt_status spotify_client_new(const spotify_config *cfg, const spotify_token_hooks *hooks,
                             spotify_client **out, kt_err *err);
void spotify_client_free(spotify_client *c);

/* curl_global_init, once per process and thread-safe whatever the libcurl
 * version. Every libcurl user in keeptrack (the client, alert webhooks and
 * SMTP) calls it before making its first handle; it is never undone. */
kt_status spotify_curl_global_init(kt_err *err);

/* A plain GET of url outside any client: no token, no curl share, no
 * budget, no Web API accounting, no retry, no redirect followed. For local
 * tools that have no client (`keeptrack demo` reads its emulator's ground
 * truth with it). Gives up after timeout_ms. Whatever status answers:
 * *status, and *body (NUL-terminated, caller frees) with *len. Errors:
 * KT_ERR_TOO_LARGE (the body is over max_bytes; 0 = no cap), KT_ERR_UPSTREAM
 * (the transfer failed: refused, timed out), KT_ERR_NOMEM, KT_ERR_INTERNAL;
 * then *status, *body and *len are untouched. Thread-safe. */
kt_status spotify_plain_get(const char *url, long timeout_ms, size_t max_bytes, long *status,
                            char **body, size_t *len, kt_err *err);

/* Request budget hook. Called before every Web API request: returns 0 when
 * the request may be sent now (the token is consumed), otherwise the ms to
 * wait before asking again (the engine keeps other transfers moving
 * meanwhile). now_ms is monotonic. Must be thread-safe. The built-in token
 * bucket (budget_per_sec/budget_burst) is used until a hook is set; issue
 * 11 replaces it with one shared through PostgreSQL. */
typedef int64_t (*spotify_budget_fn)(void *ctx, int64_t now_ms);

/* Replaces the budget (fn NULL restores the built-in bucket). Set it before
 * the client is shared between threads. */
void spotify_set_budget_fn(spotify_client *c, spotify_budget_fn fn, void *ctx);

/* ---- accounts service ---- */

/* Builds the /authorize URL (response_type=code, PKCE S256). Caller frees *out. */
kt_status spotify_authorize_url(spotify_client *c, const char *redirect_uri, const char *scope,
                                const char *state, const char *code_challenge, char **out,
                                kt_err *err);

/* Exchanges an authorization code (PKCE verifier; client secret as Basic auth
 * when configured). Fills *out on success. */
kt_status spotify_exchange_code(spotify_client *c, const char *code, const char *redirect_uri,
                                const char *code_verifier, spotify_tokens *out, kt_err *err);

/* Refreshes the user's access token now (same single-flight rules as an
 * automatic refresh) and saves it through the hooks. */
kt_status spotify_refresh_user(spotify_client *c, int64_t user_id, kt_err *err);

/* ---- Web API ----
 *
 * Bodies are handed over as Spotify sent them but for two things: in an
 * object that has an "item" member, a "track" member coming after it is
 * left out of the tree. Playlist items carry the same track under both
 * names ("track" is the deprecated one; every reader here uses "item"), and
 * building it twice was a third of a sync's parse time. And no object keeps
 * "available_markets" (extended mode's ~180 country codes per track and
 * album, which nothing here reads and which dominated a page's tree).
 */

/* One request. `path` is relative to api_url and starts with '/', query
 * included ("/me/tracks?limit=50&offset=0"). body may be NULL. On success
 * (2xx) *status_out (may be NULL) gets the status and *out (may be NULL)
 * the parsed body (NULL for an empty body); caller owns it (json_decref).
 * 401 refreshes once and retries once; 429, 5xx and transport errors are
 * handled as described at the top. */
kt_status spotify_request(spotify_client *c, int64_t user_id, const char *method,
                          const char *path, const json_t *body, long *status_out, json_t **out,
                          kt_err *err);

/* GET shorthand. */
kt_status spotify_get(spotify_client *c, int64_t user_id, const char *path, json_t **out,
                      kt_err *err);

/* Several independent GETs in parallel (up to the concurrency limit).
 * outs[i] receives each body. Fails as a whole on the first error that is
 * not retried away (the other outs are freed and set to NULL). */
kt_status spotify_get_many(spotify_client *c, int64_t user_id, const char *const *paths, size_t n,
                           json_t **outs, kt_err *err);

/* Called with each body of spotify_get_each, in index order; `body` is
 * borrowed (freed after the call). Return non-KT_OK to stop. This and
 * spotify_page_fn may run on a thread the call starts for parsing (never
 * two at once, and the call returns only after the last one): they may use
 * the store, but not thread-local state of the caller. */
typedef kt_status (*spotify_each_fn)(void *ctx, size_t idx, const json_t *body, kt_err *err);

/* Like spotify_get_many, but hands each body to fn in index order as soon
 * as it and all before it have arrived, and frees it then: requests start
 * only within a window (concurrency x 4) of the first undelivered one, so
 * memory stays bounded however many paths (e.g. the pages of many
 * playlists at once). Fails as a whole like spotify_get_many. */
kt_status spotify_get_each(spotify_client *c, int64_t user_id, const char *const *paths, size_t n,
                           spotify_each_fn fn, void *ctx, kt_err *err);

/* Called once per page, in order. `page` is the paging object (items, total,
 * next, cursors, ...) and is borrowed. Return non-KT_OK to stop. */
typedef kt_status (*spotify_page_fn)(void *ctx, const json_t *page, kt_err *err);

/* Offset paging: fetches `path` (which must not contain offset=), reads
 * `total` from the first page, then fetches the remaining pages in parallel
 * and hands every page to fn in order. `page_size` is the limit sent
 * (1..SPOTIFY_PAGE_MAX; spotify_page_max says what the endpoint takes).
 * `wrap_key`, when not NULL, is the key holding the paging object (e.g.
 * "albums" for /browse/new-releases). */
kt_status spotify_get_all_offset(spotify_client *c, int64_t user_id, const char *path,
                                 int page_size, const char *wrap_key, spotify_page_fn fn,
                                 void *ctx, kt_err *err);

/* The pages after the first of an offset walk whose first page (offset 0,
 * limit page_size) the caller already has and handled, with its `total`:
 * fetches offsets page_size.. in parallel and hands them to fn in order,
 * as spotify_get_all_offset does after its first page. Nothing to fetch
 * when total <= page_size. */
kt_status spotify_get_offset_rest(spotify_client *c, int64_t user_id, const char *path,
                                  int page_size, int64_t total, const char *wrap_key,
                                  spotify_page_fn fn, void *ctx, kt_err *err);

/* Cursor paging (e.g. /me/following?type=artist, wrapped in "artists";
 * /me/player/recently-played): follows `next` page by page. */
kt_status spotify_get_all_cursor(spotify_client *c, int64_t user_id, const char *path,
                                 const char *wrap_key, spotify_page_fn fn, void *ctx,
                                 kt_err *err);

/* Cursor paging with the cursors guessed, e.g. from the stored copy of the
 * list: after[k] is the `after` cursor expected to start page k + 2 (the
 * cursors.after the page k + 1 ended on last time). When the first page's
 * `total` equals expect_total, the guessed pages are fetched in parallel
 * with `path` + "&after=" + after[k] and handed to fn in order as long as
 * the page before each ended on its cursor; from the first page that did
 * not (the list changed), the walk follows `next` one page at a time. fn
 * sees exactly the pages spotify_get_all_cursor would (pages are never
 * skipped or repeated); a wrong guess costs only the requests already in
 * flight. Guesses that are not plain letters and digits are not used. */
kt_status spotify_get_cursor_guessed(spotify_client *c, int64_t user_id, const char *path,
                                     const char *wrap_key, int64_t expect_total,
                                     const char *const *after, size_t n_after,
                                     spotify_page_fn fn, void *ctx, kt_err *err);

/* ---- playlist covers ----
 *
 * A playlist's cover is in its images[] (the list and GET /playlists/{id}
 * carry it; GET /playlists/{id}/images answers the same array). Uploaded
 * covers are one image of unknown size (height and width null); Spotify's
 * generated mosaic is three sized images: spotify_parse_playlist's
 * cover_custom tells them apart. */

/* Spotify's upload limit: 256 KB of base64 text, so at most this many JPEG bytes. */
#define SPOTIFY_COVER_B64_MAX (256 * 1024)
#define SPOTIFY_COVER_MAX_BYTES (SPOTIFY_COVER_B64_MAX / 4 * 3)

/* 1 when data[0..len) starts as a JPEG does (FF D8 FF) and is at most
 * SPOTIFY_COVER_MAX_BYTES long: what an upload may carry. */
int spotify_cover_acceptable(const unsigned char *data, size_t len);

/* PUT /playlists/{id}/images: uploads jpeg[0..len) as playlist_id's custom
 * cover (the base64 text as body, Content-Type image/jpeg; Spotify answers
 * 202). KT_ERR_INVALID with nothing sent when the bytes are not acceptable
 * (spotify_cover_acceptable) or playlist_id is not a plain id; otherwise as
 * spotify_request (KT_ERR_FORBIDDEN: the user does not own it). Thread-safe. */
kt_status spotify_put_playlist_cover(spotify_client *c, int64_t user_id, const char *playlist_id,
                                     const unsigned char *jpeg, size_t len, kt_err *err);

/* GET of an image's bytes at url, an images[].url: an image host (Spotify's
 * CDN), not the Web API. So it carries no Authorization header (no token
 * ever leaves for another host), is neither budgeted nor counted as a Web
 * API request, follows no redirect, and takes http/https URLs only. On a
 * 200 of at most max_bytes: *out (caller frees) and *len, else untouched.
 * Errors: KT_ERR_INVALID (not an http(s) URL), KT_ERR_TOO_LARGE (over
 * max_bytes), KT_ERR_UPSTREAM (another status, or the transfer failed;
 * not retried: the next sync tries again). Thread-safe. */
kt_status spotify_fetch_image(spotify_client *c, const char *url, size_t max_bytes,
                              unsigned char **out, size_t *len, kt_err *err);

/* ---- app mode ---- */

typedef enum spotify_mode {
    SPOTIFY_MODE_UNKNOWN = 0,
    SPOTIFY_MODE_DEVELOPMENT, /* 2026 Development Mode: /items, /me/library, no batch lookups */
    SPOTIFY_MODE_EXTENDED     /* extended quota: the old endpoints still answer */
} spotify_mode;

/* The mode learnt so far (from responses, or spotify_detect_mode). */
spotify_mode spotify_get_mode(spotify_client *c);

/* 1 when the endpoint template ("GET /browse/new-releases", "GET
 * /playlists/{id}/tracks") may be used: always for endpoints every app has;
 * for extended-quota-only ones only once the mode is known to be EXTENDED.
 * Callers use it to choose between e.g. /items and /tracks. */
int spotify_endpoint_available(spotify_client *c, const char *endpoint_template);

/* The largest page a paged GET accepts: 50 for most endpoints in both
 * modes (SPOTIFY_PAGE_MIN_MAX), SPOTIFY_PAGE_MAX (100) for a playlist's
 * items (/items and /tracks) in extended mode, 10 for /artists/{id}/albums
 * in development mode. tmpl is an endpoint template ("GET
 * /playlists/{id}/tracks"); NULL or unknown: 50. Pure, any thread. Callers
 * page at this size, as every request saved is quota saved. */
#define SPOTIFY_PAGE_MIN_MAX 50
#define SPOTIFY_PAGE_MAX 100
int spotify_page_max(spotify_mode mode, const char *tmpl);

/* Probes once with the user's token (SPOTIFY_APP_USER: the app token):
 * GET /browse/new-releases?limit=1, extended-only; 200 means extended, 403
 * means development. Remembered: later calls answer without a request. */
kt_status spotify_detect_mode(spotify_client *c, int64_t user_id, spotify_mode *out, kt_err *err);

/* ---- accounting ---- */

/* HTTP requests sent by calls made from the calling thread since it started
 * (retries and token requests included): callers take the difference around
 * a piece of work to know the requests it spent. */
uint64_t spotify_thread_requests(void);

/* Makes the batches this thread starts from now on yield the user's
 * request slots to the user's other batches that wait for one (on = 1), or
 * compete for them as equals (on = 0, the default); returns the previous
 * setting. A sync sets it on the thread that runs the collections behind
 * its helper threads, so the collections whose write comes first finish
 * their fetch first while the yielding ones fill every slot left over. */
int spotify_thread_yield(int on);

/* All requests so far, per endpoint template ("GET /playlists/{id}/items")
 * and status, as a JSON object {"GET /me": {"200": 3}, ...}. Caller owns it. */
json_t *spotify_stats_json(spotify_client *c);

/* How many times the request budget (the built-in bucket or the hook of
 * spotify_set_budget_fn) answered "wait" before a request could be sent:
 * 0 while the budget never bound. NULL: 0. */
uint64_t spotify_budget_waits(spotify_client *c);

#endif

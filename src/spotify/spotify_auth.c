/* spotify_auth.c - the accounts service: authorize URL, token grants and
 * the single-flight refresh of users' and the app's access tokens.
 *
 * Users' tokens live in the caller's store, reached only through
 * spotify_token_hooks. A refresh happens when the stored access token
 * expires within a minute (or just got a 401): the first caller takes the
 * user's gate, the others wait on it and then reload what it saved, so
 * many threads near expiry cost ONE token request. The app's
 * client-credentials token is cached here, under the same rules.
 *
 * Token requests are synchronous (curl easy on the shared connection
 * cache): a refresh must finish before any request of the user can go.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "spotify/spotify_internal.h"

#define TOKEN_RESPONSE_MAX (64u * 1024u)

/* ---- form encoding ---- */

/* Appends "&key=value" (value percent-encoded by libcurl, RFC 3986). */
static kt_status form_add(buf *b, const char *key, const char *value)
{
    char *enc = curl_easy_escape(NULL, value ? value : "", 0);
    if (!enc)
        return KT_ERR_NOMEM;
    kt_status st = buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, enc);
    curl_free(enc);
    return st;
}

static void wipe_buf(buf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
    buf_free(b);
}

/* ---- token endpoint ---- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    return buf_append(b, p, size * n) == KT_OK ? size * n : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Reads a successful token answer into out (old refresh token and scope
 * kept when Spotify sends none). */
static kt_status parse_token_answer(const char *body, size_t len, const spotify_tokens *old,
                                    spotify_tokens *out, kt_err *err)
{
    json_t *j = NULL;
    kt_status st = json_parse_bounded(body, len, SPOTIFY_JSON_MAX_DEPTH, &j, err);
    if (st != KT_OK)
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                       "Spotify's token answer is not valid JSON");
    const char *access = json_str(j, "access_token");
    const char *refresh = json_str(j, "refresh_token");
    const char *scope = json_str(j, "scope");
    int64_t expires_in = json_int(j, "expires_in", 3600);
    spotify_tokens t;
    memset(&t, 0, sizeof t);
    if (!access || !*access || strlen(access) >= sizeof t.access_token ||
        (refresh && strlen(refresh) >= sizeof t.refresh_token)) {
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify's token answer has no usable access_token");
        goto out;
    }
    if (expires_in <= 0 || expires_in > 86400 * 366)
        expires_in = 3600;
    memcpy(t.access_token, access, strlen(access) + 1);
    if (refresh && *refresh)
        memcpy(t.refresh_token, refresh, strlen(refresh) + 1);
    else if (old)
        memcpy(t.refresh_token, old->refresh_token, sizeof t.refresh_token);
    if (scope && strlen(scope) < sizeof t.scope)
        memcpy(t.scope, scope, strlen(scope) + 1);
    else if (old)
        memcpy(t.scope, old->scope, sizeof t.scope);
    t.expires_at_ms = time_now_ms() + expires_in * 1000;
    *out = t;
out:
    spotify_tokens_wipe(&t);
    json_decref(j);
    return st;
}

/* Reads an error answer of the accounts service. */
static kt_status token_error(long status, const char *body, size_t len, kt_err *err)
{
    json_t *j = NULL;
    kt_err ignore;
    const char *code = NULL;
    if (json_parse_bounded(body, len, SPOTIFY_JSON_MAX_DEPTH, &j, &ignore) == KT_OK)
        code = json_str(j, "error");
    kt_status st;
    if (code && strcmp(code, "invalid_grant") == 0)
        st = err_set(err, KT_ERR_REAUTH, "reauth_required",
                     "Spotify refused the refresh token (revoked or expired): log in again");
    else if (code && strcmp(code, "invalid_client") == 0)
        st = err_set(err, KT_ERR_INVALID, "invalid_client",
                     "Spotify refused the app credentials: check SPOTIFY_CLIENT_ID and "
                     "SPOTIFY_CLIENT_SECRET");
    else if (status == 429)
        st = err_set(err, KT_ERR_DEFERRED, "rate_limited",
                     "Spotify's accounts service is rate limiting; try again later");
    else
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify's accounts service answered %ld%s%s", status, code ? ": " : "",
                     code && strlen(code) < 40 ? code : "");
    if (err)
        err->upstream_status = (int)status;
    json_decref(j);
    return st;
}

/* One attempt at POST /api/token. *status gets the HTTP status (0 on a
 * transport failure, with *cc set). */
static kt_status token_attempt(spotify_client *c, const char *form, buf *resp, long *status,
                               CURLcode *cc, kt_err *err)
{
    CURL *easy = NULL;
    struct curl_slist *hdr = NULL, *h2 = NULL;
    kt_status st = KT_OK;
    char url[1024];
    snprintf(url, sizeof url, "%s/api/token", c->accounts_url);
    if ((st = spotify_easy_new(c, &easy, err)) != KT_OK)
        goto out;
    h2 = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    if (!h2) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    hdr = h2;
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdr);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, resp);
    if (rc == CURLE_OK && c->client_secret) {
        rc = curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(easy, CURLOPT_USERNAME, c->client_id);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(easy, CURLOPT_PASSWORD, c->client_secret);
    }
    if (rc != CURLE_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "curl setup failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    spotify_count_request(c);
    if ((st = spotify_multi_perform_one(c, easy, cc, err)) != KT_OK)
        goto out;
    *status = 0;
    if (*cc == CURLE_OK && curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
        *status = 0;
    spotify_record_stat(c, "POST", "/api/token", *status);
out:
    curl_slist_free_all(hdr);
    if (easy)
        curl_easy_cleanup(easy);
    return st;
}

/* POST /api/token with bounded retries of failures Spotify surely did not
 * act on (see spotify_retryable). old: the tokens being refreshed, or NULL. */
static kt_status token_request(spotify_client *c, const char *form, const spotify_tokens *old,
                               spotify_tokens *out, kt_err *err)
{
    buf resp;
    buf_init(&resp, TOKEN_RESPONSE_MAX);
    kt_status st = KT_OK;
    for (int attempt = 0;; attempt++) {
        long status = 0;
        CURLcode cc = CURLE_OK;
        wipe_buf(&resp);
        buf_init(&resp, TOKEN_RESPONSE_MAX);
        if ((st = token_attempt(c, form, &resp, &status, &cc, err)) != KT_OK)
            break;
        if (cc == CURLE_OK && status == 200) {
            st = parse_token_answer(resp.data ? resp.data : "", resp.len, old, out, err);
            break;
        }
        if (attempt < c->max_retries && spotify_retryable("POST", status, cc)) {
            sleep_ms(spotify_backoff_ms(attempt, c->backoff_base_ms, c->backoff_max_ms));
            continue;
        }
        if (cc == CURLE_WRITE_ERROR)
            st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                         "Spotify's token answer exceeds %u bytes", TOKEN_RESPONSE_MAX);
        else if (cc != CURLE_OK)
            st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                         "POST /api/token failed: %s", curl_easy_strerror(cc));
        else
            st = token_error(status, resp.data ? resp.data : "", resp.len, err);
        break;
    }
    wipe_buf(&resp);
    return st;
}

/* ---- single flight ---- */

static int needs_refresh(const spotify_tokens *t, const char *stale)
{
    if (!t->access_token[0])
        return 1;
    if (t->expires_at_ms - time_now_ms() < SPOTIFY_REFRESH_MARGIN_MS)
        return 1;
    return stale && strcmp(stale, t->access_token) == 0;
}

/* Waits until no one refreshes user_id, then marks it busy. */
static spotify_user_gate *gate_enter(spotify_client *c, int64_t user_id)
{
    pthread_mutex_lock(&c->tok_mu);
    spotify_user_gate *g = c->gates;
    while (g && g->user_id != user_id)
        g = g->next;
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&c->tok_mu);
            return NULL;
        }
        g->user_id = user_id;
        g->next = c->gates;
        c->gates = g;
    }
    g->refs++;
    while (g->busy)
        pthread_cond_wait(&c->tok_cv, &c->tok_mu);
    g->busy = 1;
    pthread_mutex_unlock(&c->tok_mu);
    return g;
}

/* Releases the gate; the last one out unlinks it, so the table holds only
 * users with a refresh under way. */
static void gate_leave(spotify_client *c, spotify_user_gate *g)
{
    pthread_mutex_lock(&c->tok_mu);
    g->busy = 0;
    if (--g->refs == 0) {
        spotify_user_gate **pp = &c->gates;
        while (*pp && *pp != g)
            pp = &(*pp)->next;
        if (*pp)
            *pp = g->next;
        free(g);
    }
    pthread_cond_broadcast(&c->tok_cv);
    pthread_mutex_unlock(&c->tok_mu);
}

static kt_status refresh_grant(spotify_client *c, int64_t user_id, const spotify_tokens *old,
                               spotify_tokens *out, kt_err *err)
{
    buf form;
    buf_init(&form, 8192);
    spotify_tokens fresh;
    memset(&fresh, 0, sizeof fresh);
    kt_status st = KT_OK;
    if (!old->refresh_token[0]) {
        st = err_set(err, KT_ERR_REAUTH, "reauth_required",
                     "no refresh token is stored for this user: log in again");
        goto revoked;
    }
    if (form_add(&form, "grant_type", "refresh_token") != KT_OK ||
        form_add(&form, "refresh_token", old->refresh_token) != KT_OK ||
        (!c->client_secret && form_add(&form, "client_id", c->client_id) != KT_OK)) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    st = token_request(c, form.data, old, &fresh, err);
    if (st == KT_ERR_REAUTH)
        goto revoked;
    if (st != KT_OK)
        goto out;
    if ((st = c->hooks.save(c->hooks.ctx, user_id, &fresh, err)) != KT_OK)
        goto out;
    LOG_DEBUG("spotify_token_refreshed", "user=%lld rotated=%d", (long long)user_id,
              strcmp(fresh.refresh_token, old->refresh_token) != 0);
    *out = fresh;
    goto out;
revoked:
    /* invalid_grant: never retried; the owner marks the user and wipes. */
    LOG_WARN("spotify_refresh_refused", "user=%lld", (long long)user_id);
    if (c->hooks.revoked)
        c->hooks.revoked(c->hooks.ctx, user_id, "Spotify refused the refresh token");
out:
    spotify_tokens_wipe(&fresh);
    wipe_buf(&form);
    return st;
}

static kt_status user_token(spotify_client *c, int64_t user_id, const char *stale,
                            spotify_tokens *out, kt_err *err)
{
    spotify_tokens t;
    memset(&t, 0, sizeof t);
    spotify_user_gate *g = NULL;
    void *lock = NULL;
    int locked = 0;
    kt_status st;
    if (!c->have_hooks || !c->hooks.load || !c->hooks.save)
        return err_set(err, KT_ERR_INTERNAL, NULL, "the Spotify client has no token hooks");
    if ((st = c->hooks.load(c->hooks.ctx, user_id, &t, err)) != KT_OK)
        goto out;
    if (!needs_refresh(&t, stale))
        goto done;
    if (!(g = gate_enter(c, user_id))) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* Other processes too (hooks.refresh_lock, e.g. a row lock). */
    if (c->hooks.refresh_lock && c->hooks.refresh_unlock) {
        if ((st = c->hooks.refresh_lock(c->hooks.ctx, user_id, &lock, err)) != KT_OK)
            goto out;
        locked = 1;
    }
    /* Someone may have refreshed while we waited: reload and decide again. */
    spotify_tokens_wipe(&t);
    if ((st = c->hooks.load(c->hooks.ctx, user_id, &t, err)) != KT_OK)
        goto out;
    if (needs_refresh(&t, stale)) {
        spotify_tokens fresh;
        st = refresh_grant(c, user_id, &t, &fresh, err);
        if (st == KT_OK)
            t = fresh;
        spotify_tokens_wipe(&fresh);
        if (st != KT_OK)
            goto out;
    }
done:
    *out = t;
out:
    if (locked)
        c->hooks.refresh_unlock(c->hooks.ctx, lock);
    if (g)
        gate_leave(c, g);
    spotify_tokens_wipe(&t);
    return st;
}

static kt_status app_token(spotify_client *c, const char *stale, spotify_tokens *out, kt_err *err)
{
    kt_status st = KT_OK;
    buf form;
    buf_init(&form, 1024);
    spotify_tokens fresh;
    memset(&fresh, 0, sizeof fresh);
    if (!c->client_secret)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "the app token needs SPOTIFY_CLIENT_SECRET (client credentials grant)");
    pthread_mutex_lock(&c->tok_mu);
    while (c->app_busy)
        pthread_cond_wait(&c->tok_cv, &c->tok_mu);
    if (!needs_refresh(&c->app_token, stale)) {
        *out = c->app_token;
        pthread_mutex_unlock(&c->tok_mu);
        return KT_OK;
    }
    c->app_busy = 1;
    pthread_mutex_unlock(&c->tok_mu);

    if (form_add(&form, "grant_type", "client_credentials") != KT_OK)
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    else
        st = token_request(c, form.data, NULL, &fresh, err);

    pthread_mutex_lock(&c->tok_mu);
    if (st == KT_OK) {
        c->app_token = fresh;
        *out = fresh;
    }
    c->app_busy = 0;
    pthread_cond_broadcast(&c->tok_cv);
    pthread_mutex_unlock(&c->tok_mu);
    spotify_tokens_wipe(&fresh);
    buf_free(&form);
    return st;
}

kt_status spotify_token_get(spotify_client *c, int64_t user_id, const char *stale,
                            spotify_tokens *out, kt_err *err)
{
    if (user_id == SPOTIFY_APP_USER)
        return app_token(c, stale, out, err);
    return user_token(c, user_id, stale, out, err);
}

kt_status spotify_refresh_user(spotify_client *c, int64_t user_id, kt_err *err)
{
    spotify_tokens seen, now;
    kt_status st;
    if (!c || user_id == SPOTIFY_APP_USER)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_refresh_user: no user");
    if (!c->have_hooks || !c->hooks.load)
        return err_set(err, KT_ERR_INTERNAL, NULL, "the Spotify client has no token hooks");
    memset(&seen, 0, sizeof seen);
    memset(&now, 0, sizeof now);
    /* The token seen now counts as stale: refreshed unless another caller
     * replaced it meanwhile (then that refresh is ours too). */
    if ((st = c->hooks.load(c->hooks.ctx, user_id, &seen, err)) == KT_OK)
        st = user_token(c, user_id, seen.access_token[0] ? seen.access_token : NULL, &now, err);
    spotify_tokens_wipe(&seen);
    spotify_tokens_wipe(&now);
    return st;
}

/* ---- authorization code flow ---- */

kt_status spotify_authorize_url(spotify_client *c, const char *redirect_uri, const char *scope,
                                const char *state, const char *code_challenge, char **out,
                                kt_err *err)
{
    if (!c || !redirect_uri || !state || !code_challenge || !out)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_authorize_url: missing argument");
    buf q;
    buf_init(&q, 16384);
    kt_status st = KT_OK;
    if (form_add(&q, "client_id", c->client_id) != KT_OK ||
        form_add(&q, "response_type", "code") != KT_OK ||
        form_add(&q, "redirect_uri", redirect_uri) != KT_OK ||
        (scope && *scope && form_add(&q, "scope", scope) != KT_OK) ||
        form_add(&q, "state", state) != KT_OK ||
        form_add(&q, "code_challenge_method", "S256") != KT_OK ||
        form_add(&q, "code_challenge", code_challenge) != KT_OK) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    char *url = NULL;
    if (asprintf(&url, "%s/authorize?%s", c->accounts_url, q.data) < 0) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    *out = url;
out:
    buf_free(&q);
    return st;
}

kt_status spotify_exchange_code(spotify_client *c, const char *code, const char *redirect_uri,
                                const char *code_verifier, spotify_tokens *out, kt_err *err)
{
    if (!c || !code || !redirect_uri || !code_verifier || !out)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_exchange_code: missing argument");
    buf form;
    buf_init(&form, 16384);
    kt_status st;
    if (form_add(&form, "grant_type", "authorization_code") != KT_OK ||
        form_add(&form, "code", code) != KT_OK ||
        form_add(&form, "redirect_uri", redirect_uri) != KT_OK ||
        form_add(&form, "code_verifier", code_verifier) != KT_OK ||
        (!c->client_secret && form_add(&form, "client_id", c->client_id) != KT_OK)) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    st = token_request(c, form.data, NULL, out, err);
    if (st == KT_ERR_REAUTH)
        st = err_set(err, KT_ERR_INVALID, "invalid_grant",
                     "Spotify refused the authorization code (used, expired or for another "
                     "redirect URI): start the login again");
out:
    wipe_buf(&form);
    return st;
}

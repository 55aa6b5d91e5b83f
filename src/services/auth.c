/* auth.c - the login service (see auth.h for the flow and the contract).
 *
 * Secrets handled here (state, PKCE verifier, binding value, session id,
 * authorization code, Spotify tokens) live in stack buffers that are wiped
 * before returning; only their SHA-256 hashes or vault-sealed forms reach
 * the store, and none is ever formatted into a kt_err or a log line.
 */
#include "services/auth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "store/store_auth.h"

#define DAY_MS ((int64_t)86400000)
/* Sliding expiry writes at most once a minute per session. */
#define SESSION_TOUCH_MS ((int64_t)60000)

/* 1 when s is exactly AUTH_TOKEN_LEN base64url characters. */
static int token_well_formed(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= AUTH_TOKEN_LEN ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return n == AUTH_TOKEN_LEN;
}

static void hash_token(const char *token, char out[65])
{
    crypto_sha256_hex(token, strlen(token), out);
}

/* A local path the browser may be sent to after login, or the UI path. */
static const char *safe_return_to(const kt_app *app, const char *want)
{
    const char *ui = app->cfg->ui_path ? app->cfg->ui_path : "/";
    if (want == NULL || want[0] != '/' || want[1] == '/' || want[1] == '\\' ||
        strlen(want) >= 512)
        return ui;
    for (const char *p = want; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return ui;
    return want;
}

static int64_t session_ttl_ms(const kt_app *app)
{
    int days = app->cfg->session_days > 0 ? app->cfg->session_days : 30;
    return (int64_t)days * DAY_MS;
}

kt_status auth_login_start(kt_app *app, const char *binding, const char *return_to, char **url,
                           char binding_out[44], kt_err *err)
{
    char state[44], verifier[44], challenge[44], bind[44];
    char state_hash[65], bind_hash[65];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    store *s = NULL;
    char *u = NULL;
    int64_t now = time_now_ms();
    kt_status st;

    if (app->spotify == NULL)
        return err_set(err, KT_ERR_INVALID, "spotify_not_configured",
                       "SPOTIFY_CLIENT_ID is not set: keeptrack cannot log in to Spotify");
    crypto_random_token(state);
    crypto_pkce_pair(verifier, challenge);
    if (token_well_formed(binding))
        memcpy(bind, binding, sizeof bind);
    else
        crypto_random_token(bind);
    hash_token(state, state_hash);
    hash_token(bind, bind_hash);

    st = vault_seal(app->vault, 0, STORE_COL_VERIFIER, verifier, strlen(verifier), &sealed,
                    &sealed_len, err);
    if (st != KT_OK)
        goto out;
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    /* Housekeeping on the way: expired states are useless. */
    (void)store_oauth_state_purge(s, now, NULL, NULL);
    st = store_oauth_state_put(s, state_hash, bind_hash, sealed, sealed_len,
                               safe_return_to(app, return_to), now, now + AUTH_STATE_TTL_MS, err);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    st = spotify_authorize_url(app->spotify, app->cfg->spotify_redirect_uri,
                               app->cfg->spotify_scopes, state, challenge, &u, err);
    if (st != KT_OK)
        goto out;
    *url = u;
    memcpy(binding_out, bind, sizeof bind);
out:
    free(sealed);
    sodium_memzero(state, sizeof state);
    sodium_memzero(verifier, sizeof verifier);
    sodium_memzero(bind, sizeof bind);
    return st;
}

/* Takes the state (single use) and checks expiry and browser binding.
 * On success *verifier holds the opened PKCE verifier (vault_secret_free). */
static kt_status take_state(kt_app *app, const char *state, const char *binding, int64_t now,
                            char **verifier, size_t *verifier_len, char return_to[512],
                            kt_err *err)
{
    char state_hash[65], bind_hash[65];
    store_oauth_state row = {0};
    store *s = NULL;
    kt_status st;

    if (state == NULL || *state == '\0')
        return err_set(err, KT_ERR_INVALID, "state_missing",
                       "the login response has no state; start the login again");
    if (!token_well_formed(state))
        return err_set(err, KT_ERR_INVALID, "state_unknown",
                       "this login link is unknown or was already used; start the login again");
    hash_token(state, state_hash);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_oauth_state_take(s, state_hash, &row, err);
    app_db_put(app, s);
    if (st == KT_ERR_NOT_FOUND)
        return err_set(err, KT_ERR_INVALID, "state_unknown",
                       "this login link is unknown or was already used; start the login again");
    if (st != KT_OK)
        return st;
    if (row.expires_at <= now) {
        st = err_set(err, KT_ERR_INVALID, "state_expired",
                     "the login took longer than 10 minutes; start the login again");
        goto out;
    }
    if (!token_well_formed(binding)) {
        st = err_set(err, KT_ERR_FORBIDDEN, "wrong_browser",
                     "this login was started in another browser (or cookies are blocked); "
                     "start the login again in this browser");
        goto out;
    }
    hash_token(binding, bind_hash);
    if (!crypto_str_equal(bind_hash, row.browser_hash)) {
        st = err_set(err, KT_ERR_FORBIDDEN, "wrong_browser",
                     "this login was started in another browser; start the login again in "
                     "this browser");
        goto out;
    }
    st = vault_open_secret(app->vault, 0, STORE_COL_VERIFIER, row.verifier, row.verifier_len,
                           verifier, verifier_len, err);
    if (st == KT_OK)
        snprintf(return_to, 512, "%s", safe_return_to(app, row.return_to));
out:
    store_oauth_state_clear(&row);
    return st;
}

/* Asks Spotify who the tokens belong to. Fills account/spotify id and name. */
static kt_status fetch_profile(kt_app *app, spotify_tokens *tok, char account[128],
                               char spotify_id[128], char name[256], int *has_name, kt_err *err)
{
    int64_t temp = 0;
    json_t *me = NULL;
    kt_status st = app_temp_tokens_add(app, tok, &temp, err);
    if (st != KT_OK)
        return st;
    st = spotify_get(app->spotify, temp, "/me", &me, err);
    /* The tokens may have been refreshed meanwhile: keep the latest. */
    app_temp_tokens_remove(app, temp, tok);
    if (st != KT_OK)
        return st;
    const char *id = json_str(me, "id");
    /* account_id is Spotify's stable key (2026); older answers lack it, and
     * then the user id is the only key there is. */
    const char *acct = json_str(me, "account_id");
    const char *dn = json_str(me, "display_name");
    if (acct == NULL)
        acct = id;
    if (id == NULL || *id == '\0' || strlen(id) >= 128 || strlen(acct) >= 128) {
        st = err_set(err, KT_ERR_UPSTREAM, "bad_profile",
                     "Spotify's GET /me answer has no usable account id");
        goto out;
    }
    snprintf(account, 128, "%s", acct);
    snprintf(spotify_id, 128, "%s", id);
    snprintf(name, 256, "%s", dn ? dn : "");
    *has_name = dn != NULL;
out:
    json_decref(me);
    return st;
}

typedef struct seal_ctx {
    kt_app *app;
    const spotify_tokens *tok;
} seal_ctx;

static kt_status seal_cb(void *ctx, int64_t user_id, unsigned char **access, size_t *access_len,
                         unsigned char **refresh, size_t *refresh_len, kt_err *err)
{
    seal_ctx *c = ctx;
    return app_seal_tokens(c->app, user_id, c->tok, access, access_len, refresh, refresh_len, err);
}

kt_status auth_login_callback(kt_app *app, const char *code, const char *state, const char *error,
                              const char *binding, auth_login_result *out, kt_err *err)
{
    char *verifier = NULL;
    size_t verifier_len = 0;
    char return_to[512], account[128], spotify_id[128], name[256], session[44], session_hash[65];
    int has_name = 0;
    spotify_tokens tok;
    store *s = NULL;
    int64_t now = time_now_ms(), user_id = 0;
    kt_status st;

    memset(&tok, 0, sizeof tok);
    session[0] = '\0';
    if (app->spotify == NULL)
        return err_set(err, KT_ERR_INVALID, "spotify_not_configured",
                       "SPOTIFY_CLIENT_ID is not set: keeptrack cannot log in to Spotify");
    /* The state is checked (and used up) first, even for an error answer:
     * an error redirect that does not belong to a login we started is
     * reported as such, not as the user's choice. */
    st = take_state(app, state, binding, now, &verifier, &verifier_len, return_to, err);
    if (st != KT_OK)
        goto out;
    if (error != NULL) {
        if (strcmp(error, "access_denied") == 0)
            st = err_set(err, KT_ERR_FORBIDDEN, "access_denied",
                         "you declined the Spotify authorization, so keeptrack is not connected; "
                         "start the login again to connect");
        else
            st = err_set(err, KT_ERR_UPSTREAM, "authorize_failed",
                         "Spotify did not authorize the login (%.64s); try again", error);
        goto out;
    }
    if (code == NULL || *code == '\0') {
        st = err_set(err, KT_ERR_INVALID, "code_missing",
                     "the login response has no authorization code; start the login again");
        goto out;
    }
    st = spotify_exchange_code(app->spotify, code, app->cfg->spotify_redirect_uri, verifier, &tok,
                               err);
    if (st != KT_OK)
        goto out;
    if ((st = fetch_profile(app, &tok, account, spotify_id, name, &has_name, err)) != KT_OK)
        goto out;

    crypto_random_token(session);
    hash_token(session, session_hash);
    store_login in = {.account_id = account,
                      .spotify_id = spotify_id,
                      .display_name = has_name ? name : NULL,
                      .scopes = tok.scope[0] ? tok.scope : app->cfg->spotify_scopes,
                      .expires_at = tok.expires_at_ms,
                      .key_id = vault_key_id(app->vault),
                      .session_hash = session_hash,
                      .session_expires_at = now + session_ttl_ms(app),
                      .now_ms = now};
    seal_ctx sc = {.app = app, .tok = &tok};
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    st = store_login_record(s, &in, seal_cb, &sc, &user_id, err);
    /* Housekeeping on the way: sessions nobody came back to. */
    if (st == KT_OK)
        (void)store_session_purge(s, now, NULL, NULL);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    out->user_id = user_id;
    memcpy(out->session_id, session, sizeof session);
    snprintf(out->return_to, sizeof out->return_to, "%s", return_to);
    LOG_INFO("login", "user_id=%lld", (long long)user_id);
out:
    if (st != KT_OK)
        LOG_INFO("login_failed", "code=%s", err ? err->code : "?");
    vault_secret_free(verifier, verifier_len);
    spotify_tokens_wipe(&tok);
    sodium_memzero(session, sizeof session);
    return st;
}

kt_status auth_session_user(kt_app *app, const char *session_id, int64_t *user_id, kt_err *err)
{
    char hash[65];
    store *s = NULL;
    int64_t uid = 0;
    kt_status st;
    if (!token_well_formed(session_id))
        return err_set(err, KT_ERR_UNAUTHORIZED, "not_logged_in",
                       "not logged in: log in with Spotify first");
    hash_token(session_id, hash);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_session_lookup(s, hash, time_now_ms(), session_ttl_ms(app), SESSION_TOUCH_MS, &uid,
                              err);
    app_db_put(app, s);
    if (st == KT_ERR_NOT_FOUND)
        return err_set(err, KT_ERR_UNAUTHORIZED, "not_logged_in",
                       "not logged in (or the session expired): log in with Spotify again");
    if (st == KT_OK)
        *user_id = uid;
    return st;
}

kt_status auth_logout(kt_app *app, const char *session_id, kt_err *err)
{
    char hash[65];
    store *s = NULL;
    kt_status st;
    if (!token_well_formed(session_id))
        return KT_OK;
    hash_token(session_id, hash);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_session_delete(s, hash, NULL, err);
    app_db_put(app, s);
    return st;
}

kt_status auth_refresh(kt_app *app, int64_t user_id, kt_err *err)
{
    if (app->spotify == NULL)
        return err_set(err, KT_ERR_INVALID, "spotify_not_configured",
                       "SPOTIFY_CLIENT_ID is not set");
    return spotify_refresh_user(app->spotify, user_id, err);
}

kt_status auth_disconnect(kt_app *app, int64_t user_id, int delete_data, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if (delete_data)
        st = store_user_delete(s, user_id, err);
    else
        st = store_user_disconnect(s, user_id, time_now_ms(), err);
    app_db_put(app, s);
    if (st == KT_OK)
        LOG_INFO("disconnect", "user_id=%lld delete_data=%d", (long long)user_id, delete_data);
    return st;
}

kt_status auth_me_get(kt_app *app, int64_t user_id, int64_t now_ms, auth_me *out, kt_err *err)
{
    store *s = NULL;
    store_user u = {0};
    store_tokens t = {0};
    auth_me me;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    memset(&me, 0, sizeof me);
    if ((st = store_user_get(s, user_id, &u, err)) != KT_OK)
        goto out;
    st = store_tokens_get(s, user_id, &t, err);
    if (st == KT_OK)
        me.access_expires_at = t.expires_at;
    else if (st != KT_ERR_NOT_FOUND)
        goto out;
    st = KT_OK;
    me.user_id = u.id;
    snprintf(me.account_id, sizeof me.account_id, "%s", u.account_id ? u.account_id : "");
    snprintf(me.spotify_id, sizeof me.spotify_id, "%s", u.spotify_id ? u.spotify_id : "");
    me.has_display_name = u.display_name != NULL;
    snprintf(me.display_name, sizeof me.display_name, "%s", u.display_name ? u.display_name : "");
    snprintf(me.status, sizeof me.status, "%s", u.status ? u.status : STORE_USER_ACTIVE);
    snprintf(me.scopes, sizeof me.scopes, "%s", u.scopes ? u.scopes : "");
    me.authorized_at = u.authorized_at;
    me.refresh_days_left = -1;
    if (u.authorized_at > 0) {
        me.refresh_expires_at = u.authorized_at + AUTH_REFRESH_LIFETIME_DAYS * DAY_MS;
        int64_t left = me.refresh_expires_at - now_ms;
        me.refresh_days_left = left > 0 ? (int)(left / DAY_MS) : 0;
    }
    *out = me;
out:
    app_db_put(app, s);
    store_user_clear(&u);
    store_tokens_clear(&t);
    return st;
}

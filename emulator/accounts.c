/* accounts.c - accounts service emulation (see accounts.h).
 *
 * Errors follow what Spotify's accounts service sends:
 *   /authorize: bad client_id or redirect_uri -> 400 page, no redirect;
 *               other problems -> redirect with ?error=...&state=...
 *   /api/token: 400 {"error":"invalid_grant"|"invalid_request"|
 *               "unsupported_grant_type"|"invalid_client","error_description":..}
 * A rotated-out refresh token stops working at once (stricter than Spotify's
 * grace period, so clients that forget to store the new one fail in tests).
 */
#include "accounts.h"
#include "request.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REFRESH_MAX_AGE_S (183LL * 86400)

typedef struct acc_code {
    char *code, *client_id, *redirect_uri, *challenge, *scope;
    em_user *user;
    int64_t expires_ms;
    bool used;
} acc_code;

typedef struct acc_access {
    char *token, *scope;
    em_user *user;                /* NULL: client credentials */
    int64_t expires_ms;
} acc_access;

typedef struct acc_refresh {
    char *token, *scope, *client_id;
    em_user *user;
    int64_t authorized_s;
    bool revoked, rotated_out, pkce;
} acc_refresh;

struct em_accounts {
    pthread_mutex_t mu;
    const em_config *cfg;
    VEC(acc_code) codes;
    VEC(acc_access) access;
    VEC(acc_refresh) refresh;
    emmap code_ix, access_ix, refresh_ix;
    em_user *consent_user;
    bool consent_deny;
};

em_accounts *accounts_new(const em_config *cfg)
{
    em_accounts *a = xcalloc(1, sizeof(*a));
    if (pthread_mutex_init(&a->mu, NULL) != 0) abort();
    a->cfg = cfg;
    return a;
}

void accounts_free(em_accounts *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->codes.n; i++) {
        acc_code *c = &a->codes.v[i];
        free(c->code); free(c->client_id); free(c->redirect_uri); free(c->challenge); free(c->scope);
    }
    for (size_t i = 0; i < a->access.n; i++) { free(a->access.v[i].token); free(a->access.v[i].scope); }
    for (size_t i = 0; i < a->refresh.n; i++) {
        free(a->refresh.v[i].token); free(a->refresh.v[i].scope); free(a->refresh.v[i].client_id);
    }
    free(a->codes.v);
    free(a->access.v);
    free(a->refresh.v);
    emmap_free(&a->code_ix);
    emmap_free(&a->access_ix);
    emmap_free(&a->refresh_ix);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static char *random_token(const char *prefix, size_t nbytes)
{
    unsigned char raw[64];
    char b64[128];
    if (nbytes > sizeof(raw)) nbytes = sizeof(raw);
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(b64, sizeof(b64), raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t pl = strlen(prefix), bl = strlen(b64);
    char *t = xmalloc(pl + bl + 1);
    memcpy(t, prefix, pl);
    memcpy(t + pl, b64, bl + 1);
    return t;
}

/* ---- helpers for responses ---- */

static void token_error(em_resp *out, int status, const char *error, const char *desc)
{
    resp_json(out, status);
    jw_obj(&out->body);
    jw_kstr(&out->body, "error", error);
    jw_kstr(&out->body, "error_description", desc);
    jw_obj_end(&out->body);
}

static void html_error(em_resp *out, const char *msg)
{
    out->status = 400;
    out->content_type = "text/html; charset=utf-8";
    jw_printf(&out->body, "<!DOCTYPE html><html><head><title>Error</title></head>"
              "<body><h1>Oops! Something went wrong</h1><p>%s</p></body></html>\n", msg);
}

/* ---- redirect URIs ---- */

static bool loopback_uri(const char *u)
{
    const char *rest;
    if (strncmp(u, "http://127.0.0.1", 16) == 0) rest = u + 16;
    else if (strncmp(u, "http://[::1]", 12) == 0) rest = u + 12;
    else return false;
    if (*rest == ':') {
        rest++;
        int digits = 0;
        while (*rest >= '0' && *rest <= '9') { rest++; digits++; }
        if (digits == 0 || digits > 5) return false;
    }
    return *rest == '/' || *rest == '\0';
}

static bool redirect_allowed(const em_config *cfg, const char *u)
{
    for (int i = 0; i < cfg->nredirects; i++) {
        if (strcmp(cfg->redirects[i], "any-loopback") == 0) {
            if (loopback_uri(u)) return true;
        } else if (strcmp(cfg->redirects[i], u) == 0) {
            return true;
        }
    }
    return false;
}

static void redirect_to(em_resp *out, const char *redirect_uri, const char *k1, const char *v1,
                        const char *state)
{
    jw w;
    jw_init(&w);
    jw_rawz(&w, redirect_uri);
    jw_rawz(&w, strchr(redirect_uri, '?') ? "&" : "?");
    jw_rawz(&w, k1);
    jw_rawz(&w, "=");
    url_encode_to(&w, v1);
    if (state) {
        jw_rawz(&w, "&state=");
        url_encode_to(&w, state);
    }
    out->status = 302;
    out->location = jw_detach(&w, NULL);
    out->content_type = "text/html; charset=utf-8";
}

void accounts_handle_authorize(em_app *app, em_req *r, em_resp *out)
{
    em_accounts *a = app->acc;
    const char *client_id = req_arg(r, "client_id"), *redirect = req_arg(r, "redirect_uri");
    const char *rtype = req_arg(r, "response_type"), *state = req_arg(r, "state");
    const char *method = req_arg(r, "code_challenge_method"), *challenge = req_arg(r, "code_challenge");
    const char *scope = req_arg(r, "scope"), *as_user = req_arg(r, "emulator_user");
    if (!client_id || strcmp(client_id, app->cfg.client_id) != 0) {
        html_error(out, "INVALID_CLIENT: Invalid client");
        return;
    }
    if (!redirect || !redirect_allowed(&app->cfg, redirect)) {
        html_error(out, "INVALID_CLIENT: Invalid redirect URI");
        return;
    }
    if (!rtype || strcmp(rtype, "code") != 0) {
        redirect_to(out, redirect, "error", "unsupported_response_type", state);
        return;
    }
    if ((method && strcmp(method, "S256") != 0) || (method && (!challenge || !*challenge)) ||
        (!method && challenge)) {
        redirect_to(out, redirect, "error", "invalid_request", state);
        return;
    }
    pthread_rwlock_rdlock(&app->lib->lock);
    em_user *u = NULL;
    if (as_user) u = library_user(app->lib, as_user);
    pthread_rwlock_unlock(&app->lib->lock);
    pthread_mutex_lock(&a->mu);
    if (!as_user) u = a->consent_user;
    bool deny = a->consent_deny;
    pthread_mutex_unlock(&a->mu);
    if (!u && !as_user) {
        pthread_rwlock_rdlock(&app->lib->lock);
        u = app->lib->users.n ? app->lib->users.v[0] : NULL;
        pthread_rwlock_unlock(&app->lib->lock);
    }
    if (deny || !u) {
        redirect_to(out, redirect, "error", "access_denied", state);
        return;
    }
    acc_code c = {0};
    c.code = random_token("AQ", 48);
    c.client_id = xstrdup(client_id);
    c.redirect_uri = xstrdup(redirect);
    c.challenge = challenge ? xstrdup(challenge) : NULL;
    c.scope = xstrdup(scope ? scope : "");
    c.user = u;
    c.expires_ms = now_ms() + app->cfg.code_ttl_s * 1000;
    pthread_mutex_lock(&a->mu);
    VEC_PUSH(&a->codes, c);
    emmap_put(&a->code_ix, c.code, (uint32_t)a->codes.n - 1);
    pthread_mutex_unlock(&a->mu);
    redirect_to(out, redirect, "code", c.code, state);
}

/* Client authentication: Basic header or client_id/client_secret in the body.
 * Returns 1 for confidential (secret checked), 0 for public (PKCE, client_id
 * only), -1 after writing an error. */
static int client_auth(em_app *app, em_req *r, const em_form *f, em_resp *out)
{
    const char *authz = req_header(r, "Authorization");
    const char *id = em_form_get(f, "client_id"), *secret = em_form_get(f, "client_secret");
    char decoded[512];
    if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
        size_t n = 0;
        const char *b64 = authz + 6;
        if (sodium_base642bin((unsigned char *)decoded, sizeof(decoded) - 1, b64, strlen(b64), NULL, &n,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
            token_error(out, 400, "invalid_client", "Invalid client");
            return -1;
        }
        decoded[n] = '\0';
        char *colon = strchr(decoded, ':');
        if (!colon) {
            token_error(out, 400, "invalid_client", "Invalid client");
            return -1;
        }
        *colon = '\0';
        id = decoded;
        secret = colon + 1;
    }
    if (!id) {
        token_error(out, 400, "invalid_client", "Invalid client");
        return -1;
    }
    if (strcmp(id, app->cfg.client_id) != 0) {
        token_error(out, 400, "invalid_client", "Invalid client");
        return -1;
    }
    if (!secret) return 0;
    size_t sl = strlen(secret), el = strlen(app->cfg.client_secret);
    if (sl != el || sodium_memcmp(secret, app->cfg.client_secret, el) != 0) {
        token_error(out, 400, "invalid_client", "Invalid client secret");
        sodium_memzero(decoded, sizeof(decoded));
        return -1;
    }
    sodium_memzero(decoded, sizeof(decoded));
    return 1;
}

static bool pkce_ok(const char *verifier, const char *challenge)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    char b64[64];
    crypto_hash_sha256(hash, (const unsigned char *)verifier, strlen(verifier));
    sodium_bin2base64(b64, sizeof(b64), hash, sizeof(hash), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(b64) == strlen(challenge) && sodium_memcmp(b64, challenge, strlen(b64)) == 0;
}

/* Issues an access token (and a refresh token when refresh != NULL); caller
 * holds a->mu. */
static void issue(em_app *app, em_user *u, const char *scope, em_resp *out, acc_refresh *refresh)
{
    em_accounts *a = app->acc;
    acc_access t = {0};
    t.token = random_token("BQ", 48);
    t.scope = xstrdup(scope ? scope : "");
    t.user = u;
    t.expires_ms = now_ms() + app->cfg.token_ttl_s * 1000;
    VEC_PUSH(&a->access, t);
    emmap_put(&a->access_ix, t.token, (uint32_t)a->access.n - 1);
    resp_json(out, 200);
    jw *w = &out->body;
    jw_obj(w);
    jw_kstr(w, "access_token", t.token);
    jw_kstr(w, "token_type", "Bearer");
    jw_kint(w, "expires_in", app->cfg.token_ttl_s);
    if (refresh) {
        VEC_PUSH(&a->refresh, *refresh);
        emmap_put(&a->refresh_ix, refresh->token, (uint32_t)a->refresh.n - 1);
        jw_kstr(w, "refresh_token", refresh->token);
    }
    jw_kstr(w, "scope", t.scope);
    jw_obj_end(w);
}

static void grant_code(em_app *app, em_req *r, const em_form *f, em_resp *out)
{
    em_accounts *a = app->acc;
    int conf = client_auth(app, r, f, out);
    if (conf < 0) return;
    const char *code = em_form_get(f, "code"), *redirect = em_form_get(f, "redirect_uri");
    const char *verifier = em_form_get(f, "code_verifier");
    if (!code) { token_error(out, 400, "invalid_request", "code must be supplied"); return; }
    if (!redirect) { token_error(out, 400, "invalid_request", "redirect_uri must be supplied"); return; }
    if (!conf && !verifier) { token_error(out, 400, "invalid_request", "code_verifier required"); return; }
    pthread_mutex_lock(&a->mu);
    uint32_t ix;
    acc_code *c = emmap_get(&a->code_ix, code, &ix) ? &a->codes.v[ix] : NULL;
    if (!c || c->used || strcmp(c->client_id, app->cfg.client_id) != 0) {
        token_error(out, 400, "invalid_grant", "Invalid authorization code");
    } else if (now_ms() > c->expires_ms) {
        token_error(out, 400, "invalid_grant", "Authorization code expired");
    } else if (strcmp(c->redirect_uri, redirect) != 0) {
        token_error(out, 400, "invalid_grant", "Invalid redirect URI");
    } else if ((c->challenge || !conf) && (!verifier || !c->challenge || !pkce_ok(verifier, c->challenge))) {
        token_error(out, 400, "invalid_grant", "code_verifier was incorrect");
    } else {
        c->used = true;
        acc_refresh rt = {0};
        rt.token = random_token("AQ", 64);
        rt.scope = xstrdup(c->scope);
        rt.client_id = xstrdup(c->client_id);
        rt.user = c->user;
        rt.authorized_s = now_ms() / 1000;
        rt.pkce = !conf;
        issue(app, c->user, c->scope, out, &rt);
    }
    pthread_mutex_unlock(&a->mu);
}

static void grant_refresh(em_app *app, em_req *r, const em_form *f, em_resp *out)
{
    em_accounts *a = app->acc;
    int conf = client_auth(app, r, f, out);
    if (conf < 0) return;
    const char *token = em_form_get(f, "refresh_token");
    if (!token) { token_error(out, 400, "invalid_request", "refresh_token must be supplied"); return; }
    pthread_mutex_lock(&a->mu);
    uint32_t ix;
    acc_refresh *rt = emmap_get(&a->refresh_ix, token, &ix) ? &a->refresh.v[ix] : NULL;
    if (!rt || rt->rotated_out) {
        token_error(out, 400, "invalid_grant", "Invalid refresh token");
    } else if (rt->revoked) {
        token_error(out, 400, "invalid_grant", "Refresh token revoked");
    } else if (now_ms() / 1000 - rt->authorized_s > REFRESH_MAX_AGE_S) {
        token_error(out, 400, "invalid_grant", "Refresh token expired");
    } else {
        bool rotate = !conf || rt->pkce || app->cfg.rotate_refresh;
        em_user *u = rt->user;
        char *scope = xstrdup(rt->scope);
        if (rotate) {
            acc_refresh nrt = {0};
            nrt.token = random_token("AQ", 64);
            nrt.scope = xstrdup(rt->scope);
            nrt.client_id = xstrdup(rt->client_id);
            nrt.user = u;
            nrt.authorized_s = rt->authorized_s;
            nrt.pkce = rt->pkce;
            rt->rotated_out = true;       /* rt may move in issue(): not used after */
            issue(app, u, scope, out, &nrt);
        } else {
            issue(app, u, scope, out, NULL);
        }
        free(scope);
    }
    pthread_mutex_unlock(&a->mu);
}

void accounts_handle_token(em_app *app, em_req *r, em_resp *out)
{
    em_form f;
    em_form_parse(r->body, &f);
    const char *grant = em_form_get(&f, "grant_type");
    if (!grant) {
        token_error(out, 400, "unsupported_grant_type", "grant_type parameter is missing");
    } else if (strcmp(grant, "authorization_code") == 0) {
        r->grant_type = "authorization_code";
        grant_code(app, r, &f, out);
    } else if (strcmp(grant, "refresh_token") == 0) {
        r->grant_type = "refresh_token";
        grant_refresh(app, r, &f, out);
    } else if (strcmp(grant, "client_credentials") == 0) {
        r->grant_type = "client_credentials";
        int conf = client_auth(app, r, &f, out);
        if (conf == 0) token_error(out, 400, "invalid_client", "Invalid client secret");
        if (conf == 1) {
            pthread_mutex_lock(&app->acc->mu);
            issue(app, NULL, "", out, NULL);
            pthread_mutex_unlock(&app->acc->mu);
        }
    } else {
        token_error(out, 400, "unsupported_grant_type",
                    "grant_type must be client_credentials, authorization_code or refresh_token");
    }
    em_form_free(&f);
}

em_bearer accounts_check_bearer(em_accounts *a, const char *authorization, em_user **user)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0 || !authorization[7])
        return BEARER_MISSING;
    em_bearer res = BEARER_INVALID;
    pthread_mutex_lock(&a->mu);
    uint32_t ix;
    if (emmap_get(&a->access_ix, authorization + 7, &ix)) {
        const acc_access *t = &a->access.v[ix];
        if (now_ms() >= t->expires_ms) {
            res = BEARER_EXPIRED;
        } else {
            res = BEARER_OK;
            *user = t->user;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return res;
}

void accounts_set_consent(em_accounts *a, em_user *user, bool deny)
{
    pthread_mutex_lock(&a->mu);
    a->consent_user = user;
    a->consent_deny = deny;
    pthread_mutex_unlock(&a->mu);
}

int accounts_expire_access(em_accounts *a, const em_user *u)
{
    int n = 0;
    int64_t now = now_ms();
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->access.n; i++)
        if (a->access.v[i].user == u && a->access.v[i].expires_ms > now - 1) {
            a->access.v[i].expires_ms = now - 1;
            n++;
        }
    pthread_mutex_unlock(&a->mu);
    return n;
}

int accounts_revoke_refresh(em_accounts *a, const em_user *u)
{
    int n = 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->refresh.n; i++)
        if (a->refresh.v[i].user == u && !a->refresh.v[i].revoked) {
            a->refresh.v[i].revoked = true;
            n++;
        }
    pthread_mutex_unlock(&a->mu);
    return n;
}

int accounts_age_refresh(em_accounts *a, const em_user *u, long days)
{
    int n = 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->refresh.n; i++)
        if (a->refresh.v[i].user == u) {
            a->refresh.v[i].authorized_s -= (int64_t)days * 86400;
            n++;
        }
    pthread_mutex_unlock(&a->mu);
    return n;
}

void accounts_dump_tokens(em_accounts *a, jw *w)
{
    pthread_mutex_lock(&a->mu);
    jw_obj(w);
    jw_key(w, "access");
    jw_arr(w);
    for (size_t i = 0; i < a->access.n; i++) jw_str(w, a->access.v[i].token);
    jw_arr_end(w);
    jw_key(w, "refresh");
    jw_arr(w);
    for (size_t i = 0; i < a->refresh.n; i++) jw_str(w, a->refresh.v[i].token);
    jw_arr_end(w);
    jw_obj_end(w);
    pthread_mutex_unlock(&a->mu);
}

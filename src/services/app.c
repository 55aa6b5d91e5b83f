/* app.c - builds and tears down the process context (see app.h).
 *
 * app_open wires the pieces together: the database pool (migrated when
 * asked), the vault (KEEPTRACK_SECRET_KEY, else the key file, plus
 * KEEPTRACK_SECRET_KEY_PREVIOUS for rotation), and the Spotify client whose
 * token hooks live here: `load` opens the user's sealed tokens, `save` seals
 * refreshed ones and stores them, `revoked` marks the user reauth_required
 * and wipes the tokens. The hooks take a pooled connection of their own for
 * a moment; callers never hold one across a Spotify call. With PostgreSQL
 * the client's request budget is the one all instances share (budget.h).
 *
 * Memory at start (issue 17): the Spotify client is made here but libcurl,
 * and with it OpenSSL (curl's TLS and libssh2's), is initialised on its
 * first request (spotify_curl_global_init): a server that has not talked to
 * Spotify yet keeps 1.7 MB of libcrypto pages and 0.3 MB of others out of
 * its RSS (bench/memory.py "start RSS": 14.3 -> 12.3 MB).
 */
#include "services/app.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/budget.h"
#include "services/metrics.h"
#include "store/store_auth.h"

#define TEMP_SLOTS 64

typedef struct temp_slot {
    int64_t id; /* 0 = free */
    spotify_tokens tok;
} temp_slot;

/* The public context first, so a kt_app * converts back to the whole. */
typedef struct app_impl {
    kt_app pub;
    pthread_mutex_t mu;
    int64_t next_temp;
    temp_slot *temp; /* sodium_malloc'd: holds secrets */
    budget_shared *budget; /* PostgreSQL: the request budget all instances share */
} app_impl;

static app_impl *impl_of(kt_app *app)
{
    return (app_impl *)app;
}

kt_status app_db_get(kt_app *app, store **out, kt_err *err)
{
    return store_pool_get(app->db, out, err);
}

void app_db_put(kt_app *app, store *s)
{
    if (s)
        store_pool_put(app->db, s);
}

kt_status app_db_read_json(kt_app *app, app_read_fn fn, void *ctx, json_t **out, kt_err *err)
{
    store *s = NULL;
    json_t *j = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = fn(s, ctx, &j, err);
    app_db_put(app, s);
    if (st == KT_OK && !j)
        st = err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
    if (st == KT_OK)
        *out = j;
    else
        json_decref(j);
    return st;
}

/* ---- temporary tokens of logins in flight ---- */

kt_status app_temp_tokens_add(kt_app *app, const spotify_tokens *t, int64_t *temp_id, kt_err *err)
{
    app_impl *a = impl_of(app);
    kt_status st = err_set(err, KT_ERR_CONFLICT, "too_many_logins",
                           "too many logins in progress; try again in a moment");
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < TEMP_SLOTS; i++) {
        if (a->temp[i].id != 0)
            continue;
        a->temp[i].id = --a->next_temp;
        a->temp[i].tok = *t;
        *temp_id = a->temp[i].id;
        st = KT_OK;
        break;
    }
    pthread_mutex_unlock(&a->mu);
    if (st == KT_OK)
        err_clear(err);
    return st;
}

static temp_slot *temp_find(app_impl *a, int64_t id)
{
    for (size_t i = 0; i < TEMP_SLOTS; i++)
        if (a->temp[i].id == id)
            return &a->temp[i];
    return NULL;
}

void app_temp_tokens_remove(kt_app *app, int64_t temp_id, spotify_tokens *out)
{
    app_impl *a = impl_of(app);
    pthread_mutex_lock(&a->mu);
    temp_slot *slot = temp_find(a, temp_id);
    if (slot) {
        if (out)
            *out = slot->tok;
        sodium_memzero(slot, sizeof *slot);
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- token hooks ---- */

/* The refresh lock this thread holds (hooks.refresh_lock; PostgreSQL only):
 * a pooled connection inside a transaction that locks the user's token row,
 * so another instance refreshing the same user waits and then finds the new
 * token instead of spending (and, with rotation, invalidating) the refresh
 * token a second time. While it is held, load and save of that user go
 * through this connection: a second connection would wait on the row lock
 * forever. save commits (new tokens stored, lock released at once); a
 * revocation rolls back first, because marking reauth takes a transaction
 * of its own. The client calls lock, load, save/revoked and unlock on one
 * thread, so a thread-local is enough. */
typedef struct refresh_lock {
    store *s;
    int64_t user_id;
    int in_tx; /* the locking transaction is still open */
} refresh_lock;

static _Thread_local refresh_lock held_lock;

/* The held lock's connection when it is user_id's, else NULL. */
static store *locked_conn(int64_t user_id)
{
    return held_lock.s && held_lock.user_id == user_id && held_lock.in_tx ? held_lock.s : NULL;
}

static kt_status hook_refresh_lock(void *ctx, int64_t user_id, void **lock, kt_err *err)
{
    app_impl *a = ctx;
    store *s = NULL;
    kt_status st;
    *lock = NULL;
    if (user_id <= 0 || held_lock.s) /* logins in flight are this process's own */
        return KT_OK;
    if ((st = app_db_get(&a->pub, &s, err)) != KT_OK)
        return st;
    if (store_get_backend(s) != STORE_POSTGRES) { /* SQLite: one process */
        app_db_put(&a->pub, s);
        return KT_OK;
    }
    if ((st = store_begin(s, err)) != KT_OK || (st = store_tokens_lock(s, user_id, err)) != KT_OK) {
        store_rollback(s);
        app_db_put(&a->pub, s);
        return st;
    }
    held_lock = (refresh_lock){.s = s, .user_id = user_id, .in_tx = 1};
    *lock = &held_lock;
    return KT_OK;
}

static void hook_refresh_unlock(void *ctx, void *lock)
{
    app_impl *a = ctx;
    refresh_lock *l = lock;
    if (l == NULL)
        return;
    if (l->in_tx)
        store_rollback(l->s); /* no refresh happened or it failed: nothing to keep */
    app_db_put(&a->pub, l->s);
    memset(l, 0, sizeof *l);
}

/* Opens one sealed column into dst (cap bytes, NUL-terminated). */
static kt_status open_into(vault *v, int64_t uid, const char *column, const unsigned char *blob,
                           size_t len, char *dst, size_t cap, kt_err *err)
{
    char *plain = NULL;
    size_t plain_len = 0;
    kt_status st = vault_open_secret(v, uid, column, blob, len, &plain, &plain_len, err);
    if (st != KT_OK)
        return st;
    if (plain_len >= cap)
        st = err_set(err, KT_ERR_TOO_LARGE, "token_too_large", "a stored token is too long");
    else
        memcpy(dst, plain, plain_len + 1);
    vault_secret_free(plain, plain_len);
    return st;
}

static kt_status hook_load(void *ctx, int64_t user_id, spotify_tokens *out, kt_err *err)
{
    app_impl *a = ctx;
    store *s = NULL;
    store_tokens row = {0};
    spotify_tokens tmp;
    kt_status st;

    if (user_id < 0) {
        pthread_mutex_lock(&a->mu);
        temp_slot *slot = temp_find(a, user_id);
        if (slot)
            *out = slot->tok;
        pthread_mutex_unlock(&a->mu);
        return slot ? KT_OK : err_set(err, KT_ERR_REAUTH, "reauth_required", "login expired");
    }
    memset(&tmp, 0, sizeof tmp);
    if ((s = locked_conn(user_id)) != NULL) {
        st = store_tokens_get(s, user_id, &row, err);
    } else {
        if ((st = app_db_get(&a->pub, &s, err)) != KT_OK)
            return st;
        st = store_tokens_get(s, user_id, &row, err);
        app_db_put(&a->pub, s);
    }
    if (st == KT_ERR_NOT_FOUND)
        return err_set(err, KT_ERR_REAUTH, "reauth_required",
                       "this account has no Spotify authorization; log in with Spotify again");
    if (st != KT_OK)
        return st;
    st = open_into(a->pub.vault, user_id, STORE_COL_ACCESS, row.access, row.access_len,
                   tmp.access_token, sizeof tmp.access_token, err);
    if (st == KT_OK && row.refresh)
        st = open_into(a->pub.vault, user_id, STORE_COL_REFRESH, row.refresh, row.refresh_len,
                       tmp.refresh_token, sizeof tmp.refresh_token, err);
    tmp.expires_at_ms = row.expires_at;
    if (st == KT_OK)
        *out = tmp;
    spotify_tokens_wipe(&tmp);
    store_tokens_clear(&row);
    return st;
}

/* Seals the two tokens of t for user_id; *refresh is NULL when t has none. */
static kt_status seal_pair(vault *v, int64_t user_id, const spotify_tokens *t,
                           unsigned char **access, size_t *access_len, unsigned char **refresh,
                           size_t *refresh_len, kt_err *err)
{
    unsigned char *a = NULL, *r = NULL;
    size_t alen = 0, rlen = 0;
    kt_status st = vault_seal(v, user_id, STORE_COL_ACCESS, t->access_token,
                              strlen(t->access_token), &a, &alen, err);
    if (st == KT_OK && t->refresh_token[0] != '\0')
        st = vault_seal(v, user_id, STORE_COL_REFRESH, t->refresh_token,
                        strlen(t->refresh_token), &r, &rlen, err);
    if (st != KT_OK) {
        free(a);
        free(r);
        return st;
    }
    *access = a;
    *access_len = alen;
    *refresh = r;
    *refresh_len = rlen;
    return KT_OK;
}

kt_status app_seal_tokens(kt_app *app, int64_t user_id, const spotify_tokens *t,
                          unsigned char **access, size_t *access_len, unsigned char **refresh,
                          size_t *refresh_len, kt_err *err)
{
    return seal_pair(app->vault, user_id, t, access, access_len, refresh, refresh_len, err);
}

static kt_status hook_save(void *ctx, int64_t user_id, const spotify_tokens *t, kt_err *err)
{
    app_impl *a = ctx;
    store *s = NULL;
    unsigned char *access = NULL, *refresh = NULL;
    size_t access_len = 0, refresh_len = 0;
    kt_status st;

    /* The client calls save only after a refresh grant succeeded. */
    metrics_token_refresh("ok");
    if (user_id < 0) {
        pthread_mutex_lock(&a->mu);
        temp_slot *slot = temp_find(a, user_id);
        if (slot)
            slot->tok = *t;
        pthread_mutex_unlock(&a->mu);
        return KT_OK;
    }
    st = seal_pair(a->pub.vault, user_id, t, &access, &access_len, &refresh, &refresh_len, err);
    if (st != KT_OK)
        return st;
    if ((s = locked_conn(user_id)) != NULL) {
        /* Stored and the row lock released in one commit. */
        st = store_tokens_put(s, user_id, access, access_len, refresh, refresh_len,
                              t->expires_at_ms, vault_key_id(a->pub.vault), time_now_ms(), err);
        if (st == KT_OK)
            st = store_commit(s, err);
        else
            store_rollback(s);
        held_lock.in_tx = 0;
    } else if ((st = app_db_get(&a->pub, &s, err)) == KT_OK) {
        st = store_tokens_put(s, user_id, access, access_len, refresh, refresh_len,
                              t->expires_at_ms, vault_key_id(a->pub.vault), time_now_ms(), err);
        app_db_put(&a->pub, s);
    }
    free(access);
    free(refresh);
    return st;
}

static void hook_revoked(void *ctx, int64_t user_id, const char *reason)
{
    app_impl *a = ctx;
    store *s = NULL;
    kt_err err = {0};
    metrics_token_refresh("revoked");
    if (user_id < 0)
        return;
    LOG_WARN("spotify_token_revoked", "user_id=%lld reason=%s", (long long)user_id,
             reason ? reason : "invalid_grant");
    if ((s = locked_conn(user_id)) != NULL) {
        /* End the locking transaction: marking reauth takes its own. */
        store_rollback(s);
        held_lock.in_tx = 0;
        if (store_user_mark_reauth(s, user_id, time_now_ms(), &err) != KT_OK)
            LOG_ERROR("mark_reauth_failed", "user_id=%lld error=%s", (long long)user_id, err.msg);
    } else if (app_db_get(&a->pub, &s, &err) == KT_OK) {
        if (store_user_mark_reauth(s, user_id, time_now_ms(), &err) != KT_OK)
            LOG_ERROR("mark_reauth_failed", "user_id=%lld error=%s", (long long)user_id, err.msg);
        app_db_put(&a->pub, s);
    } else {
        LOG_ERROR("mark_reauth_failed", "user_id=%lld error=%s", (long long)user_id, err.msg);
    }
}

/* ---- open / close ---- */

kt_status app_vault_open(const kt_config *cfg, vault **out, kt_err *err)
{
    vault *v = NULL;
    kt_status st = vault_open(cfg->secret_key, cfg->secret_key_file, &v, err);
    if (st == KT_OK && (st = vault_add_old_keys_csv(v, cfg->secret_key_previous, err)) == KT_OK)
        *out = v;
    else
        vault_free(v);
    return st;
}

static kt_status open_spotify(app_impl *a, const kt_config *cfg, kt_err *err)
{
    spotify_config sc = {.accounts_url = cfg->spotify_accounts_url,
                         .api_url = cfg->spotify_api_url,
                         .client_id = cfg->spotify_client_id,
                         .client_secret = cfg->spotify_client_secret,
                         .concurrency = cfg->spotify_concurrency,
                         .budget_per_sec = cfg->spotify_budget,
                         .timeout_ms = cfg->spotify_timeout_ms};
    spotify_token_hooks hooks = {.ctx = a, .load = hook_load, .save = hook_save,
                                 .revoked = hook_revoked, .refresh_lock = hook_refresh_lock,
                                 .refresh_unlock = hook_refresh_unlock};
    if (cfg->spotify_client_id == NULL)
        return KT_OK; /* commands that never talk to Spotify (migrate, keys) */
    return spotify_client_new(&sc, &hooks, &a->pub.spotify, err);
}

kt_status app_open(const kt_config *cfg, int migrate, kt_app **out, kt_err *err)
{
    app_impl *a = NULL;
    store *s = NULL;
    kt_status st;

    if ((st = crypto_init()) != KT_OK)
        return err_set(err, st, NULL, "libsodium could not initialise");
    if ((a = calloc(1, sizeof *a)) == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    a->pub.cfg = cfg;
    a->temp = sodium_malloc(TEMP_SLOTS * sizeof *a->temp);
    if (a->temp == NULL) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    memset(a->temp, 0, TEMP_SLOTS * sizeof *a->temp);

    /* SQLite: the database's folder may not exist yet on a fresh machine. */
    if (strstr(cfg->db, "://") == NULL && strcmp(cfg->db, ":memory:") != 0 &&
        (st = fs_mkdir_parent(cfg->db, 0700, err)) != KT_OK)
        goto out;
    if ((st = store_pool_open(cfg->db, cfg->db_pool > 0 ? cfg->db_pool : 8, &a->pub.db, err)) !=
        KT_OK)
        goto out;
    if ((st = store_pool_get(a->pub.db, &s, err)) != KT_OK)
        goto out;
    if (migrate) {
        st = store_migrate(s, err);
    } else {
        int current = 0;
        st = store_schema_version(s, &current, err);
        if (st == KT_OK && current != store_schema_latest())
            st = err_set(err, KT_ERR_STORE, "schema_outdated",
                         "the database schema is version %d, this binary needs %d: run "
                         "`keeptrack migrate`",
                         current, store_schema_latest());
    }
    store_pool_put(a->pub.db, s);
    if (st != KT_OK)
        goto out;

    if ((st = app_vault_open(cfg, &a->pub.vault, err)) != KT_OK)
        goto out;
    if ((st = open_spotify(a, cfg, err)) != KT_OK)
        goto out;
    if ((st = budget_open(&a->pub, cfg->spotify_budget, &a->budget, err)) != KT_OK)
        goto out;
    *out = &a->pub;
    a = NULL;
out:
    app_close(a ? &a->pub : NULL);
    return st;
}

void app_close(kt_app *app)
{
    app_impl *a = (app_impl *)app;
    if (a == NULL)
        return;
    spotify_client_free(a->pub.spotify);
    budget_free(a->budget); /* after the client: its budget hook points here */
    store_pool_close(a->pub.db);
    vault_free(a->pub.vault);
    if (a->temp)
        sodium_free(a->temp); /* zeroes before freeing */
    pthread_mutex_destroy(&a->mu);
    free(a);
}

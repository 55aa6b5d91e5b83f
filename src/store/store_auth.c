/* store_auth.c - domain SQL for login: users, sealed tokens, OAuth states,
 * sessions, app_state (see store_auth.h for the contract).
 *
 * Portable SQL only (store.h's rules): `?` placeholders, ON CONFLICT upserts,
 * RETURNING, BIGINT unix-ms times. Multi-statement operations open their
 * own transaction and roll back on any failure through one `goto out`.
 */
#include "store/store_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS \
    "id, account_id, spotify_id, display_name, status, scopes, authorized_at, created_at, " \
    "updated_at"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* Copies a nullable text cell; *out is NULL for SQL NULL. */
static kt_status dup_text(const store_rows *r, size_t row, size_t col, char **out, kt_err *err)
{
    const char *t = store_rows_text(r, row, col);
    *out = NULL;
    if (t == NULL)
        return KT_OK;
    *out = strdup(t);
    return *out ? KT_OK : nomem(err);
}

/* Copies a nullable blob cell; *out is NULL for SQL NULL. An empty blob
 * still gets a (1-byte) allocation so NULL always means SQL NULL. */
static kt_status dup_blob(const store_rows *r, size_t row, size_t col, unsigned char **out,
                          size_t *len, kt_err *err)
{
    size_t n = 0;
    const void *b = store_rows_blob(r, row, col, &n);
    *out = NULL;
    *len = 0;
    if (b == NULL)
        return KT_OK;
    *out = malloc(n ? n : 1);
    if (*out == NULL)
        return nomem(err);
    memcpy(*out, b, n);
    *len = n;
    return KT_OK;
}

void store_user_clear(store_user *u)
{
    if (u == NULL)
        return;
    free(u->account_id);
    free(u->spotify_id);
    free(u->display_name);
    free(u->status);
    free(u->scopes);
    memset(u, 0, sizeof *u);
}

void store_user_list_free(store_user *users, size_t n)
{
    if (users == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_user_clear(&users[i]);
    free(users);
}

void store_tokens_clear(store_tokens *t)
{
    if (t == NULL)
        return;
    free(t->access);
    free(t->refresh);
    memset(t, 0, sizeof *t);
}

void store_oauth_state_clear(store_oauth_state *st)
{
    if (st == NULL)
        return;
    free(st->verifier);
    free(st->return_to);
    memset(st, 0, sizeof *st);
}

/* Fills *u from row `row` of a query selecting USER_COLUMNS. */
static kt_status user_from_row(const store_rows *r, size_t row, store_user *u, kt_err *err)
{
    store_user tmp = {0};
    kt_status st;
    tmp.id = store_rows_int(r, row, 0);
    if ((st = dup_text(r, row, 1, &tmp.account_id, err)) != KT_OK ||
        (st = dup_text(r, row, 2, &tmp.spotify_id, err)) != KT_OK ||
        (st = dup_text(r, row, 3, &tmp.display_name, err)) != KT_OK ||
        (st = dup_text(r, row, 4, &tmp.status, err)) != KT_OK ||
        (st = dup_text(r, row, 5, &tmp.scopes, err)) != KT_OK) {
        store_user_clear(&tmp);
        return st;
    }
    tmp.authorized_at = store_rows_int(r, row, 6);
    tmp.created_at = store_rows_int(r, row, 7);
    tmp.updated_at = store_rows_int(r, row, 8);
    *u = tmp;
    return KT_OK;
}

static kt_status user_query_one(store *s, const char *sql, const store_param *p, size_t np,
                                store_user *out, kt_err *err)
{
    store_rows *r = NULL;
    kt_status st = store_query(s, sql, p, np, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "user_not_found", "no such user");
    else
        st = user_from_row(r, 0, out, err);
    store_rows_free(r);
    return st;
}

kt_status store_user_get(store *s, int64_t id, store_user *out, kt_err *err)
{
    store_param p[] = {SP_INT(id)};
    return user_query_one(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?", p, 1, out, err);
}

kt_status store_user_get_by_account(store *s, const char *account_id, store_user *out,
                                    kt_err *err)
{
    store_param p[] = {SP_TEXT(account_id)};
    if (account_id == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_account", "account_id is required");
    return user_query_one(s, "SELECT " USER_COLUMNS " FROM users WHERE account_id = ?", p, 1,
                          out, err);
}

kt_status store_user_list(store *s, store_user **out, size_t *n, kt_err *err)
{
    store_rows *r = NULL;
    store_user *users = NULL;
    size_t count = 0, done = 0;
    kt_status st = store_query(s, "SELECT " USER_COLUMNS " FROM users ORDER BY id", NULL, 0,
                               &r, err);
    if (st != KT_OK)
        return st;
    count = store_rows_count(r);
    if (count > 0) {
        users = calloc(count, sizeof *users);
        if (users == NULL) {
            st = nomem(err);
            goto out;
        }
        for (done = 0; done < count; done++)
            if ((st = user_from_row(r, done, &users[done], err)) != KT_OK)
                goto out;
    }
    *out = users;
    *n = count;
    users = NULL;
out:
    store_user_list_free(users, done);
    store_rows_free(r);
    return st;
}

static int status_valid(const char *status)
{
    static const char *const known[] = {STORE_USER_ACTIVE, STORE_USER_REAUTH,
                                        STORE_USER_DISCONNECTED, STORE_USER_DISABLED};
    for (size_t i = 0; status && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(status, known[i]) == 0)
            return 1;
    return 0;
}

kt_status store_user_set_status(store *s, int64_t id, const char *status, int64_t now_ms,
                                kt_err *err)
{
    int64_t changes = 0;
    store_param p[] = {SP_TEXT(status), SP_INT(now_ms), SP_INT(id)};
    kt_status st;
    if (!status_valid(status))
        return err_set(err, KT_ERR_INVALID, "bad_status", "unknown user status");
    st = store_exec(s, "UPDATE users SET status = ?, updated_at = ? WHERE id = ?", p, 3,
                    &changes, err);
    if (st == KT_OK && changes == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "user_not_found", "no such user");
    return st;
}

kt_status store_tokens_delete(store *s, int64_t user_id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_exec(s, "DELETE FROM user_tokens WHERE user_id = ?", p, 1, NULL, err);
}

kt_status store_tokens_lock(store *s, int64_t user_id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    store_rows *r = NULL;
    kt_status st = store_query(s,
                               store_get_backend(s) == STORE_POSTGRES
                                   ? "SELECT user_id FROM user_tokens WHERE user_id = ? FOR UPDATE"
                                   : "SELECT user_id FROM user_tokens WHERE user_id = ?",
                               p, 1, &r, err);
    store_rows_free(r);
    return st;
}

kt_status store_session_delete_user(store *s, int64_t user_id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_exec(s, "DELETE FROM sessions WHERE user_id = ?", p, 1, NULL, err);
}

/* Sets the status, deletes the tokens and (when drop_sessions) the sessions,
 * all in one transaction. */
static kt_status status_and_wipe(store *s, int64_t id, const char *status, int drop_sessions,
                                 int64_t now_ms, kt_err *err)
{
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_user_set_status(s, id, status, now_ms, err)) != KT_OK ||
        (st = store_tokens_delete(s, id, err)) != KT_OK)
        goto out;
    if (drop_sessions && (st = store_session_delete_user(s, id, err)) != KT_OK)
        goto out;
    st = store_commit(s, err);
out:
    if (st != KT_OK)
        store_rollback(s);
    return st;
}

kt_status store_user_mark_reauth(store *s, int64_t id, int64_t now_ms, kt_err *err)
{
    return status_and_wipe(s, id, STORE_USER_REAUTH, 0, now_ms, err);
}

kt_status store_user_disconnect(store *s, int64_t id, int64_t now_ms, kt_err *err)
{
    return status_and_wipe(s, id, STORE_USER_DISCONNECTED, 0, now_ms, err);
}

kt_status store_user_disable(store *s, int64_t id, int64_t now_ms, kt_err *err)
{
    return status_and_wipe(s, id, STORE_USER_DISABLED, 1, now_ms, err);
}

kt_status store_user_delete(store *s, int64_t id, kt_err *err)
{
    int64_t changes = 0;
    store_param p[] = {SP_INT(id)};
    kt_status st = store_exec(s, "DELETE FROM users WHERE id = ?", p, 1, &changes, err);
    if (st == KT_OK && changes == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "user_not_found", "no such user");
    return st;
}

/* ---- login ---- */

/* Inserts the user or updates their profile; refuses disabled users. */
static kt_status upsert_login_user(store *s, const store_login *in, int64_t *id, kt_err *err)
{
    store_rows *r = NULL;
    kt_status st;
    store_param find[] = {SP_TEXT(in->account_id)};
    store_param up[] = {SP_TEXT(in->account_id), SP_TEXT(in->spotify_id),
                        SP_TEXT(in->display_name), SP_TEXT(in->scopes),
                        SP_INT(in->now_ms), SP_INT(in->now_ms), SP_INT(in->now_ms)};

    st = store_query(s, "SELECT status FROM users WHERE account_id = ?", find, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) > 0) {
        const char *status = store_rows_text(r, 0, 0);
        if (status && strcmp(status, STORE_USER_DISABLED) == 0)
            st = err_set(err, KT_ERR_FORBIDDEN, "user_disabled",
                         "this account is disabled on this keeptrack instance; ask its "
                         "administrator to run `keeptrack users enable`");
    }
    store_rows_free(r);
    if (st != KT_OK)
        return st;
    return store_query_int(s,
                           "INSERT INTO users (account_id, spotify_id, display_name, status, "
                           "scopes, authorized_at, created_at, updated_at) "
                           "VALUES (?, ?, ?, 'active', ?, ?, ?, ?) "
                           "ON CONFLICT (account_id) DO UPDATE SET "
                           "spotify_id = excluded.spotify_id, "
                           "display_name = excluded.display_name, status = 'active', "
                           "scopes = excluded.scopes, authorized_at = excluded.authorized_at, "
                           "updated_at = excluded.updated_at RETURNING id",
                           up, 7, id, err);
}

kt_status store_user_add_disconnected(store *s, const char *account_id, const char *spotify_id,
                                      const char *display_name, int64_t now_ms, int64_t *id,
                                      int *created, kt_err *err)
{
    int64_t n = 0;
    if (!account_id || !spotify_id || !id)
        return err_set(err, KT_ERR_INVALID, NULL, "account_id, spotify_id and id are required");
    store_param up[] = {SP_TEXT(account_id), SP_TEXT(spotify_id), SP_TEXT(display_name),
                        SP_TEXT(STORE_USER_DISCONNECTED), SP_INT(now_ms), SP_INT(now_ms)};
    store_param find[] = {SP_TEXT(account_id)};
    kt_status st = store_exec(s,
                              "INSERT INTO users (account_id, spotify_id, display_name, status, "
                              "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                              "(account_id) DO NOTHING",
                              up, 6, &n, err);
    if (st == KT_OK)
        st = store_query_int(s, "SELECT id FROM users WHERE account_id = ?", find, 1, id, err);
    if (st == KT_OK && created)
        *created = n > 0;
    return st;
}

kt_status store_login_record(store *s, const store_login *in, store_seal_fn seal, void *seal_ctx,
                             int64_t *user_id, kt_err *err)
{
    unsigned char *access = NULL, *refresh = NULL;
    size_t access_len = 0, refresh_len = 0;
    int64_t id = 0;
    kt_status st;

    if (in == NULL || in->account_id == NULL || in->spotify_id == NULL || in->key_id == NULL ||
        in->session_hash == NULL || seal == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_login", "incomplete login record");
    if ((st = store_begin(s, err)) != KT_OK)
        return st;
    if ((st = upsert_login_user(s, in, &id, err)) != KT_OK)
        goto out;
    if ((st = seal(seal_ctx, id, &access, &access_len, &refresh, &refresh_len, err)) != KT_OK)
        goto out;
    if ((st = store_tokens_put(s, id, access, access_len, refresh, refresh_len, in->expires_at,
                               in->key_id, in->now_ms, err)) != KT_OK)
        goto out;
    if ((st = store_session_create(s, in->session_hash, id, in->now_ms, in->session_expires_at,
                                   err)) != KT_OK)
        goto out;
    st = store_commit(s, err);
out:
    if (st != KT_OK)
        store_rollback(s);
    else if (user_id)
        *user_id = id;
    free(access);
    free(refresh);
    return st;
}

/* ---- tokens ---- */

kt_status store_tokens_get(store *s, int64_t user_id, store_tokens *out, kt_err *err)
{
    store_rows *r = NULL;
    store_tokens tmp = {0};
    store_param p[] = {SP_INT(user_id)};
    const char *key_id;
    kt_status st = store_query(s,
                               "SELECT access_token, refresh_token, expires_at, key_id, "
                               "updated_at FROM user_tokens WHERE user_id = ?",
                               p, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        st = err_set(err, KT_ERR_NOT_FOUND, "no_tokens", "the user has no Spotify tokens");
        goto out;
    }
    if ((st = dup_blob(r, 0, 0, &tmp.access, &tmp.access_len, err)) != KT_OK ||
        (st = dup_blob(r, 0, 1, &tmp.refresh, &tmp.refresh_len, err)) != KT_OK)
        goto out;
    tmp.expires_at = store_rows_int(r, 0, 2);
    key_id = store_rows_text(r, 0, 3);
    snprintf(tmp.key_id, sizeof tmp.key_id, "%s", key_id ? key_id : "");
    tmp.updated_at = store_rows_int(r, 0, 4);
    *out = tmp;
    memset(&tmp, 0, sizeof tmp);
out:
    store_tokens_clear(&tmp);
    store_rows_free(r);
    return st;
}

kt_status store_tokens_put(store *s, int64_t user_id, const unsigned char *access,
                           size_t access_len, const unsigned char *refresh, size_t refresh_len,
                           int64_t expires_at, const char *key_id, int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_INT(user_id),
                       SP_BLOB(access, access_len),
                       refresh ? SP_BLOB(refresh, refresh_len) : SP_NULL,
                       SP_INT(expires_at),
                       SP_TEXT(key_id),
                       SP_INT(now_ms)};
    if (access == NULL || key_id == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_tokens", "an access token and key id are required");
    return store_exec(s,
                      "INSERT INTO user_tokens (user_id, access_token, refresh_token, expires_at, "
                      "key_id, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                      "ON CONFLICT (user_id) DO UPDATE SET access_token = excluded.access_token, "
                      "refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, "
                      "key_id = excluded.key_id, updated_at = excluded.updated_at",
                      p, 6, NULL, err);
}

/* ---- OAuth states ---- */

kt_status store_oauth_state_put(store *s, const char *state_hash, const char *browser_hash,
                                const unsigned char *verifier, size_t verifier_len,
                                const char *return_to, int64_t now_ms, int64_t expires_at,
                                kt_err *err)
{
    store_param p[] = {SP_TEXT(state_hash), SP_TEXT(browser_hash),
                       SP_BLOB(verifier, verifier_len), SP_TEXT(return_to),
                       SP_INT(now_ms), SP_INT(expires_at)};
    if (state_hash == NULL || browser_hash == NULL || verifier == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_state", "incomplete OAuth state");
    return store_exec(s,
                      "INSERT INTO oauth_states (state_hash, browser_hash, verifier, return_to, "
                      "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                      p, 6, NULL, err);
}

kt_status store_oauth_state_take(store *s, const char *state_hash, store_oauth_state *out,
                                 kt_err *err)
{
    store_rows *r = NULL;
    store_oauth_state tmp = {0};
    store_param p[] = {SP_TEXT(state_hash)};
    const char *bh;
    kt_status st;
    if (state_hash == NULL)
        return err_set(err, KT_ERR_NOT_FOUND, "state_unknown", "no such login state");
    st = store_query(s,
                     "DELETE FROM oauth_states WHERE state_hash = ? RETURNING browser_hash, "
                     "verifier, return_to, created_at, expires_at",
                     p, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        st = err_set(err, KT_ERR_NOT_FOUND, "state_unknown", "no such login state");
        goto out;
    }
    bh = store_rows_text(r, 0, 0);
    snprintf(tmp.browser_hash, sizeof tmp.browser_hash, "%s", bh ? bh : "");
    if ((st = dup_blob(r, 0, 1, &tmp.verifier, &tmp.verifier_len, err)) != KT_OK ||
        (st = dup_text(r, 0, 2, &tmp.return_to, err)) != KT_OK)
        goto out;
    tmp.created_at = store_rows_int(r, 0, 3);
    tmp.expires_at = store_rows_int(r, 0, 4);
    *out = tmp;
    memset(&tmp, 0, sizeof tmp);
out:
    store_oauth_state_clear(&tmp);
    store_rows_free(r);
    return st;
}

kt_status store_oauth_state_purge(store *s, int64_t now_ms, int64_t *deleted, kt_err *err)
{
    store_param p[] = {SP_INT(now_ms)};
    return store_exec(s, "DELETE FROM oauth_states WHERE expires_at < ?", p, 1, deleted, err);
}

/* ---- sessions ---- */

kt_status store_session_create(store *s, const char *id_hash, int64_t user_id, int64_t now_ms,
                               int64_t expires_at, kt_err *err)
{
    store_param p[] = {SP_TEXT(id_hash), SP_INT(user_id), SP_INT(now_ms), SP_INT(now_ms),
                       SP_INT(expires_at)};
    if (id_hash == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_session", "session hash is required");
    return store_exec(s,
                      "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, "
                      "expires_at) VALUES (?, ?, ?, ?, ?)",
                      p, 5, NULL, err);
}

kt_status store_session_lookup(store *s, const char *id_hash, int64_t now_ms, int64_t ttl_ms,
                               int64_t touch_every_ms, int64_t *user_id, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_TEXT(id_hash)};
    int64_t uid, last_seen, expires_at;
    kt_status st;
    if (id_hash == NULL)
        return err_set(err, KT_ERR_NOT_FOUND, "no_session", "not logged in");
    st = store_query(s, "SELECT user_id, last_seen_at, expires_at FROM sessions WHERE id_hash = ?",
                     p, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "no_session", "not logged in");
    }
    uid = store_rows_int(r, 0, 0);
    last_seen = store_rows_int(r, 0, 1);
    expires_at = store_rows_int(r, 0, 2);
    store_rows_free(r);
    if (expires_at <= now_ms) {
        (void)store_session_delete(s, id_hash, NULL, NULL);
        return err_set(err, KT_ERR_NOT_FOUND, "session_expired", "the session expired");
    }
    if (now_ms - last_seen >= touch_every_ms) {
        store_param t[] = {SP_INT(now_ms), SP_INT(now_ms + ttl_ms), SP_TEXT(id_hash)};
        st = store_exec(s, "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?",
                        t, 3, NULL, err);
        if (st != KT_OK)
            return st;
    }
    *user_id = uid;
    return KT_OK;
}

kt_status store_session_delete(store *s, const char *id_hash, int64_t *deleted, kt_err *err)
{
    store_param p[] = {SP_TEXT(id_hash)};
    if (id_hash == NULL) {
        if (deleted)
            *deleted = 0;
        return KT_OK;
    }
    return store_exec(s, "DELETE FROM sessions WHERE id_hash = ?", p, 1, deleted, err);
}

kt_status store_session_purge(store *s, int64_t now_ms, int64_t *deleted, kt_err *err)
{
    store_param p[] = {SP_INT(now_ms)};
    return store_exec(s, "DELETE FROM sessions WHERE expires_at <= ?", p, 1, deleted, err);
}

/* ---- app_state ---- */

kt_status store_app_state_get(store *s, const char *key, char **value, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_TEXT(key)};
    char *v = NULL;
    kt_status st = store_query(s, "SELECT value FROM app_state WHERE key = ?", p, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "not_found", "no app state named %s", key);
    else if ((st = dup_text(r, 0, 0, &v, err)) == KT_OK)
        *value = v;
    store_rows_free(r);
    return st;
}

kt_status store_app_state_set(store *s, const char *key, const char *value, int64_t now_ms,
                              kt_err *err)
{
    store_param p[] = {SP_TEXT(key), SP_TEXT(value), SP_INT(now_ms)};
    if (key == NULL || value == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_app_state", "app state needs a key and a value");
    return store_exec(s,
                      "INSERT INTO app_state (key, value, updated_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                      "updated_at = excluded.updated_at",
                      p, 3, NULL, err);
}

/* ---- key rotation ---- */

/* Re-seals one blob column of every row returned by `select` (columns:
 * key, user id, blob) and writes it back with `update` (params: blob, key). */
static kt_status reseal_column(store *s, const char *select, const char *update,
                               const char *column, int key_is_text, store_reseal_fn fn,
                               void *ctx, int64_t *count, kt_err *err)
{
    store_rows *r = NULL;
    kt_status st = store_query(s, select, NULL, 0, &r, err);
    if (st != KT_OK)
        return st;
    for (size_t i = 0; i < store_rows_count(r); i++) {
        unsigned char *nb = NULL;
        size_t nlen = 0, len = 0;
        const unsigned char *blob = store_rows_blob(r, i, 2, &len);
        if (blob == NULL)
            continue;
        if ((st = fn(ctx, store_rows_int(r, i, 1), column, blob, len, &nb, &nlen, err)) != KT_OK)
            break;
        if (nb == NULL)
            continue;
        store_param p[] = {SP_BLOB(nb, nlen), key_is_text ? SP_TEXT(store_rows_text(r, i, 0))
                                                          : SP_INT(store_rows_int(r, i, 0))};
        st = store_exec(s, update, p, 2, NULL, err);
        free(nb);
        if (st != KT_OK)
            break;
        (*count)++;
    }
    store_rows_free(r);
    return st;
}

kt_status store_auth_reseal_all(store *s, store_reseal_fn fn, void *ctx, const char *key_id,
                                int64_t *count, kt_err *err)
{
    int64_t n = 0;
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    if ((st = reseal_column(s, "SELECT user_id, user_id, access_token FROM user_tokens",
                            "UPDATE user_tokens SET access_token = ? WHERE user_id = ?",
                            STORE_COL_ACCESS, 0, fn, ctx, &n, err)) != KT_OK ||
        (st = reseal_column(s, "SELECT user_id, user_id, refresh_token FROM user_tokens",
                            "UPDATE user_tokens SET refresh_token = ? WHERE user_id = ?",
                            STORE_COL_REFRESH, 0, fn, ctx, &n, err)) != KT_OK ||
        (st = reseal_column(s, "SELECT state_hash, 0, verifier FROM oauth_states",
                            "UPDATE oauth_states SET verifier = ? WHERE state_hash = ?",
                            STORE_COL_VERIFIER, 1, fn, ctx, &n, err)) != KT_OK)
        goto out;
    if (key_id) {
        store_param p[] = {SP_TEXT(key_id)};
        if ((st = store_exec(s, "UPDATE user_tokens SET key_id = ?", p, 1, NULL, err)) != KT_OK)
            goto out;
    }
    st = store_commit(s, err);
out:
    if (st != KT_OK)
        store_rollback(s);
    else if (count)
        *count = n;
    return st;
}

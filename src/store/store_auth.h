/* store_auth.h - the domain SQL behind login: users, their sealed Spotify
 * tokens, pending OAuth states, browser sessions and small app-wide values.
 *
 * Everything here is portable SQL run through store.h (bound parameters
 * only), so the same functions serve SQLite and PostgreSQL. This layer never
 * sees a secret in clear: tokens and PKCE verifiers arrive already sealed by
 * the vault (opaque blobs), and OAuth states and session ids arrive already
 * hashed (hex SHA-256). Callers (src/services/) do the crypto.
 *
 * Tables (migration 1): users, user_tokens, oauth_states, sessions,
 * app_state. Times are unix milliseconds. A user's status is one of
 * "active", "reauth_required", "disconnected", "disabled".
 *
 * Conventions: every function takes a borrowed `store *` that the calling
 * thread holds (see store.h), returns a kt_status, fills err, and writes its
 * out-parameters only on success. Functions that run several statements do
 * so in one transaction they open themselves, so they must not be called
 * inside a transaction the caller opened (store_begin refuses nesting); the
 * single-statement functions work inside or outside one.
 */
#ifndef KT_STORE_STORE_AUTH_H
#define KT_STORE_STORE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* User status values as stored. */
#define STORE_USER_ACTIVE "active"
#define STORE_USER_REAUTH "reauth_required"
#define STORE_USER_DISCONNECTED "disconnected"
#define STORE_USER_DISABLED "disabled"

/* Column names used as the vault's associated data for sealed values, so a
 * blob copied to another column (or user) fails to open. */
#define STORE_COL_ACCESS "user_tokens.access_token"
#define STORE_COL_REFRESH "user_tokens.refresh_token"
#define STORE_COL_VERIFIER "oauth_states.verifier"

/* One row of `users`. Strings are owned (store_user_clear frees them);
 * display_name and scopes may be NULL; authorized_at is 0 when unknown. */
typedef struct store_user {
    int64_t id;
    char *account_id;
    char *spotify_id;
    char *display_name;
    char *status;
    char *scopes;
    int64_t authorized_at;
    int64_t created_at;
    int64_t updated_at;
} store_user;

/* Frees the strings of *u and zeroes it. NULL is a no-op. */
void store_user_clear(store_user *u);
/* Clears and frees an array from store_user_list. NULL is a no-op. */
void store_user_list_free(store_user *users, size_t n);

/* A user's sealed tokens (one row of `user_tokens`). Blobs are owned
 * (store_tokens_clear frees them); refresh may be NULL (refresh_len 0). */
typedef struct store_tokens {
    unsigned char *access;
    size_t access_len;
    unsigned char *refresh;
    size_t refresh_len;
    int64_t expires_at;
    char key_id[16];
    int64_t updated_at;
} store_tokens;

void store_tokens_clear(store_tokens *t);

/* ---- users ---- */

/* Reads user `id`. KT_ERR_NOT_FOUND when there is none. */
kt_status store_user_get(store *s, int64_t id, store_user *out, kt_err *err);

/* Reads the user with Spotify `account_id`. KT_ERR_NOT_FOUND when none. */
kt_status store_user_get_by_account(store *s, const char *account_id, store_user *out,
                                    kt_err *err);

/* Adds a user known before any login (`keeptrack demo` seeds its user's
 * history this way): status "disconnected", no tokens, until a login with
 * the same account_id upserts it to "active". *created (may be NULL) is 1
 * when the row is new, 0 when the account already had one (left as it
 * is); *id receives the row's id either way. */
kt_status store_user_add_disconnected(store *s, const char *account_id, const char *spotify_id,
                                      const char *display_name, int64_t now_ms, int64_t *id,
                                      int *created, kt_err *err);

/* Every user, ordered by id. *out is owned by the caller
 * (store_user_list_free); *n may be 0 (then *out is NULL). */
kt_status store_user_list(store *s, store_user **out, size_t *n, kt_err *err);

/* Sets a user's status (one of the STORE_USER_* values). KT_ERR_NOT_FOUND
 * when there is no such user; KT_ERR_INVALID for an unknown status. */
kt_status store_user_set_status(store *s, int64_t id, const char *status, int64_t now_ms,
                                kt_err *err);

/* Marks a user reauth_required and deletes their tokens, in one transaction
 * (Spotify refused the refresh token: nothing left is usable). Sessions are
 * kept so the browser can show "log in again". */
kt_status store_user_mark_reauth(store *s, int64_t id, int64_t now_ms, kt_err *err);

/* Deletes the tokens and sets status "disconnected", in one transaction.
 * Sessions are kept (the user stays logged in to keeptrack). */
kt_status store_user_disconnect(store *s, int64_t id, int64_t now_ms, kt_err *err);

/* Disables a user (status "disabled", tokens and sessions deleted: the
 * account can no longer log in or be used) in one transaction. */
kt_status store_user_disable(store *s, int64_t id, int64_t now_ms, kt_err *err);

/* Deletes the user and, through ON DELETE CASCADE, everything held for
 * them (tokens, sessions, and what later migrations reference users with).
 * KT_ERR_NOT_FOUND when there is no such user. */
kt_status store_user_delete(store *s, int64_t id, kt_err *err);

/* ---- login ---- */

/* What a successful OAuth callback writes. Strings and blobs are borrowed. */
typedef struct store_login {
    const char *account_id;   /* required: Spotify's stable key for the user */
    const char *spotify_id;   /* required */
    const char *display_name; /* may be NULL */
    const char *scopes;       /* granted scopes, space separated; may be NULL */
    int64_t expires_at;       /* access token expiry */
    const char *key_id;       /* the vault key the blobs are sealed with */
    const char *session_hash; /* hex SHA-256 of the new session id */
    int64_t session_expires_at;
    int64_t now_ms;           /* the authorization time */
} store_login;

/* Records a login in one transaction: upserts the user by account_id
 * (status back to "active", scopes and authorized_at set), replaces the
 * tokens, and creates the session. A disabled user is refused with
 * KT_ERR_FORBIDDEN (code "user_disabled") and nothing is written. On success
 * *user_id (may be NULL) receives the user's id. Tokens are sealed with the
 * user's id as associated data, and the id is only known inside the
 * transaction, so `seal` is called there to produce the two blobs (malloc'd,
 * taken and freed by this function; refresh may come back NULL). */
typedef kt_status (*store_seal_fn)(void *ctx, int64_t user_id, unsigned char **access,
                                   size_t *access_len, unsigned char **refresh,
                                   size_t *refresh_len, kt_err *err);
kt_status store_login_record(store *s, const store_login *in, store_seal_fn seal, void *seal_ctx,
                             int64_t *user_id, kt_err *err);

/* ---- tokens ---- */

/* Reads a user's sealed tokens. KT_ERR_NOT_FOUND when the user has none. */
kt_status store_tokens_get(store *s, int64_t user_id, store_tokens *out, kt_err *err);

/* Inserts or replaces a user's sealed tokens. refresh may be NULL. */
kt_status store_tokens_put(store *s, int64_t user_id, const unsigned char *access,
                           size_t access_len, const unsigned char *refresh, size_t refresh_len,
                           int64_t expires_at, const char *key_id, int64_t now_ms, kt_err *err);

/* Deletes a user's tokens (no error when there are none). */
kt_status store_tokens_delete(store *s, int64_t user_id, kt_err *err);

/* Inside the caller's transaction: locks user_id's token row until the
 * transaction ends, so refreshes of one user are serialised across
 * processes (PostgreSQL: SELECT ... FOR UPDATE; SQLite: a plain read, its
 * transaction already holds the database's write lock). No error when the
 * user has no tokens (nothing to refresh then). */
kt_status store_tokens_lock(store *s, int64_t user_id, kt_err *err);

/* ---- OAuth states (single use) ---- */

typedef struct store_oauth_state {
    char browser_hash[65];
    unsigned char *verifier; /* sealed; owned */
    size_t verifier_len;
    char *return_to;         /* may be NULL; owned */
    int64_t created_at;
    int64_t expires_at;
} store_oauth_state;

void store_oauth_state_clear(store_oauth_state *st);

/* Stores a pending state. KT_ERR_CONFLICT if the hash already exists. */
kt_status store_oauth_state_put(store *s, const char *state_hash, const char *browser_hash,
                                const unsigned char *verifier, size_t verifier_len,
                                const char *return_to, int64_t now_ms, int64_t expires_at,
                                kt_err *err);

/* Removes the state and returns what it held, atomically (one
 * DELETE ... RETURNING: two callbacks racing on one state cannot both get
 * it). Expired states are returned too, so the caller can tell "expired"
 * from "unknown"; KT_ERR_NOT_FOUND when there is no such state (never
 * stored, or already used). */
kt_status store_oauth_state_take(store *s, const char *state_hash, store_oauth_state *out,
                                 kt_err *err);

/* Deletes states that expired before now_ms. *deleted may be NULL. */
kt_status store_oauth_state_purge(store *s, int64_t now_ms, int64_t *deleted, kt_err *err);

/* ---- sessions ---- */

/* Creates a session row. KT_ERR_CONFLICT if the hash exists. */
kt_status store_session_create(store *s, const char *id_hash, int64_t user_id, int64_t now_ms,
                               int64_t expires_at, kt_err *err);

/* Looks a session up: *user_id receives its user when it exists and has not
 * expired at now_ms; KT_ERR_NOT_FOUND otherwise (an expired row is deleted).
 * Sliding expiry: when the last touch is older than `touch_every_ms`, the
 * session's last_seen_at becomes now_ms and its expires_at now_ms + ttl_ms
 * (bounding the writes a busy browser causes). */
kt_status store_session_lookup(store *s, const char *id_hash, int64_t now_ms, int64_t ttl_ms,
                               int64_t touch_every_ms, int64_t *user_id, kt_err *err);

/* Deletes one session (no error when absent). *deleted may be NULL. */
kt_status store_session_delete(store *s, const char *id_hash, int64_t *deleted, kt_err *err);

/* Deletes every session of a user. */
kt_status store_session_delete_user(store *s, int64_t user_id, kt_err *err);

/* Deletes sessions expired before now_ms. *deleted may be NULL. */
kt_status store_session_purge(store *s, int64_t now_ms, int64_t *deleted, kt_err *err);

/* ---- app_state: small named values (e.g. the detected Spotify mode) ---- */

/* *value receives a copy owned by the caller (free). KT_ERR_NOT_FOUND if unset. */
kt_status store_app_state_get(store *s, const char *key, char **value, kt_err *err);
kt_status store_app_state_set(store *s, const char *key, const char *value, int64_t now_ms,
                              kt_err *err);

/* ---- key rotation ---- */

/* Called once per sealed value: given the blob sealed for (user_id, column),
 * returns a new blob in *out (malloc'd, taken by the caller), or sets *out
 * to NULL to keep the value unchanged. */
typedef kt_status (*store_reseal_fn)(void *ctx, int64_t user_id, const char *column,
                                     const unsigned char *blob, size_t len,
                                     unsigned char **out, size_t *out_len, kt_err *err);

/* Re-seals every sealed column (user_tokens.access_token, refresh_token,
 * oauth_states.verifier with user id 0) through fn in ONE transaction:
 * either every value is re-sealed or none is. key_id (may be NULL) is then
 * written to every user_tokens.key_id. *count (may be NULL) receives the
 * number of values rewritten. On a store failure or when fn fails, the
 * transaction is rolled back and that error is returned. */
kt_status store_auth_reseal_all(store *s, store_reseal_fn fn, void *ctx, const char *key_id,
                                int64_t *count, kt_err *err);

#endif

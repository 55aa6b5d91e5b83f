/* auth.h - the login service: Spotify OAuth (Authorization Code + PKCE),
 * keeptrack sessions, token refresh, disconnect, and the "me" summary.
 *
 * Flow. auth_login_start makes a 256-bit `state`, a PKCE pair (S256, always)
 * and, unless the browser already has one, a 256-bit browser binding value
 * (the caller puts it in a cookie). The state is stored hashed (SHA-256) with
 * the hashed binding and the verifier sealed by the vault, for 10 minutes.
 * auth_login_callback takes the state back (single use: it is deleted
 * whether the rest succeeds or not), checks expiry and that the same browser
 * finishes the flow, exchanges the code, asks GET /me who the account is,
 * and records the user (by account_id), the sealed tokens, the granted
 * scopes, the authorization time and a new session in one transaction.
 *
 * Sessions are 256-bit random ids (43 base64url chars) held by the browser
 * and stored only as SHA-256 hashes; a new id at every login; sliding expiry
 * of KEEPTRACK_SESSION_DAYS.
 *
 * Services never parse HTTP: callers pass plain values (cookie values,
 * query parameters) and get kt_status + kt_err (codes listed per function)
 * back. Everything here is thread-safe (it borrows pooled connections and
 * never holds one across a Spotify call). Secrets never reach kt_err.
 */
#ifndef KT_SERVICES_AUTH_H
#define KT_SERVICES_AUTH_H

#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

#define AUTH_STATE_TTL_MS (10 * 60 * 1000)
/* Spotify refuses refresh tokens about six months after the authorization
 * (the emulator: past 183 days); keeptrack counts the days left from it. */
#define AUTH_REFRESH_LIFETIME_DAYS 183
#define AUTH_TOKEN_LEN 43 /* chars of a session id or binding value */

/* Starts a login. `binding` is the browser's current binding cookie value or
 * NULL; when it is not a well-formed 43-char value a new one is made.
 * `return_to` (may be NULL) is where the browser lands after login; only a
 * local path ("/x", not "//x") is kept, anything else becomes cfg->ui_path.
 * On success *url (caller frees) is Spotify's /authorize URL and
 * binding_out the binding value to (re)set in the browser. Errors:
 * KT_ERR_INVALID "spotify_not_configured" without a client id; store
 * errors. */
kt_status auth_login_start(kt_app *app, const char *binding, const char *return_to, char **url,
                           char binding_out[44], kt_err *err);

typedef struct auth_login_result {
    int64_t user_id;
    char session_id[44]; /* secret: goes only into the session cookie */
    char return_to[512];
} auth_login_result;

/* Finishes a login from the callback's query parameters (code, state,
 * error; each may be NULL) and the browser's binding cookie (may be NULL).
 * Errors (kt_err.code): "state_missing" (KT_ERR_INVALID), "state_unknown"
 * (KT_ERR_INVALID: never issued or already used), "state_expired"
 * (KT_ERR_INVALID), "wrong_browser" (KT_ERR_FORBIDDEN: started in another
 * browser), "access_denied" (KT_ERR_FORBIDDEN: the user declined),
 * "authorize_failed" (KT_ERR_UPSTREAM: another error from Spotify),
 * "code_missing" (KT_ERR_INVALID), "user_disabled" (KT_ERR_FORBIDDEN), and
 * the Spotify client's errors for the exchange and GET /me. On success *out
 * is filled. */
kt_status auth_login_callback(kt_app *app, const char *code, const char *state, const char *error,
                              const char *binding, auth_login_result *out, kt_err *err);

/* The user a session id belongs to (sliding its expiry). KT_ERR_UNAUTHORIZED
 * "not_logged_in" when the id is absent, malformed, unknown or expired. */
kt_status auth_session_user(kt_app *app, const char *session_id, int64_t *user_id, kt_err *err);

/* Revokes a session (no error when it does not exist). */
kt_status auth_logout(kt_app *app, const char *session_id, kt_err *err);

/* Refreshes the user's access token now. KT_ERR_REAUTH "reauth_required"
 * when Spotify refused the refresh token (the user is then marked
 * reauth_required) or the user has no tokens (disconnected). */
kt_status auth_refresh(kt_app *app, int64_t user_id, kt_err *err);

/* Deletes the user's tokens (status "disconnected"); with delete_data,
 * deletes the user and everything held for them (sessions included).
 * Spotify has no token-revocation endpoint: the user can also remove the
 * app at spotify.com/account/apps. */
kt_status auth_disconnect(kt_app *app, int64_t user_id, int delete_data, kt_err *err);

typedef struct auth_me {
    int64_t user_id;
    char account_id[128];
    char spotify_id[128];
    char display_name[256]; /* "" when Spotify gave none */
    int has_display_name;
    char status[32];        /* active | reauth_required | disconnected */
    char scopes[1024];      /* space separated */
    int64_t authorized_at;  /* unix ms; 0 when unknown */
    int64_t access_expires_at; /* unix ms; 0 when there is no token */
    int64_t refresh_expires_at; /* authorized_at + 183 days; 0 when unknown */
    int refresh_days_left;  /* whole days until refresh_expires_at, >= 0; -1 when unknown */
} auth_me;

/* The "me" summary of a user at now_ms. KT_ERR_NOT_FOUND when the user does
 * not exist. */
kt_status auth_me_get(kt_app *app, int64_t user_id, int64_t now_ms, auth_me *out, kt_err *err);

#endif

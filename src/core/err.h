/* err.h - the one error type every keeptrack module returns.
 *
 * Functions that can fail return a kt_status and fill a caller-owned kt_err
 * with a message a user can act on (what failed and what to do about it).
 * Out-parameters are written only on success. The error is a plain value:
 * no allocation, safe to copy, safe to pass NULL when the caller does not
 * care about the message.
 *
 * The HTTP edge maps kt_status to a status code (err_http_status) and sends
 * {"error":{"status":N,"code":"<code>","message":"<msg>"}}. Messages never
 * contain secrets (tokens, keys, cookies): callers must not format them in.
 */
#ifndef KT_CORE_ERR_H
#define KT_CORE_ERR_H

#include <stdint.h>

typedef enum kt_status {
    KT_OK = 0,
    KT_ERR_INVALID,     /* bad input from a user, client, file or configuration */
    KT_ERR_NOT_FOUND,   /* no such user, playlist, job, ... */
    KT_ERR_CONFLICT,    /* state does not allow it (already running, replayed state, ...) */
    KT_ERR_UNAUTHORIZED,/* no valid session or admin token */
    KT_ERR_FORBIDDEN,   /* authenticated but not allowed (includes Spotify 403s) */
    KT_ERR_REAUTH,      /* Spotify refused the refresh token: the user must log in again */
    KT_ERR_DEFERRED,    /* rate limited or quota exceeded: retry at err.retry_at_ms */
    KT_ERR_UPSTREAM,    /* Spotify (or another remote) failed after retries */
    KT_ERR_TOO_LARGE,   /* a body, file or response over its limit */
    KT_ERR_STORE,       /* the database failed */
    KT_ERR_CRYPTO,      /* decryption failed: wrong key or tampered data */
    KT_ERR_IO,          /* a local file or socket failed */
    KT_ERR_NOMEM,       /* allocation failed */
    KT_ERR_INTERNAL     /* a bug: an invariant did not hold */
} kt_status;

typedef struct kt_err {
    kt_status status;
    int upstream_status;    /* HTTP status from Spotify when relevant, else 0 */
    int64_t retry_at_ms;    /* KT_ERR_DEFERRED: unix time in ms when to try again */
    char code[48];          /* stable machine-readable code, e.g. "state_expired" */
    char msg[320];          /* human-readable, actionable, never contains a secret */
} kt_err;

/* Sets *e (when e is not NULL) and returns status, so callers can write
 * `return err_set(e, KT_ERR_INVALID, "bad_limit", "limit must be 1..50, got %d", n);`.
 * code may be NULL (a default derived from status is used). The message is
 * truncated to fit. Thread-safe. */
kt_status err_set(kt_err *e, kt_status status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the existing message with context ("syncing playlists: ..."), keeping
 * status and code. No-op when e is NULL. */
void err_prefix(kt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets *e to KT_OK with empty code and message. e may be NULL. */
void err_clear(kt_err *e);

/* Name of a status, e.g. "invalid" (static storage). */
const char *err_status_name(kt_status s);

/* The HTTP status an edge answers with for s (400, 404, 409, 401, 403, 401,
 * 503, 502, 413, 500, ...). */
int err_http_status(kt_status s);

#endif

/* shares.h - read-only share links (issue 18, item 3).
 *
 * A user makes a link that shows chosen pages of their library to anyone
 * who has it, without a login: "stats" (GET /api/stats/library), "tops"
 * (GET /api/stats/tops) and "playlist:<spotify id>" (that playlist's
 * versions, GET /api/playlists/{id}/versions). The link's token (32 random
 * bytes, base64url) is the capability: it is shown once when the link is
 * made and only its SHA-256 is stored, as for sessions. Links may expire
 * (1..365 days) and are revoked by deleting them; an unknown, expired and
 * revoked token all answer the same KT_ERR_NOT_FOUND, so the public routes
 * are no oracle. Public reads are rate-limited per client address and per
 * link (token buckets in this process: KEEPTRACK_SHARE_BURST requests at
 * once, refilled at KEEPTRACK_SHARE_RATE_PER_MIN).
 *
 * Thread-safe: each call borrows its own pooled connection; the rate
 * limiter is one mutex-guarded table per process. Bad input is
 * KT_ERR_INVALID "bad_parameter" with a message starting with the field.
 */
#ifndef KT_SERVICES_SHARES_H
#define KT_SERVICES_SHARES_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

/* Longest label, in bytes; most pages one link shows. */
#define SHARES_LABEL_MAX 100
#define SHARES_PAGES_MAX 20

/* Makes a link from a request body {"pages": ["stats" | "tops" |
 * "playlist:<id>", ...] (1..SHARES_PAGES_MAX, duplicates dropped; the
 * playlist must be in the user's library), "expires_in_days"?: 1..365,
 * "label"?: 1..SHARES_LABEL_MAX bytes}. *out receives {id, token, url (the
 * web UI's page of the link), pages, label, created_at, expires_at}: the
 * only time the token is ever shown. */
kt_status shares_create(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                        json_t **out, kt_err *err);

/* The user's links, without tokens: {shares: [{id, pages, label,
 * created_at, expires_at, expired}]}, oldest first. */
kt_status shares_list(kt_app *app, int64_t user_id, int64_t now_ms, json_t **out, kt_err *err);

/* Revokes one link of the user; KT_ERR_NOT_FOUND "no_share" when the user
 * has none with that id. */
kt_status shares_delete(kt_app *app, int64_t user_id, int64_t id, kt_err *err);

/* A public read through a link: charges the client's and the link's rate
 * buckets, resolves token (as sent) to its owner and checks that page (NULL
 * = the link's index) is one the link shows. On success *owner receives the
 * owner's user id (for the same service the owner's route calls) and, when
 * index is not NULL, *index the link's index {pages}. Errors:
 * KT_ERR_DEFERRED with err->retry_at_ms when a bucket is empty;
 * KT_ERR_NOT_FOUND "not_found" for a malformed, unknown, expired or revoked
 * token and for a page the link does not show (one answer for all). */
kt_status shares_open(kt_app *app, const char *token, const char *client, const char *page,
                      int64_t now_ms, int64_t *owner, json_t **index, kt_err *err);

/* Splits a page name "playlist:<id>": returns the id (pointing into page)
 * or NULL when page is not a playlist page. */
const char *shares_playlist_id(const char *page);

#endif

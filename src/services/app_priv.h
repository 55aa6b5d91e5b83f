/* app_priv.h - parts of the process context only the services use.
 *
 * During an OAuth callback keeptrack holds tokens for a Spotify account that
 * has no user row yet (GET /me tells which account it is). The Spotify
 * client only knows users by id and asks the token hooks for tokens, so the
 * app keeps such tokens in a small in-memory table under temporary negative
 * ids; the hooks answer for those ids from the table instead of the store.
 */
#ifndef KT_SERVICES_APP_PRIV_H
#define KT_SERVICES_APP_PRIV_H

#include "services/app.h"

/* Parks a copy of *t and gives it a temporary (negative) user id for
 * spotify_* calls. KT_ERR_CONFLICT when too many logins are in flight.
 * Thread-safe. Remove it with app_temp_tokens_remove. */
kt_status app_temp_tokens_add(kt_app *app, const spotify_tokens *t, int64_t *temp_id, kt_err *err);

/* Copies the parked tokens (possibly refreshed meanwhile) into *out when out
 * is not NULL, wipes and frees the slot. Unknown ids are ignored. */
void app_temp_tokens_remove(kt_app *app, int64_t temp_id, spotify_tokens *out);

/* Borrow a pooled connection for a short piece of work; return it with
 * app_db_put. Services never hold one while calling Spotify (the token
 * hooks need connections of their own). */
kt_status app_db_get(kt_app *app, store **out, kt_err *err);
void app_db_put(kt_app *app, store *s);

/* A read that builds JSON on a borrowed connection: fn(s, ctx, &j, err)
 * runs with a pooled connection, returned right after. *out gets j on
 * success; fn returning KT_OK without a value is KT_ERR_NOMEM (a failed
 * json_pack); on failure j is freed. */
typedef kt_status (*app_read_fn)(store *s, void *ctx, json_t **out, kt_err *err);
kt_status app_db_read_json(kt_app *app, app_read_fn fn, void *ctx, json_t **out, kt_err *err);

/* Seals t's access and refresh tokens for user_id with the vault (columns
 * STORE_COL_ACCESS / STORE_COL_REFRESH). *refresh is NULL when t has no
 * refresh token. The blobs are malloc'd; the caller frees them. */
kt_status app_seal_tokens(kt_app *app, int64_t user_id, const spotify_tokens *t,
                          unsigned char **access, size_t *access_len, unsigned char **refresh,
                          size_t *refresh_len, kt_err *err);

#endif

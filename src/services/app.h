/* app.h - the process-wide context every service call receives.
 *
 * Built once at start-up from the configuration (app_open), shared by the
 * HTTP handlers and the CLI, torn down at exit (app_close). It owns the
 * database pool, the Spotify client (whose token hooks decrypt and persist
 * tokens through the vault and the store) and the vault. Services borrow
 * what they need; they never build their own.
 *
 * Thread use: everything reachable from a kt_app is thread-safe; the struct
 * itself is read-only after app_open.
 */
#ifndef KT_SERVICES_APP_H
#define KT_SERVICES_APP_H

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "spotify/spotify.h"
#include "store/store.h"

typedef struct kt_app {
    const kt_config *cfg;     /* borrowed; outlives the app */
    store_pool *db;
    spotify_client *spotify;
    vault *vault;
} kt_app;

/* Opens the database (migrating it when `migrate` is true), loads or creates
 * the secret key, and builds the Spotify client. On success *out is owned by
 * the caller (app_close). */
kt_status app_open(const kt_config *cfg, int migrate, kt_app **out, kt_err *err);
void app_close(kt_app *app);

/* Opens the vault as app_open does: KEEPTRACK_SECRET_KEY when set, else the
 * key file (created 0600 on first run), plus every comma-separated key of
 * KEEPTRACK_SECRET_KEY_PREVIOUS as an old (read-only) key. Used by app_open
 * and by `keeptrack keys`. *out is owned by the caller (vault_free). */
kt_status app_vault_open(const kt_config *cfg, vault **out, kt_err *err);

#endif

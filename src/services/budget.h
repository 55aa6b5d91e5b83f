/* budget.h - the per-app Spotify request budget shared through the
 * database (issue 11).
 *
 * Spotify rate-limits an app as a whole, however many keeptrack processes
 * run it. With PostgreSQL, where several instances may share one database,
 * budget_open replaces the Spotify client's in-process token bucket with
 * one kept in the spotify_budget row (store_budget.h): every Web API
 * request takes a token from it first, so the combined rate of all
 * instances stays within KEEPTRACK_SPOTIFY_BUDGET requests per second
 * (burst: one second's worth). Every instance must be given the same
 * budget; the last one started sets it.
 *
 * When the database cannot be reached the budget falls back to a local
 * bucket at the full rate (a warning is logged at most once a minute):
 * requests never stall on a broken database, at the price of exceeding the
 * budget by up to the number of instances while it lasts.
 *
 * With SQLite nothing changes (one process; the built-in bucket is exact,
 * and a write per request would contend with sync's transactions).
 *
 * Thread use: the installed hook is thread-safe.
 */
#ifndef KT_SERVICES_BUDGET_H
#define KT_SERVICES_BUDGET_H

#include "core/err.h"
#include "services/app.h"

typedef struct budget_shared budget_shared;

/* The name of the row the Spotify budget lives in. */
#define BUDGET_SPOTIFY "spotify"

/* Sets up the shared budget at `per_sec` requests per second and installs
 * it on app->spotify when app->db is PostgreSQL and app->spotify exists;
 * otherwise does nothing and *out is NULL. app must outlive *out, and *out
 * the Spotify client's use of it (free it after spotify_client_free).
 * Store errors as store.h. */
kt_status budget_open(kt_app *app, double per_sec, budget_shared **out, kt_err *err);

/* Frees the budget. NULL is a no-op. */
void budget_free(budget_shared *b);

#endif

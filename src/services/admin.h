/* admin.h - what the web UI's admin page shows (issue 10): the users, the
 * job counts by state, the newest jobs and the recent failures, gathered
 * from the store (store_ops, store_jobs) so the HTTP edge only parses,
 * calls admin_overview and serializes.
 *
 * Thread use: safe from any thread (each call borrows its own connection).
 */
#ifndef KT_SERVICES_ADMIN_H
#define KT_SERVICES_ADMIN_H

#include <jansson.h>

#include "core/err.h"
#include "services/app.h"

/* Jobs listed as recent_jobs, and jobs scanned for failures (newest first). */
#define ADMIN_RECENT 50
#define ADMIN_SCAN 500

/* The overview:
 *   {users: [{id, account_id, display_name, status, authorized_at,
 *             access_token_expires_at, last_sync_at, last_sync_status}],
 *    jobs: {queued, running, deferred, done, failed},
 *    recent_jobs: [...], failures: [...]}
 * recent_jobs are the newest ADMIN_RECENT jobs of every user; failures the
 * failed ones among the newest ADMIN_SCAN. A job: {id, kind, user_id, state,
 * attempts, message, error, created_at, finished_at} (no params: the admin
 * needs what happened, not what a user asked for). Times are ISO 8601 or
 * null. The caller checks the admin's right first.
 * On KT_OK *out is a new reference (json_decref); store errors and
 * KT_ERR_NOMEM fill err and leave *out untouched. */
kt_status admin_overview(kt_app *app, json_t **out, kt_err *err);

#endif

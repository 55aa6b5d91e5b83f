/* store_alerts.h - the domain SQL of alerts (issue 18, item 5). Tables:
 * migration 16 (alerts, alert_settings, alert_deliveries; see
 * migrations.c), plus two reads of other tables that only alerts need (a
 * sync deferred by quota, the playlist versions a sync recorded).
 *
 * An alert is "live" while resolved_at is NULL; one live alert per
 * dedupe_key (a partial unique index), so a cause seen by every check, in
 * every process, is one alert. user_id 0 = an instance-wide alert (stored
 * NULL), shown to every user.
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; reads
 * return store_rows (caller frees) whose columns are listed at each
 * function; times are unix ms.
 */
#ifndef KT_STORE_STORE_ALERTS_H
#define KT_STORE_STORE_ALERTS_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* What an alert says; every text is copied by the call. user_id 0 = the
 * instance's. details: a JSON object as text ("{}" when NULL). */
typedef struct store_alert_spec {
    int64_t user_id;
    const char *kind;
    const char *subject;
    const char *dedupe_key;
    const char *title;
    const char *message;
    const char *details;
} store_alert_spec;

/* Raises the alert of spec->dedupe_key: when a live one exists it is kept
 * (an open one gets the new title, message and details; a dismissed one is
 * left alone) and *created is 0; otherwise a new open row is made and
 * *created is 1. *id receives the live alert's id either way. One
 * transaction; a concurrent raise of the same key ends with one row. */
kt_status store_alert_raise(store *s, const store_alert_spec *spec, int64_t now_ms, int64_t *id,
                            int *created, kt_err *err);

/* Ends the live alert of dedupe_key (its cause is gone); *changed (may be
 * NULL) is 1 when there was one. */
kt_status store_alert_resolve(store *s, const char *dedupe_key, int64_t now_ms, int *changed,
                              kt_err *err);

/* The open, live alerts user_id sees (its own and the instance's), newest
 * first, at most `limit`: (id, user_id|NULL, kind, subject, title, message,
 * details, state, created_at, updated_at). */
kt_status store_alert_list(store *s, int64_t user_id, int limit, store_rows **out, kt_err *err);

/* One alert by id, any user: same columns as store_alert_list plus
 * (dismissed_at, resolved_at). KT_ERR_NOT_FOUND "no_alert" when none. */
kt_status store_alert_get(store *s, int64_t id, store_rows **out, kt_err *err);

/* Dismisses alert id as user_id sees it (its own or the instance's):
 * state 'dismissed'; with end_it also resolved (an event: a later one of
 * the same cause is a new alert). Dismissing a dismissed alert changes
 * nothing. KT_ERR_NOT_FOUND "no_alert" when user_id sees no such alert. */
kt_status store_alert_dismiss(store *s, int64_t user_id, int64_t id, int end_it, int64_t now_ms,
                              kt_err *err);

/* The user's channel choices: *webhook and *email (1/0; 1 when never
 * set), *email_to (malloc'd, NULL = the configured address). */
kt_status store_alert_settings_get(store *s, int64_t user_id, int *webhook, int *email,
                                   char **email_to, kt_err *err);

/* Saves the user's channel choices (email_to NULL = the configured one). */
kt_status store_alert_settings_put(store *s, int64_t user_id, int webhook, int email,
                                   const char *email_to, int64_t now_ms, kt_err *err);

/* Records one delivery attempt (status < 0: no reply; error may be NULL). */
kt_status store_alert_delivery_add(store *s, int64_t alert_id, const char *channel,
                                   int64_t attempt, int ok, int64_t status, const char *error,
                                   int64_t now_ms, kt_err *err);

/* The attempts of alert_id, oldest first: (channel, attempt, at, ok,
 * status|NULL, error|NULL). */
kt_status store_alert_deliveries(store *s, int64_t alert_id, store_rows **out, kt_err *err);

/* The oldest sync job of user_id that is deferred by Spotify's quota
 * (QUOTA_EXCEEDED) and was made at or before older_than: *created_at
 * receives its creation time, or 0 when there is none. */
kt_status store_alert_quota_deferred(store *s, int64_t user_id, int64_t older_than,
                                     int64_t *created_at, kt_err *err);

/* The playlist versions of user_id recorded at or after since_ms that
 * follow an earlier version of their playlist, oldest first, each with the
 * version recorded before it: (spotify_id, name|NULL, snapshot_id, items,
 * previous items). A playlist's first version is left out: there is nothing
 * to compare (after a first sync, reading 200 versions' items only to skip
 * them cost 7 ms at the end of `keeptrack sync`). Items as
 * store_playlist_version_items gives them. */
kt_status store_alert_new_versions(store *s, int64_t user_id, int64_t since_ms,
                                   store_rows **out, kt_err *err);

#endif

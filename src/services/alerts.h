/* alerts.h - alerts (issue 18, item 5): what a user should act on, kept,
 * shown and sent.
 *
 * Causes, each one live alert at most (store_alerts.h: one per dedupe key,
 * however many checks see it):
 *
 *   login_expiring   the refresh token reaches Spotify's 6 months
 *                    (authorized_at + AUTH_REFRESH_LIFETIME_DAYS) within
 *                    KEEPTRACK_ALERT_LOGIN_WARN_DAYS; resolved by a new login
 *   login_revoked    the account needs a new login (invalid_grant: the
 *                    refresh token was revoked or expired); resolved by one
 *   sync_quota       a sync job deferred by QUOTA_EXCEEDED whose job is
 *                    older than KEEPTRACK_ALERT_QUOTA_AFTER_S; resolved when
 *                    no such job is left
 *   backup_failed    the scheduled backup or its off-site copy failed (an
 *                    instance alert: every user sees it); resolved by the
 *                    next good backup
 *   playlist_lost_tracks  Spotify made tracks of a playlist unavailable (see
 *                    alerts_lost_tracks); an event, ended by dismissing it
 *
 * A condition a user dismisses stays dismissed while its cause lasts (no
 * new alert each check); once resolved, a new occurrence is a new alert.
 *
 * Channels: a new alert is sent once per configured channel by a job of
 * kind ALERTS_JOB_KIND (so a slow webhook never holds up a sync): a JSON
 * POST to KEEPTRACK_ALERT_WEBHOOK_URL and/or an e-mail through
 * KEEPTRACK_ALERT_SMTP_URL. A failed attempt is retried with the queue's
 * exponential backoff, at most KEEPTRACK_ALERT_DELIVERY_ATTEMPTS times;
 * every attempt is recorded (alert_deliveries). Logs name the webhook's
 * host only, never its URL (it may carry a token), and never the SMTP
 * password. A user's settings choose the channels for their alerts and
 * their address; instance alerts use the configuration's.
 *
 * Thread-safe: each call borrows pooled connections.
 */
#ifndef KT_SERVICES_ALERTS_H
#define KT_SERVICES_ALERTS_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

#define ALERTS_JOB_KIND "alert_delivery"

#define ALERT_LOGIN_EXPIRING "login_expiring"
#define ALERT_LOGIN_REVOKED "login_revoked"
#define ALERT_SYNC_QUOTA "sync_quota"
#define ALERT_BACKUP_FAILED "backup_failed"
#define ALERT_PLAYLIST_LOST "playlist_lost_tracks"

/* Most alerts GET /api/alerts lists. */
#define ALERTS_LIST_MAX 100

/* The tracks a playlist lost between two versions, as the items JSON of
 * store_playlist_version_items ([[uri|null, added_at|null, added_by|null],
 * ...]). Conservative on purpose: an entry counts only when the new
 * version still has it (same added_at and added_by, in order) but its
 * track became null, which is how Spotify shows a track it took away
 * (unavailable, removed from the catalogue); an entry that disappeared is
 * what the user's own edit in any Spotify app looks like, so it never
 * counts. *out receives the lost tracks' URIs (a JSON array, possibly
 * empty; owned by the caller). KT_ERR_INVALID for items that are not such
 * arrays. Pure. */
kt_status alerts_lost_tracks(const char *prev_items, const char *new_items, json_t **out,
                             kt_err *err);

/* Checks user_id's login and quota causes at now_ms: raises or resolves
 * login_expiring, login_revoked and sync_quota. */
kt_status alerts_check_user(kt_app *app, int64_t user_id, int64_t now_ms, kt_err *err);

/* After a sync of user_id that started at since_ms (whatever its outcome):
 * raises playlist_lost_tracks for each playlist version recorded since
 * then that lost tracks to the one before it, then alerts_check_user. */
kt_status alerts_after_sync(kt_app *app, int64_t user_id, int64_t since_ms, int64_t now_ms,
                            kt_err *err);

/* After a scheduled backup: st and err are its outcome. A failure raises
 * backup_failed (title says whether the off-site copy failed), success
 * resolves it. */
kt_status alerts_after_backup(kt_app *app, kt_status st, const kt_err *backup_err, int64_t now_ms,
                              kt_err *err);

/* The open alerts user_id sees, newest first: {alerts: [{id, kind, scope
 * ("user" | "instance"), subject, title, message, details, created_at,
 * updated_at, deliveries: [{channel, attempt, at, ok, status, error}]}]}. */
kt_status alerts_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* Dismisses one alert user_id sees; KT_ERR_NOT_FOUND "no_alert" when none.
 * *out receives {id, dismissed: true}. */
kt_status alerts_dismiss(kt_app *app, int64_t user_id, int64_t id, int64_t now_ms, json_t **out,
                         kt_err *err);

/* The user's channel settings and what the configuration offers:
 * {webhook: bool, email: bool, email_to: string|null, channels: {webhook:
 * {configured, host|null, format}, email: {configured, default_to|null}}}. */
kt_status alerts_settings_get(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* Saves {webhook?: bool, email?: bool, email_to?: address|null} (fields
 * left out keep their value) and answers as alerts_settings_get. 400
 * naming the field for a bad value. */
kt_status alerts_settings_put(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                              json_t **out, kt_err *err);

/* One delivery attempt (the job's handler): sends alert_id on channel
 * ("webhook" | "email") and records the attempt (number attempt). Returns
 * KT_OK when sent, or when there is nothing to send any more (the alert
 * was dismissed or resolved, the channel was turned off); KT_ERR_UPSTREAM
 * when the attempt failed (the queue retries it); KT_ERR_INVALID for bad
 * params. */
kt_status alerts_deliver(kt_app *app, int64_t alert_id, const char *channel, int attempt,
                         kt_err *err);

#endif

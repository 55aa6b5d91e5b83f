/* alerts.c - alerts: causes, the list, dismissal, settings (see alerts.h;
 * SQL in store/store_alerts.c, sending in alerts_send.c).
 */
#include "services/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "services/alerts_send.h"
#include "services/app_priv.h"
#include "services/auth.h"
#include "services/jobs.h"
#include "store/store_alerts.h"
#include "store/store_auth.h"

#define DAY_MS 86400000LL
#define KEY_MAX 200
#define EMAIL_MAX 254

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

/* A JSON string, or null for NULL (json_string(NULL) would fail a pack). */
static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

static kt_status bad(kt_err *err, const char *msg)
{
    return err_set(err, KT_ERR_INVALID, "bad_parameter", "%s", msg);
}

/* ---- lost tracks (pure) ---- */

/* One entry's identity parts; 0 when the entry is not [uri|null, int|null,
 * str|null]. */
static int entry_parts(const json_t *e, const char **uri, json_t **at, json_t **by)
{
    if (!json_is_array(e) || json_array_size(e) != 3)
        return 0;
    json_t *u = json_array_get(e, 0);
    *at = json_array_get(e, 1);
    *by = json_array_get(e, 2);
    if (!(json_is_null(u) || json_is_string(u)) || !(json_is_null(*at) || json_is_integer(*at)) ||
        !(json_is_null(*by) || json_is_string(*by)))
        return 0;
    *uri = json_string_value(u);
    return 1;
}

kt_status alerts_lost_tracks(const char *prev_items, const char *new_items, json_t **out,
                             kt_err *err)
{
    json_t *prev = NULL, *cur = NULL, *lost = NULL;
    char *used = NULL;
    size_t from = 0;
    kt_status st = KT_OK;
    if (json_parse_bounded(prev_items, strlen(prev_items), 4, &prev, err) != KT_OK ||
        json_parse_bounded(new_items, strlen(new_items), 4, &cur, err) != KT_OK) {
        st = KT_ERR_INVALID;
        goto out;
    }
    if (!json_is_array(prev) || !json_is_array(cur)) {
        st = err_set(err, KT_ERR_INVALID, "bad_items", "version items are not a JSON array");
        goto out;
    }
    if (!(lost = json_array()) || !(used = calloc(json_array_size(prev) + 1, 1))) {
        st = nomem(err);
        goto out;
    }
    /* Entries keep their order in a version, so each null entry is looked
     * for after the previous match: linear in the two lists for the usual
     * case, and a null entry with no identity (no added_at) never counts. */
    for (size_t i = 0; i < json_array_size(cur); i++) {
        const char *uri = NULL, *puri = NULL;
        json_t *at = NULL, *by = NULL, *pat = NULL, *pby = NULL;
        if (!entry_parts(json_array_get(cur, i), &uri, &at, &by)) {
            st = err_set(err, KT_ERR_INVALID, "bad_items", "version item %zu is malformed", i);
            goto out;
        }
        if (uri != NULL || json_is_null(at))
            continue;
        for (size_t j = from; j < json_array_size(prev); j++) {
            if (used[j] || !entry_parts(json_array_get(prev, j), &puri, &pat, &pby))
                continue;
            if (puri && json_equal(pat, at) && json_equal(pby, by)) {
                used[j] = 1;
                from = j + 1;
                if (json_array_append_new(lost, json_string(puri)) != 0) {
                    st = nomem(err);
                    goto out;
                }
                break;
            }
        }
    }
    *out = lost;
    lost = NULL;
out:
    free(used);
    json_decref(prev);
    json_decref(cur);
    json_decref(lost);
    return st;
}

/* ---- raising and resolving ---- */

/* Enqueues one delivery job of alert id on channel (once per alert and
 * channel: the dedupe key). */
static kt_status enqueue_delivery(kt_app *app, int64_t id, int64_t user_id, const char *channel,
                                  kt_err *err)
{
    char key[KEY_MAX], params[96];
    int64_t job = 0;
    snprintf(key, sizeof key, "alert:%lld:%s", (long long)id, channel);
    snprintf(params, sizeof params, "{\"alert\":%lld,\"channel\":\"%s\"}", (long long)id, channel);
    store_job_spec spec = {.kind = ALERTS_JOB_KIND,
                           .user_id = user_id,
                           .params = params,
                           .dedupe_key = key,
                           .max_attempts = app->cfg->alert_delivery_attempts > 0
                                               ? app->cfg->alert_delivery_attempts
                                               : 5};
    return jobs_enqueue(app, &spec, &job, NULL, err);
}

/* store_alert_settings_get on a borrowed connection. */
static kt_status settings_of(kt_app *app, int64_t user_id, int *webhook, int *email, char **to,
                             kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_settings_get(s, user_id, webhook, email, to, err);
    app_db_put(app, s);
    return st;
}

/* The channels a new alert of user_id (0: the instance's) goes to. */
static kt_status channels_of(kt_app *app, int64_t user_id, int *webhook, int *email, kt_err *err)
{
    char *to = NULL;
    int w = 1, e = 1;
    *webhook = *email = 0;
    if (user_id > 0) {
        kt_status st = settings_of(app, user_id, &w, &e, &to, err);
        if (st != KT_OK)
            return st;
    }
    *webhook = w && app->cfg->alert_webhook_url != NULL;
    *email = e && app->cfg->alert_smtp_url != NULL && (to || app->cfg->alert_email_to);
    free(to);
    return KT_OK;
}

/* Raises spec; a new alert is queued for its channels. */
static kt_status raise(kt_app *app, const store_alert_spec *spec, int64_t now_ms, kt_err *err)
{
    store *s = NULL;
    int64_t id = 0;
    int created = 0, webhook = 0, email = 0;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_raise(s, spec, now_ms, &id, &created, err);
    app_db_put(app, s);
    if (st != KT_OK || !created)
        return st;
    LOG_INFO("alert_raised", "id=%lld kind=%s user=%lld", (long long)id, spec->kind,
             (long long)spec->user_id);
    if ((st = channels_of(app, spec->user_id, &webhook, &email, err)) != KT_OK)
        return st;
    if (webhook && (st = enqueue_delivery(app, id, spec->user_id, ALERTS_CHANNEL_WEBHOOK, err)) !=
                       KT_OK)
        return st;
    if (email)
        st = enqueue_delivery(app, id, spec->user_id, ALERTS_CHANNEL_EMAIL, err);
    return st;
}

static void user_key(char *key, size_t n, int64_t user_id, const char *kind, const char *subject)
{
    if (user_id > 0)
        snprintf(key, n, "u%lld:%s:%s", (long long)user_id, kind, subject);
    else
        snprintf(key, n, "instance:%s:%s", kind, subject);
}

static kt_status resolve(kt_app *app, int64_t user_id, const char *kind, const char *subject,
                         int64_t now_ms, kt_err *err)
{
    char key[KEY_MAX];
    store *s = NULL;
    int changed = 0;
    user_key(key, sizeof key, user_id, kind, subject);
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_resolve(s, key, now_ms, &changed, err);
    app_db_put(app, s);
    if (st == KT_OK && changed)
        LOG_INFO("alert_resolved", "kind=%s user=%lld", kind, (long long)user_id);
    return st;
}

/* Raises kind/subject for user_id with title and message (details: a JSON
 * object, borrowed; NULL = {}). */
static kt_status raise_simple(kt_app *app, int64_t user_id, const char *kind, const char *subject,
                              const char *title, const char *message, const json_t *details,
                              int64_t now_ms, kt_err *err)
{
    char key[KEY_MAX];
    char *d = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (details && !d)
        return nomem(err);
    user_key(key, sizeof key, user_id, kind, subject);
    store_alert_spec spec = {.user_id = user_id,
                             .kind = kind,
                             .subject = subject,
                             .dedupe_key = key,
                             .title = title,
                             .message = message,
                             .details = d};
    kt_status st = raise(app, &spec, now_ms, err);
    free(d);
    return st;
}

/* ---- the causes ---- */

static kt_status check_login(kt_app *app, const store_user *u, int64_t now_ms, kt_err *err)
{
    char msg[300];
    kt_status st = KT_OK;
    if (strcmp(u->status, STORE_USER_REAUTH) == 0) {
        snprintf(msg, sizeof msg,
                 "Spotify no longer accepts keeptrack's login for %s (the refresh token was "
                 "revoked or expired): syncing stops until you log in again.",
                 u->display_name ? u->display_name : u->spotify_id);
        json_t *d = json_pack("{ss}", "spotify_id", u->spotify_id);
        if (!d)
            return nomem(err);
        st = raise_simple(app, u->id, ALERT_LOGIN_REVOKED, "", "Log in to Spotify again", msg, d,
                          now_ms, err);
        json_decref(d);
        if (st == KT_OK)
            st = resolve(app, u->id, ALERT_LOGIN_EXPIRING, "", now_ms, err);
        return st;
    }
    if (strcmp(u->status, STORE_USER_ACTIVE) != 0)
        return KT_OK; /* disconnected, disabled: nothing to renew */
    if ((st = resolve(app, u->id, ALERT_LOGIN_REVOKED, "", now_ms, err)) != KT_OK)
        return st;
    int64_t ends = u->authorized_at > 0 ? u->authorized_at + AUTH_REFRESH_LIFETIME_DAYS * DAY_MS : 0;
    int64_t warn = (int64_t)app->cfg->alert_login_warn_days * DAY_MS;
    if (ends == 0 || ends - now_ms > warn)
        return resolve(app, u->id, ALERT_LOGIN_EXPIRING, "", now_ms, err);
    int64_t left = ends > now_ms ? (ends - now_ms) / DAY_MS : 0;
    snprintf(msg, sizeof msg,
             "Spotify's login for %s ends in %lld day%s (refresh tokens last 6 months from "
             "consent): log in again before then to keep syncing.",
             u->display_name ? u->display_name : u->spotify_id, (long long)left,
             left == 1 ? "" : "s");
    json_t *d = json_pack("{sssIsI}", "spotify_id", u->spotify_id, "expires_at", (json_int_t)ends,
                          "days_left", (json_int_t)left);
    if (!d)
        return nomem(err);
    st = raise_simple(app, u->id, ALERT_LOGIN_EXPIRING, "", "Your Spotify login needs renewing",
                      msg, d, now_ms, err);
    json_decref(d);
    return st;
}

static kt_status check_quota(kt_app *app, int64_t user_id, int64_t now_ms, kt_err *err)
{
    store *s = NULL;
    int64_t since = 0;
    char msg[300];
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_quota_deferred(s, user_id,
                                    now_ms - (int64_t)app->cfg->alert_quota_after_s * 1000, &since,
                                    err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    if (since == 0)
        return resolve(app, user_id, ALERT_SYNC_QUOTA, "", now_ms, err);
    int64_t hours = (now_ms - since) / 3600000;
    snprintf(msg, sizeof msg,
             "Spotify's quota for this app is exhausted (429 QUOTA_EXCEEDED): your sync has "
             "been waiting for %lld hour%s and keeps retrying on its own.",
             (long long)hours, hours == 1 ? "" : "s");
    json_t *d = json_pack("{sI}", "deferred_since", (json_int_t)since);
    if (!d)
        return nomem(err);
    st = raise_simple(app, user_id, ALERT_SYNC_QUOTA, "", "Syncing is held back by Spotify's quota",
                      msg, d, now_ms, err);
    json_decref(d);
    return st;
}

kt_status alerts_check_user(kt_app *app, int64_t user_id, int64_t now_ms, kt_err *err)
{
    store *s = NULL;
    store_user u = {0};
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_user_get(s, user_id, &u, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    st = check_login(app, &u, now_ms, err);
    if (st == KT_OK)
        st = check_quota(app, user_id, now_ms, err);
    store_user_clear(&u);
    return st;
}

/* One version that lost tracks: raise (or refresh) the playlist's alert. */
static kt_status raise_lost(kt_app *app, int64_t user_id, const char *playlist, const char *name,
                            const char *snapshot, json_t *lost, int64_t now_ms, kt_err *err)
{
    char title[300], msg[400];
    size_t n = json_array_size(lost);
    const char *shown = name && *name ? name : playlist;
    snprintf(title, sizeof title, "A playlist lost tracks: %.200s", shown);
    snprintf(msg, sizeof msg,
             "Spotify made %zu track%s of \"%.200s\" unavailable; the version before is kept and "
             "can be restored.",
             n, n == 1 ? "" : "s", shown);
    json_t *d = json_pack("{sssssssO}", "playlist", playlist, "name", shown, "snapshot_id",
                          snapshot, "tracks", lost);
    if (!d)
        return nomem(err);
    kt_status st = raise_simple(app, user_id, ALERT_PLAYLIST_LOST, playlist, title, msg, d,
                                now_ms, err);
    json_decref(d);
    return st;
}

kt_status alerts_after_sync(kt_app *app, int64_t user_id, int64_t since_ms, int64_t now_ms,
                            kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_new_versions(s, user_id, since_ms, &r, err);
    app_db_put(app, s);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        json_t *lost = NULL;
        if (store_rows_is_null(r, i, 4))
            continue; /* a playlist's first version: nothing to compare */
        kt_err lerr = {0};
        if (alerts_lost_tracks(store_rows_text(r, i, 4), store_rows_text(r, i, 3), &lost, &lerr) !=
            KT_OK) {
            LOG_WARN("alert_check_failed", "check=lost_tracks code=%s", lerr.code);
            continue;
        }
        if (json_array_size(lost) > 0)
            st = raise_lost(app, user_id, store_rows_text(r, i, 0), store_rows_text(r, i, 1),
                            store_rows_text(r, i, 2), lost, now_ms, err);
        json_decref(lost);
    }
    store_rows_free(r);
    if (st == KT_OK)
        st = alerts_check_user(app, user_id, now_ms, err);
    return st;
}

kt_status alerts_after_backup(kt_app *app, kt_status st, const kt_err *backup_err, int64_t now_ms,
                              kt_err *err)
{
    if (st == KT_OK)
        return resolve(app, 0, ALERT_BACKUP_FAILED, "", now_ms, err);
    int offsite = strcmp(backup_err->code, "offsite_failed") == 0;
    json_t *d = json_pack("{ssss}", "code", backup_err->code, "stage", offsite ? "offsite" : "local");
    if (!d)
        return nomem(err);
    kt_status rst = raise_simple(app, 0, ALERT_BACKUP_FAILED, "",
                                 offsite ? "The off-site copy of the backup failed"
                                         : "The database backup failed",
                                 backup_err->msg[0] ? backup_err->msg : err_status_name(st), d,
                                 now_ms, err);
    json_decref(d);
    return rst;
}

/* ---- the API ---- */

static json_t *alert_json(const store_rows *r, size_t i, const store_rows *dl)
{
    json_t *details = NULL, *deliveries = json_array();
    kt_err jerr = {0};
    const char *dtext = store_rows_text(r, i, 6);
    if (!deliveries)
        return NULL;
    if (!dtext || json_parse_bounded(dtext, strlen(dtext), 8, &details, &jerr) != KT_OK)
        details = json_object();
    for (size_t k = 0; k < store_rows_count(dl); k++) {
        json_t *e = json_pack(
            "{sssIsIsbsoso}", "channel", store_rows_text(dl, k, 0), "attempt",
            (json_int_t)store_rows_int(dl, k, 1), "at", (json_int_t)store_rows_int(dl, k, 2), "ok",
            store_rows_int(dl, k, 3) != 0, "status",
            store_rows_is_null(dl, k, 4) ? json_null() : json_integer(store_rows_int(dl, k, 4)),
            "error", str_or_null(store_rows_text(dl, k, 5)));
        if (!e || json_array_append_new(deliveries, e) != 0) {
            json_decref(details);
            json_decref(deliveries);
            return NULL;
        }
    }
    return json_pack("{sIsssssssssssosssIsIso}", "id", (json_int_t)store_rows_int(r, i, 0), "kind",
                     store_rows_text(r, i, 2), "scope",
                     store_rows_is_null(r, i, 1) ? "instance" : "user", "subject",
                     store_rows_text(r, i, 3), "title", store_rows_text(r, i, 4), "message",
                     store_rows_text(r, i, 5), "details", details ? details : json_object(),
                     "state", store_rows_text(r, i, 7), "created_at",
                     (json_int_t)store_rows_int(r, i, 8), "updated_at",
                     (json_int_t)store_rows_int(r, i, 9), "deliveries", deliveries);
}

typedef struct list_ctx {
    int64_t user_id;
} list_ctx;

static kt_status list_read(store *s, void *ctx, json_t **out, kt_err *err)
{
    list_ctx *c = ctx;
    store_rows *r = NULL;
    json_t *arr = NULL;
    kt_status st = store_alert_list(s, c->user_id, ALERTS_LIST_MAX, &r, err);
    if (st != KT_OK)
        return st;
    if (!(arr = json_array())) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(r); i++) {
        store_rows *dl = NULL;
        if ((st = store_alert_deliveries(s, store_rows_int(r, i, 0), &dl, err)) != KT_OK)
            goto out;
        json_t *a = alert_json(r, i, dl);
        store_rows_free(dl);
        if (!a || json_array_append_new(arr, a) != 0) {
            st = nomem(err);
            goto out;
        }
    }
    /* "o" hands arr over even when the pack fails */
    *out = json_pack("{so}", "alerts", arr);
    arr = NULL;
    if (!*out)
        st = nomem(err);
out:
    json_decref(arr);
    store_rows_free(r);
    return st;
}

kt_status alerts_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    list_ctx c = {user_id};
    return app_db_read_json(app, list_read, &c, out, err);
}

kt_status alerts_dismiss(kt_app *app, int64_t user_id, int64_t id, int64_t now_ms, json_t **out,
                         kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_alert_get(s, id, &r, err)) == KT_OK) {
        /* An event ends when dismissed; a condition stays (dismissed) while
         * its cause lasts, so it is not raised again each check. */
        int event = strcmp(store_rows_text(r, 0, 2), ALERT_PLAYLIST_LOST) == 0;
        st = store_alert_dismiss(s, user_id, id, event, now_ms, err);
    } else if (st == KT_ERR_NOT_FOUND) {
        st = err_set(err, KT_ERR_NOT_FOUND, "no_alert", "no such alert");
    }
    store_rows_free(r);
    app_db_put(app, s);
    if (st == KT_OK && !(*out = json_pack("{sIsb}", "id", (json_int_t)id, "dismissed", 1)))
        st = nomem(err);
    return st;
}

kt_status alerts_settings_get(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    char *to = NULL, host[256];
    int w = 1, e = 1;
    const kt_config *cfg = app->cfg;
    kt_status st = settings_of(app, user_id, &w, &e, &to, err);
    if (st != KT_OK)
        return st;
    int hooked = cfg->alert_webhook_url != NULL;
    if (hooked)
        alerts_url_host(cfg->alert_webhook_url, host, sizeof host);
    *out = json_pack("{sbsbsos{s{sbsoss}s{sbso}}}", "webhook", w, "email", e, "email_to",
                     str_or_null(to), "channels", "webhook", "configured", hooked, "host",
                     hooked ? json_string(host) : json_null(), "format",
                     cfg->alert_webhook_format ? cfg->alert_webhook_format : "json", "email",
                     "configured", cfg->alert_smtp_url != NULL, "default_to",
                     str_or_null(cfg->alert_email_to));
    free(to);
    return *out ? KT_OK : nomem(err);
}

/* An e-mail address as config.c's check_address takes it. */
static int address_ok(const char *v)
{
    const char *at = strchr(v, '@');
    if (!at || at == v || !at[1] || strchr(at + 1, '@') || strlen(v) > EMAIL_MAX)
        return 0;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == 127)
            return 0;
    return 1;
}

kt_status alerts_settings_put(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                              json_t **out, kt_err *err)
{
    store *s = NULL;
    char *to = NULL;
    int w = 1, e = 1;
    const char *keys[] = {"webhook", "email", "email_to"};
    const char *k;
    json_t *v;
    if (!json_is_object(body))
        return bad(err, "body must be a JSON object");
    json_object_foreach((json_t *)body, k, v) {
        size_t i = 0;
        while (i < 3 && strcmp(k, keys[i]) != 0)
            i++;
        if (i == 3)
            return err_set(err, KT_ERR_INVALID, "bad_parameter",
                           "%s: unknown field (webhook, email, email_to)", k);
    }
    v = json_object_get(body, "webhook");
    if (v && !json_is_boolean(v))
        return bad(err, "webhook must be true or false");
    v = json_object_get(body, "email");
    if (v && !json_is_boolean(v))
        return bad(err, "email must be true or false");
    v = json_object_get(body, "email_to");
    if (v && !json_is_null(v) && (!json_is_string(v) || !address_ok(json_string_value(v))))
        return bad(err, "email_to must be one e-mail address such as you@example.org, or null");
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_alert_settings_get(s, user_id, &w, &e, &to, err);
    if (st == KT_OK) {
        if ((v = json_object_get(body, "webhook")))
            w = json_is_true(v);
        if ((v = json_object_get(body, "email")))
            e = json_is_true(v);
        const char *nto = to;
        if ((v = json_object_get(body, "email_to")))
            nto = json_string_value(v); /* NULL for null */
        st = store_alert_settings_put(s, user_id, w, e, nto, now_ms, err);
    }
    free(to);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    return alerts_settings_get(app, user_id, out, err);
}

/* store_alerts.c - alerts, their settings and delivery attempts (see
 * store_alerts.h; tables from migration 16 in migrations.c).
 */
#include "store/store_alerts.h"

#include <stdlib.h>
#include <string.h>

#define ALERT_COLUMNS                                                                            \
    "id, user_id, kind, subject, title, message, details, state, created_at, updated_at"

static kt_status no_alert(kt_err *err)
{
    return err_set(err, KT_ERR_NOT_FOUND, "no_alert", "no such alert");
}

/* The live alert of key, if any: *id 0 when none. */
static kt_status live_of(store *s, const char *key, int64_t *id, kt_err *err)
{
    store_param p[] = {SP_TEXT(key)};
    kt_status st = store_query_int(
        s, "SELECT id FROM alerts WHERE dedupe_key = ? AND resolved_at IS NULL", p, 1, id, err);
    if (st == KT_ERR_NOT_FOUND) {
        *id = 0;
        return KT_OK;
    }
    return st;
}

/* Inside raise's transaction: keep the live alert or make one. */
static kt_status raise_tx(store *s, const store_alert_spec *a, int64_t now_ms, int64_t *id,
                          int *created, kt_err *err)
{
    store_rows *r = NULL;
    const char *details = a->details ? a->details : "{}";
    kt_status st = live_of(s, a->dedupe_key, id, err);
    if (st != KT_OK)
        return st;
    if (*id > 0) {
        *created = 0;
        store_param u[] = {SP_TEXT(a->title), SP_TEXT(a->message), SP_TEXT(details),
                           SP_INT(now_ms), SP_INT(*id)};
        return store_exec(s,
                          "UPDATE alerts SET title = ?, message = ?, details = ?, updated_at = ? "
                          "WHERE id = ? AND state = 'open'",
                          u, 5, NULL, err);
    }
    store_param p[] = {a->user_id > 0 ? SP_INT(a->user_id) : SP_NULL,
                       SP_TEXT(a->kind),
                       SP_TEXT(a->subject),
                       SP_TEXT(a->dedupe_key),
                       SP_TEXT(a->title),
                       SP_TEXT(a->message),
                       SP_TEXT(details),
                       SP_INT(now_ms),
                       SP_INT(now_ms)};
    st = store_query(s,
                     "INSERT INTO alerts (user_id, kind, subject, dedupe_key, title, message, "
                     "details, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "RETURNING id",
                     p, 9, &r, err);
    if (st == KT_OK && store_rows_count(r) != 1)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "INSERT ... RETURNING gave no id");
    if (st == KT_OK) {
        *id = store_rows_int(r, 0, 0);
        *created = 1;
    }
    store_rows_free(r);
    return st;
}

kt_status store_alert_raise(store *s, const store_alert_spec *spec, int64_t now_ms, int64_t *id,
                            int *created, kt_err *err)
{
    int64_t got = 0;
    int made = 0;
    kt_status st = KT_OK;
    if (!spec->kind || !spec->subject || !spec->dedupe_key || !spec->title || !spec->message)
        return err_set(err, KT_ERR_INVALID, "bad_alert", "an alert needs kind, subject, key, "
                                                         "title and message");
    /* Twice at most: a concurrent raise of the same key that committed
     * first makes our insert conflict; the second round finds its row. */
    for (int round = 0; round < 2; round++) {
        if ((st = store_begin(s, err)) != KT_OK)
            return st;
        st = raise_tx(s, spec, now_ms, &got, &made, err);
        if (st == KT_OK)
            st = store_commit(s, err);
        store_rollback(s); /* no-op after a commit */
        if (st != KT_ERR_CONFLICT)
            break;
    }
    if (st == KT_OK) {
        *id = got;
        *created = made;
    }
    return st;
}

kt_status store_alert_resolve(store *s, const char *dedupe_key, int64_t now_ms, int *changed,
                              kt_err *err)
{
    int64_t n = 0;
    store_param p[] = {SP_INT(now_ms), SP_TEXT(dedupe_key)};
    kt_status st = store_exec(
        s, "UPDATE alerts SET resolved_at = ? WHERE dedupe_key = ? AND resolved_at IS NULL", p, 2,
        &n, err);
    if (st == KT_OK && changed)
        *changed = n > 0;
    return st;
}

kt_status store_alert_list(store *s, int64_t user_id, int limit, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(limit)};
    return store_query(s,
                       "SELECT " ALERT_COLUMNS " FROM alerts WHERE (user_id = ? OR user_id IS "
                       "NULL) AND state = 'open' AND resolved_at IS NULL ORDER BY id DESC "
                       "LIMIT ?",
                       p, 2, out, err);
}

kt_status store_alert_get(store *s, int64_t id, store_rows **out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(id)};
    kt_status st = store_query(s,
                               "SELECT " ALERT_COLUMNS ", dismissed_at, resolved_at FROM alerts "
                               "WHERE id = ?",
                               p, 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) != 1) {
        store_rows_free(r);
        return no_alert(err);
    }
    *out = r;
    return KT_OK;
}

kt_status store_alert_dismiss(store *s, int64_t user_id, int64_t id, int end_it, int64_t now_ms,
                              kt_err *err)
{
    int64_t seen = 0;
    store_param q[] = {SP_INT(id), SP_INT(user_id)};
    kt_status st = store_query_int(
        s, "SELECT COUNT(*) FROM alerts WHERE id = ? AND (user_id = ? OR user_id IS NULL)", q, 2,
        &seen, err);
    if (st != KT_OK)
        return st;
    if (seen == 0)
        return no_alert(err);
    store_param p[] = {SP_INT(now_ms), SP_INT(end_it ? 1 : 0), SP_INT(now_ms), SP_INT(id)};
    return store_exec(s,
                      "UPDATE alerts SET state = 'dismissed', dismissed_at = ?, resolved_at = "
                      "CASE WHEN ? = 1 AND resolved_at IS NULL THEN ? ELSE resolved_at END "
                      "WHERE id = ? AND state = 'open'",
                      p, 4, NULL, err);
}

kt_status store_alert_settings_get(store *s, int64_t user_id, int *webhook, int *email,
                                   char **email_to, kt_err *err)
{
    store_rows *r = NULL;
    char *to = NULL;
    store_param p[] = {SP_INT(user_id)};
    kt_status st = store_query(
        s, "SELECT webhook, email, email_to FROM alert_settings WHERE user_id = ?", p, 1, &r, err);
    if (st != KT_OK)
        return st;
    int w = 1, e = 1;
    if (store_rows_count(r) == 1) {
        w = store_rows_int(r, 0, 0) != 0;
        e = store_rows_int(r, 0, 1) != 0;
        const char *t = store_rows_text(r, 0, 2);
        if (t && !(to = strdup(t))) {
            store_rows_free(r);
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        }
    }
    store_rows_free(r);
    *webhook = w;
    *email = e;
    *email_to = to;
    return KT_OK;
}

kt_status store_alert_settings_put(store *s, int64_t user_id, int webhook, int email,
                                   const char *email_to, int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(webhook ? 1 : 0), SP_INT(email ? 1 : 0),
                       SP_TEXT(email_to), SP_INT(now_ms)};
    return store_exec(s,
                      "INSERT INTO alert_settings (user_id, webhook, email, email_to, updated_at) "
                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET webhook = "
                      "excluded.webhook, email = excluded.email, email_to = excluded.email_to, "
                      "updated_at = excluded.updated_at",
                      p, 5, NULL, err);
}

kt_status store_alert_delivery_add(store *s, int64_t alert_id, const char *channel,
                                   int64_t attempt, int ok, int64_t status, const char *error,
                                   int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_INT(alert_id), SP_TEXT(channel), SP_INT(attempt), SP_INT(now_ms),
                       SP_INT(ok ? 1 : 0), status < 0 ? SP_NULL : SP_INT(status),
                       SP_TEXT(error)};
    return store_exec(s,
                      "INSERT INTO alert_deliveries (alert_id, channel, attempt, at, ok, status, "
                      "error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      p, 7, NULL, err);
}

kt_status store_alert_deliveries(store *s, int64_t alert_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(alert_id)};
    return store_query(s,
                       "SELECT channel, attempt, at, ok, status, error FROM alert_deliveries "
                       "WHERE alert_id = ? ORDER BY id",
                       p, 1, out, err);
}

kt_status store_alert_quota_deferred(store *s, int64_t user_id, int64_t older_than,
                                     int64_t *created_at, kt_err *err)
{
    /* The job's message is the classified error's ("the app's Spotify quota
     * is exhausted ..."), see spotify_classify_error; a plain rate limit
     * ("rate limit reached") does not count. */
    store_param p[] = {SP_INT(user_id), SP_INT(older_than)};
    return store_query_int(s,
                           "SELECT COALESCE(MIN(created_at), 0) FROM jobs WHERE user_id = ? AND "
                           "kind = 'sync' AND state = 'deferred' AND created_at <= ? AND "
                           "message LIKE '%quota is exhausted%'",
                           p, 2, created_at, err);
}

kt_status store_alert_new_versions(store *s, int64_t user_id, int64_t since_ms,
                                   store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(since_ms)};
    return store_query(s,
                       "SELECT p.spotify_id, p.name, v.snapshot_id, v.items, (SELECT pv.items "
                       "FROM playlist_versions pv WHERE pv.playlist_id = v.playlist_id AND pv.id "
                       "< v.id ORDER BY pv.id DESC LIMIT 1) FROM playlist_versions v JOIN "
                       "playlists p ON p.id = v.playlist_id WHERE p.user_id = ? AND v.seen_at >= "
                       "? AND EXISTS (SELECT 1 FROM playlist_versions f WHERE f.playlist_id = "
                       "v.playlist_id AND f.id < v.id) ORDER BY v.id",
                       p, 2, out, err);
}

/* store_fromtops.c - saved definitions of playlists from top tracks (see
 * store_fromtops.h; table from migration 13 in migrations.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_fromtops.h"

#define DAY_MS 86400000LL
#define DEF_COLS \
    "id, source, time_range, period, from_ms, to_ms, by_what, limit_n, name, refresh, " \
    "playlist_id, last_run_at, created_at"

static store_param time_or_null(int64_t v)
{
    return v < 0 ? SP_NULL : SP_INT(v);
}

/* Runs inside save's transaction. */
static kt_status save_tx(store *s, int64_t user_id, const store_fromtops_def *d, int64_t now_ms,
                         int64_t *id, int *created, kt_err *err)
{
    store_rows *r = NULL;
    int64_t n = 0;
    store_param q[] = {SP_INT(user_id), SP_TEXT(d->spec)};
    kt_status st = store_query(s, "SELECT id FROM fromtops_defs WHERE user_id = ? AND spec = ?",
                               q, 2, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) > 0) {
        *id = store_rows_int(r, 0, 0);
        *created = 0;
        store_rows_free(r);
        store_param u[] = {SP_TEXT(d->name), SP_TEXT(d->refresh), SP_INT(*id)};
        return store_exec(s, "UPDATE fromtops_defs SET name = ?, refresh = ? WHERE id = ?", u, 3,
                          NULL, err);
    }
    store_rows_free(r);
    r = NULL;
    store_param c[] = {SP_INT(user_id)};
    if ((st = store_query_int(s, "SELECT COUNT(*) FROM fromtops_defs WHERE user_id = ?", c, 1,
                              &n, err)) != KT_OK)
        return st;
    if (n >= STORE_FROMTOPS_MAX)
        return err_set(err, KT_ERR_INVALID, "too_many",
                       "at most %d playlists from tops are kept: delete one first",
                       STORE_FROMTOPS_MAX);
    store_param p[] = {SP_INT(user_id),       SP_TEXT(d->spec),       SP_TEXT(d->source),
                       SP_TEXT(d->time_range), SP_TEXT(d->period),     time_or_null(d->from_ms),
                       time_or_null(d->to_ms), SP_TEXT(d->by),         SP_INT(d->limit),
                       SP_TEXT(d->name),       SP_TEXT(d->refresh),    SP_INT(now_ms)};
    st = store_query(s,
                     "INSERT INTO fromtops_defs (user_id, spec, source, time_range, period, "
                     "from_ms, to_ms, by_what, limit_n, name, refresh, created_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                     p, 12, &r, err);
    if (st == KT_OK && store_rows_count(r) != 1)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "INSERT ... RETURNING gave no id");
    if (st == KT_OK) {
        *id = store_rows_int(r, 0, 0);
        *created = 1;
    }
    store_rows_free(r);
    return st;
}

kt_status store_fromtops_save(store *s, int64_t user_id, const store_fromtops_def *d,
                              int64_t now_ms, int64_t *id, int *created, kt_err *err)
{
    int64_t got = 0;
    int made = 0;
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    st = save_tx(s, user_id, d, now_ms, &got, &made, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s); /* no-op after a commit */
    if (st != KT_OK)
        return st;
    *id = got;
    if (created)
        *created = made;
    return KT_OK;
}

kt_status store_fromtops_list(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s, "SELECT " DEF_COLS " FROM fromtops_defs WHERE user_id = ? ORDER BY id",
                       p, 1, out, err);
}

static kt_status no_definition(kt_err *err, int64_t id)
{
    return err_set(err, KT_ERR_NOT_FOUND, "no_definition", "id: no playlist from tops %lld",
                   (long long)id);
}

kt_status store_fromtops_get(store *s, int64_t user_id, int64_t id, store_rows **out,
                             kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_INT(id)};
    kt_status st = store_query(
        s, "SELECT " DEF_COLS " FROM fromtops_defs WHERE user_id = ? AND id = ?", p, 2, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return no_definition(err, id);
    }
    *out = r;
    return KT_OK;
}

kt_status store_fromtops_delete(store *s, int64_t user_id, int64_t id, kt_err *err)
{
    int64_t changes = 0;
    store_param p[] = {SP_INT(user_id), SP_INT(id)};
    kt_status st = store_exec(s, "DELETE FROM fromtops_defs WHERE user_id = ? AND id = ?", p, 2,
                              &changes, err);
    if (st == KT_OK && changes == 0)
        st = no_definition(err, id);
    return st;
}

kt_status store_fromtops_ran(store *s, int64_t user_id, int64_t id, const char *playlist_id,
                             int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_TEXT(playlist_id), SP_INT(now_ms), SP_INT(user_id), SP_INT(id)};
    return store_exec(s,
                      "UPDATE fromtops_defs SET playlist_id = ?, last_run_at = ? WHERE user_id = ? "
                      "AND id = ?",
                      p, 4, NULL, err);
}

kt_status store_fromtops_due(store *s, int64_t now_ms, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(now_ms - 7 * DAY_MS), SP_INT(now_ms - 30 * DAY_MS)};
    return store_query(s,
                       "SELECT d.id, d.user_id, d.last_run_at FROM fromtops_defs d JOIN users u ON u.id = "
                       "d.user_id WHERE u.status = 'active' AND ((d.refresh = 'weekly' AND "
                       "(d.last_run_at IS NULL OR d.last_run_at <= ?)) OR (d.refresh = 'monthly' "
                       "AND (d.last_run_at IS NULL OR d.last_run_at <= ?))) ORDER BY d.id",
                       p, 2, out, err);
}

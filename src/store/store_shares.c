/* store_shares.c - read-only share links (see store_shares.h; table from
 * migration 14 in migrations.c).
 */
#include "store/store_shares.h"

/* Runs inside create's transaction: the per-user limit, then the row. */
static kt_status create_tx(store *s, int64_t user_id, const char *token_hash,
                           const char *pages_json, const char *label, int64_t now_ms,
                           int64_t expires_at, int64_t *id, kt_err *err)
{
    store_rows *r = NULL;
    int64_t n = 0;
    store_param c[] = {SP_INT(user_id)};
    kt_status st = store_query_int(s, "SELECT COUNT(*) FROM shares WHERE user_id = ?", c, 1, &n,
                                   err);
    if (st != KT_OK)
        return st;
    if (n >= STORE_SHARES_MAX)
        return err_set(err, KT_ERR_INVALID, "too_many",
                       "at most %d share links are kept: revoke one first", STORE_SHARES_MAX);
    store_param p[] = {SP_INT(user_id),  SP_TEXT(token_hash), SP_TEXT(pages_json),
                       SP_TEXT(label),   SP_INT(now_ms),
                       expires_at < 0 ? SP_NULL : SP_INT(expires_at)};
    st = store_query(s,
                     "INSERT INTO shares (user_id, token_hash, pages, label, created_at, "
                     "expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                     p, 6, &r, err);
    if (st == KT_OK && store_rows_count(r) != 1)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "INSERT ... RETURNING gave no id");
    if (st == KT_OK)
        *id = store_rows_int(r, 0, 0);
    store_rows_free(r);
    return st;
}

kt_status store_share_create(store *s, int64_t user_id, const char *token_hash,
                             const char *pages_json, const char *label, int64_t now_ms,
                             int64_t expires_at, int64_t *id, kt_err *err)
{
    int64_t got = 0;
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    st = create_tx(s, user_id, token_hash, pages_json, label, now_ms, expires_at, &got, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s); /* no-op after a commit */
    if (st == KT_OK)
        *id = got;
    return st;
}

kt_status store_share_list(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT id, pages, label, created_at, expires_at FROM shares WHERE "
                       "user_id = ? ORDER BY id",
                       p, 1, out, err);
}

static kt_status no_share(kt_err *err)
{
    return err_set(err, KT_ERR_NOT_FOUND, "no_share", "no such share link");
}

kt_status store_share_delete(store *s, int64_t user_id, int64_t id, kt_err *err)
{
    int64_t changes = 0;
    store_param p[] = {SP_INT(user_id), SP_INT(id)};
    kt_status st =
        store_exec(s, "DELETE FROM shares WHERE user_id = ? AND id = ?", p, 2, &changes, err);
    if (st == KT_OK && changes == 0)
        st = no_share(err);
    return st;
}

kt_status store_share_lookup(store *s, const char *token_hash, int64_t now_ms, store_rows **out,
                             kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_TEXT(token_hash), SP_INT(now_ms)};
    kt_status st = store_query(s,
                               "SELECT sh.user_id, sh.pages FROM shares sh JOIN users u ON u.id = "
                               "sh.user_id WHERE sh.token_hash = ? AND u.status <> 'disabled' AND "
                               "(sh.expires_at IS NULL OR sh.expires_at > ?)",
                               p, 2, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) != 1) {
        store_rows_free(r);
        return no_share(err);
    }
    *out = r;
    return KT_OK;
}

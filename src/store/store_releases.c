/* store_releases.c - new releases in the database (see store_releases.h).
 *
 * Writes compare before they write: the releases job re-reads the same
 * albums every day, and a run that finds nothing new must neither rewrite
 * rows nor bump the data version (which would throw away every cached
 * answer of the read API and change its ETags for nothing). The volume is
 * small (hundreds of albums a day), so one read and at most a few writes
 * per release inside one transaction is cheap on both back-ends.
 */
#include "store/store_releases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/strset.h"
#include "store/store_auth.h"

/* Before any real day: the "no limit" bound of text comparisons. */
#define DAY_MIN "0000-00-00"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

int store_release_day(const char *date, char day[11])
{
    size_t n = date ? strlen(date) : 0;
    int ok = (n == 4 || n == 7 || n == 10) && all_digits(date, 4) &&
             (n < 7 || (date[4] == '-' && all_digits(date + 5, 2))) &&
             (n < 10 || (date[7] == '-' && all_digits(date + 8, 2)));
    if (!ok)
        return -1;
    memcpy(day, "0000-01-01", 11);
    memcpy(day, date, n);
    int month = (day[5] - '0') * 10 + (day[6] - '0');
    int mday = (day[8] - '0') * 10 + (day[9] - '0');
    return month >= 1 && month <= 12 && mday >= 1 && mday <= 31 ? 0 : -1;
}

static store_param text_param(const char *s)
{
    return SP_TEXT(s);
}

static store_param int_or_null(int64_t v)
{
    return v < 0 ? SP_NULL : SP_INT(v);
}

/* NULL-safe string equality (two NULLs are equal). */
static int same_text(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static kt_status bump_version(store *s, kt_err *err)
{
    return store_exec(s, "UPDATE releases_version SET version = version + 1 WHERE id = 1", NULL,
                      0, NULL, err);
}

/* Inserts or updates the release row; *changed / *is_new say what happened. */
static kt_status put_release(store *s, const store_release_row *r, const char *day, int64_t now,
                             int *changed, int *is_new, kt_err *err)
{
    store_rows *old = NULL;
    store_param key[] = {SP_TEXT(r->id)};
    kt_status st = store_query(s,
                               "SELECT name, album_type, release_date, release_date_precision, "
                               "total_tracks, image_url, url FROM releases WHERE id = ?",
                               key, 1, &old, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {text_param(r->name),
                       text_param(r->album_type),
                       text_param(r->release_date),
                       text_param(r->release_date_precision),
                       SP_TEXT(day),
                       int_or_null(r->total_tracks),
                       text_param(r->image_url),
                       text_param(r->url),
                       SP_INT(now),
                       SP_TEXT(r->id)};
    if (store_rows_count(old) == 0) {
        store_param ins[11];
        memcpy(ins, p, 9 * sizeof *p);
        ins[9] = SP_INT(now); /* updated_at */
        ins[10] = SP_TEXT(r->id);
        st = store_exec(s,
                        "INSERT INTO releases (name, album_type, release_date, "
                        "release_date_precision, release_day, total_tracks, image_url, url, "
                        "first_seen_at, updated_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        ins, 11, NULL, err);
        *changed = *is_new = 1;
    } else {
        int64_t tracks = store_rows_is_null(old, 0, 4) ? -1 : store_rows_int(old, 0, 4);
        int same = same_text(store_rows_text(old, 0, 0), r->name) &&
                   same_text(store_rows_text(old, 0, 1), r->album_type) &&
                   same_text(store_rows_text(old, 0, 2), r->release_date) &&
                   same_text(store_rows_text(old, 0, 3), r->release_date_precision) &&
                   tracks == (r->total_tracks < 0 ? -1 : r->total_tracks) &&
                   same_text(store_rows_text(old, 0, 5), r->image_url) &&
                   same_text(store_rows_text(old, 0, 6), r->url);
        if (!same) {
            st = store_exec(s,
                            "UPDATE releases SET name = ?, album_type = ?, release_date = ?, "
                            "release_date_precision = ?, release_day = ?, total_tracks = ?, "
                            "image_url = ?, url = ?, updated_at = ? WHERE id = ?",
                            p, 10, NULL, err);
            *changed = 1;
        }
    }
    store_rows_free(old);
    return st;
}

/* Replaces the release's artists when they differ from rows'. */
static kt_status put_artists(store *s, const store_release_row *r, int *changed, kt_err *err)
{
    store_rows *old = NULL;
    size_t n = r->n_artists < STORE_REL_MAX_ARTISTS ? r->n_artists : STORE_REL_MAX_ARTISTS;
    size_t want = 0;
    store_param key[] = {SP_TEXT(r->id)};
    kt_status st = store_query(s,
                               "SELECT artist_id, artist_name, artist_url FROM release_artists "
                               "WHERE release_id = ? ORDER BY position",
                               key, 1, &old, err);
    if (st != KT_OK)
        return st;
    int same = 1;
    for (size_t i = 0; i < n; i++) {
        const store_release_artist *a = &r->artists[i];
        if (!a->id)
            continue;
        same = same && want < store_rows_count(old) &&
               same_text(store_rows_text(old, want, 0), a->id) &&
               same_text(store_rows_text(old, want, 1), a->name) &&
               same_text(store_rows_text(old, want, 2), a->url);
        want++;
    }
    same = same && want == store_rows_count(old);
    store_rows_free(old);
    if (same)
        return KT_OK;
    *changed = 1;
    st = store_exec(s, "DELETE FROM release_artists WHERE release_id = ?", key, 1, NULL, err);
    for (size_t i = 0, pos = 0; st == KT_OK && i < n; i++) {
        const store_release_artist *a = &r->artists[i];
        if (!a->id)
            continue;
        store_param p[] = {SP_TEXT(r->id), SP_INT(pos++), SP_TEXT(a->id), text_param(a->name),
                           text_param(a->url)};
        st = store_exec(s,
                        "INSERT INTO release_artists (release_id, position, artist_id, "
                        "artist_name, artist_url) VALUES (?, ?, ?, ?, ?)",
                        p, 5, NULL, err);
    }
    return st;
}

/* Records (release, source); a source seen for the first time is a change
 * (GET /api/releases shows where each release came from). */
static kt_status put_source(store *s, const char *id, const char *source, int64_t now,
                            int *changed, kt_err *err)
{
    int64_t n = 0;
    store_param p[] = {SP_INT(now), SP_TEXT(id), SP_TEXT(source)};
    kt_status st = store_exec(s,
                              "UPDATE release_sources SET last_seen_at = ? "
                              "WHERE release_id = ? AND source = ?",
                              p, 3, &n, err);
    if (st != KT_OK || n > 0)
        return st;
    store_param ins[] = {SP_TEXT(id), SP_TEXT(source), SP_INT(now), SP_INT(now)};
    *changed = 1;
    return store_exec(s,
                      "INSERT INTO release_sources (release_id, source, first_seen_at, "
                      "last_seen_at) VALUES (?, ?, ?, ?)",
                      ins, 4, NULL, err);
}

static int valid_source(const char *source)
{
    return source && (strcmp(source, STORE_REL_SRC_NEW_RELEASES) == 0 ||
                      strcmp(source, STORE_REL_SRC_ARTIST_ALBUMS) == 0);
}

/* The body of store_releases_put, inside the caller's transaction. */
static kt_status put_rows(store *s, const char *source, const store_release_row *rows, size_t n,
                          const char *min_day, int64_t now, int64_t *added, int64_t *skipped,
                          int *changed, kt_err *err)
{
    kt_status st = KT_OK;
    strset *seen = strset_new();
    if (seen == NULL)
        return nomem(err);
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        const store_release_row *r = &rows[i];
        char day[11];
        int is_new = 0, fresh;
        if (store_release_day(r->release_date, day) != 0 || (min_day && strcmp(day, min_day) < 0)) {
            (*skipped)++;
            continue;
        }
        if ((fresh = strset_add(seen, r->id)) < 0) {
            st = nomem(err);
            break;
        }
        if (fresh == 0)
            continue;
        if ((st = put_release(s, r, day, now, changed, &is_new, err)) == KT_OK &&
            (st = put_artists(s, r, changed, err)) == KT_OK)
            st = put_source(s, r->id, source, now, changed, err);
        *added += is_new;
    }
    strset_free(seen);
    return st;
}

static kt_status check_rows(const char *source, const store_release_row *rows, size_t n,
                            kt_err *err)
{
    if (!valid_source(source))
        return err_set(err, KT_ERR_INVALID, NULL, "unknown release source");
    for (size_t i = 0; i < n; i++)
        if (rows[i].id == NULL || rows[i].id[0] == '\0')
            return err_set(err, KT_ERR_INVALID, NULL, "release %zu has no id", i);
    return KT_OK;
}

kt_status store_releases_mark_checked(store *s, const char *const *ids, size_t n, int64_t now_ms,
                                      kt_err *err)
{
    kt_status st = KT_OK;
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        store_param p[] = {SP_TEXT(ids[i]), SP_INT(now_ms)};
        st = store_exec(s,
                        "INSERT INTO artist_checks (artist_id, checked_at) VALUES (?, ?) "
                        "ON CONFLICT (artist_id) DO UPDATE SET checked_at = excluded.checked_at",
                        p, 2, NULL, err);
    }
    return st;
}

kt_status store_releases_put_checked(store *s, const char *source, const store_release_row *rows,
                                     size_t n, const char *const *checked, size_t n_checked,
                                     const char *min_day, int64_t now_ms, int64_t *added,
                                     int64_t *skipped, kt_err *err)
{
    int64_t nadded = 0, nskipped = 0;
    int changed = 0;
    kt_status st = check_rows(source, rows, n, err);
    if (st != KT_OK)
        return st;
    if ((st = store_begin(s, err)) != KT_OK)
        return st;
    st = put_rows(s, source, rows, n, min_day, now_ms, &nadded, &nskipped, &changed, err);
    if (st == KT_OK)
        st = store_releases_mark_checked(s, checked, n_checked, now_ms, err);
    if (st == KT_OK && changed)
        st = bump_version(s, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    if (st != KT_OK) {
        store_rollback(s);
        err_prefix(err, "storing releases");
        return st;
    }
    if (added)
        *added = nadded;
    if (skipped)
        *skipped = nskipped;
    return KT_OK;
}

kt_status store_releases_put(store *s, const char *source, const store_release_row *rows,
                             size_t n, const char *min_day, int64_t now_ms, int64_t *added,
                             int64_t *skipped, kt_err *err)
{
    return store_releases_put_checked(s, source, rows, n, NULL, 0, min_day, now_ms, added,
                                      skipped, err);
}

kt_status store_releases_age_out(store *s, const char *min_day, int64_t *removed, kt_err *err)
{
    int64_t n = 0;
    store_param p[] = {SP_TEXT(min_day)};
    if (min_day == NULL)
        return err_set(err, KT_ERR_INVALID, NULL, "age-out needs a day");
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    /* Children first: PostgreSQL and SQLite both cascade, but SQLite only
     * with foreign keys on, and deleting them explicitly costs nothing. */
    st = store_exec(s,
                    "DELETE FROM release_artists WHERE release_id IN "
                    "(SELECT id FROM releases WHERE release_day < ?)",
                    p, 1, NULL, err);
    if (st == KT_OK)
        st = store_exec(s,
                        "DELETE FROM release_sources WHERE release_id IN "
                        "(SELECT id FROM releases WHERE release_day < ?)",
                        p, 1, NULL, err);
    if (st == KT_OK)
        st = store_exec(s, "DELETE FROM releases WHERE release_day < ?", p, 1, &n, err);
    if (st == KT_OK && n > 0)
        st = bump_version(s, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    if (st != KT_OK) {
        store_rollback(s);
        err_prefix(err, "ageing out releases");
        return st;
    }
    if (removed)
        *removed = n;
    return KT_OK;
}

kt_status store_releases_version(store *s, int64_t *version, kt_err *err)
{
    return store_query_int(s, "SELECT version FROM releases_version WHERE id = 1", NULL, 0,
                           version, err);
}

/* Followed artists and the newest top-artists snapshot of active users. */
#define WANTED_ARTISTS                                                                          \
    "WITH wanted AS ("                                                                          \
    "SELECT f.artist_id AS artist_id FROM followed_artists f JOIN users u ON u.id = f.user_id " \
    "WHERE u.status = '" STORE_USER_ACTIVE "' "                                                 \
    "UNION SELECT t.item FROM top_items t JOIN users u ON u.id = t.user_id "                    \
    "WHERE u.status = '" STORE_USER_ACTIVE "' AND t.kind = 'artists' AND t.day = "              \
    "(SELECT MAX(t2.day) FROM top_items t2 WHERE t2.user_id = t.user_id AND "                   \
    "t2.kind = 'artists')) "

static kt_status check_limit(size_t limit, kt_err *err)
{
    if (limit < 1 || limit > STORE_REL_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, NULL, "limit must be 1..%d", STORE_REL_MAX_LIMIT);
    return KT_OK;
}

kt_status store_releases_artists_due(store *s, int64_t checked_before_ms, size_t limit,
                                     store_rows **out, int64_t *due, kt_err *err)
{
    int64_t count = 0;
    store_rows *rows = NULL;
    store_param p[] = {SP_INT(checked_before_ms), SP_INT(limit)};
    kt_status st = check_limit(limit, err);
    if (st != KT_OK)
        return st;
    st = store_query(s,
                     WANTED_ARTISTS
                     "SELECT w.artist_id FROM wanted w LEFT JOIN artist_checks c "
                     "ON c.artist_id = w.artist_id WHERE c.checked_at IS NULL OR c.checked_at < ? "
                     "ORDER BY CASE WHEN c.checked_at IS NULL THEN 0 ELSE 1 END, c.checked_at, "
                     "w.artist_id LIMIT ?",
                     p, 2, &rows, err);
    if (st == KT_OK && due)
        st = store_query_int(s,
                             WANTED_ARTISTS
                             "SELECT COUNT(*) FROM wanted w LEFT JOIN artist_checks c "
                             "ON c.artist_id = w.artist_id "
                             "WHERE c.checked_at IS NULL OR c.checked_at < ?",
                             p, 1, &count, err);
    if (st != KT_OK) {
        store_rows_free(rows);
        return st;
    }
    if (due)
        *due = count;
    *out = rows;
    return KT_OK;
}

/* ---- reads ---- */

/* The user filter of the artist reads: only artists the user follows. */
#define ME_ARTISTS " AND ra.artist_id IN (SELECT artist_id FROM followed_artists WHERE user_id = ?)"

/* Runs the page query and the count of a filter: page_sql / count_sql
 * [0] without, [1] with the user filter; parameters: since, [user], then
 * limit and offset for the page. */
static kt_status filtered_page(store *s, const store_rel_filter *f, const char *const page_sql[2],
                               const char *const count_sql[2], store_rows **out, int64_t *total,
                               kt_err *err)
{
    int me = f->user_id != 0;
    int64_t count = 0;
    store_rows *rows = NULL;
    store_param p[4];
    size_t np = 0;
    kt_status st = check_limit(f->limit, err);
    if (st != KT_OK)
        return st;
    p[np++] = SP_TEXT(f->since_day ? f->since_day : DAY_MIN);
    if (me)
        p[np++] = SP_INT(f->user_id);
    p[np++] = SP_INT(f->limit);
    p[np++] = SP_INT(f->offset);
    st = store_query(s, page_sql[me], p, np, &rows, err);
    if (st == KT_OK)
        st = store_query_int(s, count_sql[me], p, np - 2, &count, err);
    if (st != KT_OK) {
        store_rows_free(rows);
        return st;
    }
    *total = count;
    *out = rows;
    return KT_OK;
}

kt_status store_release_artists_page(store *s, const store_rel_filter *f, store_rows **out,
                                     int64_t *total, kt_err *err)
{
    static const char *const page_sql[2] = {
        "SELECT ra.artist_id, COALESCE(MAX(a.name), MAX(ra.artist_name)), MAX(ra.artist_url), "
        "MAX(a.image_url), MAX(r.release_day) AS latest FROM release_artists ra "
        "JOIN releases r ON r.id = ra.release_id LEFT JOIN artists a ON a.id = ra.artist_id "
        "WHERE r.release_day >= ? GROUP BY ra.artist_id ORDER BY latest DESC, ra.artist_id "
        "LIMIT ? OFFSET ?",
        "SELECT ra.artist_id, COALESCE(MAX(a.name), MAX(ra.artist_name)), MAX(ra.artist_url), "
        "MAX(a.image_url), MAX(r.release_day) AS latest FROM release_artists ra "
        "JOIN releases r ON r.id = ra.release_id LEFT JOIN artists a ON a.id = ra.artist_id "
        "WHERE r.release_day >= ?" ME_ARTISTS " GROUP BY ra.artist_id "
        "ORDER BY latest DESC, ra.artist_id LIMIT ? OFFSET ?"};
    static const char *const count_sql[2] = {
        "SELECT COUNT(DISTINCT ra.artist_id) FROM release_artists ra "
        "JOIN releases r ON r.id = ra.release_id WHERE r.release_day >= ?",
        "SELECT COUNT(DISTINCT ra.artist_id) FROM release_artists ra "
        "JOIN releases r ON r.id = ra.release_id WHERE r.release_day >= ?" ME_ARTISTS};
    return filtered_page(s, f, page_sql, count_sql, out, total, err);
}

/* Runs `head` + " IN (?, ?, ...)" + `tail` with ids[0..n) bound before the
 * extra parameters. */
static kt_status query_in(store *s, const char *head, const char *tail, const char *const *ids,
                          size_t n, const store_param *extra, size_t nextra, store_rows **out,
                          kt_err *err)
{
    buf sql;
    store_param *p = NULL;
    kt_status st = KT_OK;
    if (n > STORE_REL_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, NULL, "at most %d ids", STORE_REL_MAX_LIMIT);
    buf_init(&sql, 64 * 1024);
    if ((p = calloc(n + nextra + 1, sizeof *p)) == NULL) {
        st = nomem(err);
        goto out;
    }
    st = buf_puts(&sql, head);
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        st = buf_puts(&sql, i ? ", ?" : " IN (?");
        p[i] = SP_TEXT(ids[i]);
    }
    if (st == KT_OK)
        st = buf_puts(&sql, n ? ")" : " IN (NULL)");
    if (st == KT_OK)
        st = buf_puts(&sql, tail);
    if (st != KT_OK) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < nextra; i++)
        p[n + i] = extra[i];
    st = store_query(s, sql.data, p, n + nextra, out, err);
out:
    free(p);
    buf_free(&sql);
    return st;
}

kt_status store_release_artists_releases(store *s, const char *const *ids, size_t n,
                                         const char *since_day, store_rows **out, kt_err *err)
{
    store_param extra[] = {SP_TEXT(since_day ? since_day : DAY_MIN)};
    return query_in(s,
                    "SELECT ra.artist_id, r.id, r.name, r.album_type, r.release_date, "
                    "r.release_date_precision, r.release_day, r.total_tracks, r.image_url, r.url "
                    "FROM release_artists ra JOIN releases r ON r.id = ra.release_id "
                    "WHERE ra.artist_id",
                    " AND r.release_day >= ? ORDER BY ra.artist_id, r.release_day DESC, r.id", ids,
                    n, extra, 1, out, err);
}

#define RELEASE_COLS                                                                            \
    "r.id, r.name, r.album_type, r.release_date, r.release_date_precision, r.release_day, "     \
    "r.total_tracks, r.image_url, r.url, r.first_seen_at, "                                     \
    "CASE WHEN EXISTS (SELECT 1 FROM release_sources x WHERE x.release_id = r.id AND "          \
    "x.source = '" STORE_REL_SRC_NEW_RELEASES "') THEN 1 ELSE 0 END, "                          \
    "CASE WHEN EXISTS (SELECT 1 FROM release_sources x WHERE x.release_id = r.id AND "          \
    "x.source = '" STORE_REL_SRC_ARTIST_ALBUMS "') THEN 1 ELSE 0 END "

#define ME_RELEASES                                                                             \
    " AND EXISTS (SELECT 1 FROM release_artists ra JOIN followed_artists f "                    \
    "ON f.artist_id = ra.artist_id WHERE ra.release_id = r.id AND f.user_id = ?)"

kt_status store_releases_page(store *s, const store_rel_filter *f, store_rows **out,
                              int64_t *total, kt_err *err)
{
    static const char *const page_sql[2] = {
        "SELECT " RELEASE_COLS "FROM releases r WHERE r.release_day >= ? "
        "ORDER BY r.release_day DESC, r.id LIMIT ? OFFSET ?",
        "SELECT " RELEASE_COLS "FROM releases r WHERE r.release_day >= ?" ME_RELEASES
        " ORDER BY r.release_day DESC, r.id LIMIT ? OFFSET ?"};
    static const char *const count_sql[2] = {
        "SELECT COUNT(*) FROM releases r WHERE r.release_day >= ?",
        "SELECT COUNT(*) FROM releases r WHERE r.release_day >= ?" ME_RELEASES};
    return filtered_page(s, f, page_sql, count_sql, out, total, err);
}

kt_status store_release_artists_of(store *s, const char *const *ids, size_t n, store_rows **out,
                                   kt_err *err)
{
    return query_in(s,
                    "SELECT release_id, position, artist_id, artist_name, artist_url "
                    "FROM release_artists WHERE release_id",
                    " ORDER BY release_id, position", ids, n, NULL, 0, out, err);
}

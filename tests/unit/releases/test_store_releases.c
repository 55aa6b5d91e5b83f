/* test_store_releases.c - the contract of store_releases.h on SQLite and
 * PostgreSQL: release days, upserts that add nothing twice and bump the data
 * version only on change, skipped rows (bad dates, before the window),
 * sources, age-out, the artists due for a check (followed and newest top
 * artists of active users, never-checked first, recently checked left out),
 * batches stored with their checks in one transaction, and the reads
 * (artists by newest release with since / user filters and paging, their
 * releases, the album-centric page with its sources, release artists).
 * Every case runs on both back-ends (tests/unit/store/testdb.h;
 * PostgreSQL skipped when KEEPTRACK_TEST_PG is unset, failed when it is set
 * but unusable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_releases.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

static int64_t version(store *s)
{
    kt_err err = {0};
    int64_t v = 0;
    OK(store_releases_version(s, &v, &err));
    return v;
}

static int64_t count(store *s, const char *sql)
{
    kt_err err = {0};
    int64_t n = 0;
    OK(store_query_int(s, sql, NULL, 0, &n, &err));
    return n;
}

static void exec(store *s, const char *sql)
{
    kt_err err = {0};
    OK(store_exec(s, sql, NULL, 0, NULL, &err));
}

/* Artists a1..a4; releases r1 (a1, 2026-11-20), r2 (a1 + a2, 2026-11-10),
 * r3 (a3, month precision 2026-10 -> 2026-10-01), r4 (a2, 2026-11-20). */
static const store_release_artist A1 = {"a1", "One", "https://open/a1"};
static const store_release_artist A2 = {"a2", "Two", "https://open/a2"};
static const store_release_artist A3 = {"a3", "Three", NULL};
static const store_release_artist A12[] = {{"a1", "One", "https://open/a1"},
                                           {"a2", "Two", "https://open/a2"}};

static store_release_row rel(const char *id, const char *date, const char *prec,
                             const store_release_artist *artists, size_t n)
{
    return (store_release_row){.id = id,
                               .name = id,
                               .album_type = "single",
                               .release_date = date,
                               .release_date_precision = prec,
                               .total_tracks = 1,
                               .image_url = "https://img",
                               .url = "https://open/album",
                               .artists = artists,
                               .n_artists = n};
}

static void put_four(store *s)
{
    kt_err err = {0};
    int64_t added = -1, skipped = -1;
    store_release_row rows[] = {rel("r1", "2026-11-20", "day", &A1, 1),
                                rel("r2", "2026-11-10", "day", A12, 2),
                                rel("r3", "2026-10", "month", &A3, 1),
                                rel("r4", "2026-11-20", "day", &A2, 1)};
    OK(store_releases_put(s, STORE_REL_SRC_ARTIST_ALBUMS, rows, 4, "2026-09-01", 1000, &added,
                          &skipped, &err));
    assert_int_equal(added, 4);
    assert_int_equal(skipped, 0);
}

static void test_release_day(void **state)
{
    char day[11];
    (void)state;
    assert_int_equal(store_release_day("2026", day), 0);
    assert_string_equal(day, "2026-01-01");
    assert_int_equal(store_release_day("2026-05", day), 0);
    assert_string_equal(day, "2026-05-01");
    assert_int_equal(store_release_day("2026-05-17", day), 0);
    assert_string_equal(day, "2026-05-17");
    const char *bad[] = {NULL, "", "26", "2026-5", "2026-13", "2026-00-10", "2026-05-32",
                         "2026-05-00", "2026/05/01", "2026-05-01T", "abcd", "2026-05-1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_release_day(bad[i], day), -1);
}

static void test_put_is_idempotent_and_versioned(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t added = -1, skipped = -1, v0 = version(s);
    put_four(s);
    int64_t v1 = version(s);
    assert_true(v1 > v0);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases"), 4);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM release_artists"), 5);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases WHERE id = 'r3' AND "
                              "release_day = '2026-10-01' AND release_date = '2026-10'"),
                     1);

    /* the same rows again (twice within the call): nothing new, no bump */
    store_release_row again[] = {rel("r1", "2026-11-20", "day", &A1, 1),
                                 rel("r1", "2026-11-20", "day", &A1, 1),
                                 rel("r2", "2026-11-10", "day", A12, 2)};
    OK(store_releases_put(s, STORE_REL_SRC_ARTIST_ALBUMS, again, 3, "2026-09-01", 2000, &added,
                          &skipped, &err));
    assert_int_equal(added, 0);
    assert_int_equal(version(s), v1);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases"), 4);
    assert_int_equal(count(s, "SELECT last_seen_at FROM release_sources WHERE release_id = 'r1'"),
                     2000);
    assert_int_equal(count(s, "SELECT first_seen_at FROM releases WHERE id = 'r1'"), 1000);

    /* a changed name and a changed artist list are written and bump */
    store_release_row changed[] = {rel("r1", "2026-11-20", "day", A12, 2)};
    changed[0].name = "Renamed";
    OK(store_releases_put(s, STORE_REL_SRC_ARTIST_ALBUMS, changed, 1, NULL, 3000, &added, NULL,
                          &err));
    assert_int_equal(added, 0);
    int64_t v2 = version(s);
    assert_true(v2 > v1);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases WHERE name = 'Renamed'"), 1);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM release_artists WHERE release_id = 'r1'"), 2);

    /* a second source for a known release is recorded (and shown: a bump) */
    OK(store_releases_put(s, STORE_REL_SRC_NEW_RELEASES, changed, 1, NULL, 4000, &added, NULL,
                          &err));
    assert_int_equal(added, 0);
    assert_true(version(s) > v2);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM release_sources WHERE release_id = 'r1'"), 2);

    /* unusable dates and rows before the window are skipped */
    store_release_row skip_rows[] = {rel("x1", "someday", "day", &A1, 1),
                                     rel("x2", "2026-08-31", "day", &A1, 1),
                                     rel("x3", NULL, NULL, &A1, 1)};
    OK(store_releases_put(s, STORE_REL_SRC_NEW_RELEASES, skip_rows, 3, "2026-09-01", 5000, &added,
                          &skipped, &err));
    assert_int_equal(added, 0);
    assert_int_equal(skipped, 3);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases"), 4);

    /* bad input */
    store_release_row noid[] = {rel(NULL, "2026-11-20", "day", &A1, 1)};
    assert_int_equal(store_releases_put(s, STORE_REL_SRC_NEW_RELEASES, noid, 1, NULL, 1, NULL,
                                        NULL, &err),
                     KT_ERR_INVALID);
    assert_int_equal(store_releases_put(s, "elsewhere", changed, 1, NULL, 1, NULL, NULL, &err),
                     KT_ERR_INVALID);
}

static void test_age_out(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t removed = -1;
    put_four(s);
    int64_t v = version(s);
    OK(store_releases_age_out(s, "2026-09-01", &removed, &err));
    assert_int_equal(removed, 0);
    assert_int_equal(version(s), v);
    OK(store_releases_age_out(s, "2026-11-15", &removed, &err));
    assert_int_equal(removed, 2); /* r2 (11-10) and r3 (10-01) */
    assert_true(version(s) > v);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases"), 2);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM release_artists"), 2);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM release_sources"), 2);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM releases WHERE id IN ('r1', 'r4')"), 2);
}

/* Users: u1 active follows a1, a2; its top artists: an old snapshot (a9)
 * and the newest (a3); u2 reauth_required follows a4 (left out). */
static void make_users(store *s)
{
    exec(s, "INSERT INTO users (id, account_id, spotify_id, status, created_at, updated_at) "
            "VALUES (1, 'u1', 'u1', 'active', 1, 1), (2, 'u2', 'u2', 'reauth_required', 1, 1)");
    exec(s, "INSERT INTO artists (id, name, image_url, updated_at) VALUES "
            "('a1', 'Catalog One', 'https://img/a1', 1), ('a2', NULL, NULL, 1), "
            "('a4', 'Four', NULL, 1)");
    exec(s, "INSERT INTO followed_artists (user_id, position, artist_id) VALUES "
            "(1, 0, 'a2'), (1, 1, 'a1'), (2, 0, 'a4')");
    exec(s, "INSERT INTO top_items (user_id, kind, time_range, day, rank, item) VALUES "
            "(1, 'artists', 'short_term', '2026-11-01', 1, 'a9'), "
            "(1, 'artists', 'short_term', '2026-11-21', 1, 'a3'), "
            "(1, 'artists', 'long_term', '2026-11-21', 1, 'a1'), "
            "(1, 'tracks', 'short_term', '2026-11-21', 1, 'spotify:track:t1')");
}

static void due_ids(store *s, int64_t before, size_t limit, char *out, size_t cap, int64_t *due)
{
    kt_err err = {0};
    store_rows *r = NULL;
    OK(store_releases_artists_due(s, before, limit, &r, due, &err));
    out[0] = '\0';
    for (size_t i = 0; i < store_rows_count(r); i++) {
        strncat(out, store_rows_text(r, i, 0), cap - strlen(out) - 1);
        strncat(out, " ", cap - strlen(out) - 1);
    }
    store_rows_free(r);
}

static void test_artists_due_and_checks(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char ids[256];
    int64_t due = -1;
    make_users(s);
    due_ids(s, 5000, 10, ids, sizeof ids, &due);
    assert_string_equal(ids, "a1 a2 a3 ");
    assert_int_equal(due, 3);
    const char *a2[] = {"a2"};
    OK(store_releases_mark_checked(s, a2, 1, 1000, &err));
    due_ids(s, 5000, 10, ids, sizeof ids, &due); /* never-checked first */
    assert_string_equal(ids, "a1 a3 a2 ");
    due_ids(s, 1000, 10, ids, sizeof ids, &due); /* checked at 1000: not before 1000 */
    assert_string_equal(ids, "a1 a3 ");
    assert_int_equal(due, 2);
    due_ids(s, 1000, 1, ids, sizeof ids, &due);
    assert_string_equal(ids, "a1 ");
    assert_int_equal(due, 2);

    /* a batch: its releases and its checks land together */
    store_release_row rows[] = {rel("r1", "2026-11-20", "day", &A1, 1)};
    const char *batch[] = {"a1", "a3"};
    int64_t added = 0;
    OK(store_releases_put_checked(s, STORE_REL_SRC_ARTIST_ALBUMS, rows, 1, batch, 2, NULL, 2000,
                                  &added, NULL, &err));
    assert_int_equal(added, 1);
    due_ids(s, 1500, 10, ids, sizeof ids, &due);
    assert_string_equal(ids, "a2 ");
    /* a failing batch (bad source) stores neither */
    const char *a2only[] = {"a2"};
    assert_int_equal(store_releases_put_checked(s, "bogus", rows, 1, a2only, 1, NULL, 9000, NULL,
                                                NULL, &err),
                     KT_ERR_INVALID);
    due_ids(s, 1500, 10, ids, sizeof ids, &due);
    assert_string_equal(ids, "a2 ");
    assert_int_equal(store_releases_artists_due(s, 1, 0, NULL, NULL, &err), KT_ERR_INVALID);
}

/* The page's artist ids joined by spaces. */
static void page_ids(store *s, const store_rel_filter *f, char *out, size_t cap, int64_t *total)
{
    kt_err err = {0};
    store_rows *r = NULL;
    OK(store_release_artists_page(s, f, &r, total, &err));
    out[0] = '\0';
    for (size_t i = 0; i < store_rows_count(r); i++) {
        strncat(out, store_rows_text(r, i, 0), cap - strlen(out) - 1);
        strncat(out, " ", cap - strlen(out) - 1);
    }
    store_rows_free(r);
}

static void test_reads(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char ids[256];
    int64_t total = 0;
    store_rows *r = NULL;
    make_users(s);
    put_four(s);

    /* newest release first, ties by artist id: a1 and a2 (11-20), a3 (10-01) */
    store_rel_filter f = {.limit = 10};
    page_ids(s, &f, ids, sizeof ids, &total);
    assert_string_equal(ids, "a1 a2 a3 ");
    assert_int_equal(total, 3);
    OK(store_release_artists_page(s, &f, &r, &total, &err));
    /* the catalog's name and image win; the release's name when the
     * catalog has none; the url comes from the releases */
    assert_string_equal(store_rows_text(r, 0, 1), "Catalog One");
    assert_string_equal(store_rows_text(r, 0, 2), "https://open/a1");
    assert_string_equal(store_rows_text(r, 0, 3), "https://img/a1");
    assert_string_equal(store_rows_text(r, 0, 4), "2026-11-20");
    assert_string_equal(store_rows_text(r, 1, 1), "Two");
    assert_true(store_rows_is_null(r, 1, 3));
    assert_string_equal(store_rows_text(r, 2, 1), "Three");
    assert_true(store_rows_is_null(r, 2, 2));
    store_rows_free(r);

    f = (store_rel_filter){.limit = 2, .offset = 1};
    page_ids(s, &f, ids, sizeof ids, &total);
    assert_string_equal(ids, "a2 a3 ");
    assert_int_equal(total, 3);
    f = (store_rel_filter){.limit = 10, .since_day = "2026-11-01"};
    page_ids(s, &f, ids, sizeof ids, &total);
    assert_string_equal(ids, "a1 a2 ");
    assert_int_equal(total, 2);
    f = (store_rel_filter){.limit = 10, .user_id = 1}; /* follows a1, a2 */
    page_ids(s, &f, ids, sizeof ids, &total);
    assert_string_equal(ids, "a1 a2 ");
    f = (store_rel_filter){.limit = 10, .user_id = 2}; /* follows a4: no releases */
    page_ids(s, &f, ids, sizeof ids, &total);
    assert_string_equal(ids, "");
    assert_int_equal(total, 0);
    f.limit = 0;
    assert_int_equal(store_release_artists_page(s, &f, &r, &total, &err), KT_ERR_INVALID);

    /* releases of artists: by artist, newest first */
    const char *want[] = {"a2", "a1"};
    OK(store_release_artists_releases(s, want, 2, NULL, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    const char *expect[][2] = {{"a1", "r1"}, {"a1", "r2"}, {"a2", "r4"}, {"a2", "r2"}};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(store_rows_text(r, i, 0), expect[i][0]);
        assert_string_equal(store_rows_text(r, i, 1), expect[i][1]);
    }
    assert_string_equal(store_rows_text(r, 0, 6), "2026-11-20");
    assert_int_equal(store_rows_int(r, 0, 7), 1);
    store_rows_free(r);
    OK(store_release_artists_releases(s, want, 2, "2026-11-15", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    store_rows_free(r);
    OK(store_release_artists_releases(s, want, 0, NULL, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);

    /* the album-centric page, with its sources */
    store_release_row r4[] = {rel("r4", "2026-11-20", "day", &A2, 1)};
    OK(store_releases_put(s, STORE_REL_SRC_NEW_RELEASES, r4, 1, NULL, 7000, NULL, NULL, &err));
    f = (store_rel_filter){.limit = 10};
    OK(store_releases_page(s, &f, &r, &total, &err));
    assert_int_equal(total, 4);
    const char *order[] = {"r1", "r4", "r2", "r3"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(store_rows_text(r, i, 0), order[i]);
    assert_int_equal(store_rows_int(r, 0, 10), 0);
    assert_int_equal(store_rows_int(r, 0, 11), 1);
    assert_int_equal(store_rows_int(r, 1, 10), 1); /* r4: both sources */
    assert_int_equal(store_rows_int(r, 1, 11), 1);
    assert_int_equal(store_rows_int(r, 0, 9), 1000);
    store_rows_free(r);
    f = (store_rel_filter){.limit = 10, .user_id = 1, .since_day = "2026-11-15"};
    OK(store_releases_page(s, &f, &r, &total, &err));
    assert_int_equal(total, 2); /* r1 (a1), r4 (a2) */
    store_rows_free(r);

    const char *rels[] = {"r2", "r3"};
    OK(store_release_artists_of(s, rels, 2, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 2), "a1");
    assert_string_equal(store_rows_text(r, 1, 2), "a2");
    assert_int_equal(store_rows_int(r, 1, 1), 1);
    assert_string_equal(store_rows_text(r, 1, 4), "https://open/a2");
    assert_string_equal(store_rows_text(r, 2, 0), "r3");
    store_rows_free(r);
}

#define BOTH(fn)                                                                              \
    cmocka_unit_test_setup_teardown(fn, testdb_setup_sqlite, testdb_teardown),                \
        cmocka_unit_test_setup_teardown(fn, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_day),
        BOTH(test_put_is_idempotent_and_versioned),
        BOTH(test_age_out),
        BOTH(test_artists_due_and_checks),
        BOTH(test_reads),
    };
    return cmocka_run_group_tests_name("store_releases", tests, NULL, NULL);
}

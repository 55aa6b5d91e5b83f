/* test_store_history.c - the contract of store_history_commit on SQLite and
 * PostgreSQL (issue 16: PostgreSQL writes a batch as one statement per
 * table over array parameters, and checks plays' references once per
 * statement instead of through foreign keys): every text survives the
 * trip whatever it holds (quotes, backslashes, braces, commas, the word
 * NULL, an empty string, non-ASCII), NULL stays NULL, a stub track is added
 * once and never overwrites a catalog row, a taken played_at is dropped
 * and not counted, and the references hold as foreign keys would: a play of
 * a missing user or track is refused and rolls the batch back, deleting a
 * user deletes their plays, and a track a play names cannot be deleted.
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
#include "store/store_history.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

static int64_t qint(store *s, const char *sql, const store_param *p, size_t n)
{
    kt_err err = {0};
    int64_t v = -1;
    OK(store_query_int(s, sql, p, n, &v, &err));
    return v;
}

/* The statement fails as a foreign key would make it fail. */
static void refused(store *s, const char *sql, const store_param *p, size_t n)
{
    kt_err err = {0};
    assert_int_equal(store_exec(s, sql, p, n, NULL, &err), KT_ERR_STORE);
}

static int64_t new_import(store *s, int64_t user)
{
    kt_err err = {0};
    int64_t id = 0;
    OK(store_history_import_start(s, user, "Streaming_History_Audio_0.json", 1, &id, &err));
    return id;
}

static const char *const odd[] = {
    "quote \" inside", "back\\slash", "{braces}", "a,b,c", "NULL", "", "  spaced  ",
    "ünïcødé ✓", "\\\"{,}\\",
};
#define N_ODD (sizeof odd / sizeof odd[0])

static void test_texts_round_trip(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t user = testdb_add_user(s, "alice"), imp = new_import(s, user), added = -1;
    store_hist_row rows[N_ODD + 1];
    char uris[N_ODD][48];
    store_hist_progress pr = {.records = 10, .committed_bytes = 100, .prefix_hash = "ab"};
    for (size_t i = 0; i < N_ODD; i++) {
        snprintf(uris[i], sizeof uris[i], "spotify:track:odd%zu", i);
        rows[i] = (store_hist_row){.played_at = 1000 + (int64_t)i, .source_ts = 1000 + (int64_t)i,
                                   .ms_played = 30000, .uri = uris[i], .id = NULL,
                                   .kind = "unresolved", .track_name = odd[i],
                                   .artist_name = odd[(i + 1) % N_ODD],
                                   .album_name = odd[(i + 2) % N_ODD]};
    }
    /* A record with every optional text NULL, on a uri met above. */
    rows[N_ODD] = (store_hist_row){.played_at = 5000, .source_ts = 5000, .ms_played = 1,
                                   .uri = uris[0], .kind = "unresolved"};
    OK(store_history_commit(s, user, imp, rows, N_ODD + 1, &pr, 2, &added, &err));
    assert_int_equal(added, N_ODD + 1);
    for (size_t i = 0; i < N_ODD; i++) {
        store_rows *r = NULL;
        store_param p[] = {SP_INT(user), SP_INT(1000 + (int64_t)i)};
        OK(store_query(s,
                       "SELECT p.track_name, p.artist_name, p.album_name, t.name, t.local_artist, "
                       "t.local_album, t.kind, t.id FROM plays p JOIN tracks t ON t.uri = "
                       "p.track_uri WHERE p.user_id = ? AND p.played_at = ?",
                       p, 2, &r, &err));
        assert_int_equal(store_rows_count(r), 1);
        assert_string_equal(store_rows_text(r, 0, 0), odd[i]);
        assert_string_equal(store_rows_text(r, 0, 1), odd[(i + 1) % N_ODD]);
        assert_string_equal(store_rows_text(r, 0, 2), odd[(i + 2) % N_ODD]);
        assert_string_equal(store_rows_text(r, 0, 3), odd[i]);
        assert_string_equal(store_rows_text(r, 0, 4), odd[(i + 1) % N_ODD]);
        assert_string_equal(store_rows_text(r, 0, 5), odd[(i + 2) % N_ODD]);
        assert_string_equal(store_rows_text(r, 0, 6), "unresolved");
        assert_true(store_rows_is_null(r, 0, 7));
        store_rows_free(r);
    }
    store_param p5[] = {SP_INT(user)};
    assert_int_equal(qint(s,
                          "SELECT COUNT(*) FROM plays WHERE user_id = ? AND played_at = 5000 AND "
                          "track_name IS NULL AND artist_name IS NULL AND album_name IS NULL AND "
                          "source = 'import' AND ms_played = 1",
                          p5, 1),
                     1);
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM tracks", NULL, 0), N_ODD);
    assert_int_equal(qint(s, "SELECT records FROM history_imports", NULL, 0), 10);
}

static void test_stubs_and_duplicates(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t user = testdb_add_user(s, "alice"), imp = new_import(s, user), added = -1;
    store_param t[] = {SP_TEXT("spotify:track:known"), SP_TEXT("known")};
    OK(store_exec(s,
                  "INSERT INTO tracks (uri, id, kind, name, updated_at) VALUES (?, ?, 'track', "
                  "'Catalog Name', 7)",
                  t, 2, NULL, &err));
    store_hist_row rows[] = {
        {.played_at = 10, .source_ts = 10, .ms_played = 40000, .uri = "spotify:track:known",
         .id = "known", .kind = "track", .track_name = "Export Name"},
        {.played_at = 20, .source_ts = 20, .ms_played = 40000, .uri = "spotify:track:new",
         .id = "new", .kind = "track", .track_name = "New One"},
        {.played_at = 30, .source_ts = 30, .ms_played = 40000, .uri = "spotify:track:new",
         .id = "new", .kind = "track", .track_name = "New One"},
    };
    store_hist_progress pr = {.records = 3, .committed_bytes = 3, .prefix_hash = "aa"};
    OK(store_history_commit(s, user, imp, rows, 3, &pr, 2, &added, &err));
    assert_int_equal(added, 3);
    assert_int_equal(qint(s,
                          "SELECT COUNT(*) FROM tracks WHERE uri = 'spotify:track:known' AND name "
                          "= 'Catalog Name' AND updated_at = 7",
                          NULL, 0),
                     1);
    assert_int_equal(qint(s,
                          "SELECT COUNT(*) FROM tracks WHERE uri = 'spotify:track:new' AND name = "
                          "'New One' AND updated_at = 0 AND kind = 'track' AND id = 'new'",
                          NULL, 0),
                     1);
    /* The same instants again (a resumed batch): nothing added, nothing counted. */
    OK(store_history_commit(s, user, imp, rows, 3, &pr, 3, &added, &err));
    assert_int_equal(added, 0);
    /* An empty batch still moves the resume point. */
    store_hist_progress pr2 = {.records = 9, .committed_bytes = 9, .prefix_hash = "bb"};
    OK(store_history_commit(s, user, imp, NULL, 0, &pr2, 4, &added, &err));
    assert_int_equal(added, 0);
    assert_int_equal(qint(s, "SELECT records FROM history_imports", NULL, 0), 9);
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM plays", NULL, 0), 3);
}

static void test_references_hold(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    int64_t imp = new_import(s, alice);
    store_hist_row rows[] = {
        {.played_at = 10, .source_ts = 10, .ms_played = 40000, .uri = "spotify:track:x1",
         .id = "x1", .kind = "track", .track_name = "X1"},
    };
    store_hist_progress pr = {.records = 1, .committed_bytes = 1, .prefix_hash = "aa"};
    OK(store_history_commit(s, alice, imp, rows, 1, &pr, 2, NULL, &err));
    OK(store_history_commit(s, bob, imp, rows, 1, &pr, 2, NULL, &err));

    /* A play of a user that does not exist: refused, the batch rolled back. */
    store_hist_row ghost[] = {
        {.played_at = 20, .source_ts = 20, .ms_played = 40000, .uri = "spotify:track:x2",
         .id = "x2", .kind = "track"},
    };
    assert_int_equal(store_history_commit(s, bob + 100, imp, ghost, 1, &pr, 3, NULL, &err),
                     KT_ERR_STORE);
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM tracks WHERE uri = 'spotify:track:x2'", NULL, 0),
                     0);

    /* A play naming a track the catalog lacks, or moved onto one. */
    store_param bad[] = {SP_INT(alice)};
    refused(s, "INSERT INTO plays (user_id, played_at, track_uri) VALUES (?, 99, 'spotify:track:no')",
            bad, 1);
    refused(s, "UPDATE plays SET track_uri = 'spotify:track:no' WHERE user_id = ?", bad, 1);
    /* A track a play names cannot go, nor change its uri. */
    refused(s, "DELETE FROM tracks WHERE uri = 'spotify:track:x1'", NULL, 0);
    refused(s, "UPDATE tracks SET uri = 'spotify:track:moved' WHERE uri = 'spotify:track:x1'",
            NULL, 0);
    /* Catalog updates that keep the uri are fine. */
    OK(store_exec(s, "UPDATE tracks SET name = 'Renamed' WHERE uri = 'spotify:track:x1'", NULL, 0,
                  NULL, &err));

    /* Deleting a user deletes their plays, and only theirs. */
    store_param a[] = {SP_INT(alice)};
    OK(store_exec(s, "DELETE FROM users WHERE id = ?", a, 1, NULL, &err));
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM plays WHERE user_id = ?", a, 1), 0);
    store_param b[] = {SP_INT(bob)};
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM plays WHERE user_id = ?", b, 1), 1);
    /* A track no play names any more can go. */
    OK(store_exec(s, "DELETE FROM plays", NULL, 0, NULL, &err));
    OK(store_exec(s, "DELETE FROM tracks WHERE uri = 'spotify:track:x1'", NULL, 0, NULL, &err));
}

#define BOTH(fn)                                                              \
    cmocka_unit_test_setup_teardown(fn, testdb_setup_sqlite, testdb_teardown), \
        cmocka_unit_test_setup_teardown(fn, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_texts_round_trip),
        BOTH(test_stubs_and_duplicates),
        BOTH(test_references_hold),
    };
    return cmocka_run_group_tests_name("store_history", tests, NULL, NULL);
}

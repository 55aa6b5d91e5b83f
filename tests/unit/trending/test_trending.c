/* test_trending.c - the contract of store_trending.h on SQLite and
 * PostgreSQL (append once, remove and close the gap, reorder only as a
 * permutation, replace all or nothing, the columns a row shows, the size
 * limit, user scoping, which artists still need their genres), and
 * trending_parse_ref (URIs and URLs accepted, everything else refused
 * naming the field). PostgreSQL cases skip when
 * KEEPTRACK_TEST_PG is unset (tests/unit/store/testdb.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/trending.h"
#include "store/store.h"
#include "store/store_library.h"
#include "store/store_stats.h"
#include "store/store_trending.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK
#define N_TRACKS 4

static const char *const uris[N_TRACKS] = {"spotify:track:t0", "spotify:track:t1",
                                           "spotify:track:t2", "spotify:track:t3"};

/* t0..t3 by artist a0 ("Zed", genres known) on album al0 (2001-05-01). */
static void put_catalog(store *s)
{
    kt_err err = {0};
    static const store_ref artist = {"a0", "Zed"};
    static const store_artist_row full = {"a0", "Zed", 1, "[\"rock\",\"pop\"]", NULL, 5, 50};
    static const store_album_row album = {"al0", "First", "album", "2001-05-01", "day", 4,
                                          NULL, &artist, 1};
    static const char *const ids[N_TRACKS] = {"t0", "t1", "t2", "t3"};
    store_track_row t[N_TRACKS];
    for (int i = 0; i < N_TRACKS; i++)
        t[i] = (store_track_row){.uri = uris[i], .id = ids[i], .kind = "track", .name = ids[i],
                                 .duration_ms = 1, .disc_number = -1, .track_number = -1,
                                 .album = &album, .artists = &artist, .n_artists = 1};
    OK(store_catalog_put(s, &full, 1, NULL, 0, NULL, 0, t, N_TRACKS, 1000, &err));
}

/* The user's list as "t0,t2,..." (ids in position order). */
static void list_ids(store *s, int64_t uid, char *out, size_t size)
{
    kt_err err = {0};
    store_rows *r = NULL;
    size_t at = 0;
    OK(store_trending_list(s, uid, &r, &err));
    out[0] = '\0';
    for (size_t i = 0; i < store_rows_count(r); i++) {
        assert_int_equal(store_rows_int(r, i, 0), (int64_t)i); /* dense positions */
        at += (size_t)snprintf(out + at, size - at, "%s%s", i ? "," : "",
                               store_rows_text(r, i, 2));
    }
    store_rows_free(r);
}

static void test_add_remove_reorder(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char got[128];
    int added = -1, known = -1;
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    put_catalog(s);
    OK(store_trending_in_catalog(s, uris[0], &known, &err));
    assert_int_equal(known, 1);
    OK(store_trending_in_catalog(s, "spotify:track:nope", &known, &err));
    assert_int_equal(known, 0);
    /* genres to fetch: only for an artist seen as a reference */
    static const store_ref ref_only = {"a9", "Ref"};
    store_track_row r0 = {.uri = "spotify:track:r0", .id = "r0", .kind = "track",
                          .duration_ms = -1, .disc_number = -1, .track_number = -1,
                          .artists = &ref_only, .n_artists = 1};
    OK(store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, &r0, 1, 1500, &err));
    char *due = NULL;
    OK(store_trending_artist_due(s, "spotify:track:r0", &due, &err));
    assert_non_null(due);
    assert_string_equal(due, "a9");
    free(due);
    OK(store_trending_artist_due(s, uris[0], &due, &err));
    assert_null(due);
    for (int i = 0; i < N_TRACKS; i++) {
        OK(store_trending_add(s, alice, uris[i], i ? "uri" : "library", 2000 + i, &added, &err));
        assert_int_equal(added, 1);
    }
    OK(store_trending_add(s, alice, uris[2], "top", 3000, &added, &err));
    assert_int_equal(added, 0);
    OK(store_trending_add(s, bob, uris[3], "top", 3000, &added, &err));
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t0,t1,t2,t3");

    /* every column of a row */
    store_rows *r = NULL;
    OK(store_trending_list(s, alice, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 1), uris[0]);
    assert_string_equal(store_rows_text(r, 0, 3), "t0");
    assert_string_equal(store_rows_text(r, 0, 4), "First");
    assert_string_equal(store_rows_text(r, 0, 5), "2001-05-01");
    assert_string_equal(store_rows_text(r, 0, 6), "a0");
    assert_string_equal(store_rows_text(r, 0, 7), "Zed");
    assert_string_equal(store_rows_text(r, 0, 8), "[\"rock\",\"pop\"]");
    assert_true(store_rows_is_null(r, 0, 9)); /* no features stored */
    assert_string_equal(store_rows_text(r, 0, 10), "library");
    assert_int_equal(store_rows_int(r, 0, 11), 2000);
    store_rows_free(r);

    OK(store_trending_remove(s, alice, uris[1], &err));
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t0,t2,t3");
    assert_int_equal(store_trending_remove(s, alice, uris[1], &err), KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "not_listed");

    const char *order[] = {uris[3], uris[0], uris[2]};
    OK(store_trending_reorder(s, alice, order, 3, &err));
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t3,t0,t2");
    const char *bad[][3] = {{uris[3], uris[3], uris[2]}, {uris[3], uris[1], uris[2]}};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(store_trending_reorder(s, alice, bad[i], 3, &err), KT_ERR_INVALID);
        assert_non_null(strstr(err.msg, "uris"));
    }
    assert_int_equal(store_trending_reorder(s, alice, order, 2, &err), KT_ERR_INVALID);
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t3,t0,t2"); /* unchanged by the refusals */
    list_ids(s, bob, got, sizeof got);
    assert_string_equal(got, "t3");
}

static void test_replace_and_limit(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char got[128];
    int added = 0;
    int64_t alice = testdb_add_user(s, "alice");
    put_catalog(s);
    OK(store_trending_add(s, alice, uris[0], "uri", 1, &added, &err));
    const char *next[] = {uris[2], uris[1]};
    OK(store_trending_replace(s, alice, next, 2, "csv", 5, &err));
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t2,t1");
    /* a track not in the catalog fails the whole replace: nothing changes */
    const char *broken[] = {uris[0], "spotify:track:missing"};
    assert_int_not_equal(store_trending_replace(s, alice, broken, 2, "csv", 6, &err), KT_OK);
    list_ids(s, alice, got, sizeof got);
    assert_string_equal(got, "t2,t1");
    assert_int_equal(store_trending_replace(s, alice, next, STORE_TRENDING_MAX + 1, "csv", 7,
                                            &err),
                     KT_ERR_INVALID);

    /* the size limit on add: a full list refuses one more */
    enum { MAX = STORE_TRENDING_MAX };
    static char names[MAX + 1][32];
    static const char *many[MAX + 1];
    store_track_row *rows = calloc(MAX + 1, sizeof *rows);
    assert_non_null(rows);
    for (int i = 0; i <= MAX; i++) {
        snprintf(names[i], sizeof names[i], "spotify:track:m%d", i);
        many[i] = names[i];
        rows[i] = (store_track_row){.uri = names[i], .id = names[i] + 14, .kind = "track",
                                    .duration_ms = -1, .disc_number = -1, .track_number = -1};
    }
    OK(store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, rows, MAX + 1, 9, &err));
    free(rows);
    OK(store_trending_replace(s, alice, many, MAX, "csv", 10, &err));
    assert_int_equal(store_trending_add(s, alice, many[MAX], "uri", 11, &added, &err),
                     KT_ERR_INVALID);
    assert_string_equal(err.code, "list_full");
}

static void test_parse_ref(void **state)
{
    (void)state;
    kt_err err = {0};
    char uri[96];
    static const char *const good[][2] = {
        {"spotify:track:abcXYZ019", "spotify:track:abcXYZ019"},
        {"https://open.spotify.com/track/abc123", "spotify:track:abc123"},
        {"https://open.spotify.com/track/abc123?si=xyz&utm=1", "spotify:track:abc123"},
        {"https://open.spotify.com/track/abc123#x", "spotify:track:abc123"},
        {"https://open.spotify.com/track/abc123/", "spotify:track:abc123"},
        {"HTTP://OPEN.SPOTIFY.COM/track/abc123", "spotify:track:abc123"},
        {"https://open.spotify.com/intl-de/track/abc123", "spotify:track:abc123"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        OK(trending_parse_ref(good[i][0], "track", uri, &err));
        assert_string_equal(uri, good[i][1]);
    }
    static const char *const bad[] = {
        NULL, "", "spotify:track:", "spotify:track:a b", "spotify:album:abc",
        "spotify:track:abc/../x", "https://open.spotify.com/album/abc",
        "https://open.spotify.com/track/", "https://evil.example/track/abc",
        "https://open.spotify.com.evil/track/abc", "https://open.spotify.com/track/ab%20c",
        "spotify:track:0123456789012345678901234567890123456789012345678901234567890123x",
        "https://open.spotify.com/intl-de", "abc123",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(trending_parse_ref(bad[i], "track", uri, &err), KT_ERR_INVALID);
        assert_memory_equal(err.msg, "track:", 6);
    }
    assert_true(trending_source_valid("movement"));
    assert_false(trending_source_valid("radio"));
    assert_false(trending_source_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_remove_reorder, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_add_remove_reorder, testdb_setup_pg,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_limit, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_limit, testdb_setup_pg,
                                        testdb_teardown),
        cmocka_unit_test(test_parse_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_shuffle.c - the contract of store_shuffle.h on SQLite and
 * PostgreSQL: sources read in order with duplicates, local files, episodes
 * and null entries and their spread keys; made playlists found, re-begun
 * and deleted; shuffle events and per-track counts (repeats, more than one
 * batch), totals, most shuffled tracks/artists, history, user scoping.
 * PostgreSQL cases skip when KEEPTRACK_TEST_PG is unset and fail when it is
 * set but unusable (tests/unit/store/testdb.h).
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
#include "store/store_library.h"
#include "store/store_shuffle.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

/* Catalog: t0..t4 (t0, t1 by artist a0 on album al0; t2 by a1 (+ a0) on
 * al1; t3, t4 by a2 on al1), a local file and an episode of show sh1. */
static const store_ref refs[] = {{"a0", "Zed"}, {"a1", "Amy"}, {"a2", "Bo"}};
static const store_album_row albums[] = {
    {"al0", "First", "album", "2001", "year", 2, NULL, &refs[0], 1},
    {"al1", "Second", "album", "2002", "year", 3, NULL, &refs[1], 1},
};
static const store_show_row show1 = {"sh1", "Show", "Pub", 9, NULL};
#define LOCAL_URI "spotify:local:Home:Tapes:Demo:180"

static void put_catalog(store *s)
{
    kt_err err = {0};
    static const store_ref t2_artists[] = {{"a1", "Amy"}, {"a0", "Zed"}};
    static const store_ref local_artist = {NULL, "Home"};
    static const store_album_row local_album = {.name = "Tapes", .total_tracks = -1};
    store_track_row t[7] = {
        {.uri = "spotify:track:t0", .id = "t0", .kind = "track", .name = "Zero", .duration_ms = 1,
         .album = &albums[0], .artists = &refs[0], .n_artists = 1},
        {.uri = "spotify:track:t1", .id = "t1", .kind = "track", .name = "One", .duration_ms = 1,
         .album = &albums[0], .artists = &refs[0], .n_artists = 1},
        {.uri = "spotify:track:t2", .id = "t2", .kind = "track", .name = "Two", .duration_ms = 1,
         .album = &albums[1], .artists = t2_artists, .n_artists = 2},
        {.uri = "spotify:track:t3", .id = "t3", .kind = "track", .name = "Three",
         .duration_ms = 1, .album = &albums[1], .artists = &refs[2], .n_artists = 1},
        {.uri = "spotify:track:t4", .id = "t4", .kind = "track", .name = "Four", .duration_ms = 1,
         .album = &albums[1], .artists = &refs[2], .n_artists = 1},
        {.uri = LOCAL_URI, .kind = "local", .name = "Demo", .duration_ms = 180000,
         .album = &local_album, .artists = &local_artist, .n_artists = 1},
        {.uri = "spotify:episode:e1", .id = "e1", .kind = "episode", .name = "Ep",
         .duration_ms = 5, .show = &show1},
    };
    for (int i = 0; i < 7; i++) {
        t[i].disc_number = -1;
        t[i].track_number = -1;
    }
    OK(store_catalog_put(s, NULL, 0, albums, 2, NULL, 0, t, 7, 1000, &err));
}

static void test_sources(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    put_catalog(s);
    store_saved_row liked[] = {{"spotify:track:t3", 5}, {"spotify:track:t0", 4},
                               {LOCAL_URI, 3}, {"spotify:track:t2", 2}};
    OK(store_coll_replace(s, alice, STORE_COLL_LIKED, liked, 4, NULL, NULL, &err));
    store_playlist_row pls[] = {
        {.spotify_id = "P1", .name = "Road Trip", .snapshot_id = "s1", .items_total = 6,
         .public_ = -1},
        {.spotify_id = "P2", .name = "Theirs", .snapshot_id = "s2", .items_total = 3,
         .public_ = -1},
    };
    store_item_row items[] = {{"spotify:track:t1", -1, NULL}, {NULL, -1, NULL},
                              {"spotify:track:t1", -1, NULL}, {"spotify:episode:e1", -1, NULL},
                              {LOCAL_URI, -1, NULL},          {"spotify:track:t4", -1, NULL}};
    store_playlist_items pi = {"P1", "s1", items, 6};
    OK(store_playlists_replace(s, alice, pls, 2, &pi, 1, 1000, NULL, NULL, &err));

    char *name = NULL;
    int readable = 0;
    OK(store_shuffle_source_info(s, alice, "liked", &name, &readable, &err));
    assert_string_equal(name, "Liked Songs");
    assert_int_equal(readable, 1);
    free(name);
    OK(store_shuffle_source_info(s, alice, "P1", &name, &readable, &err));
    assert_string_equal(name, "Road Trip");
    assert_int_equal(readable, 1);
    free(name);
    OK(store_shuffle_source_info(s, alice, "P2", &name, &readable, &err));
    assert_int_equal(readable, 0); /* items never synced: not the user's */
    free(name);
    assert_int_equal(store_shuffle_source_info(s, bob, "P1", &name, &readable, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_shuffle_source_info(s, alice, "nope", &name, &readable, &err),
                     KT_ERR_NOT_FOUND);

    store_rows *r = NULL;
    OK(store_shuffle_source_items(s, alice, "liked", &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t3");
    assert_string_equal(store_rows_text(r, 0, 2), "a:a2");
    assert_string_equal(store_rows_text(r, 0, 3), "b:al1");
    assert_string_equal(store_rows_text(r, 2, 1), "local");
    assert_string_equal(store_rows_text(r, 2, 2), "l:Home");
    assert_string_equal(store_rows_text(r, 2, 3), "l:Tapes");
    assert_string_equal(store_rows_text(r, 3, 2), "a:a1"); /* the first artist only */
    store_rows_free(r);

    OK(store_shuffle_source_items(s, alice, "P1", &r, &err));
    assert_int_equal(store_rows_count(r), 6);
    const char *want[] = {"spotify:track:t1", NULL, "spotify:track:t1", "spotify:episode:e1",
                          LOCAL_URI, "spotify:track:t4"};
    for (size_t i = 0; i < 6; i++) {
        if (want[i] == NULL) {
            assert_true(store_rows_is_null(r, i, 0));
            assert_true(store_rows_is_null(r, i, 1));
        } else {
            assert_string_equal(store_rows_text(r, i, 0), want[i]);
        }
    }
    assert_string_equal(store_rows_text(r, 3, 1), "episode");
    assert_string_equal(store_rows_text(r, 3, 2), "s:sh1");
    assert_string_equal(store_rows_text(r, 3, 3), "s:sh1");
    store_rows_free(r);
    OK(store_shuffle_source_items(s, bob, "P1", &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
}

static void test_made_playlists(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    int64_t id1 = 0, id2 = 0, id3 = 0, changes = 0;
    store_rows *r = NULL;
    assert_int_equal(store_shuffled_find(s, alice, "shuffle", "liked", &r, &err),
                     KT_ERR_NOT_FOUND);
    OK(store_shuffled_begin(s, alice, "shuffle", "liked", "uniform", "SP1", "Liked (shuffled)",
                            10, &id1, &err));
    OK(store_shuffled_find(s, alice, "shuffle", "liked", &r, &err));
    assert_int_equal(store_rows_int(r, 0, 0), id1);
    assert_string_equal(store_rows_text(r, 0, 1), "SP1");
    assert_string_equal(store_rows_text(r, 0, 3), "building");
    store_rows_free(r);
    OK(store_shuffled_finish(s, id1, "done", 120, 3, 20, &err));
    /* Re-beginning the same Spotify playlist updates the row. */
    OK(store_shuffled_begin(s, alice, "shuffle", "liked", "spread", "SP1", "Liked (shuffled)", 30,
                            &id2, &err));
    assert_int_equal(id2, id1);
    OK(store_shuffled_find(s, alice, "shuffle", "liked", &r, &err));
    assert_string_equal(store_rows_text(r, 0, 3), "building");
    assert_string_equal(store_rows_text(r, 0, 4), "spread");
    assert_int_equal(store_rows_int(r, 0, 5), 120); /* counts kept until done again */
    store_rows_free(r);
    OK(store_shuffled_finish(s, id1, "done", 121, 2, 40, &err));
    OK(store_shuffled_begin(s, alice, "share", "liked", "ordered", "SH1", "My likes", 50, &id3,
                            &err));
    assert_true(id3 != id1);
    /* bob's playlists are his own */
    assert_int_equal(store_shuffled_find(s, bob, "shuffle", "liked", &r, &err), KT_ERR_NOT_FOUND);

    OK(store_shuffled_list(s, alice, "shuffle", 0, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "SP1");
    assert_int_equal(store_rows_int(r, 0, 6), 121);
    assert_int_equal(store_rows_int(r, 0, 7), 2);
    store_rows_free(r);
    OK(store_shuffled_list(s, alice, NULL, 0, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "SH1"); /* newest first */
    store_rows_free(r);

    OK(store_shuffled_mark_deleted(s, alice, "SP1", 60, &changes, &err));
    assert_int_equal(changes, 1);
    OK(store_shuffled_mark_deleted(s, alice, "SP1", 61, &changes, &err));
    assert_int_equal(changes, 0);
    OK(store_shuffled_mark_deleted(s, bob, "SH1", 61, &changes, &err));
    assert_int_equal(changes, 0);
    assert_int_equal(store_shuffled_find(s, alice, "shuffle", "liked", &r, &err),
                     KT_ERR_NOT_FOUND);
    OK(store_shuffled_list(s, alice, "shuffle", 0, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
    OK(store_shuffled_list(s, alice, "shuffle", 1, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 5), "deleted");
    store_rows_free(r);
}

static void test_events_and_stats(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob"), total = 0;
    put_catalog(s);
    /* alice: t0 x3, t2 x1, t3 x1 + 250 distinct others (more than a batch). */
    enum { OTHERS = 250 };
    const char *uris[OTHERS + 5];
    char other[OTHERS][32];
    uris[0] = uris[1] = uris[2] = "spotify:track:t0";
    uris[3] = "spotify:track:t2";
    uris[4] = "spotify:track:t3";
    for (int i = 0; i < OTHERS; i++) {
        snprintf(other[i], sizeof other[i], "spotify:track:x%03d", i);
        uris[5 + i] = other[i];
    }
    OK(store_shuffle_record(s, alice, "liked", "Liked Songs", "uniform", "SP1", OTHERS + 5, 1,
                            uris, OTHERS + 5, 100, &err));
    OK(store_shuffle_record(s, alice, "liked", "Liked Songs", "spread", "SP1", 3, 0, uris, 3, 200,
                            &err));
    const char *bob_uris[] = {"spotify:track:t3", "spotify:track:t4"};
    OK(store_shuffle_record(s, bob, "P9", "Bob's", "uniform", "SP9", 2, 0, bob_uris, 2, 300,
                            &err));

    store_rows *r = NULL;
    OK(store_shuffle_totals(s, 0, &r, &err));
    assert_int_equal(store_rows_int(r, 0, 0), 3);                /* shuffles */
    assert_int_equal(store_rows_int(r, 0, 1), OTHERS + 5 + 3 + 2); /* tracks */
    assert_int_equal(store_rows_int(r, 0, 2), 2);                /* users */
    assert_int_equal(store_rows_int(r, 0, 3), 1);                /* local files skipped */
    assert_int_equal(store_rows_int(r, 0, 4), 2);                /* distinct sources */
    store_rows_free(r);
    OK(store_shuffle_totals(s, bob, &r, &err));
    assert_int_equal(store_rows_int(r, 0, 0), 1);
    assert_int_equal(store_rows_int(r, 0, 1), 2);
    store_rows_free(r);

    OK(store_shuffle_top_tracks(s, 0, 3, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t0");
    assert_string_equal(store_rows_text(r, 0, 1), "Zero");
    assert_int_equal(store_rows_int(r, 0, 2), 6);
    assert_string_equal(store_rows_text(r, 1, 0), "spotify:track:t3"); /* 1 + 1 (bob) */
    assert_int_equal(store_rows_int(r, 1, 2), 2);
    assert_string_equal(store_rows_text(r, 2, 0), "spotify:track:t2");
    store_rows_free(r);
    OK(store_shuffle_top_tracks(s, bob, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    store_rows_free(r);
    OK(store_query_int(s, "SELECT COUNT(*) FROM shuffle_track_counts WHERE user_id = 1", NULL, 0,
                       &total, &err));
    assert_int_equal(total, OTHERS + 3);

    /* Artists: a0 = t0 x6 + t2 x1 (credited second) = 7; a2 = t3 x2 + t4 = 3; a1 = 1. */
    OK(store_shuffle_top_artists(s, 0, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "a0");
    assert_string_equal(store_rows_text(r, 0, 1), "Zed");
    assert_int_equal(store_rows_int(r, 0, 2), 7);
    assert_string_equal(store_rows_text(r, 1, 0), "a2");
    assert_int_equal(store_rows_int(r, 1, 2), 3);
    assert_string_equal(store_rows_text(r, 2, 0), "a1");
    store_rows_free(r);
    assert_int_equal(store_shuffle_top_artists(s, 0, 0, &r, &err), KT_ERR_INVALID);

    OK(store_shuffle_history(s, alice, 10, 0, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 2), "spread"); /* newest first */
    assert_int_equal(store_rows_int(r, 1, 4), OTHERS + 5);
    assert_int_equal(store_rows_int(r, 1, 5), 1);
    assert_int_equal(store_rows_int(r, 1, 6), 100);
    store_rows_free(r);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_sqlite, testdb_teardown), \
                 cmocka_unit_test_setup_teardown(fn, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_sources),
        BOTH(test_made_playlists),
        BOTH(test_events_and_stats),
    };
    return cmocka_run_group_tests_name("store_shuffle", tests, NULL, NULL);
}

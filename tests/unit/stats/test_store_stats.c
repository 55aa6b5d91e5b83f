/* test_store_stats.c - the contract of store_stats.h on SQLite and
 * PostgreSQL: tracker points (counts, the change against the previous
 * point, re-recording a day), the Liked Songs aggregates over a small
 * hand-built catalog (counts, top artists/albums with ties, years, added
 * days, extremes, genres), the caches (artists due by TTL, audio features
 * due and stored), listening statistics over polled and imported plays
 * (names merged, time, hour x weekday cells, first-heard artists), and top
 * snapshots on two days (the emulator cannot vary top lists over days, so
 * the second day's snapshot is written here through the store), and the
 * yearly recap's first-heard tracks and days with plays. Every case
 * runs on both back-ends (tests/unit/store/testdb_cmocka.h).
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
#include "store/store_library.h"
#include "store/store_stats.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

#define DAY 86400000LL
/* 2024-01-01T00:00:00Z, a Monday. */
#define JAN1 1704067200000LL

/* The catalog: artists A (Abba) B (Beck) C (Cher); albums X (1995, by A)
 * and Y (2003, by C); tracks t1 (A+B, X, 200 s, explicit), t2 (A, X,
 * 100 s), t3 (C, Y, 300 s), t4 (B, Y, 250 s; not liked) and a local file
 * (artist "Lo", 50 s). */
static const store_ref ref_a = {"A", "Abba"}, ref_b = {"B", "Beck"}, ref_c = {"C", "Cher"};
static const store_ref ab[] = {{"A", "Abba"}, {"B", "Beck"}};
static const store_album_row alb_x = {"X", "Xray", "album", "1995-03-01", "day", 10, "http://x",
                                      &ref_a, 1};
static const store_album_row alb_y = {"Y", "Yolk", "album", "2003", "year", 8, NULL, &ref_c, 1};
static const store_ref local_artist = {NULL, "Lo"};
static const store_album_row local_album = {.name = "Tapes", .total_tracks = -1};

#define URI_LOCAL "spotify:local:Lo:Tapes:Demo:50"

static void put_catalog(store *s)
{
    kt_err err = {0};
    store_track_row t[] = {
        {.uri = "spotify:track:t1", .id = "t1", .kind = "track", .name = "One",
         .duration_ms = 200000, .explicit_ = 1, .disc_number = 1, .track_number = 1,
         .album = &alb_x, .artists = ab, .n_artists = 2},
        {.uri = "spotify:track:t2", .id = "t2", .kind = "track", .name = "Two",
         .duration_ms = 100000, .disc_number = 1, .track_number = 2, .album = &alb_x,
         .artists = &ref_a, .n_artists = 1},
        {.uri = "spotify:track:t3", .id = "t3", .kind = "track", .name = "Three",
         .duration_ms = 300000, .disc_number = 1, .track_number = 1, .album = &alb_y,
         .artists = &ref_c, .n_artists = 1},
        {.uri = "spotify:track:t4", .id = "t4", .kind = "track", .name = "Four",
         .duration_ms = 250000, .disc_number = 1, .track_number = 2, .album = &alb_y,
         .artists = &ref_b, .n_artists = 1},
        {.uri = URI_LOCAL, .kind = "local", .name = "Demo", .duration_ms = 50000,
         .disc_number = -1, .track_number = -1, .album = &local_album,
         .artists = &local_artist, .n_artists = 1},
    };
    OK(store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, t, 5, 1000, &err));
}

/* Liked: t1 (Jan 5), t2 (Jan 20), t3 (Feb 2), local (no added_at). */
static void put_liked(store *s, int64_t user)
{
    kt_err err = {0};
    store_saved_row liked[] = {{"spotify:track:t1", JAN1 + 4 * DAY + 5},
                               {"spotify:track:t2", JAN1 + 19 * DAY},
                               {"spotify:track:t3", JAN1 + 32 * DAY},
                               {URI_LOCAL, -1}};
    OK(store_coll_replace(s, user, STORE_COLL_LIKED, liked, 4, NULL, NULL, &err));
}

static void test_tracker_points(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_tracker_point pt;
    store_rows *r = NULL;
    int64_t u = testdb_add_user(s, "alice"), other = testdb_add_user(s, "bob");
    put_catalog(s);
    put_liked(s, u);
    store_artist_row full = {"A", "Abba", 1, "[]", NULL, -1, -1};
    OK(store_catalog_put(s, &full, 1, NULL, 0, NULL, 0, NULL, 0, 1000, &err));
    store_saved_row fol[] = {{"A", -1}, {"B", -1}};
    OK(store_coll_replace(s, u, STORE_COLL_FOLLOWED, fol, 2, NULL, NULL, &err));
    store_playlist_row pls[] = {{.spotify_id = "p1", .public_ = -1, .items_total = -1},
                                {.spotify_id = "p2", .public_ = -1, .items_total = -1}};
    OK(store_playlists_replace(s, u, pls, 2, NULL, 0, 1000, NULL, NULL, &err));
    OK(store_playlists_replace(s, u, pls, 1, NULL, 0, 2000, NULL, NULL, &err)); /* p2 removed */
    store_play_row plays[] = {{JAN1 + 10 * DAY + 1000, "spotify:track:t1", NULL},
                              {JAN1 + 10 * DAY + 5000, "spotify:track:t2", NULL},
                              {JAN1 + 11 * DAY, "spotify:track:t3", NULL},
                              {JAN1 + 9 * DAY + DAY - 1, "spotify:track:t3", NULL}};
    OK(store_plays_add(s, u, plays, 4, NULL, &err));

    OK(store_tracker_record(s, u, "2024-01-11", JAN1 + 10 * DAY, 5, &pt, &err));
    assert_string_equal(pt.day, "2024-01-11");
    assert_int_equal(pt.liked, 4);
    assert_int_equal(pt.has_change, 0);
    assert_int_equal(pt.playlists, 1);
    assert_int_equal(pt.followed, 2);
    assert_int_equal(pt.plays, 2); /* the day's plays only */
    assert_int_equal(pt.plays_total, 4);

    /* a day later, one song unliked */
    store_saved_row fewer[] = {{"spotify:track:t1", 1}, {"spotify:track:t3", 2}, {URI_LOCAL, -1}};
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, fewer, 3, NULL, NULL, &err));
    OK(store_tracker_record(s, u, "2024-01-12", JAN1 + 11 * DAY, 6, &pt, &err));
    assert_int_equal(pt.liked, 3);
    assert_int_equal(pt.has_change, 1);
    assert_int_equal(pt.liked_change, -1);
    assert_int_equal(pt.plays, 1);
    /* re-recording the day replaces it (and the change still refers to the 11th) */
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, fewer, 1, NULL, NULL, &err));
    OK(store_tracker_record(s, u, "2024-01-12", JAN1 + 11 * DAY, 7, &pt, &err));
    assert_int_equal(pt.liked_change, -3);
    OK(store_tracker_record(s, other, "2024-01-12", JAN1 + 11 * DAY, 7, &pt, &err));
    assert_int_equal(pt.liked, 0);
    assert_int_equal(pt.plays_total, 0);

    OK(store_tracker_points(s, u, "2024-01-01", "2024-12-31", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "2024-01-11");
    assert_true(store_rows_is_null(r, 0, 2));
    assert_string_equal(store_rows_text(r, 1, 0), "2024-01-12");
    assert_int_equal(store_rows_int(r, 1, 1), 1);
    assert_int_equal(store_rows_int(r, 1, 2), -3);
    assert_int_equal(store_rows_int(r, 1, 7), 7);
    store_rows_free(r);
    OK(store_tracker_points(s, u, "2024-01-12", "2024-01-12", &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    store_rows_free(r);
    assert_int_equal(store_tracker_record(s, u, "2024-1-1", 0, 1, NULL, &err), KT_ERR_INVALID);
}

static void test_liked_aggregates(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_liked_summary sum;
    store_rows *r = NULL;
    int64_t u = testdb_add_user(s, "alice");
    put_catalog(s);
    put_liked(s, u);
    OK(store_stats_liked_summary(s, u, &sum, &err));
    assert_int_equal(sum.tracks, 4);
    assert_int_equal(sum.local_files, 1);
    assert_int_equal(sum.explicit_, 1);
    assert_int_equal(sum.duration_total, 650000);
    assert_int_equal(sum.with_duration, 4);
    assert_int_equal(sum.artists, 3);
    assert_int_equal(sum.albums, 2);
    assert_int_equal(sum.artists_detailed, 0);
    assert_int_equal(sum.features_known, 0);

    OK(store_stats_liked_top_artists(s, u, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "A");
    assert_int_equal(store_rows_int(r, 0, 3), 2);
    assert_string_equal(store_rows_text(r, 1, 1), "Beck"); /* tie of 1: by name */
    assert_string_equal(store_rows_text(r, 2, 1), "Cher");
    store_rows_free(r);

    OK(store_stats_liked_top_albums(s, u, 1, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "X");
    assert_string_equal(store_rows_text(r, 0, 2), "http://x");
    assert_string_equal(store_rows_text(r, 0, 3), "1995-03-01");
    assert_int_equal(store_rows_int(r, 0, 4), 2);
    assert_string_equal(store_rows_text(r, 0, 5), "Abba");
    store_rows_free(r);

    OK(store_stats_liked_years(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "1995");
    assert_int_equal(store_rows_int(r, 0, 1), 2);
    assert_string_equal(store_rows_text(r, 1, 0), "2003");
    assert_int_equal(store_rows_int(r, 1, 1), 1);
    store_rows_free(r);

    OK(store_stats_liked_added_days(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_int_equal(store_rows_int(r, 0, 0), JAN1 / DAY + 4);
    assert_int_equal(store_rows_int(r, 2, 0), JAN1 / DAY + 32);
    store_rows_free(r);

    OK(store_stats_liked_extremes(s, u, 1, 2, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t3");
    assert_string_equal(store_rows_text(r, 0, 3), "Cher");
    assert_string_equal(store_rows_text(r, 0, 4), "Yolk");
    assert_string_equal(store_rows_text(r, 1, 0), "spotify:track:t1");
    store_rows_free(r);
    OK(store_stats_liked_extremes(s, u, 0, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_string_equal(store_rows_text(r, 0, 0), URI_LOCAL);
    assert_string_equal(store_rows_text(r, 0, 3), "Lo");
    assert_string_equal(store_rows_text(r, 0, 4), "Tapes");
    assert_int_equal(store_rows_int(r, 0, 2), 50000);
    store_rows_free(r);
    assert_int_equal(store_stats_liked_extremes(s, u, 0, 0, &r, &err), KT_ERR_INVALID);
}

static void test_artist_and_feature_caches(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_rows *r = NULL;
    store_liked_summary sum;
    int64_t u = testdb_add_user(s, "alice");
    put_catalog(s);
    put_liked(s, u);
    const char *top[] = {"spotify:track:t4"};
    store_top_list tl = {"tracks", "short_term", top, 1};
    OK(store_top_replace(s, u, "2024-02-01", &tl, 1, &err));

    /* every artist of liked songs and top tracks is due (only references so far) */
    OK(store_stats_artists_due(s, u, 5000, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "A");
    assert_string_equal(store_rows_text(r, 2, 0), "C");
    store_rows_free(r);
    OK(store_stats_artist_put(s, "A", "[\"pop\",\"disco\"]", "http://a", 5000, &err));
    OK(store_stats_artist_put(s, "B", "[\"pop\"]", NULL, 5000, &err));
    OK(store_stats_artists_due(s, u, 4000, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 1); /* C; A and B fresh */
    assert_string_equal(store_rows_text(r, 0, 0), "C");
    store_rows_free(r);
    OK(store_stats_artists_due(s, u, 6000, 10, &r, &err)); /* A and B past the TTL */
    assert_int_equal(store_rows_count(r), 3);
    store_rows_free(r);

    OK(store_stats_liked_genres(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 3); /* t1: A, B; t2: A */
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t1");
    assert_string_equal(store_rows_text(r, 0, 1), "A");
    assert_string_equal(store_rows_text(r, 0, 2), "[\"pop\",\"disco\"]");
    assert_string_equal(store_rows_text(r, 1, 1), "B");
    assert_string_equal(store_rows_text(r, 2, 0), "spotify:track:t2");
    store_rows_free(r);
    OK(store_stats_liked_top_artists(s, u, 1, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 2), "http://a");
    store_rows_free(r);

    OK(store_stats_features_due(s, u, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 4); /* t1 t2 t3 (liked) + t4 (top); no local file */
    assert_string_equal(store_rows_text(r, 0, 0), "t1");
    assert_string_equal(store_rows_text(r, 3, 0), "t4");
    store_rows_free(r);
    const char *ids[] = {"t1", "t2"};
    const char *feats[] = {"{\"energy\":0.5,\"id\":\"t1\",\"key\":3,\"mode\":1}", "null"};
    OK(store_stats_features_put(s, ids, feats, 2, 9000, &err));
    OK(store_stats_features_due(s, u, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "t3");
    store_rows_free(r);
    OK(store_stats_liked_features(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "t1");
    store_rows_free(r);
    OK(store_stats_liked_summary(s, u, &sum, &err));
    assert_int_equal(sum.artists_detailed, 2);
    assert_int_equal(sum.features_known, 1);
}

/* Plays: polled t1 x2 and t3; imported t1 (catalog: names from it), a
 * track only the export knows ("Zed" by "Abba", 40 s) and one by "Newbie". */
static void put_plays(store *s, int64_t user)
{
    kt_err err = {0};
    int64_t import_id = 0;
    /* Mon 2024-01-01 10:00, Mon 10:30, Tue 2024-01-02 23:59 */
    store_play_row polled[] = {{JAN1 + 10 * 3600000LL, "spotify:track:t1", NULL},
                               {JAN1 + 10 * 3600000LL + 1800000, "spotify:track:t1", NULL},
                               {JAN1 + DAY + 23 * 3600000LL + 59 * 60000LL, "spotify:track:t3",
                                NULL}};
    OK(store_plays_add(s, user, polled, 3, NULL, &err));
    OK(store_history_import_start(s, user, "f.json", 1, &import_id, &err));
    store_hist_row imp[] = {
        /* 2023-12-31 (Sunday) 08:00: before the range below */
        {JAN1 - 16 * 3600000LL, JAN1 - 16 * 3600000LL, 60000, "spotify:track:t1", "t1", "track",
         "One", "Abba", "Xray"},
        {JAN1 + 2 * DAY, JAN1 + 2 * DAY, 40000, "spotify:track:zz", "zz", "track", "Zed", "Abba",
         "Zalbum"},
        {JAN1 + 3 * DAY, JAN1 + 3 * DAY, 35000, "spotify:track:nn", "nn", "track", "Nu",
         "Newbie", "Nalbum"},
    };
    store_hist_progress pr = {.records = 3, .committed_bytes = 10, .prefix_hash = "00",
                              .imported = 3};
    OK(store_history_commit(s, user, import_id, imp, 3, &pr, 2, NULL, &err));
}

static void test_listening(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_listen_totals tot;
    store_rows *r = NULL;
    int64_t total = 0, u = testdb_add_user(s, "alice"), other = testdb_add_user(s, "bob");
    put_catalog(s);
    put_plays(s, u);
    int64_t from = JAN1, to = JAN1 + 7 * DAY;
    OK(store_stats_listen_totals(s, u, from, to, &tot, &err));
    assert_int_equal(tot.plays, 5);
    /* polled plays count the track's duration: 200 + 200 + 300 s; imported their ms */
    assert_int_equal(tot.ms, 200000 + 200000 + 300000 + 40000 + 35000);
    assert_int_equal(tot.tracks, 4);
    assert_int_equal(tot.artists, 3); /* Abba, Cher, Newbie */
    assert_int_equal(tot.first_ms, JAN1 + 10 * 3600000LL);
    OK(store_stats_listen_totals(s, other, from, to, &tot, &err));
    assert_int_equal(tot.plays, 0);
    assert_int_equal(tot.ms, 0);

    OK(store_stats_listen_top(s, u, from, to, STORE_LISTEN_TRACKS, 0, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t1");
    assert_string_equal(store_rows_text(r, 0, 1), "One");
    assert_string_equal(store_rows_text(r, 0, 2), "Abba");
    assert_string_equal(store_rows_text(r, 0, 3), "Xray");
    assert_int_equal(store_rows_int(r, 0, 4), 2);
    assert_int_equal(store_rows_int(r, 0, 5), 400000);
    assert_string_equal(store_rows_text(r, 1, 0), "spotify:track:t3"); /* 1 play, most time */
    assert_string_equal(store_rows_text(r, 2, 1), "Zed");
    assert_string_equal(store_rows_text(r, 2, 2), "Abba");
    store_rows_free(r);

    OK(store_stats_listen_top(s, u, from, to, STORE_LISTEN_ARTISTS, 0, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "Abba"); /* polled + imported merged */
    assert_string_equal(store_rows_text(r, 0, 1), "A");
    assert_int_equal(store_rows_int(r, 0, 2), 3);
    assert_int_equal(store_rows_int(r, 0, 3), 440000);
    assert_string_equal(store_rows_text(r, 1, 0), "Cher");
    assert_string_equal(store_rows_text(r, 2, 0), "Newbie");
    assert_true(store_rows_is_null(r, 2, 1));
    store_rows_free(r);
    OK(store_stats_listen_top(s, u, from, to, STORE_LISTEN_ARTISTS, 1, 1, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 0), "Abba");
    store_rows_free(r);

    OK(store_stats_listen_top(s, u, from, to, STORE_LISTEN_ALBUMS, 0, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_string_equal(store_rows_text(r, 0, 0), "Xray");
    assert_string_equal(store_rows_text(r, 0, 1), "Abba");
    assert_int_equal(store_rows_int(r, 0, 2), 2);
    assert_string_equal(store_rows_text(r, 1, 0), "Yolk"); /* 1 play, 300 s */
    assert_string_equal(store_rows_text(r, 1, 1), "Cher");
    store_rows_free(r);

    OK(store_stats_listen_hours(s, u, from, to, &r, &err));
    /* Mon 10h x2, Tue 23h, Wed 0h, Thu 0h */
    assert_int_equal(store_rows_count(r), 4);
    assert_int_equal(store_rows_int(r, 0, 0), 1);
    assert_int_equal(store_rows_int(r, 0, 1), 10);
    assert_int_equal(store_rows_int(r, 0, 2), 2);
    assert_int_equal(store_rows_int(r, 0, 3), 400000);
    assert_int_equal(store_rows_int(r, 1, 0), 2);
    assert_int_equal(store_rows_int(r, 1, 1), 23);
    assert_int_equal(store_rows_int(r, 3, 0), 4);
    assert_int_equal(store_rows_int(r, 3, 1), 0);
    store_rows_free(r);

    OK(store_stats_listen_days(s, u, from, to, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_int_equal(store_rows_int(r, 0, 0), JAN1 / DAY);
    assert_int_equal(store_rows_int(r, 0, 1), 2);
    store_rows_free(r);

    /* Abba was first heard on Dec 31 (an import), before the range */
    OK(store_stats_listen_first_heard(s, u, from, to, 10, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "Cher");
    assert_int_equal(store_rows_int(r, 0, 1), JAN1 + DAY + 23 * 3600000LL + 59 * 60000LL);
    assert_string_equal(store_rows_text(r, 1, 0), "Newbie");
    store_rows_free(r);
    OK(store_stats_listen_first_heard(s, u, JAN1 - DAY, to, 1, &r, &total, &err));
    assert_int_equal(total, 3);
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "Abba");
    store_rows_free(r);
}

/* Buckets of every play and of one item's plays (issue 19), what the
 * catalog says of an item, its ranks in the stored top lists and its Liked
 * Songs positions (playlists: tests/integration/test_listening.py). */
static void test_listening_items(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t total = -1, u = testdb_add_user(s, "alice");
    put_catalog(s);
    put_plays(s, u);
    put_liked(s, u);
    const int64_t H = 3600000LL, W = 7 * DAY, SHIFT = 3 * DAY;

    /* per hour: Mon 10h (2 plays), Tue 23h, Wed 0h, Thu 0h */
    OK(store_stats_listen_buckets(s, u, STORE_ITEM_ALL, NULL, JAN1, JAN1 + W, H, 0, &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_int_equal(store_rows_int(r, 0, 0), JAN1 / H + 10);
    assert_int_equal(store_rows_int(r, 0, 1), 2);
    assert_int_equal(store_rows_int(r, 0, 2), 400000);
    assert_int_equal(store_rows_int(r, 0, 3), JAN1 + 10 * H);
    assert_int_equal(store_rows_int(r, 0, 4), JAN1 + 10 * H + 1800000);
    assert_int_equal(store_rows_int(r, 3, 0), (JAN1 + 3 * DAY) / H);
    store_rows_free(r);
    /* weeks from Monday: Sunday Dec 31 is the week before Monday Jan 1 */
    OK(store_stats_listen_buckets(s, u, STORE_ITEM_ALL, NULL, JAN1 - DAY, JAN1 + W, W, SHIFT,
                                  &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 0) * W - SHIFT, JAN1 - W);
    assert_int_equal(store_rows_int(r, 0, 1), 1);
    assert_int_equal(store_rows_int(r, 1, 0) * W - SHIFT, JAN1);
    assert_int_equal(store_rows_int(r, 1, 1), 5);
    store_rows_free(r);
    /* one artist (first artist of the track): t1 twice polled, once imported;
     * "zz" (Abba by name only, no catalog track) is not Abba's by id */
    OK(store_stats_listen_buckets(s, u, STORE_ITEM_ARTIST, "A", 0, INT64_MAX, DAY, 0, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 0), JAN1 / DAY - 1);
    assert_int_equal(store_rows_int(r, 0, 2), 60000);
    assert_int_equal(store_rows_int(r, 1, 1), 2);
    store_rows_free(r);
    OK(store_stats_listen_buckets(s, u, STORE_ITEM_ALBUM, "Y", 0, INT64_MAX, DAY, 0, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_int_equal(store_rows_int(r, 0, 2), 300000);
    store_rows_free(r);
    OK(store_stats_listen_buckets(s, u, STORE_ITEM_TRACK, "spotify:track:t1", 0, INT64_MAX, W,
                                  SHIFT, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    store_rows_free(r);
    assert_int_equal(store_stats_listen_buckets(s, u, STORE_ITEM_ALL, NULL, 0, 1, 1000, 0, &r,
                                                &err),
                     KT_ERR_INVALID);
    assert_int_equal(store_stats_listen_buckets(s, u, STORE_ITEM_ARTIST, NULL, 0, 1, DAY, 0, &r,
                                                &err),
                     KT_ERR_INVALID);

    OK(store_stats_item_info(s, STORE_ITEM_TRACK, "spotify:track:t1", &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "One");
    assert_string_equal(store_rows_text(r, 0, 1), "A");
    assert_string_equal(store_rows_text(r, 0, 2), "Abba");
    assert_string_equal(store_rows_text(r, 0, 3), "X");
    assert_string_equal(store_rows_text(r, 0, 4), "Xray");
    assert_int_equal(store_rows_int(r, 0, 5), 200000);
    store_rows_free(r);
    OK(store_stats_item_info(s, STORE_ITEM_ALBUM, "Y", &r, &err));
    assert_string_equal(store_rows_text(r, 0, 0), "Yolk");
    assert_string_equal(store_rows_text(r, 0, 2), "Cher");
    assert_string_equal(store_rows_text(r, 0, 4), "2003");
    store_rows_free(r);
    OK(store_stats_item_info(s, STORE_ITEM_ARTIST, "nobody", &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);

    const char *d1[] = {"spotify:track:t1", "spotify:track:t2", "spotify:track:t3"};
    const char *d2[] = {"spotify:track:t3", "spotify:track:t1", "spotify:track:t4"};
    const char *a2[] = {"C", "A"};
    store_top_list l1 = {"tracks", "short_term", d1, 3};
    store_top_list l2[] = {{"tracks", "short_term", d2, 3}, {"artists", "long_term", a2, 2}};
    OK(store_top_replace(s, u, "2024-03-01", &l1, 1, &err));
    OK(store_top_replace(s, u, "2024-03-02", l2, 2, &err));
    OK(store_stats_rank_history(s, u, STORE_ITEM_TRACK, "spotify:track:t1", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 1), "2024-03-01");
    assert_int_equal(store_rows_int(r, 0, 2), 1);
    assert_int_equal(store_rows_int(r, 1, 2), 2);
    store_rows_free(r);
    /* an album: the best rank of its tracks (t3 3rd, then t3 1st and t4 3rd) */
    OK(store_stats_rank_history(s, u, STORE_ITEM_ALBUM, "Y", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 2), 3);
    assert_int_equal(store_rows_int(r, 1, 2), 1);
    store_rows_free(r);
    OK(store_stats_rank_history(s, u, STORE_ITEM_ARTIST, "A", &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "long_term");
    assert_int_equal(store_rows_int(r, 0, 2), 2);
    store_rows_free(r);

    /* Liked Songs: Beck is on t1 (second artist); Abba on t1 and t2 */
    OK(store_stats_item_liked(s, u, STORE_ITEM_ARTIST, "A", 10, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_int_equal(store_rows_int(r, 0, 0), 0);
    assert_int_equal(store_rows_int(r, 0, 1), JAN1 + 4 * DAY + 5);
    assert_int_equal(store_rows_int(r, 1, 0), 1);
    assert_string_equal(store_rows_text(r, 1, 3), "Two");
    store_rows_free(r);
    OK(store_stats_item_liked(s, u, STORE_ITEM_ARTIST, "B", 1, &r, &total, &err));
    assert_int_equal(total, 1);
    store_rows_free(r);
    OK(store_stats_item_liked(s, u, STORE_ITEM_TRACK, "spotify:track:t4", 10, &r, &total, &err));
    assert_int_equal(total, 0);
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
    OK(store_stats_item_playlists(s, u, STORE_ITEM_ALBUM, "Y", 10, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
}

static void test_top_snapshots(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_rows *r = NULL;
    char day[11];
    int64_t u = testdb_add_user(s, "alice");
    put_catalog(s);
    const char *d1[] = {"spotify:track:t1", "spotify:track:t2", "spotify:track:t3"};
    const char *d2[] = {"spotify:track:t3", "spotify:track:t1", "spotify:track:t4"};
    store_top_list l1 = {"tracks", "short_term", d1, 3}, l2 = {"tracks", "short_term", d2, 3};
    OK(store_top_replace(s, u, "2024-03-01", &l1, 1, &err));
    OK(store_top_replace(s, u, "2024-03-02", &l2, 1, &err));
    const char *fid[] = {"t3"};
    const char *ff[] = {"{\"id\":\"t3\",\"tempo\":120.5}"};
    OK(store_stats_features_put(s, fid, ff, 1, 1, &err));
    OK(store_stats_artist_put(s, "C", "[\"folk\"]", NULL, 1, &err));

    OK(store_stats_top_day(s, u, "tracks", "short_term", NULL, 0, day, &err));
    assert_string_equal(day, "2024-03-02");
    OK(store_stats_top_day(s, u, "tracks", "short_term", "2024-03-02", 1, day, &err));
    assert_string_equal(day, "2024-03-01");
    OK(store_stats_top_day(s, u, "tracks", "short_term", "2024-03-01", 0, day, &err));
    assert_string_equal(day, "2024-03-01");
    assert_int_equal(store_stats_top_day(s, u, "tracks", "short_term", "2024-03-01", 1, day, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_stats_top_day(s, u, "tracks", "long_term", NULL, 0, day, &err),
                     KT_ERR_NOT_FOUND);

    OK(store_stats_top_snapshot(s, u, "tracks", "short_term", "2024-03-02", &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_int_equal(store_rows_int(r, 0, 0), 1);
    assert_string_equal(store_rows_text(r, 0, 1), "spotify:track:t3");
    assert_string_equal(store_rows_text(r, 0, 2), "t3");
    assert_string_equal(store_rows_text(r, 0, 3), "Three");
    assert_string_equal(store_rows_text(r, 0, 4), "Yolk");
    assert_string_equal(store_rows_text(r, 0, 5), "2003");
    assert_string_equal(store_rows_text(r, 0, 6), "C");
    assert_string_equal(store_rows_text(r, 0, 7), "Cher");
    assert_string_equal(store_rows_text(r, 0, 8), "[\"folk\"]");
    assert_string_equal(store_rows_text(r, 0, 9), "{\"id\":\"t3\",\"tempo\":120.5}");
    assert_string_equal(store_rows_text(r, 1, 6), "A"); /* t1: first artist only */
    assert_true(store_rows_is_null(r, 1, 8));
    assert_true(store_rows_is_null(r, 1, 9));
    assert_int_equal(store_rows_int(r, 2, 0), 3);
    store_rows_free(r);
}

/* The yearly recap's queries (issue 18): tracks first heard in a range
 * (t1 was first heard on Dec 31, an import, so a range from Jan 1 leaves it
 * out) and the days with any play, across the year boundary. */
static void test_recap_queries(void **state)
{
    testdb *db = testdb_state(state);
    store *s = db->s;
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t total = 0, u = testdb_add_user(s, "alice"), other = testdb_add_user(s, "bob");
    put_catalog(s);
    put_plays(s, u);
    OK(store_stats_listen_first_tracks(s, u, JAN1, JAN1 + 7 * DAY, 10, &r, &total, &err));
    assert_int_equal(total, 3);
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t3");
    assert_string_equal(store_rows_text(r, 0, 1), "Three");
    assert_string_equal(store_rows_text(r, 0, 2), "Cher");
    assert_int_equal(store_rows_int(r, 0, 3), JAN1 + DAY + 23 * 3600000LL + 59 * 60000LL);
    assert_string_equal(store_rows_text(r, 1, 1), "Zed"); /* known only to the export */
    assert_string_equal(store_rows_text(r, 1, 2), "Abba");
    assert_string_equal(store_rows_text(r, 2, 0), "spotify:track:nn");
    store_rows_free(r);
    OK(store_stats_listen_first_tracks(s, u, JAN1 - DAY, JAN1 + 7 * DAY, 1, &r, &total, &err));
    assert_int_equal(total, 4);
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t1");
    assert_int_equal(store_rows_int(r, 0, 3), JAN1 - 16 * 3600000LL);
    store_rows_free(r);
    assert_int_equal(store_stats_listen_first_tracks(s, u, JAN1, JAN1 + DAY, 0, &r, NULL, &err),
                     KT_ERR_INVALID);

    OK(store_stats_play_days(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 5); /* Dec 31, Jan 1 (two plays), Jan 2, 3, 4 */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(store_rows_int(r, i, 0), JAN1 / DAY - 1 + (int64_t)i);
    store_rows_free(r);
    OK(store_stats_play_days(s, other, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
}

#define BOTH(t)                                                                               \
    cmocka_unit_test_setup_teardown(t, testdb_setup_sqlite, testdb_teardown),                 \
        cmocka_unit_test_setup_teardown(t, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_tracker_points),     BOTH(test_liked_aggregates), BOTH(test_artist_and_feature_caches),
        BOTH(test_listening),          BOTH(test_listening_items),  BOTH(test_top_snapshots),
        BOTH(test_recap_queries),
    };
    return cmocka_run_group_tests_name("store_stats", tests, NULL, NULL);
}

/* test_store_library.c - the contract of store_library.h on SQLite and
 * PostgreSQL: catalog upserts, collections replaced exactly (order,
 * added_at, added/removed counts, no-op when unchanged), playlists with
 * null entries, local files and episodes, versions, removal, top items,
 * plays once per played_at, sync runs, and the API reads (paging, search,
 * sorting, user scoping). Every case runs on both back-ends
 * (tests/unit/store/testdb.h; PostgreSQL skipped when KEEPTRACK_TEST_PG is
 * unset, failed when it is set but unusable).
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
#include "testdb_cmocka.h"

#define OK TESTDB_OK

/* A small catalog: tracks t0..t(n-1) ("spotify:track:tN"), track i by
 * artist a(i%3) (+ a9 for even i), on album al(i%4); plus a local file and
 * an episode of show sh1. Names make search and sorting checkable. */
static const store_ref artists[] = {{"a0", "Zed Band"}, {"a1", "Alpha Crew"},
                                    {"a2", "Mid Folk"},  {"a9", "Guest Star"}};
static const store_album_row albums[] = {
    {"al0", "First Light", "album", "2001-05-01", "day", 10, NULL, &artists[0], 1},
    {"al1", "Second Wind", "single", "1999", "year", 1, "http://img/1", &artists[1], 1},
    {"al2", "Third Eye", "album", "2020-02", "month", 12, NULL, &artists[2], 1},
    {"al3", "Fourth Wall", "compilation", "2010-10-10", "day", 20, NULL, &artists[0], 2},
};
static const store_show_row show1 = {"sh1", "The Show", "Pub Co", 99, NULL};

static void make_track(store_track_row *t, store_ref *refs, char *uri, char *id, char *name, int i)
{
    snprintf(id, 16, "t%d", i);
    snprintf(uri, 32, "spotify:track:t%d", i);
    snprintf(name, 32, "Song %c%d", 'a' + (i * 7) % 26, i);
    refs[0] = artists[i % 3];
    refs[1] = artists[3];
    *t = (store_track_row){.uri = uri, .id = id, .kind = "track", .name = name,
                           .duration_ms = 1000 + i, .explicit_ = i % 2, .disc_number = 1,
                           .track_number = i + 1, .isrc = "USX", .album = &albums[i % 4],
                           .artists = refs, .n_artists = i % 2 == 0 ? 2 : 1};
}

#define NT 12
typedef struct cat {
    store_track_row tracks[NT + 2];
    store_ref refs[NT][2];
    char uri[NT][32], id[NT][16], name[NT][32];
    store_ref local_artist;
    store_album_row local_album;
} cat;

static void put_catalog(store *s, cat *c)
{
    kt_err err = {0};
    for (int i = 0; i < NT; i++)
        make_track(&c->tracks[i], c->refs[i], c->uri[i], c->id[i], c->name[i], i);
    c->local_artist = (store_ref){NULL, "Home Taper"};
    c->local_album = (store_album_row){.name = "Bedroom Tapes", .total_tracks = -1};
    c->tracks[NT] = (store_track_row){.uri = "spotify:local:Home+Taper:Bedroom+Tapes:Demo:180",
                                      .kind = "local", .name = "Demo", .duration_ms = 180000,
                                      .disc_number = -1, .track_number = -1,
                                      .album = &c->local_album, .artists = &c->local_artist,
                                      .n_artists = 1};
    c->tracks[NT + 1] = (store_track_row){.uri = "spotify:episode:e1", .id = "e1",
                                          .kind = "episode", .name = "Episode One",
                                          .duration_ms = 3600000, .disc_number = -1,
                                          .track_number = -1, .show = &show1,
                                          .release_date = "2024-01-02"};
    OK(store_catalog_put(s, NULL, 0, albums, 4, NULL, 0, c->tracks, NT + 2, 1000, &err));
}

static void test_catalog(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t n = 0;
    put_catalog(s, &c);
    OK(store_query_int(s, "SELECT COUNT(*) FROM tracks", NULL, 0, &n, &err));
    assert_int_equal(n, NT + 2);
    OK(store_query_int(s, "SELECT COUNT(*) FROM artists", NULL, 0, &n, &err));
    assert_int_equal(n, 4);
    OK(store_query_int(s, "SELECT COUNT(*) FROM track_artists", NULL, 0, &n, &err));
    assert_int_equal(n, NT + NT / 2);
    OK(store_query_int(s, "SELECT COUNT(*) FROM album_artists", NULL, 0, &n, &err));
    assert_int_equal(n, 5); /* al3 has two artists */
    /* Again, with a full artist: refs never erase what a full object set. */
    store_artist_row full = {"a1", "Alpha Crew", 1, "[\"rock\"]", "http://a1", 7, 50};
    OK(store_catalog_put(s, &full, 1, NULL, 0, NULL, 0, c.tracks, NT + 2, 2000, &err));
    OK(store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, c.tracks, NT + 2, 3000, &err));
    store_rows *r = NULL;
    OK(store_query(s, "SELECT genres, followers FROM artists WHERE id = 'a1'", NULL, 0, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 0), "[\"rock\"]");
    assert_int_equal(store_rows_int(r, 0, 1), 7);
    store_rows_free(r);
    OK(store_query(s, "SELECT kind, local_artist, local_album, album_id FROM tracks WHERE uri "
                      "LIKE 'spotify:local:%'",
                   NULL, 0, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 0), "local");
    assert_string_equal(store_rows_text(r, 0, 1), "Home Taper");
    assert_string_equal(store_rows_text(r, 0, 2), "Bedroom Tapes");
    assert_true(store_rows_is_null(r, 0, 3));
    store_rows_free(r);
    OK(store_query_int(s, "SELECT COUNT(*) FROM shows", NULL, 0, &n, &err));
    assert_int_equal(n, 1);
    /* More rows than one batch, with repeats inside the call. */
    enum { BIG = 3 * STORE_LIB_BATCH + 7 };
    store_track_row *big = calloc(BIG * 2, sizeof *big);
    char(*uris)[32] = calloc(BIG, 32);
    assert_non_null(big);
    assert_non_null(uris);
    for (int i = 0; i < BIG * 2; i++) {
        snprintf(uris[i % BIG], 32, "spotify:track:b%d", i % BIG);
        big[i] = (store_track_row){.uri = uris[i % BIG], .id = uris[i % BIG] + 14,
                                   .kind = "track", .name = "B", .duration_ms = -1,
                                   .disc_number = -1, .track_number = -1,
                                   .album = &albums[i % 4], .artists = &artists[i % 4],
                                   .n_artists = 1};
    }
    OK(store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, big, BIG * 2, 4000, &err));
    OK(store_query_int(s, "SELECT COUNT(*) FROM tracks WHERE uri LIKE 'spotify:track:b%'", NULL,
                       0, &n, &err));
    assert_int_equal(n, BIG);
    free(big);
    free(uris);
}

static void test_collections(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), u2 = testdb_add_user(s, "u2"), added = -1, removed = -1,
            total = 0;
    put_catalog(s, &c);
    store_saved_row rows[NT];
    for (int i = 0; i < NT; i++)
        rows[i] = (store_saved_row){c.uri[i], 1000000 - i * 1000};
    rows[3].added_at = -1;
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, rows, NT, &added, &removed, &err));
    assert_int_equal(added, NT);
    assert_int_equal(removed, 0);
    store_rows *r = NULL;
    OK(store_coll_head(s, u, STORE_COLL_LIKED, 5, &r, &total, &err));
    assert_int_equal(total, NT);
    assert_int_equal(store_rows_count(r), 5);
    assert_string_equal(store_rows_text(r, 0, 0), "spotify:track:t0");
    assert_int_equal(store_rows_int(r, 0, 1), 1000000);
    assert_true(store_rows_is_null(r, 3, 1));
    store_rows_free(r);
    /* Unchanged: nothing counted. Other user: untouched. */
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, rows, NT, &added, &removed, &err));
    assert_int_equal(added + removed, 0);
    OK(store_coll_head(s, u2, STORE_COLL_LIKED, 5, &r, &total, &err));
    assert_int_equal(total, 0);
    store_rows_free(r);
    /* Unlike t0, like t11 again at the top is a move; reorder counts nothing. */
    store_saved_row next[NT - 1];
    for (int i = 1; i < NT; i++)
        next[i - 1] = rows[NT - i];
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, next, NT - 1, &added, &removed, &err));
    assert_int_equal(added, 0);
    assert_int_equal(removed, 1);
    OK(store_coll_head(s, u, STORE_COLL_LIKED, 50, &r, &total, &err));
    assert_int_equal(total, NT - 1);
    for (int i = 0; i < NT - 1; i++)
        assert_string_equal(store_rows_text(r, (size_t)i, 0), next[i].ref);
    store_rows_free(r);
    /* A ref missing from the catalog fails and leaves the copy intact. */
    store_saved_row bad[] = {{"spotify:track:t1", 5}, {"spotify:track:nope", 6}};
    assert_int_not_equal(store_coll_replace(s, u, STORE_COLL_LIKED, bad, 2, NULL, NULL, &err),
                         KT_OK);
    OK(store_coll_head(s, u, STORE_COLL_LIKED, 50, &r, &total, &err));
    assert_int_equal(total, NT - 1);
    store_rows_free(r);
    /* Followed artists and saved albums/shows/episodes. */
    store_saved_row f[] = {{"a2", -1}, {"a0", -1}};
    OK(store_coll_replace(s, u, STORE_COLL_FOLLOWED, f, 2, &added, &removed, &err));
    assert_int_equal(added, 2);
    OK(store_coll_all(s, u, STORE_COLL_FOLLOWED, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "a2");
    assert_string_equal(store_rows_text(r, 1, 0), "a0");
    store_rows_free(r);
    store_saved_row al[] = {{"al3", 7}, {"al1", 6}};
    OK(store_coll_replace(s, u, STORE_COLL_ALBUMS, al, 2, NULL, NULL, &err));
    store_saved_row sh[] = {{"sh1", 9}};
    OK(store_coll_replace(s, u, STORE_COLL_SHOWS, sh, 1, NULL, NULL, &err));
    store_saved_row ep[] = {{"spotify:episode:e1", 8}};
    OK(store_coll_replace(s, u, STORE_COLL_EPISODES, ep, 1, NULL, NULL, &err));
    OK(store_following_page(s, u, 10, 0, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_string_equal(store_rows_text(r, 0, 1), "a2");
    assert_string_equal(store_rows_text(r, 1, 2), "Zed Band");
    store_rows_free(r);
    OK(store_saved_albums_page(s, u, 10, 0, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_string_equal(store_rows_text(r, 0, 2), "al3");
    assert_string_equal(store_rows_text(r, 1, 5), "1999");
    store_rows_free(r);
    OK(store_saved_shows_page(s, u, 10, 0, &r, &total, &err));
    assert_string_equal(store_rows_text(r, 0, 3), "The Show");
    store_rows_free(r);
    OK(store_saved_episodes_page(s, u, 10, 0, &r, &total, &err));
    assert_string_equal(store_rows_text(r, 0, 2), "spotify:episode:e1");
    assert_string_equal(store_rows_text(r, 0, 2 + 15), "The Show");
    store_rows_free(r);
}

static void test_liked_reads(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), total = 0;
    put_catalog(s, &c);
    store_saved_row rows[NT];
    for (int i = 0; i < NT; i++)
        rows[i] = (store_saved_row){c.uri[i], 1000000 - i * 1000};
    OK(store_coll_replace(s, u, STORE_COLL_LIKED, rows, NT, NULL, NULL, &err));
    store_rows *r = NULL;
    /* Default order: added_at newest first, paged. */
    OK(store_liked_page(s, u, NULL, STORE_SORT_ADDED_AT, 1, 5, 5, &r, &total, &err));
    assert_int_equal(total, NT);
    assert_int_equal(store_rows_count(r), 5);
    assert_string_equal(store_rows_text(r, 0, 2), "spotify:track:t5");
    assert_string_equal(store_rows_text(r, 0, 2 + 10), "Second Wind");
    store_rows_free(r);
    OK(store_liked_page(s, u, NULL, STORE_SORT_ADDED_AT, 0, 1, 0, &r, &total, &err));
    assert_string_equal(store_rows_text(r, 0, 2), "spotify:track:t11");
    store_rows_free(r);
    /* Search: by artist (case-insensitive), by album, by track, LIKE chars literal. */
    OK(store_liked_page(s, u, "alpha", STORE_SORT_ADDED_AT, 1, 50, 0, &r, &total, &err));
    assert_int_equal(total, NT / 3);
    store_rows_free(r);
    OK(store_liked_page(s, u, "GUEST", STORE_SORT_ADDED_AT, 1, 50, 0, &r, &total, &err));
    assert_int_equal(total, NT / 2);
    store_rows_free(r);
    OK(store_liked_page(s, u, "third eye", STORE_SORT_ADDED_AT, 1, 50, 0, &r, &total, &err));
    assert_int_equal(total, NT / 4);
    store_rows_free(r);
    OK(store_liked_page(s, u, "song %", STORE_SORT_ADDED_AT, 1, 50, 0, &r, &total, &err));
    assert_int_equal(total, 0);
    store_rows_free(r);
    /* Sorts: release date ascending starts with 1999; artist ascending with Alpha. */
    OK(store_liked_page(s, u, NULL, STORE_SORT_RELEASE_DATE, 0, 50, 0, &r, &total, &err));
    assert_string_equal(store_rows_text(r, 0, 2 + 12), "1999");
    assert_string_equal(store_rows_text(r, NT - 1, 2 + 12), "2020-02");
    store_rows_free(r);
    OK(store_liked_page(s, u, NULL, STORE_SORT_ARTIST, 0, 50, 0, &r, &total, &err));
    assert_string_equal(store_rows_text(r, 0, 2), "spotify:track:t1");
    store_rows_free(r);
    OK(store_liked_page(s, u, NULL, STORE_SORT_NAME, 0, 50, 0, &r, &total, &err));
    for (size_t i = 1; i < store_rows_count(r); i++)
        assert_true(strcmp(store_rows_text(r, i - 1, 2 + 3), store_rows_text(r, i, 2 + 3)) <= 0);
    store_rows_free(r);
    /* Artists of a page. */
    const char *uris[] = {"spotify:track:t0", "spotify:track:t1"};
    OK(store_track_artists(s, uris, 2, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 3), "Zed Band");
    assert_string_equal(store_rows_text(r, 1, 3), "Guest Star");
    assert_string_equal(store_rows_text(r, 2, 3), "Alpha Crew");
    store_rows_free(r);
    /* Bad limits. */
    assert_int_equal(store_liked_page(s, u, NULL, STORE_SORT_NAME, 0, 0, 0, &r, &total, &err),
                     KT_ERR_INVALID);
    assert_int_equal(
        store_liked_page(s, u, NULL, STORE_SORT_NAME, 0, STORE_LIB_MAX_LIMIT + 1, 0, &r, &total,
                         &err),
        KT_ERR_INVALID);
}

static void test_playlists(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), u2 = testdb_add_user(s, "u2"), added = 0, removed = 0,
            total = 0;
    put_catalog(s, &c);
    store_playlist_row pl[] = {
        {"p1", "Mine", "desc", "u1", "User One", 0, 1, "snap1", 4, NULL, NULL, NULL, NULL, 0},
        {"p2", "Theirs", NULL, "other", "Other", 0, -1, "snapX", 100, NULL, NULL, NULL, NULL, 0},
    };
    store_item_row items[] = {
        {c.uri[0], 5000, "u1"},
        {NULL, -1, NULL},
        {c.tracks[NT].uri, 6000, "u1"},
        {"spotify:episode:e1", 7000, "friend"},
    };
    store_playlist_items pi = {"p1", "snap1", items, 4};
    OK(store_playlists_replace(s, u, pl, 2, &pi, 1, 100, &added, &removed, &err));
    assert_int_equal(added, 2 + 3);
    assert_int_equal(removed, 0);
    store_rows *r = NULL;
    OK(store_playlists_list(s, u, 50, 0, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_string_equal(store_rows_text(r, 0, 0), "p1");
    assert_string_equal(store_rows_text(r, 0, 10), "snap1");
    assert_true(store_rows_is_null(r, 1, 6));  /* public unknown */
    assert_true(store_rows_is_null(r, 1, 10)); /* items never read */
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "p1", 50, 0, &r, &total, &err));
    assert_int_equal(total, 4);
    assert_string_equal(store_rows_text(r, 0, 3), c.uri[0]);
    assert_true(store_rows_is_null(r, 1, 3));
    assert_true(store_rows_is_null(r, 1, 1));
    assert_string_equal(store_rows_text(r, 2, 3 + 2), "local");
    assert_string_equal(store_rows_text(r, 2, 3 + 18), "Home Taper");
    assert_string_equal(store_rows_text(r, 3, 3 + 2), "episode");
    assert_string_equal(store_rows_text(r, 3, 2), "friend");
    store_rows_free(r);
    /* Another user's playlist is not found. */
    assert_int_equal(store_playlist_items_page(s, u2, "p1", 50, 0, &r, &total, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_playlist_get(s, u2, "p1", &r, &err), KT_ERR_NOT_FOUND);
    /* Reorder + remove one + new snapshot; p2 leaves the list. */
    store_item_row items2[] = {items[3], items[0], items[1]};
    store_playlist_items pi2 = {"p1", "snap2", items2, 3};
    pl[0].snapshot_id = "snap2";
    OK(store_playlists_replace(s, u, pl, 1, &pi2, 1, 200, &added, &removed, &err));
    assert_int_equal(added, 0);
    assert_int_equal(removed, 1 + 1);
    OK(store_playlists_list(s, u, 50, 0, &r, &total, &err));
    assert_int_equal(total, 1);
    store_rows_free(r);
    OK(store_playlist_get(s, u, "p2", &r, &err)); /* kept for history */
    assert_int_equal(store_rows_int(r, 0, 13), 200);
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "p1", 2, 1, &r, &total, &err));
    assert_int_equal(total, 3);
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 3), c.uri[0]);
    store_rows_free(r);
    OK(store_playlist_versions(s, u, "p1", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "snap2");
    assert_int_equal(store_rows_int(r, 1, 2), 4);
    store_rows_free(r);
    char *v = NULL;
    OK(store_playlist_version_items(s, u, "p1", "snap1", &v, &err));
    assert_string_equal(v, "[[\"spotify:track:t0\",5000,\"u1\"],[null,null,null],"
                           "[\"spotify:local:Home+Taper:Bedroom+Tapes:Demo:180\",6000,\"u1\"],"
                           "[\"spotify:episode:e1\",7000,\"friend\"]]");
    free(v);
    assert_int_equal(store_playlist_version_items(s, u, "p1", "nope", &v, &err),
                     KT_ERR_NOT_FOUND);
    /* A failure inside (item not in the catalog) rolls everything back. */
    store_item_row bad[] = {{"spotify:track:missing", 1, NULL}};
    store_playlist_items pib = {"p1", "snap3", bad, 1};
    pl[0].snapshot_id = "snap3";
    pl[0].name = "Renamed";
    assert_int_not_equal(store_playlists_replace(s, u, pl, 1, &pib, 1, 300, NULL, NULL, &err),
                         KT_OK);
    OK(store_playlist_get(s, u, "p1", &r, &err));
    assert_string_equal(store_rows_text(r, 0, 1), "Mine");
    assert_string_equal(store_rows_text(r, 0, 7), "snap2");
    store_rows_free(r);
    OK(store_playlists_state(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    store_rows_free(r);
    /* p2 comes back first, p1 otherwise unchanged (an unchanged row is not
     * rewritten, so its move alone must still be written). */
    pl[0].snapshot_id = "snap2";
    pl[0].name = "Mine";
    store_playlist_row back2[] = {pl[1], pl[0]};
    for (int again = 0; again < 2; again++) {
        OK(store_playlists_replace(s, u, back2, 2, NULL, 0, 400, &added, &removed, &err));
        assert_int_equal(added, again ? 0 : 1); /* the same list again counts nothing */
        assert_int_equal(removed, 0);
        OK(store_playlists_list(s, u, 50, 0, &r, &total, &err));
        assert_int_equal(total, 2);
        assert_string_equal(store_rows_text(r, 0, 0), "p2");
        assert_string_equal(store_rows_text(r, 1, 0), "p1");
        assert_string_equal(store_rows_text(r, 1, 10), "snap2");
        store_rows_free(r);
        OK(store_playlist_get(s, u, "p2", &r, &err));
        assert_true(store_rows_is_null(r, 0, 13)); /* no longer removed */
        store_rows_free(r);
    }
}

static void test_top_plays_runs(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), added = 0, total = 0, run = 0;
    put_catalog(s, &c);
    const char *tt[] = {c.uri[2], c.uri[1], c.uri[0]};
    const char *ta[] = {"a2", "a0"};
    store_top_list lists[] = {{"tracks", "short_term", tt, 3}, {"artists", "long_term", ta, 2}};
    OK(store_top_replace(s, u, "2026-11-20", lists, 2, &err));
    lists[0].n = 2;
    OK(store_top_replace(s, u, "2026-11-21", lists, 1, &err));
    OK(store_top_replace(s, u, "2026-11-21", lists, 1, &err)); /* same day: replaced */
    char day[11];
    OK(store_top_latest_day(s, u, "tracks", "short_term", day, &err));
    assert_string_equal(day, "2026-11-21");
    OK(store_top_latest_day(s, u, "artists", "long_term", day, &err));
    assert_string_equal(day, "2026-11-20");
    assert_int_equal(store_top_latest_day(s, u, "artists", "short_term", day, &err),
                     KT_ERR_NOT_FOUND);
    store_rows *r = NULL;
    OK(store_top_get(s, u, "tracks", "short_term", "2026-11-21", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 0), 1);
    assert_string_equal(store_rows_text(r, 0, 1), c.uri[2]);
    store_rows_free(r);
    OK(store_top_get(s, u, "artists", "long_term", "2026-11-20", &r, &err));
    assert_string_equal(store_rows_text(r, 1, 2), "Zed Band");
    store_rows_free(r);
    store_play_row plays[] = {{3000, c.uri[0], "spotify:playlist:p1"},
                              {2000, c.uri[1], NULL},
                              {3000, c.uri[0], NULL}};
    OK(store_plays_add(s, u, plays, 3, &added, &err));
    assert_int_equal(added, 2);
    OK(store_plays_add(s, u, plays, 2, &added, &err));
    assert_int_equal(added, 0);
    OK(store_plays_page(s, u, 0, 3000, 10, 0, &r, &total, &err));
    assert_int_equal(total, 1);
    assert_int_equal(store_rows_int(r, 0, 0), 2000);
    store_rows_free(r);
    OK(store_plays_page(s, u, 0, INT64_MAX, 10, 0, &r, &total, &err));
    assert_int_equal(total, 2);
    assert_string_equal(store_rows_text(r, 0, 1), "spotify:playlist:p1");
    store_rows_free(r);
    OK(store_sync_run_start(s, u, "liked,playlists", 100, &run, &err));
    OK(store_sync_run_finish(s, run, "failed", 200, 12, 3, 1, "Spotify failed", &err));
    OK(store_sync_runs_page(s, u, 10, 0, &r, &total, &err));
    assert_int_equal(total, 1);
    assert_string_equal(store_rows_text(r, 0, 1), "liked,playlists");
    assert_string_equal(store_rows_text(r, 0, 4), "failed");
    assert_int_equal(store_rows_int(r, 0, 5), 12);
    assert_string_equal(store_rows_text(r, 0, 8), "Spotify failed");
    store_rows_free(r);
}

/* A polled play within STORE_PLAY_SAME_MS of an imported play of the same
 * uri is that play: not stored twice. Each imported play absorbs one polled
 * play; other uris and plays further away are new. */
static void test_plays_skip_imported(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), other = testdb_add_user(s, "u2"), added = 0, total = 0;
    put_catalog(s, &c);
    store_param imp[] = {SP_INT(u), SP_INT(100000), SP_TEXT(c.uri[0])};
    OK(store_exec(s,
                  "INSERT INTO plays (user_id, played_at, track_uri, source) VALUES (?, ?, ?, "
                  "'import')",
                  imp, 3, NULL, &err));
    store_play_row plays[] = {{100000 + STORE_PLAY_SAME_MS, c.uri[0], NULL}, /* same play */
                              {100000 - 5000, c.uri[0], NULL},  /* import already matched */
                              {100000 + 1000, c.uri[1], NULL},  /* another track */
                              {100000 - STORE_PLAY_SAME_MS - 1, c.uri[2], NULL}};
    OK(store_plays_add(s, u, plays, 4, &added, &err));
    assert_int_equal(added, 3);
    store_rows *r = NULL;
    OK(store_plays_page(s, u, 0, INT64_MAX, 10, 0, &r, &total, &err));
    assert_int_equal(total, 4); /* the import + 3 polled */
    store_rows_free(r);
    /* Another user's import matches nothing of u's, and the reverse. */
    OK(store_plays_add(s, other, plays, 1, &added, &err));
    assert_int_equal(added, 1);
    /* Polled again (a later poll sees the same plays): nothing new. */
    OK(store_plays_add(s, u, plays, 4, &added, &err));
    assert_int_equal(added, 0);
    OK(store_plays_page(s, u, 0, INT64_MAX, 10, 0, &r, &total, &err));
    assert_int_equal(total, 4);
    store_rows_free(r);
}

/* Catalog upserts write only rows that changed (issue 16): an unchanged
 * row keeps its updated_at (no new row version), a changed column is
 * written, a NULL count or image keeps the stored one, and a stub an import
 * added (updated_at 0) is always completed by the sync's row. */
static void test_catalog_skips_unchanged(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    put_catalog(s, &c); /* at 1000 */
    OK(store_exec(s,
                  "INSERT INTO tracks (uri, id, kind, name, updated_at) VALUES "
                  "('spotify:track:stub', 'stub', 'track', 'Stub', 0)",
                  NULL, 0, NULL, &err));
    store_album_row al0 = albums[0];
    al0.total_tracks = -1; /* unknown this time: the stored 10 stays */
    al0.image_url = NULL;
    store_album_row al1 = albums[1];
    al1.name = "Second Wind (Deluxe)";
    store_album_row changed[] = {al0, al1};
    store_artist_row full = {"a2", "Mid Folk", 1, "[\"folk\"]", NULL, 3, 40};
    store_track_row stub = {.uri = "spotify:track:stub", .id = "stub", .kind = "track",
                            .name = "Stub", .duration_ms = -1, .disc_number = -1,
                            .track_number = -1};
    OK(store_catalog_put(s, &full, 1, changed, 2, NULL, 0, c.tracks, NT + 2, 2000, &err));
    OK(store_catalog_put(s, &full, 1, changed, 2, NULL, 0, &stub, 1, 3000, &err));
    OK(store_catalog_put(s, &full, 1, changed, 2, NULL, 0, c.tracks, NT + 2, 4000, &err));
    int64_t n = 0;
    OK(store_query_int(s, "SELECT COUNT(*) FROM tracks WHERE updated_at <> 1000", NULL, 0, &n,
                       &err));
    assert_int_equal(n, 1); /* only the stub, completed at 3000 */
    OK(store_query_int(s, "SELECT updated_at FROM tracks WHERE uri = 'spotify:track:stub'", NULL,
                       0, &n, &err));
    assert_int_equal(n, 3000);
    store_rows *r = NULL;
    OK(store_query(s, "SELECT id, name, total_tracks, updated_at FROM albums ORDER BY id", NULL, 0,
                   &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    assert_int_equal(store_rows_int(r, 0, 2), 10);
    assert_int_equal(store_rows_int(r, 0, 3), 1000);
    assert_string_equal(store_rows_text(r, 1, 1), "Second Wind (Deluxe)");
    assert_int_equal(store_rows_int(r, 1, 3), 2000);
    store_rows_free(r);
    OK(store_query(s, "SELECT genres, followers, updated_at FROM artists WHERE id = 'a2'", NULL, 0,
                   &r, &err));
    assert_string_equal(store_rows_text(r, 0, 0), "[\"folk\"]");
    assert_int_equal(store_rows_int(r, 0, 1), 3);
    assert_int_equal(store_rows_int(r, 0, 2), 2000);
    store_rows_free(r);
}

/* Custom covers: recorded on the version of the row's snapshot, bytes kept
 * once per hash, known URLs listed, read back per version; a new hash
 * without bytes is refused with nothing written. */
/* Many playlists in one write (issue 16: on PostgreSQL one statement per
 * table for all of them, the counts and versions computed as playlist by
 * playlist): each playlist's own items and counts, duplicate uris counted
 * as a multiset, a playlist emptied, one of 11,000 items, a playlist given
 * items twice (in order: the later wins), then no playlist at all. */
static void test_playlists_many(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    store_rows *r = NULL;
    int64_t u = testdb_add_user(s, "u1"), added = 0, removed = 0, total = 0;
    put_catalog(s, &c);
    enum { BIG = 11000 };
    store_item_row *big = calloc(BIG, sizeof *big);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (store_item_row){c.uri[i % NT], (int64_t)i, NULL};
    store_item_row a[] = {{c.uri[0], 1, NULL}, {c.uri[0], 2, NULL}, {c.uri[1], 3, NULL}};
    store_item_row b[] = {{c.uri[2], 1, "x"}};
    store_playlist_row pl[] = {
        {.spotify_id = "pa", .public_ = -1, .items_total = 3, .snapshot_id = "a1"},
        {.spotify_id = "pb", .public_ = -1, .items_total = 1, .snapshot_id = "b1"},
        {.spotify_id = "pbig", .public_ = -1, .items_total = BIG, .snapshot_id = "g1"},
    };
    store_playlist_items pi[] = {{"pa", "a1", a, 3}, {"pb", "b1", b, 1}, {"pbig", "g1", big, BIG}};
    OK(store_playlists_replace(s, u, pl, 3, pi, 3, 100, &added, &removed, &err));
    assert_int_equal(added, 3 + 3 + 1 + BIG);
    assert_int_equal(removed, 0);
    OK(store_playlist_items_page(s, u, "pbig", 1, BIG - 1, &r, &total, &err));
    assert_int_equal(total, BIG);
    assert_string_equal(store_rows_text(r, 0, 3), c.uri[(BIG - 1) % NT]);
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "pb", 50, 0, &r, &total, &err));
    assert_int_equal(total, 1);
    assert_string_equal(store_rows_text(r, 0, 3), c.uri[2]);
    store_rows_free(r);

    /* pa: one of its two t0 goes and t3 comes; pb emptied; pbig untouched. */
    store_item_row a2[] = {{c.uri[0], 1, NULL}, {c.uri[1], 3, NULL}, {c.uri[3], 4, NULL}};
    pl[0].snapshot_id = "a2";
    pl[1].snapshot_id = "b2";
    pl[1].items_total = 0;
    store_playlist_items pi2[] = {{"pb", "b2", NULL, 0}, {"pa", "a2", a2, 3}};
    OK(store_playlists_replace(s, u, pl, 3, pi2, 2, 200, &added, &removed, &err));
    assert_int_equal(added, 1);
    assert_int_equal(removed, 1 + 1);
    OK(store_playlist_items_page(s, u, "pb", 50, 0, &r, &total, &err));
    assert_int_equal(total, 0);
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "pa", 50, 0, &r, &total, &err));
    assert_int_equal(total, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(store_rows_text(r, i, 3), a2[i].uri);
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "pbig", 1, 0, &r, &total, &err));
    assert_int_equal(total, BIG);
    store_rows_free(r);
    OK(store_playlist_versions(s, u, "pb", &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_string_equal(store_rows_text(r, 0, 0), "b2");
    assert_int_equal(store_rows_int(r, 0, 2), 0);
    store_rows_free(r);
    OK(store_playlists_state(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_string_equal(store_rows_text(r, 0, 2), "a2");
    assert_string_equal(store_rows_text(r, 1, 2), "b2");
    assert_string_equal(store_rows_text(r, 2, 2), "g1");
    store_rows_free(r);

    /* pa alone, its items given twice (a3 then a4): pb and pbig removed. */
    store_item_row a3[] = {{c.uri[4], 1, NULL}};
    store_playlist_items pi3[] = {{"pa", "a3", a3, 1}, {"pa", "a4", a2, 3}};
    pl[0].snapshot_id = "a4";
    OK(store_playlists_replace(s, u, pl, 1, pi3, 2, 300, &added, &removed, &err));
    assert_int_equal(added, 1 + 3);
    assert_int_equal(removed, 2 + 3 + 1);
    OK(store_playlist_versions(s, u, "pa", &r, &err));
    assert_int_equal(store_rows_count(r), 4);
    store_rows_free(r);
    OK(store_playlist_items_page(s, u, "pa", 50, 0, &r, &total, &err));
    assert_int_equal(total, 3);
    assert_string_equal(store_rows_text(r, 2, 3), c.uri[3]);
    store_rows_free(r);
    OK(store_playlist_get(s, u, "pbig", &r, &err)); /* kept for history */
    assert_int_equal(store_rows_int(r, 0, 13), 300);
    store_rows_free(r);

    /* No playlist at all: the last one removed, its items kept. */
    OK(store_playlists_replace(s, u, NULL, 0, NULL, 0, 400, &added, &removed, &err));
    assert_int_equal(added, 0);
    assert_int_equal(removed, 1);
    OK(store_playlists_list(s, u, 50, 0, &r, &total, &err));
    assert_int_equal(total, 0);
    store_rows_free(r);
    OK(store_playlist_get(s, u, "pa", &r, &err));
    assert_int_equal(store_rows_int(r, 0, 13), 400);
    store_rows_free(r);
    free(big);
}

static void test_playlist_covers(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    cat c;
    int64_t u = testdb_add_user(s, "u1"), u2 = testdb_add_user(s, "u2");
    put_catalog(s, &c);
    static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0x02, 0x00, 0xFE};
    const char *sha = "aa00000000000000000000000000000000000000000000000000000000000001";
    store_playlist_row pl[] = {
        {.spotify_id = "p1", .public_ = -1, .items_total = 1, .snapshot_id = "s1",
         .cover_sha256 = sha, .cover_url = "http://img/ugc/1", .cover_bytes = jpeg,
         .cover_len = sizeof jpeg},
        {.spotify_id = "p2", .public_ = -1, .items_total = 1, .snapshot_id = "s2",
         .cover_sha256 = sha, .cover_url = "http://img/ugc/1"},
        /* No version of its snapshot (items not read): no cover kept. */
        {.spotify_id = "p3", .public_ = -1, .items_total = 1, .snapshot_id = "s3",
         .cover_sha256 = sha, .cover_url = "http://img/ugc/1"},
    };
    store_item_row items[] = {{c.uri[0], 5000, "u1"}};
    store_playlist_items pi[] = {{"p1", "s1", items, 1}, {"p2", "s2", items, 1}};
    OK(store_playlists_replace(s, u, pl, 3, pi, 2, 100, NULL, NULL, &err));
    int64_t n = 0;
    OK(store_query_int(s, "SELECT COUNT(*) FROM playlist_covers", NULL, 0, &n, &err));
    assert_int_equal(n, 1); /* two playlists, one cover: stored once */
    unsigned char *bytes = NULL;
    size_t len = 0;
    char got_sha[65];
    OK(store_playlist_cover_get(s, u, "p2", "s2", &bytes, &len, got_sha, &err));
    assert_int_equal(len, sizeof jpeg);
    assert_memory_equal(bytes, jpeg, sizeof jpeg);
    assert_string_equal(got_sha, sha);
    free(bytes);
    assert_int_equal(store_playlist_cover_get(s, u, "p3", "s3", &bytes, &len, NULL, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_playlist_cover_get(s, u2, "p1", "s1", &bytes, &len, NULL, &err),
                     KT_ERR_NOT_FOUND);
    store_rows *r = NULL;
    OK(store_playlist_cover_urls(s, u, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 0), "http://img/ugc/1");
    assert_string_equal(store_rows_text(r, 0, 1), sha);
    store_rows_free(r);
    OK(store_playlist_cover_urls(s, u2, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);

    /* A new version back on the mosaic: no cover; the old one keeps its. */
    store_playlist_row back = {.spotify_id = "p1", .public_ = -1, .items_total = 1,
                               .snapshot_id = "s1b"};
    store_playlist_items pib = {"p1", "s1b", items, 1};
    OK(store_playlists_replace(s, u, &back, 1, &pib, 1, 200, NULL, NULL, &err));
    OK(store_playlist_cover_get(s, u, "p1", "s1b", &bytes, &len, NULL, &err));
    assert_null(bytes);
    OK(store_playlist_cover_get(s, u, "p1", "s1", &bytes, &len, NULL, &err));
    assert_non_null(bytes);
    free(bytes);

    /* A hash never stored, without bytes: refused, the whole write undone. */
    store_playlist_row bad = {.spotify_id = "p1", .name = "Renamed", .public_ = -1,
                              .items_total = 1, .snapshot_id = "s1c",
                              .cover_sha256 = "bb00000000000000000000000000000000000000000000000000000000000002",
                              .cover_url = "http://img/ugc/2"};
    store_playlist_items pic = {"p1", "s1c", items, 1};
    assert_int_equal(store_playlists_replace(s, u, &bad, 1, &pic, 1, 300, NULL, NULL, &err),
                     KT_ERR_INVALID);
    assert_int_equal(store_playlist_cover_get(s, u, "p1", "s1c", &bytes, &len, NULL, &err),
                     KT_ERR_NOT_FOUND);
    bad.cover_sha256 = "short";
    assert_int_equal(store_playlists_replace(s, u, &bad, 1, &pic, 1, 300, NULL, NULL, &err),
                     KT_ERR_INVALID);
}

/* The catalog references hold as foreign keys would on both back-ends
 * (issue 16: on PostgreSQL they are checked once per statement by triggers,
 * migration 17): a row naming a missing track, artist, album or show is
 * refused, on insert and on update; a catalog row something names cannot go
 * nor change its key; deleting a track or album takes its artist rows along
 * once nothing else names it. */
static int64_t qcount(store *s, const char *sql)
{
    kt_err err = {0};
    int64_t v = -1;
    OK(store_query_int(s, sql, NULL, 0, &v, &err));
    return v;
}

static void exec_ok(store *s, const char *sql)
{
    kt_err err = {0};
    if (store_exec(s, sql, NULL, 0, NULL, &err) != KT_OK)
        fail_msg("%s: %s", sql, err.msg);
}

static void exec_refused(store *s, const char *sql)
{
    kt_err err = {0};
    if (store_exec(s, sql, NULL, 0, NULL, &err) != KT_ERR_STORE)
        fail_msg("not refused: %s", sql);
}

static void test_catalog_references_hold(void **state)
{
    store *s = testdb_store(state);
    int64_t u = testdb_add_user(s, "alice");
    char sql[512];
    exec_ok(s, "INSERT INTO artists (id, name, updated_at) VALUES ('a1', 'A', 1), ('a2', 'B', 1)");
    exec_ok(s, "INSERT INTO albums (id, name, updated_at) VALUES ('al1', 'Al', 1)");
    exec_ok(s, "INSERT INTO shows (id, name, updated_at) VALUES ('sh1', 'Sh', 1)");
    exec_ok(s, "INSERT INTO tracks (uri, kind, album_id, updated_at) VALUES "
               "('spotify:track:t1', 'track', 'al1', 1), ('spotify:track:t2', 'track', NULL, 1)");
    exec_ok(s, "INSERT INTO tracks (uri, kind, show_id, updated_at) VALUES "
               "('spotify:episode:e1', 'episode', 'sh1', 1)");
    exec_ok(s, "INSERT INTO track_artists (track_uri, position, artist_id) VALUES "
               "('spotify:track:t1', 0, 'a1'), ('spotify:track:t2', 0, 'a1')");
    exec_ok(s, "INSERT INTO album_artists (album_id, position, artist_id) VALUES ('al1', 0, 'a2')");
    snprintf(sql, sizeof sql, "INSERT INTO saved_tracks (user_id, position, track_uri) VALUES "
             "(%lld, 0, 'spotify:track:t1')", (long long)u);
    exec_ok(s, sql);
    snprintf(sql, sizeof sql, "INSERT INTO playlists (user_id, spotify_id, updated_at) VALUES "
             "(%lld, 'p1', 1)", (long long)u);
    exec_ok(s, sql);
    exec_ok(s, "INSERT INTO playlist_items (playlist_id, position, item_uri) "
               "SELECT id, 0, NULL FROM playlists"); /* a null entry names nothing */

    /* New rows naming what is not there, and updates onto it. */
    static const char *const refused[] = {
        "INSERT INTO track_artists (track_uri, position, artist_id) VALUES ('spotify:track:no', 0, 'a1')",
        "INSERT INTO track_artists (track_uri, position, artist_id) VALUES ('spotify:track:t1', 1, 'no')",
        "UPDATE track_artists SET artist_id = 'no' WHERE track_uri = 'spotify:track:t2'",
        "INSERT INTO album_artists (album_id, position, artist_id) VALUES ('no', 0, 'a1')",
        "INSERT INTO album_artists (album_id, position, artist_id) VALUES ('al1', 1, 'no')",
        "INSERT INTO tracks (uri, kind, album_id, updated_at) VALUES ('spotify:track:t3', 'track', 'no', 1)",
        "INSERT INTO tracks (uri, kind, show_id, updated_at) VALUES ('spotify:episode:e3', 'episode', 'no', 1)",
        "UPDATE tracks SET album_id = 'no' WHERE uri = 'spotify:track:t2'",
        "INSERT INTO playlist_items (playlist_id, position, item_uri) "
        "SELECT id, 1, 'spotify:track:no' FROM playlists",
        /* What something names cannot go, nor change its key. */
        "DELETE FROM artists WHERE id = 'a1'",
        "UPDATE artists SET id = 'moved' WHERE id = 'a2'",
        "DELETE FROM tracks WHERE uri = 'spotify:track:t1'",
        "DELETE FROM albums WHERE id = 'al1'",
        "DELETE FROM shows WHERE id = 'sh1'",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        exec_refused(s, refused[i]);
    static const struct { const char *table, *col, *ref; } per_user[] = {
        {"saved_tracks", "track_uri", "spotify:track:no"},
        {"saved_albums", "album_id", "no"},
        {"followed_artists", "artist_id", "no"},
    };
    for (size_t i = 0; i < sizeof per_user / sizeof per_user[0]; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO %s (user_id, position, %s) VALUES (%lld, 1, '%s')",
                 per_user[i].table, per_user[i].col, (long long)u, per_user[i].ref);
        exec_refused(s, sql);
    }
    exec_ok(s, "UPDATE artists SET name = 'Renamed' WHERE id = 'a1'"); /* the key stays */

    /* Nothing else names t2: it goes with its artist row. Then t1, once no
     * longer saved, and the album once no track names it (its artist row
     * along). */
    exec_ok(s, "DELETE FROM tracks WHERE uri = 'spotify:track:t2'");
    exec_ok(s, "DELETE FROM saved_tracks");
    exec_ok(s, "DELETE FROM tracks WHERE uri = 'spotify:track:t1'");
    exec_ok(s, "DELETE FROM albums WHERE id = 'al1'");
    exec_ok(s, "DELETE FROM tracks WHERE uri = 'spotify:episode:e1'");
    exec_ok(s, "DELETE FROM shows WHERE id = 'sh1'");
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM track_artists"), 0);
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM album_artists"), 0);
    exec_ok(s, "DELETE FROM artists");
}

/* The owner keys hold as foreign keys would on both back-ends (issue 16:
 * on PostgreSQL saved_tracks.user_id and playlist_items.playlist_id are
 * checked once per statement by triggers, migration 18): a row naming a
 * missing user or playlist is refused, on insert and on update; an owner's
 * key cannot change under its rows; deleting a playlist takes its items,
 * deleting a user their Liked Songs and (through their playlists) items. */
static void test_owner_references_hold(void **state)
{
    store *s = testdb_store(state);
    int64_t u = testdb_add_user(s, "alice"), v = testdb_add_user(s, "bob");
    char sql[512];
    exec_ok(s, "INSERT INTO tracks (uri, kind, updated_at) VALUES ('spotify:track:t1', 'track', 1)");
    for (int i = 0; i < 2; i++) {
        int64_t who = i ? v : u;
        snprintf(sql, sizeof sql, "INSERT INTO saved_tracks (user_id, position, track_uri) VALUES "
                 "(%lld, 0, 'spotify:track:t1'), (%lld, 1, 'spotify:track:t1')",
                 (long long)who, (long long)who);
        exec_ok(s, sql);
        snprintf(sql, sizeof sql, "INSERT INTO playlists (user_id, spotify_id, updated_at) VALUES "
                 "(%lld, 'p%d', 1), (%lld, 'q%d', 1)", (long long)who, i, (long long)who, i);
        exec_ok(s, sql);
    }
    exec_ok(s, "INSERT INTO playlist_items (playlist_id, position, item_uri) "
               "SELECT id, 0, 'spotify:track:t1' FROM playlists");
    exec_ok(s, "INSERT INTO playlist_items (playlist_id, position, item_uri) "
               "SELECT id, 1, NULL FROM playlists");

    snprintf(sql, sizeof sql, "INSERT INTO saved_tracks (user_id, position, track_uri) VALUES "
             "(%lld, 2, 'spotify:track:t1'), (%lld, 0, 'spotify:track:t1')", (long long)u,
             (long long)(u + v + 1000));
    exec_refused(s, sql); /* one good row, one naming nobody: the statement fails */
    snprintf(sql, sizeof sql, "UPDATE saved_tracks SET user_id = %lld WHERE user_id = %lld",
             (long long)(u + v + 1000), (long long)u);
    exec_refused(s, sql);
    exec_refused(s, "INSERT INTO playlist_items (playlist_id, position, item_uri) "
                    "SELECT MAX(id) + 1000, 0, NULL FROM playlists");
    exec_refused(s, "UPDATE playlist_items SET playlist_id = playlist_id + 1000 WHERE position = 0");
    snprintf(sql, sizeof sql, "UPDATE users SET id = %lld WHERE id = %lld",
             (long long)(u + v + 1000), (long long)u);
    exec_refused(s, sql);
    exec_refused(s, "UPDATE playlists SET id = id + 1000 WHERE spotify_id = 'p0'");
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM saved_tracks"), 4);
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM playlist_items"), 8);

    exec_ok(s, "DELETE FROM playlists WHERE spotify_id = 'q0'");
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM playlist_items"), 6);
    snprintf(sql, sizeof sql, "DELETE FROM users WHERE id = %lld", (long long)u);
    exec_ok(s, sql);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM saved_tracks WHERE user_id = %lld",
             (long long)v);
    assert_int_equal(qcount(s, sql), 2);
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM saved_tracks"), 2);
    assert_int_equal(qcount(s, "SELECT COUNT(*) FROM playlist_items"), 4); /* bob's p1 and q1 */
}

#define BOTH(fn)                                                              \
    cmocka_unit_test_setup_teardown(fn, testdb_setup_sqlite, testdb_teardown), \
        cmocka_unit_test_setup_teardown(fn, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_catalog), BOTH(test_collections), BOTH(test_liked_reads),
        BOTH(test_playlists), BOTH(test_top_plays_runs),
        BOTH(test_plays_skip_imported), BOTH(test_catalog_skips_unchanged),
        BOTH(test_playlists_many), BOTH(test_playlist_covers), BOTH(test_catalog_references_hold),
        BOTH(test_owner_references_hold),
    };
    return cmocka_run_group_tests_name("store_library", tests, NULL, NULL);
}

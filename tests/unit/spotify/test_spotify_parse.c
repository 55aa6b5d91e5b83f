/* test_spotify_parse.c - unit tests of the Spotify object parsers on
 * crafted JSON: complete objects, nulls, missing fields, local files,
 * episodes, null playlist entries, unicode, huge numbers and wrong types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spotify/spotify_parse.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static const char *FULL_TRACK =
    "{\"type\":\"track\",\"id\":\"4iV5W9uYEdYUVa79Axb7Rh\",\"uri\":\"spotify:track:4iV5W9uYEdYUVa79Axb7Rh\","
    "\"name\":\"Never Gonna\",\"duration_ms\":213573,\"explicit\":true,\"is_local\":false,"
    "\"disc_number\":1,\"track_number\":7,\"external_ids\":{\"isrc\":\"GBARL9300135\"},"
    "\"popularity\":80,\"extra\":{\"deep\":[1,2,3]},"
    "\"album\":{\"id\":\"6N9PS4QXF1D0OWPk0Sxtb4\",\"uri\":\"spotify:album:6N9PS4QXF1D0OWPk0Sxtb4\","
    "\"name\":\"Whenever\",\"album_type\":\"album\",\"release_date\":\"1987-11\","
    "\"release_date_precision\":\"month\",\"total_tracks\":10,"
    "\"images\":[{\"url\":\"https://i.scdn.co/image/a\",\"width\":640},{\"url\":\"https://i.scdn.co/image/b\"}],"
    "\"artists\":[{\"id\":\"0gxyHStUsqpMadRV0Di1Qt\",\"uri\":\"spotify:artist:0gxyHStUsqpMadRV0Di1Qt\",\"name\":\"Rick\"}]},"
    "\"artists\":[{\"id\":\"0gxyHStUsqpMadRV0Di1Qt\",\"uri\":\"spotify:artist:0gxyHStUsqpMadRV0Di1Qt\",\"name\":\"Rick\"},"
    "{\"id\":\"1\",\"uri\":\"spotify:artist:1\",\"name\":\"Second\"}]}";

static void test_full_track(void **state)
{
    (void)state;
    json_t *j = parse(FULL_TRACK);
    spotify_track *t = NULL;
    assert_int_equal(spotify_parse_track(j, &t, NULL), KT_OK);
    assert_int_equal(t->type, SPOTIFY_ITEM_TRACK);
    assert_string_equal(t->id, "4iV5W9uYEdYUVa79Axb7Rh");
    assert_string_equal(t->uri, "spotify:track:4iV5W9uYEdYUVa79Axb7Rh");
    assert_string_equal(t->name, "Never Gonna");
    assert_int_equal(t->duration_ms, 213573);
    assert_int_equal(t->explicit_, 1);
    assert_int_equal(t->is_local, 0);
    assert_int_equal(t->disc_number, 1);
    assert_int_equal(t->track_number, 7);
    assert_string_equal(t->isrc, "GBARL9300135");
    assert_non_null(t->album);
    assert_string_equal(t->album->id, "6N9PS4QXF1D0OWPk0Sxtb4");
    assert_string_equal(t->album->name, "Whenever");
    assert_string_equal(t->album->album_type, "album");
    assert_string_equal(t->album->release_date, "1987-11");
    assert_string_equal(t->album->release_date_precision, "month");
    assert_int_equal(t->album->total_tracks, 10);
    assert_string_equal(t->album->image_url, "https://i.scdn.co/image/a");
    assert_int_equal(t->album->n_artists, 1);
    assert_string_equal(t->album->artists[0].name, "Rick");
    assert_int_equal(t->n_artists, 2);
    assert_string_equal(t->artists[1].id, "1");
    assert_string_equal(t->artists[1].uri, "spotify:artist:1");
    assert_string_equal(t->artists[1].name, "Second");
    assert_null(t->show_id);
    spotify_track_free(t);
    json_decref(j);
}

static void test_local_track(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":null,\"uri\":\"spotify:local:Artist:Album:Song:215\",\"name\":\"Song\","
                      "\"is_local\":true,\"duration_ms\":215000,\"external_ids\":{},"
                      "\"album\":{\"id\":null,\"name\":\"Album\",\"images\":[],\"release_date\":null},"
                      "\"artists\":[{\"id\":null,\"name\":\"Artist\",\"uri\":null}]}");
    spotify_track *t = NULL;
    assert_int_equal(spotify_parse_track(j, &t, NULL), KT_OK);
    assert_null(t->id);
    assert_int_equal(t->is_local, 1);
    assert_string_equal(t->uri, "spotify:local:Artist:Album:Song:215");
    assert_null(t->isrc);
    assert_null(t->album->id);
    assert_null(t->album->image_url);
    assert_null(t->album->release_date);
    assert_int_equal(t->album->total_tracks, -1);
    assert_int_equal(t->n_artists, 1);
    assert_null(t->artists[0].id);
    assert_string_equal(t->artists[0].name, "Artist");
    assert_int_equal(t->disc_number, -1);
    spotify_track_free(t);
    json_decref(j);
}

static void test_wrong_types_and_huge_numbers(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":5,\"name\":[\"x\"],\"uri\":{},\"duration_ms\":1e300,"
                      "\"explicit\":\"yes\",\"is_local\":1,\"disc_number\":9223372036854775807,"
                      "\"track_number\":-3.5,\"external_ids\":\"GB\",\"album\":\"nope\","
                      "\"artists\":[null,7,\"a\",{\"name\":\"ok\"}]}");
    spotify_track *t = NULL;
    assert_int_equal(spotify_parse_track(j, &t, NULL), KT_OK);
    assert_null(t->id);
    assert_null(t->name);
    assert_null(t->uri);
    assert_int_equal(t->duration_ms, -1);
    assert_int_equal(t->explicit_, 0);
    assert_int_equal(t->is_local, 0);
    assert_int_equal(t->disc_number, INT64_MAX);
    assert_int_equal(t->track_number, -1);
    assert_null(t->isrc);
    assert_null(t->album);
    assert_int_equal(t->n_artists, 1);
    assert_string_equal(t->artists[0].name, "ok");
    assert_null(t->artists[0].id);
    spotify_track_free(t);
    json_decref(j);

    kt_err err;
    json_t *arr = parse("[1,2]");
    t = (spotify_track *)0x1;
    assert_int_equal(spotify_parse_track(arr, &t, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "bad_spotify_object");
    assert_ptr_equal(t, (spotify_track *)0x1); /* out untouched on error */
    assert_int_equal(spotify_parse_track(NULL, &t, NULL), KT_ERR_INVALID);
    json_decref(arr);
}

static void test_empty_object(void **state)
{
    (void)state;
    json_t *j = parse("{}");
    spotify_track *t = NULL;
    assert_int_equal(spotify_parse_track(j, &t, NULL), KT_OK);
    assert_int_equal(t->type, SPOTIFY_ITEM_TRACK);
    assert_null(t->id);
    assert_null(t->album);
    assert_int_equal(t->n_artists, 0);
    assert_null(t->artists);
    spotify_track_free(t);
    spotify_track_free(NULL);
    json_decref(j);
}

static void test_unicode(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":\"x\",\"name\":\"\\u00c9t\\u00e9 \\ud83c\\udfb5 \\u4e2d\\u6587\","
                      "\"artists\":[{\"name\":\"Bj\\u00f6rk\"}]}");
    spotify_track *t = NULL;
    assert_int_equal(spotify_parse_track(j, &t, NULL), KT_OK);
    assert_string_equal(t->name, "\xc3\x89t\xc3\xa9 \xf0\x9f\x8e\xb5 \xe4\xb8\xad\xe6\x96\x87");
    assert_string_equal(t->artists[0].name, "Bj\xc3\xb6rk");
    spotify_track_free(t);
    json_decref(j);
}

static void test_playlist_items(void **state)
{
    (void)state;
    /* 2026 shape: the object under "item"; an episode. */
    json_t *j = parse("{\"added_at\":\"2024-05-01T12:34:56Z\",\"added_by\":{\"id\":\"alice\"},"
                      "\"is_local\":false,\"item\":{\"type\":\"episode\",\"id\":\"ep1\","
                      "\"uri\":\"spotify:episode:ep1\",\"name\":\"Ep\",\"duration_ms\":60000,"
                      "\"release_date\":\"2024-04-30\",\"show\":{\"id\":\"sh1\",\"uri\":\"spotify:show:sh1\","
                      "\"name\":\"Show\",\"publisher\":\"Pub\"}}}");
    spotify_playlist_item *it = NULL;
    assert_int_equal(spotify_parse_playlist_item(j, &it, NULL), KT_OK);
    assert_string_equal(it->added_at, "2024-05-01T12:34:56Z");
    assert_int_equal(it->added_at_ms, 1714566896000LL);
    assert_string_equal(it->added_by_id, "alice");
    assert_int_equal(it->is_local, 0);
    assert_non_null(it->item);
    assert_int_equal(it->item->type, SPOTIFY_ITEM_EPISODE);
    assert_string_equal(it->item->id, "ep1");
    assert_string_equal(it->item->show_id, "sh1");
    assert_string_equal(it->item->show_name, "Show");
    assert_string_equal(it->item->show_publisher, "Pub");
    assert_string_equal(it->item->release_date, "2024-04-30");
    assert_null(it->item->album);
    spotify_playlist_item_free(it);
    json_decref(j);

    /* Deprecated "track" key, local file. */
    j = parse("{\"added_at\":\"2020-01-01T00:00:00Z\",\"added_by\":null,\"is_local\":true,"
              "\"track\":{\"id\":null,\"uri\":\"spotify:local:a:b:c:1\",\"is_local\":true,\"name\":\"c\"}}");
    assert_int_equal(spotify_parse_playlist_item(j, &it, NULL), KT_OK);
    assert_null(it->added_by_id);
    assert_int_equal(it->is_local, 1);
    assert_string_equal(it->item->uri, "spotify:local:a:b:c:1");
    spotify_playlist_item_free(it);
    json_decref(j);

    /* A null entry: "item": null (and no fallback to a stale "track"). */
    j = parse("{\"added_at\":\"garbage\",\"item\":null,\"track\":{\"id\":\"old\"}}");
    assert_int_equal(spotify_parse_playlist_item(j, &it, NULL), KT_OK);
    assert_null(it->item);
    assert_int_equal(it->added_at_ms, -1);
    assert_string_equal(it->added_at, "garbage");
    spotify_playlist_item_free(it);
    json_decref(j);

    j = parse("{\"track\":null}");
    assert_int_equal(spotify_parse_playlist_item(j, &it, NULL), KT_OK);
    assert_null(it->item);
    assert_null(it->added_at);
    assert_int_equal(it->added_at_ms, -1);
    spotify_playlist_item_free(it);
    spotify_playlist_item_free(NULL);
    json_decref(j);
}

static void test_playlist(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":\"pl1\",\"uri\":\"spotify:playlist:pl1\",\"name\":\"Mix\","
                      "\"description\":null,\"owner\":{\"id\":\"bob\",\"display_name\":\"Bob\"},"
                      "\"public\":null,\"collaborative\":true,\"snapshot_id\":\"AAAB\","
                      "\"items\":{\"href\":\"x\",\"total\":123},\"tracks\":{\"total\":5},"
                      "\"images\":null}");
    spotify_playlist *p = NULL;
    assert_int_equal(spotify_parse_playlist(j, &p, NULL), KT_OK);
    assert_string_equal(p->id, "pl1");
    assert_string_equal(p->name, "Mix");
    assert_null(p->description);
    assert_string_equal(p->owner_id, "bob");
    assert_string_equal(p->owner_name, "Bob");
    assert_int_equal(p->public_, -1);
    assert_int_equal(p->collaborative, 1);
    assert_string_equal(p->snapshot_id, "AAAB");
    assert_int_equal(p->items_total, 123);
    assert_null(p->image_url);
    spotify_playlist_free(p);
    json_decref(j);

    j = parse("{\"id\":\"pl2\",\"public\":false,\"tracks\":{\"total\":5}}");
    assert_int_equal(spotify_parse_playlist(j, &p, NULL), KT_OK);
    assert_int_equal(p->public_, 0);
    assert_int_equal(p->items_total, 5);
    assert_null(p->owner_id);
    spotify_playlist_free(p);
    json_decref(j);

    j = parse("{\"id\":\"pl3\"}");
    assert_int_equal(spotify_parse_playlist(j, &p, NULL), KT_OK);
    assert_int_equal(p->items_total, -1);
    spotify_playlist_free(p);
    json_decref(j);

    /* An uploaded cover: one image of null size; the mosaic: sized images. */
    j = parse("{\"id\":\"pl4\",\"images\":[{\"url\":\"https://i.example/a\",\"height\":null,"
              "\"width\":null}]}");
    assert_int_equal(spotify_parse_playlist(j, &p, NULL), KT_OK);
    assert_int_equal(p->cover_custom, 1);
    assert_string_equal(p->image_url, "https://i.example/a");
    spotify_playlist_free(p);
    json_decref(j);
    j = parse("{\"id\":\"pl5\",\"images\":[{\"url\":\"https://m.example/a\",\"height\":640,"
              "\"width\":640},{\"url\":\"https://m.example/b\",\"height\":300,\"width\":300}]}");
    assert_int_equal(spotify_parse_playlist(j, &p, NULL), KT_OK);
    assert_int_equal(p->cover_custom, 0);
    spotify_playlist_free(p);
    spotify_playlist_free(NULL);
    json_decref(j);
}

static void test_saved(void **state)
{
    (void)state;
    json_t *j = parse("{\"added_at\":\"2021-02-03T04:05:06Z\",\"album\":{\"id\":\"al\",\"name\":\"A\","
                      "\"album_type\":\"single\",\"release_date\":\"2021\",\"release_date_precision\":\"year\"}}");
    spotify_saved *s = NULL;
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_ALBUM, &s, NULL), KT_OK);
    assert_int_equal(s->kind, SPOTIFY_SAVED_ALBUM);
    assert_int_equal(s->added_at_ms, 1612325106000LL);
    assert_string_equal(s->album->id, "al");
    assert_string_equal(s->album->album_type, "single");
    assert_null(s->track);
    assert_null(s->show);
    spotify_saved_free(s);

    /* The wrong kind finds no object. */
    kt_err err;
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_TRACK, &s, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "track"));
    json_decref(j);

    j = parse("{\"added_at\":\"2021-02-03T04:05:06Z\",\"track\":" "{\"id\":\"t\",\"name\":\"T\"}}");
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_TRACK, &s, NULL), KT_OK);
    assert_string_equal(s->track->id, "t");
    assert_int_equal(s->track->type, SPOTIFY_ITEM_TRACK);
    spotify_saved_free(s);
    json_decref(j);

    j = parse("{\"added_at\":\"2021-02-03T04:05:06Z\",\"show\":{\"id\":\"sh\",\"name\":\"S\","
              "\"publisher\":\"P\",\"total_episodes\":42,\"images\":[{\"url\":\"u\"}]}}");
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_SHOW, &s, NULL), KT_OK);
    assert_string_equal(s->show->publisher, "P");
    assert_int_equal(s->show->total_episodes, 42);
    assert_string_equal(s->show->image_url, "u");
    spotify_saved_free(s);
    json_decref(j);

    /* Saved episodes are episodes even without a "type". */
    j = parse("{\"added_at\":null,\"episode\":{\"id\":\"e\",\"show\":{\"id\":\"sh\"}}}");
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_EPISODE, &s, NULL), KT_OK);
    assert_null(s->added_at);
    assert_int_equal(s->added_at_ms, -1);
    assert_int_equal(s->track->type, SPOTIFY_ITEM_EPISODE);
    assert_string_equal(s->track->id, "e");
    spotify_saved_free(s);
    json_decref(j);

    j = parse("{\"added_at\":\"x\",\"track\":null}");
    assert_int_equal(spotify_parse_saved(j, SPOTIFY_SAVED_TRACK, &s, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_saved(j, (spotify_saved_kind)99, &s, NULL), KT_ERR_INVALID);
    spotify_saved_free(NULL);
    json_decref(j);
}

static void test_artist(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":\"ar\",\"uri\":\"spotify:artist:ar\",\"name\":\"N\","
                      "\"genres\":[\"rock\",null,3,\"indie pop\"],\"followers\":{\"href\":null,\"total\":1234},"
                      "\"popularity\":55,\"images\":[{\"url\":\"img\"}]}");
    spotify_artist *a = NULL;
    assert_int_equal(spotify_parse_artist(j, &a, NULL), KT_OK);
    assert_int_equal(a->n_genres, 2);
    assert_string_equal(a->genres[0], "rock");
    assert_string_equal(a->genres[1], "indie pop");
    assert_int_equal(a->followers, 1234);
    assert_int_equal(a->popularity, 55);
    assert_string_equal(a->image_url, "img");
    spotify_artist_free(a);
    json_decref(j);

    /* Development mode: no genres, followers or popularity. */
    j = parse("{\"id\":\"ar\",\"name\":\"N\",\"genres\":[]}");
    assert_int_equal(spotify_parse_artist(j, &a, NULL), KT_OK);
    assert_int_equal(a->n_genres, 0);
    assert_int_equal(a->followers, -1);
    assert_int_equal(a->popularity, -1);
    assert_null(a->image_url);
    spotify_artist_free(a);
    spotify_artist_free(NULL);
    json_decref(j);
}

static void test_play(void **state)
{
    (void)state;
    json_t *j = parse("{\"played_at\":\"2026-11-20T08:00:00.123Z\",\"context\":{\"uri\":\"spotify:playlist:p\"},"
                      "\"track\":{\"id\":\"t1\",\"name\":\"T\"}}");
    spotify_play *p = NULL;
    assert_int_equal(spotify_parse_play(j, &p, NULL), KT_OK);
    assert_string_equal(p->played_at, "2026-11-20T08:00:00.123Z");
    assert_int_equal(p->played_at_ms, 1795161600123LL);
    assert_string_equal(p->context_uri, "spotify:playlist:p");
    assert_string_equal(p->track->id, "t1");
    spotify_play_free(p);
    json_decref(j);

    j = parse("{\"played_at\":\"2026-11-20T08:00:00Z\",\"context\":null,\"track\":null}");
    assert_int_equal(spotify_parse_play(j, &p, NULL), KT_ERR_INVALID);
    spotify_play_free(NULL);
    json_decref(j);
}

static void test_album_direct(void **state)
{
    (void)state;
    json_t *j = parse("{\"id\":\"al\",\"total_tracks\":\"12\",\"images\":[null,{\"url\":\"second\"}]}");
    spotify_album *a = NULL;
    assert_int_equal(spotify_parse_album(j, &a, NULL), KT_OK);
    assert_int_equal(a->total_tracks, -1);
    assert_null(a->image_url); /* first image is null: no url */
    spotify_album_free(a);
    json_decref(j);
    j = parse("\"str\"");
    assert_int_equal(spotify_parse_album(j, &a, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_show(j, NULL, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_playlist(j, NULL, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_artist(j, NULL, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_play(j, NULL, NULL), KT_ERR_INVALID);
    assert_int_equal(spotify_parse_playlist_item(j, NULL, NULL), KT_ERR_INVALID);
    spotify_album_free(NULL);
    spotify_show_free(NULL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_track),
        cmocka_unit_test(test_local_track),
        cmocka_unit_test(test_wrong_types_and_huge_numbers),
        cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_playlist_items),
        cmocka_unit_test(test_playlist),
        cmocka_unit_test(test_saved),
        cmocka_unit_test(test_artist),
        cmocka_unit_test(test_play),
        cmocka_unit_test(test_album_direct),
    };
    return cmocka_run_group_tests_name("spotify_parse", tests, NULL, NULL);
}

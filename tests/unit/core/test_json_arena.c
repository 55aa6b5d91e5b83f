/* test_json_arena.c - parse trees in arenas (json_arena.h): values carved
 * from a region, freed by any thread, regions recycled rather than leaked,
 * subtrees that outlive their root, and malloc's pointers (json_dumps)
 * still free()-able. In a sanitizer build arenas are off by design and
 * every case but the first is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json_arena.h"
#include "core/jsonutil.h"

static int arenas_on;

/* A Spotify-like page of n tracks, well over the arena threshold. */
static char *page_text(int n, size_t *len)
{
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "{\"href\":\"h\",\"items\":["), KT_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_printf(&b,
                                    "%s{\"added_at\":\"2024-01-%02dT00:00:00Z\",\"track\":{"
                                    "\"id\":\"t%d\",\"name\":\"Song \\u00e9 %d\",\"duration_ms\":%d,"
                                    "\"explicit\":%s,\"popularity\":%.1f,\"artists\":[{\"id\":\"a%d\","
                                    "\"name\":\"Artist %d\"}],\"album\":{\"id\":\"al%d\",\"images\":[]}}}",
                                    i ? "," : "", i % 28 + 1, i, i, 1000 + i, i % 2 ? "true" : "false",
                                    i / 3.0, i % 7, i % 7, i % 11),
                         KT_OK);
    assert_int_equal(buf_printf(&b, "],\"total\":%d,\"next\":null}", n), KT_OK);
    return buf_detach(&b, len);
}

static json_t *parse_page(int n)
{
    size_t len;
    char *text = page_text(n, &len);
    json_t *j = NULL;
    kt_err err = {0};
    assert_true(len >= 16 * 1024);
    assert_int_equal(json_parse_bounded(text, len, 0, &j, &err), KT_OK);
    free(text);
    return j;
}

static int setup(void **state)
{
    (void)state;
    arenas_on = json_arena_install();
    return 0;
}

static void test_install_matches_build(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    assert_int_equal(arenas_on, 0);
#else
    assert_int_equal(arenas_on, 1);
#endif
    assert_int_equal(json_arena_enabled(), arenas_on);
}

/* The tree equals jansson's own parse, and its values live in a region. */
static void test_page_built_in_region(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    size_t len;
    char *text = page_text(300, &len);
    json_t *mine = NULL, *theirs = json_loadb(text, len, 0, NULL);
    kt_err err = {0};
    assert_int_equal(json_parse_bounded(text, len, 0, &mine, &err), KT_OK);
    assert_non_null(theirs);
    assert_true(json_equal(mine, theirs));
    assert_true(json_arena_owns(mine));
    const json_t *t = json_path(mine, "items.299.track");
    assert_true(json_arena_owns(t));
    assert_string_equal(json_str(t, "id"), "t299");
    assert_true(json_arena_owns(json_str(t, "name")));
    /* jansson's own parse ran outside any arena: malloc's */
    assert_false(json_arena_owns(theirs));
    assert_false(json_arena_owns(NULL));
    json_decref(theirs);
    json_decref(mine);
    free(text);
}

/* Small texts are not worth a region. */
static void test_small_text_is_malloced(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    json_t *j = NULL;
    kt_err err = {0};
    assert_int_equal(json_parse_bounded("{\"a\":[1,2,3]}", 13, 0, &j, &err), KT_OK);
    assert_false(json_arena_owns(j));
    json_decref(j);
}

/* Building and freeing many pages reuses a few regions instead of mapping
 * one per page. */
static void test_regions_are_recycled(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    size_t before = json_arena_regions();
    for (int i = 0; i < 200; i++)
        json_decref(parse_page(100));
    size_t after = json_arena_regions();
    assert_true(after <= before + 1);
    assert_true(after >= 1);
}

/* Values added after the parse (outside any arena) are malloc's; dumping
 * the mixed tree gives a string free() releases (jansson's contract). */
static void test_mixed_tree_and_dump(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    json_t *j = parse_page(120);
    json_t *extra = json_string("added later");
    assert_false(json_arena_owns(extra));
    assert_int_equal(json_object_set_new(j, "note", extra), 0);
    /* replacing a region value frees it into the region's count */
    assert_int_equal(json_object_set_new(j, "href", json_integer(7)), 0);
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(dump);
    assert_false(json_arena_owns(dump));
    assert_non_null(strstr(dump, "\"note\":\"added later\""));
    assert_non_null(strstr(dump, "\"href\":7"));
    free(dump);
    json_decref(j);
}

/* A subtree kept after its root is freed stays readable: the region is
 * recycled only when the last of its values goes. */
static void test_subtree_outlives_root(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    json_t *j = parse_page(150);
    json_t *track = json_incref((json_t *)json_path(j, "items.42.track"));
    json_decref(j);
    /* other pages come and go meanwhile, in regions of their own */
    for (int i = 0; i < 20; i++)
        json_decref(parse_page(100));
    assert_string_equal(json_str(track, "id"), "t42");
    assert_string_equal(json_path_str(track, "artists.0.name"), "Artist 0");
    assert_int_equal(json_int(track, "duration_ms", 0), 1042);
    json_decref(track);
}

static void *free_tree(void *arg)
{
    json_decref(arg);
    return NULL;
}

/* Trees built on one thread are freed on others, several at once; the
 * regions still come back (a lost count would map a new one every time). */
static void test_freed_by_other_threads(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    size_t before = json_arena_regions();
    for (int round = 0; round < 20; round++) {
        pthread_t t[4];
        json_t *trees[4];
        for (int i = 0; i < 4; i++)
            trees[i] = parse_page(100);
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&t[i], NULL, free_tree, trees[i]), 0);
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    /* four trees alive at a time: at most four more regions than before */
    assert_true(json_arena_regions() <= before + 4);
}

/* A failed parse frees what it built; nothing stays counted. */
static void test_failed_parse_releases_region(void **state)
{
    (void)state;
    if (!arenas_on)
        skip();
    size_t len;
    char *text = page_text(120, &len);
    text[len - 2] = '!'; /* breaks the closing brace */
    size_t before = json_arena_regions();
    for (int i = 0; i < 50; i++) {
        json_t *j = NULL;
        kt_err err = {0};
        assert_int_equal(json_parse_bounded(text, len, 0, &j, &err), KT_ERR_INVALID);
        assert_null(j);
    }
    assert_true(json_arena_regions() <= before + 1);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_matches_build),
        cmocka_unit_test(test_page_built_in_region),
        cmocka_unit_test(test_small_text_is_malloced),
        cmocka_unit_test(test_regions_are_recycled),
        cmocka_unit_test(test_mixed_tree_and_dump),
        cmocka_unit_test(test_subtree_outlives_root),
        cmocka_unit_test(test_freed_by_other_threads),
        cmocka_unit_test(test_failed_parse_releases_region),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

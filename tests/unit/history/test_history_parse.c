/* test_history_parse.c - cmocka tests for src/services/history_parse.h:
 * each export format, the splitter on malformed and truncated input, huge
 * strings and records, wrong types, and the synthetic keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "services/history_parse.h"

typedef struct mem {
    const char *s;
    size_t len, pos, chunk;
} mem;

static long mem_read(void *ctx, char *buf, size_t max)
{
    mem *m = ctx;
    size_t n = m->len - m->pos;
    if (n > m->chunk)
        n = m->chunk;
    if (n > max)
        n = max;
    memcpy(buf, m->s + m->pos, n);
    m->pos += n;
    return (long)n;
}

/* Splits s (read `chunk` bytes at a time); returns the element count, or
 * -1 with *err set. */
static long split_all(const char *s, size_t len, size_t chunk, kt_err *err)
{
    mem m = {s, len, 0, chunk};
    history_split *h = history_split_new(mem_read, &m, NULL, NULL);
    long n = 0;
    assert_non_null(h);
    for (;;) {
        const char *e;
        size_t l;
        if (history_split_next(h, &e, &l, err) != KT_OK) {
            n = -1;
            break;
        }
        if (!e)
            break;
        n++;
    }
    history_split_free(h);
    return n;
}

static void test_split_shapes(void **state)
{
    (void)state;
    kt_err err = {0};
    const char *ok = "\xEF\xBB\xBF [ {\"a\":\"x]}\\\"\"} , [1,[2]] ,\"s\", 12 , true,null ]\n";
    for (size_t chunk = 1; chunk < 8; chunk++)
        assert_int_equal(split_all(ok, strlen(ok), chunk, &err), 6);
    assert_int_equal(split_all("[]", 2, 1, &err), 0);
    assert_int_equal(split_all("", 0, 4, &err), -1);
    assert_string_equal(err.code, "not_array");
    assert_int_equal(split_all("{\"ts\":1}", 8, 4, &err), -1);
    assert_string_equal(err.code, "not_array");
    const char *trunc = "[{\"a\":1},{\"a\":";
    assert_int_equal(split_all(trunc, strlen(trunc), 3, &err), -1);
    assert_string_equal(err.code, "truncated");
    assert_non_null(strstr(err.msg, "record 2 "));
    assert_int_equal(split_all("[{\"a\":1}", 8, 3, &err), -1);
    assert_string_equal(err.code, "truncated");
    assert_int_equal(split_all("[{\"a\":1}}]", 10, 3, &err), -1);
    assert_string_equal(err.code, "malformed");
    assert_int_equal(split_all("[{\"a\":1} {\"a\":2}]", 17, 3, &err), -1);
    assert_string_equal(err.code, "malformed");
    assert_int_equal(split_all("[1,]", 4, 3, &err), -1);
    assert_string_equal(err.code, "malformed");
    assert_int_equal(split_all("[1] x", 5, 3, &err), -1);
    assert_string_equal(err.code, "malformed");
}

static void test_split_huge_record(void **state)
{
    (void)state;
    kt_err err = {0};
    size_t n = HISTORY_MAX_RECORD + 100;
    char *s = malloc(n + 16);
    assert_non_null(s);
    memcpy(s, "[{\"a\":\"", 7);
    memset(s + 7, 'x', n - 7);
    memcpy(s + n, "\"}]", 4);
    assert_int_equal(split_all(s, n + 3, 4096, &err), -1);
    assert_int_equal(err.status, KT_ERR_TOO_LARGE);
    assert_string_equal(err.code, "record_too_large");
    free(s);
}

static kt_status parse(const char *s, history_record *r, kt_err *err)
{
    return history_record_parse(s, strlen(s), r, err);
}

static void test_extended(void **state)
{
    (void)state;
    history_record r;
    kt_err err = {0};
    assert_int_equal(parse("{\"ts\":\"2020-04-11T00:27:53Z\",\"ms_played\":174674,\"ip_addr\":\"x\","
                           "\"master_metadata_track_name\":\"Jack\",\"master_metadata_album_artist_name\":"
                           "\"Alex\",\"master_metadata_album_album_name\":\"LP\",\"spotify_track_uri\":"
                           "\"spotify:track:74cksX4vgcm0cHKaV7XE2L\",\"episode_name\":null,"
                           "\"shuffle\":true,\"skipped\":null,\"extra\":{\"nested\":[1]}}",
                           &r, &err),
                     KT_OK);
    assert_int_equal(r.format, HISTORY_FMT_EXTENDED);
    assert_int_equal(r.kind, HISTORY_TRACK);
    assert_int_equal(r.ts_ms, 1586564873000LL);
    assert_int_equal(r.ms_played, 174674);
    assert_string_equal(r.uri, "spotify:track:74cksX4vgcm0cHKaV7XE2L");
    assert_string_equal(r.track_name, "Jack");
    assert_string_equal(r.artist_name, "Alex");
    assert_string_equal(r.album_name, "LP");
    assert_int_equal(r.shuffle, 1);
    assert_int_equal(r.skipped, -1);
    assert_int_equal(r.synthetic, 0);
    history_record_clear(&r);

    assert_int_equal(parse("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":5,\"spotify_track_uri\":null,"
                           "\"spotify_episode_uri\":\"spotify:episode:abc\",\"episode_name\":\"E\","
                           "\"episode_show_name\":\"S\"}", &r, &err), KT_OK);
    assert_int_equal(r.kind, HISTORY_EPISODE);
    assert_string_equal(r.uri, "spotify:episode:abc");
    assert_string_equal(r.track_name, "E");
    assert_string_equal(r.artist_name, "S");
    history_record_clear(&r);

    assert_int_equal(parse("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":5,\"audiobook_uri\":\"spotify:audiobook:x\"}",
                           &r, &err), KT_OK);
    assert_int_equal(r.kind, HISTORY_AUDIOBOOK);
    assert_null(r.uri);
    history_record_clear(&r);
    assert_int_equal(parse("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":5}", &r, &err), KT_OK);
    assert_int_equal(r.kind, HISTORY_NONE);
    history_record_clear(&r);
}

static void test_account_and_synthetic(void **state)
{
    (void)state;
    history_record r, r2;
    kt_err err = {0};
    char want[HISTORY_URI_MAX];
    assert_int_equal(parse("{\"endTime\":\"2023-01-31 22:07\",\"artistName\":\"A\",\"trackName\":\"T\","
                           "\"msPlayed\":200000}", &r, &err), KT_OK);
    assert_int_equal(r.format, HISTORY_FMT_ACCOUNT);
    assert_int_equal(r.ts_ms, 1675202820000LL);
    assert_int_equal(r.synthetic, 1);
    history_synthetic_uri(HISTORY_TRACK, "A", "T", want);
    assert_string_equal(r.uri, want);
    assert_int_equal(strncmp(want, "keeptrack:unresolved:track:", 27), 0);
    assert_int_equal(strlen(want), 27 + 32);
    /* Same song, same key; another song, another key; a copy re-points. */
    assert_int_equal(parse("{\"endTime\":\"2023-02-01 10:00\",\"artistName\":\"A\",\"trackName\":\"T\","
                           "\"msPlayed\":1}", &r2, &err), KT_OK);
    assert_string_equal(r2.uri, r.uri);
    history_record_clear(&r2);
    history_synthetic_uri(HISTORY_TRACK, "A", "T2", want);
    assert_string_not_equal(want, r.uri);
    history_synthetic_uri(HISTORY_TRACK, "AT", "", want);
    assert_string_not_equal(want, r.uri);
    history_record_clear(&r);
    assert_int_equal(parse("{\"endTime\":\"2023-01-31 22:09\",\"podcastName\":\"P\",\"episodeName\":\"E\","
                           "\"msPlayed\":5}", &r, &err), KT_OK);
    assert_int_equal(r.kind, HISTORY_EPISODE);
    assert_int_equal(strncmp(r.uri, "keeptrack:unresolved:episode:", 29), 0);
    history_record_clear(&r);
}

static void expect_reject(const char *s, const char *code)
{
    history_record r;
    kt_err err = {0};
    memset(&r, 0x5a, sizeof r);
    assert_int_not_equal(parse(s, &r, &err), KT_OK);
    assert_string_equal(err.code, code);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(r.ts_ms, 0x5a5a5a5a5a5a5a5aLL); /* untouched on error */
}

static void test_rejections(void **state)
{
    (void)state;
    expect_reject("[1]", "not_object");
    expect_reject("\"s\"", "not_object");
    expect_reject("{\"a\":1}", "unknown_format");
    expect_reject("{\"ts\":1,\"ms_played\":1}", "bad_ts");
    expect_reject("{\"ts\":\"2023-02-29T00:00:00Z\",\"ms_played\":1}", "bad_ts");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":-1}", "bad_ms_played");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1.5}", "bad_ms_played");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":\"5\"}", "bad_ms_played");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"spotify_track_uri\":\"spotify:album:x\"}", "bad_uri");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"spotify_track_uri\":5}", "bad_field");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"shuffle\":\"yes\"}", "bad_field");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"master_metadata_track_name\":[\"x\"]}", "bad_field");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"master_metadata_track_name\":\"a\\u0000b\"}", "bad_field");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1}", "bad_field");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":99999999999999999999999}", "malformed");
    expect_reject("{\"ts\":\"2020-01-01T00:00:00Z\",}", "malformed");
    expect_reject("{\"ts\":\"\xff\xfe\",\"ms_played\":1}", "malformed");
    char big[HISTORY_MAX_NAME + 200];
    int n = snprintf(big, sizeof big, "{\"ts\":\"2020-01-01T00:00:00Z\",\"ms_played\":1,\"trackName\":0,"
                                      "\"master_metadata_track_name\":\"");
    memset(big + n, 'y', HISTORY_MAX_NAME + 1);
    strcpy(big + n + HISTORY_MAX_NAME + 1, "\"}");
    expect_reject(big, "name_too_long");
}

int main(void)
{
    if (crypto_init() != KT_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_shapes),    cmocka_unit_test(test_split_huge_record),
        cmocka_unit_test(test_extended),        cmocka_unit_test(test_account_and_synthetic),
        cmocka_unit_test(test_rejections),
    };
    return cmocka_run_group_tests_name("history_parse", tests, NULL, NULL);
}

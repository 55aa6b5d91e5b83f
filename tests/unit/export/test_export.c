/* test_export.c - the CSV writers of export.c and the parsers of
 * restore_parse.c: exact header, RFC 4180 quoting round trips through the
 * parser, hostile rows (named file and line), JSON export format checks,
 * the normalized form round trip, safe unique file names, zip members, the
 * size limit across every file of one upload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include <zip.h>

#include "services/export.h"
#include "services/restore_parse.h"

#define T1 "spotify:track:4iV5W9uYEdYUVa79Axb7Rh"
#define T2 "spotify:track:1301WleyT98MSxVHPZCA6M"

static void test_header_is_exportify(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(export_csv_header(&b), KT_OK);
    assert_string_equal(b.data,
                        "Track URI,Track Name,Artist URI(s),Artist Name(s),Album URI,Album Name,"
                        "Album Artist URI(s),Album Artist Name(s),Album Release Date,"
                        "Album Image URL,Disc Number,Track Number,Track Duration (ms),"
                        "Track Preview URL,Explicit,Popularity,ISRC,Added By,Added At\r\n");
    buf_free(&b);
}

static void test_field_quoting(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        {"plain", "plain"},       {"a,b", "\"a,b\""},       {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""}, {"cr\r", "\"cr\r\""}, {" lead", "\" lead\""},
        {"", ""},                 {"Мумий Тролль", "Мумий Тролль"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 1 << 16);
        assert_int_equal(export_csv_field(&b, cases[i].in), KT_OK);
        assert_string_equal(b.len ? b.data : "", cases[i].out);
        buf_free(&b);
    }
}

/* Rows written by export_csv_row parse back to the same URIs and times,
 * however hostile the other cells. */
static void test_row_round_trip(void **state)
{
    (void)state;
    buf b;
    restore_input *in = restore_input_new();
    kt_err err = {0};
    buf_init(&b, 1 << 20);
    assert_int_equal(export_csv_header(&b), KT_OK);
    export_csv_track t = {.uri = T1, .name = "A, \"quoted\"\r\nname", .artist_names = "x,y",
                          .disc_number = 1, .track_number = 2, .duration_ms = 3000,
                          .explicit_ = 1, .added_by = "alice", .added_at = 1714566896000};
    assert_int_equal(export_csv_row(&b, &t), KT_OK);
    export_csv_track t2 = {.uri = NULL, .name = "gone", .disc_number = -1, .track_number = -1,
                           .duration_ms = -1, .explicit_ = -1, .added_at = -1};
    assert_int_equal(export_csv_row(&b, &t2), KT_OK);
    export_csv_track t3 = {.uri = T2, .disc_number = -1, .track_number = -1, .duration_ms = -1,
                           .explicit_ = 0, .added_at = 0};
    assert_int_equal(export_csv_row(&b, &t3), KT_OK);
    assert_int_equal(restore_parse_csv("dir/Road Trip.csv", b.data, b.len, in, &err), KT_OK);
    assert_int_equal(in->n_playlists, 1);
    assert_string_equal(in->playlists[0].name, "Road Trip");
    assert_int_equal(in->playlists[0].n, 3);
    assert_string_equal(in->playlists[0].items[0].uri, T1);
    assert_int_equal(in->playlists[0].items[0].added_at, 1714566896000);
    assert_null(in->playlists[0].items[1].uri);
    assert_int_equal(in->playlists[0].items[1].added_at, -1);
    assert_string_equal(in->playlists[0].items[2].uri, T2);
    assert_int_equal(in->playlists[0].items[2].added_at, 0);
    /* the row's cells: explicit, added by, added at as Exportify writes them */
    assert_non_null(strstr(b.data, ",3000,,true,,,spotify:user:alice,"));
    assert_non_null(strstr(b.data, "spotify:user:alice,2024-05-01T12:34:56"));
    buf_free(&b);
    restore_input_free(in);
}

static void expect_error(const char *name, const char *csv, const char *needle)
{
    restore_input *in = restore_input_new();
    kt_err err = {0};
    assert_int_not_equal(restore_parse_csv(name, csv, strlen(csv), in, &err), KT_OK);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' lacks '%s'", err.msg, needle);
    assert_int_equal(in->n_playlists, 0);
    assert_int_equal(in->has_liked, 0);
    restore_input_free(in);
}

static void test_hostile_rows(void **state)
{
    (void)state;
    expect_error("a.csv", "Track URI,N\r\n" T1 ",\"open\r\n", "a.csv line 2: a quoted field never closes");
    expect_error("b.csv", "Track URI,N\n" T1 ",x\"y\n", "b.csv line 2: a quote inside an unquoted field");
    expect_error("c.csv", "Track URI,N\n" T1 ",\"x\"y\n", "c.csv line 2: text after a closing quote");
    expect_error("d.csv", "Track URI,N\n" T1 ",\"multi\nline\"\n" T2 "\n", "d.csv line 4: 1 fields where the header has 2");
    expect_error("e.csv", "Track URI\nspotify:album:abc\n", "e.csv line 2: Track URI 'spotify:album:abc'");
    expect_error("f.csv", "Name\nx\n", "f.csv line 1: no \"Track URI\" column");
    expect_error("g.csv", "", "g.csv: the file is empty");
    expect_error("h.csv", "Track URI,Added At\n" T1 ",yesterday\n", "h.csv line 2: Added At 'yesterday'");
    char wide[RESTORE_MAX_CSV_FIELDS * 2 + 32] = "Track URI";
    for (int i = 0; i < RESTORE_MAX_CSV_FIELDS; i++)
        strcat(wide, ",");
    expect_error("w.csv", wide, "more than 64 columns");
}

static void test_bom_crlf_blank_lines_liked(void **state)
{
    (void)state;
    const char *csv = "\xEF\xBB\xBF" "Added At,Track URI\r\n2024-01-02T00:00:00Z," T1 "\r\n\r\n,"
                      T2 "\r\n,spotify:local:a:b:c:1";
    restore_input *in = restore_input_new();
    kt_err err = {0};
    assert_int_equal(restore_parse_csv("Liked_Songs.csv", csv, strlen(csv), in, &err), KT_OK);
    assert_int_equal(in->has_liked, 1);
    assert_int_equal(in->n_playlists, 0);
    assert_int_equal(in->n_liked, 3);
    assert_string_equal(in->liked[0].uri, T1);
    assert_string_equal(in->liked[2].uri, "spotify:local:a:b:c:1");
    /* a second Liked Songs file is refused */
    assert_int_equal(restore_parse_csv("liked_songs.csv", csv, strlen(csv), in, &err), KT_ERR_INVALID);
    restore_input_free(in);
}

static void test_json_export(void **state)
{
    (void)state;
    const char *ok = "{\"format\":\"keeptrack-export\",\"format_version\":1,\"liked_songs\":"
                     "[{\"added_at\":\"2024-01-01T00:00:00Z\",\"track\":{\"uri\":\"" T1 "\"}}],"
                     "\"playlists\":[{\"id\":\"P1\",\"name\":\"Mix\",\"items\":[{\"track\":null},"
                     "{\"track\":{\"uri\":\"" T2 "\"}}]},{\"name\":\"Theirs\",\"items\":null}]}";
    restore_input *in = restore_input_new(), *back = restore_input_new();
    kt_err err = {0};
    assert_int_equal(restore_parse_file("x.json", ok, strlen(ok), in, &err), KT_OK);
    assert_int_equal(in->n_liked, 1);
    assert_int_equal(in->n_playlists, 2);
    assert_string_equal(in->playlists[0].id, "P1");
    assert_null(in->playlists[0].items[0].uri);
    assert_int_equal(in->playlists[1].items_known, 0);
    char *text = restore_input_to_json(in);
    assert_non_null(text);
    assert_int_equal(restore_parse_json("again", text, strlen(text), back, &err), KT_OK);
    assert_int_equal(back->n_playlists, 2);
    assert_string_equal(back->playlists[0].items[1].uri, T2);
    assert_int_equal(back->liked[0].added_at, in->liked[0].added_at);
    assert_int_equal(back->playlists[1].items_known, 0);
    free(text);
    restore_input_free(back);
    restore_input_free(in);

    static const struct { const char *json, *needle; } bad[] = {
        {"{\"format\":\"other\"}", "not a keeptrack export"},
        {"{\"format\":\"keeptrack-export\",\"format_version\":2}", "format_version 2"},
        {"{\"format\":\"keeptrack-export\",\"format_version\":1,\"playlists\":[{\"items\":[]}]}",
         "playlists[0] has no name"},
        {"{\"format\":\"keeptrack-export\",\"format_version\":1,\"playlists\":[{\"name\":\"a\","
         "\"items\":[{\"track\":{\"uri\":\"javascript:x\"}}]}]}", "playlists[0].items[0].track.uri"},
        {"{\"format\":", "x.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        restore_input *b = restore_input_new();
        kt_err e = {0};
        assert_int_equal(restore_parse_file("x.json", bad[i].json, strlen(bad[i].json), b, &e),
                         KT_ERR_INVALID);
        if (!strstr(e.msg, bad[i].needle))
            fail_msg("error '%s' lacks '%s'", e.msg, bad[i].needle);
        assert_int_equal(b->n_playlists, 0);
        restore_input_free(b);
    }
}

static void test_not_a_zip(void **state)
{
    (void)state;
    restore_input *in = restore_input_new();
    kt_err err = {0};
    const char trunc[] = "PK\x03\x04\x14\x00\x00\x00\x08\x00";
    assert_int_equal(restore_parse_file("t.zip", trunc, sizeof trunc - 1, in, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "t.zip: not a readable zip archive"));
    assert_int_equal(restore_parse_file("n.bin", "a\0b", 3, in, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "n.bin"));
    restore_input_free(in);
}

/* A zip holding one member (name, text), read back into a malloc'd buffer. */
static char *make_zip(const char *member, const char *text, size_t *len)
{
    char path[] = "/tmp/kt-test-zip-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    zip_source_t *src = zip_source_buffer(z, text, strlen(text), 0);
    assert_non_null(src);
    assert_true(zip_file_add(z, member, src, ZIP_FL_ENC_UTF_8) >= 0);
    assert_int_equal(zip_close(z), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *bytes = malloc(1 << 16);
    assert_non_null(bytes);
    *len = fread(bytes, 1, 1 << 16, f);
    assert_true(*len > 0);
    fclose(f);
    unlink(path);
    return bytes;
}

/* RESTORE_MAX_TOTAL_BYTES holds for the whole upload (every part of a
 * multipart body, zips counted inflated), not for each file alone. */
static void test_upload_total_limit(void **state)
{
    (void)state;
    const char *csv = "Track URI\n" T1 "\n";
    size_t zlen = 0;
    char *zip = make_zip("Road Trip.csv", csv, &zlen);
    restore_input *in = restore_input_new();
    kt_err err = {0};
    assert_int_equal(restore_parse_file("Mix.csv", csv, strlen(csv), in, &err), KT_OK);
    assert_int_equal(in->parsed_bytes, strlen(csv));
    assert_int_equal(restore_parse_file("a.zip", zip, zlen, in, &err), KT_OK);
    assert_int_equal(in->parsed_bytes, 2 * strlen(csv)); /* the member, inflated */
    assert_int_equal(in->n_playlists, 2);
    /* As if earlier parts had used the budget up to one byte short of a file. */
    in->parsed_bytes = RESTORE_MAX_TOTAL_BYTES - strlen(csv) + 1;
    assert_int_equal(restore_parse_file("More.csv", csv, strlen(csv), in, &err), KT_ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "More.csv"));
    assert_int_equal(restore_parse_file("b.zip", zip, zlen, in, &err), KT_ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "b.zip:Road Trip.csv"));
    assert_int_equal(in->n_playlists, 2); /* nothing added by the refused files */
    in->parsed_bytes = RESTORE_MAX_TOTAL_BYTES - strlen(csv);
    assert_int_equal(restore_parse_file("Last.csv", csv, strlen(csv), in, &err), KT_OK);
    assert_int_equal(in->parsed_bytes, RESTORE_MAX_TOTAL_BYTES);
    restore_input_free(in);
    free(zip);
}

static void test_file_names(void **state)
{
    (void)state;
    strset *used = strset_new();
    char out[128];
    kt_err err = {0};
    assert_int_equal(export_csv_file_name("Road Trip", used, out, &err), KT_OK);
    assert_string_equal(out, "Road Trip.csv");
    assert_int_equal(export_csv_file_name("road trip", used, out, &err), KT_OK);
    assert_string_equal(out, "road trip (2).csv");
    assert_int_equal(export_csv_file_name("a/b\\c:d*?\"<>|\x01", used, out, &err), KT_OK);
    assert_string_equal(out, "a_b_c_d_______.csv");
    assert_int_equal(export_csv_file_name("../..", used, out, &err), KT_OK);
    assert_string_equal(out, "_...csv");
    assert_int_equal(export_csv_file_name("Liked_Songs", used, out, &err), KT_OK);
    assert_string_equal(out, "Liked_Songs (2).csv");
    assert_int_equal(export_csv_file_name("", used, out, &err), KT_OK);
    assert_string_equal(out, "playlist.csv");
    char longname[400];
    memset(longname, 0, sizeof longname);
    for (int i = 0; i < 60; i++)
        strcat(longname, "Ж"); /* 2 bytes each: the cut must not split one */
    assert_int_equal(export_csv_file_name(longname, used, out, &err), KT_OK);
    assert_int_equal(strlen(out), 100 + 4);
    strset_free(used);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_is_exportify),
        cmocka_unit_test(test_field_quoting),
        cmocka_unit_test(test_row_round_trip),
        cmocka_unit_test(test_hostile_rows),
        cmocka_unit_test(test_bom_crlf_blank_lines_liked),
        cmocka_unit_test(test_json_export),
        cmocka_unit_test(test_not_a_zip),
        cmocka_unit_test(test_upload_total_limit),
        cmocka_unit_test(test_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

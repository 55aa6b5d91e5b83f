/* test_multipart.c - the multipart/form-data splitter (src/http/multipart.h)
 * with exact data: parts found in order with their bytes (binary, CRLF and
 * NUL inside), boundary quoted or not, preamble and form fields skipped,
 * names cleaned (the cleaner's own cases are in test_http_parse.c), and each
 * malformed shape refused with its code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/multipart.h"

static kt_status split(const char *body, size_t len, const char *ctype, http_parts *out,
                       kt_err *err)
{
    memset(err, 0, sizeof *err);
    return http_multipart_split(body, len, ctype, out, err);
}

static void test_two_files_and_a_field(void **state)
{
    (void)state;
    static const char body[] = "preamble\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
                               "filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n"
                               "[1,2]\r\n"
                               "--XyZ\r\ncontent-disposition: form-data; filename=C:\\dir\\b.zip\r\n\r\n"
                               "PK\x03\x04\0\r\n--Xy\r\n"
                               "\r\n--XyZ--\r\n";
    http_parts p;
    kt_err err;
    assert_int_equal(split(body, sizeof body - 1, "multipart/form-data; boundary=\"XyZ\"", &p, &err),
                     KT_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.part[0].name, "a.json");
    assert_int_equal(p.part[0].len, 5);
    assert_memory_equal(p.part[0].data, "[1,2]", 5);
    assert_string_equal(p.part[1].name, "b.zip");
    assert_int_equal(p.part[1].len, 13);
    assert_memory_equal(p.part[1].data, "PK\x03\x04\0\r\n--Xy\r\n", 13);
}

static void test_body_starting_with_the_delimiter(void **state)
{
    (void)state;
    static const char body[] = "--b\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\n\r\n--b--";
    http_parts p;
    kt_err err;
    assert_int_equal(split(body, sizeof body - 1, "multipart/form-data; boundary=b", &p, &err), KT_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.part[0].name, "x");
    assert_int_equal(p.part[0].len, 0);
}

static void expect_refused(const char *body, const char *ctype, const char *code)
{
    http_parts p;
    kt_err err;
    assert_int_equal(split(body, strlen(body), ctype, &p, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, code);
    assert_true(err.msg[0] != '\0');
}

static void test_malformed_refused(void **state)
{
    (void)state;
    const char *ct = "multipart/form-data; boundary=b";
    expect_refused("--b\r\n\r\nx\r\n--b--", "multipart/form-data", "bad_multipart");
    expect_refused("--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=", "bad_multipart");
    expect_refused("--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=\"b", "bad_multipart");
    expect_refused("--b\r\nContent-Disposition: form-data; filename=\"a\"\r\n", ct, "bad_multipart");
    expect_refused("--b\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\ndata", ct,
                   "bad_multipart");
    expect_refused("--b\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nd\r\n--b", ct,
                   "bad_multipart");
    expect_refused("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nd\r\n--b--", ct,
                   "no_file");
    expect_refused("", ct, "bad_multipart");
    char boundary[120] = "multipart/form-data; boundary=";
    memset(boundary + strlen(boundary), 'q', 71);
    expect_refused("--q", boundary, "bad_multipart");
}

static void test_too_many_files(void **state)
{
    (void)state;
    static char body[HTTP_MULTIPART_MAX_PARTS * 80 + 200];
    size_t n = 0;
    for (int i = 0; i <= HTTP_MULTIPART_MAX_PARTS; i++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "--b\r\nContent-Disposition: form-data; filename=\"f%d\"\r\n\r\nx\r\n", i);
    snprintf(body + n, sizeof body - n, "--b--");
    expect_refused(body, "multipart/form-data; boundary=b", "too_many_files");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_files_and_a_field), cmocka_unit_test(test_body_starting_with_the_delimiter),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_too_many_files),
    };
    return cmocka_run_group_tests_name("http_multipart", tests, NULL, NULL);
}

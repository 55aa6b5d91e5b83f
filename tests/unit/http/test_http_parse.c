/* test_http_parse.c - unit tests for the HTTP edge's pure parts: the router
 * (matching, specificity, 405 Allow lists, traversal refusal, table
 * validation), the Cookie header parser, the cross-site check and the
 * cleaning of uploaded file names (multipart.h). The
 * server itself is driven over sockets in test_http_server.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/cookie.h"
#include "http/csrf.h"
#include "http/multipart.h"
#include "http/router.h"

static void h_noop(http_req *r, void *app)
{
    (void)r;
    (void)app;
}

static const http_route table[] = {
    {"GET", "/", h_noop, 0},
    {"GET", "/api/jobs/{id}", h_noop, 0},
    {"DELETE", "/api/jobs/{id}", h_noop, 0},
    {"GET", "/api/jobs/stats", h_noop, 0},
    {"POST", "/api/jobs/stats", h_noop, 0},
    {"GET", "/api/users/{uid}/playlists/{pid}", h_noop, 0},
    {"GET", "/assets/*", h_noop, 0},
    {"GET", "/assets/special.css", h_noop, 0},
    {"PUT", "/api/me", h_noop, 0},
};
#define NTABLE (sizeof table / sizeof table[0])

/* Matches and returns the outcome; *route_out gets the row index or -1. */
static http_match_outcome match(const char *method, const char *path, http_match *m)
{
    kt_err e;
    assert_int_equal(http_router_match(table, NTABLE, method, path, m, &e), KT_OK);
    return m->outcome;
}

static void test_router_literal_and_params(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(http_router_validate(table, NTABLE, NULL), KT_OK);

    assert_int_equal(match("GET", "/", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(m.nparams, 0);
    http_match_free(&m);

    assert_int_equal(match("GET", "/api/jobs/42", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[1]);
    assert_string_equal(http_match_param(&m, "id"), "42");
    assert_null(http_match_param(&m, "other"));
    http_match_free(&m);

    assert_int_equal(match("GET", "/api/users/u%20one/playlists/p%C3%A9", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[5]);
    assert_string_equal(http_match_param(&m, "uid"), "u one");
    assert_string_equal(http_match_param(&m, "pid"), "p\xc3\xa9");
    http_match_free(&m);

    /* '+' is not a space in a path. */
    assert_int_equal(match("GET", "/api/jobs/a+b", &m), HTTP_MATCH_OK);
    assert_string_equal(http_match_param(&m, "id"), "a+b");
    http_match_free(&m);

    /* Percent-encoded literal segments match their decoded form. */
    assert_int_equal(match("GET", "/api/jobs/st%61ts", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[3]);
    http_match_free(&m);
}

static void test_router_specificity(void **state)
{
    http_match m;
    (void)state;
    /* The literal route wins over {id} whatever the table order. */
    assert_int_equal(match("GET", "/api/jobs/stats", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[3]);
    http_match_free(&m);
    /* A literal only registered for POST does not hide GET {id}... */
    assert_int_equal(match("POST", "/api/jobs/stats", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[4]);
    http_match_free(&m);
    /* ...and DELETE /api/jobs/stats goes to DELETE {id}. */
    assert_int_equal(match("DELETE", "/api/jobs/stats", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[2]);
    assert_string_equal(http_match_param(&m, "id"), "stats");
    http_match_free(&m);
    /* A literal beats the wildcard. */
    assert_int_equal(match("GET", "/assets/special.css", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[7]);
    http_match_free(&m);
}

static void test_router_wildcard(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(match("GET", "/assets/css/app%20x.css", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[6]);
    assert_string_equal(http_match_param(&m, "*"), "css/app x.css");
    http_match_free(&m);
    assert_int_equal(match("GET", "/assets", &m), HTTP_MATCH_OK);
    assert_string_equal(http_match_param(&m, "*"), "");
    http_match_free(&m);
    assert_int_equal(match("GET", "/assets/", &m), HTTP_MATCH_OK);
    assert_string_equal(http_match_param(&m, "*"), "");
    http_match_free(&m);
}

static void test_router_head_404_405(void **state)
{
    http_match m;
    (void)state;
    assert_int_equal(match("HEAD", "/api/jobs/1", &m), HTTP_MATCH_OK);
    assert_ptr_equal(m.route, &table[1]);
    http_match_free(&m);

    assert_int_equal(match("GET", "/api/nothing", &m), HTTP_MATCH_NO_ROUTE);
    assert_string_equal(m.allow, "");
    assert_int_equal(match("GET", "/api/jobs", &m), HTTP_MATCH_NO_ROUTE);
    assert_int_equal(match("GET", "/api/jobs/", &m), HTTP_MATCH_NO_ROUTE); /* {id} needs a non-empty segment */
    assert_int_equal(match("GET", "/api/jobs/1/x", &m), HTTP_MATCH_NO_ROUTE);
    assert_int_equal(match("GET", "//", &m), HTTP_MATCH_NO_ROUTE);

    assert_int_equal(match("POST", "/api/jobs/1", &m), HTTP_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
    assert_int_equal(match("GET", "/api/me", &m), HTTP_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "PUT");
    assert_int_equal(match("get", "/api/jobs/1", &m), HTTP_MATCH_BAD_METHOD); /* methods are case-sensitive */
}

static void expect_bad_path(const char *path)
{
    http_match m;
    kt_err e;
    memset(&m, 0x5a, sizeof m);
    assert_int_equal(http_router_match(table, NTABLE, "GET", path, &m, &e), KT_ERR_INVALID);
    assert_string_equal(e.code, "bad_path");
    assert_int_equal(((unsigned char *)&m)[0], 0x5a); /* out untouched */
}

static void test_router_refuses_traversal(void **state)
{
    char long_path[HTTP_ROUTER_MAX_PATH + 10];
    char many[HTTP_ROUTER_MAX_SEGMENTS * 2 + 10];
    (void)state;
    expect_bad_path("/assets/../secret");
    expect_bad_path("/assets/%2e%2e/secret");
    expect_bad_path("/assets/%2E%2e");
    expect_bad_path("/assets/./x");
    expect_bad_path("/assets/.%2E/x");
    expect_bad_path("/assets/a%2Fb");
    expect_bad_path("/assets/a%2fb");
    expect_bad_path("/assets/a%5Cb");
    expect_bad_path("/api/jobs/%00");
    expect_bad_path("/api/jobs/%zz");
    expect_bad_path("/api/jobs/%4");
    expect_bad_path("/api/jobs/%");
    expect_bad_path("/api/jobs/%C3%28");    /* not UTF-8 */
    expect_bad_path("/api/jobs/%ED%A0%80"); /* a surrogate */
    expect_bad_path("/api/jobs/\xff");
    expect_bad_path("api/jobs");
    expect_bad_path("");
    expect_bad_path("*");
    expect_bad_path("http://example.com/api/me");
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    expect_bad_path(long_path);
    for (size_t i = 0; i < sizeof many - 1; i += 2) {
        many[i] = '/';
        many[i + 1] = 'x';
    }
    many[sizeof many - 1] = '\0';
    expect_bad_path(many);
}

static void expect_invalid_table(http_route r, const char *needle)
{
    kt_err e;
    assert_int_equal(http_router_validate(&r, 1, &e), KT_ERR_INVALID);
    assert_string_equal(e.code, "bad_route");
    if (!strstr(e.msg, needle))
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void test_router_validate(void **state)
{
    (void)state;
    expect_invalid_table((http_route){"get", "/x", h_noop, 0}, "upper-case");
    expect_invalid_table((http_route){"", "/x", h_noop, 0}, "method");
    expect_invalid_table((http_route){"GET", "x", h_noop, 0}, "start with '/'");
    expect_invalid_table((http_route){"GET", "/x", NULL, 0}, "handler");
    expect_invalid_table((http_route){"GET", "/*/x", h_noop, 0}, "last segment");
    expect_invalid_table((http_route){"GET", "/{}", h_noop, 0}, "empty parameter");
    expect_invalid_table((http_route){"GET", "/{a-b}", h_noop, 0}, "bad parameter name");
    expect_invalid_table((http_route){"GET", "/a{b}", h_noop, 0}, "malformed");
    expect_invalid_table((http_route){"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", h_noop, 0}, "more than 8");
    assert_int_equal(http_router_validate(NULL, 0, NULL), KT_OK);
    assert_int_equal(http_router_validate(NULL, 1, NULL), KT_ERR_INVALID);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(http_utf8_valid(""));
    assert_true(http_utf8_valid("plain ascii"));
    assert_true(http_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5 \xf4\x8f\xbf\xbf"));
    assert_false(http_utf8_valid("\xc3"));                /* truncated */
    assert_false(http_utf8_valid("\xc3\x28"));            /* bad continuation */
    assert_false(http_utf8_valid("\xc0\xaf"));            /* overlong '/' */
    assert_false(http_utf8_valid("\xe0\x80\xaf"));        /* overlong, 3 bytes */
    assert_false(http_utf8_valid("\xed\xa0\x80"));        /* surrogate */
    assert_false(http_utf8_valid("\xf4\x90\x80\x80"));    /* past U+10FFFF */
    assert_false(http_utf8_valid("\xff"));
    assert_false(http_utf8_valid("\x80"));
}

/* ---- cookies ---- */

static void parse_cookies(const char *h, http_cookie_jar *jar)
{
    assert_int_equal(http_cookie_parse(h, h ? strlen(h) : 0, jar, NULL), KT_OK);
}

static void test_cookie_basic(void **state)
{
    http_cookie_jar jar;
    (void)state;
    parse_cookies("sid=abc123; theme=dark;lang=en", &jar);
    assert_int_equal(jar.n, 3);
    assert_string_equal(http_cookie_find(&jar, "sid"), "abc123");
    assert_string_equal(http_cookie_find(&jar, "theme"), "dark");
    assert_string_equal(http_cookie_find(&jar, "lang"), "en");
    assert_null(http_cookie_find(&jar, "SID"));
    assert_null(http_cookie_find(&jar, "missing"));
    http_cookie_jar_free(&jar);
    http_cookie_jar_free(&jar); /* idempotent */
    http_cookie_jar_free(NULL);
}

static void test_cookie_junk(void **state)
{
    http_cookie_jar jar;
    (void)state;
    parse_cookies("  a = 1 ;junk; =novalue; b=\"quoted\"; c=; d=x=y; e\x01=1; f=bad\x7f; g=in ner; h=\"; "
                  "a=second; bad name=1; __Host-s=tok",
                  &jar);
    assert_string_equal(http_cookie_find(&jar, "a"), "1"); /* first wins */
    assert_string_equal(http_cookie_find(&jar, "b"), "quoted");
    assert_string_equal(http_cookie_find(&jar, "c"), "");
    assert_string_equal(http_cookie_find(&jar, "d"), "x=y");
    assert_null(http_cookie_find(&jar, "e\x01"));
    assert_null(http_cookie_find(&jar, "f"));
    assert_string_equal(http_cookie_find(&jar, "g"), "in ner");
    assert_string_equal(http_cookie_find(&jar, "h"), "\"");
    assert_null(http_cookie_find(&jar, "junk"));
    assert_null(http_cookie_find(&jar, ""));
    assert_null(http_cookie_find(&jar, "bad name"));
    assert_string_equal(http_cookie_find(&jar, "__Host-s"), "tok");
    assert_int_equal(jar.n, 8);
    http_cookie_jar_free(&jar);

    parse_cookies(NULL, &jar);
    assert_int_equal(jar.n, 0);
    http_cookie_jar_free(&jar);
    parse_cookies(";;; ;", &jar);
    assert_int_equal(jar.n, 0);
    http_cookie_jar_free(&jar);
}

static void test_cookie_bounds(void **state)
{
    http_cookie_jar jar;
    char *big = malloc(HTTP_COOKIE_MAX_HEADER * 2);
    size_t len = 0;
    (void)state;
    assert_non_null(big);
    for (int i = 0; i < 200; i++)
        len += (size_t)sprintf(big + len, "k%d=v%d; ", i, i);
    parse_cookies(big, &jar);
    assert_int_equal(jar.n, HTTP_COOKIE_MAX);
    assert_string_equal(http_cookie_find(&jar, "k127"), "v127");
    assert_null(http_cookie_find(&jar, "k128"));
    http_cookie_jar_free(&jar);

    /* Past the byte cap the rest is ignored; a NUL ends the input. */
    memset(big, 'x', HTTP_COOKIE_MAX_HEADER * 2);
    memcpy(big, "a=1; b=", 7);
    memcpy(big + HTTP_COOKIE_MAX_HEADER + 10, "; z=2", 5);
    assert_int_equal(http_cookie_parse(big, HTTP_COOKIE_MAX_HEADER * 2, &jar, NULL), KT_OK);
    assert_string_equal(http_cookie_find(&jar, "a"), "1");
    assert_int_equal(strlen(http_cookie_find(&jar, "b")), HTTP_COOKIE_MAX_HEADER - 7);
    assert_null(http_cookie_find(&jar, "z"));
    http_cookie_jar_free(&jar);
    assert_int_equal(http_cookie_parse("a=1\0b=2", 7, &jar, NULL), KT_OK);
    assert_int_equal(jar.n, 1);
    http_cookie_jar_free(&jar);
    free(big);
}

/* ---- cross-site check ---- */

static void test_csrf_matrix(void **state)
{
    const char *us = "http://127.0.0.1:8080";
    (void)state;
    /* Safe methods are never refused. */
    assert_true(http_csrf_allowed("GET", "http://evil.example", "cross-site", us));
    assert_true(http_csrf_allowed("HEAD", "http://evil.example", "cross-site", us));
    assert_true(http_csrf_allowed("OPTIONS", "null", "cross-site", us));
    /* Neither header: CLI and scripts. */
    assert_true(http_csrf_allowed("POST", NULL, NULL, us));
    /* Origin alone. */
    assert_true(http_csrf_allowed("POST", "http://127.0.0.1:8080", NULL, us));
    assert_true(http_csrf_allowed("POST", "HTTP://127.0.0.1:8080", NULL, us));
    assert_true(http_csrf_allowed("DELETE", "http://127.0.0.1:8080", NULL, "http://127.0.0.1:8080/"));
    assert_false(http_csrf_allowed("POST", "http://evil.example", NULL, us));
    assert_false(http_csrf_allowed("POST", "null", NULL, us));
    assert_false(http_csrf_allowed("POST", "http://127.0.0.1:8081", NULL, us));
    assert_false(http_csrf_allowed("POST", "https://127.0.0.1:8080", NULL, us));
    assert_false(http_csrf_allowed("POST", "http://127.0.0.1:8080.evil.example", NULL, us));
    assert_false(http_csrf_allowed("POST", "http://127.0.0.1:8080/path", NULL, us));
    assert_false(http_csrf_allowed("POST", "", NULL, us));
    assert_false(http_csrf_allowed("PUT", "http://127.0.0.1:8080", NULL, NULL));
    /* Default ports are made explicit. */
    assert_true(http_csrf_allowed("POST", "https://keeptrack.example", NULL, "https://keeptrack.example:443"));
    /* Sec-Fetch-Site. */
    assert_false(http_csrf_allowed("POST", NULL, "cross-site", us));
    assert_false(http_csrf_allowed("POST", "http://127.0.0.1:8080", "cross-site", us));
    assert_false(http_csrf_allowed("POST", NULL, "same-site", us));
    assert_false(http_csrf_allowed("POST", "http://other.127.0.0.1:8080", "same-site", us));
    assert_true(http_csrf_allowed("POST", "http://127.0.0.1:8080", "same-site", us));
    assert_true(http_csrf_allowed("POST", "http://127.0.0.1:8080", "same-origin", us));
    assert_true(http_csrf_allowed("POST", NULL, "same-origin", us));
    assert_true(http_csrf_allowed("POST", NULL, "none", us));
    assert_false(http_csrf_allowed("POST", "http://evil.example", "same-origin", us));
    assert_true(http_method_is_safe("GET"));
    assert_false(http_method_is_safe("POST"));
    assert_false(http_method_is_safe(NULL));
}

static void test_clean_filename(void **state)
{
    (void)state;
    char out[HTTP_MULTIPART_MAX_NAME + 1];
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"C:\\Users\\me\\liked_songs.csv", "liked_songs.csv"},
        {"../../etc/passwd", "passwd"},
        {"a\"b\tc.csv", "a_b_c.csv"},
        {"\xd0\x9c\xd1\x83\xd0\xbc\xd0\xb8\xd0\xb9 \xd0\xa2\xd1\x80\xd0\xbe\xd0\xbb\xd0\xbb\xd1\x8c.csv",
         "\xd0\x9c\xd1\x83\xd0\xbc\xd0\xb8\xd0\xb9 \xd0\xa2\xd1\x80\xd0\xbe\xd0\xbb\xd0\xbb\xd1\x8c.csv"},
        {"M\xc3\xbasica \xf0\x9f\x8e\xb5.csv", "M\xc3\xbasica \xf0\x9f\x8e\xb5.csv"},
        {"bad\xc3(\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xff\xc2\x85.csv", "bad_(____________.csv"},
        {"trunc\xe2\x82", "trunc__"},
        {"dir/", "upload"},
        {"", "upload"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_clean_filename(cases[i].in, strlen(cases[i].in), out);
        assert_string_equal(out, cases[i].want);
    }
    /* Truncation keeps whole characters: 199 ASCII bytes then a 2-byte one. */
    char long_name[256];
    memset(long_name, 'a', 199);
    memcpy(long_name + 199, "\xc3\xa9zz", 5);
    http_clean_filename(long_name, 203, out);
    assert_int_equal(strlen(out), 199);
    memcpy(long_name + 198, "\xc3\xa9", 2);
    http_clean_filename(long_name, 200, out);
    assert_int_equal(strlen(out), 200);
    assert_memory_equal(out + 198, "\xc3\xa9", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_literal_and_params),
        cmocka_unit_test(test_router_specificity),
        cmocka_unit_test(test_router_wildcard),
        cmocka_unit_test(test_router_head_404_405),
        cmocka_unit_test(test_router_refuses_traversal),
        cmocka_unit_test(test_router_validate),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_cookie_basic),
        cmocka_unit_test(test_cookie_junk),
        cmocka_unit_test(test_cookie_bounds),
        cmocka_unit_test(test_csrf_matrix),
        cmocka_unit_test(test_clean_filename),
    };
    return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}

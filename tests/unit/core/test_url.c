/* test_url.c - url: encode/decode (strict), query parsing with limits, URL splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/url.h"

static void test_encode(void **state)
{
    (void)state;
    char *s = url_encode("AZaz09-._~ /?&=+%\xc3\xa9");
    assert_string_equal(s, "AZaz09-._~%20%2F%3F%26%3D%2B%25%C3%A9");
    free(s);
    s = url_encode("");
    assert_string_equal(s, "");
    free(s);
    assert_null(url_encode(NULL));
    s = url_encode("http://127.0.0.1:8080/api/auth/callback");
    assert_string_equal(s, "http%3A%2F%2F127.0.0.1%3A8080%2Fapi%2Fauth%2Fcallback");
    free(s);
}

static void test_decode(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(url_decode("a%20b+c%2Bd%c3%A9", 17, &out), KT_OK);
    assert_string_equal(out, "a b+c+d\xc3\xa9");
    free(out);
    assert_int_equal(url_decode_form("a%20b+c%2Bd", 11, &out), KT_OK);
    assert_string_equal(out, "a b c+d");
    free(out);
    assert_int_equal(url_decode("abc", 2, &out), KT_OK); /* length-bounded */
    assert_string_equal(out, "ab");
    free(out);
    assert_int_equal(url_decode("", 0, &out), KT_OK);
    assert_string_equal(out, "");
    free(out);
    out = (char *)"untouched";
    assert_int_equal(url_decode("%", 1, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("%2", 2, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("%2G", 3, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("%G2", 3, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("a%00b", 5, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("a\0b", 3, &out), KT_ERR_INVALID);
    assert_int_equal(url_decode("%41%", 4, &out), KT_ERR_INVALID);
    assert_string_equal(out, "untouched");
    /* round trip of every byte but NUL */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    char *enc = url_encode(all);
    assert_int_equal(url_decode_form(enc, strlen(enc), &out), KT_OK);
    assert_string_equal(out, all);
    free(out);
    free(enc);
}

static void test_query(void **state)
{
    (void)state;
    url_kv *kv = NULL;
    size_t n = 0;
    kt_err err;
    assert_int_equal(url_query_parse("code=AQ%2Bx&state=s1&&empty=&flag&q=two+words&code=second", &kv, &n, &err),
                     KT_OK);
    assert_int_equal(n, 6);
    assert_string_equal(kv[0].key, "code");
    assert_string_equal(kv[0].value, "AQ+x");
    assert_string_equal(url_query_get(kv, n, "code"), "AQ+x"); /* first wins */
    assert_string_equal(kv[5].value, "second");
    assert_string_equal(url_query_get(kv, n, "state"), "s1");
    assert_string_equal(url_query_get(kv, n, "empty"), "");
    assert_string_equal(url_query_get(kv, n, "flag"), "");
    assert_string_equal(url_query_get(kv, n, "q"), "two words");
    assert_null(url_query_get(kv, n, "missing"));
    assert_null(url_query_get(NULL, 0, "code"));
    url_query_free(kv, n);

    kv = (url_kv *)1;
    assert_int_equal(url_query_parse(NULL, &kv, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    url_query_free(kv, n);
    assert_int_equal(url_query_parse("", &kv, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    url_query_free(kv, n);
    url_query_free(NULL, 0);
}

static void test_query_limits(void **state)
{
    (void)state;
    url_kv *kv = NULL;
    size_t n = 77;
    kt_err err;
    assert_int_equal(url_query_parse("a=1&b=%zz", &kv, &n, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "bad_query");
    assert_int_equal(n, 77);

    char qs[URL_QUERY_MAX_PARAMS * 6 + 16] = "";
    for (int i = 0; i <= URL_QUERY_MAX_PARAMS; i++)
        strcat(qs, "a=1&");
    assert_int_equal(url_query_parse(qs, &kv, &n, &err), KT_ERR_TOO_LARGE);
    assert_string_equal(err.code, "too_many_params");
    qs[strlen(qs) - 4] = '\0'; /* exactly the limit */
    assert_int_equal(url_query_parse(qs, &kv, &n, &err), KT_OK);
    assert_int_equal(n, URL_QUERY_MAX_PARAMS);
    url_query_free(kv, n);

    char *big = malloc(URL_QUERY_MAX_LEN + 2);
    memset(big, 'x', URL_QUERY_MAX_LEN + 1);
    big[URL_QUERY_MAX_LEN + 1] = '\0';
    assert_int_equal(url_query_parse(big, &kv, &n, &err), KT_ERR_TOO_LARGE);
    assert_string_equal(err.code, "query_too_long");
    big[URL_QUERY_MAX_LEN] = '\0';
    assert_int_equal(url_query_parse(big, &kv, &n, &err), KT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(kv[0].key), URL_QUERY_MAX_LEN);
    url_query_free(kv, n);
    free(big);
}

static void test_split(void **state)
{
    (void)state;
    url_parts u;
    kt_err err;
    assert_int_equal(url_split("http://127.0.0.1:8080/api/auth/callback?x=1#frag", &u, &err), KT_OK);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_true(u.port_explicit);
    assert_false(u.ipv6);
    assert_string_equal(u.path, "/api/auth/callback?x=1");

    assert_int_equal(url_split("HTTPS://api.spotify.com", &u, &err), KT_OK);
    assert_string_equal(u.scheme, "https");
    assert_int_equal(u.port, 443);
    assert_false(u.port_explicit);
    assert_string_equal(u.path, "/");

    assert_int_equal(url_split("http://[::1]:9/x", &u, &err), KT_OK);
    assert_string_equal(u.host, "::1");
    assert_true(u.ipv6);
    assert_int_equal(u.port, 9);
    assert_int_equal(url_split("http://h?q", &u, &err), KT_OK);
    assert_string_equal(u.path, "/?q");

    const char *bad[] = {"ftp://x/", "http://", "http:///path", "http://h:0/", "http://h:65536/", "http://h:/",
                         "http://h:8x/", "http://user:pw@h/", "http://h /", "http://[::1/", "http://[::1]x/",
                         "http://h\x01/", "127.0.0.1:8080", "http://a:b:c/", NULL};
    for (int i = 0; bad[i]; i++) {
        err_clear(&err);
        assert_int_equal(url_split(bad[i], &u, &err), KT_ERR_INVALID);
        assert_string_equal(err.code, "bad_url");
        assert_true(strlen(err.msg) > 0);
    }
    assert_int_equal(url_split(NULL, &u, &err), KT_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_decode), cmocka_unit_test(test_query),
        cmocka_unit_test(test_query_limits), cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests_name("core_url", tests, NULL, NULL);
}

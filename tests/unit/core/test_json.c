/* test_json.c - jsonutil: tolerant getters on wrong types, dotted paths,
 * depth-bounded parsing that never echoes input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"

static json_t *parse(const char *s)
{
    json_t *j = NULL;
    kt_err err;
    assert_int_equal(json_parse_bounded(s, strlen(s), 0, &j, &err), KT_OK);
    return j;
}

static void test_getters(void **state)
{
    (void)state;
    json_t *j = parse("{\"s\":\"str\",\"i\":42,\"r\":3.0,\"f\":2.5,\"big\":1e300,\"t\":true,\"n\":null,"
                      "\"a\":[1],\"o\":{},\"neg\":-7}");
    assert_string_equal(json_str(j, "s"), "str");
    assert_null(json_str(j, "i"));
    assert_null(json_str(j, "n"));
    assert_null(json_str(j, "missing"));
    assert_null(json_str(NULL, "s"));
    assert_null(json_str(j, NULL));
    assert_int_equal(json_int(j, "i", -1), 42);
    assert_int_equal(json_int(j, "neg", -1), -7);
    assert_int_equal(json_int(j, "r", -1), 3);
    assert_int_equal(json_int(j, "f", -1), -1);   /* not integral */
    assert_int_equal(json_int(j, "big", -1), -1); /* out of range */
    assert_int_equal(json_int(j, "s", -1), -1);
    assert_int_equal(json_int(j, "n", 5), 5);
    assert_true(json_dbl(j, "f", 0) == 2.5);
    assert_true(json_dbl(j, "i", 0) == 42.0);
    assert_true(json_dbl(j, "s", -1) == -1.0);
    assert_int_equal(json_bool(j, "t", -1), 1);
    assert_int_equal(json_bool(j, "i", -1), -1);
    assert_non_null(json_arr(j, "a"));
    assert_null(json_arr(j, "o"));
    assert_non_null(json_obj(j, "o"));
    assert_null(json_obj(j, "a"));
    json_t *arr = parse("[1,2]"); /* getters on a non-object */
    assert_null(json_str(arr, "0"));
    assert_int_equal(json_int(arr, "0", 9), 9);
    json_decref(arr);
    json_decref(j);
}

static void test_path(void **state)
{
    (void)state;
    json_t *j = parse("{\"item\":{\"album\":{\"images\":[{\"url\":\"u0\"},{\"url\":\"u1\"}]},"
                      "\"dotted.key\":1,\"n\":null}}");
    assert_string_equal(json_path_str(j, "item.album.images.0.url"), "u0");
    assert_string_equal(json_path_str(j, "item.album.images.1.url"), "u1");
    assert_null(json_path(j, "item.album.images.2.url"));
    assert_null(json_path(j, "item.album.images.x.url"));
    assert_null(json_path(j, "item.album.images.-1"));
    assert_null(json_path(j, "item.album.images.0.url.deeper"));
    assert_null(json_path(j, "item.n.x"));
    assert_null(json_path(j, "item."));
    assert_null(json_path(j, "nope"));
    assert_ptr_equal(json_path(j, ""), j);
    assert_null(json_path(NULL, "a"));
    assert_null(json_path(j, NULL));
    assert_null(json_path_str(j, "item.album"));
    json_decref(j);
}

static void test_parse_bounded(void **state)
{
    (void)state;
    json_t *j = (json_t *)1;
    kt_err err;
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(json_parse_bounded(deep, 200, 100, &j, &err), KT_OK);
    json_decref(j);
    j = (json_t *)1;
    assert_int_equal(json_parse_bounded(deep, 200, 99, &j, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "deeper than 99"));
    assert_ptr_equal(j, (json_t *)1);
    assert_int_equal(json_parse_bounded(deep, 200, 0, &j, &err), KT_ERR_INVALID); /* default 64 */
    /* brackets inside strings do not count, escaped quotes do not end strings */
    const char *s = "{\"a\":\"[[[[[[\\\"[[[[\",\"b\":[[1]]}";
    assert_int_equal(json_parse_bounded(s, strlen(s), 3, &j, &err), KT_OK);
    assert_string_equal(json_str(j, "a"), "[[[[[[\"[[[[");
    json_decref(j);
    /* huge depth is rejected without recursion */
    size_t n = 1000000;
    char *huge = malloc(n);
    memset(huge, '{', n);
    assert_int_equal(json_parse_bounded(huge, n, 0, &j, &err), KT_ERR_INVALID);
    free(huge);
    /* scalars, length bound, NUL */
    assert_int_equal(json_parse_bounded("42xyz", 2, 0, &j, &err), KT_OK);
    assert_int_equal(json_integer_value(j), 42);
    json_decref(j);
    assert_int_equal(json_parse_bounded("\"a\\u0000b\"", 10, 0, &j, &err), KT_ERR_INVALID);
    assert_int_equal(json_parse_bounded(NULL, 0, 0, &j, &err), KT_ERR_INVALID);
}

static void test_parse_error_does_not_echo(void **state)
{
    (void)state;
    json_t *j = NULL;
    kt_err err;
    const char *s = "{\"access_token\":\"BQDsecretvalue";
    assert_int_equal(json_parse_bounded(s, strlen(s), 0, &j, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "bad_json");
    assert_non_null(strstr(err.msg, "malformed JSON at line 1"));
    assert_null(strstr(err.msg, "BQD"));
    s = "{\"a\": BQDsecret}";
    assert_int_equal(json_parse_bounded(s, strlen(s), 0, &j, &err), KT_ERR_INVALID);
    assert_null(strstr(err.msg, "BQD"));
}

/* json_parse_bounded is yajl building a jansson tree (jsonutil.c): it must
 * accept and refuse exactly what json_loadb(JSON_DECODE_ANY) does, and
 * build the same tree (same types, key order, duplicate-key rule). */
static void test_parse_matches_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"a\":1,\"b\":[1,2.5,-0,true,false,null,\"x\"],\"a\":2}",
        "\"\\ud83d\\ude00 \\u00e9 \\n\\t\\\"\\\\\\/\"", "\"\\ud800\"", "\"\\udc00x\"",
        "\"\\ud800\\u0041\"", "\"\\\\ud800\"", "{\"\\ud800\":1}", "\"\\uD834\\uDD1E\"",
        "\"\\ud834\\\\udd1e\"", "\"\\u00\"", "\"\\x\"",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "1e308", "1e400", "-1e400", "1e-400", "0.1", "1E5", "1.0",
        "-0.0", "[1e-5000,2E+3,-3e0]",
        "[0.00000000000000000000000000000000000000000000000000000000000000000000000000001]",
        "1234567890123456789012345678901234567890123456789012345678901234567890",
        "", "   ", "[1,]", "{\"a\":1}x", "[1] [2]", "/*x*/1", "[1", "{\"a\"", "{\"a\":}", "01",
        "1.", ".5", "-", "+1", "[\"a\"\n,\n oops]", "{\"\":1}", "{\"k\\u0000\":1}", "nul", "tru",
        "\"\t\"", "\"abc", "[]", "{}", " 7 ", "[1,2]\n\n", "{\"a\":{\"b\":{\"c\":[[[]]]}}}",
        "\"\xff\"", "\"\xc3\xa9\"", "\"\xed\xa0\x80\"", "{\"\xff\":1}", "\"\xc0\x80\"",
        "\"\xe0\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xe2\x82\"",
        "\"\xf0\x9f\x98\x80\"", "\"\xe2\x82\xac\"", "\"\xef\xbf\xbf\"", "\"\xed\x9f\xbf\"",
        "\"\xf4\x8f\xbf\xbf\"", "\"\x80\"", "{\"\xc3\xa9\":\"\xc3\"}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i];
        json_error_t je;
        json_t *want = json_loadb(s, strlen(s), JSON_DECODE_ANY, &je), *got = NULL;
        kt_err err;
        kt_status st = json_parse_bounded(s, strlen(s), 0, &got, &err);
        if (!want) {
            if (st != KT_ERR_INVALID)
                fail_msg("case %zu accepted, jansson refuses it: %s", i, je.text);
            assert_string_equal(err.code, "bad_json");
            continue;
        }
        if (st != KT_OK)
            fail_msg("case %zu refused (%s), jansson accepts it", i, err.msg);
        char *a = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
        char *b = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        assert_int_equal(json_typeof(want), json_typeof(got));
        free(a);
        free(b);
        json_decref(want);
        json_decref(got);
    }
}

static void test_parse_drop_rule(void **state)
{
    (void)state;
    const json_parse_opts o = {.drop = "track", .if_present = "item"};
    json_t *j = NULL;
    kt_err err;
    /* dropped after "item" (object, array, scalar values); kept before it
     * or without it; nested objects follow the rule on their own */
    const char *s = "[{\"item\":{\"id\":\"a\"},\"track\":{\"id\":\"a\",\"x\":[1,{\"y\":[]}]},\"n\":1},"
                    "{\"track\":{\"id\":\"b\"},\"item\":{\"id\":\"b\"}},"
                    "{\"track\":7},"
                    "{\"item\":null,\"track\":\"s\",\"z\":{\"item\":1,\"track\":[[2]]}}]";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, &o, &j, &err), KT_OK);
    char *d = json_dumps(j, JSON_COMPACT);
    assert_string_equal(d, "[{\"item\":{\"id\":\"a\"},\"n\":1},"
                           "{\"track\":{\"id\":\"b\"},\"item\":{\"id\":\"b\"}},"
                           "{\"track\":7},"
                           "{\"item\":null,\"z\":{\"item\":1}}]");
    free(d);
    json_decref(j);
    /* a dropped value is still checked */
    s = "{\"item\":1,\"track\":[1,}";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, &o, &j, &err), KT_ERR_INVALID);
    s = "{\"item\":1,\"track\":\"\xff\"}";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, &o, &j, &err), KT_OK);
    json_decref(j); /* (the dropped string is not built, so not UTF-8 checked: documented) */
    /* never: gone from every object, wherever it comes; still checked */
    const json_parse_opts nv = {.never = "available_markets"};
    s = "{\"available_markets\":[\"SE\"],\"album\":{\"n\":1,\"available_markets\":[\"DE\",{}]},"
        "\"a\":[{\"available_markets\":null,\"m\":2}]}";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, &nv, &j, &err), KT_OK);
    d = json_dumps(j, JSON_COMPACT);
    assert_string_equal(d, "{\"album\":{\"n\":1},\"a\":[{\"m\":2}]}");
    free(d);
    json_decref(j);
    s = "{\"available_markets\":[1,}";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, &nv, &j, &err), KT_ERR_INVALID);
    /* NULL opts = json_parse_bounded */
    s = "{\"item\":1,\"track\":2}";
    assert_int_equal(json_parse_bounded_opts(s, strlen(s), 0, NULL, &j, &err), KT_OK);
    assert_int_equal(json_int(j, "track", 0), 2);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_parse_bounded),
        cmocka_unit_test(test_parse_error_does_not_echo),
        cmocka_unit_test(test_parse_matches_jansson),
        cmocka_unit_test(test_parse_drop_rule),
    };
    return cmocka_run_group_tests_name("core_json", tests, NULL, NULL);
}

/* test_recap_svg.c - the yearly recap's SVG card (recap_render_svg in
 * src/services/recap.c), drawn from a hand-built recap JSON: names with
 * XML's specials, control characters and U+FFFF come out as escaped text
 * and valid XML characters; a long multibyte name is cut between code
 * points with an ellipsis; the busiest month's bar is the full 200 px and
 * an empty month's 0; anything that is not a recap is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "services/recap.h"

/* A recap with one top track and one top artist named `name`. */
static json_t *recap_named(const char *name)
{
    json_t *months = json_array();
    for (int m = 0; m < 12; m++)
        json_array_append_new(months, json_pack("{s:I,s:I,s:I}", "plays", (json_int_t)(m == 2),
                                                "ms", (json_int_t)(m == 2 ? 600000 : m == 5 ? 150000 : 0),
                                                "minutes", (json_int_t)(m == 2 ? 10 : 0)));
    json_t *r = json_pack(
        "{s:i,s:i,s:i,s:i,s:i,s:[{s:s,s:s}],s:[{s:s}],s:o,s:{s:s,s:i},s:{s:i,s:i},"
        "s:{s:s,s:s,s:i},s:{s:{s:i},s:{s:i}}}",
        "year", 2025, "minutes", 12, "plays", 2, "distinct_tracks", 1, "distinct_artists", 1,
        "top_tracks", "name", name, "artist", name, "top_artists", "name", name, "months",
        months, "busiest_day", "date", "2025-03-01", "minutes", 10, "busiest_hour", "hour", 23,
        "minutes", 10, "longest_streak", "start", "2025-03-01", "end", "2025-03-01", "days", 1,
        "first_listens", "tracks", "total", 1, "artists", "total", 1);
    assert_non_null(r);
    return r;
}

static void test_escapes_and_drops(void **state)
{
    (void)state;
    kt_err err = {0};
    buf b;
    buf_init(&b, 0);
    json_t *r = recap_named("<b>&\"'\x01\x7f\xEF\xBF\xBF");
    assert_int_equal(recap_render_svg(r, &b, &err), KT_OK);
    assert_null(strstr(b.data, "<b>"));
    assert_null(strstr(b.data, "\x01"));
    assert_null(strstr(b.data, "\xEF\xBF\xBF"));
    assert_non_null(strstr(b.data, ">1. &lt;b&gt;&amp;&quot;&#39;\x7f\xEF\xBF\xBD</text>"));
    /* a track's line has its artist too */
    assert_non_null(strstr(b.data, ">1. &lt;b&gt;&amp;&quot;&#39;\x7f\xEF\xBF\xBD - &lt;b&gt;"));
    assert_non_null(strstr(b.data, ">Busiest hour: 23:00-24:00 UTC (10 min)</text>"));
    /* March is the busiest month (200 px); June a quarter of it; January none */
    assert_non_null(strstr(b.data, "<rect x=\"166\" y=\"750\" width=\"44\" height=\"200\""));
    assert_non_null(strstr(b.data, "<rect x=\"343\" y=\"900\" width=\"44\" height=\"50\""));
    assert_non_null(strstr(b.data, "<rect x=\"48\" y=\"950\" width=\"44\" height=\"0\""));
    assert_string_equal(b.data + b.len - 7, "</svg>\n");
    json_decref(r);
    buf_free(&b);
}

static void test_long_names_cut_between_code_points(void **state)
{
    (void)state;
    kt_err err = {0};
    char name[2 * 40 + 1];
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 40; i++)
        memcpy(name + 2 * i, "\xC3\xA9", 2); /* é */
    name[80] = '\0';
    json_t *r = recap_named(name);
    assert_int_equal(recap_render_svg(r, &b, &err), KT_OK);
    /* the artist column: "1. " and 27 of the 40, then the ellipsis */
    char want[128] = ">1. ";
    for (int i = 0; i < 27; i++)
        strcat(want, "\xC3\xA9");
    strcat(want, "\xE2\x80\xA6</text>");
    assert_non_null(strstr(b.data, want));
    json_decref(r);
    buf_free(&b);
}

static void test_not_a_recap(void **state)
{
    (void)state;
    kt_err err = {0};
    buf b;
    buf_init(&b, 0);
    json_t *r = json_pack("{s:i}", "year", 2025);
    assert_int_equal(recap_render_svg(r, &b, &err), KT_ERR_INVALID);
    json_decref(r);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_and_drops),
        cmocka_unit_test(test_long_names_cut_between_code_points),
        cmocka_unit_test(test_not_a_recap),
    };
    return cmocka_run_group_tests_name("recap_svg", tests, NULL, NULL);
}

/* test_time.c - timeutil: ISO 8601 (offsets, fractions, leap years),
 * HTTP dates, Retry-After, formatting, clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/timeutil.h"

static int64_t iso(const char *s)
{
    int64_t ms = -12345;
    assert_int_equal(time_parse_iso8601(s, &ms), KT_OK);
    return ms;
}

static void iso_bad(const char *s)
{
    int64_t ms = -12345;
    assert_int_equal(time_parse_iso8601(s, &ms), KT_ERR_INVALID);
    assert_int_equal(ms, -12345); /* untouched on error */
}

static void test_iso_basic(void **state)
{
    (void)state;
    assert_int_equal(iso("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(iso("2024-05-01T12:34:56Z"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01t12:34:56z"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01 12:34:56"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01T12:34Z"), 1714566840000LL);
    assert_int_equal(iso("2024-05-01"), 1714521600000LL);
    assert_int_equal(iso("2024-05"), 1714521600000LL);
    assert_int_equal(iso("2024"), 1704067200000LL);
    assert_int_equal(iso("1969-12-31T23:59:59Z"), -1000);
    assert_int_equal(iso("2038-01-19T03:14:08Z"), 2147483648000LL);
}

static void test_iso_fraction_and_offsets(void **state)
{
    (void)state;
    assert_int_equal(iso("2024-05-01T12:34:56.789Z"), 1714566896789LL);
    assert_int_equal(iso("2024-05-01T12:34:56.5Z"), 1714566896500LL);
    assert_int_equal(iso("2024-05-01T12:34:56.12Z"), 1714566896120LL);
    assert_int_equal(iso("2024-05-01T12:34:56.123456789Z"), 1714566896123LL);
    assert_int_equal(iso("2024-05-01T14:34:56+02:00"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01T14:34:56+0200"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01T14:34:56+02"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01T07:04:56-05:30"), 1714566896000LL);
    assert_int_equal(iso("2024-05-01T00:30:00+01:00"), iso("2024-04-30T23:30:00Z"));
    assert_int_equal(iso("2024-05-01T12:34:56.250+02:00"), 1714559696250LL);
}

static void test_iso_leap_years(void **state)
{
    (void)state;
    assert_int_equal(iso("2024-02-29"), 1709164800000LL);
    assert_int_equal(iso("2000-02-29"), 951782400000LL);
    iso_bad("2023-02-29");
    iso_bad("1900-02-29");
    iso_bad("2100-02-29");
    assert_int_equal(iso("2024-03-01") - iso("2024-02-28"), 2 * 86400000LL);
    assert_int_equal(iso("2023-03-01") - iso("2023-02-28"), 86400000LL);
    assert_int_equal(iso("2016-12-31T23:59:60Z"), iso("2017-01-01T00:00:00Z"));
}

static void test_iso_rejects(void **state)
{
    (void)state;
    iso_bad(NULL);
    iso_bad("");
    iso_bad("24-05-01");
    iso_bad("2024-13-01");
    iso_bad("2024-00-01");
    iso_bad("2024-04-31");
    iso_bad("2024-05-01T24:00:00Z");
    iso_bad("2024-05-01T12:60:00Z");
    iso_bad("2024-05-01T12:34:61Z");
    iso_bad("2024-05-01T12:34:56.Z");
    iso_bad("2024-05-01T12:34:56Zjunk");
    iso_bad("2024-05-01T12:34:56+25:00");
    iso_bad("2024-05-01T12:34:56+02:61");
    iso_bad("2024-05-01T12");
    iso_bad("2024-5-1");
    iso_bad("2024-05-01X");
    iso_bad(" 2024-05-01");
}

static void test_format(void **state)
{
    (void)state;
    char out[32];
    time_format_iso8601(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    time_format_iso8601(1714566896000LL, out);
    assert_string_equal(out, "2024-05-01T12:34:56Z");
    time_format_iso8601(1714566896789LL, out);
    assert_string_equal(out, "2024-05-01T12:34:56.789Z");
    time_format_iso8601(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    time_format_iso8601(1709164800000LL, out);
    assert_string_equal(out, "2024-02-29T00:00:00Z");
    time_format_iso8601(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    time_format_iso8601(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00Z");
    /* round trip across many days, including leap days */
    for (int64_t ms = -86400000LL * 400; ms < 86400000LL * 365 * 80; ms += 86400000LL * 13 + 4321) {
        int64_t back;
        time_format_iso8601(ms, out);
        assert_int_equal(time_parse_iso8601(out, &back), KT_OK);
        assert_int_equal(back, ms);
    }
}

static void test_http_date(void **state)
{
    (void)state;
    int64_t ms = 7;
    assert_int_equal(time_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &ms), KT_OK);
    assert_int_equal(ms, 784111777000LL);
    ms = 7;
    assert_int_equal(time_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &ms), KT_OK);
    assert_int_equal(ms, 784111777000LL);
    ms = 7;
    assert_int_equal(time_parse_http_date("Sun Nov  6 08:49:37 1994", &ms), KT_OK);
    assert_int_equal(ms, 784111777000LL);
    assert_int_equal(time_parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT", &ms), KT_OK);
    assert_int_equal(ms, 1709164800000LL);
    ms = 7;
    assert_int_equal(time_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date("", &ms), KT_ERR_INVALID);
    assert_int_equal(time_parse_http_date(NULL, &ms), KT_ERR_INVALID);
    assert_int_equal(ms, 7);
}

static void test_retry_after(void **state)
{
    (void)state;
    const int64_t now = 784111777000LL;
    int64_t at = 0;
    assert_int_equal(time_parse_retry_after("120", now, &at), KT_OK);
    assert_int_equal(at, now + 120000);
    assert_int_equal(time_parse_retry_after("0", now, &at), KT_OK);
    assert_int_equal(at, now);
    assert_int_equal(time_parse_retry_after(" 5 ", now, &at), KT_OK);
    assert_int_equal(at, now + 5000);
    assert_int_equal(time_parse_retry_after("99999999999999999999999999", now, &at), KT_OK);
    assert_int_equal(at, now + 366LL * 86400 * 1000); /* capped, no overflow */
    assert_int_equal(time_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now, &at), KT_OK);
    assert_int_equal(at, now + 60000);
    assert_int_equal(time_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, &at), KT_OK);
    assert_int_equal(at, now); /* a date in the past means now */
    at = 3;
    assert_int_equal(time_parse_retry_after("-5", now, &at), KT_ERR_INVALID);
    assert_int_equal(time_parse_retry_after("1.5", now, &at), KT_ERR_INVALID);
    assert_int_equal(time_parse_retry_after("soon", now, &at), KT_ERR_INVALID);
    assert_int_equal(time_parse_retry_after("", now, &at), KT_ERR_INVALID);
    assert_int_equal(time_parse_retry_after(NULL, now, &at), KT_ERR_INVALID);
    assert_int_equal(at, 3);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = time_now_ms();
    assert_true(now > 1700000000000LL); /* after 2023 */
    int64_t a = time_mono_ms(), b = time_mono_ms();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_basic),
        cmocka_unit_test(test_iso_fraction_and_offsets),
        cmocka_unit_test(test_iso_leap_years),
        cmocka_unit_test(test_iso_rejects),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests_name("core_time", tests, NULL, NULL);
}

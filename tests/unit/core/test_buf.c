/* test_buf.c - buf: growth, reserve, cap, NUL termination, detach/reset/free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

static void test_append_grows_and_terminates(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_null(b.data);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_append(&b, "abc", 3), KT_OK);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_memory_equal(b.data + 2997, "abc", 3);
    assert_true(b.cap >= 3001);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_cap_is_hard(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 5);
    assert_int_equal(buf_append(&b, "12345", 5), KT_OK);
    assert_int_equal(buf_append(&b, "6", 1), KT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_printf(&b, "%d", 7), KT_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_append(&b, NULL, 0), KT_OK);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), KT_ERR_TOO_LARGE);
    buf_free(&b);
}

/* The engine sizes a response body from its Content-Length: the appends
 * that follow must not move (copy) the data, and max still holds. */
static void test_reserve_then_append_does_not_move(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(buf_reserve(&b, 3000), KT_OK);
    assert_true(b.cap >= 3001);
    assert_int_equal(b.len, 0);
    const char *at = b.data;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_append(&b, "abc", 3), KT_OK);
    assert_ptr_equal(b.data, at);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_int_equal(buf_reserve(&b, 1097), KT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 3000);
    assert_int_equal(buf_reserve(&b, 1096), KT_OK);
    buf_free(&b);
}

static void test_printf_and_puts(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), KT_OK);
    assert_int_equal(buf_puts(&b, "!"), KT_OK);
    assert_string_equal(b.data, "n=42!");
    assert_int_equal(b.len, 5);
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_printf(&b, "%s", big), KT_OK);
    assert_int_equal(b.len, 5 + 4999);
    assert_int_equal(strlen(b.data), b.len);
    buf_free(&b);
}

static void test_binary_data(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "a\0b", 3), KT_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    buf_free(&b);
}

static void test_detach_reset(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 100);
    size_t len = 99;
    char *empty = buf_detach(&b, &len);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    free(empty);
    assert_int_equal(buf_puts(&b, "hello"), KT_OK);
    char *s = buf_detach(&b, &len);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data);
    assert_int_equal(b.max, 100);
    free(s);
    assert_int_equal(buf_puts(&b, "again"), KT_OK);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_free(&b);
    buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows_and_terminates),
        cmocka_unit_test(test_cap_is_hard),
        cmocka_unit_test(test_reserve_then_append_does_not_move),
        cmocka_unit_test(test_printf_and_puts),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_detach_reset),
    };
    return cmocka_run_group_tests_name("core_buf", tests, NULL, NULL);
}

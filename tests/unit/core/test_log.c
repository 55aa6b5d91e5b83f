/* test_log.c - log: exact logfmt and JSON lines, escaping of hostile values,
 * levels, redaction, truncation, and that JSON lines parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "core/log.h"

static char *mem;
static size_t memlen;
static FILE *sink;

static int setup(void **state)
{
    (void)state;
    sink = open_memstream(&mem, &memlen);
    if (!sink)
        return -1;
    log_set_sink(sink);
    log_set_timestamps(0);
    return log_init("debug", "logfmt") == KT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    log_set_sink(NULL);
    fclose(sink);
    free(mem);
    mem = NULL;
    log_set_timestamps(1);
    log_init("info", "logfmt");
    return 0;
}

/* What was written since the last call (the sink is replaced by a fresh one). */
static const char *output(void)
{
    static char last[16384];
    log_set_sink(NULL);
    fclose(sink);
    snprintf(last, sizeof last, "%s", mem ? mem : "");
    free(mem);
    mem = NULL;
    sink = open_memstream(&mem, &memlen);
    assert_non_null(sink);
    log_set_sink(sink);
    return last;
}

static void test_logfmt_plain(void **state)
{
    (void)state;
    LOG_INFO("http_request", "method=%s path=%s status=%d ms=%.1f", "GET", "/api/me", 200, 1.25);
    assert_string_equal(output(), "level=info event=http_request method=GET path=/api/me status=200 ms=1.2\n");
    LOG_WARN("started");
    assert_string_equal(output(), "level=warn event=started\n");
    log_kv(LOG_ERROR, "job", "kind", "sync", "user", "42", (char *)NULL);
    assert_string_equal(output(), "level=error event=job kind=sync user=42\n");
}

static void test_logfmt_escaping(void **state)
{
    (void)state;
    LOG_INFO("x", "a=%s b=%s c=%s d=%s e=%s", "two words", "k=v", "say \"hi\"", "back\\slash", "");
    assert_string_equal(output(), "level=info event=x a=\"two words\" b=\"k=v\" c=\"say \\\"hi\\\"\" "
                                  "d=\"back\\\\slash\" e=\"\"\n");
    /* a value trying to forge a second line or a second pair */
    LOG_INFO("x", "v=%s", "ok\nlevel=error event=forged");
    assert_string_equal(output(), "level=info event=x v=\"ok\\nlevel=error event=forged\"\n");
    LOG_INFO("x", "v=%s", "tab\there\r\x01\x7f");
    assert_string_equal(output(), "level=info event=x v=\"tab\\there\\r\\u0001\\u007f\"\n");
    LOG_INFO("x", "v=%s", "caf\xc3\xa9 \xff");
    assert_string_equal(output(), "level=info event=x v=\"caf\xc3\xa9 \xef\xbf\xbd\"\n");
    log_kv(LOG_INFO, "x", "bad key=\"", "v", "n", (const char *)NULL, (char *)NULL);
    assert_string_equal(output(), "level=info event=x bad_key__=v n=null\n");
}

static void test_printf_conversions(void **state)
{
    (void)state;
    long l = -5;
    long long ll = 1LL << 40;
    size_t z = 17;
    int64_t i64 = -9;
    LOG_INFO("conv", "a=%ld b=%lld c=%zu d=%" PRId64 " e=%*d f=%.*s g=%c h=%x i=%%lit j=%s", l, ll, z, i64, 4, 7,
             2, "abcdef", 'q', 255u, "end");
    assert_string_equal(output(), "level=info event=conv a=-5 b=1099511627776 c=17 d=-9 e=\"   7\" f=ab g=q "
                                  "h=ff i=%lit j=end\n");
    LOG_INFO("conv", "s=%s:%d", "host", 80);
    assert_string_equal(output(), "level=info event=conv s=host:80\n");
    LOG_INFO("conv", "lonely");
    assert_string_equal(output(), "level=info event=conv msg=lonely\n");
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(log_init("warn", NULL), KT_OK);
    LOG_INFO("hidden");
    LOG_DEBUG("hidden");
    assert_string_equal(output(), "");
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_ERROR));
    LOG_ERROR("shown");
    assert_string_equal(output(), "level=error event=shown\n");
    assert_int_equal(log_init("verbose", NULL), KT_ERR_INVALID);
    assert_int_equal(log_init(NULL, "xml"), KT_ERR_INVALID);
    assert_false(log_enabled(LOG_INFO)); /* unchanged after a bad value */
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("ERROR"), -1);
    assert_int_equal(log_init("debug", NULL), KT_OK);
}

static void test_json_lines(void **state)
{
    (void)state;
    assert_int_equal(log_init(NULL, "json"), KT_OK);
    LOG_INFO("http_request", "method=%s status=%d ms=%.2f ratio=%g code=%s big=%lld", "GET", 200, 1.5, strtod("inf", NULL),
             "007", 1LL << 62);
    assert_string_equal(output(), "{\"level\":\"info\",\"event\":\"http_request\",\"method\":\"GET\",\"status\":200,"
                                  "\"ms\":1.50,\"ratio\":\"inf\",\"code\":\"007\",\"big\":4611686018427387904}\n");
    const char *hostile = "\"},{\"level\":\"error\"\n\\\x01\xc0\xaf";
    LOG_WARN("evil", "v=%s", hostile);
    const char *line = output();
    assert_string_equal(line, "{\"level\":\"warn\",\"event\":\"evil\",\"v\":\"\\\"},{\\\"level\\\":\\\"error\\\"\\n"
                              "\\\\\\u0001\xef\xbf\xbd\xef\xbf\xbd\"}\n");
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "v")),
                        "\"},{\"level\":\"error\"\n\\\x01\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
    log_kv(LOG_INFO, "kv", "a", "1", "b", (const char *)NULL, (char *)NULL);
    assert_string_equal(output(), "{\"level\":\"info\",\"event\":\"kv\",\"a\":\"1\",\"b\":null}\n");
    assert_int_equal(log_init(NULL, "logfmt"), KT_OK);
}

static void test_redact(void **state)
{
    (void)state;
    char tmp[32];
    assert_string_equal(log_redact("BQDsecret-token", tmp), "<redacted:15>");
    assert_string_equal(log_redact("", tmp), "<redacted:0>");
    assert_string_equal(log_redact(NULL, tmp), "<redacted:null>");
    LOG_INFO("token", "access_token=%s", log_redact("BQDsecret-token", tmp));
    const char *line = output();
    assert_string_equal(line, "level=info event=token access_token=<redacted:15>\n");
    assert_null(strstr(line, "BQD"));
}

static void test_long_values_bounded(void **state)
{
    (void)state;
    char *big = malloc(100000);
    memset(big, 'a', 99999);
    big[99999] = '\0';
    LOG_INFO("big", "v=%s", big);
    const char *line = output();
    assert_true(strlen(line) < LOG_LINE_MAX);
    assert_non_null(strstr(line, "aaa...\n"));
    /* many long pairs: the line stays bounded, well-formed, and says so */
    assert_int_equal(log_init(NULL, "json"), KT_OK);
    big[3000] = '\0';
    LOG_INFO("many", "a=%s b=%s c=%s d=%s e=%s", big, big, big, big, big);
    line = output();
    assert_true(strlen(line) < LOG_LINE_MAX);
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    assert_int_equal(log_init(NULL, "logfmt"), KT_OK);
    free(big);
}

static void test_timestamps(void **state)
{
    (void)state;
    log_set_timestamps(1);
    LOG_INFO("ts");
    const char *line = output();
    assert_memory_equal(line, "ts=20", 5);
    assert_non_null(strstr(line, "Z level=info event=ts\n"));
    log_set_timestamps(0);
}

static void *log_many(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 300; i++)
        LOG_INFO("t", "thread=%d i=%d pad=%s", id, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void test_threads_never_interleave(void **state)
{
    (void)state;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_many, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    log_set_sink(NULL);
    fclose(sink);
    int seen[8][300] = {{0}};
    int lines = 0;
    for (char *line = strtok(mem, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        int id = -1, i = -1, end = 0;
        assert_int_equal(sscanf(line, "level=info event=t thread=%d i=%d pad=%*[x]%n", &id, &i, &end), 2);
        assert_int_equal(line[end], '\0');
        assert_in_range(id, 0, 7);
        assert_in_range(i, 0, 299);
        seen[id][i]++;
    }
    assert_int_equal(lines, 8 * 300);
    for (int id = 0; id < 8; id++)
        for (int i = 0; i < 300; i++)
            assert_int_equal(seen[id][i], 1);
    free(mem);
    mem = NULL;
    sink = open_memstream(&mem, &memlen);
    log_set_sink(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logfmt_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_printf_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_values_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_never_interleave, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_log", tests, NULL, NULL);
}

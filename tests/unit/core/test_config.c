/* test_config.c - config: defaults and derived defaults, precedence
 * flags > env > file > default, argv consumption, config-file errors, every
 * validator naming its option, the dump never printing a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const char *const vars[] = {
    "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REDIRECT_URI", "SPOTIFY_ACCOUNTS_URL",
    "SPOTIFY_API_URL", "SPOTIFY_SCOPES", "KEEPTRACK_DATA_DIR", "KEEPTRACK_DB", "KEEPTRACK_LISTEN",
    "KEEPTRACK_PUBLIC_URL", "KEEPTRACK_SECRET_KEY", "KEEPTRACK_SECRET_KEY_PREVIOUS", "KEEPTRACK_SECRET_KEY_FILE",
    "KEEPTRACK_ADMIN_TOKEN", "KEEPTRACK_LOG_LEVEL", "KEEPTRACK_LOG_FORMAT", "KEEPTRACK_HTTP_THREADS", "KEEPTRACK_HTTP_WORKERS",
    "KEEPTRACK_HTTP_MAX_CONNECTIONS",
    "KEEPTRACK_HTTP_IDLE_TIMEOUT",
    "KEEPTRACK_DB_POOL", "KEEPTRACK_SESSION_DAYS", "KEEPTRACK_SPOTIFY_CONCURRENCY", "KEEPTRACK_SPOTIFY_BUDGET",
    "KEEPTRACK_SPOTIFY_TIMEOUT_MS", "KEEPTRACK_UI_PATH", "KEEPTRACK_CONFIG", NULL};

static char file_path[64];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    snprintf(file_path, sizeof file_path, "/tmp/kt-config-XXXXXX");
    int fd = mkstemp(file_path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(file_path);
    return 0;
}

static void write_config_file(const char *text)
{
    FILE *f = fopen(file_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    (void)state;
    kt_config c;
    kt_err err;
    config_init(&c);
    assert_int_equal(config_load(&c, NULL, NULL, &err), KT_OK);
    assert_null(c.spotify_client_id);
    assert_null(c.spotify_client_secret);
    assert_string_equal(c.spotify_redirect_uri, "http://127.0.0.1:8080/api/auth/callback");
    assert_string_equal(c.spotify_accounts_url, "https://accounts.spotify.com");
    assert_string_equal(c.spotify_api_url, "https://api.spotify.com/v1");
    assert_string_equal(c.spotify_scopes,
                        "user-read-private user-library-read user-library-modify playlist-read-private "
                        "playlist-read-collaborative playlist-modify-private playlist-modify-public "
                        "user-follow-read user-top-read user-read-recently-played");
    assert_string_equal(c.data_dir, "/xdg/keeptrack");
    assert_string_equal(c.db, "/xdg/keeptrack/keeptrack.db");
    assert_string_equal(c.secret_key_file, "/xdg/keeptrack/secret.key");
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.public_url, "http://127.0.0.1:8080");
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.log_format, "logfmt");
    assert_string_equal(c.ui_path, "/");
    assert_int_equal(c.http_threads, 0);
    assert_int_equal(c.http_workers, 16);
    assert_int_equal(c.http_max_connections, 16384);
    assert_int_equal(c.http_idle_timeout, 30);
    assert_int_equal(c.db_pool, 8);
    assert_int_equal(c.session_days, 30);
    assert_int_equal(c.spotify_concurrency, 8);
    assert_int_equal(c.spotify_timeout_ms, 30000);
    assert_true(c.spotify_budget == 10.0);
    assert_null(c.config_file);
    assert_int_equal(config_validate_values(&c, &err), KT_OK);
    assert_int_equal(config_validate(&c, &err), KT_ERR_INVALID);
    assert_string_equal(err.msg, "SPOTIFY_CLIENT_ID is not set: create an app at developer.spotify.com, add the "
                                 "redirect URI http://127.0.0.1:8080/api/auth/callback to it, and set "
                                 "SPOTIFY_CLIENT_ID (or --spotify-client-id)");
    config_free(&c);
    config_free(NULL);

    unsetenv("XDG_DATA_HOME");
    config_init(&c);
    assert_int_equal(config_load(&c, NULL, NULL, &err), KT_OK);
    assert_string_equal(c.data_dir, "/home/u/.local/share/keeptrack");
    config_free(&c);
    unsetenv("HOME");
    config_init(&c);
    assert_int_equal(config_load(&c, NULL, NULL, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "KEEPTRACK_DATA_DIR"));
    config_free(&c);
}

static void test_precedence(void **state)
{
    (void)state;
    write_config_file("# keeptrack\n"
                      "KEEPTRACK_HTTP_THREADS=3\n"
                      "export KEEPTRACK_DB_POOL = 4\n"
                      "KEEPTRACK_SESSION_DAYS=\"5\"\n"
                      "  SPOTIFY_CLIENT_ID='from-file'  \n"
                      "\n"
                      "KEEPTRACK_DATA_DIR=/data\n");
    setenv("KEEPTRACK_DB_POOL", "6", 1);
    setenv("KEEPTRACK_SESSION_DAYS", "7", 1);
    setenv("KEEPTRACK_LOG_LEVEL", "", 1); /* empty = unset */
    char *argv[] = {"keeptrack", "--config", file_path, "sync", "--session-days", "9", "--unknown", "x",
                    "--public-url=https://kt.example/", "--", "--listen", "1.2.3.4:5", NULL};
    int argc = 12;
    kt_config c;
    kt_err err;
    config_init(&c);
    assert_int_equal(config_load(&c, &argc, argv, &err), KT_OK);
    assert_int_equal(c.http_threads, 3);  /* file */
    assert_int_equal(c.db_pool, 6);       /* env beats file */
    assert_int_equal(c.session_days, 9);  /* flag beats env */
    assert_int_equal(c.spotify_concurrency, 8);
    assert_string_equal(c.spotify_client_id, "from-file");
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.data_dir, "/data");
    assert_string_equal(c.db, "/data/keeptrack.db");
    assert_string_equal(c.listen, "127.0.0.1:8080"); /* after "--": not ours */
    assert_string_equal(c.public_url, "https://kt.example"); /* trailing slash removed */
    assert_string_equal(c.config_file, file_path);
    assert_int_equal(argc, 7);
    const char *rest[] = {"keeptrack", "sync", "--unknown", "x", "--", "--listen", "1.2.3.4:5"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(argv[i], rest[i]);
    assert_null(argv[7]);
    assert_int_equal(config_validate(&c, &err), KT_OK);
    config_free(&c);

    /* the file can also come from KEEPTRACK_CONFIG; --config=PATH form */
    setenv("KEEPTRACK_CONFIG", file_path, 1);
    config_init(&c);
    assert_int_equal(config_load(&c, NULL, NULL, &err), KT_OK);
    assert_int_equal(c.http_threads, 3);
    config_free(&c);
    unsetenv("KEEPTRACK_CONFIG");
    char *argv2[] = {"keeptrack", "--http-threads", "12", NULL};
    char cfg_flag[96];
    snprintf(cfg_flag, sizeof cfg_flag, "--config=%s", file_path);
    char *argv3[] = {"keeptrack", cfg_flag, NULL};
    argc = 3;
    config_init(&c);
    assert_int_equal(config_load(&c, &argc, argv2, &err), KT_OK);
    assert_int_equal(c.http_threads, 12);
    assert_int_equal(argc, 1);
    config_free(&c);
    argc = 2;
    config_init(&c);
    assert_int_equal(config_load(&c, &argc, argv3, &err), KT_OK);
    assert_int_equal(c.http_threads, 3);
    assert_int_equal(argc, 1);
    config_free(&c);
}

static void expect_load_error(const char *file_text, char **argv, int argc, const char *needle)
{
    kt_config c;
    kt_err err;
    if (file_text) {
        write_config_file(file_text);
        setenv("KEEPTRACK_CONFIG", file_path, 1);
    }
    config_init(&c);
    assert_int_equal(config_load(&c, argv ? &argc : NULL, argv, &err), KT_ERR_INVALID);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    config_free(&c);
    unsetenv("KEEPTRACK_CONFIG");
}

static void test_load_errors(void **state)
{
    (void)state;
    char line_ref[96];
    snprintf(line_ref, sizeof line_ref, "%s:2", file_path);
    expect_load_error("# ok\nNOT_A_SETTING=1\n", NULL, 0, line_ref);
    expect_load_error("# ok\nNOT_A_SETTING=1\n", NULL, 0, "unknown setting 'NOT_A_SETTING'");
    expect_load_error("just text\n", NULL, 0, "expected KEY=value");
    expect_load_error("KEEPTRACK_HTTP_THREADS=many\n", NULL, 0, "KEEPTRACK_HTTP_THREADS");
    expect_load_error("KEEPTRACK_SPOTIFY_BUDGET=nan\n", NULL, 0, "is not a number");
    char *a1[] = {"keeptrack", "--db-pool", NULL};
    expect_load_error(NULL, a1, 2, "--db-pool needs a value");
    char *a2[] = {"keeptrack", "--db-pool=lots", NULL};
    expect_load_error(NULL, a2, 2, "--db-pool");
    char *a3[] = {"keeptrack", "--config", "/nonexistent/kt.conf", NULL};
    expect_load_error(NULL, a3, 3, "config file");
    setenv("KEEPTRACK_SESSION_DAYS", "99999999999", 1);
    expect_load_error(NULL, NULL, 0, "KEEPTRACK_SESSION_DAYS");
    unsetenv("KEEPTRACK_SESSION_DAYS");
}

/* Sets one env var (plus a client id), loads, validates; returns the message. */
static kt_status validate_with(const char *var, const char *value, char msg[320])
{
    kt_config c;
    kt_err err;
    err_clear(&err);
    setenv("SPOTIFY_CLIENT_ID", "0123456789abcdef0123456789abcdef", 1);
    setenv(var, value, 1);
    config_init(&c);
    kt_status st = config_load(&c, NULL, NULL, &err);
    if (st == KT_OK)
        st = config_validate(&c, &err);
    snprintf(msg, 320, "%s", err.msg);
    config_free(&c);
    unsetenv(var);
    return st;
}

static void test_validators_name_the_option(void **state)
{
    (void)state;
    static const struct {
        const char *var, *value, *needle;
    } bad[] = {
        {"SPOTIFY_REDIRECT_URI", "http://localhost:8080/api/auth/callback", "http://127.0.0.1:PORT"},
        {"SPOTIFY_REDIRECT_URI", "http://localhost:8080/api/auth/callback", "localhost"},
        {"SPOTIFY_REDIRECT_URI", "http://example.com/cb", "https"},
        {"SPOTIFY_REDIRECT_URI", "not a url", "not a valid URL"},
        {"SPOTIFY_ACCOUNTS_URL", "ftp://accounts", "http:// or https://"},
        {"SPOTIFY_API_URL", "https://", "no host"},
        {"KEEPTRACK_PUBLIC_URL", "kt.example.com", "not a valid URL"},
        {"SPOTIFY_CLIENT_SECRET", "has space", "space"},
        {"SPOTIFY_SCOPES", "user-read-private UPPER", "scope names"},
        {"KEEPTRACK_LISTEN", "8080", "HOST:PORT"},
        {"KEEPTRACK_LISTEN", "::1:8080", "HOST:PORT"},
        {"KEEPTRACK_LISTEN", "127.0.0.1:70000", "HOST:PORT"},
        {"KEEPTRACK_LISTEN", "127.0.0.1:", "HOST:PORT"},
        {"KEEPTRACK_SECRET_KEY", "tiny1", "keeptrack keys generate"},
        {"KEEPTRACK_SECRET_KEY_PREVIOUS", KEY_A ",bad", "comma-separated"},
        {"KEEPTRACK_ADMIN_TOKEN", "tiny1", "at least 16"},
        {"KEEPTRACK_LOG_LEVEL", "verbose", "debug|info|warn|error"},
        {"KEEPTRACK_LOG_FORMAT", "xml", "logfmt|json"},
        {"KEEPTRACK_HTTP_THREADS", "257", "between 0 and 256, got 257"},
        {"KEEPTRACK_DB_POOL", "1000", "between 1 and 256, got 1000"},
        {"KEEPTRACK_SESSION_DAYS", "-1", "between 1 and 3650"},
        {"KEEPTRACK_SPOTIFY_CONCURRENCY", "65", "between 1 and 64"},
        {"KEEPTRACK_SPOTIFY_BUDGET", "0", "between 0.01 and 1000"},
        {"KEEPTRACK_SPOTIFY_TIMEOUT_MS", "5", "between 100 and 600000"},
        {"KEEPTRACK_UI_PATH", "//evil.example", "single '/'"},
        {"KEEPTRACK_UI_PATH", "https://evil.example", "single '/'"},
        {"KEEPTRACK_UI_PATH", "/\\evil.example", "single '/'"},
    };
    char msg[320];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (validate_with(bad[i].var, bad[i].value, msg) != KT_ERR_INVALID)
            fail_msg("%s=%s was accepted", bad[i].var, bad[i].value);
        if (!strstr(msg, bad[i].var) || !strstr(msg, bad[i].needle))
            fail_msg("%s=%s: message '%s' lacks the option or '%s'", bad[i].var, bad[i].value, msg,
                     bad[i].needle);
        if (strcmp(bad[i].var, "KEEPTRACK_SECRET_KEY") == 0 || strcmp(bad[i].var, "KEEPTRACK_ADMIN_TOKEN") == 0)
            assert_null(strstr(msg, bad[i].value)); /* never echo a secret */
    }
    static const struct {
        const char *var, *value;
    } good[] = {
        {"SPOTIFY_REDIRECT_URI", "http://127.0.0.1:9999/api/auth/callback"},
        {"SPOTIFY_REDIRECT_URI", "http://[::1]:8080/api/auth/callback"},
        {"SPOTIFY_REDIRECT_URI", "https://kt.example.com/api/auth/callback"},
        {"SPOTIFY_ACCOUNTS_URL", "http://127.0.0.1:4000"},
        {"KEEPTRACK_LISTEN", "[::1]:8080"},
        {"KEEPTRACK_LISTEN", "0.0.0.0:8080"},
        {"KEEPTRACK_SECRET_KEY", KEY_A},
        {"KEEPTRACK_SECRET_KEY_PREVIOUS", KEY_A ", " KEY_A},
        {"KEEPTRACK_ADMIN_TOKEN", "0123456789abcdef"},
        {"KEEPTRACK_DB", "postgresql://kt:pw@127.0.0.1:5432/kt"},
        {"KEEPTRACK_SPOTIFY_BUDGET", "0.5"},
        {"KEEPTRACK_UI_PATH", "/app/#/home"},
        {"KEEPTRACK_LOG_FORMAT", "json"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (validate_with(good[i].var, good[i].value, msg) != KT_OK)
            fail_msg("%s=%s refused: %s", good[i].var, good[i].value, msg);
}

static char *capture(void (*fn)(FILE *, const kt_config *), void (*help)(FILE *), const kt_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    if (fn)
        fn(f, c);
    else
        help(f);
    fclose(f);
    return text;
}

static void test_dump_hides_secrets(void **state)
{
    (void)state;
    setenv("SPOTIFY_CLIENT_ID", "visible-client-id", 1);
    setenv("SPOTIFY_CLIENT_SECRET", "client-secret-value", 1);
    setenv("KEEPTRACK_SECRET_KEY", KEY_A, 1);
    setenv("KEEPTRACK_ADMIN_TOKEN", "admin-token-value-123", 1);
    setenv("KEEPTRACK_DB", "postgresql://kt:db-password@127.0.0.1:5432/kt", 1);
    kt_config c;
    kt_err err;
    config_init(&c);
    assert_int_equal(config_load(&c, NULL, NULL, &err), KT_OK);
    char *text = capture(config_dump, NULL, &c);
    assert_null(strstr(text, "client-secret-value"));
    assert_null(strstr(text, KEY_A));
    assert_null(strstr(text, "admin-token-value"));
    assert_null(strstr(text, "db-password"));
    assert_non_null(strstr(text, "SPOTIFY_CLIENT_ID = visible-client-id\n"));
    assert_non_null(strstr(text, "SPOTIFY_CLIENT_SECRET = (set)\n"));
    assert_non_null(strstr(text, "KEEPTRACK_SECRET_KEY = (set)\n"));
    assert_non_null(strstr(text, "KEEPTRACK_SECRET_KEY_PREVIOUS = (unset)\n"));
    assert_non_null(strstr(text, "KEEPTRACK_ADMIN_TOKEN = (set)\n"));
    assert_non_null(strstr(text, "KEEPTRACK_DB = postgresql://kt:***@127.0.0.1:5432/kt\n"));
    assert_non_null(strstr(text, "KEEPTRACK_HTTP_THREADS = 0\n"));
    assert_non_null(strstr(text, "KEEPTRACK_SPOTIFY_BUDGET = 10\n"));
    free(text);
    config_free(&c);
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
}

static void test_help(void **state)
{
    (void)state;
    char *text = capture(NULL, config_print_help, NULL);
    for (int i = 0; vars[i]; i++)
        if (!strstr(text, vars[i]))
            fail_msg("--help does not mention %s", vars[i]);
    assert_non_null(strstr(text, "  --spotify-client-id VALUE\n      env SPOTIFY_CLIENT_ID"));
    assert_non_null(strstr(text, "--log-format logfmt|json"));
    assert_non_null(strstr(text, "default 127.0.0.1:8080"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validators_name_the_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_hides_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_config", tests, NULL, NULL);
}

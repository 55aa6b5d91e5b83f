/* test_ops.c - operations: the metrics registry and its exposition text
 * (services/metrics.h), the shared Spotify request budget
 * (store/store_budget.h) and the operations SQL (store/store_ops.h).
 *
 * The store cases run on a fresh SQLite database and on a fresh PostgreSQL
 * schema each (tests/unit/store/testdb.h; PostgreSQL cases skip with a
 * message when KEEPTRACK_TEST_PG is unset and fail when it is set but
 * unusable), with explicit timestamps so the clock is the test's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "services/metrics.h"
#include "store/store.h"
#include "store/store_budget.h"
#include "store/store_ops.h"
#include "testdb_cmocka.h"

#define T0 1700000000000LL

/* ---- metrics (no database) ---- */

static char *render_local(void)
{
    buf b;
    kt_err err = {0};
    buf_init(&b, 1 << 24);
    assert_int_equal(metrics_render(NULL, &b, &err), KT_OK);
    return buf_detach(&b, NULL);
}

static void assert_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("missing line: %s\n--- in ---\n%s", line, text);
}

static void test_metrics_http_counts_and_histogram(void **state)
{
    (void)state;
    metrics_reset();
    metrics_set_start_time(T0);
    metrics_http_begin();
    metrics_http_begin();
    metrics_http_begin();
    metrics_http_done("GET", "/api/jobs/{id}", 200, 0.003);  /* le 0.005 */
    metrics_http_done("GET", "/api/jobs/{id}", 200, 0.2);    /* le 0.25 */
    metrics_http_done("GET", "/api/jobs/{id}", 404, 20.0);   /* only +Inf */
    metrics_http_begin();
    metrics_token_refresh("ok");
    metrics_token_refresh("ok");
    metrics_token_refresh("revoked");
    char *t = render_local();
    assert_has_line(t, "# TYPE process_start_time_seconds gauge");
    assert_has_line(t, "process_start_time_seconds 1700000000");
    assert_has_line(t, "keeptrack_http_requests_in_flight 1");
    assert_has_line(t, "# TYPE keeptrack_http_requests_total counter");
    assert_has_line(t, "keeptrack_http_requests_total{method=\"GET\",route=\"/api/jobs/{id}\","
                       "status=\"200\"} 2");
    assert_has_line(t, "keeptrack_http_requests_total{method=\"GET\",route=\"/api/jobs/{id}\","
                       "status=\"404\"} 1");
    assert_has_line(t, "# TYPE keeptrack_http_request_duration_seconds histogram");
    const char *h = "keeptrack_http_request_duration_seconds_bucket{method=\"GET\","
                    "route=\"/api/jobs/{id}\",le=";
    char line[256];
    static const struct { const char *le; int n; } want[] = {
        {"0.005", 1}, {"0.01", 1}, {"0.025", 1}, {"0.05", 1}, {"0.1", 1}, {"0.25", 2},
        {"0.5", 2},   {"1", 2},    {"2.5", 2},   {"5", 2},    {"10", 2},  {"+Inf", 3}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "%s\"%s\"} %d", h, want[i].le, want[i].n);
        assert_has_line(t, line);
    }
    assert_has_line(t, "keeptrack_http_request_duration_seconds_count{method=\"GET\","
                       "route=\"/api/jobs/{id}\"} 3");
    assert_has_line(t, "keeptrack_http_request_duration_seconds_sum{method=\"GET\","
                       "route=\"/api/jobs/{id}\"} 20.202999999999999");
    assert_has_line(t, "keeptrack_token_refreshes_total{outcome=\"ok\"} 2");
    assert_has_line(t, "keeptrack_token_refreshes_total{outcome=\"revoked\"} 1");
    /* no database and no Spotify client: those families are left out */
    assert_null(strstr(t, "keeptrack_jobs"));
    assert_null(strstr(t, "keeptrack_metrics_db_up"));
    free(t);
}

static void test_metrics_labels_are_escaped_and_bounded(void **state)
{
    (void)state;
    metrics_reset();
    metrics_http_begin();
    metrics_http_done("BREW", "/a\"b\\c\nd", 418, 0.001);
    metrics_http_begin();
    metrics_http_done(NULL, NULL, -5, -1.0);
    char *t = render_local();
    /* unknown methods are OTHER; quotes, backslashes and newlines escaped */
    assert_has_line(t, "keeptrack_http_requests_total{method=\"OTHER\",route=\"/a\\\"b\\\\c\\nd\","
                       "status=\"418\"} 1");
    assert_has_line(t, "keeptrack_http_requests_total{method=\"OTHER\",route=\"unmatched\","
                       "status=\"0\"} 1");
    assert_has_line(t, "keeptrack_http_requests_in_flight 0");
    assert_null(strstr(t, "BREW"));
    free(t);

    /* past METRICS_MAX_SERIES distinct series, new ones share route="other" */
    metrics_reset();
    for (int i = 0; i < METRICS_MAX_SERIES + 100; i++) {
        char route[32];
        snprintf(route, sizeof route, "/r%d", i);
        metrics_http_begin();
        metrics_http_done("GET", route, 200, 0.001);
    }
    t = render_local();
    assert_has_line(t, "keeptrack_http_requests_total{method=\"GET\",route=\"/r0\",status=\"200\"} 1");
    assert_has_line(t, "keeptrack_http_requests_total{method=\"OTHER\",route=\"other\","
                       "status=\"0\"} 101");
    assert_null(strstr(t, "route=\"/r511\""));
    assert_has_line(t, "keeptrack_http_request_duration_seconds_count{method=\"OTHER\","
                       "route=\"other\"} 101");
    free(t);
    metrics_reset();
}

/* ---- the shared budget ---- */

static void test_budget_bucket(void **state)
{
    testdb *db = testdb_state(state);
    kt_err err = {0};
    int64_t wait = -1;
    /* 2 tokens/s, burst 3 */
    assert_int_equal(store_budget_take(db->s, "spotify", T0, &wait, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_budget_configure(db->s, "spotify", 0, 3000, T0, &err), KT_ERR_INVALID);
    assert_int_equal(store_budget_configure(db->s, "spotify", 2000, 999, T0, &err), KT_ERR_INVALID);
    assert_int_equal(store_budget_configure(db->s, "spotify", 2000, 3000, T0, &err), KT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_budget_take(db->s, "spotify", T0, &wait, &err), KT_OK);
        assert_int_equal(wait, 0);
    }
    assert_int_equal(store_budget_take(db->s, "spotify", T0, &wait, &err), KT_OK);
    assert_int_equal(wait, 500); /* one token at 2/s */
    assert_int_equal(store_budget_take(db->s, "spotify", T0 + 200, &wait, &err), KT_OK);
    assert_int_equal(wait, 300);
    assert_int_equal(store_budget_take(db->s, "spotify", T0 + 500, &wait, &err), KT_OK);
    assert_int_equal(wait, 0);
    /* a clock behind the last take refills nothing (and keeps updated_at) */
    assert_int_equal(store_budget_take(db->s, "spotify", T0 - 60000, &wait, &err), KT_OK);
    assert_int_equal(wait, 500);
    /* a long idle time fills up to the burst, not beyond */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_budget_take(db->s, "spotify", T0 + 3600000, &wait, &err), KT_OK);
        assert_int_equal(wait, 0);
    }
    assert_int_equal(store_budget_take(db->s, "spotify", T0 + 3600000, &wait, &err), KT_OK);
    assert_int_equal(wait, 500);
    /* reconfiguring changes the rate at once; the level is kept */
    assert_int_equal(store_budget_configure(db->s, "spotify", 10000, 3000, T0, &err), KT_OK);
    assert_int_equal(store_budget_take(db->s, "spotify", T0 + 3600000, &wait, &err), KT_OK);
    assert_int_equal(wait, 100);
    /* another budget is independent */
    assert_int_equal(store_budget_configure(db->s, "other", 1000, 1000, T0, &err), KT_OK);
    assert_int_equal(store_budget_take(db->s, "other", T0 + 3600000, &wait, &err), KT_OK);
    assert_int_equal(wait, 0);
}

#define TAKERS 8
#define TRIES 25

typedef struct taker {
    const char *url;
    int taken;
    int failed;
} taker;

static void *take_many(void *arg)
{
    taker *t = arg;
    store *s = NULL;
    kt_err err = {0};
    if (store_open(t->url, &s, &err) != KT_OK) {
        t->failed = 1;
        return NULL;
    }
    for (int i = 0; i < TRIES; i++) {
        int64_t wait = -1;
        if (store_budget_take(s, "spotify", T0, &wait, &err) != KT_OK) {
            t->failed = 1;
            break;
        }
        t->taken += wait == 0;
    }
    store_close(s);
    return NULL;
}

/* Many connections taking at once (no time passes): exactly the burst is
 * handed out, never a token more. */
static void test_budget_concurrent_takers_never_overdraw(void **state)
{
    testdb *db = testdb_state(state);
    kt_err err = {0};
    pthread_t th[TAKERS];
    taker t[TAKERS];
    int total = 0;
    assert_int_equal(store_budget_configure(db->s, "spotify", 1000, 50000, T0, &err), KT_OK);
    for (int i = 0; i < TAKERS; i++) {
        t[i] = (taker){.url = db->url};
        assert_int_equal(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
    }
    for (int i = 0; i < TAKERS; i++) {
        pthread_join(th[i], NULL);
        assert_false(t[i].failed);
        total += t[i].taken;
    }
    assert_int_equal(total, 50);
}

/* ---- operations SQL ---- */

static int64_t add_user(store *s, const char *account)
{
    int64_t id = 0;
    kt_err err = {0};
    store_param p[] = {SP_TEXT(account), SP_TEXT(account), SP_INT(T0), SP_INT(T0), SP_INT(T0)};
    assert_int_equal(store_query_int(s,
                                     "INSERT INTO users (account_id, spotify_id, status, "
                                     "authorized_at, created_at, updated_at) VALUES "
                                     "(?, ?, 'active', ?, ?, ?) RETURNING id",
                                     p, 5, &id, &err),
                     KT_OK);
    return id;
}

static void add_run(store *s, int64_t user, int64_t started, int64_t ms, const char *status)
{
    kt_err err = {0};
    store_param p[] = {SP_INT(user), SP_INT(started), ms < 0 ? SP_NULL : SP_INT(started + ms),
                       SP_TEXT(status)};
    assert_int_equal(store_exec(s,
                                "INSERT INTO sync_runs (user_id, what, started_at, finished_at, "
                                "status) VALUES (?, 'liked', ?, ?, ?)",
                                p, 4, NULL, &err),
                     KT_OK);
}

static void test_sync_durations(void **state)
{
    testdb *db = testdb_state(state);
    kt_err err = {0};
    store_ops_sync_hist h[STORE_OPS_SYNC_MAX_STATUS];
    size_t n = 99;
    assert_int_equal(store_ops_sync_durations(db->s, h, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    int64_t u = add_user(db->s, "alice");
    add_run(db->s, u, T0, 500, "done");        /* le 1 s */
    add_run(db->s, u, T0 + 1, 1000, "done");   /* le 1 s (bounds are inclusive) */
    add_run(db->s, u, T0 + 2, 70000, "done");  /* le 120 s */
    add_run(db->s, u, T0 + 3, 9000000, "done");/* only +Inf */
    add_run(db->s, u, T0 + 4, 3000, "failed"); /* le 5 s */
    add_run(db->s, u, T0 + 5, -1, "running");  /* not finished: not counted */
    assert_int_equal(store_ops_sync_durations(db->s, h, &n, &err), KT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].status, "done");
    assert_int_equal(h[0].count, 4);
    assert_int_equal(h[0].sum_ms, 500 + 1000 + 70000 + 9000000);
    static const int64_t want_done[STORE_OPS_SYNC_NBUCKETS] = {2, 2, 2, 2, 2, 3, 3, 3, 3, 3};
    for (size_t i = 0; i < STORE_OPS_SYNC_NBUCKETS; i++)
        assert_int_equal(h[0].le[i], want_done[i]);
    assert_string_equal(h[1].status, "failed");
    assert_int_equal(h[1].count, 1);
    assert_int_equal(h[1].le[0], 0);
    assert_int_equal(h[1].le[1], 1);
}

static void test_user_overview(void **state)
{
    testdb *db = testdb_state(state);
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t a = add_user(db->s, "alice"), b = add_user(db->s, "bob");
    add_run(db->s, a, T0 + 10, 100, "failed");
    add_run(db->s, a, T0 + 20, -1, "running");
    add_run(db->s, a, T0 + 5, 100, "done");
    store_param p[] = {SP_INT(b), SP_BLOB("x", 1), SP_INT(T0 + 3600000)};
    assert_int_equal(store_exec(db->s,
                                "INSERT INTO user_tokens (user_id, access_token, expires_at, key_id, "
                                "updated_at) VALUES (?, ?, ?, 'k1', 0)",
                                p, 3, NULL, &err),
                     KT_OK);
    assert_int_equal(store_ops_user_overview(db->s, &r, &err), KT_OK);
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_columns(r), STORE_OPS_USER_NCOLS);
    assert_int_equal(store_rows_int(r, 0, STORE_OPS_USER_ID), a);
    assert_string_equal(store_rows_text(r, 0, STORE_OPS_USER_ACCOUNT), "alice");
    assert_true(store_rows_is_null(r, 0, STORE_OPS_USER_NAME));
    assert_string_equal(store_rows_text(r, 0, STORE_OPS_USER_STATUS), "active");
    assert_int_equal(store_rows_int(r, 0, STORE_OPS_USER_AUTHORIZED_AT), T0);
    assert_true(store_rows_is_null(r, 0, STORE_OPS_USER_TOKEN_EXPIRES));
    assert_int_equal(store_rows_int(r, 0, STORE_OPS_USER_LAST_SYNC_AT), T0 + 20);
    assert_string_equal(store_rows_text(r, 0, STORE_OPS_USER_LAST_SYNC), "running");
    assert_int_equal(store_rows_int(r, 1, STORE_OPS_USER_TOKEN_EXPIRES), T0 + 3600000);
    assert_true(store_rows_is_null(r, 1, STORE_OPS_USER_LAST_SYNC_AT));
    assert_true(store_rows_is_null(r, 1, STORE_OPS_USER_LAST_SYNC));
    store_rows_free(r);
}

#define BOTH(fn)                                                               \
    cmocka_unit_test_setup_teardown(fn, testdb_setup_sqlite, testdb_teardown), \
        cmocka_unit_test_setup_teardown(fn, testdb_setup_pg, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_http_counts_and_histogram),
        cmocka_unit_test(test_metrics_labels_are_escaped_and_bounded),
        BOTH(test_budget_bucket),
        BOTH(test_budget_concurrent_takers_never_overdraw),
        BOTH(test_sync_durations),
        BOTH(test_user_overview),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

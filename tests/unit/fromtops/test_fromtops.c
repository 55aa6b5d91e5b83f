/* test_fromtops.c - the contract of store_fromtops.h on SQLite and
 * PostgreSQL: saving the same spec again finds the same row (name and
 * refresh updated, nothing else), every column a read returns, user
 * scoping of get and delete, the per-user limit, recording a run, and
 * which definitions are due for their weekly or monthly refresh.
 * PostgreSQL cases skip when KEEPTRACK_TEST_PG is unset
 * (tests/unit/store/testdb.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_auth.h"
#include "store/store_fromtops.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK
#define DAY 86400000LL

static const store_fromtops_def spotify_def = {
    .spec = "spotify:short_term:5", .source = "spotify", .time_range = "short_term",
    .from_ms = -1, .to_ms = -1, .limit = 5, .name = "Top 5", .refresh = "none"};
static const store_fromtops_def history_def = {
    .spec = "history:time:custom:1000:2000:20", .source = "history", .period = "custom",
    .from_ms = 1000, .to_ms = 2000, .by = "time", .limit = 20, .name = "Mine",
    .refresh = "weekly"};

static void test_save_get_list_delete(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t id1 = 0, id2 = 0, again = 0;
    int created = -1;
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    OK(store_fromtops_save(s, alice, &spotify_def, 100, &id1, &created, &err));
    assert_int_equal(created, 1);
    OK(store_fromtops_save(s, alice, &history_def, 200, &id2, &created, &err));
    assert_int_equal(created, 1);
    assert_int_not_equal(id1, id2);

    /* the same spec: the same row, its name and refresh updated */
    store_fromtops_def renamed = spotify_def;
    renamed.name = "Renamed";
    renamed.refresh = "monthly";
    OK(store_fromtops_save(s, alice, &renamed, 300, &again, &created, &err));
    assert_int_equal(again, id1);
    assert_int_equal(created, 0);
    /* bob's identical spec is his own row */
    OK(store_fromtops_save(s, bob, &spotify_def, 400, &again, &created, &err));
    assert_int_not_equal(again, id1);
    assert_int_equal(created, 1);

    OK(store_fromtops_list(s, alice, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 0), id1);
    assert_string_equal(store_rows_text(r, 0, 1), "spotify");
    assert_string_equal(store_rows_text(r, 0, 2), "short_term");
    assert_true(store_rows_is_null(r, 0, 3));
    assert_true(store_rows_is_null(r, 0, 4));
    assert_true(store_rows_is_null(r, 0, 5));
    assert_true(store_rows_is_null(r, 0, 6));
    assert_int_equal(store_rows_int(r, 0, 7), 5);
    assert_string_equal(store_rows_text(r, 0, 8), "Renamed");
    assert_string_equal(store_rows_text(r, 0, 9), "monthly");
    assert_true(store_rows_is_null(r, 0, 10));
    assert_true(store_rows_is_null(r, 0, 11));
    assert_int_equal(store_rows_int(r, 0, 12), 100); /* created once */
    assert_int_equal(store_rows_int(r, 1, 0), id2);
    assert_string_equal(store_rows_text(r, 1, 1), "history");
    assert_true(store_rows_is_null(r, 1, 2));
    assert_string_equal(store_rows_text(r, 1, 3), "custom");
    assert_int_equal(store_rows_int(r, 1, 4), 1000);
    assert_int_equal(store_rows_int(r, 1, 5), 2000);
    assert_string_equal(store_rows_text(r, 1, 6), "time");
    assert_int_equal(store_rows_int(r, 1, 7), 20);
    store_rows_free(r);

    /* a run is recorded; another user's id is not found */
    OK(store_fromtops_ran(s, alice, id1, "pl123", 5000, &err));
    OK(store_fromtops_get(s, alice, id1, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 10), "pl123");
    assert_int_equal(store_rows_int(r, 0, 11), 5000);
    store_rows_free(r);
    r = NULL;
    assert_int_equal(store_fromtops_get(s, bob, id1, &r, &err), KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "no_definition");
    assert_null(r);
    assert_int_equal(store_fromtops_delete(s, bob, id1, &err), KT_ERR_NOT_FOUND);
    OK(store_fromtops_delete(s, alice, id1, &err));
    assert_int_equal(store_fromtops_delete(s, alice, id1, &err), KT_ERR_NOT_FOUND);
    OK(store_fromtops_ran(s, alice, id1, "pl123", 6000, &err)); /* deleted: no error */
    OK(store_fromtops_list(s, alice, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_int_equal(store_rows_int(r, 0, 0), id2);
    store_rows_free(r);
}

static void test_limit(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char spec[32];
    int64_t id = 0;
    int64_t alice = testdb_add_user(s, "alice");
    store_fromtops_def d = spotify_def;
    d.spec = spec;
    for (int i = 0; i < STORE_FROMTOPS_MAX; i++) {
        snprintf(spec, sizeof spec, "spec%d", i);
        OK(store_fromtops_save(s, alice, &d, i, &id, NULL, &err));
    }
    snprintf(spec, sizeof spec, "one more");
    assert_int_equal(store_fromtops_save(s, alice, &d, 99, &id, NULL, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "too_many");
    snprintf(spec, sizeof spec, "spec0"); /* an existing spec is still updated */
    OK(store_fromtops_save(s, alice, &d, 99, &id, NULL, &err));
}

/* The due definitions at now as "id:user,..." */
static void due_list(store *s, int64_t now, char *out, size_t size)
{
    kt_err err = {0};
    store_rows *r = NULL;
    size_t at = 0;
    OK(store_fromtops_due(s, now, &r, &err));
    out[0] = '\0';
    for (size_t i = 0; i < store_rows_count(r); i++)
        at += (size_t)snprintf(out + at, size - at, "%s%lld:%lld", i ? "," : "",
                               (long long)store_rows_int(r, i, 0),
                               (long long)store_rows_int(r, i, 1));
    store_rows_free(r);
}

static void test_due(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char got[128], want[128];
    int64_t none = 0, weekly = 0, monthly = 0, other = 0;
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    store_fromtops_def d = spotify_def;
    OK(store_fromtops_save(s, alice, &d, 1, &none, NULL, &err));
    d.spec = "w";
    d.refresh = "weekly";
    OK(store_fromtops_save(s, alice, &d, 1, &weekly, NULL, &err));
    d.spec = "m";
    d.refresh = "monthly";
    OK(store_fromtops_save(s, alice, &d, 1, &monthly, NULL, &err));
    OK(store_fromtops_save(s, bob, &d, 1, &other, NULL, &err));
    /* never run: every refreshing definition is due */
    int64_t t0 = 1000 * DAY;
    due_list(s, t0, got, sizeof got);
    snprintf(want, sizeof want, "%lld:%lld,%lld:%lld,%lld:%lld", (long long)weekly,
             (long long)alice, (long long)monthly, (long long)alice, (long long)other,
             (long long)bob);
    assert_string_equal(got, want);
    /* run at t0: weekly due again 7 days on, monthly 30 */
    OK(store_fromtops_ran(s, alice, weekly, "p1", t0, &err));
    OK(store_fromtops_ran(s, alice, monthly, "p2", t0, &err));
    OK(store_fromtops_ran(s, bob, other, "p3", t0, &err));
    due_list(s, t0 + 7 * DAY - 1, got, sizeof got);
    assert_string_equal(got, "");
    due_list(s, t0 + 7 * DAY, got, sizeof got);
    snprintf(want, sizeof want, "%lld:%lld", (long long)weekly, (long long)alice);
    assert_string_equal(got, want);
    due_list(s, t0 + 30 * DAY, got, sizeof got);
    snprintf(want, sizeof want, "%lld:%lld,%lld:%lld,%lld:%lld", (long long)weekly,
             (long long)alice, (long long)monthly, (long long)alice, (long long)other,
             (long long)bob);
    assert_string_equal(got, want);
    /* a user who is not active is not refreshed */
    OK(store_user_set_status(s, bob, STORE_USER_REAUTH, t0, &err));
    due_list(s, t0 + 30 * DAY, got, sizeof got);
    snprintf(want, sizeof want, "%lld:%lld,%lld:%lld", (long long)weekly, (long long)alice,
             (long long)monthly, (long long)alice);
    assert_string_equal(got, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_get_list_delete, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_save_get_list_delete, testdb_setup_pg,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_limit, testdb_setup_sqlite, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_limit, testdb_setup_pg, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_due, testdb_setup_sqlite, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_due, testdb_setup_pg, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_shares.c - the contract of store_shares.h on SQLite and PostgreSQL:
 * a link is found by its token hash while live and never once expired,
 * revoked or its owner disabled; listing and revoking are scoped to the
 * owner; the per-user limit; a repeated hash is a conflict. PostgreSQL
 * cases skip when KEEPTRACK_TEST_PG is unset (tests/unit/store/testdb.h).
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
#include "store/store_shares.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

static const char *const H1 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *const H2 = "2222222222222222222222222222222222222222222222222222222222222222";

static void test_create_lookup_list_delete(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t id1 = 0, id2 = 0;
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    OK(store_share_create(s, alice, H1, "[\"stats\"]", "for Bob", 100, -1, &id1, &err));
    OK(store_share_create(s, alice, H2, "[\"tops\",\"playlist:abc\"]", NULL, 200, 1000, &id2,
                          &err));
    assert_int_not_equal(id1, id2);

    /* found by hash while live: the owner and the pages */
    OK(store_share_lookup(s, H1, 999999999, &r, &err));
    assert_int_equal(store_rows_int(r, 0, 0), alice);
    assert_string_equal(store_rows_text(r, 0, 1), "[\"stats\"]");
    store_rows_free(r);
    OK(store_share_lookup(s, H2, 999, &r, &err));
    store_rows_free(r);
    /* expired at its expires_at, unknown hashes never */
    assert_int_equal(store_share_lookup(s, H2, 1000, &r, &err), KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "no_share");
    assert_int_equal(store_share_lookup(s, "00", 0, &r, &err), KT_ERR_NOT_FOUND);

    /* the owner's list, oldest first, every column */
    OK(store_share_list(s, alice, &r, &err));
    assert_int_equal(store_rows_count(r), 2);
    assert_int_equal(store_rows_int(r, 0, 0), id1);
    assert_string_equal(store_rows_text(r, 0, 1), "[\"stats\"]");
    assert_string_equal(store_rows_text(r, 0, 2), "for Bob");
    assert_int_equal(store_rows_int(r, 0, 3), 100);
    assert_true(store_rows_is_null(r, 0, 4));
    assert_int_equal(store_rows_int(r, 1, 0), id2);
    assert_true(store_rows_is_null(r, 1, 2));
    assert_int_equal(store_rows_int(r, 1, 4), 1000);
    store_rows_free(r);
    OK(store_share_list(s, bob, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);

    /* another user cannot revoke it; the owner can, and then it is gone */
    assert_int_equal(store_share_delete(s, bob, id1, &err), KT_ERR_NOT_FOUND);
    OK(store_share_lookup(s, H1, 0, &r, &err));
    store_rows_free(r);
    OK(store_share_delete(s, alice, id1, &err));
    assert_int_equal(store_share_lookup(s, H1, 0, &r, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_share_delete(s, alice, id1, &err), KT_ERR_NOT_FOUND);

    /* the same hash twice is a conflict */
    assert_int_equal(store_share_create(s, bob, H2, "[\"stats\"]", NULL, 1, -1, &id1, &err),
                     KT_ERR_CONFLICT);
}

static void test_disabled_owner(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t id = 0, alice = testdb_add_user(s, "alice");
    OK(store_share_create(s, alice, H1, "[\"stats\"]", NULL, 1, -1, &id, &err));
    OK(store_user_disable(s, alice, 2, &err));
    assert_int_equal(store_share_lookup(s, H1, 3, &r, &err), KT_ERR_NOT_FOUND);
    /* deleting the user deletes the link */
    OK(store_user_delete(s, alice, &err));
    assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM shares", NULL, 0, &id, &err), KT_OK);
    assert_int_equal(id, 0);
}

static void test_limit(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t id = 0, alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");
    char hash[65];
    for (int i = 0; i < STORE_SHARES_MAX; i++) {
        snprintf(hash, sizeof hash, "%064d", i);
        OK(store_share_create(s, alice, hash, "[\"stats\"]", NULL, i, -1, &id, &err));
    }
    assert_int_equal(store_share_create(s, alice, H1, "[\"stats\"]", NULL, 0, -1, &id, &err),
                     KT_ERR_INVALID);
    assert_string_equal(err.code, "too_many");
    /* the limit is per user */
    OK(store_share_create(s, bob, H1, "[\"stats\"]", NULL, 0, -1, &id, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_lookup_list_delete, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_create_lookup_list_delete, testdb_setup_pg,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_owner, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_owner, testdb_setup_pg, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_limit, testdb_setup_sqlite, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_limit, testdb_setup_pg, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* testdb_cmocka.h - cmocka fixtures over testdb.h, so a suite runs each case
 * on SQLite and on PostgreSQL without repeating the setup:
 *
 *   cmocka_unit_test_setup_teardown(test_x, testdb_setup_sqlite, testdb_teardown),
 *   cmocka_unit_test_setup_teardown(test_x, testdb_setup_pg, testdb_teardown),
 *   ...
 *   static void test_x(void **state) { testdb *db = testdb_state(state); ... }
 *
 * Also the small helpers every store suite wants: TESTDB_OK(expr) (fails the
 * case with the message of the local `kt_err err`), testdb_store(state) and
 * testdb_add_user(s, account).
 *
 * A PostgreSQL case skips with a message when KEEPTRACK_TEST_PG is unset
 * and fails (setup error) when it is set but unusable. Include after
 * <cmocka.h>. Header-only (static inline) so testdb itself needs no cmocka.
 */
#ifndef KT_TESTS_TESTDB_CMOCKA_H
#define KT_TESTS_TESTDB_CMOCKA_H

#include <stdio.h>
#include <string.h>

#include "testdb.h"

static inline int testdb_setup_backend(void **state, store_backend backend)
{
    testdb *db = NULL;
    kt_err err = {0};
    kt_status st = testdb_open(backend, 1, &db, &err);
    if (st == KT_ERR_NOT_FOUND && strcmp(err.code, "pg_not_configured") == 0) {
        *state = NULL; /* each case skips (testdb_state) */
        return 0;
    }
    if (st != KT_OK) {
        fprintf(stderr, "database setup failed: %s\n", err.msg);
        return -1;
    }
    *state = db;
    return 0;
}

static inline int testdb_setup_sqlite(void **state)
{
    return testdb_setup_backend(state, STORE_SQLITE);
}

static inline int testdb_setup_pg(void **state)
{
    return testdb_setup_backend(state, STORE_POSTGRES);
}

static inline int testdb_teardown(void **state)
{
    testdb_close(*state);
    return 0;
}

/* The case's database; skips the case when PostgreSQL is not configured. */
static inline testdb *testdb_state(void **state)
{
    testdb *db = *state;
    if (db == NULL) {
        print_message("KEEPTRACK_TEST_PG is not set: skipping the PostgreSQL case\n");
        skip();
    }
    return db;
}

/* Runs expr (which fills the caller's local `kt_err err`) and fails the
 * case with its message. */
#define TESTDB_OK(expr)                                                                       \
    do {                                                                                      \
        if ((expr) != KT_OK)                                                                  \
            fail_msg("%s failed: %s", #expr, err.msg);                                        \
    } while (0)

/* The case's store; skips like testdb_state. */
static inline store *testdb_store(void **state)
{
    return testdb_state(state)->s;
}

/* Inserts a user whose account and Spotify id are `account`; its id. */
static inline int64_t testdb_add_user(store *s, const char *account)
{
    kt_err err = {0};
    int64_t id = 0;
    store_param p[] = {SP_TEXT(account), SP_TEXT(account)};
    TESTDB_OK(store_query_int(s,
                              "INSERT INTO users (account_id, spotify_id, created_at, "
                              "updated_at) VALUES (?, ?, 1, 1) RETURNING id",
                              p, 2, &id, &err));
    return id;
}

#endif

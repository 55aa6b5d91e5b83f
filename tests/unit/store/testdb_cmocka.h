/* testdb_cmocka.h - cmocka fixtures over testdb.h, so a suite runs each case
 * on SQLite and on PostgreSQL without repeating the setup:
 *
 *   cmocka_unit_test_setup_teardown(test_x, testdb_setup_sqlite, testdb_teardown),
 *   cmocka_unit_test_setup_teardown(test_x, testdb_setup_pg, testdb_teardown),
 *   ...
 *   static void test_x(void **state) { testdb *db = testdb_state(state); ... }
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

#endif

/* testdb.h - a fresh, isolated database for one test case, on either
 * back-end. For every test that needs a store (store, auth, sync, jobs...).
 *
 * SQLite: a new file in a new temporary folder. PostgreSQL: a new schema in
 * the server named by KEEPTRACK_TEST_PG, reached through
 * `options=-csearch_path%3D<schema>` in db->url, so cases and parallel
 * suites never see each other's tables. testdb_close removes the file or
 * drops the schema.
 *
 * The rule for PostgreSQL cases: when KEEPTRACK_TEST_PG is unset, skip with
 * a message (testdb_open returns KT_ERR_NOT_FOUND, code "pg_not_configured");
 * when it is set but unusable, fail (any other error).
 *
 * Not thread-safe to open/close concurrently; the store inside follows
 * store.h (one thread at a time). Open more connections or a pool on db->url.
 */
#ifndef KT_TESTS_TESTDB_H
#define KT_TESTS_TESTDB_H

#include "core/err.h"
#include "store/store.h"

typedef struct testdb {
    store_backend backend;
    char url[1024]; /* the database's URL (or path) for more connections */
    store *s;       /* an open connection, owned; may be closed and set NULL */
    char dir[256];  /* SQLite: the temporary folder */
    char schema[64];/* PostgreSQL: the schema */
} testdb;

/* 1 when KEEPTRACK_TEST_PG is set (PostgreSQL cases should run). */
int testdb_pg_configured(void);

/* Creates a fresh database on `backend`, migrated to the latest schema when
 * `migrate` is non-zero. On success *out is owned by the caller
 * (testdb_close). */
kt_status testdb_open(store_backend backend, int migrate, testdb **out, kt_err *err);

/* Closes db->s (if not NULL) and removes the database. NULL is a no-op. */
void testdb_close(testdb *db);

#endif

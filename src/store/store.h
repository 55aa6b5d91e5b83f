/* store.h - keeptrack's database: one interface, two back-ends.
 *
 * A `store` is one connection to SQLite (the default: KEEPTRACK_DB is a file
 * path) or PostgreSQL (KEEPTRACK_DB is a postgres:// or postgresql:// URL).
 * Callers write portable SQL once, with `?` placeholders; the PostgreSQL
 * driver rewrites them to $1..$n. Every statement is prepared once per
 * connection and cached, and every value is a bound parameter: SQL is never
 * built from data.
 *
 * Portable SQL rules (both back-ends accept all of these): INTEGER/BIGINT,
 * TEXT, BLOB in queries (the PostgreSQL driver maps bytea), timestamps as
 * unix milliseconds in BIGINT columns, booleans as 0/1 integers,
 * INSERT ... ON CONFLICT (...) DO UPDATE SET c = excluded.c, RETURNING.
 *
 * Domain SQL lives next to this file, one file per concept (store_users.c,
 * store_sessions.c, ...), declared in store_domain headers. Services call
 * those, never raw SQL.
 *
 * Threads: a `store` is one connection and must be used by one thread at a
 * time. A `store_pool` hands connections out to threads (HTTP handlers,
 * workers); it is thread-safe.
 */
#ifndef KT_STORE_STORE_H
#define KT_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct store store;
typedef struct store_rows store_rows;
typedef struct store_pool store_pool;

typedef enum store_backend { STORE_SQLITE, STORE_POSTGRES } store_backend;

typedef enum store_type { STORE_NULL, STORE_INT, STORE_TEXT, STORE_BLOB } store_type;

/* A bound parameter. Text and blobs are borrowed for the duration of the call. */
typedef struct store_param {
    store_type type;
    int64_t i;
    const void *p; /* TEXT: NUL-terminated string (NULL binds SQL NULL); BLOB: bytes */
    size_t len;    /* BLOB length */
} store_param;

#define SP_NULL ((store_param){.type = STORE_NULL})
#define SP_INT(v) ((store_param){.type = STORE_INT, .i = (int64_t)(v)})
#define SP_TEXT(s) ((store_param){.type = STORE_TEXT, .p = (s)})
#define SP_BLOB(b, n) ((store_param){.type = STORE_BLOB, .p = (b), .len = (n)})

/* Opens a connection. `url` is a SQLite file path (":memory:" allowed) or a
 * postgres:// / postgresql:// URL. SQLite connections use WAL, foreign keys
 * on and a busy timeout; PostgreSQL connections set the session time zone to
 * UTC. Does not migrate. On success *out owns the connection (store_close). */
kt_status store_open(const char *url, store **out, kt_err *err);

/* Closes the connection and frees its cached statements. NULL is a no-op. */
void store_close(store *s);

store_backend store_get_backend(const store *s);

/* Applies every pending migration, each in its own transaction, recording
 * the version in schema_migrations. Safe to call from several processes at
 * once (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE). */
kt_status store_migrate(store *s, kt_err *err);

/* Current schema version (0 = empty database) and the newest version this
 * binary knows. */
kt_status store_schema_version(store *s, int *current, kt_err *err);
int store_schema_latest(void);

/* Transactions. Nested calls are not supported: begin while a transaction is
 * open fails with KT_ERR_INTERNAL. store_rollback is safe to call when no
 * transaction is open (no-op), so cleanup paths can call it unconditionally. */
kt_status store_begin(store *s, kt_err *err);
kt_status store_commit(store *s, kt_err *err);
void store_rollback(store *s);

/* Runs a statement that returns no rows. *changes (may be NULL) receives the
 * number of rows inserted, updated or deleted. Unique violations return
 * KT_ERR_CONFLICT; other failures KT_ERR_STORE with the database's message. */
kt_status store_exec(store *s, const char *sql, const store_param *params, size_t nparams,
                     int64_t *changes, kt_err *err);

/* Runs a query and materialises its rows. On success *out owns the result
 * (store_rows_free), which may hold zero rows. */
kt_status store_query(store *s, const char *sql, const store_param *params, size_t nparams,
                      store_rows **out, kt_err *err);

/* Convenience: the first column of the first row as an integer. Returns
 * KT_ERR_NOT_FOUND when there is no row. */
kt_status store_query_int(store *s, const char *sql, const store_param *params, size_t nparams,
                          int64_t *out, kt_err *err);

void store_rows_free(store_rows *r);
size_t store_rows_count(const store_rows *r);
size_t store_rows_columns(const store_rows *r);
int store_rows_is_null(const store_rows *r, size_t row, size_t col);
/* Integer value (0 for NULL; text is parsed). */
int64_t store_rows_int(const store_rows *r, size_t row, size_t col);
/* Text value owned by r, NUL-terminated; NULL for SQL NULL. */
const char *store_rows_text(const store_rows *r, size_t row, size_t col);
/* Blob value owned by r; *len receives its length; NULL for SQL NULL. */
const void *store_rows_blob(const store_rows *r, size_t row, size_t col, size_t *len);

/* A pool of up to `max` connections to one database, opened lazily. */
kt_status store_pool_open(const char *url, int max, store_pool **out, kt_err *err);
void store_pool_close(store_pool *p);
/* Blocks until a connection is free. The connection is returned with
 * store_pool_put; a connection left inside a transaction is rolled back. */
kt_status store_pool_get(store_pool *p, store **out, kt_err *err);
void store_pool_put(store_pool *p, store *s);

#endif

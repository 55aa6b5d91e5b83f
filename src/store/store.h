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
 * PostgreSQL infers each parameter's type from its context: where the
 * context says nothing (`SELECT ?`, `? IS NULL`, `COALESCE(?, ...)`), write
 * CAST(? AS BIGINT) / CAST(? AS TEXT). `?` inside string literals, quoted
 * identifiers and comments is not a placeholder. In DDL, declare non-INTEGER
 * primary keys NOT NULL (SQLite otherwise accepts NULL keys). Schema changes
 * go in migrations.c only.
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

/* A bound parameter. Text and blobs are borrowed for the duration of the call.
 * SP_TEXT(NULL) and SP_BLOB(NULL, 0) bind SQL NULL; SP_BLOB("", 0) binds an
 * empty blob. Blobs may hold any bytes, NULs included. */
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

/* Opens a connection. `url` is a SQLite file path (":memory:" allowed, a
 * private database per connection) or a postgres:// / postgresql:// URL
 * (libpq syntax; a 10 s connect timeout unless the URL sets one). SQLite
 * connections use WAL, foreign keys on, synchronous=NORMAL and a 5 s busy
 * timeout; PostgreSQL connections set the session time zone to UTC. Does not
 * migrate. Errors: KT_ERR_INVALID (empty url), KT_ERR_STORE code db_connect
 * (cannot open / connect; the message never repeats a URL's password). On
 * success *out owns the connection (store_close). */
kt_status store_open(const char *url, store **out, kt_err *err);

/* Closes the connection and frees its cached statements; an open transaction
 * is rolled back. NULL is a no-op. */
void store_close(store *s);

store_backend store_get_backend(const store *s);

/* Applies every pending migration, each in its own transaction, recording
 * the version in schema_migrations. Safe to call from several processes at
 * once (PostgreSQL: an advisory lock per schema; SQLite: BEGIN IMMEDIATE).
 * A database newer than this binary: KT_ERR_STORE, code schema_too_new.
 * Must not be called inside a transaction. */
kt_status store_migrate(store *s, kt_err *err);

/* Current schema version (0 = empty database) and the newest version this
 * binary knows. */
kt_status store_schema_version(store *s, int *current, kt_err *err);
int store_schema_latest(void);

/* Transactions. Nested calls are not supported: begin while a transaction is
 * open fails with KT_ERR_INTERNAL. store_rollback is safe to call when no
 * transaction is open (no-op), so cleanup paths can call it unconditionally.
 * SQLite transactions take the write lock at begin (BEGIN IMMEDIATE), so
 * concurrent writers queue (up to the busy timeout) instead of failing.
 * Same semantics on both back-ends: after any failed statement inside a
 * transaction, further statements fail (KT_ERR_STORE, code db_transaction)
 * until store_rollback, and store_commit rolls back and reports it. A failed
 * commit always leaves the connection outside any transaction. */
kt_status store_begin(store *s, kt_err *err);
kt_status store_commit(store *s, kt_err *err);
void store_rollback(store *s);

/* Runs one statement (rows it returns are discarded). *changes (may be NULL)
 * receives the number of rows inserted, updated or deleted. The statement is
 * prepared on first use and cached by SQL text for the connection's life, so
 * repeating it (a batch in a transaction) costs only the binds and the run.
 * Unique / primary-key violations return KT_ERR_CONFLICT (code db_conflict);
 * SQLite busy past the timeout KT_ERR_STORE (db_busy); a lost PostgreSQL
 * connection KT_ERR_STORE (db_connection_lost); a placeholder count that
 * differs from nparams KT_ERR_INTERNAL; other failures KT_ERR_STORE (db_error)
 * with the database's message. */
kt_status store_exec(store *s, const char *sql, const store_param *params, size_t nparams,
                     int64_t *changes, kt_err *err);

/* Runs a query (or INSERT/UPDATE ... RETURNING) and materialises its rows;
 * errors as store_exec. Integer columns read as STORE_INT, bytea/BLOB as
 * blobs, anything else as text. On success *out owns the result
 * (store_rows_free), which may hold zero rows. */
kt_status store_query(store *s, const char *sql, const store_param *params, size_t nparams,
                      store_rows **out, kt_err *err);

/* Convenience: the first column of the first row as an integer. Returns
 * KT_ERR_NOT_FOUND when there is no row. */
kt_status store_query_int(store *s, const char *sql, const store_param *params, size_t nparams,
                          int64_t *out, kt_err *err);

/* Accessors: a row/column out of range reads as NULL. NULL r is allowed. */
void store_rows_free(store_rows *r);
size_t store_rows_count(const store_rows *r);
size_t store_rows_columns(const store_rows *r);
int store_rows_is_null(const store_rows *r, size_t row, size_t col);
/* Integer value (0 for NULL and blobs; text is parsed as decimal). */
int64_t store_rows_int(const store_rows *r, size_t row, size_t col);
/* Text value owned by r, NUL-terminated; NULL for SQL NULL. Integers read
 * as their decimal text. */
const char *store_rows_text(const store_rows *r, size_t row, size_t col);
/* Blob value owned by r; *len (may be NULL) receives its length; NULL (and
 * *len 0) for SQL NULL; an empty blob is a non-NULL pointer with *len 0. */
const void *store_rows_blob(const store_rows *r, size_t row, size_t col, size_t *len);

/* A pool of up to `max` (1..1024) connections to one database, opened
 * lazily (so opening the pool never fails on an unreachable server; the
 * first get does). ":memory:" pools hold one connection (one database).
 * Thread-safe. */
kt_status store_pool_open(const char *url, int max, store_pool **out, kt_err *err);
/* Closes the idle connections and frees the pool; every connection must
 * have been put back first. NULL is a no-op. */
void store_pool_close(store_pool *p);
/* Blocks until a connection is free (or opens one while under max); open
 * errors as store_open. The connection is returned with store_pool_put; a
 * connection left inside a transaction is rolled back, and one that lost its
 * PostgreSQL server is closed and replaced on a later get. */
kt_status store_pool_get(store_pool *p, store **out, kt_err *err);
void store_pool_put(store_pool *p, store *s);
/* A snapshot of the pool for metrics: connections in existence (idle +
 * handed out + being opened), idle ones, and the maximum. Thread-safe. */
void store_pool_stats(store_pool *p, int *open, int *idle, int *max);

#endif

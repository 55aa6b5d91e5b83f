/* store_driver.h - private contract between store.c and its back-ends.
 *
 * store.c owns what every back-end shares: the public API, transaction
 * bookkeeping, parameter validation, migrations dispatch and the pool. A
 * back-end (store_sqlite.c, store_pg.c) is a small vtable of functions over
 * its own connection type, plus two shared helpers declared here:
 *
 *  - store_cache: the prepared-statement cache, keyed by SQL text. Callers
 *    pass string literals, so a lookup first compares pointers and only then
 *    the text; a hit costs one hash of the SQL and no allocation.
 *  - the store_rows builder: drivers append cells row by row; store.c hands
 *    the finished result to the caller. Cell bytes live in an arena of large
 *    blocks so a query of many rows does a handful of allocations.
 *
 * Nothing here is visible outside src/store/.
 */
#ifndef KT_STORE_STORE_DRIVER_H
#define KT_STORE_STORE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Stable error codes (kt_err.code) the back-ends report. */
#define STORE_CODE_CONFLICT "db_conflict"     /* unique / primary key violation */
#define STORE_CODE_BUSY "db_busy"             /* SQLite lock not obtained in time */
#define STORE_CODE_LOST "db_connection_lost"  /* PostgreSQL connection broken */
#define STORE_CODE_CONNECT "db_connect"       /* could not open / connect */
#define STORE_CODE_ERROR "db_error"           /* any other database failure */
#define STORE_CODE_TX "db_transaction"        /* transaction misuse or aborted */
#define STORE_CODE_TOO_NEW "schema_too_new"   /* database newer than this binary */

/* Bound on parameters per statement (SQLite's default compile-time limit;
 * PostgreSQL allows 65535). */
#define STORE_MAX_PARAMS 32766

/* Bound on cached statements per connection. Domain SQL is a fixed set of
 * literals, so this is only hit by a caller building SQL dynamically; the
 * cache is then emptied and refilled rather than growing without end. */
#define STORE_CACHE_MAX 1024

typedef struct store_driver {
    const char *name; /* "sqlite" | "postgres", for messages */
    store_backend backend;
    /* Opens a connection to url; *conn written only on success. */
    kt_status (*open)(const char *url, void **conn, kt_err *err);
    void (*close)(void *conn); /* NULL-safe; finalises cached statements */
    /* One statement with bound parameters (nparams already checked <=
     * STORE_MAX_PARAMS). *changes may be NULL. */
    kt_status (*exec)(void *conn, const char *sql, const store_param *params, size_t nparams,
                      int64_t *changes, kt_err *err);
    /* One statement whose rows are appended to out (created by store.c with
     * zero columns; the driver calls store_rows_set_columns first). */
    kt_status (*query)(void *conn, const char *sql, const store_param *params, size_t nparams,
                       store_rows *out, kt_err *err);
    /* Several ';'-separated statements without parameters (migrations). */
    kt_status (*script)(void *conn, const char *sql, kt_err *err);
    /* Transaction control. begin takes the write lock up front on SQLite
     * (BEGIN IMMEDIATE) so writers queue on the busy timeout instead of
     * failing with SQLITE_BUSY_SNAPSHOT when they upgrade a read. */
    kt_status (*begin)(void *conn, kt_err *err);
    kt_status (*commit)(void *conn, kt_err *err);
    kt_status (*rollback)(void *conn, kt_err *err);
    /* 1 when the connection is unusable and must be replaced (PostgreSQL
     * connection lost); SQLite connections never break this way. */
    int (*broken)(void *conn);
} store_driver;

extern const store_driver store_sqlite_driver;
extern const store_driver store_pg_driver;

/* ---- helpers for migrations.c and store_pool.c (store.c) ---- */

/* Runs a parameterless multi-statement script (DDL) on s. */
kt_status store_script(store *s, const char *sql, kt_err *err);
/* 1 when s lost its connection and must be closed rather than reused. */
int store_is_broken(const store *s);
/* 1 while a transaction opened by store_begin is open. */
int store_in_transaction(const store *s);

/* ---- PostgreSQL placeholder rewriting (store_pg.c) ---- */

/* Rewrites the `?` placeholders of portable SQL to $1..$n, leaving `?`
 * inside string literals, quoted identifiers, comments and dollar-quoted
 * bodies alone. Returns a malloc'd string (caller frees) or NULL when out of
 * memory; *count receives n. Exposed for the unit tests. */
char *store_pg_rewrite(const char *sql, size_t *count);

/* ---- prepared-statement cache (store.c) ---- */

typedef struct store_cache_entry {
    const char *key_ptr; /* caller's pointer, for the fast path */
    char *sql;           /* owned copy of the text */
    uint64_t hash;
    void *stmt;          /* driver's statement */
} store_cache_entry;

typedef struct store_cache {
    store_cache_entry *slots; /* open addressing, capacity a power of two */
    size_t cap, count;
    void (*finalize)(void *ctx, void *stmt); /* frees a driver statement */
    void *ctx;
} store_cache;

/* Initialises an empty cache whose statements are freed with finalize(ctx, stmt). */
void store_cache_init(store_cache *c, void (*finalize)(void *ctx, void *stmt), void *ctx);
/* The statement cached for sql, or NULL. */
void *store_cache_get(store_cache *c, const char *sql);
/* Caches stmt for sql (the text is copied). On failure stmt is finalised and
 * KT_ERR_NOMEM returned. When the cache is full it is emptied first. */
kt_status store_cache_put(store_cache *c, const char *sql, void *stmt, kt_err *err);
/* Finalises every statement and frees the table; the cache can be reused. */
void store_cache_clear(store_cache *c);

/* ---- result builder (store.c) ---- */

/* Sets the column count; must be called once before any store_rows_add. */
void store_rows_set_columns(store_rows *r, size_t ncols);
/* Appends one cell (rows fill left to right, top to bottom). For TEXT and
 * BLOB, p/len are copied (a NUL is appended so text is always terminated);
 * for INT the decimal text is kept too, so store_rows_text works on any cell.
 * p may be NULL only when len is 0. Returns KT_ERR_NOMEM on allocation
 * failure or KT_ERR_TOO_LARGE past STORE_ROWS_MAX_BYTES. */
kt_status store_rows_add(store_rows *r, store_type type, int64_t i, const void *p, size_t len,
                         kt_err *err);

/* Bound on one materialised result (cells and bytes): a query that would
 * exceed it is a bug in its LIMIT, reported instead of exhausting memory. */
#define STORE_ROWS_MAX_BYTES ((size_t)1 << 30)

#endif

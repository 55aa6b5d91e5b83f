/* store_sqlite.c - the SQLite back-end (the default: KEEPTRACK_DB is a path).
 *
 * Each connection is its own sqlite3 handle opened in multi-thread mode
 * (SQLITE_OPEN_NOMUTEX: one thread at a time per handle, which store.h
 * already requires). The database runs in WAL mode so readers never block
 * the one writer; foreign keys are enforced; synchronous=NORMAL (durable
 * across application crashes, and WAL keeps it consistent across power
 * loss); a 5 s busy timeout queues writers from other connections.
 * Transactions start with BEGIN IMMEDIATE: the write lock is taken up front,
 * while the busy handler can still wait for it, instead of on the first
 * write, where WAL would fail at once with SQLITE_BUSY_SNAPSHOT.
 *
 * Statements are prepared once per connection with SQLITE_PREPARE_PERSISTENT,
 * cached by SQL text, and reset + unbound after every use, so a batch of
 * inserts costs a hash lookup, the binds and one sqlite3_step each.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_driver.h"

#define BUSY_TIMEOUT_MS 5000

typedef struct sqlite_conn {
    sqlite3 *db;
    store_cache cache;
} sqlite_conn;

static void finalize_stmt(void *ctx, void *stmt)
{
    (void)ctx;
    sqlite3_finalize(stmt);
}

/* Maps the connection's last error to a kt_status with an actionable message. */
static kt_status fail(sqlite_conn *c, const char *what, kt_err *err)
{
    int ext = sqlite3_extended_errcode(c->db);
    const char *msg = sqlite3_errmsg(c->db);
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return err_set(err, KT_ERR_CONFLICT, STORE_CODE_CONFLICT, "%s: already exists (%s)", what,
                       msg);
    default:
        break;
    }
    switch (ext & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(err, KT_ERR_STORE, STORE_CODE_BUSY,
                       "%s: the SQLite database is busy (another connection held its lock for more "
                       "than %d s); retry, or use PostgreSQL for heavy concurrent writes",
                       what, BUSY_TIMEOUT_MS / 1000);
    case SQLITE_NOMEM:
        return err_set(err, KT_ERR_NOMEM, NULL, "%s: out of memory", what);
    default:
        return err_set(err, KT_ERR_STORE, STORE_CODE_ERROR, "%s: %s", what, msg);
    }
}

static void sqlite_close(void *conn)
{
    sqlite_conn *c = conn;
    if (!c)
        return;
    store_cache_clear(&c->cache);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Switches a file database to WAL unless it already is (switching needs a
 * lock; checking first keeps concurrent openers of a WAL file lock-free). */
static kt_status enable_wal(sqlite_conn *c, kt_err *err)
{
    sqlite3_stmt *st = NULL;
    kt_status rc = KT_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *sql = attempt == 0 ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL";
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK || !st) {
            rc = fail(c, "setting SQLite journal mode", err);
            goto out;
        }
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = fail(c, "setting SQLite journal mode", err);
            goto out;
        }
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (mode && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0))
            goto out;
        sqlite3_finalize(st);
        st = NULL;
    }
    rc = err_set(err, KT_ERR_STORE, STORE_CODE_CONNECT,
                 "SQLite refused WAL mode for %s (is it on a network file system?)",
                 sqlite3_db_filename(c->db, "main"));
out:
    sqlite3_finalize(st);
    return rc;
}

static kt_status sqlite_open(const char *url, void **conn, kt_err *err)
{
    kt_status rc = KT_OK;
    sqlite_conn *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory opening SQLite");
    store_cache_init(&c->cache, finalize_stmt, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (strncmp(url, "file:", 5) == 0)
        flags |= SQLITE_OPEN_URI;
    if (sqlite3_open_v2(url, &c->db, flags, NULL) != SQLITE_OK) {
        rc = err_set(err, KT_ERR_STORE, STORE_CODE_CONNECT,
                     "cannot open SQLite database '%s': %s (check the path in KEEPTRACK_DB and "
                     "that its folder exists and is writable)",
                     url, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* foreign_keys first: it is a no-op inside a transaction, and this also
     * proves the file is a database before WAL is touched. */
    if (sqlite3_exec(c->db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", NULL, NULL,
                     NULL) != SQLITE_OK) {
        rc = fail(c, "opening SQLite database", err);
        goto out;
    }
    rc = enable_wal(c, err);
out:
    if (rc != KT_OK) {
        sqlite_close(c);
        return rc;
    }
    *conn = c;
    return KT_OK;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return 0;
    return 1;
}

/* The cached statement for sql, prepared on first use, with params bound. */
static kt_status prepare_bound(sqlite_conn *c, const char *sql, const store_param *params,
                               size_t nparams, sqlite3_stmt **out, kt_err *err)
{
    sqlite3_stmt *st = store_cache_get(&c->cache, sql);
    if (!st) {
        const char *tail = NULL;
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail) != SQLITE_OK)
            return fail(c, "preparing SQL", err);
        if (!st)
            return err_set(err, KT_ERR_INTERNAL, NULL, "store: empty SQL statement");
        if (tail && !is_blank(tail)) {
            sqlite3_finalize(st);
            return err_set(err, KT_ERR_INTERNAL, NULL,
                           "store: one statement per call (use store_script for several)");
        }
        kt_status rc = store_cache_put(&c->cache, sql, st, err);
        if (rc != KT_OK)
            return rc;
    }
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != nparams)
        return err_set(err, KT_ERR_INTERNAL, NULL,
                       "store: the SQL has %d placeholders but %zu parameters were given", want,
                       nparams);
    for (size_t i = 0; i < nparams; i++) {
        const store_param *p = &params[i];
        int idx = (int)i + 1, rc;
        if (p->type == STORE_INT)
            rc = sqlite3_bind_int64(st, idx, p->i);
        else if (p->type == STORE_NULL || !p->p)
            rc = sqlite3_bind_null(st, idx);
        else if (p->type == STORE_TEXT)
            rc = sqlite3_bind_text(st, idx, p->p, -1, SQLITE_STATIC);
        else /* a non-NULL pointer with len 0 binds an empty blob, not NULL */
            rc = sqlite3_bind_blob64(st, idx, p->p, p->len, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            kt_status s = fail(c, "binding a parameter", err);
            sqlite3_clear_bindings(st);
            return s;
        }
    }
    *out = st;
    return KT_OK;
}

/* Returns the statement to its cached, unbound state. */
static void release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static kt_status sqlite_exec(void *conn, const char *sql, const store_param *params,
                             size_t nparams, int64_t *changes, kt_err *err)
{
    sqlite_conn *c = conn;
    sqlite3_stmt *st = NULL;
    kt_status rc = prepare_bound(c, sql, params, nparams, &st, err);
    if (rc != KT_OK)
        return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        ; /* RETURNING rows of an exec are not wanted */
    if (step != SQLITE_DONE)
        rc = fail(c, "running SQL", err);
    else if (changes)
        *changes = sqlite3_changes64(c->db);
    release(st);
    return rc;
}

static kt_status add_column(sqlite_conn *c, sqlite3_stmt *st, int col, store_rows *out,
                            kt_err *err)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        return store_rows_add(out, STORE_INT, sqlite3_column_int64(st, col), NULL, 0, err);
    case SQLITE_NULL:
        return store_rows_add(out, STORE_NULL, 0, NULL, 0, err);
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!p && n)
            return fail(c, "reading a blob", err);
        return store_rows_add(out, STORE_BLOB, 0, p, n, err);
    }
    default: { /* TEXT, and FLOAT as its text form (the API has no float type) */
        const unsigned char *p = sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!p)
            return fail(c, "reading text", err);
        return store_rows_add(out, STORE_TEXT, 0, p, n, err);
    }
    }
}

static kt_status sqlite_query(void *conn, const char *sql, const store_param *params,
                              size_t nparams, store_rows *out, kt_err *err)
{
    sqlite_conn *c = conn;
    sqlite3_stmt *st = NULL;
    kt_status rc = prepare_bound(c, sql, params, nparams, &st, err);
    if (rc != KT_OK)
        return rc;
    int ncols = sqlite3_column_count(st);
    store_rows_set_columns(out, (size_t)ncols);
    int step = SQLITE_DONE;
    while (rc == KT_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
        for (int col = 0; col < ncols && rc == KT_OK; col++)
            rc = add_column(c, st, col, out, err);
    if (rc == KT_OK && step != SQLITE_DONE)
        rc = fail(c, "running query", err);
    release(st);
    return rc;
}

static kt_status run_plain(sqlite_conn *c, const char *sql, const char *what, kt_err *err)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(c, what, err);
    return KT_OK;
}

static kt_status sqlite_script(void *conn, const char *sql, kt_err *err)
{
    return run_plain(conn, sql, "running SQL script", err);
}

static kt_status sqlite_begin(void *conn, kt_err *err)
{
    return run_plain(conn, "BEGIN IMMEDIATE", "starting a transaction", err);
}

static kt_status sqlite_commit(void *conn, kt_err *err)
{
    return run_plain(conn, "COMMIT", "committing", err);
}

static kt_status sqlite_rollback(void *conn, kt_err *err)
{
    sqlite_conn *c = conn;
    /* SQLite may already have rolled back by itself (after SQLITE_FULL,
     * SQLITE_IOERR, ...): then there is nothing to do. */
    if (sqlite3_get_autocommit(c->db))
        return KT_OK;
    return run_plain(c, "ROLLBACK", "rolling back", err);
}

static int sqlite_broken(void *conn)
{
    (void)conn;
    return 0;
}

const store_driver store_sqlite_driver = {
    .name = "sqlite",
    .backend = STORE_SQLITE,
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .query = sqlite_query,
    .script = sqlite_script,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .broken = sqlite_broken,
};

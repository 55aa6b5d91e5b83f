/* store.c - the public store API: picks a back-end from the URL, checks
 * arguments, keeps transaction state, and owns the pieces every back-end
 * shares (the prepared-statement cache and the materialised result type).
 *
 * Transaction semantics are made the same on both back-ends: PostgreSQL
 * aborts a transaction at its first failing statement, so after any failure
 * inside store_begin..store_commit this layer refuses further statements
 * (KT_ERR_STORE, code db_transaction) until store_rollback, on SQLite too.
 * Code tested on SQLite therefore behaves the same on PostgreSQL.
 *
 * See store.h for the contract and store_driver.h for the back-end vtable.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_driver.h"

struct store {
    const store_driver *drv;
    void *conn;
    int in_tx;     /* store_begin succeeded, no commit/rollback yet */
    int tx_failed; /* a statement failed inside the open transaction */
};

/* ---------------------------------------------------------------- rows */

typedef struct cell {
    store_type type;
    int64_t i;
    const char *p; /* TEXT/BLOB bytes (NUL-terminated); INT decimal text */
    size_t len;
} cell;

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

struct store_rows {
    size_t ncols;
    size_t ncells, cap;
    cell *cells;
    arena_block *blocks; /* head is the block being filled */
    size_t bytes;        /* total accounted against STORE_ROWS_MAX_BYTES */
};

#define ARENA_BLOCK_MIN (64 * 1024)

static store_rows *rows_new(void)
{
    return calloc(1, sizeof(store_rows));
}

void store_rows_free(store_rows *r)
{
    if (!r)
        return;
    arena_block *b = r->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(r->cells);
    free(r);
}

void store_rows_set_columns(store_rows *r, size_t ncols)
{
    r->ncols = ncols;
}

/* Copies len bytes plus a terminating NUL into the arena. */
static const char *arena_copy(store_rows *r, const void *p, size_t len)
{
    arena_block *b = r->blocks;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > ARENA_BLOCK_MIN ? len + 1 : ARENA_BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = r->blocks;
        r->blocks = b;
    }
    char *dst = b->data + b->used;
    if (len)
        memcpy(dst, p, len);
    dst[len] = '\0';
    b->used += len + 1;
    return dst;
}

kt_status store_rows_add(store_rows *r, store_type type, int64_t i, const void *p, size_t len,
                         kt_err *err)
{
    char num[24];
    if (type == STORE_INT) {
        len = (size_t)snprintf(num, sizeof num, "%" PRId64, i);
        p = num;
    }
    if (len > STORE_ROWS_MAX_BYTES || r->bytes + len + sizeof(cell) > STORE_ROWS_MAX_BYTES)
        return err_set(err, KT_ERR_TOO_LARGE, "db_result_too_large",
                       "a query result exceeded %zu bytes; add a LIMIT", STORE_ROWS_MAX_BYTES);
    if (r->ncells == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        cell *cells = realloc(r->cells, cap * sizeof *cells);
        if (!cells)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory reading a query result");
        r->cells = cells;
        r->cap = cap;
    }
    cell *c = &r->cells[r->ncells];
    c->type = type;
    c->i = type == STORE_INT ? i : 0;
    c->p = NULL;
    c->len = 0;
    if (type != STORE_NULL) {
        c->p = arena_copy(r, p, len);
        if (!c->p)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory reading a query result");
        c->len = len;
    }
    r->bytes += len + sizeof(cell);
    r->ncells++;
    return KT_OK;
}

size_t store_rows_count(const store_rows *r)
{
    return r && r->ncols ? r->ncells / r->ncols : 0;
}

size_t store_rows_columns(const store_rows *r)
{
    return r ? r->ncols : 0;
}

static const cell *cell_at(const store_rows *r, size_t row, size_t col)
{
    if (!r || col >= r->ncols || row >= store_rows_count(r))
        return NULL;
    return &r->cells[row * r->ncols + col];
}

int store_rows_is_null(const store_rows *r, size_t row, size_t col)
{
    const cell *c = cell_at(r, row, col);
    return !c || c->type == STORE_NULL;
}

int64_t store_rows_int(const store_rows *r, size_t row, size_t col)
{
    const cell *c = cell_at(r, row, col);
    if (!c)
        return 0;
    if (c->type == STORE_INT)
        return c->i;
    if (c->type == STORE_TEXT) {
        errno = 0;
        long long v = strtoll(c->p, NULL, 10);
        return errno ? 0 : (int64_t)v;
    }
    return 0;
}

const char *store_rows_text(const store_rows *r, size_t row, size_t col)
{
    const cell *c = cell_at(r, row, col);
    return c && c->type != STORE_NULL ? c->p : NULL;
}

const void *store_rows_blob(const store_rows *r, size_t row, size_t col, size_t *len)
{
    const cell *c = cell_at(r, row, col);
    if (!c || c->type == STORE_NULL) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = c->len;
    return c->p;
}

/* --------------------------------------------------- statement cache */

static uint64_t hash_sql(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a: short keys, no need for more */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void store_cache_init(store_cache *c, void (*finalize)(void *ctx, void *stmt), void *ctx)
{
    memset(c, 0, sizeof *c);
    c->finalize = finalize;
    c->ctx = ctx;
}

void *store_cache_get(store_cache *c, const char *sql)
{
    if (!c->cap)
        return NULL;
    /* Fast path: the same literal as last time lands on the same slot. */
    uint64_t h = hash_sql(sql);
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        store_cache_entry *e = &c->slots[i];
        if (!e->sql)
            return NULL;
        if (e->hash == h && (e->key_ptr == sql || strcmp(e->sql, sql) == 0))
            return e->stmt;
    }
}

static void cache_insert_slot(store_cache_entry *slots, size_t cap, store_cache_entry e)
{
    for (size_t i = e.hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!slots[i].sql) {
            slots[i] = e;
            return;
        }
    }
}

void store_cache_clear(store_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].sql) {
            c->finalize(c->ctx, c->slots[i].stmt);
            free(c->slots[i].sql);
        }
    }
    free(c->slots);
    c->slots = NULL;
    c->cap = c->count = 0;
}

kt_status store_cache_put(store_cache *c, const char *sql, void *stmt, kt_err *err)
{
    if (c->count >= STORE_CACHE_MAX)
        store_cache_clear(c);
    /* Keep the load factor under 1/2 so probes stay short. */
    if ((c->count + 1) * 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        store_cache_entry *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            c->finalize(c->ctx, stmt);
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory caching a statement");
        }
        for (size_t i = 0; i < c->cap; i++)
            if (c->slots[i].sql)
                cache_insert_slot(slots, cap, c->slots[i]);
        free(c->slots);
        c->slots = slots;
        c->cap = cap;
    }
    char *copy = strdup(sql);
    if (!copy) {
        c->finalize(c->ctx, stmt);
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory caching a statement");
    }
    cache_insert_slot(c->slots, c->cap,
                      (store_cache_entry){.key_ptr = sql, .sql = copy, .hash = hash_sql(sql),
                                          .stmt = stmt});
    c->count++;
    return KT_OK;
}

/* ------------------------------------------------------------- store */

static int is_postgres_url(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

kt_status store_open(const char *url, store **out, kt_err *err)
{
    if (!url || !*url)
        return err_set(err, KT_ERR_INVALID, "db_url",
                       "no database given: set KEEPTRACK_DB to a file path or a postgres:// URL");
    store *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory opening the database");
    s->drv = is_postgres_url(url) ? &store_pg_driver : &store_sqlite_driver;
    kt_status st = s->drv->open(url, &s->conn, err);
    if (st != KT_OK) {
        free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        store_rollback(s);
    s->drv->close(s->conn);
    free(s);
}

store_backend store_get_backend(const store *s)
{
    return s->drv->backend;
}

int store_is_broken(const store *s)
{
    return s->drv->broken(s->conn);
}

int store_in_transaction(const store *s)
{
    return s->in_tx;
}

/* Refuses work that cannot succeed and validates parameters, so drivers see
 * only well-formed calls. */
static kt_status check_call(store *s, const char *sql, const store_param *params, size_t nparams,
                            kt_err *err)
{
    if (!s || !sql)
        return err_set(err, KT_ERR_INTERNAL, NULL, "store called without a connection or SQL");
    if (nparams > STORE_MAX_PARAMS)
        return err_set(err, KT_ERR_INVALID, "db_too_many_params",
                       "%zu parameters in one statement (limit %d); split the batch", nparams,
                       STORE_MAX_PARAMS);
    if (nparams && !params)
        return err_set(err, KT_ERR_INTERNAL, NULL, "store: %zu parameters but no array", nparams);
    for (size_t i = 0; i < nparams; i++) {
        store_type t = params[i].type;
        if (t != STORE_NULL && t != STORE_INT && t != STORE_TEXT && t != STORE_BLOB)
            return err_set(err, KT_ERR_INTERNAL, NULL, "store: parameter %zu has no valid type",
                           i + 1);
    }
    if (s->in_tx && s->tx_failed)
        return err_set(err, KT_ERR_STORE, STORE_CODE_TX,
                       "the transaction was aborted by an earlier error; roll it back first");
    return KT_OK;
}

static kt_status note_result(store *s, kt_status st)
{
    if (st != KT_OK && s->in_tx)
        s->tx_failed = 1;
    return st;
}

kt_status store_exec(store *s, const char *sql, const store_param *params, size_t nparams,
                     int64_t *changes, kt_err *err)
{
    kt_status st = check_call(s, sql, params, nparams, err);
    if (st != KT_OK)
        return st;
    return note_result(s, s->drv->exec(s->conn, sql, params, nparams, changes, err));
}

kt_status store_query(store *s, const char *sql, const store_param *params, size_t nparams,
                      store_rows **out, kt_err *err)
{
    kt_status st = check_call(s, sql, params, nparams, err);
    if (st != KT_OK)
        return st;
    store_rows *r = rows_new();
    if (!r)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory running a query");
    st = note_result(s, s->drv->query(s->conn, sql, params, nparams, r, err));
    if (st != KT_OK) {
        store_rows_free(r);
        return st;
    }
    *out = r;
    return KT_OK;
}

kt_status store_query_int(store *s, const char *sql, const store_param *params, size_t nparams,
                          int64_t *out, kt_err *err)
{
    store_rows *r = NULL;
    kt_status st = store_query(s, sql, params, nparams, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0 || store_rows_columns(r) == 0) {
        st = err_set(err, KT_ERR_NOT_FOUND, "db_no_row", "the query returned no row");
    } else {
        *out = store_rows_int(r, 0, 0);
    }
    store_rows_free(r);
    return st;
}

kt_status store_script(store *s, const char *sql, kt_err *err)
{
    kt_status st = check_call(s, sql, NULL, 0, err);
    if (st != KT_OK)
        return st;
    return note_result(s, s->drv->script(s->conn, sql, err));
}

kt_status store_begin(store *s, kt_err *err)
{
    if (!s)
        return err_set(err, KT_ERR_INTERNAL, NULL, "store_begin without a connection");
    if (s->in_tx)
        return err_set(err, KT_ERR_INTERNAL, STORE_CODE_TX,
                       "a transaction is already open on this connection (nesting is not supported)");
    kt_status st = s->drv->begin(s->conn, err);
    if (st != KT_OK)
        return st;
    s->in_tx = 1;
    s->tx_failed = 0;
    return KT_OK;
}

kt_status store_commit(store *s, kt_err *err)
{
    if (!s || !s->in_tx)
        return err_set(err, KT_ERR_INTERNAL, STORE_CODE_TX, "store_commit without store_begin");
    if (s->tx_failed) {
        store_rollback(s);
        return err_set(err, KT_ERR_STORE, STORE_CODE_TX,
                       "the transaction was aborted by an earlier error and has been rolled back");
    }
    kt_status st = s->drv->commit(s->conn, err);
    if (st != KT_OK) {
        /* SQLite leaves the transaction open when COMMIT fails (e.g. busy);
         * end it so the connection is clean either way. */
        store_rollback(s);
        return st;
    }
    s->in_tx = 0;
    return KT_OK;
}

void store_rollback(store *s)
{
    if (!s || !s->in_tx)
        return;
    /* A failed ROLLBACK leaves nothing to do: the server ends the
     * transaction anyway (SQLite: auto-rollback; PostgreSQL: connection gone). */
    (void)s->drv->rollback(s->conn, NULL);
    s->in_tx = 0;
    s->tx_failed = 0;
}

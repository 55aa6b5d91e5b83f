/* test_store.c - the store contract suite, run against every back-end.
 *
 * Each contract case runs twice: on a fresh SQLite file in a temporary
 * folder, and on PostgreSQL in a fresh schema of KEEPTRACK_TEST_PG (created
 * before and dropped after the case, reached through
 * `options=-csearch_path%3D<schema>` in the URL). When KEEPTRACK_TEST_PG is
 * unset the PostgreSQL cases are skipped with a message; when it is set but
 * the server is unusable they fail.
 *
 * Cases that only make sense on one back-end (SQLite pragmas and :memory:,
 * PostgreSQL time zone and lost connections) follow, then back-end-free ones
 * (bad URLs, placeholder rewriting).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_driver.h"

#include "testdb.h"

typedef struct fixture {
    store_backend backend;
    testdb *db;
    store *s;           /* db->s: an open, unmigrated connection */
    const char *url;    /* db->url */
    const char *schema; /* db->schema (PostgreSQL) */
} fixture;

/* ------------------------------------------------------------ fixtures */

static int setup_backend(void **state, store_backend backend)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->backend = backend;
    *state = f;
    kt_err err = {0};
    kt_status st = testdb_open(backend, 0, &f->db, &err);
    if (st == KT_ERR_NOT_FOUND && backend == STORE_POSTGRES)
        return 0; /* KEEPTRACK_TEST_PG unset: the case skips itself */
    if (st != KT_OK)
        fail_msg("%s", err.msg); /* set but unusable: fail */
    f->s = f->db->s;
    f->url = f->db->url;
    f->schema = f->db->schema;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup_backend(state, STORE_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_backend(state, STORE_POSTGRES);
}

static int teardown_fixture(void **state)
{
    fixture *f = *state;
    testdb_close(f->db);
    free(f);
    return 0;
}

/* The fixture of a case, skipping PostgreSQL cases when no server is given. */
static fixture *fx(void **state)
{
    fixture *f = *state;
    if (!f->db) {
        static int told;
        if (!told++)
            fprintf(stderr, "KEEPTRACK_TEST_PG is not set: skipping the PostgreSQL cases\n");
        skip();
    }
    return f;
}

/* ------------------------------------------------------------- helpers */

#define OK(call)                                                                       \
    do {                                                                               \
        kt_err e_ = {0};                                                               \
        kt_err *ok_err = &e_;                                                          \
        kt_status st_ = (call);                                                        \
        if (st_ != KT_OK)                                                              \
            fail_msg("%s -> %s: %s", #call, err_status_name(st_), e_.msg);             \
    } while (0)

static void exec(store *s, const char *sql, const store_param *p, size_t n)
{
    OK(store_exec(s, sql, p, n, NULL, ok_err));
}

static int64_t qint(store *s, const char *sql, const store_param *p, size_t n)
{
    int64_t v = -999;
    OK(store_query_int(s, sql, p, n, &v, ok_err));
    return v;
}

static const char *blob_type(const fixture *f)
{
    return f->backend == STORE_POSTGRES ? "BYTEA" : "BLOB";
}

static void create_values_table(fixture *f)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE v (id BIGINT NOT NULL PRIMARY KEY, i BIGINT, s TEXT, b %s, u TEXT UNIQUE)",
             blob_type(f));
    OK(store_script(f->s, sql, ok_err));
}

/* --------------------------------------------------------- contract */

static void test_types_roundtrip(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    static const unsigned char bin[] = {0, 1, 0, 0xff, 0x80, 0, '\\', 'x', 0};
    const char *uni = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x8e\xb5 \xe6\x97\xa5\xe6\x9c\xac";
    const int64_t big = (int64_t)1 << 62;
    store_param rows[][4] = {
        {SP_INT(1), SP_INT(big), SP_TEXT(uni), SP_BLOB(bin, sizeof bin)},
        {SP_INT(2), SP_INT(-big), SP_TEXT(""), SP_BLOB("", 0)},
        {SP_INT(3), SP_NULL, SP_TEXT(NULL), SP_BLOB(NULL, 0)},
        {SP_INT(4), SP_INT(INT64_MAX), SP_TEXT("it's \"quoted\" \\ back"), SP_NULL},
        {SP_INT(5), SP_INT(INT64_MIN), SP_NULL, SP_BLOB("\0", 1)},
    };
    for (size_t r = 0; r < 5; r++)
        exec(f->s, "INSERT INTO v (id, i, s, b) VALUES (?, ?, ?, ?)", rows[r], 4);

    store_rows *q = NULL;
    OK(store_query(f->s, "SELECT id, i, s, b FROM v ORDER BY id", NULL, 0, &q, ok_err));
    assert_int_equal(store_rows_count(q), 5);
    assert_int_equal(store_rows_columns(q), 4);
    size_t len = 99;
    /* row 1: extremes, unicode, binary with NULs */
    assert_int_equal(store_rows_int(q, 0, 0), 1);
    assert_true(store_rows_int(q, 0, 1) == big);
    assert_string_equal(store_rows_text(q, 0, 1), "4611686018427387904");
    assert_string_equal(store_rows_text(q, 0, 2), uni);
    const void *b = store_rows_blob(q, 0, 3, &len);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(b, bin, sizeof bin);
    /* row 2: negative, empty text and empty blob are not NULL */
    assert_true(store_rows_int(q, 1, 1) == -big);
    assert_false(store_rows_is_null(q, 1, 2));
    assert_string_equal(store_rows_text(q, 1, 2), "");
    assert_false(store_rows_is_null(q, 1, 3));
    len = 99;
    assert_non_null(store_rows_blob(q, 1, 3, &len));
    assert_int_equal(len, 0);
    /* row 3: NULL of every kind */
    for (size_t c = 1; c < 4; c++) {
        assert_true(store_rows_is_null(q, 2, c));
        assert_null(store_rows_text(q, 2, c));
        assert_int_equal(store_rows_int(q, 2, c), 0);
        assert_null(store_rows_blob(q, 2, c, &len));
        assert_int_equal(len, 0);
    }
    /* rows 4, 5: int64 limits, quotes and backslashes, a lone NUL byte */
    assert_true(store_rows_int(q, 3, 1) == INT64_MAX);
    assert_string_equal(store_rows_text(q, 3, 2), "it's \"quoted\" \\ back");
    assert_true(store_rows_int(q, 4, 1) == INT64_MIN);
    b = store_rows_blob(q, 4, 3, &len);
    assert_int_equal(len, 1);
    assert_int_equal(((const unsigned char *)b)[0], 0);
    /* out of range cells read as NULL */
    assert_true(store_rows_is_null(q, 5, 0));
    assert_true(store_rows_is_null(q, 0, 4));
    assert_null(store_rows_text(q, 9, 9));
    store_rows_free(q);

    /* parameters in WHERE, text parsed by store_rows_int, counts */
    store_param p[] = {SP_TEXT(uni)};
    assert_int_equal(qint(f->s, "SELECT id FROM v WHERE s = ?", p, 1), 1);
    store_param pb[] = {SP_BLOB(bin, sizeof bin)};
    assert_int_equal(qint(f->s, "SELECT id FROM v WHERE b = ?", pb, 1), 1);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v WHERE s IS NULL", NULL, 0), 2);
    assert_int_equal(qint(f->s, "SELECT '42'", NULL, 0), 42);
}

static void test_changes_and_returning(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    for (int i = 1; i <= 3; i++) {
        store_param p[] = {SP_INT(i), SP_INT(i * 10)};
        int64_t changes = -1;
        OK(store_exec(f->s, "INSERT INTO v (id, i) VALUES (?, ?)", p, 2, &changes, ok_err));
        assert_int_equal(changes, 1);
    }
    int64_t changes = -1;
    OK(store_exec(f->s, "UPDATE v SET s = 'x' WHERE i >= 10", NULL, 0, &changes, ok_err));
    assert_int_equal(changes, 3);
    OK(store_exec(f->s, "DELETE FROM v WHERE id = 9", NULL, 0, &changes, ok_err));
    assert_int_equal(changes, 0);

    store_rows *q = NULL;
    store_param p[] = {SP_INT(7), SP_INT(70)};
    OK(store_query(f->s, "INSERT INTO v (id, i) VALUES (?, ?) RETURNING id, i", p, 2, &q, ok_err));
    assert_int_equal(store_rows_count(q), 1);
    assert_int_equal(store_rows_int(q, 0, 0), 7);
    assert_int_equal(store_rows_int(q, 0, 1), 70);
    store_rows_free(q);

    /* a query with no rows, and query_int on it */
    OK(store_query(f->s, "SELECT id FROM v WHERE id < 0", NULL, 0, &q, ok_err));
    assert_int_equal(store_rows_count(q), 0);
    assert_int_equal(store_rows_columns(q), 1);
    store_rows_free(q);
    kt_err err = {0};
    int64_t v = 5;
    assert_int_equal(store_query_int(f->s, "SELECT id FROM v WHERE id < 0", NULL, 0, &v, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(v, 5); /* untouched on failure */
}

static void test_placeholders_in_literals(void **state)
{
    fixture *f = fx(state);
    OK(store_script(f->s, "CREATE TABLE \"q?t\" (\"a?b\" TEXT, n BIGINT)", ok_err));
    store_param p[] = {SP_TEXT("val?"), SP_INT(3)};
    exec(f->s, "INSERT INTO \"q?t\" (\"a?b\", n) VALUES (?, ?) -- why? because\n", p, 2);
    store_param p2[] = {SP_INT(4)};
    exec(f->s, "INSERT INTO \"q?t\" (\"a?b\", n) VALUES ('what?''s ?', /* ? */ ?)", p2, 1);
    store_rows *q = NULL;
    store_param p3[] = {SP_INT(4)};
    OK(store_query(f->s, "SELECT \"a?b\", '?' FROM \"q?t\" WHERE n = ? AND \"a?b\" <> '?'", p3, 1,
                   &q, ok_err));
    assert_int_equal(store_rows_count(q), 1);
    assert_string_equal(store_rows_text(q, 0, 0), "what?'s ?");
    assert_string_equal(store_rows_text(q, 0, 1), "?");
    store_rows_free(q);
    store_param p4[] = {SP_TEXT("val?")};
    assert_int_equal(qint(f->s, "SELECT n FROM \"q?t\" WHERE \"a?b\" = ?", p4, 1), 3);
}

static void test_errors_mapped(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    store_param p[] = {SP_INT(1), SP_TEXT("u1")};
    exec(f->s, "INSERT INTO v (id, u) VALUES (?, ?)", p, 2);
    kt_err err = {0};
    /* primary key */
    store_param dup_pk[] = {SP_INT(1), SP_TEXT("u2")};
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id, u) VALUES (?, ?)", dup_pk, 2, NULL, &err),
                     KT_ERR_CONFLICT);
    assert_string_equal(err.code, STORE_CODE_CONFLICT);
    /* unique column */
    store_param dup_u[] = {SP_INT(2), SP_TEXT("u1")};
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id, u) VALUES (?, ?)", dup_u, 2, NULL, &err),
                     KT_ERR_CONFLICT);
    assert_string_equal(err.code, STORE_CODE_CONFLICT);
    assert_non_null(strstr(err.msg, "already exists"));
    /* NOT NULL is not a conflict */
    store_param nul[] = {SP_NULL};
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id) VALUES (?)", nul, 1, NULL, &err),
                     KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_ERROR);
    /* syntax error and unknown table */
    assert_int_equal(store_exec(f->s, "INSERT INTO nope VALUES (1)", NULL, 0, NULL, &err),
                     KT_ERR_STORE);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(store_exec(f->s, "SELEC 1", NULL, 0, NULL, &err), KT_ERR_STORE);
    /* wrong parameter count is a bug, reported as such */
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id, u) VALUES (?, ?)", p, 1, NULL, &err),
                     KT_ERR_INTERNAL);
    assert_int_equal(store_exec(f->s, "DELETE FROM v", p, 2, NULL, &err), KT_ERR_INTERNAL);
    assert_int_equal(store_exec(f->s, "DELETE FROM v", NULL, 3, NULL, &err), KT_ERR_INTERNAL);
    /* the connection still works and nothing else was written */
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 1);
}

static void test_transactions(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    kt_err err = {0};
    store_rollback(f->s); /* no transaction: no-op */
    assert_int_equal(store_commit(f->s, &err), KT_ERR_INTERNAL);

    /* rollback leaves nothing */
    OK(store_begin(f->s, ok_err));
    assert_int_equal(store_begin(f->s, &err), KT_ERR_INTERNAL); /* no nesting */
    assert_string_equal(err.code, STORE_CODE_TX);
    for (int i = 1; i <= 10; i++) {
        store_param p[] = {SP_INT(i)};
        exec(f->s, "INSERT INTO v (id) VALUES (?)", p, 1);
    }
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 10);
    store_rollback(f->s);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 0);

    /* commit persists, seen from another connection */
    OK(store_begin(f->s, ok_err));
    store_param p[] = {SP_INT(1)};
    exec(f->s, "INSERT INTO v (id) VALUES (?)", p, 1);
    OK(store_commit(f->s, ok_err));
    store *other = NULL;
    OK(store_open(f->url, &other, ok_err));
    assert_int_equal(qint(other, "SELECT COUNT(*) FROM v", NULL, 0), 1);

    /* a failed statement aborts the transaction on both back-ends */
    OK(store_begin(f->s, ok_err));
    store_param p2[] = {SP_INT(2)};
    exec(f->s, "INSERT INTO v (id) VALUES (?)", p2, 1);
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id) VALUES (?)", p, 1, NULL, &err),
                     KT_ERR_CONFLICT);
    assert_int_equal(store_exec(f->s, "INSERT INTO v (id) VALUES (3)", NULL, 0, NULL, &err),
                     KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_TX);
    assert_int_equal(store_commit(f->s, &err), KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_TX);
    /* the commit rolled back; the connection is usable again */
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 1);
    assert_int_equal(qint(other, "SELECT COUNT(*) FROM v", NULL, 0), 1);
    OK(store_begin(f->s, ok_err));
    exec(f->s, "INSERT INTO v (id) VALUES (?)", p2, 1);
    OK(store_commit(f->s, ok_err));
    assert_int_equal(qint(other, "SELECT COUNT(*) FROM v", NULL, 0), 2);

    /* closing with an open transaction discards it */
    OK(store_begin(f->s, ok_err));
    store_param p9[] = {SP_INT(9)};
    exec(f->s, "INSERT INTO v (id) VALUES (?)", p9, 1);
    store_close(f->s);
    f->s = f->db->s = NULL;
    assert_int_equal(qint(other, "SELECT COUNT(*) FROM v", NULL, 0), 2);
    store_close(other);
}

static void test_statement_cache_bounded(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    /* More distinct statements than the cache holds: it is emptied and refilled. */
    char sql[STORE_CACHE_MAX + 64][64];
    for (int i = 0; i < STORE_CACHE_MAX + 64; i++) {
        snprintf(sql[i], sizeof sql[i], "INSERT INTO v (id, i) VALUES (?, %d)", i);
        store_param p[] = {SP_INT(i)};
        exec(f->s, sql[i], p, 1);
    }
    /* the same SQL text from another buffer finds the cached statement */
    char again[64];
    snprintf(again, sizeof again, "%s", "SELECT COUNT(*) FROM v WHERE i < ?");
    store_param p[] = {SP_INT(100)};
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v WHERE i < ?", p, 1), 100);
    assert_int_equal(qint(f->s, again, p, 1), 100);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), STORE_CACHE_MAX + 64);
}

static void test_batch_in_transaction(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    OK(store_begin(f->s, ok_err));
    char text[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof text, "row %d", i);
        store_param p[] = {SP_INT(i), SP_INT(i * 3), SP_TEXT(text)};
        exec(f->s, "INSERT INTO v (id, i, s) VALUES (?, ?, ?)", p, 3);
    }
    OK(store_commit(f->s, ok_err));
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 5000);
    assert_int_equal(qint(f->s, "SELECT SUM(i) FROM v", NULL, 0), 3 * (4999 * 5000 / 2));
    store_rows *q = NULL;
    OK(store_query(f->s, "SELECT id, s FROM v ORDER BY id", NULL, 0, &q, ok_err));
    assert_int_equal(store_rows_count(q), 5000);
    assert_string_equal(store_rows_text(q, 4321, 1), "row 4321");
    store_rows_free(q);
}

static void test_migrate_from_empty(void **state)
{
    fixture *f = fx(state);
    int v = -1;
    OK(store_schema_version(f->s, &v, ok_err));
    assert_int_equal(v, 0);
    assert_true(store_schema_latest() >= 1);
    OK(store_migrate(f->s, ok_err));
    OK(store_schema_version(f->s, &v, ok_err));
    assert_int_equal(v, store_schema_latest());
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     store_schema_latest());
    assert_true(qint(f->s, "SELECT MIN(applied_at) FROM schema_migrations", NULL, 0) >
                1700000000000LL);

    /* migration 1: the auth schema works, ids are assigned, FKs cascade */
    store_param u[] = {SP_TEXT("acc1"), SP_TEXT("sp1"), SP_INT(1), SP_INT(2)};
    int64_t id = qint(f->s,
                      "INSERT INTO users (account_id, spotify_id, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?) RETURNING id",
                      u, 4);
    assert_true(id >= 1);
    store_rows *q = NULL;
    OK(store_query(f->s, "SELECT status, display_name FROM users WHERE id = 1", NULL, 0, &q, ok_err));
    assert_string_equal(store_rows_text(q, 0, 0), "active");
    assert_true(store_rows_is_null(q, 0, 1));
    store_rows_free(q);
    kt_err err = {0};
    assert_int_equal(store_exec(f->s,
                                "INSERT INTO users (account_id, spotify_id, created_at, "
                                "updated_at) VALUES (?, ?, ?, ?)",
                                u, 4, NULL, &err),
                     KT_ERR_CONFLICT);
    static const unsigned char tok[] = {1, 0, 2};
    store_param t[] = {SP_INT(id), SP_BLOB(tok, 3), SP_NULL, SP_INT(5), SP_TEXT("k1"), SP_INT(6)};
    exec(f->s,
         "INSERT INTO user_tokens (user_id, access_token, refresh_token, expires_at, key_id, "
         "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
         t, 6);
    store_param s[] = {SP_TEXT("h1"), SP_INT(id), SP_INT(1), SP_INT(1), SP_INT(9)};
    exec(f->s,
         "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) "
         "VALUES (?, ?, ?, ?, ?)",
         s, 5);
    store_param bad[] = {SP_TEXT("h2"), SP_INT(id + 100), SP_INT(1), SP_INT(1), SP_INT(9)};
    assert_int_equal(store_exec(f->s,
                                "INSERT INTO sessions (id_hash, user_id, created_at, "
                                "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                                bad, 5, NULL, &err),
                     KT_ERR_STORE); /* foreign keys are enforced */
    store_param o[] = {SP_TEXT("st"), SP_TEXT("br"), SP_BLOB("v", 1), SP_INT(1), SP_INT(2)};
    exec(f->s,
         "INSERT INTO oauth_states (state_hash, browser_hash, verifier, created_at, expires_at) "
         "VALUES (?, ?, ?, ?, ?)",
         o, 5);
    store_param a[] = {SP_TEXT("k"), SP_TEXT("v"), SP_INT(1)};
    exec(f->s, "INSERT INTO app_state (key, value, updated_at) VALUES (?, ?, ?)", a, 3);
    store_param nokey[] = {SP_NULL, SP_TEXT("v"), SP_INT(1)};
    assert_int_equal(store_exec(f->s, "INSERT INTO app_state (key, value, updated_at) VALUES (?, ?, ?)",
                                nokey, 3, NULL, &err),
                     KT_ERR_STORE); /* NULL keys refused on SQLite too */
    store_param idp[] = {SP_INT(id)};
    exec(f->s, "DELETE FROM users WHERE id = ?", idp, 1);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM user_tokens", NULL, 0), 0);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM sessions", NULL, 0), 0);

    /* idempotent re-run */
    OK(store_migrate(f->s, ok_err));
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     store_schema_latest());
}

typedef struct migrator {
    const char *url;
    kt_status st;
    kt_err err;
} migrator;

static void *migrate_thread(void *arg)
{
    migrator *m = arg;
    store *s = NULL;
    m->st = store_open(m->url, &s, &m->err);
    if (m->st == KT_OK)
        m->st = store_migrate(s, &m->err);
    store_close(s);
    return NULL;
}

static void test_concurrent_migrators(void **state)
{
    fixture *f = fx(state);
    enum { N = 4 };
    migrator m[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        m[i] = (migrator){.url = f->url};
        assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &m[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (m[i].st != KT_OK)
            fail_msg("migrator %d: %s", i, m[i].err.msg);
    }
    int v = -1;
    OK(store_schema_version(f->s, &v, ok_err));
    assert_int_equal(v, store_schema_latest());
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     store_schema_latest());
}

static void test_newer_schema_refused(void **state)
{
    fixture *f = fx(state);
    OK(store_migrate(f->s, ok_err));
    store_param p[] = {SP_INT(store_schema_latest() + 1), SP_INT(1)};
    exec(f->s, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", p, 2);
    kt_err err = {0};
    assert_int_equal(store_migrate(f->s, &err), KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_TOO_NEW);
    assert_non_null(strstr(err.msg, "upgrade keeptrack"));
    int v = -1;
    OK(store_schema_version(f->s, &v, ok_err));
    assert_int_equal(v, store_schema_latest() + 1);
    assert_false(store_in_transaction(f->s));
}

typedef struct writer {
    store_pool *pool;
    int id, n;
    kt_status st;
    kt_err err;
} writer;

/* Each transaction inserts a row and bumps a shared counter. */
static void *writer_thread(void *arg)
{
    writer *w = arg;
    w->st = KT_OK;
    for (int i = 0; i < w->n && w->st == KT_OK; i++) {
        store *s = NULL;
        w->st = store_pool_get(w->pool, &s, &w->err);
        if (w->st != KT_OK)
            break;
        store_param p[] = {SP_INT(w->id * 100000 + i), SP_INT(w->id)};
        w->st = store_begin(s, &w->err);
        if (w->st == KT_OK)
            w->st = store_exec(s, "INSERT INTO v (id, i) VALUES (?, ?)", p, 2, NULL, &w->err);
        if (w->st == KT_OK)
            w->st = store_exec(s, "UPDATE v SET i = i + 1 WHERE id = 0", NULL, 0, NULL, &w->err);
        if (w->st == KT_OK)
            w->st = store_commit(s, &w->err);
        store_pool_put(w->pool, s); /* rolls back on failure */
    }
    return NULL;
}

static void run_writers(fixture *f, int pool_size)
{
    create_values_table(f);
    exec(f->s, "INSERT INTO v (id, i) VALUES (0, 0)", NULL, 0);
    store_pool *pool = NULL;
    OK(store_pool_open(f->url, pool_size, &pool, ok_err));
    enum { THREADS = 8, EACH = 150 };
    writer w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (writer){.pool = pool, .id = i + 1, .n = EACH};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].st != KT_OK)
            fail_msg("writer %d: %s (%s)", i, w[i].err.msg, w[i].err.code);
    }
    store_pool_close(pool);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v WHERE id > 0", NULL, 0), THREADS * EACH);
    assert_int_equal(qint(f->s, "SELECT i FROM v WHERE id = 0", NULL, 0), THREADS * EACH);
    for (int i = 1; i <= THREADS; i++) {
        store_param p[] = {SP_INT(i)};
        assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v WHERE i = ? AND id > 0", p, 1), EACH);
    }
}

static void test_pool_concurrent_writers(void **state)
{
    run_writers(fx(state), 8); /* a connection per thread */
}

static void test_pool_waits_for_free_connection(void **state)
{
    run_writers(fx(state), 2); /* threads queue in store_pool_get */
}

static void test_pool_rolls_back_returned_transaction(void **state)
{
    fixture *f = fx(state);
    create_values_table(f);
    store_pool *pool = NULL;
    OK(store_pool_open(f->url, 1, &pool, ok_err));
    store *s = NULL;
    OK(store_pool_get(pool, &s, ok_err));
    OK(store_begin(s, ok_err));
    exec(s, "INSERT INTO v (id) VALUES (1)", NULL, 0);
    store_pool_put(pool, s);
    store *again = NULL;
    OK(store_pool_get(pool, &again, ok_err));
    assert_ptr_equal(again, s); /* the same, reused connection */
    assert_false(store_in_transaction(again));
    assert_int_equal(qint(again, "SELECT COUNT(*) FROM v", NULL, 0), 0);
    OK(store_begin(again, ok_err)); /* not refused as nested */
    store_rollback(again);
    store_pool_put(pool, again);
    store_pool_close(pool);
    assert_int_equal(qint(f->s, "SELECT COUNT(*) FROM v", NULL, 0), 0);
}

/* ------------------------------------------------ back-end specific */

static void test_sqlite_pragmas(void **state)
{
    fixture *f = fx(state);
    store_rows *q = NULL;
    OK(store_query(f->s, "PRAGMA journal_mode", NULL, 0, &q, ok_err));
    assert_string_equal(store_rows_text(q, 0, 0), "wal");
    store_rows_free(q);
    assert_int_equal(qint(f->s, "PRAGMA foreign_keys", NULL, 0), 1);
    assert_int_equal(qint(f->s, "PRAGMA busy_timeout", NULL, 0), 5000);
    assert_int_equal(qint(f->s, "PRAGMA synchronous", NULL, 0), 1); /* NORMAL */
    assert_int_equal(store_get_backend(f->s), STORE_SQLITE);
}

static void test_sqlite_memory(void **state)
{
    (void)state;
    store *s = NULL;
    OK(store_open(":memory:", &s, ok_err));
    OK(store_migrate(s, ok_err));
    store_param u[] = {SP_TEXT("a"), SP_TEXT("b"), SP_INT(1), SP_INT(1)};
    exec(s, "INSERT INTO users (account_id, spotify_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
         u, 4);
    assert_int_equal(qint(s, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    store_close(s);

    /* a pool over :memory: is one connection, hence one database */
    store_pool *pool = NULL;
    OK(store_pool_open(":memory:", 8, &pool, ok_err));
    OK(store_pool_get(pool, &s, ok_err));
    OK(store_migrate(s, ok_err));
    store_pool_put(pool, s);
    OK(store_pool_get(pool, &s, ok_err));
    int v = 0;
    OK(store_schema_version(s, &v, ok_err));
    assert_int_equal(v, store_schema_latest());
    store_pool_put(pool, s);
    store_pool_close(pool);
}

static void test_pg_session(void **state)
{
    fixture *f = fx(state);
    store_rows *q = NULL;
    OK(store_query(f->s, "SHOW TIME ZONE", NULL, 0, &q, ok_err));
    assert_string_equal(store_rows_text(q, 0, 0), "UTC");
    store_rows_free(q);
    OK(store_query(f->s, "SELECT current_schema(), true, false", NULL, 0, &q, ok_err));
    assert_string_equal(store_rows_text(q, 0, 0), f->schema);
    assert_int_equal(store_rows_int(q, 0, 1), 1);
    assert_int_equal(store_rows_int(q, 0, 2), 0);
    store_rows_free(q);
    assert_int_equal(store_get_backend(f->s), STORE_POSTGRES);
}

/* Kills the server side of a pooled connection: the next statement reports
 * a lost connection, and the pool replaces it on the next get. */
static void test_pg_lost_connection_replaced(void **state)
{
    fixture *f = fx(state);
    store_pool *pool = NULL;
    OK(store_pool_open(f->url, 1, &pool, ok_err));
    store *s = NULL;
    OK(store_pool_get(pool, &s, ok_err));
    int64_t pid = qint(s, "SELECT pg_backend_pid()", NULL, 0);
    store_param p[] = {SP_INT(pid)};
    assert_int_equal(qint(f->s, "SELECT CAST(pg_terminate_backend(CAST(? AS INTEGER)) AS INTEGER)",
                          p, 1),
                     1);
    kt_err err = {0};
    kt_status st = store_query_int(s, "SELECT 1", NULL, 0, &pid, &err);
    /* termination is asynchronous: poll (bounded) until the server is gone */
    for (int i = 0; i < 500 && st == KT_OK; i++) {
        usleep(10000);
        st = store_query_int(s, "SELECT 1", NULL, 0, &pid, &err);
    }
    assert_int_equal(st, KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_LOST);
    assert_non_null(strstr(err.msg, "lost the connection"));
    store_pool_put(pool, s);
    store *fresh = NULL;
    OK(store_pool_get(pool, &fresh, ok_err));
    assert_int_equal(qint(fresh, "SELECT 7", NULL, 0), 7);
    store_pool_put(pool, fresh);
    store_pool_close(pool);
}

/* ----------------------------------------------------- no back-end */

static void test_bad_urls(void **state)
{
    (void)state;
    store *s = NULL;
    kt_err err = {0};
    assert_int_equal(store_open("/nonexistent-dir/sub/keeptrack.db", &s, &err), KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_CONNECT);
    assert_non_null(strstr(err.msg, "KEEPTRACK_DB"));
    assert_null(s);
    assert_int_equal(store_open("", &s, &err), KT_ERR_INVALID);
    assert_int_equal(store_open(NULL, &s, &err), KT_ERR_INVALID);
    /* nothing listens on port 1; the password must not be echoed */
    assert_int_equal(store_open("postgresql://kt:s3cretpw@127.0.0.1:1/db", &s, &err), KT_ERR_STORE);
    assert_string_equal(err.code, STORE_CODE_CONNECT);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL"));
    assert_null(strstr(err.msg, "s3cretpw"));
    assert_int_equal(store_open("postgres://127.0.0.1:99999999/db?bogus_option=1", &s, &err),
                     KT_ERR_STORE);
    assert_null(s);
    /* a file that is not a database */
    char path[] = "/tmp/kt-store-notdb.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "this is not a database, just text.......................", 56),
                     56);
    close(fd);
    assert_int_equal(store_open(path, &s, &err), KT_ERR_STORE);
    unlink(path);
    store_pool *pool = NULL;
    assert_int_equal(store_pool_open("x.db", 0, &pool, &err), KT_ERR_INVALID);
    assert_null(pool);
    /* a pool over an unreachable server fails on get, not forever */
    OK(store_pool_open("postgresql://127.0.0.1:1/db", 2, &pool, ok_err));
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_pool_get(pool, &s, &err), KT_ERR_STORE);
    store_pool_close(pool);
    store_close(NULL);
    store_pool_close(NULL);
    store_rows_free(NULL);
}

static void check_rewrite(const char *in, const char *want, size_t want_n)
{
    size_t n = 99;
    char *out = store_pg_rewrite(in, &n);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(n, want_n);
    free(out);
}

static void test_pg_rewrite(void **state)
{
    (void)state;
    check_rewrite("SELECT 1", "SELECT 1", 0);
    check_rewrite("a = ? AND b = ?", "a = $1 AND b = $2", 2);
    check_rewrite("'?' ? 'it''s ?' ?", "'?' $1 'it''s ?' $2", 2);
    check_rewrite("E'\\'?' ?", "E'\\'?' $1", 1);
    check_rewrite("\"a?b\" = ? AND \"x\"\"?\" = ?", "\"a?b\" = $1 AND \"x\"\"?\" = $2", 2);
    check_rewrite("? -- what?\n?", "$1 -- what?\n$2", 2);
    check_rewrite("/* ? /* ? */ ? */ ?", "/* ? /* ? */ ? */ $1", 1);
    check_rewrite("$$ ? $$ ? $t$ ? $$ ? $t$ ?", "$$ ? $$ $1 $t$ ? $$ ? $t$ $2", 2);
    check_rewrite("x$y ? $1", "x$y $1 $1", 1); /* $ inside a name is not a quote */
    check_rewrite("'unterminated ?", "'unterminated ?", 0);
    char many[12 * 4 + 1] = "";
    for (int i = 0; i < 12; i++)
        strcat(many, "?,");
    check_rewrite(many, "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,", 12);
}

/* ---------------------------------------------------------------- main */

#define CONTRACT(X)                                                                      \
    X(types_roundtrip) X(changes_and_returning) X(placeholders_in_literals)              \
    X(errors_mapped) X(transactions) X(statement_cache_bounded) X(batch_in_transaction)  \
    X(migrate_from_empty) X(concurrent_migrators) X(newer_schema_refused)                \
    X(pool_concurrent_writers) X(pool_waits_for_free_connection)                         \
    X(pool_rolls_back_returned_transaction)

#define CASE(prefix, fn, setup)                                                          \
    {prefix #fn, test_##fn, setup, teardown_fixture, NULL},
#define SQLITE_CASE(fn) CASE("sqlite_", fn, setup_sqlite)
#define PG_CASE(fn) CASE("postgres_", fn, setup_pg)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CONTRACT(SQLITE_CASE)
        CASE("", sqlite_pragmas, setup_sqlite)
        CONTRACT(PG_CASE)
        CASE("", pg_session, setup_pg)
        CASE("", pg_lost_connection_replaced, setup_pg)
        cmocka_unit_test(test_sqlite_memory),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_pg_rewrite),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

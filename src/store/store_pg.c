/* store_pg.c - the PostgreSQL back-end (KEEPTRACK_DB is a postgres:// URL).
 *
 * One libpq connection per store. At connect the session time zone is set
 * to UTC and server notices are dropped (they would go to stderr). Portable
 * SQL arrives with `?` placeholders; they are rewritten to $1..$n, skipping
 * string literals, quoted identifiers, comments and dollar-quoted bodies,
 * then prepared once per connection under a counter-made name and cached by
 * the original SQL text. Parameter types are left for the server to infer
 * from context (write CAST(? AS BIGINT) where the context says nothing, e.g.
 * `SELECT ?` or `? IS NULL`).
 *
 * Parameters: integers and text are sent in text format; blobs in binary
 * format, so bytes (NULs included) arrive unchanged as bytea. Results are
 * requested in text format as a whole: binary results would need a decoder
 * per type (numeric, timestamps, aggregates...), while text is exact for
 * every type we read; bytea is the one type whose text form differs from
 * its value, and those columns are decoded with PQunescapeBytea. Tokens and
 * verifiers are small, so the hex doubling on the wire does not matter.
 *
 * Errors: SQLSTATE 23505 is KT_ERR_CONFLICT. A dropped connection marks the
 * store broken (store_pool replaces it) and says so. Only the primary
 * message of a server error is reported: DETAIL lines carry row values.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_driver.h"

/* Type OIDs from pg_type.h (server headers are not a client dependency). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26

#define CONNECT_TIMEOUT_S "10"
#define MIN_SERVER_VERSION 100000 /* identity columns */

typedef struct pg_stmt {
    char name[24];
    size_t nparams;
} pg_stmt;

typedef struct pg_conn {
    PGconn *pg;
    store_cache cache;
    unsigned next_stmt;
    int lost;    /* connection dropped: unusable */
    int closing; /* close in progress: no DEALLOCATE for evicted statements */
    /* Per-call parameter arrays, grown once and reused so a batch of execs
     * does no allocation of its own. */
    size_t cap;
    const char **values;
    int *lengths, *formats;
    char (*ints)[24];
} pg_conn;

static void finalize_stmt(void *ctx, void *stmt)
{
    pg_conn *c = ctx;
    pg_stmt *ps = stmt;
    if (!c->closing && !c->lost && PQstatus(c->pg) == CONNECTION_OK) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", ps->name);
        PQclear(PQexec(c->pg, sql));
    }
    free(ps);
}

/* The first line of libpq's message, for one-line errors. */
static const char *first_line(const char *msg, char *buf, size_t size)
{
    if (!msg || !*msg)
        return "unknown error";
    snprintf(buf, size, "%s", msg);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Maps a failed result (res may be NULL) to a kt_status. */
static kt_status fail(pg_conn *c, const PGresult *res, const char *what, kt_err *err)
{
    char line[256];
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->lost = 1;
        return err_set(err, KT_ERR_STORE, STORE_CODE_LOST,
                       "%s: lost the connection to PostgreSQL (%s); is the server running? The "
                       "connection pool reconnects on next use",
                       what, first_line(PQerrorMessage(c->pg), line, sizeof line));
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary)
        primary = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg), line,
                             sizeof line);
    if (state && strcmp(state, "23505") == 0)
        return err_set(err, KT_ERR_CONFLICT, STORE_CODE_CONFLICT, "%s: already exists (%s)", what,
                       primary);
    return err_set(err, KT_ERR_STORE, STORE_CODE_ERROR, "%s: %s%s%s%s", what, primary,
                   state ? " [SQLSTATE " : "", state ? state : "", state ? "]" : "");
}

static void silent_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* notices ("relation already exists, skipping") are noise */
}

static void pg_close(void *conn)
{
    pg_conn *c = conn;
    if (!c)
        return;
    c->closing = 1; /* the server frees prepared statements with the session */
    store_cache_clear(&c->cache);
    PQfinish(c->pg);
    free(c->values);
    free(c->lengths);
    free(c->formats);
    free(c->ints);
    free(c);
}

static kt_status pg_open(const char *url, void **conn, kt_err *err)
{
    char line[256];
    kt_status rc = KT_OK;
    PGresult *res = NULL;
    pg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory connecting to PostgreSQL");
    store_cache_init(&c->cache, finalize_stmt, c);
    /* Defaults first: with expand_dbname the URL's own settings override them. */
    const char *const keys[] = {"connect_timeout", "application_name", "client_encoding",
                                "dbname", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT_S, "keeptrack", "UTF8", url, NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory connecting to PostgreSQL");
        goto out;
    }
    /* The URL is not quoted back: it may hold a password. */
    if (PQstatus(c->pg) != CONNECTION_OK) {
        rc = err_set(err, KT_ERR_STORE, STORE_CODE_CONNECT,
                     "cannot connect to PostgreSQL: %s (check KEEPTRACK_DB and that the server "
                     "is running and reachable)",
                     first_line(PQerrorMessage(c->pg), line, sizeof line));
        goto out;
    }
    if (PQserverVersion(c->pg) < MIN_SERVER_VERSION) {
        rc = err_set(err, KT_ERR_STORE, STORE_CODE_CONNECT,
                     "PostgreSQL %d is too old: keeptrack needs 10 or newer",
                     PQserverVersion(c->pg) / 10000);
        goto out;
    }
    PQsetNoticeProcessor(c->pg, silent_notice, NULL);
    res = PQexec(c->pg, "SET TIME ZONE 'UTC'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail(c, res, "setting the session time zone", err);
        goto out;
    }
out:
    PQclear(res);
    if (rc != KT_OK) {
        pg_close(c);
        return rc;
    }
    *conn = c;
    return KT_OK;
}

/* ---------------------------------------------- placeholder rewriting */

static int ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || (unsigned char)ch >= 0x80;
}

/* Length of the dollar-quote tag starting at s ("$$" or "$tag$"), or 0. */
static size_t dollar_tag(const char *s)
{
    size_t n = 1;
    if (s[n] >= '0' && s[n] <= '9')
        return 0; /* $1 is a positional parameter, not a tag */
    while (s[n] && s[n] != '$' && ident_char(s[n]))
        n++;
    return s[n] == '$' ? n + 1 : 0;
}

/* End of the quoted/commented run starting at s[i], or i when s[i] starts
 * none. Unterminated runs end at the end of the text (the server reports them). */
static size_t skip_quoted(const char *s, size_t n, size_t i)
{
    if (s[i] == '\'') {
        int backslash = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                        (i < 2 || !ident_char(s[i - 2]));
        for (i++; i < n; i++) {
            if (backslash && s[i] == '\\' && i + 1 < n)
                i++;
            else if (s[i] == '\'' && s[i + 1] == '\'')
                i++;
            else if (s[i] == '\'')
                return i + 1;
        }
        return n;
    }
    if (s[i] == '"') {
        const char *end = strchr(s + i + 1, '"');
        return end ? (size_t)(end - s) + 1 : n; /* "" inside is two adjacent runs: same result */
    }
    if (s[i] == '-' && s[i + 1] == '-') {
        const char *end = strchr(s + i, '\n');
        return end ? (size_t)(end - s) + 1 : n;
    }
    if (s[i] == '/' && s[i + 1] == '*') {
        int depth = 0; /* PostgreSQL block comments nest */
        for (; i < n; i++) {
            if (s[i] == '/' && s[i + 1] == '*') {
                depth++;
                i++;
            } else if (s[i] == '*' && s[i + 1] == '/') {
                i++;
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    if (s[i] == '$' && (i == 0 || !ident_char(s[i - 1]))) {
        size_t tag = dollar_tag(s + i);
        if (!tag)
            return i;
        for (size_t j = i + tag; j < n; j++)
            if (s[j] == '$' && strncmp(s + j, s + i, tag) == 0)
                return j + tag;
        return n;
    }
    return i;
}

char *store_pg_rewrite(const char *sql, size_t *count)
{
    size_t n = strlen(sql), marks = 0;
    for (size_t i = 0; i < n; i++)
        marks += sql[i] == '?';
    /* Each '?' grows to at most "$32766" (6 bytes): an upper bound. */
    char *out = malloc(n + marks * 5 + 1);
    if (!out)
        return NULL;
    size_t o = 0, params = 0;
    for (size_t i = 0; i < n;) {
        size_t end = skip_quoted(sql, n, i);
        if (end > i) {
            memcpy(out + o, sql + i, end - i);
            o += end - i;
            i = end;
        } else if (sql[i] == '?' && params < STORE_MAX_PARAMS) {
            o += (size_t)sprintf(out + o, "$%zu", ++params);
            i++;
        } else {
            out[o++] = sql[i++];
        }
    }
    out[o] = '\0';
    *count = params;
    return out;
}

/* ----------------------------------------------------------- statements */

static kt_status prepare(pg_conn *c, const char *sql, pg_stmt **out, kt_err *err)
{
    pg_stmt *ps = store_cache_get(&c->cache, sql);
    if (ps) {
        *out = ps;
        return KT_OK;
    }
    kt_status rc = KT_OK;
    PGresult *res = NULL;
    char *text = NULL;
    ps = calloc(1, sizeof *ps);
    text = ps ? store_pg_rewrite(sql, &ps->nparams) : NULL;
    if (!text) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory preparing SQL");
        goto out;
    }
    snprintf(ps->name, sizeof ps->name, "kt_%u", c->next_stmt++);
    res = PQprepare(c->pg, ps->name, text, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail(c, res, "preparing SQL", err);
        goto out;
    }
    rc = store_cache_put(&c->cache, sql, ps, err); /* frees ps on failure */
    if (rc == KT_OK)
        *out = ps;
    ps = NULL;
out:
    PQclear(res);
    free(text);
    free(ps);
    return rc;
}

static kt_status grow_params(pg_conn *c, size_t n, kt_err *err)
{
    if (n <= c->cap)
        return KT_OK;
    size_t cap = n < 16 ? 16 : n;
    const char **values = realloc(c->values, cap * sizeof *values);
    if (values)
        c->values = values;
    int *lengths = realloc(c->lengths, cap * sizeof *lengths);
    if (lengths)
        c->lengths = lengths;
    int *formats = realloc(c->formats, cap * sizeof *formats);
    if (formats)
        c->formats = formats;
    char(*ints)[24] = realloc(c->ints, cap * sizeof *ints);
    if (ints)
        c->ints = ints;
    if (!values || !lengths || !formats || !ints)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory binding parameters");
    c->cap = cap;
    return KT_OK;
}

/* Prepares (or finds) sql and runs it with params; *res owns the result. */
static kt_status run(pg_conn *c, const char *sql, const store_param *params, size_t nparams,
                     PGresult **res, kt_err *err)
{
    if (c->lost)
        return err_set(err, KT_ERR_STORE, STORE_CODE_LOST,
                       "the connection to PostgreSQL was lost; get a new one from the pool");
    pg_stmt *ps = NULL;
    kt_status rc = prepare(c, sql, &ps, err);
    if (rc != KT_OK)
        return rc;
    if (ps->nparams != nparams)
        return err_set(err, KT_ERR_INTERNAL, NULL,
                       "store: the SQL has %zu placeholders but %zu parameters were given",
                       ps->nparams, nparams);
    rc = grow_params(c, nparams, err);
    if (rc != KT_OK)
        return rc;
    for (size_t i = 0; i < nparams; i++) {
        const store_param *p = &params[i];
        c->values[i] = NULL; /* SQL NULL */
        c->lengths[i] = 0;
        c->formats[i] = 0;
        if (p->type == STORE_INT) {
            snprintf(c->ints[i], sizeof c->ints[i], "%" PRId64, p->i);
            c->values[i] = c->ints[i];
        } else if (p->type == STORE_TEXT && p->p) {
            c->values[i] = p->p;
        } else if (p->type == STORE_BLOB && p->p) {
            if (p->len > (size_t)INT32_MAX)
                return err_set(err, KT_ERR_TOO_LARGE, NULL, "a blob parameter is over 2 GiB");
            c->values[i] = p->len ? p->p : ""; /* non-NULL: an empty bytea, not NULL */
            c->lengths[i] = (int)p->len;
            c->formats[i] = 1;
        }
    }
    *res = PQexecPrepared(c->pg, ps->name, (int)nparams, c->values, c->lengths, c->formats, 0);
    return KT_OK;
}

static kt_status pg_exec(void *conn, const char *sql, const store_param *params, size_t nparams,
                         int64_t *changes, kt_err *err)
{
    pg_conn *c = conn;
    PGresult *res = NULL;
    kt_status rc = run(c, sql, params, nparams, &res, err);
    if (rc != KT_OK)
        return rc;
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail(c, res, "running SQL", err);
    else if (changes)
        *changes = strtoll(PQcmdTuples(res), NULL, 10); /* "" (no count) parses as 0 */
    PQclear(res);
    return rc;
}

static kt_status add_cell(PGresult *res, int row, int col, store_rows *out, kt_err *err)
{
    if (PQgetisnull(res, row, col))
        return store_rows_add(out, STORE_NULL, 0, NULL, 0, err);
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return store_rows_add(out, STORE_INT, strtoll(v, NULL, 10), NULL, 0, err);
    case OID_BOOL:
        return store_rows_add(out, STORE_INT, v[0] == 't', NULL, 0, err);
    case OID_BYTEA: {
        size_t n = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)v, &n);
        if (!bytes)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory decoding bytea");
        kt_status rc = store_rows_add(out, STORE_BLOB, 0, bytes, n, err);
        PQfreemem(bytes);
        return rc;
    }
    default:
        return store_rows_add(out, STORE_TEXT, 0, v, (size_t)PQgetlength(res, row, col), err);
    }
}

static kt_status pg_query(void *conn, const char *sql, const store_param *params,
                          size_t nparams, store_rows *out, kt_err *err)
{
    pg_conn *c = conn;
    PGresult *res = NULL;
    kt_status rc = run(c, sql, params, nparams, &res, err);
    if (rc != KT_OK)
        return rc;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
        int rows = PQntuples(res), cols = PQnfields(res);
        store_rows_set_columns(out, (size_t)cols);
        for (int r = 0; r < rows && rc == KT_OK; r++)
            for (int col = 0; col < cols && rc == KT_OK; col++)
                rc = add_cell(res, r, col, out, err);
    } else if (st != PGRES_COMMAND_OK) {
        rc = fail(c, res, "running query", err);
    }
    PQclear(res);
    return rc;
}

/* Runs parameterless SQL; expect_tag, when set, must be the command tag
 * (COMMIT of an aborted transaction succeeds with tag ROLLBACK). */
static kt_status run_plain(pg_conn *c, const char *sql, const char *expect_tag, const char *what,
                           kt_err *err)
{
    if (c->lost)
        return err_set(err, KT_ERR_STORE, STORE_CODE_LOST,
                       "%s: the connection to PostgreSQL was lost", what);
    kt_status rc = KT_OK;
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail(c, res, what, err);
    else if (expect_tag && strcmp(PQcmdStatus(res), expect_tag) != 0)
        rc = err_set(err, KT_ERR_STORE, STORE_CODE_TX,
                     "%s: PostgreSQL rolled the transaction back instead", what);
    PQclear(res);
    return rc;
}

static kt_status pg_script(void *conn, const char *sql, kt_err *err)
{
    return run_plain(conn, sql, NULL, "running SQL script", err);
}

static kt_status pg_begin(void *conn, kt_err *err)
{
    return run_plain(conn, "BEGIN", NULL, "starting a transaction", err);
}

static kt_status pg_commit(void *conn, kt_err *err)
{
    return run_plain(conn, "COMMIT", "COMMIT", "committing", err);
}

static kt_status pg_rollback(void *conn, kt_err *err)
{
    return run_plain(conn, "ROLLBACK", NULL, "rolling back", err);
}

static int pg_broken(void *conn)
{
    pg_conn *c = conn;
    if (!c->lost && PQstatus(c->pg) != CONNECTION_OK)
        c->lost = 1;
    return c->lost;
}

const store_driver store_pg_driver = {
    .name = "postgres",
    .backend = STORE_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .query = pg_query,
    .script = pg_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .broken = pg_broken,
};

/* store_backup.c - the SQL of backups and restores (see store_backup.h for
 * why VACUUM INTO, and how a PostgreSQL restore sets the old schema aside).
 */
#include "store/store_backup.h"

#include <stdio.h>
#include <string.h>

#include "store/store_driver.h"

#define QUIESCE_BUSY_MS "1000"

static kt_status need(store *s, store_backend b, const char *what, kt_err *err)
{
    if (store_get_backend(s) != b)
        return err_set(err, KT_ERR_INVALID, NULL, "%s needs a %s database", what,
                       b == STORE_SQLITE ? "SQLite" : "PostgreSQL");
    return KT_OK;
}

kt_status store_backup_sqlite_snapshot(store *s, const char *dest_path, kt_err *err)
{
    kt_status st = need(s, STORE_SQLITE, "a SQLite snapshot", err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_TEXT(dest_path)};
    st = store_exec(s, "VACUUM INTO ?", p, 1, NULL, err);
    if (st != KT_OK)
        err_prefix(err, "writing the SQLite snapshot");
    return st;
}

kt_status store_backup_sqlite_quiesce(const char *path, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    kt_err e = {0};
    kt_status st = store_open(path, &s, err);
    if (st != KT_OK)
        return st;
    if (store_get_backend(s) != STORE_SQLITE) {
        st = err_set(err, KT_ERR_INVALID, NULL, "%s is not a SQLite database path", path);
        goto out;
    }
    /* In exclusive locking mode, leaving WAL needs the database's exclusive
     * lock, which every other open connection (a running server keeps
     * some in its pool) blocks with its shared lock. Leaving WAL also
     * checkpoints and deletes the -wal and -shm files. */
    if ((st = store_exec(s, "PRAGMA busy_timeout=" QUIESCE_BUSY_MS, NULL, 0, NULL, err)) != KT_OK ||
        (st = store_exec(s, "PRAGMA locking_mode=EXCLUSIVE", NULL, 0, NULL, err)) != KT_OK)
        goto out;
    st = store_query(s, "PRAGMA journal_mode=DELETE", NULL, 0, &r, &e);
    if (st == KT_OK && (store_rows_count(r) != 1 || !store_rows_text(r, 0, 0) ||
                        strcmp(store_rows_text(r, 0, 0), "delete") != 0))
        st = err_set(&e, KT_ERR_STORE, STORE_CODE_BUSY, "the journal mode did not change");
    if (st != KT_OK) {
        if (strcmp(e.code, STORE_CODE_BUSY) == 0)
            st = err_set(err, KT_ERR_CONFLICT, "db_in_use",
                         "the database %s is in use (is `keeptrack serve` running?): stop every "
                         "keeptrack process using it, then try again",
                         path);
        else if (err)
            *err = e;
        goto out;
    }
out:
    store_rows_free(r);
    store_close(s);
    return st;
}

kt_status store_backup_pg_schema(store *s, char out[STORE_BACKUP_SCHEMA_MAX + 1], kt_err *err)
{
    store_rows *r = NULL;
    kt_status st = need(s, STORE_POSTGRES, "a PostgreSQL backup", err);
    if (st != KT_OK)
        return st;
    if ((st = store_query(s, "SELECT current_schema()", NULL, 0, &r, err)) != KT_OK)
        return st;
    const char *name = store_rows_text(r, 0, 0);
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n <= STORE_BACKUP_SCHEMA_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_';
    if (!ok)
        st = err_set(
            err, KT_ERR_INVALID, "bad_schema",
            name ? "keeptrack's schema '%.64s' is not 1..48 characters of a-z, 0-9 and _: "
                   "backups only handle such names"
                 : "the connection has no current schema%.0s: check search_path in KEEPTRACK_DB",
            name ? name : "");
    else
        memcpy(out, name, n + 1);
    store_rows_free(r);
    return st;
}

kt_status store_backup_pg_other_clients(store *s, int64_t *count, kt_err *err)
{
    kt_status st = need(s, STORE_POSTGRES, "checking for other clients", err);
    if (st != KT_OK)
        return st;
    return store_query_int(
        s,
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'keeptrack' AND pid <> pg_backend_pid()",
        NULL, 0, count, err);
}

/* Runs `ALTER SCHEMA a RENAME TO b` / `DROP SCHEMA a CASCADE` with the
 * names quoted by the server (DDL cannot take bound identifiers; the names
 * are also checked by store_backup_pg_schema). */
static kt_status ddl(store *s, const char *fmt, const char *a, const char *b, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_TEXT(fmt), SP_TEXT(a), SP_TEXT(b ? b : "")};
    kt_status st = store_query(
        s, "SELECT format(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT))", p, 3, &r, err);
    if (st == KT_OK)
        st = store_script(s, store_rows_text(r, 0, 0), err);
    store_rows_free(r);
    return st;
}

static kt_status schema_exists(store *s, const char *name, int *yes, kt_err *err)
{
    int64_t n = 0;
    store_param p[] = {SP_TEXT(name)};
    kt_status st =
        store_query_int(s, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = ?", p, 1, &n, err);
    if (st == KT_OK)
        *yes = n > 0;
    return st;
}

kt_status store_backup_pg_set_aside(store *s, const char *schema, int *moved, kt_err *err)
{
    char aside[STORE_BACKUP_SCHEMA_MAX + sizeof STORE_BACKUP_ASIDE_SUFFIX];
    int exists = 0;
    kt_status st = need(s, STORE_POSTGRES, "setting a schema aside", err);
    if (st != KT_OK)
        return st;
    snprintf(aside, sizeof aside, "%s%s", schema, STORE_BACKUP_ASIDE_SUFFIX);
    if ((st = store_begin(s, err)) != KT_OK)
        return st;
    if ((st = ddl(s, "DROP SCHEMA IF EXISTS %I CASCADE", aside, NULL, err)) != KT_OK ||
        (st = schema_exists(s, schema, &exists, err)) != KT_OK)
        goto out;
    if (exists && (st = ddl(s, "ALTER SCHEMA %I RENAME TO %I", schema, aside, err)) != KT_OK)
        goto out;
    st = store_commit(s, err);
out:
    store_rollback(s);
    if (st == KT_OK)
        *moved = exists;
    return st;
}

kt_status store_backup_pg_put_back(store *s, const char *schema, kt_err *err)
{
    char aside[STORE_BACKUP_SCHEMA_MAX + sizeof STORE_BACKUP_ASIDE_SUFFIX];
    kt_status st = need(s, STORE_POSTGRES, "putting a schema back", err);
    if (st != KT_OK)
        return st;
    snprintf(aside, sizeof aside, "%s%s", schema, STORE_BACKUP_ASIDE_SUFFIX);
    if ((st = store_begin(s, err)) != KT_OK)
        return st;
    if ((st = ddl(s, "DROP SCHEMA IF EXISTS %I CASCADE", schema, NULL, err)) == KT_OK &&
        (st = ddl(s, "ALTER SCHEMA %I RENAME TO %I", aside, schema, err)) == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    return st;
}

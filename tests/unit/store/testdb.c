/* testdb.c - see testdb.h. */
#include "testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *pg_base(void)
{
    const char *u = getenv("KEEPTRACK_TEST_PG");
    return u && *u ? u : NULL;
}

int testdb_pg_configured(void)
{
    return pg_base() != NULL;
}

/* Runs DDL on a short-lived connection to the base PostgreSQL database. */
static kt_status pg_admin(const char *sql, kt_err *err)
{
    store *admin = NULL;
    kt_status rc = store_open(pg_base(), &admin, err);
    if (rc == KT_OK)
        rc = store_exec(admin, sql, NULL, 0, NULL, err);
    store_close(admin);
    if (rc != KT_OK)
        err_prefix(err, "KEEPTRACK_TEST_PG is set but unusable");
    return rc;
}

static kt_status create_sqlite(testdb *db, kt_err *err)
{
    snprintf(db->dir, sizeof db->dir, "/tmp/kt-testdb.XXXXXX");
    if (!mkdtemp(db->dir)) {
        db->dir[0] = '\0';
        return err_set(err, KT_ERR_IO, NULL, "cannot create a temporary folder in /tmp");
    }
    snprintf(db->url, sizeof db->url, "%s/test.db", db->dir);
    return KT_OK;
}

static kt_status create_pg(testdb *db, kt_err *err)
{
    static unsigned counter;
    if (!pg_base())
        return err_set(err, KT_ERR_NOT_FOUND, "pg_not_configured",
                       "KEEPTRACK_TEST_PG is not set: skipping the PostgreSQL case");
    char sql[160];
    snprintf(db->schema, sizeof db->schema, "kt_t%ld_%u", (long)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", db->schema);
    kt_status rc = pg_admin(sql, err);
    if (rc != KT_OK) {
        db->schema[0] = '\0';
        return rc;
    }
    snprintf(db->url, sizeof db->url, "%s%coptions=-csearch_path%%3D%s", pg_base(),
             strchr(pg_base(), '?') ? '&' : '?', db->schema);
    return KT_OK;
}

kt_status testdb_open(store_backend backend, int migrate, testdb **out, kt_err *err)
{
    testdb *db = calloc(1, sizeof *db);
    if (!db)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    db->backend = backend;
    kt_status rc = backend == STORE_POSTGRES ? create_pg(db, err) : create_sqlite(db, err);
    if (rc == KT_OK)
        rc = store_open(db->url, &db->s, err);
    if (rc == KT_OK && migrate)
        rc = store_migrate(db->s, err);
    if (rc != KT_OK) {
        testdb_close(db);
        return rc;
    }
    *out = db;
    return KT_OK;
}

void testdb_close(testdb *db)
{
    if (!db)
        return;
    store_close(db->s);
    if (db->schema[0]) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", db->schema);
        kt_err err = {0};
        if (pg_admin(sql, &err) != KT_OK)
            fprintf(stderr, "testdb: %s\n", err.msg);
    }
    if (db->dir[0]) {
        const char *suffix[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
            char path[1100];
            snprintf(path, sizeof path, "%s%s", db->url, suffix[i]);
            unlink(path);
        }
        rmdir(db->dir);
    }
    free(db);
}

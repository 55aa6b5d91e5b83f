/* store_bench.c - how fast the store writes a batch: 50,000 rows inserted
 * with one repeated store_exec inside one transaction (the shape of a sync
 * writing a large Liked Songs collection, issue 5), on each back-end.
 *
 *   store_bench [ROWS]
 *
 * SQLite runs on a file in a temporary folder. PostgreSQL runs when
 * KEEPTRACK_BENCH_PG or KEEPTRACK_TEST_PG holds a URL, in a throw-away
 * schema. Prints one line per back-end; not a test (no pass/fail).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_result.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(kt_status st, const kt_err *err, const char *what)
{
    if (st == KT_OK)
        return 0;
    fprintf(stderr, "store_bench: %s: %s\n", what, err->msg);
    return -1;
}

/* Creates the table, inserts rows in one transaction, prints the rate. */
static int run(const char *label, const char *url, const char *blob_type, long rows)
{
    kt_err err = {0};
    store *s = NULL;
    char sql[256], name[64], artist[64];
    unsigned char data[32];
    int rc = -1;
    if (check(store_open(url, &s, &err), &err, "open"))
        goto out;
    snprintf(sql, sizeof sql,
             "CREATE TABLE bench_tracks (id BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
             "artist TEXT, duration_ms BIGINT, added_at BIGINT, data %s)",
             blob_type);
    if (check(store_exec(s, "DROP TABLE IF EXISTS bench_tracks", NULL, 0, NULL, &err), &err,
              "drop") ||
        check(store_exec(s, sql, NULL, 0, NULL, &err), &err, "create"))
        goto out;
    memset(data, 0xab, sizeof data);
    double t0 = now_s();
    if (check(store_begin(s, &err), &err, "begin"))
        goto out;
    for (long i = 0; i < rows; i++) {
        snprintf(name, sizeof name, "Track number %ld", i);
        snprintf(artist, sizeof artist, "Artist %ld", i % 997);
        store_param p[] = {SP_INT(i), SP_TEXT(name), SP_TEXT(artist), SP_INT(180000 + i % 60000),
                           SP_INT(1700000000000LL + i), SP_BLOB(data, sizeof data)};
        if (check(store_exec(s,
                             "INSERT INTO bench_tracks (id, name, artist, duration_ms, added_at, "
                             "data) VALUES (?, ?, ?, ?, ?, ?)",
                             p, 6, NULL, &err),
                  &err, "insert"))
            goto out;
    }
    if (check(store_commit(s, &err), &err, "commit"))
        goto out;
    double secs = now_s() - t0;
    int64_t n = 0;
    if (check(store_query_int(s, "SELECT COUNT(*) FROM bench_tracks", NULL, 0, &n, &err), &err,
              "count"))
        goto out;
    printf("store_bench %-8s %ld rows in one transaction: %.3f s, %.0f rows/s (%lld rows stored)\n",
           label, rows, secs, (double)rows / secs, (long long)n);
    {
        char row[96], fig[64];
        snprintf(row, sizeof row, "store: %ld-row insert in one transaction, %s", rows, label);
        snprintf(fig, sizeof fig, "%.0f rows/s", (double)rows / secs);
        bench_record(row, fig, "", -1);
    }
    rc = n == rows ? 0 : -1;
out:
    store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 50000;
    if (rows < 1 || rows > 100000000) {
        fprintf(stderr, "usage: store_bench [ROWS]  (1..100000000)\n");
        return 2;
    }
    int rc = 0;
    char dir[] = "/tmp/kt-store-bench.XXXXXX", path[128];
    if (!mkdtemp(dir)) {
        perror("store_bench: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/bench.db", dir);
    rc |= run("sqlite", path, "BLOB", rows);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[160];
        snprintf(f, sizeof f, "%s%s", path, suffix[i]);
        unlink(f);
    }
    rmdir(dir);

    const char *pg = getenv("KEEPTRACK_BENCH_PG");
    if (!pg || !*pg)
        pg = getenv("KEEPTRACK_TEST_PG");
    if (!pg || !*pg) {
        printf("store_bench postgres skipped: set KEEPTRACK_BENCH_PG (or KEEPTRACK_TEST_PG)\n");
        return rc ? 1 : 0;
    }
    /* A private schema, dropped afterwards, so a shared server stays clean. */
    char schema[64], url[1024], sql[160];
    snprintf(schema, sizeof schema, "kt_bench_%ld", (long)getpid());
    snprintf(url, sizeof url, "%s%coptions=-csearch_path%%3D%s", pg, strchr(pg, '?') ? '&' : '?',
             schema);
    store *admin = NULL;
    kt_err err = {0};
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    if (check(store_open(pg, &admin, &err), &err, "postgres open") ||
        check(store_exec(admin, sql, NULL, 0, NULL, &err), &err, "create schema")) {
        store_close(admin);
        return 1;
    }
    rc |= run("postgres", url, "BYTEA", rows);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    rc |= check(store_exec(admin, sql, NULL, 0, NULL, &err), &err, "drop schema");
    store_close(admin);
    return rc ? 1 : 0;
}

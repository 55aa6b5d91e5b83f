/* import.c - how fast a listening-history export imports (issue 7): a
 * generated extended-streaming-history file of 100,000 plays (fixed seed,
 * ~60 MB like a real multi-year export) imported into a fresh database with
 * history_import, then imported again (every record a duplicate).
 *
 *   import_bench [PLAYS]
 *
 * SQLite on a file in a temporary folder; PostgreSQL too when
 * KEEPTRACK_BENCH_PG or KEEPTRACK_TEST_PG holds a URL (a throw-away schema).
 * Prints plays per second and peak RSS; target >= 50,000 plays/s on SQLite.
 * Not a test (no pass/fail).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_result.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "services/history_import.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes `plays` records (all >= 30 s, one every 3-4 minutes from
 * 2019-01-01) over 5,000 tracks; deterministic. */
static int generate(const char *path, long plays)
{
    FILE *f = fopen(path, "w");
    uint64_t x = 0x9E3779B97F4A7C15u;
    int64_t t = 1546300800000LL;
    if (!f)
        return -1;
    fputs("[\n", f);
    for (long i = 0; i < plays; i++) {
        char iso[32];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        long track = (long)(x % 5000), ms = 30000 + (long)(x >> 40) % 200000;
        t += 180000 + (int64_t)((x >> 20) % 60000);
        time_format_iso8601(t / 1000 * 1000, iso);
        fprintf(f,
                "%s{\"ts\":\"%s\",\"platform\":\"linux\",\"ms_played\":%ld,\"conn_country\":\"SE\","
                "\"ip_addr\":\"192.0.2.1\",\"master_metadata_track_name\":\"Song %ld\","
                "\"master_metadata_album_artist_name\":\"Artist %ld\","
                "\"master_metadata_album_album_name\":\"Album %ld\","
                "\"spotify_track_uri\":\"spotify:track:bench%017ld\",\"episode_name\":null,"
                "\"episode_show_name\":null,\"spotify_episode_uri\":null,\"audiobook_title\":null,"
                "\"audiobook_uri\":null,\"audiobook_chapter_uri\":null,"
                "\"audiobook_chapter_title\":null,\"reason_start\":\"trackdone\","
                "\"reason_end\":\"trackdone\",\"shuffle\":false,\"skipped\":false,"
                "\"offline\":false,\"offline_timestamp\":null,\"incognito_mode\":false}",
                i ? ",\n" : "", iso, ms, track, track % 700, track % 1500, track);
    }
    fputs("\n]\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

static int run(const char *label, const char *url, const char *file, long plays)
{
    kt_err err = {0};
    store *s = NULL;
    int64_t uid = 0;
    history_report *rep = NULL;
    history_options o = {.min_ms = 30000};
    history_input in = {.path = file};
    int rc = -1;
    if (store_open(url, &s, &err) != KT_OK || store_migrate(s, &err) != KT_OK ||
        store_query_int(s,
                        "INSERT INTO users (account_id, spotify_id, created_at, updated_at) "
                        "VALUES ('bench', 'bench', 0, 0) RETURNING id",
                        NULL, 0, &uid, &err) != KT_OK)
        goto out;
    for (int pass = 0; pass < 2; pass++) {
        double t0 = now_s();
        if (history_import(s, uid, &in, 1, &o, &rep, &err) != KT_OK)
            goto out;
        double dt = now_s() - t0;
        printf("%-10s %s: %ld records in %.2f s = %.0f records/s (imported %lld, duplicates "
               "%lld, skipped %lld, rejected %lld)\n",
               label, pass ? "re-import" : "import   ", plays, dt, (double)plays / dt,
               (long long)rep->imported, (long long)rep->duplicates, (long long)rep->skipped,
               (long long)rep->rejected);
        if (pass == 0 || strcmp(label, "sqlite") != 0) {
            char name[64], fig[64];
            double rate = (double)plays / dt;
            snprintf(name, sizeof name, "history import, %s (%ld plays)", label, plays);
            snprintf(fig, sizeof fig, "%.0f plays/s", rate);
            if (pass == 0)
                bench_record(name, fig, "≥ 50,000 plays/s", rate >= 50000.0);
        }
        history_report_free(rep);
        rep = NULL;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "import_bench: %s: %s\n", label, err.msg);
    store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    long plays = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    char dir[] = "/tmp/kt-import-bench.XXXXXX", file[128], db[128];
    const char *pg = getenv("KEEPTRACK_BENCH_PG");
    struct rusage ru;
    int rc = 0;
    if (plays < 1 || crypto_init() != KT_OK || !mkdtemp(dir))
        return 2;
    snprintf(file, sizeof file, "%s/Streaming_History_Audio_2019-2024_0.json", dir);
    snprintf(db, sizeof db, "%s/keeptrack.db", dir);
    if (generate(file, plays) != 0) {
        fprintf(stderr, "import_bench: cannot write %s\n", file);
        return 1;
    }
    rc |= run("sqlite", db, file, plays);
    if (!pg || !*pg)
        pg = getenv("KEEPTRACK_TEST_PG");
    if (pg && *pg) {
        char url[1200], schema[64], sql[128];
        store *admin = NULL;
        kt_err err = {0};
        snprintf(schema, sizeof schema, "kt_import_bench_%ld", (long)getpid());
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
        if (store_open(pg, &admin, &err) == KT_OK && store_exec(admin, sql, NULL, 0, NULL, &err) == KT_OK) {
            snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s", pg,
                     strchr(pg, '?') ? "&" : "?", schema);
            rc |= run("postgresql", url, file, plays);
            snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
            store_exec(admin, sql, NULL, 0, NULL, &err);
        } else {
            fprintf(stderr, "import_bench: postgresql: %s\n", err.msg);
            rc = 1;
        }
        store_close(admin);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    unlink(db);
    char side[160];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    unlink(file);
    rmdir(dir);
    return rc;
}

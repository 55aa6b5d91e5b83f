/* test_backup.c - cmocka tests for services/backup.c and core/proc.c:
 * backup names, the retention rule on synthetic dates (no clock), checksum
 * files (exact bytes, mode, verification, tampering), pruning a directory,
 * a SQLite snapshot taken while a writer thread commits (consistent), and
 * running external programs (exit codes, stderr, environment, not found).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/timeutil.h"
#include "services/backup.h"
#include "store/store.h"

/* ------------------------------------------------------------ helpers */

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(time_parse_iso8601(iso, &ms), KT_OK);
    return ms;
}

static void make_tmpdir(char out[256])
{
    snprintf(out, 256, "/tmp/kt-backup-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[1024];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Sorted, '\n'-joined names of dir's entries, for exact comparison. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *dir, char *out, size_t outsz)
{
    char *names[256];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, names[i], outsz - strlen(out) - 1);
        strncat(out, "\n", outsz - strlen(out) - 1);
        free(names[i]);
    }
}

/* -------------------------------------------------------------- names */

static void test_name_format_and_parse(void **state)
{
    (void)state;
    char name[BACKUP_NAME_MAX];
    int64_t ms = 0;
    backup_kind kind = BACKUP_SQLITE;
    backup_name_format(at("2026-11-22T03:04:05.999Z"), BACKUP_SQLITE, name);
    assert_string_equal(name, "keeptrack-20261122T030405Z.sqlite");
    backup_name_format(at("2027-01-02T23:59:59Z"), BACKUP_PGDUMP, name);
    assert_string_equal(name, "keeptrack-20270102T235959Z.pgdump");

    assert_int_equal(backup_name_parse("keeptrack-20270102T235959Z.pgdump", &ms, &kind), 1);
    assert_int_equal(ms, at("2027-01-02T23:59:59Z"));
    assert_int_equal(kind, BACKUP_PGDUMP);
    assert_int_equal(backup_name_parse("keeptrack-20240229T000000Z.sqlite", &ms, &kind), 1);
    assert_int_equal(ms, at("2024-02-29T00:00:00Z"));
    assert_int_equal(kind, BACKUP_SQLITE);

    const char *bad[] = {"keeptrack-20261122T030405Z.sqlite.sha256",
                         "keeptrack-20261122T030405Z.sqlite.tmp",
                         ".keeptrack-tmp-abcdef",
                         "keeptrack-20230229T000000Z.sqlite",
                         "keeptrack-20261131T000000Z.sqlite",
                         "keeptrack-20261122T240000Z.sqlite",
                         "keeptrack-20261122T030460Z.sqlite",
                         "keeptrack-2026112T030405Z.sqlite",
                         "keeptrack-20261122T030405.sqlite",
                         "keeptrack-20261122t030405Z.sqlite",
                         "keeptrack-20261122T030405Z.db",
                         "keeptrack-20261122T030405Z.",
                         "Keeptrack-20261122T030405Z.sqlite",
                         "keeptrack-19691231T235959Z.sqlite",
                         "notes.txt",
                         "",
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        ms = 42;
        assert_int_equal(backup_name_parse(bad[i], &ms, &kind), 0);
        assert_int_equal(ms, 42); /* untouched on failure */
    }
    assert_int_equal(backup_name_parse(NULL, NULL, NULL), 0);
}

/* ---------------------------------------------------------- retention */

/* The synthetic history: one backup a day at 03:00 from Mon 2026-10-05 to
 * Sun 2026-11-22, except Wed 18 and Thu 19 November; plus 2026-11-22T15:30
 * and 2026-11-15T01:00. Expected with 7 daily + 4 weekly:
 *  daily (7 most recent days with backups): 22 (15:30), 21, 20, 17, 16,
 *    15 (03:00, the newer of that day), 14;
 *  weekly (ISO weeks, Monday start): w47 -> 22 15:30, w46 -> 15 03:00,
 *    w45 (2..8 Nov) -> 8 Nov, w44 (26 Oct..1 Nov) -> 1 Nov. */
static const char *const kept_7_4[] = {"2026-11-22T15:30:00Z", "2026-11-21T03:00:00Z",
                                       "2026-11-20T03:00:00Z", "2026-11-17T03:00:00Z",
                                       "2026-11-16T03:00:00Z", "2026-11-15T03:00:00Z",
                                       "2026-11-14T03:00:00Z", "2026-11-08T03:00:00Z",
                                       "2026-11-01T03:00:00Z", NULL};

static size_t synthetic_history(int64_t *times, size_t cap)
{
    size_t n = 0;
    int64_t day = at("2026-10-05T03:00:00Z"), last = at("2026-11-22T03:00:00Z");
    int64_t gap1 = at("2026-11-18T03:00:00Z"), gap2 = at("2026-11-19T03:00:00Z");
    for (; day <= last; day += 86400000LL)
        if (day != gap1 && day != gap2 && n < cap)
            times[n++] = day;
    times[n++] = at("2026-11-22T15:30:00Z");
    times[n++] = at("2026-11-15T01:00:00Z");
    /* any order: reverse the first half so the input is not sorted */
    for (size_t i = 0; i < n / 4; i++) {
        int64_t t = times[i];
        times[i] = times[n / 2 - 1 - i];
        times[n / 2 - 1 - i] = t;
    }
    return n;
}

static int listed(const char *const *list, int64_t ms)
{
    for (size_t i = 0; list[i]; i++)
        if (at(list[i]) == ms)
            return 1;
    return 0;
}

static void test_retention_daily_and_weekly(void **state)
{
    (void)state;
    int64_t times[128];
    unsigned char keep[128];
    size_t n = synthetic_history(times, 120), kept = 0;
    assert_int_equal(n, 49 - 2 + 2);
    backup_retention(times, n, 7, 4, keep);
    for (size_t i = 0; i < n; i++) {
        char iso[32];
        time_format_iso8601(times[i], iso);
        if (keep[i] != listed(kept_7_4, times[i]))
            fail_msg("%s: kept=%d, expected %d", iso, keep[i], !keep[i]);
        kept += keep[i];
    }
    assert_int_equal(kept, 9);
}

static void test_retention_edges(void **state)
{
    (void)state;
    int64_t times[128];
    unsigned char keep[128];
    size_t n = synthetic_history(times, 120);

    /* 0 and 0 (and negatives): only the newest survives */
    backup_retention(times, n, 0, -3, keep);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], times[i] == at("2026-11-22T15:30:00Z"));

    /* more periods than exist: everything that is newest of its day */
    backup_retention(times, n, 1000, 0, keep);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], times[i] != at("2026-11-22T03:00:00Z") &&
                                      times[i] != at("2026-11-15T01:00:00Z"));

    /* weeks start on Monday and run across New Year (ISO week 53 of 2026) */
    int64_t ny[] = {at("2026-12-31T12:00:00Z"), at("2026-12-27T10:00:00Z"),
                    at("2027-01-02T08:00:00Z"), at("2026-12-28T09:00:00Z"),
                    at("2026-12-20T09:00:00Z")};
    unsigned char k[5];
    backup_retention(ny, 5, 0, 2, k);
    assert_int_equal(k[0], 0); /* Thu, same week as Sat 2 Jan */
    assert_int_equal(k[1], 1); /* Sun 27 Dec: newest of the week before */
    assert_int_equal(k[2], 1); /* newest overall */
    assert_int_equal(k[3], 0); /* Mon 28 Dec starts week 53 */
    assert_int_equal(k[4], 0); /* a third week: over the count */

    /* one backup; zero backups (keep untouched) */
    backup_retention(ny, 1, 0, 0, k);
    assert_int_equal(k[0], 1);
    k[0] = 7;
    backup_retention(ny, 0, 3, 3, k);
    assert_int_equal(k[0], 7);
}

/* -------------------------------------------------------- checksums */

static void test_checksum_write_and_verify(void **state)
{
    (void)state;
    char dir[256], path[512], sum[600], hex[65], *text = NULL;
    kt_err err = {0};
    struct stat sb;
    make_tmpdir(dir);
    snprintf(path, sizeof path, "%s/keeptrack-20261122T030405Z.sqlite", dir);
    snprintf(sum, sizeof sum, "%s.sha256", path);
    write_file(path, "abc");
    assert_int_equal(backup_sha256_file(path, hex, &err), KT_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(backup_checksum_write(path, hex, &err), KT_OK);
    FILE *f = fopen(sum, "r");
    assert_non_null(f);
    char line[256] = "";
    size_t got = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[got] = '\0';
    assert_string_equal(line, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  "
                              "keeptrack-20261122T030405Z.sqlite\n");
    assert_int_equal(stat(sum, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(backup_verify(path, &err), KT_OK);

    /* sha256sum's binary marker and upper-case hex are accepted */
    write_file(sum, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD "
                    "*keeptrack-20261122T030405Z.sqlite\n");
    assert_int_equal(backup_verify(path, &err), KT_OK);

    /* one changed byte: refused, with a message that says so */
    write_file(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  "
                    "keeptrack-20261122T030405Z.sqlite\n");
    write_file(path, "abd");
    assert_int_equal(backup_verify(path, &err), KT_ERR_CRYPTO);
    assert_string_equal(err.code, "checksum_mismatch");
    assert_non_null(strstr(err.msg, "does not match its checksum"));

    /* malformed checksum files */
    const char *bad[] = {
        "",
        "xyz  keeptrack-20261122T030405Z.sqlite\n",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad keeptrack-x\n",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  other.sqlite\n",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  "
        "keeptrack-20261122T030405Z.sqlite\nextra\n",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        write_file(sum, bad[i]);
        assert_int_equal(backup_verify(path, &err), KT_ERR_INVALID);
        assert_string_equal(err.code, "checksum_malformed");
    }
    /* no checksum file at all */
    assert_int_equal(unlink(sum), 0);
    assert_int_equal(backup_verify(path, &err), KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "checksum_missing");
    /* no backup file */
    assert_int_equal(backup_sha256_file("/nonexistent/x", hex, &err), KT_ERR_NOT_FOUND);
    free(text);
    rm_rf(dir);
}

/* ---------------------------------------------------------- pruning */

static void test_prune_directory(void **state)
{
    (void)state;
    char dir[256], path[512], listing[16384], expected[16384] = "";
    int64_t times[128];
    kt_err err = {0};
    int deleted = -1;
    size_t n = synthetic_history(times, 120);
    make_tmpdir(dir);
    for (size_t i = 0; i < n; i++) {
        char name[BACKUP_NAME_MAX];
        backup_name_format(times[i], i % 2 ? BACKUP_PGDUMP : BACKUP_SQLITE, name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        write_file(path, "x");
        strncat(path, ".sha256", sizeof path - strlen(path) - 1);
        write_file(path, "y");
    }
    /* files retention must never touch */
    const char *others[] = {"notes.txt", "keeptrack-20200101T000000Z.sqlite.tmp",
                            ".keeptrack-tmp-abcdef", "keeptrack.db", NULL};
    for (size_t i = 0; others[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, others[i]);
        write_file(path, "z");
    }
    assert_int_equal(backup_prune(dir, 7, 4, &deleted, &err), KT_OK);
    assert_int_equal(deleted, (int)n - 9);

    /* expected: the nine kept backups with their checksums, plus the others */
    char *names[64];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!listed(kept_7_4, times[i]))
            continue;
        char name[BACKUP_NAME_MAX];
        backup_name_format(times[i], i % 2 ? BACKUP_PGDUMP : BACKUP_SQLITE, name);
        names[m++] = strdup(name);
        assert_int_equal(asprintf(&names[m], "%s.sha256", name) > 0, 1);
        m++;
    }
    for (size_t i = 0; others[i]; i++)
        names[m++] = strdup(others[i]);
    qsort(names, m, sizeof *names, cmp_str);
    for (size_t i = 0; i < m; i++) {
        strncat(expected, names[i], sizeof expected - strlen(expected) - 1);
        strncat(expected, "\n", sizeof expected - strlen(expected) - 1);
        free(names[i]);
    }
    list_dir(dir, listing, sizeof listing);
    assert_string_equal(listing, expected);

    /* running it again deletes nothing */
    assert_int_equal(backup_prune(dir, 7, 4, &deleted, &err), KT_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(backup_prune("/nonexistent/dir", 7, 4, &deleted, &err), KT_ERR_IO);
    rm_rf(dir);
}

/* ------------------------------------- a snapshot while a writer runs */

typedef struct writer {
    char url[512];
    atomic_int stop;
    atomic_long committed;
    atomic_int failure; /* kt_status; read by the test while the writer runs */
} writer;

/* Commits pairs: one row in a and one in b per transaction, so any
 * consistent snapshot has count(a) == count(b). */
static void *writer_main(void *arg)
{
    writer *w = arg;
    store *s = NULL;
    kt_err err = {0};
    kt_status st = store_open(w->url, &s, &err);
    for (long i = 1; st == KT_OK && !atomic_load(&w->stop); i++) {
        store_param p[] = {SP_INT(i),
                           SP_TEXT("some payload to make pages fill up a little faster")};
        if ((st = store_begin(s, &err)) != KT_OK ||
            (st = store_exec(s, "INSERT INTO a (n, pad) VALUES (?, ?)", p, 2, NULL, &err)) !=
                KT_OK ||
            (st = store_exec(s, "INSERT INTO b (n, pad) VALUES (?, ?)", p, 2, NULL, &err)) !=
                KT_OK ||
            (st = store_commit(s, &err)) != KT_OK)
            break;
        atomic_store(&w->committed, i);
    }
    if (st != KT_OK)
        fprintf(stderr, "writer: %s\n", err.msg);
    atomic_store(&w->failure, (int)st);
    store_rollback(s);
    store_close(s);
    return NULL;
}

static void wait_for_commits(writer *w, long at_least)
{
    int64_t deadline = time_mono_ms() + 20000;
    while (atomic_load(&w->committed) < at_least) {
        assert_true(time_mono_ms() < deadline);
        assert_int_equal(atomic_load(&w->failure), KT_OK);
        sched_yield();
    }
}

static void test_sqlite_snapshot_during_writes(void **state)
{
    (void)state;
    char dir[256];
    writer w = {.url = ""};
    atomic_init(&w.failure, KT_OK);
    kt_config cfg;
    kt_err err = {0};
    store *s = NULL;
    pthread_t th;
    make_tmpdir(dir);
    memset(&cfg, 0, sizeof cfg);
    char backups[300];
    snprintf(backups, sizeof backups, "%s/backups", dir);
    snprintf(w.url, sizeof w.url, "%s/keeptrack.db", dir);
    cfg.db = w.url;
    cfg.backup_dir = backups;
    assert_int_equal(store_open(w.url, &s, &err), KT_OK);
    assert_int_equal(
        store_exec(s, "CREATE TABLE a (n INTEGER PRIMARY KEY, pad TEXT)", NULL, 0, NULL, &err),
        KT_OK);
    assert_int_equal(
        store_exec(s, "CREATE TABLE b (n INTEGER PRIMARY KEY, pad TEXT)", NULL, 0, NULL, &err),
        KT_OK);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);

    long before_first = 0;
    int64_t base = at("2026-11-22T03:00:00Z");
    for (int k = 0; k < 5; k++) {
        wait_for_commits(&w, (k + 1) * 200L);
        if (k == 0)
            before_first = atomic_load(&w.committed);
        backup_result res;
        assert_int_equal(backup_create(&cfg, s, base + k * 1000, &res, &err), KT_OK);
        assert_int_equal(backup_verify(res.path, &err), KT_OK);
        struct stat sb;
        assert_int_equal(stat(res.path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        assert_int_equal(sb.st_size, res.bytes);

        store *b = NULL;
        int64_t na = -1, nb = -2, maxa = -1, maxb = -2;
        assert_int_equal(store_open(res.path, &b, &err), KT_OK);
        assert_int_equal(store_query_int(b, "SELECT COUNT(*) FROM a", NULL, 0, &na, &err), KT_OK);
        assert_int_equal(store_query_int(b, "SELECT COUNT(*) FROM b", NULL, 0, &nb, &err), KT_OK);
        assert_int_equal(store_query_int(b, "SELECT MAX(n) FROM a", NULL, 0, &maxa, &err), KT_OK);
        assert_int_equal(store_query_int(b, "SELECT MAX(n) FROM b", NULL, 0, &maxb, &err), KT_OK);
        store_close(b);
        assert_int_equal(na, nb);
        assert_int_equal(maxa, maxb);
        assert_int_equal(na, maxa); /* no gaps: every committed pair up to the snapshot */
        assert_true(na >= (k + 1) * 200L);
    }
    /* the writer kept committing while the snapshots were taken */
    assert_true(atomic_load(&w.committed) > before_first);
    atomic_store(&w.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&w.failure), KT_OK);

    /* a second backup in the same second is refused, nothing left behind */
    backup_result res;
    assert_int_equal(backup_create(&cfg, s, base, &res, &err), KT_ERR_CONFLICT);
    assert_string_equal(err.code, "backup_exists");
    char listing[4096];
    list_dir(backups, listing, sizeof listing);
    assert_string_equal(
        listing, "keeptrack-20261122T030000Z.sqlite\nkeeptrack-20261122T030000Z.sqlite.sha256\n"
                 "keeptrack-20261122T030001Z.sqlite\nkeeptrack-20261122T030001Z.sqlite.sha256\n"
                 "keeptrack-20261122T030002Z.sqlite\nkeeptrack-20261122T030002Z.sqlite.sha256\n"
                 "keeptrack-20261122T030003Z.sqlite\nkeeptrack-20261122T030003Z.sqlite.sha256\n"
                 "keeptrack-20261122T030004Z.sqlite\nkeeptrack-20261122T030004Z.sqlite.sha256\n");
    store_close(s);
    rm_rf(backups);
    char p[600];
    const char *suffixes[] = {"", "-wal", "-shm", NULL};
    for (size_t i = 0; suffixes[i]; i++) {
        snprintf(p, sizeof p, "%s%s", w.url, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* ------------------------------------------------------------- proc */

static void test_proc_run(void **state)
{
    (void)state;
    proc_result *r = calloc(1, sizeof *r);
    kt_err err = {0};
    assert_non_null(r);
    const char *fails[] = {"sh", "-c", "echo first >&2; echo 'last line' >&2; exit 3", NULL};
    assert_int_equal(proc_run(fails, NULL, r, &err), KT_OK);
    assert_int_equal(r->exit_code, 3);
    assert_string_equal(r->err_text, "first\nlast line\n");
    char last[64];
    proc_last_line(r->err_text, last, sizeof last);
    assert_string_equal(last, "last line");

    /* arguments are not re-parsed by a shell; env additions reach the child */
    const char *args[] = {"sh", "-c",       "test \"$1\" = 'a b;$(x)' && test \"$KT_T\" = v2",
                          "sh", "a b;$(x)", NULL};
    const char *env[] = {"KT_T=v2", NULL};
    assert_int_equal(setenv("KT_T", "v1", 1), 0);
    assert_int_equal(proc_run(args, env, r, &err), KT_OK);
    assert_int_equal(r->exit_code, 0);
    assert_string_equal(getenv("KT_T"), "v1"); /* ours is untouched */

    /* stderr beyond the cap is drained, not kept */
    const char *loud[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2", NULL};
    assert_int_equal(proc_run(loud, NULL, r, &err), KT_OK);
    assert_int_equal(r->exit_code, 0);
    assert_int_equal(strlen(r->err_text), PROC_STDERR_MAX);

    const char *missing[] = {"kt-no-such-program-xyz", NULL};
    assert_int_equal(proc_run(missing, NULL, r, &err), KT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "kt-no-such-program-xyz"));
    assert_int_equal(proc_on_path("sh"), 1);
    assert_int_equal(proc_on_path("kt-no-such-program-xyz"), 0);
    proc_last_line("", last, sizeof last);
    assert_string_equal(last, "");
    free(r);
}

int main(void)
{
    if (crypto_init() != KT_OK || log_init("warn", NULL) != KT_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_format_and_parse),
        cmocka_unit_test(test_retention_daily_and_weekly),
        cmocka_unit_test(test_retention_edges),
        cmocka_unit_test(test_checksum_write_and_verify),
        cmocka_unit_test(test_prune_directory),
        cmocka_unit_test(test_sqlite_snapshot_during_writes),
        cmocka_unit_test(test_proc_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

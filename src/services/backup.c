/* backup.c - whole-database backups (see backup.h for the file layout, the
 * retention rule and the restore steps; store_backup.c for the SQL).
 *
 * pg_dump, pg_restore and rclone run through proc_run: an argv, never a
 * shell. The PostgreSQL connection settings reach pg_dump/pg_restore as
 * libpq environment variables (PGHOST, PGPASSWORD, ...) parsed from
 * KEEPTRACK_DB by libpq itself (PQconninfoParse), so a password never sits
 * on a command line where `ps` would show it.
 */
#include "services/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/proc.h"
#include "store/store_backup.h"

#define PATH_CAP 4096
#define NAME_PREFIX "keeptrack-"
#define TMP_PREFIX ".keeptrack-tmp-"
#define SUM_SUFFIX ".sha256"
#define BEFORE_RESTORE_SUFFIX ".before-restore"
#define SUM_FILE_MAX 4096
#define PG_ENV_MAX 40
#define DAY_MS 86400000LL

/* ---------------------------------------------------------------- names */

static const char *kind_ext(backup_kind kind)
{
    return kind == BACKUP_PGDUMP ? "pgdump" : "sqlite";
}

void backup_name_format(int64_t ms, backup_kind kind, char out[BACKUP_NAME_MAX])
{
    struct tm tm;
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : 0);
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(out, BACKUP_NAME_MAX, NAME_PREFIX "%04d%02d%02dT%02d%02d%02dZ.%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, kind_ext(kind));
}

/* Reads n decimal digits at s into *v; 0 when one is not a digit. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

int backup_name_parse(const char *name, int64_t *ms, backup_kind *kind)
{
    /* keeptrack-YYYYMMDDTHHMMSSZ.ext */
    const size_t pre = sizeof NAME_PREFIX - 1;
    int y, mo, d, h, mi, s;
    backup_kind k;
    if (!name || strncmp(name, NAME_PREFIX, pre) != 0 || strlen(name) < pre + 17)
        return 0;
    const char *p = name + pre;
    if (!digits(p, 4, &y) || !digits(p + 4, 2, &mo) || !digits(p + 6, 2, &d) || p[8] != 'T' ||
        !digits(p + 9, 2, &h) || !digits(p + 11, 2, &mi) || !digits(p + 13, 2, &s) ||
        p[15] != 'Z' || p[16] != '.')
        return 0;
    if (strcmp(p + 17, "sqlite") == 0)
        k = BACKUP_SQLITE;
    else if (strcmp(p + 17, "pgdump") == 0)
        k = BACKUP_PGDUMP;
    else
        return 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return 0;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm normalises 2026-02-30 to March 2: a round trip catches it. */
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
        return 0;
    if (ms)
        *ms = (int64_t)t * 1000;
    if (kind)
        *kind = k;
    return 1;
}

/* ------------------------------------------------------------ retention */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 (a Thursday); weeks start on Monday (ISO 8601). */
static int64_t day_of(int64_t ms)
{
    return floor_div(ms, DAY_MS);
}

static int64_t week_of(int64_t ms)
{
    return floor_div(day_of(ms) + 3, 7);
}

typedef struct ranked {
    int64_t ms;
    size_t idx;
} ranked;

static int newest_first(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keeps the newest backup of each of the `count` most recent periods. */
static void keep_per_period(const ranked *r, size_t n, int count, int64_t (*period)(int64_t),
                            unsigned char *keep)
{
    int seen = 0;
    int64_t last = 0;
    for (size_t i = 0; i < n && count > 0; i++) {
        int64_t p = period(r[i].ms);
        if (seen > 0 && p == last)
            continue; /* an older backup of a period already counted */
        if (seen == count)
            break;
        seen++;
        last = p;
        keep[r[i].idx] = 1;
    }
}

void backup_retention(const int64_t *times_ms, size_t n, int keep_daily, int keep_weekly,
                      unsigned char *keep)
{
    if (n == 0)
        return;
    memset(keep, 0, n);
    ranked *r = malloc(n * sizeof *r);
    if (!r) { /* cannot decide: keeping everything is the safe failure */
        memset(keep, 1, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (ranked){times_ms[i], i};
    qsort(r, n, sizeof *r, newest_first);
    keep[r[0].idx] = 1;
    keep_per_period(r, n, keep_daily, day_of, keep);
    keep_per_period(r, n, keep_weekly, week_of, keep);
    free(r);
}

/* --------------------------------------------------------------- files */

static kt_status join(char *out, const char *a, const char *b, const char *c, kt_err *err)
{
    int n = snprintf(out, PATH_CAP, "%s%s%s", a, b, c ? c : "");
    if (n < 0 || n >= PATH_CAP)
        return err_set(err, KT_ERR_INVALID, NULL, "path too long: %.200s%s", a, b);
    return KT_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The directory part of path ("." when none) into out. */
static void dir_name(const char *path, char out[PATH_CAP])
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, PATH_CAP, ".");
    else if (slash == path)
        snprintf(out, PATH_CAP, "/");
    else
        snprintf(out, PATH_CAP, "%.*s", (int)(slash - path), path);
}

/* fsyncs a directory so renames and unlinks in it survive a crash. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse fsync on directories */
        close(fd);
    }
}

static kt_status fsync_path(const char *path, kt_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, KT_ERR_IO, NULL, "cannot open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return err_set(err, KT_ERR_IO, NULL, "cannot sync %s to disk: %s", path, strerror(e));
    return KT_OK;
}

kt_status backup_sha256_file(const char *path, char hex[65], kt_err *err)
{
    crypto_hash_sha256_state h;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    kt_status st = KT_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? KT_ERR_NOT_FOUND : KT_ERR_IO, NULL,
                       "cannot read %s: %s", path, strerror(errno));
    crypto_hash_sha256_init(&h);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = err_set(err, KT_ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)r);
    }
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
out:
    close(fd);
    return st;
}

kt_status backup_checksum_write(const char *path, const char hex[65], kt_err *err)
{
    char sum_path[PATH_CAP], line[BACKUP_NAME_MAX + PATH_CAP];
    kt_status st = join(sum_path, path, SUM_SUFFIX, NULL, err);
    if (st != KT_OK)
        return st;
    int n = snprintf(line, sizeof line, "%.64s  %s\n", hex, base_name(path));
    if (n < 0 || (size_t)n >= sizeof line)
        return err_set(err, KT_ERR_INVALID, NULL, "file name too long: %.200s", path);
    return fs_write_atomic(sum_path, line, (size_t)n, 0600, err);
}

/* Parses sha256sum's "<64 hex> <' '|'*'><name>\n" into hex and *name. */
static int parse_sum_line(char *text, char hex[65], const char **name)
{
    for (int i = 0; i < 64; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        hex[i] = c;
    }
    hex[64] = '\0';
    if (text[64] != ' ' || (text[65] != ' ' && text[65] != '*'))
        return 0;
    char *nm = text + 66, *nl = strchr(nm, '\n');
    if (nl) {
        if (nl[1] != '\0')
            return 0; /* one line only */
        *nl = '\0';
    }
    if (!*nm)
        return 0;
    *name = nm;
    return 1;
}

kt_status backup_verify(const char *path, kt_err *err)
{
    char sum_path[PATH_CAP], want[65], got[65];
    char *text = NULL;
    size_t len = 0;
    const char *named = NULL;
    kt_err e = {0};
    kt_status st = join(sum_path, path, SUM_SUFFIX, NULL, err);
    if (st != KT_OK)
        return st;
    if ((st = fs_read_file(sum_path, SUM_FILE_MAX, &text, &len, &e)) != KT_OK) {
        if (st == KT_ERR_NOT_FOUND)
            return err_set(
                err, KT_ERR_NOT_FOUND, "checksum_missing",
                "no checksum file %s: refusing to restore a backup that cannot be verified",
                sum_path);
        return err_set(err, st, e.code, "%s", e.msg);
    }
    if (len < 66 || strlen(text) != len || !parse_sum_line(text, want, &named)) {
        st = err_set(err, KT_ERR_INVALID, "checksum_malformed",
                     "%s is not a sha256sum line (\"<64 hex digits>  <file name>\")", sum_path);
        goto out;
    }
    if (strcmp(named, base_name(path)) != 0) {
        st = err_set(err, KT_ERR_INVALID, "checksum_malformed",
                     "%s is the checksum of %.100s, not of %s", sum_path, named, base_name(path));
        goto out;
    }
    if ((st = backup_sha256_file(path, got, err)) != KT_OK)
        goto out;
    if (strcmp(want, got) != 0)
        st = err_set(err, KT_ERR_CRYPTO, "checksum_mismatch",
                     "%s does not match its checksum (%s): the file is damaged or was modified; "
                     "it was not restored",
                     path, sum_path);
out:
    free(text);
    return st;
}

/* ------------------------------------------------------------- retention */

typedef struct listing {
    char (*names)[BACKUP_NAME_MAX];
    int64_t *times;
    size_t n, cap;
} listing;

static void listing_free(listing *l)
{
    free(l->names);
    free(l->times);
}

static kt_status listing_add(listing *l, const char *name, int64_t ms, kt_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        if (cap > BACKUP_DIR_ENTRIES_MAX)
            return err_set(err, KT_ERR_TOO_LARGE, NULL, "more than %d backups in the directory",
                           BACKUP_DIR_ENTRIES_MAX);
        void *nn = realloc(l->names, cap * sizeof *l->names);
        if (!nn)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        l->names = nn;
        void *nt = realloc(l->times, cap * sizeof *l->times);
        if (!nt)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        l->times = nt;
        l->cap = cap;
    }
    snprintf(l->names[l->n], BACKUP_NAME_MAX, "%s", name);
    l->times[l->n++] = ms;
    return KT_OK;
}

static kt_status list_backups(const char *dir, listing *l, kt_err *err)
{
    kt_status st = KT_OK;
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, KT_ERR_IO, NULL, "cannot read the backup directory %s: %s", dir,
                       strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t ms;
        if (strlen(de->d_name) < BACKUP_NAME_MAX && backup_name_parse(de->d_name, &ms, NULL) &&
            (st = listing_add(l, de->d_name, ms, err)) != KT_OK)
            break;
    }
    closedir(d);
    return st;
}

static int unlink_quiet(const char *path)
{
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

kt_status backup_prune(const char *dir, int keep_daily, int keep_weekly, int *deleted, kt_err *err)
{
    listing l = {0};
    unsigned char *keep = NULL;
    int count = 0, failed = 0;
    char path[PATH_CAP], sum[PATH_CAP];
    kt_status st = list_backups(dir, &l, err);
    if (st != KT_OK)
        goto out;
    if (l.n == 0)
        goto out;
    if (!(keep = malloc(l.n))) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    backup_retention(l.times, l.n, keep_daily, keep_weekly, keep);
    for (size_t i = 0; i < l.n; i++) {
        if (keep[i])
            continue;
        if (join(path, dir, "/", l.names[i], NULL) != KT_OK ||
            join(sum, path, SUM_SUFFIX, NULL, NULL) != KT_OK)
            continue;
        /* The checksum goes first: a backup without one is refused by
         * restore, never mistaken for a verified one. */
        if (unlink_quiet(sum) != 0 || unlink_quiet(path) != 0) {
            if (!failed++)
                st = err_set(err, KT_ERR_IO, NULL, "cannot delete the old backup %s: %s", path,
                             strerror(errno));
            continue;
        }
        count++;
        LOG_INFO("backup_pruned", "file=%s", l.names[i]);
    }
    sync_dir(dir);
out:
    if (st == KT_OK && deleted)
        *deleted = count;
    free(keep);
    listing_free(&l);
    return st;
}

/* ----------------------------------------------------- external programs */

typedef struct pg_env {
    char *vars[PG_ENV_MAX + 1]; /* "PGHOST=..." (malloc'd; may hold a password) */
    char dbname[256];
} pg_env;

static void pg_env_free(pg_env *e)
{
    for (size_t i = 0; i < PG_ENV_MAX && e->vars[i]; i++) {
        sodium_memzero(e->vars[i], strlen(e->vars[i]));
        free(e->vars[i]);
        e->vars[i] = NULL;
    }
}

/* libpq's own parse of KEEPTRACK_DB, as PG* environment variables. */
static kt_status pg_env_from_url(const char *url, pg_env *out, kt_err *err)
{
    char *perr = NULL;
    size_t n = 0;
    kt_status st = KT_OK;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    memset(out, 0, sizeof *out);
    if (!opts) {
        PQfreemem(perr);
        /* perr may quote the URL, password included: not repeated */
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "KEEPTRACK_DB is not a valid PostgreSQL URL");
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "dbname") == 0)
            snprintf(out->dbname, sizeof out->dbname, "%s", o->val);
        if (!o->envvar)
            continue;
        if (n == PG_ENV_MAX || asprintf(&out->vars[n], "%s=%s", o->envvar, o->val) < 0) {
            out->vars[n] = NULL;
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        n++;
    }
    PQconninfoFree(opts);
    if (st != KT_OK)
        pg_env_free(out);
    return st;
}

/* Runs a program and turns "did not run" and "exited non-zero" into errors
 * that name it and quote its last line of stderr. */
static kt_status run_tool(const char *const argv[], const char *const env[], const char *what,
                          const char *code, kt_err *err)
{
    proc_result *res = calloc(1, sizeof *res);
    char last[240];
    if (!res)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    kt_status st = proc_run(argv, env, res, err);
    if (st == KT_OK && res->exit_code != 0) {
        proc_last_line(res->err_text, last, sizeof last);
        st = err_set(err, KT_ERR_UPSTREAM, code, "%s failed (%s exited with %d): %s", what, argv[0],
                     res->exit_code, last[0] ? last : "no message");
    } else if (st != KT_OK) {
        err_prefix(err, "%s", what);
    }
    free(res);
    return st;
}

static kt_status need_tool(const char *tool, const char *code, const char *hint, kt_err *err)
{
    if (proc_on_path(tool))
        return KT_OK;
    return err_set(err, KT_ERR_NOT_FOUND, code, "%s was not found on PATH: %s", tool, hint);
}

#define PG_TOOL_HINT                                                                               \
    "install postgresql-client (the same major version as the server, or newer) or add its "       \
    "bin directory (e.g. /usr/lib/postgresql/15/bin) to PATH"

static kt_status pg_dump_to(const kt_config *cfg, store *s, const char *dest, kt_err *err)
{
    char schema[STORE_BACKUP_SCHEMA_MAX + 1];
    pg_env env;
    kt_status st = need_tool("pg_dump", "pg_dump_missing", PG_TOOL_HINT, err);
    if (st != KT_OK || (st = store_backup_pg_schema(s, schema, err)) != KT_OK ||
        (st = pg_env_from_url(cfg->db, &env, err)) != KT_OK)
        return st;
    const char *argv[] = {
        "pg_dump", "--format=custom", "--no-password", "--schema", schema, "--file", dest, NULL};
    st = run_tool(argv, (const char *const *)env.vars, "pg_dump", "pg_dump_failed", err);
    pg_env_free(&env);
    return st;
}

kt_status backup_offsite_copy(const char *remote, const char *path, kt_err *err)
{
    char dest[PATH_CAP], sum[PATH_CAP];
    size_t rn = remote ? strlen(remote) : 0;
    const char *sep = rn && (remote[rn - 1] == ':' || remote[rn - 1] == '/') ? "" : "/";
    kt_status st;
    if (!rn)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "KEEPTRACK_BACKUP_RCLONE_REMOTE is empty");
    if ((st = need_tool(
             "rclone", "rclone_missing",
             "install rclone (Debian package rclone) or unset KEEPTRACK_BACKUP_RCLONE_REMOTE",
             err)) != KT_OK)
        return st;
    /* The checksum follows the file, so a remote copy with a checksum is complete. */
    for (int i = 0; i < 2; i++) {
        const char *src = path;
        if (i == 1) {
            if ((st = join(sum, path, SUM_SUFFIX, NULL, err)) != KT_OK)
                return st;
            src = sum;
        }
        if ((st = join(dest, remote, sep, base_name(src), err)) != KT_OK)
            return st;
        const char *argv[] = {"rclone", "copyto", "--", src, dest, NULL};
        if ((st = run_tool(argv, NULL, "the off-site copy", "offsite_failed", err)) != KT_OK) {
            err_prefix(err, "copying %s to %s", base_name(src), remote);
            return st;
        }
    }
    return KT_OK;
}

/* ---------------------------------------------------------------- create */

kt_status backup_create(const kt_config *cfg, store *s, int64_t now_ms, backup_result *out,
                        kt_err *err)
{
    char name[BACKUP_NAME_MAX], tmp[PATH_CAP], final[PATH_CAP], hex[65];
    backup_kind kind = store_get_backend(s) == STORE_POSTGRES ? BACKUP_PGDUMP : BACKUP_SQLITE;
    int tmp_made = 0, final_made = 0;
    struct stat sb;
    kt_status st;

    if (!cfg->backup_dir || !*cfg->backup_dir)
        return err_set(err, KT_ERR_INVALID, "bad_config", "KEEPTRACK_BACKUP_DIR is not set");
    if ((st = fs_mkdir_p(cfg->backup_dir, 0700, err)) != KT_OK)
        return st;
    backup_name_format(now_ms, kind, name);
    if ((st = join(final, cfg->backup_dir, "/", name, err)) != KT_OK ||
        (st = join(tmp, cfg->backup_dir, "/" TMP_PREFIX, "XXXXXX", err)) != KT_OK)
        return st;
    if (lstat(final, &sb) == 0)
        return err_set(err, KT_ERR_CONFLICT, "backup_exists",
                       "%s already exists (one backup per second): try again", final);
    int fd = mkstemp(tmp); /* 0600; VACUUM INTO and pg_dump write into it */
    if (fd < 0)
        return err_set(err, KT_ERR_IO, NULL, "cannot create a file in %s: %s", cfg->backup_dir,
                       strerror(errno));
    close(fd);
    tmp_made = 1;
    if (kind == BACKUP_SQLITE)
        st = store_backup_sqlite_snapshot(s, tmp, err);
    else
        st = pg_dump_to(cfg, s, tmp, err);
    if (st != KT_OK || (st = fsync_path(tmp, err)) != KT_OK ||
        (st = backup_sha256_file(tmp, hex, err)) != KT_OK)
        goto out;
    if (stat(tmp, &sb) != 0) {
        st = err_set(err, KT_ERR_IO, NULL, "cannot stat %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* link() instead of rename(): it refuses to replace a backup made in
     * the same second by another process. */
    if (link(tmp, final) != 0) {
        st = errno == EEXIST
                 ? err_set(err, KT_ERR_CONFLICT, "backup_exists",
                           "%s already exists (one backup per second): try again", final)
                 : err_set(err, KT_ERR_IO, NULL, "cannot create %s: %s", final, strerror(errno));
        goto out;
    }
    final_made = 1;
    if ((st = backup_checksum_write(final, hex, err)) != KT_OK)
        goto out;
    snprintf(out->path, sizeof out->path, "%s", final);
    memcpy(out->sha256, hex, sizeof out->sha256);
    out->bytes = (int64_t)sb.st_size;
    out->offsite = 0;
    out->pruned = 0;
    LOG_INFO("backup_created", "file=%s bytes=%lld", name, (long long)sb.st_size);
out:
    if (tmp_made)
        unlink_quiet(tmp);
    if (st != KT_OK && final_made)
        unlink_quiet(final);
    return st;
}

kt_status backup_run(const kt_config *cfg, store *s, int64_t now_ms, backup_result *out,
                     kt_err *err)
{
    backup_result res;
    kt_err copy_err = {0};
    kt_status copy_st = KT_OK, st = backup_create(cfg, s, now_ms, &res, err);
    if (st != KT_OK)
        return st;
    *out = res;
    if (cfg->backup_rclone_remote && *cfg->backup_rclone_remote) {
        copy_st = backup_offsite_copy(cfg->backup_rclone_remote, res.path, &copy_err);
        res.offsite = copy_st == KT_OK;
        if (copy_st != KT_OK)
            LOG_WARN("backup_offsite_failed", "file=%s error=%s", base_name(res.path),
                     copy_err.msg);
    }
    st = backup_prune(cfg->backup_dir, cfg->backup_keep_daily, cfg->backup_keep_weekly, &res.pruned,
                      err);
    *out = res;
    if (copy_st != KT_OK) {
        if (err)
            *err = copy_err;
        return copy_st;
    }
    return st;
}

/* --------------------------------------------------------------- restore */

static kt_status copy_file(const char *src, const char *dst_template, char dst[PATH_CAP],
                           kt_err *err)
{
    char buf[65536];
    kt_status st = KT_OK;
    int in = -1, out = -1;
    snprintf(dst, PATH_CAP, "%s", dst_template);
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(err, KT_ERR_IO, NULL, "cannot read %s: %s", src, strerror(errno));
    if ((out = mkstemp(dst)) < 0) {
        st = err_set(err, KT_ERR_IO, NULL, "cannot create a file next to the database (%s): %s",
                     dst, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = err_set(err, KT_ERR_IO, NULL, "cannot read %s: %s", src, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                st = err_set(err, KT_ERR_IO, NULL, "cannot write %s: %s", dst, strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    if (fsync(out) != 0)
        st = err_set(err, KT_ERR_IO, NULL, "cannot sync %s to disk: %s", dst, strerror(errno));
out:
    if (in >= 0)
        close(in);
    if (out >= 0) {
        close(out);
        if (st != KT_OK)
            unlink_quiet(dst);
    }
    return st;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static kt_status restore_sqlite(const char *db, const char *backup, char kept[PATH_CAP],
                                kt_err *err)
{
    char tmpl[PATH_CAP], tmp[PATH_CAP] = "", before[PATH_CAP], wal[PATH_CAP], shm[PATH_CAP],
                         dir[PATH_CAP];
    kt_status st;
    int had_db = exists(db);
    kept[0] = '\0';
    if (strncmp(db, "file:", 5) == 0 || strcmp(db, ":memory:") == 0)
        return err_set(err, KT_ERR_INVALID, NULL,
                       "restore-backup needs KEEPTRACK_DB to be a plain file path, not %.100s", db);
    if ((st = join(tmpl, db, ".restore-XXXXXX", NULL, err)) != KT_OK ||
        (st = join(before, db, BEFORE_RESTORE_SUFFIX, NULL, err)) != KT_OK ||
        (st = join(wal, db, "-wal", NULL, err)) != KT_OK ||
        (st = join(shm, db, "-shm", NULL, err)) != KT_OK ||
        (st = fs_mkdir_parent(db, 0700, err)) != KT_OK)
        return st;
    dir_name(db, dir);
    /* The copy is made before the database is touched: a full disk fails
     * here with the current database as it was. */
    if ((st = copy_file(backup, tmpl, tmp, err)) != KT_OK)
        return st;
    if (had_db) {
        if ((st = store_backup_sqlite_quiesce(db, err)) != KT_OK)
            goto out;
        if (exists(wal)) {
            st = err_set(
                err, KT_ERR_CONFLICT, "db_in_use",
                "%s still exists: another process is using the database; stop it and retry", wal);
            goto out;
        }
        unlink_quiet(shm);
        if (unlink_quiet(before) != 0 || link(db, before) != 0) {
            st = err_set(err, KT_ERR_IO, NULL, "cannot keep the current database as %s: %s", before,
                         strerror(errno));
            goto out;
        }
        snprintf(kept, PATH_CAP, "%s", before);
    }
    if (rename(tmp, db) != 0) {
        st = err_set(err, KT_ERR_IO, NULL, "cannot move the restored database into place (%s): %s",
                     db, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    sync_dir(dir);
out:
    if (tmp[0])
        unlink_quiet(tmp);
    return st;
}

static kt_status schema_version_fresh(const char *url, int *version, kt_err *err)
{
    store *s = NULL;
    kt_status st = store_open(url, &s, err);
    if (st == KT_OK)
        st = store_schema_version(s, version, err);
    store_close(s);
    return st;
}

static kt_status restore_pg(const kt_config *cfg, const char *backup, char kept[PATH_CAP],
                            kt_err *err)
{
    char schema[STORE_BACKUP_SCHEMA_MAX + 1];
    store *s = NULL;
    pg_env env;
    int env_ready = 0, moved = 0, version = 0;
    int64_t others = 0;
    kt_status st;
    kept[0] = '\0';
    if ((st = need_tool("pg_restore", "pg_restore_missing", PG_TOOL_HINT, err)) != KT_OK ||
        (st = store_open(cfg->db, &s, err)) != KT_OK ||
        (st = store_backup_pg_schema(s, schema, err)) != KT_OK ||
        (st = store_backup_pg_other_clients(s, &others, err)) != KT_OK)
        goto out;
    if (others > 0) {
        st = err_set(err, KT_ERR_CONFLICT, "db_in_use",
                     "the database is in use by %lld other keeptrack connection(s) (is `keeptrack "
                     "serve` running?): stop every keeptrack process using it, then try again",
                     (long long)others);
        goto out;
    }
    if ((st = pg_env_from_url(cfg->db, &env, err)) != KT_OK)
        goto out;
    env_ready = 1;
    if (!env.dbname[0] || strchr(env.dbname, '=') || strstr(env.dbname, "://")) {
        st = err_set(
            err, KT_ERR_INVALID, "bad_config",
            "KEEPTRACK_DB must name the database (postgresql://HOST/DBNAME) to restore into it");
        goto out;
    }
    if ((st = store_backup_pg_set_aside(s, schema, &moved, err)) != KT_OK)
        goto out;
    const char *argv[] = {"pg_restore",  "--clean",
                          "--if-exists", "--single-transaction",
                          "--no-owner",  "--no-password",
                          "--dbname",    env.dbname,
                          backup,        NULL};
    st = run_tool(argv, (const char *const *)env.vars, "pg_restore", "pg_restore_failed", err);
    /* A fresh connection: this one's cached statements may point at the
     * tables that were just set aside. */
    if (st == KT_OK && (st = schema_version_fresh(cfg->db, &version, err)) == KT_OK && version == 0)
        st = err_set(err, KT_ERR_INVALID, "wrong_schema",
                     "the backup holds no keeptrack tables in schema %s (was it made from another "
                     "schema?)",
                     schema);
    if (st != KT_OK) {
        kt_err e2 = {0};
        if (moved && store_backup_pg_put_back(s, schema, &e2) != KT_OK)
            LOG_ERROR("restore_put_back_failed", "schema=%s error=%s", schema, e2.msg);
        goto out;
    }
    if (moved)
        snprintf(kept, PATH_CAP, "schema %s%s", schema, STORE_BACKUP_ASIDE_SUFFIX);
out:
    if (env_ready)
        pg_env_free(&env);
    store_close(s);
    return st;
}

kt_status backup_restore(const kt_config *cfg, const char *path, char kept[4096], kt_err *err)
{
    char where[PATH_CAP] = "";
    backup_kind kind;
    store *s = NULL;
    int is_pg = strstr(cfg->db, "://") != NULL;
    kt_status st;
    if (!backup_name_parse(base_name(path), NULL, &kind))
        return err_set(
            err, KT_ERR_INVALID, "not_a_backup",
            "%s is not a keeptrack backup (keeptrack-YYYYMMDDTHHMMSSZ.sqlite or .pgdump)", path);
    if ((st = backup_verify(path, err)) != KT_OK)
        return st;
    if (is_pg != (kind == BACKUP_PGDUMP))
        return err_set(err, KT_ERR_INVALID, "wrong_backend",
                       "%s is a %s backup but KEEPTRACK_DB is a %s database", path,
                       kind == BACKUP_PGDUMP ? "PostgreSQL" : "SQLite",
                       is_pg ? "PostgreSQL" : "SQLite");
    st = is_pg ? restore_pg(cfg, path, where, err) : restore_sqlite(cfg->db, path, where, err);
    if (st != KT_OK)
        return st;
    LOG_INFO("backup_restored", "file=%s", base_name(path));
    if ((st = store_open(cfg->db, &s, err)) != KT_OK || (st = store_migrate(s, err)) != KT_OK)
        err_prefix(err, "restored, but migrating failed (run `keeptrack migrate`)");
    store_close(s);
    if (st == KT_OK && kept)
        snprintf(kept, PATH_CAP, "%s", where);
    return st;
}

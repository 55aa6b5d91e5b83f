/* cmd_export.c - `keeptrack export [--user USER] [--format json|csv] --out PATH`:
 * writes a user's data as keeptrack's JSON export or a zip of
 * Exportify-style CSV files (services/export.h). The file appears whole or
 * not at all: it is written next to PATH under a temporary name and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "services/export.h"

#define USAGE "usage: keeptrack export [--user USER] [--format json|csv] --out PATH\n"

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies the export into fd. */
static kt_status copy_export(kt_app *app, int64_t uid, int csv, int fd, kt_err *err)
{
    static char chunk[1 << 16];
    if (csv) {
        int zfd = -1;
        int64_t size = 0;
        kt_status st = export_csv_zip(app, uid, NULL, &zfd, &size, err);
        if (st != KT_OK)
            return st;
        ssize_t n;
        while ((n = read(zfd, chunk, sizeof chunk)) > 0 && write_all(fd, chunk, (size_t)n) == 0)
            ;
        close(zfd);
        return n == 0 ? KT_OK : err_set(err, KT_ERR_IO, "export_io", "copying the zip: %s",
                                         strerror(errno));
    }
    export_stream *es = NULL;
    kt_status st = export_stream_open(app, uid, &es, err);
    long n = 0;
    while (st == KT_OK && (n = export_stream_read(es, chunk, sizeof chunk)) > 0)
        if (write_all(fd, chunk, (size_t)n) != 0)
            st = err_set(err, KT_ERR_IO, "export_io", "writing: %s", strerror(errno));
    if (st == KT_OK && n < 0) {
        *err = *export_stream_error(es);
        st = err->status;
    }
    export_stream_free(es);
    return st;
}

int cmd_export(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL, *format = "json", *out = NULL;
    kt_app *app = NULL;
    kt_err err = {0};
    int64_t uid = 0;
    int fd = -1, rc = 1;
    char tmp[4200];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            who = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "keeptrack: export: unexpected argument '%s'\n" USAGE, argv[i]);
            return 2;
        }
    }
    if (!out || (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)) {
        fputs(out ? "keeptrack: export: --format must be json or csv\n" USAGE : USAGE, stderr);
        return 2;
    }
    if (cli_open_for_user(cfg, "export", who, &app, &uid) != 0)
        return 1;
    snprintf(tmp, sizeof tmp, "%s.partial", out);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "keeptrack: export: cannot create %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    kt_status st = copy_export(app, uid, strcmp(format, "csv") == 0, fd, &err);
    if (st == KT_OK && (fsync(fd) != 0 || close(fd) != 0))
        st = err_set(&err, KT_ERR_IO, "export_io", "writing %s: %s", tmp, strerror(errno));
    else if (st != KT_OK)
        close(fd);
    fd = -1;
    if (st == KT_OK && rename(tmp, out) != 0)
        st = err_set(&err, KT_ERR_IO, "export_io", "renaming to %s: %s", out, strerror(errno));
    if (st != KT_OK) {
        unlink(tmp);
        rc = cli_fail("export", &err);
        goto out;
    }
    printf("exported to %s\n", out);
    rc = 0;
out:
    app_close(app);
    return rc;
}

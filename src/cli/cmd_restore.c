/* cmd_restore.c - `keeptrack restore [--user USER] FILE... [--playlists ID|NAME,...]
 * [--refill] [--liked] [--dry-run]`: writes playlists (and Liked Songs with
 * --liked) from keeptrack JSON exports or Exportify CSV files (or zips of
 * them) back into the user's Spotify account, in the foreground
 * (services/restore.h). Every file is read and checked before anything is
 * written. Prints the report as JSON on stdout; progress on stderr. The run
 * is recorded like the API's restores (restore_cli_run): running the same
 * command again after a deferral or a kill fills the playlists the first
 * run created instead of creating them twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/timeutil.h"
#include "services/restore.h"

#define USAGE                                                                               \
    "usage: keeptrack restore [--user USER] FILE... [--playlists ID|NAME,...] [--refill]\n" \
    "                         [--liked] [--dry-run]\n"

static void on_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "restore: %lld/%lld %s\n", (long long)done, (long long)total, msg);
}

/* Adds the comma-separated selectors of v. */
static kt_status add_selectors(restore_options *o, const char *v, kt_err *err)
{
    kt_status st = KT_OK;
    while (st == KT_OK && v && *v) {
        size_t n = strcspn(v, ",");
        char *one = strndup(v, n);
        if (!one)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        if (n > 0)
            st = restore_options_add_playlist(o, one, err);
        free(one);
        v += n + (v[n] == ',');
    }
    return st;
}

/* "keeptrack restore FILE..." as the request's source, cut to fit. */
static void describe(char **files, size_t n, char *out, size_t size)
{
    size_t at = (size_t)snprintf(out, size, "keeptrack restore");
    for (size_t i = 0; i < n && at < size; i++) {
        int w = snprintf(out + at, size - at, " %s", files[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* Reads and parses every file into in. */
static kt_status read_files(char **files, size_t n, restore_input *in, kt_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char *data = NULL;
        size_t len = 0;
        const char *base = strrchr(files[i], '/');
        kt_status st = fs_read_file(files[i], RESTORE_MAX_FILE_BYTES, &data, &len, err);
        if (st == KT_OK)
            st = restore_parse_file(base ? base + 1 : files[i], data, len, in, err);
        else
            err_prefix(err, "%s", files[i]);
        free(data);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

int cmd_restore(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nf = 0;
    restore_options o = {0};
    restore_input *in = restore_input_new();
    kt_app *app = NULL;
    json_t *report = NULL;
    kt_err err = {0};
    int64_t uid = 0;
    int rc = 2;
    if (!files || !in) {
        rc = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            who = argv[++i];
        else if ((strcmp(argv[i], "--playlists") == 0 || strcmp(argv[i], "--playlist") == 0) &&
                 i + 1 < argc) {
            if (add_selectors(&o, argv[++i], &err) != KT_OK) {
                fprintf(stderr, "keeptrack: restore: %s\n", err.msg);
                goto out;
            }
        } else if (strcmp(argv[i], "--refill") == 0)
            o.mode = RESTORE_MODE_REFILL;
        else if (strcmp(argv[i], "--liked") == 0)
            o.liked = 1;
        else if (strcmp(argv[i], "--dry-run") == 0)
            o.dry_run = 1;
        else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "keeptrack: restore: unknown option '%s'\n" USAGE, argv[i]);
            goto out;
        } else
            files[nf++] = argv[i];
    }
    if (nf == 0) {
        fputs(USAGE, stderr);
        goto out;
    }
    rc = 1;
    if (read_files(files, nf, in, &err) != KT_OK || restore_check(in, &o, &err) != KT_OK) {
        rc = cli_fail("restore", &err);
        goto out;
    }
    if (cli_open_for_user(cfg, "restore", who, &app, &uid) != 0)
        goto out;
    char source[512];
    describe(files, nf, source, sizeof source);
    kt_status st = restore_cli_run(app, uid, in, &o, source, on_progress, NULL, &report, &err);
    if (st == KT_ERR_DEFERRED) {
        char when[32];
        time_format_iso8601(err.retry_at_ms, when);
        fprintf(stderr, "keeptrack: restore: Spotify asks to wait until %s: %s\n", when, err.msg);
        goto out;
    }
    if (st != KT_OK) {
        rc = cli_fail("restore", &err);
        goto out;
    }
    char *text = json_dumps(report, JSON_INDENT(2));
    if (text) {
        puts(text);
        free(text);
        rc = 0;
    }
out:
    json_decref(report);
    app_close(app);
    restore_input_free(in);
    restore_options_clear(&o);
    free(files);
    return rc;
}

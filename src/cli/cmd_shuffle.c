/* cmd_shuffle.c - `keeptrack shuffle --source liked|PLAYLIST_ID [--mode
 * uniform|spread] [--user USER] [--name NAME] [--new]`: a true shuffle in
 * the foreground (shuffle_run, the same service the "shuffle" job runs).
 *
 * Progress goes to stderr (a bar redrawn in place on a terminal, plain
 * lines at most once a second otherwise); the outcome to stdout:
 *   shuffled <source> into playlist <id> "<name>": N tracks[, replaced],
 *   L local files not added, U unavailable, R requests
 * Exit status 0 on success, 1 when the shuffle failed or was deferred, 2
 * for bad usage. Without --user the only active user is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/app.h"
#include "services/shuffle.h"
#include "store/store_auth.h"

typedef struct progress_out {
    int tty;
    int64_t last_ms;
} progress_out;

static void on_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    progress_out *p = ctx;
    int64_t now = time_mono_ms();
    if (p->tty) {
        fprintf(stderr, "\r\033[Kshuffle: %lld/%lld %s", (long long)done, (long long)total, msg);
        fflush(stderr);
        return;
    }
    if (now - p->last_ms < 1000 && done != total)
        return;
    p->last_ms = now;
    fprintf(stderr, "shuffle: %lld/%lld %s\n", (long long)done, (long long)total, msg);
}

/* Reads "--key value" or "--key=value" at argv[*i]; 1 when it matched. */
static int opt_value(int argc, char **argv, int *i, const char *key, const char **out)
{
    size_t n = strlen(key);
    if (strcmp(argv[*i], key) == 0 && *i + 1 < argc) {
        *out = argv[++*i];
        return 1;
    }
    if (strncmp(argv[*i], key, n) == 0 && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 1;
    }
    return 0;
}

int cmd_shuffle(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL, *mode_s = NULL;
    shuffle_options opt = {0};
    shuffle_result res;
    kt_err err = {0};
    kt_app *app = NULL;
    int64_t uid = 0;
    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "--user", &who) ||
            opt_value(argc, argv, &i, "--source", &opt.source) ||
            opt_value(argc, argv, &i, "--mode", &mode_s) ||
            opt_value(argc, argv, &i, "--name", &opt.name))
            continue;
        if (strcmp(argv[i], "--new") == 0) {
            opt.force_new = 1;
            continue;
        }
        fprintf(stderr, "keeptrack: shuffle: unknown argument '%s' (see keeptrack shuffle --help)\n",
                argv[i]);
        return 2;
    }
    if (shuffle_check_source(opt.source, &err) != KT_OK ||
        shuffle_parse_mode(mode_s, &opt.mode, &err) != KT_OK) {
        fprintf(stderr, "keeptrack: shuffle: %s\n", err.msg);
        return 2;
    }
    if (cli_open_for_user(cfg, "shuffle", who, &app, &uid) != 0)
        return 1;
    progress_out p = {.tty = isatty(STDERR_FILENO), .last_ms = -1000000};
    kt_status st = shuffle_run(app, uid, &opt, on_progress, &p, &res, &err);
    if (p.tty)
        fputs("\r\033[K", stderr);
    app_close(app);
    if (st == KT_ERR_DEFERRED) {
        char when[32];
        time_format_iso8601(err.retry_at_ms, when);
        fprintf(stderr, "keeptrack: shuffle: deferred until %s: %s\n", when, err.msg);
        return 1;
    }
    if (st != KT_OK)
        return cli_fail("shuffle", &err);
    printf("shuffled %s into playlist %s \"%s\": %lld tracks%s, %lld local files not added, "
           "%lld unavailable, %lld requests\n",
           opt.source, res.playlist_id, res.name, (long long)res.tracks,
           res.replaced ? ", replaced" : "", (long long)res.local_skipped,
           (long long)res.unavailable, (long long)res.requests);
    return 0;
}

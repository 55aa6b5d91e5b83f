/* cmd_sync.c - `keeptrack sync [--user USER] [--dry-run] [WHAT...]`: runs the
 * library sync in the foreground (sync_run, the same engine the job queue
 * runs), or with --dry-run prints the requests it would spend (sync_estimate:
 * quota is shown before it is used) and sends none.
 *
 * Progress goes to stderr: a one-line bar redrawn in place on a terminal,
 * plain lines otherwise (one per collection, and at most one a second
 * within a long one, so logs stay readable). The summary of each run goes to
 * stdout. Exit status: 0 when every user synced, 1 when any run failed or
 * was deferred (the reason is printed), 2 for bad usage.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/alerts.h"
#include "services/app.h"
#include "services/app_priv.h"
#include "services/sync.h"
#include "store/store_auth.h"
#include "store/store_library.h"

typedef struct progress_out {
    const char *who;
    int tty;
    int64_t last_step;
    int64_t last_ms;
} progress_out;

static void on_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    progress_out *p = ctx;
    if (p->tty) {
        char bar[21];
        int fill = total > 0 ? (int)(done * 20 / total) : 0;
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s", p->who, bar, (long long)done,
                (long long)total, msg);
        fflush(stderr);
        return;
    }
    int64_t now = time_mono_ms();
    if (done == p->last_step && now - p->last_ms < 1000)
        return;
    p->last_step = done;
    p->last_ms = now;
    fprintf(stderr, "sync %s: %lld/%lld %s\n", p->who, (long long)done, (long long)total, msg);
}

/* Prints the run just recorded for the user. */
static void print_summary(kt_app *app, const store_user *u)
{
    store *s = NULL;
    store_rows *r = NULL;
    int64_t total = 0;
    kt_err err = {0};
    if (app_db_get(app, &s, &err) != KT_OK)
        return;
    if (store_sync_runs_page(s, u->id, 1, 0, &r, &total, &err) == KT_OK && total > 0) {
        int64_t ms = store_rows_int(r, 0, 3) - store_rows_int(r, 0, 2);
        printf("user %lld (%s): %s %s in %.1f s, %lld requests, %lld added, %lld removed\n",
               (long long)u->id, u->account_id, store_rows_text(r, 0, 1),
               store_rows_text(r, 0, 4), (double)ms / 1000.0, (long long)store_rows_int(r, 0, 5),
               (long long)store_rows_int(r, 0, 6), (long long)store_rows_int(r, 0, 7));
    }
    store_rows_free(r);
    app_db_put(app, s);
}

/* --dry-run: one JSON line per user, {"user", "account_id", estimate...}. */
static int estimate_user(kt_app *app, const store_user *u, unsigned what)
{
    kt_err err = {0};
    json_t *est = NULL;
    if (sync_estimate(app, u->id, what, &est, &err) != KT_OK)
        return cli_fail("sync --dry-run", &err);
    char *text = NULL;
    if (json_object_set_new(est, "user", json_integer((json_int_t)u->id)) == 0 &&
        json_object_set_new(est, "account_id", json_string(u->account_id)) == 0)
        text = json_dumps(est, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(est);
    if (!text) {
        fprintf(stderr, "keeptrack: sync --dry-run: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static int sync_user(kt_app *app, const store_user *u, unsigned what)
{
    kt_err err = {0};
    char who[160];
    snprintf(who, sizeof who, "%s", u->display_name ? u->display_name : u->account_id);
    progress_out p = {.who = who, .tty = isatty(STDERR_FILENO), .last_step = -1};
    int64_t started = time_now_ms();
    kt_status st = sync_run(app, u->id, what, on_progress, NULL, NULL, &p, &err);
    if (p.tty)
        fputs("\r\033[K", stderr);
    /* As after a sync job: lost tracks and a refused login become alerts
     * (their deliveries are jobs, sent by a running `keeptrack serve`). */
    kt_err aerr = {0};
    if (alerts_after_sync(app, u->id, started, time_now_ms(), &aerr) != KT_OK)
        fprintf(stderr, "keeptrack: sync %s: checking for alerts failed: %s\n", who, aerr.msg);
    print_summary(app, u);
    if (st == KT_ERR_DEFERRED) {
        char when[32];
        time_format_iso8601(err.retry_at_ms, when);
        fprintf(stderr, "keeptrack: sync %s: deferred until %s: %s\n", who, when, err.msg);
        return 1;
    }
    if (st != KT_OK) {
        fprintf(stderr, "keeptrack: sync %s: %s\n", who, err.msg);
        return 1;
    }
    return 0;
}

int cmd_sync(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL;
    char csv[256] = "";
    unsigned what = 0;
    kt_err err = {0};
    kt_app *app = NULL;
    store *s = NULL;
    store_user *users = NULL;
    size_t n = 0;
    int rc = 0, dry_run = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            who = argv[++i];
        } else if (strncmp(argv[i], "--user=", 7) == 0) {
            who = argv[i] + 7;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "keeptrack: sync: unknown option '%s' (see keeptrack sync --help)\n",
                    argv[i]);
            return 2;
        } else if (strlen(csv) + strlen(argv[i]) + 2 < sizeof csv) {
            snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s%s", csv[0] ? "," : "",
                     argv[i]);
        } else {
            fprintf(stderr, "keeptrack: sync: too many collections named\n");
            return 2;
        }
    }
    if (sync_parse_what(csv, &what, &err) != KT_OK) {
        fprintf(stderr, "keeptrack: sync: %s\n", err.msg);
        return 2;
    }
    if (app_open(cfg, 1, &app, &err) != KT_OK)
        return cli_fail("opening keeptrack", &err);
    if (app_db_get(app, &s, &err) != KT_OK) {
        app_close(app);
        return cli_fail("opening the database", &err);
    }
    if (who) {
        if ((users = calloc(1, sizeof *users)) == NULL ||
            cli_find_user(s, who, &users[0], &err) != KT_OK) {
            if (!users)
                err_set(&err, KT_ERR_NOMEM, NULL, "out of memory");
            rc = cli_fail("sync", &err);
        } else {
            n = 1;
        }
    } else if (store_user_list(s, &users, &n, &err) != KT_OK) {
        rc = cli_fail("listing users", &err);
    }
    app_db_put(app, s);
    size_t synced = 0;
    for (size_t i = 0; i < n; i++) {
        /* Without --user, only the accounts that can be synced. */
        if (!who && strcmp(users[i].status, STORE_USER_ACTIVE) != 0)
            continue;
        synced++;
        if ((dry_run ? estimate_user(app, &users[i], what) : sync_user(app, &users[i], what)) != 0)
            rc = 1;
    }
    if (rc == 0 && synced == 0 && !who)
        fprintf(stderr, "keeptrack: sync: no active users (log in through the web UI first)\n");
    store_user_list_free(users, n ? n : (users ? 1 : 0));
    app_close(app);
    return rc;
}

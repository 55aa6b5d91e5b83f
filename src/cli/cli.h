/* cli.h - the keeptrack command line: one table of subcommands (main.c),
 * one file per subcommand (cmd_<name>.c).
 *
 * main() loads the configuration once (config_load: flags > env > file >
 * defaults), validates it as the subcommand requires, and calls the
 * subcommand with what is left of argv (argv[0] is the subcommand's name).
 * A subcommand returns the process exit status: 0 success, 1 failure at run
 * time, 2 bad usage or configuration. Errors go to stderr as one line
 * naming what failed and what to do.
 */
#ifndef KT_CLI_CLI_H
#define KT_CLI_CLI_H

#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "store/store.h"
#include "services/app.h"
#include "store/store_auth.h"

/* How much of the configuration a subcommand needs validated. */
typedef enum cli_validate {
    CLI_VALIDATE_NONE,   /* the subcommand validates itself (demo) */
    CLI_VALIDATE_VALUES, /* values only: no Spotify client id needed */
    CLI_VALIDATE_FULL,   /* everything, including SPOTIFY_CLIENT_ID */
} cli_validate;

typedef struct cli_command {
    const char *name;
    const char *summary;  /* one line for `keeptrack --help` */
    const char *usage;    /* the usage/help text of `keeptrack NAME --help` */
    cli_validate validate;
    int (*run)(kt_config *cfg, int argc, char **argv);
} cli_command;

int cmd_serve(kt_config *cfg, int argc, char **argv);
int cmd_demo(kt_config *cfg, int argc, char **argv);
int cmd_migrate(kt_config *cfg, int argc, char **argv);
int cmd_users(kt_config *cfg, int argc, char **argv);
int cmd_keys(kt_config *cfg, int argc, char **argv);
int cmd_config(kt_config *cfg, int argc, char **argv);
int cmd_backup(kt_config *cfg, int argc, char **argv);
int cmd_restore_backup(kt_config *cfg, int argc, char **argv);
int cmd_sync(kt_config *cfg, int argc, char **argv);
int cmd_shuffle(kt_config *cfg, int argc, char **argv);
int cmd_trending_playlist(kt_config *cfg, int argc, char **argv);
int cmd_fromtops(kt_config *cfg, int argc, char **argv);
int cmd_import_history(kt_config *cfg, int argc, char **argv);
int cmd_export(kt_config *cfg, int argc, char **argv);
int cmd_restore(kt_config *cfg, int argc, char **argv);

/* The user `who` names: a numeric id or a Spotify account id. On KT_OK *out
 * is filled (store_user_clear). KT_ERR_NOT_FOUND (code user_not_found) when
 * neither matches; other store errors as they come. (cli_user.c) */
kt_status cli_find_user(store *s, const char *who, store_user *out, kt_err *err);

/* The id of the user a command works for: `who` as cli_find_user reads it,
 * or (who NULL) the only user - the only active one when active_only (the
 * commands that call Spotify), any status otherwise. KT_ERR_INVALID (code
 * user_required) when who is NULL and there is not exactly one such user.
 * (cli_user.c) */
kt_status cli_pick_user(store *s, const char *who, int active_only, int64_t *out, kt_err *err);

/* Opens keeptrack for a command that works for one user: app_open (with
 * migrations), then cli_pick_user(who, active only). Returns 0 with *app
 * (app_close) and *uid set, or prints what failed (cli_fail, "keeptrack:
 * <command>: ..." for the user) and returns 1 with nothing to close.
 * (cli_user.c) */
int cli_open_for_user(kt_config *cfg, const char *command, const char *who, kt_app **app,
                      int64_t *uid);

/* Prints "keeptrack: <context>: <message>" to stderr; returns 1. */
int cli_fail(const char *context, const kt_err *err);

/* Runs the HTTP server until SIGINT or SIGTERM. `banner`, when not NULL, is
 * called once the server listens, with the URL to open (demo prints its
 * instructions there). SIGINT/SIGTERM must already be blocked in every
 * thread (cli_block_signals before any thread starts). Returns an exit
 * status. */
int cli_serve_until_signal(kt_config *cfg, void (*banner)(void *ctx, const char *url), void *ctx);

/* Blocks SIGINT and SIGTERM in the calling thread (and the threads it will
 * start) so cli_serve_until_signal can sigwait for them. */
void cli_block_signals(void);

/* Replaces an owned string field of the configuration with a copy of v.
 * Returns 0, or 1 when memory runs out. */
int cli_set(char **field, const char *v);

#endif

/* config.h - keeptrack's configuration: one declarative table, many uses.
 *
 * Every option is one field of kt_config plus one row of the table in
 * config.c (flag name, env var, default, type, bounds or enum values, secret
 * flag, help, offsetof). That table drives parsing from the environment, an
 * optional config file and command-line flags, `--help`, validation with
 * messages naming the option and the fix, and a dump that never shows a
 * secret. Adding an option = one field here + one row there.
 *
 * Precedence: flags > environment > config file > defaults. The config file
 * is named by --config PATH / --config=PATH or KEEPTRACK_CONFIG; its lines are
 * `KEY=value` with env-var names as keys ('#' comments, blank lines, optional
 * "export ", optional matching quotes around the value). An empty env var
 * counts as unset.
 *
 * Derived defaults, filled by config_load (or config_resolve) when unset:
 *   data_dir        $XDG_DATA_HOME/keeptrack, else $HOME/.local/share/keeptrack
 *   db              <data_dir>/keeptrack.db
 *   secret_key_file <data_dir>/secret.key
 *   public_url      http://<listen>
 *   backup_dir      <data_dir>/backups
 *
 * Thread use: a kt_config is filled at start-up and read-only afterwards.
 */
#ifndef KT_CORE_CONFIG_H
#define KT_CORE_CONFIG_H

#include <stdio.h>

#include "core/err.h"

typedef struct kt_config {
    /* char * fields are owned (config_free), NULL when unset. */
    char *spotify_client_id;
    char *spotify_client_secret; /* secret; optional (PKCE works without it) */
    char *spotify_redirect_uri;
    char *spotify_accounts_url;  /* no trailing slash */
    char *spotify_api_url;       /* no trailing slash, e.g. https://api.spotify.com/v1 */
    char *spotify_scopes;        /* space-separated */
    char *db;                    /* SQLite file path or postgres:// / postgresql:// URL */
    char *data_dir;
    char *listen;                /* "host:port", "[v6]:port" */
    char *public_url;            /* no trailing slash */
    char *secret_key;            /* secret; base64 of 32 bytes */
    char *secret_key_previous;   /* secret; comma-separated old keys for rotation */
    char *secret_key_file;
    char *admin_token;           /* secret */
    char *log_level;             /* debug|info|warn|error */
    char *log_format;            /* logfmt|json */
    char *ui_path;               /* where the browser lands after login, e.g. "/" */
    char *shuffle_name;          /* name template of shuffled playlists ({source}, {mode}) */
    char *backup_dir;            /* where `keeptrack backup` writes (default <data_dir>/backups) */
    char *backup_rclone_remote;  /* rclone remote for off-site copies, e.g. "gdrive:keeptrack"; NULL = none */
    int backup_keep_daily;       /* retention: newest backup of each of the last N days with backups */
    int backup_keep_weekly;      /* retention: newest backup of each of the last M weeks with backups */
    int backup_interval_hours;   /* scheduled backup period (0 = no scheduled backups) */
    int http_threads;            /* event-loop threads (0 = one per CPU) */
    int http_workers;            /* threads for blocking handlers */
    int http_max_connections;
    int http_idle_timeout; /* seconds */
    int db_pool;
    int session_days;
    int spotify_concurrency;
    int spotify_timeout_ms;
    double spotify_budget;       /* requests per second for the whole app */
    int workers;                 /* job worker threads in `serve` (0 = none) */
    int job_poll_ms;             /* how often idle workers look for due jobs */
    int job_lease_s;             /* a running job whose heartbeat is older is reclaimed */
    int job_retry_base_s;        /* first retry delay; doubles per failed attempt */
    int job_max_defer_s;         /* cap on how far a rate-limited job is pushed back */
    int scheduler;               /* bool: enqueue periodic syncs in `serve` */
    int scheduler_tick_s;        /* how often the scheduler looks for due periods */
    int sync_library_every_s;    /* library sync period (0 = never) */
    int sync_recent_every_s;     /* recently-played poll period (0 = never) */
    int sync_top_every_s;        /* top items snapshot period (0 = never) */
    int stats_every_s;           /* tracker points + stats refresh period (0 = never) */
    int history_min_ms;          /* history import: shorter plays are skipped */
    int share_burst;             /* share links: public reads at once per client and per link */
    int share_rate_per_min;      /* share links: bucket refill per minute */
    int releases_interval_hours; /* scheduled new-release refresh period (0 = on demand only) */
    int releases_window_days;    /* releases older than this age out */
    int releases_recheck_hours;  /* development mode: artists re-checked after this long */
    char *releases_markets;      /* comma-separated markets for /browse/new-releases; NULL = default */
    char *alert_webhook_url;     /* secret (may carry a token); alerts POSTed here; NULL = none */
    char *alert_webhook_format;  /* json|slack|ntfy|gotify: the body's shape */
    char *alert_smtp_url;        /* smtp://host[:port] or smtps://...; NULL = no e-mail */
    char *alert_smtp_user;       /* SMTP login; NULL = none */
    char *alert_smtp_password;   /* secret */
    int alert_smtp_starttls;     /* bool: require STARTTLS on smtp:// */
    char *alert_email_from;      /* sender address of alert e-mails */
    char *alert_email_to;        /* default recipient (a user may set their own) */
    int alert_login_warn_days;   /* warn this many days before the refresh token's end */
    int alert_quota_after_s;     /* a sync deferred by quota this long raises an alert */
    int alert_delivery_attempts; /* tries per alert and channel (backoff as jobs) */
    char *config_file;           /* the file that was read, if any */
} kt_config;

/* Sets every field to its static default (derived defaults stay NULL until
 * config_resolve). Allocation failures leave the field NULL and are reported
 * by config_validate. Overwrites c without freeing it. */
void config_init(kt_config *c);

/* Applies the config file, the environment and the known flags of argv, in
 * that order, then config_resolve. Known flags (--name value, --name=value,
 * and --name alone for booleans) are removed from argv and *argc updated
 * (argv[*argc] stays NULL); unknown arguments, and everything after "--", are
 * left in order for the subcommand. KT_ERR_INVALID for a flag without its
 * value, an unreadable/unknown key in the config file (with file:line), or a
 * value that does not parse as its type (naming the option). Values are
 * range-checked by config_validate, not here. argc/argv may be NULL (no flags). */
kt_status config_load(kt_config *c, int *argc, char **argv, kt_err *err);

/* Fills the derived defaults listed above that are still NULL. KT_ERR_INVALID
 * when neither XDG_DATA_HOME nor HOME is set and data_dir is not given. */
kt_status config_resolve(kt_config *c, kt_err *err);

/* Checks every value (types, bounds, enums, URLs, redirect URI rules, key
 * format, admin token length) and that SPOTIFY_CLIENT_ID is set. The first
 * problem is returned as KT_ERR_INVALID with a message naming the option (env
 * var and flag) and the fix. */
kt_status config_validate(const kt_config *c, kt_err *err);

/* Same as config_validate without requiring the Spotify client id (for
 * commands such as `migrate` or `keys` that never talk to Spotify). */
kt_status config_validate_values(const kt_config *c, kt_err *err);

/* Prints one paragraph per option: flag, env var, default, help. */
void config_print_help(FILE *f);

/* Prints "ENV_VAR = value" per option; secrets as "(set)" or "(unset)". */
void config_dump(FILE *f, const kt_config *c);

/* Frees the owned strings and zeroes c (secrets wiped first). c may be NULL. */
void config_free(kt_config *c);

#endif

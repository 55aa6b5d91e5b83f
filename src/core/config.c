/* config.c - the option table and everything it drives (see config.h).
 *
 * To add an option: add a field to kt_config and one row to `options`
 * below. The row's type decides parsing, storage (char * for text types,
 * int for int/bool, double for double) and validation; `check` adds rules a
 * type cannot express.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/fsutil.h"
#include "core/url.h"

#define CONFIG_FILE_MAX (1 << 20)
#define CONFIG_LINE_MAX 4096
#define ADMIN_TOKEN_MIN 16

typedef enum opt_type { OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_URL, OPT_LISTEN, OPT_ENUM } opt_type;

typedef struct opt opt;
struct opt {
    const char *flag;    /* without the leading "--" */
    const char *env;     /* env var, also the key in config files */
    const char *dflt;    /* default as text; NULL = none */
    opt_type type;
    double min, max;     /* OPT_INT / OPT_DOUBLE bounds (inclusive) */
    const char *choices; /* OPT_ENUM: "a|b|c" */
    int secret;          /* never printed; "(set)" in dumps */
    int derived;         /* dflt is a description filled by config_resolve */
    kt_status (*check)(const opt *o, const char *value, kt_err *err);
    const char *help;
    size_t off;          /* offsetof(kt_config, field) */
};

static kt_status check_token(const opt *o, const char *v, kt_err *err);
static kt_status check_redirect(const opt *o, const char *v, kt_err *err);
static kt_status check_scopes(const opt *o, const char *v, kt_err *err);
static kt_status check_ui_path(const opt *o, const char *v, kt_err *err);
static kt_status check_key(const opt *o, const char *v, kt_err *err);
static kt_status check_old_keys(const opt *o, const char *v, kt_err *err);
static kt_status check_admin_token(const opt *o, const char *v, kt_err *err);
static kt_status check_db(const opt *o, const char *v, kt_err *err);
static kt_status check_markets(const opt *o, const char *v, kt_err *err);
static kt_status check_rclone_remote(const opt *o, const char *v, kt_err *err);
static kt_status check_webhook_url(const opt *o, const char *v, kt_err *err);
static kt_status check_smtp_url(const opt *o, const char *v, kt_err *err);
static kt_status check_address(const opt *o, const char *v, kt_err *err);

#define F(field) offsetof(kt_config, field)
#define DEFAULT_SCOPES                                                                          \
    "user-read-private user-library-read user-library-modify playlist-read-private "          \
    "playlist-read-collaborative playlist-modify-private playlist-modify-public "              \
    "user-follow-read user-top-read user-read-recently-played"

static const opt options[] = {
    {"spotify-client-id", "SPOTIFY_CLIENT_ID", NULL, OPT_STRING, 0, 0, NULL, 0, 0, check_token,
     "Client ID of your Spotify app (developer.spotify.com/dashboard).", F(spotify_client_id)},
    {"spotify-client-secret", "SPOTIFY_CLIENT_SECRET", NULL, OPT_STRING, 0, 0, NULL, 1, 0, check_token,
     "Client secret of your Spotify app; optional, PKCE works without it. Prefer the env var.",
     F(spotify_client_secret)},
    {"spotify-redirect-uri", "SPOTIFY_REDIRECT_URI", "http://127.0.0.1:8080/api/auth/callback", OPT_URL, 0, 0,
     NULL, 0, 0, check_redirect,
     "Redirect URI registered with your Spotify app: http://127.0.0.1:PORT/..., http://[::1]:PORT/... or https.",
     F(spotify_redirect_uri)},
    {"spotify-accounts-url", "SPOTIFY_ACCOUNTS_URL", "https://accounts.spotify.com", OPT_URL, 0, 0, NULL, 0, 0,
     NULL, "Base URL of the Spotify accounts service (the emulator's in tests).", F(spotify_accounts_url)},
    {"spotify-api-url", "SPOTIFY_API_URL", "https://api.spotify.com/v1", OPT_URL, 0, 0, NULL, 0, 0, NULL,
     "Base URL of the Spotify Web API (the emulator's in tests).", F(spotify_api_url)},
    {"spotify-scopes", "SPOTIFY_SCOPES", DEFAULT_SCOPES, OPT_STRING, 0, 0, NULL, 0, 0, check_scopes,
     "Space-separated OAuth scopes requested at login.", F(spotify_scopes)},
    {"data-dir", "KEEPTRACK_DATA_DIR", "$XDG_DATA_HOME/keeptrack or ~/.local/share/keeptrack", OPT_STRING, 0, 0,
     NULL, 0, 1, NULL, "Directory for the database, key file and backups.", F(data_dir)},
    {"db", "KEEPTRACK_DB", "<data-dir>/keeptrack.db", OPT_STRING, 0, 0, NULL, 0, 1, check_db,
     "SQLite database file, or a postgres:// URL for PostgreSQL.", F(db)},
    {"listen", "KEEPTRACK_LISTEN", "127.0.0.1:8080", OPT_LISTEN, 0, 0, NULL, 0, 0, NULL,
     "Address the web server listens on: HOST:PORT or [IPv6]:PORT (port 0 = any free port; then set KEEPTRACK_PUBLIC_URL).",
     F(listen)},
    {"public-url", "KEEPTRACK_PUBLIC_URL", "http://<listen>", OPT_URL, 0, 0, NULL, 0, 1, NULL,
     "URL users reach keeptrack at; https makes cookies Secure.", F(public_url)},
    {"secret-key", "KEEPTRACK_SECRET_KEY", NULL, OPT_STRING, 0, 0, NULL, 1, 0, check_key,
     "Token encryption key (32 bytes, base64); when unset the key file is used. Prefer the env var.",
     F(secret_key)},
    {"secret-key-previous", "KEEPTRACK_SECRET_KEY_PREVIOUS", NULL, OPT_STRING, 0, 0, NULL, 1, 0, check_old_keys,
     "Comma-separated old keys still accepted for reading while `keeptrack keys rotate` reseals.",
     F(secret_key_previous)},
    {"secret-key-file", "KEEPTRACK_SECRET_KEY_FILE", "<data-dir>/secret.key", OPT_STRING, 0, 0, NULL, 0, 1, NULL,
     "Key file (created 0600 on first run) used when KEEPTRACK_SECRET_KEY is unset.", F(secret_key_file)},
    {"admin-token", "KEEPTRACK_ADMIN_TOKEN", NULL, OPT_STRING, 0, 0, NULL, 1, 0, check_admin_token,
     "Bearer token for admin/cron endpoints (at least 16 characters); admin API disabled when unset.",
     F(admin_token)},
    {"log-level", "KEEPTRACK_LOG_LEVEL", "info", OPT_ENUM, 0, 0, "debug|info|warn|error", 0, 0, NULL,
     "Minimum level logged.", F(log_level)},
    {"log-format", "KEEPTRACK_LOG_FORMAT", "logfmt", OPT_ENUM, 0, 0, "logfmt|json", 0, 0, NULL,
     "Log line format.", F(log_format)},
    {"http-threads", "KEEPTRACK_HTTP_THREADS", "0", OPT_INT, 0, 256, NULL, 0, 0, NULL,
     "Event-loop threads of the web server (0 = one per CPU); each serves thousands of connections.",
     F(http_threads)},
    {"http-workers", "KEEPTRACK_HTTP_WORKERS", "16", OPT_INT, 1, 1024, NULL, 0, 0, NULL,
     "Threads that run requests which may block (Spotify, database, uploads, exports); when all are busy "
     "up to 1024 more wait, and further ones get 503 with Retry-After.",
     F(http_workers)},
    {"http-max-connections", "KEEPTRACK_HTTP_MAX_CONNECTIONS", "16384", OPT_INT, 16, 1000000, NULL, 0, 0, NULL,
     "Connections open at once, idle keep-alive ones included; lowered to fit the descriptor limit "
     "(RLIMIT_NOFILE, raised to its hard limit at start: raise that, e.g. LimitNOFILE= in systemd, for more).",
     F(http_max_connections)},
    {"http-idle-timeout", "KEEPTRACK_HTTP_IDLE_TIMEOUT", "30", OPT_INT, 1, 3600, NULL, 0, 0, NULL,
     "Seconds a connection may stay idle (a keep-alive one between requests, or a client that stopped "
     "sending) before it is closed.",
     F(http_idle_timeout)},
    {"db-pool", "KEEPTRACK_DB_POOL", "8", OPT_INT, 1, 256, NULL, 0, 0, NULL, "Database connections in the pool.",
     F(db_pool)},
    {"session-days", "KEEPTRACK_SESSION_DAYS", "30", OPT_INT, 1, 3650, NULL, 0, 0, NULL,
     "Days a login session lasts without use (sliding expiry).", F(session_days)},
    {"spotify-concurrency", "KEEPTRACK_SPOTIFY_CONCURRENCY", "8", OPT_INT, 1, 64, NULL, 0, 0, NULL,
     "Spotify requests in flight at once per user (shared by that user's jobs in this process).",
     F(spotify_concurrency)},
    {"spotify-budget", "KEEPTRACK_SPOTIFY_BUDGET", "10", OPT_DOUBLE, 0.01, 1000, NULL, 0, 0, NULL,
     "Spotify requests per second for the whole app (token bucket).", F(spotify_budget)},
    {"spotify-timeout-ms", "KEEPTRACK_SPOTIFY_TIMEOUT_MS", "30000", OPT_INT, 100, 600000, NULL, 0, 0, NULL,
     "Timeout of one Spotify request, in milliseconds.", F(spotify_timeout_ms)},
    {"workers", "KEEPTRACK_WORKERS", "2", OPT_INT, 0, 64, NULL, 0, 0, NULL,
     "Job worker threads in `keeptrack serve` (sync, shuffle, backup...); 0 runs no jobs here.",
     F(workers)},
    {"job-poll-ms", "KEEPTRACK_JOB_POLL_MS", "1000", OPT_INT, 10, 600000, NULL, 0, 0, NULL,
     "How often idle workers look for due jobs, in ms (jobs enqueued by this process wake them at once).",
     F(job_poll_ms)},
    {"job-lease-s", "KEEPTRACK_JOB_LEASE_S", "60", OPT_INT, 2, 3600, NULL, 0, 0, NULL,
     "A running job whose worker has not sent a heartbeat for this long is handed to another worker.",
     F(job_lease_s)},
    {"job-retry-base-s", "KEEPTRACK_JOB_RETRY_BASE_S", "30", OPT_INT, 1, 86400, NULL, 0, 0, NULL,
     "Delay before retrying a failed job; doubles with every failed attempt (capped at 6 h).",
     F(job_retry_base_s)},
    {"job-max-defer-s", "KEEPTRACK_JOB_MAX_DEFER_S", "86400", OPT_INT, 1, 604800, NULL, 0, 0, NULL,
     "Longest a rate-limited (429, QUOTA_EXCEEDED) job is put aside before it tries again.",
     F(job_max_defer_s)},
    {"scheduler", "KEEPTRACK_SCHEDULER", "true", OPT_BOOL, 0, 0, NULL, 0, 0, NULL,
     "Enqueue periodic syncs for every active user from `keeptrack serve`.", F(scheduler)},
    {"scheduler-tick-s", "KEEPTRACK_SCHEDULER_TICK_S", "60", OPT_INT, 1, 3600, NULL, 0, 0, NULL,
     "How often the scheduler looks for periods that are due.", F(scheduler_tick_s)},
    {"sync-library-every-s", "KEEPTRACK_SYNC_LIBRARY_EVERY_S", "21600", OPT_INT, 0, 31536000, NULL, 0, 0,
     NULL, "Library sync period in seconds (liked songs, playlists, albums, shows, following); 0 = never.",
     F(sync_library_every_s)},
    {"sync-recent-every-s", "KEEPTRACK_SYNC_RECENT_EVERY_S", "1800", OPT_INT, 0, 31536000, NULL, 0, 0, NULL,
     "Recently-played poll period in seconds; 0 = never.", F(sync_recent_every_s)},
    {"sync-top-every-s", "KEEPTRACK_SYNC_TOP_EVERY_S", "86400", OPT_INT, 0, 31536000, NULL, 0, 0, NULL,
     "Top tracks/artists snapshot period in seconds; 0 = never.", F(sync_top_every_s)},
    {"stats-every-s", "KEEPTRACK_STATS_EVERY_S", "86400", OPT_INT, 0, 31536000, NULL, 0, 0, NULL,
     "Period in seconds of each user's tracker point and stats refresh (artist genres, audio "
     "features); 0 = never (POST /api/admin/trackers/update and POST /api/stats/refresh still work).",
     F(stats_every_s)},
    {"history-min-ms", "KEEPTRACK_HISTORY_MIN_MS", "30000", OPT_INT, 0, 3600000, NULL, 0, 0, NULL,
     "History import: plays shorter than this many ms are skipped (Spotify counts a stream at 30 s).",
     F(history_min_ms)},
    {"share-burst", "KEEPTRACK_SHARE_BURST", "30", OPT_INT, 1, 100000, NULL, 0, 0, NULL,
     "Share links: public reads one client address, and one link, may make at once.",
     F(share_burst)},
    {"share-rate-per-min", "KEEPTRACK_SHARE_RATE_PER_MIN", "60", OPT_INT, 1, 600000, NULL, 0, 0,
     NULL, "Share links: how fast those allowances refill, in requests per minute.",
     F(share_rate_per_min)},
    {"alert-webhook-url", "KEEPTRACK_ALERT_WEBHOOK_URL", NULL, OPT_STRING, 0, 0, NULL, 1, 0,
     check_webhook_url,
     "Alerts: http(s) URL each new alert is POSTed to as JSON (ntfy, Gotify, Slack or your own); "
     "treated as a secret (it may carry a token). Unset = no webhook.",
     F(alert_webhook_url)},
    {"alert-webhook-format", "KEEPTRACK_ALERT_WEBHOOK_FORMAT", "json", OPT_ENUM, 0, 0,
     "json|slack|ntfy|gotify", 0, 0, NULL,
     "Alerts: the webhook body's shape (json: keeptrack's object; slack: {text}; ntfy: "
     "{topic,title,message} with the topic from the URL's path; gotify: {title,message,priority}).",
     F(alert_webhook_format)},
    {"alert-smtp-url", "KEEPTRACK_ALERT_SMTP_URL", NULL, OPT_STRING, 0, 0, NULL, 0, 0, check_smtp_url,
     "Alerts: SMTP server for e-mail, smtp://HOST[:PORT] or smtps://HOST[:PORT] (no credentials "
     "in it). Unset = no e-mail.",
     F(alert_smtp_url)},
    {"alert-smtp-user", "KEEPTRACK_ALERT_SMTP_USER", NULL, OPT_STRING, 0, 0, NULL, 0, 0, NULL,
     "Alerts: SMTP login name; unset = no login.", F(alert_smtp_user)},
    {"alert-smtp-password", "KEEPTRACK_ALERT_SMTP_PASSWORD", NULL, OPT_STRING, 0, 0, NULL, 1, 0, NULL,
     "Alerts: SMTP password (prefer the env var; never logged).", F(alert_smtp_password)},
    {"alert-smtp-starttls", "KEEPTRACK_ALERT_SMTP_STARTTLS", "false", OPT_BOOL, 0, 0, NULL, 0, 0, NULL,
     "Alerts: require STARTTLS on an smtp:// server (smtps:// is TLS from the start).",
     F(alert_smtp_starttls)},
    {"alert-email-from", "KEEPTRACK_ALERT_EMAIL_FROM", "keeptrack@localhost", OPT_STRING, 0, 0, NULL,
     0, 0, check_address, "Alerts: the e-mails' sender address.", F(alert_email_from)},
    {"alert-email-to", "KEEPTRACK_ALERT_EMAIL_TO", NULL, OPT_STRING, 0, 0, NULL, 0, 0, check_address,
     "Alerts: where e-mails go unless a user set their own address (instance alerts, such as a "
     "failed backup, always go here).",
     F(alert_email_to)},
    {"alert-login-warn-days", "KEEPTRACK_ALERT_LOGIN_WARN_DAYS", "14", OPT_INT, 1, 182, NULL, 0, 0,
     NULL, "Alerts: warn this many days before a login's refresh token reaches Spotify's 6 months.",
     F(alert_login_warn_days)},
    {"alert-quota-after-s", "KEEPTRACK_ALERT_QUOTA_AFTER_S", "86400", OPT_INT, 0, 31536000, NULL, 0,
     0, NULL, "Alerts: a sync put aside by Spotify's quota (QUOTA_EXCEEDED) for this long raises one.",
     F(alert_quota_after_s)},
    {"alert-delivery-attempts", "KEEPTRACK_ALERT_DELIVERY_ATTEMPTS", "5", OPT_INT, 1, 20, NULL, 0, 0,
     NULL, "Alerts: tries per alert and channel, spaced as failed jobs (KEEPTRACK_JOB_RETRY_BASE_S, "
     "doubling).",
     F(alert_delivery_attempts)},
    {"releases-interval-hours", "KEEPTRACK_RELEASES_INTERVAL_HOURS", "24", OPT_INT, 0, 8760, NULL, 0, 0,
     NULL, "Hours between scheduled new-release refreshes; 0 = only on demand.",
     F(releases_interval_hours)},
    {"releases-window-days", "KEEPTRACK_RELEASES_WINDOW_DAYS", "28", OPT_INT, 1, 3650, NULL, 0, 0, NULL,
     "Releases older than this many days are not kept (they age out).", F(releases_window_days)},
    {"releases-recheck-hours", "KEEPTRACK_RELEASES_RECHECK_HOURS", "20", OPT_INT, 0, 8760, NULL, 0, 0,
     NULL, "Development mode: an artist's albums are fetched again only after this many hours.",
     F(releases_recheck_hours)},
    {"releases-markets", "KEEPTRACK_RELEASES_MARKETS", NULL, OPT_STRING, 0, 0, NULL, 0, 0, check_markets,
     "Extended quota: comma-separated markets (ISO 3166-1 alpha-2, e.g. US,GB) whose new releases are "
     "read; unset = Spotify's default market.",
     F(releases_markets)},
    {"ui-path", "KEEPTRACK_UI_PATH", "/", OPT_STRING, 0, 0, NULL, 0, 0, check_ui_path,
     "Path the browser lands on after login.", F(ui_path)},
    {"shuffle-name", "KEEPTRACK_SHUFFLE_NAME", "{source} (shuffled)", OPT_STRING, 0, 0, NULL, 0, 0, NULL,
     "Name of shuffled playlists: {source} = the source's name, {mode} = uniform|spread.", F(shuffle_name)},
    {"backup-dir", "KEEPTRACK_BACKUP_DIR", "<data-dir>/backups", OPT_STRING, 0, 0, NULL, 0, 1, NULL,
     "Directory for database backups (keeptrack-YYYYMMDDTHHMMSSZ.sqlite|.pgdump + .sha256).", F(backup_dir)},
    {"backup-keep-daily", "KEEPTRACK_BACKUP_KEEP_DAILY", "7", OPT_INT, 0, 3650, NULL, 0, 0, NULL,
     "Backups kept: the newest of each of the last N days that have one.", F(backup_keep_daily)},
    {"backup-keep-weekly", "KEEPTRACK_BACKUP_KEEP_WEEKLY", "4", OPT_INT, 0, 520, NULL, 0, 0, NULL,
     "Backups kept: the newest of each of the last M ISO weeks that have one.", F(backup_keep_weekly)},
    {"backup-rclone-remote", "KEEPTRACK_BACKUP_RCLONE_REMOTE", NULL, OPT_STRING, 0, 0, NULL, 0, 0,
     check_rclone_remote,
     "rclone remote (and folder) each backup is copied to, e.g. gdrive:keeptrack; unset = no off-site copy.",
     F(backup_rclone_remote)},
    {"backup-interval-hours", "KEEPTRACK_BACKUP_INTERVAL_HOURS", "24", OPT_INT, 0, 8760, NULL, 0, 0, NULL,
     "Hours between scheduled backups made by `keeptrack serve`; 0 = none.", F(backup_interval_hours)},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static char **str_field(kt_config *c, const opt *o)
{
    return (char **)((char *)c + o->off);
}

static char *const *cstr_field(const kt_config *c, const opt *o)
{
    return (char *const *)((const char *)c + o->off);
}

static int is_text(opt_type t)
{
    return t == OPT_STRING || t == OPT_URL || t == OPT_LISTEN || t == OPT_ENUM;
}

/* "SPOTIFY_CLIENT_ID (--spotify-client-id)" for messages. */
static const char *opt_name(const opt *o, char out[128])
{
    snprintf(out, 128, "%s (--%s)", o->env, o->flag);
    return out;
}

static void wipe_str(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Stores text v into the option's field, converting by type. `source` names
 * where v came from (env var, flag or file:line) for messages. Numbers are
 * only parsed here; bounds are config_validate's job. */
static kt_status set_value(kt_config *c, const opt *o, const char *v, const char *source, kt_err *err)
{
    char *end = NULL;
    errno = 0;
    if (is_text(o->type)) {
        char *dup = strdup(v);
        if (!dup)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        char **f = str_field(c, o);
        wipe_str(*f);
        *f = dup;
    } else if (o->type == OPT_INT) {
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < INT_MIN || n > INT_MAX)
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s: '%.40s' is not a whole number", source, v);
        *(int *)((char *)c + o->off) = (int)n;
    } else if (o->type == OPT_DOUBLE) {
        double d = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(d))
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s: '%.40s' is not a number", source, v);
        *(double *)((char *)c + o->off) = d;
    } else {
        int b;
        if (parse_bool(v, &b) != 0)
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s: '%.40s' is not true or false", source, v);
        *(int *)((char *)c + o->off) = b;
    }
    return KT_OK;
}

void config_init(kt_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].dflt && !options[i].derived)
            (void)set_value(c, &options[i], options[i].dflt, "default", NULL);
}

void config_free(kt_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (is_text(options[i].type))
            wipe_str(*str_field(c, &options[i]));
    free(c->config_file);
    memset(c, 0, sizeof *c);
}

static const opt *find_by_env(const char *env, size_t n)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].env) == n && strncmp(options[i].env, env, n) == 0)
            return &options[i];
    return NULL;
}

static const opt *find_by_flag(const char *flag, size_t n)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].flag) == n && strncmp(options[i].flag, flag, n) == 0)
            return &options[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* One "KEY=value" line of a config file (already NUL-terminated). */
static kt_status apply_file_line(kt_config *c, const char *path, int lineno, char *line, kt_err *err)
{
    char *s = trim(line), source[160];
    if (!*s || *s == '#')
        return KT_OK;
    if (strncmp(s, "export ", 7) == 0)
        s = trim(s + 7);
    char *eq = strchr(s, '=');
    if (!eq)
        return err_set(err, KT_ERR_INVALID, "bad_config", "%s:%d: expected KEY=value", path, lineno);
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t vn = strlen(val);
    if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0])
        val[vn - 1] = '\0', val++;
    const opt *o = find_by_env(key, strlen(key));
    if (!o)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s:%d: unknown setting '%.60s' (keys are env-var names, see keeptrack --help)", path,
                       lineno, key);
    snprintf(source, sizeof source, "%s:%d (%s)", path, lineno, o->env);
    return set_value(c, o, val, source, err);
}

static kt_status load_file(kt_config *c, const char *path, kt_err *err)
{
    char *text = NULL;
    kt_status st = fs_read_file(path, CONFIG_FILE_MAX, &text, NULL, err);
    if (st != KT_OK) {
        if (err)
            err->status = KT_ERR_INVALID; /* a missing file is a configuration mistake */
        err_prefix(err, "config file (--config / KEEPTRACK_CONFIG)");
        return KT_ERR_INVALID;
    }
    int lineno = 0;
    for (char *p = text; *p && st == KT_OK;) {
        size_t n = strcspn(p, "\n");
        lineno++;
        if (n > CONFIG_LINE_MAX) {
            st = err_set(err, KT_ERR_INVALID, "bad_config", "%s:%d: line longer than %d bytes", path, lineno,
                         CONFIG_LINE_MAX);
            break;
        }
        char *next = p[n] ? p + n + 1 : p + n;
        p[n] = '\0';
        st = apply_file_line(c, path, lineno, p, err);
        p = next;
    }
    sodium_memzero(text, strlen(text)); /* it may hold secrets */
    free(text);
    return st;
}

static kt_status apply_env(kt_config *c, kt_err *err)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = getenv(options[i].env);
        if (v && *v) {
            kt_status st = set_value(c, &options[i], v, options[i].env, err);
            if (st != KT_OK)
                return st;
        }
    }
    return KT_OK;
}

/* Finds --config PATH / --config=PATH in argv (before "--"), or NULL. */
static const char *config_path_from_argv(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

/* Applies and removes the flags argv[1..] that are ours. */
static kt_status apply_flags(kt_config *c, int *argc, char **argv, kt_err *err)
{
    int out = 1, i = 1;
    kt_status st = KT_OK;
    for (; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0) {
            argv[out++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        int is_config = n == 6 && strncmp(name, "config", 6) == 0;
        const opt *o = is_config ? NULL : find_by_flag(name, n);
        if (!o && !is_config) {
            argv[out++] = argv[i];
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && o && o->type == OPT_BOOL)
            v = "true";
        if (!v) {
            if (i + 1 >= *argc)
                return err_set(err, KT_ERR_INVALID, "bad_config", "--%.*s needs a value", (int)n, name);
            v = argv[++i];
        }
        if (o) {
            char source[80];
            snprintf(source, sizeof source, "--%s", o->flag);
            if ((st = set_value(c, o, v, source, err)) != KT_OK)
                return st;
        }
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    *argc = out;
    argv[out] = NULL;
    return KT_OK;
}

kt_status config_load(kt_config *c, int *argc, char **argv, kt_err *err)
{
    int have_argv = argc && argv && *argc > 0;
    const char *path = have_argv ? config_path_from_argv(*argc, argv) : NULL;
    if (!path || !*path)
        path = getenv("KEEPTRACK_CONFIG");
    kt_status st;
    if (path && *path) {
        free(c->config_file);
        if (!(c->config_file = strdup(path)))
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        if ((st = load_file(c, c->config_file, err)) != KT_OK)
            return st;
    }
    if ((st = apply_env(c, err)) != KT_OK)
        return st;
    if (have_argv && (st = apply_flags(c, argc, argv, err)) != KT_OK)
        return st;
    return config_resolve(c, err);
}

/* Sets an unset field to a + b. */
static kt_status set_derived(char **field, kt_err *err, const char *a, const char *b)
{
    if (*field)
        return KT_OK;
    if (asprintf(field, "%s%s", a, b) < 0) {
        *field = NULL;
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    }
    return KT_OK;
}

static void strip_trailing_slash(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 1 && s[n - 1] == '/' && s[n - 2] != '/')
        s[--n] = '\0';
}

kt_status config_resolve(kt_config *c, kt_err *err)
{
    kt_status st = KT_OK;
    if (!c->data_dir) {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            st = set_derived(&c->data_dir, err, xdg, "/keeptrack");
        else if (home && *home)
            st = set_derived(&c->data_dir, err, home, "/.local/share/keeptrack");
        else
            return err_set(err, KT_ERR_INVALID, "bad_config",
                           "KEEPTRACK_DATA_DIR (--data-dir) is not set and neither is HOME: set KEEPTRACK_DATA_DIR");
    }
    if (st == KT_OK)
        st = set_derived(&c->db, err, c->data_dir, "/keeptrack.db");
    if (st == KT_OK)
        st = set_derived(&c->secret_key_file, err, c->data_dir, "/secret.key");
    if (st == KT_OK && c->listen)
        st = set_derived(&c->public_url, err, "http://", c->listen);
    if (st == KT_OK)
        st = set_derived(&c->backup_dir, err, c->data_dir, "/backups");
    strip_trailing_slash(c->spotify_accounts_url);
    strip_trailing_slash(c->spotify_api_url);
    strip_trailing_slash(c->public_url);
    return st;
}

/* --- validation ----------------------------------------------------------- */

static kt_status check_token(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    size_t n = strlen(v);
    if (n == 0 || n > 256)
        return err_set(err, KT_ERR_INVALID, "bad_config", "%s must be 1..256 characters: copy it from your "
                       "app's page at developer.spotify.com", opt_name(o, nm));
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)v[i]))
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s contains a space or control character: copy "
                           "it again from developer.spotify.com", opt_name(o, nm));
    return KT_OK;
}

static kt_status check_redirect(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    url_parts u;
    if (url_split(v, &u, NULL) != KT_OK)
        return KT_OK; /* the URL type check reports it */
    if (strcmp(u.scheme, "https") == 0)
        return KT_OK;
    if (strcasecmp(u.host, "localhost") == 0)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s uses localhost, which Spotify no longer accepts for redirect URIs: use "
                       "http://127.0.0.1:PORT/api/auth/callback (and register that URI in your Spotify app)",
                       opt_name(o, nm));
    if (strcmp(u.host, "127.0.0.1") != 0 && !(u.ipv6 && strcmp(u.host, "::1") == 0))
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be https, or http on the loopback address (http://127.0.0.1:PORT/... or "
                       "http://[::1]:PORT/...): Spotify refuses other http redirect URIs",
                       opt_name(o, nm));
    return KT_OK;
}

static kt_status check_scopes(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    for (const char *p = v; *p; p++)
        if (!islower((unsigned char)*p) && *p != '-' && *p != ' ')
            return err_set(err, KT_ERR_INVALID, "bad_config",
                           "%s must be space-separated scope names such as user-library-read", opt_name(o, nm));
    return KT_OK;
}

static kt_status check_ui_path(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    int ok = v[0] == '/' && v[1] != '/' && v[1] != '\\';
    for (const char *p = v; ok && *p; p++)
        ok = isgraph((unsigned char)*p) && *p != '\\';
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be a path on this site starting with a single '/', e.g. /", opt_name(o, nm));
    return KT_OK;
}

static kt_status check_key(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    if (!vault_key_valid(v))
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be 32 bytes in standard base64 (44 characters): generate one with "
                       "`keeptrack keys generate` or `openssl rand -base64 32`",
                       opt_name(o, nm));
    return KT_OK;
}

static kt_status check_old_keys(const opt *o, const char *v, kt_err *err)
{
    char nm[128], one[128];
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ",");
        if (n >= sizeof one)
            return check_key(o, "", err);
        memcpy(one, p, n);
        one[n] = '\0';
        kt_status st = check_key(o, trim(one), NULL);
        sodium_memzero(one, sizeof one);
        if (st != KT_OK)
            return err_set(err, KT_ERR_INVALID, "bad_config",
                           "%s must be comma-separated keys, each 32 bytes in standard base64 (44 characters)",
                           opt_name(o, nm));
        p += n;
        if (*p)
            p++;
    }
    return KT_OK;
}

static kt_status check_admin_token(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    size_t n = strlen(v);
    if (n < ADMIN_TOKEN_MIN)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s is too short (%zu characters): use at least %d random characters, e.g. "
                       "`openssl rand -hex 32`",
                       opt_name(o, nm), n, ADMIN_TOKEN_MIN);
    return check_token(o, v, err);
}

static kt_status check_db(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    if (!*v)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s is empty: give a SQLite file path or a postgres:// URL", opt_name(o, nm));
    return KT_OK;
}

/* A remote as rclone names it ("name:" or "name:path"); it goes on rclone's
 * command line after "--", but a leading '-' is refused all the same. */
/* The webhook URL may carry a secret token, so a refusal never echoes it. */
static kt_status check_webhook_url(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    int ok = (strncmp(v, "http://", 7) == 0 && v[7]) || (strncmp(v, "https://", 8) == 0 && v[8]);
    for (const char *p = v; ok && *p; p++)
        ok = !iscntrl((unsigned char)*p) && *p != ' ';
    if (!ok || strlen(v) > 2048)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be an http:// or https:// URL of at most 2048 characters "
                       "(the value is not shown: it may hold a token)",
                       opt_name(o, nm));
    return KT_OK;
}

/* smtp:// or smtps://, a host, no credentials (they have their own
 * options, so the password never sits in a URL that might be shown). */
static kt_status check_smtp_url(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    const char *h = strncmp(v, "smtp://", 7) == 0    ? v + 7
                    : strncmp(v, "smtps://", 8) == 0 ? v + 8
                                                     : NULL;
    int ok = h && *h && *h != '/' && !strchr(v, '@') && strlen(v) <= 1024;
    for (const char *p = v; ok && *p; p++)
        ok = !iscntrl((unsigned char)*p) && *p != ' ';
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be smtp://HOST[:PORT] or smtps://HOST[:PORT] without a user or "
                       "password (set KEEPTRACK_ALERT_SMTP_USER and KEEPTRACK_ALERT_SMTP_PASSWORD)",
                       opt_name(o, nm));
    return KT_OK;
}

/* An e-mail address: one '@' with text on both sides, no spaces, angle
 * brackets, commas or control characters (it goes into SMTP commands and
 * headers). */
static kt_status check_address(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    const char *at = strchr(v, '@');
    int ok = at && at > v && at[1] && !strchr(at + 1, '@') && strlen(v) <= 254;
    for (const char *p = v; ok && *p; p++)
        ok = (unsigned char)*p > ' ' && *p != '<' && *p != '>' && *p != ',' && *p != 127;
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be one e-mail address such as you@example.org", opt_name(o, nm));
    return KT_OK;
}

static kt_status check_rclone_remote(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    const char *colon = strchr(v, ':');
    int ok = v[0] != '-' && colon && colon > v && strlen(v) <= 1024;
    for (const char *p = v; ok && *p; p++)
        ok = !iscntrl((unsigned char)*p);
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be an rclone remote such as gdrive:keeptrack (a remote name from "
                       "`rclone config`, a colon, then an optional folder)",
                       opt_name(o, nm));
    return KT_OK;
}

/* Up to 32 comma-separated two-letter upper-case market codes: they go into
 * request URLs, so nothing else is let through. */
static kt_status check_markets(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    size_t n = strlen(v);
    int ok = n >= 2 && n <= 32 * 3;
    for (size_t i = 0; ok && i < n; i += 3)
        ok = isupper((unsigned char)v[i]) && i + 1 < n && isupper((unsigned char)v[i + 1]) &&
             (i + 2 == n || v[i + 2] == ',');
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be comma-separated market codes such as US,GB (ISO 3166-1 "
                       "alpha-2, upper case, at most 32)",
                       opt_name(o, nm));
    return KT_OK;
}

static kt_status check_listen(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    const char *colon = strrchr(v, ':');
    int ok = colon && colon > v && colon[1];
    if (ok && v[0] == '[')
        ok = colon[-1] == ']' && colon - v > 2;
    else if (ok)
        ok = memchr(v, ':', (size_t)(colon - v)) == NULL; /* IPv6 needs brackets */
    long port = 0;
    for (const char *p = colon ? colon + 1 : ""; ok && *p; p++)
        ok = isdigit((unsigned char)*p) && (port = port * 10 + (*p - '0')) <= 65535;
    if (!ok)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be HOST:PORT (e.g. 127.0.0.1:8080, or [::1]:8080 for IPv6), got '%.80s'",
                       opt_name(o, nm), v);
    return KT_OK;
}

static kt_status check_enum(const opt *o, const char *v, kt_err *err)
{
    char nm[128];
    size_t n = strlen(v);
    for (const char *p = o->choices; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, v, n) == 0)
            return KT_OK;
        p += len;
        if (*p)
            p++;
    }
    return err_set(err, KT_ERR_INVALID, "bad_config", "%s must be one of %s, got '%.40s'", opt_name(o, nm),
                   o->choices, v);
}

static kt_status check_number(const opt *o, double d, kt_err *err)
{
    char nm[128];
    if (d < o->min || d > o->max) {
        if (o->type == OPT_INT)
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s must be between %.0f and %.0f, got %.0f",
                           opt_name(o, nm), o->min, o->max, d);
        return err_set(err, KT_ERR_INVALID, "bad_config", "%s must be between %g and %g, got %g",
                       opt_name(o, nm), o->min, o->max, d);
    }
    return KT_OK;
}

static kt_status validate_one(const kt_config *c, const opt *o, kt_err *err)
{
    char nm[128];
    kt_err uerr;
    if (o->type == OPT_INT)
        return check_number(o, *(const int *)((const char *)c + o->off), err);
    if (o->type == OPT_DOUBLE)
        return check_number(o, *(const double *)((const char *)c + o->off), err);
    if (o->type == OPT_BOOL)
        return KT_OK;
    const char *v = *cstr_field(c, o);
    if (!v)
        return KT_OK; /* optional, or a default that failed to allocate (reported by the caller) */
    if (o->type == OPT_URL) {
        url_parts u;
        if (url_split(v, &u, &uerr) != KT_OK)
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s is not a valid URL (%s): '%.120s'",
                           opt_name(o, nm), uerr.msg, v);
    } else if (o->type == OPT_LISTEN) {
        kt_status st = check_listen(o, v, err);
        if (st != KT_OK)
            return st;
    } else if (o->type == OPT_ENUM) {
        kt_status st = check_enum(o, v, err);
        if (st != KT_OK)
            return st;
    }
    return o->check ? o->check(o, v, err) : KT_OK;
}

kt_status config_validate_values(const kt_config *c, kt_err *err)
{
    char nm[128];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt *o = &options[i];
        if (is_text(o->type) && !*cstr_field(c, o) && (o->dflt || o->derived) &&
            (!o->derived || c->data_dir))
            return err_set(err, KT_ERR_INVALID, "bad_config", "%s has no value (out of memory?)",
                           opt_name(o, nm));
        kt_status st = validate_one(c, o, err);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

kt_status config_validate(const kt_config *c, kt_err *err)
{
    if (!c->spotify_client_id || !*c->spotify_client_id)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "SPOTIFY_CLIENT_ID is not set: create an app at developer.spotify.com, add the redirect "
                       "URI %s to it, and set SPOTIFY_CLIENT_ID (or --spotify-client-id)",
                       c->spotify_redirect_uri ? c->spotify_redirect_uri : "http://127.0.0.1:8080/api/auth/callback");
    return config_validate_values(c, err);
}

/* --- help and dump ------------------------------------------------------ */

static const char *type_hint(const opt *o)
{
    switch (o->type) {
    case OPT_INT:
        return "N";
    case OPT_DOUBLE:
        return "X";
    case OPT_BOOL:
        return "[=BOOL]";
    case OPT_URL:
        return "URL";
    case OPT_LISTEN:
        return "HOST:PORT";
    case OPT_ENUM:
        return o->choices;
    default:
        return "VALUE";
    }
}

void config_print_help(FILE *f)
{
    fprintf(f, "Options (flag > environment > config file > default):\n");
    fprintf(f, "  --config PATH\n      env KEEPTRACK_CONFIG\n"
               "      File of KEY=value lines (env-var names as keys, '#' comments).\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt *o = &options[i];
        fprintf(f, "  --%s %s\n      env %s", o->flag, type_hint(o), o->env);
        if (o->dflt)
            fprintf(f, "; default %s", o->dflt);
        if (o->type == OPT_INT || o->type == OPT_DOUBLE)
            fprintf(f, "; %g..%g", o->min, o->max);
        if (o->secret)
            fprintf(f, "; secret");
        fprintf(f, "\n      %s\n", o->help);
    }
}

/* Prints a value, hiding the password of a URL's userinfo
 * ("postgresql://app:pw@db/x" -> "postgresql://app:***@db/x"). */
static void print_value(FILE *f, const char *v)
{
    const char *scheme = strstr(v, "://");
    if (scheme) {
        const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            fprintf(f, "%.*s***%s\n", (int)(colon + 1 - v), v, at);
            return;
        }
    }
    fprintf(f, "%s\n", v);
}

void config_dump(FILE *f, const kt_config *c)
{
    if (c->config_file)
        fprintf(f, "KEEPTRACK_CONFIG = %s\n", c->config_file);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt *o = &options[i];
        const void *p = (const char *)c + o->off;
        if (o->secret)
            fprintf(f, "%s = %s\n", o->env, *cstr_field(c, o) ? "(set)" : "(unset)");
        else if (o->type == OPT_INT)
            fprintf(f, "%s = %d\n", o->env, *(const int *)p);
        else if (o->type == OPT_DOUBLE)
            fprintf(f, "%s = %g\n", o->env, *(const double *)p);
        else if (o->type == OPT_BOOL)
            fprintf(f, "%s = %s\n", o->env, *(const int *)p ? "true" : "false");
        else if (!*cstr_field(c, o))
            fprintf(f, "%s = (unset)\n", o->env);
        else
            fprintf(f, "%s = ", o->env), print_value(f, *cstr_field(c, o));
    }
}

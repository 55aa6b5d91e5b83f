/* cmd_demo.c - `keeptrack demo` (what `make run` starts): spotify-emulator
 * plus keeptrack on SQLite, ready to click through in a browser.
 *
 * 1. The emulator binary is KEEPTRACK_EMULATOR, else the one the build puts
 *    next to keeptrack (<build>/emulator/spotify-emulator).
 * 2. keeptrack's port is KEEPTRACK_LISTEN's (default 8080) when free, else
 *    any free port; the emulator is told that exact redirect URI.
 * 3. The emulator starts on a free port with its test client; its first
 *    stdout line names the port (its output goes to <demo dir>/emulator.log,
 *    polled with a deadline). It is stopped when the demo ends, and it dies
 *    with keeptrack if keeptrack is killed (PR_SET_PDEATHSIG).
 * 4. keeptrack serves with the emulator's URLs and test client id/secret,
 *    the database and key file in <data_dir>/demo, and prints one banner:
 *    the URL, what to click, where the data and logs are, how to stop.
 *    The server's log lines go to <data_dir>/demo/keeptrack.log, not the
 *    terminal (they buried the banner); --verbose keeps them on stderr.
 *
 * The demo user listens for weeks (the emulator spreads DEMO_PLAYS plays
 * over DEMO_PLAY_DAYS days), but Spotify's recently-played only ever shows
 * the last 50, so on the demo database's first run the whole history is
 * imported as the user would import Spotify's data export: the plays are
 * read from the emulator's ground truth, written as extended streaming
 * history records and go through history_import for a user added ahead of
 * the login ("disconnected" until "Connect Spotify" logs it in). The first
 * visit then has every listening chart filled; later syncs add polled plays
 * and deduplicate them against the imported ones as usual. The emulator's
 * top lists follow those plays, and the lists of the 14 days before today
 * are recorded too, as the daily top-items job would have, so the top-track
 * movement compares days from the start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/history_import.h"
#include "spotify/spotify.h"
#include "store/store_auth.h"
#include "store/store_library.h"

#define DEMO_CLIENT_ID "keeptrack-test-client"
#define DEMO_CLIENT_SECRET "keeptrack-test-secret"
#define EMULATOR_START_MS 15000
#define DEMO_USER "demo"
#define DEMO_PLAYS "1500"
#define DEMO_PLAY_DAYS "42"
/* The emulator's answer with every play is ~2 MB; refuse anything far larger. */
#define TRUTH_MAX_BYTES (64 * 1024 * 1024)

/* Finds spotify-emulator: KEEPTRACK_EMULATOR, else next to our binary. */
static int find_emulator(char *out, size_t cap)
{
    static const char *const rel[] = {"emulator/spotify-emulator", "../emulator/spotify-emulator",
                                      "../../emulator/spotify-emulator"};
    const char *env = getenv("KEEPTRACK_EMULATOR");
    char self[PATH_MAX];
    ssize_t n;
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK) == 0;
    }
    if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0)
        return 0;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(out, cap, "%s/%s", self, rel[i]);
        if (access(out, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* The port to serve on: `want` when it can be bound on 127.0.0.1, else a
 * free one chosen by the OS. 0 on failure. */
static int pick_port(int want)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)(attempt ? 0 : want))};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, port = 0;
        if (fd < 0)
            return 0;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
            port = ntohs(a.sin_port);
        close(fd);
        if (port > 0)
            return port;
    }
    return 0;
}

/* Starts the emulator with stdout/stderr into log_path. Returns its pid or -1. */
static pid_t spawn_emulator(const char *bin, const char *redirect_uri, const char *log_path)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid;
    if (fd < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        sigset_t none;
        char *args[] = {(char *)bin, "--listen", "127.0.0.1:0", "--redirect-uri",
                        (char *)redirect_uri, "--client-id", DEMO_CLIENT_ID,
                        "--client-secret", DEMO_CLIENT_SECRET, "--user",
                        DEMO_USER ":plays=" DEMO_PLAYS ",play_days=" DEMO_PLAY_DAYS, NULL};
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execv(bin, args);
        _exit(127);
    }
    close(fd);
    return pid;
}

/* Polls the emulator's log for its "listening on http://..." line, with a
 * deadline; fills base (e.g. "http://127.0.0.1:41234"). */
static int wait_emulator(pid_t pid, const char *log_path, char *base, size_t cap)
{
    int64_t deadline = time_mono_ms() + EMULATOR_START_MS;
    const struct timespec tick = {0, 20 * 1000 * 1000};
    while (time_mono_ms() < deadline) {
        char *text = NULL, *at, *end;
        size_t len = 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return 0;
        if (fs_read_file(log_path, 1 << 20, &text, &len, NULL) == KT_OK &&
            (at = strstr(text, "listening on ")) != NULL && (end = strchr(at, '\n')) != NULL) {
            at += strlen("listening on ");
            snprintf(base, cap, "%.*s", (int)(end - at), at);
            free(text);
            return 1;
        }
        free(text);
        nanosleep(&tick, NULL);
    }
    return 0;
}

/* GET base/__emulator/users/demo/truth?sections=profile,recently_played,
 * top_history; NULL when it fails. */
static json_t *fetch_truth(const char *base)
{
    char url[400];
    char *body = NULL;
    size_t len = 0;
    long code = 0;
    json_t *out = NULL;
    snprintf(url, sizeof url,
             "%s/__emulator/users/" DEMO_USER "/truth?sections=profile,recently_played,top_history",
             base);
    if (spotify_plain_get(url, EMULATOR_START_MS, TRUTH_MAX_BYTES, &code, &body, &len, NULL) ==
            KT_OK &&
        code == 200)
        out = json_loadb(body, len, 0, NULL);
    free(body);
    return out;
}

/* One emulator play as an extended streaming history record (the time to
 * the second, as Spotify's export writes it; the whole track played). */
static json_t *export_record(const json_t *play)
{
    const json_t *t = json_object_get(play, "track");
    const char *at = json_string_value(json_object_get(play, "played_at"));
    const json_t *artist = json_array_get(json_object_get(t, "artists"), 0);
    char ts[21];
    if (!at || strlen(at) < 19 || !json_is_object(t))
        return NULL;
    snprintf(ts, sizeof ts, "%.19sZ", at);
    return json_pack("{s:s,s:O,s:O,s:O,s:O,s:O}", "ts", ts, "ms_played",
                     json_object_get(t, "duration_ms"), "spotify_track_uri",
                     json_object_get(t, "uri"), "master_metadata_track_name",
                     json_object_get(t, "name"), "master_metadata_album_artist_name",
                     json_object_get(artist, "name"), "master_metadata_album_album_name",
                     json_object_get(json_object_get(t, "album"), "name"));
}

/* Records the emulator's top lists of the days before today (its truth's
 * top_history) as the daily top-items job would have, so the top-track
 * movement has days to compare on the first visit. */
static kt_status seed_top_history(store *s, int64_t uid, const json_t *days, kt_err *err)
{
    static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
    static const char *const kinds[] = {"tracks", "artists"};
    kt_status st = KT_OK;
    for (size_t d = 0; st == KT_OK && d < json_array_size(days); d++) {
        const json_t *day = json_array_get(days, d);
        const char *refs[6][50];
        store_top_list lists[6];
        for (size_t l = 0; l < 6; l++) {
            const json_t *items =
                json_object_get(json_object_get(day, ranges[l / 2]), kinds[l % 2]);
            size_t n = 0;
            for (size_t i = 0; i < json_array_size(items) && n < 50; i++)
                if (json_is_string(json_array_get(items, i)))
                    refs[l][n++] = json_string_value(json_array_get(items, i));
            lists[l] = (store_top_list){kinds[l % 2], ranges[l / 2], refs[l], n};
        }
        st = store_top_replace(s, uid, json_string_value(json_object_get(day, "day")), lists, 6,
                               err);
    }
    return st;
}

/* Imports the demo user's listening history on the demo database's first
 * run (see the top of this file). Failing is not fatal: the demo then
 * starts with polled plays only, as a real account would. */
static void seed_history(kt_config *cfg, const char *base)
{
    json_t *truth = fetch_truth(base), *recs = json_array();
    const json_t *prof = json_object_get(truth, "profile");
    const json_t *plays = json_object_get(truth, "recently_played");
    const char *account = json_string_value(json_object_get(prof, "account_id"));
    const char *spotify_id = json_string_value(json_object_get(prof, "id"));
    char *text = NULL;
    store *s = NULL;
    history_report *rep = NULL;
    kt_err err = {0};
    int64_t uid = 0;
    int created = 0;
    if (!account || !spotify_id || !recs) {
        fprintf(stderr, "keeptrack demo: could not read the demo user's plays from the emulator\n");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(plays); i++)
        json_array_append_new(recs, export_record(json_array_get(plays, i)));
    if (!(text = json_dumps(recs, JSON_COMPACT))) {
        fprintf(stderr, "keeptrack demo: out of memory\n");
        goto out;
    }
    history_input in = {.name = "Streaming_History_Audio_demo.json", .data = text,
                        .len = strlen(text)};
    history_options o = {.min_ms = cfg->history_min_ms};
    if (store_open(cfg->db, &s, &err) != KT_OK || store_migrate(s, &err) != KT_OK ||
        store_user_add_disconnected(s, account, spotify_id,
                                    json_string_value(json_object_get(prof, "display_name")),
                                    time_now_ms(), &uid, &created, &err) != KT_OK ||
        (created && history_import(s, uid, &in, 1, &o, &rep, &err) != KT_OK) ||
        (created && seed_top_history(s, uid, json_object_get(truth, "top_history"), &err) != KT_OK))
        fprintf(stderr, "keeptrack demo: seeding the listening history: %s\n", err.msg);
out:
    history_report_free(rep);
    store_close(s);
    free(text);
    json_decref(recs);
    json_decref(truth);
}

typedef struct demo_info {
    const char *emulator;
    const char *dir;
    int verbose; /* log lines on stderr instead of the log file */
} demo_info;

static void banner(void *ctx, const char *url)
{
    demo_info *d = ctx;
    printf("\nkeeptrack demo is running.\n\n"
           "  1. Open %s/ in your browser and click \"Connect Spotify\".\n"
           "     Spotify is played by spotify-emulator at %s (user \"demo\"):\n"
           "     nothing leaves this machine.\n"
           "  2. Click \"Sync now\" to copy the demo library, then look around.\n\n"
           "  Data: %s (delete it to start over)\n",
           url, d->emulator, d->dir);
    if (d->verbose)
        printf("  Logs: below; the emulator's in %s/emulator.log\n", d->dir);
    else
        printf("  Logs: %s/keeptrack.log and emulator.log (--verbose shows them here)\n", d->dir);
    printf("  Press Ctrl-C to stop.\n\n");
    fflush(stdout);
}

/* Sends the log lines to <dir>/keeptrack.log (appended, 0600). Returns the
 * open file (the caller closes it after log_set_sink(NULL)), or NULL. */
static FILE *log_to_file(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/keeptrack.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "keeptrack demo: cannot write %s: %s\n", path, strerror(errno));
        return NULL;
    }
    log_set_sink(f);
    return f;
}

int cmd_demo(kt_config *cfg, int argc, char **argv)
{
    char bin[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 32], redirect[128], listen[64], pub[96];
    char base[256], api[300];
    kt_err err = {0};
    pid_t pid = -1;
    int rc = 1, want = 8080, port, verbose = 0;
    const char *colon;
    FILE *log_file = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        fprintf(stderr, "keeptrack demo: unexpected argument '%s' (see keeptrack demo --help)\n",
                argv[i]);
        return 2;
    }
    if (!find_emulator(bin, sizeof bin)) {
        fprintf(stderr, "keeptrack demo: spotify-emulator not found next to keeptrack; build it "
                        "(ninja -C build) or set KEEPTRACK_EMULATOR to its path\n");
        return 1;
    }
    if (cfg->listen && (colon = strrchr(cfg->listen, ':')) != NULL)
        want = atoi(colon + 1);
    if ((port = pick_port(want)) == 0) {
        fprintf(stderr, "keeptrack demo: no free port on 127.0.0.1\n");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/demo", cfg->data_dir);
    if (fs_mkdir_p(dir, 0700, &err) != KT_OK)
        return cli_fail("creating the demo folder", &err);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(pub, sizeof pub, "http://127.0.0.1:%d", port);
    snprintf(redirect, sizeof redirect, "%s/api/auth/callback", pub);

    cli_block_signals();
    snprintf(path, sizeof path, "%s/emulator.log", dir);
    if ((pid = spawn_emulator(bin, redirect, path)) < 0 ||
        !wait_emulator(pid, path, base, sizeof base)) {
        fprintf(stderr, "keeptrack demo: spotify-emulator did not start (see %s)\n", path);
        goto out;
    }
    snprintf(api, sizeof api, "%s/v1", base);

    int bad = cli_set(&cfg->spotify_client_id, DEMO_CLIENT_ID) |
              cli_set(&cfg->spotify_client_secret, DEMO_CLIENT_SECRET) |
              cli_set(&cfg->spotify_accounts_url, base) | cli_set(&cfg->spotify_api_url, api) |
              cli_set(&cfg->spotify_redirect_uri, redirect) | cli_set(&cfg->listen, listen) |
              cli_set(&cfg->public_url, pub) | cli_set(&cfg->secret_key, NULL) |
              cli_set(&cfg->secret_key_previous, NULL);
    snprintf(path, sizeof path, "%s/keeptrack.db", dir);
    bad |= cli_set(&cfg->db, path);
    snprintf(path, sizeof path, "%s/secret.key", dir);
    bad |= cli_set(&cfg->secret_key_file, path);
    if (bad) {
        fprintf(stderr, "keeptrack demo: out of memory\n");
        goto out;
    }
    if (config_validate(cfg, &err) != KT_OK) {
        fprintf(stderr, "keeptrack: invalid configuration: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (!verbose && (log_file = log_to_file(dir)) == NULL)
        goto out;
    seed_history(cfg, base);
    demo_info info = {.emulator = base, .dir = dir, .verbose = verbose};
    rc = cli_serve_until_signal(cfg, banner, &info);
    if (rc == 0)
        printf("keeptrack demo stopped.\n");
out:
    if (log_file) {
        log_set_sink(NULL);
        fclose(log_file);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return rc;
}

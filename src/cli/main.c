/* main.c - the keeptrack binary: the subcommand table, --help, and loading
 * the configuration once for every subcommand (see cli.h).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/crypto.h"
#include "core/json_arena.h"
#include "core/log.h"

static const cli_command commands[] = {
    {"serve", "run the web server and API",
     "usage: keeptrack serve [OPTIONS]\n"
     "Serves the web UI and the API on KEEPTRACK_LISTEN until SIGINT/SIGTERM.\n"
     "Migrates the database first. Needs SPOTIFY_CLIENT_ID.\n",
     CLI_VALIDATE_FULL, cmd_serve},
    {"demo", "try keeptrack locally against the bundled Spotify emulator",
     "usage: keeptrack demo [--verbose] [OPTIONS]\n"
     "Starts spotify-emulator on a free port (found next to the keeptrack binary,\n"
     "or at KEEPTRACK_EMULATOR), then keeptrack on SQLite in <data_dir>/demo with\n"
     "the emulator's test client, and prints the URL to open. Ctrl-C stops both.\n"
     "Log lines go to <data_dir>/demo/keeptrack.log; --verbose prints them instead.\n",
     CLI_VALIDATE_NONE, cmd_demo},
    {"sync", "sync Spotify libraries now, in the foreground",
     "usage: keeptrack sync [--user USER] [--dry-run] [WHAT...]\n"
     "Copies the library of USER (numeric id or Spotify account id; default: every\n"
     "active user) from Spotify into the database, incrementally, and records the run.\n"
     "WHAT: liked playlists albums shows episodes following top recent, or library\n"
     "(all but top and recent) or all (the default). Progress goes to stderr; exits\n"
     "non-zero when a sync failed or was deferred, with the reason.\n"
     "--dry-run sends nothing: prints, per user, the Spotify requests the sync would\n"
     "spend (from the stored copy: if nothing changed, and if every collection changed)\n"
     "as one JSON object a line, each collection's share included.\n",
     CLI_VALIDATE_FULL, cmd_sync},
    {"shuffle", "make a truly shuffled copy of a playlist or of Liked Songs",
     "usage: keeptrack shuffle --source liked|PLAYLIST_ID [--mode uniform|spread] [--user USER]\n"
     "                         [--name NAME] [--new]\n"
     "Syncs the source, then writes every track of it, shuffled, into a private playlist\n"
     "(named from KEEPTRACK_SHUFFLE_NAME unless --name). uniform: every order equally likely\n"
     "(Fisher-Yates on a CSPRNG); spread: random, with the same artist (then album) kept apart\n"
     "as far as the source allows. Shuffling a source again replaces its earlier output\n"
     "unless --new. Local files cannot be added through the API: they are counted.\n"
     "USER: numeric id or Spotify account id (default: the only active user).\n",
     CLI_VALIDATE_FULL, cmd_shuffle},
    {"trending-playlist", "write your trending tracks list into a playlist",
     "usage: keeptrack trending-playlist [--user USER] [--name NAME]\n"
     "Writes the trending list (curated in the web UI or with /api/trending), in its order,\n"
     "into a private playlist (\"Trending tracks\" unless --name). Running it again replaces\n"
     "that playlist's tracks. USER: numeric id or Spotify account id (default: the only\n"
     "active user).\n",
     CLI_VALIDATE_FULL, cmd_trending_playlist},
    {"tops-playlist", "write your top tracks into a playlist (Spotify's or your history's)",
     "usage: keeptrack tops-playlist [--user USER] --id ID\n"
     "       keeptrack tops-playlist [--user USER] --source spotify|history [--range RANGE]\n"
     "                               [--period P] [--from T] [--to T] [--by plays|time]\n"
     "                               [--limit N] [--name NAME] [--refresh none|weekly|monthly]\n"
     "Writes the top N (1..100, default 50) tracks into a private playlist: Spotify's top\n"
     "tracks of RANGE (short_term, medium_term (default), long_term; synced first), or your\n"
     "listening history's over a period (day, week, month (default), year, all, or --from/--to,\n"
     "ISO 8601 or unix ms) ranked by plays or time. The definition is saved (as POST\n"
     "/api/playlists/from-tops does): the same ranking again replaces the same playlist's\n"
     "tracks, --id runs a saved definition, --refresh lets the scheduler re-run it.\n"
     "USER: numeric id or Spotify account id (default: the only active user).\n",
     CLI_VALIDATE_FULL, cmd_fromtops},
    {"import-history", "import Spotify's listening-history export (.json files or the .zip)",
     "usage: keeptrack import-history [--user USER] FILE...\n"
     "Imports Streaming_History_Audio_*.json, endsong_*.json and StreamingHistory*.json\n"
     "files, or Spotify's my_spotify_data.zip holding them, into USER's plays (numeric id\n"
     "or account id; may be left out when there is one user). Plays shorter than\n"
     "KEEPTRACK_HISTORY_MIN_MS are skipped; plays already stored (polled, or imported\n"
     "before) are not added twice. A file that fails half-way keeps what was committed;\n"
     "running the command again with the complete file continues from there. Prints\n"
     "a report; exits 1 when a file could not be imported.\n",
     CLI_VALIDATE_VALUES, cmd_import_history},
    {"export", "export a user's data as JSON or Exportify-compatible CSV files (zip)",
     "usage: keeptrack export [--user USER] [--format json|csv] --out PATH\n"
     "Writes everything keeptrack holds for USER (numeric id or account id; may be left\n"
     "out when there is one user): json = profile, Liked Songs, saved albums, shows and\n"
     "episodes, playlists with items and versions, followed artists, top snapshots and\n"
     "plays (format_version 1); csv = a zip of liked_songs.csv and one CSV per playlist\n"
     "with Exportify's columns. PATH appears whole or not at all.\n",
     CLI_VALIDATE_VALUES, cmd_export},
    {"restore", "restore playlists and Liked Songs from an export into Spotify",
     "usage: keeptrack restore [--user USER] FILE... [--playlists ID|NAME,...] [--refill]\n"
     "                         [--liked] [--dry-run]\n"
     "Reads keeptrack JSON exports, Exportify CSV files (liked_songs.csv = Liked Songs) or\n"
     "zips of them, checks them all, syncs USER's account, then recreates the chosen\n"
     "playlists (default: all) as new private playlists, or with --refill replaces the\n"
     "contents of the user's playlist of the same id (JSON) or name (CSV). --liked saves\n"
     "Liked Songs in their order. Anything already as wanted is left alone, so running\n"
     "it twice changes nothing. Local files cannot be added and are reported. --dry-run\n"
     "reports what would change. Prints the report as JSON.\n",
     CLI_VALIDATE_FULL, cmd_restore},
    {"migrate", "apply pending database migrations",
     "usage: keeptrack migrate [OPTIONS]\n"
     "Applies every pending migration to KEEPTRACK_DB and prints the versions.\n",
     CLI_VALIDATE_VALUES, cmd_migrate},
    {"users", "list, disable, enable or delete users",
     "usage: keeptrack users list           (status, last sync, token expiry, re-login date)\n"
     "       keeptrack users disable USER   (tokens and sessions deleted, login refused)\n"
     "       keeptrack users enable USER\n"
     "       keeptrack users delete USER    (the user and all their data)\n"
     "USER is the numeric id or the Spotify account id.\n",
     CLI_VALIDATE_VALUES, cmd_users},
    {"keys", "rotate or generate the token encryption key",
     "usage: keeptrack keys rotate     re-encrypt every stored token under a new key\n"
     "       keeptrack keys generate   print a new key for KEEPTRACK_SECRET_KEY\n"
     "With a key file, rotate writes a new key to it, re-encrypts in one transaction\n"
     "and then drops the old keys. With KEEPTRACK_SECRET_KEY, set the new key there and\n"
     "the old one in KEEPTRACK_SECRET_KEY_PREVIOUS, then run rotate.\n"
     "Run it while `keeptrack serve` is stopped (or restart the server afterwards).\n",
     CLI_VALIDATE_VALUES, cmd_keys},
    {"config", "print the configuration (secrets redacted)",
     "usage: keeptrack config [OPTIONS]\n"
     "Prints every option's value after flags, environment and config file;\n"
     "secrets are shown as (set) or (unset).\n",
     CLI_VALIDATE_NONE, cmd_config},
    {"backup", "snapshot the database (checksum, retention, off-site copy)",
     "usage: keeptrack backup [OPTIONS]\n"
     "Writes keeptrack-YYYYMMDDTHHMMSSZ.sqlite (or .pgdump, with pg_dump) and its .sha256 to\n"
     "KEEPTRACK_BACKUP_DIR, copies both to KEEPTRACK_BACKUP_RCLONE_REMOTE when set, then keeps\n"
     "the newest backup of each of the last KEEPTRACK_BACKUP_KEEP_DAILY days and\n"
     "KEEPTRACK_BACKUP_KEEP_WEEKLY weeks. Safe while the server runs. Tokens stay sealed:\n"
     "keep the secret key safe separately.\n",
     CLI_VALIDATE_VALUES, cmd_backup},
    {"restore-backup", "replace the database with a backup",
     "usage: keeptrack restore-backup FILE\n"
     "Verifies FILE against FILE.sha256, refuses while the database is in use (stop\n"
     "`keeptrack serve` first), keeps the current data (<db>.before-restore, or schema\n"
     "<schema>_before_restore on PostgreSQL, with pg_restore), then applies migrations.\n",
     CLI_VALIDATE_VALUES, cmd_restore_backup},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: keeptrack COMMAND [OPTIONS]\n\n"
               "keeptrack keeps your Spotify library safe on your own machine.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun `keeptrack COMMAND --help` for a command's usage and options.\n"
               "Every option can be given as a flag, an environment variable, or a line\n"
               "in the config file (--config PATH or KEEPTRACK_CONFIG).\n");
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int cli_fail(const char *context, const kt_err *err)
{
    fprintf(stderr, "keeptrack: %s: %s\n", context, err->msg[0] ? err->msg : "failed");
    return 1;
}

int cli_set(char **field, const char *v)
{
    char *copy = v ? strdup(v) : NULL;
    if (v && copy == NULL)
        return 1;
    free(*field);
    *field = copy;
    return 0;
}

/* glibc gives each thread that allocates an arena of its own (up to 8 per
 * CPU); the sync's threads (Liked Songs, playlists, followed artists), the
 * HTTP workers and the job workers then each keep their freed memory
 * apart. With two arenas: the peak RSS of `serve` during a sync with
 * readers 67-69 -> 49-50 MB (bench/memory.py), of `keeptrack sync` of the
 * largest library on PostgreSQL 66.3 -> 56.7 MB (bench/sync_large.py);
 * throughput within the noise. Set before any thread starts; a
 * MALLOC_ARENA_MAX in the environment wins. */
static void limit_malloc_arenas(void)
{
    /* mallopt fails only under another allocator (a sanitizer's, which
     * keeps its own arenas): nothing to limit then, and nothing to say. */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        (void)mallopt(M_ARENA_MAX, 2);
}

int main(int argc, char **argv)
{
    const cli_command *cmd = NULL;
    kt_config cfg;
    kt_err err = {0};
    int rc;

    if (argc < 2 || is_help(argv[1])) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "keeptrack: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->usage, stdout);
            fputc('\n', stdout); /* config_print_help writes its own heading */
            config_print_help(stdout);
            return 0;
        }
    limit_malloc_arenas();
    (void)json_arena_install(); /* 0 only in sanitizer builds: plain malloc then */
    if (crypto_init() != KT_OK) {
        fprintf(stderr, "keeptrack: libsodium could not initialise (no entropy source?)\n");
        return 1;
    }
    config_init(&cfg);
    argc--;
    argv++; /* argv[0] is now the subcommand */
    if (config_load(&cfg, &argc, argv, &err) != KT_OK ||
        (cmd->validate == CLI_VALIDATE_FULL && config_validate(&cfg, &err) != KT_OK) ||
        (cmd->validate == CLI_VALIDATE_VALUES && config_validate_values(&cfg, &err) != KT_OK)) {
        fprintf(stderr, "keeptrack: invalid configuration: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    if (log_init(cfg.log_level, cfg.log_format) != KT_OK) {
        fprintf(stderr, "keeptrack: invalid configuration: KEEPTRACK_LOG_LEVEL or "
                        "KEEPTRACK_LOG_FORMAT\n");
        config_free(&cfg);
        return 2;
    }
    rc = cmd->run(&cfg, argc, argv);
    config_free(&cfg);
    return rc;
}

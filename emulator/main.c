/* main.c - spotify-emulator entry point: parses flags (see --help and
 * README.md), builds the users' libraries, starts the server, prints the one
 * "listening on" line tests read the port from, and runs until SIGTERM or
 * SIGINT, then shuts down cleanly (hung requests released, memory freed).
 */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "faults.h"
#include "server.h"
#include "stats.h"

#define MAX_USERS 256

static void usage(FILE *f)
{
    fputs(
"Usage: spotify-emulator [options]\n"
"Emulates Spotify's accounts service and Web API (late 2026) on loopback for tests.\n"
"\n"
"Server:\n"
"  --listen HOST:PORT      address to listen on (default 127.0.0.1:0; port 0 = any free port).\n"
"                          Prints 'spotify-emulator listening on http://HOST:PORT' once started.\n"
"  --threads N             HTTP worker threads (default 4)\n"
"  --body-cap BYTES        largest request body accepted (default 1048576; larger -> 413)\n"
"  --mode MODE             development (default) or extended: which quota the app has\n"
"  --seed N                seed of the synthetic libraries (default 1)\n"
"  --today YYYY-MM-DD      date 'recent' releases and added_at dates are relative to\n"
"                          (default: today, UTC)\n"
"\n"
"Accounts:\n"
"  --client-id ID          registered client id (default keeptrack-test-client)\n"
"  --client-secret S       its secret (default keeptrack-test-secret)\n"
"  --redirect-uri URI      registered redirect URI; repeatable (default\n"
"                          http://127.0.0.1:8080/api/auth/callback). 'any-loopback' accepts\n"
"                          http://127.0.0.1:<port>/... and http://[::1]:<port>/...\n"
"  --token-ttl SECONDS     access token lifetime (default 3600)\n"
"  --code-ttl SECONDS      authorization code lifetime (default 600)\n"
"  --rotate-refresh        rotate refresh tokens on every refresh grant (PKCE always rotates)\n"
"\n"
"Users (repeatable; without any: a user 'demo' with a medium library):\n"
"  --user ID[:key=value,...]   keys: liked, playlists, playlist_items (N or MIN-MAX),\n"
"                          followed_playlists, albums, shows, episodes, followed, plays, seed,\n"
"                          big_playlists=N (the first N of the owned playlists get\n"
"                          big_playlist_items items instead, default 11000).\n"
"                          Defaults: liked=300, playlists=12, playlist_items=0-120,\n"
"                          followed_playlists=4, albums=20, shows=5, episodes=10, followed=40,\n"
"                          plays=120, seed=0.\n"
"\n"
"Faults (also settable at run time: POST /__emulator/faults):\n"
"  --latency-ms N          added latency per request\n"
"  --jitter-ms N           plus a random 0..N ms\n"
"  --rate-limit N          max Web API requests per rolling 30 s; beyond: 429 + Retry-After\n"
"  --fail-rate P           probability (0..1) of a 500/502/503\n"
"  --hang-rate P           probability of a request that never answers (released after\n"
"                          --hang-ms, default 120000, or at shutdown)\n"
"  --hang-ms N             how long a hung request is held\n"
"  --truncate-rate P       probability of a body cut short (full Content-Length declared)\n"
"  --malformed-rate P      probability of a body that is not valid JSON\n"
"  --drop-rate P           probability of closing the connection without a response\n"
"  --quota-exceeded        every Web API call answers 429 with reason QUOTA_EXCEEDED\n"
"  --quota-retry-after S   Retry-After of QUOTA_EXCEEDED answers (default 14400)\n"
"\n"
"  -h, --help              this help\n"
"  --version               print the version\n"
"\n"
"Control API: /__emulator/health, stats, stats/reset, users, users/ID/truth,\n"
"users/ID/mutate, faults, consent, tokens, tokens/expire|revoke|age (see emulator/README.md).\n",
        f);
}

static bool parse_rate(const char *s, double *out)
{
    char *end = NULL;
    double d = strtod(s, &end);
    if (!*s || *end || !(d >= 0 && d <= 1)) return false;
    *out = d;
    return true;
}

static bool parse_listen(const char *s, em_config *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon) return false;
    long port;
    if (!parse_long(colon + 1, 0, 65535, &port)) return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') { s++; hl -= 2; }
    if (hl == 0 || hl >= sizeof(cfg->listen_host)) return false;
    memcpy(cfg->listen_host, s, hl);
    cfg->listen_host[hl] = '\0';
    cfg->listen_port = (int)port;
    return true;
}

enum {
    O_LISTEN = 256, O_MODE, O_SEED, O_TTL, O_CODE_TTL, O_CID, O_CSECRET, O_REDIRECT, O_ROTATE,
    O_THREADS, O_USER, O_LAT, O_JIT, O_RATE, O_FAIL, O_HANG, O_HANGMS, O_TRUNC, O_MALF, O_DROP,
    O_QUOTA, O_QRETRY, O_TODAY, O_BODYCAP, O_VERSION,
};

static const struct option OPTS[] = {
    {"listen", required_argument, NULL, O_LISTEN}, {"mode", required_argument, NULL, O_MODE},
    {"seed", required_argument, NULL, O_SEED}, {"token-ttl", required_argument, NULL, O_TTL},
    {"code-ttl", required_argument, NULL, O_CODE_TTL}, {"client-id", required_argument, NULL, O_CID},
    {"client-secret", required_argument, NULL, O_CSECRET}, {"redirect-uri", required_argument, NULL, O_REDIRECT},
    {"rotate-refresh", no_argument, NULL, O_ROTATE}, {"threads", required_argument, NULL, O_THREADS},
    {"user", required_argument, NULL, O_USER}, {"latency-ms", required_argument, NULL, O_LAT},
    {"jitter-ms", required_argument, NULL, O_JIT}, {"rate-limit", required_argument, NULL, O_RATE},
    {"fail-rate", required_argument, NULL, O_FAIL}, {"hang-rate", required_argument, NULL, O_HANG},
    {"hang-ms", required_argument, NULL, O_HANGMS}, {"truncate-rate", required_argument, NULL, O_TRUNC},
    {"malformed-rate", required_argument, NULL, O_MALF}, {"drop-rate", required_argument, NULL, O_DROP},
    {"quota-exceeded", no_argument, NULL, O_QUOTA}, {"quota-retry-after", required_argument, NULL, O_QRETRY},
    {"today", required_argument, NULL, O_TODAY}, {"body-cap", required_argument, NULL, O_BODYCAP},
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static int bad(const char *opt, const char *val)
{
    fprintf(stderr, "spotify-emulator: bad value for --%s: '%s' (see --help)\n", opt, val);
    return 2;
}

int main(int argc, char **argv)
{
    static em_app app;
    em_config *cfg = &app.cfg;
    em_fault_set fs;
    faults_defaults(&fs);
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    cfg->seed = 1;
    cfg->token_ttl_s = 3600;
    cfg->code_ttl_s = 600;
    cfg->client_id = "keeptrack-test-client";
    cfg->client_secret = "keeptrack-test-secret";
    cfg->threads = 4;
    cfg->day0 = -1;
    cfg->body_cap = 1 << 20;
    static em_user_spec specs[MAX_USERS];
    int nspecs = 0;
    char err[200];
    int c, idx = 0;
    long v;
    while ((c = getopt_long(argc, argv, "h", OPTS, &idx)) != -1) {
        const char *name = c >= 256 ? OPTS[idx].name : "";
        switch (c) {
        case 'h': usage(stdout); return 0;
        case O_VERSION: puts("spotify-emulator 0.1.0"); return 0;
        case O_LISTEN: if (!parse_listen(optarg, cfg)) return bad(name, optarg); break;
        case O_MODE:
            if (strcmp(optarg, "development") == 0) cfg->ext_mode = false;
            else if (strcmp(optarg, "extended") == 0) cfg->ext_mode = true;
            else return bad(name, optarg);
            break;
        case O_SEED: {
            char *end = NULL;
            cfg->seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) return bad(name, optarg);
            break;
        }
        case O_TTL: if (!parse_long(optarg, 1, 100000000, &cfg->token_ttl_s)) return bad(name, optarg); break;
        case O_CODE_TTL: if (!parse_long(optarg, 1, 100000000, &cfg->code_ttl_s)) return bad(name, optarg); break;
        case O_CID: if (!*optarg) return bad(name, optarg); cfg->client_id = optarg; break;
        case O_CSECRET: if (!*optarg) return bad(name, optarg); cfg->client_secret = optarg; break;
        case O_REDIRECT:
            if (cfg->nredirects == EM_MAX_REDIRECTS) return bad(name, "too many");
            cfg->redirects[cfg->nredirects++] = optarg;
            break;
        case O_ROTATE: cfg->rotate_refresh = true; break;
        case O_THREADS: if (!parse_long(optarg, 1, 256, &v)) return bad(name, optarg); cfg->threads = (int)v; break;
        case O_USER:
            if (nspecs == MAX_USERS) return bad(name, "too many users");
            if (!library_spec_parse(optarg, &specs[nspecs], err, sizeof(err))) {
                fprintf(stderr, "spotify-emulator: --user %s: %s\n", optarg, err);
                return 2;
            }
            nspecs++;
            break;
        case O_LAT: if (!parse_long(optarg, 0, 600000, &fs.latency_ms)) return bad(name, optarg); break;
        case O_JIT: if (!parse_long(optarg, 0, 600000, &fs.jitter_ms)) return bad(name, optarg); break;
        case O_RATE: if (!parse_long(optarg, 0, 1000000000, &fs.rate_limit)) return bad(name, optarg); break;
        case O_FAIL: if (!parse_rate(optarg, &fs.fail_rate)) return bad(name, optarg); break;
        case O_HANG: if (!parse_rate(optarg, &fs.hang_rate)) return bad(name, optarg); break;
        case O_HANGMS: if (!parse_long(optarg, 0, 3600000, &fs.hang_ms)) return bad(name, optarg); break;
        case O_TRUNC: if (!parse_rate(optarg, &fs.truncate_rate)) return bad(name, optarg); break;
        case O_MALF: if (!parse_rate(optarg, &fs.malformed_rate)) return bad(name, optarg); break;
        case O_DROP: if (!parse_rate(optarg, &fs.drop_rate)) return bad(name, optarg); break;
        case O_QUOTA: fs.quota_exceeded = true; break;
        case O_QRETRY: if (!parse_long(optarg, 0, 100000000, &fs.quota_retry_after_s)) return bad(name, optarg); break;
        case O_TODAY: {
            int64_t t;
            if (!parse_iso(optarg, &t)) return bad(name, optarg);
            cfg->day0 = t - ((t % 86400) + 86400) % 86400;
            break;
        }
        case O_BODYCAP: if (!parse_long(optarg, 1024, 1L << 30, &cfg->body_cap)) return bad(name, optarg); break;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spotify-emulator: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (cfg->nredirects == 0) cfg->redirects[cfg->nredirects++] = "http://127.0.0.1:8080/api/auth/callback";
    if (sodium_init() < 0) {
        fputs("spotify-emulator: libsodium init failed\n", stderr);
        return 1;
    }
    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    atomic_store(&app.mode_ext, cfg->ext_mode);
    app.lib = library_new(cfg->seed, cfg->day0);
    if (nspecs == 0) library_spec_defaults(&specs[nspecs++], "demo");
    int rc = 1;
    for (int i = 0; i < nspecs; i++) {
        if (library_add_user(app.lib, &specs[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "spotify-emulator: --user %s: %s\n", specs[i].id, err);
            goto out;
        }
    }
    app.acc = accounts_new(cfg);
    app.faults = faults_new(&fs, cfg->seed);
    app.stats = stats_new();
    if (!server_start(&app)) goto out;
    printf("spotify-emulator listening on %s\n", app.base_url);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    server_stop(&app);
    rc = 0;
out:
    stats_free(app.stats);
    faults_free(app.faults);
    accounts_free(app.acc);
    library_free(app.lib);
    return rc;
}

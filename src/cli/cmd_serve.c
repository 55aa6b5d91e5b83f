/* cmd_serve.c - `keeptrack serve`: open the app (pool, migrations, vault,
 * Spotify client), start the job workers (KEEPTRACK_WORKERS) and the
 * scheduler (KEEPTRACK_SCHEDULER), start the HTTP server with every route
 * table, and run until SIGINT or SIGTERM, then stop gracefully: the
 * scheduler stops, running requests finish, running jobs finish (or are
 * released back to the queue by their handler).
 *
 * Signals are taken with sigwait in the main thread (blocked everywhere
 * else), so no handler runs in an async-signal context. The stop order:
 * the scheduler (no new periodic jobs), the HTTP server (stops accepting at
 * once, then waits for the requests in flight), the job workers (running
 * jobs finish or are released), the database pool last.
 *
 * Every request ends in one access-log line (method, route pattern, status,
 * duration; never the raw path or query string, which may carry an OAuth
 * code or state) and in the metrics (services/metrics.h).
 *
 * Idle memory (issue 17, bench/memory.py): libcurl and OpenSSL are
 * initialised on the first Spotify, webhook or SMTP request (app.c), which
 * took the RSS before any request from 14.3 to 11.9-12.0 MB. After the
 * first login it is 14.5 MB again, 11.6 MB of it pages of shared libraries
 * that loading and initialising them touches: libcrypto 3.2 MB (1.4 MB by
 * loading alone: its relocations and symbols; the rest by curl_global_init,
 * whose OpenSSL and libssh2 set-up cannot be skipped), gnutls, p11-kit and
 * nettle ~1.9 MB (libmicrohttpd's constructor calls gnutls_global_init),
 * libc 1.5 MB, SQLite 1.3 MB. The thread pools and the database pool cost
 * little here: 1 HTTP worker instead of 16, no job workers, or a pool of 1
 * connection each changed the idle RSS by less than 0.1 MB.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "http/routes.h"
#include "services/app.h"
#include "services/jobs.h"
#include "services/metrics.h"
#include "services/scheduler.h"

void cli_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void on_start(void *app)
{
    (void)app;
    metrics_http_begin();
}

static void on_done(void *app, const char *method, const char *route, int status, double seconds)
{
    (void)app;
    metrics_http_done(method, route, status, seconds);
    /* Route patterns only: never raw paths or query strings (the callback's
     * carries the OAuth code and state). */
    LOG_INFO("http_request", "method=%s route=%s status=%d ms=%.1f", method, route, status,
             seconds * 1000.0);
}

/* Each connection is a descriptor, and the default soft limit (often 1024)
 * is below what a server behind a proxy needs: raise it to the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        LOG_WARN("fd_limit_unknown", "error=%s", strerror(errno));
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            LOG_WARN("fd_limit_unchanged", "soft=%llu error=%s", (unsigned long long)was,
                     strerror(errno));
        else
            LOG_DEBUG("fd_limit_raised", "from=%llu to=%llu", (unsigned long long)was,
                      (unsigned long long)rl.rlim_cur);
    }
}

/* "http://HOST:PORT" for the bound port. */
static void bound_url(const char *listen, int port, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    int host_len = colon ? (int)(colon - listen) : (int)strlen(listen);
    snprintf(out, cap, "http://%.*s:%d", host_len, listen, port);
}

int cli_serve_until_signal(kt_config *cfg, void (*banner)(void *ctx, const char *url), void *ctx)
{
    kt_app *app = NULL;
    http_server *srv = NULL;
    http_route *routes = NULL;
    size_t nroutes = 0;
    jobs_registry *kinds = NULL;
    jobs_pool *workers = NULL;
    scheduler *sched = NULL;
    kt_err err = {0};
    sigset_t set;
    int sig = 0, rc = 1;
    char url[300];

    metrics_set_start_time(time_now_ms());
    raise_fd_limit();
    if (app_open(cfg, 1, &app, &err) != KT_OK) {
        rc = cli_fail("starting", &err);
        goto out;
    }
    if (cfg->workers > 0) {
        jobs_pool_config jc;
        jobs_pool_config_from(cfg, &jc);
        if (jobs_registry_new(&kinds, &err) != KT_OK ||
            jobs_register_builtin(kinds, &err) != KT_OK ||
            jobs_pool_start(app, kinds, &jc, &workers, &err) != KT_OK) {
            rc = cli_fail("starting the job workers", &err);
            goto out;
        }
    }
    if (cfg->scheduler) {
        scheduler_config sc;
        scheduler_config_from(cfg, &sc);
        if (scheduler_start(app, &sc, &sched, &err) != KT_OK) {
            rc = cli_fail("starting the scheduler", &err);
            goto out;
        }
    }
    if ((routes = routes_all(&nroutes)) == NULL) {
        fprintf(stderr, "keeptrack: out of memory\n");
        goto out;
    }
    http_config hc = {.listen = cfg->listen,
                      .public_origin = cfg->public_url,
                      .threads = cfg->http_threads,
                      .workers = (unsigned)cfg->http_workers,
                      .max_connections = (unsigned)cfg->http_max_connections,
                      .connection_timeout_s = (unsigned)cfg->http_idle_timeout,
                      .on_start = on_start,
                      .on_done = on_done};
    if (http_server_start(&hc, routes, nroutes, app, &srv, &err) != KT_OK) {
        rc = cli_fail("starting the HTTP server", &err);
        goto out;
    }
    bound_url(cfg->listen, http_server_port(srv), url, sizeof url);
    LOG_INFO("serve_started", "listen=%s public_url=%s", url, cfg->public_url);
    /* The banner (the demo's) names the URL itself: printing this line too
     * showed a newcomer the URL twice. */
    if (banner) {
        banner(ctx, url);
    } else {
        printf("keeptrack listening on %s\n", url);
        fflush(stdout);
    }

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigwait(&set, &sig) != 0)
        sig = 0;
    LOG_INFO("serve_stopping", "signal=%d", sig);
    rc = 0;
out:
    scheduler_stop(sched);
    http_server_stop(srv);
    jobs_pool_stop(workers);
    jobs_registry_free(kinds);
    free(routes);
    app_close(app);
    return rc;
}

int cmd_serve(kt_config *cfg, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "keeptrack serve: unexpected argument '%s' (see keeptrack serve --help)\n",
                argv[1]);
        return 2;
    }
    cli_block_signals();
    return cli_serve_until_signal(cfg, NULL, NULL);
}

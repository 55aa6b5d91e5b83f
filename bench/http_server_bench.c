/* http_server_bench.c - a bare http_server (src/http/server.c) for load tests.
 *
 * bench/http_load starts this, points wrk at it and reads its memory from
 * /proc. Routes:
 *   GET /healthz       a small JSON body, no work (the server's own cost),
 *                      an inline route (run on the event loop)
 *   GET /slow?ms=N     holds a worker thread for N ms (0..60000), standing
 *                      in for a handler that waits on Spotify or a database
 *                      (the head-of-line case)
 * Usage: http_server_bench [THREADS [WORKERS]] ; raises its descriptor limit
 * to the hard limit (10,000 idle connections need as many descriptors),
 * prints "port N" once listening and serves until SIGINT/SIGTERM. Not a
 * test: it prints, it never judges.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "http/http.h"

static void h_healthz(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_slow(http_req *r, void *app)
{
    const char *ms = http_req_query(r, "ms");
    long n = ms ? strtol(ms, NULL, 10) : 1000;
    struct timespec ts;

    (void)app;
    if (n < 0 || n > 60000) {
        http_reply_error_msg(r, 400, "bad_query", "ms must be 0..60000");
        return;
    }
    ts.tv_sec = n / 1000;
    ts.tv_nsec = (n % 1000) * 1000000L;
    /* A stand-in for a blocking call (Spotify, the database): sleeping is
     * the point here, this is a load generator's target, not a test. */
    while (nanosleep(&ts, &ts) != 0)
        ;
    http_reply_json(r, 200, json_pack("{s:I}", "slept_ms", (json_int_t)n));
}

static const http_route routes[] = {
    {"GET", "/healthz", h_healthz, HTTP_ROUTE_INLINE},
    {"GET", "/slow", h_slow, 0},
};

int main(int argc, char **argv)
{
    http_config cfg = {.listen = "127.0.0.1:0",
                       .threads = argc > 1 ? atoi(argv[1]) : 0,
                       .workers = argc > 2 ? (unsigned)atoi(argv[2]) : 0};
    http_server *srv = NULL;
    struct rlimit rl;
    sigset_t set;
    int sig = 0;
    kt_err err;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            perror("http_server_bench: setrlimit");
    }
    if (log_init("warn", NULL) != KT_OK)
        return 1;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Blocked before the server's threads exist, so they inherit the mask
     * and sigwait below is the only receiver. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (http_server_start(&cfg, routes, sizeof routes / sizeof routes[0], NULL, &srv, &err) != KT_OK) {
        fprintf(stderr, "http_server_bench: %s\n", err.msg);
        return 1;
    }
    printf("port %d\n", http_server_port(srv));
    fflush(stdout);
    sigwait(&set, &sig);
    http_server_stop(srv);
    return 0;
}

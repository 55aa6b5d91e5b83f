/* test_spotify_client.c - the Spotify client against the real emulator.
 *
 * Each test starts its own spotify-emulator (path in SPOTIFY_EMULATOR; the
 * port is read from its first stdout line), logs a user in through
 * /authorize + spotify_exchange_code, and drives the client with an
 * in-memory token store behind spotify_token_hooks. What happened on the
 * wire is checked from the emulator's control API (/__emulator/stats:
 * counts per endpoint and request timestamps; /__emulator/users/ID/truth),
 * never from sleeps. Faults are targeted with "only" and "count".
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "spotify/spotify.h"
#include "spotify/spotify_internal.h" /* spotify_flight_*: the slot rules alone */

#define REDIRECT "http://127.0.0.1:8080/api/auth/callback"
#define SECRET "keeptrack-test-secret"
#define CLIENT "keeptrack-test-client"

/* ---- the emulator process ---- */

typedef struct emulator {
    pid_t pid;
    int out_fd;
    pthread_t drain;
    int draining;
    char base[64]; /* http://127.0.0.1:PORT */
} emulator;

static void *drain_main(void *arg)
{
    emulator *em = arg;
    char chunk[4096];
    while (read(em->out_fd, chunk, sizeof chunk) > 0) {
    }
    return NULL;
}

/* Reads the first stdout line ("spotify-emulator listening on URL"). */
static int read_banner(emulator *em, char *line, size_t linesz)
{
    size_t n = 0;
    int64_t deadline = time_mono_ms() + 15000;
    while (n + 1 < linesz) {
        struct pollfd p = {.fd = em->out_fd, .events = POLLIN};
        int64_t left = deadline - time_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t r = read(em->out_fd, line + n, 1);
        if (r <= 0)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    return 0;
}

static void emulator_start(emulator *em, const char *const *extra)
{
    const char *bin = getenv("SPOTIFY_EMULATOR");
    const char *argv[32];
    size_t a = 0;
    argv[a++] = bin;
    argv[a++] = "--listen";
    argv[a++] = "127.0.0.1:0";
    for (size_t i = 0; extra && extra[i] && a < 30; i++)
        argv[a++] = extra[i];
    argv[a] = NULL;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    /* fork + exec rather than posix_spawn: the child asks for SIGTERM when
     * the test process dies, so a crashed or killed test leaves no emulator. */
    pid_t parent = getpid();
    em->pid = fork();
    assert_true(em->pid >= 0);
    if (em->pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent ||
            dup2(fds[1], 1) < 0)
            _exit(127);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    em->out_fd = fds[0];
    char line[256];
    assert_int_equal(read_banner(em, line, sizeof line), 0);
    const char *url = strstr(line, "http://");
    assert_non_null(url);
    snprintf(em->base, sizeof em->base, "%s", url);
    assert_int_equal(pthread_create(&em->drain, NULL, drain_main, em), 0);
    em->draining = 1;
}

static void emulator_stop(emulator *em)
{
    if (em->pid > 0) {
        kill(em->pid, SIGTERM);
        int status;
        waitpid(em->pid, &status, 0);
        em->pid = 0;
    }
    if (em->draining)
        pthread_join(em->drain, NULL);
    em->draining = 0;
    close(em->out_fd);
}

/* ---- control API ---- */

typedef struct resp {
    char *data;
    size_t len;
} resp;

static size_t resp_write(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    char *d = realloc(r->data, r->len + size * n + 1);
    if (!d)
        return 0;
    memcpy(d + r->len, p, size * n);
    r->len += size * n;
    d[r->len] = '\0';
    r->data = d;
    return size * n;
}

/* method + path under the emulator's base; body JSON text or NULL.
 * Returns the parsed answer; *location (may be NULL) gets a redirect. */
static json_t *http_call(emulator *em, const char *method, const char *path, const char *body,
                         long *status, char **location)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", em->base, path);
    resp r = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, resp_write), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &r), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L), CURLE_OK);
    if (strcmp(method, "POST") == 0)
        assert_int_equal(curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "{}"), CURLE_OK);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    if (status)
        *status = st;
    if (location) {
        char *loc = NULL;
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
        *location = loc ? strdup(loc) : NULL;
    }
    json_t *j = r.data ? json_loads(r.data, JSON_DECODE_ANY, NULL) : NULL;
    free(r.data);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return j;
}

static json_t *ctl(emulator *em, const char *method, const char *path, const char *body)
{
    long st = 0;
    json_t *j = http_call(em, method, path, body, &st, NULL);
    if (st < 200 || st > 299)
        fail_msg("control API %s %s answered %ld", method, path, st);
    return j;
}

static void ctl_do(emulator *em, const char *path, const char *body)
{
    json_decref(ctl(em, "POST", path, body));
}

/* Count of requests to endpoint (e.g. "POST /api/token") with status (NULL: all). */
static long stat_count(emulator *em, const char *endpoint, const char *status)
{
    json_t *s = ctl(em, "GET", "/__emulator/stats", NULL);
    json_t *ep = json_object_get(json_object_get(s, "endpoints"), endpoint);
    long n = 0;
    if (ep)
        n = status ? (long)json_integer_value(json_object_get(json_object_get(ep, "statuses"), status))
                   : (long)json_integer_value(json_object_get(ep, "count"));
    json_decref(s);
    return n;
}

/* t_ms of each request to endpoint (in arrival order), at most max. */
static size_t request_times(emulator *em, const char *endpoint, double *out, size_t max)
{
    json_t *s = ctl(em, "GET", "/__emulator/stats", NULL);
    json_t *reqs = json_object_get(s, "requests");
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        const char *e = json_string_value(json_object_get(r, "endpoint"));
        if (e && strcmp(e, endpoint) == 0 && n < max)
            out[n++] = json_number_value(json_object_get(r, "t_ms"));
    }
    json_decref(s);
    return n;
}

/* ---- an in-memory token store behind the hooks ---- */

typedef struct store {
    pthread_mutex_t mu;
    spotify_tokens t;
    int have;
    int saves;
    int revoked;
    int loads;
} store;

static kt_status h_load(void *ctx, int64_t user_id, spotify_tokens *out, kt_err *err)
{
    store *s = ctx;
    (void)user_id;
    pthread_mutex_lock(&s->mu);
    s->loads++;
    int have = s->have;
    if (have)
        *out = s->t;
    pthread_mutex_unlock(&s->mu);
    return have ? KT_OK : err_set(err, KT_ERR_REAUTH, "reauth_required", "no tokens");
}

static kt_status h_save(void *ctx, int64_t user_id, const spotify_tokens *t, kt_err *err)
{
    store *s = ctx;
    (void)user_id;
    (void)err;
    pthread_mutex_lock(&s->mu);
    s->t = *t;
    s->have = 1;
    s->saves++;
    pthread_mutex_unlock(&s->mu);
    return KT_OK;
}

static void h_revoked(void *ctx, int64_t user_id, const char *reason)
{
    store *s = ctx;
    (void)user_id;
    (void)reason;
    pthread_mutex_lock(&s->mu);
    s->revoked++;
    s->have = 0;
    spotify_tokens_wipe(&s->t);
    pthread_mutex_unlock(&s->mu);
}

/* ---- fixture ---- */

typedef struct fx {
    emulator em;
    store st;
    spotify_client *c;
    char api[96];
    char accounts[64];
} fx;

static const spotify_config base_cfg = {
    .client_id = CLIENT,
    .client_secret = SECRET,
    .concurrency = 4,
    .max_retries = 3,
    .backoff_base_ms = 20,
    .backoff_max_ms = 200,
    .timeout_ms = 5000,
};

static void fx_client(fx *f, const spotify_config *cfg_in)
{
    spotify_config cfg = cfg_in ? *cfg_in : base_cfg;
    cfg.accounts_url = f->accounts;
    cfg.api_url = f->api;
    spotify_token_hooks hooks = {.ctx = &f->st, .load = h_load, .save = h_save,
                                 .revoked = h_revoked};
    spotify_client_free(f->c);
    f->c = NULL;
    kt_err err;
    if (spotify_client_new(&cfg, &hooks, &f->c, &err) != KT_OK)
        fail_msg("spotify_client_new: %s", err.msg);
}

/* Logs `user` in: /authorize (auto consent) then the code exchange. */
static void fx_login(fx *f, const char *user)
{
    char verifier[44], challenge[44], *url = NULL, *loc = NULL;
    kt_err err;
    crypto_pkce_pair(verifier, challenge);
    assert_int_equal(spotify_authorize_url(f->c, REDIRECT,
                                           "user-library-read playlist-read-private user-follow-read "
                                           "user-read-recently-played user-top-read",
                                           "st4te", challenge, &url, &err),
                     KT_OK);
    assert_int_equal(strncmp(url, f->accounts, strlen(f->accounts)), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s&emulator_user=%s", url + strlen(f->accounts), user);
    long st = 0;
    json_decref(http_call(&f->em, "GET", path, NULL, &st, &loc));
    assert_int_equal(st, 302);
    assert_non_null(loc);
    assert_non_null(strstr(loc, "state=st4te"));
    const char *code = strstr(loc, "code=");
    assert_non_null(code);
    code += 5;
    char codebuf[512];
    size_t n = strcspn(code, "&");
    assert_true(n < sizeof codebuf);
    memcpy(codebuf, code, n);
    codebuf[n] = '\0';
    spotify_tokens t;
    if (spotify_exchange_code(f->c, codebuf, REDIRECT, verifier, &t, &err) != KT_OK)
        fail_msg("exchange: %s", err.msg);
    assert_true(t.access_token[0] && t.refresh_token[0]);
    assert_true(t.expires_at_ms > time_now_ms() + 600000);
    /* A code is single use. */
    spotify_tokens again;
    assert_int_equal(spotify_exchange_code(f->c, codebuf, REDIRECT, verifier, &again, &err),
                     KT_ERR_INVALID);
    assert_string_equal(err.code, "invalid_grant");
    h_save(&f->st, 1, &t, NULL);
    f->st.saves = 0;
    free(url);
    free(loc);
}

static void fx_start(fx *f, const char *const *args, const spotify_config *cfg)
{
    memset(f, 0, sizeof *f);
    if (!getenv("SPOTIFY_EMULATOR")) {
        fprintf(stderr, "SPOTIFY_EMULATOR is not set: skipping\n");
        skip();
    }
    pthread_mutex_init(&f->st.mu, NULL);
    emulator_start(&f->em, args);
    snprintf(f->api, sizeof f->api, "%s/v1", f->em.base);
    snprintf(f->accounts, sizeof f->accounts, "%s", f->em.base);
    fx_client(f, cfg);
    fx_login(f, "alice");
    ctl_do(&f->em, "/__emulator/stats/reset", "{}");
}

static void fx_stop(fx *f)
{
    spotify_client_free(f->c);
    emulator_stop(&f->em);
    pthread_mutex_destroy(&f->st.mu);
}

static const char *const DEV_ARGS[] = {
    "--user", "alice:liked=237,playlists=5,playlist_items=3-120,followed_playlists=2,followed=73,plays=30",
    "--user", "bob:liked=3", NULL};
static const char *const EXT_ARGS[] = {"--mode", "extended", "--user", "alice:liked=20", NULL};
static const char *const ROTATE_ARGS[] = {"--rotate-refresh", "--user", "alice:liked=5", NULL};

/* ---- paging ---- */

typedef struct collect {
    json_t *items; /* every item of every page, in order */
    int pages;
} collect;

static kt_status collect_page(void *ctx, const json_t *page, kt_err *err)
{
    (void)err;
    collect *c = ctx;
    c->pages++;
    json_array_extend(c->items, json_object_get(page, "items"));
    return KT_OK;
}

/* Compares id lists: got[i].key.id vs want[i].key.id (key NULL: the item). */
static void assert_same_ids(const json_t *got, const json_t *want, const char *key)
{
    assert_int_equal(json_array_size(got), json_array_size(want));
    for (size_t i = 0; i < json_array_size(got); i++) {
        const json_t *g = json_array_get(got, i), *w = json_array_get(want, i);
        if (key) {
            g = json_object_get(g, key);
            w = json_object_get(w, key);
        }
        assert_true(json_equal((json_t *)g, (json_t *)w));
    }
}

static void test_offset_paging_matches_truth(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    json_t *truth = ctl(&f.em, "GET", "/__emulator/users/alice/truth", NULL);
    /* The emulator logs a request when it answers, LATENCY_MS after it
     * arrived: a page sent after another was answered is logged at least
     * LATENCY_MS after it. So logged times closer than that prove the pages
     * were in flight together, however slow the machine (no speed assumed;
     * a long latency only leaves a slow client time to start them all). */
    enum { LATENCY_MS = 1000 };
    ctl_do(&f.em, "/__emulator/faults", "{\"latency_ms\":1000}");
    collect col = {json_array(), 0};
    kt_err err;
    uint64_t before = spotify_thread_requests();
    if (spotify_get_all_offset(f.c, 1, "/me/tracks", 50, NULL, collect_page, &col, &err) != KT_OK)
        fail_msg("walk: %s", err.msg);
    assert_int_equal(col.pages, 5);
    assert_int_equal(spotify_thread_requests() - before, 5);
    json_t *liked = json_object_get(truth, "liked");
    assert_int_equal(json_array_size(liked), 237);
    /* Exactly the truth, in order: whole objects (added_at + track). */
    assert_same_ids(col.items, liked, NULL);
    assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", "200"), 5);
    /* Pages 2..5 were in flight together (concurrency 4). */
    double t[16];
    size_t n = request_times(&f.em, "GET /v1/me/tracks", t, 16);
    assert_int_equal(n, 5);
    double lo = t[1], hi = t[1];
    for (size_t i = 1; i < n; i++) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    assert_true(hi - lo < LATENCY_MS);
    /* The first page was answered before the rest were sent: it gave the
     * total (1 ms: the log's rounding). */
    assert_true(t[0] + LATENCY_MS <= lo + 1.0);
    json_decref(col.items);

    /* Playlists and the items of each owned one, exactly as the truth. */
    ctl_do(&f.em, "/__emulator/faults", "{\"latency_ms\":0}");
    col = (collect){json_array(), 0};
    assert_int_equal(spotify_get_all_offset(f.c, 1, "/me/playlists", 50, NULL, collect_page, &col,
                                            &err),
                     KT_OK);
    json_t *pls = json_object_get(truth, "playlists");
    assert_int_equal(json_array_size(col.items), json_array_size(pls));
    assert_int_equal(json_array_size(pls), 7);
    int owned = 0, foreign = 0;
    for (size_t i = 0; i < json_array_size(pls); i++) {
        json_t *tp = json_array_get(pls, i);
        const char *id = json_string_value(json_object_get(tp, "id"));
        assert_string_equal(id, json_string_value(json_object_get(json_array_get(col.items, i), "id")));
        char path[256];
        snprintf(path, sizeof path, "/playlists/%s/items", id);
        collect items = {json_array(), 0};
        kt_status st = spotify_get_all_offset(f.c, 1, path, 50, NULL, collect_page, &items, &err);
        json_t *want = json_object_get(tp, "items");
        if (json_is_null(want)) {
            foreign++;
            assert_int_equal(st, KT_ERR_FORBIDDEN);
            assert_string_equal(err.code, "not_playlist_owner");
        } else {
            owned++;
            assert_int_equal(st, KT_OK);
            /* the client leaves out the deprecated "track" copy of "item"
             * (spotify.h, Web API): the truth without it */
            json_t *lean = json_deep_copy(want);
            size_t k;
            json_t *e;
            json_array_foreach(lean, k, e) {
                if (json_object_get(e, "item"))
                    json_object_del(e, "track");
            }
            assert_same_ids(items.items, lean, NULL);
            json_decref(lean);
        }
        json_decref(items.items);
    }
    /* 5 owned; of the 2 followed ones, collaborative ones are readable. */
    assert_true(owned >= 5);
    assert_true(foreign >= 1);
    assert_int_equal(owned + foreign, 7);
    json_decref(col.items);

    /* Cursor paging: followed artists, 73 over two pages. */
    col = (collect){json_array(), 0};
    assert_int_equal(spotify_get_all_cursor(f.c, 1, "/me/following?type=artist&limit=50", "artists",
                                            collect_page, &col, &err),
                     KT_OK);
    assert_int_equal(col.pages, 2);
    assert_same_ids(col.items, json_object_get(truth, "followed_artists"), "id");
    json_decref(col.items);
    json_decref(truth);
    fx_stop(&f);
}

/* Guessed cursors (the stored copy's page ends): a right guess costs no
 * extra request, a wrong one one request and the walk goes on serially, and
 * either way the pages are exactly the truth's. */
static void test_cursor_guesses(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    json_t *truth = ctl(&f.em, "GET", "/__emulator/users/alice/truth", NULL);
    const json_t *want = json_object_get(truth, "followed_artists");
    assert_int_equal(json_array_size(want), 73);
    const char *right = json_string_value(json_object_get(json_array_get(want, 49), "id"));
    const char *wrong = json_string_value(json_object_get(json_array_get(want, 48), "id"));
    struct {
        const char *guess;
        int64_t total;
        uint64_t requests;
    } cases[] = {{right, 73, 2}, {wrong, 73, 3}, {wrong, 74, 2}, {"not-plain", 73, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        collect col = {json_array(), 0};
        kt_err err;
        uint64_t before = spotify_thread_requests();
        if (spotify_get_cursor_guessed(f.c, 1, "/me/following?type=artist&limit=50", "artists",
                                       cases[i].total, &cases[i].guess, 1, collect_page, &col,
                                       &err) != KT_OK)
            fail_msg("case %zu: %s", i, err.msg);
        assert_int_equal(col.pages, 2);
        assert_int_equal(spotify_thread_requests() - before, cases[i].requests);
        assert_same_ids(col.items, want, "id");
        json_decref(col.items);
    }
    json_decref(truth);
    fx_stop(&f);
}

static kt_status stop_after_two(void *ctx, const json_t *page, kt_err *err)
{
    (void)page;
    int *n = ctx;
    if (++*n == 2)
        return err_set(err, KT_ERR_CONFLICT, "stop", "caller stopped");
    return KT_OK;
}

static void test_paging_stops_on_callback_error(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    int n = 0;
    kt_err err;
    assert_int_equal(spotify_get_all_offset(f.c, 1, "/me/tracks", 20, NULL, stop_after_two, &n, &err),
                     KT_ERR_CONFLICT);
    assert_string_equal(err.code, "stop");
    assert_int_equal(n, 2);
    assert_int_equal(spotify_get_all_offset(f.c, 1, "/me/tracks?offset=3", 20, NULL, stop_after_two,
                                            &n, &err),
                     KT_ERR_INVALID);
    assert_int_equal(spotify_get_all_offset(f.c, 1, "/me/tracks", 51, NULL, stop_after_two, &n, &err),
                     KT_ERR_INVALID);
    fx_stop(&f);
}

typedef struct each_ctx {
    json_t *ids;
    size_t next;
} each_ctx;

static kt_status each_body(void *ctx, size_t idx, const json_t *body, kt_err *err)
{
    (void)err;
    each_ctx *e = ctx;
    assert_int_equal(idx, e->next++);
    json_array_append(e->ids, json_object_get(json_object_get(json_array_get(json_object_get(body, "items"), 0), "track"), "id"));
    return KT_OK;
}

static void test_get_each_in_order(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    ctl_do(&f.em, "/__emulator/faults", "{\"jitter_ms\":40}"); /* completions out of order */
    enum { N = 24 };
    char bufs[N][64];
    const char *paths[N];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "/me/tracks?limit=1&offset=%d", i);
        paths[i] = bufs[i];
    }
    each_ctx e = {json_array(), 0};
    kt_err err;
    assert_int_equal(spotify_get_each(f.c, 1, paths, N, each_body, &e, &err), KT_OK);
    assert_int_equal(e.next, N);
    json_t *truth = ctl(&f.em, "GET", "/__emulator/users/alice/truth", NULL);
    json_t *liked = json_object_get(truth, "liked");
    for (size_t i = 0; i < N; i++)
        assert_string_equal(json_string_value(json_array_get(e.ids, i)),
                            json_string_value(json_object_get(json_object_get(json_array_get(liked, i), "track"), "id")));
    json_decref(truth);
    json_decref(e.ids);
    fx_stop(&f);
}

/* The storage of a finished body serves the next transfer while a batch
 * runs, and an idle client keeps none (spotify_body_reuse/recycle). */
static void test_body_storage_pool(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    spotify_client *c = f.c;
    buf b, other;
    buf_init(&b, 0);
    buf_init(&other, 0);
    /* nothing running: a recycled body is freed, not kept */
    assert_int_equal(buf_reserve(&b, 1000), KT_OK);
    spotify_body_recycle(c, &b);
    assert_null(b.data);
    assert_int_equal(c->bodies_n, 0);

    CURLM *m = spotify_multi_acquire(c);
    assert_non_null(m);
    assert_int_equal(buf_reserve(&b, 100000), KT_OK);
    assert_int_equal(buf_puts(&b, "page"), KT_OK);
    char *storage = b.data;
    size_t cap = b.cap;
    spotify_body_recycle(c, &b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(c->bodies_n, 1);
    /* too small for what is asked: left in the pool */
    spotify_body_reuse(c, &other, cap);
    assert_null(other.data);
    /* fits: the same storage, empty */
    spotify_body_reuse(c, &other, 5000);
    assert_ptr_equal(other.data, storage);
    assert_int_equal(other.cap, cap);
    assert_int_equal(other.len, 0);
    assert_string_equal(other.data, "");
    assert_int_equal(c->bodies_n, 0);
    assert_int_equal(buf_puts(&other, "next"), KT_OK);
    spotify_body_recycle(c, &other);
    assert_int_equal(c->bodies_n, 1);
    /* the last multi back: the pool is emptied */
    spotify_multi_release(c, m);
    assert_int_equal(c->bodies_n, 0);
    assert_int_equal(c->multis_out, 0);

    /* a real batch leaves nothing behind either */
    enum { N = 12 };
    char bufs[N][64];
    const char *paths[N];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "/me/tracks?limit=50&offset=%d", i);
        paths[i] = bufs[i];
    }
    each_ctx e = {json_array(), 0};
    kt_err err;
    assert_int_equal(spotify_get_each(c, 1, paths, N, each_body, &e, &err), KT_OK);
    assert_int_equal(e.next, N);
    assert_int_equal(c->bodies_n, 0);
    assert_int_equal(c->multis_out, 0);
    json_decref(e.ids);
    fx_stop(&f);
}

/* ---- tokens ---- */

static void test_401_refreshes_once_and_retries_once(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    char old_access[1024], old_refresh[1024];
    strcpy(old_access, f.st.t.access_token);
    strcpy(old_refresh, f.st.t.refresh_token);
    ctl_do(&f.em, "/__emulator/tokens/expire", "{\"user\":\"alice\"}");
    json_t *me = NULL;
    kt_err err;
    if (spotify_get(f.c, 1, "/me", &me, &err) != KT_OK)
        fail_msg("get /me: %s", err.msg);
    assert_string_equal(json_string_value(json_object_get(me, "id")), "alice");
    json_decref(me);
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "401"), 1);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "200"), 1);
    assert_int_equal(f.st.saves, 1);
    assert_string_not_equal(f.st.t.access_token, old_access);
    /* A confidential client without rotation gets no new refresh token:
     * the old one is kept (and saved again). */
    assert_string_equal(f.st.t.refresh_token, old_refresh);

    /* Several requests in flight with the expired token: still one refresh. */
    ctl_do(&f.em, "/__emulator/stats/reset", "{}");
    ctl_do(&f.em, "/__emulator/tokens/expire", "{\"user\":\"alice\"}");
    const char *paths[] = {"/me", "/me/tracks?limit=1", "/me/playlists?limit=1", "/me/albums?limit=1"};
    json_t *outs[4];
    assert_int_equal(spotify_get_many(f.c, 1, paths, 4, outs, &err), KT_OK);
    for (int i = 0; i < 4; i++) {
        assert_non_null(outs[i]);
        json_decref(outs[i]);
    }
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    fx_stop(&f);
}

typedef struct thread_arg {
    spotify_client *c;
    kt_status st;
    char msg[320];
} thread_arg;

static void *call_me(void *p)
{
    thread_arg *a = p;
    json_t *me = NULL;
    kt_err err;
    a->st = spotify_get(a->c, 1, "/me", &me, &err);
    if (a->st != KT_OK)
        snprintf(a->msg, sizeof a->msg, "%s", err.msg);
    json_decref(me);
    return NULL;
}

enum { THREADS_MAX = 16 };

/* Runs fn in n threads at once, each with its own args[i] on client c, waits
 * for them all, then fails unless every one ended with want. */
static void run_threads(spotify_client *c, void *(*fn)(void *), thread_arg *args, int n,
                        kt_status want)
{
    pthread_t th[THREADS_MAX];
    assert_true(n <= THREADS_MAX);
    for (int i = 0; i < n; i++) {
        args[i] = (thread_arg){.c = c};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++)
        if (args[i].st != want)
            fail_msg("thread %d: status %d, want %d: %s", i, args[i].st, want, args[i].msg);
}

static void test_single_flight_near_expiry(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    /* The stored token expires in 30 s: every caller wants a refresh. */
    f.st.t.expires_at_ms = time_now_ms() + 30000;
    enum { N = 16 };
    thread_arg args[N];
    run_threads(f.c, call_me, args, N, KT_OK);
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "200"), N);
    assert_int_equal(f.st.saves, 1);
    assert_true(f.st.t.expires_at_ms > time_now_ms() + 600000);
    fx_stop(&f);
}

/* A new client makes its curl share on its first request (issue 17: not
 * when it is made): 16 first requests at once from 16 threads all get their
 * answer, over one share (a second one would leak: ASan reports it). */
static void test_first_requests_at_once(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    fx_client(&f, NULL); /* a fresh client: the tokens stay in the hooks' store */
    enum { N = 16 };
    thread_arg args[N];
    run_threads(f.c, call_me, args, N, KT_OK);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "200"), N);
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 0);
    fx_stop(&f);
}

static void test_rotated_refresh_token_saved(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, ROTATE_ARGS, NULL);
    char old_refresh[1024];
    strcpy(old_refresh, f.st.t.refresh_token);
    kt_err err;
    if (spotify_refresh_user(f.c, 1, &err) != KT_OK)
        fail_msg("refresh: %s", err.msg);
    assert_int_equal(f.st.saves, 1);
    assert_string_not_equal(f.st.t.refresh_token, old_refresh);
    /* The saved one is the newest the emulator issued, and it works. */
    json_t *toks = ctl(&f.em, "GET", "/__emulator/tokens", NULL);
    json_t *refresh = json_object_get(toks, "refresh");
    assert_string_equal(json_string_value(json_array_get(refresh, json_array_size(refresh) - 1)),
                        f.st.t.refresh_token);
    json_decref(toks);
    assert_int_equal(spotify_refresh_user(f.c, 1, &err), KT_OK);
    assert_int_equal(f.st.saves, 2);
    assert_int_equal(stat_count(&f.em, "POST /api/token", "200"), 2);
    assert_int_equal(f.st.revoked, 0);
    fx_stop(&f);
}

static void test_public_client_pkce(void **state)
{
    (void)state;
    fx f;
    spotify_config cfg = base_cfg;
    cfg.client_secret = NULL; /* PKCE only: client_id in the form body */
    fx_start(&f, DEV_ARGS, &cfg);
    char old_refresh[1024];
    strcpy(old_refresh, f.st.t.refresh_token);
    kt_err err;
    if (spotify_refresh_user(f.c, 1, &err) != KT_OK)
        fail_msg("refresh: %s", err.msg);
    /* Spotify rotates public clients' refresh tokens: the new one is saved. */
    assert_string_not_equal(f.st.t.refresh_token, old_refresh);
    json_t *j = NULL;
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_OK);
    json_decref(j);
    /* No secret, no app token. */
    assert_int_equal(spotify_get(f.c, SPOTIFY_APP_USER, "/me", &j, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "bad_config");
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    fx_stop(&f);
}

static void test_revoked_refresh_token(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    ctl_do(&f.em, "/__emulator/tokens/revoke", "{\"user\":\"alice\"}");
    ctl_do(&f.em, "/__emulator/tokens/expire", "{\"user\":\"alice\"}");
    json_t *me = NULL;
    kt_err err;
    assert_int_equal(spotify_get(f.c, 1, "/me", &me, &err), KT_ERR_REAUTH);
    assert_string_equal(err.code, "reauth_required");
    assert_null(me);
    assert_int_equal(f.st.revoked, 1);
    assert_int_equal(f.st.have, 0);
    assert_int_equal(stat_count(&f.em, "POST /api/token", "400"), 1);
    /* Never retried: later calls fail without another token request. */
    assert_int_equal(spotify_get(f.c, 1, "/me", &me, &err), KT_ERR_REAUTH);
    assert_int_equal(spotify_refresh_user(f.c, 1, &err), KT_ERR_REAUTH);
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    assert_int_equal(f.st.revoked, 1);
    fx_stop(&f);
}

static void *call_app(void *p)
{
    thread_arg *a = p;
    json_t *j = NULL;
    kt_err err;
    a->st = spotify_get(a->c, SPOTIFY_APP_USER, "/browse/new-releases?limit=1", &j, &err);
    json_decref(j);
    return NULL;
}

static void test_app_token_once(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    enum { N = 8 };
    thread_arg args[N];
    run_threads(f.c, call_app, args, N, KT_ERR_FORBIDDEN); /* development mode */
    assert_int_equal(stat_count(&f.em, "POST /api/token", "200"), 1);
    assert_int_equal(stat_count(&f.em, "POST /api/token", NULL), 1);
    fx_stop(&f);
}

/* ---- 429 ---- */

static void test_429_short_retry_after_honoured(void **state)
{
    (void)state;
    fx f;
    spotify_config cfg = base_cfg;
    cfg.max_wait_ms = 35000;
    fx_start(&f, DEV_ARGS, &cfg);
    /* One request per rolling 30 s window: the second call gets a 429 with
     * Retry-After (about 30 s) and waits it out in-thread. */
    ctl_do(&f.em, "/__emulator/faults", "{\"rate_limit\":1}");
    json_t *j = NULL;
    kt_err err;
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_OK);
    json_decref(j);
    if (spotify_get(f.c, 1, "/me/tracks?limit=1", &j, &err) != KT_OK)
        fail_msg("second call: %s", err.msg);
    json_decref(j);
    json_t *s = ctl(&f.em, "GET", "/__emulator/stats", NULL);
    json_t *reqs = json_object_get(s, "requests");
    double t429 = -1, tok = -1, t0 = -1;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        const char *e = json_string_value(json_object_get(r, "endpoint"));
        long st = (long)json_integer_value(json_object_get(r, "status"));
        double t = json_number_value(json_object_get(r, "t_ms"));
        if (strcmp(e, "GET /v1/me") == 0)
            t0 = t;
        else if (strcmp(e, "GET /v1/me/tracks") == 0 && st == 429 && t429 < 0)
            t429 = t;
        else if (strcmp(e, "GET /v1/me/tracks") == 0 && st == 200)
            tok = t;
    }
    json_decref(s);
    assert_true(t0 > 0 && t429 > 0 && tok > 0);
    /* The retry came no earlier than the window allowed. */
    assert_true(tok - t0 >= 30000.0 - 5.0);
    assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", "429"), 1);
    fx_stop(&f);
}

static void test_429_long_is_deferred(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL); /* max_wait_ms 5000 */
    ctl_do(&f.em, "/__emulator/faults", "{\"rate_limit\":1}");
    json_t *j = NULL;
    kt_err err;
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_OK);
    json_decref(j);
    int64_t now = time_now_ms();
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_ERR_DEFERRED);
    assert_string_equal(err.code, "rate_limited");
    assert_int_equal(err.upstream_status, 429);
    assert_in_range(err.retry_at_ms, now + 25000, now + 31000);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "429"), 1);
    fx_stop(&f);
}

static void test_quota_exceeded_deferred(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    ctl_do(&f.em, "/__emulator/faults", "{\"quota_exceeded\":true,\"quota_retry_after_s\":2}");
    json_t *j = NULL;
    kt_err err;
    int64_t now = time_now_ms();
    /* Even a Retry-After short enough to wait is not waited: quota. */
    assert_int_equal(spotify_get(f.c, 1, "/me/tracks?limit=1", &j, &err), KT_ERR_DEFERRED);
    assert_string_equal(err.code, "quota_exceeded");
    assert_in_range(err.retry_at_ms, now + 1000, now + 4000);
    assert_null(j);
    assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", NULL), 1);
    ctl_do(&f.em, "/__emulator/faults", "{\"quota_exceeded\":false}");
    assert_int_equal(spotify_get(f.c, 1, "/me/tracks?limit=1", &j, &err), KT_OK);
    json_decref(j);
    fx_stop(&f);
}

/* ---- failures ---- */

static void test_5xx_retried_then_reported(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    ctl_do(&f.em, "/__emulator/faults", "{\"fail_rate\":1,\"only\":\"GET /v1/me\",\"count\":2}");
    json_t *j = NULL;
    kt_err err;
    if (spotify_get(f.c, 1, "/me", &j, &err) != KT_OK)
        fail_msg("get: %s", err.msg);
    json_decref(j);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", NULL), 3);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "200"), 1);

    ctl_do(&f.em, "/__emulator/stats/reset", "{}");
    ctl_do(&f.em, "/__emulator/faults", "{\"fail_rate\":1,\"only\":\"GET /v1/me\",\"count\":100}");
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_ERR_UPSTREAM);
    assert_string_equal(err.code, "upstream_failed");
    assert_non_null(strstr(err.msg, "GET /me"));
    assert_non_null(strstr(err.msg, "4 attempts"));
    assert_non_null(strstr(err.msg, "HTTP 50"));
    assert_int_equal(stat_count(&f.em, "GET /v1/me", NULL), 4); /* 1 + max_retries */
    fx_stop(&f);
}

static void test_bad_bodies_and_transport(void **state)
{
    (void)state;
    fx f;
    spotify_config cfg = base_cfg;
    cfg.timeout_ms = 700;
    fx_start(&f, DEV_ARGS, &cfg);
    static const char *const faults[] = {"truncate_rate", "malformed_rate", "drop_rate", "hang_rate"};
    for (size_t i = 0; i < 4; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"%s\":1,\"only\":\"GET /v1/me/tracks\",\"count\":1}", faults[i]);
        ctl_do(&f.em, "/__emulator/stats/reset", "{}");
        ctl_do(&f.em, "/__emulator/faults", body);
        json_t *j = NULL;
        kt_err err;
        if (spotify_get(f.c, 1, "/me/tracks?limit=50", &j, &err) != KT_OK)
            fail_msg("%s: %s", faults[i], err.msg);
        assert_int_equal(json_array_size(json_object_get(j, "items")), 50);
        json_decref(j);
        assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", NULL), 2);
    }
    /* Malformed every time: reported, naming the endpoint and the failure. */
    ctl_do(&f.em, "/__emulator/faults",
           "{\"malformed_rate\":1,\"only\":\"GET /v1/me/tracks\",\"count\":100}");
    json_t *j = NULL;
    kt_err err;
    assert_int_equal(spotify_get(f.c, 1, "/me/tracks?limit=50", &j, &err), KT_ERR_UPSTREAM);
    assert_non_null(strstr(err.msg, "GET /me/tracks"));
    assert_non_null(strstr(err.msg, "malformed"));
    fx_stop(&f);
}

/* spotify_get_each collector: every body's items, checking order. */
typedef struct each_col {
    json_t *items;
    size_t next; /* the index the next body must have */
    size_t stop_at; /* fail on this index (0: never) */
} each_col;

static kt_status each_collect(void *ctx, size_t idx, const json_t *body, kt_err *err)
{
    each_col *c = ctx;
    if (idx != c->next)
        return err_set(err, KT_ERR_INTERNAL, NULL, "body %zu delivered before %zu", idx, c->next);
    if (c->stop_at && idx == c->stop_at)
        return err_set(err, KT_ERR_INVALID, "stopped", "stopped at body %zu", idx);
    c->next++;
    json_array_extend(c->items, json_object_get(body, "items"));
    return KT_OK;
}

/* A batch parses its bodies on a second thread (spotify_delivery.c): bodies
 * that do not parse there go back to the engine and are retried, the rest
 * still arrive in order, and an error from the callback ends the batch. */
static void test_batch_delivery_thread(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    json_t *truth = ctl(&f.em, "GET", "/__emulator/users/alice/truth", NULL);
    const json_t *liked = json_object_get(truth, "liked");
    const char *paths[5];
    char bufs[5][64];
    for (size_t i = 0; i < 5; i++) {
        snprintf(bufs[i], sizeof bufs[i], "/me/tracks?limit=50&offset=%zu", i * 50);
        paths[i] = bufs[i];
    }
    /* The first three answers (all in flight together) are malformed. */
    ctl_do(&f.em, "/__emulator/faults",
           "{\"malformed_rate\":1,\"only\":\"GET /v1/me/tracks\",\"count\":3}");
    each_col col = {json_array(), 0, 0};
    kt_err err;
    if (spotify_get_each(f.c, 1, paths, 5, each_collect, &col, &err) != KT_OK)
        fail_msg("get_each: %s", err.msg);
    assert_int_equal(col.next, 5);
    assert_same_ids(col.items, liked, NULL);
    assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", NULL), 5 + 3);
    json_decref(col.items);

    /* The callback's error ends the batch and comes back as it was. */
    ctl_do(&f.em, "/__emulator/faults", "{\"reset\":true}");
    col = (each_col){json_array(), 0, 2};
    assert_int_equal(spotify_get_each(f.c, 1, paths, 5, each_collect, &col, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "stopped");
    assert_int_equal(col.next, 2);
    json_decref(col.items);

    /* Malformed every time: the batch fails naming the endpoint. */
    ctl_do(&f.em, "/__emulator/faults",
           "{\"malformed_rate\":1,\"only\":\"GET /v1/me/tracks\",\"count\":1000}");
    col = (each_col){json_array(), 0, 0};
    assert_int_equal(spotify_get_each(f.c, 1, paths, 5, each_collect, &col, &err), KT_ERR_UPSTREAM);
    assert_non_null(strstr(err.msg, "GET /me/tracks"));
    assert_non_null(strstr(err.msg, "malformed"));
    assert_int_equal(col.next, 0);
    json_decref(col.items);
    json_decref(truth);
    fx_stop(&f);
}

typedef struct each_thread {
    spotify_client *c;
    const char *const *paths;
    size_t n;
    each_col col;
    kt_status st;
    kt_err err;
} each_thread;

static void *each_thread_main(void *arg)
{
    each_thread *t = arg;
    t->st = spotify_get_each(t->c, 1, t->paths, t->n, each_collect, &t->col, &t->err);
    return NULL;
}

/* Most requests in flight at once, from the emulator's log: each request
 * occupied [t - latency, t] there (shrunk by 1 ms against clock noise). */
static int max_in_flight(const double *t, size_t n, double latency_ms)
{
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        double at = t[i] - latency_ms + 1.0; /* the start of request i */
        for (size_t j = 0; j < n; j++)
            k += t[j] - latency_ms + 1.0 <= at && at < t[j] - 1.0;
        best = k > best ? k : best;
    }
    return best;
}

/* The concurrency limit is per user, not per batch: two threads walking the
 * same user's pages at once keep to it together, and still get everything. */
static void test_user_concurrency_shared_across_batches(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL); /* concurrency 4 */
    json_t *truth = ctl(&f.em, "GET", "/__emulator/users/alice/truth", NULL);
    json_t *want = json_array();
    for (size_t i = 0; i < 200; i++)
        json_array_append(want, json_array_get(json_object_get(truth, "liked"), i));
    char bufs[10][64];
    const char *paths[10];
    for (size_t i = 0; i < 10; i++) {
        snprintf(bufs[i], sizeof bufs[i], "/me/tracks?limit=20&offset=%zu", i * 20);
        paths[i] = bufs[i];
    }
    ctl_do(&f.em, "/__emulator/faults", "{\"latency_ms\":100}");
    each_thread t[2];
    pthread_t tid[2];
    for (int i = 0; i < 2; i++) {
        t[i] = (each_thread){.c = f.c, .paths = paths, .n = 10, .col = {json_array(), 0, 0}};
        assert_int_equal(pthread_create(&tid[i], NULL, each_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(tid[i], NULL);
        if (t[i].st != KT_OK)
            fail_msg("thread %d: %s", i, t[i].err.msg);
        assert_same_ids(t[i].col.items, want, NULL);
        json_decref(t[i].col.items);
    }
    double times[32];
    size_t n = request_times(&f.em, "GET /v1/me/tracks", times, 32);
    assert_int_equal(n, 20);
    assert_int_equal(max_in_flight(times, n, 100.0), 4);
    json_decref(want);
    json_decref(truth);
    fx_stop(&f);
}

/* A batch started on a thread that yields (spotify_thread_yield, as a sync's
 * main thread does behind its helpers) is refused a free slot while another
 * batch of the user waits for one, and takes it again once that batch has
 * started all it could; other users are not affected. The slot rules alone,
 * without transfers: deterministic. */
static void test_yielding_batch_gives_way(void **state)
{
    (void)state;
    fx f;
    memset(&f, 0, sizeof f);
    snprintf(f.accounts, sizeof f.accounts, "http://127.0.0.1:9");
    snprintf(f.api, sizeof f.api, "http://127.0.0.1:9/v1");
    spotify_config cfg = base_cfg;
    cfg.concurrency = 1;
    fx_client(&f, &cfg);
    CURLM *m1 = curl_multi_init(), *m2 = curl_multi_init(), *m3 = curl_multi_init();
    assert_true(m1 && m2 && m3);
    int was = spotify_thread_yield(1);
    spotify_flight *y = spotify_flight_join(f.c, 7, m1);
    assert_int_equal(spotify_thread_yield(0), 1);
    spotify_flight *n = spotify_flight_join(f.c, 7, m2);
    spotify_flight *other = spotify_flight_join(f.c, 8, m3); /* another user */
    assert_true(y && n && other);
    assert_int_equal(spotify_flight_take(y), 1); /* free: the yielding batch takes it */
    assert_int_equal(spotify_flight_take(n), 0); /* full: n waits */
    spotify_flight_give(y);
    assert_int_equal(spotify_flight_take(y), 0); /* free, but n waits: y gives way */
    assert_int_equal(spotify_flight_take(n), 1);
    assert_int_equal(spotify_flight_take(other), 1); /* user 8's own slot */
    spotify_flight_satisfied(n);                   /* n started all it had */
    spotify_flight_give(n);
    assert_int_equal(spotify_flight_take(y), 1); /* nobody waits: y takes it */
    spotify_flight_give(y);
    spotify_flight_give(other);
    spotify_flight_leave(y);
    spotify_flight_leave(n);
    spotify_flight_leave(other);
    spotify_thread_yield(was);
    curl_multi_cleanup(m1);
    curl_multi_cleanup(m2);
    curl_multi_cleanup(m3);
    spotify_client_free(f.c);
}

static void test_response_size_cap(void **state)
{
    (void)state;
    fx f;
    spotify_config cfg = base_cfg;
    cfg.max_response_bytes = 4096;
    fx_start(&f, DEV_ARGS, &cfg);
    json_t *j = NULL;
    kt_err err;
    assert_int_equal(spotify_get(f.c, 1, "/me/tracks?limit=50", &j, &err), KT_ERR_TOO_LARGE);
    assert_string_equal(err.code, "response_too_large");
    assert_null(j);
    assert_int_equal(stat_count(&f.em, "GET /v1/me/tracks", NULL), 1); /* not retried */
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_OK);     /* small ones pass */
    json_decref(j);
    fx_stop(&f);
}

/* ---- mode, budget, accounting ---- */

static void test_mode_development(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, NULL);
    assert_int_equal(spotify_get_mode(f.c), SPOTIFY_MODE_UNKNOWN);
    assert_false(spotify_endpoint_available(f.c, "GET /playlists/{id}/tracks"));
    assert_true(spotify_endpoint_available(f.c, "GET /playlists/{id}/items"));
    spotify_mode m = SPOTIFY_MODE_UNKNOWN;
    kt_err err;
    assert_int_equal(spotify_detect_mode(f.c, 1, &m, &err), KT_OK);
    assert_int_equal(m, SPOTIFY_MODE_DEVELOPMENT);
    assert_int_equal(spotify_detect_mode(f.c, 1, &m, &err), KT_OK); /* remembered */
    assert_int_equal(stat_count(&f.em, "GET /v1/browse/new-releases", NULL), 1);
    assert_false(spotify_endpoint_available(f.c, "GET /browse/new-releases"));

    /* Passive learning on a fresh client; the 403 is classified. */
    fx_client(&f, NULL);
    json_t *j = NULL;
    assert_int_equal(spotify_get(f.c, 1, "/tracks?ids=a,b", &j, &err), KT_ERR_FORBIDDEN);
    assert_string_equal(err.code, "endpoint_unavailable");
    assert_int_equal(err.upstream_status, 403);
    assert_int_equal(spotify_get_mode(f.c), SPOTIFY_MODE_DEVELOPMENT);

    json_t *stats = spotify_stats_json(f.c);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stats, "GET /tracks"), "403")), 1);
    json_decref(stats);
    fx_stop(&f);
}

static void test_mode_extended(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, EXT_ARGS, NULL);
    spotify_mode m = SPOTIFY_MODE_UNKNOWN;
    kt_err err;
    assert_int_equal(spotify_detect_mode(f.c, 1, &m, &err), KT_OK);
    assert_int_equal(m, SPOTIFY_MODE_EXTENDED);
    assert_true(spotify_endpoint_available(f.c, "GET /playlists/{id}/tracks"));
    /* The app token works for the probe too. */
    fx_client(&f, NULL);
    assert_int_equal(spotify_detect_mode(f.c, SPOTIFY_APP_USER, &m, &err), KT_OK);
    assert_int_equal(m, SPOTIFY_MODE_EXTENDED);
    fx_stop(&f);
}

static int64_t deny_budget(void *ctx, int64_t now_ms)
{
    (void)now_ms;
    int *calls = ctx;
    /* Allow every other request: proves the hook is consulted per request. */
    return (++*calls % 2) ? 5 : 0;
}

static void test_budget_and_accounting(void **state)
{
    (void)state;
    fx f;
    spotify_config cfg = base_cfg;
    cfg.budget_per_sec = 10;
    cfg.budget_burst = 1;
    fx_start(&f, DEV_ARGS, &cfg);
    const char *paths[6] = {"/me", "/me", "/me", "/me", "/me", "/me"};
    json_t *outs[6];
    kt_err err;
    uint64_t before = spotify_thread_requests();
    assert_int_equal(spotify_get_many(f.c, 1, paths, 6, outs, &err), KT_OK);
    for (int i = 0; i < 6; i++)
        json_decref(outs[i]);
    assert_int_equal(spotify_thread_requests() - before, 6);
    double t[8];
    assert_int_equal(request_times(&f.em, "GET /v1/me", t, 8), 6);
    /* 10 per second with a bucket of 1: 6 requests span >= 0.5 s. */
    assert_true(t[5] - t[0] >= 450.0);
    uint64_t waits = spotify_budget_waits(f.c);
    assert_true(waits >= 5); /* each request after the first waited at least once */

    int calls = 0;
    spotify_set_budget_fn(f.c, deny_budget, &calls);
    json_t *j = NULL;
    assert_int_equal(spotify_get(f.c, 1, "/me", &j, &err), KT_OK);
    json_decref(j);
    assert_int_equal(calls, 2);
    assert_int_equal(spotify_budget_waits(f.c) - waits, 1); /* the hook's one "wait" */
    assert_int_equal(spotify_budget_waits(NULL), 0);
    spotify_set_budget_fn(f.c, NULL, NULL);

    json_t *stats = spotify_stats_json(f.c);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stats, "GET /me"), "200")), 7);
    json_decref(stats);
    fx_stop(&f);
}

/* ---- playlist covers ---- */

static void test_playlist_cover_upload_and_fetch(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, DEV_ARGS, &base_cfg);
    json_t *t = ctl(&f.em, "GET", "/__emulator/users/alice/truth?sections=playlists", NULL);
    const char *own = NULL, *other = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(t, "playlists"), i, p) {
        const char *owner = json_string_value(json_object_get(json_object_get(p, "owner"), "id"));
        if (strcmp(owner, "alice") == 0 && !json_is_true(json_object_get(p, "collaborative")) && !own)
            own = json_string_value(json_object_get(p, "id"));
        else if (strcmp(owner, "alice") != 0 && !other)
            other = json_string_value(json_object_get(p, "id"));
    }
    assert_non_null(own);
    assert_non_null(other);
    unsigned char jpeg[3000];
    for (size_t k = 0; k < sizeof jpeg; k++)
        jpeg[k] = (unsigned char)(k * 7);
    jpeg[0] = 0xFF, jpeg[1] = 0xD8, jpeg[2] = 0xFF;
    kt_err err;
    assert_int_equal(spotify_put_playlist_cover(f.c, 1, own, jpeg, sizeof jpeg, &err), KT_OK);
    assert_int_equal(stat_count(&f.em, "PUT /v1/playlists/{id}/images", "202"), 1);
    /* Not a JPEG, or over the limit, or a path-like id: refused, nothing sent. */
    assert_int_equal(spotify_put_playlist_cover(f.c, 1, own, (const unsigned char *)"GIF89a", 6, &err),
                     KT_ERR_INVALID);
    assert_int_equal(spotify_put_playlist_cover(f.c, 1, own, jpeg, SPOTIFY_COVER_MAX_BYTES + 1, &err),
                     KT_ERR_INVALID);
    assert_int_equal(spotify_put_playlist_cover(f.c, 1, "../me", jpeg, sizeof jpeg, &err),
                     KT_ERR_INVALID);
    assert_int_equal(stat_count(&f.em, "PUT /v1/playlists/{id}/images", NULL), 1);
    assert_int_equal(spotify_put_playlist_cover(f.c, 1, other, jpeg, sizeof jpeg, &err),
                     KT_ERR_FORBIDDEN);

    char path[128];
    snprintf(path, sizeof path, "/playlists/%s/images", own);
    json_t *imgs = NULL;
    assert_int_equal(spotify_get(f.c, 1, path, &imgs, &err), KT_OK);
    assert_int_equal(json_array_size(imgs), 1);
    const char *url = json_string_value(json_object_get(json_array_get(imgs, 0), "url"));
    unsigned char *got = NULL;
    size_t n = 0;
    uint64_t before = spotify_thread_requests();
    assert_int_equal(spotify_fetch_image(f.c, url, SPOTIFY_COVER_MAX_BYTES, &got, &n, &err), KT_OK);
    assert_int_equal(spotify_thread_requests() - before, 0); /* not a Web API request */
    assert_int_equal(n, sizeof jpeg);
    assert_memory_equal(got, jpeg, sizeof jpeg);
    free(got);
    got = NULL;
    assert_int_equal(spotify_fetch_image(f.c, url, 100, &got, &n, &err), KT_ERR_TOO_LARGE);
    assert_null(got);
    assert_int_equal(spotify_fetch_image(f.c, "file:///etc/passwd", 100, &got, &n, &err),
                     KT_ERR_INVALID);
    /* No token goes with it: the Web API, asked the same way, says so. */
    char me[128];
    snprintf(me, sizeof me, "%s/v1/me", f.em.base);
    assert_int_equal(spotify_fetch_image(f.c, me, 4096, &got, &n, &err), KT_ERR_UPSTREAM);
    assert_int_equal(stat_count(&f.em, "GET /v1/me", "401"), 1);
    assert_null(got);
    json_decref(imgs);
    json_decref(t);
    fx_stop(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (crypto_init() != KT_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_paging_matches_truth),
        cmocka_unit_test(test_cursor_guesses),
        cmocka_unit_test(test_paging_stops_on_callback_error),
        cmocka_unit_test(test_get_each_in_order),
        cmocka_unit_test(test_body_storage_pool),
        cmocka_unit_test(test_401_refreshes_once_and_retries_once),
        cmocka_unit_test(test_single_flight_near_expiry),
        cmocka_unit_test(test_first_requests_at_once),
        cmocka_unit_test(test_rotated_refresh_token_saved),
        cmocka_unit_test(test_public_client_pkce),
        cmocka_unit_test(test_revoked_refresh_token),
        cmocka_unit_test(test_app_token_once),
        cmocka_unit_test(test_429_long_is_deferred),
        cmocka_unit_test(test_quota_exceeded_deferred),
        cmocka_unit_test(test_5xx_retried_then_reported),
        cmocka_unit_test(test_bad_bodies_and_transport),
        cmocka_unit_test(test_batch_delivery_thread),
        cmocka_unit_test(test_user_concurrency_shared_across_batches),
        cmocka_unit_test(test_yielding_batch_gives_way),
        cmocka_unit_test(test_response_size_cap),
        cmocka_unit_test(test_mode_development),
        cmocka_unit_test(test_mode_extended),
        cmocka_unit_test(test_budget_and_accounting),
        cmocka_unit_test(test_429_short_retry_after_honoured),
        cmocka_unit_test(test_playlist_cover_upload_and_fetch),
    };
    return cmocka_run_group_tests_name("spotify_client", tests, NULL, NULL);
}

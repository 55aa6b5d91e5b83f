/* test_http_server.c - the HTTP server edge driven over real sockets.
 *
 * Each test starts a server on 127.0.0.1 port 0 with a small route table and
 * talks to it with libcurl (well-formed traffic, keep-alive) or raw sockets
 * (malformed and slow clients). Everything asserted is exact: status, body,
 * headers, connection reuse. Waiting is by polling a condition with a
 * deadline, never by sleeping a fixed time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "http/http.h"

#define ORIGIN "http://keeptrack.test"
#define MAX_BODY 1024
#define MAX_UPLOAD 4096

/* ---- handlers ---- */

static void h_hello(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:s}", "hello", "world"));
}

static void h_item(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:s}", "id", http_req_param(r, "id")));
}

static void h_special(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:b}", "special", 1));
}

static void h_track(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:s,s:s}", "id", http_req_param(r, "id"), "n", http_req_param(r, "n")));
}

static void h_files(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:s}", "rest", http_req_param(r, "*")));
}

static void h_post_json(http_req *r, void *app)
{
    json_t *body;
    kt_err e;
    (void)app;
    if (http_req_json(r, &body, &e) != KT_OK) {
        http_reply_error(r, &e);
        return;
    }
    http_reply_json(r, 200, json_pack("{s:o}", "got", body));
}

static void h_len(http_req *r, void *app)
{
    size_t len;
    const char *b = http_req_body(r, &len);
    (void)app;
    /* No cmocka asserts here: handlers run on server threads. */
    if (!b || b[len] != '\0') {
        http_reply_error_msg(r, 500, "test", "body not NUL-terminated");
        return;
    }
    http_reply_json(r, 200, json_pack("{s:I}", "len", (json_int_t)len));
}

static void h_ok(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_accessors(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200,
                    json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:s,s:b,s:b}", "a", http_req_query(r, "a"), "b",
                              http_req_query(r, "b"), "c", http_req_cookie(r, "c"), "sid",
                              http_req_cookie(r, "sid"), "x", http_req_header(r, "x-test"), "none",
                              http_req_query(r, "none"), "path", http_req_path(r), "method", http_req_method(r),
                              "json", http_req_wants_json(r), "https", http_req_is_https(r)));
}

typedef struct stream_state {
    size_t total;
} stream_state;

static int streams_freed;
static pthread_mutex_t counters = PTHREAD_MUTEX_INITIALIZER;

static long stream_fill(void *ctx, uint64_t pos, char *out, size_t max)
{
    stream_state *s = ctx;
    size_t n = s->total - (size_t)pos;
    if (pos >= s->total)
        return 0;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('a' + (pos + i) % 26);
    return (long)n;
}

static void stream_done(void *ctx)
{
    free(ctx);
    pthread_mutex_lock(&counters);
    streams_freed++;
    pthread_mutex_unlock(&counters);
}

#define STREAM_TOTAL 200000

static void h_stream(http_req *r, void *app)
{
    stream_state *s = malloc(sizeof *s);
    (void)app;
    if (!s) {
        http_reply_error_msg(r, 500, "test", "out of memory");
        return;
    }
    s->total = STREAM_TOTAL;
    http_reply_stream(r, 200, "text/plain", stream_fill, s, stream_done);
}

static void h_noreply(http_req *r, void *app)
{
    (void)r;
    (void)app;
}

static void h_twice(http_req *r, void *app)
{
    (void)app;
    http_reply_json(r, 200, json_pack("{s:b}", "first", 1));
    http_reply_json(r, 201, json_pack("{s:b}", "second", 1));
    http_reply_error_msg(r, 500, "x", "third");
}

static void h_deferred(http_req *r, void *app)
{
    kt_err e;
    (void)app;
    err_set(&e, KT_ERR_DEFERRED, "rate_limited", "Spotify asked us to wait");
    e.retry_at_ms = time_now_ms() + 5000;
    http_reply_error(r, &e);
}

static void h_notfound(http_req *r, void *app)
{
    kt_err e;
    (void)app;
    err_set(&e, KT_ERR_NOT_FOUND, NULL, "no such playlist \"%s\"", "p1");
    http_reply_error(r, &e);
}

static void h_redirect(http_req *r, void *app)
{
    (void)app;
    http_reply_header(r, "Set-Cookie", "a=1; Path=/");
    http_reply_header(r, "Set-Cookie", "b=2; Path=/");
    http_reply_redirect(r, 302, "/hello");
}

static void h_html(http_req *r, void *app)
{
    static const char page[] = "<!doctype html><title>x</title>";
    (void)app;
    http_reply_bytes(r, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

static void h_own_cache(http_req *r, void *app)
{
    (void)app;
    http_reply_header(r, "Cache-Control", "public, max-age=60");
    http_reply_header(r, "Bad Header", "x");
    http_reply_header(r, "X-Injected", "a\r\nSet-Cookie: evil=1");
    http_reply_bytes(r, 200, "text/css", "body{}", 6);
}

/* A gate the test controls: /block handlers wait on it (a condition
 * variable, no sleeps) until the test opens it. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_waiting; /* handlers inside h_block now */
static int gate_open;

static void h_block(http_req *r, void *app)
{
    (void)app;
    pthread_mutex_lock(&gate_mu);
    gate_waiting++;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_waiting--;
    pthread_mutex_unlock(&gate_mu);
    http_reply_json(r, 200, json_pack("{s:b}", "released", 1));
}

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_waiting = 0;
    gate_open = 0;
    pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* 1 once `want` handlers are held at the gate, 0 after 10 s. */
static int gate_wait_for(int want)
{
    struct timespec deadline;
    int ok;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&gate_mu);
    while (gate_waiting < want && pthread_cond_timedwait(&gate_cv, &gate_mu, &deadline) == 0)
        ;
    ok = gate_waiting >= want;
    pthread_mutex_unlock(&gate_mu);
    return ok;
}

static const http_route routes[] = {
    {"GET", "/hello", h_hello, HTTP_ROUTE_INLINE}, /* on the event loop; the rest on workers */
    {"GET", "/items/{id}", h_item, 0},
    {"GET", "/items/special", h_special, 0},
    {"GET", "/items/{id}/tracks/{n}", h_track, 0},
    {"GET", "/files/*", h_files, 0},
    {"POST", "/items", h_post_json, 0},
    {"POST", "/echo", h_len, 0},
    {"POST", "/admin/run", h_ok, HTTP_ROUTE_NO_CSRF},
    {"POST", "/upload", h_len, HTTP_ROUTE_UPLOAD},
    {"GET", "/q", h_accessors, 0},
    {"GET", "/stream", h_stream, 0},
    {"GET", "/noreply", h_noreply, 0},
    {"GET", "/twice", h_twice, 0},
    {"GET", "/deferred", h_deferred, 0},
    {"GET", "/notfound", h_notfound, 0},
    {"GET", "/redirect", h_redirect, 0},
    {"GET", "/html", h_html, 0},
    {"GET", "/own-cache", h_own_cache, 0},
    {"GET", "/block", h_block, 0},
};

/* ---- on_done record ---- */

typedef struct done_rec {
    int count;
    char method[16];
    char route[64];
    int status;
    double seconds;
} done_rec;

static done_rec done;

static void on_done(void *app, const char *method, const char *route, int status, double seconds)
{
    (void)app;
    pthread_mutex_lock(&counters);
    done.count++;
    snprintf(done.method, sizeof done.method, "%s", method);
    snprintf(done.route, sizeof done.route, "%s", route);
    done.status = status;
    done.seconds = seconds;
    pthread_mutex_unlock(&counters);
}

/* Requests whose request line has arrived (on_start), since the server started. */
static int started_count;

static void on_start(void *app)
{
    (void)app;
    pthread_mutex_lock(&counters);
    started_count++;
    pthread_mutex_unlock(&counters);
}

/* What wait_for(count_reached, &goal) waits for: *counter (read under
 * `counters`) reaching want. */
typedef struct count_goal {
    const int *counter;
    int want;
} count_goal;

static int count_reached(void *arg)
{
    const count_goal *g = arg;
    int have;
    pthread_mutex_lock(&counters);
    have = *g->counter;
    pthread_mutex_unlock(&counters);
    return have >= g->want;
}

/* Polls cond() every millisecond for up to 5 seconds. */
static int wait_for(int (*cond)(void *), void *arg)
{
    int64_t deadline = time_mono_ms() + 5000;
    while (time_mono_ms() < deadline) {
        if (cond(arg))
            return 1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return cond(arg);
}


/* ---- fixture ---- */

typedef struct fixture {
    http_server *srv;
    int port;
    CURL *curl;
} fixture;

/* Worker pool of the next start_with (0 = the server's defaults). */
static unsigned next_workers, next_queued;

static int start_with(void **state, const char *listen, unsigned timeout_s, int threads)
{
    fixture *f = calloc(1, sizeof *f);
    http_config cfg = {
        .listen = listen,
        .public_origin = ORIGIN,
        .threads = threads,
        .max_body_bytes = MAX_BODY,
        .max_upload_bytes = MAX_UPLOAD,
        .connection_timeout_s = timeout_s,
        .on_done = on_done,
        .on_start = on_start,
        .workers = next_workers,
        .max_queued = next_queued,
    };
    next_workers = next_queued = 0;
    kt_err e;
    if (!f)
        return -1;
    if (http_server_start(&cfg, routes, sizeof routes / sizeof routes[0], NULL, &f->srv, &e) != KT_OK) {
        fprintf(stderr, "start: %s\n", e.msg);
        free(f);
        return -1;
    }
    f->port = http_server_port(f->srv);
    f->curl = curl_easy_init();
    pthread_mutex_lock(&counters);
    memset(&done, 0, sizeof done);
    started_count = 0;
    pthread_mutex_unlock(&counters);
    *state = f;
    return f->port > 0 && f->curl ? 0 : -1;
}

static int setup(void **state)
{
    return start_with(state, "127.0.0.1:0", 0, 4);
}

/* One worker thread and a 1-second idle timeout: slow clients must neither
 * block others nor stay connected. */
static int setup_one_thread(void **state)
{
    return start_with(state, "127.0.0.1:0", 1, 1);
}

/* threads = 1 (what used to be a single poll thread) and the default idle
 * timeout: blocked handlers and slow clients must not hold anyone else up. */
static int setup_threads_1(void **state)
{
    return start_with(state, "127.0.0.1:0", 0, 1);
}

/* Two workers and room for two waiting requests: the pool's bound. */
static int setup_small_pool(void **state)
{
    next_workers = 2;
    next_queued = 2;
    return start_with(state, "127.0.0.1:0", 0, 1);
}

/* A 1-second idle timeout: raw malformed requests that leave the server
 * waiting for more are dropped quickly. */
static int setup_short_timeout(void **state)
{
    return start_with(state, "127.0.0.1:0", 1, 4);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    curl_easy_cleanup(f->curl);
    http_server_stop(f->srv);
    free(f);
    return 0;
}

/* ---- libcurl client ---- */

typedef struct resp {
    long status;
    long connects;
    buf body;
    buf headers;
    CURLcode rc;
} resp;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    if (buf_append(ud, p, size * n) != KT_OK)
        return 0;
    return size * n;
}

typedef struct upload {
    size_t left;
} upload;

static size_t produce(char *out, size_t size, size_t n, void *ud)
{
    upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memset(out, 'z', k);
    u->left -= k;
    return k;
}

static void resp_free(resp *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

/* Sends one request on f->curl (so connections are reused). body_len < 0
 * with chunked != 0 streams that many bytes chunked. hdrs ends with NULL. */
static void request_full(fixture *f, const char *method, const char *path, const char *body, size_t body_len,
                         size_t chunked, const char *const *hdrs, resp *out)
{
    char url[512];
    struct curl_slist *list = NULL;
    upload up = {chunked};
    CURL *c = f->curl;

    memset(out, 0, sizeof *out);
    buf_init(&out->body, 0);
    buf_init(&out->headers, 0);
    curl_easy_reset(c);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        list = curl_slist_append(list, hdrs[i]);
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        list = curl_slist_append(list, "Expect:");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, produce);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        list = curl_slist_append(list, "Expect:");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    out->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->connects);
    curl_slist_free_all(list);
}

static void request(fixture *f, const char *method, const char *path, const char *body, const char *const *hdrs,
                    resp *out)
{
    request_full(f, method, path, body, body ? strlen(body) : 0, 0, hdrs, out);
}

/* The value of response header name ("" when absent), copied into out. */
static const char *header(const resp *r, const char *name, char *out, size_t outlen)
{
    const char *p = r->headers.data ? r->headers.data : "";
    size_t nlen = strlen(name);
    out[0] = '\0';
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (!strncasecmp(p, name, nlen) && p[nlen] == ':') {
            const char *v = p + nlen + 1, *end;
            while (*v == ' ')
                v++;
            end = strpbrk(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            return out;
        }
    }
    return out;
}

static int header_count(const resp *r, const char *name)
{
    const char *p = r->headers.data ? r->headers.data : "";
    size_t nlen = strlen(name);
    int n = 0;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (!strncasecmp(p, name, nlen) && p[nlen] == ':')
            n++;
    }
    return n;
}

static void expect(fixture *f, const char *method, const char *path, long status, const char *body)
{
    resp r;
    request(f, method, path, NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    if (r.status != status || (body && strcmp(r.body.data ? r.body.data : "", body) != 0))
        fail_msg("%s %s: got %ld %s, want %ld %s", method, path, r.status, r.body.data ? r.body.data : "", status,
                 body ? body : "(any)");
    resp_free(&r);
}

/* Asserts an error body {"error":{"status":N,"code":code,...}}. */
static void expect_error_body(const resp *r, long status, const char *code)
{
    json_error_t je;
    json_t *j = json_loads(r->body.data ? r->body.data : "", 0, &je);
    json_t *e;
    if (!j)
        fail_msg("error body is not JSON: %s", r->body.data ? r->body.data : "");
    e = json_object_get(j, "error");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), status);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_int_equal(json_object_size(e), 3);
    json_decref(j);
}

static void expect_error(fixture *f, const char *method, const char *path, const char *body,
                         const char *const *hdrs, long status, const char *code)
{
    resp r;
    request(f, method, path, body, hdrs, &r);
    assert_int_equal(r.rc, CURLE_OK);
    if (r.status != status)
        fail_msg("%s %s: got %ld %s, want %ld", method, path, r.status, r.body.data ? r.body.data : "", status);
    expect_error_body(&r, status, code);
    resp_free(&r);
}

/* ---- raw sockets ---- */

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int raw_connect(int port)
{
    struct sockaddr_in a = loopback(port);
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    return fd;
}

/* Sends len bytes (send errors ignored: the server may close early), then
 * reads until EOF, an error or a full buffer. Returns bytes read. */
static size_t raw_exchange(int port, const void *data, size_t len, char *out, size_t outmax)
{
    int fd = raw_connect(port);
    size_t got = 0, off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR); /* no more input: the server answers or closes now */
    while (got + 1 < outmax) {
        ssize_t n = recv(fd, out + got, outmax - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    fixture *f = *state;
    resp r;
    char v[256];

    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
    expect(f, "GET", "/items/42", 200, "{\"id\":\"42\"}");
    expect(f, "GET", "/items/a%20b%C3%A9", 200, "{\"id\":\"a b\xc3\xa9\"}");
    expect(f, "GET", "/items/special", 200, "{\"special\":true}");
    expect(f, "GET", "/items/7/tracks/3", 200, "{\"id\":\"7\",\"n\":\"3\"}");
    expect(f, "GET", "/files/css/app.css", 200, "{\"rest\":\"css/app.css\"}");
    expect(f, "GET", "/files", 200, "{\"rest\":\"\"}");
    expect(f, "GET", "/hello?x=1", 200, "{\"hello\":\"world\"}");

    expect_error(f, "GET", "/nope", NULL, NULL, 404, "not_found");
    expect_error(f, "GET", "/hello/", NULL, NULL, 404, "not_found");

    request(f, "DELETE", "/hello", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow", v, sizeof v), "GET, HEAD");
    expect_error_body(&r, 405, "method_not_allowed");
    resp_free(&r);

    request(f, "PUT", "/items", "{}", NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow", v, sizeof v), "POST");
    resp_free(&r);

    /* HEAD: GET's headers (same Content-Length), no body. */
    request(f, "HEAD", "/hello", NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(header(&r, "Content-Length", v, sizeof v), "17");
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "application/json");
    resp_free(&r);
}

static void test_path_traversal_refused(void **state)
{
    fixture *f = *state;
    expect_error(f, "GET", "/files/../hello", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/files/%2e%2e/hello", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/files/a/%2E./b", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/files/./x", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/files/..%2Fetc%2Fpasswd", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/items/a%2fb", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/items/%zz", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/items/a%00b", NULL, NULL, 400, "bad_path");
    expect_error(f, "GET", "/items/%", NULL, NULL, 400, "bad_path");
}

static void test_accessors(void **state)
{
    fixture *f = *state;
    resp r;
    const char *const hdrs[] = {"Cookie: sid=abc; c=\"quoted\"; junk; =x", "Cookie: later=1; c=second",
                                "X-Test: hello world", "Accept: application/json", NULL};

    request(f, "GET", "/q?a=1&b=two+words%21&a=2&&z", NULL, hdrs, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"a\":\"1\",\"b\":\"two words!\",\"c\":\"quoted\",\"sid\":\"abc\",\"x\":"
                                     "\"hello world\",\"none\":null,\"path\":\"/q\",\"method\":\"GET\","
                                     "\"json\":true,\"https\":false}");
    resp_free(&r);

    request(f, "GET", "/q", NULL, NULL, &r);
    assert_string_equal(r.body.data, "{\"a\":null,\"b\":null,\"c\":null,\"sid\":null,\"x\":null,\"none\":null,"
                                     "\"path\":\"/q\",\"method\":\"GET\",\"json\":false,\"https\":false}");
    resp_free(&r);

    {
        const char *const html_first[] = {"Accept: text/html,application/json;q=0.9", NULL};
        const char *const xhr[] = {"X-Requested-With: XMLHttpRequest", NULL};
        request(f, "GET", "/q", NULL, html_first, &r);
        assert_non_null(strstr(r.body.data, "\"json\":false"));
        resp_free(&r);
        request(f, "GET", "/q", NULL, xhr, &r);
        assert_non_null(strstr(r.body.data, "\"json\":true"));
        resp_free(&r);
    }

    expect_error(f, "GET", "/q?a=%zz", NULL, NULL, 400, "bad_query");
    expect_error(f, "GET", "/q?a=%00", NULL, NULL, 400, "bad_query");
}

static void test_json_bodies(void **state)
{
    fixture *f = *state;
    resp r;
    char deep[600];

    request(f, "POST", "/items", "{\"x\":[1,2],\"y\":\"\xc3\xa9\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"got\":{\"x\":[1,2],\"y\":\"\xc3\xa9\"}}");
    resp_free(&r);

    request(f, "POST", "/items", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"got\":{}}");
    resp_free(&r);

    expect_error(f, "POST", "/items", "{bad", NULL, 400, "bad_json");
    expect_error(f, "POST", "/items", "[1,2]", NULL, 400, "bad_json");
    expect_error(f, "POST", "/items", "\"str\"", NULL, 400, "bad_json");
    expect_error(f, "POST", "/items", "{\"a\":\"\xff\"}", NULL, 400, "bad_json");
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    expect_error(f, "POST", "/items", deep, NULL, 400, "bad_json");

    /* A NUL inside the body. */
    request_full(f, "POST", "/items", "{\"a\":\"x\0y\"}", 12, 0, NULL, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    request_full(f, "POST", "/echo", "ab\0cd", 5, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"len\":5}");
    resp_free(&r);
}

static void test_body_limits(void **state)
{
    fixture *f = *state;
    resp r;
    char *big = malloc(MAX_UPLOAD * 2 + 1);
    assert_non_null(big);
    memset(big, 'y', MAX_UPLOAD * 2);
    big[MAX_UPLOAD * 2] = '\0';

    /* Exactly the cap passes. */
    request_full(f, "POST", "/echo", big, MAX_BODY, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"len\":1024}");
    resp_free(&r);

    /* One byte over, by Content-Length: 413 before the body is read, and
     * the connection is closed (the next request reconnects). */
    request_full(f, "POST", "/echo", big, MAX_BODY + 1, 0, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    expect_error_body(&r, 413, "too_large");
    resp_free(&r);
    request(f, "GET", "/hello", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 1);
    resp_free(&r);

    /* Chunked: exactly the cap passes, over it is 413. */
    request_full(f, "POST", "/echo", NULL, 0, MAX_BODY, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"len\":1024}");
    resp_free(&r);
    request_full(f, "POST", "/echo", NULL, 0, MAX_BODY + 1, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    expect_error_body(&r, 413, "too_large");
    resp_free(&r);

    /* A client that keeps sending is cut off; the server stays healthy. */
    request_full(f, "POST", "/echo", NULL, 0, (size_t)16 << 20, NULL, &r);
    assert_true(r.rc != CURLE_OK || r.status == 413);
    resp_free(&r);
    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");

    /* Upload routes have their own, larger cap. */
    request_full(f, "POST", "/upload", big, MAX_UPLOAD, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"len\":4096}");
    resp_free(&r);
    request_full(f, "POST", "/upload", big, MAX_UPLOAD + 1, 0, NULL, &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    request_full(f, "POST", "/upload", NULL, 0, MAX_UPLOAD + 1, NULL, &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);

    /* A huge Content-Length is refused up front. */
    {
        char out[2048];
        const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc";
        raw_exchange(f->port, req, sizeof req - 1, out, sizeof out);
        assert_memory_equal(out, "HTTP/1.1 413", 12);
        assert_non_null(strstr(out, "\"code\":\"too_large\""));
    }
    free(big);
}

/* The status line of what came back, or "closed" for an empty reply. */
static const char *status_of(const char *out, char *buf16)
{
    if (!out[0])
        return "closed";
    snprintf(buf16, 16, "%.12s", out);
    return buf16;
}

/* Request builders for the big raw requests below. They go through core's
 * bounded buffer and assert every append, so no raw pointer arithmetic on a
 * malloc'd block is left for the compiler to doubt (GCC's -Warray-bounds
 * fired on the old memset(req + len, ...) at -O2 with sanitizers, on the
 * path where assert_non_null(req) had failed but - not being noreturn -
 * had let control continue). */
static void put_repeat(buf *b, char c, size_t n)
{
    char block[4096];
    memset(block, c, sizeof block);
    while (n > 0) {
        size_t k = n < sizeof block ? n : sizeof block;
        assert_int_equal(buf_append(b, block, k), KT_OK);
        n -= k;
    }
}

#define PUT(b, ...) assert_int_equal(buf_printf((b), __VA_ARGS__), KT_OK)

/* Sends b raw and returns the status line of the answer ("closed" when
 * none) in st. */
static const char *raw_status(int port, buf *b, char *st)
{
    char out[8192];
    raw_exchange(port, b->data, b->len, out, sizeof out);
    buf_reset(b);
    return status_of(out, st);
}

static void test_oversized_headers(void **state)
{
    fixture *f = *state;
    buf req;
    char st[16];

    buf_init(&req, 0);
    /* One 100 KB header: libmicrohttpd answers 431 itself. */
    PUT(&req, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    put_repeat(&req, 'a', 100000);
    PUT(&req, "\r\n\r\n");
    assert_string_equal(raw_status(f->port, &req, st), "HTTP/1.1 431");

    /* Many small headers: 431 as well. */
    PUT(&req, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20000; i++)
        PUT(&req, "X-%d: v\r\n", i);
    PUT(&req, "\r\n");
    assert_string_equal(raw_status(f->port, &req, st), "HTTP/1.1 431");

    /* An over-long request line: 414. */
    PUT(&req, "GET /hello?");
    put_repeat(&req, 'q', 100000);
    PUT(&req, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_string_equal(raw_status(f->port, &req, st), "HTTP/1.1 414");

    /* Thousands of tiny cookies exhaust libmicrohttpd's per-connection pool
     * (it stores a record per cookie): 431, or the connection is closed
     * without a reply when not even the 431 fits. */
    PUT(&req, "GET /q HTTP/1.1\r\nHost: x\r\nCookie: ");
    for (int i = 0; i < 5000; i++)
        PUT(&req, "k%d=v; ", i);
    PUT(&req, "\r\n\r\n");
    {
        const char *got = raw_status(f->port, &req, st);
        if (strcmp(got, "HTTP/1.1 431") != 0 && strcmp(got, "closed") != 0)
            fail_msg("many cookies: got '%s'", got);
    }

    /* 200 cookies are accepted; only the first 128 are read. */
    {
        resp r;
        const char *hdrs[] = {NULL, NULL};
        PUT(&req, "Cookie: c=first; ");
        for (int i = 0; i < 200; i++)
            PUT(&req, "k%d=v; ", i);
        PUT(&req, "sid=late");
        hdrs[0] = req.data;
        request(f, "GET", "/q", NULL, hdrs, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body.data, "\"c\":\"first\""));
        assert_non_null(strstr(r.body.data, "\"sid\":null"));
        resp_free(&r);
    }
    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
    buf_free(&req);
}

static void test_csrf_matrix(void **state)
{
    fixture *f = *state;
    const char *const none[] = {NULL};
    const char *const ours[] = {"Origin: " ORIGIN, NULL};
    const char *const ours_slash[] = {"Origin: http://KEEPTRACK.test:80", NULL};
    const char *const evil[] = {"Origin: http://evil.example", NULL};
    const char *const null_origin[] = {"Origin: null", NULL};
    const char *const sfs_cross[] = {"Sec-Fetch-Site: cross-site", NULL};
    const char *const sfs_cross_ours[] = {"Sec-Fetch-Site: cross-site", "Origin: " ORIGIN, NULL};
    const char *const sfs_same_site_evil[] = {"Sec-Fetch-Site: same-site", "Origin: http://a.keeptrack.test", NULL};
    const char *const sfs_same_site_ours[] = {"Sec-Fetch-Site: same-site", "Origin: " ORIGIN, NULL};
    const char *const sfs_same_origin[] = {"Sec-Fetch-Site: same-origin", "Origin: " ORIGIN, NULL};
    const char *const sfs_none[] = {"Sec-Fetch-Site: none", NULL};
    struct {
        const char *const *hdrs;
        long status;
    } cases[] = {
        {none, 200},           {ours, 200},          {ours_slash, 200},         {evil, 403},
        {null_origin, 403},    {sfs_cross, 403},     {sfs_cross_ours, 403},     {sfs_same_site_evil, 403},
        {sfs_same_site_ours, 200}, {sfs_same_origin, 200}, {sfs_none, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp r;
        request(f, "POST", "/echo", "abc", cases[i].hdrs, &r);
        if (r.status != cases[i].status)
            fail_msg("case %zu: got %ld, want %ld", i, r.status, cases[i].status);
        if (r.status == 403)
            expect_error_body(&r, 403, "cross_site");
        resp_free(&r);
        /* Routes marked HTTP_ROUTE_NO_CSRF and GET routes are never refused. */
        request(f, "POST", "/admin/run", "", cases[i].hdrs, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        request(f, "GET", "/hello", NULL, cases[i].hdrs, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    /* A refused request never reaches the handler, even without a body. */
    expect_error(f, "DELETE", "/hello", NULL, evil, 405, "method_not_allowed");
}

static void test_keep_alive(void **state)
{
    fixture *f = *state;
    resp r;

    request(f, "GET", "/hello", NULL, NULL, &r);
    assert_int_equal(r.connects, 1);
    resp_free(&r);
    request(f, "GET", "/hello", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
    /* Errors decided before the body (no body pending) keep the connection. */
    request(f, "GET", "/nope", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
    request(f, "POST", "/items", "{\"a\":1}", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
    request(f, "GET", "/stream", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
    request(f, "GET", "/hello", NULL, NULL, &r);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
}


static void test_streaming(void **state)
{
    fixture *f = *state;
    resp r;
    char v[64];
    int before;

    pthread_mutex_lock(&counters);
    before = streams_freed;
    pthread_mutex_unlock(&counters);
    request(f, "GET", "/stream", NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, STREAM_TOTAL);
    for (size_t i = 0; i < STREAM_TOTAL; i++)
        if (r.body.data[i] != (char)('a' + i % 26))
            fail_msg("byte %zu differs", i);
    assert_string_equal(header(&r, "Transfer-Encoding", v, sizeof v), "chunked");
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "text/plain");
    resp_free(&r);
    assert_true(wait_for(count_reached, &(count_goal){&streams_freed, before + 1}));

    request(f, "HEAD", "/stream", NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
    assert_true(wait_for(count_reached, &(count_goal){&streams_freed, before + 2}));
}

static void test_slow_client_does_not_block(void **state)
{
    fixture *f = *state;
    const char half[] = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    char b[64];
    int fd = raw_connect(f->port);
    ssize_t n;

    assert_int_equal(send(fd, half, sizeof half - 1, MSG_NOSIGNAL), (ssize_t)(sizeof half - 1));
    /* The only worker thread also serves this while the slow one waits. */
    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
    expect(f, "GET", "/items/1", 200, "{\"id\":\"1\"}");
    /* The idle timeout (1 s here) drops the slow client: EOF, not our 10 s
     * receive timeout. */
    n = recv(fd, b, sizeof b, 0);
    assert_int_equal(n, 0);
    close(fd);
    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
}

/* ---- handlers that block, slow clients ---- */

/* One GET on a connection of its own (a fresh curl handle), for requests
 * made from several threads at once. */
typedef struct fresh_get {
    int port;
    const char *path;
    long timeout_s;
    pthread_t tid;
    CURLcode rc;
    long status;
    long connects;
    char body[128];
    char conn_hdr[64]; /* the Connection response header, "" when absent */
    char retry_after[16]; /* the Retry-After response header, "" when absent */
} fresh_get;

static void *fresh_get_run(void *arg)
{
    fresh_get *g = arg;
    CURL *c = curl_easy_init();
    char url[256];
    buf body, hdrs;
    resp tmp;

    buf_init(&body, 0);
    buf_init(&hdrs, 0);
    g->rc = CURLE_FAILED_INIT;
    g->status = 0;
    g->body[0] = g->conn_hdr[0] = '\0';
    if (!c)
        return NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g->port, g->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, g->timeout_s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdrs);
    g->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &g->connects);
    snprintf(g->body, sizeof g->body, "%s", body.data ? body.data : "");
    tmp.headers = hdrs;
    header(&tmp, "Connection", g->conn_hdr, sizeof g->conn_hdr);
    header(&tmp, "Retry-After", g->retry_after, sizeof g->retry_after);
    buf_free(&body);
    buf_free(&hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

static void fresh_get_start(fresh_get *g, int port, const char *path, long timeout_s)
{
    memset(g, 0, sizeof *g);
    g->port = port;
    g->path = path;
    g->timeout_s = timeout_s;
    assert_int_equal(pthread_create(&g->tid, NULL, fresh_get_run, g), 0);
}

#define BLOCKED 4
#define OTHERS 20

/* One server setting (threads = 1, the old pool's worst case): handlers
 * blocked on the gate must not delay requests on other connections. Every
 * result is collected before the gate opens and only then asserted, so a
 * failure cannot leave handlers blocked behind a hanging teardown. */
static void test_blocked_handler_does_not_stall_others(void **state)
{
    fixture *f = *state;
    fresh_get blocked[BLOCKED], others[OTHERS];
    int all_held, answered = 0;

    gate_reset();
    for (int i = 0; i < BLOCKED; i++)
        fresh_get_start(&blocked[i], f->port, "/block", 20);
    all_held = gate_wait_for(BLOCKED);
    /* Each on its own connection, one after the other, while all BLOCKED
     * handlers still wait: each must complete by itself (5 s is "stalled";
     * the first stalled one ends the loop). */
    while (all_held && answered < OTHERS) {
        fresh_get *g = &others[answered];
        fresh_get_start(g, f->port, answered % 2 ? "/hello" : "/items/7", 5);
        pthread_join(g->tid, NULL);
        if (g->rc != CURLE_OK)
            break;
        answered++;
    }
    pthread_mutex_lock(&gate_mu);
    int still_held = gate_waiting;
    pthread_mutex_unlock(&gate_mu);
    gate_release();
    for (int i = 0; i < BLOCKED; i++)
        pthread_join(blocked[i].tid, NULL);

    assert_true(all_held);
    assert_int_equal(answered, OTHERS);
    assert_int_equal(still_held, BLOCKED);
    for (int i = 0; i < OTHERS; i++) {
        assert_int_equal(others[i].rc, CURLE_OK);
        assert_int_equal(others[i].status, 200);
        assert_string_equal(others[i].body, i % 2 ? "{\"hello\":\"world\"}" : "{\"id\":\"7\"}");
    }
    for (int i = 0; i < BLOCKED; i++) {
        assert_int_equal(blocked[i].rc, CURLE_OK);
        assert_int_equal(blocked[i].status, 200);
        assert_string_equal(blocked[i].body, "{\"released\":true}");
    }
}

#define POOL_WORKERS 2
#define POOL_QUEUED 2

/* More blocking requests than workers: POOL_WORKERS run, POOL_QUEUED wait,
 * and the next blocking request is answered 503 busy with Retry-After at
 * once, while the inline route is still served. Once released, every held
 * and queued request gets its own answer, and blocking routes work again. */
static void test_worker_pool_full_answers_503(void **state)
{
    fixture *f = *state;
    fresh_get held[POOL_WORKERS + POOL_QUEUED], busy, inline_get, after;
    int running, arrived, want = POOL_WORKERS + POOL_QUEUED;

    gate_reset();
    for (int i = 0; i < want; i++)
        fresh_get_start(&held[i], f->port, "/block", 20);
    running = gate_wait_for(POOL_WORKERS);
    arrived = wait_for(count_reached, &(count_goal){&started_count, want}); /* the other two are queued */
    fresh_get_start(&busy, f->port, "/items/7", 20);
    pthread_join(busy.tid, NULL);
    fresh_get_start(&inline_get, f->port, "/hello", 20);
    pthread_join(inline_get.tid, NULL);
    pthread_mutex_lock(&gate_mu);
    int at_gate = gate_waiting;
    pthread_mutex_unlock(&gate_mu);
    gate_release();
    for (int i = 0; i < want; i++)
        pthread_join(held[i].tid, NULL);
    fresh_get_start(&after, f->port, "/items/7", 20);
    pthread_join(after.tid, NULL);

    assert_true(running);
    assert_true(arrived);
    assert_int_equal(at_gate, POOL_WORKERS); /* never more than the workers at once */
    assert_int_equal(busy.rc, CURLE_OK);
    assert_int_equal(busy.status, 503);
    assert_string_equal(busy.retry_after, "1");
    assert_non_null(strstr(busy.body, "\"code\":\"busy\""));
    assert_int_equal(inline_get.rc, CURLE_OK);
    assert_int_equal(inline_get.status, 200);
    assert_string_equal(inline_get.body, "{\"hello\":\"world\"}");
    for (int i = 0; i < want; i++) {
        assert_int_equal(held[i].rc, CURLE_OK);
        assert_int_equal(held[i].status, 200);
        assert_string_equal(held[i].body, "{\"released\":true}");
    }
    assert_int_equal(after.status, 200);
    assert_string_equal(after.body, "{\"id\":\"7\"}");
}

/* 1 when a new TCP connection to port is refused (the listener is gone). */
static int connect_refused(void *arg)
{
    struct sockaddr_in a = loopback(*(int *)arg);
    int fd = socket(AF_INET, SOCK_STREAM, 0), refused;
    if (fd < 0)
        return 0;
    refused = connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static void *stop_run(void *arg)
{
    http_server_stop(arg);
    return NULL;
}

/* Graceful stop while a handler is blocked: new connections are refused at
 * once, the blocked request still gets its answer (with Connection: close)
 * when released, and only then does http_server_stop return. */
static void test_stop_waits_for_blocked_handler(void **state)
{
    fixture *f = *state;
    fresh_get g;
    pthread_t stopper;
    int held, refused;

    gate_reset();
    fresh_get_start(&g, f->port, "/block", 20);
    held = gate_wait_for(1);
    assert_int_equal(pthread_create(&stopper, NULL, stop_run, f->srv), 0);
    f->srv = NULL; /* stopped here, not by the teardown */
    refused = wait_for(connect_refused, &f->port);
    gate_release();
    pthread_join(stopper, NULL);
    pthread_join(g.tid, NULL);

    assert_true(held);
    assert_true(refused);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "{\"released\":true}");
    assert_string_equal(g.conn_hdr, "close");
}

#define LORIS 200
#define LORIS_ROUNDS 4

/* Slowloris: LORIS connections trickle their headers a piece at a time;
 * between rounds, requests on new connections are answered, and at the end
 * the slow requests that finish their headers are answered as well. */
static void test_slowloris_does_not_block(void **state)
{
    fixture *f = *state;
    int fds[LORIS];
    static const char start[] = "GET /hello HTTP/1.1\r\nHost: x\r\n";

    for (int i = 0; i < LORIS; i++) {
        fds[i] = raw_connect(f->port);
        assert_int_equal(send(fds[i], start, sizeof start - 1, MSG_NOSIGNAL), (ssize_t)(sizeof start - 1));
    }
    for (int round = 0; round < LORIS_ROUNDS; round++) {
        char piece[32];
        /* Half a header line per round: name in one, value in the next. */
        int n = round % 2 ? snprintf(piece, sizeof piece, "v%d\r\n", round)
                          : snprintf(piece, sizeof piece, "X-Trickle-%d: ", round);
        for (int i = 0; i < LORIS; i++)
            assert_int_equal(send(fds[i], piece, (size_t)n, MSG_NOSIGNAL), n);
        fresh_get g;
        fresh_get_start(&g, f->port, "/hello", 5);
        pthread_join(g.tid, NULL);
        assert_int_equal(g.rc, CURLE_OK);
        assert_int_equal(g.status, 200);
        assert_string_equal(g.body, "{\"hello\":\"world\"}");
    }
    for (int i = 0; i < LORIS; i++) {
        static const char end[] = "Connection: close\r\n\r\n";
        char out[2048];
        size_t got = 0;
        if (i % 2) {
            close(fds[i]);
            continue;
        }
        assert_int_equal(send(fds[i], end, sizeof end - 1, MSG_NOSIGNAL), (ssize_t)(sizeof end - 1));
        while (got + 1 < sizeof out) {
            ssize_t n = recv(fds[i], out + got, sizeof out - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        out[got] = '\0';
        close(fds[i]);
        assert_memory_equal(out, "HTTP/1.1 200", 12);
        assert_non_null(strstr(out, "{\"hello\":\"world\"}"));
    }
    expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
}

static void check_security_headers(const resp *r, const char *csp_prefix, const char *cache)
{
    char v[512];
    assert_string_equal(header(r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    assert_string_equal(header(r, "X-Frame-Options", v, sizeof v), "DENY");
    assert_string_equal(header(r, "Referrer-Policy", v, sizeof v), "same-origin");
    header(r, "Content-Security-Policy", v, sizeof v);
    if (strncmp(v, csp_prefix, strlen(csp_prefix)) != 0)
        fail_msg("CSP '%s' does not start with '%s'", v, csp_prefix);
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_string_equal(header(r, "Cache-Control", v, sizeof v), cache);
    assert_int_equal(header_count(r, "Content-Security-Policy"), 1);
    assert_int_equal(header_count(r, "Cache-Control"), 1);
}

static void test_security_headers(void **state)
{
    fixture *f = *state;
    resp r;
    char v[256];
    const char *paths[] = {"/hello", "/nope", "/items/%zz", "/noreply", "/deferred", "/stream"};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        request(f, "GET", paths[i], NULL, NULL, &r);
        check_security_headers(&r, "default-src 'none'", "no-store");
        resp_free(&r);
    }
    request_full(f, "POST", "/echo", NULL, 0, MAX_BODY + 10, NULL, &r);
    assert_int_equal(r.status, 413);
    check_security_headers(&r, "default-src 'none'", "no-store");
    resp_free(&r);

    request(f, "GET", "/html", NULL, NULL, &r);
    assert_string_equal(r.body.data, "<!doctype html><title>x</title>");
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    check_security_headers(&r, "default-src 'self'", "no-store");
    resp_free(&r);

    /* A handler's own Cache-Control wins; malformed headers are refused. */
    request(f, "GET", "/own-cache", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    check_security_headers(&r, "default-src 'none'", "public, max-age=60");
    assert_int_equal(header_count(&r, "X-Injected"), 0);
    assert_int_equal(header_count(&r, "Set-Cookie"), 0);
    resp_free(&r);
}

static void test_reply_rules(void **state)
{
    fixture *f = *state;
    resp r;
    char v[256];

    expect_error(f, "GET", "/noreply", NULL, NULL, 500, "internal");
    expect(f, "GET", "/twice", 200, "{\"first\":true}");

    request(f, "GET", "/deferred", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    expect_error_body(&r, 503, "rate_limited");
    header(&r, "Retry-After", v, sizeof v);
    assert_true(atoi(v) >= 4 && atoi(v) <= 5);
    resp_free(&r);

    request(f, "GET", "/notfound", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data,
                        "{\"error\":{\"status\":404,\"code\":\"not_found\",\"message\":\"no such playlist \\\"p1\\\"\"}}");
    resp_free(&r);

    request(f, "GET", "/redirect", NULL, NULL, &r);
    assert_int_equal(r.status, 302);
    assert_string_equal(header(&r, "Location", v, sizeof v), "/hello");
    assert_int_equal(header_count(&r, "Set-Cookie"), 2);
    resp_free(&r);
}

static void test_on_done(void **state)
{
    fixture *f = *state;

    expect(f, "GET", "/items/9", 200, NULL);
    assert_true(wait_for(count_reached, &(count_goal){&done.count, 1}));
    pthread_mutex_lock(&counters);
    assert_string_equal(done.method, "GET");
    assert_string_equal(done.route, "/items/{id}");
    assert_int_equal(done.status, 200);
    assert_true(done.seconds >= 0 && done.seconds < 10);
    pthread_mutex_unlock(&counters);

    expect(f, "GET", "/missing?code=secret", 404, NULL);
    assert_true(wait_for(count_reached, &(count_goal){&done.count, 2}));
    pthread_mutex_lock(&counters);
    assert_string_equal(done.route, "unmatched");
    assert_int_equal(done.status, 404);
    pthread_mutex_unlock(&counters);
}

static void test_hostile_inputs(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *data;
        size_t len;
        const char *want; /* status line prefix, or NULL for "anything or nothing" */
    } cases[] = {
#define C(s, w) {s, sizeof s - 1, w}
        C("GET /hello\0evil HTTP/1.1\r\nHost: x\r\n\r\n", NULL),
        C("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n", NULL),
        C("GET /items/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /items/%%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /q?%%%=%%&=&&=== HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /q?a=%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /q?%ED%A0%80=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /items/%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 400"),
        C("GET /hello HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        C("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", NULL),
        C("GET / HTTP/9.9\r\nHost: x\r\n\r\n", NULL),
        C("POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400"),
        C("POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", NULL),
        C("POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n", NULL),
        C("POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", NULL),
        C("GET http://evil.example/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL),
        C("GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL),
        C("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA /hello HTTP/1.1\r\nHost: x\r\n"
          "Connection: close\r\n\r\n",
          "HTTP/1.1 405"),
        C("GET /hello HTTP/1.1\r\nHost: x\r\nCookie: \x01\x02\x03=\xff\xfe; ;;;=;a\r\nConnection: close\r\n\r\n",
          "HTTP/1.1 200"),
        C("GET /hello HTTP/1.1\r\nHost: x\r\nOrigin: \xff\r\nSec-Fetch-Site: \xff\r\nConnection: close\r\n\r\n",
          "HTTP/1.1 200"),
        C("POST /echo HTTP/1.1\r\nHost: x\r\nOrigin: \xff\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
          "HTTP/1.1 403"),
        C("\r\n\r\n\r\n", NULL),
        C("", NULL),
#undef C
    };
    char out[8192];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_exchange(f->port, cases[i].data, cases[i].len, out, sizeof out);
        if (cases[i].want && strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got '%.40s', want '%s'", i, out, cases[i].want);
        expect(f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
    }
}

static void test_start_errors(void **state)
{
    fixture *f = *state;
    http_server *s = NULL;
    kt_err e;
    char listen[64];
    http_config cfg = {.listen = "127.0.0.1"};
    const http_route bad[] = {{"GET", "/{x", h_hello, 0}};

    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_ERR_INVALID);
    assert_string_equal(e.code, "bad_listen");
    cfg.listen = "127.0.0.1:70000";
    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_ERR_INVALID);
    cfg.listen = "[::1:80";
    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_ERR_INVALID);
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(http_server_start(&cfg, bad, 1, NULL, &s, &e), KT_ERR_INVALID);
    assert_string_equal(e.code, "bad_route");
    cfg.threads = 1000;
    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_ERR_INVALID);
    cfg.threads = 0;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", f->port);
    cfg.listen = listen;
    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_ERR_IO);
    assert_string_equal(e.code, "listen_failed");
    assert_null(s);
    http_server_stop(NULL);
    assert_int_equal(http_server_port(NULL), 0);
}

/* 1 when the server closed fd without answering (within the 10 s receive
 * timeout). */
static int closed_by_server(int fd)
{
    char b[16];
    return recv(fd, b, sizeof b, 0) == 0;
}

/* One keep-alive request on a raw socket; 1 when the answer arrived (the
 * connection stays open). */
static int raw_keepalive_hello(int fd)
{
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[2048];
    size_t got = 0;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        return 0;
    while (got + 1 < sizeof out) {
        ssize_t n = recv(fd, out + got, sizeof out - 1 - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
        out[got] = '\0';
        if (strstr(out, "{\"hello\":\"world\"}"))
            return 1;
    }
    return 0;
}

static void test_connection_limits(void **state)
{
    http_server *s = NULL;
    kt_err e;
    http_config cfg = {.listen = "127.0.0.1:0", .threads = 1, .max_connections = 3, .max_connections_per_ip = 2};
    fixture f = {0};
    int a, b, c;
    resp r;

    (void)state;
    assert_int_equal(http_server_start(&cfg, routes, sizeof routes / sizeof routes[0], NULL, &s, &e), KT_OK);
    f.srv = s;
    f.port = http_server_port(s);
    f.curl = curl_easy_init();
    assert_non_null(f.curl);
    /* Two kept-alive connections from 127.0.0.1 use the per-IP allowance... */
    a = raw_connect(f.port);
    b = raw_connect(f.port);
    assert_true(raw_keepalive_hello(a));
    assert_true(raw_keepalive_hello(b));
    /* ...so a third one from the same address is closed at once, */
    c = raw_connect(f.port);
    assert_true(closed_by_server(c));
    close(c);
    request(&f, "GET", "/hello", NULL, NULL, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    resp_free(&r);
    close(a);
    close(b);
    /* Once they are gone, new connections are served again. */
    {
        int64_t deadline = time_mono_ms() + 5000;
        do {
            request(&f, "GET", "/hello", NULL, NULL, &r);
            if (r.status == 200) {
                resp_free(&r);
                break;
            }
            resp_free(&r);
        } while (time_mono_ms() < deadline);
    }
    expect(&f, "GET", "/hello", 200, "{\"hello\":\"world\"}");
    curl_easy_cleanup(f.curl);
    http_server_stop(s);
}

static void test_origin_port_zero(void **state)
{
    http_server *s = NULL;
    kt_err e;
    http_config cfg = {.listen = "127.0.0.1:0", .public_origin = "http://127.0.0.1:0", .threads = 1};
    fixture f = {0};
    char good[64], bad[64];
    const char *const hdr_good[] = {good, NULL};
    const char *const hdr_bad[] = {bad, NULL};
    resp r;

    (void)state;
    assert_int_equal(http_server_start(&cfg, routes, sizeof routes / sizeof routes[0], NULL, &s, &e), KT_OK);
    f.srv = s;
    f.port = http_server_port(s);
    f.curl = curl_easy_init();
    snprintf(good, sizeof good, "Origin: http://127.0.0.1:%d", f.port);
    snprintf(bad, sizeof bad, "Origin: http://127.0.0.1:0");
    request(&f, "POST", "/echo", "x", hdr_good, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    request(&f, "POST", "/echo", "x", hdr_bad, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    curl_easy_cleanup(f.curl);
    http_server_stop(s);
}

static int ipv6_loopback_available(void)
{
    struct sockaddr_in6 a;
    int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_ipv6_listen(void **state)
{
    http_server *s = NULL;
    kt_err e;
    http_config cfg = {.listen = "[::1]:0", .threads = 1};
    CURL *c;
    char url[64];
    long status = 0;
    buf body;

    (void)state;
    if (!ipv6_loopback_available())
        skip();
    assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &s, &e), KT_OK);
    assert_true(http_server_port(s) > 0);
    c = curl_easy_init();
    buf_init(&body, 0);
    snprintf(url, sizeof url, "http://[::1]:%d/hello", http_server_port(s));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    assert_string_equal(body.data, "{\"hello\":\"world\"}");
    buf_free(&body);
    curl_easy_cleanup(c);
    http_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_traversal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client_does_not_block, setup_one_thread, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_handler_does_not_stall_others, setup_threads_1, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_blocked_handler, setup_threads_1, teardown),
        cmocka_unit_test_setup_teardown(test_worker_pool_full_answers_503, setup_small_pool, teardown),
        cmocka_unit_test_setup_teardown(test_slowloris_does_not_block, setup_threads_1, teardown),
        cmocka_unit_test_setup_teardown(test_security_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_inputs, setup_short_timeout, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
        cmocka_unit_test(test_connection_limits),
        cmocka_unit_test(test_origin_port_zero),
        cmocka_unit_test(test_ipv6_listen),
    };
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("http_server", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

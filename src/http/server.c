/* server.c - the HTTP server edge on libmicrohttpd (implements http.h).
 *
 * Threading (issue 17): libmicrohttpd's epoll event loop on a small pool of
 * threads (`threads`, default the CPU count) multiplexes every connection,
 * so an idle keep-alive connection costs a descriptor and its memory pool
 * pages, not a thread. Routes marked HTTP_ROUTE_INLINE (fast, bounded,
 * read-only: /healthz, /api/artists/, the UI's files) run right there.
 * Every other handler may block (the OAuth callback waits on Spotify,
 * imports parse large uploads, exports read the database), so its
 * connection is suspended (MHD_suspend_connection) and the handler runs on
 * a bounded pool of worker threads (`workers`, default 16); the worker
 * resumes the connection and the event loop queues the reply. Requests
 * beyond the workers wait in a FIFO of at most max_queued (default 1024:
 * 1,000 keep-alive clients each with a request in flight are queued, not
 * refused); past that they get 503 "busy" with Retry-After: 1 at once, so
 * a flood of slow requests costs bounded memory and never delays the
 * inline routes.
 * A streamed reply's reader runs on a worker too, one block at a time with
 * the connection suspended in between (see stream_ctx).
 *
 * Before (thread per connection, MHD_USE_THREAD_PER_CONNECTION, 512 KiB
 * stacks) the measurements of bench/http_load on this 2-CPU machine shared
 * with wrk (GET /healthz) were 30-42k req/s with p99 6-49 ms at 64
 * keep-alive connections, 20-28k req/s with p99 58-199 ms and 85 MB RSS at
 * 1,000, and a thread (and its touched stack) for each idle connection:
 * 10,000 idle keep-alive connections would need 10,000 threads. An epoll
 * pool where every handler ran on the event threads had the opposite
 * problem: a /metrics scrape took 3 s behind an OAuth callback. The split
 * keeps both: the fast routes cost no thread hand-off, the slow ones cost
 * two (suspend, resume) and can stall only each other. Figures after the
 * change are in README.md's benchmark table (bench/api, bench/http_load,
 * bench/memory.py).
 *
 * Limits: max_connections defaults to 16384, lowered to fit RLIMIT_NOFILE
 * (keeptrack serve raises its soft limit to the hard one at start). An
 * inline handler must not wait on anything a blocking handler may hold for
 * long: while it runs, the other connections of its event thread wait. The
 * inline /healthz, /metrics and /api/artists/ borrow a database connection
 * from the pool (db-pool, 8) for one short query; if slow work held every
 * pooled connection (on PostgreSQL a token refresh keeps one while it waits
 * on Spotify, up to spotify-timeout-ms) they would wait for one.
 *
 * One request goes through these steps, on its connection's event thread
 * except where said:
 *   1. uri_log_cb: the request line has arrived; the per-request context is
 *      made here because this is the only place libmicrohttpd shows the raw
 *      request target (path still percent-encoded, query intact).
 *   2. first access_cb call (headers complete): route match, cross-site
 *      check, Content-Length against the body cap, query and cookie parsing.
 *      An error found here is queued at once only when a body is pending:
 *      libmicrohttpd then skips the body and closes the connection (we must
 *      not read a body we refuse). Otherwise the answer waits for step 4,
 *      because a response queued on the first call also closes the
 *      connection (DESIGN.md convention 9: keep-alive would be lost).
 *   3. access_cb calls with upload data: appended to a capped buffer.
 *   4. last access_cb call: an inline handler runs and its reply is queued,
 *      with the security headers added; a blocking one is handed to a
 *      worker and the connection suspended (or 503 when the queue is full).
 *   4b. (blocking routes) the worker ran the handler and resumed the
 *      connection: access_cb is called once more and queues the reply.
 *   5. completed_cb: on_done hook (route pattern, status, duration), free.
 *
 * libmicrohttpd 0.9.75 answers some malformed requests itself, with a short
 * HTML body and none of our headers: request headers past the connection
 * memory limit get 431, a request line past it 414, a missing Host 400, a
 * bad chunked encoding 400. Those requests never reach a handler (on_done
 * sees them only when the request line was complete, with status 0).
 * A chunked body cannot be answered with 413 mid-upload in 0.9.75 (a
 * response can only be queued before the body or after all of it), so an
 * oversized chunked body is drained up to HTTP_DRAIN_MAX more bytes and then
 * answered 413, or the connection is closed if the client keeps sending.
 */
#include "http/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/url.h"
#include "http/cookie.h"
#include "http/csrf.h"
#include "http/router.h"

#define HTTP_MAX_REPLY_HEADERS 32
#define HTTP_DRAIN_MAX (64 * 1024)            /* bytes of an oversized chunked body read before closing */
/* Per connection: request line and headers must fit (about half of it).
 * It is also what each idle keep-alive connection costs: libmicrohttpd
 * 0.9.75 zeroes the whole pool between requests, so all of it is resident
 * once a connection has served one request (measured with
 * tests/pylib/idle_conns.py: 64.5 KiB a connection at 64 KiB, 32.6 at 32).
 * Below 32 KiB, 200 cookies or a few odd ones no longer fit its records. */
#define HTTP_MEMORY_LIMIT (32 * 1024)
#define HTTP_STREAM_BLOCK (32 * 1024)
#define HTTP_DEFAULT_BODY ((size_t)1 << 20)
#define HTTP_DEFAULT_UPLOAD ((size_t)256 << 20)
#define HTTP_DEFAULT_WORKERS 16u
#define HTTP_MAX_WORKERS 1024u
#define HTTP_DEFAULT_QUEUED 1024u
#define HTTP_DEFAULT_CONNECTIONS 16384u
#define HTTP_FD_RESERVE 128u                  /* descriptors kept for everything but connections */
/* Stack of each event-loop and worker thread. The deepest measured use was 40 KiB
 * (pages touched, probed with mincore after every request through the
 * whole integration suite on SQLite and PostgreSQL: sqlite, libpq, curl,
 * jansson, libmicrohttpd's own frames; the probe saw a 200 KiB test frame
 * as 208 KiB); 512 KiB leaves a wide margin. An ASan -O0 build measured the
 * same on the login/export/ops/history suites, but its frames grow with
 * sanitizer options, so it gets four times as much (address space only:
 * untouched stack pages cost no memory). */
#if defined(__SANITIZE_ADDRESS__)
#define HTTP_THREAD_STACK ((size_t)2048 * 1024)
#else
#define HTTP_THREAD_STACK ((size_t)512 * 1024)
#endif

/* Defaults for responses whose handler set no policy of its own: JSON and
 * other data load nothing; HTML pages of the UI load from our origin only. */
#define CSP_DATA "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#define CSP_HTML                                                                                   \
    "default-src 'self'; img-src 'self' data: https://i.scdn.co; object-src 'none'; "             \
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

/* One unit of work for the worker pool: a blocking handler to run, or one
 * block of a streamed reply to produce. Embedded in its owner (http_req or
 * stream_ctx), so queueing never allocates. */
typedef struct work {
    struct work *next;
    void (*run)(struct work *w);
    int is_handler; /* counts against max_queued */
} work;

/* Threads that run blocking handlers and stream readers (see the top of
 * this file). The queue is a FIFO. Only handler jobs count against the
 * bound (a stream block belongs to a reply already under way): at most
 * nthreads + max_queued of them are in the pool, running or waiting. They
 * are counted from submission to the end of the handler, not by what sits
 * in the queue, so the bound does not depend on how soon a worker wakes. */
typedef struct work_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    work *head, *tail;
    unsigned handlers;        /* handler jobs submitted and not finished */
    unsigned max_queued;
    int stopping;             /* no new work; threads exit once the queue is empty */
    pthread_t *threads;
    unsigned nthreads;        /* started */
    int init;
} work_pool;

struct http_server {
    struct MHD_Daemon *daemon;
    work_pool pool;
    const http_route *routes;
    size_t nroutes;
    void *app;
    char *listen;
    char *origin;       /* public origin without a trailing '/', or NULL */
    int https;
    int port;
    size_t max_body;
    size_t max_upload;
    void (*on_done)(void *app, const char *method, const char *route, int status, double seconds);
    void (*on_start)(void *app);
    unsigned grace_s;
    /* Requests received and not completed, for the graceful stop. */
    pthread_mutex_t flight_mu;
    pthread_cond_t flight_cv;
    unsigned in_flight;
    int draining; /* under flight_mu: http_server_stop has begun */
    int flight_init;
};

typedef struct reply_header {
    char *name;
    char *value;
} reply_header;

struct http_req {
    http_server *srv;
    struct MHD_Connection *conn;
    struct timespec start;
    char method[16];          /* copy for on_done (truncated past 15 bytes) */
    const char *method_full;  /* libmicrohttpd's, valid during the request */
    char *target;             /* raw request target, cut into path '\0' query */
    const char *path;
    const char *query;        /* NULL when the target had no '?' */
    int started;              /* the first access_cb call happened */
    http_match match;
    url_kv *qkv;
    size_t nq;
    http_cookie_jar jar;
    buf body;
    int body_pending;
    int overflow;
    size_t drained;
    int64_t user_id;
    /* reply */
    int replied;
    int status;
    int is_html;
    int close_after;
    struct MHD_Response *resp;
    reply_header hdrs[HTTP_MAX_REPLY_HEADERS];
    size_t nhdrs;
    int queued_status;        /* status actually queued; 0 if none */
    /* blocking handlers: the connection is suspended while a worker runs it */
    work job;
    int dispatched;           /* handed to the pool; the reply is queued on resume */
};

static const char *route_name(const http_req *r)
{
    return r->match.route ? r->match.route->pattern : "unmatched";
}

/* ---- the worker pool ---- */

typedef enum pool_result { POOL_QUEUED, POOL_FULL, POOL_STOPPED } pool_result;

static void *pool_main(void *arg)
{
    work_pool *p = arg;
    for (;;) {
        work *w;
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        w = p->head;
        if (w) {
            p->head = w->next;
            if (!p->head)
                p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (!w)
            return NULL; /* stopping and nothing left */
        w->run(w);
    }
}

/* Suspends conn and queues w for a worker, which resumes conn when done.
 * The connection is suspended before the work is visible to any worker, so
 * the resume can never come first. Called on an event-loop thread, from the
 * access handler or a content reader (the two places libmicrohttpd allows
 * a suspend). POOL_FULL: too many handlers wait; POOL_STOPPED: the server
 * is stopping. In both cases nothing was suspended or queued. */
static pool_result pool_submit(work_pool *p, work *w, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return POOL_STOPPED;
    }
    if (w->is_handler && p->handlers >= p->nthreads + p->max_queued) {
        pthread_mutex_unlock(&p->mu);
        return POOL_FULL;
    }
    MHD_suspend_connection(conn);
    w->next = NULL;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    if (w->is_handler)
        p->handlers++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return POOL_QUEUED;
}

/* Lets the threads finish everything queued, then joins them. A handler
 * that never returns keeps this waiting (as a connection thread did). */
static void pool_stop(work_pool *p)
{
    if (!p->init)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    p->init = 0;
}

static kt_status pool_start(work_pool *p, unsigned n, unsigned max_queued, kt_err *err)
{
    pthread_attr_t attr;
    int rc = 0;

    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return err_set(err, KT_ERR_NOMEM, NULL, "could not create the HTTP worker pool's lock");
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return err_set(err, KT_ERR_NOMEM, NULL, "could not create the HTTP worker pool's condition");
    }
    p->init = 1;
    p->max_queued = max_queued;
    p->threads = calloc(n, sizeof *p->threads);
    if (!p->threads)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory starting the HTTP worker pool");
    if (pthread_attr_init(&attr) != 0)
        return err_set(err, KT_ERR_NOMEM, NULL, "could not start the HTTP worker pool");
    if (pthread_attr_setstacksize(&attr, HTTP_THREAD_STACK) == 0)
        for (; p->nthreads < n; p->nthreads++)
            if ((rc = pthread_create(&p->threads[p->nthreads], &attr, pool_main, p)) != 0)
                break;
    pthread_attr_destroy(&attr);
    if (p->nthreads < n)
        return err_set(err, KT_ERR_IO, "threads_failed", "could not start HTTP worker thread %u of %u: %s",
                       p->nthreads + 1, n, strerror(rc ? rc : EINVAL));
    return KT_OK;
}

/* ---- replies ---- */

static int reply_begin(http_req *r, const char *what)
{
    if (!r)
        return 0;
    if (r->replied) {
        LOG_ERROR("http_double_reply", "route=%s reply=%s", route_name(r), what);
        return 0;
    }
    return 1;
}

/* Records the response (NULL when libmicrohttpd could not make one: the
 * fallback in queue_reply answers 500). */
static void reply_set(http_req *r, int status, struct MHD_Response *resp, int is_html)
{
    if (!resp)
        LOG_ERROR("http_reply_failed", "route=%s status=%d", route_name(r), status);
    if (status < 100 || status > 599) {
        LOG_ERROR("http_bad_status", "route=%s status=%d", route_name(r), status);
        status = 500;
    }
    r->replied = 1;
    r->status = resp ? status : 500;
    r->resp = resp;
    r->is_html = is_html;
}

static struct MHD_Response *response_from_malloc(char *data, size_t len, const char *ctype)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return NULL;
    }
    if (ctype && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
}

/* {"error":{"status":N,"code":"...","message":"..."}} as a malloc'd string. */
static char *error_body(int status, const char *code, const char *msg, size_t *len)
{
    json_t *j = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", status, "code", code, "message", msg);
    char *s;
    if (!j) /* msg or code not valid UTF-8 */
        j = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", status, "code", "error", "message",
                      "request failed (the error message was not valid UTF-8)");
    if (!j)
        return NULL;
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s)
        *len = strlen(s);
    return s;
}

static void reply_error_parts(http_req *r, int status, const char *code, const char *msg)
{
    size_t len = 0;
    char *body;

    if (!reply_begin(r, "error"))
        return;
    if (status >= 500)
        LOG_WARN("http_error", "route=%s status=%d code=%s message=%s", route_name(r), status, code, msg);
    body = error_body(status, code, msg, &len);
    reply_set(r, status, body ? response_from_malloc(body, len, "application/json") : NULL, 0);
}

void http_reply_error_msg(http_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[sizeof(((kt_err *)0)->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error_parts(r, status, code ? code : "error", msg);
}

void http_reply_error(http_req *r, const kt_err *e)
{
    int status;
    char retry[24];

    if (!e || e->status == KT_OK) {
        LOG_ERROR("http_bug", "route=%s what=%s", r ? route_name(r) : "-", "http_reply_error without an error");
        reply_error_parts(r, 500, "internal", "internal error");
        return;
    }
    status = err_http_status(e->status);
    if (e->status == KT_ERR_DEFERRED) {
        int64_t secs = 60;
        status = 503;
        if (e->retry_at_ms > 0) {
            secs = (e->retry_at_ms - time_now_ms() + 999) / 1000;
            if (secs < 1)
                secs = 1;
        }
        snprintf(retry, sizeof retry, "%lld", (long long)secs);
        if (r && !r->replied)
            http_reply_header(r, "Retry-After", retry);
    }
    reply_error_parts(r, status, e->code[0] ? e->code : err_status_name(e->status), e->msg);
}

void http_reply_json(http_req *r, int status, json_t *body)
{
    char *s;

    if (!reply_begin(r, "json")) {
        json_decref(body);
        return;
    }
    s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!s) {
        LOG_ERROR("http_bug", "route=%s what=%s", route_name(r), "http_reply_json with no serialisable body");
        reply_error_parts(r, 500, "internal", "the response could not be serialised");
        return;
    }
    reply_set(r, status, response_from_malloc(s, strlen(s), "application/json"), 0);
}

void http_reply_bytes(http_req *r, int status, const char *content_type, const void *body, size_t len)
{
    struct MHD_Response *resp;
    char *copy;
    int html;

    if (!reply_begin(r, "bytes"))
        return;
    copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, body, len);
    resp = copy ? response_from_malloc(copy, len, content_type) : NULL;
    html = content_type && !strncasecmp(content_type, "text/html", 9);
    reply_set(r, status, resp, html);
}

void http_reply_redirect(http_req *r, int status, const char *location)
{
    struct MHD_Response *resp;

    if (!reply_begin(r, "redirect"))
        return;
    if (status < 300 || status > 399) {
        LOG_ERROR("http_bug", "route=%s what=%s status=%d", route_name(r), "redirect with a non-3xx status", status);
        status = 302;
    }
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp && (!location || MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES)) {
        LOG_ERROR("http_bug", "route=%s what=%s", route_name(r), "redirect to a missing or malformed location");
        MHD_destroy_response(resp);
        reply_error_parts(r, 500, "internal", "bad redirect target");
        return;
    }
    reply_set(r, status, resp, 0);
}

/* A streamed reply. Its reader may block (exports read the database page
 * by page), so it never runs on an event-loop thread: when the block a
 * worker produced has been sent, the connection is suspended and a worker
 * produces the next one (at most HTTP_STREAM_BLOCK bytes buffered per
 * reply, and no thread held while a slow client reads). block/len/off/state
 * are written by the worker before MHD_resume_connection and read by the
 * event loop after it: libmicrohttpd's resume goes through a mutex both
 * sides take, which orders the two. */
enum { STREAM_MORE = 0, STREAM_END, STREAM_ERROR };

typedef struct stream_ctx {
    http_stream_fn fn;
    void *ctx;
    void (*free_fn)(void *ctx);
    http_server *srv;
    struct MHD_Connection *conn;
    work job;
    char *block;
    size_t len, off;
    uint64_t produced; /* bytes fn has produced: its next pos */
    int state;
} stream_ctx;

/* Produces the next block (on a worker, or inline while stopping). */
static void stream_fill(stream_ctx *sc)
{
    long n = sc->fn(sc->ctx, sc->produced, sc->block, HTTP_STREAM_BLOCK);
    sc->off = sc->len = 0;
    if (n == 0) {
        sc->state = STREAM_END;
    } else if (n < 0 || (size_t)n > HTTP_STREAM_BLOCK) {
        sc->state = STREAM_ERROR;
    } else {
        sc->len = (size_t)n;
        sc->produced += (uint64_t)n;
    }
}

static void stream_job(work *w)
{
    stream_ctx *sc = (stream_ctx *)(void *)((char *)w - offsetof(stream_ctx, job));
    stream_fill(sc);
    MHD_resume_connection(sc->conn); /* last use of sc on this thread */
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream_ctx *sc = cls;
    size_t n;

    (void)pos; /* fn gets its own position: what it has produced */
    if (sc->off == sc->len && sc->state == STREAM_MORE) {
        if (pool_submit(&sc->srv->pool, &sc->job, sc->conn) == POOL_QUEUED)
            return 0; /* suspended: called again once a worker has filled the block */
        stream_fill(sc); /* the pool has stopped (server stopping): produce it here */
    }
    if (sc->off < sc->len) {
        n = sc->len - sc->off < max ? sc->len - sc->off : max;
        memcpy(out, sc->block + sc->off, n);
        sc->off += n;
        return (ssize_t)n;
    }
    return sc->state == STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    stream_ctx *sc = cls;
    if (sc->free_fn)
        sc->free_fn(sc->ctx);
    free(sc->block);
    free(sc);
}

void http_reply_stream(http_req *r, int status, const char *content_type, http_stream_fn fn, void *ctx,
                       void (*free_fn)(void *ctx))
{
    struct MHD_Response *resp = NULL;
    stream_ctx *sc;

    if (!reply_begin(r, "stream") || !fn) {
        if (free_fn)
            free_fn(ctx);
        if (r && !r->replied)
            reply_error_parts(r, 500, "internal", "stream reply without a reader");
        return;
    }
    sc = calloc(1, sizeof *sc);
    if (sc)
        sc->block = malloc(HTTP_STREAM_BLOCK);
    if (!sc || !sc->block) {
        if (free_fn)
            free_fn(ctx);
        if (sc)
            free(sc);
        reply_set(r, status, NULL, 0);
        return;
    }
    sc->fn = fn;
    sc->ctx = ctx;
    sc->free_fn = free_fn;
    sc->srv = r->srv;
    sc->conn = r->conn;
    sc->job.run = stream_job;
    /* On failure libmicrohttpd does not call stream_free: do it here. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK, stream_read, sc, stream_free);
    if (!resp) {
        stream_free(sc);
    } else if (content_type &&
               MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp); /* calls stream_free */
        resp = NULL;
    }
    reply_set(r, status, resp, content_type && !strncasecmp(content_type, "text/html", 9));
}

static int header_value_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

static int header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *s))
            return 0;
    return 1;
}

void http_reply_header(http_req *r, const char *name, const char *value)
{
    reply_header *h;

    if (!r || !name || !value)
        return;
    if (!header_name_ok(name) || !header_value_ok(value)) {
        LOG_ERROR("http_bug", "route=%s what=%s", route_name(r), "malformed response header refused");
        return;
    }
    if (r->nhdrs == HTTP_MAX_REPLY_HEADERS) {
        LOG_ERROR("http_bug", "route=%s what=%s", route_name(r), "too many response headers");
        return;
    }
    h = &r->hdrs[r->nhdrs];
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        LOG_ERROR("http_reply_failed", "route=%s what=%s", route_name(r), "out of memory adding a header");
        return;
    }
    r->nhdrs++;
}

static int has_reply_header(const http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (!strcasecmp(r->hdrs[i].name, name))
            return 1;
    return 0;
}

static void add_header(http_req *r, const char *name, const char *value)
{
    if (MHD_add_response_header(r->resp, name, value) != MHD_YES)
        LOG_ERROR("http_bug", "route=%s what=%s header=%s", route_name(r), "libmicrohttpd refused a header", name);
}

/* Adds the handler's headers and our defaults, then queues. */
static enum MHD_Result queue_reply(http_req *r)
{
    enum MHD_Result ret;

    if (!r->resp) { /* a reply could not be built: a bare 500 */
        static const char fallback[] =
            "{\"error\":{\"status\":500,\"code\":\"internal\",\"message\":\"out of memory\"}}";
        r->resp = MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback, MHD_RESPMEM_PERSISTENT);
        r->status = 500;
        if (!r->resp)
            return MHD_NO;
        add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    for (size_t i = 0; i < r->nhdrs; i++)
        add_header(r, r->hdrs[i].name, r->hdrs[i].value);
    add_header(r, "X-Content-Type-Options", "nosniff");
    add_header(r, "X-Frame-Options", "DENY");
    if (!has_reply_header(r, "Referrer-Policy"))
        add_header(r, "Referrer-Policy", "same-origin");
    if (!has_reply_header(r, "Content-Security-Policy"))
        add_header(r, "Content-Security-Policy", r->is_html ? CSP_HTML : CSP_DATA);
    if (!has_reply_header(r, "Cache-Control"))
        add_header(r, "Cache-Control", "no-store");
    pthread_mutex_lock(&r->srv->flight_mu);
    if (r->srv->draining)
        r->close_after = 1; /* stopping: the client must not reuse the connection */
    pthread_mutex_unlock(&r->srv->flight_mu);
    if (r->close_after)
        add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    if (ret == MHD_YES)
        r->queued_status = r->status;
    else
        LOG_ERROR("http_queue_failed", "route=%s status=%d", route_name(r), r->status);
    return ret;
}

/* ---- request accessors ---- */

const char *http_req_method(const http_req *r)
{
    return r ? r->method_full : NULL;
}

const char *http_req_path(const http_req *r)
{
    return r ? r->path : NULL;
}

const char *http_req_param(const http_req *r, const char *name)
{
    return r ? http_match_param(&r->match, name) : NULL;
}

const char *http_req_query(const http_req *r, const char *name)
{
    return r && name ? url_query_get(r->qkv, r->nq, name) : NULL;
}

const char *http_req_header(const http_req *r, const char *name)
{
    if (!r || !name || !r->conn)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_cookie(const http_req *r, const char *name)
{
    return r ? http_cookie_find(&r->jar, name) : NULL;
}

const char *http_req_body(const http_req *r, size_t *len)
{
    if (len)
        *len = r && r->body.data ? r->body.len : 0;
    return r && r->body.data ? r->body.data : "";
}

kt_status http_req_json(const http_req *r, json_t **out, kt_err *err)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    json_t *j = NULL;
    kt_status st;

    if (len == 0) {
        j = json_object();
        if (!j)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        *out = j;
        return KT_OK;
    }
    st = json_parse_bounded(body, len, 0, &j, err);
    if (st != KT_OK) {
        err_prefix(err, "request body");
        return st;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return err_set(err, KT_ERR_INVALID, "bad_json", "request body: expected a JSON object");
    }
    *out = j;
    return KT_OK;
}

int http_req_wants_json(const http_req *r)
{
    const char *accept = http_req_header(r, "Accept");
    const char *xrw = http_req_header(r, "X-Requested-With");
    const char *json, *html;

    if (xrw && !strcasecmp(xrw, "XMLHttpRequest"))
        return 1;
    if (!accept)
        return 0;
    json = strcasestr(accept, "application/json");
    html = strcasestr(accept, "text/html");
    return json && (!html || json < html);
}

int http_req_is_https(const http_req *r)
{
    return r && r->srv->https;
}

void http_req_client(const http_req *r, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        r ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (n == 0)
        return;
    out[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
        out[0] = '\0';
}

void http_req_set_user(http_req *r, int64_t user_id)
{
    if (r)
        r->user_id = user_id;
}

int64_t http_req_user(const http_req *r)
{
    return r ? r->user_id : 0;
}

/* ---- request lifecycle ---- */

static void req_free(http_req *r)
{
    if (!r)
        return;
    if (r->resp)
        MHD_destroy_response(r->resp);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    http_match_free(&r->match);
    url_query_free(r->qkv, r->nq);
    http_cookie_jar_free(&r->jar);
    buf_free(&r->body);
    free(r->target);
    free(r);
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_req *r = calloc(1, sizeof *r);
    char *q;

    (void)conn;
    if (!r)
        return NULL;
    r->srv = cls;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->target = strdup(uri ? uri : "");
    if (!r->target) {
        free(r);
        return NULL;
    }
    q = strchr(r->target, '#'); /* clients should not send one; never part of the path */
    if (q)
        *q = '\0';
    q = strchr(r->target, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    r->path = r->target;
    pthread_mutex_lock(&r->srv->flight_mu);
    r->srv->in_flight++;
    pthread_mutex_unlock(&r->srv->flight_mu);
    if (r->srv->on_start)
        r->srv->on_start(r->srv->app);
    return r;
}

/* Collects every Cookie header (HTTP/2 proxies may split them). */
static enum MHD_Result collect_cookie(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    buf *b = cls;
    (void)kind;
    if (!key || !value || strcasecmp(key, "Cookie") != 0)
        return MHD_YES;
    if ((b->len && buf_puts(b, "; ") != KT_OK) || buf_puts(b, value) != KT_OK)
        return MHD_NO; /* over the cap: keep what fitted */
    return MHD_YES;
}

static kt_status parse_cookies(http_req *r, kt_err *err)
{
    buf b;
    kt_status st;

    buf_init(&b, HTTP_COOKIE_MAX_HEADER);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_cookie, &b);
    st = http_cookie_parse(b.data, b.len, &r->jar, err);
    buf_free(&b);
    return st;
}

/* Content-Length when present and well-formed (libmicrohttpd already
 * refuses malformed ones with 400); -1 when absent. */
static long long content_length(const http_req *r)
{
    const char *cl = http_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long v;

    if (!cl || !*cl)
        return -1;
    errno = 0;
    v = strtoull(cl, &end, 10);
    if (errno || *end || v > (unsigned long long)INT64_MAX)
        return INT64_MAX;
    return (long long)v;
}

/* Step 2: everything that can be decided from the headers. */
static void begin_request(http_req *r)
{
    http_server *s = r->srv;
    const char *te = http_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    long long cl = content_length(r);
    kt_err e;
    kt_status st;
    size_t cap;

    err_clear(&e);
    r->body_pending = cl > 0 || (te && strcasestr(te, "chunked"));
    cap = s->max_body;

    st = http_router_match(s->routes, s->nroutes, r->method_full, r->path, &r->match, &e);
    if (st != KT_OK) {
        reply_error_parts(r, st == KT_ERR_INVALID ? 400 : 500, e.code[0] ? e.code : "internal", e.msg);
        return;
    }
    if (r->match.outcome == HTTP_MATCH_NO_ROUTE) {
        reply_error_parts(r, 404, "not_found", "no such endpoint");
        return;
    }
    if (r->match.outcome == HTTP_MATCH_BAD_METHOD) {
        http_reply_header(r, "Allow", r->match.allow);
        http_reply_error_msg(r, 405, "method_not_allowed", "this endpoint accepts %s", r->match.allow);
        return;
    }
    if (!(r->match.route->flags & HTTP_ROUTE_NO_CSRF) &&
        !http_csrf_allowed(r->method_full, http_req_header(r, "Origin"), http_req_header(r, "Sec-Fetch-Site"),
                           s->origin)) {
        reply_error_parts(r, 403, "cross_site",
                          "cross-site request refused: state-changing requests must come from this site");
        return;
    }
    if (r->match.route->flags & HTTP_ROUTE_UPLOAD)
        cap = s->max_upload;
    if (cl > 0 && (unsigned long long)cl > cap) {
        http_reply_error_msg(r, 413, "too_large", "the request body is larger than the limit of %zu bytes", cap);
        return;
    }
    buf_init(&r->body, cap);
    if (r->query && url_query_parse(r->query, &r->qkv, &r->nq, &e) != KT_OK) {
        reply_error_parts(r, 400, "bad_query", e.msg);
        return;
    }
    for (size_t i = 0; i < r->nq; i++)
        if (!http_utf8_valid(r->qkv[i].key) || !http_utf8_valid(r->qkv[i].value)) {
            reply_error_parts(r, 400, "bad_query", "the query string is not valid UTF-8");
            return;
        }
    if (parse_cookies(r, &e) != KT_OK)
        reply_error_parts(r, 500, "internal", e.msg);
}

/* Step 3: one piece of the body. */
static enum MHD_Result take_body(http_req *r, const char *data, size_t *size)
{
    if (!r->overflow && !r->replied) {
        kt_status st = buf_append(&r->body, data, *size);
        if (st == KT_ERR_TOO_LARGE) {
            r->overflow = 1;
            r->drained = r->body.len + *size;
            buf_free(&r->body);
        } else if (st != KT_OK) {
            return MHD_NO;
        }
    } else {
        r->drained += *size;
        if (r->drained > r->body.max + HTTP_DRAIN_MAX) {
            LOG_INFO("http_body_refused", "route=%s bytes=%zu", route_name(r), r->drained);
            return MHD_NO; /* the client keeps sending: close without an answer */
        }
    }
    *size = 0;
    return MHD_YES;
}

static void run_handler(http_req *r)
{
    r->match.route->fn(r, r->srv->app);
    if (!r->replied) {
        LOG_ERROR("http_bug", "route=%s what=%s", route_name(r), "handler returned without a reply");
        reply_error_parts(r, 500, "internal", "the handler produced no response (a bug; see the server log)");
    }
}

/* A worker runs a blocking handler; the access handler is called again
 * once the connection is resumed and queues the reply (step 4b). */
static void handler_job(work *w)
{
    http_req *r = (http_req *)(void *)((char *)w - offsetof(http_req, job));
    work_pool *p = &r->srv->pool;
    run_handler(r);
    /* Before the resume: the client's next request may arrive right after. */
    pthread_mutex_lock(&p->mu);
    p->handlers--;
    pthread_mutex_unlock(&p->mu);
    MHD_resume_connection(r->conn); /* last use of r on this thread */
}

/* Step 4: run the handler (or send the error decided earlier): inline
 * routes here, blocking ones on a worker while the connection is
 * suspended (step 4b, on resume, queues what the worker's handler
 * replied). */
static enum MHD_Result finish_request(http_req *r)
{
    if (r->dispatched)
        return queue_reply(r);
    if (!r->replied && r->overflow) {
        r->close_after = 1;
        http_reply_error_msg(r, 413, "too_large", "the request body is larger than the limit of %zu bytes",
                             r->body.max);
    }
    if (!r->replied && (r->match.route->flags & HTTP_ROUTE_INLINE)) {
        run_handler(r);
    } else if (!r->replied) {
        r->job.run = handler_job;
        r->job.is_handler = 1;
        r->dispatched = 1;
        switch (pool_submit(&r->srv->pool, &r->job, r->conn)) {
        case POOL_QUEUED:
            return MHD_YES;
        case POOL_FULL:
            r->dispatched = 0;
            http_reply_header(r, "Retry-After", "1");
            reply_error_parts(r, 503, "busy", "the server is busy (every worker is taken and the queue is full); "
                                              "retry in a moment");
            break;
        case POOL_STOPPED:
            r->dispatched = 0;
            r->close_after = 1;
            http_reply_header(r, "Retry-After", "1");
            reply_error_parts(r, 503, "stopping", "the server is stopping");
            break;
        }
    }
    return queue_reply(r);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    http_req *r = *con_cls;

    (void)cls;
    (void)url;
    (void)version;
    if (!r)
        return MHD_NO; /* uri_log_cb ran out of memory */
    if (!r->started) {
        r->started = 1;
        r->conn = conn;
        r->method_full = method;
        snprintf(r->method, sizeof r->method, "%s", method);
        begin_request(r);
        /* An error with a body pending is answered now: libmicrohttpd then
         * discards the body and closes the connection. */
        if (r->replied && r->body_pending) {
            r->close_after = 1;
            return queue_reply(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size)
        return take_body(r, upload_data, upload_data_size);
    return finish_request(r);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    http_req *r = *con_cls;
    struct timespec end;
    double secs;

    (void)conn;
    (void)toe;
    if (!r)
        return;
    *con_cls = NULL;
    clock_gettime(CLOCK_MONOTONIC, &end);
    secs = (double)(end.tv_sec - r->start.tv_sec) + (double)(end.tv_nsec - r->start.tv_nsec) / 1e9;
    if (log_enabled(LOG_DEBUG))
        LOG_DEBUG("http_request", "method=%s route=%s status=%d ms=%.3f", r->method[0] ? r->method : "-",
                  route_name(r), r->queued_status, secs * 1000.0);
    if (s->on_done)
        s->on_done(s->app, r->method[0] ? r->method : "-", route_name(r), r->queued_status, secs);
    req_free(r);
    pthread_mutex_lock(&s->flight_mu);
    if (s->in_flight > 0 && --s->in_flight == 0)
        pthread_cond_broadcast(&s->flight_cv);
    pthread_mutex_unlock(&s->flight_mu);
}

/* Keeps the path percent-encoded: the router decodes segment by segment so
 * that "%2F" stays inside its segment. Query arguments are parsed by us from
 * the raw target, so libmicrohttpd's copies are never used. */
static size_t unescape_noop(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t len;

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    /* Most of libmicrohttpd's messages are about one client's malformed or
     * abandoned request: debug, or a flood of them could fill the log.
     * Resource limits and failures of our own are warnings. */
    if (strcasestr(line, "limit") || strcasestr(line, "fail") || strcasestr(line, "memory"))
        LOG_WARN("http_mhd", "message=%s", line);
    else
        LOG_DEBUG("http_mhd", "message=%s", line);
}

/* ---- server ---- */

/* Parses "host:port", "[v6]:port" or ":port" into a socket address. */
static kt_status parse_listen(const char *listen, struct sockaddr_storage *ss, int *ipv6, kt_err *err)
{
    char host[256];
    const char *colon, *port;
    struct addrinfo hints, *res = NULL;
    int rc;
    size_t hlen;

    if (!listen || !*listen)
        return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address is empty: use HOST:PORT, e.g. 127.0.0.1:8080");
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': use [IPv6]:PORT", listen);
        hlen = (size_t)(close - listen - 1);
        if (hlen >= sizeof host)
            return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': host too long", listen);
        memcpy(host, listen + 1, hlen);
        port = close + 2;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': use HOST:PORT", listen);
        hlen = (size_t)(colon - listen);
        if (hlen >= sizeof host)
            return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': host too long", listen);
        memcpy(host, listen, hlen);
        port = colon + 1;
    }
    host[hlen] = '\0';
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) > 65535)
        return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': port must be 0..65535", listen);

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res)
        return err_set(err, KT_ERR_INVALID, "bad_listen", "listen address '%s': %s", listen, gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return KT_OK;
}

/* A public origin that names port 0 ("http://127.0.0.1:0", as derived from
 * a listen address asking for any free port) gets the bound port, so the
 * cross-site check compares with the origin browsers will actually send. */
static kt_status origin_fill_port(http_server *s, kt_err *err)
{
    size_t len = s->origin ? strlen(s->origin) : 0;
    char *filled;

    if (len < 3 || strcmp(s->origin + len - 2, ":0") != 0 || s->port <= 0)
        return KT_OK;
    if (asprintf(&filled, "%.*s:%d", (int)(len - 2), s->origin, s->port) < 0)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory starting the HTTP server");
    free(s->origin);
    s->origin = filled;
    return KT_OK;
}

kt_status http_server_start(const http_config *cfg, const http_route *routes, size_t nroutes, void *app,
                            http_server **out, kt_err *err)
{
    http_server *s = NULL;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    /* An epoll event loop on `threads` threads (see the top of this file).
     * Suspend/resume hands blocking handlers to the worker pool; ITC wakes
     * an event loop when a worker resumes one of its connections, and lets
     * http_server_stop quiesce the daemon (stop accepting) while the
     * requests in flight are finished. Not MHD_USE_TURBO: it measured
     * faster (bench/http_load, 64 connections, load 7-8: 35-50k req/s,
     * p99 21 ms, against 24-28k, 27-30 ms), but with it about one run in
     * fifteen of test_http_edge.py saw dozens of fresh connections reset
     * by the server while 2,000 were being opened. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    unsigned timeout, max_conn, threads, workers, max_queued;
    struct rlimit rl;
    int ipv6 = 0;
    kt_status st;

    if (!cfg || !out)
        return err_set(err, KT_ERR_INVALID, NULL, "http_server_start: no configuration");
    st = http_router_validate(routes, nroutes, err);
    if (st != KT_OK)
        return st;
    st = parse_listen(cfg->listen, &ss, &ipv6, err);
    if (st != KT_OK)
        return st;
    if (cfg->threads < 0 || cfg->threads > 256)
        return err_set(err, KT_ERR_INVALID, "bad_threads", "HTTP threads must be 1..256, got %d", cfg->threads);
    if (cfg->workers > HTTP_MAX_WORKERS)
        return err_set(err, KT_ERR_INVALID, "bad_workers", "HTTP workers must be 1..%d, got %u", HTTP_MAX_WORKERS,
                       cfg->workers);
    threads = (unsigned)cfg->threads;
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (unsigned)(cpus < 256 ? cpus : 256) : 1;
    }
    workers = cfg->workers ? cfg->workers : HTTP_DEFAULT_WORKERS;
    max_queued = cfg->max_queued ? cfg->max_queued : HTTP_DEFAULT_QUEUED;
    timeout = cfg->connection_timeout_s ? cfg->connection_timeout_s : 30;
    max_conn = cfg->max_connections ? cfg->max_connections : HTTP_DEFAULT_CONNECTIONS;
    /* Each connection is a descriptor: past the soft limit accept() fails
     * with EMFILE and libmicrohttpd stops accepting for a while. Keep some
     * descriptors for the database, Spotify, logs and files. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)max_conn + HTTP_FD_RESERVE > rl.rlim_cur) {
        unsigned fit = rl.rlim_cur > 2 * HTTP_FD_RESERVE ? (unsigned)(rl.rlim_cur - HTTP_FD_RESERVE) : 16;
        if (cfg->max_connections)
            LOG_WARN("http_max_connections_lowered", "asked=%u fd_limit=%llu max_connections=%u", max_conn,
                     (unsigned long long)rl.rlim_cur, fit);
        max_conn = fit;
    }

    s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory starting the HTTP server");
    st = pool_start(&s->pool, workers, max_queued, err);
    if (st != KT_OK)
        goto fail;
    pthread_mutex_init(&s->flight_mu, NULL);
    pthread_cond_init(&s->flight_cv, NULL);
    s->flight_init = 1;
    s->routes = routes;
    s->nroutes = nroutes;
    s->app = app;
    s->on_done = cfg->on_done;
    s->on_start = cfg->on_start;
    s->grace_s = cfg->shutdown_grace_s ? cfg->shutdown_grace_s : 30;
    s->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : HTTP_DEFAULT_BODY;
    s->max_upload = cfg->max_upload_bytes ? cfg->max_upload_bytes : HTTP_DEFAULT_UPLOAD;
    s->listen = strdup(cfg->listen);
    if (!s->listen)
        goto nomem;
    if (cfg->public_origin && *cfg->public_origin) {
        size_t len;
        s->origin = strdup(cfg->public_origin);
        if (!s->origin)
            goto nomem;
        len = strlen(s->origin);
        while (len > 0 && s->origin[len - 1] == '/')
            s->origin[--len] = '\0';
        s->https = !strncasecmp(s->origin, "https://", 8);
    }

    if (ipv6)
        flags |= MHD_USE_IPv6;
    {
        /* The logger must come first or libmicrohttpd prints the earlier
         * options' messages itself. A pool size of 1 means no pool. */
        struct MHD_OptionItem opts[] = {
            {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s},
            {MHD_OPTION_SOCK_ADDR, 0, &ss},
            {MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL},
            {MHD_OPTION_CONNECTION_LIMIT, max_conn, NULL},
            {MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL},
            {MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_MEMORY_LIMIT, NULL},
            {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
            {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log_cb, s},
            {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_noop, NULL},
            {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, s},
            {MHD_OPTION_THREAD_STACK_SIZE, HTTP_THREAD_STACK, NULL},
            {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
            {MHD_OPTION_END, 0, NULL},
        };
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    }
    if (!s->daemon) {
        int saved = errno;
        st = err_set(err, KT_ERR_IO, "listen_failed", "could not listen on %s: %s (is another server using the port?)",
                     cfg->listen, saved ? strerror(saved) : "libmicrohttpd refused the options");
        goto fail;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : 0;
    st = origin_fill_port(s, err);
    if (st != KT_OK)
        goto fail;
    LOG_INFO("http_listening", "listen=%s port=%d threads=%u workers=%u max_queued=%u max_connections=%u",
             s->listen, s->port, threads, workers, max_queued, max_conn);
    *out = s;
    return KT_OK;
nomem:
    st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory starting the HTTP server");
fail:
    http_server_stop(s);
    return st;
}

int http_server_port(const http_server *s)
{
    return s ? s->port : 0;
}

/* Waits (bounded by grace_s) until no request is in flight. A condition
 * variable signalled by completed_cb, not a sleep loop. */
static void drain(http_server *s)
{
    struct timespec deadline;
    unsigned left;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)s->grace_s;
    pthread_mutex_lock(&s->flight_mu);
    while (s->in_flight > 0 &&
           pthread_cond_timedwait(&s->flight_cv, &s->flight_mu, &deadline) != ETIMEDOUT)
        ;
    left = s->in_flight;
    pthread_mutex_unlock(&s->flight_mu);
    if (left > 0)
        LOG_WARN("http_stop_timeout", "in_flight=%u grace_s=%u", left, s->grace_s);
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    if (s->daemon) {
        /* Stop accepting first: with several instances behind a proxy, new
         * connections go elsewhere while this one finishes its requests. */
        MHD_socket lfd;
        /* Before the listener closes: a client that sees it closed must
         * find every answer from then on carrying Connection: close. */
        pthread_mutex_lock(&s->flight_mu);
        s->draining = 1;
        pthread_mutex_unlock(&s->flight_mu);
        lfd = MHD_quiesce_daemon(s->daemon);
        if (lfd != MHD_INVALID_SOCKET)
            close(lfd);
        drain(s);
    }
    /* Before the daemon: every suspended connection must have been resumed
     * (libmicrohttpd refuses to stop with one still suspended), and the
     * workers finish what they hold. Requests arriving from now on are
     * answered 503 and stream blocks are produced inline. */
    pool_stop(&s->pool);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->flight_init) {
        pthread_cond_destroy(&s->flight_cv);
        pthread_mutex_destroy(&s->flight_mu);
    }
    free(s->listen);
    free(s->origin);
    free(s);
}

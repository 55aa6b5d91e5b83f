/* server.c - libmicrohttpd glue for spotify-emulator (see server.h).
 *
 * Request life cycle (one conn_state per request, in MHD's req_cls):
 *  1. first access-handler call: allocate state, return (no response yet, so
 *     MHD keeps the connection alive; DESIGN.md convention 9);
 *  2. upload calls: append the body, up to cfg.body_cap (over it -> 413);
 *  3. final call: route; control API answered at once; otherwise decide the
 *     faults. A drop closes without a response. Latency and hangs suspend the
 *     connection and a timer thread resumes it, so no pool thread sleeps and
 *     slow requests never block others. Hung requests are released (closed
 *     without a response) after hang_ms or at shutdown.
 *  4. run the handler (after auth and mode checks), then send the response,
 *     possibly truncated (full Content-Length, fewer bytes, then close) or
 *     malformed (invalid JSON with a correct length), and count it.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accounts.h"
#include "faults.h"
#include "images.h"
#include "request.h"
#include "stats.h"
#include "webapi.h"

enum { R_APP_OK = 1, R_EXT = 2, R_ACCOUNTS = 4 };

typedef struct route {
    const char *method, *tmpl, *endpoint;
    em_handler fn;
    unsigned flags;
} route;

#define RT(m, t, fn, fl) {m, t, m " " t, fn, fl}
static const route ROUTES[] = {
    RT("GET", "/authorize", accounts_handle_authorize, R_ACCOUNTS),
    RT("POST", "/api/token", accounts_handle_token, R_ACCOUNTS),
    RT("GET", "/v1/me", wa_me, 0),
    RT("GET", "/v1/me/tracks", wa_me_tracks, 0),
    RT("GET", "/v1/me/albums", wa_me_albums, 0),
    RT("GET", "/v1/me/shows", wa_me_shows, 0),
    RT("GET", "/v1/me/episodes", wa_me_episodes, 0),
    RT("GET", "/v1/me/following", wa_me_following, 0),
    RT("GET", "/v1/me/top/{type}", wa_me_top, 0),
    RT("GET", "/v1/me/player/recently-played", wa_recently_played, 0),
    RT("PUT", "/v1/me/library", wa_library_put, 0),
    RT("DELETE", "/v1/me/library", wa_library_delete, 0),
    RT("GET", "/v1/me/library/contains", wa_library_contains, 0),
    RT("GET", "/v1/me/playlists", wa_me_playlists, 0),
    RT("POST", "/v1/me/playlists", wa_create_playlist, 0),
    RT("GET", "/v1/users/{id}/playlists", wa_user_playlists, R_EXT),
    RT("POST", "/v1/users/{id}/playlists", wa_user_create_playlist, R_EXT),
    RT("GET", "/v1/playlists/{id}", wa_playlist_get, 0),
    RT("GET", "/v1/playlists/{id}/items", wa_items_get, 0),
    RT("POST", "/v1/playlists/{id}/items", wa_items_add, 0),
    RT("PUT", "/v1/playlists/{id}/items", wa_items_put, 0),
    RT("DELETE", "/v1/playlists/{id}/items", wa_items_delete, 0),
    RT("GET", "/v1/playlists/{id}/tracks", wa_items_get, R_EXT),
    RT("DELETE", "/v1/playlists/{id}/followers", wa_playlist_unfollow, R_EXT),
    RT("GET", "/v1/playlists/{id}/images", wa_playlist_images_get, 0),
    RT("PUT", "/v1/playlists/{id}/images", wa_playlist_images_put, 0),
    RT("GET", "/v1/artists/{id}", wa_artist, R_APP_OK),
    RT("GET", "/v1/artists/{id}/albums", wa_artist_albums, R_APP_OK),
    RT("GET", "/v1/artists", wa_artists_several, R_APP_OK | R_EXT),
    RT("GET", "/v1/tracks/{id}", wa_track, R_APP_OK),
    RT("GET", "/v1/tracks", wa_tracks_several, R_APP_OK | R_EXT),
    RT("GET", "/v1/albums/{id}", wa_album, R_APP_OK),
    RT("GET", "/v1/albums/{id}/tracks", wa_album_tracks, R_APP_OK),
    RT("GET", "/v1/browse/new-releases", wa_new_releases, R_APP_OK | R_EXT),
    RT("GET", "/v1/audio-features", wa_audio_features, R_APP_OK | R_EXT),
    RT("GET", "/v1/recommendations", wa_recommendations, R_APP_OK),
};
#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

enum { P_NEW, P_WAIT };

typedef struct conn_state {
    struct MHD_Connection *conn;
    int phase;
    jw body;
    bool too_large;
    const route *rt;
    const char *endpoint;
    char *pathbuf;                /* split copy of the path; params point into it */
    const char *params[EM_MAX_PARAMS];
    bool method_mismatch;
    em_fault_decision fd;
    bool queued_timer;
    int64_t resume_at;
    bool bearer_checked;          /* check_bearer has run: the two below hold */
    em_bearer bearer;
    em_user *bearer_user;         /* on BEARER_OK; NULL for an app token */
} conn_state;

/* ---- timer thread resuming suspended connections ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    VEC(conn_state *) waiting;
    bool stop;
    pthread_t thread;
    bool running;
} T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, false, 0, false};

static void *timer_main(void *arg)
{
    (void)arg;
    VEC(struct MHD_Connection *) due = {0};
    pthread_mutex_lock(&T.mu);
    for (;;) {
        int64_t now = now_ms(), next = INT64_MAX;
        due.n = 0;
        for (size_t i = 0; i < T.waiting.n;) {
            conn_state *st = T.waiting.v[i];
            if (T.stop || st->resume_at <= now) {
                st->queued_timer = false;
                VEC_PUSH(&due, st->conn);
                T.waiting.v[i] = T.waiting.v[--T.waiting.n];
            } else {
                if (st->resume_at < next) next = st->resume_at;
                i++;
            }
        }
        if (due.n) {
            /* Resume outside our lock: MHD takes its own locks, and a suspended
             * connection cannot be cleaned up until it is resumed (and the
             * daemon stops only after this thread is joined). */
            pthread_mutex_unlock(&T.mu);
            for (size_t i = 0; i < due.n; i++) MHD_resume_connection(due.v[i]);
            pthread_mutex_lock(&T.mu);
            continue;
        }
        if (T.stop) break;
        if (next == INT64_MAX) {
            pthread_cond_wait(&T.cv, &T.mu);
        } else {
            struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000L};
            pthread_cond_timedwait(&T.cv, &T.mu, &ts);
        }
    }
    pthread_mutex_unlock(&T.mu);
    free(due.v);
    return NULL;
}

/* Suspends st's connection until now + ms. Returns false when shutting down. */
static bool timer_suspend(conn_state *st, long ms)
{
    pthread_mutex_lock(&T.mu);
    if (T.stop) {
        pthread_mutex_unlock(&T.mu);
        return false;
    }
    MHD_suspend_connection(st->conn);
    st->resume_at = now_ms() + ms;
    st->queued_timer = true;
    VEC_PUSH(&T.waiting, st);
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    return true;
}

long server_waiting(void)
{
    pthread_mutex_lock(&T.mu);
    long n = (long)T.waiting.n;
    pthread_mutex_unlock(&T.mu);
    return n;
}

int server_release_waits(void)
{
    pthread_mutex_lock(&T.mu);
    int n = (int)T.waiting.n;
    for (size_t i = 0; i < T.waiting.n; i++) T.waiting.v[i]->resume_at = 0;
    if (n) pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.mu);
    return n;
}

static void timer_forget(conn_state *st)
{
    pthread_mutex_lock(&T.mu);
    for (size_t i = 0; i < T.waiting.n; i++)
        if (T.waiting.v[i] == st) {
            T.waiting.v[i] = T.waiting.v[--T.waiting.n];
            break;
        }
    pthread_mutex_unlock(&T.mu);
}

/* ---- request helpers ---- */

const char *req_arg(const em_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(const em_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void resp_json(em_resp *out, int status)
{
    out->status = status;
    out->content_type = "application/json; charset=utf-8";
    out->body.len = 0;
    if (out->body.p) out->body.p[0] = '\0';
    out->body.depth = 0;
    out->body.nonempty = 0;
    out->body.after_key = false;
}

void resp_error(em_resp *out, int status, const char *msg)
{
    resp_json(out, status);
    jw_obj(&out->body);
    jw_key(&out->body, "error");
    jw_obj(&out->body);
    jw_kint(&out->body, "status", status);
    jw_kstr(&out->body, "message", msg);
    jw_obj_end(&out->body);
    jw_obj_end(&out->body);
}

void resp_empty(em_resp *out, int status)
{
    resp_json(out, status);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    jw *w = cls;
    if (w->len > 2048) return MHD_NO;
    jw_rawz(w, w->len ? "&" : "?");
    url_encode_to(w, key);
    if (value) {
        jw_rawz(w, "=");
        url_encode_to(w, value);
    }
    return MHD_YES;
}

/* path + "?" + re-encoded query, for the request log. */
static char *path_with_query(struct MHD_Connection *conn, const char *path)
{
    jw q, w;
    jw_init(&q);
    jw_init(&w);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    jw_raw(&w, path, strnlen(path, 2048));
    if (q.len) jw_raw(&w, q.p, q.len);
    jw_free(&q);
    return jw_detach(&w, NULL);
}

/* ---- routing ---- */

static const route *match(const char *method, char *pathbuf, const char *params[EM_MAX_PARAMS],
                          bool *method_mismatch)
{
    const char *segs[EM_PATH_MAX_SEGS];
    int nseg = em_path_split(pathbuf, segs);
    *method_mismatch = false;
    if (nseg < 0) return NULL;
    for (size_t i = 0; i < NROUTES; i++) {
        const char *caps[EM_MAX_PARAMS] = {0};
        if (!em_route_matches(ROUTES[i].tmpl, segs, nseg, caps)) continue;
        if (strcmp(method, ROUTES[i].method) != 0) {
            *method_mismatch = true;
            continue;
        }
        memcpy(params, caps, sizeof(caps));
        return &ROUTES[i];
    }
    return NULL;
}

static const char *unknown_endpoint(const char *method, const char *path)
{
    bool v1 = strncmp(path, "/v1/", 4) == 0;
    if (strcmp(method, "GET") == 0) return v1 ? "GET /v1/(unknown)" : "GET (unknown)";
    if (strcmp(method, "POST") == 0) return v1 ? "POST /v1/(unknown)" : "POST (unknown)";
    if (strcmp(method, "PUT") == 0) return v1 ? "PUT /v1/(unknown)" : "PUT (unknown)";
    if (strcmp(method, "DELETE") == 0) return v1 ? "DELETE /v1/(unknown)" : "DELETE (unknown)";
    return "OTHER (unknown)";
}

/* ---- sending ---- */

typedef struct trunc_ctx { char *data; size_t len, cut; } trunc_ctx;

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    trunc_ctx *t = cls;
    if (pos >= t->cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = t->cut - (size_t)pos;
    if (n > max) n = max;
    memcpy(buf, t->data + pos, n);
    return (ssize_t)n;
}

static void trunc_free(void *cls)
{
    trunc_ctx *t = cls;
    free(t->data);
    free(t);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, em_resp *out, bool truncate, bool malformed)
{
    size_t len = 0;
    char *data = jw_detach(&out->body, &len);
    if (malformed && len > 1) {
        /* Same length on the wire, but not JSON any more. */
        size_t half = len / 2;
        const char junk[] = "<!-- upstream error -->{]";
        for (size_t i = 0; half + i < len && i < sizeof(junk) - 1; i++) data[half + i] = junk[i];
        data[0] = '<';
    }
    struct MHD_Response *resp;
    if (truncate && len > 1) {
        trunc_ctx *t = xmalloc(sizeof(*t));
        t->data = data;
        t->len = len;
        t->cut = len / 2;
        resp = MHD_create_response_from_callback(len, 4096, trunc_reader, t, trunc_free);
        if (!resp) trunc_free(t);
    } else {
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(data);
    }
    if (!resp) return MHD_NO;
    if (out->content_type) MHD_add_response_header(resp, "Content-Type", out->content_type);
    if (out->location) MHD_add_response_header(resp, "Location", out->location);
    if (out->www_authenticate) MHD_add_response_header(resp, "WWW-Authenticate", out->www_authenticate);
    if (out->retry_after >= 0) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", out->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    MHD_add_response_header(resp, "Cache-Control", "private, max-age=0");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)out->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void resp_init(em_resp *out)
{
    memset(out, 0, sizeof(*out));
    jw_init(&out->body);
    out->retry_after = -1;
    out->status = 200;
    out->content_type = "application/json; charset=utf-8";
}

static void resp_free(em_resp *out)
{
    jw_free(&out->body);
    free(out->location);
    free(out->www_authenticate);
}

/* The request's Authorization checked once, when it arrives (a token that
 * expires during a fault's delay still passes, as at a gateway that checked
 * it on the way in): targeted faults and run_webapi both use the result. */
static em_bearer check_bearer(em_app *app, conn_state *st)
{
    if (!st->bearer_checked) {
        const char *auth =
            MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Authorization");
        st->bearer_user = NULL;
        st->bearer = accounts_check_bearer(app->acc, auth, &st->bearer_user);
        st->bearer_checked = true;
    }
    return st->bearer;
}

/* Authentication and mode checks of a /v1 route, then the handler. */
static void run_webapi(em_app *app, conn_state *st, em_req *r, em_resp *out)
{
    const route *rt = st->rt;
    em_bearer b = check_bearer(app, st);
    em_user *u = st->bearer_user;
    switch (b) {
    case BEARER_MISSING:
        resp_error(out, 401, "No token provided");
        out->www_authenticate = xstrdup("Bearer realm=\"spotify\"");
        return;
    case BEARER_INVALID:
        resp_error(out, 401, "Invalid access token");
        out->www_authenticate = xstrdup("Bearer realm=\"spotify\", error=\"invalid_token\", "
                                        "error_description=\"Invalid access token\"");
        return;
    case BEARER_EXPIRED:
        resp_error(out, 401, "The access token expired");
        out->www_authenticate = xstrdup("Bearer realm=\"spotify\", error=\"invalid_token\", "
                                        "error_description=\"The access token expired\"");
        return;
    case BEARER_OK:
        break;
    }
    if (!u && !(rt->flags & R_APP_OK)) {
        resp_error(out, 401, "Valid user authentication required");
        return;
    }
    r->user = u;
    r->app_token = u == NULL;
    if ((rt->flags & R_EXT) && !atomic_load(&app->mode_ext)) {
        resp_error(out, 403, "Forbidden");
        return;
    }
    rt->fn(app, r, out);
}

static void answer_fault(em_resp *out, const em_fault_decision *fd)
{
    if (fd->quota) {
        resp_json(out, 429);
        jw_rawz(&out->body, "{\"error\":{\"status\":429,\"message\":\"Too many requests\","
                            "\"reason\":\"QUOTA_EXCEEDED\"}}");
        out->retry_after = fd->retry_after_s;
    } else if (fd->rate_limited) {
        resp_error(out, 429, "API rate limit exceeded");
        out->retry_after = fd->retry_after_s;
    } else {
        resp_error(out, fd->fail_status,
                   fd->fail_status == 502 ? "Bad gateway." :
                   fd->fail_status == 503 ? "Service unavailable" : "Server error.");
    }
}

static void req_init(em_req *r, em_resp *out, conn_state *st, const char *method, const char *url)
{
    memset(r, 0, sizeof(*r));
    resp_init(out);
    r->conn = st->conn;
    r->method = method;
    r->path = url;
    r->body = st->body.p ? st->body.p : "";
    r->body_len = st->body.len;
}

static enum MHD_Result finish(em_app *app, conn_state *st, const char *method, const char *url)
{
    em_req r;
    em_resp out;
    req_init(&r, &out, st, method, url);
    const route *rt = st->rt;
    bool mismatch = st->method_mismatch;
    memcpy(r.params, st->params, sizeof(r.params));
    if (st->phase == P_WAIT && (st->fd.hang || atomic_load(&app->stopping))) {
        /* A hang being released, or shutdown: close without a response. */
        resp_free(&out);
        return MHD_NO;
    }
    if (st->too_large) {
        resp_error(&out, 413, "Request entity too large");
    } else if (!rt) {
        resp_error(&out, mismatch ? 405 : 404, mismatch ? "Method not allowed" : "Service not found");
    } else if (st->fd.quota || st->fd.rate_limited || st->fd.fail_status) {
        answer_fault(&out, &st->fd);
    } else if (rt->flags & R_ACCOUNTS) {
        rt->fn(app, &r, &out);
    } else {
        run_webapi(app, st, &r, &out);
    }
    char *pq = path_with_query(st->conn, url);
    stats_record(app->stats, method, pq, st->endpoint, out.status,
                 r.user ? r.user->id : NULL, r.grant_type);
    free(pq);
    bool trunc = st->fd.truncate, malf = st->fd.malformed;
    enum MHD_Result ret = send_resp(st->conn, &out, trunc, malf);
    resp_free(&out);
    return ret;
}

static enum MHD_Result handle_control(em_app *app, conn_state *st, const char *method, const char *url)
{
    em_req r;
    em_resp out;
    req_init(&r, &out, st, method, url);
    if (st->too_large) resp_error(&out, 413, "Request entity too large");
    else control_handle(app, &r, &out);
    enum MHD_Result ret = send_resp(st->conn, &out, false, false);
    resp_free(&out);
    return ret;
}

/* The id of the user whose valid access token the request carries, or NULL,
 * for faults targeted at one user; run_webapi answers 401 for a bad token
 * later, after any latency the faults add, from the same check. */
static const char *token_user_id(em_app *app, conn_state *st)
{
    if (check_bearer(app, st) != BEARER_OK || !st->bearer_user) return NULL;
    return st->bearer_user->id;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **req_cls)
{
    (void)version;
    em_app *app = cls;
    conn_state *st = *req_cls;
    if (!st) {
        st = xcalloc(1, sizeof(*st));
        st->conn = conn;
        jw_init(&st->body);
        *req_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large) {
            if (st->body.len + *upload_size > (size_t)app->cfg.body_cap) {
                st->too_large = true;
                jw_free(&st->body);
            } else {
                jw_raw(&st->body, upload, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/__emulator/", 12) == 0) return handle_control(app, st, method, url);
    if (images_is_path(url)) return images_answer(conn, app->lib, method, url);
    if (st->phase == P_NEW) {
        st->pathbuf = xstrdup(url);
        const route *rt = st->rt = match(method, st->pathbuf, st->params, &st->method_mismatch);
        st->endpoint = rt ? rt->endpoint : unknown_endpoint(method, url);
        bool webapi = strncmp(url, "/v1/", 4) == 0;
        bool faultable = rt && (webapi || strcmp(rt->tmpl, "/api/token") == 0);
        const char *user = webapi ? token_user_id(app, st) : NULL;
        if (faultable) faults_decide(app->faults, st->endpoint, webapi, user, &st->fd);
        if (st->fd.drop || st->fd.hang) {
            /* Counted now with status 0 (and the token's user, so a test can
             * see whose request is being held); a hang is not counted again. */
            char *pq = path_with_query(conn, url);
            stats_record(app->stats, method, pq, st->endpoint, 0, user, NULL);
            free(pq);
            if (st->fd.drop) return MHD_NO;
        }
        long wait = st->fd.hang ? st->fd.hang_ms : st->fd.delay_ms;
        if (wait > 0) {
            st->phase = P_WAIT;
            if (timer_suspend(st, wait)) return MHD_YES;
            return MHD_NO;
        }
    }
    return finish(app, st, method, url);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    conn_state *st = *req_cls;
    if (!st) return;
    if (st->queued_timer) timer_forget(st);
    jw_free(&st->body);
    free(st->pathbuf);
    free(st);
    *req_cls = NULL;
}

static struct MHD_Daemon *daemon_handle;

/* Binds and listens on addr itself (instead of letting MHD do it) so the
 * port is known, and base_url written, before MHD starts its threads: a
 * worker thread then never reads base_url while it is being written.
 * Returns the socket or -1 (errno set). */
static int listen_socket(const struct addrinfo *addr, int *port)
{
    int fd = socket(addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, addr->ai_addr, addr->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

bool server_start(em_app *app)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof(port), "%d", app->cfg.listen_port);
    int gai = getaddrinfo(app->cfg.listen_host, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "spotify-emulator: bad listen address %s: %s\n", app->cfg.listen_host, gai_strerror(gai));
        return false;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (res->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    int bound = 0;
    int lfd = listen_socket(res, &bound);
    freeaddrinfo(res);
    if (lfd < 0) {
        fprintf(stderr, "spotify-emulator: cannot listen on %s:%d: %s\n", app->cfg.listen_host,
                app->cfg.listen_port, strerror(errno));
        return false;
    }
    bool v6 = strchr(app->cfg.listen_host, ':') != NULL;
    const char *host = strcmp(app->cfg.listen_host, "0.0.0.0") == 0 ? "127.0.0.1" :
                       strcmp(app->cfg.listen_host, "::") == 0 ? "::1" : app->cfg.listen_host;
    snprintf(app->base_url, sizeof(app->base_url), v6 ? "http://[%s]:%d" : "http://%s:%d", host, bound);
    snprintf(app->api_url, sizeof(app->api_url), "%s/v1", app->base_url);
    if (pthread_create(&T.thread, NULL, timer_main, NULL) != 0) {
        close(lfd);
        fprintf(stderr, "spotify-emulator: cannot start timer thread\n");
        return false;
    }
    T.running = true;
    daemon_handle = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, app,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
                                     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg.threads,
                                     MHD_OPTION_NOTIFY_COMPLETED, completed, app,
                                     MHD_OPTION_CONNECTION_LIMIT, 4000u,
                                     /* Room for long query strings: with the 32 KiB default a
                                      * few hundred arguments exhaust the pool and MHD 0.9.75
                                      * stalls the connection instead of answering 414. With
                                      * 256 KiB ~2000 arguments work; beyond that such a
                                      * connection is closed by the idle timeout below. */
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                     MHD_OPTION_CONNECTION_TIMEOUT, 300u,
                                     MHD_OPTION_END);
    if (!daemon_handle) {
        close(lfd);
        fprintf(stderr, "spotify-emulator: cannot listen on %s:%d\n", app->cfg.listen_host, app->cfg.listen_port);
        return false;
    }
    return true;
}

void server_stop(em_app *app)
{
    atomic_store(&app->stopping, true);
    if (T.running) {
        pthread_mutex_lock(&T.mu);
        T.stop = true;
        pthread_cond_signal(&T.cv);
        pthread_mutex_unlock(&T.mu);
        pthread_join(T.thread, NULL);
        T.running = false;
    }
    if (daemon_handle) MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    free(T.waiting.v);
    T.waiting.v = NULL;
    T.waiting.n = T.waiting.cap = 0;
}

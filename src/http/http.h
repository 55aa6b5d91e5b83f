/* http.h - keeptrack's HTTP server edge, on libmicrohttpd.
 *
 * A table of routes (method + pattern such as "/api/playlists/{id}") maps to
 * handlers. A handler reads the request through the http_req_* accessors,
 * calls one service, and answers with exactly one http_reply_* call. The
 * server owns parsing and limits: header and body sizes (431/413), JSON
 * bodies, query strings, cookies, path parameters, and the cross-site check
 * for state-changing routes. Handlers never see raw sockets.
 *
 * Errors are always JSON: {"error":{"status":N,"code":"...","message":"..."}}:
 * 400 bad_path / bad_query, 404 not_found, 405 method_not_allowed (with
 * Allow), 403 cross_site, 413 too_large, 500 internal, 503 busy (with
 * Retry-After; see "Threads" below). Every response carries
 * X-Content-Type-Options: nosniff, X-Frame-Options: DENY, Referrer-Policy:
 * same-origin, and (unless the handler added its own) a
 * Content-Security-Policy (nothing loads for JSON/data; 'self' for text/html)
 * and Cache-Control: no-store. libmicrohttpd itself answers a few malformed
 * requests before any of this runs (431 for headers over ~16 KiB, 414 for an
 * over-long request line, 400 for a missing Host or bad chunking).
 *
 * Threads: connections are served by a small event loop (`threads` threads,
 * each multiplexing thousands of connections with epoll), so an idle
 * keep-alive connection costs no thread. A handler runs in one of two places,
 * chosen by its route's flags:
 *   - HTTP_ROUTE_INLINE: on the event-loop thread itself. Only for fast,
 *     bounded work (a cached read, a static file, /healthz): while it runs,
 *     every other connection of that thread waits.
 *   - otherwise (the default): on a bounded pool of `workers` threads while
 *     its connection is suspended, so it may block (on Spotify, the
 *     database, a large upload) without delaying any other connection. When
 *     every worker is busy, requests queue (up to max_queued); past that the
 *     server answers 503 {"code":"busy"} with Retry-After: 1 without running
 *     the handler.
 * Handlers run several at once, and `app` is shared and must be thread-safe.
 * A request and everything borrowed from it is valid only during the handler
 * call. A streamed reply's reader (http_reply_stream) always runs on a worker.
 */
#ifndef KT_HTTP_HTTP_H
#define KT_HTTP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

typedef void (*http_handler_fn)(http_req *req, void *app);

enum {
    /* Skip the cross-site check on a state-changing route (e.g. routes that
     * authenticate with a Bearer admin token instead of a cookie). */
    HTTP_ROUTE_NO_CSRF = 1u << 0,
    /* Accept a large body (uploads: up to http_config.max_upload_bytes). */
    HTTP_ROUTE_UPLOAD = 1u << 1,
    /* Run the handler on the event-loop thread (see "Threads" above): only
     * for handlers that never wait on Spotify, a lock held by slow work, or
     * an unbounded amount of data. */
    HTTP_ROUTE_INLINE = 1u << 2,
};

typedef struct http_route {
    const char *method;  /* "GET", "POST", ... ; GET routes also answer HEAD */
    const char *pattern; /* "/api/jobs/{id}"; a trailing "*" segment matches any rest */
    http_handler_fn fn;
    unsigned flags;
} http_route;

typedef struct http_config {
    const char *listen;         /* "127.0.0.1:8080", "[::1]:8080", port 0 = any free port */
    /* "http://127.0.0.1:8080": the origin accepted by the CSRF check; a
     * trailing ":0" is replaced by the bound port. NULL: every request
     * carrying an Origin header is refused on state-changing routes. */
    const char *public_origin;
    /* Event-loop threads (0..256; 0 = the number of CPUs). Anything else is
     * KT_ERR_INVALID. */
    int threads;
    size_t max_body_bytes;      /* 0 = 1 MiB */
    size_t max_upload_bytes;    /* 0 = 256 MiB */
    unsigned connection_timeout_s; /* idle/slow clients are dropped after this; 0 = 30 */
    /* Connections open at once; 0 = 16384, lowered to fit RLIMIT_NOFILE
     * (which the caller should raise first: each connection is a
     * descriptor). Idle keep-alive connections count. */
    unsigned max_connections;
    /* Called after every request for metrics and access logs; may be NULL.
     * `route` is the matched pattern or "unmatched". status is 0 when no
     * response was queued (client went away, or libmicrohttpd refused the
     * request itself). Runs on a server thread. */
    void (*on_done)(void *app, const char *method, const char *route, int status,
                    double seconds);
    /* Concurrent connections from one IP address; 0 = no per-IP limit (the
     * default: behind a reverse proxy every client has the proxy's address). */
    unsigned max_connections_per_ip;
    /* Called when a request line has arrived, before routing; each call is
     * followed by exactly one on_done for the same request (metrics count
     * requests in flight). May be NULL. Runs on a server thread. */
    void (*on_start)(void *app);
    /* How long http_server_stop waits for requests in flight; 0 = 30 s. */
    unsigned shutdown_grace_s;
    /* Threads running blocking (non-inline) handlers; 0 = 16, at most 1024. */
    unsigned workers;
    /* Blocking requests waiting for a free worker before the server answers
     * 503 busy; 0 = 1024. */
    unsigned max_queued;
} http_config;

/* Starts listening and serving on background threads. routes (and the
 * strings in them) must outlive the server; cfg's strings are copied.
 * KT_ERR_INVALID for a malformed route table (naming the row), listen
 * address or thread count; KT_ERR_IO when the address cannot be bound.
 * When several patterns match a path the most specific wins (a literal
 * segment beats {param}, which beats "*"); path parameters are decoded per
 * segment, and encoded slashes or "."/".." segments are refused with 400. */
kt_status http_server_start(const http_config *cfg, const http_route *routes, size_t nroutes,
                            void *app, http_server **out, kt_err *err);
/* The bound port (useful with port 0). */
int http_server_port(const http_server *s);
/* Graceful stop: closes the listening socket at once (new connections are
 * refused), lets every request already received finish and its response be
 * sent (responses sent meanwhile carry Connection: close), waiting up to
 * shutdown_grace_s, then closes the remaining (idle keep-alive or stuck)
 * connections and frees. NULL is a no-op. */
void http_server_stop(http_server *s);

/* ---- request ---- */
const char *http_req_method(const http_req *r);
/* The path as sent (still percent-encoded), without the query string. */
const char *http_req_path(const http_req *r);
/* Path parameter from the route pattern, percent-decoded; NULL if absent.
 * A trailing "*" segment is captured under the name "*" (the rest of the path,
 * decoded segments joined by '/', "" when empty). */
const char *http_req_param(const http_req *r, const char *name);
/* Query-string value, percent-decoded ('+' is a space); NULL if absent.
 * The first of repeated keys wins. A malformed query string is refused
 * with 400 before the handler runs. */
const char *http_req_query(const http_req *r, const char *name);
/* Header value (case-insensitive name); NULL if absent. */
const char *http_req_header(const http_req *r, const char *name);
/* Cookie value (as sent, one pair of surrounding quotes removed); NULL if
 * absent. Malformed pairs are ignored; at most 64 cookies are read. */
const char *http_req_cookie(const http_req *r, const char *name);
/* Raw body (may be empty, never NULL; NUL-terminated, but may contain NULs);
 * *len (may be NULL) receives its length. */
const char *http_req_body(const http_req *r, size_t *len);
/* Body parsed as JSON (an object). An empty body gives an empty object.
 * KT_ERR_INVALID with a message naming the problem otherwise. Caller owns *out. */
kt_status http_req_json(const http_req *r, json_t **out, kt_err *err);
/* True when the client prefers JSON (Accept: application/json, or an XHR). */
int http_req_wants_json(const http_req *r);
/* True when the request came over TLS or the public origin is https. */
int http_req_is_https(const http_req *r);
/* The client's numeric address ("127.0.0.1", "::1") into out (n bytes;
 * 64 is enough for any), "" when unknown. For per-client limits: the peer
 * of the TCP connection, not a forwarded header a client could forge. */
void http_req_client(const http_req *r, char *out, size_t n);
/* Per-request slot for the handler chain (e.g. the authenticated user id). */
void http_req_set_user(http_req *r, int64_t user_id);
int64_t http_req_user(const http_req *r);

/* ---- reply: call exactly one http_reply_* per request ----
 * A handler that returns without replying gets a logged 500; a second reply
 * is ignored and logged (ownership of its body/ctx is still taken). Status
 * codes outside 100..599 become 500. */
/* Adds a response header (Set-Cookie may be added several times); name and
 * value are copied. Headers added before or after the reply call are all
 * sent. A name that is not a token, a value with CR/LF, or more than 32
 * headers is refused and logged as a bug. */
void http_reply_header(http_req *r, const char *name, const char *value);
/* JSON body; takes ownership of body (json_decref'd). */
void http_reply_json(http_req *r, int status, json_t *body);
/* JSON error body from a kt_err (status from err_http_status, or 503 with
 * Retry-After for KT_ERR_DEFERRED). */
void http_reply_error(http_req *r, const kt_err *e);
/* JSON error body from parts. */
void http_reply_error_msg(http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void http_reply_redirect(http_req *r, int status, const char *location);
/* Any body, copied. */
void http_reply_bytes(http_req *r, int status, const char *content_type, const void *body,
                      size_t len);
/* Streams a body produced on demand: fn fills up to `max` bytes at `pos`
 * and returns the count, 0 at the end, or -1 on error (the connection is
 * closed). free_fn(ctx) (may be NULL) runs when the response is done or
 * cannot be sent. fn runs on a server thread after the handler returned, so
 * ctx must own its data (nothing borrowed from the request). For HEAD no
 * body is sent. */
typedef long (*http_stream_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
void http_reply_stream(http_req *r, int status, const char *content_type, http_stream_fn fn,
                       void *ctx, void (*free_fn)(void *ctx));

#endif

/* server.h - the HTTP side of spotify-emulator: libmicrohttpd daemon (internal
 * thread pool, epoll), request parsing with a body cap, routing to handlers,
 * fault injection (latency, hangs, drops, 5xx, 429, truncated or malformed
 * bodies) and request accounting.
 *
 * A handler fills an em_resp; the server owns sending it. Handlers run on pool
 * threads and must lock what they touch (see emulator.h).
 */
#ifndef EM_SERVER_H
#define EM_SERVER_H

#include "emulator.h"

struct MHD_Connection;

#define EM_MAX_PARAMS 4

typedef struct em_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;             /* decoded path, no query */
    const char *body;             /* NUL-terminated, may be "" */
    size_t body_len;
    const char *params[EM_MAX_PARAMS]; /* {id} captures of the route template */
    em_user *user;                /* authenticated user (Web API), or NULL */
    bool app_token;               /* authenticated with a client-credentials token */
    const char *grant_type;       /* /api/token: for stats (static string) */
} em_req;

typedef struct em_resp {
    int status;
    jw body;
    const char *content_type;     /* static; default application/json */
    char *location;               /* owned */
    char *www_authenticate;       /* owned */
    long retry_after;             /* seconds, < 0: none */
} em_resp;

/* Query argument (decoded) or NULL. */
const char *req_arg(const em_req *r, const char *name);
/* Request header or NULL. */
const char *req_header(const em_req *r, const char *name);

/* Spotify Web API error: {"error":{"status":N,"message":msg}}. */
void resp_error(em_resp *out, int status, const char *msg);
/* Sets status and leaves the body for the caller to write (application/json). */
void resp_json(em_resp *out, int status);
/* Empty body with status (e.g. 200 for PUT /me/library). */
void resp_empty(em_resp *out, int status);

/* Starts the daemon on cfg listen address; fills app->base_url. Returns false
 * with a message on stderr when it cannot listen. */
bool server_start(em_app *app);
/* Releases hung and delayed requests, stops the daemon, joins threads. */
void server_stop(em_app *app);
/* Ends every wait a fault imposes, now: a hung request is closed without a
 * response (as when hang_ms runs out), a delayed one is answered. A test that
 * held a client's request to keep its work provably in flight lets it go on
 * at once instead of waiting out a timer. Returns how many were waiting. */
int server_release_waits(void);
/* How many requests a latency or hang fault holds right now. */
long server_waiting(void);

#endif

/* spotify_internal.h - what the files of the Spotify client share.
 *
 * Not part of the contract (spotify.h is): the client struct, the request
 * engine's request record, and the pure helpers (endpoint templating,
 * backoff, Retry-After, error classification) that the unit tests call
 * directly. Only the client's own .c files and tests/unit/spotify include this.
 *
 * Files:  spotify_client.c  client life cycle, budget, mode, accounting
 *         spotify_auth.c    accounts service: tokens, refresh, single-flight
 *         spotify_engine.c  the libcurl multi engine (retries, 429, 401)
 *         spotify_delivery.c a batch's second thread: parse bodies, run on_done
 *         spotify_flight.c  requests in flight per user across batches
 *         spotify_paging.c  spotify_request/get/get_many and paging
 *         spotify_rules.c   pure rules: templates, backoff, error classes
 */
#ifndef KT_SPOTIFY_INTERNAL_H
#define KT_SPOTIFY_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/buf.h"
#include "spotify/spotify.h"

/* Depth limit for every JSON body the client parses. */
#define SPOTIFY_JSON_MAX_DEPTH 64
/* Refresh a user's access token when it expires within this window. */
#define SPOTIFY_REFRESH_MARGIN_MS 60000
/* Most short 429 waits one request sits through before giving up (deferred). */
#define SPOTIFY_MAX_429_WAITS 8
/* Idle multi handles kept for reuse (beyond this, extras are freed). */
#define SPOTIFY_MULTI_POOL_MAX 64
/* Response bodies' storage kept for the next transfer (spotify_client.c). */
#define SPOTIFY_BODY_POOL_MAX 16
#define SPOTIFY_BODY_KEEP_MAX ((size_t)2 << 20)

/* One user's refresh gate: at most one refresh per user at a time. */
typedef struct spotify_user_gate {
    int64_t user_id;
    int busy;      /* a refresh (or reload) for this user is running */
    int refs;      /* threads holding or waiting on this gate */
    struct spotify_user_gate *next;
} spotify_user_gate;

struct spotify_client {
    char *accounts_url;
    char *api_url;
    char *client_id;
    char *client_secret; /* NULL: public client */
    int concurrency;
    size_t max_response_bytes;
    long timeout_ms;
    int max_retries;
    long max_wait_ms;
    long backoff_base_ms;
    long backoff_max_ms;

    spotify_token_hooks hooks;
    int have_hooks;

    /* curl share: DNS and TLS sessions across threads, one mutex per kind
     * of data as the share interface requires. */
    CURLSH *share; /* made on the first request (spotify_easy_new) */
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_mutex_t share_init_mu; /* guards making share */

    /* Idle multi handles (each with its connection cache): keep-alive. */
    pthread_mutex_t pool_mu;
    CURLM *pool[SPOTIFY_MULTI_POOL_MAX];
    size_t pool_n;
    size_t multis_out; /* acquired and not yet released: batches running */
    struct {
        char *data;
        size_t cap;
    } bodies[SPOTIFY_BODY_POOL_MAX]; /* finished bodies' storage, under pool_mu */
    size_t bodies_n;

    /* Request budget: the built-in token bucket unless a hook replaces it. */
    pthread_mutex_t bucket_mu;
    double bucket_rate;   /* tokens per second; 0 = unlimited */
    double bucket_burst;
    double bucket_tokens;
    int64_t bucket_last_ms;
    spotify_budget_fn budget_fn;
    void *budget_ctx;

    /* Token single-flight: gates per user and the app token, one mutex. */
    pthread_mutex_t tok_mu;
    pthread_cond_t tok_cv;
    spotify_user_gate *gates;
    spotify_tokens app_token; /* client-credentials token, guarded by tok_mu */
    int app_busy;

    /* Requests in flight per user, across batches (spotify_flight.c). */
    pthread_mutex_t flight_mu;
    struct flight_group *flight_groups;

    atomic_int mode; /* spotify_mode */

    pthread_mutex_t stats_mu;
    json_t *stats; /* {"GET /me": {"200": n}} */
    atomic_uint_fast64_t total_requests;
    atomic_uint_fast64_t budget_waits; /* budget answers that said "wait" */
};

/* ---- spotify_client.c ---- */

/* Counts one request sent from this thread (and in the client's total). */
void spotify_count_request(spotify_client *c);

/* Records the outcome of a request for spotify_stats_json. status 0 means a
 * transport failure (no HTTP status). */
void spotify_record_stat(spotify_client *c, const char *method, const char *path, long status);

/* Takes one request token from the budget. Returns 0 when the request may
 * go now, else the ms to wait before asking again. */
int64_t spotify_budget_take(spotify_client *c);

/* Remembers the mode learnt from a response (UNKNOWN is ignored). */
void spotify_learn_mode(spotify_client *c, spotify_mode m);

/* Takes an idle multi handle from the pool (or makes one: NULL only when
 * libcurl cannot). Give it back with spotify_multi_release, with no easy
 * handle left in it. Pooled multis keep their connections alive between
 * calls from any thread (one thread at a time per multi). */
CURLM *spotify_multi_acquire(spotify_client *c);
void spotify_multi_release(spotify_client *c, CURLM *m);

/* Gives the empty body buffer b pooled storage of more than want bytes,
 * when the pool has some (see spotify_client.c); b is left as it was
 * otherwise. Thread-safe. */
void spotify_body_reuse(spotify_client *c, buf *b, size_t want);

/* Empties b, keeping its storage in the pool while a multi handle is out
 * (a batch runs) and the pool has room, else freeing it. Thread-safe. */
void spotify_body_recycle(spotify_client *c, buf *b);

/* Runs one easy transfer to completion on a pooled multi (the synchronous
 * token requests use it, so they reuse connections too). *cc gets the
 * transfer's result; the return value reports curl-multi failures only. */
kt_status spotify_multi_perform_one(spotify_client *c, CURL *easy, CURLcode *cc, kt_err *err);

/* Makes an easy handle with the client's standard options (share, timeouts,
 * HTTP/2, keep-alive, no signals) in *out, which the caller cleans up. The
 * first call initialises libcurl and makes the share (spotify_client.c's
 * curl_init_once says why not earlier). */
kt_status spotify_easy_new(spotify_client *c, CURL **out, kt_err *err);

/* A response body collected into a capped buf (buf_init with the cap):
 * too_large is set when the cap refused a write, which fails the transfer. */
typedef struct spotify_capped_body {
    buf b;
    int too_large;
} spotify_capped_body;

/* CURLOPT_WRITEFUNCTION appending to the spotify_capped_body that is the
 * CURLOPT_WRITEDATA (spotify_plain.c). */
size_t spotify_capped_write(char *p, size_t size, size_t n, void *ud);

/* ---- spotify_auth.c ---- */

/* Gets a usable access token for user_id (SPOTIFY_APP_USER: the app's
 * client-credentials token): loaded through the hooks and refreshed when it
 * expires within a minute, one refresh per user at a time. stale, when not
 * NULL, is an access token that just got a 401: if the stored one is still
 * that token it is refreshed regardless of its expiry. */
kt_status spotify_token_get(spotify_client *c, int64_t user_id, const char *stale,
                            spotify_tokens *out, kt_err *err);

/* ---- spotify_engine.c ---- */

/* QUEUED: the transfer ended with 2xx and the body waits for the delivery
 * thread (see spotify_delivery.c); DONE: parsed and handed to on_done. */
enum { SPOTIFY_REQ_PENDING = 0, SPOTIFY_REQ_RUNNING, SPOTIFY_REQ_QUEUED, SPOTIFY_REQ_DONE };

/* One Web API request in a batch. The caller fills method/path/body; the
 * engine fills status/json. */
typedef struct spotify_req {
    const char *method; /* "GET", ... (static string) */
    char *path;         /* owned: relative to api_url, query included */
    char *body;         /* owned, may be NULL: JSON text (or content_type's) */
    const char *content_type; /* static; NULL: application/json */
    long status;        /* out: the final 2xx status */
    json_t *json;       /* out: parsed body (NULL when empty); owned by the req */
    /* Set to 1 just before on_done(idx) by the thread that runs on_done,
     * which alone reads it: callers that deliver in order look at their
     * other requests' `ready`, never at `state` (the engine's). */
    int ready;

    /* engine state */
    int state;
    int attempts;       /* failed attempts so far (retried failures) */
    int waits_429;
    int retried_401;
    uint64_t token_gen; /* which batch token the running attempt used */
    int64_t not_before_ms; /* monotonic: earliest next attempt */
    CURL *easy;
    struct curl_slist *headers;
    spotify_client *client; /* whose body pool resp's storage comes from and returns to */
    buf resp;
    int too_large;
    char retry_after[64];
    char last_failure[160];
} spotify_req;

typedef struct spotify_batch {
    spotify_client *c;
    int64_t user_id;
    spotify_req *reqs;
    size_t n;
    /* Request i starts only while i < (lowest unfinished index) + max_ahead:
     * bounds how many out-of-order results wait for delivery. 0 = n. */
    size_t max_ahead;
    /* Called as each request completes (any order); may take r->json. Runs
     * on the batch's delivery thread when it has one (n > 1), so it must
     * not call the engine back; calls are never concurrent. */
    kt_status (*on_done)(void *ctx, size_t idx, kt_err *err);
    void *ctx;
} spotify_batch;

/* Runs every request of the batch to completion: at most `concurrency`
 * transfers in flight, budget, 401 refresh, 429 waits, retries. On the
 * first error that is not retried away, stops everything and returns it. */
kt_status spotify_batch_run(spotify_batch *b, kt_err *err);

/* Frees the reqs' owned members (not the array). */
void spotify_reqs_clear(spotify_req *reqs, size_t n);

/* Parses r->resp (a 2xx body; empty or 204: no JSON) into r->json and frees
 * r->resp. On a malformed body returns an error and leaves r->resp alone. */
kt_status spotify_req_parse(spotify_req *r, kt_err *err);

/* ---- spotify_flight.c ---- */

/* One batch's membership of its user's group: every batch of a user shares
 * the client's `concurrency` slots. */
typedef struct spotify_flight spotify_flight;

/* Joins user_id's group; `multi` is the batch's handle, woken with
 * curl_multi_wakeup when a slot it was refused frees up. The batch yields
 * (see spotify_thread_yield) when the calling thread says so. NULL when out
 * of memory (the batch then keeps to its own limit alone). */
spotify_flight *spotify_flight_join(spotify_client *c, int64_t user_id, CURLM *multi);

/* 1: a slot is taken for one request; 0: the user is at its limit, or f
 * yields and another batch of the user is waiting for a slot (the batch is
 * woken when a slot frees). */
int spotify_flight_take(spotify_flight *f);

/* The batch has nothing more to start for now: it no longer counts as
 * waiting for a slot, and the yielding batches it held back are woken. */
void spotify_flight_satisfied(spotify_flight *f);

/* spotify_thread_yield's setting of the calling thread. */
int spotify_thread_yields(void);

/* Gives one slot back and wakes the user's starved batches. */
void spotify_flight_give(spotify_flight *f);

/* Gives back every slot still held, leaves the group and frees f. NULL is a
 * no-op. */
void spotify_flight_leave(spotify_flight *f);

/* ---- spotify_delivery.c ---- */

typedef struct spotify_delivery spotify_delivery;

typedef enum spotify_delivery_outcome {
    SPOTIFY_DELIVERED = 1, /* parsed, on_done ran and returned KT_OK */
    SPOTIFY_MALFORMED      /* the body did not parse: the engine retries or fails it */
} spotify_delivery_outcome;

/* Starts the delivery thread of batch b, whose engine waits on `multi`
 * (woken with curl_multi_wakeup whenever a report is ready). NULL when no
 * thread could be started: the engine then parses and delivers inline. */
spotify_delivery *spotify_delivery_start(spotify_batch *b, CURLM *multi);

/* Hands request idx (a finished 2xx transfer) to the thread. From here
 * until idx is reported back the engine must not touch r->resp, r->json
 * or r->ready. KT_ERR_INTERNAL only if idx was pushed twice (a bug). */
kt_status spotify_delivery_push(spotify_delivery *d, size_t idx, kt_err *err);

/* Takes the next report: 1 with *idx and *outcome set, 0 when none is
 * waiting. */
int spotify_delivery_next(spotify_delivery *d, size_t *idx, spotify_delivery_outcome *outcome);

/* KT_OK while on_done has not failed; otherwise its status, with its error
 * copied into err. The thread stops delivering after a failure. */
kt_status spotify_delivery_status(spotify_delivery *d, kt_err *err);

/* Stops the thread (after the on_done call in progress, if any), joins it
 * and frees d. Requests still queued are left as they are. NULL is a no-op. */
void spotify_delivery_stop(spotify_delivery *d);

/* ---- spotify_rules.c (pure) ---- */

/* Writes "METHOD /template" for path (query dropped, ids replaced by
 * "{id}"), e.g. "GET /playlists/{id}/items". Truncates to fit. */
void spotify_endpoint_template(const char *method, const char *path, char *out, size_t outsz);

/* 1 when the endpoint template (as above) exists only for extended-quota apps. */
int spotify_endpoint_extended_only(const char *tmpl);

/* Full-jitter exponential backoff: a uniformly random delay in
 * [0, min(max_ms, base_ms * 2^attempt)] (attempt counts from 0). */
long spotify_backoff_ms(int attempt, long base_ms, long max_ms);

/* Milliseconds to wait for a 429 with this Retry-After value (NULL or bad:
 * 1000 ms, Spotify's usual minimum). *at_ms gets the absolute retry time. */
int64_t spotify_retry_after_ms(const char *value, int64_t now_ms, int64_t *at_ms);

/* Classifies a non-2xx Web API answer into err (status, code, message).
 * body may be NULL. tmpl is the endpoint template. Returns the status set.
 * *mode_out (may be NULL) gets what the answer teaches about the app mode. */
kt_status spotify_classify_error(long status, const json_t *body, const char *tmpl, kt_err *err,
                                 spotify_mode *mode_out);

/* 1 when a failed attempt may be retried: 5xx, transport errors, truncated
 * or malformed bodies. Non-idempotent POSTs are retried only when Spotify
 * surely did not act (connect failures, 502/503), never after a 500 or a
 * reset mid-answer, so a retry cannot add the same items twice. */
int spotify_retryable(const char *method, long status, CURLcode cc);

#endif

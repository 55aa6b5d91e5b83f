/* spotify_client.c - the client's life cycle and its shared state.
 *
 * Creates and frees the client (configuration defaults, the curl share with
 * its lock callbacks), and owns what every call shares: the request budget
 * (a token bucket unless a hook replaces it), the app mode learnt from
 * responses, and the request accounting (per thread and per endpoint).
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "spotify/spotify_internal.h"

static _Thread_local uint64_t thread_requests;
static _Thread_local int thread_yields; /* spotify_thread_yield */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe in older libcurl (Debian 12's 7.88
 * reports CURL_VERSION_THREADSAFE, older ones do not): run it once. It is
 * never undone (curl_global_cleanup at exit would race other clients).
 *
 * It runs on the first request, not when the client is made (issue 17): it
 * initialises OpenSSL (curl's TLS back-end and libssh2's), which touched
 * 1.7 MB of libcrypto and made ~2 MB of `keeptrack serve`'s idle RSS before
 * anyone had logged in (bench/memory.py, "at start"). */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

kt_status spotify_curl_global_init(kt_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return err_set(err, KT_ERR_INTERNAL, NULL, "curl_global_init failed: %s",
                       curl_easy_strerror(curl_init_rc));
    return KT_OK;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    spotify_client *c = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    spotify_client *c = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->share_mu[data]);
}

/* Makes c->share; left NULL when it fails. Called under share_init_mu. */
static kt_status share_new(spotify_client *c, kt_err *err)
{
    CURLSH *sh = curl_share_init();
    if (!sh)
        return err_set(err, KT_ERR_NOMEM, NULL, "curl_share_init failed");
    CURLSHcode rc = curl_share_setopt(sh, CURLSHOPT_USERDATA, c);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* Connections are NOT put in the share (CURL_LOCK_DATA_CONNECT): with
     * multi handles running in several threads at once, libcurl 7.88 stalls
     * transfers on connections another thread's multi holds (seen here: 16
     * threads calling at once hung until their timeouts; the curl authors
     * call the shared pool "not properly functional" across threads).
     * Keep-alive comes from the multi pool instead (spotify_multi_acquire). */
    if (rc != CURLSHE_OK) {
        curl_share_cleanup(sh);
        return err_set(err, KT_ERR_INTERNAL, NULL, "curl share setup failed: %s",
                       curl_share_strerror(rc));
    }
    c->share = sh;
    return KT_OK;
}

/* libcurl's global state and the client's share, made on first use (see
 * curl_init_once for why not in spotify_client_new). */
static kt_status curl_ready(spotify_client *c, kt_err *err)
{
    kt_status st = spotify_curl_global_init(err);
    if (st != KT_OK)
        return st;
    pthread_mutex_lock(&c->share_init_mu);
    if (!c->share)
        st = share_new(c, err);
    pthread_mutex_unlock(&c->share_init_mu);
    return st;
}

/* ---- the multi pool ---- */

/* Idle multi handles kept for reuse, each with its own connection cache
 * (keep-alive, HTTP/2 multiplexing). A handle is used by one thread at a
 * time, which libcurl allows. */

CURLM *spotify_multi_acquire(spotify_client *c)
{
    CURLM *m = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->pool_n > 0)
        m = c->pool[--c->pool_n];
    if (m)
        c->multis_out++;
    pthread_mutex_unlock(&c->pool_mu);
    if (m)
        return m;
    if (spotify_curl_global_init(NULL) != KT_OK || !(m = curl_multi_init()))
        return NULL;
    if (curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->concurrency) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)c->concurrency * 2) != CURLM_OK) {
        curl_multi_cleanup(m);
        return NULL;
    }
    pthread_mutex_lock(&c->pool_mu);
    c->multis_out++;
    pthread_mutex_unlock(&c->pool_mu);
    return m;
}

/* Frees the pooled bodies once nothing runs (caller holds pool_mu). */
static void bodies_drain_if_idle(spotify_client *c)
{
    if (c->multis_out > 0)
        return;
    while (c->bodies_n > 0)
        free(c->bodies[--c->bodies_n].data);
}

void spotify_multi_release(spotify_client *c, CURLM *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&c->pool_mu);
    if (c->multis_out > 0)
        c->multis_out--;
    bodies_drain_if_idle(c);
    if (c->pool_n < SPOTIFY_MULTI_POOL_MAX) {
        c->pool[c->pool_n++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (m)
        curl_multi_cleanup(m);
}

/* ---- the body pool ----
 *
 * A page body of 90-500 KB malloc'ed afresh for each transfer came from
 * fresh pages (glibc maps or trims blocks that large and gives them back on
 * free): a full sync faulted in ~50,000 pages on its transfer threads, 5 %
 * of its CPU. The storage of a parsed body is kept here for the next
 * transfer while some batch runs, and freed when the client's last multi
 * handle comes back, so an idle server keeps none. */

void spotify_body_reuse(spotify_client *c, buf *b, size_t want)
{
    size_t best = SIZE_MAX;
    char *data = NULL;
    size_t cap = 0;
    if (b->data || want >= SPOTIFY_BODY_KEEP_MAX)
        return;
    pthread_mutex_lock(&c->pool_mu);
    for (size_t i = 0; i < c->bodies_n; i++)
        if (c->bodies[i].cap > want && (best == SIZE_MAX || c->bodies[i].cap < c->bodies[best].cap))
            best = i;
    if (best != SIZE_MAX) {
        data = c->bodies[best].data;
        cap = c->bodies[best].cap;
        c->bodies[best] = c->bodies[--c->bodies_n];
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (data)
        buf_adopt(b, data, cap);
}

void spotify_body_recycle(spotify_client *c, buf *b)
{
    size_t cap;
    char *data = buf_disown(b, &cap);
    if (!data)
        return;
    if (cap <= SPOTIFY_BODY_KEEP_MAX) {
        pthread_mutex_lock(&c->pool_mu);
        if (c->multis_out > 0 && c->bodies_n < SPOTIFY_BODY_POOL_MAX) {
            c->bodies[c->bodies_n].data = data;
            c->bodies[c->bodies_n].cap = cap;
            c->bodies_n++;
            data = NULL;
        }
        pthread_mutex_unlock(&c->pool_mu);
    }
    free(data);
}

kt_status spotify_multi_perform_one(spotify_client *c, CURL *easy, CURLcode *cc, kt_err *err)
{
    CURLM *m = spotify_multi_acquire(c);
    kt_status st = KT_OK;
    if (!m)
        return err_set(err, KT_ERR_NOMEM, NULL, "curl_multi_init failed");
    if (curl_multi_add_handle(m, easy) != CURLM_OK) {
        spotify_multi_release(c, m);
        return err_set(err, KT_ERR_INTERNAL, NULL, "curl_multi_add_handle failed");
    }
    *cc = CURLE_FAILED_INIT;
    for (int done = 0; !done;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while (mc == CURLM_OK && (msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
                *cc = msg->data.result;
                done = 1;
            }
        if (mc == CURLM_OK && !done)
            mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            st = err_set(err, KT_ERR_INTERNAL, NULL, "curl multi: %s", curl_multi_strerror(mc));
            break;
        }
    }
    if (curl_multi_remove_handle(m, easy) != CURLM_OK) {
        /* Only fails for a handle not in m; nothing to undo. */
    }
    spotify_multi_release(c, m);
    return st;
}

static char *dup_trimmed(const char *s)
{
    char *d = strdup(s);
    if (!d)
        return NULL;
    size_t n = strlen(d);
    while (n > 0 && d[n - 1] == '/')
        d[--n] = '\0';
    return d;
}

static kt_status check_url(const char *name, const char *u, kt_err *err)
{
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "%s must be an http:// or https:// URL", name);
    return KT_OK;
}

static void apply_defaults(spotify_client *c, const spotify_config *cfg)
{
    c->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 8;
    if (c->concurrency > 64)
        c->concurrency = 64;
    c->max_response_bytes = cfg->max_response_bytes ? cfg->max_response_bytes : 16u << 20;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    c->max_retries = cfg->max_retries == 0 ? 4 : (cfg->max_retries < 0 ? 0 : cfg->max_retries);
    if (c->max_retries > 20)
        c->max_retries = 20;
    c->max_wait_ms = cfg->max_wait_ms > 0 ? cfg->max_wait_ms : 5000;
    c->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 250;
    c->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 8000;
    c->bucket_rate = cfg->budget_per_sec > 0 ? cfg->budget_per_sec : 0;
    c->bucket_burst = cfg->budget_burst > 0 ? cfg->budget_burst
                                            : (c->bucket_rate > 1 ? c->bucket_rate : 1);
    c->bucket_tokens = c->bucket_burst;
    c->bucket_last_ms = time_mono_ms();
}

kt_status spotify_client_new(const spotify_config *cfg, const spotify_token_hooks *hooks,
                             spotify_client **out, kt_err *err)
{
    spotify_client *c = NULL;
    kt_status st = KT_OK;
    if (!cfg || !out)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_client_new: missing argument");
    if (!cfg->client_id || !*cfg->client_id)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "SPOTIFY_CLIENT_ID is not set: create an app at developer.spotify.com");
    if ((st = check_url("SPOTIFY_ACCOUNTS_URL", cfg->accounts_url, err)) != KT_OK ||
        (st = check_url("SPOTIFY_API_URL", cfg->api_url, err)) != KT_OK)
        return st;
    if (sodium_init() < 0)
        return err_set(err, KT_ERR_INTERNAL, NULL, "libsodium failed to initialise");

    c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    pthread_mutex_init(&c->share_init_mu, NULL);
    pthread_mutex_init(&c->bucket_mu, NULL);
    pthread_mutex_init(&c->tok_mu, NULL);
    pthread_cond_init(&c->tok_cv, NULL);
    pthread_mutex_init(&c->stats_mu, NULL);
    pthread_mutex_init(&c->pool_mu, NULL);
    pthread_mutex_init(&c->flight_mu, NULL);
    atomic_init(&c->mode, SPOTIFY_MODE_UNKNOWN);
    atomic_init(&c->total_requests, 0);
    atomic_init(&c->budget_waits, 0);

    c->accounts_url = dup_trimmed(cfg->accounts_url);
    c->api_url = dup_trimmed(cfg->api_url);
    c->client_id = strdup(cfg->client_id);
    c->client_secret = cfg->client_secret && *cfg->client_secret ? strdup(cfg->client_secret) : NULL;
    c->stats = json_object();
    if (!c->accounts_url || !c->api_url || !c->client_id || !c->stats ||
        (cfg->client_secret && *cfg->client_secret && !c->client_secret)) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    apply_defaults(c, cfg);
    if (hooks) {
        c->hooks = *hooks;
        c->have_hooks = 1;
    }
    *out = c;
    c = NULL;
out:
    spotify_client_free(c);
    return st;
}

void spotify_client_free(spotify_client *c)
{
    if (!c)
        return;
    /* Multis (and their connections) go before the share they use. */
    for (size_t i = 0; i < c->pool_n; i++)
        curl_multi_cleanup(c->pool[i]);
    for (size_t i = 0; i < c->bodies_n; i++)
        free(c->bodies[i].data);
    pthread_mutex_destroy(&c->pool_mu);
    pthread_mutex_destroy(&c->flight_mu);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->share_init_mu);
    pthread_mutex_destroy(&c->bucket_mu);
    pthread_mutex_destroy(&c->tok_mu);
    pthread_cond_destroy(&c->tok_cv);
    pthread_mutex_destroy(&c->stats_mu);
    spotify_user_gate *g = c->gates;
    while (g) {
        spotify_user_gate *next = g->next;
        free(g);
        g = next;
    }
    spotify_tokens_wipe(&c->app_token);
    json_decref(c->stats);
    free(c->accounts_url);
    free(c->api_url);
    free(c->client_id);
    if (c->client_secret) {
        sodium_memzero(c->client_secret, strlen(c->client_secret));
        free(c->client_secret);
    }
    free(c);
}

void spotify_tokens_wipe(spotify_tokens *t)
{
    if (t)
        sodium_memzero(t, sizeof *t);
}

static kt_status easy_setup(spotify_client *c, CURL *easy, kt_err *err)
{
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_SHARE, c->share);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                              c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_USERAGENT, "keeptrack/0.1");
    /* HTTP/2 over TLS where the server offers it; plain HTTP/1.1 otherwise. A
     * libcurl built without HTTP/2 refuses the option: not an error. */
    if (rc == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (rc != CURLE_OK)
        return err_set(err, KT_ERR_INTERNAL, NULL, "curl setup failed: %s", curl_easy_strerror(rc));
    return KT_OK;
}

kt_status spotify_easy_new(spotify_client *c, CURL **out, kt_err *err)
{
    CURL *easy = NULL;
    kt_status st = curl_ready(c, err);
    *out = NULL;
    if (st != KT_OK)
        return st;
    if (!(easy = curl_easy_init()))
        return err_set(err, KT_ERR_NOMEM, NULL, "curl_easy_init failed");
    if ((st = easy_setup(c, easy, err)) != KT_OK) {
        curl_easy_cleanup(easy);
        return st;
    }
    *out = easy;
    return KT_OK;
}

/* ---- budget ---- */

void spotify_set_budget_fn(spotify_client *c, spotify_budget_fn fn, void *ctx)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->bucket_mu);
    c->budget_fn = fn;
    c->budget_ctx = ctx;
    pthread_mutex_unlock(&c->bucket_mu);
}

int64_t spotify_budget_take(spotify_client *c)
{
    int64_t now = time_mono_ms();
    pthread_mutex_lock(&c->bucket_mu);
    spotify_budget_fn fn = c->budget_fn;
    void *ctx = c->budget_ctx;
    if (fn) {
        pthread_mutex_unlock(&c->bucket_mu);
        int64_t w = fn(ctx, now);
        if (w > 0)
            atomic_fetch_add(&c->budget_waits, 1);
        return w < 0 ? 0 : w;
    }
    int64_t wait = 0;
    if (c->bucket_rate > 0) {
        double elapsed = (double)(now - c->bucket_last_ms) / 1000.0;
        c->bucket_last_ms = now;
        c->bucket_tokens += elapsed * c->bucket_rate;
        if (c->bucket_tokens > c->bucket_burst)
            c->bucket_tokens = c->bucket_burst;
        if (c->bucket_tokens >= 1.0)
            c->bucket_tokens -= 1.0;
        else
            wait = (int64_t)ceil((1.0 - c->bucket_tokens) * 1000.0 / c->bucket_rate);
        if (wait == 0 && c->bucket_tokens < 0)
            wait = 1;
    }
    pthread_mutex_unlock(&c->bucket_mu);
    if (wait > 0)
        atomic_fetch_add(&c->budget_waits, 1);
    return wait;
}

/* ---- mode ---- */

void spotify_learn_mode(spotify_client *c, spotify_mode m)
{
    if (m != SPOTIFY_MODE_UNKNOWN)
        atomic_store(&c->mode, (int)m);
}

spotify_mode spotify_get_mode(spotify_client *c)
{
    return c ? (spotify_mode)atomic_load(&c->mode) : SPOTIFY_MODE_UNKNOWN;
}

int spotify_endpoint_available(spotify_client *c, const char *endpoint_template)
{
    if (!spotify_endpoint_extended_only(endpoint_template))
        return 1;
    return spotify_get_mode(c) == SPOTIFY_MODE_EXTENDED;
}

kt_status spotify_detect_mode(spotify_client *c, int64_t user_id, spotify_mode *out, kt_err *err)
{
    if (!c || !out)
        return err_set(err, KT_ERR_INVALID, NULL, "spotify_detect_mode: missing argument");
    spotify_mode m = spotify_get_mode(c);
    if (m != SPOTIFY_MODE_UNKNOWN) {
        *out = m;
        return KT_OK;
    }
    json_t *page = NULL;
    kt_err e;
    err_clear(&e);
    kt_status st = spotify_get(c, user_id, "/browse/new-releases?limit=1", &page, &e);
    json_decref(page);
    if (st == KT_OK) {
        m = SPOTIFY_MODE_EXTENDED;
    } else if (st == KT_ERR_FORBIDDEN && strcmp(e.code, "endpoint_unavailable") == 0) {
        m = SPOTIFY_MODE_DEVELOPMENT;
    } else {
        if (err)
            *err = e;
        return st;
    }
    spotify_learn_mode(c, m);
    *out = m;
    return KT_OK;
}

/* ---- accounting ---- */

void spotify_count_request(spotify_client *c)
{
    thread_requests++;
    atomic_fetch_add(&c->total_requests, 1);
}

uint64_t spotify_thread_requests(void)
{
    return thread_requests;
}

int spotify_thread_yield(int on)
{
    int was = thread_yields;
    thread_yields = on != 0;
    return was;
}

int spotify_thread_yields(void)
{
    return thread_yields;
}

void spotify_record_stat(spotify_client *c, const char *method, const char *path, long status)
{
    char tmpl[256];
    char key[16];
    spotify_endpoint_template(method, path, tmpl, sizeof tmpl);
    if (status > 0)
        snprintf(key, sizeof key, "%ld", status);
    else
        snprintf(key, sizeof key, "failed");
    pthread_mutex_lock(&c->stats_mu);
    json_t *ep = json_object_get(c->stats, tmpl);
    if (!ep) {
        ep = json_object();
        if (ep && json_object_set_new(c->stats, tmpl, ep) != 0)
            ep = NULL;
    }
    if (ep) {
        json_int_t n = json_integer_value(json_object_get(ep, key));
        /* Accounting is best effort: an allocation failure loses a count. */
        (void)json_object_set_new(ep, key, json_integer(n + 1));
    }
    pthread_mutex_unlock(&c->stats_mu);
}

uint64_t spotify_budget_waits(spotify_client *c)
{
    return c ? (uint64_t)atomic_load(&c->budget_waits) : 0;
}

json_t *spotify_stats_json(spotify_client *c)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->stats_mu);
    json_t *copy = json_deep_copy(c->stats);
    pthread_mutex_unlock(&c->stats_mu);
    return copy;
}

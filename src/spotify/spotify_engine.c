/* spotify_engine.c - the request engine: a batch of Web API requests run on
 * one libcurl multi handle in the calling thread.
 *
 * At most `concurrency` transfers of a user are in flight, counted across
 * the user's batches on other threads (spotify_flight.c); each start takes a token
 * from the request budget and a fresh-enough access token. Completions are
 * classified: 2xx bodies are parsed (bounded depth); 401 refreshes the
 * token once (single-flight, see spotify_auth.c) and retries that request
 * once; a short 429 parks the request until its Retry-After while the
 * others keep going; a long one or QUOTA_EXCEEDED ends the batch with
 * KT_ERR_DEFERRED; 5xx, timeouts, resets, truncated and malformed bodies are
 * retried with full-jitter exponential backoff, never by sleeping while
 * other transfers wait (the multi poll timeout does the waiting). The first
 * error that is not retried away stops the whole batch.
 *
 * A batch of more than one request parses and delivers its bodies on a
 * second thread (spotify_delivery.c), so this thread starts the next
 * request the moment a transfer ends instead of after the page has been
 * parsed and stored; a single request, or a batch whose thread could not
 * start, does it inline.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "spotify/spotify_internal.h"

typedef struct engine {
    spotify_batch *b;
    spotify_client *c;
    CURLM *multi;
    spotify_tokens tok;
    uint64_t gen;       /* bumped whenever tok changes; 0 = none yet */
    size_t running;
    size_t lowest;      /* lowest index not yet DONE */
    spotify_delivery *d; /* NULL: bodies are parsed and delivered inline */
    spotify_flight *f;   /* the user's shared in-flight slots; NULL: own limit only */
} engine;

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    spotify_req *r = ud;
    kt_status st = KT_OK;
    curl_off_t announced = -1;
    /* A page of playlist items is ~0.5 MB: growing by doubling from the first
     * chunk copied it ~4 times and faulted in fresh pages each time (8 % of a
     * full sync's CPU in perf). The announced length sizes it once; a wrong
     * announcement only costs the doubling again, and max still caps it. */
    if (r->resp.cap == 0 &&
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced > 0 && (uint64_t)announced <= (uint64_t)SIZE_MAX / 2) {
        if (r->client)
            spotify_body_reuse(r->client, &r->resp, (size_t)announced);
        st = buf_reserve(&r->resp, (size_t)announced);
    }
    if (st == KT_OK)
        st = buf_append(&r->resp, p, size * n);
    if (st == KT_ERR_TOO_LARGE)
        r->too_large = 1;
    return st == KT_OK ? size * n : 0;
}

/* Keeps the Retry-After header (the only one the engine needs). */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    spotify_req *r = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t e = len;
        while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        size_t vl = e - i < sizeof r->retry_after - 1 ? e - i : sizeof r->retry_after - 1;
        memcpy(r->retry_after, p + i, vl);
        r->retry_after[vl] = '\0';
    }
    return len;
}

static void free_headers(struct curl_slist *h)
{
    /* The Authorization header holds a token: wipe before freeing. */
    for (struct curl_slist *i = h; i; i = i->next)
        sodium_memzero(i->data, strlen(i->data));
    curl_slist_free_all(h);
}

static void req_release_transfer(engine *e, spotify_req *r)
{
    if (r->easy) {
        if (curl_multi_remove_handle(e->multi, r->easy) != CURLM_OK) {
            /* Removal only fails on a bad handle; cleaning up is still right. */
        }
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        e->running--;
        if (e->f)
            spotify_flight_give(e->f);
    }
    free_headers(r->headers);
    r->headers = NULL;
}

void spotify_reqs_clear(spotify_req *reqs, size_t n)
{
    for (size_t i = 0; reqs && i < n; i++) {
        free(reqs[i].path);
        free(reqs[i].body);
        json_decref(reqs[i].json);
        buf_free(&reqs[i].resp);
        free_headers(reqs[i].headers);
        if (reqs[i].easy)
            curl_easy_cleanup(reqs[i].easy);
        memset(&reqs[i], 0, sizeof reqs[i]);
    }
}

static void tmpl_of(const spotify_req *r, char *out, size_t outsz)
{
    spotify_endpoint_template(r->method, r->path, out, outsz);
}

/* Makes sure e->tok is usable for the next start (loaded, not about to expire). */
static kt_status ensure_token(engine *e, const char *stale, kt_err *err)
{
    if (!stale && e->gen &&
        e->tok.expires_at_ms - time_now_ms() >= SPOTIFY_REFRESH_MARGIN_MS)
        return KT_OK;
    spotify_tokens t;
    kt_status st = spotify_token_get(e->c, e->b->user_id, stale, &t, err);
    if (st == KT_OK) {
        e->tok = t;
        e->gen++;
    }
    spotify_tokens_wipe(&t);
    return st;
}

static kt_status add_header(struct curl_slist **h, const char *line, kt_err *err)
{
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    *h = n;
    return KT_OK;
}

/* Empties r->resp: its storage goes back to the client's body pool once a
 * transfer has set r->client, else it is freed. */
static void resp_release(spotify_req *r)
{
    if (r->client)
        spotify_body_recycle(r->client, &r->resp);
    else
        buf_free(&r->resp);
}

static kt_status start_req(engine *e, spotify_req *r, kt_err *err)
{
    spotify_client *c = e->c;
    kt_status st;
    char url[4096];
    char auth[sizeof e->tok.access_token + 32];
    if ((st = ensure_token(e, NULL, err)) != KT_OK)
        return st;
    if (snprintf(url, sizeof url, "%s%s", c->api_url, r->path) >= (int)sizeof url)
        return err_set(err, KT_ERR_INVALID, NULL, "request path too long (%zu bytes)",
                       strlen(r->path));
    resp_release(r);
    buf_init(&r->resp, c->max_response_bytes);
    r->client = c;
    r->too_large = 0;
    r->retry_after[0] = '\0';
    if ((st = spotify_easy_new(c, &r->easy, err)) != KT_OK)
        return st;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", e->tok.access_token);
    st = add_header(&r->headers, auth, err);
    sodium_memzero(auth, sizeof auth);
    if (st != KT_OK || (st = add_header(&r->headers, "Accept: application/json", err)) != KT_OK)
        goto fail;
    int is_get = strcmp(r->method, "GET") == 0;
    char ctype[96];
    snprintf(ctype, sizeof ctype, "Content-Type: %s",
             r->content_type ? r->content_type : "application/json");
    if (!is_get && (st = add_header(&r->headers, ctype, err)) != KT_OK)
        goto fail;
    CURLcode rc = curl_easy_setopt(r->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    if (rc == CURLE_OK && !is_get) {
        /* POSTFIELDS ("" without a body) gives every method a Content-Length. */
        rc = curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        if (rc == CURLE_OK && strcmp(r->method, "POST") != 0)
            rc = curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (rc != CURLE_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "curl setup failed: %s", curl_easy_strerror(rc));
        goto fail;
    }
    if (curl_multi_add_handle(e->multi, r->easy) != CURLM_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "curl_multi_add_handle failed");
        goto fail;
    }
    r->token_gen = e->gen;
    r->state = SPOTIFY_REQ_RUNNING;
    e->running++;
    spotify_count_request(c);
    return KT_OK;
fail:
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    free_headers(r->headers);
    r->headers = NULL;
    return st;
}

/* A failed attempt that may be retried: park it for a backoff, or give up. */
static kt_status retry_later(engine *e, spotify_req *r, const char *why, kt_err *err)
{
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    snprintf(r->last_failure, sizeof r->last_failure, "%s", why);
    if (r->attempts >= e->c->max_retries)
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                       "%s failed after %d attempts; last failure: %s", tmpl, r->attempts + 1,
                       r->last_failure);
    long wait = spotify_backoff_ms(r->attempts, e->c->backoff_base_ms, e->c->backoff_max_ms);
    r->attempts++;
    LOG_INFO("spotify_retry", "endpoint=%s attempt=%d wait_ms=%ld reason=%s", tmpl, r->attempts,
             wait, why);
    r->state = SPOTIFY_REQ_PENDING;
    r->not_before_ms = time_mono_ms() + wait;
    return KT_OK;
}

static kt_status on_429(engine *e, spotify_req *r, const json_t *body, kt_err *err)
{
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    int64_t now = time_now_ms(), at = 0;
    int64_t wait = spotify_retry_after_ms(r->retry_after[0] ? r->retry_after : NULL, now, &at);
    const json_t *eo = body ? json_object_get(body, "error") : NULL;
    const char *reason = json_is_object(eo) ? json_string_value(json_object_get(eo, "reason")) : NULL;
    int quota = reason && strcmp(reason, "QUOTA_EXCEEDED") == 0;
    if (!quota && wait <= e->c->max_wait_ms && r->waits_429 < SPOTIFY_MAX_429_WAITS) {
        r->waits_429++;
        LOG_INFO("spotify_rate_limited", "endpoint=%s wait_ms=%lld", tmpl, (long long)wait);
        r->state = SPOTIFY_REQ_PENDING;
        r->not_before_ms = time_mono_ms() + wait;
        return KT_OK;
    }
    kt_status st = spotify_classify_error(429, body, tmpl, err, NULL);
    LOG_WARN("spotify_deferred", "endpoint=%s reason=%s retry_in_s=%lld", tmpl,
             quota ? "quota_exceeded" : "rate_limited", (long long)(wait + 999) / 1000);
    if (err) {
        err->retry_at_ms = at;
        err_prefix(err, "retry after %lld s: ", (long long)(wait + 999) / 1000);
    }
    return st;
}

static kt_status on_401(engine *e, spotify_req *r, const json_t *body, kt_err *err)
{
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    if (r->retried_401)
        return spotify_classify_error(401, body, tmpl, err, NULL);
    r->retried_401 = 1;
    /* Only the first 401 seen with the current token refreshes; requests
     * that ran with it concurrently just retry with the new one. */
    if (r->token_gen == e->gen) {
        kt_status st = ensure_token(e, e->tok.access_token, err);
        if (st != KT_OK)
            return st;
    }
    r->state = SPOTIFY_REQ_PENDING;
    r->not_before_ms = 0;
    return KT_OK;
}

kt_status spotify_req_parse(spotify_req *r, kt_err *err)
{
    json_t *j = NULL;
    if (r->status != 204 && r->resp.len > 0) {
        /* Playlist items carry the track twice, as "item" and again as the
         * deprecated "track"; every reader prefers "item" (see
         * spotify_parse_playlist_item), so the copy is not built: a third
         * of an items page's parse. available_markets (extended mode only:
         * ~180 codes per track and per album) is read by nothing here and
         * was most of a 100-item page's tree (a full sync's peak RSS rose
         * from 37 to 70 MB with the window of such pages). */
        static const json_parse_opts lean = {.drop = "track", .if_present = "item",
                                             .never = "available_markets"};
        kt_status st = json_parse_bounded_opts(r->resp.data, r->resp.len, SPOTIFY_JSON_MAX_DEPTH,
                                               &lean, &j, err);
        if (st != KT_OK)
            return st;
    }
    resp_release(r);
    r->json = j;
    return KT_OK;
}

/* A 2xx body that did not parse: retried like a 5xx when that is safe. */
static kt_status on_malformed(engine *e, spotify_req *r, kt_err *err)
{
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    if (!spotify_retryable(r->method, 500, CURLE_OK))
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                       "%s answered %ld with a malformed body", tmpl, r->status);
    return retry_later(e, r, "malformed JSON body", err);
}

static kt_status on_success(engine *e, spotify_req *r, size_t idx, long status, kt_err *err)
{
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    if (spotify_endpoint_extended_only(tmpl))
        spotify_learn_mode(e->c, SPOTIFY_MODE_EXTENDED);
    r->status = status;
    if (e->d) {
        r->state = SPOTIFY_REQ_QUEUED;
        return spotify_delivery_push(e->d, idx, err);
    }
    kt_err perr;
    if (spotify_req_parse(r, &perr) != KT_OK)
        return on_malformed(e, r, err);
    r->state = SPOTIFY_REQ_DONE;
    r->ready = 1;
    return e->b->on_done ? e->b->on_done(e->b->ctx, idx, err) : KT_OK;
}

static kt_status on_complete(engine *e, spotify_req *r, CURLcode cc, kt_err *err)
{
    spotify_client *c = e->c;
    size_t idx = (size_t)(r - e->b->reqs);
    long status = 0;
    char tmpl[256];
    tmpl_of(r, tmpl, sizeof tmpl);
    if (cc == CURLE_OK && curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    spotify_record_stat(c, r->method, r->path, cc == CURLE_OK ? status : 0);
    req_release_transfer(e, r);
    r->state = SPOTIFY_REQ_PENDING;

    if (cc == CURLE_WRITE_ERROR && r->too_large)
        return err_set(err, KT_ERR_TOO_LARGE, "response_too_large",
                       "Spotify's answer to %s exceeds the %zu-byte limit", tmpl,
                       c->max_response_bytes);
    if (cc != CURLE_OK) {
        if (!spotify_retryable(r->method, 0, cc))
            return err_set(err, KT_ERR_UPSTREAM, "upstream_failed", "%s failed: %s", tmpl,
                           curl_easy_strerror(cc));
        return retry_later(e, r, curl_easy_strerror(cc), err);
    }
    if (status >= 200 && status <= 299)
        return on_success(e, r, idx, status, err);

    json_t *body = NULL;
    kt_err ignore;
    if (r->resp.len > 0)
        (void)json_parse_bounded(r->resp.data, r->resp.len, SPOTIFY_JSON_MAX_DEPTH, &body, &ignore);
    kt_status st;
    if (status == 401) {
        st = on_401(e, r, body, err);
    } else if (status == 429) {
        st = on_429(e, r, body, err);
    } else if (spotify_retryable(r->method, status, CURLE_OK)) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %ld", status);
        st = retry_later(e, r, why, err);
        if (st != KT_OK && err)
            err->upstream_status = (int)status;
    } else {
        spotify_mode m = SPOTIFY_MODE_UNKNOWN;
        st = spotify_classify_error(status, body, tmpl, err, &m);
        spotify_learn_mode(c, m);
    }
    json_decref(body);
    return st;
}

/* Starts what may start now; *wait_ms gets how long until something may. */
static kt_status start_ready(engine *e, long *wait_ms, kt_err *err)
{
    spotify_batch *b = e->b;
    size_t ahead = b->max_ahead ? b->max_ahead : b->n;
    size_t end = e->lowest + ahead < b->n ? e->lowest + ahead : b->n;
    int64_t now = time_mono_ms();
    for (size_t i = e->lowest; i < end && e->running < (size_t)e->c->concurrency; i++) {
        spotify_req *r = &b->reqs[i];
        if (r->state != SPOTIFY_REQ_PENDING)
            continue;
        if (r->not_before_ms > now) {
            if (r->not_before_ms - now < *wait_ms)
                *wait_ms = (long)(r->not_before_ms - now);
            continue;
        }
        if (e->f && !spotify_flight_take(e->f))
            return KT_OK; /* the user's other batches hold every slot: woken on release */
        int64_t w = spotify_budget_take(e->c);
        if (w > 0) {
            if (e->f)
                spotify_flight_give(e->f);
            if (w < *wait_ms)
                *wait_ms = (long)w;
            break;
        }
        kt_status st = start_req(e, r, err);
        if (st != KT_OK) {
            if (e->f)
                spotify_flight_give(e->f);
            return st;
        }
    }
    if (e->f)
        spotify_flight_satisfied(e->f); /* not refused: no longer waiting for a slot */
    return KT_OK;
}

static void advance_lowest(engine *e)
{
    while (e->lowest < e->b->n && e->b->reqs[e->lowest].state == SPOTIFY_REQ_DONE)
        e->lowest++;
}

/* Handles every finished transfer; *finished counts them. */
static kt_status drain_done(engine *e, int *finished, kt_err *err)
{
    CURLMsg *m;
    int left = 0;
    *finished = 0;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        (*finished)++;
        spotify_req *r = NULL;
        CURLcode cc = m->data.result;
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r) != CURLE_OK || !r)
            return err_set(err, KT_ERR_INTERNAL, NULL, "curl transfer without its request");
        kt_status st = on_complete(e, r, cc, err);
        if (st != KT_OK)
            return st;
    }
    advance_lowest(e);
    return KT_OK;
}

/* Takes the delivery thread's reports: delivered requests are done, a
 * malformed body is retried or fails the batch, as does on_done's error. */
static kt_status take_reports(engine *e, kt_err *err)
{
    size_t idx;
    spotify_delivery_outcome outcome;
    kt_status st = spotify_delivery_status(e->d, err);
    while (st == KT_OK && spotify_delivery_next(e->d, &idx, &outcome)) {
        spotify_req *r = &e->b->reqs[idx];
        if (outcome == SPOTIFY_DELIVERED)
            r->state = SPOTIFY_REQ_DONE;
        else
            st = on_malformed(e, r, err);
    }
    advance_lowest(e);
    return st;
}

kt_status spotify_batch_run(spotify_batch *b, kt_err *err)
{
    engine e;
    memset(&e, 0, sizeof e);
    e.b = b;
    e.c = b->c;
    kt_status st = KT_OK;
    if (b->n == 0)
        return KT_OK;
    e.multi = spotify_multi_acquire(b->c);
    if (!e.multi)
        return err_set(err, KT_ERR_NOMEM, NULL, "curl_multi_init failed");
    e.f = spotify_flight_join(b->c, b->user_id, e.multi);
    if (b->n > 1)
        e.d = spotify_delivery_start(b, e.multi);
    while (e.lowest < b->n) {
        long wait_ms = 1000;
        if (e.d && (st = take_reports(&e, err)) != KT_OK)
            goto out;
        if (e.lowest >= b->n)
            break;
        if ((st = start_ready(&e, &wait_ms, err)) != KT_OK)
            goto out;
        int still = 0;
        CURLMcode mc = curl_multi_perform(e.multi, &still);
        if (mc != CURLM_OK) {
            st = err_set(err, KT_ERR_INTERNAL, NULL, "curl_multi_perform: %s",
                         curl_multi_strerror(mc));
            goto out;
        }
        int finished = 0;
        if ((st = drain_done(&e, &finished, err)) != KT_OK)
            goto out;
        if (e.lowest >= b->n)
            break;
        /* Something finished and freed a slot: start more before waiting. */
        if (finished > 0)
            continue;
        mc = curl_multi_poll(e.multi, NULL, 0, wait_ms > 0 ? (int)wait_ms : 1, NULL);
        if (mc != CURLM_OK) {
            st = err_set(err, KT_ERR_INTERNAL, NULL, "curl_multi_poll: %s",
                         curl_multi_strerror(mc));
            goto out;
        }
    }
out:
    spotify_delivery_stop(e.d);
    for (size_t i = 0; i < b->n; i++)
        if (b->reqs[i].easy)
            req_release_transfer(&e, &b->reqs[i]);
    spotify_flight_leave(e.f);
    spotify_tokens_wipe(&e.tok);
    spotify_multi_release(b->c, e.multi);
    return st;
}

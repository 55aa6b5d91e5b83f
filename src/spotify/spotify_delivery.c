/* spotify_delivery.c - a batch's second thread: it parses the bodies of
 * finished transfers and hands them to the batch's on_done, while the
 * engine's thread (spotify_engine.c) only moves bytes and keeps every
 * transfer slot busy.
 *
 * Why a thread: parsing a 50-item page and storing what it holds costs a few
 * milliseconds of CPU, about what an eighth of Spotify's latency is. Done on
 * the transfer thread, every finished page delayed the next request by that
 * much plus the work of every other page finished meanwhile: at concurrency 8
 * a full sync kept only ~6.4 requests in flight.
 *
 * Protocol (one mutex, one condition variable):
 *  - the engine pushes idx when request idx ended with 2xx (r->resp holds the
 *    body) and then leaves r->resp, r->json and r->ready alone;
 *  - this thread takes indices in push order, parses, sets r->ready and runs
 *    on_done (so on_done calls are never concurrent and come in completion
 *    order, as they did inline), then reports (idx, outcome) and wakes the
 *    engine's curl_multi_poll with curl_multi_wakeup;
 *  - the engine takes reports with spotify_delivery_next: DELIVERED becomes
 *    SPOTIFY_REQ_DONE, MALFORMED goes through the engine's retry rules.
 * A request is in the queue or the report list at most once at a time (the
 * engine restarts it only after its report), so both rings hold n entries.
 */
#include <pthread.h>
#include <stdlib.h>

#include "spotify/spotify_internal.h"

typedef struct ring {
    size_t *v;
    size_t head, len, cap;
} ring;

struct spotify_delivery {
    spotify_batch *b;
    CURLM *multi;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ring queue;      /* pushed by the engine, taken by the thread */
    ring reports;    /* pushed by the thread, taken by the engine */
    unsigned char *outcome; /* per request: the outcome of its last report */
    int stop;
    kt_status failed;       /* on_done's error (KT_OK: none) */
    kt_err err;
};

static int ring_init(ring *r, size_t cap)
{
    r->v = calloc(cap ? cap : 1, sizeof *r->v);
    r->head = r->len = 0;
    r->cap = cap ? cap : 1;
    return r->v != NULL;
}

/* 0 when full, which the protocol above rules out: callers turn it into
 * an internal error instead of writing past the ring. */
static int ring_push(ring *r, size_t x)
{
    if (r->len == r->cap)
        return 0;
    r->v[(r->head + r->len++) % r->cap] = x;
    return 1;
}

static int ring_pop(ring *r, size_t *x)
{
    if (r->len == 0)
        return 0;
    *x = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return 1;
}

/* Parses and delivers one request; returns its outcome (or 0 after on_done
 * failed, with d->failed set). Runs without the mutex. */
static int deliver_one(spotify_delivery *d, size_t idx, kt_status *st, kt_err *err)
{
    spotify_req *r = &d->b->reqs[idx];
    kt_err perr;
    *st = KT_OK;
    if (spotify_req_parse(r, &perr) != KT_OK)
        return SPOTIFY_MALFORMED;
    r->ready = 1;
    if (d->b->on_done && (*st = d->b->on_done(d->b->ctx, idx, err)) != KT_OK)
        return 0;
    return SPOTIFY_DELIVERED;
}

static void *delivery_main(void *arg)
{
    spotify_delivery *d = arg;
    kt_err err;
    err_clear(&err);
    pthread_mutex_lock(&d->mu);
    for (;;) {
        size_t idx;
        while (!d->stop && d->queue.len == 0)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stop || !ring_pop(&d->queue, &idx))
            break;
        pthread_mutex_unlock(&d->mu);
        kt_status st;
        int outcome = deliver_one(d, idx, &st, &err);
        pthread_mutex_lock(&d->mu);
        if (outcome != 0) {
            d->outcome[idx] = (unsigned char)outcome;
            if (!ring_push(&d->reports, idx)) {
                st = err_set(&err, KT_ERR_INTERNAL, NULL, "spotify delivery: report ring full");
                outcome = 0;
            }
        }
        if (outcome == 0) {
            d->failed = st;
            d->err = err;
        }
        /* Wake the engine's poll; it also sees a failure this way. A failed
         * wakeup only delays the engine until its poll times out. */
        (void)curl_multi_wakeup(d->multi);
        if (outcome == 0)
            break;
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void delivery_free(spotify_delivery *d)
{
    free(d->queue.v);
    free(d->reports.v);
    free(d->outcome);
    free(d);
}

spotify_delivery *spotify_delivery_start(spotify_batch *b, CURLM *multi)
{
    spotify_delivery *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->b = b;
    d->multi = multi;
    err_clear(&d->err);
    if (!ring_init(&d->queue, b->n) || !ring_init(&d->reports, b->n) ||
        !(d->outcome = calloc(b->n ? b->n : 1, 1))) {
        delivery_free(d);
        return NULL;
    }
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        delivery_free(d);
        return NULL;
    }
    if (pthread_cond_init(&d->cv, NULL) != 0) {
        pthread_mutex_destroy(&d->mu);
        delivery_free(d);
        return NULL;
    }
    if (pthread_create(&d->tid, NULL, delivery_main, d) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        delivery_free(d);
        return NULL;
    }
    return d;
}

kt_status spotify_delivery_push(spotify_delivery *d, size_t idx, kt_err *err)
{
    pthread_mutex_lock(&d->mu);
    int ok = ring_push(&d->queue, idx);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return ok ? KT_OK : err_set(err, KT_ERR_INTERNAL, NULL, "spotify delivery: queue full");
}

int spotify_delivery_next(spotify_delivery *d, size_t *idx, spotify_delivery_outcome *outcome)
{
    pthread_mutex_lock(&d->mu);
    int got = ring_pop(&d->reports, idx);
    if (got)
        *outcome = (spotify_delivery_outcome)d->outcome[*idx];
    pthread_mutex_unlock(&d->mu);
    return got;
}

kt_status spotify_delivery_status(spotify_delivery *d, kt_err *err)
{
    pthread_mutex_lock(&d->mu);
    kt_status st = d->failed;
    if (st != KT_OK && err)
        *err = d->err;
    pthread_mutex_unlock(&d->mu);
    return st;
}

void spotify_delivery_stop(spotify_delivery *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->tid, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    delivery_free(d);
}

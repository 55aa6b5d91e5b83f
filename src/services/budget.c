/* budget.c - the Spotify client's budget hook backed by the spotify_budget
 * row (see budget.h).
 *
 * One pooled connection and one statement per Web API request: the row
 * lock makes takes from every process strictly sequential, which is what a
 * shared budget is. The hook is told monotonic time; the row keeps unix
 * time (shared by processes), so the hook reads the wall clock itself.
 */
#include "services/budget.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "store/store_budget.h"

#define WARN_EVERY_MS 60000

struct budget_shared {
    kt_app *app;
    double rate;       /* tokens per second */
    pthread_mutex_t mu; /* the local fallback bucket and warn_at */
    double tokens;
    int64_t last_ms;   /* monotonic */
    int64_t warned_at; /* monotonic; 0 = never */
};

/* The in-process bucket used while the database fails. */
static int64_t local_take(budget_shared *b, int64_t now_mono, const kt_err *why)
{
    int64_t wait = 0;
    pthread_mutex_lock(&b->mu);
    if (b->warned_at == 0 || now_mono - b->warned_at >= WARN_EVERY_MS) {
        b->warned_at = now_mono;
        LOG_WARN("budget_shared_unavailable", "code=%s error=%s", why->code, why->msg);
    }
    b->tokens += (double)(now_mono - b->last_ms) / 1000.0 * b->rate;
    b->last_ms = now_mono;
    double burst = b->rate > 1 ? b->rate : 1;
    if (b->tokens > burst)
        b->tokens = burst;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (int64_t)ceil((1.0 - b->tokens) * 1000.0 / b->rate);
    pthread_mutex_unlock(&b->mu);
    return wait > 0 ? wait : 0;
}

static int64_t shared_take(void *ctx, int64_t now_mono)
{
    budget_shared *b = ctx;
    store *s = NULL;
    kt_err err = {0};
    int64_t wait = 0;
    kt_status st = app_db_get(b->app, &s, &err);
    if (st == KT_OK) {
        st = store_budget_take(s, BUDGET_SPOTIFY, time_now_ms(), &wait, &err);
        app_db_put(b->app, s);
    }
    return st == KT_OK ? wait : local_take(b, now_mono, &err);
}

kt_status budget_open(kt_app *app, double per_sec, budget_shared **out, kt_err *err)
{
    budget_shared *b = NULL;
    store *s = NULL;
    kt_status st;
    int pg;

    *out = NULL;
    if (app->spotify == NULL || per_sec <= 0)
        return KT_OK;
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    pg = store_get_backend(s) == STORE_POSTGRES;
    if (pg) {
        int64_t rate = llround(per_sec * 1000.0);
        int64_t burst = per_sec > 1 ? rate : 1000;
        st = store_budget_configure(s, BUDGET_SPOTIFY, rate > 0 ? rate : 1, burst, time_now_ms(),
                                    err);
    }
    app_db_put(app, s);
    if (st != KT_OK || !pg)
        return st;
    if ((b = calloc(1, sizeof *b)) == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    b->app = app;
    b->rate = per_sec;
    b->tokens = per_sec > 1 ? per_sec : 1;
    b->last_ms = time_mono_ms();
    pthread_mutex_init(&b->mu, NULL);
    spotify_set_budget_fn(app->spotify, shared_take, b);
    *out = b;
    return KT_OK;
}

void budget_free(budget_shared *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

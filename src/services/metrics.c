/* metrics.c - the process-wide metrics registry and its Prometheus text
 * rendering (see metrics.h).
 *
 * Counters live in fixed arrays under one mutex: a request costs one lock
 * and a short scan of the series (a few dozen in practice: route patterns x
 * statuses), cheaper than any allocation. Rendering copies the arrays under
 * the lock and formats outside it. Hand-written rather than a client
 * library: Debian packages none for C, and the exposition format is a few
 * lines of text per family.
 */
#include "services/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "store/store_jobs.h"
#include "store/store_ops.h"

#define ROUTE_MAX 128
#define METHOD_MAX 8
#define OUTCOME_MAX 16
#define MAX_OUTCOMES 8

static const double http_bounds[] = {METRICS_HTTP_BUCKETS};
#define NBOUNDS (sizeof http_bounds / sizeof http_bounds[0])

typedef struct http_series {
    char method[METHOD_MAX];
    char route[ROUTE_MAX];
    int status;
    uint64_t count;
} http_series;

typedef struct http_hist {
    char method[METHOD_MAX];
    char route[ROUTE_MAX];
    uint64_t le[NBOUNDS]; /* per bucket, not cumulative: summed when rendered */
    uint64_t count;
    double sum;
} http_hist;

typedef struct outcome_count {
    char outcome[OUTCOME_MAX];
    uint64_t count;
} outcome_count;

/* Everything counted; copied whole for rendering. */
typedef struct registry {
    int64_t start_ms;
    int64_t in_flight;
    size_t nseries, nhist, noutcomes;
    http_series series[METRICS_MAX_SERIES];
    http_hist hist[METRICS_MAX_SERIES];
    outcome_count refresh[MAX_OUTCOMES];
} registry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static registry reg; /* under mu */

/* ---- counting ---- */

/* Methods outside the usual set would let any client mint label values. */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; m && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

static int same_key(const char *method, const char *route, const char *m2, const char *r2)
{
    return strcmp(method, m2) == 0 && strncmp(route, r2, ROUTE_MAX - 1) == 0;
}

/* The series for the key, created when there is room; when the table is
 * full new keys share route="other" (one reserved slot). Caller holds mu. */
static http_series *series_for(const char *method, const char *route, int status)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < reg.nseries; i++)
            if (reg.series[i].status == status &&
                same_key(method, route, reg.series[i].method, reg.series[i].route))
                return &reg.series[i];
        if (reg.nseries < METRICS_MAX_SERIES - (pass == 0)) {
            http_series *s = &reg.series[reg.nseries++];
            snprintf(s->method, sizeof s->method, "%s", method);
            snprintf(s->route, sizeof s->route, "%s", route);
            s->status = status;
            s->count = 0;
            return s;
        }
        method = "OTHER";
        route = "other";
        status = 0;
    }
    return NULL;
}

static http_hist *hist_for(const char *method, const char *route)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < reg.nhist; i++)
            if (same_key(method, route, reg.hist[i].method, reg.hist[i].route))
                return &reg.hist[i];
        if (reg.nhist < METRICS_MAX_SERIES - (pass == 0)) {
            http_hist *h = &reg.hist[reg.nhist++];
            memset(h, 0, sizeof *h);
            snprintf(h->method, sizeof h->method, "%s", method);
            snprintf(h->route, sizeof h->route, "%s", route);
            return h;
        }
        method = "OTHER";
        route = "other";
    }
    return NULL;
}

void metrics_set_start_time(int64_t unix_ms)
{
    pthread_mutex_lock(&mu);
    reg.start_ms = unix_ms;
    pthread_mutex_unlock(&mu);
}

void metrics_http_begin(void)
{
    pthread_mutex_lock(&mu);
    reg.in_flight++;
    pthread_mutex_unlock(&mu);
}

void metrics_http_done(const char *method, const char *route, int status, double seconds)
{
    const char *m = method_label(method);
    const char *r = route ? route : "unmatched";
    if (status < 0 || status > 999)
        status = 0;
    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    pthread_mutex_lock(&mu);
    if (reg.in_flight > 0)
        reg.in_flight--;
    http_series *s = series_for(m, r, status);
    if (s)
        s->count++;
    http_hist *h = hist_for(m, r);
    if (h) {
        size_t b = 0;
        while (b < NBOUNDS && seconds > http_bounds[b])
            b++;
        if (b < NBOUNDS)
            h->le[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&mu);
}

void metrics_token_refresh(const char *outcome)
{
    char key[OUTCOME_MAX];
    snprintf(key, sizeof key, "%s", outcome ? outcome : "unknown");
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < reg.noutcomes && strcmp(reg.refresh[i].outcome, key) != 0)
        i++;
    if (i == reg.noutcomes && i < MAX_OUTCOMES) {
        memcpy(reg.refresh[i].outcome, key, sizeof key);
        reg.refresh[i].count = 0;
        reg.noutcomes++;
    }
    if (i < reg.noutcomes)
        reg.refresh[i].count++;
    pthread_mutex_unlock(&mu);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    reg.start_ms = 0;
    reg.in_flight = 0;
    reg.nseries = reg.nhist = reg.noutcomes = 0;
    pthread_mutex_unlock(&mu);
}

/* ---- rendering ---- */

/* A label value with \ " and newline escaped, as the format requires. */
static kt_status put_label(buf *b, const char *v)
{
    kt_status st = KT_OK;
    for (const char *p = v ? v : ""; *p && st == KT_OK; p++) {
        if (*p == '\\')
            st = buf_puts(b, "\\\\");
        else if (*p == '"')
            st = buf_puts(b, "\\\"");
        else if (*p == '\n')
            st = buf_puts(b, "\\n");
        else
            st = buf_append(b, p, 1);
    }
    return st;
}

/* `name{k1="v1",k2="v2"} ` for up to two labels (k2 may be NULL). */
static kt_status put_sample_head(buf *b, const char *name, const char *k1, const char *v1,
                                 const char *k2, const char *v2)
{
    kt_status st = buf_puts(b, name);
    if (st == KT_OK && k1) {
        if ((st = buf_printf(b, "{%s=\"", k1)) == KT_OK && (st = put_label(b, v1)) == KT_OK)
            st = buf_puts(b, "\"");
        if (st == KT_OK && k2 && (st = buf_printf(b, ",%s=\"", k2)) == KT_OK &&
            (st = put_label(b, v2)) == KT_OK)
            st = buf_puts(b, "\"");
        if (st == KT_OK)
            st = buf_puts(b, "}");
    }
    return st == KT_OK ? buf_puts(b, " ") : st;
}

static kt_status put_family(buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample; type "gauge" or "counter". */
static kt_status put_single(buf *b, const char *name, const char *type, const char *help, double v)
{
    kt_status st = put_family(b, name, type, help);
    return st == KT_OK ? buf_printf(b, "%s %.17g\n", name, v) : st;
}

static kt_status put_gauge(buf *b, const char *name, const char *help, double v)
{
    return put_single(b, name, "gauge", help, v);
}

/* One histogram series: buckets (cumulative), +Inf, _sum, _count. The
 * buckets' labels are `lk="lv",le="..."`. */
static kt_status put_histogram(buf *b, const char *name, const char *lk1, const char *lv1,
                               const char *lk2, const char *lv2, const double *bounds,
                               const uint64_t *cumulative, size_t nb, uint64_t count, double sum)
{
    kt_status st = KT_OK;
    char bucket[128], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (size_t i = 0; i <= nb && st == KT_OK; i++) {
        if (i < nb)
            snprintf(le, sizeof le, "%g", bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        if ((st = buf_puts(b, bucket)) != KT_OK || (st = buf_puts(b, "{")) != KT_OK)
            break;
        if (lk1 && ((st = buf_printf(b, "%s=\"", lk1)) != KT_OK ||
                    (st = put_label(b, lv1)) != KT_OK || (st = buf_puts(b, "\",")) != KT_OK))
            break;
        if (lk2 && ((st = buf_printf(b, "%s=\"", lk2)) != KT_OK ||
                    (st = put_label(b, lv2)) != KT_OK || (st = buf_puts(b, "\",")) != KT_OK))
            break;
        st = buf_printf(b, "le=\"%s\"} %llu\n", le,
                        (unsigned long long)(i < nb ? cumulative[i] : count));
    }
    if (st == KT_OK) {
        char n2[128];
        snprintf(n2, sizeof n2, "%s_sum", name);
        if ((st = put_sample_head(b, n2, lk1, lv1, lk2, lv2)) == KT_OK &&
            (st = buf_printf(b, "%.17g\n", sum)) == KT_OK) {
            snprintf(n2, sizeof n2, "%s_count", name);
            if ((st = put_sample_head(b, n2, lk1, lv1, lk2, lv2)) == KT_OK)
                st = buf_printf(b, "%llu\n", (unsigned long long)count);
        }
    }
    return st;
}

/* The in-process families, from a copy taken under the lock. */
static kt_status render_local(buf *b, const registry *snap)
{
    kt_status st = KT_OK;
    if (snap->start_ms > 0 &&
        (st = put_gauge(b, "process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        (double)snap->start_ms / 1000.0)) != KT_OK)
        return st;
    if ((st = put_gauge(b, "keeptrack_http_requests_in_flight",
                        "HTTP requests received and not yet answered.",
                        (double)snap->in_flight)) != KT_OK)
        return st;
    if ((st = put_family(b, "keeptrack_http_requests_total", "counter",
                         "HTTP requests answered, by method, route pattern and status "
                         "(status 0: no response was sent).")) != KT_OK)
        return st;
    for (size_t i = 0; i < snap->nseries && st == KT_OK; i++) {
        const http_series *s = &snap->series[i];
        char status[16];
        snprintf(status, sizeof status, "%d", s->status);
        if ((st = buf_printf(b, "keeptrack_http_requests_total{method=\"%s\",route=\"", s->method)) ==
                KT_OK &&
            (st = put_label(b, s->route)) == KT_OK)
            st = buf_printf(b, "\",status=\"%s\"} %llu\n", status, (unsigned long long)s->count);
    }
    if (st != KT_OK ||
        (st = put_family(b, "keeptrack_http_request_duration_seconds", "histogram",
                         "Time from the request line to the end of the response, by method "
                         "and route pattern.")) != KT_OK)
        return st;
    for (size_t i = 0; i < snap->nhist && st == KT_OK; i++) {
        const http_hist *h = &snap->hist[i];
        uint64_t cum[NBOUNDS], run = 0;
        for (size_t k = 0; k < NBOUNDS; k++)
            cum[k] = run += h->le[k];
        st = put_histogram(b, "keeptrack_http_request_duration_seconds", "method", h->method,
                           "route", h->route, http_bounds, cum, NBOUNDS, h->count, h->sum);
    }
    if (st != KT_OK ||
        (st = put_family(b, "keeptrack_token_refreshes_total", "counter",
                         "Refresh-token grants for users, by outcome (ok, revoked).")) != KT_OK)
        return st;
    for (size_t i = 0; i < snap->noutcomes && st == KT_OK; i++)
        if ((st = put_sample_head(b, "keeptrack_token_refreshes_total", "outcome",
                                  snap->refresh[i].outcome, NULL, NULL)) == KT_OK)
            st = buf_printf(b, "%llu\n", (unsigned long long)snap->refresh[i].count);
    return st;
}

/* keeptrack_spotify_budget_waits_total, and keeptrack_spotify_requests_total
 * from the client's {"GET /me": {"200": n}}. */
static kt_status render_spotify(buf *b, spotify_client *sp)
{
    kt_status st = KT_OK;
    if (sp)
        st = put_single(b, "keeptrack_spotify_budget_waits_total", "counter",
                        "Times the Spotify request budget held a request back (the budget "
                        "bound; on PostgreSQL it is shared by every instance).",
                        (double)spotify_budget_waits(sp));
    if (st == KT_OK)
        st = put_family(b, "keeptrack_spotify_requests_total", "counter",
                        "Requests sent to Spotify (Web API and accounts service), by "
                        "endpoint template and status (\"failed\": no response).");
    json_t *stats = sp ? spotify_stats_json(sp) : NULL;
    const char *endpoint, *status;
    json_t *per, *n;
    if (st != KT_OK || stats == NULL) {
        json_decref(stats);
        return st;
    }
    json_object_foreach(stats, endpoint, per)
    {
        json_object_foreach(per, status, n)
        {
            if (st == KT_OK &&
                (st = put_sample_head(b, "keeptrack_spotify_requests_total", "endpoint", endpoint,
                                      "status", status)) == KT_OK)
                st = buf_printf(b, "%lld\n", (long long)json_integer_value(n));
        }
    }
    json_decref(stats);
    return st;
}

/* The families read from the database. A store failure leaves them out and
 * reports keeptrack_metrics_db_up 0 (the scrape itself still succeeds). */
static kt_status render_db(buf *b, kt_app *app)
{
    static const char *const state_names[STORE_JOB_N_STATES] = {
        [STORE_JOB_N_QUEUED] = STORE_JOB_QUEUED, [STORE_JOB_N_RUNNING] = STORE_JOB_RUNNING,
        [STORE_JOB_N_DEFERRED] = STORE_JOB_DEFERRED, [STORE_JOB_N_DONE] = STORE_JOB_DONE,
        [STORE_JOB_N_FAILED] = STORE_JOB_FAILED};
    double bounds[STORE_OPS_SYNC_NBUCKETS];
    store_ops_sync_hist hist[STORE_OPS_SYNC_MAX_STATUS];
    int64_t jobs[STORE_JOB_N_STATES];
    size_t nhist = 0;
    store *s = NULL;
    kt_err dberr = {0};
    int open = 0, idle = 0, max = 0, up;
    kt_status st;

    store_pool_stats(app->db, &open, &idle, &max);
    up = store_pool_get(app->db, &s, &dberr) == KT_OK &&
         store_job_counts(s, jobs, &dberr) == KT_OK &&
         store_ops_sync_durations(s, hist, &nhist, &dberr) == KT_OK;
    if (s)
        store_pool_put(app->db, s);
    if (!up)
        LOG_WARN("metrics_db_failed", "error=%s", dberr.msg);

    if ((st = put_gauge(b, "keeptrack_db_pool_connections_max",
                        "Database connections the pool may open.", max)) != KT_OK ||
        (st = put_gauge(b, "keeptrack_db_pool_connections_open",
                        "Database connections open (idle or in use), before this scrape took one.",
                        open)) != KT_OK ||
        (st = put_gauge(b, "keeptrack_db_pool_connections_in_use",
                        "Database connections handed out, before this scrape took one.",
                        open - idle)) != KT_OK ||
        (st = put_gauge(b, "keeptrack_metrics_db_up",
                        "1 when the database figures below could be read.", up)) != KT_OK)
        return st;
    if (!up)
        return KT_OK;

    if ((st = put_family(b, "keeptrack_jobs", "gauge",
                         "Jobs in the shared queue by state (deferred: waiting for a rate "
                         "limit or quota to pass). The same on every instance.")) != KT_OK)
        return st;
    for (size_t i = 0; i < STORE_JOB_N_STATES && st == KT_OK; i++)
        if ((st = put_sample_head(b, "keeptrack_jobs", "state", state_names[i], NULL, NULL)) ==
            KT_OK)
            st = buf_printf(b, "%lld\n", (long long)jobs[i]);
    if (st == KT_OK)
        st = put_gauge(b, "keeptrack_jobs_deferred",
                       "Jobs put aside until a rate limit or quota passes.",
                       (double)jobs[STORE_JOB_N_DEFERRED]);
    if (st != KT_OK ||
        (st = put_family(b, "keeptrack_sync_duration_seconds", "histogram",
                         "Durations of finished sync runs (all users, from sync_runs) by "
                         "status. The same on every instance.")) != KT_OK)
        return st;
    for (size_t i = 0; i < STORE_OPS_SYNC_NBUCKETS; i++)
        bounds[i] = (double)store_ops_sync_bucket_ms[i] / 1000.0;
    for (size_t i = 0; i < nhist && st == KT_OK; i++) {
        uint64_t cum[STORE_OPS_SYNC_NBUCKETS];
        for (size_t k = 0; k < STORE_OPS_SYNC_NBUCKETS; k++)
            cum[k] = hist[i].le[k] > 0 ? (uint64_t)hist[i].le[k] : 0;
        st = put_histogram(b, "keeptrack_sync_duration_seconds", "status", hist[i].status, NULL,
                           NULL, bounds, cum, STORE_OPS_SYNC_NBUCKETS,
                           hist[i].count > 0 ? (uint64_t)hist[i].count : 0,
                           (double)hist[i].sum_ms / 1000.0);
    }
    return st;
}

kt_status metrics_render(kt_app *app, buf *out, kt_err *err)
{
    registry *snap = malloc(sizeof *snap); /* ~200 KiB: not on a server thread's stack */
    kt_status st;
    if (snap == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory rendering metrics");
    pthread_mutex_lock(&mu);
    memcpy(snap, &reg, sizeof *snap);
    pthread_mutex_unlock(&mu);
    /* The scrape itself is in flight: it is counted, as every request is. */
    st = render_local(out, snap);
    free(snap);
    if (st == KT_OK)
        st = render_spotify(out, app ? app->spotify : NULL);
    if (st == KT_OK && app && app->db)
        st = render_db(out, app);
    if (st != KT_OK)
        return err_set(err, st, NULL, "the metrics do not fit in the answer");
    return KT_OK;
}

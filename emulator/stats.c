/* stats.c - request counters and the recent-request log (see stats.h). The
 * log is a ring buffer; per-endpoint counters live in a small array found by
 * an emmap (there are a few dozen endpoint templates). */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_STATUSES 16

typedef struct ep_count {
    const char *endpoint;
    long count;
    int statuses[MAX_STATUSES];
    long status_counts[MAX_STATUSES];
    int nstatuses;
} ep_count;

typedef struct req_log {
    double t_ms;
    char *path;                   /* owned */
    const char *method, *endpoint, *user, *grant_type;
    int status;
} req_log;

struct em_stats {
    pthread_mutex_t mu;
    long total;
    VEC(ep_count) eps;
    emmap ep_ix;
    req_log *log;                 /* ring of EM_STATS_LOG_MAX */
    size_t head, n;
};

em_stats *stats_new(void)
{
    em_stats *s = xcalloc(1, sizeof(*s));
    if (pthread_mutex_init(&s->mu, NULL) != 0) abort();
    return s;
}

static void clear(em_stats *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->log[(s->head + i) % EM_STATS_LOG_MAX].path);
    s->head = s->n = 0;
    s->eps.n = 0;
    s->total = 0;
    emmap_free(&s->ep_ix);
}

void stats_free(em_stats *s)
{
    if (!s) return;
    clear(s);
    free(s->log);
    free(s->eps.v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const char *method_name(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0) return known[i];
    return "OTHER";
}

void stats_record(em_stats *s, const char *method, const char *path_query, const char *endpoint,
                  int status, const char *user, const char *grant_type)
{
    char *path = xstrdup(path_query);
    pthread_mutex_lock(&s->mu);
    s->total++;
    uint32_t ix;
    if (!emmap_get(&s->ep_ix, endpoint, &ix)) {
        ep_count c;
        memset(&c, 0, sizeof(c));
        c.endpoint = endpoint;
        VEC_PUSH(&s->eps, c);
        ix = (uint32_t)s->eps.n - 1;
        emmap_put(&s->ep_ix, endpoint, ix);
    }
    ep_count *c = &s->eps.v[ix];
    c->count++;
    int k = 0;
    while (k < c->nstatuses && c->statuses[k] != status) k++;
    if (k == c->nstatuses && k < MAX_STATUSES) c->statuses[c->nstatuses++] = status;
    if (k < MAX_STATUSES) c->status_counts[k]++;
    if (!s->log) s->log = xcalloc(EM_STATS_LOG_MAX, sizeof(*s->log));
    req_log *e;
    if (s->n == EM_STATS_LOG_MAX) {
        e = &s->log[s->head];
        free(e->path);
        s->head = (s->head + 1) % EM_STATS_LOG_MAX;
    } else {
        e = &s->log[(s->head + s->n) % EM_STATS_LOG_MAX];
        s->n++;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Whole microseconds, so the "%.3f" text parses back to the same double
     * and ?since=<a logged t_ms> includes that request. */
    e->t_ms = (double)((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) / 1000.0;
    e->path = path;
    e->method = method_name(method);
    e->endpoint = endpoint;
    e->user = user;
    e->grant_type = grant_type;
    e->status = status;
    pthread_mutex_unlock(&s->mu);
}

void stats_dump(em_stats *s, jw *w, double since_ms)
{
    pthread_mutex_lock(&s->mu);
    jw_obj(w);
    jw_kint(w, "total", s->total);
    jw_key(w, "endpoints");
    jw_obj(w);
    for (size_t i = 0; i < s->eps.n; i++) {
        const ep_count *c = &s->eps.v[i];
        jw_key(w, c->endpoint);
        jw_obj(w);
        jw_kint(w, "count", c->count);
        jw_key(w, "statuses");
        jw_obj(w);
        for (int k = 0; k < c->nstatuses; k++) {
            char code[12];
            snprintf(code, sizeof(code), "%d", c->statuses[k]);
            jw_kint(w, code, c->status_counts[k]);
        }
        jw_obj_end(w);
        jw_obj_end(w);
    }
    jw_obj_end(w);
    jw_key(w, "requests");
    jw_arr(w);
    for (size_t i = 0; i < s->n; i++) {
        const req_log *e = &s->log[(s->head + i) % EM_STATS_LOG_MAX];
        if (since_ms >= 0 && e->t_ms < since_ms) continue;
        jw_obj(w);
        jw_key(w, "t_ms");
        jw_double(w, e->t_ms);
        jw_kstr(w, "method", e->method);
        jw_kstr(w, "path", e->path);
        jw_kstr(w, "endpoint", e->endpoint);
        jw_kint(w, "status", e->status);
        jw_kstr(w, "user", e->user);
        if (e->grant_type) jw_kstr(w, "grant_type", e->grant_type);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
    pthread_mutex_unlock(&s->mu);
}

void stats_reset(em_stats *s)
{
    pthread_mutex_lock(&s->mu);
    clear(s);
    pthread_mutex_unlock(&s->mu);
}

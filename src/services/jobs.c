/* jobs.c - the job kind registry, the worker pool and the enqueue/read calls
 * the edges use (see jobs.h for the contract and the outcome table).
 *
 * Threads of a pool:
 *  - N workers, each looping claim -> run -> record outcome; an idle worker
 *    waits on one process-wide condition variable with a timeout (poll_ms),
 *    so there is no busy loop, a local enqueue (jobs_kick) wakes it at once,
 *    and a job enqueued by another process is seen within poll_ms.
 *  - one heartbeat thread: every lease/4 it refreshes heartbeat_at of the
 *    jobs this pool runs and reclaims jobs of other (dead) workers whose
 *    heartbeat lapsed. A heartbeat that finds its job gone marks the run
 *    "lost" so the handler can stop early (jobs_ctx_stopping).
 *
 * A worker holds a database connection only for single statements, never
 * while a handler runs (handlers take their own, see app_priv.h).
 */
#include "services/jobs.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"

#define MAX_KINDS 32
#define MAX_WORKERS 64
#define PROGRESS_EVERY_MS 250
#define MIN_DEFER_MS 1000
#define WORKER_NAME_MAX 128

/* ---- registry ---- */

typedef struct job_kind {
    char name[STORE_JOB_KIND_MAX + 1];
    jobs_handler_fn fn;
    void *ud;
} job_kind;

struct jobs_registry {
    size_t n;
    job_kind kinds[MAX_KINDS];
    const char *names[MAX_KINDS]; /* kinds[i].name, for store_job_claim */
};

kt_status jobs_registry_new(jobs_registry **out, kt_err *err)
{
    jobs_registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    *out = reg;
    return KT_OK;
}

void jobs_registry_free(jobs_registry *reg)
{
    free(reg);
}

static const job_kind *find_kind(const jobs_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->kinds[i].name, name) == 0)
            return &reg->kinds[i];
    return NULL;
}

kt_status jobs_register(jobs_registry *reg, const char *kind, jobs_handler_fn fn, void *ud,
                        kt_err *err)
{
    if (kind == NULL || *kind == '\0' || strlen(kind) > STORE_JOB_KIND_MAX || fn == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_job_kind",
                       "a job kind needs a name of 1..%d characters and a handler",
                       STORE_JOB_KIND_MAX);
    if (find_kind(reg, kind))
        return err_set(err, KT_ERR_CONFLICT, "job_kind_exists", "job kind '%s' is registered twice",
                       kind);
    if (reg->n == MAX_KINDS)
        return err_set(err, KT_ERR_INVALID, "bad_job_kind", "more than %d job kinds", MAX_KINDS);
    job_kind *k = &reg->kinds[reg->n];
    snprintf(k->name, sizeof k->name, "%s", kind);
    k->fn = fn;
    k->ud = ud;
    reg->names[reg->n] = k->name;
    reg->n++;
    return KT_OK;
}

/* ---- wake-ups: one condition variable for the whole process ---- */

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t kick_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cv;
static uint64_t kick_gen; /* guarded by kick_mu; bumped by every kick */

static void kick_init(void)
{
    pthread_condattr_t attr;
    /* Timeouts on the monotonic clock: wall-clock jumps must not stall or
     * spin the workers. Failing that, the default clock still works. */
    if (pthread_condattr_init(&attr) == 0) {
        (void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (pthread_cond_init(&kick_cv, &attr) != 0)
            (void)pthread_cond_init(&kick_cv, NULL);
        pthread_condattr_destroy(&attr);
    } else {
        (void)pthread_cond_init(&kick_cv, NULL);
    }
}

void jobs_kick(void)
{
    pthread_once(&kick_once, kick_init);
    pthread_mutex_lock(&kick_mu);
    kick_gen++;
    pthread_cond_broadcast(&kick_cv);
    pthread_mutex_unlock(&kick_mu);
}

static uint64_t kick_generation(void)
{
    pthread_mutex_lock(&kick_mu);
    uint64_t g = kick_gen;
    pthread_mutex_unlock(&kick_mu);
    return g;
}

static struct timespec mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ---- pool ---- */

typedef struct worker {
    struct jobs_pool *pool;
    int index;
    pthread_t thread;
    int started;
    char name[WORKER_NAME_MAX];
    /* guarded by pool->mu: the run in progress (job_id 0 = idle) */
    int64_t job_id;
    uint64_t run_seq;
    int lost;
} worker;

struct jobs_pool {
    kt_app *app;
    const jobs_registry *reg;
    jobs_pool_config cfg;
    atomic_int stopping;
    pthread_mutex_t mu;
    worker *workers;
    pthread_t heartbeat;
    int heartbeat_started;
};

struct jobs_ctx {
    jobs_pool *pool;
    worker *w;
    const store_job *job;
    int64_t last_write_ms;
    int dirty; /* progress not yet written */
    int finished_in; /* jobs_ctx_finish_in marked the job done */
    int64_t done, total;
    char msg[STORE_JOB_TEXT_MAX + 1];
};

/* Waits until kicked (the generation moved past seen), stopping, or ms. */
static void pool_wait(jobs_pool *pool, uint64_t seen, int64_t ms)
{
    struct timespec until = mono_deadline(ms);
    pthread_mutex_lock(&kick_mu);
    while (!atomic_load(&pool->stopping) && kick_gen == seen) {
        if (pthread_cond_timedwait(&kick_cv, &kick_mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&kick_mu);
}

int64_t jobs_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int i = 0; i < attempts && d < max_ms; i++)
        d *= 2; /* stops doubling at the cap, so it never overflows */
    if (d > max_ms)
        d = max_ms;
    return d < base_ms ? base_ms : d;
}

void jobs_pool_config_from(const kt_config *cfg, jobs_pool_config *out)
{
    memset(out, 0, sizeof *out);
    out->workers = cfg->workers;
    out->poll_ms = cfg->job_poll_ms;
    out->lease_ms = (int64_t)cfg->job_lease_s * 1000;
    out->retry_base_ms = (int64_t)cfg->job_retry_base_s * 1000;
    out->retry_max_ms = 6 * 3600 * 1000LL;
    out->max_defer_ms = (int64_t)cfg->job_max_defer_s * 1000;
}

/* ---- the handler's view ---- */

int64_t jobs_ctx_id(const jobs_ctx *job)
{
    return job->job->id;
}

int64_t jobs_ctx_user(const jobs_ctx *job)
{
    return job->job->user_id;
}

const char *jobs_ctx_params(const jobs_ctx *job)
{
    return job->job->params ? job->job->params : "{}";
}

int jobs_ctx_attempts(const jobs_ctx *job)
{
    return job->job->attempts;
}

int jobs_ctx_stopping(const jobs_ctx *job)
{
    jobs_pool *pool = job->pool;
    if (atomic_load(&pool->stopping))
        return 1;
    pthread_mutex_lock(&pool->mu);
    int lost = job->w->lost;
    pthread_mutex_unlock(&pool->mu);
    return lost;
}

/* The latest progress of c, written on s. */
static kt_status progress_store(const jobs_ctx *c, store *s, int64_t now, kt_err *err)
{
    return store_job_progress(s, c->job->id, c->w->name, c->done, c->total,
                              c->msg[0] ? c->msg : NULL, now, err);
}

kt_status jobs_ctx_finish_in(jobs_ctx *job, store *s, kt_err *err)
{
    int64_t now = time_now_ms();
    kt_status st = job->dirty ? progress_store(job, s, now, err) : KT_OK;
    if (st == KT_OK)
        st = store_job_finish(s, job->job->id, job->w->name, 1, NULL, now, err);
    if (st == KT_OK) {
        job->dirty = 0;
        job->finished_in = 1;
    }
    return st;
}

kt_status jobs_release(jobs_ctx *job, kt_err *err)
{
    (void)job;
    return err_set(err, KT_ERR_CONFLICT, JOBS_CODE_RELEASED, "the job was given back unfinished");
}

static void mark_lost(jobs_pool *pool, worker *w, uint64_t seq)
{
    pthread_mutex_lock(&pool->mu);
    if (w->run_seq == seq && w->job_id != 0)
        w->lost = 1;
    pthread_mutex_unlock(&pool->mu);
}

/* Writes the latest progress. */
static void progress_write(jobs_ctx *c)
{
    kt_err err = {0};
    store *s = NULL;
    int64_t now = time_now_ms();
    kt_status st = app_db_get(c->pool->app, &s, &err);
    if (st == KT_OK)
        st = progress_store(c, s, now, &err);
    app_db_put(c->pool->app, s);
    c->last_write_ms = now;
    c->dirty = 0;
    if (st == KT_ERR_CONFLICT) {
        pthread_mutex_lock(&c->pool->mu);
        c->w->lost = 1;
        pthread_mutex_unlock(&c->pool->mu);
    }
    if (st != KT_OK)
        LOG_WARN("job_progress_failed", "id=%lld code=%s", (long long)c->job->id, err.code);
}

void jobs_ctx_progress(jobs_ctx *job, int64_t done, int64_t total, const char *msg)
{
    job->done = done;
    job->total = total;
    snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "");
    job->dirty = 1;
    /* Throttled: a sync reports per page; the table needs a few writes a
     * second at most. The final state is flushed when the handler returns. */
    if (time_now_ms() - job->last_write_ms >= PROGRESS_EVERY_MS)
        progress_write(job);
}

/* ---- running one job ---- */

static int no_retry(kt_status st)
{
    return st == KT_ERR_REAUTH || st == KT_ERR_INVALID || st == KT_ERR_FORBIDDEN ||
           st == KT_ERR_NOT_FOUND;
}

static const char *err_text(kt_status st, const kt_err *e)
{
    return e->msg[0] ? e->msg : err_status_name(st);
}

/* Writes what the handler's result means for the job (see jobs.h). */
static void record_outcome(jobs_pool *pool, worker *w, const store_job *job, kt_status st,
                           const kt_err *herr)
{
    kt_err err = {0};
    store *s = NULL;
    int64_t now = time_now_ms();
    const char *outcome = "done";
    kt_status wst = app_db_get(pool->app, &s, &err);
    if (wst != KT_OK)
        goto out;
    if (st == KT_OK) {
        wst = store_job_finish(s, job->id, w->name, 1, NULL, now, &err);
    } else if (st == KT_ERR_DEFERRED) {
        int64_t at = herr->retry_at_ms;
        if (at < now + MIN_DEFER_MS)
            at = now + MIN_DEFER_MS;
        if (at > now + pool->cfg.max_defer_ms)
            at = now + pool->cfg.max_defer_ms;
        outcome = "deferred";
        wst = store_job_defer(s, job->id, w->name, at, err_text(st, herr), now, &err);
    } else if (st == KT_ERR_CONFLICT && strcmp(herr->code, JOBS_CODE_RELEASED) == 0) {
        outcome = "released";
        wst = store_job_release(s, job->id, w->name, &err);
    } else if (no_retry(st)) {
        outcome = "failed";
        wst = store_job_finish(s, job->id, w->name, 0, err_text(st, herr), now, &err);
    } else {
        int failed = 0;
        int64_t at =
            now + jobs_backoff_ms(job->attempts, pool->cfg.retry_base_ms, pool->cfg.retry_max_ms);
        wst = store_job_retry(s, job->id, w->name, at, err_text(st, herr), now, &failed, &err);
        outcome = failed ? "failed" : "retry";
    }
out:
    app_db_put(pool->app, s);
    if (wst != KT_OK) {
        /* job_lost: another worker has it now; otherwise the database is
         * unwell and the job is reclaimed once its heartbeat lapses. */
        LOG_WARN("job_outcome_not_saved", "id=%lld kind=%s outcome=%s code=%s", (long long)job->id,
                 job->kind, outcome, err.code);
        return;
    }
    if (st == KT_OK)
        LOG_INFO("job_done", "id=%lld kind=%s user=%lld", (long long)job->id, job->kind,
                 (long long)job->user_id);
    else
        LOG_INFO("job_not_done", "id=%lld kind=%s user=%lld outcome=%s status=%s code=%s",
                 (long long)job->id, job->kind, (long long)job->user_id, outcome,
                 err_status_name(st), herr->code);
}

static void run_job(jobs_pool *pool, worker *w, const store_job *job)
{
    const job_kind *k = find_kind(pool->reg, job->kind);
    jobs_ctx ctx = {.pool = pool, .w = w, .job = job, .last_write_ms = time_now_ms()};
    kt_err herr = {0};
    kt_status st;

    pthread_mutex_lock(&pool->mu);
    w->job_id = job->id;
    w->run_seq++;
    w->lost = 0;
    pthread_mutex_unlock(&pool->mu);

    LOG_INFO("job_started", "id=%lld kind=%s user=%lld attempt=%d", (long long)job->id, job->kind,
             (long long)job->user_id, job->attempts + 1);
    if (k == NULL) /* claims are filtered by kind, so only a registry bug gets here */
        st = err_set(&herr, KT_ERR_INTERNAL, "unknown_job_kind", "no handler for job kind '%s'",
                     job->kind);
    else
        st = k->fn(pool->app, &ctx, k->ud, &herr);
    if (st != KT_OK && herr.status == KT_OK)
        herr.status = st; /* a handler that forgot to fill err */
    int finished = st == KT_OK && ctx.finished_in; /* committed by the handler */
    if (ctx.dirty && !finished)
        progress_write(&ctx);

    pthread_mutex_lock(&pool->mu);
    int lost = w->lost; /* a finished job is no longer ours: heartbeats see it gone */
    w->job_id = 0;
    pthread_mutex_unlock(&pool->mu);
    if (finished) {
        LOG_INFO("job_done", "id=%lld kind=%s user=%lld", (long long)job->id, job->kind,
                 (long long)job->user_id);
        return;
    }
    if (lost) {
        LOG_WARN("job_lost", "id=%lld kind=%s", (long long)job->id, job->kind);
        return;
    }
    record_outcome(pool, w, job, st, &herr);
}

static kt_status claim_one(jobs_pool *pool, worker *w, store_job *job, int *got, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(pool->app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_job_claim(s, w->name, pool->reg->names, pool->reg->n, time_now_ms(), job, got, err);
    app_db_put(pool->app, s);
    return st;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    jobs_pool *pool = w->pool;
    while (!atomic_load(&pool->stopping)) {
        store_job job = {0};
        int got = 0;
        kt_err err = {0};
        uint64_t gen = kick_generation();
        if (claim_one(pool, w, &job, &got, &err) != KT_OK) {
            LOG_WARN("job_claim_failed", "worker=%d code=%s", w->index, err.code);
            pool_wait(pool, gen, pool->cfg.poll_ms);
            continue;
        }
        if (!got) {
            pool_wait(pool, gen, pool->cfg.poll_ms);
            continue;
        }
        run_job(pool, w, &job);
        store_job_clear(&job);
    }
    return NULL;
}

/* ---- heartbeats and reclaiming ---- */

static void heartbeat_once(jobs_pool *pool)
{
    store *s = NULL;
    kt_err err = {0};
    int64_t n = 0;
    if (app_db_get(pool->app, &s, &err) != KT_OK) {
        LOG_WARN("job_heartbeat_failed", "code=%s", err.code);
        return;
    }
    for (int i = 0; i < pool->cfg.workers; i++) {
        worker *w = &pool->workers[i];
        pthread_mutex_lock(&pool->mu);
        int64_t id = w->job_id;
        uint64_t seq = w->run_seq;
        pthread_mutex_unlock(&pool->mu);
        if (id == 0)
            continue;
        kt_status st = store_job_heartbeat(s, id, w->name, time_now_ms(), &err);
        if (st == KT_ERR_CONFLICT)
            mark_lost(pool, w, seq); /* ignored when that run already ended */
        else if (st != KT_OK)
            LOG_WARN("job_heartbeat_failed", "id=%lld code=%s", (long long)id, err.code);
    }
    int64_t now = time_now_ms();
    if (store_job_reclaim(s, now - pool->cfg.lease_ms, now, &n, &err) != KT_OK)
        LOG_WARN("job_reclaim_failed", "code=%s", err.code);
    app_db_put(pool->app, s);
    if (n > 0) {
        LOG_WARN("jobs_reclaimed", "count=%lld", (long long)n);
        jobs_kick();
    }
}

static void *heartbeat_main(void *arg)
{
    jobs_pool *pool = arg;
    int64_t every = pool->cfg.lease_ms / 4 > 50 ? pool->cfg.lease_ms / 4 : 50;
    while (!atomic_load(&pool->stopping)) {
        /* Kicks wake this thread too; it just waits out the rest. */
        int64_t until = time_mono_ms() + every, left;
        while (!atomic_load(&pool->stopping) && (left = until - time_mono_ms()) > 0)
            pool_wait(pool, kick_generation(), left);
        if (!atomic_load(&pool->stopping))
            heartbeat_once(pool);
    }
    return NULL;
}

/* ---- start / stop ---- */

static kt_status check_config(const jobs_pool_config *c, const jobs_registry *reg, kt_err *err)
{
    if (c->workers < 1 || c->workers > MAX_WORKERS)
        return err_set(err, KT_ERR_INVALID, "bad_config", "workers must be 1..%d, got %d",
                       MAX_WORKERS, c->workers);
    if (c->poll_ms < 1 || c->lease_ms < 200 || c->retry_base_ms < 1 ||
        c->retry_max_ms < c->retry_base_ms || c->max_defer_ms < MIN_DEFER_MS)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "job pool timings out of range (poll, lease, retry, defer)");
    if (reg == NULL || reg->n == 0)
        return err_set(err, KT_ERR_INVALID, "bad_config", "no job kinds registered");
    return KT_OK;
}

/* "host/pid/w<i>/<random>": unique per worker and pool start, readable in
 * the table (which process runs what). */
static void worker_name(int index, const char *nonce, char out[WORKER_NAME_MAX])
{
    char host[64] = "host";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(out, WORKER_NAME_MAX, "%s/%ld/w%d/%s", host, (long)getpid(), index, nonce);
}

kt_status jobs_pool_start(kt_app *app, const jobs_registry *reg, const jobs_pool_config *cfg,
                          jobs_pool **out, kt_err *err)
{
    unsigned char raw[4];
    char nonce[9];
    kt_status st = check_config(cfg, reg, err);
    if (st != KT_OK)
        return st;
    jobs_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL || (pool->workers = calloc((size_t)cfg->workers, sizeof *pool->workers)) ==
                            NULL) {
        free(pool);
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    }
    pthread_once(&kick_once, kick_init);
    pool->app = app;
    pool->reg = reg;
    pool->cfg = *cfg;
    atomic_init(&pool->stopping, 0);
    pthread_mutex_init(&pool->mu, NULL);
    crypto_random_bytes(raw, sizeof raw);
    snprintf(nonce, sizeof nonce, "%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
    for (int i = 0; i < cfg->workers; i++) {
        worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i;
        worker_name(i, nonce, w->name);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            st = err_set(err, KT_ERR_INTERNAL, NULL, "could not start job worker %d", i);
            break;
        }
        w->started = 1;
    }
    if (st == KT_OK) {
        if (pthread_create(&pool->heartbeat, NULL, heartbeat_main, pool) != 0)
            st = err_set(err, KT_ERR_INTERNAL, NULL, "could not start the job heartbeat thread");
        else
            pool->heartbeat_started = 1;
    }
    if (st != KT_OK) {
        jobs_pool_stop(pool);
        return st;
    }
    LOG_INFO("job_pool_started", "workers=%d kinds=%zu poll_ms=%d", cfg->workers, reg->n,
             cfg->poll_ms);
    *out = pool;
    return KT_OK;
}

void jobs_pool_stop(jobs_pool *pool)
{
    if (pool == NULL)
        return;
    atomic_store(&pool->stopping, 1);
    jobs_kick(); /* wakes idle workers and the heartbeat thread */
    for (int i = 0; i < pool->cfg.workers; i++)
        if (pool->workers[i].started)
            pthread_join(pool->workers[i].thread, NULL);
    if (pool->heartbeat_started)
        pthread_join(pool->heartbeat, NULL);
    pthread_mutex_destroy(&pool->mu);
    free(pool->workers);
    free(pool);
}

/* ---- enqueue and read ---- */

kt_status jobs_enqueue(kt_app *app, const store_job_spec *spec, int64_t *id, int *created,
                       kt_err *err)
{
    store *s = NULL;
    int64_t jid = 0;
    int made = 0;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_job_enqueue(s, spec, time_now_ms(), &jid, &made, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    if (made)
        jobs_kick();
    *id = jid;
    if (created)
        *created = made;
    return KT_OK;
}

kt_status jobs_enqueue_sync(kt_app *app, int64_t user_id, const char *what_csv,
                            const char *dedupe_key, int64_t *id, int *created, kt_err *err)
{
    char lane[48];
    char *params = NULL;
    json_t *obj = NULL;
    kt_status st;
    if (user_id <= 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "a sync needs a user");
    obj = json_pack("{s:s}", "what", what_csv && *what_csv ? what_csv : "all");
    if (obj == NULL || (params = json_dumps(obj, JSON_COMPACT)) == NULL) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    snprintf(lane, sizeof lane, "sync:%lld", (long long)user_id);
    store_job_spec spec = {.kind = JOBS_KIND_SYNC,
                           .user_id = user_id,
                           .params = params,
                           .dedupe_key = dedupe_key,
                           .lane = lane};
    st = jobs_enqueue(app, &spec, id, created, err);
out:
    free(params);
    json_decref(obj);
    return st;
}

kt_status jobs_get(kt_app *app, int64_t user_id, int64_t id, store_job *out, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_job_get(s, id, user_id, out, err);
    app_db_put(app, s);
    return st;
}

kt_status jobs_list(kt_app *app, int64_t user_id, int limit, store_job **out, size_t *n,
                    kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_job_list(s, user_id, limit, out, n, err);
    app_db_put(app, s);
    return st;
}

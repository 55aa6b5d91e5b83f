/* scheduler.c - periodic work for every active user (see scheduler.h).
 *
 * The schedules are one table below; a tick walks users x schedules and
 * leaves deduplication to the jobs table (unique dedupe_key), which is what
 * makes several schedulers on one database safe without any coordination.
 */
#include "services/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "services/alerts.h"
#include "services/app_priv.h"
#include "services/jobs.h"
#include "services/releases.h"
#include "services/fromtops.h"
#include "services/stats.h"
#include "store/store_auth.h"
#include "store/store_jobs.h"

typedef struct schedule {
    const char *name; /* part of the dedupe key: never rename a shipped one */
    const char *what; /* sync_parse_what words */
    size_t every_off; /* offsetof(scheduler_config, <period>) */
} schedule;

static const schedule schedules[] = {
    {"library", "library", offsetof(scheduler_config, library_every_ms)},
    {"recent", "recent", offsetof(scheduler_config, recent_every_ms)},
    {"top", "top", offsetof(scheduler_config, top_every_ms)},
};

void scheduler_config_from(const kt_config *cfg, scheduler_config *out)
{
    memset(out, 0, sizeof *out);
    out->tick_ms = (int64_t)cfg->scheduler_tick_s * 1000;
    out->library_every_ms = (int64_t)cfg->sync_library_every_s * 1000;
    out->recent_every_ms = (int64_t)cfg->sync_recent_every_s * 1000;
    out->top_every_ms = (int64_t)cfg->sync_top_every_s * 1000;
    out->stats_every_ms = (int64_t)cfg->stats_every_s * 1000;
    out->backup_every_ms = (int64_t)cfg->backup_interval_hours * 3600 * 1000;
    out->releases_every_ms = (int64_t)cfg->releases_interval_hours * 3600 * 1000;
    out->job_retention_ms = 30LL * 24 * 3600 * 1000;
}

int64_t scheduler_period_start(int64_t now_ms, int64_t every_ms)
{
    int64_t r = now_ms % every_ms;
    return now_ms - (r < 0 ? r + every_ms : r);
}

/* Tracker points and the stats job, once per stats period per user: a
 * "trackers" job ("sched:tracker:u<user>:p<period start>") records the
 * day's counts (liked, playlists, followed, plays) and a "stats" job
 * fetches artist details and audio features (services/stats.h). */
static kt_status schedule_tracker_points(kt_app *app, const scheduler_config *cfg,
                                         int64_t user_id, int64_t now_ms, int *enqueued,
                                         kt_err *err)
{
    if (cfg->stats_every_ms <= 0)
        return KT_OK;
    return stats_schedule(app, user_id, scheduler_period_start(now_ms, cfg->stats_every_ms),
                          enqueued, err);
}

/* Enqueues this period's job of schedule `sc` for one user. */
static kt_status enqueue_due(kt_app *app, const schedule *sc, int64_t every_ms, int64_t user_id,
                             int64_t now_ms, int *enqueued, kt_err *err)
{
    char key[STORE_JOB_KEY_MAX + 1];
    int64_t id = 0;
    int created = 0;
    snprintf(key, sizeof key, "sched:%s:u%lld:p%lld", sc->name, (long long)user_id,
             (long long)scheduler_period_start(now_ms, every_ms));
    kt_status st = jobs_enqueue_sync(app, user_id, sc->what, key, &id, &created, err);
    if (st == KT_OK && created) {
        (*enqueued)++;
        LOG_INFO("job_scheduled", "id=%lld schedule=%s user=%lld", (long long)id, sc->name,
                 (long long)user_id);
    }
    return st;
}

/* Enqueues this period's database backup ("sched:backup:p<period start>";
 * the lane keeps a slow backup from being joined by the next one). */
static kt_status enqueue_backup(kt_app *app, int64_t every_ms, int64_t now_ms, int *enqueued,
                                kt_err *err)
{
    char key[STORE_JOB_KEY_MAX + 1];
    int64_t id = 0;
    int created = 0;
    snprintf(key, sizeof key, "sched:backup:p%lld",
             (long long)scheduler_period_start(now_ms, every_ms));
    store_job_spec spec = {.kind = JOBS_KIND_BACKUP, .dedupe_key = key, .lane = "backup"};
    kt_status st = jobs_enqueue(app, &spec, &id, &created, err);
    if (st == KT_OK && created) {
        (*enqueued)++;
        LOG_INFO("job_scheduled", "id=%lld schedule=backup", (long long)id);
    }
    return st;
}

static void purge_old_jobs(kt_app *app, const scheduler_config *cfg, int64_t now_ms)
{
    store *s = NULL;
    kt_err err = {0};
    int64_t n = 0;
    if (cfg->job_retention_ms <= 0)
        return;
    if (app_db_get(app, &s, &err) == KT_OK &&
        store_job_purge(s, now_ms - cfg->job_retention_ms, &n, &err) == KT_OK) {
        if (n > 0)
            LOG_INFO("jobs_purged", "count=%lld", (long long)n);
    } else {
        LOG_WARN("jobs_purge_failed", "code=%s", err.code);
    }
    app_db_put(app, s);
}

kt_status scheduler_tick(kt_app *app, const scheduler_config *cfg, int64_t now_ms,
                         int *enqueued, kt_err *err)
{
    store *s = NULL;
    store_user *users = NULL;
    size_t n = 0;
    int count = 0;
    kt_err rerr = {0};
    /* New releases are not per user: one job per period for everyone. */
    if (cfg->releases_every_ms > 0 &&
        releases_schedule(app, cfg->releases_every_ms, now_ms, &count, &rerr) != KT_OK)
        LOG_WARN("schedule_failed", "schedule=releases code=%s", rerr.code);
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_user_list(s, &users, &n, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    for (size_t u = 0; u < n; u++) {
        /* Alerts first: a user who must log in again is told so (alerts.h). */
        kt_err aerr = {0};
        if (alerts_check_user(app, users[u].id, now_ms, &aerr) != KT_OK)
            LOG_WARN("schedule_failed", "schedule=alerts user=%lld code=%s",
                     (long long)users[u].id, aerr.code);
        if (strcmp(users[u].status, STORE_USER_ACTIVE) != 0)
            continue; /* reauth_required, disconnected, disabled: nothing to sync with */
        for (size_t i = 0; i < sizeof schedules / sizeof schedules[0]; i++) {
            int64_t every = *(const int64_t *)((const char *)cfg + schedules[i].every_off);
            kt_err uerr = {0};
            if (every > 0 &&
                enqueue_due(app, &schedules[i], every, users[u].id, now_ms, &count, &uerr) != KT_OK)
                LOG_WARN("schedule_failed", "schedule=%s user=%lld code=%s", schedules[i].name,
                         (long long)users[u].id, uerr.code);
        }
        kt_err terr = {0};
        if (schedule_tracker_points(app, cfg, users[u].id, now_ms, &count, &terr) != KT_OK)
            LOG_WARN("schedule_failed", "schedule=tracker user=%lld code=%s",
                     (long long)users[u].id, terr.code);
    }
    store_user_list_free(users, n);
    /* Playlists from tops with a weekly or monthly refresh (fromtops.h). */
    kt_err ferr = {0};
    int64_t fromtops = 0;
    if (fromtops_enqueue_due(app, now_ms, &fromtops, &ferr) != KT_OK)
        LOG_WARN("schedule_failed", "schedule=fromtops code=%s", ferr.code);
    count += (int)fromtops;
    kt_err berr = {0};
    if (cfg->backup_every_ms > 0 &&
        enqueue_backup(app, cfg->backup_every_ms, now_ms, &count, &berr) != KT_OK)
        LOG_WARN("schedule_failed", "schedule=backup code=%s", berr.code);
    purge_old_jobs(app, cfg, now_ms);
    if (enqueued)
        *enqueued = count;
    return KT_OK;
}

/* ---- the thread ---- */

struct scheduler {
    kt_app *app;
    scheduler_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping; /* guarded by mu */
};

static void *scheduler_main(void *arg)
{
    scheduler *sch = arg;
    pthread_mutex_lock(&sch->mu);
    while (!sch->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(sch->cfg.tick_ms / 1000);
        until.tv_nsec += (long)(sch->cfg.tick_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!sch->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&sch->cv, &sch->mu, &until);
        if (sch->stopping)
            break;
        pthread_mutex_unlock(&sch->mu);
        kt_err err = {0};
        int n = 0;
        if (scheduler_tick(sch->app, &sch->cfg, time_now_ms(), &n, &err) != KT_OK)
            LOG_WARN("scheduler_tick_failed", "code=%s", err.code);
        else
            LOG_DEBUG("scheduler_tick", "enqueued=%d", n);
        pthread_mutex_lock(&sch->mu);
    }
    pthread_mutex_unlock(&sch->mu);
    return NULL;
}

kt_status scheduler_start(kt_app *app, const scheduler_config *cfg, scheduler **out,
                          kt_err *err)
{
    pthread_condattr_t attr;
    if (cfg->tick_ms < 10)
        return err_set(err, KT_ERR_INVALID, "bad_config", "scheduler tick must be >= 10 ms");
    scheduler *sch = calloc(1, sizeof *sch);
    if (sch == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    sch->app = app;
    sch->cfg = *cfg;
    pthread_mutex_init(&sch->mu, NULL);
    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&sch->cv, &attr) != 0) {
        pthread_mutex_destroy(&sch->mu);
        free(sch);
        return err_set(err, KT_ERR_INTERNAL, NULL, "could not set up the scheduler's timer");
    }
    pthread_condattr_destroy(&attr);
    if (pthread_create(&sch->thread, NULL, scheduler_main, sch) != 0) {
        pthread_cond_destroy(&sch->cv);
        pthread_mutex_destroy(&sch->mu);
        free(sch);
        return err_set(err, KT_ERR_INTERNAL, NULL, "could not start the scheduler thread");
    }
    LOG_INFO("scheduler_started", "tick_ms=%lld", (long long)cfg->tick_ms);
    *out = sch;
    return KT_OK;
}

void scheduler_stop(scheduler *sch)
{
    if (sch == NULL)
        return;
    pthread_mutex_lock(&sch->mu);
    sch->stopping = 1;
    pthread_cond_broadcast(&sch->cv);
    pthread_mutex_unlock(&sch->mu);
    pthread_join(sch->thread, NULL);
    pthread_cond_destroy(&sch->cv);
    pthread_mutex_destroy(&sch->mu);
    free(sch);
}

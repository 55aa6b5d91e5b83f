/* jobs_builtin.c - the job kinds keeptrack itself runs, and their handlers.
 *
 * Kept apart from jobs.c so the queue and the worker pool link without the
 * services these kinds call (tests register kinds of their own and do not
 * pull in the sync engine). Adding a kind (shuffle, backup, import...): a
 * handler here plus one line in jobs_register_builtin.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/timeutil.h"
#include "core/log.h"
#include "services/alerts.h"
#include "services/app_priv.h"
#include "services/backup.h"
#include "services/fromtops.h"
#include "services/jobs.h"
#include "services/releases.h"
#include "services/stats.h"
#include "services/restore.h"
#include "services/shuffle.h"
#include "services/sync.h"
#include "services/trending.h"

/* jobs_ctx_progress as a sync_progress_fn. */
static void sync_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    jobs_ctx_progress(ctx, done, total, msg);
}

static int sync_stopping(void *ctx)
{
    return jobs_ctx_stopping(ctx);
}

/* The run's "done" and the job's commit together (sync_commit_fn). */
static kt_status sync_commit(void *ctx, store *s, kt_err *err)
{
    return jobs_ctx_finish_in(ctx, s, err);
}

/* Job kind "sync": params {"what":"liked,playlists"} (sync_parse_what). A
 * run stopped by shutdown (or a lost lease) gives the job back: the
 * collections it finished stay committed, the next run re-checks them
 * incrementally. */
static kt_status run_sync(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    const char *params = jobs_ctx_params(job);
    json_t *obj = NULL;
    unsigned what = 0;
    (void)ud;
    kt_status st = json_parse_bounded(params, strlen(params), 4, &obj, err);
    if (st != KT_OK) {
        err_prefix(err, "sync job %lld params", (long long)jobs_ctx_id(job));
        return KT_ERR_INVALID;
    }
    st = sync_parse_what(json_str(obj, "what"), &what, err);
    json_decref(obj);
    if (st != KT_OK)
        return st;
    if (jobs_ctx_user(job) <= 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "sync job %lld has no user",
                       (long long)jobs_ctx_id(job));
    int64_t started = time_now_ms();
    st = sync_run(app, jobs_ctx_user(job), what, sync_progress, sync_stopping, sync_commit, job,
                  err);
    /* Whatever the outcome (a sync commits collection by collection): the
     * versions it recorded may have lost tracks, a refresh may have been
     * refused. An alert that cannot be raised never fails the sync. */
    kt_err aerr = {0};
    if (alerts_after_sync(app, jobs_ctx_user(job), started, time_now_ms(), &aerr) != KT_OK)
        LOG_WARN("alert_check_failed", "check=sync user=%lld code=%s",
                 (long long)jobs_ctx_user(job), aerr.code);
    if (st == KT_ERR_CONFLICT && strcmp(err->code, SYNC_CODE_STOPPED) == 0)
        return jobs_release(job, err);
    return st;
}

/* Job kind "backup": backup_run on a pooled connection. A failed off-site
 * copy fails the run (KT_ERR_UPSTREAM), so the queue records the error and
 * retries with backoff; a retry makes a fresh snapshot and copies that one
 * (the earlier local backup stays until retention drops it). A missing
 * pg_dump or rclone (KT_ERR_NOT_FOUND) or a bad setting fails at once. */
static kt_status run_backup(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    store *s = NULL;
    backup_result res = {.path = ""};
    (void)ud;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    jobs_ctx_progress(job, 0, 1, "backing up the database");
    st = backup_run(app->cfg, s, time_now_ms(), &res, err);
    app_db_put(app, s);
    kt_err aerr = {0};
    if (alerts_after_backup(app, st, err, time_now_ms(), &aerr) != KT_OK)
        LOG_WARN("alert_check_failed", "check=backup code=%s", aerr.code);
    if (st == KT_OK)
        jobs_ctx_progress(job, 1, 1,
                          res.offsite ? "backup made and copied off-site" : "backup made");
    return st;
}

static int releases_stopping(void *ctx)
{
    return jobs_ctx_stopping(ctx);
}

/* Job kind "releases": the new-releases refresh (no params). A run cut
 * short by shutdown gives the job back; a deferral keeps the artists
 * already checked, so the resumed job goes on where it stopped. */
static kt_status run_releases(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    releases_hooks hooks = {.ctx = job, .progress = sync_progress, .stopping = releases_stopping};
    int stopped = 0;
    (void)ud;
    kt_status st = releases_run(app, time_now_ms(), &hooks, NULL, &stopped, err);
    if (st == KT_OK && stopped)
        return jobs_release(job, err);
    return st;
}

/* The job's params object, or KT_ERR_INVALID (never retried). */
static kt_status job_params(jobs_ctx *job, json_t **out, kt_err *err)
{
    const char *params = jobs_ctx_params(job);
    if (jobs_ctx_user(job) <= 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "job %lld has no user",
                       (long long)jobs_ctx_id(job));
    if (json_parse_bounded(params, strlen(params), 4, out, err) != KT_OK) {
        err_prefix(err, "job %lld params", (long long)jobs_ctx_id(job));
        return KT_ERR_INVALID;
    }
    return KT_OK;
}

/* The outcome of a shuffle or share, as the job's last message. */
static void shuffle_done_message(jobs_ctx *job, const shuffle_result *res)
{
    char msg[200];
    snprintf(msg, sizeof msg, "done: playlist %s, %lld tracks%s, %lld local files not added",
             res->playlist_id, (long long)res->tracks, res->replaced ? " (replaced)" : "",
             (long long)res->local_skipped);
    jobs_ctx_progress(job, res->tracks + 1, res->tracks + 1, msg);
}

/* Job kind "shuffle": params {"source","mode","name"?,"new"?} (shuffle.h). */
static kt_status run_shuffle(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    json_t *obj = NULL;
    shuffle_options opt = {0};
    shuffle_result res;
    (void)ud;
    kt_status st = job_params(job, &obj, err);
    if (st != KT_OK)
        return st;
    opt.source = json_str(obj, "source");
    opt.name = json_str(obj, "name");
    opt.force_new = json_bool(obj, "new", 0);
    if ((st = shuffle_parse_mode(json_str(obj, "mode"), &opt.mode, err)) == KT_OK &&
        (st = shuffle_run(app, jobs_ctx_user(job), &opt, sync_progress, job, &res, err)) == KT_OK)
        shuffle_done_message(job, &res);
    json_decref(obj);
    return st;
}

/* Job kind "share": params {"name"?,"public"?}: Liked Songs as a playlist. */
static kt_status run_share(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    json_t *obj = NULL;
    shuffle_result res;
    (void)ud;
    kt_status st = job_params(job, &obj, err);
    if (st != KT_OK)
        return st;
    st = shuffle_share_liked(app, jobs_ctx_user(job), json_str(obj, "name"),
                             json_bool(obj, "public", 0), sync_progress, job, &res, err);
    if (st == KT_OK)
        shuffle_done_message(job, &res);
    json_decref(obj);
    return st;
}

/* Job kind "trending_playlist": params {"name"?}: the trending list as a
 * playlist, the same one replaced on later runs (trending.h). */
static kt_status run_trending_playlist(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    json_t *obj = NULL;
    shuffle_result res;
    (void)ud;
    kt_status st = job_params(job, &obj, err);
    if (st != KT_OK)
        return st;
    st = trending_playlist(app, jobs_ctx_user(job), json_str(obj, "name"), sync_progress, job,
                           &res, err);
    if (st == KT_OK)
        shuffle_done_message(job, &res);
    json_decref(obj);
    return st;
}

/* Job kind "fromtops": params {"def": id}: a saved playlist from top
 * tracks written again, the same playlist replaced (fromtops.h). */
static kt_status run_fromtops(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    json_t *obj = NULL;
    shuffle_result res;
    (void)ud;
    kt_status st = job_params(job, &obj, err);
    if (st != KT_OK)
        return st;
    st = fromtops_run(app, jobs_ctx_user(job), json_int(obj, "def", 0), sync_progress, job, &res,
                      err);
    if (st == KT_OK)
        shuffle_done_message(job, &res);
    json_decref(obj);
    return st;
}

/* Job kind "restore": params {"restore_id":N}; the request row holds the
 * input and options and receives the report (restore.h). */
static kt_status run_restore(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    json_t *obj = NULL;
    (void)ud;
    kt_status st = job_params(job, &obj, err);
    if (st != KT_OK)
        return st;
    int64_t id = json_int(obj, "restore_id", 0);
    json_decref(obj);
    return restore_job(app, jobs_ctx_user(job), id, sync_progress, job, err);
}

/* Job kind "trackers": today's tracker point of the job's user. */
static kt_status run_trackers(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)ud;
    if (jobs_ctx_user(job) <= 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "trackers job %lld has no user",
                       (long long)jobs_ctx_id(job));
    return stats_trackers_update(app, jobs_ctx_user(job), time_now_ms(), NULL, err);
}

static int stats_stopping(void *ctx)
{
    return jobs_ctx_stopping(ctx);
}

/* Job kind "stats": artist details and audio features for the job's user
 * (stats_refresh). Cut short by shutdown: the job is given back; what was
 * fetched is stored, so the next run goes on from there. */
static kt_status run_stats(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    stats_hooks hooks = {.ctx = job, .progress = sync_progress, .stopping = stats_stopping};
    stats_refresh_result res = {0};
    char msg[120];
    (void)ud;
    if (jobs_ctx_user(job) <= 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "stats job %lld has no user",
                       (long long)jobs_ctx_id(job));
    kt_status st = stats_refresh(app, jobs_ctx_user(job), time_now_ms(), &hooks, &res, err);
    if (st == KT_OK && res.stopped)
        return jobs_release(job, err);
    if (st == KT_OK) {
        snprintf(msg, sizeof msg, "done: %lld artists, %lld tracks' audio features%s",
                 (long long)res.artists_fetched, (long long)res.features_fetched,
                 res.features_available ? "" : " (not available to this app)");
        jobs_ctx_progress(job, 1, 1, msg);
    }
    return st;
}

/* Job kind "alert_delivery": params {"alert": id, "channel": "webhook" |
 * "email"}: one attempt to send a new alert (alerts.h); a failed attempt
 * is retried by the queue with its backoff, up to the job's max_attempts
 * (KEEPTRACK_ALERT_DELIVERY_ATTEMPTS). Instance alerts have no user. */
static kt_status run_alert_delivery(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    const char *params = jobs_ctx_params(job);
    json_t *obj = NULL;
    (void)ud;
    if (json_parse_bounded(params, strlen(params), 4, &obj, err) != KT_OK) {
        err_prefix(err, "job %lld params", (long long)jobs_ctx_id(job));
        return KT_ERR_INVALID;
    }
    kt_status st = alerts_deliver(app, json_int(obj, "alert", 0), json_str(obj, "channel"),
                                  jobs_ctx_attempts(job) + 1, err);
    json_decref(obj);
    return st;
}

kt_status jobs_register_builtin(jobs_registry *reg, kt_err *err)
{
    kt_status st = jobs_register(reg, JOBS_KIND_SYNC, run_sync, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, JOBS_KIND_BACKUP, run_backup, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, RELEASES_JOB_KIND, run_releases, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, SHUFFLE_JOB_KIND, run_shuffle, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, SHUFFLE_SHARE_JOB_KIND, run_share, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, RESTORE_JOB_KIND, run_restore, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, TRENDING_JOB_PLAYLIST, run_trending_playlist, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, FROMTOPS_JOB_KIND, run_fromtops, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, STATS_JOB_TRACKERS, run_trackers, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, STATS_JOB_REFRESH, run_stats, NULL, err);
    if (st == KT_OK)
        st = jobs_register(reg, ALERTS_JOB_KIND, run_alert_delivery, NULL, err);
    return st;
}

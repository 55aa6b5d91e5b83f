/* jobs.h - long work as jobs: a registry of job kinds, a worker pool that
 * runs them, and the calls the edges use to enqueue and read them.
 *
 * A job is a row of the `jobs` table (store_jobs.h). Any keeptrack process
 * on the same database may run it: workers claim due jobs atomically, send
 * heartbeats while they run, write progress, and map the handler's result:
 *
 *   KT_OK                                     -> done
 *   KT_ERR_DEFERRED (err.retry_at_ms)         -> deferred until then (capped
 *                                                by max_defer_ms); the worker
 *                                                moves on, nothing sleeps
 *   KT_ERR_REAUTH, KT_ERR_INVALID,
 *   KT_ERR_FORBIDDEN, KT_ERR_NOT_FOUND        -> failed, never retried
 *   jobs_release()'s status                   -> back to queued, untouched
 *   anything else                             -> retried after an exponential
 *                                                backoff, failed at max_attempts
 *
 * Idle workers wait on a condition variable with a timeout (poll_ms), so a
 * job enqueued by another process is seen within poll_ms and one enqueued
 * by this process (jobs_enqueue) at once. A job whose worker stops sending
 * heartbeats for lease_ms (a killed process) is reclaimed by any pool.
 *
 * Thread use: the registry is filled before jobs_pool_start and read-only
 * afterwards. Everything else here is thread-safe.
 */
#ifndef KT_SERVICES_JOBS_H
#define KT_SERVICES_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "services/app.h"
#include "store/store_jobs.h"

/* The job kind of library syncs; params {"what":"<sync_parse_what csv>"}. */
#define JOBS_KIND_SYNC "sync"
/* The job kind of database backups (services/backup.h, backup_run); no
 * user, no params; enqueued by the scheduler every
 * KEEPTRACK_BACKUP_INTERVAL_HOURS. */
#define JOBS_KIND_BACKUP "backup"
/* err.code of the status jobs_release returns. */
#define JOBS_CODE_RELEASED "job_released"

/* A running job as its handler sees it. Valid during the handler call. */
typedef struct jobs_ctx jobs_ctx;

int64_t jobs_ctx_id(const jobs_ctx *job);
/* The job's user, 0 for jobs without one. */
int64_t jobs_ctx_user(const jobs_ctx *job);
/* The job's params (JSON object text, never NULL). */
const char *jobs_ctx_params(const jobs_ctx *job);
/* Failed runs before this one. */
int jobs_ctx_attempts(const jobs_ctx *job);

/* Records progress (done of total units, total 0 = unknown; msg may be NULL)
 * for GET /api/jobs/{id}. Writes at most a few times a second (the last
 * call before the job ends is always written); also a heartbeat. Failures
 * are logged, not returned: progress is informative. Call from the
 * handler's thread, or from a thread the handler waits on meanwhile (a
 * Spotify call's parsing thread, see spotify.h): never two at once. */
void jobs_ctx_progress(jobs_ctx *job, int64_t done, int64_t total, const char *msg);

/* True when the handler should stop early: the process is shutting down, or
 * the job was reclaimed by another worker (heartbeat lost). A handler that
 * stops early returns jobs_release(job, err) to give the job back. */
int jobs_ctx_stopping(const jobs_ctx *job);

/* Marks the job done on `s`, inside the caller's open transaction (its last
 * progress written first), so that the handler's record of its result and
 * the job's outcome commit together: a process killed before that commit
 * reruns the job, one killed after it does not, and the job is never done
 * twice. A handler that called it and then returns KT_OK promises that the
 * transaction committed; any other return says it rolled back, and the
 * outcome is recorded as usual. KT_ERR_CONFLICT (code job_lost) when the
 * job is no longer this worker's (reclaimed after a lapsed heartbeat). */
kt_status jobs_ctx_finish_in(jobs_ctx *job, store *s, kt_err *err);

/* Sets err to the "release this job" outcome and returns its status. */
kt_status jobs_release(jobs_ctx *job, kt_err *err);

/* A job kind's handler. `ud` is the pointer given to jobs_register. The
 * handler must not sleep for long (return KT_ERR_DEFERRED instead). */
typedef kt_status (*jobs_handler_fn)(kt_app *app, jobs_ctx *job, void *ud, kt_err *err);

typedef struct jobs_registry jobs_registry;

/* An empty registry; *out owned by the caller (jobs_registry_free). */
kt_status jobs_registry_new(jobs_registry **out, kt_err *err);
/* NULL is a no-op. Free only after the pools using it stopped. */
void jobs_registry_free(jobs_registry *reg);
/* Adds kind -> fn (kind: 1..STORE_JOB_KIND_MAX chars, copied). Tests
 * register kinds of their own. KT_ERR_CONFLICT when the kind exists;
 * KT_ERR_INVALID for a bad kind or more than 32 kinds. */
kt_status jobs_register(jobs_registry *reg, const char *kind, jobs_handler_fn fn, void *ud,
                        kt_err *err);
/* Registers the kinds the product runs ("sync"; later shuffle, backup...).
 * Defined in jobs_builtin.c, which links the services those kinds call. */
kt_status jobs_register_builtin(jobs_registry *reg, kt_err *err);

typedef struct jobs_pool_config {
    int workers;          /* threads (1..64) */
    int poll_ms;          /* idle wait between looks at the table */
    int64_t lease_ms;     /* heartbeat every lease/4; reclaim after lease */
    int64_t retry_base_ms;/* first retry delay */
    int64_t retry_max_ms; /* cap on the retry delay */
    int64_t max_defer_ms; /* cap on how far a deferral pushes run_after */
} jobs_pool_config;

/* The pool settings from the configuration (KEEPTRACK_WORKERS, ...). */
void jobs_pool_config_from(const kt_config *cfg, jobs_pool_config *out);

/* Retry delay after `attempts` failed runs: base * 2^attempts, capped at
 * max (and at least base). Pure. */
int64_t jobs_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms);

typedef struct jobs_pool jobs_pool;

/* Starts the workers and the heartbeat thread. app and reg are borrowed and
 * must outlive the pool. KT_ERR_INVALID for a bad config; KT_ERR_INTERNAL
 * when a thread cannot start. *out owned by the caller (jobs_pool_stop). */
kt_status jobs_pool_start(kt_app *app, const jobs_registry *reg, const jobs_pool_config *cfg,
                          jobs_pool **out, kt_err *err);

/* Graceful stop: no new claims, running handlers see jobs_ctx_stopping and
 * either finish or release their job, then the threads are joined and the
 * pool freed. NULL is a no-op. */
void jobs_pool_stop(jobs_pool *pool);

/* Wakes the idle workers of every pool in this process (a job was just
 * enqueued). Cheap; called by jobs_enqueue. */
void jobs_kick(void);

/* ---- for the edges (routes, CLI, scheduler) ---- */

/* Enqueues a job (store_job_enqueue) and wakes the local workers. *id is
 * the new job, or the existing one a dedupe key or lane pointed at
 * (*created, may be NULL, tells which). */
kt_status jobs_enqueue(kt_app *app, const store_job_spec *spec, int64_t *id, int *created,
                       kt_err *err);

/* Enqueues a sync of `what_csv` (as sync_parse_what takes it; the caller
 * has validated it) for user_id in the user's sync lane, so a user never
 * has two syncs queued or running: when one is, that job is returned
 * (*created 0). dedupe_key may be NULL (a manual sync). */
kt_status jobs_enqueue_sync(kt_app *app, int64_t user_id, const char *what_csv,
                            const char *dedupe_key, int64_t *id, int *created, kt_err *err);

/* Reads job `id` as user_id sees it (0 = admin: any job); another user's
 * job is KT_ERR_NOT_FOUND. *out owned by the caller (store_job_clear). */
kt_status jobs_get(kt_app *app, int64_t user_id, int64_t id, store_job *out, kt_err *err);

/* The newest `limit` jobs of user_id (0 = everyone's), newest first; see
 * store_job_list. */
kt_status jobs_list(kt_app *app, int64_t user_id, int limit, store_job **out, size_t *n,
                    kt_err *err);

#endif

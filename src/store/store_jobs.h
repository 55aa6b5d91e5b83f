/* store_jobs.h - the domain SQL of the job queue (table `jobs`, migration 2).
 *
 * Long work (sync, shuffle, import, backup) is a row in `jobs`; worker
 * threads of any keeptrack process sharing the database claim rows, run
 * them, and write their progress and outcome here. The services layer
 * (src/services/jobs.c) decides policy (backoff, which errors retry); this
 * file makes each state change one atomic statement:
 *
 *   enqueue ──> queued ──claim──> running ──finish──> done | failed
 *                 ^  ^              │  │ ──defer──> deferred ──claim──> running
 *                 │  └──retry───────┘  │   (attempts unchanged; run_after later)
 *                 └──release/reclaim───┘   (retry: attempts+1, failed at max)
 *
 * Claiming is exclusive across threads and processes: PostgreSQL picks the
 * row with SELECT ... FOR UPDATE SKIP LOCKED, SQLite under BEGIN IMMEDIATE,
 * and both then flip it with an UPDATE conditioned on its state. Every
 * change a worker makes to a running job is conditioned on
 * (state = 'running', claimed_by = the worker), so a worker whose job was
 * reclaimed meanwhile gets KT_ERR_CONFLICT (code "job_lost") instead of
 * overwriting another worker's run.
 *
 * Times are unix milliseconds passed in by the caller (`now`), so tests
 * drive the clock. Threads: like all store functions, one `store *` per
 * thread at a time (see store.h). Functions that open their own
 * transaction (enqueue, claim) must not be called inside one.
 */
#ifndef KT_STORE_STORE_JOBS_H
#define KT_STORE_STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* State values as stored. */
#define STORE_JOB_QUEUED "queued"
#define STORE_JOB_RUNNING "running"
#define STORE_JOB_DEFERRED "deferred"
#define STORE_JOB_DONE "done"
#define STORE_JOB_FAILED "failed"

/* Bounds on what callers may store (longer text is refused, not cut). */
#define STORE_JOB_KIND_MAX 32
#define STORE_JOB_PARAMS_MAX 4096
#define STORE_JOB_KEY_MAX 200
#define STORE_JOB_TEXT_MAX 1000 /* message, error; longer ones are truncated */

/* Index of each state in store_job_counts' array. */
enum { STORE_JOB_N_QUEUED, STORE_JOB_N_RUNNING, STORE_JOB_N_DEFERRED, STORE_JOB_N_DONE,
       STORE_JOB_N_FAILED, STORE_JOB_N_STATES };

/* One row of `jobs`. Strings are owned (store_job_clear); dedupe_key, lane,
 * message, error and claimed_by may be NULL. user_id is 0 for jobs that
 * belong to no user; times are 0 when unset. */
typedef struct store_job {
    int64_t id;
    char kind[STORE_JOB_KIND_MAX + 1];
    int64_t user_id;
    char *params;
    char state[16];
    char *dedupe_key;
    char *lane;
    int64_t run_after;
    int attempts, max_attempts;
    int64_t progress_done, progress_total;
    char *message;
    char *error;
    char *claimed_by;
    int64_t heartbeat_at, created_at, started_at, finished_at;
} store_job;

/* Frees the strings of *j and zeroes it. NULL is a no-op. */
void store_job_clear(store_job *j);
/* Clears and frees an array from store_job_list. NULL is a no-op. */
void store_job_list_free(store_job *jobs, size_t n);

/* What to enqueue. kind is required (1..STORE_JOB_KIND_MAX chars); params
 * NULL means "{}"; user_id 0 = no user; dedupe_key / lane NULL = none;
 * run_after 0 = now; max_attempts 0 = 5 (bounded to 1..100). */
typedef struct store_job_spec {
    const char *kind;
    int64_t user_id;
    const char *params;
    const char *dedupe_key;
    const char *lane;
    int64_t run_after;
    int max_attempts;
} store_job_spec;

/* Inserts a queued job, unless one with the same dedupe_key exists (at any
 * state), or one in the same lane is queued, running or deferred: then
 * nothing is inserted and *id is that job. *created (may be NULL) says
 * which happened. KT_ERR_INVALID for a bad spec; store errors as store.h. */
kt_status store_job_enqueue(store *s, const store_job_spec *spec, int64_t now, int64_t *id,
                            int *created, kt_err *err);

/* Claims the runnable job (queued or deferred, run_after <= now) that is
 * due first (oldest run_after, then lowest id) for `worker` (a name unique
 * to the claiming thread, at most STORE_JOB_KEY_MAX chars): state running,
 * claimed_by = worker, heartbeat_at = now, started_at set on the first
 * claim. Only kinds in `kinds` (an array of n names; n 0 = any kind) are
 * taken. On success *out (owned, store_job_clear) holds the claimed row and
 * *got is 1; *got is 0 when nothing is runnable. Two claimers never get the
 * same job. */
kt_status store_job_claim(store *s, const char *worker, const char *const *kinds, size_t n,
                          int64_t now, store_job *out, int *got, kt_err *err);

/* The running job's worker is alive: heartbeat_at = now. KT_ERR_CONFLICT
 * (code job_lost) when the job is no longer running for `worker`. */
kt_status store_job_heartbeat(store *s, int64_t id, const char *worker, int64_t now,
                              kt_err *err);

/* Progress of a running job (also a heartbeat). total 0 = unknown; msg may
 * be NULL. KT_ERR_CONFLICT (job_lost) as store_job_heartbeat. */
kt_status store_job_progress(store *s, int64_t id, const char *worker, int64_t done,
                             int64_t total, const char *msg, int64_t now, kt_err *err);

/* Ends a running job: done (error NULL) or failed without retry (error
 * says why). claimed_by is cleared, finished_at = now. KT_ERR_CONFLICT
 * (job_lost) when the job is no longer running for `worker`. */
kt_status store_job_finish(store *s, int64_t id, const char *worker, int ok, const char *error,
                           int64_t now, kt_err *err);

/* Puts a running job aside until run_after (state deferred, attempts
 * unchanged, claimed_by cleared); msg (may be NULL) says why. */
kt_status store_job_defer(store *s, int64_t id, const char *worker, int64_t run_after,
                          const char *msg, int64_t now, kt_err *err);

/* A failed run: attempts + 1; when that reaches max_attempts the job is
 * failed (finished_at = now), else queued again at run_after. error says
 * why. *failed (may be NULL) is 1 when the job is now failed for good. */
kt_status store_job_retry(store *s, int64_t id, const char *worker, int64_t run_after,
                          const char *error, int64_t now, int *failed, kt_err *err);

/* Gives a running job back untouched (graceful stop): queued, runnable at
 * once, attempts unchanged, claimed_by cleared. */
kt_status store_job_release(store *s, int64_t id, const char *worker, kt_err *err);

/* Jobs whose worker stopped heart-beating before `lapsed_before` go back to
 * queued (claimed_by cleared, error noting the lost worker) with attempts +
 * 1, or to failed when that reaches max_attempts (a job that keeps killing
 * its worker must not loop forever). *n (may be NULL) = jobs reclaimed. */
kt_status store_job_reclaim(store *s, int64_t lapsed_before, int64_t now, int64_t *n,
                            kt_err *err);

/* Reads job `id`. user_id > 0 scopes the read to that user's jobs (another
 * user's job is KT_ERR_NOT_FOUND, as a missing one); user_id 0 reads any
 * (admin). *out is owned by the caller (store_job_clear). */
kt_status store_job_get(store *s, int64_t id, int64_t user_id, store_job *out, kt_err *err);

/* The newest `limit` (1..1000) jobs, newest first: the user's when
 * user_id > 0, everyone's when 0 (admin). *out is owned by the caller
 * (store_job_list_free); *n may be 0 (then *out is NULL). */
kt_status store_job_list(store *s, int64_t user_id, int limit, store_job **out, size_t *n,
                         kt_err *err);

/* Number of jobs in each state, indexed by STORE_JOB_N_* (for /metrics). */
kt_status store_job_counts(store *s, int64_t counts[STORE_JOB_N_STATES], kt_err *err);

/* Deletes done and failed jobs that finished before `before` (retention).
 * *n (may be NULL) = rows deleted. Their dedupe keys go with them, so only
 * purge well after the periods those keys name. */
kt_status store_job_purge(store *s, int64_t before, int64_t *n, kt_err *err);

#endif

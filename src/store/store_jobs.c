/* store_jobs.c - domain SQL of the job queue (see store_jobs.h for the
 * contract and the state diagram).
 *
 * Portable SQL only (store.h's rules). The one back-end difference is the
 * claim: PostgreSQL locks the picked row with FOR UPDATE SKIP LOCKED so
 * concurrent claimers skip it instead of queueing behind it; SQLite has no
 * row locks, but its transactions are BEGIN IMMEDIATE (one writer at a
 * time), so the pick and the flip cannot interleave with another claim.
 * The flip is conditioned on the state either way.
 */
#include "store/store_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_COLUMNS                                                                            \
    "id, kind, user_id, params, state, dedupe_key, lane, run_after, attempts, max_attempts, " \
    "progress_done, progress_total, message, error, claimed_by, heartbeat_at, created_at, "   \
    "started_at, finished_at"

#define RUNNABLE "state IN ('queued', 'deferred')"
#define ACTIVE "state IN ('queued', 'running', 'deferred')"
/* Every change a worker makes to its job is conditioned on still owning it. */
#define OWNED "id = ? AND state = 'running' AND claimed_by = ?"

#define DEFAULT_MAX_ATTEMPTS 5
#define MAX_KINDS 32
#define ENQUEUE_TRIES 3

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

void store_job_clear(store_job *j)
{
    if (j == NULL)
        return;
    free(j->params);
    free(j->dedupe_key);
    free(j->lane);
    free(j->message);
    free(j->error);
    free(j->claimed_by);
    memset(j, 0, sizeof *j);
}

void store_job_list_free(store_job *jobs, size_t n)
{
    if (jobs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_job_clear(&jobs[i]);
    free(jobs);
}

/* Copies a nullable text cell; *out is NULL for SQL NULL. */
static int dup_cell(const store_rows *r, size_t row, size_t col, char **out)
{
    const char *t = store_rows_text(r, row, col);
    *out = t ? strdup(t) : NULL;
    return t == NULL || *out != NULL;
}

/* Fills *j from row `row` of a query selecting JOB_COLUMNS. */
static kt_status job_from_row(const store_rows *r, size_t row, store_job *j, kt_err *err)
{
    store_job tmp = {0};
    const char *kind = store_rows_text(r, row, 1), *state = store_rows_text(r, row, 4);
    tmp.id = store_rows_int(r, row, 0);
    snprintf(tmp.kind, sizeof tmp.kind, "%s", kind ? kind : "");
    tmp.user_id = store_rows_int(r, row, 2);
    snprintf(tmp.state, sizeof tmp.state, "%s", state ? state : "");
    if (!dup_cell(r, row, 3, &tmp.params) || !dup_cell(r, row, 5, &tmp.dedupe_key) ||
        !dup_cell(r, row, 6, &tmp.lane) || !dup_cell(r, row, 12, &tmp.message) ||
        !dup_cell(r, row, 13, &tmp.error) || !dup_cell(r, row, 14, &tmp.claimed_by)) {
        store_job_clear(&tmp);
        return nomem(err);
    }
    tmp.run_after = store_rows_int(r, row, 7);
    tmp.attempts = (int)store_rows_int(r, row, 8);
    tmp.max_attempts = (int)store_rows_int(r, row, 9);
    tmp.progress_done = store_rows_int(r, row, 10);
    tmp.progress_total = store_rows_int(r, row, 11);
    tmp.heartbeat_at = store_rows_int(r, row, 15);
    tmp.created_at = store_rows_int(r, row, 16);
    tmp.started_at = store_rows_int(r, row, 17);
    tmp.finished_at = store_rows_int(r, row, 18);
    *j = tmp;
    return KT_OK;
}

/* s cut to at most STORE_JOB_TEXT_MAX bytes on a UTF-8 boundary, in out;
 * NULL stays NULL. Messages are informative, so cutting beats refusing. */
static const char *clip(const char *s, char out[STORE_JOB_TEXT_MAX + 1])
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    if (n <= STORE_JOB_TEXT_MAX)
        return s;
    n = STORE_JOB_TEXT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues a character: cut before that character */
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static kt_status check_text(const char *what, const char *v, size_t max, int required,
                            kt_err *err)
{
    if (v == NULL || *v == '\0') {
        if (required)
            return err_set(err, KT_ERR_INVALID, "bad_job", "a job needs a %s", what);
        return KT_OK;
    }
    if (strlen(v) > max)
        return err_set(err, KT_ERR_INVALID, "bad_job", "job %s longer than %zu bytes", what, max);
    return KT_OK;
}

static kt_status check_spec(const store_job_spec *spec, kt_err *err)
{
    kt_status st;
    if (spec == NULL)
        return err_set(err, KT_ERR_INVALID, "bad_job", "no job given");
    if ((st = check_text("kind", spec->kind, STORE_JOB_KIND_MAX, 1, err)) != KT_OK ||
        (st = check_text("params", spec->params, STORE_JOB_PARAMS_MAX, 0, err)) != KT_OK ||
        (st = check_text("dedupe key", spec->dedupe_key, STORE_JOB_KEY_MAX, 0, err)) != KT_OK ||
        (st = check_text("lane", spec->lane, STORE_JOB_KEY_MAX, 0, err)) != KT_OK)
        return st;
    if (spec->max_attempts < 0 || spec->max_attempts > 100 || spec->user_id < 0)
        return err_set(err, KT_ERR_INVALID, "bad_job", "max_attempts must be 1..100 (0: default)");
    return KT_OK;
}

/* SQL NULL for NULL or "" (no key means no key, never an empty key). */
static store_param opt_text(const char *s)
{
    return (s && *s) ? SP_TEXT(s) : SP_NULL;
}

/* The job that blocked an insert: same dedupe key, or active in the lane.
 * KT_ERR_NOT_FOUND when it ended (and left the lane) meanwhile. */
static kt_status find_blocking(store *s, const store_job_spec *spec, int64_t *id, kt_err *err)
{
    store_param p[] = {opt_text(spec->dedupe_key), opt_text(spec->lane)};
    return store_query_int(s,
                           "SELECT id FROM jobs WHERE dedupe_key = ? OR (lane = ? AND " ACTIVE
                           ") ORDER BY id LIMIT 1",
                           p, 2, id, err);
}

kt_status store_job_enqueue(store *s, const store_job_spec *spec, int64_t now, int64_t *id,
                            int *created, kt_err *err)
{
    kt_status st = check_spec(spec, err);
    if (st != KT_OK)
        return st;
    int max_attempts = spec->max_attempts ? spec->max_attempts : DEFAULT_MAX_ATTEMPTS;
    store_param p[] = {SP_TEXT(spec->kind),
                       spec->user_id > 0 ? SP_INT(spec->user_id) : SP_NULL,
                       SP_TEXT(spec->params && *spec->params ? spec->params : "{}"),
                       opt_text(spec->dedupe_key),
                       opt_text(spec->lane),
                       SP_INT(spec->run_after ? spec->run_after : now),
                       SP_INT(max_attempts),
                       SP_INT(now)};
    /* Insert, or find what blocked the insert. The blocker can end between
     * the two statements (its lane frees up): then inserting again works,
     * so a few rounds always settle. */
    for (int round = 0; round < ENQUEUE_TRIES; round++) {
        store_rows *r = NULL;
        st = store_query(s,
                         "INSERT INTO jobs (kind, user_id, params, state, dedupe_key, lane, "
                         "run_after, max_attempts, created_at) "
                         "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) "
                         "ON CONFLICT DO NOTHING RETURNING id",
                         p, sizeof p / sizeof p[0], &r, err);
        if (st != KT_OK)
            return st;
        if (store_rows_count(r) == 1) {
            *id = store_rows_int(r, 0, 0);
            store_rows_free(r);
            if (created)
                *created = 1;
            return KT_OK;
        }
        store_rows_free(r);
        int64_t existing = 0;
        st = find_blocking(s, spec, &existing, err);
        if (st == KT_OK) {
            *id = existing;
            if (created)
                *created = 0;
            return KT_OK;
        }
        if (st != KT_ERR_NOT_FOUND)
            return st;
    }
    return err_set(err, KT_ERR_CONFLICT, "job_busy",
                   "could not enqueue the %s job: its lane kept changing; try again", spec->kind);
}

/* "SELECT id FROM jobs WHERE <runnable, due, kind IN (?, ...)> ..." for n
 * kinds, locking the row (FOR UPDATE SKIP LOCKED) when `lock` is set. Only
 * the number of placeholders varies, never data. */
static kt_status claim_pick_sql(int lock, size_t n, char *out, size_t cap, kt_err *err)
{
    size_t at = 0;
    int w = snprintf(out, cap, "SELECT id FROM jobs WHERE " RUNNABLE " AND run_after <= ?");
    if (w < 0 || (size_t)w >= cap)
        return err_set(err, KT_ERR_INTERNAL, NULL, "claim query too long");
    at = (size_t)w;
    for (size_t i = 0; i < n; i++) {
        w = snprintf(out + at, cap - at, "%s", i == 0 ? " AND kind IN (?" : ", ?");
        if (w < 0 || (size_t)w >= cap - at)
            return err_set(err, KT_ERR_INTERNAL, NULL, "claim query too long");
        at += (size_t)w;
    }
    w = snprintf(out + at, cap - at, "%s ORDER BY run_after, id LIMIT 1%s", n ? ")" : "",
                 lock ? " FOR UPDATE SKIP LOCKED" : "");
    if (w < 0 || (size_t)w >= cap - at)
        return err_set(err, KT_ERR_INTERNAL, NULL, "claim query too long");
    return KT_OK;
}

kt_status store_job_claim(store *s, const char *worker, const char *const *kinds, size_t n,
                          int64_t now, store_job *out, int *got, kt_err *err)
{
    char sql[512];
    store_param p[1 + MAX_KINDS];
    store_rows *picked = NULL, *row = NULL;
    store_job job = {0};
    int found = 0;
    kt_status st = check_text("worker", worker, STORE_JOB_KEY_MAX, 1, err);
    if (st != KT_OK)
        return st;
    if (n > MAX_KINDS)
        return err_set(err, KT_ERR_INVALID, "bad_job", "at most %d job kinds per claim", MAX_KINDS);
    p[0] = SP_INT(now);
    for (size_t i = 0; i < n; i++)
        p[1 + i] = SP_TEXT(kinds[i]);

    /* Idle workers poll: look without a transaction first, so an empty
     * queue never takes SQLite's write lock (or PostgreSQL row locks). */
    if ((st = claim_pick_sql(0, n, sql, sizeof sql, err)) != KT_OK ||
        (st = store_query(s, sql, p, 1 + n, &picked, err)) != KT_OK)
        return st;
    found = store_rows_count(picked) == 1;
    store_rows_free(picked);
    picked = NULL;
    if (!found) {
        *got = 0;
        return KT_OK;
    }
    found = 0;
    int lock = store_get_backend(s) == STORE_POSTGRES;
    if ((st = claim_pick_sql(lock, n, sql, sizeof sql, err)) != KT_OK)
        return st;
    if ((st = store_begin(s, err)) != KT_OK)
        return st;
    if ((st = store_query(s, sql, p, 1 + n, &picked, err)) != KT_OK)
        goto out;
    if (store_rows_count(picked) == 1) {
        store_param u[] = {SP_TEXT(worker), SP_INT(now), SP_INT(now),
                           SP_INT(store_rows_int(picked, 0, 0))};
        st = store_query(s,
                         "UPDATE jobs SET state = 'running', claimed_by = ?, heartbeat_at = ?, "
                         "started_at = COALESCE(started_at, ?) WHERE id = ? AND " RUNNABLE
                         " RETURNING " JOB_COLUMNS,
                         u, 4, &row, err);
        if (st != KT_OK)
            goto out;
        if (store_rows_count(row) == 1) {
            if ((st = job_from_row(row, 0, &job, err)) != KT_OK)
                goto out;
            found = 1;
        }
    }
    if ((st = store_commit(s, err)) != KT_OK)
        goto out;
    *got = found;
    if (found) {
        *out = job;
        memset(&job, 0, sizeof job);
    }
out:
    store_rollback(s);
    store_rows_free(picked);
    store_rows_free(row);
    store_job_clear(&job);
    return st;
}

/* Runs an update of a job the worker must still own; job_lost otherwise. */
static kt_status owned_update(store *s, const char *sql, const store_param *p, size_t np,
                              int64_t id, kt_err *err)
{
    int64_t changes = 0;
    kt_status st = store_exec(s, sql, p, np, &changes, err);
    if (st != KT_OK)
        return st;
    if (changes != 1)
        return err_set(err, KT_ERR_CONFLICT, "job_lost",
                       "job %lld is no longer running for this worker (reclaimed or ended)",
                       (long long)id);
    return KT_OK;
}

kt_status store_job_heartbeat(store *s, int64_t id, const char *worker, int64_t now, kt_err *err)
{
    store_param p[] = {SP_INT(now), SP_INT(id), SP_TEXT(worker)};
    return owned_update(s, "UPDATE jobs SET heartbeat_at = ? WHERE " OWNED, p, 3, id, err);
}

kt_status store_job_progress(store *s, int64_t id, const char *worker, int64_t done,
                             int64_t total, const char *msg, int64_t now, kt_err *err)
{
    char buf[STORE_JOB_TEXT_MAX + 1];
    store_param p[] = {SP_INT(done), SP_INT(total), SP_TEXT(clip(msg, buf)), SP_INT(now),
                       SP_INT(id),   SP_TEXT(worker)};
    return owned_update(s,
                        "UPDATE jobs SET progress_done = ?, progress_total = ?, message = ?, "
                        "heartbeat_at = ? WHERE " OWNED,
                        p, 6, id, err);
}

kt_status store_job_finish(store *s, int64_t id, const char *worker, int ok, const char *error,
                           int64_t now, kt_err *err)
{
    char buf[STORE_JOB_TEXT_MAX + 1];
    store_param p[] = {SP_TEXT(ok ? STORE_JOB_DONE : STORE_JOB_FAILED),
                       SP_TEXT(ok ? NULL : clip(error, buf)), SP_INT(now), SP_INT(id),
                       SP_TEXT(worker)};
    return owned_update(s,
                        "UPDATE jobs SET state = ?, error = ?, finished_at = ?, "
                        "claimed_by = NULL WHERE " OWNED,
                        p, 5, id, err);
}

kt_status store_job_defer(store *s, int64_t id, const char *worker, int64_t run_after,
                          const char *msg, int64_t now, kt_err *err)
{
    char buf[STORE_JOB_TEXT_MAX + 1];
    (void)now;
    store_param p[] = {SP_INT(run_after), SP_TEXT(clip(msg, buf)), SP_INT(id), SP_TEXT(worker)};
    return owned_update(s,
                        "UPDATE jobs SET state = 'deferred', run_after = ?, message = ?, "
                        "claimed_by = NULL WHERE " OWNED,
                        p, 4, id, err);
}

kt_status store_job_retry(store *s, int64_t id, const char *worker, int64_t run_after,
                          const char *error, int64_t now, int *failed, kt_err *err)
{
    char buf[STORE_JOB_TEXT_MAX + 1];
    store_rows *r = NULL;
    store_param p[] = {SP_INT(now), SP_INT(run_after), SP_TEXT(clip(error, buf)), SP_INT(id),
                       SP_TEXT(worker)};
    kt_status st = store_query(
        s,
        "UPDATE jobs SET attempts = attempts + 1, "
        "state = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "finished_at = CASE WHEN attempts + 1 >= max_attempts THEN CAST(? AS BIGINT) ELSE NULL END, "
        "run_after = ?, error = ?, claimed_by = NULL WHERE " OWNED " RETURNING state",
        p, 5, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) != 1) {
        store_rows_free(r);
        return err_set(err, KT_ERR_CONFLICT, "job_lost",
                       "job %lld is no longer running for this worker (reclaimed or ended)",
                       (long long)id);
    }
    if (failed) {
        const char *state = store_rows_text(r, 0, 0);
        *failed = state && strcmp(state, STORE_JOB_FAILED) == 0;
    }
    store_rows_free(r);
    return KT_OK;
}

kt_status store_job_release(store *s, int64_t id, const char *worker, kt_err *err)
{
    store_param p[] = {SP_INT(id), SP_TEXT(worker)};
    return owned_update(s, "UPDATE jobs SET state = 'queued', claimed_by = NULL WHERE " OWNED, p,
                        2, id, err);
}

kt_status store_job_reclaim(store *s, int64_t lapsed_before, int64_t now, int64_t *n,
                            kt_err *err)
{
    store_param p[] = {SP_INT(now), SP_INT(lapsed_before)};
    return store_exec(
        s,
        "UPDATE jobs SET attempts = attempts + 1, "
        "state = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "finished_at = CASE WHEN attempts + 1 >= max_attempts THEN CAST(? AS BIGINT) ELSE NULL END, "
        "error = 'the worker running this job stopped responding', claimed_by = NULL "
        "WHERE state = 'running' AND heartbeat_at < ?",
        p, 2, n, err);
}

kt_status store_job_get(store *s, int64_t id, int64_t user_id, store_job *out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(id), SP_INT(user_id), SP_INT(user_id)};
    kt_status st = store_query(s,
                               "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ? AND "
                               "(CAST(? AS BIGINT) = 0 OR user_id = ?)",
                               p, 3, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "job_not_found", "no job %lld", (long long)id);
    else
        st = job_from_row(r, 0, out, err);
    store_rows_free(r);
    return st;
}

kt_status store_job_list(store *s, int64_t user_id, int limit, store_job **out, size_t *n,
                         kt_err *err)
{
    store_rows *r = NULL;
    store_job *jobs = NULL;
    size_t count = 0;
    if (limit < 1 || limit > 1000)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit must be 1..1000, got %d", limit);
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(limit)};
    kt_status st = store_query(s,
                               "SELECT " JOB_COLUMNS " FROM jobs WHERE "
                               "(CAST(? AS BIGINT) = 0 OR user_id = ?) ORDER BY id DESC LIMIT ?",
                               p, 3, &r, err);
    if (st != KT_OK)
        return st;
    count = store_rows_count(r);
    if (count > 0 && (jobs = calloc(count, sizeof *jobs)) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if ((st = job_from_row(r, i, &jobs[i], err)) != KT_OK)
            goto out;
    }
    *out = jobs;
    *n = count;
    jobs = NULL;
out:
    store_job_list_free(jobs, count);
    store_rows_free(r);
    return st;
}

kt_status store_job_counts(store *s, int64_t counts[STORE_JOB_N_STATES], kt_err *err)
{
    static const char *const names[STORE_JOB_N_STATES] = {
        STORE_JOB_QUEUED, STORE_JOB_RUNNING, STORE_JOB_DEFERRED, STORE_JOB_DONE, STORE_JOB_FAILED};
    int64_t tmp[STORE_JOB_N_STATES] = {0};
    store_rows *r = NULL;
    kt_status st =
        store_query(s, "SELECT state, COUNT(*) FROM jobs GROUP BY state", NULL, 0, &r, err);
    if (st != KT_OK)
        return st;
    for (size_t i = 0; i < store_rows_count(r); i++) {
        const char *state = store_rows_text(r, i, 0);
        for (int k = 0; state && k < STORE_JOB_N_STATES; k++)
            if (strcmp(state, names[k]) == 0)
                tmp[k] = store_rows_int(r, i, 1);
    }
    store_rows_free(r);
    memcpy(counts, tmp, sizeof tmp);
    return KT_OK;
}

kt_status store_job_purge(store *s, int64_t before, int64_t *n, kt_err *err)
{
    store_param p[] = {SP_INT(before)};
    return store_exec(s,
                      "DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < ?", p,
                      1, n, err);
}

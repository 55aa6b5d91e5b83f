/* test_jobs.c - the job queue (store_jobs.h), the worker pool (jobs.h) and
 * the scheduler (scheduler.h), on SQLite and on PostgreSQL.
 *
 * Every case runs twice: on a fresh SQLite database and on a fresh
 * PostgreSQL schema (tests/unit/store/testdb.h; skipped with a message when
 * KEEPTRACK_TEST_PG is unset, failing when it is set but unusable). The
 * store cases drive the clock with explicit timestamps; the pool cases run
 * real worker threads on test-only job kinds and poll the table with a
 * deadline (never a fixed sleep) for the outcome.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "services/app.h"
#include "services/jobs.h"
#include "services/scheduler.h"
#include "store/store.h"
#include "store/store_auth.h"
#include "store/store_jobs.h"
#include "testdb_cmocka.h"

#define T0 1700000000000LL /* a fixed "now" for store cases */

/* ---- fixtures ---- */

static testdb *db_of(void **state)
{
    return testdb_state(state);
}

static int64_t add_user(store *s, const char *account, const char *status)
{
    int64_t id = 0;
    kt_err err = {0};
    store_param p[] = {SP_TEXT(account), SP_TEXT(account), SP_TEXT(status), SP_INT(T0), SP_INT(T0)};
    assert_int_equal(store_query_int(s,
                                     "INSERT INTO users (account_id, spotify_id, status, "
                                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                                     p, 5, &id, &err),
                     KT_OK);
    return id;
}

static int64_t enqueue(store *s, const char *kind, int64_t user, const char *key,
                       const char *lane, int max_attempts, int64_t now, int *created)
{
    int64_t id = 0;
    kt_err err = {0};
    store_job_spec spec = {.kind = kind, .user_id = user, .dedupe_key = key, .lane = lane,
                           .max_attempts = max_attempts};
    assert_int_equal(store_job_enqueue(s, &spec, now, &id, created, &err), KT_OK);
    assert_true(id > 0);
    return id;
}

/* Claims one job (any kind) for worker at now; returns its id or 0. */
static int64_t claim(store *s, const char *worker, int64_t now, store_job *out)
{
    store_job job = {0};
    int got = -1;
    kt_err err = {0};
    assert_int_equal(store_job_claim(s, worker, NULL, 0, now, &job, &got, &err), KT_OK);
    assert_true(got == 0 || got == 1);
    int64_t id = got ? job.id : 0;
    if (out && got)
        *out = job;
    else
        store_job_clear(&job);
    return id;
}

static store_job get(store *s, int64_t id)
{
    store_job j = {0};
    kt_err err = {0};
    assert_int_equal(store_job_get(s, id, 0, &j, &err), KT_OK);
    return j;
}

/* ---- store: enqueue, dedupe, lanes ---- */

static void test_enqueue_and_dedupe(void **state)
{
    store *s = db_of(state)->s;
    int64_t u = add_user(s, "alice", "active");
    int created = -1;
    int64_t a = enqueue(s, "sync", u, "sched:library:u1:p0", NULL, 0, T0, &created);
    assert_int_equal(created, 1);
    store_job j = get(s, a);
    assert_string_equal(j.kind, "sync");
    assert_string_equal(j.state, STORE_JOB_QUEUED);
    assert_string_equal(j.params, "{}");
    assert_int_equal(j.user_id, u);
    assert_int_equal(j.run_after, T0);
    assert_int_equal(j.created_at, T0);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.max_attempts, 5);
    assert_null(j.claimed_by);
    store_job_clear(&j);

    /* the same key returns the existing job, also after it ended */
    assert_int_equal(enqueue(s, "sync", u, "sched:library:u1:p0", NULL, 0, T0 + 5, &created), a);
    assert_int_equal(created, 0);
    assert_int_equal(claim(s, "w1", T0, NULL), a);
    kt_err err = {0};
    assert_int_equal(store_job_finish(s, a, "w1", 1, NULL, T0 + 1, &err), KT_OK);
    assert_int_equal(enqueue(s, "sync", u, "sched:library:u1:p0", NULL, 0, T0 + 9, &created), a);
    assert_int_equal(created, 0);
    /* another key, and no key at all, make new jobs */
    int64_t b = enqueue(s, "sync", u, "sched:library:u1:p1", NULL, 0, T0, &created);
    assert_int_equal(created, 1);
    assert_true(b != a);
    int64_t c = enqueue(s, "backup", 0, NULL, NULL, 0, T0, &created);
    int64_t d = enqueue(s, "backup", 0, NULL, NULL, 0, T0, &created);
    assert_int_equal(created, 1);
    assert_true(c != d);
    j = get(s, c);
    assert_int_equal(j.user_id, 0); /* no user: NULL in the table */
    store_job_clear(&j);

    /* bad specs */
    store_job_spec bad = {.kind = ""};
    int64_t id = 0;
    assert_int_equal(store_job_enqueue(s, &bad, T0, &id, NULL, &err), KT_ERR_INVALID);
    bad.kind = "a-kind-name-that-is-much-too-long-to-be-one";
    assert_int_equal(store_job_enqueue(s, &bad, T0, &id, NULL, &err), KT_ERR_INVALID);
    assert_int_equal(id, 0);
}

static void test_lane_one_active_job(void **state)
{
    store *s = db_of(state)->s;
    int64_t u = add_user(s, "alice", "active");
    int created = -1;
    kt_err err = {0};
    int64_t a = enqueue(s, "sync", u, NULL, "sync:1", 0, T0, &created);
    assert_int_equal(created, 1);
    /* queued, running or deferred: the lane's job is returned */
    assert_int_equal(enqueue(s, "sync", u, NULL, "sync:1", 0, T0, &created), a);
    assert_int_equal(created, 0);
    assert_int_equal(enqueue(s, "sync", u, "sched:recent:u1:p0", "sync:1", 0, T0, &created), a);
    assert_int_equal(created, 0);
    assert_int_equal(claim(s, "w1", T0, NULL), a);
    assert_int_equal(enqueue(s, "sync", u, NULL, "sync:1", 0, T0, &created), a);
    assert_int_equal(created, 0);
    assert_int_equal(store_job_defer(s, a, "w1", T0 + 100, "quota", T0, &err), KT_OK);
    assert_int_equal(enqueue(s, "sync", u, NULL, "sync:1", 0, T0, &created), a);
    assert_int_equal(created, 0);
    /* another lane is independent */
    int64_t other = enqueue(s, "sync", u, NULL, "sync:2", 0, T0, &created);
    assert_int_equal(created, 1);
    assert_true(other != a);
    /* once the job ended, the lane is free */
    assert_int_equal(claim(s, "w2", T0 + 100, NULL), other); /* due first */
    assert_int_equal(claim(s, "w1", T0 + 100, NULL), a);
    assert_int_equal(store_job_finish(s, a, "w1", 0, "boom", T0 + 101, &err), KT_OK);
    int64_t b = enqueue(s, "sync", u, NULL, "sync:1", 0, T0 + 102, &created);
    assert_int_equal(created, 1);
    assert_true(b != a && b != other);
    /* the scheduled period key was never recorded while the lane was busy */
    int64_t c = enqueue(s, "sync", u, "sched:recent:u1:p0", "sync:1", 0, T0, &created);
    assert_int_equal(c, b);
    assert_int_equal(created, 0);
}

/* ---- store: claim exclusivity under concurrency ---- */

#define CLAIM_THREADS 8
#define CLAIM_JOBS 200

typedef struct claimer {
    const char *url;
    int index;
    int64_t ids[CLAIM_JOBS];
    int n;
    int failed;
    char why[320];
} claimer;

static void *claimer_main(void *arg)
{
    claimer *c = arg;
    store *conn[2] = {NULL, NULL};
    kt_err err = {0};
    char name[32];
    snprintf(name, sizeof name, "w%d", c->index);
    for (int i = 0; i < 2; i++)
        if (store_open(c->url, &conn[i], &err) != KT_OK) {
            c->failed = 1;
            snprintf(c->why, sizeof c->why, "open: %s", err.msg);
            goto out;
        }
    for (int round = 0;; round++) {
        store *s = conn[round % 2]; /* two connections per thread, alternating */
        store_job job = {0};
        int got = 0;
        if (store_job_claim(s, name, NULL, 0, T0, &job, &got, &err) != KT_OK) {
            c->failed = 1;
            snprintf(c->why, sizeof c->why, "claim: %s", err.msg);
            goto out;
        }
        if (!got)
            break;
        if (c->n < CLAIM_JOBS)
            c->ids[c->n] = job.id;
        c->n++;
        if (strcmp(job.claimed_by, name) != 0 ||
            store_job_finish(s, job.id, name, 1, NULL, T0, &err) != KT_OK) {
            c->failed = 1;
            snprintf(c->why, sizeof c->why, "finish %lld: %s", (long long)job.id, err.msg);
            store_job_clear(&job);
            goto out;
        }
        store_job_clear(&job);
    }
out:
    store_close(conn[0]);
    store_close(conn[1]);
    return NULL;
}

static void test_claim_exclusive_concurrent(void **state)
{
    testdb *db = db_of(state);
    static claimer cl[CLAIM_THREADS];
    pthread_t th[CLAIM_THREADS];
    int64_t first = 0, seen[CLAIM_JOBS] = {0};
    kt_err err = {0};
    assert_int_equal(store_begin(db->s, &err), KT_OK);
    for (int i = 0; i < CLAIM_JOBS; i++) {
        int64_t id = enqueue(db->s, i % 2 ? "a" : "b", 0, NULL, NULL, 0, T0 - 1000 + i, NULL);
        if (i == 0)
            first = id;
    }
    assert_int_equal(store_commit(db->s, &err), KT_OK);
    memset(cl, 0, sizeof cl);
    /* Under valgrind (make valgrind sets KT_TEST_VALGRIND) threads run one
     * at a time, 50 times slower: 16 SQLite connections queueing for the
     * write lock outlast the 5 s busy timeout. Two threads still race. */
    int threads = getenv("KT_TEST_VALGRIND") && db->backend == STORE_SQLITE ? 2 : CLAIM_THREADS;
    for (int t = 0; t < threads; t++) {
        cl[t].url = db->url;
        cl[t].index = t;
        assert_int_equal(pthread_create(&th[t], NULL, claimer_main, &cl[t]), 0);
    }
    int total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (cl[t].failed)
            fail_msg("claimer %d: %s", t, cl[t].why);
        total += cl[t].n;
        for (int i = 0; i < cl[t].n && i < CLAIM_JOBS; i++) {
            int64_t k = cl[t].ids[i] - first;
            assert_true(k >= 0 && k < CLAIM_JOBS);
            seen[k]++;
        }
    }
    assert_int_equal(total, CLAIM_JOBS);
    for (int i = 0; i < CLAIM_JOBS; i++)
        assert_int_equal(seen[i], 1); /* each job claimed exactly once */
    int64_t counts[STORE_JOB_N_STATES];
    assert_int_equal(store_job_counts(db->s, counts, &err), KT_OK);
    assert_int_equal(counts[STORE_JOB_N_DONE], CLAIM_JOBS);
    assert_int_equal(counts[STORE_JOB_N_QUEUED] + counts[STORE_JOB_N_RUNNING], 0);
}

/* ---- store: claim order, kinds, defer, retry, max attempts, reclaim ---- */

static void test_claim_order_and_kinds(void **state)
{
    store *s = db_of(state)->s;
    kt_err err = {0};
    store_job_spec later = {.kind = "a", .run_after = T0 + 500};
    int64_t l = 0, j = 0;
    assert_int_equal(store_job_enqueue(s, &later, T0, &l, NULL, &err), KT_OK);
    int64_t b = enqueue(s, "b", 0, NULL, NULL, 0, T0, NULL);
    int64_t a = enqueue(s, "a", 0, NULL, NULL, 0, T0 + 1, NULL);
    (void)j;
    const char *only_a[] = {"a"};
    store_job job = {0};
    int got = 0;
    assert_int_equal(store_job_claim(s, "w1", only_a, 1, T0 + 1, &job, &got, &err), KT_OK);
    assert_int_equal(got, 1);
    assert_int_equal(job.id, a); /* kind filter; `later` not due yet */
    assert_string_equal(job.state, STORE_JOB_RUNNING);
    assert_string_equal(job.claimed_by, "w1");
    assert_int_equal(job.heartbeat_at, T0 + 1);
    assert_int_equal(job.started_at, T0 + 1);
    store_job_clear(&job);
    assert_int_equal(store_job_claim(s, "w1", only_a, 1, T0 + 1, &job, &got, &err), KT_OK);
    assert_int_equal(got, 0);
    assert_int_equal(claim(s, "w2", T0 + 1, NULL), b);
    assert_int_equal(claim(s, "w2", T0 + 499, NULL), 0);
    assert_int_equal(claim(s, "w2", T0 + 500, NULL), l);
}

static void test_defer(void **state)
{
    store *s = db_of(state)->s;
    kt_err err = {0};
    int64_t id = enqueue(s, "sync", 0, NULL, NULL, 0, T0, NULL);
    assert_int_equal(claim(s, "w1", T0, NULL), id);
    assert_int_equal(store_job_progress(s, id, "w1", 3, 10, "liked 3/10", T0 + 5, &err), KT_OK);
    assert_int_equal(store_job_defer(s, id, "w1", T0 + 60000, "quota exceeded", T0 + 10, &err),
                     KT_OK);
    store_job j = get(s, id);
    assert_string_equal(j.state, STORE_JOB_DEFERRED);
    assert_int_equal(j.run_after, T0 + 60000);
    assert_int_equal(j.attempts, 0); /* deferrals are not failures */
    assert_string_equal(j.message, "quota exceeded");
    assert_null(j.claimed_by);
    assert_int_equal(j.progress_done, 3);
    assert_int_equal(j.progress_total, 10);
    store_job_clear(&j);
    /* the worker no longer owns it */
    assert_int_equal(store_job_heartbeat(s, id, "w1", T0 + 11, &err), KT_ERR_CONFLICT);
    assert_string_equal(err.code, "job_lost");
    assert_int_equal(claim(s, "w2", T0 + 59999, NULL), 0);
    store_job again = {0};
    assert_int_equal(claim(s, "w2", T0 + 60000, &again), id);
    assert_int_equal(again.attempts, 0);
    assert_int_equal(again.started_at, T0); /* first start kept */
    store_job_clear(&again);
    assert_int_equal(store_job_finish(s, id, "w2", 1, NULL, T0 + 60001, &err), KT_OK);
    j = get(s, id);
    assert_string_equal(j.state, STORE_JOB_DONE);
    assert_int_equal(j.finished_at, T0 + 60001);
    assert_null(j.error);
    store_job_clear(&j);
}

static void test_retry_backoff_and_max_attempts(void **state)
{
    store *s = db_of(state)->s;
    kt_err err = {0};
    int failed = -1;
    assert_int_equal(jobs_backoff_ms(0, 30000, 21600000), 30000);
    assert_int_equal(jobs_backoff_ms(1, 30000, 21600000), 60000);
    assert_int_equal(jobs_backoff_ms(3, 30000, 21600000), 240000);
    assert_int_equal(jobs_backoff_ms(40, 30000, 21600000), 21600000);
    assert_int_equal(jobs_backoff_ms(1000000, 1, 5), 5);

    int64_t id = enqueue(s, "sync", 0, NULL, NULL, 3, T0, NULL);
    int64_t now = T0;
    for (int attempt = 0; attempt < 3; attempt++) {
        store_job job = {0};
        assert_int_equal(claim(s, "w1", now, &job), id);
        assert_int_equal(job.attempts, attempt);
        store_job_clear(&job);
        int64_t at = now + jobs_backoff_ms(attempt, 1000, 3600000);
        assert_int_equal(store_job_retry(s, id, "w1", at, "upstream 502", now, &failed, &err),
                         KT_OK);
        store_job j = get(s, id);
        assert_int_equal(j.attempts, attempt + 1);
        assert_string_equal(j.error, "upstream 502");
        assert_null(j.claimed_by);
        if (attempt < 2) {
            assert_int_equal(failed, 0);
            assert_string_equal(j.state, STORE_JOB_QUEUED);
            assert_int_equal(j.run_after, at);
            assert_int_equal(j.finished_at, 0);
            assert_int_equal(claim(s, "w1", at - 1, NULL), 0); /* not before the backoff */
            now = at;
        } else {
            assert_int_equal(failed, 1); /* max_attempts reached */
            assert_string_equal(j.state, STORE_JOB_FAILED);
            assert_int_equal(j.finished_at, now);
        }
        store_job_clear(&j);
    }
    assert_int_equal(claim(s, "w1", now + 100000000, NULL), 0);
}

static void test_reclaim_lapsed_heartbeat(void **state)
{
    store *s = db_of(state)->s;
    kt_err err = {0};
    int64_t n = -1;
    int64_t id = enqueue(s, "sync", 0, NULL, NULL, 0, T0, NULL);
    int64_t other = enqueue(s, "sync", 0, NULL, NULL, 0, T0, NULL);
    assert_int_equal(claim(s, "dead", T0 + 1000, NULL), id);
    assert_int_equal(claim(s, "alive", T0 + 1000, NULL), other);
    assert_int_equal(store_job_heartbeat(s, id, "dead", T0 + 5000, &err), KT_OK);
    assert_int_equal(store_job_heartbeat(s, other, "alive", T0 + 9000, &err), KT_OK);
    /* lease of 60 s: nothing has lapsed at T0 + 64999 */
    assert_int_equal(store_job_reclaim(s, T0 + 64999 - 60000, T0 + 64999, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_job_reclaim(s, T0 + 65001 - 60000, T0 + 65001, &n, &err), KT_OK);
    assert_int_equal(n, 1);
    store_job j = get(s, id);
    assert_string_equal(j.state, STORE_JOB_QUEUED);
    assert_null(j.claimed_by);
    assert_int_equal(j.attempts, 1);
    assert_non_null(j.error);
    store_job_clear(&j);
    j = get(s, other);
    assert_string_equal(j.state, STORE_JOB_RUNNING);
    store_job_clear(&j);
    /* the lost worker cannot write any more */
    assert_int_equal(store_job_progress(s, id, "dead", 1, 2, NULL, T0 + 65002, &err),
                     KT_ERR_CONFLICT);
    assert_int_equal(store_job_finish(s, id, "dead", 1, NULL, T0 + 65002, &err), KT_ERR_CONFLICT);
    assert_string_equal(err.code, "job_lost");
    /* another worker picks it up and finishes it */
    assert_int_equal(claim(s, "new", T0 + 65002, NULL), id);
    assert_int_equal(store_job_finish(s, id, "new", 1, NULL, T0 + 65003, &err), KT_OK);
    /* release (graceful stop) keeps attempts */
    assert_int_equal(store_job_release(s, other, "alive", &err), KT_OK);
    j = get(s, other);
    assert_string_equal(j.state, STORE_JOB_QUEUED);
    assert_int_equal(j.attempts, 0);
    assert_null(j.claimed_by);
    store_job_clear(&j);
}

static void test_get_list_scoped(void **state)
{
    store *s = db_of(state)->s;
    kt_err err = {0};
    int64_t alice = add_user(s, "alice", "active"), bob = add_user(s, "bob", "active");
    int64_t a1 = enqueue(s, "sync", alice, NULL, NULL, 0, T0, NULL);
    int64_t b1 = enqueue(s, "sync", bob, NULL, NULL, 0, T0, NULL);
    int64_t a2 = enqueue(s, "sync", alice, NULL, NULL, 0, T0, NULL);
    store_job j = {0};
    assert_int_equal(store_job_get(s, a1, alice, &j, &err), KT_OK);
    assert_int_equal(j.id, a1);
    store_job_clear(&j);
    assert_int_equal(store_job_get(s, b1, alice, &j, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_job_get(s, 999999, alice, &j, &err), KT_ERR_NOT_FOUND);
    store_job *list = NULL;
    size_t n = 0;
    assert_int_equal(store_job_list(s, alice, 10, &list, &n, &err), KT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, a2); /* newest first */
    assert_int_equal(list[1].id, a1);
    store_job_list_free(list, n);
    assert_int_equal(store_job_list(s, 0, 10, &list, &n, &err), KT_OK);
    assert_int_equal(n, 3);
    store_job_list_free(list, n);
    assert_int_equal(store_job_list(s, alice, 1, &list, &n, &err), KT_OK);
    assert_int_equal(n, 1);
    store_job_list_free(list, n);
    assert_int_equal(store_job_list(s, alice, 0, &list, &n, &err), KT_ERR_INVALID);
    /* deleting a user deletes their jobs */
    assert_int_equal(store_user_delete(s, bob, &err), KT_OK);
    assert_int_equal(store_job_get(s, b1, 0, &j, &err), KT_ERR_NOT_FOUND);
    /* purge: only finished jobs older than the cut */
    assert_int_equal(claim(s, "w", T0, NULL), a1);
    assert_int_equal(store_job_finish(s, a1, "w", 1, NULL, T0 + 10, &err), KT_OK);
    int64_t purged = -1;
    assert_int_equal(store_job_purge(s, T0 + 10, &purged, &err), KT_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(store_job_purge(s, T0 + 11, &purged, &err), KT_OK);
    assert_int_equal(purged, 1);
    int64_t counts[STORE_JOB_N_STATES];
    assert_int_equal(store_job_counts(s, counts, &err), KT_OK);
    assert_int_equal(counts[STORE_JOB_N_QUEUED], 1);
    assert_int_equal(counts[STORE_JOB_N_DONE], 0);
}

/* ---- scheduler ---- */

typedef struct app_fixture {
    kt_app app;
    kt_config cfg;
    store_pool *pool;
} app_fixture;

static void app_up(testdb *db, app_fixture *f)
{
    kt_err err = {0};
    memset(f, 0, sizeof *f);
    assert_int_equal(store_pool_open(db->url, 8, &f->pool, &err), KT_OK);
    /* jobs and the scheduler use the database; the scheduler's alert checks
     * read their settings (defaults: no channel configured) */
    config_init(&f->cfg);
    f->app.cfg = &f->cfg;
    f->app.db = f->pool;
}

static void app_down(app_fixture *f)
{
    store_pool_close(f->pool);
    config_free(&f->cfg);
}

static int count_jobs(store *s, const char *state)
{
    int64_t n = -1;
    kt_err err = {0};
    store_param p[] = {SP_TEXT(state)};
    assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM jobs WHERE state = ?", p, 1, &n, &err),
                     KT_OK);
    return (int)n;
}

static void test_scheduler_idempotent(void **state)
{
    testdb *db = db_of(state);
    app_fixture f1, f2;
    kt_err err = {0};
    int n = -1;
    int64_t alice = add_user(db->s, "alice", "active");
    int64_t bob = add_user(db->s, "bob", "active");
    add_user(db->s, "carol", "reauth_required");
    add_user(db->s, "dave", "disabled");
    app_up(db, &f1);
    app_up(db, &f2); /* a second process on the same database */
    scheduler_config sc = {.tick_ms = 60000,
                           .library_every_ms = 6 * 3600 * 1000LL,
                           .recent_every_ms = 1800 * 1000LL,
                           .top_every_ms = 0};
    int64_t now = 1700003000000LL; /* inside a 30-min and a 6-h period */
    assert_int_equal(scheduler_period_start(now, 1800000), 1700002800000LL);
    assert_int_equal(scheduler_period_start(now, 21600000), 1699984800000LL);

    assert_int_equal(scheduler_tick(&f1.app, &sc, now, &n, &err), KT_OK);
    assert_int_equal(n, 2); /* the library sync of alice and bob (one lane each) */
    assert_int_equal(scheduler_tick(&f1.app, &sc, now + 1000, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(scheduler_tick(&f2.app, &sc, now + 2000, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(count_jobs(db->s, "queued"), 2);

    store_job *list = NULL;
    size_t cnt = 0;
    assert_int_equal(store_job_list(db->s, alice, 10, &list, &cnt, &err), KT_OK);
    assert_int_equal(cnt, 1);
    assert_string_equal(list[0].kind, "sync");
    assert_string_equal(list[0].params, "{\"what\":\"library\"}");
    char key[80];
    snprintf(key, sizeof key, "sched:library:u%lld:p1699984800000", (long long)alice);
    assert_string_equal(list[0].dedupe_key, key);
    store_job_list_free(list, cnt);

    /* once the library syncs ran, the recent-plays period is enqueued, once */
    for (int i = 0; i < 2; i++) {
        store_job job = {0};
        assert_true(claim(db->s, "w", time_now_ms(), &job) > 0); /* enqueued at the real time */
        assert_int_equal(store_job_finish(db->s, job.id, "w", 1, NULL, now + 3001, &err), KT_OK);
        store_job_clear(&job);
    }
    assert_int_equal(scheduler_tick(&f2.app, &sc, now + 4000, &n, &err), KT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(scheduler_tick(&f1.app, &sc, now + 5000, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_job_list(db->s, bob, 10, &list, &cnt, &err), KT_OK);
    assert_int_equal(cnt, 2);
    assert_string_equal(list[0].params, "{\"what\":\"recent\"}");
    store_job_list_free(list, cnt);
    for (int i = 0; i < 2; i++) {
        store_job job = {0};
        assert_true(claim(db->s, "w", time_now_ms(), &job) > 0); /* enqueued at the real time */
        assert_int_equal(store_job_finish(db->s, job.id, "w", 1, NULL, now + 6001, &err), KT_OK);
        store_job_clear(&job);
    }
    /* the same periods again: nothing; the next 30-min period: recent again */
    assert_int_equal(scheduler_tick(&f1.app, &sc, now + 7000, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(scheduler_tick(&f1.app, &sc, now + 1800000, &n, &err), KT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(count_jobs(db->s, "queued"), 2);
    app_down(&f1);
    app_down(&f2);
}

/* ---- worker pool on test-only kinds ---- */

static kt_status h_ok(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)app, (void)ud, (void)err;
    jobs_ctx_progress(job, 1, 2, "step 1");
    jobs_ctx_progress(job, 2, 2, "step 2");
    return KT_OK;
}

static kt_status h_defer(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)app, (void)job, (void)ud;
    kt_status st = err_set(err, KT_ERR_DEFERRED, "quota_exceeded", "quota exhausted; later");
    err->retry_at_ms = time_now_ms() + 3600 * 1000LL; /* over the pool's cap below */
    return st;
}

static kt_status h_invalid(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)app, (void)job, (void)ud;
    return err_set(err, KT_ERR_REAUTH, "reauth_required", "log in again");
}

/* Fails the first run (upstream), succeeds the second. */
static kt_status h_flaky(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)app, (void)ud;
    if (jobs_ctx_attempts(job) == 0)
        return err_set(err, KT_ERR_UPSTREAM, "upstream_failed", "Spotify answered 502");
    return KT_OK;
}

/* Runs until the pool stops, then gives the job back. */
static kt_status h_block(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    (void)app, (void)ud;
    int64_t deadline = time_mono_ms() + 30000;
    while (!jobs_ctx_stopping(job) && time_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL); /* a handler doing work in small steps */
    }
    return jobs_release(job, err);
}

/* Marks its job done inside its own transaction (jobs_ctx_finish_in), with
 * the progress reported just before. The first run rolls that transaction
 * back and fails; the second commits it. */
static kt_status h_finish_in(kt_app *app, jobs_ctx *job, void *ud, kt_err *err)
{
    store *s = NULL;
    int first = jobs_ctx_attempts(job) == 0;
    (void)ud;
    jobs_ctx_progress(job, 3, 3, first ? "rolled back" : "committed");
    kt_status st = store_pool_get(app->db, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_begin(s, err)) == KT_OK && (st = jobs_ctx_finish_in(job, s, err)) == KT_OK) {
        if (first)
            st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed", "the handler's own write failed");
        else
            st = store_commit(s, err);
    }
    store_rollback(s);
    store_pool_put(app->db, s);
    return st;
}

/* Polls job id until its state is `want` (deadline 20 s). */
static store_job wait_state(store *s, int64_t id, const char *want)
{
    int64_t deadline = time_mono_ms() + 20000;
    for (;;) {
        store_job j = get(s, id);
        if (strcmp(j.state, want) == 0)
            return j;
        if (time_mono_ms() > deadline)
            fail_msg("job %lld is %s, expected %s", (long long)id, j.state, want);
        store_job_clear(&j);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void test_pool_outcomes(void **state)
{
    testdb *db = db_of(state);
    app_fixture f;
    jobs_registry *reg = NULL;
    jobs_pool *pool = NULL;
    kt_err err = {0};
    int64_t ids[7];
    app_up(db, &f);
    assert_int_equal(jobs_registry_new(&reg, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_ok", h_ok, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_defer", h_defer, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_invalid", h_invalid, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_flaky", h_flaky, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_block", h_block, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_finish_in", h_finish_in, NULL, &err), KT_OK);
    assert_int_equal(jobs_register(reg, "t_ok", h_ok, NULL, &err), KT_ERR_CONFLICT);

    /* a job of a dead worker: running with an old heartbeat */
    int64_t orphan = enqueue(db->s, "t_ok", 0, NULL, NULL, 0, time_now_ms() - 600000, NULL);
    assert_int_equal(claim(db->s, "dead-process", time_now_ms() - 600000, NULL), orphan);

    jobs_pool_config pc = {.workers = 2, .poll_ms = 50, .lease_ms = 1000, .retry_base_ms = 10,
                           .retry_max_ms = 1000, .max_defer_ms = 120000};
    assert_int_equal(jobs_pool_start(&f.app, reg, &pc, &pool, &err), KT_OK);
    const char *kinds[] = {"t_ok", "t_defer", "t_invalid", "t_flaky", "t_unknown", NULL,
                           "t_finish_in"};
    for (int i = 0; i < 7; i++) {
        if (kinds[i] == NULL)
            continue; /* ids[5]: enqueued below */
        store_job_spec spec = {.kind = kinds[i]};
        assert_int_equal(jobs_enqueue(&f.app, &spec, &ids[i], NULL, &err), KT_OK);
    }
    int64_t t_enqueued = time_now_ms();

    store_job j = wait_state(db->s, ids[0], "done");
    assert_int_equal(j.progress_done, 2);
    assert_int_equal(j.progress_total, 2);
    assert_string_equal(j.message, "step 2");
    assert_null(j.claimed_by);
    store_job_clear(&j);

    j = wait_state(db->s, ids[1], "deferred");
    assert_int_equal(j.attempts, 0);
    assert_true(j.run_after >= t_enqueued + 120000 - 50); /* capped at max_defer */
    assert_true(j.run_after <= time_now_ms() + 120000);
    assert_string_equal(j.message, "quota exhausted; later");
    store_job_clear(&j);

    j = wait_state(db->s, ids[2], "failed");
    assert_int_equal(j.attempts, 0); /* never retried */
    assert_string_equal(j.error, "log in again");
    store_job_clear(&j);

    j = wait_state(db->s, ids[3], "done");
    assert_int_equal(j.attempts, 1); /* one failure, retried after the backoff */
    store_job_clear(&j);

    /* done in the handler's transaction: the rolled-back run was retried,
     * the committed one carries its progress and is not written twice */
    j = wait_state(db->s, ids[6], "done");
    assert_int_equal(j.attempts, 1);
    assert_string_equal(j.message, "committed");
    assert_int_equal(j.progress_done, 3);
    assert_null(j.error);
    assert_null(j.claimed_by);
    store_job_clear(&j);

    j = wait_state(db->s, orphan, "done"); /* reclaimed by the heartbeat thread */
    assert_int_equal(j.attempts, 1);
    store_job_clear(&j);

    /* graceful stop: a running job is given back untouched */
    store_job_spec spec = {.kind = "t_block"};
    assert_int_equal(jobs_enqueue(&f.app, &spec, &ids[5], NULL, &err), KT_OK);
    j = wait_state(db->s, ids[5], "running");
    store_job_clear(&j);
    jobs_pool_stop(pool);
    j = get(db->s, ids[5]);
    assert_string_equal(j.state, STORE_JOB_QUEUED);
    assert_int_equal(j.attempts, 0);
    assert_null(j.claimed_by);
    store_job_clear(&j);

    /* the unknown kind was never claimed by this pool */
    j = get(db->s, ids[4]);
    assert_string_equal(j.state, STORE_JOB_QUEUED);
    store_job_clear(&j);
    jobs_registry_free(reg);
    app_down(&f);
}

static void test_pool_config_checked(void **state)
{
    (void)state;
    jobs_registry *reg = NULL;
    jobs_pool *pool = NULL;
    kt_err err = {0};
    kt_app app = {0};
    assert_int_equal(jobs_registry_new(&reg, &err), KT_OK);
    jobs_pool_config pc = {.workers = 1, .poll_ms = 50, .lease_ms = 1000, .retry_base_ms = 10,
                           .retry_max_ms = 1000, .max_defer_ms = 120000};
    assert_int_equal(jobs_pool_start(&app, reg, &pc, &pool, &err), KT_ERR_INVALID); /* no kinds */
    assert_int_equal(jobs_register(reg, "t_ok", h_ok, NULL, &err), KT_OK);
    pc.workers = 0;
    assert_int_equal(jobs_pool_start(&app, reg, &pc, &pool, &err), KT_ERR_INVALID);
    assert_null(pool);
    assert_int_equal(jobs_register(reg, "", h_ok, NULL, &err), KT_ERR_INVALID);
    jobs_registry_free(reg);
    jobs_pool_stop(NULL);
}

/* Each case twice, named by back-end, in one group (one JUnit file). */
#define BOTH(fn)                                                   \
    {"sqlite_" #fn, fn, testdb_setup_sqlite, testdb_teardown, NULL},             \
        {"postgres_" #fn, fn, testdb_setup_pg, testdb_teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_enqueue_and_dedupe),
        BOTH(test_lane_one_active_job),
        BOTH(test_claim_exclusive_concurrent),
        BOTH(test_claim_order_and_kinds),
        BOTH(test_defer),
        BOTH(test_retry_backoff_and_max_attempts),
        BOTH(test_reclaim_lapsed_heartbeat),
        BOTH(test_get_list_scoped),
        BOTH(test_scheduler_idempotent),
        BOTH(test_pool_outcomes),
        cmocka_unit_test(test_pool_config_checked),
    };
    return cmocka_run_group_tests_name("jobs", tests, NULL, NULL);
}

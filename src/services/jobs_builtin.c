/* jobs_builtin.c - the job kinds keeptrack itself runs, and their handlers.
 *
 * Kept apart from jobs.c so the queue and the worker pool link without the
 * services these kinds call (tests register kinds of their own and do not
 * pull in the sync engine). Adding a kind (shuffle, backup, import...): a
 * handler here plus one line in jobs_register_builtin.
 */
#include <jansson.h>
#include <string.h>

#include "core/jsonutil.h"
#include "services/jobs.h"
#include "services/sync.h"

/* jobs_ctx_progress as a sync_progress_fn. */
static void sync_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    jobs_ctx_progress(ctx, done, total, msg);
}

/* Job kind "sync": params {"what":"liked,playlists"} (sync_parse_what). */
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
    return sync_run(app, jobs_ctx_user(job), what, sync_progress, job, err);
}

kt_status jobs_register_builtin(jobs_registry *reg, kt_err *err)
{
    return jobs_register(reg, JOBS_KIND_SYNC, run_sync, NULL, err);
}

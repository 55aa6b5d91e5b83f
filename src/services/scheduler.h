/* scheduler.h - enqueues periodic work for every active user.
 *
 * Every tick the scheduler looks at each active user and each schedule:
 *   library sync        every KEEPTRACK_SYNC_LIBRARY_EVERY_S (6 h)  sync what=library
 *   recently played     every KEEPTRACK_SYNC_RECENT_EVERY_S (30 min) sync what=recent
 *   top items           every KEEPTRACK_SYNC_TOP_EVERY_S (daily)     sync what=top
 *   tracker points      every KEEPTRACK_STATS_EVERY_S (daily)        job "trackers"
 *   stats refresh       the same period (artist genres, features)    job "stats"
 * and, once for the whole app (user 0):
 *   database backup     every KEEPTRACK_BACKUP_INTERVAL_HOURS (24 h)  job "backup"
 * and, per saved playlist from tops with a refresh (fromtops.h):
 *   "weekly" / "monthly"  7 / 30 days after its last run               job "fromtops"
 * and enqueues the job of the current period with the dedupe key
 * "sched:<schedule>:u<user>:p<period start ms>". Periods are aligned to the
 * unix epoch, so every scheduler (several processes on one PostgreSQL)
 * computes the same key and a period's job exists once however many run.
 * When the user's sync lane is busy (a sync queued or running), nothing is
 * recorded for the period and a later tick tries again.
 *
 * Thread use: scheduler_tick may run on any thread; scheduler_start runs it
 * on a thread of its own every tick_ms (the first tick one tick after the
 * start, so a restart does not burst requests before the server settles).
 */
#ifndef KT_SERVICES_SCHEDULER_H
#define KT_SERVICES_SCHEDULER_H

#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "services/app.h"

typedef struct scheduler_config {
    int64_t tick_ms;
    int64_t library_every_ms; /* 0 = never */
    int64_t recent_every_ms;  /* 0 = never */
    int64_t top_every_ms;     /* 0 = never */
    int64_t stats_every_ms;   /* tracker points + stats refresh per user; 0 = never */
    int64_t backup_every_ms;  /* 0 = never */
    int64_t releases_every_ms; /* new-release refresh period; 0 = never */
    int64_t job_retention_ms; /* finished jobs older than this are deleted (0 = kept) */
} scheduler_config;

/* The scheduler settings from the configuration. */
void scheduler_config_from(const kt_config *cfg, scheduler_config *out);

/* The period containing now for a schedule of `every_ms` (> 0): its start,
 * aligned to the unix epoch. Pure. */
int64_t scheduler_period_start(int64_t now_ms, int64_t every_ms);

/* One pass at time now_ms: enqueues every due period's job that does not
 * exist yet. *enqueued (may be NULL) = jobs created by this pass. Errors of
 * one user are logged and the pass goes on; the store's errors listing the
 * users are returned. */
kt_status scheduler_tick(kt_app *app, const scheduler_config *cfg, int64_t now_ms,
                         int *enqueued, kt_err *err);

typedef struct scheduler scheduler;

/* Runs scheduler_tick every cfg->tick_ms on a thread. app is borrowed and
 * must outlive the scheduler. *out owned by the caller (scheduler_stop). */
kt_status scheduler_start(kt_app *app, const scheduler_config *cfg, scheduler **out,
                          kt_err *err);

/* Stops the thread (a tick in progress finishes) and frees. NULL: no-op. */
void scheduler_stop(scheduler *sch);

#endif

/* store_budget.h - the domain SQL of the shared Spotify request budget
 * (table spotify_budget, migration 7).
 *
 * A token bucket in one row, so every keeptrack process on the database
 * draws from the same budget and their combined request rate stays within
 * what Spotify allows the app (issue 11). Taking a token is one atomic
 * UPDATE ... RETURNING that refills the bucket for the time elapsed since
 * the last take, caps it at the burst, and takes one token only when a
 * whole one is there; concurrent takers queue on the row lock and each sees
 * the level the previous one left. Amounts are milli-tokens (integers), so
 * the arithmetic is exact and the same on both back-ends.
 *
 * Times are unix ms passed by the caller. With several machines, clocks
 * that disagree can only make the bucket refill more slowly, never faster:
 * a take never moves updated_at backwards and counts no negative elapsed
 * time.
 *
 * Threads: like all store functions, one `store *` per thread at a time.
 * Must not be called inside a transaction of the caller's.
 */
#ifndef KT_STORE_STORE_BUDGET_H
#define KT_STORE_STORE_BUDGET_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Creates budget `name` full (burst) or, when it exists, sets its rate and
 * burst (its level is kept, capped at the new burst on the next take).
 * rate_milli: milli-tokens per second (> 0); burst_milli >= 1000.
 * KT_ERR_INVALID for bad values; store errors as store.h. */
kt_status store_budget_configure(store *s, const char *name, int64_t rate_milli,
                                 int64_t burst_milli, int64_t now, kt_err *err);

/* Takes one token from budget `name` at time `now`. *wait_ms = 0 when it
 * was taken; otherwise nothing was taken and *wait_ms (>= 1) is how long
 * until a whole token will be there (another process may take it first:
 * ask again then). KT_ERR_NOT_FOUND when the budget was never configured. */
kt_status store_budget_take(store *s, const char *name, int64_t now, int64_t *wait_ms,
                            kt_err *err);

#endif

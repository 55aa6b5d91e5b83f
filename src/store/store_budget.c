/* store_budget.c - the shared token bucket (see store_budget.h).
 *
 * The refill expression is written once as macros and bound with `now`
 * wherever it appears (portable SQL has no variables): LEVEL is the level
 * at `now`, i.e. tokens + elapsed * rate, capped at burst, with elapsed
 * never negative.
 */
#include "store/store_budget.h"

#include <stddef.h>

#define ELAPSED                                                                  \
    "(CASE WHEN CAST(? AS BIGINT) > updated_at THEN CAST(? AS BIGINT) - updated_at " \
    "ELSE 0 END)"
#define REFILLED "(tokens_milli + " ELAPSED " * rate_milli / 1000)"
#define LEVEL "(CASE WHEN " REFILLED " > burst_milli THEN burst_milli ELSE " REFILLED " END)"
#define LEVEL_PARAMS 4 /* `now` placeholders in LEVEL */
#define ONE_TOKEN 1000

kt_status store_budget_configure(store *s, const char *name, int64_t rate_milli,
                                 int64_t burst_milli, int64_t now, kt_err *err)
{
    if (name == NULL || *name == '\0' || rate_milli <= 0 || burst_milli < ONE_TOKEN)
        return err_set(err, KT_ERR_INVALID, "bad_budget",
                       "a request budget needs a name, a rate > 0 and a burst of at least 1");
    store_param p[] = {SP_TEXT(name), SP_INT(burst_milli), SP_INT(rate_milli),
                       SP_INT(burst_milli), SP_INT(now)};
    return store_exec(s,
                      "INSERT INTO spotify_budget (name, tokens_milli, rate_milli, burst_milli, "
                      "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                      "rate_milli = excluded.rate_milli, burst_milli = excluded.burst_milli",
                      p, sizeof p / sizeof p[0], NULL, err);
}

/* The level at `now` and the rate, to tell a taker how long to wait. */
static kt_status budget_wait(store *s, const char *name, int64_t now, int64_t *wait_ms,
                             kt_err *err)
{
    store_param p[LEVEL_PARAMS + 1];
    store_rows *r = NULL;
    kt_status st;
    for (size_t i = 0; i < LEVEL_PARAMS; i++)
        p[i] = SP_INT(now);
    p[LEVEL_PARAMS] = SP_TEXT(name);
    st = store_query(s, "SELECT " LEVEL ", rate_milli FROM spotify_budget WHERE name = ?", p,
                     LEVEL_PARAMS + 1, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "no_budget", "the request budget '%s' is not set up",
                       name);
    }
    int64_t level = store_rows_int(r, 0, 0), rate = store_rows_int(r, 0, 1);
    store_rows_free(r);
    int64_t missing = level >= ONE_TOKEN ? 0 : ONE_TOKEN - level;
    /* ms until `missing` milli-tokens have dripped in at rate per second */
    int64_t w = rate > 0 ? (missing * 1000 + rate - 1) / rate : 1000;
    *wait_ms = w < 1 ? 1 : w;
    return KT_OK;
}

kt_status store_budget_take(store *s, const char *name, int64_t now, int64_t *wait_ms,
                            kt_err *err)
{
    /* SET level - 1000 (4 x now), updated_at (2 x now), WHERE name, level >= 1000 (4 x now) */
    store_param p[2 * LEVEL_PARAMS + 3];
    store_rows *r = NULL;
    size_t n = 0;
    kt_status st;
    for (size_t i = 0; i < LEVEL_PARAMS + 2; i++)
        p[n++] = SP_INT(now);
    p[n++] = SP_TEXT(name);
    for (size_t i = 0; i < LEVEL_PARAMS; i++)
        p[n++] = SP_INT(now);
    st = store_query(s,
                     "UPDATE spotify_budget SET tokens_milli = " LEVEL " - 1000, updated_at = "
                     "CASE WHEN CAST(? AS BIGINT) > updated_at THEN CAST(? AS BIGINT) "
                     "ELSE updated_at END WHERE name = ? AND " LEVEL " >= 1000 "
                     "RETURNING tokens_milli",
                     p, n, &r, err);
    if (st != KT_OK)
        return st;
    size_t taken = store_rows_count(r);
    store_rows_free(r);
    if (taken == 1) {
        *wait_ms = 0;
        return KT_OK;
    }
    return budget_wait(s, name, now, wait_ms, err);
}

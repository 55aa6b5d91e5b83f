/* faults.h - fault injection for spotify-emulator: latency (fixed + jitter), a
 * rolling 30-second rate limit (429 + Retry-After), short 429 bursts
 * (throttle_rate), QUOTA_EXCEEDED, 5xx at a
 * rate, hung requests, truncated or malformed bodies and dropped connections.
 *
 * There is one global fault set plus targeted rules (POST /__emulator/faults
 * with "only": "<endpoint template>", "user": "<user id>" and/or "count": N):
 * a request takes the first rule that matches its endpoint and its access
 * token's user (a rule with "user" matches only that user's requests, never
 * a client-credentials one) and still has count left; the fields
 * a rule sets override the global ones for that request. Thread-safe.
 * Faults apply to /v1 and /api/token; rate limit and quota to /v1 only.
 */
#ifndef EM_FAULTS_H
#define EM_FAULTS_H

#include <jansson.h>
#include <stdbool.h>

#include "emulator.h"
#include "util.h"

typedef struct em_fault_set {
    long latency_ms, jitter_ms, rate_limit, quota_retry_after_s, hang_ms;
    double fail_rate, hang_rate, truncate_rate, malformed_rate, drop_rate;
    /* throttle_rate: a plain 429 with Retry-After throttle_retry_after_s
     * (default 1) at this rate, independent of the rolling window: short
     * 429 bursts (e.g. {"throttle_rate":1,"count":5}) that a client waits out. */
    double throttle_rate;
    long throttle_retry_after_s;
    bool quota_exceeded;
    unsigned set;                 /* bit per field explicitly set (rules) */
} em_fault_set;

typedef struct em_fault_decision {
    long delay_ms;                /* wait before answering */
    bool drop, hang;
    long hang_ms;
    bool quota;                   /* answer 429 QUOTA_EXCEEDED */
    bool rate_limited;            /* answer 429 with Retry-After */
    long retry_after_s;
    int fail_status;              /* 0 or 500/502/503 */
    bool truncate, malformed;
} em_fault_decision;

void faults_defaults(em_fault_set *s);
em_faults *faults_new(const em_fault_set *initial, uint64_t seed);
void faults_free(em_faults *f);   /* accepts NULL */

/* Decides what happens to one request. webapi: the path is under /v1. user:
 * the id of the user whose access token the request carries, or NULL (no
 * token, a bad one, a client-credentials one, or a token request). */
void faults_decide(em_faults *f, const char *endpoint, bool webapi, const char *user,
                   em_fault_decision *d);

/* Applies a control-API body. Returns false with a message on bad input
 * (nothing changed then). "mode" is applied to app->mode_ext. */
bool faults_apply_json(em_faults *f, em_app *app, json_t *body, char *err, size_t errsz);
/* Writes {"latency_ms":..., ..., "mode":"...", "rules":[...], "held":N};
 * held: how many requests a latency or hang holds right now (the server's
 * count, passed in). */
void faults_dump(em_faults *f, em_app *app, long held, jw *w);

#endif

/* metrics.h - the process's Prometheus metrics (GET /metrics).
 *
 * Two kinds of figures:
 *   - counted in this process, as things happen: HTTP requests by method,
 *     route pattern and status, their durations (histogram), requests in
 *     flight, token refreshes by outcome, process start time. The HTTP
 *     server's hooks and the token hooks feed them (metrics_http_*,
 *     metrics_token_refresh).
 *   - read when scraped: Spotify requests by endpoint template and status
 *     (the client's own accounting), database pool use, jobs by state and
 *     sync durations (from the jobs and sync_runs tables, which several
 *     instances share: those figures are the same on every instance, so
 *     aggregate them with max(), not sum()).
 * metrics_render writes them all in the Prometheus text exposition format
 * (version 0.0.4): a HELP and a TYPE line per family, escaped label values,
 * cumulative histogram buckets ending in le="+Inf" equal to _count.
 *
 * The state is process-wide (one registry, as Prometheus client libraries
 * have) so the HTTP edge, the services and the CLI need no handle to it.
 * Label values are bounded: methods outside the usual few become "OTHER",
 * and past METRICS_MAX_SERIES distinct series new ones are folded into
 * route="other", so hostile traffic cannot grow memory.
 *
 * Thread use: every function is thread-safe.
 */
#ifndef KT_SERVICES_METRICS_H
#define KT_SERVICES_METRICS_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "services/app.h"

/* Distinct (method, route, status) series kept, and (method, route) histograms. */
#define METRICS_MAX_SERIES 512

/* Upper bounds (seconds) of the HTTP duration histogram's buckets. */
#define METRICS_HTTP_BUCKETS 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0

/* Records the process start (unix ms) for process_start_time_seconds.
 * Called once by `serve`; 0 until then (the family is then left out). */
void metrics_set_start_time(int64_t unix_ms);

/* A request line arrived: requests in flight + 1. Pair with metrics_http_done. */
void metrics_http_begin(void);

/* A request ended (the http_config.on_done hook): in flight - 1, counts the
 * request under (method, route, status) and its duration. `route` must be
 * the matched route pattern or "unmatched", never the raw path (it would
 * leak ids and grow without bound). status 0 (no response) is counted as
 * status "0". NULL method/route count as "OTHER"/"unmatched". */
void metrics_http_done(const char *method, const char *route, int status, double seconds);

/* A user's refresh-token grant ended: outcome "ok" (a new access token was
 * stored) or "revoked" (invalid_grant: the user must log in again). Other
 * outcomes are counted as given (a short fixed word; longer ones are cut). */
void metrics_token_refresh(const char *outcome);

/* Appends every metric family in the exposition format to out. The
 * scrape-time figures take a pooled connection for a moment (app->db) and
 * read app->spotify (may be NULL: that family is then empty). A database
 * failure is not fatal: those families are left out and
 * keeptrack_metrics_db_up is 0. KT_ERR_NOMEM / KT_ERR_TOO_LARGE only when
 * out cannot hold the text. */
kt_status metrics_render(kt_app *app, buf *out, kt_err *err);

/* Forgets everything counted so far (unit tests). */
void metrics_reset(void);

#endif

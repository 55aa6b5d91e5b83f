/* stats.h - request accounting for the control API: counts per endpoint
 * template and status, and a log of the most recent 200,000 requests with
 * timestamps, user and grant type. Thread-safe (one mutex).
 */
#ifndef EM_STATS_H
#define EM_STATS_H

#include "emulator.h"
#include "util.h"

#define EM_STATS_LOG_MAX 200000

em_stats *stats_new(void);
void stats_free(em_stats *s);     /* accepts NULL */

/* endpoint must be a string that lives as long as the process (route table).
 * user and grant_type may be NULL; user must outlive the stats (users are
 * never freed before shutdown). status 0 = no response (dropped/hung). */
void stats_record(em_stats *s, const char *method, const char *path_query, const char *endpoint,
                  int status, const char *user, const char *grant_type);
/* {"total":N,"endpoints":{...},"requests":[...]}; since_ms < 0: all requests. */
void stats_dump(em_stats *s, jw *w, double since_ms);
void stats_reset(em_stats *s);

#endif

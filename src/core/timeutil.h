/* timeutil.h - clocks and the time formats keeptrack meets.
 *
 * All times are int64 milliseconds since the Unix epoch (UTC). Spotify's
 * timestamps ("2024-05-01T12:34:56Z", "added_at", "played_at", release dates,
 * extended-streaming-history "ts") go through time_parse_iso8601; Retry-After
 * headers through time_parse_retry_after. Parsing is hand-written because
 * strptime() is locale-dependent, ignores offsets and fractional seconds,
 * and does not validate the day of month. All functions are thread-safe.
 */
#ifndef KT_CORE_TIMEUTIL_H
#define KT_CORE_TIMEUTIL_H

#include <stdint.h>

#include "core/err.h"

/* Wall-clock time (CLOCK_REALTIME) in ms since the epoch. */
int64_t time_now_ms(void);

/* Monotonic time (CLOCK_MONOTONIC) in ms from an arbitrary origin: use it for
 * durations and deadlines, never as a date. */
int64_t time_mono_ms(void);

/* Parses an ISO 8601 / RFC 3339 date or date-time into *ms (written only on
 * success). Accepted:
 *   "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM|+HH]"  (T may be 't' or ' ')
 *   "YYYY-MM-DDTHH:MM[...]", a date-time without a zone (taken as UTC),
 *   "YYYY-MM-DD", "YYYY-MM" and "YYYY" (Spotify's release_date precisions; midnight UTC
 *   of the first day). Fractions beyond milliseconds are truncated.
 * Rejects impossible dates (2023-02-29), out-of-range fields, trailing text.
 * s NULL -> KT_ERR_INVALID. */
kt_status time_parse_iso8601(const char *s, int64_t *ms);

/* Day number (days since 1970-01-01, negative before) of the proleptic
 * Gregorian date y-m-d, and back (Howard Hinnant's algorithms; exact over
 * the whole int64 day range we meet). m is 1..12, d 1..31; the caller
 * passes a real date. Pure. */
int64_t time_days_from_civil(int64_t y, int m, int d);
void time_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Formats ms as "YYYY-MM-DDTHH:MM:SSZ" in UTC, with ".mmm" before the Z only
 * when ms is not a whole second. Years outside 0..9999 are clamped. */
void time_format_iso8601(int64_t ms, char out[32]);

/* Parses an HTTP IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110
 * 5.6.7), the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and
 * asctime ("Sun Nov  6 08:49:37 1994") into *ms. KT_ERR_INVALID otherwise. */
kt_status time_parse_http_date(const char *s, int64_t *ms);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP date. *at_ms is
 * the absolute time to retry: now_ms + delta, or the date (never earlier than
 * now_ms). Delta-seconds are capped at one year so hostile values cannot
 * overflow. KT_ERR_INVALID for anything else (negative, empty, garbage). */
kt_status time_parse_retry_after(const char *value, int64_t now_ms, int64_t *at_ms);

#endif

/* recap.h - the yearly recap (issue 18, item 4): a "wrapped" summary of
 * one calendar year of listening, over every play the store holds for the
 * user (polled and imported), as JSON and as an SVG card.
 *
 * Years and days are UTC, as the listening dashboard's: a year is
 * [YYYY-01-01T00:00:00Z, (YYYY+1)-01-01T00:00:00Z). A play's time and the
 * names it is grouped by are the listening statistics' (store_stats.h).
 * Reads never call Spotify. All JSON answers are new references owned by
 * the caller. A bad `year` is KT_ERR_INVALID "bad_parameter" with a message
 * starting "year:"; a year without plays is KT_ERR_NOT_FOUND "no_data".
 * Thread-safe: each call borrows its own pooled connection.
 */
#ifndef KT_SERVICES_RECAP_H
#define KT_SERVICES_RECAP_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "services/app.h"

/* Entries in each top list and in each first-listens list at most. */
#define RECAP_TOP 10
#define RECAP_FIRST_MAX 100

/* GET /api/stats/recap/years: {years [YYYY, ...]} ascending, the UTC years
 * in which the user has at least one play (empty when none). */
kt_status recap_years(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* GET /api/stats/recap?year=YYYY (year: 4 digits, 1970..9999; NULL is a
 * bad parameter). {year, from, to, timezone "UTC", plays, ms, minutes
 * (ms / 60000, rounded down), distinct_tracks, distinct_artists,
 * top_tracks [{rank, uri, id|null, name, artist, album, plays, ms}],
 * top_artists [{rank, name, id|null, plays, ms}], top_albums [{rank, name,
 * artist, id|null, plays, ms}] (RECAP_TOP each, by time, ties by plays then
 * name as store_stats_listen_top), first_listens {tracks {total, items
 * [{uri, id|null, name, artist, first_played_at}]}, artists {total, items
 * [{name, first_played_at}]}} (first played in this year and never before;
 * items in order of that first play, at most RECAP_FIRST_MAX),
 * busiest_day {date, plays, ms, minutes} (most time; ties: the earliest),
 * busiest_hour {hour 0..23, plays, ms, minutes} (hour of day summed over
 * the year; most time, ties: the earliest), longest_streak {start, end,
 * days} (the longest run of consecutive UTC days with a play inside the
 * year; ties: the earliest), months [12 x {month "YYYY-MM", plays, ms,
 * minutes}], years (as recap_years)}. */
kt_status recap_year(kt_app *app, int64_t user_id, const char *year, json_t **out, kt_err *err);

/* GET /api/stats/recap.svg?year=: recap_year's figures drawn as a
 * self-contained SVG card (UTF-8, every text escaped, no script, no
 * external reference) appended to *out (initialised by the caller, freed
 * by the caller on any result). Errors as recap_year. */
kt_status recap_svg(kt_app *app, int64_t user_id, const char *year, buf *out, kt_err *err);

/* Renders a recap_year answer as the SVG card into *out. Pure (no store,
 * no clock), so the card is a function of the JSON export. KT_ERR_INVALID when `recap` lacks
 * the fields recap_year writes; buffer errors as buf_append. */
kt_status recap_render_svg(const json_t *recap, buf *out, kt_err *err);

#endif

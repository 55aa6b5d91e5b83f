/* recap.c - the yearly recap (see recap.h).
 *
 * The figures come from the listening aggregates of store_stats.h over the
 * year's range, so the recap counts exactly what the dashboard counts.
 * What SQL cannot say portably is finished here: the per-day rows become
 * the busiest day, the longest streak and the twelve months (months from
 * day numbers, as the dashboard's month buckets), the hour x weekday cells
 * are summed per hour of day, and days with plays become the year list.
 *
 * The SVG card is written by hand: it is a fixed layout of a few texts and
 * rectangles, and the only C libraries that render images (cairo and its
 * friends) would pull a graphics stack into a server for one picture. It
 * is drawn from the recap's JSON (recap_render_svg), so the image and the
 * JSON export can never disagree. Every text goes through svg_text(),
 * which escapes XML's specials and drops what XML 1.0 forbids; styling is
 * by presentation attributes, not <style>, so the data CSP
 * (default-src 'none') the server sends still lets the card render when
 * opened on its own.
 */
#include "services/recap.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "services/app_priv.h"
#include "store/store_stats.h"

#define DAY_MS 86400000LL
#define MINUTE_MS 60000LL
#define YEAR_MIN 1970
#define YEAR_MAX 9999

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* ?year= must be exactly four digits within YEAR_MIN..YEAR_MAX. */
static kt_status parse_year(const char *s, int *year, kt_err *err)
{
    int y = 0;
    if (!s)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "year: required (YYYY)");
    for (size_t i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return err_set(err, KT_ERR_INVALID, "bad_parameter", "year: must be a year YYYY");
        y = y * 10 + (s[i] - '0');
    }
    if (s[4] != '\0')
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "year: must be a year YYYY");
    if (y < YEAR_MIN || y > YEAR_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "year: must be %d..%d", YEAR_MIN,
                       YEAR_MAX);
    *year = y;
    return KT_OK;
}

static json_t *str_or_null(const store_rows *r, size_t row, size_t col)
{
    const char *s = store_rows_text(r, row, col);
    return s ? json_string(s) : json_null();
}

static json_t *iso_of(int64_t ms)
{
    char iso[32];
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *date_of(int64_t day_number)
{
    char iso[32];
    time_format_iso8601(day_number * DAY_MS, iso);
    iso[10] = '\0';
    return json_string(iso);
}

/* The id of a "spotify:track:<id>" uri as JSON, else null (local files,
 * tracks an export named without an id). */
static json_t *track_id_of(const char *uri)
{
    static const char prefix[] = "spotify:track:";
    return uri && strncmp(uri, prefix, sizeof prefix - 1) == 0
               ? json_string(uri + sizeof prefix - 1)
               : json_null();
}

/* Appends to arr, consuming e; 0 on failure (e NULL or no memory). */
static int push(json_t *arr, json_t *e)
{
    return e && json_array_append_new(arr, e) == 0;
}

/* The UTC years of the user's days with plays, ascending. */
static kt_status years_json(store *s, int64_t user_id, json_t **out, kt_err *err)
{
    store_rows *r = NULL;
    json_t *arr = NULL;
    int64_t last = INT64_MIN;
    kt_status st = store_stats_play_days(s, user_id, &r, err);
    if (st != KT_OK)
        goto out;
    if (!(arr = json_array())) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(r); i++) {
        int64_t y = 0;
        int m = 0, d = 0;
        time_civil_from_days(store_rows_int(r, i, 0), &y, &m, &d);
        if (y == last)
            continue;
        last = y;
        if (!push(arr, json_integer(y))) {
            st = nomem(err);
            goto out;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    store_rows_free(r);
    return st;
}

static kt_status read_years(store *s, void *ctx, json_t **out, kt_err *err)
{
    const int64_t *user_id = ctx;
    json_t *years = NULL;
    kt_status st = years_json(s, *user_id, &years, err);
    if (st != KT_OK)
        return st;
    *out = json_pack("{s:o}", "years", years);
    return *out ? KT_OK : nomem(err);
}

kt_status recap_years(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    return app_db_read_json(app, read_years, &user_id, out, err);
}

/* A top list (store_stats_listen_top rows of group g) as JSON. */
static json_t *tops_json(const store_rows *r, store_listen_group g)
{
    json_t *arr = json_array();
    /* Column of plays per group; ms follows it. */
    size_t pc = g == STORE_LISTEN_TRACKS ? 4 : 2;
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        json_t *e = json_pack("{s:I,s:I,s:I}", "rank", (json_int_t)(i + 1), "plays",
                              (json_int_t)store_rows_int(r, i, pc), "ms",
                              (json_int_t)store_rows_int(r, i, pc + 1));
        json_t *names;
        if (g == STORE_LISTEN_TRACKS)
            names = json_pack("{s:o,s:o,s:o,s:o,s:o}", "uri", str_or_null(r, i, 0), "id",
                              track_id_of(store_rows_text(r, i, 0)), "name",
                              str_or_null(r, i, 1), "artist", str_or_null(r, i, 2), "album",
                              str_or_null(r, i, 3));
        else if (g == STORE_LISTEN_ARTISTS)
            names = json_pack("{s:o,s:o}", "name", str_or_null(r, i, 0), "id",
                              str_or_null(r, i, 1));
        else
            names = json_pack("{s:o,s:o,s:o}", "name", str_or_null(r, i, 0), "artist",
                              str_or_null(r, i, 1), "id", str_or_null(r, i, 4));
        /* the _new calls take their argument even when they fail */
        if (!e || !names) {
            json_decref(e);
            json_decref(names);
        } else if (json_object_update_new(e, names) != 0) {
            json_decref(e);
        } else if (push(arr, e)) {
            continue;
        }
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* First listens: tracks (uri, name, artist, at) or artists (name, at). */
static json_t *firsts_json(const store_rows *r, int tracks, int64_t total)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < store_rows_count(r); i++) {
        json_t *e =
            tracks ? json_pack("{s:o,s:o,s:o,s:o,s:o}", "uri", str_or_null(r, i, 0), "id",
                               track_id_of(store_rows_text(r, i, 0)), "name",
                               str_or_null(r, i, 1), "artist", str_or_null(r, i, 2),
                               "first_played_at", iso_of(store_rows_int(r, i, 3)))
                   : json_pack("{s:o,s:o}", "name", str_or_null(r, i, 0), "first_played_at",
                               iso_of(store_rows_int(r, i, 1)));
        if (!push(items, e)) {
            json_decref(items);
            return NULL;
        }
    }
    return json_pack("{s:I,s:o}", "total", (json_int_t)total, "items", items);
}

/* What the per-day rows (day number, plays, ms) of one year give. */
typedef struct day_figures {
    int64_t month_plays[12], month_ms[12];
    int64_t best_day, best_day_plays, best_day_ms; /* best_day -1: none */
    int64_t streak_start, streak_days;
} day_figures;

static void figure_days(const store_rows *r, day_figures *f)
{
    int64_t run_start = 0, prev = 0;
    memset(f, 0, sizeof *f);
    f->best_day = -1;
    f->best_day_ms = -1;
    for (size_t i = 0; i < store_rows_count(r); i++) {
        int64_t day = store_rows_int(r, i, 0), plays = store_rows_int(r, i, 1),
                ms = store_rows_int(r, i, 2), y = 0;
        int m = 1, d = 1;
        time_civil_from_days(day, &y, &m, &d);
        f->month_plays[m - 1] += plays;
        f->month_ms[m - 1] += ms;
        /* strictly more: ties keep the earliest day */
        if (ms > f->best_day_ms) {
            f->best_day = day;
            f->best_day_ms = ms;
            f->best_day_plays = plays;
        }
        if (i == 0 || day != prev + 1)
            run_start = day;
        prev = day;
        if (day - run_start + 1 > f->streak_days) {
            f->streak_days = day - run_start + 1;
            f->streak_start = run_start;
        }
    }
}

typedef struct recap_args {
    int64_t user_id;
    int year;
} recap_args;

static json_t *minutes_of(int64_t ms)
{
    return json_integer(ms / MINUTE_MS);
}

static kt_status read_recap(store *s, void *ctx, json_t **out, kt_err *err)
{
    const recap_args *a = ctx;
    int64_t from = time_days_from_civil(a->year, 1, 1) * DAY_MS;
    int64_t to = time_days_from_civil((int64_t)a->year + 1, 1, 1) * DAY_MS;
    store_listen_totals tot;
    store_rows *tt = NULL, *ta = NULL, *tb = NULL, *ft = NULL, *fa = NULL, *days = NULL,
               *hours = NULL;
    int64_t ft_total = 0, fa_total = 0, hour_plays[24] = {0}, hour_ms[24] = {0};
    json_t *years = NULL, *months = NULL, *res = NULL;
    day_figures f;
    kt_status st = store_stats_listen_totals(s, a->user_id, from, to, &tot, err);
    if (st != KT_OK)
        goto out;
    if (tot.plays == 0) {
        st = err_set(err, KT_ERR_NOT_FOUND, "no_data", "year: no plays in %d", a->year);
        goto out;
    }
    if ((st = store_stats_listen_top(s, a->user_id, from, to, STORE_LISTEN_TRACKS, 1, RECAP_TOP,
                                     &tt, err)) != KT_OK ||
        (st = store_stats_listen_top(s, a->user_id, from, to, STORE_LISTEN_ARTISTS, 1, RECAP_TOP,
                                     &ta, err)) != KT_OK ||
        (st = store_stats_listen_top(s, a->user_id, from, to, STORE_LISTEN_ALBUMS, 1, RECAP_TOP,
                                     &tb, err)) != KT_OK ||
        (st = store_stats_listen_first_tracks(s, a->user_id, from, to, RECAP_FIRST_MAX, &ft,
                                              &ft_total, err)) != KT_OK ||
        (st = store_stats_listen_first_heard(s, a->user_id, from, to, RECAP_FIRST_MAX, &fa,
                                             &fa_total, err)) != KT_OK ||
        (st = store_stats_listen_days(s, a->user_id, from, to, &days, err)) != KT_OK ||
        (st = store_stats_listen_hours(s, a->user_id, from, to, &hours, err)) != KT_OK ||
        (st = years_json(s, a->user_id, &years, err)) != KT_OK)
        goto out;
    figure_days(days, &f);
    for (size_t i = 0; i < store_rows_count(hours); i++) {
        int64_t h = store_rows_int(hours, i, 1);
        if (h < 0 || h > 23)
            continue; /* played_at >= 0 always; guards the array all the same */
        hour_plays[h] += store_rows_int(hours, i, 2);
        hour_ms[h] += store_rows_int(hours, i, 3);
    }
    int best_hour = -1;
    for (int h = 0; h < 24; h++)
        if (hour_plays[h] > 0 && (best_hour < 0 || hour_ms[h] > hour_ms[best_hour]))
            best_hour = h;
    if (!(months = json_array())) {
        st = nomem(err);
        goto out;
    }
    for (int m = 0; m < 12; m++) {
        char name[16];
        snprintf(name, sizeof name, "%04d-%02d", a->year, m + 1);
        if (!push(months, json_pack("{s:s,s:I,s:I,s:o}", "month", name, "plays",
                                    (json_int_t)f.month_plays[m], "ms",
                                    (json_int_t)f.month_ms[m], "minutes",
                                    minutes_of(f.month_ms[m])))) {
            st = nomem(err);
            goto out;
        }
    }
    /* tot.plays > 0, so there is a day and an hour with plays */
    res = json_pack(
        "{s:i,s:o,s:o,s:s,s:I,s:I,s:o,s:I,s:I,s:o,s:o,s:o,s:{s:o,s:o},s:{s:o,s:I,s:I,s:o},"
        "s:{s:i,s:I,s:I,s:o},s:{s:o,s:o,s:I},s:O,s:O}",
        "year", a->year, "from", iso_of(from), "to", iso_of(to), "timezone", "UTC", "plays",
        (json_int_t)tot.plays, "ms", (json_int_t)tot.ms, "minutes", minutes_of(tot.ms),
        "distinct_tracks", (json_int_t)tot.tracks, "distinct_artists", (json_int_t)tot.artists,
        "top_tracks", tops_json(tt, STORE_LISTEN_TRACKS), "top_artists",
        tops_json(ta, STORE_LISTEN_ARTISTS), "top_albums", tops_json(tb, STORE_LISTEN_ALBUMS),
        "first_listens", "tracks", firsts_json(ft, 1, ft_total), "artists",
        firsts_json(fa, 0, fa_total), "busiest_day", "date", date_of(f.best_day), "plays",
        (json_int_t)f.best_day_plays, "ms", (json_int_t)f.best_day_ms, "minutes",
        minutes_of(f.best_day_ms), "busiest_hour", "hour", best_hour, "plays",
        (json_int_t)hour_plays[best_hour < 0 ? 0 : best_hour], "ms",
        (json_int_t)hour_ms[best_hour < 0 ? 0 : best_hour], "minutes",
        minutes_of(hour_ms[best_hour < 0 ? 0 : best_hour]), "longest_streak", "start",
        date_of(f.streak_start), "end", date_of(f.streak_start + f.streak_days - 1), "days",
        (json_int_t)f.streak_days, "months", months, "years", years);
    if (!res) {
        st = nomem(err);
        goto out;
    }
    *out = res;
out:
    json_decref(months);
    json_decref(years);
    store_rows_free(tt);
    store_rows_free(ta);
    store_rows_free(tb);
    store_rows_free(ft);
    store_rows_free(fa);
    store_rows_free(days);
    store_rows_free(hours);
    return st;
}

kt_status recap_year(kt_app *app, int64_t user_id, const char *year, json_t **out, kt_err *err)
{
    recap_args a = {.user_id = user_id};
    kt_status st = parse_year(year, &a.year, err);
    if (st != KT_OK)
        return st;
    return app_db_read_json(app, read_recap, &a, out, err);
}

/* ================= the SVG card ================= */

#define SVG_W 800
#define SVG_H 1000
#define NAME_CHARS 30 /* characters of a name that fit a column at 20 px */

/* Appends s as XML character data: the five specials escaped, control
 * characters XML 1.0 forbids dropped (tab and line breaks become spaces),
 * the non-characters U+FFFE/U+FFFF replaced by U+FFFD, and at most
 * max_chars code points (then an ellipsis). s is valid UTF-8 (it comes
 * from a jansson string), so cutting between code points keeps it valid. */
static kt_status svg_text(buf *b, const char *s, size_t max_chars)
{
    size_t chars = 0;
    kt_status st = KT_OK;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && st == KT_OK; p++) {
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            continue; /* not allowed in XML 1.0, not even as a reference */
        if ((*p & 0xC0) != 0x80 && chars++ == max_chars)
            return buf_puts(b, "\xE2\x80\xA6");
        switch (*p) {
        case '&':
            st = buf_puts(b, "&amp;");
            break;
        case '<':
            st = buf_puts(b, "&lt;");
            break;
        case '>':
            st = buf_puts(b, "&gt;");
            break;
        case '"':
            st = buf_puts(b, "&quot;");
            break;
        case '\'':
            st = buf_puts(b, "&#39;");
            break;
        case '\t':
        case '\n':
        case '\r':
            st = buf_puts(b, " ");
            break;
        default:
            if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
                st = buf_puts(b, "\xEF\xBF\xBD");
                p += 2;
                break;
            }
            st = buf_append(b, p, 1);
        }
    }
    return st;
}

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* One <text> element: attributes then escaped content. */
static kt_status svg_line(buf *b, int x, int y, int size, const char *fill, int bold,
                          const char *anchor, const char *text, size_t max_chars)
{
    kt_status st = buf_printf(b,
                              "<text x=\"%d\" y=\"%d\" font-size=\"%d\" fill=\"%s\"%s "
                              "text-anchor=\"%s\">",
                              x, y, size, fill, bold ? " font-weight=\"bold\"" : "", anchor);
    if (st == KT_OK)
        st = svg_text(b, text, max_chars);
    if (st == KT_OK)
        st = buf_puts(b, "</text>\n");
    return st;
}

/* A top list's first five entries as "N. name" (and " - artist"). */
static kt_status svg_top(buf *b, int x, const char *title, const json_t *items, int artist)
{
    char line[512];
    kt_status st = svg_line(b, x, 300, 24, "#1db954", 1, "start", title, NAME_CHARS);
    for (size_t i = 0; st == KT_OK && i < json_array_size(items) && i < 5; i++) {
        const json_t *e = json_array_get(items, i);
        const char *name = jstr(e, "name"), *by = artist ? jstr(e, "artist") : NULL;
        snprintf(line, sizeof line, "%zu. %s%s%s", i + 1, name ? name : "?", by ? " - " : "",
                 by ? by : "");
        st = svg_line(b, x, 340 + 34 * (int)i, 20, "#ffffff", 0, "start", line, NAME_CHARS);
    }
    return st;
}

kt_status recap_render_svg(const json_t *recap, buf *out, kt_err *err)
{
    static const char *const mon[12] = {"J", "F", "M", "A", "M", "J",
                                        "J", "A", "S", "O", "N", "D"};
    const json_t *months = json_object_get(recap, "months");
    const json_t *day = json_object_get(recap, "busiest_day");
    const json_t *hour = json_object_get(recap, "busiest_hour");
    const json_t *streak = json_object_get(recap, "longest_streak");
    const json_t *firsts = json_object_get(recap, "first_listens");
    char text[256];
    json_int_t max_ms = 0;
    kt_status st;
    if (!json_is_integer(json_object_get(recap, "year")) || json_array_size(months) != 12 ||
        !json_is_object(day) || !json_is_object(hour) || !json_is_object(streak) ||
        !json_is_object(firsts))
        return err_set(err, KT_ERR_INVALID, NULL, "not a recap");
    json_int_t year = jint(recap, "year");
    for (size_t m = 0; m < 12; m++)
        if (jint(json_array_get(months, m), "ms") > max_ms)
            max_ms = jint(json_array_get(months, m), "ms");
    snprintf(text, sizeof text, "keeptrack: %lld in music, %lld minutes, %lld plays",
             (long long)year, (long long)jint(recap, "minutes"), (long long)jint(recap, "plays"));
    st = buf_printf(out,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" role=\"img\" font-family=\"sans-serif\">\n<title>",
                    SVG_W, SVG_H, SVG_W, SVG_H);
    if (st == KT_OK)
        st = svg_text(out, text, sizeof text);
    if (st == KT_OK)
        st = buf_printf(out, "</title>\n<rect width=\"%d\" height=\"%d\" rx=\"24\" "
                             "fill=\"#121212\"/>\n",
                        SVG_W, SVG_H);
    snprintf(text, sizeof text, "%lld in music", (long long)year);
    if (st == KT_OK)
        st = svg_line(out, 48, 90, 48, "#1db954", 1, "start", text, 64);
    snprintf(text, sizeof text, "%lld", (long long)jint(recap, "minutes"));
    if (st == KT_OK)
        st = svg_line(out, 48, 190, 80, "#ffffff", 1, "start", text, 64);
    snprintf(text, sizeof text, "minutes listened, %lld plays, %lld tracks, %lld artists",
             (long long)jint(recap, "plays"), (long long)jint(recap, "distinct_tracks"),
             (long long)jint(recap, "distinct_artists"));
    if (st == KT_OK)
        st = svg_line(out, 48, 232, 22, "#b3b3b3", 0, "start", text, 64);
    if (st == KT_OK)
        st = svg_top(out, 48, "Top tracks", json_object_get(recap, "top_tracks"), 1);
    if (st == KT_OK)
        st = svg_top(out, 420, "Top artists", json_object_get(recap, "top_artists"), 0);
    snprintf(text, sizeof text, "Busiest day: %s (%lld min)", jstr(day, "date") ? jstr(day, "date") : "-",
             (long long)jint(day, "minutes"));
    if (st == KT_OK)
        st = svg_line(out, 48, 560, 22, "#ffffff", 0, "start", text, 64);
    snprintf(text, sizeof text, "Busiest hour: %02lld:00-%02lld:00 UTC (%lld min)",
             (long long)jint(hour, "hour"), (long long)(jint(hour, "hour") + 1) % 100,
             (long long)jint(hour, "minutes"));
    if (st == KT_OK)
        st = svg_line(out, 48, 596, 22, "#ffffff", 0, "start", text, 64);
    snprintf(text, sizeof text, "Longest streak: %lld days (%s to %s)",
             (long long)jint(streak, "days"), jstr(streak, "start") ? jstr(streak, "start") : "-",
             jstr(streak, "end") ? jstr(streak, "end") : "-");
    if (st == KT_OK)
        st = svg_line(out, 48, 632, 22, "#ffffff", 0, "start", text, 64);
    snprintf(text, sizeof text, "First listens: %lld new tracks, %lld new artists",
             (long long)jint(json_object_get(firsts, "tracks"), "total"),
             (long long)jint(json_object_get(firsts, "artists"), "total"));
    if (st == KT_OK)
        st = svg_line(out, 48, 668, 22, "#ffffff", 0, "start", text, 64);
    if (st == KT_OK)
        st = svg_line(out, 48, 726, 24, "#1db954", 1, "start", "Minutes per month", 64);
    /* Twelve bars, 200 px at the busiest month; integer arithmetic keeps
     * the output identical across platforms. */
    for (int m = 0; st == KT_OK && m < 12; m++) {
        json_int_t ms = jint(json_array_get(months, (size_t)m), "ms");
        long long h = max_ms > 0 ? (long long)(ms * 200 / max_ms) : 0;
        int x = 48 + m * 59;
        st = buf_printf(out,
                        "<rect x=\"%d\" y=\"%lld\" width=\"44\" height=\"%lld\" "
                        "fill=\"#1db954\"/>\n",
                        x, 950 - h, h);
        if (st == KT_OK)
            st = svg_line(out, x + 22, 980, 18, "#b3b3b3", 0, "middle", mon[m], 4);
    }
    if (st == KT_OK)
        st = buf_puts(out, "</svg>\n");
    if (st != KT_OK)
        return err_set(err, st, NULL, "could not build the recap image");
    return KT_OK;
}

kt_status recap_svg(kt_app *app, int64_t user_id, const char *year, buf *out, kt_err *err)
{
    json_t *recap = NULL;
    kt_status st = recap_year(app, user_id, year, &recap, err);
    if (st == KT_OK)
        st = recap_render_svg(recap, out, err);
    json_decref(recap);
    return st;
}

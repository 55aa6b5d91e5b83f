/* timeutil.c - clocks, ISO 8601 and HTTP dates (see timeutil.h).
 *
 * Civil-date arithmetic uses Howard Hinnant's days_from_civil/civil_from_days
 * (proleptic Gregorian, exact for any year), so nothing depends on the TZ
 * environment, the locale, or timegm's range.
 */
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY 86400000LL
#define RETRY_AFTER_MAX_S (366LL * 86400)

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n digits at *p, advancing it. -1 when they are not all digits. */
static int take_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static int64_t civil_to_ms(int64_t y, int mo, int d, int h, int mi, int s)
{
    return time_days_from_civil(y, mo, d) * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * 1000;
}

/* "Z", "+HH:MM", "+HHMM", "+HH" (or '-'), or nothing (UTC). Writes the
 * offset east of UTC in minutes. 0 on success. */
static int parse_zone(const char **p, int *offset_min)
{
    const char *s = *p;
    if (*s == '\0') {
        *offset_min = 0;
        return 0;
    }
    if (*s == 'Z' || *s == 'z') {
        *offset_min = 0;
        *p = s + 1;
        return 0;
    }
    if (*s != '+' && *s != '-')
        return -1;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int hh = take_digits(&s, 2), mm = 0;
    if (hh < 0 || hh > 23)
        return -1;
    if (*s == ':')
        s++, mm = take_digits(&s, 2);
    else if (isdigit((unsigned char)*s))
        mm = take_digits(&s, 2);
    if (mm < 0 || mm > 59)
        return -1;
    *offset_min = sign * (hh * 60 + mm);
    *p = s;
    return 0;
}

/* "HH:MM[:SS[.fraction]]" (leap second 60 allowed: it lands on the next
 * minute's :00). Fractions beyond milliseconds are truncated. 0 on success. */
static int parse_clock(const char **pp, int *h, int *mi, int *sec, int *frac_ms)
{
    const char *p = *pp;
    *sec = *frac_ms = 0;
    if ((*h = take_digits(&p, 2)) < 0 || *h > 23 || *p++ != ':')
        return -1;
    if ((*mi = take_digits(&p, 2)) < 0 || *mi > 59)
        return -1;
    if (*p == ':') {
        p++;
        if ((*sec = take_digits(&p, 2)) < 0 || *sec > 60)
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            int nd = 0;
            for (; isdigit((unsigned char)*p); p++, nd++) {
                if (nd < 3)
                    *frac_ms = *frac_ms * 10 + (*p - '0');
                else if (nd > 30)
                    return -1;
            }
            if (nd == 0)
                return -1;
            for (; nd < 3; nd++) /* "5" is 500 ms, "12" is 120 ms */
                *frac_ms *= 10;
        }
    }
    *pp = p;
    return 0;
}

kt_status time_parse_iso8601(const char *s, int64_t *ms)
{
    if (!s)
        return KT_ERR_INVALID;
    const char *p = s;
    int y = take_digits(&p, 4), mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac_ms = 0, off = 0;
    if (y < 0)
        return KT_ERR_INVALID;
    if (*p == '-') { /* "YYYY-MM" */
        p++;
        if ((mo = take_digits(&p, 2)) < 1 || mo > 12)
            return KT_ERR_INVALID;
    }
    if (*p == '-') { /* "YYYY-MM-DD": only reachable after a month */
        p++;
        if ((d = take_digits(&p, 2)) < 1 || d > days_in_month(y, mo))
            return KT_ERR_INVALID;
        if (*p == 'T' || *p == 't' || *p == ' ') {
            p++;
            if (parse_clock(&p, &h, &mi, &sec, &frac_ms) != 0 || parse_zone(&p, &off) != 0)
                return KT_ERR_INVALID;
        }
    }
    if (*p != '\0')
        return KT_ERR_INVALID;
    *ms = civil_to_ms(y, mo, d, h, mi, sec) + frac_ms - (int64_t)off * 60000;
    return KT_OK;
}

void time_format_iso8601(int64_t ms, char out[32])
{
    /* floor division so times before 1970 format correctly */
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (rem < 0)
        rem += MS_PER_DAY, days--;
    int64_t y;
    int m, d;
    time_civil_from_days(days, &y, &m, &d);
    if (y < 0)
        y = 0, m = 1, d = 1, rem = 0;
    else if (y > 9999)
        y = 9999, m = 12, d = 31, rem = MS_PER_DAY - 1;
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    if (frac)
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d, h, mi, s, frac);
    else
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d, h, mi, s);
}

static int month_from_name(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(p, names + 3 * i, 3) == 0)
            return i + 1;
    return -1;
}

/* "HH:MM:SS" */
static int parse_hms(const char **p, int *h, int *mi, int *s)
{
    *h = take_digits(p, 2);
    if (*h < 0 || *h > 23 || *(*p)++ != ':')
        return -1;
    *mi = take_digits(p, 2);
    if (*mi < 0 || *mi > 59 || *(*p)++ != ':')
        return -1;
    *s = take_digits(p, 2);
    return *s < 0 || *s > 60 ? -1 : 0;
}

static const char *skip_weekday(const char *p, char end)
{
    static const char *const days[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                       "Saturday", "Sunday"};
    for (size_t i = 0; i < 7; i++) {
        size_t n = end == ',' ? strlen(days[i]) : 3; /* RFC 850 has full names */
        if (strncmp(p, days[i], 3) == 0) {
            if (p[3] == end)
                return p + 4;
            if (strncmp(p, days[i], n) == 0 && p[n] == end)
                return p + n + 1;
        }
    }
    return NULL;
}

kt_status time_parse_http_date(const char *s, int64_t *ms)
{
    if (!s)
        return KT_ERR_INVALID;
    int y, mo, d, h, mi, sec;
    const char *p = skip_weekday(s, ',');
    if (p) {
        if (*p++ != ' ')
            return KT_ERR_INVALID;
        if ((d = take_digits(&p, 2)) < 1)
            return KT_ERR_INVALID;
        char sep = *p;
        if (sep != ' ' && sep != '-')
            return KT_ERR_INVALID;
        p++;
        if ((mo = month_from_name(p)) < 0)
            return KT_ERR_INVALID;
        p += 3;
        if (*p++ != sep)
            return KT_ERR_INVALID;
        if (sep == ' ') { /* IMF-fixdate */
            y = take_digits(&p, 4);
        } else { /* RFC 850: two-digit year, RFC 9110 says pick the century within 50 years */
            y = take_digits(&p, 2);
            if (y >= 0)
                y += y < 70 ? 2000 : 1900;
        }
        if (y < 0 || *p++ != ' ' || parse_hms(&p, &h, &mi, &sec) != 0 || strcmp(p, " GMT") != 0)
            return KT_ERR_INVALID;
    } else if ((p = skip_weekday(s, ' ')) != NULL) { /* asctime: "Sun Nov  6 08:49:37 1994" */
        if ((mo = month_from_name(p)) < 0 || p[3] != ' ')
            return KT_ERR_INVALID;
        p += 4;
        if (*p == ' ')
            p++, d = take_digits(&p, 1);
        else
            d = take_digits(&p, 2);
        if (d < 1 || *p++ != ' ' || parse_hms(&p, &h, &mi, &sec) != 0 || *p++ != ' ')
            return KT_ERR_INVALID;
        if ((y = take_digits(&p, 4)) < 0 || *p != '\0')
            return KT_ERR_INVALID;
    } else {
        return KT_ERR_INVALID;
    }
    if (d > days_in_month(y, mo))
        return KT_ERR_INVALID;
    *ms = civil_to_ms(y, mo, d, h, mi, sec);
    return KT_OK;
}

kt_status time_parse_retry_after(const char *value, int64_t now_ms, int64_t *at_ms)
{
    if (!value)
        return KT_ERR_INVALID;
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        int64_t secs = 0;
        const char *p = value;
        for (; isdigit((unsigned char)*p); p++)
            if (secs <= RETRY_AFTER_MAX_S)
                secs = secs * 10 + (*p - '0');
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return KT_ERR_INVALID;
        if (secs > RETRY_AFTER_MAX_S)
            secs = RETRY_AFTER_MAX_S;
        *at_ms = now_ms + secs * 1000;
        return KT_OK;
    }
    int64_t t;
    if (time_parse_http_date(value, &t) != KT_OK)
        return KT_ERR_INVALID;
    *at_ms = t > now_ms ? t : now_ms;
    return KT_OK;
}

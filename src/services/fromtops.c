/* fromtops.c - playlists from top tracks (see fromtops.h).
 *
 * The history ranking is GET /api/stats/tops's own (stats_tops), so the
 * playlist holds exactly what the Listening page lists for the same
 * period; checking a history definition runs that ranking once with limit
 * 1, which also gives period/from/to the very same 400s as that route.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/fromtops.h"
#include "services/jobs.h"
#include "services/stats.h"
#include "services/sync.h"
#include "store/store_fromtops.h"
#include "store/store_library.h"

#define FROMTOPS_KIND "fromtops"
#define SPEC_MAX 160

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

static kt_status bad(kt_err *err, const char *msg)
{
    return err_set(err, KT_ERR_INVALID, "bad_parameter", "%s", msg);
}

/* body[key]: absent/null (*out NULL) or a string without NULs. */
static kt_status str_field(const json_t *body, const char *key, const char **out, kt_err *err)
{
    const json_t *v = json_object_get(body, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return KT_OK;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "%s: expected a string", key);
    *out = json_string_value(v);
    return KT_OK;
}

/* body[key]: absent/null (*out = STATS_NO_TIME), an ISO 8601 time or unix ms
 * (a number, or a string of digits). */
static kt_status time_field(const json_t *body, const char *key, int64_t *out, kt_err *err)
{
    const json_t *v = json_object_get(body, key);
    *out = STATS_NO_TIME;
    if (v == NULL || json_is_null(v))
        return KT_OK;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (int64_t)json_integer_value(v);
        return KT_OK;
    }
    if (json_is_string(v)) {
        /* Digits are unix ms, as in the query strings of the stats routes. */
        const char *t = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long ms = strtoll(t, &end, 10);
        if (t[0] >= '0' && t[0] <= '9' && *end == '\0' && errno == 0) {
            *out = (int64_t)ms;
            return KT_OK;
        }
        if (time_parse_iso8601(t, out) == KT_OK)
            return KT_OK;
    }
    *out = STATS_NO_TIME;
    return err_set(err, KT_ERR_INVALID, "bad_parameter",
                   "%s: expected an ISO 8601 time or unix milliseconds", key);
}

static int one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return 1;
    return 0;
}

static const char *range_label(const char *range)
{
    return strcmp(range, "short_term") == 0    ? "last 4 weeks"
           : strcmp(range, "medium_term") == 0 ? "last 6 months"
                                               : "all time";
}

/* A definition read from a request body, with the buffers its strings use. */
typedef struct parsed_def {
    store_fromtops_def d;
    stats_range_args range; /* history */
    char spec[SPEC_MAX];
    char name[SHUFFLE_NAME_MAX + 1];
} parsed_def;

static kt_status parse_def(const json_t *body, parsed_def *p, kt_err *err)
{
    static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
    static const char *const refreshes[] = {"none", "weekly", "monthly"};
    const char *source = NULL, *range = NULL, *by = NULL, *name = NULL, *refresh = NULL;
    const char *period = NULL;
    int64_t from = STATS_NO_TIME, to = STATS_NO_TIME;
    kt_status st;
    memset(p, 0, sizeof *p);
    if (!json_is_object(body))
        return bad(err, "body: expected a JSON object");
    if ((st = str_field(body, "source", &source, err)) != KT_OK ||
        (st = str_field(body, "range", &range, err)) != KT_OK ||
        (st = str_field(body, "period", &period, err)) != KT_OK ||
        (st = str_field(body, "by", &by, err)) != KT_OK ||
        (st = str_field(body, "name", &name, err)) != KT_OK ||
        (st = str_field(body, "refresh", &refresh, err)) != KT_OK ||
        (st = time_field(body, "from", &from, err)) != KT_OK ||
        (st = time_field(body, "to", &to, err)) != KT_OK)
        return st;
    if (source == NULL || (strcmp(source, "spotify") != 0 && strcmp(source, "history") != 0))
        return bad(err, "source: must be spotify or history");
    const json_t *lim = json_object_get(body, "limit");
    int64_t limit = FROMTOPS_DEFAULT_LIMIT;
    if (lim != NULL && !json_is_null(lim)) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 100)
            return bad(err, "limit: must be an integer 1..100");
        limit = (int64_t)json_integer_value(lim);
    }
    if (refresh == NULL)
        refresh = "none";
    if (!one_of(refresh, refreshes, 3))
        return bad(err, "refresh: must be none, weekly or monthly");
    if (name != NULL && (name[0] == '\0' || strlen(name) > SHUFFLE_NAME_MAX))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "name: expected 1..%d bytes of text",
                       SHUFFLE_NAME_MAX);
    p->d.source = source;
    p->d.limit = limit;
    p->d.refresh = refresh;
    p->d.from_ms = p->d.to_ms = -1;
    if (strcmp(source, "spotify") == 0) {
        if (period)
            return bad(err, "period: only with source history");
        if (by)
            return bad(err, "by: only with source history");
        if (from != STATS_NO_TIME)
            return bad(err, "from: only with source history");
        if (to != STATS_NO_TIME)
            return bad(err, "to: only with source history");
        if (range == NULL)
            range = "medium_term";
        if (!one_of(range, ranges, 3))
            return bad(err, "range: must be short_term, medium_term or long_term");
        p->d.time_range = range;
        snprintf(p->spec, sizeof p->spec, "spotify:%s:%" PRId64, range, limit);
        snprintf(p->name, sizeof p->name, "Top %" PRId64 ": %s", limit, range_label(range));
    } else {
        if (range)
            return bad(err, "range: only with source spotify");
        if (by == NULL)
            by = "plays";
        if (strcmp(by, "plays") != 0 && strcmp(by, "time") != 0)
            return bad(err, "by: must be plays or time");
        if (period == NULL)
            period = from != STATS_NO_TIME ? "custom" : "month";
        p->d.period = period;
        p->d.by = by;
        p->d.from_ms = from == STATS_NO_TIME ? -1 : from;
        p->d.to_ms = to == STATS_NO_TIME ? -1 : to;
        p->range = (stats_range_args){.period = period, .from_ms = from, .to_ms = to};
        snprintf(p->spec, sizeof p->spec, "history:%s:%s:%" PRId64 ":%" PRId64 ":%" PRId64, by,
                 period, p->d.from_ms, p->d.to_ms, limit);
        if (strcmp(period, "custom") == 0 || to != STATS_NO_TIME) {
            char a[32] = "", b[32] = "";
            if (from != STATS_NO_TIME)
                time_format_iso8601(from, a);
            if (to != STATS_NO_TIME)
                time_format_iso8601(to, b);
            a[10] = b[10] = '\0';
            snprintf(p->name, sizeof p->name, "Top %" PRId64 " by %s: %s%s%s", limit, by,
                     a[0] ? a : period, b[0] ? " to " : "", b);
        } else {
            snprintf(p->name, sizeof p->name, "Top %" PRId64 " by %s: %s%s", limit, by,
                     strcmp(period, "all") == 0 ? "" : "last ", strcmp(period, "all") == 0
                                                                  ? "all time"
                                                                  : period);
        }
    }
    p->d.spec = p->spec;
    p->d.name = name ? name : p->name;
    return KT_OK;
}

static json_t *str_or_null(const store_rows *r, size_t row, size_t col)
{
    const char *v = store_rows_text(r, row, col);
    return v ? json_string(v) : json_null();
}

static json_t *time_or_null(const store_rows *r, size_t row, size_t col)
{
    char iso[32];
    if (store_rows_is_null(r, row, col))
        return json_null();
    time_format_iso8601(store_rows_int(r, row, col), iso);
    return json_string(iso);
}

/* A row of store_fromtops_list/get as JSON. */
static json_t *def_json(const store_rows *r, size_t i)
{
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "id",
                     (json_int_t)store_rows_int(r, i, 0), "source", str_or_null(r, i, 1),
                     "range", str_or_null(r, i, 2), "period", str_or_null(r, i, 3), "from",
                     time_or_null(r, i, 4), "to", time_or_null(r, i, 5), "by",
                     str_or_null(r, i, 6), "limit", (json_int_t)store_rows_int(r, i, 7), "name",
                     str_or_null(r, i, 8), "refresh", str_or_null(r, i, 9), "playlist_id",
                     str_or_null(r, i, 10), "last_run_at", time_or_null(r, i, 11),
                     "created_at", time_or_null(r, i, 12));
}

kt_status fromtops_save(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                        int64_t *def_id, json_t **out, kt_err *err)
{
    parsed_def p;
    store *s = NULL;
    store_rows *r = NULL;
    json_t *probe = NULL;
    int64_t id = 0;
    kt_status st = parse_def(body, &p, err);
    if (st != KT_OK)
        return st;
    /* The period, from and to are checked by the ranking itself. */
    if (strcmp(p.d.source, "history") == 0 &&
        (st = stats_tops(app, user_id, "tracks", p.d.by, &p.range, 1, now_ms, &probe, err)) !=
            KT_OK)
        return st;
    json_decref(probe);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_fromtops_save(s, user_id, &p.d, now_ms, &id, NULL, err);
    if (st == KT_OK)
        st = store_fromtops_get(s, user_id, id, &r, err);
    if (st == KT_OK && (*out = def_json(r, 0)) == NULL)
        st = nomem(err);
    if (st == KT_OK)
        *def_id = id;
    store_rows_free(r);
    app_db_put(app, s);
    return st;
}

kt_status fromtops_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    json_t *arr = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_fromtops_list(s, user_id, &r, err)) != KT_OK)
        goto out;
    if ((arr = json_array()) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(r); i++)
        if (json_array_append_new(arr, def_json(r, i)) != 0) {
            st = nomem(err);
            goto out;
        }
    if ((*out = json_pack("{s:O}", "definitions", arr)) == NULL)
        st = nomem(err);
out:
    json_decref(arr);
    store_rows_free(r);
    app_db_put(app, s);
    return st;
}

kt_status fromtops_delete(kt_app *app, int64_t user_id, int64_t def_id, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_fromtops_delete(s, user_id, def_id, err);
    app_db_put(app, s);
    return st;
}

/* The definition's tracks now, in rank order: *uris (strdup'd each,
 * caller frees with free_uris) and *n. */
typedef struct uri_list {
    char **v;
    size_t n;
} uri_list;

static void free_uris(uri_list *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i]);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

/* Only what a playlist can hold: local files have no addable URI. */
static int addable(const char *uri)
{
    return uri && (strncmp(uri, "spotify:track:", 14) == 0 ||
                   strncmp(uri, "spotify:episode:", 16) == 0);
}

static kt_status push_uri(uri_list *u, size_t cap, const char *uri, kt_err *err)
{
    if (!addable(uri) || u->n >= cap)
        return KT_OK;
    if ((u->v[u->n] = strdup(uri)) == NULL)
        return nomem(err);
    u->n++;
    return KT_OK;
}

static kt_status spotify_uris(kt_app *app, int64_t user_id, const char *range, size_t limit,
                              uri_list *u, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    char day[11];
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_top_latest_day(s, user_id, "tracks", range, day, err);
    if (st == KT_ERR_NOT_FOUND)
        st = err_set(err, KT_ERR_INVALID, "empty_list", "Spotify has no top tracks of %s for you",
                     range);
    if (st == KT_OK)
        st = store_top_get(s, user_id, "tracks", range, day, &r, err);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++)
        st = push_uri(u, limit, store_rows_text(r, i, 1), err);
    store_rows_free(r);
    app_db_put(app, s);
    return st;
}

static kt_status history_uris(kt_app *app, int64_t user_id, const store_rows *d, size_t limit,
                              uri_list *u, kt_err *err)
{
    json_t *tops = NULL;
    stats_range_args range = {
        .period = store_rows_text(d, 0, 3),
        .from_ms = store_rows_is_null(d, 0, 4) ? STATS_NO_TIME : store_rows_int(d, 0, 4),
        .to_ms = store_rows_is_null(d, 0, 5) ? STATS_NO_TIME : store_rows_int(d, 0, 5)};
    kt_status st = stats_tops(app, user_id, "tracks", store_rows_text(d, 0, 6), &range,
                              (int)limit, time_now_ms(), &tops, err);
    const json_t *items = json_object_get(tops, "items");
    for (size_t i = 0; st == KT_OK && i < json_array_size(items); i++)
        st = push_uri(u, limit, json_str(json_array_get(items, i), "uri"), err);
    json_decref(tops);
    return st;
}

kt_status fromtops_run(kt_app *app, int64_t user_id, int64_t def_id,
                       shuffle_progress_fn progress, void *progress_ctx, shuffle_result *out,
                       kt_err *err)
{
    store *s = NULL;
    store_rows *d = NULL;
    uri_list u = {0};
    char source_key[32], desc[200], name[SHUFFLE_NAME_MAX + 1];
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_fromtops_get(s, user_id, def_id, &d, err);
    app_db_put(app, s);
    s = NULL;
    if (st != KT_OK)
        return st;
    int64_t limit = store_rows_int(d, 0, 7);
    int spotify = strcmp(store_rows_text(d, 0, 1), "spotify") == 0;
    snprintf(name, sizeof name, "%s", store_rows_text(d, 0, 8));
    if (limit < 1 || limit > 100) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "definition %lld has limit %lld",
                     (long long)def_id, (long long)limit);
        goto out;
    }
    if ((u.v = calloc((size_t)limit, sizeof *u.v)) == NULL) {
        st = nomem(err);
        goto out;
    }
    /* Spotify's lists move daily: rank from today's, not the last sync's. */
    if (spotify && (st = sync_run(app, user_id, SYNC_TOP, progress, NULL, NULL, progress_ctx, err)) !=
                       KT_OK)
        goto out;
    st = spotify ? spotify_uris(app, user_id, store_rows_text(d, 0, 2), (size_t)limit, &u, err)
                 : history_uris(app, user_id, d, (size_t)limit, &u, err);
    if (st != KT_OK)
        goto out;
    if (u.n == 0) {
        st = err_set(err, KT_ERR_INVALID, "empty_list",
                     spotify ? "Spotify has no top tracks of that range for you"
                             : "no plays in that period: nothing to rank");
        goto out;
    }
    snprintf(source_key, sizeof source_key, "%lld", (long long)def_id);
    snprintf(desc, sizeof desc, "Your top %lld tracks (%s), made by keeptrack.", (long long)u.n,
             spotify ? range_label(store_rows_text(d, 0, 2)) : "from your listening history");
    shuffle_list_spec spec = {FROMTOPS_KIND, source_key, name, desc,
                              (const char *const *)u.v, u.n};
    if ((st = shuffle_write_list(app, user_id, &spec, progress, progress_ctx, out, err)) != KT_OK)
        goto out;
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    st = store_fromtops_ran(s, user_id, def_id, out->playlist_id, time_now_ms(), err);
    if (st == KT_OK)
        LOG_INFO("fromtops_playlist", "user=%lld def=%lld playlist=%s tracks=%zu replaced=%d",
                 (long long)user_id, (long long)def_id, out->playlist_id, u.n, out->replaced);
out:
    app_db_put(app, s);
    free_uris(&u);
    store_rows_free(d);
    return st;
}

/* The job of definition def_id; dedupe_key may be NULL (asked for now). */
static kt_status enqueue_def(kt_app *app, int64_t user_id, int64_t def_id,
                             const char *dedupe_key, int64_t *job_id, int *created, kt_err *err)
{
    char params[48], lane[48];
    snprintf(params, sizeof params, "{\"def\":%lld}", (long long)def_id);
    /* One write per definition at a time: two at once would interleave
     * their items in the same playlist. */
    snprintf(lane, sizeof lane, "fromtops:%lld", (long long)def_id);
    store_job_spec spec = {.kind = FROMTOPS_JOB_KIND, .user_id = user_id, .params = params,
                           .lane = lane, .dedupe_key = dedupe_key};
    return jobs_enqueue(app, &spec, job_id, created, err);
}

kt_status fromtops_enqueue(kt_app *app, int64_t user_id, int64_t def_id, int64_t *job_id,
                           int *created, kt_err *err)
{
    return enqueue_def(app, user_id, def_id, NULL, job_id, created, err);
}

kt_status fromtops_enqueue_due(kt_app *app, int64_t now_ms, int64_t *enqueued, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    int64_t made = 0;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_fromtops_due(s, now_ms, &r, err);
    app_db_put(app, s);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        char key[80];
        int64_t id = store_rows_int(r, i, 0), job = 0;
        int created = 0;
        /* The last run and today in the key: instances that see the same
         * due definition enqueue one job, and a failed refresh is tried
         * again the next day, not on every scheduler tick. */
        snprintf(key, sizeof key, "fromtops:%lld:%lld:%lld", (long long)id,
                 (long long)store_rows_int(r, i, 2), (long long)(now_ms / 86400000));
        st = enqueue_def(app, store_rows_int(r, i, 1), id, key, &job, &created, err);
        made += created;
    }
    store_rows_free(r);
    if (st == KT_OK && enqueued)
        *enqueued = made;
    return st;
}

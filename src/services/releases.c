/* releases.c - the releases job and the read side of new releases (see
 * releases.h for what each does and why).
 *
 * Layout: album JSON -> store rows (rowset), the extended-quota path
 * (/browse/new-releases), the development-mode artist walk, the run, the
 * job plumbing (enqueue, schedule), then the read side: building the JSON
 * answers and the cache of serialized global answers.
 */
#include "services/releases.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/jobs.h"
#include "services/scheduler.h"
#include "spotify/spotify.h"
#include "store/store_auth.h"
#include "store/store_releases.h"

/* Artists per batch of the walk: one spotify_get_many and one transaction. */
#define WALK_BATCH 16
/* Further pages of one artist's albums, fetched only while the page is
 * still entirely inside the window (prolific artists). */
#define WALK_MAX_EXTRA_PAGES 5
/* Albums per /artists/{id}/albums page: the development-mode maximum. */
#define WALK_PAGE_LIMIT 10
#define NEW_RELEASES_PAGE 50
#define MAX_MARKETS 32
/* Spotify ids are base62; anything else never goes into a URL. */
#define ID_MAX 64
/* Cached global answers kept at most, and their longest life: names and
 * images come from the catalog, which a library sync updates without
 * touching the releases data version. */
#define CACHE_MAX 64
#define CACHE_MAX_AGE_MS 60000
#define BODY_MAX (16u << 20)

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

/* The first day inside the window ending at now_ms, "YYYY-MM-DD". */
static void window_start(int64_t now_ms, int window_days, char day[11])
{
    time_t t = (time_t)(now_ms / 1000) - (time_t)window_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(day, 11, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday);
}

static int valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

/* ---- album JSON -> rows ---- */

/* Rows whose strings are borrowed from JSON pages the set keeps alive. */
typedef struct rowset {
    json_t *keep; /* array of the pages the rows point into */
    store_release_row *rows;
    size_t n, cap;
} rowset;

static kt_status rowset_init(rowset *rs, kt_err *err)
{
    memset(rs, 0, sizeof *rs);
    if ((rs->keep = json_array()) == NULL)
        return nomem(err);
    return KT_OK;
}

static void rowset_clear(rowset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free((void *)rs->rows[i].artists);
    free(rs->rows);
    json_decref(rs->keep);
    memset(rs, 0, sizeof *rs);
}

static kt_status rowset_keep(rowset *rs, const json_t *page, kt_err *err)
{
    if (json_array_append(rs->keep, (json_t *)page) != 0)
        return nomem(err);
    return KT_OK;
}

/* Adds one simplified album object (borrowed from a kept page). Objects
 * without an id are ignored. */
static kt_status rowset_add_album(rowset *rs, const json_t *al, kt_err *err)
{
    const json_t *artists = json_arr(al, "artists");
    const char *id = json_str(al, "id");
    store_release_artist *ra = NULL;
    size_t na = 0, i;
    const json_t *a;
    if (!valid_id(id))
        return KT_OK;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        store_release_row *grown = realloc(rs->rows, cap * sizeof *grown);
        if (grown == NULL)
            return nomem(err);
        rs->rows = grown;
        rs->cap = cap;
    }
    if (json_array_size(artists) > 0) {
        size_t max = json_array_size(artists);
        if (max > STORE_REL_MAX_ARTISTS)
            max = STORE_REL_MAX_ARTISTS;
        if ((ra = calloc(max, sizeof *ra)) == NULL)
            return nomem(err);
        json_array_foreach(artists, i, a) {
            if (na == max)
                break;
            if (!valid_id(json_str(a, "id")))
                continue; /* local-file artists have no id */
            ra[na].id = json_str(a, "id");
            ra[na].name = json_str(a, "name");
            ra[na].url = json_path_str(a, "external_urls.spotify");
            na++;
        }
    }
    rs->rows[rs->n++] = (store_release_row){
        .id = id,
        .name = json_str(al, "name"),
        .album_type = json_str(al, "album_type"),
        .release_date = json_str(al, "release_date"),
        .release_date_precision = json_str(al, "release_date_precision"),
        .total_tracks = json_int(al, "total_tracks", -1),
        .image_url = json_path_str(al, "images.0.url"),
        .url = json_path_str(al, "external_urls.spotify"),
        .artists = ra,
        .n_artists = na,
    };
    return KT_OK;
}

/* Adds every album of a paging object's items; *oldest_in_window (may be
 * NULL) is set to 0 when any album is dated before min_day. */
static kt_status rowset_add_page(rowset *rs, const json_t *page, const char *min_day,
                                 int *all_in_window, kt_err *err)
{
    const json_t *items = json_arr(page, "items");
    size_t i;
    const json_t *al;
    kt_status st = rowset_keep(rs, page, err);
    json_array_foreach(items, i, al) {
        char day[11];
        if (st != KT_OK)
            break;
        if (all_in_window && (store_release_day(json_str(al, "release_date"), day) != 0 ||
                              strcmp(day, min_day) < 0))
            *all_in_window = 0;
        st = rowset_add_album(rs, al, err);
    }
    return st;
}

/* ---- the run ---- */

typedef struct run {
    kt_app *app;
    const releases_hooks *hooks;
    int64_t caller; /* SPOTIFY_APP_USER or a user id */
    int64_t now;
    char min_day[11];
    releases_report rep;
    int stopped;
} run;

static void progress(run *r, int64_t done, int64_t total, const char *msg)
{
    if (r->hooks && r->hooks->progress)
        r->hooks->progress(r->hooks->ctx, done, total, msg);
}

static int stopping(run *r)
{
    if (r->hooks && r->hooks->stopping && r->hooks->stopping(r->hooks->ctx))
        r->stopped = 1;
    return r->stopped;
}

/* Stores rows found through `source` (with the batch's checked artists). */
static kt_status store_rows_found(run *r, const char *source, const rowset *rs,
                                  const char *const *checked, size_t n_checked, kt_err *err)
{
    store *s = NULL;
    int64_t added = 0, skipped = 0;
    kt_status st = app_db_get(r->app, &s, err);
    if (st == KT_OK)
        st = store_releases_put_checked(s, source, rs->rows, rs->n, checked, n_checked,
                                        r->min_day, r->now, &added, &skipped, err);
    app_db_put(r->app, s);
    if (st == KT_OK) {
        r->rep.found += (int64_t)rs->n - skipped;
        r->rep.added += added;
        if (added > 0)
            releases_cache_invalidate();
    }
    return st;
}

static kt_status new_releases_page(void *ctx, const json_t *page, kt_err *err)
{
    return rowset_add_page(ctx, page, NULL, NULL, err);
}

/* Extended quota: every page of /browse/new-releases per market. */
static kt_status run_extended(run *r, kt_err *err)
{
    const char *markets = r->app->cfg->releases_markets;
    char list[MAX_MARKETS][3];
    size_t n = 0;
    kt_status st = KT_OK;
    for (const char *p = markets; p && *p && n < MAX_MARKETS; p += p[2] ? 3 : 2) {
        memcpy(list[n], p, 2); /* validated by config: "XX,YY" */
        list[n++][2] = '\0';
        if (!p[2])
            break;
    }
    for (size_t i = 0; st == KT_OK && i < (n ? n : 1); i++) {
        char path[64], msg[64];
        rowset rs;
        if (stopping(r))
            break;
        snprintf(path, sizeof path, "/browse/new-releases%s%s", n ? "?country=" : "",
                 n ? list[i] : "");
        snprintf(msg, sizeof msg, "new releases%s%s", n ? " " : "", n ? list[i] : "");
        progress(r, (int64_t)i, (int64_t)(n ? n : 1), msg);
        if ((st = rowset_init(&rs, err)) != KT_OK)
            break;
        st = spotify_get_all_offset(r->app->spotify, r->caller, path, NEW_RELEASES_PAGE,
                                    "albums", new_releases_page, &rs, err);
        if (st == KT_OK)
            st = store_rows_found(r, STORE_REL_SRC_NEW_RELEASES, &rs, NULL, 0, err);
        rowset_clear(&rs);
    }
    return st;
}

/* The path of `next` relative to the API base, or NULL when it is not
 * under it (then the walk does not follow it). */
static const char *relative_next(run *r, const json_t *page)
{
    const char *next = json_str(page, "next");
    const char *base = r->app->cfg->spotify_api_url;
    size_t n = base ? strlen(base) : 0;
    if (!next || !n || strncmp(next, base, n) != 0 || next[n] != '/')
        return NULL;
    return next + n;
}

/* One artist's albums page (already fetched) plus further pages while the
 * albums are all still inside the window. */
static kt_status walk_artist(run *r, json_t *page, rowset *rs, kt_err *err)
{
    int all_in = 1;
    kt_status st = rowset_add_page(rs, page, r->min_day, &all_in, err);
    json_t *cur = page;
    for (int extra = 0; st == KT_OK && all_in && extra < WALK_MAX_EXTRA_PAGES; extra++) {
        const char *next = relative_next(r, cur);
        json_t *more = NULL;
        if (next == NULL)
            break;
        if ((st = spotify_get(r->app->spotify, r->caller, next, &more, err)) != KT_OK)
            break;
        st = rowset_add_page(rs, more, r->min_day, &all_in, err);
        json_decref(more); /* the rowset keeps its own reference */
        cur = json_array_get(rs->keep, json_array_size(rs->keep) - 1);
    }
    return st;
}

/* Fetches the first album page of each artist: together when possible,
 * one by one when one of them is unknown (404 fails a batch as a whole). */
static kt_status walk_fetch(run *r, char paths[][128], size_t n, json_t **pages, kt_err *err)
{
    const char *p[WALK_BATCH];
    for (size_t i = 0; i < n; i++)
        p[i] = paths[i];
    kt_status st = spotify_get_many(r->app->spotify, r->caller, p, n, pages, err);
    if (st != KT_ERR_NOT_FOUND)
        return st;
    for (size_t i = 0; i < n; i++) {
        kt_err one = {0};
        st = spotify_get(r->app->spotify, r->caller, p[i], &pages[i], &one);
        if (st == KT_ERR_NOT_FOUND) {
            pages[i] = NULL; /* an artist Spotify no longer has: checked, nothing found */
            continue;
        }
        if (st != KT_OK) {
            *err = one;
            for (size_t k = 0; k < i; k++) {
                json_decref(pages[k]);
                pages[k] = NULL;
            }
            return st;
        }
    }
    return KT_OK;
}

/* One batch of due artists: fetch, then store releases + checks together. */
static kt_status walk_batch(run *r, const store_rows *due, kt_err *err)
{
    size_t n = store_rows_count(due), nvalid = 0;
    const char *ids[WALK_BATCH];
    char paths[WALK_BATCH][128];
    json_t *pages[WALK_BATCH] = {0};
    rowset rs;
    kt_status st = rowset_init(&rs, err);
    if (st != KT_OK)
        return st;
    for (size_t i = 0; i < n && i < WALK_BATCH; i++) {
        ids[i] = store_rows_text(due, i, 0);
        if (valid_id(ids[i]))
            snprintf(paths[nvalid++], sizeof paths[0],
                     "/artists/%s/albums?include_groups=album,single&limit=%d", ids[i],
                     WALK_PAGE_LIMIT);
    }
    st = walk_fetch(r, paths, nvalid, pages, err);
    for (size_t i = 0; st == KT_OK && i < nvalid; i++)
        if (pages[i])
            st = walk_artist(r, pages[i], &rs, err);
    if (st == KT_OK)
        st = store_rows_found(r, STORE_REL_SRC_ARTIST_ALBUMS, &rs, ids, n, err);
    if (st == KT_OK)
        r->rep.artists_checked += (int64_t)n;
    for (size_t i = 0; i < nvalid; i++)
        json_decref(pages[i]);
    rowset_clear(&rs);
    return st;
}

static kt_status artists_due(run *r, int64_t before, store_rows **out, int64_t *due, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(r->app, &s, err);
    if (st == KT_OK)
        st = store_releases_artists_due(s, before, WALK_BATCH, out, due, err);
    app_db_put(r->app, s);
    return st;
}

/* Development mode: the albums of due followed and top artists. */
static kt_status run_walk(run *r, kt_err *err)
{
    int64_t before = r->now - (int64_t)r->app->cfg->releases_recheck_hours * 3600 * 1000;
    int64_t total = -1, due = 0;
    kt_status st = KT_OK;
    for (;;) {
        store_rows *batch = NULL;
        char msg[64];
        if (stopping(r))
            break;
        if ((st = artists_due(r, before, &batch, &due, err)) != KT_OK)
            break;
        if (total < 0)
            total = due;
        if (store_rows_count(batch) == 0) {
            store_rows_free(batch);
            break;
        }
        snprintf(msg, sizeof msg, "artists %lld/%lld", (long long)r->rep.artists_checked,
                 (long long)total);
        progress(r, r->rep.artists_checked, total, msg);
        st = walk_batch(r, batch, err);
        store_rows_free(batch);
        if (st != KT_OK)
            break;
        due -= WALK_BATCH;
    }
    r->rep.artists_left = due > 0 ? due : 0;
    return st;
}

/* The token the run uses: the app's when it has a client secret (the
 * client-credentials grant), else the first active user's. *caller 0 with
 * KT_OK (and *none 1) when there is neither. */
static kt_status pick_caller(kt_app *app, int64_t *caller, int *none, kt_err *err)
{
    store *s = NULL;
    store_user *users = NULL;
    size_t n = 0;
    const char *secret = app->cfg->spotify_client_secret;
    *none = 0;
    if (secret && *secret) {
        *caller = SPOTIFY_APP_USER;
        return KT_OK;
    }
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_user_list(s, &users, &n, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    *none = 1;
    for (size_t i = 0; i < n && *none; i++)
        if (strcmp(users[i].status, STORE_USER_ACTIVE) == 0) {
            *caller = users[i].id;
            *none = 0;
        }
    store_user_list_free(users, n);
    return KT_OK;
}

static kt_status age_out(run *r, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(r->app, &s, err);
    if (st == KT_OK)
        st = store_releases_age_out(s, r->min_day, &r->rep.aged_out, err);
    app_db_put(r->app, s);
    if (st == KT_OK && r->rep.aged_out > 0)
        releases_cache_invalidate();
    return st;
}

kt_status releases_run(kt_app *app, int64_t now_ms, const releases_hooks *hooks,
                       releases_report *report, int *stopped, kt_err *err)
{
    run r = {.app = app, .hooks = hooks, .now = now_ms};
    spotify_mode mode = SPOTIFY_MODE_UNKNOWN;
    uint64_t req0 = spotify_thread_requests();
    int none = 0;
    window_start(now_ms, app->cfg->releases_window_days, r.min_day);
    kt_status st = age_out(&r, err);
    if (st == KT_OK)
        st = pick_caller(app, &r.caller, &none, err);
    if (st == KT_OK && none) {
        LOG_INFO("releases_skipped", "reason=%s", "no_token");
        goto out;
    }
    if (st == KT_OK)
        st = spotify_detect_mode(app->spotify, r.caller, &mode, err);
    if (st == KT_OK) {
        r.rep.extended = mode == SPOTIFY_MODE_EXTENDED;
        st = r.rep.extended ? run_extended(&r, err) : run_walk(&r, err);
    }
out:
    r.rep.requests = spotify_thread_requests() - req0;
    if (st == KT_OK) {
        progress(&r, 1, 1, "done");
        LOG_INFO("releases_done",
                 "extended=%d found=%lld added=%lld aged_out=%lld artists=%lld left=%lld "
                 "requests=%llu stopped=%d",
                 r.rep.extended, (long long)r.rep.found, (long long)r.rep.added,
                 (long long)r.rep.aged_out, (long long)r.rep.artists_checked,
                 (long long)r.rep.artists_left, (unsigned long long)r.rep.requests, r.stopped);
    }
    if (report)
        *report = r.rep;
    if (stopped)
        *stopped = r.stopped;
    return st;
}

kt_status releases_enqueue(kt_app *app, int64_t user_id, const char *dedupe_key, int64_t *id,
                           int *created, kt_err *err)
{
    store_job_spec spec = {.kind = RELEASES_JOB_KIND,
                           .user_id = user_id,
                           .params = "{}",
                           .dedupe_key = dedupe_key,
                           .lane = RELEASES_LANE};
    return jobs_enqueue(app, &spec, id, created, err);
}

kt_status releases_schedule(kt_app *app, int64_t every, int64_t now_ms, int *enqueued,
                            kt_err *err)
{
    char key[STORE_JOB_KEY_MAX + 1];
    int64_t id = 0;
    int created = 0;
    if (every <= 0)
        return KT_OK;
    snprintf(key, sizeof key, "sched:releases:p%lld",
             (long long)scheduler_period_start(now_ms, every));
    kt_status st = releases_enqueue(app, 0, key, &id, &created, err);
    if (st == KT_OK && created) {
        if (enqueued)
            (*enqueued)++;
        LOG_INFO("job_scheduled", "id=%lld schedule=releases", (long long)id);
    }
    return st;
}

/* ---- the read side: JSON answers ---- */

struct releases_payload {
    atomic_int refs;
    char *body;
    size_t len;
    char etag[40];
};

static releases_payload *payload_new(char *body, size_t len)
{
    char hex[65];
    releases_payload *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    atomic_init(&p->refs, 1);
    p->body = body;
    p->len = len;
    crypto_sha256_hex(body, len, hex);
    snprintf(p->etag, sizeof p->etag, "\"%.32s\"", hex);
    return p;
}

static void payload_ref(releases_payload *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void releases_payload_unref(releases_payload *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        free(p->body);
        free(p);
    }
}

const char *releases_payload_body(const releases_payload *p, size_t *len)
{
    if (len)
        *len = p->len;
    return p->body;
}

const char *releases_payload_etag(const releases_payload *p)
{
    return p->etag;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A URL on open.spotify.com when Spotify sent none. */
static json_t *url_or_default(const char *url, const char *kind, const char *id)
{
    char buf[160];
    if (url)
        return json_string(url);
    snprintf(buf, sizeof buf, "https://open.spotify.com/%s/%s", kind, id);
    return json_string(buf);
}

/* The paging link for `offset`, or JSON null when off < 0. */
static json_t *page_link(const releases_query *q, long long off)
{
    char link[256];
    if (off < 0)
        return json_null();
    int n = snprintf(link, sizeof link, "%s?limit=%zu&offset=%lld", q->base_path, q->limit, off);
    if (q->view == RELEASES_VIEW_ARTISTS)
        n += snprintf(link + n, sizeof link - (size_t)n, "&release_limit=%zu", q->release_limit);
    if (q->since[0])
        n += snprintf(link + n, sizeof link - (size_t)n, "&since=%s", q->since);
    if (q->user_id)
        snprintf(link + n, sizeof link - (size_t)n, "&scope=me");
    return json_string(link);
}

static json_t *paging_json(const releases_query *q, int64_t total)
{
    long long off = (long long)q->offset, lim = (long long)q->limit;
    long long next = off + lim < total ? off + lim : -1;
    long long prev = off > 0 ? (off - lim > 0 ? off - lim : 0) : -1;
    return json_pack("{s:I,s:I,s:I,s:o,s:o}", "limit", (json_int_t)lim, "offset",
                     (json_int_t)off, "total", (json_int_t)total, "next", page_link(q, next),
                     "previous", page_link(q, prev));
}

/* Appends v to arr; 0 when it (or arr) is missing. Steals v. */
static int push(json_t *arr, json_t *v)
{
    return arr && v && json_array_append_new(arr, v) == 0;
}

/* ---- the two views: a page of rows (artists or releases), each with a
 * list of children (its releases or its artists) read in one more query ---- */

typedef struct view_def {
    const char *list_key; /* "artists" | "releases" */
    kt_status (*page)(store *s, const store_rel_filter *f, store_rows **out, int64_t *total,
                      kt_err *err);
    /* children of the page's first-column ids: first column = parent id */
    kt_status (*children)(store *s, const releases_query *q, const char *const *ids, size_t n,
                          store_rows **out, kt_err *err);
    json_t *(*child_json)(const store_rows *r, size_t i);
    /* the row's object; children is a new reference it takes */
    json_t *(*item_json)(const store_rows *r, size_t i, json_t *children);
} view_def;

static kt_status releases_of_artists(store *s, const releases_query *q, const char *const *ids,
                                     size_t n, store_rows **out, kt_err *err)
{
    return store_release_artists_releases(s, ids, n, q->since[0] ? q->since : NULL, out, err);
}

static kt_status artists_of_releases(store *s, const releases_query *q, const char *const *ids,
                                     size_t n, store_rows **out, kt_err *err)
{
    (void)q;
    return store_release_artists_of(s, ids, n, out, err);
}

/* A release under an artist: columns as store_release_artists_releases. */
static json_t *release_json(const store_rows *r, size_t i)
{
    const char *id = store_rows_text(r, i, 1);
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "id", id, "name",
                     text_or_null(store_rows_text(r, i, 2)), "type",
                     text_or_null(store_rows_text(r, i, 3)), "release_date",
                     text_or_null(store_rows_text(r, i, 4)), "url",
                     url_or_default(store_rows_text(r, i, 9), "album", id), "image",
                     text_or_null(store_rows_text(r, i, 8)));
}

/* An artist of a release: columns as store_release_artists_of. */
static json_t *artist_ref_json(const store_rows *r, size_t i)
{
    const char *id = store_rows_text(r, i, 2);
    return json_pack("{s:s,s:o,s:o}", "id", id, "name", text_or_null(store_rows_text(r, i, 3)),
                     "url", url_or_default(store_rows_text(r, i, 4), "artist", id));
}

/* An artist with its releases: columns as store_release_artists_page. */
static json_t *artist_json(const store_rows *r, size_t i, json_t *releases)
{
    const char *id = store_rows_text(r, i, 0);
    return json_pack("{s:s,s:o,s:o,s:o,s:o}", "id", id, "name",
                     text_or_null(store_rows_text(r, i, 1)), "url",
                     url_or_default(store_rows_text(r, i, 2), "artist", id), "image",
                     text_or_null(store_rows_text(r, i, 3)), "releases", releases);
}

static json_t *time_json(int64_t ms)
{
    char iso[32];
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *found_via(const store_rows *page, size_t i)
{
    json_t *via = json_array();
    if (via && store_rows_int(page, i, 10))
        json_array_append_new(via, json_string(STORE_REL_SRC_NEW_RELEASES));
    if (via && store_rows_int(page, i, 11))
        json_array_append_new(via, json_string(STORE_REL_SRC_ARTIST_ALBUMS));
    return via;
}

/* A release with its artists: columns as store_releases_page. */
static json_t *album_json(const store_rows *r, size_t i, json_t *artists)
{
    const char *id = store_rows_text(r, i, 0);
    int64_t tracks = store_rows_is_null(r, i, 6) ? -1 : store_rows_int(r, i, 6);
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", id, "name",
                     text_or_null(store_rows_text(r, i, 1)), "type",
                     text_or_null(store_rows_text(r, i, 2)), "release_date",
                     text_or_null(store_rows_text(r, i, 3)), "release_date_precision",
                     text_or_null(store_rows_text(r, i, 4)), "total_tracks",
                     tracks < 0 ? json_null() : json_integer(tracks), "url",
                     url_or_default(store_rows_text(r, i, 8), "album", id), "image",
                     text_or_null(store_rows_text(r, i, 7)), "artists", artists, "found_via",
                     found_via(r, i), "first_seen_at", time_json(store_rows_int(r, i, 9)));
}

static const view_def artists_view = {"artists", store_release_artists_page, releases_of_artists,
                                      release_json, artist_json};
static const view_def albums_view = {"releases", store_releases_page, artists_of_releases,
                                     artist_ref_json, album_json};

/* {rows[i][0]: [child_json(rows, i)...]}, at most cap per key (0 = all). */
static kt_status group_children(const view_def *v, const store_rows *rows, size_t cap,
                                json_t **out, kt_err *err)
{
    json_t *by = json_object();
    kt_status st = by ? KT_OK : nomem(err);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(rows); i++) {
        const char *key = store_rows_text(rows, i, 0);
        json_t *list = json_object_get(by, key);
        if (list == NULL && (json_object_set_new(by, key, list = json_array()) != 0 || !list)) {
            st = nomem(err);
            break;
        }
        if (cap && json_array_size(list) >= cap)
            continue;
        if (!push(list, v->child_json(rows, i)))
            st = nomem(err);
    }
    if (st != KT_OK) {
        json_decref(by);
        return st;
    }
    *out = by;
    return KT_OK;
}

/* The children of a page's rows, grouped by parent id. */
static kt_status page_children(store *s, const view_def *v, const releases_query *q,
                               const store_rows *page, json_t **out, kt_err *err)
{
    size_t n = store_rows_count(page);
    const char **ids = calloc(n + 1, sizeof *ids);
    store_rows *rows = NULL;
    kt_status st = ids ? KT_OK : nomem(err);
    for (size_t i = 0; st == KT_OK && i < n; i++)
        ids[i] = store_rows_text(page, i, 0);
    if (st == KT_OK)
        st = v->children(s, q, ids, n, &rows, err);
    if (st == KT_OK)
        st = group_children(v, rows, v == &artists_view ? q->release_limit : 0, out, err);
    store_rows_free(rows);
    free(ids);
    return st;
}

/* {"<list_key>":[...],"paging":{...}} for q. */
static kt_status build_view(store *s, const view_def *v, const releases_query *q, json_t **out,
                            kt_err *err)
{
    store_rel_filter f = {.user_id = q->user_id,
                          .since_day = q->since[0] ? q->since : NULL,
                          .limit = q->limit,
                          .offset = q->offset};
    store_rows *page = NULL;
    json_t *by = NULL, *arr = json_array(), *body = NULL;
    int64_t total = 0;
    kt_status st = arr ? v->page(s, &f, &page, &total, err) : nomem(err);
    if (st == KT_OK)
        st = page_children(s, v, q, page, &by, err);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(page); i++) {
        json_t *children = json_object_get(by, store_rows_text(page, i, 0));
        if (!push(arr, v->item_json(page, i, children ? json_incref(children) : json_array())))
            st = nomem(err);
    }
    if (st == KT_OK &&
        (body = json_pack("{s:O,s:o}", v->list_key, arr, "paging", paging_json(q, total))) == NULL)
        st = nomem(err);
    json_decref(arr);
    json_decref(by);
    store_rows_free(page);
    if (st == KT_OK)
        *out = body;
    return st;
}

/* ---- the read side: the cache of global answers ---- */

typedef struct cache_entry {
    char key[160];           /* the normalized parameters */
    releases_payload *payload;
    int64_t version;         /* store data version it was built from */
    long gen;                /* local generation it was built or checked at */
    int64_t built_ms;        /* monotonic */
    int64_t checked_ms;      /* monotonic: last time version was confirmed */
    int64_t used_ms;         /* monotonic: for eviction */
} cache_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_MAX];
static size_t cache_n;
/* Bumped by this process after it changed releases: entries of an older
 * generation are confirmed against the store before they are served. */
static atomic_long cache_gen;

void releases_cache_invalidate(void)
{
    atomic_fetch_add(&cache_gen, 1);
}

static void cache_key(const releases_query *q, char key[160])
{
    snprintf(key, 160, "%d|%zu|%zu|%zu|%s|%s", (int)q->view, q->limit, q->offset,
             q->release_limit, q->since, q->base_path);
}

/* A servable entry for key: built at the current generation and confirmed
 * recently. Called with cache_mu held; returns a new reference or NULL.
 * *stale_version (may stay -1) is the version of an entry that exists but
 * needs confirming. */
static releases_payload *cache_lookup(const char *key, int64_t now, long gen,
                                      int64_t *stale_version)
{
    for (size_t i = 0; i < cache_n; i++) {
        cache_entry *e = &cache[i];
        if (strcmp(e->key, key) != 0)
            continue;
        if (now - e->built_ms >= CACHE_MAX_AGE_MS)
            return NULL;
        if (e->gen == gen && now - e->checked_ms < RELEASES_REVALIDATE_MS) {
            e->used_ms = now;
            payload_ref(e->payload);
            return e->payload;
        }
        *stale_version = e->version;
        return NULL;
    }
    return NULL;
}

/* Marks key's entry confirmed at version (still current). */
static releases_payload *cache_confirm(const char *key, int64_t version, long gen, int64_t now)
{
    releases_payload *p = NULL;
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < cache_n; i++)
        if (strcmp(cache[i].key, key) == 0 && cache[i].version == version) {
            cache[i].gen = gen;
            cache[i].checked_ms = now;
            cache[i].used_ms = now;
            payload_ref(p = cache[i].payload);
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    return p;
}

static void cache_put(const char *key, releases_payload *p, int64_t version, long gen,
                      int64_t now)
{
    size_t slot = cache_n;
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < cache_n; i++)
        if (strcmp(cache[i].key, key) == 0)
            slot = i;
    if (slot == cache_n && cache_n == CACHE_MAX) {
        slot = 0; /* evict the least recently used */
        for (size_t i = 1; i < cache_n; i++)
            if (cache[i].used_ms < cache[slot].used_ms)
                slot = i;
    }
    if (slot == cache_n)
        cache_n++;
    else
        releases_payload_unref(cache[slot].payload);
    payload_ref(p);
    cache[slot] = (cache_entry){.payload = p,
                                .version = version,
                                .gen = gen,
                                .built_ms = now,
                                .checked_ms = now,
                                .used_ms = now};
    snprintf(cache[slot].key, sizeof cache[slot].key, "%s", key);
    pthread_mutex_unlock(&cache_mu);
}

static kt_status check_query(const releases_query *q, kt_err *err)
{
    char day[11];
    if (q->limit < 1 || q->limit > RELEASES_LIMIT_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit: expected 1..%d",
                       RELEASES_LIMIT_MAX);
    if (q->offset > RELEASES_OFFSET_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_offset", "offset: expected 0..%d",
                       RELEASES_OFFSET_MAX);
    if (q->view == RELEASES_VIEW_ARTISTS &&
        (q->release_limit < 1 || q->release_limit > RELEASES_RELEASE_LIMIT_MAX))
        return err_set(err, KT_ERR_INVALID, "bad_release_limit", "release_limit: expected 1..%d",
                       RELEASES_RELEASE_LIMIT_MAX);
    if (q->since[0] && (strlen(q->since) != 10 || store_release_day(q->since, day) != 0))
        return err_set(err, KT_ERR_INVALID, "bad_since", "since: expected a date YYYY-MM-DD");
    if (q->base_path == NULL || strlen(q->base_path) > 64)
        return err_set(err, KT_ERR_INVALID, NULL, "releases_get: bad base path");
    return KT_OK;
}

/* Builds the answer from the store; *version (may be NULL) is the data
 * version read before the data (so a concurrent write makes it stale, never
 * wrongly current). */
static kt_status build(kt_app *app, const releases_query *q, int64_t *version,
                       releases_payload **out, kt_err *err)
{
    store *s = NULL;
    json_t *body = NULL;
    char *text = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK && version)
        st = store_releases_version(s, version, err);
    if (st == KT_OK)
        st = build_view(s, q->view == RELEASES_VIEW_ARTISTS ? &artists_view : &albums_view, q,
                        &body, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return nomem(err);
    if (strlen(text) > BODY_MAX) {
        free(text);
        return err_set(err, KT_ERR_TOO_LARGE, NULL, "the answer is too large");
    }
    if ((*out = payload_new(text, strlen(text))) == NULL) {
        free(text);
        return nomem(err);
    }
    return KT_OK;
}

static kt_status read_version(kt_app *app, int64_t *version, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_releases_version(s, version, err);
    app_db_put(app, s);
    return st;
}

kt_status releases_get(kt_app *app, const releases_query *q, releases_payload **out,
                       kt_err *err)
{
    char key[160];
    int64_t now = time_mono_ms(), stale = -1, version = 0;
    releases_payload *p = NULL;
    kt_status st = check_query(q, err);
    if (st != KT_OK)
        return st;
    if (q->user_id != 0)
        return build(app, q, NULL, out, err); /* per user: never cached */
    cache_key(q, key);
    long gen = atomic_load(&cache_gen);
    pthread_mutex_lock(&cache_mu);
    p = cache_lookup(key, now, gen, &stale);
    pthread_mutex_unlock(&cache_mu);
    if (p) {
        *out = p;
        return KT_OK;
    }
    if (stale >= 0) {
        if ((st = read_version(app, &version, err)) != KT_OK)
            return st;
        if (version == stale && (p = cache_confirm(key, version, gen, now)) != NULL) {
            *out = p;
            return KT_OK;
        }
    }
    if ((st = build(app, q, &version, &p, err)) != KT_OK)
        return st;
    cache_put(key, p, version, gen, now);
    *out = p;
    return KT_OK;
}

/* Skips optional whitespace. */
static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int releases_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;
    const char *tag = etag;
    size_t tn;
    if (p == NULL || etag == NULL)
        return 0;
    /* Weak comparison: W/"x" matches "x" (RFC 9110 13.1.2). */
    if (strncmp(tag, "W/", 2) == 0)
        tag += 2;
    tn = strlen(tag);
    p = skip_ows(p);
    if (*p == '*')
        return 1;
    while (*p) {
        p = skip_ows(p);
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return 0; /* malformed list: no match, the full answer is sent */
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return 0;
        if ((size_t)(end + 1 - p) == tn && memcmp(p, tag, tn) == 0)
            return 1;
        p = skip_ows(end + 1);
        if (*p == ',')
            p++;
        else if (*p)
            return 0;
    }
    return 0;
}

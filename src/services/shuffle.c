/* shuffle.c - shuffles and shared Liked Songs written into Spotify, the
 * delete-all, and the statistics (see shuffle.h for the contract).
 *
 * Flow of a shuffle: sync the source (sync_run) -> read its entries from
 * the library copy (store_shuffle_source_items) -> order the addable ones
 * (shuffle_algo) -> write the output (output_write) -> record the event.
 *
 * Writing is strictly sequential: the order of the playlist is the order of
 * the requests, so nothing here is parallel; the time is one create (or
 * replace) plus ceil(n/100) adds, each one round trip. The output row in
 * shuffled_playlists is written right after the playlist exists and marked
 * "building" until the last add succeeds, so a crash in between leaves a
 * row that the next run of the same source reuses (replacing its contents)
 * and DELETE /api/shuffle finds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/strset.h"
#include "core/timeutil.h"
#include "core/url.h"
#include "services/app_priv.h"
#include "services/shuffle.h"
#include "services/shuffle_algo.h"
#include "services/sync.h"
#include "store/store_auth.h"
#include "store/store_shuffle.h"

/* Descriptions of what keeptrack makes; the shuffle prefix also identifies
 * shuffles in /me/playlists for the delete-all. */
#define DESC_SHUFFLE "made by keeptrack: a true shuffle"
#define DESC_SHARE "made by keeptrack: Liked Songs in their order"
#define UNFOLLOW_BATCH 40
#define ID_MAX 64
#define STATS_TOP 10
#define STATS_HISTORY 50

kt_status shuffle_parse_mode(const char *s, shuffle_mode *out, kt_err *err)
{
    if (s == NULL || strcmp(s, "uniform") == 0)
        *out = SHUFFLE_MODE_UNIFORM;
    else if (strcmp(s, "spread") == 0)
        *out = SHUFFLE_MODE_SPREAD;
    else
        return err_set(err, KT_ERR_INVALID, "bad_mode", "mode: expected uniform or spread");
    return KT_OK;
}

const char *shuffle_mode_name(shuffle_mode m)
{
    return m == SHUFFLE_MODE_SPREAD ? "spread" : "uniform";
}

/* 1 when s is 1..ID_MAX characters of [A-Za-z0-9] (a Spotify id). */
static int is_spotify_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

kt_status shuffle_check_source(const char *source, kt_err *err)
{
    if (source && (strcmp(source, STORE_SHUFFLE_LIKED) == 0 || is_spotify_id(source)))
        return KT_OK;
    return err_set(err, KT_ERR_INVALID, "bad_source",
                   "source: expected \"liked\" or a Spotify playlist id");
}

static void report(shuffle_progress_fn fn, void *ctx, int64_t done, int64_t total,
                   const char *msg)
{
    if (fn)
        fn(ctx, done, total, msg);
}

/* ---- the source ---- */

/* The addable entries of a source in order, with their spread keys. */
typedef struct source_items {
    store_rows *rows;     /* owns the strings below */
    const char **uris;
    const char **artist;
    const char **album;
    size_t n;
    int64_t local_skipped, unavailable;
    char *name;
} source_items;

static void source_items_free(source_items *si)
{
    store_rows_free(si->rows);
    free(si->uris);
    free(si->artist);
    free(si->album);
    free(si->name);
    memset(si, 0, sizeof *si);
}

static kt_status source_load(kt_app *app, int64_t uid, const char *source, source_items *out,
                             kt_err *err)
{
    store *s = NULL;
    source_items si = {0};
    int readable = 0;
    kt_status rc = app_db_get(app, &s, err);
    if (rc != KT_OK)
        return rc;
    if ((rc = store_shuffle_source_info(s, uid, source, &si.name, &readable, err)) != KT_OK)
        goto out;
    if (!readable) {
        rc = err_set(err, KT_ERR_FORBIDDEN, "not_playlist_owner",
                     "Spotify only lets apps read the items of playlists you own or collaborate "
                     "on; '%.100s' is not one of them",
                     si.name);
        goto out;
    }
    if ((rc = store_shuffle_source_items(s, uid, source, &si.rows, err)) != KT_OK)
        goto out;
    size_t rows = store_rows_count(si.rows);
    si.uris = malloc((rows ? rows : 1) * sizeof *si.uris);
    si.artist = malloc((rows ? rows : 1) * sizeof *si.artist);
    si.album = malloc((rows ? rows : 1) * sizeof *si.album);
    if (!si.uris || !si.artist || !si.album) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rows; i++) {
        const char *uri = store_rows_text(si.rows, i, 0), *kind = store_rows_text(si.rows, i, 1);
        if (uri == NULL) {
            si.unavailable++;
        } else if ((kind && strcmp(kind, "local") == 0) || strncmp(uri, "spotify:local:", 14) == 0) {
            si.local_skipped++;
        } else {
            si.uris[si.n] = uri;
            si.artist[si.n] = store_rows_text(si.rows, i, 2);
            si.album[si.n] = store_rows_text(si.rows, i, 3);
            si.n++;
        }
    }
    if (si.n > SHUFFLE_MAX_ITEMS) {
        rc = err_set(err, KT_ERR_INVALID, "too_many_items",
                     "'%.100s' has %zu tracks; a Spotify playlist holds at most %u, so it "
                     "cannot be copied whole",
                     si.name, si.n, SHUFFLE_MAX_ITEMS);
        goto out;
    }
    *out = si;
    memset(&si, 0, sizeof si);
out:
    app_db_put(app, s);
    source_items_free(&si);
    return rc;
}

/* Writes the shuffled order of si into *order (malloc'd uris, borrowed). */
static kt_status source_order(const source_items *si, shuffle_mode mode, const char ***out,
                              kt_err *err)
{
    size_t n = si->n, *ix = malloc((n ? n : 1) * sizeof *ix);
    uint32_t *artist = NULL, *album = NULL;
    const char **order = malloc((n ? n : 1) * sizeof *order);
    kt_status rc = KT_OK;
    if (!ix || !order) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    if (mode == SHUFFLE_MODE_UNIFORM) {
        shuffle_uniform(ix, n, shuffle_rng_crypto, NULL);
    } else {
        artist = malloc((n ? n : 1) * sizeof *artist);
        album = malloc((n ? n : 1) * sizeof *album);
        if (!artist || !album) {
            rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        if ((rc = shuffle_labels(si->artist, n, artist, err)) != KT_OK ||
            (rc = shuffle_labels(si->album, n, album, err)) != KT_OK ||
            (rc = shuffle_spread(artist, album, n, ix, shuffle_rng_crypto, NULL, err)) != KT_OK)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = si->uris[ix[i]];
    *out = order;
    order = NULL;
out:
    free(ix);
    free(artist);
    free(album);
    free(order);
    return rc;
}

/* ---- writing a playlist ---- */

typedef struct writer {
    kt_app *app;
    int64_t uid;
    int extended;            /* extended-quota app: /users/{id}/playlists, /followers */
    char id[ID_MAX + 1];     /* the output playlist */
    const char *const *uris; /* in order */
    size_t n;
    int64_t requests;
    shuffle_progress_fn progress;
    void *progress_ctx;
} writer;

/* Whether the app has extended quota (asks Spotify once per process). */
static int app_is_extended(kt_app *app, int64_t uid)
{
    spotify_mode m = spotify_get_mode(app->spotify);
    if (m == SPOTIFY_MODE_UNKNOWN && spotify_detect_mode(app->spotify, uid, &m, NULL) != KT_OK)
        m = SPOTIFY_MODE_DEVELOPMENT;
    return m == SPOTIFY_MODE_EXTENDED;
}

/* PUT (replace) or POST (append) uris[off, off+len) to the playlist. */
static kt_status write_chunk(writer *w, const char *method, size_t off, size_t len, kt_err *err)
{
    char path[128];
    json_t *arr = json_array(), *body = NULL;
    kt_status rc;
    for (size_t i = off; arr && i < off + len; i++)
        if (json_array_append_new(arr, json_string(w->uris[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (arr == NULL || (body = json_pack("{s:o}", "uris", arr)) == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    snprintf(path, sizeof path, "/playlists/%s/items", w->id);
    w->requests++;
    rc = spotify_request(w->app->spotify, w->uid, method, path, body, NULL, NULL, err);
    json_decref(body);
    return rc;
}

/* The playlist's current item count. */
static kt_status playlist_total(writer *w, int64_t *total, kt_err *err)
{
    char path[128];
    json_t *page = NULL;
    snprintf(path, sizeof path, "/playlists/%s/items?limit=1", w->id);
    w->requests++;
    kt_status rc = spotify_get(w->app->spotify, w->uid, path, &page, err);
    if (rc != KT_OK)
        return rc;
    *total = json_int(page, "total", -1);
    json_decref(page);
    return KT_OK;
}

/* Errors that another attempt cannot fix. */
static int permanent(kt_status st)
{
    return st == KT_ERR_DEFERRED || st == KT_ERR_REAUTH || st == KT_ERR_NOT_FOUND ||
           st == KT_ERR_FORBIDDEN || st == KT_ERR_INVALID || st == KT_ERR_NOMEM;
}

/* Fills the playlist with w->uris in order: replace (PUT the first chunk)
 * or append to an empty new playlist. After a failed request, the item
 * count says where the playlist stands: a POST that went through (the
 * answer was lost) is not sent again, one that did not is, anything else
 * restarts with a replace. At most SHUFFLE_RECOVERIES such rounds. */
static kt_status fill(writer *w, int replace, kt_err *err)
{
    size_t off = 0;
    int need_put = replace, recoveries = 0;
    char msg[96];
    while (off < w->n || need_put) {
        size_t first = w->n < SHUFFLE_CHUNK ? w->n : SHUFFLE_CHUNK;
        size_t len = need_put ? first : (w->n - off < SHUFFLE_CHUNK ? w->n - off : SHUFFLE_CHUNK);
        kt_status st = write_chunk(w, need_put ? "PUT" : "POST", need_put ? 0 : off, len, err);
        if (st == KT_OK) {
            off = need_put ? first : off + len;
            need_put = 0;
            snprintf(msg, sizeof msg, "adding tracks %zu/%zu", off, w->n);
            report(w->progress, w->progress_ctx, (int64_t)off + 1, (int64_t)w->n + 1, msg);
            continue;
        }
        if (permanent(st) || recoveries++ >= SHUFFLE_RECOVERIES)
            return st;
        LOG_WARN("shuffle_write_retry", "user=%lld playlist=%s offset=%zu error=%s",
                 (long long)w->uid, w->id, off, err->msg);
        if (need_put)
            continue; /* a replace can simply be sent again */
        int64_t total = -1;
        kt_err e2 = {0};
        if (playlist_total(w, &total, &e2) != KT_OK)
            continue; /* the add is tried again; the count is checked after a failure */
        if (total == (int64_t)(off + len))
            off += len; /* it went through */
        else if (total != (int64_t)off)
            need_put = 1; /* unknown state: rebuild from the start */
    }
    return KT_OK;
}

/* Creates a private (or public) playlist; w->id receives its id. */
static kt_status create_playlist(writer *w, const char *spotify_user, const char *name,
                                 const char *desc, int public_, kt_err *err)
{
    char path[256];
    json_t *body = json_pack("{s:s,s:b,s:s}", "name", name, "public", public_, "description",
                             desc), *out = NULL;
    kt_status rc;
    if (body == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory (or a name that is not UTF-8)");
    if (w->extended) {
        char *enc = url_encode(spotify_user);
        if (enc == NULL) {
            json_decref(body);
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        }
        snprintf(path, sizeof path, "/users/%s/playlists", enc);
        free(enc);
    } else {
        snprintf(path, sizeof path, "/me/playlists");
    }
    w->requests++;
    rc = spotify_request(w->app->spotify, w->uid, "POST", path, body, NULL, &out, err);
    json_decref(body);
    if (rc != KT_OK)
        return rc;
    const char *id = json_str(out, "id");
    if (!is_spotify_id(id))
        rc = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify created the playlist but its answer has no usable id");
    else
        snprintf(w->id, sizeof w->id, "%s", id);
    json_decref(out);
    return rc;
}

/* Unfollows playlists ids[0..n) (what "deleting" a playlist means on
 * Spotify); *done counts those sent successfully. */
static kt_status unfollow(kt_app *app, int64_t uid, int extended, const char *const *ids,
                          size_t n, int64_t *done, kt_err *err)
{
    char path[UNFOLLOW_BATCH * (ID_MAX + 20) + 64];
    for (size_t i = 0; i < n;) {
        size_t k = 0, at;
        if (extended) {
            snprintf(path, sizeof path, "/playlists/%s/followers", ids[i]);
            k = 1;
        } else {
            at = (size_t)snprintf(path, sizeof path, "/me/library?uris=");
            for (; k < UNFOLLOW_BATCH && i + k < n; k++)
                at += (size_t)snprintf(path + at, sizeof path - at, "%sspotify:playlist:%s",
                                       k ? "," : "", ids[i + k]);
        }
        kt_status rc = spotify_request(app->spotify, uid, "DELETE", path, NULL, NULL, NULL, err);
        if (rc != KT_OK)
            return rc;
        i += k;
        *done += (int64_t)k;
    }
    return KT_OK;
}

/* Marks the output rows of ids deleted. Logged, not returned: Spotify is
 * already done. */
static void mark_deleted(kt_app *app, int64_t uid, const char *const *ids, size_t n)
{
    store *s = NULL;
    kt_err err = {0};
    if (app_db_get(app, &s, &err) != KT_OK) {
        LOG_WARN("shuffle_mark_deleted_failed", "user=%lld error=%s", (long long)uid, err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (store_shuffled_mark_deleted(s, uid, ids[i], time_now_ms(), NULL, &err) != KT_OK)
            LOG_WARN("shuffle_mark_deleted_failed", "user=%lld playlist=%s error=%s",
                     (long long)uid, ids[i], err.msg);
    app_db_put(app, s);
}

/* What a made playlist is. */
typedef struct output_spec {
    const char *kind, *source, *mode, *name, *desc;
    int public_, force_new;
} output_spec;

/* The newest live output of (kind, source) into id (empty when none). */
static kt_status output_find(kt_app *app, int64_t uid, const output_spec *o, char id[ID_MAX + 1],
                             kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    id[0] = '\0';
    kt_status rc = app_db_get(app, &s, err);
    if (rc != KT_OK)
        return rc;
    rc = store_shuffled_find(s, uid, o->kind, o->source, &r, err);
    if (rc == KT_OK && is_spotify_id(store_rows_text(r, 0, 1)))
        snprintf(id, ID_MAX + 1, "%s", store_rows_text(r, 0, 1));
    if (rc == KT_ERR_NOT_FOUND)
        rc = KT_OK;
    store_rows_free(r);
    app_db_put(app, s);
    return rc;
}

static kt_status output_row(kt_app *app, int64_t uid, const output_spec *o, const char *id,
                            int64_t *row, kt_err *err)
{
    store *s = NULL;
    kt_status rc = app_db_get(app, &s, err);
    if (rc == KT_OK) {
        rc = store_shuffled_begin(s, uid, o->kind, o->source, o->mode, id, o->name,
                                  time_now_ms(), row, err);
        app_db_put(app, s);
    }
    return rc;
}

static kt_status output_done(kt_app *app, int64_t row, int64_t tracks, int64_t local,
                             kt_err *err)
{
    store *s = NULL;
    kt_status rc = app_db_get(app, &s, err);
    if (rc == KT_OK) {
        rc = store_shuffled_finish(s, row, STORE_SHUFFLED_DONE, tracks, local, time_now_ms(),
                                   err);
        app_db_put(app, s);
    }
    return rc;
}

/* The user's Spotify id (for /users/{id}/playlists), malloc'd. */
static kt_status spotify_user_id(kt_app *app, int64_t uid, char **out, kt_err *err)
{
    store *s = NULL;
    store_user u = {0};
    kt_status rc = app_db_get(app, &s, err);
    if (rc != KT_OK)
        return rc;
    rc = store_user_get(s, uid, &u, err);
    app_db_put(app, s);
    if (rc != KT_OK)
        return rc;
    *out = u.spotify_id;
    u.spotify_id = NULL;
    store_user_clear(&u);
    return KT_OK;
}

/* Writes the output (see the top of shuffle.h): reuse and replace, or
 * create; on a failure other than a deferral, remove what was written. */
static kt_status output_write(writer *w, const output_spec *o, int *replaced, kt_err *err)
{
    int64_t row = 0;
    char *me = NULL;
    int reuse = 0;
    kt_status rc = KT_OK;
    w->extended = app_is_extended(w->app, w->uid);
    if (!o->force_new && (rc = output_find(w->app, w->uid, o, w->id, err)) != KT_OK)
        return rc;
    if (w->id[0]) {
        if ((rc = output_row(w->app, w->uid, o, w->id, &row, err)) != KT_OK)
            return rc;
        reuse = 1;
        rc = fill(w, 1, err);
        if (rc == KT_ERR_NOT_FOUND || rc == KT_ERR_FORBIDDEN) {
            /* Deleted, or no longer the user's: mark it and make a new one. */
            const char *gone = w->id;
            LOG_INFO("shuffle_output_gone", "user=%lld playlist=%s", (long long)w->uid, w->id);
            mark_deleted(w->app, w->uid, &gone, 1);
            reuse = 0;
        }
    }
    if (rc != KT_OK && reuse)
        goto failed;
    if (!reuse) {
        if (w->extended && (rc = spotify_user_id(w->app, w->uid, &me, err)) != KT_OK)
            return rc;
        rc = create_playlist(w, me, o->name, o->desc, o->public_, err);
        free(me);
        if (rc != KT_OK)
            return rc;
        report(w->progress, w->progress_ctx, 1, (int64_t)w->n + 1, "playlist created");
        if ((rc = output_row(w->app, w->uid, o, w->id, &row, err)) != KT_OK ||
            (rc = fill(w, 0, err)) != KT_OK)
            goto failed;
    }
    *replaced = reuse;
    return output_done(w->app, row, (int64_t)w->n, 0, err);
failed:
    if (rc == KT_ERR_DEFERRED || rc == KT_ERR_REAUTH)
        return rc; /* marked "building": the resumed job replaces its contents */
    {
        kt_err e2 = {0};
        int64_t done = 0;
        const char *id = w->id;
        if (unfollow(w->app, w->uid, w->extended, &id, 1, &done, &e2) == KT_OK) {
            mark_deleted(w->app, w->uid, &id, 1);
            err_prefix(err, "the playlist could not be completed and was removed");
        } else {
            err_prefix(err, "playlist %s could not be completed nor removed (%s); it is marked "
                            "unfinished and DELETE /api/shuffle removes it",
                       w->id, e2.msg);
        }
    }
    return rc;
}

/* ---- shuffle, share ---- */

/* name = template with {source} and {mode} replaced, cut to
 * SHUFFLE_NAME_MAX bytes on a UTF-8 character boundary. */
static void render_name(const char *tmpl, const char *source, const char *mode, char *out,
                        size_t size)
{
    char full[4 * SHUFFLE_NAME_MAX];
    size_t at = 0, lim = sizeof full - 1;
    for (const char *p = tmpl; *p && at < lim;) {
        const char *ins = NULL;
        if (strncmp(p, "{source}", 8) == 0) {
            ins = source;
            p += 8;
        } else if (strncmp(p, "{mode}", 6) == 0) {
            ins = mode;
            p += 6;
        }
        if (ins) {
            for (; *ins && at < lim; ins++)
                full[at++] = *ins;
        } else {
            full[at++] = *p++;
        }
    }
    full[at] = '\0';
    size_t cut = size - 1 < SHUFFLE_NAME_MAX ? size - 1 : SHUFFLE_NAME_MAX;
    if (at > cut) {
        while (cut > 0 && ((unsigned char)full[cut] & 0xC0) == 0x80)
            cut--; /* full[cut] starts a character: cut before it */
        full[cut] = '\0';
    }
    snprintf(out, size, "%s", full[0] ? full : "Shuffled");
}

static kt_status check_name(const char *name, kt_err *err)
{
    if (name && (name[0] == '\0' || strlen(name) > SHUFFLE_NAME_MAX))
        return err_set(err, KT_ERR_INVALID, "bad_name", "name: expected 1..%d bytes",
                       SHUFFLE_NAME_MAX);
    return KT_OK;
}

static kt_status sync_source(kt_app *app, int64_t uid, const char *source,
                             shuffle_progress_fn progress, void *ctx, kt_err *err)
{
    unsigned what = strcmp(source, STORE_SHUFFLE_LIKED) == 0 ? SYNC_LIKED : SYNC_PLAYLISTS;
    kt_status rc = sync_run(app, uid, what, progress, NULL, NULL, ctx, err);
    if (rc != KT_OK)
        err_prefix(err, "syncing the source first");
    return rc;
}

static void record_event(kt_app *app, int64_t uid, const shuffle_options *opt,
                         const source_items *si, const shuffle_result *res)
{
    store *s = NULL;
    kt_err err = {0};
    if (app_db_get(app, &s, &err) == KT_OK) {
        if (store_shuffle_record(s, uid, opt->source, si->name, shuffle_mode_name(opt->mode),
                                 res->playlist_id, res->tracks, res->local_skipped, si->uris,
                                 si->n, time_now_ms(), &err) == KT_OK) {
            app_db_put(app, s);
            return;
        }
        app_db_put(app, s);
    }
    /* Statistics only: the playlist is made, so the shuffle succeeded. */
    LOG_WARN("shuffle_record_failed", "user=%lld error=%s", (long long)uid, err.msg);
}

kt_status shuffle_run(kt_app *app, int64_t user_id, const shuffle_options *opt,
                      shuffle_progress_fn progress, void *progress_ctx, shuffle_result *out,
                      kt_err *err)
{
    source_items si = {0};
    const char **order = NULL;
    shuffle_result res = {.replaced = 0};
    char name[SHUFFLE_NAME_MAX + 64], desc[SHUFFLE_NAME_MAX + 96];
    kt_status rc;
    if ((rc = shuffle_check_source(opt->source, err)) != KT_OK ||
        (rc = check_name(opt->name, err)) != KT_OK)
        return rc;
    if ((rc = sync_source(app, user_id, opt->source, progress, progress_ctx, err)) != KT_OK ||
        (rc = source_load(app, user_id, opt->source, &si, err)) != KT_OK)
        goto out;
    if (si.n == 0) {
        rc = err_set(err, KT_ERR_INVALID, "empty_source",
                     "'%.100s' has no tracks the Spotify API can add (%lld local files, %lld "
                     "unavailable)",
                     si.name, (long long)si.local_skipped, (long long)si.unavailable);
        goto out;
    }
    if ((rc = source_order(&si, opt->mode, &order, err)) != KT_OK)
        goto out;
    if (opt->name)
        snprintf(name, sizeof name, "%s", opt->name);
    else
        render_name(app->cfg && app->cfg->shuffle_name ? app->cfg->shuffle_name
                                                       : "{source} (shuffled)",
                    si.name, shuffle_mode_name(opt->mode), name, sizeof name);
    snprintf(desc, sizeof desc, DESC_SHUFFLE " (%s) of %.150s", shuffle_mode_name(opt->mode),
             si.name);
    output_spec o = {STORE_SHUFFLE_KIND_SHUFFLE, opt->source, shuffle_mode_name(opt->mode),
                     name, desc, 0, opt->force_new};
    writer w = {.app = app, .uid = user_id, .uris = order, .n = si.n, .progress = progress,
                .progress_ctx = progress_ctx};
    rc = output_write(&w, &o, &res.replaced, err);
    res.requests = w.requests;
    if (rc != KT_OK)
        goto out;
    snprintf(res.playlist_id, sizeof res.playlist_id, "%s", w.id);
    snprintf(res.name, sizeof res.name, "%s", name);
    res.tracks = (int64_t)si.n;
    res.local_skipped = si.local_skipped;
    res.unavailable = si.unavailable;
    record_event(app, user_id, opt, &si, &res);
    LOG_INFO("shuffle_done", "user=%lld source=%s mode=%s playlist=%s tracks=%lld local=%lld "
                             "requests=%lld",
             (long long)user_id, opt->source, shuffle_mode_name(opt->mode), w.id,
             (long long)res.tracks, (long long)res.local_skipped, (long long)res.requests);
    *out = res;
out:
    free(order);
    source_items_free(&si);
    return rc;
}

kt_status shuffle_share_liked(kt_app *app, int64_t user_id, const char *name, int public_,
                              shuffle_progress_fn progress, void *progress_ctx,
                              shuffle_result *out, kt_err *err)
{
    source_items si = {0};
    shuffle_result res = {.replaced = 0};
    kt_status rc;
    if ((rc = check_name(name, err)) != KT_OK)
        return rc;
    if ((rc = sync_source(app, user_id, STORE_SHUFFLE_LIKED, progress, progress_ctx, err)) !=
            KT_OK ||
        (rc = source_load(app, user_id, STORE_SHUFFLE_LIKED, &si, err)) != KT_OK)
        goto out;
    output_spec o = {STORE_SHUFFLE_KIND_SHARE, STORE_SHUFFLE_LIKED, "ordered",
                     name ? name : "Liked Songs", DESC_SHARE, public_ ? 1 : 0, 0};
    writer w = {.app = app, .uid = user_id, .uris = si.uris, .n = si.n, .progress = progress,
                .progress_ctx = progress_ctx};
    rc = output_write(&w, &o, &res.replaced, err);
    res.requests = w.requests;
    if (rc != KT_OK)
        goto out;
    snprintf(res.playlist_id, sizeof res.playlist_id, "%s", w.id);
    snprintf(res.name, sizeof res.name, "%s", o.name);
    res.tracks = (int64_t)si.n;
    res.local_skipped = si.local_skipped;
    res.unavailable = si.unavailable;
    *out = res;
out:
    source_items_free(&si);
    return rc;
}

kt_status shuffle_write_list(kt_app *app, int64_t user_id, const shuffle_list_spec *spec,
                             shuffle_progress_fn progress, void *progress_ctx,
                             shuffle_result *out, kt_err *err)
{
    shuffle_result res = {.replaced = 0};
    kt_status rc = check_name(spec->name, err);
    if (rc != KT_OK)
        return rc;
    if (spec->n == 0)
        return err_set(err, KT_ERR_INVALID, "empty_list", "there are no tracks to write");
    output_spec o = {spec->kind, spec->source, "ordered", spec->name, spec->desc, 0, 0};
    writer w = {.app = app, .uid = user_id, .uris = spec->uris, .n = spec->n,
                .progress = progress, .progress_ctx = progress_ctx};
    rc = output_write(&w, &o, &res.replaced, err);
    res.requests = w.requests;
    if (rc != KT_OK)
        return rc;
    snprintf(res.playlist_id, sizeof res.playlist_id, "%s", w.id);
    snprintf(res.name, sizeof res.name, "%s", spec->name);
    res.tracks = (int64_t)spec->n;
    *out = res;
    return KT_OK;
}

/* ---- delete all ---- */

typedef struct scan_ctx {
    const char *me; /* the user's Spotify id */
    strset *seen;   /* ids in owned[] */
    char **owned;
    size_t n, cap;
} scan_ctx;

static kt_status scan_add(scan_ctx *sc, const char *id, kt_err *err)
{
    if (!is_spotify_id(id) || strset_has(sc->seen, id))
        return KT_OK;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        char **v = realloc(sc->owned, cap * sizeof *v);
        if (v == NULL)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        sc->owned = v;
        sc->cap = cap;
    }
    if ((sc->owned[sc->n] = strdup(id)) == NULL || strset_add(sc->seen, id) < 0) {
        free(sc->owned[sc->n]);
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    }
    sc->n++;
    return KT_OK;
}

/* One page of /me/playlists: keeps the user's own keeptrack shuffles. */
static kt_status scan_page(void *ctx, const json_t *page, kt_err *err)
{
    scan_ctx *sc = ctx;
    const json_t *items = json_arr(page, "items"), *pl;
    size_t i;
    json_array_foreach(items, i, pl) {
        const char *desc = json_str(pl, "description"), *owner = json_path_str(pl, "owner.id");
        if (desc && owner && sc->me && strcmp(owner, sc->me) == 0 &&
            strncmp(desc, DESC_SHUFFLE, strlen(DESC_SHUFFLE)) == 0) {
            kt_status rc = scan_add(sc, json_str(pl, "id"), err);
            if (rc != KT_OK)
                return rc;
        }
    }
    return KT_OK;
}

kt_status shuffle_delete_all(kt_app *app, int64_t user_id, int64_t *deleted, kt_err *err)
{
    scan_ctx sc = {0};
    store *s = NULL;
    store_rows *r = NULL;
    char *me = NULL;
    int64_t done = 0;
    kt_status rc = spotify_user_id(app, user_id, &me, err);
    if (rc != KT_OK)
        return rc;
    sc.me = me;
    if ((sc.seen = strset_new()) == NULL) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* What keeptrack recorded ... */
    if ((rc = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    rc = store_shuffled_list(s, user_id, STORE_SHUFFLE_KIND_SHUFFLE, 0, &r, err);
    app_db_put(app, s);
    for (size_t i = 0; rc == KT_OK && i < store_rows_count(r); i++)
        rc = scan_add(&sc, store_rows_text(r, i, 0), err);
    /* ... and what Spotify lists, every page (a playlist made before a
     * crash could be missing from the table). */
    if (rc == KT_OK)
        rc = spotify_get_all_offset(app->spotify, user_id, "/me/playlists", 50, NULL, scan_page,
                                    &sc, err);
    if (rc != KT_OK)
        goto out;
    rc = unfollow(app, user_id, app_is_extended(app, user_id), (const char *const *)sc.owned,
                  sc.n, &done, err);
    mark_deleted(app, user_id, (const char *const *)sc.owned, (size_t)done);
    if (rc != KT_OK) {
        err_prefix(err, "%lld of %zu shuffled playlists deleted", (long long)done, sc.n);
        goto out;
    }
    LOG_INFO("shuffle_deleted", "user=%lld playlists=%lld", (long long)user_id, (long long)done);
    if (deleted)
        *deleted = done;
out:
    for (size_t i = 0; i < sc.n; i++)
        free(sc.owned[i]);
    free(sc.owned);
    strset_free(sc.seen);
    store_rows_free(r);
    free(me);
    return rc;
}

/* ---- statistics ---- */

static json_t *time_json(int64_t ms)
{
    char t[32];
    if (ms <= 0)
        return json_null();
    time_format_iso8601(ms, t);
    return json_string(t);
}

static json_t *text_json(const store_rows *r, size_t row, size_t col)
{
    const char *s = store_rows_text(r, row, col);
    return s ? json_string(s) : json_null();
}

/* Totals and top lists of user_id (0 = everyone) into obj. */
static kt_status stats_part(store *s, int64_t uid, json_t *obj, kt_err *err)
{
    store_rows *tot = NULL, *tracks = NULL, *artists = NULL;
    json_t *jt = json_array(), *ja = json_array();
    kt_status rc = KT_OK;
    if (!jt || !ja) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if ((rc = store_shuffle_totals(s, uid, &tot, err)) != KT_OK ||
        (rc = store_shuffle_top_tracks(s, uid, STATS_TOP, &tracks, err)) != KT_OK ||
        (rc = store_shuffle_top_artists(s, uid, STATS_TOP, &artists, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < store_rows_count(tracks); i++)
        json_array_append_new(jt, json_pack("{s:o,s:o,s:I}", "uri", text_json(tracks, i, 0),
                                            "name", text_json(tracks, i, 1), "times",
                                            (json_int_t)store_rows_int(tracks, i, 2)));
    for (size_t i = 0; i < store_rows_count(artists); i++)
        json_array_append_new(ja, json_pack("{s:o,s:o,s:I}", "id", text_json(artists, i, 0),
                                            "name", text_json(artists, i, 1), "times",
                                            (json_int_t)store_rows_int(artists, i, 2)));
    json_object_set_new(obj, "shuffles", json_integer(store_rows_int(tot, 0, 0)));
    json_object_set_new(obj, "tracks_shuffled", json_integer(store_rows_int(tot, 0, 1)));
    if (uid == 0)
        json_object_set_new(obj, "users", json_integer(store_rows_int(tot, 0, 2)));
    json_object_set_new(obj, "local_files_skipped", json_integer(store_rows_int(tot, 0, 3)));
    json_object_set_new(obj, "sources", json_integer(store_rows_int(tot, 0, 4)));
    json_object_set_new(obj, "top_tracks", jt);
    json_object_set_new(obj, "top_artists", ja);
    jt = ja = NULL;
out:
    json_decref(jt);
    json_decref(ja);
    store_rows_free(tot);
    store_rows_free(tracks);
    store_rows_free(artists);
    return rc;
}

/* The user's history and made playlists into obj. */
static kt_status stats_mine(store *s, int64_t uid, json_t *obj, kt_err *err)
{
    store_rows *h = NULL, *pl = NULL;
    int64_t total = 0;
    json_t *jh = json_array(), *jp = json_array();
    kt_status rc = KT_OK;
    if (!jh || !jp) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if ((rc = store_shuffle_history(s, uid, STATS_HISTORY, 0, &h, &total, err)) != KT_OK ||
        (rc = store_shuffled_list(s, uid, NULL, 1, &pl, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < store_rows_count(h); i++)
        json_array_append_new(
            jh, json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:o}", "source", text_json(h, i, 0),
                          "source_name", text_json(h, i, 1), "mode", text_json(h, i, 2),
                          "playlist_id", text_json(h, i, 3), "tracks",
                          (json_int_t)store_rows_int(h, i, 4), "local_files_skipped",
                          (json_int_t)store_rows_int(h, i, 5), "at",
                          time_json(store_rows_int(h, i, 6))));
    for (size_t i = 0; i < store_rows_count(pl); i++)
        json_array_append_new(
            jp, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:o,s:o}", "playlist_id",
                          text_json(pl, i, 0), "kind", text_json(pl, i, 1), "source",
                          text_json(pl, i, 2), "mode", text_json(pl, i, 3), "name",
                          text_json(pl, i, 4), "status", text_json(pl, i, 5), "tracks",
                          (json_int_t)store_rows_int(pl, i, 6), "local_files_skipped",
                          (json_int_t)store_rows_int(pl, i, 7), "created_at",
                          time_json(store_rows_int(pl, i, 8)), "updated_at",
                          time_json(store_rows_int(pl, i, 9))));
    json_object_set_new(obj, "history_total", json_integer(total));
    json_object_set_new(obj, "history", jh);
    json_object_set_new(obj, "playlists", jp);
    jh = jp = NULL;
out:
    json_decref(jh);
    json_decref(jp);
    store_rows_free(h);
    store_rows_free(pl);
    return rc;
}

kt_status shuffle_stats(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    store *s = NULL;
    json_t *overall = json_object(), *mine = json_object(), *body = NULL;
    kt_status rc = KT_OK;
    if (!overall || !mine) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if ((rc = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    if ((rc = stats_part(s, 0, overall, err)) == KT_OK &&
        (rc = stats_part(s, user_id, mine, err)) == KT_OK)
        rc = stats_mine(s, user_id, mine, err);
    app_db_put(app, s);
    if (rc != KT_OK)
        goto out;
    if ((body = json_pack("{s:O,s:O}", "overall", overall, "mine", mine)) == NULL) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    *out = body;
out:
    json_decref(overall);
    json_decref(mine);
    return rc;
}

/* sync_estimate.c - how many Spotify requests the next sync_run will spend,
 * computed from the stored copy alone (no request is sent: the estimate is
 * shown before the user spends quota).
 *
 * It counts what sync_collections.c and sync_playlists.c send, collection
 * by collection, at the stored sizes; keep the three in step:
 *  - saved collections (liked, albums, shows, episodes): the first page
 *    (50), and when it shows a change the pages after it: 1 unchanged,
 *    ceil(total/50) changed;
 *  - playlists: every page of /me/playlists (50), then, for each playlist
 *    the user owns or collaborates on whose items are not stored at its
 *    snapshot (all of them when changed), ceil(items/page) pages, page =
 *    spotify_page_max of the mode (100 in extended mode, 50 in development
 *    mode), plus the mode probe when this process has not learnt the mode
 *    yet and some playlist is read (none when the last sync found the app
 *    extended: the run then reads /tracks without asking);
 *  - followed artists: the cursor walk, ceil(total/50) pages (at least 1);
 *  - top items: the six first pages, and a list longer than its first page
 *    (rare) walked again whole: 1 + ceil(n/50) for it;
 *  - recently played: 1.
 * "requests" assumes Spotify still holds what is stored (the usual case of
 * a scheduled sync); "if_changed" that every collection changed at its
 * stored size; "synced" tells whether a sync of the user was ever recorded
 * (before the first, every stored size is 0). A token refresh (when the access token is about to expire)
 * adds one request to either. The mode is the one this process learnt, else
 * the one the last sync recorded (SYNC_MODE_STATE_KEY), else development
 * mode's limits are assumed ("mode": "unknown").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/sync_internal.h"
#include "store/store_auth.h"
#include "store/store_library.h"

#define PAGE 50

static int64_t pages_of(int64_t n, int64_t page)
{
    return n > 0 ? (n + page - 1) / page : 0;
}

static const char *mode_name(spotify_mode m)
{
    return m == SPOTIFY_MODE_EXTENDED ? "extended"
           : m == SPOTIFY_MODE_DEVELOPMENT ? "development"
                                           : "unknown";
}

static spotify_mode mode_from_name(const char *s)
{
    if (s && strcmp(s, "extended") == 0)
        return SPOTIFY_MODE_EXTENDED;
    if (s && strcmp(s, "development") == 0)
        return SPOTIFY_MODE_DEVELOPMENT;
    return SPOTIFY_MODE_UNKNOWN;
}

spotify_mode sync_stored_mode(kt_app *app)
{
    store *s = NULL;
    char *stored = NULL;
    kt_err e;
    err_clear(&e);
    spotify_mode m = SPOTIFY_MODE_UNKNOWN;
    if (app_db_get(app, &s, &e) != KT_OK)
        return m;
    if (store_app_state_get(s, SYNC_MODE_STATE_KEY, &stored, &e) == KT_OK)
        m = mode_from_name(stored);
    free(stored);
    app_db_put(app, s);
    return m;
}

void sync_remember_mode(kt_app *app, spotify_mode mode)
{
    store *s = NULL;
    char *stored = NULL;
    kt_err e;
    err_clear(&e);
    if (mode == SPOTIFY_MODE_UNKNOWN || app_db_get(app, &s, &e) != KT_OK)
        return;
    /* Written only when it changes: a sync costs no write for it. */
    if (store_app_state_get(s, SYNC_MODE_STATE_KEY, &stored, &e) != KT_OK ||
        mode_from_name(stored) != mode)
        (void)store_app_state_set(s, SYNC_MODE_STATE_KEY, mode_name(mode), time_now_ms(), &e);
    free(stored);
    app_db_put(app, s);
}

/* The estimate of one collection. */
typedef struct est_part {
    int64_t requests, if_changed;
} est_part;

static kt_status saved_part(store *s, int64_t uid, store_coll coll, est_part *out, kt_err *err)
{
    store_rows *r = NULL;
    int64_t total = 0;
    kt_status st = store_coll_head(s, uid, coll, 0, &r, &total, err);
    store_rows_free(r);
    if (st != KT_OK)
        return st;
    int64_t pages = pages_of(total, PAGE);
    if (coll == STORE_COLL_FOLLOWED) /* a cursor walk: every page every time */
        *out = (est_part){pages ? pages : 1, pages ? pages : 1};
    else
        *out = (est_part){1, pages ? pages : 1};
    return KT_OK;
}

static kt_status top_part(store *s, int64_t uid, est_part *out, kt_err *err)
{
    static const char *const kinds[] = {"tracks", "artists"};
    static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
    int64_t n = 0;
    for (size_t k = 0; k < 2; k++)
        for (size_t g = 0; g < 3; g++) {
            char day[11];
            store_rows *r = NULL;
            kt_status st = store_top_latest_day(s, uid, kinds[k], ranges[g], day, err);
            if (st == KT_ERR_NOT_FOUND) {
                n += 1;
                continue;
            }
            if (st != KT_OK || (st = store_top_get(s, uid, kinds[k], ranges[g], day, &r, err)) !=
                                   KT_OK)
                return st;
            int64_t len = (int64_t)store_rows_count(r);
            store_rows_free(r);
            n += len > PAGE ? 1 + pages_of(len, PAGE) : 1;
        }
    *out = (est_part){n, n};
    return KT_OK;
}

/* Playlists: the list's pages, the item pages of the playlists read, and
 * the mode probe when one is read and the mode is not known in-process. */
static kt_status playlists_part(store *s, int64_t uid, const char *me, spotify_mode mode,
                                int probe, est_part *out, kt_err *err)
{
    int page = spotify_page_max(mode, mode == SPOTIFY_MODE_EXTENDED
                                          ? "GET /playlists/{id}/tracks"
                                          : "GET /playlists/{id}/items");
    int64_t total = 0, items_now = 0, items_all = 0;
    int read_now = 0, read_all = 0;
    for (size_t off = 0;; off += STORE_LIB_MAX_LIMIT) {
        store_rows *r = NULL;
        kt_status st = store_playlists_list(s, uid, STORE_LIB_MAX_LIMIT, off, &r, &total, err);
        if (st != KT_OK)
            return st;
        size_t n = store_rows_count(r);
        for (size_t i = 0; i < n; i++) {
            const char *owner = store_rows_text(r, i, 3), *snap = store_rows_text(r, i, 7);
            const char *synced = store_rows_text(r, i, 10);
            int readable = (owner && strcmp(owner, me) == 0) || store_rows_int(r, i, 5);
            if (!readable)
                continue;
            /* An unknown total is walked alone: its first page, then the rest. */
            int64_t itotal = store_rows_is_null(r, i, 8) ? -1 : store_rows_int(r, i, 8);
            int64_t pages = itotal < 0 ? 1 : pages_of(itotal, page);
            read_all = 1;
            items_all += pages;
            if (!(snap && synced && strcmp(snap, synced) == 0)) {
                read_now = 1;
                items_now += pages;
            }
        }
        store_rows_free(r);
        if (n < STORE_LIB_MAX_LIMIT)
            break;
    }
    int64_t list = pages_of(total, PAGE);
    list = list ? list : 1;
    *out = (est_part){list + items_now + (read_now ? probe : 0),
                      list + items_all + (read_all ? probe : 0)};
    return KT_OK;
}

kt_status sync_estimate(kt_app *app, int64_t user_id, unsigned what, json_t **out, kt_err *err)
{
    static const struct {
        unsigned bit;
        const char *name;
        store_coll coll;
    } saved[] = {
        {SYNC_LIKED, "liked", STORE_COLL_LIKED},       {SYNC_ALBUMS, "albums", STORE_COLL_ALBUMS},
        {SYNC_SHOWS, "shows", STORE_COLL_SHOWS},       {SYNC_EPISODES, "episodes", STORE_COLL_EPISODES},
        {SYNC_FOLLOWING, "following", STORE_COLL_FOLLOWED},
    };
    store *s = NULL;
    store_user u = {0};
    json_t *parts = json_object();
    store_rows *runs = NULL;
    int64_t sum = 0, sum_changed = 0, n_runs = 0;
    what &= SYNC_ALL;
    spotify_mode mode = spotify_get_mode(app->spotify);
    if (mode == SPOTIFY_MODE_UNKNOWN)
        mode = sync_stored_mode(app);
    /* The run asks Spotify unless it knows the mode or trusts the stored
     * "extended" (sync_playlists.c). */
    int probe = spotify_get_mode(app->spotify) == SPOTIFY_MODE_UNKNOWN &&
                mode != SPOTIFY_MODE_EXTENDED;
    kt_status st = parts ? app_db_get(app, &s, err)
                         : err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    if (st != KT_OK)
        goto out;
    if ((st = store_user_get(s, user_id, &u, err)) != KT_OK)
        goto out;
    for (size_t k = 0; st == KT_OK && k < 8; k++) {
        unsigned bit = 1u << k;
        est_part p = {0, 0};
        const char *name = NULL;
        if (!(what & bit))
            continue;
        for (size_t i = 0; i < sizeof saved / sizeof saved[0]; i++)
            if (saved[i].bit == bit) {
                name = saved[i].name;
                st = saved_part(s, user_id, saved[i].coll, &p, err);
            }
        if (bit == SYNC_PLAYLISTS) {
            name = "playlists";
            st = playlists_part(s, user_id, u.spotify_id ? u.spotify_id : "", mode, probe, &p,
                                err);
        } else if (bit == SYNC_TOP) {
            name = "top";
            st = top_part(s, user_id, &p, err);
        } else if (bit == SYNC_RECENT) {
            name = "recent";
            p = (est_part){1, 1};
        }
        if (st == KT_OK && name &&
            json_object_set_new(parts, name,
                                json_pack("{s:I,s:I}", "requests", (json_int_t)p.requests,
                                          "if_changed", (json_int_t)p.if_changed)) != 0)
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        sum += p.requests;
        sum_changed += p.if_changed;
    }
    if (st == KT_OK)
        st = store_sync_runs_page(s, user_id, 1, 0, &runs, &n_runs, err);
    if (st == KT_OK) {
        char what_s[128];
        sync_format_what(what, what_s, sizeof what_s);
        *out = json_pack("{s:s,s:I,s:I,s:s,s:b,s:O}", "what", what_s, "requests",
                         (json_int_t)sum, "if_changed", (json_int_t)sum_changed, "mode",
                         mode_name(mode), "synced", n_runs > 0, "collections", parts);
        if (!*out)
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    }
out:
    app_db_put(app, s);
    store_user_clear(&u);
    store_rows_free(runs);
    json_decref(parts);
    return st;
}

/* sync_collections.c - the simple collections of a sync run: liked songs,
 * saved albums/shows/episodes (offset paging), followed artists (cursor
 * paging), top tracks and artists (3 ranges, one snapshot per day) and
 * recently played (see sync_internal.h for the rules they share).
 *
 * Saved collections are incremental: the first page is fetched and compared
 * with the stored copy (same total, same newest items with the same
 * added_at); when it matches nothing else is fetched or written. Otherwise
 * the pages after that first one (kept, not fetched again) are fetched in
 * parallel (spotify_get_offset_rest) and the collection replaced exactly, which
 * reflects removals and reorders anywhere, not only at the top.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/sync_internal.h"
#include "store/store_library.h"

#define PAGE 50

typedef struct saved_kind {
    spotify_saved_kind kind;
    const char *path;
    store_coll coll;
    const char *name;
    const char *word; /* one word, for sync_span */
} saved_kind;

static const saved_kind saved_kinds[] = {
    {SPOTIFY_SAVED_TRACK, "/me/tracks", STORE_COLL_LIKED, "liked songs", "liked"},
    {SPOTIFY_SAVED_ALBUM, "/me/albums", STORE_COLL_ALBUMS, "saved albums", "albums"},
    {SPOTIFY_SAVED_SHOW, "/me/shows", STORE_COLL_SHOWS, "saved shows", "shows"},
    {SPOTIFY_SAVED_EPISODE, "/me/episodes", STORE_COLL_EPISODES, "saved episodes", "episodes"},
};

typedef struct saved_walk {
    sync_ctx *c;
    const saved_kind *k;
    sync_list list;
    int64_t total;
    int catalog; /* 0: only read refs (the first-page check); 1: queue objects too */
} saved_walk;

/* Takes one saved entry: its ref into the list, its object into the catalog. */
static kt_status saved_take(saved_walk *w, spotify_saved *sv, kt_err *err)
{
    const char *ref = NULL;
    kt_status st;
    switch (sv->kind) {
    case SPOTIFY_SAVED_TRACK:
    case SPOTIFY_SAVED_EPISODE:
        ref = sv->track ? sv->track->uri : NULL;
        break;
    case SPOTIFY_SAVED_ALBUM:
        ref = sv->album ? sv->album->id : NULL;
        break;
    case SPOTIFY_SAVED_SHOW:
        ref = sv->show ? sv->show->id : NULL;
        break;
    }
    if (!ref)
        return KT_OK; /* nothing identifiable: Spotify sent an empty wrapper */
    if ((st = sync_list_add(&w->list, ref, sv->added_at_ms, NULL, err)) != KT_OK || !w->catalog)
        return st;
    if (sv->track) {
        st = sync_cat_track(w->c, sv->track, err);
        sv->track = NULL;
    } else if (sv->album) {
        st = sync_cat_album(w->c, sv->album, err);
        sv->album = NULL;
    } else if (sv->show) {
        st = sync_cat_show(w->c, sv->show, err);
        sv->show = NULL;
    }
    return st;
}

static kt_status saved_page(void *ctx, const json_t *page, kt_err *err)
{
    saved_walk *w = ctx;
    const json_t *items = json_arr(page, "items");
    size_t i;
    const json_t *it;
    kt_status st = sync_check_stop(w->c, err);
    if (st != KT_OK)
        return st;
    json_array_foreach(items, i, it)
    {
        spotify_saved *sv = NULL;
        if (spotify_parse_saved(it, w->k->kind, &sv, NULL) != KT_OK)
            continue;
        st = saved_take(w, sv, err);
        spotify_saved_free(sv);
        if (st != KT_OK)
            return st;
    }
    sync_report(w->c, "%s %zu/%lld", w->k->name, w->list.n, (long long)w->total);
    if (w->total > 0 && (int64_t)w->list.n + SYNC_CAT_TAIL_ITEMS >= w->total)
        return sync_cat_flush(w->c, SYNC_FLUSH_IF_FREE, err);
    return KT_OK;
}

/* 1 when the stored head equals the first page in `w->list` and the totals agree. */
static kt_status saved_unchanged(saved_walk *w, int64_t total, int *same, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    int64_t stored = 0;
    kt_status st = sync_db(w->c, &s, err);
    if (st != KT_OK)
        return st;
    st = store_coll_head(s, w->c->user_id, w->k->coll, w->list.n, &r, &stored, err);
    sync_db_put(w->c, s);
    if (st != KT_OK)
        return st;
    int eq = stored == total && store_rows_count(r) == w->list.n;
    for (size_t i = 0; eq && i < w->list.n; i++) {
        const char *ref = store_rows_text(r, i, 0);
        int64_t at = store_rows_is_null(r, i, 1) ? -1 : store_rows_int(r, i, 1);
        eq = ref && strcmp(ref, w->list.refs[i]) == 0 &&
             at == (w->list.at[i] < 0 ? -1 : w->list.at[i]);
    }
    store_rows_free(r);
    *same = eq;
    return KT_OK;
}

static kt_status saved_write(saved_walk *w, kt_err *err)
{
    store *s = NULL;
    store_saved_row *rows = calloc(w->list.n + 1, sizeof *rows);
    int64_t add = 0, rem = 0;
    kt_status st;
    if (!rows)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < w->list.n; i++)
        rows[i] = (store_saved_row){w->list.refs[i], w->list.at[i]};
    if ((st = sync_cat_flush(w->c, SYNC_FLUSH_ALL, err)) == KT_OK &&
        (st = sync_db_write(w->c, &s, err)) == KT_OK) {
        int64_t t0 = time_now_ms();
        st = store_coll_replace(s, w->c->user_id, w->k->coll, rows, w->list.n, &add, &rem, err);
        sync_db_put(w->c, s);
        sync_span(w->k->word, t0);
    }
    free(rows);
    if (st == KT_OK) {
        w->c->added += add;
        w->c->removed += rem;
    }
    return st;
}

kt_status sync_saved(sync_ctx *c, spotify_saved_kind kind, kt_err *err)
{
    const saved_kind *k = NULL;
    json_t *first = NULL;
    char path[128];
    int same = 0;
    for (size_t i = 0; i < sizeof saved_kinds / sizeof saved_kinds[0]; i++)
        if (saved_kinds[i].kind == kind)
            k = &saved_kinds[i];
    if (!k)
        return err_set(err, KT_ERR_INTERNAL, NULL, "unknown saved kind %d", (int)kind);
    saved_walk w = {.c = c, .k = k};
    snprintf(path, sizeof path, "%s?limit=%d&offset=0", k->path, PAGE);
    kt_status st = spotify_get(c->app->spotify, c->user_id, path, &first, err);
    if (st != KT_OK)
        goto out;
    w.total = json_int(first, "total", -1);
    if (w.total < 0) {
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed", "Spotify's %s page has no total",
                     k->path);
        goto out;
    }
    if ((st = saved_page(&w, first, err)) != KT_OK ||
        (st = saved_unchanged(&w, w.total, &same, err)) != KT_OK)
        goto out;
    if (same)
        goto out; /* the stored copy is current: nothing to fetch or write */
    /* Changed somewhere: read it all and replace. The first page is taken
     * again from memory, the rest fetched in parallel. */
    sync_list_free(&w.list);
    w.catalog = 1;
    if ((st = saved_page(&w, first, err)) != KT_OK ||
        (st = spotify_get_offset_rest(c->app->spotify, c->user_id, k->path, PAGE, w.total, NULL,
                                      saved_page, &w, err)) != KT_OK)
        goto out;
    st = saved_write(&w, err);
out:
    if (st != KT_OK)
        err_prefix(err, "%s", k->name);
    json_decref(first);
    sync_list_free(&w.list);
    return st;
}

/* ---- followed artists ---- */

typedef struct follow_walk {
    sync_ctx *c;
    sync_list list;
} follow_walk;

static kt_status follow_page(void *ctx, const json_t *page, kt_err *err)
{
    follow_walk *w = ctx;
    size_t i;
    const json_t *it;
    kt_status st = sync_check_stop(w->c, err);
    if (st != KT_OK)
        return st;
    json_array_foreach(json_arr(page, "items"), i, it)
    {
        spotify_artist *a = NULL;
        if (spotify_parse_artist(it, &a, NULL) != KT_OK || !a->id) {
            spotify_artist_free(a);
            continue;
        }
        if ((st = sync_list_add(&w->list, a->id, -1, NULL, err)) == KT_OK)
            st = sync_cat_artist(w->c, a, err);
        else
            spotify_artist_free(a);
        if (st != KT_OK)
            return st;
    }
    sync_report(w->c, "followed artists %zu/%lld", w->list.n,
                (long long)json_int(page, "total", -1));
    return KT_OK;
}

kt_status sync_following(sync_ctx *c, kt_err *err)
{
    static const saved_kind k = {0, "/me/following", STORE_COLL_FOLLOWED, "followed artists",
                                 "following"};
    follow_walk w = {.c = c};
    store *s = NULL;
    store_rows *stored = NULL;
    const char **after = NULL;
    size_t n_after = 0, n_stored = 0;
    /* The cursor is the last artist id of a page, so the stored copy says
     * where each page started last time: if nothing changed, every page is
     * fetched at once instead of one after the other. */
    kt_status st = sync_db(c, &s, err);
    if (st == KT_OK) {
        st = store_coll_all(s, c->user_id, STORE_COLL_FOLLOWED, &stored, err);
        sync_db_put(c, s);
    }
    if (st == KT_OK && (n_stored = store_rows_count(stored)) > PAGE &&
        !(after = calloc(n_stored / PAGE, sizeof *after)))
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = PAGE - 1; st == KT_OK && i + 1 < n_stored; i += PAGE)
        after[n_after++] = store_rows_text(stored, i, 0);
    if (st == KT_OK)
        st = spotify_get_cursor_guessed(c->app->spotify, c->user_id,
                                        "/me/following?type=artist&limit=50", "artists",
                                        (int64_t)n_stored, after, n_after, follow_page, &w, err);
    free(after);
    store_rows_free(stored);
    if (st == KT_OK) {
        saved_walk sw = {.c = c, .k = &k, .catalog = 1, .list = w.list};
        st = saved_write(&sw, err);
    }
    if (st != KT_OK)
        err_prefix(err, "followed artists");
    sync_list_free(&w.list);
    return st;
}

/* ---- top items ---- */

static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
static const char *const top_kinds[] = {"tracks", "artists"};
#define N_TOP 6

typedef struct top_walk {
    sync_ctx *c;
    int artists;
    sync_list list;
} top_walk;

static kt_status top_page(void *ctx, const json_t *page, kt_err *err)
{
    top_walk *w = ctx;
    size_t i;
    const json_t *it;
    kt_status st = KT_OK;
    json_array_foreach(json_arr(page, "items"), i, it)
    {
        if (w->artists) {
            spotify_artist *a = NULL;
            if (spotify_parse_artist(it, &a, NULL) != KT_OK || !a->id) {
                spotify_artist_free(a);
                continue;
            }
            if ((st = sync_list_add(&w->list, a->id, -1, NULL, err)) == KT_OK)
                st = sync_cat_artist(w->c, a, err);
            else
                spotify_artist_free(a);
        } else {
            spotify_track *t = NULL;
            if (spotify_parse_track(it, &t, NULL) != KT_OK || !t->uri) {
                spotify_track_free(t);
                continue;
            }
            if ((st = sync_list_add(&w->list, t->uri, -1, NULL, err)) == KT_OK)
                st = sync_cat_track(w->c, t, err);
            else
                spotify_track_free(t);
        }
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

static void utc_day(int64_t ms, char day[11])
{
    char iso[32];
    time_format_iso8601(ms, iso);
    memcpy(day, iso, 10);
    day[10] = '\0';
}

kt_status sync_top(sync_ctx *c, kt_err *err)
{
    char *paths[N_TOP] = {0};
    json_t *pages[N_TOP] = {0};
    top_walk walks[N_TOP];
    store_top_list lists[N_TOP];
    store *s = NULL;
    char day[11];
    kt_status st = KT_OK;
    memset(walks, 0, sizeof walks);
    for (int i = 0; i < N_TOP && st == KT_OK; i++) {
        walks[i] = (top_walk){.c = c, .artists = i / 3};
        if (asprintf(&paths[i], "/me/top/%s?time_range=%s&limit=%d&offset=0", top_kinds[i / 3],
                     ranges[i % 3], PAGE) < 0) {
            paths[i] = NULL;
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        }
    }
    /* The six first pages in parallel; a longer list (rare) is walked whole. */
    if (st == KT_OK)
        st = spotify_get_many(c->app->spotify, c->user_id, (const char *const *)paths, N_TOP,
                              pages, err);
    for (int i = 0; i < N_TOP && st == KT_OK; i++) {
        if (json_int(pages[i], "total", 0) <= (int64_t)json_array_size(json_arr(pages[i], "items"))) {
            st = top_page(&walks[i], pages[i], err);
            continue;
        }
        char base[96];
        snprintf(base, sizeof base, "/me/top/%s?time_range=%s", top_kinds[i / 3], ranges[i % 3]);
        st = spotify_get_all_offset(c->app->spotify, c->user_id, base, PAGE, NULL, top_page,
                                    &walks[i], err);
    }
    utc_day(time_now_ms(), day);
    for (int i = 0; i < N_TOP; i++)
        lists[i] = (store_top_list){top_kinds[i / 3], ranges[i % 3],
                                    (const char *const *)walks[i].list.refs, walks[i].list.n};
    if (st == KT_OK && (st = sync_cat_flush(c, SYNC_FLUSH_ALL, err)) == KT_OK &&
        (st = sync_db_write(c, &s, err)) == KT_OK) {
        int64_t t0 = time_now_ms();
        st = store_top_replace(s, c->user_id, day, lists, N_TOP, err);
        sync_db_put(c, s);
        sync_span("top", t0);
    }
    for (int i = 0; i < N_TOP; i++) {
        free(paths[i]);
        json_decref(pages[i]);
        sync_list_free(&walks[i].list);
    }
    if (st != KT_OK)
        err_prefix(err, "top items");
    return st;
}

/* ---- recently played ---- */

kt_status sync_recent(sync_ctx *c, kt_err *err)
{
    json_t *page = NULL;
    store_play_row *rows = NULL;
    spotify_play **plays = NULL;
    size_t n = 0;
    store *s = NULL;
    int64_t added = 0;
    /* Spotify keeps only the last 50 plays: one page is all there is; polling
     * often enough is what makes the history complete. */
    kt_status st = spotify_get(c->app->spotify, c->user_id, "/me/player/recently-played?limit=50",
                               &page, err);
    const json_t *items = json_arr(page, "items");
    size_t cap = json_array_size(items);
    if (st == KT_OK && (!(rows = calloc(cap + 1, sizeof *rows)) ||
                        !(plays = calloc(cap + 1, sizeof *plays))))
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < cap && st == KT_OK; i++) {
        spotify_play *p = NULL;
        if (spotify_parse_play(json_array_get(items, i), &p, NULL) != KT_OK ||
            p->played_at_ms < 0 || !p->track || !p->track->uri) {
            spotify_play_free(p);
            continue;
        }
        plays[n] = p;
        rows[n] = (store_play_row){p->played_at_ms, p->track->uri, p->context_uri};
        n++;
    }
    /* The catalog takes tracks of its own (the queue owns what it is given;
     * the plays keep theirs until written). */
    for (size_t i = 0; i < cap && st == KT_OK; i++) {
        spotify_track *t = NULL;
        if (spotify_parse_track(json_object_get(json_array_get(items, i), "track"), &t, NULL) ==
                KT_OK &&
            t->uri)
            st = sync_cat_track(c, t, err);
        else
            spotify_track_free(t);
    }
    if (st == KT_OK && (st = sync_cat_flush(c, SYNC_FLUSH_ALL, err)) == KT_OK &&
        (st = sync_db_write(c, &s, err)) == KT_OK) {
        st = store_plays_add(s, c->user_id, rows, n, &added, err);
        sync_db_put(c, s);
    }
    if (st == KT_OK)
        c->added += added;
    for (size_t i = 0; i < n; i++)
        spotify_play_free(plays[i]);
    free(plays);
    free(rows);
    json_decref(page);
    if (st != KT_OK)
        err_prefix(err, "recently played");
    return st;
}

/* sync_playlists.c - the user's playlists and the items of those they own or
 * collaborate on (see sync_internal.h for the shared rules).
 *
 * 1. /me/playlists, every page (offset paging, in parallel).
 * 2. A playlist's items are fetched only when it is readable (owned or
 *    collaborative) and its snapshot_id differs from the one whose items are
 *    stored: an unchanged library costs only step 1.
 * 3. The pages of every changed playlist are known up front from the
 *    list's items.total, so they are all fetched as one windowed stream
 *    (spotify_get_each: many small playlists keep every connection busy
 *    instead of walking one playlist at a time, and each page is parsed and
 *    freed as it arrives). A page whose total differs (the playlist changed
 *    meanwhile), an unknown total, or a stream refused with 403 falls back
 *    to walking that playlist alone; a 403 there means the playlist is not
 *    readable after all (followed playlists of others): metadata only, not
 *    an error.
 * 4. The whole list and every fetched item list are written in one
 *    transaction (store_playlists_replace), which also records a version
 *    per new snapshot_id.
 *
 * 5. Custom covers (issue 18, item 6): a playlist the user owns whose
 *    images[] is one image of null size (an upload; the mosaic is not kept)
 *    gets its cover recorded on its current version. The list already
 *    carries the image URL, so covers cost no Web API request; the bytes
 *    come from the image host (spotify_fetch_image, no token) only when the
 *    URL is not one a stored version already has (then the stored hash is
 *    reused). A cover that fails to download, is not a JPEG or is over
 *    Spotify's upload limit is left out with a warning (the version keeps
 *    no cover; the next sync tries again); it never fails the sync.
 *
 * Development-mode apps read /playlists/{id}/items 50 a page; extended-quota
 * apps the older /playlists/{id}/tracks 100 a page, half the requests. The
 * mode is the one this process learnt; else, when the last sync found the
 * app extended (sync_stored_mode), /tracks is read at once, without the
 * probe (a request and a latency saved per process): should the app have
 * lost extended quota, the first 403 there teaches the client development
 * mode and the items are read again through /items; else one
 * spotify_detect_mode. All only when some playlist needs its items.
 * sync_estimate (sync_estimate.c) counts the same pages: keep them in step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/sync_internal.h"
#include "store/store_library.h"

/* /me/playlists: 50 a page in both modes. */
#define LIST_PAGE 50

typedef struct pl_entry {
    spotify_playlist *meta;
    int fetch;     /* items to be fetched */
    int walk;      /* fetch by walking this playlist alone */
    int readable;  /* items were read (fetch succeeded) */
    sync_list items;
    char cover_sha[65];   /* the custom cover's hex SHA-256; "" for none */
    unsigned char *cover; /* its bytes when downloaded by this sync, else NULL */
    size_t cover_len;
} pl_entry;

typedef struct pl_state {
    sync_ctx *c;
    pl_entry *v;
    size_t n, cap;
    const char *items_ep; /* "items" (development mode) or "tracks" (extended) */
    int page;             /* items per page: spotify_page_max of items_ep's mode */
    int64_t pages_done, pages_total;
} pl_state;

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

static kt_status list_page(void *ctx, const json_t *page, kt_err *err)
{
    pl_state *ps = ctx;
    size_t i;
    const json_t *it;
    kt_status st = sync_check_stop(ps->c, err);
    if (st != KT_OK)
        return st;
    json_array_foreach(json_arr(page, "items"), i, it)
    {
        spotify_playlist *p = NULL;
        if (spotify_parse_playlist(it, &p, NULL) != KT_OK || !p->id) {
            spotify_playlist_free(p);
            continue;
        }
        if (ps->n == ps->cap) {
            size_t nc = ps->cap ? ps->cap * 2 : 64;
            pl_entry *nv = realloc(ps->v, nc * sizeof *nv);
            if (!nv) {
                spotify_playlist_free(p);
                return nomem(err);
            }
            ps->v = nv;
            ps->cap = nc;
        }
        ps->v[ps->n++] = (pl_entry){.meta = p};
    }
    sync_report(ps->c, "playlists %zu/%lld", ps->n, (long long)json_int(page, "total", -1));
    return KT_OK;
}

/* Appends the items of one page of playlist e. */
static kt_status items_take(pl_state *ps, pl_entry *e, const json_t *page, kt_err *err)
{
    size_t i;
    const json_t *it;
    kt_status st = sync_check_stop(ps->c, err);
    if (st != KT_OK)
        return st;
    json_array_foreach(json_arr(page, "items"), i, it)
    {
        spotify_playlist_item *pi = NULL;
        if (spotify_parse_playlist_item(it, &pi, NULL) != KT_OK) {
            /* Not even an object: keep its place as a null entry. */
            st = sync_list_add(&e->items, NULL, -1, NULL, err);
        } else {
            const char *uri = pi->item ? pi->item->uri : NULL;
            st = sync_list_add(&e->items, uri, pi->added_at_ms, pi->added_by_id, err);
            if (st == KT_OK && uri) {
                st = sync_cat_track(ps->c, pi->item, err);
                pi->item = NULL;
            }
        }
        spotify_playlist_item_free(pi);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

typedef struct walk_ctx {
    pl_state *ps;
    pl_entry *e;
} walk_ctx;

static kt_status walk_page(void *ctx, const json_t *page, kt_err *err)
{
    walk_ctx *w = ctx;
    return items_take(w->ps, w->e, page, err);
}

/* 1 when /tracks was read on the stored mode's word and Spotify has since
 * answered that the app is in development mode: what was read is dropped
 * and read again through /items (sync_playlists). */
static int stale_mode(pl_state *ps)
{
    return strcmp(ps->items_ep, "tracks") == 0 &&
           spotify_get_mode(ps->c->app->spotify) == SPOTIFY_MODE_DEVELOPMENT;
}

/* Fetches one playlist's items alone; a 403 makes it metadata-only (unless
 * it says the mode was stale: the whole read starts again then). */
static kt_status walk_one(pl_state *ps, pl_entry *e, kt_err *err)
{
    char path[256];
    walk_ctx w = {ps, e};
    kt_err e403;
    err_clear(&e403);
    sync_list_free(&e->items);
    snprintf(path, sizeof path, "/playlists/%s/%s", e->meta->id, ps->items_ep);
    kt_status st = spotify_get_all_offset(ps->c->app->spotify, ps->c->user_id, path, ps->page,
                                          NULL, walk_page, &w, &e403);
    if (st == KT_ERR_FORBIDDEN) {
        sync_list_free(&e->items);
        e->fetch = stale_mode(ps) ? e->fetch : 0;
        return KT_OK;
    }
    if (st != KT_OK) {
        if (err)
            *err = e403;
        return st;
    }
    e->readable = 1;
    return KT_OK;
}

typedef struct page_ref {
    size_t entry;
    int64_t offset;
} page_ref;

typedef struct each_ctx {
    pl_state *ps;
    const page_ref *refs;
} each_ctx;

/* One page of some playlist, in order: pages of a playlist arrive in
 * order, so its items append in order. */
static kt_status each_page(void *ctx, size_t idx, const json_t *page, kt_err *err)
{
    each_ctx *x = ctx;
    pl_state *ps = x->ps;
    pl_entry *e = &ps->v[x->refs[idx].entry];
    kt_status st = KT_OK;
    if (!e->walk && json_int(page, "total", -1) != e->meta->items_total)
        e->walk = 1; /* changed since the list was read: walk it alone later */
    if (!e->walk)
        st = items_take(ps, e, page, err);
    if (++ps->pages_done % 20 == 0 || ps->pages_done == ps->pages_total)
        sync_report(ps->c, "playlist items: %lld/%lld pages", (long long)ps->pages_done,
                    (long long)ps->pages_total);
    return st == KT_OK ? sync_cat_flush(ps->c, SYNC_FLUSH_IF_FULL, err) : st;
}

/* Every page of every changed playlist through one windowed stream. */
static kt_status fetch_pages(pl_state *ps, const page_ref *refs, size_t n, kt_err *err)
{
    char **paths = calloc(n + 1, sizeof *paths);
    kt_status st = paths ? KT_OK : nomem(err);
    kt_err ferr;
    err_clear(&ferr);
    for (size_t i = 0; i < n && st == KT_OK; i++)
        if (asprintf(&paths[i], "/playlists/%s/%s?limit=%d&offset=%lld",
                     ps->v[refs[i].entry].meta->id, ps->items_ep, ps->page,
                     (long long)refs[i].offset) < 0) {
            paths[i] = NULL;
            st = nomem(err);
        }
    if (st == KT_OK) {
        each_ctx x = {ps, refs};
        st = spotify_get_each(ps->c->app->spotify, ps->c->user_id, (const char *const *)paths, n,
                              each_page, &x, &ferr);
        if (st == KT_ERR_FORBIDDEN) {
            /* Some playlist here is not readable after all: sort them out
             * one by one (a 403 there means metadata only). */
            for (size_t i = 0; i < n; i++)
                ps->v[refs[i].entry].walk = 1;
            st = KT_OK;
        } else if (st != KT_OK && err) {
            *err = ferr;
        }
    }
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    return st;
}

static kt_status fetch_items(pl_state *ps, kt_err *err)
{
    page_ref *refs = NULL;
    size_t nrefs = 0, cap = 0;
    kt_status st = KT_OK;
    for (size_t i = 0; i < ps->n && st == KT_OK; i++) {
        pl_entry *e = &ps->v[i];
        if (!e->fetch)
            continue;
        if (e->meta->items_total < 0) {
            e->walk = 1;
            continue;
        }
        e->readable = 1;
        for (int64_t off = 0; off < e->meta->items_total; off += ps->page) {
            if (nrefs == cap) {
                size_t nc = cap ? cap * 2 : 256;
                page_ref *nr = realloc(refs, nc * sizeof *nr);
                if (!nr) {
                    st = nomem(err);
                    break;
                }
                refs = nr;
                cap = nc;
            }
            refs[nrefs++] = (page_ref){i, off};
        }
    }
    ps->pages_total = (int64_t)nrefs;
    if (st == KT_OK)
        st = fetch_pages(ps, refs, nrefs, err);
    free(refs);
    for (size_t i = 0; i < ps->n && st == KT_OK && !stale_mode(ps); i++)
        if (ps->v[i].fetch && ps->v[i].walk)
            st = walk_one(ps, &ps->v[i], err);
    return st;
}

/* Marks which playlists need their items fetched. */
static kt_status plan(pl_state *ps, int *any, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    strset *synced = strset_new();
    kt_status st = synced ? sync_db(ps->c, &s, err) : nomem(err);
    if (st == KT_OK) {
        st = store_playlists_state(s, ps->c->user_id, &r, err);
        sync_db_put(ps->c, s);
    }
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        char key[512];
        const char *snap = store_rows_text(r, i, 2);
        if (!snap)
            continue;
        snprintf(key, sizeof key, "%s\n%s", store_rows_text(r, i, 0), snap);
        if (strset_add(synced, key) < 0)
            st = nomem(err);
    }
    *any = 0;
    for (size_t i = 0; st == KT_OK && i < ps->n; i++) {
        const spotify_playlist *p = ps->v[i].meta;
        char key[512];
        int own = p->owner_id && strcmp(p->owner_id, ps->c->spotify_id) == 0;
        snprintf(key, sizeof key, "%s\n%s", p->id, p->snapshot_id ? p->snapshot_id : "");
        ps->v[i].fetch = (own || p->collaborative) && !(p->snapshot_id && strset_has(synced, key));
        *any |= ps->v[i].fetch;
    }
    store_rows_free(r);
    strset_free(synced);
    return st;
}

/* The stored hash of cover URL url, or NULL (known: rows of
 * store_playlist_cover_urls). */
static const char *known_cover(const store_rows *known, const char *url)
{
    for (size_t i = 0; i < store_rows_count(known); i++)
        if (strcmp(store_rows_text(known, i, 0), url) == 0)
            return store_rows_text(known, i, 1);
    return NULL;
}

/* Step 5 at the top of this file. */
static kt_status fetch_covers(pl_state *ps, kt_err *err)
{
    store *s = NULL;
    store_rows *known = NULL;
    kt_status st = sync_db(ps->c, &s, err);
    if (st == KT_OK) {
        st = store_playlist_cover_urls(s, ps->c->user_id, &known, err);
        sync_db_put(ps->c, s);
    }
    for (size_t i = 0; i < ps->n && st == KT_OK; i++) {
        pl_entry *e = &ps->v[i];
        const spotify_playlist *p = e->meta;
        if (!p->cover_custom || !p->image_url || !p->owner_id ||
            strcmp(p->owner_id, ps->c->spotify_id) != 0)
            continue;
        const char *sha = known_cover(known, p->image_url);
        if (sha && strlen(sha) == 64) {
            memcpy(e->cover_sha, sha, 65);
            continue;
        }
        kt_err ferr;
        err_clear(&ferr);
        kt_status fs = spotify_fetch_image(ps->c->app->spotify, p->image_url,
                                           SPOTIFY_COVER_MAX_BYTES, &e->cover, &e->cover_len, &ferr);
        if (fs == KT_ERR_NOMEM) {
            st = nomem(err);
        } else if (fs != KT_OK || !spotify_cover_acceptable(e->cover, e->cover_len)) {
            LOG_WARN("playlist_cover_skipped", "user=%lld reason=\"%s\"", (long long)ps->c->user_id,
                     fs != KT_OK ? ferr.msg : "not a JPEG");
            free(e->cover);
            e->cover = NULL;
            e->cover_len = 0;
        } else {
            crypto_sha256_hex(e->cover, e->cover_len, e->cover_sha);
        }
    }
    store_rows_free(known);
    return st;
}

static kt_status write_all(pl_state *ps, kt_err *err)
{
    store_playlist_row *rows = calloc(ps->n + 1, sizeof *rows);
    store_playlist_items *items = calloc(ps->n + 1, sizeof *items);
    store_item_row **irows = calloc(ps->n + 1, sizeof *irows);
    size_t ni = 0;
    store *s = NULL;
    int64_t add = 0, rem = 0;
    kt_status st = rows && items && irows ? KT_OK : nomem(err);
    for (size_t i = 0; st == KT_OK && i < ps->n; i++) {
        const spotify_playlist *p = ps->v[i].meta;
        rows[i] = (store_playlist_row){.spotify_id = p->id,
                                       .name = p->name,
                                       .description = p->description,
                                       .owner_id = p->owner_id,
                                       .owner_name = p->owner_name,
                                       .collaborative = p->collaborative,
                                       .public_ = p->public_,
                                       .snapshot_id = p->snapshot_id,
                                       .items_total = p->items_total,
                                       .image_url = p->image_url};
        if (ps->v[i].cover_sha[0]) {
            rows[i].cover_sha256 = ps->v[i].cover_sha;
            rows[i].cover_url = p->image_url;
            rows[i].cover_bytes = ps->v[i].cover;
            rows[i].cover_len = ps->v[i].cover_len;
        }
        if (!ps->v[i].fetch || !ps->v[i].readable)
            continue;
        const sync_list *l = &ps->v[i].items;
        if (!(irows[ni] = calloc(l->n + 1, sizeof **irows))) {
            st = nomem(err);
            break;
        }
        for (size_t k = 0; k < l->n; k++)
            irows[ni][k] = (store_item_row){l->refs[k], l->at[k], l->by[k]};
        items[ni] = (store_playlist_items){p->id, p->snapshot_id, irows[ni], l->n};
        ni++;
    }
    if (st == KT_OK && (st = sync_cat_flush(ps->c, SYNC_FLUSH_ALL, err)) == KT_OK &&
        (st = sync_db_write(ps->c, &s, err)) == KT_OK) {
        int64_t t0 = time_now_ms();
        st = store_playlists_replace(s, ps->c->user_id, rows, ps->n, items, ni, t0, &add, &rem,
                                     err);
        sync_db_put(ps->c, s);
        sync_span("playlists", t0);
    }
    if (st == KT_OK) {
        ps->c->added += add;
        ps->c->removed += rem;
    }
    for (size_t i = 0; irows && i < ps->n; i++)
        free(irows[i]);
    free(irows);
    free(items);
    free(rows);
    return st;
}

/* Picks /items or /tracks and the page size (see the top of this file). */
static kt_status choose_endpoint(pl_state *ps, kt_err *err)
{
    spotify_client *sp = ps->c->app->spotify;
    spotify_mode mode = spotify_get_mode(sp);
    if (mode == SPOTIFY_MODE_UNKNOWN && sync_stored_mode(ps->c->app) == SPOTIFY_MODE_EXTENDED) {
        mode = SPOTIFY_MODE_EXTENDED; /* assumed: /tracks itself confirms or refutes it */
    } else {
        kt_status st = spotify_detect_mode(sp, ps->c->user_id, &mode, err);
        if (st != KT_OK)
            return st;
        sync_remember_mode(ps->c->app, mode);
    }
    ps->items_ep = mode == SPOTIFY_MODE_EXTENDED ? "tracks" : "items";
    ps->page = spotify_page_max(mode, mode == SPOTIFY_MODE_EXTENDED ? "GET /playlists/{id}/tracks"
                                                                    : "GET /playlists/{id}/items");
    return KT_OK;
}

/* The app lost extended quota since the sync that recorded it: forget what
 * /tracks gave and read the items through /items, 50 a page. */
static kt_status reread_as_development(pl_state *ps, kt_err *err)
{
    int any = 0;
    LOG_INFO("sync_mode_changed", "user=%lld /tracks answered 403: reading /items",
             (long long)ps->c->user_id);
    sync_remember_mode(ps->c->app, SPOTIFY_MODE_DEVELOPMENT);
    for (size_t i = 0; i < ps->n; i++) {
        sync_list_free(&ps->v[i].items);
        ps->v[i].readable = ps->v[i].walk = 0;
    }
    ps->pages_done = 0;
    ps->items_ep = "items";
    ps->page = spotify_page_max(SPOTIFY_MODE_DEVELOPMENT, "GET /playlists/{id}/items");
    kt_status st = plan(ps, &any, err);
    return st == KT_OK && any ? fetch_items(ps, err) : st;
}

kt_status sync_playlists(sync_ctx *c, kt_err *err)
{
    pl_state ps = {.c = c, .items_ep = "items"};
    int any = 0;
    kt_status st = spotify_get_all_offset(c->app->spotify, c->user_id, "/me/playlists", LIST_PAGE,
                                          NULL, list_page, &ps, err);
    if (st == KT_OK)
        st = plan(&ps, &any, err);
    if (st == KT_OK && any && (st = choose_endpoint(&ps, err)) == KT_OK &&
        (st = fetch_items(&ps, err)) == KT_OK && stale_mode(&ps))
        st = reread_as_development(&ps, err);
    if (st == KT_OK)
        st = fetch_covers(&ps, err);
    if (st == KT_OK)
        st = write_all(&ps, err);
    for (size_t i = 0; i < ps.n; i++) {
        spotify_playlist_free(ps.v[i].meta);
        sync_list_free(&ps.v[i].items);
        free(ps.v[i].cover);
    }
    free(ps.v);
    if (st != KT_OK)
        err_prefix(err, "playlists");
    return st;
}

/* sync_catalog.c - turns parsed Spotify objects into catalog rows and
 * writes them in batches (see sync_internal.h).
 *
 * Objects are queued as pages arrive and written once SYNC_CAT_FLUSH are
 * pending (and at the end of each collection), each batch in one short
 * transaction. Catalog rows only add or refresh shared metadata, so writing
 * them before the collection's own transaction never changes what a user
 * sees if the sync later fails. The run-wide `written` set skips objects
 * already written in this run (an artist on hundreds of tracks, a track in
 * Liked Songs and in playlists).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/sync_internal.h"
#include "store/store_library.h"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

kt_status sync_db(sync_ctx *c, store **out, kt_err *err)
{
    c->db_since = time_mono_ms();
    return app_db_get(c->app, out, err);
}

void sync_db_put(sync_ctx *c, store *s)
{
    app_db_put(c->app, s);
    c->db_ms += time_mono_ms() - c->db_since;
    if (c->locked) {
        c->locked = 0;
        pthread_mutex_unlock(&c->sh->write_lock);
    }
}

kt_status sync_db_write(sync_ctx *c, store **out, kt_err *err)
{
    kt_status st;
    pthread_mutex_lock(&c->sh->write_lock);
    c->locked = 1;
    if ((st = sync_db(c, out, err)) != KT_OK) {
        c->locked = 0;
        pthread_mutex_unlock(&c->sh->write_lock);
    }
    return st;
}

kt_status sync_shared_init(sync_shared *sh, kt_err *err)
{
    memset(sh, 0, sizeof *sh);
    if (!(sh->written = strset_new()))
        return nomem(err);
    if (pthread_mutex_init(&sh->write_lock, NULL) != 0) {
        strset_free(sh->written);
        sh->written = NULL;
        return err_set(err, KT_ERR_INTERNAL, NULL, "pthread_mutex_init failed");
    }
    if (pthread_mutex_init(&sh->mu, NULL) != 0) {
        pthread_mutex_destroy(&sh->write_lock);
        strset_free(sh->written);
        sh->written = NULL;
        return err_set(err, KT_ERR_INTERNAL, NULL, "pthread_mutex_init failed");
    }
    return KT_OK;
}

void sync_shared_free(sync_shared *sh)
{
    if (!sh->written)
        return;
    sync_cat_clear(&sh->cat);
    strset_free(sh->written);
    sh->written = NULL;
    pthread_mutex_destroy(&sh->mu);
    pthread_mutex_destroy(&sh->write_lock);
}

void sync_span(const char *what, int64_t start_ms)
{
    LOG_DEBUG("sync_span", "what=%s start_ms=%lld end_ms=%lld", what, (long long)start_ms,
              (long long)time_now_ms());
}

/* Appends p to a growable pointer array. */
static int push(void ***v, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void **nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = p;
    return 0;
}

/* Objects pending in the run's queue (caller holds sh->mu). */
static size_t pending(const sync_cat *cat)
{
    return cat->n_tracks + cat->n_albums + cat->n_artists + cat->n_shows;
}

/* Queues obj in one of the run's pointer arrays unless key (with a
 * one-letter kind prefix) was queued before this run; then flushes when the
 * queue is full. Takes obj (frees it when it is not queued). */
static kt_status queue(sync_ctx *c, void ***v, size_t *n, size_t *cap, void *obj,
                       void (*freefn)(void *), char kind, const char *key, kt_err *err)
{
    char buf[512];
    sync_shared *sh = c->sh;
    int fresh = 0, full = 0;
    if (!key) {
        freefn(obj);
        return KT_OK;
    }
    snprintf(buf, sizeof buf, "%c:%s", kind, key);
    pthread_mutex_lock(&sh->mu);
    fresh = strset_add(sh->written, buf);
    if (fresh > 0 && push(v, n, cap, obj) != 0)
        fresh = -1;
    else if (fresh > 0)
        full = pending(&sh->cat) >= SYNC_CAT_FLUSH;
    pthread_mutex_unlock(&sh->mu);
    if (fresh <= 0) {
        freefn(obj);
        return fresh < 0 ? nomem(err) : KT_OK;
    }
    return full ? sync_cat_flush(c, SYNC_FLUSH_IF_FULL, err) : KT_OK;
}

static void track_free(void *p) { spotify_track_free(p); }
static void album_free(void *p) { spotify_album_free(p); }
static void artist_free(void *p) { spotify_artist_free(p); }
static void show_free(void *p) { spotify_show_free(p); }

#define QUEUE(c, field, n, cap, obj, freefn, kind, key)                                      \
    queue(c, (void ***)&(c)->sh->cat.field, &(c)->sh->cat.n, &(c)->sh->cat.cap, obj, freefn, \
          kind, key, err)

kt_status sync_cat_track(sync_ctx *c, spotify_track *t, kt_err *err)
{
    return QUEUE(c, tracks, n_tracks, cap_tracks, t, track_free, 't', t ? t->uri : NULL);
}

kt_status sync_cat_album(sync_ctx *c, spotify_album *a, kt_err *err)
{
    return QUEUE(c, albums, n_albums, cap_albums, a, album_free, 'a', a ? a->id : NULL);
}

kt_status sync_cat_artist(sync_ctx *c, spotify_artist *a, kt_err *err)
{
    /* Full artist objects always refresh the row (genres, images). */
    return QUEUE(c, artists, n_artists, cap_artists, a, artist_free, 'A', a ? a->id : NULL);
}

kt_status sync_cat_show(sync_ctx *c, spotify_show *s, kt_err *err)
{
    return QUEUE(c, shows, n_shows, cap_shows, s, show_free, 's', s ? s->id : NULL);
}

void sync_cat_clear(sync_cat *cat)
{
    for (size_t i = 0; i < cat->n_tracks; i++)
        spotify_track_free(cat->tracks[i]);
    for (size_t i = 0; i < cat->n_albums; i++)
        spotify_album_free(cat->albums[i]);
    for (size_t i = 0; i < cat->n_artists; i++)
        spotify_artist_free(cat->artists[i]);
    for (size_t i = 0; i < cat->n_shows; i++)
        spotify_show_free(cat->shows[i]);
    free(cat->tracks);
    free(cat->albums);
    free(cat->artists);
    free(cat->shows);
    memset(cat, 0, sizeof *cat);
}

/* ---- conversion ---- */

static size_t fill_refs(store_ref *out, const spotify_artist_ref *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (store_ref){a[i].id, a[i].name};
    return n;
}

static store_album_row album_row(const spotify_album *a, store_ref *refs)
{
    return (store_album_row){.id = a->id,
                             .name = a->name,
                             .album_type = a->album_type,
                             .release_date = a->release_date,
                             .release_date_precision = a->release_date_precision,
                             .total_tracks = a->total_tracks,
                             .image_url = a->image_url,
                             .artists = refs,
                             .n_artists = fill_refs(refs, a->artists, a->n_artists)};
}

static char *genres_json(const spotify_artist *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->n_genres; i++)
        json_array_append_new(arr, json_string(a->genres[i]));
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

typedef struct rows {
    store_track_row *tracks;
    store_album_row *albums;     /* n_albums given + one per track */
    store_show_row *shows;       /* n_shows given + one per track */
    store_artist_row *artists;
    char **genres;
    store_ref *refs;
} rows;

static void rows_free(rows *r, size_t n_artists)
{
    for (size_t i = 0; r->genres && i < n_artists; i++)
        free(r->genres[i]);
    free(r->genres);
    free(r->tracks);
    free(r->albums);
    free(r->shows);
    free(r->artists);
    free(r->refs);
}

static kt_status build_rows(const sync_cat *cat, rows *r, kt_err *err)
{
    size_t nrefs = 0, nt = cat->n_tracks, na = cat->n_albums, ns = cat->n_shows,
           nr = cat->n_artists;
    for (size_t i = 0; i < nt; i++) {
        nrefs += cat->tracks[i]->n_artists;
        if (cat->tracks[i]->album)
            nrefs += cat->tracks[i]->album->n_artists;
    }
    for (size_t i = 0; i < na; i++)
        nrefs += cat->albums[i]->n_artists;
    r->tracks = calloc(nt + 1, sizeof *r->tracks);
    r->albums = calloc(na + nt + 1, sizeof *r->albums);
    r->shows = calloc(ns + nt + 1, sizeof *r->shows);
    r->artists = calloc(nr + 1, sizeof *r->artists);
    r->genres = calloc(nr + 1, sizeof *r->genres);
    r->refs = calloc(nrefs + 1, sizeof *r->refs);
    if (!r->tracks || !r->albums || !r->shows || !r->artists || !r->genres || !r->refs)
        return nomem(err);
    store_ref *ref = r->refs;
    for (size_t i = 0; i < na; i++) {
        r->albums[i] = album_row(cat->albums[i], ref);
        ref += r->albums[i].n_artists;
    }
    for (size_t i = 0; i < ns; i++) {
        const spotify_show *s = cat->shows[i];
        r->shows[i] = (store_show_row){s->id, s->name, s->publisher, s->total_episodes,
                                       s->image_url};
    }
    for (size_t i = 0; i < nr; i++) {
        const spotify_artist *a = cat->artists[i];
        if (!(r->genres[i] = genres_json(a)))
            return nomem(err);
        r->artists[i] = (store_artist_row){a->id,        a->name,       1, r->genres[i],
                                           a->image_url, a->followers, a->popularity};
    }
    for (size_t i = 0; i < nt; i++) {
        const spotify_track *t = cat->tracks[i];
        store_track_row *row = &r->tracks[i];
        int episode = t->type == SPOTIFY_ITEM_EPISODE;
        *row = (store_track_row){.uri = t->uri,
                                 .id = t->id,
                                 .kind = episode ? "episode" : t->is_local ? "local" : "track",
                                 .name = t->name,
                                 .duration_ms = t->duration_ms,
                                 .explicit_ = t->explicit_,
                                 .disc_number = t->disc_number,
                                 .track_number = t->track_number,
                                 .isrc = t->isrc,
                                 .release_date = episode ? t->release_date : NULL};
        row->artists = ref;
        row->n_artists = fill_refs(ref, t->artists, t->n_artists);
        ref += row->n_artists;
        if (t->album) {
            r->albums[na + i] = album_row(t->album, ref);
            ref += r->albums[na + i].n_artists;
            row->album = &r->albums[na + i];
        }
        if (episode && t->show_id) {
            r->shows[ns + i] = (store_show_row){t->show_id, t->show_name, t->show_publisher, -1,
                                                NULL};
            row->show = &r->shows[ns + i];
        }
    }
    return KT_OK;
}

kt_status sync_cat_flush(sync_ctx *c, int mode, kt_err *err)
{
    int force = mode != SYNC_FLUSH_IF_FULL; /* everything pending, not only a full queue */
    sync_shared *sh = c->sh;
    sync_cat cat = {0};
    rows r = {0};
    store *s = NULL;
    int64_t t0 = time_now_ms();
    kt_status st = KT_OK;
    /* The write lock first: a batch another thread took out of the queue is
     * committed before this one looks at the queue (see sync_internal.h).
     * A flush only because the queue is full does not wait for another
     * thread's write (a playlists write would stall the page stream that
     * queued it) unless the queue is over SYNC_CAT_HOLD_MAX: the objects
     * wait for the next flush instead. */
    if (mode == SYNC_FLUSH_ALL) {
        pthread_mutex_lock(&sh->write_lock);
    } else if (pthread_mutex_trylock(&sh->write_lock) != 0) {
        if (mode == SYNC_FLUSH_IF_FREE)
            return KT_OK;
        pthread_mutex_lock(&sh->mu);
        size_t n = pending(&sh->cat);
        pthread_mutex_unlock(&sh->mu);
        if (n < SYNC_CAT_HOLD_MAX)
            return KT_OK;
        pthread_mutex_lock(&sh->write_lock);
    }
    pthread_mutex_lock(&sh->mu);
    if (pending(&sh->cat) > 0 && (force || pending(&sh->cat) >= SYNC_CAT_FLUSH)) {
        cat = sh->cat;
        memset(&sh->cat, 0, sizeof sh->cat);
    }
    pthread_mutex_unlock(&sh->mu);
    if (pending(&cat) == 0) {
        pthread_mutex_unlock(&sh->write_lock);
        return KT_OK;
    }
    c->locked = 1; /* released by sync_db_put, or below */
    if ((st = build_rows(&cat, &r, err)) == KT_OK && (st = sync_db(c, &s, err)) == KT_OK) {
        st = store_catalog_put(s, r.artists, cat.n_artists, r.albums, cat.n_albums, r.shows,
                               cat.n_shows, r.tracks, cat.n_tracks, time_now_ms(), err);
        sync_db_put(c, s);
    }
    if (c->locked) {
        c->locked = 0;
        pthread_mutex_unlock(&sh->write_lock);
    }
    rows_free(&r, cat.n_artists);
    sync_cat_clear(&cat);
    sync_span("catalog", t0);
    return st;
}

/* ---- lists, progress ---- */

kt_status sync_list_add(sync_list *l, const char *ref, int64_t at, const char *by, kt_err *err)
{
    if (l->n == l->cap) {
        /* Start small: a sync holds the item lists of every changed
         * playlist at once (thousands, most of a few dozen items), and 256
         * slots of three arrays each was most of a large library's memory. */
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nr = realloc(l->refs, nc * sizeof *nr);
        if (nr)
            l->refs = nr;
        int64_t *na = nr ? realloc(l->at, nc * sizeof *na) : NULL;
        if (na)
            l->at = na;
        char **nb = na ? realloc(l->by, nc * sizeof *nb) : NULL;
        if (nb)
            l->by = nb;
        if (!nr || !na || !nb)
            return nomem(err);
        l->cap = nc;
    }
    /* ref and by share one allocation (by right after ref's NUL; alone
     * when there is no ref): a playlist item costs one heap chunk, not two. */
    size_t rl = ref ? strlen(ref) + 1 : 0, bl = by ? strlen(by) + 1 : 0;
    char *r = NULL, *b = NULL;
    if (rl + bl) {
        char *block = malloc(rl + bl);
        if (!block)
            return nomem(err);
        if (ref)
            r = memcpy(block, ref, rl);
        if (by)
            b = memcpy(block + rl, by, bl);
    }
    l->refs[l->n] = r;
    l->at[l->n] = at;
    l->by[l->n] = b;
    l->n++;
    return KT_OK;
}

void sync_list_free(sync_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->refs[i] ? l->refs[i] : l->by[i]); /* by lives in ref's block */
    free(l->refs);
    free(l->at);
    free(l->by);
    memset(l, 0, sizeof *l);
}

kt_status sync_check_stop(sync_ctx *c, kt_err *err)
{
    if ((c->stop && atomic_load(c->stop)) || (c->stopping && c->stopping(c->progress_ctx)))
        return err_set(err, KT_ERR_CONFLICT, SYNC_CODE_STOPPED,
                       "the sync stopped before the end (keeptrack is shutting down, or the job "
                       "went to another worker)");
    return KT_OK;
}

void sync_report(sync_ctx *c, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    if (!c->progress)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->progress(c->progress_ctx, c->step, c->steps, msg);
}

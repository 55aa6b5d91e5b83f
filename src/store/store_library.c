/* store_library.c - domain SQL of the library copy (see store_library.h).
 *
 * Writes go through a small batcher. SQLite: multi-row INSERTs of
 * STORE_LIB_BATCH rows per statement (one prepared, cached statement text
 * per table), the remainder row by row with the single-row text, so each
 * table uses exactly two statement texts whatever the row count.
 * PostgreSQL: one statement per table per flush over column arrays. It
 * refuses an ON CONFLICT DO UPDATE that touches one row twice in a
 * statement, so rows are de-duplicated by key (strset) before they reach a
 * batch. Catalog upserts update only rows whose columns differ (their WHERE
 * ... IS DISTINCT FROM ...), so a re-sync of an unchanged catalog writes
 * nothing. The playlists' write on PostgreSQL is set-based too: a constant
 * number of statements for all playlists at once, not ~6 a playlist.
 *
 * Portable SQL only (store.h's rules) outside the *_pg helpers, which only
 * PostgreSQL runs. Read queries that take a sort order are assembled from
 * fixed fragments chosen by enum, never from data, so the statement cache
 * holds a bounded set of texts.
 */
#include "store/store_library.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/strset.h"
#include "store/store_array.h"

#define TRACK_COLS                                                                          \
    "t.uri, t.id, t.kind, t.name, t.duration_ms, t.explicit, t.disc_number, "              \
    "t.track_number, t.isrc, t.album_id, al.name, al.album_type, al.release_date, "        \
    "al.release_date_precision, t.show_id, sh.name, sh.publisher, t.release_date, "        \
    "t.local_artist, t.local_album"
#define TRACK_JOINS \
    " LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN shows sh ON sh.id = t.show_id"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* -1 (unknown) binds SQL NULL. */
static store_param int_or_null(int64_t v)
{
    return v < 0 ? SP_NULL : SP_INT(v);
}

/* ---- the batcher ---- */

#define BATCH_MAX_COLS 16
#define PG_PLAYLIST_FLUSH_BYTES ((size_t)256 << 10)

/* SQLite: multi-row INSERTs of STORE_LIB_BATCH rows and the remainder row
 * by row (in process, a statement costs microseconds). PostgreSQL: the
 * rows collect in one array per column (store_array.h) and a flush is one
 * INSERT ... SELECT FROM unnest(...) whatever the row count: one statement
 * and one round trip per table per flush, where the multi-row INSERTs cost
 * one per 100 rows plus one per remaining row (a 50-item page meant ~50
 * round trips per table). */
typedef struct batch {
    store *s;
    int pg;
    char *one_sql;
    char *many_sql;
    char *pg_sql;
    size_t ncols;
    size_t rows;
    int64_t changes; /* rows the statements reported */
    /* PostgreSQL: flush as soon as the column arrays hold this many bytes
     * (0: only at batch_flush). Only for a batch whose rows may be written
     * in any number of statements: nothing else pending refers to them. */
    size_t pg_flush_bytes;
    store_array cols[BATCH_MAX_COLS];
    store_param params[STORE_LIB_BATCH * BATCH_MAX_COLS];
} batch;

static void batch_free(batch *b)
{
    if (!b)
        return;
    free(b->one_sql);
    free(b->many_sql);
    free(b->pg_sql);
    for (size_t c = 0; c < BATCH_MAX_COLS; c++)
        store_array_free(&b->cols[c]);
    free(b);
}

/* The PostgreSQL text: head's "VALUES " becomes a SELECT over one typed
 * array parameter per column. */
static char *pg_text(const char *head, const char *types, const char *tail)
{
    static const char values[] = "VALUES ";
    size_t hl = strlen(head), vl = sizeof values - 1;
    buf out;
    kt_status st = KT_OK;
    if (hl < vl || strcmp(head + hl - vl, values) != 0)
        return NULL;
    buf_init(&out, 0);
    st = buf_append(&out, head, hl - vl);
    if (st == KT_OK)
        st = buf_puts(&out, "SELECT * FROM unnest(");
    for (size_t c = 0; types[c] && st == KT_OK; c++)
        st = buf_printf(&out, "%sCAST(? AS %s[])", c ? ", " : "",
                        types[c] == 'i' ? "bigint" : "text");
    if (st == KT_OK)
        st = buf_puts(&out, ")");
    if (st == KT_OK)
        st = buf_puts(&out, tail);
    if (st != KT_OK) {
        buf_free(&out);
        return NULL;
    }
    return buf_detach(&out, NULL);
}

/* head: "INSERT INTO t (a, b) VALUES ", types: one letter per column, 'i'
 * (BIGINT) or 't' (TEXT), tail: "" or " ON CONFLICT ...". */
static kt_status batch_new(store *s, const char *head, const char *types, const char *tail,
                           batch **out, kt_err *err)
{
    size_t ncols = strlen(types), hl = strlen(head), xl = strlen(tail);
    size_t tl = 3 * ncols; /* "(?, ?)" */
    if (ncols == 0 || ncols > BATCH_MAX_COLS)
        return err_set(err, KT_ERR_INTERNAL, NULL, "batch of %zu columns", ncols);
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return nomem(err);
    b->s = s;
    b->ncols = ncols;
    b->pg = store_get_backend(s) == STORE_POSTGRES;
    for (size_t c = 0; c < BATCH_MAX_COLS; c++)
        store_array_init(&b->cols[c]);
    char tuple[3 * BATCH_MAX_COLS + 1] = "(?";
    for (size_t c = 1; c < ncols; c++)
        memcpy(tuple + 2 + 3 * (c - 1), ", ?", 3);
    tuple[tl - 1] = ')';
    tuple[tl] = '\0';
    if (b->pg)
        b->pg_sql = pg_text(head, types, tail);
    else {
        b->one_sql = malloc(hl + tl + xl + 1);
        b->many_sql = malloc(hl + (tl + 2) * STORE_LIB_BATCH + xl + 1);
    }
    if (b->pg ? !b->pg_sql : !b->one_sql || !b->many_sql) {
        batch_free(b);
        return nomem(err);
    }
    if (b->pg) {
        *out = b;
        return KT_OK;
    }
    snprintf(b->one_sql, hl + tl + xl + 1, "%s%s%s", head, tuple, tail);
    char *p = b->many_sql;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < STORE_LIB_BATCH; i++) {
        if (i) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, tuple, tl);
        p += tl;
    }
    memcpy(p, tail, xl + 1);
    *out = b;
    return KT_OK;
}

/* PostgreSQL: the collected rows as one statement. */
static kt_status batch_flush_pg(batch *b, kt_err *err)
{
    store_param p[BATCH_MAX_COLS];
    kt_status st = KT_OK;
    int64_t ch = 0;
    for (size_t c = 0; c < b->ncols && st == KT_OK; c++) {
        const char *lit = store_array_end(&b->cols[c], err);
        st = lit ? KT_OK : KT_ERR_NOMEM;
        p[c] = SP_TEXT(lit);
    }
    if (st == KT_OK)
        st = store_exec(b->s, b->pg_sql, p, b->ncols, &ch, err);
    for (size_t c = 0; c < b->ncols; c++)
        store_array_reset(&b->cols[c]);
    b->rows = 0;
    b->changes += ch;
    return st;
}

static kt_status batch_flush(batch *b, kt_err *err)
{
    if (b->pg)
        return b->rows ? batch_flush_pg(b, err) : KT_OK;
    for (size_t r = 0; r < b->rows; r++) {
        int64_t ch = 0;
        kt_status st = store_exec(b->s, b->one_sql, b->params + r * b->ncols, b->ncols, &ch, err);
        if (st != KT_OK)
            return st;
        b->changes += ch;
    }
    b->rows = 0;
    return KT_OK;
}

/* Queues one row (ncols params). SQLite: strings borrowed until the next
 * flush or the full batch runs; PostgreSQL: copied into the column arrays,
 * which run at the next flush. */
static kt_status batch_add(batch *b, const store_param *row, kt_err *err)
{
    if (b->pg) {
        for (size_t c = 0; c < b->ncols; c++) {
            if (row[c].type == STORE_INT)
                store_array_int(&b->cols[c], row[c].i);
            else if (row[c].type == STORE_TEXT)
                store_array_text(&b->cols[c], row[c].p);
            else if (row[c].type == STORE_NULL)
                store_array_null(&b->cols[c]);
            else /* no table written here has a blob column */
                return err_set(err, KT_ERR_INTERNAL, NULL, "a blob in a batched write");
        }
        b->rows++;
        if (b->pg_flush_bytes) {
            size_t bytes = 0;
            for (size_t c = 0; c < b->ncols; c++)
                bytes += b->cols[c].b.len;
            if (bytes >= b->pg_flush_bytes)
                return batch_flush_pg(b, err);
        }
        return KT_OK; /* an append that failed is reported by the flush */
    }
    memcpy(b->params + b->rows * b->ncols, row, b->ncols * sizeof *row);
    if (++b->rows < STORE_LIB_BATCH)
        return KT_OK;
    int64_t ch = 0;
    kt_status st = store_exec(b->s, b->many_sql, b->params, b->rows * b->ncols, &ch, err);
    b->rows = 0;
    b->changes += ch;
    return st;
}

/* Adds key to seen: 1 new, 0 seen before, or an error status via *st. */
static int first_time(strset *seen, const char *key, kt_status *st, kt_err *err)
{
    int r = strset_add(seen, key);
    if (r < 0)
        *st = nomem(err);
    return r == 1;
}

/* ---- catalog ---- */

typedef struct catalog_w {
    batch *artists_ref, *artists_full, *albums, *album_artists, *shows, *tracks, *track_artists;
    strset *seen_artists, *seen_albums, *seen_shows, *seen_tracks;
    int64_t now;
} catalog_w;

static void catalog_w_free(catalog_w *w)
{
    batch_free(w->artists_ref);
    batch_free(w->artists_full);
    batch_free(w->albums);
    batch_free(w->album_artists);
    batch_free(w->shows);
    batch_free(w->tracks);
    batch_free(w->track_artists);
    strset_free(w->seen_artists);
    strset_free(w->seen_albums);
    strset_free(w->seen_shows);
    strset_free(w->seen_tracks);
}

static kt_status catalog_w_init(store *s, catalog_w *w, int64_t now, kt_err *err)
{
    kt_status st;
    memset(w, 0, sizeof *w);
    w->now = now;
    if ((st = batch_new(s, "INSERT INTO artists (id, name, updated_at) VALUES ", "tti",
                        " ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE "
                        "artists.name IS DISTINCT FROM excluded.name",
                        &w->artists_ref, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO artists (id, name, genres, image_url, followers, "
                        "popularity, updated_at) VALUES ",
                        "ttttiii",
                        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, genres = "
                        "excluded.genres, image_url = excluded.image_url, followers = "
                        "excluded.followers, popularity = excluded.popularity, updated_at = "
                        "excluded.updated_at WHERE artists.name IS DISTINCT FROM excluded.name "
                        "OR artists.genres IS DISTINCT FROM excluded.genres OR "
                        "artists.image_url IS DISTINCT FROM excluded.image_url OR "
                        "artists.followers IS DISTINCT FROM excluded.followers OR "
                        "artists.popularity IS DISTINCT FROM excluded.popularity",
                        &w->artists_full, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO albums (id, name, album_type, release_date, "
                        "release_date_precision, total_tracks, image_url, updated_at) VALUES ",
                        "tttttiti",
                        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, album_type = "
                        "excluded.album_type, release_date = excluded.release_date, "
                        "release_date_precision = excluded.release_date_precision, "
                        "total_tracks = COALESCE(excluded.total_tracks, albums.total_tracks), "
                        "image_url = COALESCE(excluded.image_url, albums.image_url), "
                        "updated_at = excluded.updated_at WHERE albums.name IS DISTINCT FROM "
                        "excluded.name OR albums.album_type IS DISTINCT FROM excluded.album_type "
                        "OR albums.release_date IS DISTINCT FROM excluded.release_date OR "
                        "albums.release_date_precision IS DISTINCT FROM "
                        "excluded.release_date_precision OR (excluded.total_tracks IS NOT NULL "
                        "AND albums.total_tracks IS DISTINCT FROM excluded.total_tracks) OR "
                        "(excluded.image_url IS NOT NULL AND albums.image_url IS DISTINCT FROM "
                        "excluded.image_url)",
                        &w->albums, err)) != KT_OK ||
        (st = batch_new(s, "INSERT INTO album_artists (album_id, position, artist_id) VALUES ",
                        "tit",
                        " ON CONFLICT (album_id, position) DO UPDATE SET artist_id = "
                        "excluded.artist_id WHERE album_artists.artist_id IS DISTINCT FROM "
                        "excluded.artist_id",
                        &w->album_artists, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO shows (id, name, publisher, total_episodes, image_url, "
                        "updated_at) VALUES ",
                        "tttiti",
                        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, publisher = "
                        "excluded.publisher, total_episodes = COALESCE(excluded.total_episodes, "
                        "shows.total_episodes), image_url = COALESCE(excluded.image_url, "
                        "shows.image_url), updated_at = excluded.updated_at WHERE shows.name IS "
                        "DISTINCT FROM excluded.name OR shows.publisher IS DISTINCT FROM "
                        "excluded.publisher OR (excluded.total_episodes IS NOT NULL AND "
                        "shows.total_episodes IS DISTINCT FROM excluded.total_episodes) OR "
                        "(excluded.image_url IS NOT NULL AND shows.image_url IS DISTINCT FROM "
                        "excluded.image_url)",
                        &w->shows, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO tracks (uri, id, kind, name, duration_ms, explicit, "
                        "disc_number, track_number, isrc, album_id, show_id, release_date, "
                        "local_artist, local_album, updated_at) VALUES ",
                        "ttttiiiitttttti",
                        " ON CONFLICT (uri) DO UPDATE SET id = excluded.id, kind = "
                        "excluded.kind, name = excluded.name, duration_ms = excluded.duration_ms, "
                        "explicit = excluded.explicit, disc_number = excluded.disc_number, "
                        "track_number = excluded.track_number, isrc = excluded.isrc, album_id = "
                        "excluded.album_id, show_id = excluded.show_id, release_date = "
                        "excluded.release_date, local_artist = excluded.local_artist, "
                        "local_album = excluded.local_album, updated_at = excluded.updated_at "
                        "WHERE tracks.updated_at = 0 OR tracks.id IS DISTINCT FROM excluded.id "
                        "OR tracks.kind IS DISTINCT FROM excluded.kind OR tracks.name IS "
                        "DISTINCT FROM excluded.name OR tracks.duration_ms IS DISTINCT FROM "
                        "excluded.duration_ms OR tracks.explicit IS DISTINCT FROM "
                        "excluded.explicit OR tracks.disc_number IS DISTINCT FROM "
                        "excluded.disc_number OR tracks.track_number IS DISTINCT FROM "
                        "excluded.track_number OR tracks.isrc IS DISTINCT FROM excluded.isrc OR "
                        "tracks.album_id IS DISTINCT FROM excluded.album_id OR tracks.show_id IS "
                        "DISTINCT FROM excluded.show_id OR tracks.release_date IS DISTINCT FROM "
                        "excluded.release_date OR tracks.local_artist IS DISTINCT FROM "
                        "excluded.local_artist OR tracks.local_album IS DISTINCT FROM "
                        "excluded.local_album",
                        &w->tracks, err)) != KT_OK ||
        (st = batch_new(s, "INSERT INTO track_artists (track_uri, position, artist_id) VALUES ",
                        "tit",
                        " ON CONFLICT (track_uri, position) DO UPDATE SET artist_id = "
                        "excluded.artist_id WHERE track_artists.artist_id IS DISTINCT FROM "
                        "excluded.artist_id",
                        &w->track_artists, err)) != KT_OK)
        return st;
    if (!(w->seen_artists = strset_new()) || !(w->seen_albums = strset_new()) ||
        !(w->seen_shows = strset_new()) || !(w->seen_tracks = strset_new()))
        return nomem(err);
    return KT_OK;
}

static kt_status put_artist(catalog_w *w, const store_artist_row *a, kt_err *err)
{
    kt_status st = KT_OK;
    if (!a->id || !first_time(w->seen_artists, a->id, &st, err))
        return st;
    if (!a->full) {
        store_param p[] = {SP_TEXT(a->id), SP_TEXT(a->name), SP_INT(w->now)};
        return batch_add(w->artists_ref, p, err);
    }
    store_param p[] = {SP_TEXT(a->id),        SP_TEXT(a->name),         SP_TEXT(a->genres_json),
                       SP_TEXT(a->image_url), int_or_null(a->followers), int_or_null(a->popularity),
                       SP_INT(w->now)};
    return batch_add(w->artists_full, p, err);
}

static kt_status put_refs(catalog_w *w, const store_ref *refs, size_t n, kt_err *err)
{
    kt_status st = KT_OK;
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        store_artist_row a = {.id = refs[i].id, .name = refs[i].name};
        st = put_artist(w, &a, err);
    }
    return st;
}

/* Artists first (pass 0), then the album and its links (pass 1), so every
 * foreign key points at a row already queued in an earlier-flushed batch. */
static kt_status put_album(catalog_w *w, const store_album_row *al, int pass, kt_err *err)
{
    kt_status st = KT_OK;
    if (!al || !al->id)
        return KT_OK;
    if (pass == 0)
        return put_refs(w, al->artists, al->n_artists, err);
    if (!first_time(w->seen_albums, al->id, &st, err))
        return st;
    store_param p[] = {SP_TEXT(al->id),           SP_TEXT(al->name),
                       SP_TEXT(al->album_type),   SP_TEXT(al->release_date),
                       SP_TEXT(al->release_date_precision), int_or_null(al->total_tracks),
                       SP_TEXT(al->image_url),    SP_INT(w->now)};
    return batch_add(w->albums, p, err);
}

static kt_status put_album_links(catalog_w *w, const store_album_row *al, kt_err *err)
{
    kt_status st = KT_OK;
    int64_t pos = 0;
    for (size_t i = 0; al && i < al->n_artists && st == KT_OK; i++) {
        if (!al->artists[i].id)
            continue;
        store_param p[] = {SP_TEXT(al->id), SP_INT(pos++), SP_TEXT(al->artists[i].id)};
        st = batch_add(w->album_artists, p, err);
    }
    return st;
}

static kt_status put_show(catalog_w *w, const store_show_row *sh, kt_err *err)
{
    kt_status st = KT_OK;
    if (!sh || !sh->id || !first_time(w->seen_shows, sh->id, &st, err))
        return st;
    store_param p[] = {SP_TEXT(sh->id), SP_TEXT(sh->name), SP_TEXT(sh->publisher),
                       int_or_null(sh->total_episodes), SP_TEXT(sh->image_url), SP_INT(w->now)};
    return batch_add(w->shows, p, err);
}

static int is_local(const store_track_row *t)
{
    return t->kind && strcmp(t->kind, "local") == 0;
}

static kt_status put_track(catalog_w *w, const store_track_row *t, kt_err *err)
{
    int local = is_local(t);
    const char *album_id = !local && t->album ? t->album->id : NULL;
    store_param p[] = {SP_TEXT(t->uri),
                       SP_TEXT(t->id),
                       SP_TEXT(t->kind ? t->kind : "track"),
                       SP_TEXT(t->name),
                       int_or_null(t->duration_ms),
                       SP_INT(t->explicit_ ? 1 : 0),
                       int_or_null(t->disc_number),
                       int_or_null(t->track_number),
                       SP_TEXT(t->isrc),
                       SP_TEXT(album_id),
                       SP_TEXT(t->show ? t->show->id : NULL),
                       SP_TEXT(t->release_date),
                       SP_TEXT(local && t->n_artists ? t->artists[0].name : NULL),
                       SP_TEXT(local && t->album ? t->album->name : NULL),
                       SP_INT(w->now)};
    return batch_add(w->tracks, p, err);
}

/* A track's artist links; queued only once every track row is written. */
static kt_status put_track_links(catalog_w *w, const store_track_row *t, kt_err *err)
{
    kt_status st = KT_OK;
    int64_t pos = 0;
    for (size_t i = 0; !is_local(t) && i < t->n_artists && st == KT_OK; i++) {
        if (!t->artists[i].id)
            continue;
        store_param l[] = {SP_TEXT(t->uri), SP_INT(pos++), SP_TEXT(t->artists[i].id)};
        st = batch_add(w->track_artists, l, err);
    }
    return st;
}

static kt_status catalog_flush_all(catalog_w *w, kt_err *err)
{
    batch *order[] = {w->artists_ref,   w->artists_full, w->albums,        w->album_artists,
                      w->shows,         w->tracks,       w->track_artists};
    kt_status st = KT_OK;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && st == KT_OK; i++)
        st = batch_flush(order[i], err);
    return st;
}

/* Queues every row, in dependency order: artists, albums, links, shows,
 * tracks, track links. A batch that fills up runs at once; foreign keys are
 * safe because each level is flushed before the next starts. */
static kt_status catalog_queue(catalog_w *w, const store_artist_row *artists, size_t n_artists,
                               const store_album_row *albums, size_t n_albums,
                               const store_show_row *shows, size_t n_shows,
                               const store_track_row *tracks, size_t n_tracks, kt_err *err)
{
    kt_status st = KT_OK;
    for (size_t i = 0; i < n_artists && st == KT_OK; i++)
        if (artists[i].full)
            st = put_artist(w, &artists[i], err);
    for (size_t i = 0; i < n_artists && st == KT_OK; i++)
        st = put_artist(w, &artists[i], err);
    for (size_t i = 0; i < n_albums && st == KT_OK; i++)
        st = put_album(w, &albums[i], 0, err);
    for (size_t i = 0; i < n_tracks && st == KT_OK; i++) {
        if (is_local(&tracks[i]))
            continue;
        st = put_refs(w, tracks[i].artists, tracks[i].n_artists, err);
        if (st == KT_OK)
            st = put_album(w, tracks[i].album, 0, err);
    }
    if (st == KT_OK && (st = batch_flush(w->artists_full, err)) == KT_OK)
        st = batch_flush(w->artists_ref, err);
    /* Albums: the ones given, then the ones tracks embed. */
    strset *linked = NULL;
    if (st == KT_OK && !(linked = strset_new()))
        st = nomem(err);
    for (size_t i = 0; i < n_albums && st == KT_OK; i++)
        st = put_album(w, &albums[i], 1, err);
    for (size_t i = 0; i < n_tracks && st == KT_OK; i++)
        if (!is_local(&tracks[i]))
            st = put_album(w, tracks[i].album, 1, err);
    if (st == KT_OK)
        st = batch_flush(w->albums, err);
    for (size_t i = 0; i < n_albums + n_tracks && st == KT_OK; i++) {
        const store_album_row *al = i < n_albums ? &albums[i] : tracks[i - n_albums].album;
        if (i >= n_albums && is_local(&tracks[i - n_albums]))
            continue;
        if (al && al->id && first_time(linked, al->id, &st, err))
            st = put_album_links(w, al, err);
    }
    strset_free(linked);
    for (size_t i = 0; i < n_shows && st == KT_OK; i++)
        st = put_show(w, &shows[i], err);
    for (size_t i = 0; i < n_tracks && st == KT_OK; i++)
        st = put_show(w, tracks[i].show, err);
    if (st == KT_OK && (st = batch_flush(w->album_artists, err)) == KT_OK)
        st = batch_flush(w->shows, err);
    /* Tracks first (remembering which rows were queued), then their links. */
    unsigned char *queued = n_tracks ? calloc(n_tracks, 1) : NULL;
    if (st == KT_OK && n_tracks && !queued)
        st = nomem(err);
    for (size_t i = 0; i < n_tracks && st == KT_OK; i++) {
        if (!tracks[i].uri || !first_time(w->seen_tracks, tracks[i].uri, &st, err))
            continue;
        queued[i] = 1;
        st = put_track(w, &tracks[i], err);
    }
    if (st == KT_OK)
        st = batch_flush(w->tracks, err);
    for (size_t i = 0; i < n_tracks && st == KT_OK; i++)
        if (queued[i])
            st = put_track_links(w, &tracks[i], err);
    free(queued);
    if (st == KT_OK)
        st = catalog_flush_all(w, err);
    return st;
}

kt_status store_catalog_put(store *s, const store_artist_row *artists, size_t n_artists,
                            const store_album_row *albums, size_t n_albums,
                            const store_show_row *shows, size_t n_shows,
                            const store_track_row *tracks, size_t n_tracks, int64_t now_ms,
                            kt_err *err)
{
    catalog_w w;
    kt_status st = catalog_w_init(s, &w, now_ms, err);
    if (st == KT_OK && n_artists + n_albums + n_shows + n_tracks == 0)
        goto out;
    if (st == KT_OK)
        st = store_begin(s, err);
    if (st == KT_OK)
        st = catalog_queue(&w, artists, n_artists, albums, n_albums, shows, n_shows, tracks,
                           n_tracks, err);
    if (st == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    catalog_w_free(&w);
    if (st != KT_OK)
        err_prefix(err, "saving the catalog");
    return st;
}

/* ---- multiset difference (for added/removed counts) ---- */

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

/* Counts the strings of b missing from a (*added) and of a missing from b
 * (*removed), as multisets. NULL entries are ignored. Sorts copies of the
 * pointer arrays. */
static kt_status multiset_diff(const char **a, size_t na, const char **b, size_t nb,
                               int64_t *added, int64_t *removed, kt_err *err)
{
    const char **x = malloc((na ? na : 1) * sizeof *x), **y = malloc((nb ? nb : 1) * sizeof *y);
    size_t nx = 0, ny = 0, i = 0, j = 0;
    int64_t add = 0, rem = 0;
    if (!x || !y) {
        free(x);
        free(y);
        return nomem(err);
    }
    for (size_t k = 0; k < na; k++)
        if (a[k])
            x[nx++] = a[k];
    for (size_t k = 0; k < nb; k++)
        if (b[k])
            y[ny++] = b[k];
    qsort(x, nx, sizeof *x, cmp_str);
    qsort(y, ny, sizeof *y, cmp_str);
    while (i < nx || j < ny) {
        int c = i == nx ? 1 : j == ny ? -1 : strcmp(x[i], y[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            rem++;
            i++;
        } else {
            add++;
            j++;
        }
    }
    free(x);
    free(y);
    *added += add;
    *removed += rem;
    return KT_OK;
}

/* Column `col` of every row, borrowed from r; malloc'd array. */
static kt_status column_ptrs(const store_rows *r, size_t col, const char ***out, kt_err *err)
{
    size_t n = store_rows_count(r);
    const char **v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return nomem(err);
    for (size_t i = 0; i < n; i++)
        v[i] = store_rows_text(r, i, col);
    *out = v;
    return KT_OK;
}

/* ---- collections ---- */

typedef struct coll_sql {
    const char *head_sql;   /* SELECT ref, added_at ... LIMIT ? */
    const char *count_sql;
    const char *all_sql;    /* SELECT ref, added_at ... every row */
    const char *delete_sql;
    const char *insert_head;
} coll_sql;

#define COLL(table, ref, added)                                                                 \
    {"SELECT " ref ", " added " FROM " table " WHERE user_id = ? ORDER BY position LIMIT ?",     \
     "SELECT COUNT(*) FROM " table " WHERE user_id = ?",                                         \
     "SELECT " ref ", " added " FROM " table " WHERE user_id = ? ORDER BY position",             \
     "DELETE FROM " table " WHERE user_id = ?",                                                  \
     "INSERT INTO " table " (user_id, position, " ref ", " added ") VALUES "}

static const coll_sql colls[] = {
    [STORE_COLL_LIKED] = COLL("saved_tracks", "track_uri", "added_at"),
    [STORE_COLL_ALBUMS] = COLL("saved_albums", "album_id", "added_at"),
    [STORE_COLL_SHOWS] = COLL("saved_shows", "show_id", "added_at"),
    [STORE_COLL_EPISODES] = COLL("saved_episodes", "episode_uri", "added_at"),
    /* followed_artists has no added_at: position stands in, so the column
     * list keeps one shape. */
    [STORE_COLL_FOLLOWED] = {"SELECT artist_id, NULL FROM followed_artists WHERE user_id = ? "
                             "ORDER BY position LIMIT ?",
                             "SELECT COUNT(*) FROM followed_artists WHERE user_id = ?",
                             "SELECT artist_id, NULL FROM followed_artists WHERE user_id = ? "
                             "ORDER BY position",
                             "DELETE FROM followed_artists WHERE user_id = ?",
                             NULL},
};

static kt_status check_coll(store_coll c, kt_err *err)
{
    if ((int)c < 0 || (size_t)c >= sizeof colls / sizeof colls[0])
        return err_set(err, KT_ERR_INTERNAL, NULL, "unknown collection %d", (int)c);
    return KT_OK;
}

kt_status store_coll_head(store *s, int64_t user_id, store_coll c, size_t limit, store_rows **out,
                          int64_t *total, kt_err *err)
{
    store_rows *r = NULL;
    int64_t count = 0;
    kt_status st = check_coll(c, err);
    if (st != KT_OK)
        return st;
    if (limit > STORE_LIB_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit must be at most %d",
                       STORE_LIB_MAX_LIMIT);
    store_param p[] = {SP_INT(user_id), SP_INT((int64_t)limit)};
    if ((st = store_query_int(s, colls[c].count_sql, p, 1, &count, err)) != KT_OK ||
        (st = store_query(s, colls[c].head_sql, p, 2, &r, err)) != KT_OK)
        return st;
    *out = r;
    *total = count;
    return KT_OK;
}

kt_status store_coll_all(store *s, int64_t user_id, store_coll c, store_rows **out, kt_err *err)
{
    kt_status st = check_coll(c, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id)};
    return store_query(s, colls[c].all_sql, p, 1, out, err);
}

/* 1 when the stored rows equal rows[0..n) (refs and added_at). */
static int coll_same(const store_rows *r, store_coll c, const store_saved_row *rows, size_t n)
{
    if (store_rows_count(r) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *ref = store_rows_text(r, i, 0);
        if (!ref || strcmp(ref, rows[i].ref) != 0)
            return 0;
        if (c == STORE_COLL_FOLLOWED)
            continue;
        int64_t at = store_rows_is_null(r, i, 1) ? -1 : store_rows_int(r, i, 1);
        if (at != (rows[i].added_at < 0 ? -1 : rows[i].added_at))
            return 0;
    }
    return 1;
}

kt_status store_coll_replace(store *s, int64_t user_id, store_coll c, const store_saved_row *rows,
                             size_t n, int64_t *added, int64_t *removed, kt_err *err)
{
    store_rows *cur = NULL;
    batch *b = NULL;
    const char **old_refs = NULL, **new_refs = NULL;
    int64_t add = 0, rem = 0;
    kt_status st = check_coll(c, err);
    if (st != KT_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].ref)
            return err_set(err, KT_ERR_INVALID, "bad_row", "collection row %zu has no ref", i);
    store_param up[] = {SP_INT(user_id)};
    if ((st = store_begin(s, err)) != KT_OK)
        goto out;
    if ((st = store_query(s, colls[c].all_sql, up, 1, &cur, err)) != KT_OK)
        goto out;
    if (coll_same(cur, c, rows, n)) {
        st = store_commit(s, err);
        goto out;
    }
    if (!(new_refs = malloc((n ? n : 1) * sizeof *new_refs))) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        new_refs[i] = rows[i].ref;
    if ((st = column_ptrs(cur, 0, &old_refs, err)) != KT_OK ||
        (st = multiset_diff(old_refs, store_rows_count(cur), new_refs, n, &add, &rem, err)) !=
            KT_OK)
        goto out;
    if ((st = store_exec(s, colls[c].delete_sql, up, 1, NULL, err)) != KT_OK)
        goto out;
    if (c == STORE_COLL_FOLLOWED)
        st = batch_new(s, "INSERT INTO followed_artists (user_id, position, artist_id) VALUES ",
                       "iit", "", &b, err);
    else
        st = batch_new(s, colls[c].insert_head, "iiti", "", &b, err);
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        store_param p[] = {SP_INT(user_id), SP_INT((int64_t)i), SP_TEXT(rows[i].ref),
                           int_or_null(rows[i].added_at)};
        st = batch_add(b, p, err);
    }
    if (st == KT_OK && (st = batch_flush(b, err)) == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    batch_free(b);
    free(old_refs);
    free(new_refs);
    store_rows_free(cur);
    if (st == KT_OK) {
        if (added)
            *added = add;
        if (removed)
            *removed = rem;
    }
    return st;
}

/* ---- playlists ---- */

kt_status store_playlists_state(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT spotify_id, snapshot_id, synced_snapshot_id, removed_at FROM "
                       "playlists WHERE user_id = ? ORDER BY position, id",
                       p, 1, out, err);
}

/* The items as a version's JSON text: [[uri|null, added_at|null, added_by|null], ...]. */
static char *version_json(const store_item_row *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_pack("[ooo]", items[i].uri ? json_string(items[i].uri) : json_null(),
                              items[i].added_at >= 0 ? json_integer(items[i].added_at)
                                                     : json_null(),
                              items[i].added_by ? json_string(items[i].added_by) : json_null());
        if (!e || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

static kt_status playlist_items_write(store *s, int64_t user_id, const store_playlist_items *pi,
                                      int64_t now_ms, int64_t *added, int64_t *removed,
                                      kt_err *err)
{
    int64_t pid = 0;
    store_rows *cur = NULL;
    const char **old_refs = NULL, **new_refs = NULL;
    batch *b = NULL;
    char *vjson = NULL;
    store_param k[] = {SP_INT(user_id), SP_TEXT(pi->spotify_id)};
    kt_status st = store_query_int(s, "SELECT id FROM playlists WHERE user_id = ? AND spotify_id = ?",
                                   k, 2, &pid, err);
    if (st == KT_ERR_NOT_FOUND)
        st = err_set(err, KT_ERR_INVALID, "bad_row",
                     "items given for playlist %s, which is not in the list", pi->spotify_id);
    if (st != KT_OK)
        return st;
    store_param pp[] = {SP_INT(pid)};
    if ((st = store_query(s, "SELECT item_uri FROM playlist_items WHERE playlist_id = ? ORDER BY "
                             "position",
                          pp, 1, &cur, err)) != KT_OK ||
        (st = column_ptrs(cur, 0, &old_refs, err)) != KT_OK)
        goto out;
    if (!(new_refs = malloc((pi->n ? pi->n : 1) * sizeof *new_refs))) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < pi->n; i++)
        new_refs[i] = pi->items[i].uri;
    if ((st = multiset_diff(old_refs, store_rows_count(cur), new_refs, pi->n, added, removed,
                            err)) != KT_OK ||
        (st = store_exec(s, "DELETE FROM playlist_items WHERE playlist_id = ?", pp, 1, NULL,
                         err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO playlist_items (playlist_id, position, item_uri, added_at, "
                        "added_by) VALUES ",
                        "iitit", "", &b, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < pi->n && st == KT_OK; i++) {
        store_param p[] = {SP_INT(pid), SP_INT((int64_t)i), SP_TEXT(pi->items[i].uri),
                           int_or_null(pi->items[i].added_at), SP_TEXT(pi->items[i].added_by)};
        st = batch_add(b, p, err);
    }
    if (st == KT_OK)
        st = batch_flush(b, err);
    if (st != KT_OK)
        goto out;
    store_param sp[] = {SP_TEXT(pi->snapshot_id), SP_INT(pid)};
    if ((st = store_exec(s, "UPDATE playlists SET synced_snapshot_id = ? WHERE id = ?", sp, 2,
                         NULL, err)) != KT_OK)
        goto out;
    if (pi->snapshot_id) {
        if (!(vjson = version_json(pi->items, pi->n))) {
            st = nomem(err);
            goto out;
        }
        store_param vp[] = {SP_INT(pid), SP_TEXT(pi->snapshot_id), SP_INT(now_ms),
                            SP_INT((int64_t)pi->n), SP_TEXT(vjson)};
        st = store_exec(s,
                        "INSERT INTO playlist_versions (playlist_id, snapshot_id, seen_at, "
                        "items_total, items) VALUES (?, ?, ?, ?, ?) ON CONFLICT (playlist_id, "
                        "snapshot_id) DO NOTHING",
                        vp, 5, NULL, err);
    }
out:
    free(vjson);
    batch_free(b);
    free(old_refs);
    free(new_refs);
    store_rows_free(cur);
    return st;
}

/* Sets p's cover on the version of its snapshot, when that version exists,
 * and keeps the bytes once per hash (see store_playlists_replace). Inside
 * the caller's transaction. */
static kt_status playlist_cover_write(store *s, int64_t user_id, const store_playlist_row *p,
                                      int64_t now_ms, kt_err *err)
{
    int64_t changed = 0, have = 0;
    kt_status st;
    if (!p->cover_sha256 || !p->snapshot_id)
        return KT_OK;
    if (strlen(p->cover_sha256) != 64)
        return err_set(err, KT_ERR_INVALID, "bad_row", "cover of playlist %s: not a SHA-256",
                       p->spotify_id);
    store_param up[] = {SP_TEXT(p->cover_sha256), SP_TEXT(p->cover_url), SP_INT(user_id),
                        SP_TEXT(p->spotify_id), SP_TEXT(p->snapshot_id)};
    st = store_exec(s,
                    "UPDATE playlist_versions SET cover_sha256 = ?, cover_url = ? WHERE "
                    "playlist_id = (SELECT id FROM playlists WHERE user_id = ? AND spotify_id = ?) "
                    "AND snapshot_id = ?",
                    up, 5, &changed, err);
    if (st != KT_OK || changed == 0)
        return st; /* no version of that snapshot (items not read): nothing to attach to */
    if (p->cover_bytes) {
        store_param bp[] = {SP_INT(user_id), SP_TEXT(p->cover_sha256),
                            SP_BLOB(p->cover_bytes, p->cover_len), SP_INT(now_ms)};
        return store_exec(s,
                          "INSERT INTO playlist_covers (user_id, sha256, bytes, created_at) VALUES "
                          "(?, ?, ?, ?) ON CONFLICT (user_id, sha256) DO NOTHING",
                          bp, 4, NULL, err);
    }
    store_param hp[] = {SP_INT(user_id), SP_TEXT(p->cover_sha256)};
    st = store_query_int(s, "SELECT COUNT(*) FROM playlist_covers WHERE user_id = ? AND sha256 = ?",
                         hp, 2, &have, err);
    if (st == KT_OK && !have)
        st = err_set(err, KT_ERR_INVALID, "bad_row", "cover of playlist %s: new hash without bytes",
                     p->spotify_id);
    return st;
}

kt_status store_playlist_cover_urls(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT DISTINCT v.cover_url, v.cover_sha256 FROM playlist_versions v JOIN "
                       "playlists p ON p.id = v.playlist_id WHERE p.user_id = ? AND v.cover_url IS "
                       "NOT NULL AND v.cover_sha256 IS NOT NULL",
                       p, 1, out, err);
}

kt_status store_playlist_cover_get(store *s, int64_t user_id, const char *spotify_id,
                                   const char *snapshot_id, unsigned char **bytes, size_t *len,
                                   char sha_out[65], kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(spotify_id), SP_TEXT(snapshot_id)};
    *bytes = NULL;
    *len = 0;
    kt_status st = store_query(s,
                               "SELECT v.cover_sha256, c.bytes FROM playlist_versions v JOIN "
                               "playlists p ON p.id = v.playlist_id LEFT JOIN playlist_covers c "
                               "ON c.user_id = p.user_id AND c.sha256 = v.cover_sha256 WHERE "
                               "p.user_id = ? AND p.spotify_id = ? AND v.snapshot_id = ?",
                               p, 3, &r, err);
    if (st == KT_OK && store_rows_count(r) == 0)
        st = err_set(err, KT_ERR_NOT_FOUND, "no_version", "no version %s of playlist %s",
                     snapshot_id, spotify_id);
    const char *sha = st == KT_OK ? store_rows_text(r, 0, 0) : NULL;
    size_t n = 0;
    const void *blob = sha ? store_rows_blob(r, 0, 1, &n) : NULL;
    if (blob) {
        unsigned char *copy = malloc(n ? n : 1);
        if (!copy) {
            st = nomem(err);
        } else {
            memcpy(copy, blob, n);
            *bytes = copy;
            *len = n;
            if (sha_out)
                snprintf(sha_out, 65, "%s", sha);
        }
    }
    store_rows_free(r);
    return st;
}

kt_status store_playlist_cover_bytes(store *s, int64_t user_id, const char *sha256,
                                     unsigned char **bytes, size_t *len, kt_err *err)
{
    store_rows *r = NULL;
    size_t n = 0;
    store_param p[] = {SP_INT(user_id), SP_TEXT(sha256)};
    kt_status st = store_query(s, "SELECT bytes FROM playlist_covers WHERE user_id = ? AND sha256 = ?",
                               p, 2, &r, err);
    const void *blob = st == KT_OK && store_rows_count(r) ? store_rows_blob(r, 0, 0, &n) : NULL;
    if (st == KT_OK && !blob)
        st = err_set(err, KT_ERR_NOT_FOUND, "no_cover", "no stored cover %.64s", sha256 ? sha256 : "");
    if (st == KT_OK) {
        unsigned char *copy = malloc(n ? n : 1);
        if (!copy) {
            st = nomem(err);
        } else {
            memcpy(copy, blob, n);
            *bytes = copy;
            *len = n;
        }
    }
    store_rows_free(r);
    return st;
}

/* ---- playlists on PostgreSQL: a constant number of statements ----
 *
 * The per-playlist path above costs ~6 round trips a playlist (its id, its
 * items, a DELETE, an INSERT, the synced snapshot, the version, then the
 * cover): ~12,000 for 2,000 playlists. On PostgreSQL the same writes go
 * table by table over column arrays, one statement each for every playlist
 * at once; the added/removed counts and the versions are computed in C
 * exactly as the per-playlist path does. Used when no playlist is listed
 * twice (in playlists[] or items[]): the per-playlist path's effects then
 * depend on the order, which the set-based statements would not follow. */

/* The listed-before playlists not in seen: marked removed in one
 * statement; *rem counts them. */
static kt_status playlists_removed_pg(store *s, int64_t user_id, const store_rows *before,
                                      const strset *seen, int64_t now_ms, int64_t *rem,
                                      kt_err *err)
{
    store_array ids;
    int64_t gone = 0;
    kt_status st = KT_OK;
    store_array_init(&ids);
    for (size_t i = 0; i < store_rows_count(before); i++) {
        const char *id = store_rows_text(before, i, 0);
        if (id && !strset_has(seen, id))
            store_array_text(&ids, id);
    }
    if (ids.n) {
        const char *lit = store_array_end(&ids, err);
        store_param p[] = {SP_INT(now_ms), SP_INT(user_id), SP_TEXT(lit)};
        st = lit ? store_exec(s,
                              "UPDATE playlists SET position = NULL, removed_at = ? WHERE "
                              "user_id = ? AND removed_at IS NULL AND spotify_id IN (SELECT "
                              "unnest(CAST(? AS text[])))",
                              p, 3, &gone, err)
                 : KT_ERR_NOMEM;
        *rem += gone;
    }
    store_array_free(&ids);
    return st;
}

/* Every items[] entry's items replaced, synced snapshot set and version
 * recorded, as playlist_items_write does for one. */
static kt_status playlist_items_write_pg(store *s, int64_t user_id,
                                         const store_playlist_items *items, size_t n_items,
                                         int64_t now_ms, int64_t *added, int64_t *removed,
                                         kt_err *err)
{
    store_array sids, pids, snaps;
    store_rows *ids = NULL, *cur = NULL;
    int64_t *pid = NULL;
    const char **old_refs = NULL, **new_refs = NULL;
    batch *bi = NULL, *bv = NULL;
    char *vjson = NULL;
    size_t r = 0, max_n = 1;
    kt_status st = KT_OK;
    store_array_init(&sids);
    store_array_init(&pids);
    store_array_init(&snaps);
    if (n_items == 0)
        return KT_OK;
    for (size_t i = 0; i < n_items; i++) {
        store_array_text(&sids, items[i].spotify_id);
        if (items[i].n > max_n)
            max_n = items[i].n;
    }
    const char *sl = store_array_end(&sids, err);
    if (!sl) {
        st = KT_ERR_NOMEM;
        goto out;
    }
    /* Row i is items[i]'s playlist (NULL id: not stored). */
    store_param ip[] = {SP_TEXT(sl), SP_INT(user_id)};
    if ((st = store_query(s,
                          "SELECT p.id FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS "
                          "u(sid, ord) LEFT JOIN playlists p ON p.user_id = ? AND p.spotify_id "
                          "= u.sid ORDER BY u.ord",
                          ip, 2, &ids, err)) != KT_OK)
        goto out;
    if (store_rows_count(ids) != n_items) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "playlist ids: %zu rows for %zu playlists",
                     store_rows_count(ids), n_items);
        goto out;
    }
    if (!(pid = malloc(n_items * sizeof *pid)) ||
        !(new_refs = malloc(max_n * sizeof *new_refs))) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < n_items; i++) {
        if (store_rows_is_null(ids, i, 0)) {
            st = err_set(err, KT_ERR_INVALID, "bad_row",
                         "items given for playlist %s, which is not in the list",
                         items[i].spotify_id);
            goto out;
        }
        pid[i] = store_rows_int(ids, i, 0);
        store_array_int(&pids, pid[i]);
        store_array_text(&snaps, items[i].snapshot_id);
    }
    const char *pl = store_array_end(&pids, err), *snl = pl ? store_array_end(&snaps, err) : NULL;
    if (!snl) {
        st = KT_ERR_NOMEM;
        goto out;
    }
    /* The stored items of every playlist, grouped by items[] index. */
    store_param cp[] = {SP_TEXT(pl)};
    if ((st = store_query(s,
                          "SELECT u.ord, i.item_uri FROM unnest(CAST(? AS bigint[])) WITH "
                          "ORDINALITY AS u(pid, ord) JOIN playlist_items i ON i.playlist_id = "
                          "u.pid ORDER BY u.ord, i.position",
                          cp, 1, &cur, err)) != KT_OK ||
        (st = column_ptrs(cur, 1, &old_refs, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < n_items && st == KT_OK; i++) {
        size_t from = r;
        while (r < store_rows_count(cur) && store_rows_int(cur, r, 0) == (int64_t)i + 1)
            r++;
        for (size_t k = 0; k < items[i].n; k++)
            new_refs[k] = items[i].items[k].uri;
        st = multiset_diff(old_refs + from, r - from, new_refs, items[i].n, added, removed, err);
    }
    if (st != KT_OK ||
        (st = store_exec(s,
                         "DELETE FROM playlist_items WHERE playlist_id IN (SELECT "
                         "unnest(CAST(? AS bigint[])))",
                         cp, 1, NULL, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO playlist_items (playlist_id, position, item_uri, added_at, "
                        "added_by) VALUES ",
                        "iitit", "", &bi, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO playlist_versions (playlist_id, snapshot_id, seen_at, "
                        "items_total, items) VALUES ",
                        "itiit", " ON CONFLICT (playlist_id, snapshot_id) DO NOTHING", &bv,
                        err)) != KT_OK)
        goto out;
    /* Items and versions go out every PG_PLAYLIST_FLUSH_BYTES (256 KiB;
     * the unit suite's playlist of 11,000 items crosses it): the largest
     * library's 133,000 items and their versions' JSON, held at once for
     * one statement each, were 14 MB of its full sync's peak RSS
     * (bench/sync_large.py, 66 -> 81 MB); a statement every 256 KiB costs
     * about 40 round trips more there. Both tables' rows refer only to
     * playlists that exist, and their stored items were deleted above. */
    bi->pg_flush_bytes = bv->pg_flush_bytes = PG_PLAYLIST_FLUSH_BYTES;
    for (size_t i = 0; i < n_items && st == KT_OK; i++) {
        const store_playlist_items *pi = &items[i];
        for (size_t k = 0; k < pi->n && st == KT_OK; k++) {
            store_param p[] = {SP_INT(pid[i]), SP_INT((int64_t)k), SP_TEXT(pi->items[k].uri),
                               int_or_null(pi->items[k].added_at),
                               SP_TEXT(pi->items[k].added_by)};
            st = batch_add(bi, p, err);
        }
        if (st != KT_OK || !pi->snapshot_id)
            continue;
        if (!(vjson = version_json(pi->items, pi->n))) {
            st = nomem(err);
            break;
        }
        store_param vp[] = {SP_INT(pid[i]), SP_TEXT(pi->snapshot_id), SP_INT(now_ms),
                            SP_INT((int64_t)pi->n), SP_TEXT(vjson)};
        st = batch_add(bv, vp, err); /* copied into the column arrays */
        free(vjson);
        vjson = NULL;
    }
    store_param up[] = {SP_TEXT(pl), SP_TEXT(snl)};
    if (st == KT_OK && (st = batch_flush(bi, err)) == KT_OK &&
        (st = store_exec(s,
                         "UPDATE playlists SET synced_snapshot_id = u.snap FROM "
                         "unnest(CAST(? AS bigint[]), CAST(? AS text[])) AS u(pid, snap) WHERE "
                         "playlists.id = u.pid",
                         up, 2, NULL, err)) == KT_OK)
        st = batch_flush(bv, err);
out:
    free(vjson);
    batch_free(bi);
    batch_free(bv);
    free(old_refs);
    free(new_refs);
    free(pid);
    store_rows_free(ids);
    store_rows_free(cur);
    store_array_free(&sids);
    store_array_free(&pids);
    store_array_free(&snaps);
    return st;
}

/* Appends the lower-case hex of n bytes at p to a (a PostgreSQL bytea
 * travels in a text array as hex, decoded by the statement). */
static void array_hex(store_array *a, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[512 + 1];
    buf hex;
    buf_init(&hex, 0);
    kt_status st = KT_OK;
    for (size_t i = 0; i < n && st == KT_OK;) {
        size_t k = 0;
        for (; k < 512 && i < n; i++, k += 2) {
            chunk[k] = digits[p[i] >> 4];
            chunk[k + 1] = digits[p[i] & 15];
        }
        st = buf_append(&hex, chunk, k);
    }
    if (st == KT_OK)
        st = buf_append(&hex, "", 1); /* the terminator, also for 0 bytes */
    if (st == KT_OK)
        store_array_text(a, hex.data);
    else
        a->st = st; /* reported by store_array_end */
    buf_free(&hex);
}

/* A playlist with a custom cover whose version took it (its spotify_id is
 * in `attached`, the UPDATE's RETURNING). */
static int cover_attached(const store_playlist_row *p, const strset *attached)
{
    return p->cover_sha256 && p->snapshot_id && strset_has(attached, p->spotify_id);
}

/* playlist_cover_write for every playlist at once: the versions' covers
 * in one UPDATE, the new hashes' bytes in one INSERT, and the hashes that
 * came without bytes checked in one query. The checks follow the
 * per-playlist order: a hash without bytes must be stored already or come
 * with bytes from an earlier playlist whose version was set. */
static kt_status playlist_covers_write_pg(store *s, int64_t user_id,
                                          const store_playlist_row *playlists, size_t n,
                                          int64_t now_ms, kt_err *err)
{
    store_array sids, snaps, shas, urls, bsha, bhex, qsha;
    store_rows *changed = NULL, *have = NULL;
    strset *set = NULL, *given = NULL, *stored = NULL;
    kt_status st = KT_OK;
    store_array *all[] = {&sids, &snaps, &shas, &urls, &bsha, &bhex, &qsha};
    for (size_t a = 0; a < sizeof all / sizeof *all; a++)
        store_array_init(all[a]);
    for (size_t i = 0; i < n; i++) {
        const store_playlist_row *p = &playlists[i];
        if (!p->cover_sha256 || !p->snapshot_id)
            continue;
        if (strlen(p->cover_sha256) != 64) {
            st = err_set(err, KT_ERR_INVALID, "bad_row", "cover of playlist %s: not a SHA-256",
                         p->spotify_id);
            goto out;
        }
        store_array_text(&sids, p->spotify_id);
        store_array_text(&snaps, p->snapshot_id);
        store_array_text(&shas, p->cover_sha256);
        store_array_text(&urls, p->cover_url);
    }
    if (sids.n == 0)
        goto out;
    const char *l1 = store_array_end(&sids, err), *l2 = l1 ? store_array_end(&snaps, err) : NULL;
    const char *l3 = l2 ? store_array_end(&shas, err) : NULL;
    const char *l4 = l3 ? store_array_end(&urls, err) : NULL;
    if (!l4) {
        st = KT_ERR_NOMEM;
        goto out;
    }
    /* The playlists whose version of that snapshot exists got the cover;
     * the others have nothing to attach to (items not read). */
    store_param up[] = {SP_TEXT(l1), SP_TEXT(l2), SP_TEXT(l3), SP_TEXT(l4), SP_INT(user_id)};
    if ((st = store_query(s,
                          "UPDATE playlist_versions v SET cover_sha256 = u.sha, cover_url = u.url "
                          "FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), "
                          "CAST(? AS text[])) AS u(sid, snap, sha, url) JOIN playlists p ON "
                          "p.spotify_id = u.sid WHERE p.user_id = ? AND v.playlist_id = p.id "
                          "AND v.snapshot_id = u.snap RETURNING p.spotify_id",
                          up, 5, &changed, err)) != KT_OK)
        goto out;
    if (!(set = strset_new()) || !(given = strset_new()) || !(stored = strset_new())) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(changed) && st == KT_OK; i++)
        if (strset_add(set, store_rows_text(changed, i, 0)) < 0)
            st = nomem(err);
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        const store_playlist_row *p = &playlists[i];
        if (!cover_attached(p, set))
            continue;
        if (!p->cover_bytes) {
            store_array_text(&qsha, p->cover_sha256);
            continue;
        }
        store_array_text(&bsha, p->cover_sha256);
        array_hex(&bhex, p->cover_bytes, p->cover_len);
    }
    if (st != KT_OK)
        goto out;
    if (qsha.n) {
        const char *ql = store_array_end(&qsha, err);
        store_param hp[] = {SP_INT(user_id), SP_TEXT(ql)};
        if (!ql)
            st = KT_ERR_NOMEM;
        else
            st = store_query(s,
                             "SELECT sha256 FROM playlist_covers WHERE user_id = ? AND sha256 IN "
                             "(SELECT unnest(CAST(? AS text[])))",
                             hp, 2, &have, err);
        for (size_t i = 0; st == KT_OK && i < store_rows_count(have); i++)
            if (strset_add(stored, store_rows_text(have, i, 0)) < 0)
                st = nomem(err);
        /* In order: a hash is known once stored or given with bytes before. */
        for (size_t i = 0; i < n && st == KT_OK; i++) {
            const store_playlist_row *p = &playlists[i];
            if (!cover_attached(p, set))
                continue;
            if (p->cover_bytes) {
                if (strset_add(given, p->cover_sha256) < 0)
                    st = nomem(err);
            } else if (!strset_has(stored, p->cover_sha256) &&
                       !strset_has(given, p->cover_sha256)) {
                st = err_set(err, KT_ERR_INVALID, "bad_row",
                             "cover of playlist %s: new hash without bytes", p->spotify_id);
            }
        }
    }
    if (st == KT_OK && bsha.n) {
        const char *b1 = store_array_end(&bsha, err), *b2 = b1 ? store_array_end(&bhex, err) : NULL;
        store_param bp[] = {SP_INT(user_id), SP_INT(now_ms), SP_TEXT(b1), SP_TEXT(b2)};
        st = b2 ? store_exec(s,
                             "INSERT INTO playlist_covers (user_id, sha256, bytes, created_at) "
                             "SELECT CAST(? AS bigint), u.sha, decode(u.hex, 'hex'), CAST(? AS "
                             "bigint) FROM unnest(CAST(? AS text[]), CAST(? AS text[])) AS "
                             "u(sha, hex) ON CONFLICT (user_id, sha256) DO NOTHING",
                             bp, 4, NULL, err)
                : KT_ERR_NOMEM;
    }
out:
    for (size_t a = 0; a < sizeof all / sizeof *all; a++)
        store_array_free(all[a]);
    strset_free(set);
    strset_free(given);
    strset_free(stored);
    store_rows_free(changed);
    store_rows_free(have);
    return st;
}

/* *once = 0 when a playlist has two items[] entries. */
static kt_status items_listed_once(const store_playlist_items *items, size_t n_items, int *once,
                                   kt_err *err)
{
    strset *ids = strset_new();
    kt_status st = ids ? KT_OK : nomem(err);
    for (size_t i = 0; i < n_items && st == KT_OK && *once; i++) {
        int r = items[i].spotify_id ? strset_add(ids, items[i].spotify_id) : 0;
        if (r < 0)
            st = nomem(err);
        else if (r == 0)
            *once = 0;
    }
    strset_free(ids);
    return st;
}

kt_status store_playlists_replace(store *s, int64_t user_id, const store_playlist_row *playlists,
                                  size_t n, const store_playlist_items *items, size_t n_items,
                                  int64_t now_ms, int64_t *added, int64_t *removed, kt_err *err)
{
    store_rows *before = NULL;
    strset *active = NULL, *seen = NULL;
    batch *b = NULL;
    int64_t add = 0, rem = 0, gone = 0;
    int set_based = store_get_backend(s) == STORE_POSTGRES;
    store_param up[] = {SP_INT(user_id)};
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        goto out;
    if ((st = store_query(s, "SELECT spotify_id FROM playlists WHERE user_id = ? AND removed_at "
                             "IS NULL",
                          up, 1, &before, err)) != KT_OK)
        goto out;
    if (!(active = strset_new()) || !(seen = strset_new())) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(before) && st == KT_OK; i++)
        if (strset_add(active, store_rows_text(before, i, 0)) < 0)
            st = nomem(err);
    /* An unchanged playlist is not rewritten (a no-change re-sync of 2,000
     * playlists made 4,000 row versions: every position set to NULL, then
     * back); the ones no longer listed are marked removed below. */
    if (st != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO playlists (user_id, spotify_id, position, name, description, "
                        "owner_id, owner_name, collaborative, public, snapshot_id, items_total, "
                        "image_url, updated_at) VALUES ",
                        "itittttiititi",
                        " ON CONFLICT (user_id, spotify_id) DO UPDATE SET position = "
                        "excluded.position, name = excluded.name, description = "
                        "excluded.description, owner_id = excluded.owner_id, owner_name = "
                        "excluded.owner_name, collaborative = excluded.collaborative, public = "
                        "excluded.public, snapshot_id = excluded.snapshot_id, items_total = "
                        "excluded.items_total, image_url = excluded.image_url, removed_at = NULL, "
                        "updated_at = excluded.updated_at WHERE playlists.removed_at IS NOT NULL "
                        "OR playlists.position IS DISTINCT FROM excluded.position OR "
                        "playlists.name IS DISTINCT FROM excluded.name OR playlists.description "
                        "IS DISTINCT FROM excluded.description OR playlists.owner_id IS DISTINCT "
                        "FROM excluded.owner_id OR playlists.owner_name IS DISTINCT FROM "
                        "excluded.owner_name OR playlists.collaborative IS DISTINCT FROM "
                        "excluded.collaborative OR playlists.public IS DISTINCT FROM "
                        "excluded.public OR playlists.snapshot_id IS DISTINCT FROM "
                        "excluded.snapshot_id OR playlists.items_total IS DISTINCT FROM "
                        "excluded.items_total OR playlists.image_url IS DISTINCT FROM "
                        "excluded.image_url",
                        &b, err)) != KT_OK)
        goto out;
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        const store_playlist_row *p = &playlists[i];
        if (!p->spotify_id) {
            st = err_set(err, KT_ERR_INVALID, "bad_row", "playlist row %zu has no id", i);
            break;
        }
        if (!first_time(seen, p->spotify_id, &st, err)) {
            set_based = 0; /* listed twice: the per-playlist order decides */
            continue;
        }
        if (!strset_has(active, p->spotify_id))
            add++;
        store_param row[] = {SP_INT(user_id),
                             SP_TEXT(p->spotify_id),
                             SP_INT((int64_t)i),
                             SP_TEXT(p->name),
                             SP_TEXT(p->description),
                             SP_TEXT(p->owner_id),
                             SP_TEXT(p->owner_name),
                             SP_INT(p->collaborative ? 1 : 0),
                             p->public_ < 0 ? SP_NULL : SP_INT(p->public_ ? 1 : 0),
                             SP_TEXT(p->snapshot_id),
                             int_or_null(p->items_total),
                             SP_TEXT(p->image_url),
                             SP_INT(now_ms)};
        st = batch_add(b, row, err);
    }
    if (st == KT_OK)
        st = batch_flush(b, err);
    if (set_based && st == KT_OK && (st = items_listed_once(items, n_items, &set_based, err)) ==
                                        KT_OK && set_based) {
        if ((st = playlists_removed_pg(s, user_id, before, seen, now_ms, &rem, err)) == KT_OK &&
            (st = playlist_items_write_pg(s, user_id, items, n_items, now_ms, &add, &rem, err)) ==
                KT_OK &&
            (st = playlist_covers_write_pg(s, user_id, playlists, n, now_ms, err)) == KT_OK)
            st = store_commit(s, err);
        goto out;
    }
    /* Listed before and not now: removed (position NULL, kept with its
     * versions for history). */
    for (size_t i = 0; i < store_rows_count(before) && st == KT_OK; i++) {
        const char *id = store_rows_text(before, i, 0);
        if (!id || strset_has(seen, id))
            continue;
        store_param rp[] = {SP_INT(now_ms), SP_INT(user_id), SP_TEXT(id)};
        st = store_exec(s,
                        "UPDATE playlists SET position = NULL, removed_at = ? WHERE user_id = ? "
                        "AND spotify_id = ?",
                        rp, 3, &gone, err);
        rem += gone;
    }
    for (size_t i = 0; i < n_items && st == KT_OK; i++)
        st = playlist_items_write(s, user_id, &items[i], now_ms, &add, &rem, err);
    for (size_t i = 0; i < n && st == KT_OK; i++)
        st = playlist_cover_write(s, user_id, &playlists[i], now_ms, err);
    if (st == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    batch_free(b);
    strset_free(active);
    strset_free(seen);
    store_rows_free(before);
    if (st != KT_OK) {
        err_prefix(err, "saving playlists");
        return st;
    }
    if (added)
        *added = add;
    if (removed)
        *removed = rem;
    return KT_OK;
}

/* ---- top items, plays ---- */

kt_status store_top_replace(store *s, int64_t user_id, const char *day,
                            const store_top_list *lists, size_t n, kt_err *err)
{
    batch *b = NULL;
    kt_status st = KT_OK;
    if (!day || strlen(day) != 10)
        return err_set(err, KT_ERR_INVALID, "bad_day", "day must be YYYY-MM-DD");
    if ((st = store_begin(s, err)) != KT_OK ||
        (st = batch_new(s,
                        "INSERT INTO top_items (user_id, kind, time_range, day, rank, item) "
                        "VALUES ",
                        "itttit", "", &b, err)) != KT_OK)
        goto out;
    for (size_t l = 0; l < n && st == KT_OK; l++) {
        const store_top_list *t = &lists[l];
        store_param k[] = {SP_INT(user_id), SP_TEXT(t->kind), SP_TEXT(t->time_range),
                           SP_TEXT(day)};
        st = store_exec(s,
                        "DELETE FROM top_items WHERE user_id = ? AND kind = ? AND time_range = ? "
                        "AND day = ?",
                        k, 4, NULL, err);
        for (size_t i = 0; i < t->n && st == KT_OK; i++) {
            store_param p[] = {SP_INT(user_id), SP_TEXT(t->kind), SP_TEXT(t->time_range),
                               SP_TEXT(day), SP_INT((int64_t)i + 1), SP_TEXT(t->refs[i])};
            st = batch_add(b, p, err);
        }
        if (st == KT_OK)
            st = batch_flush(b, err);
    }
    if (st == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    batch_free(b);
    return st;
}

/* The imported plays (source 'import') a batch of polled plays could
 * duplicate: those within STORE_PLAY_SAME_MS of the batch's time span,
 * in played_at order. *out is the caller's. */
static kt_status imported_near(store *s, int64_t user_id, const store_play_row *rows, size_t n,
                               store_rows **out, kt_err *err)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].played_at < lo)
            lo = rows[i].played_at;
        if (rows[i].played_at > hi)
            hi = rows[i].played_at;
    }
    if (n == 0)
        lo = hi = 0;
    store_param p[] = {SP_INT(user_id), SP_INT(lo - STORE_PLAY_SAME_MS),
                       SP_INT(hi + STORE_PLAY_SAME_MS)};
    return store_query(s,
                       "SELECT played_at, track_uri FROM plays WHERE user_id = ? AND source = "
                       "'import' AND played_at >= ? AND played_at <= ? ORDER BY played_at",
                       p, 3, out, err);
}

/* 1 when row is the same play as an imported one not matched yet (same
 * uri, within STORE_PLAY_SAME_MS: the rule history_import applies the other
 * way round); that imported play is then marked used. */
static int matches_import(const store_rows *imp, char *used, const store_play_row *row)
{
    for (size_t j = 0; j < store_rows_count(imp); j++) {
        int64_t at = store_rows_int(imp, j, 0);
        const char *uri = store_rows_text(imp, j, 1);
        if (used[j] || at < row->played_at - STORE_PLAY_SAME_MS ||
            at > row->played_at + STORE_PLAY_SAME_MS || !uri || strcmp(uri, row->track_uri) != 0)
            continue;
        used[j] = 1;
        return 1;
    }
    return 0;
}

kt_status store_plays_add(store *s, int64_t user_id, const store_play_row *rows, size_t n,
                          int64_t *added, kt_err *err)
{
    batch *b = NULL;
    strset *seen = NULL;
    store_rows *imp = NULL;
    char *used = NULL;
    kt_status st = store_begin(s, err);
    if (st == KT_OK && (st = imported_near(s, user_id, rows, n, &imp, err)) == KT_OK &&
        (used = calloc(store_rows_count(imp) + 1, 1)) == NULL)
        st = nomem(err);
    if (st == KT_OK)
        st = batch_new(s, "INSERT INTO plays (user_id, played_at, track_uri, context_uri) VALUES ",
                       "iitt", " ON CONFLICT (user_id, played_at) DO NOTHING", &b, err);
    if (st == KT_OK && !(seen = strset_new()))
        st = nomem(err);
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)rows[i].played_at);
        if (!rows[i].track_uri || !first_time(seen, key, &st, err) ||
            matches_import(imp, used, &rows[i]))
            continue;
        store_param p[] = {SP_INT(user_id), SP_INT(rows[i].played_at), SP_TEXT(rows[i].track_uri),
                           SP_TEXT(rows[i].context_uri)};
        st = batch_add(b, p, err);
    }
    if (st == KT_OK && (st = batch_flush(b, err)) == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    if (st == KT_OK && added)
        *added = b->changes;
    batch_free(b);
    strset_free(seen);
    store_rows_free(imp);
    free(used);
    return st;
}

/* ---- sync runs ---- */

kt_status store_sync_run_start(store *s, int64_t user_id, const char *what, int64_t now_ms,
                               int64_t *run_id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(what ? what : ""), SP_INT(now_ms)};
    return store_query_int(s,
                           "INSERT INTO sync_runs (user_id, what, started_at, status) VALUES "
                           "(?, ?, ?, 'running') RETURNING id",
                           p, 3, run_id, err);
}

kt_status store_sync_run_finish(store *s, int64_t run_id, const char *status, int64_t now_ms,
                                int64_t requests, int64_t added, int64_t removed,
                                const char *error, kt_err *err)
{
    store_param p[] = {SP_INT(now_ms), SP_TEXT(status), SP_INT(requests), SP_INT(added),
                       SP_INT(removed), SP_TEXT(error), SP_INT(run_id)};
    return store_exec(s,
                      "UPDATE sync_runs SET finished_at = ?, status = ?, requests = ?, added = ?, "
                      "removed = ?, error = ? WHERE id = ?",
                      p, 7, NULL, err);
}

/* ---- reads ---- */

static kt_status check_page(size_t limit, kt_err *err)
{
    if (limit < 1 || limit > STORE_LIB_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit must be 1..%d",
                       STORE_LIB_MAX_LIMIT);
    return KT_OK;
}

/* "%q%" with LIKE's metacharacters escaped by '\' and ASCII lower-cased;
 * malloc'd. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *out = malloc(2 * n + 3), *o = out;
    if (!out)
        return NULL;
    *o++ = '%';
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            *o++ = '\\';
        *o++ = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

#define LIKED_FROM                                                                          \
    " FROM saved_tracks st JOIN tracks t ON t.uri = st.track_uri" TRACK_JOINS                \
    " WHERE st.user_id = ?"
#define LIKED_FILTER                                                                        \
    " AND (lower(t.name) LIKE ? ESCAPE '\\' OR lower(al.name) LIKE ? ESCAPE '\\' OR EXISTS " \
    "(SELECT 1 FROM track_artists ta JOIN artists a ON a.id = ta.artist_id WHERE "          \
    "ta.track_uri = t.uri AND lower(a.name) LIKE ? ESCAPE '\\'))"
#define FIRST_ARTIST                                                                        \
    "(SELECT a.name FROM track_artists ta JOIN artists a ON a.id = ta.artist_id WHERE "     \
    "ta.track_uri = t.uri ORDER BY ta.position LIMIT 1)"

kt_status store_liked_page(store *s, int64_t user_id, const char *q, store_sort sort, int desc,
                           size_t limit, size_t offset, store_rows **out, int64_t *total,
                           kt_err *err)
{
    static const char *const keys[] = {
        [STORE_SORT_ADDED_AT] = "st.added_at",
        [STORE_SORT_NAME] = "t.name",
        [STORE_SORT_ARTIST] = FIRST_ARTIST,
        [STORE_SORT_RELEASE_DATE] = "al.release_date",
    };
    char sql[2048], count_sql[1024];
    char *pat = NULL;
    int64_t count = 0;
    store_rows *r = NULL;
    kt_status st = check_page(limit, err);
    if (st != KT_OK)
        return st;
    if ((int)sort < 0 || (size_t)sort >= sizeof keys / sizeof keys[0])
        return err_set(err, KT_ERR_INVALID, "bad_sort", "unknown sort");
    int filter = q && *q;
    if (filter && !(pat = like_pattern(q)))
        return nomem(err);
    snprintf(count_sql, sizeof count_sql, "SELECT COUNT(*)%s%s", LIKED_FROM,
             filter ? LIKED_FILTER : "");
    snprintf(sql, sizeof sql,
             "SELECT st.position, st.added_at, " TRACK_COLS "%s%s ORDER BY %s %s NULLS LAST, "
             "st.position LIMIT ? OFFSET ?",
             LIKED_FROM, filter ? LIKED_FILTER : "", keys[sort], desc ? "DESC" : "ASC");
    store_param p[6];
    size_t np = 0;
    p[np++] = SP_INT(user_id);
    if (filter) {
        p[np++] = SP_TEXT(pat);
        p[np++] = SP_TEXT(pat);
        p[np++] = SP_TEXT(pat);
    }
    if ((st = store_query_int(s, count_sql, p, np, &count, err)) == KT_OK) {
        p[np++] = SP_INT((int64_t)limit);
        p[np++] = SP_INT((int64_t)offset);
        st = store_query(s, sql, p, np, &r, err);
    }
    free(pat);
    if (st != KT_OK)
        return st;
    *out = r;
    *total = count;
    return KT_OK;
}

/* Lookups by a list of ids: one statement text with IN_CHUNK placeholders,
 * the unused ones bound to NULL (which matches nothing), so the cache holds
 * one text whatever the list length. Callers split longer lists. */
#define IN_CHUNK 50
#define IN_LIST                                                                            \
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " \
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

static kt_status query_in(store *s, const char *sql, const char *const *ids, size_t n,
                          store_rows **out, kt_err *err)
{
    store_param p[IN_CHUNK];
    if (n > IN_CHUNK)
        return err_set(err, KT_ERR_INVALID, "too_many", "at most %d ids per lookup", IN_CHUNK);
    for (size_t i = 0; i < IN_CHUNK; i++)
        p[i] = i < n ? SP_TEXT(ids[i]) : SP_NULL;
    return store_query(s, sql, p, IN_CHUNK, out, err);
}

kt_status store_track_artists(store *s, const char *const *uris, size_t n, store_rows **out,
                              kt_err *err)
{
    return query_in(s,
                    "SELECT ta.track_uri, ta.position, a.id, a.name FROM track_artists ta JOIN "
                    "artists a ON a.id = ta.artist_id WHERE ta.track_uri IN " IN_LIST
                    " ORDER BY ta.track_uri, ta.position",
                    uris, n, out, err);
}

kt_status store_album_artists(store *s, const char *const *ids, size_t n, store_rows **out,
                              kt_err *err)
{
    return query_in(s,
                    "SELECT aa.album_id, aa.position, a.id, a.name FROM album_artists aa JOIN "
                    "artists a ON a.id = aa.artist_id WHERE aa.album_id IN " IN_LIST
                    " ORDER BY aa.album_id, aa.position",
                    ids, n, out, err);
}

/* Runs a count query and a page query sharing their leading parameters. */
static kt_status paged(store *s, const char *count_sql, const char *page_sql,
                       const store_param *params, size_t np, size_t limit, size_t offset,
                       store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[8];
    int64_t count = 0;
    store_rows *r = NULL;
    kt_status st = check_page(limit, err);
    if (st != KT_OK)
        return st;
    if (np + 2 > sizeof p / sizeof p[0])
        return err_set(err, KT_ERR_INTERNAL, NULL, "too many parameters");
    memcpy(p, params, np * sizeof *p);
    p[np] = SP_INT((int64_t)limit);
    p[np + 1] = SP_INT((int64_t)offset);
    if ((st = store_query_int(s, count_sql, p, np, &count, err)) != KT_OK ||
        (st = store_query(s, page_sql, p, np + 2, &r, err)) != KT_OK)
        return st;
    *out = r;
    *total = count;
    return KT_OK;
}

#define PLAYLIST_COLS                                                                       \
    "spotify_id, name, description, owner_id, owner_name, collaborative, public, "         \
    "snapshot_id, items_total, image_url, synced_snapshot_id, updated_at, position"

kt_status store_playlists_list(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM playlists WHERE user_id = ? AND removed_at IS NULL",
                 "SELECT " PLAYLIST_COLS " FROM playlists WHERE user_id = ? AND removed_at IS "
                 "NULL ORDER BY position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_playlist_get(store *s, int64_t user_id, const char *spotify_id, store_rows **out,
                             kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(spotify_id)};
    kt_status st = store_query(s,
                               "SELECT " PLAYLIST_COLS ", removed_at, id FROM playlists WHERE "
                               "user_id = ? AND spotify_id = ?",
                               p, 2, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "playlist_not_found", "no such playlist");
    }
    *out = r;
    return KT_OK;
}

/* The row id of the user's playlist, or KT_ERR_NOT_FOUND. */
static kt_status playlist_row_id(store *s, int64_t user_id, const char *spotify_id, int64_t *id,
                                 kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(spotify_id)};
    kt_status st = store_query_int(s, "SELECT id FROM playlists WHERE user_id = ? AND spotify_id = ?",
                                   p, 2, id, err);
    if (st == KT_ERR_NOT_FOUND)
        return err_set(err, KT_ERR_NOT_FOUND, "playlist_not_found", "no such playlist");
    return st;
}

kt_status store_playlist_items_page(store *s, int64_t user_id, const char *spotify_id,
                                    size_t limit, size_t offset, store_rows **out, int64_t *total,
                                    kt_err *err)
{
    int64_t pid = 0;
    kt_status st = playlist_row_id(s, user_id, spotify_id, &pid, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(pid)};
    return paged(s, "SELECT COUNT(*) FROM playlist_items WHERE playlist_id = ?",
                 "SELECT pi.position, pi.added_at, pi.added_by, " TRACK_COLS
                 " FROM playlist_items pi LEFT JOIN tracks t ON t.uri = pi.item_uri" TRACK_JOINS
                 " WHERE pi.playlist_id = ? ORDER BY pi.position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_playlist_versions(store *s, int64_t user_id, const char *spotify_id,
                                  store_rows **out, kt_err *err)
{
    int64_t pid = 0;
    kt_status st = playlist_row_id(s, user_id, spotify_id, &pid, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(pid)};
    return store_query(s,
                       "SELECT snapshot_id, seen_at, items_total, cover_sha256, cover_url FROM "
                       "playlist_versions WHERE playlist_id = ? ORDER BY seen_at DESC, id DESC",
                       p, 1, out, err);
}

kt_status store_playlist_version_items(store *s, int64_t user_id, const char *spotify_id,
                                       const char *snapshot_id, char **out, kt_err *err)
{
    int64_t pid = 0;
    store_rows *r = NULL;
    kt_status st = playlist_row_id(s, user_id, spotify_id, &pid, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(pid), SP_TEXT(snapshot_id)};
    if ((st = store_query(s,
                          "SELECT items FROM playlist_versions WHERE playlist_id = ? AND "
                          "snapshot_id = ?",
                          p, 2, &r, err)) != KT_OK)
        return st;
    const char *text = store_rows_count(r) ? store_rows_text(r, 0, 0) : NULL;
    char *copy = text ? strdup(text) : NULL;
    if (!text)
        st = err_set(err, KT_ERR_NOT_FOUND, "version_not_found",
                     "this playlist has no version with that snapshot_id");
    else if (!copy)
        st = nomem(err);
    store_rows_free(r);
    if (st == KT_OK)
        *out = copy;
    return st;
}

#define ARTIST_COLS "a.id, a.name, a.genres, a.image_url, a.followers, a.popularity"

kt_status store_following_page(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM followed_artists WHERE user_id = ?",
                 "SELECT f.position, " ARTIST_COLS " FROM followed_artists f JOIN artists a ON "
                 "a.id = f.artist_id WHERE f.user_id = ? ORDER BY f.position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_saved_albums_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                  store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM saved_albums WHERE user_id = ?",
                 "SELECT sa.position, sa.added_at, al.id, al.name, al.album_type, "
                 "al.release_date, al.release_date_precision, al.total_tracks, al.image_url "
                 "FROM saved_albums sa JOIN albums al ON al.id = sa.album_id WHERE sa.user_id "
                 "= ? ORDER BY sa.position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_saved_shows_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                 store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM saved_shows WHERE user_id = ?",
                 "SELECT ss.position, ss.added_at, sh.id, sh.name, sh.publisher, "
                 "sh.total_episodes, sh.image_url FROM saved_shows ss JOIN shows sh ON sh.id = "
                 "ss.show_id WHERE ss.user_id = ? ORDER BY ss.position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_saved_episodes_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                    store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM saved_episodes WHERE user_id = ?",
                 "SELECT se.position, se.added_at, " TRACK_COLS " FROM saved_episodes se JOIN "
                 "tracks t ON t.uri = se.episode_uri" TRACK_JOINS " WHERE se.user_id = ? ORDER "
                 "BY se.position LIMIT ? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

kt_status store_top_latest_day(store *s, int64_t user_id, const char *kind,
                               const char *time_range, char day[11], kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(kind), SP_TEXT(time_range)};
    kt_status st = store_query(s,
                               "SELECT MAX(day) FROM top_items WHERE user_id = ? AND kind = ? "
                               "AND time_range = ?",
                               p, 3, &r, err);
    if (st != KT_OK)
        return st;
    const char *d = store_rows_text(r, 0, 0);
    if (!d || strlen(d) != 10)
        st = err_set(err, KT_ERR_NOT_FOUND, "no_top_items",
                     "no top %s for %s yet: run a sync of top items first", kind, time_range);
    else
        memcpy(day, d, 11);
    store_rows_free(r);
    return st;
}

kt_status store_top_get(store *s, int64_t user_id, const char *kind, const char *time_range,
                        const char *day, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(kind), SP_TEXT(time_range), SP_TEXT(day)};
    if (kind && strcmp(kind, "tracks") == 0)
        return store_query(s,
                           "SELECT ti.rank, " TRACK_COLS " FROM top_items ti JOIN tracks t ON "
                           "t.uri = ti.item" TRACK_JOINS " WHERE ti.user_id = ? AND ti.kind = ? "
                           "AND ti.time_range = ? AND ti.day = ? ORDER BY ti.rank",
                           p, 4, out, err);
    return store_query(s,
                       "SELECT ti.rank, " ARTIST_COLS " FROM top_items ti JOIN artists a ON a.id "
                       "= ti.item WHERE ti.user_id = ? AND ti.kind = ? AND ti.time_range = ? AND "
                       "ti.day = ? ORDER BY ti.rank",
                       p, 4, out, err);
}

kt_status store_plays_page(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                           size_t limit, size_t offset, store_rows **out, int64_t *total,
                           kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms)};
    return paged(s,
                 "SELECT COUNT(*) FROM plays WHERE user_id = ? AND played_at >= ? AND played_at "
                 "< ?",
                 "SELECT pl.played_at, pl.context_uri, " TRACK_COLS " FROM plays pl JOIN tracks "
                 "t ON t.uri = pl.track_uri" TRACK_JOINS " WHERE pl.user_id = ? AND "
                 "pl.played_at >= ? AND pl.played_at < ? ORDER BY pl.played_at DESC LIMIT ? "
                 "OFFSET ?",
                 p, 3, limit, offset, out, total, err);
}

kt_status store_sync_runs_page(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return paged(s, "SELECT COUNT(*) FROM sync_runs WHERE user_id = ?",
                 "SELECT id, what, started_at, finished_at, status, requests, added, removed, "
                 "error FROM sync_runs WHERE user_id = ? ORDER BY started_at DESC, id DESC LIMIT "
                 "? OFFSET ?",
                 p, 1, limit, offset, out, total, err);
}

/* restore.c - restores into Spotify (see restore.h): plan against the
 * freshly synced account, then write (unless a dry run), then report.
 */
#include "services/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/strset.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/jobs.h"
#include "services/sync.h"
#include "store/store_auth.h"
#include "store/store_export.h"
#include "store/store_library.h"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* ---- options ---- */

kt_status restore_parse_mode(const char *s, restore_mode *out, kt_err *err)
{
    if (!s || strcmp(s, "new") == 0)
        *out = RESTORE_MODE_NEW;
    else if (strcmp(s, "refill") == 0)
        *out = RESTORE_MODE_REFILL;
    else
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "mode must be new or refill");
    return KT_OK;
}

kt_status restore_options_add_playlist(restore_options *o, const char *selector, kt_err *err)
{
    if (o->n_playlists >= RESTORE_MAX_SELECTORS)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "at most %d playlists may be chosen",
                       RESTORE_MAX_SELECTORS);
    char **nv = realloc(o->playlists, (o->n_playlists + 1) * sizeof *nv);
    if (!nv)
        return nomem(err);
    o->playlists = nv;
    if ((nv[o->n_playlists] = strdup(selector)) == NULL)
        return nomem(err);
    o->n_playlists++;
    return KT_OK;
}

void restore_options_clear(restore_options *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n_playlists; i++)
        free(o->playlists[i]);
    free(o->playlists);
    memset(o, 0, sizeof *o);
}

static int selected(const restore_options *o, const restore_playlist *p)
{
    if (o->n_playlists == 0)
        return 1;
    for (size_t i = 0; i < o->n_playlists; i++)
        if ((p->id && strcmp(p->id, o->playlists[i]) == 0) || strcmp(p->name, o->playlists[i]) == 0)
            return 1;
    return 0;
}

kt_status restore_check(const restore_input *in, const restore_options *o, kt_err *err)
{
    for (size_t i = 0; i < o->n_playlists; i++) {
        int found = 0;
        for (size_t k = 0; k < in->n_playlists && !found; k++)
            found = (in->playlists[k].id && strcmp(in->playlists[k].id, o->playlists[i]) == 0) ||
                    strcmp(in->playlists[k].name, o->playlists[i]) == 0;
        if (!found)
            return err_set(err, KT_ERR_INVALID, "unknown_playlist",
                           "playlists: no playlist with id or name '%.100s' in the upload",
                           o->playlists[i]);
    }
    if (in->n_playlists == 0 && !(o->liked && in->has_liked))
        return err_set(err, KT_ERR_INVALID, "nothing_to_restore",
                       in->has_liked ? "the upload holds only Liked Songs: ask for them "
                                       "(liked=true / --liked)"
                                     : "the upload holds no playlist and no Liked Songs");
    return KT_OK;
}

static json_t *options_json(const restore_options *o)
{
    json_t *sel = json_array();
    for (size_t i = 0; sel && i < o->n_playlists; i++)
        json_array_append_new(sel, json_string(o->playlists[i]));
    return json_pack("{s:s,s:b,s:b,s:b,s:o*}", "mode", o->mode == RESTORE_MODE_NEW ? "new" : "refill",
                     "liked", o->liked, "dry_run", o->dry_run, "by_id_only", o->by_id_only,
                     "playlists", sel);
}

static kt_status options_from_json(const json_t *j, restore_options *o, kt_err *err)
{
    size_t i;
    const json_t *v;
    memset(o, 0, sizeof *o);
    kt_status st = restore_parse_mode(json_str(j, "mode"), &o->mode, err);
    o->liked = json_bool(j, "liked", 0);
    o->dry_run = json_bool(j, "dry_run", 0);
    o->by_id_only = json_bool(j, "by_id_only", 0);
    json_array_foreach(json_arr(j, "playlists"), i, v)
    {
        if (st == KT_OK && json_is_string(v))
            st = restore_options_add_playlist(o, json_string_value(v), err);
    }
    if (st != KT_OK)
        restore_options_clear(o);
    return st;
}

/* ---- the account as it is ---- */

typedef struct current_pl {
    char *id, *name;
    int writable; /* owned or collaborative, items stored */
} current_pl;

typedef struct account {
    current_pl *pls;
    size_t n;
    strset *liked;
} account;

static void account_free(account *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->pls[i].id);
        free(a->pls[i].name);
    }
    free(a->pls);
    strset_free(a->liked);
    memset(a, 0, sizeof *a);
}

static kt_status load_playlists(store *s, int64_t uid, const char *me, account *a, kt_err *err)
{
    for (size_t off = 0;; off += STORE_LIB_MAX_LIMIT) {
        store_rows *r = NULL;
        int64_t total = 0;
        kt_status st = store_playlists_list(s, uid, STORE_LIB_MAX_LIMIT, off, &r, &total, err);
        if (st != KT_OK)
            return st;
        size_t n = store_rows_count(r);
        current_pl *nv = n ? realloc(a->pls, (a->n + n) * sizeof *nv) : a->pls;
        if (n && !nv) {
            store_rows_free(r);
            return nomem(err);
        }
        a->pls = nv;
        for (size_t i = 0; i < n; i++) {
            const char *owner = store_rows_text(r, i, 3), *name = store_rows_text(r, i, 1);
            current_pl *c = &a->pls[a->n++];
            c->id = strdup(store_rows_text(r, i, 0));
            c->name = strdup(name ? name : "");
            c->writable = !store_rows_is_null(r, i, 10) &&
                          ((owner && me && strcmp(owner, me) == 0) || store_rows_int(r, i, 5));
            if (!c->id || !c->name) {
                store_rows_free(r);
                return nomem(err);
            }
        }
        store_rows_free(r);
        if (n < STORE_LIB_MAX_LIMIT)
            return KT_OK;
    }
}

static kt_status load_liked(store *s, int64_t uid, account *a, kt_err *err)
{
    int64_t after = INT64_MIN;
    if ((a->liked = strset_new()) == NULL)
        return nomem(err);
    for (;;) {
        store_rows *r = NULL;
        kt_status st = store_export_page(s, STORE_EXPORT_LIKED, uid, after, STORE_EXPORT_MAX_LIMIT,
                                         &r, err);
        if (st != KT_OK)
            return st;
        size_t n = store_rows_count(r);
        for (size_t i = 0; i < n; i++)
            if (strset_add(a->liked, store_rows_text(r, i, STORE_EXT_URI)) < 0) {
                store_rows_free(r);
                return nomem(err);
            }
        if (n)
            after = store_rows_int(r, n - 1, STORE_EXT_KEY);
        store_rows_free(r);
        if (n == 0)
            return KT_OK;
    }
}

static kt_status load_account(kt_app *app, int64_t uid, int want_liked, account *a, kt_err *err)
{
    store *s = NULL;
    store_user u;
    memset(&u, 0, sizeof u);
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_user_get(s, uid, &u, err)) == KT_OK &&
        (st = load_playlists(s, uid, u.spotify_id, a, err)) == KT_OK && want_liked)
        st = load_liked(s, uid, a, err);
    store_user_clear(&u);
    app_db_put(app, s);
    return st;
}

/* The addable URIs of a stored playlist, in order. */
static kt_status stored_items(kt_app *app, int64_t uid, const char *id, char ***out, size_t *n,
                              kt_err *err)
{
    store *s = NULL;
    char **v = NULL;
    size_t cnt = 0;
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    for (size_t off = 0; st == KT_OK; off += STORE_LIB_MAX_LIMIT) {
        store_rows *r = NULL;
        int64_t total = 0;
        if ((st = store_playlist_items_page(s, uid, id, STORE_LIB_MAX_LIMIT, off, &r, &total,
                                            err)) != KT_OK)
            break;
        size_t rn = store_rows_count(r);
        char **nv = rn ? realloc(v, (cnt + rn) * sizeof *nv) : v;
        if (rn && !nv)
            st = nomem(err);
        else
            v = nv;
        for (size_t i = 0; st == KT_OK && i < rn; i++) {
            const char *uri = store_rows_text(r, i, 3);
            if (restore_uri_addable(uri) && (v[cnt++] = strdup(uri)) == NULL)
                st = nomem(err);
        }
        store_rows_free(r);
        if (rn < STORE_LIB_MAX_LIMIT)
            break;
    }
    app_db_put(app, s);
    if (st != KT_OK) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return st;
    }
    *out = v;
    *n = cnt;
    return KT_OK;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- the plan ---- */

typedef enum action { A_SKIP, A_UNCHANGED, A_CREATE, A_REFILL } action;
static const char *const action_names[] = {"skipped", "unchanged", "create", "refill"};

typedef struct pl_plan {
    const restore_playlist *src;
    size_t index;        /* of src in the input */
    const char *made;    /* the playlist this restore created for src before it was
                          * interrupted (NULL: none), borrowed */
    int resumed;         /* filling `made` again instead of creating */
    action act;
    const char *target; /* borrowed from the account; NULL for create */
    char created[80];
    const char **uris; /* borrowed from src: the addable items in order */
    size_t n;
    int64_t local, unavailable;
    const char *reason;
} pl_plan;

static int same_items(char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

/* Whether playlist id already holds exactly p's items. */
static kt_status holds(kt_app *app, int64_t uid, const char *id, const pl_plan *p, int *yes,
                       kt_err *err)
{
    char **cur = NULL;
    size_t n = 0;
    kt_status st = stored_items(app, uid, id, &cur, &n, err);
    if (st != KT_OK)
        return st;
    *yes = same_items(cur, n, p->uris, p->n);
    free_strs(cur, n);
    return KT_OK;
}

static kt_status plan_playlist(kt_app *app, int64_t uid, const account *a,
                               const restore_options *o, pl_plan *p, kt_err *err)
{
    const restore_playlist *src = p->src;
    if (!src->items_known) {
        p->act = A_SKIP;
        p->reason = "the export holds no items for this playlist (someone else's playlist)";
        return KT_OK;
    }
    if ((p->uris = calloc(src->n ? src->n : 1, sizeof *p->uris)) == NULL)
        return nomem(err);
    for (size_t i = 0; i < src->n; i++) {
        const char *u = src->items[i].uri;
        if (restore_uri_addable(u))
            p->uris[p->n++] = u;
        else if (restore_uri_local(u))
            p->local++;
        else
            p->unavailable++;
    }
    const current_pl *match = NULL;
    /* Resuming: the playlist created before the interruption is the target
     * (still there and ours), whatever the mode; filled from the start. */
    for (size_t i = 0; p->made && i < a->n && !match; i++)
        if (a->pls[i].writable && strcmp(a->pls[i].id, p->made) == 0)
            match = &a->pls[i];
    if (match) {
        p->resumed = 1;
        snprintf(p->created, sizeof p->created, "%s", match->id);
    } else if (o->mode == RESTORE_MODE_REFILL) {
        for (size_t i = 0; src->id && i < a->n && !match; i++)
            if (a->pls[i].writable && strcmp(a->pls[i].id, src->id) == 0)
                match = &a->pls[i];
        for (size_t i = 0; !o->by_id_only && i < a->n && !match; i++)
            if (a->pls[i].writable && strcmp(a->pls[i].name, src->name) == 0)
                match = &a->pls[i];
        if (!match && o->by_id_only)
            return err_set(err, KT_ERR_NOT_FOUND, "playlist_not_found",
                           "playlist %s is no longer one of yours on Spotify: restore the "
                           "version as a new playlist instead",
                           src->id ? src->id : src->name);
    }
    p->act = match ? A_REFILL : A_CREATE;
    p->target = match ? match->id : NULL;
    /* Unchanged: the match (refill), or any own playlist of the same name
     * (new), already holds exactly these items. */
    for (size_t i = 0; i < a->n; i++) {
        const current_pl *c = &a->pls[i];
        int yes = 0;
        if (match ? c != match : (!c->writable || strcmp(c->name, src->name) != 0))
            continue;
        kt_status st = holds(app, uid, c->id, p, &yes, err);
        if (st != KT_OK)
            return st;
        if (yes) {
            p->act = A_UNCHANGED;
            p->target = c->id;
            break;
        }
    }
    return KT_OK;
}

typedef struct liked_plan {
    const char **uris; /* oldest first */
    size_t n;
    int64_t in_upload, already, local, unavailable;
} liked_plan;

static kt_status plan_liked(const restore_input *in, const account *a, liked_plan *lp, kt_err *err)
{
    strset *seen = strset_new();
    if (!seen || (lp->uris = calloc(in->n_liked ? in->n_liked : 1, sizeof *lp->uris)) == NULL) {
        strset_free(seen);
        return nomem(err);
    }
    lp->in_upload = (int64_t)in->n_liked;
    for (size_t k = in->n_liked; k > 0; k--) {
        const char *u = in->liked[k - 1].uri;
        if (restore_uri_local(u))
            lp->local++;
        else if (!restore_uri_addable(u))
            lp->unavailable++;
        else if (strset_has(a->liked, u))
            lp->already++;
        else if (strset_add(seen, u) == 1)
            lp->uris[lp->n++] = u;
    }
    strset_free(seen);
    return KT_OK;
}

static int64_t chunks(size_t n, size_t per)
{
    return (int64_t)((n + per - 1) / per);
}

static int64_t plan_writes(const pl_plan *p, size_t n, const liked_plan *lp)
{
    int64_t w = lp ? chunks(lp->n, RESTORE_LIKED_BATCH) : 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].act == A_CREATE)
            w += 1 + chunks(p[i].n, RESTORE_ITEMS_BATCH);
        else if (p[i].act == A_REFILL)
            w += p[i].n ? chunks(p[i].n, RESTORE_ITEMS_BATCH) : 1;
        if ((p[i].act == A_CREATE || p[i].act == A_REFILL || p[i].act == A_UNCHANGED) &&
            p[i].src->cover_sha256)
            w++; /* the cover's upload (even when only the cover differs) */
    }
    return w;
}

/* ---- writing ---- */

typedef struct writer {
    kt_app *app;
    int64_t uid;
    int64_t restore_id; /* > 0: created playlists are recorded for a resume */
    int64_t done, total;
    restore_progress_fn progress;
    void *ctx;
} writer;

static void tick(writer *w, const char *msg)
{
    w->done++;
    if (w->progress)
        w->progress(w->ctx, w->done, w->total, msg);
}

/* PUT (replace) or POST (append) uris[0..n) to playlist id. */
static kt_status send_items(writer *w, const char *id, const char *method, const char *const *uris,
                            size_t n, kt_err *err)
{
    char path[128];
    json_t *arr = json_array(), *body = NULL;
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(uris[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr || (body = json_pack("{s:o}", "uris", arr)) == NULL)
        return nomem(err);
    snprintf(path, sizeof path, "/playlists/%s/items", id);
    kt_status st = spotify_request(w->app->spotify, w->uid, method, path, body, NULL, NULL, err);
    json_decref(body);
    if (st == KT_OK)
        tick(w, "writing playlists");
    return st;
}

/* Fills playlist id with p's items: replace (PUT the first 100, or clear)
 * or append to a new empty playlist, then POST the rest in order. */
static kt_status fill(writer *w, const char *id, const pl_plan *p, int replace, kt_err *err)
{
    size_t off = 0;
    kt_status st = KT_OK;
    if (replace) {
        size_t first = p->n < RESTORE_ITEMS_BATCH ? p->n : RESTORE_ITEMS_BATCH;
        st = send_items(w, id, "PUT", p->uris, first, err);
        off = first;
    }
    while (st == KT_OK && off < p->n) {
        size_t len = p->n - off < RESTORE_ITEMS_BATCH ? p->n - off : RESTORE_ITEMS_BATCH;
        st = send_items(w, id, "POST", p->uris + off, len, err);
        off += len;
    }
    return st;
}

static kt_status create_playlist(writer *w, const restore_playlist *src, char id[80], kt_err *err)
{
    json_t *out = NULL,
           *body = json_pack("{s:s,s:b,s:s}", "name", src->name, "public", 0, "description",
                             src->description ? src->description : "Restored by keeptrack");
    if (!body)
        return nomem(err);
    kt_status st =
        spotify_request(w->app->spotify, w->uid, "POST", "/me/playlists", body, NULL, &out, err);
    json_decref(body);
    if (st != KT_OK)
        return st;
    const char *nid = json_str(out, "id");
    size_t len = nid ? strlen(nid) : 0;
    if (len == 0 || len >= 80 || strspn(nid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789") != len)
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify created a playlist but its answer has no usable id");
    else
        memcpy(id, nid, len + 1);
    json_decref(out);
    if (st == KT_OK)
        tick(w, "creating playlists");
    return st;
}

/* Records that this restore created `id` for p, before anything is put in
 * it: a job interrupted from here on fills it when it resumes. A failure to
 * record is logged, not fatal (the resume would then create another). */
static void record_made(writer *w, const pl_plan *p, const char *id)
{
    store *s = NULL;
    kt_err e = {0};
    if (w->restore_id <= 0)
        return;
    kt_status st = app_db_get(w->app, &s, &e);
    if (st == KT_OK) {
        st = store_restore_created_put(s, w->restore_id, (int64_t)p->index, id, time_now_ms(),
                                       &e);
        app_db_put(w->app, s);
    }
    if (st != KT_OK)
        LOG_WARN("restore_record_failed", "restore=%lld playlist=%s error=%s",
                 (long long)w->restore_id, id, e.msg);
}

/* Removes (unfollows) a playlist this restore made but could not fill. */
static void remove_made(writer *w, const char *id, kt_err *err)
{
    char path[160];
    kt_err e2 = {0};
    snprintf(path, sizeof path, "/me/library?uris=spotify:playlist:%s", id);
    if (spotify_request(w->app->spotify, w->uid, "DELETE", path, NULL, NULL, NULL, &e2) == KT_OK)
        err_prefix(err, "playlist could not be filled and was removed again");
    else
        err_prefix(err, "playlist %s could not be filled nor removed (%s)", id, e2.msg);
}

/* Uploads the version's stored cover to playlist id (after its items, so
 * a playlist is never left with a cover but not its items). A cover the
 * database no longer has is skipped with a warning. */
static kt_status put_cover(writer *w, const char *id, const restore_playlist *src, kt_err *err)
{
    store *s = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (!src->cover_sha256)
        return KT_OK;
    kt_status st = app_db_get(w->app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_playlist_cover_bytes(s, w->uid, src->cover_sha256, &bytes, &len, err);
    app_db_put(w->app, s);
    if (st == KT_ERR_NOT_FOUND) {
        LOG_WARN("restore_cover_missing", "user=%lld playlist=%s", (long long)w->uid, id);
        return KT_OK;
    }
    if (st == KT_OK)
        st = spotify_put_playlist_cover(w->app->spotify, w->uid, id, bytes, len, err);
    free(bytes);
    if (st == KT_OK)
        tick(w, "writing playlists");
    return st;
}

static kt_status apply_playlist(writer *w, pl_plan *p, kt_err *err)
{
    kt_status st;
    if (p->act == A_REFILL) {
        st = fill(w, p->target, p, 1, err);
        return st == KT_OK ? put_cover(w, p->target, p->src, err) : st;
    }
    /* Same items: only the version's cover (if it had one) goes back. */
    if (p->act == A_UNCHANGED)
        return put_cover(w, p->target, p->src, err);
    if (p->act != A_CREATE)
        return KT_OK;
    st = create_playlist(w, p->src, p->created, err);
    if (st != KT_OK)
        return st;
    record_made(w, p, p->created);
    if ((st = fill(w, p->created, p, 0, err)) == KT_OK)
        st = put_cover(w, p->created, p->src, err);
    if (st != KT_OK && st != KT_ERR_DEFERRED && st != KT_ERR_REAUTH) {
        remove_made(w, p->created, err);
        p->created[0] = '\0';
    }
    return st;
}

static kt_status apply_liked(writer *w, const liked_plan *lp, kt_err *err)
{
    buf path;
    kt_status st = KT_OK;
    buf_init(&path, 1 << 16);
    for (size_t off = 0; st == KT_OK && off < lp->n; off += RESTORE_LIKED_BATCH) {
        buf_reset(&path);
        st = buf_puts(&path, "/me/library?uris=");
        for (size_t i = off; st == KT_OK && i < lp->n && i < off + RESTORE_LIKED_BATCH; i++)
            st = buf_printf(&path, "%s%s", i > off ? "," : "", lp->uris[i]);
        if (st != KT_OK) {
            st = nomem(err);
            break;
        }
        st = spotify_request(w->app->spotify, w->uid, "PUT", path.data, NULL, NULL, NULL, err);
        if (st == KT_OK)
            tick(w, "saving Liked Songs");
    }
    buf_free(&path);
    return st;
}

/* ---- the report ---- */

static json_t *playlist_report(const pl_plan *p)
{
    json_t *local = json_array();
    for (size_t i = 0; local && i < p->src->n; i++)
        if (restore_uri_local(p->src->items[i].uri) &&
            json_array_size(local) < RESTORE_REPORT_LOCAL_MAX)
            json_array_append_new(local, json_string(p->src->items[i].uri));
    const char *target = p->created[0] ? p->created : p->target;
    /* A resumed restore finishes the playlist it created: still a create. */
    const char *act = p->resumed ? action_names[A_CREATE] : action_names[p->act];
    return json_pack("{s:s,s:s?,s:s,s:s?,s:I,s:o*,s:I,s:I,s:s?}", "name", p->src->name,
                     "source_id", p->src->id, "action", act, "target_id", target,
                     "items", (json_int_t)p->n, "local_files", local, "local_count",
                     (json_int_t)p->local, "unavailable", (json_int_t)p->unavailable, "reason",
                     p->reason);
}

static json_t *report_json(const restore_options *o, const pl_plan *p, size_t n,
                           const liked_plan *lp, int64_t writes)
{
    json_t *pls = json_array();
    for (size_t i = 0; pls && i < n; i++)
        json_array_append_new(pls, playlist_report(&p[i]));
    json_t *rep = json_pack("{s:b,s:s,s:o*,s:I}", "dry_run", o->dry_run, "mode",
                            o->mode == RESTORE_MODE_NEW ? "new" : "refill", "playlists", pls,
                            "writes", (json_int_t)writes);
    if (rep && lp)
        json_object_set_new(rep, "liked",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "in_upload",
                                      (json_int_t)lp->in_upload, "already_saved",
                                      (json_int_t)lp->already, "to_save", (json_int_t)lp->n,
                                      "local_count", (json_int_t)lp->local, "unavailable",
                                      (json_int_t)lp->unavailable));
    return rep;
}

/* ---- run ---- */

/* made[i] = the playlist restore_id created for input playlist i (NULL: none). */
static kt_status load_made(kt_app *app, int64_t restore_id, size_t n, char ***out, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    char **made = calloc(n ? n : 1, sizeof *made);
    kt_status st = made ? KT_OK : nomem(err);
    if (st == KT_OK && restore_id > 0 && (st = app_db_get(app, &s, err)) == KT_OK) {
        st = store_restore_created_list(s, restore_id, &r, err);
        app_db_put(app, s);
    }
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        int64_t k = store_rows_int(r, i, 0);
        if (k < 0 || (uint64_t)k >= n || made[k])
            continue; /* not an index of this input: ignored */
        if (!(made[k] = strdup(store_rows_text(r, i, 1))))
            st = nomem(err);
    }
    store_rows_free(r);
    if (st != KT_OK) {
        free_strs(made, n);
        made = NULL;
    }
    *out = made;
    return st;
}

kt_status restore_run(kt_app *app, int64_t user_id, int64_t restore_id, const restore_input *in,
                      const restore_options *o, restore_progress_fn progress, void *progress_ctx,
                      json_t **report, kt_err *err)
{
    account a = {0};
    pl_plan *plans = NULL;
    char **made = NULL;
    liked_plan lp = {0};
    size_t n = 0;
    int want_liked = o->liked && in->has_liked;
    writer w = {.app = app, .uid = user_id, .restore_id = restore_id, .progress = progress,
                .ctx = progress_ctx};
    json_t *rep = NULL;
    kt_status st = restore_check(in, o, err);
    if (st != KT_OK)
        return st;
    if (progress)
        progress(progress_ctx, 0, 0, "syncing the account before comparing");
    if ((st = sync_run(app, user_id, SYNC_LIKED | SYNC_PLAYLISTS, NULL, NULL, NULL, NULL, err)) != KT_OK) {
        err_prefix(err, "reading the account before the restore");
        return st;
    }
    if ((st = load_account(app, user_id, want_liked, &a, err)) != KT_OK ||
        (st = load_made(app, restore_id, in->n_playlists, &made, err)) != KT_OK)
        goto out;
    if ((plans = calloc(in->n_playlists ? in->n_playlists : 1, sizeof *plans)) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < in->n_playlists && st == KT_OK; i++)
        if (selected(o, &in->playlists[i])) {
            plans[n] = (pl_plan){.src = &in->playlists[i], .index = i, .made = made[i]};
            st = plan_playlist(app, user_id, &a, o, &plans[n++], err);
        }
    if (st == KT_OK && want_liked)
        st = plan_liked(in, &a, &lp, err);
    if (st != KT_OK)
        goto out;
    w.total = plan_writes(plans, n, want_liked ? &lp : NULL);
    if (!o->dry_run) {
        for (size_t i = 0; i < n && st == KT_OK; i++)
            if ((st = apply_playlist(&w, &plans[i], err)) != KT_OK)
                err_prefix(err, "restoring playlist '%.80s'", plans[i].src->name);
        if (st == KT_OK && want_liked && (st = apply_liked(&w, &lp, err)) != KT_OK)
            err_prefix(err, "saving Liked Songs");
        if (st != KT_OK)
            goto out;
    }
    if ((rep = report_json(o, plans, n, want_liked ? &lp : NULL, w.total)) == NULL) {
        st = nomem(err);
        goto out;
    }
    LOG_INFO("restore_done", "user=%lld playlists=%zu writes=%lld dry_run=%d",
             (long long)user_id, n, (long long)w.total, o->dry_run);
    *report = rep;
out:
    for (size_t i = 0; plans && i < n; i++)
        free(plans[i].uris);
    free(plans);
    free_strs(made, in->n_playlists);
    free(lp.uris);
    account_free(&a);
    return st;
}

/* ---- requests and jobs ---- */

/* The texts a request is stored as (both malloc'd; on failure both NULL):
 * the same input and options always give the same texts, which is how the
 * CLI finds its own unfinished request again. */
static kt_status request_texts(const restore_input *in, const restore_options *o, char **input,
                               char **opts, kt_err *err)
{
    json_t *oj = options_json(o);
    *input = restore_input_to_json(in);
    *opts = oj ? json_dumps(oj, JSON_COMPACT) : NULL;
    json_decref(oj);
    if (*input && *opts)
        return KT_OK;
    free(*input);
    free(*opts);
    *input = *opts = NULL;
    return nomem(err);
}

kt_status restore_submit(kt_app *app, int64_t user_id, const restore_input *in,
                         const restore_options *o, const char *source, int64_t *restore_id,
                         int64_t *job_id, kt_err *err)
{
    char *input = NULL, *opts = NULL, params[64], key[64];
    store *s = NULL;
    int64_t rid = 0, jid = 0;
    kt_status st = request_texts(in, o, &input, &opts, err);
    if (st == KT_OK)
        st = restore_check(in, o, err);
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK) {
        st = store_restore_create(s, user_id, source, opts, input, time_now_ms(), &rid, err);
        app_db_put(app, s);
        s = NULL;
    }
    if (st == KT_OK) {
        snprintf(params, sizeof params, "{\"restore_id\":%lld}", (long long)rid);
        snprintf(key, sizeof key, "restore:%lld", (long long)rid);
        store_job_spec spec = {.kind = RESTORE_JOB_KIND, .user_id = user_id, .params = params,
                               .dedupe_key = key};
        st = jobs_enqueue(app, &spec, &jid, NULL, err);
    }
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK) {
        st = store_restore_set_job(s, rid, jid, err);
        app_db_put(app, s);
    }
    free(input);
    free(opts);
    if (st == KT_OK) {
        *restore_id = rid;
        *job_id = jid;
    }
    return st;
}

/* One stored version as an input of one playlist. */
static kt_status version_input(store *s, int64_t uid, const char *playlist_id,
                               const char *snapshot_id, int in_place, restore_input **out,
                               kt_err *err)
{
    store_rows *pl = NULL, *vers = NULL;
    char *items = NULL, *name = NULL;
    json_t *arr = NULL;
    restore_input *in = NULL;
    int64_t seen = 0;
    kt_status st = store_playlist_get(s, uid, playlist_id, &pl, err);
    /* Checked after the playlist: another user's playlist is a 404 whatever the body. */
    if (st == KT_OK && (!snapshot_id || !*snapshot_id))
        st = err_set(err, KT_ERR_INVALID, "bad_parameter",
                     "snapshot is required (the version's snapshot_id)");
    if (st == KT_OK)
        st = store_playlist_versions(s, uid, playlist_id, &vers, err);
    if (st == KT_OK)
        st = store_playlist_version_items(s, uid, playlist_id, snapshot_id, &items, err);
    if (st != KT_OK)
        goto out;
    for (size_t i = 0; i < store_rows_count(vers); i++)
        if (strcmp(store_rows_text(vers, i, 0), snapshot_id) == 0)
            seen = store_rows_int(vers, i, 1);
    const char *pname = store_rows_text(pl, 0, 1);
    char iso[32], buf_name[RESTORE_NAME_MAX + 64];
    time_format_iso8601(seen, iso);
    iso[10] = '\0';
    if (in_place)
        snprintf(buf_name, sizeof buf_name, "%s", pname ? pname : "Playlist");
    else
        snprintf(buf_name, sizeof buf_name, "%.*s (version of %s)", RESTORE_NAME_MAX - 30,
                 pname ? pname : "Playlist", iso);
    arr = json_loads(items, 0, NULL);
    in = restore_input_new();
    restore_playlist *p = in ? calloc(1, sizeof *p) : NULL;
    if (!arr || !json_is_array(arr)) {
        free(p);
        st = err_set(err, KT_ERR_INTERNAL, NULL, "a stored version's item list is not readable");
        goto out;
    }
    if (!in || !p || !(name = strdup(buf_name)) || !(p->id = strdup(playlist_id)) ||
        !(p->file = strdup("version")) ||
        !(p->items = calloc(json_array_size(arr) + 1, sizeof *p->items))) {
        if (p) {
            free(p->id);
            free(p->file);
            free(p);
        }
        st = nomem(err);
        goto out;
    }
    p->name = name;
    name = NULL;
    p->items_known = 1;
    p->cap = json_array_size(arr) + 1;
    /* The version's custom cover goes back with it (by hash: the job reads
     * the bytes from the user's stored covers). */
    unsigned char *cover = NULL;
    size_t cover_len = 0;
    char sha[65];
    st = store_playlist_cover_get(s, uid, playlist_id, snapshot_id, &cover, &cover_len, sha, err);
    if (st == KT_OK && cover && !(p->cover_sha256 = strdup(sha)))
        st = nomem(err);
    free(cover);
    for (size_t i = 0; st == KT_OK && i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const char *uri = json_string_value(json_array_get(e, 0));
        json_t *at = json_array_get(e, 1);
        p->items[p->n].added_at = json_is_integer(at) ? json_integer_value(at) : -1;
        if (uri && (p->items[p->n].uri = strdup(uri)) == NULL) {
            st = nomem(err);
            break;
        }
        p->n++;
    }
    in->playlists = p;
    in->n_playlists = in->cap_playlists = 1;
    if (st == KT_OK) {
        *out = in;
        in = NULL;
    }
out:
    restore_input_free(in);
    json_decref(arr);
    free(name);
    free(items);
    store_rows_free(pl);
    store_rows_free(vers);
    return st;
}

kt_status restore_version_submit(kt_app *app, int64_t user_id, const char *playlist_id,
                                 const char *snapshot_id, int in_place, int dry_run,
                                 int64_t *restore_id, int64_t *job_id, kt_err *err)
{
    store *s = NULL;
    restore_input *in = NULL;
    restore_options o = {.mode = in_place ? RESTORE_MODE_REFILL : RESTORE_MODE_NEW,
                         .by_id_only = in_place, .dry_run = dry_run};
    char source[200];
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = version_input(s, user_id, playlist_id, snapshot_id, in_place, &in, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    snprintf(source, sizeof source, "playlist %.64s version %.100s (%s)", playlist_id, snapshot_id,
             in_place ? "in place" : "as a new playlist");
    st = restore_submit(app, user_id, in, &o, source, restore_id, job_id, err);
    restore_input_free(in);
    return st;
}

static void finish(kt_app *app, int64_t restore_id, const char *status, const char *report,
                   const char *error)
{
    store *s = NULL;
    kt_err e = {0};
    if (app_db_get(app, &s, &e) == KT_OK) {
        if (store_restore_finish(s, restore_id, status, report, error, time_now_ms(), &e) != KT_OK)
            LOG_WARN("restore_finish_failed", "restore=%lld error=%s", (long long)restore_id,
                     e.msg);
        app_db_put(app, s);
    } else {
        LOG_WARN("restore_finish_failed", "restore=%lld error=%s", (long long)restore_id, e.msg);
    }
}

kt_status restore_job(kt_app *app, int64_t user_id, int64_t restore_id,
                      restore_progress_fn progress, void *progress_ctx, kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    char *input = NULL, *text = NULL;
    json_t *oj = NULL, *rep = NULL;
    restore_input *in = restore_input_new();
    restore_options o = {0};
    kt_status st = in ? app_db_get(app, &s, err) : nomem(err);
    if (st != KT_OK)
        goto out;
    if ((st = store_restore_get(s, user_id, restore_id, &r, err)) == KT_OK)
        st = store_restore_input(s, restore_id, &input, err);
    app_db_put(app, s);
    if (st != KT_OK)
        goto out;
    if (strcmp(store_rows_text(r, 0, 5), STORE_RESTORE_QUEUED) != 0) {
        st = KT_OK; /* already finished (a job run twice): nothing to do */
        goto out;
    }
    if ((st = json_parse_bounded(store_rows_text(r, 0, 4), strlen(store_rows_text(r, 0, 4)), 4,
                                 &oj, err)) != KT_OK ||
        (st = options_from_json(oj, &o, err)) != KT_OK ||
        (st = restore_parse_json("restore input", input, strlen(input), in, err)) != KT_OK)
        st = KT_ERR_INVALID;
    else
        st = restore_run(app, user_id, restore_id, in, &o, progress, progress_ctx, &rep, err);
    if (st == KT_OK) {
        text = json_dumps(rep, JSON_COMPACT);
        finish(app, restore_id, STORE_RESTORE_DONE, text, NULL);
    } else if (st != KT_ERR_DEFERRED) {
        finish(app, restore_id, STORE_RESTORE_FAILED, NULL, err->msg);
    }
out:
    free(text);
    json_decref(rep);
    json_decref(oj);
    restore_options_clear(&o);
    restore_input_free(in);
    free(input);
    store_rows_free(r);
    return st;
}

/* The CLI's request: the open one with the same input and options (a rerun
 * after a deferral or a kill), else a new one. */
static kt_status cli_request(kt_app *app, int64_t user_id, const restore_input *in,
                             const restore_options *o, const char *source, int64_t *rid,
                             int *resumed, kt_err *err)
{
    char *input = NULL, *opts = NULL;
    store *s = NULL;
    kt_status st = request_texts(in, o, &input, &opts, err);
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK) {
        kt_err e;
        err_clear(&e);
        st = store_restore_find_open(s, user_id, opts, input, rid, &e);
        *resumed = st == KT_OK;
        if (st == KT_ERR_NOT_FOUND)
            st = store_restore_create(s, user_id, source, opts, input, time_now_ms(), rid, err);
        else if (st != KT_OK && err)
            *err = e;
        app_db_put(app, s);
    }
    free(input);
    free(opts);
    return st;
}

kt_status restore_cli_run(kt_app *app, int64_t user_id, const restore_input *in,
                          const restore_options *o, const char *source,
                          restore_progress_fn progress, void *progress_ctx, json_t **report,
                          kt_err *err)
{
    int64_t rid = 0;
    int resumed = 0;
    char *text = NULL;
    kt_status st;
    if (o->dry_run) /* writes nothing, so there is nothing to resume */
        return restore_run(app, user_id, 0, in, o, progress, progress_ctx, report, err);
    if ((st = cli_request(app, user_id, in, o, source, &rid, &resumed, err)) != KT_OK)
        return st;
    if (resumed)
        LOG_INFO("restore_resumed", "user=%lld restore=%lld", (long long)user_id,
                 (long long)rid);
    st = restore_run(app, user_id, rid, in, o, progress, progress_ctx, report, err);
    /* Only success closes the request: after any failure (a deferral, a
     * network error, a kill before this line) it stays open, so running the
     * same command again fills the playlists it created. */
    if (st == KT_OK) {
        text = json_dumps(*report, JSON_COMPACT);
        finish(app, rid, STORE_RESTORE_DONE, text, NULL);
        free(text);
    }
    return st;
}

static json_t *parsed_or_null(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    return j ? j : json_null();
}

kt_status restore_get(kt_app *app, int64_t user_id, int64_t restore_id, json_t **out,
                      kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    char c[32], f[32];
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_restore_get(s, user_id, restore_id, &r, err);
    app_db_put(app, s);
    if (st != KT_OK)
        return st;
    time_format_iso8601(store_rows_int(r, 0, 8), c);
    if (!store_rows_is_null(r, 0, 9))
        time_format_iso8601(store_rows_int(r, 0, 9), f);
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:o,s:o,s:s?,s:s,s:s?}", "id",
                          (json_int_t)store_rows_int(r, 0, 0), "job_id",
                          (json_int_t)store_rows_int(r, 0, 2), "status", store_rows_text(r, 0, 5),
                          "source", store_rows_text(r, 0, 3), "options",
                          parsed_or_null(store_rows_text(r, 0, 4)), "report",
                          parsed_or_null(store_rows_text(r, 0, 6)), "error",
                          store_rows_text(r, 0, 7), "created_at", c, "finished_at",
                          store_rows_is_null(r, 0, 9) ? NULL : f);
    store_rows_free(r);
    if (!o)
        return nomem(err);
    *out = o;
    return KT_OK;
}

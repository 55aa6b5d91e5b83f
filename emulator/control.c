/* control.c - the control API under /__emulator/ (not Spotify): health,
 * request statistics, users and their ground truth, mutations, faults,
 * consent and token manipulation. JSON in and out; errors are
 * {"error":"message"} with 400/404/405. Not counted in the statistics and
 * never subject to faults. See README.md for the full contract.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "faults.h"
#include "server.h"
#include "stats.h"
#include "images.h"
#include "webapi.h"

#define RD(app) pthread_rwlock_rdlock(&(app)->lib->lock)
#define WR(app) pthread_rwlock_wrlock(&(app)->lib->lock)
#define UN(app) pthread_rwlock_unlock(&(app)->lib->lock)

static void cerr(em_resp *out, int status, const char *msg)
{
    resp_json(out, status);
    jw_obj(&out->body);
    jw_kstr(&out->body, "error", msg);
    jw_obj_end(&out->body);
}

static void ok(em_resp *out)
{
    resp_json(out, 200);
    jw_rawz(&out->body, "{\"ok\":true}");
}

static json_t *body_json(em_req *r, em_resp *out)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (!json_is_object(j)) {
        json_decref(j);
        cerr(out, 400, "body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- truth ---- */

static bool want_section(const char *sections, const char *name)
{
    if (!sections) return true;
    size_t n = strlen(name);
    for (const char *p = strstr(sections, name); p; p = strstr(p + 1, name))
        if ((p == sections || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static void truth(em_app *app, em_req *r, em_resp *out, em_user *u)
{
    em_out o = wa_out(app);
    const char *sections = req_arg(r, "sections");
    jw *w = &out->body;
    resp_json(out, 200);
    jw_obj(w);
    if (want_section(sections, "profile")) {
        jw_key(w, "profile");
        out_private_user(&o, w, u);
    }
    if (want_section(sections, "liked")) {
        jw_key(w, "liked");
        jw_arr(w);
        for (size_t i = 0; i < u->liked.n; i++) out_saved_track(&o, w, &u->liked.v[i]);
        jw_arr_end(w);
    }
    if (want_section(sections, "playlists")) {
        jw_key(w, "playlists");
        jw_arr(w);
        for (size_t i = 0; i < u->playlists.n; i++) out_playlist_truth(&o, w, u->playlists.v[i], u);
        jw_arr_end(w);
    }
    static const char *const saved_keys[] = {"albums", "shows", "episodes"};
    void (*const writers[])(const em_out *, jw *, const em_saved *) = {out_saved_album, out_saved_show,
                                                                       out_saved_episode};
    for (int s = 0; s < 3; s++) {
        if (!want_section(sections, saved_keys[s])) continue;
        const em_saved *v = s == 0 ? u->albums.v : s == 1 ? u->shows.v : u->episodes.v;
        size_t n = s == 0 ? u->albums.n : s == 1 ? u->shows.n : u->episodes.n;
        jw_key(w, saved_keys[s]);
        jw_arr(w);
        for (size_t i = 0; i < n; i++) writers[s](&o, w, &v[i]);
        jw_arr_end(w);
    }
    if (want_section(sections, "followed_artists")) {
        uint32_t *fa = wa_followed_sorted(app->lib, u);
        jw_key(w, "followed_artists");
        jw_arr(w);
        for (size_t i = 0; i < u->followed.n; i++) out_artist(&o, w, fa[i]);
        jw_arr_end(w);
        free(fa);
    }
    if (want_section(sections, "top")) {
        static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
        jw_key(w, "top");
        jw_obj(w);
        for (int t = 0; t < TR_COUNT; t++) {
            jw_key(w, ranges[t]);
            jw_obj(w);
            jw_key(w, "tracks");
            jw_arr(w);
            for (size_t i = 0; i < u->top_tracks[t].n; i++) out_track(&o, w, u->top_tracks[t].v[i]);
            jw_arr_end(w);
            jw_key(w, "artists");
            jw_arr(w);
            for (size_t i = 0; i < u->top_artists[t].n; i++) out_artist(&o, w, u->top_artists[t].v[i]);
            jw_arr_end(w);
            jw_obj_end(w);
        }
        jw_obj_end(w);
    }
    /* Only when asked for: the top lists as they were on each of the 14 days
     * before today (users with play_days; the keeptrack demo records them
     * as if it had polled daily), oldest first. */
    if (sections && want_section(sections, "top_history")) {
        static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
        uint32_t top[50], artists[50];
        jw_key(w, "top_history");
        jw_arr(w);
        for (int d = 14; d >= 1; d--) {
            char day[40];
            int64_t day_s = app->lib->day0 - (int64_t)d * 86400;
            fmt_iso(day_s, day, sizeof(day));
            day[10] = '\0';
            jw_obj(w);
            jw_kstr(w, "day", day);
            for (int t = 0; t < TR_COUNT; t++) {
                size_t n = library_top_from_plays(app->lib, u, t, day_s, top, 50);
                size_t m = library_top_artists_of(app->lib, top, n, artists, 50);
                jw_key(w, ranges[t]);
                jw_obj(w);
                jw_key(w, "tracks");
                jw_arr(w);
                for (size_t i = 0; i < n; i++) {
                    jw_begin_value(w);
                    jw_printf(w, "\"spotify:track:%s\"", app->lib->tracks.v[top[i]].id);
                }
                jw_arr_end(w);
                jw_key(w, "artists");
                jw_arr(w);
                for (size_t i = 0; i < m; i++) jw_str(w, app->lib->artists.v[artists[i]].id);
                jw_arr_end(w);
                jw_obj_end(w);
            }
            jw_obj_end(w);
        }
        jw_arr_end(w);
    }
    if (want_section(sections, "recently_played")) {
        jw_key(w, "recently_played");
        jw_arr(w);
        for (size_t i = 0; i < u->plays.n; i++) out_play(&o, w, &u->plays.v[i]);
        jw_arr_end(w);
    }
    jw_obj_end(w);
}

/* ---- users ---- */

static void list_users(em_app *app, em_resp *out)
{
    RD(app);
    resp_json(out, 200);
    jw_arr(&out->body);
    for (size_t i = 0; i < app->lib->users.n; i++) {
        const em_user *u = app->lib->users.v[i];
        jw_obj(&out->body);
        jw_kstr(&out->body, "id", u->id);
        jw_kstr(&out->body, "account_id", u->account_id);
        jw_kstr(&out->body, "display_name", u->display_name);
        jw_obj_end(&out->body);
    }
    jw_arr_end(&out->body);
    UN(app);
}

static void create_user(em_app *app, em_req *r, em_resp *out)
{
    json_t *b = body_json(r, out);
    if (!b) return;
    em_user_spec spec;
    char err[160] = "";
    const char *id = jstr(b, "id");
    bool good = id != NULL;
    if (!good) snprintf(err, sizeof(err), "id is required");
    library_spec_defaults(&spec, id);
    if (good && strlen(id) >= sizeof(spec.id)) { good = false; snprintf(err, sizeof(err), "id too long"); }
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) {
        if (!good || strcmp(key, "id") == 0) continue;
        char val[64];
        if (json_is_integer(v)) snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v)) snprintf(val, sizeof(val), "%s", json_string_value(v));
        else { good = false; snprintf(err, sizeof(err), "%s must be an integer", key); break; }
        good = library_spec_set(&spec, key, val, err, sizeof(err));
    }
    if (good) {
        WR(app);
        int ix = library_add_user(app->lib, &spec, err, sizeof(err));
        if (ix >= 0) {
            const em_user *u = app->lib->users.v[ix];
            resp_json(out, 201);
            jw_obj(&out->body);
            jw_kstr(&out->body, "id", u->id);
            jw_kstr(&out->body, "account_id", u->account_id);
            jw_kstr(&out->body, "display_name", u->display_name);
            jw_obj_end(&out->body);
        } else {
            cerr(out, strstr(err, "exists") ? 409 : 400, err);
        }
        UN(app);
    } else {
        cerr(out, 400, err);
    }
    json_decref(b);
}

/* ---- mutations (caller holds the write lock) ---- */

static bool uri_of(em_app *app, em_resp *out, const char *uri, em_uri_type want, uint32_t *ix)
{
    em_uri_type t;
    bool bad = false;
    if (!uri || !library_parse_uri(app->lib, uri, &t, ix, &bad) || t != want) {
        cerr(out, bad || !uri ? 400 : 404, bad || !uri ? "bad uri" : "unknown uri");
        return false;
    }
    return true;
}

static em_playlist *playlist_of(em_app *app, em_resp *out, json_t *b)
{
    const char *id = jstr(b, "playlist");
    uint32_t pi = id ? library_playlist(app->lib, id) : NONE;
    if (pi == NONE) {
        cerr(out, 404, "unknown playlist");
        return NULL;
    }
    return &app->lib->playlists.v[pi];
}

static void snapshot(em_resp *out, const em_playlist *p)
{
    char snap[33];
    library_snapshot_id(p, snap);
    resp_json(out, 200);
    jw_obj(&out->body);
    jw_kstr(&out->body, "playlist", p->id);
    jw_kstr(&out->body, "snapshot_id", snap);
    jw_kint(&out->body, "total", (int64_t)p->items.n);
    jw_obj_end(&out->body);
}

/* Parses b["uris"] into items (tracks/episodes), at most 100. */
static int items_of(em_app *app, em_resp *out, json_t *b, uint32_t added_by, em_item *items)
{
    json_t *uris = json_object_get(b, "uris");
    if (!json_is_array(uris) || json_array_size(uris) == 0 || json_array_size(uris) > 100) {
        cerr(out, 400, "uris must be an array of 1..100 track or episode uris");
        return -1;
    }
    int64_t now = now_ms() / 1000;
    for (size_t i = 0; i < json_array_size(uris); i++) {
        const char *u = json_string_value(json_array_get(uris, i));
        em_uri_type t;
        uint32_t ix;
        bool bad;
        if (!u || !library_parse_uri(app->lib, u, &t, &ix, &bad) || (t != URI_TRACK && t != URI_EPISODE)) {
            cerr(out, 400, "bad or unknown uri in uris");
            return -1;
        }
        items[i].kind = t == URI_TRACK ? ITEM_TRACK : ITEM_EPISODE;
        items[i].ref = ix;
        items[i].added_by = added_by;
        items[i].added_at = now;
    }
    return (int)json_array_size(uris);
}

static void mutate(em_app *app, em_req *r, em_resp *out, em_user *u, json_t *b)
{
    const char *op = jstr(b, "op");
    uint32_t ix;
    em_item items[100];
    if (!op) { cerr(out, 400, "op is required"); return; }
    if (strcmp(op, "like") == 0 || strcmp(op, "unlike") == 0) {
        if (!uri_of(app, out, jstr(b, "uri"), URI_TRACK, &ix)) return;
        bool changed = op[0] == 'l' ? library_like(app->lib, u, ix, now_ms() / 1000) : library_unlike(app->lib, u, ix);
        resp_json(out, 200);
        jw_printf(&out->body, "{\"changed\":%s,\"liked_total\":%zu}", changed ? "true" : "false", u->liked.n);
    } else if (strcmp(op, "follow") == 0 || strcmp(op, "unfollow") == 0) {
        if (!uri_of(app, out, jstr(b, "uri"), URI_ARTIST, &ix)) return;
        bool changed = op[0] == 'f' ? library_follow(u, ix) : library_unfollow(u, ix);
        resp_json(out, 200);
        jw_printf(&out->body, "{\"changed\":%s,\"followed_total\":%zu}", changed ? "true" : "false", u->followed.n);
    } else if (strcmp(op, "playlist_add") == 0) {
        em_playlist *p = playlist_of(app, out, b);
        if (!p) return;
        int n = items_of(app, out, b, p->owner, items);
        if (n < 0) return;
        json_t *pos = json_object_get(b, "position");
        long at = json_is_integer(pos) ? (long)json_integer_value(pos) : -1;
        if (at > (long)p->items.n || p->items.n + (size_t)n > EM_PLAYLIST_MAX_ITEMS) {
            cerr(out, 400, "position out of bounds or playlist full");
            return;
        }
        library_playlist_insert(app->lib, p, items, (size_t)n, at);
        snapshot(out, p);
    } else if (strcmp(op, "playlist_remove") == 0) {
        em_playlist *p = playlist_of(app, out, b);
        if (!p) return;
        int n = items_of(app, out, b, p->owner, items);
        if (n < 0) return;
        library_playlist_remove(p, items, (size_t)n);
        snapshot(out, p);
    } else if (strcmp(op, "playlist_unavailable") == 0) {
        /* {"playlist", "uris"}: Spotify takes those tracks away (catalogue
         * removal): every entry of them stays in place, with its added_at
         * and added_by, as a null entry, and the snapshot changes. */
        em_playlist *p = playlist_of(app, out, b);
        if (!p) return;
        int n = items_of(app, out, b, p->owner, items);
        if (n < 0) return;
        for (size_t i = 0; i < p->items.n; i++)
            for (int j = 0; j < n; j++)
                if (p->items.v[i].kind == items[j].kind && p->items.v[i].ref == items[j].ref) {
                    p->items.v[i].kind = ITEM_NULL;
                    p->items.v[i].ref = NONE;
                    break;
                }
        library_playlist_bump(p);
        snapshot(out, p);
    } else if (strcmp(op, "playlist_reorder") == 0) {
        em_playlist *p = playlist_of(app, out, b);
        if (!p) return;
        json_t *len = json_object_get(b, "range_length");
        if (!json_is_integer(json_object_get(b, "range_start")) || !json_is_integer(json_object_get(b, "insert_before")) ||
            !library_playlist_reorder(p, (long)json_integer_value(json_object_get(b, "range_start")),
                                      (long)json_integer_value(json_object_get(b, "insert_before")),
                                      json_is_integer(len) ? (long)json_integer_value(len) : 1)) {
            cerr(out, 400, "range out of bounds");
            return;
        }
        snapshot(out, p);
    } else if (strcmp(op, "playlist_cover") == 0) {
        /* {"playlist", "jpeg_base64"}: what the owner's upload would do.
         * "unchecked": true takes any base64 bytes of any size (within the
         * body cap), so a test can have the image host serve a broken or
         * oversized cover, as a misbehaving CDN would. */
        em_playlist *p = playlist_of(app, out, b);
        if (!p) return;
        const char *b64 = jstr(b, "jpeg_base64");
        unsigned char *jpeg = NULL;
        size_t n = 0;
        if (b64 && json_is_true(json_object_get(b, "unchecked"))) {
            size_t cap = strlen(b64) / 4 * 3 + 3;
            jpeg = xmalloc(cap);
            if (sodium_base642bin(jpeg, cap, b64, strlen(b64), "\r\n", &n, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 || n == 0) {
                free(jpeg);
                cerr(out, 400, "jpeg_base64 must be base64");
                return;
            }
        } else if (!b64 || library_cover_decode(b64, strlen(b64), &jpeg, &n) != 0) {
            cerr(out, 400, "jpeg_base64 must be the base64 of a JPEG, at most 256 KB of text");
            return;
        }
        library_playlist_set_cover(p, jpeg, n);
        free(jpeg);
        snapshot(out, p);
    } else if (strcmp(op, "play") == 0) {
        if (!uri_of(app, out, jstr(b, "uri"), URI_TRACK, &ix)) return;
        int64_t at_ms = now_ms();
        const char *pa = jstr(b, "played_at");
        int64_t s;
        if (pa && !parse_iso(pa, &s)) { cerr(out, 400, "played_at must be ISO 8601"); return; }
        if (pa) {
            const char *dot = strchr(pa, '.');
            at_ms = s * 1000 + (dot ? atoi(dot + 1) % 1000 : 0);
        }
        library_play(u, ix, at_ms);
        resp_json(out, 200);
        jw_printf(&out->body, "{\"plays\":%zu,\"played_at_ms\":%lld}", u->plays.n, (long long)at_ms);
    } else if (strcmp(op, "new_release") == 0) {
        const char *aid = jstr(b, "artist"), *name = jstr(b, "name"), *type = jstr(b, "album_type");
        const char *date = jstr(b, "release_date");
        json_t *nt = json_object_get(b, "tracks");
        int64_t when = app->lib->day0;
        ix = aid ? library_artist(app->lib, aid) : NONE;
        if (ix == NONE) { cerr(out, 404, "unknown artist"); return; }
        if (!name || !*name || strlen(name) > 1000) { cerr(out, 400, "name is required"); return; }
        int t = !type || strcmp(type, "single") == 0 ? ALBUM_SINGLE : strcmp(type, "album") == 0 ? ALBUM_ALBUM :
                strcmp(type, "compilation") == 0 ? ALBUM_COMPILATION : -1;
        if (t < 0) { cerr(out, 400, "album_type must be album, single or compilation"); return; }
        if (date && !parse_iso(date, &when)) { cerr(out, 400, "release_date must be YYYY-MM-DD"); return; }
        if (nt && (!json_is_integer(nt) || json_integer_value(nt) < 1 || json_integer_value(nt) > 100)) {
            cerr(out, 400, "tracks must be 1..100");
            return;
        }
        uint32_t al = library_new_release(app->lib, ix, name, t, when, nt ? (uint32_t)json_integer_value(nt) : 1);
        em_out o = wa_out(app);
        resp_json(out, 200);
        out_album(&o, &out->body, al);
    } else {
        cerr(out, 400, "unknown op");
    }
    (void)r;
}

static em_user *user_from_body(em_app *app, em_resp *out, json_t *b)
{
    const char *id = jstr(b, "user");
    RD(app);
    em_user *u = id ? library_user(app->lib, id) : NULL;
    UN(app);
    if (!u) cerr(out, 404, "unknown user");
    return u;
}

static void tokens(em_app *app, em_req *r, em_resp *out, const char *what)
{
    json_t *b = body_json(r, out);
    if (!b) return;
    em_user *u = user_from_body(app, out, b);
    if (u) {
        int n = -1;
        if (strcmp(what, "expire") == 0) n = accounts_expire_access(app->acc, u);
        else if (strcmp(what, "revoke") == 0) n = accounts_revoke_refresh(app->acc, u);
        else if (strcmp(what, "age") == 0) {
            json_t *d = json_object_get(b, "days");
            if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 100000)
                cerr(out, 400, "days must be an integer 0..100000");
            else n = accounts_age_refresh(app->acc, u, (long)json_integer_value(d));
        } else cerr(out, 404, "unknown control path");
        if (n >= 0) {
            resp_json(out, 200);
            jw_printf(&out->body, "{\"ok\":true,\"tokens\":%d}", n);
        }
    }
    json_decref(b);
}

void control_handle(em_app *app, em_req *r, em_resp *out)
{
    const char *p = r->path + strlen("/__emulator");
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(p, "/health") == 0 && get) {
        ok(out);
    } else if (strcmp(p, "/stats") == 0 && get) {
        const char *since = req_arg(r, "since");
        double s = since ? strtod(since, NULL) : -1;
        resp_json(out, 200);
        stats_dump(app->stats, &out->body, s);
    } else if (strcmp(p, "/images") == 0 && get) {
        /* Image-host requests are not Web API requests (not in /stats):
         * counted apart so a test can assert a sync downloads a cover once. */
        resp_json(out, 200);
        jw_printf(&out->body, "{\"covers_served\":%llu}", (unsigned long long)images_covers_served());
    } else if (strcmp(p, "/stats/reset") == 0 && post) {
        stats_reset(app->stats);
        ok(out);
    } else if (strcmp(p, "/users") == 0 && get) {
        list_users(app, out);
    } else if (strcmp(p, "/users") == 0 && post) {
        create_user(app, r, out);
    } else if (strncmp(p, "/users/", 7) == 0) {
        char id[80];
        const char *rest = strchr(p + 7, '/');
        size_t n = rest ? (size_t)(rest - (p + 7)) : strlen(p + 7);
        if (n == 0 || n >= sizeof(id) || !rest) { cerr(out, 404, "unknown control path"); return; }
        memcpy(id, p + 7, n);
        id[n] = '\0';
        if (strcmp(rest, "/truth") == 0 && get) {
            RD(app);
            em_user *u = library_user(app->lib, id);
            if (u) truth(app, r, out, u);
            else cerr(out, 404, "unknown user");
            UN(app);
        } else if (strcmp(rest, "/mutate") == 0 && post) {
            json_t *b = body_json(r, out);
            if (!b) return;
            WR(app);
            em_user *u = library_user(app->lib, id);
            if (u) mutate(app, r, out, u, b);
            else cerr(out, 404, "unknown user");
            UN(app);
            json_decref(b);
        } else {
            cerr(out, 404, "unknown control path");
        }
    } else if (strcmp(p, "/faults") == 0 && (get || post)) {
        if (post) {
            json_t *b = body_json(r, out);
            if (!b) return;
            char err[160];
            json_t *release = json_object_get(b, "release");
            bool good = !release || json_is_boolean(release);
            if (!good) snprintf(err, sizeof(err), "release must be true or false");
            else good = faults_apply_json(app->faults, app, b, err, sizeof(err));
            if (good && json_is_true(release)) server_release_waits();
            json_decref(b);
            if (!good) { cerr(out, 400, err); return; }
        }
        resp_json(out, 200);
        faults_dump(app->faults, app, server_waiting(), &out->body);
    } else if (strcmp(p, "/clock") == 0 && post) {
        json_t *b = body_json(r, out);
        if (!b) return;
        json_t *adv = json_object_get(b, "advance_s");
        if (!json_is_integer(adv) || json_integer_value(adv) < 0 || json_integer_value(adv) > 100LL * 365 * 86400) {
            cerr(out, 400, "advance_s must be a non-negative integer");
        } else {
            clock_advance_ms((int64_t)json_integer_value(adv) * 1000);
            resp_json(out, 200);
            jw_printf(&out->body, "{\"ok\":true,\"now_ms\":%lld}", (long long)now_ms());
        }
        json_decref(b);
    } else if (strcmp(p, "/consent") == 0 && post) {
        json_t *b = body_json(r, out);
        if (!b) return;
        em_user *u = NULL;
        bool good = true;
        if (jstr(b, "user")) good = (u = user_from_body(app, out, b)) != NULL;
        if (good) {
            accounts_set_consent(app->acc, u, json_is_true(json_object_get(b, "deny")));
            ok(out);
        }
        json_decref(b);
    } else if (strncmp(p, "/tokens/", 8) == 0 && post) {
        tokens(app, r, out, p + 8);
    } else if (strcmp(p, "/tokens") == 0 && get) {
        resp_json(out, 200);
        accounts_dump_tokens(app->acc, &out->body);
    } else {
        cerr(out, 404, "unknown control path");
    }
}

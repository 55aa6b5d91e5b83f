/* trending.c - trending tracks (see trending.h for the contract).
 *
 * Flow of an add: parse the reference -> make sure the catalog has the
 * track (GET /tracks/{id} when not, written with store_catalog_put) ->
 * fetch its audio features when the app may (extended quota) -> append it
 * (store_trending_add). No database connection is held while Spotify is
 * called (the token hooks need connections of their own).
 *
 * The mood is the quadrant of Russell's valence/arousal plane that the
 * track's valence and energy fall in (both 0..1, split at 0.5): happy
 * (pleasant, energetic), calm (pleasant, quiet), tense (unpleasant,
 * energetic), sad (unpleasant, quiet). A coarse label, but one a reader can
 * check against the two numbers shown next to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/export.h"
#include "services/restore_parse.h"
#include "services/stats.h"
#include "services/trending.h"
#include "spotify/spotify_parse.h"
#include "store/store_auth.h"
#include "store/store_library.h"
#include "store/store_stats.h"
#include "store/store_trending.h"

#define ID_MAX 64
#define FEATURES_BATCH 100
#define TRENDING_KIND "trending"
#define TRENDING_DESC "made by keeptrack: your trending tracks in their order"
#define NO_FEATURES_DEV                                                                       \
    "audio features need extended quota: this Spotify app is in development mode, where "    \
    "/audio-features answers 403"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

static size_t id_len(const char *s)
{
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
           (s[n] >= '0' && s[n] <= '9'))
        n++;
    return n;
}

kt_status trending_parse_ref(const char *ref, const char *field, char uri[96], kt_err *err)
{
    static const char *const hosts[] = {"https://open.spotify.com/", "http://open.spotify.com/"};
    const char *id = NULL, *end = NULL;
    if (ref && strlen(ref) <= TRENDING_REF_MAX) {
        if (strncmp(ref, "spotify:track:", 14) == 0) {
            id = ref + 14;
            end = id + id_len(id);
            if (*end != '\0')
                id = NULL;
        }
        for (size_t h = 0; !id && h < 2; h++) {
            size_t hl = strlen(hosts[h]);
            if (strncasecmp(ref, hosts[h], hl) != 0)
                continue;
            const char *p = ref + hl;
            if (strncmp(p, "intl-", 5) == 0 && strchr(p, '/')) /* /intl-de/track/... */
                p = strchr(p, '/') + 1;
            if (strncmp(p, "track/", 6) != 0)
                break;
            id = p + 6;
            end = id + id_len(id);
            if (*end != '\0' && *end != '?' && *end != '#' && !(*end == '/' && end[1] == '\0'))
                id = NULL;
        }
    }
    if (!id || end == id || (size_t)(end - id) > ID_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "%s: expected a Spotify track URI (spotify:track:ID) or URL "
                       "(https://open.spotify.com/track/ID)",
                       field);
    snprintf(uri, 96, "spotify:track:%.*s", (int)(end - id), id);
    return KT_OK;
}

int trending_source_valid(const char *source)
{
    static const char *const ok[] = {"library", "top", "movement", "uri", "csv"};
    for (size_t i = 0; source && i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(source, ok[i]) == 0)
            return 1;
    return 0;
}

/* ---- the catalog and audio features ---- */

/* Writes a track fetched from Spotify to the catalog. */
static kt_status catalog_put(kt_app *app, const spotify_track *t, kt_err *err)
{
    store *s = NULL;
    size_t na = t->n_artists, nb = t->album ? t->album->n_artists : 0;
    store_ref *refs = calloc(na + nb + 1, sizeof *refs);
    store_album_row album = {0};
    if (!refs)
        return nomem(err);
    for (size_t i = 0; i < na; i++)
        refs[i] = (store_ref){t->artists[i].id, t->artists[i].name};
    if (t->album) {
        for (size_t i = 0; i < nb; i++)
            refs[na + i] = (store_ref){t->album->artists[i].id, t->album->artists[i].name};
        album = (store_album_row){.id = t->album->id,
                                  .name = t->album->name,
                                  .album_type = t->album->album_type,
                                  .release_date = t->album->release_date,
                                  .release_date_precision = t->album->release_date_precision,
                                  .total_tracks = t->album->total_tracks,
                                  .image_url = t->album->image_url,
                                  .artists = refs + na,
                                  .n_artists = nb};
    }
    store_track_row row = {.uri = t->uri,
                           .id = t->id,
                           .kind = "track",
                           .name = t->name,
                           .duration_ms = t->duration_ms,
                           .explicit_ = t->explicit_,
                           .disc_number = t->disc_number,
                           .track_number = t->track_number,
                           .isrc = t->isrc,
                           .album = t->album && t->album->id ? &album : NULL,
                           .artists = refs,
                           .n_artists = na};
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_catalog_put(s, NULL, 0, NULL, 0, NULL, 0, &row, 1, time_now_ms(), err);
    app_db_put(app, s);
    free(refs);
    return st;
}

/* Makes sure the catalog holds track uri (id = its id part): fetched from
 * Spotify when it does not. *fetched (may be NULL) is set to 1 then. */
static kt_status ensure_track(kt_app *app, int64_t uid, const char *uri, const char *field,
                              int *fetched, kt_err *err)
{
    store *s = NULL;
    int known = 0;
    char path[96];
    json_t *body = NULL;
    spotify_track *t = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_trending_in_catalog(s, uri, &known, err);
    app_db_put(app, s);
    if (st != KT_OK || known)
        return st;
    snprintf(path, sizeof path, "/tracks/%s", uri + 14);
    st = spotify_get(app->spotify, uid, path, &body, err);
    if (st == KT_ERR_NOT_FOUND || (st == KT_ERR_INVALID && strcmp(err->code, "bad_request") == 0))
        st = err_set(err, KT_ERR_NOT_FOUND, "no_such_track", "%s: Spotify has no track %s",
                     field, uri);
    if (st != KT_OK)
        return st;
    if (spotify_parse_track(body, &t, NULL) != KT_OK || !t->uri || t->is_local ||
        t->type != SPOTIFY_ITEM_TRACK || strcmp(t->uri, uri) != 0)
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed",
                     "Spotify's answer for %s is not that track", uri);
    else
        st = catalog_put(app, t, err);
    spotify_track_free(t);
    json_decref(body);
    if (st == KT_OK && fetched)
        *fetched = 1;
    return st;
}

/* The app's Spotify mode, asking Spotify once per process when unknown
 * (SPOTIFY_MODE_UNKNOWN when that fails: nothing is claimed then). */
static spotify_mode app_mode(kt_app *app, int64_t uid)
{
    spotify_mode m = spotify_get_mode(app->spotify);
    if (m == SPOTIFY_MODE_UNKNOWN && spotify_detect_mode(app->spotify, uid, &m, NULL) != KT_OK)
        m = SPOTIFY_MODE_UNKNOWN;
    return m;
}

/* Fetches and stores the audio features of uris[0..n) (track URIs) when
 * the app may read them; a refusal (403) is remembered as the reason, not
 * an error, like the stats job does. */
static kt_status fetch_features(kt_app *app, int64_t uid, const char *const *uris, size_t n,
                                kt_err *err)
{
    kt_status st = KT_OK;
    if (n == 0 || app_mode(app, uid) != SPOTIFY_MODE_EXTENDED ||
        !spotify_endpoint_available(app->spotify, "GET /audio-features"))
        return KT_OK;
    for (size_t off = 0; st == KT_OK && off < n; off += FEATURES_BATCH) {
        size_t k = n - off < FEATURES_BATCH ? n - off : FEATURES_BATCH;
        char path[32 + FEATURES_BATCH * (ID_MAX + 1)];
        const char *ids[FEATURES_BATCH], *texts[FEATURES_BATCH];
        char *owned[FEATURES_BATCH] = {0};
        json_t *body = NULL;
        store *s = NULL;
        size_t at = (size_t)snprintf(path, sizeof path, "/audio-features?ids=");
        for (size_t i = 0; i < k; i++) {
            ids[i] = uris[off + i] + 14;
            at += (size_t)snprintf(path + at, sizeof path - at, "%s%s", i ? "," : "", ids[i]);
        }
        st = spotify_get(app->spotify, uid, path, &body, err);
        if (st == KT_ERR_FORBIDDEN) {
            kt_err e2 = {0};
            if (app_db_get(app, &s, &e2) == KT_OK)
                (void)store_app_state_set(s, STATS_FEATURES_STATE_KEY,
                                          "unavailable: Spotify refused /audio-features to this "
                                          "app (403)",
                                          time_now_ms(), &e2);
            app_db_put(app, s);
            return KT_OK;
        }
        const json_t *list = json_object_get(body, "audio_features");
        for (size_t i = 0; st == KT_OK && i < k; i++) {
            const json_t *f = json_array_get(list, i);
            texts[i] = "null"; /* none: not asked again */
            if (json_is_object(f) && json_str(f, "id") && strcmp(json_str(f, "id"), ids[i]) == 0) {
                if (!(owned[i] = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS)))
                    st = nomem(err);
                else
                    texts[i] = owned[i];
            }
        }
        if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK)
            st = store_stats_features_put(s, ids, texts, k, time_now_ms(), err);
        app_db_put(app, s);
        for (size_t i = 0; i < k; i++)
            free(owned[i]);
        json_decref(body);
    }
    return st;
}

/* Fetches the details (genres, image) of the first artist of each track
 * whose artist the catalog knows only by name, when the app has extended
 * quota: development mode no longer returns genres, so there the request
 * would buy nothing. An artist Spotify does not have is stored with no
 * genres, so it is not asked again. */
static kt_status fetch_genres(kt_app *app, int64_t uid, const char *const *uris, size_t n,
                              kt_err *err)
{
    kt_status st = KT_OK;
    if (n == 0 || app_mode(app, uid) != SPOTIFY_MODE_EXTENDED)
        return KT_OK;
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        store *s = NULL;
        char *id = NULL, *genres = NULL, path[96];
        json_t *body = NULL;
        if ((st = app_db_get(app, &s, err)) == KT_OK)
            st = store_trending_artist_due(s, uris[i], &id, err);
        app_db_put(app, s);
        s = NULL;
        if (st != KT_OK || !id)
            goto next;
        snprintf(path, sizeof path, "/artists/%.64s", id);
        st = spotify_get(app->spotify, uid, path, &body, err);
        if (st == KT_ERR_NOT_FOUND)
            st = KT_OK; /* body NULL: no genres */
        if (st == KT_OK) {
            const json_t *g = json_object_get(body, "genres");
            json_t *none = json_array();
            genres = json_dumps(json_is_array(g) ? g : none, JSON_COMPACT);
            json_decref(none);
            if (!genres)
                st = nomem(err);
        }
        /* Spotify lists images widest first. */
        const char *image = json_string_value(
            json_object_get(json_array_get(json_object_get(body, "images"), 0), "url"));
        if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK)
            st = store_stats_artist_put(s, id, genres, image, time_now_ms(), err);
        app_db_put(app, s);
    next:
        free(genres);
        free(id);
        json_decref(body);
    }
    return st;
}

/* ---- rows ---- */

static const char *mood_of(double valence, double energy)
{
    if (valence >= 0.5)
        return energy >= 0.5 ? "happy" : "calm";
    return energy >= 0.5 ? "tense" : "sad";
}

static json_t *text_or_null(const store_rows *r, size_t i, size_t c)
{
    const char *v = store_rows_text(r, i, c);
    return v ? json_string(v) : json_null();
}

/* The features a row shows, from the stored /audio-features object. */
static json_t *features_json(const char *text)
{
    static const char *const keys[] = {"C", "C#", "D", "D#", "E", "F",
                                       "F#", "G", "G#", "A", "A#", "B"};
    json_t *f = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(f)) {
        json_decref(f);
        return json_null();
    }
    double valence = json_dbl(f, "valence", 0), energy = json_dbl(f, "energy", 0);
    int64_t key = json_int(f, "key", -1), mode = json_int(f, "mode", -1);
    char key_name[16] = "";
    if (key >= 0 && key < 12)
        snprintf(key_name, sizeof key_name, "%s %s", keys[key], mode == 1 ? "major" : "minor");
    json_t *out = json_pack("{s:f,s:I,s:o,s:I,s:f,s:f,s:s}", "energy", energy, "key",
                            (json_int_t)key, "key_name",
                            key_name[0] ? json_string(key_name) : json_null(), "mode",
                            (json_int_t)mode, "valence", valence, "tempo",
                            json_dbl(f, "tempo", 0), "mood", mood_of(valence, energy));
    json_decref(f);
    return out ? out : json_null();
}

/* Row i of store_trending_list as the API shows it. */
static json_t *row_json(const store_rows *r, size_t i)
{
    const char *date = store_rows_text(r, i, 5), *artist = store_rows_text(r, i, 6);
    const char *genres = store_rows_text(r, i, 8);
    json_t *g = genres ? json_loads(genres, 0, NULL) : NULL;
    char added[32];
    long year = date && strlen(date) >= 4 ? strtol(date, NULL, 10) : 0;
    if (g && !json_is_array(g)) {
        json_decref(g);
        g = NULL;
    }
    time_format_iso8601(store_rows_int(r, i, 11), added);
    return json_pack(
        "{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o}", "position",
        (json_int_t)store_rows_int(r, i, 0), "uri", text_or_null(r, i, 1), "id",
        text_or_null(r, i, 2), "name", text_or_null(r, i, 3), "artist", text_or_null(r, i, 7),
        "artist_uri", artist ? json_sprintf("spotify:artist:%s", artist) : json_null(), "album",
        text_or_null(r, i, 4), "release_year", year > 0 ? json_integer(year) : json_null(),
        "genres", g ? g : json_null(), "source", text_or_null(r, i, 10), "added_at", added,
        "audio_features", features_json(store_rows_text(r, i, 9)));
}

/* {available, reason?}: whether rows can show audio features, and why not. */
static json_t *features_status(kt_app *app, int64_t uid)
{
    store *s = NULL;
    char *state = NULL;
    kt_err ignored = {0};
    json_t *out = NULL;
    spotify_mode m = app_mode(app, uid);
    if (m == SPOTIFY_MODE_DEVELOPMENT)
        return json_pack("{s:b,s:s}", "available", 0, "reason", NO_FEATURES_DEV);
    if (m == SPOTIFY_MODE_UNKNOWN)
        return json_pack("{s:b,s:s}", "available", 0, "reason",
                         "Spotify could not be asked whether this app may read audio features");
    if (app_db_get(app, &s, &ignored) == KT_OK &&
        store_app_state_get(s, STATS_FEATURES_STATE_KEY, &state, &ignored) == KT_OK &&
        strncmp(state, "unavailable: ", 13) == 0)
        out = json_pack("{s:b,s:s}", "available", 0, "reason", state + 13);
    else
        out = json_pack("{s:b}", "available", 1);
    app_db_put(app, s);
    free(state);
    return out;
}

static kt_status read_rows(kt_app *app, int64_t uid, store_rows **out, kt_err *err)
{
    store *s = NULL;
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_trending_list(s, uid, out, err);
    app_db_put(app, s);
    return st;
}

kt_status trending_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    store_rows *r = NULL;
    json_t *tracks = NULL, *res = NULL;
    kt_status st = read_rows(app, user_id, &r, err);
    if (st != KT_OK)
        return st;
    if ((tracks = json_array()) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < store_rows_count(r); i++) {
        json_t *row = row_json(r, i);
        if (!row || json_array_append_new(tracks, row) != 0) {
            st = nomem(err);
            goto out;
        }
    }
    res = json_pack("{s:O,s:I,s:o}", "tracks", tracks, "total",
                    (json_int_t)store_rows_count(r), "audio_features",
                    features_status(app, user_id));
    if (!res) {
        st = nomem(err);
        goto out;
    }
    *out = res;
out:
    json_decref(tracks);
    store_rows_free(r);
    return st;
}

kt_status trending_add(kt_app *app, int64_t user_id, const char *ref, const char *source,
                       json_t **out, kt_err *err)
{
    char uri[96];
    const char *one[1] = {uri};
    store *s = NULL;
    store_rows *r = NULL;
    int added = 0;
    kt_status st = trending_parse_ref(ref, "track", uri, err);
    if (st != KT_OK)
        return st;
    if (!trending_source_valid(source) || strcmp(source, "csv") == 0)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "source: expected \"library\", \"top\", \"movement\" or \"uri\"");
    if ((st = ensure_track(app, user_id, uri, "track", NULL, err)) != KT_OK)
        return st;
    if ((st = app_db_get(app, &s, err)) == KT_OK)
        st = store_trending_add(s, user_id, uri, source, time_now_ms(), &added, err);
    app_db_put(app, s);
    /* Features are fetched once per track (a stored row, even 'null', is
     * never asked again), so only a newly listed track can need them. */
    if (st == KT_OK && added)
        st = fetch_features(app, user_id, one, 1, err);
    if (st == KT_OK && added)
        st = fetch_genres(app, user_id, one, 1, err);
    if (st == KT_OK)
        st = read_rows(app, user_id, &r, err);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        if (strcmp(store_rows_text(r, i, 1), uri) != 0)
            continue;
        *out = json_pack("{s:b,s:o}", "added", added, "track", row_json(r, i));
        if (!*out)
            st = nomem(err);
        break;
    }
    store_rows_free(r);
    if (st == KT_OK && added)
        LOG_INFO("trending_added", "user=%lld source=%s", (long long)user_id, source);
    return st;
}

kt_status trending_remove(kt_app *app, int64_t user_id, const char *ref, kt_err *err)
{
    char uri[96];
    store *s = NULL;
    kt_status st = trending_parse_ref(ref, "track", uri, err);
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK)
        st = store_trending_remove(s, user_id, uri, err);
    app_db_put(app, s);
    return st;
}

kt_status trending_reorder(kt_app *app, int64_t user_id, const json_t *uris, kt_err *err)
{
    store *s = NULL;
    size_t n = json_array_size(uris);
    const char **list = NULL;
    kt_status st = KT_OK;
    if (!json_is_array(uris) || n > STORE_TRENDING_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "uris: expected an array of the listed track URIs (at most %d)",
                       STORE_TRENDING_MAX);
    if ((list = calloc(n + 1, sizeof *list)) == NULL)
        return nomem(err);
    for (size_t i = 0; st == KT_OK && i < n; i++)
        if ((list[i] = json_string_value(json_array_get(uris, i))) == NULL)
            st = err_set(err, KT_ERR_INVALID, "bad_parameter", "uris[%zu]: expected a string",
                         i);
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK)
        st = store_trending_reorder(s, user_id, list, n, err);
    app_db_put(app, s);
    free(list);
    return st;
}

/* ---- CSV ---- */

static kt_status csv_cell(buf *b, const char *text, int first)
{
    kt_status st = first ? KT_OK : buf_puts(b, ",");
    return st == KT_OK ? export_csv_field(b, text) : st;
}

/* One CSV row of a list row (row_json's object). */
static kt_status csv_track(buf *b, const json_t *t)
{
    char pos[24], year[16], energy[32] = "", valence[32] = "", tempo[32] = "";
    char genres[1024] = "";
    const json_t *f = json_object_get(t, "audio_features"), *g = json_object_get(t, "genres");
    size_t at = 0, i;
    const json_t *v;
    snprintf(pos, sizeof pos, "%lld", (long long)json_int(t, "position", 0) + 1);
    year[0] = '\0';
    if (json_is_integer(json_object_get(t, "release_year")))
        snprintf(year, sizeof year, "%lld", (long long)json_int(t, "release_year", 0));
    json_array_foreach(g, i, v) {
        if (json_is_string(v) && at < sizeof genres)
            at += (size_t)snprintf(genres + at, sizeof genres - at, "%s%s", i ? "; " : "",
                                   json_string_value(v));
    }
    if (json_is_object(f)) {
        snprintf(energy, sizeof energy, "%g", json_dbl(f, "energy", 0));
        snprintf(valence, sizeof valence, "%g", json_dbl(f, "valence", 0));
        snprintf(tempo, sizeof tempo, "%g", json_dbl(f, "tempo", 0));
    }
    const char *cells[] = {pos,
                           json_str(t, "artist"),
                           json_str(t, "name"),
                           json_str(t, "album"),
                           year,
                           json_str(t, "uri"),
                           json_str(t, "artist_uri"),
                           genres,
                           energy,
                           json_is_object(f) ? json_str(f, "key_name") : NULL,
                           valence,
                           tempo,
                           json_is_object(f) ? json_str(f, "mood") : NULL};
    kt_status st = KT_OK;
    for (i = 0; st == KT_OK && i < sizeof cells / sizeof cells[0]; i++)
        st = csv_cell(b, cells[i], i == 0);
    return st == KT_OK ? buf_puts(b, "\r\n") : st;
}

kt_status trending_export_csv(kt_app *app, int64_t user_id, buf *out, kt_err *err)
{
    json_t *list = NULL, *t;
    size_t i;
    kt_status st = trending_list(app, user_id, &list, err);
    if (st != KT_OK)
        return st;
    st = buf_puts(out, "Position,Artist Name(s),Track Name,Album Name,Release Year,Track URI,"
                       "Artist URI,Genres,Energy,Key,Valence,Tempo,Mood\r\n");
    json_array_foreach(json_object_get(list, "tracks"), i, t) {
        if (st == KT_OK)
            st = csv_track(out, t);
    }
    if (st != KT_OK && st != KT_ERR_NOMEM)
        st = err_set(err, st, NULL, "the CSV is too large");
    else if (st == KT_ERR_NOMEM)
        st = nomem(err);
    json_decref(list);
    return st;
}

/* Checks the rows of a parsed CSV (in's one playlist): track URIs, no
 * repeats, within the limit. */
static kt_status check_rows(const restore_playlist *pl, kt_err *err)
{
    char uri[96];
    if (pl->n > STORE_TRENDING_MAX)
        return err_set(err, KT_ERR_INVALID, "bad_csv",
                       "trending.csv: %zu rows, but the list keeps at most %d tracks", pl->n,
                       STORE_TRENDING_MAX);
    for (size_t i = 0; i < pl->n; i++) {
        char field[48];
        /* Rows are counted from the first after the header (blank lines
         * are skipped by the parser). */
        snprintf(field, sizeof field, "trending.csv row %zu", i + 1);
        if (!pl->items[i].uri)
            return err_set(err, KT_ERR_INVALID, "bad_csv", "%s: the Track URI is empty", field);
        if (trending_parse_ref(pl->items[i].uri, field, uri, err) != KT_OK ||
            strcmp(uri, pl->items[i].uri) != 0)
            return err_set(err, KT_ERR_INVALID, "bad_csv",
                           "%s: '%.100s' is not a Spotify track URI (spotify:track:ID)", field,
                           pl->items[i].uri);
        for (size_t j = 0; j < i; j++)
            if (strcmp(pl->items[j].uri, pl->items[i].uri) == 0)
                return err_set(err, KT_ERR_INVALID, "bad_csv", "%s: %s repeats row %zu", field,
                               pl->items[i].uri, j + 1);
    }
    return KT_OK;
}

kt_status trending_import_csv(kt_app *app, int64_t user_id, const char *data, size_t len,
                              json_t **out, kt_err *err)
{
    restore_input *in = restore_input_new();
    const char **uris = NULL;
    store *s = NULL;
    int64_t fetched = 0;
    kt_status st = in ? KT_OK : nomem(err);
    if (st == KT_OK)
        st = restore_parse_csv("trending.csv", data, len, in, err);
    if (st == KT_OK && (in->n_playlists != 1 || in->has_liked))
        st = err_set(err, KT_ERR_INVALID, "bad_csv", "trending.csv: expected one list of tracks");
    if (st != KT_OK)
        goto out;
    const restore_playlist *pl = &in->playlists[0];
    if ((st = check_rows(pl, err)) != KT_OK)
        goto out;
    if ((uris = calloc(pl->n + 1, sizeof *uris)) == NULL) {
        st = nomem(err);
        goto out;
    }
    /* Every track must be in the catalog before the one transaction that
     * replaces the list; fetching writes only the shared catalog. */
    for (size_t i = 0; i < pl->n; i++) {
        char field[48];
        int got = 0;
        uris[i] = pl->items[i].uri;
        snprintf(field, sizeof field, "trending.csv row %zu", i + 1);
        if ((st = ensure_track(app, user_id, uris[i], field, &got, err)) != KT_OK) {
            if (st == KT_ERR_NOT_FOUND) { /* the upload is what is wrong: 400 */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                st = err_set(err, KT_ERR_INVALID, "bad_csv", "%s", msg);
            }
            goto out;
        }
        fetched += got;
    }
    if ((st = app_db_get(app, &s, err)) == KT_OK)
        st = store_trending_replace(s, user_id, uris, pl->n, "csv", time_now_ms(), err);
    app_db_put(app, s);
    if (st == KT_OK)
        st = fetch_features(app, user_id, uris, pl->n, err);
    if (st == KT_OK)
        st = fetch_genres(app, user_id, uris, pl->n, err);
    if (st == KT_OK &&
        (*out = json_pack("{s:I,s:I}", "imported", (json_int_t)pl->n, "fetched",
                          (json_int_t)fetched)) == NULL)
        st = nomem(err);
    if (st == KT_OK)
        LOG_INFO("trending_imported", "user=%lld tracks=%zu fetched=%lld", (long long)user_id,
                 pl->n, (long long)fetched);
out:
    free(uris);
    restore_input_free(in);
    return st;
}

/* ---- the playlist ---- */

kt_status trending_playlist(kt_app *app, int64_t user_id, const char *name,
                            shuffle_progress_fn progress, void *progress_ctx,
                            shuffle_result *out, kt_err *err)
{
    store_rows *r = NULL;
    const char **uris = NULL;
    kt_status st = read_rows(app, user_id, &r, err);
    if (st != KT_OK)
        return st;
    size_t n = store_rows_count(r);
    if (n == 0) {
        st = err_set(err, KT_ERR_INVALID, "empty_list",
                     "the trending list is empty: add tracks first");
        goto out;
    }
    if ((uris = calloc(n, sizeof *uris)) == NULL) {
        st = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        uris[i] = store_rows_text(r, i, 1);
    shuffle_list_spec spec = {TRENDING_KIND, TRENDING_KIND,
                              name ? name : TRENDING_PLAYLIST_NAME, TRENDING_DESC, uris, n};
    st = shuffle_write_list(app, user_id, &spec, progress, progress_ctx, out, err);
    if (st == KT_OK)
        LOG_INFO("trending_playlist", "user=%lld playlist=%s tracks=%zu replaced=%d",
                 (long long)user_id, out->playlist_id, n, out->replaced);
out:
    free(uris);
    store_rows_free(r);
    return st;
}

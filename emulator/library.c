/* library.c - deterministic generation of synthetic Spotify libraries and the
 * mutations tests and Web API calls apply to them. See library.h for the model
 * and the locking rules.
 *
 * Generation plan for one user (all draws from one PRNG seeded by the global
 * seed, the user id and the user's own seed, so adding users never changes the
 * libraries of users created before them):
 *   artists (with albums and tracks, some albums released in the last two
 *   weeks) -> liked songs (distinct tracks, newest first) -> shows/episodes ->
 *   owned playlists (tracks, local files, null entries, episodes) -> playlists
 *   of other owners (some collaborative) -> saved albums/shows/episodes ->
 *   followed artists -> top tracks/artists per time range -> plays.
 */
#include "library.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define DAY 86400
#define YEAR (365 * DAY)

const char *const library_genres[] = {
    "indie rock", "synthpop", "jazz", "hip hop", "techno", "folk", "metal", "bossa nova",
    "k-pop", "ambient", "soul", "classical", "reggaeton", "drum and bass", "chanson", "afrobeat",
};
#define NGENRES (sizeof(library_genres) / sizeof(library_genres[0]))

const char *const library_labels[] = {
    "Loopback Records", "Seeded Sound", "Null Pointer Music", "Base62 Recordings",
    "Snapshot Tapes", "Cursor & Offset", "Deterministic Audio", "Rate Limit Ltd.",
};
#define NLABELS (sizeof(library_labels) / sizeof(library_labels[0]))

static const char *const ADJ[] = {
    "Silent", "Electric", "Golden", "Broken", "Midnight", "Velvet", "Crimson", "Hollow",
    "Neon", "Paper", "Wild", "Frozen", "Distant", "Burning", "Gentle", "Restless",
    "Secret", "Endless", "Lonely", "Bright", "Hidden", "Lucky", "Quiet", "Solar",
};
static const char *const NOUN[] = {
    "Harbor", "Signal", "Garden", "River", "Machine", "Echo", "Mirror", "Highway",
    "Orchard", "Lantern", "Static", "Horizon", "Cathedral", "Satellite", "Compass", "Tide",
    "Parade", "Window", "Summer", "Engine", "Desert", "Letter", "Ocean", "Thunder",
};
static const char *const FIRST[] = {
    "Ada", "Miles", "Nina", "Otis", "Lena", "Kofi", "Yara", "Theo", "Ines", "Ravi", "Mara", "Jonas",
};
static const char *const LAST[] = {
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Brennan", "Kowalski", "Reyes",
};
/* Names with non-ASCII text, to exercise UTF-8 handling end to end. */
static const char *const UNICODE_NAMES[] = {
    "Sigur Rós", "Björk Guðmundsdóttir", "坂本龍一", "Мумий Тролль", "Beyoncé", "Mötley Crüe",
    "Ελένη Καραΐνδρου", "שלמה ארצי", "Zé Ramalho", "🎧 Lo-fi Beats ✨", "Amadou & Mariam", "Ñu \"Quoted\" \\ Back",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *gen_words(rng *r)
{
    char buf[128];
    uint32_t pick = rng_below(r, 100);
    if (pick < 3)
        snprintf(buf, sizeof(buf), "%s", UNICODE_NAMES[rng_below(r, N(UNICODE_NAMES))]);
    else if (pick < 60)
        snprintf(buf, sizeof(buf), "%s %s", ADJ[rng_below(r, N(ADJ))], NOUN[rng_below(r, N(NOUN))]);
    else if (pick < 85)
        snprintf(buf, sizeof(buf), "The %s %s %u", ADJ[rng_below(r, N(ADJ))], NOUN[rng_below(r, N(NOUN))], rng_below(r, 1000));
    else
        snprintf(buf, sizeof(buf), "%s (%s Mix)", NOUN[rng_below(r, N(NOUN))], ADJ[rng_below(r, N(ADJ))]);
    return xstrdup(buf);
}

/* A title; about 1 in 200 is very long (over 300 bytes) on purpose. */
static char *gen_title(rng *r)
{
    if (rng_below(r, 200) == 0) {
        jw w;
        jw_init(&w);
        while (w.len < 320) {
            jw_rawz(&w, ADJ[rng_below(r, N(ADJ))]);
            jw_rawz(&w, " ");
            jw_rawz(&w, NOUN[rng_below(r, N(NOUN))]);
            jw_rawz(&w, " ");
        }
        jw_rawz(&w, "(Extended Deluxe Remastered Anniversary Edition)");
        return jw_detach(&w, NULL);
    }
    return gen_words(r);
}

static char *gen_person(rng *r)
{
    char buf[96];
    uint32_t pick = rng_below(r, 100);
    if (pick < 4)
        return xstrdup(UNICODE_NAMES[rng_below(r, N(UNICODE_NAMES))]);
    if (pick < 50)
        snprintf(buf, sizeof(buf), "%s %s", FIRST[rng_below(r, N(FIRST))], LAST[rng_below(r, N(LAST))]);
    else if (pick < 80)
        snprintf(buf, sizeof(buf), "The %s %ss", ADJ[rng_below(r, N(ADJ))], NOUN[rng_below(r, N(NOUN))]);
    else
        snprintf(buf, sizeof(buf), "%s %s", NOUN[rng_below(r, N(NOUN))], NOUN[rng_below(r, N(NOUN))]);
    return xstrdup(buf);
}

static void fresh_id(rng *r, emmap *map, char out[23])
{
    uint32_t dummy;
    do make_id(r, out); while (emmap_get(map, out, &dummy));
}

em_library *library_new(uint64_t seed, int64_t day0)
{
    em_library *lib = xcalloc(1, sizeof(*lib));
    if (pthread_rwlock_init(&lib->lock, NULL) != 0) {
        fputs("spotify-emulator: rwlock init failed\n", stderr);
        abort();
    }
    lib->seed = seed;
    if (day0 < 0) {
        int64_t now = (int64_t)time(NULL);
        day0 = now - now % DAY;
    }
    lib->day0 = day0;
    rng_seed(&lib->mut_rng, mix64(seed ^ 0x6d75746174696f6eULL));
    em_owner spotify = {xstrdup("spotify"), xstrdup("Spotify")};
    VEC_PUSH(&lib->owners, spotify);
    return lib;
}

void library_free(em_library *lib)
{
    if (!lib) return;
    for (size_t i = 0; i < lib->artists.n; i++) {
        free(lib->artists.v[i].name);
        free(lib->artists.v[i].albums.v);
        free(lib->artists.v[i].appears_on.v);
    }
    for (size_t i = 0; i < lib->albums.n; i++) free(lib->albums.v[i].name);
    for (size_t i = 0; i < lib->tracks.n; i++) free(lib->tracks.v[i].name);
    for (size_t i = 0; i < lib->locals.n; i++) {
        free(lib->locals.v[i].name);
        free(lib->locals.v[i].artist);
        free(lib->locals.v[i].album);
    }
    for (size_t i = 0; i < lib->shows.n; i++) {
        free(lib->shows.v[i].name);
        free(lib->shows.v[i].publisher);
    }
    for (size_t i = 0; i < lib->episodes.n; i++) free(lib->episodes.v[i].name);
    for (size_t i = 0; i < lib->playlists.n; i++) {
        free(lib->playlists.v[i].name);
        free(lib->playlists.v[i].description);
        free(lib->playlists.v[i].items.v);
        free(lib->playlists.v[i].cover);
    }
    for (size_t i = 0; i < lib->owners.n; i++) {
        free(lib->owners.v[i].id);
        free(lib->owners.v[i].display_name);
    }
    for (size_t i = 0; i < lib->users.n; i++) {
        em_user *u = lib->users.v[i];
        free(u->id);
        free(u->display_name);
        free(u->email);
        free(u->liked.v);
        free(u->playlists.v);
        free(u->albums.v);
        free(u->shows.v);
        free(u->episodes.v);
        free(u->followed.v);
        for (int t = 0; t < TR_COUNT; t++) {
            free(u->top_tracks[t].v);
            free(u->top_artists[t].v);
        }
        free(u->plays.v);
        free(u);
    }
    free(lib->artists.v);
    free(lib->albums.v);
    free(lib->tracks.v);
    free(lib->locals.v);
    free(lib->shows.v);
    free(lib->episodes.v);
    free(lib->playlists.v);
    free(lib->owners.v);
    free(lib->users.v);
    emmap_free(&lib->artist_ids);
    emmap_free(&lib->album_ids);
    emmap_free(&lib->track_ids);
    emmap_free(&lib->show_ids);
    emmap_free(&lib->episode_ids);
    emmap_free(&lib->playlist_ids);
    emmap_free(&lib->user_ids);
    pthread_rwlock_destroy(&lib->lock);
    free(lib);
}

/* ---- user specs ---- */

void library_spec_defaults(em_user_spec *spec, const char *id)
{
    memset(spec, 0, sizeof(*spec));
    snprintf(spec->id, sizeof(spec->id), "%s", id ? id : "");
    spec->liked = 300;
    spec->playlists = 12;
    spec->items_min = 0;
    spec->items_max = 120;
    spec->followed_playlists = 4;
    spec->albums = 20;
    spec->shows = 5;
    spec->episodes = 10;
    spec->followed = 40;
    spec->plays = 120;
    spec->big_playlists = 0;
    spec->big_playlist_items = EM_PLAYLIST_MAX_ITEMS;
    spec->seed = 0;
}

bool library_spec_set(em_user_spec *spec, const char *key, const char *val, char *err, size_t errsz)
{
    long v = 0;
    static const struct { const char *key; size_t off; long max; } keys[] = {
        {"liked", offsetof(em_user_spec, liked), 100000},
        {"playlists", offsetof(em_user_spec, playlists), 11000},
        {"followed_playlists", offsetof(em_user_spec, followed_playlists), 11000},
        {"albums", offsetof(em_user_spec, albums), 20000},
        {"shows", offsetof(em_user_spec, shows), 5000},
        {"episodes", offsetof(em_user_spec, episodes), 20000},
        {"followed", offsetof(em_user_spec, followed), 20000},
        {"plays", offsetof(em_user_spec, plays), 100000},
        {"play_days", offsetof(em_user_spec, play_days), 3650},
        {"big_playlists", offsetof(em_user_spec, big_playlists), 11000},
        {"big_playlist_items", offsetof(em_user_spec, big_playlist_items), EM_PLAYLIST_MAX_ITEMS},
    };
    if (strcmp(key, "playlist_items") == 0) {
        const char *dash = strchr(val, '-');
        long lo, hi;
        if (dash) {
            char a[24];
            size_t n = (size_t)(dash - val);
            if (n == 0 || n >= sizeof(a)) goto bad;
            memcpy(a, val, n);
            a[n] = '\0';
            if (!parse_long(a, 0, EM_PLAYLIST_MAX_ITEMS, &lo) ||
                !parse_long(dash + 1, 0, EM_PLAYLIST_MAX_ITEMS, &hi) || lo > hi) goto bad;
        } else {
            if (!parse_long(val, 0, EM_PLAYLIST_MAX_ITEMS, &lo)) goto bad;
            hi = lo;
        }
        spec->items_min = lo;
        spec->items_max = hi;
        return true;
    }
    if (strcmp(key, "seed") == 0) {
        char *end = NULL;
        unsigned long long s = strtoull(val, &end, 10);
        if (!*val || *end) goto bad;
        spec->seed = s;
        return true;
    }
    for (size_t i = 0; i < N(keys); i++) {
        if (strcmp(key, keys[i].key) != 0) continue;
        if (!parse_long(val, 0, keys[i].max, &v)) {
            snprintf(err, errsz, "%s must be an integer in 0..%ld", key, keys[i].max);
            return false;
        }
        *(long *)((char *)spec + keys[i].off) = v;
        return true;
    }
    snprintf(err, errsz, "unknown user key '%.40s'", key);
    return false;
bad:
    snprintf(err, errsz, "bad value for %.40s", key);
    return false;
}

static bool valid_user_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) return false;
    }
    return true;
}

bool library_spec_parse(const char *text, em_user_spec *spec, char *err, size_t errsz)
{
    const char *colon = strchr(text, ':');
    size_t idlen = colon ? (size_t)(colon - text) : strlen(text);
    char id[65];
    if (idlen == 0 || idlen >= sizeof(id)) {
        snprintf(err, errsz, "user id must be 1..64 characters");
        return false;
    }
    memcpy(id, text, idlen);
    id[idlen] = '\0';
    if (!valid_user_id(id)) {
        snprintf(err, errsz, "user id may only hold letters, digits, '_', '-', '.'");
        return false;
    }
    library_spec_defaults(spec, id);
    if (!colon) return true;
    char *rest = xstrdup(colon + 1), *save = NULL;
    bool ok = true;
    for (char *kv = strtok_r(rest, ",", &save); kv && ok; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errsz, "expected key=value, got '%.40s'", kv);
            ok = false;
            break;
        }
        *eq = '\0';
        ok = library_spec_set(spec, kv, eq + 1, err, errsz);
    }
    free(rest);
    return ok;
}

/* ---- catalog generation ---- */

static int64_t random_release(rng *r, int64_t day0, uint8_t *prec, char date[11])
{
    int64_t t = day0 - 20 * DAY - (int64_t)rng_below(r, 55u * 365u) * DAY;
    uint32_t p = rng_below(r, 100);
    char full[11];
    fmt_date(t, full, sizeof(full));
    if (p < 8) {
        *prec = PREC_YEAR;
        memcpy(date, full, 4);
        date[4] = '\0';
    } else if (p < 13) {
        *prec = PREC_MONTH;
        memcpy(date, full, 7);
        date[7] = '\0';
    } else {
        *prec = PREC_DAY;
        memcpy(date, full, 11);
    }
    return t;
}

static void make_isrc(rng *r, char out[13], int year)
{
    static const char cc[][3] = {"US", "GB", "SE", "DE", "FR", "JP", "BR"};
    snprintf(out, 13, "%s%c%c%c%02d%05u", cc[rng_below(r, 7)], 'A' + rng_below(r, 26),
             'A' + rng_below(r, 26), 'A' + rng_below(r, 26), year % 100, rng_below(r, 100000));
}

/* Appends an album (and its tracks) for artist a. released < 0: random date. */
static uint32_t gen_album(em_library *lib, rng *r, uint32_t a, int type, int64_t released,
                          uint32_t ntracks, const char *name)
{
    em_album al;
    memset(&al, 0, sizeof(al));
    fresh_id(r, &lib->album_ids, al.id);
    al.type = (uint8_t)type;
    if (released < 0) {
        al.released = random_release(r, lib->day0, &al.prec, al.date);
    } else {
        al.released = released;
        al.prec = PREC_DAY;
        fmt_date(released, al.date, sizeof(al.date));
    }
    al.name = name ? xstrdup(name) : gen_title(r);
    al.popularity = (uint8_t)rng_below(r, 101);
    al.label = (uint8_t)rng_below(r, NLABELS);
    al.artists[0] = a;
    al.artists[1] = NONE;
    /* A second artist from the same user's artists only, so a user's library
     * never depends on the users generated before it. */
    if (type != ALBUM_SINGLE && lib->gen_artist1 > lib->gen_artist0 + 1 && rng_below(r, 10) == 0) {
        uint32_t b = lib->gen_artist0 + rng_below(r, lib->gen_artist1 - lib->gen_artist0);
        if (b != a) al.artists[1] = b;
    }
    snprintf(al.upc, sizeof(al.upc), "%012llu", (unsigned long long)(rng_next(r) % 1000000000000ULL));
    al.first_track = (uint32_t)lib->tracks.n;
    al.ntracks = ntracks;
    int year = atoi(al.date);
    uint32_t idx = (uint32_t)lib->albums.n;
    for (uint32_t i = 0; i < ntracks; i++) {
        em_track t;
        memset(&t, 0, sizeof(t));
        fresh_id(r, &lib->track_ids, t.id);
        t.name = (i == 0 && type == ALBUM_SINGLE) ? xstrdup(al.name) : gen_title(r);
        t.album = idx;
        t.artists[0] = a;
        t.artists[1] = (rng_below(r, 8) == 0 && al.artists[1] != NONE) ? al.artists[1] : NONE;
        t.duration_ms = rng_range(r, 95000, 420000);
        t.disc = (uint8_t)(ntracks > 12 && i >= ntracks / 2 ? 2 : 1);
        t.number = (uint8_t)(t.disc == 2 ? i - ntracks / 2 + 1 : i + 1);
        t.popularity = (uint8_t)rng_below(r, 101);
        t.explicit_ = rng_below(r, 7) == 0;
        make_isrc(r, t.isrc, year);
        VEC_PUSH(&lib->tracks, t);
        emmap_put(&lib->track_ids, lib->tracks.v[lib->tracks.n - 1].id, (uint32_t)lib->tracks.n - 1);
    }
    VEC_PUSH(&lib->albums, al);
    emmap_put(&lib->album_ids, lib->albums.v[idx].id, idx);
    VEC_PUSH(&lib->artists.v[a].albums, idx);
    if (al.artists[1] != NONE) VEC_PUSH(&lib->artists.v[al.artists[1]].appears_on, idx);
    return idx;
}

static uint32_t random_album_tracks(rng *r, int *type)
{
    uint32_t p = rng_below(r, 100);
    if (p < 55) { *type = ALBUM_ALBUM; return rng_range(r, 6, 14); }
    if (p < 92) { *type = ALBUM_SINGLE; return rng_range(r, 1, 3); }
    *type = ALBUM_COMPILATION;
    return rng_range(r, 10, 22);
}

static uint32_t gen_artist(em_library *lib, rng *r)
{
    em_artist ar;
    memset(&ar, 0, sizeof(ar));
    fresh_id(r, &lib->artist_ids, ar.id);
    ar.name = gen_person(r);
    ar.ngenres = (uint8_t)rng_below(r, 4);
    for (int i = 0; i < ar.ngenres; i++) ar.genres[i] = (uint8_t)rng_below(r, NGENRES);
    ar.popularity = (uint8_t)rng_below(r, 101);
    ar.followers = rng_below(r, 5000000);
    VEC_PUSH(&lib->artists, ar);
    uint32_t idx = (uint32_t)lib->artists.n - 1;
    emmap_put(&lib->artist_ids, lib->artists.v[idx].id, idx);
    return idx;
}

static uint32_t gen_show(em_library *lib, rng *r, uint32_t nepisodes)
{
    em_show s;
    memset(&s, 0, sizeof(s));
    fresh_id(r, &lib->show_ids, s.id);
    char buf[96];
    snprintf(buf, sizeof(buf), "The %s %s Podcast", ADJ[rng_below(r, N(ADJ))], NOUN[rng_below(r, N(NOUN))]);
    s.name = xstrdup(buf);
    s.publisher = gen_person(r);
    s.explicit_ = rng_below(r, 5) == 0;
    s.first_episode = (uint32_t)lib->episodes.n;
    s.nepisodes = nepisodes;
    uint32_t idx = (uint32_t)lib->shows.n;
    int64_t t = lib->day0 - (int64_t)rng_below(r, 30) * DAY;
    for (uint32_t i = 0; i < nepisodes; i++) {
        em_episode e;
        memset(&e, 0, sizeof(e));
        fresh_id(r, &lib->episode_ids, e.id);
        snprintf(buf, sizeof(buf), "Episode %u: %s %s", nepisodes - i, ADJ[rng_below(r, N(ADJ))],
                 NOUN[rng_below(r, N(NOUN))]);
        e.name = xstrdup(buf);
        e.show = idx;
        e.duration_ms = rng_range(r, 600000, 5400000);
        e.explicit_ = s.explicit_;
        fmt_date(t, e.date, sizeof(e.date));
        t -= (int64_t)rng_range(r, 3, 14) * DAY;
        VEC_PUSH(&lib->episodes, e);
        emmap_put(&lib->episode_ids, lib->episodes.v[lib->episodes.n - 1].id, (uint32_t)lib->episodes.n - 1);
    }
    VEC_PUSH(&lib->shows, s);
    emmap_put(&lib->show_ids, lib->shows.v[idx].id, idx);
    return idx;
}

static uint32_t add_owner(em_library *lib, const char *id, const char *name)
{
    em_owner o = {xstrdup(id), xstrdup(name)};
    VEC_PUSH(&lib->owners, o);
    return (uint32_t)lib->owners.n - 1;
}

static uint32_t new_playlist(em_library *lib, rng *r, uint32_t owner, char *name)
{
    em_playlist p;
    memset(&p, 0, sizeof(p));
    fresh_id(r, &lib->playlist_ids, p.id);
    p.name = name;
    p.description = xstrdup("");
    p.owner = owner;
    p.public_ = true;
    VEC_PUSH(&lib->playlists, p);
    uint32_t idx = (uint32_t)lib->playlists.n - 1;
    emmap_put(&lib->playlist_ids, lib->playlists.v[idx].id, idx);
    return idx;
}

static uint32_t gen_local(em_library *lib, rng *r)
{
    em_local l;
    l.name = gen_words(r);
    l.artist = gen_person(r);
    l.album = rng_below(r, 4) == 0 ? xstrdup("") : gen_words(r);
    l.duration_ms = rng_range(r, 60000, 400000);
    VEC_PUSH(&lib->locals, l);
    return (uint32_t)lib->locals.n - 1;
}

/* Fills playlist p with n items drawn from the user's pools. */
static void fill_playlist(em_library *lib, rng *r, uint32_t pi, uint32_t n, uint32_t tr0, uint32_t tr1,
                          uint32_t ep0, uint32_t ep1, const uint32_t *adders, size_t nadders)
{
    int64_t t = lib->day0 - 30 * DAY - (int64_t)rng_below(r, 6 * 365) * DAY;
    int64_t step = n ? (int64_t)(t - (lib->day0 - 30 * DAY)) / -(int64_t)n : 0;
    if (step < 60) step = 60;
    VEC_RESERVE(&lib->playlists.v[pi].items, n);
    for (uint32_t i = 0; i < n; i++) {
        em_item it;
        uint32_t pick = rng_below(r, 100);
        it.added_by = adders[nadders > 1 && rng_below(r, 3) == 0 ? rng_below(r, (uint32_t)nadders) : 0];
        it.added_at = t;
        t += (int64_t)rng_range(r, 30, (uint32_t)(step * 2 > 60 ? step * 2 : 60));
        if (pick < 3) {
            it.kind = ITEM_LOCAL;
            it.ref = gen_local(lib, r);
        } else if (pick < 5) {
            it.kind = ITEM_NULL;
            it.ref = NONE;
        } else if (pick < 8 && ep1 > ep0) {
            it.kind = ITEM_EPISODE;
            it.ref = rng_range(r, ep0, ep1 - 1);
        } else {
            it.kind = ITEM_TRACK;
            it.ref = rng_range(r, tr0, tr1 - 1);
        }
        VEC_PUSH(&lib->playlists.v[pi].items, it);
    }
}

static void shuffle_u32(rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static uint32_t spec_items(rng *r, const em_user_spec *s)
{
    return rng_range(r, (uint32_t)s->items_min, (uint32_t)s->items_max);
}

int library_add_user(em_library *lib, const em_user_spec *spec, char *err, size_t errsz)
{
    uint32_t dummy;
    if (!valid_user_id(spec->id)) {
        snprintf(err, errsz, "invalid user id");
        return -1;
    }
    if (emmap_get(&lib->user_ids, spec->id, &dummy)) {
        snprintf(err, errsz, "user '%s' exists", spec->id);
        return -1;
    }
    if (spec->big_playlists > spec->playlists) {
        snprintf(err, errsz, "big_playlists (%ld) must not exceed playlists (%ld)",
                 spec->big_playlists, spec->playlists);
        return -1;
    }
    rng r;
    rng_seed(&r, mix64(lib->seed) ^ hash_str(spec->id, spec->seed));
    em_user *u = xcalloc(1, sizeof(*u));
    u->id = xstrdup(spec->id);
    make_id(&r, u->account_id);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", spec->id);
    if (buf[0] >= 'a' && buf[0] <= 'z') buf[0] = (char)(buf[0] - 'a' + 'A');
    u->display_name = xstrdup(buf);
    snprintf(buf, sizeof(buf), "%s@example.test", spec->id);
    u->email = xstrdup(buf);
    u->owner = add_owner(lib, u->id, u->display_name);

    /* Artists, albums, tracks. */
    uint32_t want_tracks = (uint32_t)(spec->liked + spec->liked / 8);
    if (want_tracks < 200) want_tracks = 200;
    uint32_t nart = want_tracks / 25 + 5;
    if (nart < (uint32_t)spec->followed + 5) nart = (uint32_t)spec->followed + 5;
    uint32_t ar0 = (uint32_t)lib->artists.n, al0 = (uint32_t)lib->albums.n, tr0 = (uint32_t)lib->tracks.n;
    for (uint32_t i = 0; i < nart; i++) gen_artist(lib, &r);
    lib->gen_artist0 = ar0;
    lib->gen_artist1 = ar0 + nart;
    for (uint32_t i = 0; i < nart; i++) {
        uint32_t nal = rng_range(&r, 1, 3);
        for (uint32_t k = 0; k < nal; k++) {
            int type;
            uint32_t nt = random_album_tracks(&r, &type);
            gen_album(lib, &r, ar0 + i, type, -1, nt, NULL);
        }
    }
    while ((uint32_t)lib->tracks.n - tr0 < want_tracks) {
        int type;
        uint32_t nt = random_album_tracks(&r, &type);
        gen_album(lib, &r, ar0 + rng_below(&r, nart), type, -1, nt, NULL);
    }
    /* Recent releases (last two weeks): the first eighth of the artists, which
     * the user follows first below, plus a few random ones. */
    uint32_t nrecent = nart / 8 + 1;
    for (uint32_t i = 0; i < nart; i++) {
        if (i >= nrecent && rng_below(&r, 20) != 0) continue;
        int type = rng_below(&r, 3) == 0 ? ALBUM_ALBUM : ALBUM_SINGLE;
        int64_t when = lib->day0 - (int64_t)rng_below(&r, 14) * DAY;
        gen_album(lib, &r, ar0 + i, type, when, type == ALBUM_ALBUM ? rng_range(&r, 5, 10) : 1, NULL);
    }
    uint32_t tr1 = (uint32_t)lib->tracks.n, al1 = (uint32_t)lib->albums.n;
    lib->gen_artist0 = lib->gen_artist1 = 0;

    /* Liked songs: distinct tracks, newest first. */
    uint32_t npool = tr1 - tr0;
    uint32_t *pool = xmalloc(npool * sizeof(*pool));
    for (uint32_t i = 0; i < npool; i++) pool[i] = tr0 + i;
    uint32_t nliked = (uint32_t)spec->liked < npool ? (uint32_t)spec->liked : npool;
    int64_t t = lib->day0 - (int64_t)rng_below(&r, DAY);
    int64_t maxstep = nliked ? (8LL * YEAR) / nliked * 2 : DAY;
    if (maxstep < 120) maxstep = 120;
    VEC_RESERVE(&u->liked, nliked);
    for (uint32_t i = 0; i < nliked; i++) {
        uint32_t j = i + rng_below(&r, npool - i);
        uint32_t tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
        em_saved s = {pool[i], t};
        VEC_PUSH(&u->liked, s);
        t -= (int64_t)rng_range(&r, 60, (uint32_t)maxstep);
    }
    free(pool);

    /* Shows and episodes. */
    uint32_t ep0 = (uint32_t)lib->episodes.n, sh0 = (uint32_t)lib->shows.n;
    uint32_t nshows = (uint32_t)spec->shows + 2;
    for (uint32_t i = 0; i < nshows; i++) gen_show(lib, &r, rng_range(&r, 5, 30));
    while ((uint32_t)lib->episodes.n - ep0 < (uint32_t)spec->episodes) gen_show(lib, &r, 30), nshows++;
    uint32_t ep1 = (uint32_t)lib->episodes.n;

    /* Playlists: owned, then others' (some collaborative), then mixed. */
    uint32_t others[3];
    for (int i = 0; i < 3; i++) {
        char oid[80], *oname = gen_person(&r);
        snprintf(oid, sizeof(oid), "%s_friend%d_%u", spec->id, i, rng_below(&r, 10000));
        others[i] = add_owner(lib, oid, oname);
        free(oname);
    }
    uint32_t self_adders[1] = {u->owner};
    for (long i = 0; i < spec->playlists; i++) {
        uint32_t pi = new_playlist(lib, &r, u->owner, gen_title(&r));
        em_playlist *p = &lib->playlists.v[pi];
        p->public_ = rng_below(&r, 10) < 7;
        p->collaborative = !p->public_ && rng_below(&r, 6) == 0;
        p->followers = rng_below(&r, 50);
        if (rng_below(&r, 2)) {
            free(p->description);
            p->description = xstrdup("Made by the emulator <3 & friends");
        }
        uint32_t adders[2] = {u->owner, others[0]};
        bool collab = p->collaborative;
        /* Only the first big_playlists are big (their size takes no draw
         * from r), so without the key a library is the one it always was. */
        uint32_t nitems = i < spec->big_playlists ? (uint32_t)spec->big_playlist_items
                                                  : spec_items(&r, spec);
        fill_playlist(lib, &r, pi, nitems, tr0, tr1, ep0, ep1,
                      collab ? adders : self_adders, collab ? 2 : 1);
        VEC_PUSH(&u->playlists, pi);
    }
    for (long i = 0; i < spec->followed_playlists; i++) {
        uint32_t owner = i % 4 == 3 ? 0 : others[i % 3];   /* some owned by "spotify" */
        uint32_t pi = new_playlist(lib, &r, owner, gen_title(&r));
        em_playlist *p = &lib->playlists.v[pi];
        p->collaborative = owner != 0 && i % 3 == 1;
        p->public_ = !p->collaborative;
        p->followers = rng_below(&r, 1000000);
        uint32_t adders[2] = {owner, u->owner};
        fill_playlist(lib, &r, pi, spec_items(&r, spec), tr0, tr1, ep0, ep1, adders,
                      p->collaborative ? 2 : 1);
        VEC_PUSH(&u->playlists, pi);
    }
    shuffle_u32(&r, u->playlists.v, u->playlists.n);

    /* Saved albums, shows, episodes (newest first). */
    uint32_t nal = al1 - al0;
    for (long i = 0; i < spec->albums && (uint32_t)i < nal; i++) {
        em_saved s = {al0 + (uint32_t)((uint64_t)i * 7919u % nal), lib->day0 - (int64_t)i * DAY * 3 - rng_below(&r, DAY)};
        VEC_PUSH(&u->albums, s);
    }
    for (long i = 0; i < spec->shows; i++) {
        em_saved s = {sh0 + (uint32_t)i, lib->day0 - (int64_t)i * DAY * 5 - rng_below(&r, DAY)};
        VEC_PUSH(&u->shows, s);
    }
    for (long i = 0; i < spec->episodes; i++) {
        em_saved s = {ep0 + (uint32_t)i, lib->day0 - (int64_t)i * DAY - rng_below(&r, DAY)};
        VEC_PUSH(&u->episodes, s);
    }

    /* Followed artists: recent-release artists first, in /me/following order. */
    for (long i = 0; i < spec->followed; i++) VEC_PUSH(&u->followed, ar0 + (uint32_t)i);

    /* Top items per time range, from liked songs (else the pool). */
    for (int tr = 0; tr < TR_COUNT; tr++) {
        uint32_t n = nliked ? nliked : (spec->plays ? npool : 0);
        uint32_t want = n < 50 ? n : 50;
        for (uint32_t i = 0; i < want; i++) {
            uint32_t tk = nliked ? u->liked.v[rng_below(&r, nliked)].ref : tr0 + rng_below(&r, npool);
            bool dup = false;
            for (size_t k = 0; k < u->top_tracks[tr].n && !dup; k++) dup = u->top_tracks[tr].v[k] == tk;
            if (!dup) VEC_PUSH(&u->top_tracks[tr], tk);
        }
        for (size_t i = 0; i < u->top_tracks[tr].n; i++) {
            uint32_t a = lib->tracks.v[u->top_tracks[tr].v[i]].artists[0];
            bool dup = false;
            for (size_t k = 0; k < u->top_artists[tr].n && !dup; k++) dup = u->top_artists[tr].v[k] == a;
            if (!dup) VEC_PUSH(&u->top_artists[tr], a);
        }
    }

    /* Plays, newest first. Spread over play_days (the demo's weeks of
     * listening), the gaps average play_days / plays, so every hour and
     * weekday gets plays, and half of them go to a handful of liked songs
     * that changes every week: what is "top" moves from week to week. */
    int64_t pms = lib->day0 * 1000 - (int64_t)rng_below(&r, 3600000);
    int64_t spread = spec->play_days && spec->plays ? spec->play_days * 2 * DAY * 1000 / spec->plays : 1800000;
    uint32_t gap_max = spread > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)spread;
    for (long i = 0; i < spec->plays; i++) {
        uint32_t tk;
        if (spec->play_days && nliked && rng_below(&r, 2)) {
            uint64_t week = (uint64_t)(lib->day0 * 1000 - pms) / (7ull * DAY * 1000);
            tk = u->liked.v[(week * 5 + rng_below(&r, 6)) % nliked].ref;
        } else {
            tk = nliked && rng_below(&r, 4) ? u->liked.v[rng_below(&r, nliked)].ref : tr0 + rng_below(&r, npool);
        }
        em_play p = {tk, pms};
        VEC_PUSH(&u->plays, p);
        pms -= (int64_t)lib->tracks.v[tk].duration_ms + rng_below(&r, gap_max);
    }
    /* Weeks of listening: Spotify's top lists are what the plays say. */
    for (int tr = 0; spec->play_days && tr < TR_COUNT; tr++) {
        uint32_t top[50];
        size_t n = library_top_from_plays(lib, u, tr, lib->day0, top, 50);
        u->top_tracks[tr].n = u->top_artists[tr].n = 0;
        for (size_t i = 0; i < n; i++) VEC_PUSH(&u->top_tracks[tr], top[i]);
        uint32_t artists[50];
        size_t m = library_top_artists_of(lib, top, n, artists, 50);
        for (size_t i = 0; i < m; i++) VEC_PUSH(&u->top_artists[tr], artists[i]);
    }

    VEC_PUSH(&lib->users, u);
    emmap_put(&lib->user_ids, u->id, (uint32_t)lib->users.n - 1);
    return (int)lib->users.n - 1;
}

em_user *library_user(em_library *lib, const char *id)
{
    uint32_t i;
    return id && emmap_get(&lib->user_ids, id, &i) ? lib->users.v[i] : NULL;
}

static uint32_t lookup(const emmap *m, const char *id)
{
    uint32_t i;
    return id && emmap_get(m, id, &i) ? i : NONE;
}

uint32_t library_track(const em_library *lib, const char *id) { return lookup(&lib->track_ids, id); }
uint32_t library_album(const em_library *lib, const char *id) { return lookup(&lib->album_ids, id); }
uint32_t library_artist(const em_library *lib, const char *id) { return lookup(&lib->artist_ids, id); }
uint32_t library_show(const em_library *lib, const char *id) { return lookup(&lib->show_ids, id); }
uint32_t library_episode(const em_library *lib, const char *id) { return lookup(&lib->episode_ids, id); }
uint32_t library_playlist(const em_library *lib, const char *id) { return lookup(&lib->playlist_ids, id); }

void library_snapshot_id(const em_playlist *p, char out[33])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    rng r;
    rng_seed(&r, hash_str(p->id, 0x736e6170ULL) ^ mix64(p->version));
    /* Spotify's snapshot ids are opaque base64 text; the version is encoded
     * first so ids sort nowhere in particular but stay unique per edit. */
    uint32_t v = p->version;
    for (int i = 0; i < 6; i++) { out[i] = b64[v & 63]; v >>= 6; }
    for (int i = 6; i < 32; i++) out[i] = b64[rng_below(&r, 64)];
    out[32] = '\0';
}

bool library_can_edit(const em_library *lib, const em_user *u, const em_playlist *p)
{
    (void)lib;
    return p->owner == u->owner || p->collaborative;
}

void library_playlist_bump(em_playlist *p) { p->version++; }

int library_cover_decode(const char *b64, size_t len, unsigned char **jpeg, size_t *n)
{
    *jpeg = NULL;
    *n = 0;
    if (len > EM_COVER_B64_MAX) return 413;
    if (len == 0) return 400;
    size_t cap = len / 4 * 3 + 3, got = 0;
    unsigned char *buf = xmalloc(cap);
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, b64, len, "\r\n", &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + len || got < 3 || buf[0] != 0xFF || buf[1] != 0xD8 || buf[2] != 0xFF) {
        free(buf);
        return 400;
    }
    *jpeg = buf;
    *n = got;
    return 0;
}

void library_playlist_set_cover(em_playlist *p, const unsigned char *jpeg, size_t n)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    free(p->cover);
    p->cover = xmalloc(n ? n : 1);
    memcpy(p->cover, jpeg, n);
    p->cover_len = n;
    crypto_hash_sha256(h, jpeg, n);
    sodium_bin2hex(p->cover_sha256, sizeof p->cover_sha256, h, sizeof h);
    library_playlist_bump(p);
}

uint32_t library_cover_by_key(const em_library *lib, const char *key)
{
    if (strlen(key) != 32) return NONE;
    for (size_t i = 0; i < lib->playlists.n; i++)
        if (lib->playlists.v[i].cover && strncmp(lib->playlists.v[i].cover_sha256, key, 32) == 0)
            return (uint32_t)i;
    return NONE;
}

bool library_playlist_reorder(em_playlist *p, long start, long before, long len)
{
    long n = (long)p->items.n;
    if (start < 0 || len < 1 || before < 0 || before > n || start + len > n) return false;
    if (!(before >= start && before <= start + len)) {
        em_item *tmp = xmalloc((size_t)len * sizeof(em_item));
        memcpy(tmp, &p->items.v[start], (size_t)len * sizeof(em_item));
        memmove(&p->items.v[start], &p->items.v[start + len], (size_t)(n - start - len) * sizeof(em_item));
        long at = before > start ? before - len : before;
        memmove(&p->items.v[at + len], &p->items.v[at], (size_t)(n - len - at) * sizeof(em_item));
        memcpy(&p->items.v[at], tmp, (size_t)len * sizeof(em_item));
        free(tmp);
    }
    library_playlist_bump(p);
    return true;
}

void library_playlist_remove(em_playlist *p, const em_item *want, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < p->items.n; i++) {
        bool drop = false;
        for (size_t j = 0; j < n && !drop; j++)
            drop = p->items.v[i].kind == want[j].kind && p->items.v[i].ref == want[j].ref;
        if (!drop) p->items.v[k++] = p->items.v[i];
    }
    p->items.n = k;
    library_playlist_bump(p);
}

bool library_like(em_library *lib, em_user *u, uint32_t track, int64_t at)
{
    (void)lib;
    for (size_t i = 0; i < u->liked.n; i++)
        if (u->liked.v[i].ref == track) return false;
    em_saved s = {track, at};
    VEC_INSERT(&u->liked, 0, s);
    return true;
}

bool library_unlike(em_library *lib, em_user *u, uint32_t track)
{
    (void)lib;
    for (size_t i = 0; i < u->liked.n; i++) {
        if (u->liked.v[i].ref == track) {
            VEC_REMOVE(&u->liked, i);
            return true;
        }
    }
    return false;
}

bool library_follow(em_user *u, uint32_t artist)
{
    for (size_t i = 0; i < u->followed.n; i++)
        if (u->followed.v[i] == artist) return false;
    VEC_PUSH(&u->followed, artist);
    return true;
}

bool library_unfollow(em_user *u, uint32_t artist)
{
    for (size_t i = 0; i < u->followed.n; i++) {
        if (u->followed.v[i] == artist) {
            VEC_REMOVE(&u->followed, i);
            return true;
        }
    }
    return false;
}

uint32_t library_create_playlist(em_library *lib, em_user *u, const char *name,
                                 const char *description, bool public_, bool collaborative)
{
    uint32_t pi = new_playlist(lib, &lib->mut_rng, u->owner, xstrdup(name));
    em_playlist *p = &lib->playlists.v[pi];
    if (description) {
        free(p->description);
        p->description = xstrdup(description);
    }
    p->public_ = public_;
    p->collaborative = collaborative;
    VEC_INSERT(&u->playlists, 0, pi);
    u->playlists_created++;
    return pi;
}

void library_playlist_insert(em_library *lib, em_playlist *p, const em_item *items, size_t n, long pos)
{
    (void)lib;
    size_t at = (pos < 0 || (size_t)pos > p->items.n) ? p->items.n : (size_t)pos;
    if (n == 0) {
        library_playlist_bump(p);
        return;
    }
    VEC_RESERVE(&p->items, p->items.n + n);
    memmove(&p->items.v[at + n], &p->items.v[at], (p->items.n - at) * sizeof(em_item));
    memcpy(&p->items.v[at], items, n * sizeof(em_item));
    p->items.n += n;
    library_playlist_bump(p);
}

uint32_t library_new_release(em_library *lib, uint32_t artist, const char *name, int type,
                             int64_t released, uint32_t ntracks)
{
    return gen_album(lib, &lib->mut_rng, artist, type, released, ntracks ? ntracks : 1, name);
}

typedef struct top_count { uint32_t track, n; } top_count;

static int top_count_cmp(const void *a, const void *b)
{
    const top_count *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return x->track < y->track ? -1 : x->track > y->track;
}

size_t library_top_from_plays(const em_library *lib, const em_user *u, int tr, int64_t day_s,
                              uint32_t *out, size_t max)
{
    static const int64_t window_days[TR_COUNT] = {28, 182, 0};
    int64_t hi = day_s * 1000, lo = window_days[tr] ? hi - window_days[tr] * DAY * 1000 : INT64_MIN;
    uint32_t *count = xcalloc(lib->tracks.n ? lib->tracks.n : 1, sizeof *count);
    top_count *all = xcalloc(u->plays.n ? u->plays.n : 1, sizeof *all);
    size_t k = 0, n = 0;
    for (size_t i = 0; i < u->plays.n; i++) {
        const em_play *p = &u->plays.v[i];
        if (p->at_ms < lo || p->at_ms >= hi || p->track >= lib->tracks.n) continue;
        if (count[p->track]++ == 0) all[k++].track = p->track;
    }
    for (size_t i = 0; i < k; i++) all[i].n = count[all[i].track];
    qsort(all, k, sizeof *all, top_count_cmp);
    for (; n < k && n < max; n++) out[n] = all[n].track;
    free(count);
    free(all);
    return n;
}

size_t library_top_artists_of(const em_library *lib, const uint32_t *tracks, size_t n,
                              uint32_t *out, size_t max)
{
    size_t m = 0;
    for (size_t i = 0; i < n && m < max; i++) {
        uint32_t a = lib->tracks.v[tracks[i]].artists[0];
        bool dup = false;
        for (size_t k = 0; k < m && !dup; k++) dup = out[k] == a;
        if (!dup) out[m++] = a;
    }
    return m;
}

void library_play(em_user *u, uint32_t track, int64_t at_ms)
{
    size_t i = 0;
    while (i < u->plays.n && u->plays.v[i].at_ms > at_ms) i++;
    em_play p = {track, at_ms};
    VEC_INSERT(&u->plays, i, p);
}

bool library_parse_uri(const em_library *lib, const char *uri, em_uri_type *type, uint32_t *idx,
                       bool *bad_format)
{
    static const struct { const char *prefix; em_uri_type type; } kinds[] = {
        {"spotify:track:", URI_TRACK}, {"spotify:episode:", URI_EPISODE}, {"spotify:album:", URI_ALBUM},
        {"spotify:artist:", URI_ARTIST}, {"spotify:playlist:", URI_PLAYLIST}, {"spotify:show:", URI_SHOW},
        {"spotify:user:", URI_USER}, {"spotify:local:", URI_LOCAL},
    };
    *bad_format = true;
    for (size_t k = 0; k < N(kinds); k++) {
        size_t pl = strlen(kinds[k].prefix);
        if (strncmp(uri, kinds[k].prefix, pl) != 0) continue;
        const char *id = uri + pl;
        *type = kinds[k].type;
        if (kinds[k].type == URI_LOCAL) return false;
        if (kinds[k].type == URI_USER) {
            *bad_format = !valid_user_id(id);
            uint32_t i;
            if (*bad_format || !emmap_get(&lib->user_ids, id, &i)) return false;
            *idx = i;
            return true;
        }
        if (!is_base62_id(id)) return false;
        *bad_format = false;
        uint32_t i = NONE;
        switch (kinds[k].type) {
        case URI_TRACK: i = library_track(lib, id); break;
        case URI_EPISODE: i = library_episode(lib, id); break;
        case URI_ALBUM: i = library_album(lib, id); break;
        case URI_ARTIST: i = library_artist(lib, id); break;
        case URI_PLAYLIST: i = library_playlist(lib, id); break;
        case URI_SHOW: i = library_show(lib, id); break;
        default: break;
        }
        if (i == NONE) return false;
        *idx = i;
        return true;
    }
    return false;
}

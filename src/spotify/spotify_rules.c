/* spotify_rules.c - the pure rules of the Spotify client.
 *
 * Everything here is a function of its arguments (plus libsodium's random
 * for jitter): which endpoint template a path belongs to, which endpoints
 * only extended-quota apps have, how long to back off, how long a 429 asks
 * us to wait, which failures are retried and what a non-2xx answer means.
 * Kept apart from the engine so the unit tests can pin every rule down.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"
#include "spotify/spotify_internal.h"

/* Path segments after which the next segment is an id ("/playlists/ID"). */
static const char *const id_parents[] = {
    "playlists", "artists", "tracks", "albums", "shows", "episodes", "users",
    "audio-features", "audiobooks", "chapters", "categories", NULL,
};

static int is_id_parent(const char *seg, size_t len)
{
    for (size_t i = 0; id_parents[i]; i++)
        if (strlen(id_parents[i]) == len && memcmp(id_parents[i], seg, len) == 0)
            return 1;
    return 0;
}

static int seg_is(const char *seg, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(seg, word, len) == 0;
}

void spotify_endpoint_template(const char *method, const char *path, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    size_t o = (size_t)snprintf(out, outsz, "%s ", method ? method : "GET");
    if (o >= outsz)
        return;
    const char *p = path ? path : "";
    size_t end = strcspn(p, "?#");
    /* prev/prev2: the two segments before the current one. */
    const char *prev = NULL, *prev2 = NULL;
    size_t prev_len = 0, prev2_len = 0;
    size_t i = 0;
    if (end == 0 && o + 1 < outsz)
        out[o++] = '/';
    while (i < end) {
        if (p[i] == '/') {
            i++;
            continue;
        }
        size_t s = i;
        while (i < end && p[i] != '/')
            i++;
        const char *seg = p + s;
        size_t len = i - s;
        /* "/me/albums/contains", "/me/top/artists": a collection under /me
         * or /me/top is followed by a keyword, never an id. */
        int under_me = prev2 && (seg_is(prev2, prev2_len, "me") || seg_is(prev2, prev2_len, "top"));
        int is_id = prev && is_id_parent(prev, prev_len) && !under_me;
        const char *w = is_id ? "{id}" : seg;
        size_t wl = is_id ? 4 : len;
        if (o + 1 + wl >= outsz)
            break;
        out[o++] = '/';
        memcpy(out + o, w, wl);
        o += wl;
        prev2 = prev;
        prev2_len = prev_len;
        prev = seg;
        prev_len = len;
    }
    out[o] = '\0';
}

int spotify_endpoint_extended_only(const char *tmpl)
{
    static const char *const extended[] = {
        "GET /playlists/{id}/tracks", "POST /playlists/{id}/tracks",
        "PUT /playlists/{id}/tracks", "DELETE /playlists/{id}/tracks",
        "POST /users/{id}/playlists", "DELETE /playlists/{id}/followers",
        "PUT /playlists/{id}/followers", "GET /artists", "GET /tracks", "GET /albums",
        "GET /browse/new-releases", "GET /audio-features", "GET /audio-features/{id}",
        "GET /recommendations", NULL,
    };
    if (!tmpl)
        return 0;
    for (size_t i = 0; extended[i]; i++)
        if (strcmp(extended[i], tmpl) == 0)
            return 1;
    return 0;
}

int spotify_page_max(spotify_mode mode, const char *tmpl)
{
    /* The limits Spotify documents (../shared/spotify, the community-fixed
     * file) where the mode changes them: the old /tracks reads 100 items a
     * page, and an extended-quota app keeps the 100 on /items too (the
     * emulator's README: "/items limit <= 50 (<= 100 in extended mode)");
     * /artists/{id}/albums fell to 10 for development-mode apps. Every other
     * paged endpoint keeps 50 in both modes. */
    int ext = mode == SPOTIFY_MODE_EXTENDED;
    if (!tmpl)
        return SPOTIFY_PAGE_MIN_MAX;
    if (strcmp(tmpl, "GET /playlists/{id}/items") == 0 ||
        strcmp(tmpl, "GET /playlists/{id}/tracks") == 0)
        return ext ? SPOTIFY_PAGE_MAX : SPOTIFY_PAGE_MIN_MAX;
    if (strcmp(tmpl, "GET /artists/{id}/albums") == 0)
        return ext ? SPOTIFY_PAGE_MIN_MAX : 10;
    return SPOTIFY_PAGE_MIN_MAX;
}

long spotify_backoff_ms(int attempt, long base_ms, long max_ms)
{
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    long bound = base_ms;
    for (int i = 0; i < attempt && bound < max_ms; i++)
        bound = bound > max_ms / 2 ? max_ms : bound * 2;
    if (bound > max_ms)
        bound = max_ms;
    if (bound > (long)UINT32_MAX - 1)
        bound = (long)UINT32_MAX - 1;
    /* Full jitter (AWS architecture blog): spreads retries of many clients
     * evenly instead of in synchronised waves. */
    return (long)randombytes_uniform((uint32_t)bound + 1);
}

int64_t spotify_retry_after_ms(const char *value, int64_t now_ms, int64_t *at_ms)
{
    int64_t at = 0;
    if (!value || time_parse_retry_after(value, now_ms, &at) != KT_OK)
        at = now_ms + 1000;
    if (at < now_ms)
        at = now_ms;
    if (at_ms)
        *at_ms = at;
    return at - now_ms;
}

int spotify_retryable(const char *method, long status, CURLcode cc)
{
    int post = method && strcmp(method, "POST") == 0;
    if (cc != CURLE_OK) {
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
            return 1;
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_BAD_CONTENT_ENCODING:
            return !post;
        default:
            return 0;
        }
    }
    if (status == 502 || status == 503)
        return 1;
    if (status >= 500 && status <= 599)
        return !post;
    return 0;
}

/* Case-insensitive substring test (messages are short, so no need for more). */
static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* 403s. Spotify's only signal is the message text, except where the
 * endpoint itself tells (these rules are checked first):
 *  1. An extended-quota-only endpoint answers 403 ("Forbidden") to apps in
 *     development mode -> endpoint_unavailable, and the app is in
 *     development mode.
 *  2. The items of a playlist the user neither owns nor collaborates on
 *     answer 403 in development mode -> not_playlist_owner.
 * Then the documented message texts of development mode:
 *  3. "User not registered in the Developer Dashboard" (the user is not one
 *     of the app's allow-listed users) -> user_not_allowlisted.
 *  4. "Active premium subscription required for the owner of the app" (and
 *     any message naming Premium) -> premium_required.
 * Anything else is a generic "forbidden" (e.g. a missing scope). */
static kt_status classify_403(const char *msg, const char *tmpl, kt_err *err,
                              spotify_mode *mode_out)
{
    if (spotify_endpoint_extended_only(tmpl)) {
        if (mode_out)
            *mode_out = SPOTIFY_MODE_DEVELOPMENT;
        return err_set(err, KT_ERR_FORBIDDEN, "endpoint_unavailable",
                       "%s is not available to this app (Spotify development mode); "
                       "ask Spotify for extended quota to use it",
                       tmpl);
    }
    if (ends_with(tmpl, "/playlists/{id}/items") || ends_with(tmpl, "/playlists/{id}/tracks"))
        return err_set(err, KT_ERR_FORBIDDEN, "not_playlist_owner",
                       "Spotify only lets an app read or change the items of playlists the user "
                       "owns or collaborates on (%s answered 403)",
                       tmpl);
    if (contains_ci(msg, "not registered") || contains_ci(msg, "allowlist") ||
        contains_ci(msg, "allow-list"))
        return err_set(err, KT_ERR_FORBIDDEN, "user_not_allowlisted",
                       "this Spotify user is not allow-listed for the app: add them under "
                       "User Management in the Spotify Developer Dashboard");
    if (contains_ci(msg, "premium"))
        return err_set(err, KT_ERR_FORBIDDEN, "premium_required",
                       "Spotify requires the app owner to have an active Premium subscription "
                       "in development mode: renew Premium on the app owner's account");
    return err_set(err, KT_ERR_FORBIDDEN, "forbidden",
                   "Spotify refused %s (403%s%s): the user may need to log in again to grant "
                   "the missing permissions",
                   tmpl, msg && *msg ? ": " : "", msg ? msg : "");
}

/* Copies printable ASCII of an upstream message, so a hostile body cannot
 * put control characters into our logs or error pages. */
static void clean_message(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    for (; in && *in && o + 1 < outsz; in++)
        out[o++] = (isprint((unsigned char)*in) ? *in : '?');
    out[o] = '\0';
}

kt_status spotify_classify_error(long status, const json_t *body, const char *tmpl, kt_err *err,
                                 spotify_mode *mode_out)
{
    char msg[160] = "";
    const char *reason = NULL;
    const json_t *e = body ? json_object_get(body, "error") : NULL;
    if (json_is_object(e)) {
        clean_message(json_string_value(json_object_get(e, "message")), msg, sizeof msg);
        reason = json_string_value(json_object_get(e, "reason"));
    } else if (json_is_string(e)) {
        clean_message(json_string_value(e), msg, sizeof msg);
    }
    if (mode_out)
        *mode_out = SPOTIFY_MODE_UNKNOWN;
    kt_status st;
    switch (status) {
    case 400:
        st = err_set(err, KT_ERR_INVALID, "bad_request", "Spotify rejected %s as malformed: %s",
                     tmpl, msg);
        break;
    case 401:
        st = err_set(err, KT_ERR_UPSTREAM, "unauthorized",
                     "Spotify refused the access token for %s even after a refresh", tmpl);
        break;
    case 403:
        st = classify_403(msg, tmpl, err, mode_out);
        break;
    case 404:
        st = err_set(err, KT_ERR_NOT_FOUND, "not_found", "Spotify has no such resource (%s)",
                     tmpl);
        break;
    case 429:
        if (reason && strcmp(reason, "QUOTA_EXCEEDED") == 0)
            st = err_set(err, KT_ERR_DEFERRED, "quota_exceeded",
                         "the app's Spotify quota is exhausted (%s); the work resumes later",
                         tmpl);
        else
            st = err_set(err, KT_ERR_DEFERRED, "rate_limited",
                         "Spotify rate limit reached (%s); the work resumes later", tmpl);
        break;
    default:
        st = err_set(err, KT_ERR_UPSTREAM, "upstream_failed", "Spotify answered %ld to %s%s%s",
                     status, tmpl, *msg ? ": " : "", msg);
        break;
    }
    if (err)
        err->upstream_status = (int)status;
    return st;
}

/* routes_ui.c - serves the web UI compiled into the binary (ui_assets.h):
 *
 *   GET /                     index.html (the single-page app's shell)
 *   GET /ui/{version}/{name}  an asset; cached for a year when {version} is
 *                             the build's (the URL changes with the bytes),
 *                             revalidated otherwise (an old page's links)
 *
 * Every answer carries a strong ETag and answers If-None-Match with 304.
 * Names are looked up in the embedded table only, so no request can reach
 * a file on disk: path traversal is impossible by construction, not by
 * filtering. The Content-Security-Policy allows scripts, styles and fetches
 * from this origin only (no inline script or style), and images from here,
 * Spotify's image CDN (covers, artist pictures) and the origin of
 * SPOTIFY_API_URL when it is not Spotify's: spotify-emulator (the demo,
 * the tests) serves its own covers there, so they show offline too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/routes.h"
#include "http/ui_assets.h"
#include "services/app.h"

#define UI_CSP_HEAD                                                                             \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "            \
    "img-src 'self' data: https://i.scdn.co https://*.scdn.co https://*.spotifycdn.com"
#define UI_CSP_TAIL                                                                             \
    "; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "            \
    "frame-ancestors 'none'"
#define SPOTIFY_API_ORIGIN "https://api.spotify.com"
#define ORIGIN_MAX 200
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"

static int by_name(const void *key, const void *elem)
{
    return strcmp(key, ((const ui_asset *)elem)->name);
}

static const ui_asset *asset_find(const char *name)
{
    return bsearch(name, ui_assets, ui_assets_count, sizeof ui_assets[0], by_name);
}

/* True when the If-None-Match list (RFC 9110 13.1.2: "*" or a comma
 * separated list of entity tags, compared weakly) names etag. */
static int etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header;
    while (p && *p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == elen && memcmp(p, etag, n) == 0)
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

/* Writes "scheme://host[:port]" of url into out; 0 when url is not an
 * http(s) URL whose host part holds only [A-Za-z0-9.:[]-] (anything else
 * could end the CSP's source list or the header). */
static int url_origin(const char *url, char out[ORIGIN_MAX])
{
    const char *host = NULL;
    if (url && strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (url && strncmp(url, "http://", 7) == 0)
        host = url + 7;
    if (host == NULL)
        return 0;
    size_t n = strcspn(host, "/?#");
    if (n == 0 || (size_t)(host - url) + n >= ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '-' || c == '[' || c == ']'))
            return 0;
    }
    memcpy(out, url, (size_t)(host - url) + n);
    out[(size_t)(host - url) + n] = '\0';
    return 1;
}

/* The UI's policy, with SPOTIFY_API_URL's origin among the image sources
 * unless it is Spotify's own (which serves no images). app may be NULL. */
static void ui_csp(const kt_app *app, char *out, size_t cap)
{
    char origin[ORIGIN_MAX];
    const char *api = app && app->cfg ? app->cfg->spotify_api_url : NULL;
    if (url_origin(api, origin) && strcmp(origin, SPOTIFY_API_ORIGIN) != 0)
        snprintf(out, cap, "%s %s%s", UI_CSP_HEAD, origin, UI_CSP_TAIL);
    else
        snprintf(out, cap, "%s%s", UI_CSP_HEAD, UI_CSP_TAIL);
}

static void reply_asset(http_req *r, const kt_app *app, const ui_asset *a,
                        const char *cache_control)
{
    const char *inm = http_req_header(r, "If-None-Match");
    char csp[sizeof UI_CSP_HEAD + sizeof UI_CSP_TAIL + ORIGIN_MAX + 2];
    ui_csp(app, csp, sizeof csp);
    http_reply_header(r, "ETag", a->etag);
    http_reply_header(r, "Cache-Control", cache_control);
    http_reply_header(r, "Content-Security-Policy", csp);
    if (inm && etag_matches(inm, a->etag)) {
        http_reply_bytes(r, 304, a->content_type, "", 0);
        return;
    }
    http_reply_bytes(r, 200, a->content_type, a->data, a->len);
}

static void index_handler(http_req *r, void *app)
{
    const ui_asset *a = asset_find("index.html");
    if (a == NULL) {
        http_reply_error_msg(r, 500, "internal", "the web UI was not built into this binary");
        return;
    }
    reply_asset(r, app, a, CACHE_REVALIDATE);
}

static void asset_handler(http_req *r, void *app)
{
    const char *rest = http_req_param(r, "*"); /* "<version>/<name>" */
    const char *slash = rest ? strchr(rest, '/') : NULL;
    const ui_asset *a = NULL;
    if (slash && strchr(slash + 1, '/') == NULL && strcmp(slash + 1, "index.html") != 0)
        a = asset_find(slash + 1);
    if (a == NULL) {
        http_reply_error_msg(r, 404, "not_found", "no such file in the web UI");
        return;
    }
    size_t vlen = (size_t)(slash - rest);
    int current = vlen == strlen(ui_assets_version) && memcmp(rest, ui_assets_version, vlen) == 0;
    reply_asset(r, app, a, current ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
}

const http_route routes_ui[] = {
    {"GET", "/", index_handler, HTTP_ROUTE_INLINE},
    {"GET", "/ui/*", asset_handler, HTTP_ROUTE_INLINE},
};
const size_t routes_ui_count = sizeof routes_ui / sizeof routes_ui[0];

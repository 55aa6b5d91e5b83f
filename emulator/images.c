/* images.c - cover art drawn from an id (see images.h).
 *
 * SVG because it is text: no image library and no binary encoder for what
 * is a test fixture, and a browser scales it to any size sharply. The
 * picture is a two-colour diagonal gradient with one of three simple
 * motifs, every number taken from a hash of the key, so the same album
 * looks the same on every run and machine and neighbours differ.
 */
#include "images.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGE_PREFIX "/image/"
#define KEY_MAX 64
#define SIZE_MIN 16
#define SIZE_MAX_PX 2000
#define SVG_MAX 2048

static atomic_ullong covers_served;

unsigned long long images_covers_served(void) { return atomic_load(&covers_served); }

void images_url(jw *w, const char *api, int size, const char *key)
{
    size_t n = strlen(api);
    if (n >= 3 && strcmp(api + n - 3, "/v1") == 0) n -= 3;
    jw_begin_value(w);
    jw_printf(w, "\"%.*s" IMAGE_PREFIX "%d/%s\"", (int)n, api, size, key);
}

void images_cover_url(jw *w, const char *api, const char *sha256_hex)
{
    size_t n = strlen(api);
    if (n >= 3 && strcmp(api + n - 3, "/v1") == 0) n -= 3;
    jw_begin_value(w);
    jw_printf(w, "\"%.*s" IMAGE_PREFIX "ugc/%.32s\"", (int)n, api, sha256_hex);
}

bool images_is_path(const char *url)
{
    return strncmp(url, IMAGE_PREFIX, strlen(IMAGE_PREFIX)) == 0;
}

/* Splits "<size>/<key>"; false unless size is a number in range and key is
 * 1..KEY_MAX characters of [A-Za-z0-9] (ids only: nothing to escape). */
static bool parse_path(const char *rest, long *size, char key[KEY_MAX + 1])
{
    const char *slash = strchr(rest, '/');
    char num[8];
    if (!slash || slash == rest || (size_t)(slash - rest) >= sizeof num) return false;
    memcpy(num, rest, (size_t)(slash - rest));
    num[slash - rest] = '\0';
    if (!parse_long(num, SIZE_MIN, SIZE_MAX_PX, size)) return false;
    size_t n = strlen(slash + 1);
    if (n == 0 || n > KEY_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = slash[1 + i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    }
    memcpy(key, slash + 1, n + 1);
    return true;
}

/* The picture for key, `size` px square. Returns the length written. */
static int cover_svg(char *out, size_t cap, const char *key, long size)
{
    uint64_t h = mix64(hash_str(key, 0x636f766572617274ULL));
    int hue = (int)(h % 360), hue2 = (hue + 40 + (int)((h >> 9) % 140)) % 360;
    int motif = (int)((h >> 17) % 3);
    int cx = 160 + (int)((h >> 20) % 320), cy = 160 + (int)((h >> 29) % 320);
    int r = 90 + (int)((h >> 38) % 140), turn = (int)((h >> 46) % 90);
    char shape[512];
    if (motif == 0)
        snprintf(shape, sizeof shape,
                 "<circle cx='%d' cy='%d' r='%d' fill='#fff' fill-opacity='.22'/>"
                 "<circle cx='%d' cy='%d' r='%d' fill='none' stroke='#fff' stroke-opacity='.35' "
                 "stroke-width='14'/>", cx, cy, r, 640 - cx, 640 - cy, r / 2 + 30);
    else if (motif == 1)
        snprintf(shape, sizeof shape,
                 "<g transform='rotate(%d 320 320)' fill='#fff' fill-opacity='.16'>"
                 "<rect x='-200' y='120' width='1040' height='60'/><rect x='-200' y='260' "
                 "width='1040' height='60'/><rect x='-200' y='400' width='1040' height='60'/></g>",
                 turn - 45);
    else
        snprintf(shape, sizeof shape,
                 "<rect x='%d' y='%d' width='%d' height='%d' rx='36' fill='#000' fill-opacity='.2' "
                 "transform='rotate(%d %d %d)'/>", cx - r, cy - r, 2 * r, 2 * r, turn, cx, cy);
    return snprintf(out, cap,
                    "<svg xmlns='http://www.w3.org/2000/svg' width='%ld' height='%ld' "
                    "viewBox='0 0 640 640'><defs><linearGradient id='g' x1='0' y1='0' x2='1' "
                    "y2='1'><stop offset='0' stop-color='hsl(%d,65%%,52%%)'/><stop offset='1' "
                    "stop-color='hsl(%d,60%%,22%%)'/></linearGradient></defs>"
                    "<rect width='640' height='640' fill='url(#g)'/>%s</svg>\n",
                    size, size, hue, hue2, shape);
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len, const char *cache)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
                                                                MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (MHD_add_response_header(resp, "Content-Type", type) != MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control", cache) != MHD_YES ||
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The uploaded cover under key: copied out under the read lock, so a later
 * upload never changes bytes being sent. */
static enum MHD_Result answer_cover(struct MHD_Connection *conn, em_library *lib, const char *key)
{
    static const char not_found[] = "{\"error\":{\"status\":404,\"message\":\"Not found\"}}";
    pthread_rwlock_rdlock(&lib->lock);
    uint32_t pi = library_cover_by_key(lib, key);
    unsigned char *bytes = NULL;
    size_t n = 0;
    if (pi != NONE) {
        n = lib->playlists.v[pi].cover_len;
        bytes = xmalloc(n ? n : 1);
        memcpy(bytes, lib->playlists.v[pi].cover, n);
    }
    pthread_rwlock_unlock(&lib->lock);
    if (!bytes)
        return queue(conn, 404, "application/json; charset=utf-8", not_found, sizeof not_found - 1, "no-store");
    enum MHD_Result ret = queue(conn, 200, "image/jpeg", (const char *)bytes, n, "public, max-age=86400");
    atomic_fetch_add(&covers_served, 1);
    free(bytes);
    return ret;
}

enum MHD_Result images_answer(struct MHD_Connection *conn, em_library *lib, const char *method,
                              const char *url)
{
    static const char not_found[] = "{\"error\":{\"status\":404,\"message\":\"Not found\"}}";
    static const char bad_method[] = "{\"error\":{\"status\":405,\"message\":\"Method not allowed\"}}";
    const char *json = "application/json; charset=utf-8";
    char key[KEY_MAX + 1], svg[SVG_MAX];
    long size = 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return queue(conn, 405, json, bad_method, sizeof bad_method - 1, "no-store");
    if (strncmp(url + strlen(IMAGE_PREFIX), "ugc/", 4) == 0)
        return answer_cover(conn, lib, url + strlen(IMAGE_PREFIX) + 4);
    if (!parse_path(url + strlen(IMAGE_PREFIX), &size, key))
        return queue(conn, 404, json, not_found, sizeof not_found - 1, "no-store");
    int n = cover_svg(svg, sizeof svg, key, size);
    if (n < 0 || (size_t)n >= sizeof svg) return MHD_NO;
    return queue(conn, 200, "image/svg+xml", svg, (size_t)n, "public, max-age=86400");
}

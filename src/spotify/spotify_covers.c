/* spotify_covers.c - playlist covers: the upload (PUT /playlists/{id}/images,
 * through the request engine like every Web API call) and the download of
 * an image's bytes from its image host (a plain GET outside the engine: no
 * token, no budget, no Web API accounting; see spotify.h).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spotify/spotify_internal.h"

int spotify_cover_acceptable(const unsigned char *data, size_t len)
{
    return data && len >= 3 && len <= SPOTIFY_COVER_MAX_BYTES && data[0] == 0xFF &&
           data[1] == 0xD8 && data[2] == 0xFF;
}

/* A playlist id goes into the path as is: base62 only, so nothing needs
 * escaping and nothing can reach another path. */
static int plain_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9')))
            return 0;
    return 1;
}

kt_status spotify_put_playlist_cover(spotify_client *c, int64_t user_id, const char *playlist_id,
                                     const unsigned char *jpeg, size_t len, kt_err *err)
{
    spotify_req r;
    kt_status st;
    memset(&r, 0, sizeof r);
    if (!c || !plain_id(playlist_id))
        return err_set(err, KT_ERR_INVALID, "bad_playlist_id", "not a Spotify playlist id");
    if (!spotify_cover_acceptable(jpeg, len))
        return err_set(err, KT_ERR_INVALID, "bad_cover",
                       "a cover must be a JPEG of at most %d bytes (got %zu bytes)",
                       SPOTIFY_COVER_MAX_BYTES, len);
    size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    r.method = "PUT";
    r.content_type = "image/jpeg";
    r.body = malloc(b64len);
    if (!r.body || asprintf(&r.path, "/playlists/%s/images", playlist_id) < 0) {
        r.path = NULL;
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    sodium_bin2base64(r.body, b64len, jpeg, len, sodium_base64_VARIANT_ORIGINAL);
    spotify_batch b = {.c = c, .user_id = user_id, .reqs = &r, .n = 1};
    st = spotify_batch_run(&b, err);
out:
    spotify_reqs_clear(&r, 1);
    return st;
}

kt_status spotify_fetch_image(spotify_client *c, const char *url, size_t max_bytes,
                              unsigned char **out, size_t *len, kt_err *err)
{
    spotify_capped_body body = {.too_large = 0};
    CURL *easy = NULL;
    CURLcode cc = CURLE_OK, rc;
    long status = 0;
    kt_status st;
    buf_init(&body.b, max_bytes);
    if (!c || !url || !(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0))
        return err_set(err, KT_ERR_INVALID, "bad_image_url", "an image URL must be http(s)");
    /* spotify_easy_new sets no header: the request carries none of ours,
     * so no token can leak to the image host. */
    if ((st = spotify_easy_new(c, &easy, err)) != KT_OK)
        return st;
    rc = curl_easy_setopt(easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, spotify_capped_write);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    if (rc != CURLE_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "curl setup failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    if ((st = spotify_multi_perform_one(c, easy, &cc, err)) != KT_OK)
        goto out;
    if (body.too_large) {
        st = err_set(err, KT_ERR_TOO_LARGE, "image_too_large", "the image is over %zu bytes",
                     max_bytes);
        goto out;
    }
    if (cc != CURLE_OK) {
        st = err_set(err, KT_ERR_UPSTREAM, "image_fetch_failed", "fetching an image failed: %s",
                     curl_easy_strerror(cc));
        goto out;
    }
    if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
        st = err_set(err, KT_ERR_UPSTREAM, "image_fetch_failed",
                     "the image host answered %ld", status);
        goto out;
    }
    size_t n = 0;
    unsigned char *data = (unsigned char *)buf_detach(&body.b, &n);
    if (!data) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    *out = data;
    *len = n;
    st = KT_OK;
out:
    if (easy)
        curl_easy_cleanup(easy);
    buf_free(&body.b);
    return st;
}

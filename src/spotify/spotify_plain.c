/* spotify_plain.c - a plain HTTP GET outside any client: no token, no curl
 * share, no budget, no Web API accounting (see spotify_plain_get in
 * spotify.h). It keeps libcurl behind this adapter for the one caller that
 * has no client: `keeptrack demo` reading its emulator's ground truth. Also
 * the capped body writer that spotify_fetch_image shares.
 */
#include "spotify/spotify_internal.h"

size_t spotify_capped_write(char *p, size_t size, size_t n, void *ud)
{
    spotify_capped_body *cb = ud;
    kt_status st = buf_append(&cb->b, p, size * n);
    if (st == KT_ERR_TOO_LARGE)
        cb->too_large = 1;
    return st == KT_OK ? size * n : 0; /* 0 fails the transfer */
}

kt_status spotify_plain_get(const char *url, long timeout_ms, size_t max_bytes, long *status,
                            char **body, size_t *len, kt_err *err)
{
    spotify_capped_body pb = {.too_large = 0};
    CURL *c = NULL;
    CURLcode rc;
    long code = 0;
    kt_status st = spotify_curl_global_init(err);
    buf_init(&pb.b, max_bytes);
    if (st != KT_OK)
        return st;
    if (!(c = curl_easy_init()))
        return err_set(err, KT_ERR_INTERNAL, NULL, "curl_easy_init failed");
    rc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, spotify_capped_write);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &pb);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* the timeout must not raise SIGALRM */
    if (rc != CURLE_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "curl setup failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(c);
    if (pb.too_large) {
        st = err_set(err, KT_ERR_TOO_LARGE, "response_too_large", "the answer is over %zu bytes",
                     max_bytes);
        goto out;
    }
    if (rc != CURLE_OK) {
        st = err_set(err, KT_ERR_UPSTREAM, "get_failed", "GET failed: %s", curl_easy_strerror(rc));
        goto out;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) {
        st = err_set(err, KT_ERR_INTERNAL, NULL, "no response code");
        goto out;
    }
    size_t n = 0;
    char *text = buf_detach(&pb.b, &n); /* "" for an empty answer */
    if (!text) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    *status = code;
    *body = text;
    *len = n;
    st = KT_OK;
out:
    curl_easy_cleanup(c);
    buf_free(&pb.b);
    return st;
}

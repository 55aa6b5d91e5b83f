/* test_spotify_rules.c - unit tests of the Spotify client's pure rules:
 * endpoint templates, extended-only endpoints, backoff bounds, Retry-After,
 * retryable failures and the classification of error answers (403 rules).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spotify/spotify_internal.h"

static void expect_tmpl(const char *method, const char *path, const char *want)
{
    char out[256];
    spotify_endpoint_template(method, path, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_templates(void **state)
{
    (void)state;
    expect_tmpl("GET", "/me/tracks?limit=50&offset=0", "GET /me/tracks");
    expect_tmpl("GET", "/playlists/3cEYpjA9oz9GiPac4AsH4n/items?limit=50", "GET /playlists/{id}/items");
    expect_tmpl("GET", "/playlists/3cEYpjA9oz9GiPac4AsH4n", "GET /playlists/{id}");
    expect_tmpl("GET", "/me/top/artists?time_range=short_term", "GET /me/top/artists");
    expect_tmpl("GET", "/me/top/tracks", "GET /me/top/tracks");
    expect_tmpl("POST", "/users/some.user/playlists", "POST /users/{id}/playlists");
    expect_tmpl("GET", "/artists/0TnOYISbd1XYRBk9myaseg/albums?include_groups=album", "GET /artists/{id}/albums");
    expect_tmpl("GET", "/me/albums/contains?ids=a", "GET /me/albums/contains");
    expect_tmpl("GET", "/me/albums?limit=50", "GET /me/albums");
    expect_tmpl("GET", "/me/library/contains?uris=x", "GET /me/library/contains");
    expect_tmpl("PUT", "/me/library?uris=spotify:track:x", "PUT /me/library");
    expect_tmpl("GET", "/browse/new-releases?limit=1", "GET /browse/new-releases");
    expect_tmpl("GET", "/tracks/abc", "GET /tracks/{id}");
    expect_tmpl("GET", "/tracks?ids=a,b", "GET /tracks");
    expect_tmpl("DELETE", "/playlists/x/followers", "DELETE /playlists/{id}/followers");
    expect_tmpl("GET", "/me", "GET /me");
    expect_tmpl("GET", "", "GET /");
    expect_tmpl("GET", "//me//tracks", "GET /me/tracks");
    expect_tmpl("POST", "/api/token", "POST /api/token");
    expect_tmpl(NULL, "/me", "GET /me");
}

static void test_template_truncates(void **state)
{
    (void)state;
    char out[12];
    spotify_endpoint_template("GET", "/playlists/abc/items", out, sizeof out);
    /* Whole segments only: "/playlists" does not fit after "GET ". */
    assert_string_equal(out, "GET ");
    char tiny[1];
    spotify_endpoint_template("GET", "/me", tiny, sizeof tiny);
    assert_int_equal(tiny[0], '\0');
}

static void test_extended_only(void **state)
{
    (void)state;
    assert_true(spotify_endpoint_extended_only("GET /browse/new-releases"));
    assert_true(spotify_endpoint_extended_only("GET /playlists/{id}/tracks"));
    assert_true(spotify_endpoint_extended_only("GET /tracks"));
    assert_true(spotify_endpoint_extended_only("GET /artists"));
    assert_true(spotify_endpoint_extended_only("POST /users/{id}/playlists"));
    assert_true(spotify_endpoint_extended_only("GET /audio-features"));
    assert_false(spotify_endpoint_extended_only("GET /tracks/{id}"));
    assert_false(spotify_endpoint_extended_only("GET /artists/{id}"));
    assert_false(spotify_endpoint_extended_only("GET /playlists/{id}/items"));
    assert_false(spotify_endpoint_extended_only("GET /me/tracks"));
    assert_false(spotify_endpoint_extended_only(NULL));
}

/* Each mode's largest page: playlist items 100 only with extended quota,
 * artist albums 10 in development mode, 50 everywhere else. */
static void test_page_max(void **state)
{
    (void)state;
    const spotify_mode dev = SPOTIFY_MODE_DEVELOPMENT, ext = SPOTIFY_MODE_EXTENDED;
    assert_int_equal(spotify_page_max(ext, "GET /playlists/{id}/tracks"), 100);
    assert_int_equal(spotify_page_max(ext, "GET /playlists/{id}/items"), 100);
    assert_int_equal(spotify_page_max(dev, "GET /playlists/{id}/items"), 50);
    assert_int_equal(spotify_page_max(SPOTIFY_MODE_UNKNOWN, "GET /playlists/{id}/items"), 50);
    assert_int_equal(spotify_page_max(dev, "GET /artists/{id}/albums"), 10);
    assert_int_equal(spotify_page_max(ext, "GET /artists/{id}/albums"), 50);
    assert_int_equal(spotify_page_max(ext, "GET /me/tracks"), 50);
    assert_int_equal(spotify_page_max(ext, "GET /me/playlists"), 50);
    assert_int_equal(spotify_page_max(ext, NULL), 50);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 12; attempt++) {
        long bound = 100L << attempt;
        if (bound > 3000)
            bound = 3000;
        long seen_max = 0;
        for (int i = 0; i < 300; i++) {
            long b = spotify_backoff_ms(attempt, 100, 3000);
            assert_in_range(b, 0, bound);
            if (b > seen_max)
                seen_max = b;
        }
        /* Full jitter spreads over the whole range, not just near 0. */
        assert_true(seen_max > bound / 2);
    }
    assert_in_range(spotify_backoff_ms(1000000, 250, 8000), 0, 8000);
    assert_in_range(spotify_backoff_ms(62, 1L << 40, 1L << 41), 0, UINT32_MAX);
    assert_int_equal(spotify_backoff_ms(3, 0, 8000), 0);
    assert_int_equal(spotify_backoff_ms(3, 100, 0), 0);
}

static void test_retry_after(void **state)
{
    (void)state;
    const int64_t now = 1700000000000; /* 2023-11-14T22:13:20Z */
    int64_t at = 0;
    assert_int_equal(spotify_retry_after_ms("2", now, &at), 2000);
    assert_int_equal(at, now + 2000);
    assert_int_equal(spotify_retry_after_ms("0", now, &at), 0);
    assert_int_equal(spotify_retry_after_ms("3600", now, NULL), 3600000);
    /* HTTP date 10 s ahead. */
    assert_int_equal(spotify_retry_after_ms("Tue, 14 Nov 2023 22:13:30 GMT", now, &at), 10000);
    assert_int_equal(at, now + 10000);
    /* A date in the past means now. */
    assert_int_equal(spotify_retry_after_ms("Tue, 14 Nov 2023 22:00:00 GMT", now, &at), 0);
    assert_int_equal(at, now);
    /* Missing or garbage: one second. */
    assert_int_equal(spotify_retry_after_ms(NULL, now, &at), 1000);
    assert_int_equal(spotify_retry_after_ms("soon", now, &at), 1000);
    assert_int_equal(spotify_retry_after_ms("-5", now, &at), 1000);
}

static void test_retryable(void **state)
{
    (void)state;
    assert_true(spotify_retryable("GET", 500, CURLE_OK));
    assert_true(spotify_retryable("GET", 502, CURLE_OK));
    assert_true(spotify_retryable("GET", 503, CURLE_OK));
    assert_true(spotify_retryable("GET", 0, CURLE_OPERATION_TIMEDOUT));
    assert_true(spotify_retryable("GET", 0, CURLE_PARTIAL_FILE));
    assert_true(spotify_retryable("GET", 0, CURLE_RECV_ERROR));
    assert_true(spotify_retryable("GET", 0, CURLE_GOT_NOTHING));
    assert_true(spotify_retryable("DELETE", 500, CURLE_OK));
    assert_false(spotify_retryable("GET", 404, CURLE_OK));
    assert_false(spotify_retryable("GET", 403, CURLE_OK));
    assert_false(spotify_retryable("GET", 0, CURLE_WRITE_ERROR));
    assert_false(spotify_retryable("GET", 0, CURLE_URL_MALFORMAT));
    /* POST: only when Spotify surely did not act. */
    assert_false(spotify_retryable("POST", 500, CURLE_OK));
    assert_false(spotify_retryable("POST", 0, CURLE_RECV_ERROR));
    assert_true(spotify_retryable("POST", 503, CURLE_OK));
    assert_true(spotify_retryable("POST", 0, CURLE_COULDNT_CONNECT));
}

static json_t *errbody(int status, const char *msg, const char *reason)
{
    json_t *e = json_pack("{s:i,s:s}", "status", status, "message", msg);
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    return json_pack("{s:o}", "error", e);
}

static void expect_class(long status, const char *msg, const char *reason, const char *tmpl,
                         kt_status want_st, const char *want_code, spotify_mode want_mode)
{
    json_t *body = msg ? errbody((int)status, msg, reason) : NULL;
    kt_err err;
    err_clear(&err);
    spotify_mode m = (spotify_mode)99;
    kt_status st = spotify_classify_error(status, body, tmpl, &err, &m);
    assert_int_equal(st, want_st);
    assert_int_equal(err.status, want_st);
    assert_string_equal(err.code, want_code);
    assert_int_equal(err.upstream_status, status);
    assert_int_equal(m, want_mode);
    json_decref(body);
}

static void test_classify(void **state)
{
    (void)state;
    expect_class(403, "Forbidden", NULL, "GET /browse/new-releases", KT_ERR_FORBIDDEN,
                 "endpoint_unavailable", SPOTIFY_MODE_DEVELOPMENT);
    expect_class(403, "Forbidden", NULL, "GET /playlists/{id}/tracks", KT_ERR_FORBIDDEN,
                 "endpoint_unavailable", SPOTIFY_MODE_DEVELOPMENT);
    expect_class(403, "Forbidden", NULL, "GET /playlists/{id}/items", KT_ERR_FORBIDDEN,
                 "not_playlist_owner", SPOTIFY_MODE_UNKNOWN);
    expect_class(403, "User not registered in the Developer Dashboard", NULL, "GET /me",
                 KT_ERR_FORBIDDEN, "user_not_allowlisted", SPOTIFY_MODE_UNKNOWN);
    expect_class(403, "Active premium subscription required for the owner of the app.", NULL,
                 "GET /me/tracks", KT_ERR_FORBIDDEN, "premium_required", SPOTIFY_MODE_UNKNOWN);
    expect_class(403, "Insufficient client scope", NULL, "GET /me/tracks", KT_ERR_FORBIDDEN,
                 "forbidden", SPOTIFY_MODE_UNKNOWN);
    expect_class(403, NULL, NULL, "GET /me/tracks", KT_ERR_FORBIDDEN, "forbidden",
                 SPOTIFY_MODE_UNKNOWN);
    expect_class(404, "Not found", NULL, "GET /tracks/{id}", KT_ERR_NOT_FOUND, "not_found",
                 SPOTIFY_MODE_UNKNOWN);
    expect_class(400, "Invalid limit", NULL, "GET /me/tracks", KT_ERR_INVALID, "bad_request",
                 SPOTIFY_MODE_UNKNOWN);
    expect_class(429, "API rate limit exceeded", "QUOTA_EXCEEDED", "GET /me/tracks",
                 KT_ERR_DEFERRED, "quota_exceeded", SPOTIFY_MODE_UNKNOWN);
    expect_class(429, "API rate limit exceeded", NULL, "GET /me/tracks", KT_ERR_DEFERRED,
                 "rate_limited", SPOTIFY_MODE_UNKNOWN);
    expect_class(500, "Server error", NULL, "GET /me/tracks", KT_ERR_UPSTREAM, "upstream_failed",
                 SPOTIFY_MODE_UNKNOWN);
    expect_class(401, "The access token expired", NULL, "GET /me", KT_ERR_UPSTREAM,
                 "unauthorized", SPOTIFY_MODE_UNKNOWN);
}

static void test_classify_message_is_clean(void **state)
{
    (void)state;
    json_t *body = errbody(502, "bad\r\ngateway\x1b[31m", NULL);
    kt_err err;
    spotify_classify_error(502, body, "GET /me", &err, NULL);
    assert_non_null(strstr(err.msg, "GET /me"));
    assert_non_null(strstr(err.msg, "bad??gateway?[31m"));
    assert_null(strchr(err.msg, '\n'));
    json_decref(body);
    /* A non-object error member and a NULL err are both fine. */
    body = json_pack("{s:s}", "error", "invalid_grant");
    assert_int_equal(spotify_classify_error(418, body, "GET /me", NULL, NULL), KT_ERR_UPSTREAM);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_template_truncates),
        cmocka_unit_test(test_extended_only),
        cmocka_unit_test(test_page_max),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_message_is_clean),
    };
    return cmocka_run_group_tests_name("spotify_rules", tests, NULL, NULL);
}

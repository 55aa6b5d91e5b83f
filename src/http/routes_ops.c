/* routes_ops.c - operations endpoints, for the operator rather than users:
 *
 *   GET /metrics   Prometheus text exposition (services/metrics.h), admin only
 *
 * and routes_require_admin, the check every admin/cron endpoint shares:
 * `Authorization: Bearer <KEEPTRACK_ADMIN_TOKEN>`. Without a configured
 * admin token the admin endpoints do not exist (404, as for any unknown
 * path: nothing tells a scanner they are there); with one, a missing or
 * wrong token is 401 with WWW-Authenticate: Bearer. The comparison hashes
 * both sides and compares the digests in constant time, so neither the
 * token's content nor its length shows in the timing. (GET /healthz, which
 * load balancers call without credentials, is in routes_me.c.)
 */
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "http/routes.h"
#include "services/metrics.h"

/* The exposition text is a few KiB; the cap only guards against a bug. */
#define METRICS_MAX_BYTES (8u << 20)

int routes_require_admin(http_req *r, kt_app *app)
{
    const char *want = app->cfg->admin_token;
    const char *auth = http_req_header(r, "Authorization");
    char got_hash[65], want_hash[65];
    if (want == NULL || *want == '\0') {
        http_reply_error_msg(r, 404, "not_found", "no such resource");
        return 0;
    }
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *got = auth + 7;
        got += strspn(got, " ");
        crypto_sha256_hex(got, strlen(got), got_hash);
        crypto_sha256_hex(want, strlen(want), want_hash);
        if (crypto_equal(got_hash, want_hash, sizeof got_hash))
            return 1;
    }
    http_reply_header(r, "WWW-Authenticate", "Bearer realm=\"keeptrack-admin\"");
    http_reply_error_msg(r, 401, "unauthorized",
                         "this endpoint needs Authorization: Bearer <KEEPTRACK_ADMIN_TOKEN>");
    return 0;
}

static void metrics_handler(http_req *r, void *ctx)
{
    kt_app *app = ctx;
    kt_err err = {0};
    buf b;
    if (!routes_require_admin(r, app))
        return;
    buf_init(&b, METRICS_MAX_BYTES);
    if (metrics_render(app, &b, &err) != KT_OK)
        http_reply_error(r, &err);
    else
        http_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                         b.len);
    buf_free(&b);
}

const http_route routes_ops[] = {
    {"GET", "/metrics", metrics_handler, HTTP_ROUTE_INLINE},
};
const size_t routes_ops_count = sizeof routes_ops / sizeof routes_ops[0];

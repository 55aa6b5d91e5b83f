/* routes_recap.c - the yearly recap (issue 18, item 4):
 *
 *   GET /api/stats/recap/years     {years [YYYY...]}: the UTC years with plays
 *   GET /api/stats/recap           ?year=YYYY: the year's figures (services/recap.h)
 *   GET /api/stats/recap.svg       ?year=YYYY: the same as an SVG card (image/svg+xml,
 *                                  a download: keeptrack-recap-YYYY.svg)
 *
 * Session-authenticated and scoped to the session's user. A bad or missing
 * year is a 400 naming `year`; a year without plays a 404 (no_data).
 */
#include <stdio.h>

#include "core/buf.h"
#include "http/routes.h"
#include "services/recap.h"

/* The card is a few KB; the cap only bounds a bug. */
#define RECAP_SVG_MAX (1024 * 1024)

static void years_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, recap_years(app, uid, &out, &err), &out, &err);
}

static void recap_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    json_t *out = NULL;
    if (!routes_require_user(r, app, &uid))
        return;
    routes_reply_result(r, recap_year(app, uid, http_req_query(r, "year"), &out, &err), &out,
                        &err);
}

static void svg_handler(http_req *r, void *app)
{
    int64_t uid = 0;
    kt_err err = {0};
    buf b;
    char disposition[96];
    const char *year = http_req_query(r, "year");
    if (!routes_require_user(r, app, &uid))
        return;
    buf_init(&b, RECAP_SVG_MAX);
    if (recap_svg(app, uid, year, &b, &err) != KT_OK) {
        http_reply_error(r, &err);
    } else {
        /* year is 4 digits once recap_svg accepted it */
        snprintf(disposition, sizeof disposition,
                 "attachment; filename=\"keeptrack-recap-%s.svg\"", year);
        http_reply_header(r, "Content-Disposition", disposition);
        http_reply_bytes(r, 200, "image/svg+xml; charset=utf-8", b.data, b.len);
    }
    buf_free(&b);
}

const http_route routes_recap[] = {
    {"GET", "/api/stats/recap/years", years_handler, 0},
    {"GET", "/api/stats/recap", recap_handler, 0},
    {"GET", "/api/stats/recap.svg", svg_handler, 0},
};
const size_t routes_recap_count = sizeof routes_recap / sizeof routes_recap[0];

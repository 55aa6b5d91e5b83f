/* csrf.c - the cross-site request check (see csrf.h for the reasoning). */
#include "http/csrf.h"

#include <string.h>
#include <strings.h>

#include "core/url.h"

int http_method_is_safe(const char *method)
{
    return method && (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS"));
}

/* Compares two origins as URLs: same scheme, host and (default-filled) port,
 * and nothing but an optional "/" after the authority. */
static int origin_equal(const char *a, const char *b)
{
    url_parts pa, pb;

    if (url_split(a, &pa, NULL) != KT_OK || url_split(b, &pb, NULL) != KT_OK)
        return 0;
    if (strcmp(pa.path, "/") != 0 || strcmp(pb.path, "/") != 0)
        return 0;
    return !strcmp(pa.scheme, pb.scheme) && !strcasecmp(pa.host, pb.host) && pa.port == pb.port &&
           pa.ipv6 == pb.ipv6;
}

int http_csrf_allowed(const char *method, const char *origin, const char *sec_fetch_site,
                      const char *expected_origin)
{
    int origin_ok;

    if (http_method_is_safe(method))
        return 1;
    origin_ok = origin && expected_origin && origin_equal(origin, expected_origin);
    if (sec_fetch_site) {
        if (!strcasecmp(sec_fetch_site, "cross-site"))
            return 0;
        if (!strcasecmp(sec_fetch_site, "same-site") && !origin_ok)
            return 0;
    }
    if (origin && !origin_ok)
        return 0;
    return 1;
}

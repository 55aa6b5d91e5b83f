/* csrf.h - the cross-site request check for state-changing routes (private to src/http).
 *
 * Why this check and not a token: keeptrack's session cookie is SameSite=Lax,
 * which already keeps it off cross-site POSTs in current browsers; this is
 * the second, server-side layer that does not depend on the browser's
 * SameSite defaults or on a form carrying a token. Browsers mark every
 * request with Sec-Fetch-Site (Fetch Metadata) and send Origin on every
 * non-GET request, so:
 *   - Sec-Fetch-Site: cross-site            -> refused;
 *   - Sec-Fetch-Site: same-site             -> refused unless Origin is ours
 *     (a sibling subdomain is "same-site" but is not us);
 *   - Origin present and not our origin     -> refused ("null" included);
 *   - neither header (curl, the CLI, scripts: no ambient browser cookies
 *     can be abused by them)                 -> allowed.
 * Safe methods (GET, HEAD, OPTIONS) are never checked: they must not change
 * state. Origins are compared by scheme, host (case-insensitive) and port,
 * with default ports made explicit.
 */
#ifndef KT_HTTP_CSRF_H
#define KT_HTTP_CSRF_H

/* 1 when the request may proceed, 0 when it must be refused with 403.
 * method: the request method; origin, sec_fetch_site: the header values or
 * NULL when absent; expected_origin: our public origin
 * ("http://127.0.0.1:8080"; a trailing '/' is ignored), NULL when unknown
 * (then any Origin header is refused). Pure and thread-safe. */
int http_csrf_allowed(const char *method, const char *origin, const char *sec_fetch_site,
                      const char *expected_origin);

/* 1 for GET, HEAD and OPTIONS. */
int http_method_is_safe(const char *method);

#endif

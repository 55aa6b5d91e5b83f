/* cookie.h - parsing the Cookie request header (private to src/http).
 *
 * RFC 6265 section 5.4 gives the client's side: "name=value" pairs joined
 * by "; ". Real headers carry junk too (pairs without '=', stray spaces,
 * quoted values, control bytes from broken clients), so parsing is
 * tolerant: a malformed pair is skipped and the rest still parsed, never an
 * error. Bounded: at most HTTP_COOKIE_MAX pairs are kept and at most
 * HTTP_COOKIE_MAX_HEADER bytes read. Values are returned as sent (cookies
 * are not percent-decoded), minus one pair of surrounding double quotes.
 */
#ifndef KT_HTTP_COOKIE_H
#define KT_HTTP_COOKIE_H

#include <stddef.h>

#include "core/err.h"

#define HTTP_COOKIE_MAX 128 /* 127.0.0.1 cookies are shared by every local app, whatever the port */
#define HTTP_COOKIE_MAX_HEADER 16384

typedef struct http_cookie {
    const char *name;   /* borrowed from the jar's storage */
    const char *value;
} http_cookie;

typedef struct http_cookie_jar {
    char *storage;      /* owned: a copy of the header cut into strings */
    http_cookie items[HTTP_COOKIE_MAX];
    size_t n;
} http_cookie_jar;

/* Parses len bytes of a Cookie header value (several headers may be joined
 * with "; " first). Bytes past HTTP_COOKIE_MAX_HEADER and pairs past
 * HTTP_COOKIE_MAX are ignored; a NUL byte ends the input. Spaces and tabs
 * around names and values are trimmed. Pairs without '=', with a name that
 * is not an RFC 7230 token, or with a control character in the value are
 * skipped (other bytes outside RFC 6265's cookie-octet, such as inner
 * spaces, are kept as browsers do). KT_ERR_NOMEM only. *jar written only on success; free it with
 * http_cookie_jar_free. */
kt_status http_cookie_parse(const char *header, size_t len, http_cookie_jar *jar, kt_err *err);

/* The value of the first cookie called name (exact, case-sensitive match as
 * browsers send it), or NULL. Borrowed from jar. */
const char *http_cookie_find(const http_cookie_jar *jar, const char *name);

/* Frees the storage; jar may be NULL. */
void http_cookie_jar_free(http_cookie_jar *jar);

#endif

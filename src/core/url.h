/* url.h - percent-encoding, query strings and URL splitting.
 *
 * Used by the HTTP edge (query strings of requests), the Spotify client
 * (building /authorize URLs and form bodies) and the emulator. Hand-written
 * on purpose: libcurl's curl_easy_unescape neither decodes '+' as a space
 * nor rejects malformed escapes or embedded NULs, and needs a CURL handle;
 * libmicrohttpd only parses the requests it receives itself. Everything is
 * bounded (URL_QUERY_MAX_LEN, URL_QUERY_MAX_PARAMS) and thread-safe.
 */
#ifndef KT_CORE_URL_H
#define KT_CORE_URL_H

#include <stddef.h>

#include "core/err.h"

#define URL_QUERY_MAX_LEN 16384  /* bytes of query string accepted */
#define URL_QUERY_MAX_PARAMS 100 /* key/value pairs accepted */

/* Percent-encodes every byte outside RFC 3986's unreserved set
 * (A-Z a-z 0-9 - . _ ~), upper-case hex. Safe for path segments, query values
 * and application/x-www-form-urlencoded bodies. Returns a malloc'd string
 * (caller frees), NULL when s is NULL or memory runs out. */
char *url_encode(const char *s);

/* Decodes len bytes of s (%XX escapes; '+' stays '+') into a malloc'd
 * NUL-terminated *out (caller frees). KT_ERR_INVALID for a truncated or
 * non-hex escape or an embedded NUL (raw or %00); KT_ERR_NOMEM. */
kt_status url_decode(const char *s, size_t len, char **out);

/* Same as url_decode, with '+' decoded as a space (form/query encoding). */
kt_status url_decode_form(const char *s, size_t len, char **out);

typedef struct url_kv {
    char *key;    /* decoded, owned */
    char *value;  /* decoded, owned; "" for "key" or "key=" */
} url_kv;

/* Parses "a=1&b=two+words&c" (no leading '?'; NULL or "" gives zero pairs)
 * into a malloc'd array of *n pairs (form decoding, empty segments skipped,
 * duplicates kept in order). KT_ERR_TOO_LARGE past the limits,
 * KT_ERR_INVALID for a bad escape; err names the problem. Free with
 * url_query_free. *out and *n written only on success. */
kt_status url_query_parse(const char *qs, url_kv **out, size_t *n, kt_err *err);

/* The value of the first pair named key, or NULL. Borrowed from kv. */
const char *url_query_get(const url_kv *kv, size_t n, const char *key);

/* Frees what url_query_parse returned. kv may be NULL. */
void url_query_free(url_kv *kv, size_t n);

/* An absolute http(s) URL split into parts. */
typedef struct url_parts {
    char scheme[8];    /* "http" or "https", lower case */
    char host[256];    /* as written; IPv6 without brackets ("::1") */
    int ipv6;          /* host was a bracketed IPv6 literal */
    int port;          /* explicit port, or 80/443 from the scheme */
    int port_explicit; /* 1 when the URL named a port */
    char path[2048];   /* path + query, "/" when absent; fragment dropped */
} url_parts;

/* Splits an absolute http:// or https:// URL. KT_ERR_INVALID with a message
 * saying what is wrong (scheme, empty host, bad port, userinfo, control
 * characters, too long). *out written only on success. */
kt_status url_split(const char *url, url_parts *out, kt_err *err);

#endif

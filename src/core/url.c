/* url.c - percent-encoding, query strings, URL splitting (see url.h for why
 * this is hand-written rather than taken from libcurl or libmicrohttpd). */
#include "core/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static kt_status decode(const char *s, size_t len, int plus_is_space, char **out)
{
    if (!s && len)
        return KT_ERR_INVALID;
    char *r = malloc(len + 1), *o = r;
    if (!r)
        return KT_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(r);
                return KT_ERR_INVALID;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '\0') {
            free(r);
            return KT_ERR_INVALID;
        } else {
            *o++ = plus_is_space && c == '+' ? ' ' : c;
        }
    }
    *o = '\0';
    *out = r;
    return KT_OK;
}

kt_status url_decode(const char *s, size_t len, char **out)
{
    return decode(s, len, 0, out);
}

kt_status url_decode_form(const char *s, size_t len, char **out)
{
    return decode(s, len, 1, out);
}

void url_query_free(url_kv *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

kt_status url_query_parse(const char *qs, url_kv **out, size_t *n, kt_err *err)
{
    size_t qlen = qs ? strnlen(qs, URL_QUERY_MAX_LEN + 1) : 0;
    if (qlen > URL_QUERY_MAX_LEN)
        return err_set(err, KT_ERR_TOO_LARGE, "query_too_long", "query string is longer than %d bytes",
                       URL_QUERY_MAX_LEN);
    url_kv *kv = NULL;
    size_t count = 0;
    kt_status st = KT_OK;
    const char *p = qs, *end = qs ? qs + qlen : NULL;
    while (p && p < end) {
        size_t seg = strcspn(p, "&");
        if (seg > 0) {
            if (count == URL_QUERY_MAX_PARAMS) {
                st = err_set(err, KT_ERR_TOO_LARGE, "too_many_params",
                             "query string has more than %d parameters", URL_QUERY_MAX_PARAMS);
                goto out;
            }
            if (!kv && !(kv = calloc(URL_QUERY_MAX_PARAMS, sizeof *kv))) {
                st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
                goto out;
            }
            const char *eq = memchr(p, '=', seg);
            size_t klen = eq ? (size_t)(eq - p) : seg;
            url_kv *e = &kv[count++];
            st = url_decode_form(p, klen, &e->key);
            if (st == KT_OK)
                st = eq ? url_decode_form(eq + 1, seg - klen - 1, &e->value)
                        : url_decode_form("", 0, &e->value);
            if (st != KT_OK) {
                err_set(err, st, "bad_query", "query parameter %zu has a malformed %%-escape", count);
                goto out;
            }
        }
        p += seg;
        if (p < end)
            p++; /* the '&' */
    }
out:
    if (st != KT_OK) {
        url_query_free(kv, count);
        return st;
    }
    *out = kv;
    *n = count;
    return KT_OK;
}

const char *url_query_get(const url_kv *kv, size_t n, const char *key)
{
    if (!kv || !key)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static kt_status split_host_port(const char *hp, size_t n, url_parts *u, kt_err *err)
{
    const char *host = hp, *colon = NULL;
    size_t hlen;
    if (n && hp[0] == '[') {
        const char *close = memchr(hp, ']', n);
        if (!close)
            return err_set(err, KT_ERR_INVALID, "bad_url", "unterminated [IPv6] host");
        host = hp + 1;
        hlen = (size_t)(close - host);
        u->ipv6 = 1;
        if (close + 1 < hp + n) {
            if (close[1] != ':')
                return err_set(err, KT_ERR_INVALID, "bad_url", "unexpected text after [IPv6] host");
            colon = close + 1;
        }
        for (size_t i = 0; i < hlen; i++)
            if (!isxdigit((unsigned char)host[i]) && host[i] != ':' && host[i] != '.')
                return err_set(err, KT_ERR_INVALID, "bad_url", "bad character in IPv6 host");
    } else {
        colon = memchr(hp, ':', n);
        hlen = colon ? (size_t)(colon - hp) : n;
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)host[i];
            if (!isalnum(c) && c != '-' && c != '.' && c != '_')
                return err_set(err, KT_ERR_INVALID, "bad_url", "bad character in host name");
        }
    }
    if (hlen == 0)
        return err_set(err, KT_ERR_INVALID, "bad_url", "the URL has no host");
    if (hlen >= sizeof u->host)
        return err_set(err, KT_ERR_INVALID, "bad_url", "host name is too long");
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (colon) {
        const char *p = colon + 1, *e = hp + n;
        long port = 0;
        if (p == e)
            return err_set(err, KT_ERR_INVALID, "bad_url", "empty port after ':'");
        for (; p < e; p++) {
            if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535)
                return err_set(err, KT_ERR_INVALID, "bad_url", "port must be a number 1..65535");
        }
        if (port == 0)
            return err_set(err, KT_ERR_INVALID, "bad_url", "port must be a number 1..65535");
        u->port = (int)port;
        u->port_explicit = 1;
    }
    return KT_OK;
}

kt_status url_split(const char *url, url_parts *out, kt_err *err)
{
    if (!url)
        return err_set(err, KT_ERR_INVALID, "bad_url", "no URL given");
    size_t len = strlen(url);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return err_set(err, KT_ERR_INVALID, "bad_url", "URL contains a space or control character");
    url_parts u;
    memset(&u, 0, sizeof u);
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        strcpy(u.scheme, "https"), u.port = 443, rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        strcpy(u.scheme, "http"), u.port = 80, rest = url + 7;
    else
        return err_set(err, KT_ERR_INVALID, "bad_url", "URL must start with http:// or https://");
    size_t auth = strcspn(rest, "/?#");
    if (memchr(rest, '@', auth))
        return err_set(err, KT_ERR_INVALID, "bad_url", "URL must not contain a user name or password");
    kt_status st = split_host_port(rest, auth, &u, err);
    if (st != KT_OK)
        return st;
    const char *path = rest + auth;
    size_t plen = strcspn(path, "#");
    if (plen + 2 > sizeof u.path)
        return err_set(err, KT_ERR_INVALID, "bad_url", "URL path is too long");
    if (plen == 0 || path[0] != '/')
        u.path[0] = '/';
    memcpy(u.path + strlen(u.path), path, plen);
    *out = u;
    return KT_OK;
}

/* cookie.c - tolerant, bounded Cookie header parsing (see cookie.h).
 *
 * Hand-written because libmicrohttpd 0.9.75's own cookie parser (the
 * MHD_COOKIE_KIND values) stops at the first malformed pair and offers no
 * bounds we control; the server reads the raw header(s) and parses here.
 * The header is copied once and cut in place, so a jar is one allocation.
 */
#include "http/cookie.h"

#include <stdlib.h>
#include <string.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
    if (c >= 0x80 || is_ctl(c))
        return 0;
    return strchr("()<>@,;:\\\"/[]?={} ", c) == NULL;
}

/* Trims spaces and tabs in place; returns the new start, *len updated. */
static char *trim(char *s, size_t *len)
{
    while (*len && is_ows(s[0])) {
        s++;
        (*len)--;
    }
    while (*len && is_ows(s[*len - 1]))
        (*len)--;
    s[*len] = '\0';
    return s;
}

/* Cuts one "name=value" pair (NUL-terminated, no ';') and adds it to the jar
 * when it is well-formed. */
static void add_pair(http_cookie_jar *jar, char *pair)
{
    char *eq = strchr(pair, '=');
    char *name, *value;
    size_t nlen, vlen;

    if (!eq || jar->n == HTTP_COOKIE_MAX)
        return;
    *eq = '\0';
    nlen = (size_t)(eq - pair);
    vlen = strlen(eq + 1);
    name = trim(pair, &nlen);
    value = trim(eq + 1, &vlen);
    if (nlen == 0)
        return;
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)name[i]))
            return;
    for (size_t i = 0; i < vlen; i++)
        if (is_ctl((unsigned char)value[i]))
            return;
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
        vlen -= 2;
        value = trim(value + 1, &vlen); /* junk such as "\" a \"" loses its spaces too */
    }
    jar->items[jar->n].name = name;
    jar->items[jar->n].value = value;
    jar->n++;
}

kt_status http_cookie_parse(const char *header, size_t len, http_cookie_jar *jar, kt_err *err)
{
    http_cookie_jar j;
    char *p;

    memset(&j, 0, sizeof j);
    if (!header)
        len = 0;
    if (len > HTTP_COOKIE_MAX_HEADER)
        len = HTTP_COOKIE_MAX_HEADER;
    if (len)
        len = strnlen(header, len);
    j.storage = malloc(len + 1);
    if (!j.storage)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory parsing cookies");
    if (len)
        memcpy(j.storage, header, len);
    j.storage[len] = '\0';

    p = j.storage;
    while (*p && j.n < HTTP_COOKIE_MAX) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        add_pair(&j, p);
        if (!semi)
            break;
        p = semi + 1;
    }
    *jar = j;
    return KT_OK;
}

const char *http_cookie_find(const http_cookie_jar *jar, const char *name)
{
    if (!jar || !name)
        return NULL;
    for (size_t i = 0; i < jar->n; i++)
        if (!strcmp(jar->items[i].name, name))
            return jar->items[i].value;
    return NULL;
}

void http_cookie_jar_free(http_cookie_jar *jar)
{
    if (!jar)
        return;
    free(jar->storage);
    jar->storage = NULL;
    jar->n = 0;
}

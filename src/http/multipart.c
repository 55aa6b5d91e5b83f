/* multipart.c - multipart/form-data splitter (see multipart.h). Works on
 * byte ranges with memmem, never on C strings, so NULs in file contents
 * (zip archives) are data like any other byte.
 */
#include "http/multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/router.h"

void http_clean_filename(const char *s, size_t len, char out[HTTP_MULTIPART_MAX_NAME + 1])
{
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '/' || s[i - 1] == '\\') {
            len -= i;
            s += i;
            break;
        }
    size_t n = 0;
    for (size_t i = 0; i < len && n < HTTP_MULTIPART_MAX_NAME;) {
        uint32_t cp = 0;
        size_t u = http_utf8_char(s + i, len - i, &cp);
        if (u > 1 && cp >= 0xa0) { /* kept whole (not C1 controls), or the name ends */
            if (n + u > HTTP_MULTIPART_MAX_NAME)
                break;
            memcpy(out + n, s + i, u);
            n += u;
            i += u;
            continue;
        }
        /* Anything else is one byte: printable ASCII but '"' kept, '_' for the
         * rest (a bad sequence becomes one '_' a byte). */
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '_';
        i++;
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, HTTP_MULTIPART_MAX_NAME + 1, "upload");
}

int http_header_param(const char *v, size_t vlen, const char *name, const char **out,
                      size_t *out_len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 < vlen; i++) {
        if ((i > 0 && v[i - 1] != ';' && v[i - 1] != ' ') || strncasecmp(v + i, name, nl) != 0 ||
            v[i + nl] != '=')
            continue;
        const char *p = v + i + nl + 1, *end = v + vlen;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q)
                return 0;
            *out = p + 1;
            *out_len = (size_t)(q - p - 1);
        } else {
            const char *q = p;
            while (q < end && *q != ';' && *q != ' ')
                q++;
            *out = p;
            *out_len = (size_t)(q - p);
        }
        return 1;
    }
    return 0;
}

static kt_status bad(kt_err *err, const char *msg)
{
    return err_set(err, KT_ERR_INVALID, "bad_multipart", "%s", msg);
}

/* The filename parameter of a part's Content-Disposition header, if any;
 * headers = [h, hend) where hend points at the blank line's CRLF CRLF. */
static const char *part_filename(const char *h, const char *hend, size_t *fnl)
{
    const char *fn = NULL;
    while (h < hend) {
        const char *eol = memmem(h, (size_t)(hend - h) + 2, "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - h) > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0)
            http_header_param(h + 20, (size_t)(eol - h - 20), "filename", &fn, fnl);
        h = eol + 2;
    }
    return fn;
}

kt_status http_multipart_split(const char *body, size_t len, const char *content_type,
                               http_parts *out, kt_err *err)
{
    const char *b = NULL;
    size_t bl = 0;
    char delim[HTTP_MULTIPART_MAX_BOUNDARY + 8];
    out->n = 0;
    if (!content_type ||
        !http_header_param(content_type, strlen(content_type), "boundary", &b, &bl) || bl == 0 ||
        bl > HTTP_MULTIPART_MAX_BOUNDARY)
        return bad(err, "multipart body without a boundary");
    int dl = snprintf(delim, sizeof delim, "\r\n--%.*s", (int)bl, b);
    const char *p = NULL, *end = body + len;
    /* The first delimiter may start the body (no preceding CRLF). */
    if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0)
        p = body + dl - 2;
    else if ((p = memmem(body, len, delim, (size_t)dl)) != NULL)
        p += dl;
    while (p && end - p >= 2 && memcmp(p, "--", 2) != 0) {
        if (memcmp(p, "\r\n", 2) != 0)
            break;
        p += 2;
        size_t room = (size_t)(end - p) < HTTP_MULTIPART_MAX_HEADERS ? (size_t)(end - p)
                                                                     : HTTP_MULTIPART_MAX_HEADERS;
        const char *hend = memmem(p, room, "\r\n\r\n", 4);
        if (!hend)
            return bad(err, "a part's headers do not end");
        const char *data = hend + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
        if (!next)
            return bad(err, "the multipart body is truncated");
        size_t fnl = 0;
        const char *fn = part_filename(p, hend, &fnl);
        if (fn) { /* parts without a filename are ordinary form fields: ignored */
            if (out->n == HTTP_MULTIPART_MAX_PARTS)
                return err_set(err, KT_ERR_INVALID, "too_many_files", "at most %d files per upload",
                               HTTP_MULTIPART_MAX_PARTS);
            http_part *part = &out->part[out->n++];
            http_clean_filename(fn, fnl, part->name);
            part->data = data;
            part->len = (size_t)(next - data);
        }
        p = next + dl;
    }
    if (!p || end - p < 2 || memcmp(p, "--", 2) != 0)
        return bad(err, "the multipart body is truncated");
    if (out->n == 0)
        return err_set(err, KT_ERR_INVALID, "no_file", "the form holds no file");
    return KT_OK;
}

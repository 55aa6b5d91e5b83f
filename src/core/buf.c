/* buf.c - growable byte buffer with a hard cap (see buf.h). */
#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Makes room for `extra` more bytes plus the NUL, doubling to keep appends
 * amortised O(1). The cap is checked first so a hostile size never reaches
 * realloc. */
kt_status buf_reserve(buf *b, size_t extra)
{
    if (extra > SIZE_MAX - 1 - b->len)
        return KT_ERR_TOO_LARGE;
    size_t need = b->len + extra;
    if (b->max && need > b->max)
        return KT_ERR_TOO_LARGE;
    if (need + 1 <= b->cap)
        return KT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return KT_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return KT_OK;
}

kt_status buf_append(buf *b, const void *p, size_t n)
{
    kt_status st = buf_reserve(b, n);
    if (st != KT_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KT_OK;
}

kt_status buf_puts(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

kt_status buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KT_ERR_INVALID;
    kt_status st = buf_reserve(b, (size_t)n);
    if (st != KT_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KT_OK;
}

char *buf_disown(buf *b, size_t *cap)
{
    char *p = b->data;
    *cap = p ? b->cap : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void buf_adopt(buf *b, char *data, size_t cap)
{
    b->data = data;
    b->cap = cap;
    b->len = 0;
    data[0] = '\0';
}

char *buf_detach(buf *b, size_t *len)
{
    char *p = b->data;
    size_t n = b->len;
    if (!p) {
        p = calloc(1, 1);
        if (!p)
            return NULL;
        n = 0;
    }
    if (len)
        *len = n;
    buf_init(b, b->max);
    return p;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(buf *b)
{
    if (!b)
        return;
    free(b->data);
    buf_init(b, b->max);
}

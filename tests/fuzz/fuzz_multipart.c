/* fuzz_multipart.c - fuzz harness: the multipart/form-data splitter
 * (src/http/multipart.h) that POST /api/history/import uses on uploads.
 *
 * Input: the Content-Type header value up to the first '\n', then the body.
 * Properties checked (multipart.h's promises):
 * - KT_OK gives 1..HTTP_MULTIPART_MAX_PARTS parts, each inside the body, in
 *   order and not overlapping, with a cleaned name (non-empty, valid UTF-8
 *   without control characters, no '/', '\\' or '"', at most
 *   HTTP_MULTIPART_MAX_NAME bytes);
 * - an error always carries a code and a message;
 * - splitting is deterministic (a second call gives the same parts);
 * - http_header_param returns a range inside the value it was given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/multipart.h"

#define MAX_INPUT (1 << 20)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_multipart: property broken: %s\n", what);
        abort();
    }
}

/* The name is non-empty, at most HTTP_MULTIPART_MAX_NAME bytes, and valid
 * UTF-8 (shortest forms, no surrogates, <= U+10FFFF) with no control
 * character (C0, DEL, C1), '/', '\\' or '"'. */
static void check_name(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n = strlen(name);
    check(n > 0 && n <= HTTP_MULTIPART_MAX_NAME, "name length");
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            check(s[i] >= 0x20 && s[i] < 0x7f && !strchr("/\\\"", s[i]), "name cleaned");
            i++;
            continue;
        }
        size_t len = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
                     : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
        check(len > 0 && i + len <= n, "name is UTF-8");
        uint32_t cp = s[i] & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            check((s[i + k] & 0xc0) == 0x80, "name is UTF-8");
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        check(cp >= least[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff), "name is UTF-8");
        check(cp >= 0xa0, "no C1 control in the name");
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *nl = memchr(data, '\n', size);
    size_t ctl = nl ? (size_t)(nl - (const char *)data) : size;
    char *ctype = malloc(ctl + 1);
    http_parts *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    check(ctype && a && b, "memory");
    memcpy(ctype, data, ctl);
    ctype[ctl] = '\0';
    /* The body is a copy of exactly its bytes, so ASan sees any overread. */
    size_t blen = nl ? size - ctl - 1 : 0;
    char *body = malloc(blen ? blen : 1);
    check(body != NULL, "memory");
    if (blen)
        memcpy(body, nl + 1, blen);

    kt_err err = {0};
    kt_status st = http_multipart_split(body, blen, ctype, a, &err);
    if (st == KT_OK) {
        check(a->n >= 1 && a->n <= HTTP_MULTIPART_MAX_PARTS, "part count");
        const char *prev_end = body;
        for (size_t i = 0; i < a->n; i++) {
            const http_part *p = &a->part[i];
            check(p->data >= prev_end && p->data + p->len <= body + blen, "part inside body, in order");
            prev_end = p->data + p->len;
            check_name(p->name);
        }
        kt_err err2 = {0};
        check(http_multipart_split(body, blen, ctype, b, &err2) == KT_OK && b->n == a->n,
              "deterministic");
        for (size_t i = 0; i < a->n; i++)
            check(b->part[i].data == a->part[i].data && b->part[i].len == a->part[i].len &&
                      strcmp(b->part[i].name, a->part[i].name) == 0,
                  "deterministic parts");
    } else {
        check(st == KT_ERR_INVALID, "errors are KT_ERR_INVALID");
        check(err.code[0] != '\0' && err.msg[0] != '\0', "error has code and message");
    }

    const char *v = NULL;
    size_t vl = 0;
    if (http_header_param(ctype, ctl, "boundary", &v, &vl))
        check(v >= ctype && v + vl <= ctype + ctl, "header_param inside value");
    char name[HTTP_MULTIPART_MAX_NAME + 1];
    http_clean_filename(ctype, ctl, name);
    check_name(name);

    free(body);
    free(ctype);
    free(a);
    free(b);
    return 0;
}

/* fuzz_http_cookie.c - fuzz harness: the HTTP edge's Cookie header parser.
 *
 * Every request's Cookie header reaches src/http/cookie.c before any
 * handler runs (the session cookie is read from it). The harness parses the
 * input as one header and checks what cookie.h promises:
 * - parsing never fails except for memory, and keeps at most HTTP_COOKIE_MAX
 *   pairs;
 * - every kept name is a non-empty RFC 7230 token, every value is free of
 *   control bytes and ';', with no leading/trailing space or tab;
 * - http_cookie_find returns the first pair of each name;
 * - a NUL byte ends the input: parsing the bytes before it gives the same jar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/cookie.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_cookie: property broken: %s\n", what);
        abort();
    }
}

static int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static void check_jar(const http_cookie_jar *jar)
{
    check(jar->n <= HTTP_COOKIE_MAX, "at most HTTP_COOKIE_MAX pairs");
    for (size_t i = 0; i < jar->n; i++) {
        const char *name = jar->items[i].name, *value = jar->items[i].value;
        size_t vlen = strlen(value);
        check(name[0] != '\0', "name non-empty");
        for (const char *p = name; *p; p++)
            check(is_tchar((unsigned char)*p), "name is a token");
        for (const char *p = value; *p; p++)
            check((unsigned char)*p >= 0x20 && *p != 0x7f && *p != ';', "value free of CTL and ';'");
        check(vlen == 0 || (value[0] != ' ' && value[0] != '\t' && value[vlen - 1] != ' ' && value[vlen - 1] != '\t'),
              "value trimmed");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(jar->items[j].name, name))
                goto not_first;
        check(http_cookie_find(jar, name) == value, "find returns the first pair");
    not_first:;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_cookie_jar a, b;
    size_t cut;

    if (size > HTTP_COOKIE_MAX_HEADER + 64)
        return 0;
    check(http_cookie_parse((const char *)data, size, &a, NULL) == KT_OK, "parse succeeds");
    check_jar(&a);

    /* The same input up to its first NUL gives the same pairs. */
    cut = strnlen((const char *)data, size);
    check(http_cookie_parse((const char *)data, cut, &b, NULL) == KT_OK, "parse of prefix succeeds");
    check(a.n == b.n, "NUL ends the input");
    for (size_t i = 0; i < a.n; i++)
        check(!strcmp(a.items[i].name, b.items[i].name) && !strcmp(a.items[i].value, b.items[i].value),
              "NUL ends the input (same pairs)");
    check(http_cookie_find(&a, "") == NULL, "empty name never found");
    http_cookie_jar_free(&a);
    http_cookie_jar_free(&b);
    return 0;
}

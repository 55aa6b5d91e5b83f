/* fuzz_query.c - fuzz harness: percent-decoding, query strings, URL splitting.
 *
 * src/core/url.c parses what arrives from outside before anything else does:
 * query strings of every HTTP request keeptrack serves, the OAuth redirect
 * (code, state, error), configured URLs. The harness feeds the input to each
 * entry point of url.h and checks the properties url.h promises:
 * - url_decode / url_decode_form: an embedded NUL is refused; a decoded
 *   string re-encodes (url_encode) to something that decodes back to itself,
 *   and url_encode emits only unreserved bytes and %XX escapes;
 * - url_query_parse: at most URL_QUERY_MAX_PARAMS pairs, every key and value
 *   set, url_query_get finds each key; errors carry a message;
 * - url_split: scheme http/https, a port in 1..65535, a path starting '/'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"
#include "fuzz.h"

#define FUZZ_QUERY_MAX_INPUT (URL_QUERY_MAX_LEN + 1024)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_query: property broken: %s\n", what);
        abort();
    }
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_hex_upper(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* url_encode(s) is well-formed and decodes back to s. */
static void check_encode_round_trip(const char *s)
{
    char *enc = url_encode(s);
    char *dec = NULL;
    check(enc != NULL, "url_encode returned NULL");
    for (const unsigned char *p = (const unsigned char *)enc; *p; p++) {
        if (*p == '%') {
            check(is_hex_upper(p[1]) && is_hex_upper(p[2]), "url_encode escape is %XX");
            p += 2;
        } else {
            check(is_unreserved(*p), "url_encode leaves only unreserved bytes");
        }
    }
    check(url_decode(enc, strlen(enc), &dec) == KT_OK, "url_encode output decodes");
    check(strcmp(dec, s) == 0, "decode(encode(s)) == s");
    free(dec);
    free(enc);
}

static void check_decode(const uint8_t *data, size_t size, int form)
{
    char *out = NULL;
    kt_status st = form ? url_decode_form((const char *)data, size, &out)
                        : url_decode((const char *)data, size, &out);
    if (memchr(data, 0, size))
        check(st != KT_OK, "a raw NUL is refused");
    if (st != KT_OK) {
        check(out == NULL, "out untouched on error");
        return;
    }
    check(out != NULL, "decoded string set");
    check(strlen(out) <= size, "decoding never grows");
    check_encode_round_trip(out);
    free(out);
}

static void check_query(const char *qs)
{
    url_kv *kv = NULL;
    size_t n = 0;
    kt_err err = {0};
    kt_status st = url_query_parse(qs, &kv, &n, &err);
    if (st != KT_OK) {
        check(kv == NULL, "kv untouched on error");
        check(err.status == st && err.msg[0] != '\0', "an error says what is wrong");
        check(st == KT_ERR_INVALID || st == KT_ERR_TOO_LARGE || st == KT_ERR_NOMEM,
              "error status is invalid/too_large/nomem");
        return;
    }
    check(n <= URL_QUERY_MAX_PARAMS, "pair count bounded");
    check(n == 0 || kv != NULL, "pairs returned");
    for (size_t i = 0; i < n; i++) {
        check(kv[i].key != NULL && kv[i].value != NULL, "key and value set");
        const char *v = url_query_get(kv, n, kv[i].key);
        check(v != NULL, "url_query_get finds every key");
    }
    if (n > 0)
        check(url_query_get(kv, n, kv[0].key) == kv[0].value, "first pair wins");
    url_query_free(kv, n);
}

static void check_split(const char *s)
{
    url_parts parts;
    kt_err err = {0};
    if (url_split(s, &parts, &err) != KT_OK) {
        check(err.msg[0] != '\0', "url_split error says what is wrong");
        return;
    }
    check(strcmp(parts.scheme, "http") == 0 || strcmp(parts.scheme, "https") == 0,
          "scheme is http or https");
    check(parts.port >= 1 && parts.port <= 65535, "port in range");
    check(parts.path[0] == '/', "path starts with /");
    check(memchr(parts.host, '\0', sizeof parts.host) != NULL, "host terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_QUERY_MAX_INPUT)
        return 0;
    check_decode(data, size, 0);
    check_decode(data, size, 1);

    /* The C-string entry points see the input up to its first NUL. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_query(s);
    check_split(s);
    free(s);
    url_query_free(NULL, 0);
    return 0;
}

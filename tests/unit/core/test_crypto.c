/* test_crypto.c - primitives: known SHA-256 vectors, RFC 7636 PKCE vector,
 * token shape and uniqueness, constant-time compare, uniform integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"

static int setup(void **state)
{
    (void)state;
    return crypto_init() == KT_OK ? 0 : -1;
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    crypto_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    crypto_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    crypto_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    crypto_sha256_hex(m, strlen(m), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_pkce_rfc7636_vector(void **state)
{
    (void)state;
    char challenge[44];
    crypto_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge);
    assert_string_equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static int is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

static void test_pkce_pair(void **state)
{
    (void)state;
    char v[44], c[44], again[44];
    crypto_pkce_pair(v, c);
    assert_int_equal(strlen(v), 43);
    assert_int_equal(strlen(c), 43);
    assert_true(is_b64url(v));
    assert_true(is_b64url(c));
    crypto_pkce_challenge(v, again);
    assert_string_equal(c, again);
}

static void test_random_token(void **state)
{
    (void)state;
    char a[44], b[44];
    crypto_random_token(a);
    crypto_random_token(b);
    assert_int_equal(strlen(a), CRYPTO_TOKEN_LEN);
    assert_true(is_b64url(a));
    assert_string_not_equal(a, b);
    unsigned char z[64] = {0};
    crypto_random_bytes(z, sizeof z);
    unsigned char zero[64] = {0};
    assert_memory_not_equal(z, zero, sizeof z);
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abcdef", "abcdef", 6));
    assert_false(crypto_equal("abcdef", "abcdeg", 6));
    assert_true(crypto_equal("a", "b", 0));
    assert_true(crypto_str_equal("token", "token"));
    assert_false(crypto_str_equal("token", "token2"));
    assert_false(crypto_str_equal("token", "tokem"));
    assert_false(crypto_str_equal(NULL, "x"));
    assert_false(crypto_str_equal("x", NULL));
    assert_true(crypto_str_equal("", ""));
}

static void test_uniform(void **state)
{
    (void)state;
    assert_int_equal(crypto_uniform(0), 0);
    assert_int_equal(crypto_uniform(1), 0);
    int counts[6] = {0};
    for (int i = 0; i < 60000; i++) {
        uint32_t r = crypto_uniform(6);
        assert_true(r < 6);
        counts[r]++;
    }
    /* each bucket expects 10000; 9000..11000 is > 10 standard deviations wide */
    for (int i = 0; i < 6; i++)
        assert_in_range(counts[i], 9000, 11000);
    assert_true(crypto_uniform(UINT32_MAX) < UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_pkce_rfc7636_vector),
        cmocka_unit_test(test_pkce_pair),      cmocka_unit_test(test_random_token),
        cmocka_unit_test(test_equal),          cmocka_unit_test(test_uniform),
    };
    return cmocka_run_group_tests_name("core_crypto", tests, setup, NULL);
}

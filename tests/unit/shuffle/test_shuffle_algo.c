/* test_shuffle_algo.c - the shuffle orders (src/services/shuffle_algo.c),
 * driven by a seeded generator so every run is reproducible.
 *
 * - uniform is a permutation (the multiset of entries, duplicates included,
 *   is preserved) and is uniform: a chi-square goodness-of-fit test over
 *   the 24 orders of a 4-entry source (and over the 120 orders of a
 *   5-entry one) against the p = 0.001 critical value for its degrees of
 *   freedom; the same test must reject a known-biased shuffle (the naive
 *   "swap with any position" loop), which shows the test can fail;
 * - spread keeps exactly the minimum number of adjacent same-artist pairs,
 *   max(0, 2*c_max - n - 1), for crafted sources (one dominant artist, two
 *   artists, all the same, all different, albums of one artist, no
 *   labels) over many seeds, and that minimum is checked against brute
 *   force over every order of small sources; spread also reaches different
 *   orders (it is random).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/shuffle_algo.h"

/* ---- a seeded generator: splitmix64 with rejection (no modulo bias) ---- */

typedef struct seeded {
    uint64_t s;
} seeded;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t seeded_uniform(void *ctx, uint32_t upper)
{
    seeded *g = ctx;
    uint32_t limit = UINT32_MAX - (UINT32_MAX % upper); /* accept [0, limit) */
    for (;;) {
        uint32_t v = (uint32_t)(splitmix64(&g->s) >> 32);
        if (v < limit)
            return v % upper;
    }
}

/* ---- uniform ---- */

static void test_uniform_is_permutation(void **state)
{
    (void)state;
    /* A source with duplicates: values, not positions, must survive. */
    const int src[] = {7, 7, 7, 1, 2, 3, 3, 9, 0, 0, 5, 7, 2, 2, 8, 6, 4, 4, 4, 1};
    enum { N = sizeof src / sizeof src[0] };
    seeded g = {42};
    for (int round = 0; round < 200; round++) {
        size_t order[N];
        int hist_src[10] = {0}, hist_out[10] = {0}, seen[N] = {0};
        for (size_t i = 0; i < N; i++)
            order[i] = i;
        shuffle_uniform(order, N, seeded_uniform, &g);
        for (size_t i = 0; i < N; i++) {
            assert_true(order[i] < N);
            seen[order[i]]++;
            hist_src[src[i]]++;
            hist_out[src[order[i]]]++;
        }
        for (size_t i = 0; i < N; i++)
            assert_int_equal(seen[i], 1);
        assert_memory_equal(hist_src, hist_out, sizeof hist_src);
    }
    shuffle_uniform(NULL, 0, seeded_uniform, &g); /* empty: no call, no crash */
    size_t one = 0;
    shuffle_uniform(&one, 1, seeded_uniform, &g);
    assert_int_equal(one, 0);
}

/* Index of a permutation of 0..n-1 in [0, n!) (Lehmer code). */
static size_t perm_index(const size_t *p, size_t n)
{
    size_t ix = 0;
    for (size_t i = 0; i < n; i++) {
        size_t smaller = 0;
        for (size_t j = i + 1; j < n; j++)
            smaller += p[j] < p[i];
        ix = ix * (n - i) + smaller;
    }
    return ix;
}

typedef void (*shuffler)(size_t *order, size_t n, seeded *g);

static void fisher_yates(size_t *order, size_t n, seeded *g)
{
    shuffle_uniform(order, n, seeded_uniform, g);
}

/* The classic mistake: swapping each position with any position gives n^n
 * equally likely paths onto n! orders, which n! does not divide: biased. */
static void naive_swap(size_t *order, size_t n, seeded *g)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = seeded_uniform(g, (uint32_t)n), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Pearson's chi-square statistic of `rounds` shuffles of n entries over
 * the n! orders (expected count rounds/n! each). */
static double chi_square(shuffler f, size_t n, size_t rounds, uint64_t seed)
{
    size_t cells = 1;
    for (size_t i = 2; i <= n; i++)
        cells *= i;
    size_t *count = calloc(cells, sizeof *count);
    assert_non_null(count);
    seeded g = {seed};
    for (size_t r = 0; r < rounds; r++) {
        size_t order[8];
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        f(order, n, &g);
        count[perm_index(order, n)]++;
    }
    double expected = (double)rounds / (double)cells, chi = 0;
    for (size_t c = 0; c < cells; c++) {
        double d = (double)count[c] - expected;
        chi += d * d / expected;
    }
    free(count);
    return chi;
}

/* Critical values of the chi-square distribution at p = 0.001 (upper tail):
 * df = 23 (4! - 1 cells): 49.728; df = 119 (5! - 1): 173.6 (tables; the
 * Wilson-Hilferty approximation gives 173.5). A correct shuffle exceeds
 * them once in a thousand seeds; the seeds here are fixed, so the test is
 * deterministic. */
#define CHI2_DF23_P001 49.728
#define CHI2_DF119_P001 173.6

static void test_uniform_chi_square(void **state)
{
    (void)state;
    double chi4 = chi_square(fisher_yates, 4, 48000, 1);
    double chi5 = chi_square(fisher_yates, 5, 120000, 2);
    print_message("uniform: chi2(df=23) = %.2f (critical %.3f), chi2(df=119) = %.2f "
                  "(critical %.1f)\n",
                  chi4, CHI2_DF23_P001, chi5, CHI2_DF119_P001);
    assert_true(chi4 < CHI2_DF23_P001);
    assert_true(chi5 < CHI2_DF119_P001);
}

static void test_chi_square_rejects_biased(void **state)
{
    (void)state;
    double chi = chi_square(naive_swap, 4, 48000, 1);
    print_message("naive swap: chi2(df=23) = %.2f (critical %.3f)\n", chi, CHI2_DF23_P001);
    assert_true(chi > CHI2_DF23_P001);
}

/* Each position receives each entry equally often (a second, per-position
 * view on a larger source: 10 entries x 10 positions, df = 81 for the
 * independence table; checked per position with df = 9, critical 27.877
 * at p = 0.001, Bonferroni-free because the seed is fixed). */
static void test_uniform_positions(void **state)
{
    (void)state;
    enum { N = 10, ROUNDS = 50000 };
    static size_t count[N][N];
    memset(count, 0, sizeof count);
    seeded g = {7};
    for (int r = 0; r < ROUNDS; r++) {
        size_t order[N];
        for (size_t i = 0; i < N; i++)
            order[i] = i;
        shuffle_uniform(order, N, seeded_uniform, &g);
        for (size_t pos = 0; pos < N; pos++)
            count[pos][order[pos]]++;
    }
    double expected = (double)ROUNDS / N;
    for (size_t pos = 0; pos < N; pos++) {
        double chi = 0;
        for (size_t e = 0; e < N; e++) {
            double d = (double)count[pos][e] - expected;
            chi += d * d / expected;
        }
        assert_true(chi < 27.877);
    }
}

/* ---- spread ---- */

/* Brute force: the fewest adjacent equal pairs over every order of a
 * small source (Heap's algorithm). */
static size_t brute_min(const uint32_t *label, size_t n)
{
    size_t p[10] = {0}, c[10] = {0}, best;
    for (size_t i = 0; i < n; i++)
        p[i] = i;
    best = shuffle_adjacent_pairs(label, p, n);
    for (size_t i = 1; i < n;) {
        if (c[i] < i) {
            size_t j = i % 2 ? c[i] : 0, t = p[j];
            p[j] = p[i];
            p[i] = t;
            size_t pairs = shuffle_adjacent_pairs(label, p, n);
            if (pairs < best)
                best = pairs;
            c[i]++;
            i = 1;
        } else {
            c[i++] = 0;
        }
    }
    return best;
}

static void test_min_formula_matches_brute_force(void **state)
{
    (void)state;
    seeded g = {99};
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + seeded_uniform(&g, 8);
        uint32_t kinds = 1 + seeded_uniform(&g, 4), label[10];
        for (size_t i = 0; i < n; i++)
            label[i] = seeded_uniform(&g, 5) == 0 ? SHUFFLE_NO_LABEL : seeded_uniform(&g, kinds);
        assert_int_equal(shuffle_min_adjacent(label, n), brute_min(label, n));
    }
}

/* Shuffles `n` entries with these labels `rounds` times; each order must be
 * a permutation with exactly the minimal artist pairs (and, when
 * album_optimal, minimal album pairs). Returns how many distinct first
 * entries were seen (randomness). */
static size_t check_spread(const uint32_t *artist, const uint32_t *album, size_t n, int rounds,
                           int album_optimal, uint64_t seed)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    unsigned char *seen = calloc(n ? n : 1, 1), *first = calloc(n ? n : 1, 1);
    size_t want = shuffle_min_adjacent(artist, n), distinct_first = 0;
    size_t want_album = album ? shuffle_min_adjacent(album, n) : 0;
    seeded g = {seed};
    kt_err err = {0};
    assert_non_null(order);
    assert_non_null(seen);
    assert_non_null(first);
    for (int r = 0; r < rounds; r++) {
        assert_int_equal(shuffle_spread(artist, album, n, order, seeded_uniform, &g, &err), KT_OK);
        memset(seen, 0, n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            assert_true(order[i] < n);
            assert_int_equal(seen[order[i]]++, 0);
        }
        assert_int_equal(shuffle_adjacent_pairs(artist, order, n), want);
        if (album_optimal)
            assert_int_equal(shuffle_adjacent_pairs(album, order, n), want_album);
        if (n && !first[order[0]]++)
            distinct_first++;
    }
    free(order);
    free(seen);
    free(first);
    return distinct_first;
}

static void test_spread_one_dominant(void **state)
{
    (void)state;
    /* 30 entries: 20 by artist 0, 10 by artists 1..5: min = 40-30-1 = 9. */
    uint32_t artist[30];
    for (size_t i = 0; i < 30; i++)
        artist[i] = i < 20 ? 0 : 1 + (uint32_t)(i % 5);
    assert_int_equal(shuffle_min_adjacent(artist, 30), 9);
    check_spread(artist, NULL, 30, 300, 0, 1);
    /* Exactly half plus one: 6 of 11 -> 0 pairs, 7 of 12 -> 1 pair. */
    uint32_t b[12];
    for (size_t i = 0; i < 11; i++)
        b[i] = i < 6 ? 3 : (uint32_t)i;
    assert_int_equal(shuffle_min_adjacent(b, 11), 0);
    check_spread(b, NULL, 11, 300, 0, 2);
    for (size_t i = 0; i < 12; i++)
        b[i] = i < 7 ? 3 : 4;
    assert_int_equal(shuffle_min_adjacent(b, 12), 1);
    check_spread(b, NULL, 12, 300, 0, 3);
}

static void test_spread_two_artists(void **state)
{
    (void)state;
    uint32_t artist[41];
    for (size_t i = 0; i < 40; i++)
        artist[i] = (uint32_t)(i % 2); /* 20 + 20: alternate, 0 pairs */
    assert_int_equal(shuffle_min_adjacent(artist, 40), 0);
    assert_true(check_spread(artist, NULL, 40, 300, 0, 4) > 10);
    for (size_t i = 0; i < 41; i++)
        artist[i] = i < 25 ? 8 : 9; /* 25 + 16: 50-41-1 = 8 pairs */
    assert_int_equal(shuffle_min_adjacent(artist, 41), 8);
    check_spread(artist, NULL, 41, 300, 0, 5);
}

static void test_spread_all_same_and_all_different(void **state)
{
    (void)state;
    uint32_t same[50], diff[50];
    for (size_t i = 0; i < 50; i++) {
        same[i] = 77;
        diff[i] = (uint32_t)i;
    }
    assert_int_equal(shuffle_min_adjacent(same, 50), 49);
    check_spread(same, NULL, 50, 50, 0, 6);
    assert_int_equal(shuffle_min_adjacent(diff, 50), 0);
    assert_true(check_spread(diff, NULL, 50, 300, 0, 7) > 30);
}

static void test_spread_albums(void **state)
{
    (void)state;
    /* One artist, albums of 6, 4 and 2 entries: artist pairs are forced
     * (11), album pairs must be minimal: 2*6-12-1 < 0 -> 0. */
    uint32_t artist[12], album[12];
    for (size_t i = 0; i < 12; i++) {
        artist[i] = 5;
        album[i] = i < 6 ? 100 : i < 10 ? 101 : 102;
    }
    check_spread(artist, album, 12, 300, 1, 8);
    /* One artist, albums 7 and 3: album minimum 14-10-1 = 3. */
    for (size_t i = 0; i < 10; i++)
        album[i] = i < 7 ? 200 : 201;
    assert_int_equal(shuffle_min_adjacent(album, 10), 3);
    check_spread(artist, album, 10, 300, 1, 9);
    /* Several artists with several albums each: artist pairs stay minimal
     * whatever the album rule prefers. */
    uint32_t a2[60], b2[60];
    for (size_t i = 0; i < 60; i++) {
        a2[i] = (uint32_t)(i % 3 == 0 ? 0 : i % 7);
        b2[i] = a2[i] * 10 + (uint32_t)(i % 2);
    }
    check_spread(a2, b2, 60, 200, 0, 10);
}

static void test_spread_no_labels_and_random_sources(void **state)
{
    (void)state;
    uint32_t none[20];
    for (size_t i = 0; i < 20; i++)
        none[i] = i % 3 ? SHUFFLE_NO_LABEL : 1; /* unlabeled entries separate freely */
    assert_int_equal(shuffle_min_adjacent(none, 20), 0);
    check_spread(none, none, 20, 200, 1, 11);
    seeded g = {12};
    for (int round = 0; round < 200; round++) {
        uint32_t label[9];
        size_t n = 1 + seeded_uniform(&g, 9);
        for (size_t i = 0; i < n; i++)
            label[i] = seeded_uniform(&g, 1 + seeded_uniform(&g, 4));
        assert_int_equal(shuffle_min_adjacent(label, n), brute_min(label, n));
        check_spread(label, NULL, n, 5, 0, (uint64_t)round);
    }
}

static void test_spread_limits(void **state)
{
    (void)state;
    seeded g = {13};
    kt_err err = {0};
    size_t dummy = 0;
    assert_int_equal(shuffle_spread(NULL, NULL, 0, &dummy, seeded_uniform, &g, &err), KT_OK);
    assert_int_equal(shuffle_spread(NULL, NULL, SHUFFLE_MAX_ITEMS + 1, &dummy, seeded_uniform, &g,
                                    &err),
                     KT_ERR_INVALID);
    assert_string_equal(err.code, "too_many_items");
    /* The limit itself works (and fast enough): 11,000 entries, 300 artists. */
    uint32_t *artist = malloc(SHUFFLE_MAX_ITEMS * sizeof *artist);
    size_t *order = malloc(SHUFFLE_MAX_ITEMS * sizeof *order);
    assert_non_null(artist);
    assert_non_null(order);
    for (size_t i = 0; i < SHUFFLE_MAX_ITEMS; i++)
        artist[i] = i % 2 ? (uint32_t)(i % 300) : 0; /* artist 0 holds over half */
    assert_int_equal(shuffle_spread(artist, NULL, SHUFFLE_MAX_ITEMS, order, seeded_uniform, &g,
                                    &err),
                     KT_OK);
    assert_int_equal(shuffle_adjacent_pairs(artist, order, SHUFFLE_MAX_ITEMS),
                     shuffle_min_adjacent(artist, SHUFFLE_MAX_ITEMS));
    free(artist);
    free(order);
}

static void test_labels_from_strings(void **state)
{
    (void)state;
    const char *keys[] = {"b", "a", NULL, "b", "c", NULL, "a"};
    uint32_t out[7];
    kt_err err = {0};
    assert_int_equal(shuffle_labels(keys, 7, out, &err), KT_OK);
    assert_int_equal(out[0], out[3]);
    assert_int_equal(out[1], out[6]);
    assert_true(out[0] != out[1] && out[0] != out[4] && out[1] != out[4]);
    assert_int_equal(out[2], SHUFFLE_NO_LABEL);
    assert_int_equal(out[5], SHUFFLE_NO_LABEL);
    assert_int_equal(shuffle_adjacent_pairs(out, NULL, 7), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_is_permutation),
        cmocka_unit_test(test_uniform_chi_square),
        cmocka_unit_test(test_chi_square_rejects_biased),
        cmocka_unit_test(test_uniform_positions),
        cmocka_unit_test(test_min_formula_matches_brute_force),
        cmocka_unit_test(test_spread_one_dominant),
        cmocka_unit_test(test_spread_two_artists),
        cmocka_unit_test(test_spread_all_same_and_all_different),
        cmocka_unit_test(test_spread_albums),
        cmocka_unit_test(test_spread_no_labels_and_random_sources),
        cmocka_unit_test(test_spread_limits),
        cmocka_unit_test(test_labels_from_strings),
    };
    return cmocka_run_group_tests_name("shuffle_algo", tests, NULL, NULL);
}

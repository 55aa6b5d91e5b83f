/* shuffle_algo.h - the orders keeptrack's shuffles produce (pure: no I/O, no
 * allocation beyond scratch memory, no global state).
 *
 *   shuffle_uniform  Fisher-Yates: every permutation equally likely, given a
 *                    uniform generator (production: libsodium's
 *                    randombytes_uniform, a CSPRNG without modulo bias).
 *   shuffle_spread   random, but entries by the same artist (first) and of
 *                    the same album (second) kept apart: the number of
 *                    adjacent same-artist pairs is always the minimum the
 *                    source allows, max(0, 2*c_max - n - 1); see
 *                    shuffle_algo.c for the algorithm and its proof.
 *
 * The generator is injectable so tests drive both with a seeded one and can
 * check uniformity statistically. Thread use: all functions are reentrant.
 */
#ifndef KT_SERVICES_SHUFFLE_ALGO_H
#define KT_SERVICES_SHUFFLE_ALGO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* A uniform integer in [0, upper) (upper >= 1). Must be unbiased for the
 * shuffles to be uniform. */
typedef uint32_t (*shuffle_rng_fn)(void *ctx, uint32_t upper);

/* The production generator: crypto_uniform (randombytes_uniform). ctx is
 * ignored. */
uint32_t shuffle_rng_crypto(void *ctx, uint32_t upper);

/* Largest source either shuffle accepts (Spotify's playlist size limit). */
#define SHUFFLE_MAX_ITEMS 11000u

/* A label that equals no other label (an entry without an artist/album:
 * such entries never count as a same-artist pair). */
#define SHUFFLE_NO_LABEL UINT32_MAX

/* Permutes order[0..n) uniformly at random in place (Fisher-Yates, n-1
 * generator calls). order may be NULL when n is 0. */
void shuffle_uniform(size_t *order, size_t n, shuffle_rng_fn rng, void *rng_ctx);

/* Writes to order[0..n) a random permutation of 0..n-1 in which entries
 * with equal artist[i] are adjacent as rarely as possible (exactly
 * shuffle_min_adjacent(artist, n) times) and, among the orders the artist
 * rule allows at each step, entries with equal album[i] are kept apart too
 * (exactly optimal when the artist rule never binds, e.g. a single artist;
 * greedy otherwise). artist/album values are arbitrary labels compared for
 * equality, SHUFFLE_NO_LABEL equal to nothing; album may be NULL (ignored).
 * Errors: KT_ERR_INVALID when n > SHUFFLE_MAX_ITEMS, KT_ERR_NOMEM. order is
 * written only on success. */
kt_status shuffle_spread(const uint32_t *artist, const uint32_t *album, size_t n, size_t *order,
                         shuffle_rng_fn rng, void *rng_ctx, kt_err *err);

/* Adjacent pairs (label[order[i]] == label[order[i+1]], not
 * SHUFFLE_NO_LABEL) of an order; order NULL = the identity. */
size_t shuffle_adjacent_pairs(const uint32_t *label, const size_t *order, size_t n);

/* The fewest adjacent equal-label pairs any order of label[0..n) can have:
 * max(0, 2*c - n - 1) where c is the largest count of one label
 * (SHUFFLE_NO_LABEL entries count as distinct labels). Returns SIZE_MAX
 * when scratch memory runs out. */
size_t shuffle_min_adjacent(const uint32_t *label, size_t n);

/* Dense labels for strings: out[i] == out[j] exactly when keys[i] and
 * keys[j] are equal non-NULL strings; NULL keys get SHUFFLE_NO_LABEL.
 * KT_ERR_NOMEM on allocation failure. */
kt_status shuffle_labels(const char *const *keys, size_t n, uint32_t *out, kt_err *err);

#endif

/* shuffle_algo.c - uniform and "spread" shuffles (see shuffle_algo.h).
 *
 * Uniform: Fisher-Yates (Durstenfeld): for i = n-1 .. 1 swap a[i] with a[j],
 * j uniform in [0, i]. With an unbiased generator each of the n! orders has
 * probability 1/n!.
 *
 * Spread: build the order one entry at a time, choosing uniformly at random
 * among exactly the entries that keep the number of adjacent same-artist
 * pairs at its minimum. Notation for the entries not yet placed: R of them,
 * r_a of artist a, M = max r_a, and L the artist of the entry placed last
 * (none at the start). A pair is two neighbours of the same artist.
 *
 * Lemma. The fewest pairs the remaining entries can add (counting the one
 * between L and the next entry) is
 *   (a) 0                              when 2M <= R,
 *   (b) (2M - R - 1) + [L == D]        when 2M >= R + 1, where D is the
 *                                      artist with r_D = M (unique, since
 *                                      M > R/2).
 * Lower bound: the D entries form runs separated by at least one other
 * entry, so there are at most R - M + 1 runs and at least M - (R - M + 1)
 * pairs inside them; if L == D then either the remainder starts with D (one
 * more pair at the junction) or it starts with another entry, leaving at
 * most R - M runs (one more pair inside). Achievability follows from the
 * rule below, which reaches the bound step by step.
 *
 * Rule (the candidate entries at each step):
 *   (b) and L != D : the entries of D;
 *   (b) and L == D : every entry;
 *   (a)            : every entry whose artist is not L.
 * Checking each case against the lemma (placing x costs [x == L] now, plus
 * the lemma's value for what remains with last = x): in (b), L != D,
 * placing D costs 0 + (2M - R - 1) (still (b) with D last: (2(M-1) - (R-1)
 * - 1) + 1; or, when 2M = R + 1, case (a) afterwards: 0), while any other x
 * leaves D dominant with last != D: 2M - (R-1) - 1 = one more than the
 * bound. In (b), L == D, D costs 1 + (2M - R - 1) and any other x costs
 * 0 + (2M - (R-1) - 1): both equal the bound 2M - R. In (a) any x != L
 * costs 0 and leaves either case (a) (value 0) or, when 2M = R, case (b)
 * with 2M = (R-1) + 1 whose dominant artist is not x (x had at most M
 * entries and lost one), value 0 as well; placing L would cost 1. So the candidates are exactly the entries that
 * keep the total at its minimum, and the whole order has
 *   max(0, 2*c_max - n - 1)
 * same-artist pairs, the fewest possible (start: L = none, the lemma's
 * value). Choosing uniformly among the candidates makes every optimal order
 * reachable.
 *
 * Albums, second: within the artist candidates S, the same rule is applied
 * to the album labels of S (its dominant album, the last album). When S is
 * every remaining entry at every step (one artist, or entries whose
 * artists never constrain), the lemma applies to albums unchanged and the
 * album pairs are minimal too; otherwise it is a greedy preference that
 * never costs an artist pair. The candidate set is never empty: if every
 * entry of S had the last album, that album would hold all of S, which is
 * case (b).
 *
 * Cost: O(R) per step (counting albums over S, picking the k-th
 * candidate), O(n^2) in all: ~10^8 simple steps at the 11,000-item limit,
 * well under a second, against seconds of Spotify requests.
 */
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "services/shuffle_algo.h"

uint32_t shuffle_rng_crypto(void *ctx, uint32_t upper)
{
    (void)ctx;
    return crypto_uniform(upper);
}

void shuffle_uniform(size_t *order, size_t n, shuffle_rng_fn rng, void *rng_ctx)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng(rng_ctx, (uint32_t)i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* ---- dense labels ---- */

typedef struct label_ix {
    uint32_t label;
    uint32_t ix;
} label_ix;

static int cmp_label_ix(const void *a, const void *b)
{
    const label_ix *x = a, *y = b;
    if (x->label != y->label)
        return x->label < y->label ? -1 : 1;
    return x->ix < y->ix ? -1 : x->ix > y->ix;
}

/* out[i] = a dense id in [0, n): equal labels share one, SHUFFLE_NO_LABEL
 * (or labels NULL) gets a fresh id per entry. *count = ids used. */
static kt_status densify(const uint32_t *labels, size_t n, uint32_t *out, uint32_t *count,
                         kt_err *err)
{
    label_ix *v = n ? malloc(n * sizeof *v) : NULL;
    uint32_t next = 0;
    if (n && v == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory (shuffle labels)");
    for (size_t i = 0; i < n; i++)
        v[i] = (label_ix){labels ? labels[i] : SHUFFLE_NO_LABEL, (uint32_t)i};
    if (n)
        qsort(v, n, sizeof *v, cmp_label_ix);
    for (size_t i = 0; i < n; i++) {
        if (v[i].label == SHUFFLE_NO_LABEL || i == 0 || v[i].label != v[i - 1].label)
            next++;
        out[v[i].ix] = next - 1;
    }
    free(v);
    *count = next;
    return KT_OK;
}

size_t shuffle_min_adjacent(const uint32_t *label, size_t n)
{
    uint32_t *dense = n ? malloc(n * sizeof *dense) : NULL, ids = 0;
    uint32_t *count = n ? calloc(n, sizeof *count) : NULL;
    size_t max = 0;
    if (n && (dense == NULL || count == NULL || densify(label, n, dense, &ids, NULL) != KT_OK)) {
        free(dense);
        free(count);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++)
        if (++count[dense[i]] > max)
            max = count[dense[i]];
    free(dense);
    free(count);
    return 2 * max > n + 1 ? 2 * max - n - 1 : 0;
}

size_t shuffle_adjacent_pairs(const uint32_t *label, const size_t *order, size_t n)
{
    size_t pairs = 0;
    for (size_t i = 1; i < n; i++) {
        uint32_t a = label[order ? order[i - 1] : i - 1], b = label[order ? order[i] : i];
        if (a == b && a != SHUFFLE_NO_LABEL)
            pairs++;
    }
    return pairs;
}

typedef struct str_ix {
    const char *key;
    uint32_t ix;
} str_ix;

static int cmp_str_ix(const void *a, const void *b)
{
    const str_ix *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->ix < y->ix ? -1 : x->ix > y->ix);
}

kt_status shuffle_labels(const char *const *keys, size_t n, uint32_t *out, kt_err *err)
{
    str_ix *v = n ? malloc(n * sizeof *v) : NULL;
    size_t m = 0;
    uint32_t next = 0;
    if (n && v == NULL)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory (shuffle labels)");
    for (size_t i = 0; i < n; i++) {
        if (keys[i] == NULL)
            out[i] = SHUFFLE_NO_LABEL;
        else
            v[m++] = (str_ix){keys[i], (uint32_t)i};
    }
    if (m)
        qsort(v, m, sizeof *v, cmp_str_ix);
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && strcmp(v[i].key, v[i - 1].key) != 0)
            next++;
        out[v[i].ix] = next;
    }
    free(v);
    return KT_OK;
}

/* ---- spread ---- */

#define NONE UINT32_MAX

typedef struct spread_state {
    const uint32_t *artist, *album; /* dense ids */
    size_t *pool;                   /* remaining entries, [0, R) */
    size_t R;
    uint32_t *acount;               /* remaining entries per artist */
    uint32_t *cnt_of;               /* artists per remaining count, [0, n] */
    size_t M;                       /* largest acount (lazily lowered) */
    uint32_t *bcount;               /* scratch: album counts over the candidates */
    unsigned char *ok;              /* scratch: candidate flags, per pool slot */
    uint32_t last_artist, last_album;
} spread_state;

/* The unique label holding more than half of the remaining entries (case
 * (b) of the lemma), or NONE. */
static uint32_t dominant_artist(spread_state *st)
{
    while (st->M > 0 && st->cnt_of[st->M] == 0)
        st->M--;
    if (2 * st->M < st->R + 1)
        return NONE;
    for (size_t i = 0; i < st->R; i++)
        if (st->acount[st->artist[st->pool[i]]] == st->M)
            return st->artist[st->pool[i]];
    return NONE; /* unreachable: M is some artist's count */
}

/* Marks ok[i] for the pool slots the artist rule allows; returns how many. */
static size_t artist_candidates(spread_state *st)
{
    uint32_t d = dominant_artist(st);
    size_t k = 0;
    for (size_t i = 0; i < st->R; i++) {
        uint32_t a = st->artist[st->pool[i]];
        int allow = d != NONE ? (d == st->last_artist || a == d) : a != st->last_artist;
        st->ok[i] = (unsigned char)allow;
        k += (size_t)allow;
    }
    return k;
}

/* Narrows ok[] by the same rule on albums within the candidates; returns
 * how many remain (never 0 when k > 0, see the top of the file). */
static size_t album_candidates(spread_state *st, size_t k)
{
    uint32_t max = 0, dom = NONE;
    size_t left = 0;
    for (size_t i = 0; i < st->R; i++)
        if (st->ok[i]) {
            uint32_t b = st->album[st->pool[i]];
            if (++st->bcount[b] > max) {
                max = st->bcount[b];
                dom = b;
            }
        }
    if (2 * (size_t)max < k + 1)
        dom = NONE;
    for (size_t i = 0; i < st->R; i++)
        if (st->ok[i]) {
            uint32_t b = st->album[st->pool[i]];
            st->bcount[b] = 0; /* reset the scratch for the next step */
            int allow = dom != NONE ? (dom == st->last_album || b == dom) : b != st->last_album;
            st->ok[i] = (unsigned char)allow;
            left += (size_t)allow;
        }
    return left;
}

/* Removes pool slot i, keeping the counts current. */
static size_t take(spread_state *st, size_t i)
{
    size_t e = st->pool[i];
    uint32_t a = st->artist[e];
    st->cnt_of[st->acount[a]]--;
    st->acount[a]--;
    st->cnt_of[st->acount[a]]++;
    st->pool[i] = st->pool[--st->R];
    st->last_artist = a;
    st->last_album = st->album[e];
    return e;
}

kt_status shuffle_spread(const uint32_t *artist, const uint32_t *album, size_t n, size_t *order,
                         shuffle_rng_fn rng, void *rng_ctx, kt_err *err)
{
    spread_state st = {.last_artist = NONE, .last_album = NONE, .R = n};
    uint32_t *dense_a = NULL, *dense_b = NULL, na = 0, nb = 0;
    kt_status rc = KT_OK;
    if (n > SHUFFLE_MAX_ITEMS)
        return err_set(err, KT_ERR_INVALID, "too_many_items",
                       "%zu entries: a shuffle holds at most %u (Spotify's playlist limit)", n,
                       SHUFFLE_MAX_ITEMS);
    if (n == 0)
        return KT_OK;
    dense_a = malloc(n * sizeof *dense_a);
    dense_b = malloc(n * sizeof *dense_b);
    st.pool = malloc(n * sizeof *st.pool);
    st.acount = calloc(n, sizeof *st.acount);
    st.cnt_of = calloc(n + 1, sizeof *st.cnt_of);
    st.bcount = calloc(n, sizeof *st.bcount);
    st.ok = malloc(n);
    size_t *out = malloc(n * sizeof *out);
    if (!dense_a || !dense_b || !st.pool || !st.acount || !st.cnt_of || !st.bcount || !st.ok ||
        !out) {
        rc = err_set(err, KT_ERR_NOMEM, NULL, "out of memory (spread shuffle)");
        goto out;
    }
    if ((rc = densify(artist, n, dense_a, &na, err)) != KT_OK ||
        (rc = densify(album, n, dense_b, &nb, err)) != KT_OK)
        goto out;
    st.artist = dense_a;
    st.album = dense_b;
    for (size_t i = 0; i < n; i++) {
        st.pool[i] = i;
        st.acount[dense_a[i]]++;
    }
    for (uint32_t a = 0; a < na; a++) {
        st.cnt_of[st.acount[a]]++;
        if (st.acount[a] > st.M)
            st.M = st.acount[a];
    }
    for (size_t step = 0; step < n; step++) {
        size_t k = album_candidates(&st, artist_candidates(&st));
        if (k == 0) {
            rc = err_set(err, KT_ERR_INTERNAL, NULL, "spread shuffle: no candidate (a bug)");
            goto out;
        }
        size_t pick = rng(rng_ctx, (uint32_t)k), i = 0;
        for (;; i++)
            if (st.ok[i] && pick-- == 0)
                break;
        out[step] = take(&st, i);
    }
    memcpy(order, out, n * sizeof *out);
out:
    free(out);
    free(dense_a);
    free(dense_b);
    free(st.pool);
    free(st.acount);
    free(st.cnt_of);
    free(st.bcount);
    free(st.ok);
    return rc;
}

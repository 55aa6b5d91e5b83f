/* util.h - small building blocks of spotify-emulator: allocation, growable
 * vectors, a string-keyed hash map, a seeded PRNG, Spotify-style ids, time and
 * URL helpers, and a streaming JSON text writer.
 *
 * Why hand-written:
 *  - PRNG: the synthetic libraries must be byte-identical for the same seed on
 *    every run and machine, so we use splitmix64 + xoshiro256** (public domain
 *    algorithms, a few lines) instead of libsodium's randombytes, which is
 *    deliberately unseedable. Secrets (tokens, codes) DO use libsodium.
 *  - JSON writer: serving thousands of 50-track pages per second means writing
 *    ~1500 JSON values per page; appending text to one buffer is ~10x faster
 *    than building a jansson tree and dumping it. Parsing (request bodies,
 *    control API) uses jansson.
 *
 * Memory policy: the emulator is a test tool; allocation failure aborts with a
 * message (xmalloc family) instead of threading ENOMEM through every handler.
 * Nothing here is thread-safe on shared objects unless said so.
 */
#ifndef EM_UTIL_H
#define EM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation that aborts on failure. xfree is plain free (accepts NULL). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Growable array of T: `VEC(uint32_t) v = {0}; VEC_PUSH(&v, 7); free(v.v);` */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_RESERVE(vec, want) do { \
        if ((want) > (vec)->cap) { \
            size_t nc_ = (vec)->cap ? (vec)->cap * 2 : 8; \
            while (nc_ < (want)) nc_ *= 2; \
            (vec)->v = xrealloc((vec)->v, nc_ * sizeof(*(vec)->v)); \
            (vec)->cap = nc_; \
        } } while (0)
#define VEC_PUSH(vec, val) do { VEC_RESERVE((vec), (vec)->n + 1); \
        (vec)->v[(vec)->n++] = (val); } while (0)
/* Inserts val at index i (0..n), shifting the tail. */
#define VEC_INSERT(vec, i, val) do { size_t i_ = (i); VEC_RESERVE((vec), (vec)->n + 1); \
        memmove(&(vec)->v[i_ + 1], &(vec)->v[i_], ((vec)->n - i_) * sizeof(*(vec)->v)); \
        (vec)->v[i_] = (val); (vec)->n++; } while (0)
#define VEC_REMOVE(vec, i) do { size_t i_ = (i); \
        memmove(&(vec)->v[i_], &(vec)->v[i_ + 1], ((vec)->n - i_ - 1) * sizeof(*(vec)->v)); \
        (vec)->n--; } while (0)

/* String -> uint32 map. The map keeps its own copy of each key (model ids
 * live inside growable arrays, so pointers to them would dangle). */
typedef struct emmap {
    const char **keys;
    uint32_t *vals;
    size_t cap, n;
} emmap;
void emmap_put(emmap *m, const char *key, uint32_t val);   /* insert or replace */
bool emmap_get(const emmap *m, const char *key, uint32_t *val);
void emmap_del(emmap *m, const char *key);
void emmap_free(emmap *m);                                 /* accepts a zeroed map */

/* Deterministic PRNG (xoshiro256**, seeded through splitmix64). */
typedef struct rng { uint64_t s[4]; } rng;
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
uint32_t rng_below(rng *r, uint32_t n);           /* uniform in [0, n); n > 0 */
uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi); /* inclusive; lo <= hi */
double rng_unit(rng *r);                           /* [0, 1) */
uint64_t hash_str(const char *s, uint64_t seed);   /* FNV-1a then mixed */
uint64_t mix64(uint64_t x);                        /* splitmix64 finaliser */

/* Writes a 22-char base62 id plus NUL into out[23]. */
void make_id(rng *r, char out[23]);
/* True when s is exactly 22 base62 characters. */
bool is_base62_id(const char *s);

/* Time. now_ms() is the emulator's clock: real time plus an offset tests can
 * advance (POST /__emulator/clock) to expire codes and tokens without sleeping. */
int64_t now_ms(void);
void clock_advance_ms(int64_t ms);
/* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" for unix seconds; out >= 21 bytes. */
void fmt_iso(int64_t unix_s, char *out, size_t outsz);
/* "YYYY-MM-DD" for unix seconds; out >= 11. */
void fmt_date(int64_t unix_s, char *out, size_t outsz);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" or "YYYY-MM-DD"; false on bad input. */
bool parse_iso(const char *s, int64_t *unix_s);

/* Parses a decimal integer in [lo, hi]; false on anything else. */
bool parse_long(const char *s, long lo, long hi, long *out);

/* Growable text buffer with a JSON writer on top. */
typedef struct jw {
    char *p;
    size_t len, cap;
    int depth;
    bool after_key;
    uint64_t nonempty;     /* bit per depth: an element was written at that depth */
} jw;
void jw_init(jw *w);
void jw_free(jw *w);
char *jw_detach(jw *w, size_t *len);   /* caller frees; w is reset */
void jw_raw(jw *w, const char *s, size_t n);
void jw_rawz(jw *w, const char *s);
void jw_printf(jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jw_obj(jw *w);
void jw_obj_end(jw *w);
void jw_arr(jw *w);
void jw_arr_end(jw *w);
void jw_key(jw *w, const char *k);
void jw_str(jw *w, const char *s);     /* NULL -> null */
void jw_strn(jw *w, const char *s, size_t n);
void jw_int(jw *w, int64_t v);
void jw_double(jw *w, double v);
void jw_bool(jw *w, bool v);
void jw_null(jw *w);
void jw_json(jw *w, const char *json, size_t n); /* a complete pre-serialized value */
/* Starts a value whose text the caller appends with jw_raw/jw_printf. */
void jw_begin_value(jw *w);
static inline void jw_kstr(jw *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
static inline void jw_kint(jw *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
static inline void jw_kbool(jw *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }
static inline void jw_knull(jw *w, const char *k) { jw_key(w, k); jw_null(w); }

/* Percent-encodes s (RFC 3986 unreserved kept) onto w as raw text. */
void url_encode_to(jw *w, const char *s);

#endif

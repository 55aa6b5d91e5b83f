/* util.c - implementation of the emulator's building blocks (see util.h for
 * why the PRNG and the JSON writer are hand-written). */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>

static void oom(void)
{
    fputs("spotify-emulator: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom();
    return q;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) oom();
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p) oom();
    return p;
}

/* ---- hash map (open addressing, linear probing, tombstones) ---- */

static const char TOMB[] = "";

uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t hash_str(const char *s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return mix64(h);
}

static void emmap_grow(emmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    const char **ok = m->keys;
    uint32_t *ov = m->vals;
    size_t ocap = m->cap;
    m->keys = xcalloc(ncap, sizeof(*m->keys));
    m->vals = xcalloc(ncap, sizeof(*m->vals));
    m->cap = ncap;
    m->n = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (!ok[i] || ok[i] == TOMB) continue;
        size_t j = hash_str(ok[i], 0) & (ncap - 1);
        while (m->keys[j]) j = (j + 1) & (ncap - 1);
        m->keys[j] = ok[i];
        m->vals[j] = ov[i];
        m->n++;
    }
    free(ok);
    free(ov);
}

void emmap_put(emmap *m, const char *key, uint32_t val)
{
    if ((m->n + 1) * 10 >= m->cap * 7) emmap_grow(m);
    size_t mask = m->cap - 1, i = hash_str(key, 0) & mask, tomb = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        if (!m->keys[i]) break;
        if (m->keys[i] == TOMB) { if (tomb == SIZE_MAX) tomb = i; continue; }
        if (strcmp(m->keys[i], key) == 0) { m->vals[i] = val; return; }
    }
    if (tomb != SIZE_MAX) i = tomb; else m->n++;
    m->keys[i] = xstrdup(key);
    m->vals[i] = val;
}

static size_t emmap_find(const emmap *m, const char *key)
{
    if (!m->cap) return SIZE_MAX;
    size_t mask = m->cap - 1, i = hash_str(key, 0) & mask;
    for (size_t probes = 0; probes < m->cap; probes++, i = (i + 1) & mask) {
        if (!m->keys[i]) return SIZE_MAX;
        if (m->keys[i] != TOMB && strcmp(m->keys[i], key) == 0) return i;
    }
    return SIZE_MAX;
}

bool emmap_get(const emmap *m, const char *key, uint32_t *val)
{
    size_t i = emmap_find(m, key);
    if (i == SIZE_MAX) return false;
    *val = m->vals[i];
    return true;
}

void emmap_del(emmap *m, const char *key)
{
    size_t i = emmap_find(m, key);
    if (i == SIZE_MAX) return;
    free((char *)m->keys[i]);
    m->keys[i] = TOMB;
}

void emmap_free(emmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB) free((char *)m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- PRNG ---- */

void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = mix64(x);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(rng *r, uint32_t n)
{
    return n ? (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi)
{
    return hi <= lo ? lo : lo + rng_below(r, hi - lo + 1);
}

double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }

static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void make_id(rng *r, char out[23])
{
    for (int i = 0; i < 22; i++) out[i] = B62[rng_below(r, 62)];
    out[22] = '\0';
}

bool is_base62_id(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    }
    return i == 22;
}

/* ---- time ---- */

static _Atomic int64_t clock_offset_ms;

void clock_advance_ms(int64_t ms) { clock_offset_ms += ms; }

int64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

void fmt_iso(int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outsz, "1970-01-01T00:00:00Z");
}

void fmt_date(int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%d", &tm))
        snprintf(out, outsz, "1970-01-01");
}

bool parse_iso(const char *s, int64_t *unix_s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end) {
        if (*end == '.') { end++; while (*end >= '0' && *end <= '9') end++; }
        if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0) return false;
    } else {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end) return false;
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return false;
    *unix_s = (int64_t)t;
    return true;
}

bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* ---- JSON writer ---- */

void jw_init(jw *w) { memset(w, 0, sizeof(*w)); }

void jw_free(jw *w)
{
    if (!w) return;
    free(w->p);
    memset(w, 0, sizeof(*w));
}

char *jw_detach(jw *w, size_t *len)
{
    char *p = w->p ? w->p : xstrdup("");
    if (len) *len = w->len;
    memset(w, 0, sizeof(*w));
    return p;
}

static void jw_reserve(jw *w, size_t extra)
{
    if (w->len + extra + 1 <= w->cap) return;
    size_t nc = w->cap ? w->cap * 2 : 1024;
    while (nc < w->len + extra + 1) nc *= 2;
    w->p = xrealloc(w->p, nc);
    w->cap = nc;
}

void jw_raw(jw *w, const char *s, size_t n)
{
    jw_reserve(w, n);
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

void jw_rawz(jw *w, const char *s) { jw_raw(w, s, strlen(s)); }

void jw_printf(jw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    jw_reserve(w, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

/* Writes the separator before a value or key at the current depth. */
static void jw_sep(jw *w)
{
    if (w->after_key) { w->after_key = false; return; }
    uint64_t bit = 1ULL << (w->depth & 63);
    if (w->nonempty & bit) jw_raw(w, ",", 1);
    w->nonempty |= bit;
}

static void jw_open(jw *w, char c)
{
    jw_sep(w);
    jw_raw(w, &c, 1);
    w->depth++;
    w->nonempty &= ~(1ULL << (w->depth & 63));
}

static void jw_close(jw *w, char c)
{
    w->depth--;
    jw_raw(w, &c, 1);
}

void jw_obj(jw *w) { jw_open(w, '{'); }
void jw_obj_end(jw *w) { jw_close(w, '}'); }
void jw_arr(jw *w) { jw_open(w, '['); }
void jw_arr_end(jw *w) { jw_close(w, ']'); }

static void jw_quoted(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jw_reserve(w, n + 2);
    w->p[w->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        jw_raw(w, s + run, i - run);
        run = i + 1;
        char esc[7];
        switch (c) {
        case '"': jw_raw(w, "\\\"", 2); break;
        case '\\': jw_raw(w, "\\\\", 2); break;
        case '\n': jw_raw(w, "\\n", 2); break;
        case '\t': jw_raw(w, "\\t", 2); break;
        case '\r': jw_raw(w, "\\r", 2); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            jw_raw(w, esc, 6);
        }
    }
    jw_raw(w, s + run, n - run);
    jw_raw(w, "\"", 1);
}

void jw_key(jw *w, const char *k)
{
    jw_sep(w);
    jw_quoted(w, k, strlen(k));
    jw_raw(w, ":", 1);
    w->after_key = true;
}

void jw_str(jw *w, const char *s)
{
    if (!s) { jw_null(w); return; }
    jw_sep(w);
    jw_quoted(w, s, strlen(s));
}

void jw_strn(jw *w, const char *s, size_t n)
{
    jw_sep(w);
    jw_quoted(w, s, n);
}

void jw_int(jw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%lld", (long long)v);
    jw_sep(w);
    jw_raw(w, b, (size_t)n);
}

void jw_double(jw *w, double v)
{
    char b[40];
    int n = snprintf(b, sizeof(b), "%.3f", v);
    jw_sep(w);
    jw_raw(w, b, (size_t)n);
}

void jw_bool(jw *w, bool v)
{
    jw_sep(w);
    if (v) jw_raw(w, "true", 4); else jw_raw(w, "false", 5);
}

void jw_null(jw *w)
{
    jw_sep(w);
    jw_raw(w, "null", 4);
}

void jw_begin_value(jw *w) { jw_sep(w); }

void jw_json(jw *w, const char *json, size_t n)
{
    jw_sep(w);
    jw_raw(w, json, n);
}

void url_encode_to(jw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            jw_raw(w, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            jw_raw(w, e, 3);
        }
    }
}

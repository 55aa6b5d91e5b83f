/* jsonutil.c - tolerant getters and a depth-bounded parse (see jsonutil.h). */
#include "core/jsonutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/json_arena.h"

/* Texts from this size on are parsed into an arena (json_arena.h): a
 * Spotify page is 20-500 KB; below, a region is not worth its setup. */
#define ARENA_MIN_TEXT (16 * 1024)

static const json_t *member(const json_t *obj, const char *key)
{
    return obj && key && json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

const char *json_str(const json_t *obj, const char *key)
{
    const json_t *v = member(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A real converts only when it is integral and inside int64's range (the
 * bounds are exact powers of two, so the comparison is exact). */
static int real_to_int64(double d, int64_t *out)
{
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return 0;
    *out = (int64_t)d;
    return 1;
}

int64_t json_int(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = member(obj, key);
    int64_t r;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v) && real_to_int64(json_real_value(v), &r))
        return r;
    return dflt;
}

double json_dbl(const json_t *obj, const char *key, double dflt)
{
    const json_t *v = member(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int json_bool(const json_t *obj, const char *key, int dflt)
{
    const json_t *v = member(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

const json_t *json_arr(const json_t *obj, const char *key)
{
    const json_t *v = member(obj, key);
    return json_is_array(v) ? v : NULL;
}

const json_t *json_obj(const json_t *obj, const char *key)
{
    const json_t *v = member(obj, key);
    return json_is_object(v) ? v : NULL;
}

/* Decimal array index; -1 when seg is not all digits or too large. */
static long parse_index(const char *seg)
{
    if (!*seg || strlen(seg) > 9)
        return -1;
    long n = 0;
    for (const char *p = seg; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

const json_t *json_path(const json_t *root, const char *dotted)
{
    if (!root || !dotted)
        return NULL;
    const json_t *cur = root;
    const char *p = dotted;
    while (*p && cur) {
        size_t n = strcspn(p, ".");
        char seg[256];
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            long i = parse_index(seg);
            cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else {
            return NULL;
        }
        p += n;
        if (*p == '.' && !*++p)
            return NULL; /* trailing dot */
    }
    return cur;
}

const char *json_path_str(const json_t *root, const char *dotted)
{
    const json_t *v = json_path(root, dotted);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- json_parse_bounded: yajl's parser building a jansson tree ----
 *
 * jansson's own json_loadb was measured at ~18-35 MB/s on Spotify's pages
 * (32.6 M instructions per 177 KB playlist-items page under callgrind): its
 * character-at-a-time lexer made a 616-request sync CPU-bound on parsing.
 * yajl (Debian's libyajl, already used for history import) lexes the same
 * grammar in 3.8 M instructions, and building the jansson tree from its
 * callbacks costs ~10 M in all: about 3 x less.
 *
 * The result is what json_loadb(JSON_DECODE_ANY) gives, checked by a
 * differential unit test: integers as json_int_t and other numbers as reals
 * (overflow refused, underflow allowed), later duplicate keys replacing
 * earlier ones, keys in document order, nothing but white space after the
 * value, strings and keys valid UTF-8 without \u0000. yajl's own UTF-8
 * check is turned off because it lets overlong forms and encoded surrogates
 * through; utf8_valid below is jansson's rule with an ASCII fast path. yajl
 * would turn an unpaired \uD800-\uDFFF escape into '?', so escapes are
 * checked first (one memchr pass: backslashes are rare). The nesting bound
 * is checked as containers open, so a deep document is refused without
 * recursion.
 */

typedef struct tree_builder {
    json_t **stack;     /* open containers, stack[0] outermost */
    size_t depth, max_depth;
    char *key;          /* the pending member name (yajl's pointer is transient) */
    size_t key_len, key_cap;
    json_t *root;
    const json_parse_opts *opts;
    size_t skipping;    /* > 0: inside a dropped member's value, its nesting + 1 */
    const char *why;    /* set when a callback refuses the document */
    int nomem;
} tree_builder;

/* RFC 3629 UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF): what jansson accepts. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (len == 0 || n - i < len)
            return 0;
        unsigned c1 = s[i + 1];
        if ((c1 & 0xC0) != 0x80 || (c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
            (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
            return 0;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

/* A scalar or container is starting: while a dropped member's value is
 * being read, nothing is built. */
static int tb_skip(tree_builder *b)
{
    if (b->skipping == 1) { /* the dropped value is this scalar: done with it */
        b->skipping = 0;
        return 1;
    }
    return b->skipping > 1; /* inside a dropped container */
}

/* Adds v (a new reference, stolen) where the document is: the root, the
 * pending member of the innermost object, or the next array element. */
static int tb_add(tree_builder *b, json_t *v)
{
    if (!v) {
        b->nomem = 1;
        return 0;
    }
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    json_t *top = b->stack[b->depth - 1];
    /* the key was checked in tb_map_key: the only failure left is memory */
    int rc = json_is_object(top) ? json_object_setn_new_nocheck(top, b->key, b->key_len, v)
                                 : json_array_append_new(top, v);
    if (rc != 0)
        b->nomem = 1;
    return rc == 0;
}

static int tb_null(void *ctx)
{
    tree_builder *b = ctx;
    return tb_skip(b) ? 1 : tb_add(b, json_null());
}

static int tb_boolean(void *ctx, int v)
{
    tree_builder *b = ctx;
    return tb_skip(b) ? 1 : tb_add(b, json_boolean(v));
}

/* jansson's rule: a number without fraction or exponent is an integer
 * (ERANGE refused), any other is a real (overflow refused). */
static int tb_number(void *ctx, const char *s, size_t n)
{
    tree_builder *b = ctx;
    char small[64], *text = small, *end = NULL;
    json_t *v = NULL;
    if (tb_skip(b))
        return 1;
    if (n >= sizeof small && !(text = malloc(n + 1))) {
        b->nomem = 1;
        return 0;
    }
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    if (!memchr(text, '.', n) && !memchr(text, 'e', n) && !memchr(text, 'E', n)) {
        long long i = strtoll(text, &end, 10);
        if (errno == ERANGE)
            b->why = i < 0 ? "too big negative integer" : "too big integer";
        else
            v = json_integer((json_int_t)i);
    } else {
        double d = strtod(text, &end);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            b->why = "real number overflow";
        else
            v = json_real(d);
    }
    if (text != small)
        free(text);
    return b->why ? 0 : tb_add(b, v);
}

static int tb_string(void *ctx, const unsigned char *s, size_t n)
{
    tree_builder *b = ctx;
    if (tb_skip(b))
        return 1;
    if (memchr(s, '\0', n)) {
        b->why = "\\u0000 is not allowed in a string";
        return 0;
    }
    if (!utf8_valid(s, n)) {
        b->why = "invalid UTF-8 in a string";
        return 0;
    }
    return tb_add(b, json_stringn_nocheck((const char *)s, n));
}

static int tb_open(tree_builder *b, json_t *c)
{
    if (b->depth >= b->max_depth) {
        json_decref(c);
        b->why = "nested too deep";
        return 0;
    }
    json_incref(c); /* one reference for the parent, one held by the stack */
    if (!tb_add(b, c)) {
        json_decref(c);
        return 0;
    }
    b->stack[b->depth++] = c;
    json_decref(c);
    return 1;
}

static int tb_start(tree_builder *b, int object)
{
    if (b->skipping) {
        b->skipping++;
        return 1;
    }
    return tb_open(b, object ? json_object() : json_array());
}

static int tb_start_map(void *ctx)
{
    return tb_start(ctx, 1);
}

static int tb_start_array(void *ctx)
{
    return tb_start(ctx, 0);
}

static int tb_close(void *ctx)
{
    tree_builder *b = ctx;
    if (b->skipping) {
        /* 2 = the dropped container itself closes */
        b->skipping = b->skipping == 2 ? 0 : b->skipping - 1;
        return 1;
    }
    b->depth--;
    return 1;
}

static int key_is(const char *want, const unsigned char *s, size_t n)
{
    return want && strlen(want) == n && memcmp(want, s, n) == 0;
}

/* The caller's drop rules: member `never` anywhere, member `drop` of an
 * object that already has a member `if_present`; neither is built (its
 * value is still checked by yajl). */
static int tb_dropped(const tree_builder *b, const unsigned char *s, size_t n)
{
    const json_parse_opts *o = b->opts;
    return o && (key_is(o->never, s, n) ||
                 (o->if_present && key_is(o->drop, s, n) &&
                  json_object_get(b->stack[b->depth - 1], o->if_present) != NULL));
}

static int tb_map_key(void *ctx, const unsigned char *s, size_t n)
{
    tree_builder *b = ctx;
    if (b->skipping)
        return 1;
    if (memchr(s, '\0', n)) {
        b->why = "NUL byte in object key not supported";
        return 0;
    }
    if (!utf8_valid(s, n)) {
        b->why = "invalid UTF-8 in an object key";
        return 0;
    }
    if (tb_dropped(b, s, n)) {
        b->skipping = 1;
        return 1;
    }
    if (n >= b->key_cap) {
        size_t cap = b->key_cap ? b->key_cap : 64;
        while (cap <= n)
            cap *= 2;
        char *k = realloc(b->key, cap);
        if (!k) {
            b->nomem = 1;
            return 0;
        }
        b->key = k;
        b->key_cap = cap;
    }
    memcpy(b->key, s, n);
    b->key[n] = '\0';
    b->key_len = n;
    return 1;
}

static const yajl_callbacks tree_callbacks = {
    .yajl_null = tb_null,
    .yajl_boolean = tb_boolean,
    .yajl_number = tb_number,
    .yajl_string = tb_string,
    .yajl_start_map = tb_start_map,
    .yajl_map_key = tb_map_key,
    .yajl_end_map = tb_close,
    .yajl_start_array = tb_start_array,
    .yajl_end_array = tb_close,
};

static int hex4(const char *p, size_t left, unsigned *out)
{
    unsigned v = 0;
    if (left < 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 1;
}

/* Offset of the first unpaired surrogate escape (\uD800-\uDBFF not followed
 * by \uDC00-\uDFFF, or a lone \uDC00-\uDFFF), or n when there is none. A
 * backslash outside a string is a syntax error yajl reports anyway. */
static size_t bad_surrogate_at(const char *p, size_t n)
{
    const char *q = p, *end = p + n;
    while ((q = memchr(q, '\\', (size_t)(end - q))) && end - q >= 2) {
        unsigned hi, lo;
        if (q[1] != 'u' || !hex4(q + 2, (size_t)(end - q - 2), &hi) || hi < 0xD800 || hi > 0xDFFF) {
            q += 2; /* any escape, including \\ (so \\u is not mistaken for one) */
            continue;
        }
        if (hi >= 0xDC00 || end - q < 12 || q[6] != '\\' || q[7] != 'u' ||
            !hex4(q + 8, 4, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return (size_t)(q - p);
        q += 12;
    }
    return n;
}

/* Line and column (1-based, in bytes) of offset `at`, for error messages. */
static void line_col(const char *p, size_t n, size_t at, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < at && i < n; i++) {
        if (p[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* yajl's short message ("lexical error: invalid char in json text.") names
 * the problem without quoting the input (a token may be a secret). */
static kt_status syntax_error(yajl_handle h, const char *p, size_t n, const tree_builder *b,
                              kt_err *err)
{
    int line, col;
    size_t at = yajl_get_bytes_consumed(h);
    unsigned char *msg = NULL;
    if (b->why && strcmp(b->why, "nested too deep") == 0)
        return err_set(err, KT_ERR_INVALID, "bad_json", "JSON nests deeper than %zu levels",
                       b->max_depth);
    line_col(p, n, at, &line, &col);
    if (!b->why)
        msg = yajl_get_error(h, 0, (const unsigned char *)p, n);
    kt_status st = err_set(err, KT_ERR_INVALID, "bad_json", "malformed JSON at line %d column %d: %s",
                           line, col, b->why ? b->why : msg ? (const char *)msg : "syntax error");
    if (msg)
        yajl_free_error(h, msg);
    return st;
}

kt_status json_parse_bounded(const char *p, size_t n, size_t max_depth, json_t **out, kt_err *err)
{
    return json_parse_bounded_opts(p, n, max_depth, NULL, out, err);
}

kt_status json_parse_bounded_opts(const char *p, size_t n, size_t max_depth,
                                  const json_parse_opts *opts, json_t **out, kt_err *err)
{
    tree_builder b = {.opts = opts};
    yajl_handle h = NULL;
    kt_status st = KT_OK;
    if (!p)
        return err_set(err, KT_ERR_INVALID, "bad_json", "no JSON given");
    b.max_depth = max_depth ? max_depth : JSON_DEFAULT_MAX_DEPTH;
    if (!(b.stack = malloc(b.max_depth * sizeof *b.stack)) ||
        !(h = yajl_alloc(&tree_callbacks, NULL, &b))) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory parsing JSON");
        goto out;
    }
    size_t bad = bad_surrogate_at(p, n);
    if (bad < n) {
        int line, col;
        line_col(p, n, bad, &line, &col);
        st = err_set(err, KT_ERR_INVALID, "bad_json",
                     "malformed JSON at line %d column %d: invalid Unicode escape", line, col);
        goto out;
    }
    /* utf8_valid checks every string and key (tb_string, tb_map_key) */
    yajl_config(h, yajl_dont_validate_strings, 1);
    json_arena *arena = n >= ARENA_MIN_TEXT ? json_arena_begin() : NULL;
    yajl_status ys = yajl_parse(h, (const unsigned char *)p, n);
    if (ys == yajl_status_ok)
        ys = yajl_complete_parse(h);
    json_arena_end(arena);
    if (b.nomem)
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory parsing JSON");
    else if (ys != yajl_status_ok || !b.root)
        st = syntax_error(h, p, n, &b, err);
out:
    if (h)
        yajl_free(h);
    free(b.stack);
    free(b.key);
    if (st != KT_OK) {
        json_decref(b.root);
        return st;
    }
    *out = b.root;
    return KT_OK;
}

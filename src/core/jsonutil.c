/* jsonutil.c - tolerant getters and a depth-bounded parse (see jsonutil.h). */
#include "core/jsonutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* jansson has no run-time nesting limit (only a compile-time one in recent
 * versions), and a deep document costs stack and memory, so the brackets are
 * counted first, outside strings, in one pass that stops at the limit. */
static int depth_exceeds(const char *p, size_t n, size_t max_depth)
{
    size_t depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return 1;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return 0;
}

kt_status json_parse_bounded(const char *p, size_t n, size_t max_depth, json_t **out, kt_err *err)
{
    if (!p)
        return err_set(err, KT_ERR_INVALID, "bad_json", "no JSON given");
    if (!max_depth)
        max_depth = JSON_DEFAULT_MAX_DEPTH;
    if (depth_exceeds(p, n, max_depth))
        return err_set(err, KT_ERR_INVALID, "bad_json", "JSON nests deeper than %zu levels", max_depth);
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY, &je);
    if (!v) {
        /* jansson quotes the offending token ("... near 'abc'"), which may be a
         * piece of a token or other secret: keep only the reason. */
        char *near = strstr(je.text, " near ");
        if (near)
            *near = '\0';
        return err_set(err, KT_ERR_INVALID, "bad_json", "malformed JSON at line %d column %d: %s", je.line,
                       je.column, je.text);
    }
    *out = v;
    return KT_OK;
}

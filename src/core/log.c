/* log.c - structured logs in logfmt or JSON lines (see log.h).
 *
 * A line is built in a bounded buf, then written with one fwrite under a
 * mutex so lines from different threads never interleave. Both formats share
 * one escaper (JSON string escapes); logfmt only adds quotes when a value
 * needs them. Invalid UTF-8 is replaced by U+FFFD so the JSON stays valid.
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/timeutil.h"

#define LOG_VALUE_MAX 2048 /* bytes of one value before it is cut */
#define LOG_PAIRS_MAX 64
#define LOG_KEY_MAX 64

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_sink;                  /* guarded by log_mu; NULL = stderr */
static atomic_int log_min_level = LOG_INFO;
static atomic_int log_json;             /* 0 = logfmt, 1 = JSON lines */
static atomic_int log_timestamps = 1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

kt_status log_init(const char *level, const char *format)
{
    int lv = level ? log_level_parse(level) : atomic_load(&log_min_level);
    if (lv < 0)
        return KT_ERR_INVALID;
    int json = atomic_load(&log_json);
    if (format) {
        if (strcmp(format, "logfmt") == 0)
            json = 0;
        else if (strcmp(format, "json") == 0)
            json = 1;
        else
            return KT_ERR_INVALID;
    }
    atomic_store(&log_min_level, lv);
    atomic_store(&log_json, json);
    return KT_OK;
}

void log_set_sink(FILE *f)
{
    pthread_mutex_lock(&log_mu);
    log_sink = f;
    pthread_mutex_unlock(&log_mu);
}

void log_set_timestamps(int on)
{
    atomic_store(&log_timestamps, on != 0);
}

int log_enabled(int level)
{
    return level >= atomic_load(&log_min_level);
}

const char *log_redact(const char *secret, char out[32])
{
    if (!secret)
        snprintf(out, 32, "<redacted:null>");
    else
        snprintf(out, 32, "<redacted:%zu>", strlen(secret));
    return out;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A logfmt value needs quotes when empty or holding a space, '=', a quote, a
 * backslash, a control character or non-ASCII bytes. */
static int needs_quotes(const char *v, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c >= 0x7f)
            return 1;
    }
    return 0;
}

/* Appends v as the body of a JSON string (no quotes). */
static void put_escaped(buf *b, const char *v, size_t n)
{
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t run = utf8_seq_len(s + i, n - i);
        if (run == 0) {
            buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for an invalid byte */
            i++;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(b, esc, 2);
            i++;
        } else if (c == '\n') {
            buf_puts(b, "\\n"), i++;
        } else if (c == '\r') {
            buf_puts(b, "\\r"), i++;
        } else if (c == '\t') {
            buf_puts(b, "\\t"), i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c), i++;
        } else {
            buf_append(b, s + i, run);
            i += run;
        }
    }
}

/* Keys are restricted so they never need escaping in either format. */
static void put_key(buf *b, const char *k)
{
    size_t n = 0;
    for (; k[n] && n < LOG_KEY_MAX; n++) {
        char c = k[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        buf_append(b, ok ? &c : "_", 1);
    }
    if (n == 0)
        buf_puts(b, "_");
}

/* JSON number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* One key/value pair. value NULL = null. numeric: emit unquoted in JSON.
 * Values longer than LOG_VALUE_MAX are cut and end in "...". */
static void put_pair(buf *b, int json, const char *key, const char *value, int numeric)
{
    size_t n = value ? strnlen(value, LOG_VALUE_MAX + 1) : 0;
    char cut[LOG_VALUE_MAX + 1];
    if (n > LOG_VALUE_MAX) {
        memcpy(cut, value, LOG_VALUE_MAX - 3);
        memcpy(cut + LOG_VALUE_MAX - 3, "...", 4);
        value = cut;
        n = LOG_VALUE_MAX;
    }
    if (json) {
        buf_puts(b, ",\"");
        put_key(b, key);
        buf_puts(b, "\":");
        if (!value) {
            buf_puts(b, "null");
        } else if (numeric && is_json_number(value)) {
            buf_puts(b, value);
        } else {
            buf_puts(b, "\"");
            put_escaped(b, value, n);
            buf_puts(b, "\"");
        }
        return;
    }
    buf_puts(b, " ");
    put_key(b, key);
    buf_puts(b, "=");
    if (!value) {
        buf_puts(b, "null");
    } else if (needs_quotes(value, n)) {
        buf_puts(b, "\"");
        put_escaped(b, value, n);
        buf_puts(b, "\"");
    } else {
        buf_append(b, value, n);
    }
}

/* A pair is rendered into tmp first and appended whole: one that would push
 * the line past its cap is dropped (and the line marked truncated) rather
 * than cut, so JSON lines stay well-formed. */
static int add_pair(buf *b, buf *tmp, int json, const char *key, const char *value, int numeric)
{
    buf_reset(tmp);
    put_pair(tmp, json, key, value, numeric);
    if (!tmp->data || buf_append(b, tmp->data, tmp->len) != KT_OK)
        return -1;
    return 0;
}

static void line_begin(buf *b, int json, int level, const char *event)
{
    char ts[32];
    int with_ts = atomic_load(&log_timestamps);
    if (with_ts)
        time_format_iso8601(time_now_ms(), ts);
    if (json) {
        buf_puts(b, "{");
        if (with_ts)
            buf_printf(b, "\"ts\":\"%s\",", ts);
        buf_printf(b, "\"level\":\"%s\"", level_names[level]);
        put_pair(b, 1, "event", event ? event : "", 0);
    } else {
        if (with_ts)
            buf_printf(b, "ts=%s ", ts);
        buf_printf(b, "level=%s", level_names[level]);
        put_pair(b, 0, "event", event ? event : "", 0);
    }
}

static void line_end_and_write(buf *b, int json, int truncated)
{
    b->max = 0; /* the trailer always fits: the pairs left room for it */
    if (truncated)
        buf_puts(b, json ? ",\"truncated\":true" : " truncated=true");
    buf_puts(b, json ? "}\n" : "\n");
    if (!b->data)
        return;
    pthread_mutex_lock(&log_mu);
    FILE *f = log_sink ? log_sink : stderr;
    fwrite(b->data, 1, b->len, f);
    fflush(f);
    pthread_mutex_unlock(&log_mu);
}

static int clamp_level(int level)
{
    return level < LOG_DEBUG ? LOG_DEBUG : level > LOG_ERROR ? LOG_ERROR : level;
}

void log_kv(int level, const char *event, ...)
{
    level = clamp_level(level);
    if (!log_enabled(level))
        return;
    int json = atomic_load(&log_json), truncated = 0;
    buf b, tmp;
    buf_init(&b, LOG_LINE_MAX - 64);
    buf_init(&tmp, 0);
    line_begin(&b, json, level, event);
    va_list ap;
    va_start(ap, event);
    for (int i = 0; i < LOG_PAIRS_MAX; i++) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!truncated && add_pair(&b, &tmp, json, k, v, 0) != 0)
            truncated = 1;
    }
    va_end(ap);
    line_end_and_write(&b, json, truncated);
    buf_free(&b);
    buf_free(&tmp);
}

/* --- log_event: "key=%fmt key2=%fmt" ------------------------------------ */

/* One printf conversion starting at f (just after '%'): how many int
 * arguments '*' consumes, its length modifier and conversion character.
 * Returns the pointer after the conversion, NULL when malformed. */
static const char *scan_conversion(const char *f, int *stars, char len[3], char *conv)
{
    *stars = 0;
    while (*f && strchr("-+ #0'", *f))
        f++;
    if (*f == '*')
        (*stars)++, f++;
    else
        while (*f >= '0' && *f <= '9')
            f++;
    if (*f == '.') {
        f++;
        if (*f == '*')
            (*stars)++, f++;
        else
            while (*f >= '0' && *f <= '9')
                f++;
    }
    size_t n = 0;
    while (*f && strchr("hljztLq", *f) && n < 2)
        len[n++] = *f++;
    len[n] = '\0';
    if (!*f || !strchr("diouxXeEfFgGaAcspm%", *f))
        return NULL;
    *conv = *f;
    return f + 1;
}

/* Moves ap past the argument of one conversion. */
static void skip_arg(va_list *ap, const char *len, char conv)
{
    if (strchr("diouxXc", conv)) {
        if (strcmp(len, "l") == 0)
            (void)va_arg(*ap, long);
        else if (strcmp(len, "ll") == 0 || strcmp(len, "q") == 0)
            (void)va_arg(*ap, long long);
        else if (strcmp(len, "j") == 0)
            (void)va_arg(*ap, intmax_t);
        else if (strcmp(len, "z") == 0)
            (void)va_arg(*ap, size_t);
        else if (strcmp(len, "t") == 0)
            (void)va_arg(*ap, ptrdiff_t);
        else
            (void)va_arg(*ap, int);
    } else if (strchr("eEfFgGaA", conv)) {
        if (strcmp(len, "L") == 0)
            (void)va_arg(*ap, long double);
        else
            (void)va_arg(*ap, double);
    } else if (conv == 's' || conv == 'p') {
        (void)va_arg(*ap, void *);
    }
}

/* Formats the value format vf (one token of fmt_kv) into out, consuming its
 * arguments from *ap. *numeric is set when vf is exactly one numeric
 * conversion. Returns -1 for a malformed format (then the rest of the
 * arguments cannot be located and the caller stops). */
static int format_value(const char *vf, size_t vlen, va_list *ap, char *out, size_t outsz, int *numeric)
{
    char fmt[256];
    if (vlen >= sizeof fmt)
        return -1;
    memcpy(fmt, vf, vlen);
    fmt[vlen] = '\0';
    int convs = 0, num = 0;
    va_list copy;
    va_copy(copy, *ap);
    /* The format was checked by the compiler at the log_event call (format
     * attribute); fmt is a piece of it, so printing it is as safe. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int n = vsnprintf(out, outsz, fmt, copy);
#pragma GCC diagnostic pop
    va_end(copy);
    for (const char *f = fmt; (f = strchr(f, '%')) != NULL;) {
        int stars;
        char len[3], conv;
        f = scan_conversion(f + 1, &stars, len, &conv);
        if (!f || conv == 'n')
            return -1;
        for (int i = 0; i < stars; i++)
            (void)va_arg(*ap, int);
        skip_arg(ap, len, conv);
        if (conv != '%')
            convs++, num = strchr("diueEfFgG", conv) != NULL;
    }
    if (n < 0)
        return -1;
    if ((size_t)n >= outsz && outsz > 4)
        memcpy(out + outsz - 4, "...", 4);
    *numeric = convs == 1 && num && fmt[0] == '%';
    return 0;
}

void log_event(int level, const char *event, const char *fmt_kv, ...)
{
    level = clamp_level(level);
    if (!log_enabled(level))
        return;
    int json = atomic_load(&log_json), truncated = 0;
    buf b, tmp;
    buf_init(&b, LOG_LINE_MAX - 64);
    buf_init(&tmp, 0);
    line_begin(&b, json, level, event);
    va_list ap;
    va_start(ap, fmt_kv);
    const char *p = fmt_kv ? fmt_kv : "";
    for (int pairs = 0; *p && pairs < LOG_PAIRS_MAX; pairs++) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t tok = strcspn(p, " ");
        const char *eq = memchr(p, '=', tok);
        char key[LOG_KEY_MAX + 1] = "msg";
        const char *vf = p;
        if (eq && eq > p && (size_t)(eq - p) <= LOG_KEY_MAX) {
            memcpy(key, p, (size_t)(eq - p));
            key[eq - p] = '\0';
            vf = eq + 1;
        }
        char val[LOG_VALUE_MAX + 1];
        int numeric = 0;
        if (format_value(vf, tok - (size_t)(vf - p), &ap, val, sizeof val, &numeric) != 0) {
            truncated = 1;
            break;
        }
        if (!truncated && add_pair(&b, &tmp, json, key, val, numeric) != 0)
            truncated = 1;
        p += tok;
    }
    va_end(ap);
    line_end_and_write(&b, json, truncated);
    buf_free(&b);
    buf_free(&tmp);
}

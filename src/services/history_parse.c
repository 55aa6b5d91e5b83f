/* history_parse.c - the streaming splitter and the record parser of
 * Spotify's listening-history export files (see history_parse.h for the
 * formats and why the splitter is hand-written).
 */
#include "services/history_parse.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/timeutil.h"

#define READ_CHUNK (64 * 1024)

typedef enum split_state {
    S_START,      /* before '[' (whitespace, a UTF-8 BOM) */
    S_FIRST,      /* after '[': an element or ']' */
    S_ELEM,       /* after ',': an element is required */
    S_IN,         /* inside an element */
    S_AFTER,      /* after an element: ',' or ']' */
    S_END,        /* after the closing ']': whitespace only */
    S_DONE,       /* end of input reached after S_END */
    S_FAILED
} split_state;

struct history_split {
    history_read_fn read;
    void *read_ctx;
    history_tap_fn tap;
    void *tap_ctx;
    split_state state;
    char *in;          /* read buffer */
    size_t in_len, in_pos, tap_from;
    char *elem;        /* the element being collected */
    size_t elem_len;
    int depth;         /* of {} / [] inside the element; 0 for a scalar */
    int in_string, escape, scalar;
    size_t bom;        /* BOM bytes matched at the start */
    int64_t count, offset;
    kt_err failure;
};

history_split *history_split_new(history_read_fn read, void *read_ctx, history_tap_fn tap,
                                 void *tap_ctx)
{
    history_split *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->in = malloc(READ_CHUNK);
    h->elem = malloc(HISTORY_MAX_RECORD + 1);
    if (!h->in || !h->elem) {
        history_split_free(h);
        return NULL;
    }
    h->read = read;
    h->read_ctx = read_ctx;
    h->tap = tap;
    h->tap_ctx = tap_ctx;
    return h;
}

void history_split_free(history_split *h)
{
    if (!h)
        return;
    free(h->in);
    free(h->elem);
    free(h);
}

int64_t history_split_count(const history_split *h)
{
    return h->count;
}

int64_t history_split_offset(const history_split *h)
{
    return h->offset;
}

/* Passes the consumed bytes [tap_from, upto) of the read buffer on. */
static void tap_upto(history_split *h, size_t upto)
{
    if (upto > h->tap_from) {
        if (h->tap)
            h->tap(h->tap_ctx, h->in + h->tap_from, upto - h->tap_from);
        h->offset += (int64_t)(upto - h->tap_from);
    }
    h->tap_from = upto;
}

static kt_status fail(history_split *h, kt_err *err, kt_status st, const char *code,
                      const char *what)
{
    int64_t at = h->offset + (int64_t)(h->in_pos - h->tap_from);
    h->state = S_FAILED;
    err_set(&h->failure, st, code, "record %lld (byte %lld): %s", (long long)(h->count + 1),
            (long long)at, what);
    if (err)
        *err = h->failure;
    return st;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Starts an element at byte c; 0 when c cannot start a JSON value. */
static int elem_start(history_split *h, char c)
{
    h->elem_len = 0;
    h->depth = 0;
    h->in_string = h->escape = h->scalar = 0;
    if (c == '{' || c == '[')
        h->depth = 1;
    else if (c == '"')
        h->in_string = 1;
    else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n')
        h->scalar = 1;
    else
        return 0;
    return 1;
}

/* Feeds byte c of an element; returns 1 when the element ended with c
 * (c included), 2 when it ended just before c (a scalar's delimiter, not
 * consumed), 0 to continue, -1 on a structural error. */
static int elem_byte(history_split *h, char c)
{
    if (h->scalar) {
        if (c == ',' || c == ']' || is_ws(c))
            return 2;
        return (c == '{' || c == '[' || c == '}' || c == '"') ? -1 : 0;
    }
    if (h->in_string) {
        if (h->escape)
            h->escape = 0;
        else if (c == '\\')
            h->escape = 1;
        else if (c == '"') {
            h->in_string = 0;
            return h->depth == 0 ? 1 : 0; /* a top-level string element ends here */
        }
        return 0;
    }
    if (c == '"')
        h->in_string = 1;
    else if (c == '{' || c == '[') {
        if (++h->depth > 64)
            return -1;
    } else if (c == '}' || c == ']') {
        if (--h->depth == 0)
            return 1;
    }
    return 0;
}

static kt_status finish_elem(history_split *h, const char **elem, size_t *len)
{
    h->elem[h->elem_len] = '\0';
    h->count++;
    h->state = S_AFTER;
    *elem = h->elem;
    *len = h->elem_len;
    return KT_OK;
}

/* Refills the read buffer; 1 data, 0 end of input, -1 error. */
static int refill(history_split *h)
{
    tap_upto(h, h->in_len);
    h->in_pos = h->in_len = h->tap_from = 0;
    long n = h->read(h->read_ctx, h->in, READ_CHUNK);
    if (n < 0)
        return -1;
    h->in_len = (size_t)n;
    return n > 0;
}

static kt_status at_eof(history_split *h, const char **elem, size_t *len, kt_err *err)
{
    switch (h->state) {
    case S_START:
        return fail(h, err, KT_ERR_INVALID, "not_array",
                    h->offset == 0 ? "the file is empty" : "the file is not a JSON array");
    case S_IN:
        return fail(h, err, KT_ERR_INVALID, "truncated",
                    "the file ends in the middle of this record");
    case S_END:
        h->state = S_DONE;
        *elem = NULL;
        *len = 0;
        return KT_OK;
    default:
        return fail(h, err, KT_ERR_INVALID, "truncated",
                    "the file ends before the array is closed");
    }
}

kt_status history_split_next(history_split *h, const char **elem, size_t *len, kt_err *err)
{
    if (h->state == S_FAILED) {
        if (err)
            *err = h->failure;
        return h->failure.status;
    }
    if (h->state == S_DONE) {
        *elem = NULL;
        *len = 0;
        return KT_OK;
    }
    for (;;) {
        if (h->in_pos == h->in_len) {
            int r = refill(h);
            if (r < 0)
                return fail(h, err, KT_ERR_IO, "read_failed", "the file could not be read");
            if (r == 0)
                return at_eof(h, elem, len, err);
        }
        char c = h->in[h->in_pos];
        switch (h->state) {
        case S_START:
            /* A UTF-8 byte order mark (EF BB BF) may precede the array. */
            if (h->offset + (int64_t)(h->in_pos - h->tap_from) == (int64_t)h->bom && h->bom < 3 &&
                (unsigned char)c == (unsigned char)"\xEF\xBB\xBF"[h->bom]) {
                h->bom++;
                break;
            }
            if (is_ws(c))
                break;
            if (c != '[')
                return fail(h, err, KT_ERR_INVALID, "not_array",
                            "the file is not a JSON array (a history file starts with '[')");
            h->state = S_FIRST;
            break;
        case S_FIRST:
        case S_ELEM:
            if (is_ws(c))
                break;
            if (c == ']' && h->state == S_FIRST) {
                h->state = S_END;
                break;
            }
            if (!elem_start(h, c))
                return fail(h, err, KT_ERR_INVALID, "malformed",
                            c == ']' ? "a comma before ']'" : "expected a record");
            h->elem[h->elem_len++] = c;
            h->state = S_IN;
            break;
        case S_IN: {
            int r = elem_byte(h, c);
            if (r < 0)
                return fail(h, err, KT_ERR_INVALID, "malformed", "unbalanced brackets");
            if (r == 2) {
                tap_upto(h, h->in_pos); /* the delimiter is read again in S_AFTER */
                return finish_elem(h, elem, len);
            }
            if (h->elem_len >= HISTORY_MAX_RECORD)
                return fail(h, err, KT_ERR_TOO_LARGE, "record_too_large",
                            "a record is larger than 64 KiB");
            h->elem[h->elem_len++] = c;
            if (r == 1) {
                h->in_pos++;
                tap_upto(h, h->in_pos);
                return finish_elem(h, elem, len);
            }
            break;
        }
        case S_AFTER:
            if (is_ws(c))
                break;
            if (c == ',')
                h->state = S_ELEM;
            else if (c == ']')
                h->state = S_END;
            else
                return fail(h, err, KT_ERR_INVALID, "malformed", "expected ',' or ']' after a record");
            break;
        case S_END:
            if (!is_ws(c))
                return fail(h, err, KT_ERR_INVALID, "malformed", "data after the closing ']'");
            break;
        default:
            return fail(h, err, KT_ERR_INTERNAL, "internal", "bad splitter state");
        }
        h->in_pos++;
    }
}

/* ---- records ----
 *
 * Each element is parsed with yajl's callback parser, which validates the
 * JSON (syntax, UTF-8) while the callbacks copy only the fields kept into
 * one arena per record. jansson, keeptrack's JSON library elsewhere, was
 * measured at ~28 us per record here (a DOM with a hash table per object):
 * three quarters of the import's time, and the 50,000 plays/s target out of
 * reach; yajl's callbacks take a fraction of that.
 */

typedef enum field {
    F_TS, F_MS_PLAYED, F_TRACK_URI, F_EPISODE_URI, F_BOOK_URI, F_TRACK_NAME, F_ARTIST, F_ALBUM,
    F_EPISODE_NAME, F_SHOW_NAME, F_REASON_START, F_REASON_END, F_PLATFORM, F_SHUFFLE, F_SKIPPED,
    F_END_TIME, F_MS_OLD, F_TRACK_OLD, F_ARTIST_OLD, F_PODCAST, F_EPISODE_OLD, F_COUNT,
    F_UNKNOWN = F_COUNT
} field;

static const char *const field_names[F_COUNT] = {
    "ts", "ms_played", "spotify_track_uri", "spotify_episode_uri", "audiobook_uri",
    "master_metadata_track_name", "master_metadata_album_artist_name",
    "master_metadata_album_album_name", "episode_name", "episode_show_name", "reason_start",
    "reason_end", "platform", "shuffle", "skipped", "endTime", "msPlayed", "trackName",
    "artistName", "podcastName", "episodeName"};

typedef enum vtype { V_ABSENT, V_NULL, V_STRING, V_INT, V_BOOL, V_OTHER } vtype;

typedef struct fval {
    vtype type;
    const char *s;
    size_t len;
    long long i;
} fval;

typedef struct pctx {
    fval f[F_COUNT];
    int depth;      /* 1 = inside the record object */
    int not_object;
    field key;      /* the field whose value comes next (depth 1) */
    field dup;      /* a known field seen twice, or F_UNKNOWN */
    char *arena;
    size_t used, cap;
} pctx;

/* Sets the value of the current key when it is a known field at depth 1. */
static void put(pctx *c, vtype t, const char *str, size_t len, long long i)
{
    if (c->depth == 0) {
        c->not_object = 1;
        return;
    }
    if (c->depth != 1 || c->key == F_UNKNOWN)
        return;
    fval *v = &c->f[c->key];
    if (v->type != V_ABSENT && c->dup == F_UNKNOWN)
        c->dup = c->key;
    v->type = t;
    v->i = i;
    v->s = NULL;
    v->len = len;
    if (t == V_STRING && c->used + len + 1 <= c->cap) { /* the arena holds the whole element */
        memcpy(c->arena + c->used, str, len);
        c->arena[c->used + len] = '\0';
        v->s = c->arena + c->used;
        c->used += len + 1;
    }
    c->key = F_UNKNOWN;
}

static int cb_null(void *ctx)
{
    put(ctx, V_NULL, NULL, 0, 0);
    return 1;
}

static int cb_bool(void *ctx, int b)
{
    put(ctx, V_BOOL, NULL, 0, b);
    return 1;
}

static int cb_int(void *ctx, long long i)
{
    put(ctx, V_INT, NULL, 0, i);
    return 1;
}

static int cb_double(void *ctx, double d)
{
    (void)d;
    put(ctx, V_OTHER, NULL, 0, 0);
    return 1;
}

static int cb_string(void *ctx, const unsigned char *str, size_t len)
{
    put(ctx, V_STRING, (const char *)str, len, 0);
    return 1;
}

static int cb_start(void *ctx)
{
    pctx *c = ctx;
    if (c->depth >= 1)
        put(c, V_OTHER, NULL, 0, 0); /* a nested value: the wrong type for any field */
    c->depth++;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return cb_start(ctx);
}

static int cb_start_array(void *ctx)
{
    pctx *c = ctx;
    if (c->depth == 0)
        c->not_object = 1;
    return cb_start(ctx);
}

static int cb_end(void *ctx)
{
    ((pctx *)ctx)->depth--;
    return 1;
}

static int cb_key(void *ctx, const unsigned char *key, size_t len)
{
    pctx *c = ctx;
    c->key = F_UNKNOWN;
    if (c->depth != 1)
        return 1;
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(field_names[i]) == len && memcmp(field_names[i], key, len) == 0) {
            c->key = (field)i;
            break;
        }
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, cb_int, cb_double, NULL, cb_string, cb_start_map, cb_key, cb_end,
    cb_start_array, cb_end};

static kt_status bad(kt_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kt_status bad(kt_err *err, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(err, KT_ERR_INVALID, code, "%s", msg);
}

/* An optional string field: *out the value, NULL for absent/null/"". */
static kt_status opt_string(const pctx *c, field f, const char **out, kt_err *err)
{
    const fval *v = &c->f[f];
    *out = NULL;
    if (v->type == V_ABSENT || v->type == V_NULL)
        return KT_OK;
    if (v->type != V_STRING)
        return bad(err, "bad_field", "field '%s' is not a string", field_names[f]);
    if (v->len > HISTORY_MAX_NAME)
        return bad(err, "name_too_long", "field '%s' is longer than 1024 bytes", field_names[f]);
    if (memchr(v->s, '\0', v->len))
        return bad(err, "bad_field", "field '%s' contains a NUL character", field_names[f]);
    *out = v->len ? v->s : NULL;
    return KT_OK;
}

/* An optional boolean: 1, 0 or -1 (absent/null). */
static kt_status opt_bool(const pctx *c, field f, int *out, kt_err *err)
{
    const fval *v = &c->f[f];
    if (v->type == V_ABSENT || v->type == V_NULL)
        *out = -1;
    else if (v->type == V_BOOL)
        *out = (int)v->i;
    else
        return bad(err, "bad_field", "field '%s' is not a boolean", field_names[f]);
    return KT_OK;
}

/* The time and duration fields every record needs. */
static kt_status when(const pctx *c, field ts, field ms, history_record *r, kt_err *err)
{
    const fval *t = &c->f[ts], *m = &c->f[ms];
    if (t->type != V_STRING || t->len > 64 || memchr(t->s, '\0', t->len) ||
        time_parse_iso8601(t->s, &r->ts_ms) != KT_OK)
        return bad(err, "bad_ts", "field '%s' is not a%s time", field_names[ts],
                   ts == F_TS ? "n ISO 8601" : " \"YYYY-MM-DD HH:MM\"");
    if (m->type != V_INT || m->i < 0)
        return bad(err, "bad_ms_played", "field '%s' is not a non-negative integer",
                   field_names[ms]);
    r->ms_played = m->i;
    return KT_OK;
}

/* spotify:<type>:<id>: Spotify ids are 22 base62 characters; 1..64
 * alphanumerics are accepted so a future id length does not reject whole
 * exports. */
static int valid_spotify_uri(const char *uri, const char *type)
{
    size_t tl = strlen(type);
    if (strncmp(uri, "spotify:", 8) != 0 || strncmp(uri + 8, type, tl) != 0 || uri[8 + tl] != ':')
        return 0;
    const char *id = uri + 8 + tl + 1;
    size_t n = strlen(id);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return 0;
    }
    return 1;
}

static kt_status parse_extended(const pctx *c, history_record *r, kt_err *err)
{
    const char *track_uri = NULL, *episode_uri = NULL, *book_uri = NULL, *episode_name = NULL,
               *show_name = NULL;
    kt_status st;
    if ((st = when(c, F_TS, F_MS_PLAYED, r, err)) != KT_OK ||
        (st = opt_string(c, F_TRACK_URI, &track_uri, err)) != KT_OK ||
        (st = opt_string(c, F_EPISODE_URI, &episode_uri, err)) != KT_OK ||
        (st = opt_string(c, F_BOOK_URI, &book_uri, err)) != KT_OK ||
        (st = opt_string(c, F_TRACK_NAME, &r->track_name, err)) != KT_OK ||
        (st = opt_string(c, F_ARTIST, &r->artist_name, err)) != KT_OK ||
        (st = opt_string(c, F_ALBUM, &r->album_name, err)) != KT_OK ||
        (st = opt_string(c, F_EPISODE_NAME, &episode_name, err)) != KT_OK ||
        (st = opt_string(c, F_SHOW_NAME, &show_name, err)) != KT_OK ||
        (st = opt_string(c, F_REASON_START, &r->reason_start, err)) != KT_OK ||
        (st = opt_string(c, F_REASON_END, &r->reason_end, err)) != KT_OK ||
        (st = opt_string(c, F_PLATFORM, &r->platform, err)) != KT_OK ||
        (st = opt_bool(c, F_SHUFFLE, &r->shuffle, err)) != KT_OK ||
        (st = opt_bool(c, F_SKIPPED, &r->skipped, err)) != KT_OK)
        return st;
    if (track_uri) {
        if (!valid_spotify_uri(track_uri, "track"))
            return bad(err, "bad_uri", "field '%s' is not a spotify:track: uri", "spotify_track_uri");
        r->kind = HISTORY_TRACK;
        r->uri = track_uri;
    } else if (episode_uri) {
        if (!valid_spotify_uri(episode_uri, "episode"))
            return bad(err, "bad_uri", "field '%s' is not a spotify:episode: uri",
                       "spotify_episode_uri");
        r->kind = HISTORY_EPISODE;
        r->uri = episode_uri;
    } else if (r->track_name) {
        r->kind = HISTORY_TRACK; /* named but without a uri: a synthetic key */
    } else if (episode_name) {
        r->kind = HISTORY_EPISODE;
    } else {
        r->kind = book_uri ? HISTORY_AUDIOBOOK : HISTORY_NONE;
    }
    if (r->kind == HISTORY_EPISODE) {
        r->track_name = episode_name;
        r->artist_name = show_name;
        r->album_name = NULL;
    }
    return KT_OK;
}

static kt_status parse_account(const pctx *c, history_record *r, kt_err *err)
{
    const char *podcast = NULL, *episode = NULL;
    kt_status st;
    r->shuffle = r->skipped = -1;
    if ((st = when(c, F_END_TIME, F_MS_OLD, r, err)) != KT_OK ||
        (st = opt_string(c, F_TRACK_OLD, &r->track_name, err)) != KT_OK ||
        (st = opt_string(c, F_ARTIST_OLD, &r->artist_name, err)) != KT_OK ||
        (st = opt_string(c, F_PODCAST, &podcast, err)) != KT_OK ||
        (st = opt_string(c, F_EPISODE_OLD, &episode, err)) != KT_OK)
        return st;
    if (r->track_name) {
        r->kind = HISTORY_TRACK;
    } else if (episode) {
        r->kind = HISTORY_EPISODE;
        r->track_name = episode;
        r->artist_name = podcast;
    } else {
        r->kind = HISTORY_NONE;
    }
    return KT_OK;
}

/* Runs yajl over the element; KT_ERR_INVALID "malformed" on a syntax error. */
static kt_status run_yajl(const char *elem, size_t len, pctx *c, kt_err *err)
{
    yajl_handle y = yajl_alloc(&callbacks, NULL, c);
    if (!y)
        return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
    yajl_status ys = yajl_parse(y, (const unsigned char *)elem, len);
    if (ys == yajl_status_ok)
        ys = yajl_complete_parse(y);
    kt_status st = KT_OK;
    if (ys != yajl_status_ok) {
        unsigned char *m = yajl_get_error(y, 0, (const unsigned char *)elem, len);
        st = err_set(err, KT_ERR_INVALID, "malformed", "not valid JSON: %s",
                     m ? (const char *)m : "syntax error");
        if (m)
            yajl_free_error(y, m);
    }
    yajl_free(y);
    return st;
}

kt_status history_record_parse(const char *elem, size_t len, history_record *out, kt_err *err)
{
    pctx c;
    history_record r;
    kt_status st;
    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    c.key = c.dup = F_UNKNOWN;
    c.cap = len + 1;
    if ((c.arena = malloc(c.cap)) == NULL)
        return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
    st = run_yajl(elem, len, &c, err);
    if (st != KT_OK) {
    } else if (c.not_object) {
        st = err_set(err, KT_ERR_INVALID, "not_object", "the record is not a JSON object");
    } else if (c.dup != F_UNKNOWN) {
        st = bad(err, "bad_field", "field '%s' appears twice", field_names[c.dup]);
    } else if (c.f[F_TS].type != V_ABSENT) {
        r.format = HISTORY_FMT_EXTENDED;
        st = parse_extended(&c, &r, err);
    } else if (c.f[F_END_TIME].type != V_ABSENT) {
        r.format = HISTORY_FMT_ACCOUNT;
        st = parse_account(&c, &r, err);
    } else {
        st = err_set(err, KT_ERR_INVALID, "unknown_format",
                     "the record has neither 'ts' (extended history) nor 'endTime' "
                     "(account data)");
    }
    if (st != KT_OK) {
        free(c.arena);
        return st;
    }
    r.arena = c.arena;
    *out = r;
    if (!out->uri && (out->kind == HISTORY_TRACK || out->kind == HISTORY_EPISODE)) {
        history_synthetic_uri(out->kind, out->artist_name, out->track_name, out->uri_buf);
        out->uri = out->uri_buf;
        out->synthetic = 1;
    }
    return KT_OK;
}

void history_record_clear(history_record *r)
{
    if (!r)
        return;
    free(r->arena);
    r->arena = NULL;
}

void history_synthetic_uri(history_kind kind, const char *artist, const char *name,
                           char out[HISTORY_URI_MAX])
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    if (artist)
        crypto_generichash_update(&st, (const unsigned char *)artist, strlen(artist));
    crypto_generichash_update(&st, (const unsigned char *)"\x1f", 1);
    if (name)
        crypto_generichash_update(&st, (const unsigned char *)name, strlen(name));
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, HISTORY_URI_MAX, "%s%s:%s", HISTORY_SYNTH_PREFIX,
             kind == HISTORY_EPISODE ? "episode" : "track", hex);
}

/* history_import.c - the listening-history import (see history_import.h):
 * sources (files, memory, zip members) read as streams, the per-file loop
 * with its resume point, and the batch step that finds duplicates and
 * commits.
 *
 * Duplicates are found per batch without a query per record: the batch is
 * sorted by time, cut into windows (records more than a day apart start a
 * new window), and each window's stored plays are read once
 * (store_history_window) and matched in memory.
 *
 * Two threads per file: the calling thread reads and parses records into a
 * batch while a writer thread matches and commits the batch before it
 * (issue 16). Reading is about as costly as writing (perf: the splitter and
 * record parser ~60 % of the client's CPU; on PostgreSQL the client waited
 * for the server as long again), so the two overlap instead of taking turns.
 * There are exactly two batches: the writer commits batches in file order
 * and never more than one ahead of the reader, so memory and the resume
 * point stay as they were. The reader only notes its skips and rejects in
 * the batch; the writer counts them, then the batch's duplicates, in the
 * order a single thread did, so reports are identical. The store is used by
 * the writer alone while a file is read.
 */
#include "services/history_import.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "core/strset.h"
#include "core/timeutil.h"
#include "services/history_parse.h"
#include "store/store_history.h"

#define HASH_LEN 32
#define DAY_MS (24 * 3600 * 1000LL)
/* How far a play may be moved forward to find a free instant. */
#define MAX_NUDGE_MS 1000

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

static const char *const reason_names[HR_COUNT] = {
    [HR_SKIP_SHORT] = "skipped.short",
    [HR_SKIP_NO_ITEM] = "skipped.no_item",
    [HR_SKIP_AUDIOBOOK] = "skipped.audiobook",
    [HR_DUP_POLLED] = "duplicate.polled",
    [HR_DUP_IMPORTED] = "duplicate.imported",
    [HR_REJ_NOT_OBJECT] = "rejected.not_object",
    [HR_REJ_UNKNOWN_FORMAT] = "rejected.unknown_format",
    [HR_REJ_BAD_TS] = "rejected.bad_ts",
    [HR_REJ_BAD_MS_PLAYED] = "rejected.bad_ms_played",
    [HR_REJ_BAD_URI] = "rejected.bad_uri",
    [HR_REJ_BAD_FIELD] = "rejected.bad_field",
    [HR_REJ_NAME_TOO_LONG] = "rejected.name_too_long",
    [HR_REJ_SAME_INSTANT] = "rejected.same_instant",
};

const char *history_reason_name(history_reason r)
{
    return (unsigned)r < HR_COUNT ? reason_names[r] : "unknown";
}

/* The rejection reason of a parse error code (history_record_parse). */
static history_reason reject_reason(const char *code)
{
    static const struct {
        const char *code;
        history_reason r;
    } map[] = {{"not_object", HR_REJ_NOT_OBJECT},   {"unknown_format", HR_REJ_UNKNOWN_FORMAT},
               {"bad_ts", HR_REJ_BAD_TS},           {"bad_ms_played", HR_REJ_BAD_MS_PLAYED},
               {"bad_uri", HR_REJ_BAD_URI},         {"name_too_long", HR_REJ_NAME_TOO_LONG}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].r;
    return HR_REJ_BAD_FIELD;
}

/* ---- sources and readers ---- */

typedef struct source {
    const char *path;       /* a file, or */
    const unsigned char *data; /* bytes in memory, or */
    size_t len;
    zip_t *zip;             /* a member of an open archive */
    zip_uint64_t index;
} source;

typedef struct reader {
    FILE *f;
    const unsigned char *data;
    size_t len, pos;
    zip_file_t *zf;
    int64_t total;
} reader;

static long reader_read(void *ctx, char *buf, size_t max)
{
    reader *r = ctx;
    if (r->f) {
        size_t n = fread(buf, 1, max, r->f);
        return n == 0 && ferror(r->f) ? -1 : (long)n;
    }
    if (r->zf) {
        if (r->total >= HISTORY_MAX_MEMBER_BYTES)
            return -1; /* a zip bomb, or a member no export has */
        zip_int64_t n = zip_fread(r->zf, buf, max);
        if (n > 0)
            r->total += n;
        return n < 0 ? -1 : (long)n;
    }
    size_t n = r->len - r->pos < max ? r->len - r->pos : max;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (long)n;
}

static void reader_close(reader *r)
{
    if (r->f)
        fclose(r->f);
    if (r->zf)
        zip_fclose(r->zf);
    memset(r, 0, sizeof *r);
}

static kt_status reader_open(const source *src, reader *r, kt_err *err)
{
    memset(r, 0, sizeof *r);
    if (src->path) {
        if ((r->f = fopen(src->path, "rb")) == NULL)
            return err_set(err, KT_ERR_IO, "cannot_open", "cannot open it: %s", strerror(errno));
    } else if (src->zip) {
        if ((r->zf = zip_fopen_index(src->zip, src->index, 0)) == NULL)
            return err_set(err, KT_ERR_INVALID, "bad_zip", "cannot read it from the archive: %s",
                           zip_strerror(src->zip));
    } else {
        r->data = src->data;
        r->len = src->len;
    }
    return KT_OK;
}

/* ---- the report ---- */

static void add_example(history_report *rep, const char *file, int64_t record,
                        history_reason reason, const char *detail)
{
    rep->reasons[reason]++;
    if (rep->n_examples == HISTORY_MAX_EXAMPLES) {
        rep->examples_dropped++;
        return;
    }
    history_example *e = &rep->examples[rep->n_examples++];
    snprintf(e->file, sizeof e->file, "%s", file);
    e->record = record;
    e->reason = reason;
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
}

static history_file_report *add_file(history_report *rep, const char *name, kt_err *err)
{
    history_file_report *f = realloc(rep->files, (rep->n_files + 1) * sizeof *f);
    if (!f) {
        nomem(err);
        return NULL;
    }
    rep->files = f;
    f = &rep->files[rep->n_files];
    memset(f, 0, sizeof *f);
    if ((f->name = strdup(name)) == NULL) {
        nomem(err);
        return NULL;
    }
    f->status = "done";
    rep->n_files++;
    return f;
}

static kt_status file_failed(history_report *rep, history_file_report *f, const char *msg,
                             kt_err *err)
{
    f->status = "failed";
    free(f->error);
    if ((f->error = strdup(msg)) == NULL)
        return nomem(err);
    rep->failed_files++;
    return KT_OK;
}

void history_report_free(history_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_files; i++) {
        free(r->files[i].name);
        free(r->files[i].error);
    }
    free(r->files);
    free(r);
}

json_t *history_report_json(const history_report *r)
{
    json_t *reasons = json_object(), *files = json_array(), *examples = json_array();
    for (int i = 0; i < HR_COUNT && reasons; i++)
        if (r->reasons[i] &&
            json_object_set_new(reasons, reason_names[i], json_integer(r->reasons[i])) != 0)
            goto fail;
    for (size_t i = 0; i < r->n_files && files; i++) {
        const history_file_report *f = &r->files[i];
        if (json_array_append_new(
                files, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "name", f->name,
                                 "status", f->status, "import_id", (json_int_t)f->import_id,
                                 "records", (json_int_t)f->records, "resumed_after",
                                 (json_int_t)f->resumed_after, "imported",
                                 (json_int_t)f->imported, "duplicates",
                                 (json_int_t)f->duplicates, "skipped", (json_int_t)f->skipped,
                                 "rejected", (json_int_t)f->rejected, "error",
                                 f->error ? json_string(f->error) : json_null())) != 0)
            goto fail;
    }
    for (size_t i = 0; i < r->n_examples && examples; i++) {
        const history_example *e = &r->examples[i];
        if (json_array_append_new(examples,
                                  json_pack("{s:s,s:I,s:s,s:s}", "file", e->file, "record",
                                            (json_int_t)e->record, "reason",
                                            reason_names[e->reason], "detail", e->detail)) != 0)
            goto fail;
    }
    if (!reasons || !files || !examples)
        goto fail;
    return json_pack("{s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:I}", "imported", (json_int_t)r->imported,
                     "duplicates", (json_int_t)r->duplicates, "skipped", (json_int_t)r->skipped,
                     "rejected", (json_int_t)r->rejected, "reasons", reasons, "files", files,
                     "examples", examples, "examples_dropped", (json_int_t)r->examples_dropped);
fail:
    json_decref(reasons);
    json_decref(files);
    json_decref(examples);
    return NULL;
}

/* ---- one file ---- */

typedef struct pending {
    history_record rec;
    int64_t recno;
} pending;

/* A record the reader skipped or rejected, counted when its batch is written. */
typedef struct noted {
    history_reason why;
    int64_t recno;
    char detail[200];
} noted;

/* HISTORY_BATCH records on their way from the reader to the writer, with
 * the file's resume point at the batch's last record. */
typedef struct batch {
    pending *recs; /* HISTORY_BATCH slots */
    size_t n;
    noted *notes;
    size_t n_notes, cap_notes;
    int64_t last_record, last_offset;
    char prefix_hex[2 * HASH_LEN + 1];
} batch;

struct run;

/* The writer thread of one pass and its hand-over slot (see the top). */
typedef struct writer {
    struct run *r;
    pthread_t thread;
    int threaded;   /* 0: pthread_create failed, batches are written inline */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *todo;    /* handed over, not taken yet */
    batch *spare;   /* written and emptied: the reader's next batch */
    int busy, closing;
    kt_status st;   /* the first failure; later batches are dropped */
    kt_err err;
} writer;

typedef struct run {
    store *s;
    int64_t user_id;
    const history_options *o;
    history_report *rep;
    history_file_report *fr;
    const char *label;
    int64_t import_id;
    crypto_generichash_state hash;     /* bytes consumed so far */
    crypto_generichash_state at_last;  /* ... up to the end of the last record */
    int64_t last_record, last_offset;
    store_hist_progress prog;          /* cumulative, resumed records included */
    char prefix_hex[2 * HASH_LEN + 1];
    batch bufs[2];
    batch *cur; /* the batch the reader fills: each record read is in its recs or notes */
    writer w;
} run;

static void tap_hash(void *ctx, const char *bytes, size_t n)
{
    crypto_generichash_update(ctx, (const unsigned char *)bytes, n);
}

static void hash_hex(const crypto_generichash_state *st, char out[2 * HASH_LEN + 1])
{
    crypto_generichash_state copy = *st;
    unsigned char h[HASH_LEN];
    crypto_generichash_final(&copy, h, sizeof h);
    sodium_bin2hex(out, 2 * HASH_LEN + 1, h, sizeof h);
}

static void count(run *r, history_reason why, int64_t recno, const char *detail)
{
    if (why <= HR_SKIP_AUDIOBOOK) {
        r->fr->skipped++;
        r->prog.skipped++;
        r->rep->skipped++;
    } else if (why <= HR_DUP_IMPORTED) {
        r->fr->duplicates++;
        r->prog.duplicates++;
        r->rep->duplicates++;
    } else {
        r->fr->rejected++;
        r->prog.rejected++;
        r->rep->rejected++;
    }
    add_example(r->rep, r->label, recno, why, detail);
}

/* A play already stored near the batch. */
typedef struct wrow {
    int64_t played_at, source_ts, ms_played;
    const char *uri;
    int imported, used;
} wrow;

typedef struct window {
    store_rows **sets;
    size_t n_sets;
    wrow *rows;
    size_t n, cap;
} window;

static void window_free(window *w)
{
    for (size_t i = 0; i < w->n_sets; i++)
        store_rows_free(w->sets[i]);
    free(w->sets);
    free(w->rows);
}

static kt_status window_add(run *r, window *w, int64_t from, int64_t to, kt_err *err)
{
    store_rows *rows = NULL;
    store_rows **sets = realloc(w->sets, (w->n_sets + 1) * sizeof *sets);
    if (!sets)
        return nomem(err);
    w->sets = sets;
    kt_status st = store_history_window(r->s, r->user_id, from, to, &rows, err);
    if (st != KT_OK)
        return st;
    w->sets[w->n_sets++] = rows;
    size_t k = store_rows_count(rows);
    if (w->n + k > w->cap) {
        size_t cap = (w->n + k) * 2;
        wrow *grown = realloc(w->rows, cap * sizeof *grown);
        if (!grown)
            return nomem(err);
        w->rows = grown;
        w->cap = cap;
    }
    for (size_t i = 0; i < k; i++) {
        wrow *x = &w->rows[w->n++];
        x->played_at = store_rows_int(rows, i, 0);
        x->uri = store_rows_text(rows, i, 1);
        x->imported = strcmp(store_rows_text(rows, i, 2), "import") == 0;
        x->source_ts = store_rows_is_null(rows, i, 3) ? INT64_MIN : store_rows_int(rows, i, 3);
        x->ms_played = store_rows_is_null(rows, i, 4) ? -1 : store_rows_int(rows, i, 4);
        x->used = 0;
    }
    return KT_OK;
}

/* Index of the first window row with played_at >= t. */
static size_t window_lower(const window *w, int64_t t)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->rows[mid].played_at < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_time(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->rec.ts_ms != y->rec.ts_ms)
        return x->rec.ts_ms < y->rec.ts_ms ? -1 : 1;
    return x->recno < y->recno ? -1 : x->recno > y->recno;
}

/* Reads the stored plays around the (time-sorted) batch. */
static kt_status load_window(run *r, const batch *b, window *w, kt_err *err)
{
    kt_status st = KT_OK;
    int64_t lo = 0, hi = 0;
    for (size_t i = 0; i < b->n && st == KT_OK; i++) {
        int64_t t = b->recs[i].rec.ts_ms;
        if (i > 0 && t - HISTORY_DUP_WINDOW_MS <= hi + DAY_MS) {
            hi = t + HISTORY_DUP_WINDOW_MS;
            continue;
        }
        if (i > 0)
            st = window_add(r, w, lo, hi, err);
        lo = t - HISTORY_DUP_WINDOW_MS;
        hi = t + HISTORY_DUP_WINDOW_MS;
    }
    if (st == KT_OK && b->n > 0)
        st = window_add(r, w, lo, hi, err);
    return st;
}

/* A polled play of the same uri within the window not matched yet. */
static wrow *polled_match(window *w, const history_record *rec)
{
    for (size_t j = window_lower(w, rec->ts_ms - HISTORY_DUP_WINDOW_MS);
         j < w->n && w->rows[j].played_at <= rec->ts_ms + HISTORY_DUP_WINDOW_MS; j++) {
        wrow *x = &w->rows[j];
        if (!x->imported && !x->used && strcmp(x->uri, rec->uri) == 0)
            return x;
    }
    return NULL;
}

static int same_import(const history_record *rec, const char *uri, int64_t source_ts,
                       int64_t ms_played)
{
    return source_ts == rec->ts_ms && ms_played == rec->ms_played && strcmp(uri, rec->uri) == 0;
}

/* An earlier import of the same record: stored, or earlier in this batch. */
static int imported_before(const window *w, const store_hist_row *out, size_t n_out,
                           const history_record *rec)
{
    for (size_t j = window_lower(w, rec->ts_ms);
         j < w->n && w->rows[j].played_at <= rec->ts_ms + MAX_NUDGE_MS; j++)
        if (w->rows[j].imported &&
            same_import(rec, w->rows[j].uri, w->rows[j].source_ts, w->rows[j].ms_played))
            return 1;
    for (size_t j = n_out; j > 0 && out[j - 1].source_ts == rec->ts_ms; j--)
        if (same_import(rec, out[j - 1].uri, out[j - 1].source_ts, out[j - 1].ms_played))
            return 1;
    return 0;
}

/* The first instant >= ts that no play holds; -1 when none within reach. */
static int64_t free_instant(const window *w, strset *taken, int64_t ts, kt_status *st, kt_err *err)
{
    for (int64_t t = ts; t <= ts + MAX_NUDGE_MS; t++) {
        size_t j = window_lower(w, t);
        char key[24];
        if (j < w->n && w->rows[j].played_at == t)
            continue;
        snprintf(key, sizeof key, "%lld", (long long)t);
        int added = strset_add(taken, key);
        if (added < 0) {
            *st = nomem(err);
            return -1;
        }
        if (added)
            return t;
    }
    return -1;
}

static const char *kind_of(const history_record *rec)
{
    if (rec->synthetic)
        return "unresolved";
    return rec->kind == HISTORY_EPISODE ? "episode" : "track";
}

static void detail_at(char *out, size_t n, const char *what, const history_record *rec)
{
    char iso[32];
    time_format_iso8601(rec->ts_ms, iso);
    snprintf(out, n, "%s: %.100s at %s", what, rec->uri, iso);
}

/* Empties a batch (its records' strings freed), keeping its allocations. */
static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        history_record_clear(&b->recs[i].rec);
    b->n = 0;
    b->n_notes = 0;
}

/* Counts, matches and commits a batch with its resume point (the writer). */
static kt_status flush(run *r, batch *b, kt_err *err)
{
    window w = {0};
    store_hist_row *out = NULL;
    strset *taken = NULL;
    size_t n_out = 0;
    char detail[200];
    kt_status st = KT_OK;
    int64_t before = r->prog.imported, added = 0;

    for (size_t i = 0; i < b->n_notes; i++)
        count(r, b->notes[i].why, b->notes[i].recno, b->notes[i].detail);
    qsort(b->recs, b->n, sizeof *b->recs, by_time);
    if ((out = calloc(b->n ? b->n : 1, sizeof *out)) == NULL || (taken = strset_new()) == NULL)
        st = nomem(err);
    if (st == KT_OK)
        st = load_window(r, b, &w, err);
    for (size_t i = 0; i < b->n && st == KT_OK; i++) {
        const history_record *rec = &b->recs[i].rec;
        wrow *polled = polled_match(&w, rec);
        if (polled) {
            polled->used = 1;
            char iso[32];
            time_format_iso8601(polled->played_at, iso);
            snprintf(detail, sizeof detail, "%.100s was polled at %s", rec->uri, iso);
            count(r, HR_DUP_POLLED, b->recs[i].recno, detail);
            continue;
        }
        if (imported_before(&w, out, n_out, rec)) {
            detail_at(detail, sizeof detail, "already imported", rec);
            count(r, HR_DUP_IMPORTED, b->recs[i].recno, detail);
            continue;
        }
        int64_t at = free_instant(&w, taken, rec->ts_ms, &st, err);
        if (at < 0) {
            detail_at(detail, sizeof detail, "too many plays at this instant", rec);
            if (st == KT_OK)
                count(r, HR_REJ_SAME_INSTANT, b->recs[i].recno, detail);
            continue;
        }
        const char *colon = strrchr(rec->uri, ':');
        out[n_out++] = (store_hist_row){.played_at = at,
                                        .source_ts = rec->ts_ms,
                                        .ms_played = rec->ms_played,
                                        .uri = rec->uri,
                                        .id = rec->synthetic ? NULL : colon + 1,
                                        .kind = kind_of(rec),
                                        .track_name = rec->track_name,
                                        .artist_name = rec->artist_name,
                                        .album_name = rec->album_name};
    }
    if (st == KT_OK) {
        r->prog.records = b->last_record;
        r->prog.committed_bytes = b->last_offset;
        memcpy(r->prefix_hex, b->prefix_hex, sizeof r->prefix_hex);
        r->prog.prefix_hash = r->prefix_hex;
        st = store_history_commit(r->s, r->user_id, r->import_id, out, n_out, &r->prog,
                                  time_now_ms(), &added, err);
    }
    if (st == KT_OK) {
        r->prog.imported = before + added;
        r->fr->imported += added;
        r->rep->imported += added;
        /* A play that took one of the instants meanwhile (a concurrent poll). */
        for (int64_t k = added; k < (int64_t)n_out; k++)
            count(r, HR_REJ_SAME_INSTANT, b->last_record, "another play took this instant");
    }
    window_free(&w);
    free(out);
    strset_free(taken);
    return st;
}

/* ---- the writer thread ---- */

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->todo && !w->closing)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->todo)
            break;
        batch *b = w->todo;
        int dropped = w->st != KT_OK;
        w->todo = NULL;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        kt_err e;
        err_clear(&e);
        kt_status st = dropped ? KT_OK : flush(w->r, b, &e);
        batch_clear(b);
        pthread_mutex_lock(&w->mu);
        if (st != KT_OK && w->st == KT_OK) {
            w->st = st;
            w->err = e;
        }
        w->busy = 0;
        w->spare = b;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts the pass's writer, with `spare` as the batch the reader takes after
 * handing over its first. Without a thread the batches are written inline. */
static void writer_start(writer *w, run *r, batch *spare)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    w->spare = spare;
    w->st = KT_OK;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return;
    }
    w->threaded = pthread_create(&w->thread, NULL, writer_main, w) == 0;
    if (!w->threaded) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
}

/* Hands *cur to the writer once it has finished the batch before, and puts
 * the emptied one in *cur. Returns the writer's failure, if it had one
 * (*cur is then emptied and kept). */
static kt_status writer_hand(writer *w, batch **cur, kt_err *err)
{
    if (!w->threaded) {
        kt_status st = flush(w->r, *cur, err);
        batch_clear(*cur);
        return st;
    }
    pthread_mutex_lock(&w->mu);
    while ((w->todo || w->busy) && w->st == KT_OK)
        pthread_cond_wait(&w->cv, &w->mu);
    kt_status st = w->st;
    if (st != KT_OK) {
        *err = w->err;
        batch_clear(*cur);
    } else {
        w->todo = *cur;
        *cur = w->spare;
        w->spare = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

/* Lets the writer finish what it was handed, stops it, and returns its
 * failure (into err only when st is still KT_OK). */
static kt_status writer_stop(writer *w, kt_status st, kt_err *err)
{
    if (!w->threaded)
        return st;
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (st == KT_OK && w->st != KT_OK) {
        st = w->st;
        *err = w->err;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->threaded = 0;
    return st;
}

/* Notes a skip or rejection in the reader's batch (counted when written). */
static kt_status note(batch *b, history_reason why, int64_t recno, const char *detail, kt_err *err)
{
    if (b->n_notes == b->cap_notes) {
        size_t cap = b->cap_notes ? b->cap_notes * 2 : 16;
        noted *grown = realloc(b->notes, cap * sizeof *grown);
        if (!grown)
            return nomem(err);
        b->notes = grown;
        b->cap_notes = cap;
    }
    noted *x = &b->notes[b->n_notes++];
    x->why = why;
    x->recno = recno;
    snprintf(x->detail, sizeof x->detail, "%s", detail ? detail : "");
    return KT_OK;
}

/* Classifies one parsed record: noted as skipped, or queued. */
static kt_status take_record(run *r, history_record *rec, int64_t recno, kt_err *err)
{
    char detail[200];
    history_reason why = HR_COUNT;
    if (rec->kind == HISTORY_AUDIOBOOK)
        why = HR_SKIP_AUDIOBOOK;
    else if (rec->kind == HISTORY_NONE)
        why = HR_SKIP_NO_ITEM;
    else if (rec->ms_played < r->o->min_ms)
        why = HR_SKIP_SHORT;
    if (why == HR_COUNT) {
        batch *b = r->cur;
        b->recs[b->n].rec = *rec;
        if (rec->synthetic) /* the copy's own buffer */
            b->recs[b->n].rec.uri = b->recs[b->n].rec.uri_buf;
        b->recs[b->n++].recno = recno;
        return KT_OK;
    }
    if (why == HR_SKIP_SHORT)
        snprintf(detail, sizeof detail, "played %lld ms (minimum %lld)", (long long)rec->ms_played,
                 (long long)r->o->min_ms);
    else
        snprintf(detail, sizeof detail, "%s",
                 why == HR_SKIP_AUDIOBOOK ? "an audiobook" : "no track or episode named");
    history_record_clear(rec);
    return note(r->cur, why, recno, detail, err);
}

/* Closes the reader's batch at the last record read and hands it over. */
static kt_status hand_batch(run *r, kt_err *err)
{
    r->cur->last_record = r->last_record;
    r->cur->last_offset = r->last_offset;
    hash_hex(&r->at_last, r->cur->prefix_hex);
    return writer_hand(&r->w, &r->cur, err);
}

typedef enum pass_end { PASS_DONE, PASS_FAILED, PASS_MISMATCH } pass_end;

/* Reads the file once: records up to skip are only checked against the
 * resume point. *end tells how the pass ended; *msg (PASS_FAILED) the
 * file's problem. Returns an error only for the database or memory. */
static kt_status run_pass(run *r, const source *src, int64_t skip, const char *expect_hash,
                          int64_t expect_offset, pass_end *end, char *msg, size_t msg_len,
                          kt_err *err)
{
    reader rd;
    history_split *sp = NULL;
    kt_err ferr = {0};
    kt_status st = KT_OK;
    *end = PASS_DONE;
    crypto_generichash_init(&r->hash, NULL, 0, HASH_LEN);
    r->at_last = r->hash;
    r->last_record = r->last_offset = 0;
    if (reader_open(src, &rd, &ferr) != KT_OK) {
        *end = PASS_FAILED;
        snprintf(msg, msg_len, "%s", ferr.msg);
        return KT_OK;
    }
    if ((sp = history_split_new(reader_read, &rd, tap_hash, &r->hash)) == NULL) {
        reader_close(&rd);
        return nomem(err);
    }
    r->cur = &r->bufs[0];
    writer_start(&r->w, r, &r->bufs[1]);
    for (;;) {
        const char *elem = NULL;
        size_t len = 0;
        if (history_split_next(sp, &elem, &len, &ferr) != KT_OK || !elem) {
            if (elem == NULL && ferr.status == KT_OK && r->last_record >= skip)
                break; /* the end */
            *end = r->last_record < skip ? PASS_MISMATCH : PASS_FAILED;
            snprintf(msg, msg_len, "%s", ferr.msg);
            break;
        }
        int64_t recno = history_split_count(sp), offset = history_split_offset(sp);
        if (recno <= skip) {
            char hex[2 * HASH_LEN + 1];
            r->last_record = recno;
            if (recno == skip) {
                hash_hex(&r->hash, hex);
                if (offset != expect_offset || strcmp(hex, expect_hash) != 0) {
                    *end = PASS_MISMATCH;
                    break;
                }
            }
            continue;
        }
        history_record rec;
        kt_status pst = history_record_parse(elem, len, &rec, &ferr);
        if (pst != KT_OK && strcmp(ferr.code, "malformed") == 0) {
            /* A damaged file: what came before this record is still good. */
            *end = PASS_FAILED;
            snprintf(msg, msg_len, "record %lld (byte %lld): %s", (long long)recno,
                     (long long)(offset - (int64_t)len), ferr.msg);
            break;
        }
        r->last_record = recno;
        r->last_offset = offset;
        r->at_last = r->hash;
        if (pst == KT_OK)
            st = take_record(r, &rec, recno, err);
        else
            st = note(r->cur, reject_reason(ferr.code), recno, ferr.msg, err);
        err_clear(&ferr);
        if (st == KT_OK && r->cur->n + r->cur->n_notes >= HISTORY_BATCH)
            st = hand_batch(r, err);
        if (st != KT_OK)
            break;
    }
    if (st == KT_OK && *end != PASS_MISMATCH && r->last_record > skip)
        st = hand_batch(r, err);
    st = writer_stop(&r->w, st, err);
    batch_clear(r->cur);
    history_split_free(sp);
    reader_close(&rd);
    return st;
}

/* Imports one stream (a file or a zip member) keyed by `key` for resuming,
 * labelled `label` in the report. */
static kt_status import_stream(run *r, const source *src, const char *key, const char *label,
                               kt_err *err)
{
    store_hist_import prev;
    kt_err lerr = {0};
    char msg[320] = "";
    pass_end end = PASS_DONE;
    int64_t skip = 0;
    kt_status st;

    if ((r->fr = add_file(r->rep, label, err)) == NULL)
        return KT_ERR_NOMEM;
    r->label = label;
    memset(&r->prog, 0, sizeof r->prog);
    st = store_history_resumable(r->s, r->user_id, key, &prev, &lerr);
    if (st == KT_OK) {
        r->import_id = prev.id;
        skip = prev.records;
        r->prog.imported = prev.imported;
        r->prog.duplicates = prev.duplicates;
        r->prog.skipped = prev.skipped;
        r->prog.rejected = prev.rejected;
        st = store_history_import_resume(r->s, r->import_id, time_now_ms(), err);
    } else if (st == KT_ERR_NOT_FOUND) {
        st = store_history_import_start(r->s, r->user_id, key, time_now_ms(), &r->import_id, err);
    } else {
        *err = lerr;
    }
    if (st != KT_OK)
        return st;
    r->fr->import_id = r->import_id;
    st = run_pass(r, src, skip, prev.prefix_hash, prev.committed_bytes, &end, msg, sizeof msg, err);
    if (st == KT_OK && end == PASS_MISMATCH) {
        /* Not the file the resume point was taken from: start over; the
         * duplicate rules keep what the earlier run committed exact. */
        memset(&r->prog, 0, sizeof r->prog);
        skip = 0;
        st = run_pass(r, src, 0, "", 0, &end, msg, sizeof msg, err);
    }
    if (st != KT_OK)
        return st;
    r->fr->resumed_after = skip;
    r->fr->records = r->last_record;
    char content[2 * HASH_LEN + 1], full[400];
    hash_hex(&r->hash, content);
    if (end == PASS_FAILED) {
        snprintf(full, sizeof full, "%s: %s%s", label, msg,
                 r->last_record > skip ? "; the records before it were imported and a new "
                                         "import of the complete file continues from there"
                                       : "");
        if ((st = file_failed(r->rep, r->fr, full, err)) != KT_OK)
            return st;
    }
    r->prog.prefix_hash = NULL; /* the resume point was written with the last batch */
    return store_history_import_finish(r->s, r->import_id, end == PASS_DONE ? "done" : "failed",
                                       &r->prog, end == PASS_DONE ? content : NULL,
                                       end == PASS_DONE ? NULL : full, NULL, time_now_ms(), err);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Spotify's names for listening-history files inside the export. */
static int history_member(const char *name)
{
    const char *b = base_name(name);
    size_t n = strlen(b);
    if (n < 6 || strcmp(b + n - 5, ".json") != 0)
        return 0;
    return strncmp(b, "Streaming_History_Audio_", 24) == 0 || strncmp(b, "endsong", 7) == 0 ||
           strncmp(b, "StreamingHistory", 16) == 0;
}

static int looks_like_zip(const history_input *in)
{
    unsigned char head[4] = {0};
    if (in->path) {
        FILE *f = fopen(in->path, "rb");
        size_t n = f ? fread(head, 1, 4, f) : 0;
        if (f)
            fclose(f);
        if (n < 4)
            return 0;
    } else if (in->len >= 4) {
        memcpy(head, in->data, 4);
    }
    return head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) ||
                                                 (head[2] == 5 && head[3] == 6));
}

static zip_t *open_zip(const history_input *in, char *why, size_t why_len)
{
    zip_error_t ze;
    zip_t *z = NULL;
    zip_error_init(&ze);
    if (in->path) {
        int code = 0;
        z = zip_open(in->path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
        if (!z)
            zip_error_init_with_code(&ze, code);
    } else {
        zip_source_t *zs = zip_source_buffer_create(in->data, in->len, 0, &ze);
        if (zs && (z = zip_open_from_source(zs, ZIP_RDONLY | ZIP_CHECKCONS, &ze)) == NULL)
            zip_source_free(zs);
    }
    if (!z)
        snprintf(why, why_len, "not a valid zip archive (%s)", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return z;
}

static kt_status import_zip(run *r, const history_input *in, const char *name, kt_err *err)
{
    char why[256], label[600];
    kt_status st = KT_OK;
    size_t members = 0;
    history_file_report *f;
    zip_t *z = open_zip(in, why, sizeof why);
    zip_int64_t n = z ? zip_get_num_entries(z, 0) : 0;
    if (z && n > HISTORY_ZIP_MAX_ENTRIES)
        snprintf(why, sizeof why, "the archive has more than %d entries", HISTORY_ZIP_MAX_ENTRIES);
    for (zip_int64_t i = 0; z && n <= HISTORY_ZIP_MAX_ENTRIES && i < n && st == KT_OK; i++) {
        const char *member = zip_get_name(z, (zip_uint64_t)i, 0);
        if (!member || member[strlen(member) - 1] == '/')
            continue;
        snprintf(label, sizeof label, "%s:%s", name, member);
        if (!history_member(member)) {
            if ((f = add_file(r->rep, label, err)) == NULL)
                st = KT_ERR_NOMEM;
            else
                f->status = "ignored";
            continue;
        }
        members++;
        source src = {.zip = z, .index = (zip_uint64_t)i};
        st = import_stream(r, &src, member, label, err);
    }
    if (st == KT_OK && members == 0) {
        if (z && n <= HISTORY_ZIP_MAX_ENTRIES)
            snprintf(why, sizeof why, "the archive holds no streaming-history files "
                                      "(Streaming_History_Audio_*.json, endsong_*.json, "
                                      "StreamingHistory*.json)");
        char full[400];
        snprintf(full, sizeof full, "%s: %s", name, why);
        if ((f = add_file(r->rep, name, err)) == NULL ||
            (st = file_failed(r->rep, f, full, err)) != KT_OK)
            st = KT_ERR_NOMEM;
    }
    if (z)
        zip_discard(z); /* read-only: nothing to write back */
    return st;
}

kt_status history_import(store *s, int64_t user_id, const history_input *inputs, size_t n,
                         const history_options *o, history_report **out, kt_err *err)
{
    run r;
    kt_status st = KT_OK;
    memset(&r, 0, sizeof r);
    if (!s || !inputs || !o || n == 0)
        return err_set(err, KT_ERR_INVALID, "no_input", "no history file to import");
    for (size_t i = 0; i < n; i++)
        if (!inputs[i].path && !inputs[i].data)
            return err_set(err, KT_ERR_INVALID, "no_input", "input %zu has no path or data", i);
    r.s = s;
    r.user_id = user_id;
    r.o = o;
    if ((r.rep = calloc(1, sizeof *r.rep)) == NULL ||
        (r.bufs[0].recs = calloc(HISTORY_BATCH, sizeof *r.bufs[0].recs)) == NULL ||
        (r.bufs[1].recs = calloc(HISTORY_BATCH, sizeof *r.bufs[1].recs)) == NULL) {
        free(r.rep);
        free(r.bufs[0].recs);
        return nomem(err);
    }
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        const history_input *in = &inputs[i];
        const char *name = in->name ? in->name : in->path ? base_name(in->path) : "upload.json";
        if (looks_like_zip(in)) {
            st = import_zip(&r, in, name, err);
        } else {
            source src = {.path = in->path, .data = in->data, .len = in->len};
            st = import_stream(&r, &src, name, name, err);
        }
    }
    for (size_t i = 0; i < 2; i++) {
        free(r.bufs[i].recs);
        free(r.bufs[i].notes);
    }
    if (st != KT_OK) {
        history_report_free(r.rep);
        return st;
    }
    *out = r.rep;
    return KT_OK;
}

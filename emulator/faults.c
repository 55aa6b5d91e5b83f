/* faults.c - fault decisions (see faults.h). Random draws use a seeded PRNG
 * under the mutex, so a run with the same seed and request order injects the
 * same faults. */
#include "faults.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS 30000

enum {
    F_LATENCY = 1 << 0, F_JITTER = 1 << 1, F_RATE = 1 << 2, F_FAIL = 1 << 3, F_HANG = 1 << 4,
    F_TRUNC = 1 << 5, F_MALF = 1 << 6, F_DROP = 1 << 7, F_QUOTA = 1 << 8, F_QRETRY = 1 << 9,
    F_HANGMS = 1 << 10, F_THROTTLE = 1 << 11, F_TRETRY = 1 << 12,
};

typedef struct fault_rule {
    char *only;                   /* endpoint template, or NULL for any */
    char *user;                   /* the token's user id, or NULL for any */
    long remaining;               /* < 0: unlimited */
    em_fault_set set;
} fault_rule;

struct em_faults {
    pthread_mutex_t mu;
    em_fault_set global;
    VEC(fault_rule) rules;
    VEC(int64_t) window;          /* accepted request times, oldest first */
    size_t whead;
    rng r;
};

void faults_defaults(em_fault_set *s)
{
    memset(s, 0, sizeof(*s));
    s->quota_retry_after_s = 14400;
    s->hang_ms = 120000;
    s->throttle_retry_after_s = 1;
}

em_faults *faults_new(const em_fault_set *initial, uint64_t seed)
{
    em_faults *f = xcalloc(1, sizeof(*f));
    if (pthread_mutex_init(&f->mu, NULL) != 0) abort();
    f->global = *initial;
    rng_seed(&f->r, mix64(seed ^ 0xfa017ULL));
    return f;
}

static void rule_free(fault_rule *fr)
{
    free(fr->only);
    free(fr->user);
}

static void rules_clear(em_faults *f)
{
    for (size_t i = 0; i < f->rules.n; i++) rule_free(&f->rules.v[i]);
    f->rules.n = 0;
}

void faults_free(em_faults *f)
{
    if (!f) return;
    rules_clear(f);
    free(f->rules.v);
    free(f->window.v);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Effective settings: the rule's fields where it set them, else global. */
static em_fault_set effective(const em_fault_set *g, const em_fault_set *r)
{
    em_fault_set e = *g;
    if (!r) return e;
    if (r->set & F_LATENCY) e.latency_ms = r->latency_ms;
    if (r->set & F_JITTER) e.jitter_ms = r->jitter_ms;
    if (r->set & F_RATE) e.rate_limit = r->rate_limit;
    if (r->set & F_FAIL) e.fail_rate = r->fail_rate;
    if (r->set & F_HANG) e.hang_rate = r->hang_rate;
    if (r->set & F_TRUNC) e.truncate_rate = r->truncate_rate;
    if (r->set & F_MALF) e.malformed_rate = r->malformed_rate;
    if (r->set & F_DROP) e.drop_rate = r->drop_rate;
    if (r->set & F_QUOTA) e.quota_exceeded = r->quota_exceeded;
    if (r->set & F_QRETRY) e.quota_retry_after_s = r->quota_retry_after_s;
    if (r->set & F_HANGMS) e.hang_ms = r->hang_ms;
    if (r->set & F_THROTTLE) e.throttle_rate = r->throttle_rate;
    if (r->set & F_TRETRY) e.throttle_retry_after_s = r->throttle_retry_after_s;
    return e;
}

static bool roll(em_faults *f, double p)
{
    return p > 0 && (p >= 1 || rng_unit(&f->r) < p);
}

void faults_decide(em_faults *f, const char *endpoint, bool webapi, const char *user,
                   em_fault_decision *d)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_lock(&f->mu);
    const em_fault_set *rule = NULL;
    em_fault_set rule_copy;
    for (size_t i = 0; i < f->rules.n; i++) {
        fault_rule *fr = &f->rules.v[i];
        if (fr->only && strcmp(fr->only, endpoint) != 0) continue;
        if (!fr->only && !webapi) continue;
        if (fr->user && (!user || strcmp(fr->user, user) != 0)) continue;
        rule_copy = fr->set;
        rule = &rule_copy;
        if (fr->remaining > 0 && --fr->remaining == 0) {
            rule_free(fr);
            VEC_REMOVE(&f->rules, i);
        }
        break;
    }
    em_fault_set e = effective(&f->global, rule);
    d->delay_ms = e.latency_ms;
    if (e.jitter_ms > 0) d->delay_ms += rng_below(&f->r, (uint32_t)e.jitter_ms + 1);
    d->hang_ms = e.hang_ms;
    if (roll(f, e.drop_rate)) d->drop = true;
    else if (roll(f, e.hang_rate)) d->hang = true;
    else if (webapi && e.quota_exceeded) {
        d->quota = true;
        d->retry_after_s = e.quota_retry_after_s;
    } else if (webapi && roll(f, e.throttle_rate)) {
        d->rate_limited = true;
        d->retry_after_s = e.throttle_retry_after_s;
    } else {
        int64_t now = now_ms();
        bool limited = false;
        if (webapi && e.rate_limit > 0) {
            while (f->whead < f->window.n && f->window.v[f->whead] <= now - WINDOW_MS) f->whead++;
            if (f->whead > 4096 && f->whead * 2 > f->window.n) {
                memmove(f->window.v, f->window.v + f->whead, (f->window.n - f->whead) * sizeof(int64_t));
                f->window.n -= f->whead;
                f->whead = 0;
            }
            size_t inwin = f->window.n - f->whead;
            if ((long)inwin >= e.rate_limit) {
                /* Wait until enough of the window has expired for one more. */
                int64_t oldest = f->window.v[f->window.n - (size_t)e.rate_limit];
                long wait = (long)((oldest + WINDOW_MS - now + 999) / 1000);
                d->rate_limited = limited = true;
                d->retry_after_s = wait < 1 ? 1 : wait;
            }
        }
        if (!limited) {
            if (webapi) VEC_PUSH(&f->window, now);
            if (roll(f, e.fail_rate)) {
                static const int codes[] = {500, 502, 503};
                d->fail_status = codes[rng_below(&f->r, 3)];
            } else if (roll(f, e.truncate_rate)) {
                d->truncate = true;
            } else if (roll(f, e.malformed_rate)) {
                d->malformed = true;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static bool get_num(json_t *body, const char *key, double lo, double hi, double *out, bool *present,
                    char *err, size_t errsz)
{
    json_t *v = json_object_get(body, key);
    *present = v != NULL;
    if (!v) return true;
    if (json_is_boolean(v) && strcmp(key, "quota_exceeded") == 0) {
        *out = json_is_true(v) ? 1 : 0;
        return true;
    }
    if (!json_is_number(v)) {
        snprintf(err, errsz, "%s must be a number", key);
        return false;
    }
    double d = json_number_value(v);
    if (d < lo || d > hi) {
        snprintf(err, errsz, "%s must be in %g..%g", key, lo, hi);
        return false;
    }
    *out = d;
    return true;
}

bool faults_apply_json(em_faults *f, em_app *app, json_t *body, char *err, size_t errsz)
{
    if (!json_is_object(body)) {
        snprintf(err, errsz, "body must be a JSON object");
        return false;
    }
    static const struct { const char *key; unsigned bit; double hi; } fields[] = {
        {"latency_ms", F_LATENCY, 600000}, {"jitter_ms", F_JITTER, 600000}, {"rate_limit", F_RATE, 1e9},
        {"fail_rate", F_FAIL, 1}, {"hang_rate", F_HANG, 1}, {"truncate_rate", F_TRUNC, 1},
        {"malformed_rate", F_MALF, 1}, {"drop_rate", F_DROP, 1}, {"quota_exceeded", F_QUOTA, 1},
        {"quota_retry_after_s", F_QRETRY, 1e9}, {"hang_ms", F_HANGMS, 3600000},
        {"throttle_rate", F_THROTTLE, 1}, {"throttle_retry_after_s", F_TRETRY, 3600},
    };
    em_fault_set s;
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        double v = 0;
        bool present = false;
        if (!get_num(body, fields[i].key, 0, fields[i].hi, &v, &present, err, errsz)) return false;
        if (!present) continue;
        s.set |= fields[i].bit;
        switch (fields[i].bit) {
        case F_LATENCY: s.latency_ms = (long)v; break;
        case F_JITTER: s.jitter_ms = (long)v; break;
        case F_RATE: s.rate_limit = (long)v; break;
        case F_FAIL: s.fail_rate = v; break;
        case F_HANG: s.hang_rate = v; break;
        case F_TRUNC: s.truncate_rate = v; break;
        case F_MALF: s.malformed_rate = v; break;
        case F_DROP: s.drop_rate = v; break;
        case F_QUOTA: s.quota_exceeded = v != 0; break;
        case F_QRETRY: s.quota_retry_after_s = (long)v; break;
        case F_HANGMS: s.hang_ms = (long)v; break;
        case F_THROTTLE: s.throttle_rate = v; break;
        case F_TRETRY: s.throttle_retry_after_s = (long)v; break;
        default: break;
        }
    }
    json_t *mode = json_object_get(body, "mode"), *only = json_object_get(body, "only");
    json_t *count = json_object_get(body, "count"), *reset = json_object_get(body, "reset");
    json_t *user = json_object_get(body, "user");
    if (mode && (!json_is_string(mode) || (strcmp(json_string_value(mode), "development") != 0 &&
                                           strcmp(json_string_value(mode), "extended") != 0))) {
        snprintf(err, errsz, "mode must be \"development\" or \"extended\"");
        return false;
    }
    if (only && !json_is_string(only)) {
        snprintf(err, errsz, "only must be an endpoint such as \"GET /v1/me/tracks\"");
        return false;
    }
    if (user && (!json_is_string(user) || json_string_length(user) == 0)) {
        snprintf(err, errsz, "user must be a user id such as \"alice\"");
        return false;
    }
    if (count && (!json_is_integer(count) || json_integer_value(count) < 1)) {
        snprintf(err, errsz, "count must be a positive integer");
        return false;
    }
    if (mode) atomic_store(&app->mode_ext, strcmp(json_string_value(mode), "extended") == 0);
    pthread_mutex_lock(&f->mu);
    if (reset && json_is_true(reset)) {
        rules_clear(f);
        faults_defaults(&f->global);
        f->window.n = f->whead = 0;
    }
    if (only || count || user) {
        fault_rule fr = {only ? xstrdup(json_string_value(only)) : NULL,
                         user ? xstrdup(json_string_value(user)) : NULL,
                         count ? (long)json_integer_value(count) : -1, s};
        VEC_INSERT(&f->rules, 0, fr);   /* newest rule wins */
    } else {
        f->global = effective(&f->global, &s);
        if ((s.set & F_RATE)) f->window.n = f->whead = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return true;
}

static void dump_set(jw *w, const em_fault_set *s, bool only_set)
{
    #define NUM(bit, key, val) if (!only_set || (s->set & (bit))) { jw_key(w, key); val; }
    NUM(F_LATENCY, "latency_ms", jw_int(w, s->latency_ms));
    NUM(F_JITTER, "jitter_ms", jw_int(w, s->jitter_ms));
    NUM(F_RATE, "rate_limit", jw_int(w, s->rate_limit));
    NUM(F_FAIL, "fail_rate", jw_double(w, s->fail_rate));
    NUM(F_HANG, "hang_rate", jw_double(w, s->hang_rate));
    NUM(F_TRUNC, "truncate_rate", jw_double(w, s->truncate_rate));
    NUM(F_MALF, "malformed_rate", jw_double(w, s->malformed_rate));
    NUM(F_DROP, "drop_rate", jw_double(w, s->drop_rate));
    NUM(F_QUOTA, "quota_exceeded", jw_bool(w, s->quota_exceeded));
    NUM(F_QRETRY, "quota_retry_after_s", jw_int(w, s->quota_retry_after_s));
    NUM(F_HANGMS, "hang_ms", jw_int(w, s->hang_ms));
    NUM(F_THROTTLE, "throttle_rate", jw_double(w, s->throttle_rate));
    NUM(F_TRETRY, "throttle_retry_after_s", jw_int(w, s->throttle_retry_after_s));
    #undef NUM
}

void faults_dump(em_faults *f, em_app *app, long held, jw *w)
{
    pthread_mutex_lock(&f->mu);
    jw_obj(w);
    dump_set(w, &f->global, false);
    jw_kstr(w, "mode", atomic_load(&app->mode_ext) ? "extended" : "development");
    jw_key(w, "rules");
    jw_arr(w);
    for (size_t i = 0; i < f->rules.n; i++) {
        jw_obj(w);
        jw_kstr(w, "only", f->rules.v[i].only);
        jw_kstr(w, "user", f->rules.v[i].user);
        if (f->rules.v[i].remaining > 0) jw_kint(w, "count", f->rules.v[i].remaining);
        else jw_knull(w, "count");
        dump_set(w, &f->rules.v[i].set, true);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_kint(w, "held", held);
    jw_obj_end(w);
    pthread_mutex_unlock(&f->mu);
}

/* driver.c - replays a fuzz harness's corpus without libFuzzer.
 *
 * In builds without -Dfuzz=true (gcc, plain and ASan+UBSan) every harness
 * tests/fuzz/fuzz_<name>.c is linked with this main() instead of libFuzzer,
 * so each `make test` feeds it every file of its seed corpus and a few
 * hundred deterministic mutations of each: crashes, leaks and sanitizer
 * reports found once by the fuzzer stay found. libFuzzer itself is clang-only
 * and non-deterministic, which is why this small replayer exists.
 *
 * Usage: fuzz_<name>_replay [-m MUTATIONS] PATH...   (files or directories;
 * a directory contributes its regular files, in name order, not recursively).
 * Exit status 0 when every input returned; 1 on a usage or I/O error or an
 * empty corpus. A failing input aborts (the harness or a sanitizer does).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define DRIVER_MAX_INPUT (1u << 20)   /* bytes read from one corpus file */
#define DRIVER_MAX_GROW 64u           /* bytes a mutation may add */
#define DRIVER_DEFAULT_MUTATIONS 300

typedef struct rng { uint64_t s; } rng;

static uint64_t rng_next(rng *r)
{
    /* xorshift64*: deterministic across platforms, good enough to mutate. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static size_t rng_below(rng *r, size_t n)
{
    return n ? (size_t)(rng_next(r) % n) : 0;
}

static uint64_t seed_of(const char *name, unsigned round)
{
    uint64_t h = 1469598103934665603ull;  /* FNV-1a of the file name */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h ^= (uint64_t)round * 0x9E3779B97F4A7C15ull;
    return h ? h : 1;
}

/* Bytes that tend to matter to parsers of text formats. */
static const uint8_t interesting[] = {
    0x00, 0xff, 0x7f, 0x80, '%', '&', '=', '+', '?', '#', '/', ':', '\\', '"',
    '{', '}', '[', ']', ',', '0', '9', 'e', '-', '.', ' ', '\n', 'u', 0xc3, 0xe2,
};

/* Applies 1-4 random edits to buf[0..*len), capacity cap. */
static void mutate(rng *r, uint8_t *buf, size_t *len, size_t cap)
{
    unsigned edits = 1 + (unsigned)rng_below(r, 4);
    for (unsigned i = 0; i < edits; i++) {
        size_t n = *len;
        switch (rng_below(r, 7)) {
        case 0: /* flip one bit */
            if (n)
                buf[rng_below(r, n)] ^= (uint8_t)(1u << rng_below(r, 8));
            break;
        case 1: /* overwrite with an interesting byte */
            if (n)
                buf[rng_below(r, n)] = interesting[rng_below(r, sizeof interesting)];
            break;
        case 2: { /* insert an interesting byte */
            if (n >= cap)
                break;
            size_t at = rng_below(r, n + 1);
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = interesting[rng_below(r, sizeof interesting)];
            *len = n + 1;
            break;
        }
        case 3: { /* delete a range */
            if (!n)
                break;
            size_t at = rng_below(r, n);
            size_t k = 1 + rng_below(r, n - at < 16 ? n - at : 16);
            memmove(buf + at, buf + at + k, n - at - k);
            *len = n - k;
            break;
        }
        case 4: { /* duplicate a range in place */
            if (!n)
                break;
            size_t at = rng_below(r, n);
            size_t k = 1 + rng_below(r, n - at < 16 ? n - at : 16);
            if (n + k > cap)
                break;
            memmove(buf + at + k, buf + at, n - at);
            *len = n + k;
            break;
        }
        case 5: /* truncate */
            *len = rng_below(r, n + 1);
            break;
        default: { /* swap two bytes */
            if (n < 2)
                break;
            size_t a = rng_below(r, n), b = rng_below(r, n);
            uint8_t t = buf[a];
            buf[a] = buf[b];
            buf[b] = t;
            break;
        }
        }
    }
}

/* Calls the harness on a private, exactly-sized copy so ASan sees any
 * read past the end. */
static int run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        fprintf(stderr, "fuzz-driver: out of memory\n");
        return -1;
    }
    if (len)
        memcpy(copy, data, len);
    (void)LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz-driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(DRIVER_MAX_INPUT + DRIVER_MAX_GROW);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, DRIVER_MAX_INPUT, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "fuzz-driver: %s: read error\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Runs one corpus file and its mutations. Returns 0, or -1 on I/O error. */
static int run_file(const char *path, unsigned mutations, unsigned long *inputs)
{
    uint8_t *orig = NULL, *work = NULL;
    size_t len = 0;
    int rc = -1;

    if (read_file(path, &orig, &len) != 0)
        goto out;
    work = malloc(len + DRIVER_MAX_GROW);
    if (!work)
        goto out;
    if (run_one(orig, len) != 0)
        goto out;
    ++*inputs;
    for (unsigned i = 0; i < mutations; i++) {
        rng r = { seed_of(path, i) };
        size_t n = len;
        memcpy(work, orig, len);
        mutate(&r, work, &n, len + DRIVER_MAX_GROW);
        if (run_one(work, n) != 0)
            goto out;
        ++*inputs;
    }
    rc = 0;
out:
    free(work);
    free(orig);
    return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path, unsigned mutations, unsigned long *files,
                    unsigned long *inputs)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz-driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        ++*files;
        return run_file(path, mutations, inputs);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "fuzz-driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char full[4096];
        if (rc == 0 && names[i]->d_name[0] != '.') {
            int w = snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
            if (w < 0 || (size_t)w >= sizeof full)
                rc = -1;
            else if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
                ++*files;
                rc = run_file(full, mutations, inputs);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned mutations = DRIVER_DEFAULT_MUTATIONS;
    unsigned long files = 0, inputs = 0;
    int first = 1;

    if (argc > 2 && strcmp(argv[1], "-m") == 0) {
        char *end = NULL;
        unsigned long m = strtoul(argv[2], &end, 10);
        if (!end || *end || m > 100000) {
            fprintf(stderr, "fuzz-driver: -m wants 0..100000\n");
            return 1;
        }
        mutations = (unsigned)m;
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-m MUTATIONS] CORPUS_FILE_OR_DIR...\n", argv[0]);
        return 1;
    }
    /* The empty input is always worth one call. */
    if (run_one((const uint8_t *)"", 0) != 0)
        return 1;
    inputs++;
    for (int i = first; i < argc; i++)
        if (run_path(argv[i], mutations, &files, &inputs) != 0)
            return 1;
    if (files == 0) {
        fprintf(stderr, "fuzz-driver: no corpus files found\n");
        return 1;
    }
    printf("fuzz-driver: %lu inputs from %lu corpus files, no failure\n", inputs, files);
    return 0;
}

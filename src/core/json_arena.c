/* json_arena.c - parse trees built in one bump-allocated region (see
 * json_arena.h for the contract).
 *
 * Why by hand: the library answer, linking jemalloc (Debian's
 * libjemalloc2) for the whole process, made the sync as fast but raised the
 * peak RSS of `serve` during a sync with readers from 44-46 MB to 47-56 MB
 * whatever its tuning (bench/memory.py; issue 17's bound is 48 MB). Only
 * parse trees have this shape (one builder, thousands of small values, all
 * freed together), so only they get an arena.
 *
 * How it works:
 *  - A region is REGION_SIZE bytes of address space aligned to its size,
 *    mapped MAP_NORESERVE: only the pages written take memory. Its first
 *    bytes are the json_arena header; values follow, 16-byte aligned.
 *  - region_bits has one bit per REGION_SIZE of user address space (512 KiB
 *    of zero pages, a few touched): set while a region is mapped. arena_free
 *    tests the bit of a pointer's region, without a lock: set means the
 *    value lives in that region (malloc never returns addresses inside a
 *    mapping of ours), clear means malloc's, for free().
 *  - `live` counts the values not yet freed, plus one for the builder until
 *    json_arena_end. While a thread builds, its allocations and frees in the
 *    arena count in a plain field (no other thread holds those values yet),
 *    added to `live` at the end: one atomic per tree, not per value. Later
 *    frees only count `live` down; whoever brings it to zero recycles the
 *    region: pages past KEEP_RESIDENT are given back (MADV_DONTNEED) and the
 *    region waits in a small cache for the next json_arena_begin, or is
 *    unmapped when the cache is full.
 *  - A value that does not fit in what is left of the region is malloc'ed:
 *    a tree larger than a region is correct, only slower.
 */
#include "core/json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REGION_SHIFT 25 /* 32 MiB: a 0.5 MB page's tree is ~2 MB */
#define REGION_SIZE ((size_t)1 << REGION_SHIFT)
/* User space of x86-64 and arm64 Linux without a 5-level-paging mmap hint;
 * a region mapped above it is refused, and a pointer above it is malloc's. */
#define ADDR_BITS 47
#define REGION_SLOTS ((size_t)1 << (ADDR_BITS - REGION_SHIFT))
#define KEEP_RESIDENT ((size_t)1 << 20) /* bytes of a recycled region left in memory */
#define CACHE_MAX 4                      /* recycled regions kept for reuse */
#define VALUE_ALIGN 16                   /* what malloc guarantees (max_align_t) */

struct json_arena {
    atomic_size_t live; /* values not yet freed, + 1 while being built in */
    size_t used;        /* bytes handed out, the header's included */
    size_t built;       /* values made minus freed while building: the builder's alone */
    json_arena *next;   /* in the cache */
};

static _Atomic uint64_t region_bits[REGION_SLOTS / 64];
static atomic_size_t regions_mapped;
static atomic_int enabled;
static _Thread_local json_arena *building;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static json_arena *cache;
static size_t cache_n;

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) & ~(to - 1);
}

static int in_region(const void *p)
{
    uint64_t a = (uint64_t)(uintptr_t)p; /* 64 bits: the shift below is defined on 32-bit too */
    if (a >> ADDR_BITS)
        return 0;
    size_t slot = (size_t)(a >> REGION_SHIFT);
    uint64_t word = atomic_load_explicit(&region_bits[slot / 64], memory_order_acquire);
    return (int)((word >> (slot % 64)) & 1);
}

static void mark(json_arena *a, int mapped)
{
    size_t slot = (size_t)((uintptr_t)a >> REGION_SHIFT);
    uint64_t bit = (uint64_t)1 << (slot % 64);
    if (mapped)
        atomic_fetch_or_explicit(&region_bits[slot / 64], bit, memory_order_release);
    else
        atomic_fetch_and_explicit(&region_bits[slot / 64], ~bit, memory_order_release);
}

/* Maps twice the size and keeps the aligned middle: mmap only promises page
 * alignment. NULL when the address space is refused. */
static json_arena *region_map(void)
{
    size_t span = 2 * REGION_SIZE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *base = (char *)round_up((uintptr_t)raw, REGION_SIZE);
    size_t head = (size_t)(base - raw), tail = span - head - REGION_SIZE;
    if ((head && munmap(raw, head) != 0) || (tail && munmap(base + REGION_SIZE, tail) != 0) ||
        ((uint64_t)(uintptr_t)base + REGION_SIZE - 1) >> ADDR_BITS) {
        /* A failed munmap leaves address space mapped but unused: harmless. */
        (void)munmap(base, REGION_SIZE);
        return NULL;
    }
    mark((json_arena *)base, 1);
    atomic_fetch_add(&regions_mapped, 1);
    return (json_arena *)base;
}

static void region_unmap(json_arena *a)
{
    /* The bit first: once it is clear, no pointer into the region is left
     * (live reached zero) and the range may become malloc's. */
    mark(a, 0);
    atomic_fetch_sub(&regions_mapped, 1);
    (void)munmap(a, REGION_SIZE);
}

/* The last value of a is gone: gives its pages past KEEP_RESIDENT back and
 * keeps it for reuse, or unmaps it. */
static void recycle(json_arena *a)
{
    size_t end = round_up(a->used, 4096);
    if (end > KEEP_RESIDENT)
        (void)madvise((char *)a + KEEP_RESIDENT, end - KEEP_RESIDENT, MADV_DONTNEED);
    pthread_mutex_lock(&cache_mu);
    if (cache_n < CACHE_MAX) {
        a->next = cache;
        cache = a;
        cache_n++;
        a = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    if (a)
        region_unmap(a);
}

static void release(json_arena *a)
{
    if (atomic_fetch_sub_explicit(&a->live, 1, memory_order_acq_rel) == 1)
        recycle(a);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KT_SANITIZED 1
#endif
#endif

#ifndef KT_SANITIZED
static void *arena_malloc(size_t n)
{
    json_arena *a = building;
    if (a && n < REGION_SIZE) {
        size_t need = round_up(n ? n : 1, VALUE_ALIGN);
        if (need <= REGION_SIZE - a->used) {
            void *p = (char *)a + a->used;
            a->used += need;
            a->built++; /* no atomic per value: json_arena_end adds them to live */
            return p;
        }
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (!p)
        return;
    if (!in_region(p)) {
        free(p);
        return;
    }
    json_arena *a = (json_arena *)((uintptr_t)p & ~(uintptr_t)(REGION_SIZE - 1));
    if (a == building) {
        /* Only its builder holds values of an arena being built in. */
        a->built--;
        return;
    }
    release(a);
}
#endif

int json_arena_install(void)
{
#ifdef KT_SANITIZED
    return 0;
#else
    const char *off = getenv("KEEPTRACK_JSON_ARENA");
    if (off && strcmp(off, "off") == 0)
        return 0;
    if (!atomic_load(&enabled)) {
        json_set_alloc_funcs(arena_malloc, arena_free);
        atomic_store(&enabled, 1);
    }
    return 1;
#endif
}

int json_arena_enabled(void)
{
    return atomic_load(&enabled);
}

json_arena *json_arena_begin(void)
{
    json_arena *a = NULL;
    if (!atomic_load_explicit(&enabled, memory_order_relaxed) || building)
        return NULL;
    pthread_mutex_lock(&cache_mu);
    if (cache) {
        a = cache;
        cache = a->next;
        cache_n--;
    }
    pthread_mutex_unlock(&cache_mu);
    if (!a && !(a = region_map()))
        return NULL;
    a->used = round_up(sizeof *a, VALUE_ALIGN);
    a->built = 0;
    a->next = NULL;
    atomic_store_explicit(&a->live, 1, memory_order_relaxed);
    building = a;
    return a;
}

void json_arena_end(json_arena *a)
{
    if (!a)
        return;
    if (building == a) {
        building = NULL;
        atomic_fetch_add_explicit(&a->live, a->built, memory_order_relaxed);
    }
    release(a);
}

size_t json_arena_regions(void)
{
    return atomic_load(&regions_mapped);
}

int json_arena_owns(const void *p)
{
    return p && in_region(p);
}

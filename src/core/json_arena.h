/* json_arena.h - parse trees built in one bump-allocated region.
 *
 * A full sync parses ~415 pages of 90-500 KB; each becomes a jansson tree of
 * tens of thousands of small values, built by one thread and freed soon
 * after, often by another. Under glibc's malloc, building and freeing them
 * was ~40 % of the sync's CPU. While a thread builds a tree inside an arena
 * (json_arena_begin .. json_arena_end), every jansson allocation it makes is
 * carved from the arena's region; the region is recycled when the last of
 * those values is freed, by whichever thread frees it.
 *
 * Everything else jansson allocates (outside an arena, on other threads, or
 * once a region is full) is plain malloc, so a string json_dumps returns is
 * still released with free(), as jansson documents.
 *
 * Not used under AddressSanitizer or ThreadSanitizer builds: json_arena_install
 * then does nothing, every tree is malloc'ed and the sanitizers see each
 * value on its own.
 */
#ifndef KT_CORE_JSON_ARENA_H
#define KT_CORE_JSON_ARENA_H

#include <stddef.h>

typedef struct json_arena json_arena;

/* Routes jansson's allocations through this module (json_set_alloc_funcs).
 * Call once, before any other thread starts and before the first jansson
 * call whose values must come from an arena; values allocated before it
 * are still freed correctly. Returns 1 when arenas are in use, 0 when they
 * are not (a sanitizer build, or KEEPTRACK_JSON_ARENA=off in the
 * environment, the switch for comparing the two). */
int json_arena_install(void);

/* 1 once json_arena_install has put arenas in use. */
int json_arena_enabled(void);

/* Starts building in a fresh arena on the calling thread: its jansson
 * allocations come from the arena until json_arena_end. NULL (plain malloc
 * then, nothing to end) when arenas are not in use or no region could be
 * mapped. Arenas do not nest: a thread ends one before it begins another. */
json_arena *json_arena_begin(void);

/* Stops building in a (NULL: nothing). The values already built stay valid
 * until json_decref frees them; the region is recycled after the last. */
void json_arena_end(json_arena *a);

/* Regions mapped now, in use or kept for reuse (tests and diagnostics). */
size_t json_arena_regions(void);

/* 1 when p points into a mapped region (a value built in an arena), 0 for
 * anything else, NULL included (tests and diagnostics). */
int json_arena_owns(const void *p);

#endif

/* strset.h - a set of strings (open addressing, copies of the keys).
 *
 * The sync engine and the library store meet the same ids many times in one
 * run (an artist on hundreds of tracks); this set lets them write each once.
 * Hand-written because neither glibc nor the Debian libraries keeptrack
 * already links offer a growable string hash set (hsearch is global and
 * fixed-size). Not thread-safe: one owner at a time.
 */
#ifndef KT_CORE_STRSET_H
#define KT_CORE_STRSET_H

#include <stddef.h>

typedef struct strset strset;

/* A new empty set, or NULL when memory runs out. */
strset *strset_new(void);
/* Frees the set and its copies of the keys. NULL is a no-op. */
void strset_free(strset *s);
/* Adds a copy of key: 1 when it was added, 0 when already present, -1 when
 * memory ran out (the set is unchanged). NULL key: 0. */
int strset_add(strset *s, const char *key);
/* 1 when key is in the set. NULL key: 0. */
int strset_has(const strset *s, const char *key);
size_t strset_count(const strset *s);

#endif

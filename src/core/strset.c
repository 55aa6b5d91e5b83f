/* strset.c - string set with linear probing (see strset.h). Keys are
 * FNV-1a hashed; the table doubles at 50% load. */
#include "core/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strset {
    char **slots;
    size_t cap; /* power of two */
    size_t count;
};

static uint64_t hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return h;
}

strset *strset_new(void)
{
    strset *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = 64;
    if (!(s->slots = calloc(s->cap, sizeof *s->slots))) {
        free(s);
        return NULL;
    }
    return s;
}

void strset_free(strset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s);
}

static size_t find(char *const *slots, size_t cap, const char *key)
{
    size_t i = (size_t)hash(key) & (cap - 1);
    while (slots[i] && strcmp(slots[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(strset *s)
{
    size_t cap = s->cap * 2;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            slots[find(slots, cap, s->slots[i])] = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int strset_add(strset *s, const char *key)
{
    if (!s || !key)
        return 0;
    if ((s->count + 1) * 2 > s->cap && grow(s) != 0)
        return -1;
    size_t i = find(s->slots, s->cap, key);
    if (s->slots[i])
        return 0;
    if (!(s->slots[i] = strdup(key)))
        return -1;
    s->count++;
    return 1;
}

int strset_has(const strset *s, const char *key)
{
    if (!s || !key)
        return 0;
    return s->slots[find(s->slots, s->cap, key)] != NULL;
}

size_t strset_count(const strset *s)
{
    return s ? s->count : 0;
}

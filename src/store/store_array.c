/* store_array.c - PostgreSQL array literals for batch writes (see
 * store_array.h). */
#include "store/store_array.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void store_array_init(store_array *a)
{
    buf_init(&a->b, 0);
    a->n = 0;
    a->st = KT_OK;
}

/* The separator before the next element ('{' before the first). */
static void sep(store_array *a)
{
    if (a->st == KT_OK)
        a->st = buf_append(&a->b, a->n ? "," : "{", 1);
}

void store_array_text(store_array *a, const char *v)
{
    if (!v) {
        store_array_null(a);
        return;
    }
    sep(a);
    if (a->st == KT_OK)
        a->st = buf_append(&a->b, "\"", 1);
    /* Copy runs without a character to escape in one append each. */
    while (a->st == KT_OK && *v) {
        size_t run = strcspn(v, "\"\\");
        if (run)
            a->st = buf_append(&a->b, v, run);
        v += run;
        if (a->st == KT_OK && *v) {
            char esc[2] = {'\\', *v++};
            a->st = buf_append(&a->b, esc, 2);
        }
    }
    if (a->st == KT_OK)
        a->st = buf_append(&a->b, "\"", 1);
    a->n++;
}

void store_array_int(store_array *a, int64_t v)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%" PRId64, v);
    sep(a);
    if (a->st == KT_OK)
        a->st = buf_append(&a->b, num, (size_t)len);
    a->n++;
}

void store_array_null(store_array *a)
{
    sep(a);
    if (a->st == KT_OK)
        a->st = buf_append(&a->b, "NULL", 4);
    a->n++;
}

const char *store_array_end(store_array *a, kt_err *err)
{
    if (a->st == KT_OK)
        a->st = buf_puts(&a->b, a->n ? "}" : "{}");
    if (a->st != KT_OK) {
        err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory building a batch");
        return NULL;
    }
    return a->b.data;
}

void store_array_reset(store_array *a)
{
    buf_reset(&a->b);
    a->n = 0;
    a->st = KT_OK;
}

void store_array_free(store_array *a)
{
    if (a)
        buf_free(&a->b);
}

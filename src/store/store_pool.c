/* store_pool.c - a fixed-size pool of store connections shared by threads.
 *
 * Connections are opened lazily, up to `max`; store_pool_get hands out an
 * idle one, opens a new one when under the limit, or waits on a condition
 * variable until one is returned. store_pool_put cleans a connection before
 * it goes back: an open transaction is rolled back, and a connection that
 * lost its server (PostgreSQL) is closed so the next get opens a fresh one.
 * Opening happens outside the lock so a slow connect does not stall
 * threads that only return connections.
 *
 * SQLite: every pooled connection is its own sqlite3 handle on the same
 * file; WAL lets readers run beside the one writer and the busy timeout
 * queues writers. ":memory:" is a separate database per handle, so a pool
 * over it is limited to one connection (it then behaves as one database).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_driver.h"

#define POOL_MAX_LIMIT 1024

struct store_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *url;
    int max;
    int open;   /* connections in existence: idle + handed out + being opened */
    int nidle;
    store **idle; /* stack of `max` slots; [0, nidle) are idle */
};

kt_status store_pool_open(const char *url, int max, store_pool **out, kt_err *err)
{
    if (!url || !*url)
        return err_set(err, KT_ERR_INVALID, "db_url",
                       "no database given: set KEEPTRACK_DB to a file path or a postgres:// URL");
    if (max < 1 || max > POOL_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, "db_pool_size",
                       "database pool size must be 1..%d, got %d", POOL_MAX_LIMIT, max);
    if (strcmp(url, ":memory:") == 0)
        max = 1;
    store_pool *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory creating the database pool");
    p->url = strdup(url);
    p->idle = calloc((size_t)max, sizeof *p->idle);
    if (!p->url || !p->idle) {
        free(p->url);
        free(p->idle);
        free(p);
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory creating the database pool");
    }
    p->max = max;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    *out = p;
    return KT_OK;
}

void store_pool_close(store_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nidle; i++)
        store_close(p->idle[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->url);
    free(p);
}

kt_status store_pool_get(store_pool *p, store **out, kt_err *err)
{
    store *s = NULL;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->nidle > 0) {
            s = p->idle[--p->nidle];
            if (!store_is_broken(s))
                break;
            store_close(s); /* died while idle (server restart): replace it */
            s = NULL;
            p->open--;
        }
        if (s || p->open < p->max)
            break;
        pthread_cond_wait(&p->freed, &p->lock);
    }
    if (!s)
        p->open++; /* reserve the slot, then connect without holding the lock */
    pthread_mutex_unlock(&p->lock);
    if (!s) {
        kt_status rc = store_open(p->url, &s, err);
        if (rc != KT_OK) {
            pthread_mutex_lock(&p->lock);
            p->open--;
            pthread_cond_signal(&p->freed); /* a waiter may now try to open */
            pthread_mutex_unlock(&p->lock);
            return rc;
        }
    }
    *out = s;
    return KT_OK;
}

void store_pool_put(store_pool *p, store *s)
{
    if (!p || !s)
        return;
    store_rollback(s); /* no-op unless the borrower left a transaction open */
    int broken = store_is_broken(s);
    if (broken)
        store_close(s);
    pthread_mutex_lock(&p->lock);
    if (broken)
        p->open--;
    else
        p->idle[p->nidle++] = s;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void store_pool_stats(store_pool *p, int *open, int *idle, int *max)
{
    pthread_mutex_lock(&p->lock);
    *open = p->open;
    *idle = p->nidle;
    *max = p->max;
    pthread_mutex_unlock(&p->lock);
}

/* spotify_flight.c - requests in flight per user, across every batch of the
 * process.
 *
 * The client's `concurrency` is how many requests one user may have in
 * flight at once. A sync runs some collections on threads of their own
 * (each a batch with its own libcurl multi handle), so a limit kept per
 * batch would let a user exceed it; every batch of a user therefore joins
 * that user's group and takes a slot before each start. A batch refused a
 * slot waits in its curl_multi_poll; whoever gives a slot back wakes the
 * starved members with curl_multi_wakeup.
 *
 * A batch started by a thread that yields (spotify_thread_yield) is refused
 * a slot while a batch of the user that does not yield is waiting for one
 * (`wants`: refused a slot since it last started all it could): a sync
 * lets the collections it writes first take the slots they ask for and the
 * yielding ones fill the rest, so no slot stays idle and the big write of
 * the collection fetched first overlaps the others' fetch.
 *
 * Groups live in a short list under one mutex: a process has a handful of
 * users syncing at a time, and a group is freed when its last batch leaves.
 */
#include <stdlib.h>

#include "spotify/spotify_internal.h"

typedef struct flight_group {
    int64_t user_id;
    int in_flight;
    spotify_flight *members;
    struct flight_group *next;
} flight_group;

struct spotify_flight {
    spotify_client *c;
    flight_group *g;
    CURLM *multi;
    int held;      /* slots this batch holds */
    int starved;   /* refused a slot since the last wake-up */
    int yields;    /* gives way to members that want a slot (spotify_thread_yield) */
    int wants;     /* refused since it last started all it could (own thread: read unlocked) */
    spotify_flight *next;
};

static flight_group *group_get(spotify_client *c, int64_t user_id)
{
    for (flight_group *g = c->flight_groups; g; g = g->next)
        if (g->user_id == user_id)
            return g;
    flight_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->user_id = user_id;
    g->next = c->flight_groups;
    c->flight_groups = g;
    return g;
}

static void group_drop_if_empty(spotify_client *c, flight_group *g)
{
    if (g->members)
        return;
    for (flight_group **p = &c->flight_groups; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            free(g);
            return;
        }
}

/* Wakes every starved member but `self` (caller holds flight_mu). A failed
 * wake-up only delays that batch until its poll times out. */
static void wake_starved(flight_group *g, const spotify_flight *self)
{
    for (spotify_flight *m = g->members; m; m = m->next)
        if (m != self && m->starved) {
            m->starved = 0;
            (void)curl_multi_wakeup(m->multi);
        }
}

spotify_flight *spotify_flight_join(spotify_client *c, int64_t user_id, CURLM *multi)
{
    spotify_flight *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->c = c;
    f->multi = multi;
    f->yields = spotify_thread_yields();
    pthread_mutex_lock(&c->flight_mu);
    f->g = group_get(c, user_id);
    if (f->g) {
        f->next = f->g->members;
        f->g->members = f;
    }
    pthread_mutex_unlock(&c->flight_mu);
    if (!f->g) {
        free(f);
        return NULL;
    }
    return f;
}

/* 1 when a member of g other than f that does not yield wants a slot. */
static int others_want(const flight_group *g, const spotify_flight *f)
{
    for (const spotify_flight *m = g->members; m; m = m->next)
        if (m != f && m->wants && !m->yields)
            return 1;
    return 0;
}

int spotify_flight_take(spotify_flight *f)
{
    pthread_mutex_lock(&f->c->flight_mu);
    int ok = f->g->in_flight < f->c->concurrency && !(f->yields && others_want(f->g, f));
    if (ok) {
        f->g->in_flight++;
        f->held++; /* wants stays until satisfied: the batch may want more */
    } else {
        f->starved = 1;
        f->wants = 1;
    }
    pthread_mutex_unlock(&f->c->flight_mu);
    return ok;
}

void spotify_flight_satisfied(spotify_flight *f)
{
    if (!f->wants)
        return; /* only this thread sets it: no lock needed to see it clear */
    pthread_mutex_lock(&f->c->flight_mu);
    f->wants = 0;
    if (f->g->in_flight < f->c->concurrency)
        wake_starved(f->g, f);
    pthread_mutex_unlock(&f->c->flight_mu);
}

void spotify_flight_give(spotify_flight *f)
{
    pthread_mutex_lock(&f->c->flight_mu);
    if (f->held > 0) {
        f->held--;
        f->g->in_flight--;
        wake_starved(f->g, f);
    }
    pthread_mutex_unlock(&f->c->flight_mu);
}

void spotify_flight_leave(spotify_flight *f)
{
    if (!f)
        return;
    spotify_client *c = f->c;
    pthread_mutex_lock(&c->flight_mu);
    f->g->in_flight -= f->held;
    for (spotify_flight **p = &f->g->members; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    if (f->held > 0 || f->wants)
        wake_starved(f->g, f);
    group_drop_if_empty(c, f->g);
    pthread_mutex_unlock(&c->flight_mu);
    free(f);
}

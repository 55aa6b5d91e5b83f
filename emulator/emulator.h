/* emulator.h - the process-wide state of spotify-emulator, shared by the
 * server, the accounts service, the Web API handlers and the control API.
 *
 * One em_app exists per process (made in main.c). Its parts have their own
 * locks: the library (rwlock), accounts (mutex), faults (mutex), stats
 * (mutex). `mode_ext` is atomic so modes switch at run time without locks.
 */
#ifndef EM_EMULATOR_H
#define EM_EMULATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "library.h"

typedef struct em_accounts em_accounts;
typedef struct em_faults em_faults;
typedef struct em_stats em_stats;

#define EM_MAX_REDIRECTS 16

typedef struct em_config {
    char listen_host[64];
    int listen_port;
    bool ext_mode;
    uint64_t seed;
    long token_ttl_s, code_ttl_s;
    const char *client_id, *client_secret;
    const char *redirects[EM_MAX_REDIRECTS];
    int nredirects;
    bool rotate_refresh;
    int threads;
    int64_t day0;                 /* --today, or -1 */
    long body_cap;                /* request body limit in bytes */
} em_config;

typedef struct em_app {
    em_config cfg;
    em_library *lib;
    em_accounts *acc;
    em_faults *faults;
    em_stats *stats;
    atomic_bool mode_ext;
    atomic_bool stopping;
    char base_url[128];           /* http://127.0.0.1:PORT */
    char api_url[140];            /* base_url + "/v1" */
} em_app;

#endif

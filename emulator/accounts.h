/* accounts.h - the emulated Spotify accounts service: GET /authorize (automatic
 * consent as a chosen user), POST /api/token (authorization_code with Basic
 * auth or PKCE, refresh_token with optional rotation, client_credentials) and
 * the bearer-token check every Web API request goes through.
 *
 * Tokens and codes come from libsodium's CSPRNG (they are secrets, unlike the
 * seeded library). All state is behind one mutex; every function is
 * thread-safe. Users (em_user *) must outlive the accounts service.
 */
#ifndef EM_ACCOUNTS_H
#define EM_ACCOUNTS_H

#include "server.h"

em_accounts *accounts_new(const em_config *cfg);
void accounts_free(em_accounts *a);               /* accepts NULL */

void accounts_handle_authorize(em_app *app, em_req *r, em_resp *out);
void accounts_handle_token(em_app *app, em_req *r, em_resp *out);

typedef enum { BEARER_OK, BEARER_MISSING, BEARER_INVALID, BEARER_EXPIRED } em_bearer;
/* Checks "Authorization: Bearer X". On BEARER_OK *user is the token's user, or
 * NULL for a client-credentials token. */
em_bearer accounts_check_bearer(em_accounts *a, const char *authorization, em_user **user);

/* Control API. user NULL means "first user"; deny is sticky until changed. */
void accounts_set_consent(em_accounts *a, em_user *user, bool deny);
/* Returns the number of tokens affected. */
int accounts_expire_access(em_accounts *a, const em_user *u);
int accounts_revoke_refresh(em_accounts *a, const em_user *u);
int accounts_age_refresh(em_accounts *a, const em_user *u, long days);
/* {"access":[...],"refresh":[...]}: every token ever issued. */
void accounts_dump_tokens(em_accounts *a, jw *w);

#endif

/* store_shares.h - the domain SQL of read-only share links (issue 18,
 * item 3). Table: migration 14 (shares; see migrations.c).
 *
 * Only the hex SHA-256 of a link's token reaches this layer (the service
 * hashes it, as sessions are hashed): the database never holds a token
 * that would open a link.
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; reads
 * return store_rows (caller frees) whose columns are listed at each
 * function; times are unix ms.
 */
#ifndef KT_STORE_STORE_SHARES_H
#define KT_STORE_STORE_SHARES_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* The most links a user may keep at once. */
#define STORE_SHARES_MAX 50

/* Saves a new link of user_id: token_hash (hex SHA-256 of the token),
 * pages_json (the JSON array of chosen pages, as text), label (NULL = none)
 * and expires_at (< 0 = never). *id receives the new row's id.
 * KT_ERR_INVALID "too_many" when the user already has STORE_SHARES_MAX
 * links; KT_ERR_CONFLICT when the hash exists (a 256-bit token repeating). */
kt_status store_share_create(store *s, int64_t user_id, const char *token_hash,
                             const char *pages_json, const char *label, int64_t now_ms,
                             int64_t expires_at, int64_t *id, kt_err *err);

/* The user's links, oldest first: (id, pages, label|NULL, created_at,
 * expires_at|NULL). Expired links are listed too (the caller says so). */
kt_status store_share_list(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* Revokes (deletes) one link of the user; KT_ERR_NOT_FOUND "no_share" when
 * the user has none with that id (another user's id included). */
kt_status store_share_delete(store *s, int64_t user_id, int64_t id, kt_err *err);

/* The link whose token hashes to token_hash, if it is live at now_ms (no
 * expiry or expires_at > now_ms) and its owner is not disabled: one row
 * (user_id, pages). KT_ERR_NOT_FOUND "no_share" otherwise, the same for an
 * unknown, expired or revoked link. */
kt_status store_share_lookup(store *s, const char *token_hash, int64_t now_ms, store_rows **out,
                             kt_err *err);

#endif

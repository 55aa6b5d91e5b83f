/* crypto.h - randomness, hashing and the token vault (all libsodium).
 *
 * Part 1, primitives: CSPRNG bytes and tokens (state, session ids, PKCE
 * verifiers), SHA-256 (for storing session ids and states hashed),
 * constant-time comparison, PKCE S256 (RFC 7636) and unbiased random integers
 * (Fisher-Yates shuffles).
 *
 * Part 2, the vault: encrypts Spotify tokens before they reach the database.
 * XChaCha20-Poly1305-IETF with a random 24-byte nonce; a sealed blob is
 *     version (1 byte, =1) | key id (4 bytes) | nonce (24) | ciphertext + tag (16)
 * and the associated data is version | key id | user_id (8 bytes, big endian)
 * | column name, so a blob copied to another user or column fails to open.
 * The vault is a keyring: the first key is current (used to seal), the others
 * only open old blobs until `keeptrack keys rotate` has resealed them.
 * Keys are 32 random bytes written as standard base64 (44 characters), from
 * KEEPTRACK_SECRET_KEY (+ KEEPTRACK_SECRET_KEY_PREVIOUS) or from a key file
 * holding one key per line (first = current; '#' comments and blank lines
 * ignored), created 0600 on first run and refused when group or others have
 * any access to it. Key material lives in sodium_malloc'd memory.
 *
 * Thread use: crypto_init must have succeeded before anything else is used
 * (it is idempotent and thread-safe). Every function is thread-safe; the
 * vault takes a read lock to seal/open and a write lock to rotate.
 */
#ifndef KT_CORE_CRYPTO_H
#define KT_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CRYPTO_TOKEN_LEN 43       /* chars of crypto_random_token, without NUL */
#define VAULT_KEY_B64_LEN 44      /* chars of a base64 key, without NUL */
#define VAULT_BLOB_VERSION 1
#define VAULT_BLOB_OVERHEAD (1 + 4 + 24 + 16) /* bytes a blob adds to its plaintext */

/* Initialises libsodium (sodium_init). Idempotent. KT_ERR_CRYPTO when the
 * library cannot initialise (no entropy source). */
kt_status crypto_init(void);

/* Fills dst with n bytes from the CSPRNG. Cannot fail once crypto_init succeeded. */
void crypto_random_bytes(void *dst, size_t n);

/* 32 random bytes (256 bits) as unpadded base64url: 43 chars + NUL. */
void crypto_random_token(char out[44]);

/* Lower-case hex SHA-256 of n bytes at p (p may be NULL when n is 0). */
void crypto_sha256_hex(const void *p, size_t n, char out[65]);

/* 1 when the n bytes at a and b are equal, 0 otherwise, in time independent
 * of the contents (sodium_memcmp). */
int crypto_equal(const void *a, const void *b, size_t n);

/* 1 when the two NUL-terminated strings are equal, in time that depends only
 * on their lengths. NULLs compare unequal to everything. */
int crypto_str_equal(const char *a, const char *b);

/* A fresh PKCE pair: verifier = 43-char random token, challenge =
 * base64url(SHA-256(verifier)) without padding (S256). */
void crypto_pkce_pair(char verifier[44], char challenge[44]);

/* The S256 challenge of a given verifier (RFC 7636 section 4.2). */
void crypto_pkce_challenge(const char *verifier, char challenge[44]);

/* A uniformly random integer in [0, upper) (randombytes_uniform, no modulo
 * bias); 0 when upper < 2. */
uint32_t crypto_uniform(uint32_t upper);

/* --- the vault ---------------------------------------------------------- */

typedef struct vault vault;

/* Opens the keyring. With key_b64 (KEEPTRACK_SECRET_KEY) not NULL, that key is
 * the only (current) key and key_file is ignored. Otherwise key_file is read,
 * or created (parent directories 0700, the file 0600, atomically: a complete
 * file appears or none) holding one fresh key when it does not exist. Errors:
 * KT_ERR_INVALID for a key that is not 32 bytes of base64 (the message names
 * KEEPTRACK_SECRET_KEY or the file and line), for a key file group/other can
 * access ("chmod 600 ..."), owned by another user, or without keys;
 * KT_ERR_IO when the file cannot be read or created; KT_ERR_CRYPTO when
 * libsodium cannot initialise. On success *out is owned by the caller
 * (vault_free). */
kt_status vault_open(const char *key_b64, const char *key_file, vault **out, kt_err *err);

/* Wipes the keys and frees the vault. v may be NULL. */
void vault_free(vault *v);

/* Adds a read-only (old) key, e.g. each entry of KEEPTRACK_SECRET_KEY_PREVIOUS
 * (vault_add_old_keys_csv splits the comma-separated list; surrounding
 * spaces are ignored). A key already in the ring is accepted silently. KT_ERR_INVALID
 * naming KEEPTRACK_SECRET_KEY_PREVIOUS for a malformed key. */
kt_status vault_add_old_key(vault *v, const char *key_b64, kt_err *err);

/* Adds every key of a comma-separated list (KEEPTRACK_SECRET_KEY_PREVIOUS as
 * is) with vault_add_old_key; empty entries are skipped; csv NULL or "" adds
 * nothing. Stops at the first malformed entry (KT_ERR_INVALID, no key value
 * in the message). */
kt_status vault_add_old_keys_csv(vault *v, const char *csv, kt_err *err);

/* Short public id of the current key: the first 8 hex chars of BLAKE2b(key)
 * (the same 4 bytes stored in blobs). Borrowed; valid until vault_free or
 * vault_drop_old_keys. */
const char *vault_key_id(const vault *v);

/* Number of keys in the ring (current + old). */
size_t vault_key_count(const vault *v);

/* Seals len bytes of plain for (user_id, column) under the current key. *out
 * is malloc'd (caller frees with free()), *out_len = len + VAULT_BLOB_OVERHEAD.
 * column must not be NULL. KT_ERR_NOMEM / KT_ERR_TOO_LARGE (over 1 MiB). */
kt_status vault_seal(vault *v, int64_t user_id, const char *column, const void *plain, size_t len,
                     unsigned char **out, size_t *out_len, kt_err *err);

/* Opens a blob sealed for (user_id, column). *out is a NUL-terminated copy of
 * the plaintext (caller frees with vault_secret_free(*out, *out_len)).
 * KT_ERR_CRYPTO when the blob is malformed, was sealed by a key not in the
 * ring, was tampered with, or belongs to another user or column. The message
 * never contains key material or plaintext. */
kt_status vault_open_secret(vault *v, int64_t user_id, const char *column, const unsigned char *blob,
                            size_t len, char **out, size_t *out_len, kt_err *err);

/* Zeroes len bytes of s (sodium_memzero) and frees it. s may be NULL. */
void vault_secret_free(char *s, size_t len);

/* Writes the 8-hex key id a blob was sealed under into out. KT_ERR_INVALID
 * when the blob is too short or has an unknown version. */
kt_status vault_blob_key_id(const unsigned char *blob, size_t len, char out[9]);

/* 1 when the blob was sealed under a key other than the current one (or is
 * malformed), so `keys rotate` should reseal it; 0 when it is current. */
int vault_needs_reseal(const vault *v, const unsigned char *blob, size_t len);

/* Opens a blob with whatever key sealed it and seals it again under the
 * current key. *out as for vault_seal. Errors as vault_open_secret. */
kt_status vault_reseal(vault *v, int64_t user_id, const char *column, const unsigned char *blob,
                       size_t len, unsigned char **out, size_t *out_len, kt_err *err);

/* Generates a new key, writes it at the top of the key file (atomically:
 * temp file 0600 + fsync + rename) and makes it current; old keys stay for
 * reading. KT_ERR_INVALID when the vault's key came from KEEPTRACK_SECRET_KEY
 * (the message says how to rotate an env key); KT_ERR_IO on write failure
 * (the vault is then unchanged). */
kt_status vault_rotate_file(vault *v, kt_err *err);

/* Forgets every key but the current one and rewrites the key file (if the
 * vault has one) with only that key, atomically. Call after every blob has
 * been resealed. KT_ERR_IO on write failure (the vault is then unchanged). */
kt_status vault_drop_old_keys(vault *v, kt_err *err);

/* A fresh random key as standard base64 (44 chars), malloc'd (caller frees;
 * it is a secret: sodium_memzero it first). NULL when memory runs out. */
char *vault_generate_key_b64(void);

/* Checks that s is a valid key (32 bytes in standard base64). 1 if so. */
int vault_key_valid(const char *s);

#endif

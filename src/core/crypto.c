/* crypto.c - libsodium primitives and the token vault (see crypto.h). */
#include "core/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"

#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HEADER_BYTES (1 + 4 + NONCE_BYTES)
#define VAULT_MAX_KEYS 32
#define VAULT_MAX_PLAIN (1u << 20)
#define VAULT_COLUMN_MAX 64
#define KEY_FILE_MAX 65536
#define KEY_FILE_HEADER                                                                      \
    "# keeptrack secret keys: one base64 key per line, the first is current.\n"              \
    "# Keep this file private (0600) and backed up: without it the stored Spotify tokens\n" \
    "# cannot be decrypted and every user must log in again.\n"

_Static_assert(KEY_BYTES == 32, "vault keys are 32 bytes");
_Static_assert(VAULT_BLOB_OVERHEAD == HEADER_BYTES + TAG_BYTES, "blob layout");

/* --- primitives ----------------------------------------------------------- */

kt_status crypto_init(void)
{
    return sodium_init() < 0 ? KT_ERR_CRYPTO : KT_OK;
}

void crypto_random_bytes(void *dst, size_t n)
{
    randombytes_buf(dst, n);
}

static void b64url(const unsigned char *bin, size_t n, char *out, size_t outsz)
{
    sodium_bin2base64(out, outsz, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void crypto_random_token(char out[44])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    b64url(raw, sizeof raw, out, 44);
    sodium_memzero(raw, sizeof raw);
}

void crypto_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, n ? p : (const void *)"", n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

int crypto_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t n = strlen(a);
    if (n != strlen(b))
        return 0;
    return sodium_memcmp(a, b, n) == 0;
}

void crypto_pkce_challenge(const char *verifier, char challenge[44])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
    b64url(h, sizeof h, challenge, 44);
}

void crypto_pkce_pair(char verifier[44], char challenge[44])
{
    crypto_random_token(verifier);
    crypto_pkce_challenge(verifier, challenge);
}

uint32_t crypto_uniform(uint32_t upper)
{
    return upper < 2 ? 0 : randombytes_uniform(upper);
}

/* --- the vault ------------------------------------------------------------ */

typedef struct vault_key {
    unsigned char key[KEY_BYTES];
    unsigned char id[4];
    char id_hex[9];
} vault_key; /* lives in sodium_malloc'd (guarded, locked) memory */

struct vault {
    pthread_rwlock_t lock;
    vault_key *keys[VAULT_MAX_KEYS]; /* keys[0] is current */
    size_t nkeys;
    char *key_file; /* NULL when the key came from KEEPTRACK_SECRET_KEY */
};

static void key_free(vault_key *k)
{
    if (k)
        sodium_free(k); /* sodium_free zeroes the memory */
}

/* Decodes a base64 key (surrounding blanks ignored) into a new vault_key. */
static vault_key *key_from_b64(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n != VAULT_KEY_B64_LEN || crypto_init() != KT_OK)
        return NULL;
    vault_key *k = sodium_malloc(sizeof *k);
    if (!k)
        return NULL;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(k->key, sizeof k->key, s, n, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != KEY_BYTES || end != s + n) {
        sodium_free(k);
        return NULL;
    }
    unsigned char h[crypto_generichash_BYTES_MIN];
    crypto_generichash(h, sizeof h, k->key, sizeof k->key, NULL, 0);
    memcpy(k->id, h, sizeof k->id);
    sodium_bin2hex(k->id_hex, sizeof k->id_hex, k->id, sizeof k->id);
    return k;
}

static vault_key *key_generate(void)
{
    char *b64 = vault_generate_key_b64();
    if (!b64)
        return NULL;
    vault_key *k = key_from_b64(b64, strlen(b64));
    sodium_memzero(b64, strlen(b64));
    free(b64);
    return k;
}

int vault_key_valid(const char *s)
{
    vault_key *k = s ? key_from_b64(s, strlen(s)) : NULL;
    key_free(k);
    return k != NULL;
}

char *vault_generate_key_b64(void)
{
    unsigned char raw[KEY_BYTES];
    char *out = malloc(VAULT_KEY_B64_LEN + 1);
    if (!out)
        return NULL;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, VAULT_KEY_B64_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof raw);
    return out;
}

static vault *vault_alloc(void)
{
    vault *v = calloc(1, sizeof *v);
    if (v && pthread_rwlock_init(&v->lock, NULL) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

void vault_free(vault *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nkeys; i++)
        key_free(v->keys[i]);
    free(v->key_file);
    pthread_rwlock_destroy(&v->lock);
    free(v);
}

static int ring_has(const vault *v, const vault_key *k)
{
    for (size_t i = 0; i < v->nkeys; i++)
        if (sodium_memcmp(v->keys[i]->key, k->key, KEY_BYTES) == 0)
            return 1;
    return 0;
}

/* Serialises keys into the key-file format (header + one key per line). The
 * text is secret: the caller wipes and frees it with wipe_buf. */
static kt_status keys_to_text(vault_key *const *keys, size_t n, buf *out)
{
    kt_status st = buf_puts(out, KEY_FILE_HEADER);
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        char b64[VAULT_KEY_B64_LEN + 1];
        sodium_bin2base64(b64, sizeof b64, keys[i]->key, KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
        st = buf_append(out, b64, VAULT_KEY_B64_LEN);
        if (st == KT_OK)
            st = buf_puts(out, "\n");
        sodium_memzero(b64, sizeof b64);
    }
    return st;
}

static void wipe_buf(buf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
    buf_free(b);
}

static kt_status write_key_file(const char *path, vault_key *const *keys, size_t n, kt_err *err)
{
    buf text;
    buf_init(&text, 0);
    kt_status st = keys_to_text(keys, n, &text);
    if (st != KT_OK)
        st = err_set(err, st, NULL, "out of memory writing the key file");
    else
        st = fs_write_atomic(path, text.data, text.len, 0600, err);
    wipe_buf(&text);
    return st;
}

/* Creates the key file with one fresh key. The content is written to a
 * private temp file first and then link()ed into place, so the key file
 * appears complete or not at all, and of two processes starting at once only
 * one key wins (the loser reads the winner's file). */
static kt_status create_key_file(const char *path, kt_err *err)
{
    char tmp[4096];
    kt_status st = fs_mkdir_parent(path, 0700, err);
    if (st != KT_OK)
        return st;
    if (snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path) >= (int)sizeof tmp)
        return err_set(err, KT_ERR_INVALID, "bad_path", "key file path is too long");
    vault_key *k = key_generate();
    buf text;
    buf_init(&text, 0);
    if (!k || keys_to_text(&k, 1, &text) != KT_OK) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory creating the key file");
        goto out;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT|O_EXCL, mode 0600 */
    if (fd < 0) {
        st = err_set(err, KT_ERR_IO, "key_file", "cannot create the key file %s: %s", path, strerror(errno));
        goto out;
    }
    ssize_t w = write(fd, text.data, text.len);
    int ok = w == (ssize_t)text.len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && link(tmp, path) != 0 && errno != EEXIST)
        ok = 0;
    if (!ok)
        st = err_set(err, KT_ERR_IO, "key_file", "cannot write the key file %s: %s", path, strerror(errno));
    unlink(tmp);
out:
    key_free(k);
    wipe_buf(&text);
    return st;
}

/* Parses the key file text into v's ring. */
static kt_status parse_key_text(vault *v, const char *path, char *text, kt_err *err)
{
    int line = 0;
    for (char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        line++;
        const char *s = p;
        size_t len = n;
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        if (len && *s != '#' && !(len == 1 && *s == '\r')) {
            vault_key *k = key_from_b64(s, len);
            if (!k)
                return err_set(err, KT_ERR_INVALID, "bad_key",
                               "%s line %d is not a key (32 bytes in standard base64, 44 characters)", path,
                               line);
            if (v->nkeys == VAULT_MAX_KEYS || ring_has(v, k)) {
                key_free(k);
                if (v->nkeys == VAULT_MAX_KEYS)
                    return err_set(err, KT_ERR_INVALID, "bad_key", "%s holds more than %d keys", path,
                                   VAULT_MAX_KEYS);
            } else {
                v->keys[v->nkeys++] = k;
            }
        }
        p += n;
        if (*p)
            p++;
    }
    if (v->nkeys == 0)
        return err_set(err, KT_ERR_INVALID, "bad_key",
                       "%s holds no key: delete it to have a new one generated (users will log in again)", path);
    return KT_OK;
}

/* Opens the key file (creating it when missing), checks who may read it, and
 * loads its keys. The checks run on the open descriptor, not the path, so the
 * file cannot be swapped between check and read. */
static kt_status load_key_file(vault *v, const char *path, kt_err *err)
{
    char *text = NULL;
    size_t len = 0;
    kt_status st;
    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && attempt == 0) {
            if ((st = create_key_file(path, err)) != KT_OK)
                return st;
        } else if (fd < 0) {
            return err_set(err, KT_ERR_IO, "key_file", "cannot open the key file %s: %s", path, strerror(errno));
        }
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = err_set(err, KT_ERR_IO, "key_file", "cannot stat the key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (sb.st_mode & 077) {
        st = err_set(err, KT_ERR_INVALID, "key_file_mode",
                     "the key file %s is accessible to group or others (mode %03o): run chmod 600 %s", path,
                     (unsigned)(sb.st_mode & 0777), path);
        goto out;
    }
    if (sb.st_uid != geteuid()) {
        st = err_set(err, KT_ERR_INVALID, "key_file_owner",
                     "the key file %s belongs to uid %u, not to this user (uid %u): chown it or run as its owner",
                     path, (unsigned)sb.st_uid, (unsigned)geteuid());
        goto out;
    }
    if ((st = fs_read_fd(fd, path, KEY_FILE_MAX, &text, &len, err)) != KT_OK)
        goto out;
    st = parse_key_text(v, path, text, err);
out:
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    close(fd);
    return st;
}

kt_status vault_open(const char *key_b64, const char *key_file, vault **out, kt_err *err)
{
    if (crypto_init() != KT_OK)
        return err_set(err, KT_ERR_CRYPTO, NULL, "libsodium failed to initialise");
    vault *v = vault_alloc();
    kt_status st = KT_OK;
    if (!v)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    if (key_b64) {
        vault_key *k = key_from_b64(key_b64, strlen(key_b64));
        if (!k) {
            st = err_set(err, KT_ERR_INVALID, "bad_key",
                         "KEEPTRACK_SECRET_KEY must be 32 bytes in standard base64 (44 characters): "
                         "generate one with `keeptrack keys generate` or `openssl rand -base64 32`");
            goto out;
        }
        v->keys[v->nkeys++] = k;
    } else if (!key_file || !*key_file) {
        st = err_set(err, KT_ERR_INVALID, "no_key",
                     "neither KEEPTRACK_SECRET_KEY nor KEEPTRACK_SECRET_KEY_FILE is set");
        goto out;
    } else {
        if (!(v->key_file = strdup(key_file))) {
            st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        if ((st = load_key_file(v, key_file, err)) != KT_OK)
            goto out;
    }
    *out = v;
    v = NULL;
out:
    vault_free(v);
    return st;
}

kt_status vault_add_old_key(vault *v, const char *key_b64, kt_err *err)
{
    vault_key *k = key_b64 ? key_from_b64(key_b64, strlen(key_b64)) : NULL;
    if (!k)
        return err_set(err, KT_ERR_INVALID, "bad_key",
                       "KEEPTRACK_SECRET_KEY_PREVIOUS holds a value that is not a key (each comma-separated "
                       "entry must be 32 bytes in standard base64, 44 characters)");
    kt_status st = KT_OK;
    pthread_rwlock_wrlock(&v->lock);
    if (ring_has(v, k)) {
        key_free(k);
    } else if (v->nkeys == VAULT_MAX_KEYS) {
        key_free(k);
        st = err_set(err, KT_ERR_INVALID, "bad_key", "too many keys (at most %d)", VAULT_MAX_KEYS);
    } else {
        v->keys[v->nkeys++] = k;
    }
    pthread_rwlock_unlock(&v->lock);
    return st;
}

kt_status vault_add_old_keys_csv(vault *v, const char *csv, kt_err *err)
{
    for (const char *p = csv ? csv : ""; *p;) {
        size_t n = strcspn(p, ",");
        char one[128];
        if (n >= sizeof one)
            return vault_add_old_key(v, "", err); /* too long to be a key: same message */
        memcpy(one, p, n);
        one[n] = '\0';
        size_t blank = strspn(one, " \t");
        kt_status st = one[blank] ? vault_add_old_key(v, one, err) : KT_OK;
        sodium_memzero(one, sizeof one);
        if (st != KT_OK)
            return st;
        p += n;
        if (*p)
            p++;
    }
    return KT_OK;
}

const char *vault_key_id(const vault *v)
{
    return v->keys[0]->id_hex;
}

size_t vault_key_count(const vault *v)
{
    return v->nkeys;
}

/* version | key id | user_id (big endian) | column */
static size_t build_ad(unsigned char *ad, const unsigned char id[4], int64_t user_id, const char *column,
                       size_t col_len)
{
    uint64_t u = (uint64_t)user_id;
    ad[0] = VAULT_BLOB_VERSION;
    memcpy(ad + 1, id, 4);
    for (int i = 0; i < 8; i++)
        ad[5 + i] = (unsigned char)(u >> (56 - 8 * i));
    memcpy(ad + 13, column, col_len);
    return 13 + col_len;
}

static kt_status check_column(const char *column, size_t *len, kt_err *err)
{
    if (!column || (*len = strlen(column)) == 0 || *len > VAULT_COLUMN_MAX)
        return err_set(err, KT_ERR_INTERNAL, NULL, "vault: column name missing or too long");
    return KT_OK;
}

/* Seals under key k (caller holds the lock). */
static kt_status seal_with(const vault_key *k, int64_t user_id, const char *column, const void *plain,
                           size_t len, unsigned char **out, size_t *out_len, kt_err *err)
{
    size_t col_len = 0;
    kt_status st = check_column(column, &col_len, err);
    if (st != KT_OK)
        return st;
    if (len > VAULT_MAX_PLAIN)
        return err_set(err, KT_ERR_TOO_LARGE, NULL, "vault: secret larger than %u bytes", VAULT_MAX_PLAIN);
    unsigned char *blob = malloc(len + VAULT_BLOB_OVERHEAD);
    if (!blob)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    unsigned char ad[13 + VAULT_COLUMN_MAX];
    size_t ad_len = build_ad(ad, k->id, user_id, column, col_len);
    blob[0] = VAULT_BLOB_VERSION;
    memcpy(blob + 1, k->id, 4);
    randombytes_buf(blob + 5, NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + HEADER_BYTES, &clen, len ? plain : (const void *)"", len,
                                               ad, ad_len, NULL, blob + 5, k->key);
    *out = blob;
    *out_len = HEADER_BYTES + (size_t)clen;
    return KT_OK;
}

kt_status vault_seal(vault *v, int64_t user_id, const char *column, const void *plain, size_t len,
                     unsigned char **out, size_t *out_len, kt_err *err)
{
    pthread_rwlock_rdlock(&v->lock);
    kt_status st = seal_with(v->keys[0], user_id, column, plain, len, out, out_len, err);
    pthread_rwlock_unlock(&v->lock);
    return st;
}

static kt_status open_locked(vault *v, int64_t user_id, const char *column, const unsigned char *blob,
                             size_t len, char **out, size_t *out_len, kt_err *err)
{
    size_t col_len = 0;
    kt_status st = check_column(column, &col_len, err);
    if (st != KT_OK)
        return st;
    if (!blob || len < VAULT_BLOB_OVERHEAD || blob[0] != VAULT_BLOB_VERSION)
        return err_set(err, KT_ERR_CRYPTO, "secret_unreadable",
                       "a stored secret (%s) is malformed: the user must log in again", column);
    size_t plen = len - VAULT_BLOB_OVERHEAD;
    int known = 0;
    for (size_t i = 0; i < v->nkeys; i++) {
        const vault_key *k = v->keys[i];
        if (memcmp(k->id, blob + 1, 4) != 0)
            continue;
        known = 1;
        char *plain = malloc(plen + 1);
        if (!plain)
            return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        unsigned char ad[13 + VAULT_COLUMN_MAX];
        size_t ad_len = build_ad(ad, k->id, user_id, column, col_len);
        unsigned long long got = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &got, NULL, blob + HEADER_BYTES,
                                                       len - HEADER_BYTES, ad, ad_len, blob + 5, k->key) == 0) {
            plain[got] = '\0';
            *out = plain;
            *out_len = (size_t)got;
            return KT_OK;
        }
        free(plain);
    }
    char id[9];
    sodium_bin2hex(id, sizeof id, blob + 1, 4);
    if (!known)
        return err_set(err, KT_ERR_CRYPTO, "unknown_key",
                       "a stored secret (%s) was sealed under key %s, which is not loaded: add that key "
                       "to the key file or KEEPTRACK_SECRET_KEY_PREVIOUS",
                       column, id);
    return err_set(err, KT_ERR_CRYPTO, "secret_unreadable",
                   "a stored secret (%s) failed authentication under key %s: it was altered or belongs to "
                   "another user; the user must log in again",
                   column, id);
}

kt_status vault_open_secret(vault *v, int64_t user_id, const char *column, const unsigned char *blob,
                            size_t len, char **out, size_t *out_len, kt_err *err)
{
    pthread_rwlock_rdlock(&v->lock);
    kt_status st = open_locked(v, user_id, column, blob, len, out, out_len, err);
    pthread_rwlock_unlock(&v->lock);
    return st;
}

void vault_secret_free(char *s, size_t len)
{
    if (!s)
        return;
    sodium_memzero(s, len);
    free(s);
}

kt_status vault_blob_key_id(const unsigned char *blob, size_t len, char out[9])
{
    if (!blob || len < VAULT_BLOB_OVERHEAD || blob[0] != VAULT_BLOB_VERSION)
        return KT_ERR_INVALID;
    sodium_bin2hex(out, 9, blob + 1, 4);
    return KT_OK;
}

int vault_needs_reseal(const vault *v, const unsigned char *blob, size_t len)
{
    if (!blob || len < VAULT_BLOB_OVERHEAD || blob[0] != VAULT_BLOB_VERSION)
        return 1;
    pthread_rwlock_rdlock((pthread_rwlock_t *)&v->lock);
    int stale = memcmp(blob + 1, v->keys[0]->id, 4) != 0;
    pthread_rwlock_unlock((pthread_rwlock_t *)&v->lock);
    return stale;
}

kt_status vault_reseal(vault *v, int64_t user_id, const char *column, const unsigned char *blob, size_t len,
                       unsigned char **out, size_t *out_len, kt_err *err)
{
    char *plain = NULL;
    size_t plen = 0;
    pthread_rwlock_rdlock(&v->lock);
    kt_status st = open_locked(v, user_id, column, blob, len, &plain, &plen, err);
    if (st == KT_OK)
        st = seal_with(v->keys[0], user_id, column, plain, plen, out, out_len, err);
    pthread_rwlock_unlock(&v->lock);
    vault_secret_free(plain, plen);
    return st;
}

kt_status vault_rotate_file(vault *v, kt_err *err)
{
    if (!v->key_file)
        return err_set(err, KT_ERR_INVALID, "key_from_env",
                       "the key comes from KEEPTRACK_SECRET_KEY: to rotate, move it to "
                       "KEEPTRACK_SECRET_KEY_PREVIOUS, set a new KEEPTRACK_SECRET_KEY "
                       "(`keeptrack keys generate`) and run `keeptrack keys rotate` again");
    kt_status st = KT_OK;
    vault_key *k = key_generate();
    if (!k)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    pthread_rwlock_wrlock(&v->lock);
    if (v->nkeys == VAULT_MAX_KEYS) {
        st = err_set(err, KT_ERR_INVALID, "too_many_keys",
                     "the key file already holds %d keys: reseal and run `keeptrack keys drop-old` first",
                     VAULT_MAX_KEYS);
        goto out;
    }
    vault_key *ring[VAULT_MAX_KEYS];
    ring[0] = k;
    memcpy(ring + 1, v->keys, v->nkeys * sizeof *ring);
    if ((st = write_key_file(v->key_file, ring, v->nkeys + 1, err)) != KT_OK)
        goto out;
    memcpy(v->keys, ring, (v->nkeys + 1) * sizeof *ring);
    v->nkeys++;
    k = NULL;
out:
    pthread_rwlock_unlock(&v->lock);
    key_free(k);
    return st;
}

kt_status vault_drop_old_keys(vault *v, kt_err *err)
{
    kt_status st = KT_OK;
    pthread_rwlock_wrlock(&v->lock);
    if (v->key_file && (st = write_key_file(v->key_file, v->keys, 1, err)) != KT_OK)
        goto out;
    for (size_t i = 1; i < v->nkeys; i++)
        key_free(v->keys[i]), v->keys[i] = NULL;
    v->nkeys = 1;
out:
    pthread_rwlock_unlock(&v->lock);
    return st;
}

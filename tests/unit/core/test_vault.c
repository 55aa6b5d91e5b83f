/* test_vault.c - the token vault: round trips, every way a blob must fail
 * (user, column, key, tampering, truncation), the key file (0600, refused
 * when readable by others, created once under a race), env keys, rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* bytes 0..31 */
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" /* bytes 32..63 */

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kt-vault-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name in a static buffer: copy it before the next call. */
static const char *path_in_dir(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *s = calloc(1, 4096);
    size_t n = fread(s, 1, 4095, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count_key_lines(const char *path)
{
    char *s = read_text(path);
    int n = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            n++;
    free(s);
    return n;
}

static void seal(vault *v, int64_t user, const char *col, const char *plain, unsigned char **blob, size_t *len)
{
    kt_err err;
    assert_int_equal(vault_seal(v, user, col, plain, strlen(plain), blob, len, &err), KT_OK);
    assert_int_equal(*len, strlen(plain) + VAULT_BLOB_OVERHEAD);
}

static void expect_open(vault *v, int64_t user, const char *col, const unsigned char *blob, size_t len,
                        const char *plain)
{
    char *out = NULL;
    size_t out_len = 0;
    kt_err err;
    assert_int_equal(vault_open_secret(v, user, col, blob, len, &out, &out_len, &err), KT_OK);
    assert_string_equal(out, plain);
    assert_int_equal(out_len, strlen(plain));
    vault_secret_free(out, out_len);
}

static kt_err last_err; /* the error of the last expect_fail */

static void expect_fail(vault *v, int64_t user, const char *col, const unsigned char *blob, size_t len)
{
    char *out = (char *)"untouched";
    size_t out_len = 99;
    assert_int_equal(vault_open_secret(v, user, col, blob, len, &out, &out_len, &last_err), KT_ERR_CRYPTO);
    assert_string_equal(out, "untouched");
    assert_int_equal(out_len, 99);
    assert_null(strstr(last_err.msg, "BQD")); /* no plaintext in messages */
}

static void test_round_trip_and_binding(void **state)
{
    (void)state;
    vault *v = NULL, *other = NULL;
    kt_err err;
    assert_int_equal(vault_open(KEY_A, NULL, &v, &err), KT_OK);
    assert_int_equal(vault_key_count(v), 1);
    assert_int_equal(strlen(vault_key_id(v)), 8);
    unsigned char *blob, *blob2;
    size_t len, len2;
    seal(v, 7, "refresh_token", "BQDrefresh-secret", &blob, &len);
    expect_open(v, 7, "refresh_token", blob, len, "BQDrefresh-secret");
    assert_null(memmem(blob, len, "BQD", 3)); /* not in the clear */
    assert_int_equal(blob[0], VAULT_BLOB_VERSION);
    char id[9];
    assert_int_equal(vault_blob_key_id(blob, len, id), KT_OK);
    assert_string_equal(id, vault_key_id(v));
    assert_false(vault_needs_reseal(v, blob, len));

    /* nonces are random: the same secret seals differently */
    seal(v, 7, "refresh_token", "BQDrefresh-secret", &blob2, &len2);
    assert_memory_not_equal(blob, blob2, len);
    free(blob2);

    expect_fail(v, 8, "refresh_token", blob, len);      /* another user */
    assert_string_equal(last_err.code, "secret_unreadable");
    expect_fail(v, -7, "refresh_token", blob, len);
    expect_fail(v, 7, "access_token", blob, len);       /* another column */
    expect_fail(v, 7, "refresh_token", blob, len - 1);  /* truncated */
    expect_fail(v, 7, "refresh_token", blob, VAULT_BLOB_OVERHEAD - 1);
    expect_fail(v, 7, "refresh_token", NULL, 0);
    for (size_t i = 0; i < len; i++) { /* any flipped bit anywhere */
        blob[i] ^= 0x20;
        expect_fail(v, 7, "refresh_token", blob, len);
        blob[i] ^= 0x20;
    }
    expect_open(v, 7, "refresh_token", blob, len, "BQDrefresh-secret");

    assert_int_equal(vault_open(KEY_B, NULL, &other, &err), KT_OK); /* wrong key */
    assert_string_not_equal(vault_key_id(v), vault_key_id(other));
    expect_fail(other, 7, "refresh_token", blob, len);
    assert_string_equal(last_err.code, "unknown_key");
    assert_true(vault_needs_reseal(other, blob, len));
    free(blob);

    seal(v, 0, "x", "", &blob, &len); /* empty secret */
    expect_open(v, 0, "x", blob, len, "");
    free(blob);
    assert_int_equal(vault_seal(v, 1, NULL, "a", 1, &blob, &len, &err), KT_ERR_INTERNAL);
    vault_free(other);
    vault_free(v);
    vault_free(NULL);
    vault_secret_free(NULL, 0);
}

static void test_bad_env_keys(void **state)
{
    (void)state;
    vault *v = NULL;
    kt_err err;
    const char *bad[] = {"", "short", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", /* no padding */
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AAAA",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(vault_open(bad[i], path_in_dir("unused.key"), &v, &err), KT_ERR_INVALID);
        assert_non_null(strstr(err.msg, "KEEPTRACK_SECRET_KEY"));
    }
    assert_int_equal(access(path_in_dir("unused.key"), F_OK), -1); /* env key: file untouched */
    assert_int_equal(vault_open(NULL, NULL, &v, &err), KT_ERR_INVALID);
    assert_true(vault_key_valid(KEY_A));
    assert_false(vault_key_valid("nope"));
    assert_false(vault_key_valid(NULL));
    char *gen = vault_generate_key_b64();
    assert_int_equal(strlen(gen), VAULT_KEY_B64_LEN);
    assert_true(vault_key_valid(gen));
    free(gen);
}

static void test_key_file_created_0600(void **state)
{
    (void)state;
    vault *v = NULL, *again = NULL;
    kt_err err;
    char path[256];
    snprintf(path, sizeof path, "%s", path_in_dir("sub/dir/secret.key"));
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(path_in_dir("sub/dir"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(count_key_lines(path), 1);
    assert_int_equal(vault_open(NULL, path, &again, &err), KT_OK); /* same key on the next start */
    assert_string_equal(vault_key_id(v), vault_key_id(again));
    unsigned char *blob;
    size_t len;
    seal(v, 1, "access_token", "BQDaccess", &blob, &len);
    expect_open(again, 1, "access_token", blob, len, "BQDaccess");
    free(blob);
    vault_free(again);
    vault_free(v);
}

static void test_key_file_permissions_refused(void **state)
{
    (void)state;
    vault *v = NULL;
    kt_err err;
    char path[256];
    snprintf(path, sizeof path, "%s", path_in_dir("secret.key"));
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_OK);
    vault_free(v);
    v = NULL;
    const mode_t modes[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(vault_open(NULL, path, &v, &err), KT_ERR_INVALID);
        assert_null(v);
        assert_string_equal(err.code, "key_file_mode");
        assert_non_null(strstr(err.msg, "chmod 600"));
        assert_non_null(strstr(err.msg, path));
    }
    assert_int_equal(chmod(path, 0400), 0); /* read-only for the owner is fine */
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_OK);
    vault_free(v);

    const char *link_path = path_in_dir("link.key"); /* a symlink is not followed */
    assert_int_equal(symlink(path, link_path), 0);
    assert_int_equal(vault_open(NULL, link_path, &v, &err), KT_ERR_IO);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file_contents(void **state)
{
    (void)state;
    vault *v = NULL, *a = NULL;
    kt_err err;
    const char *path = path_in_dir("handmade.key");
    write_file(path, "# comment\n\n  " KEY_A "  \r\n" KEY_B "\n" KEY_A "\n", 0600);
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_OK);
    assert_int_equal(vault_key_count(v), 2); /* duplicate ignored */
    assert_int_equal(vault_open(KEY_A, NULL, &a, &err), KT_OK);
    assert_string_equal(vault_key_id(v), vault_key_id(a)); /* the first is current */
    vault_free(a);
    vault_free(v);

    write_file(path, KEY_A "\nnot-a-key\n", 0600);
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(strstr(err.msg, "not-a-key"));
    write_file(path, "# only comments\n", 0600);
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no key"));
}

static void *open_in_thread(void *arg)
{
    vault *v = NULL;
    kt_err err;
    if (vault_open(NULL, (const char *)arg, &v, &err) != KT_OK)
        return NULL;
    char *id = strdup(vault_key_id(v));
    vault_free(v);
    return id;
}

static void test_first_run_race_creates_one_key(void **state)
{
    (void)state;
    const char *path = path_in_dir("race.key");
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_in_thread, (void *)path), 0);
    char *ids[8];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], (void **)&ids[i]), 0);
        assert_non_null(ids[i]);
    }
    for (int i = 1; i < 8; i++)
        assert_string_equal(ids[i], ids[0]);
    for (int i = 0; i < 8; i++)
        free(ids[i]);
    assert_int_equal(count_key_lines(path), 1);
}

static void test_rotation_file(void **state)
{
    (void)state;
    vault *v = NULL, *reloaded = NULL;
    kt_err err;
    const char *path = path_in_dir("rot.key");
    assert_int_equal(vault_open(NULL, path, &v, &err), KT_OK);
    char old_id[9];
    snprintf(old_id, sizeof old_id, "%s", vault_key_id(v));
    unsigned char *old_blob, *new_blob;
    size_t old_len, new_len;
    seal(v, 3, "refresh_token", "BQDold", &old_blob, &old_len);

    assert_int_equal(vault_rotate_file(v, &err), KT_OK);
    assert_string_not_equal(vault_key_id(v), old_id);
    assert_int_equal(vault_key_count(v), 2);
    assert_int_equal(count_key_lines(path), 2);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    expect_open(v, 3, "refresh_token", old_blob, old_len, "BQDold"); /* old blobs stay readable */
    assert_true(vault_needs_reseal(v, old_blob, old_len));

    assert_int_equal(vault_reseal(v, 3, "refresh_token", old_blob, old_len, &new_blob, &new_len, &err), KT_OK);
    assert_false(vault_needs_reseal(v, new_blob, new_len));
    char id[9];
    assert_int_equal(vault_blob_key_id(new_blob, new_len, id), KT_OK);
    assert_string_equal(id, vault_key_id(v));
    expect_open(v, 3, "refresh_token", new_blob, new_len, "BQDold");

    assert_int_equal(vault_open(NULL, path, &reloaded, &err), KT_OK); /* another process sees the same ring */
    assert_string_equal(vault_key_id(reloaded), vault_key_id(v));
    assert_int_equal(vault_key_count(reloaded), 2);
    expect_open(reloaded, 3, "refresh_token", old_blob, old_len, "BQDold");
    vault_free(reloaded);

    assert_int_equal(vault_drop_old_keys(v, &err), KT_OK);
    assert_int_equal(vault_key_count(v), 1);
    assert_int_equal(count_key_lines(path), 1);
    expect_fail(v, 3, "refresh_token", old_blob, old_len);
    assert_string_equal(last_err.code, "unknown_key");
    expect_open(v, 3, "refresh_token", new_blob, new_len, "BQDold");
    free(old_blob);
    free(new_blob);
    vault_free(v);
}

static void test_rotation_env(void **state)
{
    (void)state;
    vault *old = NULL, *v = NULL;
    kt_err err;
    assert_int_equal(vault_open(KEY_A, NULL, &old, &err), KT_OK);
    unsigned char *blob;
    size_t len;
    seal(old, 9, "access_token", "BQDa", &blob, &len);
    vault_free(old);

    assert_int_equal(vault_open(KEY_B, NULL, &v, &err), KT_OK);
    assert_int_equal(vault_rotate_file(v, &err), KT_ERR_INVALID);
    assert_string_equal(err.code, "key_from_env");
    assert_non_null(strstr(err.msg, "KEEPTRACK_SECRET_KEY_PREVIOUS"));
    expect_fail(v, 9, "access_token", blob, len);
    assert_int_equal(vault_add_old_key(v, "garbage", &err), KT_ERR_INVALID);
    assert_non_null(strstr(err.msg, "KEEPTRACK_SECRET_KEY_PREVIOUS"));
    assert_int_equal(vault_add_old_key(v, " " KEY_A " ", &err), KT_OK);
    assert_int_equal(vault_add_old_key(v, KEY_A, &err), KT_OK); /* again: no duplicate */
    assert_int_equal(vault_key_count(v), 2);
    expect_open(v, 9, "access_token", blob, len, "BQDa");
    assert_true(vault_needs_reseal(v, blob, len));
    assert_int_equal(vault_add_old_keys_csv(v, " , " KEY_A ",," KEY_A " ,", &err), KT_OK);
    assert_int_equal(vault_add_old_keys_csv(v, NULL, &err), KT_OK);
    assert_int_equal(vault_key_count(v), 2);
    assert_int_equal(vault_add_old_keys_csv(v, KEY_A ",nope", &err), KT_ERR_INVALID);
    assert_null(strstr(err.msg, "nope"));
    assert_int_equal(vault_drop_old_keys(v, &err), KT_OK); /* no file: only the ring */
    assert_int_equal(vault_key_count(v), 1);
    expect_fail(v, 9, "access_token", blob, len);
    free(blob);
    vault_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_and_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_env_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_created_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_permissions_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_run_race_creates_one_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_env, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_vault", tests, NULL, NULL);
}

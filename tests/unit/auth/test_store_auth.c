/* test_store_auth.c - the contract of store_auth.h, run against SQLite and
 * PostgreSQL.
 *
 * Every case runs twice: once on a fresh SQLite database, once on a fresh
 * PostgreSQL schema (tests/unit/store/testdb.h). When KEEPTRACK_TEST_PG is
 * unset the PostgreSQL cases are skipped with a message; when it is set but
 * unusable they fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_auth.h"
#include "testdb_cmocka.h"

/* The store of this test, or skip when PostgreSQL is not configured. */
/* A deterministic "seal" for tests: blob = user id byte | payload with NULs. */
static kt_status test_seal(void *ctx, int64_t user_id, unsigned char **access, size_t *access_len,
                           unsigned char **refresh, size_t *refresh_len, kt_err *err)
{
    (void)err;
    int with_refresh = ctx != NULL;
    *access = malloc(4);
    assert_non_null(*access);
    memcpy(*access, "A\0x", 3);
    (*access)[3] = (unsigned char)user_id;
    *access_len = 4;
    *refresh = NULL;
    *refresh_len = 0;
    if (with_refresh) {
        *refresh = malloc(3);
        assert_non_null(*refresh);
        memcpy(*refresh, "R\0", 2);
        (*refresh)[2] = (unsigned char)user_id;
        *refresh_len = 3;
    }
    return KT_OK;
}

static int64_t login(store *s, const char *account, const char *name, const char *session_hash,
                     int64_t now)
{
    store_login in = {.account_id = account,
                      .spotify_id = account,
                      .display_name = name,
                      .scopes = "user-read-private user-library-read",
                      .expires_at = now + 3600000,
                      .key_id = "k1",
                      .session_hash = session_hash,
                      .session_expires_at = now + 86400000,
                      .now_ms = now};
    int64_t id = 0;
    kt_err err = {0};
    assert_int_equal(store_login_record(s, &in, test_seal, (void *)1, &id, &err), KT_OK);
    assert_true(id > 0);
    return id;
}

static void test_login_creates_user_tokens_session(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user u = {0};
    store_tokens t = {0};
    int64_t uid = 0;
    int64_t id = login(s, "acct-alice", "Alice \xc3\xa9", "hash-a1", 1000);

    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.account_id, "acct-alice");
    assert_string_equal(u.spotify_id, "acct-alice");
    assert_string_equal(u.display_name, "Alice \xc3\xa9");
    assert_string_equal(u.status, "active");
    assert_string_equal(u.scopes, "user-read-private user-library-read");
    assert_int_equal(u.authorized_at, 1000);
    assert_int_equal(u.created_at, 1000);
    store_user_clear(&u);

    assert_int_equal(store_user_get_by_account(s, "acct-alice", &u, &err), KT_OK);
    assert_int_equal(u.id, id);
    store_user_clear(&u);
    assert_int_equal(store_user_get_by_account(s, "nobody", &u, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_user_get(s, id + 100, &u, &err), KT_ERR_NOT_FOUND);

    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_OK);
    assert_int_equal(t.access_len, 4);
    assert_memory_equal(t.access, "A\0x", 3);
    assert_int_equal(t.access[3], (unsigned char)id);
    assert_int_equal(t.refresh_len, 3);
    assert_memory_equal(t.refresh, "R\0", 2);
    assert_int_equal(t.expires_at, 1000 + 3600000);
    assert_string_equal(t.key_id, "k1");
    store_tokens_clear(&t);

    assert_int_equal(store_session_lookup(s, "hash-a1", 2000, 86400000, 60000, &uid, &err), KT_OK);
    assert_int_equal(uid, id);
}

static void test_relogin_updates_same_user(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user u = {0};
    int64_t uid = 0;
    int64_t id = login(s, "acct-alice", "Alice", "hash-a1", 1000);
    assert_int_equal(store_user_mark_reauth(s, id, 1500, &err), KT_OK);
    assert_int_equal(login(s, "acct-alice", "Alice Renamed", "hash-a2", 5000), id);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_string_equal(u.display_name, "Alice Renamed");
    assert_string_equal(u.status, "active");
    assert_int_equal(u.authorized_at, 5000);
    assert_int_equal(u.created_at, 1000);
    assert_int_equal(u.updated_at, 5000);
    store_user_clear(&u);
    /* both sessions exist: a new id at every login, the old one untouched */
    assert_int_equal(store_session_lookup(s, "hash-a1", 6000, 1000, 60000, &uid, &err), KT_OK);
    assert_int_equal(store_session_lookup(s, "hash-a2", 6000, 1000, 60000, &uid, &err), KT_OK);
    assert_int_equal(uid, id);
    /* a second user gets another id */
    assert_true(login(s, "acct-bob", NULL, "hash-b1", 7000) != id);
}

/* A user added before any login (keeptrack demo): disconnected, no tokens,
 * added once; the first login makes the same row active. */
static void test_user_added_before_login(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user u = {0};
    store_tokens t = {0};
    int64_t id = 0, again = 0;
    int created = -1;
    assert_int_equal(store_user_add_disconnected(s, "acct-demo", "demo", "Demo", 1000, &id,
                                                 &created, &err),
                     KT_OK);
    assert_int_equal(created, 1);
    assert_int_equal(store_user_add_disconnected(s, "acct-demo", "other", NULL, 2000, &again,
                                                 &created, &err),
                     KT_OK);
    assert_int_equal(created, 0);
    assert_int_equal(again, id);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_string_equal(u.status, STORE_USER_DISCONNECTED);
    assert_string_equal(u.spotify_id, "demo"); /* the second call left it as it was */
    assert_string_equal(u.display_name, "Demo");
    store_user_clear(&u);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(login(s, "acct-demo", "Demo", "hash-d1", 3000), id);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_string_equal(u.status, STORE_USER_ACTIVE);
    store_user_clear(&u);
    assert_int_equal(store_user_add_disconnected(s, NULL, "x", NULL, 1, &id, NULL, &err),
                     KT_ERR_INVALID);
}

static void test_disabled_user_cannot_login(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_tokens t = {0};
    int64_t uid = -1;
    int64_t id = login(s, "acct-alice", "Alice", "hash-a1", 1000);
    store_login in = {.account_id = "acct-alice", .spotify_id = "acct-alice", .key_id = "k1",
                      .session_hash = "hash-a2", .session_expires_at = 99999, .now_ms = 2000};

    assert_int_equal(store_user_disable(s, id, 1500, &err), KT_OK);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "hash-a1", 1600, 1000, 0, &uid, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_login_record(s, &in, test_seal, NULL, &uid, &err), KT_ERR_FORBIDDEN);
    assert_string_equal(err.code, "user_disabled");
    assert_int_equal(uid, -1);
    assert_int_equal(store_session_lookup(s, "hash-a2", 2001, 1000, 0, &uid, &err),
                     KT_ERR_NOT_FOUND);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    /* enable again: login works */
    assert_int_equal(store_user_set_status(s, id, STORE_USER_ACTIVE, 3000, &err), KT_OK);
    assert_int_equal(store_login_record(s, &in, test_seal, NULL, &uid, &err), KT_OK);
    assert_int_equal(uid, id);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_OK);
    assert_null(t.refresh);
    assert_int_equal(t.refresh_len, 0);
    store_tokens_clear(&t);
}

static void test_login_rolls_back_on_conflict(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user u = {0};
    login(s, "acct-alice", "Alice", "same-hash", 1000);
    store_login in = {.account_id = "acct-bob", .spotify_id = "bob", .key_id = "k1",
                      .session_hash = "same-hash", .session_expires_at = 99999, .now_ms = 2000};
    assert_int_equal(store_login_record(s, &in, test_seal, NULL, NULL, &err), KT_ERR_CONFLICT);
    /* the user insert was rolled back with the session */
    assert_int_equal(store_user_get_by_account(s, "acct-bob", &u, &err), KT_ERR_NOT_FOUND);
}

static void test_tokens_put_get_delete(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_tokens t = {0};
    unsigned char big[3000];
    int64_t id = login(s, "acct-alice", "Alice", "h", 1000);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    assert_int_equal(store_tokens_put(s, id, big, sizeof big, NULL, 0, 42, "k2", 2000, &err),
                     KT_OK);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_OK);
    assert_int_equal(t.access_len, sizeof big);
    assert_memory_equal(t.access, big, sizeof big);
    assert_null(t.refresh);
    assert_int_equal(t.expires_at, 42);
    assert_string_equal(t.key_id, "k2");
    assert_int_equal(t.updated_at, 2000);
    store_tokens_clear(&t);
    assert_int_equal(store_tokens_delete(s, id, &err), KT_OK);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_tokens_delete(s, id, &err), KT_OK);
}

static void test_oauth_state_single_use(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_oauth_state st = {0};
    int64_t deleted = -1;
    const unsigned char v[] = {1, 0, 2, 0, 3};
    assert_int_equal(store_oauth_state_put(s, "sh1", "bh1", v, sizeof v, "/after", 1000, 601000,
                                           &err), KT_OK);
    assert_int_equal(store_oauth_state_put(s, "sh1", "bh1", v, sizeof v, NULL, 1000, 601000, &err),
                     KT_ERR_CONFLICT);
    assert_int_equal(store_oauth_state_put(s, "sh2", "bh2", v, 1, NULL, 1000, 2000, &err), KT_OK);

    assert_int_equal(store_oauth_state_take(s, "sh1", &st, &err), KT_OK);
    assert_string_equal(st.browser_hash, "bh1");
    assert_int_equal(st.verifier_len, sizeof v);
    assert_memory_equal(st.verifier, v, sizeof v);
    assert_string_equal(st.return_to, "/after");
    assert_int_equal(st.created_at, 1000);
    assert_int_equal(st.expires_at, 601000);
    store_oauth_state_clear(&st);
    /* replay */
    assert_int_equal(store_oauth_state_take(s, "sh1", &st, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_oauth_state_take(s, "never", &st, &err), KT_ERR_NOT_FOUND);

    assert_int_equal(store_oauth_state_purge(s, 1999, &deleted, &err), KT_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_oauth_state_purge(s, 2001, &deleted, &err), KT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_oauth_state_take(s, "sh2", &st, &err), KT_ERR_NOT_FOUND);
}

static void test_session_sliding_expiry(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t uid = 0, deleted = -1;
    int64_t id = login(s, "acct-alice", "Alice", "unused", 0);
    assert_int_equal(store_session_create(s, "sess", id, 1000, 11000, &err), KT_OK);
    assert_int_equal(store_session_create(s, "sess", id, 1000, 11000, &err), KT_ERR_CONFLICT);
    /* within touch_every: no slide, still expires at 11000 */
    assert_int_equal(store_session_lookup(s, "sess", 1500, 10000, 1000, &uid, &err), KT_OK);
    assert_int_equal(uid, id);
    assert_int_equal(store_session_lookup(s, "sess", 10999, 10000, 100000, &uid, &err), KT_OK);
    /* slide: expires at 10999 + 10000 */
    assert_int_equal(store_session_lookup(s, "sess", 10999, 10000, 1000, &uid, &err), KT_OK);
    assert_int_equal(store_session_lookup(s, "sess", 20998, 10000, 100000, &uid, &err), KT_OK);
    /* expired: refused and deleted */
    assert_int_equal(store_session_lookup(s, "sess", 20999, 10000, 100000, &uid, &err),
                     KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "session_expired");
    assert_int_equal(store_session_lookup(s, "sess", 0, 10000, 100000, &uid, &err),
                     KT_ERR_NOT_FOUND);
    assert_string_equal(err.code, "no_session");

    assert_int_equal(store_session_create(s, "s2", id, 0, 500, &err), KT_OK);
    assert_int_equal(store_session_create(s, "s3", id, 0, 5000, &err), KT_OK);
    assert_int_equal(store_session_purge(s, 1000, &deleted, &err), KT_OK);
    assert_int_equal(deleted, 1); /* s2 only: the login's session lasts a day */
}

static void test_session_delete(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    int64_t uid = 0, deleted = -1;
    int64_t a = login(s, "acct-alice", "Alice", "a1", 0);
    int64_t b = login(s, "acct-bob", "Bob", "b1", 0);
    assert_int_equal(store_session_create(s, "a2", a, 0, 1000000, &err), KT_OK);
    assert_int_equal(store_session_delete(s, "a1", &deleted, &err), KT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_session_delete(s, "a1", &deleted, &err), KT_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_session_lookup(s, "a2", 1, 1000, 1000, &uid, &err), KT_OK);
    assert_int_equal(store_session_delete_user(s, a, &err), KT_OK);
    assert_int_equal(store_session_lookup(s, "a2", 1, 1000, 1000, &uid, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "b1", 1, 1000, 1000, &uid, &err), KT_OK);
    assert_int_equal(uid, b);
}

static void test_reauth_disconnect_delete(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user u = {0};
    store_tokens t = {0};
    int64_t uid = 0;
    int64_t id = login(s, "acct-alice", "Alice", "a1", 0);
    int64_t other = login(s, "acct-bob", "Bob", "b1", 0);

    assert_int_equal(store_user_mark_reauth(s, id, 10, &err), KT_OK);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_string_equal(u.status, "reauth_required");
    store_user_clear(&u);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "a1", 11, 1000, 1000, &uid, &err), KT_OK);

    login(s, "acct-alice", "Alice", "a2", 20);
    assert_int_equal(store_user_disconnect(s, id, 30, &err), KT_OK);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_OK);
    assert_string_equal(u.status, "disconnected");
    store_user_clear(&u);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "a2", 31, 1000, 1000, &uid, &err), KT_OK);

    assert_int_equal(store_user_set_status(s, id, "bogus", 0, &err), KT_ERR_INVALID);
    assert_int_equal(store_user_set_status(s, 99999, "active", 0, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_user_mark_reauth(s, 99999, 0, &err), KT_ERR_NOT_FOUND);

    assert_int_equal(store_user_delete(s, id, &err), KT_OK);
    assert_int_equal(store_user_get(s, id, &u, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "a1", 40, 1000, 1000, &uid, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_session_lookup(s, "a2", 40, 1000, 1000, &uid, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_user_delete(s, id, &err), KT_ERR_NOT_FOUND);
    /* the other user is untouched */
    assert_int_equal(store_tokens_get(s, other, &t, &err), KT_OK);
    store_tokens_clear(&t);
    assert_int_equal(store_session_lookup(s, "b1", 40, 1000, 1000, &uid, &err), KT_OK);
    assert_int_equal(uid, other);
}

static void test_user_list(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_user *users = NULL;
    size_t n = 99;
    assert_int_equal(store_user_list(s, &users, &n, &err), KT_OK);
    assert_int_equal(n, 0);
    assert_null(users);
    int64_t a = login(s, "acct-a", "A", "a", 0);
    int64_t b = login(s, "acct-b", NULL, "b", 0);
    assert_int_equal(store_user_list(s, &users, &n, &err), KT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(users[0].id, a);
    assert_int_equal(users[1].id, b);
    assert_string_equal(users[0].display_name, "A");
    assert_null(users[1].display_name);
    store_user_list_free(users, n);
}

static void test_app_state(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    char *v = NULL;
    assert_int_equal(store_app_state_get(s, "mode", &v, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(store_app_state_set(s, "mode", "development", 1, &err), KT_OK);
    assert_int_equal(store_app_state_set(s, "mode", "extended", 2, &err), KT_OK);
    assert_int_equal(store_app_state_get(s, "mode", &v, &err), KT_OK);
    assert_string_equal(v, "extended");
    free(v);
}

/* Reseal: prefixes 'N' to every blob and records what it saw. */
typedef struct reseal_ctx {
    int calls;
    int fail_at; /* 1-based call that fails; 0 = never */
    char seen[8][32];
} reseal_ctx;

static kt_status test_reseal(void *ctx, int64_t user_id, const char *column,
                             const unsigned char *blob, size_t len, unsigned char **out,
                             size_t *out_len, kt_err *err)
{
    reseal_ctx *c = ctx;
    c->calls++;
    if (c->calls == c->fail_at)
        return err_set(err, KT_ERR_CRYPTO, "bad", "cannot open");
    if (c->calls <= 8)
        snprintf(c->seen[c->calls - 1], sizeof c->seen[0], "%lld:%s", (long long)user_id, column);
    *out = malloc(len + 1);
    assert_non_null(*out);
    (*out)[0] = 'N';
    memcpy(*out + 1, blob, len);
    *out_len = len + 1;
    return KT_OK;
}

static void test_reseal_all(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_tokens t = {0};
    store_oauth_state st = {0};
    reseal_ctx c = {0};
    int64_t count = 0;
    int64_t id = login(s, "acct-a", "A", "a", 0);
    const unsigned char v[] = {9, 9};
    assert_int_equal(store_oauth_state_put(s, "sh", "bh", v, 2, NULL, 0, 1000, &err), KT_OK);

    /* failure on the third value: nothing changes */
    c.fail_at = 3;
    assert_int_equal(store_auth_reseal_all(s, test_reseal, &c, "k9", &count, &err),
                     KT_ERR_CRYPTO);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_OK);
    assert_int_equal(t.access_len, 4);
    assert_int_equal(t.access[0], 'A');
    assert_string_equal(t.key_id, "k1");
    store_tokens_clear(&t);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_auth_reseal_all(s, test_reseal, &c, "k9", &count, &err), KT_OK);
    assert_int_equal(count, 3);
    char expect[3][32];
    snprintf(expect[0], 32, "%lld:%s", (long long)id, STORE_COL_ACCESS);
    snprintf(expect[1], 32, "%lld:%s", (long long)id, STORE_COL_REFRESH);
    snprintf(expect[2], 32, "0:%s", STORE_COL_VERIFIER);
    for (int i = 0; i < 3; i++)
        assert_string_equal(c.seen[i], expect[i]);
    assert_int_equal(store_tokens_get(s, id, &t, &err), KT_OK);
    assert_int_equal(t.access_len, 5);
    assert_memory_equal(t.access, "NA\0x", 4);
    assert_int_equal(t.refresh_len, 4);
    assert_memory_equal(t.refresh, "NR\0", 3);
    assert_string_equal(t.key_id, "k9");
    store_tokens_clear(&t);
    assert_int_equal(store_oauth_state_take(s, "sh", &st, &err), KT_OK);
    assert_int_equal(st.verifier_len, 3);
    assert_memory_equal(st.verifier, "N\x09\x09", 3);
    store_oauth_state_clear(&st);
}

/* Each case twice, named by back-end, in ONE group so cmocka writes one
 * well-formed JUnit file. */
#define SQLITE(fn) {"sqlite_" #fn, fn, testdb_setup_sqlite, testdb_teardown, NULL}
#define PG(fn) {"postgres_" #fn, fn, testdb_setup_pg, testdb_teardown, NULL}
#define CASES(M) \
    M(test_login_creates_user_tokens_session), M(test_relogin_updates_same_user), \
    M(test_user_added_before_login), \
    M(test_disabled_user_cannot_login), M(test_login_rolls_back_on_conflict), \
    M(test_tokens_put_get_delete), M(test_oauth_state_single_use), \
    M(test_session_sliding_expiry), M(test_session_delete), \
    M(test_reauth_disconnect_delete), M(test_user_list), M(test_app_state), \
    M(test_reseal_all)

int main(void)
{
    const struct CMUnitTest tests[] = {CASES(SQLITE), CASES(PG)};
    return cmocka_run_group_tests_name("store_auth", tests, NULL, NULL);
}

/* test_alerts.c - alerts (issue 18, item 5): what counts as a lost track
 * (a kept entry turned null; never a disappearance), the webhook bodies of
 * each format and the e-mail byte for byte, the host shown for a URL that
 * carries a token; and the store contract on SQLite and PostgreSQL: one
 * live alert per cause, raising again updates an open one and leaves a
 * dismissed one alone, resolving lets the cause raise a new one, dismissal
 * is scoped to the owner (instance alerts to everyone), settings default to
 * on. PostgreSQL cases skip when KEEPTRACK_TEST_PG is unset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/alerts.h"
#include "services/alerts_send.h"
#include "store/store.h"
#include "store/store_alerts.h"
#include "store/store_auth.h"
#include "testdb_cmocka.h"

#define OK TESTDB_OK

static void lost(const char *prev, const char *cur, const char *want)
{
    json_t *out = NULL;
    kt_err err = {0};
    assert_int_equal(alerts_lost_tracks(prev, cur, &out, &err), KT_OK);
    char *got = json_dumps(out, JSON_COMPACT);
    assert_string_equal(got, want);
    free(got);
    json_decref(out);
}

static void test_lost_tracks(void **state)
{
    (void)state;
    const char *v1 = "[[\"spotify:track:a\",10,\"u\"],[\"spotify:track:b\",20,\"u\"],"
                     "[\"spotify:track:c\",30,\"v\"],[null,40,\"u\"]]";
    /* b became null in place: lost */
    lost(v1, "[[\"spotify:track:a\",10,\"u\"],[null,20,\"u\"],[\"spotify:track:c\",30,\"v\"],"
             "[null,40,\"u\"]]",
         "[\"spotify:track:b\"]");
    /* b disappeared (the user's own edit looks the same): nothing */
    lost(v1, "[[\"spotify:track:a\",10,\"u\"],[\"spotify:track:c\",30,\"v\"],[null,40,\"u\"]]",
         "[]");
    /* an entry that was null already, or a null with another added_by: nothing */
    lost(v1, "[[\"spotify:track:a\",10,\"u\"],[\"spotify:track:b\",20,\"u\"],[null,30,\"x\"],"
             "[null,40,\"u\"]]",
         "[]");
    /* a null without added_at has no identity: nothing */
    lost("[[\"spotify:track:a\",null,null]]", "[[null,null,null]]", "[]");
    /* duplicates: each old entry is matched once, in order */
    lost("[[\"spotify:track:a\",5,\"u\"],[\"spotify:track:b\",5,\"u\"]]",
         "[[null,5,\"u\"],[null,5,\"u\"]]", "[\"spotify:track:a\",\"spotify:track:b\"]");
    /* reordered and one lost */
    lost(v1, "[[\"spotify:track:c\",30,\"v\"],[null,10,\"u\"]]", "[\"spotify:track:a\"]");
    json_t *out = NULL;
    kt_err err = {0};
    assert_int_equal(alerts_lost_tracks("[1]", "[[null,1,null]]", &out, &err), KT_OK);
    json_decref(out);
    assert_int_equal(alerts_lost_tracks(v1, "{}", &out, &err), KT_ERR_INVALID);
    assert_int_equal(alerts_lost_tracks(v1, "[[1,2]]", &out, &err), KT_ERR_INVALID);
    assert_int_equal(alerts_lost_tracks("not json", v1, &out, &err), KT_ERR_INVALID);
}

static void test_url_host(void **state)
{
    char h[64];
    (void)state;
    alerts_url_host("https://hooks.example.org/services/T0/B0/SECRET", h, sizeof h);
    assert_string_equal(h, "hooks.example.org");
    alerts_url_host("http://user:tok@127.0.0.1:8080/x?token=SECRET", h, sizeof h);
    assert_string_equal(h, "127.0.0.1:8080");
    alerts_url_host("smtp://mail.example.org:587", h, sizeof h);
    assert_string_equal(h, "mail.example.org:587");
    alerts_url_host("https://h.example?auth=SECRET", h, sizeof h);
    assert_string_equal(h, "h.example");
}

static alerts_payload payload(json_t *details, const char *title)
{
    alerts_payload p = {.id = 7,
                        .kind = "login_expiring",
                        .scope = "user",
                        .subject = "",
                        .title = title,
                        .message = "Log in again.\nSoon.",
                        .details = details,
                        .created_at = 1767225600000LL, /* 2026-01-01T00:00:00Z */
                        .link = "http://127.0.0.1:8080/#/alerts"};
    return p;
}

static void body(const char *format, const char *url, const char *want, const char *want_url)
{
    json_t *d = json_pack("{si}", "days_left", 3);
    alerts_payload p = payload(d, "Renew");
    char *b = NULL, *u = NULL;
    kt_err err = {0};
    assert_int_equal(alerts_webhook_body(format, url, &p, &b, &u, &err), KT_OK);
    assert_string_equal(b, want);
    if (want_url)
        assert_string_equal(u, want_url);
    else
        assert_null(u);
    free(b);
    free(u);
    json_decref(d);
}

static void test_webhook_bodies(void **state)
{
    (void)state;
    body("json", "http://h/x",
         "{\"created_at\":1767225600000,\"details\":{\"days_left\":3},\"id\":7,\"kind\":"
         "\"login_expiring\",\"link\":\"http://127.0.0.1:8080/#/alerts\",\"message\":\"Log in "
         "again.\\nSoon.\",\"scope\":\"user\",\"source\":\"keeptrack\",\"subject\":\"\","
         "\"title\":\"Renew\"}",
         NULL);
    body("slack", "https://hooks.slack.com/services/T/B/X",
         "{\"text\":\"*Renew*\\nLog in again.\\nSoon.\\n<http://127.0.0.1:8080/#/alerts|Open "
         "keeptrack>\"}",
         NULL);
    body("gotify", "https://gotify.example/message?token=T",
         "{\"message\":\"Log in again.\\nSoon.\",\"priority\":5,\"title\":\"Renew\"}", NULL);
    body("ntfy", "https://ntfy.sh/my-topic?auth=T",
         "{\"click\":\"http://127.0.0.1:8080/#/alerts\",\"message\":\"Log in again.\\nSoon.\","
         "\"tags\":[\"warning\"],\"title\":\"Renew\",\"topic\":\"my-topic\"}",
         "https://ntfy.sh/?auth=T");
    alerts_payload p = payload(NULL, "x");
    char *b = NULL, *u = NULL;
    kt_err err = {0};
    assert_int_equal(alerts_webhook_body("ntfy", "https://ntfy.sh", &p, &b, &u, &err),
                     KT_ERR_INVALID);
    assert_int_equal(alerts_webhook_body("xml", "https://h/", &p, &b, &u, &err), KT_ERR_INVALID);
}

static void test_email(void **state)
{
    char *m = NULL;
    kt_err err = {0};
    (void)state;
    alerts_payload p = payload(NULL, "Renew\r\nBcc: evil@example.org");
    assert_int_equal(alerts_email_message("kt@example.org", "me@example.org", &p, p.created_at,
                                          &m, &err),
                     KT_OK);
    assert_string_equal(m, "From: keeptrack <kt@example.org>\r\nTo: <me@example.org>\r\n"
                           "Subject: [keeptrack] Renew  Bcc: evil@example.org\r\n"
                           "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                           "Message-ID: <alert-7.1767225600000@keeptrack>\r\n"
                           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
                           "\r\nLog in again.\r\nSoon.\r\n\r\nhttp://127.0.0.1:8080/#/alerts\r\n");
    free(m);
    p = payload(NULL, "Liste \xc3\xa9t\xc3\xa9");
    assert_int_equal(alerts_email_message("a@b", "c@d", &p, p.created_at, &m, &err), KT_OK);
    /* base64 of "[keeptrack] Liste été" */
    assert_non_null(strstr(m, "\r\nSubject: =?UTF-8?B?W2tlZXB0cmFja10gTGlzdGUgw6l0w6k=?=\r\n"));
    free(m);
}

static void raise_one(store *s, int64_t user, const char *key, const char *title, int64_t now,
                      int64_t *id, int *created)
{
    kt_err err = {0};
    store_alert_spec a = {.user_id = user,
                          .kind = "sync_quota",
                          .subject = "",
                          .dedupe_key = key,
                          .title = title,
                          .message = "m",
                          .details = NULL};
    OK(store_alert_raise(s, &a, now, id, created, &err));
}

static void test_store_contract(void **state)
{
    store *s = testdb_store(state);
    kt_err err = {0};
    store_rows *r = NULL;
    int64_t id1 = 0, id2 = 0, id3 = 0, sys = 0;
    int created = 0, changed = 0, w = 0, e = 0;
    char *to = NULL;
    int64_t alice = testdb_add_user(s, "alice"), bob = testdb_add_user(s, "bob");

    raise_one(s, alice, "k1", "first", 100, &id1, &created);
    assert_int_equal(created, 1);
    raise_one(s, alice, "k1", "second", 200, &id2, &created);
    assert_int_equal(created, 0);
    assert_int_equal(id1, id2);
    OK(store_alert_list(s, alice, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_string_equal(store_rows_text(r, 0, 4), "second"); /* an open one is updated */
    assert_int_equal(store_rows_int(r, 0, 9), 200);
    store_rows_free(r);
    /* bob sees nothing of alice's and cannot dismiss it */
    OK(store_alert_list(s, bob, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
    assert_int_equal(store_alert_dismiss(s, bob, id1, 0, 300, &err), KT_ERR_NOT_FOUND);
    /* dismissed: no longer listed, and raising again changes nothing */
    OK(store_alert_dismiss(s, alice, id1, 0, 300, &err));
    raise_one(s, alice, "k1", "third", 400, &id2, &created);
    assert_int_equal(created, 0);
    assert_int_equal(id2, id1);
    OK(store_alert_get(s, id1, &r, &err));
    assert_string_equal(store_rows_text(r, 0, 4), "second");
    assert_string_equal(store_rows_text(r, 0, 7), "dismissed");
    store_rows_free(r);
    OK(store_alert_list(s, alice, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 0);
    store_rows_free(r);
    /* resolved: the cause may raise a new one */
    OK(store_alert_resolve(s, "k1", 500, &changed, &err));
    assert_int_equal(changed, 1);
    OK(store_alert_resolve(s, "k1", 600, &changed, &err));
    assert_int_equal(changed, 0);
    raise_one(s, alice, "k1", "again", 700, &id3, &created);
    assert_int_equal(created, 1);
    assert_true(id3 != id1);
    /* an event dismissed ends at once */
    OK(store_alert_dismiss(s, alice, id3, 1, 800, &err));
    raise_one(s, alice, "k1", "new event", 900, &id2, &created);
    assert_int_equal(created, 1);
    /* an instance alert: everyone sees it, anyone dismisses it */
    raise_one(s, 0, "sys", "backup", 1000, &sys, &created);
    OK(store_alert_list(s, bob, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 1);
    assert_true(store_rows_is_null(r, 0, 1));
    store_rows_free(r);
    OK(store_alert_dismiss(s, bob, sys, 0, 1100, &err));
    OK(store_alert_list(s, alice, 10, &r, &err));
    assert_int_equal(store_rows_count(r), 1); /* "new event" only */
    store_rows_free(r);
    assert_int_equal(store_alert_dismiss(s, alice, 987654, 0, 1, &err), KT_ERR_NOT_FOUND);
    /* deliveries, oldest first */
    OK(store_alert_delivery_add(s, id2, "webhook", 1, 0, 500, "answered 500", 10, &err));
    OK(store_alert_delivery_add(s, id2, "webhook", 2, 1, 200, NULL, 20, &err));
    OK(store_alert_delivery_add(s, id2, "email", 1, 0, -1, "refused", 30, &err));
    OK(store_alert_deliveries(s, id2, &r, &err));
    assert_int_equal(store_rows_count(r), 3);
    assert_int_equal(store_rows_int(r, 1, 3), 1);
    assert_true(store_rows_is_null(r, 2, 4));
    store_rows_free(r);
    /* settings: on by default, then saved */
    OK(store_alert_settings_get(s, alice, &w, &e, &to, &err));
    assert_true(w && e && to == NULL);
    OK(store_alert_settings_put(s, alice, 0, 1, "me@example.org", 1, &err));
    OK(store_alert_settings_put(s, alice, 0, 0, "me@example.org", 2, &err));
    OK(store_alert_settings_get(s, alice, &w, &e, &to, &err));
    assert_true(!w && !e);
    assert_string_equal(to, "me@example.org");
    free(to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_tracks),
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_webhook_bodies),
        cmocka_unit_test(test_email),
        cmocka_unit_test_setup_teardown(test_store_contract, testdb_setup_sqlite,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_store_contract, testdb_setup_pg, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

"""Login, sessions and the OAuth state: the click-through over HTTP and every
way it must fail (issue 4, "Login and sessions")."""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from keeptrack import Http, query_of  # noqa: E402

DAY_MS = 86400000
SCOPES = ["user-read-private", "user-library-read", "user-library-modify",
          "playlist-read-private", "playlist-read-collaborative", "playlist-modify-private",
          "playlist-modify-public", "user-follow-read", "user-top-read",
          "user-read-recently-played"]


def emulator_user(emu, uid):
    users = emu.control("GET", "users")
    return next(u for u in users if u["id"] == uid)


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def test_full_click_through(kt, emu):
    browser = kt.client()
    r = browser.get("/api/auth/login", accept_json=False)
    assert r.status == 302
    auth = urllib.parse.urlsplit(r.location)
    assert f"{auth.scheme}://{auth.netloc}" == emu.base_url
    assert auth.path == "/authorize"
    q = query_of(r.location)
    assert q["client_id"] == "keeptrack-test-client"
    assert q["response_type"] == "code"
    assert q["redirect_uri"] == kt.base_url + "/api/auth/callback"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43
    assert len(q["state"]) == 43  # 256 bits, base64url
    assert q["scope"].split(" ") == SCOPES
    # the browser binding cookie
    [binding] = [c for c in r.set_cookies() if c.startswith("kt_login=")]
    assert "HttpOnly" in binding and "SameSite=Lax" in binding and "Path=/" in binding
    cb = kt.authorize(r.location, "alice")
    assert cb.startswith(kt.base_url + "/api/auth/callback?")
    r = kt.finish_login(browser, cb)
    assert r.status == 302 and r.location == "/"
    [sess] = [c for c in r.set_cookies() if c.startswith("kt_session=")]
    assert "HttpOnly" in sess and "SameSite=Lax" in sess and "Path=/" in sess
    # plain http: no __Host- prefix, no Secure (see routes.h)
    assert "Secure" not in sess
    assert "Max-Age=34560000" in sess  # the server's sliding expiry decides
    assert len(browser.cookie("kt_session")) == 43
    me = browser.get("/api/me")
    assert me.status == 200, me
    assert me.json()["account_id"] == emulator_user(emu, "alice")["account_id"]
    page = browser.get("/", accept_json=False)
    assert page.status == 200  # the web UI, which shows the name from /api/me (tests/browser)
    assert 'id="main"' in page.text


def test_me_fields_exact(kt, emu, db):
    t0 = int(time.time() * 1000)
    browser = kt.login("alice")
    t1 = int(time.time() * 1000)
    me = browser.get("/api/me").json()
    alice = emulator_user(emu, "alice")
    assert set(me) == {"id", "account_id", "spotify_id", "display_name", "status", "scopes",
                       "authorized_at", "access_token_expires_at", "refresh_token_expires_at",
                       "refresh_token_days_left"}
    assert me["account_id"] == alice["account_id"]
    assert me["spotify_id"] == "alice"
    assert me["display_name"] == alice["display_name"]
    assert me["status"] == "active"
    assert me["scopes"] == SCOPES
    assert iso(t0 - 1000) <= me["authorized_at"] <= iso(t1 + 1000)
    # the emulator's tokens live 3600 s
    assert iso(t0 + 3599000) <= me["access_token_expires_at"] <= iso(t1 + 3601000)
    # days left counted from authorized_at: move it 10 days and 1 hour back
    now = int(time.time() * 1000)
    auth_at = now - 10 * DAY_MS - 3600000
    db.sql(f"UPDATE users SET authorized_at = {auth_at}")
    me = browser.get("/api/me").json()
    assert me["authorized_at"] == iso(auth_at)
    assert me["refresh_token_expires_at"] == iso(auth_at + 183 * DAY_MS)
    assert me["refresh_token_days_left"] == 172
    db.sql(f"UPDATE users SET authorized_at = {now - 200 * DAY_MS}")
    assert browser.get("/api/me").json()["refresh_token_days_left"] == 0


def test_session_answers_logged_out_without_an_error(kt):
    """GET /api/session, which the web UI asks first: {"user": null} with 200
    when nobody is logged in (no cookie, an unknown or a logged-out session),
    else the same object as /api/me."""
    anon = kt.client()
    r = anon.get("/api/session")
    assert r.status == 200 and r.json() == {"user": None}, r
    r = anon.get("/api/session", headers={"Cookie": "kt_session=" + "A" * 43})
    assert r.status == 200 and r.json() == {"user": None}, r
    browser = kt.login("alice")
    me = browser.get("/api/me").json()
    session = browser.get("/api/session").json()
    assert session == {"user": me}, session
    assert browser.post("/api/auth/logout").status in (200, 204, 302)
    assert browser.get("/api/session").json() == {"user": None}
    assert browser.get("/api/me").status == 401


def test_login_json_variant(kt):
    browser = kt.client()
    r = browser.get("/api/auth/login")  # Accept: application/json
    assert r.status == 200
    url = r.json()["url"]
    assert url.startswith(kt.emulator.base_url + "/authorize?")
    cb = kt.authorize(url, "bob")
    r = browser.get(cb)  # a JSON client finishing the flow
    assert r.status == 200
    assert r.json()["ok"] is True and r.json()["redirect"] == "/"
    assert browser.get("/api/me").json()["spotify_id"] == "bob"


def test_state_replay_refused(kt):
    browser = kt.client()
    cb = kt.authorize(kt.start_login(browser), "alice")
    assert kt.finish_login(browser, cb).status == 302
    again = browser.get(cb)
    assert again.status == 400
    assert again.json()["error"]["code"] == "state_unknown"
    # the browser variant is an HTML page
    page = browser.get(cb, accept_json=False)
    assert page.status == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert "start the login again" in page.text


def test_expired_state_refused(kt, db):
    browser = kt.client()
    cb = kt.authorize(kt.start_login(browser), "alice")
    # test hook: the state's 10 minutes are over
    db.sql("UPDATE oauth_states SET expires_at = created_at - 1")
    r = browser.get(cb)
    assert r.status == 400
    assert r.json()["error"]["code"] == "state_expired"
    assert browser.get("/api/me").status == 401


def test_state_expires_after_ten_minutes(kt, db):
    browser = kt.client()
    kt.start_login(browser)
    [(created, expires)] = db.sql("SELECT created_at, expires_at FROM oauth_states")
    assert int(expires) - int(created) == 600000


def test_wrong_state_refused(kt):
    browser = kt.client()
    cb = kt.authorize(kt.start_login(browser), "alice")
    q = query_of(cb)
    for bad in ["A" * 43, "", "short", q["state"][:-1] + ("A" if q["state"][-1] != "A" else "B")]:
        url = kt.base_url + "/api/auth/callback?" + urllib.parse.urlencode(
            {"code": q["code"], "state": bad})
        r = browser.get(url)
        assert r.status == 400, (bad, r)
        assert r.json()["error"]["code"] in ("state_unknown", "state_missing")
    no_state = browser.get(kt.base_url + "/api/auth/callback?code=" + q["code"])
    assert no_state.json()["error"]["code"] == "state_missing"
    # the genuine state still works afterwards
    assert kt.finish_login(browser, cb).status == 302


def test_wrong_browser_refused(kt):
    a = kt.client()
    cb = kt.authorize(kt.start_login(a), "alice")
    b = kt.client()  # another browser: no binding cookie
    r = b.get(cb)
    assert r.status == 403 and r.json()["error"]["code"] == "wrong_browser"
    # the state was used up by that attempt: single use whatever the outcome
    assert a.get(cb).json()["error"]["code"] == "state_unknown"
    # another browser with a binding cookie of its own
    cb2 = kt.authorize(kt.start_login(a), "alice")
    c = kt.client()
    kt.start_login(c)
    assert c.cookie("kt_login") and c.cookie("kt_login") != a.cookie("kt_login")
    r = c.get(cb2)
    assert r.status == 403 and r.json()["error"]["code"] == "wrong_browser"
    assert c.get("/api/me").status == 401


def test_access_denied(kt, emu):
    emu.control("POST", "consent", {"user": "alice", "deny": True})
    browser = kt.client()
    cb = kt.authorize(kt.start_login(browser))
    assert query_of(cb)["error"] == "access_denied"
    page = kt.finish_login(browser, cb)
    assert page.status == 403
    assert page.headers["Content-Type"].startswith("text/html")
    assert "declined" in page.text
    assert browser.get("/api/me").status == 401
    # JSON clients get the JSON error
    browser2 = kt.client()
    cb = kt.authorize(kt.start_login(browser2))
    r = browser2.get(cb)
    assert r.status == 403
    assert r.json() == {"error": {"status": 403, "code": "access_denied",
                                  "message": r.json()["error"]["message"]}}


def test_new_session_id_every_login(kt, db):
    browser = kt.login("alice")
    first = browser.cookie("kt_session")
    kt.login("alice", browser)
    second = browser.cookie("kt_session")
    assert first != second
    # both are valid sessions of the same user (the old one is not extended)
    old = Http(kt.base_url)
    old.set_cookie("kt_session", first)
    assert old.get("/api/me").json()["spotify_id"] == "alice"
    assert browser.get("/api/me").json()["spotify_id"] == "alice"
    [(n,)] = db.sql("SELECT COUNT(*) FROM users")
    assert int(n) == 1


def test_sessions_are_isolated(kt):
    alice = kt.login("alice")
    bob = kt.login("bob")
    a = alice.get("/api/me").json()
    b = bob.get("/api/me").json()
    assert a["spotify_id"] == "alice" and b["spotify_id"] == "bob"
    assert a["id"] != b["id"]
    # a forged or altered cookie is nobody
    forged = Http(kt.base_url)
    sid = alice.cookie("kt_session")
    forged.set_cookie("kt_session", sid[:-1] + ("x" if sid[-1] != "x" else "y"))
    assert forged.get("/api/me").status == 401
    # bob's actions never touch alice
    assert bob.post("/api/auth/disconnect").status == 200
    assert alice.get("/api/me").json()["status"] == "active"
    assert bob.get("/api/me").json()["status"] == "disconnected"


def test_session_sliding_expiry(kt, db):
    t0 = int(time.time() * 1000)
    browser = kt.login("alice")
    [(exp,)] = db.sql("SELECT expires_at FROM sessions")
    assert t0 + 30 * DAY_MS <= int(exp) <= int(time.time() * 1000) + 30 * DAY_MS
    # a visit after a while slides the expiry: 30 days from the visit
    soon = int(time.time() * 1000) + 5000
    db.sql(f"UPDATE sessions SET last_seen_at = last_seen_at - 120000, expires_at = {soon}")
    t1 = int(time.time() * 1000)
    assert browser.get("/api/me").status == 200
    [(exp,)] = db.sql("SELECT expires_at FROM sessions")
    assert int(exp) >= t1 + 30 * DAY_MS
    # an expired session is refused and removed
    db.sql(f"UPDATE sessions SET expires_at = {t1 - 1}")
    r = browser.get("/api/me")
    assert r.status == 401 and r.json()["error"]["code"] == "not_logged_in"
    [(n,)] = db.sql("SELECT COUNT(*) FROM sessions")
    assert int(n) == 0


def test_logout_revokes_session(kt):
    browser = kt.login("alice")
    sid = browser.cookie("kt_session")
    r = browser.post("/api/auth/logout")
    assert r.status == 200 and r.json() == {"logged_out": True}
    assert any(c.startswith("kt_session=;") and "Max-Age=0" in c for c in r.set_cookies())
    # the old id is dead server-side, not just forgotten by the browser
    replay = Http(kt.base_url)
    replay.set_cookie("kt_session", sid)
    assert replay.get("/api/me").status == 401
    assert replay.get("/api/me").json()["error"]["code"] == "not_logged_in"


def test_cross_site_post_refused(kt):
    browser = kt.login("alice")
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        for path in ("/api/auth/logout", "/api/auth/disconnect", "/api/auth/refresh"):
            r = browser.post(path, headers=headers)
            assert r.status == 403, (path, headers, r)
            assert r.json()["error"]["code"] == "cross_site"
    assert browser.get("/api/me").json()["status"] == "active"
    # same origin passes
    r = browser.post("/api/auth/logout", headers={"Origin": kt.base_url})
    assert r.status == 200


def test_get_never_changes_state(kt):
    browser = kt.login("alice")
    for path in ("/api/auth/logout", "/api/auth/disconnect", "/api/auth/refresh"):
        assert browser.get(path).status == 405
    assert browser.get("/api/me").json()["status"] == "active"


def test_healthz_and_landing(kt):
    h = kt.client().get("/healthz")
    assert h.status == 200
    assert h.json() == {"ok": True, "db": "ok", "schema_version": h.json()["schema_latest"],
                        "schema_latest": h.json()["schema_latest"]}
    page = kt.client().get("/", accept_json=False)
    assert page.status == 200 and "Connect Spotify" in page.text

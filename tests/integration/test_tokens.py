"""Spotify tokens: refresh and rotation, revocation, disconnect, encryption at
rest and key rotation (issue 4, "Token vault" and "Login and sessions")."""
import binascii
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from keeptrack import Http, Keeptrack, query_of  # noqa: E402


def token_requests(emu, grant_type=None):
    reqs = [r for r in emu.stats()["requests"] if r["endpoint"] == "POST /api/token"]
    if grant_type:
        reqs = [r for r in reqs if r.get("grant_type") == grant_type]
    return reqs


def test_refresh_persists_rotated_token(kt, emu):
    browser = kt.login("alice")
    before = browser.get("/api/me").json()["access_token_expires_at"]
    issued = emu.control("GET", "tokens")
    r1 = browser.post("/api/auth/refresh")
    assert r1.status == 200, r1
    assert r1.json()["status"] == "active"
    assert r1.json()["access_token_expires_at"] >= before
    after = emu.control("GET", "tokens")
    # a PKCE client always gets a rotated refresh token, and the old one stops
    # working at once: the second refresh only succeeds if the new one was
    # stored (and keeptrack is restarted to prove it is read from the database)
    assert len(after["refresh"]) == len(issued["refresh"]) + 1
    kt.stop()
    kt.start()
    r2 = browser.post("/api/auth/refresh")
    assert r2.status == 200, r2
    assert len(token_requests(emu, "refresh_token")) == 2
    assert all(r["status"] == 200 for r in token_requests(emu, "refresh_token"))


def test_revoked_refresh_marks_reauth_and_stops(kt, emu):
    browser = kt.login("alice")
    emu.control("POST", "tokens/revoke", {"user": "alice"})
    r = browser.post("/api/auth/refresh")
    assert r.status == 401
    assert r.json()["error"]["code"] == "reauth_required"
    me = browser.get("/api/me").json()
    assert me["status"] == "reauth_required"
    assert me["access_token_expires_at"] is None  # tokens wiped
    # never retried: further calls make no token request
    assert browser.post("/api/auth/refresh").status == 401
    refreshes = token_requests(emu, "refresh_token")
    assert len(refreshes) == 1 and refreshes[0]["status"] == 400
    # logging in again brings the account back
    kt.login("alice", browser)
    assert browser.get("/api/me").json()["status"] == "active"


def test_aged_refresh_token_marks_reauth(kt, emu):
    browser = kt.login("alice")
    emu.control("POST", "tokens/age", {"user": "alice", "days": 200})
    r = browser.post("/api/auth/refresh")
    assert r.status == 401 and r.json()["error"]["code"] == "reauth_required"
    assert browser.get("/api/me").json()["status"] == "reauth_required"


def test_disconnect_keeps_session(kt, emu, db):
    browser = kt.login("alice")
    r = browser.post("/api/auth/disconnect")
    assert r.status == 200 and r.json() == {"disconnected": True, "data_deleted": False}
    me = browser.get("/api/me").json()
    assert me["status"] == "disconnected"
    assert me["access_token_expires_at"] is None
    assert db.sql("SELECT COUNT(*) FROM user_tokens") in ([(0,)], [("0",)])
    # no tokens: refresh cannot work and asks Spotify nothing
    n = len(token_requests(emu))
    r = browser.post("/api/auth/refresh")
    assert r.status == 401 and r.json()["error"]["code"] == "reauth_required"
    assert len(token_requests(emu)) == n
    assert browser.get("/api/me").json()["status"] == "disconnected"


def test_disconnect_delete_data(kt, db):
    alice = kt.login("alice")
    bob = kt.login("bob")
    r = alice.post("/api/auth/disconnect?delete_data=true")
    assert r.status == 200 and r.json() == {"disconnected": True, "data_deleted": True}
    assert alice.get("/api/me").status == 401
    rows = db.sql("SELECT spotify_id FROM users")
    assert [tuple(map(str, x)) for x in rows] == [("bob",)]
    for table in ("user_tokens", "sessions"):
        [(n,)] = db.sql(f"SELECT COUNT(*) FROM {table}")
        assert int(n) == 1, table  # bob's only
    assert bob.get("/api/me").json()["status"] == "active"


def forms(secret):
    raw = secret.encode()
    return [raw, binascii.hexlify(raw), binascii.hexlify(raw).upper()]


def test_no_secret_in_database(kt, emu, db):
    browser = kt.client()
    authorize_url = kt.start_login(browser)
    state = query_of(authorize_url)["state"]
    cb = kt.authorize(authorize_url, "alice")
    code = query_of(cb)["code"]
    assert kt.finish_login(browser, cb).status == 302
    bob = kt.login("bob")
    assert browser.post("/api/auth/refresh").status == 200
    pending = kt.client()
    pending_state = query_of(kt.start_login(pending))["state"]  # a state still stored
    tokens = emu.control("GET", "tokens")
    assert len(tokens["access"]) >= 3 and len(tokens["refresh"]) >= 3
    secrets = (tokens["access"] + tokens["refresh"] +
               [browser.cookie("kt_session"), bob.cookie("kt_session"), state, pending_state,
                pending.cookie("kt_login"), code])
    dump = db.dump()
    assert len(dump) > 0
    for s in secrets:
        for f in forms(s):
            assert f not in dump, "a secret is stored in plaintext"
    # the log never shows them either
    log = kt.log().encode()
    for s in secrets:
        assert s.encode() not in log


def key_lines(path):
    with open(path) as f:
        return [line for line in f.read().splitlines()
                if line.strip() and not line.startswith("#")]


def test_keys_rotate_keeps_logins(kt, emu, tmp_path):
    browser = kt.login("alice")
    key_file = kt.env["KEEPTRACK_SECRET_KEY_FILE"]
    old = key_lines(key_file)
    assert len(old) == 1
    kt.stop()
    r = kt.cli("keys", "rotate")
    assert r.returncode == 0, r.stderr
    assert "re-encrypted 2 value(s)" in r.stdout  # alice's access + refresh tokens
    new = key_lines(key_file)
    assert len(new) == 1 and new != old
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    kt.start()
    assert browser.get("/api/me").json()["status"] == "active"
    # the refresh token still decrypts: a refresh works
    r = browser.post("/api/auth/refresh")
    assert r.status == 200, r
    # and a fresh login under the new key too
    assert kt.login("bob").get("/api/me").json()["spotify_id"] == "bob"


def test_env_key_rotation(emu, db, tmp_path):
    gen = lambda k: k.cli("keys", "generate").stdout.strip()  # noqa: E731
    k = Keeptrack(emu, db, tmp_path)
    key1 = gen(k)
    assert len(key1) == 44
    k.env["KEEPTRACK_SECRET_KEY"] = key1
    k.start()
    browser = k.login("alice")
    k.stop()
    key2 = gen(k)
    assert key2 != key1
    # the new key without the old one cannot open the tokens
    r = k.cli("keys", "rotate", env={"KEEPTRACK_SECRET_KEY": key2})
    assert r.returncode == 1
    r = k.cli("keys", "rotate", env={"KEEPTRACK_SECRET_KEY": key2,
                                      "KEEPTRACK_SECRET_KEY_PREVIOUS": key1})
    assert r.returncode == 0, r.stderr
    k.env["KEEPTRACK_SECRET_KEY"] = key2
    k.start()
    try:
        assert browser.post("/api/auth/refresh").status == 200
    finally:
        assert k.stop() == 0


def test_users_cli(kt, emu):
    alice = kt.login("alice")
    kt.login("bob")
    r = kt.cli("users", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["ID", "ACCOUNT", "NAME", "STATUS"]
    assert len(lines) == 3
    r = kt.cli("users", "disable", "alice-does-not-exist")
    assert r.returncode == 1 and "no user" in r.stderr
    account = next(u for u in emu.control("GET", "users")
                   if u["id"] == "alice")["account_id"]
    assert kt.cli("users", "disable", account).returncode == 0
    assert alice.get("/api/me").status == 401  # sessions gone
    browser = kt.client()
    r = kt.finish_login(browser, kt.authorize(kt.start_login(browser), "alice"))
    assert r.status == 403 and "disabled" in r.text
    assert kt.cli("users", "enable", account).returncode == 0
    kt.login("alice", browser)
    assert browser.get("/api/me").json()["status"] == "active"
    assert kt.cli("users", "delete", account).returncode == 0
    assert browser.get("/api/me").status == 401


def test_forged_session_cookie_on_every_route(kt):
    kt.login("alice")
    anon = Http(kt.base_url)
    for method, path in (("GET", "/api/me"), ("POST", "/api/auth/refresh"),
                         ("POST", "/api/auth/disconnect")):
        r = anon.request(method, path)
        assert r.status == 401 and r.json()["error"]["code"] == "not_logged_in"

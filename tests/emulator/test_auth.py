"""Accounts service: every grant, every error, token expiry, revocation, ageing."""
import base64
import urllib.parse

import pytest

from emulator import CLIENT_ID, CLIENT_SECRET, DEFAULT_REDIRECT, pkce_pair

WWW_EXPIRED = ('Bearer realm="spotify", error="invalid_token", '
               'error_description="The access token expired"')


def code_from(r):
    assert r.status == 302, r
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)
    return q


def exchange(emu, code, redirect=DEFAULT_REDIRECT, **extra):
    return emu.token(dict({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}, **extra))


def err(r, status, error, desc):
    assert r.status == status, r
    assert r.json() == {"error": error, "error_description": desc}


def test_code_flow_basic_auth(emu):
    q = code_from(emu.authorize("alice", scope="user-library-read playlist-read-private", state="s 1&2"))
    assert q["state"] == ["s 1&2"]
    t = exchange(emu, q["code"][0])
    assert t.status == 200
    body = t.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "user-library-read playlist-read-private"
    me = emu.get("/me", body["access_token"])
    assert me.status == 200 and me.json()["id"] == "alice"
    assert len(me.json()["account_id"]) == 22


def test_code_is_single_use(emu):
    code = code_from(emu.authorize("alice"))["code"][0]
    assert exchange(emu, code).status == 200
    err(exchange(emu, code), 400, "invalid_grant", "Invalid authorization code")
    err(exchange(emu, "nonsense"), 400, "invalid_grant", "Invalid authorization code")


def test_code_expires(emu_factory):
    e = emu_factory(["--user", "a:liked=1", "--code-ttl", "5"])
    code = code_from(e.authorize("a"))["code"][0]
    e.control("POST", "clock", {"advance_s": 6})
    err(exchange(e, code), 400, "invalid_grant", "Authorization code expired")


def test_redirect_uri_must_match(emu):
    code = code_from(emu.authorize("alice"))["code"][0]
    err(exchange(emu, code, redirect="http://127.0.0.1:9/other"), 400, "invalid_grant", "Invalid redirect URI")


def test_pkce_flow_and_verifier_mismatch(emu):
    verifier, challenge = pkce_pair()
    code = code_from(emu.authorize("alice", challenge=challenge))["code"][0]
    bad = emu.token({"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT,
                     "client_id": CLIENT_ID, "code_verifier": verifier + "x"}, basic=None)
    err(bad, 400, "invalid_grant", "code_verifier was incorrect")
    good = emu.token({"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT,
                      "client_id": CLIENT_ID, "code_verifier": verifier}, basic=None)
    assert good.status == 200 and "refresh_token" in good.json()
    # a PKCE client's refresh always rotates, and the old token stops working
    rt = good.json()["refresh_token"]
    r1 = emu.token({"grant_type": "refresh_token", "refresh_token": rt, "client_id": CLIENT_ID}, basic=None)
    assert r1.status == 200 and r1.json()["refresh_token"] != rt
    err(emu.token({"grant_type": "refresh_token", "refresh_token": rt, "client_id": CLIENT_ID}, basic=None),
        400, "invalid_grant", "Invalid refresh token")
    r2 = emu.token({"grant_type": "refresh_token", "refresh_token": r1.json()["refresh_token"],
                    "client_id": CLIENT_ID}, basic=None)
    assert r2.status == 200


def test_public_client_needs_verifier(emu):
    code = code_from(emu.authorize("alice"))["code"][0]
    err(emu.token({"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT,
                   "client_id": CLIENT_ID}, basic=None), 400, "invalid_request", "code_verifier required")


def test_client_secret_in_body_and_wrong_secret(emu):
    code = code_from(emu.authorize("alice"))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT,
            "client_id": CLIENT_ID, "client_secret": "wrong"}
    err(emu.token(form, basic=None), 400, "invalid_client", "Invalid client secret")
    err(emu.token(form, basic=("other-client", "x")), 400, "invalid_client", "Invalid client")
    form["client_secret"] = CLIENT_SECRET
    assert emu.token(form, basic=None).status == 200


def test_refresh_without_rotation_then_with(emu, emu_factory):
    tokens = emu.login("alice")
    r = emu.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status == 200 and "refresh_token" not in r.json()
    assert emu.get("/me", r.json()["access_token"]).status == 200
    e = emu_factory(["--user", "a:liked=1", "--rotate-refresh"])
    t = e.login("a")
    r = e.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert r.status == 200 and r.json()["refresh_token"] != t["refresh_token"]
    stats = e.stats()
    grants = [q.get("grant_type") for q in stats["requests"] if q["endpoint"] == "POST /api/token"]
    assert grants == ["authorization_code", "refresh_token"]


def test_revoked_and_aged_refresh_tokens(emu):
    t = emu.login("bob")
    emu.control("POST", "tokens/age", {"user": "bob", "days": 100})
    assert emu.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}).status == 200
    emu.control("POST", "tokens/age", {"user": "bob", "days": 90})
    err(emu.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}),
        400, "invalid_grant", "Refresh token expired")
    t = emu.login("bob")
    emu.control("POST", "tokens/revoke", {"user": "bob"})
    err(emu.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}),
        400, "invalid_grant", "Refresh token revoked")


def test_access_token_expiry_and_missing_token(emu):
    t = emu.login("bob")["access_token"]
    assert emu.get("/me", t).status == 200
    emu.control("POST", "tokens/expire", {"user": "bob"})
    r = emu.get("/me", t)
    assert r.status == 401
    assert r.json() == {"error": {"status": 401, "message": "The access token expired"}}
    assert r.headers["WWW-Authenticate"] == WWW_EXPIRED
    r = emu.get("/me")
    assert r.status == 401 and r.json() == {"error": {"status": 401, "message": "No token provided"}}
    r = emu.get("/me", "garbage")
    assert r.status == 401 and r.json()["error"]["message"] == "Invalid access token"


def test_token_ttl_by_clock(emu_factory):
    e = emu_factory(["--user", "a:liked=1", "--token-ttl", "60"])
    t = e.login("a")
    assert t["expires_in"] == 60
    assert e.get("/me", t["access_token"]).status == 200
    e.control("POST", "clock", {"advance_s": 61})
    assert e.get("/me", t["access_token"]).json()["error"]["message"] == "The access token expired"
    r = e.token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert e.get("/me", r.json()["access_token"]).status == 200


def test_client_credentials(emu):
    r = emu.token({"grant_type": "client_credentials"})
    assert r.status == 200
    body = r.json()
    assert "refresh_token" not in body and body["token_type"] == "Bearer"
    artist = emu.truth("bob", ["followed_artists"])["followed_artists"][0]["id"]
    assert emu.get(f"/artists/{artist}", body["access_token"]).status == 200
    me = emu.get("/me", body["access_token"])
    assert me.status == 401
    err(emu.token({"grant_type": "client_credentials", "client_id": CLIENT_ID}, basic=None),
        400, "invalid_client", "Invalid client secret")


def test_grant_type_errors(emu):
    err(emu.token({}), 400, "unsupported_grant_type", "grant_type parameter is missing")
    err(emu.token({"grant_type": "password"}), 400, "unsupported_grant_type",
        "grant_type must be client_credentials, authorization_code or refresh_token")
    err(emu.token({"grant_type": "refresh_token"}), 400, "invalid_request", "refresh_token must be supplied")
    err(emu.token({"grant_type": "refresh_token", "refresh_token": "nope"}), 400, "invalid_grant",
        "Invalid refresh token")
    r = emu.token({"grant_type": "authorization_code"}, basic=None)
    err(r, 400, "invalid_client", "Invalid client")
    bad_basic = emu.token({"grant_type": "client_credentials"}, basic=None)
    assert bad_basic.status == 400


@pytest.mark.parametrize("params,reason", [
    ({"client_id": "unknown"}, "INVALID_CLIENT: Invalid client"),
    ({"redirect_uri": "http://localhost:8080/api/auth/callback"}, "INVALID_CLIENT: Invalid redirect URI"),
    ({"redirect_uri": "http://example.com/cb"}, "INVALID_CLIENT: Invalid redirect URI"),
])
def test_authorize_rejects_without_redirect(emu, params, reason):
    args = {"client_id": CLIENT_ID, "redirect_uri": DEFAULT_REDIRECT}
    args.update(params)
    r = emu.authorize("alice", redirect_uri=args["redirect_uri"], client_id=args["client_id"])
    assert r.status == 400 and "Location" not in r.headers
    assert reason in r.text


def test_authorize_redirect_errors_and_loopback(emu):
    q = code_from(emu.authorize("alice", extra={"response_type": "token"}))
    assert q == {"error": ["unsupported_response_type"], "state": ["st"]}
    q = code_from(emu.authorize("alice", extra={"code_challenge_method": "plain", "code_challenge": "x"}))
    assert q["error"] == ["invalid_request"]
    r = emu.authorize("alice", redirect_uri="http://127.0.0.1:45678/cb?x=1")
    assert r.headers["Location"].startswith("http://127.0.0.1:45678/cb?x=1&code=")
    r = emu.authorize("alice", redirect_uri="http://[::1]:5000/cb")
    assert r.status == 302


def test_consent_user_and_deny(emu):
    emu.consent("bob")
    code = code_from(emu.authorize(None))["code"][0]
    t = exchange(emu, code).json()
    assert emu.get("/me", t["access_token"]).json()["id"] == "bob"
    emu.consent("bob", deny=True)
    q = code_from(emu.authorize(None, state="abc"))
    assert q == {"error": ["access_denied"], "state": ["abc"]}
    emu.control("POST", "consent", {"deny": False})
    code = code_from(emu.authorize(None))["code"][0]
    t = exchange(emu, code).json()
    assert emu.get("/me", t["access_token"]).json()["id"] == "alice", "first user by default"


def test_tokens_listing_holds_every_issued_token(emu):
    t = emu.login("alice")
    listed = emu.tokens()
    assert t["access_token"] in listed["access"] and t["refresh_token"] in listed["refresh"]
    assert all(not p["path"].count(t["access_token"]) for p in emu.stats()["requests"])
    assert base64  # imported for readers: Basic auth is built by the helper

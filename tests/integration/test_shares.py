"""Read-only share links (issue 18, item 3) end to end, on SQLite and
PostgreSQL: POST/GET/DELETE /api/shares and the public reads
GET /api/public/{token}[/{page}].

- A link showing stats, tops and one playlist: without any cookie, each
  chosen page answers exactly what the owner's own route answers (GET
  /api/stats/library, GET /api/stats/tops with the same parameters, GET
  /api/playlists/{id}/versions), and those agree with the emulator's truth
  (the playlist's snapshot, the number of plays); pages not chosen, unknown
  tokens, expired and revoked links all answer the same 404.
- No public answer carries a token the emulator issued, a session id, the
  owner's user id or anything of another page; the link's token is shown
  once (the list never has it) and the database holds only its SHA-256.
- Expiry (the row's expires_at moved into the past, no sleeping) and
  revocation end the link; another user can neither list nor revoke it.
- Too many reads answer 429 with Retry-After, and reads work again once
  that time has passed.
- Bad input is a 400 naming the field, and saves nothing.
"""
import base64
import hashlib
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from stack import SyncedStack  # noqa: E402

ALICE = "alice:liked=20,playlists=2,playlist_items=3-5,albums=0,shows=0,episodes=0,followed=2,plays=40"
BOB = "bob:liked=3,playlists=1,playlist_items=2,plays=5"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_SHARE_BURST": "10000"}
DAY = 86400000


class Env(SyncedStack):
    def __init__(self, db, tmp_path, env=KT_ENV):
        super().__init__(db, tmp_path, [ALICE, BOB], env, logins=("alice", "bob"))
        self.alice, self.bob = self.clients["alice"], self.clients["bob"]
        self.anon = self.kt.client()  # no cookie at all


@pytest.fixture
def env(db, tmp_path):
    e = Env(db, tmp_path)
    yield e
    e.close()


def forms(secret):
    b = secret.encode()
    return [b, base64.b64encode(b), base64.urlsafe_b64encode(b), b.hex().encode()]


def test_public_pages_are_the_owners_answers_and_nothing_else(env):
    alice, anon = env.alice, env.anon
    truth = env.emu.truth("alice", ["playlists", "recently_played"])
    pls = alice.get("/api/playlists").json()["items"]
    assert len(pls) >= 2
    # one with versions kept, and another one
    shown = next(p["id"] for p in pls
                 if alice.get(f"/api/playlists/{p['id']}/versions").json()["items"])
    hidden = next(p["id"] for p in pls if p["id"] != shown)
    r = alice.post("/api/shares", json={"pages": ["stats", "tops", f"playlist:{shown}", "stats"],
                                        "label": "for Bob"})
    assert r.status == 201, r
    link = r.json()
    token = link["token"]
    assert len(token) == 43 and link["url"].endswith("/#/shared/" + token)
    assert link["pages"] == ["stats", "tops", f"playlist:{shown}"]  # duplicates dropped
    assert link["label"] == "for Bob" and link["expires_at"] is None
    assert anon.cookie("kt_session") is None

    index = anon.get(f"/api/public/{token}")
    assert index.status == 200, index
    assert index.json() == {"pages": ["stats", "tops", f"playlist:{shown}"]}
    assert index.headers.get("Referrer-Policy") == "no-referrer"

    answers = [index]
    got = anon.get(f"/api/public/{token}/stats")
    assert got.status == 200 and got.json() == alice.get("/api/stats/library").json()
    answers.append(got)
    for q in ("period=all", "kind=artists&by=time&period=all&limit=3",
              "kind=albums&period=custom&from=1700000000000&to=1900000000000"):
        got = anon.get(f"/api/public/{token}/tops?{q}")
        assert got.status == 200, (q, got)
        assert got.json() == alice.get(f"/api/stats/tops?{q}").json(), q
        answers.append(got)
    tops = anon.get(f"/api/public/{token}/tops?period=all").json()
    assert tops["plays"] == len(truth["recently_played"])  # the emulator's truth
    got = anon.get(f"/api/public/{token}/playlist:{shown}")
    assert got.status == 200 and got.json() == alice.get(f"/api/playlists/{shown}/versions").json()
    snap = next(p for p in truth["playlists"] if p["id"] == shown)["snapshot_id"]
    assert got.json()["items"][0]["snapshot_id"] == snap
    answers.append(got)
    # bad parameters of a shown page are 400s naming them, as for the owner
    bad = anon.get(f"/api/public/{token}/tops?limit=0")
    assert bad.status == 400 and "limit" in bad.json()["error"]["message"]

    # pages not chosen and unknown tokens: one and the same 404
    nf = anon.get(f"/api/public/{token}/playlist:{hidden}")
    assert nf.status == 404, nf
    for path in (f"/api/public/{token}/recap", f"/api/public/{token}/library",
                 f"/api/public/{'A' * 43}", f"/api/public/{'A' * 43}/stats",
                 "/api/public/short/stats", f"/api/public/{token[:-1]}/stats"):
        r = anon.get(path)
        assert r.status == 404 and r.json() == nf.json(), (path, r)
    # GET only
    assert anon.post(f"/api/public/{token}", json={}).status in (404, 405)
    assert anon.request("DELETE", f"/api/public/{token}").status in (404, 405)

    # nothing secret, nothing of the owner's identity, in any public answer
    tokens = env.emu.tokens()
    secrets = tokens["access"] + tokens["refresh"] + \
        [alice.cookie("kt_session"), env.bob.cookie("kt_session")]
    assert len(secrets) >= 4
    for a in answers:
        for s in secrets:
            for f in forms(s):
                assert f not in a.body
        assert b'"user_id"' not in a.body and b"alice" not in a.body.lower()
        assert hidden.encode() not in a.body


def test_token_hashed_listed_without_it_expiry_revoke_and_other_users(env):
    alice, bob, anon = env.alice, env.bob, env.anon
    a = alice.post("/api/shares", json={"pages": ["stats"], "expires_in_days": 1}).json()
    b = alice.post("/api/shares", json={"pages": ["tops"]}).json()
    assert a["expires_at"] is not None
    for link in (a, b):
        assert anon.get(f"/api/public/{link['token']}").status == 200

    # only the hash is stored
    dump = env.db.dump()
    for link in (a, b):
        for f in forms(link["token"]):
            assert f not in dump
        assert hashlib.sha256(link["token"].encode()).hexdigest().encode() in dump

    # the list: no tokens
    lst = alice.get("/api/shares")
    assert lst.status == 200
    assert [s["id"] for s in lst.json()["shares"]] == [a["id"], b["id"]]
    assert a["token"] not in lst.text and b["token"] not in lst.text
    assert lst.json()["shares"][0]["expired"] is False

    # another user sees none and revokes none
    assert bob.get("/api/shares").json() == {"shares": []}
    r = bob.request("DELETE", f"/api/shares/{a['id']}")
    assert r.status == 404, r
    assert anon.get(f"/api/public/{a['token']}").status == 200

    # expiry: the row's expiry moved two days back
    unknown = anon.get(f"/api/public/{'B' * 43}").json()
    env.db.sql(f"UPDATE shares SET expires_at = expires_at - {2 * DAY} WHERE id = {a['id']}")
    r = anon.get(f"/api/public/{a['token']}/stats")
    assert r.status == 404 and r.json() == unknown
    assert anon.get(f"/api/public/{a['token']}").status == 404
    assert alice.get("/api/shares").json()["shares"][0]["expired"] is True

    # revocation
    r = alice.request("DELETE", f"/api/shares/{b['id']}")
    assert r.status == 200 and r.json() == {"id": b["id"], "deleted": True}
    r = anon.get(f"/api/public/{b['token']}/tops")
    assert r.status == 404 and r.json() == unknown
    assert alice.request("DELETE", f"/api/shares/{b['id']}").status == 404
    assert [s["id"] for s in alice.get("/api/shares").json()["shares"]] == [a["id"]]
    # the public routes never log the token
    assert a["token"] not in env.kt.log() and b["token"] not in env.kt.log()


def test_bad_input_names_the_field(env):
    alice = env.alice
    bob_pl = env.bob.get("/api/playlists").json()["items"][0]["id"]
    cases = [({}, "pages"), ({"pages": []}, "pages"), ({"pages": "stats"}, "pages"),
             ({"pages": ["nope"]}, "pages"), ({"pages": [1]}, "pages"),
             ({"pages": ["playlist:"]}, "pages"), ({"pages": ["playlist:a/b"]}, "pages"),
             ({"pages": [f"playlist:{bob_pl}"]}, "pages"),  # not alice's
             ({"pages": ["stats"] * 21}, "pages"),
             ({"pages": ["stats"], "expires_in_days": 0}, "expires_in_days"),
             ({"pages": ["stats"], "expires_in_days": 366}, "expires_in_days"),
             ({"pages": ["stats"], "expires_in_days": "7"}, "expires_in_days"),
             ({"pages": ["stats"], "expires_in_days": 1.5}, "expires_in_days"),
             ({"pages": ["stats"], "label": ""}, "label"),
             ({"pages": ["stats"], "label": "x" * 101}, "label"),
             ({"pages": ["stats"], "label": 5}, "label")]
    for body, field in cases:
        r = alice.post("/api/shares", json=body)
        assert r.status == 400, (body, r)
        assert r.json()["error"]["message"].startswith(field), (body, r.json())
    r = alice.post("/api/shares", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    for bad in ("abc", "0", "-1", "1x"):
        r = alice.request("DELETE", f"/api/shares/{bad}")
        assert r.status == 400 and r.json()["error"]["message"].startswith("id"), (bad, r)
    assert alice.get("/api/shares").json() == {"shares": []}
    # the owner routes need the session
    assert env.anon.get("/api/shares").status == 401
    assert env.anon.post("/api/shares", json={"pages": ["stats"]}).status == 401


def test_rate_limit_then_recovery(db, tmp_path):
    e = Env(db, tmp_path, env=dict(KT_ENV, KEEPTRACK_SHARE_BURST="3",
                                   KEEPTRACK_SHARE_RATE_PER_MIN="30"))
    try:
        token = e.alice.post("/api/shares", json={"pages": ["stats"]}).json()["token"]
        codes = [e.anon.get(f"/api/public/{token}/stats").status for _ in range(3)]
        assert codes == [200, 200, 200]
        r = e.anon.get(f"/api/public/{token}/stats")
        assert r.status == 429, r
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= 2
        assert r.json()["error"]["code"] == "rate_limited"
        # guessing other tokens from the same address is limited as well
        assert e.anon.get(f"/api/public/{'C' * 43}").status == 429
        # Retry-After is the contract: past it, reads work again
        deadline = time.monotonic() + retry + 5
        time.sleep(retry)
        while True:
            r = e.anon.get(f"/api/public/{token}/stats")
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(float(r.headers.get("Retry-After", "1")))
        assert r.status == 200, r
        # the owner's own routes are not limited by it
        assert all(e.alice.get("/api/stats/library").status == 200 for _ in range(5))
    finally:
        e.close()

"""True shuffle, shared Liked Songs, delete-all and shuffle statistics
(issue 6), end to end against spotify-emulator, on SQLite and PostgreSQL:

- the output holds exactly the source's multiset (duplicates and episodes
  kept) minus the local files, which are reported (emulator truth);
- spread: adjacent same-artist pairs equal the minimum the source allows;
- a 10,000-song Liked Songs shuffle spends 1 create + 100 adds (emulator
  counters), after one incremental read;
- re-shuffling replaces (same playlist id, new order), --new makes another;
- POST /api/shuffle runs as a job (202 -> done) on a playlist source;
- DELETE /api/shuffle removes more than 50 shuffled playlists (every page),
  with ceil(n/40) DELETE /me/library requests; extended mode uses
  /users/{id}/playlists and /followers;
- mid-way faults: a lost answer (truncated body) and 5xx are reconciled
  without duplicates; failures that outlast the retries remove the playlist;
- share Liked Songs, then share again updates the same playlist;
- GET /api/stats/shuffles counts shuffles, tracks, users, top tracks.
"""
import collections
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402

KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_WORKERS": "2",
          "KEEPTRACK_SHUFFLE_NAME": "{source} [{mode}]"}
ALICE = ("alice:liked=150,playlists=3,playlist_items=60-90,followed_playlists=1,albums=0,"
         "shows=1,episodes=0,followed=0,plays=0")
BOB = "bob:liked=20,playlists=1,playlist_items=5"
OUT_RE = re.compile(r'shuffled (\S+) into playlist (\S+) "(.*)": (\d+) tracks(, replaced)?, '
                    r'(\d+) local files not added, (\d+) unavailable, (\d+) requests')


class Env:
    def __init__(self, db, tmp_path, mode="development", users=(ALICE, BOB)):
        args = ["--redirect-uri", "any-loopback", "--mode", mode]
        for u in users:
            args += ["--user", u]
        self.emu = Emulator(args).start()
        self.kt = ktlib.Keeptrack(self.emu, db, tmp_path, env=KT_ENV).start()
        self.browser = self.kt.login("alice")

    def close(self):
        rc = self.kt.stop()
        self.emu.stop()
        assert rc == 0, self.kt.log()

    def shuffle(self, *args, ok=True):
        r = self.kt.cli("shuffle", "--user", "1", *args, timeout=300)
        if ok:
            assert r.returncode == 0, (r.stdout, r.stderr, self.kt.log()[-3000:])
            m = OUT_RE.search(r.stdout)
            assert m, r.stdout
            return {"source": m[1], "id": m[2], "name": m[3], "tracks": int(m[4]),
                    "replaced": bool(m[5]), "local": int(m[6]), "unavailable": int(m[7]),
                    "requests": int(m[8])}
        return r

    def truth(self, sections="liked,playlists"):
        return self.emu.control("GET", f"users/alice/truth?sections={sections}")

    def playlist(self, pid):
        for p in self.truth("playlists")["playlists"]:
            if p["id"] == pid:
                return p
        return None

    def endpoint_count(self, name):
        e = self.emu.stats()["endpoints"].get(name)
        return e["count"] if e else 0


@pytest.fixture
def env(db, tmp_path):
    e = Env(db, tmp_path)
    yield e
    e.close()


def item_of(entry):
    return entry.get("item", entry.get("track"))


def uri_of(entry):
    t = item_of(entry)
    return t["uri"] if t else None


def is_local(uri):
    return uri is not None and uri.startswith("spotify:local:")


def first_artist(entry):
    t = item_of(entry)
    if t.get("type") == "episode":
        return "s:" + t["show"]["id"]
    return "a:" + t["artists"][0]["id"]


def min_pairs(labels):
    if not labels:
        return 0
    c = max(collections.Counter(labels).values())
    return max(0, 2 * c - len(labels) - 1)


def adjacent_pairs(labels):
    return sum(1 for a, b in zip(labels, labels[1:]) if a == b)


def out_uris(env, pid):
    p = env.playlist(pid)
    assert p is not None, f"playlist {pid} is not in alice's library"
    return [uri_of(e) for e in p["items"]]


# ---- the output is exactly the source ----

@pytest.mark.parametrize("mode", ["uniform", "spread"])
def test_liked_shuffle_is_the_source_multiset(env, mode):
    res = env.shuffle("--source", "liked", "--mode", mode)
    liked = env.truth("liked")["liked"]
    src = [uri_of(e) for e in liked]
    local = [u for u in src if is_local(u)]
    want = [u for u in src if not is_local(u)]
    got = out_uris(env, res["id"])
    assert collections.Counter(got) == collections.Counter(want)
    assert res["tracks"] == len(want) and res["local"] == len(local)
    assert res["name"] == f"Liked Songs [{mode}]"
    p = env.playlist(res["id"])
    assert p["public"] is False and "keeptrack" in p["description"]
    assert got != want  # 150! orders: the identity means no shuffle happened
    if mode == "spread":
        by_uri = {uri_of(e): first_artist(e) for e in liked if not is_local(uri_of(e))}
        labels = [by_uri[u] for u in got]
        assert adjacent_pairs(labels) == min_pairs(labels)


def test_playlist_shuffle_job_keeps_duplicates_and_episodes(env):
    t = env.truth("playlists")["playlists"]
    owned = [p for p in t if p["items"] is not None]
    src = owned[0]
    # a duplicate and an episode-free duplicate run: add an existing track twice more
    dup = next(uri_of(e) for e in src["items"] if uri_of(e) and not is_local(uri_of(e)))
    env.emu.mutate("alice", op="playlist_add", playlist=src["id"], uris=[dup, dup])
    r = env.browser.post("/api/shuffle", json={"source": src["id"], "mode": "spread"})
    assert r.status == 202, r
    job = r.json()
    assert job["kind"] == "shuffle" and r.location == f"/api/jobs/{job['id']}"
    done = ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            env.browser.get(f"/api/jobs/{job['id']}").json()), timeout=60, what="shuffle job")
    assert done["state"] == "done", done
    pid = re.search(r"playlist (\S+),", done["message"])[1]
    items = env.playlist(src["id"])["items"]
    want = [uri_of(e) for e in items if uri_of(e) is not None and not is_local(uri_of(e))]
    assert want.count(dup) >= 3
    assert collections.Counter(out_uris(env, pid)) == collections.Counter(want)
    n_local = sum(1 for e in items if is_local(uri_of(e)))
    assert f"{n_local} local files not added" in done["message"]


def test_shuffle_bad_parameters(env):
    b = env.browser
    assert b.post("/api/shuffle", json={"mode": "uniform"}).json()["error"]["code"] == "bad_source"
    r = b.post("/api/shuffle", json={"source": "liked", "mode": "random"})
    assert r.status == 400 and "mode" in r.json()["error"]["message"]
    r = b.post("/api/shuffle", json={"source": "../x", "mode": "uniform"})
    assert r.status == 400 and "source" in r.json()["error"]["message"]
    r = b.post("/api/shuffle", json={"source": "liked", "new": "yes"})
    assert r.status == 400 and "new" in r.json()["error"]["message"]
    r = b.post("/api/shuffle", json={"source": "liked", "name": "x" * 500})
    assert r.status == 400 and "name" in r.json()["error"]["message"]
    assert env.kt.client().post("/api/shuffle", json={"source": "liked"}).status == 401
    assert env.kt.client().get("/api/stats/shuffles").status == 401
    r = env.shuffle("--source", "NoSuchPlaylist1", ok=False)
    assert r.returncode == 1 and "not in your library" in r.stderr


# ---- re-shuffle, --new ----

def test_reshuffle_replaces_then_new_makes_another(env):
    a = env.shuffle("--source", "liked")
    first = out_uris(env, a["id"])
    b = env.shuffle("--source", "liked", "--mode", "spread")
    assert b["id"] == a["id"] and b["replaced"]
    second = out_uris(env, b["id"])
    assert collections.Counter(second) == collections.Counter(first) and second != first
    assert env.playlist(a["id"])["items_total"] == len(first)  # replaced, not appended
    c = env.shuffle("--source", "liked", "--new")
    assert c["id"] != a["id"] and not c["replaced"]
    d = env.shuffle("--source", "liked")
    assert d["id"] == c["id"]  # the newest output is the one replaced


# ---- request counts at 10,000 ----

def test_10k_liked_spends_one_create_and_100_adds(db, tmp_path):
    e = Env(db, tmp_path, users=("alice:liked=10000,playlists=0,albums=0,shows=0,episodes=0,"
                                 "followed=0,plays=0",))
    try:
        r = e.kt.cli("sync", "--user", "1", "liked", timeout=300)
        assert r.returncode == 0, r.stderr
        e.emu.control("POST", "stats/reset")
        res = e.shuffle("--source", "liked")
        assert e.endpoint_count("POST /v1/me/playlists") == 1
        assert e.endpoint_count("POST /v1/playlists/{id}/items") == 100
        assert e.endpoint_count("PUT /v1/playlists/{id}/items") == 0
        assert e.endpoint_count("GET /v1/me/tracks") == 1  # the incremental check
        assert res["requests"] == 101
        liked = [uri_of(x) for x in e.truth("liked")["liked"]]
        want = [u for u in liked if not is_local(u)]
        assert collections.Counter(out_uris(e, res["id"])) == collections.Counter(want)
    finally:
        e.close()


# ---- delete all ----

def test_delete_removes_more_than_50(env):
    ids = {env.shuffle("--source", "liked", "--new")["id"] for _ in range(60)}
    assert len(ids) == 60
    before = len(env.truth("playlists")["playlists"])
    assert before >= 60 + 3
    env.emu.control("POST", "stats/reset")
    r = env.browser.request("DELETE", "/api/shuffle")
    assert r.status == 200, r
    assert r.json()["deleted"] == 60
    left = {p["id"] for p in env.truth("playlists")["playlists"]}
    assert not (ids & left) and len(left) == before - 60
    assert env.endpoint_count("DELETE /v1/me/library") == 2  # ceil(60 / 40)
    stats = env.browser.get("/api/stats/shuffles").json()
    assert all(p["status"] == "deleted" for p in stats["mine"]["playlists"])
    r = env.browser.request("DELETE", "/api/shuffle")
    assert r.json()["deleted"] == 0


def test_extended_mode_creates_and_deletes_through_users_and_followers(db, tmp_path):
    e = Env(db, tmp_path, mode="extended")
    try:
        ids = [e.shuffle("--source", "liked", "--new")["id"] for _ in range(3)]
        assert e.endpoint_count("POST /v1/users/{id}/playlists") == 3
        assert e.endpoint_count("POST /v1/me/playlists") == 0
        r = e.browser.request("DELETE", "/api/shuffle")
        assert r.status == 200 and r.json()["deleted"] == 3, r
        assert e.endpoint_count("DELETE /v1/playlists/{id}/followers") == 3
        left = {p["id"] for p in e.truth("playlists")["playlists"]}
        assert not set(ids) & left
    finally:
        e.close()


# ---- faults mid-way ----

def test_lost_answer_and_5xx_are_reconciled_without_duplicates(env):
    want = [u for u in (uri_of(x) for x in env.truth("liked")["liked"]) if not is_local(u)]
    # The add's answer is cut short after the emulator applied it: no duplicate.
    env.emu.set_faults(truncate_rate=1, only="POST /v1/playlists/{id}/items", count=1)
    a = env.shuffle("--source", "liked")
    assert collections.Counter(out_uris(env, a["id"])) == collections.Counter(want)
    # Two failed adds (not applied): resumed, every track once.
    env.emu.set_faults(fail_rate=1, only="POST /v1/playlists/{id}/items", count=2)
    b = env.shuffle("--source", "liked", "--new")
    assert collections.Counter(out_uris(env, b["id"])) == collections.Counter(want)


def test_failure_that_outlasts_retries_removes_the_playlist(env):
    env.emu.set_faults(fail_rate=1, only="POST /v1/playlists/{id}/items", count=1000)
    before = {p["id"] for p in env.truth("playlists")["playlists"]}
    r = env.shuffle("--source", "liked", ok=False)
    env.emu.set_faults(reset=True)
    assert r.returncode == 1
    assert "removed" in r.stderr, r.stderr
    after = {p["id"] for p in env.truth("playlists")["playlists"]}
    assert after == before  # the half-made playlist is gone
    assert env.endpoint_count("POST /v1/me/playlists") == 1
    stats = env.browser.get("/api/stats/shuffles").json()
    assert stats["mine"]["shuffles"] == 0
    assert [p["status"] for p in stats["mine"]["playlists"]] == ["deleted"]
    # and the next run works
    ok = env.shuffle("--source", "liked")
    assert not ok["replaced"] and ok["tracks"] > 0


# ---- share Liked Songs ----

def wait_job(browser, job_id):
    return ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            browser.get(f"/api/jobs/{job_id}").json()), timeout=60, what="job")


def test_share_liked_in_order_and_reshare_updates(env):
    r = env.browser.post("/api/share/liked", json={"name": "My likes", "public": True})
    assert r.status == 202, r
    job = wait_job(env.browser, r.json()["id"])
    assert job["state"] == "done", job
    pid = re.search(r"playlist (\S+),", job["message"])[1]
    liked = [uri_of(x) for x in env.truth("liked")["liked"]]
    assert out_uris(env, pid) == [u for u in liked if not is_local(u)]
    p = env.playlist(pid)
    assert p["name"] == "My likes" and p["public"] is True
    # like two more songs and unlike one, then share again: same playlist, updated
    other = next(uri_of(x) for x in env.emu.control("GET", "users/bob/truth?sections=liked")
                 ["liked"] if not is_local(uri_of(x)))
    env.emu.mutate("alice", op="like", uri=other)
    env.emu.mutate("alice", op="unlike", uri=liked[-1] if not is_local(liked[-1]) else liked[0])
    r = env.browser.post("/api/share/liked", json={})
    job = wait_job(env.browser, r.json()["id"])
    assert job["state"] == "done" and "(replaced)" in job["message"], job
    assert re.search(r"playlist (\S+),", job["message"])[1] == pid
    liked2 = [uri_of(x) for x in env.truth("liked")["liked"]]
    assert out_uris(env, pid) == [u for u in liked2 if not is_local(u)]
    assert out_uris(env, pid)[0] == other


# ---- statistics ----

def test_stats(env):
    a = env.shuffle("--source", "liked")
    env.shuffle("--source", "liked", "--mode", "spread")
    bob = env.kt.login("bob")
    r = bob.post("/api/shuffle", json={"source": "liked"})
    assert r.status == 202
    assert wait_job(bob, r.json()["id"])["state"] == "done"
    s = env.browser.get("/api/stats/shuffles").json()
    o, mine = s["overall"], s["mine"]
    bob_liked = [u for u in (uri_of(x) for x in env.emu.control(
        "GET", "users/bob/truth?sections=liked")["liked"]) if not is_local(u)]
    assert o["shuffles"] == 3 and o["users"] == 2 and o["sources"] == 2
    assert o["tracks_shuffled"] == 2 * a["tracks"] + len(bob_liked)
    assert mine["shuffles"] == 2 and mine["tracks_shuffled"] == 2 * a["tracks"]
    assert len(o["top_tracks"]) == 10 and o["top_tracks"][0]["times"] >= 2
    assert o["top_artists"] and o["top_artists"][0]["times"] >= o["top_artists"][-1]["times"]
    assert [h["mode"] for h in mine["history"]] == ["spread", "uniform"]
    assert mine["history"][0]["playlist_id"] == a["id"]
    assert mine["playlists"][0]["status"] == "done"
    assert bob.get("/api/stats/shuffles").json()["mine"]["shuffles"] == 1

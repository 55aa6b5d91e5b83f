"""Playlists from top tracks (issue 18, item 2) end to end, on SQLite and
PostgreSQL: POST /api/playlists/from-tops, GET, DELETE, the "fromtops" job
and `keeptrack tops-playlist`.

What the playlist must hold is computed here from the emulator's ground
truth, independently of keeptrack: Spotify's top tracks of a range are the
truth's top lists; the history tops rank the truth's recently played (each
play lasting its track's duration, as keeptrack counts a polled play) plus
the plays of an export imported through the API, by plays (ties by time,
then uri) or by time (ties by plays, then uri) - the rules of
GET /api/stats/tops. Each playlist's items are read from the truth.

- Spotify's short_term top 5 becomes a private playlist of those 5 tracks,
  named by default; the same request again answers the same definition and
  replaces the same playlist (no second playlist is made; a new name is
  kept by the definition, the playlist keeps the name it was made with).
- History by plays and by time over all time and over a custom range; an
  import that changes the ranking, then the same definition again: the same
  playlist now holds the new ranking. The CLI runs a saved definition
  (--id) and saves one (--source), replacing the same playlist.
- Bad input is a 400 naming the field, and saves nothing; another user's
  definition is not found; DELETE removes a definition only.
- The scheduler makes a weekly definition again once its last run is a
  week old (one job, the same playlist) and leaves one without a refresh.
"""
import os
import sys
from collections import Counter

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from stack import SyncedStack  # noqa: E402
from plays import export_record, import_export, iso, parse_ms  # noqa: E402

ALICE = "alice:liked=30,playlists=1,playlist_items=3,albums=0,shows=0,episodes=0,followed=2,plays=50"
BOB = "bob:liked=3,playlists=0,plays=5"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50"}
DAY = 86400000


class Env(SyncedStack):
    def __init__(self, db, tmp_path):
        super().__init__(db, tmp_path, [ALICE, BOB], KT_ENV)
        self.b = self.clients["alice"]
        self.truth = self.emu.truth("alice", ["liked", "recently_played", "top"])
        # the plays keeptrack counts: (at, uri, ms)
        self.plays = [(parse_ms(p["played_at"]), p["track"]["uri"], p["track"]["duration_ms"])
                      for p in self.truth["recently_played"]]

    def import_plays(self, recs):
        """recs: [(at, track, ms)] imported as an export; added to self.plays."""
        import_export(self.b, [export_record(at, t, ms) for at, t, ms in recs])
        self.plays += [(at, t["uri"], ms) for at, t, ms in recs]

    def playlist(self, pid):
        for p in self.emu.truth("alice", ["playlists"])["playlists"]:
            if p["id"] == pid:
                return p["name"], [(e.get("item") or e.get("track"))["uri"] for e in p["items"]]
        return None, None

    def playlist_ids(self):
        return sorted(p["id"] for p in self.emu.truth("alice", ["playlists"])["playlists"])

    def run(self, body):
        """POST the body, wait for its job: (definition, job, playlist id)."""
        r = self.b.post("/api/playlists/from-tops", json=body)
        assert r.status == 202, r
        got = r.json()
        assert got["kind"] == "fromtops" and r.headers.get("Location") == f"/api/jobs/{got['id']}"
        job = ktlib.wait_until(
            lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
                self.b.get(f"/api/jobs/{got['id']}").json()), timeout=60, what="job")
        assert job["state"] == "done", job
        return got["definition"], job, job["message"].split("playlist ")[1].split(",")[0]


@pytest.fixture
def env(db, tmp_path):
    e = Env(db, tmp_path)
    yield e
    e.close()


def expected(plays, by, limit, lo=None, hi=None):
    n, ms = Counter(), Counter()
    for at, uri, d in plays:
        if (lo is None or at >= lo) and (hi is None or at < hi):
            n[uri] += 1
            ms[uri] += d
    if by == "time":
        order = sorted(n, key=lambda u: (-ms[u], -n[u], u.encode()))
    else:
        order = sorted(n, key=lambda u: (-n[u], -ms[u], u.encode()))
    return order[:limit]


def test_spotify_top_tracks(env):
    before = env.playlist_ids()
    d, job, pid = env.run({"source": "spotify", "range": "short_term", "limit": 5})
    want = [t["uri"] for t in env.truth["top"]["short_term"]["tracks"][:5]]
    assert len(want) == 5
    assert env.playlist(pid) == ("Top 5: last 4 weeks", want)
    assert (d["source"], d["range"], d["limit"], d["refresh"], d["by"], d["period"]) == \
        ("spotify", "short_term", 5, "none", None, None)
    assert env.playlist_ids() == sorted(before + [pid])
    # the same ranking again: the same definition, the same playlist replaced
    d2, job, pid2 = env.run({"source": "spotify", "range": "short_term", "limit": 5,
                             "name": "Monthly 5", "refresh": "monthly"})
    assert (d2["id"], pid2) == (d["id"], pid) and "(replaced)" in job["message"], job
    # (the name names a new playlist; Spotify's copy keeps the one it was made with)
    assert env.playlist(pid) == ("Top 5: last 4 weeks", want) and d2["name"] == "Monthly 5"
    assert env.playlist_ids() == sorted(before + [pid])
    # long_term, all 50 asked: what Spotify has, in its order, in another playlist
    d3, job, pid3 = env.run({"source": "spotify", "range": "long_term"})
    assert d3["id"] != d["id"] and d3["limit"] == 50 and pid3 != pid
    assert env.playlist(pid3)[1] == [t["uri"] for t in env.truth["top"]["long_term"]["tracks"][:50]]
    listed = env.b.get("/api/playlists/from-tops").json()["definitions"]
    assert [(x["id"], x["name"], x["refresh"], x["playlist_id"]) for x in listed] == \
        [(d["id"], "Monthly 5", "monthly", pid), (d3["id"], d3["name"], "none", pid3)]
    assert all(x["last_run_at"] for x in listed)


def test_history_tops_replace_the_same_playlist(env):
    liked = [e["track"] for e in env.truth["liked"]]
    end = min(at for at, _, _ in env.plays) // DAY * DAY
    # an export before the polled plays: a few tracks often, lengths varied
    recs = [(end - (i + 1) * 3600000, liked[i % 7], 31000 + 9000 * (i % 5)) for i in range(40)]
    env.import_plays(recs)
    hi = max(at for at, _, _ in env.plays) // DAY * DAY + DAY
    for by in ("plays", "time"):
        d, job, pid = env.run({"source": "history", "by": by, "period": "all", "to": hi,
                               "limit": 10})
        want = expected(env.plays, by, 10)
        assert env.playlist(pid)[1] == want, by
        assert (d["source"], d["by"], d["period"], d["range"]) == ("history", by, "all", None)
    # a custom range: only the imported plays' days
    lo = end - 2 * DAY
    d, job, pid = env.run({"source": "history", "by": "time", "from": iso(lo), "to": iso(end),
                           "limit": 3})
    assert env.playlist(pid)[1] == expected(env.plays, "time", 3, lo, end)
    assert d["period"] == "custom" and d["from"] == iso(lo) and d["to"] == iso(end)

    # the ranking changes; the same definition writes the new one into the same playlist
    body = {"source": "history", "by": "plays", "period": "all", "to": hi, "limit": 10}
    d1, _, pid1 = env.run(body)
    first = env.playlist(pid1)[1]
    env.import_plays([(end - DAY - i * 60000, liked[20], 35000) for i in range(1, 30)])
    d2, job, pid2 = env.run(body)
    assert (d2["id"], pid2) == (d1["id"], pid1) and "(replaced)" in job["message"]
    want = expected(env.plays, "plays", 10)
    assert want[0] == liked[20]["uri"] and want != first
    assert env.playlist(pid1)[1] == want

    # the command line: a saved definition by id, and one saved from options
    r = env.kt.cli("tops-playlist", "--user", "1", "--id", str(d1["id"]))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith(f'top tracks (definition {d1["id"]}) into playlist {pid1} '
                               f'"{d1["name"]}": 10 tracks, replaced'), r.stdout
    assert env.playlist(pid1)[1] == want
    r = env.kt.cli("tops-playlist", "--user", "1", "--source", "history", "--by", "plays",
                   "--period", "all", "--to", str(hi), "--limit", "10")
    assert r.returncode == 0 and f"(definition {d1['id']}) into playlist {pid1} " in r.stdout, \
        (r.stdout, r.stderr)
    r = env.kt.cli("tops-playlist", "--user", "1", "--source", "history", "--limit", "0")
    assert r.returncode == 2 and "--limit" in r.stderr, r.stderr
    r = env.kt.cli("tops-playlist", "--user", "1", "--id", "9999")
    assert r.returncode == 1 and "9999" in r.stderr, r.stderr

    # no plays in the period: the job fails saying so, and writes nothing
    before = env.playlist_ids()
    r = env.b.post("/api/playlists/from-tops", json={"source": "history", "from": 0, "to": 1000})
    assert r.status == 202, r
    job = ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            env.b.get(f"/api/jobs/{r.json()['id']}").json()), timeout=60, what="job")
    assert job["state"] == "failed" and "no plays" in job["error"], job
    assert env.playlist_ids() == before


def test_bad_input_names_the_field(env):
    cases = [
        ({}, "source"),
        ({"source": "radio"}, "source"),
        ({"source": 5}, "source"),
        ({"source": "spotify", "range": "forever"}, "range"),
        ({"source": "spotify", "by": "plays"}, "by"),
        ({"source": "spotify", "period": "month"}, "period"),
        ({"source": "spotify", "from": 0}, "from"),
        ({"source": "history", "range": "short_term"}, "range"),
        ({"source": "history", "by": "skips"}, "by"),
        ({"source": "history", "period": "fortnight"}, "period"),
        ({"source": "history", "from": "yesterday"}, "from"),
        ({"source": "history", "from": 5000, "to": 1000}, "from"),
        ({"source": "history", "period": "custom"}, "from"),
        ({"source": "spotify", "limit": 0}, "limit"),
        ({"source": "spotify", "limit": 101}, "limit"),
        ({"source": "spotify", "limit": "5"}, "limit"),
        ({"source": "spotify", "name": ""}, "name"),
        ({"source": "spotify", "name": "x" * 201}, "name"),
        ({"source": "spotify", "refresh": "daily"}, "refresh"),
    ]
    for body, field in cases:
        r = env.b.post("/api/playlists/from-tops", json=body)
        assert r.status == 400, (body, r)
        assert r.json()["error"]["message"].startswith(field + ":"), (body, r.json())
    r = env.b.post("/api/playlists/from-tops", data=b"[1]",
                   headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert env.b.get("/api/playlists/from-tops").json() == {"definitions": []}
    assert env.b.request("DELETE", "/api/playlists/from-tops/abc").status == 400
    assert env.b.request("DELETE", "/api/playlists/from-tops/77").status == 404

    # another user's definition is not found, and DELETE removes only the definition
    d, _, pid = env.run({"source": "spotify", "range": "medium_term", "limit": 3})
    bob = env.kt.login("bob")
    assert bob.request("DELETE", f"/api/playlists/from-tops/{d['id']}").status == 404
    assert bob.get("/api/playlists/from-tops").json() == {"definitions": []}
    r = env.b.request("DELETE", f"/api/playlists/from-tops/{d['id']}")
    assert r.status == 200 and r.json() == {"id": d["id"], "deleted": True}, r
    assert env.b.get("/api/playlists/from-tops").json() == {"definitions": []}
    assert env.playlist(pid)[1] is not None


def test_scheduled_refresh(db, tmp_path):
    """A weekly definition whose last run is 8 days old is made again by the
    scheduler (one job however many ticks; the same playlist); one without
    a refresh is left alone."""
    year = "31536000"  # the periodic syncs: one period for the whole test
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env={
        **KT_ENV, "KEEPTRACK_SCHEDULER": "on", "KEEPTRACK_SCHEDULER_TICK_S": "1",
        "KEEPTRACK_LOG_LEVEL": "debug", "KEEPTRACK_SYNC_LIBRARY_EVERY_S": year,
        "KEEPTRACK_SYNC_RECENT_EVERY_S": year, "KEEPTRACK_SYNC_TOP_EVERY_S": year,
        "KEEPTRACK_STATS_EVERY_S": "0", "KEEPTRACK_BACKUP_INTERVAL_HOURS": "0",
        "KEEPTRACK_RELEASES_INTERVAL_HOURS": "0"}).start()
    try:
        b = kt.login("alice")

        def fromtops_jobs(n):
            def check():
                jobs = [j for j in b.get("/api/jobs").json()["jobs"] if j["kind"] == "fromtops"]
                return jobs if len(jobs) == n and all(j["state"] == "done" for j in jobs) else None
            return ktlib.wait_until(check, 60, interval=0.1, what=f"{n} fromtops jobs done")
        weekly = b.post("/api/playlists/from-tops", json={"source": "spotify", "range": "short_term",
                                                         "limit": 4, "refresh": "weekly"})
        none = b.post("/api/playlists/from-tops", json={"source": "spotify", "range": "long_term",
                                                       "limit": 2})
        assert weekly.status == 202 and none.status == 202, (weekly, none)
        fromtops_jobs(2)
        defs = {d["id"]: d for d in b.get("/api/playlists/from-tops").json()["definitions"]}
        wid, nid = weekly.json()["definition"]["id"], none.json()["definition"]["id"]
        pid = defs[wid]["playlist_id"]
        playlists = len(emu.truth("alice", ["playlists"])["playlists"])

        db.sql(f"UPDATE fromtops_defs SET last_run_at = last_run_at - {8 * DAY}")
        jobs = fromtops_jobs(3)
        assert sorted(j["params"]["def"] for j in jobs) == sorted([wid, nid, wid])
        after = {d["id"]: d for d in b.get("/api/playlists/from-tops").json()["definitions"]}
        assert after[wid]["playlist_id"] == pid
        assert after[wid]["last_run_at"] >= defs[wid]["last_run_at"]
        assert after[nid]["last_run_at"] < defs[nid]["last_run_at"]  # moved back, not re-run
        top = [t["uri"] for t in emu.truth("alice", ["top"])["top"]["short_term"]["tracks"][:4]]
        items = [p for p in emu.truth("alice", ["playlists"])["playlists"] if p["id"] == pid][0]["items"]
        assert [(e.get("item") or e.get("track"))["uri"] for e in items] == top
        assert len(emu.truth("alice", ["playlists"])["playlists"]) == playlists
        # later ticks: nothing is due any more
        ticks = kt.log().count("scheduler_tick")
        ktlib.wait_until(lambda: kt.log().count("scheduler_tick") >= ticks + 3, 20,
                         what="three more scheduler ticks")
        assert len([j for j in b.get("/api/jobs").json()["jobs"] if j["kind"] == "fromtops"]) == 3
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()[-3000:]

"""Statistics (issue 7) end to end, on SQLite and PostgreSQL.

Every expected value is computed here, independently of keeptrack:
- library stats after a sync + the stats job, from the emulator's ground
  truth (counts, top artists and albums, years, decades, per-month, durations,
  explicit share, local files) and from the emulator's own /v1 answers for
  what keeptrack had to fetch (artist genres; audio features in extended
  mode, absent with the reason in development mode);
- listening stats from a generated export imported through the API
  (listening time, tops by plays and time, the UTC hour x weekday grid,
  per-day timeline, artists heard for the first time);
- tracker points made by the admin route (401 without the token);
- top movement: the emulator cannot vary top lists over days, so after a
  real sync of today's top items the previous day's snapshot is written
  directly into top_items (tests/unit/stats covers the store side);
- bad parameters -> 400 naming them; the aggregate equals its parts.
"""
import calendar
import json
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402

ADMIN = "stats-admin-token-0123456789"
ALICE = ("alice:liked=70,playlists=3,playlist_items=5-20,followed_playlists=1,albums=2,shows=1,"
         "episodes=1,followed=12,plays=30")
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_ADMIN_TOKEN": ADMIN,
          "KEEPTRACK_JOB_POLL_MS": "50"}
FEATURES = ["acousticness", "danceability", "energy", "instrumentalness", "liveness", "loudness",
            "speechiness", "tempo", "valence"]


def start(db, tmp_path, mode="development"):
    emu = Emulator(["--redirect-uri", "any-loopback", "--mode", mode, "--user", ALICE,
                    "--user", "bob:liked=3,playlists=1,playlist_items=2"]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    return emu, kt


@pytest.fixture
def dev(db, tmp_path):
    emu, kt = start(db, tmp_path)
    yield emu, kt, kt.login("alice")
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()[-3000:]


def sync(kt, *what):
    r = kt.cli("sync", "--user", "1", *what, timeout=300)
    assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])


def run_stats_job(browser):
    r = browser.post("/api/stats/refresh")
    assert r.status == 202, r
    job_id = r.json()["id"]

    def done():
        j = browser.get(f"/api/jobs/{job_id}").json()
        return j if j["state"] in ("done", "failed") else None
    job = ktlib.wait_until(done, 60, interval=0.05, what="the stats job")
    assert job["state"] == "done", job
    return job


def bkey(s):
    """Byte order, as keeptrack breaks ties."""
    return (s or "").encode()


def is_local(t):
    return t.get("is_local") or t["uri"].startswith("spotify:local:")


# ---------------------------------------------------------------- library

def expected_library(truth, artist_objs, features):
    liked = [e["track"] for e in truth["liked"]]
    n = len(liked)
    exp = {"tracks": n, "local_files": sum(1 for t in liked if is_local(t))}
    exp["explicit"] = sum(1 for t in liked if t.get("explicit"))
    durations = [t["duration_ms"] for t in liked]
    exp["total_ms"] = sum(durations)
    exp["average_ms"] = sum(durations) // n
    real = [t for t in liked if not is_local(t)]
    per_artist = Counter(a["id"] for t in real for a in t["artists"])
    names = {a["id"]: a["name"] for t in real for a in t["artists"]}
    exp["artists"] = len(per_artist)
    exp["top_artists"] = [(i, per_artist[i]) for i in sorted(
        per_artist, key=lambda i: (-per_artist[i], bkey(names[i]), bkey(i)))[:10]]
    per_album = Counter(t["album"]["id"] for t in real)
    anames = {t["album"]["id"]: t["album"]["name"] for t in real}
    exp["albums"] = len(per_album)
    exp["top_albums"] = [(i, per_album[i]) for i in sorted(
        per_album, key=lambda i: (-per_album[i], bkey(anames[i]), bkey(i)))[:10]]
    years = Counter(int(t["album"]["release_date"][:4]) for t in real)
    exp["release_years"] = [{"year": y, "tracks": years[y]} for y in sorted(years)]
    dec = Counter()
    for y, c in years.items():
        dec[y // 10 * 10] += c
    exp["decades"] = [{"decade": d, "tracks": dec[d]} for d in sorted(dec)]
    months = Counter(e["added_at"][:7] for e in truth["liked"])
    exp["added_per_month"] = [{"month": m, "tracks": months[m]} for m in sorted(months)]
    order = sorted(liked, key=lambda t: (-t["duration_ms"], bkey(t["uri"])))
    exp["longest"] = [(t["uri"], t["duration_ms"]) for t in order[:10]]
    order = sorted(liked, key=lambda t: (t["duration_ms"], bkey(t["uri"])))
    exp["shortest"] = [(t["uri"], t["duration_ms"]) for t in order[:10]]
    # genres: per genre, liked tracks (once) and artists carrying it
    g_tracks, g_artists = Counter(), defaultdict(set)
    for t in real:
        seen = set()
        for a in t["artists"]:
            for g in artist_objs[a["id"]]["genres"]:
                g_artists[g].add(a["id"])
                if g not in seen:
                    seen.add(g)
                    g_tracks[g] += 1
    exp["genres"] = sorted(({"genre": g, "tracks": g_tracks[g], "artists": len(g_artists[g])}
                            for g in g_tracks), key=lambda x: (-x["tracks"], bkey(x["genre"])))[:50]
    if features is not None:
        fs = [features[t["id"]] for t in real if features.get(t["id"])]
        exp["features_n"] = len(fs)
        exp["averages"] = {k: sum(f[k] for f in fs) / len(fs) for k in FEATURES}
        exp["keys"] = [sum(1 for f in fs if f["key"] == k) for k in range(12)]
        exp["modes"] = {"major": sum(1 for f in fs if f["mode"] == 1),
                        "minor": sum(1 for f in fs if f["mode"] != 1)}
    return exp


def emulator_artists_and_features(emu, truth, extended):
    tok = emu.login("alice")["access_token"]
    ids = sorted({a["id"] for e in truth["liked"] if not is_local(e["track"])
                  for a in e["track"]["artists"]})
    artists = {}
    for i in ids:
        r = emu.api("GET", f"/artists/{i}", token=tok)
        assert r.status == 200, r
        artists[i] = r.json()
    features = None
    if extended:
        tids = [e["track"]["id"] for e in truth["liked"] if not is_local(e["track"])]
        features = {}
        for k in range(0, len(tids), 100):
            r = emu.api("GET", "/audio-features?ids=" + ",".join(tids[k:k + 100]), token=tok)
            assert r.status == 200, r
            for tid, f in zip(tids[k:k + 100], r.json()["audio_features"]):
                features[tid] = f
    return artists, features


@pytest.mark.parametrize("mode", ["development", "extended"])
def test_library_stats(db, tmp_path, mode):
    emu, kt = start(db, tmp_path, mode)
    try:
        browser = kt.login("alice")
        sync(kt, "liked")
        before = browser.get("/api/stats/library").json()
        assert before["genres"]["available"] is False
        assert "not been fetched yet" in before["genres"]["reason"]
        assert "not been fetched yet" in before["audio_features"]["reason"]
        sync(kt, "top,following")
        job = run_stats_job(browser)
        assert "done:" in job["message"]
        lib = browser.get("/api/stats/library")
        assert lib.status == 200, lib
        lib = lib.json()
        truth = emu.truth("alice", ["liked"])
        artists, features = emulator_artists_and_features(emu, truth, mode == "extended")
        exp = expected_library(truth, artists, features)
        assert lib["tracks"] == exp["tracks"]
        assert lib["local_files"] == exp["local_files"]  # the emulator likes no local files: unit-tested
        assert lib["artists"] == exp["artists"]
        assert lib["albums"] == exp["albums"]
        assert lib["duration"]["total_ms"] == exp["total_ms"]
        assert lib["duration"]["average_ms"] == exp["average_ms"]
        assert [(t["uri"], t["duration_ms"]) for t in lib["duration"]["longest"]] == exp["longest"]
        assert [(t["uri"], t["duration_ms"]) for t in lib["duration"]["shortest"]] == exp["shortest"]
        assert lib["explicit"]["count"] == exp["explicit"]
        assert math.isclose(lib["explicit"]["share"], exp["explicit"] / exp["tracks"])
        assert [(a["id"], a["tracks"]) for a in lib["top_artists"]] == exp["top_artists"]
        for a in lib["top_artists"]:  # images fetched by the stats job
            assert a["image_url"] == artists[a["id"]]["images"][0]["url"]
            assert a["uri"] == "spotify:artist:" + a["id"]
        assert [(a["id"], a["tracks"]) for a in lib["top_albums"]] == exp["top_albums"]
        assert all(a["image_url"] for a in lib["top_albums"])
        assert lib["release_years"] == exp["release_years"]
        assert lib["decades"] == exp["decades"]
        assert lib["added_per_month"] == exp["added_per_month"]
        g = lib["genres"]
        assert g["artists_total"] == g["artists_checked"] == len(artists)
        assert g["items"] == exp["genres"]
        if mode == "extended":
            assert g["available"] is True and len(g["items"]) > 0
            af = lib["audio_features"]
            assert af["available"] is True
            assert af["tracks"] == exp["features_n"] > 0
            for k in FEATURES:
                assert math.isclose(af["averages"][k], exp["averages"][k], rel_tol=1e-12), k
            assert [k["tracks"] for k in af["keys"]] == exp["keys"]
            assert af["modes"] == exp["modes"]
        else:
            assert g["available"] is False and g["items"] == []
            assert "development mode" in g["reason"]
            assert lib["audio_features"]["available"] is False
            assert "development mode" in lib["audio_features"]["reason"]
            assert emu.count("GET /v1/audio-features") == 0
        # a second run fetches nothing again (TTL), the answer is unchanged
        n_artists = emu.count("GET /v1/artists/{id}")
        run_stats_job(browser)
        assert emu.count("GET /v1/artists/{id}") == n_artists
        assert browser.get("/api/stats/library").json() == lib
    finally:
        rc = kt.stop()
        emu.stop()
        assert rc == 0, kt.log()[-3000:]


# ---------------------------------------------------------------- listening

BASE_S = 1704067200  # 2024-01-01T00:00:00Z, a Monday


def iso(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def gen_plays(n=400, seed=5):
    rnd = random.Random(seed)
    recs, t = [], BASE_S
    for _ in range(n):
        t += rnd.randint(600, 9000)
        tid = rnd.randrange(40)
        recs.append({"ts": iso(t), "ms_played": rnd.randint(30000, 300000),
                     "master_metadata_track_name": f"Song {tid}",
                     "master_metadata_album_artist_name": f"Artist {tid % 9}",
                     "master_metadata_album_album_name": f"Album {tid % 13}",
                     "spotify_track_uri": "spotify:track:st%020d" % tid})
    return recs


def expected_listening(recs, lo, hi, limit=10):
    def sec(r):
        return calendar.timegm(time.strptime(r["ts"], "%Y-%m-%dT%H:%M:%SZ"))
    inr = [r for r in recs if lo <= sec(r) < hi]
    exp = {"plays": len(inr), "ms": sum(r["ms_played"] for r in inr),
           "tracks": len({r["spotify_track_uri"] for r in inr}),
           "artists": len({r["master_metadata_album_artist_name"] for r in inr})}

    def tops(key, by_time):
        plays, ms = Counter(), Counter()
        for r in inr:
            plays[key(r)] += 1
            ms[key(r)] += r["ms_played"]
        if by_time:
            order = sorted(plays, key=lambda k: (-ms[k], -plays[k], bkey(str(k))))
        else:
            order = sorted(plays, key=lambda k: (-plays[k], -ms[k], bkey(str(k))))
        return [(k, plays[k], ms[k]) for k in order[:limit]]
    exp["tracks_by_plays"] = tops(lambda r: r["spotify_track_uri"], False)
    exp["tracks_by_time"] = tops(lambda r: r["spotify_track_uri"], True)
    exp["artists_by_plays"] = tops(lambda r: r["master_metadata_album_artist_name"], False)
    exp["artists_by_time"] = tops(lambda r: r["master_metadata_album_artist_name"], True)
    grid = [[0] * 24 for _ in range(7)]
    days = Counter()
    for r in inr:
        s = int(sec(r))
        grid[(s // 86400 + 4) % 7][(s // 3600) % 24] += 1
        days[r["ts"][:10]] += 1
    exp["grid"] = grid
    exp["days"] = sorted(days.items())
    first = {}
    for r in sorted(recs, key=sec):
        first.setdefault(r["master_metadata_album_artist_name"], r["ts"])
    exp["first_heard"] = sorted(((a, ts) for a, ts in first.items()
                                 if lo <= calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) < hi), key=lambda x: (x[1], bkey(x[0])))
    return exp


def test_listening_stats(dev, db):
    emu, kt, browser = dev
    recs = gen_plays()
    r = browser.post("/api/history/import?name=Streaming_History_Audio_2024_0.json",
                     data=json.dumps(recs).encode(), headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    assert r.json()["imported"] == len(recs)
    lo, hi = BASE_S + 5 * 86400, BASE_S + 20 * 86400
    got = browser.get(f"/api/stats/listening?from={iso(lo)}&to={hi * 1000}")
    assert got.status == 200, got
    got = got.json()
    exp = expected_listening(recs, lo, hi)
    assert got["timezone"] == "UTC"
    assert got["from"] == iso(lo) and got["to"] == iso(hi)
    assert got["plays"] == exp["plays"] > 50
    assert got["listening_ms"] == exp["ms"]
    assert got["distinct_tracks"] == exp["tracks"]
    assert got["distinct_artists"] == exp["artists"]
    for key, name in (("top_tracks", "tracks"), ("top_artists", "artists")):
        for by in ("by_plays", "by_time"):
            ident = "uri" if name == "tracks" else "name"
            assert [(x[ident], x["plays"], x["ms"]) for x in got[key][by]] == \
                exp[f"{name}_{by}"], (key, by)
    t0 = got["top_tracks"]["by_plays"][0]
    n = int(t0["uri"][-20:])
    assert (t0["name"], t0["artist"], t0["album"]) == (f"Song {n}", f"Artist {n % 9}",
                                                       f"Album {n % 13}")
    assert got["weekday_hour"]["weekdays"][0] == "Sunday"
    assert got["weekday_hour"]["plays"] == exp["grid"]
    assert [(d["day"], d["plays"]) for d in got["per_day"]] == exp["days"]
    assert [(a["artist"], a["first_played_at"]) for a in got["first_heard"]["items"]] == \
        exp["first_heard"]
    assert got["first_heard"]["total"] == len(exp["first_heard"])
    # everything: the whole history
    whole = browser.get("/api/stats/listening?limit=3").json()
    assert whole["plays"] == len(recs)
    assert len(whole["top_tracks"]["by_plays"]) == 3
    assert whole["first_heard"]["total"] == len({r["master_metadata_album_artist_name"] for r in recs})


# ---------------------------------------------------------------- trackers

def test_trackers_admin_route(dev, db):
    emu, kt, browser = dev
    kt.login("bob")
    sync(kt, "liked,playlists,following,recent")
    other = kt.client()
    assert other.post("/api/admin/trackers/update").status == 401
    r = other.post("/api/admin/trackers/update", headers={"Authorization": "Bearer wrong-token-0000000000"})
    assert r.status == 401
    today = time.strftime("%Y-%m-%d", time.gmtime())
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    # an earlier point, so today's change is exact
    db.sql("INSERT INTO tracker_points (user_id, day, liked, playlists, followed, plays, "
           f"plays_total, recorded_at) VALUES (1, '{yesterday}', 60, 1, 1, 0, 0, 1)")
    r = other.post("/api/admin/trackers/update", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 200, r
    assert r.json() == {"day": today, "points": 2}
    truth = emu.truth("alice", ["liked", "playlists", "followed_artists"])
    day_start = calendar.timegm(time.strptime(today, "%Y-%m-%d")) * 1000
    plays_today = int(db.sql(f"SELECT COUNT(*) FROM plays WHERE user_id = 1 AND played_at >= {day_start} "
                             f"AND played_at < {day_start + 86400000}")[0][0])
    plays_total = int(db.sql("SELECT COUNT(*) FROM plays WHERE user_id = 1")[0][0])
    assert plays_total > 0
    got = browser.get(f"/api/stats/tracker?name=liked&from={yesterday}&to={today}").json()
    assert got["name"] == "liked" and got["from"] == yesterday and got["to"] == today
    assert got["points"] == [{"day": yesterday, "value": 60, "change": None},
                             {"day": today, "value": len(truth["liked"]),
                              "change": len(truth["liked"]) - 60}]
    expect = {"playlists": len(truth["playlists"]), "followed": len(truth["followed_artists"]),
              "plays": plays_today}
    for name, value in expect.items():
        pts = browser.get(f"/api/stats/tracker?name={name}").json()["points"]
        assert pts[-1] == {"day": today, "value": value}, name
    allp = browser.get("/api/stats/tracker").json()["points"][-1]
    assert allp["plays_total"] == plays_total
    # bob sees only his own points
    bob = kt.login("bob")
    assert [p["day"] for p in bob.get("/api/stats/tracker").json()["points"]] == [today]
    # the trackers job kind does the same for one user (what the scheduler enqueues)
    assert browser.get("/api/stats/tracker?name=bogus").status == 400


def test_trackers_scheduled(db, tmp_path):
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", "alice:liked=4,playlists=1"]).start()
    env = dict(KT_ENV, KEEPTRACK_SCHEDULER="on", KEEPTRACK_SCHEDULER_TICK_S="1",
               KEEPTRACK_SYNC_LIBRARY_EVERY_S="0", KEEPTRACK_SYNC_RECENT_EVERY_S="0",
               KEEPTRACK_SYNC_TOP_EVERY_S="0", KEEPTRACK_BACKUP_INTERVAL_HOURS="0",
               KEEPTRACK_RELEASES_INTERVAL_HOURS="0")
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=env).start()
    try:
        browser = kt.login("alice")

        def done():
            jobs = browser.get("/api/jobs").json()["jobs"]
            kinds = sorted(j["kind"] for j in jobs if j["state"] == "done")
            return jobs if kinds == ["stats", "trackers"] else None
        ktlib.wait_until(done, 30, interval=0.1, what="the scheduled trackers and stats jobs")
        pts = browser.get("/api/stats/tracker?name=liked").json()["points"]
        assert pts == [{"day": time.strftime("%Y-%m-%d", time.gmtime()), "value": 0,
                        "change": None}]  # no sync scheduled: nothing liked locally yet
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]
        emu.stop()


# ---------------------------------------------------------------- top movement

def test_top_movement(dev, db):
    emu, kt, browser = dev
    sync(kt, "top")
    today = browser.get("/api/top/tracks?range=short_term").json()
    ranks = [i["track"]["uri"] for i in today["items"]]
    assert len(ranks) >= 6
    day = today["day"]
    prev_day = time.strftime("%Y-%m-%d", time.gmtime(
        calendar.timegm(time.strptime(day, "%Y-%m-%d")) - 86400))
    # yesterday: today's #1 was #3, #3 was #1, #5 was absent, and a track dropped since
    gone = "spotify:track:" + "0" * 22
    prev = [ranks[2], ranks[1], ranks[0], ranks[3], gone] + ranks[5:]
    for rank, uri in enumerate(prev, 1):
        db.sql("INSERT INTO top_items (user_id, kind, time_range, day, rank, item) VALUES "
               f"(1, 'tracks', 'short_term', '{prev_day}', {rank}, '{uri}')")
    r = browser.get("/api/top/movement?range=short_term")
    assert r.status == 200, r
    m = r.json()
    assert (m["from_day"], m["to_day"], m["kind"]) == (prev_day, day, "tracks")
    assert [(e["rank"], e["track"]["uri"]) for e in m["new"]] == [(5, ranks[4])]
    assert [(e["rank"], e["previous_rank"], e["change"]) for e in m["climbers"]] == [(1, 3, 2)]
    assert [(e["rank"], e["previous_rank"], e["change"]) for e in m["fallers"]] == [(3, 1, -2)]
    assert [(e["previous_rank"], e["track"]["uri"]) for e in m["dropped"]] == [(5, gone)]
    assert [e["rank"] for e in m["unchanged"]] == [2, 4] + list(range(6, len(ranks) + 1))
    t = m["climbers"][0]["track"]
    truth = emu.truth("alice", ["top"])["top"]["short_term"]["tracks"][0]
    assert t["uri"] == truth["uri"] and t["name"] == truth["name"]
    assert t["artist"] == truth["artists"][0]["name"]
    assert t["artist_uri"] == truth["artists"][0]["uri"]
    assert t["album"] == truth["album"]["name"]
    assert t["release_year"] == int(truth["album"]["release_date"][:4])
    assert t["audio_features"] is None  # development mode
    # an explicit window; the same day on both ends means no movement
    m = browser.get(f"/api/top/movement?range=short_term&from={day}&to={day}").json()
    assert m["new"] == m["climbers"] == m["fallers"] == m["dropped"] == []
    assert browser.get("/api/top/movement?range=long_term&to=2000-01-01").status == 404


# ---------------------------------------------------------------- parameters, aggregate

def test_bad_parameters_and_auth(dev):
    emu, kt, browser = dev
    cases = [("/api/stats/listening?from=yesterday", "from"),
             ("/api/stats/listening?to=2024-13-01", "to"),
             ("/api/stats/listening?limit=0", "limit"),
             ("/api/stats/listening?from=2024-02-01&to=2024-01-01", "from"),
             ("/api/stats/tracker?name=likes", "name"),
             ("/api/stats/tracker?from=2024-1-1", "from"),
             ("/api/stats/tracker?to=tomorrow", "to"),
             ("/api/stats/tracker?from=2024-02-01&to=2024-01-01", "from"),
             ("/api/top/movement?range=forever", "range"),
             ("/api/top/movement?kind=albums", "kind"),
             ("/api/top/movement?from=x", "from"),
             ("/api/top/movement?to=2024-02-30", "to")]
    for path, name in cases:
        r = browser.get(path)
        assert r.status == 400, (path, r)
        assert r.json()["error"]["code"] == "bad_parameter"
        assert r.json()["error"]["message"].startswith(name + ":"), (path, r.json())
    anon = kt.client()
    for path in ("/api/stats/library", "/api/stats/listening", "/api/stats/tracker",
                 "/api/stats/aggregate", "/api/top/movement"):
        assert anon.get(path).status == 401, path
    assert anon.post("/api/stats/refresh").status in (401, 403)


def test_aggregate(dev):
    emu, kt, browser = dev
    sync(kt, "liked,top,following,recent")
    run_stats_job(browser)
    r = kt.client().post("/api/admin/trackers/update", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 200
    agg = browser.get("/api/stats/aggregate")
    assert agg.status == 200, agg
    agg = agg.json()
    assert agg["library"] == browser.get("/api/stats/library").json()
    assert agg["trackers"]["points"] == browser.get("/api/stats/tracker").json()["points"][-30:]
    for rng in ("short_term", "medium_term", "long_term"):
        assert agg["top_movement"][rng] == browser.get(f"/api/top/movement?range={rng}").json()
        assert agg["top_movement"][rng]["from_day"] is None  # one snapshot: everything new
    lst = agg["listening"]
    assert lst["plays"] == int(kt.db.sql("SELECT COUNT(*) FROM plays WHERE user_id = 1 AND played_at >= "
                                         f"{(int(time.time()) // 86400 - 29) * 86400000}")[0][0])
    assert len(lst["top_tracks"]["by_plays"]) <= 5

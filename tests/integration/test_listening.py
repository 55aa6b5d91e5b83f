"""The listening dashboard's API (issue 19) end to end, on SQLite and PostgreSQL:
/api/stats/listening/series, /api/stats/tops, the drill-downs
/api/stats/{track,artist,album}/{id} and /api/stats/library/growth.

Every expected figure is computed here from the emulator's ground truth,
independently of keeptrack: the plays keeptrack polled (the truth's
recently_played, each lasting its track's duration, as keeptrack counts a
polled play) plus an export imported through the API that replays truth
tracks over six earlier weeks (its ms_played as given). Names, artists and
albums come from the truth's track objects; playlist and Liked Songs
positions from the truth's collections; Liked Songs over time from each
liked song's added_at.
"""
import calendar
import json
import os
import random
import sys
from collections import Counter, defaultdict

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from plays import export_record, import_export, iso, polled_rows, row  # noqa: E402

ALICE = "alice:liked=60,playlists=4,playlist_items=5-25,followed=4,albums=1,plays=50"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50"}
DAY = 86400000
EXPORTED = 400


def bkey(s):
    return (s or "").encode()


@pytest.fixture
def world(db, tmp_path):
    """keeptrack synced from the emulator, plus an imported export: (emu,
    browser, truth, plays) where plays are the expected rows
    {at, uri, ms, track, artist, artist_id, album, album_id, album_artist}."""
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE,
                    "--user", "bob:liked=3,playlists=1,playlist_items=2,plays=5"]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("alice")
        r = kt.cli("sync", "--user", "1", timeout=300)
        assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
        truth = emu.truth("alice", ["liked", "playlists", "recently_played", "top"])
        plays = polled_rows(truth)
        # Six weeks before the oldest polled play: liked tracks, every hour of
        # the day, a few tracks much more often (so the tops are not ties).
        rnd = random.Random(19)
        liked = [e["track"] for e in truth["liked"]]
        end = min(p["at"] for p in plays) // DAY * DAY
        recs = []
        for i in range(EXPORTED):
            at = end - rnd.randrange(42 * DAY // 1000) * 1000 - 1000
            t = liked[min(int(rnd.expovariate(0.15)), len(liked) - 1)]
            ms = rnd.randint(30000, 240000)
            if at in {p["at"] for p in plays}:
                continue
            plays.append(row(at, t, ms))
            recs.append(export_record(at, t, ms))
        import_export(browser, recs)
        yield emu, browser, truth, plays
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()[-3000:]


def in_range(plays, lo, hi):
    return [p for p in plays if lo <= p["at"] < hi]


def month_start(ms):
    import time
    t = time.gmtime(ms // 1000)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)) * 1000


def next_month(ms):
    import time
    t = time.gmtime(ms // 1000)
    y, m = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return calendar.timegm((y, m, 1, 0, 0, 0)) * 1000


def expected_buckets(plays, lo, hi, bucket):
    """[(start iso, plays, ms)] for every bucket overlapping [lo, hi)."""
    if bucket == "month":
        start, step = month_start(lo), next_month
    else:
        unit = {"hour": 3600000, "day": DAY, "week": 7 * DAY}[bucket]
        # weeks start on Monday; 1970-01-05 was one
        origin = 4 * DAY if bucket == "week" else 0
        start = lo - (lo - origin) % unit

        def step(b):
            return b + unit
    out = []
    while start < hi:
        nxt = step(start)
        sel = in_range(plays, max(start, lo), min(nxt, hi))
        out.append((iso(start), len(sel), sum(p["ms"] for p in sel)))
        start = nxt
    return out


def check_series(browser, plays, query, lo, hi, bucket, previous=True):
    r = browser.get(f"/api/stats/listening/series?{query}")
    assert r.status == 200, r
    got = r.json()
    assert (got["from"], got["to"], got["bucket"]) == (iso(lo), iso(hi), bucket)
    sel = in_range(plays, lo, hi)
    assert got["plays"] == len(sel)
    assert got["ms"] == sum(p["ms"] for p in sel)
    assert got["distinct_tracks"] == len({p["uri"] for p in sel})
    assert [(b["start"], b["plays"], b["ms"]) for b in got["buckets"]] == \
        expected_buckets(plays, lo, hi, bucket)
    if previous:
        prev = in_range(plays, 2 * lo - hi, lo)
        assert got["previous"] == {"from": iso(2 * lo - hi), "to": iso(lo),
                                   "plays": len(prev), "ms": sum(p["ms"] for p in prev)}
    else:
        assert got["previous"] is None
    return got


def test_series(world):
    emu, browser, truth, plays = world
    last = max(p["at"] for p in plays)
    to = (last // DAY + 1) * DAY  # the end of the newest play's day
    got = check_series(browser, plays, f"period=week&to={to}", to - 7 * DAY, to, "day")
    assert got["period"] == "week" and got["plays"] > 0 and len(got["buckets"]) == 7
    check_series(browser, plays, f"period=month&to={to}", to - 30 * DAY, to, "day")
    check_series(browser, plays, f"period=month&to={to}&bucket=week", to - 30 * DAY, to, "week")
    check_series(browser, plays, f"period=year&to={to}&bucket=month", to - 365 * DAY, to, "month")
    check_series(browser, plays, f"period=day&to={iso(to)}", to - DAY, to, "hour")
    first = min(p["at"] for p in plays) // DAY * DAY
    got = check_series(browser, plays, f"period=all&to={to}", first, to, "day", previous=False)
    assert got["plays"] == len(plays) == 50 + EXPORTED
    # a custom range that starts and ends mid-bucket
    lo, hi = first + 5 * DAY + 3600000, first + 19 * DAY + 7200000
    got = check_series(browser, plays, f"from={iso(lo)}&to={hi}&bucket=week", lo, hi, "week")
    assert got["period"] == "custom"


def expected_tops(plays, kind, by, limit):
    key = {"tracks": lambda p: p["uri"], "artists": lambda p: p["artist"],
           "albums": lambda p: (p["album"], p["album_artist"])}[kind]
    n, ms = Counter(), Counter()
    for p in plays:
        n[key(p)] += 1
        ms[key(p)] += p["ms"]

    def tie(k):
        return tuple(bkey(x) for x in k) if isinstance(k, tuple) else bkey(k)
    if by == "time":
        order = sorted(n, key=lambda k: (-ms[k], -n[k], tie(k)))
    else:
        order = sorted(n, key=lambda k: (-n[k], -ms[k], tie(k)))
    total_n, total_ms = len(plays), sum(p["ms"] for p in plays)
    return [(k, n[k], ms[k], (ms[k] / total_ms) if by == "time" else (n[k] / total_n))
            for k in order[:limit]]


def test_tops(world):
    emu, browser, truth, plays = world
    to = (max(p["at"] for p in plays) // DAY + 1) * DAY
    lo = to - 30 * DAY
    for kind in ("tracks", "artists", "albums"):
        for by in ("plays", "time"):
            for query, sel in ((f"period=all&to={to}", plays),
                               (f"period=month&to={to}", in_range(plays, lo, to))):
                r = browser.get(f"/api/stats/tops?kind={kind}&by={by}&limit=15&{query}")
                assert r.status == 200, r
                got = r.json()
                assert (got["kind"], got["by"], got["plays"]) == (kind, by, len(sel))
                assert got["ms"] == sum(p["ms"] for p in sel)
                exp = expected_tops(sel, kind, by, 15)
                ident = {"tracks": lambda x: x["uri"], "artists": lambda x: x["name"],
                         "albums": lambda x: (x["name"], x["artist"])}[kind]
                assert [(ident(x), x["plays"], x["ms"]) for x in got["items"]] == \
                    [e[:3] for e in exp], (kind, by, query)
                assert [x["rank"] for x in got["items"]] == list(range(1, len(exp) + 1))
                for x, e in zip(got["items"], exp):
                    assert x["share"] == pytest.approx(e[3], rel=1e-12)
    # ids link to the drill-downs
    tracks = browser.get(f"/api/stats/tops?kind=tracks&period=all&to={to}").json()["items"]
    assert tracks[0]["id"] == tracks[0]["uri"].split(":")[2]
    artists = browser.get(f"/api/stats/tops?kind=artists&period=all&to={to}").json()["items"]
    byname = {p["artist"]: p["artist_id"] for p in plays}
    assert all(a["id"] == byname[a["name"]] for a in artists)
    albums = browser.get(f"/api/stats/tops?kind=albums&period=all&to={to}").json()["items"]
    byalbum = {p["album"]: p["album_id"] for p in plays}
    assert all(a["id"] == byalbum[a["name"]] for a in albums)


def expected_item(plays, truth, kind, ident):
    field = {"track": "uri", "artist": "artist_id", "album": "album_id"}[kind]
    sel = sorted((p for p in plays if p[field] == ident), key=lambda p: p["at"])
    days = defaultdict(lambda: [0, 0])
    for p in sel:
        d = days[iso(p["at"] // DAY * DAY)[:10]]
        d[0] += 1
        d[1] += p["ms"]

    def matches(t):
        if not t or t.get("type") != "track":
            return False
        if kind == "track":
            return t["uri"] == ident
        if kind == "artist":
            return any(a["id"] == ident for a in t["artists"])
        return t["album"]["id"] == ident
    lists = []
    for pl in truth["playlists"]:
        pos = [i for i, it in enumerate(pl["items"] or []) if matches(it.get("item") or it.get("track"))]
        if pos:
            lists.append((pl["id"], pos))
    liked = [i for i, e in enumerate(truth["liked"]) if matches(e["track"])]
    return {"plays": len(sel), "ms": sum(p["ms"] for p in sel),
            "first": iso(sel[0]["at"]) if sel else None, "last": iso(sel[-1]["at"]) if sel else None,
            "per_day": [(d, v[0], v[1]) for d, v in sorted(days.items())],
            "playlists": lists, "liked": liked}


def test_item_drilldown(world):
    emu, browser, truth, plays = world
    top_track = Counter(p["uri"] for p in plays).most_common(1)[0][0]
    top_artist = Counter(p["artist_id"] for p in plays).most_common(1)[0][0]
    top_album = Counter(p["album_id"] for p in plays).most_common(1)[0][0]
    placed = 0
    for kind, ident in (("track", top_track), ("artist", top_artist), ("album", top_album)):
        sid = ident.split(":")[-1]
        r = browser.get(f"/api/stats/{kind}/{sid}")
        assert r.status == 200, r
        got = r.json()
        exp = expected_item(plays, truth, kind, ident)
        assert (got["kind"], got["id"], got["uri"]) == (kind, sid, f"spotify:{kind}:{sid}")
        assert got["plays"] == exp["plays"] > 0
        assert got["ms"] == exp["ms"]
        # the API gives milliseconds only when the play had them; compare to the second
        assert got["first_play"][:19] == exp["first"][:19]
        assert got["last_play"][:19] == exp["last"][:19]
        assert [(d["day"], d["plays"], d["ms"]) for d in got["per_day"]] == exp["per_day"]
        assert [(pl["spotify_id"], [x["position"] for x in pl["positions"]])
                for pl in got["playlists"]] == exp["playlists"]
        assert got["liked"]["total"] == len(exp["liked"])
        assert [x["position"] for x in got["liked"]["items"]] == exp["liked"]
        assert got["name"]
        placed += len(got["playlists"]) + got["liked"]["total"]
    assert placed > 0  # the comparison above was not only of empty lists
    # rank history: the snapshot the sync stored today
    top = truth["top"]
    t = top["short_term"]["tracks"][0]
    got = browser.get(f"/api/stats/track/{t['id']}").json()
    ranks = {(h["range"], h["rank"]) for h in got["rank_history"]}
    for rng in ("short_term", "medium_term", "long_term"):
        uris = [x["uri"] for x in top[rng]["tracks"]]
        if t["uri"] in uris:
            assert (rng, uris.index(t["uri"]) + 1) in ranks
    assert len(got["rank_history"]) == sum(t["uri"] in [x["uri"] for x in top[r]["tracks"]]
                                           for r in top)
    a = top["long_term"]["artists"][0]
    got = browser.get(f"/api/stats/artist/{a['id']}").json()
    assert ("long_term", 1) in {(h["range"], h["rank"]) for h in got["rank_history"]}
    assert got["name"] == a["name"]


def test_library_growth(world):
    emu, browser, truth, plays = world
    got = browser.get("/api/stats/library/growth").json()
    per_day = Counter(e["added_at"][:10] for e in truth["liked"])
    n, exp = 0, []
    for d in sorted(per_day):
        n += per_day[d]
        exp.append({"day": d, "added": per_day[d], "liked": n})
    assert got["points"] == exp
    assert got["liked"] == len(truth["liked"]) and got["undated"] == 0


def test_bad_parameters(world):
    emu, browser, truth, plays = world
    cases = [("/api/stats/listening/series?period=fortnight", "period"),
             ("/api/stats/listening/series?period=custom", "from"),
             ("/api/stats/listening/series?period=week&from=2025-01-01", "from"),
             ("/api/stats/listening/series?from=2025-02-01&to=2025-01-01", "from"),
             ("/api/stats/listening/series?from=yesterday", "from"),
             ("/api/stats/listening/series?to=2025-13-01", "to"),
             ("/api/stats/listening/series?bucket=minute", "bucket"),
             ("/api/stats/listening/series?period=year&bucket=hour", "bucket"),
             ("/api/stats/tops?kind=songs", "kind"),
             ("/api/stats/tops?by=love", "by"),
             ("/api/stats/tops?limit=0", "limit"),
             ("/api/stats/tops?limit=101", "limit"),
             ("/api/stats/track/not-an-id", "id"),
             ("/api/stats/album/" + "a" * 65, "id")]
    for path, name in cases:
        r = browser.get(path)
        assert r.status == 400, (path, r)
        e = r.json()["error"]
        assert e["code"] == "bad_parameter" and e["message"].startswith(name + ":"), (path, e)
    r = browser.get("/api/stats/artist/0000000000000000000000")
    assert r.status == 404 and r.json()["error"]["code"] == "no_such_item"
    # a track only another user has is not found (the catalog is shared)
    alice_text = json.dumps(emu.truth("alice"))
    theirs = [e["track"] for e in emu.truth("bob", ["liked"])["liked"]
              if e["track"]["uri"] not in alice_text]
    assert theirs
    r = browser.get(f"/api/stats/track/{theirs[0]['id']}")
    assert r.status == 404 and theirs[0]["name"] not in r.text
    anon = ktlib.Http(browser.base_url)
    assert anon.get("/api/stats/tops").status == 401

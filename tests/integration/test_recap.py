"""The yearly recap (issue 18, item 4) end to end, on SQLite and PostgreSQL:
GET /api/stats/recap/years, GET /api/stats/recap?year= and the SVG card
GET /api/stats/recap.svg?year=.

Every expected figure is computed here from the emulator's ground truth,
independently of keeptrack: the plays keeptrack polled (the truth's
recently_played, each lasting its track's duration, as keeptrack counts a
polled play) plus an export imported through the API that spans the two
calendar years before the polled plays. The export plays half of the liked
tracks in the first year and all of them in the second, so the second
year's first listens are exactly the tracks (and artists) the first year
never played; it has a play one second before and one exactly at the New
Year, a streak of daily plays running across the New Year (cut there: a
recap's streak lies inside its year) and a longer one in June. Names come
from the truth's track objects; days and hours are UTC.
"""
import calendar
import json
import os
import random
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
# the dashboard's suite's time helpers: the same ISO forms, parsed the same way
from plays import export_record, import_export, iso, polled_rows, row  # noqa: E402
from test_listening import bkey  # noqa: E402

ALICE = "alice:liked=60,playlists=2,playlist_items=3-8,followed=2,albums=1,plays=50"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50"}
DAY = 86400000
HOUR = 3600000


def year_start(y):
    return calendar.timegm((y, 1, 1, 0, 0, 0)) * 1000


def year_of(ms):
    return time.gmtime(ms // 1000).tm_year


@pytest.fixture
def world(db, tmp_path):
    """keeptrack synced from the emulator plus an imported two-year export:
    (emu, browser, plays, years, kt) where plays are the expected rows {at, uri,
    ms, track, artist, artist_id, album, album_id, album_artist} and years
    the two exported years."""
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE,
                    "--user", "bob:liked=3,playlists=1,playlist_items=2,plays=5"]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("alice")
        r = kt.cli("sync", "--user", "1", timeout=300)
        assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
        truth = emu.truth("alice", ["liked", "recently_played"])
        plays = polled_rows(truth)
        y2 = year_of(min(p["at"] for p in plays)) - 1
        y1 = y2 - 1
        liked = [e["track"] for e in truth["liked"] if e["track"]["type"] == "track"]
        half = liked[:len(liked) // 2]
        rnd = random.Random(18)
        taken = {p["at"] for p in plays}
        recs = []

        def play(at, t):
            if at in taken:
                return
            taken.add(at)
            ms = rnd.randint(30000, 240000)
            plays.append(row(at, t, ms))
            recs.append(export_record(at, t, ms))

        def pick(pool):
            # a few tracks far more often, so the tops are not ties
            return pool[min(int(rnd.expovariate(0.2)), len(pool) - 1)]
        new_year = year_start(y2)
        ny = new_year // DAY
        june = ny + 151  # June 1 of the second year (not a leap-day question: day 152 of it)

        def at_random(first_day, days):
            """A random second on a day number divisible by 3 (so random plays
            never make a streak) away from the built streaks."""
            while True:
                d = first_day + rnd.randrange(days)
                if d % 3 == 0 and not (ny - 14 <= d <= ny + 5) and not (june - 2 <= d <= june + 11):
                    return d * DAY + rnd.randrange(DAY // 1000) * 1000
        # the first year: half of the liked tracks
        for _ in range(200):
            play(at_random(year_start(y1) // DAY, ny - year_start(y1) // DAY), pick(half))
        # a streak from Dec 20 across the New Year to Jan 4, daily at 20:00
        for d in range(-12, 4):
            play(new_year + d * DAY + 20 * HOUR, half[0])
        play(new_year - 1000, half[1])   # Dec 31 23:59:59
        play(new_year, liked[-1])        # Jan 1 00:00:00: a first listen of the new year
        # the second year: every liked track (up to Nov 26); June 1..10 daily at 07:00
        for _ in range(220):
            play(at_random(ny, 330), pick(liked[::-1]))
        for d in range(10):
            play((june + d) * DAY + 7 * HOUR, liked[len(liked) // 2])
        import_export(browser, recs, f"Streaming_History_Audio_{y1}-{y2}_0.json")
        yield emu, browser, plays, (y1, y2), kt
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()[-3000:]


def expected_top(sel, kind):
    """[(ident, plays, ms)] top 10 by time, ties by plays then name (bytes)."""
    key = {"tracks": lambda p: p["uri"], "artists": lambda p: p["artist"],
           "albums": lambda p: (p["album"], p["album_artist"])}[kind]
    n, ms = Counter(), Counter()
    for p in sel:
        n[key(p)] += 1
        ms[key(p)] += p["ms"]

    def tie(k):
        return tuple(bkey(x) for x in k) if isinstance(k, tuple) else bkey(k)
    order = sorted(n, key=lambda k: (-ms[k], -n[k], tie(k)))
    return [(k, n[k], ms[k]) for k in order[:10]]


def expected_recap(plays, y):
    lo, hi = year_start(y), year_start(y + 1)
    sel = [p for p in plays if lo <= p["at"] < hi]
    total_ms = sum(p["ms"] for p in sel)
    exp = {"year": y, "from": iso(lo), "to": iso(hi), "timezone": "UTC", "plays": len(sel),
           "ms": total_ms, "minutes": total_ms // 60000,
           "distinct_tracks": len({p["uri"] for p in sel}),
           "distinct_artists": len({p["artist"] for p in sel})}
    # first listens: first play ever (over every year) inside this one
    first_t, first_a, names = {}, {}, {}
    for p in sorted(plays, key=lambda p: p["at"]):
        first_t.setdefault(p["uri"], p["at"])
        first_a.setdefault(p["artist"], p["at"])
        names.setdefault(p["uri"], (p["track"], p["artist"]))
    ft = sorted(((at, u) for u, at in first_t.items() if lo <= at < hi),
                key=lambda x: (x[0], bkey(x[1])))
    fa = sorted(((at, a) for a, at in first_a.items() if lo <= at < hi),
                key=lambda x: (x[0], bkey(x[1])))
    exp["first_tracks"] = [(u, names[u][0], names[u][1], iso(at)) for at, u in ft][:100]
    exp["first_tracks_total"] = len(ft)
    exp["first_artists"] = [(a, iso(at)) for at, a in fa][:100]
    exp["first_artists_total"] = len(fa)
    days = defaultdict(lambda: [0, 0])
    hours = defaultdict(lambda: [0, 0])
    months = [[0, 0] for _ in range(12)]
    for p in sel:
        t = time.gmtime(p["at"] // 1000)
        for cell in (days[p["at"] // DAY], hours[t.tm_hour], months[t.tm_mon - 1]):
            cell[0] += 1
            cell[1] += p["ms"]
    d = max(sorted(days), key=lambda k: days[k][1])  # max keeps the first (earliest) of ties
    exp["busiest_day"] = {"date": iso(d * DAY)[:10], "plays": days[d][0], "ms": days[d][1],
                          "minutes": days[d][1] // 60000}
    h = max(sorted(hours), key=lambda k: hours[k][1])
    exp["busiest_hour"] = {"hour": h, "plays": hours[h][0], "ms": hours[h][1],
                           "minutes": hours[h][1] // 60000}
    best, run, prev = (0, 0), 0, None
    for day in sorted(days):
        run = run + 1 if prev is not None and day == prev + 1 else 1
        prev = day
        if run > best[1]:
            best = (day - run + 1, run)
    exp["longest_streak"] = {"start": iso(best[0] * DAY)[:10],
                             "end": iso((best[0] + best[1] - 1) * DAY)[:10], "days": best[1]}
    exp["months"] = [{"month": f"{y:04d}-{m + 1:02d}", "plays": v[0], "ms": v[1],
                      "minutes": v[1] // 60000} for m, v in enumerate(months)]
    exp["top_tracks"] = expected_top(sel, "tracks")
    exp["top_artists"] = expected_top(sel, "artists")
    exp["top_albums"] = expected_top(sel, "albums")
    return exp


def check_recap(got, exp, years):
    for k in ("year", "from", "to", "timezone", "plays", "ms", "minutes", "distinct_tracks",
              "distinct_artists", "busiest_day", "busiest_hour", "longest_streak", "months"):
        assert got[k] == exp[k], k
    assert got["years"] == years
    for kind, ident in (("tracks", lambda x: x["uri"]), ("artists", lambda x: x["name"]),
                        ("albums", lambda x: (x["name"], x["artist"]))):
        items = got["top_" + kind]
        assert [(ident(x), x["plays"], x["ms"]) for x in items] == exp["top_" + kind], kind
        assert [x["rank"] for x in items] == list(range(1, len(items) + 1))
    ft, fa = got["first_listens"]["tracks"], got["first_listens"]["artists"]
    assert ft["total"] == exp["first_tracks_total"]
    # the API gives milliseconds only when a play had them; compare to the second
    assert [(x["uri"], x["name"], x["artist"], x["first_played_at"][:19] + "Z")
            for x in ft["items"]] == exp["first_tracks"]
    assert fa["total"] == exp["first_artists_total"]
    assert [(x["name"], x["first_played_at"][:19] + "Z") for x in fa["items"]] == \
        exp["first_artists"]


def test_recap_every_year(world):
    emu, browser, plays, (y1, y2), kt = world
    years = sorted({year_of(p["at"]) for p in plays})
    assert years[:2] == [y1, y2]
    r = browser.get("/api/stats/recap/years")
    assert r.status == 200, r
    assert r.json() == {"years": years}
    for y in years:
        r = browser.get(f"/api/stats/recap?year={y}")
        assert r.status == 200, (y, r)
        exp = expected_recap(plays, y)
        check_recap(r.json(), exp, years)
    # what the export was built to show, so the comparisons above are not vacuous
    second = browser.get(f"/api/stats/recap?year={y2}").json()
    first = browser.get(f"/api/stats/recap?year={y1}").json()
    # the streak from Dec 20 to Jan 4 is cut at the New Year
    assert first["longest_streak"] == {"start": f"{y1}-12-20", "end": f"{y1}-12-31", "days": 12}
    assert second["longest_streak"] == {"start": f"{y2}-06-01", "end": f"{y2}-06-10", "days": 10}
    assert second["first_listens"]["tracks"]["total"] > 0
    assert second["first_listens"]["tracks"]["items"][0]["first_played_at"] == f"{y2}-01-01T00:00:00Z"
    assert first["first_listens"]["tracks"]["total"] == len({p["uri"] for p in plays
                                                            if year_of(p["at"]) == y1})
    assert sum(m["plays"] for m in second["months"]) == second["plays"]
    assert len(second["top_tracks"]) == 10


def test_recap_svg(world):
    emu, browser, plays, (y1, y2), kt = world
    r = browser.get(f"/api/stats/recap.svg?year={y2}")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    assert f'filename="keeptrack-recap-{y2}.svg"' in r.headers["Content-Disposition"]
    root = ET.fromstring(r.body)  # well-formed XML whatever the names hold
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    assert not root.findall(f".//{ns}script") and b"href" not in r.body
    texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
    exp = expected_recap(plays, y2)
    assert f"{y2} in music" in texts
    assert str(exp["minutes"]) in texts
    top_artist = exp["top_artists"][0][0]
    assert any(t == "1. " + top_artist or (t.startswith("1. ") and t.endswith("\u2026")
                                            and top_artist.startswith(t[3:-1]))
               for t in texts), texts
    assert f"Longest streak: {exp['longest_streak']['days']} days " \
        f"({exp['longest_streak']['start']} to {exp['longest_streak']['end']})" in texts
    assert len(root.findall(f"{ns}rect")) == 13  # the background and twelve months


def test_recap_svg_escapes_names(world, tmp_path):
    """A name full of markup is text in the card, never markup."""
    emu, browser, plays, (y1, y2), kt = world
    evil = "<script>alert(1)</script> & \"'\x01"
    recs = [{"ts": f"{y1 - 1}-07-01T12:00:00Z", "ms_played": 600000,
             "spotify_track_uri": "spotify:track:0000000000000000000001",
             "master_metadata_track_name": evil, "master_metadata_album_artist_name": evil,
             "master_metadata_album_album_name": evil}]
    r = browser.post(f"/api/history/import?name=Streaming_History_Audio_{y1 - 1}_9.json",
                     data=json.dumps(recs).encode(), headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.json()["imported"] == 1, r
    r = browser.get(f"/api/stats/recap.svg?year={y1 - 1}")
    assert r.status == 200, r
    assert b"<script" not in r.body and b"&lt;script&gt;" in r.body and b"\x01" not in r.body
    root = ET.fromstring(r.body)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    # the name is cut to the column: 30 characters, then an ellipsis
    assert "1. <script>alert(1)</script> &\u2026" in texts, texts
    got = browser.get(f"/api/stats/recap?year={y1 - 1}").json()
    assert got["top_tracks"][0]["name"] == evil and got["minutes"] == 10


def test_recap_bad_input(world):
    emu, browser, plays, (y1, y2), kt = world
    for q in ("", "?year=", "?year=twenty", "?year=202", "?year=20255", "?year=1969",
              "?year=2025.0", "?year=-2025", "?year=%202025"):
        for path in ("/api/stats/recap", "/api/stats/recap.svg"):
            r = browser.get(path + q)
            assert r.status == 400, (path, q, r)
            e = r.json()["error"]
            assert e["code"] == "bad_parameter" and e["message"].startswith("year:"), (q, e)
    for path in ("/api/stats/recap", "/api/stats/recap.svg"):
        r = browser.get(f"{path}?year={y1 - 3}")
        assert r.status == 404 and r.json()["error"]["code"] == "no_data", r
    anon = ktlib.Http(browser.base_url)
    for path in ("/api/stats/recap/years", f"/api/stats/recap?year={y2}",
                 f"/api/stats/recap.svg?year={y2}"):
        assert anon.get(path).status == 401


def test_recap_other_user(world):
    """Bob, who never synced, has no years and no recap of Alice's."""
    emu, browser, plays, (y1, y2), kt = world
    bob = kt.login("bob")
    assert bob.get("/api/stats/recap/years").json() == {"years": []}
    r = bob.get(f"/api/stats/recap?year={y2}")
    assert r.status == 404 and r.json()["error"]["code"] == "no_data", r
    assert bob.get(f"/api/stats/recap.svg?year={y2}").status == 404

"""`keeptrack demo` (what `make run` starts): emulator + keeptrack on SQLite,
prints one banner (the URL once, no log lines: those go to a file), a
browser can log in, Ctrl-C stops both. The demo always
uses SQLite (by design), so this test has no PostgreSQL variant."""
import calendar
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from keeptrack import Http, free_port  # noqa: E402


def read_until(proc, pattern, timeout=30):
    """Reads the demo's stdout until pattern appears; returns all of it."""
    deadline = time.monotonic() + timeout
    out = b""
    while time.monotonic() < deadline:
        if re.search(pattern, out):
            return out
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    raise AssertionError(f"demo did not print {pattern!r}: {out!r}")


DAY = 86400000


def check_listening(browser, emu):
    """The demo user has weeks of plays at every hour and weekday, imported
    before the first login, and the weekly top tracks change: every figure
    from the emulator's truth (each play lasting its track, to the second)."""
    truth = Http(emu.base_url).get("/__emulator/users/demo/truth?sections=recently_played").json()
    plays = []
    for p in truth["recently_played"]:
        at = calendar.timegm(time.strptime(p["played_at"][:19], "%Y-%m-%dT%H:%M:%S")) * 1000
        plays.append((at, p["track"]["uri"], p["track"]["duration_ms"]))
    first, last = min(p[0] for p in plays), max(p[0] for p in plays)
    assert last - first >= 28 * DAY, "several weeks of plays"
    assert len({time.gmtime(p[0] // 1000).tm_wday for p in plays}) == 7
    assert len({time.gmtime(p[0] // 1000).tm_hour for p in plays}) == 24
    to = (last // DAY + 1) * DAY
    got = browser.get(f"/api/stats/listening/series?period=all&to={to}&bucket=day",
                      accept_json=True).json()
    assert (got["plays"], got["ms"]) == (len(plays), sum(p[2] for p in plays))
    per_day = {}
    for at, _, _ in plays:
        per_day[at // DAY * DAY] = per_day.get(at // DAY * DAY, 0) + 1
    assert {calendar.timegm(time.strptime(b["start"], "%Y-%m-%dT%H:%M:%SZ")) * 1000: b["plays"]
            for b in got["buckets"] if b["plays"]} == per_day
    # the top track of each of the last five weeks, and they are not all the same
    tops = []
    for w in range(5):
        hi = to - w * 7 * DAY
        sel = [p for p in plays if hi - 7 * DAY <= p[0] < hi]
        n, ms = {}, {}
        for _, uri, d in sel:
            n[uri] = n.get(uri, 0) + 1
            ms[uri] = ms.get(uri, 0) + d
        want = sorted(n, key=lambda u: (-n[u], -ms[u], u.encode()))[0]
        r = browser.get(f"/api/stats/tops?kind=tracks&period=week&to={hi}&limit=1",
                        accept_json=True).json()
        assert (r["items"][0]["uri"], r["items"][0]["plays"]) == (want, n[want])
        tops.append(want)
    assert len(set(tops)) >= 2, "the weekly top lists move"
    # Spotify's top lists of the last 14 days were recorded: yesterday's
    # short-term list against the day before's, as the emulator ranks them
    hist = Http(emu.base_url).get("/__emulator/users/demo/truth?sections=top_history").json()
    days = hist["top_history"]
    assert len(days) == 14
    before, after = (d["short_term"]["tracks"] for d in days[-2:])
    mv = browser.get("/api/top/movement?range=short_term", accept_json=True).json()
    assert (mv["from_day"], mv["to_day"]) == (days[-2]["day"], days[-1]["day"])
    assert {e["track"]["uri"] for e in mv["new"]} == set(after) - set(before)
    assert {e["track"]["uri"] for e in mv["dropped"]} == set(before) - set(after)
    moved = {e["track"]["uri"]: (e["rank"], e["previous_rank"]) for e in mv["climbers"] + mv["fallers"]}
    assert moved == {u: (after.index(u) + 1, before.index(u) + 1) for u in after
                     if u in before and after.index(u) != before.index(u)}
    assert moved or mv["new"], "the top lists move between days"
    art = browser.get("/api/top/movement?range=long_term&kind=artists", accept_json=True).json()
    assert art["to_day"] == days[-1]["day"]


def test_demo_prints_url_and_logs_in(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("KEEPTRACK_") or k.startswith("SPOTIFY_"))}
    env.update({"KEEPTRACK_EMULATOR": os.environ["EMULATOR_BIN"],
                "KEEPTRACK_DATA_DIR": str(tmp_path),
                "KEEPTRACK_LISTEN": f"127.0.0.1:{port}"})
    proc = subprocess.Popen([os.environ["KEEPTRACK_BIN"], "demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = read_until(proc, rb"Press Ctrl-C to stop")
        m = re.search(rb"Open (http://127\.0\.0\.1:(\d+))/ in your browser", out)
        url = m.group(1).decode()
        assert int(m.group(2)) == port
        # What the terminal shows: the banner alone, the URL once.
        assert b"level=" not in out, out
        assert out.count(url.encode()) == 1, out
        emu = re.search(rb"spotify-emulator at (http://127\.0\.0\.1:\d+)", out).group(1)
        browser = Http(url, json_default=False)
        r = browser.get("/api/auth/login")
        assert r.status == 302 and r.location.startswith(emu.decode() + "/authorize?")
        cb = Http(emu.decode()).get(r.location)
        assert cb.status == 302
        r = browser.get(cb.location)
        assert r.status == 302 and r.location == "/"
        me = browser.get("/api/me", accept_json=True).json()
        assert me["spotify_id"] == "demo" and me["status"] == "active"
        check_listening(browser, Http(emu.decode()))
        assert os.path.exists(tmp_path / "demo" / "keeptrack.db")
        log = (tmp_path / "demo" / "keeptrack.log").read_text()
        assert "event=serve_started" in log and "route=/api/me" in log
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=20)
    assert rc == 0
    # the emulator went away with the demo
    r = subprocess.run(["pgrep", "-f", f"redirect-uri http://127.0.0.1:{port}/"],
                       capture_output=True)
    assert r.returncode == 1, r.stdout

#!/usr/bin/python3
"""bench/sync.py - issue 5's sync benchmark (prints figures; not a test).

Starts spotify-emulator with 50 ms latency and one user with 10,000 liked
songs, 200 owned playlists of 100 items and 500 followed artists, logs in
through `keeptrack serve`, then runs `keeptrack sync --user 1 liked
playlists following` twice: a full sync into an empty database, then a
no-change re-sync. It does so for each app mode (--mode, default both):
development mode reads playlist items 50 a page (615 requests in all),
extended mode 100 a page (415; issue 20). Before each run it prints
`keeptrack sync --dry-run`'s estimate next to the requests spent. For each
it prints the requests spent (emulator
counters), the wall time, the lower bound set by latency and concurrency
(requests / concurrency x latency), their ratio, the sync process's peak
RSS, and the time the run spent holding a database connection (db_ms from
the sync_run log line), and the mean number of requests in flight at the
emulator (from its request log; --timeline prints it per 50 ms window, which
shows where a run stalls or goes serial, then the critical path: each
endpoint's first and last request and each database write the sync logged,
in ms from the process's start).

Targets: full sync <= 1.1 x the bound at concurrency 8 on SQLite, <= 1.2 x
on PostgreSQL (issue 16; issue 5 had 1.3 x), in either mode (issue 20), peak
RSS <= 64 MB; re-sync <= 15 requests and under 1 s (issue 5). Issue 20:
extended mode's full sync <= 420 requests.

Each run (default 3) syncs into a fresh database; the run with the median
wall time is reported at the end (wall clock is noisy on a shared machine).

Usage: /usr/bin/python3 bench/sync.py [BUILD_DIR] [--backend sqlite|postgres] [--runs N]
                                      [--mode development|extended|both] [--timeline]
       (BUILD_DIR defaults to build; postgres uses KEEPTRACK_TEST_PG)
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "pylib"))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402

LATENCY_MS = 50
CONCURRENCY = 8
USER = ("bench:liked=10000,playlists=200,playlist_items=100,followed=500,"
        "followed_playlists=0,albums=0,shows=0,episodes=0,plays=0")


def run_sync_rusage(kt, what, env=None):
    """Runs `keeptrack sync` as a child (kt.env plus env); returns (wall s, its peak RSS in
    MB, its stderr, its CPU time in s, its start and end as wall-clock ms)."""
    child_env = dict(kt.env, **(env or {}))
    start_ms = time.time() * 1000.0
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        log = os.open(os.path.join(kt.tmpdir, "sync.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                      0o600)
        os.dup2(devnull, 1)
        os.dup2(log, 2)
        os.execve(kt.bin, [kt.bin, "sync", "--user", "1", *what], child_env)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    end_ms = start_ms + wall * 1000.0
    with open(os.path.join(kt.tmpdir, "sync.log")) as f:
        log = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sync failed: {log[-2000:]}")
    return wall, ru.ru_maxrss / 1024.0, log, ru.ru_utime + ru.ru_stime, (start_ms, end_ms)


def in_flight(requests, window_ms=50):
    """Mean requests in flight at the emulator per window, from its request
    log (each request occupied [t_ms - latency, t_ms] there): a list of
    (window start ms, mean in flight, {endpoint: requests touching it})."""
    spans = sorted((r["t_ms"] - LATENCY_MS, r["t_ms"], r["endpoint"].split(" ")[-1])
                   for r in requests)
    if not spans:
        return []
    t0, end = spans[0][0], max(e for _, e, _ in spans)
    rows, at = [], t0
    while at < end:
        hi = at + window_ms
        busy = [(s, e, ep) for s, e, ep in spans if s < hi and e > at]
        mean = sum(min(e, hi) - max(s, at) for s, e, _ in busy) / window_ms
        eps = {}
        for _, _, ep in busy:
            eps[ep] = eps.get(ep, 0) + 1
        rows.append((at - t0, mean, eps))
        at = hi
    return rows


def print_timeline(requests):
    print("  in flight per 50 ms window (emulator log; a dip is a stall, 0 a serial step):")
    for at, mean, eps in in_flight(requests):
        bar = "#" * int(round(mean * 2))
        top = ", ".join(f"{k} {v}" for k, v in sorted(eps.items(), key=lambda kv: -kv[1])[:2])
        print(f"  {at:7.0f} ms {mean:4.1f} {bar:<17} {top}")


def print_critical_path(requests, log, span):
    """Where one run's time went, in ms from the process's start: the start-up
    before the first request, each endpoint's first start and last end (emulator
    log), each database span the sync logged (sync_span, debug level: catalog
    batches summed, collection writes one by one) and the exit after the run."""
    start_ms, end_ms = span
    print("  critical path (ms from the process's start):")
    eps = {}
    for r in requests:
        ep = r["endpoint"].split(" ")[-1]
        lo, hi = eps.get(ep, (r["t_ms"] - LATENCY_MS, r["t_ms"]))
        eps[ep] = (min(lo, r["t_ms"] - LATENCY_MS), max(hi, r["t_ms"]), )
    counts = {}
    for r in requests:
        ep = r["endpoint"].split(" ")[-1]
        counts[ep] = counts.get(ep, 0) + 1
    for ep, (lo, hi) in sorted(eps.items(), key=lambda kv: kv[1][0]):
        print(f"    {lo - start_ms:7.0f} .. {hi - start_ms:7.0f}  requests {ep} ({counts[ep]})")
    cat_n, cat_ms, cat_lo, cat_hi = 0, 0.0, None, None
    for m in re.finditer(r"event=sync_span what=(\w+) start_ms=(\d+) end_ms=(\d+)", log):
        what, lo, hi = m.group(1), float(m.group(2)), float(m.group(3))
        if what == "catalog":
            cat_n, cat_ms = cat_n + 1, cat_ms + hi - lo
            cat_lo = lo if cat_lo is None else min(cat_lo, lo)
            cat_hi = hi if cat_hi is None else max(cat_hi, hi)
            continue
        label = "sync_run (whole)" if what == "run" else f"write {what}"
        print(f"    {lo - start_ms:7.0f} .. {hi - start_ms:7.0f}  {label} ({hi - lo:.0f} ms)")
    if cat_n:
        print(f"    {cat_lo - start_ms:7.0f} .. {cat_hi - start_ms:7.0f}  catalog batches: {cat_n}, "
              f"{cat_ms:.0f} ms in all")
    print(f"    {end_ms - start_ms:7.0f}           process exit")


def estimate(kt, what):
    """`keeptrack sync --dry-run`'s estimate (requests if nothing changed)."""
    r = kt.cli("sync", "--user", "1", "--dry-run", *what)
    if r.returncode != 0:
        raise SystemExit(f"sync --dry-run failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.splitlines()[0])


def figures(label, emu, kt, what, timeline=False):
    """One sync; prints its figures and returns them as a dict."""
    est = estimate(kt, what)
    emu.reset_stats()
    wall, rss, log, cpu, span = run_sync_rusage(
        kt, what, {"KEEPTRACK_LOG_LEVEL": "debug"} if timeline else None)
    stats = emu.stats()
    requests = stats["total"]
    m = re.search(r"event=sync_run .*db_ms=(\d+)", log)
    db_ms = int(m.group(1)) if m else -1
    bound = requests / CONCURRENCY * LATENCY_MS / 1000.0
    print(f"{label}:")
    guess = (f"dry-run estimate: {est['requests']}, {est['if_changed']} if everything changed"
             if est["synced"] else "dry-run estimate: none, never synced (sizes unknown)")
    print(f"  requests      {requests} ({guess})")
    print(f"  wall time     {wall:.2f} s (process, including start-up)")
    print(f"  bound         {bound:.2f} s ({requests} / {CONCURRENCY} x {LATENCY_MS} ms)")
    print(f"  ratio         {wall / bound:.2f}" if bound > 0 else "  ratio         -")
    print(f"  peak RSS      {rss:.1f} MB")
    print(f"  CPU time      {cpu:.2f} s (user + system; the machine has {os.cpu_count()} cores)")
    print(f"  db time       {db_ms / 1000.0:.2f} s (connection held: catalog + collection writes)")
    spans = in_flight(stats["requests"])
    if spans:
        print(f"  in flight     {sum(m for _, m, _ in spans) / len(spans):.1f} on average "
              f"(of {CONCURRENCY}; --timeline shows each 50 ms)")
    if timeline:
        print_timeline(stats["requests"])
        print_critical_path(stats["requests"], log, span)
    return {"requests": requests, "wall": wall, "bound": bound, "rss": rss}


def median_run(runs):
    """The run with the median wall time (its own requests, bound and RSS)."""
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def report(full, resync, backend, mode):
    """Prints the medians and records them for bench/run's table."""
    f, r = median_run(full), median_run(resync)
    ratio = f["wall"] / f["bound"]
    walls_f = ", ".join(f"{x['wall']:.2f}" for x in full)
    walls_r = ", ".join(f"{x['wall']:.2f}" for x in resync)
    print(f"{mode} mode, median of {len(full)} run(s): full sync {f['requests']} requests, "
          f"{f['wall']:.2f} s = {ratio:.2f} x bound (walls {walls_f}); re-sync {r['wall']:.2f} s, "
          f"{r['requests']} requests (walls {walls_r})")
    tag = ("" if backend == "sqlite" else f", {backend}") + \
        ("" if mode == "development" else f", {mode} mode")
    # Issue 16: the full sync of this library <= 1.1 x its bound on SQLite and
    # <= 1.2 x on PostgreSQL; issue 20 keeps them for extended mode's bound.
    target = 1.1 if backend == "sqlite" else 1.2
    benchlib.record(f"sync: full, {f['requests']} requests at {LATENCY_MS} ms x {CONCURRENCY}{tag}",
                    f"{f['wall']:.2f} s = {ratio:.2f} x bound ({f['bound']:.2f} s)",
                    f"≤ {target} x bound", ratio <= target)
    if mode == "extended":
        benchlib.record(f"sync: full, requests{tag}", f"{f['requests']}", "≤ 420",
                        f["requests"] <= 420)
    rss = max(x["rss"] for x in full)
    benchlib.record(f"sync: full, peak RSS{tag}", f"{rss:.1f} MB", "≤ 64 MB", rss <= 64.0)
    benchlib.record(f"sync: no-change re-sync{tag}", f"{r['requests']} requests, {r['wall']:.2f} s",
                    "≤ 15 requests, < 1 s", r["requests"] <= 15 and r["wall"] < 1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--timeline", action="store_true",
                    help="print the requests in flight per 50 ms window of each full sync")
    ap.add_argument("--runs", type=int, default=3,
                    help="full sync + re-sync pairs, each into a fresh database (median reported)")
    ap.add_argument("--mode", default="both", choices=["development", "extended", "both"],
                    help="the app's quota mode at the emulator (both: one after the other)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("KEEPTRACK_BIN", os.path.join(build, "src", "cli", "keeptrack"))
    os.environ.setdefault("EMULATOR_BIN", os.path.join(build, "emulator", "spotify-emulator"))
    import keeptrack as ktlib
    from emulator import Emulator

    modes = ["development", "extended"] if a.mode == "both" else [a.mode]
    print(f"keeptrack sync benchmark ({a.backend}): 10,000 liked, 200 playlists x 100 "
          f"items, 500 followed; latency {LATENCY_MS} ms, concurrency {CONCURRENCY}")
    for mode in modes:
        run_mode(a, ktlib, Emulator, mode)


def run_mode(a, ktlib, Emulator, mode):
    """The runs of one app mode against a fresh emulator; prints the report."""
    print(f"== {mode} mode")
    full, resync = run_pairs(a, ktlib, Emulator, USER, mode)
    report(full, resync, a.backend, mode)


def run_pairs(a, ktlib, Emulator, user, mode, start_timeout=20.0):
    """a.runs pairs of (full sync, no-change re-sync), each pair into a fresh
    database, against one emulator serving `user` (a --user spec) in `mode`;
    returns (full figures, re-sync figures). bench/sync_large.py uses it too."""
    what = ["liked", "playlists", "following"]
    full, resync = [], []
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", user, "--threads", "32",
                    "--mode", mode], start_timeout=start_timeout).start()
    try:
        for i in range(max(1, a.runs)):
            with tempfile.TemporaryDirectory() as tmp:
                db = ktlib.Database(a.backend, tmp)
                kt = ktlib.Keeptrack(emu, db, tmp, env={
                    "KEEPTRACK_SPOTIFY_BUDGET": "1000",
                    "KEEPTRACK_SPOTIFY_CONCURRENCY": str(CONCURRENCY)})
                kt.start()
                try:
                    emu.set_faults(latency_ms=0)
                    kt.login("bench")
                    emu.set_faults(latency_ms=LATENCY_MS)
                    print(f"run {i + 1}:")
                    full.append(figures("full sync", emu, kt, what, a.timeline))
                    resync.append(figures("no-change re-sync", emu, kt, what))
                finally:
                    kt.stop()
                    db.close()
    finally:
        emu.stop()
    return full, resync

if __name__ == "__main__":
    main()

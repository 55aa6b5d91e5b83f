#!/usr/bin/python3
"""bench/shuffle.py - issue 6's shuffle benchmark (prints figures; not a test).

Starts spotify-emulator with one user holding 10,000 liked songs, logs in
through `keeptrack serve`, syncs Liked Songs once without latency (the
shuffle's own sync is then the incremental check: one request), sets 50 ms
of latency and runs `keeptrack shuffle --user 1 --source liked` twice: a
first shuffle (1 create + 100 adds) and a re-shuffle that replaces it (1 PUT
+ 99 adds). For each it prints the requests per endpoint (emulator
counters), the wall time of the process (start-up, sync check, ordering,
writes), the sequential bound (writes one at a time, as the playlist's
order requires: (create + adds) x latency) and their ratio.

Target (issue 6): wall time <= 1.1 x the sequential bound.

Usage: /usr/bin/python3 bench/shuffle.py [BUILD_DIR] [--backend sqlite|postgres]
       [--mode uniform|spread]   (BUILD_DIR defaults to build)
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "pylib"))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402

LATENCY_MS = 50
USER = "bench:liked=10000,playlists=0,albums=0,shows=0,episodes=0,followed=0,plays=0"
WRITES = ("POST /v1/me/playlists", "PUT /v1/playlists/{id}/items",
          "POST /v1/playlists/{id}/items")


def figures(label, emu, kt, mode):
    emu.reset_stats()
    t0 = time.monotonic()
    r = kt.cli("shuffle", "--user", "1", "--source", "liked", "--mode", mode, timeout=600)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"shuffle failed: {r.stderr[-2000:]}")
    endpoints = emu.stats()["endpoints"]
    writes = sum(endpoints.get(e, {}).get("count", 0) for e in WRITES)
    total = sum(e["count"] for e in endpoints.values())
    bound = writes * LATENCY_MS / 1000.0
    print(f"{label}:")
    print(f"  output        {r.stdout.strip()}")
    for name in sorted(endpoints):
        print(f"  {endpoints[name]['count']:6d}  {name}")
    print(f"  requests      {total} ({writes} writes)")
    print(f"  wall time     {wall:.2f} s (process, including start-up and the sync check)")
    print(f"  bound         {bound:.2f} s ({writes} sequential writes x {LATENCY_MS} ms)")
    print(f"  ratio         {wall / bound:.3f} (target <= 1.1)")
    ratio = wall / bound if bound > 0 else float("inf")
    benchlib.record(f"shuffle: {label}, 10,000 liked ({writes} writes at {LATENCY_MS} ms)",
                    f"{wall:.2f} s = {ratio:.3f} x sequential bound ({bound:.2f} s)",
                    "≤ 1.1 x bound", ratio <= 1.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--mode", default="uniform", choices=["uniform", "spread"])
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("KEEPTRACK_BIN", os.path.join(build, "src", "cli", "keeptrack"))
    os.environ.setdefault("EMULATOR_BIN", os.path.join(build, "emulator", "spotify-emulator"))
    import keeptrack as ktlib
    from emulator import Emulator

    with tempfile.TemporaryDirectory() as tmp:
        emu = Emulator(["--redirect-uri", "any-loopback", "--user", USER]).start()
        db = ktlib.Database(a.backend, tmp)
        kt = ktlib.Keeptrack(emu, db, tmp, env={"KEEPTRACK_SPOTIFY_BUDGET": "1000"})
        kt.start()
        try:
            kt.login("bench")
            r = kt.cli("sync", "--user", "1", "liked", timeout=600)
            if r.returncode != 0:
                raise SystemExit(f"sync failed: {r.stderr[-2000:]}")
            emu.set_faults(latency_ms=LATENCY_MS)
            print(f"keeptrack shuffle benchmark ({a.backend}, {a.mode}): 10,000 liked songs, "
                  f"latency {LATENCY_MS} ms")
            figures("first shuffle", emu, kt, a.mode)
            figures("re-shuffle (replace)", emu, kt, a.mode)
        finally:
            kt.stop()
            emu.stop()
            db.close()


if __name__ == "__main__":
    main()

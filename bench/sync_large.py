#!/usr/bin/python3
"""bench/sync_large.py - issue 16's "largest library" sync benchmark (prints
figures; not a test).

The library: 50,000 Liked Songs, 2,000 owned playlists of which 3 hold
11,000 items (Spotify's limit) and the other 1,997 between 1 and 100 (the
emulator's uniform draw, ~50 on average: most real playlists are an album's
or a mood's worth, a few are someone's everything), 2,000 followed artists;
no albums, shows, episodes or plays. About 133,000 playlist items and 50,000
liked songs in all. The emulator answers at 50 ms latency, keeptrack runs 8
requests at once, the app is in development mode (playlist items 50 a page),
so a full sync spends about 5,800 requests.

Like bench/sync.py (whose helpers it uses): logs in through `keeptrack
serve`, runs `keeptrack sync --user 1 liked playlists following` into an
empty database, then again with nothing changed. Prints, per run, the
requests, the wall time against the bound set by latency and concurrency
(requests / 8 x 50 ms), the sync process's peak RSS, its CPU time and the
time it held a database connection.

Targets (issue 16): full sync <= 1.3 x its bound, peak RSS <= 64 MB;
no-change re-sync <= 1 + ceil(playlists / 50) + ceil(followed / 50) = 81
requests and under 2 s.

Usage: /usr/bin/python3 bench/sync_large.py [BUILD_DIR] [--backend sqlite|postgres] [--runs N]
       [--timeline]   (BUILD_DIR defaults to build; postgres uses KEEPTRACK_TEST_PG;
                       runs default 1: a full sync takes ~40 s)
"""
import argparse
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402
import sync  # noqa: E402  (bench/sync.py: figures(), median_run(), the test helpers' path)

LIKED, PLAYLISTS, BIG, BIG_ITEMS, FOLLOWED = 50000, 2000, 3, 11000, 2000
USER = (f"bench:liked={LIKED},playlists={PLAYLISTS},playlist_items=1-100,"
        f"big_playlists={BIG},big_playlist_items={BIG_ITEMS},followed={FOLLOWED},"
        "followed_playlists=0,albums=0,shows=0,episodes=0,plays=0")
RESYNC_MAX = 1 + math.ceil(PLAYLISTS / 50) + math.ceil(FOLLOWED / 50)


def report(full, resync, backend):
    """Prints the medians and records them for bench/run's table."""
    f, r = sync.median_run(full), sync.median_run(resync)
    ratio = f["wall"] / f["bound"]
    rss = max(x["rss"] for x in full)
    print(f"median of {len(full)} run(s): full sync {f['requests']} requests, {f['wall']:.2f} s = "
          f"{ratio:.2f} x bound, peak RSS {rss:.1f} MB; re-sync {r['requests']} requests, "
          f"{r['wall']:.2f} s")
    tag = f"largest library ({LIKED // 1000}k liked, {PLAYLISTS} playlists, {FOLLOWED} followed)" + \
        ("" if backend == "sqlite" else f", {backend}")
    benchlib.record(f"sync: full, {tag}, {f['requests']} requests at {sync.LATENCY_MS} ms x "
                    f"{sync.CONCURRENCY}",
                    f"{f['wall']:.2f} s = {ratio:.2f} x bound ({f['bound']:.2f} s)",
                    "≤ 1.3 x bound", ratio <= 1.3)
    benchlib.record(f"sync: full, peak RSS, {tag}", f"{rss:.1f} MB", "≤ 64 MB", rss <= 64.0)
    benchlib.record(f"sync: no-change re-sync, {tag}",
                    f"{r['requests']} requests, {r['wall']:.2f} s",
                    f"≤ {RESYNC_MAX} requests, < 2 s",
                    r["requests"] <= RESYNC_MAX and r["wall"] < 2.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--runs", type=int, default=1,
                    help="full sync + re-sync pairs, each into a fresh database (median reported)")
    ap.add_argument("--timeline", action="store_true",
                    help="print the requests in flight per 50 ms window of each full sync")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("KEEPTRACK_BIN", os.path.join(build, "src", "cli", "keeptrack"))
    os.environ.setdefault("EMULATOR_BIN", os.path.join(build, "emulator", "spotify-emulator"))
    import keeptrack as ktlib
    from emulator import Emulator

    print(f"keeptrack largest-library sync benchmark ({a.backend}): {LIKED} liked, {PLAYLISTS} "
          f"playlists ({BIG} of {BIG_ITEMS} items, the rest 1-100), {FOLLOWED} followed; "
          f"latency {sync.LATENCY_MS} ms, concurrency {sync.CONCURRENCY}, development mode")
    full, resync = sync.run_pairs(a, ktlib, Emulator, USER, "development", start_timeout=120.0)
    report(full, resync, a.backend)


if __name__ == "__main__":
    main()

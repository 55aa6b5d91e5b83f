#!/usr/bin/python3
"""bench/memory.py - idle and peak memory of `keeptrack serve` (issue 12;
prints figures, not a test).

Starts spotify-emulator (no added latency: memory, not time, is measured
here) with the sync benchmark's user (10,000 liked songs, 200 owned
playlists of 100 items, 500 followed artists) and `keeptrack serve` on
SQLite in a temporary folder, logs in, and reads the server's memory from
/proc/PID/status:

  start  VmRSS once it has started, before any request (libcurl, and with
         it OpenSSL, is initialised only by the first Spotify request);
  idle   VmRSS once it has started and served the login (nothing running),
         with its private (USS: Private_Clean + Private_Dirty) and proportional
         (PSS) parts from /proc/PID/smaps_rollup: most of the RSS is pages of
         shared libraries, which every process using them shares;
  peak   VmHWM after a full library sync of that user run as a job inside
         the server (POST /api/sync) while 4 clients keep reading
         GET /api/library/tracks and GET /api/playlists (each
         pausing 50 ms between requests).

Targets (issue 17): idle <= 10 MB, peak <= 48 MB (issue 5's bound for a
sync of this library was 64 MB). The load average at the start and end is
printed with the figures: the machine may be shared.

Usage: /usr/bin/python3 bench/memory.py [BUILD_DIR]   (BUILD_DIR defaults to build)
"""
import argparse
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "pylib"))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402

USER = ("bench:liked=10000,playlists=200,playlist_items=100,followed=500,"
        "followed_playlists=0,albums=0,shows=0,episodes=0,plays=0")
PEAK_TARGET_MB = 48.0
IDLE_TARGET_MB = 10.0
READERS = 4
READ_PAUSE_S = 0.05  # each reader's pause between requests: steady load, not a flood


def status_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def rollup_mb(pid):
    """Fields of /proc/PID/smaps_rollup in MB: Pss, Private_Clean, Private_Dirty, ..."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024.0
    return out


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("KEEPTRACK_BIN", os.path.join(build, "src", "cli", "keeptrack"))
    os.environ.setdefault("EMULATOR_BIN", os.path.join(build, "emulator", "spotify-emulator"))
    import keeptrack as ktlib
    from emulator import Emulator

    load0 = load()
    with tempfile.TemporaryDirectory(prefix="kt-bench-mem-") as tmp:
        emu = Emulator(["--redirect-uri", "any-loopback", "--user", USER, "--threads", "8"]).start()
        db = ktlib.Database("sqlite", tmp)
        kt = ktlib.Keeptrack(emu, db, tmp, env={"KEEPTRACK_SPOTIFY_BUDGET": "1000",
                                                 "KEEPTRACK_LOG_LEVEL": "warn",
                                                 "KEEPTRACK_JOB_POLL_MS": "50"})
        kt.start()
        try:
            start = status_mb(kt.proc.pid, "VmRSS")
            start_anon = status_mb(kt.proc.pid, "RssAnon")
            browser = kt.login("bench")
            pid = kt.proc.pid
            idle = status_mb(pid, "VmRSS")
            idle_anon, idle_file = status_mb(pid, "RssAnon"), status_mb(pid, "RssFile")
            idle_threads = len(os.listdir(f"/proc/{pid}/task"))
            roll = rollup_mb(pid)
            idle_uss = roll.get("Private_Clean", 0.0) + roll.get("Private_Dirty", 0.0)
            idle_pss = roll.get("Pss", 0.0)

            done = threading.Event()
            reads = [0]
            errors = []

            def reader():
                client = kt.client()
                client.set_cookie(kt.session_cookie, browser.cookie(kt.session_cookie))
                while not done.is_set():
                    for path in ("/api/library/tracks?limit=50", "/api/playlists"):
                        r = client.get(path)
                        if r.status != 200:
                            errors.append(f"{path}: {r.status}")
                            return
                        reads[0] += 1
                    done.wait(READ_PAUSE_S)

            threads = [threading.Thread(target=reader) for _ in range(READERS)]
            t0 = time.monotonic()
            r = browser.post("/api/sync", json={"what": ["liked", "playlists", "following"]})
            if r.status != 202:
                raise SystemExit(f"POST /api/sync answered {r.status}: {r.text[:500]}")
            job = r.json()["id"]
            for t in threads:
                t.start()
            try:
                ktlib.wait_until(lambda: browser.get(f"/api/jobs/{job}").json()["state"]
                                 in ("done", "failed"), 600, interval=0.2, what="the sync job")
            finally:
                done.set()
                for t in threads:
                    t.join()
            wall = time.monotonic() - t0
            state = browser.get(f"/api/jobs/{job}").json()
            if state["state"] != "done" or errors:
                raise SystemExit(f"sync job {state} / reader errors {errors[:3]}")
            peak = status_mb(pid, "VmHWM")
            after = status_mb(pid, "VmRSS")
        finally:
            kt.stop()
            emu.stop()
            db.close()

    print("keeptrack serve memory (sqlite): 10,000 liked, 200 playlists x 100 items, "
          f"500 followed; {READERS} concurrent API readers during the sync")
    print(f"  start RSS     {start:.1f} MB (started, no request served yet): "
          f"{start_anon:.1f} MB anonymous")
    print(f"  idle RSS      {idle:.1f} MB (after start-up and one login; target <= "
          f"{IDLE_TARGET_MB:.0f} MB): {idle_anon:.1f} MB anonymous, {idle_file:.1f} MB pages of "
          f"the binary and shared libraries, {idle_threads} threads")
    print(f"                private to the process (USS) {idle_uss:.1f} MB, proportional share "
          f"(PSS) {idle_pss:.1f} MB: the rest of the RSS is library pages other processes share")
    print(f"  peak RSS      {peak:.1f} MB (VmHWM; sync job {wall:.1f} s, {reads[0]} API reads "
          f"meanwhile; target <= {PEAK_TARGET_MB:.0f} MB)")
    print(f"  RSS after     {after:.1f} MB")
    print(f"  load average  {load0} at the start, {load()} at the end")
    benchlib.record("serve: RSS at start (no request yet)", f"{start:.1f} MB")
    benchlib.record("serve: idle RSS", f"{idle:.1f} MB (USS {idle_uss:.1f} MB, PSS {idle_pss:.1f} MB)",
                    f"≤ {IDLE_TARGET_MB:.0f} MB", idle <= IDLE_TARGET_MB)
    benchlib.record(f"serve: peak RSS (sync job + {READERS} API readers)", f"{peak:.1f} MB",
                    f"≤ {PEAK_TARGET_MB:.0f} MB", peak <= PEAK_TARGET_MB)


if __name__ == "__main__":
    main()

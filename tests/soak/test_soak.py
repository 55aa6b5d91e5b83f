"""Fault soak (issue 12): keeptrack against a misbehaving Spotify, and killed
at random moments, on SQLite and PostgreSQL.

- syncs under faults: the emulator answers 5 % of requests with 5xx, holds
  2 % without answering (longer than keeptrack's request timeout), cuts 1 %
  of bodies short, and throws short 429 bursts (Retry-After 1); between
  syncs the library changes (likes, unlikes, playlist edits, plays). Every
  sync must finish and leave the database equal to the emulator's ground
  truth (tests/pylib/truth.py).
- kill -9: `keeptrack sync`, `keeptrack import-history` and `keeptrack
  shuffle` are SIGKILLed at random (seeded) moments; afterwards the
  database is consistent (SQLite: PRAGMA integrity_check and
  foreign_key_check; PostgreSQL: amcheck on every index of the schema and
  orphan queries) and the next complete run is exact (truth, plays counted
  once, one shuffled playlist holding exactly the source).

Sizes: SOAK_SYNCS (default 10; 4 in the ASan build) syncs and SOAK_KILLS
(default 6; 3 in the ASan build) kills per
back-end in `make test`; `make soak` runs 50 and 20. SOAK_SEED picks the
random moments and mutations (printed on failure).
"""
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from truth import assert_matches_truth, spotify_item  # noqa: E402

SANITIZED = bool(os.environ.get("KT_SANITIZED"))  # the ASan+UBSan build: smaller defaults
SYNCS = int(os.environ.get("SOAK_SYNCS", "4" if SANITIZED else "10"))
KILLS = int(os.environ.get("SOAK_KILLS", "3" if SANITIZED else "6"))
SEED = int(os.environ.get("SOAK_SEED", "1912"))

ALICE = ("alice:liked=400,playlists=6,playlist_items=20-150,followed_playlists=2,albums=6,"
         "shows=2,episodes=4,followed=80,plays=60")
# keeptrack gives up on a request after 1.5 s; the emulator holds a hung
# request for 3 s, so every hang is a client-side timeout, then a retry.
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_SPOTIFY_TIMEOUT_MS": "1500",
          "KEEPTRACK_SHUFFLE_NAME": "{source} [{mode}]"}
FAULTS = {"fail_rate": 0.05, "hang_rate": 0.02, "truncate_rate": 0.01}


@pytest.fixture(params=ktlib.backend_params())
def db(request, tmp_path):
    d = ktlib.Database(request.param, tmp_path)
    yield d
    d.close()


# A bigger library for the kill test, so every command runs long enough to
# be killed in the middle of it.
KILL_ALICE = ("alice:liked=1500,playlists=8,playlist_items=50-300,followed_playlists=2,"
              "albums=10,shows=2,episodes=4,followed=150,plays=60")


def start_env(db, tmp_path, spec):
    emu = Emulator(["--redirect-uri", "any-loopback", "--hang-ms", "3000",
                    "--seed", str(SEED), "--user", spec]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    return emu, kt, kt.login("alice")


def stop_env(emu, kt):
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()[-3000:]


@pytest.fixture
def env(db, tmp_path):
    e = start_env(db, tmp_path, ALICE)
    yield e
    stop_env(e[0], e[1])


@pytest.fixture
def kill_env(db, tmp_path):
    e = start_env(db, tmp_path, KILL_ALICE)
    yield e
    stop_env(e[0], e[1])


def cli(kt, *args, timeout=300):
    r = kt.cli(*args, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])
    return r


def mutate_randomly(emu, rnd):
    """One to three library changes a user could make between syncs."""
    truth = emu.truth("alice", sections=["liked", "playlists"])
    liked = [e["track"]["uri"] for e in truth["liked"]]
    own = [p for p in truth["playlists"] if p["items"] is not None]
    for _ in range(rnd.randint(1, 3)):
        op = rnd.choice(["unlike", "like", "add", "remove", "reorder", "play"])
        pl = rnd.choice(own)
        uris = [spotify_item(i)["uri"] for i in pl["items"]
                if spotify_item(i) and spotify_item(i)["uri"].startswith("spotify:track:")]
        if op == "unlike" and liked:
            emu.mutate("alice", "unlike", uri=rnd.choice(liked))
        elif op == "like" and uris:
            emu.mutate("alice", "like", uri=rnd.choice(uris))
        elif op == "add" and liked:
            emu.mutate("alice", "playlist_add", playlist=pl["id"],
                       uris=rnd.sample(liked, min(3, len(liked))), position=0)
        elif op == "remove" and uris:
            emu.mutate("alice", "playlist_remove", playlist=pl["id"], uris=[rnd.choice(uris)])
        elif op == "reorder" and len(pl["items"]) > 3:
            emu.mutate("alice", "playlist_reorder", playlist=pl["id"], range_start=0,
                       insert_before=len(pl["items"]) - 1, range_length=2)
        elif op == "play" and liked:
            emu.mutate("alice", "play", uri=rnd.choice(liked))


def test_syncs_under_faults_equal_truth(env):
    emu, kt, browser = env
    rnd = random.Random(SEED)
    emu.set_faults(**FAULTS)
    faulted = 0
    for n in range(SYNCS):
        mutate_randomly(emu, rnd)
        if rnd.random() < 0.5:  # a short 429 burst somewhere in this sync
            emu.set_faults(throttle_rate=1.0, count=rnd.randint(2, 6))
        emu.reset_stats()
        cli(kt, "sync", "--user", "1")
        stats = emu.stats()
        faulted += sum(c for ep in stats["endpoints"].values()
                       for s, c in ep.get("statuses", {}).items() if s not in ("200", "201"))
        try:
            assert_matches_truth(emu, browser)
        except AssertionError:
            print(f"sync {n + 1} of {SYNCS} (SOAK_SEED={SEED}) differs from the truth")
            raise
    # The faults really happened (a soak without them proves nothing).
    assert faulted > 0, emu.stats()


# ---- kill -9 ----

def gen_history(n, rnd, uris, start_s):
    """A Streaming_History_Audio export of n plays (30 s .. 5 min, 3-5 min
    apart) from start_s on."""
    t, out = start_s, []
    for _ in range(n):
        t += rnd.randint(180, 300)
        uri = rnd.choice(uris)
        out.append({"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                    "ms_played": rnd.randint(30_000, 300_000),
                    "master_metadata_track_name": "Track " + uri[-6:],
                    "master_metadata_album_artist_name": "Artist",
                    "master_metadata_album_album_name": "Album",
                    "spotify_track_uri": uri, "episode_name": None,
                    "spotify_episode_uri": None, "reason_end": "trackdone"})
    return out


def timed(kt, args):
    t0 = time.monotonic()
    cli(kt, *args)
    return time.monotonic() - t0


def run_and_kill(kt, args, delay):
    """Starts `keeptrack ARGS`, SIGKILLs it after delay seconds (the random
    moment, not a synchronisation) unless it finished first."""
    err = open(os.path.join(kt.tmpdir, "killed.stderr"), "wb")
    proc = subprocess.Popen([kt.bin, *args], env=kt.env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    err.close()
    if proc.returncode not in (0, -signal.SIGKILL):
        with open(err.name, "rb") as f:
            print(f"{args[0]} exited {proc.returncode}: {f.read()[-1500:]!r}")
    return proc.returncode


def check_consistent(db):
    if db.backend == "sqlite":
        assert db.sql("PRAGMA integrity_check") == [("ok",)]
        assert db.sql("PRAGMA foreign_key_check") == []
        return
    ktlib.psql(db.base, "CREATE EXTENSION IF NOT EXISTS amcheck")
    # Every B-tree index of the schema, checked against its table (heapallindexed).
    out = ktlib.psql(db.url, f"""
        SELECT count(public.bt_index_check(c.oid, true))
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
        WHERE n.nspname = '{db.schema}' AND a.amname = 'btree'""")
    assert int(out.strip()) > 10
    # Rows that point nowhere (the foreign keys should make these impossible).
    for sql in ["SELECT count(*) FROM playlist_items pi LEFT JOIN playlists p "
                "ON p.id = pi.playlist_id WHERE p.id IS NULL",
                "SELECT count(*) FROM plays x LEFT JOIN users u ON u.id = x.user_id "
                "WHERE u.id IS NULL",
                # checked per statement by triggers on PostgreSQL (migrations 11 and 17)
                "SELECT count(*) FROM plays x LEFT JOIN tracks t ON t.uri = x.track_uri "
                "WHERE t.uri IS NULL",
                "SELECT count(*) FROM track_artists x LEFT JOIN tracks t ON t.uri = x.track_uri "
                "LEFT JOIN artists a ON a.id = x.artist_id WHERE t.uri IS NULL OR a.id IS NULL",
                "SELECT count(*) FROM album_artists x LEFT JOIN albums b ON b.id = x.album_id "
                "LEFT JOIN artists a ON a.id = x.artist_id WHERE b.id IS NULL OR a.id IS NULL",
                "SELECT count(*) FROM tracks x LEFT JOIN albums b ON b.id = x.album_id "
                "LEFT JOIN shows w ON w.id = x.show_id WHERE (x.album_id IS NOT NULL AND b.id IS NULL) "
                "OR (x.show_id IS NOT NULL AND w.id IS NULL)",
                "SELECT count(*) FROM saved_tracks x LEFT JOIN tracks t ON t.uri = x.track_uri "
                "WHERE t.uri IS NULL",
                "SELECT count(*) FROM saved_albums x LEFT JOIN albums b ON b.id = x.album_id "
                "WHERE b.id IS NULL",
                "SELECT count(*) FROM followed_artists x LEFT JOIN artists a ON a.id = x.artist_id "
                "WHERE a.id IS NULL",
                "SELECT count(*) FROM playlist_items x LEFT JOIN tracks t ON t.uri = x.item_uri "
                "WHERE x.item_uri IS NOT NULL AND t.uri IS NULL",
                "SELECT count(*) FROM jobs WHERE state NOT IN "
                "('queued', 'running', 'deferred', 'done', 'failed')"]:
        assert db.sql(sql) == [("0",)], sql


def shuffled_playlists(emu):
    return [p for p in emu.truth("alice", sections=["playlists"])["playlists"]
            if p["name"].startswith("Liked Songs [")]


def test_kill9_at_random_moments(kill_env, db, tmp_path):
    emu, kt, browser = kill_env
    rnd = random.Random(SEED * 7 + 1)
    emu.set_faults(latency_ms=20, jitter_ms=20)  # each command runs long enough to be cut
    truth = emu.truth("alice", sections=["liked"])
    uris = [e["track"]["uri"] for e in truth["liked"] if e["track"]["uri"].startswith("spotify:track:")]
    files, total = [], 0

    def new_history():
        nonlocal total
        path = tmp_path / f"Streaming_History_Audio_{len(files)}.json"
        records = gen_history(20_000, rnd, uris, 1_500_000_000 + len(files) * 10_000_000)
        path.write_text(json.dumps(records))
        files.append(str(path))
        total += len(records)
        return ["import-history", "--user", "1", str(path)]

    sync = ["sync", "--user", "1"]
    shuffle = ["shuffle", "--user", "1", "--source", "liked"]
    # How long each takes when left alone: the kill moments are drawn within.
    took = {"sync": timed(kt, sync), "import": timed(kt, new_history()),
            "shuffle": timed(kt, shuffle)}
    killed = collections.Counter()
    attempts = 0
    # KILLS kills, round robin; a run that finishes before its moment does
    # not count, and shortens that command's estimate (runs vary in length).
    while sum(killed.values()) < KILLS and attempts < 4 * KILLS:
        what = ["sync", "import", "shuffle"][sum(killed.values()) % 3]
        attempts += 1
        if what == "sync":
            mutate_randomly(emu, rnd)
        args = {"sync": sync, "shuffle": shuffle}.get(what) or new_history()
        delay = rnd.uniform(0.05, 0.95) * took[what]
        rc = run_and_kill(kt, args, delay)
        if rc == -signal.SIGKILL:
            killed[what] += 1
        else:
            took[what] /= 2
        check_consistent(db)
    print(f"killed {dict(killed)} in {attempts} attempts (SOAK_SEED={SEED})")
    assert sum(killed.values()) == KILLS, (took, killed)

    # The next complete runs are exact.
    cli(kt, *sync)
    assert_matches_truth(emu, browser)
    cli(kt, "import-history", "--user", "1", *files)
    imported = int(db.sql("SELECT count(*) FROM plays WHERE source = 'import'")[0][0])
    assert imported == total
    cli(kt, "import-history", "--user", "1", *files)  # again: nothing new
    assert int(db.sql("SELECT count(*) FROM plays WHERE source = 'import'")[0][0]) == total
    cli(kt, *shuffle)
    check_consistent(db)
    outs = shuffled_playlists(emu)
    liked = [e["track"]["uri"] for e in emu.truth("alice", sections=["liked"])["liked"]]
    want = collections.Counter(u for u in liked if not u.startswith("spotify:local:"))
    complete = [p for p in outs
                if collections.Counter(spotify_item(i)["uri"] for i in p["items"]) == want]
    assert len(complete) == 1, [(p["id"], len(p["items"])) for p in outs]

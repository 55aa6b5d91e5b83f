"""A sync whose collections overlap (issues 16 and 20): playlists and
followed artists are fetched and written on threads of their own while
Liked Songs streams on the run's thread, each collection still replaced in
one transaction. On SQLite and PostgreSQL:

- kill -9 while one collection's request is held (emulator fault "hang" for
  that user and endpoint) and the others have been written: the held
  collection's rows equal the truth of the previous sync, the others' the
  new truth; nothing is half-written (integrity and foreign keys hold); the
  next sync repairs everything;
- a write that fails on a helper thread (a trigger refuses the playlist
  items) fails the run with an error naming the collection and the cause,
  the playlists stay exactly as the previous sync left them, Liked Songs is
  written, and the next sync (trigger gone) equals the truth.
"""
import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from truth import (get_all, kt_track_summary, last_run, playlist_items,  # noqa: E402
                   spotify_item, track_summary)

ALICE = ("alice:liked=260,playlists=6,playlist_items=30-120,followed_playlists=1,albums=0,"
         "shows=0,episodes=0,followed=120,plays=0")
# A held request stays held until the kill, however slow the machine (the
# emulator holds it 120 s; keeptrack would give up on it after 30 s).
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_SPOTIFY_TIMEOUT_MS": "300000"}
WHAT = ("liked", "playlists", "following")


@pytest.fixture
def env(db, tmp_path):  # db: conftest.py's, both back-ends
    emu = Emulator(["--redirect-uri", "any-loopback", "--mode", "development",
                    "--user", ALICE]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    browser = kt.login("alice")
    yield emu, kt, browser
    emu.clear_faults(release=True)
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()


def sync(kt, ok=True):
    r = kt.cli("sync", "--user", "1", *WHAT, timeout=300)
    if ok:
        assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
    return r


# What the store holds of each collection, next to what the truth says.
def stored_liked(browser):
    return [(e["added_at"], kt_track_summary(e["track"]))
            for e in get_all(browser, "/api/library/tracks")]


def truth_liked(truth):
    return [(e["added_at"], track_summary(e["track"])) for e in truth["liked"]]


def stored_playlists(browser):
    out = []
    for p in get_all(browser, "/api/playlists"):
        items = None
        if p["items_synced"]:
            items = [(i["added_at"], kt_track_summary(i["item"]))
                     for i in playlist_items(browser, p["id"])]
        out.append((p["id"], p["snapshot_id"], items))
    return out


def truth_playlists(truth):
    return [(p["id"], p["snapshot_id"],
             None if p["items"] is None else
             [(i["added_at"], track_summary(spotify_item(i))) for i in p["items"]])
            for p in truth["playlists"]]


def stored_following(browser):
    return [a["id"] for a in get_all(browser, "/api/following")]


def truth_following(truth):
    return [a["id"] for a in truth["followed_artists"]]


def assert_synced(browser, truth):
    """The three collections this file syncs equal the truth."""
    assert stored_liked(browser) == truth_liked(truth)
    assert stored_playlists(browser) == truth_playlists(truth)
    assert stored_following(browser) == truth_following(truth)


def check_consistent(db):
    if db.backend == "sqlite":
        assert db.sql("PRAGMA integrity_check") == [("ok",)]
        assert db.sql("PRAGMA foreign_key_check") == []
    else:
        # Every playlist item and saved track refers to a catalog row.
        assert db.sql("SELECT count(*) FROM playlist_items i LEFT JOIN tracks t "
                      "ON t.uri = i.item_uri WHERE i.item_uri IS NOT NULL "
                      "AND t.uri IS NULL") == [("0",)]
        assert db.sql("SELECT count(*) FROM saved_tracks s LEFT JOIN tracks t "
                      "ON t.uri = s.track_uri WHERE t.uri IS NULL") == [("0",)]


def change_everything(emu, before):
    """One change in each collection: unlike, a playlist item added, an
    artist unfollowed."""
    liked = [e["track"]["uri"] for e in before["liked"]]
    pl = next(p for p in before["playlists"] if p["items"])
    emu.mutate("alice", "unlike", uri=liked[5])
    emu.mutate("alice", "playlist_add", playlist=pl["id"], uris=[liked[0]])
    emu.mutate("alice", "unfollow", uri=before["followed_artists"][7]["uri"])
    after = emu.truth("alice")
    assert truth_liked(after) != truth_liked(before)
    assert truth_playlists(after) != truth_playlists(before)
    assert truth_following(after) != truth_following(before)
    return after


def held_count(emu):
    return emu.control("GET", "faults").get("held", 0)


@pytest.mark.parametrize("held", ["liked", "playlists"])
def test_kill_while_one_collection_is_held_leaves_old_or_new(env, db, held):
    emu, kt, browser = env
    sync(kt)
    before = emu.truth("alice")
    assert_synced(browser, before)
    after = change_everything(emu, before)
    # Hold the chosen collection (Liked Songs' first page, or one page of
    # playlist items: held requests keep their slots, so only one): the
    # others run to their commit meanwhile (playlists and following on their
    # threads, or liked on the run's).
    if held == "liked":
        emu.set_faults(hang_rate=1.0, only="GET /v1/me/tracks", user="alice")
    else:
        emu.set_faults(hang_rate=1.0, only="GET /v1/playlists/{id}/items", user="alice",
                       count=1)
    proc = subprocess.Popen([kt.bin, "sync", "--user", "1", *WHAT], env=kt.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if held == "liked":
            ktlib.wait_until(lambda: held_count(emu) > 0 and
                             stored_playlists(browser) == truth_playlists(after) and
                             stored_following(browser) == truth_following(after),
                             timeout=60, what="playlists and following written")
        else:
            ktlib.wait_until(lambda: held_count(emu) > 0 and
                             stored_liked(browser) == truth_liked(after),
                             timeout=60, what="liked songs written")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    emu.clear_faults(release=True)
    check_consistent(db)
    if held == "liked":
        assert stored_liked(browser) == truth_liked(before)
        assert stored_playlists(browser) == truth_playlists(after)
        assert stored_following(browser) == truth_following(after)
    else:
        assert stored_liked(browser) == truth_liked(after)
        assert stored_playlists(browser) == truth_playlists(before)
        # Following comes after playlists: its thread may or may not have
        # committed before the kill, but never half of it.
        assert stored_following(browser) in (truth_following(before), truth_following(after))
    sync(kt)
    assert_synced(browser, after)


def test_write_failure_on_a_helper_fails_the_run_cleanly(env, db):
    emu, kt, browser = env
    sync(kt)
    before = emu.truth("alice")
    assert_synced(browser, before)
    after = change_everything(emu, before)
    if db.backend == "sqlite":
        db.sql("CREATE TRIGGER kt_test_refuse BEFORE INSERT ON playlist_items "
               "BEGIN SELECT RAISE(ABORT, 'injected write failure'); END")
    else:
        db.sql("CREATE FUNCTION kt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
               "$f$ BEGIN RAISE EXCEPTION 'injected write failure'; END $f$")
        db.sql("CREATE TRIGGER kt_test_refuse BEFORE INSERT ON playlist_items "
               "FOR EACH STATEMENT EXECUTE FUNCTION kt_test_refuse()")
    r = sync(kt, ok=False)
    assert r.returncode != 0
    assert "playlists" in r.stderr and "injected write failure" in r.stderr, r.stderr
    run = last_run(browser)
    assert run["status"] == "failed"
    assert "playlists" in run["error"] and "injected write failure" in run["error"], run
    check_consistent(db)
    # Liked Songs (the run's thread, before playlists) is the new copy; the
    # playlists exactly the previous one (no playlist row, item or version of
    # the failed transaction); following either, never half.
    assert stored_liked(browser) == truth_liked(after)
    assert stored_playlists(browser) == truth_playlists(before)
    assert stored_following(browser) in (truth_following(before), truth_following(after))
    db.sql("DROP TRIGGER kt_test_refuse" + ("" if db.backend == "sqlite" else " ON playlist_items"))
    sync(kt)
    assert_synced(browser, after)

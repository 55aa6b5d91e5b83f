"""The library sync engine and its read API (issue 5), end to end: the
emulator's ground truth against what keeptrack serves after `keeptrack sync`,
on SQLite and PostgreSQL, in development and extended mode.

- a full sync equals the truth exactly (liked songs with added_at in order,
  every owned/collaborative playlist's items in order with local files, null
  entries and episodes, saved albums/shows/episodes, followed artists, top
  items, plays); followed playlists of others are metadata only;
- a no-change re-sync of liked + playlists + following spends at most
  1 + ceil(playlists/50) + ceil(followed/50) requests (emulator counters);
- mutations (like/unlike, playlist add/remove/reorder, new plays, follow)
  are reflected exactly, with playlist versions and their diff;
- 500s until retries run out mid-sync keep the previous copy and record the
  run as failed with the reason; QUOTA_EXCEEDED records it as deferred;
- the read API's parameters (400 naming the parameter, 401, user scoping);
- a 50,000-song library syncs completely (SQLite only, to keep it fast).
"""
import json
import math
import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from truth import (assert_matches_truth, get_all, last_run, playlist_items,  # noqa: E402
                   spotify_item)

ALICE = ("alice:liked=130,playlists=5,playlist_items=30-120,followed_playlists=2,albums=4,"
         "shows=3,episodes=5,followed=120,plays=40")
BOB = "bob:liked=3,playlists=1,playlist_items=2"
# No request budget in tests: the default (10/s) would make big syncs slow.
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000"}


def start_emulator(mode, *users):
    args = ["--redirect-uri", "any-loopback", "--mode", mode]
    for u in users:
        args += ["--user", u]
    return Emulator(args).start()


@pytest.fixture(params=["development", "extended"])
def mode(request):
    return request.param


@pytest.fixture
def env(request, mode, db, tmp_path):
    emu = start_emulator(mode, ALICE, BOB)
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    browser = kt.login("alice")
    yield emu, kt, browser
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()


def sync(kt, *what, ok=True):
    r = kt.cli("sync", "--user", "1", *what, timeout=300)
    if ok:
        assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
    return r


# ---- tests ----

def test_full_sync_equals_truth_and_no_change_resync_is_cheap(env):
    emu, kt, browser = env
    sync(kt)
    truth = assert_matches_truth(emu, browser)
    run = last_run(browser)
    assert run["status"] == "done" and run["error"] is None
    assert run["what"] == "liked,playlists,albums,shows,episodes,following,top,recent"
    assert run["added"] > 0 and run["removed"] == 0
    # Followed playlists of others: listed, items not read (no 403 error either).
    assert any(p["items"] is None for p in truth["playlists"])

    emu.reset_stats()
    sync(kt, "liked", "playlists", "following")
    spent = emu.stats()["total"]
    bound = 1 + math.ceil(len(truth["playlists"]) / 50) + \
        math.ceil(len(truth["followed_artists"]) / 50)
    assert spent <= bound, emu.stats()["endpoints"]
    run = last_run(browser)
    assert run["status"] == "done" and run["requests"] == spent
    assert run["added"] == 0 and run["removed"] == 0
    assert_matches_truth(emu, browser)


COUNTED = ("carl:liked=130,playlists=9,playlist_items=0-260,followed_playlists=2,followed=60,"
           "albums=0,shows=0,episodes=0,plays=0")


def expected_requests(truth, page, probe=1):
    """The requests of a full `sync liked playlists following` into an empty
    database, from the emulator's truth: every collection at its per-page
    maximum (playlist items: `page`), plus the mode probe (none once a sync
    found the app extended)."""
    readable = [p for p in truth["playlists"] if p["items"] is not None]
    items = sum(math.ceil(len(p["items"]) / page) for p in readable)
    return (max(1, math.ceil(len(truth["liked"]) / 50)) +
            max(1, math.ceil(len(truth["playlists"]) / 50)) + probe + items +
            max(1, math.ceil(len(truth["followed_artists"]) / 50))), items


def test_full_sync_spends_exactly_the_pages_of_each_mode(mode, db, tmp_path):
    """Extended mode reads playlist items 100 a page (/tracks), development
    mode 50 (/items): the full sync's request count is exact in both."""
    emu = start_emulator(mode, COUNTED)
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("carl")
        truth = emu.truth("carl")
        page = 100 if mode == "extended" else 50
        sizes = [len(p["items"]) for p in truth["playlists"] if p["items"] is not None]
        assert any(n > 100 for n in sizes) and any(50 < n <= 100 for n in sizes), sizes
        want, item_pages = expected_requests(truth, page)
        emu.reset_stats()
        sync(kt, "liked", "playlists", "following")
        stats = emu.stats()
        ep = "GET /v1/playlists/{id}/" + ("tracks" if mode == "extended" else "items")
        assert stats["endpoints"][ep]["count"] == item_pages, stats["endpoints"]
        assert stats["total"] == want, stats["endpoints"]
        assert last_run(browser)["requests"] == want
        item_paths = [r["path"] for r in stats["requests"] if r["path"].startswith("/v1/playlists/")]
        assert item_paths and all(f"limit={page}&" in p for p in item_paths), item_paths[:3]
        sync(kt, "albums", "shows", "episodes", "top", "recent")
        assert_matches_truth(emu, browser, "carl")
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()


@pytest.mark.parametrize("mode", ["extended"], indirect=True)
def test_app_that_lost_extended_quota_is_read_through_items(mode, db, tmp_path):
    """A sync that found the app extended lets the next process read /tracks
    without the mode probe; when the app has meanwhile lost extended quota,
    /tracks answers 403 and the sync reads /items instead: still exact, and
    the next sync asks for the mode again."""
    emu = start_emulator(mode, COUNTED)
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("carl")
        sync(kt)
        emu.set_faults(mode="development")
        truth = emu.truth("carl")
        i, pl = max(((i, p) for i, p in enumerate(truth["playlists"]) if p["items"]),
                    key=lambda ip: len(ip[1]["items"]))
        emu.mutate("carl", "playlist_remove", playlist=pl["id"],
                   uris=[spotify_item(pl["items"][0])["uri"]])
        n = len(emu.truth("carl", ["playlists"])["playlists"][i]["items"])
        emu.reset_stats()
        sync(kt, "playlists")
        eps = emu.stats()["endpoints"]
        assert eps["GET /v1/playlists/{id}/items"]["count"] == math.ceil(n / 50), eps
        assert 1 <= eps["GET /v1/playlists/{id}/tracks"]["statuses"]["403"] <= 8, eps
        assert "GET /v1/browse/new-releases" not in eps, "no probe: the stored mode was used"
        assert_matches_truth(emu, browser, "carl")
        assert dry_run(kt, "playlists")["mode"] == "development"
        emu.mutate("carl", "playlist_remove", playlist=pl["id"],
                   uris=[spotify_item(pl["items"][1])["uri"]])
        emu.reset_stats()
        sync(kt, "playlists")
        assert emu.count("GET /v1/browse/new-releases") == 1, "development mode is probed again"
        assert emu.count("GET /v1/playlists/{id}/tracks") == 0
        assert_matches_truth(emu, browser, "carl")
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()


def dry_run(kt, *what):
    r = kt.cli("sync", "--user", "1", "--dry-run", *what)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def test_dry_run_estimate_is_the_next_syncs_request_count(mode, db, tmp_path):
    """`keeptrack sync --dry-run` and GET /api/sync/estimate count, from the
    stored copy and without a request, exactly what the next sync spends:
    `requests` when nothing changed, `if_changed` when every collection
    changed at the same sizes (liked songs, every readable playlist)."""
    emu = start_emulator(mode, COUNTED)
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("carl")
        sync(kt)
        truth = emu.truth("carl")
        emu.reset_stats()
        est = dry_run(kt)
        assert emu.stats()["total"] == 0, "a dry run sends nothing"
        assert est["mode"] == mode and est["synced"] is True
        api = browser.get("/api/sync/estimate")
        assert api.status == 200, api
        assert {**api.json(), "user": 1, "account_id": est["account_id"]} == est
        # Extended: the first sync's probe is remembered, the next sync asks nothing.
        want, _ = expected_requests(truth, 100 if mode == "extended" else 50,
                                    probe=0 if mode == "extended" else 1)
        # liked, playlists and following read whole, + albums, shows, episodes (1 each),
        # 6 top lists, recently played.
        assert est["if_changed"] == want + 3 + 6 + 1, est
        sync(kt)
        assert emu.stats()["total"] == est["requests"], (est, emu.stats()["endpoints"])

        # Every collection changes, none changes size.
        liked = [e["track"]["uri"] for e in truth["liked"]]
        fresh = [spotify_item(i)["uri"] for p in truth["playlists"] if p["items"]
                 for i in p["items"] if spotify_item(i) and
                 spotify_item(i)["uri"].startswith("spotify:track:") and
                 spotify_item(i)["uri"] not in liked]
        emu.mutate("carl", "unlike", uri=liked[5])
        emu.mutate("carl", "like", uri=fresh[0])
        for p in truth["playlists"]:
            if p["items"] is None:
                continue
            there = {spotify_item(i)["uri"] for i in p["items"] if spotify_item(i)}
            extra = next(u for u in liked if u not in there)
            emu.mutate("carl", "playlist_add", playlist=p["id"], uris=[extra])
            emu.mutate("carl", "playlist_remove", playlist=p["id"], uris=[extra])
        est = dry_run(kt)
        assert dry_run(kt, "liked", "playlists")["requests"] == \
            est["collections"]["liked"]["requests"] + est["collections"]["playlists"]["requests"]
        emu.reset_stats()
        sync(kt)
        assert emu.stats()["total"] == est["if_changed"], (est, emu.stats()["endpoints"])
        assert_matches_truth(emu, browser, "carl")
        assert browser.get("/api/sync/estimate?what=nope").status == 400
    finally:
        rc = kt.stop()
        emu.stop()
    assert rc == 0, kt.log()


def test_mutations_are_reflected_exactly(env):
    emu, kt, browser = env
    sync(kt)
    truth = emu.truth("alice")
    liked = [e["track"]["uri"] for e in truth["liked"]]
    own = [p for p in truth["playlists"] if p["items"] and len(p["items"]) >= 10]
    pl = own[0]
    new_track = next(spotify_item(i)["uri"] for p in truth["playlists"] if p["items"]
                     for i in p["items"] if spotify_item(i) and
                     spotify_item(i)["uri"].startswith("spotify:track:") and
                     spotify_item(i)["uri"] not in liked)
    emu.mutate("alice", "unlike", uri=liked[60])
    emu.mutate("alice", "like", uri=new_track)
    before = pl["snapshot_id"]
    emu.mutate("alice", "playlist_add", playlist=pl["id"], uris=[liked[0], liked[1]], position=3)
    victim = next(spotify_item(i)["uri"] for i in pl["items"]
                  if spotify_item(i) and spotify_item(i)["uri"].startswith("spotify:track:"))
    emu.mutate("alice", "playlist_remove", playlist=pl["id"], uris=[victim])
    emu.mutate("alice", "playlist_reorder", playlist=pl["id"], range_start=0, insert_before=7,
               range_length=2)
    emu.mutate("alice", "play", uri=new_track)
    emu.mutate("alice", "unfollow", uri="spotify:artist:" + truth["followed_artists"][5]["id"])
    sync(kt)
    after_truth = assert_matches_truth(emu, browser)
    run = last_run(browser)
    assert run["added"] >= 1 + 2 + 1 and run["removed"] >= 1 + 1 + 1

    after = next(p for p in after_truth["playlists"] if p["id"] == pl["id"])["snapshot_id"]
    assert after != before
    r = browser.get(f"/api/playlists/{pl['id']}/versions")
    assert r.status == 200, r
    snaps = [v["snapshot_id"] for v in r.json()["items"]]
    assert snaps[0] == after and before in snaps
    r = browser.get(f"/api/playlists/{pl['id']}/diff?" +
                    urllib.parse.urlencode({"from": before, "to": after}))
    assert r.status == 200, r
    diff = r.json()
    assert sorted(a["uri"] for a in diff["added"]) == sorted([liked[0], liked[1]])
    assert [d["uri"] for d in diff["removed"]] == \
        [spotify_item(i)["uri"] for i in pl["items"]
         if spotify_item(i) and spotify_item(i)["uri"] == victim]
    assert diff["reordered"] is True


def test_failure_keeps_previous_state_and_records_reason(env):
    emu, kt, browser = env
    sync(kt, "liked", "playlists")
    truth = emu.truth("alice")
    pl = next(p for p in truth["playlists"] if p["items"])
    old_items = playlist_items(browser, pl["id"])
    liked = [e["track"]["uri"] for e in truth["liked"]]
    emu.mutate("alice", "playlist_add", playlist=pl["id"], uris=[liked[0]])
    emu.mutate("alice", "unlike", uri=liked[3])
    # Every item page fails with 500 until the client's retries run out.
    emu.set_faults(fail_rate=1.0, only="GET /v1/playlists/{id}/items")
    emu.set_faults(fail_rate=1.0, only="GET /v1/playlists/{id}/tracks")
    r = sync(kt, "liked", "playlists", ok=False)
    assert r.returncode != 0
    assert "playlists" in r.stderr, r.stderr
    run = last_run(browser)
    assert run["status"] == "failed"
    assert run["error"] and "playlists" in run["error"]
    # Liked songs finished before the failure; the playlist is as it was.
    assert liked[3] not in [e["track"]["uri"] for e in get_all(browser, "/api/library/tracks")]
    mine = browser.get(f"/api/playlists/{pl['id']}").json()
    assert mine["snapshot_id"] == pl["snapshot_id"]
    assert playlist_items(browser, pl["id"]) == old_items
    emu.clear_faults()
    sync(kt)
    assert_matches_truth(emu, browser)


def test_quota_exceeded_is_recorded_as_deferred(env):
    emu, kt, browser = env
    emu.set_faults(quota_exceeded=True)
    r = sync(kt, "liked", ok=False)
    assert r.returncode != 0 and "deferred until" in r.stderr, r.stderr
    run = last_run(browser)
    assert run["status"] == "deferred"
    assert run["error"]


def test_read_api_parameters_and_scoping(env):
    emu, kt, browser = env
    sync(kt)
    for path, name in [("/api/library/tracks?limit=0", "limit"),
                       ("/api/library/tracks?limit=abc", "limit"),
                       ("/api/library/tracks?offset=-1", "offset"),
                       ("/api/library/tracks?sort=popularity", "sort"),
                       ("/api/library/tracks?order=up", "order"),
                       ("/api/top/tracks?range=forever", "range"),
                       ("/api/top/tracks?day=2026-13-01", "day"),
                       ("/api/plays?from=yesterday", "from"),
                       ("/api/sync/runs?limit=100000", "limit")]:
        r = browser.get(path)
        assert r.status == 400, (path, r)
        assert r.json()["error"]["message"].startswith(name + ":"), (path, r.text)
    pid = browser.get("/api/playlists").json()["items"][0]["id"]
    r = browser.get(f"/api/playlists/{pid}/diff?from=x")
    assert r.status == 400 and "to:" in r.json()["error"]["message"]
    r = browser.get(f"/api/playlists/{pid}/diff?from=nope&to=nope")
    assert r.status == 404
    assert browser.get("/api/top/albums").status == 404
    # Not logged in: 401. Another user's playlist: 404, as if it did not exist.
    assert kt.client().get("/api/library/tracks").status == 401
    assert kt.client().get(f"/api/playlists/{pid}").status == 401
    bob = kt.login("bob")
    assert bob.get(f"/api/playlists/{pid}").status == 404
    assert bob.get(f"/api/playlists/{pid}/versions").status == 404
    assert bob.get("/api/library/tracks").json()["total"] == 0
    # Search and sort on liked songs.
    truth = emu.truth("alice")
    t0 = truth["liked"][0]["track"]
    word = t0["artists"][0]["name"].split()[0].upper()
    hits = get_all(browser, "/api/library/tracks?q=" + word)
    want = [e["track"]["uri"] for e in truth["liked"]
            if word.lower() in e["track"]["name"].lower()
            or word.lower() in e["track"]["album"]["name"].lower()
            or any(word.lower() in a["name"].lower() for a in e["track"]["artists"])]
    assert [e["track"]["uri"] for e in hits] == want and want
    oldest = browser.get("/api/library/tracks?sort=added_at&order=asc&limit=1").json()
    assert oldest["items"][0]["track"]["uri"] == truth["liked"][-1]["track"]["uri"]
    by_date = get_all(browser, "/api/library/tracks?sort=release_date&order=desc")
    dates = [e["track"]["album"]["release_date"] for e in by_date]
    assert dates == sorted(dates, reverse=True)
    # Plays in a window.
    plays = get_all(browser, "/api/plays")
    mid = plays[len(plays) // 2]["played_at"]
    newer = get_all(browser, "/api/plays?from=" + mid)
    assert newer == plays[:len(plays) // 2 + 1]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_fifty_thousand_liked_songs(db, tmp_path):
    emu = start_emulator("development", "big:liked=50000,playlists=0,followed=0,albums=0,"
                         "shows=0,episodes=0,plays=0,followed_playlists=0")
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        browser = kt.login("big")
        sync(kt, "liked")
        truth = emu.truth("big", sections=["liked"])["liked"]
        liked = get_all(browser, "/api/library/tracks")
        assert len(liked) == 50000
        assert [(e["added_at"], e["track"]["uri"]) for e in liked] == \
            [(e["added_at"], e["track"]["uri"]) for e in truth]
        emu.reset_stats()
        sync(kt, "liked")
        assert emu.stats()["total"] == 1
    finally:
        kt.stop()
        emu.stop()

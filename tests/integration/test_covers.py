"""Playlist covers (issue 18, item 6), end to end against the emulator's
truth, on SQLite and PostgreSQL:

- a custom cover of a playlist the user owns is kept with the playlist's
  version: the stored bytes are the emulator's (its cover_sha256), the
  generated mosaic of the others is not kept;
- a no-change re-sync downloads no image and spends no extra Web API request
  (covers come with the playlist list; the bytes come from the image host
  only when a URL is new);
- a new cover gives a new version with the new bytes while the old version
  keeps the old ones; the same bytes on another playlist are stored once and
  not downloaded again;
- bad (not a JPEG) or oversized image data from the image host is refused:
  the sync succeeds, the version keeps no cover, a warning is logged.
"""
import base64
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from truth import last_run  # noqa: E402

ALICE = ("alice:liked=3,playlists=3,playlist_items=2-5,followed_playlists=1,albums=0,shows=0,"
         "episodes=0,followed=0,plays=0")
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000"}
COVER_MAX_BYTES = 256 * 1024 // 4 * 3  # Spotify's 256 KB of base64


@pytest.fixture
def env(db, tmp_path):
    """alice's own emulator and keeptrack (db: conftest's, both back-ends)."""
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    browser = kt.login("alice")
    yield emu, kt, browser
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()


def jpeg(n, salt=b"a"):
    return b"\xff\xd8\xff\xe0" + (salt * n)[: n - 4]


def set_cover(emu, pid, data, unchecked=False):
    return emu.mutate("alice", op="playlist_cover", playlist=pid,
                      jpeg_base64=base64.b64encode(data).decode(), unchecked=unchecked)


def sync(kt):
    r = kt.cli("sync", "--user", "1", "playlists", timeout=300)
    assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
    return r


def versions(db):
    """{(playlist, snapshot): (cover_sha256, bytes)} of every stored version."""
    hexfn = "hex(c.bytes)" if db.backend == "sqlite" else "encode(c.bytes, 'hex')"
    rows = db.sql("SELECT p.spotify_id, v.snapshot_id, v.cover_sha256, " + hexfn +
                  " FROM playlist_versions v JOIN playlists p ON p.id = v.playlist_id "
                  "LEFT JOIN playlist_covers c ON c.user_id = p.user_id AND c.sha256 = v.cover_sha256")
    return {(r[0], r[1]): (r[2] or None, bytes.fromhex(r[3]) if r[3] else None) for r in rows}


def count_covers(db):
    return int(db.sql("SELECT COUNT(*) FROM playlist_covers")[0][0])


def served(emu):
    return emu.control("GET", "images")["covers_served"]


def owned(emu):
    pls = emu.truth("alice", ["playlists"])["playlists"]
    return [p for p in pls if p["owner"]["id"] == "alice" and not p["collaborative"]]


def current(emu, pid):
    return next(p for p in emu.truth("alice", ["playlists"])["playlists"] if p["id"] == pid)


def test_cover_kept_per_version_and_downloaded_once(env, db):
    emu, kt, browser = env
    a, b = owned(emu)[:2]
    raw = jpeg(20000)
    set_cover(emu, a["id"], raw)
    sync(kt)
    ta = current(emu, a["id"])
    v = versions(db)
    assert v[(a["id"], ta["snapshot_id"])] == (ta["cover_sha256"], raw)
    assert v[(b["id"], b["snapshot_id"])] == (None, None)  # the mosaic is not kept
    assert served(emu) == 1

    # No change: no image downloaded, no request beyond the list.
    emu.reset_stats()
    sync(kt)
    assert served(emu) == 1
    stats = emu.stats()
    assert set(stats["endpoints"]) == {"GET /v1/me/playlists"}, stats["endpoints"]
    assert last_run(browser)["requests"] == stats["total"]

    # A new cover: a new version with it; the old version keeps the old one.
    raw2 = jpeg(500, b"b")
    set_cover(emu, a["id"], raw2)
    sync(kt)
    ta2 = current(emu, a["id"])
    v = versions(db)
    assert v[(a["id"], ta2["snapshot_id"])] == (ta2["cover_sha256"], raw2)
    assert v[(a["id"], ta["snapshot_id"])] == (ta["cover_sha256"], raw)
    assert served(emu) == 2

    # The same bytes on another playlist: its URL is known, nothing downloaded,
    # the bytes stored once.
    set_cover(emu, b["id"], raw2)
    sync(kt)
    tb = current(emu, b["id"])
    assert versions(db)[(b["id"], tb["snapshot_id"])] == (ta2["cover_sha256"], raw2)
    assert served(emu) == 2
    assert count_covers(db) == 2
    assert last_run(browser)["status"] == "done"


def test_bad_or_oversized_cover_is_refused(env, db):
    emu, kt, browser = env
    a, b = owned(emu)[:2]
    set_cover(emu, a["id"], b"GIF89a not a jpeg at all", unchecked=True)
    set_cover(emu, b["id"], jpeg(COVER_MAX_BYTES + 1), unchecked=True)
    r = sync(kt)
    assert last_run(browser)["status"] == "done"
    v = versions(db)
    for p in (a, b):
        t = current(emu, p["id"])
        assert t["cover_sha256"] is not None
        assert v[(p["id"], t["snapshot_id"])] == (None, None)
    assert count_covers(db) == 0
    assert (r.stdout + r.stderr).count("playlist_cover_skipped") == 2, r.stderr
    # Once the host serves a good cover, the next sync keeps it.
    raw = jpeg(3000)
    set_cover(emu, a["id"], raw)
    sync(kt)
    t = current(emu, a["id"])
    assert versions(db)[(a["id"], t["snapshot_id"])] == (t["cover_sha256"], raw)


def wait_restore(browser, answer):
    assert answer.status == 202, answer
    body = answer.json()
    job = ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            browser.get(f"/api/jobs/{body['job_id']}").json()), 60, what="restore job")
    assert job["state"] == "done", job
    return browser.get(f"/api/restore/{body['restore_id']}").json()


def test_version_restore_uploads_its_cover(env, db):
    emu, kt, browser = env
    a = owned(emu)[0]
    set_cover(emu, a["id"], jpeg(4000))
    sync(kt)
    v1 = current(emu, a["id"])
    set_cover(emu, a["id"], jpeg(900, b"c"))
    sync(kt)
    assert current(emu, a["id"])["cover_sha256"] != v1["cover_sha256"]
    emu.reset_stats()
    # In place: the playlist gets the version's items, then its cover back.
    wait_restore(browser, browser.post(f"/api/playlists/{a['id']}/versions/restore",
                                       json={"snapshot": v1["snapshot_id"], "mode": "in_place"}))
    assert current(emu, a["id"])["cover_sha256"] == v1["cover_sha256"]
    assert emu.count("PUT /v1/playlists/{id}/images") == 1
    # As a new playlist: the new one has the cover too.
    rep = wait_restore(browser, browser.post(f"/api/playlists/{a['id']}/versions/restore",
                                             json={"snapshot": v1["snapshot_id"], "mode": "new"}))
    new_id = rep["report"]["playlists"][0]["target_id"]
    assert new_id != a["id"]
    assert current(emu, new_id)["cover_sha256"] == v1["cover_sha256"]
    assert emu.count("PUT /v1/playlists/{id}/images") == 2


def test_backup_holds_the_covers(env, db, tmp_path):
    emu, kt, browser = env
    a = owned(emu)[0]
    raw = jpeg(6000)
    set_cover(emu, a["id"], raw)
    sync(kt)
    out = tmp_path / "backups"
    r = kt.cli("backup", env={"KEEPTRACK_BACKUP_DIR": str(out)}, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    files = [f for f in os.listdir(out) if f.endswith((".sqlite", ".pgdump"))]
    assert len(files) == 1, files
    path = os.path.join(out, files[0])
    if db.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(path)
        try:
            assert con.execute("SELECT bytes FROM playlist_covers").fetchall() == [(raw,)]
        finally:
            con.close()
    else:
        import subprocess
        listing = subprocess.run(["pg_restore", "--list", path], capture_output=True, text=True,
                                 timeout=60)
        assert listing.returncode == 0, listing.stderr
        assert "TABLE DATA" in listing.stdout and " playlist_covers " in listing.stdout


def test_covers_in_versions_exports_and_thumbnails(env, db):
    """Each version's cover (hash and URL, never the bytes) in GET
    /api/playlists/{id}/versions, the JSON export and the CSV zip's
    playlist_versions.csv; GET /api/covers/{sha256} serves the stored bytes
    (the versions view's thumbnails), also of a cover Spotify replaced."""
    import csv
    import io
    import zipfile
    emu, kt, browser = env
    a = owned(emu)[0]
    sync(kt)  # a first version with Spotify's mosaic
    first = current(emu, a["id"])
    raw = jpeg(3000, b"c")
    set_cover(emu, a["id"], raw)
    sync(kt)
    ta = current(emu, a["id"])
    assert ta["images"] and ta["images"][0]["height"] is None
    cover = {"sha256": ta["cover_sha256"], "url": ta["images"][0]["url"]}
    r = browser.get(f"/api/playlists/{a['id']}/versions")
    assert r.status == 200, r
    got = {v["snapshot_id"]: v["cover"] for v in r.json()["items"]}
    assert got == {ta["snapshot_id"]: cover, first["snapshot_id"]: None}
    # the thumbnail's bytes, from keeptrack's copy even once Spotify replaced the cover
    set_cover(emu, a["id"], jpeg(600, b"d"))
    sync(kt)
    img = browser.get(f"/api/covers/{ta['cover_sha256']}", accept_json=False)
    assert img.status == 200 and img.headers["Content-Type"] == "image/jpeg", img
    assert img.body == raw
    assert browser.get("/api/covers/NOT-A-HASH").status == 400
    assert browser.get("/api/covers/" + "0" * 64).status == 404
    assert kt.client().get(f"/api/covers/{ta['cover_sha256']}").status == 401
    # the JSON export: per version {sha256, url} or null, no bytes
    doc = browser.get("/api/export?format=json").json()
    pl = next(p for p in doc["playlists"] if p["id"] == a["id"])
    exported = {v["snapshot_id"]: v["cover"] for v in pl["versions"]}
    assert exported[ta["snapshot_id"]] == cover and exported[first["snapshot_id"]] is None
    assert base64.b64encode(raw).decode()[:40] not in str(doc)
    # the CSV zip's index of versions
    z = zipfile.ZipFile(io.BytesIO(browser.get("/api/export?format=csv", accept_json=False).body))
    rows = list(csv.reader(io.StringIO(z.read("playlist_versions.csv").decode("utf-8"))))
    assert rows[0] == ["Playlist ID", "Playlist Name", "Snapshot ID", "Seen At", "Tracks",
                       "Cover SHA-256", "Cover URL"]
    mine = {r[2]: r for r in rows[1:] if r[0] == a["id"]}
    assert mine[ta["snapshot_id"]][5:] == [cover["sha256"], cover["url"]]
    assert mine[ta["snapshot_id"]][1] == ta["name"]
    assert mine[ta["snapshot_id"]][4] == str(ta["items_total"] if "items_total" in ta
                                             else len(ta["items"]))
    assert mine[first["snapshot_id"]][5:] == ["", ""]
    assert len(rows) - 1 == int(db.sql("SELECT COUNT(*) FROM playlist_versions")[0][0])

"""Export and restore into Spotify (issue 9), end to end on SQLite and
PostgreSQL against the emulator:

- the JSON export holds everything with format_version 1; the CSV zip has
  Exportify's exact header and parses back (python csv) to Liked Songs and
  every owned playlist in order;
- restoring alice's export into an EMPTY account (a user created through
  the control API and logged in) reproduces every owned playlist exactly
  (names, items in order, minus the local files, which are reported) and
  Liked Songs in order, compared with the emulator's truth; the same from
  the CSV zip through the CLI;
- a second restore writes nothing (emulator counters), a dry run writes
  nothing and reports the plan;
- an earlier playlist version restored in place makes the truth equal it;
- a restore job deferred by QUOTA_EXCEEDED right after creating a playlist
  fills that same playlist when it resumes: no second playlist;
- the CSV files uploaded one per part of a multipart/form-data body restore
  the same; a bad part is a 400 naming it and nothing is written;
- bad uploads (wrong format, truncated zip, bad CSV row) are 400s naming
  the file and line; over the limit is 413.
"""
import csv
import io
import json
import os
import sys
import zipfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402

ALICE = ("alice:liked=60,playlists=4,playlist_items=20-130,followed_playlists=1,albums=2,"
         "shows=1,episodes=2,followed=5,plays=10")
EMPTY = dict(liked=0, playlists=0, followed_playlists=0, albums=0, shows=0, episodes=0,
             followed=0, plays=0)
# Deferred jobs (QUOTA_EXCEEDED) come back within 3 s instead of Spotify's hour.
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_MAX_DEFER_S": "3",
          "KEEPTRACK_JOB_POLL_MS": "50"}
HEADER = ["Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)", "Album URI",
          "Album Name", "Album Artist URI(s)", "Album Artist Name(s)", "Album Release Date",
          "Album Image URL", "Disc Number", "Track Number", "Track Duration (ms)",
          "Track Preview URL", "Explicit", "Popularity", "ISRC", "Added By", "Added At"]


@pytest.fixture
def env(db, tmp_path):
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE]).start()
    emu.add_user("carol", **EMPTY)
    emu.add_user("dave", **EMPTY)
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    alice = kt.login("alice")
    r = kt.cli("sync", "--user", "1", timeout=300)
    assert r.returncode == 0, (r.stderr, kt.log()[-3000:])
    yield emu, kt, alice
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()


def entry_uri(e):
    t = e.get("item", e.get("track"))
    return t["uri"] if t else None


def owned(truth):
    return [p for p in truth["playlists"] if p["items"] is not None]


def addable(uris):
    return [u for u in uris if u and not u.startswith("spotify:local:")]


def writes(emu):
    return {k: v["count"] for k, v in emu.stats()["endpoints"].items()
            if k.split(" ")[0] in ("POST", "PUT", "DELETE") and " /v1/" in k}


def wait_restore(browser, answer, state="done"):
    assert answer.status == 202, answer
    body = answer.json()
    job = ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            browser.get(f"/api/jobs/{body['job_id']}").json()), 60, what="restore job")
    assert job["state"] == state, job
    r = browser.get(f"/api/restore/{body['restore_id']}")
    assert r.status == 200, r
    return r.json()


def upload(browser, data, query="", ctype="application/json", name=None):
    q = query + (("&" if query else "") + "name=" + name if name else "")
    return browser.post("/api/restore" + ("?" + q if q else ""), data=data,
                        headers={"Content-Type": ctype})


def assert_restored(emu, user, source_truth):
    t = emu.truth(user)
    got = {p["name"]: [entry_uri(e) for e in p["items"]] for p in t["playlists"]}
    for p in owned(source_truth):
        assert got.pop(p["name"], got) == addable(entry_uri(e) for e in p["items"]), p["name"]
    assert got == {}
    assert [entry_uri(e) for e in t["liked"]] == [entry_uri(e) for e in source_truth["liked"]]


def test_export_formats(env):
    emu, kt, alice = env
    truth = emu.truth("alice")
    r = alice.get("/api/export?format=json")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert "attachment" in r.headers["Content-Disposition"]
    exp = r.json()
    assert exp["format"] == "keeptrack-export" and exp["format_version"] == 1
    assert exp["user"]["spotify_id"] == "alice"
    assert [x["track"]["uri"] for x in exp["liked_songs"]] == [entry_uri(e) for e in truth["liked"]]
    assert [x["added_at"] for x in exp["liked_songs"]] == [e["added_at"]
                                                           for e in truth["liked"]]
    assert len(exp["saved_albums"]) == 2 and len(exp["saved_episodes"]) == 2
    assert len(exp["followed_artists"]) == 5 and len(exp["plays"]) == 10 and exp["top"]
    by_id = {p["id"]: p for p in exp["playlists"]}
    for p in truth["playlists"]:
        mine = by_id[p["id"]]
        assert mine["name"] == p["name"]
        if p["items"] is None:
            assert mine["items"] is None
            continue
        assert [(x["track"] or {}).get("uri") for x in mine["items"]] == \
            [entry_uri(e) for e in p["items"]]
        assert mine["versions"][0]["snapshot_id"] == p["snapshot_id"]
    assert alice.get("/api/export?format=xml").status == 400
    assert kt.client().get("/api/export").status == 401

    r = alice.get("/api/export?format=csv")
    assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.body))
    rows = list(csv.reader(io.StringIO(z.read("liked_songs.csv").decode())))
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == [entry_uri(e) for e in truth["liked"]]
    assert all(len(row) == len(HEADER) for row in rows)
    first = truth["liked"][0]["track"]
    assert rows[1][1] == first["name"] and rows[1][12] == str(first["duration_ms"])
    assert rows[1][3] == ",".join(a["name"] for a in first["artists"])
    for p in owned(truth):
        rows = list(csv.reader(io.StringIO(z.read(p["name"] + ".csv").decode())))
        assert rows[0] == HEADER
        assert [row[0] or None for row in rows[1:]] == [entry_uri(e) for e in p["items"]]
    assert sorted(z.namelist()) == sorted(["liked_songs.csv", "playlist_versions.csv"] +
                                          [p["name"] + ".csv" for p in owned(truth)])

    out = os.path.join(kt.tmpdir, "cli.json")
    r = kt.cli("export", "--user", "1", "--format", "json", "--out", out)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        import json
        cli_exp = json.load(f)
    assert cli_exp["liked_songs"] == exp["liked_songs"]


def test_restore_into_empty_account(env):
    emu, kt, alice = env
    truth = emu.truth("alice")
    exp = alice.get("/api/export?format=json").body
    carol = kt.login("carol")

    # dry run: the plan, no writes
    emu.reset_stats()
    rep = wait_restore(carol, upload(carol, exp, "liked=true&dry_run=true"))["report"]
    assert rep["dry_run"] is True and writes(emu) == {}
    assert emu.truth("carol")["liked"] == [] and emu.truth("carol")["playlists"] == []
    assert {p["action"] for p in rep["playlists"]} == {"create", "skipped"}
    assert rep["liked"]["to_save"] == 60

    rep = wait_restore(carol, upload(carol, exp, "liked=true"))["report"]
    assert_restored(emu, "carol", truth)
    local = [u for p in owned(truth) for u in (entry_uri(e) for e in p["items"])
             if u and u.startswith("spotify:local:")]
    assert sorted(u for p in rep["playlists"] for u in p["local_files"]) == sorted(local)
    assert rep["writes"] == sum(writes(emu).values())

    # twice: nothing written the second time
    emu.reset_stats()
    rep = wait_restore(carol, upload(carol, exp, "liked=true"))["report"]
    assert writes(emu) == {}
    assert {p["action"] for p in rep["playlists"]} <= {"unchanged", "skipped"}
    assert rep["liked"]["to_save"] == 0 and rep["writes"] == 0
    assert_restored(emu, "carol", truth)


def test_restore_deferred_after_a_create_resumes_into_the_same_playlist(env):
    emu, kt, alice = env
    truth = emu.truth("alice")
    exp = alice.get("/api/export?format=json").body
    carol = kt.login("carol")
    # The first fill after the first create hits the quota: the job defers
    # with one empty playlist made, then resumes (deferrals capped at 3 s).
    emu.set_faults(quota_exceeded=True, only="POST /v1/playlists/{id}/items", count=1)
    emu.reset_stats()
    answer = wait_restore(carol, upload(carol, exp))
    assert answer["status"] == "done", answer
    creates = emu.stats()["endpoints"]["POST /v1/me/playlists"]["count"]
    assert creates == len(owned(truth))  # once per playlist, none again on resume
    assert len(emu.truth("carol")["playlists"]) == len(owned(truth))
    assert_restored(emu, "carol", dict(truth, liked=[]))
    made = [p for p in answer["report"]["playlists"] if p["action"] != "skipped"]
    assert {p["action"] for p in made} == {"create"}
    assert sorted(p["target_id"] for p in made) == sorted(
        p["id"] for p in emu.truth("carol")["playlists"])


def test_cli_restore_rerun_after_a_deferral_fills_the_same_playlist(env):
    """`keeptrack restore` records the playlists it creates as the job does:
    quota on the first fill after the first create ends the run with one
    empty playlist made; running the same command again fills that one,
    so each source playlist exists exactly once."""
    emu, kt, alice = env
    truth = emu.truth("alice")
    path = os.path.join(kt.tmpdir, "export.json")
    with open(path, "wb") as f:
        f.write(alice.get("/api/export?format=json").body)
    kt.login("carol")
    emu.set_faults(quota_exceeded=True, only="POST /v1/playlists/{id}/items", count=1)
    emu.reset_stats()
    r = kt.cli("restore", "--user", "2", path, timeout=300)
    assert r.returncode == 1 and "asks to wait until" in r.stderr, (r.stdout, r.stderr)
    assert emu.count("POST /v1/me/playlists") == 1
    first = emu.truth("carol")["playlists"]
    assert len(first) == 1 and first[0]["items"] == []
    r = kt.cli("restore", "--user", "2", path, timeout=300)
    assert r.returncode == 0, (r.stderr, kt.log()[-2000:])
    assert emu.count("POST /v1/me/playlists") == len(owned(truth))  # none twice
    mine = emu.truth("carol")["playlists"]
    assert len(mine) == len(owned(truth))
    assert first[0]["id"] in [p["id"] for p in mine]
    assert_restored(emu, "carol", dict(truth, liked=[]))
    made = [p for p in json.loads(r.stdout)["playlists"] if p["action"] != "skipped"]
    assert {p["action"] for p in made} == {"create"}
    assert sorted(p["target_id"] for p in made) == sorted(p["id"] for p in mine)
    # Done: a third run is a new request that finds everything in place.
    emu.reset_stats()
    r = kt.cli("restore", "--user", "2", path, timeout=300)
    assert r.returncode == 0 and writes(emu) == {}, r.stderr


def test_restore_csv_zip_with_cli(env):
    emu, kt, alice = env
    truth = emu.truth("alice")
    path = os.path.join(kt.tmpdir, "export.zip")
    with open(path, "wb") as f:
        f.write(alice.get("/api/export?format=csv").body)
    kt.login("dave")
    r = kt.cli("restore", "--user", "2", path, "--liked", timeout=300)
    assert r.returncode == 0, (r.stderr, kt.log()[-2000:])
    assert_restored(emu, "dave", truth)
    emu.reset_stats()
    r = kt.cli("restore", "--user", "2", path, "--liked", timeout=300)
    assert r.returncode == 0 and writes(emu) == {}
    # refill by name after a change: only that playlist is rewritten
    p = owned(truth)[0]
    target = next(x for x in emu.truth("dave")["playlists"] if x["name"] == p["name"])
    emu.mutate("dave", op="playlist_remove", playlist=target["id"],
               uris=[entry_uri(target["items"][0])])
    emu.reset_stats()
    r = kt.cli("restore", "--user", "2", path, "--refill", "--playlists", p["name"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert set(writes(emu)) <= {"PUT /v1/playlists/{id}/items", "POST /v1/playlists/{id}/items"}
    assert_restored(emu, "dave", truth)


def multipart(files, boundary="kt-restore-boundary"):
    """A multipart/form-data body with one file part per (name, bytes)."""
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
             f"filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n".encode() + data + b"\r\n"
             for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_restore_multipart_csv_files(env):
    emu, kt, alice = env
    truth = emu.truth("alice")
    with zipfile.ZipFile(io.BytesIO(alice.get("/api/export?format=csv").body)) as z:
        files = [(n, z.read(n)) for n in z.namelist() if n.endswith(".csv")]
    # every owned playlist, liked_songs.csv and playlist_versions.csv (the
    # versions' index, which a restore skips)
    assert len(files) == len(owned(truth)) + 2
    carol = kt.login("carol")
    # one bad part among good ones: 400 naming it and its line, nothing written
    bad = (",".join(HEADER) + "\r\nnot-a-uri" + "," * 18 + "\r\n").encode()
    body, ctype = multipart(files + [("Broken Mix.csv", bad)])
    emu.reset_stats()
    r = upload(carol, body, ctype=ctype)
    msg = r.json()["error"]["message"]
    assert r.status == 400 and "Broken Mix.csv line 2" in msg, msg
    assert writes(emu) == {}
    body, ctype = multipart(files)
    r = upload(carol, body, "liked=true", ctype=ctype)
    assert r.status == 202 and r.json()["playlists"] == len(owned(truth)), r
    assert r.json()["liked"] == len(truth["liked"])
    answer = wait_restore(carol, r)
    assert answer["source"] == f"upload {files[0][0]} +{len(files) - 1} more"
    assert_restored(emu, "carol", truth)
    # a multipart body without a file part is refused like any bad body
    r = upload(carol, b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n",
               ctype="multipart/form-data; boundary=b")
    assert r.status == 400 and r.json()["error"]["code"] == "no_file", r


def test_restore_earlier_version_in_place(env):
    emu, kt, alice = env
    p = owned(emu.truth("alice"))[0]
    old = [entry_uri(e) for e in p["items"]]
    emu.mutate("alice", op="playlist_remove", playlist=p["id"], uris=[addable(old)[0]])
    assert kt.cli("sync", "--user", "1", "playlists").returncode == 0
    versions = alice.get(f"/api/playlists/{p['id']}/versions").json()["items"]
    assert len(versions) == 2
    r = alice.post(f"/api/playlists/{p['id']}/versions/{p['snapshot_id']}/restore",
                   json={"mode": "in_place"})
    rep = wait_restore(alice, r)["report"]
    assert rep["playlists"][0]["action"] == "refill"
    now = next(x for x in emu.truth("alice")["playlists"] if x["id"] == p["id"])
    assert [entry_uri(e) for e in now["items"]] == addable(old)
    assert alice.post(f"/api/playlists/{p['id']}/versions/nope/restore",
                      json={"mode": "new"}).status == 404
    assert alice.post(f"/api/playlists/{p['id']}/versions/{p['snapshot_id']}/restore",
                      json={"mode": "sideways"}).status == 400


def test_restore_version_whose_snapshot_id_has_a_slash(env):
    # Snapshot ids are base64: '/' is common and cannot travel in a path
    # segment, so the version to restore goes in the body.
    emu, kt, alice = env
    p = owned(emu.truth("alice"))[0]
    liked = [e["track"]["uri"] for e in emu.truth("alice")["liked"]]
    for i in range(24):
        cur = next(x for x in emu.truth("alice")["playlists"] if x["id"] == p["id"])
        if "/" in cur["snapshot_id"]:
            break
        emu.mutate("alice", op="playlist_add", playlist=p["id"], uris=[liked[i]])
    else:
        pytest.fail("no snapshot id with '/' in 24 edits")
    assert kt.cli("sync", "--user", "1", "playlists").returncode == 0
    want = addable([entry_uri(e) for e in cur["items"]])
    emu.mutate("alice", op="playlist_add", playlist=p["id"], uris=[liked[30]])
    assert kt.cli("sync", "--user", "1", "playlists").returncode == 0
    r = alice.post(f"/api/playlists/{p['id']}/versions/restore",
                   json={"snapshot": cur["snapshot_id"], "mode": "in_place"})
    assert r.status == 202, r
    wait_restore(alice, r)
    now = next(x for x in emu.truth("alice")["playlists"] if x["id"] == p["id"])
    assert [entry_uri(e) for e in now["items"]] == want
    r = alice.post(f"/api/playlists/{p['id']}/versions/restore", json={"mode": "new"})
    assert r.status == 400 and "snapshot" in r.json()["error"]["message"]


def test_bad_uploads(env):
    emu, kt, alice = env
    zipped = alice.get("/api/export?format=csv").body
    r = upload(alice, zipped[: len(zipped) // 2], ctype="application/zip", name="mine.zip")
    assert r.status == 400 and "mine.zip" in r.json()["error"]["message"]
    bad = ",".join(HEADER) + "\r\nspotify:track:AAAA" + "," * 18 + "\r\nnot-a-uri" + "," * 18
    r = upload(alice, bad.encode(), ctype="text/csv", name="Road%20Trip.csv")
    msg = r.json()["error"]["message"]
    assert r.status == 400 and "Road Trip.csv line 3" in msg and "not-a-uri" in msg
    r = upload(alice, (",".join(HEADER) + "\r\n\"spotify:track:AAAA,x").encode(), ctype="text/csv",
               name="q.csv")
    assert r.status == 400 and "q.csv line 2" in r.json()["error"]["message"]
    r = upload(alice, b'{"hello": 1}', name="x.json")
    assert r.status == 400 and "not a keeptrack export" in r.json()["error"]["message"]
    r = upload(alice, b"\x00\x01binary", ctype="application/octet-stream", name="blob.bin")
    assert r.status == 400 and "blob.bin" in r.json()["error"]["message"]
    r = upload(alice, (",".join(HEADER) + "\r\n").encode(), ctype="text/csv", query="playlists=Nope",
               name="a.csv")
    assert r.status == 400 and "Nope" in r.json()["error"]["message"]
    r = upload(alice, b"x" * (64 * 1024 * 1024 + 1), ctype="text/csv")
    assert r.status == 413
    assert upload(alice, b"{}", query="mode=sideways").status == 400
    assert upload(alice, b"{}", query="liked=maybe").status == 400
    assert writes(emu) == {}

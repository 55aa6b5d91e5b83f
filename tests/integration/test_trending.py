"""Trending tracks (issue 18, item 1) end to end against spotify-emulator, on
SQLite and PostgreSQL:

- adding from the library, by URI and by URL; a track no synced library
  holds (bob's, while alice is the one logged in) is fetched with exactly
  one GET /tracks/{id} and shown like the rest; every row equals the
  emulator's truth (artist, song, album, release year, uri, artist uri);
- development mode: no audio features, the reason says why, and
  /audio-features is never asked (nor /artists/{id}: no genres there);
  extended mode: energy, key, valence, tempo equal the emulator's
  /audio-features answer, the mood is the valence/energy quadrant, and the
  genres are the first artist's from GET /artists/{id};
- reorder, remove (positions stay dense), adding twice changes nothing;
- bad input: 400 naming the field (track, source, uris, id), 404 for a
  track Spotify does not have and for one not listed;
- CSV: the export's rows equal the list; an edited export imports in its
  order; a bad row (bad URI, repeat, unknown track) is a 400 naming the row
  and leaves the list as it was;
- "make a playlist of this list": a job whose playlist holds the list in
  order (emulator truth); after a reorder, the second run replaces the same
  playlist's items, and so does `keeptrack trending-playlist`.
"""
import csv
import io
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402

KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50"}
ALICE = "alice:liked=12,playlists=1,playlist_items=3,albums=0,shows=0,episodes=0,followed=0"
BOB = "bob:liked=4,playlists=0"


class Env:
    def __init__(self, db, tmp_path, mode):
        self.emu = Emulator(["--redirect-uri", "any-loopback", "--mode", mode,
                             "--user", ALICE, "--user", BOB]).start()
        self.kt = ktlib.Keeptrack(self.emu, db, tmp_path, env=KT_ENV).start()
        self.b = self.kt.login("alice")
        r = self.kt.cli("sync", "--user", "1", "liked", timeout=300)
        assert r.returncode == 0, (r.stdout, r.stderr)
        self.liked = [e["track"] for e in self.emu.truth("alice", ["liked"])["liked"]]
        self.bob = [e["track"] for e in self.emu.truth("bob", ["liked"])["liked"]]

    def close(self):
        rc = self.kt.stop()
        self.emu.stop()
        assert rc == 0, self.kt.log()

    def add(self, track, source="uri"):
        return self.b.post("/api/trending", json={"track": track, "source": source})

    def listed(self):
        r = self.b.get("/api/trending")
        assert r.status == 200, r
        return r.json()

    def uris(self):
        return [t["uri"] for t in self.listed()["tracks"]]


@pytest.fixture
def env(db, tmp_path):
    e = Env(db, tmp_path, "development")
    yield e
    e.close()


def expected_row(t, position):
    """A list row from the emulator's full track object."""
    a = t["artists"][0]
    return {"position": position, "uri": t["uri"], "id": t["id"], "name": t["name"],
            "artist": a["name"], "artist_uri": a["uri"], "album": t["album"]["name"],
            "release_year": int(t["album"]["release_date"][:4])}


def shown(row):
    return {k: row[k] for k in ("position", "uri", "id", "name", "artist", "artist_uri",
                                "album", "release_year")}


def test_add_list_reorder_remove(env):
    t0, t1, t2 = env.liked[0], env.liked[1], env.bob[0]
    assert t2["uri"] not in {t["uri"] for t in env.liked}
    r = env.add(t0["uri"], "library")
    assert r.status == 201, r
    assert r.json()["added"] is True and shown(r.json()["track"]) == expected_row(t0, 0)
    r = env.add(f"https://open.spotify.com/intl-de/track/{t1['id']}?si=abc", "top")
    assert r.status == 201, r
    before = env.emu.count("GET /v1/tracks/{id}")
    r = env.add(t2["uri"], "movement")  # in no synced library: fetched from Spotify once
    assert r.status == 201, r
    assert env.emu.count("GET /v1/tracks/{id}") == before + 1
    lst = env.listed()
    assert lst["total"] == 3
    assert [shown(x) for x in lst["tracks"]] == [expected_row(t, i)
                                                for i, t in enumerate((t0, t1, t2))]
    assert [x["source"] for x in lst["tracks"]] == ["library", "top", "movement"]
    assert all(x["audio_features"] is None for x in lst["tracks"])
    af = lst["audio_features"]
    assert af["available"] is False and "development mode" in af["reason"]
    assert env.emu.count("GET /v1/audio-features") == 0
    assert all(x["genres"] is None for x in lst["tracks"])  # not returned in development mode
    assert env.emu.count("GET /v1/artists/{id}") == 0

    # adding again changes nothing (and asks Spotify nothing: it is in the catalog now)
    r = env.add(f"https://open.spotify.com/track/{t2['id']}")
    assert r.status == 200 and r.json()["added"] is False
    assert env.emu.count("GET /v1/tracks/{id}") == before + 1
    assert env.listed()["total"] == 3

    r = env.b.request("PUT", "/api/trending", json={"uris": [t2["uri"], t0["uri"], t1["uri"]]})
    assert r.status == 200, r
    assert [x["uri"] for x in r.json()["tracks"]] == [t2["uri"], t0["uri"], t1["uri"]]
    assert [x["position"] for x in r.json()["tracks"]] == [0, 1, 2]

    r = env.b.request("DELETE", f"/api/trending/{t2['id']}")
    assert r.status == 200, r
    assert [shown(x) for x in r.json()["tracks"]] == [expected_row(t0, 0), expected_row(t1, 1)]
    assert env.b.request("DELETE", f"/api/trending/{t2['id']}").status == 404


def test_bad_input_names_the_field(env):
    t0 = env.liked[0]
    assert env.add(t0["uri"]).status == 201
    cases = [
        ({}, "track"),
        ({"track": 5}, "track"),
        ({"track": "spotify:album:" + t0["id"]}, "track"),
        ({"track": "https://example.com/track/" + t0["id"]}, "track"),
        ({"track": "spotify:track:" + "x" * 65}, "track"),
        ({"track": "spotify:track:ab$c"}, "track"),
        ({"track": t0["uri"], "source": "radio"}, "source"),
    ]
    for body, field in cases:
        r = env.b.post("/api/trending", json=body)
        assert r.status == 400, (body, r)
        assert r.json()["error"]["message"].startswith(field + ":"), (body, r.json())
    r = env.add("spotify:track:NoSuchTrack0000000000")
    assert r.status == 404 and r.json()["error"]["code"] == "no_such_track", r
    for body in ({"uris": []}, {"uris": "x"}, {"uris": [t0["uri"], t0["uri"]]}, {"uris": [5]},
                 {"uris": [env.liked[1]["uri"]]}):
        r = env.b.request("PUT", "/api/trending", json=body)
        assert r.status == 400 and r.json()["error"]["message"].startswith("uris"), (body, r)
    assert env.b.request("DELETE", "/api/trending/bad$id").status == 400
    r = env.b.post("/api/trending/playlist", json={"name": ""})
    assert r.status == 400 and "name" in r.json()["error"]["message"]
    assert env.uris() == [t0["uri"]]
    anon = env.kt.client()
    assert anon.get("/api/trending").status == 401
    assert anon.post("/api/trending", json={"track": t0["uri"]}).status == 401


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def post_csv(env, text):
    return env.b.post("/api/trending/import", data=text.encode(),
                      headers={"Content-Type": "text/csv"})


def test_csv_export_import(env):
    picks = env.liked[:4]
    for t in picks:
        assert env.add(t["uri"], "library").status == 201
    r = env.b.get("/api/trending/export", accept_json=False)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv"), r
    rows = read_csv(r.text)
    assert [(x["Position"], x["Track URI"], x["Track Name"], x["Artist Name(s)"], x["Album Name"],
             x["Release Year"], x["Artist URI"]) for x in rows] == \
        [(str(i + 1), t["uri"], t["name"], t["artists"][0]["name"], t["album"]["name"],
          t["album"]["release_date"][:4], t["artists"][0]["uri"]) for i, t in enumerate(picks)]
    assert all(x["Energy"] == "" and x["Mood"] == "" for x in rows)  # development mode

    # an edited export (reversed, one track dropped, bob's track added) imports in its order
    lines = r.text.strip().split("\r\n")
    header, body = lines[0], lines[1:]
    new = list(reversed(body[1:])) + [f"9,,,,,{env.bob[1]['uri']},,,,,,,"]
    r = post_csv(env, "\r\n".join([header] + new) + "\r\n")
    assert r.status == 200, r
    assert r.json() == {"imported": 4, "fetched": 1}
    want = [t["uri"] for t in reversed(picks[1:])] + [env.bob[1]["uri"]]
    assert env.uris() == want
    assert {x["source"] for x in env.listed()["tracks"]} == {"csv"}

    # bad rows: a 400 naming the row, and nothing changes
    bad = [
        ("Track URI\nspotify:track:" + picks[0]["id"] + "\nspotify:album:x\n", "line 3"),
        ("Track URI\nspotify:episode:" + picks[0]["id"] + "\n", "row 1"),
        ("Track URI\n" + picks[0]["uri"] + "\n" + picks[0]["uri"] + "\n", "row 2"),
        ("Track URI\n" + picks[0]["uri"] + "\n\nspotify:track:NoSuchTrack0000000000\n", "row 2"),
        ("Track URI\n\n" + picks[0]["uri"] + "\n,\n", "line"),
        ("Name\nfoo\n", "Track URI"),
        ("", "empty"),
    ]
    for text, where in bad:
        r = post_csv(env, text)
        assert r.status == 400, (text, r)
        assert where in r.json()["error"]["message"], (text, r.json())
        assert env.uris() == want
    # multipart upload of one file
    boundary = "xyzBOUNDARYxyz"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"trending.csv\"\r\nContent-Type: text/csv\r\n\r\nTrack URI\r\n"
            f"{picks[0]['uri']}\r\n--{boundary}--\r\n")
    r = env.b.post("/api/trending/import", data=form.encode(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 200 and r.json()["imported"] == 1, r
    assert env.uris() == [picks[0]["uri"]]


def wait_job(b, job_id):
    return ktlib.wait_until(
        lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            b.get(f"/api/jobs/{job_id}").json()), timeout=60, what="job")


def playlist_items(env, pid):
    for p in env.emu.truth("alice", ["playlists"])["playlists"]:
        if p["id"] == pid:
            return [(e.get("item") or e.get("track"))["uri"] for e in p["items"]]
    return None


def test_playlist_job_replaces_the_same_playlist(env):
    r = env.b.post("/api/trending/playlist", json={})
    assert r.status == 202, r
    job = wait_job(env.b, r.json()["id"])
    assert job["state"] == "failed" and "empty" in job["error"], job
    picks = [env.liked[3], env.bob[0], env.liked[0]]
    for t in picks:
        assert env.add(t["uri"]).status == 201
    r = env.b.post("/api/trending/playlist", json={"name": "My trending"})
    assert r.status == 202 and r.json()["kind"] == "trending_playlist", r
    job = wait_job(env.b, r.json()["id"])
    assert job["state"] == "done", job
    pid = job["message"].split("playlist ")[1].split(",")[0]
    assert playlist_items(env, pid) == [t["uri"] for t in picks]
    names = {p["id"]: p["name"] for p in env.emu.truth("alice", ["playlists"])["playlists"]}
    assert names[pid] == "My trending"

    order = [picks[2]["uri"], picks[0]["uri"]]
    assert env.b.request("DELETE", f"/api/trending/{picks[1]['id']}").status == 200
    assert env.b.request("PUT", "/api/trending", json={"uris": order}).status == 200
    r = env.b.post("/api/trending/playlist", json={"name": "My trending"})
    job = wait_job(env.b, r.json()["id"])
    assert job["state"] == "done" and "(replaced)" in job["message"], job
    assert job["message"].split("playlist ")[1].split(",")[0] == pid
    assert playlist_items(env, pid) == order

    # the same from the command line: the same playlist again, replaced
    assert env.add(picks[1]["uri"]).status == 201
    r = env.kt.cli("trending-playlist", "--user", "1", "--name", "My trending")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith(f'trending list into playlist {pid} "My trending": 3 tracks, '
                               'replaced'), r.stdout
    assert playlist_items(env, pid) == order + [picks[1]["uri"]]
    r = env.kt.cli("trending-playlist", "--user", "1", "--name", "")
    assert r.returncode == 2 and "--name" in r.stderr


def test_extended_mode_shows_audio_features(db, tmp_path):
    e = Env(db, tmp_path, "extended")
    try:
        picks = e.liked[:3] + [e.bob[0]]
        for t in picks:
            assert e.add(t["uri"]).status == 201
        tok = e.emu.login("alice")["access_token"]
        r = e.emu.api("GET", "/audio-features?ids=" + ",".join(t["id"] for t in picks), token=tok)
        want = r.json()["audio_features"]
        lst = e.listed()
        assert lst["audio_features"] == {"available": True}
        for row, t in zip(lst["tracks"], picks):  # the first artist's genres, as Spotify has them
            a = e.emu.api("GET", "/artists/" + t["artists"][0]["id"], token=tok).json()
            assert row["genres"] == a["genres"], row
        assert any(row["genres"] for row in lst["tracks"])
        keys = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        for row, f in zip(lst["tracks"], want):
            af = row["audio_features"]
            assert f is not None and af is not None, row
            assert (af["energy"], af["valence"], af["tempo"], af["key"]) == \
                (f["energy"], f["valence"], f["tempo"], f["key"])
            assert af["key_name"] == keys[f["key"]] + (" major" if f["mode"] == 1 else " minor")
            mood = (("happy" if f["energy"] >= 0.5 else "calm") if f["valence"] >= 0.5
                    else ("tense" if f["energy"] >= 0.5 else "sad"))
            assert af["mood"] == mood
        rows = read_csv(e.b.get("/api/trending/export", accept_json=False).text)
        assert [(x["Energy"], x["Mood"]) for x in rows] == \
            [(f"{f['energy']:g}", r["audio_features"]["mood"]) for f, r in
             zip(want, lst["tracks"])]
    finally:
        e.close()

"""Listening-history import (issue 7), on SQLite and PostgreSQL.

A generated extended-streaming-history export (fixed seed) goes through
POST /api/history/import and `keeptrack import-history`; the expected counts
are computed here from the generated records, independently of keeptrack.
"""
import io
import json
import random
import zipfile

ISO = "%Y-%m-%dT%H:%M:%SZ"
BASE_S = 1546300800  # 2019-01-01T00:00:00Z


def iso(sec):
    import time
    return time.strftime(ISO, time.gmtime(sec))


def gen_export(n, seed=7, short_every=10):
    """n records, one play every 200-260 s; every short_every-th shorter than 30 s."""
    rnd = random.Random(seed)
    recs, t = [], BASE_S
    for i in range(n):
        t += rnd.randint(200, 260)
        tid = rnd.randrange(3000)
        recs.append({
            "ts": iso(t), "platform": "linux", "conn_country": "SE",
            "ms_played": rnd.randint(1000, 29999) if i % short_every == 0 else rnd.randint(30000, 300000),
            "master_metadata_track_name": f"Song {tid}",
            "master_metadata_album_artist_name": f"Artist {tid % 300}",
            "master_metadata_album_album_name": f"Album {tid % 700}",
            "spotify_track_uri": "spotify:track:gen%019d" % tid,
            "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
            "reason_start": "trackdone", "reason_end": "trackdone",
            "shuffle": False, "skipped": False, "offline": False, "incognito_mode": False,
        })
    return recs


def dumps(recs):
    return json.dumps(recs, separators=(",", ":")).encode()


def count_plays(db):
    return int(db.sql("SELECT COUNT(*) FROM plays")[0][0])


def upload(browser, body, ctype, name=None):
    path = "/api/history/import" + (f"?name={name}" if name else "")
    return browser.post(path, data=body, headers={"Content-Type": ctype}, timeout=300)


def test_large_export_imports_exactly_once(kt, db):
    browser = kt.login("alice")
    recs = gen_export(100_000)
    expected_skipped = sum(1 for r in recs if r["ms_played"] < 30000)
    body = dumps(recs)
    r = upload(browser, body, "application/json", "Streaming_History_Audio_2019-2024_0.json")
    assert r.status == 200, r
    rep = r.json()
    assert rep["imported"] == 100_000 - expected_skipped
    assert rep["skipped"] == expected_skipped
    assert rep["duplicates"] == 0 and rep["rejected"] == 0
    assert rep["reasons"] == {"skipped.short": expected_skipped}
    assert count_plays(db) == 100_000 - expected_skipped
    # The same export again, as a zip: nothing new.
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Spotify Extended Streaming History/Streaming_History_Audio_2019-2024_0.json", body)
        z.writestr("Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF")
    r = upload(browser, zbuf.getvalue(), "application/zip", "my_spotify_data.zip")
    assert r.status == 200, r
    rep = r.json()
    assert rep["imported"] == 0
    assert rep["duplicates"] == 100_000 - expected_skipped
    assert [f["status"] for f in rep["files"]] == ["done", "ignored"]
    assert count_plays(db) == 100_000 - expected_skipped
    # Re-serialised differently (another file): still nothing new.
    r = upload(browser, json.dumps(recs[:500], indent=2).encode(), "application/json", "pretty.json")
    assert r.status == 200, r
    assert r.json()["imported"] == 0


def test_duplicates_of_polled_plays(kt, db, emu):
    browser = kt.login("alice")
    out = kt.cli("sync", "--user", "1", "recent")
    assert out.returncode == 0, out.stderr
    truth = emu.truth("alice", ["recently_played"])["recently_played"]
    polled = [(int(a), u) for a, u in db.sql("SELECT played_at, track_uri FROM plays")]
    assert len(polled) == min(50, len(truth)) > 0  # the recently-played window
    before = len(polled)
    recs = []
    for i, (at_ms, uri) in enumerate(sorted(polled)):
        sec = at_ms // 1000 + (i % 50) - 25  # within +/-30 s of the polled play
        recs.append({"ts": iso(sec), "ms_played": 60000, "spotify_track_uri": uri})
    recs.append({"ts": iso(BASE_S), "ms_played": 60000, "spotify_track_uri": "spotify:track:new0000000000000000001"})
    r = upload(browser, dumps(recs), "application/json", "endsong_0.json")
    assert r.status == 200, r
    rep = r.json()
    assert rep["duplicates"] == len(polled)
    assert rep["reasons"]["duplicate.polled"] == len(polled)
    assert rep["imported"] == 1
    assert count_plays(db) == before + 1


def test_truncated_file_then_resume(kt, db, tmp_path):
    kt.login("alice")
    recs = gen_export(5000, seed=11, short_every=1000000)
    body = dumps(recs)
    cut = body[: len(body) * 3 // 4]
    path = tmp_path / "Streaming_History_Audio_2019_0.json"
    path.write_bytes(cut)
    out = kt.cli("import-history", str(path))
    assert out.returncode == 1, out.stdout
    # Records wholly inside the cut were committed; the next one is named.
    complete = cut.count(b"},{") if not cut.endswith(b"}") else cut.count(b"},{") + 1
    assert f"record {complete + 1} " in out.stdout, out.stdout
    assert "Streaming_History_Audio_2019_0.json" in out.stdout
    assert "ends in the middle of this record" in out.stdout
    long_enough = [r["ms_played"] >= 30000 for r in recs]
    assert count_plays(db) == sum(long_enough[:complete])
    path.write_bytes(body)
    out = kt.cli("import-history", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"continued after record {complete}" in out.stdout, out.stdout
    assert f"{sum(long_enough[complete:])} imported, 0 duplicates" in out.stdout, out.stdout
    assert count_plays(db) == sum(long_enough)


def refuse_plays_from(db, played_at_ms):
    """Makes the database refuse every play at or after played_at_ms."""
    if db.backend == "sqlite":
        db.sql(f"CREATE TRIGGER kt_test_refuse BEFORE INSERT ON plays WHEN NEW.played_at >= "
               f"{played_at_ms} BEGIN SELECT RAISE(ABORT, 'test refuses this play'); END")
    else:
        db.sql("CREATE FUNCTION kt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF NEW.played_at >= {played_at_ms} THEN RAISE EXCEPTION 'test refuses this play'; "
               "END IF; RETURN NEW; END $$; CREATE TRIGGER kt_test_refuse BEFORE INSERT ON plays "
               "FOR EACH ROW EXECUTE PROCEDURE kt_test_refuse()")


def test_database_failure_mid_file_keeps_earlier_batches(kt, db, tmp_path):
    """A batch the database refuses ends the import with that error: the
    batches before it stay committed with their resume point, nothing after
    it is written (batches are written by a second thread while the next is
    read), and the next import continues after the last committed batch."""
    kt.login("alice")
    recs = gen_export(5000, seed=13, short_every=1000000)  # record 1 alone is short
    path = tmp_path / "Streaming_History_Audio_2020_0.json"
    path.write_bytes(dumps(recs))
    import calendar
    import time
    at = calendar.timegm(time.strptime(recs[2499]["ts"], ISO)) * 1000  # record 2,500: batch 3
    refuse_plays_from(db, at)
    out = kt.cli("import-history", str(path))
    assert out.returncode != 0, out.stdout
    assert "test refuses this play" in out.stdout + out.stderr, out.stdout + out.stderr
    assert count_plays(db) == 1999  # batches 1 and 2: records 2..2000
    assert [tuple(map(int, r)) for r in db.sql("SELECT records, imported FROM history_imports")] \
        == [(2000, 1999)]
    db.sql("DROP TRIGGER kt_test_refuse" + ("" if db.backend == "sqlite" else " ON plays"))
    out = kt.cli("import-history", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "continued after record 2000" in out.stdout, out.stdout
    assert "3000 imported, 0 duplicates" in out.stdout, out.stdout
    assert count_plays(db) == 4999
    assert [tuple(map(int, r)) for r in db.sql("SELECT records, imported FROM history_imports")] \
        == [(5000, 4999)]


def test_malformed_inputs_refused(kt, db):
    browser = kt.login("alice")
    r = upload(browser, b"PK\x03\x04 this is not an archive", "application/zip", "my_spotify_data.zip")
    assert r.status == 422, r
    assert "not a valid zip archive" in r.json()["error"]["message"]
    assert "my_spotify_data.zip" in r.json()["error"]["message"]
    r = upload(browser, b'[{"ts":"2020-01-01T00:00:00Z","ms_played":40000,"spotify_track_uri":"spotify:track:a"},{"ts":]',
               "application/json", "bad.json")
    assert r.status == 422, r
    msg = r.json()["error"]["message"]
    assert "bad.json" in msg and "record 2" in msg, msg
    assert count_plays(db) == 1  # record 1 was good and is reported as committed
    r = upload(browser, b"[]", "text/plain")
    assert r.status == 415, r


def test_account_data_and_multipart(kt, db):
    browser = kt.login("alice")
    old = [{"endTime": "2018-03-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 200000},
           {"endTime": "2018-03-01 10:00", "artistName": "A", "trackName": "U", "msPlayed": 100000},
           {"endTime": "2018-03-01 10:05", "artistName": "A", "trackName": "T", "msPlayed": 5000},
           {"endTime": "2018-03-01 10:09", "podcastName": "P", "episodeName": "E", "msPlayed": 900000}]
    boundary = "kt-history-boundary"
    parts = []
    for name, content in (("StreamingHistory_music_0.json", dumps(old[:3])),
                          ("StreamingHistory_podcast_0.json", dumps(old[3:]))):
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                     f"filename=\"{name}\"\r\nContent-Type: application/json\r\n\r\n".encode()
                     + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    r = upload(browser, body, f"multipart/form-data; boundary={boundary}")
    assert r.status == 200, r
    rep = r.json()
    assert (rep["imported"], rep["skipped"]) == (3, 1)
    rows = db.sql("SELECT track_uri, track_name, artist_name FROM plays ORDER BY played_at")
    assert all(row[0].startswith("keeptrack:unresolved:") for row in rows)
    assert [row[1] for row in rows] == ["T", "U", "E"]
    # Two plays ending in the same minute keep distinct instants.
    assert len({row[0] for row in rows}) == 3
    r = upload(browser, body, f"multipart/form-data; boundary={boundary}")
    assert r.json()["imported"] == 0 and r.json()["duplicates"] == 3

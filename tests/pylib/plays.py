"""Plays as the integration tests build them: timestamps, the rows a test
expects keeptrack to count, and Spotify "extended streaming history" export
records to import through the API.

A test that checks listening figures computes them from the emulator's
ground truth (polled plays) plus the plays of an export it imports; these
helpers keep the three shapes (the truth's played_at, the expected row and
the export record) in one place so the tests agree on them.
"""
import calendar
import json
import time


def parse_ms(ts):
    """ms since the epoch of "YYYY-MM-DDTHH:MM:SS[.mmm]Z"."""
    base, _, frac = ts.rstrip("Z").partition(".")
    fields = tuple(int(x) for x in base.replace("T", "-").replace(":", "-").split("-"))
    return calendar.timegm(fields + (0, 0, 0)) * 1000 + (int(frac) if frac else 0)


def iso(ms):
    """The export's "ts" text of ms since the epoch (whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def row(at, track, ms):
    """The expected play row of a track (an emulator truth track object)."""
    return {"at": at, "uri": track["uri"], "ms": ms, "track": track["name"],
            "artist": track["artists"][0]["name"], "artist_id": track["artists"][0]["id"],
            "album": track["album"]["name"], "album_id": track["album"]["id"],
            "album_artist": track["album"]["artists"][0]["name"]}


def polled_rows(truth):
    """Expected rows of the truth's recently played (each play lasting its
    track's duration, as keeptrack counts a polled play)."""
    return [row(parse_ms(p["played_at"]), p["track"], p["track"]["duration_ms"])
            for p in truth["recently_played"]]


def export_record(at, track, ms):
    """One record of an extended streaming history export."""
    return {"ts": iso(at), "ms_played": ms, "spotify_track_uri": track["uri"],
            "master_metadata_track_name": track["name"],
            "master_metadata_album_artist_name": track["artists"][0]["name"],
            "master_metadata_album_album_name": track["album"]["name"]}


def import_export(browser, recs, name="Streaming_History_Audio_2025_0.json"):
    """POST the records as one export file; asserts every record imported."""
    r = browser.post(f"/api/history/import?name={name}", data=json.dumps(recs).encode(),
                     headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    assert r.json()["imported"] == len(recs), r.json()
    return r

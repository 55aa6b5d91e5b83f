"""truth.py - compare what keeptrack serves with spotify-emulator's ground
truth, over keeptrack's read API (shared by test_sync, the fault soak and
anything else that must prove "the database equals the truth").

    from truth import assert_matches_truth, get_all
    assert_matches_truth(emu, browser)          # raises AssertionError on any difference

Standard library only.
"""
import datetime


def instant(iso):
    """An ISO 8601 UTC time ("...Z", with or without milliseconds) as unix ms."""
    whole, _, frac = iso.rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1000 + (int((frac + "000")[:3]) if frac else 0)


def get_all(browser, path, key="items"):
    """Every item of a paged API list."""
    out, offset = [], 0
    sep = "&" if "?" in path else "?"
    while True:
        r = browser.get(f"{path}{sep}limit=500&offset={offset}")
        assert r.status == 200, r
        page = r.json()
        out += page[key]
        offset += len(page[key])
        if not page[key] or offset >= page["total"]:
            assert len(out) == page["total"]
            return out


# ---- what the truth says, in the API's terms ----

def spotify_item(entry):
    return entry.get("item", entry.get("track"))


def track_summary(t):
    """The fields both sides carry for a track, episode or local file."""
    if t is None:
        return None
    kind = "local" if t.get("is_local") or str(t.get("uri", "")).startswith("spotify:local:") \
        else t.get("type", "track")
    out = {"uri": t["uri"], "name": t["name"], "duration_ms": t["duration_ms"], "type": kind}
    if kind == "episode":
        out["show"] = t["show"]["id"] if "show" in t and t["show"] else None
        return out
    out["album"] = (t["album"].get("id"), t["album"]["name"])
    out["artists"] = [(a.get("id"), a["name"]) for a in t["artists"]]
    if kind == "track":
        out["explicit"] = t["explicit"]
        out["release_date"] = t["album"]["release_date"]
        out["track_number"] = t["track_number"]
    return out


def kt_track_summary(t):
    if t is None:
        return None
    out = {"uri": t["uri"], "name": t["name"], "duration_ms": t["duration_ms"], "type": t["type"]}
    if t["type"] == "episode":
        out["show"] = t["show"]["id"]
        return out
    out["album"] = (t["album"]["id"], t["album"]["name"])
    out["artists"] = [(a["id"], a["name"]) for a in t["artists"]]
    if t["type"] == "track":
        out["explicit"] = t["explicit"]
        out["release_date"] = t["album"]["release_date"]
        out["track_number"] = t["track_number"]
    return out


def assert_matches_truth(emu, browser, user="alice"):
    truth = emu.truth(user)
    # Liked songs: every one, newest first, with added_at.
    liked = get_all(browser, "/api/library/tracks")
    assert [(e["added_at"], kt_track_summary(e["track"])) for e in liked] == \
        [(e["added_at"], track_summary(e["track"])) for e in truth["liked"]]
    # Playlists in the user's order; items of the readable ones, in order.
    pls = get_all(browser, "/api/playlists")
    assert [p["id"] for p in pls] == [p["id"] for p in truth["playlists"]]
    for mine, want in zip(pls, truth["playlists"]):
        assert mine["name"] == want["name"]
        assert mine["snapshot_id"] == want["snapshot_id"]
        assert mine["owner"]["id"] == want["owner"]["id"]
        assert mine["collaborative"] == want["collaborative"]
        assert mine["public"] == want.get("public")
        if want["items"] is None:
            assert not mine["items_synced"], mine
            continue
        assert mine["items_synced"] and mine["synced_snapshot_id"] == want["snapshot_id"]
        items = playlist_items(browser, want["id"])
        assert [(i["added_at"], i["added_by"], i["is_local"], kt_track_summary(i["item"]))
                for i in items] == \
            [(i["added_at"], (i.get("added_by") or {}).get("id"), bool(i.get("is_local")),
              track_summary(spotify_item(i))) for i in want["items"]]
    # Saved albums, shows, episodes.
    assert [(e["added_at"], e["album"]["id"], e["album"]["name"])
            for e in get_all(browser, "/api/library/albums")] == \
        [(e["added_at"], e["album"]["id"], e["album"]["name"]) for e in truth["albums"]]
    assert [(e["added_at"], e["show"]["id"], e["show"]["name"])
            for e in get_all(browser, "/api/library/shows")] == \
        [(e["added_at"], e["show"]["id"], e["show"]["name"]) for e in truth["shows"]]
    assert [(e["added_at"], kt_track_summary(e["episode"]))
            for e in get_all(browser, "/api/library/episodes")] == \
        [(e["added_at"], track_summary(dict(e["episode"], type="episode")))
         for e in truth["episodes"]]
    # Followed artists in /me/following order.
    assert [(a["id"], a["name"]) for a in get_all(browser, "/api/following")] == \
        [(a["id"], a["name"]) for a in truth["followed_artists"]]
    # Top items of the three ranges.
    for rng in ("short_term", "medium_term", "long_term"):
        r = browser.get(f"/api/top/tracks?range={rng}")
        assert r.status == 200, r
        assert [(i["rank"], i["track"]["uri"]) for i in r.json()["items"]] == \
            [(n + 1, t["uri"]) for n, t in enumerate(truth["top"][rng]["tracks"])]
        r = browser.get(f"/api/top/artists?range={rng}")
        assert [(i["rank"], i["artist"]["id"]) for i in r.json()["items"]] == \
            [(n + 1, a["id"]) for n, a in enumerate(truth["top"][rng]["artists"])]
    # Plays: the last 50 Spotify shows, each once.
    # (Compared as instants: keeptrack writes whole seconds without ".000",
    # Spotify always with milliseconds.)
    plays = get_all(browser, "/api/plays")
    assert [(instant(p["played_at"]), p["track"]["uri"]) for p in plays][:50] == \
        [(instant(p["played_at"]), p["track"]["uri"]) for p in truth["recently_played"]][:50]
    return truth


def playlist_items(browser, pid):
    out, offset = [], 0
    while True:
        r = browser.get(f"/api/playlists/{pid}?limit=500&offset={offset}")
        assert r.status == 200, r
        page = r.json()["items"]
        out += page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return out


def last_run(browser):
    r = browser.get("/api/sync/runs?limit=1")
    assert r.status == 200, r
    return r.json()["items"][0]

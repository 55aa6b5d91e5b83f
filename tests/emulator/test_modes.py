"""Development vs extended quota: 403 endpoints, dropped fields, limits, access."""
import pytest

FORBIDDEN = {"error": {"status": 403, "message": "Forbidden"}}


@pytest.fixture(scope="module")
def ctx(emu, alice_token):
    truth = emu.truth("alice", ["liked", "playlists", "followed_artists"])
    track = truth["liked"][0]["track"]["id"]
    artist = truth["followed_artists"][0]["id"]
    others = [p for p in truth["playlists"] if p["owner"]["id"] != "alice" and not p["collaborative"]]
    collab = [p for p in truth["playlists"] if p["owner"]["id"] != "alice" and p["collaborative"]]
    yield dict(track=track, artist=artist, other=others[0]["id"], collab=collab[0]["id"],
               own=[p for p in truth["playlists"] if p["owner"]["id"] == "alice"][0]["id"])
    emu.set_faults(mode="development")


EXT_ONLY = ["/browse/new-releases", "/tracks?ids={track}", "/artists?ids={artist}",
            "/audio-features?ids={track}", "/playlists/{own}/tracks", "/users/alice/playlists"]


@pytest.mark.parametrize("path", EXT_ONLY)
def test_extended_only_endpoints_forbidden_in_development(emu, alice_token, ctx, path):
    r = emu.get(path.format(**ctx), alice_token)
    assert r.status == 403 and r.json() == FORBIDDEN
    r = emu.api("POST", "/users/alice/playlists", alice_token, {"name": "x"})
    assert r.status == 403 and r.json() == FORBIDDEN
    r = emu.api("DELETE", f"/playlists/{ctx['own']}/followers", alice_token)
    assert r.status == 403


def test_development_drops_fields(emu, alice_token, ctx):
    me = emu.get("/me", alice_token).json()
    assert not {"email", "country", "product", "followers", "explicit_content"} & set(me)
    assert "account_id" in me
    t = emu.get(f"/tracks/{ctx['track']}", alice_token).json()
    assert "popularity" not in t and "available_markets" not in t and "available_markets" not in t["album"]
    assert t["external_ids"]["isrc"]
    a = emu.get(f"/artists/{ctx['artist']}", alice_token).json()
    assert "popularity" not in a and "followers" not in a and a["genres"] == []
    assert emu.get("/recommendations?seed_tracks=" + ctx["track"], alice_token).status == 404


def test_development_playlist_access(emu, alice_token, ctx):
    r = emu.get(f"/playlists/{ctx['other']}/items", alice_token)
    assert r.status == 403 and r.json() == FORBIDDEN
    assert emu.get(f"/playlists/{ctx['collab']}/items", alice_token).status == 200
    full = emu.get(f"/playlists/{ctx['other']}", alice_token).json()
    assert "items" not in full and "tracks" not in full and "followers" not in full
    own = emu.get(f"/playlists/{ctx['own']}", alice_token).json()
    assert own["items"]["total"] == own["tracks"]["total"]


def test_extended_mode_at_run_time(emu, alice_token, ctx):
    assert emu.set_faults(mode="extended")["mode"] == "extended"
    me = emu.get("/me", alice_token).json()
    assert me["email"] == "alice@example.test" and me["product"] == "premium" and me["country"]
    t = emu.get(f"/tracks/{ctx['track']}", alice_token).json()
    assert 0 <= t["popularity"] <= 100 and t["available_markets"]
    a = emu.get(f"/artists/{ctx['artist']}", alice_token).json()
    assert "followers" in a and "popularity" in a
    assert emu.get(f"/playlists/{ctx['other']}/items", alice_token).status == 200
    several = emu.get(f"/tracks?ids={ctx['track']},{'0' * 22}", alice_token).json()
    assert several["tracks"][0]["id"] == ctx["track"] and several["tracks"][1] is None
    af = emu.get(f"/audio-features?ids={ctx['track']}", alice_token).json()["audio_features"][0]
    assert af["id"] == ctx["track"] and 0 <= af["energy"] <= 1
    nr = emu.get("/browse/new-releases?limit=50", alice_token).json()["albums"]
    assert nr["total"] > 0 and all(al["release_date"] >= "2026-11-07" for al in nr["items"])
    assert emu.get(f"/artists/{ctx['artist']}/albums?limit=50", alice_token).status == 200
    assert emu.get(f"/playlists/{ctx['own']}/tracks?limit=100", alice_token).status == 200
    emu.set_faults(mode="development")
    assert emu.get("/browse/new-releases", alice_token).status == 403


def test_extended_flag(emu_factory):
    e = emu_factory(["--mode", "extended", "--user", "a:liked=2"])
    t = e.login("a")["access_token"]
    assert e.get("/browse/new-releases", t).status == 200
    assert e.control("GET", "faults")["mode"] == "extended"

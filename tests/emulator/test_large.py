"""A 50,000-song library builds and pages exactly (speed figures live in bench/)."""
from emulator import Emulator


def test_fifty_thousand_liked_songs():
    with Emulator(["--user", "big:liked=50000,playlists=3,playlist_items=11000,followed_playlists=0"]) as e:
        tok = e.login("big")["access_token"]
        truth = e.truth("big", ["liked"])["liked"]
        assert len(truth) == 50000
        assert len({x["track"]["id"] for x in truth}) == 50000
        for off in (0, 25000, 49950):
            page = e.get(f"/me/tracks?offset={off}&limit=50", tok).json()
            assert page["total"] == 50000 and page["items"] == truth[off:off + 50]
        last = e.get("/me/tracks?offset=49950&limit=50", tok).json()
        assert last["next"] is None
        pls = e.get("/me/playlists", tok).json()["items"]
        assert [p["items"]["total"] for p in pls] == [11000] * 3
        full = pls[0]["id"]
        r = e.api("POST", f"/playlists/{full}/items", tok, {"uris": [truth[0]["track"]["uri"]]})
        assert r.status == 400, "11,000 items is the limit"

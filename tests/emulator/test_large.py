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


def test_a_few_big_playlists_among_many_small():
    spec = "mix:liked=500,playlists=40,playlist_items=0-20,followed_playlists=0"
    with Emulator(["--user", spec + ",big_playlists=2,big_playlist_items=3000",
                   "--user", "one:playlists=5,playlist_items=0-20,followed_playlists=0,big_playlists=1",
                   "--user", "none:playlists=5,playlist_items=0-20,followed_playlists=0"]) as e:
        mix = e.truth("mix", ["playlists"])["playlists"]
        sizes = sorted(p["items_total"] for p in mix)
        assert len(sizes) == 40
        assert sizes[-2:] == [3000, 3000] and sizes[-3] <= 20
        tok = e.login("mix")["access_token"]
        listed = []
        for off in (0, 20):
            listed += e.get(f"/me/playlists?offset={off}&limit=20", tok).json()["items"]
        assert sorted(p["items"]["total"] for p in listed) == sizes
        big = [p for p in mix if p["items_total"] == 3000][0]
        page = e.get(f"/playlists/{big['id']}/items?offset=2950&limit=50", tok).json()
        assert page["total"] == 3000 and len(page["items"]) == 50 and page["next"] is None
        # the default size is Spotify's limit; without the key none is big
        assert max(p["items_total"] for p in e.truth("one", ["playlists"])["playlists"]) == 11000
        assert max(p["items_total"] for p in e.truth("none", ["playlists"])["playlists"]) <= 20
        for bad in ({"big_playlists": 41}, {"big_playlists": "x"}, {"big_playlist_items": 11001}):
            try:
                e.add_user("bad", liked=10, playlists=40, **bad)
            except RuntimeError as err:
                assert "-> 400" in str(err), err
            else:
                raise AssertionError(f"{bad} was accepted")
